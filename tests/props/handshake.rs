//! The property both the `handshake` fuzz target and `tests/handshake_props.rs` check on
//! arbitrary bytes: the v0.8 parser (with and without a key), token handshakes and minted-token
//! parsing never panic, and whatever parses says the same thing about the bytes as the writer
//! would produce from the parsed fields.

use udp_relay::protocol::{
    HANDSHAKE_LEN, HandshakeKey, MAX_DATAGRAM, parse_handshake, write_handshake,
};
use udp_relay::token::{HandshakeVerifier, Token, write_handshake_with_token};

pub const SECRET: &[u8] = b"fuzz secret";

pub fn check_handshake_bytes(data: &[u8]) {
    let key = HandshakeKey::new(SECRET);
    if let Ok(h) = parse_handshake(data, None) {
        assert!(data.len() >= HANDSHAKE_LEN && !h.guid.is_zero());
        // Re-encoding the parsed fields gives back the datagram, mac field aside.
        // (`length` is written as the real extension size, and without a key the mac is 0.)
        if data.len() <= MAX_DATAGRAM {
            let mut out = vec![0u8; data.len()];
            let n = write_handshake(&mut out, h.guid, h.flags, h.extension, None).unwrap();
            assert_eq!(n, data.len());
            let mut expected = data.to_vec();
            expected[4..6].copy_from_slice(&(h.extension.len() as u16).to_be_bytes());
            expected[24..HANDSHAKE_LEN].fill(0);
            assert_eq!(out, expected);
        }
        // Keyed: accepted only if the mac is the one the key computes.
        let keyed = parse_handshake(data, Some(&key)).is_ok();
        assert_eq!(keyed, key.tag(data)[..] == data[24..56]);
    } else {
        assert!(parse_handshake(data, Some(&key)).is_err());
    }
    for require in [false, true] {
        let verifier = HandshakeVerifier::new(Some(SECRET), require);
        if let Ok(v) = verifier.verify(data, 1_000_000) {
            assert!(!v.guid.is_zero());
            assert!(!require || v.token.is_some());
        }
    }
    let _ = HandshakeVerifier::new(None, false).verify(data, 0);
    if let Ok(t) = Token::from_bytes(data) {
        assert_eq!(t.to_bytes()[..], data[..]);
        let mut out = [0u8; 80];
        assert_eq!(write_handshake_with_token(&mut out, &t, 1), Ok(76));
    }
}
