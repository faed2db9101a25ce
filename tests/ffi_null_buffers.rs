//! A NULL buffer is `RELAY_STATUS_NULL_ARGUMENT` everywhere, as the header's conventions say:
//! every pointer the header pairs with a length (a function's `buf, buf_len`, a config's
//! `secret_key, secret_key_len`) is tried NULL with a nonzero length, and NULL with length 0
//! gives what that function's words promise (an empty buffer where it says it may be NULL,
//! `RELAY_STATUS_NULL_ARGUMENT` or its error for an empty buffer elsewhere).
//!
//! The list of pairs is read from `include/udp_relay.h`, so a new entry point with a buffer
//! fails here until it is listed in [`rows`] and behaves.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::ptr::{null, null_mut};

use udp_relay::ffi::*;

mod client_support;
use client_support::{c_relay_config_on_loopback, last_error};

/// Live handles for the calls: a relay on 127.0.0.1, a client of it, a handshake machine.
struct Fixture {
    relay: *mut RelayHandle,
    core: *mut RelayCoreHandle,
    client: *mut RelayClient,
    handshake: *mut RelayHandshake,
    guid: RelayGuid,
    handshake_bytes: [u8; RELAY_HANDSHAKE_LEN],
    token: [u8; RELAY_TOKEN_LEN],
}

const SECRET: &[u8] = b"a relay secret of 32 bytes long.";

impl Fixture {
    fn new() -> Fixture {
        let mut relay = null_mut();
        assert_eq!(
            relay_start(&c_relay_config_on_loopback(), &mut relay),
            RelayStatus::Ok,
            "{}",
            last_error()
        );
        let mut guid = RelayGuid::default();
        assert_eq!(relay_guid_new(&mut guid), RelayStatus::Ok);
        let address = CString::new(format!("127.0.0.1:{}", relay_local_port(relay))).unwrap();
        let client_config = RelayClientConfig {
            relay_address: address.as_ptr(),
            guid,
            ..client_support::c_config_default()
        };
        let mut client = null_mut();
        assert_eq!(
            relay_client_connect(&client_config, &mut client),
            RelayStatus::Ok,
            "{}",
            last_error()
        );
        let mut handshake = null_mut();
        assert_eq!(
            relay_handshake_new(&client_config, &mut handshake),
            RelayStatus::Ok
        );
        let mut handshake_bytes = [0u8; RELAY_HANDSHAKE_LEN];
        assert_eq!(
            relay_handshake_write(
                handshake_bytes.as_mut_ptr(),
                handshake_bytes.len(),
                &guid,
                null(),
                0
            ),
            RELAY_HANDSHAKE_LEN as i32
        );
        let token = client_support::c_mint_token(SECRET, &guid, RELAY_TOKEN_ROLE_A, u64::MAX);
        let mut core = null_mut();
        assert_eq!(
            relay_core_new(&c_relay_config_on_loopback(), &mut core),
            RelayStatus::Ok
        );
        Fixture {
            relay,
            core,
            client,
            handshake,
            guid,
            handshake_bytes,
            token,
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        relay_handshake_free(self.handshake);
        relay_client_close(self.client);
        relay_stop(self.relay);
        relay_core_free(self.core);
    }
}

/// A config's pointer field tried through the function that reads it: starts (and at once
/// frees) what the config makes, returning the status.
fn start_relay(tune: impl FnOnce(&mut RelayConfig)) -> i32 {
    let mut cfg = c_relay_config_on_loopback();
    tune(&mut cfg);
    let mut relay = null_mut();
    let status = relay_start(&cfg, &mut relay);
    relay_stop(relay);
    status as i32
}

fn new_handshake(fixture: &Fixture, tune: impl FnOnce(&mut RelayClientConfig)) -> i32 {
    let mut cfg = RelayClientConfig {
        guid: fixture.guid,
        ..client_support::c_config_default()
    };
    tune(&mut cfg);
    let mut machine = null_mut();
    let status = relay_handshake_new(&cfg, &mut machine);
    relay_handshake_free(machine);
    status as i32
}

/// One pointer the header pairs with a length.
struct Row {
    /// The function taking it, or the struct holding it.
    owner: &'static str,
    pointer: &'static str,
    length: &'static str,
    /// The call with that pointer NULL and that length `len`, everything else valid.
    call: fn(&Fixture, usize) -> i32,
    /// What NULL with length 0 gives, as the header's words for it say.
    empty: i32,
}

const NULL_ARGUMENT: i32 = RelayStatus::NullArgument as i32;

fn rows() -> Vec<Row> {
    vec![
        Row {
            owner: "relay_client_send",
            pointer: "buf",
            length: "len",
            call: |f, len| relay_client_send(f.client, null(), len) as i32,
            // An empty datagram; this client is still handshaking.
            empty: RelayStatus::NotEstablished as i32,
        },
        Row {
            owner: "relay_client_recv",
            pointer: "buf",
            length: "cap",
            call: |f, len| {
                let mut out_len = 0;
                relay_client_recv(f.client, null_mut(), len, &mut out_len) as i32
            },
            empty: RelayStatus::NotEstablished as i32,
        },
        Row {
            owner: "relay_guid_format",
            pointer: "buf",
            length: "buf_len",
            call: |f, len| relay_guid_format(&f.guid, null_mut(), len),
            empty: NULL_ARGUMENT,
        },
        Row {
            owner: "relay_handshake_write",
            pointer: "buf",
            length: "buf_len",
            call: |f, len| relay_handshake_write(null_mut(), len, &f.guid, null(), 0),
            empty: NULL_ARGUMENT,
        },
        Row {
            owner: "relay_handshake_write",
            pointer: "secret_key",
            length: "secret_key_len",
            call: |f, len| {
                let mut out = [0u8; RELAY_HANDSHAKE_LEN];
                relay_handshake_write(out.as_mut_ptr(), out.len(), &f.guid, null(), len)
            },
            // No key: an unkeyed handshake.
            empty: RELAY_HANDSHAKE_LEN as i32,
        },
        Row {
            owner: "relay_handshake_parse",
            pointer: "datagram",
            length: "len",
            call: |f, len| relay_handshake_parse(null(), len, &f.guid, null(), 0) as i32,
            empty: NULL_ARGUMENT,
        },
        Row {
            owner: "relay_handshake_parse",
            pointer: "secret_key",
            length: "secret_key_len",
            call: |f, len| {
                let hs = &f.handshake_bytes;
                relay_handshake_parse(hs.as_ptr(), hs.len(), &f.guid, null(), len) as i32
            },
            empty: RelayStatus::Ok as i32,
        },
        Row {
            owner: "relay_handshake_poll",
            pointer: "buf",
            length: "buf_len",
            call: |f, len| relay_handshake_poll(f.handshake, null_mut(), len),
            empty: NULL_ARGUMENT,
        },
        Row {
            owner: "relay_handshake_receive",
            pointer: "datagram",
            length: "len",
            call: |f, len| relay_handshake_receive(f.handshake, null(), len),
            // An empty datagram is game data.
            empty: RelayDatagramKind::Data as i32,
        },
        Row {
            owner: "relay_get_stats",
            pointer: "out",
            length: "out_size",
            call: |f, len| relay_get_stats(f.relay, null_mut(), len) as i32,
            empty: NULL_ARGUMENT,
        },
        Row {
            owner: "relay_next_event",
            pointer: "out",
            length: "out_size",
            call: |f, len| relay_next_event(f.relay, null_mut(), len),
            empty: NULL_ARGUMENT,
        },
        Row {
            owner: "relay_core_get_stats",
            pointer: "out",
            length: "out_size",
            call: |f, len| relay_core_get_stats(f.core, null_mut(), len) as i32,
            empty: NULL_ARGUMENT,
        },
        Row {
            owner: "relay_core_next_event",
            pointer: "out",
            length: "out_size",
            call: |f, len| relay_core_next_event(f.core, null_mut(), len),
            empty: NULL_ARGUMENT,
        },
        Row {
            owner: "relay_core_handle_datagram",
            pointer: "datagram",
            length: "len",
            call: |f, len| {
                let mut ip = [0u8; 16];
                ip[..4].copy_from_slice(&[192, 0, 2, 1]);
                let src = RelayAddress {
                    family: 4,
                    port: 4000,
                    scope_id: 0,
                    ip,
                };
                let mut out = std::mem::MaybeUninit::<RelayTransmit>::uninit();
                relay_core_handle_datagram(f.core, 0, &src, null(), null(), len, out.as_mut_ptr())
                    as i32
            },
            // An empty datagram is a datagram like any other (dropped: no channel).
            empty: RelayStatus::Ok as i32,
        },
        Row {
            owner: "relay_address_format",
            pointer: "buf",
            length: "buf_len",
            call: |_, len| {
                let addr = RelayAddress {
                    family: 4,
                    port: 6060,
                    scope_id: 0,
                    ip: [127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                };
                relay_address_format(&addr, null_mut(), len)
            },
            empty: NULL_ARGUMENT,
        },
        Row {
            owner: "relay_token_mint",
            pointer: "secret",
            length: "secret_len",
            call: |f, len| {
                let mut out = [0u8; RELAY_TOKEN_LEN];
                relay_token_mint(null(), len, &f.guid, 0, 1, out.as_mut_ptr(), out.len())
            },
            // An empty secret mints nothing.
            empty: RelayStatus::InvalidArgument as i32,
        },
        Row {
            owner: "relay_token_mint",
            pointer: "out",
            length: "out_len",
            call: |f, len| {
                relay_token_mint(
                    SECRET.as_ptr(),
                    SECRET.len(),
                    &f.guid,
                    0,
                    1,
                    null_mut(),
                    len,
                )
            },
            empty: NULL_ARGUMENT,
        },
        Row {
            owner: "relay_token_mint_for_relay",
            pointer: "secret",
            length: "secret_len",
            call: |f, len| {
                let mut out = [0u8; RELAY_TOKEN_V2_LEN];
                relay_token_mint_for_relay(
                    null(),
                    len,
                    1,
                    2,
                    &f.guid,
                    0,
                    1,
                    out.as_mut_ptr(),
                    out.len(),
                )
            },
            // An empty secret mints nothing.
            empty: RelayStatus::InvalidArgument as i32,
        },
        Row {
            owner: "relay_token_mint_for_relay",
            pointer: "out",
            length: "out_len",
            call: |f, len| {
                relay_token_mint_for_relay(
                    SECRET.as_ptr(),
                    SECRET.len(),
                    1,
                    2,
                    &f.guid,
                    0,
                    1,
                    null_mut(),
                    len,
                )
            },
            empty: NULL_ARGUMENT,
        },
        Row {
            owner: "relay_handshake_write_with_token",
            pointer: "token",
            length: "token_len",
            call: |_, len| {
                let mut out = [0u8; RELAY_MAX_HANDSHAKE_LEN];
                relay_handshake_write_with_token(null(), len, 1, out.as_mut_ptr(), out.len())
            },
            empty: NULL_ARGUMENT,
        },
        Row {
            owner: "relay_handshake_write_with_token",
            pointer: "out",
            length: "out_len",
            call: |f, len| {
                let token = &f.token;
                relay_handshake_write_with_token(token.as_ptr(), token.len(), 1, null_mut(), len)
            },
            empty: NULL_ARGUMENT,
        },
        Row {
            owner: "relay_client_rejoin",
            pointer: "token",
            length: "token_len",
            call: |f, len| {
                let address =
                    CString::new(format!("127.0.0.1:{}", relay_local_port(f.relay))).unwrap();
                relay_client_rejoin(f.client, address.as_ptr(), &f.guid, null(), len) as i32
            },
            // No token: plain handshakes, to the same relay and GUID.
            empty: RelayStatus::Ok as i32,
        },
        Row {
            owner: "relay_handshake_rejoin",
            pointer: "token",
            length: "token_len",
            call: |f, len| relay_handshake_rejoin(f.handshake, &f.guid, null(), len) as i32,
            empty: RelayStatus::Ok as i32,
        },
        Row {
            owner: "relay_measure",
            pointer: "out",
            length: "out_len",
            call: |f, len| {
                let address =
                    CString::new(format!("127.0.0.1:{}", relay_local_port(f.relay))).unwrap();
                relay_measure(&address.as_ptr(), 1, 1, 100, null_mut(), len)
            },
            empty: NULL_ARGUMENT,
        },
        Row {
            owner: "relay_rank",
            pointer: "relays",
            length: "n",
            call: |f, len| {
                let mut out = [0u32; 4];
                relay_rank(&f.guid, null(), len, out.as_mut_ptr(), out.len())
            },
            // No relays: an empty ranking.
            empty: 0,
        },
        Row {
            owner: "relay_rank",
            pointer: "out_order",
            length: "out_len",
            call: |f, len| {
                let relays = [RelayRankEntry {
                    relay_id: 1,
                    weight: 1,
                }];
                relay_rank(&f.guid, relays.as_ptr(), relays.len(), null_mut(), len)
            },
            empty: NULL_ARGUMENT,
        },
        Row {
            owner: "RelayConfig",
            pointer: "secret_key",
            length: "secret_key_len",
            call: |_, len| {
                start_relay(|c| {
                    c.secret_key = null();
                    c.secret_key_len = len;
                })
            },
            // No key: an unkeyed relay.
            empty: RelayStatus::Ok as i32,
        },
        Row {
            owner: "RelayConfig",
            pointer: "previous_secret_key",
            length: "previous_secret_key_len",
            call: |_, len| {
                start_relay(|c| {
                    c.previous_secret_key = null();
                    c.previous_secret_key_len = len;
                })
            },
            // No previous key: no rotation.
            empty: RelayStatus::Ok as i32,
        },
        Row {
            owner: "RelayClientConfig",
            pointer: "secret_key",
            length: "secret_key_len",
            call: |f, len| {
                new_handshake(f, |c| {
                    c.secret_key = null();
                    c.secret_key_len = len;
                })
            },
            empty: RelayStatus::Ok as i32,
        },
        Row {
            owner: "RelayClientConfig",
            pointer: "token",
            length: "token_len",
            call: |f, len| {
                new_handshake(f, |c| {
                    c.token = null();
                    c.token_len = len;
                })
            },
            // No token: plain handshakes.
            empty: RelayStatus::Ok as i32,
        },
    ]
}

/// `(owner, pointer, length)` for every pointer the header pairs with a `size_t` after it:
/// in a function's parameters or a struct's fields.
fn pairs_in_header() -> BTreeSet<(String, String, String)> {
    let header =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/udp_relay.h"))
            .unwrap();
    let code: String = header
        .lines()
        .map(|line| line.split("//").next().unwrap())
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ");
    let last_word = |decl: &str| {
        decl.trim()
            .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()
            .unwrap()
            .to_string()
    };
    let is_pointer = |decl: &str| decl.matches('*').count() == 1;
    let is_length = |decl: &str| {
        let words: Vec<&str> = decl.split_whitespace().collect();
        words.len() == 2 && words[0] == "size_t"
    };
    let mut pairs = BTreeSet::new();
    let mut structure: Option<String> = None;
    let mut previous_field = String::new();
    for decl in code.split(';') {
        if let Some(at) = decl.find("typedef struct") {
            if let Some(open) = decl[at..].find('{') {
                structure = Some(last_word(&decl[at..at + open]));
                previous_field.clear();
            }
        }
        if let Some(name) = &structure {
            let field = decl.rsplit('{').next().unwrap();
            if is_pointer(&previous_field) && is_length(field) {
                pairs.insert((name.clone(), last_word(&previous_field), last_word(field)));
            }
            previous_field = field.to_string();
            if decl.contains('}') {
                structure = None;
            }
            continue;
        }
        let (Some(open), Some(close)) = (decl.find('('), decl.rfind(')')) else {
            continue;
        };
        let function = last_word(&decl[..open]);
        if !function.starts_with("relay_") {
            continue;
        }
        let params: Vec<&str> = decl[open + 1..close].split(',').collect();
        for pair in params.windows(2) {
            if is_pointer(pair[0]) && is_length(pair[1]) {
                pairs.insert((function.clone(), last_word(pair[0]), last_word(pair[1])));
            }
        }
    }
    pairs
}

#[test]
fn every_buffer_in_the_header_is_checked_here() {
    let in_header = pairs_in_header();
    let listed: BTreeSet<(String, String, String)> = rows()
        .iter()
        .map(|r| (r.owner.into(), r.pointer.into(), r.length.into()))
        .collect();
    assert!(in_header.len() >= 19, "pairs read: {in_header:?}");
    assert_eq!(
        listed, in_header,
        "the pointer/length pairs listed here (left) and in include/udp_relay.h (right) differ"
    );
}

#[test]
fn a_null_buffer_with_a_length_is_a_null_argument_everywhere() {
    let fixture = Fixture::new();
    let mut wrong = Vec::new();
    for row in rows() {
        let what = format!("{}: {} NULL", row.owner, row.pointer);
        // Lengths that are each call's valid or natural sizes, so nothing but the NULL is
        // wrong with the call.
        for len in [1, 5, 56, 60, 100, 4096, usize::MAX] {
            let got = (row.call)(&fixture, len);
            if got != NULL_ARGUMENT {
                wrong.push(format!(
                    "{what}, {} {len}: {got}, not RELAY_STATUS_NULL_ARGUMENT ({})",
                    row.length,
                    last_error()
                ));
            } else if !last_error().contains(row.pointer) {
                wrong.push(format!(
                    "{what}, {} {len}: the message does not name it: {}",
                    row.length,
                    last_error()
                ));
            }
        }
        let got = (row.call)(&fixture, 0);
        if got != row.empty {
            wrong.push(format!(
                "{what}, {} 0: {got}, the header says {} ({})",
                row.length,
                row.empty,
                last_error()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
