//! Admission of handshakes from outside a channel: the cheap checks, the source's budget,
//! verification (plain or with a seat token), and the token seats (NAT rebinding, replays).
//! The rules themselves live in `crate::admission` and `crate::token`; this is where the
//! relay applies them to its channel table.

use std::net::SocketAddr;

use super::{PeerAddr, Relay, Screen, Verdict};
use crate::admission::RateVerdict;
use crate::protocol;
use crate::token::{Rejection, SeatDecision, TokenClaim, Verified};

impl Relay {
    /// The cheap checks, then the source's handshake budget, then the (HMAC) verification:
    /// garbage never touches the rate-limit table, and an over-budget source costs no HMAC.
    pub(super) fn screen(
        &mut self,
        datagram: &[u8],
        src: SocketAddr,
        now: u64,
    ) -> Result<Verified, Screen> {
        if let Err(e) = protocol::parse_handshake(&datagram[..datagram.len().min(56)], None) {
            return Err(Screen::Rejected(Rejection::Handshake(e)));
        }
        match self.admission.limiter.check(src.ip(), now) {
            RateVerdict::Allowed => {}
            RateVerdict::Limited => return Err(Screen::RateLimited),
            RateVerdict::Untracked => self.stats.rate_limit_untracked += 1,
        }
        self.verifier
            .verify(datagram, self.unix_now_secs())
            .map_err(Screen::Rejected)
    }

    pub(super) fn rate_limited(&mut self, len: usize, src: SocketAddr, now: u64) -> Verdict {
        self.stats.handshakes_rate_limited += 1;
        self.stats.datagrams_dropped += 1;
        self.admission.log.refusal(
            now,
            format_args!("handshake of {len} B from {src} over its source's rate limit"),
        );
        Verdict::Dropped
    }

    /// A verified handshake from an address outside its channel: allocate, join, or (with a
    /// token) move a seat.
    pub(super) fn admit(
        &mut self,
        v: Verified,
        datagram: &[u8],
        src: SocketAddr,
        now: u64,
    ) -> Verdict {
        let slot = self.channels.by_guid(v.guid);
        if let Some(claim) = v.token {
            match self.seats.decide(v.guid, &claim, src) {
                SeatDecision::Take => {}
                SeatDecision::Rebind { old } => {
                    if let Some(slot) = slot {
                        return self.rebind(slot, old, src, &claim, now);
                    }
                }
                SeatDecision::Replay => {
                    self.stats.tokens_replayed += 1;
                    let guid = v.guid;
                    return self.refuse(
                        now,
                        format_args!("{guid} from {src}: token seat already taken (replay)"),
                    );
                }
            }
        }
        let verdict = match slot {
            Some(slot) => self.join(slot, datagram.len(), src, now),
            None => self.allocate(v.guid, src, now),
        };
        if let (Some(claim), Verdict::Forward(_) | Verdict::Absorbed) = (v.token, verdict) {
            self.seats.seat(v.guid, &claim, src);
        }
        verdict
    }

    /// A token seat's holder came back from a new address (NAT rebinding): the seat moves,
    /// the old address is unpaired, and the handshake goes on to the partner, if any.
    fn rebind(
        &mut self,
        slot: u32,
        old: SocketAddr,
        new: SocketAddr,
        claim: &TokenClaim,
        now: u64,
    ) -> Verdict {
        let guid = self.channels.record(slot).guid();
        let Some(new_peer) = self.channels.intern(new) else {
            let why = "too many interface scopes";
            return self.refuse(now, format_args!("{guid} from {new}: {why}"));
        };
        let old_peer = self.channels.peer(old).unwrap_or(PeerAddr::NONE);
        let moved_a = self.channels.record(slot).peer_a == old_peer;
        if !self.channels.rebind(slot, old_peer, new_peer) {
            // The seat book and the channel disagree; refuse rather than guess.
            debug_assert!(false, "seat of {guid} held by {old}, not a member");
            return self.refuse(now, format_args!("{guid} from {new}: seat holder unknown"));
        }
        let ch = self.channels.record_mut(slot);
        ch.touch(now);
        let pending = !ch.is_established();
        let partner = match (moved_a, pending) {
            (_, true) => None,
            (true, false) => Some(ch.peer_b),
            (false, false) => Some(ch.peer_a),
        };
        if pending {
            self.admission.pending.settled(old.ip());
            self.admission.pending.opened(new.ip());
        }
        self.seats.seat(guid, claim, new);
        self.stats.handshakes_accepted += 1;
        self.stats.peers_rebound += 1;
        log::debug!(
            "channel {guid}: seat {:?} moved from {old} to {new}",
            claim.role
        );
        match partner {
            Some(p) => {
                let p = self.channels.addr(p);
                self.forward(slot, new, p, moved_a)
            }
            None => Verdict::Absorbed,
        }
    }
}
