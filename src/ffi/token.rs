//! `relay_token_*`: mint seat tokens (matchmaker side) and write handshakes carrying one
//! (client side). The format is described in `SECURITY.md` and in `src/token.rs`.

use super::error::{FfiError, guard_count};
use super::types::{RelayGuid, bytes, bytes_mut};
use crate::protocol::Guid;
use crate::token::{self, Role, Token, TokenKey};

/// Size of a seat token written by `relay_token_mint`.
pub const RELAY_TOKEN_LEN: usize = 60;
/// Size of a handshake written by `relay_handshake_write_with_token`.
pub const RELAY_TOKEN_HANDSHAKE_LEN: usize = 76;
/// Token role of the seat A (`relay_token_mint`'s `role`).
pub const RELAY_TOKEN_ROLE_A: u32 = 0;
/// Token role of the seat B.
pub const RELAY_TOKEN_ROLE_B: u32 = 1;

const _: () = assert!(
    RELAY_TOKEN_LEN == token::TOKEN_LEN && RELAY_TOKEN_HANDSHAKE_LEN == token::TOKEN_HANDSHAKE_LEN
);

/// Mints the seat token of one peer: the matchmaker calls this with the relay's secret and
/// hands the token to that peer only. `role` is `RELAY_TOKEN_ROLE_A` or `RELAY_TOKEN_ROLE_B`
/// (each peer of a channel gets its own); the token is accepted while the relay's wall clock
/// is before `expiry_unix_secs`. Writes `RELAY_TOKEN_LEN` bytes to `out` (of `out_len`
/// bytes) and returns that count, or a negative status: `RELAY_STATUS_NULL_ARGUMENT`
/// (`guid`, `out`, or `secret` with a nonzero `secret_len`), `RELAY_STATUS_INVALID_ARGUMENT`
/// (empty secret, zero GUID, unknown role), `RELAY_STATUS_BUFFER_TOO_SMALL`.
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
        // SAFETY: `secret` points to `secret_len` readable bytes (or the length is 0).
        let secret = unsafe { bytes(secret, secret_len, "relay_token_mint: secret") }?;
        if secret.is_empty() {
            return Err(FfiError::invalid(
                "relay_token_mint: the relay secret is empty (secret_len is 0)",
            ));
        }
        if guid.is_null() {
            return Err(FfiError::null("relay_token_mint", "guid"));
        }
        if out.is_null() {
            return Err(FfiError::null("relay_token_mint", "out"));
        }
        // SAFETY: checked non-NULL; the caller passes a readable RelayGuid.
        let guid: Guid = unsafe { *guid }.into();
        if guid.is_zero() {
            return Err(FfiError::invalid("relay_token_mint: GUID is zero"));
        }
        let role = u8::try_from(role)
            .ok()
            .and_then(Role::from_byte)
            .ok_or_else(|| {
                FfiError::invalid(format!(
                    "relay_token_mint: role {role} is not RELAY_TOKEN_ROLE_A (0) or \
                     RELAY_TOKEN_ROLE_B (1)"
                ))
            })?;
        if out_len < RELAY_TOKEN_LEN {
            return Err(too_small("relay_token_mint", RELAY_TOKEN_LEN, out_len));
        }
        // SAFETY: non-NULL with `out_len` writable bytes.
        let out = unsafe { bytes_mut(out, out_len, "out") }?;
        let token = TokenKey::new(secret).mint(guid, role, expiry_unix_secs);
        out[..RELAY_TOKEN_LEN].copy_from_slice(&token.to_bytes());
        Ok(RELAY_TOKEN_LEN)
    })
}

/// Writes a handshake carrying the seat token `token` (`token_len` must be
/// `RELAY_TOKEN_LEN`) into `out` of `out_len` bytes and returns its length
/// (`RELAY_TOKEN_HANDSHAKE_LEN`), or a negative status: `RELAY_STATUS_NULL_ARGUMENT`,
/// `RELAY_STATUS_INVALID_ARGUMENT` (not a token), `RELAY_STATUS_BUFFER_TOO_SMALL`.
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
        if token.is_null() {
            return Err(FfiError::null("relay_handshake_write_with_token", "token"));
        }
        if out.is_null() {
            return Err(FfiError::null("relay_handshake_write_with_token", "out"));
        }
        // SAFETY: non-NULL with `token_len` readable bytes.
        let raw = unsafe { bytes(token, token_len, "token") }?;
        let token = Token::from_bytes(raw).map_err(|e| {
            FfiError::invalid(format!(
                "relay_handshake_write_with_token: not a {RELAY_TOKEN_LEN}-byte seat token \
                 ({token_len} bytes): {e}"
            ))
        })?;
        if out_len < RELAY_TOKEN_HANDSHAKE_LEN {
            return Err(too_small(
                "relay_handshake_write_with_token",
                RELAY_TOKEN_HANDSHAKE_LEN,
                out_len,
            ));
        }
        // SAFETY: non-NULL with `out_len` writable bytes.
        let out = unsafe { bytes_mut(out, out_len, "out") }?;
        token::write_handshake_with_token(out, &token, sequence)
            .map_err(|e| FfiError::invalid(format!("relay_handshake_write_with_token: {e}")))
    })
}

fn too_small(function: &str, needed: usize, got: usize) -> FfiError {
    FfiError::new(
        super::RelayStatus::BufferTooSmall,
        format!("{function}: needs {needed} bytes, buffer has {got}"),
    )
}
