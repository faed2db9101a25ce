//! `/metrics`: every counter of the relay's stats, drops and refusals by reason, channels by
//! state, the channel-lifetime histogram, the kernel's drops at the socket, the draining flag
//! and build info, encoded by `prometheus-client` from the last published snapshot. No label
//! names a GUID, an address or a channel, so the series are a fixed, small set.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use udp_relay::relay::Stats;

use crate::state::Shared;

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

impl Collector for RelayCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snapshot = self.shared.snapshot();
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
        let bytes = Some(&Unit::Bytes);

        counter(
            &mut e,
            "udp_relay_datagrams_received",
            "Datagrams read from the relay's socket",
            None,
            datagrams_in,
        )?;
        counter(
            &mut e,
            "udp_relay_received",
            "Bytes of the datagrams read",
            bytes,
            bytes_in,
        )?;
        counter(
            &mut e,
            "udp_relay_datagrams_sent",
            "Datagrams forwarded to a peer",
            None,
            datagrams_out,
        )?;
        counter(
            &mut e,
            "udp_relay_sent",
            "Bytes of the datagrams forwarded",
            bytes,
            bytes_out,
        )?;
        // The relay counts these four causes inside its drop total; the rest are datagrams of a
        // half-open channel (no peer to go to yet) and forwards the kernel refused.
        let dropped_known = handshakes_rejected
            + handshakes_rate_limited
            + handshakes_refused
            + datagrams_over_bandwidth;
        labelled(
            &mut e,
            "udp_relay_datagrams_dropped",
            "Datagrams received and not forwarded, by reason",
            MetricType::Counter,
            "reason",
            &[
                ("handshake_rejected", handshakes_rejected),
                ("handshake_rate_limited", handshakes_rate_limited),
                ("handshake_refused", handshakes_refused),
                ("over_bandwidth", datagrams_over_bandwidth),
                (
                    "no_peer_or_send_failed",
                    datagrams_dropped.saturating_sub(dropped_known),
                ),
            ],
        )?;
        counter(
            &mut e,
            "udp_relay_handshakes_accepted",
            "Valid handshakes that allocated, refreshed, established or re-seated a channel",
            None,
            handshakes_accepted,
        )?;
        labelled(
            &mut e,
            "udp_relay_handshakes_rejected",
            "Datagrams from unpaired addresses that are not a valid handshake, by reason",
            MetricType::Counter,
            "reason",
            &[
                ("token_invalid", tokens_invalid),
                ("token_expired", tokens_expired),
                ("wrong_relay", handshakes_wrong_relay),
                (
                    "bad_handshake",
                    handshakes_rejected
                        .saturating_sub(tokens_invalid + tokens_expired + handshakes_wrong_relay),
                ),
            ],
        )?;
        labelled(
            &mut e,
            "udp_relay_handshakes_refused",
            "Valid handshakes refused, by reason",
            MetricType::Counter,
            "reason",
            &[
                ("channels_full", handshakes_refused_full),
                ("pending_per_source", handshakes_refused_pending),
                ("token_replayed", tokens_replayed),
                (
                    "draining_or_channel_taken",
                    handshakes_refused.saturating_sub(
                        handshakes_refused_full + handshakes_refused_pending + tokens_replayed,
                    ),
                ),
            ],
        )?;
        counter(
            &mut e,
            "udp_relay_handshakes_rate_limited",
            "Handshakes over their source's rate, dropped unverified",
            None,
            handshakes_rate_limited,
        )?;
        counter(
            &mut e,
            "udp_relay_handshakes_challenged",
            "Handshakes answered with a return-path challenge",
            None,
            handshakes_challenged,
        )?;
        counter(
            &mut e,
            "udp_relay_datagrams_consumed",
            "Datagrams the relay took itself: handshakes it absorbed or challenged, probes",
            None,
            datagrams_consumed,
        )?;
        counter(
            &mut e,
            "udp_relay_probes_answered",
            "Relay probes answered",
            None,
            probes_answered,
        )?;
        counter(
            &mut e,
            "udp_relay_rate_limit_untracked",
            "Handshakes let through untracked because the rate-limit table was full",
            None,
            rate_limit_untracked,
        )?;
        counter(
            &mut e,
            "udp_relay_peers_rebound",
            "Token seats moved to a new address (NAT rebinding)",
            None,
            peers_rebound,
        )?;
        labelled(
            &mut e,
            "udp_relay_channels",
            "Open channels, by state",
            MetricType::Gauge,
            "state",
            &[
                (
                    "pending",
                    channels_open.saturating_sub(channels_established),
                ),
                ("established", channels_established),
            ],
        )?;
        gauge(
            &mut e,
            "udp_relay_channels_max",
            "Channels open at most (max_channels)",
            snapshot.max_channels,
        )?;
        counter(
            &mut e,
            "udp_relay_channels_opened",
            "Channels allocated",
            None,
            channels_allocated_total,
        )?;
        counter(
            &mut e,
            "udp_relay_channels_expired",
            "Channels closed for inactivity",
            None,
            channels_expired_total,
        )?;
        let lifetimes = snapshot.lifetimes;
        let metric = e.encode_descriptor(
            "udp_relay_channel_lifetime",
            "Lifetime of closed channels",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        encode_histogram(
            metric,
            lifetimes.sum_secs,
            lifetimes.count,
            &lifetimes.buckets(),
        )?;
        labelled(
            &mut e,
            "udp_relay_socket_errors",
            "Socket errors counted and survived, by operation",
            MetricType::Counter,
            "op",
            &[("receive", recv_errors), ("send", send_errors)],
        )?;
        counter(
            &mut e,
            "udp_relay_events_dropped",
            "Channel events lost to a full event queue",
            None,
            events_dropped,
        )?;
        if let Some(drops) = self.shared.socket_drops() {
            counter(
                &mut e,
                "udp_relay_socket_drops",
                "Datagrams the kernel dropped at the relay's socket (receive buffer full)",
                None,
                drops,
            )?;
        }
        gauge(
            &mut e,
            "udp_relay_draining",
            "1 while draining (refusing new channels before exit)",
            u64::from(snapshot.draining),
        )?;
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

fn counter(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(e.encode_descriptor(name, help, unit, metric.metric_type())?)
}

fn gauge(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
    metric.encode(e.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// One metric family with a single label taking each of `rows`' values.
fn labelled(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    label: &str,
    rows: &[(&str, u64)],
) -> Result<(), std::fmt::Error> {
    let mut metric = e.encode_descriptor(name, help, None, kind)?;
    for &(value, n) in rows {
        let labels = [(label, value)];
        let series = metric.encode_family(&labels)?;
        match kind {
            MetricType::Gauge => {
                ConstGauge::new(i64::try_from(n).unwrap_or(i64::MAX)).encode(series)?
            }
            _ => ConstCounter::new(n).encode(series)?,
        }
    }
    Ok(())
}

fn encode_histogram(
    mut metric: prometheus_client::encoding::MetricEncoder,
    sum: f64,
    count: u64,
    buckets: &[(f64, u64)],
) -> Result<(), std::fmt::Error> {
    metric.encode_histogram::<prometheus_client::encoding::NoLabelSet>(sum, count, buckets, None)
}
