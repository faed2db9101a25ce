//! The client's C ABI across versions and over time: an ABI 2 config is still accepted, the
//! peer timeout is off by default, and a silent channel is reported lost.

use std::ffi::{CString, c_char};
use std::ptr::{null, null_mut};

use udp_relay::ffi::*;

mod client_support;
use client_support::{S, c_config_default, c_guid, fails, last_error};

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
    let d = c_config_default();
    RelayClientConfigV2 {
        struct_size: std::mem::size_of::<RelayClientConfigV2>() as u32,
        retry_interval_ms: d.retry_interval_ms,
        relay_address: address,
        guid: c_guid(),
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
    assert_eq!(RELAY_ABI_VERSION, 5);
    assert_eq!(relay_abi_version(), 5);
    let d = c_config_default();
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
                .write(c_config_default())
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
        guid: c_guid(),
        keepalive_interval_ms: 10,
        peer_timeout_ms: 60,
        ..c_config_default()
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
