//! Seat-token expiry is judged by the wall clock at the time of judgment, not by a reading
//! taken when the relay started (which a relay started before its clock was synchronised
//! would keep for its lifetime), and a clock before 1970 expires every token.

mod client_support;
use client_support::unix_now;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use udp_relay::protocol::Guid;
use udp_relay::relay::{Config, RelayCore};
use udp_relay::token::{Role, TokenKey};

#[path = "props/relay.rs"]
mod relay_props;
use relay_props::enter_with_token;

const SECRET: &[u8] = b"token clock secret";

fn relay() -> RelayCore {
    RelayCore::new(Config {
        secret_key: Some(SECRET.to_vec()),
        require_tokens: true,
        ..Config::default()
    })
    .unwrap()
}

/// Feeds seat A's token handshake for `guid`, expiring at `expiry`, at relay time `now`.
fn offer(relay: &mut RelayCore, guid: u128, expiry: u64, now: Duration) {
    let token = TokenKey::new(SECRET).mint(Guid(guid), Role::A, expiry);
    let src = SocketAddr::from(([127, 0, 0, 1], 4000 + (guid as u16)));
    enter_with_token(relay, &token, 1, src, now);
}

#[test]
fn a_token_expires_when_the_wall_clock_passes_its_expiry() {
    let mut relay = relay();
    // Two seconds ahead: with one, a second boundary between this reading and the relay's
    // own (a slow machine, an emulator) would expire the token before the first offer.
    let expiry = unix_now() + 2;
    offer(&mut relay, 1, expiry, Duration::ZERO);
    assert_eq!(relay.stats().channels_open, 1, "valid now");

    let deadline = Instant::now() + Duration::from_secs(5);
    while unix_now() < expiry && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // The relay's own time has not moved (the caller says so): only the wall clock tells
    // the token is over.
    offer(&mut relay, 2, expiry, Duration::ZERO);
    let s = relay.stats();
    assert_eq!((s.tokens_expired, s.channels_open), (1, 1), "{s:?}");
}

#[test]
fn a_wall_clock_step_after_start_counts() {
    let mut relay = relay();
    let expiry = unix_now() + 3600;
    relay.sans_io_shift_wall_clock(2 * 3600 * 1000);
    offer(&mut relay, 1, expiry, Duration::ZERO);
    assert_eq!(
        relay.stats().tokens_expired,
        1,
        "two hours on, an hour's token is over"
    );
    relay.sans_io_shift_wall_clock(0);
    offer(&mut relay, 2, expiry, Duration::ZERO);
    assert_eq!(
        relay.stats().channels_open,
        1,
        "back in time, it is valid again"
    );
}

#[test]
fn a_clock_before_1970_expires_every_token() {
    let mut relay = relay();
    let before_1970 = -((unix_now() as i64 + 86_400) * 1000);
    relay.sans_io_shift_wall_clock(before_1970);
    offer(&mut relay, 1, u64::MAX, Duration::ZERO);
    let s = relay.stats();
    assert_eq!((s.tokens_expired, s.channels_open), (1, 0), "{s:?}");
}
