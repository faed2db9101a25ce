//! The stats line: every counter of the relay's stats as `key=value` (the field names of
//! `udp_relay::relay::Stats`), with the kernel's drops at the socket and the draining flag,
//! one line per worker (led by `worker=N` when there are several).
//! As log fields, so the JSON format carries them as numbers.

use std::time::Duration;

use udp_relay::relay::Stats;

/// The fields of a stats line, in a fixed order.
pub fn fields(
    worker: Option<usize>,
    stats: &Stats,
    socket_drops: Option<u64>,
    draining: bool,
    uptime: Duration,
) -> Vec<(&'static str, u64)> {
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
    } = *stats;
    let mut fields = Vec::with_capacity(32);
    if let Some(worker) = worker {
        fields.push(("worker", worker as u64));
    }
    fields.extend([
        ("uptime_secs", uptime.as_secs()),
        ("draining", u64::from(draining)),
        ("channels_open", channels_open),
        ("channels_established", channels_established),
        ("channels_allocated_total", channels_allocated_total),
        ("channels_expired_total", channels_expired_total),
        ("datagrams_in", datagrams_in),
        ("bytes_in", bytes_in),
        ("datagrams_out", datagrams_out),
        ("bytes_out", bytes_out),
        ("datagrams_dropped", datagrams_dropped),
        ("datagrams_over_bandwidth", datagrams_over_bandwidth),
        ("handshakes_accepted", handshakes_accepted),
        ("handshakes_rejected", handshakes_rejected),
        ("handshakes_refused", handshakes_refused),
        ("handshakes_refused_full", handshakes_refused_full),
        ("handshakes_refused_pending", handshakes_refused_pending),
        ("handshakes_rate_limited", handshakes_rate_limited),
        ("handshakes_challenged", handshakes_challenged),
        ("handshakes_wrong_relay", handshakes_wrong_relay),
        ("datagrams_consumed", datagrams_consumed),
        ("probes_answered", probes_answered),
        ("rate_limit_untracked", rate_limit_untracked),
        ("tokens_invalid", tokens_invalid),
        ("tokens_expired", tokens_expired),
        ("tokens_replayed", tokens_replayed),
        ("peers_rebound", peers_rebound),
        ("recv_errors", recv_errors),
        ("send_errors", send_errors),
        ("events_dropped", events_dropped),
    ]);
    if let Some(drops) = socket_drops {
        fields.push(("socket_drops", drops));
    }
    fields
}

/// Logs the stats line at info level: the message `stats` and the fields.
pub fn log(fields: &[(&'static str, u64)]) {
    const TARGET: &str = "udp_relay_server::stats";
    if !log::log_enabled!(target: TARGET, log::Level::Info) {
        return;
    }
    log::logger().log(
        &log::Record::builder()
            .level(log::Level::Info)
            .target(TARGET)
            .module_path_static(Some(module_path!()))
            .file_static(Some(file!()))
            .args(format_args!("stats"))
            .key_values(&fields)
            .build(),
    );
}
