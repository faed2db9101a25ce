//! Picking and following a relay through the C ABI: `relay_measure` reports each relay's
//! round trip and state (or that it did not answer, or did not resolve) in the order given;
//! `relay_client_rejoin` moves a lost client to another relay on the same socket and handle;
//! `relay_handshake_rejoin` restarts an engine's machine; bad arguments get clear statuses and
//! change nothing.

use std::ffi::{CString, c_char};
use std::net::UdpSocket;
use std::ptr::{null, null_mut};
use std::time::{Duration, Instant};

use udp_relay::client::{MAX_MEASURE_ATTEMPTS, MAX_MEASURE_TIMEOUT_MS, MAX_MEASURED_RELAYS};
use udp_relay::ffi::*;

mod client_support;
use client_support::{
    RelayThread, S, c_config_default, c_guid, c_mint_token, fails, last_error, unix_now,
};

const SECRET_1: &[u8] = b"the first region's relay secret, for its tickets";
const SECRET_2: &[u8] = b"the second region's relay secret, for its tickets";

fn measurement_array(n: usize) -> Vec<RelayMeasurement> {
    vec![RelayMeasurement::default(); n]
}

#[test]
fn relay_measure_reports_each_relay_in_order() {
    let (accepting, draining) = (
        RelayThread::start("127.0.0.1:0", Duration::from_secs(30), None),
        RelayThread::start("127.0.0.1:0", Duration::from_secs(30), None),
    );
    draining.drain();
    std::thread::sleep(Duration::from_millis(50));
    let hole = UdpSocket::bind("127.0.0.1:0").unwrap();
    let texts = [
        CString::new(accepting.addr.to_string()).unwrap(),
        CString::new(hole.local_addr().unwrap().to_string()).unwrap(),
        CString::new("not an address").unwrap(),
        CString::new(draining.addr.to_string()).unwrap(),
    ];
    let relays: Vec<*const c_char> = texts.iter().map(|t| t.as_ptr()).collect();
    let mut out = measurement_array(4);
    let start = Instant::now();
    let answered = relay_measure(relays.as_ptr(), 4, 2, 400, out.as_mut_ptr(), out.len());
    let took = start.elapsed();
    assert_eq!(answered, 2, "{}", last_error());
    assert!(took < Duration::from_secs(3), "{took:?}");

    let ok = RelayStatus::Ok as i32;
    assert_eq!(out[0].status, ok);
    assert_eq!(out[0].state, RelayProbeState::Accepting as u32);
    assert!(out[0].rtt_us > 0 && out[0].rtt_us < 400_000, "{:?}", out[0]);
    assert_eq!((out[0].probes_sent, out[0].replies), (2, 2));
    assert_eq!(out[0].address.family, 4);
    assert_eq!(out[0].address.port, accepting.addr.port());

    assert_eq!(out[1].status, RelayStatus::TimedOut as i32);
    assert_eq!((out[1].state, out[1].rtt_us), (0, 0));
    assert_eq!((out[1].probes_sent, out[1].replies), (2, 0));

    assert_eq!(out[2].status, RelayStatus::InvalidAddress as i32);
    assert_eq!((out[2].probes_sent, out[2].address.family), (0, 0));

    assert_eq!(out[3].status, ok);
    assert_eq!(out[3].state, RelayProbeState::Draining as u32);
}

#[test]
fn relay_measure_refuses_bad_arguments_writing_nothing() {
    let text = CString::new("127.0.0.1:9").unwrap();
    let relays = [text.as_ptr()];
    let untouched = RelayMeasurement {
        status: 77,
        ..RelayMeasurement::default()
    };
    let mut out = [untouched; 2];
    let p = out.as_mut_ptr();
    let calls: [(&dyn Fn() -> i32, RelayStatus, &str); 9] = [
        (
            &|| relay_measure(null(), 1, 1, 100, p, 2),
            RelayStatus::NullArgument,
            "`relays`",
        ),
        (
            &|| relay_measure(relays.as_ptr(), 1, 1, 100, null_mut(), 1),
            RelayStatus::NullArgument,
            "`out`",
        ),
        (
            &|| relay_measure([null()].as_ptr(), 1, 1, 100, p, 2),
            RelayStatus::NullArgument,
            "`relays[0]`",
        ),
        (
            &|| relay_measure(relays.as_ptr(), 1, 1, 100, p, 0),
            RelayStatus::BufferTooSmall,
            "room for 0",
        ),
        (
            &|| relay_measure(relays.as_ptr(), 1, 0, 100, p, 2),
            RelayStatus::InvalidArgument,
            "attempts is 0",
        ),
        (
            &|| relay_measure(relays.as_ptr(), 1, MAX_MEASURE_ATTEMPTS + 1, 100, p, 2),
            RelayStatus::InvalidArgument,
            "attempts is 17",
        ),
        (
            &|| relay_measure(relays.as_ptr(), 1, 1, 0, p, 2),
            RelayStatus::InvalidArgument,
            "timeout is 0 ms",
        ),
        (
            &|| relay_measure(relays.as_ptr(), 1, 1, MAX_MEASURE_TIMEOUT_MS + 1, p, 2),
            RelayStatus::InvalidArgument,
            "timeout is 60001 ms",
        ),
        (
            &|| relay_measure(relays.as_ptr(), MAX_MEASURED_RELAYS + 1, 1, 100, p, 2),
            RelayStatus::InvalidArgument,
            "1025 relays",
        ),
    ];
    for (call, expected, what) in calls {
        assert_eq!(call(), expected as i32, "{what}: {}", last_error());
        let message = last_error();
        assert!(
            message.contains("relay_measure") && message.contains(what),
            "{message}"
        );
    }
    assert!(out.iter().all(|m| m.status == 77), "written on failure");
    // Nothing to measure: 0 at once.
    assert_eq!(relay_measure(relays.as_ptr(), 0, 1, 100, p, 0), 0);
}

/// A client connected through the C ABI with a seat token, watching its relay closely.
fn connect(relay: &RelayThread, token: &[u8; RELAY_TOKEN_LEN]) -> *mut RelayClient {
    let address = CString::new(relay.addr.to_string()).unwrap();
    let cfg = RelayClientConfig {
        relay_address: address.as_ptr(),
        token: token.as_ptr(),
        token_len: token.len(),
        retry_interval_ms: 20,
        retry_backoff_max_ms: 100,
        keepalive_interval_ms: 100,
        peer_timeout_ms: 400,
        ..c_config_default()
    };
    let mut client = null_mut();
    assert_eq!(
        relay_client_connect(&cfg, &mut client),
        RelayStatus::Ok,
        "{}",
        last_error()
    );
    client
}

/// Polls until both clients are established; panics after 5 s.
fn establish(a: *mut RelayClient, b: *mut RelayClient) {
    let start = Instant::now();
    let established = RelayClientState::Established as i32;
    while relay_client_state(a) != established || relay_client_state(b) != established {
        assert!(relay_client_poll(a, 5) >= 0, "{}", last_error());
        assert!(relay_client_poll(b, 5) >= 0, "{}", last_error());
        assert!(start.elapsed() < Duration::from_secs(5), "not established");
    }
}

/// `from` sends `payload`; `to` must receive it within 5 s.
fn deliver(from: *mut RelayClient, to: *mut RelayClient, payload: &[u8]) {
    assert_eq!(
        relay_client_send(from, payload.as_ptr(), payload.len()),
        RelayStatus::Ok
    );
    let start = Instant::now();
    while relay_client_poll(to, 5) < 1 {
        assert!(relay_client_poll(from, 0) >= 0);
        assert!(start.elapsed() < Duration::from_secs(5), "not delivered");
    }
    let (mut buf, mut len) = ([0u8; 64], 0usize);
    assert_eq!(
        relay_client_recv(to, buf.as_mut_ptr(), buf.len(), &mut len),
        RelayStatus::Ok
    );
    assert_eq!(&buf[..len], payload);
}

#[test]
fn lost_clients_rejoin_another_relay_on_the_same_sockets_and_handles() {
    let relay_1 = RelayThread::requiring_tokens(SECRET_1, Duration::from_secs(30));
    let relay_2 = RelayThread::requiring_tokens(SECRET_2, Duration::from_secs(30));
    let guid_1 = c_guid();
    let expiry = unix_now() + 3600;
    let a = connect(
        &relay_1,
        &c_mint_token(SECRET_1, &guid_1, RELAY_TOKEN_ROLE_A, expiry),
    );
    let b = connect(
        &relay_1,
        &c_mint_token(SECRET_1, &guid_1, RELAY_TOKEN_ROLE_B, expiry),
    );
    establish(a, b);
    deliver(a, b, b"on the first relay");
    let ports = (relay_client_local_port(a), relay_client_local_port(b));

    relay_1.stop();
    let start = Instant::now();
    let lost = RelayClientState::Lost as i32;
    while relay_client_state(a) != lost || relay_client_state(b) != lost {
        relay_client_poll(a, 5);
        relay_client_poll(b, 5);
        assert!(start.elapsed() < Duration::from_secs(3), "not lost");
    }
    assert_eq!(relay_client_poll(a, 0), RelayStatus::PeerLost as i32);
    assert!(
        last_error().contains("relay_client_rejoin"),
        "{}",
        last_error()
    );

    let address = CString::new(relay_2.addr.to_string()).unwrap();
    let guid_2 = c_guid();
    let zero = RelayGuid::default();
    for (client, role) in [(a, RELAY_TOKEN_ROLE_A), (b, RELAY_TOKEN_ROLE_B)] {
        let token = c_mint_token(SECRET_2, &guid_2, role, expiry);
        // A zero GUID means the token's.
        assert_eq!(
            relay_client_rejoin(client, address.as_ptr(), &zero, token.as_ptr(), token.len()),
            RelayStatus::Ok,
            "{}",
            last_error()
        );
        assert_eq!(
            relay_client_state(client),
            RelayClientState::Handshaking as i32
        );
        assert_eq!(
            relay_client_send(client, b"x".as_ptr(), 1),
            RelayStatus::NotEstablished
        );
    }
    assert_eq!(
        (relay_client_local_port(a), relay_client_local_port(b)),
        ports
    );
    establish(a, b);
    deliver(b, a, b"on the second relay");
    deliver(a, b, b"and back");
    assert_eq!(relay_client_close(a), RelayStatus::Ok);
    assert_eq!(relay_client_close(b), RelayStatus::Ok);
    assert_eq!(relay_2.stop().channels_established, 1);
}

#[test]
fn a_rejoin_with_bad_arguments_gets_a_clear_status_and_changes_nothing() {
    let relay = RelayThread::start("127.0.0.1:0", Duration::from_secs(30), None);
    let address = CString::new(relay.addr.to_string()).unwrap();
    let guid = c_guid();
    let cfg = RelayClientConfig {
        relay_address: address.as_ptr(),
        guid,
        ..c_config_default()
    };
    let mut client = null_mut();
    assert_eq!(relay_client_connect(&cfg, &mut client), RelayStatus::Ok);
    let port = relay_client_local_port(client);
    let elsewhere = CString::new("127.0.0.1:9").unwrap();
    let zero = RelayGuid::default();
    let other = c_guid();
    let token = c_mint_token(SECRET_2, &other, RELAY_TOKEN_ROLE_A, unix_now() + 60);
    let e = elsewhere.as_ptr();
    const F: &str = "relay_client_rejoin";
    let calls: [(&dyn Fn() -> RelayStatus, RelayStatus, &str); 10] = [
        (
            &|| relay_client_rejoin(null_mut(), e, &guid, null(), 0),
            RelayStatus::NullArgument,
            "`client`",
        ),
        (
            &|| relay_client_rejoin(client, null(), &guid, null(), 0),
            RelayStatus::NullArgument,
            "`relay_address`",
        ),
        (
            &|| relay_client_rejoin(client, e, null(), null(), 0),
            RelayStatus::NullArgument,
            "`guid`",
        ),
        (
            &|| relay_client_rejoin(client, e, &guid, null(), RELAY_TOKEN_LEN),
            RelayStatus::NullArgument,
            "`token`",
        ),
        (
            &|| relay_client_rejoin(client, e, &zero, null(), 0),
            RelayStatus::InvalidArgument,
            "GUID is zero",
        ),
        (
            &|| relay_client_rejoin(client, e, &guid, token.as_ptr(), 59),
            RelayStatus::InvalidArgument,
            "token_len is 59",
        ),
        (
            &|| relay_client_rejoin(client, e, &guid, token.as_ptr(), token.len()),
            RelayStatus::InvalidArgument,
            "seat token",
        ),
        (
            &|| relay_client_rejoin(client, c"nowhere:x".as_ptr(), &guid, null(), 0),
            RelayStatus::InvalidAddress,
            "\"nowhere:x\"",
        ),
        (
            &|| relay_client_rejoin(client, c"[::1]:6060".as_ptr(), &guid, null(), 0),
            RelayStatus::InvalidAddress,
            "IPv6",
        ),
        (
            &|| relay_client_rejoin(0xC11E_0008 as *mut RelayClient, e, &guid, null(), 0),
            RelayStatus::InvalidHandle,
            "not a live handle",
        ),
    ];
    for (call, expected, says) in calls {
        fails(S(call()), expected, F);
        assert!(last_error().contains(says), "{}", last_error());
    }
    // Untouched: still joining the first relay, from the same port.
    assert_eq!(
        relay_client_state(client),
        RelayClientState::Handshaking as i32
    );
    assert_eq!(relay_client_local_port(client), port);
    let start = Instant::now();
    while relay.stats().handshakes_accepted == 0 {
        assert!(relay_client_poll(client, 5) >= 0);
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no handshake arrived"
        );
    }
    assert_eq!(relay_client_close(client), RelayStatus::Ok);
    assert_eq!(
        relay_client_rejoin(client, e, &guid, null(), 0),
        RelayStatus::InvalidHandle
    );
}

#[test]
fn a_handshake_machine_rejoins_with_a_new_ticket() {
    let guid = c_guid();
    let cfg = RelayClientConfig {
        guid,
        ..c_config_default()
    };
    let mut hs = null_mut();
    assert_eq!(relay_handshake_new(&cfg, &mut hs), RelayStatus::Ok);
    let mut buf = [0u8; RELAY_MAX_HANDSHAKE_LEN];
    assert_eq!(relay_handshake_poll(hs, buf.as_mut_ptr(), buf.len()), 56);
    assert_eq!(
        relay_handshake_receive(hs, b"game".as_ptr(), 4),
        RelayDatagramKind::Data as i32
    );
    assert_eq!(
        relay_handshake_state(hs),
        RelayClientState::Established as i32
    );

    let next = c_guid();
    let token = c_mint_token(SECRET_2, &next, RELAY_TOKEN_ROLE_B, unix_now() + 60);
    const F: &str = "relay_handshake_rejoin";
    fails(
        S(relay_handshake_rejoin(hs, null(), null(), 0)),
        RelayStatus::NullArgument,
        F,
    );
    fails(
        S(relay_handshake_rejoin(
            hs,
            &guid,
            token.as_ptr(),
            token.len(),
        )),
        RelayStatus::InvalidArgument,
        F,
    );
    fails(
        S(relay_handshake_rejoin(null_mut(), &next, null(), 0)),
        RelayStatus::NullArgument,
        F,
    );
    assert_eq!(
        relay_handshake_state(hs),
        RelayClientState::Established as i32,
        "untouched"
    );
    assert_eq!(
        relay_handshake_rejoin(hs, &next, token.as_ptr(), token.len()),
        RelayStatus::Ok,
        "{}",
        last_error()
    );
    assert_eq!(
        relay_handshake_state(hs),
        RelayClientState::Handshaking as i32
    );
    let n = relay_handshake_poll(hs, buf.as_mut_ptr(), buf.len());
    assert_eq!(
        n, RELAY_TOKEN_HANDSHAKE_LEN as i32,
        "due at once, with the token"
    );
    let mut written = RelayGuid::default();
    let text = {
        let mut t = [0 as c_char; RELAY_GUID_STRING_SIZE];
        relay_guid_format(&next, t.as_mut_ptr(), t.len());
        t
    };
    assert_eq!(
        relay_guid_parse(text.as_ptr(), &mut written),
        RelayStatus::Ok
    );
    assert_eq!(
        &buf[8..24],
        &((u128::from(written.hi) << 64) | u128::from(written.lo)).to_be_bytes()
    );
    assert_eq!(relay_handshake_free(hs), RelayStatus::Ok);
}
