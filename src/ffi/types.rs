//! Plain data shared by the relay and client halves of the ABI, and version queries.

use std::ffi::{CStr, c_char};

use super::error::{FfiError, FfiResult, RelayStatus};
use crate::protocol::Guid;

/// Version of the C ABI (structs, enums, function signatures). Bumped on any incompatible
/// change; bindings compare it with `relay_abi_version()` at load time.
pub const RELAY_ABI_VERSION: u32 = 5;
/// Library version, major part.
pub const UDP_RELAY_VERSION_MAJOR: u32 = 0;
/// Library version, minor part.
pub const UDP_RELAY_VERSION_MINOR: u32 = 1;
/// Library version, patch part.
pub const UDP_RELAY_VERSION_PATCH: u32 = 0;

/// Size of a v0.8 handshake without extensions: the smallest buffer `relay_handshake_write`
/// accepts.
pub const RELAY_HANDSHAKE_LEN: usize = 56;
/// Size of the largest handshake a client sends (one carrying a seat token and echoing the
/// relay's return-path cookie): a buffer of this many bytes always fits what
/// `relay_handshake_poll` writes. 76 before ABI version 4.
pub const RELAY_MAX_HANDSHAKE_LEN: usize = 92;
/// Largest UDP payload the relay forwards intact (and the receive buffer size that never
/// truncates).
pub const RELAY_MAX_DATAGRAM: usize = 65_507;
/// Size of `RELAY_V08_DEFAULT_KEY`.
pub const RELAY_V08_DEFAULT_KEY_LEN: usize = 32;
/// The key v0.8.2 relays and clients use when none is configured: the 32 ASCII bytes
/// `fL6I8F3egv6ApC15fkJO9U7xKeDD6Xur`, as an initializer
/// (`static const uint8_t key[RELAY_V08_DEFAULT_KEY_LEN] = RELAY_V08_DEFAULT_KEY;`) to pass as
/// `secret_key` with `secret_key_len = RELAY_V08_DEFAULT_KEY_LEN`. Public, so it authenticates
/// nothing: it only makes handshakes acceptable to a v0.8.2 relay run with its defaults. A
/// macro rather than an exported array, so it links the same against the static library and
/// every platform's shared library.
pub const RELAY_V08_DEFAULT_KEY: [u8; RELAY_V08_DEFAULT_KEY_LEN] = [
    b'f', b'L', b'6', b'I', b'8', b'F', b'3', b'e', b'g', b'v', b'6', b'A', b'p', b'C', b'1', b'5',
    b'f', b'k', b'J', b'O', b'9', b'U', b'7', b'x', b'K', b'e', b'D', b'D', b'6', b'X', b'u', b'r',
];

const _: () = assert!(
    RELAY_HANDSHAKE_LEN == crate::protocol::HANDSHAKE_LEN
        && RELAY_MAX_HANDSHAKE_LEN == crate::client::MAX_HANDSHAKE_LEN
        && RELAY_MAX_DATAGRAM == crate::protocol::MAX_DATAGRAM
        && same_bytes(&RELAY_V08_DEFAULT_KEY, crate::protocol::V08_DEFAULT_KEY)
);

/// Byte-wise equality usable in a `const` assertion.
const fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

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

/// Borrows `len` bytes from C; a NULL pointer is allowed only with `len == 0`, and is
/// `RELAY_STATUS_NULL_ARGUMENT` otherwise, as every NULL the header does not allow is.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes valid for the call.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize, what: &str) -> FfiResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(FfiError::new(
            RelayStatus::NullArgument,
            format!("{what} is NULL but its length is {len}"),
        ));
    }
    // SAFETY: non-NULL, and the caller guarantees `len` readable bytes for the call.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrows `len` writable bytes from C; NULL is `RELAY_STATUS_NULL_ARGUMENT` unless
/// `len == 0`.
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
        return Err(FfiError::new(
            RelayStatus::NullArgument,
            format!("{what} is NULL but its length is {len}"),
        ));
    }
    // SAFETY: non-NULL, and the caller guarantees `len` writable, unaliased bytes.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// Checks the `out_size` a caller passed with a growable output struct `what` (see
/// `relay_get_stats`): it must cover at least `min_size`, the struct's first growable version.
pub(crate) fn check_out_size(
    function: &str,
    what: &str,
    out_size: usize,
    min_size: usize,
) -> FfiResult<()> {
    if out_size < min_size {
        return Err(FfiError::invalid(format!(
            "{function}: out_size is {out_size} but {what} is at least {min_size} bytes \
             (pass sizeof({what}))"
        )));
    }
    Ok(())
}

/// Writes the first `min(out_size, size_of::<T>())` bytes of `value` to `out`: a caller built
/// against an older, shorter version of `T` gets the prefix it knows, and bytes past this
/// library's `T` are left untouched.
///
/// # Safety
/// `out` is non-NULL and points to `out_size` writable bytes not aliased during the call.
pub(crate) unsafe fn write_out_prefix<T: Copy>(out: *mut T, out_size: usize, value: &T) {
    let len = out_size.min(std::mem::size_of::<T>());
    // SAFETY: `value` is a readable `T` of at least `len` bytes, `out` has `out_size >= len`
    // writable bytes per the caller, and the two cannot overlap (`value` is our own copy).
    // A byte copy needs no alignment, so a caller's buffer of any alignment is fine.
    unsafe {
        std::ptr::copy_nonoverlapping((value as *const T).cast::<u8>(), out.cast::<u8>(), len)
    }
}

/// Writes `value` through an output pointer already checked non-NULL.
///
/// # Safety
/// `out` is non-NULL, aligned and writable for a `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: guaranteed by the caller; `write` does not read or drop the old value.
    unsafe { out.write(value) }
}

/// The OS handle of a socket as the C ABI passes it: a file descriptor on POSIX systems, a
/// `SOCKET` on Windows.
pub(crate) fn raw_socket(socket: &std::net::UdpSocket) -> u64 {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        socket.as_raw_fd() as u64
    }
    #[cfg(windows)]
    {
        use std::os::windows::io::AsRawSocket;
        socket.as_raw_socket()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Grown {
        old: u64,
        older: u64,
        appended: u64,
    }

    #[test]
    fn prefix_write_stops_at_the_callers_size() {
        let value = Grown {
            old: 1,
            older: 2,
            appended: 3,
        };
        // A caller built when the struct had two fields, with a guard word after them.
        let mut buf = [0xA5A5_A5A5_A5A5_A5A5u64; 4];
        // SAFETY: `buf` has 32 writable bytes, more than the 16 passed.
        unsafe { write_out_prefix(buf.as_mut_ptr().cast::<Grown>(), 16, &value) };
        assert_eq!(buf, [1, 2, 0xA5A5_A5A5_A5A5_A5A5, 0xA5A5_A5A5_A5A5_A5A5]);
        // A caller with a bigger struct: only this version's 24 bytes.
        // SAFETY: 32 writable bytes.
        unsafe { write_out_prefix(buf.as_mut_ptr().cast::<Grown>(), 32, &value) };
        assert_eq!(buf, [1, 2, 3, 0xA5A5_A5A5_A5A5_A5A5]);
    }

    #[test]
    fn out_size_below_the_first_version_is_refused() {
        assert!(check_out_size("f", "Grown", 16, 16).is_ok());
        assert!(check_out_size("f", "Grown", 64, 16).is_ok());
        let e = check_out_size("f", "Grown", 15, 16).unwrap_err();
        assert_eq!(e.status, super::super::error::RelayStatus::InvalidArgument);
        assert!(e.message.contains("sizeof(Grown)"), "{}", e.message);
    }
}
