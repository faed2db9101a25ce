//! Datagrams the kernel dropped at the relay's socket because its receive buffer was full:
//! the `drops` column of `/proc/net/udp` or `/proc/net/udp6` on the line of the socket's
//! inode (Linux). The relay never sees these datagrams, so its own counters cannot.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::state::{Shared, WorkerState};

/// Stored while the count cannot be read.
pub const UNKNOWN: u64 = u64::MAX;

/// The relay's UDP socket as `/proc/net/udp*` lists it.
#[derive(Debug, Clone, Copy)]
pub struct SocketDrops {
    inode: u64,
}

const TABLES: [&str; 2] = ["/proc/net/udp6", "/proc/net/udp"];

impl SocketDrops {
    /// Finds this process's UDP socket bound to `local`'s port; `None` where `/proc` does
    /// not tell (another OS, or no such socket).
    pub fn find(local: SocketAddr) -> Option<SocketDrops> {
        let ours = own_socket_inodes();
        TABLES.iter().find_map(|table| {
            let text = std::fs::read_to_string(table).ok()?;
            text.lines().skip(1).find_map(|line| {
                let row = Row::parse(line)?;
                (row.port == local.port() && ours.contains(&row.inode))
                    .then_some(SocketDrops { inode: row.inode })
            })
        })
    }

    /// The socket's drop count now.
    pub fn read(&self) -> Option<u64> {
        read_all()
            .into_iter()
            .find(|row| row.inode == self.inode)
            .map(|row| row.drops)
    }
}

/// Points `worker`'s count at its (new) socket bound to `local`, and reads it once now, so
/// the count is there from the first scrape of /metrics. False where it cannot be counted.
pub fn attach(worker: &WorkerState, local: SocketAddr) -> bool {
    let found = SocketDrops::find(local);
    worker
        .socket_inode
        .store(found.map_or(0, |s| s.inode), Ordering::Relaxed);
    let drops = found.and_then(|s| s.read()).unwrap_or(UNKNOWN);
    worker.socket_drops.store(drops, Ordering::Relaxed);
    found.is_some()
}

/// Reads every worker's count once a second on a thread of its own (the relay loops never
/// read files), [`UNKNOWN`] for a socket that cannot be found.
pub fn watch(shared: Arc<Shared>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("socket-drops".into())
        .spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let rows = read_all();
                for worker in &shared.workers {
                    let inode = worker.socket_inode.load(Ordering::Relaxed);
                    let drops = rows
                        .iter()
                        .find(|row| inode != 0 && row.inode == inode)
                        .map_or(UNKNOWN, |row| row.drops);
                    worker.socket_drops.store(drops, Ordering::Relaxed);
                }
            }
        })
        .map(drop)
}

/// Every row of both tables.
fn read_all() -> Vec<Row> {
    TABLES
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .filter_map(Row::parse)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The fields of one `/proc/net/udp*` line this needs.
struct Row {
    port: u16,
    inode: u64,
    drops: u64,
}

impl Row {
    /// `sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout
    /// inode ref pointer drops`, the address as hex `ADDR:PORT`.
    fn parse(line: &str) -> Option<Row> {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 13 {
            return None;
        }
        let (_, port) = fields[1].rsplit_once(':')?;
        Some(Row {
            port: u16::from_str_radix(port, 16).ok()?,
            inode: fields[9].parse().ok()?,
            drops: fields[12].parse().ok()?,
        })
    }
}

/// Inodes of the sockets among this process's open files.
fn own_socket_inodes() -> Vec<u64> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let target = std::fs::read_link(entry.ok()?.path()).ok()?;
        let name = target.to_str()?;
        name.strip_prefix("socket:[")?
            .strip_suffix(']')?
            .parse()
            .ok()
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_parse() {
        let row = Row::parse(
            "11010: 0100007F:BCF4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0 \
                    0 263609 2 000000003192832e 17        ",
        )
        .unwrap();
        assert_eq!((row.port, row.inode, row.drops), (0xBCF4, 263_609, 17));
        assert!(Row::parse("  sl  local_address rem_address   st tx_queue").is_none());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn finds_its_own_socket() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let drops = SocketDrops::find(socket.local_addr().unwrap()).expect("socket in /proc");
        assert_eq!(drops.read(), Some(0));
        let other = std::net::UdpSocket::bind("[::]:0").unwrap();
        let drops = SocketDrops::find(other.local_addr().unwrap()).expect("v6 socket in /proc");
        assert_eq!(drops.read(), Some(0));
    }
}
