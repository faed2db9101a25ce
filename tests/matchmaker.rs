//! The reference matchmaker (`examples/matchmaker.rs`): its fleet reading and relay choice
//! in-process (the example's own modules), a fleet of three relays on loopback joined by
//! clients holding the tickets it makes, and the program itself run on the fixture fleets
//! in `tests/fleet/` (a plain list and `kubectl get gameservers -o json` output).

#[path = "../examples/matchmaker/fleet.rs"]
mod fleet;
#[path = "../examples/matchmaker/tickets.rs"]
mod tickets;

mod client_support;
mod example_support;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use client_support::{RelayThread, config, establish, exchange, unix_now};
use example_support::example;
use fleet::{AgonesNames, RelayInfo, Skip};
use serde_json::Value;
use udp_relay::client::Client;
use udp_relay::protocol::Guid;
use udp_relay::rank::{RankEntry, rank};
use udp_relay::relay::Config;
use udp_relay::token::{HandshakeVerifier, Role, Token, write_handshake_with_token};

const KEY: &[u8] = b"the fleet's key, 32 bytes long..";
const KEY_ID: u32 = 4;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fleet")
        .join(name)
}

fn read_fixture(name: &str) -> Vec<RelayInfo> {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    fleet::parse(&text, &AgonesNames::default()).unwrap()
}

fn ids<'a>(relays: impl IntoIterator<Item = &'a RelayInfo>) -> BTreeSet<u32> {
    relays.into_iter().map(|r| r.id).collect()
}

#[test]
fn both_fleet_forms_are_read_and_unfit_relays_left_out() {
    let list = read_fixture("relays.json");
    assert_eq!(list.len(), 6);
    assert_eq!(list[5].endpoint, "[::1]:7006");
    let (open, skipped) = fleet::eligible(&list, 0.9);
    assert_eq!(ids(open), BTreeSet::from([1, 2, 6]));
    let why: Vec<(u32, Skip)> = skipped.into_iter().map(|(r, s)| (r.id, s)).collect();
    assert_eq!(
        why,
        [
            (3, Skip::Draining),
            (
                4,
                Skip::NearFull {
                    channels: 950,
                    capacity: 1000
                }
            ),
            (
                5,
                Skip::NearFull {
                    channels: 500,
                    capacity: 500
                }
            ),
        ]
    );

    let agones = read_fixture("gameservers.json");
    assert_eq!(agones[0].endpoint, "10.0.1.17:7011", "the port named relay");
    assert_eq!(
        (agones[0].channels, agones[0].capacity),
        (120, 2000),
        "counters as strings"
    );
    assert_eq!(
        (agones[1].channels, agones[1].capacity),
        (10, 1000),
        "counters as numbers"
    );
    let (open, skipped) = fleet::eligible(&agones, 0.9);
    assert_eq!(
        ids(open),
        BTreeSet::from([11, 12]),
        "Ready and Allocated serve"
    );
    let why: Vec<(u32, Skip)> = skipped.into_iter().map(|(r, s)| (r.id, s)).collect();
    assert_eq!(
        why,
        [
            (13, Skip::Draining),
            (14, Skip::Draining),
            (15, Skip::Draining),
            (
                16,
                Skip::NearFull {
                    channels: 1900,
                    capacity: 2000
                }
            ),
        ],
        "the accepting label, a deletion, Shutdown, the threshold"
    );
    // A stricter threshold leaves out more.
    assert_eq!(ids(fleet::eligible(&agones, 0.05).0), BTreeSet::from([12]));
}

#[test]
fn a_fleet_that_cannot_be_read_says_where() {
    let names = AgonesNames::default();
    for (text, says) in [
        ("{", "not JSON"),
        ("{\"kind\": \"Pod\"}", "neither a list"),
        (
            "[{\"id\": 0, \"endpoint\": \"a:1\", \"capacity\": 1, \"channels\": 0, \"state\": \"accepting\"}]",
            "relay 0: relay id 0",
        ),
        (
            "[{\"id\": 1, \"endpoint\": \"a:1\", \"capacity\": 1, \"channels\": 0, \"state\": \"asleep\"}]",
            "state \"asleep\"",
        ),
        (
            "[{\"id\": 1, \"capacity\": 1, \"channels\": 0, \"state\": \"full\"}]",
            "no endpoint",
        ),
        (
            "{\"items\": [{\"metadata\": {\"name\": \"gs\", \"labels\": {}}, \"status\": {}}]}",
            "GameServer gs: no label agones.dev/sdk-relay-id",
        ),
        (
            "{\"items\": [{\"metadata\": {\"name\": \"gs\", \"labels\": {\"agones.dev/sdk-relay-id\": \"7\"}}, \
              \"status\": {\"state\": \"Ready\", \"address\": \"10.0.0.1\", \"ports\": [{\"name\": \"relay\", \"port\": 1}]}}]}",
            "GameServer gs: no counter \"channels\"",
        ),
    ] {
        let e = fleet::parse(text, &names).unwrap_err();
        assert!(e.contains(says), "{text}: {e}");
    }
}

#[test]
fn every_replica_picks_the_same_relay_by_rank() {
    let list = read_fixture("relays.json");
    let (open, _) = fleet::eligible(&list, 0.9);
    let mut reversed = open.clone();
    reversed.reverse();
    for i in 1..200u128 {
        let guid = Guid(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835));
        let chosen = tickets::choose(guid, &open).unwrap();
        assert_eq!(tickets::choose(guid, &reversed).unwrap().id, chosen.id);
        let entries: Vec<RankEntry> = open
            .iter()
            .map(|r| RankEntry {
                relay_id: r.id,
                weight: r.capacity as u32,
            })
            .collect();
        assert_eq!(rank(guid, &entries).unwrap()[0], chosen.id);
    }
    assert_eq!(
        tickets::choose(Guid(1), &[]).unwrap_err(),
        "no relay takes new channels"
    );
}

#[test]
fn clients_holding_the_tickets_meet_on_the_relay_they_name() {
    // Three relays of one fleet on loopback, one key, each its own relay id.
    let relays: Vec<(u32, RelayThread)> = [21, 22, 23]
        .into_iter()
        .map(|relay_id| {
            let relay = RelayThread::start_with(Config {
                bind: "127.0.0.1:0".parse().unwrap(),
                secret_key: Some(KEY.to_vec()),
                key_id: KEY_ID,
                relay_id,
                require_tokens: true,
                require_token_v2: true,
                ..Config::default()
            });
            (relay_id, relay)
        })
        .collect();
    let listed: Vec<String> = relays
        .iter()
        .map(|(id, r)| {
            format!(
                "{{\"id\": {id}, \"endpoint\": \"{}\", \"capacity\": 100, \"channels\": 0, \"state\": \"accepting\"}}",
                r.addr
            )
        })
        .collect();
    let fleet = fleet::parse(&format!("[{}]", listed.join(",")), &AgonesNames::default()).unwrap();
    let (open, _) = fleet::eligible(&fleet, 0.9);
    let mut used = BTreeSet::new();
    for _ in 0..6 {
        let guid = Guid::random().unwrap();
        let relay = tickets::choose(guid, &open).unwrap();
        used.insert(relay.id);
        let [a, b] = tickets::tickets(guid, relay, KEY, KEY_ID, unix_now() + 600);
        let json = tickets::to_json(&b);
        assert_eq!(json["guid"], guid.to_string());
        assert_eq!(
            (json["relay_id"].as_u64(), &json["role"]),
            (Some(u64::from(relay.id)), &Value::from("B"))
        );
        assert_eq!(json["relay_endpoint"], relay.endpoint);
        let connect = |t: &tickets::Ticket| {
            let mut cfg = config(t.relay_endpoint.parse().unwrap(), Guid::ZERO);
            cfg.token = Some(t.token);
            Client::connect(cfg).unwrap()
        };
        let (mut ca, mut cb) = (connect(&a), connect(&b));
        establish(&mut ca, &mut cb, Duration::from_secs(5));
        exchange(&mut ca, &mut cb, 20, |seq| 16 + seq as usize);
    }
    let mut allocated = 0;
    for (id, relay) in relays {
        let s = relay.stop();
        assert_eq!(
            s.handshakes_wrong_relay + s.tokens_invalid,
            0,
            "relay {id}: {s:?}"
        );
        assert_eq!(
            s.channels_allocated_total > 0,
            used.contains(&id),
            "relay {id}: {s:?}"
        );
        allocated += s.channels_allocated_total;
    }
    assert_eq!(
        allocated, 6,
        "one channel per GUID, on its chosen relay only"
    );
}

/// Runs the matchmaker with `args` (and `stdin`), with the fleet key in a file.
fn run_matchmaker(args: &[&str], stdin: Option<&str>) -> (bool, Vec<Value>, String) {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let dir = scratch();
    let key_file = dir.join(format!(
        "fleet-{}.key",
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(
        &key_file,
        base64::engine::general_purpose::STANDARD.encode(KEY),
    )
    .unwrap();
    let mut cmd = Command::new(example("matchmaker"));
    cmd.arg("--secret-key-file")
        .arg(&key_file)
        .args(args)
        .env_remove("UDP_RELAY_SECRET_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    let tickets = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        out.status.success(),
        tickets,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Where this test's key files go: under cargo's target directory.
fn scratch() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("matchmaker");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Checks the two tickets the program printed for `guid`: one relay, the one the ranking
/// of `eligible` (id, capacity) puts first, both seats, tokens bound to it.
fn check_tickets(
    tickets: &[Value],
    guid: Guid,
    eligible: &[(u32, u32)],
    endpoints: &[(u32, &str)],
) {
    assert_eq!(tickets.len(), 2, "{tickets:?}");
    let entries: Vec<RankEntry> = eligible
        .iter()
        .map(|&(relay_id, weight)| RankEntry { relay_id, weight })
        .collect();
    let expected = rank(guid, &entries).unwrap()[0];
    let endpoint = endpoints.iter().find(|(id, _)| *id == expected).unwrap().1;
    let now = unix_now();
    for (ticket, role) in tickets.iter().zip(["A", "B"]) {
        assert_eq!(ticket["guid"], guid.to_string());
        assert_eq!(ticket["relay_id"], expected);
        assert_eq!(ticket["relay_endpoint"], endpoint);
        assert_eq!(ticket["role"], role);
        let expiry = ticket["expiry_unix_secs"].as_u64().unwrap();
        assert!(expiry >= now + 3590 && expiry <= now + 3610, "{ticket}");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(ticket["token_base64"].as_str().unwrap())
            .unwrap();
        let token = Token::from_bytes(&bytes).unwrap();
        assert_eq!(token.guid, guid);
        assert_eq!(token.expiry_unix_secs, expiry);
        assert_eq!(token.role, if role == "A" { Role::A } else { Role::B });
        let binding = token.binding.expect("a v2 token");
        assert_eq!((binding.relay_id, binding.key_id), (expected, KEY_ID));
        // The relay it names, holding the fleet key, admits it; its neighbour does not.
        let mut hs = [0u8; 84];
        write_handshake_with_token(&mut hs, &token, 1).unwrap();
        let at = |relay_id| {
            HandshakeVerifier::new(Some(KEY), true)
                .with_key_id(KEY_ID)
                .with_relay_id(relay_id)
                .verify(&hs, now)
        };
        assert!(at(expected).is_ok(), "{ticket}");
        assert!(at(expected + 1000).is_err(), "{ticket}");
    }
}

#[test]
fn the_program_makes_tickets_from_a_relay_list() {
    let guid: Guid = "6ba7b810-9dad-11d1-80b4-00c04fd430c8".parse().unwrap();
    let path = fixture("relays.json");
    let key_id = KEY_ID.to_string();
    let (ok, tickets, stderr) = run_matchmaker(
        &[
            "--fleet",
            path.to_str().unwrap(),
            "--guid",
            &guid.to_string(),
            "--key-id",
            &key_id,
        ],
        None,
    );
    assert!(ok, "{stderr}");
    check_tickets(
        &tickets,
        guid,
        &[(1, 1000), (2, 2000), (6, 1500)],
        &[
            (1, "127.0.0.1:7001"),
            (2, "127.0.0.1:7002"),
            (6, "[::1]:7006"),
        ],
    );
    for (id, why) in [
        (3, "draining"),
        (4, "near full (950 of 1000"),
        (5, "near full (500 of 500"),
    ] {
        assert!(
            stderr.contains(&format!("relay {id} (")) && stderr.contains(why),
            "relay {id} {why}: {stderr}"
        );
    }
    // Many GUIDs spread over the three open relays, never elsewhere.
    let mut chosen = BTreeSet::new();
    for _ in 0..12 {
        let (ok, tickets, stderr) = run_matchmaker(
            &["--fleet", path.to_str().unwrap(), "--key-id", &key_id],
            None,
        );
        assert!(ok, "{stderr}");
        chosen.insert(tickets[0]["relay_id"].as_u64().unwrap());
    }
    assert!(chosen.is_subset(&BTreeSet::from([1, 2, 6])), "{chosen:?}");
}

#[test]
fn the_program_makes_tickets_from_agones_game_servers_on_stdin() {
    let guid: Guid = "01234567-89ab-cdef-fedc-ba9876543210".parse().unwrap();
    let text = std::fs::read_to_string(fixture("gameservers.json")).unwrap();
    let key_id = KEY_ID.to_string();
    let (ok, tickets, stderr) = run_matchmaker(
        &[
            "--fleet",
            "-",
            "--guid",
            &guid.to_string(),
            "--key-id",
            &key_id,
        ],
        Some(&text),
    );
    assert!(ok, "{stderr}");
    check_tickets(
        &tickets,
        guid,
        &[(11, 2000), (12, 1000)],
        &[(11, "10.0.1.17:7011"), (12, "10.0.1.18:7012")],
    );
    for id in [13, 14, 15, 16] {
        assert!(
            stderr.contains(&format!("relay {id} (")),
            "relay {id}: {stderr}"
        );
    }
    // Nothing takes a channel: an error, and no tickets.
    let (ok, tickets, stderr) =
        run_matchmaker(&["--fleet", "-", "--near-full", "0.001"], Some(&text));
    assert!(!ok && tickets.is_empty(), "{stderr}");
    assert!(stderr.contains("no relay takes new channels"), "{stderr}");
    // Without the key, nothing is minted.
    let out = Command::new(example("matchmaker"))
        .args(["--fleet", fixture("gameservers.json").to_str().unwrap()])
        .env_remove("UDP_RELAY_SECRET_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success() && out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("secret key is needed"));
}
