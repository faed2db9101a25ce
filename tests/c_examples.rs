//! The C examples in `examples/c/` are built with the system C compiler against
//! `include/udp_relay.h` and the library cargo just built, then run and driven over real UDP
//! on 127.0.0.1. Each example is built three ways: strict C99 with warnings as errors against
//! the shared library, the same against the static library, and under AddressSanitizer +
//! UndefinedBehaviorSanitizer.
//!
//! Adding an example: add a `CExample` constant and a scenario function in `c_scenarios/`
//! (shared with the Windows builds of `tests/windows_wine.rs`), then one `#[test]` per build
//! variant calling `run_variant`.

mod c_scenarios;
mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{native_library_dir, native_program, run_ok};

/// A single-file C program in `examples/c/`.
struct CExample {
    name: &'static str,
    source: &'static str,
}

const EMBEDDED_HOST: CExample = CExample {
    name: "embedded_host",
    source: "examples/c/embedded_host.c",
};

const ENGINE_SOCKET_RELAY: CExample = CExample {
    name: "engine_socket_relay",
    source: "examples/c/engine_socket_relay.c",
};

#[cfg(target_os = "linux")]
const EPOLL_HOST: CExample = CExample {
    name: "epoll_host",
    source: "examples/c/epoll_host.c",
};

const CLIENT_MODES: CExample = CExample {
    name: "client_modes",
    source: "examples/c/client_modes.c",
};

/// How the example gets the library.
#[derive(Clone, Copy, PartialEq)]
enum Link {
    /// `-ludp_relay` against libudp_relay.so, found at run time through the rpath.
    Shared,
    /// libudp_relay.a plus the system libraries the Rust standard library needs (as printed
    /// by `cargo rustc --crate-type staticlib -- --print native-static-libs`).
    Static,
}

/// How an example is compiled for one test.
struct Variant {
    name: &'static str,
    cflags: &'static [&'static str],
    link: Link,
    env: &'static [(&'static str, &'static str)],
}

const STRICT: Variant = Variant {
    name: "strict",
    cflags: &["-O1"],
    link: Link::Shared,
    env: &[],
};

const STATIC: Variant = Variant {
    name: "static",
    cflags: &["-O1"],
    link: Link::Static,
    env: &[],
};

const SANITIZED: Variant = Variant {
    name: "sanitized",
    cflags: support::SANITIZER_FLAGS,
    link: Link::Shared,
    env: support::SANITIZER_ENV,
};

/// Compiles `example` as `variant` and returns the executable.
fn build(example: &CExample, variant: &Variant) -> PathBuf {
    let root = support::repo_root();
    let lib_dir = native_library_dir();
    let out_dir = support::scratch_dir(&format!("c-{}-{}", example.name, variant.name));
    let exe = out_dir.join(example.name);
    let mut cc = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()));
    cc.args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .args(variant.cflags)
        .arg("-I")
        .arg(root.join("include"))
        .arg(root.join(example.source))
        .arg("-o")
        .arg(&exe);
    match variant.link {
        Link::Shared => {
            cc.args(support::shared_library_link_args());
        }
        Link::Static => {
            // The static library is built next to the shared one (crate-type staticlib).
            cc.arg(lib_dir.join("libudp_relay.a"))
                .args(support::STATIC_SYSTEM_LIBS);
        }
    }
    run_ok(
        &mut cc,
        &format!("compiling {} ({})", example.source, variant.name),
    );
    exe
}

fn run_variant(example: &CExample, variant: &Variant, scenario: fn(&dyn Fn() -> Command)) {
    let exe = build(example, variant);
    scenario(&|| {
        let mut command = native_program(&exe);
        command.envs(variant.env.iter().copied());
        command
    });
}

#[test]
fn embedded_host_relays_two_peers() {
    run_variant(
        &EMBEDDED_HOST,
        &STRICT,
        c_scenarios::embedded_host_relays_two_peers,
    );
}

#[test]
fn embedded_host_linked_statically_relays_two_peers() {
    run_variant(
        &EMBEDDED_HOST,
        &STATIC,
        c_scenarios::embedded_host_relays_two_peers,
    );
}

#[test]
fn embedded_host_relays_two_peers_under_sanitizers() {
    run_variant(
        &EMBEDDED_HOST,
        &SANITIZED,
        c_scenarios::embedded_host_relays_two_peers,
    );
}

#[test]
fn engine_socket_relay_relays_on_the_games_own_socket() {
    run_variant(
        &ENGINE_SOCKET_RELAY,
        &STRICT,
        c_scenarios::engine_socket_relay,
    );
}

#[test]
fn engine_socket_relay_under_sanitizers() {
    run_variant(
        &ENGINE_SOCKET_RELAY,
        &SANITIZED,
        c_scenarios::engine_socket_relay,
    );
}

#[cfg(target_os = "linux")]
#[test]
fn epoll_host_waits_in_its_own_event_loop() {
    run_variant(&EPOLL_HOST, &STRICT, c_scenarios::epoll_host);
}

#[cfg(target_os = "linux")]
#[test]
fn epoll_host_under_sanitizers() {
    run_variant(&EPOLL_HOST, &SANITIZED, c_scenarios::epoll_host);
}

#[test]
fn client_modes_exchange_through_a_relay() {
    run_variant(&CLIENT_MODES, &STRICT, c_scenarios::client_modes_exchange);
}

#[test]
fn client_modes_linked_statically() {
    run_variant(&CLIENT_MODES, &STATIC, c_scenarios::client_modes_exchange);
}

#[test]
fn client_modes_under_sanitizers() {
    run_variant(
        &CLIENT_MODES,
        &SANITIZED,
        c_scenarios::client_modes_exchange,
    );
}
