//! `udp-relay health`: one HTTP request to a running relay's admin endpoint, or one UDP probe
//! to its relay port (`udp_relay::probe`), for container HEALTHCHECKs and exec probes that
//! have no client of their own.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use std::process::ExitCode;
use udp_relay::probe::{self, RelayState};

use crate::cli::HealthArgs;
use crate::http_client;

/// Asks `/live` (or `/ready`), or probes the relay port: exit 0 when healthy, 1 otherwise,
/// with the answer on stderr.
pub fn run(args: &HealthArgs) -> ExitCode {
    if let Some(relay) = args.udp {
        return run_probe(loopback_for(relay), args);
    }
    let Some(admin) = args.admin_addr else {
        unreachable!("clap requires --admin-addr or --udp");
    };
    let path = if args.ready { "/ready" } else { "/live" };
    match ask(loopback_for(admin), path, args) {
        Ok((200, _)) => ExitCode::SUCCESS,
        Ok((status, body)) => {
            eprintln!("udp-relay health: {path}: {status} {}", body.trim());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("udp-relay health: {path} at {admin}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One probe to the relay port: live when it answers, ready when it answers "accepting".
fn run_probe(relay: SocketAddr, args: &HealthArgs) -> ExitCode {
    match probe_once(relay, args) {
        Ok((state, rtt)) => {
            let healthy = !args.ready || state == RelayState::Accepting;
            if !healthy {
                eprintln!("udp-relay health: {relay}: {state:?}");
                return ExitCode::FAILURE;
            }
            eprintln!("udp-relay health: {relay}: {state:?} in {rtt:?}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("udp-relay health: probe to {relay}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The relay's state and the round trip of one probe.
fn probe_once(
    relay: SocketAddr,
    args: &HealthArgs,
) -> std::io::Result<(RelayState, std::time::Duration)> {
    let any: SocketAddr = if relay.is_ipv6() {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(any)?;
    socket.connect(relay)?;
    socket.set_read_timeout(Some(args.timeout))?;
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let start = Instant::now();
    socket.send(&probe::write_probe(stamp))?;
    let mut buf = [0u8; 64];
    loop {
        let n = socket.recv(&mut buf)?;
        if let Some((state, echo)) = probe::read_reply(&buf[..n]) {
            if echo == stamp {
                return Ok((state, start.elapsed()));
            }
        }
    }
}

/// A wildcard address is reached on loopback.
fn loopback_for(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

/// The status code and body of `GET path`.
fn ask(addr: SocketAddr, path: &str, args: &HealthArgs) -> std::io::Result<(u16, String)> {
    let answer = http_client::request(addr, "GET", path, None, args.timeout)?;
    Ok((answer.status, answer.body))
}
