//! The socket relay and client in a host's own event loop, through the C ABI: their socket
//! and next deadline, and polls that wait without holding the handle, so another thread's
//! calls on it are not held up for the length of the wait.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use udp_relay::ffi::*;
use udp_relay::protocol::Guid;

mod client_support;
use client_support::c_config_default;

fn start_relay() -> *mut RelayHandle {
    let mut cfg = std::mem::MaybeUninit::<RelayConfig>::uninit();
    assert_eq!(relay_config_default(cfg.as_mut_ptr()), RelayStatus::Ok);
    // SAFETY: filled by relay_config_default.
    let mut cfg = unsafe { cfg.assume_init() };
    let bind = c"127.0.0.1";
    cfg.bind_address = bind.as_ptr();
    cfg.port = 0;
    let mut relay = std::ptr::null_mut();
    assert_eq!(relay_start(&cfg, &mut relay), RelayStatus::Ok);
    relay
}

/// A handle moved to another thread: the C ABI allows any thread to use it.
struct Shared<T>(*mut T);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Shared<T> {}
// SAFETY: the handles are registry keys, never dereferenced; the ABI serialises calls.
unsafe impl<T> Send for Shared<T> {}
// SAFETY: as above: sharing a key between threads shares no memory.
unsafe impl<T> Sync for Shared<T> {}

/// The longest `call` took, run `n` times while another thread sits in `poll` with a long
/// timeout, over and over.
fn worst_wait(poll: impl Fn() + Send + Sync, call: impl Fn(), n: usize) -> Duration {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                poll();
            }
        });
        std::thread::sleep(Duration::from_millis(20));
        let mut worst = Duration::ZERO;
        for _ in 0..n {
            let t = Instant::now();
            call();
            worst = worst.max(t.elapsed());
        }
        stop.store(true, Ordering::Relaxed);
        worst
    })
}

#[test]
fn relay_calls_from_other_threads_do_not_wait_for_a_polling_thread() {
    let relay = Shared(start_relay());
    let worst = worst_wait(
        move || {
            let r = relay;
            assert!(relay_poll(r.0, 200) >= 0);
        },
        || {
            let mut stats = RelayStats::default();
            let r = relay;
            let status = relay_get_stats(r.0, &mut stats, std::mem::size_of::<RelayStats>());
            assert_eq!(status, RelayStatus::Ok);
        },
        1000,
    );
    // Before, each call waited for the poll's 200 ms; a few ms is scheduling noise.
    assert!(worst < Duration::from_millis(100), "worst wait {worst:?}");
    assert_eq!(relay_drain(relay.0), RelayStatus::Ok);
    assert_eq!(relay_stop(relay.0), RelayStatus::Ok);
}

#[test]
fn client_calls_from_other_threads_do_not_wait_for_a_polling_thread() {
    // A client whose relay never answers: it waits in poll between retries.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut cfg = c_config_default();
    let relay_text = std::ffi::CString::new(silent.local_addr().unwrap().to_string()).unwrap();
    cfg.relay_address = relay_text.as_ptr();
    cfg.guid = Guid::random().unwrap().into();
    cfg.handshake_timeout_ms = 60_000;
    let mut client = std::ptr::null_mut();
    assert_eq!(relay_client_connect(&cfg, &mut client), RelayStatus::Ok);
    let client = Shared(client);
    let worst = worst_wait(
        move || {
            let c = client;
            assert!(relay_client_poll(c.0, 200) >= 0);
        },
        || {
            let c = client;
            assert_eq!(
                relay_client_state(c.0),
                RelayClientState::Handshaking as i32
            );
        },
        1000,
    );
    assert!(worst < Duration::from_millis(100), "worst wait {worst:?}");
    assert_eq!(relay_client_close(client.0), RelayStatus::Ok);
}

#[test]
fn socket_and_deadline_for_a_hosts_event_loop() {
    let relay = start_relay();
    let mut fd = u64::MAX;
    assert_eq!(relay_fd(relay, &mut fd), RelayStatus::Ok);
    assert_ne!(fd, u64::MAX);
    let mut ms = 0i64;
    assert_eq!(relay_next_timeout_ms(relay, &mut ms), RelayStatus::Ok);
    assert_eq!(ms, -1, "no channel open, no deadline");
    assert_eq!(
        relay_fd(relay, std::ptr::null_mut()),
        RelayStatus::NullArgument
    );
    assert_eq!(
        relay_next_timeout_ms(std::ptr::null(), &mut ms),
        RelayStatus::NullArgument
    );
    // A pending channel has a deadline: the inactivity timeout.
    let port = relay_local_port(relay);
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut hs = [0u8; 56];
    udp_relay::protocol::write_handshake(&mut hs, Guid(7), 0, &[], None).unwrap();
    peer.send_to(&hs, SocketAddr::from(([127, 0, 0, 1], port)))
        .unwrap();
    let end = Instant::now() + Duration::from_secs(2);
    while relay_poll(relay, 0) == 0 && Instant::now() < end {}
    assert_eq!(relay_next_timeout_ms(relay, &mut ms), RelayStatus::Ok);
    assert!((29_000..=30_000).contains(&ms), "{ms} ms");

    let mut client = std::ptr::null_mut();
    let mut cfg = c_config_default();
    let to = std::ffi::CString::new(format!("127.0.0.1:{port}")).unwrap();
    cfg.relay_address = to.as_ptr();
    cfg.guid = Guid(8).into();
    assert_eq!(relay_client_connect(&cfg, &mut client), RelayStatus::Ok);
    assert_eq!(relay_client_fd(client, &mut fd), RelayStatus::Ok);
    assert_eq!(
        relay_client_next_timeout_ms(client, &mut ms),
        RelayStatus::Ok
    );
    assert!(
        (0..=250).contains(&ms),
        "first handshake or retry due: {ms} ms"
    );
    assert_eq!(relay_client_close(client), RelayStatus::Ok);
    assert_eq!(relay_client_fd(client, &mut fd), RelayStatus::InvalidHandle);
    assert_eq!(relay_stop(relay), RelayStatus::Ok);
}
