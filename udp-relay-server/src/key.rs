//! The handshake key options, shared by the relay and the `relay_client` example so both read
//! a key the same way: base64 from `--secret-key`, from the file `--secret-key-file` names,
//! or from `UDP_RELAY_SECRET_KEY`; or `--v08-default-key` for the key v0.8.2 uses when none
//! is configured. An empty `--secret-key` or `UDP_RELAY_SECRET_KEY` means unkeyed (as in
//! v0.8.2); any other key must be at least [`MIN_KEY_LEN`] bytes. Every error names where
//! the key came from and never shows the key. The relay also takes the id of its key and,
//! during a rotation, the key it replaces ([`RotationArgs`]), read by the same rules.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine;
use udp_relay::protocol::V08_DEFAULT_KEY;

/// The environment variable a key may come from.
pub const KEY_ENV: &str = "UDP_RELAY_SECRET_KEY";

/// Shortest key accepted: 128 bits. v0.8's documented key is 32 bytes, and a short HMAC key
/// can be guessed offline from one captured handshake.
pub const MIN_KEY_LEN: usize = 16;

#[derive(clap::Args, Debug, Default)]
pub struct KeyArgs {
    /// The relay's HMAC key, base64 (at least 16 bytes; 32 random bytes recommended):
    /// handshakes then carry an HMAC-SHA256 made with it, and the relay admits only those
    /// that verify. Also read from the environment variable UDP_RELAY_SECRET_KEY (the flag
    /// wins). Unset or empty: unkeyed (the mac field is zero and not checked).
    #[arg(long, value_name = "BASE64")]
    pub secret_key: Option<String>,
    /// Read the key (base64, surrounding whitespace ignored) from this file instead.
    #[arg(long, value_name = "PATH", conflicts_with = "secret_key")]
    pub secret_key_file: Option<PathBuf>,
    /// Use the key v0.8.2 relays and clients use when none is configured, as a v0.8.2 relay
    /// or client run with its defaults does. The key is public: it authenticates nothing.
    /// Not with another key, UDP_RELAY_SECRET_KEY (even empty) included.
    #[arg(long, conflicts_with_all = ["secret_key", "secret_key_file"])]
    pub v08_default_key: bool,
}

/// The relay's key rotation options: the id of its key and the key that one replaces.
#[derive(clap::Args, Debug, Default)]
pub struct RotationArgs {
    /// The id of the relay's key (the one --secret-key, --secret-key-file or
    /// UDP_RELAY_SECRET_KEY gives), which relay-bound (v2) seat tokens name: 0 to 4294967295.
    #[arg(long, value_name = "ID", default_value_t = 0)]
    pub key_id: u32,
    /// During a key rotation, a file holding the key the relay's key replaces (base64, at
    /// least 16 bytes, as --secret-key-file): v2 tokens naming --previous-key-id, v1 tokens
    /// and handshakes made with it are still admitted. Needs --previous-key-id.
    #[arg(long, value_name = "PATH", requires = "previous_key_id")]
    pub previous_secret_key_file: Option<PathBuf>,
    /// The id of the previous key (not --key-id's). Needs --previous-secret-key-file.
    #[arg(long, value_name = "ID", requires = "previous_secret_key_file")]
    pub previous_key_id: Option<u32>,
}

impl RotationArgs {
    /// The previous key and its id, when a rotation is in progress.
    pub fn previous_key(&self) -> Result<Option<(Vec<u8>, u32)>, KeyError> {
        let (Some(path), Some(id)) = (&self.previous_secret_key_file, self.previous_key_id) else {
            return Ok(None);
        };
        let source = KeySource::PreviousFile(path.clone());
        match read_key_file(path, source.clone())? {
            HandshakeKeyChoice::Secret(key) => Ok(Some((key, id))),
            // A file is never unkeyed nor the default key.
            _ => Err(KeyError {
                source,
                problem: "holds no key".into(),
            }),
        }
    }
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

/// Where a key came from, as an error message names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Flag,
    Env,
    File(PathBuf),
    /// The key being rotated out.
    PreviousFile(PathBuf),
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Flag => f.write_str("--secret-key"),
            KeySource::Env => write!(f, "{KEY_ENV} (environment)"),
            KeySource::File(path) => write!(f, "--secret-key-file {}", path.display()),
            KeySource::PreviousFile(path) => {
                write!(f, "--previous-secret-key-file {}", path.display())
            }
        }
    }
}

/// Why the options give no usable key: the message starts with the key's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    pub source: KeySource,
    pub problem: String,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.problem)
    }
}

impl std::error::Error for KeyError {}

impl KeyArgs {
    /// Decodes the options, with `UDP_RELAY_SECRET_KEY` from the process environment.
    pub fn choice(&self) -> Result<HandshakeKeyChoice, KeyError> {
        self.choice_with_env(std::env::var_os(KEY_ENV))
    }

    /// Decodes the options with `env` as the value of `UDP_RELAY_SECRET_KEY`. The command
    /// line wins over the environment; `--v08-default-key` with the variable set is an error.
    pub fn choice_with_env(&self, env: Option<OsString>) -> Result<HandshakeKeyChoice, KeyError> {
        if self.v08_default_key {
            if env.is_some() {
                return Err(KeyError {
                    source: KeySource::Env,
                    problem: "cannot be used with --v08-default-key (unset the variable)".into(),
                });
            }
            return Ok(HandshakeKeyChoice::V08Default);
        }
        if let Some(text) = &self.secret_key {
            return decode(text, KeySource::Flag, true);
        }
        if let Some(path) = &self.secret_key_file {
            return read_key_file(path, KeySource::File(path.clone()));
        }
        match env {
            None => Ok(HandshakeKeyChoice::Unkeyed),
            Some(value) => match value.into_string() {
                Ok(text) => decode(&text, KeySource::Env, true),
                Err(_) => Err(KeyError {
                    source: KeySource::Env,
                    problem: "is not valid UTF-8".into(),
                }),
            },
        }
    }
}

fn read_key_file(path: &Path, source: KeySource) -> Result<HandshakeKeyChoice, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|e| KeyError {
        source: source.clone(),
        problem: format!("cannot read it: {e}"),
    })?;
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            log::warn!(
                "{source}: the key file is readable or writable by other users (mode {:o}); \
                 chmod 600 it",
                mode & 0o777
            );
        }
    }
    // An empty file is more likely a mistake than a wish to run unkeyed.
    decode(&text, source, false)
}

/// Decodes base64 `text` from `source`; empty means unkeyed where `empty_is_unkeyed`.
fn decode(
    text: &str,
    source: KeySource,
    empty_is_unkeyed: bool,
) -> Result<HandshakeKeyChoice, KeyError> {
    let fail = |problem: String| KeyError {
        source: source.clone(),
        problem,
    };
    let text = text.trim();
    if text.is_empty() {
        return if empty_is_unkeyed {
            Ok(HandshakeKeyChoice::Unkeyed)
        } else {
            Err(fail(
                "holds no key (to run unkeyed, give no key at all)".into(),
            ))
        };
    }
    let key = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| fail(format!("is not valid base64 ({})", describe(&e))))?;
    if key.len() < MIN_KEY_LEN {
        return Err(fail(format!(
            "the key is {} bytes; at least {MIN_KEY_LEN} are needed (make one with: \
             head -c 32 /dev/urandom | base64)",
            key.len()
        )));
    }
    Ok(HandshakeKeyChoice::Secret(key))
}

/// What is wrong with the base64, without the offending character: it is part of the key.
fn describe(e: &base64::DecodeError) -> String {
    match e {
        base64::DecodeError::InvalidByte(offset, _) => {
            format!("character {} is not in the base64 alphabet", offset + 1)
        }
        base64::DecodeError::InvalidLength(_) => "its length is not that of base64".into(),
        base64::DecodeError::InvalidLastSymbol { offset, .. } => {
            format!("character {} ends it wrongly", offset + 1)
        }
        base64::DecodeError::InvalidPadding => "its = padding is wrong".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY32: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

    fn flag(text: &str) -> KeyArgs {
        KeyArgs {
            secret_key: Some(text.into()),
            ..KeyArgs::default()
        }
    }

    #[test]
    fn keys_from_the_flag_and_the_environment() {
        let key = b"0123456789abcdef0123456789abcdef".to_vec();
        assert_eq!(
            flag(KEY32).choice_with_env(None),
            Ok(HandshakeKeyChoice::Secret(key.clone()))
        );
        assert_eq!(
            KeyArgs::default().choice_with_env(Some(KEY32.into())),
            Ok(HandshakeKeyChoice::Secret(key))
        );
        // The flag wins over the environment.
        assert_eq!(
            flag("").choice_with_env(Some(KEY32.into())),
            Ok(HandshakeKeyChoice::Unkeyed)
        );
        assert_eq!(
            KeyArgs::default().choice_with_env(Some("".into())),
            Ok(HandshakeKeyChoice::Unkeyed)
        );
        assert_eq!(
            KeyArgs::default().choice_with_env(None),
            Ok(HandshakeKeyChoice::Unkeyed)
        );
    }

    #[test]
    fn errors_name_the_source_and_hide_the_key() {
        let short = "c2hvcnQ="; // "short"
        let e = flag(short).choice_with_env(None).unwrap_err();
        assert_eq!(e.source, KeySource::Flag);
        assert!(
            e.to_string()
                .starts_with("--secret-key: the key is 5 bytes"),
            "{e}"
        );
        let e = KeyArgs::default()
            .choice_with_env(Some(short.into()))
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("UDP_RELAY_SECRET_KEY (environment): the key is 5 bytes"),
            "{e}"
        );
        let e = flag("secret!key").choice_with_env(None).unwrap_err();
        assert!(e.to_string().contains("not valid base64"), "{e}");
        assert!(!e.to_string().contains('!'), "{e}");
        let e = KeyArgs {
            v08_default_key: true,
            ..KeyArgs::default()
        }
        .choice_with_env(Some("".into()))
        .unwrap_err();
        assert!(e.to_string().contains("--v08-default-key"), "{e}");
    }

    #[test]
    fn key_files() {
        let dir = std::env::temp_dir().join(format!("udp-relay-key-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key");
        let from_file = |contents: &str| {
            std::fs::write(&path, contents).unwrap();
            KeyArgs {
                secret_key_file: Some(path.clone()),
                ..KeyArgs::default()
            }
            .choice_with_env(Some("ignored".into()))
        };
        assert_eq!(
            from_file(&format!("{KEY32}\n")),
            Ok(HandshakeKeyChoice::Secret(
                b"0123456789abcdef0123456789abcdef".to_vec()
            ))
        );
        let e = from_file("\n").unwrap_err();
        assert!(e.to_string().contains("holds no key"), "{e}");
        assert_eq!(e.source, KeySource::File(path.clone()));
        let e = from_file("AAAA").unwrap_err();
        assert!(e.to_string().contains("the key is 3 bytes"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
        let e = KeyArgs {
            secret_key_file: Some(path.clone()),
            ..KeyArgs::default()
        }
        .choice_with_env(None)
        .unwrap_err();
        assert!(
            e.to_string().starts_with(&format!(
                "--secret-key-file {}: cannot read it",
                path.display()
            )),
            "{e}"
        );
    }

    #[test]
    fn previous_keys_come_from_a_file_by_the_same_rules() {
        let dir = std::env::temp_dir().join(format!(
            "udp-relay-previous-key-test-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("previous");
        let previous = |contents: &str| {
            std::fs::write(&path, contents).unwrap();
            RotationArgs {
                key_id: 2,
                previous_secret_key_file: Some(path.clone()),
                previous_key_id: Some(1),
            }
            .previous_key()
        };
        assert_eq!(
            previous(KEY32),
            Ok(Some((b"0123456789abcdef0123456789abcdef".to_vec(), 1)))
        );
        let e = previous("c2hvcnQ=").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "--previous-secret-key-file {}: the key is 5 bytes; at least 16 are needed \
                 (make one with: head -c 32 /dev/urandom | base64)",
                path.display()
            )
        );
        let e = previous("").unwrap_err();
        assert!(e.to_string().contains("holds no key"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(RotationArgs::default().previous_key(), Ok(None));
    }
}
