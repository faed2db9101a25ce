//! Command line, repeats, medians, ratios to the baseline, and the table / JSON output.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::{Value, json};

use crate::modes::{self, Figures};
use crate::sys;
use crate::target::{BaselineKind, Kind, Settings, Target};

#[derive(Parser, Debug)]
#[command(about = "Load generator for udp-relay (Linux, loopback)")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
    /// Also run the naive baseline forwarder and report ratios relay / baseline.
    #[arg(long, global = true)]
    compare_baseline: bool,
    /// Which forwarder `--compare-baseline` runs: the naive one, or the relay's own batched
    /// I/O over a bare address map (what the kernel costs without the relay's bookkeeping).
    #[arg(long, global = true, value_enum, default_value = "naive")]
    baseline: BaselineKind,
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
    }
}

fn settings(cli: &Cli) -> Settings {
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
        Mode::Throughput { pairs, .. } => (None, Duration::from_secs(30), *pairs as usize + 1024),
        Mode::Latency { pairs, .. } => (None, Duration::from_secs(30), *pairs as usize + 1024),
    };
    Settings {
        baseline: cli.baseline,
        tick: cli.tick_us.map(Duration::from_micros),
        coalesce: Duration::from_micros(cli.coalesce_us),
        key,
        timeout,
        max_channels,
        cpu: Some(cli.relay_cpu),
        external: cli.relay_addr,
        external_pid: cli.relay_pid,
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
    let mut kinds = vec![if cli.relay_addr.is_some() {
        Kind::External
    } else {
        Kind::Relay
    }];
    if cli.compare_baseline {
        kinds.push(Kind::Baseline);
    }
    // runs[kind][repeat] -> figures
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
                eprintln!("run {} {}: {}", r + 1, kind.name(), compact(&figures));
            }
            runs.entry(kind.name()).or_default().push(figures);
        }
    }
    let first = kinds[0].name();
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
    // Ratio relay / baseline per repeat (same run, same machine state), then the median.
    let mut ratios: BTreeMap<String, f64> = BTreeMap::new();
    if let Some(base) = runs.get("baseline") {
        for k in &keys {
            let v = runs[first]
                .iter()
                .zip(base)
                .filter_map(|(a, b)| Some(a.get(k)? / b.get(k)?))
                .filter(|x| x.is_finite())
                .collect();
            ratios.insert(k.clone(), median(v));
        }
    }
    if cli.json {
        let out = json!({
            "mode": format!("{:?}", cli.mode),
            "repeat": cli.repeat.max(1),
            "machine": machine(),
            "relay_cpu": cli.relay_cpu,
            "load_cpu": cli.load_cpu,
            "median": medians,
            "baseline": format!("{:?}", cli.baseline),
            "ratio_to_baseline": ratios,
            "runs": runs,
        });
        println!("{}", serde_json::to_string_pretty(&out).expect("json"));
        return;
    }
    println!(
        "{:?}  (medians of {} runs{})",
        cli.mode,
        cli.repeat.max(1),
        if cli.compare_baseline {
            format!(", baseline: {:?}", cli.baseline)
        } else {
            String::new()
        }
    );
    print!("{:<32}", "figure");
    for name in medians.keys() {
        print!("{name:>16}");
    }
    if !ratios.is_empty() {
        print!("{:>16}", "ratio");
    }
    println!();
    for k in &keys {
        print!("{k:<32}");
        for m in medians.values() {
            print!("{:>16}", fmt(m[k]));
        }
        if let Some(r) = ratios.get(k) {
            print!("{:>16}", format!("{r:.2}x"));
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
