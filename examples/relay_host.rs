//! The relay service under its old name: the same program as the `udp-relay` binary of the
//! `udp-relay-server` crate, kept so that `cargo run --example relay_host` goes on working.
//!
//!     cargo run --release --example relay_host -- --port 6060
//!
//! Install the real binary with `cargo install --path udp-relay-server` (see the README's
//! *Operating* section).

fn main() -> std::process::ExitCode {
    udp_relay_server::main()
}
