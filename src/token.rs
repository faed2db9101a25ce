//! Seat tokens: an opt-in handshake extension that lets a relay admit only the two peers a
//! matchmaker chose, refuse replays, and still let a peer whose NAT rebinds come back.
//!
//! Two versions exist. **v1** is valid on every relay holding the secret; **v2** also names
//! the relay it is valid for (a *relay id*, given to each relay of a fleet by its config) and
//! the id of the key it was minted under, so a fleet can rotate its key. Relays and clients
//! take both; a relay can be told to refuse v1 ([`HandshakeVerifier::requiring_token_v2`]).
//!
//! # v1
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
//! # v2: bound to one relay, minted under a named key
//!
//! ```text
//! tag = HMAC-SHA256(key of key id, "udp-relay seat token v2\0" | key id (u32) | relay id (u32)
//!                   | GUID (16) | expiry (u64) | role (u8))
//! ```
//!
//! The token, 68 bytes:
//!
//! ```text
//!  0  u8      version = 2
//!  1  u8      role: 0 = seat A, 1 = seat B
//!  2  u16     reserved, 0
//!  4  u32     key id: which of the fleet's keys minted it
//!  8  u32     relay id: the one relay it is valid on (never 0)
//! 12  16 B    GUID
//! 28  u64     expiry, Unix seconds; valid while now < expiry
//! 36  32 B    tag
//! ```
//!
//! Its handshake has the same header (flag 0x8000, proof keyed with the tag over the whole
//! datagram) and a 28-byte extension, 84 bytes in all:
//!
//! ```text
//! 56  u8   version = 2             | 64  u32  relay id
//! 57  u8   role                    | 68  u64  expiry (Unix seconds)
//! 58  u16  reserved, 0             | 76  u64  sequence: strictly increasing per token
//! 60  u32  key id                  |
//! ```
//!
//! With a return-path cookie ([`crate::cookie`], flag 0x4000) the cookie follows the
//! extension as its last 16 bytes: `length` 36 and 92 bytes for v1, `length` 44 and 100
//! bytes for v2.
//!
//! # What the relay checks
//!
//! The relay recomputes the tag from the claim and checks the proof (constant time), then,
//! for v2, that the relay id is its own, then the expiry. For v2 it takes the key named by
//! the key id: its current key or, during a rotation, its previous one; any other key id is
//! refused before any HMAC. A v1 token (which names no key) is tried with the current key,
//! then the previous one. A v2 token that verifies but names another relay is refused as
//! *wrong relay* (counted apart: it means a client was sent to the wrong relay of the fleet);
//! it is not answered and changes nothing.
//!
//! A seat is taken once; a later handshake for an occupied seat from another address moves
//! the seat there only if its sequence is higher than any the relay has seen for that seat
//! (a NAT rebinding: only the tag's holder can produce a fresh one), and is a replay
//! otherwise. The tag-keyed proof lives in a different key space from the v0.8 mac, and the
//! tag's input starts with a domain string rather than the handshake magic, so neither can
//! stand in for the other; the two versions' domain strings differ, so a tag of one version
//! never verifies as the other.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::cookie::{COOKIE_LEN, Cookie, FLAG_COOKIE};
use crate::protocol::{
    self, EncodeError, Guid, HANDSHAKE_LEN, HandshakeError, HandshakeKey, MAX_DATAGRAM,
};

/// Flag bit announcing a seat token extension.
pub const FLAG_TOKEN: u16 = 0x8000;
/// Size of a minted v1 token.
pub const TOKEN_LEN: usize = 60;
/// Size of a minted v2 (relay-bound) token.
pub const TOKEN_V2_LEN: usize = 68;
/// Size of the handshake extension carrying a v1 token claim.
pub const TOKEN_EXTENSION_LEN: usize = 20;
/// Size of the handshake extension carrying a v2 token claim.
pub const TOKEN_V2_EXTENSION_LEN: usize = 28;
/// Size of a handshake with a v1 token and no other extension.
pub const TOKEN_HANDSHAKE_LEN: usize = HANDSHAKE_LEN + TOKEN_EXTENSION_LEN;
/// Size of a handshake with a v2 token and no other extension.
pub const TOKEN_V2_HANDSHAKE_LEN: usize = HANDSHAKE_LEN + TOKEN_V2_EXTENSION_LEN;
/// Size of a handshake with a v1 token that echoes the relay's return-path cookie.
pub const TOKEN_COOKIE_HANDSHAKE_LEN: usize = TOKEN_HANDSHAKE_LEN + COOKIE_LEN;
/// Size of a handshake with a v2 token that echoes the relay's return-path cookie: the
/// largest handshake a client sends.
pub const TOKEN_V2_COOKIE_HANDSHAKE_LEN: usize = TOKEN_V2_HANDSHAKE_LEN + COOKIE_LEN;
/// Version byte of a v1 token and of its extension.
pub const TOKEN_VERSION: u8 = 1;
/// Version byte of a v2 token and of its extension.
pub const TOKEN_V2_VERSION: u8 = 2;
/// Domain string prefixed to the v1 tag input.
const TAG_DOMAIN: &[u8] = b"udp-relay seat token v1\0";
/// Domain string prefixed to the v2 tag input.
const TAG_DOMAIN_V2: &[u8] = b"udp-relay seat token v2\0";

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

/// What a v2 token binds itself to: the key it was minted under and the one relay it is
/// valid on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RelayBinding {
    /// The id of the key that minted the token (a relay holds its current key and, during a
    /// rotation, the previous one, each under an id).
    pub key_id: u32,
    /// The relay the token is valid on; never 0.
    pub relay_id: u32,
}

/// Why a token or a token handshake was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Wrong size, version, role or reserved bytes (or a v2 relay id of 0).
    Malformed,
    /// The proof (or, for a minted token, the tag) does not verify with the relay secret.
    BadProof,
    /// The token's expiry has passed.
    Expired,
    /// A v2 token minted under a key id the relay does not hold (neither its current nor
    /// its previous key).
    UnknownKey { key_id: u32 },
    /// A v2 token that verifies but is for another relay of the fleet.
    WrongRelay { relay_id: u32 },
    /// A v1 token where the relay requires relay-bound (v2) tokens.
    V1Refused,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Malformed => {
                f.write_str("token malformed (size, version, role or reserved bytes)")
            }
            TokenError::BadProof => {
                f.write_str("token proof does not verify with the relay secret")
            }
            TokenError::Expired => f.write_str("token expired"),
            TokenError::UnknownKey { key_id } => write!(
                f,
                "token minted under key id {key_id}, neither this relay's current nor its \
                 previous key"
            ),
            TokenError::WrongRelay { relay_id } => {
                write!(f, "token is for relay {relay_id}, not this one")
            }
            TokenError::V1Refused => {
                f.write_str("v1 token refused: this relay requires relay-bound (v2) tokens")
            }
        }
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
    /// `Some` for a v2 token: the key it was minted under and the relay it is valid on.
    pub binding: Option<RelayBinding>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("guid", &self.guid)
            .field("role", &self.role)
            .field("expiry_unix_secs", &self.expiry_unix_secs)
            .field("binding", &self.binding)
            .finish_non_exhaustive()
    }
}

impl Token {
    /// 1 or 2.
    pub fn version(&self) -> u8 {
        match self.binding {
            None => TOKEN_VERSION,
            Some(_) => TOKEN_V2_VERSION,
        }
    }

    /// Size of the wire form: [`TOKEN_LEN`] (v1) or [`TOKEN_V2_LEN`] (v2).
    pub fn encoded_len(&self) -> usize {
        match self.binding {
            None => TOKEN_LEN,
            Some(_) => TOKEN_V2_LEN,
        }
    }

    /// Size of a handshake carrying this token, without and with a return-path cookie.
    pub fn handshake_len(&self, with_cookie: bool) -> usize {
        let ext = match self.binding {
            None => TOKEN_EXTENSION_LEN,
            Some(_) => TOKEN_V2_EXTENSION_LEN,
        };
        HANDSHAKE_LEN + ext + if with_cookie { COOKIE_LEN } else { 0 }
    }

    /// The wire form: 60 bytes (v1) or 68 (v2).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; self.encoded_len()];
        b[0] = self.version();
        b[1] = self.role as u8;
        let rest = match self.binding {
            None => &mut b[4..],
            Some(binding) => {
                b[4..8].copy_from_slice(&binding.key_id.to_be_bytes());
                b[8..12].copy_from_slice(&binding.relay_id.to_be_bytes());
                &mut b[12..]
            }
        };
        rest[0..16].copy_from_slice(&self.guid.0.to_be_bytes());
        rest[16..24].copy_from_slice(&self.expiry_unix_secs.to_be_bytes());
        rest[24..56].copy_from_slice(&self.tag);
        b
    }

    /// Parses either wire form, told apart by size and version byte (the tag is not checked:
    /// only the relay can).
    pub fn from_bytes(b: &[u8]) -> Result<Token, TokenError> {
        let (binding, rest) = match (b.len(), b.first()) {
            (TOKEN_LEN, Some(&TOKEN_VERSION)) => (None, &b[4..]),
            (TOKEN_V2_LEN, Some(&TOKEN_V2_VERSION)) => {
                let relay_id = be_u32(&b[8..12]);
                if relay_id == 0 {
                    return Err(TokenError::Malformed);
                }
                let key_id = be_u32(&b[4..8]);
                (Some(RelayBinding { key_id, relay_id }), &b[12..])
            }
            _ => return Err(TokenError::Malformed),
        };
        if b[2] != 0 || b[3] != 0 {
            return Err(TokenError::Malformed);
        }
        let role = Role::from_byte(b[1]).ok_or(TokenError::Malformed)?;
        let guid = Guid(u128::from_be_bytes(
            rest[0..16].try_into().expect("16 bytes"),
        ));
        if guid.is_zero() {
            return Err(TokenError::Malformed);
        }
        Ok(Token {
            guid,
            role,
            expiry_unix_secs: u64::from_be_bytes(rest[16..24].try_into().expect("8 bytes")),
            tag: rest[24..56].try_into().expect("32 bytes"),
            binding,
        })
    }
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().expect("4 bytes"))
}

fn be_u64(b: &[u8]) -> u64 {
    u64::from_be_bytes(b[..8].try_into().expect("8 bytes"))
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

    /// The v1 seat tag for `guid`, `role` and `expiry`.
    pub fn tag(&self, guid: Guid, role: Role, expiry_unix_secs: u64) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(TAG_DOMAIN);
        mac.update(&guid.0.to_be_bytes());
        mac.update(&expiry_unix_secs.to_be_bytes());
        mac.update(&[role as u8]);
        mac.finalize().into_bytes().into()
    }

    /// The v2 seat tag for `binding`, `guid`, `role` and `expiry`. This key must be the one
    /// `binding.key_id` names.
    pub fn tag_v2(
        &self,
        binding: RelayBinding,
        guid: Guid,
        role: Role,
        expiry_unix_secs: u64,
    ) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(TAG_DOMAIN_V2);
        mac.update(&binding.key_id.to_be_bytes());
        mac.update(&binding.relay_id.to_be_bytes());
        mac.update(&guid.0.to_be_bytes());
        mac.update(&expiry_unix_secs.to_be_bytes());
        mac.update(&[role as u8]);
        mac.finalize().into_bytes().into()
    }

    /// The tag of a token or claim with this binding (v2) or none (v1).
    fn tag_for(
        &self,
        binding: Option<RelayBinding>,
        guid: Guid,
        role: Role,
        expiry_unix_secs: u64,
    ) -> [u8; 32] {
        match binding {
            None => self.tag(guid, role, expiry_unix_secs),
            Some(b) => self.tag_v2(b, guid, role, expiry_unix_secs),
        }
    }

    /// Mints the v1 token of one seat, valid on every relay holding this secret. The GUID
    /// must not be zero.
    pub fn mint(&self, guid: Guid, role: Role, expiry_unix_secs: u64) -> Token {
        Token {
            guid,
            role,
            expiry_unix_secs,
            tag: self.tag(guid, role, expiry_unix_secs),
            binding: None,
        }
    }

    /// Mints the v2 token of one seat, valid only on the relay `relay_id` (not 0) while
    /// that relay holds this key under `key_id`. The GUID must not be zero.
    pub fn mint_for_relay(
        &self,
        key_id: u32,
        relay_id: u32,
        guid: Guid,
        role: Role,
        expiry_unix_secs: u64,
    ) -> Token {
        let binding = RelayBinding { key_id, relay_id };
        Token {
            guid,
            role,
            expiry_unix_secs,
            tag: self.tag_v2(binding, guid, role, expiry_unix_secs),
            binding: Some(binding),
        }
    }
}

/// Writes a handshake carrying `token` with `sequence` into `out`; returns its length (76
/// for a v1 token, 84 for v2). `sequence` must grow with every handshake sent with this
/// token (a counter, or a clock in milliseconds): after a NAT rebinding the relay moves the
/// seat only for a fresh one.
pub fn write_handshake_with_token(
    out: &mut [u8],
    token: &Token,
    sequence: u64,
) -> Result<usize, EncodeError> {
    write_handshake_with_token_and_cookie(out, token, sequence, None)
}

/// [`write_handshake_with_token`], echoing the relay's return-path `cookie` when given
/// (then 92 bytes for v1, 100 for v2; see [`crate::cookie`]). A relay admits a token
/// handshake only with a valid cookie, which it sends in a challenge in answer to one
/// without.
pub fn write_handshake_with_token_and_cookie(
    out: &mut [u8],
    token: &Token,
    sequence: u64,
    cookie: Option<&Cookie>,
) -> Result<usize, EncodeError> {
    let mut ext = [0u8; TOKEN_V2_EXTENSION_LEN + COOKIE_LEN];
    ext[0] = token.version();
    ext[1] = token.role as u8;
    let claim_len = match token.binding {
        None => {
            ext[4..12].copy_from_slice(&token.expiry_unix_secs.to_be_bytes());
            ext[12..20].copy_from_slice(&sequence.to_be_bytes());
            TOKEN_EXTENSION_LEN
        }
        Some(b) => {
            ext[4..8].copy_from_slice(&b.key_id.to_be_bytes());
            ext[8..12].copy_from_slice(&b.relay_id.to_be_bytes());
            ext[12..20].copy_from_slice(&token.expiry_unix_secs.to_be_bytes());
            ext[20..28].copy_from_slice(&sequence.to_be_bytes());
            TOKEN_V2_EXTENSION_LEN
        }
    };
    let (flags, ext) = match cookie {
        Some(c) => {
            ext[claim_len..claim_len + COOKIE_LEN].copy_from_slice(c);
            (FLAG_TOKEN | FLAG_COOKIE, &ext[..claim_len + COOKIE_LEN])
        }
        None => (FLAG_TOKEN, &ext[..claim_len]),
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
    /// `Some` for a v2 claim.
    pub binding: Option<RelayBinding>,
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
    /// Carries a token that is malformed, does not verify, has expired or is for another
    /// relay.
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

/// A key a relay checks with, and its id.
#[derive(Debug, Clone)]
struct RelayKey {
    id: u32,
    plain: HandshakeKey,
    tokens: TokenKey,
}

impl RelayKey {
    fn new(id: u32, secret: &[u8]) -> RelayKey {
        RelayKey {
            id,
            plain: HandshakeKey::new(secret),
            tokens: TokenKey::new(secret),
        }
    }
}

/// Checks handshakes the way the relay is configured: plain v0.8 (keyed or not) and, when
/// the relay has a secret, token handshakes. With a previous key (a rotation in progress),
/// handshakes and tokens made with it are accepted too.
#[derive(Debug, Clone)]
pub struct HandshakeVerifier {
    /// The current key, then (during a rotation) the previous one; empty when unkeyed.
    keys: Vec<RelayKey>,
    require_tokens: bool,
    require_token_v2: bool,
    relay_id: u32,
}

impl HandshakeVerifier {
    /// A verifier with `secret` as the current key, under key id 0, no previous key, no relay
    /// id (every v2 token is then for another relay), v1 tokens accepted. `require_tokens`
    /// needs a secret (tokens cannot be checked without one). The `with_*` methods set the
    /// rest.
    pub fn new(secret: Option<&[u8]>, require_tokens: bool) -> HandshakeVerifier {
        HandshakeVerifier {
            keys: secret.map(|s| RelayKey::new(0, s)).into_iter().collect(),
            require_tokens,
            require_token_v2: false,
            relay_id: 0,
        }
    }

    /// The current key's id: v2 tokens naming it are checked with the current key.
    pub fn with_key_id(mut self, key_id: u32) -> HandshakeVerifier {
        if let Some(current) = self.keys.first_mut() {
            current.id = key_id;
        }
        self
    }

    /// During a key rotation: plain handshakes keyed with `secret`, v1 tokens minted with
    /// it and v2 tokens naming `key_id` are accepted too. Ignored without a current key.
    pub fn with_previous_key(mut self, secret: &[u8], key_id: u32) -> HandshakeVerifier {
        if !self.keys.is_empty() {
            self.keys.truncate(1);
            self.keys.push(RelayKey::new(key_id, secret));
        }
        self
    }

    /// This relay's id: v2 tokens for any other relay are refused as
    /// [`TokenError::WrongRelay`]. 0 (the default) is no relay id, and no v2 token is for it.
    pub fn with_relay_id(mut self, relay_id: u32) -> HandshakeVerifier {
        self.relay_id = relay_id;
        self
    }

    /// Refuse v1 tokens ([`TokenError::V1Refused`]), which are valid on every relay holding
    /// the key: in a fleet, only relay-bound (v2) tokens pin a peer to its relay.
    pub fn requiring_token_v2(mut self, yes: bool) -> HandshakeVerifier {
        self.require_token_v2 = yes;
        self
    }

    /// Whether a token handshake's claims can be checked (the relay has a secret).
    pub fn checks_tokens(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Whether a handshake that passes [`HandshakeVerifier::verify`] proves anything: true
    /// when the relay has a secret (a keyed HMAC or a seat token must verify). Without one,
    /// any datagram that starts with the magic and carries a GUID passes, game payloads
    /// included.
    pub fn authenticates(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Verifies `datagram` at wall-clock time `unix_now_secs`.
    pub fn verify(&self, datagram: &[u8], unix_now_secs: u64) -> Result<Verified, Rejection> {
        if datagram.len() < HANDSHAKE_LEN {
            return Err(Rejection::Handshake(HandshakeError::TooShort));
        }
        let flags = u16::from_be_bytes([datagram[6], datagram[7]]);
        if flags & FLAG_TOKEN != 0 && self.checks_tokens() {
            // Magic and GUID first, without any key.
            let h = protocol::parse_handshake(datagram, None).map_err(Rejection::Handshake)?;
            let claim = self
                .verify_claim(datagram, h.guid, unix_now_secs)
                .map_err(Rejection::Token)?;
            return Ok(Verified {
                guid: h.guid,
                token: Some(claim),
            });
        }
        if self.require_tokens {
            protocol::parse_handshake(datagram, None).map_err(Rejection::Handshake)?;
            return Err(Rejection::TokenRequired);
        }
        let guid = self.verify_plain(datagram).map_err(Rejection::Handshake)?;
        Ok(Verified { guid, token: None })
    }

    /// A plain handshake: unkeyed, or its mac made with the current key or the previous one
    /// (a second HMAC only for handshakes the current key refuses).
    fn verify_plain(&self, datagram: &[u8]) -> Result<Guid, HandshakeError> {
        let Some((current, previous)) = self.keys.split_first() else {
            return protocol::parse_handshake(datagram, None).map(|h| h.guid);
        };
        match protocol::parse_handshake(datagram, Some(&current.plain)) {
            Err(HandshakeError::BadMac) => previous
                .iter()
                .find_map(|k| protocol::parse_handshake(datagram, Some(&k.plain)).ok())
                .map(|h| h.guid)
                .ok_or(HandshakeError::BadMac),
            other => other.map(|h| h.guid),
        }
    }

    /// The claim of a token handshake, checked: the version allowed, the key known (v2), the
    /// proof, the relay (v2), then the expiry.
    fn verify_claim(
        &self,
        datagram: &[u8],
        guid: Guid,
        unix_now_secs: u64,
    ) -> Result<TokenClaim, TokenError> {
        let claim = read_claim(datagram)?;
        let proves = |key: &RelayKey| {
            let tag = key
                .tokens
                .tag_for(claim.binding, guid, claim.role, claim.expiry_unix_secs);
            HandshakeKey::new(&tag).verify(datagram)
        };
        match claim.binding {
            None if self.require_token_v2 => return Err(TokenError::V1Refused),
            // v1 names no key: the current one, then the previous one.
            None => {
                if !self.keys.iter().any(proves) {
                    return Err(TokenError::BadProof);
                }
            }
            Some(binding) => {
                let key = self.keys.iter().find(|k| k.id == binding.key_id).ok_or(
                    TokenError::UnknownKey {
                        key_id: binding.key_id,
                    },
                )?;
                if !proves(key) {
                    return Err(TokenError::BadProof);
                }
                if binding.relay_id != self.relay_id {
                    return Err(TokenError::WrongRelay {
                        relay_id: binding.relay_id,
                    });
                }
            }
        }
        if unix_now_secs >= claim.expiry_unix_secs {
            return Err(TokenError::Expired);
        }
        Ok(claim)
    }
}

/// The token claim of a handshake (at least 56 bytes) that sets [`FLAG_TOKEN`], v1 or v2,
/// checked for shape only: the proof is keyed with the seat's tag, which only the relay
/// (holding the secret) can recompute. Clients use this to recognise their peer's token
/// handshakes.
pub fn read_claim(datagram: &[u8]) -> Result<TokenClaim, TokenError> {
    let ext = datagram.get(HANDSHAKE_LEN..).unwrap_or_default();
    let length = usize::from(u16::from_be_bytes([
        *datagram.get(4).unwrap_or(&0),
        *datagram.get(5).unwrap_or(&0),
    ]));
    let needed = match ext.first() {
        Some(&TOKEN_VERSION) => TOKEN_EXTENSION_LEN,
        Some(&TOKEN_V2_VERSION) => TOKEN_V2_EXTENSION_LEN,
        _ => return Err(TokenError::Malformed),
    };
    if ext.len() < needed || length < needed || ext[2] != 0 || ext[3] != 0 {
        return Err(TokenError::Malformed);
    }
    let role = Role::from_byte(ext[1]).ok_or(TokenError::Malformed)?;
    let (binding, rest) = if needed == TOKEN_V2_EXTENSION_LEN {
        let relay_id = be_u32(&ext[8..12]);
        if relay_id == 0 {
            return Err(TokenError::Malformed);
        }
        let binding = RelayBinding {
            key_id: be_u32(&ext[4..8]),
            relay_id,
        };
        (Some(binding), &ext[12..])
    } else {
        (None, &ext[4..])
    };
    Ok(TokenClaim {
        role,
        expiry_unix_secs: be_u64(&rest[0..8]),
        sequence: be_u64(&rest[8..16]),
        binding,
    })
}

const _: () = assert!(TOKEN_V2_COOKIE_HANDSHAKE_LEN <= MAX_DATAGRAM);

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

    // v2, the same way, key id 7, relay id 42:
    //   tag = hmac.new(secret, b"udp-relay seat token v2\0" + struct.pack(">II", 7, 42) + guid
    //                  + struct.pack(">QB", 1900000000, role), hashlib.sha256).digest()
    //   token = struct.pack(">BBHII", 2, role, 0, 7, 42) + guid + struct.pack(">Q", 1900000000)
    //           + tag
    const KEY_ID: u32 = 7;
    const RELAY_ID: u32 = 42;
    const TOKEN_V2_A_HEX: &str = "02000000000000070000002a0123456789abcdeffedcba9876543210\
        00000000713fb30008d462d28e1995b8d22b2f40c50a35f8d9682eb8716e10ce47795dc27391b315";
    const TOKEN_V2_B_HEX: &str = "02010000000000070000002a0123456789abcdeffedcba9876543210\
        00000000713fb300a9ab18eba86fd969be21c2af3720cf735210284c7111fbe2170815e0eb5c87fe";
    //   ext = struct.pack(">BBHIIQQ", 2, 0, 0, 7, 42, 1900000000, 7)
    //   hdr = struct.pack(">IHH", 0x04B28000, 28, 0x8000) + guid; proof and datagram as above
    const HANDSHAKE_V2_A7_HEX: &str = "04b28000001c80000123456789abcdeffedcba9876543210\
        a5c274cdeed26ede19817413786460904f695202379ea66849f582d01ba996f9\
        02000000000000070000002a00000000713fb3000000000000000007";

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
    fn mints_v2_tokens_byte_for_byte() {
        let key = TokenKey::new(&SECRET);
        let a = key.mint_for_relay(KEY_ID, RELAY_ID, GUID, Role::A, EXPIRY);
        assert_eq!(a.to_bytes().as_slice(), unhex(TOKEN_V2_A_HEX).as_slice());
        assert_eq!((a.version(), a.encoded_len()), (2, TOKEN_V2_LEN));
        let b = key.mint_for_relay(KEY_ID, RELAY_ID, GUID, Role::B, EXPIRY);
        assert_eq!(b.to_bytes().as_slice(), unhex(TOKEN_V2_B_HEX).as_slice());
        assert_eq!(Token::from_bytes(&a.to_bytes()), Ok(a));
        assert_eq!(
            a.binding,
            Some(RelayBinding {
                key_id: KEY_ID,
                relay_id: RELAY_ID
            })
        );
        // Sizes and versions must agree; relay id 0 is no relay.
        let v2 = a.to_bytes();
        let mut v1_sized = v2.clone();
        v1_sized.truncate(TOKEN_LEN);
        let mut relay_zero = v2.clone();
        relay_zero[8..12].fill(0);
        let mut v1_byte = v2.clone();
        v1_byte[0] = 1;
        for bad in [v1_sized, relay_zero, v1_byte] {
            assert_eq!(Token::from_bytes(&bad), Err(TokenError::Malformed));
        }
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
    fn writes_v2_token_handshake_byte_for_byte() {
        let token = Token::from_bytes(&unhex(TOKEN_V2_A_HEX)).unwrap();
        let mut buf = [0u8; TOKEN_V2_COOKIE_HANDSHAKE_LEN];
        let n = write_handshake_with_token(&mut buf, &token, 7).unwrap();
        assert_eq!(n, TOKEN_V2_HANDSHAKE_LEN);
        assert_eq!(n, token.handshake_len(false));
        assert_eq!(&buf[..n], unhex(HANDSHAKE_V2_A7_HEX).as_slice());
        let claim = read_claim(&buf[..n]).unwrap();
        assert_eq!((claim.sequence, claim.binding), (7, token.binding));
        let cookie = [9u8; COOKIE_LEN];
        let n = write_handshake_with_token_and_cookie(&mut buf, &token, 8, Some(&cookie)).unwrap();
        assert_eq!(n, TOKEN_V2_COOKIE_HANDSHAKE_LEN);
        assert_eq!(crate::cookie::echoed_cookie(&buf[..n]), Some(&cookie[..]));
        assert_eq!(read_claim(&buf[..n]).unwrap().sequence, 8);
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
                sequence: 42,
                binding: None,
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

    /// A fleet relay: relay 42, current key id 7, previous key id 6.
    fn fleet_relay() -> HandshakeVerifier {
        HandshakeVerifier::new(Some(&SECRET), true)
            .with_key_id(KEY_ID)
            .with_previous_key(b"the previous key", KEY_ID - 1)
            .with_relay_id(RELAY_ID)
    }

    fn v2_handshake(secret: &[u8], key_id: u32, relay_id: u32) -> Vec<u8> {
        let token = TokenKey::new(secret).mint_for_relay(key_id, relay_id, GUID, Role::A, EXPIRY);
        let mut hs = vec![0u8; TOKEN_V2_HANDSHAKE_LEN];
        write_handshake_with_token(&mut hs, &token, 1).unwrap();
        hs
    }

    #[test]
    fn v2_tokens_are_checked_for_their_relay_and_their_key() {
        let relay = fleet_relay();
        let ok = relay
            .verify(&v2_handshake(&SECRET, KEY_ID, RELAY_ID), EXPIRY - 1)
            .unwrap();
        assert_eq!(ok.token.unwrap().binding.unwrap().relay_id, RELAY_ID);
        // Minted under the previous key (a rotation in progress): accepted.
        let previous = v2_handshake(b"the previous key", KEY_ID - 1, RELAY_ID);
        assert!(relay.verify(&previous, EXPIRY - 1).is_ok());
        // Another relay of the fleet: authentic, and refused as such.
        assert_eq!(
            relay.verify(&v2_handshake(&SECRET, KEY_ID, 43), EXPIRY - 1),
            Err(Rejection::Token(TokenError::WrongRelay { relay_id: 43 }))
        );
        // An older key, and a key id naming the wrong key.
        assert_eq!(
            relay.verify(&v2_handshake(b"an older key", 5, RELAY_ID), EXPIRY - 1),
            Err(Rejection::Token(TokenError::UnknownKey { key_id: 5 }))
        );
        assert_eq!(
            relay.verify(&v2_handshake(b"the previous key", KEY_ID, RELAY_ID), 0),
            Err(Rejection::Token(TokenError::BadProof))
        );
        // The relay id is covered by the proof: a forged relay id is a bad proof, not a
        // wrong relay.
        let mut forged = v2_handshake(&SECRET, KEY_ID, 43);
        forged[67] = RELAY_ID as u8;
        assert_eq!(
            relay.verify(&forged, 0),
            Err(Rejection::Token(TokenError::BadProof))
        );
        // Expiry is judged after the relay: an expired token for another relay is still
        // another relay's.
        assert_eq!(
            relay.verify(&v2_handshake(&SECRET, KEY_ID, RELAY_ID), EXPIRY),
            Err(Rejection::Token(TokenError::Expired))
        );
        // A relay with no relay id accepts no v2 token.
        let unbound = HandshakeVerifier::new(Some(&SECRET), false).with_key_id(KEY_ID);
        assert_eq!(
            unbound.verify(&v2_handshake(&SECRET, KEY_ID, RELAY_ID), 0),
            Err(Rejection::Token(TokenError::WrongRelay {
                relay_id: RELAY_ID
            }))
        );
    }

    #[test]
    fn rotation_accepts_the_previous_key_for_v1_and_plain_handshakes() {
        let relay = fleet_relay();
        let old = TokenKey::new(b"the previous key").mint(GUID, Role::B, EXPIRY);
        let mut hs = [0u8; TOKEN_HANDSHAKE_LEN];
        write_handshake_with_token(&mut hs, &old, 3).unwrap();
        assert!(relay.verify(&hs, 0).is_ok(), "v1 under the previous key");
        let older = TokenKey::new(b"an older key").mint(GUID, Role::B, EXPIRY);
        write_handshake_with_token(&mut hs, &older, 3).unwrap();
        assert_eq!(
            relay.verify(&hs, 0),
            Err(Rejection::Token(TokenError::BadProof))
        );
        // Refusing v1 happens before any HMAC.
        let strict = fleet_relay().requiring_token_v2(true);
        assert_eq!(
            strict.verify(&hs, 0),
            Err(Rejection::Token(TokenError::V1Refused))
        );
        assert!(
            strict
                .verify(&v2_handshake(&SECRET, KEY_ID, RELAY_ID), 0)
                .is_ok()
        );
        // Plain keyed handshakes: the current key, the previous one, not an older one.
        let plain =
            HandshakeVerifier::new(Some(&SECRET), false).with_previous_key(b"the previous key", 1);
        for (key, accepted) in [
            (&SECRET[..], true),
            (&b"the previous key"[..], true),
            (&b"an older key"[..], false),
        ] {
            let mut d = [0u8; HANDSHAKE_LEN];
            protocol::write_handshake(&mut d, GUID, 0, &[], Some(&HandshakeKey::new(key))).unwrap();
            assert_eq!(plain.verify(&d, 0).is_ok(), accepted, "{key:?}");
        }
        // A previous key without a current one is no key at all.
        let none = HandshakeVerifier::new(None, false).with_previous_key(b"the previous key", 1);
        assert!(!none.authenticates());
    }

    #[test]
    fn a_v1_tag_never_verifies_as_v2_or_back() {
        let key = TokenKey::new(&SECRET);
        let v1 = key.mint(GUID, Role::A, EXPIRY);
        // The v1 tag presented in a v2 token for the relay.
        let relay = fleet_relay();
        let dressed = Token {
            binding: Some(RelayBinding {
                key_id: KEY_ID,
                relay_id: RELAY_ID,
            }),
            ..v1
        };
        let mut hs = [0u8; TOKEN_V2_HANDSHAKE_LEN];
        write_handshake_with_token(&mut hs, &dressed, 1).unwrap();
        assert_eq!(
            relay.verify(&hs, 0),
            Err(Rejection::Token(TokenError::BadProof))
        );
        let v2 = key.mint_for_relay(KEY_ID, RELAY_ID, GUID, Role::A, EXPIRY);
        let stripped = Token {
            binding: None,
            ..v2
        };
        let mut hs = [0u8; TOKEN_HANDSHAKE_LEN];
        write_handshake_with_token(&mut hs, &stripped, 1).unwrap();
        assert_eq!(
            relay.verify(&hs, 0),
            Err(Rejection::Token(TokenError::BadProof))
        );
    }
}
