//! The channel-lifetime histogram, kept by the relay loop from its `Closed` events and
//! published with the stats, so `/metrics` reads it without touching the loop.

use std::time::Duration;

/// Bucket upper bounds in seconds: from a failed join (seconds) to a long session (hours).
pub const BOUNDS_SECS: [f64; 11] = [
    1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0,
];

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LifetimeHistogram {
    /// Closed channels per bucket (not cumulative); the last one is above every bound.
    per_bucket: [u64; BOUNDS_SECS.len() + 1],
    pub count: u64,
    pub sum_secs: f64,
}

impl LifetimeHistogram {
    pub fn observe(&mut self, lifetime: Duration) {
        let secs = lifetime.as_secs_f64();
        let bucket = BOUNDS_SECS
            .iter()
            .position(|&bound| secs <= bound)
            .unwrap_or(BOUNDS_SECS.len());
        self.per_bucket[bucket] += 1;
        self.count += 1;
        self.sum_secs += secs;
    }

    /// (upper bound, channels in that bucket alone), the last bound being +Inf.
    pub fn buckets(&self) -> [(f64, u64); BOUNDS_SECS.len() + 1] {
        let mut out = [(f64::INFINITY, 0); BOUNDS_SECS.len() + 1];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = (
                BOUNDS_SECS.get(i).copied().unwrap_or(f64::INFINITY),
                self.per_bucket[i],
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_land_in_their_buckets() {
        let mut h = LifetimeHistogram::default();
        for secs in [0.2, 1.0, 1.5, 20_000.0] {
            h.observe(Duration::from_secs_f64(secs));
        }
        let b = h.buckets();
        assert_eq!(b[0], (1.0, 2));
        assert_eq!(b[1], (5.0, 1));
        assert_eq!(b[BOUNDS_SECS.len()], (f64::INFINITY, 1));
        assert_eq!(b.iter().map(|&(_, n)| n).sum::<u64>(), 4);
        assert_eq!(h.count, 4);
        assert!((h.sum_secs - 20_002.7).abs() < 1e-6);
    }
}
