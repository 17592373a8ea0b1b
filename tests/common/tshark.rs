//! Independent decoding (DESIGN.md, testing layer 5): Wireshark's `tshark`
//! reads every pcap that the real `las` writes in the end-to-end tests, and
//! any frame it marks malformed or with an expert error fails the test. A
//! peer we wrote agrees with us and proves little; Wireshark's dissectors
//! were written by others, from the RFCs and from real routers' traffic.
//!
//! How tshark is told what it cannot guess:
//!
//! - L2TPv3 over IP (protocol 115) and over UDP port 1701 are both
//!   dissected as L2TPv3 by default: over UDP the dissector reads the
//!   version nibble of the first word (3), so no port preference is needed.
//! - The cookie length and the L2-specific sublayer are not in the data
//!   packets. With `l2tp.cookie_size: detect` and `l2tp.l2_specific:
//!   detect` (the defaults) tshark learns them per session from the
//!   control messages in the capture (Assigned Cookie, L2-Specific
//!   Sublayer AVPs) and assumes none without them. Static sessions have no
//!   control messages, and the preferences are global, so a capture whose
//!   static sessions differ is decoded once per setting ([`Group`]), each
//!   run judging only the frames of its sessions (a display filter).
//! - The pseudowire type of a static session is unknown to tshark (0);
//!   dynamic sessions carry it in the ICRQ (5, Ethernet).
//!
//! Each capture is decoded in up to two passes:
//!
//! 1. *Outer*: `-d l2tp.pw_type==0,data -d l2tp.pw_type==5,data`: the inner
//!    frame is opaque, everything las builds itself is judged: outer
//!    Ethernet, IPv4 (header checksum checked), fragments and their
//!    reassembly, UDP, the L2TPv3 data and control headers and AVPs, ARP
//!    and ICMP. Every frame of the capture (or of `from`) is judged.
//! 2. *Inner* (only for the frames matching [`Check::inner`]): the inner
//!    frame is dissected as Ethernet (`-d l2tp.pw_type==0,eth`) with IPv4,
//!    TCP and UDP checksums checked. Most tests carry synthetic inner frames
//!    (a tag and a byte pattern behind an IPv4 or ARP ethertype) that are
//!    not valid packets and that las forwards byte for byte (the tests
//!    check that exactly); tshark rightly flags them, so only frames whose
//!    inner packets are real (the TCP segments of the MSS clamp test, the
//!    lab's hosts) are judged here. This pass checks what las changes
//!    inside (MSS clamping and its incremental checksum update), and that
//!    the frame decodes as Ethernet carrying IPv4, IPv6 or ARP at all: a
//!    wrong cookie or sublayer shifts it, mostly without any error.
//!
//! With [`Check::secret`] tshark also verifies the Message Digest (RFC 3931
//! §5.4) of every control message las sent; an "Incorrect Digest" (only a
//! warning to tshark) then fails the check.
//!
//! Ethernet padding: `eth.padding: any`. IEEE 802.3 leaves the content of
//! the pad (up to the 60-byte minimum) unspecified; with tshark's default
//! (`zeros`) a non-zero pad byte becomes a "trailer", which the trailer
//! heuristics (F5, VSS-Monitoring, ...) then misread as a vendor capture
//! trailer ("Malformed Packet: F5 Ethernet trailer").
//!
//! Without tshark the check prints a loud SKIPPED line, or fails when the
//! `CI` environment variable is set.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Expert severity "error" (`PI_ERROR` in Wireshark's `epan/proto.h`), as
/// the field `_ws.expert.severity` prints it.
const PI_ERROR: u64 = 0x0080_0000;

/// The L2TPv3 preferences one tshark run decodes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefs {
    /// Cookie length (0, 4 or 8); `None`: learned from the control
    /// messages in the capture, else 0.
    pub cookie: Option<usize>,
    /// The default L2-specific sublayer present; `None`: learned from the
    /// control messages, else absent.
    pub l2spec: Option<bool>,
}

impl Prefs {
    /// Learn from the control messages (tshark's defaults).
    pub const DETECT: Prefs = Prefs {
        cookie: None,
        l2spec: None,
    };

    pub fn fixed(cookie: usize, l2spec: bool) -> Prefs {
        Prefs {
            cookie: Some(cookie),
            l2spec: Some(l2spec),
        }
    }

    fn args(&self) -> Vec<String> {
        let cookie = match self.cookie {
            None => "detect".to_string(),
            Some(n @ (0 | 4 | 8)) => format!("cookie{n}"),
            Some(n) => panic!("tshark knows cookies of 0, 4 or 8 bytes, not {n}"),
        };
        let l2spec = match self.l2spec {
            None => "detect",
            Some(false) => "none",
            Some(true) => "default",
        };
        vec![
            "-o".into(),
            format!("l2tp.cookie_size:{cookie}"),
            "-o".into(),
            format!("l2tp.l2_specific:{l2spec}"),
        ]
    }
}

/// Frames (a display filter) that need other preferences than the rest.
#[derive(Clone, Debug)]
pub struct Group {
    pub prefs: Prefs,
    pub filter: String,
}

/// What to check in one capture.
#[derive(Clone, Debug)]
pub struct Check {
    /// Names the capture in messages.
    pub what: String,
    /// Display filter selecting the frames las sent (a capture on a link
    /// also holds the peer's); `None`: every frame is las's.
    pub from: Option<String>,
    /// Preferences for the frames no group claims.
    pub default: Prefs,
    /// Frames decoded with other preferences; no frame may match two.
    pub groups: Vec<Group>,
    /// Display filter of the frames whose inner packets are judged too
    /// (pass 2); `None`: inner frames stay opaque.
    pub inner: Option<String>,
    /// `l2tp.shared_secret`: tshark then verifies the Message Digest of
    /// every control message las sent, and a wrong one fails the check.
    pub secret: Option<String>,
    /// On failure, copy the capture out of the test's scratch directory.
    pub keep: bool,
}

impl Check {
    pub fn new(what: &str) -> Check {
        Check {
            what: what.into(),
            from: None,
            default: Prefs::DETECT,
            groups: Vec::new(),
            inner: None,
            secret: None,
            keep: true,
        }
    }

    /// Adds `filter` to the group decoded with `prefs` (merged with an
    /// existing group of the same preferences).
    pub fn group(&mut self, prefs: Prefs, filter: &str) -> &mut Check {
        if prefs == self.default {
            return self;
        }
        match self.groups.iter_mut().find(|g| g.prefs == prefs) {
            Some(g) => g.filter = format!("{} || {filter}", g.filter),
            None => self.groups.push(Group {
                prefs,
                filter: filter.into(),
            }),
        }
        self
    }
}

/// A frame tshark flagged.
struct Flagged {
    frame: u64,
    pass: &'static str,
    prefs: Prefs,
    info: String,
    experts: String,
}

/// True when tshark runs here. Without it: panics when `CI` is set, else
/// prints a loud SKIPPED line for `what` and returns false.
pub fn have_tshark(what: &str) -> bool {
    let ok = Command::new("tshark")
        .arg("-v")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("tshark is not installed (scripts/deps.sh installs it), and CI is set: cannot check {what}");
    }
    eprintln!(
        "\n*** SKIPPED tshark check of {what}: tshark is not installed \
         (apt-get install tshark, or scripts/deps.sh). Set CI to make this fail. ***\n"
    );
    false
}

fn and(a: &Option<String>, b: &str) -> String {
    match a {
        Some(a) => format!("({a}) && ({b})"),
        None => format!("({b})"),
    }
}

/// The tshark arguments for one run (without `-r` and the output options).
fn decode_args(prefs: Prefs, inner: bool, secret: &Option<String>) -> Vec<String> {
    let mut a = prefs.args();
    let pw = if inner { "eth" } else { "data" };
    for t in [0, 5] {
        a.push("-d".into());
        a.push(format!("l2tp.pw_type=={t},{pw}"));
    }
    for p in ["ip", "tcp", "udp"] {
        a.push("-o".into());
        a.push(format!("{p}.check_checksum:TRUE"));
    }
    if let Some(s) = secret {
        a.push("-o".into());
        a.push(format!("l2tp.shared_secret:{s}"));
    }
    a.push("-o".into());
    a.push("eth.padding:any".into());
    a
}

fn tshark(args: &[String]) -> String {
    let out = Command::new("tshark")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run tshark: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tshark {} failed with {}:\n{stderr}",
        shell_words(args),
        out.status
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=,".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// True if `frame.protocols` shows the pseudowire's frame decoded as
/// Ethernet (maybe with 802.1Q/802.1ad tags) carrying IPv4, IPv6 or ARP. With a wrong
/// cookie length or sublayer tshark reads the frame at the wrong offset,
/// usually without any error ("l2tp:llc", an unknown ethertype).
fn inner_decoded(protocols: &str) -> bool {
    let Some((_, after)) = protocols.rsplit_once("l2tp:") else {
        return false;
    };
    let mut t = after.split(':');
    if t.next() != Some("ethertype") {
        return false;
    }
    t.find(|p| !matches!(*p, "vlan" | "ieee8021ad" | "ethertype"))
        .is_some_and(|p| matches!(p, "ip" | "ipv6" | "arp"))
}

/// The number of frames in `pcap`, read without tshark.
fn pcap_frames(pcap: &Path) -> usize {
    let f =
        std::fs::File::open(pcap).unwrap_or_else(|e| panic!("cannot open {}: {e}", pcap.display()));
    let mut r = pcap_file::pcap::PcapReader::new(std::io::BufReader::new(f))
        .unwrap_or_else(|e| panic!("{} is no pcap file: {e}", pcap.display()));
    let mut n = 0;
    while let Some(p) = r.next_packet() {
        p.unwrap_or_else(|e| panic!("{}: bad record: {e}", pcap.display()));
        n += 1;
    }
    n
}

/// The number of frames matching `filter`.
fn count(pcap: &Path, filter: &str) -> usize {
    let mut a = vec!["-r".into(), pcap.display().to_string(), "-n".into()];
    a.extend(["-Y", filter, "-T", "fields", "-e", "frame.number"].map(String::from));
    tshark(&a).lines().count()
}

/// Panics (with the offending frames' numbers and tshark's text for them)
/// when tshark marks any frame of `pcap` that `check` selects malformed or
/// with an expert error, a control message las sent with a wrong digest
/// (when `check.secret` is set), or decodes none of them although the
/// capture is not empty. Does nothing but print SKIPPED without tshark
/// (fails when `CI` is set).
pub fn assert_clean(pcap: &Path, check: &Check) {
    if !have_tshark(&check.what) {
        return;
    }
    let file = pcap.display().to_string();
    let total = pcap_frames(pcap);
    let want = match &check.from {
        Some(f) => count(pcap, f),
        None => total,
    };
    assert!(
        total == 0 || want > 0,
        "tshark check of {}: none of the {total} frames in {file} matches {:?} (las sent nothing?)",
        check.what,
        check.from
    );
    let digest = check.secret.is_some();
    let mut flagged: BTreeMap<(u64, &'static str), Flagged> = BTreeMap::new();
    let mut commands = Vec::new();
    let rest = match check.groups.len() {
        0 => "frame".to_string(),
        _ => format!(
            "!({})",
            check
                .groups
                .iter()
                .map(|g| format!("({})", g.filter))
                .collect::<Vec<_>>()
                .join(" || ")
        ),
    };
    let mut inner_seen = 0;
    let mut runs: Vec<(Prefs, String)> = vec![(check.default, rest)];
    runs.extend(check.groups.iter().map(|g| (g.prefs, g.filter.clone())));
    for (pass, inner) in [("outer", false), ("inner", true)] {
        if inner && check.inner.is_none() {
            continue;
        }
        let mut seen = 0;
        for (prefs, filter) in &runs {
            let mut filter = and(&check.from, filter);
            if inner {
                // Data frames only: control messages carry no frame.
                filter = and(&check.inner, &format!("l2tp.sid != 0 && {filter}"));
            }
            let mut a = vec!["-r".to_string(), file.clone(), "-n".into()];
            a.extend(decode_args(*prefs, inner, &check.secret));
            a.push("-Y".into());
            a.push(filter);
            a.extend(field_args(&[
                "_ws.malformed",
                "_ws.expert.severity",
                "l2tp.incorrect_digest",
                "_ws.col.Info",
                "frame.protocols",
                "_ws.expert.message",
            ]));
            let out = tshark(&a);
            commands.push(format!("tshark {}", shell_words(&a)));
            for line in out.lines() {
                seen += 1;
                let f: Vec<&str> = line.split('\t').collect();
                let num: u64 = f[0].parse().unwrap_or_else(|_| {
                    panic!("tshark printed {line:?}, not a frame number first")
                });
                let field = |i: usize| f.get(i).copied().unwrap_or("");
                let error = field(2)
                    .split(',')
                    .any(|s| s.trim().parse::<u64>().ok() == Some(PI_ERROR));
                let bad_digest = digest && !field(3).is_empty();
                let undecoded = inner && !inner_decoded(field(5));
                if !field(1).is_empty() || error || bad_digest || undecoded {
                    let mut experts = field(6).to_string();
                    if undecoded {
                        experts = format!(
                            "inner frame not decoded as Ethernet with IPv4, IPv6 or ARP \
                             (wrong cookie or sublayer preferences?): {}; {experts}",
                            field(5)
                        );
                    }
                    if !field(1).is_empty() {
                        experts = format!("malformed [{}]; {experts}", field(1));
                    }
                    if bad_digest {
                        experts = format!("wrong Message Digest; {experts}");
                    }
                    flagged.insert(
                        (num, pass),
                        Flagged {
                            frame: num,
                            pass,
                            prefs: *prefs,
                            info: field(4).to_string(),
                            experts,
                        },
                    );
                }
            }
        }
        if inner {
            inner_seen = seen;
        } else {
            assert!(
                seen == want && (total == 0 || seen > 0),
                "tshark check of {}: tshark decoded {seen} frames, expected {want} \
                 (of {total} in {file})\n{}",
                check.what,
                commands.join("\n")
            );
        }
    }
    if flagged.is_empty() {
        println!(
            "tshark check of {}: {want} frames clean{}",
            check.what,
            match &check.inner {
                Some(_) => format!(" ({inner_seen} judged with their inner packets)"),
                None => String::new(),
            }
        );
        return;
    }
    // Keep the capture for Wireshark, and show tshark's full text for the
    // first few frames.
    let kept = if check.keep {
        keep(pcap, &check.what)
    } else {
        pcap.to_path_buf()
    };
    let mut msg = format!(
        "tshark flags {} frame(s) las wrote in {} (capture kept as {}):\n",
        flagged.len(),
        check.what,
        kept.display()
    );
    for f in flagged.values() {
        writeln!(
            msg,
            "  frame {} ({} pass, {:?}): {} -- {}",
            f.frame, f.pass, f.prefs, f.info, f.experts
        )
        .unwrap();
    }
    for f in flagged.values().take(3) {
        let mut a = vec!["-r".to_string(), file.clone(), "-n".into()];
        a.extend(decode_args(f.prefs, f.pass == "inner", &check.secret));
        a.extend(["-Y".into(), format!("frame.number == {}", f.frame)]);
        a.extend(["-V".into(), "-x".into()]);
        let text = verbose_text(&tshark(&a));
        write!(
            msg,
            "\n---- tshark -r FILE {}\n{text}",
            shell_words(&a[2..])
        )
        .unwrap();
    }
    writeln!(msg, "\n---- commands run:\n{}", commands.join("\n")).unwrap();
    panic!("{msg}");
}

/// `-T fields` output of `frame.number` and then `names`, tab-separated,
/// every occurrence of a field joined by commas.
fn field_args(names: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = ["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a"]
        .map(String::from)
        .to_vec();
    for n in std::iter::once(&"frame.number").chain(names) {
        a.extend(["-e".into(), (*n).to_string()]);
    }
    a
}

/// What tshark reads for the fields `names` in the frames of `pcap` matching
/// `filter`, decoded with `prefs` and the pseudowire's frame dissected as
/// Ethernet (so `eth.src` lists the outer and then the inner source): one
/// row per frame, its number first, then each field with all its
/// occurrences joined by commas (empty where absent). Panics without
/// tshark; callers check [`have_tshark`] first.
pub fn fields(pcap: &Path, prefs: Prefs, filter: &str, names: &[&str]) -> Vec<(u64, Vec<String>)> {
    let mut a = vec!["-r".to_string(), pcap.display().to_string(), "-n".into()];
    a.extend(decode_args(prefs, true, &None));
    a.extend(["-Y".into(), filter.to_string()]);
    a.extend(field_args(names));
    tshark(&a)
        .lines()
        .map(|line| {
            let mut f = line.split('\t');
            let num = f
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("tshark printed {line:?}, not a frame number first"));
            let mut row: Vec<String> = f.map(String::from).collect();
            row.resize(names.len(), String::new());
            (num, row)
        })
        .collect()
}

/// tshark's `-V -x` text for one frame, shortened for a panic message:
/// without the frame's metadata (times, lengths), at most 12000 bytes,
/// and the expert lines repeated at the end when that cut them off.
fn verbose_text(full: &str) -> String {
    let mut text = String::new();
    let mut in_frame = false;
    for l in full.lines() {
        if !l.starts_with(' ') {
            in_frame = l.starts_with("Frame ");
        } else if in_frame {
            continue;
        }
        text.push_str(l);
        text.push('\n');
    }
    if text.len() > 12000 {
        let mut cut = 12000;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("[...]\nexpert lines:\n");
        for l in full.lines().filter(|l| l.contains("Expert Info")) {
            text.push_str(l);
            text.push('\n');
        }
    }
    text
}

/// Copies `pcap` out of the test's scratch directory (removed when the
/// test ends) so it can be opened in Wireshark.
fn keep(pcap: &Path, what: &str) -> PathBuf {
    let name: String = what
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let dst = std::env::temp_dir().join(format!("las-tshark-{name}-{}.pcap", std::process::id()));
    match std::fs::copy(pcap, &dst) {
        Ok(_) => dst,
        Err(_) => pcap.to_path_buf(),
    }
}

/// A tcpdump capture of everything on an interface, written as it comes
/// (`-U`) to a pcap file, stopped (SIGINT, so the file is complete) by
/// `stop` or on drop.
pub struct Capture {
    child: Option<std::process::Child>,
    pub path: PathBuf,
}

impl Capture {
    /// Starts `tcpdump -i iface -w path` (full frames, at most `max`
    /// packets) and waits until it listens. `None` (with a loud SKIPPED
    /// line) without tcpdump or tshark, a panic instead when `CI` is set.
    pub fn start(iface: &str, path: &Path, max: usize, what: &str) -> Option<Capture> {
        Capture::start_in(None, iface, path, max, what)
    }

    /// `start`, with tcpdump inside network namespace `netns` (`ip netns
    /// exec`) when one is given.
    pub fn start_in(
        netns: Option<&str>,
        iface: &str,
        path: &Path,
        max: usize,
        what: &str,
    ) -> Option<Capture> {
        if !have_tshark(what) {
            return None;
        }
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "tcpdump"]);
                c
            }
            None => Command::new("tcpdump"),
        };
        let mut child = match cmd
            // --immediate-mode: libpcap hands every packet over as it
            // comes, not a buffer block per timeout (up to a second),
            // whose last one SIGINT would lose.
            .args(["-i", iface, "-n", "-U", "--immediate-mode", "-s", "0", "-c"])
            .arg(max.to_string())
            .arg("-w")
            .arg(path)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                if std::env::var_os("CI").is_some() {
                    panic!("cannot run tcpdump ({e}), and CI is set: cannot check {what}");
                }
                eprintln!("\n*** SKIPPED tshark check of {what}: cannot run tcpdump: {e} ***\n");
                return None;
            }
        };
        // tcpdump says "listening on IFACE" once its socket is bound.
        let mut stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut seen = Vec::new();
            let mut buf = [0u8; 256];
            let mut told = false;
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
                if !told && String::from_utf8_lossy(&seen).contains("listening on") {
                    let _ = tx.send(());
                    told = true;
                }
            }
        });
        if rx.recv_timeout(std::time::Duration::from_secs(10)).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tcpdump on {iface} did not start listening within 10 s");
        }
        Some(Capture {
            child: Some(child),
            path: path.to_path_buf(),
        })
    }

    /// Stops tcpdump (SIGINT: it completes the file) and waits for it.
    pub fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        // Give the last frames las sent a moment to reach the socket.
        std::thread::sleep(std::time::Duration::from_millis(100));
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(c.id().to_string())
            .status();
        let t0 = std::time::Instant::now();
        while t0.elapsed() < std::time::Duration::from_secs(5) {
            if let Ok(Some(_)) = c.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop();
    }
}
