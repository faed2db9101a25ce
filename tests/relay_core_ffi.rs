//! The socket-free relay through its C ABI: a pair relayed without any socket, and every
//! misuse answered with a status.

use std::ptr;

use udp_relay::ffi::*;
use udp_relay::protocol::{Guid, write_handshake};

fn config() -> RelayConfig {
    let mut cfg = std::mem::MaybeUninit::<RelayConfig>::uninit();
    assert_eq!(relay_config_default(cfg.as_mut_ptr()), RelayStatus::Ok);
    // SAFETY: filled by relay_config_default.
    unsafe { cfg.assume_init() }
}

fn address(last: u8, port: u16) -> RelayAddress {
    let mut ip = [0u8; 16];
    ip[..4].copy_from_slice(&[192, 0, 2, last]);
    RelayAddress {
        family: 4,
        port,
        scope_id: 0,
        ip,
    }
}

fn handshake(guid: u128) -> [u8; 56] {
    let mut hs = [0u8; 56];
    write_handshake(&mut hs, Guid(guid), 0, &[], None).unwrap();
    hs
}

fn handle(core: *mut RelayCoreHandle, now: u64, src: &RelayAddress, d: &[u8]) -> RelayTransmit {
    let local = address(1, 6060);
    let mut out = std::mem::MaybeUninit::<RelayTransmit>::uninit();
    let status = relay_core_handle_datagram(
        core,
        now,
        src,
        &local,
        d.as_ptr(),
        d.len(),
        out.as_mut_ptr(),
    );
    assert_eq!(status, RelayStatus::Ok);
    // SAFETY: written on success.
    unsafe { out.assume_init() }
}

#[test]
fn a_pair_relayed_without_a_socket() {
    let mut core = ptr::null_mut();
    assert_eq!(relay_core_new(&config(), &mut core), RelayStatus::Ok);
    let (a, b) = (address(10, 4000), address(20, 5000));
    let hs = handshake(0xC0DE);
    let t = handle(core, 1, &a, &hs);
    assert_eq!(t.kind, RelayTransmitKind::None as u32, "A waits");
    let t = handle(core, 2, &b, &hs);
    assert_eq!(
        t.kind,
        RelayTransmitKind::Forward as u32,
        "B's handshake goes to A"
    );
    assert_eq!(
        (t.to.ip[..4].to_vec(), t.to.port),
        (vec![192, 0, 2, 10], 4000)
    );
    assert_eq!(
        (t.from.family, t.from.ip[3]),
        (4, 1),
        "from the address A sent to"
    );
    let t = handle(core, 3, &a, b"hello");
    assert_eq!(
        (t.kind, t.len, t.to.port),
        (RelayTransmitKind::Forward as u32, 5, 5000)
    );
    // The send failed: counted as a drop, not as a datagram out.
    assert_eq!(relay_core_report_send_failure(core, &t), RelayStatus::Ok);
    let mut stats = RelayStats::default();
    assert_eq!(
        relay_core_get_stats(core, &mut stats, std::mem::size_of::<RelayStats>()),
        RelayStatus::Ok
    );
    assert_eq!(
        (
            stats.datagrams_in,
            stats.datagrams_out,
            stats.datagrams_dropped,
            stats.datagrams_consumed
        ),
        (3, 1, 1, 1)
    );
    let mut event = std::mem::MaybeUninit::<RelayEvent>::uninit();
    assert_eq!(
        relay_core_next_event(core, event.as_mut_ptr(), std::mem::size_of::<RelayEvent>()),
        1
    );
    // The channel falls idle 30 s after its last datagram.
    let mut deadline = 0i64;
    assert_eq!(
        relay_core_next_timeout(core, &mut deadline),
        RelayStatus::Ok
    );
    assert!((30_001..=30_003).contains(&deadline), "{deadline}");
    assert_eq!(relay_core_handle_timeout(core, 29_000), 0);
    assert_eq!(relay_core_handle_timeout(core, 31_000), 1);
    assert_eq!(
        relay_core_next_timeout(core, &mut deadline),
        RelayStatus::Ok
    );
    assert_eq!(relay_core_drain(core), RelayStatus::Ok);
    assert_eq!(relay_core_free(core), RelayStatus::Ok);
}

#[test]
fn misuse_gets_a_status() {
    let mut core = ptr::null_mut();
    assert_eq!(
        relay_core_new(ptr::null(), &mut core),
        RelayStatus::NullArgument
    );
    assert_eq!(
        relay_core_new(&config(), ptr::null_mut()),
        RelayStatus::NullArgument
    );
    let mut bad = config();
    bad.struct_size = 8;
    assert_eq!(
        relay_core_new(&bad, &mut core),
        RelayStatus::VersionMismatch
    );
    let mut bad = config();
    bad.inactivity_timeout_ms = 0;
    assert_eq!(
        relay_core_new(&bad, &mut core),
        RelayStatus::InvalidArgument
    );
    assert!(core.is_null(), "output untouched on failure");

    assert_eq!(relay_core_new(&config(), &mut core), RelayStatus::Ok);
    let a = address(10, 4000);
    let mut out = std::mem::MaybeUninit::<RelayTransmit>::uninit();
    let d = [1u8; 4];
    let call = |core, src: *const RelayAddress, data: *const u8, len, out| {
        relay_core_handle_datagram(core, 0, src, ptr::null(), data, len, out)
    };
    assert_eq!(
        call(core, ptr::null(), d.as_ptr(), 4, out.as_mut_ptr()),
        RelayStatus::NullArgument
    );
    assert_eq!(
        call(core, &a, ptr::null(), 4, out.as_mut_ptr()),
        RelayStatus::NullArgument
    );
    assert_eq!(
        call(core, &a, d.as_ptr(), 4, ptr::null_mut()),
        RelayStatus::NullArgument
    );
    assert_eq!(
        call(core, &a, ptr::null(), 0, out.as_mut_ptr()),
        RelayStatus::Ok,
        "empty datagram"
    );
    let none = RelayAddress::default();
    assert_eq!(
        call(core, &none, d.as_ptr(), 4, out.as_mut_ptr()),
        RelayStatus::InvalidArgument
    );
    assert_eq!(
        relay_core_next_timeout(core, ptr::null_mut()),
        RelayStatus::NullArgument
    );
    assert_eq!(
        relay_core_report_send_failure(core, ptr::null()),
        RelayStatus::NullArgument
    );
    let mut stats = RelayStats::default();
    assert_eq!(
        relay_core_get_stats(core, &mut stats, 8),
        RelayStatus::InvalidArgument
    );
    assert_eq!(relay_core_free(core), RelayStatus::Ok);
    assert_eq!(relay_core_free(core), RelayStatus::InvalidHandle);
    assert_eq!(
        relay_core_handle_timeout(core, 0),
        RelayStatus::InvalidHandle as i32
    );
    assert_eq!(
        call(core, &a, d.as_ptr(), 4, out.as_mut_ptr()),
        RelayStatus::InvalidHandle
    );
    assert_eq!(relay_core_free(ptr::null_mut()), RelayStatus::Ok);
    // A relay handle is not a core handle.
    let relay_like = 0x5E1A_0000usize as *mut RelayCoreHandle;
    assert_eq!(relay_core_drain(relay_like), RelayStatus::InvalidHandle);
}
