//! `relay_*`: start, tick, inspect and stop an embedded relay.

use std::ffi::c_char;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::error::{FfiError, FfiResult, RelayStatus, guard, guard_count, guard_value};
use super::handle::Registry;
use super::types::{
    RelayGuid, bytes, bytes_mut, check_out_size, opt_str, write_out, write_out_prefix,
};
use crate::admission::Limits;
use crate::protocol::Guid;
use crate::relay::{self, CloseReason, Event, Relay};

/// An embedded relay. Opaque: created by `relay_start`, freed by `relay_stop`.
///
/// Threading: calls on one handle are serialised by the library, so it may be used from any
/// thread, but it is meant to be ticked from one (the host's game or network thread).
pub struct RelayHandle {
    _private: [u8; 0],
}

pub(super) static RELAYS: Registry<Relay, RelayHandle> = Registry::new("relay", 0x5E1A_0000);

/// How to start a relay. Fill it with `relay_config_default`, then change what you need.
/// Each field says its range; `relay_start` refuses a value outside it with
/// `RELAY_STATUS_INVALID_ARGUMENT` and a `relay_last_error()` naming the field and range.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RelayConfig {
    /// `sizeof(RelayConfig)` as the caller compiled it; set by `relay_config_default`. Lets
    /// later versions append fields without breaking callers built against this one.
    pub struct_size: u32,
    /// A channel (pending or established) closes after this many ms without traffic.
    /// Default 30 000; 1 to 86 400 000 (a day).
    pub inactivity_timeout_ms: u32,
    /// IP address to bind, e.g. "0.0.0.0", "127.0.0.1", "::1". NULL (the default) binds
    /// dual-stack "::", which accepts IPv4 and IPv6 peers. Borrowed for the call only.
    pub bind_address: *const c_char,
    /// Raw secret key bytes for the handshake HMAC; borrowed for the call only (the relay
    /// keeps its own copy). Length 0 (the default) accepts handshakes without checking the mac.
    pub secret_key: *const u8,
    pub secret_key_len: usize,
    /// UDP port to bind; 0 picks an ephemeral port (see `relay_local_port`). Default 6060.
    pub port: u16,
    /// 1 = plain handshakes too must prove their return path (echo the relay's cookie)
    /// before anything is forwarded to their address; token handshakes always must. Clients
    /// of this library answer the relay's challenge, other v0.8 clients cannot. 0 (the
    /// default) admits plain v0.8 peers as before. (This field was `reserved`, always 0,
    /// before ABI version 4.)
    pub require_return_path: u16,
    /// New GUIDs are refused while this many channels are open. Default 100 000; 1 to
    /// 1 073 741 824 (2^30).
    pub max_channels: u32,
    /// SO_RCVBUF / SO_SNDBUF to request (the kernel may clamp them); 0 keeps the system
    /// default. Default 4 MiB each; at most 1 073 741 824 (1 GiB).
    pub recv_buffer_bytes: u32,
    pub send_buffer_bytes: u32,
    /// Most datagrams one `relay_poll` handles, bounding the time it can take. Default 4096;
    /// 1 to 1 048 576.
    pub max_datagrams_per_poll: u32,
    /// Most queued events kept for `relay_next_event`; the rest are counted in
    /// `RelayStats::events_dropped`. Default 4096; 0 (every event dropped) to 1 048 576.
    pub max_pending_events: u32,
    /// Handshakes per second one source (an IPv4 address, or an IPv6 /64) may have
    /// verified, sustained; the excess is dropped unverified and counted in
    /// `RelayStats::handshakes_rate_limited`. A member's handshakes for its own channel
    /// are never charged. 0 = unlimited. Default 200; any value.
    pub handshake_rate_per_source: u32,
    /// Handshakes one source may send in a burst. Default 1000; at least 1 when
    /// `handshake_rate_per_source` is set (unused when it is 0).
    pub handshake_burst_per_source: u32,
    /// Half-open (one-peer) channels one source may hold; more are refused and counted in
    /// `RelayStats::handshakes_refused_pending`. 0 = unlimited. Default 512; any value.
    pub max_pending_per_source: u32,
    /// Sources whose handshake rate is tracked at once, bounding that table's memory
    /// (about 64 bytes each). Default 65 536; 1 to 16 777 216.
    pub max_tracked_sources: u32,
    /// Bytes per second each direction of a channel may carry; the excess is dropped and
    /// counted in `RelayStats::datagrams_over_bandwidth`. 0 (the default) = no cap; any
    /// value.
    pub channel_bandwidth_bytes_per_sec: u32,
    /// 1 = admit only handshakes carrying a valid seat token (see `relay_token_mint`); needs
    /// `secret_key`. 0 (the default) = plain v0.8 handshakes are admitted too. 0 or 1.
    pub require_tokens: u32,
}

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
    /// Datagrams from unpaired addresses that are not valid handshakes.
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

const CONFIG_SIZE: u32 = std::mem::size_of::<RelayConfig>() as u32;

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

fn default_config() -> RelayConfig {
    let d = relay::Config::default();
    RelayConfig {
        struct_size: CONFIG_SIZE,
        inactivity_timeout_ms: d.inactivity_timeout.as_millis() as u32,
        bind_address: std::ptr::null(),
        secret_key: std::ptr::null(),
        secret_key_len: 0,
        port: d.bind.port(),
        require_return_path: u16::from(d.require_return_path),
        max_channels: d.max_channels as u32,
        recv_buffer_bytes: d.recv_buffer_bytes as u32,
        send_buffer_bytes: d.send_buffer_bytes as u32,
        max_datagrams_per_poll: d.max_datagrams_per_poll as u32,
        max_pending_events: d.max_pending_events as u32,
        handshake_rate_per_source: d.limits.handshake_rate_per_source,
        handshake_burst_per_source: d.limits.handshake_burst_per_source,
        max_pending_per_source: d.limits.max_pending_per_source,
        max_tracked_sources: d.limits.max_tracked_sources as u32,
        channel_bandwidth_bytes_per_sec: d.limits.channel_bandwidth_bytes_per_sec as u32,
        require_tokens: u32::from(d.require_tokens),
    }
}

/// Fills `*out` with the defaults (dual-stack "::" port 6060, 30 s inactivity timeout, no
/// key, 100 000 channels, 4 MiB socket buffers, 200 handshakes/s (burst 1000) and 512 half-open
/// channels per source, no bandwidth cap, tokens not required). Returns `RELAY_STATUS_NULL_ARGUMENT` if
/// `out` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn relay_config_default(out: *mut RelayConfig) -> RelayStatus {
    guard(|| {
        if out.is_null() {
            return Err(FfiError::null("relay_config_default", "out"));
        }
        // SAFETY: `out` is non-NULL and the caller provides a writable RelayConfig.
        unsafe { write_out(out, default_config()) };
        Ok(())
    })
}

/// Parses an IP literal ("127.0.0.1", "::1", "[::1]"); NULL means dual-stack "::".
pub(crate) fn parse_bind_ip(text: Option<&str>) -> FfiResult<IpAddr> {
    let Some(text) = text else {
        return Ok(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    };
    let trimmed = text.trim();
    let bare = trimmed
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(trimmed);
    bare.parse().map_err(|_| {
        FfiError::new(
            RelayStatus::InvalidAddress,
            format!(
                "bind_address {text:?} is not an IPv4 or IPv6 address (the port goes in `port`)"
            ),
        )
    })
}

pub(crate) fn io_status(e: &std::io::Error) -> RelayStatus {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => RelayStatus::AddressInUse,
        std::io::ErrorKind::AddrNotAvailable => RelayStatus::InvalidAddress,
        std::io::ErrorKind::InvalidInput => RelayStatus::InvalidArgument,
        _ => RelayStatus::Io,
    }
}

/// The core config `c` stands for. Only the C-side encoding is checked here (reserved
/// bytes, the 0/1 flag, pointers and strings); the ranges of the values are
/// `relay::Config::validate`'s to judge.
fn core_config(c: &RelayConfig, function: &str) -> FfiResult<relay::Config> {
    if c.require_return_path > 1 {
        return Err(FfiError::invalid(format!(
            "{function}: require_return_path must be 0 or 1, not {}",
            c.require_return_path
        )));
    }
    if c.require_tokens > 1 {
        return Err(FfiError::invalid(format!(
            "{function}: require_tokens must be 0 or 1, not {}",
            c.require_tokens
        )));
    }
    // SAFETY: the caller passes a NUL-terminated string or NULL, valid for this call.
    let ip = parse_bind_ip(unsafe { opt_str(c.bind_address, "bind_address") }?)?;
    // SAFETY: `secret_key` points to `secret_key_len` bytes (or the length is 0).
    let key = unsafe { bytes(c.secret_key, c.secret_key_len, "secret_key") }?;
    Ok(relay::Config {
        bind: SocketAddr::new(ip, c.port),
        inactivity_timeout: Duration::from_millis(u64::from(c.inactivity_timeout_ms)),
        secret_key: (!key.is_empty()).then(|| key.to_vec()),
        max_channels: c.max_channels as usize,
        recv_buffer_bytes: c.recv_buffer_bytes as usize,
        send_buffer_bytes: c.send_buffer_bytes as usize,
        max_datagrams_per_poll: c.max_datagrams_per_poll as usize,
        max_pending_events: c.max_pending_events as usize,
        limits: Limits {
            handshake_rate_per_source: c.handshake_rate_per_source,
            handshake_burst_per_source: c.handshake_burst_per_source,
            max_pending_per_source: c.max_pending_per_source,
            max_tracked_sources: c.max_tracked_sources as usize,
            channel_bandwidth_bytes_per_sec: u64::from(c.channel_bandwidth_bytes_per_sec),
        },
        require_tokens: c.require_tokens == 1,
        require_return_path: c.require_return_path == 1,
        ..relay::Config::default()
    })
}

/// Reads a caller's `RelayConfig` (NULL, `struct_size`, encoding, then the core's ranges)
/// into the core config it stands for.
pub(super) fn read_config(config: *const RelayConfig, function: &str) -> FfiResult<relay::Config> {
    if config.is_null() {
        return Err(FfiError::null(function, "config"));
    }
    // SAFETY: non-NULL; the caller passes a readable RelayConfig. Only `struct_size` is
    // read first, so a smaller struct from another version is reported, not over-read.
    let size = unsafe { std::ptr::addr_of!((*config).struct_size).read() };
    if size != CONFIG_SIZE {
        return Err(FfiError::new(
            RelayStatus::VersionMismatch,
            format!(
                "{function}: config.struct_size is {size} but this library's RelayConfig is \
                 {CONFIG_SIZE} bytes (fill it with relay_config_default)"
            ),
        ));
    }
    // SAFETY: same pointer, and the size says it is a whole RelayConfig of this version.
    let c = unsafe { *config };
    let core = core_config(&c, function)?;
    core.validate()
        .map_err(|e| FfiError::invalid(format!("{function}: {e}")))?;
    Ok(core)
}

/// Binds a relay as `config` says and writes its handle to `*out_relay`.
///
/// Errors: `RELAY_STATUS_NULL_ARGUMENT`, `RELAY_STATUS_VERSION_MISMATCH` (struct_size),
/// `RELAY_STATUS_INVALID_ARGUMENT`, `RELAY_STATUS_INVALID_ADDRESS`,
/// `RELAY_STATUS_ADDRESS_IN_USE`, `RELAY_STATUS_IO`. `*out_relay` is written only on success.
///
/// Ownership: `config` and what it points to are only read during the call. The caller owns
/// the returned handle and must pass it to `relay_stop` exactly once.
#[unsafe(no_mangle)]
pub extern "C" fn relay_start(
    config: *const RelayConfig,
    out_relay: *mut *mut RelayHandle,
) -> RelayStatus {
    guard(|| {
        if out_relay.is_null() {
            return Err(FfiError::null("relay_start", "out_relay"));
        }
        let core = read_config(config, "relay_start")?;
        let bind = core.bind;
        let relay = Relay::bind(core).map_err(|e| {
            FfiError::new(
                io_status(&e),
                format!("relay_start: cannot bind {bind}: {e}"),
            )
        })?;
        let handle = RELAYS.insert(relay);
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out_relay, handle) };
        Ok(())
    })
}

/// Closes the socket and frees the relay. NULL is a no-op returning `RELAY_STATUS_OK`; a
/// handle already stopped returns `RELAY_STATUS_INVALID_HANDLE`. The handle must not be used
/// afterwards (doing so is detected and reported, never a crash).
#[unsafe(no_mangle)]
pub extern "C" fn relay_stop(relay: *mut RelayHandle) -> RelayStatus {
    guard(|| {
        if relay.is_null() {
            return Ok(());
        }
        let relay = RELAYS.remove(relay, "relay_stop")?;
        // Dropped here, or when a concurrent call on another thread lets go of it.
        drop(relay);
        Ok(())
    })
}

/// The UDP port the relay is bound to (useful with port 0), or 0 if `relay` is not valid.
#[unsafe(no_mangle)]
pub extern "C" fn relay_local_port(relay: *const RelayHandle) -> u16 {
    guard_value(0, || {
        Ok(RELAYS
            .get(relay, "relay_local_port")?
            .lock()
            .local_addr()
            .port())
    })
}

/// Copies the relay's counters into `*out`, a buffer of `out_size` bytes: pass
/// `sizeof(RelayStats)`.
///
/// Writes `min(out_size, sizeof(RelayStats) of this library)` bytes: a caller compiled against
/// an older, smaller `RelayStats` gets exactly the fields it knows, and bytes past this
/// library's struct are left untouched. Errors: `RELAY_STATUS_NULL_ARGUMENT`,
/// `RELAY_STATUS_INVALID_HANDLE`, `RELAY_STATUS_INVALID_ARGUMENT` if `out_size` is below
/// `RELAY_STATS_MIN_SIZE`. `*out` is written only on success.
///
/// Ownership: `out` is borrowed for the call and owned by the caller.
#[unsafe(no_mangle)]
pub extern "C" fn relay_get_stats(
    relay: *const RelayHandle,
    out: *mut RelayStats,
    out_size: usize,
) -> RelayStatus {
    guard(|| {
        let relay = RELAYS.get(relay, "relay_get_stats")?;
        if out.is_null() {
            return Err(FfiError::null("relay_get_stats", "out"));
        }
        check_out_size(
            "relay_get_stats",
            "RelayStats",
            out_size,
            RELAY_STATS_MIN_SIZE,
        )?;
        let stats: RelayStats = relay.lock().stats().into();
        // SAFETY: checked non-NULL; the caller provides `out_size` writable bytes.
        unsafe { write_out_prefix(out, out_size, &stats) };
        Ok(())
    })
}

/// Copies the counters of the open channel `*guid` into `*out`. Returns
/// `RELAY_STATUS_INVALID_ARGUMENT` if no such channel is open.
#[unsafe(no_mangle)]
pub extern "C" fn relay_get_channel(
    relay: *const RelayHandle,
    guid: *const RelayGuid,
    out: *mut RelayChannelCounters,
) -> RelayStatus {
    guard(|| {
        let relay = RELAYS.get(relay, "relay_get_channel")?;
        if guid.is_null() {
            return Err(FfiError::null("relay_get_channel", "guid"));
        }
        if out.is_null() {
            return Err(FfiError::null("relay_get_channel", "out"));
        }
        // SAFETY: checked non-NULL; the caller passes a readable RelayGuid.
        let guid: Guid = unsafe { *guid }.into();
        let info = relay.lock().channel(guid).ok_or_else(|| {
            FfiError::invalid(format!("relay_get_channel: no open channel {guid}"))
        })?;
        // SAFETY: checked non-NULL; the caller provides a writable RelayChannelCounters.
        unsafe { write_out(out, info.counters.into()) };
        Ok(())
    })
}

/// Takes the oldest queued event: returns 1 and fills `*out`, a buffer of `out_size` bytes
/// (pass `sizeof(RelayEvent)`), if there was one, 0 if the queue is empty, or a negative
/// `RelayStatus`. Drain it every tick; when more than `max_pending_events` pile up, new ones
/// are dropped and counted.
///
/// Writes `min(out_size, sizeof(RelayEvent) of this library)` bytes: a caller compiled against
/// an older, smaller `RelayEvent` gets exactly the fields it knows, and bytes past this
/// library's struct are left untouched. Errors: `RELAY_STATUS_NULL_ARGUMENT`,
/// `RELAY_STATUS_INVALID_HANDLE`, `RELAY_STATUS_INVALID_ARGUMENT` if `out_size` is below
/// `RELAY_EVENT_MIN_SIZE`; on error no event is taken from the queue and `*out` is untouched.
///
/// Ownership: `out` is borrowed for the call and owned by the caller.
#[unsafe(no_mangle)]
pub extern "C" fn relay_next_event(
    relay: *mut RelayHandle,
    out: *mut RelayEvent,
    out_size: usize,
) -> i32 {
    guard_count(|| {
        let relay = RELAYS.get(relay, "relay_next_event")?;
        if out.is_null() {
            return Err(FfiError::null("relay_next_event", "out"));
        }
        check_out_size(
            "relay_next_event",
            "RelayEvent",
            out_size,
            RELAY_EVENT_MIN_SIZE,
        )?;
        let Some(event) = relay.lock().next_event() else {
            return Ok(0);
        };
        let event: RelayEvent = event.into();
        // SAFETY: checked non-NULL; the caller provides `out_size` writable bytes.
        unsafe { write_out_prefix(out, out_size, &event) };
        Ok(1)
    })
}

/// Stops accepting new channels; open ones keep relaying until they expire. A
/// `RELAY_EVENT_KIND_DRAINED` event is queued when the last one closes (at once if none is
/// open). Calling it again is harmless.
#[unsafe(no_mangle)]
pub extern "C" fn relay_drain(relay: *mut RelayHandle) -> RelayStatus {
    guard(|| {
        RELAYS.get(relay, "relay_drain")?.lock().drain();
        Ok(())
    })
}

/// Writes `addr` as text ("1.2.3.4:5678" or "[::1]:5678") into `buf` of `buf_len` bytes,
/// NUL-terminated, and returns the text length (without the NUL), or a negative status:
/// `RELAY_STATUS_BUFFER_TOO_SMALL` (64 bytes always suffice), `RELAY_STATUS_INVALID_ARGUMENT`
/// for a family other than 4 or 6.
#[unsafe(no_mangle)]
pub extern "C" fn relay_address_format(
    addr: *const RelayAddress,
    buf: *mut c_char,
    buf_len: usize,
) -> i32 {
    guard_count(|| {
        if addr.is_null() {
            return Err(FfiError::null("relay_address_format", "addr"));
        }
        if buf.is_null() {
            return Err(FfiError::null("relay_address_format", "buf"));
        }
        // SAFETY: checked non-NULL; the caller passes a readable RelayAddress.
        let addr = unsafe { *addr };
        let text = addr
            .to_socket_addr()
            .ok_or_else(|| {
                FfiError::invalid(format!(
                    "relay_address_format: family {} is not 4 or 6",
                    addr.family
                ))
            })?
            .to_string();
        // SAFETY: `buf` is non-NULL with `buf_len` writable bytes.
        let out = unsafe { bytes_mut(buf.cast(), buf_len, "buf") }?;
        if out.len() < text.len() + 1 {
            return Err(FfiError::new(
                RelayStatus::BufferTooSmall,
                format!(
                    "relay_address_format: needs {} bytes, buffer has {buf_len}",
                    text.len() + 1
                ),
            ));
        }
        out[..text.len()].copy_from_slice(text.as_bytes());
        out[text.len()] = 0;
        Ok(text.len())
    })
}
