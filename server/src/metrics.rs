//! `GET /metrics` in the Prometheus (OpenMetrics) text format, on a listener of its own
//! (`--metrics-addr`): never on the pairing port, never under its rate limits, never exposed by
//! default. Labels carry outcomes only — no device ids, names, addresses or secrets.
//!
//! | metric | type | what |
//! | --- | --- | --- |
//! | `humansync_pair_attempts_total{outcome}` | counter | pairing requests by outcome: `ok`, `wrong_password`, `revoked`, `rate_limited`, `bad_request`, `error` |
//! | `humansync_revoke_attempts_total{outcome}` | counter | revocation requests by outcome (same labels, `not_found` too) |
//! | `humansync_sessions_open` | gauge | sync sessions open |
//! | `humansync_sessions_opened_total` | counter | sessions whose handshake completed |
//! | `humansync_documents` | gauge | live documents held |
//! | `humansync_sync_bytes_in_total` / `_out_total` | counter | sync-protocol bytes received / sent |
//! | `humansync_sync_exchanges_total` | counter | reconciliations (or resumes) completed |
//! | `humansync_remote_changes_total` | counter | documents changed or deleted by a device |
//! | `humansync_quarantines_total` | counter | stored documents found corrupt and quarantined |
//! | `humansync_quarantined_files` | gauge | files in the quarantine directory |
//! | `humansync_blobs_arrived_total` | counter | blobs fetched from devices |
//! | `humansync_blobs_missing` | gauge | referenced blobs not held yet |
//! | `humansync_blob_bytes` / `humansync_store_bytes` | gauge | bytes on disk of the blob store / document store (at most 30 s old) |
//! | `humansync_blobs_held` / `humansync_blobs_held_bytes` | gauge | blobs held complete / their bytes (HS-BLOB-4) |
//! | `humansync_blobs_pending_deletion` / `_bytes` | gauge | held blobs no live document references, in their grace period |
//! | `humansync_blobs_deleted_total` / `humansync_blob_bytes_deleted_total` | counter | blobs released for deletion since start / their bytes |
//! | `humansync_devices{state}` | gauge | registered (`active`) and `revoked` devices |
//! | `humansync_relay_refused_total` | counter | embedded-relay connections refused |

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use humansync::NodeStats;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// Every metric family served (the names a scrape shows; counters end in `_total`).
pub const FAMILIES: &[&str] = &[
    "humansync_pair_attempts_total",
    "humansync_revoke_attempts_total",
    "humansync_sessions_open",
    "humansync_sessions_opened_total",
    "humansync_documents",
    "humansync_sync_bytes_in_total",
    "humansync_sync_bytes_out_total",
    "humansync_sync_exchanges_total",
    "humansync_remote_changes_total",
    "humansync_quarantines_total",
    "humansync_quarantined_files",
    "humansync_blobs_arrived_total",
    "humansync_blobs_missing",
    "humansync_blob_bytes",
    "humansync_blobs_held",
    "humansync_blobs_held_bytes",
    "humansync_blobs_pending_deletion",
    "humansync_blobs_pending_deletion_bytes",
    "humansync_blobs_deleted_total",
    "humansync_blob_bytes_deleted_total",
    "humansync_store_bytes",
    "humansync_devices",
    "humansync_relay_refused_total",
];

type Labels = Vec<(String, String)>;

/// What one scrape reads besides the request counters.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    stats: NodeStats,
    devices_active: u64,
    devices_revoked: u64,
    relay_refused: u64,
}

/// The server's metrics: request counters updated as requests finish, the rest read per scrape.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pair: Family<Labels, Counter>,
    revoke: Family<Labels, Counter>,
    logins: Family<Labels, Counter>,
    snapshot: Arc<Mutex<Snapshot>>,
}

#[derive(Debug)]
struct SnapshotCollector(Arc<Mutex<Snapshot>>);

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let pair = Family::<Labels, Counter>::default();
        let revoke = Family::<Labels, Counter>::default();
        let logins = Family::<Labels, Counter>::default();
        registry.register(
            "humansync_pair_attempts",
            "Pairing requests by outcome",
            pair.clone(),
        );
        registry.register(
            "humansync_revoke_attempts",
            "Revocation requests by outcome",
            revoke.clone(),
        );
        registry.register(
            "humansync_logins_started",
            "OPAQUE logins started, by purpose (pair, revoke); a wrong password is a login that \
             never finishes",
            logins.clone(),
        );
        let snapshot = Arc::new(Mutex::new(Snapshot::default()));
        registry.register_collector(Box::new(SnapshotCollector(snapshot.clone())));
        Metrics {
            registry,
            pair,
            revoke,
            logins,
            snapshot,
        }
    }
}

/// The outcome label of an API answer's status.
pub fn outcome(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "ok",
        401 => "unauthorized",
        410 => "upgrade_required",
        403 => "revoked",
        404 => "not_found",
        429 => "rate_limited",
        400..=499 => "bad_request",
        _ => "error",
    }
}

impl Metrics {
    /// Counts a finished API request. A pairing or revocation attempt is counted once, by the
    /// request that ends it: the finish of its OPAQUE login (`/pair/finish`, `DELETE
    /// /devices/{id}`), an invitation's redemption, or a start that was refused. A start that
    /// succeeds counts in `humansync_logins_started` instead: a wrong password is only ever seen
    /// by the device (HS-PAIR-11), so on the server it shows as a login started and never
    /// finished.
    pub fn request(&self, method: &Method, route: &str, status: StatusCode) {
        let (family, login) = match (method.as_str(), route) {
            ("POST", "/pair" | "/pair/finish" | "/invitations/redeem") => (&self.pair, None),
            ("POST", "/pair/start") => (&self.pair, Some("pair")),
            ("DELETE", "/devices/{node_id}") => (&self.revoke, None),
            ("POST", "/devices/{node_id}/revoke/start") => (&self.revoke, Some("revoke")),
            _ => return,
        };
        let (family, label) = match login {
            Some(purpose) if status.is_success() => (&self.logins, ("purpose", purpose)),
            _ => (family, ("outcome", outcome(status))),
        };
        family
            .get_or_create(&vec![(label.0.to_owned(), label.1.to_owned())])
            .inc();
    }

    /// The text of one scrape, from the node's stats and the registry's counts.
    pub fn render(&self, stats: NodeStats, devices: (u64, u64), relay_refused: u64) -> String {
        if let Ok(mut s) = self.snapshot.lock() {
            *s = Snapshot {
                stats,
                devices_active: devices.0,
                devices_revoked: devices.1,
                relay_refused,
            };
        }
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

fn gauge(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> std::fmt::Result {
    let g = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
    g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)
}

fn counter(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> std::fmt::Result {
    let c = ConstCounter::new(value);
    c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> std::fmt::Result {
        let s = self.0.lock().map(|s| s.clone()).unwrap_or_default();
        let t = s.stats.totals;
        gauge(
            &mut e,
            "humansync_sessions_open",
            "Sync sessions open",
            s.stats.sessions_open,
        )?;
        counter(
            &mut e,
            "humansync_sessions_opened",
            "Sessions whose handshake completed",
            t.sessions_opened,
        )?;
        gauge(
            &mut e,
            "humansync_documents",
            "Live documents held",
            s.stats.documents,
        )?;
        counter(
            &mut e,
            "humansync_sync_bytes_in",
            "Sync-protocol bytes received",
            t.bytes_in,
        )?;
        counter(
            &mut e,
            "humansync_sync_bytes_out",
            "Sync-protocol bytes sent",
            t.bytes_out,
        )?;
        counter(
            &mut e,
            "humansync_sync_exchanges",
            "Reconciliations or resumes completed",
            t.sync_exchanges,
        )?;
        counter(
            &mut e,
            "humansync_remote_changes",
            "Documents changed or deleted by a device",
            t.remote_changes,
        )?;
        counter(
            &mut e,
            "humansync_quarantines",
            "Stored documents found corrupt and quarantined",
            t.quarantines,
        )?;
        gauge(
            &mut e,
            "humansync_quarantined_files",
            "Files in the quarantine directory",
            s.stats.quarantined_files,
        )?;
        counter(
            &mut e,
            "humansync_blobs_arrived",
            "Blobs fetched from devices",
            t.blobs_arrived,
        )?;
        gauge(
            &mut e,
            "humansync_blobs_missing",
            "Referenced blobs not held yet",
            s.stats.blobs_missing,
        )?;
        gauge(
            &mut e,
            "humansync_blob_bytes",
            "Bytes on disk of the blob store",
            s.stats.blob_bytes,
        )?;
        let b = &s.stats.blobs;
        gauge(&mut e, "humansync_blobs_held", "Blobs held complete", b.held)?;
        gauge(
            &mut e,
            "humansync_blobs_held_bytes",
            "Bytes of the blobs held",
            b.held_bytes,
        )?;
        gauge(
            &mut e,
            "humansync_blobs_pending_deletion",
            "Held blobs no live document references, in their grace period",
            b.pending_deletion,
        )?;
        gauge(
            &mut e,
            "humansync_blobs_pending_deletion_bytes",
            "Bytes of the blobs pending deletion",
            b.pending_deletion_bytes,
        )?;
        counter(
            &mut e,
            "humansync_blobs_deleted",
            "Blobs released for deletion since start",
            b.deleted,
        )?;
        counter(
            &mut e,
            "humansync_blob_bytes_deleted",
            "Bytes of the blobs released for deletion since start",
            b.deleted_bytes,
        )?;
        gauge(
            &mut e,
            "humansync_store_bytes",
            "Bytes on disk of the document store",
            s.stats.store_bytes,
        )?;
        counter(
            &mut e,
            "humansync_relay_refused",
            "Embedded-relay connections refused",
            s.relay_refused,
        )?;
        let devices = ConstGauge::new(i64::try_from(s.devices_active).unwrap_or(i64::MAX));
        devices.encode(
            e.encode_descriptor(
                "humansync_devices",
                "Devices by state",
                None,
                devices.metric_type(),
            )?
            .encode_family(&vec![("state".to_owned(), "active".to_owned())])?,
        )?;
        let revoked = ConstGauge::new(i64::try_from(s.devices_revoked).unwrap_or(i64::MAX));
        revoked.encode(
            e.encode_descriptor(
                "humansync_devices",
                "Devices by state",
                None,
                revoked.metric_type(),
            )?
            .encode_family(&vec![("state".to_owned(), "revoked".to_owned())])?,
        )
    }
}

/// Middleware counting pairing and revocation attempts by outcome (add to the API router).
pub async fn count(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| request.uri().path().to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    metrics.request(&method, &route, response.status());
    response
}

/// What the metrics listener needs per scrape.
#[derive(Clone)]
pub struct Scrape {
    /// The counters.
    pub metrics: Arc<Metrics>,
    /// The server's shared state (node and registry).
    pub state: Arc<crate::http::AppState>,
    /// The embedded relay's refused-connections counter, if a relay is served.
    pub relay_refused: Option<Arc<std::sync::atomic::AtomicU64>>,
}

/// How old the store's and blob store's sizes in a scrape may be: measuring them walks every
/// stored file (~200 ms at 100,000 documents), once per this period however often scraped.
const DISK_FIGURES_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(30);

async fn scrape(State(s): State<Scrape>) -> Response {
    let stats = match s
        .state
        .registry
        .node()
        .stats_with_disk_age(DISK_FIGURES_MAX_AGE)
        .await
    {
        Ok(stats) => stats,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, format!("node stopped: {e}\n")).into_response(),
    };
    let devices = match s.state.registry.snapshot().await {
        Ok(snap) => {
            let revoked = snap
                .view
                .devices()
                .filter(|(_, d)| d.revoked_at_ms.is_some())
                .count() as u64;
            (snap.view.devices().count() as u64 - revoked, revoked)
        }
        Err(_) => (0, 0),
    };
    let refused = s
        .relay_refused
        .as_ref()
        .map_or(0, |r| r.load(std::sync::atomic::Ordering::Relaxed));
    let body = s.metrics.render(stats, devices, refused);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Serves `GET /metrics` on `addr` until `stop` resolves; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    scrape_state: Scrape,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .fallback(|| async { (StatusCode::NOT_FOUND, "only GET /metrics here\n") })
        .with_state(scrape_state);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
            tracing::error!("metrics listener: {e}");
        }
    });
    Ok((bound, task))
}
