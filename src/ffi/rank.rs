//! `relay_rank`: which relay of a fleet a GUID goes to (rendezvous hashing weighted by
//! capacity), for matchmakers. The ranking is defined in `src/rank.rs`.

use super::error::{FfiError, guard_count};
use super::types::RelayGuid;
use crate::protocol::Guid;
use crate::rank::{self, RankEntry};

/// Most relays `relay_rank` takes in one call: 1 048 576.
pub const RELAY_RANK_MAX_RELAYS: usize = 1 << 20;

/// One relay for `relay_rank`: its id (1 or more, unique in the call) and its weight (its
/// capacity, say; 0 ranks it after every relay of positive weight).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayRankEntry {
    pub relay_id: u32,
    pub weight: u32,
}

/// Ranks the `n` relays at `relays` for the channel `guid`, best first, and writes the first
/// `out_len` relay ids of the ranking to `out_order` (all of them when `out_len >= n`);
/// returns how many it wrote. Every matchmaker that ranks the same relays (in any order)
/// gets the same ranking, so both peers of a channel are sent to the same relay; a relay
/// joining or leaving moves only the GUIDs that rank it first; each relay is ranked first
/// for a share of the GUIDs proportional to its weight. The score is
/// `-weight / ln(u)` with `u` from SHA-256 of the GUID and the relay id, ties to the smaller
/// id (the exact definition is in the library's `rank` module and the README).
///
/// `relays` may be NULL only with `n` 0 (an empty ranking: returns 0). Errors:
/// `RELAY_STATUS_NULL_ARGUMENT` (`guid`, `out_order`, or `relays` with a nonzero `n`),
/// `RELAY_STATUS_INVALID_ARGUMENT` (a relay id of 0 or twice, more than
/// `RELAY_RANK_MAX_RELAYS` relays). Added in ABI 5.
///
/// Ownership: `guid` and `relays` are only read during the call; the caller owns
/// `out_order`.
#[unsafe(no_mangle)]
pub extern "C" fn relay_rank(
    guid: *const RelayGuid,
    relays: *const RelayRankEntry,
    n: usize,
    out_order: *mut u32,
    out_len: usize,
) -> i32 {
    guard_count(|| {
        const F: &str = "relay_rank";
        if guid.is_null() {
            return Err(FfiError::null(F, "guid"));
        }
        if relays.is_null() && n > 0 {
            return Err(FfiError::new(
                super::RelayStatus::NullArgument,
                format!("{F}: relays is NULL but n is {n}"),
            ));
        }
        if out_order.is_null() {
            return Err(FfiError::null(F, "out_order"));
        }
        if n > RELAY_RANK_MAX_RELAYS {
            return Err(FfiError::invalid(format!(
                "{F}: n is {n}; at most RELAY_RANK_MAX_RELAYS ({RELAY_RANK_MAX_RELAYS}) relays"
            )));
        }
        // SAFETY: checked non-NULL; the caller passes a readable RelayGuid.
        let guid = Guid::from(unsafe { *guid });
        let relays: &[RelayRankEntry] = if n == 0 {
            &[]
        } else {
            // SAFETY: non-NULL, and the caller guarantees `n` readable entries (at most
            // RELAY_RANK_MAX_RELAYS, so their size fits an isize).
            unsafe { std::slice::from_raw_parts(relays, n) }
        };
        let entries: Vec<RankEntry> = relays
            .iter()
            .map(|r| RankEntry {
                relay_id: r.relay_id,
                weight: r.weight,
            })
            .collect();
        let order =
            rank::rank(guid, &entries).map_err(|e| FfiError::invalid(format!("{F}: {e}")))?;
        let written = order.len().min(out_len);
        if written > 0 {
            // SAFETY: non-NULL with `out_len` writable u32s, of which `written` are written.
            let out = unsafe { std::slice::from_raw_parts_mut(out_order, written) };
            out.copy_from_slice(&order[..written]);
        }
        Ok(written)
    })
}
