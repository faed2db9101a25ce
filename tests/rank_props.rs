//! Properties of the relay ranking (`udp_relay::rank`) that a fleet relies on: stateless
//! matchmaker replicas agree (the same relays in any order give the same ranking), a relay
//! leaving moves only the GUIDs that ranked it first (and keeps everyone else's order), and
//! each relay is ranked first for a share of the GUIDs proportional to its weight.

use std::collections::BTreeMap;

use proptest::prelude::*;
use udp_relay::protocol::Guid;
use udp_relay::rank::{RankEntry, rank};

/// A fleet of 1 to 24 relays with distinct ids and weights 0 to 10 000.
fn fleet() -> impl Strategy<Value = Vec<RankEntry>> {
    prop::collection::btree_map(1u32..=u32::MAX, 0u32..=10_000, 1..24).prop_map(|m| {
        m.into_iter()
            .map(|(relay_id, weight)| RankEntry { relay_id, weight })
            .collect()
    })
}

/// GUIDs spread over the whole space, deterministically.
fn guid(i: u64) -> Guid {
    let x = u128::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835) | 1;
    Guid(x.rotate_left(17))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn replicas_agree_whatever_order_they_list_the_relays_in(
        relays in fleet(),
        g in any::<u128>(),
        rotate in any::<prop::sample::Index>(),
    ) {
        let g = Guid(g);
        let first = rank(g, &relays).unwrap();
        prop_assert_eq!(&rank(g, &relays).unwrap(), &first, "same inputs, same order");
        let mut other = relays.clone();
        other.reverse();
        let by = rotate.index(other.len());
        other.rotate_left(by);
        prop_assert_eq!(&rank(g, &other).unwrap(), &first, "listed in another order");
        let mut ids: Vec<u32> = relays.iter().map(|r| r.relay_id).collect();
        let mut ranked = first.clone();
        ids.sort_unstable();
        ranked.sort_unstable();
        prop_assert_eq!(ranked, ids, "every relay once");
    }

    #[test]
    fn a_relay_leaving_moves_only_the_guids_that_ranked_it_first(
        relays in fleet().prop_filter("two relays or more", |r| r.len() >= 2),
        leaving in any::<prop::sample::Index>(),
        base in any::<u64>(),
    ) {
        let gone = relays[leaving.index(relays.len())].relay_id;
        let rest: Vec<RankEntry> = relays.iter().copied().filter(|r| r.relay_id != gone).collect();
        for i in 0..32 {
            let g = guid(base.wrapping_add(i));
            let before = rank(g, &relays).unwrap();
            let after = rank(g, &rest).unwrap();
            // Everyone else keeps their relative order, so only the leaver's GUIDs move.
            let without: Vec<u32> = before.iter().copied().filter(|&id| id != gone).collect();
            prop_assert_eq!(&after, &without);
            if before[0] != gone {
                prop_assert_eq!(after[0], before[0], "a GUID not on the leaver moved");
            }
        }
    }
}

#[test]
fn each_relay_is_first_for_a_share_proportional_to_its_weight() {
    // Weights 1:2:3:4 (as capacities), a relay of weight 0, and 20 000 GUIDs: the expected
    // shares are 10, 20, 30 and 40 %; the bound (2 points) is over 5 standard deviations of
    // the worst one (0.35 points), so a correct ranking does not fail it.
    let relays = [
        RankEntry {
            relay_id: 11,
            weight: 250,
        },
        RankEntry {
            relay_id: 22,
            weight: 500,
        },
        RankEntry {
            relay_id: 33,
            weight: 750,
        },
        RankEntry {
            relay_id: 44,
            weight: 1000,
        },
        RankEntry {
            relay_id: 55,
            weight: 0,
        },
    ];
    let n = 20_000u64;
    let mut first: BTreeMap<u32, u64> = BTreeMap::new();
    for i in 0..n {
        *first.entry(rank(guid(i), &relays).unwrap()[0]).or_default() += 1;
    }
    assert_eq!(first.get(&55), None, "weight 0 is never first: {first:?}");
    let total: u32 = relays.iter().map(|r| r.weight).sum();
    for r in &relays[..4] {
        let share = first[&r.relay_id] as f64 / n as f64;
        let expected = f64::from(r.weight) / f64::from(total);
        assert!(
            (share - expected).abs() < 0.02,
            "relay {} first for {:.3} of the GUIDs, expected {expected:.3}: {first:?}",
            r.relay_id,
            share
        );
    }
    // Equal weights, many relays: no relay gets much more than its share either.
    let even: Vec<RankEntry> = (1..=10)
        .map(|relay_id| RankEntry {
            relay_id,
            weight: 7,
        })
        .collect();
    let mut counts = [0u64; 11];
    for i in 0..n {
        counts[rank(guid(i + n), &even).unwrap()[0] as usize] += 1;
    }
    let (min, max) = (
        counts[1..].iter().min().unwrap(),
        counts[1..].iter().max().unwrap(),
    );
    // 2 000 expected each, standard deviation 42: between 1 700 and 2 300.
    assert!(*min > 1_700 && *max < 2_300, "{counts:?}");
}
