//! The coalescing window (`Config::coalesce_window`, `RelayConfig::coalesce_window_us`), over
//! real loopback sockets: with a window every datagram is still relayed, in order per pair; a
//! poll with a zero timeout never waits for it; a poll with a timeout may wait for it but never
//! past its timeout; and an ABI 4 `RelayConfig`, which has no such field, is still accepted.
//!
//! No figure here is a speed: each bound is either generous (a timeout plus 100 ms) or tells a
//! pause of the whole window from none at all, taking the best (or worst) of several tries.

mod client_support;
mod relay_loop;

use std::ffi::c_char;
use std::net::UdpSocket;
use std::ptr::{null, null_mut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use client_support::{c_relay_config_on_loopback, last_error};
use relay_loop::{establish, handshake, peer};
use udp_relay::ffi::*;
use udp_relay::protocol::Guid;
use udp_relay::relay::{Config, MAX_COALESCE_WINDOW, Relay};

/// The longest window: a pause of it stands out from no pause at all on any machine.
const WINDOW: Duration = MAX_COALESCE_WINDOW;
/// What a poll may take beyond its timeout on a busy machine.
const SLACK: Duration = Duration::from_millis(100);
const TRIES: usize = 10;
/// Whether a sleep of a millisecond lasts about a millisecond here.
const FINE_SLEEP: bool = cfg!(target_os = "linux");

fn coalescing_relay(window: Duration) -> Relay {
    Relay::bind(Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        coalesce_window: window,
        ..Config::default()
    })
    .unwrap()
}

/// Datagrams `a` sends back to back to open the window: enough that a window holds several
/// (the relay pauses only then), fewer than a receive batch (so the read is light).
const BURST: usize = 16;

/// Sends a burst from `a` and polls without waiting until the relay has relayed it all to
/// `b`: light reads at a high rate, after which the window is open.
fn open_the_window(relay: &mut Relay, a: &UdpSocket, b: &UdpSocket) {
    for _ in 0..BURST {
        a.send_to(b"light", relay.local_addr()).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut handled = 0;
    while handled < BURST {
        handled += relay.poll(Duration::ZERO).unwrap();
        assert!(
            Instant::now() < deadline,
            "the burst never reached the relay"
        );
    }
    receive_burst(b);
}

fn receive_burst(b: &UdpSocket) {
    let mut buf = [0u8; 64];
    b.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for _ in 0..BURST {
        assert_eq!(b.recv(&mut buf).unwrap(), 5, "relayed to B");
    }
}

/// A relay with the longest window and an established pair, whose recent traffic makes the
/// window worth a pause.
fn primed() -> (Relay, UdpSocket, UdpSocket) {
    let mut relay = coalescing_relay(WINDOW);
    let (a, b) = (peer(), peer());
    establish(&mut relay, &a, &b);
    for _ in 0..2 * TRIES {
        open_the_window(&mut relay, &a, &b);
    }
    (relay, a, b)
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

#[test]
fn every_datagram_is_relayed_in_order_per_pair() {
    const PAIRS: usize = 6;
    const PER_PAIR: u32 = 300;
    let mut relay = coalescing_relay(Duration::from_micros(500));
    let to = relay.local_addr();
    let pairs: Vec<(UdpSocket, UdpSocket)> = (0..PAIRS)
        .map(|_| {
            let (a, b) = (peer(), peer());
            establish(&mut relay, &a, &b);
            (a, b)
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let polling = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                relay.poll(Duration::from_millis(5)).unwrap();
            }
            relay
        })
    };
    // Interleaved, in small bursts with gaps, as game traffic comes: light reads, each
    // followed by a pause. B reads as it goes, so its own socket buffer never overflows.
    let mut next = [0u32; PAIRS];
    let mut buf = [0u8; 64];
    let mut receive = |wait: Option<Duration>, next: &mut [u32; PAIRS]| {
        for (i, (_, b)) in pairs.iter().enumerate() {
            match wait {
                Some(timeout) => b.set_read_timeout(Some(timeout)).unwrap(),
                None => b.set_nonblocking(true).unwrap(),
            }
            while next[i] < PER_PAIR {
                let len = match b.recv(&mut buf) {
                    Ok(len) => len,
                    Err(_) if wait.is_none() => break,
                    Err(e) => panic!("pair {i}: datagram {} never came: {e}", next[i]),
                };
                assert_eq!(
                    &buf[..len],
                    &next[i].to_be_bytes(),
                    "pair {i}: out of order"
                );
                next[i] += 1;
            }
            b.set_nonblocking(false).unwrap();
        }
    };
    for n in 0..PER_PAIR {
        for (a, _) in &pairs {
            a.send_to(&n.to_be_bytes(), to).unwrap();
        }
        if n % 10 == 9 {
            std::thread::sleep(Duration::from_micros(300));
            receive(None, &mut next);
        }
    }
    receive(Some(Duration::from_secs(5)), &mut next);
    stop.store(true, Ordering::Relaxed);
    let relay = polling.join().unwrap();
    let stats = relay.stats();
    let relayed = u64::from(PER_PAIR) * PAIRS as u64;
    // Each channel also forwarded B's establishing handshake to A.
    assert_eq!(stats.datagrams_out, relayed + PAIRS as u64, "{stats:?}");
    assert_eq!(stats.datagrams_dropped, 0, "{stats:?}");
}

#[test]
fn a_poll_with_a_zero_timeout_never_waits() {
    let (mut relay, a, b) = primed();
    let mut best = Duration::MAX;
    for _ in 0..TRIES {
        open_the_window(&mut relay, &a, &b);
        let (handled, took) = timed(|| relay.poll(Duration::ZERO).unwrap());
        assert_eq!(handled, 0);
        best = best.min(took);
    }
    assert!(
        best < WINDOW / 2,
        "every zero-timeout poll took at least {best:?}: it waited for the window"
    );
}

#[test]
fn a_poll_waits_for_the_window_but_never_past_its_timeout() {
    let (mut relay, a, b) = primed();
    let to = relay.local_addr();

    // A light read makes the next poll with a timeout let datagrams gather first, even with
    // one already waiting.
    let mut worst = Duration::ZERO;
    for _ in 0..TRIES {
        open_the_window(&mut relay, &a, &b);
        a.send_to(b"next", to).unwrap();
        let timeout = Duration::from_secs(1);
        let (handled, took) = timed(|| relay.poll(timeout).unwrap());
        assert!(took <= timeout + SLACK, "{took:?}");
        assert_eq!(handled, 1);
        worst = worst.max(took);
        let mut buf = [0u8; 64];
        assert_eq!(b.recv(&mut buf).unwrap(), 4, "relayed to B");
    }
    assert!(
        worst >= WINDOW / 2,
        "no poll let datagrams gather ({worst:?})"
    );

    // A timeout shorter than the window bounds the pause.
    let timeout = Duration::from_millis(1);
    let mut best = Duration::MAX;
    for _ in 0..TRIES {
        open_the_window(&mut relay, &a, &b);
        let (_, took) = timed(|| relay.poll(timeout).unwrap());
        assert!(took <= timeout + SLACK, "{took:?}");
        best = best.min(took);
    }
    // Only where a sleep of a millisecond lasts about that long (elsewhere, e.g. on Windows,
    // it may last a whole timer tick, as long as the window).
    if FINE_SLEEP {
        assert!(
            best < WINDOW / 2 + timeout,
            "every {timeout:?} poll took at least {best:?}: the pause outlasted the timeout"
        );
    }

    // With nothing read lately there is no pause: an idle poll waits its timeout as ever.
    let timeout = Duration::from_millis(20);
    let (handled, took) = timed(|| relay.poll(timeout).unwrap());
    assert_eq!(handled, 0);
    assert!(took <= timeout + SLACK, "{took:?}");
}

/// A relay started through the C ABI, stopped when dropped.
struct CRelay(*mut RelayHandle);

impl CRelay {
    fn start(config: *const RelayConfig) -> Result<CRelay, RelayStatus> {
        let mut handle = null_mut();
        match relay_start(config, &mut handle) {
            RelayStatus::Ok => Ok(CRelay(handle)),
            status => Err(status),
        }
    }

    fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], relay_local_port(self.0)))
    }

    fn poll_until_handled(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while relay_poll(self.0, 0) == 0 {
            assert!(Instant::now() < deadline, "nothing reached the relay");
        }
    }
}

impl Drop for CRelay {
    fn drop(&mut self) {
        relay_stop(self.0);
    }
}

#[test]
fn relay_poll_honours_the_window_and_its_timeout() {
    let mut cfg = c_relay_config_on_loopback();
    assert_eq!(cfg.coalesce_window_us, 0, "no window by default");
    cfg.coalesce_window_us = WINDOW.as_micros() as u32;
    let relay = CRelay::start(&cfg).unwrap();
    let to = relay.addr();
    let (a, b) = (peer(), peer());
    let guid = Guid::random().unwrap();
    a.send_to(&handshake(guid), to).unwrap();
    relay.poll_until_handled();
    b.send_to(&handshake(guid), to).unwrap();
    relay.poll_until_handled();
    let mut buf = [0u8; 64];
    a.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    b.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(a.recv(&mut buf).unwrap(), 56, "A learns B joined");

    // In order, through polls that pause.
    for round in 0..20u32 {
        for n in 0..5u32 {
            a.send_to(&(round * 5 + n).to_be_bytes(), to).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut handled = 0;
        while handled < 5 && Instant::now() < deadline {
            handled += relay_poll(relay.0, 5);
        }
        for n in 0..5u32 {
            let len = b.recv(&mut buf).unwrap();
            assert_eq!(&buf[..len], &(round * 5 + n).to_be_bytes());
        }
    }

    // relay_poll(relay, 0) never waits; relay_poll(relay, 1) not past its millisecond.
    let open_the_window = || {
        for _ in 0..BURST {
            a.send_to(b"light", to).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut handled = 0;
        while handled < BURST as i32 {
            handled += relay_poll(relay.0, 0);
            assert!(
                Instant::now() < deadline,
                "the burst never reached the relay"
            );
        }
        receive_burst(&b);
    };
    for _ in 0..2 * TRIES {
        open_the_window();
    }
    for timeout_ms in [0u32, 1] {
        let timeout = Duration::from_millis(u64::from(timeout_ms));
        let mut best = Duration::MAX;
        for _ in 0..TRIES {
            open_the_window();
            let (handled, took) = timed(|| relay_poll(relay.0, timeout_ms));
            assert_eq!(handled, 0);
            assert!(took <= timeout + SLACK, "{timeout_ms} ms: {took:?}");
            best = best.min(took);
        }
        if timeout_ms == 0 || FINE_SLEEP {
            assert!(
                best < WINDOW / 2 + timeout,
                "relay_poll(relay, {timeout_ms}) took at least {best:?} every time"
            );
        }
    }
}

#[test]
fn relay_start_range_checks_the_window() {
    let mut cfg = c_relay_config_on_loopback();
    cfg.coalesce_window_us = 5_000;
    assert!(CRelay::start(&cfg).is_ok(), "{}", last_error());
    for too_long in [5_001, u32::MAX] {
        cfg.coalesce_window_us = too_long;
        assert_eq!(
            CRelay::start(&cfg).err(),
            Some(RelayStatus::InvalidArgument)
        );
        let message = last_error();
        assert!(
            message.contains(&format!(
                "coalesce_window is {too_long} us; it must be 0 to 5000 us"
            )),
            "{message}"
        );
    }
}

/// RelayConfig as the ABI 4 header declared it: without `coalesce_window_us`.
#[repr(C)]
#[derive(Clone, Copy)]
struct RelayConfigV4 {
    struct_size: u32,
    inactivity_timeout_ms: u32,
    bind_address: *const c_char,
    secret_key: *const u8,
    secret_key_len: usize,
    port: u16,
    require_return_path: u16,
    max_channels: u32,
    recv_buffer_bytes: u32,
    send_buffer_bytes: u32,
    max_datagrams_per_poll: u32,
    max_pending_events: u32,
    handshake_rate_per_source: u32,
    handshake_burst_per_source: u32,
    max_pending_per_source: u32,
    max_tracked_sources: u32,
    channel_bandwidth_bytes_per_sec: u32,
    require_tokens: u32,
}

/// An ABI 4 config followed by words that an over-reading library would take for
/// `coalesce_window_us` (out of range, so reading them would refuse the config).
#[repr(C)]
struct V4WithTrailer {
    config: RelayConfigV4,
    trailer: [u32; 4],
}

#[test]
fn an_abi_4_config_is_read_without_a_window() {
    let d = c_relay_config_on_loopback();
    let v4_size = std::mem::size_of::<RelayConfigV4>();
    assert!(v4_size < std::mem::size_of::<RelayConfig>());
    assert_eq!(
        v4_size,
        std::mem::offset_of!(RelayConfig, coalesce_window_us)
            .next_multiple_of(std::mem::align_of::<RelayConfig>())
    );
    let old = V4WithTrailer {
        config: RelayConfigV4 {
            struct_size: v4_size as u32,
            inactivity_timeout_ms: d.inactivity_timeout_ms,
            bind_address: d.bind_address,
            secret_key: null(),
            secret_key_len: 0,
            port: 0,
            require_return_path: 0,
            max_channels: d.max_channels,
            recv_buffer_bytes: d.recv_buffer_bytes,
            send_buffer_bytes: d.send_buffer_bytes,
            max_datagrams_per_poll: d.max_datagrams_per_poll,
            max_pending_events: d.max_pending_events,
            handshake_rate_per_source: d.handshake_rate_per_source,
            handshake_burst_per_source: d.handshake_burst_per_source,
            max_pending_per_source: d.max_pending_per_source,
            max_tracked_sources: d.max_tracked_sources,
            channel_bandwidth_bytes_per_sec: d.channel_bandwidth_bytes_per_sec,
            require_tokens: 0,
        },
        trailer: [u32::MAX; 4],
    };
    // What a C caller built against ABI 4 passes: a pointer to its (shorter) struct.
    let as_current = (&raw const old.config).cast::<RelayConfig>();
    let relay = CRelay::start(as_current).unwrap_or_else(|s| panic!("{s:?}: {}", last_error()));
    assert_ne!(relay_local_port(relay.0), 0);
    assert_eq!(relay_poll(relay.0, 1), 0);
    let mut core = null_mut();
    assert_eq!(relay_core_new(as_current, &mut core), RelayStatus::Ok);
    assert_eq!(relay_core_free(core), RelayStatus::Ok);

    // The ABI 4 fields are still read and range-checked.
    let mut bad = V4WithTrailer {
        config: old.config,
        trailer: [0; 4],
    };
    bad.config.max_channels = 0;
    assert_eq!(
        CRelay::start((&raw const bad.config).cast()).err(),
        Some(RelayStatus::InvalidArgument)
    );
    assert!(last_error().contains("max_channels"), "{}", last_error());

    // Any other size is refused, naming both sizes it would take.
    let current = std::mem::size_of::<RelayConfig>() as u32;
    for size in [0, 8, v4_size as u32 - 4, v4_size as u32 + 4, current + 8] {
        let mut cfg = c_relay_config_on_loopback();
        cfg.struct_size = size;
        assert_eq!(
            CRelay::start(&cfg).err(),
            Some(RelayStatus::VersionMismatch),
            "size {size}"
        );
        let message = last_error();
        assert!(
            message.contains(&format!("struct_size is {size}"))
                && message.contains(&format!("{current} bytes"))
                && message.contains(&format!("{v4_size} from an ABI 4 header")),
            "{message}"
        );
    }
}
