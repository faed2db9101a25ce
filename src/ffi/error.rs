//! Status codes, the thread-local last-error message and the panic guard.

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Result of every fallible `relay_*` call. `RELAY_STATUS_OK` is zero and every error is
/// negative, so functions that return a count (`relay_poll`) return either a count >= 0 or
/// one of these.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayStatus {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = -1,
    /// An argument or config field is out of range or malformed.
    InvalidArgument = -2,
    /// The handle was never issued, or was already stopped / closed.
    InvalidHandle = -3,
    /// The address and port are already bound by another socket.
    AddressInUse = -4,
    /// The address string does not parse, or cannot be bound on this host.
    InvalidAddress = -5,
    /// Any other operating-system socket error.
    Io = -6,
    /// The caller's buffer is too small; nothing was written or consumed.
    BufferTooSmall = -7,
    /// The client has no established channel yet.
    NotEstablished = -8,
    /// The client's handshake got no answer in time.
    TimedOut = -9,
    /// Nothing to receive right now (not an error condition).
    WouldBlock = -10,
    /// The datagram is not a valid handshake (see `relay_last_error` for why).
    InvalidHandshake = -11,
    /// The config's `struct_size` is not one this library knows (this version's, or a
    /// previous one it still reads).
    VersionMismatch = -12,
    /// An internal error was caught at the boundary; the handle may be unusable.
    Panic = -13,
    /// The client's established channel went silent for its `peer_timeout_ms`: the relay
    /// restarted or the peer vanished. Final for that client. Added in ABI 3.
    PeerLost = -14,
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// An error on its way out of the C ABI.
#[derive(Debug)]
pub(crate) struct FfiError {
    pub status: RelayStatus,
    pub message: String,
}

impl FfiError {
    pub fn new(status: RelayStatus, message: impl Into<String>) -> FfiError {
        FfiError {
            status,
            message: message.into(),
        }
    }

    pub fn null(function: &str, argument: &str) -> FfiError {
        FfiError::new(
            RelayStatus::NullArgument,
            format!("{function}: `{argument}` is NULL"),
        )
    }

    pub fn invalid(message: impl Into<String>) -> FfiError {
        FfiError::new(RelayStatus::InvalidArgument, message)
    }
}

pub(crate) type FfiResult<T> = Result<T, FfiError>;

pub(crate) fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

fn record(err: FfiError) -> RelayStatus {
    ::log::debug!("{}", err.message);
    set_last_error(&err.message);
    err.status
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Runs `f`, turning an error into its status (message recorded) and a panic into
/// `RelayStatus::Panic`.
pub(crate) fn guard(f: impl FnOnce() -> FfiResult<()>) -> RelayStatus {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => RelayStatus::Ok,
        Ok(Err(e)) => record(e),
        Err(p) => record(FfiError::new(
            RelayStatus::Panic,
            format!("internal error: {}", panic_message(&*p)),
        )),
    }
}

/// Like [`guard`] for functions returning a non-negative count or a negative status.
pub(crate) fn guard_count(f: impl FnOnce() -> FfiResult<usize>) -> i32 {
    let mut count = 0usize;
    match guard(|| {
        count = f()?;
        Ok(())
    }) {
        RelayStatus::Ok => count.min(i32::MAX as usize) as i32,
        status => status as i32,
    }
}

/// Like [`guard`] for functions that return a plain value, with `fallback` on failure.
pub(crate) fn guard_value<T: Copy>(fallback: T, f: impl FnOnce() -> FfiResult<T>) -> T {
    let mut value = fallback;
    guard(|| {
        value = f()?;
        Ok(())
    });
    value
}

/// The message of the last failed `relay_*` call on the calling thread, or "" if none.
///
/// Ownership: the string belongs to the library and stays valid until the next `relay_*`
/// call on the same thread; copy it if you need it longer. Never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn relay_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// A static, human-readable name for a status code (e.g. "address in use"). Never NULL.
#[unsafe(no_mangle)]
pub extern "C" fn relay_status_str(status: i32) -> *const c_char {
    let s: &'static [u8] = match status {
        0 => b"ok\0",
        -1 => b"null argument\0",
        -2 => b"invalid argument\0",
        -3 => b"invalid handle\0",
        -4 => b"address in use\0",
        -5 => b"invalid address\0",
        -6 => b"i/o error\0",
        -7 => b"buffer too small\0",
        -8 => b"not established\0",
        -9 => b"timed out\0",
        -10 => b"would block\0",
        -11 => b"invalid handshake\0",
        -12 => b"version mismatch\0",
        -13 => b"internal error\0",
        -14 => b"peer lost\0",
        _ => b"unknown status\0",
    };
    s.as_ptr().cast()
}
