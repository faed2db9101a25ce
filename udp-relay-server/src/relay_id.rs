//! `--relay-id-from-name`: a relay id derived from a name the orchestrator gives each relay
//! (a pod's or GameServer's name), for fleets whose relays share one template and so cannot
//! be handed consecutive ids.
//!
//! ```text
//! id = first 4 bytes, big-endian, of SHA-256("udp-relay relay id v1\0" | name); 0 becomes 1
//! ```
//!
//! Two names give the same id with probability about n² / 2³³ for n relays (1 in 17 000 for
//! 1 000 relays). A collision costs only the binding between those two: each then admits
//! the other's relay-bound tokens, as every relay did before tokens named a relay. The relay
//! publishes its id (the `relay-id` label under `--agones`, the startup log), so the
//! matchmaker reads it rather than recomputing it.

use sha2::{Digest, Sha256};

const DOMAIN: &[u8] = b"udp-relay relay id v1\0";

/// The relay id for `name` (never 0, which means "no id").
pub fn from_name(name: &str) -> u32 {
    let digest = Sha256::new()
        .chain_update(DOMAIN)
        .chain_update(name.as_bytes())
        .finalize();
    let id = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    id.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_nonzero_and_differ_by_name() {
        let a = from_name("udp-relay-7xk2p-abcde");
        assert_eq!(a, from_name("udp-relay-7xk2p-abcde"));
        assert_ne!(a, from_name("udp-relay-7xk2p-abcdf"));
        let ids: std::collections::BTreeSet<u32> = (0..1000)
            .map(|i| from_name(&format!("relay-{i}")))
            .collect();
        assert_eq!(ids.len(), 1000);
        assert!(!ids.contains(&0));
    }
}
