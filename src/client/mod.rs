//! The client half: join a channel through the relay, then talk to the peer.
//!
//! Two ways to use it:
//! - the game engine owns the UDP socket: drive a [`HandshakeMachine`] with what the socket
//!   receives and send what it hands out ([`protocol::write_handshake`] and
//!   [`protocol::parse_handshake`] are the pure codec underneath);
//! - the library owns the socket: [`Client`] binds one, runs the machine and queues game
//!   datagrams.
//!
//! Either can carry a seat token (see [`crate::token`]) for a relay that admits by token.
//!
//! Before joining, [`measure_relays`] (or, on the engine's own socket, a [`RelayMeasure`])
//! times a list of relays with probes so the game can pick the nearest one accepting
//! channels ([`nearest`]). When the relay is lost or drains, the same client or machine joins
//! another with a new ticket ([`Client::rejoin`], [`HandshakeMachine::rejoin`]), keeping its
//! socket.
//!
//! [`protocol::write_handshake`]: crate::protocol::write_handshake
//! [`protocol::parse_handshake`]: crate::protocol::parse_handshake

mod clock;
mod handshake;
mod measure;
mod measure_socket;
mod queue;
mod sequence;
mod socket;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

pub use handshake::{
    HandshakeMachine, HandshakeStats, MAX_HANDSHAKE_LEN, MAX_TIMING, MachineError, Received, State,
    Timing,
};
pub use measure::{
    MAX_MEASURE_ATTEMPTS, MAX_MEASURE_TIMEOUT_MS, MAX_MEASURED_RELAYS, MeasureError, Measurement,
    Probe, Reach, RelayMeasure, check_measure, nearest,
};
pub use measure_socket::measure_relays;
pub use sequence::next_sequence;
pub use socket::{Client, ClientConfig, ClientError, ClientStats, RejoinError};

/// Resolves a relay address given as "host:port", "1.2.3.4:port" or "[v6]:port" to the first
/// address the system resolver returns.
pub fn resolve_relay(text: &str) -> io::Result<SocketAddr> {
    text.trim().to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("relay address {text:?} resolves to no address"),
        )
    })
}
