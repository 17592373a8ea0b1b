//! Packet formats: zero-copy views and owned representations.
