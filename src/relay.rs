//! The relay: a socket-free core ([`RelayCore`]: the channel table keyed by GUID and by peer
//! address, admission, expiry and events, driven by datagrams and time that its owner
//! supplies) and a thin socket shell over it ([`Relay`]: one UDP socket, batched I/O, the
//! poll loop). Single-threaded: the host calls [`Relay::poll`] from its own loop, or drives a
//! [`RelayCore`] from its own socket and event loop.
//!
//! Rules (v0.8): the first valid handshake for a GUID allocates a channel with peer A; a valid
//! handshake with that GUID from another address makes it peer B and establishes the channel;
//! from then on every datagram from one peer goes to the other, handshakes included. No third
//! address joins or takes over a channel, and an address that is not paired never gets an
//! answer, so the relay cannot be used to reflect or amplify traffic.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::cookie;
use crate::protocol::Guid;
use crate::token::Rejection;

pub mod admission;
mod admit;
mod coalesce;
mod config;
mod core;
mod deadlines;
mod sans_io;
mod seats;
mod socket;
mod table;
mod wall_clock;

pub use self::core::RelayCore;
pub use socket::Relay;

pub use config::{
    Config, ConfigError, MAX_CHANNEL_BANDWIDTH, MAX_CHANNELS, MAX_COALESCE_WINDOW,
    MAX_INACTIVITY_TIMEOUT, MAX_PER_POLL, MAX_SOCKET_BUFFER_BYTES, MAX_TRACKED_SOURCES,
};
#[doc(hidden)]
pub use sans_io::TableCapacities;

/// The log target of the relay's one line per channel allocated, established or closed (at
/// debug level; expiries at trace), so a host that logs the [`Event`]s itself can filter them.
pub const CHANNEL_EVENTS_LOG_TARGET: &str = "udp_relay::channels";

/// Traffic of one channel. "A" is the peer that allocated it, "B" the one that joined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelCounters {
    pub datagrams_a_to_b: u64,
    pub bytes_a_to_b: u64,
    pub datagrams_b_to_a: u64,
    pub bytes_b_to_a: u64,
    /// Datagrams from a member that could not be forwarded (no peer yet, or send failed).
    pub dropped: u64,
}

/// Why a channel closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// No traffic for the inactivity timeout.
    Expired,
    /// One of its peers sent a valid handshake for another GUID and moved there.
    PeerMoved,
}

/// Something the host may want to log or count. Drained with [`Relay::next_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Allocated {
        guid: Guid,
        peer_a: SocketAddr,
    },
    Established {
        guid: Guid,
        peer_a: SocketAddr,
        peer_b: SocketAddr,
    },
    Closed {
        guid: Guid,
        reason: CloseReason,
        /// Peer B is `None` if the channel never got established.
        peer_a: SocketAddr,
        peer_b: Option<SocketAddr>,
        counters: ChannelCounters,
        /// Time since allocation; the start is kept to the second, so this may read up to
        /// 1 s long.
        lifetime: Duration,
    },
    /// [`Relay::drain`] was called and the last channel has closed.
    Drained,
}

/// Relay-wide counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub datagrams_in: u64,
    pub bytes_in: u64,
    pub datagrams_out: u64,
    pub bytes_out: u64,
    /// Received and not forwarded, accepted handshakes of pending channels excepted.
    pub datagrams_dropped: u64,
    /// From an unpaired address and not a valid handshake (short, bad magic, zero GUID, bad
    /// mac) or a token refused (invalid, expired, or another relay's).
    pub handshakes_rejected: u64,
    /// Valid handshakes that allocated, refreshed or established a channel.
    pub handshakes_accepted: u64,
    /// Valid handshakes refused: third address, `max_channels` reached, or draining.
    pub handshakes_refused: u64,
    pub channels_open: u64,
    pub channels_established: u64,
    pub channels_allocated_total: u64,
    pub channels_expired_total: u64,
    pub recv_errors: u64,
    pub send_errors: u64,
    pub events_dropped: u64,
    /// Handshakes over their source's rate, dropped before any verification.
    pub handshakes_rate_limited: u64,
    /// New GUIDs refused because `max_channels` channels were open (in `handshakes_refused`).
    pub handshakes_refused_full: u64,
    /// New GUIDs refused because their source held `max_pending_per_source` half-open
    /// channels (in `handshakes_refused`).
    pub handshakes_refused_pending: u64,
    /// Handshakes let through untracked because the rate-limit table was full of active
    /// sources.
    pub rate_limit_untracked: u64,
    /// Datagrams over their channel's bandwidth cap (in `datagrams_dropped`).
    pub datagrams_over_bandwidth: u64,
    /// Token malformed or not verifying, or missing where required (in `handshakes_rejected`).
    pub tokens_invalid: u64,
    /// Token expired (in `handshakes_rejected`).
    pub tokens_expired: u64,
    /// Valid token for a seat held elsewhere with no fresh sequence, or for the other seat
    /// of the sender (in `handshakes_refused`).
    pub tokens_replayed: u64,
    /// Seats moved to a new address by a fresh token handshake (NAT rebinding).
    pub peers_rebound: u64,
    /// Admissible handshakes answered with a return-path challenge (no valid cookie yet).
    pub handshakes_challenged: u64,
    /// Received and taken by the relay itself: handshakes that allocated, refreshed or
    /// re-seated a pending channel, handshakes answered with a challenge, and probes
    /// answered. Every datagram in is exactly one of forwarded (`datagrams_out`), dropped or
    /// consumed.
    pub datagrams_consumed: u64,
    /// Probes answered (in `datagrams_consumed`); probes over their source's budget are
    /// counted in `handshakes_rate_limited` and dropped.
    pub probes_answered: u64,
    /// Authentic v2 seat tokens for another relay of the fleet (in `handshakes_rejected`):
    /// a client sent to the wrong relay. Not answered; they open nothing and take no seat.
    pub handshakes_wrong_relay: u64,
}

/// A snapshot of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelInfo {
    pub guid: Guid,
    pub peer_a: SocketAddr,
    pub peer_b: Option<SocketAddr>,
    pub counters: ChannelCounters,
    pub idle: Duration,
}

/// What the relay decided for one datagram ([`RelayCore::handle_datagram`]); its owner carries
/// it out. The decision never depends on I/O: the socket shell, an engine's own socket and the
/// tests and fuzzers all run the same code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send the datagram, unchanged, to the sender's paired peer. Already counted as sent:
    /// if the send fails, tell the core with [`RelayCore::report_send_failure`].
    Forward(Forward),
    /// A handshake the relay took (allocated, refreshed or re-seated a pending channel).
    Absorbed,
    /// Not forwarded; counted in `datagrams_dropped` and under its reason.
    Dropped,
    /// An admissible handshake without a valid return-path cookie: answer its sender (and
    /// no one else) with this challenge, no larger than the handshake.
    Challenge(Challenge),
    /// A probe ([`crate::probe`]) from an address outside any channel: answer its sender
    /// with this reply, no larger than the probe.
    ProbeReply(ProbeReply),
}

/// The answer to a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeReply {
    /// Always the sender of the probe.
    pub to: SocketAddr,
    /// The local address the probe was sent to, to send from (when the owner said).
    pub from: Option<IpAddr>,
    pub datagram: [u8; crate::probe::PROBE_LEN],
}

/// A return-path challenge to send (see [`crate::cookie`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge {
    /// Always the sender of the handshake it answers.
    pub to: SocketAddr,
    /// The local address the handshake was sent to, to send from (when the owner said).
    pub from: Option<IpAddr>,
    pub datagram: [u8; cookie::CHALLENGE_LEN],
}

/// Where a datagram goes, and which channel's counters it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward {
    /// Always the sender's paired peer, never the sender.
    pub to: SocketAddr,
    /// The local address `to` sends to, to send from, so the reply leaves from the address
    /// the peer knows (`None` when the owner never said which address datagrams arrived at).
    pub from: Option<IpAddr>,
    slot: u32,
    stamp: u32,
    a_to_b: bool,
}

impl Forward {
    /// What a queued send carries back if it fails: the channel's slot and stamp (so a
    /// channel closed in the meantime is almost surely not touched, and at worst one of its
    /// counters is off by one datagram) and the direction.
    pub(crate) fn tag(self) -> u64 {
        (u64::from(self.slot) << 33) | (u64::from(self.stamp) << 1) | u64::from(self.a_to_b)
    }

    fn untag(tag: u64) -> (u32, u32, bool) {
        ((tag >> 33) as u32, (tag >> 1) as u32, tag & 1 == 1)
    }
}

/// Why a handshake-looking datagram did not pass [`RelayCore::screen`].
enum Screen {
    RateLimited,
    Rejected(Rejection),
}
