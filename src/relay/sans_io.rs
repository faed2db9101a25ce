//! Entry points that drive the relay logic without its socket, for tests, property tests
//! and fuzzers: feed datagrams from any address at any time and look at the decisions.
//! The socket loop in `relay.rs` runs the very same decision code.

use std::net::SocketAddr;
use std::time::Duration;

use super::{Relay, Verdict, count_send};
use crate::net;

impl Relay {
    /// A relay for the sans-IO entry points. It owns a socket like any relay (bound to
    /// 127.0.0.1, port 0, default buffers), which these entry points never read or write.
    #[doc(hidden)]
    pub fn sans_io(config: super::Config) -> std::io::Result<Relay> {
        Relay::bind(super::Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            recv_buffer_bytes: 0,
            send_buffer_bytes: 0,
            ..config
        })
    }

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
        let now = now.as_millis() as u64;
        let verdict = self.on_datagram(datagram, net::normalize(src), now);
        if let Verdict::Forward(fwd) = verdict {
            count_send(&mut self.stats, datagram.len(), send_ok);
            self.record_forward(fwd, datagram.len(), send_ok);
        }
        verdict
    }

    /// Sans-IO counterpart of the end of [`Relay::poll`]: expiry and housekeeping at `now`.
    #[doc(hidden)]
    pub fn sans_io_tick(&mut self, now: Duration) {
        let now = now.as_millis() as u64;
        let expired = self.expire(now, self.config.max_expiries_per_poll);
        self.after_expiry(expired, now);
    }

    /// Checks the relay's internal consistency (indexes, counts, pairing); for tests and
    /// fuzzers. Costs a walk over every channel.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut open = 0u64;
        let mut established = 0u64;
        for (i, entry) in self.slots.iter().enumerate() {
            let Some(ch) = &entry.channel else { continue };
            open += 1;
            if self.by_guid.get(&ch.guid) != Some(&(i as u32)) {
                return Err(format!("channel {} not indexed by its GUID", ch.guid));
            }
            if self.by_addr.get(&ch.peer_a) != Some(&(i as u32)) {
                return Err(format!("peer A {} of {} not indexed", ch.peer_a, ch.guid));
            }
            if let Some(b) = ch.peer_b {
                established += 1;
                if b == ch.peer_a {
                    return Err(format!("channel {} pairs {b} with itself", ch.guid));
                }
                if self.by_addr.get(&b) != Some(&(i as u32)) {
                    return Err(format!("peer B {b} of {} not indexed", ch.guid));
                }
            }
        }
        let members = open + established;
        if self.by_addr.len() as u64 != members || self.by_guid.len() as u64 != open {
            return Err(format!(
                "indexes hold {} addresses and {} GUIDs for {open} channels with {members} peers",
                self.by_addr.len(),
                self.by_guid.len()
            ));
        }
        if self.stats.channels_open != open || self.stats.channels_established != established {
            return Err(format!(
                "stats say {} open / {} established, table has {open} / {established}",
                self.stats.channels_open, self.stats.channels_established
            ));
        }
        if self.seats.len() > self.by_guid.len() {
            return Err("token seats outlive their channels".into());
        }
        if self.admission.limiter.tracked() > self.config.limits.max_tracked_sources.max(1) {
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

    /// The address `addr` is paired with, if it is a member of an established channel.
    #[doc(hidden)]
    pub fn partner_of(&self, addr: SocketAddr) -> Option<SocketAddr> {
        let addr = net::normalize(addr);
        let slot = *self.by_addr.get(&addr)?;
        let ch = self.slots[slot as usize].channel.as_ref()?;
        let b = ch.peer_b?;
        Some(if ch.peer_a == addr { b } else { ch.peer_a })
    }
}
