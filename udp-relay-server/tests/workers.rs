//! `--workers N`: N single-threaded relays in one service, each on its own UDP port and
//! pinned to a CPU of its own when there are enough; `/metrics` by worker, `/ready` for all
//! of them (naming the one that is not), UDP probes answered by each worker with its own
//! state, a drain per worker; a worker made to panic (`--debug-fault-injection`) is
//! restarted alone, on its port, while the others keep relaying; a worker made to stall
//! turns `/live` 503 naming it. Settings that cannot work are refused with exit status 2.
#![cfg(unix)]

mod support;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use support::{Service, command, exchange, last_stats_of};
use udp_relay::protocol::Guid;

/// A datagram from `from` reaches `to` through the relay at `relay`.
fn relays(relay: SocketAddr, from: &UdpSocket, to: &UdpSocket, payload: &[u8]) -> bool {
    from.send_to(payload, relay).unwrap();
    let mut buf = [0u8; 256];
    matches!(to.recv_from(&mut buf), Ok((n, _)) if &buf[..n] == payload)
}

fn field(stats: &[(String, u64)], name: &str) -> u64 {
    stats.iter().find(|(k, _)| k == name).unwrap().1
}

#[test]
fn each_worker_relays_on_its_own_port_and_metrics_name_it() {
    let mut relay = Service::start(&["--workers", "3", "--inactivity-timeout-ms", "60000"]);
    assert_eq!(relay.addrs.len(), 3, "{:?}", relay.addrs);
    let mut ports: Vec<u16> = relay.addrs.iter().map(SocketAddr::port).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 3, "one port per worker: {:?}", relay.addrs);
    // One channel on each worker, and a second one on worker 2.
    let mut pairs = Vec::new();
    for (i, &addr) in relay.addrs.iter().enumerate() {
        pairs.push(exchange(addr, Guid(0x100 + i as u128), None));
    }
    pairs.push(exchange(relay.addrs[2], Guid(0x200), None));
    // A worker knows only its own channels: the same GUID on another worker is a new one.
    let (a, b) = &pairs[0];
    assert!(relays(relay.addrs[0], a, b, b"on worker 0"));
    assert_eq!(relay.get("/ready"), (200, "ready\n".into()));
    assert_eq!(relay.get("/live"), (200, "live\n".into()));
    let established = |w: usize| {
        relay
            .metric(&format!(
                "udp_relay_channels{{state=\"established\",worker=\"{w}\"}}"
            ))
            .unwrap_or_else(|| panic!("no channels metric for worker {w}"))
    };
    let end = std::time::Instant::now() + Duration::from_secs(2);
    while established(2) < 2.0 {
        assert!(std::time::Instant::now() < end, "worker 2's channels");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        [established(0), established(1), established(2)],
        [1.0, 1.0, 2.0]
    );
    for w in 0..3 {
        assert_eq!(
            relay.metric(&format!(
                "udp_relay_worker_restarts_total{{worker=\"{w}\"}}"
            )),
            Some(0.0)
        );
    }
    assert_eq!(
        relay.metric("udp_relay_channels{state=\"established\"}"),
        None
    );
    relay.signal("-INT");
    assert!(relay.wait_exit(Duration::from_secs(3)).success());
    // A stats line per worker, each with its own counters.
    let log = relay.log();
    for (w, open) in [(0, 1), (1, 1), (2, 2)] {
        let stats = last_stats_of(&log, w);
        assert_eq!(field(&stats, "channels_open"), open, "worker {w}");
    }
    assert!(
        log.contains("3 workers, each a relay of its own, on UDP ports"),
        "{log}"
    );
    // Channel events name their worker.
    assert!(
        log.lines().any(
            |l| l.contains("channel 00000000-0000-0000-0000-000000000200 established")
                && l.ends_with(" worker=2")
        ),
        "{log}"
    );
}

/// Two free UDP ports on 127.0.0.1, `n` apart when `consecutive`.
fn free_ports(consecutive: bool) -> (u16, u16) {
    for _ in 0..50 {
        let first = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = first.local_addr().unwrap().port();
        let second = if consecutive {
            match port
                .checked_add(1)
                .map(|p| UdpSocket::bind(("127.0.0.1", p)))
            {
                Some(Ok(s)) => s,
                _ => continue,
            }
        } else {
            UdpSocket::bind("127.0.0.1:0").unwrap()
        };
        return (port, second.local_addr().unwrap().port());
    }
    panic!("no two free ports");
}

#[test]
fn ports_follow_the_first_or_the_list() {
    let (first, next) = free_ports(true);
    let relay = Service::start_with_exactly(&[
        "--bind",
        "127.0.0.1",
        "--port",
        &first.to_string(),
        "--workers",
        "2",
        "--admin-addr",
        "127.0.0.1:0",
    ]);
    let ports: Vec<u16> = relay.addrs.iter().map(SocketAddr::port).collect();
    assert_eq!(ports, [first, next]);
    exchange(relay.addrs[1], Guid(0x11), None);
    drop(relay);
    let (a, b) = free_ports(false);
    let relay = Service::start_with_exactly(&[
        "--bind",
        "127.0.0.1",
        "--port",
        &format!("{b},{a}"),
        "--admin-addr",
        "127.0.0.1:0",
    ]);
    let ports: Vec<u16> = relay.addrs.iter().map(SocketAddr::port).collect();
    assert_eq!(ports, [b, a], "a list gives one worker per port, in order");
    exchange(relay.addrs[1], Guid(0x12), None);
}

#[test]
fn a_worker_that_panics_is_restarted_alone() {
    let relay = Service::start(&[
        "--workers",
        "2",
        "--inactivity-timeout-ms",
        "60000",
        "--debug-fault-injection",
    ]);
    let (a0, b0) = exchange(relay.addrs[0], Guid(0xA0), None);
    let (a1, b1) = exchange(relay.addrs[1], Guid(0xA1), None);
    assert_eq!(relay.post("/debug/workers/1/panic").0, 200);
    relay.wait_for_log("worker 1: listening again on", Duration::from_secs(5));
    assert_eq!(
        relay.metric("udp_relay_worker_restarts_total{worker=\"1\"}"),
        Some(1.0)
    );
    assert_eq!(
        relay.metric("udp_relay_worker_restarts_total{worker=\"0\"}"),
        Some(0.0)
    );
    // Worker 0 kept its channel and relays on.
    for i in 0..5u8 {
        assert!(
            relays(relay.addrs[0], &a0, &b0, &[b'x', i]),
            "worker 0, {i}"
        );
        assert!(
            relays(relay.addrs[0], &b0, &a0, &[b'y', i]),
            "worker 0, {i}"
        );
    }
    // Worker 1 lost its channel (its table is new) but serves its port again.
    for socket in [&a1, &b1] {
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
    }
    assert!(!relays(relay.addrs[1], &a1, &b1, b"lost"));
    exchange(relay.addrs[1], Guid(0xA2), None);
    relay.wait_for_status("/ready", 200, Duration::from_secs(2));
    assert_eq!(relay.get("/live").0, 200);
    let log = relay.log();
    assert!(
        log.contains("ERROR udp_relay_server::panic: thread relay-1 panicked")
            && log.contains(
                "worker 1: panicked (worker 1: panic injected through the admin endpoint); \
                 starting it again alone, its 1 channels lost (restart 1)"
            ),
        "{log}"
    );
    // The relay's counters of worker 1 start again from its restart.
    assert_eq!(
        relay.metric("udp_relay_channels_opened_total{worker=\"1\"}"),
        Some(1.0)
    );
}

#[test]
fn a_stalled_worker_turns_live_503_while_the_others_relay() {
    let relay = Service::start(&["--workers", "2", "--debug-fault-injection"]);
    let (a0, b0) = exchange(relay.addrs[0], Guid(0xB0), None);
    assert_eq!(relay.post("/debug/workers/1/stall").0, 200);
    let body = relay.wait_for_status("/live", 503, Duration::from_secs(3));
    assert_eq!(
        body,
        "stalled: worker 1's relay loop has not run for over 1 s\n"
    );
    assert!(relays(relay.addrs[0], &a0, &b0, b"worker 0 runs"));
    assert_eq!(relay.post("/debug/workers/1/resume").0, 200);
    relay.wait_for_status("/live", 200, Duration::from_secs(2));
    exchange(relay.addrs[1], Guid(0xB1), None);
    // Unknown workers and actions, and other methods.
    assert_eq!(relay.post("/debug/workers/2/stall").0, 404);
    assert_eq!(relay.post("/debug/workers/0/explode").0, 404);
    assert_eq!(relay.get("/debug/workers/0/stall").0, 405);
    // Without the option the routes do not exist.
    let plain = Service::start(&[]);
    assert_eq!(plain.post("/debug/workers/0/panic").0, 404);
    assert_eq!(plain.get("/live").0, 200);
}

#[test]
fn each_worker_answers_probes_with_its_own_state_and_ready_names_the_full_one() {
    let relay = Service::start(&["--workers", "2", "--max-channels", "1"]);
    let _pair = exchange(relay.addrs[1], Guid(0xE1), None);
    let body = relay.wait_for_status("/ready", 503, Duration::from_secs(2));
    assert_eq!(body, "worker 1: full\n");
    let probe = |addr: SocketAddr| {
        command(&["health", "--udp", &addr.to_string(), "--ready"])
            .output()
            .unwrap()
    };
    let full = probe(relay.addrs[1]);
    assert_eq!(full.status.code(), Some(1), "{full:?}");
    assert!(
        String::from_utf8_lossy(&full.stderr).contains("Full"),
        "{full:?}"
    );
    let accepting = probe(relay.addrs[0]);
    assert_eq!(accepting.status.code(), Some(0), "{accepting:?}");
    assert!(
        String::from_utf8_lossy(&accepting.stderr).contains("Accepting"),
        "{accepting:?}"
    );
    // Series by worker, and no label that names a player, a GUID or an address.
    let (_, metrics) = relay.get("/metrics");
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        let Some((_, labels)) = line.split_once('{') else {
            panic!("a series without labels: {line}");
        };
        let labels = labels.split_once('}').unwrap().0;
        for pair in labels.split(',') {
            let name = pair.split_once('=').unwrap().0;
            assert!(
                ["worker", "reason", "state", "op", "le", "version"].contains(&name),
                "{line}"
            );
        }
    }
}

#[test]
fn sigterm_drains_each_worker() {
    let mut relay = Service::start(&["--workers", "2", "--inactivity-timeout-ms", "500"]);
    exchange(relay.addrs[0], Guid(0xC0), None);
    exchange(relay.addrs[1], Guid(0xC1), None);
    relay.signal("-TERM");
    // The signal is handled on a thread of its own: /ready turns as soon as it has been.
    assert_eq!(
        relay.wait_for_status("/ready", 503, Duration::from_secs(2)),
        "draining\n"
    );
    assert!(relay.wait_exit(Duration::from_secs(5)).success());
    let log = relay.log();
    for w in 0..2 {
        for needle in [
            format!("worker {w}: SIGTERM: draining"),
            format!("worker {w}: stopping: drained, no channel left open"),
        ] {
            assert!(log.contains(&needle), "{needle:?} in:\n{log}");
        }
        let stats = last_stats_of(&log, w);
        assert_eq!(field(&stats, "draining"), 1);
        assert_eq!(field(&stats, "channels_expired_total"), 1);
    }
}

/// The CPUs a thread of `pid` named `name` may run on, from /proc.
fn thread_cpus(pid: u32, name: &str) -> Option<String> {
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let dir = task.ok()?.path();
        if std::fs::read_to_string(dir.join("comm")).ok()?.trim() == name {
            let status = std::fs::read_to_string(dir.join("status")).ok()?;
            return status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|cpus| cpus.trim().to_owned());
        }
    }
    None
}

#[cfg(target_os = "linux")]
#[test]
fn workers_are_pinned_to_cpus_of_their_own_when_there_are_enough() {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let relay = Service::start(&["--workers", "2"]);
    let pid = relay.child.id();
    if cpus >= 2 {
        relay.wait_for_log("workers pinned to CPUs", Duration::from_secs(2));
        let end = std::time::Instant::now() + Duration::from_secs(2);
        let (zero, one) = loop {
            match (thread_cpus(pid, "relay-0"), thread_cpus(pid, "relay-1")) {
                (Some(z), Some(o)) if !z.contains(['-', ',']) && !o.contains(['-', ',']) => {
                    break (z, o);
                }
                other => assert!(
                    std::time::Instant::now() < end,
                    "workers not pinned: {other:?}"
                ),
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_ne!(zero, one, "each worker on a CPU of its own");
    } else {
        relay.wait_for_log("workers not pinned to CPUs", Duration::from_secs(2));
    }
    let more = (cpus + 1).to_string();
    let relay = Service::start(&["--workers", &more]);
    relay.wait_for_log(
        &format!("workers not pinned to CPUs: {more} workers and only {cpus} CPUs"),
        Duration::from_secs(2),
    );
    let relay = Service::start(&["--workers", "2", "--no-cpu-pinning"]);
    relay.wait_for_log(
        "workers not pinned to CPUs (--no-cpu-pinning)",
        Duration::from_secs(2),
    );
    exchange(relay.addrs[1], Guid(0xD1), None);
}

#[test]
fn settings_that_cannot_work_are_refused() {
    for (args, says) in [
        (
            &["--agones", "--workers", "2"][..],
            "--agones runs one worker",
        ),
        (
            &["--agones", "--workers", "auto"][..],
            "--agones runs one worker",
        ),
        (
            &["--agones", "--port", "7000,7001"][..],
            "--agones runs one worker",
        ),
        (
            &["--port", "7000,7001", "--workers", "3"][..],
            "--port lists 2 ports for 3 workers",
        ),
        (&["--port", "65535", "--workers", "2"][..], "past 65535"),
        (&["--workers", "0"][..], "give a number of workers"),
        (&["--port", "7000,7000"][..], "port 7000 is listed twice"),
        (&["--debug-fault-injection"][..], "--admin-addr"),
    ] {
        let out = command(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    // The fault injection is not advertised.
    let help = command(&["--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--workers") && help.contains("--agones"),
        "{help}"
    );
    assert!(!help.contains("fault-injection"), "{help}");
}
