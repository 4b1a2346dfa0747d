//! v1 activation orders: `POST /customer/purchase`, `GET /customer/order/{id}`,
//! `GET /customer/orders`, `POST /customer/cancel/{id}`, `POST /customer/swap/{id}`.
//!
//! Purchases go through the shared [`Shared::open_order`] (same stock, balance and ledger as v2),
//! with UUID v4 ids. Cancel and swap honour the per-order cooldown (`cancel_available_at` /
//! `swap_available_at`, from `FakeOptions::cancel_cooldown`) before looking at the status.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::{
    allowed_in_status, digits, json_object, limit_param, query, required_str, seconds_until,
    V1Error, Q,
};
use crate::sandbox::catalog;
use crate::sandbox::orders::{IdStyle, OpenError, Opening, Order, Status};
use crate::sandbox::pipeline::Authed;
use crate::sandbox::state::Shared;
use crate::sandbox::util::{dollars, rfc3339};

type JsonResult = Result<Json<Value>, V1Error>;

/// Order list default (50) and cap (200), as v1's openapi file gives them **(assumed: the SDK
/// comments speak of a 50-row cap, the openapi file of `limit` 1–200)**.
const LIST_DEFAULT: usize = 50;
const LIST_MAX: usize = 200;

/// The v1 status of an activation (see the table in `super`).
fn status(o: &Order) -> &'static str {
    match o.status {
        Status::Waiting => "waiting",
        Status::Received | Status::Confirmed | Status::Released => "completed",
        Status::Cancelled => "cancelled",
        Status::Expired => "expired",
    }
}

/// The purchase/detail shape (without `success`/`rules`).
fn order_json(o: &Order) -> Value {
    json!({
        "order_id": o.id,
        "phone_number": digits(&o.phone),
        "service": o.service.code,
        "country": o.country.iso2_upper(),
        "price": dollars(o.price_cents),
        "status": status(o),
        "created_at": rfc3339(o.created_at),
        "expires_at": rfc3339(o.expires_at),
        "cancel_available_at": rfc3339(o.cancel_available_at),
        "swap_available_at": rfc3339(o.swap_available_at),
    })
}

/// The purchase (and swap) answer: `success`, the order, and the cooldown `rules`.
fn purchase_json(o: &Order, cooldown_secs: u64) -> Value {
    let mut v = order_json(o);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("success".into(), json!(true));
        obj.insert(
            "rules".into(),
            json!({
                "cancel_cooldown_seconds": cooldown_secs,
                "swap_cooldown_seconds": cooldown_secs,
            }),
        );
    }
    v
}

/// The detail answer: the order, `sms_received` (always `false`: the live quirk) and `messages`.
fn detail_json(o: &Order) -> Value {
    let mut v = order_json(o);
    let messages: Vec<Value> = o
        .messages
        .iter()
        .map(|m| {
            json!({
                "sender": m.sender,
                "content": m.text,
                "received_at": rfc3339(m.received_at),
            })
        })
        .collect();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("sms_received".into(), json!(false));
        obj.insert("messages".into(), Value::Array(messages));
    }
    v
}

/// The list row: differently named fields (`id`, `service_id`, `country_id`, `price_charged`).
fn row_json(o: &Order) -> Value {
    json!({
        "id": o.id,
        "phone_number": digits(&o.phone),
        "service_id": o.service.code,
        "country_id": o.country.iso2_upper(),
        "status": status(o),
        "price_charged": dollars(o.price_cents),
        "created_at": rfc3339(o.created_at),
        "expires_at": rfc3339(o.expires_at),
        "cancel_available_at": rfc3339(o.cancel_available_at),
        "swap_available_at": rfc3339(o.swap_available_at),
    })
}

/// `key`'s activation (non-rental) order `id`, refreshed at `now`; 404 otherwise.
fn activation<'a>(
    orders: &'a mut std::collections::HashMap<String, Order>,
    key: &str,
    id: &str,
    now: SystemTime,
) -> Result<&'a mut Order, V1Error> {
    match orders.get_mut(id) {
        Some(o) if o.owner == key && o.rental_hours.is_none() => {
            o.refresh(now);
            Ok(o)
        }
        // Another key's order, or a rental, is indistinguishable from a missing one.
        _ => Err(V1Error::order_not_found()),
    }
}

/// `POST /customer/purchase {"service": "tg", "country": "US"}` → 200. Idempotency keys are
/// ignored on purpose: the same request twice is two orders and two charges, as live.
pub(super) async fn purchase(
    State(s): State<Arc<Shared>>,
    Authed(key): Authed,
    body: Bytes,
) -> JsonResult {
    let obj = json_object(&body, r#"{"service": "<code>", "country": "<ISO>"}"#)?;
    let service = required_str(&obj, "service")?;
    let country = required_str(&obj, "country")?;
    let svc = catalog::service_by_code(&service)
        .ok_or_else(|| V1Error::bad_request(format!("Invalid service: {service}")))?;
    let ctry = catalog::country_v1(&country)
        .ok_or_else(|| V1Error::bad_request(format!("Invalid country: {country}")))?;
    let cooldown = s.options.cancel_cooldown.as_secs();
    let opening = Opening {
        service: svc,
        country: ctry,
        rental_hours: None,
        style: IdStyle::V1Order,
        auto_renew: false,
    };
    s.open_order(&key, opening, |o| purchase_json(o, cooldown))
        .map(Json)
        .map_err(|e| match e {
            OpenError::NoStock | OpenError::NotRentable => V1Error::no_stock(svc.code, ctry.iso2),
            OpenError::Insufficient { balance, price } => V1Error::insufficient(balance, price),
        })
}

/// `GET /customer/order/{id}`.
pub(super) async fn get_order(
    State(s): State<Arc<Shared>>,
    Authed(key): Authed,
    Path(id): Path<String>,
) -> JsonResult {
    let mut data = s.data();
    let o = activation(&mut data.orders, &key, &id, SystemTime::now())?;
    Ok(Json(detail_json(o)))
}

/// `GET /customer/orders?limit=N`: newest first, 50 by default, at most 200; `status=` is accepted and ignored
/// (a live quirk); there is no offset.
pub(super) async fn list_orders(
    State(s): State<Arc<Shared>>,
    Authed(key): Authed,
    q: Q,
) -> JsonResult {
    let limit = limit_param(&query(q)?, LIST_DEFAULT, LIST_MAX)?;
    let now = SystemTime::now();
    let mut data = s.data();
    let ids: Vec<String> = data
        .account(&key, s.options.starting_balance_cents)
        .orders
        .clone();
    let mut rows = Vec::new();
    for id in ids.iter().rev() {
        if rows.len() == limit {
            break;
        }
        if let Ok(o) = activation(&mut data.orders, &key, id, now) {
            rows.push(row_json(o));
        }
    }
    Ok(Json(json!({ "count": rows.len(), "orders": rows })))
}

/// `POST /customer/cancel/{id}`: 425 JSON before `cancel_available_at`; 400 unless `waiting`;
/// else cancelled with a full refund and the number back in stock.
pub(super) async fn cancel(
    State(s): State<Arc<Shared>>,
    Authed(key): Authed,
    Path(id): Path<String>,
) -> JsonResult {
    let now = SystemTime::now();
    let mut data = s.data();
    let (refund, service, country) = {
        let o = activation(&mut data.orders, &key, &id, now)?;
        if now < o.cancel_available_at {
            return Err(V1Error::new(
                StatusCode::TOO_EARLY,
                format!(
                    "Cannot cancel yet, please wait {} seconds",
                    seconds_until(o.cancel_available_at, now)
                ),
            ));
        }
        allowed_in_status(o.status == Status::Waiting, "cancel order", status(o))?;
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
        "order_id": id,
        "status": "cancelled",
        "refund_amount": dollars(refund),
    })))
}

/// `POST /customer/swap/{id}`: 425 **text/plain** before `swap_available_at`; 400 unless
/// `waiting`; else the old order is cancelled without refund and a replacement order (new UUID,
/// new number, fresh times, same price, no new charge) is answered in the purchase shape.
pub(super) async fn swap(
    State(s): State<Arc<Shared>>,
    Authed(key): Authed,
    Path(id): Path<String>,
) -> JsonResult {
    let now = SystemTime::now();
    let mut data = s.data();
    let (service, country, price, paid, old_phone) = {
        let o = activation(&mut data.orders, &key, &id, now)?;
        if now < o.swap_available_at {
            return Err(V1Error::text(
                StatusCode::TOO_EARLY,
                format!(
                    "Swap not available yet, please wait {} seconds",
                    seconds_until(o.swap_available_at, now)
                ),
            ));
        }
        allowed_in_status(o.status == Status::Waiting, "swap order", status(o))?;
        o.set_status(Status::Cancelled);
        let paid = std::mem::take(&mut o.paid_cents);
        (o.service, o.country, o.price_cents, paid, o.phone.clone())
    };
    let new_id = loop {
        let candidate = uuid::Uuid::new_v4().to_string();
        if !data.orders.contains_key(&candidate) {
            break candidate;
        }
    };
    let mut order = Order::new(
        new_id.clone(),
        &key,
        service,
        country,
        price,
        paid,
        now,
        s.options.order_lifetime,
        s.options.cancel_cooldown,
    );
    order.born_v1 = true;
    while order.phone == old_phone {
        order.phone = catalog::phone_number(country);
    }
    let body = purchase_json(&order, s.options.cancel_cooldown.as_secs());
    data.orders.insert(new_id.clone(), order);
    data.account(&key, s.options.starting_balance_cents)
        .orders
        .push(new_id.clone());
    drop(data);
    s.schedule_sms(new_id, 0, false);
    Ok(Json(body))
}
