//! Configuration: TOML schema and validation.
