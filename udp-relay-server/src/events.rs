//! Channel events, each logged once at info level with its counters (the library's own
//! debug lines for them are left out by [`crate::logger`]), at most
//! [`EVENT_LINES_PER_SECOND`] a second so a flood of new channels cannot flood the log.

use std::time::{Duration, Instant};

use udp_relay::relay::{CloseReason, Event};

/// Channel-event lines logged per second at most; beyond that one summary line per second
/// says how many were left out.
pub const EVENT_LINES_PER_SECOND: u32 = 50;

pub struct LogBudget {
    per_second: u32,
    window_start: Instant,
    logged: u32,
    suppressed: u64,
}

impl LogBudget {
    pub fn new(per_second: u32) -> LogBudget {
        LogBudget {
            per_second,
            window_start: Instant::now(),
            logged: 0,
            suppressed: 0,
        }
    }

    pub fn admit(&mut self) -> bool {
        if self.logged < self.per_second {
            self.logged += 1;
            true
        } else {
            self.suppressed += 1;
            false
        }
    }

    /// Once a second: reports what was left out and opens a new window.
    pub fn summarise(&mut self) {
        if self.window_start.elapsed() < Duration::from_secs(1) {
            return;
        }
        if self.suppressed > 0 {
            log::info!(
                "{} more channel events in the last {:.1}s not logged (more than {}/s)",
                self.suppressed,
                self.window_start.elapsed().as_secs_f64(),
                self.per_second
            );
        }
        self.window_start = Instant::now();
        self.logged = 0;
        self.suppressed = 0;
    }
}

/// Logs one event.
pub fn log_event(event: &Event) {
    match event {
        Event::Allocated { guid, peer_a } => log::info!("channel {guid} allocated by {peer_a}"),
        Event::Established {
            guid,
            peer_a,
            peer_b,
        } => log::info!("channel {guid} established: {peer_a} <-> {peer_b}"),
        Event::Closed {
            guid,
            reason,
            peer_a,
            peer_b,
            counters: c,
            lifetime,
        } => {
            let why = match reason {
                CloseReason::Expired => "idle",
                CloseReason::PeerMoved => "peer moved to another channel",
            };
            let b = peer_b.map_or_else(|| "-".to_string(), |b| b.to_string());
            log::info!(
                "channel {guid} closed ({why}) after {:.1}s: {peer_a} <-> {b}; \
                 a->b {} dgrams/{} B, b->a {} dgrams/{} B, dropped {}",
                lifetime.as_secs_f64(),
                c.datagrams_a_to_b,
                c.bytes_a_to_b,
                c.datagrams_b_to_a,
                c.bytes_b_to_a,
                c.dropped
            );
        }
        // The library logs this one itself, and the service says why it stops.
        Event::Drained => {}
    }
}
