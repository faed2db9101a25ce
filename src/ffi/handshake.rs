//! `relay_guid_*` and `relay_handshake_*`: for engines that own their UDP socket. Pure
//! functions for GUIDs and handshakes, and a socket-less handshake state machine.

use std::ffi::c_char;
use std::time::Instant;

use super::client::{
    RelayClientConfig, RelayClientState, handshake_setup, lost_reason, read_config, timeout_hint,
};
use super::error::{FfiError, RelayStatus, guard, guard_count};
use super::handle::Registry;
use super::types::{RELAY_MAX_HANDSHAKE_LEN, RelayGuid, bytes, bytes_mut, opt_str, write_out};
use crate::client::{HandshakeMachine, Received, State};
use crate::protocol::{self, EncodeError, Guid, HandshakeKey};

/// Bytes `relay_guid_format` needs: 36 characters and the terminating NUL.
pub const RELAY_GUID_STRING_SIZE: usize = 37;

/// Writes a new random GUID (from the operating system's random source, never zero) to
/// `*out_guid`. Errors: `RELAY_STATUS_NULL_ARGUMENT`, `RELAY_STATUS_IO` if the system has no
/// randomness to give.
#[unsafe(no_mangle)]
pub extern "C" fn relay_guid_new(out_guid: *mut RelayGuid) -> RelayStatus {
    guard(|| {
        if out_guid.is_null() {
            return Err(FfiError::null("relay_guid_new", "out_guid"));
        }
        let guid = Guid::random().map_err(|e| {
            FfiError::new(
                RelayStatus::Io,
                format!("relay_guid_new: no OS randomness: {e}"),
            )
        })?;
        // SAFETY: checked non-NULL; the caller provides a writable RelayGuid.
        unsafe { write_out(out_guid, guid.into()) };
        Ok(())
    })
}

/// Parses `text` (NUL-terminated), a GUID in the `8-4-4-4-12` hex form such as
/// "01234567-89ab-cdef-fedc-ba9876543210", into `*out_guid`: exactly 32 hex digits of either
/// case with a `-` after the 8th, 12th, 16th and 20th, optionally inside one pair of braces
/// ("{01234567-...}"), and nothing else (no whitespace: trim what you read). Errors:
/// `RELAY_STATUS_NULL_ARGUMENT`, `RELAY_STATUS_INVALID_ARGUMENT`. The zero GUID parses, but
/// no relay accepts it.
///
/// Ownership: `text` is only read during the call.
#[unsafe(no_mangle)]
pub extern "C" fn relay_guid_parse(text: *const c_char, out_guid: *mut RelayGuid) -> RelayStatus {
    guard(|| {
        if out_guid.is_null() {
            return Err(FfiError::null("relay_guid_parse", "out_guid"));
        }
        // SAFETY: the caller passes a NUL-terminated string or NULL, valid for this call.
        let text = unsafe { opt_str(text, "text") }?
            .ok_or_else(|| FfiError::null("relay_guid_parse", "text"))?;
        let guid: Guid = text
            .parse()
            .map_err(|e| FfiError::invalid(format!("relay_guid_parse: {text:?}: {e}")))?;
        // SAFETY: checked non-NULL; the caller provides a writable RelayGuid.
        unsafe { write_out(out_guid, guid.into()) };
        Ok(())
    })
}

/// Writes `*guid` as lowercase `8-4-4-4-12` text, NUL-terminated, into `buf` of `buf_len`
/// bytes and returns the text length (36), or a negative status:
/// `RELAY_STATUS_BUFFER_TOO_SMALL` below `RELAY_GUID_STRING_SIZE` (37) bytes (nothing is
/// written), `RELAY_STATUS_NULL_ARGUMENT`.
///
/// Ownership: `buf` is borrowed for the call.
#[unsafe(no_mangle)]
pub extern "C" fn relay_guid_format(
    guid: *const RelayGuid,
    buf: *mut c_char,
    buf_len: usize,
) -> i32 {
    guard_count(|| {
        if guid.is_null() {
            return Err(FfiError::null("relay_guid_format", "guid"));
        }
        if buf.is_null() {
            return Err(FfiError::null("relay_guid_format", "buf"));
        }
        // SAFETY: checked non-NULL; the caller passes a readable RelayGuid.
        let text = Guid::from(unsafe { *guid }).to_string();
        if buf_len < text.len() + 1 {
            return Err(FfiError::new(
                RelayStatus::BufferTooSmall,
                format!(
                    "relay_guid_format: needs {RELAY_GUID_STRING_SIZE} bytes, buffer has {buf_len}"
                ),
            ));
        }
        // SAFETY: `buf` is non-NULL with `buf_len` writable bytes.
        let out = unsafe { bytes_mut(buf.cast(), buf_len, "buf") }?;
        out[..text.len()].copy_from_slice(text.as_bytes());
        out[text.len()] = 0;
        Ok(text.len())
    })
}

/// Writes the v0.8 handshake for `*guid` (56 bytes, no extension, flags 0) into `buf` of
/// `buf_len` bytes and returns its length (56), or a negative status:
/// `RELAY_STATUS_BUFFER_TOO_SMALL` below `RELAY_HANDSHAKE_LEN` bytes,
/// `RELAY_STATUS_INVALID_ARGUMENT` for a zero GUID, `RELAY_STATUS_NULL_ARGUMENT`.
/// With a key (`secret_key_len > 0`) the HMAC is filled in; without, the mac field is zero,
/// as an unkeyed relay expects.
///
/// Ownership: `guid` and `secret_key` are only read, `buf` only written, during the call.
#[unsafe(no_mangle)]
pub extern "C" fn relay_handshake_write(
    buf: *mut u8,
    buf_len: usize,
    guid: *const RelayGuid,
    secret_key: *const u8,
    secret_key_len: usize,
) -> i32 {
    guard_count(|| {
        const F: &str = "relay_handshake_write";
        if buf.is_null() {
            return Err(FfiError::null(F, "buf"));
        }
        if guid.is_null() {
            return Err(FfiError::null(F, "guid"));
        }
        // SAFETY: checked non-NULL; the caller passes a readable RelayGuid.
        let guid = Guid::from(unsafe { *guid });
        // SAFETY: `secret_key` points to `secret_key_len` bytes (or the length is 0).
        let key = unsafe { bytes(secret_key, secret_key_len, "secret_key") }?;
        // SAFETY: `buf` is non-NULL with `buf_len` writable bytes.
        let out = unsafe { bytes_mut(buf, buf_len, "buf") }?;
        let key = (!key.is_empty()).then(|| HandshakeKey::new(key));
        protocol::write_handshake(out, guid, 0, &[], key.as_ref()).map_err(|e| {
            let status = match e {
                EncodeError::BufferTooSmall { .. } => RelayStatus::BufferTooSmall,
                EncodeError::ZeroGuid | EncodeError::ExtensionTooLong => {
                    RelayStatus::InvalidArgument
                }
            };
            FfiError::new(status, format!("{F}: {e}"))
        })
    })
}

/// Checks whether the `len` bytes at `datagram` are a valid v0.8 handshake for `*guid`:
/// returns `RELAY_STATUS_OK` if so, else `RELAY_STATUS_INVALID_HANDSHAKE` with the reason in
/// `relay_last_error()` (too short, bad magic, zero GUID, another GUID, HMAC does not
/// verify). With a key (`secret_key_len > 0`) the HMAC must verify; without, the mac field is
/// not looked at. A peer's token handshake (flag bit 0x8000) parses only without a key: its
/// proof is keyed with the peer's seat tag, which only the relay can check
/// (`relay_handshake_receive` recognises it either way). Other errors:
/// `RELAY_STATUS_NULL_ARGUMENT`.
///
/// Ownership: everything is only read during the call.
#[unsafe(no_mangle)]
pub extern "C" fn relay_handshake_parse(
    datagram: *const u8,
    len: usize,
    guid: *const RelayGuid,
    secret_key: *const u8,
    secret_key_len: usize,
) -> RelayStatus {
    guard(|| {
        const F: &str = "relay_handshake_parse";
        if datagram.is_null() {
            return Err(FfiError::null(F, "datagram"));
        }
        if guid.is_null() {
            return Err(FfiError::null(F, "guid"));
        }
        // SAFETY: checked non-NULL; the caller passes a readable RelayGuid.
        let expected = Guid::from(unsafe { *guid });
        // SAFETY: `datagram` is non-NULL with `len` readable bytes.
        let datagram = unsafe { bytes(datagram, len, "datagram") }?;
        // SAFETY: `secret_key` points to `secret_key_len` bytes (or the length is 0).
        let key = unsafe { bytes(secret_key, secret_key_len, "secret_key") }?;
        let key = (!key.is_empty()).then(|| HandshakeKey::new(key));
        let invalid =
            |why: String| FfiError::new(RelayStatus::InvalidHandshake, format!("{F}: {why}"));
        let handshake = protocol::parse_handshake(datagram, key.as_ref())
            .map_err(|e| invalid(e.to_string()))?;
        if handshake.guid != expected {
            return Err(invalid(format!(
                "handshake for GUID {}, expected {expected}",
                handshake.guid
            )));
        }
        Ok(())
    })
}

/// A socket-less handshake state machine for one channel. Opaque: created by
/// `relay_handshake_new`, freed by `relay_handshake_free`.
///
/// The engine owns the UDP socket and, every tick:
/// 1. passes each datagram received from the relay's address to `relay_handshake_receive`,
///    and hands it to the game only when that returns `RELAY_DATAGRAM_KIND_DATA`;
/// 2. calls `relay_handshake_poll` and sends what it writes (if anything) to the relay;
/// 3. calls `relay_handshake_on_data_sent` whenever it sent game data, so keep-alives go out
///    only when the game is quiet.
///
/// `relay_handshake_next_timeout` says how long the engine may sleep before step 2 is due.
/// Calls on one handle are serialised by the library.
pub struct RelayHandshake {
    _private: [u8; 0],
}

pub(super) static HANDSHAKES: Registry<HandshakeMachine, RelayHandshake> =
    Registry::new("handshake", 0x4A5D_0000);

/// What a datagram from the relay is, as `relay_handshake_receive` returns it.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayDatagramKind {
    /// Game data from the peer: hand it to the game.
    Data = 0,
    /// The peer's handshake or keep-alive: consumed, not for the game. Call
    /// `relay_handshake_poll` next: an answer may be due.
    Handshake = 1,
    /// Not for the game either: a handshake with our GUID whose HMAC does not verify (or
    /// whose token extension is malformed), or anything after a timeout or once the peer is
    /// lost.
    Discarded = 2,
}

/// Starts a handshake state machine for `config->guid` (with `config->secret_key`,
/// `config->token` and the timing fields; `relay_address`, buffer and queue sizes are
/// ignored) and writes its handle to `*out_handshake`. The first handshake is due at once:
/// call `relay_handshake_poll`. With a token, every handshake it hands out is a token
/// handshake with a fresh sequence, and the peer's token handshakes are recognised as
/// handshakes (`RELAY_DATAGRAM_KIND_HANDSHAKE`), never as game data.
///
/// Errors: `RELAY_STATUS_NULL_ARGUMENT`, `RELAY_STATUS_VERSION_MISMATCH`,
/// `RELAY_STATUS_INVALID_ARGUMENT` (zero GUID, inconsistent timing, a token that is not
/// `RELAY_TOKEN_LEN` or `RELAY_TOKEN_V2_LEN` bytes or not a seat token, a GUID other than
/// the token's).
///
/// Ownership: `config` and what it points to are only read during the call. The caller owns
/// the returned handle and must pass it to `relay_handshake_free` exactly once.
#[unsafe(no_mangle)]
pub extern "C" fn relay_handshake_new(
    config: *const RelayClientConfig,
    out_handshake: *mut *mut RelayHandshake,
) -> RelayStatus {
    guard(|| {
        const F: &str = "relay_handshake_new";
        let c = read_config(config, F)?;
        if out_handshake.is_null() {
            return Err(FfiError::null(F, "out_handshake"));
        }
        let setup = handshake_setup(&c, F)?;
        let machine = HandshakeMachine::with_token(
            setup.guid,
            setup.key.as_deref(),
            setup.token,
            setup.timing,
            Instant::now(),
        )
        .map_err(|e| FfiError::invalid(format!("{F}: {e}")))?;
        let handle = HANDSHAKES.insert(machine);
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out_handshake, handle) };
        Ok(())
    })
}

/// If a handshake (first try, retry, answer or keep-alive) is due now, writes it into `buf`
/// and returns its length (56, `RELAY_TOKEN_HANDSHAKE_LEN` = 76 with a v1 token,
/// `RELAY_TOKEN_V2_HANDSHAKE_LEN` = 84 with a v2 one; 16 more once it echoes the relay's
/// return-path cookie): send those bytes to the relay. Returns 0 when nothing is due, or a negative
/// status: `RELAY_STATUS_TIMED_OUT` once the channel was not established within the timeout
/// (final), `RELAY_STATUS_PEER_LOST` once the established channel went silent for
/// `peer_timeout_ms` (final: free it and start a new machine with the same GUID),
/// `RELAY_STATUS_BUFFER_TOO_SMALL` when `buf_len` is below the handshake's length
/// (the due handshake stays due; a buffer of `RELAY_MAX_HANDSHAKE_LEN` bytes always fits),
/// `RELAY_STATUS_NULL_ARGUMENT`, `RELAY_STATUS_INVALID_HANDLE`.
///
/// Ownership: `buf` is borrowed for the call.
#[unsafe(no_mangle)]
pub extern "C" fn relay_handshake_poll(
    handshake: *mut RelayHandshake,
    buf: *mut u8,
    buf_len: usize,
) -> i32 {
    guard_count(|| {
        const F: &str = "relay_handshake_poll";
        let machine = HANDSHAKES.get(handshake, F)?;
        if buf.is_null() {
            return Err(FfiError::null(F, "buf"));
        }
        let mut machine = machine.lock();
        let needed = machine.handshake_len();
        if buf_len < needed {
            let why = if machine.token().is_some() {
                "a token is configured, so handshakes carry it"
            } else {
                "a v0.8 handshake"
            };
            return Err(FfiError::new(
                RelayStatus::BufferTooSmall,
                format!(
                    "{F}: needs {needed} bytes ({why}), buffer has {buf_len}; \
                     RELAY_MAX_HANDSHAKE_LEN ({RELAY_MAX_HANDSHAKE_LEN}) bytes always fit"
                ),
            ));
        }
        // SAFETY: `buf` is non-NULL with `buf_len` writable bytes.
        let out = unsafe { bytes_mut(buf, buf_len, "buf") }?;
        let now = Instant::now();
        if let Some(datagram) = machine.poll_transmit(now) {
            out[..datagram.len()].copy_from_slice(datagram);
            return Ok(datagram.len());
        }
        match machine.state() {
            State::TimedOut => Err(FfiError::new(
                RelayStatus::TimedOut,
                format!(
                    "{F}: channel {} not established within {} ms: check the relay address, \
                     that the peer joined with the same GUID, and {}",
                    machine.guid(),
                    machine.timing().handshake_timeout.as_millis(),
                    timeout_hint(machine.token().is_some())
                ),
            )),
            State::Lost => Err(FfiError::new(
                RelayStatus::PeerLost,
                format!(
                    "{F}: {}; ask for a new ticket and call relay_handshake_rejoin (or free \
                     this machine and start a new one)",
                    lost_reason(machine.guid(), None, machine.timing().peer_timeout)
                ),
            )),
            _ => Ok(0),
        }
    })
}

/// Writes to `*out_ms` how many milliseconds may pass before `relay_handshake_poll` has
/// something to do (rounded up; 0 = call it now), or `UINT32_MAX` when it never will (timed
/// out, lost, closed, or established with neither keep-alive nor peer timeout configured). Errors: `RELAY_STATUS_NULL_ARGUMENT`,
/// `RELAY_STATUS_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn relay_handshake_next_timeout(
    handshake: *const RelayHandshake,
    out_ms: *mut u32,
) -> RelayStatus {
    guard(|| {
        const F: &str = "relay_handshake_next_timeout";
        let machine = HANDSHAKES.get(handshake, F)?;
        if out_ms.is_null() {
            return Err(FfiError::null(F, "out_ms"));
        }
        let next = machine.lock().next_timeout();
        let ms = match next {
            None => u32::MAX,
            Some(t) => {
                let wait = t.saturating_duration_since(Instant::now());
                wait.as_micros()
                    .div_ceil(1000)
                    .min(u128::from(u32::MAX - 1)) as u32
            }
        };
        // SAFETY: checked non-NULL; the caller provides a writable uint32_t.
        unsafe { write_out(out_ms, ms) };
        Ok(())
    })
}

/// Classifies one datagram received from the relay's address (the caller filters out other
/// sources) and updates the machine: returns a `RelayDatagramKind` (>= 0) or a negative
/// status (`RELAY_STATUS_NULL_ARGUMENT`, `RELAY_STATUS_INVALID_HANDLE`). Only
/// `RELAY_DATAGRAM_KIND_DATA` is game data. `datagram` may be NULL only if `len` is 0.
///
/// Ownership: `datagram` is only read during the call.
#[unsafe(no_mangle)]
pub extern "C" fn relay_handshake_receive(
    handshake: *mut RelayHandshake,
    datagram: *const u8,
    len: usize,
) -> i32 {
    guard_count(|| {
        let machine = HANDSHAKES.get(handshake, "relay_handshake_receive")?;
        // SAFETY: `datagram` points to `len` readable bytes (or the length is 0).
        let datagram = unsafe { bytes(datagram, len, "datagram") }?;
        let kind = match machine.lock().handle_datagram(datagram, Instant::now()) {
            Received::Data => RelayDatagramKind::Data,
            Received::Handshake => RelayDatagramKind::Handshake,
            Received::Discarded => RelayDatagramKind::Discarded,
        };
        Ok(kind as usize)
    })
}

/// Tells the machine the game just sent a datagram to the peer, postponing the keep-alive.
/// Errors: `RELAY_STATUS_NULL_ARGUMENT`, `RELAY_STATUS_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn relay_handshake_on_data_sent(handshake: *mut RelayHandshake) -> RelayStatus {
    guard(|| {
        HANDSHAKES
            .get(handshake, "relay_handshake_on_data_sent")?
            .lock()
            .on_data_sent(Instant::now());
        Ok(())
    })
}

/// The machine's `RelayClientState` (>= 1; a passed handshake deadline or peer timeout
/// counts), or a negative
/// `RelayStatus` (`RELAY_STATUS_NULL_ARGUMENT`, `RELAY_STATUS_INVALID_HANDLE`).
#[unsafe(no_mangle)]
pub extern "C" fn relay_handshake_state(handshake: *const RelayHandshake) -> i32 {
    guard_count(|| {
        let machine = HANDSHAKES.get(handshake, "relay_handshake_state")?;
        let mut machine = machine.lock();
        machine.handle_timeout(Instant::now());
        Ok(RelayClientState::from(machine.state()) as usize)
    })
}

/// Frees the machine. NULL is a no-op returning `RELAY_STATUS_OK`; a handle already freed
/// returns `RELAY_STATUS_INVALID_HANDLE`. The handle must not be used afterwards (doing so is
/// detected and reported, never a crash).
#[unsafe(no_mangle)]
pub extern "C" fn relay_handshake_free(handshake: *mut RelayHandshake) -> RelayStatus {
    guard(|| {
        if handshake.is_null() {
            return Ok(());
        }
        drop(HANDSHAKES.remove(handshake, "relay_handshake_free")?);
        Ok(())
    })
}
