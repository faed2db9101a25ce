//! `/metrics`: every counter of the relay's stats, drops and refusals by reason, channels by
//! state, the channel-lifetime histogram, the kernel's drops at the socket, the draining flag
//! and the restarts of each worker (label `worker`, its index), and build info, encoded by
//! `prometheus-client` from the last published snapshots. No label names a GUID, an address
//! or a channel, so the series are a fixed, small set.

use std::sync::Arc;

use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use udp_relay::relay::Stats;

use crate::state::{Shared, Snapshot};

/// `Content-Type` of the two formats served.
pub const PROMETHEUS_TEXT: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
pub const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The registry `/metrics` encodes.
pub fn registry(shared: Arc<Shared>) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(RelayCollector { shared }));
    registry
}

/// Encodes `registry` as OpenMetrics text when `openmetrics`, else the Prometheus text
/// format 0.0.4.
pub fn encode(registry: &Registry, openmetrics: bool) -> Result<String, std::fmt::Error> {
    let mut out = String::with_capacity(8192);
    if openmetrics {
        prometheus_client::encoding::text::encode(&mut out, registry)?;
    } else {
        prometheus_client::encoding::prometheus_text::encode(&mut out, registry)?;
    }
    Ok(out)
}

#[derive(Debug)]
struct RelayCollector {
    shared: Arc<Shared>,
}

/// One metric family: its name (before the unit and `_total`), help, unit and type.
struct Family {
    name: &'static str,
    help: &'static str,
    unit: Option<Unit>,
    kind: MetricType,
}

const fn family(
    name: &'static str,
    help: &'static str,
    unit: Option<Unit>,
    kind: MetricType,
) -> Family {
    Family {
        name,
        help,
        unit,
        kind,
    }
}

const COUNTER: MetricType = MetricType::Counter;
const GAUGE: MetricType = MetricType::Gauge;

/// The families taken from a worker's stats, in the order served.
const FAMILIES: [Family; 20] = [
    family(
        "udp_relay_datagrams_received",
        "Datagrams read from the relay's socket",
        None,
        COUNTER,
    ),
    family(
        "udp_relay_received",
        "Bytes of the datagrams read",
        Some(Unit::Bytes),
        COUNTER,
    ),
    family(
        "udp_relay_datagrams_sent",
        "Datagrams forwarded to a peer",
        None,
        COUNTER,
    ),
    family(
        "udp_relay_sent",
        "Bytes of the datagrams forwarded",
        Some(Unit::Bytes),
        COUNTER,
    ),
    family(
        "udp_relay_datagrams_dropped",
        "Datagrams received and not forwarded, by reason",
        None,
        COUNTER,
    ),
    family(
        "udp_relay_handshakes_accepted",
        "Valid handshakes that allocated, refreshed, established or re-seated a channel",
        None,
        COUNTER,
    ),
    family(
        "udp_relay_handshakes_rejected",
        "Datagrams from unpaired addresses that are not a valid handshake, by reason",
        None,
        COUNTER,
    ),
    family(
        "udp_relay_handshakes_refused",
        "Valid handshakes refused, by reason",
        None,
        COUNTER,
    ),
    family(
        "udp_relay_handshakes_rate_limited",
        "Handshakes over their source's rate, dropped unverified",
        None,
        COUNTER,
    ),
    family(
        "udp_relay_handshakes_challenged",
        "Handshakes answered with a return-path challenge",
        None,
        COUNTER,
    ),
    family(
        "udp_relay_datagrams_consumed",
        "Datagrams the relay took itself: handshakes it absorbed or challenged, probes",
        None,
        COUNTER,
    ),
    family(
        "udp_relay_probes_answered",
        "Relay probes answered",
        None,
        COUNTER,
    ),
    family(
        "udp_relay_rate_limit_untracked",
        "Handshakes let through untracked because the rate-limit table was full",
        None,
        COUNTER,
    ),
    family(
        "udp_relay_peers_rebound",
        "Token seats moved to a new address (NAT rebinding)",
        None,
        COUNTER,
    ),
    family("udp_relay_channels", "Open channels, by state", None, GAUGE),
    family(
        "udp_relay_channels_max",
        "Channels open at most (max_channels)",
        None,
        GAUGE,
    ),
    family(
        "udp_relay_channels_opened",
        "Channels allocated",
        None,
        COUNTER,
    ),
    family(
        "udp_relay_channels_expired",
        "Channels closed for inactivity",
        None,
        COUNTER,
    ),
    family(
        "udp_relay_socket_errors",
        "Socket errors counted and survived, by operation",
        None,
        COUNTER,
    ),
    family(
        "udp_relay_events_dropped",
        "Channel events lost to a full event queue",
        None,
        COUNTER,
    ),
];

/// Families of the worker itself rather than of its relay's stats.
const SOCKET_DROPS: Family = family(
    "udp_relay_socket_drops",
    "Datagrams the kernel dropped at the relay's socket (receive buffer full)",
    None,
    COUNTER,
);
const DRAINING: Family = family(
    "udp_relay_draining",
    "1 while draining (refusing new channels before exit)",
    None,
    GAUGE,
);
const RESTARTS: Family = family(
    "udp_relay_worker_restarts",
    "Times the worker panicked and was started again alone (its channels lost)",
    None,
    COUNTER,
);

/// One sample of a worker: its family, its label besides `worker` (if any) and its value.
type Sample = (&'static str, Option<(&'static str, &'static str)>, u64);

/// Every sample of the families in [`FAMILIES`] for one worker's stats.
fn samples(snapshot: &Snapshot) -> Vec<Sample> {
    // No `..`: a counter added to the relay's stats does not compile until it is here.
    let Stats {
        datagrams_in,
        bytes_in,
        datagrams_out,
        bytes_out,
        datagrams_dropped,
        handshakes_rejected,
        handshakes_accepted,
        handshakes_refused,
        channels_open,
        channels_established,
        channels_allocated_total,
        channels_expired_total,
        recv_errors,
        send_errors,
        events_dropped,
        handshakes_rate_limited,
        handshakes_refused_full,
        handshakes_refused_pending,
        rate_limit_untracked,
        datagrams_over_bandwidth,
        tokens_invalid,
        tokens_expired,
        tokens_replayed,
        peers_rebound,
        handshakes_challenged,
        datagrams_consumed,
        probes_answered,
        handshakes_wrong_relay,
    } = snapshot.stats;
    // The relay counts these four causes inside its drop total; the rest are datagrams of a
    // half-open channel (no peer to go to yet) and forwards the kernel refused.
    let dropped_known = handshakes_rejected
        + handshakes_rate_limited
        + handshakes_refused
        + datagrams_over_bandwidth;
    let dropped = "udp_relay_datagrams_dropped";
    let rejected = "udp_relay_handshakes_rejected";
    let refused = "udp_relay_handshakes_refused";
    let channels = "udp_relay_channels";
    let errors = "udp_relay_socket_errors";
    vec![
        ("udp_relay_datagrams_received", None, datagrams_in),
        ("udp_relay_received", None, bytes_in),
        ("udp_relay_datagrams_sent", None, datagrams_out),
        ("udp_relay_sent", None, bytes_out),
        (
            dropped,
            Some(("reason", "handshake_rejected")),
            handshakes_rejected,
        ),
        (
            dropped,
            Some(("reason", "handshake_rate_limited")),
            handshakes_rate_limited,
        ),
        (
            dropped,
            Some(("reason", "handshake_refused")),
            handshakes_refused,
        ),
        (
            dropped,
            Some(("reason", "over_bandwidth")),
            datagrams_over_bandwidth,
        ),
        (
            dropped,
            Some(("reason", "no_peer_or_send_failed")),
            datagrams_dropped.saturating_sub(dropped_known),
        ),
        ("udp_relay_handshakes_accepted", None, handshakes_accepted),
        (rejected, Some(("reason", "token_invalid")), tokens_invalid),
        (rejected, Some(("reason", "token_expired")), tokens_expired),
        (
            rejected,
            Some(("reason", "wrong_relay")),
            handshakes_wrong_relay,
        ),
        (
            rejected,
            Some(("reason", "bad_handshake")),
            handshakes_rejected
                .saturating_sub(tokens_invalid + tokens_expired + handshakes_wrong_relay),
        ),
        (
            refused,
            Some(("reason", "channels_full")),
            handshakes_refused_full,
        ),
        (
            refused,
            Some(("reason", "pending_per_source")),
            handshakes_refused_pending,
        ),
        (refused, Some(("reason", "token_replayed")), tokens_replayed),
        (
            refused,
            Some(("reason", "draining_or_channel_taken")),
            handshakes_refused.saturating_sub(
                handshakes_refused_full + handshakes_refused_pending + tokens_replayed,
            ),
        ),
        (
            "udp_relay_handshakes_rate_limited",
            None,
            handshakes_rate_limited,
        ),
        (
            "udp_relay_handshakes_challenged",
            None,
            handshakes_challenged,
        ),
        ("udp_relay_datagrams_consumed", None, datagrams_consumed),
        ("udp_relay_probes_answered", None, probes_answered),
        ("udp_relay_rate_limit_untracked", None, rate_limit_untracked),
        ("udp_relay_peers_rebound", None, peers_rebound),
        (
            channels,
            Some(("state", "pending")),
            channels_open.saturating_sub(channels_established),
        ),
        (
            channels,
            Some(("state", "established")),
            channels_established,
        ),
        ("udp_relay_channels_max", None, snapshot.max_channels),
        ("udp_relay_channels_opened", None, channels_allocated_total),
        ("udp_relay_channels_expired", None, channels_expired_total),
        (errors, Some(("op", "receive")), recv_errors),
        (errors, Some(("op", "send")), send_errors),
        ("udp_relay_events_dropped", None, events_dropped),
    ]
}

/// What one worker contributes to a scrape.
struct WorkerView {
    label: String,
    snapshot: Snapshot,
    samples: Vec<Sample>,
    socket_drops: Option<u64>,
    restarts: u64,
}

impl Collector for RelayCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let views: Vec<WorkerView> = self
            .shared
            .workers
            .iter()
            .map(|worker| {
                let snapshot = worker.snapshot();
                WorkerView {
                    label: worker.index.to_string(),
                    samples: samples(&snapshot),
                    snapshot,
                    socket_drops: worker.socket_drops(),
                    restarts: worker.restarts.load(Ordering::Relaxed),
                }
            })
            .collect();
        for family in &FAMILIES {
            let series = views.iter().flat_map(|view| {
                view.samples
                    .iter()
                    .filter(|(name, _, _)| *name == family.name)
                    .map(|&(_, label, value)| (view.label.as_str(), label, value))
            });
            encode_family(&mut e, family, series)?;
        }
        let lifetimes = e.encode_descriptor(
            "udp_relay_channel_lifetime",
            "Lifetime of closed channels",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        );
        let mut lifetimes = lifetimes?;
        for view in &views {
            let h = view.snapshot.lifetimes;
            let labels = [("worker", view.label.as_str())];
            lifetimes
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(h.sum_secs, h.count, &h.buckets(), None)?;
        }
        // Absent where the kernel's count cannot be read (not Linux).
        let drops = views
            .iter()
            .filter_map(|v| Some((v.label.as_str(), None, v.socket_drops?)));
        encode_family(&mut e, &SOCKET_DROPS, drops)?;
        let draining = views
            .iter()
            .map(|v| (v.label.as_str(), None, u64::from(v.snapshot.draining)));
        encode_family(&mut e, &DRAINING, draining)?;
        let restarts = views.iter().map(|v| (v.label.as_str(), None, v.restarts));
        encode_family(&mut e, &RESTARTS, restarts)?;
        let mut metric = e.encode_descriptor(
            "udp_relay_build",
            "Version of the running relay",
            None,
            MetricType::Info,
        )?;
        metric.encode_info(&[("version", env!("CARGO_PKG_VERSION"))])?;
        Ok(())
    }
}

/// Encodes `family` with one series per (worker, other label, value); nothing at all when
/// there is none.
fn encode_family<'a>(
    e: &mut DescriptorEncoder,
    family: &Family,
    series: impl Iterator<Item = (&'a str, Option<(&'static str, &'static str)>, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut series = series.peekable();
    if series.peek().is_none() {
        return Ok(());
    }
    let mut metric =
        e.encode_descriptor(family.name, family.help, family.unit.as_ref(), family.kind)?;
    for (worker, label, value) in series {
        let labels: Vec<(&str, &str)> = label.into_iter().chain([("worker", worker)]).collect();
        let encoder = metric.encode_family(&labels)?;
        match family.kind {
            MetricType::Gauge => {
                ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX)).encode(encoder)?
            }
            _ => ConstCounter::new(value).encode(encoder)?,
        }
    }
    Ok(())
}
