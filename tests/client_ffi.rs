//! Every client-side C entry point refuses NULL pointers, closed or forged handles and bad
//! configs with a status and a message, never a crash; the pure GUID and handshake functions
//! agree with the shared v0.8 vectors.

use std::ffi::{CStr, CString, c_char};
use std::ptr::{null, null_mut};

use serde_json::Value;
use udp_relay::ffi::*;

mod client_support;
use client_support::last_error;

fn default_config() -> RelayClientConfig {
    client_support::c_config_default()
}

fn guid() -> RelayGuid {
    let mut g = RelayGuid::default();
    assert_eq!(relay_guid_new(&mut g), RelayStatus::Ok);
    assert_ne!(g, RelayGuid::default());
    g
}

/// Asserts a status and that a message naming the function was recorded.
fn fails(status: impl Into<i32>, expected: RelayStatus, function: &str) {
    assert_eq!(
        status.into(),
        expected as i32,
        "{function}: {}",
        last_error()
    );
    let message = last_error();
    assert!(
        message.contains(function),
        "{function}: message {message:?}"
    );
}

struct S(RelayStatus);
impl From<S> for i32 {
    fn from(s: S) -> i32 {
        s.0 as i32
    }
}

#[test]
fn null_arguments_are_refused() {
    use RelayStatus::*;
    let g = guid();
    let mut buf = [0u8; 64];
    let mut len = 0usize;
    let cfg = default_config();
    fails(
        S(relay_client_config_default(null_mut())),
        NullArgument,
        "relay_client_config_default",
    );
    let mut client = null_mut();
    fails(
        S(relay_client_connect(null(), &mut client)),
        NullArgument,
        "relay_client_connect",
    );
    let address = CString::new("127.0.0.1:9").unwrap();
    let ok_cfg = RelayClientConfig {
        relay_address: address.as_ptr(),
        guid: g,
        ..cfg
    };
    fails(
        S(relay_client_connect(&ok_cfg, null_mut())),
        NullArgument,
        "relay_client_connect",
    );
    // No relay address.
    let no_address = RelayClientConfig { guid: g, ..cfg };
    fails(
        S(relay_client_connect(&no_address, &mut client)),
        NullArgument,
        "relay_client_connect",
    );
    fails(
        relay_client_poll(null_mut(), 0),
        NullArgument,
        "relay_client_poll",
    );
    fails(
        relay_client_state(null()),
        NullArgument,
        "relay_client_state",
    );
    fails(
        S(relay_client_send(null_mut(), buf.as_ptr(), 1)),
        NullArgument,
        "relay_client_send",
    );
    fails(
        S(relay_client_recv(
            null_mut(),
            buf.as_mut_ptr(),
            64,
            &mut len,
        )),
        NullArgument,
        "relay_client_recv",
    );
    assert_eq!(relay_client_local_port(null()), 0);
    assert_eq!(relay_client_close(null_mut()), Ok);

    fails(
        S(relay_guid_new(null_mut())),
        NullArgument,
        "relay_guid_new",
    );
    let mut out = RelayGuid::default();
    fails(
        S(relay_guid_parse(null(), &mut out)),
        NullArgument,
        "relay_guid_parse",
    );
    let text = CString::new("00000001-0000-0002-0000-000300000004").unwrap();
    fails(
        S(relay_guid_parse(text.as_ptr(), null_mut())),
        NullArgument,
        "relay_guid_parse",
    );
    let mut tbuf = [0 as c_char; 64];
    fails(
        relay_guid_format(null(), tbuf.as_mut_ptr(), 64),
        NullArgument,
        "relay_guid_format",
    );
    fails(
        relay_guid_format(&g, null_mut(), 64),
        NullArgument,
        "relay_guid_format",
    );
    fails(
        relay_handshake_write(null_mut(), 64, &g, null(), 0),
        NullArgument,
        "relay_handshake_write",
    );
    fails(
        relay_handshake_write(buf.as_mut_ptr(), 64, null(), null(), 0),
        NullArgument,
        "relay_handshake_write",
    );
    fails(
        S(relay_handshake_parse(null(), 56, &g, null(), 0)),
        NullArgument,
        "relay_handshake_parse",
    );
    fails(
        S(relay_handshake_parse(buf.as_ptr(), 56, null(), null(), 0)),
        NullArgument,
        "relay_handshake_parse",
    );
    let hs_cfg = RelayClientConfig { guid: g, ..cfg };
    let mut hs = null_mut();
    fails(
        S(relay_handshake_new(null(), &mut hs)),
        NullArgument,
        "relay_handshake_new",
    );
    fails(
        S(relay_handshake_new(&hs_cfg, null_mut())),
        NullArgument,
        "relay_handshake_new",
    );
    fails(
        relay_handshake_poll(null_mut(), buf.as_mut_ptr(), 64),
        NullArgument,
        "relay_handshake_poll",
    );
    let mut ms = 0u32;
    fails(
        S(relay_handshake_next_timeout(null(), &mut ms)),
        NullArgument,
        "relay_handshake_next_timeout",
    );
    fails(
        relay_handshake_receive(null_mut(), buf.as_ptr(), 56),
        NullArgument,
        "relay_handshake_receive",
    );
    fails(
        S(relay_handshake_on_data_sent(null_mut())),
        NullArgument,
        "relay_handshake_on_data_sent",
    );
    fails(
        relay_handshake_state(null()),
        NullArgument,
        "relay_handshake_state",
    );
    assert_eq!(relay_handshake_free(null_mut()), Ok);

    // NULL arguments of a live handle.
    assert_eq!(relay_handshake_new(&hs_cfg, &mut hs), Ok);
    fails(
        relay_handshake_poll(hs, null_mut(), 64),
        NullArgument,
        "relay_handshake_poll",
    );
    fails(
        S(relay_handshake_next_timeout(hs, null_mut())),
        NullArgument,
        "relay_handshake_next_timeout",
    );
    // A NULL pointer with a length is refused; with length 0 it is an empty datagram.
    assert_eq!(relay_handshake_receive(hs, null(), 10), NullArgument as i32);
    assert_eq!(
        relay_handshake_receive(hs, null(), 0),
        RelayDatagramKind::Data as i32
    );
    assert_eq!(relay_handshake_free(hs), Ok);

    let relay_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = CString::new(relay_socket.local_addr().unwrap().to_string()).unwrap();
    let live_cfg = RelayClientConfig {
        relay_address: address.as_ptr(),
        guid: g,
        ..cfg
    };
    assert_eq!(relay_client_connect(&live_cfg, &mut client), Ok);
    fails(S(relay_client_send(client, null(), 5)), NullArgument, "buf");
    fails(
        S(relay_client_recv(client, null_mut(), 5, &mut len)),
        NullArgument,
        "buf",
    );
    fails(
        S(relay_client_recv(client, buf.as_mut_ptr(), 64, null_mut())),
        NullArgument,
        "relay_client_recv",
    );
    assert_eq!(relay_client_close(client), Ok);
}

#[test]
fn closed_and_forged_handles_are_refused() {
    use RelayStatus::*;
    let relay_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = CString::new(relay_socket.local_addr().unwrap().to_string()).unwrap();
    let cfg = RelayClientConfig {
        relay_address: address.as_ptr(),
        guid: guid(),
        ..default_config()
    };
    let mut client = null_mut();
    assert_eq!(relay_client_connect(&cfg, &mut client), Ok);
    assert_ne!(relay_client_local_port(client), 0);
    // The first handshake went out at once, to the relay's address.
    let mut first = [0u8; 128];
    relay_socket
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let (n, from) = relay_socket.recv_from(&mut first).unwrap();
    assert_eq!(n, RELAY_HANDSHAKE_LEN);
    assert_eq!(from.port(), relay_client_local_port(client));
    assert_eq!(
        relay_handshake_parse(first.as_ptr(), n, &cfg.guid, null(), 0),
        Ok
    );

    assert_eq!(relay_client_close(client), Ok);
    let mut buf = [0u8; 64];
    let mut len = 0usize;
    fails(
        S(relay_client_close(client)),
        InvalidHandle,
        "relay_client_close",
    );
    fails(
        relay_client_poll(client, 0),
        InvalidHandle,
        "relay_client_poll",
    );
    fails(
        relay_client_state(client),
        InvalidHandle,
        "relay_client_state",
    );
    fails(
        S(relay_client_send(client, buf.as_ptr(), 1)),
        InvalidHandle,
        "relay_client_send",
    );
    fails(
        S(relay_client_recv(client, buf.as_mut_ptr(), 64, &mut len)),
        InvalidHandle,
        "relay_client_recv",
    );
    assert_eq!(relay_client_local_port(client), 0);

    let mut hs = null_mut();
    assert_eq!(relay_handshake_new(&cfg, &mut hs), Ok);
    assert_eq!(
        relay_handshake_state(hs),
        RelayClientState::Handshaking as i32
    );
    assert_eq!(relay_handshake_free(hs), Ok);
    let mut ms = 0;
    fails(
        S(relay_handshake_free(hs)),
        InvalidHandle,
        "relay_handshake_free",
    );
    fails(
        relay_handshake_poll(hs, buf.as_mut_ptr(), 64),
        InvalidHandle,
        "relay_handshake_poll",
    );
    fails(
        S(relay_handshake_next_timeout(hs, &mut ms)),
        InvalidHandle,
        "relay_handshake_next_timeout",
    );
    fails(
        relay_handshake_receive(hs, buf.as_ptr(), 56),
        InvalidHandle,
        "relay_handshake_receive",
    );
    fails(
        S(relay_handshake_on_data_sent(hs)),
        InvalidHandle,
        "relay_handshake_on_data_sent",
    );
    fails(
        relay_handshake_state(hs),
        InvalidHandle,
        "relay_handshake_state",
    );

    // A handle of one kind passed as another, and a made-up one.
    let mut other = null_mut();
    assert_eq!(relay_handshake_new(&cfg, &mut other), Ok);
    fails(
        relay_client_state(other as *const RelayClient),
        InvalidHandle,
        "relay_client_state",
    );
    fails(
        relay_client_state(0x1234_5670 as *const RelayClient),
        InvalidHandle,
        "relay_client_state",
    );
    assert_eq!(relay_handshake_free(other), Ok);
}

#[test]
fn bad_configs_are_refused() {
    use RelayStatus::*;
    let address = CString::new("127.0.0.1:6060").unwrap();
    let base = RelayClientConfig {
        relay_address: address.as_ptr(),
        guid: guid(),
        ..default_config()
    };
    let mut client = null_mut();
    let mut hs = null_mut();
    let cases: Vec<(RelayClientConfig, RelayStatus, &str)> = vec![
        (
            RelayClientConfig {
                struct_size: 8,
                ..base
            },
            VersionMismatch,
            "struct_size",
        ),
        (
            RelayClientConfig {
                guid: RelayGuid::default(),
                ..base
            },
            InvalidArgument,
            "zero",
        ),
        (
            RelayClientConfig {
                retry_interval_ms: 0,
                ..base
            },
            InvalidArgument,
            "retry interval",
        ),
        (
            RelayClientConfig {
                retry_backoff_max_ms: 10,
                ..base
            },
            InvalidArgument,
            "backoff",
        ),
        (
            RelayClientConfig {
                handshake_timeout_ms: 0,
                ..base
            },
            InvalidArgument,
            "handshake timeout",
        ),
        (
            RelayClientConfig {
                handshake_timeout_ms: u32::MAX,
                ..base
            },
            InvalidArgument,
            "handshake timeout (4294967.295s) must be at most a day (86400s)",
        ),
        (
            RelayClientConfig {
                secret_key_len: 4,
                ..base
            },
            NullArgument,
            "secret_key",
        ),
        (
            RelayClientConfig {
                peer_timeout_ms: base.keepalive_interval_ms,
                ..base
            },
            InvalidArgument,
            "peer timeout (5s) must be longer than the keep-alive interval (5s)",
        ),
    ];
    for (cfg, status, words) in &cases {
        assert_eq!(relay_client_connect(cfg, &mut client), *status);
        assert!(last_error().contains(words), "{words}: {}", last_error());
        assert_eq!(relay_handshake_new(cfg, &mut hs), *status);
        assert!(last_error().contains(words), "{words}: {}", last_error());
    }
    assert!(
        client.is_null() && hs.is_null(),
        "outputs written only on success"
    );
    let zero_queue = RelayClientConfig {
        max_queued_datagrams: 0,
        ..base
    };
    assert_eq!(
        relay_client_connect(&zero_queue, &mut client),
        InvalidArgument
    );
    // Inputs refused before any name lookup, so the test stays on loopback.
    for bad in ["no-port", "127.0.0.1", "127.0.0.1:99999", "[::1]"] {
        let text = CString::new(bad).unwrap();
        let cfg = RelayClientConfig {
            relay_address: text.as_ptr(),
            ..base
        };
        assert_eq!(
            relay_client_connect(&cfg, &mut client),
            InvalidAddress,
            "{bad}"
        );
        assert!(last_error().contains(bad), "{}", last_error());
    }
    let not_utf8 = [0xFFu8, 0];
    let cfg = RelayClientConfig {
        relay_address: not_utf8.as_ptr().cast(),
        ..base
    };
    assert_eq!(relay_client_connect(&cfg, &mut client), InvalidArgument);
    assert!(client.is_null());
    // Keep-alives may be disabled; the address is not needed by the state machine.
    let cfg = RelayClientConfig {
        keepalive_interval_ms: 0,
        relay_address: null(),
        ..base
    };
    assert_eq!(relay_handshake_new(&cfg, &mut hs), Ok);
    assert_eq!(relay_handshake_free(hs), Ok);
}

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

    let g = guid();
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
        guid: guid(),
        retry_interval_ms: 100,
        ..default_config()
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

/// RelayClientConfig as the ABI 2 header declared it: without `peer_timeout_ms`.
#[repr(C)]
#[derive(Clone, Copy)]
struct RelayClientConfigV2 {
    struct_size: u32,
    retry_interval_ms: u32,
    relay_address: *const c_char,
    guid: RelayGuid,
    secret_key: *const u8,
    secret_key_len: usize,
    retry_backoff_max_ms: u32,
    handshake_timeout_ms: u32,
    keepalive_interval_ms: u32,
    max_queued_datagrams: u32,
    recv_buffer_bytes: u32,
    send_buffer_bytes: u32,
    token: *const u8,
    token_len: usize,
}

/// An ABI 2 config followed by a word that an over-reading library would take for
/// `peer_timeout_ms`.
#[repr(C)]
struct V2WithTrailer {
    config: RelayClientConfigV2,
    trailer: [u32; 4],
}

fn v2_config(address: *const c_char) -> RelayClientConfigV2 {
    let d = default_config();
    RelayClientConfigV2 {
        struct_size: std::mem::size_of::<RelayClientConfigV2>() as u32,
        retry_interval_ms: d.retry_interval_ms,
        relay_address: address,
        guid: guid(),
        secret_key: null(),
        secret_key_len: 0,
        retry_backoff_max_ms: d.retry_backoff_max_ms,
        handshake_timeout_ms: d.handshake_timeout_ms,
        keepalive_interval_ms: d.keepalive_interval_ms,
        max_queued_datagrams: d.max_queued_datagrams,
        recv_buffer_bytes: d.recv_buffer_bytes,
        send_buffer_bytes: d.send_buffer_bytes,
        token: null(),
        token_len: 0,
    }
}

#[test]
fn peer_timeout_is_off_by_default_and_abi_2_configs_still_work() {
    assert_eq!(RELAY_ABI_VERSION, 4);
    assert_eq!(relay_abi_version(), 4);
    let d = default_config();
    assert_eq!(d.peer_timeout_ms, 0, "off by default");
    assert_eq!(
        d.struct_size as usize,
        std::mem::size_of::<RelayClientConfig>()
    );
    let v2_size = std::mem::size_of::<RelayClientConfigV2>();
    assert!(v2_size < std::mem::size_of::<RelayClientConfig>());
    assert_eq!(
        v2_size,
        std::mem::offset_of!(RelayClientConfig, peer_timeout_ms)
            .next_multiple_of(std::mem::align_of::<RelayClientConfig>())
    );

    // A caller built against ABI 2, whose struct is followed in memory by something else.
    // With keep-alives off, a trailer read as peer_timeout_ms = 1 would be a valid 1 ms
    // timeout: the machine would be lost 1 ms after establishing.
    let address = CString::new("127.0.0.1:9").unwrap();
    let mut old = V2WithTrailer {
        config: RelayClientConfigV2 {
            keepalive_interval_ms: 0,
            ..v2_config(address.as_ptr())
        },
        trailer: [1; 4],
    };
    // What a C caller passes: a pointer to its (shorter) struct.
    let as_current = |o: &V2WithTrailer| (&raw const o.config).cast::<RelayClientConfig>();
    let mut hs = null_mut();
    assert_eq!(
        relay_handshake_new(as_current(&old), &mut hs),
        RelayStatus::Ok
    );
    let mut buf = [0u8; 128];
    assert_eq!(relay_handshake_poll(hs, buf.as_mut_ptr(), buf.len()), 56);
    assert_eq!(
        relay_handshake_receive(hs, buf.as_ptr(), 56),
        RelayDatagramKind::Handshake as i32
    );
    assert_eq!(relay_handshake_poll(hs, buf.as_mut_ptr(), buf.len()), 56);
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(
        relay_handshake_state(hs),
        RelayClientState::Established as i32,
        "the trailer was read as a peer timeout"
    );
    let mut ms = 0;
    assert_eq!(relay_handshake_next_timeout(hs, &mut ms), RelayStatus::Ok);
    assert_eq!(ms, u32::MAX, "no keep-alive, no peer timeout: nothing due");
    assert_eq!(relay_handshake_free(hs), RelayStatus::Ok);

    // relay_client_connect reads it the same way (and keeps the ABI 2 field values).
    old.config.keepalive_interval_ms = 5_000;
    old.config.max_queued_datagrams = 0;
    let mut client = null_mut();
    fails(
        S(relay_client_connect(as_current(&old), &mut client)),
        RelayStatus::InvalidArgument,
        "max_queued_datagrams",
    );
    old.config.max_queued_datagrams = 16;
    assert_eq!(
        relay_client_connect(as_current(&old), &mut client),
        RelayStatus::Ok
    );
    assert_eq!(
        relay_client_state(client),
        RelayClientState::Handshaking as i32
    );
    assert_eq!(relay_client_close(client), RelayStatus::Ok);

    // Any other size is refused, naming both sizes it would take.
    let (mut client, mut hs) = (null_mut(), null_mut());
    let current = std::mem::size_of::<RelayClientConfig>() as u32;
    for size in [
        0,
        8,
        v2_size as u32 - 8,
        v2_size as u32 + 4,
        current + 8,
        u32::MAX,
    ] {
        let mut buf = [0u64; 64];
        // SAFETY: `buf` is 512 bytes, aligned for and larger than a RelayClientConfig.
        unsafe {
            buf.as_mut_ptr()
                .cast::<RelayClientConfig>()
                .write(default_config())
        };
        buf[0] = u64::from(size) | (buf[0] & !0xFFFF_FFFF);
        let cfg = buf.as_ptr().cast::<RelayClientConfig>();
        for status in [
            relay_client_connect(cfg, &mut client),
            relay_handshake_new(cfg, &mut hs),
        ] {
            assert_eq!(status, RelayStatus::VersionMismatch, "size {size}");
            let message = last_error();
            assert!(
                message.contains(&format!("struct_size is {size}"))
                    && message.contains(&format!("{current} bytes"))
                    && message.contains(&format!("{v2_size} from an ABI 2 header")),
                "{message}"
            );
        }
    }
    assert!(client.is_null() && hs.is_null());
}

#[test]
fn silent_channel_is_lost_through_the_c_abi() {
    let cfg = RelayClientConfig {
        guid: guid(),
        keepalive_interval_ms: 10,
        peer_timeout_ms: 60,
        ..default_config()
    };
    let mut hs = null_mut();
    assert_eq!(relay_handshake_new(&cfg, &mut hs), RelayStatus::Ok);
    let mut buf = [0u8; 128];
    assert_eq!(relay_handshake_poll(hs, buf.as_mut_ptr(), buf.len()), 56);
    let peer = buf;
    // Handshaking is governed by the handshake timeout only.
    std::thread::sleep(std::time::Duration::from_millis(80));
    assert_eq!(
        relay_handshake_state(hs),
        RelayClientState::Handshaking as i32
    );
    assert_eq!(
        relay_handshake_receive(hs, peer.as_ptr(), 56),
        RelayDatagramKind::Handshake as i32
    );
    let established = std::time::Instant::now();
    assert_eq!(relay_handshake_poll(hs, buf.as_mut_ptr(), buf.len()), 56);
    // Our keep-alives go out every 10 ms, but nothing comes back: lost after 60 ms.
    let mut ms = 0;
    let lost = loop {
        assert_eq!(relay_handshake_next_timeout(hs, &mut ms), RelayStatus::Ok);
        assert!(ms <= 10, "next in {ms} ms");
        std::thread::sleep(std::time::Duration::from_millis(u64::from(ms)));
        let n = relay_handshake_poll(hs, buf.as_mut_ptr(), buf.len());
        if n < 0 {
            break n;
        }
        assert!(n == 0 || n == 56, "{n}");
        assert!(
            established.elapsed() < std::time::Duration::from_secs(5),
            "never lost"
        );
    };
    assert!(established.elapsed() >= std::time::Duration::from_millis(60));
    assert_eq!(lost, RelayStatus::PeerLost as i32);
    let message = last_error();
    assert!(
        message.contains("relay_handshake_poll")
            && message.contains("nothing received for 60 ms")
            && message.contains("same GUID"),
        "{message}"
    );
    assert_eq!(relay_handshake_state(hs), RelayClientState::Lost as i32);
    assert_eq!(relay_handshake_next_timeout(hs, &mut ms), RelayStatus::Ok);
    assert_eq!(ms, u32::MAX);
    assert_eq!(
        relay_handshake_receive(hs, peer.as_ptr(), 56),
        RelayDatagramKind::Discarded as i32
    );
    assert_eq!(
        relay_handshake_receive(hs, b"game".as_ptr(), 4),
        RelayDatagramKind::Discarded as i32
    );
    assert_eq!(
        relay_handshake_poll(hs, buf.as_mut_ptr(), buf.len()),
        RelayStatus::PeerLost as i32,
        "still lost, nothing sent"
    );
    assert_eq!(relay_handshake_free(hs), RelayStatus::Ok);

    // The same machine hearing from its peer (data or keep-alives) every 20 ms stays up.
    let mut hs = null_mut();
    assert_eq!(relay_handshake_new(&cfg, &mut hs), RelayStatus::Ok);
    assert_eq!(
        relay_handshake_receive(hs, b"game".as_ptr(), 4),
        RelayDatagramKind::Data as i32
    );
    for i in 0..15 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (datagram, len) = if i % 2 == 0 {
            (peer.as_ptr(), 56)
        } else {
            (b"game".as_ptr(), 4)
        };
        assert!(relay_handshake_receive(hs, datagram, len) >= 0);
        assert!(relay_handshake_poll(hs, buf.as_mut_ptr(), buf.len()) >= 0);
    }
    assert_eq!(
        relay_handshake_state(hs),
        RelayClientState::Established as i32
    );
    assert_eq!(relay_handshake_free(hs), RelayStatus::Ok);
}

#[test]
fn status_names_cover_the_client_statuses() {
    for (status, name) in [
        (RelayStatus::NotEstablished, "not established"),
        (RelayStatus::TimedOut, "timed out"),
        (RelayStatus::PeerLost, "peer lost"),
        (RelayStatus::WouldBlock, "would block"),
        (RelayStatus::InvalidHandshake, "invalid handshake"),
    ] {
        // SAFETY: relay_status_str returns a static NUL-terminated string.
        let s = unsafe { CStr::from_ptr(relay_status_str(status as i32)) };
        assert_eq!(s.to_str().unwrap(), name);
    }
}
