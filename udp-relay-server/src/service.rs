//! The relay service: the library's relay loop behind the command line, with the admin
//! endpoint, signals, a bounded drain, limit warnings and stats lines.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use udp_relay::admission::Limits;
use udp_relay::relay::{Config, Event, Relay};

use crate::cli::RelayArgs;
use crate::events::{self, LogBudget};
use crate::key::HandshakeKeyChoice;
use crate::lifetimes::LifetimeHistogram;
use crate::limits::LimitWatch;
use crate::socket_drops::SocketDrops;
use crate::state::{Shared, Snapshot};
use crate::{admin, logger, signals, stats_line};

/// Exit status for a bad command line, configuration or key.
pub const EXIT_USAGE: u8 = 2;
/// Exit status for a failure at run time (cannot listen, the socket failed).
pub const EXIT_FAILURE: u8 = 1;

/// The longest the loop waits for traffic: bounds how late it sees a signal, a drain
/// deadline or a due stats line, and keeps `/live` fresh.
const TICK: Duration = Duration::from_millis(100);

fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("udp-relay: error: {message}");
    ExitCode::from(EXIT_USAGE)
}

fn failure(message: impl std::fmt::Display) -> ExitCode {
    log::error!("{message}");
    ExitCode::from(EXIT_FAILURE)
}

/// Runs the relay until it is stopped; returns the process's exit status.
pub fn run(args: RelayArgs) -> ExitCode {
    let (filter, from) = args.log_filter();
    if let Err(e) = logger::init(&filter, args.log_format) {
        return usage_error(format_args!("{from}: {e}"));
    }
    let config = match config(&args) {
        Ok(config) => config,
        Err(message) => return usage_error(message),
    };
    let admin = match args.admin_addr.map(admin::bind).transpose() {
        Ok(admin) => admin,
        Err(e) => {
            let addr = args.admin_addr.expect("bound only when given");
            return failure(format_args!("cannot listen on admin address {addr}: {e}"));
        }
    };
    let bind = config.bind;
    let mut relay = match Relay::bind(config) {
        Ok(relay) => relay,
        Err(e) => return failure(format_args!("cannot listen on {bind}: {e}")),
    };
    let shared = Arc::new(Shared::default());
    // Machine-readable first lines on stdout, for scripts that start the relay on port 0.
    println!("listening on {}", relay.local_addr());
    if let Err(e) = signals::listen(Arc::clone(&shared)) {
        return failure(format_args!("cannot handle signals: {e}"));
    }
    match SocketDrops::find(relay.local_addr()) {
        Some(drops) => {
            if let Err(e) = drops.watch(Arc::clone(&shared.socket_drops)) {
                log::warn!("socket drops will not be counted: {e}");
            }
        }
        None => log::info!("socket drops are not counted here (no /proc/net/udp entry)"),
    }
    let relay_loop = RelayLoop::new(&args, Arc::clone(&shared));
    // The endpoint answers from its first request with the loop's state: live, bound, and a
    // snapshot that tells the channel cap.
    relay_loop.publish(&relay);
    shared.tick();
    shared.set_bound();
    if let Some(listener) = admin {
        let addr = listener
            .local_addr()
            .map_or_else(|_| "?".into(), |a| a.to_string());
        if let Err(e) = admin::serve(listener, Arc::clone(&shared)) {
            return failure(format_args!("cannot start the admin endpoint: {e}"));
        }
        println!("admin listening on {addr}");
        log::info!("admin endpoint on http://{addr} (/live, /ready, /metrics)");
    }
    relay_loop.run(&mut relay)
}

/// The relay's configuration from the flags, or what is wrong with them.
fn config(args: &RelayArgs) -> Result<Config, String> {
    let key = args.key.choice().map_err(|e| e.to_string())?;
    if args.require_tokens && key == HandshakeKeyChoice::V08Default {
        return Err(
            "--require-tokens needs a secret key (tokens are checked with it, \
                    and --v08-default-key is public)"
                .into(),
        );
    }
    if key == HandshakeKeyChoice::V08Default {
        log::warn!(
            "handshakes keyed with the v0.8.2 default key: it is public, so this admits \
             v0.8.2 clients run with their defaults and keeps no one out"
        );
    }
    let config = Config {
        bind: SocketAddr::new(args.bind, args.port),
        inactivity_timeout: Duration::from_millis(args.inactivity_timeout_ms),
        secret_key: key.bytes(),
        max_channels: args.max_channels,
        recv_buffer_bytes: args.recv_buffer_bytes,
        send_buffer_bytes: args.send_buffer_bytes,
        limits: Limits {
            handshake_rate_per_source: args.handshake_rate_per_source,
            handshake_burst_per_source: args.handshake_burst_per_source,
            max_pending_per_source: args.max_pending_per_source,
            max_tracked_sources: args.max_tracked_sources,
            channel_bandwidth_bytes_per_sec: args.channel_bandwidth_bytes_per_sec,
        },
        require_tokens: args.require_tokens,
        require_return_path: args.require_return_path,
        coalesce_window: Duration::from_micros(args.coalesce_us),
        ..Config::default()
    };
    // The library owns the ranges; each flag has the name of the field it sets.
    config
        .validate()
        .map_err(|e| format!("invalid configuration: {e}"))?;
    Ok(config)
}

/// How the loop ended.
enum Stop {
    Drained,
    DrainTimeout,
    Interrupted(&'static str),
}

struct RelayLoop {
    shared: Arc<Shared>,
    started: Instant,
    drain_timeout: Duration,
    drain_deadline: Option<Instant>,
    stats_every: Duration,
    next_stats: Option<Instant>,
    event_budget: LogBudget,
    lifetimes: LifetimeHistogram,
    limits: Option<LimitWatch>,
}

impl RelayLoop {
    fn new(args: &RelayArgs, shared: Arc<Shared>) -> RelayLoop {
        let started = Instant::now();
        let stats_every = Duration::from_secs(args.stats_interval_secs);
        RelayLoop {
            shared,
            started,
            drain_timeout: args.drain_timeout,
            drain_deadline: None,
            stats_every,
            // An interval too long for the clock means never, like 0.
            next_stats: (!stats_every.is_zero())
                .then(|| started.checked_add(stats_every))
                .flatten(),
            event_budget: LogBudget::new(events::EVENT_LINES_PER_SECOND),
            lifetimes: LifetimeHistogram::default(),
            limits: None,
        }
    }

    fn run(mut self, relay: &mut Relay) -> ExitCode {
        let stop = loop {
            self.shared.tick();
            if let Some(stop) = self.handle_signals(relay) {
                break stop;
            }
            if let Err(e) = relay.poll(TICK) {
                self.log_stats(relay);
                return failure(format_args!("the relay's socket failed: {e}"));
            }
            let mut drained = false;
            while let Some(event) = relay.next_event() {
                drained |= matches!(event, Event::Drained);
                if let Event::Closed { lifetime, .. } = event {
                    self.lifetimes.observe(lifetime);
                }
                if self.event_budget.admit() {
                    events::log_event(&event);
                }
            }
            self.event_budget.summarise();
            self.publish(relay);
            if drained {
                break Stop::Drained;
            }
            let now = Instant::now();
            if self.drain_deadline.is_some_and(|deadline| now >= deadline) {
                break Stop::DrainTimeout;
            }
            self.watch_limits(relay, now);
            if self.next_stats.is_some_and(|due| now >= due) {
                self.next_stats = self
                    .next_stats
                    .and_then(|due| due.checked_add(self.stats_every));
                self.log_stats(relay);
            }
        };
        match stop {
            Stop::Drained => log::info!("stopping: drained, no channel left open"),
            Stop::DrainTimeout => log::warn!(
                "stopping: drain timeout ({:.1}s) reached with {} channels still open",
                self.drain_timeout.as_secs_f64(),
                relay.stats().channels_open
            ),
            Stop::Interrupted(why) => log::info!(
                "{why}: stopping now with {} channels open",
                relay.stats().channels_open
            ),
        }
        self.publish(relay);
        self.log_stats(relay);
        ExitCode::SUCCESS
    }

    /// Starts draining at the first SIGTERM; a second SIGTERM or a SIGINT stops the loop.
    fn handle_signals(&mut self, relay: &mut Relay) -> Option<Stop> {
        if self.shared.sigint.load(Ordering::SeqCst) {
            return Some(Stop::Interrupted("SIGINT"));
        }
        match self.shared.sigterms.load(Ordering::SeqCst) {
            0 => None,
            1 => {
                if !relay.is_draining() {
                    log::info!(
                        "SIGTERM: draining (new channels refused) for at most {:.1}s; \
                         a second SIGTERM or a SIGINT stops at once",
                        self.drain_timeout.as_secs_f64()
                    );
                    self.drain_deadline = Some(Instant::now() + self.drain_timeout);
                    relay.drain();
                }
                None
            }
            _ => Some(Stop::Interrupted("second SIGTERM")),
        }
    }

    fn publish(&self, relay: &Relay) {
        self.shared.try_publish(&Snapshot {
            stats: relay.stats(),
            draining: relay.is_draining(),
            max_channels: relay.config().max_channels as u64,
            lifetimes: self.lifetimes,
        });
    }

    fn watch_limits(&mut self, relay: &Relay, now: Instant) {
        let stats = relay.stats();
        let drops = self.shared.socket_drops();
        match &mut self.limits {
            Some(watch) => drop(watch.check(&stats, drops, now)),
            None => self.limits = Some(LimitWatch::new(&stats, drops, now)),
        }
    }

    fn log_stats(&self, relay: &Relay) {
        stats_line::log(&stats_line::fields(
            &relay.stats(),
            self.shared.socket_drops(),
            relay.is_draining(),
            self.started.elapsed(),
        ));
    }
}
