//! Keys: too short, unreadable or malformed keys stop the service with status 2 and a message
//! naming where the key came from (flag, environment, file) without showing it; a key file
//! keys the relay; the key never appears in the log or /metrics.
#![cfg(unix)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use support::{Service, command, exchange, not_paired};
use udp_relay::protocol::Guid;

fn b64(key: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(key)
}

/// A fresh directory for this test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("udp-relay-keys-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the service with `args` (and `UDP_RELAY_SECRET_KEY` = `env`), expecting it to refuse
/// to start; returns its stderr.
fn refused(args: &[&str], env: Option<&str>) -> String {
    let mut cmd = command(&["--bind", "127.0.0.1", "--port", "0"]);
    cmd.args(args);
    if let Some(env) = env {
        cmd.env("UDP_RELAY_SECRET_KEY", env);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "started anyway: {args:?}");
    stderr
}

#[test]
fn bad_keys_are_refused_naming_their_source() {
    let dir = scratch("bad");
    let short = b64(b"fifteen bytes!!");
    let file = dir.join("short.key");
    std::fs::write(&file, format!("{short}\n")).unwrap();
    let path = file.display().to_string();
    let missing = dir.join("missing.key").display().to_string();
    let empty = dir.join("empty.key");
    std::fs::write(&empty, "\n").unwrap();
    let empty = empty.display().to_string();
    for (args, env, says) in [
        (
            vec!["--secret-key", short.as_str()],
            None,
            "--secret-key: the key is 15 bytes; at least 16".to_owned(),
        ),
        (
            vec![],
            Some(short.as_str()),
            "UDP_RELAY_SECRET_KEY (environment): the key is 15 bytes".to_owned(),
        ),
        (
            vec!["--secret-key-file", &path],
            None,
            format!("--secret-key-file {path}: the key is 15 bytes"),
        ),
        (
            vec!["--secret-key-file", &missing],
            None,
            format!("--secret-key-file {missing}: cannot read it"),
        ),
        (
            vec!["--secret-key-file", &empty],
            None,
            format!("--secret-key-file {empty}: holds no key"),
        ),
        (
            vec![],
            Some("secret?!"),
            "UDP_RELAY_SECRET_KEY (environment): is not valid base64".to_owned(),
        ),
    ] {
        let stderr = refused(&args, env);
        assert!(stderr.contains(&says), "{args:?} {env:?}: {stderr}");
        assert!(
            !stderr.contains(&short) && !stderr.contains("secret?!"),
            "key shown: {stderr}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_key_file_keys_the_relay_and_the_key_is_never_shown() {
    let dir = scratch("file");
    let key = b"a file key of 32 bytes, not seen";
    let encoded = b64(key);
    let file = dir.join("relay.key");
    std::fs::write(&file, format!("  {encoded}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let path = file.display().to_string();
    let mut relay = Service::start(&[
        "--secret-key-file",
        &path,
        "--log-level",
        "trace",
        "--log-format",
        "json",
    ]);
    exchange(relay.addr, Guid(1), Some(key));
    not_paired(relay.addr, Guid(2), None);
    let (status, metrics) = relay.get("/metrics");
    assert_eq!(status, 200);
    relay.signal("-INT");
    assert!(relay.wait_exit(Duration::from_secs(2)).success());
    let log = relay.log();
    assert!(
        !log.contains("readable or writable by other users"),
        "{log}"
    );
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    for shown in [&encoded, "a file key of 32", &hex] {
        assert!(
            !log.contains(shown) && !metrics.contains(shown),
            "{shown} in the log or /metrics"
        );
    }
    // A key file others may read is used, with a warning.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut relay = Service::start(&["--secret-key-file", &path]);
    exchange(relay.addr, Guid(3), Some(key));
    relay.signal("-INT");
    assert!(relay.wait_exit(Duration::from_secs(2)).success());
    assert!(
        relay
            .log()
            .contains("readable or writable by other users (mode 644)"),
        "{}",
        relay.log()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
