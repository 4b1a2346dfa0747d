//! `/admin` routes: the [`super::FakeApi`] test controls over HTTP, for humans and non-Rust tests.
//! JSON in and out, no auth, never rate limited, never faulted, never logged.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::problem::Problem;
use super::state::Shared;
use super::Fault;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/admin/orders/{id}/deliver", post(deliver))
        .route("/admin/orders/{id}/expire", post(expire))
        .route("/admin/faults", post(faults))
        .route("/admin/rate-limit", post(rate_limit))
        .route("/admin/requests", get(requests).delete(clear_requests))
        .route("/admin/stats", get(stats))
}

/// The body as a JSON object; an empty body is an empty object.
fn object(body: &Bytes) -> Result<Map<String, Value>, Problem> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Problem::validation("body: expected a JSON object")),
        Err(e) => Err(Problem::validation(format!("body: not valid JSON ({e})"))),
    }
}

fn opt_u64(obj: &Map<String, Value>, field: &str) -> Result<Option<u64>, Problem> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| Problem::validation(format!("{field}: must be a non-negative integer"))),
    }
}

fn opt_str(obj: &Map<String, Value>, field: &str) -> Result<Option<String>, Problem> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(Problem::validation(format!("{field}: must be a string"))),
    }
}

fn status_field(obj: &Map<String, Value>, default: u16) -> Result<u16, Problem> {
    match opt_u64(obj, "status")? {
        None => Ok(default),
        Some(n) if (100..=999).contains(&n) => Ok(n as u16),
        Some(n) => Err(Problem::validation(format!(
            "status: {n} is not an HTTP status"
        ))),
    }
}

fn order_problem(shared: &Shared, id: &str, err: String) -> Problem {
    if shared.order_json_any(id).is_none() {
        Problem::order_not_found(id)
    } else {
        Problem::conflict("order-closed", err)
    }
}

/// `POST /admin/orders/{id}/deliver {text?}` → the order after delivery.
async fn deliver(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, Problem> {
    let text = opt_str(&object(&body)?, "text")?;
    s.deliver_sms(&id, text.as_deref())
        .map_err(|e| order_problem(&s, &id, e))?;
    s.order_json_any(&id)
        .map(Json)
        .ok_or_else(|| Problem::order_not_found(&id))
}

/// `POST /admin/orders/{id}/expire` → the order, now expired.
async fn expire(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    s.expire_order(&id).map_err(|e| order_problem(&s, &id, e))?;
    s.order_json_any(&id)
        .map(Json)
        .ok_or_else(|| Problem::order_not_found(&id))
}

/// `POST /admin/faults {fault, count, ...}` → `{queued: count}`.
async fn faults(State(s): State<Arc<Shared>>, body: Bytes) -> Result<Json<Value>, Problem> {
    let obj = object(&body)?;
    let count = opt_u64(&obj, "count")?
        .unwrap_or(1)
        .min(u64::from(u32::MAX)) as u32;
    let kind = opt_str(&obj, "fault")?.ok_or_else(|| Problem::validation("fault: required"))?;
    let fault = match kind.as_str() {
        "problem" => Fault::Problem {
            status: status_field(&obj, 500)?,
            slug: opt_str(&obj, "slug")?.unwrap_or_else(|| "internal".to_string()),
            retry_after: opt_str(&obj, "retry_after")?,
        },
        "html" => Fault::Html { status: status_field(&obj, 502)? },
        "empty" => Fault::Empty { status: status_field(&obj, 502)? },
        "malformed_json" => Fault::MalformedJson,
        "wrong_content_type" => Fault::WrongContentType,
        "huge" => {
            let bytes = opt_u64(&obj, "bytes")?.unwrap_or(16 * 1024 * 1024);
            Fault::Huge { bytes: usize::try_from(bytes).unwrap_or(usize::MAX).min(1 << 30) }
        }
        "delay" => Fault::Delay(Duration::from_millis(opt_u64(&obj, "delay_ms")?.unwrap_or(1000))),
        "drop_before" => Fault::DropBeforeProcessing,
        "drop_after" => Fault::DropAfterProcessing,
        "echo" => Fault::EchoRequest { status: status_field(&obj, 500)? },
        other => {
            return Err(Problem::validation(format!(
                "fault: unknown '{other}'; one of problem, html, empty, malformed_json, wrong_content_type, huge, delay, drop_before, drop_after, echo"
            )))
        }
    };
    s.inject(fault, count);
    Ok(Json(json!({ "queued": count })))
}

/// `POST /admin/rate-limit {per_minute}`.
async fn rate_limit(State(s): State<Arc<Shared>>, body: Bytes) -> Result<Json<Value>, Problem> {
    let per_minute = opt_u64(&object(&body)?, "per_minute")?
        .ok_or_else(|| Problem::validation("per_minute: required (0 = unlimited)"))?;
    let per_minute = u32::try_from(per_minute).unwrap_or(u32::MAX);
    s.set_rate_limit(per_minute);
    Ok(Json(json!({ "per_minute": per_minute })))
}

/// `GET /admin/requests` → `[{method, path, query, headers: {name: value}, body}]`.
async fn requests(State(s): State<Arc<Shared>>) -> Json<Value> {
    let items = s
        .requests()
        .into_iter()
        .map(|r| {
            let mut headers = Map::new();
            for (name, value) in r.headers {
                // Repeated headers are joined, as HTTP allows.
                let joined = match headers.get(&name).and_then(Value::as_str) {
                    Some(prev) => format!("{prev}, {value}"),
                    None => value,
                };
                headers.insert(name, Value::String(joined));
            }
            json!({ "method": r.method, "path": r.path, "query": r.query, "headers": headers, "body": r.body })
        })
        .collect();
    Json(Value::Array(items))
}

async fn clear_requests(State(s): State<Arc<Shared>>) -> StatusCode {
    s.clear_requests();
    StatusCode::NO_CONTENT
}

/// `GET /admin/stats` → `{orders, charges, open_long_polls}`.
async fn stats(State(s): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({
        "orders": s.order_count(),
        "charges": s.charge_count(),
        "open_long_polls": s.open_long_polls(),
    }))
}
