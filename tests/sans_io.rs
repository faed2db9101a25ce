//! Property tests over the relay logic without sockets (`RelayCore::sans_io_datagram`): random
//! datagrams from random addresses (IPv4 and IPv6, many sources) at random times, with
//! tokens, replays, garbage and failing sends. After every datagram:
//! - nothing is forwarded to an address other than the sender's paired peer, never back to
//!   the sender;
//! - a channel never has more than two peers, and the relay's indexes agree with its table;
//! - the counters add up (in = out + dropped + consumed, one datagram at a time);
//! - the table, the per-source half-open counts and the rate-limit table stay within their
//!   limits.
//!
//! And an honest token pair keeps relaying every one of its datagrams whatever the others
//! send. The same entry point is what `fuzz/` drives for longer runs.

mod client_support;
use client_support::unix_now;
use std::net::SocketAddr;
use std::time::Duration;

use proptest::prelude::*;
#[path = "props/relay.rs"]
mod relay_props;
use relay_props::{address, feed};
use udp_relay::admission::Limits;
use udp_relay::cookie::{Cookie, read_challenge, write_handshake_with_cookie};
use udp_relay::protocol::{Guid, HandshakeKey, peek_guid, write_handshake};
use udp_relay::relay::{Config, RelayCore, Verdict};
use udp_relay::token::{
    Role, TokenKey, write_handshake_with_token, write_handshake_with_token_and_cookie,
};

const SECRET: &[u8] = b"sans-io property test secret";

#[derive(Debug, Clone)]
enum Kind {
    Plain {
        guid: u8,
        key: u8,
    },
    Token {
        guid: u8,
        role: bool,
        seq: u8,
        expired: bool,
        wrong_secret: bool,
        /// 0: a v1 token; 1: v2 for this relay; 2: v2 for another relay of the fleet.
        binding: u8,
    },
    Payload {
        len: u16,
    },
    Garbage(Vec<u8>),
    /// A relay probe (answered outside channels, data inside them).
    Probe,
    /// Resend an earlier datagram, from this op's address.
    Replay(u8),
}

#[derive(Debug, Clone)]
struct Op {
    from: u8,
    kind: Kind,
    advance_ms: u16,
    send_ok: bool,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        (1..5u8, 0..3u8).prop_map(|(guid, key)| Kind::Plain { guid, key }),
        (
            1..5u8,
            any::<bool>(),
            0..6u8,
            prop::bool::weighted(0.1),
            prop::bool::weighted(0.1),
            0..3u8,
        )
            .prop_map(
                |(guid, role, seq, expired, wrong_secret, binding)| Kind::Token {
                    guid,
                    role,
                    seq,
                    expired,
                    wrong_secret,
                    binding,
                }
            ),
        (0..1500u16).prop_map(|len| Kind::Payload { len }),
        prop::collection::vec(any::<u8>(), 0..120).prop_map(Kind::Garbage),
        Just(Kind::Probe),
        any::<u8>().prop_map(Kind::Replay),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    (0..12u8, kind(), 0..400u16, prop::bool::weighted(0.95)).prop_map(
        |(from, kind, advance_ms, send_ok)| Op {
            from,
            kind,
            advance_ms,
            send_ok,
        },
    )
}

/// The datagram of `kind`; a handshake echoes `cookie` when given (the answer to the relay's
/// return-path challenge).
fn encode(kind: &Kind, expiry: u64, sent: &[Vec<u8>], cookie: Option<&Cookie>) -> Vec<u8> {
    let mut buf = vec![0u8; 128];
    match kind {
        Kind::Plain { guid, key } => {
            let key = match key {
                0 => None,
                1 => Some(HandshakeKey::new(SECRET)),
                _ => Some(HandshakeKey::new(b"wrong")),
            };
            let guid = Guid(u128::from(*guid));
            let n = match cookie {
                Some(c) => write_handshake_with_cookie(&mut buf, guid, key.as_ref(), c),
                None => write_handshake(&mut buf, guid, 0, &[], key.as_ref()),
            };
            buf.truncate(n.unwrap());
        }
        Kind::Token {
            guid,
            role,
            seq,
            expired,
            wrong_secret,
            binding,
        } => {
            let secret: &[u8] = if *wrong_secret { b"wrong" } else { SECRET };
            let role = if *role { Role::B } else { Role::A };
            let expiry = if *expired { 1 } else { expiry };
            let key = TokenKey::new(secret);
            let guid = Guid(u128::from(*guid));
            let t = match binding {
                0 => key.mint(guid, role, expiry),
                1 => key.mint_for_relay(KEY_ID, RELAY_ID, guid, role, expiry),
                _ => key.mint_for_relay(KEY_ID, RELAY_ID + 1, guid, role, expiry),
            };
            let n = write_handshake_with_token_and_cookie(&mut buf, &t, u64::from(*seq), cookie)
                .unwrap();
            buf.truncate(n);
        }
        Kind::Payload { len } => buf = vec![0x5A; usize::from(*len)],
        Kind::Garbage(g) => buf = g.clone(),
        Kind::Probe => buf = udp_relay::probe::write_probe(7).to_vec(),
        Kind::Replay(i) if !sent.is_empty() => buf = sent[usize::from(*i) % sent.len()].clone(),
        Kind::Replay(_) => buf.clear(),
    }
    buf
}

fn limits() -> Limits {
    Limits {
        handshake_rate_per_source: 20,
        handshake_burst_per_source: 6,
        max_pending_per_source: 2,
        max_tracked_sources: 5,
        channel_bandwidth_bytes_per_sec: 20_000,
    }
}

/// The relay's id and key id: v2 tokens for `RELAY_ID + 1` are another relay's.
const RELAY_ID: u32 = 9;
const KEY_ID: u32 = 3;

/// Whether `d` is a v2 token handshake for another relay (never admitted nor answered).
fn for_another_relay(d: &[u8]) -> bool {
    udp_relay::token::has_token_flag(d)
        && udp_relay::token::read_claim(d)
            .is_ok_and(|c| c.binding.is_some_and(|b| b.relay_id != RELAY_ID))
}

fn run(ops: &[Op], require_tokens: bool) {
    let mut relay = RelayCore::new(Config {
        secret_key: Some(SECRET.to_vec()),
        key_id: KEY_ID,
        relay_id: RELAY_ID,
        require_tokens,
        max_channels: 3,
        inactivity_timeout: Duration::from_secs(5),
        limits: limits(),
        ..Config::default()
    })
    .unwrap();
    let expiry = unix_now() + 3600;
    let mut now = Duration::ZERO;
    let mut sent = Vec::new();
    let mut consumed = 0u64;
    for op in ops {
        now += Duration::from_millis(u64::from(op.advance_ms));
        if op.advance_ms > 300 {
            relay.sans_io_tick(now);
            relay.check_invariants().unwrap();
        }
        let d = encode(&op.kind, expiry, &sent, None);
        let mut sends = vec![d];
        while let Some(d) = sends.pop() {
            let verdict = feed(&mut relay, &d, address(op.from), now, op.send_ok);
            if matches!(verdict, Verdict::Absorbed | Verdict::Challenge(_)) {
                assert!(
                    !for_another_relay(&d),
                    "another relay's token taken: {verdict:?}"
                );
            }
            match verdict {
                Verdict::Absorbed | Verdict::ProbeReply(_) => consumed += 1,
                Verdict::Challenge(c) => {
                    // Answered like a client: the same handshake, echoing the cookie.
                    consumed += 1;
                    let cookie = read_challenge(&c.datagram, peek_guid(&d)).unwrap();
                    sends.push(encode(&op.kind, expiry, &sent, Some(&cookie)));
                }
                _ => {}
            }
            sent.push(d);
        }
        let s = relay.stats();
        assert!(s.channels_open <= 3);
        assert_eq!(s.datagrams_consumed, consumed, "{s:?}");
        assert!(s.handshakes_wrong_relay <= s.handshakes_rejected, "{s:?}");
        assert_eq!(
            s.datagrams_in,
            s.datagrams_out + s.datagrams_dropped + s.datagrams_consumed,
            "counters add up: {s:?}"
        );
    }
    relay.sans_io_tick(now + Duration::from_secs(60));
    relay.check_invariants().unwrap();
    assert_eq!(relay.stats().channels_open, 0, "everything expires");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn relay_invariants_hold_for_any_traffic(
        ops in prop::collection::vec(op(), 1..160),
        require_tokens in any::<bool>(),
    ) {
        run(&ops, require_tokens);
    }

    #[test]
    fn honest_token_pair_loses_nothing_whatever_others_send(
        attack in prop::collection::vec(op(), 1..120),
    ) {
        let mut relay = RelayCore::new(Config {
            secret_key: Some(SECRET.to_vec()),
            require_tokens: true,
            max_channels: 3,
            limits: limits(),
            ..Config::default()
        })
        .unwrap();
        let key = TokenKey::new(SECRET);
        let guid = Guid(0x600D);
        let (ta, tb) = (
            key.mint(guid, Role::A, unix_now() + 3600),
            key.mint(guid, Role::B, unix_now() + 3600),
        );
        // Honest peers on addresses no attacker op uses.
        let a: SocketAddr = "203.0.113.10:4000".parse().unwrap();
        let b: SocketAddr = "[2001:db8:ffff::b]:4000".parse().unwrap();
        let mut hs = [0u8; 76];
        let mut captured = Vec::new();
        let now = Duration::ZERO;
        // Each enters by answering the relay's return-path challenge.
        let mut enter = |relay: &mut RelayCore, t, from| {
            write_handshake_with_token(&mut hs, t, 1).unwrap();
            let Verdict::Challenge(c) = feed(relay, &hs, from, now, true) else {
                panic!("a token handshake from a new address is challenged");
            };
            captured.push(hs.to_vec());
            let cookie = read_challenge(&c.datagram, guid).unwrap();
            let mut echo = [0u8; 92];
            write_handshake_with_token_and_cookie(&mut echo, t, 2, Some(&cookie)).unwrap();
            captured.push(echo.to_vec());
            feed(relay, &echo, from, now, true)
        };
        assert_eq!(enter(&mut relay, &ta, a), Verdict::Absorbed);
        assert!(matches!(enter(&mut relay, &tb, b), Verdict::Forward(f) if f.to == a));
        let mut now = now;
        let mut seq = 2;
        for (i, op) in attack.iter().enumerate() {
            now += Duration::from_millis(20 + u64::from(op.advance_ms % 50));
            // Attackers may replay anything the honest peers sent, or send their own.
            let d = match op.kind {
                Kind::Replay(j) => captured[usize::from(j) % captured.len()].clone(),
                ref k => encode(k, unix_now() + 3600, &captured, None),
            };
            feed(&mut relay, &d, address(op.from), now, true);
            // Honest traffic both ways, and now and then a fresh handshake from A.
            let payload = format!("honest {i}").into_bytes();
            for (src, dst) in [(a, b), (b, a)] {
                let v = feed(&mut relay, &payload, src, now, true);
                prop_assert!(matches!(v, Verdict::Forward(f) if f.to == dst), "{v:?}");
            }
            if i % 10 == 0 {
                seq += 1;
                write_handshake_with_token(&mut hs, &ta, seq).unwrap();
                let v = feed(&mut relay, &hs, a, now, true);
                prop_assert!(matches!(v, Verdict::Forward(f) if f.to == b), "{v:?}");
                captured.push(hs.to_vec());
            }
        }
        prop_assert_eq!(relay.partner_of(a), Some(b));
        let info = relay.channel(guid).unwrap();
        prop_assert_eq!((info.peer_a, info.peer_b), (a, Some(b)));
    }
}
