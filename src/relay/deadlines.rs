//! When each channel falls due: a min-heap of (deadline, slot), 8 bytes an entry. Deadlines
//! are kept as u32 milliseconds after a base that moves forward when a deadline no longer
//! fits, so the heap never wraps however long the relay runs.
//!
//! An entry's deadline is never later than its channel's real one (the relay checks the
//! channel when the entry comes up and pushes it back if it saw traffic since); rounding
//! only ever moves an entry earlier, which costs a look, never a late expiry.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[derive(Debug, Default)]
pub(super) struct Deadlines {
    heap: BinaryHeap<Reverse<(u32, u32)>>,
    base_ms: u64,
}

impl Deadlines {
    pub(super) fn with_capacity(n: usize) -> Deadlines {
        Deadlines {
            heap: BinaryHeap::with_capacity(n),
            base_ms: 0,
        }
    }

    /// The earliest entry: (deadline ms, slot).
    pub(super) fn peek(&self) -> Option<(u64, u32)> {
        self.heap
            .peek()
            .map(|&Reverse((rel, slot))| (self.base_ms.saturating_add(u64::from(rel)), slot))
    }

    pub(super) fn pop(&mut self) {
        self.heap.pop();
    }

    pub(super) fn push(&mut self, deadline_ms: u64, slot: u32) {
        if deadline_ms < self.base_ms {
            self.rebase(deadline_ms);
        } else if deadline_ms - self.base_ms > u64::from(u32::MAX) {
            let earliest = self.peek().map_or(deadline_ms, |(d, _)| d.min(deadline_ms));
            if earliest > self.base_ms {
                self.rebase(earliest);
            }
        }
        // Still out of range only if the heap spans more than 49 days: the entry comes up
        // early and is pushed again.
        let rel = (deadline_ms - self.base_ms).min(u64::from(u32::MAX)) as u32;
        self.heap.push(Reverse((rel, slot)));
    }

    /// Re-expresses every entry relative to `new_base`. Shifting all entries by the same
    /// amount keeps the heap order; where the shift saturates, entries only get earlier.
    fn rebase(&mut self, new_base: u64) {
        let (up, down) = (
            new_base.saturating_sub(self.base_ms),
            self.base_ms.saturating_sub(new_base),
        );
        let clamp = |v: u64| v.min(u64::from(u32::MAX)) as u32;
        let (up, down) = (clamp(up), clamp(down));
        let entries = std::mem::take(&mut self.heap).into_vec();
        self.heap = entries
            .into_iter()
            .map(|Reverse((rel, slot))| {
                Reverse((rel.saturating_sub(up).saturating_add(down), slot))
            })
            .collect();
        self.base_ms = new_base;
    }

    pub(super) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_deadlines_across_the_32_bit_horizon() {
        let mut d = Deadlines::default();
        d.push(5_000, 1);
        d.push(1_000, 2);
        assert_eq!(d.peek(), Some((1_000, 2)));
        d.pop();
        let far = 5_000 + (1u64 << 33);
        d.push(far, 3);
        assert_eq!(d.peek(), Some((5_000, 1)));
        d.pop();
        // Too far to express: it comes up early, never late, and goes back in.
        let (early, slot) = d.peek().unwrap();
        assert!(early < far && slot == 3);
        d.pop();
        d.push(far, 3);
        assert_eq!(d.peek(), Some((far, 3)));
        d.push(far - 10, 4);
        assert_eq!(d.peek(), Some((far - 10, 4)));
        d.pop();
        assert_eq!(d.peek(), Some((far, 3)));
    }
}
