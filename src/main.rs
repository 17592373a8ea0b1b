//! `las`: the L2TPv3 access switch.
#![forbid(unsafe_code)]

use clap::{Args, Parser, Subcommand};
use las::config::Config;
use las::control::socket;
use las::telemetry::show::Request;
use std::path::PathBuf;
use std::process::ExitCode;

const DEFAULT_CONFIG: &str = "/etc/las/las.toml";

#[derive(Parser)]
#[command(
    name = "las",
    version,
    about = "L2TPv3 access switch: terminates pseudowires and switches Ethernet between them (DPDK data plane)",
    long_about = "las terminates L2TPv3 pseudowires (RFC 3931/4719) from edge routers and switches \
Ethernet between them inside virtual switches, on a DPDK poll-mode data plane.\n\n\
Run it:   las --config las.toml --cores 2-7 [-- EAL args]\n\
Inspect:  las show ports|tunnels|sessions|switches|macs [SWITCH]|mesh|counters [--json]\n\
Change:   las reload [--config FILE] [--dry-run]   (or SIGHUP)\n\
Capture:  las capture --switch NAME|--session NAME|--port NAME -w FILE.pcapng|-\n\
Monitor:  [metrics] listen = \"127.0.0.1:9417\" in the config serves Prometheus /metrics\n\n\
The first core of --cores is the control core, the others are poll-mode workers; \
with one core, it does both.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the switch (the default when no subcommand is given).
    Run(RunArgs),
    /// Ask a running las for its state over the control socket.
    Show(ShowArgs),
    /// Re-read the configuration of a running las and apply what changed,
    /// without touching what did not (also: SIGHUP).
    Reload(ReloadArgs),
    /// Capture the frames of a switch, a session or a port of a running
    /// las into a pcapng file (or stdout), without slowing forwarding.
    #[command(long_about = CAPTURE_ABOUT)]
    Capture(CaptureArgs),
    /// Validate a configuration file and exit; warn of settings that load
    /// but are most likely mistakes.
    Check {
        #[arg(long, short, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
}

#[derive(Args)]
struct RunArgs {
    /// Configuration file (TOML).
    #[arg(long, short, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    /// Cores to use, e.g. 2-7 or 0,2,4: the first is the control core, the rest are workers.
    /// LCORE@CPU puts an lcore on another CPU (e.g. 0,1,2@1: two workers sharing CPU 1,
    /// for trying several workers on a small machine).
    #[arg(long, default_value = "0")]
    cores: String,
    /// Extra EAL arguments (after `--`), appended to those from the config.
    #[arg(last = true)]
    eal: Vec<String>,
}

#[derive(Args)]
struct ShowArgs {
    /// What to show.
    #[arg(value_parser = ["ports", "tunnels", "sessions", "switches", "macs", "counters", "mesh"])]
    what: String,
    /// For `macs`: only this switch.
    switch: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Control socket of the running las (default: from --config, else /run/las/las.sock).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// Read the socket path from this configuration file.
    #[arg(long, short)]
    config: Option<PathBuf>,
}

#[derive(Args)]
struct ReloadArgs {
    /// The new configuration (default: the file las was started with).
    /// It is validated here first, then by las.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Print what would change, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Control socket of the running las (default: from --config, else /run/las/las.sock).
    #[arg(long)]
    socket: Option<PathBuf>,
}

const CAPTURE_ABOUT: &str = "Capture the frames of a switch, a session or a port of a \
running las into a pcapng file (or stdout), without slowing forwarding.\n\n\
--switch NAME: the inner Ethernet frames entering the virtual switch from its members \
(after decapsulation, before its filters) and leaving it to them (before encapsulation); \
a frame switched from A to B shows twice, inbound on A and outbound on B.\n\
--session NAME: the same for one pseudowire.\n\
--port NAME: the outer frames as the port received and sent them.\n\n\
The workers copy matching frames into bounded rings at a capped rate (--rate, per \
worker); a frame that does not fit is not captured, never delayed or dropped. The \
pcapng has one interface per session (or port) and the direction in each packet's flags. \
las capture stops after --count frames or on Ctrl-C / SIGTERM, then prints to stderr \
how many frames were captured and how many missed and why (ring_full: las drained too \
slowly; rate_capped: over --rate; client_slow: this command read too slowly). One \
capture runs at a time.\n\n\
Examples:\n  las capture --switch cust100 -w - | tshark -r -\n  \
las capture --port wan0 --count 1000 --snaplen 128 -w /tmp/wan0.pcapng";

#[derive(Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["switch", "session", "port"])))]
struct CaptureArgs {
    /// Inner frames of this virtual switch.
    #[arg(long)]
    switch: Option<String>,
    /// Inner frames of this session (pseudowire).
    #[arg(long)]
    session: Option<String>,
    /// Outer frames of this port.
    #[arg(long)]
    port: Option<String>,
    /// Stop after this many frames (default: until Ctrl-C).
    #[arg(long)]
    count: Option<u64>,
    /// Bytes kept of each frame (64..=65535).
    #[arg(long, short = 's', default_value_t = las::control::capture::SNAPLEN_DEFAULT)]
    snaplen: u32,
    /// Frames a second each worker copies at most (1..=1000000).
    #[arg(long, default_value_t = las::control::capture::RATE_DEFAULT)]
    rate: u32,
    /// The pcapng file to write; `-` writes to stdout.
    #[arg(short = 'w', value_name = "FILE")]
    write: PathBuf,
    /// Control socket of the running las (default: from --config, else /run/las/las.sock).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// Read the socket path from this configuration file.
    #[arg(long, short)]
    config: Option<PathBuf>,
}

fn capture(a: CaptureArgs) -> Result<(), String> {
    use las::control::capture::{run_client, CaptureSpec, Target};
    use std::io::Write;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    let path = match (a.socket, a.config) {
        (Some(s), _) => s,
        (None, Some(c)) => load(&c)?.control.socket,
        (None, None) => PathBuf::from("/run/las/las.sock"),
    };
    let target = match (a.switch, a.session, a.port) {
        (Some(n), _, _) => Target::Switch(n),
        (_, Some(n), _) => Target::Session(n),
        (_, _, Some(n)) => Target::Port(n),
        // clap requires one of them.
        _ => return Err("--switch, --session or --port is required".into()),
    };
    let spec = CaptureSpec {
        target,
        count: a.count,
        snaplen: a.snaplen,
        rate: a.rate,
    };
    spec.validate()?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())
            .map_err(|e| format!("cannot install the handler of signal {sig}: {e}"))?;
    }
    let mut out: Box<dyn Write> = if a.write.as_os_str() == "-" {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        Box::new(LazyFile {
            path: a.write.clone(),
            file: None,
        })
    };
    let end = run_client(&path, &spec, &mut out, &stop, &mut |st| {
        eprintln!(
            "las capture: capturing {} (snaplen {}, at most {} frames/s per worker{}); Ctrl-C stops",
            st.what,
            st.snaplen,
            st.rate,
            st.count.map(|c| format!(", {c} frames")).unwrap_or_default()
        )
    })?;
    drop(out);
    eprintln!("las capture: {}", end.summary.render());
    match end.out_error {
        // The reader of `-w -` went away (e.g. `| head`): that ended it.
        Some(e) if a.write.as_os_str() == "-" => {
            eprintln!("las capture: stdout: {e}: stopped");
            Ok(())
        }
        Some(e) => Err(format!("-w {}: {e}", a.write.display())),
        None => Ok(()),
    }
}

/// A file created on the first write: a capture las refuses leaves none.
struct LazyFile {
    path: PathBuf,
    file: Option<std::io::BufWriter<std::fs::File>>,
}

impl std::io::Write for LazyFile {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self.file.as_mut() {
            Some(f) => f.write(b),
            None => {
                let mut f = std::io::BufWriter::new(std::fs::File::create(&self.path)?);
                let n = f.write(b)?;
                self.file = Some(f);
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.as_mut().map_or(Ok(()), |f| f.flush())
    }
}

fn reload(a: ReloadArgs) -> Result<(), String> {
    let (path, socket) = match &a.config {
        Some(c) => {
            let cfg = load(c)?;
            let abs = std::fs::canonicalize(c).map_err(|e| format!("{}: {e}", c.display()))?;
            let p = abs
                .to_str()
                .ok_or_else(|| format!("{}: not a UTF-8 path", abs.display()))?
                .to_string();
            (Some(p), cfg.control.socket)
        }
        None => (None, PathBuf::from("/run/las/las.sock")),
    };
    let socket = a.socket.unwrap_or(socket);
    let req = Request::Reload {
        path,
        dry_run: a.dry_run,
    };
    let resp = socket::query(&socket, &req)?;
    if let las::telemetry::show::Response::Error { error } = &resp {
        return Err(error.clone());
    }
    print!("{}", resp.render());
    Ok(())
}

fn load(path: &std::path::Path) -> Result<Config, String> {
    Config::load(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn show(a: ShowArgs) -> Result<(), String> {
    let path = match (a.socket, a.config) {
        (Some(s), _) => s,
        (None, Some(c)) => load(&c)?.control.socket,
        (None, None) => PathBuf::from("/run/las/las.sock"),
    };
    let req = match a.what.as_str() {
        "ports" => Request::Ports,
        "tunnels" => Request::Tunnels,
        "sessions" => Request::Sessions,
        "switches" => Request::Switches,
        "macs" => Request::Macs(a.switch),
        "mesh" => Request::Mesh,
        _ => Request::Counters,
    };
    let resp = socket::query(&path, &req)?;
    if let las::telemetry::show::Response::Error { error } = &resp {
        return Err(error.clone());
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&resp).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", resp.render());
    }
    Ok(())
}

#[cfg(feature = "dpdk")]
fn run(a: RunArgs) -> Result<(), String> {
    let cfg = load(&a.config)?;
    for w in cfg.warnings() {
        log::warn!("{}: {w}", a.config.display());
    }
    let cores = las::runtime::parse_cores(&a.cores)?;
    las::runtime::check_cores(&cores)?;
    // signal-hook rather than ctrlc here: ctrlc's `termination` feature
    // treats SIGHUP as "stop", and SIGHUP means "reload" to las.
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let signals = las::runtime::Signals::default();
    for (sig, flag) in [
        (SIGINT, &signals.stop),
        (SIGTERM, &signals.stop),
        (SIGHUP, &signals.reload),
    ] {
        signal_hook::flag::register(sig, flag.clone())
            .map_err(|e| format!("cannot install the handler of signal {sig}: {e}"))?;
    }
    let ended = las::runtime::run(cfg, a.config.clone(), &cores, &a.eal, signals)?;
    print!("{}", ended.report);
    match ended.failure {
        Some(f) => Err(format!("{f}; las stopped")),
        None => Ok(()),
    }
}

#[cfg(not(feature = "dpdk"))]
fn run(_a: RunArgs) -> Result<(), String> {
    Err("this las was built without the `dpdk` feature: it cannot run the data plane".into())
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .init();
    let cli = Cli::parse();
    let r = match cli.cmd {
        None => run(cli.run),
        Some(Cmd::Run(a)) => run(a),
        Some(Cmd::Show(a)) => show(a),
        Some(Cmd::Reload(a)) => reload(a),
        Some(Cmd::Capture(a)) => capture(a),
        Some(Cmd::Check { config }) => load(&config).map(|c| {
            for w in c.warnings() {
                println!("{}: warning: {w}", config.display());
            }
            println!(
                "{}: ok ({} ports, {} switches, {} sessions)",
                config.display(),
                c.ports.len(),
                c.switches.len(),
                c.sessions.len()
            )
        }),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("las: {e}");
            ExitCode::FAILURE
        }
    }
}
