//! One system call per datagram, with std only (Windows, macOS, BSDs).
use super::{Outgoing, SLOT};
use std::io;
use std::net::{SocketAddr, UdpSocket};

pub fn recv(
    socket: &UdpSocket,
    data: &mut [u8],
    lens: &mut [usize],
    srcs: &mut [SocketAddr],
) -> io::Result<usize> {
    let mut n = 0;
    while n < lens.len() {
        match socket.recv_from(&mut data[n * SLOT..(n + 1) * SLOT]) {
            Ok((len, src)) => {
                lens[n] = len;
                srcs[n] = src;
                n += 1;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if n == 0 => return Err(e),
            // Reported by the next call, after what was already received is handled.
            Err(_) => break,
        }
    }
    Ok(n)
}

pub fn send(
    socket: &UdpSocket,
    data: &[u8],
    pending: &[Outgoing],
) -> Result<usize, (io::Error, usize)> {
    let mut n = 0;
    for o in pending {
        match socket.send_to(&data[o.start..o.start + o.len], o.dst) {
            Ok(_) => n += 1,
            Err(e) if n == 0 => return Err((e, 1)),
            Err(_) => break,
        }
    }
    Ok(n)
}
