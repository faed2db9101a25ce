//! Relay-bound (v2) seat tokens and key rotation: a v2 token for one relay of a fleet shown
//! to another is refused, counted in `handshakes_wrong_relay` and never answered, and opens
//! nothing; a relay takes tokens (and plain handshakes) made with its previous key during a
//! rotation and refuses older keys; v1 tokens keep working unless the relay requires v2. The
//! socket-free core shows each decision exactly; clients over loopback and the C ABI show the
//! same end to end.

mod client_support;

use std::ffi::CString;
use std::net::SocketAddr;
use std::ptr::null_mut;
use std::time::{Duration, Instant};

use client_support::{RelayThread, config, establish, exchange, last_error, unix_now};
use udp_relay::client::{Client, State, Timing};
use udp_relay::cookie::{self, Cookie};
use udp_relay::ffi::*;
use udp_relay::protocol::{Guid, HandshakeKey, write_handshake};
use udp_relay::relay::{Config, RelayCore, Stats, Verdict};
use udp_relay::token::{Role, Token, TokenKey, write_handshake_with_token_and_cookie};

const KEY: &[u8] = b"the fleet's current key, 32 byte";
const PREVIOUS: &[u8] = b"the fleet's previous key, rotated";
const OLDER: &[u8] = b"a key the fleet no longer holds!!";
const KEY_ID: u32 = 12;
const PREVIOUS_ID: u32 = 11;
const OLDER_ID: u32 = 10;

/// A fleet relay's config: relay `relay_id`, the current key and the previous one, tokens
/// required.
fn fleet_config(relay_id: u32) -> Config {
    Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        secret_key: Some(KEY.to_vec()),
        key_id: KEY_ID,
        previous_secret_key: Some(PREVIOUS.to_vec()),
        previous_key_id: PREVIOUS_ID,
        relay_id,
        require_tokens: true,
        ..Config::default()
    }
}

fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, n], 4000 + u16::from(n)))
}

/// Both seats of a fresh GUID, for relay `relay_id`, minted with `secret` under `key_id`.
fn v2_seats(secret: &[u8], key_id: u32, relay_id: u32) -> (Token, Token) {
    let guid = Guid::random().unwrap();
    let key = TokenKey::new(secret);
    let expiry = unix_now() + 3600;
    (
        key.mint_for_relay(key_id, relay_id, guid, Role::A, expiry),
        key.mint_for_relay(key_id, relay_id, guid, Role::B, expiry),
    )
}

fn token_handshake(token: &Token, sequence: u64, cookie: Option<&Cookie>) -> Vec<u8> {
    let mut out = vec![0u8; 128];
    let n = write_handshake_with_token_and_cookie(&mut out, token, sequence, cookie).unwrap();
    out.truncate(n);
    out
}

/// The core with a clock of its own.
struct Core {
    core: RelayCore,
    now: u64,
}

impl Core {
    fn new(config: Config) -> Core {
        Core {
            core: RelayCore::new(config).unwrap(),
            now: 1_000,
        }
    }

    fn handle(&mut self, from: SocketAddr, datagram: &[u8]) -> Verdict {
        self.now += 1;
        self.core.handle_datagram(self.now, from, None, datagram)
    }

    /// Seats `token` from `from` as a client does: a handshake, the relay's challenge, the
    /// handshake again with the cookie. Returns the verdict on the second.
    fn seat(&mut self, token: &Token, from: SocketAddr) -> Verdict {
        let Verdict::Challenge(c) = self.handle(from, &token_handshake(token, 1, None)) else {
            panic!("no challenge for {token:?}: {:?}", self.core.stats());
        };
        let cookie = cookie::read_challenge(&c.datagram, token.guid).unwrap();
        self.handle(from, &token_handshake(token, 2, Some(&cookie)))
    }

    fn stats(&self) -> Stats {
        self.core.stats()
    }
}

#[test]
fn a_token_for_another_relay_is_refused_unanswered_and_opens_nothing() {
    let mut r2 = Core::new(fleet_config(2));
    let (r1_a, r1_b) = v2_seats(KEY, KEY_ID, 1);
    // Shown to relay 2, without a cookie and then with a cookie relay 2 really issued to
    // that address for that GUID (its own token for the GUID earned it): dropped, no
    // challenge, counted as a wrong relay (and a rejected handshake), nothing allocated.
    assert_eq!(
        r2.handle(addr(1), &token_handshake(&r1_a, 1, None)),
        Verdict::Dropped
    );
    let own =
        TokenKey::new(KEY).mint_for_relay(KEY_ID, 2, r1_a.guid, Role::A, r1_a.expiry_unix_secs);
    let Verdict::Challenge(c) = r2.handle(addr(1), &token_handshake(&own, 2, None)) else {
        panic!("relay 2 does not challenge its own token");
    };
    let cookie = cookie::read_challenge(&c.datagram, own.guid).unwrap();
    for (seq, token) in [(3, &r1_a), (4, &r1_b)] {
        assert_eq!(
            r2.handle(addr(1), &token_handshake(token, seq, Some(&cookie))),
            Verdict::Dropped
        );
    }
    let s = r2.stats();
    assert_eq!(s.handshakes_wrong_relay, 3, "{s:?}");
    assert_eq!(s.handshakes_rejected, 3, "{s:?}");
    assert_eq!(
        s.handshakes_challenged, 1,
        "only relay 2's own token: {s:?}"
    );
    assert_eq!(
        (s.channels_open, s.channels_allocated_total),
        (0, 0),
        "{s:?}"
    );
    assert_eq!(s.tokens_invalid + s.tokens_expired, 0, "{s:?}");
    assert_eq!(s.datagrams_out, 0, "{s:?}");
    // No seat was taken: relay 2's own tokens for the same GUID seat both peers, the
    // first from the very address that showed relay 1's tokens.
    let own_b =
        TokenKey::new(KEY).mint_for_relay(KEY_ID, 2, r1_a.guid, Role::B, r1_a.expiry_unix_secs);
    assert_eq!(r2.seat(&own, addr(1)), Verdict::Absorbed);
    assert!(matches!(r2.seat(&own_b, addr(2)), Verdict::Forward(f) if f.to == addr(1)));
    assert_eq!(r2.stats().channels_established, 1);
    // Relay 1 takes its tokens.
    let mut r1 = Core::new(fleet_config(1));
    assert_eq!(r1.seat(&r1_a, addr(1)), Verdict::Absorbed);
    assert!(matches!(r1.seat(&r1_b, addr(2)), Verdict::Forward(_)));
    assert_eq!(r1.stats().handshakes_wrong_relay, 0);
}

#[test]
fn a_forged_relay_id_is_an_invalid_token_not_a_wrong_relay() {
    // Only authentic tokens count as misrouted: the relay id is under the proof.
    let mut r2 = Core::new(fleet_config(2));
    let (r1_a, _) = v2_seats(KEY, KEY_ID, 1);
    let mut forged = token_handshake(&r1_a, 1, None);
    forged[64..68].copy_from_slice(&2u32.to_be_bytes());
    assert_eq!(r2.handle(addr(1), &forged), Verdict::Dropped);
    let s = r2.stats();
    assert_eq!(
        (s.tokens_invalid, s.handshakes_wrong_relay),
        (1, 0),
        "{s:?}"
    );
}

#[test]
fn rotation_takes_the_previous_key_and_refuses_older_ones() {
    let mut relay = Core::new(fleet_config(5));
    // Minted under the previous key (before the rotation reached the matchmaker).
    let (a, b) = v2_seats(PREVIOUS, PREVIOUS_ID, 5);
    assert_eq!(relay.seat(&a, addr(1)), Verdict::Absorbed);
    assert!(matches!(relay.seat(&b, addr(2)), Verdict::Forward(_)));
    // Under the current key.
    let (a, b) = v2_seats(KEY, KEY_ID, 5);
    assert_eq!(relay.seat(&a, addr(3)), Verdict::Absorbed);
    assert!(matches!(relay.seat(&b, addr(4)), Verdict::Forward(_)));
    assert_eq!(relay.stats().channels_established, 2);
    // Under a key the relay no longer holds, by its own id or by the previous key's id.
    let (older, _) = v2_seats(OLDER, OLDER_ID, 5);
    let (misnamed, _) = v2_seats(OLDER, PREVIOUS_ID, 5);
    for t in [&older, &misnamed] {
        assert_eq!(
            relay.handle(addr(9), &token_handshake(t, 1, None)),
            Verdict::Dropped
        );
    }
    let s = relay.stats();
    assert_eq!(
        (s.tokens_invalid, s.handshakes_wrong_relay),
        (2, 0),
        "{s:?}"
    );
    assert_eq!(s.channels_allocated_total, 2, "{s:?}");
    // Once the rotation is over (restarted without the previous key), its tokens go too.
    let mut after = Core::new(Config {
        previous_secret_key: None,
        ..fleet_config(5)
    });
    let (a, _) = v2_seats(PREVIOUS, PREVIOUS_ID, 5);
    assert_eq!(
        after.handle(addr(1), &token_handshake(&a, 1, None)),
        Verdict::Dropped
    );
    assert_eq!(after.stats().tokens_invalid, 1);
}

#[test]
fn plain_keyed_handshakes_take_the_previous_key_during_a_rotation() {
    let mut relay = Core::new(Config {
        require_tokens: false,
        ..fleet_config(5)
    });
    let plain = |key: &[u8], guid: u128| {
        let mut d = [0u8; 56];
        write_handshake(&mut d, Guid(guid), 0, &[], Some(&HandshakeKey::new(key))).unwrap();
        d
    };
    assert_eq!(relay.handle(addr(1), &plain(KEY, 1)), Verdict::Absorbed);
    assert_eq!(
        relay.handle(addr(2), &plain(PREVIOUS, 2)),
        Verdict::Absorbed
    );
    assert_eq!(relay.handle(addr(3), &plain(OLDER, 3)), Verdict::Dropped);
    // A peer on the old key and one on the new key pair up.
    assert!(
        matches!(relay.handle(addr(4), &plain(KEY, 2)), Verdict::Forward(f) if f.to == addr(2))
    );
    let s = relay.stats();
    assert_eq!((s.channels_open, s.channels_established), (2, 1), "{s:?}");
    assert_eq!(s.handshakes_rejected, 1, "{s:?}");
}

#[test]
fn v1_tokens_work_unless_the_relay_requires_v2() {
    let guid = Guid::random().unwrap();
    let expiry = unix_now() + 3600;
    let v1 = |secret, role| TokenKey::new(secret).mint(guid, role, expiry);
    // A fleet relay still takes v1 tokens minted with its key or its previous one.
    let mut relay = Core::new(fleet_config(5));
    assert_eq!(relay.seat(&v1(KEY, Role::A), addr(1)), Verdict::Absorbed);
    assert!(matches!(
        relay.seat(&v1(PREVIOUS, Role::B), addr(2)),
        Verdict::Forward(_)
    ));
    let older = TokenKey::new(OLDER).mint(Guid(7), Role::A, expiry);
    assert_eq!(
        relay.handle(addr(3), &token_handshake(&older, 1, None)),
        Verdict::Dropped
    );
    assert_eq!(relay.stats().tokens_invalid, 1);
    // With require_token_v2 only v2 tokens get in; v1 ones are invalid, before any HMAC.
    let mut strict = Core::new(Config {
        require_token_v2: true,
        ..fleet_config(5)
    });
    assert_eq!(
        strict.handle(addr(1), &token_handshake(&v1(KEY, Role::A), 1, None)),
        Verdict::Dropped
    );
    let (a, b) = v2_seats(KEY, KEY_ID, 5);
    assert_eq!(strict.seat(&a, addr(1)), Verdict::Absorbed);
    assert!(matches!(strict.seat(&b, addr(2)), Verdict::Forward(_)));
    let s = strict.stats();
    assert_eq!((s.tokens_invalid, s.channels_established), (1, 1), "{s:?}");
}

/// Client timing that gives up quickly.
fn impatient() -> Timing {
    Timing {
        retry_interval: Duration::from_millis(40),
        retry_backoff_max: Duration::from_millis(80),
        handshake_timeout: Duration::from_millis(500),
        ..Timing::default()
    }
}

fn connect(relay: SocketAddr, token: Token, timing: Timing) -> Client {
    let mut cfg = config(relay, Guid::ZERO);
    cfg.token = Some(token);
    cfg.timing = timing;
    Client::connect(cfg).unwrap()
}

/// Polls until neither client is handshaking; returns their states.
fn settle(a: &mut Client, b: &mut Client) -> (State, State) {
    let start = Instant::now();
    while a.state() == State::Handshaking || b.state() == State::Handshaking {
        a.poll(Duration::from_millis(5)).unwrap();
        b.poll(Duration::from_millis(5)).unwrap();
        assert!(start.elapsed() < Duration::from_secs(5), "never settled");
    }
    (a.state(), b.state())
}

#[test]
fn clients_sent_to_the_wrong_relay_of_a_fleet_time_out_there() {
    let r1 = RelayThread::start_with(fleet_config(1));
    let r2 = RelayThread::start_with(fleet_config(2));
    let (a, b) = v2_seats(KEY, KEY_ID, 1);
    // At relay 2: never answered, so both give up.
    let (mut wa, mut wb) = (
        connect(r2.addr, a, impatient()),
        connect(r2.addr, b, impatient()),
    );
    assert_eq!(settle(&mut wa, &mut wb), (State::TimedOut, State::TimedOut));
    assert_eq!(
        wa.stats().datagrams_received + wb.stats().datagrams_received,
        0
    );
    // At relay 1, the relay their tokens name: a working channel.
    let (mut ra, mut rb) = (
        connect(r1.addr, a, Timing::default()),
        connect(r1.addr, b, Timing::default()),
    );
    establish(&mut ra, &mut rb, Duration::from_secs(5));
    exchange(&mut ra, &mut rb, 100, |seq| 16 + seq as usize % 200);
    drop((wa, wb, ra, rb));
    let s2 = r2.stop();
    assert!(s2.handshakes_wrong_relay >= 4, "{s2:?}");
    assert_eq!(s2.handshakes_wrong_relay, s2.handshakes_rejected, "{s2:?}");
    assert_eq!(
        (s2.channels_allocated_total, s2.handshakes_challenged),
        (0, 0),
        "{s2:?}"
    );
    assert_eq!((s2.datagrams_out, s2.datagrams_consumed), (0, 0), "{s2:?}");
    let s1 = r1.stop();
    assert_eq!(
        (s1.channels_established, s1.handshakes_wrong_relay),
        (1, 0),
        "{s1:?}"
    );
}

#[test]
fn clients_with_tokens_under_the_previous_key_pair_during_a_rotation() {
    let relay = RelayThread::start_with(fleet_config(3));
    let (a, b) = v2_seats(PREVIOUS, PREVIOUS_ID, 3);
    let (mut a, mut b) = (
        connect(relay.addr, a, Timing::default()),
        connect(relay.addr, b, Timing::default()),
    );
    establish(&mut a, &mut b, Duration::from_secs(5));
    exchange(&mut a, &mut b, 100, |seq| 16 + seq as usize % 200);
    let (old_a, old_b) = v2_seats(OLDER, OLDER_ID, 3);
    let (mut oa, mut ob) = (
        connect(relay.addr, old_a, impatient()),
        connect(relay.addr, old_b, impatient()),
    );
    assert_eq!(settle(&mut oa, &mut ob), (State::TimedOut, State::TimedOut));
    drop((a, b, oa, ob));
    let s = relay.stop();
    assert_eq!(s.channels_allocated_total, 1, "{s:?}");
    assert!(s.tokens_invalid >= 4, "{s:?}");
}

/// A relay started through the C ABI with every field this ABI added.
fn c_fleet_relay(relay_id: u32) -> *mut RelayHandle {
    let mut cfg = client_support::c_relay_config_on_loopback();
    assert_eq!((cfg.relay_id, cfg.key_id, cfg.previous_key_id), (0, 0, 0));
    assert!(cfg.previous_secret_key.is_null() && cfg.previous_secret_key_len == 0);
    assert_eq!(cfg.require_token_v2, 0);
    cfg.secret_key = KEY.as_ptr();
    cfg.secret_key_len = KEY.len();
    cfg.key_id = KEY_ID;
    cfg.previous_secret_key = PREVIOUS.as_ptr();
    cfg.previous_secret_key_len = PREVIOUS.len();
    cfg.previous_key_id = PREVIOUS_ID;
    cfg.relay_id = relay_id;
    cfg.require_tokens = 1;
    cfg.require_token_v2 = 1;
    let mut relay = null_mut();
    assert_eq!(
        relay_start(&cfg, &mut relay),
        RelayStatus::Ok,
        "{}",
        last_error()
    );
    relay
}

/// A v2 token minted through the C ABI.
fn c_mint_v2(secret: &[u8], key_id: u32, relay_id: u32, guid: &RelayGuid, role: u32) -> Vec<u8> {
    let mut out = [0u8; RELAY_TOKEN_V2_LEN];
    let n = relay_token_mint_for_relay(
        secret.as_ptr(),
        secret.len(),
        key_id,
        relay_id,
        guid,
        role,
        unix_now() + 3600,
        out.as_mut_ptr(),
        out.len(),
    );
    assert_eq!(n, RELAY_TOKEN_V2_LEN as i32, "{}", last_error());
    out.to_vec()
}

#[test]
fn the_c_abi_mints_v2_tokens_and_configures_a_fleet_relay() {
    let relay = c_fleet_relay(7);
    let port = relay_local_port(relay);
    let address = CString::new(format!("127.0.0.1:{port}")).unwrap();
    let guid = client_support::c_guid();
    // C clients holding relay 8's tokens, then relay 7's, the latter minted with the
    // previous key for seat B.
    let clients = |tokens: [Vec<u8>; 2]| {
        tokens.map(|token| {
            let cfg = RelayClientConfig {
                relay_address: address.as_ptr(),
                token: token.as_ptr(),
                token_len: token.len(),
                retry_interval_ms: 40,
                retry_backoff_max_ms: 80,
                handshake_timeout_ms: 500,
                ..client_support::c_config_default()
            };
            let mut c = null_mut();
            assert_eq!(
                relay_client_connect(&cfg, &mut c),
                RelayStatus::Ok,
                "{}",
                last_error()
            );
            c
        })
    };
    let poll_until_settled = |cs: [*mut RelayClient; 2]| {
        let start = Instant::now();
        loop {
            assert!(relay_poll(relay, 0) >= 0, "{}", last_error());
            let states = cs.map(|c| {
                relay_client_poll(c, 5);
                relay_client_state(c)
            });
            if states
                .iter()
                .all(|&s| s != RelayClientState::Handshaking as i32)
            {
                return states;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "never settled: {states:?}"
            );
        }
    };
    let wrong = clients([
        c_mint_v2(KEY, KEY_ID, 8, &guid, RELAY_TOKEN_ROLE_A),
        c_mint_v2(KEY, KEY_ID, 8, &guid, RELAY_TOKEN_ROLE_B),
    ]);
    assert_eq!(
        poll_until_settled(wrong),
        [RelayClientState::TimedOut as i32; 2]
    );
    let right = clients([
        c_mint_v2(KEY, KEY_ID, 7, &guid, RELAY_TOKEN_ROLE_A),
        c_mint_v2(PREVIOUS, PREVIOUS_ID, 7, &guid, RELAY_TOKEN_ROLE_B),
    ]);
    assert_eq!(
        poll_until_settled(right),
        [RelayClientState::Established as i32; 2]
    );
    let mut stats = RelayStats::default();
    assert_eq!(
        relay_get_stats(relay, &mut stats, std::mem::size_of::<RelayStats>()),
        RelayStatus::Ok
    );
    assert!(stats.handshakes_wrong_relay >= 4, "{stats:?}");
    assert_eq!(stats.channels_allocated_total, 1, "{stats:?}");
    assert_eq!(stats.channels_established, 1, "{stats:?}");
    // A v1 token is refused here (require_token_v2).
    let v1 = client_support::c_mint_token(KEY, &guid, RELAY_TOKEN_ROLE_A, unix_now() + 3600);
    let v1_client = clients([v1.to_vec(), v1.to_vec()]);
    assert_eq!(
        poll_until_settled(v1_client),
        [RelayClientState::TimedOut as i32; 2]
    );
    for c in wrong.into_iter().chain(right).chain(v1_client) {
        assert_eq!(relay_client_close(c), RelayStatus::Ok);
    }
    assert_eq!(relay_stop(relay), RelayStatus::Ok);
}

#[test]
fn the_c_abi_checks_v2_mints_and_fleet_settings() {
    let guid = client_support::c_guid();
    let mut out = [0u8; RELAY_TOKEN_V2_LEN];
    let mint = |relay_id: u32, out: &mut [u8]| {
        relay_token_mint_for_relay(
            KEY.as_ptr(),
            KEY.len(),
            1,
            relay_id,
            &guid,
            RELAY_TOKEN_ROLE_A,
            1,
            out.as_mut_ptr(),
            out.len(),
        )
    };
    assert_eq!(mint(0, &mut out), RelayStatus::InvalidArgument as i32);
    assert!(last_error().contains("relay_id is 0"), "{}", last_error());
    assert_eq!(
        mint(1, &mut out[..RELAY_TOKEN_LEN]),
        RelayStatus::BufferTooSmall as i32
    );
    assert!(last_error().contains("needs 68 bytes"), "{}", last_error());
    assert_eq!(mint(1, &mut out), RELAY_TOKEN_V2_LEN as i32);
    // The token writes an 84-byte handshake by hand, and parses as a v2 token.
    let mut hs = [0u8; RELAY_MAX_HANDSHAKE_LEN];
    assert_eq!(
        relay_handshake_write_with_token(out.as_ptr(), out.len(), 1, hs.as_mut_ptr(), 83),
        RelayStatus::BufferTooSmall as i32
    );
    assert_eq!(
        relay_handshake_write_with_token(out.as_ptr(), out.len(), 1, hs.as_mut_ptr(), hs.len()),
        RELAY_TOKEN_V2_HANDSHAKE_LEN as i32
    );
    assert_eq!(Token::from_bytes(&out).unwrap().version(), 2);
    // Settings the core refuses, named.
    let start = |tune: &dyn Fn(&mut RelayConfig)| {
        let mut cfg = client_support::c_relay_config_on_loopback();
        tune(&mut cfg);
        let mut relay = null_mut();
        let status = relay_start(&cfg, &mut relay);
        relay_stop(relay);
        (status, last_error())
    };
    for (tune, says) in [
        (
            &(|c: &mut RelayConfig| c.require_token_v2 = 2) as &dyn Fn(&mut RelayConfig),
            "require_token_v2 must be 0 or 1",
        ),
        (
            &|c: &mut RelayConfig| {
                c.previous_secret_key = PREVIOUS.as_ptr();
                c.previous_secret_key_len = PREVIOUS.len();
            },
            "previous_secret_key needs a secret_key",
        ),
        (
            &|c: &mut RelayConfig| {
                c.secret_key = KEY.as_ptr();
                c.secret_key_len = KEY.len();
                c.previous_secret_key = PREVIOUS.as_ptr();
                c.previous_secret_key_len = PREVIOUS.len();
            },
            "previous_key_id must differ from key_id",
        ),
        (
            &|c: &mut RelayConfig| {
                c.secret_key = KEY.as_ptr();
                c.secret_key_len = KEY.len();
                c.require_token_v2 = 1;
            },
            "require_token_v2 needs a relay_id",
        ),
    ] {
        let (status, message) = start(tune);
        assert_eq!(status, RelayStatus::InvalidArgument, "{message}");
        assert!(
            message.starts_with("relay_start: ") && message.contains(says),
            "{message}"
        );
    }
}

/// A `RelayConfig` as the ABI 4 header declared it (up to `require_tokens`) is read that far.
#[test]
fn an_abi_4_relay_config_still_starts_a_relay_with_no_relay_id() {
    let abi4 = std::mem::offset_of!(RelayConfig, coalesce_window_us)
        .next_multiple_of(std::mem::align_of::<RelayConfig>());
    assert_eq!(abi4, 80);
    // The caller's shorter struct followed by bytes an over-reading library would take for
    // a relay id and a previous key.
    let mut buf = [0xA5A5_A5A5_A5A5_A5A5u64; 32];
    let mut cfg = client_support::c_relay_config_on_loopback();
    cfg.struct_size = abi4 as u32;
    cfg.secret_key = KEY.as_ptr();
    cfg.secret_key_len = KEY.len();
    // SAFETY: `buf` is 256 bytes, aligned for and larger than a RelayConfig; only the first
    // `abi4` bytes of `cfg` are copied into it.
    unsafe {
        std::ptr::copy_nonoverlapping(
            (&raw const cfg).cast::<u8>(),
            buf.as_mut_ptr().cast::<u8>(),
            abi4,
        )
    };
    let mut relay = null_mut();
    let status = relay_start(buf.as_ptr().cast::<RelayConfig>(), &mut relay);
    assert_eq!(status, RelayStatus::Ok, "{}", last_error());
    assert_eq!(relay_stop(relay), RelayStatus::Ok);
    // Sizes other than this version's and ABI 4's are refused, naming both.
    cfg.struct_size = abi4 as u32 + 8;
    assert_eq!(relay_start(&cfg, &mut relay), RelayStatus::VersionMismatch);
    let message = last_error();
    assert!(message.contains("80 from an ABI 4 header"), "{message}");
}
