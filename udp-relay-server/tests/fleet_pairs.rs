//! A fleet on loopback, end to end: four `udp-relay` processes of one fleet (relay ids 1 to 4,
//! one key, v2 tokens required, a 5 s drain, the default per-source limits), the reference
//! matchmaker's logic (`examples/matchmaker/fleet.rs` and `tickets.rs`: the fleet as the
//! relays' probes report it, the relays that take new channels, the rendezvous ranking, both
//! seats' v2 tokens) and 1 000 pairs of clients (2 000 `Client`s, each on its own socket with
//! its own ticket) sending 20 datagrams a second each way. The test is the game and the
//! matchmaker. It shows:
//!
//! - every pair established; each relay carrying 25 % ± 15 % of the pairs, and exactly the
//!   channels the tickets sent it; no token refused as another relay's, while a token minted
//!   for relay 1 and shown to relay 4 is refused unanswered, counted there (wrong_relay = 1)
//!   and opens no channel;
//! - `kill -9` of relay 2: its pairs' clients, and only theirs, go Lost (keep-alive 500 ms,
//!   peer timeout 1.5 s); the matchmaker, whose probes no longer hear relay 2, ranks the
//!   rest and mints new tickets, and the clients rejoin on their sockets; only those pairs
//!   change relay (rendezvous), each relays both ways again within 5 s of the kill, and no
//!   other pair loses a datagram;
//! - SIGTERM to relay 3: a probe from a fresh socket says draining within 100 ms; the
//!   matchmaker, learning it from its probes, sends none of 50 new pairs there; the relay's
//!   pairs keep relaying with no loss, then move (new tickets, rejoin) and relay again; the
//!   relay exits with status 0 within its drain timeout plus 3 s.
//!
//! Losses are counted per pair, direction and epoch (the relay the pair used), from
//! datagrams sent while both clients were established: every epoch but the ones cut by the
//! kill must receive all it sent.
//!
//! Size: 1 000 pairs by default (`FLEET_PAIRS=N` to change it). In a debug build on two cores
//! the whole run takes about 25 s, most of it waiting for the drain timeout and the
//! peer timeouts, with the machine far from saturated (see README, "Scaling out").
//!
//! `cargo test -p udp-relay-server --test fleet_pairs -- --nocapture` shows a summary.
#![cfg(unix)]

// The example's modules as they are; their JSON output and Agones parts are not used here.
#[allow(dead_code)]
#[path = "../../examples/matchmaker/fleet.rs"]
mod fleet;
#[allow(dead_code)]
#[path = "../../examples/matchmaker/tickets.rs"]
mod tickets;

mod pairs;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use fleet::{AgonesNames, RelayInfo};
use pairs::driver::{Driver, Epoch, PERIOD_MS};
use pairs::watch::Watch;
use support::Service;
use udp_relay::client::{State, Timing};
use udp_relay::probe::{RelayState, read_reply, write_probe};
use udp_relay::protocol::Guid;
use udp_relay::token::{Role, Token, TokenKey, write_handshake_with_token};

const KEY: &[u8] = b"the key of the fleet of the pairs";
const KEY_ID: u32 = 9;
const RELAY_IDS: [u32; 4] = [1, 2, 3, 4];
const KILLED: u32 = 2;
const DRAINED: u32 = 3;
/// Shown a token minted for relay 1.
const WRONG_RELAY_TARGET: u32 = 4;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// The relays' `--max-channels` (its default): each relay's weight in the ranking.
const CAPACITY: u64 = 100_000;
/// The reference matchmaker's default threshold.
const NEAR_FULL: f64 = 0.9;
const DEFAULT_PAIRS: usize = 500;
const NEW_PAIRS_WHILE_DRAINING: usize = 50;
/// The pairs connect over this long rather than all at once: 2 000 handshakes in one
/// instant would be a burst no game sees, and the per-source budgets (all clients are
/// 127.0.0.1 here) are sized for players joining, not for that.
const CONNECT_SPREAD: Duration = Duration::from_secs(3);
const KEEPALIVE: Duration = Duration::from_millis(500);
const PEER_TIMEOUT: Duration = Duration::from_millis(1500);
/// The bounds.
const RELAY_AGAIN_AFTER_KILL: Duration = Duration::from_secs(5);
const PROBE_SAYS_DRAINING: Duration = Duration::from_millis(100);
const EXIT_MARGIN: Duration = Duration::from_secs(3);

fn pair_count() -> usize {
    std::env::var("FLEET_PAIRS").map_or(DEFAULT_PAIRS, |v| {
        v.parse()
            .ok()
            .filter(|&n| n >= 100)
            .unwrap_or_else(|| panic!("FLEET_PAIRS={v:?}: a number of pairs, at least 100"))
    })
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The GUID of match `n`: the same in every run, so each run places the pairs alike.
fn guid_of(n: u64) -> Guid {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    Guid((u128::from(mix(n)) << 64) | u128::from(mix(!n)) | 1)
}

fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}

/// Min, median and max.
fn spread(mut times: Vec<Duration>) -> String {
    times.sort();
    match times.len() {
        0 => "none".into(),
        n => format!(
            "{} / {} / {} (min / median / max of {n})",
            secs(times[0]),
            secs(times[n / 2]),
            secs(times[n - 1])
        ),
    }
}

struct Fleet {
    relays: BTreeMap<u32, Service>,
    dir: PathBuf,
}

impl Fleet {
    fn start() -> Fleet {
        let dir =
            std::env::temp_dir().join(format!("udp-relay-fleet-pairs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let key_file = dir.join("fleet.key");
        std::fs::write(
            &key_file,
            base64::engine::general_purpose::STANDARD.encode(KEY),
        )
        .unwrap();
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let key_file = key_file.display().to_string();
        let (key_id, drain) = (KEY_ID.to_string(), format!("{}s", DRAIN_TIMEOUT.as_secs()));
        let relays = RELAY_IDS
            .into_iter()
            .map(|id| {
                let id_text = id.to_string();
                let relay = Service::start(&[
                    "--relay-id",
                    &id_text,
                    "--key-id",
                    &key_id,
                    "--secret-key-file",
                    &key_file,
                    "--require-tokens",
                    "--require-token-v2",
                    "--drain-timeout",
                    &drain,
                ]);
                (id, relay)
            })
            .collect();
        Fleet { relays, dir }
    }

    fn relay(&self, id: u32) -> &Service {
        &self.relays[&id]
    }

    /// Relay `id`'s `/metrics`, read once.
    fn scrape(&self, id: u32) -> Metrics {
        let (status, text) = self.relay(id).get("/metrics");
        assert_eq!(status, 200, "relay {id}: /metrics");
        Metrics { id, text }
    }
}

/// One reading of a relay's `/metrics` (its only worker's series).
struct Metrics {
    id: u32,
    text: String,
}

impl Metrics {
    /// The sum of the series named `name` whose labels include `label` (all of them for
    /// `None`).
    fn sum(&self, name: &str, label: Option<&str>) -> u64 {
        let series: Vec<f64> = self
            .text
            .lines()
            .filter_map(|l| {
                let (labels, value) = l.strip_prefix(name)?.strip_prefix('{')?.split_once("} ")?;
                let wanted = label.is_none_or(|label| labels.split(',').any(|l| l == label));
                wanted.then(|| value.parse().unwrap())
            })
            .collect();
        assert!(!series.is_empty(), "relay {}: no {name} {label:?}", self.id);
        series.iter().sum::<f64>() as u64
    }

    fn wrong_relay(&self) -> u64 {
        self.sum(
            "udp_relay_handshakes_rejected_total",
            Some("reason=\"wrong_relay\""),
        )
    }

    fn established(&self) -> u64 {
        self.sum("udp_relay_channels", Some("state=\"established\""))
    }

    /// Handshakes refused for any reason (full, a source's pending cap, a replay, draining).
    fn refused(&self) -> u64 {
        self.sum("udp_relay_handshakes_refused_total", None)
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The reference matchmaker's logic over the fleet its probes report.
struct Matchmaker {
    ids: Vec<u32>,
    endpoints: Vec<SocketAddr>,
    watch: Watch,
}

impl Matchmaker {
    fn new(fleet: &Fleet) -> Matchmaker {
        let ids: Vec<u32> = fleet.relays.keys().copied().collect();
        let endpoints: Vec<SocketAddr> = fleet.relays.values().map(|r| r.addr).collect();
        Matchmaker {
            watch: Watch::start(endpoints.clone()),
            ids,
            endpoints,
        }
    }

    /// The fleet in the reference matchmaker's list form, as read by it: every relay that
    /// answers its probes, with the state it reports. (A probe does not tell the open
    /// channels; far below the capacity here, the near-full rule never applies.)
    fn fleet(&self) -> Vec<RelayInfo> {
        let listed: Vec<String> = self
            .watch
            .states()
            .into_iter()
            .zip(self.ids.iter().zip(&self.endpoints))
            .filter_map(|(state, (id, endpoint))| {
                let state = match state? {
                    RelayState::Accepting => "accepting",
                    RelayState::Draining => "draining",
                    RelayState::Full => "full",
                };
                Some(format!(
                    "{{\"id\": {id}, \"endpoint\": \"{endpoint}\", \"capacity\": {CAPACITY}, \
                     \"channels\": 0, \"state\": \"{state}\"}}"
                ))
            })
            .collect();
        fleet::parse(&format!("[{}]", listed.join(", ")), &AgonesNames::default())
            .expect("the fleet as listed")
    }

    /// The fleet, once its probes report exactly `expected` (each relay listed with whether
    /// it accepts new channels; the others silent).
    fn fleet_if(&self, expected: &[(u32, bool)]) -> Option<Vec<RelayInfo>> {
        let view = self.fleet();
        let seen: Vec<(u32, bool)> = view.iter().map(|r| (r.id, r.accepting)).collect();
        (seen == expected).then_some(view)
    }

    /// Drives the clients until the probes report exactly `expected` (see
    /// [`Matchmaker::fleet_if`]); returns that fleet.
    fn wait_for_fleet(&self, d: &mut Driver, expected: &[(u32, bool)]) -> Vec<RelayInfo> {
        let mut view = None;
        d.run_until(
            Duration::from_secs(5),
            &format!("the matchmaker's probes reporting {expected:?}"),
            |_| {
                view = self.fleet_if(expected);
                match view {
                    Some(_) => Ok(()),
                    None => Err(format!("they report {:?}", self.watch.states())),
                }
            },
        );
        view.unwrap()
    }

    /// Match `guid`'s relay and both seats' tokens, ranked over `fleet`.
    fn tickets(fleet: &[RelayInfo], guid: Guid) -> (u32, SocketAddr, [Token; 2]) {
        let (open, _) = fleet::eligible(fleet, NEAR_FULL);
        let relay = tickets::choose(guid, &open).unwrap_or_else(|e| panic!("{guid}: {e}"));
        let [a, b] = tickets::tickets(guid, relay, KEY, KEY_ID, unix_now() + 600);
        assert_eq!((a.role, b.role), (Role::A, Role::B));
        (
            relay.id,
            relay.endpoint.parse().unwrap(),
            [a.token, b.token],
        )
    }

    fn ranked_first(fleet: &[RelayInfo], guid: Guid) -> u32 {
        tickets::choose(guid, &fleet::eligible(fleet, NEAR_FULL).0)
            .unwrap()
            .id
    }
}

/// Fails at once when a client timed out, or went Lost outside `may_be_lost`.
fn no_unexpected_failure(d: &Driver, may_be_lost: &BTreeSet<usize>) {
    for (p, pair) in d.pairs.iter().enumerate() {
        let states = pair.states();
        assert!(
            !states.contains(&State::TimedOut),
            "pair {p} (relay {}): a handshake timed out: {states:?}\n{}",
            pair.relay_id(),
            d.census()
        );
        assert!(
            !states.contains(&State::Lost) || may_be_lost.contains(&p),
            "pair {p} (relay {}) lost its relay: {states:?}\n{}",
            pair.relay_id(),
            d.census()
        );
    }
}

fn relaying_again(d: &Driver, pairs: &BTreeSet<usize>, epoch: usize) -> usize {
    pairs
        .iter()
        .filter(|&&p| {
            let e = &d.pairs[p].epochs;
            e.len() > epoch && e[epoch].relayed_both_ways().is_some()
        })
        .count()
}

/// A token minted for relay 1, shown once to relay 4 by a stranger: no answer, counted as
/// another relay's, no channel.
fn token_for_another_relay_is_refused(fleet: &Fleet) {
    let target = fleet.relay(WRONG_RELAY_TARGET);
    let guid = guid_of(u64::MAX);
    let token = TokenKey::new(KEY).mint_for_relay(KEY_ID, 1, guid, Role::A, unix_now() + 600);
    let mut handshake = [0u8; 84];
    let len = write_handshake_with_token(&mut handshake, &token, 1).unwrap();
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    stranger
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    stranger.send_to(&handshake[..len], target.addr).unwrap();
    let mut buf = [0u8; 128];
    assert!(
        stranger.recv_from(&mut buf).is_err(),
        "relay {WRONG_RELAY_TARGET} answered a token for relay 1"
    );
    let end = Instant::now() + Duration::from_secs(2);
    let metrics = loop {
        let metrics = fleet.scrape(WRONG_RELAY_TARGET);
        if metrics.wrong_relay() > 0 {
            break metrics;
        }
        assert!(Instant::now() < end, "wrong_relay still 0");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(metrics.wrong_relay(), 1);
    assert_eq!(
        metrics.sum("udp_relay_channels_opened_total", None),
        0,
        "a channel opened for another relay's token"
    );
    assert_eq!(
        metrics.sum("udp_relay_handshakes_challenged_total", None),
        0,
        "answered with a challenge"
    );
}

/// Sends SIGTERM to `pid`, then probes `relay` from a fresh socket every 2 ms until it says
/// draining: how long after the signal was sent that took.
fn probe_until_draining(pid: u32, relay: SocketAddr) -> Result<Duration, String> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(2)))
        .unwrap();
    let signalled = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .map_err(|e| format!("kill -TERM {pid}: {e}"))?;
    if !killed.success() {
        return Err(format!("kill -TERM {pid}: {killed}"));
    }
    let mut buf = [0u8; 64];
    let mut last = None;
    for probe in 0u64.. {
        if signalled.elapsed() > Duration::from_secs(2) {
            return Err(format!(
                "no probe answered draining within 2 s ({probe} sent; last answer {last:?})"
            ));
        }
        socket.send_to(&write_probe(probe), relay).unwrap();
        while let Ok((len, from)) = socket.recv_from(&mut buf) {
            if from != relay {
                continue;
            }
            last = read_reply(&buf[..len]).map(|(state, _)| state);
            if last == Some(RelayState::Draining) {
                return Ok(signalled.elapsed());
            }
        }
    }
    unreachable!()
}

/// Every epoch that must have received all it sent, with what it is missing.
fn losses(d: &Driver) -> Vec<(usize, usize, &Epoch)> {
    d.pairs
        .iter()
        .enumerate()
        .flat_map(|(p, pair)| {
            pair.epochs
                .iter()
                .enumerate()
                .filter(|(_, e)| !e.cut && !e.settled())
                .map(move |(i, e)| (p, i, e))
        })
        .collect()
}

fn describe_losses(lost: &[(usize, usize, &Epoch)]) -> String {
    let missing: u64 = lost
        .iter()
        .map(|(_, _, e)| e.missing().iter().sum::<u64>())
        .sum();
    let examples: Vec<String> = lost
        .iter()
        .take(10)
        .map(|(p, i, e)| {
            format!(
                "pair {p} epoch {i} on relay {}: sent {:?}, received {:?}",
                e.relay_id, e.sent, e.received
            )
        })
        .collect();
    format!(
        "{missing} datagrams missing in {} epochs: {}",
        lost.len(),
        examples.join("; ")
    )
}

#[test]
fn pairs_follow_a_killed_and_a_draining_relay() {
    let n = pair_count();
    let run = Instant::now();
    let mut summary = vec![format!(
        "{n} pairs ({} clients) at {} Hz each way, relays {RELAY_IDS:?}",
        2 * n,
        1000 / PERIOD_MS
    )];
    let mut fleet = Fleet::start();
    token_for_another_relay_is_refused(&fleet);
    let matchmaker = Matchmaker::new(&fleet);
    let timing = Timing {
        keepalive_interval: Some(KEEPALIVE),
        peer_timeout: Some(PEER_TIMEOUT),
        ..Timing::default()
    };
    let mut d = Driver::new(timing, 0x5EED);
    let none = BTreeSet::new();

    // Every pair established, spread over the fleet.
    let whole_fleet = matchmaker.wait_for_fleet(&mut d, &RELAY_IDS.map(|id| (id, true)));
    let connecting = Instant::now();
    let mut connected = 0;
    let took = d.run_until(
        CONNECT_SPREAD + Duration::from_secs(20),
        "every pair established",
        |d| {
            while connected < n
                && connecting.elapsed() >= CONNECT_SPREAD * connected as u32 / n as u32
            {
                let guid = guid_of(connected as u64);
                let (id, addr, tokens) = Matchmaker::tickets(&whole_fleet, guid);
                d.add_pair(id, addr, guid, tokens);
                connected += 1;
            }
            no_unexpected_failure(d, &none);
            let up = d
                .pairs
                .iter()
                .filter(|p| p.epoch().established.is_some())
                .count();
            match up == n {
                true => Ok(()),
                false => Err(format!("{up} of {n} established, {connected} connected")),
            }
        },
    );
    let all: BTreeSet<usize> = (0..n).collect();
    d.run_until(
        Duration::from_secs(5),
        "every pair relaying both ways",
        |d| match relaying_again(d, &all, 0) {
            r if r == n => Ok(()),
            r => Err(format!("{r} of {n} relaying both ways")),
        },
    );
    summary.push(format!(
        "established: all {n} pairs {} after the first connect",
        secs(took)
    ));
    let total_sent = |d: &Driver| -> u64 {
        d.pairs
            .iter()
            .flat_map(|p| &p.epochs)
            .map(|e| e.sent[0] + e.sent[1])
            .sum()
    };
    let (steady_from, sent_before) = (Instant::now(), total_sent(&d));
    d.run_for(Duration::from_secs(2));
    summary.push(format!(
        "steady: {:.1} datagrams a second per client (20 scheduled)",
        (total_sent(&d) - sent_before) as f64
            / (2 * n) as f64
            / steady_from.elapsed().as_secs_f64()
    ));
    let carried = |d: &Driver| {
        let mut per: BTreeMap<u32, usize> = RELAY_IDS.iter().map(|&id| (id, 0)).collect();
        for pair in &d.pairs {
            *per.entry(pair.relay_id()).or_default() += 1;
        }
        per
    };
    let initial = carried(&d);
    summary.push(format!(
        "pairs per relay: {}",
        initial
            .iter()
            .map(|(id, c)| format!("{id}: {c} ({:.1} %)", 100.0 * *c as f64 / n as f64))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let mut rate_limited = Vec::new();
    for (&id, &count) in &initial {
        let share = count as f64 / n as f64;
        assert!(
            (0.10..=0.40).contains(&share),
            "relay {id} carries {count} of {n} pairs: {:.1} %",
            100.0 * share
        );
        let metrics = fleet.scrape(id);
        assert_eq!(
            metrics.established(),
            count as u64,
            "relay {id}: established channels against pairs sent there"
        );
        let expected = u64::from(id == WRONG_RELAY_TARGET);
        assert_eq!(metrics.wrong_relay(), expected, "relay {id}: wrong_relay");
        assert_eq!(metrics.refused(), 0, "relay {id}: handshakes refused");
        rate_limited.push(format!(
            "{id}: {}",
            metrics.sum("udp_relay_handshakes_rate_limited_total", None)
        ));
    }
    summary.push(format!(
        "handshakes rate limited (delayed to a retry) while connecting: {}",
        rate_limited.join(", ")
    ));

    // kill -9 of one relay: its pairs, and only them, are lost, re-ranked and moved.
    let killed: BTreeSet<usize> = (0..n)
        .filter(|&p| d.pairs[p].relay_id() == KILLED)
        .collect();
    let killed_at = Instant::now();
    {
        let relay = fleet.relays.get_mut(&KILLED).unwrap();
        relay.child.kill().unwrap();
        relay.child.wait().unwrap();
    }
    for &p in &killed {
        d.pairs[p].epoch_mut().cut = true;
    }
    let survivors: Vec<(u32, bool)> = RELAY_IDS
        .into_iter()
        .filter(|&id| id != KILLED)
        .map(|id| (id, true))
        .collect();
    let mut without_killed = None;
    let mut lost_after = Vec::new();
    let mut moved = BTreeSet::new();
    d.run_until(
        RELAY_AGAIN_AFTER_KILL + Duration::from_secs(3),
        "the killed relay's pairs relaying again",
        |d| {
            no_unexpected_failure(d, &killed);
            // New tickets once the probes no longer hear the killed relay (and hear the rest).
            if without_killed.is_none() {
                without_killed = matchmaker.fleet_if(&survivors);
            }
            let noticed = without_killed.is_some();
            for &p in &killed {
                let Some(view) = &without_killed else { break };
                if moved.contains(&p) || !d.pairs[p].both(State::Lost) {
                    continue;
                }
                let lost = d.pairs[p].lost_at().map(Option::unwrap);
                lost_after.push(lost[0].max(lost[1]) - killed_at);
                let guid = d.pairs[p].guid;
                let (id, addr, tokens) = Matchmaker::tickets(view, guid);
                d.rejoin(p, id, addr, guid, tokens);
                moved.insert(p);
            }
            match relaying_again(d, &killed, 1) {
                r if r == killed.len() => Ok(()),
                r => Err(format!(
                    "{r} of {} relaying again; {} moved; matchmaker noticed: {noticed}",
                    killed.len(),
                    moved.len()
                )),
            }
        },
    );
    let back_after: Vec<Duration> = killed
        .iter()
        .map(|&p| d.pairs[p].epoch().relayed_both_ways().unwrap() - killed_at)
        .collect();
    let slow: Vec<_> = killed
        .iter()
        .zip(&back_after)
        .filter(|(_, t)| **t > RELAY_AGAIN_AFTER_KILL)
        .collect();
    assert!(
        slow.is_empty(),
        "{} pairs relayed again later than {RELAY_AGAIN_AFTER_KILL:?} after the kill: {slow:?}",
        slow.len()
    );
    let without_killed = without_killed.unwrap();
    let changed: BTreeSet<usize> = (0..n).filter(|&p| d.pairs[p].epochs.len() > 1).collect();
    assert_eq!(
        changed, killed,
        "only the killed relay's pairs change relay"
    );
    for (p, pair) in d.pairs.iter().enumerate() {
        assert_eq!(
            Matchmaker::ranked_first(&without_killed, pair.guid),
            pair.relay_id(),
            "pair {p}: the ranking without relay {KILLED} puts it elsewhere"
        );
    }
    summary.push(format!(
        "kill -9 relay {KILLED} ({} pairs): both clients Lost after {}; relaying again after {}; \
         no other pair moved",
        killed.len(),
        spread(lost_after),
        spread(back_after)
    ));
    d.run_for(Duration::from_secs(1));

    // SIGTERM to another: it says draining, takes no new pair, relays its own until they move.
    let draining: BTreeSet<usize> = (0..n)
        .filter(|&p| d.pairs[p].relay_id() == DRAINED)
        .collect();
    let at_term: BTreeMap<usize, [u64; 2]> = draining
        .iter()
        .map(|&p| (p, d.pairs[p].epoch().received))
        .collect();
    let placed_on_drained = d
        .pairs
        .iter()
        .flat_map(|p| &p.epochs)
        .filter(|e| e.relay_id == DRAINED)
        .count() as u64;
    let (pid, drained_addr) = (fleet.relay(DRAINED).child.id(), fleet.relay(DRAINED).addr);
    let termed_at = Instant::now();
    let prober = std::thread::spawn(move || probe_until_draining(pid, drained_addr));
    d.run_until(
        Duration::from_secs(3),
        "the probe of the draining relay",
        |_| match prober.is_finished() {
            true => Ok(()),
            false => Err("still probing".into()),
        },
    );
    let said_draining = prober.join().unwrap().unwrap();
    assert!(
        said_draining <= PROBE_SAYS_DRAINING,
        "the probe said draining {said_draining:?} after SIGTERM"
    );
    let draining_fleet: Vec<(u32, bool)> = survivors
        .iter()
        .map(|&(id, _)| (id, id != DRAINED))
        .collect();
    let view = matchmaker.wait_for_fleet(&mut d, &draining_fleet);
    let first_new = d.pairs.len();
    for i in 0..NEW_PAIRS_WHILE_DRAINING {
        let guid = guid_of((n + i) as u64);
        let (id, addr, tokens) = Matchmaker::tickets(&view, guid);
        assert_ne!(id, DRAINED, "a new pair sent to the draining relay");
        d.add_pair(id, addr, guid, tokens);
    }
    let new: BTreeSet<usize> = (first_new..d.pairs.len()).collect();
    d.run_until(
        Duration::from_secs(3),
        "the draining relay's pairs relaying for a second of its drain",
        |d| {
            no_unexpected_failure(d, &none);
            let fresh = draining
                .iter()
                .filter(|&&p| {
                    let r = d.pairs[p].epoch().received;
                    r[0] > at_term[&p][0] && r[1] > at_term[&p][1]
                })
                .count();
            match fresh == draining.len() && termed_at.elapsed() >= Duration::from_secs(1) {
                true => Ok(()),
                false => Err(format!(
                    "{fresh} of {} received both ways since SIGTERM",
                    draining.len()
                )),
            }
        },
    );
    let during_drain: u64 = draining
        .iter()
        .map(|&p| {
            let r = d.pairs[p].epoch().received;
            r[0] + r[1] - at_term[&p][0] - at_term[&p][1]
        })
        .sum();
    for &p in &draining {
        d.pairs[p].sending = false;
    }
    d.run_until(
        Duration::from_secs(2),
        "every datagram sent through the draining relay received",
        |d| {
            let lost: Vec<_> = losses(d)
                .into_iter()
                .filter(|(p, _, _)| draining.contains(p))
                .collect();
            match lost.is_empty() {
                true => Ok(()),
                false => Err(describe_losses(&lost)),
            }
        },
    );
    let moving_at = Instant::now();
    for &p in &draining {
        let guid = d.pairs[p].guid;
        let (id, addr, tokens) = Matchmaker::tickets(&view, guid);
        assert_ne!(id, DRAINED, "pair {p} moved to the draining relay");
        let epoch = d.pairs[p].epochs.len();
        d.rejoin(p, id, addr, guid, tokens);
        assert_eq!(d.pairs[p].epochs.len(), epoch + 1);
        d.pairs[p].sending = true;
    }
    d.run_until(
        Duration::from_secs(5),
        "the drained pairs and the new ones relaying",
        |d| {
            no_unexpected_failure(d, &none);
            let moved = draining
                .iter()
                .filter(|&&p| {
                    let e = d.pairs[p].epoch();
                    e.began >= moving_at && e.relayed_both_ways().is_some()
                })
                .count();
            let started = relaying_again(d, &new, 0);
            match (moved == draining.len(), started == new.len()) {
                (true, true) => Ok(()),
                _ => Err(format!(
                    "{moved} of {} drained pairs and {started} of {} new ones relaying",
                    draining.len(),
                    new.len()
                )),
            }
        },
    );
    let drained_back: Vec<Duration> = draining
        .iter()
        .map(|&p| d.pairs[p].epoch().relayed_both_ways().unwrap() - moving_at)
        .collect();
    let exit_limit = (DRAIN_TIMEOUT + EXIT_MARGIN).saturating_sub(termed_at.elapsed());
    d.run_until(exit_limit, "the draining relay exiting", |_| {
        match fleet.relays.get_mut(&DRAINED).unwrap().child.try_wait() {
            Ok(Some(_)) => Ok(()),
            _ => Err(format!(
                "running {} after SIGTERM",
                secs(termed_at.elapsed())
            )),
        }
    });
    let exited_after = termed_at.elapsed();
    let drained_relay = fleet.relays.get_mut(&DRAINED).unwrap();
    let status = drained_relay.wait_exit(Duration::from_secs(1));
    assert!(status.success(), "relay {DRAINED} exited with {status}");
    let stats = drained_relay.last_stats();
    let field = |name: &str| {
        stats
            .iter()
            .find(|(k, _)| k == name)
            .unwrap_or_else(|| panic!("no {name} in {stats:?}"))
            .1
    };
    assert_eq!(field("draining"), 1, "{stats:?}");
    assert_eq!(field("handshakes_wrong_relay"), 0, "{stats:?}");
    assert_eq!(
        field("channels_allocated_total"),
        placed_on_drained,
        "relay {DRAINED} opened channels for other pairs than those placed there before \
         SIGTERM: {stats:?}"
    );
    let new_per: BTreeMap<u32, usize> = new.iter().fold(BTreeMap::new(), |mut m, &p| {
        *m.entry(d.pairs[p].relay_id()).or_default() += 1;
        m
    });
    summary.push(format!(
        "SIGTERM relay {DRAINED} ({} pairs): a probe said draining {} ms after the signal; \
         {NEW_PAIRS_WHILE_DRAINING} new pairs to relays {new_per:?}; {during_drain} datagrams \
         relayed by it during the drain, none lost; moved pairs relaying again after {}; exited \
         0 after {}",
        draining.len(),
        said_draining.as_millis(),
        spread(drained_back),
        secs(exited_after)
    ));

    // The rest: every datagram sent outside the killed relay's epochs was received.
    for pair in &mut d.pairs {
        pair.sending = false;
    }
    d.run_until(
        Duration::from_secs(3),
        "every datagram received (but those the kill cut)",
        |d| match losses(d) {
            lost if lost.is_empty() => Ok(()),
            lost => Err(describe_losses(&lost)),
        },
    );
    assert_eq!(d.anomaly_count, 0, "{:?}", d.anomalies);
    let (mut sent, mut cut_missing) = (0u64, 0u64);
    for e in d.pairs.iter().flat_map(|p| &p.epochs) {
        assert_eq!(e.out_of_order, 0, "{e:?}");
        match e.cut {
            true => cut_missing += e.missing().iter().sum::<u64>(),
            false => sent += e.sent.iter().sum::<u64>(),
        }
    }
    let now_carried = carried(&d);
    for id in [1, WRONG_RELAY_TARGET] {
        let metrics = fleet.scrape(id);
        assert_eq!(
            metrics.established(),
            now_carried[&id] as u64,
            "relay {id}: established channels against pairs there now"
        );
        assert_eq!(
            metrics.wrong_relay(),
            u64::from(id == WRONG_RELAY_TARGET),
            "relay {id}: wrong_relay"
        );
        assert_eq!(metrics.refused(), 0, "relay {id}: handshakes refused");
    }
    summary.push(format!(
        "traffic: {sent} datagrams sent outside the kill's epochs, all received; {cut_missing} \
         lost with relay {KILLED}"
    ));
    summary.push(format!(
        "send schedule: {} ms skipped after stalls, served at most {} ms late; wall time {}",
        d.skipped_ms,
        d.max_lag_ms,
        secs(run.elapsed())
    ));
    println!("fleet_pairs:\n  {}", summary.join("\n  "));
}
