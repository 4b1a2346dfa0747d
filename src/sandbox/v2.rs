//! The REST v2 handlers (`/api/v2/...`); the router is assembled in `super` (`mod.rs`).
//!
//! Handlers only parse and validate input and shape JSON; state changes live in `orders`/`state`.
//! Input is parsed by hand (not with axum's `Json`/typed `Query`) so every bad input becomes the
//! contract's 400 `validation` problem naming the field.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::catalog::{self, MAX_RENTAL_HOURS};
use super::orders::{NewOrder, Poll, Status};
use super::pipeline::Authed;
use super::problem::Problem;
use super::state::Shared;
use super::util::dollars;

type Q = Result<Query<HashMap<String, String>>, QueryRejection>;
type JsonResult = Result<Json<Value>, Problem>;

/// Long-poll `timeout` bounds and default, in seconds.
const POLL_TIMEOUT_MAX: u64 = 180;
const POLL_TIMEOUT_DEFAULT: u64 = 30;
/// Page size default and cap.
const PAGE_DEFAULT: usize = 20;
const PAGE_MAX: usize = 100;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v2/services", get(list_services))
        .route("/api/v2/countries", get(list_countries))
        .route("/api/v2/services/{service}/cheapest", get(cheapest))
        .route("/api/v2/services/{service}/availability", get(availability))
        .route("/api/v2/countries/{iso2}/pricing", get(country_pricing))
        .route("/api/v2/me", get(me))
        .route("/api/v2/me/balance", get(balance))
        .route("/api/v2/me/stats", get(stats))
        .route("/api/v2/me/transactions", get(transactions))
        .route("/api/v2/orders", get(list_orders).post(create_order))
        .route("/api/v2/orders/{id}", get(get_order))
        .route("/api/v2/orders/{id}/sms", get(wait_for_sms))
        .route("/api/v2/orders/{id}/swap", post(swap))
        .route("/api/v2/orders/{id}/cancel", post(cancel))
        .route("/api/v2/orders/{id}/confirm", post(confirm))
        .route("/api/v2/orders/{id}/extend", post(extend))
        .route("/api/v2/orders/{id}/release", post(release))
}

// ---- input helpers ----------------------------------------------------------------------------

fn query(q: Q) -> Result<HashMap<String, String>, Problem> {
    q.map(|Query(m)| m)
        .map_err(|e| Problem::validation(format!("query: {e}")))
}

/// Slugs and ISO codes are matched case-insensitively.
fn slug(s: &str) -> String {
    s.trim().to_ascii_lowercase()
}

fn page_params(q: &HashMap<String, String>) -> Result<(usize, usize), Problem> {
    let limit = match q.get("limit") {
        None => PAGE_DEFAULT,
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n >= 1 => n.min(PAGE_MAX),
            _ => {
                return Err(Problem::validation(format!(
                    "limit: must be an integer from 1 to {PAGE_MAX}, got '{v}'"
                )))
            }
        },
    };
    let offset = match q.get("offset") {
        None => 0,
        Some(v) => v.trim().parse::<usize>().map_err(|_| {
            Problem::validation(format!("offset: must be a non-negative integer, got '{v}'"))
        })?,
    };
    Ok((limit, offset))
}

fn flag(q: &HashMap<String, String>, name: &str) -> Result<bool, Problem> {
    match q
        .get(name)
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("false") | Some("0") | Some("") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(Problem::validation(format!(
            "{name}: must be true or false, got '{other}'"
        ))),
    }
}

fn json_object(body: &Bytes, expected: &str) -> Result<Map<String, Value>, Problem> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::validation(format!(
            "body: missing; expected a JSON object {expected}"
        )));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Problem::validation(format!(
            "body: expected a JSON object {expected}"
        ))),
        Err(e) => Err(Problem::validation(format!(
            "body: not valid JSON ({e}); expected {expected}"
        ))),
    }
}

fn required_str(obj: &Map<String, Value>, field: &str) -> Result<String, Problem> {
    match obj.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(slug(s)),
        Some(Value::String(_)) => Err(Problem::validation(format!("{field}: must not be empty"))),
        None | Some(Value::Null) => Err(Problem::validation(format!("{field}: required"))),
        Some(_) => Err(Problem::validation(format!("{field}: must be a string"))),
    }
}

/// An hours value: an integer from 1 to 720 (a float with no fraction is accepted too).
fn parse_hours(v: &Value, field: &str) -> Result<u32, Problem> {
    let n = v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0)
            .map(|f| f as u64)
    });
    match n {
        Some(n) if (1..=u64::from(MAX_RENTAL_HOURS)).contains(&n) => Ok(n as u32),
        _ => Err(Problem::validation(format!(
            "{field}: must be an integer from 1 to {MAX_RENTAL_HOURS}, got {v}"
        ))),
    }
}

// ---- discovery (no key needed) -----------------------------------------------------------------

async fn list_services() -> Json<Value> {
    let items: Vec<Value> = catalog::SERVICES
        .iter()
        .map(|s| json!({ "id": s.id, "name": s.name, "category": s.category }))
        .collect();
    Json(Value::Array(items))
}

async fn list_countries(State(s): State<Arc<Shared>>) -> Json<Value> {
    let data = s.data();
    let items: Vec<Value> = catalog::COUNTRIES
        .iter()
        .map(|c| {
            let in_stock = catalog::SERVICES
                .iter()
                .any(|svc| data.stock(svc.id, c.iso2) > 0);
            json!({ "iso2": c.iso2, "name": c.name, "in_stock": in_stock })
        })
        .collect();
    Json(Value::Array(items))
}

async fn cheapest(State(s): State<Arc<Shared>>, Path(service): Path<String>, q: Q) -> JsonResult {
    let q = query(q)?;
    let svc =
        catalog::service(&slug(&service)).ok_or_else(|| Problem::service_not_found(&service))?;
    let data = s.data();
    let pick = match q.get("country").map(|c| slug(c)).filter(|c| !c.is_empty()) {
        Some(iso2) => {
            let c = catalog::country(&iso2).ok_or_else(|| Problem::country_not_found(&iso2))?;
            Some(c).filter(|c| data.stock(svc.id, c.iso2) > 0)
        }
        None => catalog::COUNTRIES
            .iter()
            .filter(|c| data.stock(svc.id, c.iso2) > 0)
            .min_by_key(|c| (catalog::price_cents(svc.id, c.iso2), c.iso2)),
    };
    let c = pick.ok_or_else(|| {
        Problem::no_stock(format!("No {} numbers in stock for that choice", svc.id))
    })?;
    Ok(Json(json!({
        "service": svc.id,
        "country": c.iso2,
        "price": dollars(catalog::price_cents(svc.id, c.iso2)),
        "stock": data.stock(svc.id, c.iso2),
    })))
}

async fn availability(State(s): State<Arc<Shared>>, Path(service): Path<String>) -> JsonResult {
    let svc =
        catalog::service(&slug(&service)).ok_or_else(|| Problem::service_not_found(&service))?;
    let data = s.data();
    let mut rows: Vec<_> = catalog::COUNTRIES
        .iter()
        .map(|c| {
            (
                catalog::price_cents(svc.id, c.iso2),
                c.iso2,
                data.stock(svc.id, c.iso2),
            )
        })
        .collect();
    rows.sort();
    let items = rows
        .into_iter()
        .map(|(price, iso2, stock)| json!({ "country": iso2, "price": dollars(price), "stock": stock }))
        .collect();
    Ok(Json(Value::Array(items)))
}

async fn country_pricing(
    State(s): State<Arc<Shared>>,
    Path(iso2): Path<String>,
    q: Q,
) -> JsonResult {
    let q = query(q)?;
    let rental = flag(&q, "rental")?;
    let c = catalog::country(&slug(&iso2)).ok_or_else(|| Problem::country_not_found(&iso2))?;
    let data = s.data();
    let items = catalog::SERVICES
        .iter()
        .filter_map(|svc| {
            let mut row = json!({
                "service": svc.id,
                "price": dollars(catalog::price_cents(svc.id, c.iso2)),
                "stock": data.stock(svc.id, c.iso2),
            });
            if rental {
                let options = catalog::rental_options(svc.id, c.iso2);
                if options.is_empty() {
                    return None;
                }
                let options: Vec<Value> = options
                    .iter()
                    .map(|(h, p)| json!({ "hours": h, "price": dollars(*p) }))
                    .collect();
                row.as_object_mut()?
                    .insert("rental_options".into(), Value::Array(options));
            }
            Some(row)
        })
        .collect();
    Ok(Json(Value::Array(items)))
}

// ---- account ------------------------------------------------------------------------------------

async fn me(State(s): State<Arc<Shared>>, Authed(key): Authed) -> Json<Value> {
    Json(s.profile_json(&key))
}

async fn balance(State(s): State<Arc<Shared>>, Authed(key): Authed) -> Json<Value> {
    Json(s.balance_json(&key))
}

async fn stats(State(s): State<Arc<Shared>>, Authed(key): Authed) -> Json<Value> {
    Json(s.stats_json(&key))
}

async fn transactions(State(s): State<Arc<Shared>>, Authed(key): Authed, q: Q) -> JsonResult {
    let (limit, offset) = page_params(&query(q)?)?;
    Ok(Json(s.transactions_json(&key, limit, offset)))
}

// ---- orders -------------------------------------------------------------------------------------

async fn create_order(
    State(s): State<Arc<Shared>>,
    Authed(key): Authed,
    body: Bytes,
) -> Result<Response, Problem> {
    let obj = json_object(&body, r#"{"service", "country", "rental_hours"?}"#)?;
    let service = required_str(&obj, "service")?;
    let country = required_str(&obj, "country")?;
    let rental_hours = match obj.get("rental_hours") {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse_hours(v, "rental_hours")?),
    };
    let order = s.create_order(
        &key,
        NewOrder {
            service,
            country,
            rental_hours,
        },
    )?;
    Ok((StatusCode::CREATED, Json(order)).into_response())
}

async fn list_orders(State(s): State<Arc<Shared>>, Authed(key): Authed, q: Q) -> JsonResult {
    let q = query(q)?;
    let (limit, offset) = page_params(&q)?;
    let status = match q.get("status").map(|v| v.trim().to_ascii_lowercase()).filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(Status::parse(&v).ok_or_else(|| {
            Problem::validation(format!(
                "status: must be one of waiting, received, confirmed, cancelled, expired, released; got '{v}'"
            ))
        })?),
    };
    Ok(Json(s.list_orders(&key, status, limit, offset)))
}

async fn get_order(
    State(s): State<Arc<Shared>>,
    Authed(key): Authed,
    Path(id): Path<String>,
) -> JsonResult {
    s.get_order(&key, &id).map(Json)
}

/// The long-poll. Held until something new can be said, the order finishes, or `timeout` passes;
/// counted in `open_long_polls` while held (also uncounted when the client hangs up, because
/// hyper drops this future and with it the guard).
async fn wait_for_sms(
    State(s): State<Arc<Shared>>,
    Authed(key): Authed,
    Path(id): Path<String>,
    q: Q,
) -> JsonResult {
    let q = query(q)?;
    let timeout = match q.get("timeout").map(|v| v.trim()) {
        None | Some("") => POLL_TIMEOUT_DEFAULT,
        Some(v) => match v.parse::<u64>() {
            Ok(n) if (1..=POLL_TIMEOUT_MAX).contains(&n) => n,
            _ => {
                return Err(Problem::validation(format!(
                    "timeout: must be an integer from 1 to {POLL_TIMEOUT_MAX} seconds, got '{v}'"
                )))
            }
        },
    };
    let since = q
        .get("since")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    let _open = s.poll_guard();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        match s.poll_sms(&key, &id, since.as_deref())? {
            Poll::Ready(v) => return Ok(Json(v)),
            Poll::Wait {
                mut changed,
                expires_in,
            } => {
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    return s.sms_snapshot(&key, &id).map(Json);
                }
                // Also wake when the order runs out, so the poll reports "expired" promptly.
                let at_expiry = now
                    .checked_add(expires_in.saturating_add(Duration::from_millis(5)))
                    .unwrap_or(deadline);
                let wake = deadline.min(at_expiry);
                tokio::select! {
                    changed = changed.changed() => {
                        if changed.is_err() {
                            tokio::time::sleep_until(wake).await;
                        }
                    }
                    _ = tokio::time::sleep_until(wake) => {}
                }
            }
        }
    }
}

async fn swap(
    State(s): State<Arc<Shared>>,
    Authed(key): Authed,
    Path(id): Path<String>,
) -> JsonResult {
    s.swap_order(&key, &id).map(Json)
}

async fn cancel(
    State(s): State<Arc<Shared>>,
    Authed(key): Authed,
    Path(id): Path<String>,
) -> JsonResult {
    s.cancel_order(&key, &id).map(Json)
}

async fn confirm(
    State(s): State<Arc<Shared>>,
    Authed(key): Authed,
    Path(id): Path<String>,
) -> JsonResult {
    s.confirm_order(&key, &id).map(Json)
}

async fn extend(
    State(s): State<Arc<Shared>>,
    Authed(key): Authed,
    Path(id): Path<String>,
    body: Bytes,
) -> JsonResult {
    // Parsed here but judged after the order checks: an unknown or expired order is reported as such.
    let hours = json_object(&body, r#"{"hours"}"#).and_then(|obj| match obj.get("hours") {
        None | Some(Value::Null) => Err(Problem::validation("hours: required")),
        Some(v) => parse_hours(v, "hours"),
    });
    s.extend_order(&key, &id, hours).map(Json)
}

async fn release(
    State(s): State<Arc<Shared>>,
    Authed(key): Authed,
    Path(id): Path<String>,
) -> JsonResult {
    s.release_order(&key, &id).map(Json)
}
