//! The service's logger: one line per record on stderr with a wall-clock UTC timestamp, the
//! level and the module, as text or JSON, filtered by a RUST_LOG-style spec.
//!
//! The library logs its channel events at debug (and trace) level itself; the service logs
//! each of them from the relay's event queue with its counters, so the library's lines for
//! them are left out here and every event is logged once.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::SystemTime;

use log::kv::{self, VisitSource};
use log::{Log, Metadata, Record};

use crate::cli::LogFormat;
use crate::rfc3339;

pub struct HostLogger {
    filter: env_filter::Filter,
    format: LogFormat,
}

/// Installs the logger with `spec` (e.g. `info` or `warn,udp_relay_server=debug`); the error
/// says what is wrong with the spec.
pub fn init(spec: &str, format: LogFormat) -> Result<(), String> {
    let filter = env_filter::Builder::new()
        .try_parse(spec)
        .map_err(|e| format!("bad log filter {spec:?}: {e}"))?
        .build();
    log::set_max_level(filter.filter());
    log::set_boxed_logger(Box::new(HostLogger { filter, format }))
        .map_err(|e| format!("logger: {e}"))
}

impl Log for HostLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        self.filter.enabled(metadata)
    }

    fn log(&self, record: &Record) {
        if !self.filter.matches(record) {
            return;
        }
        let message = record.args().to_string();
        if is_library_channel_event(record.target(), record.level(), &message) {
            return;
        }
        let line = render(record, &message, self.format, SystemTime::now());
        // One write per line, so lines from several threads never interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// The library's own line for a channel allocated, established or closed.
fn is_library_channel_event(target: &str, level: log::Level, message: &str) -> bool {
    if target != udp_relay::relay::CHANNEL_EVENTS_LOG_TARGET || level < log::Level::Debug {
        return false;
    }
    let Some((guid, rest)) = message
        .strip_prefix("channel ")
        .and_then(|m| m.split_once(' '))
    else {
        return false;
    };
    guid.parse::<udp_relay::protocol::Guid>().is_ok()
        && ["allocated", "established", "closed"]
            .iter()
            .any(|event| rest.starts_with(event))
}

/// One log line, newline included.
pub fn render(record: &Record, message: &str, format: LogFormat, now: SystemTime) -> String {
    let time = rfc3339::format(now);
    let mut line = String::with_capacity(96 + message.len());
    match format {
        LogFormat::Text => {
            let _ = write!(
                line,
                "{time} {:<5} {}: {message}",
                record.level(),
                record.target()
            );
            let _ = record.key_values().visit(&mut TextFields(&mut line));
        }
        LogFormat::Json => {
            line.push_str("{\"time\":");
            json_string(&mut line, &time);
            line.push_str(",\"level\":");
            json_string(&mut line, record.level().as_str());
            line.push_str(",\"module\":");
            json_string(&mut line, record.target());
            line.push_str(",\"message\":");
            json_string(&mut line, message);
            if record.key_values().count() > 0 {
                line.push_str(",\"fields\":{");
                let mut fields = JsonFields {
                    out: &mut line,
                    first: true,
                };
                let _ = record.key_values().visit(&mut fields);
                line.push('}');
            }
            line.push('}');
        }
    }
    line.push('\n');
    line
}

struct TextFields<'a>(&'a mut String);

impl<'kvs> VisitSource<'kvs> for TextFields<'_> {
    fn visit_pair(&mut self, key: kv::Key<'kvs>, value: kv::Value<'kvs>) -> Result<(), kv::Error> {
        let _ = write!(self.0, " {key}={value}");
        Ok(())
    }
}

struct JsonFields<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'kvs> VisitSource<'kvs> for JsonFields<'_> {
    fn visit_pair(&mut self, key: kv::Key<'kvs>, value: kv::Value<'kvs>) -> Result<(), kv::Error> {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        json_string(self.out, key.as_str());
        self.out.push(':');
        if let Some(n) = value.to_u64() {
            let _ = write!(self.out, "{n}");
        } else if let Some(n) = value.to_i64() {
            let _ = write!(self.out, "{n}");
        } else if let Some(b) = value.to_bool() {
            let _ = write!(self.out, "{b}");
        } else {
            json_string(self.out, &value.to_string());
        }
        Ok(())
    }
}

/// Appends `s` as a JSON string literal.
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c < ' ' || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn line(format: LogFormat, message: &str, fields: &[(&str, u64)]) -> String {
        let record = Record::builder()
            .level(log::Level::Warn)
            .target("udp_relay_server::limits")
            .args(format_args!("unused"))
            .key_values(&fields)
            .build();
        render(
            &record,
            message,
            format,
            UNIX_EPOCH + Duration::from_millis(1_700_000_000_123),
        )
    }

    #[test]
    fn text_lines() {
        assert_eq!(
            line(
                LogFormat::Text,
                "limit biting",
                &[("refused", 3), ("open", 10)]
            ),
            "2023-11-14T22:13:20.123Z WARN  udp_relay_server::limits: limit biting refused=3 open=10\n"
        );
    }

    #[test]
    fn json_lines() {
        assert_eq!(
            line(LogFormat::Json, "say \"hi\"\n\u{1}", &[("n", 1)]),
            "{\"time\":\"2023-11-14T22:13:20.123Z\",\"level\":\"WARN\",\
             \"module\":\"udp_relay_server::limits\",\"message\":\"say \\\"hi\\\"\\n\\u0001\",\
             \"fields\":{\"n\":1}}\n"
        );
        let plain = line(LogFormat::Json, "x", &[]);
        assert!(!plain.contains("fields"), "{plain}");
    }

    #[test]
    fn library_channel_lines_are_recognised() {
        let guid = "01234567-89ab-cdef-fedc-ba9876543210";
        let debug = log::Level::Debug;
        for m in [
            format!("channel {guid} allocated by 127.0.0.1:5"),
            format!("channel {guid} established: a <-> b (56 B handshake)"),
            format!("channel {guid} closed (Expired) after 1s: .."),
        ] {
            assert!(
                is_library_channel_event(udp_relay::relay::CHANNEL_EVENTS_LOG_TARGET, debug, &m),
                "{m}"
            );
            assert!(is_library_channel_event(
                udp_relay::relay::CHANNEL_EVENTS_LOG_TARGET,
                log::Level::Trace,
                &m
            ));
            assert!(!is_library_channel_event(
                "udp_relay_server::events",
                debug,
                &m
            ));
            assert!(!is_library_channel_event(
                udp_relay::relay::CHANNEL_EVENTS_LOG_TARGET,
                log::Level::Info,
                &m
            ));
        }
        for m in [
            "channel table shrunk to 3 open channels".to_string(),
            format!("channel {guid}: seat A moved from a to b"),
        ] {
            assert!(
                !is_library_channel_event(udp_relay::relay::CHANNEL_EVENTS_LOG_TARGET, debug, &m),
                "{m}"
            );
        }
    }
}
