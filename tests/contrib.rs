//! The files in `contrib/` are checked by the tools that read them:
//! `systemd-analyze verify` on the systemd unit (with the built `las`
//! in place of /usr/local/bin/las).

use std::process::Command;

#[test]
fn systemd_unit_verifies() {
    let have = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        if std::env::var_os("CI").is_some() {
            panic!("systemd-analyze is needed to check contrib/systemd, and CI is set");
        }
        eprintln!("\n*** SKIPPED: no systemd-analyze to check contrib/systemd/las.service ***\n");
        return;
    }
    let unit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/systemd/las.service"),
    )
    .unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/las --config"));
    let dir = std::env::temp_dir().join(format!("las-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("las.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/las", env!("CARGO_BIN_EXE_las")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let _ = std::fs::remove_dir_all(&dir);
    // Only complaints about this unit count (the host's own units may
    // draw warnings of their own).
    let ours: Vec<&str> = text.lines().filter(|l| l.contains("las.service")).collect();
    assert!(out.status.success() && ours.is_empty(), "{text}");
}
