//! The **SMSCode** dialect at `/smscode/v1` (`../shared/api/smscode.md`), served from the same
//! state as the VirtualSMS dialects: the same catalog (services are SMSCode *platforms*,
//! countries are English-name slugs such as `united-states`), the same live stock (`jp` sold
//! out), accounts keyed by token with one balance, the same request log, fault queue and per-key
//! rate limiter (the pipeline's; its limit is the fake's `rate_limit_per_minute`, not SMSCode's
//! 300).
//!
//! What SMSCode does its own way, imitated here:
//! - `Authorization: Bearer <token>`; every answer is `{success: true, data}` or `{success:
//!   false, error: {code, message}}`. `PRODUCT_UNAVAILABLE` and `INSUFFICIENT_BALANCE` come with
//!   **HTTP 200** (the guide's mocks do this; the real pairing is not documented); the others
//!   with their status: `UNAUTHORIZED` 401, `INVALID_PARAMETERS` 400, `ORDER_NOT_FOUND` 404,
//!   `INVALID_STATE` 409 (a code of this fake: the guide names none), `RATE_LIMITED` 429.
//!   Injected [`super::Fault::Problem`]s render in this envelope too, their slug upper-cased
//!   (`product-unavailable` → `PRODUCT_UNAVAILABLE`), at the status asked for (200 included);
//! - money is whole rupiah at a fixed [`IDR_PER_USD`] (16 000 IDR per USD, 160 per cent), so
//!   a $10.00 balance reads 160000 and a 30-cent number 4800;
//! - two products per platform and country ([`product_id`]): the *standard* one at the catalog
//!   price with a limited share of the stock ([`standard_capacity`]), and a *premium* one 40 %
//!   dearer with the rest, so buyers must pick the cheapest in stock;
//! - `POST /orders {product_id}` answers `{order_id, phone_number, status, expires_at}`: no
//!   price. Only SMSCode-born orders are seen by these endpoints; they show `otp_code` (the
//!   code, never the SMS text); statuses `WAITING`, `OTP_RECEIVED`, `COMPLETED`, `CANCELLED`,
//!   `EXPIRED`;
//! - cancel before the code refunds in full, after it is accepted and refunds nothing; an order
//!   whose window closes without a code is refunded (settled when this dialect next reads the
//!   account); `POST /orders/{id}/complete` finishes an order that has its code;
//! - assumed endpoints served: `GET /catalog/countries` (`[{slug, name}]`), `GET /orders` (every
//!   order of the token, newest first, no paging), `POST /orders/{id}/complete`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::catalog::{self, Country, Service};
use super::orders::{Order, Status};
use super::pipeline::Authed;
use super::problem::Problem;
use super::state::{lock, Data, EntryKind, Shared};
use super::util::{extract_code, random_hex, rfc3339};

/// Where the dialect lives; `FakeHandle::smscode_base_url` ends with it.
pub const PREFIX: &str = "/smscode/v1";
/// The fixed rate of this fake: rupiah per US dollar.
pub const IDR_PER_USD: i64 = 16_000;
/// Rupiah per cent of the shared (USD-cent) balance and prices.
const IDR_PER_CENT: i64 = IDR_PER_USD / 100;
/// The first product id; products come in pairs (standard, premium).
const FIRST_PRODUCT: u64 = 100;

/// SMSCode's own bookkeeping next to the shared orders: which orders were born here, from which
/// product, and whether an expiry refund was paid.
#[derive(Debug, Default)]
pub(crate) struct Books(Mutex<HashMap<String, Entry>>);

#[derive(Debug, Clone, Copy)]
struct Entry {
    product: u64,
    expiry_refunded: bool,
}

/// Which of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Standard,
    Premium,
}

/// The product id of (service, country, tier), or `None` for an unknown pair.
pub fn product_id(service: &str, country: &str, tier: Tier) -> Option<u64> {
    let s = catalog::SERVICES.iter().position(|x| x.id == service)?;
    let c = catalog::COUNTRIES.iter().position(|x| x.iso2 == country)?;
    let pair = (s * catalog::COUNTRIES.len() + c) as u64;
    Some(FIRST_PRODUCT + 2 * pair + u64::from(tier == Tier::Premium))
}

fn product(id: u64) -> Option<(&'static Service, &'static Country, Tier)> {
    let offset = id.checked_sub(FIRST_PRODUCT)?;
    let pair = (offset / 2) as usize;
    let n = catalog::COUNTRIES.len();
    let service = catalog::SERVICES.get(pair / n)?;
    let country = catalog::COUNTRIES.get(pair % n)?;
    let tier = if offset % 2 == 0 {
        Tier::Standard
    } else {
        Tier::Premium
    };
    Some((service, country, tier))
}

/// A tier's price in cents: the catalog price, or 40 % more (rounded up) for premium.
fn price_cents(service: &str, country: &str, tier: Tier) -> i64 {
    let base = catalog::price_cents(service, country);
    match tier {
        Tier::Standard => base,
        Tier::Premium => (base * 7 + 4) / 5,
    }
}

/// How many numbers the standard product holds at start: a third of the starting stock.
pub fn standard_capacity(service: &str, country: &str) -> u32 {
    catalog::initial_stock(service, country) / 3
}

/// A country's slug: its English name, lower case, words joined by `-` (`united-kingdom`).
pub fn slug(country: &Country) -> String {
    country.name.to_ascii_lowercase().replace(' ', "-")
}

fn rupiah(cents: i64) -> i64 {
    cents * IDR_PER_CENT
}

// ---- errors -------------------------------------------------------------------------------------

/// Marks a response already in this dialect's envelope.
#[derive(Clone, Copy, Debug)]
struct Rendered;

/// `{success: false, error: {code, message}}` at `status`.
#[derive(Debug)]
pub(crate) struct SmsCodeError {
    status: StatusCode,
    code: String,
    message: String,
}

impl SmsCodeError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        SmsCodeError {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETERS", message)
    }

    fn not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ORDER_NOT_FOUND",
            format!("Order {id} not found"),
        )
    }

    fn state(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "INVALID_STATE", message)
    }
}

impl IntoResponse for SmsCodeError {
    fn into_response(self) -> Response {
        let body = json!({
            "success": false,
            "error": { "code": self.code, "message": self.message },
        });
        let mut resp = (self.status, Json(body)).into_response();
        resp.extensions_mut().insert(Rendered);
        resp
    }
}

/// `lower-kebab` → `UPPER_SNAKE`.
fn code_of(slug: &str) -> String {
    slug.to_ascii_uppercase().replace('-', "_")
}

/// A [`Problem`] of the shared machinery (401, 429, unknown route, injected fault) in the envelope,
/// `Retry-After` kept.
pub(crate) fn render_problem(problem: &Problem) -> Response {
    let message = match problem.slug.as_str() {
        "unauthorized" => "Missing or invalid token".to_owned(),
        _ => problem.detail.clone(),
    };
    let mut resp =
        SmsCodeError::new(problem.status, &code_of(&problem.slug), message).into_response();
    problem.add_retry_after(&mut resp);
    resp
}

/// Any error answer in the envelope (axum's own rejections and bodiless 404/405 included).
pub(crate) async fn finalize(resp: Response) -> Response {
    if resp.extensions().get::<Rendered>().is_some() {
        return resp;
    }
    if let Some(problem) = resp.extensions().get::<Problem>().cloned() {
        return render_problem(&problem);
    }
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let code = match status.as_u16() {
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_ALLOWED",
        400 | 415 | 422 => "INVALID_PARAMETERS",
        _ => "ERROR",
    };
    let message = status.canonical_reason().unwrap_or("Error");
    SmsCodeError::new(status, code, message).into_response()
}

// ---- routes -------------------------------------------------------------------------------------

type Reply = Result<Json<Value>, SmsCodeError>;
type Q = Result<Query<HashMap<String, String>>, QueryRejection>;

fn ok(data: Value) -> Reply {
    Ok(Json(json!({ "success": true, "data": data })))
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/smscode/v1/balance", get(balance))
        .route("/smscode/v1/catalog/products", get(products))
        .route("/smscode/v1/catalog/countries", get(countries))
        .route("/smscode/v1/orders", get(list_orders).post(create_order))
        .route("/smscode/v1/orders/{id}", get(get_order))
        .route("/smscode/v1/orders/{id}/cancel", post(cancel))
        .route("/smscode/v1/orders/{id}/complete", post(complete))
}

impl Shared {
    /// Pays the refund of every SMSCode order of `key` whose window closed without a code.
    fn smscode_settle(&self, data: &mut Data, key: &str) {
        let now = SystemTime::now();
        let mut books = lock(&self.smscode.0);
        let mut refunds = Vec::new();
        for (id, entry) in books.iter_mut() {
            let Some(order) = data.orders.get_mut(id) else {
                continue;
            };
            if order.owner != key {
                continue;
            }
            order.refresh(now);
            if order.status == Status::Expired
                && order.messages.is_empty()
                && !entry.expiry_refunded
            {
                entry.expiry_refunded = true;
                refunds.push((id.clone(), order.paid_cents));
            }
        }
        drop(books);
        let acct = data.account(key, self.options.starting_balance_cents);
        for (id, cents) in refunds {
            acct.post(EntryKind::Refund, cents, Some(&id));
        }
    }

    /// Live count of (service, country, tier): the standard product holds what is left of its
    /// capacity (numbers out on live or finished orders are gone; cancelled ones came back), the
    /// premium product the rest of the shared stock.
    fn smscode_available(
        &self,
        data: &Data,
        books: &HashMap<String, Entry>,
        service: &'static str,
        country: &'static str,
        tier: Tier,
    ) -> u32 {
        let stock = data.stock(service, country);
        let standard_id = product_id(service, country, Tier::Standard);
        let out = books
            .iter()
            .filter(|(id, e)| {
                Some(e.product) == standard_id
                    && data
                        .orders
                        .get(*id)
                        .is_some_and(|o| o.status != Status::Cancelled || !o.messages.is_empty())
            })
            .count() as u32;
        let standard = standard_capacity(service, country)
            .saturating_sub(out)
            .min(stock);
        match tier {
            Tier::Standard => standard,
            Tier::Premium => stock - standard,
        }
    }
}

/// The SMSCode view of an order.
fn order_json(o: &Order, product: u64) -> Value {
    let status = match o.status {
        Status::Waiting => "WAITING",
        Status::Received => "OTP_RECEIVED",
        Status::Confirmed | Status::Released => "COMPLETED",
        Status::Cancelled => "CANCELLED",
        Status::Expired => "EXPIRED",
    };
    let otp = o.messages.last().and_then(|m| extract_code(&m.text));
    json!({
        "order_id": o.id,
        "product_id": product,
        "phone_number": o.phone,
        "status": status,
        "otp_code": otp,
        "created_at": rfc3339(o.created_at),
        "expires_at": rfc3339(o.expires_at),
    })
}

async fn balance(State(shared): State<Arc<Shared>>, Authed(key): Authed) -> Reply {
    let mut data = shared.data();
    shared.smscode_settle(&mut data, &key);
    let cents = data
        .account(&key, shared.options.starting_balance_cents)
        .balance_cents;
    ok(json!({ "currency": "IDR", "balance": rupiah(cents) }))
}

fn query(q: Q) -> Result<HashMap<String, String>, SmsCodeError> {
    q.map(|Query(m)| m)
        .map_err(|e| SmsCodeError::invalid(format!("Invalid query: {e}")))
}

/// B1: every product, optionally of one country slug and/or platform (unknown ones: none).
async fn products(State(shared): State<Arc<Shared>>, _auth: Authed, q: Q) -> Reply {
    let q = query(q)?;
    let wanted = |name: &str| {
        q.get(name)
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty())
    };
    let (country, platform) = (wanted("country"), wanted("platform"));
    let data = shared.data();
    let books = lock(&shared.smscode.0);
    let mut rows = Vec::new();
    for s in catalog::SERVICES {
        if platform.as_deref().is_some_and(|p| p != s.id) {
            continue;
        }
        for c in catalog::COUNTRIES {
            let c_slug = slug(c);
            if country.as_deref().is_some_and(|x| x != c_slug) {
                continue;
            }
            for tier in [Tier::Standard, Tier::Premium] {
                rows.push(json!({
                    "id": product_id(s.id, c.iso2, tier),
                    "country": c_slug,
                    "platform": s.id,
                    "price": rupiah(price_cents(s.id, c.iso2, tier)),
                    "available_count": shared.smscode_available(&data, &books, s.id, c.iso2, tier),
                }));
            }
        }
    }
    ok(Value::Array(rows))
}

/// B2 **(assumed)**: `[{slug, name}]`.
async fn countries(_auth: Authed) -> Reply {
    let rows: Vec<Value> = catalog::COUNTRIES
        .iter()
        .map(|c| json!({ "slug": slug(c), "name": c.name }))
        .collect();
    ok(Value::Array(rows))
}

/// C1 `POST /orders {product_id}`.
async fn create_order(
    State(shared): State<Arc<Shared>>,
    Authed(key): Authed,
    body: Bytes,
) -> Reply {
    let body: Value = serde_json::from_slice(&body).map_err(|e| {
        SmsCodeError::invalid(format!("Invalid JSON body ({e}): expected {{product_id}}"))
    })?;
    let id = body
        .get("product_id")
        .and_then(Value::as_u64)
        .ok_or_else(|| SmsCodeError::invalid("product_id: required, an integer"))?;
    let (service, country, tier) =
        product(id).ok_or_else(|| SmsCodeError::invalid(format!("product_id: no product {id}")))?;
    let price = price_cents(service.id, country.iso2, tier);
    let mut data = shared.data();
    shared.smscode_settle(&mut data, &key);
    let available = {
        let books = lock(&shared.smscode.0);
        shared.smscode_available(&data, &books, service.id, country.iso2, tier)
    };
    if available == 0 {
        return Err(SmsCodeError::new(
            StatusCode::OK,
            "PRODUCT_UNAVAILABLE",
            format!("Product {id} is out of stock"),
        ));
    }
    let acct = data.account(&key, shared.options.starting_balance_cents);
    if acct.balance_cents < price {
        return Err(SmsCodeError::new(
            StatusCode::OK,
            "INSUFFICIENT_BALANCE",
            format!(
                "Balance {} IDR is below the price {} IDR",
                rupiah(acct.balance_cents),
                rupiah(price)
            ),
        ));
    }
    let order_id = loop {
        let candidate = format!("ord_{}", random_hex(10));
        if !data.orders.contains_key(&candidate) {
            break candidate;
        }
    };
    let acct = data.account(&key, shared.options.starting_balance_cents);
    acct.post(EntryKind::Charge, -price, Some(&order_id));
    acct.orders.push(order_id.clone());
    *data.stock_mut(service.id, country.iso2) -= 1;
    let order = Order::new(
        order_id.clone(),
        &key,
        service,
        country,
        price,
        price,
        SystemTime::now(),
        shared.options.order_lifetime,
        std::time::Duration::ZERO,
    );
    // The order answer carries no price (the guide's shape).
    let answer = json!({
        "order_id": order.id,
        "phone_number": order.phone,
        "status": "WAITING",
        "expires_at": rfc3339(order.expires_at),
    });
    data.orders.insert(order_id.clone(), order);
    lock(&shared.smscode.0).insert(
        order_id.clone(),
        Entry {
            product: id,
            expiry_refunded: false,
        },
    );
    drop(data);
    shared.schedule_sms(order_id, 0, false);
    ok(answer)
}

/// Runs `f` on `key`'s SMSCode order `id` (after settling expiry refunds), with its product.
fn with_order<T>(
    shared: &Shared,
    key: &str,
    id: &str,
    f: impl FnOnce(&mut Data, u64) -> Result<T, SmsCodeError>,
) -> Result<T, SmsCodeError> {
    let mut data = shared.data();
    shared.smscode_settle(&mut data, key);
    let product = lock(&shared.smscode.0).get(id).map(|e| e.product);
    match (product, data.orders.get(id)) {
        (Some(product), Some(o)) if o.owner == key => f(&mut data, product),
        _ => Err(SmsCodeError::not_found(id)),
    }
}

async fn get_order(
    State(shared): State<Arc<Shared>>,
    Authed(key): Authed,
    Path(id): Path<String>,
) -> Reply {
    let body = with_order(&shared, &key, &id, |data, product| {
        Ok(data
            .orders
            .get(&id)
            .map(|o| order_json(o, product))
            .unwrap_or_default())
    })?;
    ok(body)
}

/// C5 **(assumed)**: every SMSCode order of the token, newest first.
async fn list_orders(State(shared): State<Arc<Shared>>, Authed(key): Authed) -> Reply {
    let mut data = shared.data();
    shared.smscode_settle(&mut data, &key);
    let books = lock(&shared.smscode.0).clone();
    let ids: Vec<String> = data
        .accounts
        .get(&key)
        .map(|a| a.orders.clone())
        .unwrap_or_default();
    let rows: Vec<Value> = ids
        .iter()
        .rev()
        .filter_map(|id| {
            let entry = books.get(id)?;
            data.orders.get(id).map(|o| order_json(o, entry.product))
        })
        .collect();
    ok(Value::Array(rows))
}

/// C3: before the code, a full refund and the number back in stock; after it, no refund.
async fn cancel(
    State(shared): State<Arc<Shared>>,
    Authed(key): Authed,
    Path(id): Path<String>,
) -> Reply {
    let body = with_order(&shared, &key, &id, |data, product| {
        let Some(order) = data.orders.get_mut(&id) else {
            return Err(SmsCodeError::not_found(&id));
        };
        let refund = match order.status {
            Status::Waiting => Some(order.paid_cents),
            Status::Received => None,
            other => {
                return Err(SmsCodeError::state(format!(
                    "Order {id} is {} and cannot be cancelled",
                    other.as_str()
                )))
            }
        };
        order.set_status(Status::Cancelled);
        let (service, country) = (order.service.id, order.country.iso2);
        let body = order_json(order, product);
        if let Some(cents) = refund {
            data.give_back(
                &key,
                shared.options.starting_balance_cents,
                &id,
                (service, country),
                cents,
            );
        }
        Ok(body)
    })?;
    ok(body)
}

/// C4 **(assumed)**: finishes an order that has its code.
async fn complete(
    State(shared): State<Arc<Shared>>,
    Authed(key): Authed,
    Path(id): Path<String>,
) -> Reply {
    let body = with_order(&shared, &key, &id, |data, product| {
        let Some(order) = data.orders.get_mut(&id) else {
            return Err(SmsCodeError::not_found(&id));
        };
        match order.status {
            Status::Received => order.set_status(Status::Confirmed),
            Status::Confirmed => {}
            Status::Waiting => {
                return Err(SmsCodeError::state(format!("Order {id} has no OTP yet")))
            }
            other => {
                return Err(SmsCodeError::state(format!(
                    "Order {id} is {} and cannot be completed",
                    other.as_str()
                )))
            }
        }
        Ok(order_json(order, product))
    })?;
    ok(body)
}
