//! Shared by the tests that run the example binaries (`relay_host`, `relay_client`,
//! `matchmaker`): where they are, built fresh for this test run, and a host started on a
//! loopback port.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// The example binary `name`, built for this test's profile and target directory. `cargo
/// test` builds examples anyway, but not when a single test target is selected, and a stale
/// binary would test old code; when fresh this build is a no-op.
pub fn example(name: &str) -> PathBuf {
    static EXAMPLES_DIR: OnceLock<PathBuf> = OnceLock::new();
    EXAMPLES_DIR
        .get_or_init(build_examples)
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

fn build_examples() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let target_dir = profile_dir.parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args([
            "build",
            "--example",
            "relay_client",
            "--example",
            "relay_host",
            "--example",
            "matchmaker",
        ])
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    assert!(build.status().unwrap().success(), "building the examples");
    profile_dir.join("examples")
}

/// A running `relay_host` on 127.0.0.1, killed on drop if still running so a failed
/// assertion never leaves it behind.
pub struct Host {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Host {
    /// Starts the host on an ephemeral port with a stats line every second, `extra` arguments
    /// and `UDP_RELAY_SECRET_KEY` set to `env_key` (unset for `None`), and waits for its
    /// address. Its stderr stays piped for the test to read.
    pub fn start(extra: &[&str], env_key: Option<&str>) -> Host {
        let mut cmd = Command::new(example("relay_host"));
        cmd.args([
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--stats-interval-secs",
            "1",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("UDP_RELAY_SECRET_KEY");
        if let Some(k) = env_key {
            cmd.env("UDP_RELAY_SECRET_KEY", k);
        }
        let mut child = cmd.spawn().expect("start relay_host");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        Host { child, addr }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
