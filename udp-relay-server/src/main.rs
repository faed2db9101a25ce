//! `udp-relay`: the relay service. See `udp-relay --help` and the README's *Operating* section.

fn main() -> std::process::ExitCode {
    udp_relay_server::main()
}
