//! The wall clock that seat-token expiry is judged by. It is read at each judgment (a vDSO
//! call, next to the HMACs of the token it judges), so a relay whose clock is stepped after
//! start (NTP synchronising a host that booted with a wrong clock) judges by the new time
//! from then on.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Default)]
pub(super) struct WallClock {
    /// Added to the system clock; only tests move it (see `Relay::sans_io_shift_wall_clock`).
    shift_ms: i64,
}

impl WallClock {
    pub(super) fn shift(&mut self, by_ms: i64) {
        self.shift_ms = by_ms;
    }

    /// Unix seconds now. A clock before 1970 (or too far off to represent) cannot vouch
    /// that anything is still valid: it reads as the end of time, so every token has
    /// expired.
    pub(super) fn unix_secs(&self) -> u64 {
        let shift = Duration::from_millis(self.shift_ms.unsigned_abs());
        let now = SystemTime::now();
        let now = if self.shift_ms >= 0 {
            now.checked_add(shift)
        } else {
            now.checked_sub(shift)
        };
        now.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(u64::MAX, |d| d.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system_secs() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn reads_the_system_clock_shifted_and_a_time_before_1970_as_the_end() {
        let mut clock = WallClock::default();
        let now = clock.unix_secs();
        assert!(now.abs_diff(system_secs()) <= 1);
        clock.shift(3_600_000);
        assert!(clock.unix_secs().abs_diff(system_secs() + 3600) <= 1);
        clock.shift(-(system_secs() as i64 + 10) * 1000);
        assert_eq!(clock.unix_secs(), u64::MAX);
        clock.shift(i64::MIN);
        assert_eq!(clock.unix_secs(), u64::MAX);
    }
}
