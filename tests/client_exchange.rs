//! Two clients that own their sockets join a channel through an in-process relay on loopback
//! and exchange 10 000 datagrams each way, none lost: through the Rust API and through the
//! `extern "C"` functions.

mod client_support;
use client_support::last_error;

use std::ffi::{CString, c_char};
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use client_support::{Arrivals, RelayThread, WINDOW, config, datagram, establish, exchange};
use udp_relay::client::{Client, ClientError, State};
use udp_relay::ffi::*;
use udp_relay::protocol::Guid;

const N: u32 = 10_000;

fn len_of(seq: u32) -> usize {
    8 + (seq as usize * 37) % 1200
}

#[test]
fn ten_thousand_datagrams_each_way_over_ipv4() {
    let relay = RelayThread::start("127.0.0.1:0", Duration::from_secs(30), Some(b"k3y"));
    let guid = Guid::random().unwrap();
    let mut cfg = config(relay.addr, guid);
    cfg.secret_key = Some(b"k3y".to_vec());
    let mut a = Client::connect(cfg.clone()).unwrap();
    assert_eq!(a.state(), State::Handshaking);
    let mut buf = [0u8; 64];
    assert!(matches!(a.recv(&mut buf), Err(ClientError::NotEstablished)));
    assert!(matches!(a.send(b"early"), Err(ClientError::NotEstablished)));
    let mut b = Client::connect(cfg).unwrap();
    establish(&mut a, &mut b, Duration::from_secs(5));

    // Only the relay's address is listened to.
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    stranger
        .send_to(b"not from the relay", a.local_addr())
        .unwrap();

    exchange(&mut a, &mut b, N, len_of);
    assert_eq!(a.stats().foreign_dropped, 1);
    for c in [&a, &b] {
        let s = c.stats();
        assert_eq!(
            (s.datagrams_sent, s.datagrams_received),
            (N as u64, N as u64)
        );
        assert_eq!((s.recv_errors, s.send_errors, s.discarded), (0, 0, 0));
    }
    drop((a, b));
    let stats = relay.stop();
    assert_eq!(stats.datagrams_dropped, 0, "{stats:?}");
    assert_eq!(stats.send_errors, 0, "{stats:?}");
    assert!(stats.datagrams_out >= 2 * N as u64, "{stats:?}");
    assert_eq!(stats.channels_allocated_total, 1);
}

#[test]
fn exchange_over_ipv6() {
    let relay = RelayThread::start("[::1]:0", Duration::from_secs(30), None);
    let cfg = config(relay.addr, Guid::random().unwrap());
    let mut a = Client::connect(cfg.clone()).unwrap();
    let mut b = Client::connect(cfg).unwrap();
    assert!(a.local_addr().is_ipv6());
    establish(&mut a, &mut b, Duration::from_secs(5));
    exchange(&mut a, &mut b, 2_000, len_of);
}

#[test]
fn host_names_resolve() {
    let relay = RelayThread::start("127.0.0.1:0", Duration::from_secs(30), None);
    let addr = udp_relay::client::resolve_relay(&format!("localhost:{}", relay.addr.port()));
    // "localhost" may resolve to ::1 first, where this relay does not listen; only the
    // resolution itself is checked here.
    assert_eq!(addr.unwrap().port(), relay.addr.port());
    assert!(udp_relay::client::resolve_relay("no-port").is_err());
}

/// A relay started and ticked through the C ABI.
struct CRelay {
    handle: usize,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CRelay {
    fn start() -> (CRelay, u16) {
        let mut cfg = std::mem::MaybeUninit::<RelayConfig>::uninit();
        assert_eq!(relay_config_default(cfg.as_mut_ptr()), RelayStatus::Ok);
        // SAFETY: filled by relay_config_default.
        let mut cfg = unsafe { cfg.assume_init() };
        let bind = CString::new("127.0.0.1").unwrap();
        cfg.bind_address = bind.as_ptr();
        cfg.port = 0;
        let mut handle = std::ptr::null_mut();
        assert_eq!(relay_start(&cfg, &mut handle), RelayStatus::Ok);
        let port = relay_local_port(handle);
        let (stop, flag) = (Arc::new(AtomicBool::new(false)), handle as usize);
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    assert!(relay_poll(flag as *mut RelayHandle, 5) >= 0);
                }
            })
        };
        (
            CRelay {
                handle: handle as usize,
                stop,
                thread: Some(thread),
            },
            port,
        )
    }
}

impl Drop for CRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        assert_eq!(relay_stop(self.handle as *mut RelayHandle), RelayStatus::Ok);
    }
}

fn c_connect(address: &str, guid: RelayGuid) -> *mut RelayClient {
    let mut cfg = client_support::c_config_default();
    let address = CString::new(address).unwrap();
    cfg.relay_address = address.as_ptr() as *const c_char;
    cfg.guid = guid;
    let mut client = std::ptr::null_mut();
    assert_eq!(
        relay_client_connect(&cfg, &mut client),
        RelayStatus::Ok,
        "{}",
        last_error()
    );
    client
}

#[test]
fn ten_thousand_datagrams_each_way_through_the_c_abi() {
    let (_relay, port) = CRelay::start();
    let address = format!("127.0.0.1:{port}");
    let mut guid = RelayGuid::default();
    assert_eq!(relay_guid_new(&mut guid), RelayStatus::Ok);
    let a = c_connect(&address, guid);
    let b = c_connect(&address, guid);
    assert_ne!(relay_client_local_port(a), 0);

    let start = Instant::now();
    let established = RelayClientState::Established as i32;
    while relay_client_state(a) != established || relay_client_state(b) != established {
        assert!(relay_client_poll(a, 5) >= 0, "{}", last_error());
        assert!(relay_client_poll(b, 5) >= 0, "{}", last_error());
        assert!(start.elapsed() < Duration::from_secs(5), "not established");
    }

    let clients = [a, b];
    let mut sent = [0u32; 2];
    let mut arrivals = [Arrivals::new(N as usize), Arrivals::new(N as usize)];
    let mut buf = vec![0u8; RELAY_MAX_DATAGRAM];
    let deadline = Instant::now() + Duration::from_secs(120);
    while arrivals.iter().any(|a| a.count < N as usize) {
        for side in 0..2 {
            let other = 1 - side;
            while sent[side] < N && sent[side] as usize - arrivals[other].count < WINDOW {
                let d = datagram(sent[side], len_of(sent[side]));
                let status = relay_client_send(clients[side], d.as_ptr(), d.len());
                assert_eq!(status, RelayStatus::Ok, "{}", last_error());
                sent[side] += 1;
            }
        }
        for side in 0..2 {
            assert!(relay_client_poll(clients[side], 1) >= 0, "{}", last_error());
            loop {
                let mut len = 0usize;
                match relay_client_recv(clients[side], buf.as_mut_ptr(), buf.len(), &mut len) {
                    RelayStatus::Ok => arrivals[side].record(&buf[..len]),
                    RelayStatus::WouldBlock => break,
                    other => panic!("recv: {other:?}: {}", last_error()),
                }
            }
        }
        assert!(Instant::now() < deadline, "stalled");
    }
    assert_eq!(relay_client_close(a), RelayStatus::Ok);
    assert_eq!(relay_client_close(b), RelayStatus::Ok);
}
