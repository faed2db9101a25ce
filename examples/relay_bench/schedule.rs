//! The game-rate send schedule: every peer sends once per period at its own random phase,
//! each send moved earlier or later by a random jitter, as independent players' game loops
//! would. A binary heap of each peer's next send yields the sends in time order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

pub struct Schedule {
    period_ns: u64,
    /// Largest move of a send either side of its slot.
    jitter_ns: u64,
    /// Each peer's slot offset within the period.
    phase: Vec<u64>,
    /// Each peer's next slot number.
    slot: Vec<u64>,
    /// (due time in ns since the start, peer), earliest first.
    heap: BinaryHeap<Reverse<(u64, u32)>>,
    rng: SplitMix64,
}

impl Schedule {
    /// `peers` peers sending `rate_hz` times a second, each send up to `jitter` (a fraction of
    /// the period, at most 0.5) before or after its slot. The same seed gives the same sends.
    pub fn new(peers: u32, rate_hz: f64, jitter: f64, seed: u64) -> Schedule {
        let period_ns = (1e9 / rate_hz).max(1.0) as u64;
        let mut rng = SplitMix64(seed);
        let phase: Vec<u64> = (0..peers).map(|_| rng.below(period_ns)).collect();
        let mut s = Schedule {
            period_ns,
            jitter_ns: (period_ns as f64 * jitter.clamp(0.0, 0.5)) as u64,
            phase,
            slot: vec![0; peers as usize],
            heap: BinaryHeap::with_capacity(peers as usize),
            rng,
        };
        for peer in 0..peers {
            let due = s.due(peer);
            s.heap.push(Reverse((due, peer)));
        }
        s
    }

    /// When `peer`'s next slot is, jittered.
    fn due(&mut self, peer: u32) -> u64 {
        let nominal = self.phase[peer as usize] + self.slot[peer as usize] * self.period_ns;
        let offset = self.rng.below(2 * self.jitter_ns + 1);
        (nominal + offset).saturating_sub(self.jitter_ns)
    }

    /// When the earliest pending send is due (ns since the start).
    pub fn next_due(&self) -> u64 {
        self.heap.peek().map_or(u64::MAX, |Reverse((due, _))| *due)
    }

    /// The earliest send if it is due by `now`, as (due, peer); that peer's next send is
    /// scheduled one period on from its slot, so a late send does not shift the schedule.
    pub fn pop_due(&mut self, now: u64) -> Option<(u64, u32)> {
        let Reverse((due, peer)) = *self.heap.peek()?;
        if due > now {
            return None;
        }
        self.heap.pop();
        self.slot[peer as usize] += 1;
        let next = self.due(peer);
        self.heap.push(Reverse((next, peer)));
        Some((due, peer))
    }
}

/// A small, fast, seedable generator (SplitMix64): the schedule must be the same for the
/// relay and for each comparison, and needs no cryptographic quality.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0; the modulo bias is negligible for the periods used).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
