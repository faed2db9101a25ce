//! The socket-free relay through the C ABI: an engine that owns its UDP socket (its game
//! port, io_uring, a platform socket layer) hands each datagram to the core and sends what
//! the core answers. Nothing is allocated per datagram: the answer is written into the
//! caller's `RelayTransmit`.

use std::net::IpAddr;

use super::error::{FfiError, RelayStatus, guard, guard_count};
use super::handle::Registry;
use super::relay_config::{RelayConfig, read_config};
use super::relay_types::{
    RELAY_EVENT_MIN_SIZE, RELAY_STATS_MIN_SIZE, RelayAddress, RelayEvent, RelayStats,
};
use super::types::{bytes, check_out_size, write_out, write_out_prefix};
use crate::relay::{RelayCore, Verdict};

/// Opaque handle of a socket-free relay (`relay_core_new`).
pub struct RelayCoreHandle {
    _private: [u8; 0],
}

/// Room for a datagram of the relay's own that the core may ask to send (a 56-byte
/// return-path challenge, a 16-byte probe reply), never larger than what caused it.
pub const RELAY_ANSWER_MAX_LEN: usize = 56;
const _: () = assert!(
    RELAY_ANSWER_MAX_LEN >= crate::cookie::CHALLENGE_LEN
        && RELAY_ANSWER_MAX_LEN >= crate::probe::PROBE_LEN
);

static CORES: Registry<RelayCore, RelayCoreHandle> = Registry::new("core", 0xC04E_0000);

/// What `relay_core_handle_datagram` asks the caller to send (`RelayTransmit::kind`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayTransmitKind {
    /// Nothing to send.
    None = 0,
    /// Send the datagram just handled, unchanged (`len` bytes), to `to`, from `from`.
    Forward = 1,
    /// Send `answer` (`len` bytes: a return-path challenge) to `to`, from `from`.
    Challenge = 2,
    /// Send `answer` (`len` bytes: the reply to a probe) to `to`, from `from`.
    ProbeReply = 3,
}

/// One send the core asks for. `from` is the local address to send from (the address the
/// peer sends to; family 0 when the core was never told, then send from any).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RelayTransmit {
    /// A `RelayTransmitKind` value.
    pub kind: u32,
    /// Bytes to send.
    pub len: u32,
    pub to: RelayAddress,
    pub from: RelayAddress,
    /// The bytes of a challenge or probe reply (their first `len` bytes).
    pub answer: [u8; RELAY_ANSWER_MAX_LEN],
    /// Identifies a forward for `relay_core_report_send_failure`.
    pub forward_tag: u64,
}

impl RelayTransmit {
    const NONE: RelayTransmit = RelayTransmit {
        kind: RelayTransmitKind::None as u32,
        len: 0,
        to: RelayAddress {
            family: 0,
            port: 0,
            scope_id: 0,
            ip: [0; 16],
        },
        from: RelayAddress {
            family: 0,
            port: 0,
            scope_id: 0,
            ip: [0; 16],
        },
        answer: [0; RELAY_ANSWER_MAX_LEN],
        forward_tag: 0,
    };
}

/// A transmit of the relay's own bytes.
fn answer(
    kind: RelayTransmitKind,
    bytes: &[u8],
    to: std::net::SocketAddr,
    from: Option<IpAddr>,
) -> RelayTransmit {
    let mut t = RelayTransmit {
        kind: kind as u32,
        len: bytes.len() as u32,
        to: to.into(),
        from: local_address(from),
        ..RelayTransmit::NONE
    };
    t.answer[..bytes.len()].copy_from_slice(bytes);
    t
}

/// The local address as an `RelayAddress` (port 0), family 0 for none.
fn local_address(ip: Option<IpAddr>) -> RelayAddress {
    ip.map_or_else(RelayAddress::default, |ip| {
        std::net::SocketAddr::new(ip, 0).into()
    })
}

/// Makes a socket-free relay as `config` says (`bind_address`, `port`, the socket buffer
/// sizes and `coalesce_window_us` are not used: the caller has the socket and its loop) and
/// writes its handle to `*out_core`.
/// Errors: `RELAY_STATUS_NULL_ARGUMENT`, `RELAY_STATUS_VERSION_MISMATCH`,
/// `RELAY_STATUS_INVALID_ARGUMENT`, `RELAY_STATUS_IO` (no OS randomness). Free it with
/// `relay_core_free`.
#[unsafe(no_mangle)]
pub extern "C" fn relay_core_new(
    config: *const RelayConfig,
    out_core: *mut *mut RelayCoreHandle,
) -> RelayStatus {
    guard(|| {
        if out_core.is_null() {
            return Err(FfiError::null("relay_core_new", "out_core"));
        }
        let config = read_config(config, "relay_core_new")?;
        let core = RelayCore::new(config)
            .map_err(|e| FfiError::new(RelayStatus::Io, format!("relay_core_new: {e}")))?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out_core, CORES.insert(core)) };
        Ok(())
    })
}

/// Frees a relay made by `relay_core_new`. NULL is a no-op; a freed handle is reported as
/// `RELAY_STATUS_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn relay_core_free(core: *mut RelayCoreHandle) -> RelayStatus {
    guard(|| {
        if core.is_null() {
            return Ok(());
        }
        drop(CORES.remove(core, "relay_core_free")?);
        Ok(())
    })
}

/// Hands the core one datagram of `len` bytes that arrived from `*src`, sent to the local
/// address `*local` (NULL when not known), at `now_ms` (milliseconds on any monotonic clock
/// of the caller's that never goes back). Writes what to send into `*out`: nothing, the same
/// datagram to another address (a forward, already counted as sent: if the send fails,
/// call `relay_core_report_send_failure`), or bytes of the relay's own (a challenge, a probe
/// reply) in `answer`. Errors:
/// `RELAY_STATUS_NULL_ARGUMENT` (`src`, `out`, or `datagram` with `len` > 0),
/// `RELAY_STATUS_INVALID_ARGUMENT` (`src` of no family), `RELAY_STATUS_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn relay_core_handle_datagram(
    core: *mut RelayCoreHandle,
    now_ms: u64,
    src: *const RelayAddress,
    local: *const RelayAddress,
    datagram: *const u8,
    len: usize,
    out: *mut RelayTransmit,
) -> RelayStatus {
    const F: &str = "relay_core_handle_datagram";
    guard(|| {
        let core = CORES.get(core, F)?;
        if src.is_null() {
            return Err(FfiError::null(F, "src"));
        }
        if out.is_null() {
            return Err(FfiError::null(F, "out"));
        }
        if datagram.is_null() && len > 0 {
            return Err(FfiError::null(F, "datagram"));
        }
        // SAFETY: checked non-NULL; the caller passes a readable RelayAddress.
        let src = unsafe { *src }
            .to_socket_addr()
            .ok_or_else(|| FfiError::invalid(format!("{F}: src has no address family")))?;
        let local = if local.is_null() {
            None
        } else {
            // SAFETY: non-NULL; the caller passes a readable RelayAddress.
            unsafe { *local }.to_socket_addr().map(|a| a.ip())
        };
        // SAFETY: `datagram` points to `len` readable bytes (or `len` is 0).
        let datagram = unsafe { bytes(datagram, len, "datagram") }?;
        let verdict = core.lock().handle_datagram(now_ms, src, local, datagram);
        let transmit = match verdict {
            Verdict::Forward(f) => RelayTransmit {
                kind: RelayTransmitKind::Forward as u32,
                len: len as u32,
                to: f.to.into(),
                from: local_address(f.from),
                forward_tag: f.tag(),
                ..RelayTransmit::NONE
            },
            Verdict::Challenge(c) => {
                answer(RelayTransmitKind::Challenge, &c.datagram, c.to, c.from)
            }
            Verdict::ProbeReply(r) => {
                answer(RelayTransmitKind::ProbeReply, &r.datagram, r.to, r.from)
            }
            Verdict::Absorbed | Verdict::Dropped => RelayTransmit::NONE,
        };
        // SAFETY: checked non-NULL; the caller passes a writable RelayTransmit.
        unsafe { write_out(out, transmit) };
        Ok(())
    })
}

/// The forward `*transmit` could not be sent: the core counts it as a send error and a drop
/// instead of a datagram out. Transmits of other kinds are ignored.
#[unsafe(no_mangle)]
pub extern "C" fn relay_core_report_send_failure(
    core: *mut RelayCoreHandle,
    transmit: *const RelayTransmit,
) -> RelayStatus {
    guard(|| {
        let core = CORES.get(core, "relay_core_report_send_failure")?;
        if transmit.is_null() {
            return Err(FfiError::null("relay_core_report_send_failure", "transmit"));
        }
        // SAFETY: checked non-NULL; the caller passes a readable RelayTransmit.
        let t = unsafe { *transmit };
        if t.kind == RelayTransmitKind::Forward as u32 {
            core.lock().send_failed(t.forward_tag, t.len as usize);
        }
        Ok(())
    })
}

/// Writes to `*out_deadline_ms` when `relay_core_handle_timeout` next has work (on the
/// caller's clock, as given to the core), or -1 while no channel is open.
#[unsafe(no_mangle)]
pub extern "C" fn relay_core_next_timeout(
    core: *const RelayCoreHandle,
    out_deadline_ms: *mut i64,
) -> RelayStatus {
    guard(|| {
        let core = CORES.get(core, "relay_core_next_timeout")?;
        if out_deadline_ms.is_null() {
            return Err(FfiError::null("relay_core_next_timeout", "out_deadline_ms"));
        }
        let deadline = core
            .lock()
            .next_timeout()
            .map_or(-1, |d| i64::try_from(d).unwrap_or(i64::MAX));
        // SAFETY: checked non-NULL; the caller passes a writable int64_t.
        unsafe { write_out(out_deadline_ms, deadline) };
        Ok(())
    })
}

/// Expires the channels idle at `now_ms` (at most `max_expiries_per_poll`; call again when
/// `relay_core_next_timeout` says so) and returns how many closed, or a negative status.
#[unsafe(no_mangle)]
pub extern "C" fn relay_core_handle_timeout(core: *mut RelayCoreHandle, now_ms: u64) -> i32 {
    guard_count(|| {
        let core = CORES.get(core, "relay_core_handle_timeout")?;
        let expired = core.lock().handle_timeout(now_ms);
        Ok(expired)
    })
}

/// `relay_get_stats` for a socket-free relay.
#[unsafe(no_mangle)]
pub extern "C" fn relay_core_get_stats(
    core: *const RelayCoreHandle,
    out: *mut RelayStats,
    out_size: usize,
) -> RelayStatus {
    const F: &str = "relay_core_get_stats";
    guard(|| {
        let core = CORES.get(core, F)?;
        if out.is_null() {
            return Err(FfiError::null(F, "out"));
        }
        check_out_size(F, "RelayStats", out_size, RELAY_STATS_MIN_SIZE)?;
        let stats: RelayStats = core.lock().stats().into();
        // SAFETY: checked non-NULL; the caller provides `out_size` writable bytes.
        unsafe { write_out_prefix(out, out_size, &stats) };
        Ok(())
    })
}

/// `relay_next_event` for a socket-free relay: 1 when `*out` holds an event, 0 when none.
#[unsafe(no_mangle)]
pub extern "C" fn relay_core_next_event(
    core: *mut RelayCoreHandle,
    out: *mut RelayEvent,
    out_size: usize,
) -> i32 {
    const F: &str = "relay_core_next_event";
    guard_count(|| {
        let core = CORES.get(core, F)?;
        if out.is_null() {
            return Err(FfiError::null(F, "out"));
        }
        check_out_size(F, "RelayEvent", out_size, RELAY_EVENT_MIN_SIZE)?;
        let Some(event) = core.lock().next_event() else {
            return Ok(0);
        };
        let event: RelayEvent = event.into();
        // SAFETY: checked non-NULL; the caller provides `out_size` writable bytes.
        unsafe { write_out_prefix(out, out_size, &event) };
        Ok(1)
    })
}

/// `relay_drain` for a socket-free relay.
#[unsafe(no_mangle)]
pub extern "C" fn relay_core_drain(core: *mut RelayCoreHandle) -> RelayStatus {
    guard(|| {
        CORES.get(core, "relay_core_drain")?.lock().drain();
        Ok(())
    })
}
