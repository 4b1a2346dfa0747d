//! v1 and v2 over one state machine: one balance and ledger per key, one order table, one rate
//! limiter per key, one fault queue (faults, drops and echoes on v1 too), one request log with
//! full paths, and the `serve_v1` / `serve_v2` switches that imitate a one-dialect origin.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{
    assert_problem, assert_v1_error, cents, content_type, id_of, quiet_options, start, KEY,
};
use crate::sandbox::{FakeOptions, Fault};

#[tokio::test]
async fn one_balance_one_order_table() {
    let env = start(quiet_options()).await;
    let v1 = env.purchase("tg", "US").await;
    let v1_id = v1["order_id"].as_str().unwrap_or_default().to_string();
    let v2 = env.order("whatsapp", "gb").await;
    let v2_id = id_of(&v2);
    let spent = cents(&v1["price"]) + cents(&v2["price"]);

    assert_eq!(
        cents(&env.get("/me/balance").await.body["balance"]),
        1000 - spent
    );
    assert_eq!(
        cents(&env.v1_get("/customer/balance").await.body["balance"]),
        1000 - spent
    );
    assert_eq!((env.api.order_count(), env.api.charge_count()), (2, 2));

    // Each dialect sees the other's orders in its own shape.
    let seen = env.get(&format!("/orders/{v1_id}")).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(
        (&seen.body["service"], &seen.body["country"]),
        (&json!("telegram"), &json!("us"))
    );
    let seen = env.v1_get(&format!("/customer/order/{v2_id}")).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(
        (&seen.body["service"], &seen.body["country"]),
        (&json!("wa"), &json!("GB"))
    );
    let list = env.v1_get("/customer/orders").await;
    assert_eq!(list.body["count"], 2);
    assert_eq!(env.get("/orders").await.body["total"], 2);
    let txns = env.v1_get("/customer/transactions?type=purchase").await;
    assert_eq!(txns.body["count"], 2);

    // An SMS delivered once shows on both: v2 received, v1 completed.
    env.api
        .deliver_sms(&v1_id, Some("code 4455"))
        .expect("deliver");
    assert_eq!(
        env.get(&format!("/orders/{v1_id}")).await.body["status"],
        "received"
    );
    assert_eq!(
        env.v1_get(&format!("/customer/order/{v1_id}")).await.body["status"],
        "completed"
    );
    // A v2 cancel refunds what v1 charged.
    let r = env.post(&format!("/orders/{v2_id}/cancel"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        cents(&env.v1_get("/customer/balance").await.body["balance"]),
        1000 - cents(&v1["price"])
    );
    assert_eq!(
        env.v1_get(&format!("/customer/order/{v2_id}")).await.body["status"],
        "cancelled"
    );
    env.handle.shutdown().await;
}

#[tokio::test]
async fn one_rate_limiter_per_key() {
    let env = start(FakeOptions {
        rate_limit_per_minute: 4,
        ..quiet_options()
    })
    .await;
    for _ in 0..2 {
        assert_eq!(env.v1_get("/customer/balance").await.status, StatusCode::OK);
        assert_eq!(env.get("/me/balance").await.status, StatusCode::OK);
    }
    let r = env.v1_get("/customer/balance").await;
    assert_v1_error(&r, 429, "Rate limit exceeded");
    let secs: u64 = r
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!((1..=60).contains(&secs), "{secs}");
    assert_problem(&env.get("/me/balance").await, 429, "rate-limited");
    // Another key has its own window, on either dialect.
    let other = env
        .v1_call(
            Method::GET,
            "/customer/balance",
            Some("sk_other"),
            None,
            &[],
        )
        .await;
    assert_eq!(other.status, StatusCode::OK);
    env.handle.shutdown().await;
}

#[tokio::test]
async fn serve_switches_answer_404_json() {
    let env = start(FakeOptions {
        serve_v2: false,
        ..quiet_options()
    })
    .await;
    env.api.inject(Fault::Empty { status: 502 }, 1);
    for path in ["/me/balance", "/orders", ""] {
        let r = env.get(path).await;
        assert_v1_error(&r, 404, "Not found");
        assert_eq!(r.body, json!({"error": "Not found"}));
    }
    // Recorded, but the fault is left for the next served request.
    assert_eq!(env.api.requests().len(), 3);
    assert_eq!(env.api.requests()[0].path, "/api/v2/me/balance");
    assert_eq!(env.v1_get("/customer/balance").await.status.as_u16(), 502);
    assert_eq!(env.v1_get("/customer/balance").await.status, StatusCode::OK);
    drop(env);

    let env = start(FakeOptions {
        serve_v1: false,
        ..quiet_options()
    })
    .await;
    for path in ["/customer/balance", "/price?service=tg&country=US", ""] {
        assert_v1_error(&env.v1_get(path).await, 404, "Not found");
    }
    assert_eq!(env.get("/me/balance").await.status, StatusCode::OK);
    // x402 stays up whatever the switch says.
    let r = env
        .client
        .get(env.v1_url("/x402/info"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    env.handle.shutdown().await;
}

#[tokio::test]
async fn faults_apply_to_v1() {
    let env = start(quiet_options()).await;
    let buy = json!({"service": "tg", "country": "US"});

    env.api.inject(
        Fault::Problem {
            status: 503,
            slug: "no-stock".into(),
            retry_after: Some("7".into()),
        },
        1,
    );
    let r = env.v1_post("/customer/purchase", Some(buy.clone())).await;
    assert_v1_error(
        &r,
        503,
        "Injected fault (sandbox): no-stock: No numbers available (out of stock)",
    );
    assert_eq!(
        r.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("7")
    );
    env.api.inject(
        Fault::Problem {
            status: 500,
            slug: "internal".into(),
            retry_after: None,
        },
        1,
    );
    let r = env.v1_get("/customer/balance").await;
    assert_v1_error(&r, 500, "Injected fault (sandbox): internal");

    env.api.inject(Fault::Html { status: 502 }, 1);
    let r = env.v1_get("/customer/balance").await;
    assert_eq!(r.status.as_u16(), 502);
    assert_eq!(content_type(&r), "text/html");

    // Dropped before processing: nothing happened. After: one order, one charge, no answer.
    env.api.inject(Fault::DropBeforeProcessing, 1);
    let sent = env
        .client
        .post(env.v1_url("/customer/purchase"))
        .header("X-API-Key", KEY)
        .json(&buy)
        .send()
        .await;
    assert!(sent.is_err());
    assert_eq!((env.api.order_count(), env.api.charge_count()), (0, 0));
    env.api.inject(Fault::DropAfterProcessing, 1);
    let sent = env
        .client
        .post(env.v1_url("/customer/purchase"))
        .header("X-API-Key", KEY)
        .header("X-Idempotency-Key", "k1")
        .json(&buy)
        .send()
        .await;
    assert!(
        sent.is_err(),
        "the connection must close without a response"
    );
    assert_eq!((env.api.order_count(), env.api.charge_count()), (1, 1));
    // What a client can do to reconcile: the list shows the order that was bought.
    let list = env.v1_get("/customer/orders").await;
    assert_eq!(list.body["count"], 1);

    // The request log keeps full paths and the v1 key header.
    let log = env.api.requests();
    let last = log.last().cloned().expect("logged");
    assert_eq!(last.path, "/api/v1/customer/orders");
    assert!(log
        .iter()
        .any(|r| r.path == "/api/v1/customer/purchase" && r.method == "POST"));
    assert_eq!(log[0].header("x-api-key"), Some(KEY));
    env.handle.shutdown().await;
}

#[tokio::test]
async fn echo_request_carries_the_v1_key() {
    let env = start(quiet_options()).await;
    env.api.inject(Fault::EchoRequest { status: 500 }, 1);
    let r = env.v1_get("/customer/balance").await;
    assert_eq!(r.status.as_u16(), 500);
    assert_eq!(content_type(&r), "application/json");
    assert_eq!(r.body["message"], KEY);
    assert!(r.body["error"]
        .as_str()
        .is_some_and(|e| e.contains(KEY) && e.contains("GET /api/v1/customer/balance")));
    assert_eq!(r.body["echo"]["x-api-key"], KEY);

    env.api.inject(Fault::EchoRequest { status: 200 }, 1);
    let r = env.v1_get("/customer/balance").await;
    assert_eq!(r.status, StatusCode::OK);
    let echo: Value = r.body.clone();
    let text = echo.as_str().unwrap_or_default();
    assert!(text.contains(KEY), "{text}");
    env.handle.shutdown().await;
}
