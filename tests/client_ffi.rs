//! Every client-side C entry point refuses NULL pointers, closed or forged handles and bad
//! configs with a status and a message, never a crash, and every client status has a name.

use std::ffi::{CStr, CString, c_char};
use std::ptr::{null, null_mut};

use udp_relay::ffi::*;

mod client_support;
use client_support::{S, c_config_default, c_guid, fails, last_error};

#[test]
fn null_arguments_are_refused() {
    use RelayStatus::*;
    let g = c_guid();
    let mut buf = [0u8; 64];
    let mut len = 0usize;
    let cfg = c_config_default();
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
        guid: c_guid(),
        ..c_config_default()
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
        guid: c_guid(),
        ..c_config_default()
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
