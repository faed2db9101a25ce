//! The shared v0.8 handshake vectors (checked against the reference implementation) agree
//! with the Rust core: every valid case parses with its GUID, every invalid case is refused,
//! and every valid case is re-encoded byte for byte. The `reference_default_key` case (a
//! handshake made with the key v0.8.2 uses when none is configured) and the `unkeyed` case
//! (with a key of zero bytes) are also played over loopback sockets against a relay and
//! produced by our client.

mod relay_loop;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use relay_loop::{peer, pump};
use serde_json::Value;
use udp_relay::client::{Client, ClientConfig, HandshakeMachine, Timing};
use udp_relay::protocol::{Guid, HandshakeKey, V08_DEFAULT_KEY, parse_handshake, write_handshake};
use udp_relay::relay::{Config, Relay};

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

/// Every case of tests/vectors/handshake-v08.json.
fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/handshake-v08.json"
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["cases"].as_array().unwrap().clone()
}

fn case_guid(case: &Value) -> Guid {
    let words: Vec<u32> = case["guid_words"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_u64().unwrap() as u32)
        .collect();
    Guid::from_words([words[0], words[1], words[2], words[3]])
}

/// The valid case `name`: its key, GUID and datagram.
fn valid_case(name: &str) -> (Vec<u8>, Guid, Vec<u8>) {
    let case = cases()
        .into_iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name}"));
    assert!(case["valid"].as_bool().unwrap());
    (
        b64(case["key_base64"].as_str().unwrap()),
        case_guid(&case),
        unhex(case["datagram_hex"].as_str().unwrap()),
    )
}

#[test]
fn shared_handshake_vectors() {
    let cases = cases();
    assert!(cases.len() >= 10);
    let (mut valid, mut invalid) = (0, 0);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let datagram = unhex(case["datagram_hex"].as_str().unwrap());
        let key_bytes = b64(case["key_base64"].as_str().unwrap());
        let key = (!key_bytes.is_empty()).then(|| HandshakeKey::new(&key_bytes));
        let guid = case_guid(case);
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

#[test]
fn v08_default_key_is_the_reference_default() {
    let (key, _, _) = valid_case("reference_default_key");
    assert_eq!(key.as_slice(), V08_DEFAULT_KEY.as_slice());
    assert_eq!(
        b64("Zkw2SThGM2VndjZBcEMxNWZrSk85VTd4S2VERDZYdXI="),
        V08_DEFAULT_KEY.as_slice()
    );
}

/// A relay with `key` takes `datagram`, sent as is from two loopback sockets, as two peers
/// of one channel and forwards between them.
fn relay_pairs(key: &[u8], datagram: &[u8]) {
    let mut relay = Relay::bind(Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        secret_key: Some(key.to_vec()),
        ..Config::default()
    })
    .unwrap();
    let to = relay.local_addr();
    let (a, b) = (peer(), peer());
    a.send_to(datagram, to).unwrap();
    relay.poll(Duration::from_millis(50)).unwrap();
    b.send_to(datagram, to).unwrap();
    assert_eq!(
        pump(&mut relay, &a, 1),
        vec![datagram.to_vec()],
        "A hears B's handshake"
    );
    a.send_to(b"to b", to).unwrap();
    assert_eq!(pump(&mut relay, &b, 1), vec![b"to b".to_vec()]);
    b.send_to(b"to a", to).unwrap();
    assert_eq!(pump(&mut relay, &a, 1), vec![b"to a".to_vec()]);
    let stats = relay.stats();
    assert_eq!(stats.channels_established, 1);
    assert_eq!(stats.handshakes_rejected, 0);
}

/// The handshake machine and the socket client, with `key`, send `datagram` byte for byte.
fn client_sends(key: &[u8], guid: Guid, datagram: &[u8]) {
    let now = Instant::now();
    let mut machine = HandshakeMachine::new(guid, Some(key), Timing::default(), now).unwrap();
    assert_eq!(machine.poll_transmit(now), Some(datagram));

    // A bare socket stands in for the relay and records what the client sends.
    let fake_relay = UdpSocket::bind("127.0.0.1:0").unwrap();
    fake_relay
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut config = ClientConfig::new(fake_relay.local_addr().unwrap(), guid);
    config.secret_key = Some(key.to_vec());
    let mut client = Client::connect(config).unwrap();
    client.poll(Duration::ZERO).unwrap();
    let mut buf = [0u8; 128];
    let (n, from) = fake_relay.recv_from(&mut buf).unwrap();
    assert_eq!(from.port(), client.local_addr().port());
    assert_eq!(&buf[..n], datagram);
}

#[test]
fn relay_keyed_with_the_default_key_pairs_the_reference_datagram() {
    let (_, _, datagram) = valid_case("reference_default_key");
    relay_pairs(V08_DEFAULT_KEY, &datagram);
}

#[test]
fn client_with_the_default_key_sends_the_reference_datagram() {
    let (_, guid, datagram) = valid_case("reference_default_key");
    client_sends(V08_DEFAULT_KEY, guid, &datagram);
}

/// A key of zero bytes is no key, as in v0.8.2: the relay pairs zero-mac handshakes and the
/// client sends them.
#[test]
fn empty_key_is_unkeyed() {
    let (key, guid, datagram) = valid_case("unkeyed");
    assert!(key.is_empty());
    relay_pairs(&[], &datagram);
    client_sends(&[], guid, &datagram);
}
