//! Admission control: what the relay checks before it spends CPU or memory on a stranger.
//!
//! - A token bucket per source limits how many handshakes it may have verified per second.
//!   The table of buckets is bounded: a bucket that has refilled completely carries no
//!   information and is forgotten, and when the table is full of active sources a newcomer
//!   is admitted untracked (and counted) rather than growing the table or shutting honest
//!   newcomers out.
//! - A source may hold only so many half-open (pending) channels at once.
//! - Optionally, each direction of a channel is held to a bandwidth cap.
//!
//! A *source* is an IPv4 address or an IPv6 /64 prefix: one subscriber usually owns a whole
//! /64, so keying by full IPv6 address would let one host pose as 2^64 sources.
//!
//! All clocks here are the relay's monotonic milliseconds; nothing in this module does I/O.

use std::collections::HashMap;

/// Source addresses are attacker-chosen: the tables keyed by them use a keyed (per-process
/// random) hasher, as fast as the channel index's and just as hard to flood.
type SourceMap<V> = HashMap<u128, V, foldhash::quality::RandomState>;
use std::net::IpAddr;

/// The limits a relay applies to sources and channels. `0` turns a limit off where noted.
/// Their ranges are checked with the rest of the relay's config, by
/// [`crate::relay::Config::validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Handshakes per second a source may have verified, sustained; 0 = unlimited. Any
    /// value; default 200. Only handshakes that may allocate or move something are charged:
    /// a member's handshakes for its own channel (retries while waiting, answers,
    /// keep-alives) cost nothing.
    pub handshake_rate_per_source: u32,
    /// Handshakes a source may send in a burst (the bucket size): at least 1 when
    /// `handshake_rate_per_source` is set, unused otherwise. Default 1000.
    pub handshake_burst_per_source: u32,
    /// Half-open channels one source may hold at once; 0 = unlimited. Any value; default 512.
    pub max_pending_per_source: u32,
    /// Sources whose handshake rate is tracked at once (bounds the bucket table, about 64
    /// bytes a source): 1 to [`crate::relay::MAX_TRACKED_SOURCES`] (16 777 216). Default
    /// 65 536.
    pub max_tracked_sources: usize,
    /// Bytes per second each direction of a channel may carry; 0 = no cap. At most
    /// [`crate::relay::MAX_CHANNEL_BANDWIDTH`] (1 TB/s); default 0.
    pub channel_bandwidth_bytes_per_sec: u64,
}

impl Default for Limits {
    fn default() -> Self {
        // Sized for players behind carrier-grade NAT, where hundreds of peers share one
        // address and may all start at once (see SECURITY.md, "Budgets behind NAT").
        Limits {
            handshake_rate_per_source: 200,
            handshake_burst_per_source: 1_000,
            max_pending_per_source: 512,
            max_tracked_sources: 65_536,
            channel_bandwidth_bytes_per_sec: 0,
        }
    }
}

/// The rate-limit and pending-count key of an address: IPv4 address, or IPv6 /64 prefix.
pub fn source_key(ip: IpAddr) -> u128 {
    match ip {
        // Tagged like an IPv4-mapped address so it cannot collide with an IPv6 prefix
        // (whose low 64 bits are always zero here).
        IpAddr::V4(v4) => (0xffff_u128 << 32) | u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6) & !(u128::from(u64::MAX)),
    }
}

/// A token bucket in thousandths of a token (or byte), refilled lazily on use.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    milli: u64,
    last_ms: u64,
}

impl Bucket {
    fn full(burst: u64, now_ms: u64) -> Bucket {
        Bucket {
            milli: burst.saturating_mul(1000),
            last_ms: now_ms,
        }
    }

    /// Refills at `rate` per second up to `burst`, then takes `cost` if there is that much.
    fn take(&mut self, cost: u64, rate: u64, burst: u64, now_ms: u64) -> bool {
        let elapsed = now_ms.saturating_sub(self.last_ms);
        self.last_ms = self.last_ms.max(now_ms);
        self.milli = self
            .milli
            .saturating_add(elapsed.saturating_mul(rate))
            .min(burst.saturating_mul(1000));
        let cost = cost.saturating_mul(1000);
        if self.milli >= cost {
            self.milli -= cost;
            true
        } else {
            false
        }
    }
}

/// What [`HandshakeLimiter::check`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateVerdict {
    /// Within the source's budget.
    Allowed,
    /// Over budget: drop without verifying.
    Limited,
    /// The table is full of active sources: admitted without tracking.
    Untracked,
}

/// Per-source handshake token buckets in a table of bounded size.
#[derive(Debug)]
pub struct HandshakeLimiter {
    rate: u64,
    burst: u64,
    capacity: usize,
    /// How long an untouched bucket takes to refill: after that it is forgettable.
    refill_ms: u64,
    buckets: SourceMap<Bucket>,
    /// A full table is swept at most once per this many ms, so a flood of new sources
    /// cannot make every handshake pay for a scan of the table.
    next_sweep_ms: u64,
}

impl HandshakeLimiter {
    pub fn new(limits: &Limits) -> HandshakeLimiter {
        let rate = u64::from(limits.handshake_rate_per_source);
        // A relay's limits arrive validated; the clamps keep a limiter made on its own sane.
        let burst = u64::from(limits.handshake_burst_per_source.max(1));
        HandshakeLimiter {
            rate,
            burst,
            capacity: limits.max_tracked_sources.max(1),
            refill_ms: if rate == 0 {
                0
            } else {
                (burst * 1000).div_ceil(rate)
            },
            buckets: SourceMap::default(),
            next_sweep_ms: 0,
        }
    }

    /// Charges one handshake to the source of `ip`.
    pub fn check(&mut self, ip: IpAddr, now_ms: u64) -> RateVerdict {
        if self.rate == 0 {
            return RateVerdict::Allowed;
        }
        let key = source_key(ip);
        let (rate, burst) = (self.rate, self.burst);
        if let Some(bucket) = self.buckets.get_mut(&key) {
            return if bucket.take(1, rate, burst, now_ms) {
                RateVerdict::Allowed
            } else {
                RateVerdict::Limited
            };
        }
        if self.buckets.len() >= self.capacity {
            if now_ms < self.next_sweep_ms {
                return RateVerdict::Untracked;
            }
            self.sweep(now_ms);
            if self.buckets.len() >= self.capacity {
                return RateVerdict::Untracked;
            }
        }
        let mut bucket = Bucket::full(burst, now_ms);
        bucket.take(1, rate, burst, now_ms);
        self.buckets.insert(key, bucket);
        RateVerdict::Allowed
    }

    /// Forgets every bucket that has refilled completely (it is the same as a new one).
    fn sweep(&mut self, now_ms: u64) {
        let refill = self.refill_ms;
        self.buckets
            .retain(|_, b| now_ms.saturating_sub(b.last_ms) < refill);
        self.next_sweep_ms = now_ms.saturating_add((refill / 4).clamp(10, 1000));
        if self.buckets.capacity() > 4 * self.buckets.len().max(256) {
            self.buckets.shrink_to_fit();
        }
    }

    /// Drops forgettable buckets if the table is large; called from the relay's idle path.
    pub fn maintain(&mut self, now_ms: u64) {
        if self.buckets.len() > 1024 && now_ms >= self.next_sweep_ms {
            self.sweep(now_ms);
        }
    }

    /// Sources tracked now.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

/// How many half-open channels each source holds.
#[derive(Debug, Default)]
pub struct PendingCounts {
    max: u32,
    counts: SourceMap<u32>,
}

impl PendingCounts {
    pub fn new(limits: &Limits) -> PendingCounts {
        PendingCounts {
            max: limits.max_pending_per_source,
            counts: SourceMap::default(),
        }
    }

    /// Whether the source of `ip` may open one more half-open channel.
    pub fn may_open(&self, ip: IpAddr) -> bool {
        self.max == 0 || self.counts.get(&source_key(ip)).copied().unwrap_or(0) < self.max
    }

    pub fn opened(&mut self, ip: IpAddr) {
        *self.counts.entry(source_key(ip)).or_insert(0) += 1;
    }

    /// A half-open channel of this source got its second peer or closed.
    pub fn settled(&mut self, ip: IpAddr) {
        let key = source_key(ip);
        if let Some(n) = self.counts.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.counts.remove(&key);
            }
        }
        if self.counts.is_empty() && self.counts.capacity() > 1024 {
            self.counts = SourceMap::default();
        }
    }

    /// Gives back the memory of sources that no longer hold a half-open channel (after a
    /// mass expiry).
    pub fn shrink_to_fit(&mut self) {
        self.counts.shrink_to_fit();
    }

    /// Sources the table has room for without growing.
    pub fn capacity(&self) -> usize {
        self.counts.capacity()
    }

    /// Half-open channels counted over all sources.
    pub fn total(&self) -> u64 {
        self.counts.values().map(|&n| u64::from(n)).sum()
    }

    /// Sources holding at least one half-open channel.
    pub fn sources(&self) -> usize {
        self.counts.len()
    }
}

/// Per-channel, per-direction bandwidth buckets, indexed by the relay's channel slot.
/// Empty (and never touched) when the cap is off.
#[derive(Debug, Default)]
pub struct BandwidthMeters {
    rate: u64,
    burst: u64,
    meters: Vec<[Bucket; 2]>,
}

impl BandwidthMeters {
    pub fn new(limits: &Limits) -> BandwidthMeters {
        let rate = limits.channel_bandwidth_bytes_per_sec;
        BandwidthMeters {
            rate,
            // One second of traffic, and never less than one datagram of any size.
            burst: rate.max(crate::protocol::MAX_DATAGRAM as u64),
            meters: Vec::new(),
        }
    }

    /// A channel was allocated in `slot`: it starts with full buckets.
    pub fn reset(&mut self, slot: u32, now_ms: u64) {
        if self.rate == 0 {
            return;
        }
        let i = slot as usize;
        if self.meters.len() <= i {
            self.meters.resize(i + 1, [Bucket::full(0, 0); 2]);
        }
        self.meters[i] = [Bucket::full(self.burst, now_ms); 2];
    }

    /// Whether `len` more bytes in direction `a_to_b` fit the channel's cap (and takes them).
    pub fn allow(&mut self, slot: u32, a_to_b: bool, len: usize, now_ms: u64) -> bool {
        if self.rate == 0 {
            return true;
        }
        let Some(m) = self.meters.get_mut(slot as usize) else {
            return true;
        };
        m[usize::from(!a_to_b)].take(len as u64, self.rate, self.burst, now_ms)
    }

    /// The relay renumbered its channel slots (`moves` holds old → new): each channel keeps
    /// its buckets, and the table shrinks with the relay's.
    pub fn renumber(&mut self, moves: &[(u32, u32)]) {
        if self.rate == 0 {
            return;
        }
        let old = std::mem::take(&mut self.meters);
        for &(from, to) in moves {
            if let Some(m) = old.get(from as usize) {
                let to = to as usize;
                if self.meters.len() <= to {
                    self.meters.resize(to + 1, [Bucket::full(0, 0); 2]);
                }
                self.meters[to] = *m;
            }
        }
    }
}

/// Refusals logged one by one per second, at most.
const REFUSAL_LINES_PER_SECOND: u32 = 10;

/// Logs refusals at debug level, at most [`REFUSAL_LINES_PER_SECOND`] a second; the rest
/// are summarised in one line per second, so a flood of bad datagrams cannot flood the log.
/// The counters in the relay's stats are exact either way.
#[derive(Debug, Default)]
pub struct RefusalLog {
    window_start_ms: u64,
    lines: u32,
    suppressed: u64,
}

impl RefusalLog {
    pub fn refusal(&mut self, now_ms: u64, what: std::fmt::Arguments<'_>) {
        if !log::log_enabled!(log::Level::Debug) {
            return;
        }
        self.roll(now_ms);
        if self.lines < REFUSAL_LINES_PER_SECOND {
            self.lines += 1;
            log::debug!("{what}");
        } else {
            self.suppressed += 1;
        }
    }

    /// Starts a new one-second window, first summarising what the last one left out.
    pub fn roll(&mut self, now_ms: u64) {
        if now_ms < self.window_start_ms.saturating_add(1000) {
            return;
        }
        if self.suppressed > 0 {
            log::debug!(
                "{} more refusals in the last {} ms not logged one by one (see the relay stats)",
                self.suppressed,
                now_ms - self.window_start_ms
            );
        }
        self.window_start_ms = now_ms;
        self.lines = 0;
        self.suppressed = 0;
    }
}

/// Everything admission control keeps for one relay.
#[derive(Debug)]
pub struct Admission {
    pub limiter: HandshakeLimiter,
    pub pending: PendingCounts,
    pub meters: BandwidthMeters,
    pub log: RefusalLog,
}

impl Admission {
    pub fn new(limits: &Limits) -> Admission {
        Admission {
            limiter: HandshakeLimiter::new(limits),
            pending: PendingCounts::new(limits),
            meters: BandwidthMeters::new(limits),
            log: RefusalLog::default(),
        }
    }

    /// Housekeeping from the relay's poll: forget refilled buckets, summarise the log.
    pub fn maintain(&mut self, now_ms: u64) {
        self.limiter.maintain(now_ms);
        self.log.roll(now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(rate: u32, burst: u32, tracked: usize) -> Limits {
        Limits {
            handshake_rate_per_source: rate,
            handshake_burst_per_source: burst,
            max_tracked_sources: tracked,
            ..Limits::default()
        }
    }

    fn v4(i: u32) -> IpAddr {
        IpAddr::V4(i.into())
    }

    #[test]
    fn bucket_allows_burst_then_rate() {
        let mut l = HandshakeLimiter::new(&limits(10, 5, 16));
        let ip = v4(1);
        for _ in 0..5 {
            assert_eq!(l.check(ip, 0), RateVerdict::Allowed);
        }
        assert_eq!(l.check(ip, 0), RateVerdict::Limited);
        // 10/s: one more token after 100 ms, not before.
        assert_eq!(l.check(ip, 99), RateVerdict::Limited);
        assert_eq!(l.check(ip, 100), RateVerdict::Allowed);
        assert_eq!(l.check(ip, 100), RateVerdict::Limited);
        // Other sources have their own bucket.
        assert_eq!(l.check(v4(2), 100), RateVerdict::Allowed);
    }

    #[test]
    fn table_stays_bounded_under_a_flood_of_sources() {
        let mut l = HandshakeLimiter::new(&limits(10, 5, 100));
        let mut untracked = 0;
        for i in 0..10_000 {
            if l.check(v4(i), 0) == RateVerdict::Untracked {
                untracked += 1;
            }
            assert!(l.tracked() <= 100);
        }
        assert_eq!(untracked, 10_000 - 100);
        // Once the buckets have refilled (500 ms) they are forgotten and new sources fit.
        assert_eq!(l.check(v4(20_000), 600), RateVerdict::Allowed);
        assert_eq!(l.tracked(), 1);
        // A heavy source that stays active is never forgotten, so it stays limited.
        for t in 0..50 {
            l.check(v4(7), 600 + t);
        }
        assert_eq!(l.check(v4(7), 650), RateVerdict::Limited);
    }

    #[test]
    fn ipv6_sources_are_keyed_by_slash_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(source_key(a), source_key(b));
        assert_ne!(source_key(a), source_key(c));
        assert_ne!(source_key(v4(0)), source_key("::".parse().unwrap()));
    }

    #[test]
    fn pending_counts_cap_and_settle() {
        let mut p = PendingCounts::new(&Limits {
            max_pending_per_source: 2,
            ..Limits::default()
        });
        let ip = v4(9);
        assert!(p.may_open(ip));
        p.opened(ip);
        p.opened(ip);
        assert!(!p.may_open(ip));
        assert!(p.may_open(v4(10)));
        p.settled(ip);
        assert!(p.may_open(ip));
        p.settled(ip);
        assert_eq!(p.sources(), 0);
    }

    #[test]
    fn bandwidth_cap_per_direction() {
        let mut m = BandwidthMeters::new(&Limits {
            channel_bandwidth_bytes_per_sec: 100_000,
            ..Limits::default()
        });
        m.reset(3, 0);
        // Burst is one second's worth: 100 000 bytes each way.
        assert!(m.allow(3, true, 60_000, 0));
        assert!(m.allow(3, true, 40_000, 0));
        assert!(!m.allow(3, true, 1, 0));
        assert!(m.allow(3, false, 100_000, 0), "other direction unaffected");
        // 10 ms refill 1000 bytes.
        assert!(m.allow(3, true, 1000, 10));
        assert!(!m.allow(3, true, 1, 10));
        let mut off = BandwidthMeters::new(&Limits::default());
        assert!(off.allow(0, true, usize::MAX / 2, 0));
    }
}
