//! What a member's own datagrams can do to its channel. A datagram from a paired address
//! ends or moves its channel only when it is a *verified* handshake (keyed HMAC or seat
//! token) for another GUID that the relay will admit; everything else a member sends is its
//! channel's data. A member's handshakes for its own channel cost its source no handshake
//! budget, and a token handshake of a member is noted whatever its source's budget, so no
//! copy of it can move the seat.
//!
//! The branches run through the relay logic without sockets (`Relay::sans_io_datagram`,
//! with the per-datagram invariants of `tests/props/relay.rs`); the payload that starts
//! with the magic also runs over real loopback sockets.

mod client_support;
use client_support::unix_now;
use std::net::SocketAddr;
use std::time::Duration;

#[path = "relay_loop/mod.rs"]
mod relay_loop;
#[path = "props/relay.rs"]
mod relay_props;
use relay_props::feed;
use udp_relay::admission::Limits;
use udp_relay::cookie::{Cookie, read_challenge, write_handshake_with_cookie};
use udp_relay::protocol::{Guid, HandshakeKey, MAGIC, write_handshake};
use udp_relay::relay::{Config, Relay, RelayCore, Verdict};
use udp_relay::token::{
    Role, TokenKey, write_handshake_with_token, write_handshake_with_token_and_cookie,
};

const SECRET: &[u8] = b"membership test secret";
const GUID: Guid = Guid(0x1111_2222_3333_4444_5555_6666_7777_8888);
const OTHER: Guid = Guid(0x9999_aaaa_bbbb_cccc_dddd_eeee_ffff_0001);

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn a() -> SocketAddr {
    addr("192.0.2.10:4000")
}
fn b() -> SocketAddr {
    addr("198.51.100.20:5000")
}
fn c() -> SocketAddr {
    addr("203.0.113.30:6000")
}
fn d() -> SocketAddr {
    addr("203.0.113.40:7000")
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Unkeyed,
    Keyed,
    Tokens,
}

fn relay(mode: Mode, tune: impl FnOnce(&mut Config)) -> RelayCore {
    let mut config = Config {
        secret_key: (mode != Mode::Unkeyed).then(|| SECRET.to_vec()),
        require_tokens: mode == Mode::Tokens,
        ..Config::default()
    };
    tune(&mut config);
    RelayCore::new(config).unwrap()
}

fn plain(guid: Guid, key: Option<&[u8]>) -> Vec<u8> {
    let key = key.map(HandshakeKey::new);
    let mut out = vec![0u8; 56];
    write_handshake(&mut out, guid, 0, &[], key.as_ref()).unwrap();
    out
}

fn token_handshake(guid: Guid, role: Role, sequence: u64) -> Vec<u8> {
    let token = TokenKey::new(SECRET).mint(guid, role, unix_now() + 3600);
    let mut out = vec![0u8; 76];
    write_handshake_with_token(&mut out, &token, sequence).unwrap();
    out
}

/// The handshake a peer of `mode` sends for `guid` in `role`.
fn hello(mode: Mode, guid: Guid, role: Role, sequence: u64) -> Vec<u8> {
    match mode {
        Mode::Unkeyed => plain(guid, None),
        Mode::Keyed => plain(guid, Some(SECRET)),
        Mode::Tokens => token_handshake(guid, role, sequence),
    }
}

/// [`hello`] echoing the relay's return-path `cookie`.
fn hello_with_cookie(
    mode: Mode,
    guid: Guid,
    role: Role,
    sequence: u64,
    cookie: &Cookie,
) -> Vec<u8> {
    let mut out = vec![0u8; 92];
    let n = match mode {
        Mode::Unkeyed => write_handshake_with_cookie(&mut out, guid, None, cookie),
        Mode::Keyed => {
            write_handshake_with_cookie(&mut out, guid, Some(&HandshakeKey::new(SECRET)), cookie)
        }
        Mode::Tokens => {
            let token = TokenKey::new(SECRET).mint(guid, role, unix_now() + 3600);
            write_handshake_with_token_and_cookie(&mut out, &token, sequence, Some(cookie))
        }
    };
    out.truncate(n.unwrap());
    out
}

/// Sends the handshake of `mode` for `guid` and `role` from `from`; if the relay answers
/// with a return-path challenge (it always does for a token handshake from an unproven
/// address), sends it again echoing the cookie. Returns the last verdict.
fn enter(
    r: &mut RelayCore,
    clock: &mut Clock,
    mode: Mode,
    (guid, role, sequence): (Guid, Role, u64),
    from: SocketAddr,
) -> Verdict {
    let now = clock.tick();
    match feed(r, &hello(mode, guid, role, sequence), from, now, true) {
        Verdict::Challenge(c) => {
            let cookie = read_challenge(&c.datagram, guid).expect("a challenge for the GUID");
            let again = hello_with_cookie(mode, guid, role, sequence + 1, &cookie);
            let now = clock.tick();
            feed(r, &again, from, now, true)
        }
        v => v,
    }
}

/// An 80-byte game payload that starts with the handshake magic and carries `guid` where a
/// handshake's GUID would be; its "mac" is game bytes.
fn magic_payload(guid: Guid) -> Vec<u8> {
    let mut p = vec![0x5Au8; 80];
    p[0..4].copy_from_slice(&MAGIC.to_be_bytes());
    p[8..24].copy_from_slice(&guid.0.to_be_bytes());
    p
}

/// A source budget of two handshakes (entering with a token takes two: the second echoes
/// the relay's cookie), refilled at one a second.
fn two_handshakes_a_second() -> Limits {
    Limits {
        handshake_rate_per_source: 1,
        handshake_burst_per_source: 2,
        ..Limits::default()
    }
}

struct Clock(u64);

impl Clock {
    fn tick(&mut self) -> Duration {
        self.0 += 1;
        Duration::from_millis(self.0)
    }
}

/// Pairs `x` (seat A) and `y` (seat B) on `guid`.
fn pair(
    r: &mut RelayCore,
    clock: &mut Clock,
    mode: Mode,
    guid: Guid,
    x: SocketAddr,
    y: SocketAddr,
) {
    assert_eq!(
        enter(r, clock, mode, (guid, Role::A, 1), x),
        Verdict::Absorbed
    );
    assert!(matches!(
        enter(r, clock, mode, (guid, Role::B, 1), y),
        Verdict::Forward(f) if f.to == x
    ));
    assert_eq!(r.partner_of(x), Some(y));
}

fn forwarded_to(v: Verdict) -> Option<SocketAddr> {
    match v {
        Verdict::Forward(f) => Some(f.to),
        _ => None,
    }
}

/// `datagram` from A (paired with B on GUID) is B's data, and the channel stays.
fn stays_data(r: &mut RelayCore, clock: &mut Clock, datagram: &[u8], what: &str) {
    let now = clock.tick();
    let before = r.stats();
    assert_eq!(
        forwarded_to(feed(r, datagram, a(), now, true)),
        Some(b()),
        "{what}: not forwarded to the partner"
    );
    assert_eq!(r.partner_of(a()), Some(b()), "{what}: channel cut");
    assert_eq!(r.channel(GUID).unwrap().peer_b, Some(b()), "{what}");
    let after = r.stats();
    assert_eq!(
        after.channels_allocated_total, before.channels_allocated_total,
        "{what}: allocated"
    );
    // The pair still relays both ways.
    let now = clock.tick();
    assert_eq!(forwarded_to(feed(r, b"after", a(), now, true)), Some(b()));
    let now = clock.tick();
    assert_eq!(forwarded_to(feed(r, b"back", b(), now, true)), Some(a()));
}

#[test]
fn a_payload_starting_with_the_magic_is_data_in_every_mode() {
    for mode in [Mode::Unkeyed, Mode::Keyed, Mode::Tokens] {
        let mut r = relay(mode, |_| {});
        let mut clock = Clock(0);
        pair(&mut r, &mut clock, mode, GUID, a(), b());
        let random = Guid::random().unwrap();
        stays_data(&mut r, &mut clock, &magic_payload(random), "magic payload");
        // A plain handshake someone wrote without the key, for a fresh GUID.
        stays_data(
            &mut r,
            &mut clock,
            &plain(random, None),
            "unkeyed handshake",
        );
        // Its own channel's GUID, as game data.
        stays_data(&mut r, &mut clock, &magic_payload(GUID), "own GUID payload");
    }
}

#[test]
fn on_an_unkeyed_relay_a_member_never_moves() {
    let mut r = relay(Mode::Unkeyed, |_| {});
    let mut clock = Clock(0);
    pair(&mut r, &mut clock, Mode::Unkeyed, GUID, a(), b());
    // A valid unkeyed handshake for a GUID nobody holds: it proves nothing.
    stays_data(&mut r, &mut clock, &plain(OTHER, None), "new GUID");
    assert!(r.channel(OTHER).is_none());
    assert_eq!(r.stats().channels_open, 1);
}

#[test]
fn a_verified_handshake_for_an_admissible_guid_moves_the_member() {
    for mode in [Mode::Keyed, Mode::Tokens] {
        let mut r = relay(mode, |_| {});
        let mut clock = Clock(0);
        pair(&mut r, &mut clock, mode, GUID, a(), b());
        // A new GUID: A leaves and allocates it.
        assert_eq!(
            enter(&mut r, &mut clock, mode, (OTHER, Role::A, 2), a()),
            Verdict::Absorbed
        );
        assert!(r.channel(GUID).is_none(), "old channel closed");
        assert_eq!(r.channel(OTHER).unwrap().peer_a, a());
        assert_eq!(r.partner_of(b()), None);

        // A pending GUID: B leaves its (now dead) channel... B is no member any more; C
        // holds a pending channel and A joins it from its new one.
        let third = Guid(0x3333);
        enter(&mut r, &mut clock, mode, (third, Role::A, 1), c());
        assert_eq!(
            forwarded_to(enter(&mut r, &mut clock, mode, (third, Role::B, 3), a())),
            Some(c()),
            "joined C's channel"
        );
        assert!(r.channel(OTHER).is_none());
        assert_eq!(r.partner_of(c()), Some(a()));
    }
}

#[test]
fn a_verified_handshake_that_cannot_be_admitted_is_data() {
    for mode in [Mode::Keyed, Mode::Tokens] {
        // The GUID's channel already has two peers.
        let mut r = relay(mode, |_| {});
        let mut clock = Clock(0);
        pair(&mut r, &mut clock, mode, GUID, a(), b());
        pair(&mut r, &mut clock, mode, OTHER, c(), d());
        // (With tokens, a fresh handshake for seat B would be B's NAT rebinding: it comes
        // with a sequence no higher than B's.)
        let hs = hello(mode, OTHER, Role::B, 1);
        stays_data(&mut r, &mut clock, &hs, "full channel");
        assert_eq!(r.partner_of(c()), Some(d()));

        // The relay is full.
        let mut r = relay(mode, |c| c.max_channels = 1);
        let mut clock = Clock(0);
        pair(&mut r, &mut clock, mode, GUID, a(), b());
        stays_data(
            &mut r,
            &mut clock,
            &hello(mode, OTHER, Role::A, 9),
            "max_channels",
        );

        // The relay is draining.
        let mut r = relay(mode, |_| {});
        let mut clock = Clock(0);
        pair(&mut r, &mut clock, mode, GUID, a(), b());
        r.drain();
        stays_data(
            &mut r,
            &mut clock,
            &hello(mode, OTHER, Role::A, 9),
            "draining",
        );

        // The source is over its handshake rate.
        let mut r = relay(mode, |c| c.limits = two_handshakes_a_second());
        let mut clock = Clock(0);
        pair(&mut r, &mut clock, mode, GUID, a(), b());
        let junk = plain(Guid(0xBAD), Some(b"not the secret"));
        let now = clock.tick();
        feed(&mut r, &junk, addr("192.0.2.10:4999"), now, true);
        let limited = r.stats().handshakes_rate_limited;
        let now = clock.tick();
        feed(&mut r, &junk, addr("192.0.2.10:4999"), now, true);
        assert_eq!(
            r.stats().handshakes_rate_limited,
            limited + 1,
            "budget spent"
        );
        stays_data(
            &mut r,
            &mut clock,
            &hello(mode, OTHER, Role::A, 9),
            "rate limited",
        );
    }
    // With tokens: a seat of another channel held elsewhere (a replay) is data too.
    let mut r = relay(Mode::Tokens, |_| {});
    let mut clock = Clock(0);
    pair(&mut r, &mut clock, Mode::Tokens, GUID, a(), b());
    enter(&mut r, &mut clock, Mode::Tokens, (OTHER, Role::A, 5), c());
    let replay = hello(Mode::Tokens, OTHER, Role::A, 5);
    stays_data(&mut r, &mut clock, &replay, "token replay");
    assert_eq!(r.channel(OTHER).unwrap().peer_a, c());
}

#[test]
fn a_pending_member_keeps_its_channel_too() {
    let mut r = relay(Mode::Keyed, |c| c.max_channels = 1);
    let mut clock = Clock(0);
    let now = clock.tick();
    feed(&mut r, &plain(GUID, Some(SECRET)), a(), now, true);
    let now = clock.tick();
    // Not admissible (full): nothing to forward to, dropped, and A keeps its channel.
    assert_eq!(
        feed(&mut r, &plain(OTHER, Some(SECRET)), a(), now, true),
        Verdict::Dropped
    );
    assert_eq!(r.channel(GUID).unwrap().peer_a, a());
    let now = clock.tick();
    assert!(matches!(
        feed(&mut r, &plain(GUID, Some(SECRET)), b(), now, true),
        Verdict::Forward(f) if f.to == a()
    ));
}

#[test]
fn retries_for_a_held_channel_cost_no_budget() {
    for mode in [Mode::Unkeyed, Mode::Keyed, Mode::Tokens] {
        let mut r = relay(mode, |c| c.limits = two_handshakes_a_second());
        let mut clock = Clock(0);
        assert_eq!(
            enter(&mut r, &mut clock, mode, (GUID, Role::A, 1), a()),
            Verdict::Absorbed
        );
        // A waits for its partner, retrying far faster than its source's budget allows.
        for seq in 3..=500 {
            let now = clock.tick();
            assert_eq!(
                feed(&mut r, &hello(mode, GUID, Role::A, seq), a(), now, true),
                Verdict::Absorbed,
                "retry {seq}"
            );
        }
        assert_eq!(r.stats().handshakes_rate_limited, 0);
        // Its partner still gets in, then both keep sending handshakes (answers,
        // keep-alives), all forwarded.
        assert!(matches!(
            enter(&mut r, &mut clock, mode, (GUID, Role::B, 1), b()),
            Verdict::Forward(f) if f.to == a()
        ));
        for seq in 501..600 {
            let now = clock.tick();
            let v = feed(&mut r, &hello(mode, GUID, Role::A, seq), a(), now, true);
            assert_eq!(forwarded_to(v), Some(b()));
        }
        assert_eq!(r.stats().handshakes_rate_limited, 0);
    }
}

/// A member's keep-alive that the relay received while its source's budget was spent (by
/// someone spoofing its IP) is still noted: a copy of it replayed from another address is
/// a replay, on an established channel and on a pending one.
#[test]
fn a_copy_of_a_keepalive_sent_under_a_spent_budget_cannot_take_the_seat() {
    let spent = two_handshakes_a_second();
    let junk_from_a_ip = addr("192.0.2.10:9");
    let junk = token_handshake(Guid(0xBAD), Role::A, 1);
    let mut junk = junk;
    junk[30] ^= 1; // the proof no longer verifies, but it is charged first
    let attacker = c();

    // Established.
    let mut r = relay(Mode::Tokens, |c| c.limits = spent);
    let mut clock = Clock(0);
    pair(&mut r, &mut clock, Mode::Tokens, GUID, a(), b());
    for _ in 0..3 {
        let now = clock.tick();
        feed(&mut r, &junk, junk_from_a_ip, now, true);
    }
    assert!(r.stats().handshakes_rate_limited > 0, "A's budget is spent");
    let keepalive = token_handshake(GUID, Role::A, 100);
    let now = clock.tick();
    assert_eq!(
        forwarded_to(feed(&mut r, &keepalive, a(), now, true)),
        Some(b())
    );
    let replayed = r.stats().tokens_replayed;
    let now = clock.tick();
    assert_eq!(
        feed(&mut r, &keepalive, attacker, now, true),
        Verdict::Dropped
    );
    assert_eq!(r.stats().tokens_replayed, replayed + 1);
    assert_eq!(r.partner_of(b()), Some(a()), "the seat stayed with A");

    // Pending: A waits for B under the same spoofed flood.
    let mut r = relay(Mode::Tokens, |c| c.limits = spent);
    let mut clock = Clock(0);
    enter(&mut r, &mut clock, Mode::Tokens, (GUID, Role::A, 1), a());
    for _ in 0..3 {
        let now = clock.tick();
        feed(&mut r, &junk, junk_from_a_ip, now, true);
    }
    let retry = token_handshake(GUID, Role::A, 100);
    let now = clock.tick();
    assert_eq!(feed(&mut r, &retry, a(), now, true), Verdict::Absorbed);
    let now = clock.tick();
    assert_eq!(feed(&mut r, &retry, attacker, now, true), Verdict::Dropped);
    assert_eq!(
        r.channel(GUID).unwrap().peer_a,
        a(),
        "the seat stayed with A"
    );
}

/// The reproduction over real sockets: pair A and B; A sends 80 bytes that start with the
/// magic and carry a random GUID; B receives them, and A's next datagram reaches B too.
#[test]
fn magic_payload_over_loopback_keeps_the_pair() {
    for key in [None, Some(SECRET)] {
        let mut relay = Relay::bind(Config {
            bind: "127.0.0.1:0".parse().unwrap(),
            secret_key: key.map(<[u8]>::to_vec),
            ..Config::default()
        })
        .unwrap();
        let to = relay.local_addr();
        let (pa, pb) = (relay_loop::peer(), relay_loop::peer());
        let guid = Guid::random().unwrap();
        pa.send_to(&plain(guid, key), to).unwrap();
        relay.poll(Duration::from_millis(50)).unwrap();
        pb.send_to(&plain(guid, key), to).unwrap();
        assert_eq!(relay_loop::pump(&mut relay, &pa, 1), vec![plain(guid, key)]);
        let payload = magic_payload(Guid::random().unwrap());
        pa.send_to(&payload, to).unwrap();
        pa.send_to(b"next", to).unwrap();
        let got = relay_loop::pump(&mut relay, &pb, 2);
        assert_eq!(
            got,
            vec![payload, b"next".to_vec()],
            "keyed: {}",
            key.is_some()
        );
        pb.send_to(b"reply", to).unwrap();
        assert_eq!(
            relay_loop::pump(&mut relay, &pa, 1),
            vec![b"reply".to_vec()]
        );
        assert_eq!(relay.stats().channels_open, 1);
    }
}
