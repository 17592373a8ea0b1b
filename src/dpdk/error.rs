//! DPDK errors: an errno plus what we were doing.
use super::sys;
use std::fmt;

#[derive(Debug, Clone)]
pub struct DpdkError {
    /// What failed, e.g. "rte_eth_dev_configure(port0)".
    pub what: String,
    /// Positive errno value.
    pub errno: i32,
}

pub type Result<T> = std::result::Result<T, DpdkError>;

impl DpdkError {
    /// Error from a negative return value (DPDK's `-errno` convention).
    pub fn from_ret(what: impl Into<String>, ret: i32) -> Self {
        DpdkError {
            what: what.into(),
            errno: ret.abs(),
        }
    }
    /// Error from `rte_errno`, for calls that return NULL or -1.
    pub fn from_errno(what: impl Into<String>) -> Self {
        // SAFETY: reads the calling thread's rte_errno.
        let errno = unsafe { sys::las_errno() };
        DpdkError {
            what: what.into(),
            errno,
        }
    }
    pub fn msg(what: impl Into<String>) -> Self {
        DpdkError {
            what: what.into(),
            errno: 0,
        }
    }
}

impl fmt::Display for DpdkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.errno == 0 {
            return write!(f, "{}", self.what);
        }
        // SAFETY: rte_strerror returns a pointer to a NUL-terminated string
        // (static or thread-local) valid until the next call on this thread.
        let s = unsafe { std::ffi::CStr::from_ptr(sys::rte_strerror(self.errno)) };
        write!(
            f,
            "{}: {} (errno {})",
            self.what,
            s.to_string_lossy(),
            self.errno
        )
    }
}

impl std::error::Error for DpdkError {}

/// Converts a DPDK `int` return (negative = -errno) into a Result.
pub(crate) fn check(what: impl FnOnce() -> String, ret: i32) -> Result<i32> {
    if ret < 0 {
        Err(DpdkError::from_ret(what(), ret))
    } else {
        Ok(ret)
    }
}
