//! The datagrams the pairs exchange. Each names its pair, its direction (the sending seat),
//! its epoch (how many times the pair has moved) and its place in that direction's sequence,
//! so every datagram received is counted against exactly one sender's count.

/// A small game datagram's size.
pub const LEN: usize = 48;
/// Marks the test's datagrams apart from anything else a client might be handed.
const TAG: &[u8; 4] = b"pair";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub pair: u32,
    /// 0: sent by seat A (to B); 1: sent by seat B (to A).
    pub dir: u8,
    pub epoch: u32,
    pub seq: u64,
}

pub fn write(s: Stamp) -> [u8; LEN] {
    let mut d = [0u8; LEN];
    d[0..4].copy_from_slice(TAG);
    d[4..8].copy_from_slice(&s.pair.to_be_bytes());
    d[8] = s.dir;
    d[9..13].copy_from_slice(&s.epoch.to_be_bytes());
    d[13..21].copy_from_slice(&s.seq.to_be_bytes());
    d
}

pub fn read(d: &[u8]) -> Option<Stamp> {
    if d.len() != LEN || &d[0..4] != TAG || d[8] > 1 {
        return None;
    }
    Some(Stamp {
        pair: u32::from_be_bytes(d[4..8].try_into().ok()?),
        dir: d[8],
        epoch: u32::from_be_bytes(d[9..13].try_into().ok()?),
        seq: u64::from_be_bytes(d[13..21].try_into().ok()?),
    })
}
