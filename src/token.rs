//! Seat tokens: an opt-in handshake extension that lets a relay admit only the two peers a
//! matchmaker chose, refuse replays, and still let a peer whose NAT rebinds come back.
//!
//! The matchmaker holds the relay's secret and *mints* one token per peer:
//!
//! ```text
//! tag = HMAC-SHA256(secret, "udp-relay seat token v1\0" | GUID (16) | expiry (u64) | role (u8))
//! ```
//!
//! and gives it to that peer (over its own authenticated channel) as 60 bytes:
//!
//! ```text
//!  0  u8      version = 1
//!  1  u8      role: 0 = seat A, 1 = seat B
//!  2  u16     reserved, 0
//!  4  16 B    GUID (big-endian, as in the handshake)
//! 20  u64     expiry, Unix seconds (big-endian); valid while now < expiry
//! 28  32 B    tag
//! ```
//!
//! The tag is the peer's seat secret: it never goes on the wire. A handshake *with* a token
//! sets flag bit [`FLAG_TOKEN`], carries a 20-byte extension, and its mac field holds a proof
//! keyed with the tag instead of the relay secret, so clients never need the relay secret:
//!
//! ```text
//!  0  u32  magic 0x04B28000        | 24  32 B  proof = HMAC-SHA256(tag, datagram with
//!  4  u16  length = 20             |           this field zeroed), as the v0.8 mac
//!  6  u16  flags, bit 0x8000 set   | 56  u8    version = 1
//!  8  16 B GUID                    | 57  u8    role
//!                                  | 58  u16   reserved, 0
//!                                  | 60  u64   expiry (Unix seconds)
//!                                  | 68  u64   sequence: strictly increasing per token
//! ```
//!
//! The relay recomputes the tag from GUID, expiry and role with its secret and checks the
//! proof (constant time), then the expiry. A seat is taken once; a later handshake for an
//! occupied seat from another address moves the seat there only if its sequence is higher
//! than any the relay has seen for that seat (a NAT rebinding: only the tag's holder can
//! produce a fresh one), and is a replay otherwise. The tag-keyed proof lives in a
//! different key space from the v0.8 mac, and the tag's input starts with a domain string
//! rather than the handshake magic, so neither can stand in for the other.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::cookie::{COOKIE_LEN, Cookie, FLAG_COOKIE};
use crate::protocol::{
    self, EncodeError, Guid, HANDSHAKE_LEN, HandshakeError, HandshakeKey, MAX_DATAGRAM,
};

/// Flag bit announcing a seat token extension.
pub const FLAG_TOKEN: u16 = 0x8000;
/// Size of a minted token.
pub const TOKEN_LEN: usize = 60;
/// Size of the handshake extension carrying a token claim.
pub const TOKEN_EXTENSION_LEN: usize = 20;
/// Size of a handshake with a token and no other extension.
pub const TOKEN_HANDSHAKE_LEN: usize = HANDSHAKE_LEN + TOKEN_EXTENSION_LEN;
/// Size of a handshake with a token that echoes the relay's return-path cookie.
pub const TOKEN_COOKIE_HANDSHAKE_LEN: usize = TOKEN_HANDSHAKE_LEN + COOKIE_LEN;
/// Version byte of the token and of its extension.
pub const TOKEN_VERSION: u8 = 1;
/// Domain string prefixed to the tag input.
const TAG_DOMAIN: &[u8] = b"udp-relay seat token v1\0";

type HmacSha256 = Hmac<Sha256>;

/// Which seat a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    A = 0,
    B = 1,
}

impl Role {
    pub fn from_byte(b: u8) -> Option<Role> {
        match b {
            0 => Some(Role::A),
            1 => Some(Role::B),
            _ => None,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Why a token or a token handshake was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Wrong size, version, role or reserved bytes.
    Malformed,
    /// The proof (or, for a minted token, the tag) does not verify with the relay secret.
    BadProof,
    /// The token's expiry has passed.
    Expired,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenError::Malformed => "token malformed (size, version, role or reserved bytes)",
            TokenError::BadProof => "token proof does not verify with the relay secret",
            TokenError::Expired => "token expired",
        })
    }
}

impl std::error::Error for TokenError {}

/// A minted token: what the matchmaker hands to one peer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub guid: Guid,
    pub role: Role,
    pub expiry_unix_secs: u64,
    pub tag: [u8; 32],
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("guid", &self.guid)
            .field("role", &self.role)
            .field("expiry_unix_secs", &self.expiry_unix_secs)
            .finish_non_exhaustive()
    }
}

impl Token {
    /// The 60-byte wire form.
    pub fn to_bytes(&self) -> [u8; TOKEN_LEN] {
        let mut b = [0u8; TOKEN_LEN];
        b[0] = TOKEN_VERSION;
        b[1] = self.role as u8;
        b[4..20].copy_from_slice(&self.guid.0.to_be_bytes());
        b[20..28].copy_from_slice(&self.expiry_unix_secs.to_be_bytes());
        b[28..60].copy_from_slice(&self.tag);
        b
    }

    /// Parses the 60-byte form (its tag is not checked: only the relay can).
    pub fn from_bytes(b: &[u8]) -> Result<Token, TokenError> {
        if b.len() != TOKEN_LEN || b[0] != TOKEN_VERSION || b[2] != 0 || b[3] != 0 {
            return Err(TokenError::Malformed);
        }
        let role = Role::from_byte(b[1]).ok_or(TokenError::Malformed)?;
        let guid = Guid(u128::from_be_bytes(b[4..20].try_into().expect("16 bytes")));
        if guid.is_zero() {
            return Err(TokenError::Malformed);
        }
        Ok(Token {
            guid,
            role,
            expiry_unix_secs: u64::from_be_bytes(b[20..28].try_into().expect("8 bytes")),
            tag: b[28..60].try_into().expect("32 bytes"),
        })
    }
}

/// The relay secret, keyed for minting and checking token tags.
#[derive(Clone)]
pub struct TokenKey {
    mac: HmacSha256,
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    pub fn new(secret: &[u8]) -> TokenKey {
        TokenKey {
            mac: <HmacSha256 as KeyInit>::new_from_slice(secret)
                .expect("HMAC accepts keys of any length"),
        }
    }

    /// The seat tag for `guid`, `role` and `expiry`.
    pub fn tag(&self, guid: Guid, role: Role, expiry_unix_secs: u64) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(TAG_DOMAIN);
        mac.update(&guid.0.to_be_bytes());
        mac.update(&expiry_unix_secs.to_be_bytes());
        mac.update(&[role as u8]);
        mac.finalize().into_bytes().into()
    }

    /// Mints the token of one seat. The GUID must not be zero.
    pub fn mint(&self, guid: Guid, role: Role, expiry_unix_secs: u64) -> Token {
        Token {
            guid,
            role,
            expiry_unix_secs,
            tag: self.tag(guid, role, expiry_unix_secs),
        }
    }
}

/// Writes a handshake carrying `token` with `sequence` into `out`; returns its length (76).
/// `sequence` must grow with every handshake sent with this token (a counter, or a clock in
/// milliseconds): after a NAT rebinding the relay moves the seat only for a fresh one.
pub fn write_handshake_with_token(
    out: &mut [u8],
    token: &Token,
    sequence: u64,
) -> Result<usize, EncodeError> {
    write_handshake_with_token_and_cookie(out, token, sequence, None)
}

/// [`write_handshake_with_token`], echoing the relay's return-path `cookie` when given
/// (then 92 bytes; see [`crate::cookie`]). A relay admits a token handshake only with a
/// valid cookie, which it sends in a challenge in answer to one without.
pub fn write_handshake_with_token_and_cookie(
    out: &mut [u8],
    token: &Token,
    sequence: u64,
    cookie: Option<&Cookie>,
) -> Result<usize, EncodeError> {
    let mut ext = [0u8; TOKEN_EXTENSION_LEN + COOKIE_LEN];
    ext[0] = TOKEN_VERSION;
    ext[1] = token.role as u8;
    ext[4..12].copy_from_slice(&token.expiry_unix_secs.to_be_bytes());
    ext[12..20].copy_from_slice(&sequence.to_be_bytes());
    let (flags, ext) = match cookie {
        Some(c) => {
            ext[TOKEN_EXTENSION_LEN..].copy_from_slice(c);
            (FLAG_TOKEN | FLAG_COOKIE, &ext[..])
        }
        None => (FLAG_TOKEN, &ext[..TOKEN_EXTENSION_LEN]),
    };
    let seat_key = HandshakeKey::new(&token.tag);
    protocol::write_handshake(out, token.guid, flags, ext, Some(&seat_key))
}

/// The token claim of a verified handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenClaim {
    pub role: Role,
    pub expiry_unix_secs: u64,
    pub sequence: u64,
}

/// A handshake that passed every check the relay is configured for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub guid: Guid,
    /// Present when the handshake carried a valid token.
    pub token: Option<TokenClaim>,
}

/// Why a datagram from an unpaired address was not admitted as a handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Not a valid v0.8 handshake (short, bad magic, zero GUID, bad mac).
    Handshake(HandshakeError),
    /// Carries a token that is malformed, does not verify, or has expired.
    Token(TokenError),
    /// Tokens are required and there is none.
    TokenRequired,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Handshake(e) => e.fmt(f),
            Rejection::Token(e) => e.fmt(f),
            Rejection::TokenRequired => f.write_str("a seat token is required"),
        }
    }
}

/// Checks handshakes the way the relay is configured: plain v0.8 (keyed or not) and, when
/// the relay has a secret, token handshakes.
#[derive(Debug, Clone)]
pub struct HandshakeVerifier {
    key: Option<HandshakeKey>,
    tokens: Option<TokenKey>,
    require_tokens: bool,
}

impl HandshakeVerifier {
    /// `require_tokens` needs a secret (tokens cannot be checked without one).
    pub fn new(secret: Option<&[u8]>, require_tokens: bool) -> HandshakeVerifier {
        HandshakeVerifier {
            key: secret.map(HandshakeKey::new),
            tokens: secret.map(TokenKey::new),
            require_tokens,
        }
    }

    /// Whether a token handshake's claims can be checked (the relay has a secret).
    pub fn checks_tokens(&self) -> bool {
        self.tokens.is_some()
    }

    /// Whether a handshake that passes [`HandshakeVerifier::verify`] proves anything: true
    /// when the relay has a secret (a keyed HMAC or a seat token must verify). Without one,
    /// any datagram that starts with the magic and carries a GUID passes, game payloads
    /// included.
    pub fn authenticates(&self) -> bool {
        self.key.is_some()
    }

    /// Verifies `datagram` at wall-clock time `unix_now_secs`.
    pub fn verify(&self, datagram: &[u8], unix_now_secs: u64) -> Result<Verified, Rejection> {
        if datagram.len() < HANDSHAKE_LEN {
            return Err(Rejection::Handshake(HandshakeError::TooShort));
        }
        let flags = u16::from_be_bytes([datagram[6], datagram[7]]);
        match &self.tokens {
            Some(tokens) if flags & FLAG_TOKEN != 0 => {
                // Magic and GUID first, without any key.
                let h = protocol::parse_handshake(datagram, None).map_err(Rejection::Handshake)?;
                let claim = verify_claim(tokens, datagram, h.guid, unix_now_secs)
                    .map_err(Rejection::Token)?;
                Ok(Verified {
                    guid: h.guid,
                    token: Some(claim),
                })
            }
            _ if self.require_tokens => {
                protocol::parse_handshake(datagram, None).map_err(Rejection::Handshake)?;
                Err(Rejection::TokenRequired)
            }
            _ => {
                let h = protocol::parse_handshake(datagram, self.key.as_ref())
                    .map_err(Rejection::Handshake)?;
                Ok(Verified {
                    guid: h.guid,
                    token: None,
                })
            }
        }
    }
}

/// The token claim of a handshake (at least 56 bytes) that sets [`FLAG_TOKEN`], checked for
/// shape only: the proof is keyed with the seat's tag, which only the relay (holding the
/// secret) can recompute. Clients use this to recognise their peer's token handshakes.
pub fn read_claim(datagram: &[u8]) -> Result<TokenClaim, TokenError> {
    let ext = datagram.get(HANDSHAKE_LEN..).unwrap_or_default();
    if ext.len() < TOKEN_EXTENSION_LEN
        || ext[0] != TOKEN_VERSION
        || ext[2] != 0
        || ext[3] != 0
        || usize::from(u16::from_be_bytes([datagram[4], datagram[5]])) < TOKEN_EXTENSION_LEN
    {
        return Err(TokenError::Malformed);
    }
    let role = Role::from_byte(ext[1]).ok_or(TokenError::Malformed)?;
    Ok(TokenClaim {
        role,
        expiry_unix_secs: u64::from_be_bytes(ext[4..12].try_into().expect("8 bytes")),
        sequence: u64::from_be_bytes(ext[12..20].try_into().expect("8 bytes")),
    })
}

fn verify_claim(
    tokens: &TokenKey,
    datagram: &[u8],
    guid: Guid,
    unix_now_secs: u64,
) -> Result<TokenClaim, TokenError> {
    let claim = read_claim(datagram)?;
    let tag = tokens.tag(guid, claim.role, claim.expiry_unix_secs);
    if !HandshakeKey::new(&tag).verify(datagram) {
        return Err(TokenError::BadProof);
    }
    if unix_now_secs >= claim.expiry_unix_secs {
        return Err(TokenError::Expired);
    }
    Ok(claim)
}

const _: () = assert!(TOKEN_HANDSHAKE_LEN <= MAX_DATAGRAM);

/// Whether a datagram that [`protocol::looks_like_handshake`] sets the token flag.
#[inline]
pub fn has_token_flag(datagram: &[u8]) -> bool {
    datagram.len() >= 8 && u16::from_be_bytes([datagram[6], datagram[7]]) & FLAG_TOKEN != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_fixtures::{GUID, KEY_0_31 as SECRET, unhex};
    const EXPIRY: u64 = 1_900_000_000;

    // Computed independently with Python 3 (hmac, hashlib, struct):
    //   secret = bytes(range(32)); guid = bytes.fromhex("0123456789abcdeffedcba9876543210")
    //   tag = hmac.new(secret, b"udp-relay seat token v1\0" + guid
    //                  + struct.pack(">QB", 1900000000, role), hashlib.sha256).digest()
    //   token = struct.pack(">BBH", 1, role, 0) + guid + struct.pack(">Q", 1900000000) + tag
    const TOKEN_A_HEX: &str = "010000000123456789abcdeffedcba987654321000000000713fb300\
        d1a7d06a135ec84bba8e522edf04dbd43fdb871e2b66de152943eb2ae212bafb";
    const TOKEN_B_HEX: &str = "010100000123456789abcdeffedcba987654321000000000713fb300\
        2a39adafb11487bd6f7946aa07481abcad4ce328763aca977534bdb70710162a";
    //   ext = struct.pack(">BBHQQ", 1, 0, 0, 1900000000, 7)
    //   hdr = struct.pack(">IHH", 0x04B28000, 20, 0x8000) + guid
    //   proof = hmac.new(tag_A, hdr + b"\0"*32 + ext, hashlib.sha256).digest()
    //   datagram = hdr + proof + ext
    const HANDSHAKE_A7_HEX: &str = "04b28000001480000123456789abcdeffedcba9876543210\
        1c828b38053662c785167ceb7fcd60482f7ede2e2f56c5a0be81dbcc755172d3\
        0100000000000000713fb3000000000000000007";

    #[test]
    fn mints_tokens_byte_for_byte() {
        let key = TokenKey::new(&SECRET);
        let a = key.mint(GUID, Role::A, EXPIRY);
        assert_eq!(a.to_bytes().as_slice(), unhex(TOKEN_A_HEX).as_slice());
        let b = key.mint(GUID, Role::B, EXPIRY);
        assert_eq!(b.to_bytes().as_slice(), unhex(TOKEN_B_HEX).as_slice());
        assert_eq!(Token::from_bytes(&a.to_bytes()), Ok(a));
    }

    #[test]
    fn writes_token_handshake_byte_for_byte() {
        let token = Token::from_bytes(&unhex(TOKEN_A_HEX)).unwrap();
        let mut buf = [0u8; 80];
        let n = write_handshake_with_token(&mut buf, &token, 7).unwrap();
        assert_eq!(n, TOKEN_HANDSHAKE_LEN);
        assert_eq!(&buf[..n], unhex(HANDSHAKE_A7_HEX).as_slice());
    }

    #[test]
    fn verifier_accepts_valid_and_rejects_tampered_expired_and_missing() {
        let key = TokenKey::new(&SECRET);
        let token = key.mint(GUID, Role::B, EXPIRY);
        let mut hs = [0u8; TOKEN_HANDSHAKE_LEN];
        write_handshake_with_token(&mut hs, &token, 42).unwrap();
        let v = HandshakeVerifier::new(Some(&SECRET), true);
        let ok = v.verify(&hs, EXPIRY - 1).unwrap();
        assert_eq!(ok.guid, GUID);
        assert_eq!(
            ok.token,
            Some(TokenClaim {
                role: Role::B,
                expiry_unix_secs: EXPIRY,
                sequence: 42
            })
        );
        assert_eq!(
            v.verify(&hs, EXPIRY),
            Err(Rejection::Token(TokenError::Expired))
        );
        // Every byte is covered: GUID, flags, claim, proof.
        for i in 0..TOKEN_HANDSHAKE_LEN {
            let mut bad = hs;
            bad[i] ^= 0x01;
            assert!(v.verify(&bad, EXPIRY - 1).is_err(), "byte {i}");
        }
        // Another relay secret.
        let other = HandshakeVerifier::new(Some(b"another secret"), false);
        assert_eq!(
            other.verify(&hs, 0),
            Err(Rejection::Token(TokenError::BadProof))
        );
        // A plain handshake where tokens are required, and one keyed with the relay secret.
        let mut plain = [0u8; HANDSHAKE_LEN];
        protocol::write_handshake(&mut plain, GUID, 0, &[], Some(&HandshakeKey::new(&SECRET)))
            .unwrap();
        assert_eq!(v.verify(&plain, 0), Err(Rejection::TokenRequired));
        let optional = HandshakeVerifier::new(Some(&SECRET), false);
        assert_eq!(optional.verify(&plain, 0).unwrap().token, None);
        // Truncated extension.
        assert_eq!(
            v.verify(&hs[..70], 0),
            Err(Rejection::Token(TokenError::Malformed))
        );
        // Without a secret the extension is just an extension.
        let unkeyed = HandshakeVerifier::new(None, false);
        assert_eq!(unkeyed.verify(&hs, u64::MAX).unwrap().token, None);
    }
}
