//! One warning when a limit starts biting and one when it stops, judged once a second from
//! the counters each limit raises: the channel table, the per-source limits, the bandwidth
//! cap, the rate-limit table and the socket's receive buffer (kernel drops).

use std::time::{Duration, Instant};

use udp_relay::relay::Stats;

/// How often the counters are compared.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);
/// A limit has stopped biting once its counter has not moved for this long; shorter gaps
/// are one episode, so a limit biting on and off logs one pair of lines, not one a second.
pub const QUIET_FOR: Duration = Duration::from_secs(5);

struct Limit {
    /// The setting, as its flag names it.
    setting: &'static str,
    /// What its counter counts, after a number.
    what: &'static str,
    /// The counter.
    count: fn(&Stats, Option<u64>) -> u64,
}

const LIMITS: [Limit; 6] = [
    Limit {
        setting: "--max-channels",
        what: "new channels refused, the channel table being full",
        count: |s, _| s.handshakes_refused_full,
    },
    Limit {
        setting: "--handshake-rate-per-source",
        what: "handshakes dropped over their source's rate",
        count: |s, _| s.handshakes_rate_limited,
    },
    Limit {
        setting: "--max-pending-per-source",
        what: "new channels refused, their source holding too many half-open ones",
        count: |s, _| s.handshakes_refused_pending,
    },
    Limit {
        setting: "--channel-bandwidth-bytes-per-sec",
        what: "datagrams dropped over their channel's bandwidth cap",
        count: |s, _| s.datagrams_over_bandwidth,
    },
    Limit {
        setting: "--max-tracked-sources",
        what: "handshakes let through untracked, the rate-limit table being full",
        count: |s, _| s.rate_limit_untracked,
    },
    Limit {
        setting: "--recv-buffer-bytes (and net.core.rmem_max)",
        what: "datagrams dropped by the kernel, the socket's receive buffer being full",
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
    /// logs the limits that started or stopped biting.
    pub fn check(&mut self, stats: &Stats, socket_drops: Option<u64>, now: Instant) {
        let interval = now.saturating_duration_since(self.last_check);
        if interval < CHECK_EVERY {
            return;
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
                    log::warn!(
                        "limit biting: {delta} {} in the last {:.1}s (see {})",
                        limit.what,
                        interval.as_secs_f64(),
                        limit.setting
                    );
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
                        log::warn!(
                            "limit no longer biting: {} {} over {:.0}s, none in the last {:.0}s ({})",
                            count - episode.start_count.min(count),
                            limit.what,
                            lasted.as_secs_f64(),
                            QUIET_FOR.as_secs_f64(),
                            limit.setting
                        );
                        self.episodes[i] = None;
                    }
                }
                (Some(episode), _) => episode.last_seen = now,
            }
        }
    }
}
