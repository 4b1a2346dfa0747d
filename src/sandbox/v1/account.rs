//! v1 catalog and account handlers: `/customer/services`, `/customer/countries`,
//! `/catalog/countries`, `/price`, `/customer/balance`, `/customer/profile`,
//! `/customer/transactions`. Read-only views of the shared catalog, stock and ledger.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::{limit_param, query, V1Error, Q};
use crate::sandbox::catalog::{self, Country, Service};
use crate::sandbox::pipeline::Authed;
use crate::sandbox::state::{EntryKind, Shared};
use crate::sandbox::util::{dollars, rfc3339};

type JsonResult = Result<Json<Value>, V1Error>;

/// Transactions page size default and cap.
const TXN_DEFAULT: usize = 50;
const TXN_MAX: usize = 200;

/// `?service=<code>` when present: `Ok(None)` when absent or empty.
fn service_param(
    q: &std::collections::HashMap<String, String>,
) -> Result<Option<&'static Service>, String> {
    match q.get("service").map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(code) => catalog::service_by_code(code)
            .map(Some)
            .ok_or_else(|| code.to_string()),
    }
}

/// `GET /customer/services` (key).
pub(super) async fn services(Authed(_key): Authed) -> Json<Value> {
    let items: Vec<Value> = catalog::SERVICES
        .iter()
        .map(|s| {
            json!({
                "service_id": s.code,
                "service_name": s.name,
                "base_price": dollars(catalog::base_price_cents(s.id)),
            })
        })
        .collect();
    Json(json!({ "success": true, "services": items }))
}

/// `GET /customer/countries[?service=<code>]` (key): every country; `services` = codes in stock
/// there (only the asked one with `service`), `min_price` over those (or over all when none).
pub(super) async fn countries(
    State(s): State<Arc<Shared>>,
    Authed(_key): Authed,
    q: Q,
) -> JsonResult {
    let q = query(q)?;
    let only =
        service_param(&q).map_err(|c| V1Error::bad_request(format!("Invalid service: {c}")))?;
    let data = s.data();
    let wanted: Vec<&Service> = match only {
        Some(svc) => vec![svc],
        None => catalog::SERVICES.iter().collect(),
    };
    let items: Vec<Value> = catalog::COUNTRIES
        .iter()
        .map(|c: &Country| {
            let in_stock: Vec<&Service> = wanted
                .iter()
                .copied()
                .filter(|svc| data.stock(svc.id, c.iso2) > 0)
                .collect();
            let priced = if in_stock.is_empty() {
                &wanted
            } else {
                &in_stock
            };
            let min_price = priced
                .iter()
                .map(|svc| catalog::price_cents(svc.id, c.iso2))
                .min()
                .unwrap_or(0);
            json!({
                "country_id": c.iso2_upper(),
                "country_name": c.name,
                "min_price": dollars(min_price),
                "services": in_stock.iter().map(|svc| svc.code).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!({ "countries": items })))
}

/// `GET /catalog/countries?service=<code>` (public): one row per country with price and stock.
pub(super) async fn catalog_countries(State(s): State<Arc<Shared>>, q: Q) -> JsonResult {
    let q = query(q)?;
    let bad = |msg: String| {
        V1Error::json(
            StatusCode::BAD_REQUEST,
            json!({ "success": false, "error": msg }),
        )
    };
    let svc = match service_param(&q) {
        Ok(Some(svc)) => svc,
        Ok(None) => return Err(bad("Missing service".to_string())),
        Err(code) => return Err(bad(format!("Unknown service: {code}"))),
    };
    let data = s.data();
    let items: Vec<Value> = catalog::COUNTRIES
        .iter()
        .map(|c| {
            json!({
                "id": c.iso2_upper(),
                "name": c.name,
                "price": dollars(catalog::price_cents(svc.id, c.iso2)),
                "count": data.stock(svc.id, c.iso2),
            })
        })
        .collect();
    Ok(Json(json!({ "success": true, "countries": items })))
}

/// `GET /price?service=<code>&country=<ISO>` (public). Unknown service: 404; unknown country
/// (lower case included): 200 with `success: false` — both live quirks. No stock field.
pub(super) async fn price(q: Q) -> JsonResult {
    let q = query(q)?;
    let svc = match service_param(&q) {
        Ok(Some(svc)) => svc,
        _ => return Err(V1Error::new(StatusCode::NOT_FOUND, "Service not found")),
    };
    let asked = q.get("country").map(|v| v.trim()).unwrap_or_default();
    let Some(c) = catalog::country_v1(asked) else {
        return Ok(Json(json!({
            "success": false,
            "service": svc.code,
            "country": asked,
            "error": "Price not available",
        })));
    };
    Ok(Json(json!({
        "success": true,
        "service": svc.code,
        "country": c.iso2_upper(),
        "service_name": svc.name,
        "country_name": c.name,
        "price": dollars(catalog::price_cents(svc.id, c.iso2)),
    })))
}

/// `GET /customer/balance` (key).
pub(super) async fn balance(State(s): State<Arc<Shared>>, Authed(key): Authed) -> Json<Value> {
    let mut data = s.data();
    let acct = data.account(&key, s.options.starting_balance_cents);
    Json(json!({ "success": true, "balance": dollars(acct.balance_cents) }))
}

/// `GET /customer/profile` (key). Spent = purchases net of refunds; credits = deposits.
pub(super) async fn profile(State(s): State<Arc<Shared>>, Authed(key): Authed) -> Json<Value> {
    let mut data = s.data();
    let acct = data.account(&key, s.options.starting_balance_cents);
    let sum = |kinds: &[EntryKind]| -> i64 {
        acct.ledger
            .iter()
            .filter(|e| kinds.contains(&e.kind))
            .map(|e| e.amount_cents)
            .sum()
    };
    Json(json!({
        "id": acct.user_id,
        "email": acct.email,
        "telegram_linked": false,
        "balance_usd": dollars(acct.balance_cents),
        "total_spent_usd": dollars(-sum(&[EntryKind::Charge, EntryKind::Refund])),
        "total_credits_usd": dollars(sum(&[EntryKind::Deposit])),
        "total_orders": acct.orders.len(),
        "active_api_keys": 1,
        "created_at": rfc3339(acct.created_at),
    }))
}

/// `GET /customer/transactions?limit=&offset=&type=` (key): newest first; `count` is the rows in
/// this page (no grand total). `from`/`to` are accepted and ignored (the sandbox's ledger is short).
pub(super) async fn transactions(
    State(s): State<Arc<Shared>>,
    Authed(key): Authed,
    q: Q,
) -> JsonResult {
    let q = query(q)?;
    let limit = limit_param(&q, TXN_DEFAULT, TXN_MAX)?;
    let offset = match q.get("offset").map(|v| v.trim()) {
        None | Some("") => 0,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| V1Error::bad_request(format!("Invalid offset: {v}")))?,
    };
    let kind = match q.get("type").map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => None,
        Some("purchase") => Some(Some(EntryKind::Charge)),
        Some("refund") => Some(Some(EntryKind::Refund)),
        Some("deposit") => Some(Some(EntryKind::Deposit)),
        // A real type the sandbox never books: always an empty page.
        Some("admin_credit") => Some(None),
        Some(other) => {
            return Err(V1Error::bad_request(format!(
                "Invalid type: {other} (deposit, purchase, refund, admin_credit)"
            )))
        }
    };
    let mut data = s.data();
    let acct = data.account(&key, s.options.starting_balance_cents);
    let rows: Vec<Value> = acct
        .ledger
        .iter()
        .rev()
        .filter(|e| kind.is_none_or(|k| k == Some(e.kind)))
        .skip(offset)
        .take(limit)
        .map(|e| e.to_json_v1())
        .collect();
    Ok(Json(json!({
        "count": rows.len(),
        "limit": limit,
        "offset": offset,
        "transactions": rows,
    })))
}
