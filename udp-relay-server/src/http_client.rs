//! Just enough of an HTTP/1.1 client for `udp-relay health` and the Agones SDK: one request
//! on a fresh connection (`Connection: close`), the whole exchange bounded by one timeout
//! (connect, send and the answer, however slowly it trickles in), the answer read to its end
//! and at most [`MAX_ANSWER`] bytes of it kept.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Bytes of an answer read at most; the rest is not read.
pub const MAX_ANSWER: usize = 64 * 1024;

/// An answer: its status code and body (lossily as UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// Sends `method path` to `addr` with `body` as JSON (none for `None`), and reads the answer,
/// giving up after `timeout` in all.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    timeout: Duration,
) -> io::Result<Answer> {
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    let left = |deadline: Instant| {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"))
        } else {
            Ok(left)
        }
    };
    stream.set_write_timeout(Some(left(deadline)?))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    head.push_str(body.unwrap_or(""));
    stream.write_all(head.as_bytes())?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        stream.set_read_timeout(Some(left(deadline)?))?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let keep = n.min(MAX_ANSWER - answer.len());
                answer.extend_from_slice(&buf[..keep]);
                if answer.len() == MAX_ANSWER {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    parse_answer(&answer)
}

/// The status and body of an answer as read.
fn parse_answer(answer: &[u8]) -> io::Result<Answer> {
    let answer = String::from_utf8_lossy(answer);
    let status = answer
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::other("not an HTTP answer"))?;
    let body = answer
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok(Answer { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn answers_parse() {
        assert_eq!(
            parse_answer(b"HTTP/1.1 503 Service Unavailable\r\nA: b\r\n\r\ndraining\n").unwrap(),
            Answer {
                status: 503,
                body: "draining\n".into()
            }
        );
        assert_eq!(
            parse_answer(b"HTTP/1.0 200 OK\r\n\r\n").unwrap().status,
            200
        );
        for bad in [&b""[..], b"SSH-2.0", b"HTTP/1.1 2x0 OK\r\n\r\n"] {
            assert!(parse_answer(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_request_and_a_silent_server() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let served = std::thread::spawn(move || {
            let (mut conn, _) = server.accept().unwrap();
            let mut request = vec![0u8; 1024];
            let mut got = 0;
            while !request[..got].ends_with(b"{\"a\":1}") {
                got += conn.read(&mut request[got..]).unwrap();
            }
            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                .unwrap();
            drop(conn);
            let request = String::from_utf8_lossy(&request[..got]).into_owned();
            // A second connection is accepted and never answered.
            let (silent, _) = server.accept().unwrap();
            (request, silent)
        });
        let answer = request(
            addr,
            "PATCH",
            "/x",
            Some("{\"a\":1}"),
            Duration::from_secs(5),
        );
        assert_eq!(
            answer.unwrap(),
            Answer {
                status: 200,
                body: "{}".into()
            }
        );
        let started = Instant::now();
        let stalled = request(addr, "POST", "/y", Some("{}"), Duration::from_millis(300));
        assert!(stalled.is_err());
        assert!(started.elapsed() < Duration::from_secs(3));
        let (request, _silent) = served.join().unwrap();
        assert!(
            request.starts_with("PATCH /x HTTP/1.1\r\n")
                && request.contains("Content-Type: application/json\r\nContent-Length: 7\r\n"),
            "{request}"
        );
    }
}
