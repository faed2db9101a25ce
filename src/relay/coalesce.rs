//! The coalescing window of the socket relay ([`super::Config::coalesce_window`]): when a
//! poll found the socket nearly empty, the next poll that may wait lets datagrams gather for
//! a while before reading, so one wake-up relays many datagrams instead of one.
//!
//! The rules, each measured with `relay_bench latency` (see the README's "Coalescing
//! window"):
//!
//! - **Pause after a light read, not after the wake-up.** A relay waiting on its socket wakes
//!   for the first datagram that arrives and relays it at once; only the *next* read waits.
//!   Under steady traffic this gives the same batches as pausing after the wake-up (every
//!   read but the first follows a pause), and the first datagram after a quiet spell is not
//!   delayed. Pausing after the wake-up instead measured worse everywhere: more CPU per
//!   datagram at game rates (one more sleep per quiet spell) and, at low rates, the window
//!   added to every datagram.
//! - **Never after a busy read.** A read that filled a receive batch (or the poll's budget)
//!   says the socket is busy: reading again at once already gathers a full batch, and a pause
//!   would only add latency. A relay at saturation never pauses.
//! - **Only when the window will gather at least two datagrams.** Pausing to gather one
//!   datagram costs a wake-up (the end of the pause) to save one (that datagram's), and it
//!   delays replies that come back quickly (a request answered within the window waits for
//!   its end). So the relay keeps a smoothed time per datagram and pauses only when the
//!   window holds two or more; at low rates it behaves exactly as without a window.
//! - **No longer than a full batch takes to arrive**, at the rate seen, nor than the window.
//!   The window runs from the last read that found the socket empty, so the time spent
//!   relaying what was read counts towards it: a datagram waits in the socket about one
//!   window at most (plus the system's timer latency).

use std::time::{Duration, Instant};

/// When the next read should happen, from what the last polls read. Time policy only: the
/// pause itself is the caller's (see [`super::Relay::poll`] and the C ABI's `relay_poll`).
#[derive(Debug)]
pub(super) struct Coalescer {
    window: Duration,
    /// When a read of the current poll last found the socket empty.
    drained_at: Option<Instant>,
    /// The same, for the poll before: the datagrams of this poll arrived after it.
    previous_drain: Option<Instant>,
    /// Smoothed time between datagrams, each sample capped at the window (a quiet spell says
    /// only "less than one datagram per window", and must not outweigh the traffic around
    /// it).
    interval: Duration,
    /// Until when the next poll that may wait should let datagrams gather.
    read_at: Option<Instant>,
}

impl Coalescer {
    pub(super) fn new(window: Duration) -> Coalescer {
        Coalescer {
            window,
            drained_at: None,
            previous_drain: None,
            // Until traffic says otherwise: one datagram per window, too few to pause for.
            interval: window,
            read_at: None,
        }
    }

    /// Whether a window is set at all: without one, nothing is recorded and nothing pauses.
    pub(super) fn is_on(&self) -> bool {
        !self.window.is_zero()
    }

    /// A read found the socket empty (it returned less than it asked for) at `at`.
    pub(super) fn drained(&mut self, at: Instant) {
        self.drained_at = Some(at);
    }

    /// Records the end of a poll that handled `handled` datagrams, where `full` is what a
    /// busy socket gives one poll (a receive batch, or the poll's budget if smaller).
    pub(super) fn after_poll(&mut self, handled: usize, full: usize) {
        let drained = self.drained_at.take();
        if let (Some(at), Some(previous), Ok(n)) =
            (drained, self.previous_drain, u32::try_from(handled))
            && n > 0
        {
            let sample = (at.saturating_duration_since(previous) / n).min(self.window);
            self.interval = (self.interval * 7 + sample) / 8;
        }
        let light = handled > 0 && handled < full;
        let worth_it = self.interval * 2 <= self.window;
        self.read_at = match drained {
            Some(at) if light && worth_it => {
                let batch = u32::try_from(full)
                    .ok()
                    .and_then(|full| self.interval.checked_mul(full))
                    .unwrap_or(self.window);
                Some(at + batch.min(self.window))
            }
            _ => None,
        };
        self.previous_drain = drained;
    }

    /// How long to let datagrams gather before the next read, as of `now`: zero unless the
    /// last poll's read was light, the window is worth waiting for, and it has not passed.
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

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    /// A coalescer that has seen `polls` light reads of `per_read` datagrams every `gap`,
    /// the last one drained at the returned instant.
    fn steady(gap: Duration, per_read: usize, polls: usize) -> (Coalescer, Instant) {
        let mut c = Coalescer::new(WINDOW);
        let mut at = Instant::now();
        for _ in 0..polls {
            at += gap;
            c.drained(at);
            c.after_poll(per_read, FULL);
        }
        (c, at)
    }

    #[test]
    fn steady_traffic_pauses_the_next_read_for_at_most_the_window() {
        // 4 datagrams every 100 µs: 16 per window, a full batch in 800 µs.
        let (c, at) = steady(us(100), 4, 100);
        assert_eq!(c.pause(at), WINDOW);
        assert_eq!(c.pause(at + us(100)), WINDOW - us(100));
        assert_eq!(c.pause(at + WINDOW), Duration::ZERO);
        assert_eq!(c.pause(at + 2 * WINDOW), Duration::ZERO);
    }

    #[test]
    fn at_a_higher_rate_the_pause_is_the_time_a_full_batch_takes() {
        // 16 datagrams every 100 µs: 32 take about 200 µs, less than the window.
        let (c, at) = steady(us(100), 16, 100);
        let pause = c.pause(at);
        assert!(pause > us(190) && pause <= us(200), "{pause:?}");
    }

    #[test]
    fn too_few_datagrams_per_window_are_not_worth_a_pause() {
        // One datagram every 300 µs: about 1.3 per window.
        let (c, at) = steady(us(300), 1, 100);
        assert_eq!(c.pause(at), Duration::ZERO);
        // A fresh coalescer knows no rate yet.
        let mut c = Coalescer::new(WINDOW);
        let at = Instant::now();
        c.drained(at);
        c.after_poll(1, FULL);
        assert_eq!(c.pause(at), Duration::ZERO);
    }

    #[test]
    fn a_quiet_spell_does_not_stop_the_pauses_of_steady_traffic() {
        let (mut c, at) = steady(us(50), 2, 100);
        let at = at + Duration::from_secs(5);
        c.drained(at);
        c.after_poll(1, FULL);
        assert!(c.pause(at) > Duration::ZERO);
    }

    #[test]
    fn a_busy_or_empty_read_does_not_pause() {
        let (mut c, mut at) = steady(us(100), 4, 100);
        for (handled, full) in [(FULL, FULL), (0, FULL), (4, 4)] {
            at += us(100);
            c.drained(at);
            c.after_poll(handled, full);
            assert_eq!(c.pause(at), Duration::ZERO, "{handled} of {full}");
        }
        // A poll that stopped at its budget without emptying the socket.
        c.after_poll(3, FULL);
        assert_eq!(c.pause(at), Duration::ZERO);
    }
}
