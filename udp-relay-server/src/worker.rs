//! One worker: a single-threaded relay loop on a UDP socket of its own, on a thread of its
//! own (pinned to a CPU when there are enough), publishing its state for the admin endpoint
//! and the Agones reporter, draining on SIGTERM on its own. A worker that panics is started
//! again alone on the same port, with an empty channel table (its peers handshake again),
//! while the other workers relay on; each restart is counted
//! (`udp_relay_worker_restarts_total`). A worker whose socket fails stops the service.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use udp_relay::relay::{Config, Event, Relay};

use crate::events::{self, LogBudget};
use crate::lifetimes::LifetimeHistogram;
use crate::limits::LimitWatch;
use crate::state::{Shared, Snapshot, WorkerState};
use crate::{affinity, faults, socket_drops, stats_line};

/// The longest the loop waits for traffic: bounds how late it sees a signal, a drain
/// deadline or a due stats line, and keeps `/live` fresh.
pub const TICK: Duration = Duration::from_millis(100);
/// The longest a restart waits before binding again; a worker that keeps panicking right
/// after starting waits twice as long each time, from [`FIRST_RESTART_DELAY`].
const MAX_RESTART_DELAY: Duration = Duration::from_secs(5);
const FIRST_RESTART_DELAY: Duration = Duration::from_millis(50);
/// A run this long resets the restart delay.
const STEADY_RUN: Duration = Duration::from_secs(10);

/// What the workers share besides their state: the settings of the loop.
#[derive(Debug, Clone, Copy)]
pub struct LoopSettings {
    pub drain_timeout: Duration,
    pub stats_every: Duration,
    /// Log lines name the worker (there are several).
    pub name_worker: bool,
}

/// How a worker's loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Drained,
    DrainTimeout,
    Interrupted(&'static str),
    /// Its socket failed; the service stops with exit status 1.
    Failed,
}

/// One worker to start: its shared state, its relay (already bound), its CPU.
pub struct Worker {
    pub state: Arc<WorkerState>,
    pub relay: Relay,
    pub cpu: Option<usize>,
}

impl Worker {
    /// Publishes the freshly bound relay's state, so the admin endpoint answers from its
    /// first request: live, bound, and a snapshot that tells the channel cap.
    pub fn publish_bound(&self) {
        publish(&self.state, &self.relay, LifetimeHistogram::default());
        self.state.tick();
        self.state.set_bound(true);
    }

    /// Runs the worker on a thread of its own (named `relay-N`) until it stops.
    pub fn spawn(
        self,
        shared: Arc<Shared>,
        settings: LoopSettings,
    ) -> std::io::Result<JoinHandle<Stop>> {
        std::thread::Builder::new()
            .name(format!("relay-{}", self.state.index))
            .spawn(move || self.supervise(&shared, settings))
    }

    /// Runs the loop, and starts it again on a fresh relay after each panic.
    fn supervise(self, shared: &Shared, settings: LoopSettings) -> Stop {
        let Worker { state, relay, cpu } = self;
        if let Some(cpu) = cpu {
            if let Err(e) = affinity::pin_current_thread(cpu) {
                log::warn!("worker {}: cannot pin to CPU {cpu}: {e}", state.index);
            }
        }
        // A restart binds the port the worker has (its own ephemeral one for port 0).
        let config = Config {
            bind: relay.local_addr(),
            ..relay.config().clone()
        };
        let mut relay = Some(relay);
        let mut delay = FIRST_RESTART_DELAY;
        // Panics in a row, each soon after the previous start.
        let mut quick_panics = 0u32;
        let stop = loop {
            let Some(mut current) = relay.take() else {
                match rebind(&state, shared, &config, &mut delay) {
                    Some(fresh) => relay = Some(fresh),
                    None => break Stop::Interrupted("stopped while restarting"),
                }
                continue;
            };
            let started = Instant::now();
            let mut relay_loop = RelayLoop::new(Arc::clone(&state), settings);
            let run = catch_unwind(AssertUnwindSafe(|| relay_loop.run(shared, &mut current)));
            match run {
                Ok(stop) => break stop,
                Err(panic) => {
                    // The relay may be inconsistent after a panic: only the count it last
                    // published is read, and it is dropped unused.
                    drop(current);
                    let lost = state.snapshot().stats.channels_open;
                    state.set_bound(false);
                    let restarts = state.restarts.fetch_add(1, Ordering::Relaxed) + 1;
                    log::error!(
                        "worker {}: panicked ({}); starting it again alone, its {lost} \
                         channels lost (restart {restarts})",
                        state.index,
                        panic_message(&*panic)
                    );
                    quick_panics = if started.elapsed() >= STEADY_RUN {
                        0
                    } else {
                        quick_panics.saturating_add(1)
                    };
                    delay = restart_delay(quick_panics);
                }
            }
        };
        state.set_stopped();
        if stop == Stop::Failed {
            shared.failed.store(true, Ordering::SeqCst);
        }
        stop
    }
}

/// How long to wait before starting a worker again after `quick_panics` panics in a row,
/// each soon after its start: [`FIRST_RESTART_DELAY`], twice as long for each more, at most
/// [`MAX_RESTART_DELAY`].
fn restart_delay(quick_panics: u32) -> Duration {
    let doublings = quick_panics.saturating_sub(1).min(16);
    FIRST_RESTART_DELAY
        .saturating_mul(1 << doublings)
        .min(MAX_RESTART_DELAY)
}

/// Binds the worker's port again after a panic, waiting `delay` first (and longer after each
/// failed bind); `None` when the service is told to stop meanwhile.
fn rebind(
    state: &WorkerState,
    shared: &Shared,
    config: &Config,
    delay: &mut Duration,
) -> Option<Relay> {
    let mut warned = false;
    loop {
        let end = Instant::now() + *delay;
        while Instant::now() < end {
            if stop_now(shared).is_some() {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10).min(*delay));
        }
        match Relay::bind(config.clone()) {
            Ok(relay) => {
                socket_drops::attach(state, relay.local_addr());
                publish(state, &relay, LifetimeHistogram::default());
                state.tick();
                state.set_bound(true);
                log::info!(
                    "worker {}: listening again on {}",
                    state.index,
                    relay.local_addr()
                );
                return Some(relay);
            }
            Err(e) => {
                if !warned {
                    log::warn!(
                        "worker {}: cannot listen on {} again: {e}; retrying",
                        state.index,
                        config.bind
                    );
                    warned = true;
                }
                *delay = (*delay * 2).min(MAX_RESTART_DELAY);
            }
        }
    }
}

/// The text a panic carried.
pub fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

/// Why every worker must stop at once, if it must.
fn stop_now(shared: &Shared) -> Option<&'static str> {
    if shared.sigint.load(Ordering::SeqCst) {
        Some("SIGINT")
    } else if shared.sigterms.load(Ordering::SeqCst) > 1 {
        Some("second SIGTERM")
    } else if shared.failed.load(Ordering::SeqCst) {
        Some("another worker failed")
    } else {
        None
    }
}

fn publish(state: &WorkerState, relay: &Relay, lifetimes: LifetimeHistogram) {
    state.try_publish(&Snapshot {
        stats: relay.stats(),
        draining: relay.is_draining(),
        max_channels: relay.config().max_channels as u64,
        lifetimes,
    });
}

struct RelayLoop {
    state: Arc<WorkerState>,
    settings: LoopSettings,
    started: Instant,
    drain_deadline: Option<Instant>,
    next_stats: Option<Instant>,
    event_budget: LogBudget,
    lifetimes: LifetimeHistogram,
    limits: Option<LimitWatch>,
}

impl RelayLoop {
    fn new(state: Arc<WorkerState>, settings: LoopSettings) -> RelayLoop {
        let started = Instant::now();
        let stats_every = settings.stats_every;
        RelayLoop {
            state,
            settings,
            started,
            drain_deadline: None,
            // An interval too long for the clock means never, like 0.
            next_stats: (!stats_every.is_zero())
                .then(|| started.checked_add(stats_every))
                .flatten(),
            event_budget: LogBudget::new(events::EVENT_LINES_PER_SECOND),
            lifetimes: LifetimeHistogram::default(),
            limits: None,
        }
    }

    /// The worker named in a log line, when there are several.
    fn who(&self) -> String {
        if self.settings.name_worker {
            format!("worker {}: ", self.state.index)
        } else {
            String::new()
        }
    }

    fn run(&mut self, shared: &Shared, relay: &mut Relay) -> Stop {
        let stop = loop {
            faults::act(&self.state);
            self.state.tick();
            if let Some(stop) = self.handle_signals(shared, relay) {
                break stop;
            }
            if let Err(e) = relay.poll(TICK) {
                self.log_stats(relay);
                log::error!("{}the relay's socket failed: {e}", self.who());
                return Stop::Failed;
            }
            let mut drained = false;
            while let Some(event) = relay.next_event() {
                drained |= matches!(event, Event::Drained);
                if let Event::Closed { lifetime, .. } = event {
                    self.lifetimes.observe(lifetime);
                }
                if self.event_budget.admit() {
                    events::log_event(&event, self.worker_field());
                }
            }
            self.event_budget.summarise();
            publish(&self.state, relay, self.lifetimes);
            if drained {
                break Stop::Drained;
            }
            let now = Instant::now();
            if self.drain_deadline.is_some_and(|deadline| now >= deadline) {
                break Stop::DrainTimeout;
            }
            self.watch_limits(relay, now);
            if self.next_stats.is_some_and(|due| now >= due) {
                self.next_stats = self
                    .next_stats
                    .and_then(|due| due.checked_add(self.settings.stats_every));
                self.log_stats(relay);
            }
        };
        let who = self.who();
        match stop {
            Stop::Drained => log::info!("{who}stopping: drained, no channel left open"),
            Stop::DrainTimeout => log::warn!(
                "{who}stopping: drain timeout ({:.1}s) reached with {} channels still open",
                self.settings.drain_timeout.as_secs_f64(),
                relay.stats().channels_open
            ),
            Stop::Interrupted(why) => log::info!(
                "{who}{why}: stopping now with {} channels open",
                relay.stats().channels_open
            ),
            Stop::Failed => {}
        }
        publish(&self.state, relay, self.lifetimes);
        self.log_stats(relay);
        stop
    }

    fn worker_field(&self) -> Option<usize> {
        self.settings.name_worker.then_some(self.state.index)
    }

    /// Starts draining at the first SIGTERM; a second SIGTERM, a SIGINT or another
    /// worker's failure stops the loop.
    fn handle_signals(&mut self, shared: &Shared, relay: &mut Relay) -> Option<Stop> {
        if let Some(why) = stop_now(shared) {
            return Some(Stop::Interrupted(why));
        }
        if shared.sigterms.load(Ordering::SeqCst) == 1 && !relay.is_draining() {
            log::info!(
                "{}SIGTERM: draining (new channels refused) for at most {:.1}s; \
                 a second SIGTERM or a SIGINT stops at once",
                self.who(),
                self.settings.drain_timeout.as_secs_f64()
            );
            self.drain_deadline = Some(Instant::now() + self.settings.drain_timeout);
            relay.drain();
        }
        None
    }

    fn watch_limits(&mut self, relay: &Relay, now: Instant) {
        let stats = relay.stats();
        let drops = self.state.socket_drops();
        match &mut self.limits {
            Some(watch) => {
                for warning in watch.check(&stats, drops, now) {
                    log::warn!(target: crate::limits::LOG_TARGET, "{}{warning}", self.who());
                }
            }
            None => self.limits = Some(LimitWatch::new(&stats, drops, now)),
        }
    }

    fn log_stats(&self, relay: &Relay) {
        stats_line::log(&stats_line::fields(
            self.worker_field(),
            &relay.stats(),
            self.state.socket_drops(),
            relay.is_draining(),
            self.started.elapsed(),
        ));
    }
}

/// The relay id of worker `index` when the service runs under relay id `base`: consecutive
/// ids, one per worker, so each worker (a relay of its own to clients and matchmakers) is
/// told apart. Relay id 0 (none: no relay-bound tokens) stays 0 for every worker; `None`
/// when the last id would not fit. For `--relay-id`.
pub fn relay_id_for(base: u32, index: usize) -> Option<u32> {
    if base == 0 {
        return Some(0);
    }
    base.checked_add(u32::try_from(index).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_relay_ids_and_restart_delays() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert_eq!(panic_message(&7u32), "no message");
        assert_eq!(relay_id_for(100, 3), Some(103));
        assert_eq!(relay_id_for(0, 3), Some(0));
        assert_eq!(relay_id_for(u32::MAX, 1), None);
        assert_eq!(restart_delay(0), FIRST_RESTART_DELAY);
        assert_eq!(restart_delay(1), FIRST_RESTART_DELAY);
        assert_eq!(restart_delay(2), FIRST_RESTART_DELAY * 2);
        assert_eq!(restart_delay(3), FIRST_RESTART_DELAY * 4);
        assert_eq!(restart_delay(u32::MAX), MAX_RESTART_DELAY);
    }
}
