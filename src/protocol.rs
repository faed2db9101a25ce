//! The v0.8 handshake, byte for byte.
//!
//! ```text
//!  0      4        6       8                      24                               56
//!  | magic | length | flags | GUID (4 x u32)       | HMAC-SHA256 (32 bytes)          | extensions...
//! ```
//!
//! All fields are big-endian. `length` counts the extension bytes after the 56-byte header.
//! The HMAC covers the whole datagram (extensions included) with the mac field zeroed and is
//! only checked when a key is configured. A datagram is a valid handshake when it is at least
//! 56 bytes long, the magic matches, the GUID is not zero and the HMAC (if keyed) verifies.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// First four bytes of every handshake.
pub const MAGIC: u32 = 0x04B2_8000;
/// Size of the handshake header, extensions excluded.
pub const HANDSHAKE_LEN: usize = 56;
/// Offset of the 32-byte HMAC inside the header.
pub const MAC_OFFSET: usize = 24;
/// Size of the HMAC-SHA256 tag.
pub const MAC_LEN: usize = 32;
/// Largest UDP payload over IPv4 (65 535 - 8 UDP - 20 IP).
pub const MAX_DATAGRAM: usize = 65_507;
/// The key v0.8.2 relays and clients use when none is configured (the 32 ASCII bytes of
/// base64 `Zkw2SThGM2VndjZBcEMxNWZrSk85VTd4S2VERDZYdXI=`). Public, so it authenticates
/// nothing: it only makes handshakes acceptable to a v0.8.2 relay run with its defaults.
/// This crate never uses it unless asked to: without a key it sends a zero mac.
pub const V08_DEFAULT_KEY: &[u8; 32] = b"fL6I8F3egv6ApC15fkJO9U7xKeDD6Xur";

type HmacSha256 = Hmac<Sha256>;

/// A 128-bit channel identifier. Its wire form is four big-endian u32 words, which is the
/// same as the big-endian bytes of the `u128`; its text form is the `8-4-4-4-12` hex layout.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Guid(pub u128);

impl Guid {
    /// The all-zero GUID, never valid in a handshake.
    pub const ZERO: Guid = Guid(0);

    /// Builds a GUID from its four wire words.
    pub fn from_words(words: [u32; 4]) -> Guid {
        let mut v = 0u128;
        for w in words {
            v = (v << 32) | u128::from(w);
        }
        Guid(v)
    }

    /// The four wire words, most significant first.
    pub fn words(self) -> [u32; 4] {
        [
            (self.0 >> 96) as u32,
            (self.0 >> 64) as u32,
            (self.0 >> 32) as u32,
            self.0 as u32,
        ]
    }

    /// A GUID from the operating system's random source (never zero).
    pub fn random() -> Result<Guid, getrandom::Error> {
        loop {
            let mut b = [0u8; 16];
            getrandom::fill(&mut b)?;
            let g = Guid(u128::from_be_bytes(b));
            if g != Guid::ZERO {
                return Ok(g);
            }
        }
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (v >> 96) as u32,
            (v >> 80) as u16,
            (v >> 64) as u16,
            (v >> 48) as u16,
            v & 0xffff_ffff_ffff
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Shows a secret key in `Debug` output as whether there is one and its length, never its
/// bytes.
pub struct Redacted<'a>(pub Option<&'a [u8]>);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("None"),
            Some(key) => write!(f, "Some(<{} bytes, redacted>)", key.len()),
        }
    }
}

/// Why a string is not a GUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuidParseError;

impl fmt::Display for GuidParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "expected a GUID as 32 hex digits in the form 8-4-4-4-12, optionally in braces, \
             with nothing around it",
        )
    }
}

impl std::error::Error for GuidParseError {}

impl FromStr for Guid {
    type Err = GuidParseError;

    /// Accepts exactly the `8-4-4-4-12` form: 32 ASCII hex digits of either case (mixed
    /// too) with a `-` after the 8th, 12th, 16th and 20th, optionally inside one pair of
    /// braces. Nothing else: no whitespace around or inside it (the caller trims what it
    /// read), no other brackets, prefixes or separators. The C ABI's `relay_guid_parse` and
    /// every binding parse with this, so all accept the same texts.
    fn from_str(s: &str) -> Result<Guid, GuidParseError> {
        let s = s
            .strip_prefix('{')
            .and_then(|r| r.strip_suffix('}'))
            .unwrap_or(s);
        let bytes = s.as_bytes();
        if bytes.len() != 36 {
            return Err(GuidParseError);
        }
        let mut v = 0u128;
        for (i, &c) in bytes.iter().enumerate() {
            if matches!(i, 8 | 13 | 18 | 23) {
                if c != b'-' {
                    return Err(GuidParseError);
                }
                continue;
            }
            let d = (c as char).to_digit(16).ok_or(GuidParseError)?;
            v = (v << 4) | u128::from(d);
        }
        Ok(Guid(v))
    }
}

/// Why a datagram is not a valid handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeError {
    /// Fewer than 56 bytes.
    TooShort,
    /// The first four bytes are not `0x04B28000`.
    BadMagic,
    /// The GUID is all zero.
    ZeroGuid,
    /// A key is configured and the HMAC does not verify.
    BadMac,
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HandshakeError::TooShort => "datagram shorter than the 56-byte handshake",
            HandshakeError::BadMagic => "magic is not 0x04B28000",
            HandshakeError::ZeroGuid => "GUID is zero",
            HandshakeError::BadMac => "HMAC does not verify with the configured key",
        })
    }
}

impl std::error::Error for HandshakeError {}

/// A parsed, verified handshake borrowing from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake<'a> {
    pub guid: Guid,
    pub flags: u16,
    /// The `length` field as sent (not checked against the datagram size, as in v0.8).
    pub length: u16,
    /// Every byte after the 56-byte header.
    pub extension: &'a [u8],
}

/// A secret key with its HMAC state precomputed, so each verification costs only the
/// hash of the datagram and not the key schedule.
#[derive(Clone)]
pub struct HandshakeKey {
    mac: HmacSha256,
}

impl fmt::Debug for HandshakeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HandshakeKey(..)")
    }
}

impl HandshakeKey {
    /// Any length of key is accepted (HMAC hashes keys longer than the block size).
    pub fn new(key: &[u8]) -> HandshakeKey {
        HandshakeKey {
            mac: <HmacSha256 as KeyInit>::new_from_slice(key)
                .expect("HMAC accepts keys of any length"),
        }
    }

    fn tag_state(&self, datagram: &[u8]) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(&datagram[..MAC_OFFSET]);
        mac.update(&[0u8; MAC_LEN]);
        mac.update(&datagram[HANDSHAKE_LEN..]);
        mac
    }

    /// The tag of `datagram` (at least 56 bytes) computed with its mac field taken as zero.
    pub fn tag(&self, datagram: &[u8]) -> [u8; MAC_LEN] {
        self.tag_state(datagram).finalize().into_bytes().into()
    }

    /// Constant-time check of the tag carried in `datagram` (at least 56 bytes).
    pub fn verify(&self, datagram: &[u8]) -> bool {
        self.tag_state(datagram)
            .verify_slice(&datagram[MAC_OFFSET..HANDSHAKE_LEN])
            .is_ok()
    }
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Cheap pre-check used on the hot path: long enough and the magic matches. It says nothing
/// about the GUID or the HMAC.
#[inline]
pub fn looks_like_handshake(datagram: &[u8]) -> bool {
    datagram.len() >= HANDSHAKE_LEN && be_u32(datagram, 0) == MAGIC
}

/// The GUID field of a datagram that [`looks_like_handshake`], unverified.
#[inline]
pub fn peek_guid(datagram: &[u8]) -> Guid {
    let mut b = [0u8; 16];
    b.copy_from_slice(&datagram[8..24]);
    Guid(u128::from_be_bytes(b))
}

/// Parses and verifies a handshake. With `key` set, the HMAC must verify; without, the mac
/// field is ignored.
pub fn parse_handshake<'a>(
    datagram: &'a [u8],
    key: Option<&HandshakeKey>,
) -> Result<Handshake<'a>, HandshakeError> {
    if datagram.len() < HANDSHAKE_LEN {
        return Err(HandshakeError::TooShort);
    }
    if be_u32(datagram, 0) != MAGIC {
        return Err(HandshakeError::BadMagic);
    }
    let guid = peek_guid(datagram);
    if guid.is_zero() {
        return Err(HandshakeError::ZeroGuid);
    }
    if let Some(key) = key {
        if !key.verify(datagram) {
            return Err(HandshakeError::BadMac);
        }
    }
    Ok(Handshake {
        guid,
        flags: u16::from_be_bytes([datagram[6], datagram[7]]),
        length: u16::from_be_bytes([datagram[4], datagram[5]]),
        extension: &datagram[HANDSHAKE_LEN..],
    })
}

/// Why a handshake could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// The output buffer is shorter than 56 bytes plus the extension.
    BufferTooSmall { needed: usize },
    /// The extension does not fit the u16 length field or a datagram.
    ExtensionTooLong,
    /// The GUID is zero; no relay accepts it.
    ZeroGuid,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BufferTooSmall { needed } => {
                write!(f, "buffer too small: a handshake needs {needed} bytes")
            }
            EncodeError::ExtensionTooLong => f.write_str("handshake extension too long"),
            EncodeError::ZeroGuid => f.write_str("GUID is zero"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Writes a handshake into `out` and returns its length (56 + `extension.len()`). Without a
/// key the mac field is zero, as v0.8.2 clients send it when their key is set to nothing
/// (with no key set at all they use [`V08_DEFAULT_KEY`]).
pub fn write_handshake(
    out: &mut [u8],
    guid: Guid,
    flags: u16,
    extension: &[u8],
    key: Option<&HandshakeKey>,
) -> Result<usize, EncodeError> {
    if guid.is_zero() {
        return Err(EncodeError::ZeroGuid);
    }
    if extension.len() > MAX_DATAGRAM - HANDSHAKE_LEN {
        return Err(EncodeError::ExtensionTooLong);
    }
    let total = HANDSHAKE_LEN + extension.len();
    if out.len() < total {
        return Err(EncodeError::BufferTooSmall { needed: total });
    }
    let out = &mut out[..total];
    out[0..4].copy_from_slice(&MAGIC.to_be_bytes());
    out[4..6].copy_from_slice(&(extension.len() as u16).to_be_bytes());
    out[6..8].copy_from_slice(&flags.to_be_bytes());
    out[8..24].copy_from_slice(&guid.0.to_be_bytes());
    out[MAC_OFFSET..HANDSHAKE_LEN].fill(0);
    out[HANDSHAKE_LEN..].copy_from_slice(extension);
    if let Some(key) = key {
        let tag = key.tag(out);
        out[MAC_OFFSET..HANDSHAKE_LEN].copy_from_slice(&tag);
    }
    Ok(total)
}

/// Fixtures shared by the unit tests of the wire formats (handshake and seat token).
#[cfg(test)]
pub(crate) mod test_fixtures {
    use super::Guid;

    pub fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The key bytes 0..31 used by the independently computed vectors.
    pub const KEY_0_31: [u8; 32] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
        25, 26, 27, 28, 29, 30, 31,
    ];
    pub const GUID: Guid = Guid(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);
}

#[cfg(test)]
mod tests {
    use super::test_fixtures::{GUID, KEY_0_31, unhex};
    use super::*;

    // Computed independently with Python:
    //   hmac.new(bytes(range(32)), hdr + b"\0"*32, hashlib.sha256).hexdigest()
    // for hdr = struct.pack(">IHH4I", 0x04B28000, 0, 0, 0x01234567, 0x89abcdef, 0xfedcba98, 0x76543210)
    const KEYED_HEX: &str = "04b28000000000000123456789abcdeffedcba9876543210\
        cf9d665ea79ff88e931f4a58924ca336490d5dd309abbe4c99d6d4f48abd2abd";

    #[test]
    fn writes_keyed_handshake_byte_for_byte() {
        let key = HandshakeKey::new(&KEY_0_31);
        let mut buf = [0xAAu8; 64];
        let n = write_handshake(&mut buf, GUID, 0, &[], Some(&key)).unwrap();
        assert_eq!(n, 56);
        assert_eq!(&buf[..n], unhex(KEYED_HEX).as_slice());
        assert_eq!(buf[56], 0xAA, "nothing written past the handshake");
    }

    #[test]
    fn writes_unkeyed_handshake_with_zero_mac() {
        let mut buf = [0xFFu8; 56];
        write_handshake(&mut buf, Guid::from_words([1, 2, 3, 4]), 0, &[], None).unwrap();
        let expected = unhex(
            "04b2800000000000000000010000000200000003000000040000000000000000\
             000000000000000000000000000000000000000000000000",
        );
        assert_eq!(buf.as_slice(), expected.as_slice());
    }

    #[test]
    fn parses_keyed_handshake() {
        let key = HandshakeKey::new(&KEY_0_31);
        let d = unhex(KEYED_HEX);
        let h = parse_handshake(&d, Some(&key)).unwrap();
        assert_eq!(h.guid, GUID);
        assert_eq!(h.flags, 0);
        assert!(h.extension.is_empty());
        // Without a key the mac is not looked at.
        assert!(parse_handshake(&d, None).is_ok());
    }

    #[test]
    fn extension_and_flags_are_covered_by_the_mac() {
        let key = HandshakeKey::new(&KEY_0_31);
        let mut buf = [0u8; 64];
        let ext = [0, 8, 0, 1, 0, 0, 0, 0];
        let n = write_handshake(&mut buf, GUID, 1, &ext, Some(&key)).unwrap();
        assert_eq!(n, 64);
        let h = parse_handshake(&buf, Some(&key)).unwrap();
        assert_eq!((h.flags, h.length, h.extension), (1, 8, &ext[..]));
        for byte in [6usize, 7, 60] {
            let mut bad = buf;
            bad[byte] ^= 1;
            assert_eq!(
                parse_handshake(&bad, Some(&key)),
                Err(HandshakeError::BadMac)
            );
        }
    }

    #[test]
    fn every_rejection_reason() {
        let key = HandshakeKey::new(&KEY_0_31);
        let good = unhex(KEYED_HEX);
        assert_eq!(
            parse_handshake(&good[..55], None),
            Err(HandshakeError::TooShort)
        );
        assert_eq!(parse_handshake(&[], None), Err(HandshakeError::TooShort));
        let mut bad_magic = good.clone();
        bad_magic[3] = 1;
        assert_eq!(
            parse_handshake(&bad_magic, None),
            Err(HandshakeError::BadMagic)
        );
        let mut zero = good.clone();
        zero[8..24].fill(0);
        assert_eq!(parse_handshake(&zero, None), Err(HandshakeError::ZeroGuid));
        let mut flipped = good.clone();
        flipped[40] ^= 0x10;
        assert_eq!(
            parse_handshake(&flipped, Some(&key)),
            Err(HandshakeError::BadMac)
        );
        let wrong_key = HandshakeKey::new(&[0u8; 32]);
        assert_eq!(
            parse_handshake(&good, Some(&wrong_key)),
            Err(HandshakeError::BadMac)
        );
    }

    #[test]
    fn write_refuses_bad_input() {
        let mut small = [0u8; 55];
        assert_eq!(
            write_handshake(&mut small, GUID, 0, &[], None),
            Err(EncodeError::BufferTooSmall { needed: 56 })
        );
        let mut buf = [0u8; 56];
        assert_eq!(
            write_handshake(&mut buf, Guid::ZERO, 0, &[], None),
            Err(EncodeError::ZeroGuid)
        );
    }

    #[test]
    fn guid_text_round_trip() {
        let g: Guid = "01234567-89ab-cdef-fedc-ba9876543210".parse().unwrap();
        assert_eq!(g, GUID);
        assert_eq!(g.to_string(), "01234567-89ab-cdef-fedc-ba9876543210");
        assert_eq!(
            "{01234567-89AB-CDEF-FEDC-BA9876543210}"
                .parse::<Guid>()
                .unwrap(),
            GUID
        );
        assert_eq!(
            Guid::from_words([1, 2, 3, 4]).to_string(),
            "00000001-0000-0002-0000-000300000004"
        );
        assert_eq!(
            GUID.words(),
            [0x01234567, 0x89abcdef, 0xfedcba98, 0x76543210]
        );
        for bad in [
            "",
            "01234567-89ab-cdef-fedc-ba987654321",
            "0123456789ab-cdef-fedc-ba9876543210-",
            "01234567-89ab-cdef-fedc-ba987654321g",
            "01234567+89ab-cdef-fedc-ba9876543210",
        ] {
            assert!(bad.parse::<Guid>().is_err(), "{bad:?}");
        }
        assert!(!Guid::random().unwrap().is_zero());
    }
}
