//! v1 rentals: `GET /rentals/available`, `POST /rentals`, `GET /rentals`,
//! `POST /rentals/{id}/extend`, `/cancel`, `/release`.
//!
//! A rental is an order of the shared table with `rental_hours` and a `rnt_<hex>` id, so stock,
//! money, SMS delivery (which bumps `sms_received`), expiry and the test clock (`age_order`) are
//! the shared ones. Durations are [`catalog::V1_RENTAL_HOURS`], priced by
//! [`catalog::rental_price_cents`] (the v2 price for the same length).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Map, Value};

use super::{allowed_in_status, digits, json_object, query, required_str, V1Error, Q};
use crate::sandbox::catalog;
use crate::sandbox::orders::{IdStyle, OpenError, Opening, Order, Status};
use crate::sandbox::pipeline::Authed;
use crate::sandbox::state::{EntryKind, Shared};
use crate::sandbox::util::{dollars, later, rfc3339};

type JsonResult = Result<Json<Value>, V1Error>;

/// A rental can be cancelled (full refund) this long after purchase, before its first SMS.
const CANCEL_WINDOW: Duration = Duration::from_secs(20 * 60);
/// A rental can be released (pro-rated refund) only after this long.
const RELEASE_HOLD: Duration = Duration::from_secs(2 * 3600);
/// Release keeps this share of the unused part, in percent (assumed terms: 10 % fee).
const RELEASE_FEE_PERCENT: i64 = 10;

const WINDOW_TEXT: &str =
    "Rental can only be cancelled within 20 minutes of purchase and before the first SMS";
const HOLD_TEXT: &str = "Rentals can be released after a 2-hour minimum hold";

/// The v1 status of a rental (see the table in `super`).
fn status(o: &Order) -> &'static str {
    match o.status {
        Status::Waiting | Status::Received => "active",
        Status::Cancelled => "cancelled",
        Status::Confirmed | Status::Released => "completed",
        Status::Expired => "expired",
    }
}

/// One `GET /rentals` row.
fn row_json(o: &Order) -> Value {
    let mut v = json!({
        "id": o.id,
        "phone_number": digits(&o.phone),
        "rental_type": "service",
        "service_id": o.service.code,
        "duration_hours": o.rental_hours.unwrap_or(0),
        "started_at": rfc3339(o.created_at),
        "expires_at": rfc3339(o.expires_at),
        "price": dollars(o.price_cents),
        "auto_renew": o.auto_renew,
        "status": status(o),
        "sms_received": o.messages.len(),
        "sms_forwarded": 0,
        "provider": "virtualsms",
    });
    if let (Some(last), Some(obj)) = (o.messages.last(), v.as_object_mut()) {
        obj.insert("last_sms_at".into(), json!(rfc3339(last.received_at)));
    }
    v
}

/// A `duration_hours` value that is one of the offered durations; `Invalid duration: 48` else.
fn duration(obj: &Map<String, Value>) -> Result<u32, V1Error> {
    let v = match obj.get("duration_hours") {
        None | Some(Value::Null) => return Err(V1Error::bad_request("Missing duration_hours")),
        Some(v) => v,
    };
    let shown = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let hours = v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0)
            .map(|f| f as u64)
    });
    match hours {
        Some(h)
            if catalog::V1_RENTAL_HOURS
                .iter()
                .any(|(d, _)| u64::from(*d) == h) =>
        {
            Ok(h as u32)
        }
        _ => Err(V1Error::bad_request(format!("Invalid duration: {shown}"))),
    }
}

/// `key`'s rental `id`, refreshed at `now`; 404 otherwise.
fn rental<'a>(
    orders: &'a mut HashMap<String, Order>,
    key: &str,
    id: &str,
    now: SystemTime,
) -> Result<&'a mut Order, V1Error> {
    match orders.get_mut(id) {
        Some(o) if o.owner == key && o.rental_hours.is_some() => {
            o.refresh(now);
            Ok(o)
        }
        _ => Err(V1Error::rental_not_found()),
    }
}

/// `GET /rentals/available?country=<ISO>[&service=<code>]` (public). Without `country`, every
/// rental country; a country without rentals (or not upper-case ISO) gives an empty list.
pub(super) async fn available(State(s): State<Arc<Shared>>, q: Q) -> JsonResult {
    let q = query(q)?;
    let only = match q.get("service").map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => None,
        Some(code) => Some(
            catalog::service_by_code(code)
                .ok_or_else(|| V1Error::bad_request(format!("Invalid service: {code}")))?,
        ),
    };
    let countries: Vec<&catalog::Country> =
        match q.get("country").map(|v| v.trim()).filter(|v| !v.is_empty()) {
            None => catalog::COUNTRIES.iter().collect(),
            Some(iso) => catalog::country_v1(iso).into_iter().collect(),
        };
    let data = s.data();
    let mut rows = Vec::new();
    let mut total: u64 = 0;
    for c in countries {
        let mut pricing = Map::new();
        let mut available: u64 = 0;
        for svc in catalog::SERVICES {
            if only.is_some_and(|o| o.id != svc.id) || !catalog::has_rentals(svc.id, c.iso2) {
                continue;
            }
            let tiers: Vec<Value> = catalog::V1_RENTAL_HOURS
                .iter()
                .filter_map(|(hours, label)| {
                    let price = catalog::rental_price_cents(svc.id, c.iso2, *hours)?;
                    Some(json!({ "duration_hours": hours, "duration_label": label, "price": dollars(price) }))
                })
                .collect();
            pricing.insert(svc.code.to_string(), Value::Array(tiers));
            available += u64::from(data.stock(svc.id, c.iso2));
        }
        if pricing.is_empty() {
            continue;
        }
        total += available;
        rows.push(json!({
            "country_code": c.iso2_upper(),
            "country_name": c.name,
            "available_count": available,
            "pricing": pricing,
        }));
    }
    Ok(Json(json!({ "countries": rows, "total_available": total })))
}

/// `POST /rentals {"country", "rental_type": "service", "duration_hours", "service", "auto_renew"}`.
/// Idempotency keys are ignored, as on purchase.
pub(super) async fn create(
    State(s): State<Arc<Shared>>,
    Authed(key): Authed,
    body: Bytes,
) -> JsonResult {
    let obj = json_object(
        &body,
        r#"{"country", "rental_type": "service", "duration_hours", "service", "auto_renew"}"#,
    )?;
    let country = required_str(&obj, "country")?;
    let ctry = catalog::country_v1(&country)
        .ok_or_else(|| V1Error::bad_request(format!("Invalid country: {country}")))?;
    match obj.get("rental_type") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t == "service" => {}
        Some(other) => {
            let shown = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_string);
            return Err(V1Error::bad_request(format!(
                "Invalid rental_type: {shown} (the sandbox rents per service: \"service\")"
            )));
        }
    }
    let service = required_str(&obj, "service")?;
    let svc = catalog::service_by_code(&service)
        .ok_or_else(|| V1Error::bad_request(format!("Invalid service: {service}")))?;
    let hours = duration(&obj)?;
    let auto_renew = match obj.get("auto_renew") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(V1Error::bad_request(format!("Invalid auto_renew: {other}"))),
    };
    let opening = Opening {
        service: svc,
        country: ctry,
        rental_hours: Some(hours),
        style: IdStyle::V1Rental,
        auto_renew,
    };
    s.open_order(&key, opening, |o| {
        json!({
            "success": true,
            "rental_id": o.id,
            "phone_number": digits(&o.phone),
            "rental_type": "service",
            "service": o.service.code,
            "duration": hours,
            "price": dollars(o.price_cents),
            "started_at": rfc3339(o.created_at),
            "expires_at": rfc3339(o.expires_at),
            "auto_renew": o.auto_renew,
            "status": "active",
        })
    })
    .map(Json)
    .map_err(|e| match e {
        OpenError::NotRentable => V1Error::bad_request(format!(
            "Rentals not available for {} in {}",
            svc.code,
            ctry.iso2_upper()
        )),
        OpenError::NoStock => V1Error::no_stock(svc.code, ctry.iso2),
        OpenError::Insufficient { balance, price } => V1Error::insufficient(balance, price),
    })
}

/// `GET /rentals?status=active|cancelled|completed|expired|all` (default `active`): a bare array,
/// newest first. There is no GET by id.
pub(super) async fn list(State(s): State<Arc<Shared>>, Authed(key): Authed, q: Q) -> JsonResult {
    let q = query(q)?;
    let wanted = match q.get("status").map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => "active".to_string(),
        Some(v @ ("active" | "cancelled" | "completed" | "expired" | "all")) => v.to_string(),
        Some(other) => {
            return Err(V1Error::bad_request(format!(
                "Invalid status: {other} (active, cancelled, completed, expired, all)"
            )))
        }
    };
    let now = SystemTime::now();
    let mut data = s.data();
    let ids = data
        .account(&key, s.options.starting_balance_cents)
        .orders
        .clone();
    let mut rows = Vec::new();
    for id in ids.iter().rev() {
        if let Ok(o) = rental(&mut data.orders, &key, id, now) {
            if wanted == "all" || status(o) == wanted {
                rows.push(row_json(o));
            }
        }
    }
    Ok(Json(Value::Array(rows)))
}

/// `POST /rentals/{id}/extend {"duration_hours"}`: charge the catalog price now and push the
/// expiry back.
pub(super) async fn extend(
    State(s): State<Arc<Shared>>,
    Authed(key): Authed,
    Path(id): Path<String>,
    body: Bytes,
) -> JsonResult {
    let now = SystemTime::now();
    let mut data = s.data();
    rental(&mut data.orders, &key, &id, now)?;
    let hours = duration(&json_object(&body, r#"{"duration_hours"}"#)?)?;
    let (price, balance) = {
        let o = rental(&mut data.orders, &key, &id, now)?;
        allowed_in_status(status(o) == "active", "extend rental", status(o))?;
        let price = catalog::rental_price_cents(o.service.id, o.country.iso2, hours)
            .ok_or_else(|| V1Error::bad_request(format!("Invalid duration: {hours}")))?;
        let balance = data
            .account(&key, s.options.starting_balance_cents)
            .balance_cents;
        (price, balance)
    };
    if balance < price {
        return Err(V1Error::insufficient(balance, price));
    }
    data.account(&key, s.options.starting_balance_cents)
        .post(EntryKind::Charge, -price, Some(&id));
    let o = rental(&mut data.orders, &key, &id, now)?;
    o.paid_cents += price;
    o.expires_at = later(o.expires_at, Duration::from_secs(u64::from(hours) * 3600));
    o.rental_hours = o.rental_hours.map(|h| h.saturating_add(hours));
    o.bump();
    Ok(Json(json!({
        "success": true,
        "rental_id": id,
        "status": "active",
        "new_expires_at": rfc3339(o.expires_at),
        "price": dollars(price),
        "message": format!("Rental extended by {hours} hours"),
    })))
}

/// `POST /rentals/{id}/cancel`: full refund of everything paid, only within 20 minutes of
/// purchase and before the first SMS.
pub(super) async fn cancel(
    State(s): State<Arc<Shared>>,
    Authed(key): Authed,
    Path(id): Path<String>,
) -> JsonResult {
    let now = SystemTime::now();
    let mut data = s.data();
    let (refund, service, country) = {
        let o = rental(&mut data.orders, &key, &id, now)?;
        allowed_in_status(status(o) == "active", "cancel rental", status(o))?;
        let age = now.duration_since(o.created_at).unwrap_or(Duration::ZERO);
        if age >= CANCEL_WINDOW || !o.messages.is_empty() {
            return Err(V1Error::bad_request(WINDOW_TEXT));
        }
        o.set_status(Status::Cancelled);
        (
            std::mem::take(&mut o.paid_cents),
            o.service.id,
            o.country.iso2,
        )
    };
    data.give_back(
        &key,
        s.options.starting_balance_cents,
        &id,
        (service, country),
        refund,
    );
    Ok(Json(json!({
        "success": true,
        "rental_id": id,
        "status": "cancelled",
        "refund": dollars(refund),
    })))
}

/// `POST /rentals/{id}/release`: after a 2-hour hold, end the rental (`completed`) and refund the
/// unused share of everything paid, minus a 10 % fee (rounded down to the cent).
pub(super) async fn release(
    State(s): State<Arc<Shared>>,
    Authed(key): Authed,
    Path(id): Path<String>,
) -> JsonResult {
    let now = SystemTime::now();
    let mut data = s.data();
    let (refund, service, country) = {
        let o = rental(&mut data.orders, &key, &id, now)?;
        allowed_in_status(status(o) == "active", "release rental", status(o))?;
        if now.duration_since(o.created_at).unwrap_or(Duration::ZERO) < RELEASE_HOLD {
            return Err(V1Error::bad_request(HOLD_TEXT));
        }
        let total = o
            .expires_at
            .duration_since(o.created_at)
            .unwrap_or(Duration::ZERO);
        let unused = o.expires_at.duration_since(now).unwrap_or(Duration::ZERO);
        let refund = if total.is_zero() {
            0
        } else {
            let share =
                i128::from(o.paid_cents) * unused.as_millis() as i128 / total.as_millis() as i128;
            (share * i128::from(100 - RELEASE_FEE_PERCENT) / 100) as i64
        };
        o.set_status(Status::Released);
        o.paid_cents = 0;
        (refund, o.service.id, o.country.iso2)
    };
    data.give_back(
        &key,
        s.options.starting_balance_cents,
        &id,
        (service, country),
        refund,
    );
    Ok(Json(json!({
        "success": true,
        "rental_id": id,
        "status": "completed",
        "refund": dollars(refund),
    })))
}
