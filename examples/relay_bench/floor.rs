//! The batched floor: forwarding with none of the relay's bookkeeping, to tell what the relay
//! itself costs from what the kernel costs. It uses the relay's own batched I/O (recvmmsg /
//! sendmmsg, GSO runs, GRO) and one std `HashMap` from a peer's address to its partner's;
//! peers are paired by the GUID of their (verified) handshakes. No admission control, no
//! counters per channel, no events, no expiry: it is a measuring stick, not a relay.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use udp_relay::net::{self, batch};
use udp_relay::protocol::{self, Guid, HandshakeKey};

use crate::target::Published;

pub fn run(socket: UdpSocket, key: Option<Vec<u8>>, shared: Arc<Published>) {
    let key = key.as_deref().map(HandshakeKey::new);
    batch::enable_gro(&socket);
    let mut partner: HashMap<SocketAddr, SocketAddr> = HashMap::new();
    let mut waiting: HashMap<Guid, SocketAddr> = HashMap::new();
    let mut io = batch::DatagramBatch::new();
    let (mut relayed, mut established) = (0u64, 0u64);
    while !shared.stop.load(Ordering::Relaxed) {
        let n = match io.recv(&socket, usize::MAX) {
            Ok(0) | Err(_) => {
                let _ = batch::wait_readable(&socket, Duration::from_millis(20));
                continue;
            }
            Ok(n) => n,
        };
        for i in 0..n {
            let src = net::normalize(io.source(i));
            for k in 0..io.segments(i) {
                if let Some(&dst) = partner.get(&src) {
                    io.queue(i, k, dst, None, 0);
                    continue;
                }
                let guid = match protocol::parse_handshake(io.datagram(i, k), key.as_ref()) {
                    Ok(hs) => hs.guid,
                    Err(_) => continue,
                };
                match waiting.get(&guid) {
                    None => {
                        waiting.insert(guid, src);
                    }
                    Some(&a) if a != src => {
                        waiting.remove(&guid);
                        partner.insert(a, src);
                        partner.insert(src, a);
                        io.queue(i, k, a, None, 0);
                        established += 1;
                        shared.established.store(established, Ordering::Relaxed);
                        shared
                            .channels_open
                            .store(partner.len() as u64 / 2, Ordering::Relaxed);
                    }
                    Some(_) => {}
                }
            }
        }
        relayed += io.flush(&socket, |_, _, _| {}).0;
        shared.datagrams_out.store(relayed, Ordering::Relaxed);
    }
}
