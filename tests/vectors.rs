//! The shared v0.8 handshake vectors (checked against the reference implementation) agree
//! with the Rust core: every valid case parses with its GUID, every invalid case is refused,
//! and every valid case is re-encoded byte for byte.

use serde_json::Value;
use udp_relay::protocol::{Guid, HandshakeKey, parse_handshake, write_handshake};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn b64(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

#[test]
fn shared_handshake_vectors() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/handshake-v08.json"
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    let (mut valid, mut invalid) = (0, 0);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let datagram = unhex(case["datagram_hex"].as_str().unwrap());
        let key_bytes = b64(case["key_base64"].as_str().unwrap());
        let key = (!key_bytes.is_empty()).then(|| HandshakeKey::new(&key_bytes));
        let words: Vec<u32> = case["guid_words"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_u64().unwrap() as u32)
            .collect();
        let guid = Guid::from_words([words[0], words[1], words[2], words[3]]);
        assert_eq!(
            guid.to_string(),
            case["guid_text"].as_str().unwrap(),
            "{name}: GUID text form"
        );
        let parsed = parse_handshake(&datagram, key.as_ref());
        if case["valid"].as_bool().unwrap() {
            valid += 1;
            let h = parsed.unwrap_or_else(|e| panic!("{name}: rejected: {e}"));
            assert_eq!(h.guid, guid, "{name}");
            let mut out = vec![0u8; datagram.len()];
            let n = write_handshake(&mut out, guid, h.flags, h.extension, key.as_ref()).unwrap();
            assert_eq!(
                &out[..n],
                datagram.as_slice(),
                "{name}: re-encoding differs"
            );
        } else {
            invalid += 1;
            assert!(parsed.is_err(), "{name}: accepted but must be refused");
        }
    }
    assert!(
        valid >= 5 && invalid >= 5,
        "{valid} valid, {invalid} invalid"
    );
}
