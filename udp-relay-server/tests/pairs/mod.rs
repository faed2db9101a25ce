//! The fleet test's parts (`tests/fleet_pairs.rs`): the relay processes ([`relays`]), pairs
//! of clients driven from one thread ([`driver`]) and the datagrams they exchange
//! ([`wire`]), and the matchmaker ([`matchmaker`]) with its probes of the fleet ([`watch`]).

pub mod driver;
pub mod matchmaker;
pub mod relays;
pub mod watch;
mod wire;

/// The fleet's key, which every relay holds and the matchmaker mints with.
pub const KEY: &[u8] = b"the key of the fleet of the pairs";
pub const KEY_ID: u32 = 9;
