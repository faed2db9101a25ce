//! Shared by the tests of the relay and its clients in Rust: an in-process relay ticked on its
//! own thread, helpers to bring two clients to an established channel, the wall clock as
//! token expiries count it, and the C ABI's last error message.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use udp_relay::client::{Client, ClientConfig, ClientError, State};
use udp_relay::protocol::Guid;
use udp_relay::relay::{self, Relay, Stats};

/// A relay on a loopback port, polled on a thread until dropped or [`RelayThread::stop`].
pub struct RelayThread {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    drain: Arc<AtomicBool>,
    /// The relay's counters as of its last poll.
    live: Arc<Mutex<Stats>>,
    thread: Option<JoinHandle<Stats>>,
}

impl RelayThread {
    pub fn start(bind: &str, inactivity_timeout: Duration, key: Option<&[u8]>) -> RelayThread {
        RelayThread::start_with(relay::Config {
            bind: bind.parse().unwrap(),
            inactivity_timeout,
            secret_key: key.map(<[u8]>::to_vec),
            ..relay::Config::default()
        })
    }

    /// A relay on 127.0.0.1 with `secret` that admits only seat-token handshakes.
    pub fn requiring_tokens(secret: &[u8], inactivity_timeout: Duration) -> RelayThread {
        RelayThread::start_with(relay::Config {
            bind: "127.0.0.1:0".parse().unwrap(),
            inactivity_timeout,
            secret_key: Some(secret.to_vec()),
            require_tokens: true,
            ..relay::Config::default()
        })
    }

    pub fn start_with(config: relay::Config) -> RelayThread {
        let mut relay = Relay::bind(config).expect("bind relay");
        let addr = relay.local_addr();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let drain = Arc::new(AtomicBool::new(false));
        let drain_asked = drain.clone();
        let live = Arc::new(Mutex::new(relay.stats()));
        let published = live.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                if drain_asked.load(Ordering::Relaxed) && !relay.is_draining() {
                    relay.drain();
                }
                relay.poll(Duration::from_millis(5)).expect("relay poll");
                *published.lock().unwrap() = relay.stats();
            }
            relay.stats()
        });
        RelayThread {
            addr,
            stop,
            drain,
            live,
            thread: Some(thread),
        }
    }

    /// The relay's counters as of its last poll (at most a few ms old).
    pub fn stats(&self) -> Stats {
        *self.live.lock().unwrap()
    }

    /// Waits until the counters satisfy `done` and returns them; panics after `limit`.
    pub fn wait_for_stats(
        &self,
        what: &str,
        limit: Duration,
        done: impl Fn(&Stats) -> bool,
    ) -> Stats {
        let start = Instant::now();
        loop {
            let stats = self.stats();
            if done(&stats) {
                return stats;
            }
            assert!(
                start.elapsed() < limit,
                "{what} not seen within {limit:?}: {stats:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Makes the relay drain (refuse new channels, keep relaying open ones) at its next poll.
    pub fn drain(&self) {
        self.drain.store(true, Ordering::Relaxed);
    }

    /// Stops the relay and returns its counters.
    pub fn stop(mut self) -> Stats {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().expect("relay thread")
    }
}

impl Drop for RelayThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn config(relay: SocketAddr, guid: Guid) -> ClientConfig {
    ClientConfig::new(relay, guid)
}

/// Seconds since the Unix epoch by the wall clock, as token expiries count them.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Polls both clients until both are established; panics after `limit`.
pub fn establish(a: &mut Client, b: &mut Client, limit: Duration) {
    let start = Instant::now();
    loop {
        let sa = a.poll(Duration::from_millis(5)).unwrap();
        let sb = b.poll(Duration::from_millis(5)).unwrap();
        if sa == State::Established && sb == State::Established {
            return;
        }
        assert!(
            start.elapsed() < limit,
            "not established after {limit:?}: a {sa:?}, b {sb:?}"
        );
    }
}

/// A datagram carrying `seq` and a recognisable body.
pub fn datagram(seq: u32, len: usize) -> Vec<u8> {
    let mut d = vec![0u8; len.max(4)];
    d[..4].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in d[4..].iter_mut().enumerate() {
        *b = (seq as usize + i) as u8;
    }
    d
}

/// The sequence number of a datagram made by [`datagram`], after checking its body.
pub fn check(d: &[u8]) -> u32 {
    let seq = u32::from_be_bytes(d[..4].try_into().unwrap());
    for (i, b) in d[4..].iter().enumerate() {
        assert_eq!(*b, (seq as usize + i) as u8, "body of datagram {seq}");
    }
    seq
}

/// Records which sequence numbers arrived, refusing duplicates.
pub struct Arrivals {
    seen: Vec<bool>,
    pub count: usize,
}

impl Arrivals {
    pub fn new(n: usize) -> Arrivals {
        Arrivals {
            seen: vec![false; n],
            count: 0,
        }
    }

    pub fn record(&mut self, d: &[u8]) {
        let seq = check(d) as usize;
        assert!(seq < self.seen.len(), "unexpected sequence number {seq}");
        assert!(!self.seen[seq], "datagram {seq} delivered twice");
        self.seen[seq] = true;
        self.count += 1;
    }
}

/// Datagrams in flight per direction in [`exchange`]: far below what the socket buffers
/// hold, so any loss would be a bug, not an overflow.
pub const WINDOW: usize = 64;

/// Sends `n` datagrams each way between two established clients (datagram `seq` is
/// `len_of(seq)` bytes), paced by [`WINDOW`], and checks every one arrives exactly once with
/// its body intact.
pub fn exchange(a: &mut Client, b: &mut Client, n: u32, len_of: fn(u32) -> usize) {
    let (mut sent_a, mut sent_b) = (0u32, 0u32);
    let (mut at_a, mut at_b) = (Arrivals::new(n as usize), Arrivals::new(n as usize));
    let mut buf = vec![0u8; 65_536];
    let deadline = Instant::now() + Duration::from_secs(120);
    while at_a.count < n as usize || at_b.count < n as usize {
        while sent_a < n && sent_a as usize - at_b.count < WINDOW {
            a.send(&datagram(sent_a, len_of(sent_a))).unwrap();
            sent_a += 1;
        }
        while sent_b < n && sent_b as usize - at_a.count < WINDOW {
            b.send(&datagram(sent_b, len_of(sent_b))).unwrap();
            sent_b += 1;
        }
        for (client, arrivals) in [(&mut *a, &mut at_a), (&mut *b, &mut at_b)] {
            client.poll(Duration::from_millis(1)).unwrap();
            loop {
                match client.recv(&mut buf) {
                    Ok(len) => arrivals.record(&buf[..len]),
                    Err(ClientError::WouldBlock) => break,
                    Err(e) => panic!("recv: {e}"),
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "stalled: a got {}, b got {}",
            at_a.count,
            at_b.count
        );
    }
}

/// Keeps two established clients quiet (polling, no game traffic) for `quiet`, checking no
/// handshake reaches the game, then sends "ping" from `a` and "pong" from `b`. Returns
/// whether each arrived within `within`: (a got pong, b got ping).
pub fn quiet_then_ping(
    a: &mut Client,
    b: &mut Client,
    quiet: Duration,
    within: Duration,
) -> (bool, bool) {
    let quiet_until = Instant::now() + quiet;
    while Instant::now() < quiet_until {
        a.poll(Duration::from_millis(10)).unwrap();
        b.poll(Duration::from_millis(10)).unwrap();
        assert_eq!(a.queued() + b.queued(), 0, "a handshake reached the game");
    }
    a.send(b"ping").unwrap();
    b.send(b"pong").unwrap();
    let mut buf = [0u8; 16];
    let (mut a_got, mut b_got) = (false, false);
    let until = Instant::now() + within;
    while Instant::now() < until && !(a_got && b_got) {
        a.poll(Duration::from_millis(10)).unwrap();
        b.poll(Duration::from_millis(10)).unwrap();
        if let Ok(n) = a.recv(&mut buf) {
            assert_eq!(&buf[..n], b"pong");
            a_got = true;
        }
        if let Ok(n) = b.recv(&mut buf) {
            assert_eq!(&buf[..n], b"ping");
            b_got = true;
        }
    }
    (a_got, b_got)
}

/// A C client config filled by `relay_client_config_default`, as a C caller starts.
pub fn c_config_default() -> udp_relay::ffi::RelayClientConfig {
    let mut cfg = std::mem::MaybeUninit::uninit();
    assert_eq!(
        udp_relay::ffi::relay_client_config_default(cfg.as_mut_ptr()),
        udp_relay::ffi::RelayStatus::Ok
    );
    // SAFETY: filled by relay_client_config_default.
    unsafe { cfg.assume_init() }
}

/// A seat token minted through the C API, as a matchmaker holding the relay's secret does.
pub fn c_mint_token(
    secret: &[u8],
    guid: &udp_relay::ffi::RelayGuid,
    role: u32,
    expiry_unix_secs: u64,
) -> [u8; udp_relay::ffi::RELAY_TOKEN_LEN] {
    let mut token = [0u8; udp_relay::ffi::RELAY_TOKEN_LEN];
    let n = udp_relay::ffi::relay_token_mint(
        secret.as_ptr(),
        secret.len(),
        guid,
        role,
        expiry_unix_secs,
        token.as_mut_ptr(),
        token.len(),
    );
    assert_eq!(n, udp_relay::ffi::RELAY_TOKEN_LEN as i32);
    token
}

/// The calling thread's last C ABI error message.
pub fn last_error() -> String {
    // SAFETY: relay_last_error never returns NULL and the string lives until the next call.
    unsafe { std::ffi::CStr::from_ptr(udp_relay::ffi::relay_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// Asserts a C ABI status and that a message naming the function was recorded.
pub fn fails(status: impl Into<i32>, expected: udp_relay::ffi::RelayStatus, function: &str) {
    assert_eq!(
        status.into(),
        expected as i32,
        "{function}: {}",
        last_error()
    );
    let message = last_error();
    assert!(
        message.contains(function),
        "{function}: message {message:?}"
    );
}

/// A `RelayStatus` where [`fails`] takes the `i32` most calls return.
pub struct S(pub udp_relay::ffi::RelayStatus);

impl From<S> for i32 {
    fn from(s: S) -> i32 {
        s.0 as i32
    }
}

/// A fresh random GUID from the C ABI.
pub fn c_guid() -> udp_relay::ffi::RelayGuid {
    let mut g = udp_relay::ffi::RelayGuid::default();
    assert_eq!(
        udp_relay::ffi::relay_guid_new(&mut g),
        udp_relay::ffi::RelayStatus::Ok
    );
    assert_ne!(g, udp_relay::ffi::RelayGuid::default());
    g
}

/// The C ABI's default relay config, bound to an ephemeral port on 127.0.0.1.
pub fn c_relay_config_on_loopback() -> udp_relay::ffi::RelayConfig {
    let mut cfg = std::mem::MaybeUninit::<udp_relay::ffi::RelayConfig>::uninit();
    assert_eq!(
        udp_relay::ffi::relay_config_default(cfg.as_mut_ptr()),
        udp_relay::ffi::RelayStatus::Ok
    );
    // SAFETY: relay_config_default returned OK, so it wrote the whole struct.
    let mut cfg = unsafe { cfg.assume_init() };
    cfg.bind_address = c"127.0.0.1".as_ptr();
    cfg.port = 0;
    cfg
}

/// A path with extra latency in front of a relay, as a far-away region would have: every
/// datagram to [`DelayProxy::addr`] reaches the relay `delay` later, and the relay's answers
/// come straight back, from the proxy's address. One prober at a time. Runs until dropped.
pub struct DelayProxy {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl DelayProxy {
    pub fn new(relay: SocketAddr, delay: Duration) -> DelayProxy {
        let front = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let back = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        front.set_nonblocking(true).unwrap();
        back.set_nonblocking(true).unwrap();
        let addr = front.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut prober = None;
            let mut held: std::collections::VecDeque<(Instant, Vec<u8>)> = Default::default();
            let mut buf = [0u8; 2048];
            while !flag.load(Ordering::Relaxed) {
                while let Ok((n, from)) = front.recv_from(&mut buf) {
                    prober = Some(from);
                    held.push_back((Instant::now() + delay, buf[..n].to_vec()));
                }
                while held.front().is_some_and(|(due, _)| Instant::now() >= *due) {
                    let (_, datagram) = held.pop_front().unwrap();
                    let _ = back.send_to(&datagram, relay);
                }
                while let Ok((n, _)) = back.recv_from(&mut buf) {
                    if let Some(to) = prober {
                        let _ = front.send_to(&buf[..n], to);
                    }
                }
                std::thread::sleep(Duration::from_micros(500));
            }
        });
        DelayProxy {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
