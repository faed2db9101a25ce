//! The handshake parsers on arbitrary bytes; the property is shared with the proptest run in
//! `cargo test` (tests/handshake_props.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/props/handshake.rs"]
mod property;

fuzz_target!(|data: &[u8]| property::check_handshake_bytes(data));
