//! The relay service: one or more workers (each the library's relay loop on a port of its
//! own, see [`crate::worker`]) behind the command line, with the admin endpoint, signals, a
//! bounded drain, limit warnings and stats lines.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use udp_relay::admission::Limits;
use udp_relay::relay::{Config, Relay};

use crate::cli::{RelayArgs, Workers};
use crate::key::HandshakeKeyChoice;
use crate::state::Shared;
use crate::worker::{LoopSettings, Stop, Worker};
use crate::{admin, affinity, agones, logger, relay_id, signals, socket_drops, worker};

/// Exit status for a bad command line, configuration or key.
pub const EXIT_USAGE: u8 = 2;
/// Exit status for a failure at run time (cannot listen, the socket failed).
pub const EXIT_FAILURE: u8 = 1;

/// How long the Agones Shutdown call may be retried after the drain.
const AGONES_SHUTDOWN_WITHIN: Duration = Duration::from_secs(3);

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
    log_panics();
    let config = match config(&args) {
        Ok(config) => config,
        Err(message) => return usage_error(message),
    };
    let ports = match args.worker_ports(affinity::cpus_available()) {
        Ok(ports) => ports,
        Err(message) => return usage_error(message),
    };
    if args.agones && (ports.len() > 1 || args.workers == Some(Workers::Auto)) {
        return usage_error(
            "--agones runs one worker: Agones counts, health-checks and shuts down a \
             GameServer as one relay, so run one GameServer per CPU (a Fleet) instead of \
             --workers",
        );
    }
    let sdk = match args.agones.then(agones::Sdk::from_env).transpose() {
        Ok(sdk) => sdk,
        Err(message) => return usage_error(message),
    };
    let admin = match args.admin_addr.map(admin::bind).transpose() {
        Ok(admin) => admin,
        Err(e) => {
            let addr = args.admin_addr.expect("bound only when given");
            return failure(format_args!("cannot listen on admin address {addr}: {e}"));
        }
    };
    let mut relays = Vec::with_capacity(ports.len());
    for (index, &port) in ports.iter().enumerate() {
        let bind = SocketAddr::new(config.bind.ip(), port);
        let Some(relay_id) = worker::relay_id_for(config.relay_id, index) else {
            return usage_error(format!(
                "--relay-id {} with {} workers: worker {index}'s relay id would pass {}",
                config.relay_id,
                ports.len(),
                u32::MAX
            ));
        };
        match Relay::bind(Config {
            bind,
            relay_id,
            ..config.clone()
        }) {
            Ok(relay) => relays.push(relay),
            Err(e) => return failure(format_args!("cannot listen on {bind}: {e}")),
        }
    }
    let shared = Arc::new(Shared::new(relays.len(), args.debug_fault_injection));
    // Machine-readable first lines on stdout, one per worker, for scripts that start the
    // relay on port 0.
    for relay in &relays {
        println!("listening on {}", relay.local_addr());
    }
    if let Err(e) = signals::listen(Arc::clone(&shared)) {
        return failure(format_args!("cannot handle signals: {e}"));
    }
    let mut counted = false;
    for (relay, state) in relays.iter().zip(&shared.workers) {
        counted |= socket_drops::attach(state, relay.local_addr());
    }
    if !counted {
        log::info!("socket drops are not counted here (no /proc/net/udp entry)");
    } else if let Err(e) = socket_drops::watch(Arc::clone(&shared)) {
        log::warn!("socket drops will not be counted: {e}");
    }
    let cpus = affinity::plan(relays.len(), !args.no_cpu_pinning);
    let workers: Vec<Worker> = relays
        .into_iter()
        .zip(&shared.workers)
        .zip(cpus)
        .map(|((relay, state), cpu)| Worker {
            state: Arc::clone(state),
            relay,
            cpu,
        })
        .collect();
    for worker in &workers {
        worker.publish_bound();
    }
    if workers.len() > 1 {
        let ports: Vec<String> = workers
            .iter()
            .map(|w| w.relay.local_addr().port().to_string())
            .collect();
        log::info!(
            "{} workers, each a relay of its own, on UDP ports {}",
            workers.len(),
            ports.join(", ")
        );
    }
    if config.relay_id != 0 {
        let ids: Vec<String> = workers
            .iter()
            .map(|w| w.relay.config().relay_id.to_string())
            .collect();
        log::info!(
            "relay id {} (what its relay-bound tokens name)",
            ids.join(", ")
        );
    }
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
    if shared.fault_injection {
        log::warn!(
            "--debug-fault-injection: the admin endpoint can stall and crash workers \
             (POST /debug/workers/N/...); for tests only, never in production"
        );
    }
    if let Some(sdk) = sdk {
        log::info!("Agones: reporting to the SDK at http://{}", sdk.addr());
    }
    // Ready goes out only now that every socket is bound and published.
    let reporter = match sdk
        .map(|sdk| agones::start(sdk, Arc::clone(&shared), config.relay_id))
        .transpose()
    {
        Ok(reporter) => reporter,
        Err(e) => return failure(format_args!("cannot start the Agones reporter: {e}")),
    };
    let settings = LoopSettings {
        drain_timeout: args.drain_timeout,
        stats_every: Duration::from_secs(args.stats_interval_secs),
        name_worker: workers.len() > 1,
    };
    let mut threads = Vec::with_capacity(workers.len());
    for worker in workers {
        let index = worker.state.index;
        match worker.spawn(Arc::clone(&shared), settings) {
            Ok(thread) => threads.push(thread),
            Err(e) => {
                log::error!("cannot start worker {index}: {e}");
                shared.failed.store(true, Ordering::SeqCst);
                break;
            }
        }
    }
    let mut failed = shared.failed.load(Ordering::SeqCst);
    for thread in threads {
        // The worker catches its loop's panics; one outside the loop ends the service.
        let stop = thread.join().unwrap_or(Stop::Failed);
        if stop == Stop::Failed {
            shared.failed.store(true, Ordering::SeqCst);
            failed = true;
        }
    }
    if failed {
        // Agones sees the container fail and marks the GameServer Unhealthy.
        return ExitCode::from(EXIT_FAILURE);
    }
    if let Some(reporter) = reporter {
        reporter.shutdown(AGONES_SHUTDOWN_WITHIN);
    }
    ExitCode::SUCCESS
}

/// Panics are logged as one record (with a backtrace when `RUST_BACKTRACE` asks for one)
/// in the service's log format instead of the standard library's stderr text; a worker's
/// panic is then caught and the worker restarted (see [`crate::worker`]).
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("unnamed");
        let location = info
            .location()
            .map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
        let backtrace = std::backtrace::Backtrace::capture();
        let backtrace = match backtrace.status() {
            std::backtrace::BacktraceStatus::Captured => format!("\n{backtrace}"),
            _ => String::new(),
        };
        log::error!(
            target: "udp_relay_server::panic",
            "thread {name} panicked{location}: {}{backtrace}",
            crate::worker::panic_message(info.payload())
        );
    }));
}

/// The relay's configuration from the flags, or what is wrong with them.
fn config(args: &RelayArgs) -> Result<Config, String> {
    let key = args.key.choice().map_err(|e| e.to_string())?;
    let previous = args.rotation.previous_key().map_err(|e| e.to_string())?;
    for (flag, set) in [
        ("--require-tokens", args.require_tokens),
        ("--require-token-v2", args.require_token_v2),
    ] {
        if set && key == HandshakeKeyChoice::V08Default {
            return Err(format!(
                "{flag} needs a secret key (tokens are checked with it, and \
                 --v08-default-key is public)"
            ));
        }
    }
    if key == HandshakeKeyChoice::V08Default {
        log::warn!(
            "handshakes keyed with the v0.8.2 default key: it is public, so this admits \
             v0.8.2 clients run with their defaults and keeps no one out"
        );
    }
    let config = Config {
        bind: SocketAddr::new(args.bind, args.port.0[0]),
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
        relay_id: args
            .relay_id_from_name
            .as_deref()
            .map_or(args.relay_id, relay_id::from_name),
        key_id: args.rotation.key_id,
        previous_key_id: previous.as_ref().map_or(0, |(_, id)| *id),
        previous_secret_key: previous.map(|(key, _)| key),
        require_token_v2: args.require_token_v2,
        coalesce_window: Duration::from_micros(args.coalesce_us),
        ..Config::default()
    };
    // The library owns the ranges; each flag has the name of the field it sets.
    config
        .validate()
        .map_err(|e| format!("invalid configuration: {e}"))?;
    Ok(config)
}
