//! The command line: the relay's flags, and the `health` subcommand.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use udp_relay::admission::Limits;
use udp_relay::relay::Config;

use crate::key::KeyArgs;

/// UDP relay for game peers behind NAT (v0.8 handshake).
///
/// Exit status: 0 stopped as asked (drained, drain timeout, SIGINT, second SIGTERM);
/// 1 failed at run time (cannot listen); 2 bad command line, configuration or key.
#[derive(Parser, Debug)]
#[command(
    name = "udp-relay",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub relay: RelayArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Asks a running relay whether it is live (or, with --ready, ready): through its admin
    /// endpoint (--admin-addr) or with a UDP probe to its relay port (--udp): exit 0 if so, 1
    /// if not or unreachable. For container HEALTHCHECKs and exec probes.
    Health(HealthArgs),
}

#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["admin_addr", "udp"])))]
pub struct HealthArgs {
    /// The relay's --admin-addr (a wildcard address is asked on loopback).
    #[arg(long, value_name = "HOST:PORT")]
    pub admin_addr: Option<SocketAddr>,
    /// The relay's UDP address: send it a relay probe, which it answers with its state
    /// (accepting, draining or full) without a channel. Live = any answer; ready = accepting.
    #[arg(long, value_name = "HOST:PORT")]
    pub udp: Option<SocketAddr>,
    /// Ask /ready (accepting new channels) instead of /live (the relay loop runs).
    #[arg(long)]
    pub ready: bool,
    /// Give up after this long (e.g. 2s, 500ms).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub timeout: Duration,
}

#[derive(clap::Args, Debug)]
pub struct RelayArgs {
    /// UDP port to listen on (0 picks one and prints it).
    #[arg(long, default_value_t = 6060)]
    pub port: u16,
    /// IP address to bind; the default "::" is dual-stack (IPv4 and IPv6).
    #[arg(long, default_value = "::")]
    pub bind: IpAddr,
    /// Close a channel after this many ms without traffic (1 to 86 400 000: a day).
    #[arg(long, default_value_t = 30_000)]
    pub inactivity_timeout_ms: u64,
    /// Refuse new GUIDs while this many channels are open (1 to 2^30).
    #[arg(long, default_value_t = 100_000)]
    pub max_channels: usize,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Serve /live, /ready and /metrics over HTTP on this address (off unless given). Put it
    /// on loopback or a private network: it is not meant for the public.
    #[arg(long, value_name = "HOST:PORT")]
    pub admin_addr: Option<SocketAddr>,
    /// After SIGTERM, stop at the latest this long after draining began, even with channels
    /// still open (e.g. 25s, 1500ms, 2m). Keep it inside the orchestrator's grace period.
    #[arg(long, default_value = "25s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// What to log: a level (error, warn, info, debug, trace) or a RUST_LOG-style list such
    /// as "info,udp_relay::admission=debug". Also read from RUST_LOG (the flag wins);
    /// "info" when neither is given.
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Log lines as text or as one JSON object each.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Seconds between stats lines (0 = never; a final one is logged at exit anyway).
    #[arg(long, default_value_t = 10)]
    pub stats_interval_secs: u64,
    /// Handshakes per second one source (IPv4 address or IPv6 /64) may have verified
    /// (0 = unlimited).
    #[arg(long, default_value_t = Limits::default().handshake_rate_per_source)]
    pub handshake_rate_per_source: u32,
    /// Handshakes one source may send in a burst (at least 1 when rate-limiting).
    #[arg(long, default_value_t = Limits::default().handshake_burst_per_source)]
    pub handshake_burst_per_source: u32,
    /// Half-open channels one source may hold (0 = unlimited).
    #[arg(long, default_value_t = Limits::default().max_pending_per_source)]
    pub max_pending_per_source: u32,
    /// Sources whose handshake rate is tracked at once (1 to 16 777 216).
    #[arg(long, default_value_t = Limits::default().max_tracked_sources)]
    pub max_tracked_sources: usize,
    /// Bytes per second each direction of a channel may carry (0 = no cap; at most 10^12).
    #[arg(long, default_value_t = 0)]
    pub channel_bandwidth_bytes_per_sec: u64,
    /// SO_RCVBUF to ask for (0 keeps the system default; the kernel may grant less).
    #[arg(long, default_value_t = Config::default().recv_buffer_bytes)]
    pub recv_buffer_bytes: usize,
    /// SO_SNDBUF to ask for (0 keeps the system default; the kernel may grant less).
    #[arg(long, default_value_t = Config::default().send_buffer_bytes)]
    pub send_buffer_bytes: usize,
    /// Admit only handshakes carrying a valid seat token (needs a secret key).
    #[arg(long)]
    pub require_tokens: bool,
    /// Plain handshakes too must echo the relay's return-path cookie before anything is
    /// forwarded to their address (token handshakes always must); v0.8 clients other than
    /// this library's are then refused.
    #[arg(long)]
    pub require_return_path: bool,
    /// Microseconds the relay lets datagrams gather after a read that found its socket nearly
    /// empty (the library's coalesce_window): at game rates one wake-up then relays many
    /// datagrams instead of one, for up to this much more latency per pass through the relay.
    /// 0 reads every datagram at once; at most 5000.
    #[arg(long, value_name = "US", default_value_t = Config::default().coalesce_window.as_micros() as u64)]
    pub coalesce_us: u64,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// `TIME LEVEL MODULE: message key=value...`
    Text,
    /// `{"time":..,"level":..,"module":..,"message":..,"fields":{..}}`
    Json,
}

impl RelayArgs {
    /// The log filter spec and where it came from: the flag, else `RUST_LOG`, else `info`.
    pub fn log_filter(&self) -> (String, &'static str) {
        match (&self.log_level, std::env::var("RUST_LOG")) {
            (Some(spec), _) => (spec.clone(), "--log-level"),
            (None, Ok(spec)) => (spec, "RUST_LOG"),
            (None, Err(_)) => ("info".into(), "default"),
        }
    }
}

/// A duration such as `25s`, `1500ms`, `2m`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 25s, 1500ms or 2m"))?;
    let ms_per_unit: u64 = match unit {
        "ms" => 1,
        "" | "s" => 1000,
        "m" => 60_000,
        _ => return Err(format!("{text:?}: the unit must be ms, s or m")),
    };
    // A day is far beyond any grace period and keeps Instant arithmetic safe.
    match n.checked_mul(ms_per_unit) {
        Some(ms) if ms <= 86_400_000 => Ok(Duration::from_millis(ms)),
        _ => Err(format!("{text:?} is longer than a day")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("25s"), Ok(Duration::from_secs(25)));
        assert_eq!(parse_duration("25"), Ok(Duration::from_secs(25)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in [
            "",
            "s",
            "-1s",
            "1h",
            "1.5s",
            "2 s",
            "99999999999999999999",
            "1441m",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
