//! Handing freed heap memory back to the OS after a mass expiry.
//!
//! glibc serves blocks below its mmap threshold from the heap, and the threshold rises (up
//! to 32 MiB) each time a larger mmapped block is freed. The relay's channel table frees
//! such blocks as it grows, so the tables it shrinks to after a mass expiry live in the
//! heap, and when they are freed in turn glibc keeps their pages resident unless asked.

/// Returns the allocator's free pages to the OS; costs a walk over its free lists.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn release_free_memory() {
    // SAFETY: malloc_trim takes no pointers and only touches glibc's own free lists, under
    // its own locks; it is safe to call at any time from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators return large freed blocks on their own.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn release_free_memory() {}
