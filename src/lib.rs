//! udp-relay: pairs two game peers that cannot reach each other into a *channel* keyed by a
//! 128-bit GUID, and forwards every datagram of one to the other until the channel is idle.
//!
//! The safe core is [`protocol`] (the v0.8 handshake), [`relay`] (the single-threaded relay
//! loop), [`client`] (joining a channel, with or without a socket of its own) and [`net`]
//! (socket plumbing); [`token`] mints and checks seat tokens, and [`rank`] picks the relay of
//! a fleet for a GUID. [`ffi`] is the C ABI over them; its declarations are generated into
//! `include/udp_relay.h`.

pub mod client;
pub mod cookie;
pub mod ffi;
pub mod net;
pub mod probe;
pub mod protocol;
pub mod rank;
pub mod relay;
pub mod token;

/// The relay's admission control, at its old path.
pub use relay::admission;
