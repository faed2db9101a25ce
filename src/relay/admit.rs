//! Admission of handshakes: the cheap checks, the source's budget, verification (plain or
//! with a seat token), and what a verified handshake may do to the channel table: allocate,
//! join, or move a token seat (NAT rebinding). Deciding ([`RelayCore::plan`]) is kept apart from
//! doing ([`RelayCore::apply`]), so a member's handshake for another GUID can be checked for
//! admission *before* its current channel is given up. The rules themselves live in
//! `crate::admission` and `crate::token`; this is where the relay applies them to its table.

use std::net::{IpAddr, SocketAddr};

use super::seats::SeatDecision;
use super::table::PeerAddr;
use super::{Challenge, RelayCore, Screen, Verdict};
use crate::admission::RateVerdict;
use crate::cookie::{CHALLENGE_LEN, write_challenge};
use crate::protocol::{self, Guid};
use crate::token::{Rejection, TokenClaim, Verified};

/// What a verified handshake from outside its channel will do.
#[derive(Debug, Clone, Copy)]
pub(super) enum Plan {
    /// Open a new channel for the GUID with the sender as peer A.
    Allocate,
    /// Become peer B of the pending channel in this slot.
    Join { slot: u32, peer: PeerAddr },
    /// Move a token seat of the channel in this slot from `old` to the sender.
    Rebind {
        slot: u32,
        old: SocketAddr,
        claim: TokenClaim,
        peer: PeerAddr,
    },
}

/// Why a verified handshake cannot be admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    Draining,
    /// `max_channels` channels are open.
    Full,
    /// The channel table cannot number more slots.
    TableFull,
    /// The source holds `max_pending_per_source` half-open channels.
    PendingCap,
    /// The channel already has two peers.
    ChannelFull,
    /// Too many distinct IPv6 scope ids to store the address.
    Scopes,
    /// A token seat held elsewhere with no fresh sequence, or the sender's other seat.
    Replay,
    /// The seat book names a holder the channel table does not know.
    SeatHolderUnknown,
}

impl RelayCore {
    /// The cheap checks, then the source's handshake budget, then the (HMAC) verification:
    /// garbage never touches the rate-limit table, and an over-budget source costs no HMAC.
    /// For handshakes that may allocate or move something; a member's handshakes for its own
    /// channel go through [`RelayCore::verify_own`] instead and cost no budget.
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

    /// A member's handshake for its own channel (a retry, an answer, a keep-alive): verified
    /// without charging its source, since it allocates nothing. A valid token handshake has
    /// its sequence noted in the seat book whatever happens to the datagram next, so no copy
    /// of it (the partner receives one) can ever move the seat. Returns whether it verified.
    pub(super) fn verify_own(&mut self, datagram: &[u8], guid: Guid, src: SocketAddr) -> bool {
        match self.verifier.verify(datagram, self.unix_now_secs()) {
            Ok(v) => {
                if let Some(claim) = v.token {
                    self.seats.note(guid, &claim, src);
                }
                true
            }
            Err(_) => false,
        }
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
    /// token) move a seat; refusals are counted and logged.
    pub(super) fn admit(
        &mut self,
        v: Verified,
        datagram: &[u8],
        src: SocketAddr,
        local: Option<IpAddr>,
        now: u64,
    ) -> Verdict {
        match self.plan(&v, src) {
            Ok(_) if !self.return_path_proven(&v, datagram, src, now) => {
                self.challenge(v.guid, src, local, now)
            }
            Ok(plan) => self.apply(plan, &v, datagram.len(), src, local, now),
            Err(why) => self.refused(why, v.guid, src, now),
        }
    }

    /// Whether `src` has shown it receives from this relay, where the relay demands it: a
    /// token handshake always, a plain one with `require_return_path`. Plain v0.8 peers
    /// cannot answer a challenge, so without that setting they are taken at their word.
    pub(super) fn return_path_proven(
        &self,
        v: &Verified,
        datagram: &[u8],
        src: SocketAddr,
        now: u64,
    ) -> bool {
        let demanded = v.token.is_some() || self.config.require_return_path;
        !demanded
            || self
                .cookies
                .accepts(datagram, src, v.guid, cookie_clock(now))
    }

    /// Answers an admissible handshake that has no valid cookie with a challenge to its
    /// source, and nothing else: no state is kept, and the answer is no larger than the
    /// handshake (56 bytes, the smallest handshake's size).
    pub(super) fn challenge(
        &mut self,
        guid: Guid,
        src: SocketAddr,
        local: Option<IpAddr>,
        now: u64,
    ) -> Verdict {
        let cookie = self.cookies.cookie(src, guid, cookie_clock(now));
        let mut datagram = [0u8; CHALLENGE_LEN];
        write_challenge(&mut datagram, guid, &cookie);
        self.stats.handshakes_challenged += 1;
        Verdict::Challenge(Challenge {
            to: src,
            from: local,
            datagram,
        })
    }

    /// What `v` from `src` would do to the table, or why it cannot be admitted. Changes
    /// nothing but the table of scope ids (interning the sender's).
    pub(super) fn plan(&mut self, v: &Verified, src: SocketAddr) -> Result<Plan, Refusal> {
        let slot = self.channels.by_guid(v.guid);
        if let Some(claim) = v.token {
            match self.seats.decide(v.guid, &claim, src) {
                SeatDecision::Take => {}
                SeatDecision::Rebind { old } => {
                    if let Some(slot) = slot {
                        let old_peer = self.channels.peer(old).unwrap_or(PeerAddr::NONE);
                        if self.channels.by_addr(old_peer) != Some(slot) {
                            // The seat book and the channel disagree; refuse rather than guess.
                            debug_assert!(false, "seat of {} held by {old}, not a member", v.guid);
                            return Err(Refusal::SeatHolderUnknown);
                        }
                        let peer = self.channels.intern(src).ok_or(Refusal::Scopes)?;
                        return Ok(Plan::Rebind {
                            slot,
                            old,
                            claim,
                            peer,
                        });
                    }
                }
                SeatDecision::Replay => return Err(Refusal::Replay),
            }
        }
        match slot {
            Some(slot) => {
                if self.channels.record(slot).is_established() {
                    return Err(Refusal::ChannelFull);
                }
                let peer = self.channels.intern(src).ok_or(Refusal::Scopes)?;
                Ok(Plan::Join { slot, peer })
            }
            None => {
                if self.draining {
                    Err(Refusal::Draining)
                } else if self.stats.channels_open as usize >= self.config.max_channels {
                    Err(Refusal::Full)
                } else if !self.admission.pending.may_open(src.ip()) {
                    Err(Refusal::PendingCap)
                } else if self.channels.open() >= super::table::MAX_SLOTS {
                    Err(Refusal::TableFull)
                } else if self.channels.intern(src).is_none() {
                    Err(Refusal::Scopes)
                } else {
                    Ok(Plan::Allocate)
                }
            }
        }
    }

    /// Carries out a plan made by [`RelayCore::plan`] for the same handshake.
    pub(super) fn apply(
        &mut self,
        plan: Plan,
        v: &Verified,
        len: usize,
        src: SocketAddr,
        local: Option<IpAddr>,
        now: u64,
    ) -> Verdict {
        let verdict = match plan {
            Plan::Allocate => self.allocate(v.guid, src, local, now),
            Plan::Join { slot, peer } => self.join(slot, peer, len, src, local, now),
            Plan::Rebind {
                slot,
                old,
                claim,
                peer,
            } => return self.rebind(slot, old, (src, peer, local), &claim, now),
        };
        if let Some(claim) = v.token {
            self.seats.seat(v.guid, &claim, src);
        }
        verdict
    }

    /// Counts and logs a refused handshake.
    pub(super) fn refused(
        &mut self,
        why: Refusal,
        guid: Guid,
        src: SocketAddr,
        now: u64,
    ) -> Verdict {
        self.stats.handshakes_refused += 1;
        self.stats.datagrams_dropped += 1;
        let reason = match why {
            Refusal::Draining => "relay is draining",
            Refusal::Full => {
                self.stats.handshakes_refused_full += 1;
                "max_channels reached"
            }
            Refusal::TableFull => {
                self.stats.handshakes_refused_full += 1;
                "channel table full"
            }
            Refusal::PendingCap => {
                self.stats.handshakes_refused_pending += 1;
                "its source holds max_pending_per_source half-open channels"
            }
            Refusal::ChannelFull => "channel already has two peers",
            Refusal::Scopes => "too many interface scopes",
            Refusal::Replay => {
                self.stats.tokens_replayed += 1;
                "token seat already taken (replay)"
            }
            Refusal::SeatHolderUnknown => "seat holder unknown",
        };
        self.admission.log.refusal(
            now,
            format_args!("handshake refused: {guid} from {src}: {reason}"),
        );
        Verdict::Dropped
    }

    /// A token seat's holder came back from a new address (NAT rebinding): the seat moves,
    /// the old address is unpaired, and the handshake goes on to the partner, if any.
    fn rebind(
        &mut self,
        slot: u32,
        old: SocketAddr,
        (new, new_peer, local): (SocketAddr, PeerAddr, Option<IpAddr>),
        claim: &TokenClaim,
        now: u64,
    ) -> Verdict {
        let guid = self.channels.record(slot).guid();
        let old_peer = self.channels.peer(old).unwrap_or(PeerAddr::NONE);
        let moved_a = self.channels.record(slot).peer_a == old_peer;
        let rebound = self.channels.rebind(slot, old_peer, new_peer, local);
        debug_assert!(rebound, "planned rebind of {guid} found no holder");
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

/// Relay seconds as cookies count them (they wrap after 136 years).
fn cookie_clock(now_ms: u64) -> u32 {
    (now_ms / 1000) as u32
}
