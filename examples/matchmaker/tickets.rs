//! From the relays that take a new channel to one join ticket per peer: rank them for the
//! channel's GUID (`udp_relay::rank`, weighted by capacity, so every matchmaker replica
//! picks the same relay), and mint both seats' v2 tokens for the first one.

use base64::Engine;
use serde_json::{Value, json};
use udp_relay::protocol::Guid;
use udp_relay::rank::{RankEntry, rank};
use udp_relay::token::{Role, Token, TokenKey};

use super::fleet::RelayInfo;

/// What one peer needs to join: where, and with which token.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub guid: Guid,
    pub relay_id: u32,
    pub relay_endpoint: String,
    pub role: Role,
    pub token: Token,
}

/// The relay the channel `guid` goes to: the first of the ranking of `relays`.
pub fn choose<'a>(guid: Guid, relays: &[&'a RelayInfo]) -> Result<&'a RelayInfo, String> {
    let entries: Vec<RankEntry> = relays
        .iter()
        .map(|r| RankEntry {
            relay_id: r.id,
            weight: u32::try_from(r.capacity).unwrap_or(u32::MAX),
        })
        .collect();
    let order = rank(guid, &entries).map_err(|e| format!("the fleet: {e}"))?;
    let first = order.first().ok_or("no relay takes new channels")?;
    Ok(relays
        .iter()
        .find(|r| r.id == *first)
        .expect("ranked from these relays"))
}

/// Both peers' tickets for channel `guid` on `relay`, with tokens minted with `key` under
/// `key_id`, valid until `expiry_unix_secs`.
pub fn tickets(
    guid: Guid,
    relay: &RelayInfo,
    key: &[u8],
    key_id: u32,
    expiry_unix_secs: u64,
) -> [Ticket; 2] {
    let minter = TokenKey::new(key);
    [Role::A, Role::B].map(|role| Ticket {
        guid,
        relay_id: relay.id,
        relay_endpoint: relay.endpoint.clone(),
        role,
        token: minter.mint_for_relay(key_id, relay.id, guid, role, expiry_unix_secs),
    })
}

/// A ticket as the matchmaker sends it to its peer (over its own authenticated, encrypted
/// connection: the token is that peer's secret).
pub fn to_json(t: &Ticket) -> Value {
    json!({
        "guid": t.guid.to_string(),
        "relay_id": t.relay_id,
        "relay_endpoint": t.relay_endpoint,
        "role": match t.role { Role::A => "A", Role::B => "B" },
        "token_base64": base64::engine::general_purpose::STANDARD.encode(t.token.to_bytes()),
        "expiry_unix_secs": t.token.expiry_unix_secs,
    })
}
