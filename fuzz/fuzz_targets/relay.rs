//! The relay state machine, without sockets: a sequence of datagrams (raw, handshakes with
//! right or wrong keys, token handshakes, replays) from fifteen IPv4/IPv6 sources (tests/props/relay.rs) at
//! advancing times. After each one: forwards go only to the sender's paired peer and never
//! back to the sender, the relay's indexes agree with its table (so no channel has more
//! than two peers), the counters add up, and the limits hold.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
#[path = "../../tests/props/relay.rs"]
mod relay_props;
use relay_props::{address, feed};
use udp_relay::admission::Limits;
use udp_relay::protocol::{Guid, HandshakeKey, write_handshake};
use udp_relay::relay::{Config, RelayCore, Verdict};
use udp_relay::token::{Role, TokenKey, write_handshake_with_token};

const SECRET: &[u8] = b"fuzz secret";
/// Token expiry: far in the relay's future unless an op asks for an expired one.
const FAR: u64 = u64::MAX / 2;

#[derive(Arbitrary, Debug)]
enum Kind {
    Raw(Vec<u8>),
    Plain {
        guid: u8,
        flags: u16,
        key: u8,
        extension: Vec<u8>,
    },
    Token {
        guid: u8,
        role_b: bool,
        sequence: u16,
        expired: bool,
        wrong_secret: bool,
    },
    Replay(u8),
}

#[derive(Arbitrary, Debug)]
struct Op {
    from: u8,
    advance_ms: u16,
    send_ok: bool,
    tick: bool,
    kind: Kind,
}

#[derive(Arbitrary, Debug)]
struct Input {
    require_tokens: bool,
    keyed: bool,
    ops: Vec<Op>,
}

fn encode(kind: &Kind, sent: &[Vec<u8>]) -> Vec<u8> {
    let mut buf = vec![0u8; 65_507];
    match kind {
        Kind::Raw(d) => return d.clone(),
        Kind::Plain {
            guid,
            flags,
            key,
            extension,
        } => {
            let key = match key % 3 {
                0 => None,
                1 => Some(HandshakeKey::new(SECRET)),
                _ => Some(HandshakeKey::new(b"wrong")),
            };
            match write_handshake(
                &mut buf,
                Guid(u128::from(*guid)),
                *flags,
                extension,
                key.as_ref(),
            ) {
                Ok(n) => buf.truncate(n),
                Err(_) => buf.clear(),
            }
        }
        Kind::Token {
            guid,
            role_b,
            sequence,
            expired,
            wrong_secret,
        } => {
            let secret: &[u8] = if *wrong_secret { b"wrong" } else { SECRET };
            let role = if *role_b { Role::B } else { Role::A };
            let expiry = if *expired { 1 } else { FAR };
            match TokenKey::new(secret).mint(Guid(u128::from(*guid)), role, expiry) {
                t if *guid != 0 => {
                    let n = write_handshake_with_token(&mut buf, &t, u64::from(*sequence)).unwrap();
                    buf.truncate(n);
                }
                _ => buf.clear(),
            }
        }
        Kind::Replay(i) if !sent.is_empty() => return sent[usize::from(*i) % sent.len()].clone(),
        Kind::Replay(_) => buf.clear(),
    }
    buf
}

fuzz_target!(|input: Input| {
    let mut relay = RelayCore::new(Config {
        secret_key: (input.keyed || input.require_tokens).then(|| SECRET.to_vec()),
        require_tokens: input.require_tokens,
        max_channels: 4,
        inactivity_timeout: Duration::from_secs(3),
        limits: Limits {
            handshake_rate_per_source: 30,
            handshake_burst_per_source: 5,
            max_pending_per_source: 2,
            max_tracked_sources: 3,
            channel_bandwidth_bytes_per_sec: 3_000,
        },
        ..Config::default()
    })
    .expect("bind a loopback socket for the sans-IO relay");
    let mut now = Duration::ZERO;
    let mut sent: Vec<Vec<u8>> = Vec::new();
    let mut absorbed = 0u64;
    for op in input.ops.iter().take(512) {
        now += Duration::from_millis(u64::from(op.advance_ms));
        if op.tick {
            relay.sans_io_tick(now);
            relay.check_invariants().unwrap();
        }
        let d = encode(&op.kind, &sent);
        let src = address(op.from);
        if feed(&mut relay, &d, src, now, op.send_ok) == Verdict::Absorbed {
            absorbed += 1;
        }
        let after = relay.stats();
        assert_eq!(
            after.datagrams_in,
            after.datagrams_out + after.datagrams_dropped + absorbed
        );
        assert!(after.channels_open <= 4);
        if sent.len() < 64 {
            sent.push(d);
        }
    }
    relay.sans_io_tick(now + Duration::from_secs(10));
    relay.check_invariants().unwrap();
    assert_eq!(relay.stats().channels_open, 0);
});
