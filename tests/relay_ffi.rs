//! The relay driven through its C ABI (the same `extern "C"` functions a C host calls), with
//! real UDP peers on loopback.

mod client_support;
use client_support::last_error;
use std::ffi::{CStr, CString};
use std::net::{SocketAddr, UdpSocket};
use std::ptr;
use std::time::{Duration, Instant};

use udp_relay::ffi::*;
use udp_relay::protocol::{Guid, HandshakeKey, write_handshake};

struct TestRelay {
    handle: *mut RelayHandle,
    addr: SocketAddr,
}

impl TestRelay {
    fn start(bind: Option<&str>, key: &[u8], timeout_ms: u32) -> TestRelay {
        let mut cfg = std::mem::MaybeUninit::<RelayConfig>::uninit();
        assert_eq!(relay_config_default(cfg.as_mut_ptr()), RelayStatus::Ok);
        // SAFETY: relay_config_default returned OK, so it wrote the whole struct.
        let mut cfg = unsafe { cfg.assume_init() };
        let bind_c = bind.map(|b| CString::new(b).unwrap());
        cfg.bind_address = bind_c.as_ref().map_or(ptr::null(), |c| c.as_ptr());
        cfg.port = 0;
        cfg.secret_key = key.as_ptr();
        cfg.secret_key_len = key.len();
        cfg.inactivity_timeout_ms = timeout_ms;
        let mut handle = ptr::null_mut();
        let status = relay_start(&cfg, &mut handle);
        assert_eq!(status, RelayStatus::Ok, "{}", last_error());
        let port = relay_local_port(handle);
        assert_ne!(port, 0);
        let ip = match bind {
            Some(b) if b.contains(':') => "[::1]",
            _ => "127.0.0.1",
        };
        TestRelay {
            handle,
            addr: format!("{ip}:{port}").parse().unwrap(),
        }
    }

    /// Polls for `ms` milliseconds.
    fn pump(&self, ms: u64) {
        let end = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < end {
            assert!(relay_poll(self.handle, 5) >= 0, "{}", last_error());
        }
    }

    fn stats(&self) -> RelayStats {
        let mut s = RelayStats::default();
        assert_eq!(
            relay_get_stats(self.handle, &mut s, size_of::<RelayStats>()),
            RelayStatus::Ok
        );
        s
    }

    fn events(&self) -> Vec<RelayEvent> {
        let mut out = Vec::new();
        loop {
            let mut e = std::mem::MaybeUninit::<RelayEvent>::uninit();
            match relay_next_event(self.handle, e.as_mut_ptr(), size_of::<RelayEvent>()) {
                // SAFETY: 1 means the event was written.
                1 => out.push(unsafe { e.assume_init() }),
                0 => return out,
                s => panic!("relay_next_event: {s}"),
            }
        }
    }
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        relay_stop(self.handle);
    }
}

fn peer(ip: &str) -> UdpSocket {
    let s = UdpSocket::bind(format!("{ip}:0")).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s
}

fn handshake(guid: u128, key: Option<&[u8]>) -> Vec<u8> {
    let key = key.map(HandshakeKey::new);
    let mut buf = vec![0u8; 56];
    write_handshake(&mut buf, Guid(guid), 0, &[], key.as_ref()).unwrap();
    buf
}

fn recv(sock: &UdpSocket) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 65_536];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

fn nothing_pending(sock: &UdpSocket) -> bool {
    sock.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 16];
    let empty = sock.recv_from(&mut buf).is_err();
    sock.set_nonblocking(false).unwrap();
    empty
}

/// Pairs `a` and `b` on `guid` and checks both learn the channel is up.
fn pair(relay: &TestRelay, a: &UdpSocket, b: &UdpSocket, guid: u128, key: Option<&[u8]>) {
    let hs = handshake(guid, key);
    a.send_to(&hs, relay.addr).unwrap();
    relay.pump(20);
    b.send_to(&hs, relay.addr).unwrap();
    relay.pump(20);
    // B's establishing handshake is forwarded to A.
    assert_eq!(recv(a).as_deref(), Some(hs.as_slice()));
    // A's next handshake reaches B.
    a.send_to(&hs, relay.addr).unwrap();
    relay.pump(20);
    assert_eq!(recv(b).as_deref(), Some(hs.as_slice()));
}

#[test]
fn two_peers_exchange_datagrams_both_ways() {
    let relay = TestRelay::start(Some("127.0.0.1"), &[], 30_000);
    let (a, b) = (peer("127.0.0.1"), peer("127.0.0.1"));
    pair(&relay, &a, &b, 0x1234, None);
    for i in 0..100u32 {
        let msg = format!("a->b {i}");
        a.send_to(msg.as_bytes(), relay.addr).unwrap();
        let back = format!("b->a {i}");
        b.send_to(back.as_bytes(), relay.addr).unwrap();
        relay.pump(2);
        assert_eq!(recv(&b).unwrap(), msg.as_bytes());
        assert_eq!(recv(&a).unwrap(), back.as_bytes());
    }
    let s = relay.stats();
    assert_eq!(s.channels_open, 1);
    assert_eq!(s.channels_established, 1);
    assert_eq!(s.datagrams_out, 202);
    let mut c = RelayChannelCounters::default();
    let guid = RelayGuid { hi: 0, lo: 0x1234 };
    assert_eq!(
        relay_get_channel(relay.handle, &guid, &mut c),
        RelayStatus::Ok
    );
    assert_eq!((c.datagrams_a_to_b, c.datagrams_b_to_a), (101, 101));
    let kinds: Vec<u32> = relay.events().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            RelayEventKind::ChannelAllocated as u32,
            RelayEventKind::ChannelEstablished as u32
        ]
    );
}

#[test]
fn keyed_relay_rejects_wrong_hmac_and_accepts_right_one() {
    let key = b"a shared secret of any length";
    let relay = TestRelay::start(Some("127.0.0.1"), key, 30_000);
    let (a, b) = (peer("127.0.0.1"), peer("127.0.0.1"));
    // Unkeyed and wrongly keyed handshakes allocate nothing and get no answer.
    a.send_to(&handshake(7, None), relay.addr).unwrap();
    a.send_to(&handshake(7, Some(b"wrong key")), relay.addr)
        .unwrap();
    relay.pump(20);
    let s = relay.stats();
    assert_eq!(s.handshakes_rejected, 2);
    assert_eq!(s.channels_open, 0);
    assert!(nothing_pending(&a));
    pair(&relay, &a, &b, 7, Some(key));
    assert_eq!(relay.stats().channels_established, 1);
}

#[test]
fn third_address_cannot_join_or_hijack() {
    let relay = TestRelay::start(Some("127.0.0.1"), &[], 30_000);
    let (a, b, c) = (peer("127.0.0.1"), peer("127.0.0.1"), peer("127.0.0.1"));
    pair(&relay, &a, &b, 99, None);
    c.send_to(&handshake(99, None), relay.addr).unwrap();
    c.send_to(b"let me in", relay.addr).unwrap();
    relay.pump(20);
    assert!(nothing_pending(&a) && nothing_pending(&b) && nothing_pending(&c));
    assert_eq!(relay.stats().handshakes_refused, 1);
    // The channel still works for its members.
    a.send_to(b"still here", relay.addr).unwrap();
    relay.pump(10);
    assert_eq!(recv(&b).unwrap(), b"still here");
    assert!(nothing_pending(&c));
}

#[test]
fn unpaired_sender_gets_nothing_back() {
    let relay = TestRelay::start(Some("127.0.0.1"), &[], 30_000);
    let x = peer("127.0.0.1");
    let mut bad_magic = handshake(5, None);
    bad_magic[0] = 0xFF;
    let mut zero_guid = handshake(5, None);
    zero_guid[8..24].fill(0);
    for d in [
        &b""[..],
        b"hello",
        &handshake(5, None)[..55],
        &bad_magic,
        &zero_guid,
    ] {
        x.send_to(d, relay.addr).unwrap();
    }
    // A valid handshake only allocates a pending channel: still no answer.
    x.send_to(&handshake(5, None), relay.addr).unwrap();
    relay.pump(30);
    assert!(nothing_pending(&x));
    let s = relay.stats();
    assert_eq!(s.handshakes_rejected, 5);
    assert_eq!(s.datagrams_out, 0);
    assert_eq!(s.channels_open, 1);
}

#[test]
fn idle_channel_expires_and_its_guid_can_be_reused() {
    let relay = TestRelay::start(Some("127.0.0.1"), &[], 200);
    let (a, b) = (peer("127.0.0.1"), peer("127.0.0.1"));
    pair(&relay, &a, &b, 42, None);
    relay.events();
    relay.pump(400);
    let s = relay.stats();
    assert_eq!((s.channels_open, s.channels_expired_total), (0, 1));
    let closed = relay.events();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].kind, RelayEventKind::ChannelClosed as u32);
    assert_eq!(closed[0].close_reason, RelayCloseReason::Expired as u32);
    assert_eq!(closed[0].counters.datagrams_a_to_b, 1);
    // The old pairing is gone: A's data reaches nobody.
    a.send_to(b"anyone?", relay.addr).unwrap();
    relay.pump(20);
    assert!(nothing_pending(&b));
    // The GUID can be used again, even by other addresses.
    let (c, d) = (peer("127.0.0.1"), peer("127.0.0.1"));
    pair(&relay, &c, &d, 42, None);
}

#[test]
fn traffic_keeps_a_channel_open() {
    let relay = TestRelay::start(Some("127.0.0.1"), &[], 200);
    let (a, b) = (peer("127.0.0.1"), peer("127.0.0.1"));
    pair(&relay, &a, &b, 43, None);
    for _ in 0..10 {
        a.send_to(b"tick", relay.addr).unwrap();
        relay.pump(60);
        assert_eq!(recv(&b).unwrap(), b"tick");
    }
    assert_eq!(relay.stats().channels_open, 1);
}

#[test]
fn dual_stack_relay_pairs_ipv6_and_ipv4_peers() {
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("WARNING: no IPv6 loopback on this host; dual-stack test skipped");
        return;
    }
    // NULL bind address: dual-stack "::".
    let relay = TestRelay::start(None, &[], 30_000);
    let port = relay.addr.port();
    let v6 = peer("[::1]");
    let v4 = peer("127.0.0.1");
    let hs = handshake(0xD0A1, None);
    let v6_relay: SocketAddr = format!("[::1]:{port}").parse().unwrap();
    let v4_relay: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    v6.send_to(&hs, v6_relay).unwrap();
    relay.pump(20);
    v4.send_to(&hs, v4_relay).unwrap();
    relay.pump(20);
    assert_eq!(recv(&v6).unwrap(), hs);
    v4.send_to(b"from v4", v4_relay).unwrap();
    v6.send_to(b"from v6", v6_relay).unwrap();
    relay.pump(20);
    assert_eq!(recv(&v6).unwrap(), b"from v4");
    assert_eq!(recv(&v4).unwrap(), b"from v6");
    // The IPv4 peer is reported as plain IPv4, not v4-mapped.
    let events = relay.events();
    let est = events
        .iter()
        .find(|e| e.kind == RelayEventKind::ChannelEstablished as u32)
        .unwrap();
    assert_eq!((est.peer_a.family, est.peer_b.family), (6, 4));
    let mut text = [0 as std::ffi::c_char; 64];
    let n = relay_address_format(&est.peer_b, text.as_mut_ptr(), text.len());
    assert!(n > 0);
    // SAFETY: relay_address_format wrote a NUL-terminated string.
    let text = unsafe { CStr::from_ptr(text.as_ptr()) }.to_str().unwrap();
    assert_eq!(
        text,
        format!("127.0.0.1:{}", v4.local_addr().unwrap().port())
    );
}

#[test]
fn ipv6_only_bind_relays_between_ipv6_peers() {
    if UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("WARNING: no IPv6 loopback on this host; IPv6 test skipped");
        return;
    }
    let relay = TestRelay::start(Some("::1"), &[], 30_000);
    let (a, b) = (peer("[::1]"), peer("[::1]"));
    pair(&relay, &a, &b, 0x66, None);
    a.send_to(b"v6 data", relay.addr).unwrap();
    relay.pump(10);
    assert_eq!(recv(&b).unwrap(), b"v6 data");
}

#[test]
fn sixty_thousand_byte_datagram_arrives_intact() {
    let relay = TestRelay::start(Some("127.0.0.1"), &[], 30_000);
    let (a, b) = (peer("127.0.0.1"), peer("127.0.0.1"));
    pair(&relay, &a, &b, 0xB16, None);
    for len in [60_000usize, 65_507] {
        let big: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        a.send_to(&big, relay.addr).unwrap();
        relay.pump(20);
        assert_eq!(recv(&b).unwrap(), big, "{len} bytes");
    }
}

#[test]
fn peer_with_a_new_guid_moves_to_a_new_channel() {
    // Only a verified handshake moves a member, so the relay has a key.
    let key = b"key for moving peers";
    let relay = TestRelay::start(Some("127.0.0.1"), key, 30_000);
    let (a, b, c) = (peer("127.0.0.1"), peer("127.0.0.1"), peer("127.0.0.1"));
    pair(&relay, &a, &b, 1, Some(key));
    relay.events();
    // A restarts its session with GUID 2 and meets C there.
    pair(&relay, &a, &c, 2, Some(key));
    let events = relay.events();
    let closed = events
        .iter()
        .find(|e| e.kind == RelayEventKind::ChannelClosed as u32)
        .expect("old channel closed");
    assert_eq!(closed.close_reason, RelayCloseReason::PeerMoved as u32);
    assert_eq!(closed.guid, RelayGuid { hi: 0, lo: 1 });
    a.send_to(b"to c", relay.addr).unwrap();
    relay.pump(10);
    assert_eq!(recv(&c).unwrap(), b"to c");
    assert!(nothing_pending(&b));
    assert_eq!(relay.stats().channels_open, 1);
}

const CANARY: u64 = 0xA5A5_A5A5_A5A5_A5A5;

/// A canary-filled, 8-byte aligned buffer of `bytes` (a multiple of 8) plus 8 guard words.
fn canary_words(bytes: usize) -> Vec<u64> {
    vec![CANARY; bytes / 8 + 8]
}

/// Whether every byte of `words` from byte `from` on is still the canary.
fn untouched_from(words: &[u64], from: usize) -> bool {
    words
        .iter()
        .flat_map(|w| w.to_ne_bytes())
        .skip(from)
        .all(|b| b == 0xA5)
}

#[test]
fn sized_outputs_write_only_the_callers_size() {
    let relay = TestRelay::start(Some("127.0.0.1"), &[], 30_000);
    let (a, b) = (peer("127.0.0.1"), peer("127.0.0.1"));
    pair(&relay, &a, &b, 0x5150, None);
    let full = relay.stats();
    assert!(full.handshakes_accepted >= 2 && full.channels_established == 1);

    // The oldest caller the library accepts: exactly RELAY_STATS_MIN_SIZE bytes, as the
    // library's own struct has them; nothing after them.
    assert!(RELAY_STATS_MIN_SIZE <= size_of::<RelayStats>());
    let mut words = canary_words(size_of::<RelayStats>() + 64);
    let out = words.as_mut_ptr().cast::<RelayStats>();
    assert_eq!(
        relay_get_stats(relay.handle, out, RELAY_STATS_MIN_SIZE),
        RelayStatus::Ok
    );
    assert!(untouched_from(&words, RELAY_STATS_MIN_SIZE));
    assert_eq!(words[0], full.datagrams_in);
    let established = std::mem::offset_of!(RelayStats, channels_established) / 8;
    assert_eq!(words[established], 1);

    // A caller with a bigger (newer) struct: only this library's bytes are written.
    let mut words = canary_words(size_of::<RelayStats>() + 64);
    let out = words.as_mut_ptr().cast::<RelayStats>();
    assert_eq!(
        relay_get_stats(relay.handle, out, size_of::<RelayStats>() + 64),
        RelayStatus::Ok
    );
    assert!(untouched_from(&words, size_of::<RelayStats>()));
    assert!(!untouched_from(&words, size_of::<RelayStats>() - 8));

    // Too small: refused with a message, nothing written.
    let mut words = canary_words(size_of::<RelayStats>());
    let out = words.as_mut_ptr().cast::<RelayStats>();
    for size in [0, 8, RELAY_STATS_MIN_SIZE - 1] {
        assert_eq!(
            relay_get_stats(relay.handle, out, size),
            RelayStatus::InvalidArgument
        );
        let message = last_error();
        assert!(
            message.contains("out_size") && message.contains("RelayStats"),
            "{message}"
        );
        assert!(untouched_from(&words, 0));
    }

    // Events: a too-small size takes nothing from the queue; the minimum size gets the event.
    assert!(RELAY_EVENT_MIN_SIZE <= size_of::<RelayEvent>());
    let mut words = canary_words(size_of::<RelayEvent>() + 64);
    let out = words.as_mut_ptr().cast::<RelayEvent>();
    assert_eq!(
        relay_next_event(relay.handle, out, RELAY_EVENT_MIN_SIZE - 1),
        RelayStatus::InvalidArgument as i32
    );
    assert!(last_error().contains("RelayEvent"), "{}", last_error());
    assert!(untouched_from(&words, 0));
    assert_eq!(relay_next_event(relay.handle, out, RELAY_EVENT_MIN_SIZE), 1);
    assert!(untouched_from(&words, RELAY_EVENT_MIN_SIZE));
    // SAFETY: the first RELAY_EVENT_MIN_SIZE (= the whole struct here) bytes were written.
    let first = unsafe { out.read() };
    assert_eq!(first.kind, RelayEventKind::ChannelAllocated as u32);
    assert_eq!((first.guid.hi, first.guid.lo), (0, 0x5150));
    let mut words = canary_words(size_of::<RelayEvent>() + 64);
    let out = words.as_mut_ptr().cast::<RelayEvent>();
    assert_eq!(
        relay_next_event(relay.handle, out, size_of::<RelayEvent>() + 64),
        1
    );
    assert!(untouched_from(&words, size_of::<RelayEvent>()));
    // SAFETY: the whole struct was written.
    assert_eq!(
        unsafe { out.read() }.kind,
        RelayEventKind::ChannelEstablished as u32
    );
}

#[test]
fn drain_refuses_new_channels_and_reports_when_empty() {
    let relay = TestRelay::start(Some("127.0.0.1"), &[], 200);
    let (a, b, c) = (peer("127.0.0.1"), peer("127.0.0.1"), peer("127.0.0.1"));
    pair(&relay, &a, &b, 10, None);
    relay.events();
    assert_eq!(relay_drain(relay.handle), RelayStatus::Ok);
    c.send_to(&handshake(11, None), relay.addr).unwrap();
    relay.pump(20);
    assert_eq!(relay.stats().handshakes_refused, 1);
    // Existing channel still relays.
    a.send_to(b"last words", relay.addr).unwrap();
    relay.pump(10);
    assert_eq!(recv(&b).unwrap(), b"last words");
    relay.pump(400);
    let kinds: Vec<u32> = relay.events().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            RelayEventKind::ChannelClosed as u32,
            RelayEventKind::Drained as u32
        ]
    );
}

#[test]
fn start_reports_bad_config_as_status() {
    let mut cfg = std::mem::MaybeUninit::<RelayConfig>::uninit();
    assert_eq!(relay_config_default(cfg.as_mut_ptr()), RelayStatus::Ok);
    // SAFETY: written by relay_config_default.
    let good = unsafe { cfg.assume_init() };
    let mut out = ptr::null_mut();

    let bad_addr = CString::new("not an address").unwrap();
    let mut c = good;
    c.bind_address = bad_addr.as_ptr();
    assert_eq!(relay_start(&c, &mut out), RelayStatus::InvalidAddress);
    assert!(last_error().contains("not an address"), "{}", last_error());
    assert!(out.is_null(), "output untouched on failure");

    let mut c = good;
    c.struct_size = 8;
    assert_eq!(relay_start(&c, &mut out), RelayStatus::VersionMismatch);

    // Every range is the core's: a value outside it is refused with the field's name.
    let lo = CString::new("127.0.0.1").unwrap();
    type Case = (&'static str, fn(&mut RelayConfig));
    let out_of_range: [Case; 8] = [
        ("inactivity_timeout", |c| c.inactivity_timeout_ms = 0),
        ("inactivity_timeout", |c| c.inactivity_timeout_ms = u32::MAX),
        ("max_channels", |c| c.max_channels = u32::MAX),
        ("max_datagrams_per_poll", |c| {
            c.max_datagrams_per_poll = u32::MAX
        }),
        ("max_pending_events", |c| c.max_pending_events = u32::MAX),
        ("recv_buffer_bytes", |c| c.recv_buffer_bytes = u32::MAX),
        ("max_tracked_sources", |c| c.max_tracked_sources = 0),
        ("require_tokens", |c| c.require_tokens = 1),
    ];
    for (field, tune) in out_of_range {
        let mut c = good;
        c.bind_address = lo.as_ptr();
        c.port = 0;
        tune(&mut c);
        assert_eq!(
            relay_start(&c, &mut out),
            RelayStatus::InvalidArgument,
            "{field}"
        );
        let message = last_error();
        assert!(
            message.starts_with(&format!("relay_start: {field}")),
            "{field}: {message}"
        );
        assert!(out.is_null(), "output untouched on failure");
    }

    let mut c = good;
    c.secret_key_len = 16; // with a NULL pointer
    assert_eq!(relay_start(&c, &mut out), RelayStatus::NullArgument);

    // Port in use.
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut c = good;
    c.bind_address = lo.as_ptr();
    c.port = taken.local_addr().unwrap().port();
    assert_eq!(relay_start(&c, &mut out), RelayStatus::AddressInUse);
    assert!(last_error().contains("cannot bind"), "{}", last_error());
    assert!(out.is_null());
}

#[test]
fn every_entry_point_rejects_null_and_stopped_handles() {
    let relay = TestRelay::start(Some("127.0.0.1"), &[], 30_000);
    let live = relay.handle;
    let stopped = TestRelay::start(Some("127.0.0.1"), &[], 30_000);
    let dead = stopped.handle;
    drop(stopped);
    let forged = 0xDEAD_BEE0usize as *mut RelayHandle;
    let mut stats = RelayStats::default();
    let mut counters = RelayChannelCounters::default();
    let mut event = std::mem::MaybeUninit::<RelayEvent>::uninit();
    let guid = RelayGuid { hi: 0, lo: 1 };
    let mut cfg = std::mem::MaybeUninit::<RelayConfig>::uninit();

    assert_eq!(
        relay_config_default(ptr::null_mut()),
        RelayStatus::NullArgument
    );
    assert_eq!(
        relay_start(ptr::null(), ptr::null_mut()),
        RelayStatus::NullArgument
    );
    assert_eq!(relay_config_default(cfg.as_mut_ptr()), RelayStatus::Ok);
    assert_eq!(
        relay_start(cfg.as_ptr(), ptr::null_mut()),
        RelayStatus::NullArgument
    );
    for (h, expect) in [
        (ptr::null_mut(), RelayStatus::NullArgument),
        (dead, RelayStatus::InvalidHandle),
        (forged, RelayStatus::InvalidHandle),
    ] {
        assert_eq!(relay_poll(h, 0), expect as i32);
        assert!(!last_error().is_empty());
        assert_eq!(relay_local_port(h), 0);
        assert_eq!(
            relay_get_stats(h, &mut stats, size_of::<RelayStats>()),
            expect
        );
        assert_eq!(relay_get_channel(h, &guid, &mut counters), expect);
        assert_eq!(
            relay_next_event(h, event.as_mut_ptr(), size_of::<RelayEvent>()),
            expect as i32
        );
        assert_eq!(relay_drain(h), expect);
    }
    assert_eq!(relay_stop(ptr::null_mut()), RelayStatus::Ok);
    assert_eq!(relay_stop(dead), RelayStatus::InvalidHandle);
    assert!(
        last_error().contains("not a live handle"),
        "{}",
        last_error()
    );
    assert_eq!(relay_stop(forged), RelayStatus::InvalidHandle);
    // Live handle with NULL outputs.
    assert_eq!(
        relay_get_stats(live, ptr::null_mut(), size_of::<RelayStats>()),
        RelayStatus::NullArgument
    );
    assert_eq!(
        relay_next_event(live, ptr::null_mut(), size_of::<RelayEvent>()),
        RelayStatus::NullArgument as i32
    );
    assert_eq!(
        relay_get_channel(live, ptr::null(), &mut counters),
        RelayStatus::NullArgument
    );
    assert_eq!(
        relay_get_channel(live, &guid, ptr::null_mut()),
        RelayStatus::NullArgument
    );
    assert_eq!(
        relay_get_channel(live, &guid, &mut counters),
        RelayStatus::InvalidArgument,
        "no such channel"
    );
    let addr = RelayAddress::default();
    let mut buf = [0 as std::ffi::c_char; 4];
    assert_eq!(
        relay_address_format(ptr::null(), buf.as_mut_ptr(), 4),
        RelayStatus::NullArgument as i32
    );
    assert_eq!(
        relay_address_format(&addr, buf.as_mut_ptr(), 4),
        RelayStatus::InvalidArgument as i32
    );
    let v4 = RelayAddress {
        family: 4,
        port: 9,
        scope_id: 0,
        ip: [127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    };
    assert_eq!(
        relay_address_format(&v4, buf.as_mut_ptr(), 4),
        RelayStatus::BufferTooSmall as i32
    );
    assert_eq!(
        relay_set_log_callback(None, ptr::null_mut(), 99),
        RelayStatus::InvalidArgument
    );
    // SAFETY: static strings from the library.
    assert_eq!(
        unsafe { CStr::from_ptr(relay_version()) }.to_str().unwrap(),
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(relay_abi_version(), RELAY_ABI_VERSION);
    // SAFETY: static string.
    assert_eq!(
        unsafe { CStr::from_ptr(relay_status_str(-4)) }
            .to_str()
            .unwrap(),
        "address in use"
    );
    // The live relay still works after all that.
    assert!(relay_poll(live, 0) >= 0);
}
