//! Which address holds each token seat of each channel, and the highest sequence the relay has
//! seen for it: what lets a fresh token handshake from a new address move a seat (NAT
//! rebinding) while any copy of a handshake the relay has seen is a replay. The token format
//! and its checks are in [`crate::token`].

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::protocol::Guid;
use crate::token::TokenClaim;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seat {
    addr: SocketAddr,
    sequence: u64,
}

/// What a verified token handshake from an address outside the channel may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeatDecision {
    /// The seat is free: join (or allocate) normally.
    Take,
    /// The seat's holder moved to this address (fresh sequence): move it from `old`.
    Rebind { old: SocketAddr },
    /// The seat is held and the sequence is not fresh, or the address holds the other seat.
    Replay,
}

/// Which address holds each token seat of each channel, and the highest sequence seen.
/// Entries exist only for channels entered with a token and go when the channel closes, so
/// the book is bounded by the channel table.
#[derive(Debug, Default)]
pub struct SeatBook {
    seats: HashMap<Guid, [Option<Seat>; 2]>,
}

impl SeatBook {
    pub fn decide(&self, guid: Guid, claim: &TokenClaim, addr: SocketAddr) -> SeatDecision {
        let Some(seats) = self.seats.get(&guid) else {
            return SeatDecision::Take;
        };
        let other = seats[1 - claim.role.index()];
        if other.is_some_and(|s| s.addr == addr) {
            return SeatDecision::Replay;
        }
        match seats[claim.role.index()] {
            None => SeatDecision::Take,
            Some(s) if s.addr == addr => SeatDecision::Take,
            Some(s) if claim.sequence > s.sequence => SeatDecision::Rebind { old: s.addr },
            Some(_) => SeatDecision::Replay,
        }
    }

    /// Records that `addr` holds the claimed seat.
    pub fn seat(&mut self, guid: Guid, claim: &TokenClaim, addr: SocketAddr) {
        let seats = self.seats.entry(guid).or_default();
        let seq = seats[claim.role.index()].map_or(0, |s| s.sequence);
        seats[claim.role.index()] = Some(Seat {
            addr,
            sequence: seq.max(claim.sequence),
        });
    }

    /// A member re-sent its token handshake: remember its sequence, so that a copy of this
    /// datagram (its partner receives it) can never be used to take the seat elsewhere.
    /// Returns false if the claim is not for the seat `addr` holds.
    pub fn note(&mut self, guid: Guid, claim: &TokenClaim, addr: SocketAddr) -> bool {
        match self
            .seats
            .get_mut(&guid)
            .and_then(|s| s[claim.role.index()].as_mut())
        {
            Some(seat) if seat.addr == addr => {
                seat.sequence = seat.sequence.max(claim.sequence);
                true
            }
            _ => false,
        }
    }

    /// Whether `guid` has token seats (then members' token handshakes are checked).
    pub fn has(&self, guid: Guid) -> bool {
        self.seats.contains_key(&guid)
    }

    /// The channel closed.
    pub fn remove(&mut self, guid: Guid) {
        self.seats.remove(&guid);
        if self.seats.is_empty() && self.seats.capacity() > 1024 {
            self.seats = HashMap::new();
        }
    }

    pub fn len(&self) -> usize {
        self.seats.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.seats.is_empty()
    }

    /// Gives back the memory of seats that are gone (after a mass expiry).
    pub fn shrink_to_fit(&mut self) {
        self.seats.shrink_to_fit();
    }

    /// Channels the book has room for without growing.
    pub fn capacity(&self) -> usize {
        self.seats.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_fixtures::GUID;
    use crate::token::Role;
    const EXPIRY: u64 = 1_900_000_000;

    #[test]
    fn seat_book_takes_once_rebinds_on_fresh_sequence_refuses_replays() {
        let mut book = SeatBook::default();
        let x: SocketAddr = "192.0.2.1:1000".parse().unwrap();
        let y: SocketAddr = "192.0.2.1:2000".parse().unwrap();
        let z: SocketAddr = "198.51.100.7:3000".parse().unwrap();
        let claim = |role, sequence| TokenClaim {
            role,
            expiry_unix_secs: EXPIRY,
            sequence,
            binding: None,
        };
        assert_eq!(book.decide(GUID, &claim(Role::A, 1), x), SeatDecision::Take);
        book.seat(GUID, &claim(Role::A, 1), x);
        assert_eq!(book.decide(GUID, &claim(Role::B, 1), z), SeatDecision::Take);
        book.seat(GUID, &claim(Role::B, 1), z);
        // Replay of A's handshake (same sequence) from elsewhere.
        assert_eq!(
            book.decide(GUID, &claim(Role::A, 1), y),
            SeatDecision::Replay
        );
        // B cannot take A's seat from its own address.
        assert_eq!(
            book.decide(GUID, &claim(Role::A, 9), z),
            SeatDecision::Replay
        );
        // A re-sent handshake 5 (noted), then a copy of it from elsewhere is a replay.
        assert!(book.note(GUID, &claim(Role::A, 5), x));
        assert!(!book.note(GUID, &claim(Role::A, 6), y), "not the holder");
        assert_eq!(
            book.decide(GUID, &claim(Role::A, 5), y),
            SeatDecision::Replay
        );
        // A fresh one is A's NAT rebinding.
        assert_eq!(
            book.decide(GUID, &claim(Role::A, 6), y),
            SeatDecision::Rebind { old: x }
        );
        book.seat(GUID, &claim(Role::A, 6), y);
        assert_eq!(
            book.decide(GUID, &claim(Role::A, 6), x),
            SeatDecision::Replay
        );
        book.remove(GUID);
        assert!(book.is_empty());
    }
}
