//! The service in a fleet: `--relay-id` binds it to its own v2 seat tokens (another relay's
//! are counted in the stats line and `/metrics` as wrong relay and never answered),
//! `--previous-secret-key-file` with `--previous-key-id` keeps tokens of the previous key
//! valid during a rotation, and bad fleet settings stop it with status 2 and a message naming
//! their source or field.
#![cfg(unix)]

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine;
use support::{Service, command, peer};
use udp_relay::client::{Client, ClientConfig, State};
use udp_relay::protocol::Guid;
use udp_relay::token::{Role, Token, TokenKey, write_handshake_with_token};

const KEY: &[u8] = b"the fleet's current key, 32 byte";
const PREVIOUS: &[u8] = b"the fleet's previous key, rotated";

fn b64(key: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(key)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("udp-relay-fleet-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn mint(key: &[u8], key_id: u32, relay_id: u32, guid: Guid, role: Role) -> Token {
    TokenKey::new(key).mint_for_relay(key_id, relay_id, guid, role, unix_now() + 600)
}

/// Runs the service with `args`, expecting status 2; returns its stderr.
fn refused(args: &[&str]) -> String {
    let out = command(&[&["--bind", "127.0.0.1", "--port", "0"], args].concat())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "started anyway: {args:?}");
    stderr
}

#[test]
fn bad_fleet_settings_are_refused_naming_their_source() {
    let dir = scratch("bad");
    let short = dir.join("short.key");
    std::fs::write(&short, b64(b"fifteen bytes!!")).unwrap();
    let short = short.display().to_string();
    let previous = dir.join("previous.key");
    std::fs::write(&previous, b64(PREVIOUS)).unwrap();
    let previous = previous.display().to_string();
    let key = b64(KEY);
    for (args, says) in [
        (
            vec![
                "--secret-key",
                &key,
                "--previous-secret-key-file",
                &short,
                "--previous-key-id",
                "1",
            ],
            format!("--previous-secret-key-file {short}: the key is 15 bytes; at least 16"),
        ),
        (
            vec![
                "--secret-key",
                &key,
                "--previous-secret-key-file",
                &previous,
            ],
            "--previous-key-id".to_owned(),
        ),
        (
            vec!["--secret-key", &key, "--previous-key-id", "1"],
            "--previous-secret-key-file".to_owned(),
        ),
        (
            vec![
                "--secret-key",
                &key,
                "--key-id",
                "3",
                "--previous-secret-key-file",
                &previous,
                "--previous-key-id",
                "3",
            ],
            "invalid configuration: previous_key_id must differ from key_id".to_owned(),
        ),
        (
            vec![
                "--previous-secret-key-file",
                &previous,
                "--previous-key-id",
                "1",
            ],
            "invalid configuration: previous_secret_key needs a secret_key".to_owned(),
        ),
        (
            vec!["--secret-key", &key, "--require-token-v2"],
            "invalid configuration: require_token_v2 needs a relay_id".to_owned(),
        ),
        (
            vec!["--v08-default-key", "--relay-id", "1", "--require-token-v2"],
            "--require-token-v2 needs a secret key".to_owned(),
        ),
        (vec!["--relay-id", "4294967296"], "--relay-id".to_owned()),
    ] {
        let stderr = refused(&args);
        assert!(stderr.contains(&says), "{args:?}: {stderr}");
        assert!(!stderr.contains(&b64(PREVIOUS)), "key shown: {stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Polls both clients until both are established.
fn establish(a: &mut Client, b: &mut Client) {
    let start = Instant::now();
    while a.state() != State::Established || b.state() != State::Established {
        a.poll(Duration::from_millis(5)).unwrap();
        b.poll(Duration::from_millis(5)).unwrap();
        assert!(start.elapsed() < Duration::from_secs(5), "not established");
    }
}

#[test]
fn a_fleet_relay_takes_its_own_tokens_and_counts_another_relays() {
    let dir = scratch("run");
    let previous = dir.join("previous.key");
    std::fs::write(&previous, format!("{}\n", b64(PREVIOUS))).unwrap();
    let previous = previous.display().to_string();
    let key = b64(KEY);
    let mut relay = Service::start(&[
        "--secret-key",
        &key,
        "--key-id",
        "12",
        "--previous-secret-key-file",
        &previous,
        "--previous-key-id",
        "11",
        "--relay-id",
        "5",
        "--require-tokens",
        "--require-token-v2",
    ]);
    // Another relay's tokens: three handshakes, no answer.
    let guid = Guid::random().unwrap();
    let stray = peer();
    stray
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    for seq in 1..=3 {
        let mut hs = [0u8; 84];
        write_handshake_with_token(&mut hs, &mint(KEY, 12, 6, guid, Role::A), seq).unwrap();
        stray.send_to(&hs, relay.addr).unwrap();
    }
    let mut buf = [0u8; 128];
    assert!(stray.recv_from(&mut buf).is_err(), "the relay answered");
    // Its own tokens, seat B minted under the previous key: a channel.
    let connect = |token: Token| {
        let mut cfg = ClientConfig::new(relay.addr, Guid::ZERO);
        cfg.token = Some(token);
        Client::connect(cfg).unwrap()
    };
    let mut a = connect(mint(KEY, 12, 5, guid, Role::A));
    let mut b = connect(mint(PREVIOUS, 11, 5, guid, Role::B));
    establish(&mut a, &mut b);
    let (status, metrics) = relay.get("/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics
            .contains("udp_relay_handshakes_rejected_total{reason=\"wrong_relay\",worker=\"0\"} 3"),
        "{metrics}"
    );
    relay.signal("-INT");
    assert!(relay.wait_exit(Duration::from_secs(2)).success());
    let stats = relay.last_stats();
    let field = |name: &str| stats.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
    assert_eq!(field("handshakes_wrong_relay"), Some(3), "{stats:?}");
    assert_eq!(field("channels_allocated_total"), Some(1), "{stats:?}");
    assert_eq!(field("tokens_invalid"), Some(0), "{stats:?}");
    let log = relay.log();
    assert!(
        !log.contains(&b64(PREVIOUS)) && !log.contains(&key),
        "key in the log"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
