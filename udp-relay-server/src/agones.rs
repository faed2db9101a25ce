//! `--agones`: the relay as an Agones game server, through the SDK sidecar's HTTP gateway on
//! localhost (port `AGONES_SDK_HTTP_PORT`, default 9358), from a thread of its own so the
//! relay loop never waits for the sidecar:
//!
//! - `POST /ready` once the relay's socket is bound (its port is what Agones hands out);
//! - `POST /health` every [`HEALTH_EVERY`] while the relay loop's heartbeat is fresh (it ran
//!   within [`crate::admin::LIVE_WITHIN`]): a stalled loop stops the pings, and Agones marks
//!   the GameServer Unhealthy and replaces it;
//! - `PATCH /v1beta1/counters/channels` with the open channels (and `--max-channels` as its
//!   capacity) when they change, at most once per [`COUNTER_EVERY`], for a FleetAutoscaler on
//!   that counter and for allocation by free capacity;
//! - `PUT /metadata/label` `relay-id` = the relay's `--relay-id` (once, when it has one) and
//!   `relay-accepting` = `true`/`false` whether the relay takes new channels (false while
//!   draining or full); Agones prefixes labels set through the SDK, so the GameServer carries
//!   `agones.dev/sdk-relay-id` and `agones.dev/sdk-relay-accepting`, the labels the reference
//!   matchmaker (`examples/matchmaker.rs`) reads;
//! - `POST /shutdown` once the SIGTERM drain is over ([`Reporter::shutdown`]).
//!
//! The sidecar may start after the relay, or stop answering: every call has a timeout
//! ([`CALL_TIMEOUT`]); after a failed call nothing is sent for a backoff (from
//! [`FIRST_BACKOFF`], doubling up to [`MAX_BACKOFF`]), and the outage is logged once when it
//! begins and once when it ends, never per retry.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::admin::LIVE_WITHIN;
use crate::http_client;
use crate::state::Shared;

/// The SDK gateway's port when `AGONES_SDK_HTTP_PORT` is not set.
pub const DEFAULT_HTTP_PORT: u16 = 9358;
/// The environment variable Agones sets to the gateway's port.
pub const PORT_VARIABLE: &str = "AGONES_SDK_HTTP_PORT";
/// Health pings' period while the relay loop runs (Agones' own SDKs ping every 2 s; the
/// GameServer's `health.periodSeconds` must be longer).
pub const HEALTH_EVERY: Duration = Duration::from_secs(2);
/// The channel counter is sent at most this often.
pub const COUNTER_EVERY: Duration = Duration::from_secs(1);
/// The Agones counter of open channels (declared in the Fleet's `counters`).
pub const COUNTER: &str = "channels";
/// The label saying whether the relay takes new channels.
pub const ACCEPTING_LABEL: &str = "relay-accepting";
/// The label carrying the relay's id (what its relay-bound seat tokens name).
pub const RELAY_ID_LABEL: &str = "relay-id";
/// The longest one call to the sidecar may take, connecting included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(1);
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// The longest the reporter sleeps between looks at the relay's state.
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// The SDK sidecar's HTTP gateway.
#[derive(Debug, Clone, Copy)]
pub struct Sdk {
    addr: SocketAddr,
}

impl Sdk {
    /// The gateway on localhost at `AGONES_SDK_HTTP_PORT` (default 9358); the error says what
    /// is wrong with the variable.
    pub fn from_env() -> Result<Sdk, String> {
        Sdk::from_port_variable(std::env::var(PORT_VARIABLE).ok().as_deref())
    }

    /// The gateway on localhost at the port `value` of `AGONES_SDK_HTTP_PORT` (unset: 9358).
    pub fn from_port_variable(value: Option<&str>) -> Result<Sdk, String> {
        let port = match value {
            None => DEFAULT_HTTP_PORT,
            Some(text) => match text.trim().parse::<u16>() {
                Ok(port) if port != 0 => port,
                _ => return Err(format!("{PORT_VARIABLE}={text:?} is not a port")),
            },
        };
        Ok(Sdk {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// One call; an error for a failed exchange or a status other than 2xx.
    fn call(&self, method: &str, path: &str, body: &str) -> Result<(), String> {
        match http_client::request(self.addr, method, path, Some(body), CALL_TIMEOUT) {
            Ok(answer) if (200..300).contains(&answer.status) => Ok(()),
            Ok(answer) => Err(format!(
                "{method} {path}: HTTP {} {}",
                answer.status,
                answer.body.trim()
            )),
            Err(e) => Err(format!("{method} {path}: {e}")),
        }
    }
}

/// The reporting thread; [`Reporter::shutdown`] ends it.
pub struct Reporter {
    shutdown: mpsc::Sender<Duration>,
    done: mpsc::Receiver<Result<(), String>>,
    thread: JoinHandle<()>,
}

/// Starts reporting the relay's state (see the module documentation).
pub fn start(sdk: Sdk, shared: Arc<Shared>, relay_id: u32) -> std::io::Result<Reporter> {
    let (shutdown, requests) = mpsc::channel();
    let (report_done, done) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("agones".into())
        .spawn(move || {
            let mut reporting = Reporting::new(sdk, shared, relay_id);
            let within = loop {
                let now = Instant::now();
                reporting.turn(now);
                let wait = reporting
                    .next_due(now)
                    .saturating_duration_since(Instant::now());
                match requests.recv_timeout(wait.min(LOOK_EVERY)) {
                    Ok(within) => break within,
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            };
            let _ = report_done.send(reporting.shut_down(within));
        })?;
    Ok(Reporter {
        shutdown,
        done,
        thread,
    })
}

impl Reporter {
    /// Tells Agones the game server is done (`POST /shutdown`), retrying for at most
    /// `within`; logs the outcome.
    pub fn shutdown(self, within: Duration) {
        let what = "Agones: Shutdown";
        let outcome = match self.shutdown.send(within) {
            Ok(()) => self
                .done
                .recv_timeout(within + CALL_TIMEOUT)
                .unwrap_or_else(|_| Err("no answer".into())),
            Err(_) => Err("the reporting thread has ended".into()),
        };
        match outcome {
            Ok(()) => {
                log::info!("{what} sent: Agones deletes the GameServer");
                let _ = self.thread.join();
            }
            Err(e) => log::warn!(
                "{what} not sent within {:.1}s ({e}): Agones sees the container exit",
                within.as_secs_f64()
            ),
        }
    }
}

/// An outage of the sidecar: since when, and when to try again.
struct Outage {
    since: Instant,
    backoff: Duration,
    retry_at: Instant,
}

/// What has been told to Agones, and what is due.
struct Reporting {
    sdk: Sdk,
    shared: Arc<Shared>,
    ready: bool,
    next_health: Instant,
    next_counter: Instant,
    sent_channels: Option<u64>,
    sent_accepting: Option<bool>,
    /// The relay id still to be labelled (0: none, or already sent).
    unsent_relay_id: u32,
    outage: Option<Outage>,
    stall_logged: bool,
}

impl Reporting {
    fn new(sdk: Sdk, shared: Arc<Shared>, relay_id: u32) -> Reporting {
        let now = Instant::now();
        Reporting {
            sdk,
            shared,
            ready: false,
            next_health: now,
            next_counter: now,
            sent_channels: None,
            sent_accepting: None,
            unsent_relay_id: relay_id,
            outage: None,
            stall_logged: false,
        }
    }

    /// When the next call may be due (a change of state may make one due sooner).
    fn next_due(&self, now: Instant) -> Instant {
        match &self.outage {
            Some(outage) => outage.retry_at,
            None => self.next_health.min(now + LOOK_EVERY),
        }
    }

    /// Makes the calls that are due, in order, until one fails.
    fn turn(&mut self, now: Instant) {
        if self.outage.as_ref().is_some_and(|o| now < o.retry_at) {
            return;
        }
        let _ = self.report(now);
    }

    fn report(&mut self, now: Instant) -> Result<(), ()> {
        // Labels and counter first, so the GameServer is Ready with all of them already true.
        if self.unsent_relay_id != 0 {
            let body = format!(
                "{{\"key\":\"{RELAY_ID_LABEL}\",\"value\":\"{}\"}}",
                self.unsent_relay_id
            );
            self.call(now, "PUT", "/metadata/label", &body)?;
            self.unsent_relay_id = 0;
        }
        let accepting = self.shared.readiness().is_ok();
        if self.sent_accepting != Some(accepting) {
            let body = format!("{{\"key\":\"{ACCEPTING_LABEL}\",\"value\":\"{accepting}\"}}");
            self.call(now, "PUT", "/metadata/label", &body)?;
            self.sent_accepting = Some(accepting);
        }
        let channels = self.shared.channels_open();
        if self.sent_channels != Some(channels) && now >= self.next_counter {
            self.next_counter = now + COUNTER_EVERY;
            let body = format!(
                "{{\"count\":\"{channels}\",\"capacity\":\"{}\"}}",
                self.shared.max_channels()
            );
            self.call(now, "PATCH", &format!("/v1beta1/counters/{COUNTER}"), &body)?;
            self.sent_channels = Some(channels);
        }
        if !self.ready {
            self.call(now, "POST", "/ready", "{}")?;
            self.ready = true;
            log::info!("Agones: Ready (the relay is bound)");
        }
        if now >= self.next_health {
            self.next_health = now + HEALTH_EVERY;
            match self.shared.liveness(LIVE_WITHIN) {
                Ok(()) => {
                    self.call(now, "POST", "/health", "{}")?;
                    if self.stall_logged {
                        log::info!("Agones: the relay loop runs again, health pings resumed");
                        self.stall_logged = false;
                    }
                }
                Err(_) if !self.stall_logged => {
                    log::warn!(
                        "Agones: the relay loop has not run for over {:.0} s: health pings \
                         stopped until it runs again (Agones replaces an unhealthy GameServer)",
                        LIVE_WITHIN.as_secs_f64()
                    );
                    self.stall_logged = true;
                }
                Err(_) => {}
            }
        }
        Ok(())
    }

    /// One call, with the outage bookkeeping: the first failure is logged and starts a
    /// backoff, the first success after it is logged and ends it.
    fn call(&mut self, now: Instant, method: &str, path: &str, body: &str) -> Result<(), ()> {
        match self.sdk.call(method, path, body) {
            Ok(()) => {
                if let Some(outage) = self.outage.take() {
                    log::info!(
                        "Agones SDK at {} answering again after {:.1}s",
                        self.sdk.addr,
                        now.saturating_duration_since(outage.since).as_secs_f64()
                    );
                }
                Ok(())
            }
            Err(e) => {
                let backoff = match &self.outage {
                    Some(outage) => (outage.backoff * 2).min(MAX_BACKOFF),
                    None => {
                        log::warn!(
                            "Agones SDK at {} not answering ({e}); retrying with backoff, \
                             logged again once it answers",
                            self.sdk.addr
                        );
                        FIRST_BACKOFF
                    }
                };
                let since = self.outage.as_ref().map_or(now, |o| o.since);
                self.outage = Some(Outage {
                    since,
                    backoff,
                    retry_at: Instant::now() + backoff,
                });
                Err(())
            }
        }
    }

    /// `POST /shutdown`, retried (past any backoff) until it succeeds or `within` is over.
    fn shut_down(&mut self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let mut pause = FIRST_BACKOFF;
        loop {
            match self.sdk.call("POST", "/shutdown", "{}") {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() + pause >= deadline => return Err(e),
                Err(_) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_comes_from_the_environment() {
        let read = |value| Sdk::from_port_variable(value).map(|sdk| sdk.addr());
        assert_eq!(read(None), Ok("127.0.0.1:9358".parse().unwrap()));
        assert_eq!(read(Some("9400")), Ok("127.0.0.1:9400".parse().unwrap()));
        for bad in ["0", "x", "70000", ""] {
            assert!(
                read(Some(bad)).unwrap_err().contains(PORT_VARIABLE),
                "{bad}"
            );
        }
    }
}
