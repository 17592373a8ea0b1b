//! EAL initialisation and lcore launch.
use super::error::{DpdkError, Result};
use super::sys;
use std::ffi::{c_int, c_void, CString};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LcoreId(pub u32);

impl fmt::Debug for LcoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "core{}", self.0)
    }
}

/// Proof that the EAL is initialised. Dropping it runs `rte_eal_cleanup`.
pub struct Eal {
    _private: (),
}

type Job = Box<dyn FnOnce() + Send + 'static>;

extern "C" fn trampoline(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the Box<Job> leaked by `Eal::launch`, handed to
    // exactly one lcore; we take it back exactly once here.
    let job: Box<Job> = unsafe { Box::from_raw(arg as *mut Job) };
    match catch_unwind(AssertUnwindSafe(job)) {
        Ok(()) => 0,
        Err(_) => {
            log::error!("lcore job panicked");
            -1
        }
    }
}

impl Eal {
    /// Initialises the EAL with `args` (`argv[0]` included). Once per process.
    pub fn init(args: &[String]) -> Result<Eal> {
        let cargs: Vec<CString> = args
            .iter()
            .map(|a| CString::new(a.as_str()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| DpdkError::msg("EAL argument contains a NUL byte"))?;
        // rte_eal_init may permute argv; give it its own pointer array and
        // keep the strings alive for the life of the process (DPDK may keep
        // pointers into them).
        let mut ptrs: Vec<*mut std::ffi::c_char> = cargs
            .iter()
            .map(|c| c.as_ptr() as *mut std::ffi::c_char)
            .collect();
        std::mem::forget(cargs);
        // SAFETY: ptrs holds args.len() valid NUL-terminated strings that
        // live forever (forgotten above).
        let ret = unsafe { sys::rte_eal_init(ptrs.len() as c_int, ptrs.as_mut_ptr()) };
        std::mem::forget(ptrs);
        if ret < 0 {
            return Err(DpdkError::from_errno(format!(
                "rte_eal_init({})",
                args[1..].join(" ")
            )));
        }
        Ok(Eal { _private: () })
    }

    pub fn main_lcore(&self) -> LcoreId {
        // SAFETY: plain getter, EAL initialised.
        LcoreId(unsafe { sys::rte_get_main_lcore() })
    }

    pub fn lcore_count(&self) -> u32 {
        // SAFETY: plain getter, EAL initialised.
        unsafe { sys::rte_lcore_count() }
    }

    /// Runs `job` on worker lcore `lcore` (not the main lcore).
    pub fn launch(&self, lcore: LcoreId, job: impl FnOnce() + Send + 'static) -> Result<()> {
        let boxed: Box<Job> = Box::new(Box::new(job));
        let arg = Box::into_raw(boxed) as *mut c_void;
        // SAFETY: trampoline takes ownership of `arg` if the launch succeeds.
        let ret = unsafe { sys::rte_eal_remote_launch(Some(trampoline), arg, lcore.0) };
        if ret < 0 {
            // SAFETY: the launch failed, so nobody else owns `arg`.
            drop(unsafe { Box::from_raw(arg as *mut Job) });
            return Err(DpdkError::from_ret(format!("launch on {lcore:?}"), ret));
        }
        Ok(())
    }

    /// Waits for the job on `lcore` to return; its return code (0 = ok, -1 = panicked).
    pub fn wait(&self, lcore: LcoreId) -> i32 {
        // SAFETY: waits for an lcore launched by us; no memory is shared.
        unsafe { sys::rte_eal_wait_lcore(lcore.0) }
    }

    /// The lcore the calling thread is, if it is an EAL thread.
    pub fn current_lcore() -> Option<LcoreId> {
        // SAFETY: reads a thread-local.
        let id = unsafe { sys::las_lcore_id() };
        if id == u32::MAX {
            None
        } else {
            Some(LcoreId(id))
        }
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: all lcores have been waited for by the owner before the
        // Eal is dropped (the runtime does so); cleanup releases hugepages.
        unsafe {
            sys::rte_eal_cleanup();
        }
    }
}
