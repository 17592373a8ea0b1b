//! Virtual switching: MAC tables, learning, aging, filters.
