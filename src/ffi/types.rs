//! Plain data shared by the relay and client halves of the ABI, and version queries.

use std::ffi::{CStr, c_char};

use super::error::{FfiError, FfiResult};
use crate::protocol::Guid;

/// Version of the C ABI (structs, enums, function signatures). Bumped on any incompatible
/// change; bindings compare it with `relay_abi_version()` at load time.
pub const RELAY_ABI_VERSION: u32 = 1;
/// Library version, major part.
pub const UDP_RELAY_VERSION_MAJOR: u32 = 0;
/// Library version, minor part.
pub const UDP_RELAY_VERSION_MINOR: u32 = 1;
/// Library version, patch part.
pub const UDP_RELAY_VERSION_PATCH: u32 = 0;

/// Size of a v0.8 handshake without extensions: the smallest buffer `relay_handshake_write`
/// accepts.
pub const RELAY_HANDSHAKE_LEN: usize = 56;
/// Size of the largest handshake a client sends (one carrying a seat token): a buffer of this
/// many bytes always fits what `relay_handshake_poll` writes.
pub const RELAY_MAX_HANDSHAKE_LEN: usize = 76;
/// Largest UDP payload the relay forwards intact (and the receive buffer size that never
/// truncates).
pub const RELAY_MAX_DATAGRAM: usize = 65_507;

const _: () = assert!(
    RELAY_HANDSHAKE_LEN == crate::protocol::HANDSHAKE_LEN
        && RELAY_MAX_HANDSHAKE_LEN == crate::client::MAX_HANDSHAKE_LEN
        && RELAY_MAX_DATAGRAM == crate::protocol::MAX_DATAGRAM
);

/// A 128-bit channel GUID as two host-order 64-bit halves: the GUID's value is
/// `hi << 64 | lo`, sent on the wire as four big-endian u32 words. Two plain integers keep
/// the struct blittable in every binding.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RelayGuid {
    pub hi: u64,
    pub lo: u64,
}

impl From<Guid> for RelayGuid {
    fn from(g: Guid) -> RelayGuid {
        RelayGuid {
            hi: (g.0 >> 64) as u64,
            lo: g.0 as u64,
        }
    }
}

impl From<RelayGuid> for Guid {
    fn from(g: RelayGuid) -> Guid {
        Guid((u128::from(g.hi) << 64) | u128::from(g.lo))
    }
}

/// The library version as a static string such as "0.1.0". Never NULL; do not free.
#[unsafe(no_mangle)]
pub extern "C" fn relay_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The ABI version this library was built with; compare with `RELAY_ABI_VERSION` from the
/// header you compiled against.
#[unsafe(no_mangle)]
pub extern "C" fn relay_abi_version() -> u32 {
    RELAY_ABI_VERSION
}

/// Borrows a NUL-terminated UTF-8 string from C; `None` for NULL.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string valid for the call.
pub(crate) unsafe fn opt_str<'a>(ptr: *const c_char, what: &str) -> FfiResult<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller guarantees a NUL-terminated string that outlives this call.
    let c = unsafe { CStr::from_ptr(ptr) };
    c.to_str()
        .map(Some)
        .map_err(|_| FfiError::invalid(format!("{what} is not valid UTF-8")))
}

/// Borrows `len` bytes from C; a NULL pointer is allowed only with `len == 0`.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes valid for the call.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize, what: &str) -> FfiResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(FfiError::invalid(format!(
            "{what} is NULL but its length is {len}"
        )));
    }
    // SAFETY: non-NULL, and the caller guarantees `len` readable bytes for the call.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrows `len` writable bytes from C; NULL is an error unless `len == 0`.
///
/// # Safety
/// `ptr` is NULL or points to `len` writable bytes not aliased during the call.
pub(crate) unsafe fn bytes_mut<'a>(
    ptr: *mut u8,
    len: usize,
    what: &str,
) -> FfiResult<&'a mut [u8]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(FfiError::invalid(format!(
            "{what} is NULL but its length is {len}"
        )));
    }
    // SAFETY: non-NULL, and the caller guarantees `len` writable, unaliased bytes.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// Writes `value` through an output pointer already checked non-NULL.
///
/// # Safety
/// `out` is non-NULL, aligned and writable for a `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: guaranteed by the caller; `write` does not read or drop the old value.
    unsafe { out.write(value) }
}
