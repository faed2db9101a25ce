//! Windows only: stop ICMP "port unreachable" from breaking the receive loop.
//!
//! By default a Windows UDP socket that sent a datagram to a port with no listener (a peer
//! that left) gets the ICMP port-unreachable reported as `WSAECONNRESET` on a later
//! `recvfrom`, which then fails instead of returning the next datagram (Microsoft KB 263823).
//! Setting `SIO_UDP_CONNRESET` to FALSE turns that reporting off for the socket.
//!
//! Built for x86_64-pc-windows-gnu and run under Wine 8 by CI (`scripts/cross-test.sh`,
//! tests/peer_departure.rs): the call succeeds there and a departed peer leaves the relay
//! running. Wine reports no ICMP errors on UDP sockets, so the WSAECONNRESET this suppresses
//! has only been read about, not seen. Written against the documented `WSAIoctl` API and the
//! `windows-sys` 0.61 bindings (`WSAIoctl` needs the
//! `Win32_Networking_WinSock` and `Win32_System_IO` features; `SIO_UDP_CONNRESET` is
//! `_WSAIOW(IOC_VENDOR, 12)` = 0x9800000C). The relay loop also counts and skips receive
//! errors, so if this call ever fails the relay still runs, only with counted errors.

use std::io;
use std::os::windows::io::AsRawSocket;

use windows_sys::Win32::Networking::WinSock::{SIO_UDP_CONNRESET, SOCKET, SOCKET_ERROR, WSAIoctl};

/// Turns off `WSAECONNRESET` reporting of ICMP port-unreachable on `socket`.
pub(crate) fn disable_udp_connreset(socket: &impl AsRawSocket) -> io::Result<()> {
    let report: windows_sys::core::BOOL = 0; // FALSE
    let mut returned: u32 = 0;
    // SAFETY: `socket` is an open socket for the duration of the call; the input buffer is
    // a BOOL (4 bytes) that outlives the call, as SIO_UDP_CONNRESET expects; no output
    // buffer, no OVERLAPPED and no completion routine, so the call is synchronous.
    let rc = unsafe {
        WSAIoctl(
            socket.as_raw_socket() as SOCKET,
            SIO_UDP_CONNRESET,
            (&report as *const windows_sys::core::BOOL).cast(),
            std::mem::size_of::<windows_sys::core::BOOL>() as u32,
            std::ptr::null_mut(),
            0,
            &mut returned,
            std::ptr::null_mut(),
            None,
        )
    };
    if rc == SOCKET_ERROR {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
