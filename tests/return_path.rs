//! Reflection through the relay, tried with spoofed sources: a raw socket on loopback (root)
//! sends handshakes that claim to come from a victim's address, and the test looks at what
//! the victim receives.
//!
//! - A plain v0.8 relay (the default) takes a plain handshake's source at its word: one
//!   spoofed handshake makes the victim peer A, the attacker joins as B, and everything the
//!   attacker sends then reaches the victim. That is what `require_return_path` removes.
//! - With `require_return_path`, and for every token handshake, the relay first sends the
//!   claimed source a 56-byte challenge (never larger than the handshake) and forwards
//!   nothing there until the cookie comes back from it: the victim gets one challenge per
//!   spoofed handshake and nothing else.
#![cfg(target_os = "linux")]

use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod client_support;
use client_support::{RelayThread, establish, exchange};
use udp_relay::client::Client;
use udp_relay::cookie::{CHALLENGE_LEN, read_challenge};
use udp_relay::protocol::{Guid, write_handshake};
use udp_relay::relay::{Config, Relay};
use udp_relay::token::{
    Role, Token, TokenKey, write_handshake_with_token, write_handshake_with_token_and_cookie,
};

const SECRET: &[u8] = b"return path test secret";

/// A raw IPv4 socket that writes its own headers, or why there is none.
struct Spoofer(i32);

impl Spoofer {
    fn open() -> Result<Spoofer, String> {
        // SAFETY: plain socket(2) call; the descriptor is owned by the returned value.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
        if fd < 0 {
            return Err(format!(
                "raw socket: {} (needs root or CAP_NET_RAW)",
                std::io::Error::last_os_error()
            ));
        }
        Ok(Spoofer(fd))
    }

    /// Sends `payload` in a UDP datagram from `src` to `dst`, whatever `src` is.
    fn send(&self, src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) {
        let udp_len = 8 + payload.len();
        let total = 20 + udp_len;
        let mut packet = vec![0u8; total];
        packet[0] = 0x45; // IPv4, 5-word header
        packet[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        packet[8] = 64; // TTL
        packet[9] = libc::IPPROTO_UDP as u8;
        packet[12..16].copy_from_slice(&src.ip().octets());
        packet[16..20].copy_from_slice(&dst.ip().octets());
        let sum = checksum(&packet[..20]);
        packet[10..12].copy_from_slice(&sum.to_be_bytes());
        packet[20..22].copy_from_slice(&src.port().to_be_bytes());
        packet[22..24].copy_from_slice(&dst.port().to_be_bytes());
        packet[24..26].copy_from_slice(&(udp_len as u16).to_be_bytes());
        // UDP checksum 0: none (allowed over IPv4).
        packet[28..].copy_from_slice(payload);
        let to = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: dst.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*dst.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: `packet` and `to` are valid for the lengths given for the whole call.
        let sent = unsafe {
            libc::sendto(
                self.0,
                packet.as_ptr().cast(),
                packet.len(),
                0,
                (&to as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        assert_eq!(sent, total as isize, "{}", std::io::Error::last_os_error());
    }
}

impl Drop for Spoofer {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours and closed once.
        unsafe { libc::close(self.0) };
    }
}

fn checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The raw socket, or a loud skip (a failure on CI, where the tests run as root).
fn spoofer(test: &str) -> Option<Spoofer> {
    match Spoofer::open() {
        Ok(s) => Some(s),
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{test}: cannot spoof on CI: {why}")
        }
        Err(why) => {
            eprintln!("SKIPPED: {test}: {why}");
            None
        }
    }
}

fn v4(addr: SocketAddr) -> SocketAddrV4 {
    match addr {
        SocketAddr::V4(a) => a,
        SocketAddr::V6(a) => panic!("{a} is not IPv4"),
    }
}

fn socket(ip: &str) -> UdpSocket {
    let s = UdpSocket::bind(format!("{ip}:0")).unwrap();
    s.set_nonblocking(true).unwrap();
    s
}

fn relay(tune: impl FnOnce(&mut Config)) -> Relay {
    let mut config = Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        secret_key: Some(SECRET.to_vec()),
        ..Config::default()
    };
    tune(&mut config);
    Relay::bind(config).unwrap()
}

/// Polls the relay for `ms` and returns every datagram each socket received meanwhile.
fn run(relay: &mut Relay, ms: u64, sockets: &[&UdpSocket]) -> Vec<Vec<Vec<u8>>> {
    let mut got = vec![Vec::new(); sockets.len()];
    let mut buf = vec![0u8; 65_536];
    let end = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < end {
        relay.poll(Duration::from_millis(2)).unwrap();
        for (i, s) in sockets.iter().enumerate() {
            while let Ok(n) = s.recv(&mut buf) {
                got[i].push(buf[..n].to_vec());
            }
        }
    }
    got
}

fn keyed(guid: Guid) -> Vec<u8> {
    let mut out = vec![0u8; 56];
    let key = udp_relay::protocol::HandshakeKey::new(SECRET);
    write_handshake(&mut out, guid, 0, &[], Some(&key)).unwrap();
    out
}

fn with_token(t: &Token, sequence: u64, cookie: Option<&[u8; 16]>) -> Vec<u8> {
    let mut out = vec![0u8; 92];
    let n = match cookie {
        Some(c) => write_handshake_with_token_and_cookie(&mut out, t, sequence, Some(c)),
        None => write_handshake_with_token(&mut out, t, sequence),
    };
    out.truncate(n.unwrap());
    out
}

fn tokens(guid: Guid) -> (Token, Token) {
    let expiry = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let key = TokenKey::new(SECRET);
    (
        key.mint(guid, Role::A, expiry),
        key.mint(guid, Role::B, expiry),
    )
}

/// The attacker opens a plain channel in the victim's name and joins it itself, then
/// sends 20 datagrams of 1 000 bytes.
fn plain_reflection(relay: &mut Relay, spoof: &Spoofer) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let to = relay.local_addr();
    let victim = socket("127.0.0.2");
    let attacker = socket("127.0.0.3");
    let guid = Guid::random().unwrap();
    spoof.send(v4(victim.local_addr().unwrap()), v4(to), &keyed(guid));
    run(relay, 30, &[]);
    attacker.send_to(&keyed(guid), to).unwrap();
    run(relay, 30, &[]);
    // The attacker answers any challenge it gets for its own address; the victim never
    // answers (it did not ask).
    let mut buf = [0u8; 128];
    while let Ok(n) = attacker.recv(&mut buf) {
        if let Some(cookie) = read_challenge(&buf[..n], guid) {
            let mut echo = vec![0u8; 72];
            let key = udp_relay::protocol::HandshakeKey::new(SECRET);
            udp_relay::cookie::write_handshake_with_cookie(&mut echo, guid, Some(&key), &cookie)
                .unwrap();
            attacker.send_to(&echo, to).unwrap();
        }
    }
    run(relay, 30, &[]);
    for _ in 0..20 {
        attacker.send_to(&[0xEEu8; 1000], to).unwrap();
    }
    let got = run(relay, 100, &[&victim, &attacker]);
    (got[0].clone(), got[1].clone())
}

#[test]
fn a_plain_relay_reflects_a_spoofed_plain_channel_at_its_victim() {
    let Some(spoof) = spoofer("a_plain_relay_reflects_a_spoofed_plain_channel_at_its_victim")
    else {
        return;
    };
    let mut r = relay(|_| {});
    let (victim, _) = plain_reflection(&mut r, &spoof);
    // What SECURITY.md says a plain relay can still be made to do: the victim receives the
    // attacker's handshake and all 20 datagrams, from the relay's address.
    let reflected = victim.iter().filter(|d| d.len() == 1000).count();
    assert_eq!(reflected, 20, "{} datagrams at the victim", victim.len());
}

#[test]
fn require_return_path_leaves_the_victim_one_small_challenge() {
    let Some(spoof) = spoofer("require_return_path_leaves_the_victim_one_small_challenge") else {
        return;
    };
    let mut r = relay(|c| c.require_return_path = true);
    let (victim, _) = plain_reflection(&mut r, &spoof);
    assert_eq!(victim.len(), 1, "only the challenge: {victim:?}");
    assert_eq!(victim[0].len(), CHALLENGE_LEN);
    assert!(
        victim[0].len() <= 56,
        "no larger than the spoofed handshake"
    );
    let s = r.stats();
    assert_eq!(s.channels_established, 0, "{s:?}");
}

/// A token holder aims its partner's traffic at a victim by spoofing its own source: the
/// victim receives one challenge and nothing of the partner's traffic; the seat stays free
/// for the real holder.
#[test]
fn a_spoofed_token_handshake_cannot_aim_a_partner_at_a_victim() {
    let Some(spoof) = spoofer("a_spoofed_token_handshake_cannot_aim_a_partner_at_a_victim") else {
        return;
    };
    let mut r = relay(|c| c.require_tokens = true);
    let to = r.local_addr();
    let guid = Guid::random().unwrap();
    let (ta, tb) = tokens(guid);
    let (partner, victim) = (socket("127.0.0.4"), socket("127.0.0.2"));
    // The partner enters honestly: handshake, challenge, echo.
    partner.send_to(&with_token(&ta, 1, None), to).unwrap();
    let got = run(&mut r, 30, &[&partner]);
    let cookie = read_challenge(&got[0][0], guid).expect("the partner is challenged");
    partner
        .send_to(&with_token(&ta, 2, Some(&cookie)), to)
        .unwrap();
    run(&mut r, 30, &[]);
    assert_eq!(
        r.channel(guid).unwrap().peer_a,
        partner.local_addr().unwrap()
    );
    // The holder of seat B claims it from the victim's address.
    for seq in 1..=5 {
        spoof.send(
            v4(victim.local_addr().unwrap()),
            v4(to),
            &with_token(&tb, seq, None),
        );
    }
    run(&mut r, 30, &[]);
    for _ in 0..20 {
        partner.send_to(&[0xAAu8; 1000], to).unwrap();
    }
    let got = run(&mut r, 100, &[&victim]);
    assert!(
        got[0].iter().all(|d| d.len() == CHALLENGE_LEN),
        "the victim received more than challenges: {:?}",
        got[0].iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert_eq!(got[0].len(), 5, "one challenge per spoofed handshake");
    assert!(
        r.channel(guid).unwrap().peer_b.is_none(),
        "seat B still free"
    );
}

/// This library's plain clients answer the challenge on their own: with
/// `require_return_path` they pair and exchange as usual, one round trip later.
#[test]
fn plain_clients_of_this_library_pass_the_return_path_check() {
    let relay = RelayThread::start_with(Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        require_return_path: true,
        ..Config::default()
    });
    let guid = Guid::random().unwrap();
    let mut a = Client::connect(client_support::config(relay.addr, guid)).unwrap();
    let mut b = Client::connect(client_support::config(relay.addr, guid)).unwrap();
    establish(&mut a, &mut b, Duration::from_secs(5));
    exchange(&mut a, &mut b, 200, |_| 100);
    drop((a, b));
    let s = relay.stop();
    assert_eq!(s.handshakes_challenged, 2, "{s:?}");
    assert_eq!(s.channels_established, 1, "{s:?}");
}
