//! Transport behaviour: rate limiting, injected faults, dropped connections, long-poll
//! bookkeeping, scheduled SMS, the admin routes and server shutdown.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{assert_problem, id_of, quiet_options, start, Env, KEY};
use crate::sandbox::{FakeOptions, Fault};

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let env = start(FakeOptions {
        rate_limit_per_minute: 3,
        ..quiet_options()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(env.get("/me/balance").await.status, StatusCode::OK);
    }
    let r = env.get("/me/balance").await;
    assert_problem(&r, 429, "rate-limited");
    let secs: u64 = r
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!((1..=60).contains(&secs), "{secs}");
    // Other keys have their own budget; lifting the limit lets everybody through.
    assert_eq!(
        env.call(Method::GET, "/me", Some("sk_other"), None, None)
            .await
            .status,
        StatusCode::OK
    );
    env.api.set_rate_limit(0);
    assert_eq!(env.get("/me/balance").await.status, StatusCode::OK);
    env.handle.shutdown().await;
}

#[tokio::test]
async fn drop_after_processing_really_hangs_up() {
    let env = start(quiet_options()).await;
    env.api.inject(Fault::DropAfterProcessing, 1);
    let sent = env
        .client
        .post(env.url("/orders"))
        .bearer_auth(KEY)
        .header("Idempotency-Key", "k-drop")
        .json(&json!({ "service": "telegram", "country": "us" }))
        .send()
        .await;
    assert!(
        sent.is_err(),
        "the connection must close without a response"
    );
    assert_eq!((env.api.order_count(), env.api.charge_count()), (1, 1));
    // The retry with the same key gets the stored answer and no second charge.
    let retry = env
        .call(
            Method::POST,
            "/orders",
            Some(KEY),
            Some(json!({ "service": "telegram", "country": "us" })),
            Some("k-drop"),
        )
        .await;
    assert_eq!(retry.status, StatusCode::CREATED);
    assert_eq!((env.api.order_count(), env.api.charge_count()), (1, 1));

    env.api.inject(Fault::DropBeforeProcessing, 1);
    let sent = env
        .client
        .post(env.url("/orders"))
        .bearer_auth(KEY)
        .json(&json!({ "service": "telegram", "country": "us" }))
        .send()
        .await;
    assert!(sent.is_err());
    assert_eq!(env.api.order_count(), 1, "nothing processed");
    let log = env.api.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].path, "/api/v2/orders");
    assert_eq!(log[0].header("Idempotency-Key"), Some("k-drop"));
    assert_eq!(log[0].header("authorization"), Some("Bearer sk_test_alpha"));
    assert!(log[0].body.contains("telegram"));
    env.handle.shutdown().await;
}

#[tokio::test]
async fn body_faults() {
    let env = start(quiet_options()).await;
    let raw = |env: &Env| {
        env.client
            .get(env.url("/me/balance"))
            .bearer_auth(KEY)
            .send()
    };

    env.api.inject(
        Fault::Problem {
            status: 503,
            slug: "maintenance".into(),
            retry_after: Some("-5".into()),
        },
        1,
    );
    let r = env.get("/me/balance").await;
    assert_problem(&r, 503, "maintenance");
    assert_eq!(
        r.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("-5")
    );

    env.api.inject(Fault::Html { status: 502 }, 1);
    let r = raw(&env).await.expect("html");
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    assert!(r.headers()["content-type"]
        .to_str()
        .is_ok_and(|c| c.starts_with("text/html")));

    env.api.inject(Fault::Empty { status: 500 }, 1);
    let r = raw(&env).await.expect("empty");
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.headers().get("content-type").is_none());
    assert_eq!(r.text().await.ok().as_deref(), Some(""));

    env.api.inject(Fault::MalformedJson, 1);
    let r = raw(&env).await.expect("malformed");
    assert!(r.json::<Value>().await.is_err());

    env.api.inject(Fault::WrongContentType, 1);
    let r = raw(&env).await.expect("text");
    assert!(r.headers()["content-type"]
        .to_str()
        .is_ok_and(|c| c.starts_with("text/plain")));

    env.api.inject(Fault::Huge { bytes: 3_000_001 }, 1);
    let r = raw(&env).await.expect("huge");
    let bytes = r.bytes().await.expect("bytes");
    assert_eq!(bytes.len(), 3_000_001);
    assert!(serde_json::from_slice::<Value>(&bytes).is_ok());

    // Faults are used up; the next request is normal.
    assert_eq!(env.get("/me/balance").await.status, StatusCode::OK);
    env.handle.shutdown().await;
}

#[tokio::test]
async fn aborted_long_poll_is_uncounted() {
    let env = start(quiet_options()).await;
    let id = id_of(&env.order("telegram", "us").await);
    let client = env.client.clone();
    let url = env.url(&format!("/orders/{id}/sms?timeout=60"));
    let poll = tokio::spawn(async move { client.get(url).bearer_auth(KEY).send().await });
    let deadline = Instant::now() + Duration::from_secs(2);
    while env.api.open_long_polls() != 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(env.api.open_long_polls(), 1);
    poll.abort();
    let deadline = Instant::now() + Duration::from_secs(2);
    while env.api.open_long_polls() != 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(env.api.open_long_polls(), 0);

    // A long-poll that times out answers 200 with the current state.
    let t = Instant::now();
    let r = env.get(&format!("/orders/{id}/sms?timeout=1")).await;
    assert!(t.elapsed() >= Duration::from_millis(900) && t.elapsed() < Duration::from_secs(2));
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "waiting");
    assert_eq!(r.body["messages"], json!([]));
    assert!(r.body.get("code").is_none());
    env.handle.shutdown().await;
}

#[tokio::test]
async fn scheduled_sms_arrives_by_itself() {
    let env = start(FakeOptions {
        sms_delay: Some(Duration::from_millis(100)),
        ..quiet_options()
    })
    .await;
    let id = id_of(&env.order("whatsapp", "gb").await);
    let r = env.get(&format!("/orders/{id}/sms?timeout=5")).await;
    assert_eq!(r.body["status"], "received");
    let text = r.body["messages"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(text.starts_with("<#> WhatsApp code "), "{text}");
    assert_eq!(r.body["code"].as_str().map(str::len), Some(6));
    env.handle.shutdown().await;
}

#[tokio::test]
async fn admin_routes() {
    let env = start(quiet_options()).await;
    let admin = env.handle.admin_url();
    let id = id_of(&env.order("telegram", "us").await);
    let r = env
        .client
        .post(format!("{admin}/orders/{id}/deliver"))
        .json(&json!({ "text": "G-123456 hi" }))
        .send()
        .await
        .expect("deliver");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.ok().map(|v| v["code"].clone()),
        Some(json!("123456"))
    );
    let r = env
        .client
        .post(format!("{admin}/orders/ord_nope/expire"))
        .send()
        .await
        .expect("expire");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = env
        .client
        .post(format!("{admin}/faults"))
        .json(&json!({ "fault": "html", "count": 1, "status": 504 }))
        .send()
        .await
        .expect("faults");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(env.get("/me").await.status, StatusCode::GATEWAY_TIMEOUT);
    let r = env
        .client
        .post(format!("{admin}/rate-limit"))
        .json(&json!({ "per_minute": 1 }))
        .send()
        .await
        .expect("rate");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(env.get("/me").await.status, StatusCode::OK);
    assert_eq!(env.get("/me").await.status, StatusCode::TOO_MANY_REQUESTS);
    let stats: Value = env
        .client
        .get(format!("{admin}/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert_eq!(
        stats,
        json!({ "orders": 1, "charges": 1, "open_long_polls": 0 })
    );
    let log: Value = env
        .client
        .get(format!("{admin}/requests"))
        .send()
        .await
        .expect("log")
        .json()
        .await
        .expect("json");
    assert_eq!(log.as_array().map(Vec::len), Some(4));
    assert_eq!(log[0]["headers"]["authorization"], "Bearer sk_test_alpha");
    let r = env
        .client
        .delete(format!("{admin}/requests"))
        .send()
        .await
        .expect("clear");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(env.api.requests().is_empty());
    env.handle.shutdown().await;
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let env = start(quiet_options()).await;
    let url = env.url("/services");
    let Env { handle, client, .. } = env;
    drop(handle);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let fresh = reqwest::Client::new();
    assert!(fresh.get(&url).send().await.is_err());
    drop(client);
}

#[tokio::test]
async fn garbage_input_gets_problems_not_crashes() {
    let env = start(quiet_options()).await;
    let id = id_of(&env.order("telegram", "us").await);
    let cases: Vec<(Method, String, Option<&str>, u16)> = vec![
        (Method::POST, "/orders".into(), Some("{\"service\": "), 400),
        (Method::POST, "/orders".into(), Some("\"telegram\""), 400),
        (
            Method::POST,
            "/orders".into(),
            Some("{\"service\": 5, \"country\": \"us\"}"),
            400,
        ),
        (
            Method::POST,
            "/orders".into(),
            Some("{\"service\": \"telegram\", \"country\": \"us\", \"rental_hours\": \"4\"}"),
            400,
        ),
        (
            Method::POST,
            "/orders".into(),
            Some("{\"service\": \"telegram\", \"country\": \"us\", \"rental_hours\": 1e300}"),
            400,
        ),
        (
            Method::POST,
            format!("/orders/{id}/extend"),
            Some("{\"hours\": -1}"),
            400,
        ),
        (
            Method::GET,
            format!("/orders/{id}/sms?timeout=abc"),
            None,
            400,
        ),
        (
            Method::GET,
            format!("/orders/{id}/sms?timeout=0"),
            None,
            400,
        ),
        (Method::GET, "/orders?limit=-1".into(), None, 400),
        (Method::GET, "/orders?limit=0".into(), None, 400),
        (Method::GET, "/orders?offset=x".into(), None, 400),
        (Method::GET, "/orders?status=bogus".into(), None, 400),
        (
            Method::GET,
            "/countries/us/pricing?rental=maybe".into(),
            None,
            400,
        ),
        (Method::GET, "/orders/%FF%FE".into(), None, 400),
        (Method::GET, "/orders/ord_%00".into(), None, 404),
        (Method::PUT, "/orders".into(), Some("{}"), 405),
        (Method::GET, "/".into(), None, 404),
    ];
    for (method, path, body, status) in cases {
        let mut req = env
            .client
            .request(method.clone(), env.url(&path))
            .bearer_auth(KEY);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.expect("send");
        assert_eq!(resp.status().as_u16(), status, "{method} {path}");
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert_eq!(ct, "application/problem+json", "{method} {path}");
    }
    // A body over the 1 MiB cap is refused, and the server keeps serving.
    let big = "x".repeat(2 * 1024 * 1024);
    let resp = env
        .client
        .post(env.url("/orders"))
        .bearer_auth(KEY)
        .body(big)
        .send()
        .await;
    if let Ok(resp) = resp {
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    // A wrong scheme or an empty bearer is no key at all.
    let r = env
        .client
        .get(env.url("/me"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = env
        .client
        .get(env.url("/me"))
        .header("authorization", "Bearer   ")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(env.get("/me/balance").await.status, StatusCode::OK);
    env.handle.shutdown().await;
}

#[tokio::test]
async fn configured_keys_only() {
    let env = start(FakeOptions {
        api_keys: vec![KEY.to_string()],
        ..quiet_options()
    })
    .await;
    assert_eq!(env.get("/me").await.status, StatusCode::OK);
    let r = env
        .call(Method::GET, "/me", Some("sk_wrong"), None, None)
        .await;
    assert_problem(&r, 401, "unauthorized");
    // Discovery still answers a wrong key.
    let r = env
        .call(Method::GET, "/countries", Some("sk_wrong"), None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    env.handle.shutdown().await;
}
