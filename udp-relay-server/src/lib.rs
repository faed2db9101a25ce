//! The `udp-relay` service: the udp-relay library's relay loop behind a command line, with
//! an admin endpoint (health, readiness, Prometheus metrics), a bounded drain on SIGTERM,
//! logs for operators and the `health` subcommand. A library only so that the udp-relay
//! crate's examples can run it and share its key options; not a stable API.

use std::process::ExitCode;

use clap::Parser;

pub mod admin;
pub mod affinity;
pub mod agones;
pub mod cli;
pub mod events;
pub mod faults;
pub mod health;
pub mod http;
pub mod http_client;
pub mod key;
pub mod lifetimes;
pub mod limits;
pub mod logger;
pub mod metrics;
pub mod relay_id;
pub mod rfc3339;
pub mod service;
pub mod signals;
pub mod socket_drops;
pub mod state;
pub mod stats_line;
pub mod worker;

/// Parses the command line and runs the relay (or the `health` subcommand).
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        Some(cli::Command::Health(args)) => health::run(&args),
        None => service::run(cli.relay),
    }
}
