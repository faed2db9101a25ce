//! Client behaviour on loopback against an in-process relay: handshake timeouts (wrong key,
//! absent peer), keep-alives holding a quiet channel open past the relay's inactivity
//! timeout, and a too-small receive buffer that loses nothing.

mod client_support;

use std::ffi::CString;
use std::time::{Duration, Instant};

use client_support::{RelayThread, config, establish, quiet_then_ping};
use udp_relay::client::{Client, ClientError, State, Timing};
use udp_relay::ffi::*;
use udp_relay::protocol::Guid;

fn last_error() -> String {
    // SAFETY: relay_last_error never returns NULL and the string lives until the next call.
    unsafe { std::ffi::CStr::from_ptr(relay_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn short_timing(timeout_ms: u64) -> Timing {
    Timing {
        retry_interval: Duration::from_millis(50),
        retry_backoff_max: Duration::from_millis(100),
        handshake_timeout: Duration::from_millis(timeout_ms),
        ..Timing::default()
    }
}

#[test]
fn wrong_key_times_out_through_the_c_abi() {
    let relay = RelayThread::start("127.0.0.1:0", Duration::from_secs(30), Some(b"relay-key"));
    let address = CString::new(relay.addr.to_string()).unwrap();
    let mut cfg = std::mem::MaybeUninit::<RelayClientConfig>::uninit();
    assert_eq!(
        relay_client_config_default(cfg.as_mut_ptr()),
        RelayStatus::Ok
    );
    // SAFETY: filled by relay_client_config_default.
    let mut cfg = unsafe { cfg.assume_init() };
    cfg.relay_address = address.as_ptr();
    assert_eq!(relay_guid_new(&mut cfg.guid), RelayStatus::Ok);
    cfg.secret_key = b"other-key".as_ptr();
    cfg.secret_key_len = 9;
    cfg.retry_interval_ms = 50;
    cfg.retry_backoff_max_ms = 100;
    cfg.handshake_timeout_ms = 400;
    // Both peers hold the same wrong key: they would pair if the relay accepted them.
    let (mut a, mut b) = (std::ptr::null_mut(), std::ptr::null_mut());
    assert_eq!(relay_client_connect(&cfg, &mut a), RelayStatus::Ok);
    assert_eq!(relay_client_connect(&cfg, &mut b), RelayStatus::Ok);
    let start = Instant::now();
    let status = loop {
        let (ra, rb) = (relay_client_poll(a, 20), relay_client_poll(b, 20));
        assert!(rb >= 0 || rb == RelayStatus::TimedOut as i32);
        if ra < 0 {
            break ra;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "never timed out");
    };
    assert_eq!(status, RelayStatus::TimedOut as i32);
    assert!(start.elapsed() >= Duration::from_millis(400));
    let message = last_error();
    assert!(
        message.contains("no answer") && message.contains("secret key"),
        "{message}"
    );
    assert_eq!(relay_client_state(a), RelayClientState::TimedOut as i32);
    assert_eq!(
        relay_client_send(a, b"x".as_ptr(), 1),
        RelayStatus::TimedOut
    );
    let (mut buf, mut len) = ([0u8; 16], 0usize);
    assert_eq!(
        relay_client_recv(a, buf.as_mut_ptr(), buf.len(), &mut len),
        RelayStatus::TimedOut
    );
    assert_eq!(relay_client_close(a), RelayStatus::Ok);
    assert_eq!(relay_client_close(b), RelayStatus::Ok);
    let stats = relay.stop();
    assert_eq!(stats.channels_allocated_total, 0, "{stats:?}");
    assert!(stats.handshakes_rejected >= 4, "{stats:?}");
}

#[test]
fn client_whose_peer_never_comes_times_out() {
    let relay = RelayThread::start("127.0.0.1:0", Duration::from_secs(30), None);
    let mut cfg = config(relay.addr, Guid::random().unwrap());
    cfg.timing = short_timing(300);
    let mut client = Client::connect(cfg).unwrap();
    let start = Instant::now();
    let mut state = State::Handshaking;
    while state == State::Handshaking {
        state = client.poll(Duration::from_millis(50)).unwrap();
        assert!(start.elapsed() < Duration::from_secs(5));
    }
    assert_eq!(state, State::TimedOut);
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert!(matches!(client.send(b"x"), Err(ClientError::TimedOut)));
    // Retries went out on schedule: the first at once, then every 50-100 ms.
    let sent = client.stats().handshakes_sent;
    assert!((3..=8).contains(&sent), "{sent} handshakes");
    // Nothing more once timed out.
    client.poll(Duration::from_millis(150)).unwrap();
    assert_eq!(client.stats().handshakes_sent, sent);
    let stats = relay.stop();
    assert_eq!(stats.channels_allocated_total, 1);
    assert_eq!(stats.channels_established, 0);
}

/// Two clients establish, stay quiet for four times the relay's inactivity timeout, then try
/// one datagram each way. Returns whether both arrived, and the relay's expiry count.
fn quiet_channel(keepalive: Option<Duration>) -> (bool, u64) {
    let relay = RelayThread::start("127.0.0.1:0", Duration::from_millis(300), None);
    let mut cfg = config(relay.addr, Guid::random().unwrap());
    cfg.timing.keepalive_interval = keepalive;
    let mut a = Client::connect(cfg.clone()).unwrap();
    let mut b = Client::connect(cfg).unwrap();
    establish(&mut a, &mut b, Duration::from_secs(5));
    let (a_got, b_got) = quiet_then_ping(
        &mut a,
        &mut b,
        Duration::from_millis(1_200),
        Duration::from_millis(500),
    );
    if keepalive.is_some() {
        assert!(a.stats().handshakes_sent >= 5, "{:?}", a.stats());
    }
    (a_got && b_got, relay.stop().channels_expired_total)
}

#[test]
fn keepalive_holds_a_quiet_channel_open() {
    assert_eq!(quiet_channel(Some(Duration::from_millis(100))), (true, 0));
}

#[test]
fn without_keepalive_a_quiet_channel_expires() {
    // The control for the test above: the same silence does close the channel.
    assert_eq!(quiet_channel(None), (false, 1));
}

#[test]
fn too_small_buffer_keeps_the_datagram() {
    let relay = RelayThread::start("127.0.0.1:0", Duration::from_secs(30), None);
    let cfg = config(relay.addr, Guid::random().unwrap());
    let mut a = Client::connect(cfg.clone()).unwrap();
    let mut b = Client::connect(cfg).unwrap();
    establish(&mut a, &mut b, Duration::from_secs(5));
    let payload: Vec<u8> = (0..100u8).collect();
    a.send(&payload).unwrap();
    a.send(b"next").unwrap();
    let start = Instant::now();
    while b.queued() < 2 {
        b.poll(Duration::from_millis(10)).unwrap();
        assert!(start.elapsed() < Duration::from_secs(5));
    }
    let mut small = [0u8; 99];
    assert!(matches!(
        b.recv(&mut small),
        Err(ClientError::BufferTooSmall { needed: 100 })
    ));
    assert!(matches!(
        b.recv(&mut []),
        Err(ClientError::BufferTooSmall { needed: 100 })
    ));
    let mut big = [0u8; 200];
    assert_eq!(b.recv(&mut big).unwrap(), 100);
    assert_eq!(&big[..100], &payload[..]);
    assert_eq!(b.recv(&mut small).unwrap(), 4);
    assert_eq!(&small[..4], b"next");
    assert!(matches!(b.recv(&mut big), Err(ClientError::WouldBlock)));
}

#[test]
fn too_small_buffer_through_the_c_abi() {
    let relay = RelayThread::start("127.0.0.1:0", Duration::from_secs(30), None);
    let address = CString::new(relay.addr.to_string()).unwrap();
    let mut cfg = std::mem::MaybeUninit::<RelayClientConfig>::uninit();
    assert_eq!(
        relay_client_config_default(cfg.as_mut_ptr()),
        RelayStatus::Ok
    );
    // SAFETY: filled by relay_client_config_default.
    let mut cfg = unsafe { cfg.assume_init() };
    cfg.relay_address = address.as_ptr();
    let text = CString::new("0badc0de-0000-4000-8000-00000000beef").unwrap();
    assert_eq!(
        relay_guid_parse(text.as_ptr(), &mut cfg.guid),
        RelayStatus::Ok
    );
    let (mut a, mut b) = (std::ptr::null_mut(), std::ptr::null_mut());
    assert_eq!(relay_client_connect(&cfg, &mut a), RelayStatus::Ok);
    let (mut buf, mut len) = ([0u8; 512], 7usize);
    assert_eq!(
        relay_client_recv(a, buf.as_mut_ptr(), buf.len(), &mut len),
        RelayStatus::NotEstablished
    );
    assert_eq!(
        relay_client_send(a, b"x".as_ptr(), 1),
        RelayStatus::NotEstablished
    );
    assert_eq!(relay_client_connect(&cfg, &mut b), RelayStatus::Ok);
    let start = Instant::now();
    let established = RelayClientState::Established as i32;
    while relay_client_state(a) != established || relay_client_state(b) != established {
        relay_client_poll(a, 5);
        relay_client_poll(b, 5);
        assert!(start.elapsed() < Duration::from_secs(5));
    }
    let payload = [0x5Au8; 300];
    assert_eq!(
        relay_client_send(b, payload.as_ptr(), payload.len()),
        RelayStatus::Ok
    );
    let start = Instant::now();
    while relay_client_poll(a, 10) < 1 {
        assert!(start.elapsed() < Duration::from_secs(5));
    }
    assert_eq!(
        relay_client_recv(a, buf.as_mut_ptr(), 299, &mut len),
        RelayStatus::BufferTooSmall
    );
    assert_eq!(len, 7, "out_len is written only on success");
    assert!(last_error().contains("300 bytes"), "{}", last_error());
    assert_eq!(relay_client_poll(a, 0), 1, "still queued");
    assert_eq!(
        relay_client_recv(a, buf.as_mut_ptr(), buf.len(), &mut len),
        RelayStatus::Ok
    );
    assert_eq!((len, &buf[..len]), (300, &payload[..]));
    assert_eq!(
        relay_client_recv(a, buf.as_mut_ptr(), buf.len(), &mut len),
        RelayStatus::WouldBlock
    );
    assert_eq!(relay_client_close(a), RelayStatus::Ok);
    assert_eq!(relay_client_close(b), RelayStatus::Ok);
}
