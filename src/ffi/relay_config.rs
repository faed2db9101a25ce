//! `RelayConfig`: how a relay is set up through the C ABI, its defaults, and how it becomes
//! the core's `relay::Config` (whose `validate` owns every range).

use std::ffi::c_char;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::error::{FfiError, FfiResult, RelayStatus, guard};
use super::types::{bytes, opt_str, write_out};
use super::versioned::{self, Versions};
use crate::admission::Limits;
use crate::relay;

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
    /// Microseconds `relay_poll` with a timeout lets datagrams gather after a call that found
    /// the socket nearly empty, so one wake-up relays many datagrams at game rates: less CPU
    /// per datagram, for up to this much more latency per pass through the relay (the first
    /// datagram after a quiet spell is not delayed; at low rates and at saturation nothing
    /// waits). `relay_poll(relay, 0)` never waits, and `relay_core_new` ignores it. Default
    /// 0 (read every datagram at once); 0 to 5 000.
    /// Added in ABI 5: a caller built against the ABI 4 header passes the shorter
    /// `struct_size` and gets 0.
    pub coalesce_window_us: u32,
    /// This relay's id in a fleet: it admits v2 seat tokens (`relay_token_mint_for_relay`)
    /// minted for this id only, and counts authentic ones for another id in
    /// `RelayStats::handshakes_wrong_relay`. 0 (the default) = no id: every v2 token is
    /// another relay's. 0 to 4 294 967 295. Added in ABI 5, like every field below.
    pub relay_id: u32,
    /// The id of `secret_key`, which v2 tokens name. Default 0; any value.
    pub key_id: u32,
    /// The id of `previous_secret_key`; must differ from `key_id` while that key is set.
    /// Default 0.
    pub previous_key_id: u32,
    /// 1 = refuse v1 seat tokens (valid on every relay holding the key), admitting only
    /// relay-bound (v2) ones; needs `secret_key` and a `relay_id`. 0 (the default) = both
    /// versions. 0 or 1. Plain handshakes are governed by `require_tokens`.
    pub require_token_v2: u32,
    /// During a key rotation, the key `secret_key` replaces: v2 tokens naming
    /// `previous_key_id`, v1 tokens minted with it and plain handshakes keyed with it are
    /// admitted too. Needs `secret_key`. Borrowed for the call only (the relay keeps its own
    /// copy). Length 0 (the default): no rotation.
    pub previous_secret_key: *const u8,
    pub previous_secret_key_len: usize,
}

const CONFIG_SIZE: u32 = std::mem::size_of::<RelayConfig>() as u32;

/// `sizeof(RelayConfig)` in ABI 4, which ended at `require_tokens`: the fields up to
/// `coalesce_window_us`, padded to the struct's alignment (which appending a `u32` keeps).
const CONFIG_SIZE_V4: u32 = std::mem::offset_of!(RelayConfig, coalesce_window_us)
    .next_multiple_of(std::mem::align_of::<RelayConfig>()) as u32;

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
        coalesce_window_us: d.coalesce_window.as_micros() as u32,
        relay_id: d.relay_id,
        key_id: d.key_id,
        previous_key_id: d.previous_key_id,
        require_token_v2: u32::from(d.require_token_v2),
        previous_secret_key: std::ptr::null(),
        previous_secret_key_len: 0,
    }
}

/// Fills `*out` with the defaults (dual-stack "::" port 6060, 30 s inactivity timeout, no
/// key, 100 000 channels, 4 MiB socket buffers, 200 handshakes/s (burst 1000) and 512 half-open
/// channels per source, no bandwidth cap, tokens not required, no relay id, no previous key,
/// no coalescing window). Returns `RELAY_STATUS_NULL_ARGUMENT` if `out` is NULL.
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
    for (field, value) in [
        ("require_tokens", c.require_tokens),
        ("require_token_v2", c.require_token_v2),
    ] {
        if value > 1 {
            return Err(FfiError::invalid(format!(
                "{function}: {field} must be 0 or 1, not {value}"
            )));
        }
    }
    // SAFETY: the caller passes a NUL-terminated string or NULL, valid for this call.
    let ip = parse_bind_ip(unsafe { opt_str(c.bind_address, "bind_address") }?)?;
    // SAFETY: `secret_key` points to `secret_key_len` bytes (or the length is 0).
    let key = unsafe { bytes(c.secret_key, c.secret_key_len, "secret_key") }?;
    // SAFETY: `previous_secret_key` points to `previous_secret_key_len` bytes (or the length
    // is 0).
    let previous = unsafe {
        bytes(
            c.previous_secret_key,
            c.previous_secret_key_len,
            "previous_secret_key",
        )
    }?;
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
        coalesce_window: Duration::from_micros(u64::from(c.coalesce_window_us)),
        relay_id: c.relay_id,
        key_id: c.key_id,
        previous_secret_key: (!previous.is_empty()).then(|| previous.to_vec()),
        previous_key_id: c.previous_key_id,
        require_token_v2: c.require_token_v2 == 1,
        ..relay::Config::default()
    })
}

/// Reads a caller's `RelayConfig` (NULL, `struct_size`, encoding, then the core's ranges)
/// into the core config it stands for. ABI 4's shorter struct is read as far as it goes, the
/// fields after it at their defaults.
pub(super) fn read_config(config: *const RelayConfig, function: &str) -> FfiResult<relay::Config> {
    let c = read_versioned(config, function)?;
    let core = core_config(&c, function)?;
    core.validate()
        .map_err(|e| FfiError::invalid(format!("{function}: {e}")))?;
    Ok(core)
}

/// The caller's `RelayConfig` after checking it is non-NULL and of a version this library
/// knows: this one, or ABI 4's (no coalescing window, no fleet fields).
fn read_versioned(config: *const RelayConfig, function: &str) -> FfiResult<RelayConfig> {
    const VERSIONS: Versions<RelayConfig> = Versions {
        name: "RelayConfig",
        filled_by: "relay_config_default",
        size: CONFIG_SIZE,
        older_size: CONFIG_SIZE_V4,
        older_abi: 4,
        // Fields past ABI 4's struct keep ABI 4's behaviour: no coalescing window (the
        // fleet fields' defaults are already ABI 4's: no relay id, no previous key).
        older_defaults: || RelayConfig {
            coalesce_window_us: 0,
            ..default_config()
        },
    };
    // SAFETY: the caller passes NULL or a readable RelayConfig of some version, which starts
    // with its struct_size.
    unsafe { versioned::read(config, function, &VERSIONS) }
}
