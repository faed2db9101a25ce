//! One warning when a limit starts biting and one when it stops, judged once a second from
//! the counters each limit raises: the channel table, the per-source limits, the bandwidth
//! cap, the rate-limit table and the socket's receive buffer (kernel drops).

use std::time::{Duration, Instant};

use udp_relay::relay::Stats;

/// The log target of the warnings.
pub const LOG_TARGET: &str = "udp_relay_server::limits";
/// How often the counters are compared.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);
/// A limit has stopped biting once its counter has not moved for this long; shorter gaps
/// are one episode, so a limit biting on and off logs one pair of lines, not one a second.
pub const QUIET_FOR: Duration = Duration::from_secs(5);

struct Limit {
    /// The limit and the setting that sets it.
    name: &'static str,
    /// What its counter counts, after a number.
    what: &'static str,
    /// The counter.
    count: fn(&Stats, Option<u64>) -> u64,
}

const LIMITS: [Limit; 6] = [
    Limit {
        name: "channel table full (--max-channels)",
        what: "new channels refused",
        count: |s, _| s.handshakes_refused_full,
    },
    Limit {
        name: "per-source handshake rate (--handshake-rate-per-source)",
        what: "handshakes dropped",
        count: |s, _| s.handshakes_rate_limited,
    },
    Limit {
        name: "per-source half-open channels (--max-pending-per-source)",
        what: "new channels refused",
        count: |s, _| s.handshakes_refused_pending,
    },
    Limit {
        name: "channel bandwidth cap (--channel-bandwidth-bytes-per-sec)",
        what: "datagrams dropped",
        count: |s, _| s.datagrams_over_bandwidth,
    },
    Limit {
        name: "rate-limit table full (--max-tracked-sources)",
        what: "handshakes let through untracked",
        count: |s, _| s.rate_limit_untracked,
    },
    Limit {
        name: "socket receive buffer full (--recv-buffer-bytes, net.core.rmem_max)",
        what: "datagrams dropped by the kernel",
        count: |_, drops| drops.unwrap_or(0),
    },
];

/// An episode of a limit biting.
#[derive(Clone, Copy)]
struct Episode {
    since: Instant,
    last_seen: Instant,
    /// The counter when the episode began.
    start_count: u64,
}

pub struct LimitWatch {
    last_check: Instant,
    last_counts: [u64; LIMITS.len()],
    episodes: [Option<Episode>; LIMITS.len()],
}

impl LimitWatch {
    pub fn new(stats: &Stats, socket_drops: Option<u64>, now: Instant) -> LimitWatch {
        LimitWatch {
            last_check: now,
            last_counts: LIMITS.map(|l| (l.count)(stats, socket_drops)),
            episodes: [None; LIMITS.len()],
        }
    }

    /// Compares the counters with the last check's, at most once per [`CHECK_EVERY`], and
    /// returns a warning to log for each limit that started or stopped biting.
    pub fn check(&mut self, stats: &Stats, socket_drops: Option<u64>, now: Instant) -> Vec<String> {
        let mut warnings = Vec::new();
        let interval = now.saturating_duration_since(self.last_check);
        if interval < CHECK_EVERY {
            return warnings;
        }
        self.last_check = now;
        for (i, limit) in LIMITS.iter().enumerate() {
            let count = (limit.count)(stats, socket_drops);
            // A counter read as 0 after being unknown is not a decrease worth a warning.
            let delta = count.saturating_sub(self.last_counts[i]);
            let before = self.last_counts[i];
            self.last_counts[i] = count;
            match (&mut self.episodes[i], delta) {
                (None, 0) => {}
                (None, _) => {
                    warnings.push(format!(
                        "limit biting: {}: {delta} {} in the last {:.1}s",
                        limit.name,
                        limit.what,
                        interval.as_secs_f64()
                    ));
                    self.episodes[i] = Some(Episode {
                        since: now,
                        last_seen: now,
                        start_count: before,
                    });
                }
                (Some(episode), 0) => {
                    if now.saturating_duration_since(episode.last_seen) >= QUIET_FOR {
                        let lasted =
                            episode.last_seen.saturating_duration_since(episode.since) + interval;
                        warnings.push(format!(
                            "limit no longer biting: {}: {} {} over {:.0}s, none for {:.0}s",
                            limit.name,
                            count - episode.start_count.min(count),
                            limit.what,
                            lasted.as_secs_f64(),
                            QUIET_FOR.as_secs_f64()
                        ));
                        self.episodes[i] = None;
                    }
                }
                (Some(episode), _) => episode.last_seen = now,
            }
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_start_and_stop() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut stats = Stats::default();
        let mut watch = LimitWatch::new(&stats, None, t0);
        assert!(watch.check(&stats, None, at(1000)).is_empty());
        stats.handshakes_refused_full = 3;
        // Not before a second has passed since the last check.
        assert!(watch.check(&stats, None, at(1500)).is_empty());
        assert_eq!(
            watch.check(&stats, None, at(2000)),
            [
                "limit biting: channel table full (--max-channels): 3 new channels refused in the last 1.0s"
            ]
        );
        // On and off within the quiet period: the same episode.
        stats.handshakes_refused_full = 5;
        assert!(watch.check(&stats, None, at(4000)).is_empty());
        assert!(watch.check(&stats, None, at(8000)).is_empty());
        // Quiet for 5 s: it stopped; meanwhile another limit starts, each on its own.
        let both = watch.check(&stats, Some(7), at(9000));
        assert_eq!(
            both,
            [
                "limit no longer biting: channel table full (--max-channels): 5 new channels \
                 refused over 3s, none for 5s",
                "limit biting: socket receive buffer full (--recv-buffer-bytes, \
                 net.core.rmem_max): 7 datagrams dropped by the kernel in the last 1.0s"
            ]
        );
        assert!(watch.check(&stats, Some(7), at(13_000)).is_empty());
        assert_eq!(watch.check(&stats, Some(7), at(14_000)).len(), 1);
        assert!(watch.check(&stats, Some(7), at(30_000)).is_empty());
    }
}
