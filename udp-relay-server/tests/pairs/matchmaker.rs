//! The matchmaker of the fleet test: the reference matchmaker's logic
//! (`examples/matchmaker/fleet.rs` and `tickets.rs`, included by the test) over the fleet as
//! its probes report it ([`Watch`]).

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use udp_relay::probe::RelayState;
use udp_relay::protocol::Guid;
use udp_relay::token::{Role, Token};

use super::driver::Driver;
use super::watch::Watch;
use super::{KEY, KEY_ID};
use crate::fleet::{self, AgonesNames, RelayInfo};
use crate::tickets;

/// Each relay's capacity in the list: the relays' `--max-channels` (its default), so every
/// relay weighs the same in the ranking.
const CAPACITY: u64 = 100_000;
/// The reference matchmaker's default threshold.
const NEAR_FULL: f64 = 0.9;

/// Where a pair goes, with both seats' tokens.
pub struct Placement {
    pub relay_id: u32,
    pub relay: SocketAddr,
    pub tokens: [Token; 2],
}

pub struct Matchmaker {
    relays: Vec<(u32, SocketAddr)>,
    pub watch: Watch,
}

impl Matchmaker {
    /// Starts probing `relays` (id, address).
    pub fn new(relays: Vec<(u32, SocketAddr)>) -> Matchmaker {
        Matchmaker {
            watch: Watch::start(relays.iter().map(|&(_, addr)| addr).collect()),
            relays,
        }
    }

    /// The fleet in the reference matchmaker's list form, read by its own parser: every
    /// relay that answers the probes, in the state it reports. A probe does not tell the open
    /// channels: listed as none, which is far below the capacity here anyway, so the
    /// near-full rule never applies.
    pub fn fleet(&self) -> Vec<RelayInfo> {
        let listed: Vec<String> = self
            .watch
            .states()
            .into_iter()
            .zip(&self.relays)
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

    /// The fleet, if the probes report exactly `expected`: these relays (id, whether it
    /// accepts new channels) and no other.
    pub fn fleet_if(&self, expected: &[(u32, bool)]) -> Option<Vec<RelayInfo>> {
        let view = self.fleet();
        let seen: Vec<(u32, bool)> = view.iter().map(|r| (r.id, r.accepting)).collect();
        (seen == expected).then_some(view)
    }

    /// Drives the clients until the probes report exactly `expected` (see
    /// [`Matchmaker::fleet_if`]); returns that fleet.
    pub fn wait_for_fleet(&self, d: &mut Driver, expected: &[(u32, bool)]) -> Vec<RelayInfo> {
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

    /// Where match `guid` goes in `fleet` (the first relay of its ranking among those that
    /// take new channels), with both seats' tokens for that relay.
    pub fn place(fleet: &[RelayInfo], guid: Guid) -> Placement {
        let (open, _) = fleet::eligible(fleet, NEAR_FULL);
        let relay = tickets::choose(guid, &open).unwrap_or_else(|e| panic!("{guid}: {e}"));
        let expiry = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 600;
        let [a, b] = tickets::tickets(guid, relay, KEY, KEY_ID, expiry);
        assert_eq!((a.role, b.role), (Role::A, Role::B));
        Placement {
            relay_id: relay.id,
            relay: relay.endpoint.parse().unwrap(),
            tokens: [a.token, b.token],
        }
    }
}
