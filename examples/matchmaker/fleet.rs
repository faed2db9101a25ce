//! The fleet as the matchmaker reads it: a plain JSON list of relays, or Agones `GameServer`
//! objects as `kubectl get gameservers -o json` prints them; and which relays may take a new
//! channel.
//!
//! List form:
//!
//! ```json
//! [{"id": 1, "endpoint": "127.0.0.1:7001", "capacity": 1000, "channels": 12, "state": "accepting"}]
//! ```
//!
//! `state` is `accepting`, `draining` or `full` (what the relay's probe reports).
//!
//! Agones form: `{"items": [GameServer, ...]}` (a `GameServerList`), or one `GameServer`.
//! Of each: `status.state` (`Ready` and `Allocated` serve; anything else does not),
//! `status.address` and the port named `relay` in `status.ports` (the only port, if there is
//! one), the counter `channels` in `status.counters` (`count` and `capacity`: the relay
//! reports its open channels through the Agones SDK's counters), and in `metadata.labels`
//! the relay id (`agones.dev/sdk-relay-id`) and whether it accepts new channels
//! (`agones.dev/sdk-relay-accepting`: `"false"` while draining; labels a relay sets through
//! the SDK get the `agones.dev/sdk-` prefix). A `GameServer` being deleted
//! (`metadata.deletionTimestamp`) is draining. The label, port and counter names are
//! settings ([`AgonesNames`]).

use serde_json::Value;

/// One relay of the fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayInfo {
    /// Its relay id (1 or more): what its tokens name.
    pub id: u32,
    /// Where clients reach it, `HOST:PORT` (`[IPv6]:PORT`).
    pub endpoint: String,
    /// Channels it is sized for: its weight in the ranking.
    pub capacity: u64,
    /// Channels open now.
    pub channels: u64,
    /// Whether it takes new channels at all (not draining, not failed).
    pub accepting: bool,
}

/// Where an Agones `GameServer` keeps what the matchmaker needs.
#[derive(Debug, Clone)]
pub struct AgonesNames {
    pub relay_id_label: String,
    pub accepting_label: String,
    pub port_name: String,
    pub counter: String,
}

impl Default for AgonesNames {
    fn default() -> Self {
        AgonesNames {
            relay_id_label: "agones.dev/sdk-relay-id".into(),
            accepting_label: "agones.dev/sdk-relay-accepting".into(),
            port_name: "relay".into(),
            counter: "channels".into(),
        }
    }
}

/// Reads either form, told apart by its shape (a JSON array is the list form).
pub fn parse(text: &str, names: &AgonesNames) -> Result<Vec<RelayInfo>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    match &doc {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, r)| list_entry(i, r))
            .collect(),
        Value::Object(o) if o.contains_key("items") => doc["items"]
            .as_array()
            .ok_or("`items` is not a list")?
            .iter()
            .map(|gs| game_server(gs, names))
            .collect(),
        Value::Object(o) if o.get("kind").and_then(Value::as_str) == Some("GameServer") => {
            Ok(vec![game_server(&doc, names)?])
        }
        _ => Err("neither a list of relays nor Agones GameServers (`items`)".into()),
    }
}

fn list_entry(index: usize, r: &Value) -> Result<RelayInfo, String> {
    let what = format!("relay {index}");
    let state = str_field(r, "state", &what)?;
    if !["accepting", "draining", "full"].contains(&state) {
        return Err(format!(
            "{what}: state {state:?} is not accepting, draining or full"
        ));
    }
    Ok(RelayInfo {
        id: relay_id(number(&r["id"], "id", &what)?, &what)?,
        endpoint: str_field(r, "endpoint", &what)?.to_owned(),
        capacity: number(&r["capacity"], "capacity", &what)?,
        channels: number(&r["channels"], "channels", &what)?,
        // A full relay still serves its channels; the threshold keeps it out (see `eligible`).
        accepting: state != "draining",
    })
}

fn game_server(gs: &Value, names: &AgonesNames) -> Result<RelayInfo, String> {
    let name = gs["metadata"]["name"].as_str().unwrap_or("(unnamed)");
    let what = format!("GameServer {name}");
    let labels = &gs["metadata"]["labels"];
    let id_text = labels[&names.relay_id_label]
        .as_str()
        .ok_or_else(|| format!("{what}: no label {}", names.relay_id_label))?;
    let id = id_text.parse::<u64>().map_err(|_| {
        format!(
            "{what}: label {} is {id_text:?}, not a relay id",
            names.relay_id_label
        )
    })?;
    let status = &gs["status"];
    let state = str_field(status, "state", &what)?;
    let address = str_field(status, "address", &what)?;
    let ports = status["ports"]
        .as_array()
        .ok_or_else(|| format!("{what}: no status.ports"))?;
    let port = ports
        .iter()
        .find(|p| p["name"].as_str() == Some(names.port_name.as_str()))
        .or(if ports.len() == 1 {
            ports.first()
        } else {
            None
        })
        .ok_or_else(|| format!("{what}: no port named {:?}", names.port_name))?;
    let port = number(&port["port"], "port", &what)?;
    let counter = &status["counters"][&names.counter];
    if counter.is_null() {
        return Err(format!(
            "{what}: no counter {:?} in status.counters",
            names.counter
        ));
    }
    let draining = labels[&names.accepting_label].as_str() == Some("false")
        || !gs["metadata"]["deletionTimestamp"].is_null();
    Ok(RelayInfo {
        id: relay_id(id, &what)?,
        endpoint: if address.contains(':') {
            format!("[{address}]:{port}")
        } else {
            format!("{address}:{port}")
        },
        capacity: number(&counter["capacity"], "capacity", &what)?,
        channels: number(&counter["count"], "count", &what)?,
        accepting: matches!(state, "Ready" | "Allocated") && !draining,
    })
}

fn str_field<'a>(v: &'a Value, field: &str, what: &str) -> Result<&'a str, String> {
    v[field]
        .as_str()
        .ok_or_else(|| format!("{what}: no {field} (a string)"))
}

/// A JSON number, or a string holding one (Kubernetes writes int64 either way).
fn number(v: &Value, field: &str, what: &str) -> Result<u64, String> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .ok_or_else(|| format!("{what}: {field} is not a whole number"))
}

fn relay_id(id: u64, what: &str) -> Result<u32, String> {
    u32::try_from(id)
        .ok()
        .filter(|&id| id > 0)
        .ok_or_else(|| format!("{what}: relay id {id} is not 1 to 4294967295"))
}

/// Why a relay takes no new channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    Draining,
    /// At or above the threshold (`channels >= near_full * capacity`), or of no capacity.
    NearFull {
        channels: u64,
        capacity: u64,
    },
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::Draining => f.write_str("draining or not serving"),
            Skip::NearFull { channels, capacity } => {
                write!(f, "near full ({channels} of {capacity} channels)")
            }
        }
    }
}

/// The relays that take a new channel, and why each other one does not.
pub fn eligible(
    relays: &[RelayInfo],
    near_full: f64,
) -> (Vec<&RelayInfo>, Vec<(&RelayInfo, Skip)>) {
    let mut yes = Vec::new();
    let mut no = Vec::new();
    for r in relays {
        if !r.accepting {
            no.push((r, Skip::Draining));
        } else if r.capacity == 0 || r.channels as f64 >= near_full * r.capacity as f64 {
            no.push((
                r,
                Skip::NearFull {
                    channels: r.channels,
                    capacity: r.capacity,
                },
            ));
        } else {
            yes.push(r);
        }
    }
    (yes, no)
}
