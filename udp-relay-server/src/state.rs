//! What the relay workers share with the admin endpoint, the signal thread and the Agones
//! reporter. Each worker only stores atomics and, once per tick, tries to publish a snapshot
//! of its relay: it never waits for a reader, and a tick whose snapshot could not be
//! published is followed by one that is.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, TryLockError};
use std::time::{Duration, Instant};

use udp_relay::relay::Stats;

use crate::faults::Fault;
use crate::lifetimes::LifetimeHistogram;
use crate::socket_drops;

/// A relay's state as of its last published tick.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Snapshot {
    pub stats: Stats,
    pub draining: bool,
    pub max_channels: u64,
    pub lifetimes: LifetimeHistogram,
}

/// Why the relay is not ready for new channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReady {
    NotBound,
    Draining,
    Full,
}

impl NotReady {
    pub fn as_str(self) -> &'static str {
        match self {
            NotReady::NotBound => "not bound",
            NotReady::Draining => "draining",
            NotReady::Full => "full",
        }
    }
}

/// Why the service is not ready, and which worker says so when there are several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unready {
    pub worker: Option<usize>,
    pub why: NotReady,
}

impl fmt::Display for Unready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.worker {
            Some(worker) => write!(f, "worker {worker}: {}", self.why.as_str()),
            None => f.write_str(self.why.as_str()),
        }
    }
}

/// The whole service: the signals and every worker's state.
#[derive(Debug)]
pub struct Shared {
    /// SIGTERMs received, counted by the signal thread the moment they arrive, so `/ready`
    /// turns 503 before the workers have even noticed.
    pub sigterms: AtomicU32,
    pub sigint: AtomicBool,
    /// A worker failed for good (its socket): every worker stops at once.
    pub failed: AtomicBool,
    /// Whether the admin endpoint serves the fault-injection routes
    /// (`--debug-fault-injection`, testing only).
    pub fault_injection: bool,
    pub workers: Vec<Arc<WorkerState>>,
}

impl Shared {
    pub fn new(workers: usize, fault_injection: bool) -> Shared {
        Shared {
            sigterms: AtomicU32::new(0),
            sigint: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            fault_injection,
            workers: (0..workers)
                .map(|index| Arc::new(WorkerState::new(index)))
                .collect(),
        }
    }

    /// Whether every worker still running ticked within `max_age`; else the first that did
    /// not.
    pub fn liveness(&self, max_age: Duration) -> Result<(), usize> {
        match self
            .workers
            .iter()
            .find(|w| !w.is_stopped() && !w.is_live(max_age))
        {
            Some(stalled) => Err(stalled.index),
            None => Ok(()),
        }
    }

    /// Ready for new channels: told nothing to stop, and every worker bound, not draining
    /// and below its channel cap.
    pub fn readiness(&self) -> Result<(), Unready> {
        let several = self.workers.len() > 1;
        if self.sigterms.load(Ordering::Relaxed) > 0 {
            return Err(Unready {
                worker: None,
                why: NotReady::Draining,
            });
        }
        for worker in &self.workers {
            if let Err(why) = worker.readiness() {
                return Err(Unready {
                    worker: several.then_some(worker.index),
                    why,
                });
            }
        }
        Ok(())
    }

    /// Channels open across the workers, as last published.
    pub fn channels_open(&self) -> u64 {
        self.workers
            .iter()
            .map(|w| w.snapshot().stats.channels_open)
            .sum()
    }

    /// The channel cap across the workers.
    pub fn max_channels(&self) -> u64 {
        self.workers.iter().map(|w| w.snapshot().max_channels).sum()
    }
}

/// One worker: its relay's last snapshot, its heartbeat and its restarts.
#[derive(Debug)]
pub struct WorkerState {
    pub index: usize,
    epoch: Instant,
    /// Milliseconds since `epoch` of the loop's last tick, plus one (0: never ticked).
    last_tick: AtomicU64,
    bound: AtomicBool,
    /// The worker's loop has ended (drained, stopped or failed): it no longer ticks.
    stopped: AtomicBool,
    /// The inode of the worker's UDP socket in `/proc/net/udp*`, 0 when unknown.
    pub socket_inode: AtomicU64,
    /// The kernel's drop count at the worker's socket, or [`socket_drops::UNKNOWN`].
    pub socket_drops: AtomicU64,
    /// Times the worker panicked and was started again.
    pub restarts: AtomicU64,
    fault: AtomicU8,
    snapshot: Mutex<Snapshot>,
}

impl WorkerState {
    pub fn new(index: usize) -> WorkerState {
        WorkerState {
            index,
            epoch: Instant::now(),
            last_tick: AtomicU64::new(0),
            bound: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            socket_inode: AtomicU64::new(0),
            socket_drops: AtomicU64::new(socket_drops::UNKNOWN),
            restarts: AtomicU64::new(0),
            fault: AtomicU8::new(Fault::None as u8),
            snapshot: Mutex::new(Snapshot::default()),
        }
    }

    /// The relay loop is running: called once per turn of the loop.
    pub fn tick(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last_tick.store(ms + 1, Ordering::Relaxed);
    }

    /// Whether the loop ticked within `max_age`.
    pub fn is_live(&self, max_age: Duration) -> bool {
        match self.last_tick.load(Ordering::Relaxed) {
            0 => false,
            tick => {
                let now = self.epoch.elapsed().as_millis() as u64;
                now.saturating_sub(tick - 1) <= max_age.as_millis() as u64
            }
        }
    }

    pub fn set_bound(&self, bound: bool) {
        self.bound.store(bound, Ordering::Relaxed);
    }

    pub fn set_stopped(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// Asks the worker's loop to stall or panic at its next tick (testing only).
    pub fn inject(&self, fault: Fault) {
        self.fault.store(fault as u8, Ordering::SeqCst);
    }

    /// Clears `fault` if it is still the one asked for (another asked meanwhile stays).
    pub fn clear_fault(&self, fault: Fault) {
        let _ = self.fault.compare_exchange(
            fault as u8,
            Fault::None as u8,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }

    /// The fault the loop was asked for, if any.
    pub fn fault(&self) -> Fault {
        Fault::from_u8(self.fault.load(Ordering::SeqCst))
    }

    /// The kernel's drop count at the worker's socket, if known.
    pub fn socket_drops(&self) -> Option<u64> {
        match self.socket_drops.load(Ordering::Relaxed) {
            socket_drops::UNKNOWN => None,
            n => Some(n),
        }
    }

    /// Publishes `snapshot` unless a reader holds the lock right now; never blocks.
    pub fn try_publish(&self, snapshot: &Snapshot) -> bool {
        match self.snapshot.try_lock() {
            Ok(mut slot) => {
                *slot = *snapshot;
                true
            }
            Err(TryLockError::Poisoned(poisoned)) => {
                *poisoned.into_inner() = *snapshot;
                true
            }
            Err(TryLockError::WouldBlock) => false,
        }
    }

    /// The last published snapshot (readers hold the lock only to copy it).
    pub fn snapshot(&self) -> Snapshot {
        *self
            .snapshot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Ready for new channels: bound, not draining and below the channel cap.
    pub fn readiness(&self) -> Result<(), NotReady> {
        if !self.bound.load(Ordering::Relaxed) {
            return Err(NotReady::NotBound);
        }
        let snapshot = self.snapshot();
        if snapshot.draining {
            return Err(NotReady::Draining);
        }
        if snapshot.stats.channels_open >= snapshot.max_channels {
            return Err(NotReady::Full);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_state() {
        let shared = Shared::new(1, false);
        let worker = &shared.workers[0];
        assert_eq!(
            shared.readiness(),
            Err(Unready {
                worker: None,
                why: NotReady::NotBound
            })
        );
        assert_eq!(shared.liveness(Duration::from_secs(1)), Err(0));
        worker.set_bound(true);
        let mut snap = Snapshot {
            max_channels: 2,
            ..Snapshot::default()
        };
        assert!(worker.try_publish(&snap));
        assert_eq!(shared.readiness(), Ok(()));
        snap.stats.channels_open = 2;
        worker.try_publish(&snap);
        assert_eq!(shared.readiness().unwrap_err().to_string(), "full");
        shared.sigterms.store(1, Ordering::Relaxed);
        assert_eq!(shared.readiness().unwrap_err().to_string(), "draining");
        worker.tick();
        assert_eq!(shared.liveness(Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn several_workers_name_the_one_not_ready_or_stalled() {
        let shared = Shared::new(3, false);
        let open = Snapshot {
            max_channels: 10,
            ..Snapshot::default()
        };
        for worker in &shared.workers {
            worker.set_bound(true);
            worker.try_publish(&open);
            worker.tick();
        }
        assert_eq!(shared.readiness(), Ok(()));
        let full = Snapshot {
            stats: Stats {
                channels_open: 10,
                ..Stats::default()
            },
            ..open
        };
        shared.workers[2].try_publish(&full);
        assert_eq!(
            shared.readiness().unwrap_err().to_string(),
            "worker 2: full"
        );
        assert_eq!(shared.channels_open(), 10);
        assert_eq!(shared.max_channels(), 30);
        shared.workers[1].set_bound(false);
        assert_eq!(
            shared.readiness().unwrap_err().to_string(),
            "worker 1: not bound"
        );
        // A worker that has stopped no longer counts for liveness.
        let never = Shared::new(2, false);
        never.workers[0].tick();
        assert_eq!(never.liveness(Duration::from_secs(1)), Err(1));
        never.workers[1].set_stopped();
        assert_eq!(never.liveness(Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn publishing_never_waits_for_a_reader() {
        let worker = WorkerState::new(0);
        let held = worker.snapshot.lock().unwrap();
        assert!(!worker.try_publish(&Snapshot::default()));
        drop(held);
        assert!(worker.try_publish(&Snapshot::default()));
    }
}
