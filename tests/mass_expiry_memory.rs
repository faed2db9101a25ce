//! After a mass expiry the relay gives its tables' memory back, the token seat book and the
//! per-source half-open counts as well as the channel table: their room shrinks with the
//! channels that are left.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use udp_relay::protocol::Guid;
use udp_relay::relay::{Config, RelayCore};
use udp_relay::token::{Role, TokenKey};

#[path = "props/relay.rs"]
mod relay_props;
use relay_props::enter_with_token;

const SECRET: &[u8] = b"mass expiry secret";
const CHANNELS: u32 = 20_000;

/// A distinct loopback source for channel `i` (never sent to: the relay is driven sans-IO).
fn source(i: u32) -> SocketAddr {
    let ip = Ipv4Addr::from(0x7f00_0000 | (i + 1));
    SocketAddr::new(IpAddr::V4(ip), 4000)
}

#[test]
fn seat_book_and_pending_counts_shrink_with_the_channel_table() {
    let mut relay = RelayCore::new(Config {
        secret_key: Some(SECRET.to_vec()),
        inactivity_timeout: Duration::from_secs(1),
        ..Config::default()
    })
    .unwrap();
    let key = TokenKey::new(SECRET);
    let expiry = u64::MAX; // never, whatever the clock
    let open = |relay: &mut RelayCore, i: u32, now: Duration| {
        let token = key.mint(Guid(0x5EA7_0000 + u128::from(i)), Role::A, expiry);
        enter_with_token(relay, &token, 1, source(i), now);
    };
    for i in 0..CHANNELS {
        open(&mut relay, i, Duration::ZERO);
    }
    // One channel opened later outlives the others.
    open(&mut relay, CHANNELS, Duration::from_millis(900));
    assert_eq!(relay.stats().channels_open, u64::from(CHANNELS) + 1);
    let peak = relay.table_capacities();
    assert!(peak.seats > CHANNELS as usize, "{peak:?}");
    assert!(peak.pending_sources > CHANNELS as usize, "{peak:?}");

    let now = Duration::from_millis(1_500);
    for _ in 0..CHANNELS {
        relay.sans_io_tick(now);
        if relay.stats().channels_open == 1 {
            break;
        }
    }
    relay.check_invariants().unwrap();
    assert_eq!(relay.stats().channels_open, 1);
    let left = relay.table_capacities();
    let bound = peak.channel_slots / 16;
    assert!(left.channel_slots <= bound, "{left:?} after {peak:?}");
    assert!(
        left.seats <= bound,
        "seat book kept its peak: {left:?} after {peak:?}"
    );
    assert!(
        left.pending_sources <= bound,
        "pending counts kept their peak: {left:?} after {peak:?}"
    );
}
