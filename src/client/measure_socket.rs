//! [`measure_relays`]: a [`RelayMeasure`] run to its end on a socket of its own.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::measure::{Measurement, RelayMeasure};
use crate::net;

/// Most datagrams read between two looks at the clock, so a flood cannot hold the call.
const MAX_BATCH: usize = 256;

/// Times `relays` with up to `attempts` probes each and returns one [`Measurement`] per
/// relay, in the order given. Blocks for at most `timeout` (exactly that long when a relay
/// does not answer, a few round trips when all do): call it off the game thread or at a
/// loading screen. Pick with [`super::nearest`].
///
/// The probes leave from a socket bound for this call only (IPv6 dual-stack when a relay is
/// IPv6, else IPv4), so it works before or while a [`super::Client`] is in a channel: a
/// probe from a channel member's address would be the channel's data. Fails with
/// `InvalidInput` when `attempts` or `timeout` is out of range (see [`RelayMeasure::new`]),
/// or with the socket's error when none can be bound.
pub fn measure_relays(
    relays: &[SocketAddr],
    attempts: u32,
    timeout: Duration,
) -> io::Result<Vec<Measurement>> {
    let tag = random_tag();
    let mut machine = RelayMeasure::new(relays, attempts, timeout, tag, Instant::now())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    if relays.is_empty() {
        return Ok(Vec::new());
    }
    let any = if relays.iter().any(|r| net::normalize(*r).is_ipv6()) {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    };
    let bound = net::bind_udp(SocketAddr::new(any, 0), 0, 0)?;
    let mut buf = [0u8; 64];
    loop {
        let now = Instant::now();
        while let Some(probe) = machine.poll_transmit(now) {
            let to = net::to_socket_family(net::normalize(probe.to), bound.is_v6);
            if let Err(e) = bound.socket.send_to(&probe.datagram, to) {
                // A relay this host cannot route to is one that does not answer.
                log::debug!("probe to {} not sent: {e}", probe.to);
            }
        }
        for _ in 0..MAX_BATCH {
            match bound.socket.recv_from(&mut buf) {
                Ok((len, from)) => {
                    machine.handle_datagram(from, &buf[..len], Instant::now());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // ICMP errors some platforms report for a relay that is not there, and
                // datagrams larger than a reply: neither is an answer.
                Err(e) => log::trace!("measuring relays: receive error (skipped): {e}"),
            }
        }
        machine.handle_timeout(Instant::now());
        let Some(next) = machine.next_timeout() else {
            break;
        };
        let wait = next.saturating_duration_since(Instant::now());
        net::wait_readable(&bound.socket, wait)?;
    }
    Ok(machine.measurements())
}

/// A tag for this measurement's probes from the OS's random source (the clock if it has
/// none: the tag only keeps other measurements' replies apart).
fn random_tag() -> u32 {
    let mut b = [0u8; 4];
    match getrandom::fill(&mut b) {
        Ok(()) => u32::from_ne_bytes(b),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos()),
    }
}
