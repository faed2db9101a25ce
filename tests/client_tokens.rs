//! Clients with seat tokens against an in-process relay that requires them, on loopback:
//! two library-owned clients (roles A and B) exchange datagrams with none lost, keep-alives
//! carrying the token hold a quiet channel open, an expired token times out, a client that
//! comes back from a new port with the same token takes its seat back, and the C ABI checks
//! the token it is given.

mod client_support;
use client_support::last_error;

use std::ffi::CString;
use std::ptr::{null, null_mut};
use std::time::{Duration, Instant};

use client_support::{RelayThread, config, establish, exchange, quiet_then_ping, unix_now};
use udp_relay::client::{Client, State, Timing};
use udp_relay::ffi::*;
use udp_relay::protocol::Guid;
use udp_relay::token::{Role, Token, TokenKey};

const SECRET: &[u8] = b"the relay's secret, which only the matchmaker shares";

/// The two seats of a fresh channel, valid for an hour.
fn seats() -> (Token, Token) {
    let guid = Guid::random().unwrap();
    let key = TokenKey::new(SECRET);
    let expiry = unix_now() + 3600;
    (
        key.mint(guid, Role::A, expiry),
        key.mint(guid, Role::B, expiry),
    )
}

/// A client of `relay` holding `token`; the GUID is left zero (taken from the token).
fn len_of(seq: u32) -> usize {
    8 + seq as usize % 900
}

fn connect(relay: &RelayThread, token: Token, timing: Timing) -> Client {
    let mut cfg = config(relay.addr, Guid::ZERO);
    cfg.token = Some(token);
    cfg.timing = timing;
    Client::connect(cfg).unwrap()
}

#[test]
fn token_holders_exchange_a_thousand_datagrams_each_way() {
    let relay = RelayThread::requiring_tokens(SECRET, Duration::from_secs(30));
    let (seat_a, seat_b) = seats();
    let mut a = connect(&relay, seat_a, Timing::default());
    let mut b = connect(&relay, seat_b, Timing::default());
    assert!(a.has_token() && b.has_token());
    assert_eq!(a.guid(), seat_a.guid);
    establish(&mut a, &mut b, Duration::from_secs(5));
    exchange(&mut a, &mut b, 1_000, len_of);
    // Handshakes went both ways and none reached the game (the arrivals would have caught
    // a stray one as a bad datagram).
    for c in [&a, &b] {
        let s = c.stats();
        assert!(
            s.handshakes_sent >= 1 && s.handshakes_received >= 1,
            "{s:?}"
        );
        assert_eq!(s.discarded, 0, "{s:?}");
        assert_eq!(s.datagrams_received, 1_000, "{s:?}");
    }
    drop((a, b));
    let stats = relay.stop();
    assert_eq!(stats.channels_established, 1, "{stats:?}");
    assert_eq!(stats.tokens_invalid + stats.tokens_expired, 0, "{stats:?}");
    assert_eq!(stats.tokens_replayed, 0, "{stats:?}");
    assert_eq!(stats.handshakes_rejected, 0, "{stats:?}");
    assert_eq!(stats.datagrams_dropped, 0, "{stats:?}");
}

#[test]
fn plain_clients_are_refused_where_tokens_are_required() {
    // The control for the test above: the same relay admits nobody without a token.
    let relay = RelayThread::requiring_tokens(SECRET, Duration::from_secs(30));
    let mut cfg = config(relay.addr, Guid::random().unwrap());
    cfg.secret_key = Some(SECRET.to_vec());
    cfg.timing = Timing {
        retry_interval: Duration::from_millis(50),
        retry_backoff_max: Duration::from_millis(100),
        handshake_timeout: Duration::from_millis(400),
        ..Timing::default()
    };
    let mut a = Client::connect(cfg.clone()).unwrap();
    let mut b = Client::connect(cfg).unwrap();
    let start = Instant::now();
    while a.state() == State::Handshaking || b.state() == State::Handshaking {
        a.poll(Duration::from_millis(10)).unwrap();
        b.poll(Duration::from_millis(10)).unwrap();
        assert!(start.elapsed() < Duration::from_secs(5));
    }
    assert_eq!((a.state(), b.state()), (State::TimedOut, State::TimedOut));
    let stats = relay.stop();
    assert_eq!(stats.channels_allocated_total, 0, "{stats:?}");
}

#[test]
fn token_keepalives_hold_a_quiet_channel_open() {
    let relay = RelayThread::requiring_tokens(SECRET, Duration::from_millis(300));
    let (seat_a, seat_b) = seats();
    let timing = Timing {
        keepalive_interval: Some(Duration::from_millis(100)),
        ..Timing::default()
    };
    let mut a = connect(&relay, seat_a, timing);
    let mut b = connect(&relay, seat_b, timing);
    establish(&mut a, &mut b, Duration::from_secs(5));
    // Four times the relay's inactivity timeout without game traffic.
    let (a_got, b_got) = quiet_then_ping(
        &mut a,
        &mut b,
        Duration::from_millis(1_200),
        Duration::from_secs(2),
    );
    assert!(a.stats().handshakes_sent >= 8, "{:?}", a.stats());
    assert!(a_got && b_got, "a got pong: {a_got}, b got ping: {b_got}");
    drop((a, b));
    let stats = relay.stop();
    assert_eq!(stats.channels_expired_total, 0, "{stats:?}");
    assert_eq!(stats.channels_allocated_total, 1, "{stats:?}");
    // Every keep-alive was a fresh token handshake the relay checked and noted.
    assert_eq!(
        stats.tokens_invalid + stats.tokens_expired + stats.tokens_replayed,
        0,
        "{stats:?}"
    );
}

#[test]
fn an_expired_token_times_out_through_the_c_abi() {
    let relay = RelayThread::requiring_tokens(SECRET, Duration::from_secs(30));
    let mut guid = RelayGuid::default();
    assert_eq!(relay_guid_new(&mut guid), RelayStatus::Ok);
    // Seat A expired a minute ago; seat B is valid and waits for it in vain.
    let mint = |role, expiry| client_support::c_mint_token(SECRET, &guid, role, expiry);
    let expired = mint(RELAY_TOKEN_ROLE_A, unix_now() - 60);
    let valid = mint(RELAY_TOKEN_ROLE_B, unix_now() + 3600);
    let address = CString::new(relay.addr.to_string()).unwrap();
    let mut cfg = client_support::c_config_default();
    assert!(cfg.token.is_null() && cfg.token_len == 0);
    cfg.relay_address = address.as_ptr();
    cfg.guid = guid;
    cfg.retry_interval_ms = 50;
    cfg.retry_backoff_max_ms = 100;
    cfg.handshake_timeout_ms = 400;
    let (mut a, mut b) = (null_mut(), null_mut());
    cfg.token = expired.as_ptr();
    cfg.token_len = expired.len();
    assert_eq!(relay_client_connect(&cfg, &mut a), RelayStatus::Ok);
    cfg.token = valid.as_ptr();
    assert_eq!(relay_client_connect(&cfg, &mut b), RelayStatus::Ok);
    let start = Instant::now();
    let status = loop {
        let (ra, rb) = (relay_client_poll(a, 20), relay_client_poll(b, 20));
        assert!(rb >= 0 || rb == RelayStatus::TimedOut as i32, "{rb}");
        if ra < 0 {
            break ra;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "never timed out");
    };
    assert_eq!(status, RelayStatus::TimedOut as i32);
    let message = last_error();
    assert!(
        message.contains("no answer") && message.contains("expired"),
        "{message}"
    );
    assert_eq!(relay_client_state(a), RelayClientState::TimedOut as i32);
    assert_eq!(relay_client_close(a), RelayStatus::Ok);
    assert_eq!(relay_client_close(b), RelayStatus::Ok);
    let stats = relay.stop();
    assert!(stats.tokens_expired >= 3, "{stats:?}");
    assert_eq!(stats.channels_established, 0, "{stats:?}");
}

#[test]
fn a_client_back_from_a_new_port_takes_its_seat_back() {
    let relay = RelayThread::requiring_tokens(SECRET, Duration::from_secs(30));
    let (seat_a, seat_b) = seats();
    let mut a = connect(&relay, seat_a, Timing::default());
    let mut b = connect(&relay, seat_b, Timing::default());
    establish(&mut a, &mut b, Duration::from_secs(5));
    exchange(&mut a, &mut b, 100, len_of);
    let old_port = a.local_addr().port();
    // The game restarts its client (or the NAT maps it to a new port): same token, new
    // socket. The relay moves seat A there because the sequence is fresh.
    drop(a);
    let mut a = connect(&relay, seat_a, Timing::default());
    assert_ne!(a.local_addr().port(), old_port);
    establish(&mut a, &mut b, Duration::from_secs(5));
    exchange(&mut a, &mut b, 500, len_of);
    drop((a, b));
    let stats = relay.stop();
    assert_eq!(stats.peers_rebound, 1, "{stats:?}");
    assert_eq!(stats.channels_allocated_total, 1, "{stats:?}");
    assert_eq!(stats.tokens_replayed, 0, "{stats:?}");
}

#[test]
fn the_c_abi_checks_the_token_it_is_given() {
    use RelayStatus::*;
    let (seat_a, _) = seats();
    let token = seat_a.to_bytes();
    let address = CString::new("127.0.0.1:9").unwrap();
    let base = RelayClientConfig {
        relay_address: address.as_ptr(),
        token: token.as_ptr(),
        token_len: token.len(),
        ..client_support::c_config_default()
    };
    let mut bad_version = token.clone();
    bad_version[0] = 3;
    let other_guid = RelayGuid { hi: 1, lo: 2 };
    let cases: Vec<(RelayClientConfig, RelayStatus, &[&str])> = vec![
        (
            RelayClientConfig {
                token_len: RELAY_TOKEN_LEN - 1,
                ..base
            },
            InvalidArgument,
            &["token_len is 59", "RELAY_TOKEN_LEN (60)"],
        ),
        (
            RelayClientConfig {
                token_len: RELAY_TOKEN_LEN + 1,
                ..base
            },
            InvalidArgument,
            &["token_len is 61"],
        ),
        (
            RelayClientConfig {
                token: null(),
                ..base
            },
            NullArgument,
            &["config.token"],
        ),
        (
            RelayClientConfig {
                token: bad_version.as_ptr(),
                ..base
            },
            InvalidArgument,
            &["config.token", "malformed"],
        ),
        (
            RelayClientConfig {
                guid: other_guid,
                ..base
            },
            InvalidArgument,
            &["not the GUID", "token"],
        ),
    ];
    for (cfg, status, words) in &cases {
        let (mut client, mut hs) = (null_mut(), null_mut());
        assert_eq!(relay_client_connect(cfg, &mut client), *status, "{words:?}");
        let message = last_error();
        assert!(message.starts_with("relay_client_connect"), "{message}");
        assert!(words.iter().all(|w| message.contains(w)), "{message}");
        assert_eq!(relay_handshake_new(cfg, &mut hs), *status, "{words:?}");
        let message = last_error();
        assert!(message.starts_with("relay_handshake_new"), "{message}");
        assert!(words.iter().all(|w| message.contains(w)), "{message}");
        assert!(client.is_null() && hs.is_null(), "written only on success");
    }
    // The token's own GUID spelled out, or left zero, is accepted; the library keeps a copy,
    // so the caller's bytes may change right after the call.
    for guid in [RelayGuid::from(seat_a.guid), RelayGuid::default()] {
        let mut copy = token.clone();
        let cfg = RelayClientConfig {
            guid,
            token: copy.as_ptr(),
            ..base
        };
        let mut hs = null_mut();
        assert_eq!(relay_handshake_new(&cfg, &mut hs), Ok);
        copy.fill(0);
        let mut out = [0u8; RELAY_MAX_HANDSHAKE_LEN];
        let n = relay_handshake_poll(hs, out.as_mut_ptr(), out.len());
        assert_eq!(n, RELAY_TOKEN_HANDSHAKE_LEN as i32);
        assert_eq!(&out[8..24], &seat_a.guid.0.to_be_bytes());
        assert_eq!(relay_handshake_free(hs), Ok);
    }
}

#[test]
fn handshake_buffers_must_fit_the_token_handshake() {
    let (seat_a, _) = seats();
    let token = seat_a.to_bytes();
    let cfg = RelayClientConfig {
        token: token.as_ptr(),
        token_len: token.len(),
        ..client_support::c_config_default()
    };
    let mut hs = null_mut();
    assert_eq!(relay_handshake_new(&cfg, &mut hs), RelayStatus::Ok);
    // The 56-byte buffer that suffices without a token is refused with a clear message,
    // and the due handshake stays due.
    let mut small = [0xAAu8; RELAY_HANDSHAKE_LEN];
    assert_eq!(
        relay_handshake_poll(hs, small.as_mut_ptr(), small.len()),
        RelayStatus::BufferTooSmall as i32
    );
    let message = last_error();
    assert!(
        message.contains("needs 76 bytes")
            && message.contains("token")
            && message.contains("RELAY_MAX_HANDSHAKE_LEN"),
        "{message}"
    );
    assert!(small.iter().all(|&b| b == 0xAA), "nothing written");
    let mut out = [0u8; RELAY_MAX_HANDSHAKE_LEN + 4];
    assert_eq!(
        relay_handshake_poll(hs, out.as_mut_ptr(), out.len()),
        RELAY_TOKEN_HANDSHAKE_LEN as i32
    );
    assert_eq!(out[6] & 0x80, 0x80, "token flag");
    assert_eq!(relay_handshake_free(hs), RelayStatus::Ok);
}
