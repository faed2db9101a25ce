//! `relay_client_rejoin` and `relay_handshake_rejoin`: following the game to another relay
//! (its relay was lost or is draining) with a new ticket, on the same socket and handle.

use std::ffi::c_char;
use std::time::Instant;

use super::client::{CLIENTS, RelayClient, token_from_c};
use super::error::{FfiError, RelayStatus, guard};
use super::handshake::{HANDSHAKES, RelayHandshake};
use super::types::{RelayGuid, opt_str};
use crate::client::{self, RejoinError};
use crate::protocol::Guid;

/// Joins another channel, usually through another relay, keeping the client's socket (and so
/// its local port) and its handle: when the relay was lost (`RELAY_CLIENT_STATE_LOST`,
/// `RELAY_STATUS_PEER_LOST`) or is draining, the game asks its matchmaker for a new ticket
/// and passes it here. Works in any state. The key, timing, buffer sizes and counters of the
/// config the client was connected with stay, and so do datagrams already queued for
/// `relay_client_recv`; the handshake starts over as after `relay_client_connect` (state
/// `RELAY_CLIENT_STATE_HANDSHAKING`, a fresh handshake timeout, the first handshake sent
/// now). Until the new channel is established, `relay_client_send` returns
/// `RELAY_STATUS_NOT_ESTABLISHED`, as for any client still handshaking, and datagrams from
/// the old relay are dropped.
///
/// `relay_address` is "host:port", "1.2.3.4:port" or "[v6]:port" (a host name is resolved
/// here, blocking). `*guid` is the new channel's GUID; with a token, zero means the token's
/// (any other value must be the token's). `token` (`token_len` = `RELAY_TOKEN_LEN`) is the
/// new seat token, or NULL and 0 for plain v0.8 handshakes.
///
/// Errors, each leaving the client as it was: `RELAY_STATUS_NULL_ARGUMENT` (`client`,
/// `relay_address` or `guid` NULL, or `token` NULL with a nonzero length),
/// `RELAY_STATUS_INVALID_ARGUMENT` (zero GUID without a token, a token that is not
/// `RELAY_TOKEN_LEN` bytes or not a seat token, a GUID other than the token's),
/// `RELAY_STATUS_INVALID_ADDRESS` (the address does not resolve, or is IPv6 while the
/// client's socket is IPv4: it first joined an IPv4 relay), `RELAY_STATUS_INVALID_HANDLE`.
/// Added in ABI 5.
///
/// Ownership: `relay_address`, `guid` and `token` are only read during the call.
#[unsafe(no_mangle)]
pub extern "C" fn relay_client_rejoin(
    client: *mut RelayClient,
    relay_address: *const c_char,
    guid: *const RelayGuid,
    token: *const u8,
    token_len: usize,
) -> RelayStatus {
    guard(|| {
        const F: &str = "relay_client_rejoin";
        let client = CLIENTS.get(client, F)?;
        // SAFETY: the caller passes a NUL-terminated string or NULL, valid for this call.
        let text = unsafe { opt_str(relay_address, "relay_address") }?
            .ok_or_else(|| FfiError::null(F, "relay_address"))?;
        if guid.is_null() {
            return Err(FfiError::null(F, "guid"));
        }
        // SAFETY: checked non-NULL; the caller passes a readable RelayGuid.
        let guid = Guid::from(unsafe { *guid });
        // SAFETY: `token` points to `token_len` readable bytes (or the length is 0).
        let token = unsafe { token_from_c(token, token_len, F, "token") }?;
        let relay = client::resolve_relay(text).map_err(|e| {
            FfiError::new(
                RelayStatus::InvalidAddress,
                format!(
                    "{F}: relay address {text:?}: {e} (expected \"host:port\" or \"[v6]:port\")"
                ),
            )
        })?;
        client.lock().rejoin(relay, guid, token).map_err(|e| {
            let status = match e {
                RejoinError::Ticket(_) => RelayStatus::InvalidArgument,
                RejoinError::AddressFamily { .. } => RelayStatus::InvalidAddress,
            };
            FfiError::new(status, format!("{F}: {e}"))
        })
    })
}

/// The handshake machine's `relay_client_rejoin`, for an engine that owns its socket: starts
/// over for the channel `*guid` with `token` (same rules), keeping the machine's key, timing
/// and handle. The first handshake is due at once (`relay_handshake_poll`); from now on the
/// engine sends to the new relay and passes `relay_handshake_receive` only what comes from
/// there. Works in any state. Errors, each leaving the machine as it was:
/// `RELAY_STATUS_NULL_ARGUMENT`, `RELAY_STATUS_INVALID_ARGUMENT`,
/// `RELAY_STATUS_INVALID_HANDLE`. Added in ABI 5.
///
/// Ownership: `guid` and `token` are only read during the call.
#[unsafe(no_mangle)]
pub extern "C" fn relay_handshake_rejoin(
    handshake: *mut RelayHandshake,
    guid: *const RelayGuid,
    token: *const u8,
    token_len: usize,
) -> RelayStatus {
    guard(|| {
        const F: &str = "relay_handshake_rejoin";
        let machine = HANDSHAKES.get(handshake, F)?;
        if guid.is_null() {
            return Err(FfiError::null(F, "guid"));
        }
        // SAFETY: checked non-NULL; the caller passes a readable RelayGuid.
        let guid = Guid::from(unsafe { *guid });
        // SAFETY: `token` points to `token_len` readable bytes (or the length is 0).
        let token = unsafe { token_from_c(token, token_len, F, "token") }?;
        machine
            .lock()
            .rejoin(guid, token, Instant::now())
            .map_err(|e| FfiError::invalid(format!("{F}: {e}")))
    })
}
