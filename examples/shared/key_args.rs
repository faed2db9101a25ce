//! The handshake key options shared by `relay_host` and `relay_client`, so both read a key
//! the same way: base64 from `--secret-key` or `UDP_RELAY_SECRET_KEY`, where an empty value
//! means unkeyed (as in v0.8.2), or `--v08-default-key` for the key v0.8.2 uses when none is
//! configured.

use base64::Engine;
use udp_relay::protocol::V08_DEFAULT_KEY;

#[derive(clap::Args, Debug)]
pub struct KeyArgs {
    /// The relay's HMAC key, base64: handshakes then carry an HMAC-SHA256 made with it, and
    /// the relay admits only those that verify. Unset or empty: unkeyed (the mac field is
    /// zero and not checked).
    #[arg(
        long,
        value_name = "BASE64",
        env = "UDP_RELAY_SECRET_KEY",
        hide_env_values = true
    )]
    pub secret_key: Option<String>,
    /// Use the key v0.8.2 relays and clients use when none is configured, as a v0.8.2 relay
    /// or client run with its defaults does. The key is public: it authenticates nothing.
    /// Not with --secret-key or UDP_RELAY_SECRET_KEY (even empty).
    #[arg(long, conflicts_with = "secret_key")]
    pub v08_default_key: bool,
}

/// The handshake key the options ask for.
#[derive(Debug, PartialEq, Eq)]
pub enum HandshakeKeyChoice {
    Unkeyed,
    /// A key of the operator's, kept secret.
    Secret(Vec<u8>),
    /// [`V08_DEFAULT_KEY`], which anyone knows.
    V08Default,
}

impl HandshakeKeyChoice {
    /// The raw key bytes, `None` when unkeyed.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        match self {
            HandshakeKeyChoice::Unkeyed => None,
            HandshakeKeyChoice::Secret(key) => Some(key.clone()),
            HandshakeKeyChoice::V08Default => Some(V08_DEFAULT_KEY.to_vec()),
        }
    }
}

impl KeyArgs {
    /// Decodes the options; the error says what is wrong with `--secret-key`.
    pub fn choice(&self) -> Result<HandshakeKeyChoice, String> {
        if self.v08_default_key {
            return Ok(HandshakeKeyChoice::V08Default);
        }
        let Some(text) = self.secret_key.as_deref() else {
            return Ok(HandshakeKeyChoice::Unkeyed);
        };
        let key = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| format!("--secret-key is not valid base64: {e}"))?;
        Ok(if key.is_empty() {
            HandshakeKeyChoice::Unkeyed
        } else {
            HandshakeKeyChoice::Secret(key)
        })
    }
}
