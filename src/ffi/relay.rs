//! `relay_*`: start, tick, inspect and stop an embedded relay.

use std::ffi::c_char;

use super::error::{FfiError, RelayStatus, guard, guard_count, guard_value};
use super::handle::Registry;
use super::relay_config::{RelayConfig, io_status, read_config};
use super::relay_types::{
    RELAY_EVENT_MIN_SIZE, RELAY_STATS_MIN_SIZE, RelayAddress, RelayChannelCounters, RelayEvent,
    RelayStats,
};
use super::types::{RelayGuid, bytes_mut, check_out_size, write_out, write_out_prefix};
use crate::protocol::Guid;
use crate::relay::Relay;

/// An embedded relay. Opaque: created by `relay_start`, freed by `relay_stop`.
///
/// Threading: calls on one handle are serialised by the library, so it may be used from any
/// thread, but it is meant to be ticked from one (the host's game or network thread).
pub struct RelayHandle {
    _private: [u8; 0],
}

pub(super) static RELAYS: Registry<Relay, RelayHandle> = Registry::new("relay", 0x5E1A_0000);

/// Binds a relay as `config` says and writes its handle to `*out_relay`.
///
/// Errors: `RELAY_STATUS_NULL_ARGUMENT`, `RELAY_STATUS_VERSION_MISMATCH` (struct_size),
/// `RELAY_STATUS_INVALID_ARGUMENT`, `RELAY_STATUS_INVALID_ADDRESS`,
/// `RELAY_STATUS_ADDRESS_IN_USE`, `RELAY_STATUS_IO`. `*out_relay` is written only on success.
///
/// Ownership: `config` and what it points to are only read during the call. The caller owns
/// the returned handle and must pass it to `relay_stop` exactly once.
#[unsafe(no_mangle)]
pub extern "C" fn relay_start(
    config: *const RelayConfig,
    out_relay: *mut *mut RelayHandle,
) -> RelayStatus {
    guard(|| {
        if out_relay.is_null() {
            return Err(FfiError::null("relay_start", "out_relay"));
        }
        let core = read_config(config, "relay_start")?;
        let bind = core.bind;
        let relay = Relay::bind(core).map_err(|e| {
            FfiError::new(
                io_status(&e),
                format!("relay_start: cannot bind {bind}: {e}"),
            )
        })?;
        let handle = RELAYS.insert(relay);
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out_relay, handle) };
        Ok(())
    })
}

/// Closes the socket and frees the relay. NULL is a no-op returning `RELAY_STATUS_OK`; a
/// handle already stopped returns `RELAY_STATUS_INVALID_HANDLE`. The handle must not be used
/// afterwards (doing so is detected and reported, never a crash).
#[unsafe(no_mangle)]
pub extern "C" fn relay_stop(relay: *mut RelayHandle) -> RelayStatus {
    guard(|| {
        if relay.is_null() {
            return Ok(());
        }
        let relay = RELAYS.remove(relay, "relay_stop")?;
        // Dropped here, or when a concurrent call on another thread lets go of it.
        drop(relay);
        Ok(())
    })
}

/// The UDP port the relay is bound to (useful with port 0), or 0 if `relay` is not valid.
#[unsafe(no_mangle)]
pub extern "C" fn relay_local_port(relay: *const RelayHandle) -> u16 {
    guard_value(0, || {
        Ok(RELAYS
            .get(relay, "relay_local_port")?
            .lock()
            .local_addr()
            .port())
    })
}

/// Copies the relay's counters into `*out`, a buffer of `out_size` bytes: pass
/// `sizeof(RelayStats)`.
///
/// Writes `min(out_size, sizeof(RelayStats) of this library)` bytes: a caller compiled against
/// an older, smaller `RelayStats` gets exactly the fields it knows, and bytes past this
/// library's struct are left untouched. Errors: `RELAY_STATUS_NULL_ARGUMENT`,
/// `RELAY_STATUS_INVALID_HANDLE`, `RELAY_STATUS_INVALID_ARGUMENT` if `out_size` is below
/// `RELAY_STATS_MIN_SIZE`. `*out` is written only on success.
///
/// Ownership: `out` is borrowed for the call and owned by the caller.
#[unsafe(no_mangle)]
pub extern "C" fn relay_get_stats(
    relay: *const RelayHandle,
    out: *mut RelayStats,
    out_size: usize,
) -> RelayStatus {
    guard(|| {
        let relay = RELAYS.get(relay, "relay_get_stats")?;
        if out.is_null() {
            return Err(FfiError::null("relay_get_stats", "out"));
        }
        check_out_size(
            "relay_get_stats",
            "RelayStats",
            out_size,
            RELAY_STATS_MIN_SIZE,
        )?;
        let stats: RelayStats = relay.lock().stats().into();
        // SAFETY: checked non-NULL; the caller provides `out_size` writable bytes.
        unsafe { write_out_prefix(out, out_size, &stats) };
        Ok(())
    })
}

/// Copies the counters of the open channel `*guid` into `*out`. Returns
/// `RELAY_STATUS_INVALID_ARGUMENT` if no such channel is open.
#[unsafe(no_mangle)]
pub extern "C" fn relay_get_channel(
    relay: *const RelayHandle,
    guid: *const RelayGuid,
    out: *mut RelayChannelCounters,
) -> RelayStatus {
    guard(|| {
        let relay = RELAYS.get(relay, "relay_get_channel")?;
        if guid.is_null() {
            return Err(FfiError::null("relay_get_channel", "guid"));
        }
        if out.is_null() {
            return Err(FfiError::null("relay_get_channel", "out"));
        }
        // SAFETY: checked non-NULL; the caller passes a readable RelayGuid.
        let guid: Guid = unsafe { *guid }.into();
        let info = relay.lock().channel(guid).ok_or_else(|| {
            FfiError::invalid(format!("relay_get_channel: no open channel {guid}"))
        })?;
        // SAFETY: checked non-NULL; the caller provides a writable RelayChannelCounters.
        unsafe { write_out(out, info.counters.into()) };
        Ok(())
    })
}

/// Takes the oldest queued event: returns 1 and fills `*out`, a buffer of `out_size` bytes
/// (pass `sizeof(RelayEvent)`), if there was one, 0 if the queue is empty, or a negative
/// `RelayStatus`. Drain it every tick; when more than `max_pending_events` pile up, new ones
/// are dropped and counted.
///
/// Writes `min(out_size, sizeof(RelayEvent) of this library)` bytes: a caller compiled against
/// an older, smaller `RelayEvent` gets exactly the fields it knows, and bytes past this
/// library's struct are left untouched. Errors: `RELAY_STATUS_NULL_ARGUMENT`,
/// `RELAY_STATUS_INVALID_HANDLE`, `RELAY_STATUS_INVALID_ARGUMENT` if `out_size` is below
/// `RELAY_EVENT_MIN_SIZE`; on error no event is taken from the queue and `*out` is untouched.
///
/// Ownership: `out` is borrowed for the call and owned by the caller.
#[unsafe(no_mangle)]
pub extern "C" fn relay_next_event(
    relay: *mut RelayHandle,
    out: *mut RelayEvent,
    out_size: usize,
) -> i32 {
    guard_count(|| {
        let relay = RELAYS.get(relay, "relay_next_event")?;
        if out.is_null() {
            return Err(FfiError::null("relay_next_event", "out"));
        }
        check_out_size(
            "relay_next_event",
            "RelayEvent",
            out_size,
            RELAY_EVENT_MIN_SIZE,
        )?;
        let Some(event) = relay.lock().next_event() else {
            return Ok(0);
        };
        let event: RelayEvent = event.into();
        // SAFETY: checked non-NULL; the caller provides `out_size` writable bytes.
        unsafe { write_out_prefix(out, out_size, &event) };
        Ok(1)
    })
}

/// Stops accepting new channels; open ones keep relaying until they expire. A
/// `RELAY_EVENT_KIND_DRAINED` event is queued when the last one closes (at once if none is
/// open). Calling it again is harmless.
#[unsafe(no_mangle)]
pub extern "C" fn relay_drain(relay: *mut RelayHandle) -> RelayStatus {
    guard(|| {
        RELAYS.get(relay, "relay_drain")?.lock().drain();
        Ok(())
    })
}

/// Writes `addr` as text ("1.2.3.4:5678" or "[::1]:5678") into `buf` of `buf_len` bytes,
/// NUL-terminated, and returns the text length (without the NUL), or a negative status:
/// `RELAY_STATUS_BUFFER_TOO_SMALL` (64 bytes always suffice), `RELAY_STATUS_INVALID_ARGUMENT`
/// for a family other than 4 or 6.
#[unsafe(no_mangle)]
pub extern "C" fn relay_address_format(
    addr: *const RelayAddress,
    buf: *mut c_char,
    buf_len: usize,
) -> i32 {
    guard_count(|| {
        if addr.is_null() {
            return Err(FfiError::null("relay_address_format", "addr"));
        }
        if buf.is_null() {
            return Err(FfiError::null("relay_address_format", "buf"));
        }
        // SAFETY: checked non-NULL; the caller passes a readable RelayAddress.
        let addr = unsafe { *addr };
        let text = addr
            .to_socket_addr()
            .ok_or_else(|| {
                FfiError::invalid(format!(
                    "relay_address_format: family {} is not 4 or 6",
                    addr.family
                ))
            })?
            .to_string();
        // SAFETY: `buf` is non-NULL with `buf_len` writable bytes.
        let out = unsafe { bytes_mut(buf.cast(), buf_len, "buf") }?;
        if out.len() < text.len() + 1 {
            return Err(FfiError::new(
                RelayStatus::BufferTooSmall,
                format!(
                    "relay_address_format: needs {} bytes, buffer has {buf_len}",
                    text.len() + 1
                ),
            ));
        }
        out[..text.len()].copy_from_slice(text.as_bytes());
        out[text.len()] = 0;
        Ok(text.len())
    })
}
