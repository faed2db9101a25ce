//! A private network namespace for tests that change what the host's network must keep (an
//! interface's MTU). A thread leaves the host's namespace with `unshare(CLONE_NEWNET)`: the
//! sockets it opens and the programs it starts belong to the new namespace, the rest of the
//! test process stays where it was. The namespace has no name and ends with the last thread
//! and socket in it, so nothing is left behind even when the test is killed.
//!
//! Needs root (CAP_SYS_ADMIN) and `ip` from iproute2 (.ci/install-deps.sh installs it).
//! Without them the test is skipped with a loud warning, except on CI (`CI=true`), where it
//! fails.
#![allow(dead_code)]

use std::io::{self, Write};
use std::process::Command;

/// Runs `body` on a thread inside a new network namespace whose loopback is up with MTU
/// `mtu`, and returns what it returns; `None` when the namespace could not be set up (after
/// the warning). A panic in `body` is the test's panic.
pub fn with_loopback_mtu<T: Send + 'static>(
    mtu: u32,
    body: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let name = format!(
        "{} (network namespace)",
        std::thread::current().name().unwrap_or("test")
    );
    let thread = std::thread::Builder::new()
        .name(name)
        .spawn(move || -> Result<T, String> {
            enter_new_network_namespace()?;
            set_loopback_up(mtu)?;
            Ok(body())
        })
        .expect("spawning the namespaced thread");
    match thread.join() {
        Ok(Ok(value)) => Some(value),
        Ok(Err(missing)) => {
            skip(&missing);
            None
        }
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Moves the calling thread (only it) into a new, empty network namespace.
fn enter_new_network_namespace() -> Result<(), String> {
    // SAFETY: unshare takes a flag word and touches no memory of ours; CLONE_NEWNET only
    // changes the namespace of the calling thread.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EPERM) => Err(format!(
            "the right to create a network namespace (CAP_SYS_ADMIN; run as root): {e}"
        )),
        _ => Err(format!("network namespaces (unshare(CLONE_NEWNET): {e})")),
    }
}

/// `ip link set dev lo mtu MTU up`, run from the namespaced thread so it acts on the new
/// namespace's loopback.
fn set_loopback_up(mtu: u32) -> Result<(), String> {
    let mtu = mtu.to_string();
    let output = match Command::new("ip")
        .args(["link", "set", "dev", "lo", "mtu", &mtu, "up"])
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err("`ip` (apt-get install iproute2, or run .ci/install-deps.sh)".into());
        }
        Err(e) => panic!("running ip: {e}"),
    };
    assert!(
        output.status.success(),
        "ip link set dev lo mtu {mtu} up: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// Says loudly that the running test is skipped for want of `missing`; a failure instead
/// under `CI=true`.
pub fn skip(missing: &str) {
    let message = format!("this test needs {missing}");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message}");
    }
    // Straight to the process's stderr: the test harness keeps eprintln! output of a test
    // that passes to itself, and a skip must be seen.
    let warning = format!(
        "\n{bar}\nSKIPPED: {test}: missing {missing}\n{bar}\n",
        bar = "!".repeat(78),
        test = std::thread::current()
            .name()
            .unwrap_or("network namespace test"),
    );
    let _ = io::stderr().lock().write_all(warning.as_bytes());
}
