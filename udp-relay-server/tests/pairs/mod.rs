//! Pairs of clients for the fleet test (`tests/fleet_pairs.rs`): a thousand or so driven from
//! one thread ([`driver`]), the datagrams they exchange ([`wire`]), and the matchmaker's
//! probes of the fleet ([`watch`]).

pub mod driver;
pub mod watch;
mod wire;
