//! Batched datagram I/O for the relay loop: up to [`BATCH`] datagrams per receive call and
//! per send call (`recvmmsg` / `sendmmsg` on Linux, one `recv_from` / `send_to` each
//! elsewhere). Datagrams are received into fixed buffers allocated once and forwarded from
//! those same buffers: the only copies are the kernel's.
//!
//! On Linux, consecutive datagrams of a batch going to the same peer with the same size (a
//! run, as a peer sending several datagrams per tick produces) leave in one UDP GSO message
//! (`UDP_SEGMENT`): the kernel's send path runs once for the run and cuts it into the same
//! datagrams. Where the kernel refuses such a message (its datagrams do not fit the path's
//! MTU, which GSO requires and a lone datagram does not, or the route cannot do GSO), the same
//! datagrams are sent one by one, so a datagram goes out in a run whenever it would alone.
//! GSO is only given up for the socket on refusals no datagram size can cause (see
//! `linux::refusal_means_no_gso`), so no peer's traffic can switch it off for the others.
//!
//! The receive side is the mirror image: with UDP GRO enabled on the socket
//! ([`enable_gro`]), back-to-back datagrams of one sender can arrive coalesced in one slot
//! (same size, the last one possibly shorter, their size in a `UDP_GRO` control message).
//! Each slot is therefore a list of *segments*, every one of them a datagram as its sender
//! sent it; a run of segments forwarded to one peer leaves as one GSO message again.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

/// Datagrams per receive or send call.
pub(crate) const BATCH: usize = 32;
/// Every slot holds the largest UDP payload, so nothing is ever truncated. Pages of a slot
/// are only made resident by the kernel writing into them.
const SLOT: usize = 65_536;

/// A datagram queued for sending: `len` bytes at `start` in the batch's buffer to `dst`, with
/// a caller's `tag` that comes back if the send fails.
#[derive(Clone, Copy, Debug)]
struct Outgoing {
    start: usize,
    len: usize,
    dst: SocketAddr,
    /// The local address to send from; `None` lets the system pick. Only Linux can say
    /// (IP_PKTINFO); elsewhere the system always picks.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    from: Option<IpAddr>,
    tag: u64,
}

/// Receive slots plus the queue of sends that point into them. Sends must be flushed
/// before the next receive reuses the slots; [`DatagramBatch::recv`] enforces it.
pub struct DatagramBatch {
    data: Box<[u8]>,
    lens: [usize; BATCH],
    /// Segment size of each slot: its length, unless GRO coalesced several datagrams.
    segs: [usize; BATCH],
    srcs: [SocketAddr; BATCH],
    /// The local address each slot was sent to, when the socket reports it.
    locals: [Option<IpAddr>; BATCH],
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
            segs: [0; BATCH],
            srcs: [SocketAddr::from(([0, 0, 0, 0], 0)); BATCH],
            locals: [None; BATCH],
            received: 0,
            queue: Vec::with_capacity(BATCH),
            #[cfg(target_os = "linux")]
            sys: linux::Headers::new(),
        }
    }

    /// Receives up to `max` (at most [`BATCH`]) slots without waiting and returns how many
    /// were filled (0 when nothing is pending). Each holds one datagram, or several when GRO
    /// coalesced them: see [`DatagramBatch::segments`]. Panics if sends are still queued.
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
            &mut self.segs[..max],
            &mut self.srcs[..max],
            &mut self.locals[..max],
        )?;
        #[cfg(not(target_os = "linux"))]
        let n = portable::recv(
            socket,
            &mut self.data,
            &mut self.lens[..max],
            &mut self.srcs[..max],
        )?;
        #[cfg(not(target_os = "linux"))]
        self.segs[..n].copy_from_slice(&self.lens[..n]);
        self.received = n;
        Ok(n)
    }

    /// How many slots the last [`DatagramBatch::recv`] filled.
    #[inline]
    pub fn received(&self) -> usize {
        self.received
    }

    /// The source of slot `i` (every segment of a slot comes from the same sender).
    #[inline]
    pub fn source(&self, i: usize) -> SocketAddr {
        assert!(i < self.received);
        self.srcs[i]
    }

    /// The local address slot `i` was sent to, if the socket reports it (Linux, after
    /// [`enable_pktinfo`]).
    #[inline]
    pub fn local(&self, i: usize) -> Option<IpAddr> {
        assert!(i < self.received);
        self.locals[i]
    }

    /// How many datagrams slot `i` holds: 1, or more when GRO coalesced a run.
    #[inline]
    pub fn segments(&self, i: usize) -> usize {
        assert!(i < self.received);
        if self.segs[i] == 0 || self.lens[i] == 0 {
            1
        } else {
            self.lens[i].div_ceil(self.segs[i])
        }
    }

    /// Where datagram `k` of slot `i` lies in the buffer.
    #[inline]
    fn span(&self, i: usize, k: usize) -> (usize, usize) {
        assert!(i < self.received && k < self.segments(i));
        let seg = if self.segs[i] == 0 {
            self.lens[i]
        } else {
            self.segs[i]
        };
        let offset = k * seg;
        (i * SLOT + offset, seg.min(self.lens[i] - offset))
    }

    /// The bytes of datagram `k` of slot `i`.
    #[inline]
    pub fn datagram(&self, i: usize, k: usize) -> &[u8] {
        let (start, len) = self.span(i, k);
        &self.data[start..start + len]
    }

    /// Queues datagram `k` of slot `i` to be sent, unchanged, to `dst` (already in the
    /// socket's address family), from the local address `from` where the platform can say
    /// (Linux), or from whatever address the system picks.
    #[inline]
    pub fn queue(&mut self, i: usize, k: usize, dst: SocketAddr, from: Option<IpAddr>, tag: u64) {
        let (start, len) = self.span(i, k);
        self.queue.push(Outgoing {
            start,
            len,
            dst,
            from,
            tag,
        });
    }

    /// Sends everything queued. Returns (datagrams sent, bytes sent); for each datagram the
    /// kernel refused, `failed(tag, len, error)` is called and the rest still go out. A run
    /// the kernel will not take as one GSO message is sent again datagram by datagram first:
    /// only a datagram that fails on its own counts as refused.
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
            let result = linux::send(socket, &mut self.sys, &self.data, pending);
            #[cfg(not(target_os = "linux"))]
            let result = portable::send(socket, &self.data, pending);
            match result {
                Ok(n) => {
                    for o in &pending[..n] {
                        sent.0 += 1;
                        sent.1 += o.len as u64;
                    }
                    start += n;
                }
                Err((e, _)) if e.kind() == io::ErrorKind::Interrupted => {}
                Err((e, refused)) => {
                    // The first `refused` pending datagrams (one, or one GSO run) are the
                    // ones the kernel did not take: count them, go on with the rest.
                    for o in &pending[..refused] {
                        failed(o.tag, o.len, io::Error::new(e.kind(), e.to_string()));
                    }
                    start += refused;
                }
            }
        }
        self.queue.clear();
        sent
    }
}

/// Asks the kernel to coalesce back-to-back datagrams of one sender into one read (UDP GRO,
/// Linux 5.0 and later). Returns whether it is on; elsewhere it never is, and every slot
/// holds one datagram.
pub fn enable_gro(socket: &UdpSocket) -> bool {
    #[cfg(target_os = "linux")]
    return linux::enable_gro(socket);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = socket;
        false
    }
}

/// Asks the kernel for the local address each datagram was sent to ([`DatagramBatch::local`]),
/// so replies can leave from it on a socket bound to a wildcard address of a host with
/// several. Returns whether it is on (Linux only).
pub fn enable_pktinfo(socket: &UdpSocket, is_v6: bool) -> bool {
    #[cfg(target_os = "linux")]
    return linux::enable_pktinfo(socket, is_v6);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (socket, is_v6);
        false
    }
}

/// Sends one datagram to `dst` (in the socket's family) from the local address `from` where
/// the platform can say (Linux), outside any batch.
pub fn send_one(
    socket: &UdpSocket,
    bytes: &[u8],
    dst: SocketAddr,
    from: Option<IpAddr>,
) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    return linux::send_one(socket, bytes, dst, from);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = from;
        socket.send_to(bytes, dst).map(|_| ())
    }
}

/// Waits until `socket` is readable or `timeout` passes; returns whether it is readable.
pub fn wait_readable(socket: &UdpSocket, timeout: Duration) -> io::Result<bool> {
    #[cfg(target_os = "linux")]
    return linux::wait_readable(socket, timeout);
    #[cfg(not(target_os = "linux"))]
    return super::wait_readable(socket, timeout);
}

/// Sleeps for `duration` without looking at any socket: the relay's coalescing pause, while
/// datagrams gather. On Linux the calling thread's timer slack is lowered to 1 µs the first
/// time (see `linux::pause`), so a pause of a few hundred microseconds is not stretched by the
/// default 50 µs; elsewhere it is a plain `std::thread::sleep`.
pub fn pause(duration: Duration) {
    #[cfg(target_os = "linux")]
    linux::pause(duration);
    #[cfg(not(target_os = "linux"))]
    std::thread::sleep(duration);
}

#[cfg(not(target_os = "linux"))]
mod portable;

#[cfg(target_os = "linux")]
mod linux;
