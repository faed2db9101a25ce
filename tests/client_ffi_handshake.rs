//! The pure GUID and handshake functions of the C ABI agree with the shared v0.8 vectors, and
//! the handshake machine runs through the C ABI.

use std::ffi::{CStr, CString, c_char};
use std::ptr::{null, null_mut};

use serde_json::Value;
use udp_relay::ffi::*;

mod client_support;
use client_support::{c_config_default, c_guid, last_error};

#[test]
fn guid_text_round_trip_and_buffer_sizes() {
    let g = RelayGuid {
        hi: 0x0123_4567_89ab_cdef,
        lo: 0xfedc_ba98_7654_3210,
    };
    let mut buf = [0x7F as c_char; 64];
    assert_eq!(
        relay_guid_format(&g, buf.as_mut_ptr(), RELAY_GUID_STRING_SIZE - 1),
        RelayStatus::BufferTooSmall as i32
    );
    assert_eq!(buf[0], 0x7F, "nothing written on failure");
    assert_eq!(
        relay_guid_format(&g, buf.as_mut_ptr(), RELAY_GUID_STRING_SIZE),
        36
    );
    // SAFETY: NUL-terminated by relay_guid_format.
    let text = unsafe { CStr::from_ptr(buf.as_ptr()) };
    assert_eq!(
        text.to_str().unwrap(),
        "01234567-89ab-cdef-fedc-ba9876543210"
    );
    let mut back = RelayGuid::default();
    assert_eq!(relay_guid_parse(text.as_ptr(), &mut back), RelayStatus::Ok);
    assert_eq!(back, g);
    for bad in [
        "",
        "01234567-89ab-cdef-fedc-ba987654321",
        "0123456789abcdeffedcba9876543210",
    ] {
        let c = CString::new(bad).unwrap();
        assert_eq!(
            relay_guid_parse(c.as_ptr(), &mut back),
            RelayStatus::InvalidArgument
        );
        assert!(last_error().contains("relay_guid_parse"));
    }
    assert_eq!(back, g, "output untouched on failure");
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn handshake_functions_agree_with_the_shared_vectors() {
    use base64::Engine;
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/handshake-v08.json"
    ))
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let datagram = unhex(case["datagram_hex"].as_str().unwrap());
        let key = base64::engine::general_purpose::STANDARD
            .decode(case["key_base64"].as_str().unwrap())
            .unwrap();
        let w: Vec<u64> = case["guid_words"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        let guid = RelayGuid {
            hi: (w[0] << 32) | w[1],
            lo: (w[2] << 32) | w[3],
        };
        let status = relay_handshake_parse(
            datagram.as_ptr(),
            datagram.len(),
            &guid,
            key.as_ptr(),
            key.len(),
        );
        if case["valid"].as_bool().unwrap() {
            assert_eq!(status, RelayStatus::Ok, "{name}: {}", last_error());
            if datagram.len() == RELAY_HANDSHAKE_LEN
                && u16::from_be_bytes([datagram[6], datagram[7]]) == 0
            {
                let mut out = [0u8; 80];
                let n = relay_handshake_write(
                    out.as_mut_ptr(),
                    out.len(),
                    &guid,
                    key.as_ptr(),
                    key.len(),
                );
                assert_eq!(n, 56, "{name}: {}", last_error());
                assert_eq!(&out[..56], &datagram[..], "{name}");
            }
            // The same datagram is not a handshake for another GUID.
            let other = RelayGuid {
                lo: guid.lo ^ 1,
                ..guid
            };
            let s = relay_handshake_parse(
                datagram.as_ptr(),
                datagram.len(),
                &other,
                key.as_ptr(),
                key.len(),
            );
            assert_eq!(s, RelayStatus::InvalidHandshake);
            assert!(last_error().contains("expected"), "{}", last_error());
        } else {
            assert_eq!(status, RelayStatus::InvalidHandshake, "{name}");
            assert!(
                last_error().starts_with("relay_handshake_parse: "),
                "{}",
                last_error()
            );
        }
        checked += 1;
    }
    assert!(checked >= 10);

    let g = c_guid();
    let mut small = [0u8; 55];
    assert_eq!(
        relay_handshake_write(small.as_mut_ptr(), small.len(), &g, null(), 0),
        RelayStatus::BufferTooSmall as i32
    );
    let zero = RelayGuid::default();
    let mut out = [0u8; 56];
    assert_eq!(
        relay_handshake_write(out.as_mut_ptr(), 56, &zero, null(), 0),
        RelayStatus::InvalidArgument as i32
    );
    assert_eq!(
        relay_handshake_write(out.as_mut_ptr(), 56, &g, b"k".as_ptr(), 1),
        56
    );
    assert_eq!(
        relay_handshake_parse(out.as_ptr(), 56, &g, b"k".as_ptr(), 1),
        RelayStatus::Ok
    );
    assert_eq!(
        relay_handshake_parse(out.as_ptr(), 56, &g, b"j".as_ptr(), 1),
        RelayStatus::InvalidHandshake
    );
    assert!(last_error().contains("HMAC"), "{}", last_error());
    assert_eq!(
        relay_handshake_parse(out.as_ptr(), 55, &g, null(), 0),
        RelayStatus::InvalidHandshake
    );
    assert!(last_error().contains("shorter"), "{}", last_error());
}

#[test]
fn handshake_machine_through_the_c_abi() {
    let cfg = RelayClientConfig {
        guid: c_guid(),
        retry_interval_ms: 100,
        ..c_config_default()
    };
    let mut hs = null_mut();
    assert_eq!(relay_handshake_new(&cfg, &mut hs), RelayStatus::Ok);
    let mut buf = [0u8; 128];
    // Too small a buffer does not lose the due handshake.
    assert_eq!(
        relay_handshake_poll(hs, buf.as_mut_ptr(), 55),
        RelayStatus::BufferTooSmall as i32
    );
    assert_eq!(relay_handshake_poll(hs, buf.as_mut_ptr(), buf.len()), 56);
    assert_eq!(
        relay_handshake_parse(buf.as_ptr(), 56, &cfg.guid, null(), 0),
        RelayStatus::Ok
    );
    assert_eq!(relay_handshake_poll(hs, buf.as_mut_ptr(), buf.len()), 0);
    let mut ms = 0;
    assert_eq!(relay_handshake_next_timeout(hs, &mut ms), RelayStatus::Ok);
    assert!((1..=100).contains(&ms), "{ms}");
    // The peer's handshake, as the relay forwards it, establishes; an answer is due at once.
    let peer = buf;
    assert_eq!(
        relay_handshake_receive(hs, peer.as_ptr(), 56),
        RelayDatagramKind::Handshake as i32
    );
    assert_eq!(
        relay_handshake_state(hs),
        RelayClientState::Established as i32
    );
    assert_eq!(relay_handshake_next_timeout(hs, &mut ms), RelayStatus::Ok);
    assert_eq!(ms, 0);
    assert_eq!(relay_handshake_poll(hs, buf.as_mut_ptr(), buf.len()), 56);
    assert_eq!(relay_handshake_poll(hs, buf.as_mut_ptr(), buf.len()), 0);
    assert_eq!(relay_handshake_next_timeout(hs, &mut ms), RelayStatus::Ok);
    assert!((4_900..=5_000).contains(&ms), "keep-alive in {ms} ms");
    assert_eq!(
        relay_handshake_receive(hs, b"game".as_ptr(), 4),
        RelayDatagramKind::Data as i32
    );
    assert_eq!(relay_handshake_on_data_sent(hs), RelayStatus::Ok);
    assert_eq!(relay_handshake_free(hs), RelayStatus::Ok);

    // Timing out: a 1 ms timeout.
    let cfg = RelayClientConfig {
        handshake_timeout_ms: 1,
        ..cfg
    };
    assert_eq!(relay_handshake_new(&cfg, &mut hs), RelayStatus::Ok);
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(
        relay_handshake_poll(hs, buf.as_mut_ptr(), buf.len()),
        RelayStatus::TimedOut as i32
    );
    assert!(last_error().contains("not established"), "{}", last_error());
    assert_eq!(relay_handshake_state(hs), RelayClientState::TimedOut as i32);
    assert_eq!(relay_handshake_next_timeout(hs, &mut ms), RelayStatus::Ok);
    assert_eq!(ms, u32::MAX);
    assert_eq!(
        relay_handshake_receive(hs, peer.as_ptr(), 56),
        RelayDatagramKind::Discarded as i32
    );
    assert_eq!(relay_handshake_free(hs), RelayStatus::Ok);
}
