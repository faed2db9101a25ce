//! The C examples in `examples/c/` are built with the system C compiler against
//! `include/udp_relay.h` and the library cargo just built, then run and driven over real UDP
//! on 127.0.0.1. Each example is built three ways: strict C99 with warnings as errors against
//! the shared library, the same against the static library, and under AddressSanitizer +
//! UndefinedBehaviorSanitizer.
//!
//! Adding an example: add a `CExample` constant and a scenario function that takes the built
//! binary, then one `#[test]` per build variant calling `run_variant`.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{
    Peer, Process, field, guid_text, handshake, native_library_dir, native_program, run_ok,
};

/// A single-file C program in `examples/c/`.
struct CExample {
    name: &'static str,
    source: &'static str,
}

const EMBEDDED_HOST: CExample = CExample {
    name: "embedded_host",
    source: "examples/c/embedded_host.c",
};

const ENGINE_SOCKET_RELAY: CExample = CExample {
    name: "engine_socket_relay",
    source: "examples/c/engine_socket_relay.c",
};

const EPOLL_HOST: CExample = CExample {
    name: "epoll_host",
    source: "examples/c/epoll_host.c",
};

const CLIENT_MODES: CExample = CExample {
    name: "client_modes",
    source: "examples/c/client_modes.c",
};

/// How the example gets the library.
#[derive(Clone, Copy, PartialEq)]
enum Link {
    /// `-ludp_relay` against libudp_relay.so, found at run time through the rpath.
    Shared,
    /// libudp_relay.a plus the system libraries the Rust standard library needs (as printed
    /// by `cargo rustc --crate-type staticlib -- --print native-static-libs`).
    Static,
}

/// How an example is compiled for one test.
struct Variant {
    name: &'static str,
    cflags: &'static [&'static str],
    link: Link,
    env: &'static [(&'static str, &'static str)],
}

const STRICT: Variant = Variant {
    name: "strict",
    cflags: &["-O1"],
    link: Link::Shared,
    env: &[],
};

const STATIC: Variant = Variant {
    name: "static",
    cflags: &["-O1"],
    link: Link::Static,
    env: &[],
};

const SANITIZED: Variant = Variant {
    name: "sanitized",
    cflags: support::SANITIZER_FLAGS,
    link: Link::Shared,
    env: support::SANITIZER_ENV,
};

/// Compiles `example` as `variant` and returns the executable.
fn build(example: &CExample, variant: &Variant) -> PathBuf {
    let root = support::repo_root();
    let lib_dir = native_library_dir();
    let out_dir = support::scratch_dir(&format!("c-{}-{}", example.name, variant.name));
    let exe = out_dir.join(example.name);
    let mut cc = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()));
    cc.args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .args(variant.cflags)
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join(example.source))
        .arg("-o")
        .arg(&exe);
    match variant.link {
        Link::Shared => {
            cc.args(support::shared_library_link_args());
        }
        Link::Static => {
            // The static library is built next to the shared one (crate-type staticlib).
            cc.arg(lib_dir.join("libudp_relay.a"))
                .args(support::STATIC_SYSTEM_LIBS);
        }
    }
    run_ok(
        &mut cc,
        &format!("compiling {} ({})", example.source, variant.name),
    );
    exe
}

fn run_variant(example: &CExample, variant: &Variant, scenario: fn(&Path, &Variant)) {
    let exe = build(example, variant);
    scenario(&exe, variant);
}

/// Two peers handshake through the embedded host, exchange datagrams both ways, then the
/// host is interrupted and must stop cleanly with counters that match the traffic.
fn embedded_host_scenario(exe: &Path, variant: &Variant) {
    const ROUNDS: usize = 5;
    let guid: u128 = 0x8f1d_2c3b_4a59_6877_a1b2_c3d4_e5f6_0718;
    let wait = Duration::from_secs(5);

    let mut command = native_program(exe);
    command.args(["--port", "0", "--bind", "127.0.0.1", "--idle-ms", "10000"]);
    command.envs(variant.env.iter().copied());
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
        !support::has_sanitizer_report(&stderr),
        "sanitizer report:\n{stderr}"
    );
    // The host routes the library's log to stderr: the bind message proves the callback ran.
    assert!(
        stderr.contains("[udp_relay info] relay bound to 127.0.0.1:"),
        "{stderr}"
    );
}

#[test]
fn embedded_host_relays_two_peers() {
    run_variant(&EMBEDDED_HOST, &STRICT, embedded_host_scenario);
}

#[test]
fn embedded_host_linked_statically_relays_two_peers() {
    run_variant(&EMBEDDED_HOST, &STATIC, embedded_host_scenario);
}

#[test]
fn embedded_host_relays_two_peers_under_sanitizers() {
    run_variant(&EMBEDDED_HOST, &SANITIZED, embedded_host_scenario);
}

/// Starts `exe`, waits for its first line ("listening on port R[ game port G]"), pairs two
/// peers through the relay port and exchanges datagrams both ways, has a third socket talk
/// to the game port (`game_port(first line, relay port)`), then stops it with SIGINT and
/// checks its counters add up.
fn game_socket_scenario(exe: &Path, variant: &Variant, game_port: fn(&str, u16) -> u16) {
    const ROUNDS: usize = 5;
    let wait = Duration::from_secs(5);
    let mut command = native_program(exe);
    command.args(["--idle-ms", "10000"]);
    command.envs(variant.env.iter().copied());
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
        !support::has_sanitizer_report(&stderr),
        "sanitizer report:\n{stderr}"
    );
}

/// The engine relays on its game port: one socket for both.
fn engine_socket_scenario(exe: &Path, variant: &Variant) {
    game_socket_scenario(exe, variant, |_, relay_port| relay_port);
}

/// The relay's socket and the game's sit in one epoll set.
fn epoll_host_scenario(exe: &Path, variant: &Variant) {
    game_socket_scenario(exe, variant, |first, _| {
        first
            .rsplit(' ')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no game port in {first:?}"))
    });
}

#[test]
fn engine_socket_relay_relays_on_the_games_own_socket() {
    run_variant(&ENGINE_SOCKET_RELAY, &STRICT, engine_socket_scenario);
}

#[test]
fn engine_socket_relay_under_sanitizers() {
    run_variant(&ENGINE_SOCKET_RELAY, &SANITIZED, engine_socket_scenario);
}

#[cfg(target_os = "linux")]
#[test]
fn epoll_host_waits_in_its_own_event_loop() {
    run_variant(&EPOLL_HOST, &STRICT, epoll_host_scenario);
}

#[cfg(target_os = "linux")]
#[test]
fn epoll_host_under_sanitizers() {
    run_variant(&EPOLL_HOST, &SANITIZED, epoll_host_scenario);
}

/// A library-owned client and an engine-owned one exchange 100 datagrams each way, first
/// through a relay the program starts in-process, then through one this test runs.
fn client_modes_scenario(exe: &Path, variant: &Variant) {
    let expect = "library-owned client received 100, engine-owned client received 100";
    let run = |args: &[&str]| {
        let mut command = native_program(exe);
        command.args(args).envs(variant.env.iter().copied());
        let out = run_ok(&mut command, "client_modes");
        assert!(out.contains(expect), "{out}");
        assert!(
            !support::has_sanitizer_report(&out),
            "sanitizer report:\n{out}"
        );
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

#[test]
fn client_modes_exchange_through_a_relay() {
    run_variant(&CLIENT_MODES, &STRICT, client_modes_scenario);
}

#[test]
fn client_modes_linked_statically() {
    run_variant(&CLIENT_MODES, &STATIC, client_modes_scenario);
}

#[test]
fn client_modes_under_sanitizers() {
    run_variant(&CLIENT_MODES, &SANITIZED, client_modes_scenario);
}
