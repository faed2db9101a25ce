//! Just enough HTTP/1.x for the admin endpoint: read one request head, bounded in size and
//! time, and write one response, then close. Anything else is a 4xx, never a panic.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A request head larger than this is refused (431).
pub const MAX_HEAD: usize = 8192;

/// The parts of a request the endpoint looks at.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path without its query string.
    pub path: String,
    /// The `Accept` header, empty if absent.
    pub accept: String,
}

/// Why a request could not be read; each maps to a status.
#[derive(Debug, PartialEq, Eq)]
pub enum BadRequest {
    /// Not a `METHOD TARGET HTTP/1.x` request line or headers: 400.
    Malformed,
    /// Head over [`MAX_HEAD`]: 431.
    TooLarge,
    /// The peer closed or stalled before a whole head arrived: no answer.
    Incomplete,
}

/// Reads a request head from `stream`, giving up at `deadline` (the whole head, so a slow
/// client cannot hold the connection by trickling bytes).
pub fn read_request(stream: &mut TcpStream, deadline: Instant) -> Result<Request, BadRequest> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    loop {
        if let Some(end) = find_head_end(&head) {
            return parse_head(&head[..end]);
        }
        if head.len() > MAX_HEAD {
            return Err(BadRequest::TooLarge);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(BadRequest::Incomplete);
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|_| BadRequest::Incomplete)?;
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return Err(BadRequest::Incomplete),
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
}

/// Index just past the blank line ending the head (CRLF CRLF, or bare LF LF).
fn find_head_end(bytes: &[u8]) -> Option<usize> {
    let crlf = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    let lf = bytes.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Parses a request head (request line and headers, up to the blank line).
pub fn parse_head(head: &[u8]) -> Result<Request, BadRequest> {
    if head.len() > MAX_HEAD {
        return Err(BadRequest::TooLarge);
    }
    let text = std::str::from_utf8(head).map_err(|_| BadRequest::Malformed)?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().ok_or(BadRequest::Malformed)?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BadRequest::Malformed);
    };
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    if !token(method) || !target.starts_with('/') || !matches!(version, "HTTP/1.0" | "HTTP/1.1") {
        return Err(BadRequest::Malformed);
    }
    let mut accept = String::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or(BadRequest::Malformed)?;
        if !token(name) {
            return Err(BadRequest::Malformed);
        }
        if name.eq_ignore_ascii_case("accept") {
            accept = value.trim().to_owned();
        }
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);
    Ok(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        accept,
    })
}

/// A response to write.
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// Extra header lines, each without its CRLF.
    pub headers: Vec<String>,
}

impl Response {
    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
            headers: Vec::new(),
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Writes `response` (its body left out for HEAD) and closes the connection.
pub fn write_response(
    stream: &mut TcpStream,
    response: &Response,
    head_only: bool,
) -> io::Result<()> {
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    );
    for header in &response.headers {
        out.push_str(header);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    if !head_only {
        out.push_str(&response.body);
    }
    stream.write_all(out.as_bytes())?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_heads() {
        let r = parse_head(
            b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: application/openmetrics-text\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            r,
            Request {
                method: "GET".into(),
                path: "/metrics".into(),
                accept: "application/openmetrics-text".into()
            }
        );
        assert_eq!(
            parse_head(b"HEAD /live HTTP/1.0\n\n").unwrap().method,
            "HEAD"
        );
        for bad in [
            &b"GET /live\r\n\r\n"[..],
            b"GET live HTTP/1.1\r\n\r\n",
            b"GET /live HTTP/2\r\n\r\n",
            b"GET  /live HTTP/1.1\r\n\r\n",
            b"G\x01T /live HTTP/1.1\r\n\r\n",
            b"GET /live HTTP/1.1\r\nno colon\r\n\r\n",
            b"GET /live HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"\xff\xfe\r\n\r\n",
            b"\r\n\r\n",
        ] {
            assert_eq!(parse_head(bad), Err(BadRequest::Malformed), "{bad:?}");
        }
        assert_eq!(parse_head(&[b'a'; MAX_HEAD + 1]), Err(BadRequest::TooLarge));
    }

    #[test]
    fn head_ends() {
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\nbody"), Some(18));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\n\n"), Some(16));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n"), None);
    }
}
