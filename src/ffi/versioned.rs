//! Reading a caller's growable config struct: one whose first field is `uint32_t struct_size`
//! and to which later ABI versions only append fields. A struct of this version is read
//! whole; one of the single older size still accepted is read as far as it goes, the fields
//! after it keeping that version's behaviour; any other size is a version mismatch.

use super::error::{FfiError, FfiResult, RelayStatus};

/// What [`read`] needs to know of one growable struct.
pub(crate) struct Versions<T> {
    /// The struct's C name, for messages.
    pub name: &'static str,
    /// The function that fills it with defaults, for messages.
    pub filled_by: &'static str,
    /// `sizeof` in this version.
    pub size: u32,
    /// `sizeof` in the older version still accepted, and that version's ABI number.
    pub older_size: u32,
    pub older_abi: u32,
    /// This version's defaults with the fields past the older struct set to what a caller of
    /// that version got (the older bytes are copied over it).
    pub older_defaults: fn() -> T,
}

/// Reads `*ptr` as described above; `function` names the caller in errors.
///
/// # Safety
/// `ptr` is NULL or points to a readable struct of some version of `T`, at least
/// `struct_size` bytes long, starting with `uint32_t struct_size`.
pub(crate) unsafe fn read<T: Copy>(
    ptr: *const T,
    function: &str,
    versions: &Versions<T>,
) -> FfiResult<T> {
    if ptr.is_null() {
        return Err(FfiError::null(function, "config"));
    }
    // SAFETY: non-NULL; every version starts with its `uint32_t struct_size` at offset 0 (the
    // first field of a `repr(C)` struct), and only it is read here, so a shorter struct is
    // not over-read.
    let size = unsafe { ptr.cast::<u32>().read() };
    if size == versions.size {
        // SAFETY: same pointer, and the size says it is a whole `T` of this version.
        return Ok(unsafe { *ptr });
    }
    if size == versions.older_size {
        let mut value = (versions.older_defaults)();
        // SAFETY: the caller's struct has `size` readable bytes (its struct_size), laid out
        // as this version's first `size` bytes; `value` is our own local, larger, and cannot
        // overlap it. A byte copy needs no alignment of the caller's struct.
        unsafe {
            std::ptr::copy_nonoverlapping(
                ptr.cast::<u8>(),
                std::ptr::addr_of_mut!(value).cast::<u8>(),
                size as usize,
            )
        };
        return Ok(value);
    }
    Err(FfiError::new(
        RelayStatus::VersionMismatch,
        format!(
            "{function}: config.struct_size is {size} but this library's {} is {} bytes ({} \
             from an ABI {} header is accepted too; fill it with {})",
            versions.name,
            versions.size,
            versions.older_size,
            versions.older_abi,
            versions.filled_by
        ),
    ))
}
