//! The fleet's relay processes: `udp-relay` on loopback ports (through `support::Service`),
//! each with its relay id, the fleet's key and its id, tokens (v2) required, and a drain
//! timeout; and their `/metrics`.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;

use super::{KEY, KEY_ID};
use crate::support::Service;

pub struct Relays {
    pub by_id: BTreeMap<u32, Service>,
    dir: PathBuf,
}

impl Relays {
    /// One relay per id, with the default per-source limits.
    pub fn start(ids: &[u32], drain_timeout: Duration) -> Relays {
        let dir =
            std::env::temp_dir().join(format!("udp-relay-fleet-pairs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let key_file = dir.join("fleet.key");
        std::fs::write(
            &key_file,
            base64::engine::general_purpose::STANDARD.encode(KEY),
        )
        .unwrap();
        // Others may not read it (the relay warns otherwise).
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let key_file = key_file.display().to_string();
        let key_id = KEY_ID.to_string();
        let drain = format!("{}ms", drain_timeout.as_millis());
        let by_id = ids
            .iter()
            .map(|&id| {
                let relay_id = id.to_string();
                let relay = Service::start(&[
                    "--relay-id",
                    &relay_id,
                    "--key-id",
                    &key_id,
                    "--secret-key-file",
                    &key_file,
                    "--require-tokens",
                    "--require-token-v2",
                    "--drain-timeout",
                    &drain,
                ]);
                (id, relay)
            })
            .collect();
        Relays { by_id, dir }
    }

    pub fn get(&self, id: u32) -> &Service {
        &self.by_id[&id]
    }

    pub fn get_mut(&mut self, id: u32) -> &mut Service {
        self.by_id.get_mut(&id).unwrap()
    }

    /// Relay `id`'s `/metrics`, read once.
    pub fn scrape(&self, id: u32) -> Metrics {
        let (status, text) = self.get(id).get("/metrics");
        assert_eq!(status, 200, "relay {id}: /metrics");
        Metrics { id, text }
    }
}

impl Drop for Relays {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One reading of a relay's `/metrics` (of its only worker).
pub struct Metrics {
    pub id: u32,
    text: String,
}

impl Metrics {
    /// The sum of the series named `name` whose labels include `label` (every one of them
    /// for `None`).
    pub fn sum(&self, name: &str, label: Option<&str>) -> u64 {
        let series: Vec<f64> = self
            .text
            .lines()
            .filter_map(|l| {
                let (labels, value) = l.strip_prefix(name)?.strip_prefix('{')?.split_once("} ")?;
                let wanted = label.is_none_or(|label| labels.split(',').any(|l| l == label));
                wanted.then(|| value.parse().unwrap())
            })
            .collect();
        assert!(!series.is_empty(), "relay {}: no {name} {label:?}", self.id);
        series.iter().sum::<f64>() as u64
    }

    /// v2 tokens refused as another relay's.
    pub fn wrong_relay(&self) -> u64 {
        self.sum(
            "udp_relay_handshakes_rejected_total",
            Some("reason=\"wrong_relay\""),
        )
    }

    pub fn established(&self) -> u64 {
        self.sum("udp_relay_channels", Some("state=\"established\""))
    }

    /// Handshakes refused for any reason (full, a source's pending cap, a replay, draining).
    pub fn refused(&self) -> u64 {
        self.sum("udp_relay_handshakes_refused_total", None)
    }

    pub fn rate_limited(&self) -> u64 {
        self.sum("udp_relay_handshakes_rate_limited_total", None)
    }
}
