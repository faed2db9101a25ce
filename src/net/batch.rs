//! Batched datagram I/O for the relay loop: up to [`BATCH`] datagrams per receive call and
//! per send call (`recvmmsg` / `sendmmsg` on Linux, one `recv_from` / `send_to` each
//! elsewhere). Datagrams are received into fixed buffers allocated once and forwarded from
//! those same buffers: the only copies are the kernel's.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// Datagrams per receive or send call.
pub(crate) const BATCH: usize = 32;
/// Every slot holds the largest UDP payload, so nothing is ever truncated. Pages of a slot
/// are only made resident by the kernel writing into them.
const SLOT: usize = 65_536;

/// A datagram queued for sending: slot `slot`'s bytes to `dst`, with a caller's `tag` that
/// comes back if the send fails.
#[derive(Clone, Copy, Debug)]
struct Outgoing {
    slot: usize,
    dst: SocketAddr,
    tag: u64,
}

/// Receive slots plus the queue of sends that point into them. Sends must be flushed
/// before the next receive reuses the slots; [`DatagramBatch::recv`] enforces it.
pub struct DatagramBatch {
    data: Box<[u8]>,
    lens: [usize; BATCH],
    srcs: [SocketAddr; BATCH],
    received: usize,
    queue: Vec<Outgoing>,
    #[cfg(target_os = "linux")]
    sys: linux::Headers,
}

impl std::fmt::Debug for DatagramBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatagramBatch")
            .field("received", &self.received)
            .field("queued", &self.queue.len())
            .finish_non_exhaustive()
    }
}

impl Default for DatagramBatch {
    fn default() -> Self {
        DatagramBatch::new()
    }
}

impl DatagramBatch {
    pub fn new() -> DatagramBatch {
        DatagramBatch {
            data: vec![0u8; BATCH * SLOT].into_boxed_slice(),
            lens: [0; BATCH],
            srcs: [SocketAddr::from(([0, 0, 0, 0], 0)); BATCH],
            received: 0,
            queue: Vec::with_capacity(BATCH),
            #[cfg(target_os = "linux")]
            sys: linux::Headers::new(),
        }
    }

    /// Receives up to `max` (at most [`BATCH`]) datagrams without waiting and returns how
    /// many arrived (0 when none is pending). Panics if sends are still queued.
    pub fn recv(&mut self, socket: &UdpSocket, max: usize) -> io::Result<usize> {
        assert!(self.queue.is_empty(), "flush before receiving again");
        self.received = 0;
        let max = max.clamp(1, BATCH);
        #[cfg(target_os = "linux")]
        let n = linux::recv(
            socket,
            &mut self.sys,
            &mut self.data,
            &mut self.lens[..max],
            &mut self.srcs[..max],
        )?;
        #[cfg(not(target_os = "linux"))]
        let n = portable::recv(
            socket,
            &mut self.data,
            &mut self.lens[..max],
            &mut self.srcs[..max],
        )?;
        self.received = n;
        Ok(n)
    }

    /// The bytes and source of received datagram `i`.
    #[inline]
    pub fn datagram(&self, i: usize) -> (&[u8], SocketAddr) {
        assert!(i < self.received);
        (&self.data[i * SLOT..i * SLOT + self.lens[i]], self.srcs[i])
    }

    /// Queues received datagram `i` to be sent, unchanged, to `dst` (already in the
    /// socket's address family).
    #[inline]
    pub fn queue(&mut self, i: usize, dst: SocketAddr, tag: u64) {
        assert!(i < self.received);
        self.queue.push(Outgoing { slot: i, dst, tag });
    }

    /// Sends everything queued. Returns (datagrams sent, bytes sent); for each datagram the
    /// kernel refused, `failed(tag, len, error)` is called and the rest still go out.
    pub fn flush(
        &mut self,
        socket: &UdpSocket,
        mut failed: impl FnMut(u64, usize, io::Error),
    ) -> (u64, u64) {
        let mut sent = (0u64, 0u64);
        let mut start = 0;
        while start < self.queue.len() {
            let pending = &self.queue[start..];
            #[cfg(target_os = "linux")]
            let result = linux::send(socket, &mut self.sys, &self.data, &self.lens, pending);
            #[cfg(not(target_os = "linux"))]
            let result = portable::send(socket, &self.data, &self.lens, pending);
            match result {
                Ok(n) if n > 0 => {
                    for o in &pending[..n] {
                        sent.0 += 1;
                        sent.1 += self.lens[o.slot] as u64;
                    }
                    start += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => {
                    // The first pending datagram is the one refused: count it, go on.
                    let e = other
                        .err()
                        .unwrap_or_else(|| io::ErrorKind::WouldBlock.into());
                    let o = pending[0];
                    failed(o.tag, self.lens[o.slot], e);
                    start += 1;
                }
            }
        }
        self.queue.clear();
        sent
    }
}

/// Waits until `socket` is readable or `timeout` passes; returns whether it is readable.
pub fn wait_readable(socket: &UdpSocket, timeout: Duration) -> io::Result<bool> {
    #[cfg(target_os = "linux")]
    return linux::wait_readable(socket, timeout);
    #[cfg(not(target_os = "linux"))]
    return super::wait_readable(socket, timeout);
}

#[cfg(not(target_os = "linux"))]
mod portable {
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
        lens: &[usize],
        pending: &[Outgoing],
    ) -> io::Result<usize> {
        let mut n = 0;
        for o in pending {
            match socket.send_to(&data[o.slot * SLOT..o.slot * SLOT + lens[o.slot]], o.dst) {
                Ok(_) => n += 1,
                Err(e) if n == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(n)
    }
}

#[cfg(target_os = "linux")]
mod linux {
    //! recvmmsg / sendmmsg. Headers are rebuilt before every call from the batch's own
    //! buffers, so nothing self-referential outlives a call.
    use super::{BATCH, Outgoing, SLOT};
    use std::io;
    use std::mem;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    pub struct Headers {
        msgs: Vec<libc::mmsghdr>,
        iovs: Vec<libc::iovec>,
        addrs: Vec<libc::sockaddr_storage>,
    }

    // SAFETY: the raw pointers inside are scratch space: they are rewritten from the batch's
    // own buffers before every system call and never dereferenced at any other time, so
    // moving the headers to another thread between calls cannot make them dangle in use.
    unsafe impl Send for Headers {}

    impl Headers {
        pub fn new() -> Headers {
            Headers {
                // SAFETY: mmsghdr is plain data for which all-zero is a valid value.
                msgs: (0..BATCH).map(|_| unsafe { mem::zeroed() }).collect(),
                iovs: (0..BATCH)
                    .map(|_| libc::iovec {
                        iov_base: std::ptr::null_mut(),
                        iov_len: 0,
                    })
                    .collect(),
                // SAFETY: sockaddr_storage is plain data for which all-zero is a valid value.
                addrs: (0..BATCH).map(|_| unsafe { mem::zeroed() }).collect(),
            }
        }
    }

    fn errno_result(rc: libc::c_int) -> io::Result<usize> {
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(rc as usize)
        }
    }

    pub fn recv(
        socket: &UdpSocket,
        h: &mut Headers,
        data: &mut [u8],
        lens: &mut [usize],
        srcs: &mut [SocketAddr],
    ) -> io::Result<usize> {
        let max = lens.len();
        for i in 0..max {
            h.iovs[i] = libc::iovec {
                iov_base: data[i * SLOT..].as_mut_ptr().cast(),
                iov_len: SLOT,
            };
            let m = &mut h.msgs[i];
            m.msg_len = 0;
            m.msg_hdr.msg_name = (&mut h.addrs[i] as *mut libc::sockaddr_storage).cast();
            m.msg_hdr.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            m.msg_hdr.msg_iov = &mut h.iovs[i];
            m.msg_hdr.msg_iovlen = 1;
            m.msg_hdr.msg_control = std::ptr::null_mut();
            m.msg_hdr.msg_controllen = 0;
            m.msg_hdr.msg_flags = 0;
        }
        // SAFETY: the first `max` headers point at iovecs, buffers (SLOT bytes each, inside
        // `data`) and address storage that stay borrowed for the whole call.
        let rc = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                h.msgs.as_mut_ptr(),
                max as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        let n = match errno_result(rc) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
            Err(e) => return Err(e),
        };
        for i in 0..n {
            lens[i] = (h.msgs[i].msg_len as usize).min(SLOT);
            srcs[i] = from_storage(&h.addrs[i], h.msgs[i].msg_hdr.msg_namelen)
                .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
        }
        Ok(n)
    }

    pub fn send(
        socket: &UdpSocket,
        h: &mut Headers,
        data: &[u8],
        lens: &[usize],
        pending: &[Outgoing],
    ) -> io::Result<usize> {
        let n = pending.len().min(BATCH);
        for (i, o) in pending[..n].iter().enumerate() {
            h.iovs[i] = libc::iovec {
                // sendmmsg only reads through this pointer.
                iov_base: data[o.slot * SLOT..].as_ptr().cast_mut().cast(),
                iov_len: lens[o.slot],
            };
            let len = to_storage(o.dst, &mut h.addrs[i]);
            let m = &mut h.msgs[i];
            m.msg_len = 0;
            m.msg_hdr.msg_name = (&mut h.addrs[i] as *mut libc::sockaddr_storage).cast();
            m.msg_hdr.msg_namelen = len;
            m.msg_hdr.msg_iov = &mut h.iovs[i];
            m.msg_hdr.msg_iovlen = 1;
            m.msg_hdr.msg_control = std::ptr::null_mut();
            m.msg_hdr.msg_controllen = 0;
            m.msg_hdr.msg_flags = 0;
        }
        // SAFETY: the first `n` headers point at iovecs over `data` (read only by the
        // kernel) and at initialised destination addresses, all alive for the call.
        let rc = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                h.msgs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        errno_result(rc)
    }

    fn to_storage(addr: SocketAddr, out: &mut libc::sockaddr_storage) -> libc::socklen_t {
        match addr {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
                unsafe { std::ptr::write((out as *mut libc::sockaddr_storage).cast(), sin) };
                mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
                unsafe { std::ptr::write((out as *mut libc::sockaddr_storage).cast(), sin6) };
                mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t
            }
        }
    }

    fn from_storage(s: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
        let len = len as usize;
        match s.ss_family as libc::c_int {
            libc::AF_INET if len >= mem::size_of::<libc::sockaddr_in>() => {
                // SAFETY: the family says the storage holds a sockaddr_in, and it is aligned.
                let a =
                    unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
                Some(SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::from(a.sin_addr.s_addr.to_ne_bytes()),
                    u16::from_be(a.sin_port),
                )))
            }
            libc::AF_INET6 if len >= mem::size_of::<libc::sockaddr_in6>() => {
                // SAFETY: the family says the storage holds a sockaddr_in6, and it is aligned.
                let a =
                    unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(a.sin6_addr.s6_addr),
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }

    pub fn wait_readable(socket: &UdpSocket, timeout: Duration) -> io::Result<bool> {
        let mut fd = libc::pollfd {
            fd: socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // Round up so a sub-millisecond wait does not become a busy loop.
        let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
        // SAFETY: one valid pollfd, count 1.
        let rc = unsafe { libc::poll(&mut fd, 1, ms) };
        match errno_result(rc) {
            Ok(n) => Ok(n > 0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
            Err(e) => Err(e),
        }
    }
}
