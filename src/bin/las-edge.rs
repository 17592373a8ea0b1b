//! `las-edge`: bridges a TAP interface to one L2TPv3 pseudowire.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;
use las::edge::{EdgeArgs, EdgeConfig};

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .init();
    let args = EdgeArgs::parse();
    let r = EdgeConfig::from_args(args).and_then(|cfg| {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        ctrlc::set_handler(move || s.store(true, Ordering::Relaxed))
            .map_err(|e| format!("cannot install the signal handler: {e}"))?;
        las::edge::run(&cfg, &stop)
    });
    match r {
        Ok(counters) => {
            print!("{counters}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("las-edge: {e}");
            ExitCode::FAILURE
        }
    }
}
