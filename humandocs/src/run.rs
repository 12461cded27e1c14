//! Starting and running the node: `humandocs run` (headless, logs to stderr), the interactive app,
//! and the short-lived node of the direct mode.

use std::path::Path;
use std::time::Duration;

use humansync::{HumanSyncConfig, Node, RelayConfig};
use tokio::sync::watch;

use crate::app::App;
use crate::cli::NodeArgs;
use crate::settings::Settings;
use crate::{AppError, events, server, status};

/// How long a starting app, or a command, waits for a store another process holds.
pub const STORE_WAIT: Duration = Duration::from_secs(30);
/// How often it looks again.
pub const STORE_RETRY: Duration = Duration::from_millis(100);
/// Delay between background pairing attempts while the server is unreachable.
const PAIR_RETRY: Duration = Duration::from_secs(3);

/// The library configuration for `args` and the remembered `settings`.
pub fn node_config(data: &Path, args: &NodeArgs, settings: &Settings) -> HumanSyncConfig {
    let mut config = HumanSyncConfig::new(data);
    config.server_url = settings.server_url.clone();
    config.server_ca_cert = settings.server_ca_cert.clone();
    config.iroh_port = args.port;
    config.bind_addr = args.bind;
    config.mdns = !args.no_mdns;
    config.interval_secs = args.interval.max(1);
    config.relay = args.relay.clone();
    config
}

/// A node for one direct-mode command: loopback only, relays and mDNS off.
pub async fn start_direct(data: &Path) -> Result<Node, AppError> {
    std::fs::create_dir_all(data).map_err(AppError::io(format!("creating {}", data.display())))?;
    let settings = Settings::load(data)?;
    let args = NodeArgs {
        bind: Some(std::net::Ipv4Addr::LOCALHOST.into()),
        no_mdns: true,
        relay: RelayConfig::Disabled,
        interval: 30,
        ..NodeArgs::default()
    };
    Ok(humansync::init(node_config(data, &args, &settings)).await?)
}

/// Records `cert` in `settings` as an absolute path, so that commands run from another directory
/// find it too; true when that changed the settings.
fn remember_ca_cert(settings: &mut Settings, cert: &Path) -> Result<bool, AppError> {
    let cert = std::path::absolute(cert).map_err(AppError::io(format!("locating {}", cert.display())))?;
    if settings.server_ca_cert.as_ref() == Some(&cert) {
        return Ok(false);
    }
    settings.server_ca_cert = Some(cert);
    Ok(true)
}

/// Starts the node, waiting up to [`STORE_WAIT`] while a direct-mode command (which found no
/// app to ask, and opened the store itself) holds the store.
async fn init_waiting(config: HumanSyncConfig) -> Result<Node, AppError> {
    let deadline = tokio::time::Instant::now() + STORE_WAIT;
    loop {
        match humansync::init(config.clone()).await {
            Err(humansync::Error::StoreInUse(path)) if tokio::time::Instant::now() < deadline => {
                tracing::info!(store = %path.display(), "the store is in use by a command; waiting");
                tokio::time::sleep(STORE_RETRY).await;
            }
            result => return Ok(result?),
        }
    }
}

/// A started app: the node, its socket and the stop signal.
pub struct Running {
    /// The app.
    pub app: App,
    /// Set to true to stop (a `stop` request sets it too).
    pub stop: watch::Sender<bool>,
    serve: tokio::task::JoinHandle<()>,
    /// SIGTERM / Ctrl-C, listened for since the start began (a signal during it is kept).
    signal: humansync::StopSignal,
}

/// Starts the node and the socket server; pairs in the background when a password is given and
/// the device is not paired yet.
pub async fn start(data: &Path, args: &NodeArgs, password: Option<String>) -> Result<Running, AppError> {
    // First: a SIGTERM during the start (opening the store, binding iroh) must stop the app
    // cleanly once started, not kill it by the signal's default action.
    let signal = humansync::StopSignal::listen().map_err(AppError::io("installing the SIGTERM handler"))?;
    std::fs::create_dir_all(data).map_err(AppError::io(format!("creating {}", data.display())))?;
    let mut settings = Settings::load(data)?;
    if let Some(url) = &args.server
        && settings.server_url.as_ref() != Some(url)
    {
        settings.server_url = Some(url.clone());
        settings.save(data)?;
    }
    if let Some(cert) = &args.server_ca_cert
        && remember_ca_cert(&mut settings, cert)?
    {
        settings.save(data)?;
    }
    // Bind the socket first: a second app on the same directory fails here, before touching the store.
    let listener = server::bind(data)?;
    let node = init_waiting(node_config(data, args, &settings)).await?;
    let app = App::new(node, data);
    tracing::info!(
        id = %app.node().id(),
        addrs = ?app.node().addrs(),
        socket = %server::socket_path(data).display(),
        "humandocs running"
    );
    let (stop, _) = watch::channel(false);
    let serve = tokio::spawn(server::serve(listener, app.clone(), stop.clone()));
    tokio::spawn(log_events(app.clone(), stop.subscribe()));
    if let (Some(url), Some(password)) = (settings.server_url.clone(), password)
        && status::paired_server(data).is_none()
    {
        tokio::spawn(pair_until_done(app.clone(), url, password, stop.subscribe()));
    }
    Ok(Running {
        app,
        stop,
        serve,
        signal,
    })
}

impl Running {
    /// Waits until stopped by a `stop` request, Ctrl-C or SIGTERM, then shuts down gracefully.
    pub async fn until_stopped(mut self) -> Result<(), AppError> {
        let mut stopped = self.stop.subscribe();
        tokio::select! {
            _ = crate::server::stopped(&mut stopped) => {}
            _ = self.signal.recv() => {}
        }
        self.shutdown().await
    }

    /// Stops serving and shuts the node down (everything acknowledged is already on disk).
    pub async fn shutdown(self) -> Result<(), AppError> {
        let _ = self.stop.send(true);
        let _ = self.serve.await;
        tracing::info!("shutting down");
        self.app.node().clone().shutdown().await?;
        Ok(())
    }
}

async fn pair_until_done(app: App, url: String, password: String, mut stop: watch::Receiver<bool>) {
    loop {
        match app.pair(&url, Some(&password)).await {
            Ok(()) => {
                tracing::info!(server = %url, "paired");
                return;
            }
            // A wrong password or a revoked device will not get better by retrying.
            Err(AppError::Sync(humansync::Error::WrongPassword)) => {
                tracing::error!(server = %url, "pairing failed: wrong password (or an altered exchange)");
                return;
            }
            Err(AppError::Sync(humansync::Error::Pairing(msg)))
                if msg.contains("wrong_password") || msg.contains("revoked") || msg.contains("refusing") =>
            {
                tracing::error!(server = %url, "pairing failed: {msg}");
                return;
            }
            Err(e) => tracing::warn!(server = %url, "pairing failed, retrying: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(PAIR_RETRY) => {}
            _ = crate::server::stopped(&mut stop) => return,
        }
    }
}

/// Logs every event of interest as one JSON object.
async fn log_events(app: App, mut stop: watch::Receiver<bool>) {
    let mut rx = app.node().events();
    loop {
        let event = tokio::select! {
            e = rx.recv() => e,
            _ = crate::server::stopped(&mut stop) => return,
        };
        match event {
            Ok(e) => {
                if let Some(json) = events::to_json(&e) {
                    tracing::info!(target: "humandocs::event", "{json}");
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!("event log missed {n} events");
            }
            Err(_) => return,
        }
    }
}

/// Installs the log subscriber: `RUST_LOG` if set, else info for the app and library, warnings
/// for iroh, and mDNS discoveries (so the logs show where a peer's address came from).
pub fn init_logging(to_file: Option<&Path>) -> Result<(), AppError> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,iroh=warn,iroh_blobs=warn,iroh_mdns_address_lookup=debug,swarm_discovery=warn")
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = match to_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(AppError::io(format!("opening {}", path.display())))?;
            builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .try_init()
        }
        None => {
            use std::io::IsTerminal;
            builder
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr)
                .try_init()
        }
    };
    result.map_err(|e| AppError::Internal(format!("logging: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_ca_cert_is_remembered_as_an_absolute_path() {
        let mut settings = Settings {
            server_url: Some("https://sync.example.org".into()),
            ..Settings::default()
        };
        let relative = Path::new("certs/ca.pem");
        assert!(remember_ca_cert(&mut settings, relative).expect("remember"));
        let expected = std::env::current_dir().expect("cwd").join(relative);
        assert_eq!(settings.server_ca_cert.as_deref(), Some(expected.as_path()));
        assert!(
            !remember_ca_cert(&mut settings, &expected).expect("again"),
            "unchanged"
        );
        // Later runs and direct-mode commands, without the flag, still trust it.
        let config = node_config(Path::new("/data"), &NodeArgs::default(), &settings);
        assert_eq!(config.server_ca_cert.as_deref(), Some(expected.as_path()));
        assert_eq!(config.server_url.as_deref(), Some("https://sync.example.org"));
    }
}
