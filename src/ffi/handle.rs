//! Opaque handles. A handle given to C is a registry key, never a pointer to Rust memory,
//! so a stopped, double-stopped or forged handle is detected and reported instead of being
//! dereferenced. Keys are never reused.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

use super::error::{FfiError, FfiResult, RelayStatus};

/// Objects of type `T` handed out to C as `*mut H`.
pub(crate) struct Registry<T, H> {
    next: AtomicUsize,
    live: Mutex<Option<HashMap<usize, Arc<Mutex<T>>>>>,
    what: &'static str,
    _handle: PhantomData<fn() -> H>,
}

impl<T, H> Registry<T, H> {
    /// `first` spaces the key ranges of different registries apart, so a relay handle passed
    /// where a client handle is expected is reported as invalid.
    pub const fn new(what: &'static str, first: usize) -> Self {
        Registry {
            next: AtomicUsize::new(first),
            live: Mutex::new(None),
            what,
            _handle: PhantomData,
        }
    }

    pub fn insert(&self, value: T) -> *mut H {
        // Step by 16 so keys look like aligned pointers and are never zero.
        let key = self.next.fetch_add(16, Ordering::Relaxed);
        self.live
            .lock()
            .get_or_insert_with(HashMap::new)
            .insert(key, Arc::new(Mutex::new(value)));
        key as *mut H
    }

    pub fn get(&self, handle: *const H, function: &str) -> FfiResult<Arc<Mutex<T>>> {
        if handle.is_null() {
            return Err(FfiError::null(function, self.what));
        }
        self.live
            .lock()
            .as_ref()
            .and_then(|m| m.get(&(handle as usize)).cloned())
            .ok_or_else(|| self.invalid(function))
    }

    pub fn remove(&self, handle: *const H, function: &str) -> FfiResult<Arc<Mutex<T>>> {
        self.live
            .lock()
            .as_mut()
            .and_then(|m| m.remove(&(handle as usize)))
            .ok_or_else(|| self.invalid(function))
    }

    fn invalid(&self, function: &str) -> FfiError {
        FfiError::new(
            RelayStatus::InvalidHandle,
            format!(
                "{function}: `{}` is not a live handle (already stopped/closed, or never issued)",
                self.what
            ),
        )
    }
}
