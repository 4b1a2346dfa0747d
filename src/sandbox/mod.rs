//! A stateful, in-memory fake of the VirtualSMS REST API v2 (`/work/shared/api/virtualsms-rest-v2.md`),
//! for tests, demos and the `--sandbox` / `sandbox-api` modes.
//!
//! It keeps real state — accounts with balances and a ledger, orders moving through the order
//! state machine, stock, idempotency records and a per-key rate limit — and answers with the
//! contract's paths, JSON shapes, status codes and RFC 7807 problem+json errors. On top of that it
//! can misbehave on purpose ([`Fault`]): problem answers, proxy HTML pages, empty or malformed
//! bodies, huge bodies, delays, and connections dropped before or after the request is processed.
//!
//! Layout:
//! - [`catalog`]: the static services/countries/prices/stock/rental catalog;
//! - `state`: accounts, ledger, rate limiter, idempotency store, fault queue, request log;
//! - `orders`: the order model and state machine; `sms`: SMS arrival (scheduled and by hand);
//! - `pipeline`: the middleware every `/api/v2` request passes (log → fault → rate limit → auth →
//!   idempotency);
//! - `routes`: the REST v2 handlers; `admin`: the `/admin` control routes;
//! - `problem`: problem+json rendering.
//!
//! Everything is driven the same way from Rust ([`FakeApi`] methods) and over HTTP (`/admin`).
//!
//! The x402 deposit flow ([`x402`]: `/api/v1/x402/topup`, `/api/v1/x402/info`, v1 and v2
//! requirements for Base and Solana, payments verified like a facilitator would, issued keys,
//! and a fake Solana RPC at `/solana-rpc`) is driven from Rust only, through [`FakeApi::x402`].

pub mod catalog;

mod admin;
mod orders;
mod pipeline;
mod problem;
mod routes;
mod sms;
pub mod solana;
mod state;
mod util;
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
}

impl Default for FakeOptions {
    /// SMS after 5 s, 60 requests/min, any key, $10.00 per new account, 20-minute activations.
    fn default() -> Self {
        FakeOptions {
            sms_delay: Some(Duration::from_secs(5)),
            rate_limit_per_minute: 60,
            api_keys: Vec::new(),
            starting_balance_cents: 1000,
            order_lifetime: Duration::from_secs(20 * 60),
        }
    }
}

/// Something to do to the next `/api/v2` requests instead of (or besides) answering normally.
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
    /// Echo the request back, Authorization header included, like a debugging proxy — for leak
    /// tests. A 2xx status answers `application/json` with a JSON *string* of the echo (so it
    /// cannot decode as the expected shape); any other status answers problem+json whose
    /// `detail` carries the echo and whose `type`, `title` and `instance` carry the
    /// Authorization value, plus an `echo` member with every header.
    EchoRequest { status: u16 },
}

/// One `/api/v2` request as it arrived (recorded before any fault is applied).
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// e.g. `/api/v2/orders/ord_1/sms`
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

    /// The whole app: REST v2 at /api/v2/..., admin at /admin/...  (shared by the binary and tests)
    ///
    /// Served by anything other than [`FakeApi::spawn`] / [`FakeApi::serve`], the two `Drop*`
    /// faults cannot close the connection and answer an empty 502 instead.
    pub fn router(&self) -> axum::Router {
        routes::router(self.shared.clone())
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

    /// Every /api/v2 request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    pub fn clear_requests(&self) {
        self.shared.clear_requests();
    }

    /// Orders ever created (all keys).
    pub fn order_count(&self) -> usize {
        self.shared.order_count()
    }

    /// Ledger entries of type "charge" (all keys; order creations and rental extensions).
    pub fn charge_count(&self) -> usize {
        self.shared.charge_count()
    }

    /// Balance of `api_key` in cents; a key never seen yet reports the starting balance it would get.
    pub fn balance_cents(&self, api_key: &str) -> i64 {
        self.shared.balance_cents(api_key)
    }

    /// An SMS arrives now; code extracted from `text` (first 4-8 digit run) or, without text, a
    /// realistic message with a generated code.
    pub fn deliver_sms(&self, order_id: &str, text: Option<&str>) -> Result<(), String> {
        self.shared.deliver_sms(order_id, text)
    }

    /// The order expires now (unless already finished).
    pub fn expire_order(&self, order_id: &str) -> Result<(), String> {
        self.shared.expire_order(order_id)
    }

    /// Applies `fault` to the next `count` /api/v2 requests (queued after faults already injected).
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
    /// `http://127.0.0.1:PORT/api/v2`
    pub fn base_url(&self) -> String {
        format!("http://{}/api/v2", self.addr)
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
