//! How a relay is set up, and the one place that says which settings are acceptable:
//! [`Config::validate`], which [`super::Relay::bind`] runs first. The C ABI and the host only
//! convert their types into a [`Config`] and report what it says.
//!
//! Every knob has a range. The bounds keep the relay's arithmetic in range (times are kept
//! in u64 milliseconds, a channel's last traffic modulo 2^32 ms, socket buffer sizes are a C
//! `int`), keep each table's memory to something a host can plan for, and keep one `poll`
//! from running unbounded.

use std::fmt;
use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::table;
use crate::admission::Limits;

/// Longest `inactivity_timeout`: a day. A channel's last traffic is kept modulo 2^32 ms
/// (49.7 days), so a timeout must stay well below that for an idle channel to be noticed
/// even when the host polls late.
pub const MAX_INACTIVITY_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// Most channels a relay can hold (`max_channels`): the table numbers its slots in 30 bits.
pub const MAX_CHANNELS: usize = table::MAX_SLOTS;
/// Largest socket buffer to ask for (`recv_buffer_bytes`, `send_buffer_bytes`): 1 GiB.
/// The kernel may grant less.
pub const MAX_SOCKET_BUFFER_BYTES: usize = 1 << 30;
/// Largest per-poll bound (`max_datagrams_per_poll`, `max_expiries_per_poll`) and event
/// queue (`max_pending_events`): 1 048 576.
pub const MAX_PER_POLL: usize = 1 << 20;
/// Largest rate-limit table (`max_tracked_sources`): 16 777 216 sources, about 1 GiB.
pub const MAX_TRACKED_SOURCES: usize = 1 << 24;
/// Largest per-direction bandwidth cap (`channel_bandwidth_bytes_per_sec`): 1 TB/s.
pub const MAX_CHANNEL_BANDWIDTH: u64 = 1_000_000_000_000;
/// Longest coalescing window (`coalesce_window`): 5 ms. A datagram can wait up to one
/// window on each pass through the relay, so this already adds up to 10 ms to a round trip,
/// more than a real-time game spends on anything but the network itself.
pub const MAX_COALESCE_WINDOW: Duration = Duration::from_millis(5);

/// How the relay is set up. [`Config::default`] binds dual-stack `[::]:6060`. Each field
/// says its range; [`Config::validate`] checks them all.
#[derive(Clone)]
pub struct Config {
    /// Address to bind; `[::]` is dual-stack and accepts IPv4 peers too.
    pub bind: SocketAddr,
    /// A channel, pending or established, closes after this long without a datagram.
    /// 1 ms to [`MAX_INACTIVITY_TIMEOUT`] (a day), in whole milliseconds. Default 30 s.
    pub inactivity_timeout: Duration,
    /// Raw HMAC key; `None` or a key of zero bytes (as in v0.8.2 and the C ABI) accepts
    /// handshakes without checking their mac field. [`crate::protocol::V08_DEFAULT_KEY`]
    /// makes the relay behave as a v0.8.2 relay run with its defaults, and secures nothing:
    /// that key is public.
    pub secret_key: Option<Vec<u8>>,
    /// New GUIDs are refused (and counted) while this many channels are open.
    /// 1 to [`MAX_CHANNELS`] (2^30). Default 100 000.
    pub max_channels: usize,
    /// SO_RCVBUF / SO_SNDBUF to ask for; 0 keeps the system default. At most
    /// [`MAX_SOCKET_BUFFER_BYTES`] (1 GiB). Default 4 MiB.
    pub recv_buffer_bytes: usize,
    pub send_buffer_bytes: usize,
    /// Most datagrams handled in one `poll`, so one call never runs unbounded.
    /// 1 to [`MAX_PER_POLL`]. Default 4096.
    pub max_datagrams_per_poll: usize,
    /// Most channels expired in one `poll`; the rest go in the next calls.
    /// 1 to [`MAX_PER_POLL`]. Default 1024.
    pub max_expiries_per_poll: usize,
    /// Events kept for [`super::Relay::next_event`]; beyond this they are counted and
    /// dropped. 0 (every event dropped) to [`MAX_PER_POLL`]. Default 4096.
    pub max_pending_events: usize,
    /// Per-source handshake rate and half-open cap, per-channel bandwidth cap (see
    /// `SECURITY.md`); their ranges are on [`Limits`].
    pub limits: Limits,
    /// Admit only handshakes carrying a valid seat token (see [`crate::token`]); needs
    /// `secret_key`. When false, plain v0.8 handshakes are admitted too.
    pub require_tokens: bool,
    /// Plain handshakes too must prove their return path (echo the relay's cookie, see
    /// [`crate::cookie`]) before they are admitted; token handshakes always must. Clients of
    /// this library answer the relay's challenge; other v0.8 clients cannot, so with this on
    /// they are not admitted. Off by default.
    pub require_return_path: bool,
    /// How long [`super::Relay::poll`] (given a timeout) lets datagrams gather in the socket
    /// after a light read (one that filled neither a receive batch nor the poll's budget)
    /// before it reads again, so that at game rates one wake-up relays many datagrams
    /// instead of one. It pauses only while traffic is steady enough for the window to
    /// gather two datagrams or more, and no longer than a full batch takes to arrive: at low
    /// rates, and at saturation, the relay behaves as without a window. A datagram may wait
    /// up to this long (plus the system's timer latency) on each pass through the relay; the
    /// first after a quiet spell does not. A poll with a zero timeout never waits. Ignored
    /// by [`super::RelayCore`], which has no socket. 0 (the default: every datagram is read
    /// as soon as it is there) to [`MAX_COALESCE_WINDOW`] (5 ms), in whole microseconds.
    pub coalesce_window: Duration,
    /// This relay's id in a fleet: v2 seat tokens (see [`crate::token`]) name the one relay
    /// they are valid on, and this relay admits only those naming it. 0 (the default) is no
    /// id: every v2 token is then another relay's. 0 to 4 294 967 295.
    pub relay_id: u32,
    /// The id of `secret_key`, which v2 tokens name. Any value; default 0.
    pub key_id: u32,
    /// The key `secret_key` replaces, during a rotation: v2 tokens naming
    /// `previous_key_id`, v1 tokens minted with it and plain handshakes keyed with it are
    /// accepted too (a second HMAC only for what the current key refuses). `None` or empty
    /// (the default): no rotation. Needs `secret_key`.
    pub previous_secret_key: Option<Vec<u8>>,
    /// The id of `previous_secret_key`; must differ from `key_id` while there is one.
    pub previous_key_id: u32,
    /// Refuse v1 seat tokens, which are valid on every relay holding the key: in a fleet,
    /// only relay-bound (v2) tokens pin a peer to its relay. Needs `secret_key` and a
    /// `relay_id`. Plain handshakes are governed by `require_tokens`, as ever. Off by default.
    pub require_token_v2: bool,
}

/// Every field but the key, which shows only whether there is one and its length: configs
/// end up in logs.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("inactivity_timeout", &self.inactivity_timeout)
            .field(
                "secret_key",
                &crate::protocol::Redacted(self.secret_key.as_deref()),
            )
            .field("max_channels", &self.max_channels)
            .field("recv_buffer_bytes", &self.recv_buffer_bytes)
            .field("send_buffer_bytes", &self.send_buffer_bytes)
            .field("max_datagrams_per_poll", &self.max_datagrams_per_poll)
            .field("max_expiries_per_poll", &self.max_expiries_per_poll)
            .field("max_pending_events", &self.max_pending_events)
            .field("limits", &self.limits)
            .field("require_tokens", &self.require_tokens)
            .field("require_return_path", &self.require_return_path)
            .field("coalesce_window", &self.coalesce_window)
            .field("relay_id", &self.relay_id)
            .field("key_id", &self.key_id)
            .field(
                "previous_secret_key",
                &crate::protocol::Redacted(self.previous_secret_key.as_deref()),
            )
            .field("previous_key_id", &self.previous_key_id)
            .field("require_token_v2", &self.require_token_v2)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 6060),
            inactivity_timeout: Duration::from_millis(30_000),
            secret_key: None,
            max_channels: 100_000,
            recv_buffer_bytes: 4 << 20,
            send_buffer_bytes: 4 << 20,
            max_datagrams_per_poll: 4096,
            max_expiries_per_poll: 1024,
            max_pending_events: 4096,
            limits: Limits::default(),
            require_tokens: false,
            require_return_path: false,
            coalesce_window: Duration::ZERO,
            relay_id: 0,
            key_id: 0,
            previous_secret_key: None,
            previous_key_id: 0,
            require_token_v2: false,
        }
    }
}

/// Why [`Config::validate`] refused a config. Its message names the field and its range.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `field` is `value`, outside `min..=max` (in `unit`, which may be empty).
    OutOfRange {
        field: &'static str,
        value: u128,
        min: u64,
        max: u64,
        unit: &'static str,
    },
    /// `require_tokens` is set without a `secret_key` to check tokens with.
    TokensNeedSecretKey,
    /// `field` breaks a rule that ties it to other fields; the message says which.
    Rule {
        field: &'static str,
        rule: &'static str,
    },
}

impl ConfigError {
    /// The config field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            ConfigError::OutOfRange { field, .. } => field,
            ConfigError::TokensNeedSecretKey => "require_tokens",
            ConfigError::Rule { field, .. } => field,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::OutOfRange {
                field,
                value,
                min,
                max,
                unit,
            } => {
                let unit = if unit.is_empty() {
                    String::new()
                } else {
                    format!(" {unit}")
                };
                write!(
                    f,
                    "{field} is {value}{unit}; it must be {min} to {max}{unit}"
                )
            }
            ConfigError::TokensNeedSecretKey => {
                f.write_str("require_tokens needs a secret_key to check tokens with")
            }
            ConfigError::Rule { field, rule } => write!(f, "{field} {rule}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// `value` must lie in `min..=max`.
fn check(
    field: &'static str,
    value: u128,
    min: u64,
    max: u64,
    unit: &'static str,
) -> Result<(), ConfigError> {
    if (u128::from(min)..=u128::from(max)).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            field,
            value,
            min,
            max,
            unit,
        })
    }
}

fn count(n: usize) -> u128 {
    n as u128
}

impl Config {
    /// The key handshakes are checked with: `None` when unset or empty.
    pub fn secret(&self) -> Option<&[u8]> {
        self.secret_key.as_deref().filter(|k| !k.is_empty())
    }

    /// The key being rotated out: `None` when unset or empty.
    pub fn previous_secret(&self) -> Option<&[u8]> {
        self.previous_secret_key
            .as_deref()
            .filter(|k| !k.is_empty())
    }

    /// The rules between the key and token settings (their values have no range of their
    /// own: every `u32` is an id).
    fn check_keys(&self) -> Result<(), ConfigError> {
        let rule = |field, rule| Err(ConfigError::Rule { field, rule });
        if self.previous_secret().is_some() {
            if self.secret().is_none() {
                return rule(
                    "previous_secret_key",
                    "needs a secret_key: the key that replaces it",
                );
            }
            if self.previous_key_id == self.key_id {
                return rule(
                    "previous_key_id",
                    "must differ from key_id: v2 tokens tell the two keys apart by id",
                );
            }
        }
        if self.require_token_v2 {
            if self.secret().is_none() {
                return rule(
                    "require_token_v2",
                    "needs a secret_key to check tokens with",
                );
            }
            if self.relay_id == 0 {
                return rule(
                    "require_token_v2",
                    "needs a relay_id (1 or more): v2 tokens name the relay they are for",
                );
            }
        }
        Ok(())
    }

    /// Checks every field against its documented range; the first one out of range is
    /// reported. [`super::Relay::bind`] calls it before anything else.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let max_timeout_ms = MAX_INACTIVITY_TIMEOUT.as_millis() as u64;
        check(
            "inactivity_timeout",
            self.inactivity_timeout.as_millis(),
            1,
            max_timeout_ms,
            "ms",
        )?;
        if self.require_tokens && self.secret().is_none() {
            return Err(ConfigError::TokensNeedSecretKey);
        }
        self.check_keys()?;
        let max = |n: usize| n as u64;
        check(
            "max_channels",
            count(self.max_channels),
            1,
            max(MAX_CHANNELS),
            "",
        )?;
        for (field, bytes) in [
            ("recv_buffer_bytes", self.recv_buffer_bytes),
            ("send_buffer_bytes", self.send_buffer_bytes),
        ] {
            check(
                field,
                count(bytes),
                0,
                max(MAX_SOCKET_BUFFER_BYTES),
                "bytes",
            )?;
        }
        check(
            "max_datagrams_per_poll",
            count(self.max_datagrams_per_poll),
            1,
            max(MAX_PER_POLL),
            "",
        )?;
        check(
            "max_expiries_per_poll",
            count(self.max_expiries_per_poll),
            1,
            max(MAX_PER_POLL),
            "",
        )?;
        check(
            "max_pending_events",
            count(self.max_pending_events),
            0,
            max(MAX_PER_POLL),
            "",
        )?;
        let l = &self.limits;
        if l.handshake_rate_per_source > 0 {
            check(
                "handshake_burst_per_source",
                u128::from(l.handshake_burst_per_source),
                1,
                u64::from(u32::MAX),
                "",
            )?;
        }
        check(
            "max_tracked_sources",
            count(l.max_tracked_sources),
            1,
            max(MAX_TRACKED_SOURCES),
            "",
        )?;
        check(
            "channel_bandwidth_bytes_per_sec",
            u128::from(l.channel_bandwidth_bytes_per_sec),
            0,
            MAX_CHANNEL_BANDWIDTH,
            "bytes/s",
        )?;
        check(
            "coalesce_window",
            self.coalesce_window.as_micros(),
            0,
            MAX_COALESCE_WINDOW.as_micros() as u64,
            "us",
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(tune: impl FnOnce(&mut Config)) -> ConfigError {
        let mut c = Config::default();
        tune(&mut c);
        c.validate().expect_err("out of range")
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let c = Config {
            secret_key: Some(b"hunter2-hunter2-hunter2".to_vec()),
            previous_secret_key: Some(b"swordfish-swordfish".to_vec()),
            previous_key_id: 1,
            ..Config::default()
        };
        let text = format!("{c:?}");
        assert!(text.contains("Some(<23 bytes, redacted>)"), "{text}");
        assert!(text.contains("Some(<19 bytes, redacted>)"), "{text}");
        assert!(
            !text.contains("104, 117") && !text.contains("hunter2"),
            "{text}"
        );
        assert!(
            !text.contains("115, 119") && !text.contains("swordfish"),
            "{text}"
        );
        let client = crate::client::ClientConfig {
            secret_key: c.secret_key.clone(),
            ..crate::client::ClientConfig::new(
                "127.0.0.1:1".parse().unwrap(),
                crate::protocol::Guid(1),
            )
        };
        let text = format!("{client:?}");
        assert!(
            text.contains("redacted") && !text.contains("104, 117"),
            "{text}"
        );
    }

    #[test]
    fn the_defaults_and_every_bound_are_accepted() {
        assert_eq!(Config::default().validate(), Ok(()));
        let edges = Config {
            inactivity_timeout: MAX_INACTIVITY_TIMEOUT,
            secret_key: Some(vec![7]),
            max_channels: MAX_CHANNELS,
            recv_buffer_bytes: MAX_SOCKET_BUFFER_BYTES,
            send_buffer_bytes: 0,
            max_datagrams_per_poll: MAX_PER_POLL,
            max_expiries_per_poll: 1,
            max_pending_events: 0,
            limits: Limits {
                handshake_rate_per_source: u32::MAX,
                handshake_burst_per_source: 1,
                max_pending_per_source: u32::MAX,
                max_tracked_sources: MAX_TRACKED_SOURCES,
                channel_bandwidth_bytes_per_sec: MAX_CHANNEL_BANDWIDTH,
            },
            require_tokens: true,
            coalesce_window: MAX_COALESCE_WINDOW,
            relay_id: u32::MAX,
            key_id: u32::MAX,
            previous_secret_key: Some(vec![8]),
            previous_key_id: 0,
            require_token_v2: true,
            ..Config::default()
        };
        assert_eq!(edges.validate(), Ok(()));
        // An empty previous key is no previous key, whatever its id.
        assert_eq!(
            Config {
                previous_secret_key: Some(vec![]),
                ..Config::default()
            }
            .validate(),
            Ok(())
        );
        let unlimited = Limits {
            handshake_rate_per_source: 0,
            handshake_burst_per_source: 0,
            max_pending_per_source: 0,
            ..Limits::default()
        };
        assert_eq!(
            Config {
                inactivity_timeout: Duration::from_millis(1),
                limits: unlimited,
                ..Config::default()
            }
            .validate(),
            Ok(()),
            "no burst is needed without a rate"
        );
    }

    #[test]
    fn every_knob_out_of_range_is_refused_by_name() {
        let cases: Vec<(&str, ConfigError)> = vec![
            (
                "inactivity_timeout",
                refused(|c| c.inactivity_timeout = Duration::ZERO),
            ),
            (
                "inactivity_timeout",
                refused(|c| c.inactivity_timeout = Duration::from_micros(999)),
            ),
            (
                "inactivity_timeout",
                refused(|c| {
                    c.inactivity_timeout = MAX_INACTIVITY_TIMEOUT + Duration::from_millis(1)
                }),
            ),
            (
                "inactivity_timeout",
                refused(|c| c.inactivity_timeout = Duration::from_millis(u64::MAX)),
            ),
            (
                "inactivity_timeout",
                refused(|c| c.inactivity_timeout = Duration::MAX),
            ),
            ("require_tokens", refused(|c| c.require_tokens = true)),
            (
                "previous_secret_key",
                refused(|c| c.previous_secret_key = Some(vec![1; 16])),
            ),
            (
                "previous_key_id",
                refused(|c| {
                    c.secret_key = Some(vec![1; 16]);
                    c.previous_secret_key = Some(vec![2; 16]);
                    (c.key_id, c.previous_key_id) = (3, 3);
                }),
            ),
            (
                "require_token_v2",
                refused(|c| {
                    c.relay_id = 1;
                    c.require_token_v2 = true;
                }),
            ),
            (
                "require_token_v2",
                refused(|c| {
                    c.secret_key = Some(vec![1; 16]);
                    c.require_token_v2 = true;
                }),
            ),
            ("max_channels", refused(|c| c.max_channels = 0)),
            (
                "max_channels",
                refused(|c| c.max_channels = MAX_CHANNELS + 1),
            ),
            (
                "recv_buffer_bytes",
                refused(|c| c.recv_buffer_bytes = MAX_SOCKET_BUFFER_BYTES + 1),
            ),
            (
                "send_buffer_bytes",
                refused(|c| c.send_buffer_bytes = usize::MAX),
            ),
            (
                "max_datagrams_per_poll",
                refused(|c| c.max_datagrams_per_poll = 0),
            ),
            (
                "max_datagrams_per_poll",
                refused(|c| c.max_datagrams_per_poll = MAX_PER_POLL + 1),
            ),
            (
                "max_expiries_per_poll",
                refused(|c| c.max_expiries_per_poll = 0),
            ),
            (
                "max_expiries_per_poll",
                refused(|c| c.max_expiries_per_poll = usize::MAX),
            ),
            (
                "max_pending_events",
                refused(|c| c.max_pending_events = MAX_PER_POLL + 1),
            ),
            (
                "handshake_burst_per_source",
                refused(|c| c.limits.handshake_burst_per_source = 0),
            ),
            (
                "max_tracked_sources",
                refused(|c| c.limits.max_tracked_sources = 0),
            ),
            (
                "max_tracked_sources",
                refused(|c| c.limits.max_tracked_sources = MAX_TRACKED_SOURCES + 1),
            ),
            (
                "channel_bandwidth_bytes_per_sec",
                refused(|c| c.limits.channel_bandwidth_bytes_per_sec = u64::MAX),
            ),
            (
                "coalesce_window",
                refused(|c| c.coalesce_window = MAX_COALESCE_WINDOW + Duration::from_micros(1)),
            ),
            (
                "coalesce_window",
                refused(|c| c.coalesce_window = Duration::MAX),
            ),
        ];
        for (field, err) in cases {
            assert_eq!(err.field(), field, "{err}");
            assert!(err.to_string().starts_with(field), "{err}");
        }
    }

    #[test]
    fn the_message_says_the_value_and_the_range() {
        assert_eq!(
            refused(|c| c.inactivity_timeout = Duration::ZERO).to_string(),
            "inactivity_timeout is 0 ms; it must be 1 to 86400000 ms"
        );
        assert_eq!(
            refused(|c| c.limits.max_tracked_sources = 0).to_string(),
            "max_tracked_sources is 0; it must be 1 to 16777216"
        );
        assert_eq!(
            refused(|c| c.coalesce_window = Duration::from_millis(6)).to_string(),
            "coalesce_window is 6000 us; it must be 0 to 5000 us"
        );
        assert_eq!(
            refused(|c| c.require_tokens = true).to_string(),
            "require_tokens needs a secret_key to check tokens with"
        );
        assert_eq!(
            refused(|c| c.previous_secret_key = Some(vec![1; 16])).to_string(),
            "previous_secret_key needs a secret_key: the key that replaces it"
        );
    }
}
