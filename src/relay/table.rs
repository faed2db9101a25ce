//! The channel table, laid out for a million channels in little memory: a slab of compact
//! channel records (88 bytes each) and one index (4 bytes a key, plus hashbrown's control
//! byte) that finds a channel by GUID or by either peer's address. The index stores only
//! tagged slot numbers and compares candidates against the records, so no key is stored
//! twice.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

use foldhash::quality::RandomState;
use hashbrown::HashTable;

use super::ChannelCounters;
use crate::protocol::Guid;

/// A peer address in 20 bytes (Rust's `SocketAddr` takes 32): the IPv6 address (IPv4 as
/// v4-mapped), the port, and the scope id as an index into [`ChannelTable::scopes`]. Flow
/// info is not kept: the relay normalises it to zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct PeerAddr {
    ip: [u8; 16],
    port: u16,
    scope: u16,
}

impl PeerAddr {
    /// No peer (peer B of a pending channel): no address maps to this scope index.
    pub(super) const NONE: PeerAddr = PeerAddr {
        ip: [0; 16],
        port: 0,
        scope: u16::MAX,
    };

    pub(super) fn is_none(self) -> bool {
        self.scope == u16::MAX
    }
}

/// Scope ids seen so far (interface indexes, so few). Index 0 is scope 0.
#[derive(Debug)]
struct Scopes(Vec<u32>);

impl Scopes {
    /// At most this many distinct scope ids; beyond that [`Scopes::intern`] fails.
    const MAX: usize = u16::MAX as usize;

    fn find(&self, id: u32) -> Option<u16> {
        self.0.iter().position(|&s| s == id).map(|i| i as u16)
    }

    fn intern(&mut self, id: u32) -> Option<u16> {
        if let Some(i) = self.find(id) {
            return Some(i);
        }
        if self.0.len() >= Self::MAX {
            return None;
        }
        self.0.push(id);
        Some((self.0.len() - 1) as u16)
    }
}

/// The relay's own addresses that peers sent to (a host has few). Index 0 is "not known".
#[derive(Debug, Clone)]
struct Locals(Vec<Option<IpAddr>>);

impl Locals {
    /// At most this many distinct local addresses; beyond that a new one is "not known" and
    /// replies to it leave from the address the system picks.
    const MAX: usize = 256;

    fn intern(&mut self, ip: Option<IpAddr>) -> u16 {
        let Some(ip) = ip else {
            return 0;
        };
        if let Some(i) = self.0.iter().position(|&l| l == Some(ip)) {
            return i as u16;
        }
        if self.0.len() >= Self::MAX {
            return 0;
        }
        self.0.push(Some(ip));
        (self.0.len() - 1) as u16
    }
}

/// Traffic counters of one channel in 32 bits each; a channel whose counter would overflow
/// moves to 64-bit counters in a side table (`Record::SPILLED`).
#[derive(Debug, Clone, Copy, Default)]
struct SmallCounters {
    datagrams_a_to_b: u32,
    bytes_a_to_b: u32,
    datagrams_b_to_a: u32,
    bytes_b_to_a: u32,
    dropped: u32,
}

impl SmallCounters {
    fn widen(self) -> ChannelCounters {
        ChannelCounters {
            datagrams_a_to_b: self.datagrams_a_to_b.into(),
            bytes_a_to_b: self.bytes_a_to_b.into(),
            datagrams_b_to_a: self.datagrams_b_to_a.into(),
            bytes_b_to_a: self.bytes_b_to_a.into(),
            dropped: self.dropped.into(),
        }
    }
}

/// One slot of the slab. A slot whose GUID is zero is free (a valid handshake never carries
/// the zero GUID).
#[derive(Debug, Clone, Copy)]
pub(super) struct Record {
    guid: [u8; 16],
    pub(super) peer_a: PeerAddr,
    /// [`PeerAddr::NONE`] until the channel is established.
    pub(super) peer_b: PeerAddr,
    /// Relay milliseconds of the last datagram, modulo 2^32 (see [`Record::last_seen_ms`]).
    last_seen: u32,
    /// Low 30 bits: relay seconds when allocated (34 years). High bits: flags.
    created_flags: u32,
    counters: SmallCounters,
    /// The local address each peer (A, B) sends to, as an index into
    /// [`ChannelTable::locals`]; 0 when not known. Replies to a peer leave from it.
    local: [u16; 2],
}

const _: () = assert!(std::mem::size_of::<Record>() == 88);

impl Record {
    const FREE: Record = Record {
        guid: [0; 16],
        peer_a: PeerAddr::NONE,
        peer_b: PeerAddr::NONE,
        last_seen: 0,
        created_flags: 0,
        counters: SmallCounters {
            datagrams_a_to_b: 0,
            bytes_a_to_b: 0,
            datagrams_b_to_a: 0,
            bytes_b_to_a: 0,
            dropped: 0,
        },
        local: [0; 2],
    };
    const CREATED: u32 = (1 << 30) - 1;
    /// The counters live in `ChannelTable::wide_counters`.
    const SPILLED: u32 = 1 << 30;
    /// The deadline heap holds an entry for this slot (see `super::deadlines`).
    const QUEUED: u32 = 1 << 31;

    pub(super) fn is_open(&self) -> bool {
        self.guid != [0; 16]
    }

    pub(super) fn guid(&self) -> Guid {
        Guid(u128::from_ne_bytes(self.guid))
    }

    /// Tells this channel from a later one in the same slot, for sends whose outcome is
    /// accounted after the batch (see `Forward`): the low 32 bits of the GUID.
    pub(super) fn stamp(&self) -> u32 {
        u128::from_ne_bytes(self.guid) as u32
    }

    pub(super) fn is_established(&self) -> bool {
        !self.peer_b.is_none()
    }

    pub(super) fn touch(&mut self, now_ms: u64) {
        self.last_seen = now_ms as u32;
    }

    /// The last datagram's time, from its low 32 bits: exact while the channel has been idle
    /// less than 49 days (the relay expires channels long before, as long as it is polled).
    pub(super) fn last_seen_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(u64::from((now_ms as u32).wrapping_sub(self.last_seen)))
    }

    /// Milliseconds since allocation, to the second (rounded up).
    pub(super) fn lifetime_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(u64::from(self.created_flags & Self::CREATED) * 1000)
    }

    pub(super) fn queued(&self) -> bool {
        self.created_flags & Self::QUEUED != 0
    }

    pub(super) fn set_queued(&mut self, queued: bool) {
        if queued {
            self.created_flags |= Self::QUEUED;
        } else {
            self.created_flags &= !Self::QUEUED;
        }
    }
}

/// Which key of a channel an index entry stands for, in the low two bits of the entry.
const KEY_GUID: u32 = 0;
const KEY_PEER_A: u32 = 1;
const KEY_PEER_B: u32 = 2;

/// Most slots the table can number (two bits of an index entry tag the key).
pub(super) const MAX_SLOTS: usize = 1 << 30;

/// The slab, its free list and the index. Both keys are attacker-chosen (GUIDs, source
/// addresses), so they are hashed with a hasher keyed at random per table: colliding keys
/// cannot be precomputed to flood a bucket.
#[derive(Debug)]
pub(super) struct ChannelTable {
    slots: Vec<Record>,
    free: Vec<u32>,
    index: HashTable<u32>,
    hasher: RandomState,
    scopes: Scopes,
    locals: Locals,
    /// 64-bit counters of the channels whose 32-bit ones would have overflowed.
    wide_counters: HashMap<u32, ChannelCounters>,
    open: usize,
}

impl Default for ChannelTable {
    fn default() -> Self {
        ChannelTable::with_capacity(0)
    }
}

impl ChannelTable {
    pub(super) fn with_capacity(open: usize) -> ChannelTable {
        ChannelTable {
            slots: Vec::with_capacity(open),
            free: Vec::new(),
            index: HashTable::with_capacity(open * 3),
            hasher: RandomState::default(),
            scopes: Scopes(vec![0]),
            locals: Locals(vec![None]),
            wide_counters: HashMap::new(),
            open: 0,
        }
    }

    /// Slots in the slab, free ones included.
    pub(super) fn slots(&self) -> usize {
        self.slots.len()
    }

    pub(super) fn open(&self) -> usize {
        self.open
    }

    pub(super) fn record(&self, slot: u32) -> &Record {
        &self.slots[slot as usize]
    }

    pub(super) fn record_mut(&mut self, slot: u32) -> &mut Record {
        &mut self.slots[slot as usize]
    }

    /// The open channel in `slot` if it still has `stamp`.
    pub(super) fn live_mut(&mut self, slot: u32, stamp: u32) -> Option<&mut Record> {
        self.slots
            .get_mut(slot as usize)
            .filter(|r| r.is_open() && r.stamp() == stamp)
    }

    /// Open channels with their slots, in slot order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u32, &Record)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_open())
            .map(|(i, r)| (i as u32, r))
    }

    /// `addr` in compact form, if its scope id is known (an unknown one is no member).
    pub(super) fn peer(&self, addr: SocketAddr) -> Option<PeerAddr> {
        let (ip, port, scope) = split(addr);
        Some(PeerAddr {
            ip,
            port,
            scope: self.scopes.find(scope)?,
        })
    }

    /// `addr` in compact form, noting its scope id; `None` only when the host has more than
    /// 65 534 distinct interface scopes.
    pub(super) fn intern(&mut self, addr: SocketAddr) -> Option<PeerAddr> {
        let (ip, port, scope) = split(addr);
        Some(PeerAddr {
            ip,
            port,
            scope: self.scopes.intern(scope)?,
        })
    }

    pub(super) fn addr(&self, p: PeerAddr) -> SocketAddr {
        let ip = Ipv6Addr::from(p.ip);
        match ip.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), p.port),
            None => SocketAddr::V6(SocketAddrV6::new(
                ip,
                p.port,
                0,
                self.scopes.0[usize::from(p.scope)],
            )),
        }
    }

    /// Hashes the key `which` of `slot`'s record (or of `r`): GUIDs and addresses as one
    /// u128 and at most one u32, which the hasher folds in two multiplies.
    fn hash_key(hasher: &RandomState, r: &Record, which: u32) -> u64 {
        match which {
            KEY_GUID => hasher.hash_one(u128::from_ne_bytes(r.guid)),
            KEY_PEER_A => Self::hash_addr(hasher, &r.peer_a),
            _ => Self::hash_addr(hasher, &r.peer_b),
        }
    }

    fn hash_addr(hasher: &RandomState, p: &PeerAddr) -> u64 {
        hasher.hash_one((
            u128::from_ne_bytes(p.ip),
            u32::from(p.port) | (u32::from(p.scope) << 16),
        ))
    }

    fn hash_entry(hasher: &RandomState, slots: &[Record], entry: u32) -> u64 {
        Self::hash_key(hasher, &slots[(entry >> 2) as usize], entry & 3)
    }

    fn insert_key(&mut self, slot: u32, which: u32) {
        let entry = (slot << 2) | which;
        let (slots, hasher) = (&self.slots, &self.hasher);
        let hash = Self::hash_entry(hasher, slots, entry);
        self.index
            .insert_unique(hash, entry, |&e| Self::hash_entry(hasher, slots, e));
    }

    fn remove_key(&mut self, slot: u32, which: u32) {
        let entry = (slot << 2) | which;
        let hash = Self::hash_entry(&self.hasher, &self.slots, entry);
        if let Ok(found) = self.index.find_entry(hash, |&e| e == entry) {
            found.remove();
        } else {
            debug_assert!(false, "index entry {entry} missing");
        }
    }

    pub(super) fn by_guid(&self, guid: Guid) -> Option<u32> {
        let slots = &self.slots;
        let key = guid.0.to_ne_bytes();
        self.index
            .find(self.hasher.hash_one(guid.0), |&e| {
                e & 3 == KEY_GUID && slots[(e >> 2) as usize].guid == key
            })
            .map(|&e| e >> 2)
    }

    pub(super) fn by_addr(&self, addr: PeerAddr) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(Self::hash_addr(&self.hasher, &addr), |&e| {
                let r = &slots[(e >> 2) as usize];
                match e & 3 {
                    KEY_PEER_A => r.peer_a == addr,
                    KEY_PEER_B => r.peer_b == addr,
                    _ => false,
                }
            })
            .map(|&e| e >> 2)
    }

    /// Indexes held, for the invariant checks: one per GUID and one per peer.
    pub(super) fn index_len(&self) -> usize {
        self.index.len()
    }

    /// Allocates a pending channel; returns its slot.
    pub(super) fn allocate(
        &mut self,
        guid: Guid,
        peer_a: PeerAddr,
        local_a: Option<IpAddr>,
        now_ms: u64,
    ) -> u32 {
        debug_assert!(guid != Guid::ZERO && !peer_a.is_none());
        let local_a = self.locals.intern(local_a);
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Record::FREE);
                (self.slots.len() - 1) as u32
            }
        };
        let r = &mut self.slots[slot as usize];
        *r = Record {
            guid: guid.0.to_ne_bytes(),
            peer_a,
            peer_b: PeerAddr::NONE,
            last_seen: now_ms as u32,
            created_flags: ((now_ms / 1000) as u32 & Record::CREATED)
                | (r.created_flags & Record::QUEUED),
            counters: SmallCounters::default(),
            local: [local_a, 0],
        };
        self.open += 1;
        self.insert_key(slot, KEY_GUID);
        self.insert_key(slot, KEY_PEER_A);
        slot
    }

    /// Makes `peer_b` the second peer of the pending channel in `slot`.
    pub(super) fn join(&mut self, slot: u32, peer_b: PeerAddr, local_b: Option<IpAddr>) {
        debug_assert!(!peer_b.is_none() && !self.slots[slot as usize].is_established());
        let local_b = self.locals.intern(local_b);
        let r = &mut self.slots[slot as usize];
        r.peer_b = peer_b;
        r.local[1] = local_b;
        self.insert_key(slot, KEY_PEER_B);
    }

    /// Moves the member at `old` of the channel in `slot` to `new`; false if `old` is not a
    /// member.
    pub(super) fn rebind(
        &mut self,
        slot: u32,
        old: PeerAddr,
        new: PeerAddr,
        local: Option<IpAddr>,
    ) -> bool {
        let r = &self.slots[slot as usize];
        let which = if r.peer_a == old {
            KEY_PEER_A
        } else if r.peer_b == old && !old.is_none() {
            KEY_PEER_B
        } else {
            return false;
        };
        self.remove_key(slot, which);
        let local = self.locals.intern(local);
        let r = &mut self.slots[slot as usize];
        if which == KEY_PEER_A {
            r.peer_a = new;
            r.local[0] = local;
        } else {
            r.peer_b = new;
            r.local[1] = local;
        }
        self.insert_key(slot, which);
        true
    }

    /// The local address peer A (`b` false) or B of the channel in `slot` sends to, if known.
    pub(super) fn local_of(&self, slot: u32, b: bool) -> Option<IpAddr> {
        let i = self.slots[slot as usize].local[usize::from(b)];
        self.locals.0.get(usize::from(i)).copied().flatten()
    }

    /// Frees the channel in `slot`; returns its record as it was and its counters.
    pub(super) fn remove(&mut self, slot: u32) -> (Record, ChannelCounters) {
        let counters = self.counters(slot);
        self.remove_key(slot, KEY_GUID);
        self.remove_key(slot, KEY_PEER_A);
        if self.slots[slot as usize].is_established() {
            self.remove_key(slot, KEY_PEER_B);
        }
        if self.slots[slot as usize].created_flags & Record::SPILLED != 0 {
            self.wide_counters.remove(&slot);
        }
        let r = &mut self.slots[slot as usize];
        let old = *r;
        *r = Record {
            created_flags: r.created_flags & Record::QUEUED,
            ..Record::FREE
        };
        self.free.push(slot);
        self.open -= 1;
        (old, counters)
    }

    pub(super) fn counters(&self, slot: u32) -> ChannelCounters {
        let r = &self.slots[slot as usize];
        if r.created_flags & Record::SPILLED != 0 {
            self.wide_counters[&slot]
        } else {
            r.counters.widen()
        }
    }

    /// Counts one datagram of `len` bytes forwarded in direction `a_to_b` (the hot path: two
    /// 32-bit adds unless they would overflow).
    pub(super) fn count_forwarded(&mut self, slot: u32, a_to_b: bool, len: usize) {
        let r = &mut self.slots[slot as usize];
        if r.created_flags & Record::SPILLED == 0 {
            let c = &mut r.counters;
            let (datagrams, bytes) = if a_to_b {
                (&mut c.datagrams_a_to_b, &mut c.bytes_a_to_b)
            } else {
                (&mut c.datagrams_b_to_a, &mut c.bytes_b_to_a)
            };
            let added = u32::try_from(len)
                .ok()
                .and_then(|len| Some((datagrams.checked_add(1)?, bytes.checked_add(len)?)));
            if let Some((d, b)) = added {
                (*datagrams, *bytes) = (d, b);
                return;
            }
        }
        self.update_counters(slot, |c| {
            if a_to_b {
                c.datagrams_a_to_b += 1;
                c.bytes_a_to_b += len as u64;
            } else {
                c.datagrams_b_to_a += 1;
                c.bytes_b_to_a += len as u64;
            }
        });
    }

    /// Applies `change` to the channel's counters, moving them to 64 bits if they no longer
    /// fit 32.
    pub(super) fn update_counters(&mut self, slot: u32, change: impl Fn(&mut ChannelCounters)) {
        let r = &mut self.slots[slot as usize];
        if r.created_flags & Record::SPILLED != 0 {
            if let Some(c) = self.wide_counters.get_mut(&slot) {
                change(c);
            }
            return;
        }
        let mut wide = r.counters.widen();
        change(&mut wide);
        let narrow = (|| {
            Some(SmallCounters {
                datagrams_a_to_b: wide.datagrams_a_to_b.try_into().ok()?,
                bytes_a_to_b: wide.bytes_a_to_b.try_into().ok()?,
                datagrams_b_to_a: wide.datagrams_b_to_a.try_into().ok()?,
                bytes_b_to_a: wide.bytes_b_to_a.try_into().ok()?,
                dropped: wide.dropped.try_into().ok()?,
            })
        })();
        match narrow {
            Some(n) => r.counters = n,
            None => {
                r.created_flags |= Record::SPILLED;
                self.wide_counters.insert(slot, wide);
            }
        }
    }

    /// A table holding the same channels renumbered from slot 0 and sized for them (the old
    /// slab and index go back to the allocator); `moves` receives old → new slot numbers.
    /// Every record comes out not queued.
    pub(super) fn compacted(&self, moves: &mut Vec<(u32, u32)>) -> ChannelTable {
        let mut t = ChannelTable::with_capacity(self.open);
        t.hasher = self.hasher.clone();
        t.scopes = Scopes(self.scopes.0.clone());
        t.locals = self.locals.clone();
        for (old, r) in self.iter() {
            let slot = t.slots.len() as u32;
            moves.push((old, slot));
            t.slots.push(Record {
                created_flags: r.created_flags & !Record::QUEUED,
                ..*r
            });
            t.open += 1;
            t.insert_key(slot, KEY_GUID);
            t.insert_key(slot, KEY_PEER_A);
            if r.is_established() {
                t.insert_key(slot, KEY_PEER_B);
            }
            if r.created_flags & Record::SPILLED != 0 {
                t.wide_counters.insert(slot, self.wide_counters[&old]);
            }
        }
        t
    }
}

fn split(addr: SocketAddr) -> ([u8; 16], u16, u32) {
    match addr {
        SocketAddr::V4(v4) => (v4.ip().to_ipv6_mapped().octets(), v4.port(), 0),
        SocketAddr::V6(v6) => (v6.ip().octets(), v6.port(), v6.scope_id()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_and_index_by_every_key() {
        let mut t = ChannelTable::default();
        let a: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let b: SocketAddr = "[fe80::1%7]:4001".parse().unwrap();
        let (pa, pb) = (t.intern(a).unwrap(), t.intern(b).unwrap());
        assert_eq!((t.addr(pa), t.addr(pb)), (a, b));
        let guid = Guid(42);
        let slot = t.allocate(guid, pa, None, 5_000);
        t.join(slot, pb, Some("127.0.0.2".parse().unwrap()));
        assert_eq!(
            t.local_of(slot, false),
            None,
            "A's local address was not given"
        );
        assert_eq!(t.local_of(slot, true), Some("127.0.0.2".parse().unwrap()));
        assert_eq!(t.by_guid(guid), Some(slot));
        assert_eq!(t.by_addr(pa), Some(slot));
        assert_eq!(t.by_addr(pb), Some(slot));
        let other: SocketAddr = "[fe80::1%8]:4001".parse().unwrap();
        assert_eq!(t.peer(other), None, "unknown scope");
        t.remove(slot);
        assert_eq!(
            (t.by_guid(guid), t.by_addr(pa), t.index_len()),
            (None, None, 0)
        );
    }

    #[test]
    fn counters_move_to_64_bits_before_they_overflow() {
        let mut t = ChannelTable::default();
        let pa = t.intern("127.0.0.1:4000".parse().unwrap()).unwrap();
        let slot = t.allocate(Guid(1), pa, None, 0);
        for _ in 0..3 {
            t.update_counters(slot, |c| {
                c.datagrams_a_to_b += 1;
                c.bytes_a_to_b += 2_000_000_000;
            });
        }
        let c = t.counters(slot);
        assert_eq!((c.datagrams_a_to_b, c.bytes_a_to_b), (3, 6_000_000_000));
        let mut moves = Vec::new();
        let t2 = t.compacted(&mut moves);
        assert_eq!(t2.counters(0).bytes_a_to_b, 6_000_000_000);
        let mut t = t2;
        t.remove(0);
        assert!(t.wide_counters.is_empty());
    }
}
