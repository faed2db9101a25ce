//! `relay_client_*`: join a channel with a socket the library owns, then exchange game
//! datagrams with the peer. Also the client config shared with `relay_handshake_new`.

use std::ffi::c_char;
use std::net::SocketAddr;
use std::time::Duration;

use super::error::{FfiError, FfiResult, RelayStatus, guard, guard_count, guard_value};
use super::handle::Registry;
use super::relay_config::io_status;
use super::token::{RELAY_TOKEN_LEN, RELAY_TOKEN_V2_LEN};
use super::types::{RelayGuid, bytes, bytes_mut, opt_str, write_out};
use super::versioned::{self, Versions};
use crate::client::{self, Client, ClientConfig, ClientError, State, Timing};
use crate::protocol::Guid;
use crate::token::Token;

/// A client with its own UDP socket. Opaque: created by `relay_client_connect`, freed by
/// `relay_client_close`.
///
/// Threading: calls on one handle are serialised by the library (`relay_client_poll` holds
/// the handle while it waits), so drive a client from one thread, e.g. the game thread.
pub struct RelayClient {
    _private: [u8; 0],
}

pub(super) static CLIENTS: Registry<Client, RelayClient> = Registry::new("client", 0xC11E_0000);

/// Where a client (or a `RelayHandshake`) stands. Returned as an `int32_t` by
/// `relay_client_state` / `relay_handshake_state`, next to negative `RelayStatus` values.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayClientState {
    /// Sending handshakes; the peer has not shown up yet.
    Handshaking = 1,
    /// The relay paired us with the peer: datagrams flow.
    Established = 2,
    /// No sign of the peer within `handshake_timeout_ms`. Final until a rejoin (or close and
    /// start again).
    TimedOut = 3,
    /// Closed. Final.
    Closed = 4,
    /// Was established, then nothing arrived from the relay for `peer_timeout_ms` (the relay
    /// restarted, was killed, or the peer vanished). Final until `relay_client_rejoin` /
    /// `relay_handshake_rejoin` with a new ticket (or close it and connect a new client).
    /// Added in ABI 3.
    Lost = 5,
}

impl From<State> for RelayClientState {
    fn from(s: State) -> Self {
        match s {
            State::Handshaking => RelayClientState::Handshaking,
            State::Established => RelayClientState::Established,
            State::TimedOut => RelayClientState::TimedOut,
            State::Closed => RelayClientState::Closed,
            State::Lost => RelayClientState::Lost,
        }
    }
}

/// How to join a channel. Fill it with `relay_client_config_default`, then set at least
/// `relay_address` (for `relay_client_connect`) and `guid` (or `token`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RelayClientConfig {
    /// `sizeof(RelayClientConfig)` as the caller compiled it; set by
    /// `relay_client_config_default`.
    pub struct_size: u32,
    /// First gap between handshakes, and the shortest gap between answers to the peer's
    /// handshakes once established. Default 250; 1 to 86 400 000 (a day), like every
    /// duration here.
    pub retry_interval_ms: u32,
    /// The relay as "host:port", "1.2.3.4:port" or "[v6]:port", resolved by the system
    /// resolver. Required by `relay_client_connect`, ignored by `relay_handshake_new`.
    /// Borrowed for the call only. Default NULL.
    pub relay_address: *const c_char,
    /// The channel GUID, agreed with the peer (see `relay_guid_new`, `relay_guid_parse`).
    /// Must not be zero (the default), unless `token` is set: then zero means the token's
    /// GUID, and any other value must be the token's.
    pub guid: RelayGuid,
    /// The relay's raw secret key bytes for the handshake HMAC; borrowed for the call only
    /// (the library keeps a copy). Length 0 (the default) for an unkeyed relay.
    pub secret_key: *const u8,
    pub secret_key_len: usize,
    /// The gap between handshakes doubles up to this. Default 2000; `retry_interval_ms` to
    /// 86 400 000.
    pub retry_backoff_max_ms: u32,
    /// Give up (`RELAY_STATUS_TIMED_OUT`) when not established this long after the start.
    /// Default 10 000; 1 to 86 400 000.
    pub handshake_timeout_ms: u32,
    /// Once established, send a keep-alive handshake after this long without sending
    /// anything; keep it well inside the relay's inactivity timeout (30 000 by default).
    /// Default 5000; 0 disables keep-alives, otherwise at most 86 400 000.
    pub keepalive_interval_ms: u32,
    /// Game datagrams the client queues for `relay_client_recv`; when full it stops reading
    /// its socket. Default 1024; must be > 0.
    pub max_queued_datagrams: u32,
    /// SO_RCVBUF / SO_SNDBUF to request (the kernel may clamp them); 0 keeps the system
    /// default. Default 1 MiB each.
    pub recv_buffer_bytes: u32,
    pub send_buffer_bytes: u32,
    /// The seat token the matchmaker minted for this peer with `relay_token_mint`
    /// (`token_len` `RELAY_TOKEN_LEN`) or `relay_token_mint_for_relay` (`RELAY_TOKEN_V2_LEN`),
    /// for a relay that admits by token. Every handshake and keep-alive then carries it with
    /// a fresh, growing sequence; no relay secret is needed. Borrowed for the call only (the
    /// library keeps a copy). NULL and 0 (the default): plain v0.8 handshakes. With a token,
    /// `relay_handshake_poll` needs a buffer of `RELAY_MAX_HANDSHAKE_LEN` bytes.
    pub token: *const u8,
    pub token_len: usize,
    /// Once established, give up (`RELAY_CLIENT_STATE_LOST`, then `RELAY_STATUS_PEER_LOST`
    /// from poll, send and receive) after this many milliseconds without receiving anything
    /// from the relay, game data or handshake: the relay restarted or the peer vanished.
    /// A quiet peer is heard only through its keep-alives, so both peers should keep
    /// `keepalive_interval_ms` on, and this must be longer than it (two to three keep-alive
    /// intervals leave room for a late tick), and at most 86 400 000. Default 0: off, an
    /// established client never gives up. Added in ABI 3: a caller built against the ABI 2
    /// header passes the shorter `struct_size` and gets 0.
    pub peer_timeout_ms: u32,
}

pub(crate) const CLIENT_CONFIG_SIZE: u32 = std::mem::size_of::<RelayClientConfig>() as u32;

/// `sizeof(RelayClientConfig)` in ABI 2, which ended at `token_len`: the fields up to
/// `peer_timeout_ms`, padded to the same alignment (appending a `u32` does not change it).
pub(crate) const CLIENT_CONFIG_SIZE_V2: u32 =
    std::mem::offset_of!(RelayClientConfig, peer_timeout_ms)
        .next_multiple_of(std::mem::align_of::<RelayClientConfig>()) as u32;

fn default_config() -> RelayClientConfig {
    let d = ClientConfig::new(std::net::SocketAddr::from(([0, 0, 0, 0], 0)), Guid::ZERO);
    let ms = |d: Duration| d.as_millis().min(u128::from(u32::MAX)) as u32;
    RelayClientConfig {
        struct_size: CLIENT_CONFIG_SIZE,
        retry_interval_ms: ms(d.timing.retry_interval),
        relay_address: std::ptr::null(),
        guid: RelayGuid::default(),
        secret_key: std::ptr::null(),
        secret_key_len: 0,
        retry_backoff_max_ms: ms(d.timing.retry_backoff_max),
        handshake_timeout_ms: ms(d.timing.handshake_timeout),
        keepalive_interval_ms: d.timing.keepalive_interval.map_or(0, ms),
        max_queued_datagrams: d.max_queued_datagrams as u32,
        recv_buffer_bytes: d.recv_buffer_bytes as u32,
        send_buffer_bytes: d.send_buffer_bytes as u32,
        token: std::ptr::null(),
        token_len: 0,
        peer_timeout_ms: d.timing.peer_timeout.map_or(0, ms),
    }
}

/// Fills `*out` with the defaults (no relay address, zero GUID, no key, no token, retries
/// every 250 ms backing off to 2 s, 10 s handshake timeout, keep-alive after 5 s of silence,
/// no peer timeout, 1024 queued datagrams, 1 MiB socket buffers), `struct_size` included.
/// Returns `RELAY_STATUS_NULL_ARGUMENT` if `out` is NULL.
#[unsafe(no_mangle)]
pub extern "C" fn relay_client_config_default(out: *mut RelayClientConfig) -> RelayStatus {
    guard(|| {
        if out.is_null() {
            return Err(FfiError::null("relay_client_config_default", "out"));
        }
        // SAFETY: `out` is non-NULL and the caller provides a writable RelayClientConfig.
        unsafe { write_out(out, default_config()) };
        Ok(())
    })
}

/// Reads a caller's config after checking it is non-NULL and of a version this library
/// knows: this one, or ABI 2's shorter struct (read as far as it goes, the peer timeout off).
pub(crate) fn read_config(
    config: *const RelayClientConfig,
    function: &str,
) -> FfiResult<RelayClientConfig> {
    const VERSIONS: Versions<RelayClientConfig> = Versions {
        name: "RelayClientConfig",
        filled_by: "relay_client_config_default",
        size: CLIENT_CONFIG_SIZE,
        older_size: CLIENT_CONFIG_SIZE_V2,
        older_abi: 2,
        // Fields past ABI 2's struct keep their defaults: no peer timeout.
        older_defaults: || RelayClientConfig {
            peer_timeout_ms: 0,
            ..default_config()
        },
    };
    // SAFETY: the caller passes NULL or a readable RelayClientConfig of some version, which
    // starts with its struct_size.
    unsafe { versioned::read(config, function, &VERSIONS) }
}

/// The handshake part of a config, validated.
pub(crate) struct HandshakeSetup {
    pub guid: Guid,
    pub key: Option<Vec<u8>>,
    pub token: Option<Token>,
    pub timing: Timing,
}

/// The handshake part of a config: GUID, key, token and timing, validated.
pub(crate) fn handshake_setup(c: &RelayClientConfig, function: &str) -> FfiResult<HandshakeSetup> {
    let token = read_token(c, function)?;
    let guid = match (Guid::from(c.guid), &token) {
        (g, Some(t)) if g.is_zero() => t.guid,
        (g, Some(t)) if g != t.guid => {
            return Err(FfiError::invalid(format!(
                "{function}: config.guid {g} is not the GUID {} the token was minted for \
                 (leave config.guid zero to use the token's)",
                t.guid
            )));
        }
        (g, _) => g,
    };
    if guid.is_zero() {
        return Err(FfiError::invalid(format!(
            "{function}: config.guid is zero (make one with relay_guid_new or relay_guid_parse)"
        )));
    }
    // SAFETY: `secret_key` points to `secret_key_len` bytes (or the length is 0).
    let key = unsafe { bytes(c.secret_key, c.secret_key_len, "config.secret_key") }?;
    let ms = |v: u32| Duration::from_millis(u64::from(v));
    let timing = Timing {
        retry_interval: ms(c.retry_interval_ms),
        retry_backoff_max: ms(c.retry_backoff_max_ms),
        handshake_timeout: ms(c.handshake_timeout_ms),
        keepalive_interval: (c.keepalive_interval_ms > 0).then(|| ms(c.keepalive_interval_ms)),
        peer_timeout: (c.peer_timeout_ms > 0).then(|| ms(c.peer_timeout_ms)),
    };
    timing
        .validate()
        .map_err(|m| FfiError::invalid(format!("{function}: {m}")))?;
    Ok(HandshakeSetup {
        guid,
        key: (!key.is_empty()).then(|| key.to_vec()),
        token,
        timing,
    })
}

/// The config's token, copied and checked for shape (its tag only the relay can check).
fn read_token(c: &RelayClientConfig, function: &str) -> FfiResult<Option<Token>> {
    // SAFETY: the caller guarantees `token_len` readable bytes at `token` for the call (or a
    // length of 0).
    unsafe { token_from_c(c.token, c.token_len, function, "config.token") }
}

/// A seat token passed from C as `token` and `token_len` (`what` names them in messages):
/// none for a length of 0, else copied and checked for shape.
///
/// # Safety
/// `token` is NULL or points to `token_len` readable bytes valid for the call.
pub(crate) unsafe fn token_from_c(
    token: *const u8,
    token_len: usize,
    function: &str,
    what: &str,
) -> FfiResult<Option<Token>> {
    if token_len == 0 {
        return Ok(None);
    }
    if token.is_null() {
        return Err(FfiError::null(function, what));
    }
    if token_len != RELAY_TOKEN_LEN && token_len != RELAY_TOKEN_V2_LEN {
        return Err(FfiError::invalid(format!(
            "{function}: {what}_len is {token_len} but a seat token is RELAY_TOKEN_LEN \
             ({RELAY_TOKEN_LEN}) bytes, as relay_token_mint writes it, or RELAY_TOKEN_V2_LEN \
             ({RELAY_TOKEN_V2_LEN}), as relay_token_mint_for_relay does"
        )));
    }
    // SAFETY: non-NULL, and the caller guarantees `token_len` readable bytes for the call.
    let raw = unsafe { bytes(token, token_len, what) }?;
    Token::from_bytes(raw)
        .map(Some)
        .map_err(|e| FfiError::invalid(format!("{function}: {what}: {e}")))
}

fn core_config(c: &RelayClientConfig) -> FfiResult<ClientConfig> {
    const F: &str = "relay_client_connect";
    let setup = handshake_setup(c, F)?;
    if c.max_queued_datagrams == 0 {
        return Err(FfiError::invalid(format!(
            "{F}: max_queued_datagrams must be > 0"
        )));
    }
    // SAFETY: the caller passes a NUL-terminated string or NULL, valid for this call.
    let text = unsafe { opt_str(c.relay_address, "config.relay_address") }?
        .ok_or_else(|| FfiError::null(F, "config.relay_address"))?;
    let relay = client::resolve_relay(text).map_err(|e| {
        FfiError::new(
            RelayStatus::InvalidAddress,
            format!("{F}: relay address {text:?}: {e} (expected \"host:port\" or \"[v6]:port\")"),
        )
    })?;
    Ok(ClientConfig {
        secret_key: setup.key,
        token: setup.token,
        timing: setup.timing,
        recv_buffer_bytes: c.recv_buffer_bytes as usize,
        send_buffer_bytes: c.send_buffer_bytes as usize,
        max_queued_datagrams: c.max_queued_datagrams as usize,
        ..ClientConfig::new(relay, setup.guid)
    })
}

/// Opens a non-blocking UDP socket of the relay's address family, sends the first handshake
/// and writes the client's handle to `*out_client`. Then call `relay_client_poll` regularly
/// until `relay_client_state` says established (or the poll reports
/// `RELAY_STATUS_TIMED_OUT`).
///
/// Errors: `RELAY_STATUS_NULL_ARGUMENT`, `RELAY_STATUS_VERSION_MISMATCH` (struct_size is
/// neither this header's nor ABI 2's), `RELAY_STATUS_INVALID_ARGUMENT` (zero GUID,
/// inconsistent timing such as a peer timeout not above the keep-alive, a token that is not
/// `RELAY_TOKEN_LEN` or `RELAY_TOKEN_V2_LEN` bytes or not a seat token, a GUID other than
/// the token's),
/// `RELAY_STATUS_INVALID_ADDRESS` (relay address does not resolve), `RELAY_STATUS_IO`.
/// `*out_client` is written only on success.
///
/// Ownership: `config` and what it points to are only read during the call. The caller owns
/// the returned handle and must pass it to `relay_client_close` exactly once.
#[unsafe(no_mangle)]
pub extern "C" fn relay_client_connect(
    config: *const RelayClientConfig,
    out_client: *mut *mut RelayClient,
) -> RelayStatus {
    guard(|| {
        let c = read_config(config, "relay_client_connect")?;
        if out_client.is_null() {
            return Err(FfiError::null("relay_client_connect", "out_client"));
        }
        let core = core_config(&c)?;
        let relay = core.relay;
        let client = Client::connect(core).map_err(|e| {
            FfiError::new(
                io_status(&e),
                format!("relay_client_connect: cannot open a socket towards {relay}: {e}"),
            )
        })?;
        let handle = CLIENTS.insert(client);
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out_client, handle) };
        Ok(())
    })
}

fn client_error(function: &str, client: &Client, e: ClientError) -> FfiError {
    let status = match &e {
        ClientError::NotEstablished => RelayStatus::NotEstablished,
        ClientError::TimedOut => return timed_out(function, client),
        ClientError::Closed => RelayStatus::InvalidHandle,
        ClientError::PeerLost => return peer_lost(function, client),
        ClientError::WouldBlock => RelayStatus::WouldBlock,
        ClientError::BufferTooSmall { .. } => RelayStatus::BufferTooSmall,
        ClientError::TooLarge { .. } => RelayStatus::InvalidArgument,
        ClientError::Io(io) => io_status(io),
    };
    FfiError::new(status, format!("{function}: {e}"))
}

pub(super) fn timed_out(function: &str, client: &Client) -> FfiError {
    FfiError::new(
        RelayStatus::TimedOut,
        format!(
            "{function}: no answer through relay {} for channel {}: check the relay address, \
             that the peer joined with the same GUID, and {}",
            client.relay_addr(),
            client.guid(),
            timeout_hint(client.has_token())
        ),
    )
}

pub(super) fn peer_lost(function: &str, client: &Client) -> FfiError {
    FfiError::new(
        RelayStatus::PeerLost,
        format!(
            "{function}: {}; ask for a new ticket and call relay_client_rejoin (or close this \
             client and connect a new one)",
            lost_reason(
                client.guid(),
                Some(client.relay_addr()),
                client.timing().peer_timeout
            )
        ),
    )
}

/// Why a channel counts as lost, for the messages of both client kinds.
pub(crate) fn lost_reason(
    guid: Guid,
    relay: Option<SocketAddr>,
    peer_timeout: Option<Duration>,
) -> String {
    let through = relay.map_or(String::new(), |r| format!(" through relay {r}"));
    format!(
        "channel {guid}: nothing received{through} for {} ms (peer_timeout_ms): the relay \
         restarted, the channel expired there, or the peer is gone",
        peer_timeout.unwrap_or_default().as_millis()
    )
}

/// What else to check when a handshake timed out.
pub(crate) fn timeout_hint(has_token: bool) -> &'static str {
    if has_token {
        "that the seat token was minted with the relay's secret and has not expired \
         (the relay checks the expiry against its own clock)"
    } else {
        "the secret key (or, if the relay requires seat tokens, set config.token)"
    }
}

/// The client's `RelayClientState` (>= 1), or a negative `RelayStatus`
/// (`RELAY_STATUS_NULL_ARGUMENT`, `RELAY_STATUS_INVALID_HANDLE` once closed).
#[unsafe(no_mangle)]
pub extern "C" fn relay_client_state(client: *const RelayClient) -> i32 {
    guard_count(|| {
        let client = CLIENTS.get(client, "relay_client_state")?;
        let state = client.lock().state();
        Ok(RelayClientState::from(state) as usize)
    })
}

/// Sends `len` bytes from `buf` as one datagram to the peer (at most `RELAY_MAX_DATAGRAM`;
/// `buf` may be NULL only if `len` is 0). Errors: `RELAY_STATUS_NOT_ESTABLISHED` while
/// handshaking, `RELAY_STATUS_TIMED_OUT`, `RELAY_STATUS_PEER_LOST`,
/// `RELAY_STATUS_WOULD_BLOCK` when the socket's send buffer is full (try again after the next
/// poll), `RELAY_STATUS_INVALID_ARGUMENT` (too long), `RELAY_STATUS_NULL_ARGUMENT` (`buf`
/// NULL with a nonzero `len`), `RELAY_STATUS_INVALID_HANDLE`, `RELAY_STATUS_IO`.
///
/// Ownership: `buf` is only read during the call.
#[unsafe(no_mangle)]
pub extern "C" fn relay_client_send(
    client: *mut RelayClient,
    buf: *const u8,
    len: usize,
) -> RelayStatus {
    guard(|| {
        let client = CLIENTS.get(client, "relay_client_send")?;
        // SAFETY: `buf` points to `len` readable bytes (or the length is 0).
        let data = unsafe { bytes(buf, len, "buf") }?;
        let mut client = client.lock();
        client
            .send(data)
            .map_err(|e| client_error("relay_client_send", &client, e))
    })
}

/// Moves the oldest game datagram from the peer into `buf` (capacity `cap` bytes) and writes
/// its length to `*out_len`. Errors: `RELAY_STATUS_WOULD_BLOCK` when nothing is queued,
/// `RELAY_STATUS_NOT_ESTABLISHED` while handshaking, `RELAY_STATUS_BUFFER_TOO_SMALL` when the
/// datagram is larger than `cap` (it stays queued, untruncated: call again with a larger
/// buffer; the message gives its size and `RELAY_MAX_DATAGRAM` bytes always suffice),
/// `RELAY_STATUS_TIMED_OUT`, `RELAY_STATUS_PEER_LOST` (once nothing is left queued),
/// `RELAY_STATUS_NULL_ARGUMENT`, `RELAY_STATUS_INVALID_HANDLE`. `buf` may be NULL only if
/// `cap` is 0. `*out_len` is written only on success.
///
/// Ownership: `buf` is borrowed for the call; the library keeps no pointer to it.
#[unsafe(no_mangle)]
pub extern "C" fn relay_client_recv(
    client: *mut RelayClient,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> RelayStatus {
    guard(|| {
        let client = CLIENTS.get(client, "relay_client_recv")?;
        if out_len.is_null() {
            return Err(FfiError::null("relay_client_recv", "out_len"));
        }
        // SAFETY: `buf` points to `cap` writable bytes (or `cap` is 0).
        let out = unsafe { bytes_mut(buf, cap, "buf") }?;
        let mut client = client.lock();
        let len = client
            .recv(out)
            .map_err(|e| client_error("relay_client_recv", &client, e))?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out_len, len) };
        Ok(())
    })
}

/// The local UDP port of the client's socket, or 0 if `client` is not valid.
#[unsafe(no_mangle)]
pub extern "C" fn relay_client_local_port(client: *const RelayClient) -> u16 {
    guard_value(0, || {
        Ok(CLIENTS
            .get(client, "relay_client_local_port")?
            .lock()
            .local_addr()
            .port())
    })
}

/// Closes the socket and frees the client; queued datagrams are dropped. NULL is a no-op
/// returning `RELAY_STATUS_OK`; a handle already closed returns `RELAY_STATUS_INVALID_HANDLE`.
/// The handle must not be used afterwards (doing so is detected and reported, never a crash).
#[unsafe(no_mangle)]
pub extern "C" fn relay_client_close(client: *mut RelayClient) -> RelayStatus {
    guard(|| {
        if client.is_null() {
            return Ok(());
        }
        let client = CLIENTS.remove(client, "relay_client_close")?;
        client.lock().close();
        // The socket closes here, or when a concurrent call on another thread lets go of it.
        drop(client);
        Ok(())
    })
}
