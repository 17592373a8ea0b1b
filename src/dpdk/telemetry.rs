//! Commands of our own in DPDK telemetry (`rte_telemetry`), as safe Rust.
//!
//! [`register`] takes a command name, its help and a Rust closure that
//! answers with an owned [`Value`] tree; DPDK calls one `extern "C"`
//! dispatcher for every command we registered (its callbacks carry no
//! user pointer, only the command's name), which finds the closure in a
//! `static` table, runs it under `catch_unwind` (a panic answers `null`,
//! it never crosses into C), bounds the tree with
//! [`crate::telemetry::dpdk_cmds::fit`] and writes it into DPDK's
//! `rte_tel_data`.
//!
//! The callbacks run on DPDK's telemetry threads (one per connected
//! client), never on an lcore of ours, so a closure must share nothing
//! with the control core or the workers that could stall them; las's
//! closures are clients of the control socket
//! (`crate::telemetry::dpdk_cmds`).
//!
//! Whether a tree fits or not, the C side stays sound: every string
//! passed to DPDK is a `CString` (NUL bytes removed) that outlives the
//! call, DPDK bounds its own tables (`-ENOSPC`, truncation), and a
//! container DPDK did not take is freed here.
use super::error::{check, DpdkError, Result};
use super::sys;
use crate::telemetry::dpdk_cmds::{budget, fit, Value};
use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

/// What answers a command: the parameter (what follows the first comma
/// of the request, if there is one) to the answer.
type Handler = dyn Fn(Option<&str>) -> Value + Send + Sync;

/// Our commands: name to handler. Read by the telemetry threads.
static HANDLERS: Mutex<Vec<(String, Arc<Handler>)>> = Mutex::new(Vec::new());

/// Longest command name DPDK 22.11 takes (`MAX_CMD_LEN` = 56, NUL
/// included).
pub const MAX_CMD_LEN: usize = 55;

/// Registers `cmd` (`/` first, then `A-Z a-z 0-9 _ /`, at most
/// [`MAX_CMD_LEN`] bytes) with help text `help` (under 128 bytes), answered
/// by `f` on DPDK's telemetry threads. After the EAL is up. Registering a
/// name again replaces its handler.
pub fn register(
    cmd: &str,
    help: &str,
    f: impl Fn(Option<&str>) -> Value + Send + Sync + 'static,
) -> Result<()> {
    let valid = cmd.starts_with('/')
        && cmd.len() <= MAX_CMD_LEN
        && cmd
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'/');
    if !valid {
        return Err(DpdkError::msg(format!(
            "telemetry command {cmd:?}: not a valid name"
        )));
    }
    if help.len() >= 128 || help.contains('\0') {
        return Err(DpdkError::msg(format!(
            "telemetry command {cmd}: help longer than 127 bytes"
        )));
    }
    let mut handlers = HANDLERS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(h) = handlers.iter_mut().find(|(c, _)| c == cmd) {
        h.1 = Arc::new(f);
        return Ok(());
    }
    // Unwrap: checked above, neither has a NUL byte.
    let c_cmd = CString::new(cmd).unwrap();
    // Unwrap: checked above.
    let c_help = CString::new(help).unwrap();
    // SAFETY: both strings are NUL-terminated and live through the call
    // (DPDK copies them); `dispatch` has the `telemetry_cb` signature and
    // lives as long as the program.
    let ret =
        unsafe { sys::rte_telemetry_register_cmd(c_cmd.as_ptr(), Some(dispatch), c_help.as_ptr()) };
    check(|| format!("rte_telemetry_register_cmd({cmd})"), ret)?;
    handlers.push((cmd.to_string(), Arc::new(f)));
    Ok(())
}

/// The telemetry socket of this process
/// (`<runtime dir>/dpdk_telemetry.v2`), if it exists: it does not with
/// the EAL's `--no-telemetry`. After the EAL is up.
pub fn socket_path() -> Option<PathBuf> {
    // SAFETY: returns a pointer to the EAL's static, NUL-terminated
    // runtime directory path, set at EAL init and never freed.
    let dir = unsafe { sys::rte_eal_get_runtime_dir() };
    if dir.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated (above).
    let dir = unsafe { CStr::from_ptr(dir) }
        .to_string_lossy()
        .into_owned();
    let p = PathBuf::from(dir).join("dpdk_telemetry.v2");
    p.exists().then_some(p)
}

/// The one callback DPDK calls for every command of ours.
extern "C" fn dispatch(
    cmd: *const c_char,
    params: *const c_char,
    d: *mut sys::rte_tel_data,
) -> c_int {
    match catch_unwind(AssertUnwindSafe(|| answer(cmd, params, d))) {
        Ok(r) => r,
        Err(_) => {
            log::error!("a DPDK telemetry command panicked");
            -1
        }
    }
}

fn answer(cmd: *const c_char, params: *const c_char, d: *mut sys::rte_tel_data) -> c_int {
    let Some(d) = NonNull::new(d) else {
        return -1;
    };
    if cmd.is_null() {
        return -1;
    }
    // SAFETY: DPDK passes the command as a NUL-terminated string valid
    // for the duration of the callback (checked non-null above).
    let cmd = unsafe { CStr::from_ptr(cmd) }
        .to_string_lossy()
        .into_owned();
    let params = if params.is_null() {
        None
    } else {
        // SAFETY: non-null, and DPDK passes a NUL-terminated string valid
        // for the duration of the callback.
        Some(
            unsafe { CStr::from_ptr(params) }
                .to_string_lossy()
                .into_owned(),
        )
    };
    let handler = {
        let handlers = HANDLERS.lock().unwrap_or_else(|p| p.into_inner());
        match handlers.iter().find(|(c, _)| *c == cmd) {
            Some((_, h)) => h.clone(),
            None => return -1,
        }
    };
    let v = fit(handler(params.as_deref()), budget(&cmd));
    // SAFETY: `d` is the rte_tel_data DPDK handed this callback, valid
    // and ours to fill until we return.
    unsafe { fill(d, &v) };
    0
}

/// `s` as a C string, NUL bytes removed.
fn cstring(s: &str) -> CString {
    // Unwrap: NUL bytes are removed first.
    CString::new(s.replace('\0', "")).unwrap()
}

/// The array type of a list of strings.
const STRING_VAL: sys::rte_tel_value_type = sys::rte_tel_value_type_RTE_TEL_STRING_VAL;

/// Writes `v` into `d`, replacing what `d` held.
///
/// # Safety
/// `d` points to a valid `rte_tel_data` (initialised or not: each arm
/// starts it with `rte_tel_data_start_*` or `rte_tel_data_string`) that
/// nothing else uses during the call.
unsafe fn fill(d: NonNull<sys::rte_tel_data>, v: &Value) {
    let d = d.as_ptr();
    match v {
        Value::U64(n) => {
            let s = cstring(&n.to_string());
            // SAFETY: `d` is valid (caller); `s` is NUL-terminated and
            // DPDK copies it.
            unsafe { sys::rte_tel_data_string(d, s.as_ptr()) };
        }
        Value::Str(s) => {
            let s = cstring(s);
            // SAFETY: as above; DPDK copies and truncates to its limit.
            unsafe { sys::rte_tel_data_string(d, s.as_ptr()) };
        }
        Value::Strs(l) => {
            // SAFETY: `d` is valid (caller).
            unsafe { sys::rte_tel_data_start_array(d, STRING_VAL) };
            for s in l {
                let s = cstring(s);
                // SAFETY: `d` is a string array (started above); DPDK
                // copies `s` and refuses entries past its limit.
                unsafe { sys::rte_tel_data_add_array_string(d, s.as_ptr()) };
            }
        }
        Value::Dict(es) => {
            // SAFETY: `d` is valid (caller).
            unsafe { sys::rte_tel_data_start_dict(d) };
            for (k, v) in es {
                let k = cstring(k);
                match v {
                    Value::U64(n) => {
                        // SAFETY: `d` is a dict (started above); DPDK
                        // copies the key and checks its limits.
                        unsafe { sys::rte_tel_data_add_dict_u64(d, k.as_ptr(), *n) };
                    }
                    Value::Str(s) => {
                        let s = cstring(s);
                        // SAFETY: as above; both strings are copied.
                        unsafe { sys::rte_tel_data_add_dict_string(d, k.as_ptr(), s.as_ptr()) };
                    }
                    Value::Strs(_) | Value::Dict(_) => {
                        // SAFETY: allocates an (uninitialised) rte_tel_data
                        // with malloc, or returns NULL.
                        let c = unsafe { sys::rte_tel_data_alloc() };
                        let Some(c) = NonNull::new(c) else {
                            continue; // out of memory: leave the entry out
                        };
                        // SAFETY: `c` is ours alone, just allocated.
                        unsafe { fill(c, v) };
                        // SAFETY: `d` is a dict, `c` an array or dict
                        // (filled above); with keep = 0 DPDK frees `c`
                        // once it has written the reply, if it took it.
                        let r = unsafe {
                            sys::rte_tel_data_add_dict_container(d, k.as_ptr(), c.as_ptr(), 0)
                        };
                        if r < 0 {
                            // SAFETY: refused, so `c` is still ours alone
                            // and came from rte_tel_data_alloc.
                            unsafe { sys::rte_tel_data_free(c.as_ptr()) };
                        }
                    }
                }
            }
        }
    }
}
