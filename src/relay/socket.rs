//! The socket relay: one UDP socket and batched I/O (recvmmsg/sendmmsg, GRO/GSO on Linux)
//! around a [`RelayCore`], which makes every decision. [`Relay::poll`] is the whole loop.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::coalesce::Coalescer;
use super::{ChannelInfo, Config, Event, RelayCore, Stats, Verdict};
use crate::net;
use crate::net::batch::{self, DatagramBatch};
use crate::protocol::Guid;

/// Channels expired between two looks at the socket during a mass expiry.
const EXPIRY_CHUNK: usize = 64;

/// The relay with its own socket. See the module documentation of [`crate::relay`] for its
/// rules.
pub struct Relay {
    /// Shared with callers that wait on it without holding the relay (the C ABI's poll).
    socket: Arc<UdpSocket>,
    socket_is_v6: bool,
    local_addr: SocketAddr,
    effective_buffers: (usize, usize),
    /// The core's clock counts milliseconds from here.
    epoch: Instant,
    core: RelayCore,
    /// Received datagrams and the sends that forward them from the same buffers. Lent out
    /// (`None`) while a batch is handled, so the decision logic can borrow the relay.
    io: Option<DatagramBatch>,
    /// The first datagram of `io` not handled yet (slot, segment): a poll's budget can end
    /// inside a read that GRO coalesced.
    next_received: (usize, usize),
    /// When the next read should be, after a light one (`Config::coalesce_window`).
    coalescer: Coalescer,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("local_addr", &self.local_addr)
            .field("stats", &self.core.stats())
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// Checks `config` ([`Config::validate`]: an error of kind `InvalidInput` carrying the
    /// [`super::ConfigError`]), binds the socket and returns an idle relay.
    pub fn bind(config: Config) -> io::Result<Relay> {
        let core = RelayCore::new(config)?;
        let config = core.config();
        let bound = net::bind_udp(
            config.bind,
            config.recv_buffer_bytes,
            config.send_buffer_bytes,
        )?;
        let coalescer = Coalescer::new(config.coalesce_window);
        let gro = batch::enable_gro(&bound.socket);
        // On a wildcard address the host may have several: learn which one each peer sends
        // to, so replies leave from it (a reply from another address is dropped by NATs).
        let pktinfo = bound.local_addr.ip().is_unspecified()
            && batch::enable_pktinfo(&bound.socket, bound.is_v6);
        log::info!(
            "relay bound to {} (receive buffer {} B, send buffer {} B, UDP GRO {}, replies \
             from {}{}, coalescing window {} us)",
            bound.local_addr,
            bound.recv_buffer,
            bound.send_buffer,
            if gro { "on" } else { "off" },
            if pktinfo {
                "the address each peer sends to"
            } else {
                "the bound address"
            },
            if config.secret().is_some() {
                ", handshakes keyed"
            } else {
                ", handshakes not keyed"
            },
            config.coalesce_window.as_micros()
        );
        Ok(Relay {
            socket: Arc::new(bound.socket),
            socket_is_v6: bound.is_v6,
            local_addr: bound.local_addr,
            effective_buffers: (bound.recv_buffer, bound.send_buffer),
            epoch: Instant::now(),
            core,
            io: Some(DatagramBatch::new()),
            next_received: (0, 0),
            coalescer,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// SO_RCVBUF and SO_SNDBUF as granted by the kernel.
    pub fn socket_buffers(&self) -> (usize, usize) {
        self.effective_buffers
    }

    /// The socket, to wait on it in the host's own event loop (then call
    /// [`Relay::poll`] with a zero timeout when it is readable or
    /// [`Relay::next_timeout`] has passed).
    pub fn socket(&self) -> &UdpSocket {
        &self.socket
    }

    /// The socket, shared: to wait on it while another thread may use the relay.
    pub(crate) fn shared_socket(&self) -> Arc<UdpSocket> {
        self.socket.clone()
    }

    /// How long until [`Relay::poll`] has work even without traffic (a channel may fall
    /// idle); `None` while no channel is open. Zero when it is due now.
    pub fn next_timeout(&self) -> Option<Duration> {
        let now = self.now_ms();
        self.core
            .next_timeout()
            .map(|deadline| Duration::from_millis(deadline.saturating_sub(now)))
    }

    /// The decision logic under this relay.
    pub fn core(&self) -> &RelayCore {
        &self.core
    }

    /// The decision logic under this relay, to hand it datagrams that reached the host some
    /// other way, on the clock [`Relay::poll`] uses (milliseconds since the relay was bound).
    pub fn core_mut(&mut self) -> &mut RelayCore {
        &mut self.core
    }

    pub fn config(&self) -> &Config {
        self.core.config()
    }

    pub fn stats(&self) -> Stats {
        self.core.stats()
    }

    /// Refuse new channels from now on; a [`Event::Drained`] follows when the last
    /// open channel closes (at once if none is open).
    pub fn drain(&mut self) {
        self.core.drain()
    }

    pub fn is_draining(&self) -> bool {
        self.core.is_draining()
    }

    /// True once draining and no channel is open.
    pub fn is_drained(&self) -> bool {
        self.core.is_drained()
    }

    /// The next queued event, oldest first.
    pub fn next_event(&mut self) -> Option<Event> {
        self.core.next_event()
    }

    /// Looks up a channel by GUID.
    pub fn channel(&self, guid: Guid) -> Option<ChannelInfo> {
        self.core.channel_at(guid, self.now_ms())
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Waits at most `timeout` for traffic, relays what is pending (at most
    /// `max_datagrams_per_poll` datagrams, however the kernel grouped them), expires idle
    /// channels and returns how many datagrams were handled. Socket errors are counted, not
    /// returned: a hostile or departed peer cannot stop the loop.
    ///
    /// With a `coalesce_window`, a poll given a timeout first lets datagrams gather (for at
    /// most the window, and never longer than `timeout`) when the last poll's read was light;
    /// a poll with a zero timeout never waits.
    pub fn poll(&mut self, timeout: Duration) -> io::Result<usize> {
        let pause = self.coalesce_pause(timeout);
        if !pause.is_zero() {
            batch::pause(pause);
        }
        let handled = self.read_and_expire(timeout - pause)?;
        if self.coalescer.is_on() {
            let full = batch::BATCH.min(self.core.config().max_datagrams_per_poll);
            self.coalescer.after_poll(handled, full);
        }
        Ok(handled)
    }

    /// How long a poll given `timeout` should first let datagrams gather: zero unless the
    /// last poll's read was light and the coalescing window since has not passed, and never
    /// more than `timeout` (so zero for a poll that must not wait).
    pub(crate) fn coalesce_pause(&self, timeout: Duration) -> Duration {
        if timeout.is_zero() || !self.coalescer.is_on() {
            return Duration::ZERO;
        }
        self.coalescer.pause(Instant::now()).min(timeout)
    }

    /// [`Relay::poll`] without the coalescing pause.
    fn read_and_expire(&mut self, timeout: Duration) -> io::Result<usize> {
        let budget = self.core.config().max_datagrams_per_poll;
        let mut now = self.core.advance(self.now_ms());
        let mut handled = self.receive_batch(now, budget);
        if handled == 0 && !timeout.is_zero() && !self.core.expiry_due(now) {
            let wait = match self.core.next_timeout() {
                Some(deadline) => {
                    timeout.min(Duration::from_millis(deadline.saturating_sub(now).max(1)))
                }
                None => timeout,
            };
            let readable = batch::wait_readable(&self.socket, wait)?;
            now = self.core.advance(self.now_ms());
            if readable {
                handled = self.receive_batch(now, budget);
            }
        }
        // A mass expiry is done in small chunks with the socket read in between, so traffic
        // of live channels is not held up behind it; those reads share the poll's budget.
        let max_expiries = self.core.config().max_expiries_per_poll;
        let mut expired = 0;
        while expired < max_expiries {
            let chunk = EXPIRY_CHUNK.min(max_expiries - expired);
            let closed = self.core.expire(now, chunk);
            expired += closed;
            if closed < chunk {
                break;
            }
            handled += self.receive_batch(now, budget - handled);
        }
        self.core.after_expiry(expired, now);
        Ok(handled)
    }

    /// Handles at most `budget` datagrams: first those left in the batch by the last call,
    /// then what the socket holds. Returns how many were handled (receive errors count).
    fn receive_batch(&mut self, now: u64, budget: usize) -> usize {
        if budget == 0 {
            return 0;
        }
        let Some(mut datagrams) = self.io.take() else {
            return 0;
        };
        let mut handled = self.decide_received(&mut datagrams, now, budget);
        while handled < budget {
            let max = budget - handled;
            let n = match datagrams.recv(&self.socket, max) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // ICMP errors surfaced by some platforms (ECONNREFUSED, WSAECONNRESET)
                    // say a peer went away; they must not stop the relay.
                    self.core.stats.recv_errors += 1;
                    handled += 1;
                    log::debug!("receive error (counted, continuing): {e}");
                    continue;
                }
            };
            // Fewer than asked for: the socket is drained.
            let drained = n < batch::BATCH.min(max);
            if drained && self.coalescer.is_on() {
                self.coalescer.drained(Instant::now());
            }
            if n == 0 {
                break;
            }
            self.next_received = (0, 0);
            handled += self.decide_received(&mut datagrams, now, max);
            if drained {
                break;
            }
        }
        self.io = Some(datagrams);
        handled
    }

    /// Sends a datagram of the relay's own (a return-path challenge, a probe reply) at once:
    /// they are rare (each charged to its source's handshake budget), so they skip the batch.
    fn send_answer(&mut self, datagram: &[u8], to: SocketAddr, from: Option<IpAddr>) {
        let dst = net::to_socket_family(to, self.socket_is_v6);
        if let Err(e) = batch::send_one(&self.socket, datagram, dst, from) {
            log::trace!("answer to {to} failed (counted): {e}");
            self.core.stats.send_errors += 1;
        }
    }

    /// Decides at most `budget` of the received datagrams not handled yet, in order, and
    /// sends what they forward. A read GRO coalesced can hold more datagrams than the budget
    /// left: the rest stay in the batch for the next call, which starts with them.
    fn decide_received(&mut self, datagrams: &mut DatagramBatch, now: u64, budget: usize) -> usize {
        let (mut i, mut k) = self.next_received;
        let mut handled = 0;
        while i < datagrams.received() && handled < budget {
            let (src, local) = (datagrams.source(i), datagrams.local(i));
            // Several datagrams when GRO coalesced a sender's run: each is decided on its
            // own, exactly as if it had been read alone.
            let segments = datagrams.segments(i);
            while k < segments && handled < budget {
                let datagram = datagrams.datagram(i, k);
                match self.core.handle_datagram(now, src, local, datagram) {
                    Verdict::Forward(fwd) => {
                        // Counted as sent; `flush` takes it back if the kernel refuses it.
                        let to = net::to_socket_family(fwd.to, self.socket_is_v6);
                        datagrams.queue(i, k, to, fwd.from, fwd.tag());
                    }
                    Verdict::Challenge(c) => self.send_answer(&c.datagram, c.to, c.from),
                    Verdict::ProbeReply(r) => self.send_answer(&r.datagram, r.to, r.from),
                    Verdict::Absorbed | Verdict::Dropped => {}
                }
                k += 1;
                handled += 1;
            }
            if k == segments {
                (i, k) = (i + 1, 0);
            }
        }
        self.next_received = (i, k);
        self.flush(datagrams);
        handled
    }

    /// Sends what the last batch queued; the datagrams the kernel refused are taken back
    /// from the counters.
    fn flush(&mut self, datagrams: &mut DatagramBatch) {
        let core = &mut self.core;
        datagrams.flush(&self.socket, |tag, len, e| {
            // ECONNREFUSED from an earlier ICMP, ENOBUFS, EAGAIN: counted, the loop goes on.
            log::trace!("send failed (counted): {e}");
            core.send_failed(tag, len);
        });
    }
}
