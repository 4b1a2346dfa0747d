//! `virtualsms-mcp http`: MCP over Streamable HTTP at `/mcp`, plus `GET /health`.
//!
//! The protocol is rmcp's own Streamable HTTP server: requests of the 2026-07-28 era are served
//! statelessly, and a client that sends `initialize` (2024-11-05 … 2025-11-25) gets a session
//! (`Mcp-Session-Id`), as `../shared/notes/rmcp-3.9.md` describes.
//!
//! **Many clients, many keys.** Each request carries its own VirtualSMS key
//! (`Authorization: Bearer <key>` or `x-api-key: <key>`); the process's `VIRTUALSMS_API_KEY` is
//! used only with `--use-env-key` (a single-user server), for requests that name no key. Every
//! distinct key gets a [`Tenant`] of its own: a server built like [`App::new`]'s whose
//! [`KeySlot`] holds that key, so the spending budget, cached orders, SMS cursors, the pacer and
//! the MCP sessions are per key and nothing one client does reaches another. A session opened
//! with one key is unknown under any other. The key lives only in its KeySlot: tenants are found
//! by the SHA-256 of the key, the key headers are removed before the request goes further, and
//! logs name a client by the first 8 hex digits of that hash. A request without a key reaches a
//! server that offers the discovery tools only. This layer never retries a request, so a
//! purchase is sent at most once.
//!
//! **Safe by default.** Loopback only unless `--listen` names another address (then a warning:
//! TLS and the `Host` check belong to a proxy in front); on loopback the `Host` header must be a
//! loopback name (DNS rebinding). Bodies are capped at 4 MiB like stdio lines and must arrive
//! within [`Limits::body_timeout`]; headers within [`Limits::header_timeout`]; a connection with
//! nothing in flight and no byte either way for [`Limits::idle_timeout`] is closed (SSE streams
//! send a keep-alive every 15 s); connections and distinct keys are capped.
//!
//! **Shutdown** (SIGTERM or Ctrl-C, see [`shutdown_signal`]): stop accepting, answer new
//! requests 503, make a waiting `wait_for_sms` return now (its result says why and what to do),
//! let every other call in flight finish (a purchase is never cut off) for up to
//! [`Limits::drain_timeout`], then end the sessions and exit.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use std::borrow::Cow;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use rmcp::model::*;
use rmcp::service::{
    MaybeSendFuture, NotificationContext, RequestContext, RoleServer, SubscriptionContext,
};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData as McpError, ServerHandler};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::app::{App, StartError, MAX_LINE_BYTES};
use crate::config::{ApiKey, Config};
use crate::tools::VirtualSmsServer;
use crate::transport::KeySlot;

/// Where `virtualsms-mcp http` listens without `--listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";

/// The MCP endpoint's path.
pub const MCP_PATH: &str = "/mcp";

/// Tools that may charge the key's account: a key that called one keeps its server (and so its
/// spent budget) for the life of the process.
const SPENDING_TOOLS: &[&str] = &["create_order", "extend_rental", "topup_balance"];

/// What `wait_for_sms` answers when it was cut short by the client (src/tools/errors.rs).
const CANCELLED_TEXT: &str = "Cancelled by the client.";

/// How the tools' missing-key error starts (src/tools/errors.rs) …
const MISSING_KEY_TEXT: &str = "No VirtualSMS API key is configured";
/// … and what it says over HTTP instead.
const NO_KEY_OVER_HTTP: &str = "This request carries no VirtualSMS API key, so this tool cannot \
reach an account. Next step: send your key with every request, as `Authorization: Bearer <key>` \
or `x-api-key: <key>` in the MCP client's HTTP headers (create a key at \
https://virtualsms.io/dashboard, Developer → API keys). Without a key this server offers the \
discovery tools only, and on REST v1 (the live API) even they need a key.";

/// The longest key accepted from a header.
const MAX_KEY_LEN: usize = 256;

/// Bounds on what clients may hold. [`Limits::default`] is what the binary uses; tests shrink
/// the waits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body (413 above it).
    pub max_body_bytes: usize,
    /// A request body must arrive within this (408 otherwise).
    pub body_timeout: Duration,
    /// Request headers must arrive within this, or the connection is closed.
    pub header_timeout: Duration,
    /// A connection with no request in flight and no byte either way for this long is closed.
    pub idle_timeout: Duration,
    /// Open connections at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Distinct keys with a server at once (503 for a new key above it, until one is idle).
    pub max_keys: usize,
    /// A key that never called a spending tool and has no session loses its server after this
    /// long unused.
    pub key_idle: Duration,
    /// At shutdown, how long calls in flight may take to finish.
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: MAX_LINE_BYTES,
            body_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
            max_keys: 1024,
            key_idle: Duration::from_secs(3600),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// How `virtualsms-mcp http` runs.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub listen: SocketAddr,
    /// Requests without a key use the process's `VIRTUALSMS_API_KEY` (a single-user server).
    pub use_env_key: bool,
    pub limits: Limits,
}

impl HttpOptions {
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            use_env_key: false,
            limits: Limits::default(),
        }
    }
}

/// A bound, not yet running, HTTP server.
pub struct HttpServer {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl HttpServer {
    /// Builds the servers (starting the embedded sandbox for `--sandbox`) and binds the address.
    pub async fn bind(config: Config, options: HttpOptions) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(options.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", options.listen))?;
        let addr = listener.local_addr()?;
        if !addr.ip().is_loopback() {
            tracing::warn!(
                %addr,
                "listening on a non-loopback address: anyone who can reach it can use the \
                 server with their own key. Serve it behind a reverse proxy that terminates TLS \
                 (keys travel in headers) and checks the Host header"
            );
        }
        let shared = Shared::new(config, &options, addr).await?;
        Ok(Self {
            listener,
            shared: Arc::new(shared),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then drains (see the module docs) and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Self { listener, shared } = self;
        let limits = shared.limits.clone();
        let router = Router::new()
            .route("/health", get(health))
            .route(MCP_PATH, any(mcp))
            .with_state(shared.clone());
        let stop_connections = CancellationToken::new();
        let connections = Arc::new(Counter::default());
        let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
        let sweeper = tokio::spawn(sweep(shared.clone()));
        tracing::info!(
            "MCP over Streamable HTTP at http://{}{MCP_PATH} (health: /health)",
            listener.local_addr()?
        );
        tokio::pin!(shutdown);
        loop {
            let slot = tokio::select! {
                _ = &mut shutdown => break,
                slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            };
            let stream = tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(err) => {
                        // E.g. out of file descriptors: back off instead of spinning.
                        tracing::warn!(%err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let open = Count::new(&connections);
            tokio::spawn(serve_connection(
                stream,
                router.clone(),
                limits.clone(),
                stop_connections.child_token(),
                (slot, open),
            ));
        }
        drop(listener);
        sweeper.abort();
        shared.drain().await;
        stop_connections.cancel();
        connections.wait_zero(Duration::from_secs(2)).await;
        tracing::info!("HTTP server stopped");
        Ok(())
    }
}

/// Completes on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C: shutting down"),
            },
            Err(err) => {
                tracing::warn!(%err, "cannot watch SIGTERM; Ctrl-C still stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C: shutting down");
    }
}

/// Everything the request handlers share.
struct Shared {
    /// The configuration every tenant is built from: the template's, without a key or wallet.
    base: Config,
    /// Keeps the embedded sandbox (if any) running.
    _template: App,
    rmcp: StreamableHttpServerConfig,
    limits: Limits,
    tenants: Mutex<HashMap<[u8; 32], Arc<Tenant>>>,
    /// Requests without a key: discovery tools only.
    anonymous: Arc<Tenant>,
    /// `--use-env-key`: requests without a key use the process's key.
    env: Option<Arc<Tenant>>,
    /// Cancelled at shutdown: a waiting wait_for_sms returns.
    stop_waits: CancellationToken,
    draining: AtomicBool,
    /// POST requests not yet answered in full.
    in_flight: Arc<Counter>,
}

impl Shared {
    async fn new(config: Config, options: &HttpOptions, addr: SocketAddr) -> anyhow::Result<Self> {
        let template = App::new_shared(config).await?;
        let mut base = template.server.state().config.clone();
        base.api_key = None;
        // A client's key must never spend the operator's wallet: top-ups only for the
        // single-user server's own key (`--use-env-key`, the template below).
        base.x402.wallet = None;
        base.x402.solana_wallet = None;

        let stop_sessions = CancellationToken::new();
        let mut rmcp = StreamableHttpServerConfig::default()
            .with_cancellation_token(stop_sessions)
            .with_max_request_body_bytes(options.limits.max_body_bytes)
            .with_sse_keep_alive(Some(Duration::from_secs(15)));
        if !addr.ip().is_loopback() {
            rmcp = rmcp.disable_allowed_hosts();
        }
        let stop_waits = CancellationToken::new();
        let make = |label: &str, server: VirtualSmsServer| {
            Arc::new(Tenant::new(label.to_owned(), server, &rmcp, &stop_waits))
        };
        let anonymous = make("anonymous", discovery_only(&base)?);
        let env = if options.use_env_key {
            if !template.server.state().key.is_set() {
                anyhow::bail!(
                    "--use-env-key: no key to use; set VIRTUALSMS_API_KEY (or drop \
                     --use-env-key and send the key with each request)"
                );
            }
            Some(make("env", template.server.clone()))
        } else {
            None
        };
        Ok(Self {
            base,
            _template: template,
            rmcp,
            limits: options.limits.clone(),
            tenants: Mutex::default(),
            anonymous,
            env,
            stop_waits,
            draining: AtomicBool::new(false),
            in_flight: Arc::new(Counter::default()),
        })
    }

    /// The tenant of `key`, built on first use. `Err`: too many keys are in use.
    fn tenant(&self, key: &str) -> Result<Arc<Tenant>, (StatusCode, &'static str)> {
        let hash: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tenant) = tenants.get(&hash) {
            return Ok(tenant.clone());
        }
        if tenants.len() >= self.limits.max_keys {
            let idle = self.limits.key_idle.min(Duration::from_secs(600));
            tenants.retain(|_, t| !t.evictable(idle));
        }
        if tenants.len() >= self.limits.max_keys {
            tracing::warn!(
                keys = tenants.len(),
                "refused a new API key: too many in use"
            );
            return Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "This server holds too many API keys right now; try again in a few minutes.",
            ));
        }
        let label: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
        let slot = KeySlot::new(Some(ApiKey::new(key)));
        // A client's key is a VirtualSMS key: the operator's keys of other providers are never
        // spent on a client's behalf.
        let mut config = self.base.clone();
        config.providers = vec![crate::providers::DEFAULT_PROVIDER.to_owned()];
        let providers = crate::providers::build(&config, slot.clone()).map_err(|e| {
            tracing::error!(client = %label, "cannot build a backend: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot set up the VirtualSMS API client",
            )
        })?;
        let server = VirtualSmsServer::new(providers, slot, config);
        let tenant = Arc::new(Tenant::new(label, server, &self.rmcp, &self.stop_waits));
        tracing::info!(client = %tenant.label, keys = tenants.len() + 1, "new API key");
        tenants.insert(hash, tenant.clone());
        Ok(tenant)
    }

    /// Refuses new requests, makes waiting wait_for_sms calls return, waits for the calls in
    /// flight (up to the drain timeout), then ends every session.
    async fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
        let waiting = self.in_flight.get();
        tracing::info!(
            in_flight = waiting,
            "shutting down: refusing new requests, finishing the calls in flight"
        );
        self.stop_waits.cancel();
        if !self.in_flight.wait_zero(self.limits.drain_timeout).await {
            tracing::warn!(
                in_flight = self.in_flight.get(),
                "calls still in flight after {:?}; closing them",
                self.limits.drain_timeout
            );
        }
        self.rmcp.cancellation_token.cancel();
    }
}

/// A server, and its MCP sessions, for one key (or for no key).
struct Tenant {
    /// `anonymous`, `env`, or the first 8 hex digits of the key's SHA-256: for logs.
    label: String,
    service: StreamableHttpService<Guarded, LocalSessionManager>,
    sessions: Arc<LocalSessionManager>,
    /// A tool that may charge has been called with this key.
    spent: Arc<AtomicBool>,
    last_used: Mutex<Instant>,
}

impl Tenant {
    fn new(
        label: String,
        server: VirtualSmsServer,
        rmcp: &StreamableHttpServerConfig,
        stop_waits: &CancellationToken,
    ) -> Self {
        let spent = Arc::new(AtomicBool::new(false));
        let guarded = Guarded {
            inner: server,
            stop_waits: stop_waits.clone(),
            spent: spent.clone(),
        };
        let sessions = Arc::new(LocalSessionManager::default());
        let service =
            StreamableHttpService::new(move || Ok(guarded.clone()), sessions.clone(), rmcp.clone());
        Self {
            label,
            service,
            sessions,
            spent,
            last_used: Mutex::new(Instant::now()),
        }
    }

    fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    /// True when dropping this tenant loses nothing: no spending, no session, no request (the
    /// map holds the only reference), unused for `idle`.
    fn evictable(self: &Arc<Self>, idle: Duration) -> bool {
        Arc::strong_count(self) == 1
            && !self.spent.load(Ordering::SeqCst)
            && self
                .sessions
                .sessions
                .try_read()
                .is_ok_and(|sessions| sessions.is_empty())
            && self
                .last_used
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .elapsed()
                >= idle
    }
}

/// Every few minutes, drop the servers of keys unused for [`Limits::key_idle`] that lose
/// nothing by it (see [`Tenant::evictable`]).
async fn sweep(shared: Arc<Shared>) {
    let every = (shared.limits.key_idle / 4).max(Duration::from_secs(1));
    loop {
        tokio::time::sleep(every).await;
        let mut tenants = shared.tenants.lock().unwrap_or_else(|p| p.into_inner());
        let before = tenants.len();
        tenants.retain(|_, t| !t.evictable(shared.limits.key_idle));
        if tenants.len() < before {
            tracing::debug!(dropped = before - tenants.len(), "dropped idle API keys");
        }
    }
}

/// The configuration of the server for requests without a key: the discovery tools only (of
/// those the selection keeps), no key.
fn discovery_only(base: &Config) -> Result<VirtualSmsServer, StartError> {
    let mut config = base.clone();
    let discovery = crate::toolsets::TOOLSETS
        .iter()
        .find(|(set, _)| *set == "discovery")
        .map(|(_, tools)| *tools)
        .unwrap_or_default();
    config.tools.include = Some(
        discovery
            .iter()
            .copied()
            .filter(|tool| base.tools.keeps(tool))
            .collect(),
    );
    config.providers = vec![crate::providers::DEFAULT_PROVIDER.to_owned()];
    let slot = KeySlot::new(None);
    let providers = crate::providers::build(&config, slot.clone())?;
    Ok(VirtualSmsServer::new(providers, slot, config))
}

/// The key a request names, if any. `Err` says what is wrong with the headers.
fn request_key(headers: &HeaderMap) -> Result<Option<String>, &'static str> {
    const BEARER: &str = "the Authorization header must be `Bearer <your VirtualSMS API key>`";
    let bearer = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let value = value.to_str().map_err(|_| BEARER)?.trim();
            let (scheme, key) = value.split_once(' ').ok_or(BEARER)?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(BEARER);
            }
            Some(key.trim())
        }
    };
    let x_api_key = headers
        .get("x-api-key")
        .map(|v| v.to_str().map(str::trim))
        .transpose()
        .map_err(|_| "the x-api-key header is not plain text")?;
    let key = match (bearer, x_api_key) {
        (Some(a), Some(b)) if a != b => {
            return Err("Authorization and x-api-key name different keys; send one of them")
        }
        (a, b) => a.or(b),
    };
    match key {
        None => Ok(None),
        Some("") => Err("the API key header is empty"),
        Some(k) if k.len() > MAX_KEY_LEN || !k.bytes().all(|b| b.is_ascii_graphic()) => {
            Err("that is not a VirtualSMS API key (at most 256 visible ASCII characters)")
        }
        Some(k) => Ok(Some(k.to_owned())),
    }
}

fn plain(status: StatusCode, message: &'static str) -> Response {
    (status, message).into_response()
}

async fn health(State(shared): State<Arc<Shared>>) -> Response {
    if shared.draining.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "draining"})),
        )
            .into_response();
    }
    axum::Json(serde_json::json!({
        "status": "ok",
        "name": env!("CARGO_PKG_NAME"),
        "version": env!("CARGO_PKG_VERSION"),
        "sandbox": shared.base.sandbox,
    }))
    .into_response()
}

/// `/mcp`: find the key's tenant and hand the request to its rmcp service.
async fn mcp(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    // Counted before the draining check, so the drain never misses a request it let through.
    let in_flight = (request.method() == Method::POST).then(|| Count::new(&shared.in_flight));
    if shared.draining.load(Ordering::SeqCst) {
        let mut response = plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server is shutting down; retry in a moment.",
        );
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    let tenant = match request_key(request.headers()) {
        Err(problem) => return plain(StatusCode::BAD_REQUEST, problem),
        Ok(Some(key)) => match shared.tenant(&key) {
            Ok(tenant) => tenant,
            Err((status, message)) => return plain(status, message),
        },
        Ok(None) => shared
            .env
            .clone()
            .unwrap_or_else(|| shared.anonymous.clone()),
    };
    tenant.touch();
    let (mut parts, body) = request.into_parts();
    // Past this point the key is in its KeySlot only (rmcp hands the headers to the tools).
    parts.headers.remove(header::AUTHORIZATION);
    parts.headers.remove("x-api-key");
    let body = if parts.method == Method::POST {
        let read = axum::body::to_bytes(body, shared.limits.max_body_bytes);
        match tokio::time::timeout(shared.limits.body_timeout, read).await {
            Err(_) => {
                return plain(
                    StatusCode::REQUEST_TIMEOUT,
                    "The request body did not arrive in time.",
                )
            }
            Ok(Err(_)) => {
                return plain(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "The request body is over 4 MiB (or broke off).",
                )
            }
            Ok(Ok(bytes)) => Body::from(bytes),
        }
    } else {
        body
    };
    let label = tenant.label.clone();
    let delete = parts.method == Method::DELETE;
    if delete {
        // rmcp answers a DELETE of a session it does not know like a success; say it is unknown
        // under this key (it may live under another key, and stays alive there).
        let id = parts
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok());
        if let Some(id) = id {
            if !tenant.sessions.sessions.read().await.contains_key(id) {
                return plain(StatusCode::NOT_FOUND, "Session not found.");
            }
        }
    }
    let mut response = tenant
        .service
        .handle(Request::from_parts(parts, body))
        .await;
    if delete && response.status() == StatusCode::ACCEPTED {
        // rmcp answers a session's DELETE with 202; clients (the Python SDK among them) expect
        // 200 or 204 for "terminated".
        *response.status_mut() = StatusCode::OK;
    }
    tracing::debug!(client = %label, status = %response.status(), "MCP request");
    // The tenant and the in-flight count live until the response body (an SSE stream for a
    // tool call) is sent in full.
    response.map(|body| Body::new(Held::new(Body::new(body), (in_flight, tenant))))
}

/// One HTTP/1 connection, with the header, idle and shutdown bounds of [`Limits`].
async fn serve_connection<H: Send + 'static>(
    stream: TcpStream,
    router: Router,
    limits: Limits,
    stop: CancellationToken,
    _hold: H,
) {
    let activity = Arc::new(Activity::new());
    let exchanges = activity.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<_>| {
        let busy = Count::new(&exchanges.busy);
        let router = router.clone();
        async move {
            let response = router
                .oneshot(request.map(Body::new))
                .await
                .unwrap_or_else(|never: Infallible| match never {});
            Ok::<_, Infallible>(response.map(|body| Body::new(Held::new(body, busy))))
        }
    });
    let io = TokioIo::new(Watched {
        io: stream,
        activity: activity.clone(),
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(%err, "connection ended with an error");
            }
        }
        _ = activity.idle(limits.idle_timeout) => tracing::debug!("closed an idle connection"),
        _ = stop.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
        }
    }
}

/// A counter with a wake-up on every decrement.
#[derive(Default)]
struct Counter {
    n: AtomicUsize,
    changed: Notify,
}

impl Counter {
    fn get(&self) -> usize {
        self.n.load(Ordering::SeqCst)
    }

    /// Waits until the count is zero; false when `limit` passed first.
    async fn wait_zero(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.get() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.get() == 0;
            }
        }
    }
}

/// One unit of a [`Counter`], given back on drop.
struct Count(Arc<Counter>);

impl Count {
    fn new(counter: &Arc<Counter>) -> Self {
        counter.n.fetch_add(1, Ordering::SeqCst);
        Self(counter.clone())
    }
}

impl Drop for Count {
    fn drop(&mut self) {
        self.0.n.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}

/// A response body that keeps `hold` alive until the body is sent in full (or dropped).
struct Held<H> {
    inner: Body,
    _hold: H,
}

impl<H> Held<H> {
    fn new(inner: Body, hold: H) -> Self {
        Self { inner, _hold: hold }
    }
}

impl<H: Unpin> http_body::Body for Held<H> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// When a connection last moved a byte, and how many exchanges it has open.
struct Activity {
    since: Instant,
    last_io_ms: AtomicU64,
    busy: Arc<Counter>,
}

impl Activity {
    fn new() -> Self {
        Self {
            since: Instant::now(),
            last_io_ms: AtomicU64::new(0),
            busy: Arc::default(),
        }
    }

    fn touch(&self) {
        let ms = self.since.elapsed().as_millis() as u64;
        self.last_io_ms.store(ms, Ordering::Relaxed);
    }

    /// Completes once the connection has had no exchange open and no I/O for `limit`.
    async fn idle(&self, limit: Duration) {
        loop {
            let last = Duration::from_millis(self.last_io_ms.load(Ordering::Relaxed));
            let quiet = self.since.elapsed().saturating_sub(last);
            if quiet >= limit && self.busy.get() == 0 {
                return;
            }
            let wait = limit.saturating_sub(quiet).max(Duration::from_millis(200));
            tokio::time::sleep(wait).await;
        }
    }
}

/// A socket that records its activity.
struct Watched {
    io: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.touch();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// A key's server as the HTTP mode serves it: every request goes to `inner` unchanged, except
/// that at shutdown a waiting `wait_for_sms` is told to return (and its result says why), and
/// a call to a spending tool marks the key as one whose server is kept.
#[derive(Clone)]
struct Guarded {
    inner: VirtualSmsServer,
    stop_waits: CancellationToken,
    spent: Arc<AtomicBool>,
}

impl Guarded {
    async fn guarded_call(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        if SPENDING_TOOLS.contains(&request.name.as_ref()) {
            self.spent.store(true, Ordering::SeqCst);
        }
        let response = if request.name == "wait_for_sms" {
            self.stoppable_wait(request, context).await
        } else {
            self.inner.call_tool(request, context).await
        };
        // The tools' advice for a missing key is about the environment of a local server; here
        // the key comes with each request.
        match response {
            Ok(CallToolResponse::Complete(mut result)) if result.is_error == Some(true) => {
                for block in &mut result.content {
                    if block
                        .as_text()
                        .is_some_and(|t| t.text.starts_with(MISSING_KEY_TEXT))
                    {
                        *block = ContentBlock::text(NO_KEY_OVER_HTTP);
                    }
                }
                Ok(CallToolResponse::Complete(result))
            }
            other => other,
        }
    }

    /// wait_for_sms, told to return when the server shuts down (its result then says why).
    async fn stoppable_wait(
        &self,
        request: CallToolRequestParams,
        mut context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let order_id = request
            .arguments
            .as_ref()
            .and_then(|args| args.get("order_id"))
            .and_then(|id| id.as_str())
            .unwrap_or("<order_id>")
            .to_owned();
        let by_client = context.ct.clone();
        let stop = by_client.child_token();
        context.ct = stop.clone();
        let call = self.inner.call_tool(request, context);
        tokio::pin!(call);
        let response = tokio::select! {
            response = &mut call => response,
            _ = self.stop_waits.cancelled() => {
                stop.cancel();
                call.await
            }
        };
        let stopped_by_us = self.stop_waits.is_cancelled() && !by_client.is_cancelled();
        match response {
            Ok(CallToolResponse::Complete(mut result))
                if stopped_by_us && result.is_error == Some(true) =>
            {
                for block in &mut result.content {
                    if block.as_text().is_some_and(|t| t.text == CANCELLED_TEXT) {
                        *block = ContentBlock::text(format!(
                            "The server is shutting down, so the wait stopped early: no new SMS \
                             yet. The order is unchanged and nothing was charged by waiting. \
                             Call wait_for_sms(\"{order_id}\") again when the server is back."
                        ));
                    }
                }
                Ok(CallToolResponse::Complete(result))
            }
            other => other,
        }
    }
}

// Every method but `call_tool` goes to `inner` as is (the list is rmcp 3.9's own wrapper
// delegation, `impl_server_handler_for_wrapper!`, so no capability of the server is lost; the
// deprecated logging and legacy subscription methods too, for the clients that still use them).
#[allow(deprecated)]
impl ServerHandler for Guarded {
    fn ping(
        &self,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        self.inner.ping(context)
    }

    fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<InitializeResult, McpError>> + MaybeSendFuture + '_ {
        self.inner.initialize(request, context)
    }

    fn negotiate_initialize(
        &self,
        request: &InitializeRequestParams,
    ) -> Result<InitializeResult, McpError> {
        self.inner.negotiate_initialize(request)
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        self.inner.supported_protocol_versions()
    }

    fn discover(
        &self,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<DiscoverResult, McpError>> + MaybeSendFuture + '_ {
        self.inner.discover(context)
    }

    fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<CompleteResult, McpError>> + MaybeSendFuture + '_ {
        self.inner.complete(request, context)
    }

    fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        self.inner.set_level(request, context)
    }

    fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<GetPromptResponse, McpError>> + MaybeSendFuture + '_ {
        self.inner.get_prompt(request, context)
    }

    fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListPromptsResult, McpError>> + MaybeSendFuture + '_ {
        self.inner.list_prompts(request, context)
    }

    fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListResourcesResult, McpError>> + MaybeSendFuture + '_ {
        self.inner.list_resources(request, context)
    }

    fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListResourceTemplatesResult, McpError>> + MaybeSendFuture + '_
    {
        self.inner.list_resource_templates(request, context)
    }

    fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ReadResourceResponse, McpError>> + MaybeSendFuture + '_ {
        self.inner.read_resource(request, context)
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        self.inner.accepted_subscription_filter(requested)
    }

    fn listen(
        &self,
        context: SubscriptionContext,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        self.inner.listen(context)
    }

    fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        self.inner.subscribe(request, context)
    }

    fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        self.inner.unsubscribe(request, context)
    }

    fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<CallToolResponse, McpError>> + MaybeSendFuture + '_ {
        self.guarded_call(request, context)
    }

    fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListToolsResult, McpError>> + MaybeSendFuture + '_ {
        self.inner.list_tools(request, context)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.inner.get_tool(name)
    }

    fn on_custom_request(
        &self,
        request: CustomRequest,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<CustomResult, McpError>> + MaybeSendFuture + '_ {
        self.inner.on_custom_request(request, context)
    }

    fn on_cancelled(
        &self,
        notification: CancelledNotificationParam,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.inner.on_cancelled(notification, context)
    }

    fn on_progress(
        &self,
        notification: ProgressNotificationParam,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.inner.on_progress(notification, context)
    }

    fn on_initialized(
        &self,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.inner.on_initialized(context)
    }

    fn on_roots_list_changed(
        &self,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.inner.on_roots_list_changed(context)
    }

    fn on_custom_notification(
        &self,
        notification: CustomNotification,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = ()> + MaybeSendFuture + '_ {
        self.inner.on_custom_notification(notification, context)
    }

    fn get_info(&self) -> ServerConfig {
        self.inner.get_info()
    }

    fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<GetTaskResult, McpError>> + MaybeSendFuture + '_ {
        self.inner.get_task(request, context)
    }

    fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        self.inner.update_task(request, context)
    }

    fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<(), McpError>> + MaybeSendFuture + '_ {
        self.inner.cancel_task(request, context)
    }

    fn list_skills(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ListSkillsResult, McpError>> + MaybeSendFuture + '_ {
        self.inner.list_skills(request, context)
    }

    fn get_skill(
        &self,
        request: GetSkillRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<GetSkillResult, McpError>> + MaybeSendFuture + '_ {
        self.inner.get_skill(request, context)
    }

    fn read_resource_directory(
        &self,
        request: ReadResourceDirectoryRequestParams,
        context: RequestContext<RoleServer>,
    ) -> impl Future<Output = Result<ReadResourceDirectoryResult, McpError>> + MaybeSendFuture + '_
    {
        self.inner.read_resource_directory(request, context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_key_comes_from_bearer_or_x_api_key() {
        assert_eq!(request_key(&headers(&[])), Ok(None));
        assert_eq!(
            request_key(&headers(&[("authorization", "Bearer vsms_a")])),
            Ok(Some("vsms_a".into()))
        );
        assert_eq!(
            request_key(&headers(&[("authorization", "bearer  vsms_a ")])),
            Ok(Some("vsms_a".into()))
        );
        assert_eq!(
            request_key(&headers(&[("x-api-key", "vsms_b")])),
            Ok(Some("vsms_b".into()))
        );
        assert_eq!(
            request_key(&headers(&[
                ("authorization", "Bearer vsms_b"),
                ("x-api-key", "vsms_b")
            ])),
            Ok(Some("vsms_b".into()))
        );
    }

    #[test]
    fn unclear_key_headers_are_refused() {
        for bad in [
            headers(&[("authorization", "Basic dXNlcjpwYXNz")]),
            headers(&[("authorization", "vsms_a")]),
            headers(&[("authorization", "Bearer ")]),
            headers(&[("x-api-key", "")]),
            headers(&[("x-api-key", "two words")]),
            headers(&[("authorization", "Bearer a"), ("x-api-key", "b")]),
        ] {
            assert!(request_key(&bad).is_err(), "{bad:?}");
        }
        let long = "k".repeat(MAX_KEY_LEN + 1);
        assert!(request_key(&headers(&[("x-api-key", &long)])).is_err());
    }

    #[tokio::test]
    async fn wait_zero_sees_the_last_release() {
        let counter = Arc::new(Counter::default());
        let one = Count::new(&counter);
        assert!(!counter.wait_zero(Duration::from_millis(20)).await);
        let waiter = {
            let counter = counter.clone();
            tokio::spawn(async move { counter.wait_zero(Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(one);
        assert!(waiter.await.unwrap());
    }
}
