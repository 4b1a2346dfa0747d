//! End-to-end tests of the fake: a real server on 127.0.0.1:0 driven with reqwest.
//! `orders`: the REST v2 behaviour; `transport`: rate limits, faults, dropped connections, admin;
//! `v1`: the REST v1 catalog, account and activation orders with their quirks; `v1_rentals`: v1
//! rentals; `dialects`: v1 and v2 over one state (balance, rate limiter, faults, switches);
//! `smscode`: the SMSCode dialect (envelope, products, IDR, HTTP-200 errors, refunds).

mod dialects;
mod orders;
mod smscode;
mod smsverificationservice;
mod transport;
mod v1;
mod v1_rentals;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{FakeApi, FakeHandle, FakeOptions};

pub(super) const KEY: &str = "sk_test_alpha";

pub(super) struct Env {
    pub(super) api: FakeApi,
    pub(super) handle: FakeHandle,
    pub(super) client: reqwest::Client,
}

pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) headers: reqwest::header::HeaderMap,
    pub(super) body: Value,
}

pub(super) fn quiet_options() -> FakeOptions {
    FakeOptions {
        sms_delay: None,
        rate_limit_per_minute: 0,
        ..FakeOptions::default()
    }
}

pub(super) async fn start(options: FakeOptions) -> Env {
    // reqwest is built without a default TLS provider; plain HTTP still needs one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let api = FakeApi::new(options);
    let handle = api
        .spawn("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("spawn");
    let client = reqwest::Client::builder().build().expect("client");
    Env {
        api,
        handle,
        client,
    }
}

impl Env {
    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url())
    }

    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
        idem: Option<&str>,
    ) -> Reply {
        let mut req = self.client.request(method, self.url(path));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        if let Some(i) = idem {
            req = req.header("Idempotency-Key", i);
        }
        let resp = req.send().await.expect("send");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            headers,
            body,
        }
    }

    pub(super) async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, Some(KEY), None, None).await
    }

    pub(super) async fn post(&self, path: &str, body: Option<Value>) -> Reply {
        self.call(Method::POST, path, Some(KEY), body, None).await
    }

    pub(super) async fn order(&self, service: &str, country: &str) -> Value {
        let r = self
            .post(
                "/orders",
                Some(json!({ "service": service, "country": country })),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }
}

// ---- v1 helpers ---------------------------------------------------------------------------------

impl Env {
    pub(super) fn v1_url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.v1_base_url())
    }

    /// A v1 request: the key (if any) in `X-API-Key`, plus `extra` headers.
    pub(super) async fn v1_call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut req = self.client.request(method, self.v1_url(path));
        if let Some(k) = key {
            req = req.header("X-API-Key", k);
        }
        for (name, value) in extra {
            req = req.header(*name, *value);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("send");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            headers,
            body,
        }
    }

    pub(super) async fn v1_get(&self, path: &str) -> Reply {
        self.v1_call(Method::GET, path, Some(KEY), None, &[]).await
    }

    pub(super) async fn v1_post(&self, path: &str, body: Option<Value>) -> Reply {
        self.v1_call(Method::POST, path, Some(KEY), body, &[]).await
    }

    /// `POST /customer/purchase`, asserting the 200.
    pub(super) async fn purchase(&self, service: &str, country: &str) -> Value {
        let r = self
            .v1_post(
                "/customer/purchase",
                Some(json!({ "service": service, "country": country })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body
    }
}

/// A v1 error answer: `status`, JSON content type, `{"error": <error>}`.
pub(super) fn assert_v1_error(r: &Reply, status: u16, error: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(content_type(r), "application/json", "{}", r.body);
    assert_eq!(r.body["error"], json!(error), "{}", r.body);
}

pub(super) fn content_type(r: &Reply) -> &str {
    r.headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Parse an RFC 3339 `…Z` timestamp (as the fake writes them) into seconds since the epoch.
pub(super) fn epoch_secs(v: &Value) -> i64 {
    let t = v.as_str().unwrap_or_default();
    let num = |r: std::ops::Range<usize>| t.get(r).and_then(|x| x.parse::<i64>().ok()).unwrap_or(0);
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    let (hh, mm, ss) = (num(11..13), num(14..16), num(17..19));
    // Days from civil (Howard Hinnant), the inverse of the fake's own formatter.
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + hh * 3600 + mm * 60 + ss
}

pub(super) fn id_of(order: &Value) -> String {
    order["order_id"].as_str().unwrap_or_default().to_string()
}

pub(super) fn cents(v: &Value) -> i64 {
    (v.as_f64().unwrap_or(f64::NAN) * 100.0).round() as i64
}

pub(super) fn assert_problem(r: &Reply, status: u16, slug: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    let ct = r
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(ct, "application/problem+json");
    assert_eq!(
        r.body["type"],
        json!(format!("https://virtualsms.io/errors/{slug}")),
        "{}",
        r.body
    );
    assert_eq!(r.body["status"], json!(status));
    assert!(r.body["title"].is_string() && r.body["detail"].is_string());
    assert!(r.body["instance"]
        .as_str()
        .is_some_and(|i| i.starts_with("/api/v2")));
}
