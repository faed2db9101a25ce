//! The ranges `include/udp_relay.h` states for `RelayConfig`'s fields are the core's
//! (`relay::Config::validate`): each field's comment says the bounds the core constants give,
//! and `relay_start` accepts both ends and refuses one past either, naming the field.

mod client_support;
use client_support::{c_relay_config_on_loopback, last_error};
use std::ptr::null_mut;

use udp_relay::ffi::*;
use udp_relay::relay::{
    MAX_CHANNELS, MAX_COALESCE_WINDOW, MAX_INACTIVITY_TIMEOUT, MAX_PER_POLL,
    MAX_SOCKET_BUFFER_BYTES, MAX_TRACKED_SOURCES,
};

/// `n` as the header writes numbers: groups of three digits separated by spaces.
fn spaced(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The comment above each field of `typedef struct RelayConfig`, with parenthetical remarks
/// left out and whitespace collapsed. A field without a comment of its own shares the one
/// above it (`recv_buffer_bytes` and `send_buffer_bytes`).
fn config_field_comments() -> Vec<(String, String)> {
    let header =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/udp_relay.h"))
            .unwrap();
    let start = header
        .find("typedef struct RelayConfig {")
        .expect("RelayConfig in the header");
    let body = &header[start..];
    let body = &body[..body.find("} RelayConfig;").expect("end of RelayConfig")];
    let mut fields = Vec::new();
    let mut comment = String::new();
    let mut last_comment = String::new();
    for line in body.lines().skip(1) {
        let line = line.trim();
        if let Some(text) = line.strip_prefix("//") {
            comment.push(' ');
            comment.push_str(text.trim());
        } else if let Some(declaration) = line.strip_suffix(';') {
            if !comment.is_empty() {
                last_comment = without_remarks(&comment);
                comment.clear();
            }
            let name = declaration.rsplit([' ', '*']).next().unwrap().to_string();
            fields.push((name, last_comment.clone()));
        }
    }
    fields
}

fn without_remarks(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A numeric field of `RelayConfig`, the range the core gives it, and how the header says
/// it.
struct Limit {
    field: &'static str,
    low: u64,
    high: u64,
    set: fn(&mut RelayConfig, u32),
}

impl Limit {
    fn stated(&self) -> String {
        if self.low == 0 && self.field.ends_with("_bytes") {
            format!("at most {}", spaced(self.high))
        } else {
            format!("{} to {}", spaced(self.low), spaced(self.high))
        }
    }
}

fn limits() -> Vec<Limit> {
    let per_poll = MAX_PER_POLL as u64;
    vec![
        Limit {
            field: "max_datagrams_per_poll",
            low: 1,
            high: per_poll,
            set: |c, v| c.max_datagrams_per_poll = v,
        },
        Limit {
            field: "max_pending_events",
            low: 0,
            high: per_poll,
            set: |c, v| c.max_pending_events = v,
        },
        Limit {
            field: "inactivity_timeout_ms",
            low: 1,
            high: MAX_INACTIVITY_TIMEOUT.as_millis() as u64,
            set: |c, v| c.inactivity_timeout_ms = v,
        },
        Limit {
            field: "max_channels",
            low: 1,
            high: MAX_CHANNELS as u64,
            set: |c, v| c.max_channels = v,
        },
        Limit {
            field: "recv_buffer_bytes",
            low: 0,
            high: MAX_SOCKET_BUFFER_BYTES as u64,
            set: |c, v| c.recv_buffer_bytes = v,
        },
        Limit {
            field: "send_buffer_bytes",
            low: 0,
            high: MAX_SOCKET_BUFFER_BYTES as u64,
            set: |c, v| c.send_buffer_bytes = v,
        },
        Limit {
            field: "max_tracked_sources",
            low: 1,
            high: MAX_TRACKED_SOURCES as u64,
            set: |c, v| c.max_tracked_sources = v,
        },
        Limit {
            field: "coalesce_window_us",
            low: 0,
            high: MAX_COALESCE_WINDOW.as_micros() as u64,
            set: |c, v| c.coalesce_window_us = v,
        },
    ]
}

#[test]
fn the_header_states_the_cores_ranges() {
    let comments = config_field_comments();
    assert!(comments.len() >= 18, "fields read: {comments:?}");
    for limit in limits() {
        let (_, comment) = comments
            .iter()
            .find(|(name, _)| name == limit.field)
            .unwrap_or_else(|| panic!("no field {} in RelayConfig", limit.field));
        let stated = limit.stated();
        assert!(
            comment.contains(&stated),
            "RelayConfig::{} should say \"{stated}\" (relay::Config::validate's range); it says: {comment}",
            limit.field
        );
    }
}

/// `relay_start` with `field` set to `value`: the status, and the relay stopped again.
fn start_with(limit: &Limit, value: u64) -> RelayStatus {
    let mut cfg = c_relay_config_on_loopback();
    (limit.set)(&mut cfg, u32::try_from(value).expect("a uint32_t field"));
    let mut relay = null_mut();
    let status = relay_start(&cfg, &mut relay);
    relay_stop(relay);
    status
}

#[test]
fn relay_start_accepts_both_ends_and_refuses_beyond() {
    for limit in limits() {
        for value in [limit.low, limit.high] {
            assert_eq!(
                start_with(&limit, value),
                RelayStatus::Ok,
                "{} = {value}: {}",
                limit.field,
                last_error()
            );
        }
        let beyond = [limit.low.checked_sub(1), Some(limit.high + 1)];
        for value in beyond.into_iter().flatten() {
            assert_eq!(
                start_with(&limit, value),
                RelayStatus::InvalidArgument,
                "{} = {value}",
                limit.field
            );
            let message = last_error();
            let core_name = limit.field.trim_end_matches("_ms").trim_end_matches("_us");
            assert!(
                message.contains(core_name),
                "{} = {value}: the message does not name it: {message}",
                limit.field
            );
        }
    }
}
