//! Engine-owned sockets: plain std UdpSockets driven by the socket-less handshake state
//! machine, through the Rust API and through `relay_handshake_*`, exchange 10 000 datagrams
//! each way through an in-process relay with none lost and no handshake reaching the game;
//! also with seat tokens through a relay that requires them.

mod client_support;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use client_support::{Arrivals, RelayThread, datagram, unix_now};
use udp_relay::client::{HandshakeMachine, Received, State, Timing};
use udp_relay::ffi::*;
use udp_relay::protocol::Guid;
use udp_relay::token::{Role, TokenKey};

const SECRET: &[u8] = b"relay secret held by the matchmaker";

const N: usize = 10_000;
const WINDOW: usize = 64;

/// What the engine needs from a handshake machine, so both APIs run the same exchange.
trait Machine {
    /// True if the datagram is game data.
    fn receive(&mut self, datagram: &[u8]) -> bool;
    /// The handshake to send now, written into `buf`.
    fn poll(&mut self, buf: &mut [u8]) -> Option<usize>;
    fn data_sent(&mut self);
    fn established(&mut self) -> bool;
}

impl Machine for HandshakeMachine {
    fn receive(&mut self, datagram: &[u8]) -> bool {
        self.handle_datagram(datagram, Instant::now()) == Received::Data
    }
    fn poll(&mut self, buf: &mut [u8]) -> Option<usize> {
        let h = self.poll_transmit(Instant::now())?;
        buf[..h.len()].copy_from_slice(h);
        Some(h.len())
    }
    fn data_sent(&mut self) {
        self.on_data_sent(Instant::now());
    }
    fn established(&mut self) -> bool {
        self.state() == State::Established
    }
}

struct CMachine(*mut RelayHandshake);

impl Machine for CMachine {
    fn receive(&mut self, datagram: &[u8]) -> bool {
        let kind = relay_handshake_receive(self.0, datagram.as_ptr(), datagram.len());
        assert!(kind >= 0, "relay_handshake_receive: {kind}");
        kind == RelayDatagramKind::Data as i32
    }
    fn poll(&mut self, buf: &mut [u8]) -> Option<usize> {
        let n = relay_handshake_poll(self.0, buf.as_mut_ptr(), buf.len());
        assert!(n >= 0, "relay_handshake_poll: {n}");
        (n > 0).then_some(n as usize)
    }
    fn data_sent(&mut self) {
        assert_eq!(relay_handshake_on_data_sent(self.0), RelayStatus::Ok);
    }
    fn established(&mut self) -> bool {
        relay_handshake_state(self.0) == RelayClientState::Established as i32
    }
}

impl Drop for CMachine {
    fn drop(&mut self) {
        assert_eq!(relay_handshake_free(self.0), RelayStatus::Ok);
    }
}

/// One game peer: its own socket, a machine, and what it received.
struct Peer<M> {
    socket: UdpSocket,
    relay: SocketAddr,
    machine: M,
    arrivals: Arrivals,
    sent: usize,
    handshakes_in: usize,
    buf: Vec<u8>,
}

impl<M: Machine> Peer<M> {
    fn new(relay: SocketAddr, machine: M) -> Peer<M> {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        Peer {
            socket,
            relay,
            machine,
            arrivals: Arrivals::new(N),
            sent: 0,
            handshakes_in: 0,
            buf: vec![0u8; 65_536],
        }
    }

    /// One engine tick: read everything, then send a handshake if one is due.
    fn tick(&mut self) {
        loop {
            match self.socket.recv_from(&mut self.buf) {
                Ok((len, src)) => {
                    assert_eq!(src, self.relay);
                    if self.machine.receive(&self.buf[..len]) {
                        self.arrivals.record(&self.buf[..len]);
                    } else {
                        self.handshakes_in += 1;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("recv: {e}"),
            }
        }
        let mut out = [0u8; RELAY_MAX_HANDSHAKE_LEN];
        if let Some(n) = self.machine.poll(&mut out) {
            self.socket.send_to(&out[..n], self.relay).unwrap();
        }
    }

    fn send_data(&mut self) {
        let d = datagram(self.sent as u32, 16 + self.sent % 500);
        self.socket.send_to(&d, self.relay).unwrap();
        self.machine.data_sent();
        self.sent += 1;
    }
}

fn run<M: Machine>(relay: SocketAddr, a: M, b: M) {
    let mut a = Peer::new(relay, a);
    let mut b = Peer::new(relay, b);
    let start = Instant::now();
    while !(a.machine.established() && b.machine.established()) {
        a.tick();
        b.tick();
        std::thread::sleep(Duration::from_millis(1));
        assert!(start.elapsed() < Duration::from_secs(5), "not established");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while a.arrivals.count < N || b.arrivals.count < N {
        while a.sent < N && a.sent - b.arrivals.count < WINDOW {
            a.send_data();
        }
        while b.sent < N && b.sent - a.arrivals.count < WINDOW {
            b.send_data();
        }
        a.tick();
        b.tick();
        assert!(Instant::now() < deadline, "stalled");
    }
    // The handshakes that set the channel up reached the machines, not the game.
    assert!(a.handshakes_in >= 1 && b.handshakes_in >= 1);
}

#[test]
fn rust_machine_over_std_sockets() {
    let relay = RelayThread::start("127.0.0.1:0", Duration::from_secs(30), Some(b"key"));
    let guid = Guid::random().unwrap();
    let now = Instant::now();
    let m = || HandshakeMachine::new(guid, Some(b"key"), Timing::default(), now).unwrap();
    run(relay.addr, m(), m());
    let stats = relay.stop();
    assert_eq!(stats.datagrams_dropped, 0, "{stats:?}");
}

fn default_config() -> RelayClientConfig {
    client_support::c_config_default()
}

fn c_machine(cfg: &RelayClientConfig) -> CMachine {
    let mut h = std::ptr::null_mut();
    assert_eq!(relay_handshake_new(cfg, &mut h), RelayStatus::Ok);
    // The first handshake is due at once.
    let mut wait = u32::MAX;
    assert_eq!(relay_handshake_next_timeout(h, &mut wait), RelayStatus::Ok);
    assert_eq!(wait, 0);
    CMachine(h)
}

#[test]
fn c_machine_over_std_sockets() {
    let relay = RelayThread::start("127.0.0.1:0", Duration::from_secs(30), Some(b"key"));
    let mut cfg = default_config();
    assert_eq!(relay_guid_new(&mut cfg.guid), RelayStatus::Ok);
    cfg.secret_key = b"key".as_ptr();
    cfg.secret_key_len = 3;
    run(relay.addr, c_machine(&cfg), c_machine(&cfg));
    let stats = relay.stop();
    assert_eq!(stats.datagrams_dropped, 0, "{stats:?}");
}

#[test]
fn rust_machine_with_tokens_over_std_sockets() {
    let relay = RelayThread::requiring_tokens(SECRET, Duration::from_secs(30));
    let guid = Guid::random().unwrap();
    let key = TokenKey::new(SECRET);
    let now = Instant::now();
    let m = |role| {
        let token = key.mint(guid, role, unix_now() + 600);
        HandshakeMachine::with_token(guid, None, Some(token), Timing::default(), now).unwrap()
    };
    run(relay.addr, m(Role::A), m(Role::B));
    let stats = relay.stop();
    assert_eq!(stats.channels_established, 1, "{stats:?}");
    assert_eq!(stats.datagrams_dropped, 0, "{stats:?}");
    assert_eq!(stats.tokens_replayed + stats.tokens_invalid, 0, "{stats:?}");
}

#[test]
fn c_machine_with_tokens_over_std_sockets() {
    let relay = RelayThread::requiring_tokens(SECRET, Duration::from_secs(30));
    let mut guid = RelayGuid::default();
    assert_eq!(relay_guid_new(&mut guid), RelayStatus::Ok);
    // The matchmaker's side: one token per seat, minted with the relay's secret.
    let mint = |role| client_support::c_mint_token(SECRET, &guid, role, unix_now() + 600);
    let (token_a, token_b) = (mint(RELAY_TOKEN_ROLE_A), mint(RELAY_TOKEN_ROLE_B));
    // Each client's side: the token in the config, no secret, the GUID from the token.
    let with = |token: &[u8; RELAY_TOKEN_LEN]| RelayClientConfig {
        token: token.as_ptr(),
        token_len: token.len(),
        ..default_config()
    };
    run(
        relay.addr,
        c_machine(&with(&token_a)),
        c_machine(&with(&token_b)),
    );
    let stats = relay.stop();
    assert_eq!(stats.channels_established, 1, "{stats:?}");
    assert_eq!(stats.datagrams_dropped, 0, "{stats:?}");
    assert_eq!(stats.tokens_replayed + stats.tokens_invalid, 0, "{stats:?}");
}
