//! Sequence numbers for token handshakes.
//!
//! The relay moves a token's seat to a new address (NAT rebinding, or a client restarted on
//! a new socket) only for a sequence strictly greater than every one it has seen for that
//! seat, and treats anything else as a replay. So a sequence must keep growing not just
//! within one client, but across clients that use the same token one after the other, in
//! this process or after a restart of the game. Each sequence is therefore
//!
//! ```text
//! max(wall-clock Unix milliseconds << 16, previous sequence of this process + 1)
//! ```
//!
//! - The clock part makes a restarted process start above everything the previous one
//!   sent: within one millisecond a process would have to send more than 65 536 token
//!   handshakes to run ahead of the clock (the relay's per-source rate limit and the
//!   client's retry schedule keep it to a handful).
//! - The process-wide counter keeps sequences strictly increasing even when two handshakes
//!   fall in the same millisecond, when two clients of the same token follow each other in
//!   one process, and when the wall clock steps backwards while the process runs.
//!
//! What it cannot survive: the wall clock stepping back between two runs by more than the
//! time between them (the restarted client's handshakes look like replays until the clock
//! catches up, or the token expires). Clocks are NTP-disciplined on the platforms games
//! run on, and tokens live for a match, so this is accepted.
//!
//! Milliseconds since 1970 need 41 bits today; shifted by 16 they fit a u64 until the year
//! 10 889.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Bits below the millisecond clock: room for this many sequences per millisecond.
const COUNTER_BITS: u32 = 16;

/// The largest sequence this process has handed out.
static LAST: AtomicU64 = AtomicU64::new(0);

/// The wall clock as a sequence floor.
fn clock_floor() -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    u64::try_from(ms << COUNTER_BITS).unwrap_or(u64::MAX)
}

/// The next token handshake sequence: strictly greater than every one this process handed
/// out before, and than any a previous run sent (see the module documentation).
pub fn next_sequence() -> u64 {
    let floor = clock_floor();
    let previous = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(floor.max(last.saturating_add(1)))
        })
        .expect("the closure always returns Some");
    floor.max(previous.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictly_increasing_and_never_below_the_clock() {
        let mut last = 0;
        for _ in 0..100_000 {
            let floor = clock_floor();
            let s = next_sequence();
            assert!(s > last, "{s} after {last}");
            assert!(s >= floor, "{s} below the clock floor {floor}");
            last = s;
        }
        // What a restarted process would start from, a little later: above all of these
        // (100 000 in a few milliseconds is far more than any client sends).
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(clock_floor() > last);
    }

    #[test]
    fn increasing_across_threads() {
        let handles: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..10_000).map(|_| next_sequence()).collect()))
            .collect();
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|_| Vec::new()))
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "a sequence was handed out twice");
        assert_eq!(n, 40_000);
    }
}
