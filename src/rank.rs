//! Which relay of a fleet a channel goes to: rendezvous (highest-random-weight) hashing,
//! weighted by capacity. Every matchmaker replica that knows the same relays ranks them the
//! same way for a GUID, with no state and no coordination, so both peers of a channel are
//! sent to the same relay; a relay leaving the fleet moves only the channels that ranked it
//! first, and each relay gets a share of the GUIDs proportional to its weight.
//!
//! Exactly, so other languages can do the same (all integers big-endian):
//!
//! ```text
//! h     = the first 8 bytes, as a u64, of
//!         SHA-256("udp-relay rank v1\0" | GUID (16 bytes) | relay id (u32))
//! u     = (2 * (h >> 12) + 1) / 2^53          an IEEE-754 double, exact, 0 < u < 1
//! score = -weight / ln(u)                     double arithmetic; weight 0 scores 0
//! ```
//!
//! The ranking is every relay by score, highest first; equal scores go to the smaller relay
//! id first. `-w / ln(u)` is the standard weighted rendezvous score: the relay ranked first
//! is relay `i` with probability `w_i / sum(w)`. A relay of weight 0 is ranked after every
//! relay of positive weight. Relay ids are 1 or more and unique in one call.
//!
//! Every step is exact but the natural logarithm. A `ln` correctly rounded in IEEE double
//! precision (glibc's, and the C library's under Rust, Mono and CPython on Linux) gives the
//! vectors of `tests/vectors/rank-v1.txt` bit for bit; a `ln` off by one unit in the last
//! place can only swap two relays whose scores agree to about 15 significant digits.

use std::collections::HashSet;
use std::fmt;

use sha2::{Digest, Sha256};

use crate::protocol::Guid;

/// Domain string prefixed to the hash input.
const DOMAIN: &[u8] = b"udp-relay rank v1\0";

/// One relay to rank: its id and its weight (its capacity, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RankEntry {
    /// 1 or more, unique in one ranking.
    pub relay_id: u32,
    /// Share of the GUIDs this relay should get, relative to the others'; 0 ranks it last.
    pub weight: u32,
}

/// Why relays cannot be ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RankError {
    /// Relay id 0 names no relay.
    ZeroRelayId,
    /// The same relay id appears twice.
    DuplicateRelayId(u32),
}

impl fmt::Display for RankError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RankError::ZeroRelayId => f.write_str("relay id 0 names no relay (ids are 1 or more)"),
            RankError::DuplicateRelayId(id) => write!(f, "relay id {id} appears twice"),
        }
    }
}

impl std::error::Error for RankError {}

/// `h`: the first 8 bytes of SHA-256 over the domain string, the GUID and the relay id.
pub fn hash(guid: Guid, relay_id: u32) -> u64 {
    let digest = Sha256::new()
        .chain_update(DOMAIN)
        .chain_update(guid.0.to_be_bytes())
        .chain_update(relay_id.to_be_bytes())
        .finalize();
    u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// `u`: the hash mapped exactly into the open interval (0, 1).
pub fn unit(guid: Guid, relay_id: u32) -> f64 {
    // Below 2^53, so the integer is exact as a double, and the power of two scales exactly.
    let odd = 2 * (hash(guid, relay_id) >> 12) + 1;
    odd as f64 / (1u64 << 53) as f64
}

/// The relay's score for `guid`: `-weight / ln(u)`, 0 for weight 0.
pub fn score(guid: Guid, entry: RankEntry) -> f64 {
    if entry.weight == 0 {
        return 0.0;
    }
    -f64::from(entry.weight) / unit(guid, entry.relay_id).ln()
}

/// Every relay's id, best first for `guid`.
pub fn rank(guid: Guid, relays: &[RankEntry]) -> Result<Vec<u32>, RankError> {
    let mut seen = HashSet::with_capacity(relays.len());
    for r in relays {
        if r.relay_id == 0 {
            return Err(RankError::ZeroRelayId);
        }
        if !seen.insert(r.relay_id) {
            return Err(RankError::DuplicateRelayId(r.relay_id));
        }
    }
    let mut scored: Vec<(f64, u32)> = relays
        .iter()
        .map(|&r| (score(guid, r), r.relay_id))
        .collect();
    // Scores are finite and never NaN (u is in (0, 1), so ln(u) is finite and negative).
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(scored.into_iter().map(|(_, id)| id).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::test_fixtures::GUID;

    fn entry(relay_id: u32, weight: u32) -> RankEntry {
        RankEntry { relay_id, weight }
    }

    // Computed independently with Python 3:
    //   d = hashlib.sha256(b"udp-relay rank v1\0" + bytes.fromhex(
    //       "0123456789abcdeffedcba9876543210") + struct.pack(">I", 1)).digest()
    //   h = struct.unpack(">Q", d[:8])[0]
    //   u = (2 * (h >> 12) + 1) / 2**53;  score = -1000 / math.log(u)
    const HASH_1: u64 = 0xc35d_a9e1_397b_f008;
    const SCORE_1_W1000: f64 = 3699.546919877303;

    #[test]
    fn hash_unit_and_score_as_documented() {
        assert_eq!(hash(GUID, 1), HASH_1);
        let u = unit(GUID, 1);
        assert_eq!(u, (2 * (HASH_1 >> 12) + 1) as f64 / 2f64.powi(53));
        assert!(u > 0.0 && u < 1.0);
        assert_eq!(score(GUID, entry(1, 1000)), -1000.0 / u.ln());
        assert_eq!(score(GUID, entry(1, 1000)), SCORE_1_W1000);
        assert_eq!(score(GUID, entry(1, 0)), 0.0);
    }

    #[test]
    fn ranks_by_score_then_id_and_refuses_bad_ids() {
        let relays = [
            entry(1, 10),
            entry(2, 10),
            entry(3, 10),
            entry(4, 0),
            entry(5, 0),
        ];
        let order = rank(GUID, &relays).unwrap();
        let mut by_hand: Vec<(f64, u32)> = relays
            .iter()
            .map(|&r| (score(GUID, r), r.relay_id))
            .collect();
        by_hand.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap().then(a.1.cmp(&b.1)));
        assert_eq!(order, by_hand.iter().map(|p| p.1).collect::<Vec<_>>());
        assert_eq!(&order[3..], [4, 5], "weight 0 last, by id");
        assert_eq!(rank(GUID, &[]), Ok(vec![]));
        assert_eq!(rank(GUID, &[entry(0, 1)]), Err(RankError::ZeroRelayId));
        assert_eq!(
            rank(GUID, &[entry(7, 1), entry(8, 1), entry(7, 2)]),
            Err(RankError::DuplicateRelayId(7))
        );
    }
}
