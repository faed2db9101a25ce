//! Routes the `log` crate into the host engine's logger.

use std::ffi::{CString, c_char, c_void};

use parking_lot::RwLock;

use super::error::{FfiError, RelayStatus, guard};

/// Log levels, most severe first. `RELAY_LOG_LEVEL_OFF` disables logging.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayLogLevel {
    Off = 0,
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

/// Receives one log record. `message` is NUL-terminated UTF-8, owned by the library and valid
/// only during the call. Called on the thread that made the `relay_*` call which logged,
/// while that handle is in use: the callback must not call back into `relay_*` functions
/// other than `relay_last_error`/`relay_status_str`, and must not unwind (throw).
pub type RelayLogCallback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: u32, message: *const c_char)>;

struct Sink {
    callback: unsafe extern "C" fn(*mut c_void, u32, *const c_char),
    user_data: usize,
}

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

struct CallbackLogger;

static LOGGER: CallbackLogger = CallbackLogger;

impl log::Log for CallbackLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let sink = SINK.read();
        let Some(sink) = sink.as_ref() else { return };
        let text = format!("{}", record.args()).replace('\0', " ");
        let Ok(text) = CString::new(text) else { return };
        let level = match record.level() {
            log::Level::Error => 1,
            log::Level::Warn => 2,
            log::Level::Info => 3,
            log::Level::Debug => 4,
            log::Level::Trace => 5,
        };
        // SAFETY: the host registered this function pointer and promised it stays callable
        // with its user_data until replaced; `text` outlives the call.
        unsafe { (sink.callback)(sink.user_data as *mut c_void, level, text.as_ptr()) };
    }

    fn flush(&self) {}
}

fn level_filter(level: u32) -> Option<log::LevelFilter> {
    Some(match level {
        0 => log::LevelFilter::Off,
        1 => log::LevelFilter::Error,
        2 => log::LevelFilter::Warn,
        3 => log::LevelFilter::Info,
        4 => log::LevelFilter::Debug,
        5 => log::LevelFilter::Trace,
        _ => return None,
    })
}

/// Sends the library's log records at `max_level` (a `RelayLogLevel` value) and more severe
/// to `callback`, with `user_data` passed back untouched. A NULL `callback` turns logging off.
/// Process-wide: replaces any earlier callback. Fails with `RELAY_STATUS_IO` if the process
/// (a Rust program linking the library) installed a different `log` logger first.
///
/// Ownership: the library keeps `callback` and `user_data` until the next call; the caller
/// keeps whatever `user_data` points to alive until then (from C#, keep the delegate alive).
#[unsafe(no_mangle)]
pub extern "C" fn relay_set_log_callback(
    callback: RelayLogCallback,
    user_data: *mut c_void,
    max_level: u32,
) -> RelayStatus {
    guard(|| {
        let filter = level_filter(max_level).ok_or_else(|| {
            FfiError::invalid(format!(
                "relay_set_log_callback: max_level {max_level} is not a RelayLogLevel (0..5)"
            ))
        })?;
        let installed = log::set_logger(&LOGGER).is_ok()
            || std::ptr::addr_eq(log::logger() as *const dyn log::Log, &LOGGER as *const _);
        if !installed {
            return Err(FfiError::new(
                RelayStatus::Io,
                "relay_set_log_callback: the process already installed another `log` logger",
            ));
        }
        *SINK.write() = callback.map(|callback| Sink {
            callback,
            user_data: user_data as usize,
        });
        log::set_max_level(if callback.is_some() {
            filter
        } else {
            log::LevelFilter::Off
        });
        Ok(())
    })
}
