//! The admin endpoint: /live and /ready, bad and hostile requests (answered 4xx or closed,
//! never a crash, and the relay keeps relaying), and the `health` subcommand.
#![cfg(unix)]

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{Service, command, exchange, http};
use udp_relay::protocol::Guid;

#[test]
fn live_and_ready() {
    let relay = Service::start(&["--max-channels", "1"]);
    assert_eq!(relay.get("/live"), (200, "live\n".into()));
    assert_eq!(relay.get("/ready"), (200, "ready\n".into()));
    let (status, head, body) = http(relay.admin.unwrap(), "HEAD /ready HTTP/1.0\r\n\r\n");
    assert_eq!(status, 200);
    assert!(head.contains("Content-Length: 6"), "{head}");
    assert_eq!(body, "");
    // The channel table is full with one channel: not ready for more.
    let _pair = exchange(relay.addr, Guid(7), None);
    let end = Instant::now() + Duration::from_secs(2);
    while relay.get("/ready").0 == 200 {
        assert!(Instant::now() < end, "/ready still 200 with the table full");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(relay.get("/ready"), (503, "full\n".into()));
    assert_eq!(relay.get("/live").0, 200);
}

#[test]
fn bad_requests_get_4xx_and_lose_nothing() {
    let mut relay = Service::start(&[]);
    let admin = relay.admin.unwrap();
    // A client that connects and says nothing holds one connection, not the endpoint.
    let _silent = TcpStream::connect(admin).unwrap();
    let mut trickle = TcpStream::connect(admin).unwrap();
    trickle.write_all(b"GET /li").unwrap();
    for (request, status) in [
        ("POST /metrics HTTP/1.1\r\n\r\n", 405),
        ("DELETE /live HTTP/1.1\r\n\r\n", 405),
        ("GET /nope HTTP/1.1\r\n\r\n", 404),
        ("GET / HTTP/1.1\r\n\r\n", 404),
        ("GET /metrics/../live HTTP/1.1\r\n\r\n", 404),
        ("hello\r\n\r\n", 400),
        ("GET /live HTTP/9.9\r\n\r\n", 400),
        ("GET /live HTTP/1.1\r\nno header\r\n\r\n", 400),
        ("GET \u{7f}\u{1}/live HTTP/1.1\r\n\r\n", 400),
    ] {
        let (got, head, _) = http(admin, request);
        assert_eq!(got, status, "{request:?}: {head}");
        if status == 405 {
            assert!(head.contains("Allow: GET, HEAD"), "{head}");
        }
    }
    let huge = format!(
        "GET /live HTTP/1.1\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    assert_eq!(http(admin, &huge).0, 431);
    let (status, _, _) = http(admin, "GET /live HTTP/1.1\r\n");
    assert_eq!(status, 0, "an incomplete head is closed unanswered");
    // Still relaying and answering.
    exchange(relay.addr, Guid(9), None);
    assert_eq!(relay.get("/live").0, 200);
    relay.signal("-INT");
    assert!(relay.wait_exit(Duration::from_secs(2)).success());
}

#[test]
fn health_subcommand() {
    let relay = Service::start(&["--inactivity-timeout-ms", "60000"]);
    let admin = relay.admin.unwrap().to_string();
    let health = |args: &[&str]| {
        command(&["health", "--admin-addr", &admin])
            .args(args)
            .output()
            .unwrap()
    };
    assert_eq!(health(&[]).status.code(), Some(0));
    assert_eq!(health(&["--ready"]).status.code(), Some(0));
    // A wildcard address is asked on loopback.
    let port = relay.admin.unwrap().port().to_string();
    let out = command(&["health", "--admin-addr", &format!("0.0.0.0:{port}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // Draining (a channel keeps it from stopping): live, not ready.
    let _pair = exchange(relay.addr, Guid(3), None);
    relay.signal("-TERM");
    let out = health(&["--ready"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("503 draining"),
        "{out:?}"
    );
    assert_eq!(health(&[]).status.code(), Some(0));
    // The same through a UDP probe to the relay port: it answers "draining".
    let udp = relay.addr.to_string();
    let probe = |args: &[&str]| {
        command(&["health", "--udp", &udp, "--timeout", "1s"])
            .args(args)
            .output()
            .unwrap()
    };
    // The relay loop drains at its next tick after the signal: ask until it says so.
    let end = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let out = loop {
        let out = probe(&[]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        if String::from_utf8_lossy(&out.stderr).contains("Draining")
            || std::time::Instant::now() > end
        {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Draining"),
        "{out:?}"
    );
    assert_eq!(probe(&["--ready"]).status.code(), Some(1));
    relay.signal("-INT");
    // Nothing listening: unhealthy, with the reason.
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = unused.local_addr().unwrap().to_string();
    drop(unused);
    let out = command(&["health", "--admin-addr", &addr, "--timeout", "500ms"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&addr),
        "{out:?}"
    );
    assert_eq!(
        command(&["health"]).output().unwrap().status.code(),
        Some(2)
    );
}
