//! The smsVerificationService API (`../shared/api/smsverificationservice.md`) at
//! `/smsverificationservice/api/v1/…/` (every path with its trailing slash, as the Django app
//! wants), served from the same state as the VirtualSMS dialects: the same catalog, stock
//! (`jp` sold out), balances, order table, SMS delivery, request log, fault queue and per-key
//! rate limit (see `super::pipeline`).
//!
//! Its quirks, as the contract describes them, on purpose:
//! - answers in several shapes: `{success, data}` (temporary, best-temp, rent-1day, rent-30days
//!   catalogs, most orders, status, cancel, renew, wallet/balance), bare objects (`balance/`,
//!   `global/countries/`, `global/services/`), flat objects with `success` (the rental order),
//!   raw arrays (`services/rental/`, `services/esim/`, `orders/`);
//! - no stock counts anywhere; `global/countries/` lists only countries with stock now, and
//!   `global/services/` only offers in stock;
//! - integer ids: services per product line (temporary and global `1000 + i`, rent-1day
//!   `2000 + i`, rent-30days `3000 + i`, best-temp `4000 + i`, where `i` is the service's place in
//!   the shared catalog), countries `10 + i`, orders 6-digit numbers; the rental line by name;
//! - names: a service is named by the part of the shared catalog's name before " / " ("Google");
//! - US product lines: temporary (every US service in stock except `signal`), best-temp (a
//!   curated list: the first 12 services in stock, `signal` included), rent-1day and the 3/30-day
//!   rental line (every US service the shared catalog rents), rent-30days (the same less every
//!   fourth service from the second on: `whatsapp` is not there, so it takes the 30-day rental
//!   line);
//! - prices in USD, equal to the shared catalog's cents (rate 1: the shared catalog is in USD);
//!   a rental costs the shared rental price of its period (24, 72 or 720 h);
//! - order statuses `pending` / `active` / `completed` / `cancelled` / `expired` **(assumed)**;
//!   status reads show only the latest SMS (`otp`, `message`) and a countdown for rentals
//!   (`time_left_seconds` on rent-1day, `days_left` on the others);
//! - renewal adds one period of the order's product at the current price;
//! - errors are strings: "Insufficient balance" with 400 (the doc groups 400/402/404: the text
//!   is what tells), "Service not available" (nothing in stock), "Order cannot be cancelled",
//!   a Django field map (`{"service_id": ["This field is required."]}`) for a missing field, a
//!   bare `{"error"}` 401 on account routes and `{"success": false, "error"}` on catalogs,
//!   `{"detail": "Not found."}` for an unknown route, a path without its slash included;
//!   429 `{"error": "Rate limit exceeded. …"}` with `Retry-After`.
//!
//! Not served: eSIM orders (`order/esim/`; the 18 tools never buy eSIMs), callbacks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::FromRequestParts;
use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use serde_json::{json, Map, Value};

use super::catalog::{self, Country, Service};
use super::orders::{IdStyle, OpenError, Opening, Order, Status};
use super::pipeline::{Authed, Caller};
use super::problem::Problem;
use super::state::{lock, Shared};
use super::util::{dollars, rfc3339};

/// Where the API lives on the fake.
pub const PREFIX: &str = "/smsverificationservice/api/v1";

/// Services only on the best-temp line (not on temporary).
const BEST_TEMP_ONLY: &[&str] = &["signal"];
/// How many services (from the start of the catalog) the curated best-temp list holds.
const BEST_TEMP_SIZE: usize = 12;

/// A product line of an order placed here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Line {
    Temporary,
    BestTemp,
    Global,
    Rent1Day,
    /// The name-based rental line, 3 or 30 days.
    Rental(u32),
    Rent30Days,
}

impl Line {
    fn period_hours(self) -> Option<u32> {
        match self {
            Line::Rent1Day => Some(24),
            Line::Rental(days) => Some(days * 24),
            Line::Rent30Days => Some(720),
            _ => None,
        }
    }
}

/// What the fake remembers of its orders beyond the shared table.
#[derive(Clone, Copy, Debug)]
struct Placed {
    line: Line,
    renewed: bool,
}

/// This dialect's own state: the product line of each order placed through it.
#[derive(Debug, Default)]
pub(crate) struct SvsState {
    placed: Mutex<HashMap<String, Placed>>,
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    let r = |path: &str| format!("{PREFIX}{path}");
    Router::new()
        .route(&r("/balance/"), get(balance))
        .route(&r("/wallet/balance/"), get(wallet_balance))
        .route(&r("/services/temporary/"), simple_services(Line::Temporary))
        .route(&r("/services/best-temp/"), get(best_temp))
        .route(&r("/services/rent-1day/"), simple_services(Line::Rent1Day))
        .route(
            &r("/services/rent-30days/"),
            simple_services(Line::Rent30Days),
        )
        .route(&r("/services/rental/"), get(rental))
        .route(&r("/services/esim/"), get(esim))
        .route(&r("/global/countries/"), get(global_countries))
        .route(&r("/global/services/"), get(global_services))
        .route(&r("/order/temporary/"), order_on(Line::Temporary))
        .route(&r("/order/best-temp/"), order_on(Line::BestTemp))
        .route(&r("/order/rent-1day/"), order_on(Line::Rent1Day))
        .route(&r("/order/rent-30days/"), order_on(Line::Rent30Days))
        .route(&r("/order/rental/"), post(order_rental))
        .route(&r("/order/global/"), post(order_global))
        .route(&r("/orders/"), get(orders))
        .route(&r("/order/{id}/status/"), get(order_status))
        .route(&r("/order/{id}/cancel/"), post(cancel))
        .route(&r("/order/{id}/renew/"), post(renew))
}

// ---- errors -------------------------------------------------------------------------------------

/// Marks a response already in this dialect's form, so [`finalize`] leaves it alone.
#[derive(Clone, Copy, Debug)]
struct Rendered;

/// An error answer with its JSON body.
#[derive(Debug)]
pub(crate) struct SvsError {
    status: StatusCode,
    body: Value,
}

impl SvsError {
    /// `{"success": false, "error": message}`.
    fn new(status: StatusCode, message: &str) -> Self {
        Self {
            status,
            body: json!({"success": false, "error": message}),
        }
    }

    /// A bare `{"error": message}`.
    fn bare(status: StatusCode, message: &str) -> Self {
        Self {
            status,
            body: json!({ "error": message }),
        }
    }

    /// A Django field error map: `{"<field>": ["<message>"]}`.
    fn field(field: &str, message: &str) -> Self {
        let mut map = Map::new();
        map.insert(field.to_owned(), json!([message]));
        Self {
            status: StatusCode::BAD_REQUEST,
            body: Value::Object(map),
        }
    }
}

impl IntoResponse for SvsError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body)
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.extensions_mut().insert(Rendered);
    resp
}

/// A [`Problem`] from the shared machinery (401, 429, unknown routes, injected faults) in this
/// dialect's form; `Retry-After` kept.
pub(crate) fn render_problem(problem: &Problem) -> Response {
    let body = match problem.slug.as_str() {
        "unauthorized" => json!({"error": "Invalid API key"}),
        "rate-limited" => {
            let wait = problem.retry_after.as_deref().unwrap_or("60");
            json!({ "error": format!("Rate limit exceeded. Try again in {wait} seconds.") })
        }
        "not-found" => json!({"detail": "Not found."}),
        "method-not-allowed" => json!({"detail": "Method not allowed."}),
        _ => json!({"success": false, "error": problem.detail}),
    };
    let mut resp = json_response(problem.status, &body);
    problem.add_retry_after(&mut resp);
    resp
}

/// Any error answer in this dialect's form: a parked [`Problem`] is rendered; axum's own
/// rejections and bodiless errors become `{"detail": …}`. Success passes through.
pub(crate) async fn finalize(resp: Response) -> Response {
    if resp.extensions().get::<Rendered>().is_some() {
        return resp;
    }
    if let Some(problem) = resp.extensions().get::<Problem>().cloned() {
        // A catalog's 401 carries `success: false` (§3 B); account routes a bare error.
        return render_problem(&problem);
    }
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let detail = match status.as_u16() {
        404 => "Not found.".to_owned(),
        405 => "Method not allowed.".to_owned(),
        _ => status.canonical_reason().unwrap_or("Error").to_owned(),
    };
    json_response(status, &json!({ "detail": detail }))
}

/// The 404 of an unknown route (used by the pipeline's fallback).
pub(crate) fn not_found_detail() -> &'static str {
    "Not found."
}

/// The caller's valid key, if any (routes that answer 401 in their own shape).
struct Key(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Key {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Key(parts
            .extensions
            .get::<Caller>()
            .and_then(|c| c.0.clone())))
    }
}

// ---- catalog views ------------------------------------------------------------------------------

/// The provider's name of a service: the shared name before " / ".
fn name(s: &Service) -> &'static str {
    s.name.split(" / ").next().unwrap_or(s.name)
}

fn index(s: &Service) -> usize {
    catalog::SERVICES
        .iter()
        .position(|x| x.id == s.id)
        .unwrap_or(0)
}

fn country_index(c: &Country) -> usize {
    catalog::COUNTRIES
        .iter()
        .position(|x| x.iso2 == c.iso2)
        .unwrap_or(0)
}

fn country_id(c: &Country) -> usize {
    10 + country_index(c)
}

fn us() -> &'static Country {
    catalog::country("us").expect("the catalog has the US")
}

fn in_stock(shared: &Shared, s: &Service, c: &Country) -> bool {
    shared.data().stock(s.id, c.iso2) > 0
}

/// The services of a line, with their id there and price in cents.
fn line_rows(shared: &Shared, line: Line) -> Vec<(&'static Service, usize, i64)> {
    let us = us();
    catalog::SERVICES
        .iter()
        .filter_map(|s| {
            let i = index(s);
            let rentable = catalog::has_rentals(s.id, us.iso2);
            let (offered, base) = match line {
                Line::Temporary => (
                    in_stock(shared, s, us) && !BEST_TEMP_ONLY.contains(&s.id),
                    1000,
                ),
                Line::BestTemp => (i < BEST_TEMP_SIZE && in_stock(shared, s, us), 4000),
                Line::Rent1Day => (rentable, 2000),
                Line::Rent30Days => (rentable && i % 4 != 1, 3000),
                Line::Rental(_) => (rentable, 0),
                Line::Global => (false, 1000),
            };
            let price = match line.period_hours() {
                Some(h) => catalog::rental_price_cents(s.id, us.iso2, h)?,
                None => catalog::price_cents(s.id, us.iso2),
            };
            offered.then_some((s, base + i, price))
        })
        .collect()
}

/// The service of a line by its id there.
fn by_id(shared: &Shared, line: Line, id: &str) -> Option<&'static Service> {
    line_rows(shared, line)
        .into_iter()
        .find(|(_, sid, _)| sid.to_string() == id)
        .map(|(s, _, _)| s)
}

fn wrapped_services(rows: Vec<Value>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"success": true, "data": {"services": rows}}),
    )
}

fn simple_rows(shared: &Shared, line: Line) -> Vec<Value> {
    line_rows(shared, line)
        .into_iter()
        .map(|(s, id, cents)| json!({"service_id": id, "name": name(s), "price": dollars(cents)}))
        .collect()
}

/// Catalogs answer 401 with `success: false` (§3 B).
fn catalog_key(caller: Option<String>) -> Result<String, SvsError> {
    caller.ok_or_else(|| SvsError::new(StatusCode::UNAUTHORIZED, "Invalid or missing API key"))
}

async fn best_temp(
    State(shared): State<Arc<Shared>>,
    Key(caller): Key,
) -> Result<Response, SvsError> {
    catalog_key(caller)?;
    let rows = line_rows(&shared, Line::BestTemp)
        .into_iter()
        .map(|(s, id, cents)| {
            json!({"service_id": id, "name": name(s), "price": dollars(cents), "country": "US"})
        })
        .collect();
    Ok(wrapped_services(rows))
}

/// B1 on a line whose rows are the simple shape (temporary, rent-1day, rent-30days).
fn simple_services(line: Line) -> MethodRouter<Arc<Shared>> {
    get(
        move |State(shared): State<Arc<Shared>>, Key(caller): Key| async move {
            catalog_key(caller)?;
            Ok::<_, SvsError>(wrapped_services(simple_rows(&shared, line)))
        },
    )
}

/// B2: a raw array, names only, both durations.
async fn rental(State(shared): State<Arc<Shared>>, Key(caller): Key) -> Result<Response, SvsError> {
    catalog_key(caller)?;
    let us = us();
    let rows: Vec<Value> = line_rows(&shared, Line::Rental(3))
        .into_iter()
        .filter_map(|(s, _, _)| {
            let three = catalog::rental_price_cents(s.id, us.iso2, 72)?;
            let thirty = catalog::rental_price_cents(s.id, us.iso2, 720)?;
            Some(json!({
                "name": name(s),
                "sell_price_3days": dollars(three),
                "sell_price_30days": dollars(thirty),
                "price_3days": dollars(three),
                "price_30days": dollars(thirty),
            }))
        })
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(rows)))
}

/// B6: a raw array of data plans (listed for completeness; the tools never buy them).
async fn esim(Key(caller): Key) -> Result<Response, SvsError> {
    catalog_key(caller)?;
    Ok(json_response(
        StatusCode::OK,
        &json!([
            {"name": "1GB / 7 days", "data_gb": 1, "validity_days": 7, "sell_price": 4.5, "price": 4.5},
            {"name": "5GB / 30 days", "data_gb": 5, "validity_days": 30, "sell_price": 14.0, "price": 14.0},
        ]),
    ))
}

fn account_key(caller: Option<String>) -> Result<String, SvsError> {
    caller.ok_or_else(|| SvsError::bare(StatusCode::UNAUTHORIZED, "Invalid API key"))
}

/// A1: bare.
async fn balance(
    State(shared): State<Arc<Shared>>,
    Key(caller): Key,
) -> Result<Response, SvsError> {
    let key = account_key(caller)?;
    let cents = shared.balance_cents(&key);
    Ok(json_response(
        StatusCode::OK,
        &json!({"balance": dollars(cents), "currency": "USD"}),
    ))
}

/// A2: the same, wrapped.
async fn wallet_balance(
    State(shared): State<Arc<Shared>>,
    Key(caller): Key,
) -> Result<Response, SvsError> {
    let key = account_key(caller)?;
    let cents = shared.balance_cents(&key);
    Ok(json_response(
        StatusCode::OK,
        &json!({"success": true, "data": {"balance": dollars(cents), "currency": "USD"}}),
    ))
}

/// The non-US countries with at least one service in stock now.
fn stocked_countries(shared: &Shared) -> Vec<&'static Country> {
    let data = shared.data();
    catalog::COUNTRIES
        .iter()
        .filter(|c| c.iso2 != "us")
        .filter(|c| {
            catalog::SERVICES
                .iter()
                .any(|s| data.stock(s.id, c.iso2) > 0)
        })
        .collect()
}

/// C1: bare.
async fn global_countries(
    State(shared): State<Arc<Shared>>,
    Key(caller): Key,
) -> Result<Response, SvsError> {
    account_key(caller)?;
    let rows: Vec<Value> = stocked_countries(&shared)
        .into_iter()
        .map(|c| json!({"country_id": country_id(c), "country_name": c.name}))
        .collect();
    Ok(json_response(StatusCode::OK, &json!({ "countries": rows })))
}

fn global_country(id: &str) -> Option<&'static Country> {
    catalog::COUNTRIES
        .iter()
        .filter(|c| c.iso2 != "us")
        .find(|c| country_id(c).to_string() == id.trim())
}

/// C2: bare; only offers in stock.
async fn global_services(
    State(shared): State<Arc<Shared>>,
    Key(caller): Key,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, SvsError> {
    account_key(caller)?;
    let q = q.map(|Query(m)| m).unwrap_or_default();
    let Some(id) = q.get("country_id").filter(|v| !v.trim().is_empty()) else {
        return Err(SvsError::bare(
            StatusCode::BAD_REQUEST,
            "country_id query parameter is required",
        ));
    };
    let country = global_country(id)
        .ok_or_else(|| SvsError::bare(StatusCode::NOT_FOUND, "Country not found"))?;
    let offers: Vec<Value> = catalog::SERVICES
        .iter()
        .filter(|s| in_stock(&shared, s, country))
        .map(|s| {
            let cents = catalog::price_cents(s.id, country.iso2);
            json!({
                "service_id": 1000 + index(s),
                "service_name": name(s),
                "country_id": country_id(country),
                "country_name": country.name,
                "sell_price": dollars(cents),
                "price": dollars(cents),
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "country_id": country_id(country),
            "country_name": country.name,
            "offers": offers,
        }),
    ))
}

// ---- orders -------------------------------------------------------------------------------------

/// The body as a JSON object; anything else is a Django-style error.
fn body_object(body: &Bytes) -> Result<Map<String, Value>, SvsError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ if body.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        _ => Err(SvsError::bare(StatusCode::BAD_REQUEST, "JSON parse error")),
    }
}

/// An id field sent as an integer or a string.
fn id_field(obj: &Map<String, Value>, field: &str) -> Result<String, SvsError> {
    match obj.get(field) {
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        None | Some(Value::Null) => Err(SvsError::field(field, "This field is required.")),
        Some(_) => Err(SvsError::field(field, "A valid integer is required.")),
    }
}

/// `+1 555 0101234` style: `+`, the country code, a space, the rest in groups.
fn display_phone(e164: &str) -> String {
    let digits = e164.trim_start_matches('+');
    let cc = if digits.starts_with('1') || digits.starts_with('7') {
        1
    } else {
        2
    };
    let (head, rest) = digits.split_at(cc.min(digits.len()));
    let groups: Vec<String> = rest
        .as_bytes()
        .chunks(3)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    format!("+{head} {}", groups.join(" "))
}

/// Opens an order of `line` and answers in that line's shape.
fn open(
    shared: &Arc<Shared>,
    key: &str,
    service: &'static Service,
    country: &'static Country,
    line: Line,
) -> Result<Response, SvsError> {
    let opening = Opening {
        service,
        country,
        rental_hours: line.period_hours(),
        style: IdStyle::Svs,
        auto_renew: false,
    };
    let placed = shared
        .open_order(key, opening, |o| {
            json!({"id": o.id, "phone": display_phone(&o.phone), "cents": o.price_cents, "expires": rfc3339(o.expires_at)})
        })
        .map_err(|e| match e {
            OpenError::NotRentable => SvsError::new(StatusCode::NOT_FOUND, "Service not found"),
            OpenError::NoStock => SvsError::new(StatusCode::BAD_REQUEST, "Service not available"),
            // The doc groups 400/402/404 under this text: the fake answers 400.
            OpenError::Insufficient { .. } => {
                SvsError::new(StatusCode::BAD_REQUEST, "Insufficient balance")
            }
        })?;
    let id = placed["id"].as_str().unwrap_or_default().to_owned();
    lock(&shared.svs.placed).insert(
        id.clone(),
        Placed {
            line,
            renewed: false,
        },
    );
    let order_id: u64 = id.parse().unwrap_or_default();
    let body = match line {
        // D2: flat, with the price and the expiry.
        Line::Rental(_) => json!({
            "success": true,
            "order_id": order_id,
            "phone": placed["phone"],
            "sell_price": dollars(placed["cents"].as_i64().unwrap_or_default()),
            "price": dollars(placed["cents"].as_i64().unwrap_or_default()),
            "status": "active",
            "expiry_date": placed["expires"],
        }),
        _ => json!({
            "success": true,
            "data": {"order_id": order_id, "phone": placed["phone"], "status": "pending"},
        }),
    };
    Ok(json_response(StatusCode::CREATED, &body))
}

/// D1, D3, D4, D5: a US service by its id on `line`.
fn order_us(
    shared: &Arc<Shared>,
    key: &str,
    body: &Bytes,
    line: Line,
) -> Result<Response, SvsError> {
    let obj = body_object(body)?;
    let id = id_field(&obj, "service_id")?;
    let service = by_id(shared, line, &id)
        .ok_or_else(|| SvsError::new(StatusCode::NOT_FOUND, "Service not found"))?;
    open(shared, key, service, us(), line)
}

/// The POST that orders a US service on `line` (D1, D3, D4, D5).
fn order_on(line: Line) -> MethodRouter<Arc<Shared>> {
    post(
        move |State(shared): State<Arc<Shared>>, Authed(key): Authed, body: Bytes| async move {
            order_us(&shared, &key, &body, line)
        },
    )
}

/// D2: `service` by name (case-insensitive), `duration` 3 or 30.
async fn order_rental(
    State(shared): State<Arc<Shared>>,
    Authed(key): Authed,
    body: Bytes,
) -> Result<Response, SvsError> {
    let obj = body_object(&body)?;
    let Some(wanted) = obj
        .get("service")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
    else {
        return Err(SvsError::field("service", "This field is required."));
    };
    let days = match obj.get("duration").and_then(Value::as_u64) {
        Some(3) => 3,
        Some(30) => 30,
        None => return Err(SvsError::field("duration", "This field is required.")),
        Some(_) => return Err(SvsError::field("duration", "\"duration\" must be 3 or 30.")),
    };
    let service = line_rows(&shared, Line::Rental(days))
        .into_iter()
        .map(|(s, _, _)| s)
        .find(|s| name(s).eq_ignore_ascii_case(wanted.trim()))
        .ok_or_else(|| SvsError::bare(StatusCode::NOT_FOUND, "Service not found"))?;
    open(&shared, &key, service, us(), Line::Rental(days))
}

/// D6: a service of a global country.
async fn order_global(
    State(shared): State<Arc<Shared>>,
    Authed(key): Authed,
    body: Bytes,
) -> Result<Response, SvsError> {
    let obj = body_object(&body)?;
    let sid = id_field(&obj, "service_id")?;
    let cid = id_field(&obj, "country_id")?;
    let unavailable = || SvsError::new(StatusCode::BAD_REQUEST, "Service not available");
    let country = global_country(&cid).ok_or_else(unavailable)?;
    let service = catalog::SERVICES
        .iter()
        .find(|s| (1000 + index(s)).to_string() == sid)
        .ok_or_else(unavailable)?;
    open(&shared, &key, service, country, Line::Global)
}

/// The provider's status of an order placed here.
fn svs_status(o: &Order, placed: Placed) -> &'static str {
    let rental = placed.line.period_hours().is_some();
    match o.status {
        Status::Waiting if matches!(placed.line, Line::Rental(_)) || placed.renewed => "active",
        Status::Waiting => "pending",
        Status::Received if rental => "active",
        Status::Received | Status::Confirmed => "completed",
        Status::Cancelled | Status::Released => "cancelled",
        Status::Expired => "expired",
    }
}

/// The display string of E1: the name, plus the country in brackets outside the US.
fn display_service(o: &Order) -> String {
    if o.country.iso2 == "us" {
        name(o.service).to_owned()
    } else {
        format!("{} ({})", name(o.service), o.country.name)
    }
}

/// Runs `f` on an order of `key` placed through this dialect, after lazy expiry.
fn with_order<T>(
    shared: &Shared,
    key: &str,
    id: &str,
    f: impl FnOnce(&Order, Placed) -> T,
) -> Result<T, SvsError> {
    let placed = lock(&shared.svs.placed).get(id).copied();
    let not_found = || SvsError::new(StatusCode::NOT_FOUND, "Order not found");
    let placed = placed.ok_or_else(not_found)?;
    let mut data = shared.data();
    match data.orders.get_mut(id) {
        Some(o) if o.owner == key => {
            o.refresh(SystemTime::now());
            Ok(f(o, placed))
        }
        _ => Err(not_found()),
    }
}

/// E1: a raw array of the 50 newest orders placed here.
async fn orders(State(shared): State<Arc<Shared>>, Key(caller): Key) -> Result<Response, SvsError> {
    let key = account_key(caller)?;
    let placed = lock(&shared.svs.placed).clone();
    let now = SystemTime::now();
    let mut data = shared.data();
    let ids: Vec<String> = data
        .accounts
        .get(&key)
        .map(|a| a.orders.clone())
        .unwrap_or_default();
    let mut rows = Vec::new();
    for id in ids.iter().rev() {
        let (Some(p), Some(o)) = (placed.get(id), data.orders.get_mut(id)) else {
            continue;
        };
        o.refresh(now);
        rows.push(json!({
            "order_id": id.parse::<u64>().unwrap_or_default(),
            "service": display_service(o),
            "status": svs_status(o, *p),
            "sell_price": dollars(o.price_cents),
            "price": dollars(o.price_cents),
            "phone": display_phone(&o.phone),
            "created_at": rfc3339(o.created_at),
        }));
        if rows.len() == 50 {
            break;
        }
    }
    Ok(json_response(StatusCode::OK, &Value::Array(rows)))
}

/// E2: one `otp` and `message` (the latest), a countdown on rentals.
async fn order_status(
    State(shared): State<Arc<Shared>>,
    Authed(key): Authed,
    Path(id): Path<String>,
) -> Result<Response, SvsError> {
    let data = with_order(&shared, &key, &id, |o, placed| {
        let latest = o.messages.last();
        let mut data = json!({
            "order_id": id.parse::<u64>().unwrap_or_default(),
            "status": svs_status(o, placed),
            "otp": latest.and_then(|m| m.code.clone()),
            "message": latest.map(|m| m.text.clone()),
            "phone": display_phone(&o.phone),
        });
        let left = o
            .expires_at
            .duration_since(SystemTime::now())
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if let Some(obj) = data.as_object_mut() {
            match placed.line {
                Line::Rent1Day => {
                    obj.insert("time_left_seconds".into(), json!(left));
                }
                Line::Rental(_) | Line::Rent30Days => {
                    obj.insert("days_left".into(), json!(left / 86_400));
                }
                _ => {}
            }
        }
        data
    })?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"success": true, "data": data}),
    ))
}

/// E3: refund in full before an SMS; otherwise "Order cannot be cancelled".
async fn cancel(
    State(shared): State<Arc<Shared>>,
    Authed(key): Authed,
    Path(id): Path<String>,
) -> Result<Response, SvsError> {
    with_order(&shared, &key, &id, |_, _| ())?;
    shared.cancel_order(&key, &id).map_err(|p| {
        if p.status == StatusCode::NOT_FOUND {
            SvsError::new(StatusCode::NOT_FOUND, "Order not found")
        } else {
            SvsError::new(StatusCode::BAD_REQUEST, "Order cannot be cancelled")
        }
    })?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"success": true, "data": {"order_id": id.parse::<u64>().unwrap_or_default(), "status": "cancelled"}}),
    ))
}

/// E4: one period of the order's product at the current price.
async fn renew(
    State(shared): State<Arc<Shared>>,
    Authed(key): Authed,
    Path(id): Path<String>,
) -> Result<Response, SvsError> {
    let placed = with_order(&shared, &key, &id, |_, p| p)?;
    let Some(period) = placed.line.period_hours() else {
        return Err(SvsError::new(
            StatusCode::BAD_REQUEST,
            "Only rentals can be renewed",
        ));
    };
    let body = shared
        .extend_order(&key, &id, Ok(period))
        .map_err(|p| match p.slug.as_str() {
            "insufficient-balance" => {
                SvsError::new(StatusCode::BAD_REQUEST, "Insufficient balance")
            }
            _ => SvsError::new(StatusCode::BAD_REQUEST, "Order cannot be renewed"),
        })?;
    lock(&shared.svs.placed).insert(
        id.clone(),
        Placed {
            renewed: true,
            ..placed
        },
    );
    let phone = body["phone_number"].as_str().map(display_phone);
    Ok(json_response(
        StatusCode::OK,
        &json!({"success": true, "data": {"order_id": id.parse::<u64>().unwrap_or_default(), "status": "active", "phone": phone}}),
    ))
}

/// Whether `uri` is under this dialect's prefix.
pub(crate) fn is_under(path: &str) -> bool {
    path.strip_prefix(PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}
