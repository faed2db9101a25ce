//! `udp-relay health`: one HTTP request to a running relay's admin endpoint, for container
//! HEALTHCHECKs and exec probes that have no HTTP client of their own.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::process::ExitCode;

use crate::cli::HealthArgs;

/// Asks `/live` (or `/ready`): exit 0 on 200, 1 otherwise, with the answer on stderr.
pub fn run(args: &HealthArgs) -> ExitCode {
    let path = if args.ready { "/ready" } else { "/live" };
    match ask(loopback_for(args.admin_addr), path, args) {
        Ok((200, _)) => ExitCode::SUCCESS,
        Ok((status, body)) => {
            eprintln!("udp-relay health: {path}: {status} {}", body.trim());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("udp-relay health: {path} at {}: {e}", args.admin_addr);
            ExitCode::FAILURE
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
    let mut stream = TcpStream::connect_timeout(&addr, args.timeout)?;
    stream.set_read_timeout(Some(args.timeout))?;
    stream.set_write_timeout(Some(args.timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("not an HTTP answer"))?;
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok((status, body))
}
