//! A bounded run of the `handshake` fuzz target's property under proptest, in the normal test
//! command: arbitrary bytes, and valid handshakes (plain, keyed, with a token) with random
//! mutations, so the interesting paths are reached without coverage guidance.

use proptest::prelude::*;
use udp_relay::protocol::{Guid, HandshakeKey, write_handshake};
use udp_relay::token::{Role, TokenKey, write_handshake_with_token};

#[path = "props/handshake.rs"]
mod property;

fn seed(kind: u8, guid: u128, flags: u16, ext: &[u8]) -> Vec<u8> {
    let guid = Guid(guid.max(1));
    let mut out = vec![0u8; 56 + ext.len()];
    match kind % 3 {
        0 => {
            write_handshake(&mut out, guid, flags, ext, None).unwrap();
        }
        1 => {
            let key = HandshakeKey::new(property::SECRET);
            write_handshake(&mut out, guid, flags, ext, Some(&key)).unwrap();
        }
        _ => {
            let token = TokenKey::new(property::SECRET).mint(guid, Role::A, 2_000_000);
            out = vec![0u8; 80];
            let n = write_handshake_with_token(&mut out, &token, 7).unwrap();
            out.truncate(n);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        property::check_handshake_bytes(&data);
    }

    #[test]
    fn mutated_handshakes(
        kind in any::<u8>(),
        guid in any::<u128>(),
        flags in any::<u16>(),
        ext in proptest::collection::vec(any::<u8>(), 0..24),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        cut in any::<usize>(),
    ) {
        let mut data = seed(kind, guid, flags, &ext);
        property::check_handshake_bytes(&data);
        for (at, bits) in flips {
            let i = at % data.len();
            data[i] ^= bits;
        }
        if cut % 5 == 0 {
            data.truncate(cut % (data.len() + 1));
        }
        property::check_handshake_bytes(&data);
    }
}
