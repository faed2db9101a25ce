//! A client that owns its UDP socket: it joins a channel through the relay with a
//! [`HandshakeMachine`] and then moves game datagrams to and from the peer. Single-threaded
//! and non-blocking: the game calls [`Client::poll`] from its loop.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::clock::later;
use super::handshake::{HandshakeMachine, MachineError, Received, State, Timing};
use super::queue::DatagramQueue;
use crate::net;
use crate::protocol::{Guid, MAX_DATAGRAM};
use crate::token::Token;

/// How to join a channel.
#[derive(Clone)]
pub struct ClientConfig {
    /// The relay's address (see [`super::resolve_relay`] for host names).
    pub relay: SocketAddr,
    /// The channel GUID, agreed with the peer beforehand (e.g. through matchmaking). With a
    /// token it may be zero (the token's GUID is used); otherwise it must be the token's.
    pub guid: Guid,
    /// The relay's raw HMAC key; `None` (or empty) for an unkeyed relay (and for a token
    /// holder, which never needs the relay's secret);
    /// [`V08_DEFAULT_KEY`](crate::protocol::V08_DEFAULT_KEY) for a v0.8.2 relay run with its
    /// defaults.
    pub secret_key: Option<Vec<u8>>,
    /// The seat token the matchmaker minted for this peer: every handshake and keep-alive
    /// then carries it, with a sequence that keeps growing across clients and restarts
    /// (see [`super::next_sequence`]). Required by a relay with `require_tokens`.
    pub token: Option<Token>,
    pub timing: Timing,
    /// SO_RCVBUF / SO_SNDBUF to ask for; 0 keeps the system default.
    pub recv_buffer_bytes: usize,
    pub send_buffer_bytes: usize,
    /// Game datagrams kept for [`Client::recv`]. When full, the client stops reading its
    /// socket, so further datagrams wait in (or, past its size, are dropped by) the kernel,
    /// unseen: with a peer timeout, keep draining it or the peer counts as lost.
    pub max_queued_datagrams: usize,
}

/// Every field but the key, which shows only whether there is one and its length (the
/// token's own `Debug` leaves its tag out).
impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("relay", &self.relay)
            .field("guid", &self.guid)
            .field(
                "secret_key",
                &crate::protocol::Redacted(self.secret_key.as_deref()),
            )
            .field("token", &self.token)
            .field("timing", &self.timing)
            .field("recv_buffer_bytes", &self.recv_buffer_bytes)
            .field("send_buffer_bytes", &self.send_buffer_bytes)
            .field("max_queued_datagrams", &self.max_queued_datagrams)
            .finish()
    }
}

impl ClientConfig {
    /// Defaults for everything but the relay and the GUID: no key, [`Timing::default`],
    /// 1 MiB socket buffers, 1024 queued datagrams.
    pub fn new(relay: SocketAddr, guid: Guid) -> ClientConfig {
        ClientConfig {
            relay,
            guid,
            secret_key: None,
            token: None,
            timing: Timing::default(),
            recv_buffer_bytes: 1 << 20,
            send_buffer_bytes: 1 << 20,
            max_queued_datagrams: 1024,
        }
    }
}

/// Why a send or receive did not happen.
#[derive(Debug)]
pub enum ClientError {
    /// Still handshaking: no channel to use yet.
    NotEstablished,
    /// The handshake got no answer within the timeout; the client is finished (until
    /// [`Client::rejoin`]).
    TimedOut,
    /// [`Client::close`] was called.
    Closed,
    /// The channel was established, then nothing arrived from the relay for the peer
    /// timeout ([`Timing::peer_timeout`]): the relay or the peer is gone. The client is
    /// finished until [`Client::rejoin`] with a new ticket.
    PeerLost,
    /// Nothing queued right now (receive), or the socket's send buffer is full (send).
    WouldBlock,
    /// The oldest queued datagram needs `needed` bytes; it is still queued.
    BufferTooSmall {
        needed: usize,
    },
    /// A datagram larger than a UDP payload can be.
    TooLarge {
        len: usize,
    },
    Io(io::Error),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::NotEstablished => f.write_str("the channel is not established yet"),
            ClientError::TimedOut => f.write_str("the handshake timed out"),
            ClientError::Closed => f.write_str("the client is closed"),
            ClientError::PeerLost => {
                f.write_str("the relay or the peer was lost: nothing arrived in time")
            }
            ClientError::WouldBlock => f.write_str("would block"),
            ClientError::BufferTooSmall { needed } => {
                write!(f, "buffer too small: the next datagram has {needed} bytes")
            }
            ClientError::TooLarge { len } => write!(
                f,
                "datagram of {len} bytes exceeds the {MAX_DATAGRAM}-byte UDP payload limit"
            ),
            ClientError::Io(e) => write!(f, "socket error: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// Why [`Client::rejoin`] refused a ticket (the client is left as it was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejoinError {
    /// The GUID and token do not make a channel (zero GUID without a token, a GUID other
    /// than the token's).
    Ticket(MachineError),
    /// The relay is IPv6 but the client's socket is IPv4 (it first joined an IPv4 relay).
    AddressFamily {
        relay: SocketAddr,
        local: SocketAddr,
    },
}

impl std::fmt::Display for RejoinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RejoinError::Ticket(e) => write!(f, "{e}"),
            RejoinError::AddressFamily { relay, local } => write!(
                f,
                "relay {relay} is IPv6 but this client's socket ({local}) is IPv4: an IPv6 relay \
                 needs a new client"
            ),
        }
    }
}

impl std::error::Error for RejoinError {}

impl From<RejoinError> for io::Error {
    fn from(e: RejoinError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

/// Counters of one client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    pub datagrams_sent: u64,
    pub datagrams_received: u64,
    pub handshakes_sent: u64,
    pub handshakes_received: u64,
    /// Datagrams from an address other than the relay's, dropped.
    pub foreign_dropped: u64,
    /// From the relay but not for the game (handshake with a bad mac, after a timeout or
    /// once the peer is lost).
    pub discarded: u64,
    pub recv_errors: u64,
    pub send_errors: u64,
}

/// Size of the receive buffer: any UDP payload fits, so nothing is truncated.
const RECV_BUFFER: usize = 65_536;
/// Most datagrams read in one go, so a flood cannot hold a call forever.
const MAX_BATCH: usize = 1024;

/// A client with its own socket. Dropping it closes the socket.
pub struct Client {
    /// Shared with callers that wait on it without holding the client (the C ABI's poll).
    socket: Arc<UdpSocket>,
    local_addr: SocketAddr,
    /// The relay as datagrams from it are seen (normalised) and as we address it.
    relay: SocketAddr,
    relay_dst: SocketAddr,
    /// AF_INET6 (dual-stack): reaches IPv4 and IPv6 relays; else IPv4 ones only.
    socket_is_v6: bool,
    machine: HandshakeMachine,
    queue: DatagramQueue,
    stats: ClientStats,
    buf: Box<[u8]>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("local_addr", &self.local_addr)
            .field("relay", &self.relay)
            .field("state", &self.machine.state())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Binds a socket of the relay's address family on an ephemeral port and sends the first
    /// handshake. Fails with `InvalidInput` for a zero GUID, a GUID other than the token's,
    /// or inconsistent timing.
    pub fn connect(config: ClientConfig) -> io::Result<Client> {
        let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidInput, m);
        if config.max_queued_datagrams == 0 {
            return Err(invalid("max_queued_datagrams must be > 0".into()));
        }
        let machine = HandshakeMachine::with_token(
            config.guid,
            config.secret_key.as_deref(),
            config.token,
            config.timing,
            Instant::now(),
        )
        .map_err(|e| invalid(e.to_string()))?;
        let relay = net::normalize(config.relay);
        let bound = net::bind_udp(
            net::unspecified_for(relay),
            config.recv_buffer_bytes,
            config.send_buffer_bytes,
        )?;
        log::debug!(
            "client {} joining channel {} through relay {relay}{}",
            bound.local_addr,
            machine.guid(),
            match &config.token {
                Some(t) => format!(" with a seat {:?} token", t.role),
                None => String::new(),
            }
        );
        let mut client = Client {
            socket: Arc::new(bound.socket),
            local_addr: bound.local_addr,
            relay,
            relay_dst: net::to_socket_family(relay, bound.is_v6),
            socket_is_v6: bound.is_v6,
            machine,
            queue: DatagramQueue::new(config.max_queued_datagrams),
            stats: ClientStats::default(),
            buf: vec![0u8; RECV_BUFFER].into_boxed_slice(),
        };
        client.transmit(Instant::now());
        Ok(client)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn relay_addr(&self) -> SocketAddr {
        self.relay
    }

    /// The socket, to wait on it in the host's own event loop (then call [`Client::poll`]
    /// with a zero timeout when it is readable or [`Client::next_timeout`] has passed).
    pub fn socket(&self) -> &UdpSocket {
        &self.socket
    }

    /// The socket, shared: to wait on it while another thread may use the client.
    pub(crate) fn shared_socket(&self) -> Arc<UdpSocket> {
        self.socket.clone()
    }

    /// How long until [`Client::poll`] has something to do without traffic (a retry, an
    /// answer, a keep-alive, noticing a timeout or a lost peer); zero when due now, `None`
    /// once final.
    pub fn next_timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        self.machine
            .next_timeout()
            .map(|t| t.saturating_duration_since(now))
    }

    pub fn guid(&self) -> Guid {
        self.machine.guid()
    }

    /// The timing it was configured with.
    pub fn timing(&self) -> &Timing {
        self.machine.timing()
    }

    /// Whether the client's handshakes carry a seat token.
    pub fn has_token(&self) -> bool {
        self.machine.token().is_some()
    }

    /// The state, a passed handshake deadline included.
    pub fn state(&mut self) -> State {
        self.machine.handle_timeout(Instant::now());
        self.machine.state()
    }

    pub fn stats(&self) -> ClientStats {
        let m = self.machine.stats();
        ClientStats {
            handshakes_sent: m.handshakes_sent,
            handshakes_received: m.handshakes_received,
            discarded: m.discarded,
            ..self.stats
        }
    }

    /// Game datagrams ready for [`Client::recv`].
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Reads what the socket holds, sends handshakes that are due, and waits at most
    /// `timeout` for something to happen: it returns early once a game datagram is queued
    /// or the state changes. Returns the state. Socket errors on receive are counted, not
    /// returned; an error here means the socket itself failed.
    pub fn poll(&mut self, timeout: Duration) -> io::Result<State> {
        let end = later(Instant::now(), timeout);
        let before = self.machine.state();
        loop {
            let now = Instant::now();
            self.step(now);
            let state = self.machine.state();
            if self.queue.len() > 0
                || state != before
                || now >= end
                || !matches!(state, State::Handshaking | State::Established)
            {
                return Ok(state);
            }
            let mut wait = end - now;
            if let Some(t) = self.machine.next_timeout() {
                wait = wait.min(t.saturating_duration_since(now));
            }
            if wait.is_zero() {
                continue;
            }
            if self.queue.is_full() {
                std::thread::sleep(wait);
            } else {
                net::wait_readable(&self.socket, wait)?;
            }
        }
    }

    /// Sends one game datagram to the peer.
    pub fn send(&mut self, datagram: &[u8]) -> Result<(), ClientError> {
        if datagram.len() > MAX_DATAGRAM {
            return Err(ClientError::TooLarge {
                len: datagram.len(),
            });
        }
        let now = Instant::now();
        self.machine.handle_timeout(now);
        match self.machine.state() {
            State::Established => {}
            State::Handshaking => return Err(ClientError::NotEstablished),
            State::TimedOut => return Err(ClientError::TimedOut),
            State::Closed => return Err(ClientError::Closed),
            State::Lost => return Err(ClientError::PeerLost),
        }
        match self.socket.send_to(datagram, self.relay_dst) {
            Ok(_) => {
                self.stats.datagrams_sent += 1;
                self.machine.on_data_sent(now);
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(ClientError::WouldBlock),
            Err(e) => {
                self.stats.send_errors += 1;
                Err(ClientError::Io(e))
            }
        }
    }

    /// Moves the oldest game datagram from the peer into `buf` and returns its length. A
    /// datagram larger than `buf` stays queued ([`ClientError::BufferTooSmall`] says how big
    /// it is); it is never truncated. Reads the socket when nothing is queued, but only
    /// [`Client::poll`] sends retries and keep-alives on time.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, ClientError> {
        if let Some(r) = self.pop(buf) {
            return r;
        }
        self.step(Instant::now());
        if let Some(r) = self.pop(buf) {
            return r;
        }
        match self.machine.state() {
            State::Established => Err(ClientError::WouldBlock),
            State::Handshaking => Err(ClientError::NotEstablished),
            State::TimedOut => Err(ClientError::TimedOut),
            State::Closed => Err(ClientError::Closed),
            State::Lost => Err(ClientError::PeerLost),
        }
    }

    /// Joins another channel, usually through another relay, on the same socket: when the
    /// relay was lost ([`State::Lost`]: nothing arrived for the peer timeout) or is draining,
    /// the game asks its matchmaker for a new ticket (relay address, GUID, seat token) and
    /// rejoins with it. Works from any state. The socket (and so the local port), the key, the
    /// timing, the counters and the datagrams already queued for [`Client::recv`] stay; the
    /// handshake starts over as in [`Client::connect`] (state [`State::Handshaking`], a fresh
    /// handshake timeout, the first handshake sent at once). Until the new channel is
    /// established, [`Client::send`] refuses with [`ClientError::NotEstablished`] as for any
    /// client still handshaking, and datagrams from the old relay are dropped as foreign.
    ///
    /// `guid` and `token` follow [`ClientConfig`]'s rules (with a token, a zero GUID means the
    /// token's). A [`RejoinError`] leaves the client as it was: a zero GUID without a token, a
    /// GUID other than the token's, or an IPv6 relay when the socket is IPv4 (the client
    /// first joined an IPv4 relay: an IPv6 one needs a new client).
    ///
    /// To rejoin the *same* relay with a new GUID while its channel there is still open, use a
    /// token or a keyed relay: only a verified handshake moves a member to another channel
    /// (README, relay rule 6); otherwise wait for the old channel to expire there.
    pub fn rejoin(
        &mut self,
        relay: SocketAddr,
        guid: Guid,
        token: Option<Token>,
    ) -> Result<(), RejoinError> {
        let relay = net::normalize(relay);
        if relay.is_ipv6() && !self.socket_is_v6 {
            return Err(RejoinError::AddressFamily {
                relay,
                local: self.local_addr,
            });
        }
        let now = Instant::now();
        self.machine
            .rejoin(guid, token, now)
            .map_err(RejoinError::Ticket)?;
        log::info!(
            "client {} rejoining: channel {} through relay {relay} (was {}){}",
            self.local_addr,
            self.machine.guid(),
            self.relay,
            match &token {
                Some(t) => format!(" with a seat {:?} token", t.role),
                None => String::new(),
            }
        );
        self.relay = relay;
        self.relay_dst = net::to_socket_family(relay, self.socket_is_v6);
        self.transmit(now);
        Ok(())
    }

    /// Stops the client: nothing more is sent or received, queued datagrams are dropped.
    /// The socket closes when the client is dropped.
    pub fn close(&mut self) {
        self.machine.close();
        while self.queue.pop_into(&mut self.buf).is_some() {}
    }

    fn pop(&mut self, buf: &mut [u8]) -> Option<Result<usize, ClientError>> {
        Some(
            self.queue
                .pop_into(buf)?
                .map_err(|needed| ClientError::BufferTooSmall { needed }),
        )
    }

    fn receive(&mut self, now: Instant) {
        let mut handled = 0;
        while handled < MAX_BATCH && !self.queue.is_full() {
            match self.socket.recv_from(&mut self.buf) {
                Ok((len, src)) => {
                    handled += 1;
                    if net::normalize(src) != self.relay {
                        self.stats.foreign_dropped += 1;
                        log::trace!("dropped {len} B from {src}: not the relay");
                        continue;
                    }
                    if self.machine.handle_datagram(&self.buf[..len], now) == Received::Data {
                        self.stats.datagrams_received += 1;
                        self.queue.push(&self.buf[..len]);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // ICMP errors some platforms report (ECONNREFUSED, WSAECONNRESET while
                    // the relay is not up yet) must not stop the handshake: retries go on.
                    handled += 1;
                    self.stats.recv_errors += 1;
                    log::trace!("receive error (counted, continuing): {e}");
                }
            }
        }
    }

    /// Receives, sends what is due, and logs a move to a final state.
    fn step(&mut self, now: Instant) {
        let before = self.machine.state();
        self.receive(now);
        self.transmit(now);
        let after = self.machine.state();
        if before == after {
            return;
        }
        let timing = self.machine.timing();
        match after {
            State::TimedOut => log::info!(
                "channel {}: no answer through relay {} within {:?}",
                self.machine.guid(),
                self.relay,
                timing.handshake_timeout
            ),
            State::Lost => log::info!(
                "channel {}: nothing from relay {} for {:?}: relay or peer lost (rejoin with \
                 a new ticket)",
                self.machine.guid(),
                self.relay,
                timing.peer_timeout.unwrap_or_default()
            ),
            _ => {}
        }
    }

    fn transmit(&mut self, now: Instant) {
        if let Some(handshake) = self.machine.poll_transmit(now) {
            if let Err(e) = self.socket.send_to(handshake, self.relay_dst) {
                // The next retry or answer goes out on schedule; nothing else to do.
                self.stats.send_errors += 1;
                log::debug!("handshake to {} not sent: {e}", self.relay);
            }
        }
    }
}
