//! The admin endpoint (`--admin-addr`): `GET /live`, `GET /ready` and `GET /metrics` over
//! HTTP, served on threads of its own from what the relay loop publishes (see
//! [`crate::state`]); the loop never waits for it.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;

use crate::faults::Fault;
use crate::http::{self, BadRequest, Request, Response};
use crate::metrics;
use crate::state::Shared;

/// `/live` is 200 while the relay loop ticked within this long. The loop ticks at least every
/// 100 ms when idle.
pub const LIVE_WITHIN: Duration = Duration::from_secs(1);
/// Connections served at once; more are closed unanswered, so a flood of connections costs
/// a bounded number of threads.
const MAX_CONNECTIONS: usize = 8;
/// Time for a client to send its whole request head.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Binds the admin address (before the relay's socket, so a taken port fails early).
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(addr)
}

/// Serves `listener` on a thread of its own until the process exits.
pub fn serve(listener: TcpListener, shared: Arc<Shared>) -> io::Result<()> {
    let registry = Arc::new(metrics::registry(Arc::clone(&shared)));
    let active = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("admin".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if active.fetch_add(1, Ordering::Relaxed) >= MAX_CONNECTIONS {
                    active.fetch_sub(1, Ordering::Relaxed);
                    log::debug!("admin: over {MAX_CONNECTIONS} connections, one closed");
                    continue;
                }
                let (shared, registry, active) = (
                    Arc::clone(&shared),
                    Arc::clone(&registry),
                    Arc::clone(&active),
                );
                let spawned =
                    std::thread::Builder::new()
                        .name("admin-conn".into())
                        .spawn(move || {
                            handle(stream, &shared, &registry);
                            active.fetch_sub(1, Ordering::Relaxed);
                        });
                if let Err(e) = spawned {
                    log::warn!("admin: cannot start a connection thread: {e}");
                }
            }
        })
        .map(drop)
}

fn handle(mut stream: TcpStream, shared: &Shared, registry: &Registry) {
    let request = http::read_request(&mut stream, Instant::now() + REQUEST_TIMEOUT);
    let (response, head_only) = match request {
        Ok(request) => (route(&request, shared, registry), request.method == "HEAD"),
        Err(BadRequest::Malformed) => (Response::text(400, "bad request\n"), false),
        Err(BadRequest::TooLarge) => (Response::text(431, "request head too large\n"), false),
        Err(BadRequest::Incomplete) => return,
    };
    if let Err(e) = http::write_response(&mut stream, &response, head_only) {
        log::debug!("admin: answering failed: {e}");
    }
}

/// The answer to a well-formed request.
pub fn route(request: &Request, shared: &Shared, registry: &Registry) -> Response {
    if shared.fault_injection && request.path.starts_with("/debug/") {
        return debug_route(request, shared);
    }
    if !matches!(request.path.as_str(), "/live" | "/ready" | "/metrics") {
        return Response::text(404, "not found: try /live, /ready or /metrics\n");
    }
    if !matches!(request.method.as_str(), "GET" | "HEAD") {
        return method_not_allowed("GET, HEAD");
    }
    match request.path.as_str() {
        "/live" => match shared.liveness(LIVE_WITHIN) {
            Ok(()) => Response::text(200, "live\n"),
            Err(_) if shared.workers.len() == 1 => {
                Response::text(503, "stalled: the relay loop has not run for over 1 s\n")
            }
            Err(worker) => Response::text(
                503,
                format!("stalled: worker {worker}'s relay loop has not run for over 1 s\n"),
            ),
        },
        "/ready" => match shared.readiness() {
            Ok(()) => Response::text(200, "ready\n"),
            Err(why) => Response::text(503, format!("{why}\n")),
        },
        _ => {
            let openmetrics = request.accept.contains("application/openmetrics-text");
            match metrics::encode(registry, openmetrics) {
                Ok(body) => Response {
                    status: 200,
                    content_type: if openmetrics {
                        metrics::OPENMETRICS_TEXT
                    } else {
                        metrics::PROMETHEUS_TEXT
                    },
                    body,
                    headers: Vec::new(),
                },
                Err(_) => Response::text(500, "encoding the metrics failed\n"),
            }
        }
    }
}

fn method_not_allowed(allow: &str) -> Response {
    let mut response = Response::text(405, "method not allowed\n");
    response.headers.push(format!("Allow: {allow}"));
    response
}

/// `POST /debug/workers/N/{stall,resume,panic}`, served only with `--debug-fault-injection`
/// (see [`crate::faults`]).
fn debug_route(request: &Request, shared: &Shared) -> Response {
    let parts: Vec<&str> = request.path.split('/').collect();
    let (worker, fault) = match parts.as_slice() {
        ["", "debug", "workers", index, action] => {
            let worker = index
                .parse::<usize>()
                .ok()
                .and_then(|i| shared.workers.get(i));
            let fault = match *action {
                "stall" => Some(Fault::Stall),
                "resume" => Some(Fault::None),
                "panic" => Some(Fault::Panic),
                _ => None,
            };
            match (worker, fault) {
                (Some(worker), Some(fault)) => (worker, fault),
                _ => {
                    return Response::text(
                        404,
                        "not found: /debug/workers/N/stall, resume or panic\n",
                    );
                }
            }
        }
        _ => return Response::text(404, "not found: /debug/workers/N/stall, resume or panic\n"),
    };
    if request.method != "POST" {
        return method_not_allowed("POST");
    }
    log::warn!(
        "debug: worker {} asked to {} through the admin endpoint",
        worker.index,
        parts[4]
    );
    if fault == Fault::None {
        worker.clear_fault(Fault::Stall);
    } else {
        worker.inject(fault);
    }
    Response::text(200, format!("worker {}: {}\n", worker.index, parts[4]))
}
