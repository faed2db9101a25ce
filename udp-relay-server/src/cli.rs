//! The command line: the relay's flags, and the `health` subcommand.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use udp_relay::admission::Limits;
use udp_relay::relay::Config;

use crate::key::{KeyArgs, RotationArgs};

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
    /// UDP port to listen on (0 picks one and prints it). With several workers, the first of
    /// consecutive ports (worker i on PORT+i; 0 gives each an ephemeral port of its own), or a
    /// comma-separated list with one port per worker.
    #[arg(long, default_value = "6060", value_name = "PORT[,PORT...]", value_parser = parse_ports)]
    pub port: Ports,
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
    #[command(flatten)]
    pub rotation: RotationArgs,
    /// This relay's id in a fleet (1 to 4294967295): it admits relay-bound (v2) seat tokens
    /// minted for this id only, and counts authentic ones for another relay (a client sent
    /// to the wrong relay) as handshakes_wrong_relay. 0 (the default): no id, no v2 token is
    /// for this relay.
    #[arg(long, value_name = "ID", default_value_t = 0)]
    pub relay_id: u32,
    /// Derive the relay id from a name unique in the fleet, e.g. the pod's or GameServer's
    /// (`--relay-id-from-name $(POD_NAME)` in a Kubernetes manifest): the first 4 bytes of
    /// SHA-256("udp-relay relay id v1\0" | NAME), 0 becoming 1. For relays that share one
    /// template; the id is logged and, under --agones, published as the relay-id label.
    #[arg(long, value_name = "NAME", conflicts_with = "relay_id")]
    pub relay_id_from_name: Option<String>,
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
    /// Refuse v1 seat tokens, which every relay holding the key accepts, and admit only
    /// relay-bound (v2) ones (needs a secret key and --relay-id). With --require-tokens,
    /// every admitted peer holds a token for this relay.
    #[arg(long)]
    pub require_token_v2: bool,
    /// Plain handshakes too must echo the relay's return-path cookie before anything is
    /// forwarded to their address (token handshakes always must); v0.8 clients other than
    /// this library's are then refused.
    #[arg(long)]
    pub require_return_path: bool,
    /// Single-threaded relays to run, each on its own UDP port and, when there are enough
    /// CPUs, pinned to a CPU of its own; "auto" runs one per CPU this process may use.
    /// Default 1 (or one per port listed in --port).
    #[arg(long, value_name = "N|auto", value_parser = parse_workers)]
    pub workers: Option<Workers>,
    /// Leave the workers' threads to the scheduler instead of pinning each to a CPU.
    #[arg(long)]
    pub no_cpu_pinning: bool,
    /// Run as an Agones game server: Ready once bound, Health every 2 s while the relay
    /// loop runs, the `channels` counter and the `relay-accepting` and `relay-id` labels kept current,
    /// Shutdown after the SIGTERM drain. The SDK is reached on localhost at
    /// AGONES_SDK_HTTP_PORT (default 9358). One worker only: one GameServer per CPU.
    #[arg(long)]
    pub agones: bool,
    /// Testing only, never in production: the admin endpoint also serves
    /// `POST /debug/workers/N/{stall,resume,panic}`, which stall a worker's relay loop or make
    /// it panic (see the README's "Fault injection").
    #[arg(long, hide = true, requires = "admin_addr")]
    pub debug_fault_injection: bool,
    /// Microseconds the relay lets datagrams gather after a read that found its socket nearly
    /// empty (the library's coalesce_window): at game rates one wake-up then relays many
    /// datagrams instead of one, for up to this much more latency per pass through the relay.
    /// 0 reads every datagram at once; at most 5000.
    #[arg(long, value_name = "US", default_value_t = Config::default().coalesce_window.as_micros() as u64)]
    pub coalesce_us: u64,
}

/// The `--port` values: one port, or one per worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ports(pub Vec<u16>);

/// The `--workers` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workers {
    Count(usize),
    /// One per CPU the process may use.
    Auto,
}

/// Most workers one process runs.
pub const MAX_WORKERS: usize = 1024;

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

/// `6060` or `6060,6061,7000`.
pub fn parse_ports(text: &str) -> Result<Ports, String> {
    let ports = text
        .split(',')
        .map(|p| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("{p:?} is not a port (0 to 65535)"))
        })
        .collect::<Result<Vec<u16>, String>>()?;
    if ports.len() > 1 {
        if ports.contains(&0) {
            return Err("a list of ports cannot hold 0 (give a single 0 instead)".into());
        }
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        if let Some(twice) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("port {} is listed twice", twice[0]));
        }
    }
    Ok(Ports(ports))
}

/// A number of workers (1 to [`MAX_WORKERS`]) or `auto`.
pub fn parse_workers(text: &str) -> Result<Workers, String> {
    if text == "auto" {
        return Ok(Workers::Auto);
    }
    match text.parse::<usize>() {
        Ok(n) if (1..=MAX_WORKERS).contains(&n) => Ok(Workers::Count(n)),
        _ => Err(format!(
            "{text:?}: give a number of workers from 1 to {MAX_WORKERS}, or auto"
        )),
    }
}

impl RelayArgs {
    /// The UDP port of each worker, from --port and --workers; `cpus` is what `auto` means.
    pub fn worker_ports(&self, cpus: usize) -> Result<Vec<u16>, String> {
        let listed = &self.port.0;
        let count = match self.workers {
            Some(Workers::Count(n)) => n,
            Some(Workers::Auto) => cpus.clamp(1, MAX_WORKERS),
            None => listed.len(),
        };
        if listed.len() > 1 {
            if listed.len() != count {
                return Err(format!(
                    "--port lists {} ports for {count} workers: give one port per worker, \
                     or a single first port",
                    listed.len()
                ));
            }
            return Ok(listed.clone());
        }
        let first = listed[0];
        if first == 0 {
            return Ok(vec![0; count]);
        }
        (0..count)
            .map(|i| {
                u16::try_from(i)
                    .ok()
                    .and_then(|i| first.checked_add(i))
                    .ok_or_else(|| {
                        format!("--port {first} with {count} workers needs ports past 65535")
                    })
            })
            .collect()
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

    fn args(line: &[&str]) -> RelayArgs {
        let mut argv = vec!["udp-relay"];
        argv.extend(line);
        Cli::try_parse_from(argv).unwrap().relay
    }

    #[test]
    fn ports_of_the_workers() {
        assert_eq!(args(&[]).worker_ports(8), Ok(vec![6060]));
        assert_eq!(
            args(&["--workers", "3"]).worker_ports(8),
            Ok(vec![6060, 6061, 6062])
        );
        assert_eq!(
            args(&["--workers", "auto", "--port", "7000"]).worker_ports(2),
            Ok(vec![7000, 7001])
        );
        assert_eq!(
            args(&["--workers", "2", "--port", "0"]).worker_ports(8),
            Ok(vec![0, 0])
        );
        assert_eq!(
            args(&["--port", "7000,7002,7004"]).worker_ports(8),
            Ok(vec![7000, 7002, 7004])
        );
        assert_eq!(
            args(&["--port", "7000,7002", "--workers", "2"]).worker_ports(8),
            Ok(vec![7000, 7002])
        );
        assert!(
            args(&["--port", "7000,7002", "--workers", "3"])
                .worker_ports(8)
                .unwrap_err()
                .contains("lists 2 ports for 3 workers")
        );
        assert!(
            args(&["--port", "65535", "--workers", "2"])
                .worker_ports(8)
                .unwrap_err()
                .contains("past 65535")
        );
        for bad in ["7000,7000", "7000,0", "x", "70000", "7000,"] {
            assert!(parse_ports(bad).is_err(), "{bad:?}");
        }
        for bad in ["0", "-1", "1025", "two", ""] {
            assert!(parse_workers(bad).is_err(), "{bad:?}");
        }
    }

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
