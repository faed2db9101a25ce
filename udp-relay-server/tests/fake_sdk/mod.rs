//! A stand-in for the Agones SDK sidecar's HTTP gateway, on 127.0.0.1: it records every
//! request (method, path, body, when it arrived) and answers `200 {}`, unless told to refuse
//! connections for a while (it is not listening yet), to answer with an error status, or to
//! stall (read the request and never answer). On `/ready` it can probe a relay's UDP port
//! and record whether the relay answered, to tell that the relay was bound by then.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Call {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub body: String,
}

#[derive(Default)]
struct Behaviour {
    /// Status to answer instead of 200 (0: 200).
    fail_with: AtomicU16,
    /// Read requests and never answer.
    stall: AtomicBool,
    /// The relay port to probe on `/ready`.
    probe_on_ready: Mutex<Option<SocketAddr>>,
    /// Whether the relay answered that probe.
    ready_probe_answered: Mutex<Option<bool>>,
}

pub struct FakeSdk {
    pub port: u16,
    calls: Arc<Mutex<Vec<Call>>>,
    behaviour: Arc<Behaviour>,
}

impl FakeSdk {
    /// Listening now.
    pub fn start() -> FakeSdk {
        FakeSdk::start_after(Duration::ZERO)
    }

    /// Listening only after `delay` (connections are refused until then) on a port chosen
    /// now.
    pub fn start_after(delay: Duration) -> FakeSdk {
        let reserved = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = reserved.local_addr().unwrap().port();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let behaviour = Arc::new(Behaviour::default());
        let listener = if delay.is_zero() {
            Some(reserved)
        } else {
            drop(reserved);
            None
        };
        let (log, how) = (Arc::clone(&calls), Arc::clone(&behaviour));
        std::thread::spawn(move || {
            let listener = listener.unwrap_or_else(|| {
                std::thread::sleep(delay);
                TcpListener::bind(("127.0.0.1", port)).expect("the reserved port is still free")
            });
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (log, how) = (Arc::clone(&log), Arc::clone(&how));
                std::thread::spawn(move || serve(stream, &log, &how));
            }
        });
        FakeSdk {
            port,
            calls,
            behaviour,
        }
    }

    /// Answer `status` (0: 200) from now on.
    pub fn fail_with(&self, status: u16) {
        self.behaviour.fail_with.store(status, Ordering::SeqCst);
    }

    /// Read requests and never answer them (until told otherwise).
    pub fn stall(&self, stall: bool) {
        self.behaviour.stall.store(stall, Ordering::SeqCst);
    }

    /// On `/ready`, send a relay probe to `relay` and record whether it answers.
    pub fn probe_on_ready(&self, relay: SocketAddr) {
        *self.behaviour.probe_on_ready.lock().unwrap() = Some(relay);
    }

    /// Whether the relay answered the probe sent on `/ready` (`None`: no `/ready` yet).
    pub fn ready_probe_answered(&self) -> Option<bool> {
        *self.behaviour.ready_probe_answered.lock().unwrap()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// The calls to `method path`.
    pub fn calls_to(&self, method: &str, path: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == method && c.path == path)
            .collect()
    }

    /// Waits for a call to `method path` whose body contains `needle` (any body for ""),
    /// received at or after `since`; panics with every call after `limit`.
    pub fn wait_for(
        &self,
        method: &str,
        path: &str,
        needle: &str,
        since: Instant,
        limit: Duration,
    ) -> Call {
        let end = Instant::now() + limit;
        loop {
            if let Some(call) = self
                .calls_to(method, path)
                .into_iter()
                .find(|c| c.at >= since && c.body.contains(needle))
            {
                return call;
            }
            assert!(
                Instant::now() < end,
                "no {method} {path} with {needle:?} within {limit:?}: {:#?}",
                self.calls()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve(mut stream: TcpStream, log: &Mutex<Vec<Call>>, how: &Behaviour) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let Some(call) = read_call(&mut stream) else {
        return;
    };
    let path = call.path.clone();
    log.lock().unwrap().push(call);
    if how.stall.load(Ordering::SeqCst) {
        // Hold the connection, unanswered, as a sidecar that hangs would.
        let end = Instant::now() + Duration::from_secs(30);
        while how.stall.load(Ordering::SeqCst) && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
        return;
    }
    if path == "/ready" {
        let relay = *how.probe_on_ready.lock().unwrap();
        if let Some(relay) = relay {
            *how.ready_probe_answered.lock().unwrap() = Some(probe(relay));
        }
    }
    let status = match how.fail_with.load(Ordering::SeqCst) {
        0 => 200,
        status => status,
    };
    let body = if status == 200 {
        "{}"
    } else {
        "{\"error\":\"failing\"}"
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
}

/// Reads one request: head, then a body of `Content-Length` bytes.
fn read_call(stream: &mut TcpStream) -> Option<Call> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 1024];
    let head_end = loop {
        if let Some(i) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        bytes.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while bytes.len() < head_end + length {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        bytes.extend_from_slice(&buf[..n]);
    }
    let mut words = head.split(' ');
    Some(Call {
        at: Instant::now(),
        method: words.next()?.to_owned(),
        path: words.next()?.to_owned(),
        body: String::from_utf8_lossy(&bytes[head_end..head_end + length]).into_owned(),
    })
}

/// One relay probe to `relay`: whether it answered within a second.
fn probe(relay: SocketAddr) -> bool {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    socket
        .send_to(&udp_relay::probe::write_probe(stamp), relay)
        .unwrap();
    let mut buf = [0u8; 64];
    matches!(socket.recv_from(&mut buf),
        Ok((n, _)) if udp_relay::probe::read_reply(&buf[..n]).is_some_and(|(_, echo)| echo == stamp))
}
