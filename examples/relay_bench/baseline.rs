//! The naive baseline: the straightforward relay every figure is compared with. One blocking
//! `recv_from` and one `send_to` per datagram, channels in std `HashMap`s keyed by GUID and by
//! address, and idle channels found by scanning the whole table every 1.8 s. Same handshake
//! rules (v0.8, HMAC when keyed), same socket buffers as the relay under test.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use udp_relay::net;
use udp_relay::protocol::{self, Guid, HandshakeKey};

use crate::target::Published;

const SCAN_EVERY: Duration = Duration::from_millis(1800);

struct Channel {
    a: SocketAddr,
    b: Option<SocketAddr>,
    last_seen: Instant,
}

pub fn run(socket: UdpSocket, key: Option<Vec<u8>>, timeout: Duration, shared: Arc<Published>) {
    let key = key.as_deref().map(HandshakeKey::new);
    socket.set_nonblocking(false).expect("blocking socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .expect("read timeout");
    let mut by_guid: HashMap<Guid, Channel> = HashMap::new();
    let mut by_addr: HashMap<SocketAddr, Guid> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    let mut last_scan = Instant::now();
    let (mut relayed, mut established) = (0u64, 0u64);
    while !shared.stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now.duration_since(last_scan) >= SCAN_EVERY {
            last_scan = now;
            by_guid.retain(|_, ch| {
                let keep = now.duration_since(ch.last_seen) < timeout;
                if !keep {
                    by_addr.remove(&ch.a);
                    if let Some(b) = ch.b {
                        by_addr.remove(&b);
                    }
                }
                keep
            });
            shared
                .channels_open
                .store(by_guid.len() as u64, Ordering::Relaxed);
        }
        let (len, src) = match socket.recv_from(&mut buf) {
            Ok((len, src)) => (len, net::normalize(src)),
            Err(_) => continue,
        };
        let datagram = &buf[..len];
        if let Some(guid) = by_addr.get(&src) {
            let ch = by_guid.get_mut(guid).expect("indexed channel");
            ch.last_seen = now;
            let dst = if ch.a == src { ch.b } else { Some(ch.a) };
            if let Some(dst) = dst {
                if socket.send_to(datagram, dst).is_ok() {
                    relayed += 1;
                    shared.datagrams_out.store(relayed, Ordering::Relaxed);
                }
            }
            continue;
        }
        let Ok(hs) = protocol::parse_handshake(datagram, key.as_ref()) else {
            continue;
        };
        match by_guid.get_mut(&hs.guid) {
            None => {
                by_guid.insert(
                    hs.guid,
                    Channel {
                        a: src,
                        b: None,
                        last_seen: now,
                    },
                );
                by_addr.insert(src, hs.guid);
            }
            Some(ch) if ch.b.is_none() => {
                ch.b = Some(src);
                ch.last_seen = now;
                by_addr.insert(src, hs.guid);
                if socket.send_to(datagram, ch.a).is_ok() {
                    relayed += 1;
                    shared.datagrams_out.store(relayed, Ordering::Relaxed);
                }
                established += 1;
                shared.established.store(established, Ordering::Relaxed);
            }
            Some(_) => {} // third address: refused
        }
    }
}
