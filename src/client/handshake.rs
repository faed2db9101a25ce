//! The client side of the v0.8 handshake as a state machine with no socket of its own, so a
//! game engine that owns its UDP socket can drive it: the machine says *what* to send and
//! *when*; the engine does the I/O and reports what it received and sent.
//!
//! Life of a channel, as seen by one peer:
//! - **Handshaking**: a handshake goes out at once, then again after `retry_interval`, the
//!   gap doubling up to `retry_backoff_max`. With no sign of the peer within
//!   `handshake_timeout` the machine gives up (**TimedOut**).
//! - **Established**: the relay paired us with the peer. The peer that allocated the channel
//!   (A) learns it first, when the relay forwards the joining peer's (B's) handshake; B learns
//!   it only when a handshake from A comes back through the relay. So on becoming established
//!   a peer sends one handshake at once, and while established it answers a peer's handshake
//!   (the peer may still be handshaking) with at most one of its own per answer gap. The gap
//!   starts at `retry_interval` and doubles with each answer up to `retry_backoff_max`, so
//!   two peers whose round trip exceeds the interval cannot ping-pong handshakes forever.
//! - While established and the game sends nothing for `keepalive_interval`, a handshake goes
//!   out as a keep-alive, holding the relay's channel (and the NAT mapping) open. Only our own
//!   sends count: many NATs refresh a mapping on outbound traffic only. With a seat token
//!   the keep-alive goes out every `keepalive_interval` whatever the game sends: it is how
//!   the relay learns our new address after a NAT rebinding (game data from an address the
//!   relay does not know goes nowhere), so the channel follows us within one interval.
//! - With `peer_timeout` set (off by default), an established machine that receives nothing
//!   at all from the relay (no game data, no handshake) for that long gives up (**Lost**):
//!   the relay restarted, the channel expired there, or the peer vanished. The silence is
//!   counted from the last datagram received. A quiet but healthy peer is heard through its
//!   keep-alives only, so to be useful both peers keep keep-alives on, and the timeout
//!   exceeds the peer's keep-alive interval with room for a late tick and jitter (two to
//!   three intervals). Lost is final, like TimedOut: nothing more is sent or taken. The
//!   machine cannot tell a killed relay from a vanished peer (both are silence); either way
//!   the game asks its matchmaker for a new ticket and joins with it: on the same machine
//!   with [`HandshakeMachine::rejoin`] (the relay may be another one), or on a new machine.
//! - **Rejoining** ([`HandshakeMachine::rejoin`], from any state): the machine starts over
//!   for another GUID and token as if new, keeping its key, timing and counters. A relay
//!   that drains keeps relaying open channels, so a client may also rejoin elsewhere while
//!   established, without losing a datagram it already took.
//!
//! A v0.8 relay forwards nothing to an address it has not paired, so any datagram that reaches
//! us from the relay while handshaking also proves the channel is up; it is game data and is
//! handed over, not dropped. Valid handshakes carrying our GUID are never game data.
//!
//! With a seat token (see [`crate::token`]; v1, or v2 bound to one relay) every handshake the
//! machine hands out, retries, answers and keep-alives alike, is a token handshake (76 bytes
//! for v1, 84 for v2) with a fresh, strictly
//! increasing sequence ([`super::sequence`]), so the relay can tell a NAT rebinding from a
//! replay at any moment. The peer's token handshakes carry a proof keyed with *its* seat tag,
//! which only the relay can check: the machine recognises them by magic, GUID and the
//! extension's shape, and never hands them to the game.
//!
//! A relay that must know we receive at our address before it forwards anything to us (it
//! always does for token handshakes) answers a handshake with a *challenge* carrying a
//! return-path cookie ([`crate::cookie`]). The machine echoes it at once in its next
//! handshake, and in every one after (72 bytes, or 92 with a v1 token, 100 with v2); a
//! challenge is consumed
//! like a handshake and is no sign of the peer. Answers to challenges are spaced by at least
//! `retry_interval`, so no one can make the machine send faster by forging them.

use std::time::{Duration, Instant};

use super::clock::later;
use super::sequence;
use crate::cookie::{self, Cookie};
use crate::protocol::{self, Guid, HandshakeKey};
use crate::token::{self, TOKEN_V2_COOKIE_HANDSHAKE_LEN, Token};

/// The largest handshake a machine hands out: a v2 token handshake echoing the relay's
/// return-path cookie (100 bytes). Buffers for [`HandshakeMachine::poll_transmit`]'s output
/// need this many bytes.
pub const MAX_HANDSHAKE_LEN: usize = TOKEN_V2_COOKIE_HANDSHAKE_LEN;

/// Longest duration any [`Timing`] field may hold: a day. Longer ones are refused by
/// [`Timing::validate`]; a relay closes an idle channel long before (30 s by default).
pub const MAX_TIMING: Duration = Duration::from_secs(24 * 60 * 60);

/// When handshakes go out and when the machine gives up. Every duration is above zero and at
/// most [`MAX_TIMING`] (a day); [`Timing::validate`] checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// First gap between handshakes while handshaking, and the shortest answer gap once
    /// established.
    pub retry_interval: Duration,
    /// Largest gap between handshakes (the backoff doubles up to this).
    pub retry_backoff_max: Duration,
    /// Give up when the channel is not established this long after the start.
    pub handshake_timeout: Duration,
    /// Send a keep-alive handshake after this long without sending anything once
    /// established; `None` never does. Keep it well inside the relay's inactivity timeout
    /// (30 s by default).
    pub keepalive_interval: Option<Duration>,
    /// Once established, give up ([`State::Lost`]) after this long without receiving
    /// anything from the relay; `None` (the default) never does. Must be longer than
    /// `keepalive_interval` (the peer's too): a quiet peer is heard only through its
    /// keep-alives.
    pub peer_timeout: Option<Duration>,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            retry_interval: Duration::from_millis(250),
            retry_backoff_max: Duration::from_millis(2_000),
            handshake_timeout: Duration::from_millis(10_000),
            keepalive_interval: Some(Duration::from_millis(5_000)),
            peer_timeout: None,
        }
    }
}

impl Timing {
    /// Checks each value is in its range (above zero, at most [`MAX_TIMING`]) and that they
    /// make sense together; the message says which does not.
    pub fn validate(&self) -> Result<(), String> {
        for (name, value) in [
            ("retry interval", Some(self.retry_interval)),
            ("retry backoff max", Some(self.retry_backoff_max)),
            ("handshake timeout", Some(self.handshake_timeout)),
            ("keep-alive interval", self.keepalive_interval),
            ("peer timeout", self.peer_timeout),
        ] {
            if let Some(v) = value.filter(|&v| v > MAX_TIMING) {
                return Err(format!(
                    "{name} ({v:?}) must be at most a day ({MAX_TIMING:?})"
                ));
            }
        }
        if self.retry_interval.is_zero() {
            return Err("retry interval must be > 0".into());
        }
        if self.retry_backoff_max < self.retry_interval {
            return Err(format!(
                "retry backoff max ({:?}) must be >= the retry interval ({:?})",
                self.retry_backoff_max, self.retry_interval
            ));
        }
        if self.handshake_timeout.is_zero() {
            return Err("handshake timeout must be > 0".into());
        }
        if self.keepalive_interval.is_some_and(|k| k.is_zero()) {
            return Err("keep-alive interval must be > 0 (or disabled)".into());
        }
        if let Some(peer) = self.peer_timeout {
            if peer.is_zero() {
                return Err("peer timeout must be > 0 (or disabled)".into());
            }
            if let Some(keepalive) = self.keepalive_interval.filter(|&k| peer <= k) {
                return Err(format!(
                    "peer timeout ({peer:?}) must be longer than the keep-alive interval \
                     ({keepalive:?}): a quiet peer would be declared lost between its keep-alives"
                ));
            }
        }
        Ok(())
    }
}

/// Where the machine stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Sending handshakes, no sign of the peer yet.
    Handshaking,
    /// The relay paired us with the peer: game datagrams flow.
    Established,
    /// No sign of the peer within the handshake timeout. Final (until
    /// [`HandshakeMachine::rejoin`]).
    TimedOut,
    /// Closed by the owner. Final (until [`HandshakeMachine::rejoin`]).
    Closed,
    /// Was established, then nothing arrived from the relay for the peer timeout (see
    /// [`Timing::peer_timeout`]): the relay was lost (killed, restarted, unreachable), the
    /// channel expired there, or the peer vanished. Final (until
    /// [`HandshakeMachine::rejoin`] with a new ticket, or a new machine).
    Lost,
}

/// What a datagram received from the relay turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// A game datagram from the peer: hand it to the game.
    Data,
    /// A valid handshake with our GUID (the peer's handshake or keep-alive): consumed.
    Handshake,
    /// Not for the game: a handshake with our GUID that does not verify with our key (or,
    /// with the token flag, whose token extension is malformed), or anything arriving after
    /// a timeout, loss of the peer or close.
    Discarded,
}

/// Counters of one machine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HandshakeStats {
    /// Handshakes handed out by [`HandshakeMachine::poll_transmit`] (retries, answers and
    /// keep-alives).
    pub handshakes_sent: u64,
    /// Valid handshakes with our GUID received.
    pub handshakes_received: u64,
    /// Datagrams classified as game data.
    pub data_received: u64,
    /// Datagrams classified as [`Received::Discarded`].
    pub discarded: u64,
}

/// The handshake state machine. Every method takes the current time explicitly, so it runs on
/// any clock the caller trusts and is testable with synthetic instants.
#[derive(Debug, Clone)]
pub struct HandshakeMachine {
    guid: Guid,
    key: Option<HandshakeKey>,
    /// The seat token, when the relay admits by token: then each handshake is written afresh
    /// with a new sequence.
    token: Option<Token>,
    /// The handshake last handed out (`len` bytes). Without a token it is computed once
    /// (again when a cookie arrives), HMAC included: every one we send is the same.
    datagram: [u8; MAX_HANDSHAKE_LEN],
    len: usize,
    /// The relay's last return-path cookie, echoed in every handshake from then on.
    cookie: Option<Cookie>,
    /// When a challenge was last answered.
    challenge_answered: Option<Instant>,
    timing: Timing,
    state: State,
    deadline: Instant,
    /// Handshaking: when the next retry is due, and the gap after it.
    next_retry: Instant,
    retry_gap: Duration,
    /// Established: a handshake to send at the next `poll_transmit` (on establishment or as
    /// an answer), with the time it was asked for.
    pending: Option<Instant>,
    answer_gap: Duration,
    last_handshake_sent: Option<Instant>,
    last_sent: Instant,
    last_received: Option<Instant>,
    stats: HandshakeStats,
}

/// Why a machine cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MachineError {
    /// The GUID is zero: no relay accepts it.
    ZeroGuid,
    /// The GUID is not the one the seat token was minted for.
    TokenGuid { guid: Guid, token: Guid },
    /// The timing is inconsistent (see the message).
    Timing(String),
}

impl std::fmt::Display for MachineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MachineError::ZeroGuid => {
                f.write_str("GUID is zero and there is no seat token to take it from")
            }
            MachineError::TokenGuid { guid, token } => write!(
                f,
                "GUID {guid} is not the GUID {token} the seat token was minted for"
            ),
            MachineError::Timing(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for MachineError {}

impl HandshakeMachine {
    /// A machine for `guid`, starting to handshake at `now`. `key` is the relay's raw secret
    /// key (`None` or empty for an unkeyed relay: the mac field is zero and not checked;
    /// [`crate::protocol::V08_DEFAULT_KEY`] for a v0.8.2 relay run with its defaults).
    pub fn new(
        guid: Guid,
        key: Option<&[u8]>,
        timing: Timing,
        now: Instant,
    ) -> Result<HandshakeMachine, MachineError> {
        HandshakeMachine::with_token(guid, key, None, timing, now)
    }

    /// A machine that, with `token`, sends token handshakes (a relay that requires tokens
    /// admits nothing else). `guid` may then be zero, meaning the token's GUID; otherwise it
    /// must be the token's. `key` (the relay secret, which a token holder normally does not
    /// have) only serves to check the peer's plain v0.8 handshakes; token handshakes need
    /// none.
    pub fn with_token(
        guid: Guid,
        key: Option<&[u8]>,
        token: Option<Token>,
        timing: Timing,
        now: Instant,
    ) -> Result<HandshakeMachine, MachineError> {
        timing.validate().map_err(MachineError::Timing)?;
        // A key of zero bytes means unkeyed, as in v0.8.2 and the C ABI.
        let key = key.filter(|k| !k.is_empty()).map(HandshakeKey::new);
        HandshakeMachine::start(guid, key, token, timing, now, HandshakeStats::default())
    }

    /// Starts over for another channel, usually on another relay (the caller sends there from
    /// now on): when the relay was lost ([`State::Lost`]) or is draining, the matchmaker hands
    /// out a new ticket, a GUID and a seat token, and the same machine joins with it. From any
    /// state, established included. Like a new machine with the same key and timing, it is
    /// handshaking at `now`, with a fresh handshake timeout, the first handshake due at once and
    /// no return-path cookie (the new relay sends its own); its counters keep counting. `guid`
    /// and `token` follow [`HandshakeMachine::with_token`]'s rules; on an error the machine is
    /// left as it was.
    pub fn rejoin(
        &mut self,
        guid: Guid,
        token: Option<Token>,
        now: Instant,
    ) -> Result<(), MachineError> {
        *self =
            HandshakeMachine::start(guid, self.key.clone(), token, self.timing, now, self.stats)?;
        Ok(())
    }

    /// A machine handshaking from `now`, with `stats` to count on from.
    fn start(
        guid: Guid,
        key: Option<HandshakeKey>,
        token: Option<Token>,
        timing: Timing,
        now: Instant,
        stats: HandshakeStats,
    ) -> Result<HandshakeMachine, MachineError> {
        let guid = match token {
            Some(t) if guid.is_zero() => t.guid,
            Some(t) if t.guid != guid => {
                return Err(MachineError::TokenGuid {
                    guid,
                    token: t.guid,
                });
            }
            _ => guid,
        };
        let mut datagram = [0u8; MAX_HANDSHAKE_LEN];
        let len = protocol::write_handshake(&mut datagram, guid, 0, &[], key.as_ref())
            .map_err(|_| MachineError::ZeroGuid)?;
        let mut machine = HandshakeMachine {
            guid,
            key,
            token,
            datagram,
            len,
            cookie: None,
            challenge_answered: None,
            timing,
            state: State::Handshaking,
            deadline: later(now, timing.handshake_timeout),
            next_retry: now,
            retry_gap: timing.retry_interval,
            pending: None,
            answer_gap: timing.retry_interval,
            last_handshake_sent: None,
            last_sent: now,
            last_received: None,
            stats,
        };
        if token.is_some() {
            machine.write_token_handshake();
        }
        Ok(machine)
    }

    pub fn guid(&self) -> Guid {
        self.guid
    }

    pub fn timing(&self) -> &Timing {
        &self.timing
    }

    /// The state as of the last call (a timeout is noticed by the next call at or after the
    /// deadline; [`HandshakeMachine::handle_timeout`] checks without doing anything else).
    pub fn state(&self) -> State {
        self.state
    }

    pub fn stats(&self) -> HandshakeStats {
        self.stats
    }

    /// When the last datagram (handshake or data) arrived from the peer.
    pub fn last_received(&self) -> Option<Instant> {
        self.last_received
    }

    /// The handshake this machine sent last (or will send first): 56 bytes with the HMAC,
    /// or [`token::TOKEN_HANDSHAKE_LEN`] with a v1 token ([`token::TOKEN_V2_HANDSHAKE_LEN`]
    /// with v2; its sequence changes with every send); 16 more once the relay sent a
    /// return-path cookie.
    pub fn handshake(&self) -> &[u8] {
        &self.datagram[..self.len]
    }

    /// Size of the handshakes this machine hands out: what a buffer for
    /// [`HandshakeMachine::poll_transmit`]'s output needs.
    pub fn handshake_len(&self) -> usize {
        self.len
    }

    /// The seat token, if the machine sends token handshakes.
    pub fn token(&self) -> Option<&Token> {
        self.token.as_ref()
    }

    /// Moves to `TimedOut` if the handshake deadline has passed while handshaking, and to
    /// `Lost` if the peer timeout has passed in silence while established.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Handshaking if now >= self.deadline => self.state = State::TimedOut,
            State::Established if self.lost_deadline().is_some_and(|d| now >= d) => {
                self.state = State::Lost;
                self.pending = None;
            }
            _ => {}
        }
    }

    /// What the keep-alive interval counts from: our last send of any kind, or with a token
    /// our last handshake (see the module documentation).
    fn keepalive_from(&self) -> Instant {
        match (self.token.is_some(), self.last_handshake_sent) {
            (true, Some(t)) => t,
            _ => self.last_sent,
        }
    }

    /// When an established machine becomes `Lost` unless something arrives first.
    fn lost_deadline(&self) -> Option<Instant> {
        // Established always follows a received datagram, so `last_received` is set.
        Some(later(self.last_received?, self.timing.peer_timeout?))
    }

    /// The handshake to send now, if one is due; the machine counts it as sent. Call it
    /// whenever [`HandshakeMachine::next_timeout`] passes and after every received datagram.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<&[u8]> {
        self.handle_timeout(now);
        let due = match self.state {
            State::Handshaking => {
                if now >= self.next_retry {
                    self.next_retry = later(now, self.retry_gap);
                    self.retry_gap = self
                        .retry_gap
                        .saturating_mul(2)
                        .min(self.timing.retry_backoff_max);
                    true
                } else {
                    false
                }
            }
            State::Established => {
                let keepalive = self
                    .timing
                    .keepalive_interval
                    .is_some_and(|k| now >= later(self.keepalive_from(), k));
                self.pending.take().is_some() || keepalive
            }
            State::TimedOut | State::Closed | State::Lost => false,
        };
        if !due {
            return None;
        }
        self.last_handshake_sent = Some(now);
        self.last_sent = now;
        self.stats.handshakes_sent += 1;
        if self.token.is_some() {
            // Every one needs a sequence the relay has not seen, or it would be a replay
            // after an address change.
            self.write_token_handshake();
        }
        Some(&self.datagram[..self.len])
    }

    /// When [`HandshakeMachine::poll_transmit`] (or `handle_timeout`) next has something to
    /// do (a retry, an answer, a keep-alive, or noticing a timeout or a lost peer), or `None`
    /// once final. It may be in the past: call it at once then.
    pub fn next_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Handshaking => Some(self.next_retry.min(self.deadline)),
            State::Established => {
                let keepalive = self
                    .timing
                    .keepalive_interval
                    .map(|k| later(self.keepalive_from(), k));
                [self.pending, keepalive, self.lost_deadline()]
                    .into_iter()
                    .flatten()
                    .min()
            }
            State::TimedOut | State::Closed | State::Lost => None,
        }
    }

    /// Classifies a datagram received from the relay's address (the caller checks the
    /// source) and updates the state. Only [`Received::Data`] goes to the game.
    pub fn handle_datagram(&mut self, datagram: &[u8], now: Instant) -> Received {
        self.handle_timeout(now);
        if matches!(self.state, State::TimedOut | State::Closed | State::Lost) {
            self.stats.discarded += 1;
            return Received::Discarded;
        }
        if let Some(cookie) = cookie::read_challenge(datagram, self.guid) {
            self.on_challenge(cookie, now);
            return Received::Handshake;
        }
        let ours =
            protocol::looks_like_handshake(datagram) && protocol::peek_guid(datagram) == self.guid;
        if ours {
            let valid = if token::has_token_flag(datagram) {
                // The peer's token handshake: its proof is keyed with the peer's seat tag,
                // which only the relay can recompute (and did, before admitting the peer).
                token::read_claim(datagram).is_ok()
            } else {
                protocol::parse_handshake(datagram, self.key.as_ref()).is_ok()
            };
            if !valid {
                self.stats.discarded += 1;
                return Received::Discarded;
            }
            self.stats.handshakes_received += 1;
            self.last_received = Some(now);
            match self.state {
                State::Handshaking => self.establish(now),
                _ => self.answer(now),
            }
            return Received::Handshake;
        }
        self.stats.data_received += 1;
        self.last_received = Some(now);
        if self.state == State::Handshaking {
            self.establish(now);
        } else {
            // The peer sends data, so it is established: the next handshake it sends is a
            // keep-alive or a fresh retry, and deserves a prompt answer again.
            self.answer_gap = self.timing.retry_interval;
        }
        Received::Data
    }

    /// Records that the game sent a datagram to the peer, postponing the keep-alive.
    pub fn on_data_sent(&mut self, now: Instant) {
        if now > self.last_sent {
            self.last_sent = now;
        }
    }

    /// Stops the machine: nothing more is sent, everything received is discarded.
    pub fn close(&mut self) {
        self.state = State::Closed;
        self.pending = None;
    }

    fn write_token_handshake(&mut self) {
        let token = self.token.as_ref().expect("token handshakes need a token");
        self.len = token::write_handshake_with_token_and_cookie(
            &mut self.datagram,
            token,
            sequence::next_sequence(),
            self.cookie.as_ref(),
        )
        .expect("a token handshake fits MAX_HANDSHAKE_LEN and its GUID is not zero");
    }

    /// The relay wants to see that we receive at our address: echo its cookie from now on,
    /// at once unless a challenge was answered less than `retry_interval` ago.
    fn on_challenge(&mut self, cookie: Cookie, now: Instant) {
        self.cookie = Some(cookie);
        if self.token.is_none() {
            self.len = cookie::write_handshake_with_cookie(
                &mut self.datagram,
                self.guid,
                self.key.as_ref(),
                &cookie,
            )
            .expect("a cookie handshake fits MAX_HANDSHAKE_LEN and its GUID is not zero");
        }
        let spaced = self
            .challenge_answered
            .is_none_or(|t| now.saturating_duration_since(t) >= self.timing.retry_interval);
        if !spaced {
            return;
        }
        self.challenge_answered = Some(now);
        match self.state {
            State::Handshaking => self.next_retry = self.next_retry.min(now),
            State::Established => self.pending = Some(now),
            State::TimedOut | State::Closed | State::Lost => {}
        }
    }

    fn establish(&mut self, now: Instant) {
        self.state = State::Established;
        self.pending = Some(now);
        self.answer_gap = self.timing.retry_interval;
    }

    fn answer(&mut self, now: Instant) {
        if self.pending.is_some() {
            return;
        }
        let quiet_enough = self
            .last_handshake_sent
            .is_none_or(|t| now.saturating_duration_since(t) >= self.answer_gap);
        if quiet_enough {
            self.pending = Some(now);
            self.answer_gap = self
                .answer_gap
                .saturating_mul(2)
                .min(self.timing.retry_backoff_max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::HANDSHAKE_LEN;
    use crate::token::{HandshakeVerifier, Role, TOKEN_HANDSHAKE_LEN, TokenKey};

    const GUID: Guid = Guid(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn machine(t0: Instant) -> HandshakeMachine {
        HandshakeMachine::new(GUID, Some(b"key"), Timing::default(), t0).unwrap()
    }

    fn peer_handshake() -> [u8; HANDSHAKE_LEN] {
        let mut b = [0u8; HANDSHAKE_LEN];
        protocol::write_handshake(&mut b, GUID, 0, &[], Some(&HandshakeKey::new(b"key"))).unwrap();
        b
    }

    /// Instants (ms after t0) at which `poll_transmit` hands out a handshake, polling every ms.
    fn sends_until(m: &mut HandshakeMachine, t0: Instant, end_ms: u64) -> Vec<u64> {
        (0..=end_ms)
            .filter(|&t| m.poll_transmit(t0 + ms(t)).is_some())
            .collect()
    }

    #[test]
    fn retries_with_backoff_then_times_out() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        assert_eq!(m.next_timeout(), Some(t0));
        let sends = sends_until(&mut m, t0, 12_000);
        assert_eq!(
            sends,
            [
                0, 250, 750, 1750, 3750, 5750, 7750, 9750 // 250, 500, 1000, then 2000 max
            ]
        );
        assert_eq!(m.state(), State::TimedOut);
        assert_eq!(m.next_timeout(), None);
        assert_eq!(m.stats().handshakes_sent, 8);
        assert_eq!(
            m.handle_datagram(&peer_handshake(), t0 + ms(12_001)),
            Received::Discarded
        );
    }

    #[test]
    fn times_out_exactly_at_the_deadline() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        m.handle_timeout(t0 + ms(9_999));
        assert_eq!(m.state(), State::Handshaking);
        // Never polled: the first handshake is still due.
        assert_eq!(m.next_timeout(), Some(t0));
        m.handle_timeout(t0 + ms(10_000));
        assert_eq!(m.state(), State::TimedOut);
        // A handshake that arrives after the deadline does not revive it.
        let mut late = machine(t0);
        assert_eq!(
            late.handle_datagram(&peer_handshake(), t0 + ms(10_000)),
            Received::Discarded
        );
        assert_eq!(late.state(), State::TimedOut);
    }

    #[test]
    fn peer_handshake_establishes_and_is_answered_once_at_once() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        assert!(m.poll_transmit(t0).is_some());
        assert_eq!(
            m.handle_datagram(&peer_handshake(), t0 + ms(100)),
            Received::Handshake
        );
        assert_eq!(m.state(), State::Established);
        assert_eq!(m.next_timeout(), Some(t0 + ms(100)));
        assert_eq!(
            m.poll_transmit(t0 + ms(100)).unwrap(),
            &peer_handshake()[..]
        );
        assert!(m.poll_transmit(t0 + ms(101)).is_none());
        // Next thing due is the keep-alive, 5 s after that send.
        assert_eq!(m.next_timeout(), Some(t0 + ms(5_100)));
        // Without a peer timeout, established machines never time out.
        m.handle_timeout(t0 + ms(60_000));
        assert_eq!(m.state(), State::Established);
    }

    #[test]
    fn data_from_the_relay_also_establishes() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        assert_eq!(m.handle_datagram(b"hello", t0 + ms(10)), Received::Data);
        assert_eq!(m.state(), State::Established);
        assert!(m.poll_transmit(t0 + ms(10)).is_some());
        assert_eq!(m.stats().data_received, 1);
    }

    #[test]
    fn answers_are_rate_limited_and_back_off() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        m.poll_transmit(t0);
        m.handle_datagram(&peer_handshake(), t0);
        assert!(m.poll_transmit(t0).is_some()); // on establishment
        // The peer's handshakes arrive every 10 ms: answers go out at most once per gap,
        // the gap doubling 250, 500, 1000, 2000, 2000.
        let mut answers = Vec::new();
        for t in (10..=8_000).step_by(10) {
            m.handle_datagram(&peer_handshake(), t0 + ms(t));
            if m.poll_transmit(t0 + ms(t)).is_some() {
                answers.push(t);
            }
        }
        assert_eq!(answers, [250, 750, 1750, 3750, 5750, 7750]);
        // Game data from the peer resets the gap to the retry interval.
        m.handle_datagram(b"data", t0 + ms(8_000));
        m.handle_datagram(&peer_handshake(), t0 + ms(8_000));
        assert!(m.poll_transmit(t0 + ms(8_000)).is_some());
    }

    #[test]
    fn keepalive_only_when_the_game_is_quiet() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        m.handle_datagram(&peer_handshake(), t0);
        assert!(m.poll_transmit(t0).is_some());
        // The game sends every second for 10 s: no keep-alive.
        for s in 1..=10 {
            m.on_data_sent(t0 + ms(s * 1_000));
            assert!(m.poll_transmit(t0 + ms(s * 1_000)).is_none());
        }
        assert_eq!(m.next_timeout(), Some(t0 + ms(15_000)));
        assert!(m.poll_transmit(t0 + ms(14_999)).is_none());
        assert!(m.poll_transmit(t0 + ms(15_000)).is_some());
        assert!(m.poll_transmit(t0 + ms(19_999)).is_none());
        assert!(m.poll_transmit(t0 + ms(20_000)).is_some());
        // Received data does not count as our traffic.
        m.handle_datagram(b"data", t0 + ms(24_000));
        assert!(m.poll_transmit(t0 + ms(25_000)).is_some());
    }

    #[test]
    fn keepalive_can_be_disabled() {
        let t0 = Instant::now();
        let timing = Timing {
            keepalive_interval: None,
            ..Timing::default()
        };
        let mut m = HandshakeMachine::new(GUID, None, timing, t0).unwrap();
        m.handle_datagram(&peer_handshake(), t0); // unkeyed: the mac is not checked
        assert!(m.poll_transmit(t0).is_some());
        assert_eq!(m.next_timeout(), None);
        assert!(m.poll_transmit(t0 + ms(100_000)).is_none());
    }

    /// Keep-alive after 1 s of our silence, lost after 3 s of the peer's.
    fn watchful(t0: Instant) -> HandshakeMachine {
        let timing = Timing {
            keepalive_interval: Some(ms(1_000)),
            peer_timeout: Some(ms(3_000)),
            ..Timing::default()
        };
        HandshakeMachine::new(GUID, Some(b"key"), timing, t0).unwrap()
    }

    #[test]
    fn silent_peer_is_lost_after_the_peer_timeout() {
        let t0 = Instant::now();
        let mut m = watchful(t0);
        assert!(m.poll_transmit(t0).is_some());
        // Handshaking does not count: only the handshake timeout applies there.
        m.handle_timeout(t0 + ms(5_000));
        assert_eq!(m.state(), State::Handshaking);
        m.handle_datagram(&peer_handshake(), t0 + ms(5_000));
        assert_eq!(m.state(), State::Established);
        assert!(m.poll_transmit(t0 + ms(5_000)).is_some());
        assert_eq!(m.last_received(), Some(t0 + ms(5_000)));
        // Our keep-alives keep going out, but they are not the peer's: the silence counts.
        let mut keepalives = 0;
        for t in (5_001..8_000).step_by(10) {
            keepalives += usize::from(m.poll_transmit(t0 + ms(t)).is_some());
            assert_eq!(m.state(), State::Established, "at {t} ms");
        }
        assert_eq!(keepalives, 2, "at 6 s and 7 s");
        assert_eq!(m.next_timeout(), Some(t0 + ms(8_000)));
        m.handle_timeout(t0 + ms(7_999));
        assert_eq!(m.state(), State::Established);
        m.handle_timeout(t0 + ms(8_000));
        assert_eq!(m.state(), State::Lost);
        // Final: nothing more goes out, nothing is game data, nothing revives it.
        assert_eq!(m.next_timeout(), None);
        assert!(m.poll_transmit(t0 + ms(9_000)).is_none());
        assert!(m.poll_transmit(t0 + ms(100_000)).is_none());
        let sent = m.stats().handshakes_sent;
        assert_eq!(
            m.handle_datagram(&peer_handshake(), t0 + ms(8_001)),
            Received::Discarded
        );
        assert_eq!(
            m.handle_datagram(b"data", t0 + ms(8_002)),
            Received::Discarded
        );
        assert_eq!(m.state(), State::Lost);
        assert!(
            m.poll_transmit(t0 + ms(8_002)).is_none(),
            "no answer either"
        );
        assert_eq!(m.stats().handshakes_sent, sent);
        assert_eq!(m.stats().discarded, 2);
    }

    #[test]
    fn the_loss_is_noticed_by_any_call_after_the_deadline() {
        let t0 = Instant::now();
        let mut m = watchful(t0);
        m.handle_datagram(b"data", t0);
        assert!(m.poll_transmit(t0).is_some());
        // A datagram arriving after the deadline came too late: the call notices first.
        assert_eq!(
            m.handle_datagram(b"late", t0 + ms(3_000)),
            Received::Discarded
        );
        assert_eq!(m.state(), State::Lost);
        let mut polled = watchful(t0);
        polled.handle_datagram(b"data", t0);
        assert!(polled.poll_transmit(t0 + ms(3_000)).is_none());
        assert_eq!(polled.state(), State::Lost);
    }

    #[test]
    fn a_talking_peer_is_never_lost() {
        let t0 = Instant::now();
        // Game data every 500 ms for a minute.
        let mut m = watchful(t0);
        m.handle_datagram(b"data", t0);
        for t in (0..=60_000).step_by(500) {
            assert_eq!(m.handle_datagram(b"data", t0 + ms(t)), Received::Data);
            m.poll_transmit(t0 + ms(t));
            assert_eq!(
                m.next_timeout().map(|n| n <= t0 + ms(t + 3_000)),
                Some(true)
            );
        }
        m.handle_timeout(t0 + ms(62_999));
        assert_eq!(m.state(), State::Established);
        // A quiet peer sending only its keep-alive handshakes, every 1 s, for a minute.
        let mut m = watchful(t0);
        m.handle_datagram(&peer_handshake(), t0);
        for t in 0..=60_000 {
            if t % 1_000 == 0 {
                let kind = m.handle_datagram(&peer_handshake(), t0 + ms(t));
                assert_eq!(kind, Received::Handshake, "at {t} ms");
            }
            m.poll_transmit(t0 + ms(t));
        }
        assert_eq!(m.state(), State::Established);
        // The deadline moves with the last datagram received.
        assert_eq!(m.last_received(), Some(t0 + ms(60_000)));
        assert_eq!(
            m.next_timeout(),
            Some(t0 + ms(61_000)),
            "our keep-alive first"
        );
        m.on_data_sent(t0 + ms(62_500));
        assert_eq!(m.next_timeout(), Some(t0 + ms(63_000)), "then the loss");
        m.handle_timeout(t0 + ms(63_000));
        assert_eq!(m.state(), State::Lost);
    }

    #[test]
    fn peer_timeout_without_keepalives_is_the_only_deadline() {
        let t0 = Instant::now();
        let timing = Timing {
            keepalive_interval: None,
            peer_timeout: Some(ms(200)),
            ..Timing::default()
        };
        let mut m = HandshakeMachine::new(GUID, None, timing, t0).unwrap();
        m.handle_datagram(b"data", t0 + ms(10));
        assert!(m.poll_transmit(t0 + ms(10)).is_some());
        assert_eq!(m.next_timeout(), Some(t0 + ms(210)));
        assert!(m.poll_transmit(t0 + ms(210)).is_none());
        assert_eq!(m.state(), State::Lost);
    }

    #[test]
    fn peer_timeout_must_outlast_the_keepalive_interval() {
        let t0 = Instant::now();
        let with = |keepalive: Option<u64>, peer: u64| Timing {
            keepalive_interval: keepalive.map(ms),
            peer_timeout: Some(ms(peer)),
            ..Timing::default()
        };
        for (timing, wanted) in [
            (
                with(Some(1_000), 1_000),
                "peer timeout (1s) must be longer than the keep-alive interval (1s)",
            ),
            (
                with(Some(5_000), 4_000),
                "peer timeout (4s) must be longer than the keep-alive interval (5s)",
            ),
            (with(Some(1_000), 0), "peer timeout must be > 0"),
            (with(None, 0), "peer timeout must be > 0"),
        ] {
            let message = timing.validate().unwrap_err();
            assert!(message.starts_with(wanted), "{message}");
            assert_eq!(
                HandshakeMachine::new(GUID, None, timing, t0).unwrap_err(),
                MachineError::Timing(message)
            );
        }
        assert_eq!(with(Some(1_000), 1_001).validate(), Ok(()));
        assert_eq!(with(None, 1).validate(), Ok(()));
        assert_eq!(Timing::default().peer_timeout, None, "off by default");
    }

    #[test]
    fn classifies_datagrams() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        // Our GUID with a wrong mac: neither a handshake nor game data.
        let mut forged = peer_handshake();
        forged[40] ^= 1;
        assert_eq!(m.handle_datagram(&forged, t0), Received::Discarded);
        assert_eq!(m.state(), State::Handshaking);
        // A handshake for another GUID is the peer's business: game data.
        let mut other = [0u8; HANDSHAKE_LEN];
        protocol::write_handshake(&mut other, Guid(7), 0, &[], None).unwrap();
        assert_eq!(m.handle_datagram(&other, t0), Received::Data);
        assert_eq!(
            m.handle_datagram(&peer_handshake(), t0),
            Received::Handshake
        );
        m.close();
        assert_eq!(m.state(), State::Closed);
        assert_eq!(m.handle_datagram(b"x", t0), Received::Discarded);
        assert!(m.poll_transmit(t0 + ms(60_000)).is_none());
        assert_eq!(
            m.stats(),
            HandshakeStats {
                handshakes_sent: 0,
                handshakes_received: 1,
                data_received: 1,
                discarded: 2
            }
        );
    }

    #[test]
    fn refuses_bad_setup() {
        let t0 = Instant::now();
        assert_eq!(
            HandshakeMachine::new(Guid::ZERO, None, Timing::default(), t0).unwrap_err(),
            MachineError::ZeroGuid
        );
        for timing in [
            Timing {
                retry_interval: Duration::ZERO,
                ..Timing::default()
            },
            Timing {
                retry_backoff_max: ms(100),
                ..Timing::default()
            },
            Timing {
                handshake_timeout: Duration::ZERO,
                ..Timing::default()
            },
            Timing {
                keepalive_interval: Some(Duration::ZERO),
                ..Timing::default()
            },
        ] {
            assert!(matches!(
                HandshakeMachine::new(GUID, None, timing, t0),
                Err(MachineError::Timing(_))
            ));
        }
    }

    #[test]
    fn every_duration_is_at_most_a_day() {
        let t0 = Instant::now();
        let over = MAX_TIMING + ms(1);
        for (timing, name) in [
            (
                Timing {
                    retry_interval: Duration::MAX,
                    retry_backoff_max: Duration::MAX,
                    ..Timing::default()
                },
                "retry interval",
            ),
            (
                Timing {
                    retry_backoff_max: over,
                    ..Timing::default()
                },
                "retry backoff max",
            ),
            (
                Timing {
                    handshake_timeout: Duration::MAX,
                    ..Timing::default()
                },
                "handshake timeout",
            ),
            (
                Timing {
                    keepalive_interval: Some(over),
                    ..Timing::default()
                },
                "keep-alive interval",
            ),
            (
                Timing {
                    peer_timeout: Some(Duration::MAX),
                    ..Timing::default()
                },
                "peer timeout",
            ),
        ] {
            let message = timing.validate().unwrap_err();
            assert!(message.starts_with(name), "{message}");
            assert!(message.contains("at most a day"), "{message}");
            assert_eq!(
                HandshakeMachine::new(GUID, None, timing, t0).unwrap_err(),
                MachineError::Timing(message)
            );
        }
        let longest = longest_timing();
        assert_eq!(longest.validate(), Ok(()));
    }

    /// Every duration at its upper bound (the keep-alive just under the peer timeout).
    fn longest_timing() -> Timing {
        Timing {
            retry_interval: MAX_TIMING,
            retry_backoff_max: MAX_TIMING,
            handshake_timeout: MAX_TIMING,
            keepalive_interval: Some(MAX_TIMING - ms(1)),
            peer_timeout: Some(MAX_TIMING),
        }
    }

    #[test]
    fn deadlines_past_the_end_of_the_clock_stop_at_its_last_instant() {
        let end = later(Instant::now(), Duration::MAX);
        let start = end.checked_sub(Duration::from_secs(3600)).unwrap();
        let longest = longest_timing();
        let mut m = HandshakeMachine::new(GUID, None, longest, start).unwrap();
        assert!(m.poll_transmit(start).is_some());
        assert_eq!(
            m.next_timeout(),
            Some(end),
            "retry and give-up, both at the end"
        );
        let t = start + ms(1_000);
        assert_eq!(m.handle_datagram(&peer_handshake(), t), Received::Handshake);
        assert!(m.poll_transmit(t).is_some(), "the answer");
        m.on_data_sent(t);
        assert_eq!(m.next_timeout(), Some(end), "keep-alive and peer timeout");
        m.handle_timeout(start + ms(1_800_000));
        assert_eq!(m.state(), State::Established);
        m.handle_timeout(end);
        assert_eq!(m.state(), State::Lost);
    }

    const SECRET: &[u8] = b"relay secret";

    fn seat(role: Role) -> Token {
        TokenKey::new(SECRET).mint(GUID, role, u64::MAX)
    }

    fn token_machine(t0: Instant, role: Role) -> HandshakeMachine {
        HandshakeMachine::with_token(Guid::ZERO, None, Some(seat(role)), Timing::default(), t0)
            .unwrap()
    }

    fn sequence_of(handshake: &[u8]) -> u64 {
        token::read_claim(handshake).unwrap().sequence
    }

    /// A token machine keeps sending keep-alives while the game is busy: after a NAT
    /// rebinding its next one is what moves its seat.
    #[test]
    fn with_a_token_keepalives_go_out_whatever_the_game_sends() {
        let t0 = Instant::now();
        let mut m = token_machine(t0, Role::A);
        let mut peer = [0u8; TOKEN_HANDSHAKE_LEN];
        token::write_handshake_with_token(&mut peer, &seat(Role::B), 1).unwrap();
        m.handle_datagram(&peer, t0);
        assert!(m.poll_transmit(t0).is_some());
        let mut keepalives = Vec::new();
        for t in (100..=12_000).step_by(100) {
            m.on_data_sent(t0 + ms(t));
            if m.poll_transmit(t0 + ms(t)).is_some() {
                keepalives.push(t);
            }
        }
        assert_eq!(keepalives, [5_000, 10_000]);
    }

    /// A challenge from the relay is answered at once with the cookie echoed, and only once
    /// per retry interval however many arrive; it is consumed, and no sign of the peer.
    #[test]
    fn challenges_are_answered_with_the_cookie_once_per_retry_interval() {
        let t0 = Instant::now();
        let mut m = token_machine(t0, Role::A);
        assert!(m.poll_transmit(t0).is_some());
        let cookie = [7u8; cookie::COOKIE_LEN];
        let mut challenge = [0u8; cookie::CHALLENGE_LEN];
        cookie::write_challenge(&mut challenge, GUID, &cookie);
        assert_eq!(
            m.handle_datagram(&challenge, t0 + ms(10)),
            Received::Handshake
        );
        assert_eq!(m.state(), State::Handshaking, "a challenge is not the peer");
        assert_eq!(m.stats().handshakes_received, 0);
        let echo = m
            .poll_transmit(t0 + ms(10))
            .expect("answered at once")
            .to_vec();
        assert_eq!(echo.len(), token::TOKEN_COOKIE_HANDSHAKE_LEN);
        assert_eq!(cookie::echoed_cookie(&echo), Some(&cookie[..]));
        let relay = HandshakeVerifier::new(Some(SECRET), true);
        assert!(
            relay.verify(&echo, 0).is_ok(),
            "the proof covers the cookie"
        );
        // A flood of (possibly forged) challenges gets one answer per retry interval.
        let mut answers = Vec::new();
        for t in 11..=300 {
            m.handle_datagram(&challenge, t0 + ms(t));
            if m.poll_transmit(t0 + ms(t)).is_some() {
                answers.push(t);
            }
        }
        assert_eq!(answers, [260], "one retry interval after the last answer");
    }

    #[test]
    fn token_handshakes_verify_at_the_relay_with_fresh_sequences() {
        let t0 = Instant::now();
        let mut m = token_machine(t0, Role::A);
        assert_eq!(m.guid(), GUID, "a zero GUID means the token's");
        assert_eq!(m.handshake_len(), TOKEN_HANDSHAKE_LEN);
        let relay = HandshakeVerifier::new(Some(SECRET), true);
        let mut sequences = Vec::new();
        // Retries while handshaking, then the answer on establishment and keep-alives.
        let mut poll = |m: &mut HandshakeMachine, t: u64| {
            if let Some(h) = m.poll_transmit(t0 + ms(t)) {
                assert_eq!(h.len(), TOKEN_HANDSHAKE_LEN);
                let v = relay.verify(h, 0).expect("the relay admits it");
                assert_eq!(v.guid, GUID);
                let claim = v.token.expect("a token claim");
                assert_eq!(claim.role, Role::A);
                sequences.push(claim.sequence);
            }
        };
        for t in [0, 250, 750] {
            poll(&mut m, t);
        }
        let mut peer = [0u8; TOKEN_HANDSHAKE_LEN];
        token::write_handshake_with_token(&mut peer, &seat(Role::B), 1).unwrap();
        assert_eq!(m.handle_datagram(&peer, t0 + ms(800)), Received::Handshake);
        assert_eq!(m.state(), State::Established);
        for t in [800, 5_800, 10_800] {
            poll(&mut m, t);
        }
        assert_eq!(sequences.len(), 6);
        assert!(
            sequences.windows(2).all(|w| w[0] < w[1]),
            "not strictly increasing: {sequences:?}"
        );
        assert_eq!(m.handshake(), {
            let mut last = [0u8; TOKEN_HANDSHAKE_LEN];
            token::write_handshake_with_token(&mut last, &seat(Role::A), sequences[5]).unwrap();
            last
        });
        // A second machine on the same token (a restarted client) continues above.
        let mut again = token_machine(t0, Role::A);
        let next = again.poll_transmit(t0).map(sequence_of).unwrap();
        assert!(next > sequences[5]);
    }

    #[test]
    fn peer_token_handshakes_are_recognised_never_game_data() {
        let t0 = Instant::now();
        let mut peer = [0u8; TOKEN_HANDSHAKE_LEN];
        token::write_handshake_with_token(&mut peer, &seat(Role::B), 42).unwrap();
        // Whether we hold a token, the relay key, or nothing: the peer's token handshake is
        // a handshake (its proof is for the relay only).
        for mut m in [
            token_machine(t0, Role::A),
            machine(t0),
            HandshakeMachine::new(GUID, None, Timing::default(), t0).unwrap(),
        ] {
            assert_eq!(m.handle_datagram(&peer, t0), Received::Handshake);
            assert_eq!(m.state(), State::Established);
            assert_eq!(m.stats().data_received, 0);
        }
        // A token machine still checks plain handshakes with the key it was given...
        let mut keyed = HandshakeMachine::with_token(
            GUID,
            Some(b"key"),
            Some(seat(Role::A)),
            Timing::default(),
            t0,
        )
        .unwrap();
        let mut forged = peer_handshake();
        forged[40] ^= 1;
        assert_eq!(keyed.handle_datagram(&forged, t0), Received::Discarded);
        assert_eq!(
            keyed.handle_datagram(&peer_handshake(), t0),
            Received::Handshake
        );
        // ...and token-flagged ones for their shape: truncated, bad version, bad role.
        let mut m = token_machine(t0, Role::A);
        let mut bad_version = peer;
        bad_version[56] = 2;
        let mut bad_role = peer;
        bad_role[57] = 7;
        for bad in [&peer[..70], &bad_version[..], &bad_role[..], &peer[..56]] {
            assert_eq!(m.handle_datagram(bad, t0), Received::Discarded);
        }
        assert_eq!(m.state(), State::Handshaking);
        // Another channel's token handshake is the game's business, as before.
        let other = TokenKey::new(SECRET).mint(Guid(9), Role::B, u64::MAX);
        let mut theirs = [0u8; TOKEN_HANDSHAKE_LEN];
        token::write_handshake_with_token(&mut theirs, &other, 1).unwrap();
        assert_eq!(m.handle_datagram(&theirs, t0), Received::Data);
    }

    /// A relay-bound (v2) token: 84-byte handshakes (100 with the cookie, the largest a
    /// machine writes) that the relay it names admits, and a v1 peer's handshakes (or a v2
    /// peer's, whatever its relay) recognised as handshakes.
    #[test]
    fn v2_token_handshakes_verify_at_their_relay() {
        let t0 = Instant::now();
        let bound = TokenKey::new(SECRET).mint_for_relay(3, 17, GUID, Role::A, u64::MAX);
        let mut m =
            HandshakeMachine::with_token(Guid::ZERO, None, Some(bound), Timing::default(), t0)
                .unwrap();
        assert_eq!(m.handshake_len(), token::TOKEN_V2_HANDSHAKE_LEN);
        let relay = HandshakeVerifier::new(Some(SECRET), true)
            .with_key_id(3)
            .with_relay_id(17);
        let first = m.poll_transmit(t0).unwrap().to_vec();
        assert_eq!(relay.verify(&first, 0).unwrap().guid, GUID);
        let cookie = [5u8; cookie::COOKIE_LEN];
        let mut challenge = [0u8; cookie::CHALLENGE_LEN];
        cookie::write_challenge(&mut challenge, GUID, &cookie);
        m.handle_datagram(&challenge, t0 + ms(1));
        let echo = m.poll_transmit(t0 + ms(1)).unwrap().to_vec();
        assert_eq!(echo.len(), MAX_HANDSHAKE_LEN);
        assert!(relay.verify(&echo, 0).is_ok());
        let elsewhere = HandshakeVerifier::new(Some(SECRET), true)
            .with_key_id(3)
            .with_relay_id(18);
        assert!(elsewhere.verify(&echo, 0).is_err());
        let mut peer = [0u8; TOKEN_HANDSHAKE_LEN];
        token::write_handshake_with_token(&mut peer, &seat(Role::B), 1).unwrap();
        assert_eq!(m.handle_datagram(&peer, t0 + ms(2)), Received::Handshake);
        assert_eq!(m.state(), State::Established);
    }

    #[test]
    fn token_for_another_guid_is_refused() {
        let t0 = Instant::now();
        let err =
            HandshakeMachine::with_token(Guid(5), None, Some(seat(Role::B)), Timing::default(), t0)
                .unwrap_err();
        assert_eq!(
            err,
            MachineError::TokenGuid {
                guid: Guid(5),
                token: GUID
            }
        );
        assert!(err.to_string().contains("seat token"), "{err}");
        // The same GUID spelled out is fine.
        let m =
            HandshakeMachine::with_token(GUID, None, Some(seat(Role::B)), Timing::default(), t0)
                .unwrap();
        assert_eq!(m.token().map(|t| t.role), Some(Role::B));
        // Without a token the machine sends the 56-byte handshake, as always.
        assert_eq!(machine(t0).handshake_len(), HANDSHAKE_LEN);
    }

    /// A lost machine rejoins with a new ticket: a fresh start for the new GUID and token,
    /// the first handshake at once, no cookie of the old relay, the counters going on.
    #[test]
    fn rejoin_starts_over_with_the_new_ticket_and_keeps_counting() {
        let t0 = Instant::now();
        let timing = Timing {
            keepalive_interval: Some(ms(100)),
            peer_timeout: Some(ms(300)),
            ..Timing::default()
        };
        let mut m = HandshakeMachine::with_token(Guid::ZERO, None, Some(seat(Role::A)), timing, t0)
            .unwrap();
        assert!(m.poll_transmit(t0).is_some());
        let mut challenge = [0u8; cookie::CHALLENGE_LEN];
        cookie::write_challenge(&mut challenge, GUID, &[7u8; cookie::COOKIE_LEN]);
        m.handle_datagram(&challenge, t0 + ms(1));
        assert!(m.poll_transmit(t0 + ms(1)).is_some());
        m.handle_datagram(b"data", t0 + ms(2));
        assert_eq!(m.state(), State::Established);
        m.handle_timeout(t0 + ms(400));
        assert_eq!(m.state(), State::Lost);
        let before = m.stats();

        // A bad ticket leaves the machine as it was.
        let other = Guid(0x77);
        let new_seat = TokenKey::new(b"another relay's secret").mint(other, Role::B, u64::MAX);
        assert_eq!(
            m.rejoin(Guid(5), Some(new_seat), t0 + ms(500)).unwrap_err(),
            MachineError::TokenGuid {
                guid: Guid(5),
                token: other
            }
        );
        assert_eq!(
            m.rejoin(Guid::ZERO, None, t0 + ms(500)),
            Err(MachineError::ZeroGuid)
        );
        assert_eq!((m.state(), m.guid()), (State::Lost, GUID));

        let t1 = t0 + ms(500);
        m.rejoin(Guid::ZERO, Some(new_seat), t1).unwrap();
        assert_eq!((m.state(), m.guid()), (State::Handshaking, other));
        assert_eq!(m.token().map(|t| t.role), Some(Role::B));
        assert_eq!(
            m.next_timeout(),
            Some(t1),
            "the first handshake is due at once"
        );
        let first = m.poll_transmit(t1).unwrap().to_vec();
        assert_eq!(
            first.len(),
            TOKEN_HANDSHAKE_LEN,
            "no cookie of the old relay"
        );
        assert_eq!(protocol::peek_guid(&first), other);
        assert_eq!(m.stats().handshakes_sent, before.handshakes_sent + 1);
        assert_eq!(m.stats().data_received, before.data_received);
        // A fresh handshake timeout from the rejoin.
        m.handle_timeout(t1 + ms(9_999));
        assert_eq!(m.state(), State::Handshaking);
        m.handle_timeout(t1 + ms(10_000));
        assert_eq!(m.state(), State::TimedOut);
        // And from there, again, now with a plain v0.8 handshake.
        m.rejoin(GUID, None, t1 + ms(10_001)).unwrap();
        assert_eq!(m.handshake_len(), HANDSHAKE_LEN);
        assert_eq!(
            m.handle_datagram(&peer_handshake(), t1 + ms(10_002)),
            Received::Handshake
        );
        assert_eq!(m.state(), State::Established);
    }

    /// An established machine may rejoin elsewhere at once (its relay drains).
    #[test]
    fn rejoin_while_established_forgets_the_old_channel() {
        let t0 = Instant::now();
        let mut m = machine(t0);
        m.handle_datagram(&peer_handshake(), t0);
        assert_eq!(m.state(), State::Established);
        m.rejoin(Guid(99), None, t0 + ms(1)).unwrap();
        assert_eq!(m.state(), State::Handshaking);
        // The old peer's handshake is another channel's: game data, as for any machine.
        let mut old = [0u8; HANDSHAKE_LEN];
        protocol::write_handshake(&mut old, GUID, 0, &[], Some(&HandshakeKey::new(b"key")))
            .unwrap();
        assert_eq!(m.handle_datagram(&old, t0 + ms(2)), Received::Data);
    }
}
