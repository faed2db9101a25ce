//! Socket plumbing shared by the relay and the client: binding (dual-stack when asked),
//! buffer sizes, address normalisation and waiting for a datagram with a timeout.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

pub mod batch;
#[cfg(windows)]
mod connreset;
pub(crate) mod memory;

/// A bound, non-blocking UDP socket and what the kernel granted.
#[derive(Debug)]
pub struct BoundSocket {
    pub socket: UdpSocket,
    /// True for an AF_INET6 socket: IPv4 destinations must then be written v4-mapped.
    pub is_v6: bool,
    pub local_addr: SocketAddr,
    /// Effective SO_RCVBUF / SO_SNDBUF as read back from the kernel.
    pub recv_buffer: usize,
    pub send_buffer: usize,
}

/// Binds a non-blocking UDP socket. An IPv6 socket is made dual-stack (IPV6_V6ONLY off), so
/// `[::]:port` accepts IPv4 peers too. Buffer sizes of 0 keep the system default.
pub fn bind_udp(
    addr: SocketAddr,
    recv_buffer: usize,
    send_buffer: usize,
) -> io::Result<BoundSocket> {
    let domain = Domain::for_address(addr);
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    let is_v6 = addr.is_ipv6();
    if is_v6 {
        socket.set_only_v6(false)?;
    }
    if recv_buffer > 0 {
        // The kernel clamps to its maximum; what it granted is read back below.
        let _ = socket.set_recv_buffer_size(recv_buffer);
    }
    if send_buffer > 0 {
        let _ = socket.set_send_buffer_size(send_buffer);
    }
    socket.bind(&addr.into())?;
    socket.set_nonblocking(true)?;
    #[cfg(windows)]
    if let Err(e) = connreset::disable_udp_connreset(&socket) {
        // Not fatal: receive errors are counted and skipped by the relay loop anyway.
        log::warn!(
            "cannot disable SIO_UDP_CONNRESET ({e}); departed peers will show up as receive errors"
        );
    }
    let recv_buffer = socket.recv_buffer_size().unwrap_or(0);
    let send_buffer = socket.send_buffer_size().unwrap_or(0);
    let socket: UdpSocket = socket.into();
    let local_addr = socket.local_addr()?;
    Ok(BoundSocket {
        socket,
        is_v6,
        local_addr,
        recv_buffer,
        send_buffer,
    })
}

/// The canonical form of a peer address: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is
/// the same peer as the plain IPv4 address, and flow info is not part of a peer's identity.
#[inline]
pub fn normalize(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => SocketAddr::V6(SocketAddrV6::new(*v6.ip(), v6.port(), 0, v6.scope_id())),
        },
        v4 => v4,
    }
}

/// The address to hand to `send_to` on a socket of the given family: IPv4 peers are written
/// v4-mapped on a dual-stack IPv6 socket.
#[inline]
pub fn to_socket_family(addr: SocketAddr, socket_is_v6: bool) -> SocketAddr {
    match addr {
        SocketAddr::V4(v4) if socket_is_v6 => {
            SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
        }
        other => other,
    }
}

/// The unspecified address of the same family as `peer`, port 0: what a client binds to.
pub fn unspecified_for(peer: SocketAddr) -> SocketAddr {
    match peer {
        SocketAddr::V4(_) => SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0),
        SocketAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    }
}

/// Waits until `socket` (non-blocking) has a datagram or an error to report, or `timeout`
/// passes. Returns whether something is ready. Uses only std: the socket is switched to
/// blocking with a receive timeout for a `peek`, then back, which costs a few syscalls only
/// when the caller is idle anyway.
pub fn wait_readable(socket: &UdpSocket, timeout: Duration) -> io::Result<bool> {
    if timeout.is_zero() {
        return Ok(false);
    }
    socket.set_nonblocking(false)?;
    let set = socket.set_read_timeout(Some(timeout));
    let mut probe = [0u8; 1];
    let result = match set {
        Ok(()) => socket.peek_from(&mut probe),
        Err(e) => Err(e),
    };
    socket.set_nonblocking(true)?;
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Ok(false)
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
        // A pending error (e.g. WSAECONNRESET, or a datagram larger than the probe on
        // Windows) is "ready": the next receive reports or consumes it.
        Err(_) => Ok(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_mapped_is_the_v4_peer() {
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:4000".parse().unwrap();
        let plain: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert_eq!(normalize(mapped), plain);
        assert_eq!(normalize(plain), plain);
        let v6: SocketAddr = "[::1]:4000".parse().unwrap();
        assert_eq!(normalize(v6), v6);
        assert_eq!(to_socket_family(plain, true), mapped);
        assert_eq!(to_socket_family(plain, false), plain);
    }

    #[test]
    fn wait_readable_times_out_then_sees_a_datagram() {
        let a = bind_udp("127.0.0.1:0".parse().unwrap(), 0, 0).unwrap();
        let b = bind_udp("127.0.0.1:0".parse().unwrap(), 0, 0).unwrap();
        assert!(!wait_readable(&a.socket, Duration::from_millis(20)).unwrap());
        b.socket.send_to(b"x", a.local_addr).unwrap();
        assert!(wait_readable(&a.socket, Duration::from_millis(2000)).unwrap());
        let mut buf = [0u8; 8];
        assert_eq!(a.socket.recv_from(&mut buf).unwrap().0, 1);
        // Still non-blocking afterwards.
        assert_eq!(
            a.socket.recv_from(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
    }
}
