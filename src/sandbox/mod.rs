//! A stateful, in-memory fake of the VirtualSMS REST API, speaking both dialects from one state
//! machine: REST v2 at `/api/v2` (`../shared/api/virtualsms-rest-v2.md`, Bearer keys, RFC 7807
//! problems) and the live REST v1 at `/api/v1` (`../shared/api/virtualsms-rest-v1.md`, `X-API-Key`,
//! `{"error": ...}` bodies, the wire shapes agreed for this project), for tests, demos and the
//! `--sandbox` / `sandbox-api` modes.
//!
//! It keeps real state — accounts with balances and a ledger, orders moving through the order
//! state machine, stock, idempotency records (v2 only) and a per-key rate limit shared by both
//! dialects — and answers with each contract's paths, JSON shapes, status codes and errors. On
//! top of that it can misbehave on purpose ([`Fault`], one queue for both dialects): problem
//! answers, proxy HTML pages, empty or malformed bodies, huge bodies, delays, and connections
//! dropped before or after the request is processed.
//!
//! Layout:
//! - [`catalog`]: the static services (v2 slug + v1 code)/countries/prices/stock/rental catalog;
//! - `state`: accounts, ledger, rate limiter, idempotency store, fault queue, request log;
//! - `orders`: the order model and state machine; `sms`: SMS arrival (scheduled and by hand);
//! - `pipeline`: the middleware every `/api/v1` and `/api/v2` request passes (log → fault → rate
//!   limit → auth → idempotency on v2), rendering problems in the request's dialect;
//! - `v2`: the REST v2 handlers; `v1`: the REST v1 handlers, its error bodies, and the v1 views of
//!   the shared orders (activations with UUID ids, rentals with `rnt_` ids);
//! - [`smscode`]: the SMSCode dialect at `/smscode/v1` (`../shared/api/smscode.md`), over the
//!   same state, log, faults and rate limiter;
//! - `admin`: the `/admin` control routes; `problem`: problem+json rendering (v2, admin, x402).
//!
//! Either dialect can be switched off ([`FakeOptions::serve_v1`] / [`FakeOptions::serve_v2`]) to
//! imitate an origin that serves only the other one.
//!
//! Everything is driven the same way from Rust ([`FakeApi`] methods) and over HTTP (`/admin`).
//!
//! The x402 deposit flow ([`x402`]: `/api/v1/x402/topup`, `/api/v1/x402/info`, v1 and v2
//! requirements for Base and Solana, payments verified like a facilitator would, issued keys,
//! and a fake Solana RPC at `/solana-rpc`) is driven from Rust only, through [`FakeApi::x402`];
//! it keeps its own request log and error style and is not part of the v1 pipeline.

pub mod catalog;

mod admin;
mod orders;
mod pipeline;
mod problem;
mod sms;
pub mod smscode;
mod smsverificationservice;
pub mod solana;
mod state;
mod util;
mod v1;
mod v2;
pub mod x402;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use state::Shared;

/// How the fake behaves. See [`FakeOptions::default`] for the defaults.
#[derive(Clone, Debug)]
pub struct FakeOptions {
    /// Delay after an order is created or swapped before a realistic SMS arrives; None = never by itself (tests use deliver_sms).
    pub sms_delay: Option<Duration>,
    /// Requests per minute per API key before 429 (contract: 60). 0 = unlimited.
    pub rate_limit_per_minute: u32,
    /// Accepted bearer keys. Empty = accept any non-empty bearer token.
    pub api_keys: Vec<String>,
    /// Balance each new account starts with, in cents.
    pub starting_balance_cents: i64,
    /// How long an activation (non-rental) order lives before it expires.
    pub order_lifetime: Duration,
    /// v1 only: how long after purchase (or swap) an activation can be cancelled or swapped;
    /// earlier attempts answer 425. Live: 120 s. `Duration::ZERO` = at once.
    pub cancel_cooldown: Duration,
    /// Serve the REST v1 dialect at `/api/v1` (x402 is served either way). When false, every
    /// other `/api/v1` path answers 404 `{"error":"Not found"}` (recorded in the request log,
    /// never faulted or rate limited): an origin that only speaks v2.
    pub serve_v1: bool,
    /// Serve the REST v2 dialect at `/api/v2`. When false, every `/api/v2` path answers 404
    /// `{"error":"Not found"}` (recorded, never faulted or rate limited): an origin that only
    /// speaks v1, as the live service does.
    pub serve_v2: bool,
}

impl Default for FakeOptions {
    /// SMS after 5 s, 60 requests/min, any key, $10.00 per new account, 20-minute activations,
    /// a 120 s v1 cancel/swap cooldown, both dialects served.
    fn default() -> Self {
        FakeOptions {
            sms_delay: Some(Duration::from_secs(5)),
            rate_limit_per_minute: 60,
            api_keys: Vec::new(),
            starting_balance_cents: 1000,
            order_lifetime: Duration::from_secs(20 * 60),
            cancel_cooldown: Duration::from_secs(120),
            serve_v1: true,
            serve_v2: true,
        }
    }
}

/// Something to do to the next `/api/v1` or `/api/v2` requests (one queue for both dialects; not
/// x402, admin, or a switched-off dialect) instead of (or besides) answering normally. On v1, error
/// answers use v1's `{"error": ...}` body instead of problem+json.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status and a problem+json body of this slug (type URL built from it), plus optional Retry-After header value verbatim (e.g. "2", "-5", an HTTP date).
    Problem {
        status: u16,
        slug: String,
        retry_after: Option<String>,
    },
    /// Answer with status and an HTML page (Content-Type text/html), like a proxy's 502.
    Html { status: u16 },
    /// Answer with status and an empty body and no content type.
    Empty { status: u16 },
    /// 200 with Content-Type application/json and a truncated/malformed JSON body.
    MalformedJson,
    /// 200 with Content-Type text/plain and a JSON-looking body.
    WrongContentType,
    /// 200 application/json with a body of `bytes` bytes (a valid huge JSON array) — for body-size limits.
    Huge { bytes: usize },
    /// Sleep this long before processing.
    Delay(Duration),
    /// Close the TCP connection without any response, BEFORE the request is processed (no state change).
    DropBeforeProcessing,
    /// Process the request fully (state changes, charges, idempotency record stored), then close the TCP connection without sending the response.
    DropAfterProcessing,
    /// Echo the request back, key header included, like a debugging proxy — for leak tests. A
    /// 2xx status answers `application/json` with a JSON *string* of the echo (so it cannot
    /// decode as the expected shape). Any other status: on v2, problem+json whose `detail`
    /// carries the echo and whose `type`, `title` and `instance` carry the Authorization value,
    /// plus an `echo` member with every header; on v1, JSON whose `message` is the `X-API-Key`
    /// value and whose `error` carries the echo followed by that value, plus the same `echo`.
    EchoRequest { status: u16 },
}

impl Fault {
    /// A problem answer of this status and slug, without Retry-After.
    pub fn problem(status: u16, slug: &str) -> Self {
        Fault::Problem {
            status,
            slug: slug.to_owned(),
            retry_after: None,
        }
    }
}

/// One `/api/v1` or `/api/v2` request as it arrived (recorded before any fault is applied).
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// The full path, e.g. `/api/v2/orders/ord_1/sms` or `/api/v1/customer/purchase`.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    /// Header names are lowercase; values that are not UTF-8 are decoded lossily.
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy UTF-8).
    pub body: String,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An order id as the fake knows it: the MCP tools show other providers' ids as
/// `<provider>:<id>` (and VirtualSMS v1 rentals as `rental:<id>`); the controls accept both.
fn own_id(order_id: &str) -> &str {
    ["smscode:", "smsverificationservice:", "rental:"]
        .iter()
        .find_map(|p| order_id.strip_prefix(p))
        .unwrap_or(order_id)
}

/// Per-connection kill switch, put into each request's extensions by the accept loop. Notifying it
/// makes the connection task drop the connection (and socket) without writing a response.
#[derive(Clone, Debug)]
pub(crate) struct ConnKill(pub Arc<Notify>);

/// The fake API. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct FakeApi {
    shared: Arc<Shared>,
}

impl FakeApi {
    pub fn new(options: FakeOptions) -> Self {
        FakeApi {
            shared: Arc::new(Shared::new(options)),
        }
    }

    /// The whole app: REST v1 at /api/v1/..., REST v2 at /api/v2/..., x402 at /api/v1/x402/...,
    /// admin at /admin/...  (shared by the binary and tests)
    ///
    /// Served by anything other than [`FakeApi::spawn`] / [`FakeApi::serve`], the two `Drop*`
    /// faults cannot close the connection and answer an empty 502 instead.
    pub fn router(&self) -> axum::Router {
        router(self.shared.clone())
    }

    /// Bind `addr` (tests use 127.0.0.1:0) and serve in a spawned tokio task until the handle is dropped or shut down.
    pub async fn spawn(&self, addr: SocketAddr) -> std::io::Result<FakeHandle> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let token = CancellationToken::new();
        let api = self.clone();
        let stop = token.clone();
        let task = tokio::spawn(async move { api.serve(listener, stop.cancelled_owned()).await });
        Ok(FakeHandle {
            addr,
            token,
            task: Some(task),
        })
    }

    /// Serve on `listener` until `shutdown` completes (for a binary that owns its listener).
    /// Open connections, long-polls included, are closed at shutdown.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let token = CancellationToken::new();
        // Connection tasks watch the token; cancelling it on exit also closes them.
        let _stop_connections = token.clone().drop_guard();
        let router = self.router();
        tokio::pin!(shutdown);
        loop {
            let (stream, _peer) = tokio::select! {
                _ = &mut shutdown => return Ok(()),
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(err) => {
                        // E.g. out of file descriptors: back off instead of spinning.
                        tracing::warn!(%err, "sandbox: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(serve_connection(
                stream,
                router.clone(),
                token.child_token(),
            ));
        }
    }

    /// Every /api/v1 and /api/v2 request received (x402 excluded: see [`x402::FakeX402::requests`]), in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    pub fn clear_requests(&self) {
        self.shared.clear_requests();
    }

    /// Orders ever created (all keys, both dialects): v2 orders, v1 activations (a v1 swap
    /// creates one: the replacement order) and v1 rentals.
    pub fn order_count(&self) -> usize {
        self.shared.order_count()
    }

    /// Ledger entries of type "charge" (v1: "purchase"), all keys, both dialects: order and
    /// rental creations and rental extensions. A v1 swap charges nothing.
    pub fn charge_count(&self) -> usize {
        self.shared.charge_count()
    }

    /// Balance of `api_key` in cents; a key never seen yet reports the starting balance it would get.
    pub fn balance_cents(&self, api_key: &str) -> i64 {
        self.shared.balance_cents(api_key)
    }

    /// An SMS arrives now; code extracted from `text` (first 4-8 digit run) or, without text, a
    /// realistic message with a generated code. Works for any order id: v2 `ord_…`, v1 activation
    /// UUIDs (the order becomes v1 `completed`) and v1 `rnt_…` rentals (their `sms_received`
    /// count and `last_sms_at` move; v1 shows no rental SMS text).
    pub fn deliver_sms(&self, order_id: &str, text: Option<&str>) -> Result<(), String> {
        self.shared.deliver_sms(own_id(order_id), text)
    }

    /// The order (or v1 rental) expires now (unless already finished).
    pub fn expire_order(&self, order_id: &str) -> Result<(), String> {
        self.shared.expire_order(own_id(order_id))
    }

    /// Move the order's (or v1 rental's) clock back by `by`: as if it had been created `by`
    /// earlier, every timestamp of it (created/started, expiry, v1 cancel/swap availability,
    /// message times) shifts back. Lets tests pass the v1 cooldown, the 20-minute rental cancel
    /// window or the 2-hour release hold without sleeping. An order aged past its expiry expires
    /// on its next access, as it would have by waiting. `Err` names an unknown id.
    pub fn age_order(&self, order_id: &str, by: Duration) -> Result<(), String> {
        self.shared.age_order(own_id(order_id), by)
    }

    /// Applies `fault` to the next `count` /api/v1 or /api/v2 requests (queued after faults
    /// already injected).
    pub fn inject(&self, fault: Fault, count: u32) {
        self.shared.inject(fault, count);
    }

    /// Change the per-key limit (0 = unlimited); also forgets the requests counted so far.
    pub fn set_rate_limit(&self, per_minute: u32) {
        self.shared.set_rate_limit(per_minute);
    }

    /// Long-poll handlers currently held open.
    pub fn open_long_polls(&self) -> usize {
        self.shared.open_long_polls()
    }

    /// The x402 deposit flow: settled top-ups, its request log, tamper and outage switches.
    pub fn x402(&self) -> &x402::FakeX402 {
        &self.shared.x402
    }
}

/// The whole app: both dialects, x402 and admin behind the pipeline.
fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new()
        .merge(v2::routes())
        .merge(v1::routes())
        .merge(smscode::routes())
        .merge(smsverificationservice::routes())
        // The x402 deposit flow: /api/v1/x402/topup and /api/v1/x402/info.
        .merge(x402::routes())
        .merge(admin::routes())
        .fallback(pipeline::not_found)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            pipeline::pipeline,
        ))
        .with_state(shared)
}

/// One HTTP/1 connection. Ends when hyper is done, when a handler pulls the kill switch, or at
/// server shutdown; dropping `conn` drops the socket, which is what makes a kill a real hang-up.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    router: axum::Router,
    stop: CancellationToken,
) {
    let kill = Arc::new(Notify::new());
    let switch = ConnKill(kill.clone());
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(switch.clone());
        router.clone().oneshot(req.map(Body::new))
    });
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = conn => {
            if let Err(err) = result {
                tracing::debug!(%err, "sandbox: connection ended with an error");
            }
        }
        _ = kill.notified() => tracing::debug!("sandbox: connection dropped by an injected fault"),
        _ = stop.cancelled() => {}
    }
}

/// A running fake server. Dropping it stops the server.
pub struct FakeHandle {
    pub addr: SocketAddr,
    token: CancellationToken,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl FakeHandle {
    /// `http://127.0.0.1:PORT/api/v2`: the REST v2 base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v2", self.addr)
    }

    /// `http://127.0.0.1:PORT/api/v1`: the REST v1 base URL (the same as [`Self::x402_base_url`]).
    pub fn v1_base_url(&self) -> String {
        format!("http://{}/api/v1", self.addr)
    }

    /// `http://127.0.0.1:PORT/smscode/v1`: the SMSCode base URL (see [`smscode`]).
    pub fn smscode_base_url(&self) -> String {
        format!("http://{}{}", self.addr, smscode::PREFIX)
    }

    /// `http://127.0.0.1:PORT/smsverificationservice/api/v1`: the smsVerificationService base URL.
    pub fn smsverificationservice_base_url(&self) -> String {
        format!("http://{}{}", self.addr, smsverificationservice::PREFIX)
    }

    /// `http://127.0.0.1:PORT`: the service origin, for version auto-detection.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/api/v1`: the x402 base URL (`/x402/topup`, `/x402/info`).
    pub fn x402_base_url(&self) -> String {
        format!("http://{}/api/v1", self.addr)
    }

    /// `http://127.0.0.1:PORT/admin`
    pub fn admin_url(&self) -> String {
        format!("http://{}/admin", self.addr)
    }

    /// Stop accepting, close open connections, and wait for the server task to finish.
    pub async fn shutdown(mut self) {
        self.token.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FakeHandle {
    fn drop(&mut self) {
        self.token.cancel();
    }
}
