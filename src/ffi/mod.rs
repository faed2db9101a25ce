//! The C ABI. Everything here only converts types, checks arguments and maps errors onto
//! [`RelayStatus`]; the behaviour lives in the safe core (`relay`, `client`, `protocol`).
//!
//! Conventions for every `relay_*` function:
//! - pointers are checked for NULL, handles are looked up in a registry, so a stopped or
//!   never-issued handle is an error status rather than a use-after-free;
//! - outputs are written only on success;
//! - no panic unwinds into the caller: it becomes `RELAY_STATUS_PANIC`;
//! - on failure `relay_last_error()` returns a readable message for the calling thread.

// The entry points take raw pointers from C, where Rust's `unsafe fn` marker means nothing;
// each one checks what can be checked (NULL, sizes, handle liveness) and documents the rest
// of its contract in the header, and every dereference sits in a commented `unsafe` block.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

mod client;
mod client_loop;
mod error;
mod follow;
mod handle;
mod handshake;
mod log;
mod measure;
mod rank;
mod relay;
mod relay_config;
mod relay_core;
mod relay_loop;
mod relay_types;
mod token;
mod types;
mod versioned;

pub use client::*;
pub use client_loop::*;
pub use error::*;
pub use follow::*;
pub use handshake::*;
pub use log::*;
pub use measure::*;
pub use rank::*;
pub use relay::*;
pub use relay_config::*;
pub use relay_core::*;
pub use relay_loop::*;
pub use relay_types::*;
pub use token::*;
pub use types::*;
