//! Command line, repeats, medians, ratios to the baseline, and the table / JSON output.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::{Value, json};

use udp_relay::relay::Config;

use crate::gamerate;
use crate::modes::{self, Figures};
use crate::sys;
use crate::target::{BaselineKind, Kind, Settings, Target};

/// Which comparison forwarders `--compare-baseline` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Baseline {
    /// One recv_from + one send_to per datagram, std HashMaps, full scans for expiry.
    Naive,
    /// The relay's batched I/O with a bare address map: the kernel's floor.
    Batched,
    /// Both, one after the other in every repeat.
    All,
}

#[derive(Parser, Debug)]
#[command(about = "Load generator for udp-relay (Linux, loopback)")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
    /// Also run comparison forwarders and report ratios relay / comparison.
    #[arg(long, global = true)]
    compare_baseline: bool,
    /// Which forwarders `--compare-baseline` runs: the naive one, the relay's own batched
    /// I/O over a bare address map (what the kernel costs without the relay's bookkeeping),
    /// or both. Default: naive, and all for `gamerate`.
    #[arg(long, global = true, value_enum)]
    baseline: Option<Baseline>,
    /// Tick the in-process relay like a game loop: relay_poll without waiting until nothing
    /// is pending, then sleep this many µs (by default it waits in relay_poll for the next
    /// datagram, waking once per datagram at low rates).
    #[arg(long, global = true)]
    tick_us: Option<u64>,
    /// The in-process relay's coalescing window (`Config::coalesce_window`) in µs: after a
    /// poll that found the socket nearly empty, the next one lets datagrams gather this long.
    #[arg(long, global = true, default_value_t = 0)]
    coalesce_us: u64,
    /// Run each measurement this many times and report medians.
    #[arg(long, global = true, default_value_t = 1)]
    repeat: usize,
    /// CPU the in-process relay (or baseline) thread is pinned to.
    #[arg(long, global = true, default_value_t = 0)]
    relay_cpu: usize,
    /// CPU the load generator is pinned to.
    #[arg(long, global = true, default_value_t = 1)]
    load_cpu: usize,
    /// Measure an external relay at this IPv4 address instead of an in-process one.
    #[arg(long, global = true)]
    relay_addr: Option<SocketAddrV4>,
    /// PID of the external relay, for its CPU time and RSS.
    #[arg(long, global = true)]
    relay_pid: Option<u32>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug, Clone)]
enum Mode {
    /// Relayed datagrams/s from peers A to peers B.
    Throughput {
        #[arg(long, default_value_t = 100)]
        pairs: u32,
        /// Payload bytes per datagram.
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// Seconds measured (after 0.3 s of warm-up).
        #[arg(long, default_value_t = 3.0)]
        duration: f64,
        /// Offered datagrams/s; unlimited when absent.
        #[arg(long)]
        rate: Option<f64>,
        /// Datagrams each peer sends back to back (sent as one UDP GSO message when > 1).
        #[arg(long, default_value_t = 1)]
        run: usize,
        /// Receive with UDP_GRO at the peers (by default the kernel cuts a GSO run into
        /// datagrams on its way in, as on a path without GRO).
        #[arg(long)]
        gro: bool,
    },
    /// Round-trip times of timestamped probes echoed by the far peer.
    Latency {
        #[arg(long, default_value_t = 10)]
        pairs: u32,
        /// Probes per second, all pairs together.
        #[arg(long, default_value_t = 10_000.0)]
        rate: f64,
        #[arg(long, default_value_t = 64)]
        size: usize,
        #[arg(long, default_value_t = 3.0)]
        duration: f64,
    },
    /// New channels per second, every one from fresh addresses with a fresh GUID.
    Storm {
        #[arg(long, default_value_t = 3.0)]
        duration: f64,
        /// Offered channels/s; unlimited when absent.
        #[arg(long)]
        rate: Option<f64>,
        /// Handshake key in hex (the relay then verifies every HMAC).
        #[arg(long)]
        key_hex: Option<String>,
    },
    /// Many idle channels expiring while a latency probe runs; RSS before, at peak, after.
    Idle {
        #[arg(long, default_value_t = 100_000)]
        channels: u32,
        #[arg(long, default_value_t = 10)]
        probe_pairs: u32,
        #[arg(long, default_value_t = 10_000.0)]
        rate: f64,
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// Inactivity timeout of the target, so the channels expire during the run (it must
        /// outlast the opening of all channels).
        #[arg(long, default_value_t = 5000)]
        timeout_ms: u64,
    },
    /// Game-rate load, below saturation: every peer sends `--size`-byte datagrams
    /// `--rate-hz` times a second with jitter, both directions. Reports the target thread's
    /// CPU per datagram, CPU %, wake-ups/s and the round trip it adds over a direct path
    /// measured in the same run (how each is computed: `examples/relay_bench/gamerate.rs`).
    Gamerate {
        #[arg(long, default_value_t = 1000)]
        pairs: u32,
        /// Datagrams each peer sends per second.
        #[arg(long, default_value_t = 30.0)]
        rate_hz: f64,
        /// Each send lands up to this percentage of the period before or after its slot
        /// (0 to 50; slots are randomly phased per peer).
        #[arg(long, default_value_t = 20.0)]
        jitter_pct: f64,
        /// Payload bytes per datagram (at least 32).
        #[arg(long, default_value_t = 200)]
        size: usize,
        /// Seconds measured, after the warm-up (at most 600).
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        /// Seconds of load before the measurement starts (at most 60).
        #[arg(long, default_value_t = 0.5)]
        warmup: f64,
        /// Round-trip probes per second on each path (through the target, and direct).
        #[arg(long, default_value_t = 1000.0)]
        probe_hz: f64,
        /// Send what is due every this many µs, in bursts (a timer wheel). 0: send each
        /// datagram at its own time, as independent peers would.
        #[arg(long, default_value_t = 0)]
        gen_tick_us: u64,
    },
}

fn unhex(s: &str) -> Vec<u8> {
    let s = s.trim();
    assert!(
        s.len() % 2 == 0,
        "--key-hex needs an even number of hex digits"
    );
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("--key-hex: not hex"))
        .collect()
}

fn run_once(mode: &Mode, target: &Target) -> Figures {
    let secs = Duration::from_secs_f64;
    match mode.clone() {
        Mode::Throughput {
            pairs,
            size,
            duration,
            rate,
            run,
            gro,
        } => modes::throughput(
            target,
            &modes::ThroughputArgs {
                pairs,
                size: size.max(1),
                run,
                rate,
                duration: secs(duration),
                gro,
            },
        ),
        Mode::Latency {
            pairs,
            rate,
            size,
            duration,
        } => modes::latency(
            target,
            &modes::LatencyArgs {
                pairs,
                rate,
                size,
                duration: secs(duration),
            },
        ),
        Mode::Storm {
            duration,
            rate,
            key_hex,
        } => modes::storm(
            target,
            &modes::StormArgs {
                duration: secs(duration),
                rate,
                key: key_hex.as_deref().map(unhex),
            },
        ),
        Mode::Idle {
            channels,
            probe_pairs,
            rate,
            size,
            timeout_ms,
        } => modes::idle(
            target,
            &modes::IdleArgs {
                channels,
                probe_pairs,
                rate,
                size,
                timeout: Duration::from_millis(timeout_ms),
            },
        ),
        Mode::Gamerate {
            pairs,
            rate_hz,
            jitter_pct,
            size,
            seconds,
            warmup,
            probe_hz,
            gen_tick_us,
        } => gamerate::gamerate(
            target,
            &gamerate::GamerateArgs {
                pairs: pairs.clamp(1, sys::MAX_PEERS / 2),
                rate_hz: rate_hz.clamp(0.1, 10_000.0),
                jitter: jitter_pct.clamp(0.0, 50.0) / 100.0,
                size: size.clamp(gamerate::MIN_SIZE, 65_000),
                duration: secs(seconds.clamp(0.1, 600.0)),
                warmup: secs(warmup.clamp(0.0, 60.0)),
                probe_hz: probe_hz.clamp(0.0, 100_000.0),
                gen_tick: (gen_tick_us > 0)
                    .then(|| Duration::from_micros(gen_tick_us.min(100_000))),
            },
        ),
    }
}

/// The relay under test's Config: the one place the bench sets it, so a new relay setting
/// is its flag on `Cli` plus one line here. The comparison forwarders read their key,
/// timeout and socket buffers from it too.
fn relay_config(cli: &Cli) -> Config {
    let (key, timeout, max_channels) = match &cli.mode {
        Mode::Storm { key_hex, .. } => (
            key_hex.as_deref().map(unhex),
            Duration::from_secs(60),
            8_000_000,
        ),
        Mode::Idle {
            channels,
            probe_pairs,
            timeout_ms,
            ..
        } => (
            None,
            Duration::from_millis(*timeout_ms),
            (*channels + *probe_pairs) as usize + 1024,
        ),
        Mode::Throughput { pairs, .. }
        | Mode::Latency { pairs, .. }
        | Mode::Gamerate { pairs, .. } => (None, Duration::from_secs(30), *pairs as usize + 1024),
    };
    Config {
        bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        inactivity_timeout: timeout,
        secret_key: key,
        max_channels,
        coalesce_window: Duration::from_micros(cli.coalesce_us),
        ..Config::default()
    }
}

fn settings(cli: &Cli) -> Settings {
    Settings {
        relay: relay_config(cli),
        tick: cli.tick_us.map(Duration::from_micros),
        cpu: Some(cli.relay_cpu),
        external: cli.relay_addr,
        external_pid: cli.relay_pid,
    }
}

/// The comparison forwarders of this run, in the order they run after the relay.
fn comparisons(cli: &Cli) -> Vec<BaselineKind> {
    if !cli.compare_baseline {
        return Vec::new();
    }
    let default = match cli.mode {
        Mode::Gamerate { .. } => Baseline::All,
        _ => Baseline::Naive,
    };
    match cli.baseline.unwrap_or(default) {
        Baseline::Naive => vec![BaselineKind::Naive],
        Baseline::Batched => vec![BaselineKind::Batched],
        Baseline::All => vec![BaselineKind::Naive, BaselineKind::Batched],
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| !x.is_nan());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    json!({
        "cpu": cpu,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "kernel": kernel,
    })
}

pub fn main() {
    let cli = Cli::parse();
    if let Err(e) = sys::pin_current_thread(cli.load_cpu) {
        eprintln!(
            "warning: could not pin the load to CPU {}: {e}",
            cli.load_cpu
        );
    }
    let s = settings(&cli);
    let comparisons = comparisons(&cli);
    let mut kinds = vec![if cli.relay_addr.is_some() {
        Kind::External
    } else {
        Kind::Relay
    }];
    kinds.extend(comparisons.iter().map(|&b| Kind::Baseline(b)));
    // A single comparison keeps the name "baseline" (as in earlier reports); with both, each
    // goes by its own name.
    let label = |kind: Kind| match kind {
        Kind::Baseline(_) if comparisons.len() == 1 => "baseline",
        _ => kind.name(),
    };
    // runs[label][repeat] -> figures
    let mut runs: BTreeMap<&str, Vec<Figures>> = BTreeMap::new();
    for r in 0..cli.repeat.max(1) {
        // Alternate the order so drift on the shared machine does not favour one side.
        let mut order = kinds.clone();
        if r % 2 == 1 {
            order.reverse();
        }
        for kind in order {
            let target = Target::start(kind, &s).unwrap_or_else(|e| {
                eprintln!("cannot start the {}: {e}", kind.name());
                std::process::exit(1)
            });
            let figures = run_once(&cli.mode, &target);
            drop(target);
            if !cli.json {
                eprintln!("run {} {}: {}", r + 1, label(kind), compact(&figures));
            }
            runs.entry(label(kind)).or_default().push(figures);
        }
    }
    let labels: Vec<&str> = kinds.iter().map(|&k| label(k)).collect();
    let first = labels[0];
    let keys: Vec<String> = runs[first][0].keys().cloned().collect();
    let mut medians: BTreeMap<&str, BTreeMap<String, f64>> = BTreeMap::new();
    for (name, rs) in &runs {
        let m = keys
            .iter()
            .map(|k| {
                let v = rs.iter().filter_map(|f| f.get(k).copied()).collect();
                (k.clone(), median(v))
            })
            .collect();
        medians.insert(name, m);
    }
    // Ratio relay / comparison per repeat (same run, same machine state), then the median.
    let mut ratios: Vec<(&str, BTreeMap<String, f64>)> = Vec::new();
    for &name in &labels[1..] {
        let base = &runs[name];
        let r = keys
            .iter()
            .map(|k| {
                let v = runs[first]
                    .iter()
                    .zip(base)
                    .filter_map(|(a, b)| Some(a.get(k)? / b.get(k)?))
                    .filter(|x| x.is_finite())
                    .collect();
                (k.clone(), median(v))
            })
            .collect();
        ratios.push((name, r));
    }
    if cli.json {
        let mut out = json!({
            "mode": format!("{:?}", cli.mode),
            "repeat": cli.repeat.max(1),
            "machine": machine(),
            "relay_cpu": cli.relay_cpu,
            "load_cpu": cli.load_cpu,
            "median": medians,
            "baseline": match comparisons.as_slice() {
                [one] => format!("{one:?}"),
                [] => "None".to_string(),
                _ => "All".to_string(),
            },
            "runs": runs,
        });
        for (name, r) in &ratios {
            out[format!("ratio_to_{name}")] = json!(r);
        }
        println!("{}", serde_json::to_string_pretty(&out).expect("json"));
        return;
    }
    println!(
        "{:?}  (medians of {} runs{})",
        cli.mode,
        cli.repeat.max(1),
        if comparisons.is_empty() {
            String::new()
        } else {
            format!(", compared with: {comparisons:?}")
        }
    );
    print!("{:<36}", "figure");
    for name in &labels {
        print!("{name:>16}");
    }
    for (name, _) in &ratios {
        print!("{:>16}", format!("relay/{name}"));
    }
    println!();
    for k in &keys {
        print!("{k:<36}");
        for name in &labels {
            print!("{:>16}", fmt(medians[name][k]));
        }
        for (_, r) in &ratios {
            let ratio = r[k];
            let shown = if ratio.is_nan() {
                "-".to_string()
            } else {
                format!("{ratio:.2}x")
            };
            print!("{shown:>16}");
        }
        println!();
    }
}

fn fmt(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x.abs() >= 1000.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

fn compact(f: &Figures) -> String {
    f.iter()
        .map(|(k, v)| format!("{k}={}", fmt(*v)))
        .collect::<Vec<_>>()
        .join(" ")
}
