//! A reference matchmaker for a fleet of relays: reads the fleet (a JSON list of relays, or
//! Agones `GameServer`s as `kubectl get gameservers -o json` prints them), leaves out the
//! relays that are draining or nearly full, ranks the rest for the channel's GUID
//! (rendezvous hashing weighted by capacity: every replica of this matchmaker picks the same
//! relay, with no shared state), mints both peers' relay-bound (v2) seat tokens for the
//! first, and prints one join ticket per peer, a JSON object per line:
//!
//! ```text
//! cargo run --example matchmaker -- --fleet fleet.json --secret-key-file key --key-id 3
//! kubectl get gameservers -o json | cargo run --example matchmaker -- --fleet - --secret-key-file key
//! {"expiry_unix_secs":..,"guid":"..","relay_endpoint":"10.0.0.7:7001","relay_id":7,"role":"A","token_base64":".."}
//! {"expiry_unix_secs":..,"guid":"..","relay_endpoint":"10.0.0.7:7001","relay_id":7,"role":"B","token_base64":".."}
//! ```
//!
//! Each player gets its own line (over the matchmaker's authenticated, encrypted connection)
//! and joins with `relay_endpoint` and the decoded token (`RelayClientConfig.token`). The key
//! is the fleet's, read as the relay reads it (`--secret-key`, `--secret-key-file` or
//! `UDP_RELAY_SECRET_KEY`, at least 16 bytes), and `--key-id` must be the id the relays hold
//! it under. Relays left out are named on stderr with the reason. Exit status 1 with a message
//! when the fleet cannot be read or no relay takes new channels, 2 on a bad command line.

#[path = "matchmaker/fleet.rs"]
mod fleet;
#[path = "matchmaker/tickets.rs"]
mod tickets;

use std::io::Read;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Parser;
use udp_relay::protocol::Guid;
use udp_relay_server::key::{HandshakeKeyChoice, KeyArgs};

/// Picks a fleet's relay for a channel and mints both peers' join tickets.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The fleet as JSON: a list of relays or Agones GameServers; `-` reads stdin.
    #[arg(long, value_name = "PATH")]
    fleet: String,
    /// The channel's GUID (8-4-4-4-12 hex); a random one when not given.
    #[arg(long)]
    guid: Option<Guid>,
    #[command(flatten)]
    key: KeyArgs,
    /// The id the relays hold the key under (their --key-id).
    #[arg(long, value_name = "ID", default_value_t = 0)]
    key_id: u32,
    /// How long the tokens stay valid, in seconds (the match length plus a margin).
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    ttl_secs: u64,
    /// Leave out relays with at least this share of their capacity in use (0 to 1).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.9)]
    near_full: f64,
    /// Agones: the GameServer label holding the relay id.
    #[arg(long, default_value = "agones.dev/sdk-relay-id")]
    relay_id_label: String,
    /// Agones: the GameServer label that is "false" while the relay drains.
    #[arg(long, default_value = "agones.dev/sdk-relay-accepting")]
    accepting_label: String,
    /// Agones: the name of the relay's port in status.ports.
    #[arg(long, default_value = "relay")]
    port_name: String,
    /// Agones: the counter in status.counters holding open channels and capacity.
    #[arg(long, default_value = "channels")]
    counter: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("matchmaker: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<Vec<String>, String> {
    if !(args.near_full > 0.0 && args.near_full <= 1.0) {
        return Err(format!("--near-full {} is not in (0, 1]", args.near_full));
    }
    let key = match args.key.choice().map_err(|e| e.to_string())? {
        HandshakeKeyChoice::Secret(key) => key,
        _ => return Err("the fleet's secret key is needed to mint tokens".into()),
    };
    let text = if args.fleet == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("reading the fleet from stdin: {e}"))?;
        text
    } else {
        std::fs::read_to_string(&args.fleet).map_err(|e| format!("{}: {e}", args.fleet))?
    };
    let names = fleet::AgonesNames {
        relay_id_label: args.relay_id_label.clone(),
        accepting_label: args.accepting_label.clone(),
        port_name: args.port_name.clone(),
        counter: args.counter.clone(),
    };
    let relays = fleet::parse(&text, &names).map_err(|e| format!("{}: {e}", args.fleet))?;
    let (open, skipped) = fleet::eligible(&relays, args.near_full);
    for (relay, why) in &skipped {
        eprintln!(
            "matchmaker: relay {} ({}) left out: {why}",
            relay.id, relay.endpoint
        );
    }
    let guid = match args.guid {
        Some(g) if g.is_zero() => return Err("--guid is zero".into()),
        Some(g) => g,
        None => Guid::random().map_err(|e| format!("no random GUID: {e}"))?,
    };
    let relay = tickets::choose(guid, &open)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "the clock is before 1970")?
        .as_secs();
    let expiry = now.saturating_add(args.ttl_secs);
    Ok(tickets::tickets(guid, relay, &key, args.key_id, expiry)
        .iter()
        .map(|t| tickets::to_json(t).to_string())
        .collect())
}
