//! recvmmsg / sendmmsg. Headers are rebuilt before every call from the batch's own
//! buffers, so nothing self-referential outlives a call.
use super::{BATCH, Outgoing, SLOT};
use std::io;
use std::mem;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

pub struct Headers {
    msgs: Vec<libc::mmsghdr>,
    /// One per outgoing datagram: a GSO message takes one per segment.
    iovs: Vec<libc::iovec>,
    addrs: Vec<libc::sockaddr_storage>,
    /// Control messages of each outgoing message: UDP_SEGMENT for a run, the source
    /// address (IP_PKTINFO / IPV6_PKTINFO) when the caller gave one.
    ctrl: Vec<Control>,
    /// Room for the UDP_GRO and the destination-address control messages of each slot (on
    /// a dual-stack socket an IPv4 datagram comes with both IP_PKTINFO and IPV6_PKTINFO).
    ctrl_in: Vec<ControlIn>,
    /// Datagrams carried by each outgoing message (more than one for a GSO run).
    runs: [usize; BATCH],
    gso: Gso,
    /// Refusals that say GSO cannot work here, since the last GSO message that went out.
    gso_refusals: u32,
}

/// Whether runs leave as GSO messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gso {
    /// Until the first send asks the kernel whether it knows UDP_SEGMENT.
    Unknown,
    On,
    Off,
}

/// From linux/udp.h; not exported by the libc crate for every target.
const UDP_SEGMENT: libc::c_int = 103;
const UDP_GRO: libc::c_int = 104;
/// The kernel's limit on segments per GSO message (UDP_MAX_SEGMENTS).
const MAX_RUN: usize = 64;
/// Largest run in bytes: the UDP length field is 16 bits.
const MAX_RUN_BYTES: usize = 65_000;
/// After this many refusals that mean no GSO (and no GSO message sent in between), GSO is
/// given up for the socket.
const MAX_GSO_REFUSALS: u32 = 8;
/// Segments this small fit the MTU of every path: ICMP cannot make Linux lower a path's
/// MTU below 552 bytes for IPv4 (`net.ipv4.route.min_pmtu`, by default) and IPv6 requires
/// 1280, less 28 or 48 bytes of IP and UDP headers (the relay sets no IP options). A GSO
/// message of such segments refused is GSO refused, whatever the destination.
const MTU_SAFE_SEGMENT: usize = 512;

/// Room for the control messages of one datagram: a UDP_SEGMENT or UDP_GRO (16 bytes with
/// its header) and an in6_pktinfo (40), 8-aligned.
type Control = [u64; 8];
/// Room for the control messages of one received slot: UDP_GRO (16), IP_PKTINFO (32) and
/// IPV6_PKTINFO (40), with room to spare.
type ControlIn = [u64; 16];

// SAFETY: the raw pointers inside are scratch space: they are rewritten from the batch's
// own buffers before every system call and never dereferenced at any other time, so
// moving the headers to another thread between calls cannot make them dangle in use.
unsafe impl Send for Headers {}

impl Headers {
    pub fn new() -> Headers {
        Headers {
            // SAFETY: mmsghdr is plain data for which all-zero is a valid value.
            msgs: (0..BATCH).map(|_| unsafe { mem::zeroed() }).collect(),
            iovs: (0..BATCH * MAX_RUN)
                .map(|_| libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                })
                .collect(),
            // SAFETY: sockaddr_storage is plain data for which all-zero is a valid value.
            addrs: (0..BATCH).map(|_| unsafe { mem::zeroed() }).collect(),
            ctrl: vec![[0u64; 8]; BATCH],
            ctrl_in: vec![[0u64; 16]; BATCH],
            runs: [0; BATCH],
            gso: Gso::Unknown,
            gso_refusals: 0,
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

pub fn enable_gro(socket: &UdpSocket) -> bool {
    let on: libc::c_int = 1;
    // SAFETY: a valid socket and a pointer to an int that outlives the call, with its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_UDP,
            UDP_GRO,
            (&on as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    rc == 0
}

/// Asks the kernel for the destination address of every received datagram (IP_PKTINFO, and
/// IPV6_RECVPKTINFO on an IPv6 socket, whose IPv4 peers still come with IP_PKTINFO).
pub fn enable_pktinfo(socket: &UdpSocket, is_v6: bool) -> bool {
    let on: libc::c_int = 1;
    let set = |level, name| {
        // SAFETY: a valid socket and a pointer to an int that outlives the call, with its
        // size.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                level,
                name,
                (&on as *const libc::c_int).cast(),
                mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        }
    };
    let v4 = set(libc::IPPROTO_IP, libc::IP_PKTINFO) == 0;
    if is_v6 {
        set(libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO) == 0
    } else {
        v4
    }
}

pub fn recv(
    socket: &UdpSocket,
    h: &mut Headers,
    data: &mut [u8],
    lens: &mut [usize],
    segs: &mut [usize],
    srcs: &mut [SocketAddr],
    locals: &mut [Option<IpAddr>],
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
        m.msg_hdr.msg_control = h.ctrl_in[i].as_mut_ptr().cast();
        m.msg_hdr.msg_controllen = mem::size_of::<ControlIn>();
        m.msg_hdr.msg_flags = 0;
    }
    // SAFETY: the first `max` headers point at iovecs, buffers (SLOT bytes each, inside
    // `data`), address storage and control buffers that stay borrowed for the whole call.
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
        let (segment, local) = received_control(&h.msgs[i].msg_hdr);
        segs[i] = segment.filter(|&s| s > 0 && s < lens[i]).unwrap_or(lens[i]);
        locals[i] = local;
        srcs[i] = from_storage(&h.addrs[i], h.msgs[i].msg_hdr.msg_namelen)
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)));
    }
    Ok(n)
}

/// What the control messages of a received slot say: the segment size of a read GRO
/// coalesced (UDP_GRO), and the local address the datagram was sent to (IP_PKTINFO /
/// IPV6_PKTINFO, when asked for with [`enable_pktinfo`]).
fn received_control(hdr: &libc::msghdr) -> (Option<usize>, Option<IpAddr>) {
    let (mut segment, mut local) = (None, None);
    if hdr.msg_controllen == 0 {
        return (segment, local);
    }
    // SAFETY: the kernel wrote `msg_controllen` bytes of control messages at `msg_control`
    // (still borrowed); CMSG_FIRSTHDR / CMSG_NXTHDR stay inside them, and each payload is
    // read unaligned, as the type its level and type say, only when it is whole.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(hdr);
        while !c.is_null() {
            let data = libc::CMSG_DATA(c);
            // A message the buffer cut short (MSG_CTRUNC) carries less than its payload.
            let payload = ((*c).cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
            match ((*c).cmsg_level, (*c).cmsg_type) {
                (libc::SOL_UDP, UDP_GRO) if payload >= mem::size_of::<libc::c_int>() => {
                    let size = std::ptr::read_unaligned(data.cast::<libc::c_int>());
                    segment = usize::try_from(size).ok();
                }
                (libc::IPPROTO_IP, libc::IP_PKTINFO)
                    if payload >= mem::size_of::<libc::in_pktinfo>() =>
                {
                    let info = std::ptr::read_unaligned(data.cast::<libc::in_pktinfo>());
                    local = Some(IpAddr::V4(Ipv4Addr::from(
                        info.ipi_addr.s_addr.to_ne_bytes(),
                    )));
                }
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO)
                    if payload >= mem::size_of::<libc::in6_pktinfo>() =>
                {
                    let info = std::ptr::read_unaligned(data.cast::<libc::in6_pktinfo>());
                    local = Some(IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr)));
                }
                _ => {}
            }
            c = libc::CMSG_NXTHDR(hdr, c);
        }
    }
    (segment, local.map(|ip| ip.to_canonical()))
}

/// Sends the first messages of `pending` (at most one batch of messages) in one
/// sendmmsg. Returns how many datagrams went out, or the error and how many datagrams
/// the first message carried (all refused).
///
/// A GSO message the kernel refuses is sent again as its datagrams, one message each, in
/// a call of their own; only what fails then is reported. A refused message that is not
/// first in the call ends the call early (sendmmsg stops there) and comes first in the
/// next one.
pub fn send(
    socket: &UdpSocket,
    h: &mut Headers,
    data: &[u8],
    pending: &[Outgoing],
) -> Result<usize, (io::Error, usize)> {
    if h.gso == Gso::Unknown {
        h.gso = if gso_supported(socket) {
            Gso::On
        } else {
            log::info!("UDP GSO not supported by this kernel; sending datagram by datagram");
            Gso::Off
        };
    }
    let (mut pending, mut gso) = (pending, h.gso == Gso::On);
    loop {
        let msgs = build(h, data, pending, gso);
        // SAFETY: the first `msgs` headers point at iovecs over `data` (only read by the
        // kernel), initialised destination addresses and control messages, all owned
        // by `h` or borrowed for the whole call.
        let rc = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                h.msgs.as_mut_ptr(),
                msgs as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        match errno_result(rc) {
            Ok(sent) => {
                if h.gso_refusals > 0 && h.runs[..sent].iter().any(|&r| r > 1) {
                    h.gso_refusals = 0; // GSO works: what was refused was particular
                }
                return Ok(h.runs[..sent].iter().sum());
            }
            Err(e) if h.runs[0] > 1 && gso_refused(&e) => {
                // E.g. segments larger than the path MTU (a lone datagram is fragmented
                // instead), or a route without GSO: the same datagrams one by one.
                if refusal_means_no_gso(&e, pending[0].len) {
                    h.gso_refusals += 1;
                    if h.gso_refusals == MAX_GSO_REFUSALS {
                        h.gso = Gso::Off;
                        log::info!("UDP GSO refused ({e}); sending datagram by datagram");
                    }
                }
                pending = &pending[..h.runs[0]];
                gso = false;
            }
            Err(e) => return Err((e, h.runs[0])),
        }
    }
}

/// Whether the kernel knows UDP GSO (Linux 4.18 and later). Older ones answer
/// ENOPROTOOPT here, and ignore a UDP_SEGMENT control message instead of cutting a run.
fn gso_supported(socket: &UdpSocket) -> bool {
    let mut size: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: a valid socket, and an int with its length, both outliving the call.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_UDP,
            UDP_SEGMENT,
            (&mut size as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    rc == 0
}

/// The answers of a kernel that would not send a GSO message.
fn gso_refused(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMSGSIZE | libc::EIO | libc::EINVAL | libc::EOPNOTSUPP | libc::ENOPROTOOPT)
    )
}

/// Whether a GSO message of `segment`-byte datagrams refused with `e` says GSO cannot
/// work on this socket, rather than that these segments do not fit the MTU of the path
/// to their destination. Only the latter can follow from what a peer sends (the size of
/// its datagrams, or an ICMP message lowering the MTU of the path to it), so it must
/// never switch GSO off for everyone: EMSGSIZE never counts, nor does any answer to
/// segments larger than [`MTU_SAFE_SEGMENT`] (older kernels answered EINVAL to segments
/// over the MTU).
fn refusal_means_no_gso(e: &io::Error, segment: usize) -> bool {
    segment <= MTU_SAFE_SEGMENT && e.raw_os_error() != Some(libc::EMSGSIZE)
}

/// Fills the send headers for the start of `pending`, one message per datagram or per
/// run (same destination, same size, the last one possibly shorter) when `gso`, at most
/// [`BATCH`] messages; returns the number of messages.
fn build(h: &mut Headers, data: &[u8], pending: &[Outgoing], gso: bool) -> usize {
    let (mut m, mut i) = (0, 0);
    while i < pending.len() && m < BATCH {
        let first = pending[i];
        let size = first.len;
        let mut end = i + 1;
        if gso && size > 0 {
            let mut total = size;
            while end < pending.len()
                && end - i < MAX_RUN
                && pending[end].dst == first.dst
                && pending[end].from == first.from
                && pending[end].len > 0
                && pending[end].len <= size
                && total + pending[end].len <= MAX_RUN_BYTES
            {
                total += pending[end].len;
                end += 1;
                if pending[end - 1].len < size {
                    break; // only the last segment of a run may be short
                }
            }
        }
        for (k, o) in pending[i..end].iter().enumerate() {
            h.iovs[i + k] = libc::iovec {
                // sendmmsg only reads through this pointer.
                iov_base: data[o.start..].as_ptr().cast_mut().cast(),
                iov_len: o.len,
            };
        }
        let addr_len = to_storage(first.dst, &mut h.addrs[m]);
        let segment = (end - i > 1).then_some(size as u16);
        let control_len = write_control(&mut h.ctrl[m], segment, first.from, first.dst);
        let control = if control_len == 0 {
            std::ptr::null_mut()
        } else {
            h.ctrl[m].as_mut_ptr().cast()
        };
        let msg = &mut h.msgs[m];
        msg.msg_len = 0;
        msg.msg_hdr.msg_name = (&mut h.addrs[m] as *mut libc::sockaddr_storage).cast();
        msg.msg_hdr.msg_namelen = addr_len;
        msg.msg_hdr.msg_iov = &mut h.iovs[i];
        msg.msg_hdr.msg_iovlen = end - i;
        msg.msg_hdr.msg_control = control;
        msg.msg_hdr.msg_controllen = control_len;
        msg.msg_hdr.msg_flags = 0;
        h.runs[m] = end - i;
        m += 1;
        i = end;
    }
    m
}

/// Writes the control messages of one outgoing message into `buf`: UDP_SEGMENT (a run of
/// `segment`-byte datagrams) and the source address `from` (IP_PKTINFO for an IPv4 source,
/// IPV6_PKTINFO for an IPv6 one; `dst` only says which the socket needs). Returns their
/// length in bytes, 0 for none.
fn write_control(
    buf: &mut Control,
    segment: Option<u16>,
    from: Option<IpAddr>,
    dst: SocketAddr,
) -> usize {
    let mut used = 0usize;
    let base = buf.as_mut_ptr().cast::<u8>();
    // Appends one control message; `payload` bytes are written by `fill` at its data.
    let mut push =
        |level: libc::c_int, kind: libc::c_int, payload: usize, fill: &dyn Fn(*mut u8)| {
            // SAFETY: CMSG_LEN / CMSG_SPACE are arithmetic on the payload size.
            let (len, space) = unsafe {
                (
                    libc::CMSG_LEN(payload as u32) as usize,
                    libc::CMSG_SPACE(payload as u32) as usize,
                )
            };
            assert!(used + space <= mem::size_of::<Control>());
            // SAFETY: `used + space` fits the 8-aligned 64-byte buffer (asserted), and a
            // cmsghdr starts at an 8-aligned offset since every CMSG_SPACE is a multiple of 8;
            // CMSG_DATA is within that space.
            unsafe {
                let hdr = base.add(used).cast::<libc::cmsghdr>();
                (*hdr).cmsg_len = len as _;
                (*hdr).cmsg_level = level;
                (*hdr).cmsg_type = kind;
                fill(libc::CMSG_DATA(hdr));
            }
            used += space;
        };
    if let Some(size) = segment {
        push(libc::SOL_UDP, UDP_SEGMENT, 2, &|p| {
            // SAFETY: a u16 payload fits the message's data, written unaligned.
            unsafe { std::ptr::write_unaligned(p.cast::<u16>(), size) }
        });
    }
    match (from, dst) {
        (Some(IpAddr::V4(ip)), _) => {
            // ipi_spec_dst is the source to use; ifindex 0 lets routing pick the interface.
            // SAFETY: in_pktinfo is plain data for which all-zero is a valid value.
            let mut info: libc::in_pktinfo = unsafe { mem::zeroed() };
            info.ipi_spec_dst.s_addr = u32::from_ne_bytes(ip.octets());
            push(
                libc::IPPROTO_IP,
                libc::IP_PKTINFO,
                mem::size_of::<libc::in_pktinfo>(),
                &|p| {
                    // SAFETY: an in_pktinfo payload fits the message's data, written unaligned.
                    unsafe { std::ptr::write_unaligned(p.cast::<libc::in_pktinfo>(), info) }
                },
            );
        }
        (Some(IpAddr::V6(ip)), SocketAddr::V6(_)) => {
            // SAFETY: in6_pktinfo is plain data for which all-zero is a valid value.
            let mut info: libc::in6_pktinfo = unsafe { mem::zeroed() };
            info.ipi6_addr.s6_addr = ip.octets();
            push(
                libc::IPPROTO_IPV6,
                libc::IPV6_PKTINFO,
                mem::size_of::<libc::in6_pktinfo>(),
                &|p| {
                    // SAFETY: an in6_pktinfo payload fits the message's data, unaligned.
                    unsafe { std::ptr::write_unaligned(p.cast::<libc::in6_pktinfo>(), info) }
                },
            );
        }
        _ => {}
    }
    used
}

/// Sends one datagram from the local address `from` (when given): for the rare datagrams the
/// relay sends on its own (return-path challenges).
pub fn send_one(
    socket: &UdpSocket,
    bytes: &[u8],
    dst: SocketAddr,
    from: Option<IpAddr>,
) -> io::Result<()> {
    // SAFETY: sockaddr_storage is plain data for which all-zero is a valid value.
    let mut addr: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let addr_len = to_storage(dst, &mut addr);
    let mut ctrl: Control = [0; 8];
    let ctrl_len = write_control(&mut ctrl, None, from, dst);
    let mut iov = libc::iovec {
        // sendmsg only reads through this pointer.
        iov_base: bytes.as_ptr().cast_mut().cast(),
        iov_len: bytes.len(),
    };
    // SAFETY: msghdr is plain data for which all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_name = (&mut addr as *mut libc::sockaddr_storage).cast();
    msg.msg_namelen = addr_len;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if ctrl_len > 0 {
        msg.msg_control = ctrl.as_mut_ptr().cast();
        msg.msg_controllen = ctrl_len;
    }
    // SAFETY: every pointer in `msg` points at locals that outlive the call.
    let rc = unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, libc::MSG_DONTWAIT) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
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
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(a.sin_addr.s_addr.to_ne_bytes()),
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 if len >= mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: the family says the storage holds a sockaddr_in6, and it is aligned.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
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

/// Timer slack the relay asks for on a thread that pauses: the default (50 µs) would make a
/// 200 µs pause last up to 250 µs, and the pause is what every coalesced datagram waits.
const PAUSE_TIMER_SLACK_NS: libc::c_ulong = 1_000;

thread_local! {
    /// Whether this thread's timer slack was already set for pauses.
    static PAUSE_SLACK_SET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Sleeps `duration` (nanosleep, through std) with a timer slack of
/// [`PAUSE_TIMER_SLACK_NS`]. The slack is a setting of the calling thread: it is set the
/// first time the thread pauses (a thread that only polls without waiting never does) and
/// kept, so the thread's other timers fire as precisely from then on; setting it around each
/// pause instead would cost two more system calls per pause.
pub fn pause(duration: Duration) {
    if !PAUSE_SLACK_SET.get() {
        // SAFETY: PR_SET_TIMERSLACK takes the slack as an unsigned long and touches no
        // memory of ours; a failure only leaves the default slack.
        let rc = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, PAUSE_TIMER_SLACK_NS) };
        if rc != 0 {
            log::debug!(
                "cannot lower the timer slack ({}); pauses may run up to 50 us long",
                io::Error::last_os_error()
            );
        }
        PAUSE_SLACK_SET.set(true);
    }
    std::thread::sleep(duration);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(n: usize, len: usize, dst: impl Fn(usize) -> SocketAddr) -> Vec<Outgoing> {
        (0..n)
            .map(|i| Outgoing {
                start: (i % BATCH) * SLOT,
                len,
                dst: dst(i),
                from: None,
                tag: i as u64,
            })
            .collect()
    }

    #[test]
    fn one_call_takes_at_most_a_batch_of_messages_of_at_most_max_run_datagrams() {
        let data = vec![0u8; BATCH * SLOT];
        let mut h = Headers::new();
        let peer = SocketAddr::from(([127, 0, 0, 1], 9));
        // More datagrams to one peer than one call can carry, even with GSO.
        let pending = queue(3 * BATCH * MAX_RUN, 100, |_| peer);
        assert_eq!(build(&mut h, &data, &pending, true), BATCH);
        assert!(h.runs.iter().all(|&r| r == MAX_RUN));
        assert_eq!(build(&mut h, &data, &pending, false), BATCH);
        assert!(h.runs.iter().all(|&r| r == 1));
        // Every datagram to its own peer: one message each.
        let spread = queue(100, 100, |i| {
            SocketAddr::from(([127, 0, 0, 1], 1000 + i as u16))
        });
        assert_eq!(build(&mut h, &data, &spread, true), BATCH);
        assert!(h.runs.iter().all(|&r| r == 1));
    }

    #[test]
    fn only_refusals_no_datagram_size_explains_count_against_gso() {
        let answer = |errno| io::Error::from_raw_os_error(errno);
        // Segments over the path MTU: EMSGSIZE now, EINVAL from older kernels.
        assert!(!refusal_means_no_gso(&answer(libc::EMSGSIZE), 2000));
        assert!(!refusal_means_no_gso(&answer(libc::EINVAL), 2000));
        assert!(!refusal_means_no_gso(
            &answer(libc::EINVAL),
            MTU_SAFE_SEGMENT + 1
        ));
        // EMSGSIZE always speaks of the path (its MTU, which ICMP can lower), never of GSO.
        assert!(!refusal_means_no_gso(&answer(libc::EMSGSIZE), 100));
        // Small segments refused for another reason: no GSO here.
        for errno in [libc::EINVAL, libc::EIO, libc::EOPNOTSUPP, libc::ENOPROTOOPT] {
            assert!(refusal_means_no_gso(&answer(errno), 100));
            assert!(refusal_means_no_gso(&answer(errno), MTU_SAFE_SEGMENT));
        }
    }

    #[test]
    fn a_run_ends_at_a_shorter_datagram_a_longer_one_or_another_peer() {
        let data = vec![0u8; BATCH * SLOT];
        let mut h = Headers::new();
        let (p, q) = (
            SocketAddr::from(([127, 0, 0, 1], 9)),
            SocketAddr::from(([127, 0, 0, 1], 10)),
        );
        let mut pending = queue(3, 500, |_| p); // run of 3 ...
        pending.extend(queue(1, 200, |_| p)); // ... closed by a shorter last one
        pending.extend(queue(2, 300, |_| p)); // a new run of 2
        pending.extend(queue(1, 400, |_| p)); // longer: its own message
        pending.extend(queue(2, 400, |_| q)); // another peer
        let messages = build(&mut h, &data, &pending, true);
        assert_eq!(&h.runs[..messages], &[4, 2, 1, 2]);
        let sizes: Vec<usize> = (0..messages)
            .map(|m| h.msgs[m].msg_hdr.msg_iovlen)
            .collect();
        assert_eq!(sizes, vec![4, 2, 1, 2]);
        assert!(
            !h.msgs[0].msg_hdr.msg_control.is_null(),
            "a run carries UDP_SEGMENT"
        );
        assert!(
            h.msgs[2].msg_hdr.msg_control.is_null(),
            "a lone datagram does not"
        );
    }
}
