//! RFC 7807 problem+json errors, as the real API sends them.
//!
//! Handlers return [`Problem`] without knowing the request path; its `IntoResponse` only parks the
//! problem in the response extensions, and [`finalize`] (run by the middleware, which knows the
//! path) renders the body with the right `instance`. `finalize` also turns axum's own plain-text
//! rejections and bodiless 404/405 answers into problem+json, so every error the fake produces —
//! except injected faults, which are deliberately off-contract — has the contract's shape.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Prefix of every problem `type`.
pub const TYPE_BASE: &str = "https://virtualsms.io/errors/";

/// An API error: HTTP status, type slug, human detail and an optional `Retry-After` value.
#[derive(Clone, Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub slug: String,
    pub detail: String,
    pub retry_after: Option<String>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Self {
        Problem {
            status,
            slug: slug.to_string(),
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn validation(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "validation", detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Missing or invalid API key: send Authorization: Bearer <key>",
        )
    }

    pub fn order_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "order-not-found",
            format!("No order '{id}' for this API key"),
        )
    }

    pub fn service_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "service-not-found",
            format!("Unknown service '{id}'; see GET /services"),
        )
    }

    pub fn country_not_found(iso2: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "country-not-found",
            format!("Unknown country '{iso2}'; see GET /countries"),
        )
    }

    pub fn no_stock(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "no-stock", detail)
    }

    pub fn expired(id: &str) -> Self {
        Self::new(
            StatusCode::GONE,
            "order-expired",
            format!("Order {id} has expired"),
        )
    }

    pub fn conflict(slug: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, slug, detail)
    }

    pub fn with_retry_after(mut self, value: impl Into<String>) -> Self {
        self.retry_after = Some(value.into());
        self
    }

    /// The full problem+json response for `instance` (the request path).
    pub fn render(&self, instance: &str) -> Response {
        let body = serde_json::json!({
            "type": format!("{TYPE_BASE}{}", self.slug),
            "title": title_for(&self.slug),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "instance": instance,
        });
        let mut resp = Response::new(Body::from(body.to_string()));
        *resp.status_mut() = self.status;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        self.add_retry_after(&mut resp);
        resp
    }

    /// The `Retry-After` header, verbatim, when the problem has one (every dialect's answer).
    pub fn add_retry_after(&self, resp: &mut Response) {
        if let Some(v) = self
            .retry_after
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut resp = self.status.into_response();
        resp.extensions_mut().insert(self);
        resp
    }
}

/// Human title for a slug; unknown slugs get a capitalised version of themselves.
pub fn title_for(slug: &str) -> String {
    let known = match slug {
        "validation" => "Validation failed",
        "unauthorized" => "Unauthorized",
        "insufficient-balance" => "Insufficient balance",
        "service-not-found" => "Service not found",
        "country-not-found" => "Country not found",
        "order-not-found" => "Order not found",
        "order-already-confirmed" => "Order already confirmed",
        "order-already-received" => "Order already received an SMS",
        "order-closed" => "Order closed",
        "no-sms-yet" => "No SMS received yet",
        "order-expired" => "Order expired",
        "rate-limited" => "Too many requests",
        "no-stock" => "No numbers in stock",
        "not-found" => "Not found",
        "method-not-allowed" => "Method not allowed",
        "payload-too-large" => "Payload too large",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    let text = slug.replace('-', " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Error".to_string(),
    }
}

/// Render a parked [`Problem`], or convert a non-JSON error answer (axum rejection, empty 404/405)
/// into problem+json, keeping its other headers (e.g. `Allow`). Successful answers pass through.
pub async fn finalize(resp: Response, instance: &str) -> Response {
    if let Some(problem) = resp.extensions().get::<Problem>().cloned() {
        let mut out = problem.render(instance);
        copy_extra_headers(&resp, &mut out);
        return out;
    }
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json"));
    if is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let slug = match status.as_u16() {
        400 | 415 | 422 => "validation",
        404 => "not-found",
        405 => "method-not-allowed",
        413 => "payload-too-large",
        _ => "error",
    };
    let detail = if !text.is_empty() {
        text
    } else {
        match status.as_u16() {
            404 => "No such endpoint; see /api/v2 in the API reference".to_string(),
            405 => "This endpoint does not accept that HTTP method".to_string(),
            _ => status.canonical_reason().unwrap_or("Error").to_string(),
        }
    };
    let mut out = Problem::new(status, slug, detail).render(instance);
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

fn copy_extra_headers(from: &Response, to: &mut Response) {
    for (name, value) in from.headers().iter() {
        if name != header::CONTENT_TYPE
            && name != header::CONTENT_LENGTH
            && !to.headers().contains_key(name)
        {
            to.headers_mut().insert(name.clone(), value.clone());
        }
    }
}
