//! `relay_measure`: the round-trip time and state of each relay of a list, to pick the nearest
//! one accepting channels before joining.

use std::ffi::c_char;
use std::time::Duration;

use super::error::{FfiError, RelayStatus, guard_count};
use super::relay_config::io_status;
use super::relay_types::RelayAddress;
use super::types::{opt_str, write_out};
use crate::client::{self, Reach};
use crate::probe::RelayState;

/// What a relay said of itself in its reply to a probe (`RelayMeasurement::state`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayProbeState {
    /// Admitting new channels: join it.
    Accepting = 0,
    /// Draining: its open channels still relay, new ones are refused. Pick another; a client
    /// in a channel there should rejoin elsewhere.
    Draining = 1,
    /// At its channel limit: new channels are refused until some close.
    Full = 2,
}

impl From<RelayState> for RelayProbeState {
    fn from(s: RelayState) -> Self {
        match s {
            RelayState::Accepting => RelayProbeState::Accepting,
            RelayState::Draining => RelayProbeState::Draining,
            RelayState::Full => RelayProbeState::Full,
        }
    }
}

/// One relay's result from `relay_measure`.
///
/// Fixed size: it is written as an array element, so it never grows (new figures would come
/// from a new function).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct RelayMeasurement {
    /// `RELAY_STATUS_OK`: the relay answered; `RELAY_STATUS_TIMED_OUT`: no probe was answered
    /// within the timeout (the relay is down, not there, or the path drops UDP);
    /// `RELAY_STATUS_INVALID_ADDRESS`: the text did not resolve, nothing was sent.
    pub status: i32,
    /// A `RelayProbeState`: what the relay said in its latest reply (0 unless `status` is OK).
    pub state: u32,
    /// The median round-trip time of the answered probes, in microseconds (0 unless `status`
    /// is OK).
    pub rtt_us: u32,
    /// Probes sent to the relay.
    pub probes_sent: u32,
    /// Probes it answered.
    pub replies: u32,
    /// The address the text resolved to (family 0 when it did not).
    pub address: RelayAddress,
}

/// Times each relay of `relays` (`relays_len` NUL-terminated "host:port", "1.2.3.4:port" or
/// "[v6]:port" strings) with up to `attempts` probes (1 to `RELAY_MAX_MEASURE_ATTEMPTS`),
/// and writes one `RelayMeasurement` per relay, in the same order, to `out` (room for
/// `out_len` of them). Returns how many relays answered (>= 0), or a negative status.
///
/// Pick the relay with the lowest `rtt_us` among those whose `status` is `RELAY_STATUS_OK`
/// and `state` is `RELAY_PROBE_STATE_ACCEPTING`.
///
/// Blocks: host names are resolved first (by the system resolver), then the probes take at
/// most `timeout_ms` (1 to `RELAY_MAX_MEASURE_TIMEOUT_MS`): exactly that long when a relay
/// does not answer, a few round trips when all do. Call it from a worker thread or at a
/// loading screen, not every frame. The probes leave from a socket bound for the call only,
/// so a client may measure while in a channel (a probe from its own socket would be the
/// channel's data on its relay).
///
/// Errors: `RELAY_STATUS_NULL_ARGUMENT` (`relays`, one of its strings, or `out` NULL),
/// `RELAY_STATUS_BUFFER_TOO_SMALL` (`out_len` below `relays_len`; nothing is sent),
/// `RELAY_STATUS_INVALID_ARGUMENT` (`attempts` or `timeout_ms` out of range, more than
/// `RELAY_MAX_MEASURED_RELAYS` relays), `RELAY_STATUS_IO` (no socket could be bound).
/// `out` is written only on success. Added in ABI 5.
///
/// Ownership: `relays` and its strings are only read, `out` only written, during the call.
#[unsafe(no_mangle)]
pub extern "C" fn relay_measure(
    relays: *const *const c_char,
    relays_len: usize,
    attempts: u32,
    timeout_ms: u32,
    out: *mut RelayMeasurement,
    out_len: usize,
) -> i32 {
    guard_count(|| {
        const F: &str = "relay_measure";
        if relays.is_null() {
            return Err(FfiError::null(F, "relays"));
        }
        if out.is_null() {
            return Err(FfiError::null(F, "out"));
        }
        let timeout = Duration::from_millis(u64::from(timeout_ms));
        client::check_measure(relays_len, attempts, timeout)
            .map_err(|e| FfiError::invalid(format!("{F}: {e}")))?;
        if out_len < relays_len {
            return Err(FfiError::new(
                RelayStatus::BufferTooSmall,
                format!("{F}: out has room for {out_len} measurements, relays_len is {relays_len}"),
            ));
        }
        let mut texts = Vec::with_capacity(relays_len);
        for i in 0..relays_len {
            // SAFETY: `relays` is non-NULL and the caller guarantees `relays_len` readable
            // pointers there.
            let text = unsafe { relays.add(i).read() };
            if text.is_null() {
                return Err(FfiError::null(F, &format!("relays[{i}]")));
            }
            texts.push(text);
        }
        let mut results = vec![
            RelayMeasurement {
                status: RelayStatus::InvalidAddress as i32,
                ..RelayMeasurement::default()
            };
            relays_len
        ];
        let mut resolved = Vec::with_capacity(relays_len);
        for (i, &text) in texts.iter().enumerate() {
            // SAFETY: a non-NULL, NUL-terminated string valid for the call, per the caller.
            let text = unsafe { opt_str(text, "relay address") };
            match text.map(|t| t.map(client::resolve_relay)) {
                Ok(Some(Ok(addr))) => resolved.push((i, addr)),
                Ok(Some(Err(e))) => ::log::debug!("{F}: relays[{i}] does not resolve: {e}"),
                Ok(None) | Err(_) => ::log::debug!("{F}: relays[{i}] is not UTF-8 text"),
            }
        }
        let addrs: Vec<_> = resolved.iter().map(|&(_, a)| a).collect();
        let measured = client::measure_relays(&addrs, attempts, timeout).map_err(|e| {
            FfiError::new(io_status(&e), format!("{F}: cannot probe the relays: {e}"))
        })?;
        let mut answered = 0;
        for (&(i, _), m) in resolved.iter().zip(&measured) {
            let r = &mut results[i];
            r.address = m.relay.into();
            r.probes_sent = m.probes_sent;
            r.replies = m.replies;
            match m.reach {
                Reach::Answered { rtt, state } => {
                    answered += 1;
                    r.status = RelayStatus::Ok as i32;
                    r.state = RelayProbeState::from(state) as u32;
                    r.rtt_us = rtt.as_micros().min(u128::from(u32::MAX)) as u32;
                }
                Reach::Unreachable => r.status = RelayStatus::TimedOut as i32,
            }
        }
        for (i, r) in results.into_iter().enumerate() {
            // SAFETY: `out` is non-NULL with room for `out_len` >= `relays_len` elements.
            unsafe { write_out(out.add(i), r) };
        }
        Ok(answered)
    })
}
