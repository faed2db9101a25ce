//! What the load runs against: the relay under test or the naive baseline, each on its own
//! thread pinned to one CPU in this process, or an external relay process.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// The target thread's id, for its context switches.
    pub tid: AtomicU64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Relay,
    Baseline,
    External,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Relay => "relay",
            Kind::Baseline => "baseline",
            Kind::External => "external",
        }
    }
}

/// What `--compare-baseline` compares the relay with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BaselineKind {
    /// One recv_from + one send_to per datagram, std HashMaps, full scans for expiry.
    Naive,
    /// The relay's batched I/O with a bare address map: the kernel's floor.
    Batched,
}

pub struct Settings {
    pub baseline: BaselineKind,
    /// Tick the relay like a game loop (poll without waiting, then sleep this long) instead
    /// of letting it wait in `poll` for the next datagram.
    pub tick: Option<Duration>,
    /// The relay's `coalesce_window`.
    pub coalesce: Duration,
    pub key: Option<Vec<u8>>,
    pub timeout: Duration,
    pub max_channels: usize,
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
        let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
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
                let config = Config {
                    bind,
                    inactivity_timeout: s.timeout,
                    secret_key: s.key.clone(),
                    max_channels: s.max_channels,
                    coalesce_window: s.coalesce,
                    ..Config::default()
                };
                let mut relay = Relay::bind(config)?;
                let addr = relay.local_addr();
                let (sh, tick) = (shared.clone(), s.tick);
                let t = std::thread::spawn(move || {
                    if let Some(cpu) = cpu {
                        let _ = sys::pin_current_thread(cpu);
                    }
                    sh.tid.store(sys::current_tid(), Ordering::Relaxed);
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
            Kind::Baseline => {
                // Same socket setup (buffers, non-blocking) as the relay.
                let defaults = Config::default();
                let bound = udp_relay::net::bind_udp(
                    bind,
                    defaults.recv_buffer_bytes,
                    defaults.send_buffer_bytes,
                )?;
                let addr = bound.local_addr;
                let (sh, key, timeout) = (shared.clone(), s.key.clone(), s.timeout);
                let which = s.baseline;
                let t = std::thread::spawn(move || {
                    if let Some(cpu) = cpu {
                        let _ = sys::pin_current_thread(cpu);
                    }
                    sh.tid.store(sys::current_tid(), Ordering::Relaxed);
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
        match self.shared.tid.load(Ordering::Relaxed) {
            0 => None,
            tid => sys::thread_context_switches(tid),
        }
    }

    pub fn in_process(&self) -> bool {
        self.thread.is_some()
    }

    pub fn channels_open(&self) -> Option<u64> {
        self.in_process()
            .then(|| self.shared.channels_open.load(Ordering::Relaxed))
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
