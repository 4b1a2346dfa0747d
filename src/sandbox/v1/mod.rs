//! The REST **v1** dialect at `/api/v1` (what is live), served from the same state as v2.
//!
//! Wire shapes: `../shared/api/virtualsms-rest-v1.md` §1-5, made exact by the lead/fake agreement
//! (the "v1 wire contract" the v1 client is written against). Everything the pipeline does —
//! request log, faults, the per-key rate limiter — is shared with v2; what differs is here:
//! - auth by `X-API-Key` only (`Authorization: Bearer` alone is no key → 401
//!   `{"message": "Invalid or missing API key"}`);
//! - errors are `{"error": "..."}` JSON ([`V1Error`]), never problem+json; problems raised by the
//!   shared machinery (401, 429, 404/405 routes, 413, injected faults) are converted by
//!   [`render_problem`] / [`finalize`]; the one plain-text answer is swap's 425, as live;
//! - services are short codes (`tg`; a v2 slug like `telegram` is a 400), countries upper-case
//!   ISO (`US`; `us` is a 400 on purchase), phone numbers digits only, money JSON floats;
//! - no idempotency: a repeated purchase or rental is a new order and a new charge;
//! - no long-poll and no confirm: `GET /customer/order/{id}` is polled; an SMS makes the order
//!   `completed` (and the live quirk `sms_received: false` is kept).
//!
//! One state machine, two views. v1 activations are ordinary orders of the shared table
//! (`super::orders`) with UUID v4 ids; v1 rentals are orders too (`rnt_<hex>` ids, with
//! `rental_hours`), so charges, refunds, stock, SMS delivery, expiry and the `FakeApi` controls
//! (`deliver_sms`, `expire_order`, `age_order`, counts) work the same for both dialects. Status
//! mapping (internal → v1):
//!
//! | internal | activation (`/customer/...`) | rental (`/rentals`) |
//! |---|---|---|
//! | waiting | `waiting` | `active` |
//! | received | `completed` (final: no longer expires) | `active` (`sms_received` counts) |
//! | confirmed (v2 only) | `completed` | `completed` |
//! | cancelled | `cancelled` | `cancelled` |
//! | expired | `expired` | `expired` |
//! | released | `completed` | `completed` |
//!
//! v1 activation endpoints see the key's non-rental orders (of either birth); v1 rental endpoints
//! see the key's rentals (of either birth); v2 sees everything. Swap on v1 cancels the old order
//! (no refund; its payment carries over) and opens a replacement with a new UUID, new number,
//! fresh timestamps and no new charge. Cancel and swap are possible from
//! `created + FakeOptions::cancel_cooldown` (425 before, checked before the status). Rentals:
//! cancel with a full refund within 20 minutes of purchase and before the first SMS; release
//! after a 2-hour hold with a pro-rated refund of the unused time minus a 10 % fee (assumed
//! terms, see the contract §3 E10); `auto_renew` is stored and shown, never acted on; only
//! `rental_type: "service"` is sold (assumed: the sandbox has no full-access numbers).

mod account;
mod orders;
mod rentals;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value};

use super::problem::Problem;
use super::state::Shared;

type Q = Result<Query<HashMap<String, String>>, QueryRejection>;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/customer/services", get(account::services))
        .route("/api/v1/customer/countries", get(account::countries))
        .route("/api/v1/catalog/countries", get(account::catalog_countries))
        .route("/api/v1/price", get(account::price))
        .route("/api/v1/customer/balance", get(account::balance))
        .route("/api/v1/customer/profile", get(account::profile))
        .route("/api/v1/customer/transactions", get(account::transactions))
        .route("/api/v1/customer/purchase", post(orders::purchase))
        .route("/api/v1/customer/order/{id}", get(orders::get_order))
        .route("/api/v1/customer/orders", get(orders::list_orders))
        .route("/api/v1/customer/cancel/{id}", post(orders::cancel))
        .route("/api/v1/customer/swap/{id}", post(orders::swap))
        .route("/api/v1/rentals/available", get(rentals::available))
        .route("/api/v1/rentals", get(rentals::list).post(rentals::create))
        .route("/api/v1/rentals/{id}/extend", post(rentals::extend))
        .route("/api/v1/rentals/{id}/cancel", post(rentals::cancel))
        .route("/api/v1/rentals/{id}/release", post(rentals::release))
}

// ---- errors -------------------------------------------------------------------------------------

/// Marks a response already in v1 form, so [`finalize`] leaves it alone (swap's plain-text 425
/// included).
#[derive(Clone, Copy, Debug)]
struct V1Rendered;

/// A v1 error answer: `{"error": "..."}` (possibly with more members) or, for swap's 425, text.
#[derive(Debug)]
pub(crate) struct V1Error {
    status: StatusCode,
    body: V1Body,
}

#[derive(Debug)]
enum V1Body {
    Json(Value),
    Text(String),
}

impl V1Error {
    /// `status` with `{"error": message}`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self::json(status, json!({ "error": message.into() }))
    }

    pub fn json(status: StatusCode, body: Value) -> Self {
        V1Error {
            status,
            body: V1Body::Json(body),
        }
    }

    /// A `text/plain` body (the live swap 425 quirk).
    pub fn text(status: StatusCode, text: impl Into<String>) -> Self {
        V1Error {
            status,
            body: V1Body::Text(text.into()),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn order_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Order not found")
    }

    pub fn rental_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Rental not found")
    }

    /// 402 `{"error": "Insufficient balance", "required", "current"}` (cents in, dollars out).
    pub fn insufficient(balance_cents: i64, price_cents: i64) -> Self {
        Self::json(
            StatusCode::PAYMENT_REQUIRED,
            json!({
                "error": "Insufficient balance",
                "required": super::util::dollars(price_cents),
                "current": super::util::dollars(balance_cents),
            }),
        )
    }

    /// 503 with the out-of-stock text clients look for.
    pub fn no_stock(service_code: &str, iso2: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "No numbers available for {service_code} in {} (out of stock)",
                iso2.to_ascii_uppercase()
            ),
        )
    }
}

impl IntoResponse for V1Error {
    fn into_response(self) -> Response {
        let (content_type, body) = match self.body {
            V1Body::Json(v) => ("application/json", v.to_string()),
            V1Body::Text(t) => ("text/plain; charset=utf-8", t),
        };
        let mut resp = Response::new(Body::from(body));
        *resp.status_mut() = self.status;
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        resp.extensions_mut().insert(V1Rendered);
        resp
    }
}

/// The 404 of an unknown v1 route (and of a dialect switched off).
pub(crate) fn not_found_response() -> Response {
    V1Error::new(StatusCode::NOT_FOUND, "Not found").into_response()
}

/// A [`Problem`] from the shared machinery in v1 form: 401 `{"message": ...}`, 429
/// `{"error": "Rate limit exceeded"}`, 404 `{"error": "Not found"}`, otherwise
/// `{"error": detail}`; `Retry-After` kept.
pub(crate) fn render_problem(problem: &Problem) -> Response {
    let body = match problem.slug.as_str() {
        "unauthorized" => json!({ "message": "Invalid or missing API key" }),
        "rate-limited" => json!({ "error": "Rate limit exceeded" }),
        "not-found" => json!({ "error": "Not found" }),
        "method-not-allowed" => json!({ "error": "Method not allowed" }),
        _ => json!({ "error": problem.detail }),
    };
    let mut resp = V1Error::json(problem.status, body).into_response();
    problem.add_retry_after(&mut resp);
    resp
}

/// Bring any error answer into v1 form: a parked [`Problem`] is rendered, axum's own plain-text
/// rejections and bodiless 404/405 become `{"error": ...}` (other headers, e.g. `Allow`, kept).
/// Successful answers and answers already in v1 form pass through.
pub(crate) async fn finalize(resp: Response) -> Response {
    if resp.extensions().get::<V1Rendered>().is_some() {
        return resp;
    }
    if let Some(problem) = resp.extensions().get::<Problem>().cloned() {
        let mut out = render_problem(&problem);
        copy_headers(resp.headers(), &mut out);
        return out;
    }
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = match status.as_u16() {
        404 => "Not found".to_string(),
        405 => "Method not allowed".to_string(),
        _ if !text.is_empty() => text,
        _ => status.canonical_reason().unwrap_or("Error").to_string(),
    };
    let mut out = V1Error::new(status, message).into_response();
    copy_headers(&parts.headers, &mut out);
    out
}

fn copy_headers(from: &axum::http::HeaderMap, to: &mut Response) {
    for (name, value) in from.iter() {
        if name != header::CONTENT_TYPE
            && name != header::CONTENT_LENGTH
            && !to.headers().contains_key(name)
        {
            to.headers_mut().insert(name.clone(), value.clone());
        }
    }
}

// ---- input helpers ------------------------------------------------------------------------------

fn query(q: Q) -> Result<HashMap<String, String>, V1Error> {
    q.map(|Query(m)| m)
        .map_err(|e| V1Error::bad_request(format!("Invalid query: {e}")))
}

/// The body as a JSON object (`expected` names the members in the error).
fn json_object(body: &Bytes, expected: &str) -> Result<Map<String, Value>, V1Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(V1Error::bad_request(format!(
            "Missing JSON body: expected {expected}"
        )));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(V1Error::bad_request(format!(
            "Invalid JSON body: expected an object {expected}"
        ))),
        Err(e) => Err(V1Error::bad_request(format!(
            "Invalid JSON body ({e}): expected {expected}"
        ))),
    }
}

/// A string member, verbatim (v1 is case-sensitive); `Err` names the field: `Missing service`,
/// `Invalid service: 42`.
fn required_str(obj: &Map<String, Value>, field: &str) -> Result<String, V1Error> {
    match obj.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        None | Some(Value::Null) => Err(V1Error::bad_request(format!("Missing {field}"))),
        Some(Value::String(_)) => Err(V1Error::bad_request(format!("Missing {field}"))),
        Some(other) => Err(V1Error::bad_request(format!("Invalid {field}: {other}"))),
    }
}

/// `limit` from the query: `default` when absent, at most `max`; `Err` for anything but 1..
fn limit_param(q: &HashMap<String, String>, default: usize, max: usize) -> Result<usize, V1Error> {
    match q.get("limit").map(|v| v.trim()) {
        None | Some("") => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n.min(max)),
            _ => Err(V1Error::bad_request(format!(
                "Invalid limit: {v} (1 to {max})"
            ))),
        },
    }
}

/// Whole seconds from `now` until `at`, rounded up (at least 1 when `at` is in the future).
/// 400 `Cannot {action} with status: {status}` unless the order's state allows the action.
fn allowed_in_status(allowed: bool, action: &str, status: &str) -> Result<(), V1Error> {
    if allowed {
        Ok(())
    } else {
        Err(V1Error::bad_request(format!(
            "Cannot {action} with status: {status}"
        )))
    }
}

fn seconds_until(at: SystemTime, now: SystemTime) -> u64 {
    at.duration_since(now)
        .map(|d| d.as_secs_f64().ceil() as u64)
        .unwrap_or(0)
        .max(1)
}

/// A phone number as v1 shows it: digits only.
fn digits(phone: &str) -> String {
    phone.trim_start_matches('+').to_string()
}
