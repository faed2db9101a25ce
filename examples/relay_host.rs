//! The standalone relay: the library's relay loop behind a command line.
//!
//!     cargo run --release --example relay_host -- --port 6060
//!
//! SIGINT stops at once; SIGTERM drains (refuses new channels, exits when the last open one
//! closes). Each channel's allocation, establishment and close is logged with its counters,
//! and a one-line stats summary is printed periodically.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use key_args::{HandshakeKeyChoice, KeyArgs};
use udp_relay::admission::Limits;
use udp_relay::relay::{CloseReason, Config, Event, Relay};

#[path = "shared/key_args.rs"]
mod key_args;

/// UDP relay for game peers behind NAT (v0.8 handshake).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// UDP port to listen on (0 picks one and prints it).
    #[arg(long, default_value_t = 6060)]
    port: u16,
    /// IP address to bind; the default "::" is dual-stack (IPv4 and IPv6).
    #[arg(long, default_value = "::")]
    bind: IpAddr,
    /// Close a channel after this many ms without traffic.
    #[arg(long, default_value_t = 30_000)]
    inactivity_timeout_ms: u64,
    /// Refuse new GUIDs while this many channels are open.
    #[arg(long, default_value_t = 100_000)]
    max_channels: usize,
    #[command(flatten)]
    key: KeyArgs,
    /// error, warn, info, debug or trace.
    #[arg(long, default_value = "info", value_parser = parse_level)]
    log_level: log::LevelFilter,
    /// Seconds between stats summaries (0 = never).
    #[arg(long, default_value_t = 10)]
    stats_interval_secs: u64,
    /// Handshakes per second one source (IPv4 address or IPv6 /64) may have verified
    /// (0 = unlimited).
    #[arg(long, default_value_t = Limits::default().handshake_rate_per_source)]
    handshake_rate_per_source: u32,
    /// Handshakes one source may send in a burst.
    #[arg(long, default_value_t = Limits::default().handshake_burst_per_source)]
    handshake_burst_per_source: u32,
    /// Half-open channels one source may hold (0 = unlimited).
    #[arg(long, default_value_t = Limits::default().max_pending_per_source)]
    max_pending_per_source: u32,
    /// Sources whose handshake rate is tracked at once.
    #[arg(long, default_value_t = Limits::default().max_tracked_sources)]
    max_tracked_sources: usize,
    /// Bytes per second each direction of a channel may carry (0 = no cap).
    #[arg(long, default_value_t = 0)]
    channel_bandwidth_bytes_per_sec: u64,
    /// Admit only handshakes carrying a valid seat token (needs --secret-key).
    #[arg(long)]
    require_tokens: bool,
}

fn parse_level(s: &str) -> Result<log::LevelFilter, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not one of off, error, warn, info, debug, trace"))
}

struct StderrLogger {
    start: Instant,
}

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            eprintln!(
                "[{:>10.3}s {:<5}] {}",
                self.start.elapsed().as_secs_f64(),
                record.level(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

fn main() -> ExitCode {
    let args = Args::parse();
    let logger = Box::leak(Box::new(StderrLogger {
        start: Instant::now(),
    }));
    log::set_logger(logger).expect("first logger");
    log::set_max_level(args.log_level);

    let key = match args.key.choice() {
        Ok(key) => key,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.inactivity_timeout_ms == 0 || args.max_channels == 0 {
        eprintln!("error: --inactivity-timeout-ms and --max-channels must be > 0");
        return ExitCode::from(2);
    }
    if args.require_tokens && !matches!(key, HandshakeKeyChoice::Secret(_)) {
        eprintln!(
            "error: --require-tokens needs a secret --secret-key (tokens are checked with it, \
             and --v08-default-key is public)"
        );
        return ExitCode::from(2);
    }
    if key == HandshakeKeyChoice::V08Default {
        log::warn!(
            "handshakes keyed with the v0.8.2 default key: it is public, so this admits \
             v0.8.2 clients run with their defaults and keeps no one out"
        );
    }
    let secret_key = key.bytes();
    let config = Config {
        bind: SocketAddr::new(args.bind, args.port),
        inactivity_timeout: Duration::from_millis(args.inactivity_timeout_ms),
        secret_key,
        max_channels: args.max_channels,
        limits: Limits {
            handshake_rate_per_source: args.handshake_rate_per_source,
            handshake_burst_per_source: args.handshake_burst_per_source,
            max_pending_per_source: args.max_pending_per_source,
            max_tracked_sources: args.max_tracked_sources,
            channel_bandwidth_bytes_per_sec: args.channel_bandwidth_bytes_per_sec,
        },
        require_tokens: args.require_tokens,
        ..Config::default()
    };
    let mut relay = match Relay::bind(config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "error: cannot listen on {}: {e}",
                SocketAddr::new(args.bind, args.port)
            );
            return ExitCode::FAILURE;
        }
    };
    // Machine-readable first line on stdout, for scripts that start the host on port 0.
    println!("listening on {}", relay.local_addr());

    let stop = Arc::new(AtomicBool::new(false));
    let drain = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        signal_hook::flag::register(SIGINT, Arc::clone(&stop)).expect("SIGINT handler");
        signal_hook::flag::register(SIGTERM, Arc::clone(&drain)).expect("SIGTERM handler");
    }

    let mut event_budget = LogBudget::new(EVENT_LINES_PER_SECOND);
    let stats_every = Duration::from_secs(args.stats_interval_secs);
    let mut next_stats = Instant::now() + stats_every;
    loop {
        if stop.load(Ordering::Relaxed) {
            log::info!("SIGINT: stopping now");
            break;
        }
        if drain.load(Ordering::Relaxed) && !relay.is_draining() {
            log::info!("SIGTERM: draining");
            relay.drain();
        }
        // A signal interrupts the wait, so a short timeout only bounds stats/drain latency.
        if let Err(e) = relay.poll(Duration::from_millis(100)) {
            log::error!("poll failed: {e}");
            return ExitCode::FAILURE;
        }
        let mut drained = false;
        while let Some(event) = relay.next_event() {
            drained |= matches!(event, Event::Drained);
            if event_budget.admit() {
                log_event(&event);
            }
        }
        event_budget.summarise();
        if drained {
            break;
        }
        if !stats_every.is_zero() && Instant::now() >= next_stats {
            next_stats += stats_every;
            log_stats(&relay);
        }
    }
    log_stats(&relay);
    ExitCode::SUCCESS
}

/// Channel-event lines logged per second at most; beyond that (a flood of new channels) one
/// summary line per second says how many were left out, so the log cannot be flooded.
const EVENT_LINES_PER_SECOND: u32 = 50;

struct LogBudget {
    per_second: u32,
    window_start: Instant,
    logged: u32,
    suppressed: u64,
}

impl LogBudget {
    fn new(per_second: u32) -> LogBudget {
        LogBudget {
            per_second,
            window_start: Instant::now(),
            logged: 0,
            suppressed: 0,
        }
    }

    fn admit(&mut self) -> bool {
        if self.logged < self.per_second {
            self.logged += 1;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }

    /// Once a second: reports what was left out and opens a new window.
    fn summarise(&mut self) {
        if self.window_start.elapsed() < Duration::from_secs(1) {
            return;
        }
        if self.suppressed > 0 {
            log::info!(
                "{} more channel events in the last {:.1}s not logged (more than {}/s)",
                self.suppressed,
                self.window_start.elapsed().as_secs_f64(),
                self.per_second
            );
        }
        self.window_start = Instant::now();
        self.logged = 0;
        self.suppressed = 0;
    }
}

/// Logs one event.
fn log_event(event: &Event) {
    match event {
        Event::Allocated { guid, peer_a } => log::info!("channel {guid} allocated by {peer_a}"),
        Event::Established {
            guid,
            peer_a,
            peer_b,
        } => log::info!("channel {guid} established: {peer_a} <-> {peer_b}"),
        Event::Closed {
            guid,
            reason,
            peer_a,
            peer_b,
            counters: c,
            lifetime,
        } => {
            let why = match reason {
                CloseReason::Expired => "idle",
                CloseReason::PeerMoved => "peer moved to another channel",
            };
            let b = peer_b.map_or_else(|| "-".to_string(), |b| b.to_string());
            log::info!(
                "channel {guid} closed ({why}) after {:.1}s: {peer_a} <-> {b}; \
                 a->b {} dgrams/{} B, b->a {} dgrams/{} B, dropped {}",
                lifetime.as_secs_f64(),
                c.datagrams_a_to_b,
                c.bytes_a_to_b,
                c.datagrams_b_to_a,
                c.bytes_b_to_a,
                c.dropped
            );
        }
        Event::Drained => log::info!("drained: all channels closed, exiting"),
    }
}

fn log_stats(relay: &Relay) {
    let s = relay.stats();
    log::info!(
        "stats: channels {} open / {} established / {} total, in {} dgrams {} B, out {} dgrams {} B, \
         dropped {}, handshakes ok {} rejected {} refused {} rate-limited {}, \
         tokens invalid {} expired {} replayed {}, rebinds {}, errors recv {} send {}",
        s.channels_open,
        s.channels_established,
        s.channels_allocated_total,
        s.datagrams_in,
        s.bytes_in,
        s.datagrams_out,
        s.bytes_out,
        s.datagrams_dropped,
        s.handshakes_accepted,
        s.handshakes_rejected,
        s.handshakes_refused,
        s.handshakes_rate_limited,
        s.tokens_invalid,
        s.tokens_expired,
        s.tokens_replayed,
        s.peers_rebound,
        s.recv_errors,
        s.send_errors
    );
}
