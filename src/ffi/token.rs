//! `relay_token_*`: mint seat tokens (matchmaker side) and write handshakes carrying one
//! (client side). The formats (v1, and v2 bound to one relay) are described in `SECURITY.md`
//! and in `src/token.rs`.

use super::error::{FfiError, FfiResult, guard_count};
use super::types::{RelayGuid, bytes, bytes_mut};
use crate::protocol::Guid;
use crate::token::{self, Role, Token, TokenKey};

/// Size of a v1 seat token, as `relay_token_mint` writes it.
pub const RELAY_TOKEN_LEN: usize = 60;
/// Size of a v2 (relay-bound) seat token, as `relay_token_mint_for_relay` writes it. Added
/// in ABI 5.
pub const RELAY_TOKEN_V2_LEN: usize = 68;
/// Size of a handshake written by `relay_handshake_write_with_token` with a v1 token.
pub const RELAY_TOKEN_HANDSHAKE_LEN: usize = 76;
/// Size of a handshake written by `relay_handshake_write_with_token` with a v2 token. Added
/// in ABI 5.
pub const RELAY_TOKEN_V2_HANDSHAKE_LEN: usize = 84;
/// Token role of the seat A (`relay_token_mint`'s `role`).
pub const RELAY_TOKEN_ROLE_A: u32 = 0;
/// Token role of the seat B.
pub const RELAY_TOKEN_ROLE_B: u32 = 1;

const _: () = assert!(
    RELAY_TOKEN_LEN == token::TOKEN_LEN
        && RELAY_TOKEN_V2_LEN == token::TOKEN_V2_LEN
        && RELAY_TOKEN_HANDSHAKE_LEN == token::TOKEN_HANDSHAKE_LEN
        && RELAY_TOKEN_V2_HANDSHAKE_LEN == token::TOKEN_V2_HANDSHAKE_LEN
);

/// Mints the v1 seat token of one peer: the matchmaker calls this with the relay's secret
/// and hands the token to that peer only. `role` is `RELAY_TOKEN_ROLE_A` or
/// `RELAY_TOKEN_ROLE_B` (each peer of a channel gets its own); the token is accepted while
/// the relay's wall clock is before `expiry_unix_secs`, by every relay holding the secret
/// (see `relay_token_mint_for_relay` for a token one relay of a fleet accepts). Writes
/// `RELAY_TOKEN_LEN` bytes to `out` (of `out_len` bytes) and returns that count, or a
/// negative status: `RELAY_STATUS_NULL_ARGUMENT` (`guid`, `out`, or `secret` with a nonzero
/// `secret_len`), `RELAY_STATUS_INVALID_ARGUMENT` (empty secret, zero GUID, unknown role),
/// `RELAY_STATUS_BUFFER_TOO_SMALL`.
///
/// Ownership: `secret` (`secret_len` bytes) and `guid` are only read during the call; the
/// caller owns `out`. The token is a secret of its peer: send it over an authenticated,
/// encrypted channel.
#[unsafe(no_mangle)]
pub extern "C" fn relay_token_mint(
    secret: *const u8,
    secret_len: usize,
    guid: *const RelayGuid,
    role: u32,
    expiry_unix_secs: u64,
    out: *mut u8,
    out_len: usize,
) -> i32 {
    guard_count(|| {
        const F: &str = "relay_token_mint";
        // SAFETY: `secret` points to `secret_len` readable bytes (or the length is 0).
        let secret = unsafe { bytes(secret, secret_len, "relay_token_mint: secret") }?;
        let (guid, role) = seat(F, secret, guid, role, out)?;
        let token = TokenKey::new(secret).mint(guid, role, expiry_unix_secs);
        // SAFETY: `out` is non-NULL (checked by `seat`) with `out_len` writable bytes.
        unsafe { write_token(F, &token, out, out_len) }
    })
}

/// Mints the v2 seat token of one peer, valid only on the relay whose `RelayConfig.relay_id`
/// is `relay_id` (1 or more), while that relay holds `secret` as its key `key_id` (its
/// current key, or its previous one during a rotation). Otherwise as `relay_token_mint`:
/// writes `RELAY_TOKEN_V2_LEN` bytes to `out` and returns that count, or a negative status:
/// `RELAY_STATUS_NULL_ARGUMENT` (`guid`, `out`, or `secret` with a nonzero `secret_len`),
/// `RELAY_STATUS_INVALID_ARGUMENT` (empty secret, zero GUID, unknown role, `relay_id` 0),
/// `RELAY_STATUS_BUFFER_TOO_SMALL`. A relay shown a token for another relay id refuses it
/// without an answer and counts it in `RelayStats::handshakes_wrong_relay`. Added in ABI 5.
///
/// Ownership: `secret` (`secret_len` bytes) and `guid` are only read during the call; the
/// caller owns `out`. The token is a secret of its peer: send it over an authenticated,
/// encrypted channel.
// The C signature is the v1 mint's with the key id and the relay id added.
#[allow(clippy::too_many_arguments)]
#[unsafe(no_mangle)]
pub extern "C" fn relay_token_mint_for_relay(
    secret: *const u8,
    secret_len: usize,
    key_id: u32,
    relay_id: u32,
    guid: *const RelayGuid,
    role: u32,
    expiry_unix_secs: u64,
    out: *mut u8,
    out_len: usize,
) -> i32 {
    guard_count(|| {
        const F: &str = "relay_token_mint_for_relay";
        // SAFETY: `secret` points to `secret_len` readable bytes (or the length is 0).
        let secret = unsafe { bytes(secret, secret_len, "relay_token_mint_for_relay: secret") }?;
        let (guid, role) = seat(F, secret, guid, role, out)?;
        if relay_id == 0 {
            return Err(FfiError::invalid(format!(
                "{F}: relay_id is 0, which names no relay (relay ids are 1 or more)"
            )));
        }
        let token =
            TokenKey::new(secret).mint_for_relay(key_id, relay_id, guid, role, expiry_unix_secs);
        // SAFETY: `out` is non-NULL (checked by `seat`) with `out_len` writable bytes.
        unsafe { write_token(F, &token, out, out_len) }
    })
}

/// The checks both mints share: a secret, a GUID, an output, a role.
fn seat(
    function: &str,
    secret: &[u8],
    guid: *const RelayGuid,
    role: u32,
    out: *mut u8,
) -> FfiResult<(Guid, Role)> {
    if secret.is_empty() {
        return Err(FfiError::invalid(format!(
            "{function}: the relay secret is empty (secret_len is 0)"
        )));
    }
    if guid.is_null() {
        return Err(FfiError::null(function, "guid"));
    }
    if out.is_null() {
        return Err(FfiError::null(function, "out"));
    }
    // SAFETY: checked non-NULL; the caller passes a readable RelayGuid.
    let guid: Guid = unsafe { *guid }.into();
    if guid.is_zero() {
        return Err(FfiError::invalid(format!("{function}: GUID is zero")));
    }
    let role = u8::try_from(role)
        .ok()
        .and_then(Role::from_byte)
        .ok_or_else(|| {
            FfiError::invalid(format!(
                "{function}: role {role} is not RELAY_TOKEN_ROLE_A (0) or RELAY_TOKEN_ROLE_B (1)"
            ))
        })?;
    Ok((guid, role))
}

/// Writes `token` to `out` if `out_len` bytes hold it; returns its length.
///
/// # Safety
/// `out` is non-NULL and points to `out_len` writable bytes.
unsafe fn write_token(
    function: &str,
    token: &Token,
    out: *mut u8,
    out_len: usize,
) -> FfiResult<usize> {
    let wire = token.to_bytes();
    if out_len < wire.len() {
        return Err(too_small(function, wire.len(), out_len));
    }
    // SAFETY: the caller's promise: non-NULL with `out_len` writable bytes.
    let out = unsafe { bytes_mut(out, out_len, "out") }?;
    out[..wire.len()].copy_from_slice(&wire);
    Ok(wire.len())
}

/// Writes a handshake carrying the seat token `token` (`token_len` must be `RELAY_TOKEN_LEN`
/// for a v1 token or `RELAY_TOKEN_V2_LEN` for v2) into `out` of `out_len` bytes and returns
/// its length (`RELAY_TOKEN_HANDSHAKE_LEN`, or `RELAY_TOKEN_V2_HANDSHAKE_LEN` for v2), or a
/// negative status: `RELAY_STATUS_NULL_ARGUMENT`, `RELAY_STATUS_INVALID_ARGUMENT` (not a
/// token), `RELAY_STATUS_BUFFER_TOO_SMALL`.
///
/// `sequence` must be larger with every handshake sent with this token, for its whole life
/// (a counter starting at 1, or a millisecond clock): when the peer's address changes (NAT
/// rebinding) the relay moves its seat only for a sequence it has not seen, and treats
/// anything else as a replay. The client needs no relay secret.
///
/// Ownership: `token` is only read during the call; the caller owns `out`.
#[unsafe(no_mangle)]
pub extern "C" fn relay_handshake_write_with_token(
    token: *const u8,
    token_len: usize,
    sequence: u64,
    out: *mut u8,
    out_len: usize,
) -> i32 {
    guard_count(|| {
        const F: &str = "relay_handshake_write_with_token";
        if token.is_null() {
            return Err(FfiError::null(F, "token"));
        }
        if out.is_null() {
            return Err(FfiError::null(F, "out"));
        }
        // SAFETY: non-NULL with `token_len` readable bytes.
        let raw = unsafe { bytes(token, token_len, "token") }?;
        let token = Token::from_bytes(raw).map_err(|e| {
            FfiError::invalid(format!(
                "{F}: not a seat token of RELAY_TOKEN_LEN ({RELAY_TOKEN_LEN}) or \
                 RELAY_TOKEN_V2_LEN ({RELAY_TOKEN_V2_LEN}) bytes ({token_len} bytes): {e}"
            ))
        })?;
        let needed = token.handshake_len(false);
        if out_len < needed {
            return Err(too_small(F, needed, out_len));
        }
        // SAFETY: non-NULL with `out_len` writable bytes.
        let out = unsafe { bytes_mut(out, out_len, "out") }?;
        token::write_handshake_with_token(out, &token, sequence)
            .map_err(|e| FfiError::invalid(format!("{F}: {e}")))
    })
}

fn too_small(function: &str, needed: usize, got: usize) -> FfiError {
    FfiError::new(
        super::RelayStatus::BufferTooSmall,
        format!("{function}: needs {needed} bytes, buffer has {got}"),
    )
}
