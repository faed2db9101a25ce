//! Fault injection for tests (`--debug-fault-injection`, hidden from `--help`): the admin
//! endpoint's `POST /debug/workers/N/stall`, `.../resume` and `.../panic` set a flag in the
//! worker's state, and the worker's relay loop acts on it at its next tick:
//!
//! - **stall**: the loop stops turning (no poll, no tick, no snapshot) as a loop stuck in a
//!   system call or a livelock would, until `resume` or [`MAX_STALL`], so the tests can see
//!   what depends on the loop's heartbeat (`/live`, the Agones health pings) stop and start;
//! - **panic**: the loop panics once, as a bug would, so the tests can see the worker
//!   restarted alone while the others relay on.
//!
//! Nothing else reaches these flags: without the option the routes answer 404.

use std::time::{Duration, Instant};

use crate::state::WorkerState;

/// A stall ends by itself after this long, so a test that forgets to resume cannot leave a
/// worker stuck.
pub const MAX_STALL: Duration = Duration::from_secs(60);

/// What a worker's loop was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    None = 0,
    Stall = 1,
    Panic = 2,
}

impl Fault {
    pub fn from_u8(value: u8) -> Fault {
        match value {
            1 => Fault::Stall,
            2 => Fault::Panic,
            _ => Fault::None,
        }
    }
}

/// Acts on the fault asked of `worker`, if any: returns at once when there is none, after
/// the stall when asked to stall, and panics when asked to.
pub fn act(worker: &WorkerState) {
    match worker.fault() {
        Fault::None => {}
        Fault::Stall => {
            log::warn!("worker {}: relay loop stalled on request", worker.index);
            let end = Instant::now() + MAX_STALL;
            while worker.fault() == Fault::Stall && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(10));
            }
            worker.clear_fault(Fault::Stall);
            log::warn!("worker {}: relay loop resumed", worker.index);
        }
        Fault::Panic => {
            worker.clear_fault(Fault::Panic);
            panic!(
                "worker {}: panic injected through the admin endpoint",
                worker.index
            );
        }
    }
}
