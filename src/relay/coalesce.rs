//! The coalescing window of the socket relay ([`super::Config::coalesce_window`]): when a
//! poll found the socket nearly empty, the next poll that may wait lets datagrams gather for
//! a while before reading, so one wake-up relays many datagrams instead of one.
//!
//! Why after a light read, and not after the wake-up: a relay waiting on its socket wakes
//! for the first datagram that arrives. Handling that one at once and pausing only before
//! the *next* read gives the same batches under steady traffic (every read but the first
//! follows a pause) while the first datagram after a quiet spell, or a lone one, is not
//! delayed at all. Pausing after the wake-up instead would hold every datagram back,
//! including those of a quiet channel that has nothing to share a wake-up with.
//!
//! Why bounded by a batch: a read that filled a receive batch (or the poll's budget) says
//! the socket is busy, and reading again at once already gathers a full batch; pausing then
//! would only add latency. So a busy relay (saturation) never pauses, and a light read
//! pauses at most as long as a full batch takes to arrive at the rate just seen, and never
//! longer than the window.

use std::time::{Duration, Instant};

/// When the next read should happen, from what the last polls read. Time policy only: the
/// pause itself is the caller's (see [`super::Relay::poll`] and the C ABI's `relay_poll`).
#[derive(Debug)]
pub(super) struct Coalescer {
    window: Duration,
    /// When the socket was last read (at the end of the last poll).
    last_read: Option<Instant>,
    /// Until when the next poll that may wait should let datagrams gather.
    read_at: Option<Instant>,
}

impl Coalescer {
    pub(super) fn new(window: Duration) -> Coalescer {
        Coalescer {
            window,
            last_read: None,
            read_at: None,
        }
    }

    /// Whether a window is set at all: without one, nothing is recorded and nothing pauses.
    pub(super) fn is_on(&self) -> bool {
        !self.window.is_zero()
    }

    /// Records a poll's reads, which ended at `now` having handled `handled` datagrams,
    /// where `full` is what a busy socket gives one poll (a receive batch, or the poll's
    /// budget if smaller).
    pub(super) fn after_reads(&mut self, handled: usize, full: usize, now: Instant) {
        let light = handled > 0 && handled < full;
        self.read_at = light.then(|| {
            // `handled` datagrams arrived since the previous read: a full batch takes
            // `full / handled` times as long at that rate.
            let gather = self.last_read.and_then(|previous| {
                let since = now.saturating_duration_since(previous);
                let (full, handled) = (u32::try_from(full).ok()?, u32::try_from(handled).ok()?);
                since.checked_mul(full).map(|d| d / handled)
            });
            now + gather.map_or(self.window, |d| d.min(self.window))
        });
        self.last_read = Some(now);
    }

    /// How long to let datagrams gather before the next read, as of `now`: zero unless the
    /// last poll's read was light and its window has not passed yet.
    pub(super) fn pause(&self, now: Instant) -> Duration {
        self.read_at
            .map_or(Duration::ZERO, |at| at.saturating_duration_since(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_micros(400);
    const FULL: usize = 32;

    #[test]
    fn a_light_read_pauses_the_next_one_at_most_a_window() {
        let mut c = Coalescer::new(WINDOW);
        let t0 = Instant::now();
        c.after_reads(1, FULL, t0);
        assert_eq!(c.pause(t0), WINDOW, "no rate known yet: the whole window");
        assert_eq!(c.pause(t0 + Duration::from_micros(100)), WINDOW / 4 * 3);
        assert_eq!(c.pause(t0 + WINDOW), Duration::ZERO);
        assert_eq!(c.pause(t0 + 2 * WINDOW), Duration::ZERO);
    }

    #[test]
    fn a_busy_or_empty_read_does_not_pause() {
        let mut c = Coalescer::new(WINDOW);
        let t0 = Instant::now();
        c.after_reads(FULL, FULL, t0);
        assert_eq!(
            c.pause(t0),
            Duration::ZERO,
            "a full batch: read again at once"
        );
        c.after_reads(0, FULL, t0);
        assert_eq!(
            c.pause(t0),
            Duration::ZERO,
            "nothing read: wait on the socket"
        );
        c.after_reads(4, 4, t0);
        assert_eq!(c.pause(t0), Duration::ZERO, "the poll's budget was reached");
    }

    #[test]
    fn at_a_higher_rate_the_pause_is_the_time_a_full_batch_takes() {
        let mut c = Coalescer::new(WINDOW);
        let t0 = Instant::now();
        c.after_reads(0, FULL, t0);
        // 16 datagrams in 100 µs: 32 take 200 µs, less than the window.
        let t1 = t0 + Duration::from_micros(100);
        c.after_reads(16, FULL, t1);
        assert_eq!(c.pause(t1), Duration::from_micros(200));
        // 2 datagrams in 100 µs: 32 would take 1.6 ms, so the window bounds it.
        let t2 = t1 + Duration::from_micros(100);
        c.after_reads(2, FULL, t2);
        assert_eq!(c.pause(t2), WINDOW);
    }
}
