//! Timing relays to pick the nearest, as a state machine with no socket of its own: it says
//! which probe ([`crate::probe`]) to send to which relay and when, takes the replies, and
//! ends with one [`Measurement`] per relay: the median round-trip time of its answered
//! probes and the state it reported (accepting, draining, full), or unreachable.
//!
//! Schedule, per relay: up to `attempts` probes, one at a time. The first goes out at once;
//! each next one as soon as the previous is answered, or a *gap* (`timeout / attempts`)
//! after it when no answer came (lost, or slower than the gap). A late answer still counts,
//! matched to its probe by the value the probe carries. A relay is settled when every probe
//! is answered, or its last probe has waited a gap; the whole measurement ends when every
//! relay is settled, and never later than `timeout` after the start. So an unreachable relay
//! costs exactly the timeout, and a healthy one a few round trips.
//!
//! Each probe carries a random 32-bit tag of this measurement and the probe's number, and a
//! reply counts only from the relay the probe went to: stray or replayed replies are ignored.
//!
//! Relays answer probes from any address that is not a member of one of their channels; from
//! a member's address a probe is that channel's data. So measure from a socket that is in no
//! channel on the relays measured: before joining, or on a socket of its own
//! ([`super::measure_relays`] binds one).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::clock::later;
use crate::net;
use crate::probe::{self, PROBE_LEN, RelayState};

/// Most probes per relay.
pub const MAX_MEASURE_ATTEMPTS: u32 = 16;
/// Longest a measurement may last, in milliseconds (a minute).
pub const MAX_MEASURE_TIMEOUT_MS: u32 = 60_000;
/// Most relays one measurement takes.
pub const MAX_MEASURED_RELAYS: usize = 1024;

/// What came back from one relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// At least one probe was answered.
    Answered {
        /// The median round-trip time of the answered probes (the mean of the middle two for
        /// an even count).
        rtt: Duration,
        /// The state the relay reported in its latest reply.
        state: RelayState,
    },
    /// No probe was answered in time: the relay is down, not there, or the path drops UDP.
    Unreachable,
}

/// The outcome for one relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measurement {
    /// The relay's address, as given.
    pub relay: SocketAddr,
    pub reach: Reach,
    /// Probes sent to it.
    pub probes_sent: u32,
    /// Probes it answered.
    pub replies: u32,
}

impl Measurement {
    /// The median round-trip time, if the relay answered.
    pub fn rtt(&self) -> Option<Duration> {
        match self.reach {
            Reach::Answered { rtt, .. } => Some(rtt),
            Reach::Unreachable => None,
        }
    }

    /// The state the relay reported, if it answered.
    pub fn state(&self) -> Option<RelayState> {
        match self.reach {
            Reach::Answered { state, .. } => Some(state),
            Reach::Unreachable => None,
        }
    }
}

/// The relay to join: the one with the lowest round-trip time among those accepting new
/// channels (a draining or full relay would refuse the handshake), if any answered.
pub fn nearest(measurements: &[Measurement]) -> Option<&Measurement> {
    measurements
        .iter()
        .filter(|m| m.state() == Some(RelayState::Accepting))
        .min_by_key(|m| m.rtt())
}

/// Why a measurement cannot start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeasureError {
    /// `attempts` is 0 or above [`MAX_MEASURE_ATTEMPTS`].
    Attempts(u32),
    /// The timeout is zero or above [`MAX_MEASURE_TIMEOUT_MS`].
    Timeout(Duration),
    /// More relays than [`MAX_MEASURED_RELAYS`].
    TooManyRelays(usize),
}

impl std::fmt::Display for MeasureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MeasureError::Attempts(n) => write!(
                f,
                "attempts is {n}: probes per relay must be 1 to {MAX_MEASURE_ATTEMPTS}"
            ),
            MeasureError::Timeout(t) => write!(
                f,
                "timeout is {} ms: it must be 1 to {MAX_MEASURE_TIMEOUT_MS} ms",
                t.as_millis()
            ),
            MeasureError::TooManyRelays(n) => write!(
                f,
                "{n} relays: at most {MAX_MEASURED_RELAYS} are measured at once"
            ),
        }
    }
}

impl std::error::Error for MeasureError {}

/// Checks a measurement's bounds (what [`RelayMeasure::new`] refuses), e.g. before
/// resolving relay names that would then not be measured.
pub fn check_measure(relays: usize, attempts: u32, timeout: Duration) -> Result<(), MeasureError> {
    if attempts == 0 || attempts > MAX_MEASURE_ATTEMPTS {
        return Err(MeasureError::Attempts(attempts));
    }
    if timeout < Duration::from_millis(1)
        || timeout > Duration::from_millis(u64::from(MAX_MEASURE_TIMEOUT_MS))
    {
        return Err(MeasureError::Timeout(timeout));
    }
    if relays > MAX_MEASURED_RELAYS {
        return Err(MeasureError::TooManyRelays(relays));
    }
    Ok(())
}

/// A probe to send now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The relay to send it to.
    pub to: SocketAddr,
    pub datagram: [u8; PROBE_LEN],
}

/// One relay's probes and answers.
#[derive(Debug, Clone)]
struct Target {
    /// As given, for the result.
    relay: SocketAddr,
    /// Normalised, to compare with a reply's source.
    from: SocketAddr,
    /// When each probe went out (index = probe number).
    sent: Vec<Instant>,
    /// The round-trip time of each answered probe (`None`: not answered yet).
    rtts: Vec<Option<Duration>>,
    state: Option<RelayState>,
    /// When the next probe is due, if one is left to send.
    next_send: Option<Instant>,
    /// No more probes, no more replies taken.
    settled: bool,
}

impl Target {
    fn replies(&self) -> usize {
        self.rtts.iter().flatten().count()
    }

    /// When this relay has something to do: its next probe, or giving up on its last one.
    fn due(&self, gap: Duration) -> Option<Instant> {
        if self.settled {
            return None;
        }
        self.next_send
            .or_else(|| self.sent.last().map(|&last| later(last, gap)))
    }

    fn measurement(&self) -> Measurement {
        let mut rtts: Vec<Duration> = self.rtts.iter().flatten().copied().collect();
        rtts.sort_unstable();
        let reach = match (median(&rtts), self.state) {
            (Some(rtt), Some(state)) => Reach::Answered { rtt, state },
            _ => Reach::Unreachable,
        };
        Measurement {
            relay: self.relay,
            reach,
            probes_sent: self.sent.len() as u32,
            replies: rtts.len() as u32,
        }
    }
}

/// The median of sorted durations.
fn median(sorted: &[Duration]) -> Option<Duration> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2),
    }
}

/// The measurement state machine. Every method takes the current time explicitly, so it runs
/// on any clock the caller trusts and is testable with synthetic instants.
#[derive(Debug, Clone)]
pub struct RelayMeasure {
    targets: Vec<Target>,
    attempts: u32,
    gap: Duration,
    deadline: Instant,
    /// High half of every probe's value; the low half is the relay's index and the probe's
    /// number.
    tag: u32,
    /// Where the round-robin of `poll_transmit` resumes.
    cursor: usize,
}

impl RelayMeasure {
    /// A measurement of `relays` starting at `now`: up to `attempts` probes each (1 to
    /// [`MAX_MEASURE_ATTEMPTS`]), over at most `timeout` (1 ms to
    /// [`MAX_MEASURE_TIMEOUT_MS`]). `tag` marks this measurement's probes (take it from a
    /// random source, so no one else's replies are taken for ours).
    pub fn new(
        relays: &[SocketAddr],
        attempts: u32,
        timeout: Duration,
        tag: u32,
        now: Instant,
    ) -> Result<RelayMeasure, MeasureError> {
        check_measure(relays.len(), attempts, timeout)?;
        let targets = relays
            .iter()
            .map(|&relay| Target {
                relay,
                from: net::normalize(relay),
                sent: Vec::with_capacity(attempts as usize),
                rtts: Vec::with_capacity(attempts as usize),
                state: None,
                next_send: Some(now),
                settled: false,
            })
            .collect();
        Ok(RelayMeasure {
            targets,
            attempts,
            gap: timeout / attempts,
            deadline: later(now, timeout),
            tag,
            cursor: 0,
        })
    }

    /// Settles the relays whose last probe has waited a gap, and every relay once the
    /// timeout has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        let past_deadline = now >= self.deadline;
        for target in &mut self.targets {
            let waited = target.next_send.is_none()
                && target
                    .sent
                    .last()
                    .is_some_and(|&t| now >= later(t, self.gap));
            if past_deadline || waited {
                target.settled = true;
                target.next_send = None;
            }
        }
    }

    /// The probe to send now, if one is due (call it until it returns `None`); the machine
    /// counts it as sent at `now`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Probe> {
        self.handle_timeout(now);
        let n = self.targets.len();
        for step in 0..n {
            let index = (self.cursor + step) % n;
            let target = &mut self.targets[index];
            if target.next_send.is_none_or(|due| now < due) {
                continue;
            }
            let number = target.sent.len() as u32;
            target.sent.push(now);
            target.rtts.push(None);
            target.next_send =
                (number + 1 < self.attempts).then(|| later(now, self.gap).min(self.deadline));
            self.cursor = (index + 1) % n;
            let value = (u64::from(self.tag) << 32) | ((index as u64) << 16) | u64::from(number);
            return Some(Probe {
                to: target.relay,
                datagram: probe::write_probe(value),
            });
        }
        None
    }

    /// Takes a datagram received from `from` (any address: the machine checks it is the
    /// relay the probe went to). Returns whether it was an awaited reply.
    pub fn handle_datagram(&mut self, from: SocketAddr, datagram: &[u8], now: Instant) -> bool {
        self.handle_timeout(now);
        let Some((state, value)) = probe::read_reply(datagram) else {
            return false;
        };
        if (value >> 32) as u32 != self.tag {
            return false;
        }
        let index = ((value >> 16) & 0xFFFF) as usize;
        let number = (value & 0xFFFF) as usize;
        let attempts = self.attempts as usize;
        let Some(target) = self.targets.get_mut(index) else {
            return false;
        };
        if target.settled || target.from != net::normalize(from) {
            return false;
        }
        let Some(rtt @ None) = target.rtts.get_mut(number) else {
            return false;
        };
        *rtt = Some(now.saturating_duration_since(target.sent[number]));
        target.state = Some(state);
        if target.replies() == attempts {
            target.settled = true;
        } else if number + 1 == target.sent.len() && target.next_send.is_some() {
            // The latest probe was answered: the next one may go at once.
            target.next_send = Some(now);
        }
        true
    }

    /// When the machine next has something to do (a probe to send, a relay to give up on,
    /// the end), or `None` once every relay is settled. It may be in the past: call
    /// [`RelayMeasure::poll_transmit`] at once then.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.targets
            .iter()
            .filter_map(|t| t.due(self.gap))
            .min()
            .map(|due| due.min(self.deadline))
    }

    /// Whether every relay is settled, as of the last call that took the time.
    pub fn is_done(&self) -> bool {
        self.targets.iter().all(|t| t.settled)
    }

    /// One measurement per relay, in the order given (final once
    /// [`RelayMeasure::is_done`]).
    pub fn measurements(&self) -> Vec<Measurement> {
        self.targets.iter().map(Target::measurement).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// The relay's reply to `probe`, in `state`.
    fn reply(probe: &Probe, state: RelayState) -> [u8; PROBE_LEN] {
        probe::write_reply(state, probe::read_probe(&probe.datagram).unwrap())
    }

    fn drain(m: &mut RelayMeasure, now: Instant) -> Vec<Probe> {
        std::iter::from_fn(|| m.poll_transmit(now)).collect()
    }

    #[test]
    fn answered_relays_take_the_median_and_the_latest_state() {
        let t0 = Instant::now();
        let relays = [addr(1), addr(2)];
        let mut m = RelayMeasure::new(&relays, 3, ms(900), 7, t0).unwrap();
        let first = drain(&mut m, t0);
        assert_eq!(first.iter().map(|p| p.to).collect::<Vec<_>>(), relays);
        for (i, rtts, state) in [
            (0, [10, 30, 20], RelayState::Accepting),
            (1, [50, 40, 45], RelayState::Draining),
        ] {
            let (mut now, mut probe) = (t0, first[i]);
            for (k, rtt) in rtts.into_iter().enumerate() {
                now += ms(rtt);
                assert!(m.handle_datagram(relays[i], &reply(&probe, state), now));
                if k < 2 {
                    // Answered: the next probe to that relay goes at once.
                    probe = m.poll_transmit(now).expect("the next probe");
                    assert_eq!(probe.to, relays[i]);
                }
            }
        }
        assert!(m.is_done());
        assert_eq!(m.next_timeout(), None);
        let got = m.measurements();
        assert_eq!(got[0].rtt(), Some(ms(20)));
        assert_eq!(got[0].state(), Some(RelayState::Accepting));
        assert_eq!(got[1].rtt(), Some(ms(45)));
        assert_eq!(got[1].state(), Some(RelayState::Draining));
        assert!(got.iter().all(|g| g.probes_sent == 3 && g.replies == 3));
        assert_eq!(nearest(&got).map(|g| g.relay), Some(addr(1)));
    }

    #[test]
    fn an_unreachable_relay_is_retried_and_given_up_at_the_timeout() {
        let t0 = Instant::now();
        let mut m = RelayMeasure::new(&[addr(1)], 3, ms(300), 1, t0).unwrap();
        let mut sent_at = Vec::new();
        let mut now = t0;
        while !m.is_done() {
            if m.poll_transmit(now).is_some() {
                sent_at.push((now - t0).as_millis());
            }
            now = m.next_timeout().map_or(now, |t| t.max(now));
            m.handle_timeout(now);
            assert!(now <= t0 + ms(300), "past the timeout");
        }
        assert_eq!(sent_at, [0, 100, 200]);
        assert_eq!(now, t0 + ms(300));
        let got = m.measurements()[0];
        assert_eq!(got.reach, Reach::Unreachable);
        assert_eq!((got.probes_sent, got.replies), (3, 0));
        assert_eq!(nearest(&[got]), None);
    }

    #[test]
    fn a_late_reply_counts_and_a_lost_probe_settles_one_gap_after_the_last() {
        let t0 = Instant::now();
        let mut m = RelayMeasure::new(&[addr(1)], 2, ms(1000), 1, t0).unwrap();
        let first = m.poll_transmit(t0).unwrap();
        // No answer within the gap: the second probe goes.
        assert_eq!(m.next_timeout(), Some(t0 + ms(500)));
        assert!(m.poll_transmit(t0 + ms(499)).is_none());
        let second = m.poll_transmit(t0 + ms(500)).unwrap();
        assert_ne!(first.datagram, second.datagram);
        // The first one's answer, late: its own round trip.
        assert!(m.handle_datagram(addr(1), &reply(&first, RelayState::Full), t0 + ms(600)));
        // The same reply again, or one for a probe never sent, is not taken.
        assert!(!m.handle_datagram(addr(1), &reply(&first, RelayState::Full), t0 + ms(601)));
        // The second is lost: settled one gap after it, before the timeout.
        assert_eq!(m.next_timeout(), Some(t0 + ms(1000)));
        m.handle_timeout(t0 + ms(1000));
        assert!(m.is_done());
        let got = m.measurements()[0];
        assert_eq!(
            got.reach,
            Reach::Answered {
                rtt: ms(600),
                state: RelayState::Full
            }
        );
        assert_eq!((got.probes_sent, got.replies), (2, 1));
        assert!(!m.handle_datagram(addr(1), &reply(&second, RelayState::Full), t0 + ms(1001)));
    }

    #[test]
    fn replies_from_elsewhere_or_of_another_measurement_are_ignored() {
        let t0 = Instant::now();
        let relays = [addr(1), addr(2)];
        let mut m = RelayMeasure::new(&relays, 1, ms(100), 0xABCD, t0).unwrap();
        let probes = drain(&mut m, t0);
        assert_eq!(probes.len(), 2);
        let answer = reply(&probes[0], RelayState::Accepting);
        assert!(!m.handle_datagram(addr(2), &answer, t0), "the other relay");
        assert!(!m.handle_datagram(addr(9), &answer, t0), "a stranger");
        let mut other = RelayMeasure::new(&relays, 1, ms(100), 0x1234, t0).unwrap();
        let theirs = reply(&other.poll_transmit(t0).unwrap(), RelayState::Accepting);
        assert!(!m.handle_datagram(addr(1), &theirs, t0), "another tag");
        assert!(
            !m.handle_datagram(addr(1), &probes[0].datagram, t0),
            "a probe"
        );
        assert!(!m.handle_datagram(addr(1), b"garbage", t0));
        // A v4-mapped source is the same relay.
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:1".parse().unwrap();
        assert!(m.handle_datagram(mapped, &answer, t0 + ms(1)));
        assert_eq!(m.measurements()[0].rtt(), Some(ms(1)));
    }

    #[test]
    fn the_timeout_ends_it_even_with_replies_pending_and_no_relays_end_at_once() {
        let t0 = Instant::now();
        let mut m = RelayMeasure::new(&[addr(1)], 1, ms(50), 1, t0).unwrap();
        let p = m.poll_transmit(t0).unwrap();
        assert!(!m.handle_datagram(addr(1), &reply(&p, RelayState::Accepting), t0 + ms(50)));
        assert!(m.is_done());
        let mut none = RelayMeasure::new(&[], 3, ms(50), 1, t0).unwrap();
        assert!(none.is_done());
        assert_eq!(none.next_timeout(), None);
        assert!(none.poll_transmit(t0).is_none());
        assert!(none.measurements().is_empty());
    }

    #[test]
    fn bounds_are_checked_with_a_message() {
        let t0 = Instant::now();
        for (attempts, timeout, relays, wanted) in [
            (0, ms(100), 1, "attempts is 0"),
            (17, ms(100), 1, "attempts is 17"),
            (3, ms(0), 1, "timeout is 0 ms"),
            (3, ms(60_001), 1, "timeout is 60001 ms"),
            (3, ms(100), 1025, "1025 relays"),
        ] {
            let list = vec![addr(1); relays];
            let e = RelayMeasure::new(&list, attempts, timeout, 0, t0).unwrap_err();
            assert!(e.to_string().starts_with(wanted), "{e}");
        }
        let list = vec![addr(1); MAX_MEASURED_RELAYS];
        assert!(RelayMeasure::new(&list, 16, ms(60_000), 0, t0).is_ok());
    }
}
