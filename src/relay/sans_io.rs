//! Entry points that drive the relay logic without its socket, for tests, property tests
//! and fuzzers: feed datagrams from any address at any time and look at the decisions.
//! The socket loop in `relay.rs` runs the very same decision code.

use std::net::SocketAddr;
use std::time::Duration;

use super::{RelayCore, Verdict};
use crate::net;

/// How many entries the relay's tables have room for without growing; for tests of the
/// memory they keep.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableCapacities {
    /// Slots of the channel table, open or free.
    pub channel_slots: usize,
    /// Channels the token seat book has room for.
    pub seats: usize,
    /// Sources the per-source half-open counts have room for.
    pub pending_sources: usize,
}

/// `now` in the relay's milliseconds; a time too far to count saturates.
fn relay_ms(now: Duration) -> u64 {
    u64::try_from(now.as_millis()).unwrap_or(u64::MAX)
}

impl RelayCore {
    /// Sans-IO entry point for tests and fuzzers: runs the relay logic on one datagram from
    /// `src` at `now` (time since the relay started) exactly as the socket loop would, with
    /// the send reported as `send_ok`, and returns the decision. Nothing is sent.
    #[doc(hidden)]
    pub fn sans_io_datagram(
        &mut self,
        datagram: &[u8],
        src: SocketAddr,
        now: Duration,
        send_ok: bool,
    ) -> Verdict {
        let verdict = self.handle_datagram(relay_ms(now), src, None, datagram);
        if let (Verdict::Forward(fwd), false) = (verdict, send_ok) {
            self.report_send_failure(&fwd, datagram.len());
        }
        verdict
    }

    /// [`RelayCore::handle_timeout`] at `now` (time since the relay started).
    #[doc(hidden)]
    pub fn sans_io_tick(&mut self, now: Duration) {
        self.handle_timeout(relay_ms(now));
    }

    /// Checks the relay's internal consistency (indexes, counts, pairing); for tests and
    /// fuzzers. Costs a walk over every channel.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut open = 0u64;
        let mut established = 0u64;
        let t = &self.channels;
        for (slot, ch) in t.iter() {
            open += 1;
            let guid = ch.guid();
            if t.by_guid(guid) != Some(slot) {
                return Err(format!("channel {guid} not indexed by its GUID"));
            }
            if ch.peer_a.is_none() || t.by_addr(ch.peer_a) != Some(slot) {
                let a = t.addr(ch.peer_a);
                return Err(format!("peer A {a} of {guid} not indexed"));
            }
            if !ch.queued() {
                return Err(format!("channel {guid} has no deadline"));
            }
            if ch.is_established() {
                established += 1;
                let b = t.addr(ch.peer_b);
                if ch.peer_b == ch.peer_a {
                    return Err(format!("channel {guid} pairs {b} with itself"));
                }
                if t.by_addr(ch.peer_b) != Some(slot) {
                    return Err(format!("peer B {b} of {guid} not indexed"));
                }
            }
        }
        if t.open() as u64 != open {
            return Err(format!("table counts {} open, holds {open}", t.open()));
        }
        let keys = open * 2 + established;
        if t.index_len() as u64 != keys {
            return Err(format!(
                "index holds {} keys for {open} channels with {} peers",
                t.index_len(),
                open + established
            ));
        }
        let queued = (0..t.slots() as u32)
            .filter(|&s| t.record(s).queued())
            .count();
        if self.deadlines.len() != queued {
            return Err(format!(
                "{} deadlines for {queued} slots marked queued",
                self.deadlines.len()
            ));
        }
        if self.stats.channels_open != open || self.stats.channels_established != established {
            return Err(format!(
                "stats say {} open / {} established, table has {open} / {established}",
                self.stats.channels_open, self.stats.channels_established
            ));
        }
        if self.seats.len() > t.open() {
            return Err("token seats outlive their channels".into());
        }
        if self.admission.limiter.tracked() > self.config.limits.max_tracked_sources {
            return Err(format!(
                "{} sources tracked, limit {}",
                self.admission.limiter.tracked(),
                self.config.limits.max_tracked_sources
            ));
        }
        if self.admission.pending.total() != open - established {
            return Err(format!(
                "{} half-open channels counted per source, {} in the table",
                self.admission.pending.total(),
                open - established
            ));
        }
        Ok(())
    }

    /// Moves the relay's view of the wall clock `by_ms` away from the system's (negative:
    /// back), as a clock step would; token expiry is judged by it. For tests.
    #[doc(hidden)]
    pub fn sans_io_shift_wall_clock(&mut self, by_ms: i64) {
        self.wall_clock.shift(by_ms);
    }

    /// The room each table keeps, used or not.
    #[doc(hidden)]
    pub fn table_capacities(&self) -> TableCapacities {
        TableCapacities {
            channel_slots: self.channels.slots(),
            seats: self.seats.capacity(),
            pending_sources: self.admission.pending.capacity(),
        }
    }

    /// The address `addr` is paired with, if it is a member of an established channel.
    #[doc(hidden)]
    pub fn partner_of(&self, addr: SocketAddr) -> Option<SocketAddr> {
        let addr = net::normalize(addr);
        let peer = self.channels.peer(addr)?;
        let ch = self.channels.record(self.channels.by_addr(peer)?);
        if !ch.is_established() {
            return None;
        }
        let partner = if ch.peer_a == peer {
            ch.peer_b
        } else {
            ch.peer_a
        };
        Some(self.channels.addr(partner))
    }
}
