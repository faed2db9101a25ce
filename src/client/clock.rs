//! Instant arithmetic that cannot panic. The machine takes its clock from the caller, so an
//! instant may lie anywhere the platform can represent; a deadline past the clock's end
//! becomes the clock's last instant.

use std::time::{Duration, Instant};

/// `d` after `t`, or the latest instant representable after `t` if that is sooner.
pub(crate) fn later(t: Instant, d: Duration) -> Instant {
    if let Some(sum) = t.checked_add(d) {
        return sum;
    }
    // Past the end: add what still fits, in halving steps (at most ~2 x 96 tries).
    let (mut out, mut left, mut step) = (t, d, d);
    while !left.is_zero() && !step.is_zero() {
        step = step.min(left);
        match out.checked_add(step) {
            Some(next) => {
                out = next;
                left -= step;
            }
            None => step /= 2,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_exactly_or_stops_at_the_end_of_the_clock() {
        let t0 = Instant::now();
        assert_eq!(
            later(t0, Duration::from_millis(1500)),
            t0 + Duration::from_millis(1500)
        );
        let end = later(t0, Duration::MAX);
        assert!(end > t0);
        assert_eq!(
            end.checked_add(Duration::from_nanos(1)),
            None,
            "nothing after it"
        );
        assert_eq!(later(end, Duration::from_secs(1)), end);
        assert_eq!(later(end, Duration::ZERO), end);
    }
}
