//! A fleet on loopback, end to end: four `udp-relay` processes of one fleet (relay ids 1 to 4,
//! one key, v2 tokens required, a 5 s drain, the default per-source limits), the reference
//! matchmaker's logic (`examples/matchmaker/fleet.rs` and `tickets.rs`: the fleet as the
//! relays' probes report it, the relays that take new channels, the rendezvous ranking, both
//! seats' v2 tokens) and pairs of clients, each client on its own socket with its own
//! ticket, sending 20 datagrams a second each way. The test is the game and the matchmaker.
//! It shows:
//!
//! - every pair established; each relay carrying 25 % ± 15 % of the pairs, and exactly the
//!   channels the tickets sent it; no token refused as another relay's and no handshake
//!   refused, while a token minted for relay 1 and shown to relay 4 is refused unanswered,
//!   counted there (wrong_relay = 1) and opens no channel;
//! - `kill -9` of relay 2: its pairs' clients, and only theirs, go Lost; the matchmaker,
//!   whose probes no longer hear relay 2, ranks the rest and mints new tickets, and the
//!   clients rejoin on their sockets; only those pairs change relay (rendezvous), each
//!   relays both ways again within 5 s of the kill, and no other pair loses a datagram;
//! - SIGTERM to relay 3: a probe from a fresh socket says draining within 100 ms of the
//!   signal; the matchmaker, learning it from its probes, sends none of 50 new pairs there
//!   (and the relay opens no channel for them); the relay's pairs keep relaying with no loss,
//!   then move (new tickets, rejoin) and relay again; the relay exits with status 0 within
//!   its drain timeout plus 3 s.
//!
//! Losses are counted per pair, direction and epoch (the relay the pair used), from
//! datagrams sent while both clients were established: every epoch but those cut by the kill
//! must receive all it sent.
//!
//! Size: 500 pairs (1 000 clients) by default; `FLEET_PAIRS=N` runs N (at least 100). The
//! limit is the one thread that serves every client: each datagram it sends or receives
//! through a `Client` costs it about 12 µs of CPU here (9 in a release build: most of it is
//! the kernel's loopback path), so 500 pairs at 20 Hz (20 000 datagrams sent a second and
//! as many received) keep it about half busy, and the relays, which batch their socket calls, far less. That
//! leaves room for a busy neighbour on the second core. 1 000 pairs would keep the thread
//! busy all the time: they pass, but fall behind the 20 Hz schedule (11 to 17 datagrams a
//! second per client here), which is not the load the test claims. The summary printed at
//! the end gives the rate reached and the longest the clients went unserved, so a slow
//! machine shows.
//!
//! Keep-alives every 600 ms and a peer timeout of 2 s: a client notices its relay is gone
//! within 2 s, and the test thread may stall for nearly as long (a loaded CI machine) before
//! clients on healthy relays would take the silence for a loss.
//!
//! `cargo test -p udp-relay-server --test fleet_pairs -- --nocapture` shows the summary.
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

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pairs::driver::{Driver, Epoch, PERIOD_MS};
use pairs::matchmaker::Matchmaker;
use pairs::relays::Relays;
use pairs::{KEY, KEY_ID};
use udp_relay::client::{State, Timing};
use udp_relay::probe::{RelayState, read_reply, write_probe};
use udp_relay::protocol::Guid;
use udp_relay::token::{Role, TokenKey, write_handshake_with_token};

const RELAY_IDS: [u32; 4] = [1, 2, 3, 4];
const KILLED: u32 = 2;
const DRAINED: u32 = 3;
/// Shown a token minted for relay 1.
const WRONG_RELAY_TARGET: u32 = 4;
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_PAIRS: usize = 500;
const NEW_PAIRS_WHILE_DRAINING: usize = 50;
/// The pairs connect over this long, as players joining would. Each pair costs its relay
/// four handshakes of its source's budget (each seat's first handshake, challenged, and its
/// echo); all clients here share 127.0.0.1, so a relay given 250 pairs at one instant would
/// spend 1 000, the whole default burst. Spread over 3 s the default limits never bite.
const CONNECT_SPREAD: Duration = Duration::from_secs(3);
/// Most pairs connected or moved between two looks at the clients: hundreds of connects or
/// rejoins in one go (a catch-up after a stall) would leave the clients unserved meanwhile.
const PAIRS_PER_STEP: usize = 25;
/// How long the draining relay's pairs keep relaying through it before they move.
const RELAY_WHILE_DRAINING: Duration = Duration::from_millis(500);
const KEEPALIVE: Duration = Duration::from_millis(600);
const PEER_TIMEOUT: Duration = Duration::from_secs(2);
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

/// The GUID of match `n` (pair `n`): the same in every run, so every run places the pairs
/// alike.
fn guid_of(n: usize) -> Guid {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let n = n as u64;
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

fn pairs_on(d: &Driver, relay_id: u32) -> BTreeSet<usize> {
    (0..d.pairs.len())
        .filter(|&p| d.pairs[p].relay_id() == relay_id)
        .collect()
}

/// Runs `work` on a thread of its own while the clients go on being served, and returns
/// what it returns: a relay slow to answer (its admin endpoint, its probe) must not keep
/// the clients from their keep-alives until their peer timeout.
fn while_driving<T: Send>(d: &mut Driver, what: &str, work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let worker = scope.spawn(work);
        d.run_until(Duration::from_secs(20), what, |_| {
            if worker.is_finished() {
                Ok(())
            } else {
                Err("still at it".into())
            }
        });
        worker
            .join()
            .unwrap_or_else(|_| panic!("{what}: failed (its message is above)"))
    })
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

/// How many of `pairs` have had datagrams through both ways in their current epoch, on a
/// relay other than `not_on`.
fn relaying(d: &Driver, pairs: &BTreeSet<usize>, not_on: Option<u32>) -> usize {
    pairs
        .iter()
        .filter(|&&p| {
            let e = d.pairs[p].epoch();
            Some(e.relay_id) != not_on && e.relayed_both_ways().is_some()
        })
        .count()
}

/// Every epoch that should have received all it sent and has not, with where it was.
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

/// A token minted for relay 1, shown once to relay 4 by a stranger: no answer, counted as
/// another relay's, no channel.
fn token_for_another_relay_is_refused(relays: &Relays) {
    let target = relays.get(WRONG_RELAY_TARGET);
    let guid = guid_of(usize::MAX);
    let expiry = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let token = TokenKey::new(KEY).mint_for_relay(KEY_ID, 1, guid, Role::A, expiry);
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
        let metrics = relays.scrape(WRONG_RELAY_TARGET);
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
/// draining: how long after the signal went out (from just before `kill` started) that
/// took.
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

/// Everything the phases share.
struct Run {
    relays: Relays,
    matchmaker: Matchmaker,
    d: Driver,
    n: usize,
    summary: Vec<String>,
}

impl Run {
    /// Every pair placed by the matchmaker, connected over [`CONNECT_SPREAD`], established
    /// and relaying both ways.
    fn connect(&mut self) {
        let Run {
            d, matchmaker, n, ..
        } = self;
        let n = *n;
        let whole = matchmaker.wait_for_fleet(d, &RELAY_IDS.map(|id| (id, true)));
        let began = Instant::now();
        let took = d.run_until(
            CONNECT_SPREAD + Duration::from_secs(20),
            "every pair established",
            |d| {
                no_unexpected_failure(d, &BTreeSet::new());
                for _ in 0..PAIRS_PER_STEP {
                    let next = d.pairs.len();
                    if next == n || began.elapsed() < CONNECT_SPREAD * next as u32 / n as u32 {
                        break;
                    }
                    let to = Matchmaker::place(&whole, guid_of(next));
                    d.add_pair(to.relay_id, to.relay, guid_of(next), to.tokens);
                }
                let up = (d.pairs.iter())
                    .filter(|p| p.epoch().established.is_some())
                    .count();
                if up == n {
                    Ok(())
                } else {
                    Err(format!(
                        "{up} of {n} established, {} connected",
                        d.pairs.len()
                    ))
                }
            },
        );
        let all: BTreeSet<usize> = (0..n).collect();
        d.run_until(
            Duration::from_secs(5),
            "every pair relaying both ways",
            |d| match relaying(d, &all, None) {
                r if r == n => Ok(()),
                r => Err(format!("{r} of {n} relaying both ways")),
            },
        );
        self.summary.push(format!(
            "established: all {n} pairs {} after the first connect",
            secs(took)
        ));
    }

    /// Traffic for a while, then where the pairs are: by the tickets and by the relays.
    fn check_placement(&mut self) {
        let Run { d, relays, n, .. } = self;
        let n = *n;
        let sent = |d: &Driver| -> u64 {
            (d.pairs.iter().flat_map(|p| &p.epochs))
                .map(|e| e.sent[0] + e.sent[1])
                .sum()
        };
        let (from, before) = (Instant::now(), sent(d));
        d.run_for(Duration::from_secs(2));
        let rate = (sent(d) - before) as f64 / (2 * n) as f64 / from.elapsed().as_secs_f64();
        let scraped = while_driving(d, "reading the relays' /metrics", || {
            RELAY_IDS.map(|id| relays.scrape(id))
        });
        let mut shares = Vec::new();
        let mut rate_limited = Vec::new();
        for (id, metrics) in RELAY_IDS.into_iter().zip(scraped) {
            let count = pairs_on(d, id).len();
            let share = count as f64 / n as f64;
            shares.push(format!("{id}: {count} ({:.1} %)", 100.0 * share));
            assert!(
                (0.10..=0.40).contains(&share),
                "relay {id} carries {count} of {n} pairs: {:.1} %",
                100.0 * share
            );
            assert_eq!(
                metrics.established(),
                count as u64,
                "relay {id}: established channels against pairs sent there"
            );
            let expected = u64::from(id == WRONG_RELAY_TARGET);
            assert_eq!(metrics.wrong_relay(), expected, "relay {id}: wrong_relay");
            assert_eq!(metrics.refused(), 0, "relay {id}: handshakes refused");
            rate_limited.push(format!("{id}: {}", metrics.rate_limited()));
        }
        self.summary.extend([
            format!("steady: {rate:.1} datagrams a second per client (20 scheduled)"),
            format!("pairs per relay: {}", shares.join(", ")),
            format!(
                "handshakes rate limited (a retry later) while connecting: {}",
                rate_limited.join(", ")
            ),
        ]);
    }

    /// `kill -9` of [`KILLED`]: its pairs, and only them, are lost, placed again and moved.
    fn kill_one(&mut self) {
        let Run {
            d,
            relays,
            matchmaker,
            n,
            ..
        } = self;
        let killed = pairs_on(d, KILLED);
        let survivors: Vec<(u32, bool)> = RELAY_IDS
            .into_iter()
            .filter(|&id| id != KILLED)
            .map(|id| (id, true))
            .collect();
        let killed_at = Instant::now();
        let relay = relays.get_mut(KILLED);
        relay.child.kill().unwrap();
        relay.child.wait().unwrap();
        for &p in &killed {
            d.pairs[p].epoch_mut().cut = true;
        }
        let mut without_killed = None;
        let mut lost_after = Vec::new();
        let mut moved = BTreeSet::new();
        d.run_until(
            RELAY_AGAIN_AFTER_KILL + Duration::from_secs(3),
            "the killed relay's pairs relaying again",
            |d| {
                no_unexpected_failure(d, &killed);
                // New tickets once the probes no longer hear the killed relay, and hear the
                // rest accepting.
                if without_killed.is_none() {
                    without_killed = matchmaker.fleet_if(&survivors);
                }
                if let Some(view) = &without_killed {
                    let lost: Vec<usize> = (killed.iter().copied())
                        .filter(|p| !moved.contains(p) && d.pairs[*p].both(State::Lost))
                        .take(PAIRS_PER_STEP)
                        .collect();
                    for p in lost {
                        let at = d.pairs[p].lost_at().map(Option::unwrap);
                        lost_after.push(at[0].max(at[1]) - killed_at);
                        let guid = d.pairs[p].guid;
                        let to = Matchmaker::place(view, guid);
                        d.rejoin(p, to.relay_id, to.relay, guid, to.tokens);
                        moved.insert(p);
                    }
                }
                match relaying(d, &killed, Some(KILLED)) {
                    r if r == killed.len() => Ok(()),
                    r => Err(format!(
                        "{r} of {} relaying again; {} moved; the probes {} relay {KILLED} gone",
                        killed.len(),
                        moved.len(),
                        if without_killed.is_some() {
                            "say"
                        } else {
                            "do not say yet"
                        }
                    )),
                }
            },
        );
        let back_after: Vec<Duration> = (killed.iter())
            .map(|&p| d.pairs[p].epoch().relayed_both_ways().unwrap() - killed_at)
            .collect();
        let late: Vec<_> = (killed.iter().zip(&back_after))
            .filter(|(_, t)| **t > RELAY_AGAIN_AFTER_KILL)
            .collect();
        assert!(
            late.is_empty(),
            "{} pairs relayed again more than {RELAY_AGAIN_AFTER_KILL:?} after the kill: {late:?}",
            late.len()
        );
        // Rendezvous: ranked over the fleet without the killed relay, every pair's first
        // relay is the one it is on, so those that were elsewhere did not move.
        let without_killed = without_killed.unwrap();
        let changed: BTreeSet<usize> = (0..*n).filter(|&p| d.pairs[p].epochs.len() > 1).collect();
        assert_eq!(
            changed, killed,
            "only the killed relay's pairs change relay"
        );
        for (p, pair) in d.pairs.iter().enumerate() {
            assert_eq!(
                Matchmaker::place(&without_killed, pair.guid).relay_id,
                pair.relay_id(),
                "pair {p}: the ranking without relay {KILLED} puts it elsewhere"
            );
        }
        self.summary.push(format!(
            "kill -9 relay {KILLED} ({} pairs): both clients Lost after {}; relaying again \
             after {}; no other pair moved",
            killed.len(),
            spread(lost_after),
            spread(back_after)
        ));
    }

    /// SIGTERM to [`DRAINED`]: it says draining, takes no new pair, relays its own until
    /// they move, and exits within its drain timeout.
    fn drain_one(&mut self) {
        let Run {
            d,
            relays,
            matchmaker,
            ..
        } = self;
        let draining = pairs_on(d, DRAINED);
        let at_term: Vec<[u64; 2]> = (draining.iter())
            .map(|&p| d.pairs[p].epoch().received)
            .collect();
        let placed_there = (d.pairs.iter().flat_map(|p| &p.epochs))
            .filter(|e| e.relay_id == DRAINED)
            .count() as u64;
        let relay = relays.get(DRAINED);
        let (pid, addr) = (relay.child.id(), relay.addr);
        let termed_at = Instant::now();
        let said_draining = while_driving(d, "SIGTERM and probes of the relay", || {
            probe_until_draining(pid, addr)
        })
        .unwrap_or_else(|e| panic!("relay {DRAINED}: {e}"));
        assert!(
            said_draining <= PROBE_SAYS_DRAINING,
            "the probe said draining {said_draining:?} after SIGTERM"
        );
        let expected: Vec<(u32, bool)> = (RELAY_IDS.into_iter())
            .filter(|&id| id != KILLED)
            .map(|id| (id, id != DRAINED))
            .collect();
        let view = matchmaker.wait_for_fleet(d, &expected);

        // New pairs while it drains (placed a few at a time until all are), and its own
        // pairs relaying through it meanwhile.
        let first_new = d.pairs.len();
        let new: BTreeSet<usize> = (first_new..first_new + NEW_PAIRS_WHILE_DRAINING).collect();
        let place_new = |d: &mut Driver| {
            for _ in 0..PAIRS_PER_STEP {
                let next = d.pairs.len();
                if !new.contains(&next) {
                    break;
                }
                let to = Matchmaker::place(&view, guid_of(next));
                assert_ne!(
                    to.relay_id, DRAINED,
                    "new pair {next} sent to the draining relay"
                );
                d.add_pair(to.relay_id, to.relay, guid_of(next), to.tokens);
            }
        };
        d.run_until(
            Duration::from_secs(3),
            "the draining relay's pairs relaying through it",
            |d| {
                no_unexpected_failure(d, &BTreeSet::new());
                place_new(d);
                let fresh = (draining.iter().zip(&at_term))
                    .filter(|&(&p, before)| {
                        let now = d.pairs[p].epoch().received;
                        now[0] > before[0] && now[1] > before[1]
                    })
                    .count();
                if fresh == draining.len() && termed_at.elapsed() >= RELAY_WHILE_DRAINING {
                    Ok(())
                } else {
                    Err(format!(
                        "{fresh} of {} received both ways since SIGTERM",
                        draining.len()
                    ))
                }
            },
        );
        let during_drain: u64 = (draining.iter().zip(&at_term))
            .map(|(&p, before)| {
                let now = d.pairs[p].epoch().received;
                now[0] + now[1] - before[0] - before[1]
            })
            .sum();

        // Quiet, nothing missing, then the move.
        for &p in &draining {
            d.pairs[p].sending = false;
        }
        d.run_until(
            Duration::from_secs(2),
            "every datagram sent through the draining relay received",
            |d| {
                place_new(d);
                let lost: Vec<_> = (losses(d).into_iter())
                    .filter(|(p, _, _)| draining.contains(p))
                    .collect();
                if lost.is_empty() {
                    Ok(())
                } else {
                    Err(describe_losses(&lost))
                }
            },
        );
        let mut to_move: Vec<usize> = draining.iter().copied().collect();
        d.run_until(
            Duration::from_secs(6),
            "the drained pairs and the new ones relaying",
            |d| {
                no_unexpected_failure(d, &BTreeSet::new());
                place_new(d);
                for p in to_move.drain(..to_move.len().min(PAIRS_PER_STEP)) {
                    let guid = d.pairs[p].guid;
                    let to = Matchmaker::place(&view, guid);
                    assert_ne!(to.relay_id, DRAINED, "pair {p} moved to the draining relay");
                    d.rejoin(p, to.relay_id, to.relay, guid, to.tokens);
                    d.pairs[p].sending = true;
                }
                let moved = relaying(d, &draining, Some(DRAINED));
                let new_now: BTreeSet<usize> = new.range(..d.pairs.len()).copied().collect();
                let started = relaying(d, &new_now, None);
                if moved == draining.len() && started == new.len() {
                    Ok(())
                } else {
                    Err(format!(
                        "{moved} of {} drained pairs and {started} of {} new ones relaying",
                        draining.len(),
                        new.len()
                    ))
                }
            },
        );
        let back_after: Vec<Duration> = (draining.iter())
            .map(|&p| {
                let e = d.pairs[p].epoch();
                e.relayed_both_ways().unwrap() - e.began
            })
            .collect();

        // Its exit.
        let limit = (DRAIN_TIMEOUT + EXIT_MARGIN).saturating_sub(termed_at.elapsed());
        d.run_until(limit, "the draining relay exiting", |_| {
            match relays.get_mut(DRAINED).child.try_wait() {
                Ok(Some(_)) => Ok(()),
                _ => Err(format!(
                    "running {} after SIGTERM",
                    secs(termed_at.elapsed())
                )),
            }
        });
        let exited_after = termed_at.elapsed();
        let relay = relays.get_mut(DRAINED);
        let status = relay.wait_exit(Duration::from_secs(1));
        assert!(status.success(), "relay {DRAINED} exited with {status}");
        let stats = relay.last_stats();
        let field = |name: &str| {
            (stats.iter().find(|(k, _)| k == name))
                .unwrap_or_else(|| panic!("no {name} in {stats:?}"))
                .1
        };
        assert_eq!(field("draining"), 1, "{stats:?}");
        assert_eq!(field("handshakes_wrong_relay"), 0, "{stats:?}");
        assert_eq!(
            field("channels_allocated_total"),
            placed_there,
            "relay {DRAINED} opened channels for other pairs than those placed there before \
             SIGTERM: {stats:?}"
        );
        let mut new_per: Vec<(u32, usize)> = Vec::new();
        for &p in &new {
            let id = d.pairs[p].relay_id();
            match new_per.iter_mut().find(|(r, _)| *r == id) {
                Some((_, count)) => *count += 1,
                None => new_per.push((id, 1)),
            }
        }
        new_per.sort();
        self.summary.push(format!(
            "SIGTERM relay {DRAINED} ({} pairs): a probe said draining {} ms after the signal; \
             {} new pairs to relays {new_per:?}; {during_drain} datagrams relayed by it \
             during the drain, none lost; moved pairs relaying again {} after their rejoin; \
             exited 0 after {}",
            draining.len(),
            said_draining.as_millis(),
            new.len(),
            spread(back_after),
            secs(exited_after)
        ));
    }

    /// The end: every datagram sent outside the epochs the kill cut was received, in order,
    /// and the remaining relays carry exactly the pairs on them.
    fn account(&mut self) {
        let Run { d, relays, .. } = self;
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
        let (mut sent, mut cut) = (0u64, 0u64);
        for e in d.pairs.iter().flat_map(|p| &p.epochs) {
            assert_eq!(e.out_of_order, 0, "{e:?}");
            if e.cut {
                cut += e.missing().iter().sum::<u64>();
            } else {
                sent += e.sent.iter().sum::<u64>();
            }
        }
        let remaining: Vec<u32> = (RELAY_IDS.into_iter())
            .filter(|id| ![KILLED, DRAINED].contains(id))
            .collect();
        let scraped = while_driving(d, "reading the relays' /metrics", || {
            remaining
                .iter()
                .map(|&id| relays.scrape(id))
                .collect::<Vec<_>>()
        });
        for metrics in scraped {
            let id = metrics.id;
            assert_eq!(
                metrics.established(),
                pairs_on(d, id).len() as u64,
                "relay {id}: established channels against pairs there now"
            );
            let expected = u64::from(id == WRONG_RELAY_TARGET);
            assert_eq!(metrics.wrong_relay(), expected, "relay {id}: wrong_relay");
            assert_eq!(metrics.refused(), 0, "relay {id}: handshakes refused");
        }
        self.summary.push(format!(
            "traffic: {sent} datagrams sent outside the kill's epochs, all received in order; \
             {cut} lost with relay {KILLED}"
        ));
    }
}

#[test]
fn pairs_follow_a_killed_and_a_draining_relay() {
    let started = Instant::now();
    let n = pair_count();
    let relays = Relays::start(&RELAY_IDS, DRAIN_TIMEOUT);
    token_for_another_relay_is_refused(&relays);
    let matchmaker = Matchmaker::new(relays.by_id.iter().map(|(&id, r)| (id, r.addr)).collect());
    let timing = Timing {
        keepalive_interval: Some(KEEPALIVE),
        peer_timeout: Some(PEER_TIMEOUT),
        ..Timing::default()
    };
    let mut run = Run {
        relays,
        matchmaker,
        d: Driver::new(timing, 0x5EED),
        n,
        summary: vec![format!(
            "{n} pairs ({} clients) at {} Hz each way, relays {RELAY_IDS:?}",
            2 * n,
            1000 / PERIOD_MS
        )],
    };
    run.connect();
    run.check_placement();
    run.kill_one();
    run.d.run_for(Duration::from_secs(1));
    run.drain_one();
    run.account();
    let d = &run.d;
    run.summary.push(format!(
        "send schedule: {} ms skipped after stalls, served at most {} ms late; clients \
         unserved for {} ms at most; wall time {}",
        d.skipped_ms,
        d.max_lag_ms,
        d.longest_gap.as_millis(),
        secs(started.elapsed())
    ));
    println!("fleet_pairs:\n  {}", run.summary.join("\n  "));
}
