//! The `las` binary's own checks that stop it before DPDK starts, so
//! they run without root: `las check` on the shipped example, and the
//! refusal of `--no-pci` given on the command line beside a PCI port.

use std::path::Path;
use std::process::Command;

const LAS: &str = env!("CARGO_BIN_EXE_las");

fn example() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/las.example.toml")
}

/// README's systemd section has operators copy the example to
/// /etc/las/las.toml: `las check` must pass it.
#[test]
fn check_passes_the_example() {
    let out = Command::new(LAS)
        .arg("check")
        .arg("--config")
        .arg(example())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The example's port is the PCI device 0000:03:00.0; `--no-pci` after
/// `--` would keep DPDK from probing it, and las says so before starting
/// the EAL (the config's `eal.args` are checked by `las check`).
#[test]
fn no_pci_beside_a_pci_port_refused_at_start() {
    let out = Command::new(LAS)
        .arg("--config")
        .arg(example())
        .args(["--cores", "0", "--", "--no-pci"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("--no-pci") && err.contains("port wan0 is the PCI device 0000:03:00.0"),
        "{err}"
    );
    assert!(!err.contains("EAL:"), "the EAL started: {err}");
}
