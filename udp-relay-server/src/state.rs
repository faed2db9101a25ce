//! What the relay loop shares with the admin endpoint and the signal thread. The loop only
//! stores atomics and, once per tick, tries to publish a snapshot: it never waits for a
//! reader, and a tick whose snapshot could not be published is followed by one that is.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, TryLockError};
use std::time::{Duration, Instant};

use udp_relay::relay::Stats;

use crate::lifetimes::LifetimeHistogram;
use crate::socket_drops;

/// The relay's state as of its last published tick.
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

#[derive(Debug)]
pub struct Shared {
    epoch: Instant,
    /// Milliseconds since `epoch` of the loop's last tick, plus one (0: never ticked).
    last_tick: AtomicU64,
    bound: AtomicBool,
    /// SIGTERMs received, counted by the signal thread the moment they arrive, so `/ready`
    /// turns 503 before the loop has even noticed.
    pub sigterms: AtomicU32,
    pub sigint: AtomicBool,
    /// The kernel's drop count at the relay's socket, or [`socket_drops::UNKNOWN`].
    pub socket_drops: Arc<AtomicU64>,
    snapshot: Mutex<Snapshot>,
}

impl Default for Shared {
    fn default() -> Self {
        Shared {
            epoch: Instant::now(),
            last_tick: AtomicU64::new(0),
            bound: AtomicBool::new(false),
            sigterms: AtomicU32::new(0),
            sigint: AtomicBool::new(false),
            socket_drops: Arc::new(AtomicU64::new(socket_drops::UNKNOWN)),
            snapshot: Mutex::new(Snapshot::default()),
        }
    }
}

impl Shared {
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

    pub fn set_bound(&self) {
        self.bound.store(true, Ordering::Relaxed);
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

    /// The kernel's drop count at the relay's socket, if known.
    pub fn socket_drops(&self) -> Option<u64> {
        match self.socket_drops.load(Ordering::Relaxed) {
            socket_drops::UNKNOWN => None,
            n => Some(n),
        }
    }

    /// Ready for new channels: bound, not draining (nor told to) and below the channel cap.
    pub fn readiness(&self) -> Result<(), NotReady> {
        if !self.bound.load(Ordering::Relaxed) {
            return Err(NotReady::NotBound);
        }
        let snapshot = self.snapshot();
        if self.sigterms.load(Ordering::Relaxed) > 0 || snapshot.draining {
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
        let shared = Shared::default();
        assert_eq!(shared.readiness(), Err(NotReady::NotBound));
        assert!(!shared.is_live(Duration::from_secs(1)));
        shared.set_bound();
        let mut snap = Snapshot {
            max_channels: 2,
            ..Snapshot::default()
        };
        assert!(shared.try_publish(&snap));
        assert_eq!(shared.readiness(), Ok(()));
        snap.stats.channels_open = 2;
        shared.try_publish(&snap);
        assert_eq!(shared.readiness(), Err(NotReady::Full));
        shared.sigterms.store(1, Ordering::Relaxed);
        assert_eq!(shared.readiness(), Err(NotReady::Draining));
        shared.tick();
        assert!(shared.is_live(Duration::from_secs(1)));
    }

    #[test]
    fn publishing_never_waits_for_a_reader() {
        let shared = Shared::default();
        let held = shared.snapshot.lock().unwrap();
        assert!(!shared.try_publish(&Snapshot::default()));
        drop(held);
        assert!(shared.try_publish(&Snapshot::default()));
    }
}
