//! What the C examples in `examples/c/` must do when run, whatever built them and however they
//! are started: `tests/c_examples.rs` runs the Linux builds natively, `tests/windows_wine.rs`
//! the mingw-w64 builds under Wine. Each scenario takes a function returning a fresh
//! `Command` for the built program (with its environment already set) and drives it over real
//! UDP on 127.0.0.1.
#![allow(dead_code)]

use std::process::Command;
use std::time::Duration;

use crate::support::{Peer, Process, field, guid_text, handshake, has_sanitizer_report, run_ok};

/// Two peers handshake through the embedded host, exchange datagrams both ways, then the
/// host is interrupted and must stop cleanly with counters that match the traffic.
pub fn embedded_host_relays_two_peers(program: &dyn Fn() -> Command) {
    const ROUNDS: usize = 5;
    let guid: u128 = 0x8f1d_2c3b_4a59_6877_a1b2_c3d4_e5f6_0718;
    let wait = Duration::from_secs(5);

    let mut command = program();
    command.args(["--port", "0", "--bind", "127.0.0.1", "--idle-ms", "10000"]);
    let mut host = Process::spawn(command);

    let first = host.expect_line("the listening line", wait, |l| l.starts_with("listening"));
    let port: u16 = first
        .strip_prefix("listening on port ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    assert_ne!(port, 0);

    let a = Peer::new(port);
    let b = Peer::new(port);
    let text = guid_text(guid);

    a.send(&handshake(guid));
    let allocated = format!("channel allocated {text} a={}", a.addr());
    host.expect_line("the allocated event", wait, |l| l == allocated);

    b.send(&handshake(guid));
    let established = format!("channel established {text} a={} b={}", a.addr(), b.addr());
    host.expect_line("the established event", wait, |l| l == established);
    // The relay forwards B's establishing handshake to A: that is how A learns it is paired.
    assert_eq!(a.recv(), handshake(guid).to_vec());

    for round in 0..ROUNDS {
        let ping = format!("ping {round} from A").into_bytes();
        a.send(&ping);
        assert_eq!(b.recv(), ping);
        let pong = vec![round as u8; 100 + round * 300];
        b.send(&pong);
        assert_eq!(a.recv(), pong);
    }

    host.interrupt();
    let status = host.wait(wait);
    assert!(status.success(), "exit {status}\n{}", host.transcript());
    let out = host.stdout_seen.clone();
    assert!(
        out.iter()
            .any(|l| l.starts_with("stopping after") && l.ends_with("(SIGINT)")),
        "no SIGINT stop line\n{}",
        host.transcript()
    );
    let stats = out
        .iter()
        .find(|l| l.starts_with("stats "))
        .unwrap_or_else(|| panic!("no stats line\n{}", host.transcript()));
    // In: two handshakes and 2 * ROUNDS payloads. Out: B's handshake and every payload.
    assert_eq!(
        field(stats, "datagrams_in"),
        Some(2 + 2 * ROUNDS as u64),
        "{stats}"
    );
    assert_eq!(
        field(stats, "datagrams_out"),
        Some(1 + 2 * ROUNDS as u64),
        "{stats}"
    );
    assert_eq!(field(stats, "channels_allocated"), Some(1), "{stats}");
    assert_eq!(field(stats, "handshakes_accepted"), Some(2), "{stats}");
    assert_eq!(out.last().map(String::as_str), Some("stopped cleanly"));
    let stderr = host.stderr();
    assert!(
        !has_sanitizer_report(&stderr),
        "sanitizer report:\n{stderr}"
    );
    // The host routes the library's log to stderr: the bind message proves the callback ran.
    assert!(
        stderr.contains("[udp_relay info] relay bound to 127.0.0.1:"),
        "{stderr}"
    );
}

/// A library-owned client and an engine-owned one exchange 100 datagrams each way, first
/// through a relay the program starts in-process, then through one this test runs.
pub fn client_modes_exchange(program: &dyn Fn() -> Command) {
    let expect = "library-owned client received 100, engine-owned client received 100";
    let run = |args: &[&str]| {
        let mut command = program();
        command.args(args);
        let out = run_ok(&mut command, "client_modes");
        assert!(out.contains(expect), "{out}");
        assert!(!has_sanitizer_report(&out), "sanitizer report:\n{out}");
    };
    run(&[]);

    let config = udp_relay::relay::Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..udp_relay::relay::Config::default()
    };
    let mut relay = udp_relay::relay::Relay::bind(config).unwrap();
    let address = relay.local_addr().to_string();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ticking = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                relay.poll(Duration::from_millis(5)).unwrap();
            }
            relay.stats()
        })
    };
    run(&[&address]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let stats = ticking.join().unwrap();
    assert_eq!(stats.channels_allocated_total, 1, "{stats:?}");
    assert_eq!(stats.datagrams_dropped, 0, "{stats:?}");
    assert!(stats.datagrams_out >= 200, "{stats:?}");
}

/// The closing line of `tests/c/ffi_misuse.c`, which must report no failed check out of the
/// several hundred it makes.
pub fn check_misuse_summary(stdout: &str) {
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("misuse checks:"))
        .unwrap_or_else(|| panic!("no summary line\n{stdout}"));
    let passed: u32 = summary
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .expect("passed count");
    assert!(
        summary.ends_with(" 0 failed") && passed > 300,
        "{summary}\n{stdout}"
    );
}

/// Starts the program, waits for its first line ("listening on port R[ game port G]"), pairs
/// two peers through the relay port and exchanges datagrams both ways, has a third socket
/// talk to the game port (`game_port(first line, relay port)`), then stops it with SIGINT and
/// checks its counters add up.
fn game_socket_scenario(program: &dyn Fn() -> Command, game_port: fn(&str, u16) -> u16) {
    const ROUNDS: usize = 5;
    let wait = Duration::from_secs(5);
    let mut command = program();
    command.args(["--idle-ms", "10000"]);
    let mut host = Process::spawn(command);
    let first = host.expect_line("the listening line", wait, |l| l.starts_with("listening"));
    let port: u16 = first
        .split_whitespace()
        .nth(3)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    let guid: u128 = 0x0e1f_2a3b_4c5d_6e7f_8091_a2b3_c4d5_e6f7;
    let (a, b) = (Peer::new(port), Peer::new(port));
    a.send(&handshake(guid));
    std::thread::sleep(Duration::from_millis(50));
    b.send(&handshake(guid));
    host.expect_line("the established event", wait, |l| {
        l.starts_with("channel established")
    });
    assert_eq!(a.recv(), handshake(guid).to_vec(), "A learns B joined");
    for round in 0..ROUNDS {
        let ping = format!("ping {round}").into_bytes();
        a.send(&ping);
        assert_eq!(b.recv(), ping);
        let pong = vec![round as u8; 1 + round * 200];
        b.send(&pong);
        assert_eq!(a.recv(), pong);
    }
    // The game's own traffic, on its port, beside the relay.
    let game = Peer::new(game_port(&first, port));
    game.send(b"GAME hello");
    assert_eq!(game.recv(), b"GAME-ACK");

    host.interrupt();
    let status = host.wait(wait);
    assert!(status.success(), "exit {status}\n{}", host.transcript());
    let out = host.stdout_seen.clone();
    let stats = out
        .iter()
        .find(|l| l.starts_with("stats "))
        .unwrap_or_else(|| panic!("no stats line\n{}", host.transcript()));
    let n = |k| field(stats, k).unwrap_or_else(|| panic!("{k} in {stats}"));
    assert_eq!(n("datagrams_in"), 2 + 2 * ROUNDS as u64, "{stats}");
    assert_eq!(n("datagrams_out"), 1 + 2 * ROUNDS as u64, "{stats}");
    assert_eq!(n("datagrams_consumed"), 1, "A's handshake: {stats}");
    assert_eq!(n("datagrams_dropped"), 0, "{stats}");
    assert_eq!(n("game_answered"), 1, "{stats}");
    assert_eq!(out.last().map(String::as_str), Some("stopped cleanly"));
    let stderr = host.stderr();
    assert!(
        !has_sanitizer_report(&stderr),
        "sanitizer report:\n{stderr}"
    );
}

/// `examples/c/engine_socket_relay.c` relays on its game port: one socket for both.
pub fn engine_socket_relay(program: &dyn Fn() -> Command) {
    game_socket_scenario(program, |_, relay_port| relay_port);
}

/// `examples/c/epoll_host.c`: the relay's socket and the game's sit in one epoll set.
pub fn epoll_host(program: &dyn Fn() -> Command) {
    game_socket_scenario(program, |first, _| {
        first
            .rsplit(' ')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no game port in {first:?}"))
    });
}
