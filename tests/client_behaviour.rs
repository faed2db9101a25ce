//! Client behaviour on loopback against an in-process relay: handshake timeouts (wrong key,
//! absent peer), keep-alives holding a quiet channel open past the relay's inactivity
//! timeout, the peer timeout noticing a relay that went away, and a too-small receive
//! buffer that loses nothing.

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
    let mut cfg = client_support::c_config_default();
    cfg.relay_address = address.as_ptr();
    assert_eq!(relay_guid_new(&mut cfg.guid), RelayStatus::Ok);
    cfg.secret_key = b"other-key".as_ptr();
    cfg.secret_key_len = 9;
    cfg.retry_interval_ms = 50;
    cfg.retry_backoff_max_ms = 100;
    cfg.handshake_timeout_ms = 400;
    // Both peers hold the same wrong key: they would pair if the relay accepted them.
    let (mut a, mut b) = (std::ptr::null_mut(), std::ptr::null_mut());
    // The handshake timeout runs from connect: a slow connect (Wine) must not shorten it here.
    let start = Instant::now();
    assert_eq!(relay_client_connect(&cfg, &mut a), RelayStatus::Ok);
    assert_eq!(relay_client_connect(&cfg, &mut b), RelayStatus::Ok);
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
    // The handshake timeout runs from connect.
    let start = Instant::now();
    let mut client = Client::connect(cfg).unwrap();
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

#[test]
fn a_poll_without_a_time_limit_returns_when_the_handshake_times_out() {
    let relay = RelayThread::start("127.0.0.1:0", Duration::from_secs(30), None);
    let mut cfg = config(relay.addr, Guid::random().unwrap());
    cfg.timing = short_timing(200);
    let mut client = Client::connect(cfg).unwrap();
    let start = Instant::now();
    assert_eq!(client.poll(Duration::MAX).unwrap(), State::TimedOut);
    assert!(start.elapsed() < Duration::from_secs(5));
    relay.stop();
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

const KEEPALIVE: Duration = Duration::from_millis(100);
const PEER_TIMEOUT: Duration = Duration::from_millis(400);

/// Keep-alives every 100 ms; with `lost`, the peer is lost after 400 ms of silence.
fn watchful_timing(lost: bool) -> Timing {
    Timing {
        retry_interval: Duration::from_millis(20),
        retry_backoff_max: Duration::from_millis(100),
        keepalive_interval: Some(KEEPALIVE),
        peer_timeout: lost.then_some(PEER_TIMEOUT),
        ..Timing::default()
    }
}

/// Datagrams (game data or handshakes) the client has received from the relay.
fn heard(c: &Client) -> u64 {
    let s = c.stats();
    s.datagrams_received + s.handshakes_received
}

/// Polls the clients for `duration`; returns, per client, when it was last seen hearing
/// from the relay (`heard_before` if not in this watch) and when it was first seen lost.
fn watch(
    clients: &mut [&mut Client],
    duration: Duration,
    heard_before: &[Instant],
) -> Vec<(Instant, Option<Instant>)> {
    let start = Instant::now();
    let mut seen: Vec<(u64, Instant, Option<Instant>)> = clients
        .iter()
        .zip(heard_before)
        .map(|(c, &last)| (heard(c), last, None))
        .collect();
    while start.elapsed() < duration {
        for (c, (count, last, lost)) in clients.iter_mut().zip(seen.iter_mut()) {
            let state = c.poll(Duration::from_millis(2)).unwrap();
            let now = Instant::now();
            if heard(c) != *count {
                (*count, *last) = (heard(c), now);
            }
            if state == State::Lost && lost.is_none() {
                *lost = Some(now);
            }
        }
    }
    seen.into_iter()
        .map(|(_, last, lost)| (last, lost))
        .collect()
}

#[test]
fn relay_restart_is_noticed_within_the_peer_timeout() {
    let relay = RelayThread::start("127.0.0.1:0", Duration::from_secs(30), None);
    let relay_addr = relay.addr;
    let mut cfg = config(relay_addr, Guid::random().unwrap());
    cfg.timing = watchful_timing(true);
    let mut a = Client::connect(cfg.clone()).unwrap();
    let mut b = Client::connect(cfg.clone()).unwrap();
    establish(&mut a, &mut b, Duration::from_secs(5));
    // A quiet but healthy channel: only keep-alives flow, for three peer timeouts.
    let now = Instant::now();
    let seen = watch(&mut [&mut a, &mut b], PEER_TIMEOUT * 3, &[now, now]);
    assert!(
        seen.iter().all(|(_, lost)| lost.is_none()),
        "lost while the relay was up"
    );
    let heard_before: Vec<Instant> = seen.iter().map(|(last, _)| *last).collect();
    assert!(a.stats().handshakes_received >= 5, "{:?}", a.stats());
    assert_eq!(
        a.stats().datagrams_received,
        0,
        "keep-alives are not game data"
    );

    // The relay goes away (a restart loses every channel): silence from then on.
    let stopped = Instant::now();
    relay.stop();
    let seen = watch(&mut [&mut a, &mut b], PEER_TIMEOUT * 4, &heard_before);
    for (name, (last_heard, lost)) in ["a", "b"].into_iter().zip(seen) {
        let lost = lost.unwrap_or_else(|| panic!("{name} not lost within 1.6 s"));
        let silence = lost.saturating_duration_since(last_heard);
        assert!(
            silence >= PEER_TIMEOUT - Duration::from_millis(20)
                && silence <= PEER_TIMEOUT + Duration::from_millis(600),
            "{name} lost after {silence:?} of silence ({:?} after the stop)",
            lost - stopped
        );
    }
    for c in [&mut a, &mut b] {
        assert_eq!(c.state(), State::Lost);
        assert!(matches!(c.send(b"x"), Err(ClientError::PeerLost)));
        assert!(matches!(c.recv(&mut [0u8; 8]), Err(ClientError::PeerLost)));
        // Final: no more keep-alives go out.
        let sent = c.stats().handshakes_sent;
        c.poll(KEEPALIVE * 2).unwrap();
        assert_eq!(c.stats().handshakes_sent, sent);
    }

    // The relay is back on the same address: new clients with the same GUID join again.
    let relay = RelayThread::start(&relay_addr.to_string(), Duration::from_secs(30), None);
    let mut a = Client::connect(cfg.clone()).unwrap();
    let mut b = Client::connect(cfg).unwrap();
    establish(&mut a, &mut b, Duration::from_secs(5));
    a.send(b"again").unwrap();
    let start = Instant::now();
    while b.poll(Duration::from_millis(10)).unwrap() == State::Established && b.queued() == 0 {
        assert!(start.elapsed() < Duration::from_secs(5), "nothing arrived");
    }
    let mut buf = [0u8; 16];
    assert_eq!(b.recv(&mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"again");
    assert_eq!(relay.stop().channels_established, 1);
}

#[test]
fn without_a_peer_timeout_a_dead_channel_stays_established() {
    // The control for the test above: the same restart goes unnoticed.
    let relay = RelayThread::start("127.0.0.1:0", Duration::from_secs(30), None);
    let mut cfg = config(relay.addr, Guid::random().unwrap());
    cfg.timing = watchful_timing(false);
    let mut a = Client::connect(cfg.clone()).unwrap();
    let mut b = Client::connect(cfg).unwrap();
    establish(&mut a, &mut b, Duration::from_secs(5));
    relay.stop();
    let now = Instant::now();
    let seen = watch(&mut [&mut a, &mut b], PEER_TIMEOUT * 4, &[now, now]);
    assert!(seen.iter().all(|(_, lost)| lost.is_none()));
    assert_eq!(
        (a.state(), b.state()),
        (State::Established, State::Established)
    );
    // Keep-alives still go out into the void.
    let sent = a.stats().handshakes_sent;
    a.poll(KEEPALIVE * 2).unwrap();
    assert!(a.stats().handshakes_sent > sent);
}

#[test]
fn peer_lost_through_the_c_abi() {
    let relay = RelayThread::start("127.0.0.1:0", Duration::from_secs(30), None);
    let address = CString::new(relay.addr.to_string()).unwrap();
    let mut cfg = client_support::c_config_default();
    assert_eq!(cfg.peer_timeout_ms, 0);
    cfg.relay_address = address.as_ptr();
    assert_eq!(relay_guid_new(&mut cfg.guid), RelayStatus::Ok);
    cfg.retry_interval_ms = 20;
    cfg.retry_backoff_max_ms = 100;
    cfg.keepalive_interval_ms = 100;
    cfg.peer_timeout_ms = 400;
    let (mut a, mut b) = (std::ptr::null_mut(), std::ptr::null_mut());
    assert_eq!(relay_client_connect(&cfg, &mut a), RelayStatus::Ok);
    assert_eq!(relay_client_connect(&cfg, &mut b), RelayStatus::Ok);
    let start = Instant::now();
    let established = RelayClientState::Established as i32;
    while relay_client_state(a) != established || relay_client_state(b) != established {
        assert!(relay_client_poll(a, 5) >= 0 && relay_client_poll(b, 5) >= 0);
        assert!(start.elapsed() < Duration::from_secs(5));
    }
    // One datagram in flight when the relay goes: B still gets it after the loss.
    assert_eq!(relay_client_send(a, b"last".as_ptr(), 4), RelayStatus::Ok);
    let start = Instant::now();
    while relay_client_poll(b, 5) < 1 {
        assert!(start.elapsed() < Duration::from_secs(5));
    }
    relay.stop();
    let stopped = Instant::now();
    let lost = RelayClientState::Lost as i32;
    let mut ra = 0;
    while ra >= 0 || relay_client_state(b) != lost {
        if ra >= 0 {
            ra = relay_client_poll(a, 5);
        }
        // B still holds the datagram: its poll counts it rather than report the loss.
        assert_eq!(relay_client_poll(b, 5), 1);
        assert!(stopped.elapsed() < Duration::from_secs(3), "not lost: {ra}");
    }
    // Keep-alives arrived every 100 ms until the stop: at least 300 ms of silence more.
    assert!(
        stopped.elapsed() >= Duration::from_millis(250),
        "{:?}",
        stopped.elapsed()
    );
    assert_eq!(ra, RelayStatus::PeerLost as i32);
    let message = last_error();
    assert!(
        message.contains("relay_client_poll")
            && message.contains(&format!("through relay {}", address.to_str().unwrap()))
            && message.contains("for 400 ms (peer_timeout_ms)")
            && message.contains("_rejoin"),
        "{message}"
    );
    assert_eq!(relay_client_state(a), RelayClientState::Lost as i32);
    assert_eq!(
        relay_client_send(a, b"x".as_ptr(), 1),
        RelayStatus::PeerLost
    );
    let (mut buf, mut len) = ([0u8; 16], 0usize);
    assert_eq!(
        relay_client_recv(a, buf.as_mut_ptr(), buf.len(), &mut len),
        RelayStatus::PeerLost
    );
    // B is lost too, but what arrived before is still handed over first.
    assert_eq!(relay_client_state(b), RelayClientState::Lost as i32);
    assert_eq!(
        relay_client_recv(b, buf.as_mut_ptr(), buf.len(), &mut len),
        RelayStatus::Ok
    );
    assert_eq!(&buf[..len], b"last");
    assert_eq!(relay_client_poll(b, 0), RelayStatus::PeerLost as i32);
    assert_eq!(
        relay_client_recv(b, buf.as_mut_ptr(), buf.len(), &mut len),
        RelayStatus::PeerLost
    );
    assert_eq!(relay_client_close(a), RelayStatus::Ok);
    assert_eq!(relay_client_close(b), RelayStatus::Ok);
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
    let mut cfg = client_support::c_config_default();
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
