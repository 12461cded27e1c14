//! Settings: command line, then environment variables (`HUMANSYNC_*`), then an optional TOML
//! file (`--config`), then defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use humansync::RelayConfig;
use serde::Deserialize;

use crate::proxy::{TrustedProxies, TrustedProxy};
use crate::relay::DEFAULT_RELAY_PORT;

/// Default HTTP listen address.
pub const DEFAULT_HTTP_ADDR: &str = "0.0.0.0:8080";
/// Default iroh UDP port.
pub const DEFAULT_IROH_PORT: u16 = 4433;
/// Default data directory (the Docker image sets `HUMANSYNC_DATA_DIR=/data`).
pub const DEFAULT_DATA_DIR: &str = "humansync-data";

/// `humansync-server`: the always-on HumanSync peer, pairing API and device registry.
#[derive(Debug, Parser)]
#[command(name = "humansync-server", version, about)]
pub struct Cli {
    /// A TOML file with the same settings (keys: password, password_file, public_url, data_dir, http_addr, iroh_port,
    /// iroh_bind, relay, public_addrs, tls_cert, tls_key, mdns, trusted_proxies, serve_relay,
    /// relay_port, relay_public_url, metrics_addr).
    #[arg(long, env = "HUMANSYNC_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Where the registry, identity, documents and blobs live [default: humansync-data].
    #[arg(long, env = "HUMANSYNC_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// HTTP API listen address [default: 0.0.0.0:8080].
    #[arg(long, env = "HUMANSYNC_HTTP_ADDR", global = true)]
    pub http_addr: Option<SocketAddr>,
    /// Settings of the server itself.
    #[command(flatten)]
    pub serve: ServeArgs,
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options of the server process.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// The pairing and admin password. Visible to other local users (`ps`, `docker inspect`):
    /// prefer --password-file. Stored only as an OPAQUE record; may be omitted on later starts.
    #[arg(long, env = "HUMANSYNC_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// A file holding the password (its first line), e.g. a Docker secret
    /// (`/run/secrets/humansync_password` is read by default when it exists).
    #[arg(long, env = "HUMANSYNC_PASSWORD_FILE", conflicts_with = "password")]
    pub password_file: Option<PathBuf>,
    /// The URL devices use to reach this API (put into invitation links), e.g.
    /// `http://192.168.1.10:8080` [default: derived from --http-addr when it names one address].
    #[arg(long, env = "HUMANSYNC_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// UDP port of the iroh endpoint [default: 4433].
    #[arg(long, env = "HUMANSYNC_IROH_PORT")]
    pub iroh_port: Option<u16>,
    /// Address to bind the iroh endpoint to [default: all interfaces].
    #[arg(long, env = "HUMANSYNC_IROH_BIND")]
    pub iroh_bind: Option<std::net::IpAddr>,
    /// Relay for devices that cannot reach the server directly: `default` (n0's public relays),
    /// `disabled` (direct addresses only), or the URL of your own iroh relay.
    #[arg(long, env = "HUMANSYNC_RELAY")]
    pub relay: Option<String>,
    /// Addresses (`ip:port`) to announce to devices before the endpoint's own, e.g. the host's
    /// public address when running in a container. Comma-separated or repeated.
    #[arg(long, env = "HUMANSYNC_PUBLIC_ADDR", value_delimiter = ',')]
    pub public_addr: Vec<String>,
    /// PEM certificate chain: serve the API over HTTPS (with --tls-key).
    #[arg(long, env = "HUMANSYNC_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "HUMANSYNC_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Find devices on the local network with mDNS [default: false].
    #[arg(long, env = "HUMANSYNC_MDNS")]
    pub mdns: Option<bool>,
    /// Run an iroh relay inside the server (plain HTTP on --relay-port) and announce it to
    /// devices, instead of using n0's public relays. Only registered devices may use it.
    #[arg(long, env = "HUMANSYNC_SERVE_RELAY", conflicts_with = "relay")]
    pub serve_relay: bool,
    /// TCP port of the embedded relay, on the HTTP API's address [default: 3340].
    #[arg(long, env = "HUMANSYNC_RELAY_PORT")]
    pub relay_port: Option<u16>,
    /// The relay URL announced to devices, e.g. `https://relay.example.org` behind a TLS proxy
    /// [default: `http://` + the host name the device paired with + `:` + --relay-port].
    #[arg(long, env = "HUMANSYNC_RELAY_PUBLIC_URL")]
    pub relay_public_url: Option<String>,
    /// A reverse proxy (IP address or CIDR network) whose `X-Forwarded-For` header names the
    /// client, for rate limits and the audit log. From any other peer the header is ignored.
    /// Repeat, or comma-separate in HUMANSYNC_TRUSTED_PROXIES.
    #[arg(
        long = "trusted-proxy",
        env = "HUMANSYNC_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxy: Vec<String>,
    /// Serve Prometheus metrics (`GET /metrics`) on this address, e.g. 127.0.0.1:9464; off by
    /// default. A listener of its own: never the pairing port, never its rate limits.
    #[arg(long, env = "HUMANSYNC_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// How long a blob no live document references stays before it is deleted (`90s`, `10m`,
    /// `24h`, `7d`; default 24h, HS-BLOB-4).
    #[arg(long, env = "HUMANSYNC_BLOB_GRACE")]
    pub blob_grace: Option<String>,
    /// Encrypt the server's document store at rest (HS-REST-2): `off` (the default),
    /// `file:<path>` (64 hex digits or 32 bytes, e.g. a Docker secret
    /// `file:/run/secrets/humansync_data_key`), `env:<VARIABLE>`, `device` (the OS keychain
    /// when one is reachable, else a key file created next to the data, which protects only
    /// copies of the store without it), `device-file` or `keychain`.
    #[arg(long, env = "HUMANSYNC_DATA_KEY_SOURCE")]
    pub data_key: Option<String>,
}

/// Subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve (the default).
    Serve,
    /// Inspect or change the device registry in the data directory.
    Devices {
        /// What to do.
        #[command(subcommand)]
        action: DevicesAction,
    },
    /// Exit 0 if the local server answers GET /health (Docker's HEALTHCHECK; the image has no curl).
    Healthcheck,
    /// Mint a one-time invitation for a new device: prints a link and a QR code.
    Invite {
        /// How long it stays valid, e.g. `10m`, `1h`, `2d` [default: 10m; at most 7d].
        #[arg(long, default_value = "10m")]
        ttl: String,
        /// Print only the link (for scripts).
        #[arg(long)]
        link_only: bool,
    },
    /// List or revoke invitations.
    Invites {
        /// What to do.
        #[command(subcommand)]
        action: InvitesAction,
    },
}

/// `invites` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum InvitesAction {
    /// List every invitation (active, used, expired, revoked).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke unused invitations by id (or a prefix of at least 8 hex characters).
    Revoke {
        /// The invitation id or prefix.
        id: String,
    },
}

/// Parses `10m`, `90s`, `1h`, `2d` (or plain seconds) into milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<u64, ConfigError> {
    let text = text.trim();
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| ConfigError::Invalid("ttl", format!("{text:?} is not a duration like 10m")))?;
    let factor = match unit {
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(ConfigError::Invalid("ttl", format!("unknown unit in {text:?}"))),
    };
    Ok(n.saturating_mul(factor))
}

/// `devices` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum DevicesAction {
    /// List registered and revoked devices.
    List {
        /// Print JSON (DeviceInfo objects) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a device for good; a running server applies it within seconds.
    Revoke {
        /// The device id (64 hex characters).
        node_id: String,
    },
}

/// The TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    password: Option<String>,
    password_file: Option<PathBuf>,
    public_url: Option<String>,
    data_dir: Option<PathBuf>,
    http_addr: Option<SocketAddr>,
    iroh_port: Option<u16>,
    iroh_bind: Option<std::net::IpAddr>,
    relay: Option<String>,
    #[serde(default)]
    public_addrs: Vec<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    mdns: Option<bool>,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    serve_relay: Option<bool>,
    relay_port: Option<u16>,
    relay_public_url: Option<String>,
    metrics_addr: Option<SocketAddr>,
    blob_grace: Option<String>,
    data_key: Option<String>,
}

/// Why the settings are unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    /// The TOML is invalid.
    #[error("invalid configuration file {0}: {1}")]
    Parse(PathBuf, String),
    /// A value is invalid.
    #[error("invalid setting {0}: {1}")]
    Invalid(&'static str, String),
}

/// The resolved settings of a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The password, if given (else the stored record is used).
    pub password: Option<String>,
    /// Where the password came from, for the log.
    pub password_source: PasswordSource,
    /// The URL devices reach the API at, for invitation links.
    pub public_url: Option<String>,
    /// Data directory.
    pub data_dir: PathBuf,
    /// HTTP listen address.
    pub http_addr: SocketAddr,
    /// iroh UDP port (0: any).
    pub iroh_port: u16,
    /// Address the iroh endpoint binds to (`None`: all interfaces).
    pub iroh_bind: Option<std::net::IpAddr>,
    /// Relay choice.
    pub relay: RelayConfig,
    /// Addresses announced first.
    pub public_addrs: Vec<String>,
    /// TLS certificate and key.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// mDNS on.
    pub mdns: bool,
    /// Reverse proxies trusted to forward the client's address (HS-PAIR-10).
    pub trusted_proxies: TrustedProxies,
    /// The embedded relay, if served (HS-RELAY-1).
    pub serve_relay: Option<ServeRelay>,
    /// Where `GET /metrics` is served, if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    /// Grace period of blob retention (HS-BLOB-4).
    pub blob_grace: std::time::Duration,
    /// Where the key encrypting the node's store at rest comes from (off by default, HS-REST-2).
    pub data_key: humansync::KeySource,
}

/// Settings of the embedded relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeRelay {
    /// TCP address the relay listens on (port 0 picks a free port).
    pub addr: SocketAddr,
    /// The URL announced to devices; `None` derives it from the pairing request's host name.
    pub public_url: Option<String>,
}

impl ServerConfig {
    /// Defaults for `data_dir` (what tests start from).
    pub fn new(data_dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            password: None,
            password_source: PasswordSource::None,
            public_url: None,
            data_dir: data_dir.into(),
            http_addr: DEFAULT_HTTP_ADDR
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 8080))),
            iroh_port: DEFAULT_IROH_PORT,
            iroh_bind: None,
            relay: RelayConfig::Default,
            public_addrs: Vec::new(),
            tls: None,
            mdns: false,
            trusted_proxies: TrustedProxies::default(),
            serve_relay: None,
            metrics_addr: None,
            blob_grace: std::time::Duration::from_millis(humansync::protocol::limits::BLOB_GRACE_DEFAULT_MS),
            data_key: humansync::KeySource::Off,
        }
    }

    /// Resolves the command line (which already holds environment values) over the TOML file.
    pub fn resolve(cli: &Cli) -> Result<ServerConfig, ConfigError> {
        let file = match &cli.config {
            Some(path) => read_file(path)?,
            None => File::default(),
        };
        let s = &cli.serve;
        let data_dir = cli
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let mut config = ServerConfig::new(data_dir);
        (config.password, config.password_source) = resolve_password(s, file.password, file.password_file)?;
        config.public_url = s.public_url.clone().or(file.public_url);
        if let Some(addr) = cli.http_addr.or(file.http_addr) {
            config.http_addr = addr;
        }
        config.iroh_port = s.iroh_port.or(file.iroh_port).unwrap_or(DEFAULT_IROH_PORT);
        config.iroh_bind = s.iroh_bind.or(file.iroh_bind);
        config.relay = parse_relay(s.relay.as_deref().or(file.relay.as_deref()))?;
        if s.serve_relay || file.serve_relay.unwrap_or(false) {
            if s.relay.is_some() || file.relay.is_some() {
                return Err(ConfigError::Invalid(
                    "serve_relay",
                    "give either relay or serve_relay, not both".into(),
                ));
            }
            let port = s.relay_port.or(file.relay_port).unwrap_or(DEFAULT_RELAY_PORT);
            let public_url = s.relay_public_url.clone().or(file.relay_public_url);
            if let Some(url) = &public_url {
                parse_relay(Some(url))?;
            }
            config.serve_relay = Some(ServeRelay {
                addr: SocketAddr::new(config.http_addr.ip(), port),
                public_url,
            });
        }
        config.public_addrs = if s.public_addr.is_empty() {
            file.public_addrs
        } else {
            s.public_addr.clone()
        };
        for addr in &config.public_addrs {
            addr.parse::<SocketAddr>()
                .map_err(|e| ConfigError::Invalid("public_addr", format!("{addr:?}: {e}")))?;
        }
        config.tls = match (
            s.tls_cert.clone().or(file.tls_cert),
            s.tls_key.clone().or(file.tls_key),
        ) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Invalid(
                    "tls",
                    "give both tls_cert and tls_key".into(),
                ));
            }
        };
        config.mdns = s.mdns.or(file.mdns).unwrap_or(false);
        config.metrics_addr = s.metrics_addr.or(file.metrics_addr);
        if let Some(source) = s.data_key.as_deref().or(file.data_key.as_deref()) {
            config.data_key = source.parse().map_err(|e| ConfigError::Invalid("data_key", e))?;
        }
        if let Some(grace) = s.blob_grace.as_deref().or(file.blob_grace.as_deref()) {
            let ms = parse_duration_ms(grace).map_err(|_| {
                ConfigError::Invalid("blob_grace", format!("{grace:?} is not a duration like 24h"))
            })?;
            config.blob_grace = std::time::Duration::from_millis(ms);
        }
        let proxies = if s.trusted_proxy.is_empty() {
            file.trusted_proxies
        } else {
            s.trusted_proxy.clone()
        };
        config.trusted_proxies = TrustedProxies::new(
            proxies
                .iter()
                .map(|p| p.parse::<TrustedProxy>())
                .collect::<Result<_, _>>()
                .map_err(|e| ConfigError::Invalid("trusted_proxy", e.to_string()))?,
        );
        Ok(config)
    }
}

/// Where the password came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordSource {
    /// None given: the stored record is used.
    None,
    /// `--password` / `HUMANSYNC_PASSWORD` / the TOML `password`: visible to other local users.
    Argument,
    /// A file (`--password-file`, `HUMANSYNC_PASSWORD_FILE`, TOML `password_file`, a Docker secret).
    File,
}

/// The Docker secret read when no password is given otherwise.
pub const DOCKER_SECRET: &str = "/run/secrets/humansync_password";
/// Longest password file read, bytes.
const MAX_PASSWORD_FILE: u64 = 4_096;

fn resolve_password(
    s: &ServeArgs,
    file_password: Option<String>,
    file_password_file: Option<PathBuf>,
) -> Result<(Option<String>, PasswordSource), ConfigError> {
    if let Some(p) = &s.password {
        return Ok((Some(p.clone()), PasswordSource::Argument));
    }
    if let Some(path) = s.password_file.clone().or(file_password_file) {
        return Ok((Some(read_password_file(&path)?), PasswordSource::File));
    }
    if let Some(p) = file_password {
        return Ok((Some(p), PasswordSource::Argument));
    }
    let secret = Path::new(DOCKER_SECRET);
    if secret.exists() {
        return Ok((Some(read_password_file(secret)?), PasswordSource::File));
    }
    Ok((None, PasswordSource::None))
}

/// The first line of `path`, without its line ending.
pub fn read_password_file(path: &Path) -> Result<String, ConfigError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| ConfigError::Read(path.to_owned(), e))?;
    let mut text = String::new();
    file.take(MAX_PASSWORD_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| ConfigError::Read(path.to_owned(), e))?;
    if text.len() as u64 > MAX_PASSWORD_FILE {
        return Err(ConfigError::Invalid(
            "password_file",
            format!("{} is longer than {MAX_PASSWORD_FILE} bytes", path.display()),
        ));
    }
    let line = text.lines().next().unwrap_or("").to_owned();
    if line.is_empty() {
        return Err(ConfigError::Invalid(
            "password_file",
            format!("{} holds no password on its first line", path.display()),
        ));
    }
    Ok(line)
}

fn read_file(path: &Path) -> Result<File, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.to_owned(), e))?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse(path.to_owned(), e.to_string()))
}

/// `default`, `disabled` (or `none`), or a relay URL (`server` means nothing to a server).
pub fn parse_relay(value: Option<&str>) -> Result<RelayConfig, ConfigError> {
    let Some(value) = value else {
        return Ok(RelayConfig::Default);
    };
    match value.parse() {
        Ok(RelayConfig::Server) | Err(_) => Err(ConfigError::Invalid(
            "relay",
            format!("{value:?} is not `default`, `disabled` or an http(s) URL"),
        )),
        Ok(relay) => Ok(relay),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_wins_over_the_file_and_defaults_fill_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("server.toml");
        std::fs::write(
            &path,
            "password = 'from-file'\niroh_port = 5000\nrelay = 'disabled'\npublic_addrs = ['192.0.2.1:4433']\n",
        )
        .expect("write");
        let cli = Cli::parse_from([
            "humansync-server",
            "--config",
            path.to_str().expect("utf-8"),
            "--iroh-port",
            "6000",
        ]);
        let c = ServerConfig::resolve(&cli).expect("valid");
        assert_eq!(c.password.as_deref(), Some("from-file"));
        assert_eq!(c.iroh_port, 6000);
        assert_eq!(c.relay, RelayConfig::Disabled);
        assert_eq!(c.public_addrs, vec!["192.0.2.1:4433".to_owned()]);
        assert_eq!(c.http_addr.port(), 8080);
        assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert!(c.tls.is_none());
        assert!(c.trusted_proxies.list().is_empty());
    }

    #[test]
    fn trusted_proxies_come_from_the_flag_or_the_file() {
        // HS-PAIR-10
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("server.toml");
        std::fs::write(&path, "trusted_proxies = ['10.0.0.0/8', '::1']\n").expect("write");
        let file = path.to_str().expect("utf-8");
        let c =
            ServerConfig::resolve(&Cli::parse_from(["humansync-server", "--config", file])).expect("valid");
        let shown: Vec<String> = c.trusted_proxies.list().iter().map(|p| p.to_string()).collect();
        assert_eq!(shown, ["10.0.0.0/8", "::1/128"]);
        let cli = Cli::parse_from([
            "humansync-server",
            "--config",
            file,
            "--trusted-proxy",
            "192.0.2.7",
            "--trusted-proxy",
            "172.16.0.0/12,fd00::/8",
        ]);
        let shown: Vec<String> = ServerConfig::resolve(&cli)
            .expect("valid")
            .trusted_proxies
            .list()
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(shown, ["192.0.2.7/32", "172.16.0.0/12", "fd00::/8"]);
        let bad = Cli::parse_from(["humansync-server", "--trusted-proxy", "proxy.example"]);
        assert!(matches!(
            ServerConfig::resolve(&bad),
            Err(ConfigError::Invalid("trusted_proxy", _))
        ));
    }

    #[test]
    fn the_embedded_relay_is_off_unless_asked_for_and_excludes_another_relay() {
        // HS-RELAY-1
        let off = ServerConfig::resolve(&Cli::parse_from(["humansync-server"])).expect("valid");
        assert_eq!(off.serve_relay, None);
        let cli = Cli::parse_from([
            "humansync-server",
            "--http-addr",
            "127.0.0.1:9000",
            "--serve-relay",
            "--relay-port",
            "4000",
        ]);
        let on = ServerConfig::resolve(&cli).expect("valid");
        assert_eq!(
            on.serve_relay,
            Some(ServeRelay {
                addr: "127.0.0.1:4000".parse().expect("addr"),
                public_url: None,
            })
        );
        let default_port = Cli::parse_from(["humansync-server", "--serve-relay"]);
        let c = ServerConfig::resolve(&default_port).expect("valid");
        assert_eq!(c.serve_relay.map(|r| r.addr.port()), Some(DEFAULT_RELAY_PORT));
        assert!(Cli::try_parse_from(["humansync-server", "--serve-relay", "--relay", "disabled"]).is_err());
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("server.toml");
        std::fs::write(&path, "serve_relay = true\nrelay = 'disabled'\n").expect("write");
        let both = Cli::parse_from(["humansync-server", "--config", path.to_str().expect("utf-8")]);
        assert!(matches!(
            ServerConfig::resolve(&both),
            Err(ConfigError::Invalid("serve_relay", _))
        ));
        let bad_url = Cli::parse_from(["humansync-server", "--serve-relay", "--relay-public-url", "relay"]);
        assert!(ServerConfig::resolve(&bad_url).is_err());
    }

    #[test]
    fn blob_grace_from_the_flag_or_the_file() {
        // HS-BLOB-4
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("server.toml");
        std::fs::write(&path, "blob_grace = '7d'\n").expect("write");
        let file = path.to_str().expect("utf-8");
        let c = ServerConfig::resolve(&Cli::parse_from(["humansync-server"])).expect("valid");
        assert_eq!(c.blob_grace, std::time::Duration::from_secs(24 * 3600));
        let c =
            ServerConfig::resolve(&Cli::parse_from(["humansync-server", "--config", file])).expect("valid");
        assert_eq!(c.blob_grace, std::time::Duration::from_secs(7 * 24 * 3600));
        let cli = Cli::parse_from(["humansync-server", "--config", file, "--blob-grace", "90s"]);
        assert_eq!(
            ServerConfig::resolve(&cli).expect("valid").blob_grace,
            std::time::Duration::from_secs(90)
        );
        let cli = Cli::parse_from(["humansync-server", "--blob-grace", "soon"]);
        assert!(matches!(
            ServerConfig::resolve(&cli),
            Err(ConfigError::Invalid("blob_grace", _))
        ));
    }

    #[test]
    fn data_key_is_off_by_default_and_set_by_flag_or_file() {
        // HS-REST-2: the server stores plain unless given a key source.
        let c = ServerConfig::resolve(&Cli::parse_from(["humansync-server"])).expect("valid");
        assert!(matches!(c.data_key, humansync::KeySource::Off));
        let cli = Cli::parse_from(["humansync-server", "--data-key", "file:/run/secrets/k"]);
        let c = ServerConfig::resolve(&cli).expect("valid");
        assert!(
            matches!(c.data_key, humansync::KeySource::File(p) if p == std::path::Path::new("/run/secrets/k"))
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("server.toml");
        std::fs::write(&path, "data_key = 'env:HS_KEY'\n").expect("write");
        let cli = Cli::parse_from(["humansync-server", "--config", path.to_str().expect("utf-8")]);
        let c = ServerConfig::resolve(&cli).expect("valid");
        assert!(matches!(c.data_key, humansync::KeySource::Env(v) if v == "HS_KEY"));
        let cli = Cli::parse_from(["humansync-server", "--data-key", "plaintext-please"]);
        assert!(matches!(
            ServerConfig::resolve(&cli),
            Err(ConfigError::Invalid("data_key", _))
        ));
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(parse_relay(Some("sometimes")).is_err());
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("server.toml");
        std::fs::write(&path, "pasword = 'typo'\n").expect("write");
        let cli = Cli::parse_from(["humansync-server", "--config", path.to_str().expect("utf-8")]);
        assert!(matches!(ServerConfig::resolve(&cli), Err(ConfigError::Parse(..))));
    }
}
