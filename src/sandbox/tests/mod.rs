//! End-to-end tests of the fake: a real server on 127.0.0.1:0 driven with reqwest.
//! `orders`: the REST behaviour; `transport`: rate limits, faults, dropped connections, admin.

mod orders;
mod transport;

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
