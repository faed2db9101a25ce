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
//! [`protocol::write_handshake`]: crate::protocol::write_handshake
//! [`protocol::parse_handshake`]: crate::protocol::parse_handshake

mod clock;
mod handshake;
mod queue;
mod sequence;
mod socket;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

pub use handshake::{
    HandshakeMachine, HandshakeStats, MAX_HANDSHAKE_LEN, MAX_TIMING, MachineError, Received, State,
    Timing,
};
pub use sequence::next_sequence;
pub use socket::{Client, ClientConfig, ClientError, ClientStats};

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
