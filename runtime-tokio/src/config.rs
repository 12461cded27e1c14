//! Node configuration: the PRD's TOML file and the struct it loads into.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::keys::KeySource;

/// Which relay the node uses when a direct path is not available.
///
/// Except with [`RelayConfig::Disabled`], a node also uses the relay its pairing server
/// announces (`relay_url`, HS-RELAY-3), from the moment it pairs and after every restart.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RelayConfig {
    /// iroh's public relays (production default), plus the server's relay once announced.
    #[default]
    Default,
    /// No relay at all: direct addresses and mDNS only (what most tests use).
    Disabled,
    /// Only the relay the pairing server announces: no third-party relay is ever contacted,
    /// and before pairing (or with a server that runs no relay) only direct paths are used.
    Server,
    /// A relay the user runs, plus the server's relay once announced.
    Custom(String),
}

impl std::str::FromStr for RelayConfig {
    type Err = ConfigError;

    /// `default`, `disabled` (or `none`, `off`), `server`, or an `http://` / `https://` relay URL.
    fn from_str(value: &str) -> Result<Self, ConfigError> {
        Ok(match value {
            "default" => RelayConfig::Default,
            "disabled" | "none" | "off" => RelayConfig::Disabled,
            "server" => RelayConfig::Server,
            url if (url.starts_with("https://") || url.starts_with("http://"))
                && url.parse::<iroh::RelayUrl>().is_ok() =>
            {
                RelayConfig::Custom(url.to_owned())
            }
            other => {
                return Err(ConfigError::Parse(format!(
                    "relay {other:?} is not `default`, `disabled`, `server` or an http(s) URL"
                )));
            }
        })
    }
}

/// Everything a node needs to start. Build it in code or load the TOML file with [`HumanSyncConfig::load`].
#[derive(Debug, Clone)]
pub struct HumanSyncConfig {
    /// The pairing server, e.g. `https://sync.example.org` (needed only for [`crate::Node::pair`]).
    pub server_url: Option<String>,
    /// Where identity, documents and blobs live.
    pub storage_path: PathBuf,
    /// UDP port for iroh; 0 picks any free port.
    pub iroh_port: u16,
    /// Address to bind iroh to; `None` binds all interfaces.
    pub bind_addr: Option<IpAddr>,
    /// Relay choice.
    pub relay: RelayConfig,
    /// Discover peers on the local network with mDNS.
    pub mdns: bool,
    /// Fallback rescan interval: sessions push changes live; this only retries dialling and re-reads addresses.
    pub interval_secs: u64,
    /// The server's node id when the app knows it (QR code, server console): pairing with any
    /// other server fails (HS-PAIR-8). TOML: `[server] node_id`.
    pub expected_server_id: Option<humansync_protocol::DeviceId>,
    /// A PEM file of extra root certificates for `server_url` (a self-signed server certificate
    /// or a private CA), trusted in addition to the system's. TOML: `[server] ca_cert`.
    pub server_ca_cert: Option<PathBuf>,
    /// How long a blob no live document references (and the app has not pinned) stays before it
    /// is deleted (HS-BLOB-4); default 24 hours. TOML: `[storage] blob_grace_secs`.
    pub blob_grace: std::time::Duration,
    /// Where the data key encrypting the store at rest comes from (HS-REST-2); default
    /// [`KeySource::Device`] (on: the OS keychain when one is reachable on a fresh device, else
    /// `<storage>/data.key`), [`KeySource::Off`] to store plain. The device sources also say
    /// where the identity key is kept. TOML: `[storage] encryption = "device" | "keychain" |
    /// "device-file" | "off" | "file:<path>" | "env:<VARIABLE>"`.
    pub data_key: KeySource,
}

impl HumanSyncConfig {
    /// A configuration with production defaults storing data under `storage_path`.
    pub fn new(storage_path: impl Into<PathBuf>) -> Self {
        HumanSyncConfig {
            server_url: None,
            storage_path: storage_path.into(),
            iroh_port: 0,
            bind_addr: None,
            relay: RelayConfig::Default,
            mdns: true,
            interval_secs: 30,
            expected_server_id: None,
            server_ca_cert: None,
            blob_grace: std::time::Duration::from_millis(humansync_protocol::limits::BLOB_GRACE_DEFAULT_MS),
            data_key: KeySource::Device,
        }
    }

    /// Parses the PRD's TOML layout: `[server] url, node_id`, `[storage] path, blob_grace_secs,
    /// encryption`,
    /// `[sync] interval_secs`,
    /// `[iroh] port, relay` (`relay = "default"`, `"disabled"`, `"server"` or a URL), `mdns`.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let file: File = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        let storage = file.storage.path.ok_or(ConfigError::Missing("storage.path"))?;
        let mut config = HumanSyncConfig::new(storage);
        if let Some(secs) = file.storage.blob_grace_secs {
            config.blob_grace = std::time::Duration::from_secs(secs);
        }
        if let Some(encryption) = file.storage.encryption.as_deref() {
            config.data_key = encryption.parse().map_err(ConfigError::Parse)?;
        }
        config.server_url = file.server.url;
        config.server_ca_cert = file.server.ca_cert;
        if let Some(id) = file.server.node_id {
            config.expected_server_id = Some(
                id.parse()
                    .map_err(|e| ConfigError::Parse(format!("server.node_id: {e}")))?,
            );
        }
        if let Some(secs) = file.sync.interval_secs {
            config.interval_secs = secs.max(1);
        }
        if let Some(port) = file.iroh.port {
            config.iroh_port = port;
        }
        if let Some(mdns) = file.iroh.mdns {
            config.mdns = mdns;
        }
        if let Some(relay) = file.iroh.relay.as_deref() {
            config.relay = relay.parse()?;
        }
        Ok(config)
    }

    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.to_owned(), e.to_string()))?;
        Self::from_toml_str(&text)
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, String),
    /// The TOML is invalid.
    #[error("invalid configuration: {0}")]
    Parse(String),
    /// A required key is absent.
    #[error("missing required setting {0}")]
    Missing(&'static str),
    /// The `server_ca_cert` file is unreadable or holds no PEM certificate.
    #[error("server CA certificate {0}: {1}")]
    Certificate(PathBuf, String),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    server: ServerSection,
    #[serde(default)]
    storage: StorageSection,
    #[serde(default)]
    sync: SyncSection,
    #[serde(default)]
    iroh: IrohSection,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    url: Option<String>,
    node_id: Option<String>,
    ca_cert: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StorageSection {
    path: Option<PathBuf>,
    blob_grace_secs: Option<u64>,
    encryption: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SyncSection {
    interval_secs: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct IrohSection {
    port: Option<u16>,
    relay: Option<String>,
    mdns: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_the_prd_layout() {
        let text = r#"
            [server]
            url = "https://sync.example.org"
            ca_cert = "/etc/humandocs/server.pem"
            [storage]
            path = "/var/lib/humandocs"
            blob_grace_secs = 3600
            encryption = "env:HS_DATA_KEY"
            [sync]
            interval_secs = 60
            [iroh]
            port = 4433
            relay = "disabled"
        "#;
        let c = HumanSyncConfig::from_toml_str(text).expect("valid");
        assert_eq!(c.server_url.as_deref(), Some("https://sync.example.org"));
        assert_eq!(c.server_ca_cert, Some(PathBuf::from("/etc/humandocs/server.pem")));
        assert_eq!(c.storage_path, PathBuf::from("/var/lib/humandocs"));
        assert_eq!(c.interval_secs, 60);
        assert_eq!(c.blob_grace, std::time::Duration::from_secs(3600));
        assert!(matches!(&c.data_key, KeySource::Env(v) if v == "HS_DATA_KEY"));
        let d = HumanSyncConfig::from_toml_str("[storage]\npath='x'").expect("valid");
        assert!(
            matches!(d.data_key, KeySource::Device),
            "encryption is on by default"
        );
        assert!(HumanSyncConfig::from_toml_str("[storage]\npath='x'\nencryption='maybe'").is_err());
        assert_eq!(c.iroh_port, 4433);
        assert_eq!(c.relay, RelayConfig::Disabled);
    }

    #[test]
    fn parses_every_relay_choice_and_refuses_junk() {
        assert_eq!("default".parse::<RelayConfig>().ok(), Some(RelayConfig::Default));
        assert_eq!("off".parse::<RelayConfig>().ok(), Some(RelayConfig::Disabled));
        assert_eq!("server".parse::<RelayConfig>().ok(), Some(RelayConfig::Server));
        assert_eq!(
            "http://10.0.0.1:3340".parse::<RelayConfig>().ok(),
            Some(RelayConfig::Custom("http://10.0.0.1:3340".into()))
        );
        for junk in ["", "relay.example.org", "ftp://x", "https://"] {
            assert!(junk.parse::<RelayConfig>().is_err(), "{junk:?} accepted");
        }
        let c = HumanSyncConfig::from_toml_str("[storage]\npath='x'\n[iroh]\nrelay='server'").expect("valid");
        assert_eq!(c.relay, RelayConfig::Server);
        assert!(HumanSyncConfig::from_toml_str("[storage]\npath='x'\n[iroh]\nrelay='bogus'").is_err());
    }

    #[test]
    fn rejects_unknown_keys_and_missing_storage() {
        assert!(matches!(
            HumanSyncConfig::from_toml_str("[storage]\npath='x'\nbogus=1"),
            Err(ConfigError::Parse(_))
        ));
        assert!(matches!(
            HumanSyncConfig::from_toml_str(""),
            Err(ConfigError::Missing("storage.path"))
        ));
    }
}
