//! The relay's settings have ranges, checked in one place (`relay::Config::validate`) that
//! `Relay::bind` runs first; and the relay's time arithmetic saturates instead of
//! overflowing, whatever time the caller reports.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use udp_relay::protocol::{Guid, write_handshake};
use udp_relay::relay::{
    Config, ConfigError, MAX_COALESCE_WINDOW, MAX_INACTIVITY_TIMEOUT, Relay, RelayCore,
};

fn loopback() -> Config {
    Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    }
}

/// A field's name and a change that puts it out of range.
type Case = (&'static str, fn(&mut Config));

#[test]
fn bind_refuses_a_setting_out_of_range_naming_it() {
    let cases: [Case; 7] = [
        ("inactivity_timeout", |c| {
            c.inactivity_timeout = Duration::from_millis(u64::MAX)
        }),
        ("inactivity_timeout", |c| {
            c.inactivity_timeout = Duration::MAX
        }),
        ("inactivity_timeout", |c| {
            // 49.7 days: a channel's last traffic is kept modulo 2^32 ms.
            c.inactivity_timeout = Duration::from_millis(1 << 32)
        }),
        ("max_expiries_per_poll", |c| c.max_expiries_per_poll = 0),
        ("max_tracked_sources", |c| c.limits.max_tracked_sources = 0),
        ("handshake_burst_per_source", |c| {
            c.limits.handshake_burst_per_source = 0
        }),
        ("coalesce_window", |c| {
            c.coalesce_window = MAX_COALESCE_WINDOW + Duration::from_micros(1)
        }),
    ];
    for (field, tune) in cases {
        let mut config = loopback();
        tune(&mut config);
        let err = Relay::bind(config).expect_err(field);
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{field}: {err}");
        let reason = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<ConfigError>())
            .unwrap_or_else(|| panic!("{field}: {err} carries no ConfigError"));
        assert_eq!(reason.field(), field, "{reason}");
    }
}

#[test]
fn time_arithmetic_saturates_at_the_end_of_the_clock() {
    let mut relay = RelayCore::new(Config {
        inactivity_timeout: MAX_INACTIVITY_TIMEOUT,
        ..Config::default()
    })
    .unwrap();
    let mut hs = [0u8; 56];
    write_handshake(&mut hs, Guid(0x7E57), 0, &[], None).unwrap();
    let src = SocketAddr::from(([127, 0, 0, 9], 4000));
    for now in [Duration::from_millis(u64::MAX - 5), Duration::MAX] {
        relay.sans_io_datagram(&hs, src, now, true);
        relay.sans_io_tick(now);
        relay.check_invariants().unwrap();
    }
    assert_eq!(relay.stats().handshakes_accepted, 2);
}
