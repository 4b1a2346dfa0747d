//! The middleware every request passes. For `/api/v1` and `/api/v2` requests (the two
//! [`Dialect`]s), in this order:
//! 1. buffer the body and append the request to the log (before anything can go wrong); a
//!    dialect switched off in [`super::FakeOptions`] stops here with 404 `{"error":"Not found"}`;
//! 2. apply the next injected [`Fault`], if any (consumed even when it only delays; one queue
//!    for both dialects);
//! 3. rate limit per API key (one sliding window per key across both dialects; requests without
//!    a valid key share one bucket);
//! 4. resolve the caller: a valid key becomes [`Caller`] and gets an account. v2 reads
//!    `Authorization: Bearer`, v1 reads `X-API-Key` only (a Bearer header alone is no key there);
//! 5. v2 only: for a POST with `Idempotency-Key`, replay a stored answer or process under the
//!    key's lock. v1 ignores idempotency keys, as live: a repeated purchase is a second order;
//! 6. render problems in the dialect: problem+json on v2 (see [`super::problem`]), `{"error":
//!    ...}` / 401 `{"message": ...}` on v1 (see [`super::v1`]).
//!
//! `/admin` and the x402 routes (`/api/v1/x402/...`) only get step 6, problem+json style.

use std::sync::Arc;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use axum::http::{HeaderMap, Uri};

use super::problem::{finalize, Problem};
use super::state::{Shared, StoredResponse};
use super::v1;
use super::{ConnKill, Fault, RecordedRequest};

/// Larger request bodies are refused with 413 (the real API takes tiny JSON bodies).
const MAX_REQUEST_BODY: usize = 1024 * 1024;

/// Header set on a replayed idempotent answer (informational; clients need not read it).
const REPLAYED: &str = "idempotent-replayed";

/// The authenticated API key of the request, if any (set by the pipeline).
#[derive(Clone, Debug)]
pub(crate) struct Caller(pub Option<String>);

/// Extractor for endpoints that need a key: rejects with 401 `unauthorized`.
pub(crate) struct Authed(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Authed {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .and_then(|c| c.0.clone())
            .map(Authed)
            .ok_or_else(Problem::unauthorized)
    }
}

/// Which REST dialect a path belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    V1,
    V2,
    /// SMSCode at `/smscode/v1` (see [`super::smscode`]).
    SmsCode,
    /// smsVerificationService at `/smsverificationservice/api/v1` (Bearer keys).
    Svs,
}

impl Dialect {
    /// `/api/v2[/...]` is v2; `/api/v1[/...]` is v1 except the x402 routes (`/api/v1/x402[/...]`).
    pub fn of(path: &str) -> Option<Dialect> {
        let under = |prefix: &str| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        if super::smsverificationservice::is_under(path) {
            Some(Dialect::Svs)
        } else if under("/api/v2") {
            Some(Dialect::V2)
        } else if under("/api/v1") && !under("/api/v1/x402") {
            Some(Dialect::V1)
        } else if under(super::smscode::PREFIX) {
            Some(Dialect::SmsCode)
        } else {
            None
        }
    }

    fn served(self, shared: &Shared) -> bool {
        match self {
            Dialect::V1 => shared.options.serve_v1,
            Dialect::V2 => shared.options.serve_v2,
            Dialect::SmsCode => true,
            Dialect::Svs => true,
        }
    }

    /// The API key the request carries in this dialect's header (not yet validated).
    fn key(self, headers: &HeaderMap) -> Option<String> {
        match self {
            Dialect::V1 => x_api_key(headers),
            Dialect::V2 | Dialect::SmsCode | Dialect::Svs => bearer(headers),
        }
    }

    fn render(self, problem: &Problem, path: &str) -> Response {
        match self {
            Dialect::V1 => v1::render_problem(problem),
            Dialect::V2 => problem.render(path),
            Dialect::SmsCode => super::smscode::render_problem(problem),
            Dialect::Svs => super::smsverificationservice::render_problem(problem),
        }
    }

    async fn finalize(self, resp: Response, path: &str) -> Response {
        match self {
            Dialect::V1 => v1::finalize(resp).await,
            Dialect::V2 => finalize(resp, path).await,
            Dialect::SmsCode => super::smscode::finalize(resp).await,
            Dialect::Svs => super::smsverificationservice::finalize(resp).await,
        }
    }
}

/// The fallback for unknown routes: a `not-found` problem, rendered in the path's dialect.
pub(crate) async fn not_found(uri: Uri) -> Problem {
    let detail = match Dialect::of(uri.path()) {
        Some(Dialect::V1 | Dialect::SmsCode) => "Not found",
        Some(Dialect::Svs) => super::smsverificationservice::not_found_detail(),
        _ => "No such endpoint; the API lives under /api/v2 (see the API reference)",
    };
    Problem::new(StatusCode::NOT_FOUND, "not-found", detail)
}

pub(crate) async fn pipeline(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    let Some(dialect) = Dialect::of(&path) else {
        return finalize(next.run(req).await, &path).await;
    };
    let (mut parts, body) = req.into_parts();
    let body = match to_bytes(body, MAX_REQUEST_BODY).await {
        Ok(bytes) => Ok(bytes),
        Err(_) => Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            format!("Request body over {MAX_REQUEST_BODY} bytes (or unreadable)"),
        )),
    };
    shared.record(RecordedRequest {
        method: parts.method.to_string(),
        path: path.clone(),
        query: parts.uri.query().map(str::to_string),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body
            .as_ref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default(),
    });
    if !dialect.served(&shared) {
        return v1::not_found_response();
    }
    let kill = parts.extensions.get::<ConnKill>().cloned();

    let mut drop_after = false;
    if let Some(fault) = shared.next_fault() {
        match fault {
            Fault::Delay(d) => tokio::time::sleep(d).await,
            Fault::DropBeforeProcessing => return hang_up(kill).await,
            Fault::DropAfterProcessing => drop_after = true,
            Fault::EchoRequest { status } => return echo_request(status, &parts, &path, dialect),
            other => return fault_response(&other, &path, dialect),
        }
    }
    let body = match body {
        Ok(b) => b,
        Err(problem) => return dialect.render(&problem, &path),
    };

    let caller = dialect.key(&parts.headers).filter(|k| shared.key_valid(k));
    if let Err(secs) = shared.rate_check(caller.as_deref().unwrap_or("")) {
        let problem = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            format!(
                "Over {} requests per minute for this API key; retry in {secs} s",
                shared.rate_limit()
            ),
        )
        .with_retry_after(secs.to_string());
        return dialect.render(&problem, &path);
    }
    if let Some(key) = &caller {
        shared.ensure_account(key);
    }
    parts.extensions.insert(Caller(caller.clone()));

    let idem_key = parts
        .headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    let is_post = parts.method == Method::POST;
    let req = Request::from_parts(parts, Body::from(body));
    let resp = match (caller, idem_key) {
        (Some(key), Some(idem)) if is_post && dialect == Dialect::V2 => {
            idempotent(&shared, &key, &idem, req, next, &path).await
        }
        _ => dialect.finalize(next.run(req).await, &path).await,
    };
    if drop_after {
        return hang_up(kill).await;
    }
    resp
}

/// Process once per (key, Idempotency-Key); later and concurrent duplicates get the stored answer.
/// Answers that did not reach the business logic (401/429) or failed on our side (5xx) are not
/// stored, so a retry is processed afresh.
async fn idempotent(
    shared: &Shared,
    key: &str,
    idem: &str,
    req: Request,
    next: Next,
    path: &str,
) -> Response {
    let slot = shared.idem_slot(key, idem);
    let mut stored = slot.lock().await;
    if let Some(previous) = stored.as_ref() {
        let mut resp = previous.to_response();
        resp.headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
        return resp;
    }
    let resp = finalize(next.run(req).await, path).await;
    let (parts, body) = resp.into_parts();
    let bytes = to_bytes(body, usize::MAX)
        .await
        .unwrap_or_else(|_| Bytes::new());
    let status = parts.status;
    if !(status.is_server_error()
        || status == StatusCode::UNAUTHORIZED
        || status == StatusCode::TOO_MANY_REQUESTS)
    {
        *stored = Some(StoredResponse {
            status,
            headers: parts
                .headers
                .iter()
                .filter(|(n, _)| *n != header::CONTENT_LENGTH)
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect(),
            body: bytes.clone(),
        });
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// `X-API-Key: <key>` → key (trimmed; an empty key is no key).
fn x_api_key(headers: &HeaderMap) -> Option<String> {
    let key = headers.get("x-api-key")?.to_str().ok()?.trim();
    (!key.is_empty()).then(|| key.to_string())
}

/// `Authorization: Bearer <key>` → key (scheme case-insensitive; an empty key is no key).
fn bearer(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, key) = value.split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then(|| key.to_string())
}

/// Pull the connection's kill switch and never answer. Without one (router served by something
/// other than our accept loop) the best imitation is an empty 502.
async fn hang_up(kill: Option<ConnKill>) -> Response {
    match kill {
        Some(ConnKill(notify)) => {
            notify.notify_one();
            std::future::pending::<Response>().await
        }
        None => {
            tracing::warn!(
                "sandbox: cannot drop a connection outside FakeApi::spawn/serve; answering 502"
            );
            StatusCode::BAD_GATEWAY.into_response()
        }
    }
}

/// The answer for a fault that replaces the response.
fn fault_response(fault: &Fault, path: &str, dialect: Dialect) -> Response {
    let status_of = |s: u16| StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let with = |status: StatusCode, content_type: Option<&'static str>, body: Body| {
        let mut resp = Response::new(body);
        *resp.status_mut() = status;
        if let Some(ct) = content_type {
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        resp
    };
    match fault {
        Fault::Problem {
            status,
            slug,
            retry_after,
        } => {
            let detail = match dialect {
                // The no-stock text is what v1 clients look for in a 5xx body.
                Dialect::V1 if slug == "no-stock" => {
                    "Injected fault (sandbox): no-stock: No numbers available (out of stock)"
                        .to_string()
                }
                Dialect::V1 | Dialect::SmsCode | Dialect::Svs => {
                    format!("Injected fault (sandbox): {slug}")
                }
                Dialect::V2 => "Injected fault (sandbox)".to_string(),
            };
            let mut problem = Problem::new(status_of(*status), slug, detail);
            problem.retry_after = retry_after.clone();
            dialect.render(&problem, path)
        }
        Fault::Html { status } => {
            let status = status_of(*status);
            let line = format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("Error")
            );
            let page = format!(
                "<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n<center><h1>{line}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            );
            with(status, Some("text/html"), Body::from(page))
        }
        Fault::Empty { status } => with(status_of(*status), None, Body::empty()),
        Fault::MalformedJson => with(
            StatusCode::OK,
            Some("application/json"),
            Body::from(r#"{"order_id": "ord_1a2b3c4d", "status": "wait"#),
        ),
        Fault::WrongContentType => with(
            StatusCode::OK,
            Some("text/plain"),
            Body::from(r#"{"balance": 10.0, "currency": "USD"}"#),
        ),
        Fault::Huge { bytes } => with(
            StatusCode::OK,
            Some("application/json"),
            Body::from(huge_json(*bytes)),
        ),
        // Handled by the caller; kept total so a new variant cannot panic.
        Fault::Delay(_)
        | Fault::DropBeforeProcessing
        | Fault::DropAfterProcessing
        | Fault::EchoRequest { .. } => with(StatusCode::INTERNAL_SERVER_ERROR, None, Body::empty()),
    }
}

/// [`Fault::EchoRequest`]: the request line and every header (the key header included) sent back.
fn echo_request(status: u16, parts: &Parts, path: &str, dialect: Dialect) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let target = parts
        .uri
        .path_and_query()
        .map_or(path, |pq| pq.as_str())
        .to_string();
    let headers: serde_json::Map<String, serde_json::Value> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (n.as_str().to_string(), serde_json::Value::String(value))
        })
        .collect();
    let lines: Vec<String> = headers
        .iter()
        .map(|(n, v)| format!("{n}: {}", v.as_str().unwrap_or_default()))
        .collect();
    let echo = format!("{} {target} | {}", parts.method, lines.join(" | "));
    let header_text = |name: &str| {
        parts
            .headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default()
    };
    let authorization = header_text(header::AUTHORIZATION.as_str());
    let (content_type, body) = if status.is_success() {
        ("application/json", serde_json::Value::String(echo))
    } else if dialect == Dialect::V1 {
        // v1 clients read `message`, then `error`: both carry the key.
        let api_key = header_text("x-api-key");
        let body = serde_json::json!({
            "message": api_key,
            "error": format!("Request echoed by the sandbox: {echo} #{api_key}"),
            "echo": headers,
        });
        ("application/json", body)
    } else {
        let body = serde_json::json!({
            "type": format!("{}echo#{authorization}", super::problem::TYPE_BASE),
            "title": authorization,
            "status": status.as_u16(),
            "detail": format!("Request echoed by the sandbox: {echo}"),
            "instance": format!("{target}#{authorization}"),
            "echo": headers,
        });
        ("application/problem+json", body)
    };
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// A valid JSON array of exactly `bytes` bytes (`[]` at minimum): `[0,0,...,0   ]`.
fn huge_json(bytes: usize) -> Vec<u8> {
    let bytes = bytes.max(2);
    let mut out = Vec::with_capacity(bytes);
    out.push(b'[');
    // Each element after the first costs two bytes ("0,"); pad the odd remainder with a space.
    let room = bytes - 2;
    if room > 0 {
        out.push(b'0');
        let pairs = (room - 1) / 2;
        for _ in 0..pairs {
            out.extend_from_slice(b",0");
        }
    }
    while out.len() < bytes - 1 {
        out.push(b' ');
    }
    out.push(b']');
    out
}

#[cfg(test)]
mod tests {
    use super::{huge_json, Dialect};

    #[test]
    fn dialect_of_path() {
        for (path, want) in [
            ("/api/v2", Some(Dialect::V2)),
            ("/api/v2/orders", Some(Dialect::V2)),
            ("/api/v1", Some(Dialect::V1)),
            ("/api/v1/customer/purchase", Some(Dialect::V1)),
            ("/api/v1/x402", None),
            ("/api/v1/x402/topup", None),
            ("/api/v1/x402x", Some(Dialect::V1)),
            ("/smscode/v1/orders", Some(Dialect::SmsCode)),
            ("/smscode/v10", None),
            ("/api/v10/orders", None),
            ("/api/v2x", None),
            ("/admin/stats", None),
            ("/", None),
        ] {
            assert_eq!(Dialect::of(path), want, "{path}");
        }
    }

    #[test]
    fn huge_json_is_exact_and_valid() {
        for n in [0, 1, 2, 3, 4, 5, 10, 11, 1000, 1001] {
            let body = huge_json(n);
            assert_eq!(body.len(), n.max(2));
            assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| v.is_array()));
        }
    }
}
