//! The relay probe: a datagram any address may send to a relay, answered without a channel,
//! for health checks and for clients measuring their round-trip time to pick a relay.
//!
//! ```text
//! probe (to the relay), 16 bytes or more:     reply (from the relay), 16 bytes:
//!  0  u32  magic 0x04B28050                    0  u32  magic 0x04B28050
//!  4  u8   version = 1                         4  u8   version = 1
//!  5  u8   kind = 0 (probe)                    5  u8   kind = 1 (reply)
//!  6  u16  reserved = 0                        6  u8   state: 0 accepting, 1 draining, 2 full
//!  8  u64  the prober's timestamp (echoed)     7  u8   reserved = 0
//!                                              8  u64  the probe's timestamp, as sent
//! ```
//!
//! The magic differs from the v0.8 handshake's, so v0.8 relays drop a probe as garbage and v0.8
//! peers never see one. The reply is never larger than the probe; probes are charged to their
//! source's handshake budget, so a flood of them costs the relay no more than a flood of
//! garbage. A probe from an address that is a channel member is that channel's data.

/// First four bytes of a probe and of its reply.
pub const PROBE_MAGIC: u32 = 0x04B2_8050;
/// Size of a probe (the smallest answered) and of a reply.
pub const PROBE_LEN: usize = 16;
const VERSION: u8 = 1;
const KIND_PROBE: u8 = 0;
const KIND_REPLY: u8 = 1;

/// What a relay says of itself in a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayState {
    /// Admitting new channels.
    Accepting = 0,
    /// Draining: open channels relay, new ones are refused.
    Draining = 1,
    /// At `max_channels`: new channels are refused until some close.
    Full = 2,
}

/// Writes a probe carrying `timestamp` (any value the prober wants back, e.g. its clock in
/// microseconds).
pub fn write_probe(timestamp: u64) -> [u8; PROBE_LEN] {
    let mut out = [0u8; PROBE_LEN];
    out[0..4].copy_from_slice(&PROBE_MAGIC.to_be_bytes());
    out[4] = VERSION;
    out[5] = KIND_PROBE;
    out[8..16].copy_from_slice(&timestamp.to_be_bytes());
    out
}

/// The timestamp of a probe, if `datagram` is one.
pub fn read_probe(datagram: &[u8]) -> Option<u64> {
    (datagram.len() >= PROBE_LEN
        && datagram[0..4] == PROBE_MAGIC.to_be_bytes()
        && datagram[4] == VERSION
        && datagram[5] == KIND_PROBE)
        .then(|| u64::from_be_bytes(datagram[8..16].try_into().expect("8 bytes")))
}

/// The reply to a probe that carried `timestamp`.
pub fn write_reply(state: RelayState, timestamp: u64) -> [u8; PROBE_LEN] {
    let mut out = [0u8; PROBE_LEN];
    out[0..4].copy_from_slice(&PROBE_MAGIC.to_be_bytes());
    out[4] = VERSION;
    out[5] = KIND_REPLY;
    out[6] = state as u8;
    out[8..16].copy_from_slice(&timestamp.to_be_bytes());
    out
}

/// The relay's state and the echoed timestamp, if `datagram` is a reply.
pub fn read_reply(datagram: &[u8]) -> Option<(RelayState, u64)> {
    if datagram.len() != PROBE_LEN
        || datagram[0..4] != PROBE_MAGIC.to_be_bytes()
        || datagram[4] != VERSION
        || datagram[5] != KIND_REPLY
    {
        return None;
    }
    let state = match datagram[6] {
        0 => RelayState::Accepting,
        1 => RelayState::Draining,
        2 => RelayState::Full,
        _ => return None,
    };
    Some((
        state,
        u64::from_be_bytes(datagram[8..16].try_into().expect("8 bytes")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_and_replies_round_trip_and_are_no_handshakes() {
        let p = write_probe(0x0102_0304_0506_0708);
        assert_eq!(read_probe(&p), Some(0x0102_0304_0506_0708));
        assert!(!crate::protocol::looks_like_handshake(&p));
        assert_eq!(read_probe(&p[..15]), None);
        let r = write_reply(RelayState::Draining, 7);
        assert_eq!(read_reply(&r), Some((RelayState::Draining, 7)));
        assert_eq!(read_probe(&r), None, "a reply is not a probe");
        assert_eq!(read_reply(&p), None, "a probe is not a reply");
        assert!(r.len() <= p.len());
    }
}
