//! Channel events, each logged once at info level with its counters (the library's own
//! debug lines for them are left out by [`crate::logger`]), at most
//! [`EVENT_LINES_PER_SECOND`] a second so a flood of new channels cannot flood the log.

use std::time::{Duration, Instant};

use udp_relay::relay::{CloseReason, Event};

/// Channel-event lines logged per second at most; beyond that one summary line per second
/// says how many were left out.
pub const EVENT_LINES_PER_SECOND: u32 = 50;

/// The log target of the event lines.
const TARGET: &str = "udp_relay_server::events";

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

/// Logs one event; `worker` (when there are several) as a field of the line.
pub fn log_event(event: &Event, worker: Option<usize>) {
    match worker {
        Some(worker) => log_event_as(event, &[("worker", worker as u64)]),
        None => log_event_as(event, &[]),
    }
}

fn log_event_as(event: &Event, fields: &[(&'static str, u64)]) {
    let line = |message: std::fmt::Arguments| {
        log::logger().log(
            &log::Record::builder()
                .level(log::Level::Info)
                .target(TARGET)
                .module_path_static(Some(module_path!()))
                .file_static(Some(file!()))
                .args(message)
                .key_values(&fields)
                .build(),
        );
    };
    if !log::log_enabled!(target: TARGET, log::Level::Info) {
        return;
    }
    match event {
        Event::Allocated { guid, peer_a } => {
            line(format_args!("channel {guid} allocated by {peer_a}"))
        }
        Event::Established {
            guid,
            peer_a,
            peer_b,
        } => line(format_args!(
            "channel {guid} established: {peer_a} <-> {peer_b}"
        )),
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
            line(format_args!(
                "channel {guid} closed ({why}) after {:.1}s: {peer_a} <-> {b}; \
                 a->b {} dgrams/{} B, b->a {} dgrams/{} B, dropped {}",
                lifetime.as_secs_f64(),
                c.datagrams_a_to_b,
                c.bytes_a_to_b,
                c.datagrams_b_to_a,
                c.bytes_b_to_a,
                c.dropped
            ));
        }
        // The library logs this one itself, and the service says why it stops.
        Event::Drained => {}
    }
}
