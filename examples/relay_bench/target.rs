//! What the load runs against: the relay under test or a comparison forwarder (the naive
//! baseline or the batched floor), each on its own thread pinned to one CPU in this process,
//! or an external relay process.

use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use udp_relay::relay::{Config, Relay};

use crate::sys::{self, CpuClock};

/// Counters a target thread publishes for the generator to read.
#[derive(Default)]
pub struct Published {
    pub stop: AtomicBool,
    pub datagrams_out: AtomicU64,
    pub established: AtomicU64,
    pub channels_open: AtomicU64,
    pub dropped_inside: AtomicU64,
    /// Kernel thread id of the target's thread (0 until it has started).
    pub tid: AtomicU32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Relay,
    Baseline(BaselineKind),
    External,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Relay => "relay",
            Kind::Baseline(BaselineKind::Naive) => "naive",
            Kind::Baseline(BaselineKind::Batched) => "batched",
            Kind::External => "external",
        }
    }
}

/// The comparison forwarders `--compare-baseline` runs next to the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BaselineKind {
    /// One recv_from + one send_to per datagram, std HashMaps, full scans for expiry.
    Naive,
    /// The relay's batched I/O with a bare address map: the kernel's floor.
    Batched,
}

pub struct Settings {
    /// The relay under test's whole configuration, built in one place (`report::relay_config`).
    /// The comparison forwarders take its key, inactivity timeout and socket buffer sizes.
    pub relay: Config,
    /// Tick the relay like a game loop (poll without waiting, then sleep this long) instead
    /// of letting it wait in `poll` for the next datagram.
    pub tick: Option<Duration>,
    pub cpu: Option<usize>,
    pub external: Option<SocketAddrV4>,
    pub external_pid: Option<u32>,
}

pub struct Target {
    pub kind: Kind,
    pub addr: SocketAddrV4,
    pub shared: Arc<Published>,
    thread: Option<JoinHandle<()>>,
    clock: Option<CpuClock>,
    pid: Option<u32>,
}

impl Target {
    pub fn start(kind: Kind, s: &Settings) -> std::io::Result<Target> {
        let shared = Arc::new(Published::default());
        let bind = s.relay.bind;
        let cpu = s.cpu;
        let (addr, thread) = match kind {
            Kind::External => {
                let addr = s.external.expect("external address");
                return Ok(Target {
                    kind,
                    addr,
                    shared,
                    thread: None,
                    clock: None,
                    pid: s.external_pid,
                });
            }
            Kind::Relay => {
                let mut relay = Relay::bind(s.relay.clone())?;
                let addr = relay.local_addr();
                let (sh, tick) = (shared.clone(), s.tick);
                let t = std::thread::spawn(move || {
                    started(&sh, cpu);
                    while !sh.stop.load(Ordering::Relaxed) {
                        match tick {
                            Some(gap) => {
                                while relay.poll(Duration::ZERO).unwrap_or(0) > 0 {}
                                std::thread::sleep(gap);
                            }
                            None => {
                                let _ = relay.poll(Duration::from_millis(5));
                            }
                        }
                        while relay.next_event().is_some() {}
                        let st = relay.stats();
                        sh.datagrams_out.store(st.datagrams_out, Ordering::Relaxed);
                        sh.established
                            .store(st.channels_allocated_total, Ordering::Relaxed);
                        sh.channels_open.store(st.channels_open, Ordering::Relaxed);
                        sh.dropped_inside
                            .store(st.datagrams_dropped, Ordering::Relaxed);
                    }
                });
                (addr, t)
            }
            Kind::Baseline(which) => {
                // Same socket setup (buffers, non-blocking) as the relay.
                let bound = udp_relay::net::bind_udp(
                    bind,
                    s.relay.recv_buffer_bytes,
                    s.relay.send_buffer_bytes,
                )?;
                let addr = bound.local_addr;
                let (sh, key) = (shared.clone(), s.relay.secret_key.clone());
                let timeout = s.relay.inactivity_timeout;
                let t = std::thread::spawn(move || {
                    started(&sh, cpu);
                    match which {
                        BaselineKind::Naive => crate::baseline::run(bound.socket, key, timeout, sh),
                        BaselineKind::Batched => crate::floor::run(bound.socket, key, sh),
                    }
                });
                (addr, t)
            }
        };
        let SocketAddr::V4(addr) = addr else {
            unreachable!("bound to 127.0.0.1")
        };
        let clock = CpuClock::of(&thread).ok();
        // The thread publishes its id first thing; wait (boundedly) so it can be read.
        let until = std::time::Instant::now() + Duration::from_secs(1);
        while shared.tid.load(Ordering::Relaxed) == 0 && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(Target {
            kind,
            addr,
            shared,
            thread: Some(thread),
            clock,
            pid: None,
        })
    }

    /// CPU time the target has used so far (its thread, or the external process).
    pub fn cpu(&self) -> Option<Duration> {
        match (self.clock, self.pid) {
            (Some(c), _) => Some(c.now()),
            (None, Some(pid)) => sys::process_cpu(pid),
            _ => None,
        }
    }

    /// Context switches of the target so far, (voluntary, involuntary): its thread's, or
    /// every thread's of the external process.
    pub fn ctx_switches(&self) -> Option<(u64, u64)> {
        match (self.in_process(), self.pid) {
            (true, _) => match self.shared.tid.load(Ordering::Relaxed) {
                0 => None,
                tid => sys::thread_ctx_switches(None, tid),
            },
            (false, Some(pid)) => sys::process_ctx_switches(pid),
            _ => None,
        }
    }

    /// How long the in-process target's thread has waited for its CPU while runnable.
    pub fn run_delay(&self) -> Option<Duration> {
        match self.shared.tid.load(Ordering::Relaxed) {
            0 => None,
            tid => sys::thread_run_delay(None, tid),
        }
    }

    /// RSS of the process holding the target (this one when in-process).
    pub fn rss(&self) -> Option<u64> {
        match (self.kind, self.pid) {
            (Kind::External, None) => None,
            (_, pid) => Some(sys::rss_bytes(pid)),
        }
    }

    /// Context switches of the in-process target's thread so far (voluntary: it slept;
    /// involuntary: it was preempted).
    pub fn context_switches(&self) -> Option<u64> {
        self.ctx_switches()
            .map(|(voluntary, preempted)| voluntary + preempted)
    }

    pub fn in_process(&self) -> bool {
        self.thread.is_some()
    }

    pub fn channels_open(&self) -> Option<u64> {
        self.in_process()
            .then(|| self.shared.channels_open.load(Ordering::Relaxed))
    }
}

/// First thing a target thread does: pin itself and publish its id.
fn started(shared: &Published, cpu: Option<usize>) {
    if let Some(cpu) = cpu {
        let _ = sys::pin_current_thread(cpu);
    }
    shared.tid.store(sys::own_tid(), Ordering::Relaxed);
}

impl Drop for Target {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
