//! The plain data the relay's C functions fill in: counters, addresses and events, and their
//! conversions from the core's types.

use std::net::SocketAddr;

use super::types::RelayGuid;
use crate::relay::{self, CloseReason, Event};

/// Relay-wide counters since start. Filled by `relay_get_stats`.
///
/// Growable: later versions only append `uint64_t` fields at the end, so a prefix of it is a
/// valid older `RelayStats`. Pass `sizeof(RelayStats)` to `relay_get_stats`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct RelayStats {
    pub datagrams_in: u64,
    pub bytes_in: u64,
    pub datagrams_out: u64,
    pub bytes_out: u64,
    /// Received and not forwarded (malformed, refused, no peer yet, or send failed).
    pub datagrams_dropped: u64,
    /// Datagrams from unpaired addresses that are not valid handshakes, or carry a token
    /// refused (invalid, expired, or another relay's).
    pub handshakes_rejected: u64,
    /// Valid handshakes that allocated, refreshed or established a channel.
    pub handshakes_accepted: u64,
    /// Valid handshakes refused: third address, max_channels reached, or draining.
    pub handshakes_refused: u64,
    /// Channels open now (pending + established).
    pub channels_open: u64,
    /// Channels established now.
    pub channels_established: u64,
    pub channels_allocated_total: u64,
    pub channels_expired_total: u64,
    pub recv_errors: u64,
    pub send_errors: u64,
    pub events_dropped: u64,
    /// Handshakes over their source's rate, dropped before verification.
    pub handshakes_rate_limited: u64,
    /// New GUIDs refused because max_channels channels were open (in handshakes_refused).
    pub handshakes_refused_full: u64,
    /// New GUIDs refused because their source held max_pending_per_source half-open
    /// channels (in handshakes_refused).
    pub handshakes_refused_pending: u64,
    /// Handshakes let through untracked because the rate-limit table was full.
    pub rate_limit_untracked: u64,
    /// Datagrams over their channel's bandwidth cap (in datagrams_dropped).
    pub datagrams_over_bandwidth: u64,
    /// Seat tokens malformed, not verifying, or missing where required (in
    /// handshakes_rejected).
    pub tokens_invalid: u64,
    /// Seat tokens past their expiry (in handshakes_rejected).
    pub tokens_expired: u64,
    /// Valid tokens for a seat held elsewhere without a fresh sequence (in
    /// handshakes_refused).
    pub tokens_replayed: u64,
    /// Seats moved to a new address by a fresh token handshake (NAT rebinding).
    pub peers_rebound: u64,
    /// Admissible handshakes answered with a return-path challenge instead (ABI 4).
    pub handshakes_challenged: u64,
    /// Received and taken by the relay itself: handshakes that allocated, refreshed or
    /// re-seated a pending channel, and challenged ones (ABI 4). `datagrams_in` =
    /// `datagrams_out` (forwarded) + `datagrams_dropped` + `datagrams_consumed`.
    pub datagrams_consumed: u64,
    /// Probes answered (in datagrams_consumed; ABI 4).
    pub probes_answered: u64,
    /// Authentic v2 seat tokens for another relay id (in handshakes_rejected): a client
    /// sent to the wrong relay of a fleet. Not answered; they open nothing and take no seat
    /// (ABI 5).
    pub handshakes_wrong_relay: u64,
}

/// Traffic of one channel. "A" allocated the channel, "B" joined it.
///
/// Fixed size: it is embedded by value in `RelayEvent`, so it never grows (new per-channel
/// figures would be appended to `RelayEvent` or come from a new function). That is why
/// `relay_get_channel` takes no size.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct RelayChannelCounters {
    pub datagrams_a_to_b: u64,
    pub bytes_a_to_b: u64,
    pub datagrams_b_to_a: u64,
    pub bytes_b_to_a: u64,
    /// Datagrams from a member that could not be forwarded.
    pub dropped: u64,
}

/// A peer's address. `family` is 0 (none), 4 or 6; `ip` holds 4 (IPv4, in `ip[0..4]`) or 16
/// bytes in network order; `port` is in host order.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct RelayAddress {
    pub family: u16,
    pub port: u16,
    pub scope_id: u32,
    pub ip: [u8; 16],
}

/// Kinds of `RelayEvent`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayEventKind {
    /// A first handshake for a GUID allocated a channel: `guid`, `peer_a`.
    ChannelAllocated = 1,
    /// A second peer joined: `guid`, `peer_a`, `peer_b`.
    ChannelEstablished = 2,
    /// The channel closed: everything, with `close_reason`, `counters` and `lifetime_ms`.
    ChannelClosed = 3,
    /// `relay_drain` was called and the last channel has closed.
    Drained = 4,
}

/// Why a channel closed (`RelayEvent::close_reason`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayCloseReason {
    /// Not a close event.
    None = 0,
    /// No traffic for the inactivity timeout.
    Expired = 1,
    /// One peer sent a valid handshake for another GUID and moved to that channel.
    PeerMoved = 2,
}

/// One event from `relay_next_event`. Fields a kind does not use are zero.
///
/// Growable: later versions only append fields at the end, so a prefix of it is a valid
/// older `RelayEvent`. Pass `sizeof(RelayEvent)` to `relay_next_event`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RelayEvent {
    /// A `RelayEventKind` value.
    pub kind: u32,
    /// A `RelayCloseReason` value (close events only).
    pub close_reason: u32,
    pub guid: RelayGuid,
    pub peer_a: RelayAddress,
    pub peer_b: RelayAddress,
    pub counters: RelayChannelCounters,
    /// Milliseconds since the channel was allocated (close events only); the start is kept
    /// to the second, so this may read up to 1000 ms long, never short.
    pub lifetime_ms: u64,
}

impl From<SocketAddr> for RelayAddress {
    fn from(a: SocketAddr) -> RelayAddress {
        let mut ip = [0u8; 16];
        match a {
            SocketAddr::V4(v4) => {
                ip[..4].copy_from_slice(&v4.ip().octets());
                RelayAddress {
                    family: 4,
                    port: v4.port(),
                    scope_id: 0,
                    ip,
                }
            }
            SocketAddr::V6(v6) => RelayAddress {
                family: 6,
                port: v6.port(),
                scope_id: v6.scope_id(),
                ip: v6.ip().octets(),
            },
        }
    }
}

impl RelayAddress {
    pub(super) fn to_socket_addr(self) -> Option<SocketAddr> {
        match self.family {
            4 => {
                let o = [self.ip[0], self.ip[1], self.ip[2], self.ip[3]];
                Some(SocketAddr::from((o, self.port)))
            }
            6 => Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                self.ip.into(),
                self.port,
                0,
                self.scope_id,
            ))),
            _ => None,
        }
    }
}

impl From<relay::ChannelCounters> for RelayChannelCounters {
    fn from(c: relay::ChannelCounters) -> Self {
        RelayChannelCounters {
            datagrams_a_to_b: c.datagrams_a_to_b,
            bytes_a_to_b: c.bytes_a_to_b,
            datagrams_b_to_a: c.datagrams_b_to_a,
            bytes_b_to_a: c.bytes_b_to_a,
            dropped: c.dropped,
        }
    }
}

impl From<relay::Stats> for RelayStats {
    fn from(s: relay::Stats) -> Self {
        RelayStats {
            datagrams_in: s.datagrams_in,
            bytes_in: s.bytes_in,
            datagrams_out: s.datagrams_out,
            bytes_out: s.bytes_out,
            datagrams_dropped: s.datagrams_dropped,
            handshakes_rejected: s.handshakes_rejected,
            handshakes_accepted: s.handshakes_accepted,
            handshakes_refused: s.handshakes_refused,
            channels_open: s.channels_open,
            channels_established: s.channels_established,
            channels_allocated_total: s.channels_allocated_total,
            channels_expired_total: s.channels_expired_total,
            recv_errors: s.recv_errors,
            send_errors: s.send_errors,
            events_dropped: s.events_dropped,
            handshakes_rate_limited: s.handshakes_rate_limited,
            handshakes_refused_full: s.handshakes_refused_full,
            handshakes_refused_pending: s.handshakes_refused_pending,
            rate_limit_untracked: s.rate_limit_untracked,
            datagrams_over_bandwidth: s.datagrams_over_bandwidth,
            tokens_invalid: s.tokens_invalid,
            tokens_expired: s.tokens_expired,
            tokens_replayed: s.tokens_replayed,
            peers_rebound: s.peers_rebound,
            handshakes_challenged: s.handshakes_challenged,
            datagrams_consumed: s.datagrams_consumed,
            probes_answered: s.probes_answered,
            handshakes_wrong_relay: s.handshakes_wrong_relay,
        }
    }
}

impl From<Event> for RelayEvent {
    fn from(e: Event) -> Self {
        let mut out = RelayEvent {
            kind: 0,
            close_reason: RelayCloseReason::None as u32,
            guid: RelayGuid::default(),
            peer_a: RelayAddress::default(),
            peer_b: RelayAddress::default(),
            counters: RelayChannelCounters::default(),
            lifetime_ms: 0,
        };
        match e {
            Event::Allocated { guid, peer_a } => {
                out.kind = RelayEventKind::ChannelAllocated as u32;
                out.guid = guid.into();
                out.peer_a = peer_a.into();
            }
            Event::Established {
                guid,
                peer_a,
                peer_b,
            } => {
                out.kind = RelayEventKind::ChannelEstablished as u32;
                out.guid = guid.into();
                out.peer_a = peer_a.into();
                out.peer_b = peer_b.into();
            }
            Event::Closed {
                guid,
                reason,
                peer_a,
                peer_b,
                counters,
                lifetime,
            } => {
                out.kind = RelayEventKind::ChannelClosed as u32;
                out.close_reason = match reason {
                    CloseReason::Expired => RelayCloseReason::Expired,
                    CloseReason::PeerMoved => RelayCloseReason::PeerMoved,
                } as u32;
                out.guid = guid.into();
                out.peer_a = peer_a.into();
                out.peer_b = peer_b.map(Into::into).unwrap_or_default();
                out.counters = counters.into();
                out.lifetime_ms = lifetime.as_millis() as u64;
            }
            Event::Drained => out.kind = RelayEventKind::Drained as u32,
        }
        out
    }
}

/// Size of `RelayStats` in ABI version 2, the first to take its size: the smallest
/// `out_size` `relay_get_stats` accepts.
pub const RELAY_STATS_MIN_SIZE: usize = 192;
/// Size of `RelayEvent` in ABI version 2, the first to take its size: the smallest
/// `out_size` `relay_next_event` accepts.
pub const RELAY_EVENT_MIN_SIZE: usize = 120;

// The growable outputs are copied out as byte prefixes, so they must not hold padding:
// RelayStats is all u64; RelayEvent's fields add up to its size (extend the sum when
// appending to it).
const _: () = assert!(
    std::mem::size_of::<RelayStats>() >= RELAY_STATS_MIN_SIZE
        && std::mem::size_of::<RelayStats>() % 8 == 0
        && std::mem::size_of::<RelayEvent>() >= RELAY_EVENT_MIN_SIZE
        && std::mem::size_of::<RelayEvent>()
            == 8 + std::mem::size_of::<RelayGuid>()
                + 2 * std::mem::size_of::<RelayAddress>()
                + std::mem::size_of::<RelayChannelCounters>()
                + 8
);
