//! Clients following their game from one relay to another on the same socket, against real
//! relays on loopback: the relay is stopped, both clients notice within their peer timeout,
//! rejoin another relay with new tickets from the same local ports and talk again; a client
//! whose relay drains rejoins elsewhere while still established; a bad ticket is refused and
//! changes nothing.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use udp_relay::client::{
    Client, ClientError, MachineError, RejoinError, State, Timing, measure_relays,
};
use udp_relay::probe::RelayState;
use udp_relay::protocol::Guid;
use udp_relay::token::{Role, Token, TokenKey};

mod client_support;
use client_support::{RelayThread, config, establish, exchange, unix_now};

/// Each region's relay has its own secret; the matchmaker holds them all.
const SECRET_1: &[u8] = b"the first region's relay secret, for its tickets";
const SECRET_2: &[u8] = b"the second region's relay secret, for its tickets";

const KEEPALIVE: Duration = Duration::from_millis(100);
const PEER_TIMEOUT: Duration = Duration::from_millis(400);

fn timing() -> Timing {
    Timing {
        retry_interval: Duration::from_millis(20),
        retry_backoff_max: Duration::from_millis(100),
        keepalive_interval: Some(KEEPALIVE),
        peer_timeout: Some(PEER_TIMEOUT),
        ..Timing::default()
    }
}

/// The matchmaker's tickets for a new channel on the relay keyed with `secret`: one seat
/// token per player.
fn tickets(secret: &[u8]) -> (Token, Token) {
    let guid = Guid::random().unwrap();
    let key = TokenKey::new(secret);
    let expiry = unix_now() + 3600;
    (
        key.mint(guid, Role::A, expiry),
        key.mint(guid, Role::B, expiry),
    )
}

fn connect(relay: SocketAddr, token: Token) -> Client {
    let mut cfg = config(relay, Guid::ZERO);
    cfg.token = Some(token);
    cfg.timing = timing();
    Client::connect(cfg).unwrap()
}

fn len_of(seq: u32) -> usize {
    8 + seq as usize % 300
}

/// Polls both clients until both are Lost; returns how long that took. Panics after `limit`.
fn until_lost(a: &mut Client, b: &mut Client, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let (sa, sb) = (
            a.poll(Duration::from_millis(5)).unwrap(),
            b.poll(Duration::from_millis(5)).unwrap(),
        );
        if sa == State::Lost && sb == State::Lost {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "not lost within {limit:?}: a {sa:?}, b {sb:?}"
        );
    }
}

#[test]
fn both_clients_notice_their_relay_is_gone_and_follow_to_another_on_the_same_sockets() {
    let relay_1 = RelayThread::requiring_tokens(SECRET_1, Duration::from_secs(30));
    let relay_2 = RelayThread::requiring_tokens(SECRET_2, Duration::from_secs(30));
    let (seat_a, seat_b) = tickets(SECRET_1);
    let mut a = connect(relay_1.addr, seat_a);
    let mut b = connect(relay_1.addr, seat_b);
    establish(&mut a, &mut b, Duration::from_secs(5));
    exchange(&mut a, &mut b, 200, len_of);
    let ports = (a.local_addr(), b.local_addr());
    let before = (a.stats(), b.stats());

    // The relay is killed: silence. Both notice within the peer timeout (with room for a
    // busy machine; this bounds the wait, it does not time it).
    relay_1.stop();
    let took = until_lost(&mut a, &mut b, PEER_TIMEOUT * 5);
    assert!(took <= PEER_TIMEOUT * 5, "{took:?}");
    for c in [&mut a, &mut b] {
        assert!(matches!(c.send(b"x"), Err(ClientError::PeerLost)));
    }

    // The matchmaker hands out new tickets on the second relay; the same clients rejoin.
    let (seat_a, seat_b) = tickets(SECRET_2);
    a.rejoin(relay_2.addr, Guid::ZERO, Some(seat_a)).unwrap();
    b.rejoin(relay_2.addr, seat_b.guid, Some(seat_b)).unwrap();
    for c in [&mut a, &mut b] {
        assert_eq!(c.state(), State::Handshaking);
        assert_eq!(c.relay_addr(), relay_2.addr);
        assert_eq!(c.guid(), seat_a.guid);
        // Not established yet: today's rule for any handshaking client.
        assert!(matches!(c.send(b"early"), Err(ClientError::NotEstablished)));
    }
    assert_eq!((a.local_addr(), b.local_addr()), ports, "same sockets");
    establish(&mut a, &mut b, Duration::from_secs(5));
    exchange(&mut a, &mut b, 200, len_of);

    // The counters went on counting across the move.
    for (c, was) in [(&a, before.0), (&b, before.1)] {
        let s = c.stats();
        assert_eq!(s.datagrams_sent, was.datagrams_sent + 200, "{s:?}");
        assert_eq!(s.datagrams_received, was.datagrams_received + 200, "{s:?}");
        assert!(s.handshakes_sent > was.handshakes_sent, "{s:?}");
    }
    let stats = relay_2.stop();
    assert_eq!(stats.channels_established, 1, "{stats:?}");
    assert_eq!(stats.tokens_invalid + stats.tokens_replayed, 0, "{stats:?}");
}

/// A relay that drains keeps relaying its open channels, so the game need not wait for a
/// loss: it sees the drain (measuring the relay from a socket of its own), gets new tickets
/// and both clients rejoin elsewhere while still established. Plain v0.8 handshakes here.
#[test]
fn clients_leave_a_draining_relay_while_established() {
    let relay_1 = RelayThread::start("127.0.0.1:0", Duration::from_secs(30), None);
    let relay_2 = RelayThread::start("127.0.0.1:0", Duration::from_secs(30), None);
    let guid = Guid::random().unwrap();
    let mut cfg = config(relay_1.addr, guid);
    cfg.timing = timing();
    let mut a = Client::connect(cfg.clone()).unwrap();
    let mut b = Client::connect(cfg).unwrap();
    establish(&mut a, &mut b, Duration::from_secs(5));

    relay_1.drain();
    let start = Instant::now();
    loop {
        let seen = measure_relays(&[relay_1.addr], 1, Duration::from_secs(1)).unwrap();
        if seen[0].state() == Some(RelayState::Draining) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{seen:?}");
    }
    // Still relaying meanwhile.
    exchange(&mut a, &mut b, 20, len_of);

    let next = Guid::random().unwrap();
    a.rejoin(relay_2.addr, next, None).unwrap();
    // b lags a moment behind (its ticket came later): its datagrams through the old relay
    // reach a's socket from an address that is no longer its relay, and are dropped.
    b.send(b"through the old relay").unwrap();
    let dropped = a.stats().foreign_dropped;
    let until = Instant::now() + Duration::from_secs(5);
    while a.stats().foreign_dropped == dropped {
        a.poll(Duration::from_millis(5)).unwrap();
        assert!(
            Instant::now() < until,
            "the old relay's datagram never came"
        );
    }
    assert_eq!(a.queued(), 0);
    b.rejoin(relay_2.addr, next, None).unwrap();
    establish(&mut a, &mut b, Duration::from_secs(5));
    exchange(&mut a, &mut b, 20, len_of);
    assert_eq!(relay_2.stop().channels_established, 1);
}

#[test]
fn a_bad_ticket_is_refused_and_changes_nothing() {
    let relay = RelayThread::requiring_tokens(SECRET_1, Duration::from_secs(30));
    let (seat_a, _) = tickets(SECRET_1);
    let mut a = connect(relay.addr, seat_a);
    let other: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let (other_seat, _) = tickets(SECRET_2);

    assert_eq!(
        a.rejoin(other, Guid::ZERO, None).unwrap_err(),
        RejoinError::Ticket(MachineError::ZeroGuid)
    );
    let wrong = Guid(0x1234);
    let e = a.rejoin(other, wrong, Some(other_seat)).unwrap_err();
    assert_eq!(
        e,
        RejoinError::Ticket(MachineError::TokenGuid {
            guid: wrong,
            token: other_seat.guid
        })
    );
    assert!(e.to_string().contains("seat token"), "{e}");
    let v6: SocketAddr = "[::1]:6060".parse().unwrap();
    let e = a.rejoin(v6, Guid::ZERO, Some(other_seat)).unwrap_err();
    assert!(matches!(e, RejoinError::AddressFamily { .. }), "{e:?}");
    assert!(
        e.to_string().contains("IPv6") && e.to_string().contains("new client"),
        "{e}"
    );
    assert_eq!(
        std::io::Error::from(e).kind(),
        std::io::ErrorKind::InvalidInput
    );
    // Untouched: same relay, same channel, still handshaking towards it.
    assert_eq!(
        (a.relay_addr(), a.guid(), a.state()),
        (relay.addr, seat_a.guid, State::Handshaking)
    );
}
