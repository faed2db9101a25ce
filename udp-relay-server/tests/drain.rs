//! The bounded drain: two library clients keep their channel alive with keep-alives; SIGTERM
//! turns /ready 503 within 100 ms, refuses new channels, keeps relaying the open one and
//! ends the process with status 0 at --drain-timeout, with a final stats line. A second
//! SIGTERM or a SIGINT stops at once.
#![cfg(unix)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::{Service, not_paired};
use udp_relay::client::{Client, ClientConfig, ClientError, State};
use udp_relay::protocol::Guid;

/// Two clients of one channel, polled on a thread: they send keep-alives every 200 ms and
/// nothing else, unless asked to send one datagram each way.
struct KeptAlive {
    established: Arc<AtomicBool>,
    send_one: Arc<AtomicBool>,
    received: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl KeptAlive {
    fn start(relay: SocketAddr, guid: Guid) -> KeptAlive {
        let established = Arc::new(AtomicBool::new(false));
        let send_one = Arc::new(AtomicBool::new(false));
        let received = Arc::new(AtomicU32::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (up, send, got, halt) = (
            Arc::clone(&established),
            Arc::clone(&send_one),
            Arc::clone(&received),
            Arc::clone(&stop),
        );
        let thread = std::thread::spawn(move || {
            let config = || {
                let mut config = ClientConfig::new(relay, guid);
                config.timing.keepalive_interval = Some(Duration::from_millis(200));
                config
            };
            let mut clients = [
                Client::connect(config()).unwrap(),
                Client::connect(config()).unwrap(),
            ];
            let end = Instant::now() + Duration::from_secs(60);
            let mut buf = [0u8; 2048];
            while !halt.load(Ordering::Relaxed) && Instant::now() < end {
                let mut all_up = true;
                for client in &mut clients {
                    all_up &= client.poll(Duration::from_millis(5)).unwrap() == State::Established;
                    loop {
                        match client.recv(&mut buf) {
                            Ok(_) => {
                                got.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(ClientError::WouldBlock | ClientError::NotEstablished) => break,
                            Err(e) => panic!("client: {e:?}"),
                        }
                    }
                }
                up.store(all_up, Ordering::Relaxed);
                if all_up && send.swap(false, Ordering::Relaxed) {
                    for client in &mut clients {
                        client.send(b"still relaying").unwrap();
                    }
                }
            }
        });
        let pair = KeptAlive {
            established,
            send_one,
            received,
            stop,
            thread: Some(thread),
        };
        let end = Instant::now() + Duration::from_secs(10);
        while !pair.established.load(Ordering::Relaxed) {
            assert!(Instant::now() < end, "clients not established");
            std::thread::sleep(Duration::from_millis(10));
        }
        pair
    }

    /// Sends one datagram each way and waits for both to arrive.
    fn exchange(&self) {
        let before = self.received.load(Ordering::Relaxed);
        self.send_one.store(true, Ordering::Relaxed);
        let end = Instant::now() + Duration::from_secs(5);
        while self.received.load(Ordering::Relaxed) < before + 2 {
            assert!(Instant::now() < end, "datagrams not relayed");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for KeptAlive {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn field(stats: &[(String, u64)], name: &str) -> u64 {
    stats.iter().find(|(k, _)| k == name).unwrap().1
}

#[test]
fn drain_ends_at_the_timeout_while_clients_keep_alive() {
    // Without the keep-alives the channel would close after 1 s, well inside the drain.
    let mut relay = Service::start(&["--inactivity-timeout-ms", "1000", "--drain-timeout", "2s"]);
    let pair = KeptAlive::start(relay.addr, Guid(0xD1A1));
    let signalled = Instant::now();
    relay.signal("-TERM");
    loop {
        let (status, body) = relay.get("/ready");
        if status == 503 {
            assert_eq!(body, "draining\n");
            break;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(1),
            "/ready still 200"
        );
    }
    let to_503 = signalled.elapsed();
    assert!(
        to_503 < Duration::from_millis(100),
        "/ready took {to_503:?} to turn 503"
    );
    assert_eq!(relay.get("/live").0, 200);
    relay.wait_for_log("SIGTERM: draining", Duration::from_secs(1));
    // New channels are refused; the open one keeps relaying.
    not_paired(relay.addr, Guid(0xBEEF), None);
    pair.exchange();
    let status = relay.wait_exit(Duration::from_secs(6));
    let ran = signalled.elapsed();
    assert_eq!(status.code(), Some(0));
    assert!(
        (Duration::from_millis(1900)..Duration::from_millis(3500)).contains(&ran),
        "exited {ran:?} after SIGTERM with a 2 s drain timeout"
    );
    let log = relay.log();
    assert!(
        log.contains("stopping: drain timeout (2.0s) reached with 1 channels still open"),
        "{log}"
    );
    let stats = relay.last_stats();
    assert_eq!(field(&stats, "draining"), 1);
    assert_eq!(field(&stats, "channels_open"), 1);
    assert_eq!(field(&stats, "channels_expired_total"), 0);
    assert!(field(&stats, "handshakes_refused") >= 2, "{stats:?}");
}

#[test]
fn a_second_sigterm_or_a_sigint_stops_a_drain_at_once() {
    for (second, said) in [
        ("-TERM", "second SIGTERM: stopping now"),
        ("-INT", "SIGINT: stopping now"),
    ] {
        let mut relay = Service::start(&["--drain-timeout", "60s"]);
        let _pair = KeptAlive::start(relay.addr, Guid(0xD2A2));
        relay.signal("-TERM");
        relay.wait_for_log("SIGTERM: draining", Duration::from_secs(2));
        let signalled = Instant::now();
        relay.signal(second);
        let status = relay.wait_exit(Duration::from_secs(5));
        assert_eq!(status.code(), Some(0), "{second}");
        assert!(
            signalled.elapsed() < Duration::from_secs(1),
            "{second}: {:?}",
            signalled.elapsed()
        );
        let log = relay.log();
        assert!(log.contains(said), "{second}: {log}");
        assert_eq!(field(&relay.last_stats(), "channels_open"), 1, "{log}");
    }
}
