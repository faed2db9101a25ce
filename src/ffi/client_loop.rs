//! Event-loop integration of the socket client: its socket, when it next has work, and a poll
//! that waits without holding the handle, so other threads' calls on it go through meanwhile.

use std::time::{Duration, Instant};

use super::client::{CLIENTS, RelayClient, peer_lost, timed_out};
use super::error::{FfiError, RelayStatus, guard, guard_count};
use super::relay_config::io_status;
use super::relay_loop::millis_or_never;
use super::types::{raw_socket, write_out};
use crate::client::State;
use crate::net::batch;

/// Receives what is pending, sends handshakes and keep-alives that are due, and waits at most
/// `timeout_ms` (0 = do not wait; it returns early when a datagram is queued or the state
/// changes). Returns the number of game datagrams ready for `relay_client_recv` (>= 0), or a
/// negative `RelayStatus`: `RELAY_STATUS_TIMED_OUT` once the handshake has timed out,
/// `RELAY_STATUS_PEER_LOST` once an established channel went silent for `peer_timeout_ms`
/// (either way the client is finished: close it; datagrams still queued are counted first),
/// `RELAY_STATUS_INVALID_HANDLE`, `RELAY_STATUS_IO`.
/// Call it every frame or in a loop, also while established (keep-alives go out from here).
/// While it waits it holds nothing: calls on the same handle from other threads
/// (`relay_client_state`, `relay_client_send`, `relay_client_close`) return at once.
#[unsafe(no_mangle)]
pub extern "C" fn relay_client_poll(client: *mut RelayClient, timeout_ms: u32) -> i32 {
    guard_count(|| {
        let client = CLIENTS.get(client, "relay_client_poll")?;
        let end = Instant::now().checked_add(Duration::from_millis(u64::from(timeout_ms)));
        let before = client.lock().state();
        loop {
            let (socket, wait) = {
                let mut c = client.lock();
                let state = c
                    .poll(Duration::ZERO)
                    .map_err(|e| FfiError::new(io_status(&e), format!("relay_client_poll: {e}")))?;
                let now = Instant::now();
                let left = end.map_or(Duration::ZERO, |end| end.saturating_duration_since(now));
                if c.queued() > 0
                    || state != before
                    || left.is_zero()
                    || !matches!(state, State::Handshaking | State::Established)
                {
                    if c.queued() == 0 {
                        match state {
                            State::TimedOut => return Err(timed_out("relay_client_poll", &c)),
                            State::Lost => return Err(peer_lost("relay_client_poll", &c)),
                            _ => {}
                        }
                    }
                    return Ok(c.queued());
                }
                let wait = c.next_timeout().map_or(left, |due| due.min(left));
                (c.shared_socket(), wait)
            };
            if !wait.is_zero() {
                batch::wait_readable(&socket, wait)
                    .map_err(|e| FfiError::new(io_status(&e), format!("relay_client_poll: {e}")))?;
            }
        }
    })
}

/// Writes the client's UDP socket to `*out_socket` (a file descriptor on POSIX systems, a
/// `SOCKET` on Windows) for the host's own event loop: when it is readable, or when
/// `relay_client_next_timeout_ms` has passed, call `relay_client_poll(client, 0)`. The
/// socket stays the client's: do not read, write or close it. Errors:
/// `RELAY_STATUS_NULL_ARGUMENT`, `RELAY_STATUS_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn relay_client_fd(client: *const RelayClient, out_socket: *mut u64) -> RelayStatus {
    guard(|| {
        let client = CLIENTS.get(client, "relay_client_fd")?;
        if out_socket.is_null() {
            return Err(FfiError::null("relay_client_fd", "out_socket"));
        }
        let socket = raw_socket(&client.lock().shared_socket());
        // SAFETY: checked non-NULL; the caller passes a writable uint64_t.
        unsafe { write_out(out_socket, socket) };
        Ok(())
    })
}

/// Writes to `*out_ms` how many milliseconds remain until the client has work without
/// traffic (a retry, an answer, a keep-alive, noticing a timeout or a lost peer): 0 when due
/// now, -1 once the client is finished. Errors: `RELAY_STATUS_NULL_ARGUMENT`,
/// `RELAY_STATUS_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn relay_client_next_timeout_ms(
    client: *const RelayClient,
    out_ms: *mut i64,
) -> RelayStatus {
    guard(|| {
        let client = CLIENTS.get(client, "relay_client_next_timeout_ms")?;
        if out_ms.is_null() {
            return Err(FfiError::null("relay_client_next_timeout_ms", "out_ms"));
        }
        let due = client.lock().next_timeout();
        // SAFETY: checked non-NULL; the caller passes a writable int64_t.
        unsafe { write_out(out_ms, millis_or_never(due)) };
        Ok(())
    })
}
