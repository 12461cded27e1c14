//! Starting and stopping a server: the registry database, the password hash, the cloud peer
//! (an anchor node keeping every document and blob under `data_dir/node`), and the HTTP API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use humansync::{HumanSyncConfig, Node, RelayConfig};
use humansync_sansio::pairing::GuardConfig;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::{ServeRelay, ServerConfig};
use crate::db::{Db, DbError};
use crate::guard::Guard;
use crate::http::{AnnouncedRelay, AppState};
use crate::logins::Logins;
use crate::password::{PasswordError, PasswordStore};
use crate::registry::{Registry, RegistryError};
use crate::relay::EmbeddedRelay;
use crate::replay::ReplayCache;

/// The registry database under the data directory.
pub const DB_FILE: &str = "registry.db";
/// The cloud peer's storage under the data directory.
pub const NODE_DIR: &str = "node";
/// How often a running server picks up records written by `devices revoke` on the same data dir.
const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The data directory is unusable.
    #[error("data directory {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    /// The registry database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The password could not be set up.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The cloud peer failed.
    #[error("cloud peer: {0}")]
    Node(#[from] humansync::Error),
    /// Restoring the registry into the node failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The HTTP listener could not bind.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    /// TLS set-up failed.
    #[error(transparent)]
    Tls(#[from] crate::http::tls::TlsError),
    /// The embedded relay could not start.
    #[error(transparent)]
    Relay(#[from] crate::relay::RelayError),
}

/// A running server.
pub struct RunningServer {
    state: Arc<AppState>,
    metrics: Option<(SocketAddr, JoinHandle<()>)>,
    http_addr: SocketAddr,
    stop: watch::Sender<bool>,
    http: JoinHandle<()>,
    poller: JoinHandle<()>,
    relay: Option<EmbeddedRelay>,
}

/// Options only tests change.
#[derive(Debug, Clone)]
pub struct Overrides {
    /// The wall clock.
    pub clock: Clock,
    /// The pairing guard's limits.
    pub guard: GuardConfig,
}

impl Default for Overrides {
    fn default() -> Self {
        Overrides {
            clock: Clock::system(),
            guard: GuardConfig::default(),
        }
    }
}

/// Starts a server; it runs until [`RunningServer::shutdown`].
pub async fn start(config: ServerConfig, overrides: Overrides) -> Result<RunningServer, ServerError> {
    // A bad certificate or key is a configuration error: refuse it before anything starts.
    let tls = match &config.tls {
        Some((cert, key)) => Some(crate::http::tls::load_config(cert, key)?),
        None => None,
    };
    humansync::private_dir(&config.data_dir).map_err(|e| ServerError::DataDir(config.data_dir.clone(), e))?;
    let db = Db::open(&config.data_dir.join(DB_FILE)).await?;
    let (password, _) = PasswordStore::load_or_set(&db, config.password.as_deref()).await?;
    let mut node_config = HumanSyncConfig::new(config.data_dir.join(NODE_DIR));
    node_config.iroh_port = config.iroh_port;
    node_config.bind_addr = config.iroh_bind;
    // The relay starts first: the node uses it as its home relay (HS-RELAY-1).
    let mut relay = match &config.serve_relay {
        Some(settings) => Some(EmbeddedRelay::start(settings.addr).await?),
        None => None,
    };
    node_config.relay = match relay.as_ref().and_then(EmbeddedRelay::local_url) {
        Some(url) => RelayConfig::Custom(url),
        None => config.relay.clone(),
    };
    node_config.mdns = config.mdns;
    node_config.blob_grace = config.blob_grace;
    node_config.data_key = config.data_key.clone();
    let node = Node::init_anchor(node_config).await?;
    if let Some(relay) = &mut relay {
        relay.attach(node.clone());
        tracing::info!(addr = ?relay.http_addr(), "relay listening (plain http; only registered devices are admitted)");
    }
    let registry = Registry::new(db.clone(), node.clone());
    let restored = registry.restore(0).await?;
    let server_id = node.id();
    tracing::info!(node_id = %server_id, addrs = ?node.addrs(), records = restored, "cloud peer running");
    // The addresses devices are told, kept for `humansync-server invite` (HS-INV-1).
    let announced: Vec<String> = config
        .public_addrs
        .iter()
        .cloned()
        .chain(node.addrs().iter().map(|a| a.to_string()))
        .collect();
    if let Ok(text) = serde_json::to_string(&announced)
        && let Err(e) = db
            .set_setting(crate::admin_invite::ANNOUNCED_ADDRS_SETTING, &text)
            .await
    {
        tracing::warn!("cannot record the announced addresses: {e}");
    }
    let state = Arc::new(AppState {
        registry: registry.clone(),
        password,
        guard: Guard::new(overrides.guard.clone()),
        owner_guard: Guard::new(GuardConfig {
            rate_global: u32::MAX,
            lockout_failures: u32::MAX,
            ..overrides.guard.clone()
        }),
        invite_guard: Guard::new(overrides.guard.clone()),
        logins: Logins::default(),
        started_at_ms: overrides.clock.now_ms(),
        replay: ReplayCache::default(),
        clock: overrides.clock.clone(),
        server_id,
        public_addrs: config.public_addrs.clone(),
        node_addrs: node.addrs(),
        relay: match (&config.serve_relay, &relay, &config.relay) {
            (
                Some(ServeRelay {
                    public_url: Some(url),
                    ..
                }),
                _,
                _,
            ) => AnnouncedRelay::Url(url.clone()),
            (_, Some(relay), _) => {
                relay
                    .http_addr()
                    .map_or(AnnouncedRelay::None, |addr| AnnouncedRelay::SameHost {
                        port: addr.port(),
                    })
            }
            (_, None, RelayConfig::Custom(url)) => AnnouncedRelay::Url(url.clone()),
            _ => AnnouncedRelay::None,
        },
        trusted_proxies: config.trusted_proxies.clone(),
    });
    let tcp = tokio::net::TcpListener::bind(config.http_addr)
        .await
        .map_err(|e| ServerError::Bind(config.http_addr, e))?;
    let http_addr = tcp
        .local_addr()
        .map_err(|e| ServerError::Bind(config.http_addr, e))?;
    let (stop, stopped) = watch::channel(false);
    let metrics = Arc::new(crate::metrics::Metrics::default());
    let app = crate::http::router(state.clone()).route_layer(axum::middleware::from_fn_with_state(
        metrics.clone(),
        crate::metrics::count,
    ));
    let metrics = match config.metrics_addr {
        Some(addr) => {
            let scrape = crate::metrics::Scrape {
                metrics,
                state: state.clone(),
                relay_refused: relay.as_ref().map(EmbeddedRelay::refused_counter),
            };
            let served = crate::metrics::serve(addr, scrape, wait_for(stopped.clone()))
                .await
                .map_err(|e| ServerError::Bind(addr, e))?;
            tracing::info!(addr = %served.0, "metrics listening (GET /metrics)");
            Some(served)
        }
        None => None,
    };
    if !config.trusted_proxies.list().is_empty() {
        let proxies: Vec<String> = config
            .trusted_proxies
            .list()
            .iter()
            .map(|p| p.to_string())
            .collect();
        tracing::info!(
            ?proxies,
            "client addresses from X-Forwarded-For of these proxies (HS-PAIR-10)"
        );
    }
    let http = match tls {
        Some(tls) => {
            let listener =
                crate::http::tls::TlsListener::new(tcp, tls).map_err(|e| ServerError::Bind(http_addr, e))?;
            tracing::info!(%http_addr, "HTTPS API listening");
            tokio::spawn(crate::http::listener::serve(listener, app, stopped.clone()))
        }
        None => {
            tracing::info!(%http_addr, "HTTP API listening (plain http is safe for pairing: the password never crosses the network)");
            tokio::spawn(crate::http::listener::serve(tcp, app, stopped.clone()))
        }
    };
    let poller = tokio::spawn(poll_registry(registry, restored, stopped));
    Ok(RunningServer {
        state,
        metrics,
        http_addr,
        stop,
        http,
        poller,
        relay,
    })
}

/// The whole of the server's shutdown: within Docker's default 10 s stop grace (`docker stop`
/// kills after it), whatever its steps do.
pub const SHUTDOWN_BUDGET: Duration = Duration::from_secs(9);
/// The longest shutdown waits for the HTTP API (its own drain of requests in flight is
/// [`crate::http::listener::HTTP_DRAIN`]).
const HTTP_STOP: Duration = Duration::from_secs(4);
/// The longest shutdown waits for each other task (poller, metrics, relay).
const TASK_STOP: Duration = Duration::from_secs(1);
/// What the cloud peer leaves of the budget for the database's close after it.
const DATABASE_RESERVE: Duration = Duration::from_secs(1);

/// Resolves once `stopped` turns true.
async fn wait_for(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

/// Applies records other processes (the `devices` command) stored, every [`POLL_INTERVAL`].
async fn poll_registry(registry: Registry, mut last: i64, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
        match registry.restore(last).await {
            Ok(seen) => last = seen,
            Err(e) => tracing::warn!("registry poll: {e}"),
        }
    }
}

impl RunningServer {
    /// Where the HTTP API listens.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Where `GET /metrics` is served, if configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(addr, _)| *addr)
    }

    /// Where the embedded relay listens, if served.
    pub fn relay_addr(&self) -> Option<SocketAddr> {
        self.relay.as_ref().and_then(EmbeddedRelay::http_addr)
    }

    /// Relay connections refused since start (0 without an embedded relay).
    pub fn relay_refused(&self) -> u64 {
        self.relay.as_ref().map_or(0, EmbeddedRelay::refused)
    }

    /// The cloud peer.
    pub fn node(&self) -> &Node {
        self.state.registry.node()
    }

    /// The server's device id.
    pub fn id(&self) -> humansync::DeviceId {
        self.state.server_id
    }

    /// The shared handler state (tests inspect it).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Stops the API, then the cloud peer (everything acknowledged is already durable), then the
    /// database. Every step is bounded and all of them share [`SHUTDOWN_BUDGET`]; a step that did
    /// not finish in time is logged by name and not waited for, so this always returns in time.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        let budget = humansync::ShutdownBudget::new(SHUTDOWN_BUDGET);
        let _ = self.stop.send(true);
        budget.join("http API", HTTP_STOP, self.http).await;
        budget.join("registry poller", TASK_STOP, self.poller).await;
        if let Some((_, task)) = self.metrics {
            budget.join("metrics listener", TASK_STOP, task).await;
        }
        let RunningServer { state, relay, .. } = self;
        let node = state.registry.node().clone();
        let db = state.registry.db().clone();
        drop(state);
        let node_limit = budget.remaining().saturating_sub(DATABASE_RESERVE);
        if let Some(result) = budget.step("cloud peer", node_limit, node.shutdown()).await {
            result?;
        }
        if let Some(relay) = relay {
            budget.step("relay", TASK_STOP, relay.shutdown()).await;
        }
        budget.step("database", DATABASE_RESERVE, db.close()).await;
        Ok(())
    }
}
