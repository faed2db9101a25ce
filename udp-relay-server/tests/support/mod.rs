//! Shared by the tests of the `udp-relay` binary: the service started on loopback ports,
//! its log read as it is written, signals, the admin endpoint over plain HTTP, and v0.8
//! peers made of bare sockets.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use udp_relay::protocol::{Guid, HandshakeKey, write_handshake};

/// The binary under test, built by cargo for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_udp-relay");

/// `udp-relay` with `args` and no key in the environment, not started.
pub fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("UDP_RELAY_SECRET_KEY")
        .env_remove("RUST_LOG");
    cmd
}

/// A running relay on 127.0.0.1, killed on drop if still running so a failed assertion
/// never leaves it behind.
pub struct Service {
    pub child: Child,
    /// The first worker's UDP address.
    pub addr: SocketAddr,
    /// Every worker's UDP address, in worker order.
    pub addrs: Vec<SocketAddr>,
    /// The admin endpoint, when started with `--admin-addr`.
    pub admin: Option<SocketAddr>,
    log: Arc<Mutex<String>>,
    /// Set once stderr is closed and every line of it is in `log`.
    log_complete: Arc<AtomicBool>,
}

impl Service {
    /// Starts the relay on an ephemeral port with the admin endpoint on another, plus `extra`
    /// arguments, and waits for both addresses.
    pub fn start(extra: &[&str]) -> Service {
        Service::start_with(extra, |_| {})
    }

    /// As [`Service::start`], with `setup` applied to the command first (environment).
    pub fn start_with(extra: &[&str], setup: impl FnOnce(&mut Command)) -> Service {
        let mut args = vec![
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--admin-addr",
            "127.0.0.1:0",
        ];
        args.extend(extra);
        Service::spawn(command(&args), setup)
    }

    /// Starts the relay with `args` alone, which must make it print its addresses.
    pub fn start_with_exactly(args: &[&str]) -> Service {
        Service::spawn(command(args), |_| {})
    }

    /// Starts `cmd` (from [`command`]), which must make the relay print its addresses.
    pub fn spawn(mut cmd: Command, setup: impl FnOnce(&mut Command)) -> Service {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        setup(&mut cmd);
        let mut child = cmd.spawn().expect("start udp-relay");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let log_complete = Arc::new(AtomicBool::new(false));
        let (sink, done) = (Arc::clone(&log), Arc::clone(&log_complete));
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
            done.store(true, Ordering::SeqCst);
        });
        // `listening on ADDR`, one line per worker, then `admin listening on ADDR`.
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut addrs = Vec::new();
        let admin = loop {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            let line = line.trim();
            if let Some(addr) = line.strip_prefix("listening on ") {
                addrs.push(addr.parse().unwrap());
            } else if let Some(admin) = line.strip_prefix("admin listening on ") {
                break Some(admin.parse().unwrap());
            } else if addrs.is_empty() {
                panic!(
                    "unexpected first line {line:?}; log:\n{}",
                    log.lock().unwrap()
                );
            } else {
                break None;
            }
        };
        Service {
            child,
            addr: addrs[0],
            addrs,
            admin,
            log,
            log_complete,
        }
    }

    /// Everything logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle`; panics with the log after `limit`.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> String {
        let end = Instant::now() + limit;
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < end,
                "{needle:?} not logged within {limit:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, sig: &str) {
        signal(&self.child, sig);
    }

    /// Waits for the process to exit and for its last log line; kills it and panics after
    /// `within`.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let status = wait_exit(&mut self.child, within);
        let end = Instant::now() + Duration::from_secs(5);
        while !self.log_complete.load(Ordering::SeqCst) {
            assert!(Instant::now() < end, "stderr still open after exit");
            std::thread::sleep(Duration::from_millis(5));
        }
        status
    }

    /// `GET path` on the admin endpoint: status and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        let (status, _, body) = http(
            self.admin.expect("admin endpoint"),
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"),
        );
        (status, body)
    }

    /// `POST path` on the admin endpoint: status and body.
    pub fn post(&self, path: &str) -> (u16, String) {
        let (status, _, body) = http(
            self.admin.expect("admin endpoint"),
            &format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
        );
        (status, body)
    }

    /// Waits until `GET path` answers `status`; panics with the last answer after `limit`.
    pub fn wait_for_status(&self, path: &str, status: u16, limit: Duration) -> String {
        let end = Instant::now() + limit;
        loop {
            let (got, body) = self.get(path);
            if got == status {
                return body;
            }
            assert!(
                Instant::now() < end,
                "{path} still {got} {body:?} after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The value of the `/metrics` sample `series` (name and labels as served, e.g.
    /// `udp_relay_worker_restarts_total{worker="1"}`), if served.
    pub fn metric(&self, series: &str) -> Option<f64> {
        let (status, text) = self.get("/metrics");
        assert_eq!(status, 200);
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .map(|v| v.parse().unwrap())
    }

    /// The last `stats` line's fields, from the text log.
    pub fn last_stats(&self) -> Vec<(String, u64)> {
        let log = self.log();
        let line = log
            .lines()
            .rev()
            .find(|l| l.contains("udp_relay_server::stats: stats "))
            .unwrap_or_else(|| panic!("no stats line in:\n{log}"));
        stats_fields(line)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The last `stats` line of worker `worker` (a service of several workers).
pub fn last_stats_of(log: &str, worker: usize) -> Vec<(String, u64)> {
    let lead = format!("udp_relay_server::stats: stats worker={worker} ");
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains(&lead))
        .unwrap_or_else(|| panic!("no stats line of worker {worker} in:\n{log}"));
    stats_fields(line)
}

/// The `key=value` fields after `stats` in a text stats line.
pub fn stats_fields(line: &str) -> Vec<(String, u64)> {
    let (_, fields) = line.split_once(": stats ").expect("a stats line");
    fields
        .split(' ')
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("{kv:?} in {line}"));
            (
                k.to_owned(),
                v.parse().unwrap_or_else(|_| panic!("{kv:?} in {line}")),
            )
        })
        .collect()
}

pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

pub fn wait_exit(child: &mut Child, within: Duration) -> ExitStatus {
    let end = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > end {
            child.kill().unwrap();
            panic!("udp-relay did not exit within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `request` as is and reads the whole answer: status, head and body. A status of 0
/// means the connection closed without an answer.
pub fn http(addr: SocketAddr, request: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8(answer).unwrap();
    let Some((head, body)) = answer.split_once("\r\n\r\n") else {
        return (0, answer, String::new());
    };
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    (status, head.to_owned(), body.to_owned())
}

pub fn handshake(guid: Guid, key: Option<&[u8]>) -> [u8; 56] {
    let key = key.map(HandshakeKey::new);
    let mut hs = [0u8; 56];
    write_handshake(&mut hs, guid, 0, &[], key.as_ref()).unwrap();
    hs
}

pub fn peer() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

/// Two peers send handshakes for `guid` made with `key` (a zero mac for `None`), then
/// exchange a datagram each way. Returns the peers.
pub fn exchange(relay: SocketAddr, guid: Guid, key: Option<&[u8]>) -> (UdpSocket, UdpSocket) {
    let hs = handshake(guid, key);
    let (a, b) = (peer(), peer());
    a.send_to(&hs, relay).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    b.send_to(&hs, relay).unwrap();
    let mut buf = [0u8; 128];
    let (n, _) = a.recv_from(&mut buf).expect("A hears B's handshake");
    assert_eq!(&buf[..n], &hs);
    a.send_to(b"hello b", relay).unwrap();
    let (n, _) = b.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello b");
    b.send_to(b"hello a", relay).unwrap();
    let (n, _) = a.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello a");
    (a, b)
}

/// Two peers send handshakes for `guid` made with `key` and are not paired: neither hears
/// the other.
pub fn not_paired(relay: SocketAddr, guid: Guid, key: Option<&[u8]>) {
    let hs = handshake(guid, key);
    let (a, b) = (peer(), peer());
    for socket in [&a, &b] {
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
    }
    a.send_to(&hs, relay).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    b.send_to(&hs, relay).unwrap();
    let mut buf = [0u8; 128];
    assert!(a.recv_from(&mut buf).is_err(), "A heard from the relay");
    assert!(b.recv_from(&mut buf).is_err(), "B heard from the relay");
}
