//! Line chat between two peers through a udp-relay (or any relay speaking the v0.8
//! handshake), using the library-owned client.
//!
//! Start a relay, then on two machines (or terminals) run the same command:
//!
//! ```text
//! cargo run --release --example relay_client -- --relay 127.0.0.1:6060 \
//!     --guid 01234567-89ab-cdef-fedc-ba9876543210
//! ```
//!
//! A keyed relay needs `--secret-key`, `--secret-key-file` or `UDP_RELAY_SECRET_KEY` (empty
//! means unkeyed); a v0.8.2 relay run with its defaults needs `--v08-default-key`.
//!
//! Every line typed on stdin becomes one datagram to the peer; every datagram from the peer
//! is printed as one line on stdout. Status goes to stderr. The program exits 0 at the end of
//! stdin, and 1 with a message if the channel is not established in time (or, with
//! `--peer-timeout-ms`, goes silent).

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::Duration;

use clap::Parser;
use udp_relay::client::{self, Client, ClientConfig, ClientError, State};
use udp_relay::protocol::{Guid, MAX_DATAGRAM};
// The relay service's key options, so the client reads a key exactly as the relay does.
use udp_relay_server::key::KeyArgs;

/// Line chat with a peer through a UDP relay.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The relay, as HOST:PORT or [IPv6]:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    relay: String,
    /// The channel GUID (8-4-4-4-12 hex), the same for both peers.
    #[arg(long)]
    guid: Guid,
    #[command(flatten)]
    key: KeyArgs,
    /// Give up if the peer has not joined after this many milliseconds.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    handshake_timeout_ms: u64,
    /// Once established, give up after this many milliseconds without hearing from the
    /// relay (the relay restarted or the peer is gone); 0 never does. Must be longer than
    /// the 5 s keep-alive interval.
    #[arg(long, default_value_t = 0, value_name = "N")]
    peer_timeout_ms: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("relay_client: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Reads stdin on its own thread, one line per message; the channel closes at end of input.
fn stdin_lines() -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn run(args: &Args) -> Result<(), String> {
    let relay = client::resolve_relay(&args.relay)
        .map_err(|e| format!("relay address {:?}: {e}", args.relay))?;
    if args.handshake_timeout_ms == 0 {
        return Err("--handshake-timeout-ms must be > 0".into());
    }
    let mut config = ClientConfig::new(relay, args.guid);
    config.secret_key = args.key.choice().map_err(|e| e.to_string())?.bytes();
    config.timing.handshake_timeout = Duration::from_millis(args.handshake_timeout_ms);
    config.timing.peer_timeout =
        (args.peer_timeout_ms > 0).then(|| Duration::from_millis(args.peer_timeout_ms));
    let mut client = Client::connect(config).map_err(|e| format!("cannot connect: {e}"))?;
    eprintln!(
        "relay_client: joining channel {} through relay {relay} from {}",
        args.guid,
        client.local_addr()
    );

    let lines = stdin_lines();
    let mut pending: Option<String> = None;
    let mut established = false;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let stdout = std::io::stdout();
    loop {
        let state = client
            .poll(Duration::from_millis(20))
            .map_err(|e| format!("socket error: {e}"))?;
        match state {
            State::TimedOut => {
                return Err(format!(
                    "handshake timed out: no peer joined channel {} through relay {relay} \
                     within {} ms (is the peer running with the same --guid, and do both \
                     use the relay's secret key? A v0.8.2 relay run without a key setting \
                     needs --v08-default-key)",
                    args.guid, args.handshake_timeout_ms
                ));
            }
            State::Lost if client.queued() == 0 => {
                return Err(format!(
                    "peer lost: nothing from relay {relay} for {} ms (the relay restarted or \
                     the peer is gone)",
                    args.peer_timeout_ms
                ));
            }
            State::Established if !established => {
                established = true;
                eprintln!("relay_client: channel established, type lines to send");
            }
            _ => {}
        }
        if !established {
            continue;
        }

        // Peer -> stdout, one line per datagram, flushed at once.
        loop {
            match client.recv(&mut buf) {
                Ok(len) => {
                    let mut out = stdout.lock();
                    let text = String::from_utf8_lossy(&buf[..len]);
                    writeln!(out, "{text}")
                        .and_then(|()| out.flush())
                        .map_err(|e| format!("stdout: {e}"))?;
                }
                Err(ClientError::WouldBlock) => break,
                Err(e) => return Err(format!("receive: {e}")),
            }
        }

        // stdin -> peer, one datagram per line.
        loop {
            let line = match pending.take() {
                Some(line) => line,
                None => match lines.try_recv() {
                    Ok(line) => line,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        eprintln!("relay_client: end of input, leaving");
                        return Ok(());
                    }
                },
            };
            match client.send(line.as_bytes()) {
                Ok(()) => {}
                Err(ClientError::WouldBlock) => {
                    pending = Some(line);
                    break;
                }
                Err(ClientError::TooLarge { len }) => {
                    eprintln!(
                        "relay_client: line of {len} bytes is too long for a datagram, skipped"
                    );
                }
                Err(e) => return Err(format!("send: {e}")),
            }
        }
    }
}
