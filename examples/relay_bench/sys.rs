//! Linux plumbing of the load generator: CPU pinning, per-thread CPU clocks and context
//! switches, RSS, the kernel's per-socket drop counters, receive timestamps, and batched sends
//! that pick their IPv4 source address per datagram (IP_PKTINFO), so one socket speaks for any
//! number of loopback peers (127.16.0.0 upwards; the whole of 127.0.0.0/8 is local on Linux).

use std::collections::HashMap;
use std::io;
use std::mem;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::thread::JoinHandleExt;
use std::thread::JoinHandle;
use std::time::Duration;

/// First address handed to generated peers.
const PEER_BASE: u32 = u32::from_be_bytes([127, 16, 0, 0]);
/// Peers available from PEER_BASE to 127.255.255.254.
pub const MAX_PEERS: u32 = u32::from_be_bytes([127, 255, 255, 254]) - PEER_BASE;
const SOL_UDP: libc::c_int = 17;
/// From linux/udp.h (not exported by the libc crate for every target).
pub const UDP_SEGMENT: libc::c_int = 103;
pub const UDP_GRO: libc::c_int = 104;
/// From asm-generic/socket.h (x86-64 and aarch64 alike); with a 64-bit time_t the control
/// message carries a plain timespec.
const SO_TIMESTAMPNS: libc::c_int = 35;

/// The loopback address of generated peer `i`.
pub fn peer_ip(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(PEER_BASE + (i % MAX_PEERS))
}

/// Pins the calling thread to one CPU.
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; zeroed is the empty set, CPU_SET writes inside it.
    let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
    // SAFETY: `set` is a valid cpu_set_t and CPU_SET checks the index against its size.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 is the calling thread; the pointer and size describe `set`.
    let rc = unsafe { libc::sched_setaffinity(0, mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A clock measuring the CPU time of one thread (user + system).
#[derive(Clone, Copy, Debug)]
pub struct CpuClock(libc::clockid_t);

impl CpuClock {
    pub fn of<T>(thread: &JoinHandle<T>) -> io::Result<CpuClock> {
        let mut id: libc::clockid_t = 0;
        // SAFETY: the pthread_t comes from a live JoinHandle (not yet joined); `id` is written.
        let rc = unsafe { libc::pthread_getcpuclockid(thread.as_pthread_t(), &mut id) };
        if rc == 0 {
            Ok(CpuClock(id))
        } else {
            Err(io::Error::from_raw_os_error(rc))
        }
    }

    pub fn now(self) -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid timespec to write; an invalid clock only returns an error.
        if unsafe { libc::clock_gettime(self.0, &mut ts) } != 0 {
            return Duration::ZERO;
        }
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }
}

/// The kernel's id of the calling thread (its directory under /proc/self/task).
pub fn own_tid() -> u32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() as u32 }
}

/// Lets the calling thread's timed sleeps end within 1 µs of when they were asked to (the
/// default slack of 50 µs would blur a schedule finer than that).
pub fn tighten_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument (nanoseconds) and touches no memory.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong, 0, 0, 0);
    }
}

/// Context switches of one thread so far, (voluntary, involuntary), from its
/// /proc/<pid>/task/<tid>/status: a voluntary one is the thread going to sleep (so each is
/// followed by a wake-up), an involuntary one is the thread being preempted.
pub fn thread_ctx_switches(pid: Option<u32>, tid: u32) -> Option<(u64, u64)> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/task/{tid}/status"),
        None => format!("/proc/self/task/{tid}/status"),
    };
    ctx_switches_in(&std::fs::read_to_string(path).ok()?)
}

/// Context switches of every thread of a process, summed.
pub fn process_ctx_switches(pid: u32) -> Option<(u64, u64)> {
    let mut sum = (0, 0);
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let status = std::fs::read_to_string(task.ok()?.path().join("status")).ok()?;
        let (v, n) = ctx_switches_in(&status)?;
        sum = (sum.0 + v, sum.1 + n);
    }
    Some(sum)
}

/// How long one thread has waited on a run queue so far: runnable, but another task had its
/// CPU (the second field of /proc/<pid>/task/<tid>/schedstat).
pub fn thread_run_delay(pid: Option<u32>, tid: u32) -> Option<Duration> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/task/{tid}/schedstat"),
        None => format!("/proc/self/task/{tid}/schedstat"),
    };
    let text = std::fs::read_to_string(path).ok()?;
    let ns = text.split_whitespace().nth(1)?.parse::<u64>().ok()?;
    Some(Duration::from_nanos(ns))
}

fn ctx_switches_in(status: &str) -> Option<(u64, u64)> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
    };
    Some((
        field("voluntary_ctxt_switches:")?,
        field("nonvoluntary_ctxt_switches:")?,
    ))
}

/// Nanoseconds since the Unix epoch on CLOCK_REALTIME, the clock of receive timestamps.
pub fn realtime_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// CPU time (user + system) of a whole process, from /proc/<pid>/stat.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5) (utime, stime), counted from after the command name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_nanos(ticks * 1_000_000_000 / hz))
}

/// Resident set size of a process in bytes (`self` or a pid).
pub fn rss_bytes(pid: Option<u32>) -> u64 {
    let path = match pid {
        Some(p) => format!("/proc/{p}/statm"),
        None => "/proc/self/statm".to_string(),
    };
    let pages = std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    pages * page
}

/// The `drops` column of /proc/net/udp and /proc/net/udp6, summed per local port.
pub fn udp_drops_by_port() -> HashMap<u16, u64> {
    let mut drops = HashMap::new();
    for file in ["/proc/net/udp", "/proc/net/udp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(d)) = (cols.get(1), cols.last()) else {
                continue;
            };
            let port = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if let (Some(port), Ok(d)) = (port, d.parse::<u64>()) {
                *drops.entry(port).or_insert(0) += d;
            }
        }
    }
    drops
}

fn setsockopt_int(socket: &UdpSocket, level: libc::c_int, name: libc::c_int, value: libc::c_int) {
    // SAFETY: the fd is open for the socket's lifetime; the option value is a c_int.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// A generator socket: bound to 0.0.0.0 (so it receives for every generated peer address),
/// large buffers, optionally UDP_GRO so runs sent with GSO arrive as one read.
pub fn generator_socket(gro: bool) -> io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    let _ = socket.set_recv_buffer_size(16 << 20);
    let _ = socket.set_send_buffer_size(16 << 20);
    socket.bind(&SocketAddr::from(([0, 0, 0, 0], 0)).into())?;
    let socket: UdpSocket = socket.into();
    // As root, go past net.core.rmem_max so the generator's own queue is not the bottleneck.
    setsockopt_int(&socket, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, 16 << 20);
    setsockopt_int(&socket, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, 16 << 20);
    if gro {
        setsockopt_int(&socket, SOL_UDP, UDP_GRO, 1);
    }
    Ok(socket)
}

/// Has the kernel stamp every datagram `socket` receives with the time it entered the
/// receive path (SO_TIMESTAMPNS, CLOCK_REALTIME; on loopback, when the sender sent it), so a
/// reader that drains late still knows when each datagram arrived.
pub fn enable_rx_timestamps(socket: &UdpSocket) {
    setsockopt_int(socket, libc::SOL_SOCKET, SO_TIMESTAMPNS, 1);
}

fn sockaddr_v4(addr: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*addr.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// Room for an IP_PKTINFO and a UDP_SEGMENT control message.
const SEND_CTRL: usize = 64;

/// Datagrams queued for one sendmmsg, each with its own source address and optional GSO
/// segment size. Buffers are allocated once.
pub struct SendBatch {
    hdrs: Vec<libc::mmsghdr>,
    iovs: Vec<libc::iovec>,
    ctrl: Vec<[u64; SEND_CTRL / 8]>,
    ctrl_len: Vec<usize>,
    data: Vec<u8>,
    lens: Vec<usize>,
    dst: Vec<libc::sockaddr_in>,
    slot: usize,
    n: usize,
}

impl SendBatch {
    /// `cap` messages of at most `slot` bytes each.
    pub fn new(cap: usize, slot: usize) -> SendBatch {
        SendBatch {
            // SAFETY: mmsghdr is plain data; all-zero is a valid empty header.
            hdrs: (0..cap).map(|_| unsafe { mem::zeroed() }).collect(),
            iovs: vec![
                libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0
                };
                cap
            ],
            ctrl: vec![[0u64; SEND_CTRL / 8]; cap],
            ctrl_len: vec![0; cap],
            data: vec![0u8; cap * slot],
            lens: vec![0; cap],
            dst: vec![sockaddr_v4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)); cap],
            slot,
            n: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_full(&self) -> bool {
        self.n == self.hdrs.len()
    }

    /// Queues a message of `len` bytes from `src` to `dst` (cut into `segment`-byte datagrams
    /// by the kernel when `segment` is set) and returns its buffer to fill.
    pub fn push(
        &mut self,
        src: Ipv4Addr,
        dst: SocketAddrV4,
        len: usize,
        segment: Option<u16>,
    ) -> &mut [u8] {
        assert!(!self.is_full() && len <= self.slot);
        let i = self.n;
        self.n += 1;
        self.lens[i] = len;
        self.dst[i] = sockaddr_v4(dst);
        let ctrl = &mut self.ctrl[i];
        ctrl.fill(0);
        let mut used = 0;
        // Control messages are built by hand into the 8-byte aligned buffer: a cmsghdr then
        // its payload, each padded to CMSG_ALIGN (8 on 64-bit Linux).
        let bytes: &mut [u8; SEND_CTRL] = bytemuck_u64(ctrl);
        let info = libc::in_pktinfo {
            ipi_ifindex: 0,
            ipi_spec_dst: libc::in_addr {
                s_addr: u32::from(src).to_be(),
            },
            ipi_addr: libc::in_addr { s_addr: 0 },
        };
        used += put_cmsg(
            &mut bytes[used..],
            libc::IPPROTO_IP,
            libc::IP_PKTINFO,
            &info,
        );
        if let Some(seg) = segment {
            used += put_cmsg(&mut bytes[used..], SOL_UDP, UDP_SEGMENT, &seg);
        }
        self.ctrl_len[i] = used;
        &mut self.data[i * self.slot..i * self.slot + len]
    }

    /// Sends everything queued (blocking socket: waits for buffer space) and empties the batch.
    pub fn send(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        for i in 0..self.n {
            self.iovs[i] = libc::iovec {
                iov_base: self.data[i * self.slot..].as_mut_ptr().cast(),
                iov_len: self.lens[i],
            };
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_name = (&mut self.dst[i] as *mut libc::sockaddr_in).cast();
            h.msg_namelen = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h.msg_iov = &mut self.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = self.ctrl[i].as_mut_ptr().cast();
            h.msg_controllen = self.ctrl_len[i];
            h.msg_flags = 0;
        }
        let mut done = 0;
        while done < self.n {
            // SAFETY: headers [done, n) point at live iovecs, buffers, addresses and control
            // data owned by `self`, which is not touched until the call returns.
            let rc = unsafe {
                libc::sendmmsg(
                    socket.as_raw_fd(),
                    self.hdrs[done..].as_mut_ptr(),
                    (self.n - done) as libc::c_uint,
                    0,
                )
            };
            if rc < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                self.n = 0;
                return Err(e);
            }
            done += rc as usize;
        }
        self.n = 0;
        Ok(done)
    }
}

fn bytemuck_u64(words: &mut [u64; SEND_CTRL / 8]) -> &mut [u8; SEND_CTRL] {
    // SAFETY: same size, u8 has no alignment or validity requirement, the borrow is carried.
    unsafe { &mut *(words as *mut [u64; SEND_CTRL / 8]).cast::<[u8; SEND_CTRL]>() }
}

fn put_cmsg<T: Copy>(out: &mut [u8], level: libc::c_int, kind: libc::c_int, value: &T) -> usize {
    let hdr_len = mem::size_of::<libc::cmsghdr>();
    // SAFETY: CMSG_LEN / CMSG_SPACE are pure arithmetic on the payload size.
    let (len, space) = unsafe {
        (
            libc::CMSG_LEN(mem::size_of::<T>() as u32) as usize,
            libc::CMSG_SPACE(mem::size_of::<T>() as u32) as usize,
        )
    };
    assert!(out.len() >= space);
    let hdr = libc::cmsghdr {
        cmsg_len: len as _,
        cmsg_level: level,
        cmsg_type: kind,
    };
    // SAFETY: `out` has room for the header and payload (checked above); unaligned writes
    // make no assumption about the slice's alignment.
    unsafe {
        std::ptr::write_unaligned(out.as_mut_ptr().cast::<libc::cmsghdr>(), hdr);
        std::ptr::write_unaligned(out.as_mut_ptr().add(hdr_len).cast::<T>(), *value);
    }
    space
}

/// Receive buffers for recvmmsg.
pub struct RecvBatch {
    hdrs: Vec<libc::mmsghdr>,
    iovs: Vec<libc::iovec>,
    addrs: Vec<libc::sockaddr_in>,
    ctrl: Vec<[u64; RECV_CTRL / 8]>,
    data: Vec<u8>,
    slot: usize,
    n: usize,
}

/// Room for a UDP_GRO and an SCM_TIMESTAMPNS control message.
const RECV_CTRL: usize = 64;

/// One received message: payload, source, GRO segment size (0 when not coalesced), and the
/// kernel's receive timestamp in CLOCK_REALTIME nanoseconds (0 unless the socket has
/// [`enable_rx_timestamps`]).
pub struct Received<'a> {
    pub data: &'a [u8],
    pub src: SocketAddrV4,
    pub segment: usize,
    pub rx_ns: u64,
}

impl Received<'_> {
    /// How many datagrams this read holds (more than one only when GRO coalesced a run).
    pub fn datagrams(&self) -> usize {
        if self.segment == 0 || self.data.is_empty() {
            1
        } else {
            self.data.len().div_ceil(self.segment)
        }
    }
}

impl RecvBatch {
    pub fn new(cap: usize, slot: usize) -> RecvBatch {
        RecvBatch {
            // SAFETY: mmsghdr is plain data; all-zero is a valid empty header.
            hdrs: (0..cap).map(|_| unsafe { mem::zeroed() }).collect(),
            iovs: vec![
                libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0
                };
                cap
            ],
            addrs: vec![sockaddr_v4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)); cap],
            ctrl: vec![[0u64; RECV_CTRL / 8]; cap],
            data: vec![0u8; cap * slot],
            slot,
            n: 0,
        }
    }

    /// Reads what is queued without waiting; returns the number of messages (0: none).
    pub fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        let cap = self.hdrs.len();
        for i in 0..cap {
            self.iovs[i] = libc::iovec {
                iov_base: self.data[i * self.slot..].as_mut_ptr().cast(),
                iov_len: self.slot,
            };
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_in).cast();
            h.msg_namelen = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h.msg_iov = &mut self.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = self.ctrl[i].as_mut_ptr().cast();
            h.msg_controllen = RECV_CTRL;
            h.msg_flags = 0;
            self.hdrs[i].msg_len = 0;
        }
        // SAFETY: every header points at live buffers owned by `self` for the whole call.
        let rc = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                self.hdrs.as_mut_ptr(),
                cap as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            self.n = 0;
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        self.n = rc as usize;
        Ok(self.n)
    }

    pub fn get(&self, i: usize) -> Received<'_> {
        assert!(i < self.n);
        let h = &self.hdrs[i];
        let a = &self.addrs[i];
        let src = SocketAddrV4::new(
            Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
            u16::from_be(a.sin_port),
        );
        let (mut segment, mut rx_ns) = (0, 0);
        // SAFETY: the kernel filled msg_control/msg_controllen for this header; the CMSG_*
        // helpers walk only within that length.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&h.msg_hdr);
            while !c.is_null() {
                if (*c).cmsg_level == SOL_UDP && (*c).cmsg_type == UDP_GRO {
                    segment =
                        std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>()) as usize;
                } else if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == SO_TIMESTAMPNS {
                    let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                    rx_ns = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
                }
                c = libc::CMSG_NXTHDR(&h.msg_hdr, c);
            }
        }
        let len = (h.msg_len as usize).min(self.slot);
        Received {
            data: &self.data[i * self.slot..i * self.slot + len],
            src,
            segment,
            rx_ns,
        }
    }
}

/// Waits until one of `sockets` is readable or `timeout` passes.
pub fn wait_readable(sockets: &[&UdpSocket], timeout: Duration) {
    let mut fds: Vec<libc::pollfd> = sockets
        .iter()
        .map(|s| libc::pollfd {
            fd: s.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `fds` and `ts` are valid for the call; no signal mask is passed.
    unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            &ts,
            std::ptr::null(),
        );
    }
}
