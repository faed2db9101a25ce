//! Return-path cookies: how a relay makes sure an address receives from it before it
//! forwards anything there, so a spoofed handshake cannot aim a channel's traffic at a third
//! party (reflection).
//!
//! A handshake that must prove its return path and does not carry a valid cookie gets a
//! *challenge* back, to its source address and never larger than the handshake itself:
//!
//! ```text
//! challenge, 56 bytes (the size of the smallest handshake):
//!  0  u32   magic 0x04B28000
//!  4  u16   length = 0
//!  6  u16   flags = 0x4000 (FLAG_COOKIE)
//!  8  16 B  GUID of the handshake it answers
//! 24  16 B  cookie
//! 40  16 B  zero
//! ```
//!
//! The peer sends its handshake again with the cookie as the last 16 bytes of its
//! extensions and [`FLAG_COOKIE`] set; the handshake's mac or token proof covers it like any
//! extension. The relay keeps no state per challenge: the cookie is
//!
//! ```text
//! issued (u32, relay seconds) | HMAC-SHA256(relay cookie key, address | port | GUID | issued)[..12]
//! ```
//!
//! with a key drawn at random when the relay starts, and is valid for [`COOKIE_LIFETIME_SECS`]
//! from its source address only. Only someone who receives at that address (or sees its
//! traffic) can echo it.

use std::net::SocketAddr;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::protocol::{self, Guid, HANDSHAKE_LEN, MAC_OFFSET};

/// Flag bit of a challenge, and of a handshake that carries a cookie.
pub const FLAG_COOKIE: u16 = 0x4000;
/// Size of a cookie.
pub const COOKIE_LEN: usize = 16;
/// Size of a challenge.
pub const CHALLENGE_LEN: usize = HANDSHAKE_LEN;
/// How long a cookie is accepted after it was issued.
pub const COOKIE_LIFETIME_SECS: u32 = 10;

type HmacSha256 = Hmac<Sha256>;

/// A cookie as it travels.
pub type Cookie = [u8; COOKIE_LEN];

/// The relay's cookie key: random per relay, never leaves it.
#[derive(Clone)]
pub struct CookieKey {
    mac: HmacSha256,
}

impl std::fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieKey(..)")
    }
}

impl CookieKey {
    /// A key from the operating system's random source.
    pub fn random() -> Result<CookieKey, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(CookieKey::new(&key))
    }

    pub fn new(key: &[u8]) -> CookieKey {
        CookieKey {
            mac: <HmacSha256 as KeyInit>::new_from_slice(key)
                .expect("HMAC accepts keys of any length"),
        }
    }

    /// The cookie for `addr` and `guid`, issued at relay second `issued`.
    pub fn cookie(&self, addr: SocketAddr, guid: Guid, issued: u32) -> Cookie {
        let mut mac = self.mac.clone();
        let ip = match addr.ip() {
            std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            std::net::IpAddr::V6(v6) => v6.octets(),
        };
        mac.update(&ip);
        mac.update(&addr.port().to_be_bytes());
        mac.update(&guid.0.to_be_bytes());
        mac.update(&issued.to_be_bytes());
        let tag = mac.finalize().into_bytes();
        let mut cookie = [0u8; COOKIE_LEN];
        cookie[..4].copy_from_slice(&issued.to_be_bytes());
        cookie[4..].copy_from_slice(&tag[..COOKIE_LEN - 4]);
        cookie
    }

    /// Whether `handshake` (a valid handshake for `guid`) echoes a cookie this key issued to
    /// `addr` no more than [`COOKIE_LIFETIME_SECS`] before relay second `now`.
    pub fn accepts(&self, handshake: &[u8], addr: SocketAddr, guid: Guid, now: u32) -> bool {
        let Some(echoed) = echoed_cookie(handshake) else {
            return false;
        };
        let issued = u32::from_be_bytes([echoed[0], echoed[1], echoed[2], echoed[3]]);
        if issued > now || now - issued > COOKIE_LIFETIME_SECS {
            return false;
        }
        let expected = self.cookie(addr, guid, issued);
        // Constant time: the cookie is a MAC.
        expected
            .iter()
            .zip(echoed)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// The cookie a handshake carries: the last 16 bytes of its extensions, when it sets
/// [`FLAG_COOKIE`] and its `length` field covers them.
pub fn echoed_cookie(handshake: &[u8]) -> Option<&[u8]> {
    let flags = u16::from_be_bytes([*handshake.get(6)?, *handshake.get(7)?]);
    let length = usize::from(u16::from_be_bytes([handshake[4], handshake[5]]));
    if flags & FLAG_COOKIE == 0
        || length < COOKIE_LEN
        || handshake.len() < HANDSHAKE_LEN + COOKIE_LEN
    {
        return None;
    }
    Some(&handshake[handshake.len() - COOKIE_LEN..])
}

/// Writes the challenge carrying `cookie` for `guid` into `out` (56 bytes).
pub fn write_challenge(out: &mut [u8; CHALLENGE_LEN], guid: Guid, cookie: &Cookie) {
    out.fill(0);
    out[0..4].copy_from_slice(&protocol::MAGIC.to_be_bytes());
    out[6..8].copy_from_slice(&FLAG_COOKIE.to_be_bytes());
    out[8..24].copy_from_slice(&guid.0.to_be_bytes());
    out[MAC_OFFSET..MAC_OFFSET + COOKIE_LEN].copy_from_slice(cookie);
}

/// The cookie of a challenge for `guid`, if `datagram` is one. Clients call this on what
/// arrives from the relay before anything else.
pub fn read_challenge(datagram: &[u8], guid: Guid) -> Option<Cookie> {
    if datagram.len() != CHALLENGE_LEN
        || !protocol::looks_like_handshake(datagram)
        || protocol::peek_guid(datagram) != guid
        || datagram[4..6] != [0, 0]
        || u16::from_be_bytes([datagram[6], datagram[7]]) != FLAG_COOKIE
        || datagram[MAC_OFFSET + COOKIE_LEN..].iter().any(|&b| b != 0)
    {
        return None;
    }
    let mut cookie = [0u8; COOKIE_LEN];
    cookie.copy_from_slice(&datagram[MAC_OFFSET..MAC_OFFSET + COOKIE_LEN]);
    Some(cookie)
}

/// Writes a plain handshake echoing `cookie` (72 bytes): its extension is the cookie, its
/// flags [`FLAG_COOKIE`], and `key` (if any) MACs it all.
pub fn write_handshake_with_cookie(
    out: &mut [u8],
    guid: Guid,
    key: Option<&protocol::HandshakeKey>,
    cookie: &Cookie,
) -> Result<usize, protocol::EncodeError> {
    protocol::write_handshake(out, guid, FLAG_COOKIE, cookie, key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::HandshakeKey;

    const GUID: Guid = Guid(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);

    #[test]
    fn a_cookie_is_accepted_from_its_address_within_its_lifetime_only() {
        let key = CookieKey::new(b"cookie key");
        let addr: SocketAddr = "192.0.2.1:4000".parse().unwrap();
        let cookie = key.cookie(addr, GUID, 100);
        let mut challenge = [0u8; CHALLENGE_LEN];
        write_challenge(&mut challenge, GUID, &cookie);
        assert_eq!(read_challenge(&challenge, GUID), Some(cookie));
        assert_eq!(read_challenge(&challenge, Guid(7)), None);
        assert_eq!(read_challenge(&challenge[..55], GUID), None);

        let hkey = HandshakeKey::new(b"secret");
        let mut hs = [0u8; 72];
        let n = write_handshake_with_cookie(&mut hs, GUID, Some(&hkey), &cookie).unwrap();
        assert_eq!(n, 72);
        assert!(
            protocol::parse_handshake(&hs, Some(&hkey)).is_ok(),
            "MAC covers it"
        );
        assert!(key.accepts(&hs, addr, GUID, 100));
        assert!(key.accepts(&hs, addr, GUID, 110));
        assert!(!key.accepts(&hs, addr, GUID, 111), "expired");
        assert!(!key.accepts(&hs, addr, GUID, 99), "from the future");
        let other: SocketAddr = "192.0.2.1:4001".parse().unwrap();
        assert!(!key.accepts(&hs, other, GUID, 100), "another address");
        assert!(!CookieKey::new(b"other").accepts(&hs, addr, GUID, 100));
        let mut plain = [0u8; 56];
        protocol::write_handshake(&mut plain, GUID, 0, &[], None).unwrap();
        assert!(!key.accepts(&plain, addr, GUID, 100), "no cookie");
        // A challenge is no larger than the smallest handshake.
        assert_eq!(CHALLENGE_LEN, HANDSHAKE_LEN);
    }
}
