//! relay_set_log_callback routes the library's `log` records to a C callback.

use std::ffi::{CStr, c_char, c_void};
use std::ptr;
use std::sync::Mutex;

use udp_relay::ffi::*;

static SEEN: Mutex<Vec<(u32, String)>> = Mutex::new(Vec::new());

unsafe extern "C" fn on_log(user_data: *mut c_void, level: u32, message: *const c_char) {
    assert_eq!(user_data as usize, 0x1234);
    // SAFETY: the library passes a NUL-terminated string valid during the call.
    let text = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    SEEN.lock().unwrap().push((level, text));
}

#[test]
fn log_records_reach_the_callback_at_the_chosen_level() {
    let ud = 0x1234usize as *mut c_void;
    assert_eq!(
        relay_set_log_callback(Some(on_log), ud, RelayLogLevel::Info as u32),
        RelayStatus::Ok
    );
    let mut cfg = std::mem::MaybeUninit::<RelayConfig>::uninit();
    relay_config_default(cfg.as_mut_ptr());
    // SAFETY: filled by relay_config_default.
    let mut cfg = unsafe { cfg.assume_init() };
    cfg.port = 0;
    let lo = c"127.0.0.1";
    cfg.bind_address = lo.as_ptr();
    let mut relay = ptr::null_mut();
    assert_eq!(relay_start(&cfg, &mut relay), RelayStatus::Ok);
    assert_eq!(relay_drain(relay), RelayStatus::Ok);
    relay_stop(relay);
    {
        let seen = SEEN.lock().unwrap();
        assert!(
            seen.iter()
                .any(|(l, m)| *l == 3 && m.contains("relay bound to 127.0.0.1:")),
            "{seen:?}"
        );
        assert!(seen.iter().any(|(_, m)| m.contains("draining")), "{seen:?}");
        assert!(
            seen.iter().all(|(l, _)| *l <= 3),
            "nothing below Info: {seen:?}"
        );
    }
    // NULL turns logging off.
    assert_eq!(
        relay_set_log_callback(None, ptr::null_mut(), 0),
        RelayStatus::Ok
    );
    let before = SEEN.lock().unwrap().len();
    assert_eq!(relay_start(&cfg, &mut relay), RelayStatus::Ok);
    relay_stop(relay);
    assert_eq!(SEEN.lock().unwrap().len(), before);
}
