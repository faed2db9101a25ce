//! Event-loop integration of the socket relay: its socket for the host's own epoll, select or
//! kqueue set, when it next has work without traffic, and a poll that waits without holding
//! the handle, so other threads' calls on it (stats, drain, stop) go through meanwhile.

use std::time::Duration;

use super::error::{FfiError, RelayStatus, guard, guard_count};
use super::relay::{RELAYS, RelayHandle};
use super::types::{raw_socket, write_out};
use crate::net::batch;

/// Relays what is pending (at most `max_datagrams_per_poll` datagrams, however the kernel
/// grouped them) and expires idle channels; if nothing was pending, waits at most
/// `timeout_ms` (0 = do not wait) for traffic or the next expiry, then does so again. With a
/// `coalesce_window_us`, a call with a timeout first lets datagrams gather for up to that
/// window (within `timeout_ms`) when the last call found the socket nearly empty.
/// Returns the number of datagrams handled (>= 0) or a negative `RelayStatus`. Meant to be
/// called every frame or in a loop. While it waits it holds nothing: calls on the same
/// handle from other threads (`relay_get_stats`, `relay_drain`, `relay_stop`) return at once.
#[unsafe(no_mangle)]
pub extern "C" fn relay_poll(relay: *mut RelayHandle, timeout_ms: u32) -> i32 {
    guard_count(|| {
        let relay = RELAYS.get(relay, "relay_poll")?;
        let poll_now = || {
            relay
                .lock()
                .poll(Duration::ZERO)
                .map_err(|e| FfiError::new(RelayStatus::Io, format!("relay_poll: {e}")))
        };
        // The coalescing pause of `Relay::poll`, taken here without holding the handle.
        let timeout = Duration::from_millis(u64::from(timeout_ms));
        let pause = if timeout.is_zero() {
            Duration::ZERO
        } else {
            relay.lock().coalesce_pause(timeout)
        };
        if !pause.is_zero() {
            batch::pause(pause);
        }
        let timeout = timeout - pause;
        let handled = poll_now()?;
        if handled > 0 || timeout.is_zero() {
            return Ok(handled);
        }
        let (socket, wait) = {
            let relay = relay.lock();
            let wait = relay.next_timeout().map_or(timeout, |due| due.min(timeout));
            (relay.shared_socket(), wait)
        };
        if !wait.is_zero() {
            batch::wait_readable(&socket, wait)
                .map_err(|e| FfiError::new(RelayStatus::Io, format!("relay_poll: {e}")))?;
        }
        poll_now()
    })
}

/// Writes the relay's UDP socket to `*out_socket` (a file descriptor on POSIX systems, a
/// `SOCKET` on Windows) for the host's own event loop: when it is readable, or when
/// `relay_next_timeout_ms` has passed, call `relay_poll(relay, 0)`. The socket stays the
/// relay's: do not read, write or close it. Errors: `RELAY_STATUS_NULL_ARGUMENT`,
/// `RELAY_STATUS_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn relay_fd(relay: *const RelayHandle, out_socket: *mut u64) -> RelayStatus {
    guard(|| {
        let relay = RELAYS.get(relay, "relay_fd")?;
        if out_socket.is_null() {
            return Err(FfiError::null("relay_fd", "out_socket"));
        }
        let socket = raw_socket(&relay.lock().shared_socket());
        // SAFETY: checked non-NULL; the caller passes a writable uint64_t.
        unsafe { write_out(out_socket, socket) };
        Ok(())
    })
}

/// Writes to `*out_ms` how many milliseconds remain until the relay has work without traffic
/// (a channel may fall idle): 0 when due now, -1 when no channel is open (wait for traffic
/// only). Errors: `RELAY_STATUS_NULL_ARGUMENT`, `RELAY_STATUS_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn relay_next_timeout_ms(
    relay: *const RelayHandle,
    out_ms: *mut i64,
) -> RelayStatus {
    guard(|| {
        let relay = RELAYS.get(relay, "relay_next_timeout_ms")?;
        if out_ms.is_null() {
            return Err(FfiError::null("relay_next_timeout_ms", "out_ms"));
        }
        let due = relay.lock().next_timeout();
        // SAFETY: checked non-NULL; the caller passes a writable int64_t.
        unsafe { write_out(out_ms, millis_or_never(due)) };
        Ok(())
    })
}

/// A wait in whole milliseconds, rounded up so a caller that sleeps that long is not early;
/// -1 for none.
pub(super) fn millis_or_never(wait: Option<Duration>) -> i64 {
    wait.map_or(-1, |d| {
        i64::try_from(d.as_micros().div_ceil(1000)).unwrap_or(i64::MAX)
    })
}
