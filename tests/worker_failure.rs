//! A worker that panics stops las: non-zero exit, the worker named, the
//! final counters printed — never las running on with a worker's queues
//! unserved. The panic is injected with `LAS_FAILPOINT_WORKER_PANIC` (a
//! loop count, or 0: while the worker applies its first commands, before
//! las is ready; honoured by debug builds only, which the tests run).
//!
//! Root only (DPDK): `#[ignore]`d; CI runs it with `--include-ignored`.

mod common;

use common::{have_root, lock, Scratch, Sess, Setup};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs las with the failpoint on `cores`; returns (success, stdout,
/// stderr) once it exits (panics if it does not within 20 s).
fn run_failing(name: &str, cores: &str, at_loop: &str) -> (bool, String, String) {
    let setup = Setup::new(name, &["s1"], &[Sess::new("a", "s1", 10)]);
    let scratch = Scratch::new(name);
    let dir = scratch.dir.clone();
    common::write_pcap(&dir.join("in.pcap"), &[]);
    let cfg = dir.join("las.toml");
    std::fs::write(&cfg, setup.config(&dir, &scratch.prefix)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_las"))
        .arg("--config")
        .arg(&cfg)
        .arg("--cores")
        .arg(cores)
        .env("RUST_LOG", "info")
        .env("LAS_FAILPOINT_WORKER_PANIC", at_loop)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start las");
    let t0 = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if t0.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!(
                "las ran on for 20 s with a dead worker\n{}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = child.wait_with_output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn check(name: &str, cores: &str, core: &str, at_loop: &str) {
    let (ok, stdout, stderr) = run_failing(name, cores, at_loop);
    assert!(!ok, "las must exit non-zero\n{stderr}");
    assert!(
        stderr.contains(&format!("the worker on core {core} panicked")),
        "the worker is named\n{stderr}"
    );
    assert!(
        stderr.contains("stopping las (its queues would go unserved)"),
        "{stderr}"
    );
    // The final report: counters, as at any stop.
    assert!(
        stdout.contains("drop.") || stdout.contains("DROPS"),
        "{stdout}"
    );
    assert!(
        stdout.contains("s1"),
        "the report lists the switch\n{stdout}"
    );
}

#[test]
#[ignore = "needs root (DPDK): run with --include-ignored"]
fn a_worker_on_its_own_core_that_panics_stops_las() {
    let _l = lock();
    assert!(have_root());
    check("wpanic2", "0,1", "1", "2000");
}

#[test]
#[ignore = "needs root (DPDK): run with --include-ignored"]
fn the_worker_sharing_the_control_core_that_panics_stops_las() {
    let _l = lock();
    assert!(have_root());
    check("wpanic1", "0", "0", "2000");
}

/// A worker that dies while the control core waits for it to apply the
/// first program (before las is ready) stops las the same way: before,
/// las waited for it for good.
#[test]
#[ignore = "needs root (DPDK): run with --include-ignored"]
fn a_worker_that_panics_before_las_is_ready_stops_las() {
    let _l = lock();
    assert!(have_root());
    check("wpanic0", "0,1", "1", "0");
}

#[test]
#[ignore = "needs root (DPDK): run with --include-ignored"]
fn the_worker_sharing_the_control_core_that_panics_before_las_is_ready_stops_las() {
    let _l = lock();
    assert!(have_root());
    check("wpanic0s", "0", "0", "0");
}
