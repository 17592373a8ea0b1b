//! The only FFI/unsafe code in las: thin safe wrappers over DPDK.
pub mod sys;
