//! REST behaviour: the order flow, money, idempotency, error rows, expiry, rentals, discovery.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{assert_problem, cents, id_of, quiet_options, start, KEY};
use crate::sandbox::catalog::NO_STOCK_COUNTRY;
use crate::sandbox::{FakeOptions, Fault};

#[tokio::test]
async fn create_deliver_poll_confirm_flow() {
    let env = start(quiet_options()).await;
    let order = env.order("telegram", "us").await;
    let id = id_of(&order);
    assert!(id.starts_with("ord_") && id.len() == 12, "{id}");
    assert_eq!(order["status"], "waiting");
    assert!(order["phone_number"]
        .as_str()
        .is_some_and(|p| p.starts_with("+1555010")));
    assert_eq!(order["messages"], json!([]));
    assert!(order.get("code").is_none() && order.get("rental_hours").is_none());
    assert!(order["expires_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    let price = cents(&order["price"]);
    assert_eq!(env.api.balance_cents(KEY), 1000 - price);
    assert_eq!((env.api.order_count(), env.api.charge_count()), (1, 1));

    // A waiting poll wakes as soon as the SMS is delivered.
    let poll = {
        let client = env.client.clone();
        let url = env.url(&format!("/orders/{id}/sms?timeout=10"));
        tokio::spawn(async move {
            client
                .get(url)
                .bearer_auth(KEY)
                .send()
                .await?
                .json::<Value>()
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(env.api.open_long_polls(), 1);
    let started = Instant::now();
    env.api
        .deliver_sms(
            &id,
            Some("Your Telegram code: 48213. Do not give this code to anyone."),
        )
        .expect("deliver");
    let sms = poll.await.expect("join").expect("poll");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(sms["status"], "received");
    assert_eq!(sms["code"], "48213");
    assert_eq!(sms["messages"][0]["code"], "48213");
    let sms_id = sms["messages"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(sms_id.starts_with("sms_"));
    assert_eq!(env.api.open_long_polls(), 0);

    // Polling again without `since` answers at once; with `since` = the last message it waits.
    let again = env.get(&format!("/orders/{id}/sms?timeout=5")).await;
    assert_eq!(again.body["messages"].as_array().map(Vec::len), Some(1));
    let t = Instant::now();
    let none_new = env
        .get(&format!("/orders/{id}/sms?timeout=1&since={sms_id}"))
        .await;
    assert!(t.elapsed() >= Duration::from_millis(900));
    assert_eq!(none_new.status, StatusCode::OK);
    assert_eq!(none_new.body["status"], "received");

    let confirmed = env.post(&format!("/orders/{id}/confirm"), None).await;
    assert_eq!(confirmed.status, StatusCode::OK);
    assert_eq!(confirmed.body["status"], "confirmed");
    assert_eq!(confirmed.body["code"], "48213");
    let twice = env.post(&format!("/orders/{id}/confirm"), None).await;
    assert_eq!(twice.body, confirmed.body, "confirm is idempotent");

    let bal = env.get("/me/balance").await;
    assert_eq!(cents(&bal.body["balance"]), 1000 - price);
    assert_eq!(bal.body["currency"], "USD");
    let me = env.get("/me").await;
    assert_eq!(me.body["plan"], "pay-as-you-go");
    assert!(me.body["email"]
        .as_str()
        .is_some_and(|e| e.ends_with("@example.test")));
    let stats = env.get("/me/stats").await;
    assert_eq!(stats.body["lifetime_orders"], 1);
    assert_eq!(cents(&stats.body["lifetime_spend"]), price);
    assert_eq!(stats.body["active_orders"], 0);
    let tx = env.get("/me/transactions").await;
    assert_eq!(tx.body["total"], 2);
    assert_eq!(tx.body["has_more"], false);
    assert_eq!(tx.body["data"][0]["type"], "charge");
    assert_eq!(tx.body["data"][0]["order_id"], json!(id));
    assert_eq!(cents(&tx.body["data"][0]["amount"]), -price);
    assert_eq!(cents(&tx.body["data"][0]["balance_after"]), 1000 - price);
    assert_eq!(tx.body["data"][1]["type"], "deposit");
    let page = env.get("/me/transactions?limit=1&offset=0").await;
    assert_eq!(
        (page.body["limit"].clone(), page.body["has_more"].clone()),
        (json!(1), json!(true))
    );
    let listed = env.get("/orders?status=confirmed").await;
    assert_eq!(listed.body["total"], 1);
    assert_eq!(listed.body["data"][0]["order_id"], json!(id));
    env.handle.shutdown().await;
}

#[tokio::test]
async fn idempotency_key_processes_once() {
    let env = start(quiet_options()).await;
    let body = json!({ "service": "whatsapp", "country": "gb" });
    let a = env
        .call(
            Method::POST,
            "/orders",
            Some(KEY),
            Some(body.clone()),
            Some("idem-1"),
        )
        .await;
    let b = env
        .call(
            Method::POST,
            "/orders",
            Some(KEY),
            Some(body.clone()),
            Some("idem-1"),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(b.status, StatusCode::CREATED);
    assert_eq!(a.body, b.body);
    assert_eq!((env.api.order_count(), env.api.charge_count()), (1, 1));

    // Concurrent duplicates: one is processed, the other waits and replays.
    env.api.inject(Fault::Delay(Duration::from_millis(300)), 1);
    let (c, d) = tokio::join!(
        env.call(
            Method::POST,
            "/orders",
            Some(KEY),
            Some(body.clone()),
            Some("idem-2")
        ),
        env.call(
            Method::POST,
            "/orders",
            Some(KEY),
            Some(body.clone()),
            Some("idem-2")
        ),
    );
    assert_eq!(c.body, d.body);
    assert_eq!((env.api.order_count(), env.api.charge_count()), (2, 2));

    // Keys are per API key: another account using the same Idempotency-Key gets its own order.
    let e = env
        .call(
            Method::POST,
            "/orders",
            Some("sk_test_beta"),
            Some(body),
            Some("idem-1"),
        )
        .await;
    assert_eq!(e.status, StatusCode::CREATED);
    assert_ne!(e.body["order_id"], a.body["order_id"]);
    assert_eq!(env.api.order_count(), 3);
    env.handle.shutdown().await;
}

#[tokio::test]
async fn error_rows() {
    let env = start(FakeOptions {
        starting_balance_cents: 5,
        ..quiet_options()
    })
    .await;
    // 401 without or with an empty key (discovery still works).
    assert_problem(
        &env.call(Method::GET, "/me/balance", None, None, None).await,
        401,
        "unauthorized",
    );
    assert_eq!(
        env.call(Method::GET, "/services", None, None, None)
            .await
            .status,
        StatusCode::OK
    );
    // 402 with the contract's detail format.
    let r = env
        .post(
            "/orders",
            Some(json!({ "service": "telegram", "country": "us" })),
        )
        .await;
    assert_problem(&r, 402, "insufficient-balance");
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("Balance $0.05 < required $")),
        "{}",
        r.body
    );
    assert_eq!(r.body["instance"], "/api/v2/orders");
    // 404s.
    assert_problem(
        &env.post(
            "/orders",
            Some(json!({ "service": "nope", "country": "us" })),
        )
        .await,
        404,
        "service-not-found",
    );
    assert_problem(
        &env.post(
            "/orders",
            Some(json!({ "service": "telegram", "country": "zz" })),
        )
        .await,
        404,
        "country-not-found",
    );
    assert_problem(
        &env.get("/orders/ord_00000000").await,
        404,
        "order-not-found",
    );
    assert_problem(
        &env.get("/services/nope/cheapest").await,
        404,
        "service-not-found",
    );
    assert_problem(
        &env.get("/countries/zz/pricing").await,
        404,
        "country-not-found",
    );
    assert_problem(&env.get("/no/such/thing").await, 404, "not-found");
    assert_problem(
        &env.call(Method::DELETE, "/orders", Some(KEY), None, None)
            .await,
        405,
        "method-not-allowed",
    );
    // 503.
    let r = env
        .post(
            "/orders",
            Some(json!({ "service": "telegram", "country": NO_STOCK_COUNTRY })),
        )
        .await;
    assert_problem(&r, 503, "no-stock");
    assert_problem(
        &env.get(&format!(
            "/services/telegram/cheapest?country={NO_STOCK_COUNTRY}"
        ))
        .await,
        503,
        "no-stock",
    );
    // 400 validation naming the field.
    for (body, field) in [
        (json!({ "country": "us" }), "service"),
        (json!({ "service": "", "country": "us" }), "service"),
        (json!({ "service": "telegram" }), "country"),
        (
            json!({ "service": "telegram", "country": "us", "rental_hours": 0 }),
            "rental_hours",
        ),
        (
            json!({ "service": "telegram", "country": "us", "rental_hours": 721 }),
            "rental_hours",
        ),
        (
            json!({ "service": "telegram", "country": "in", "rental_hours": 4 }),
            "rental_hours",
        ),
        (json!([1, 2]), "body"),
    ] {
        let r = env.post("/orders", Some(body)).await;
        assert_problem(&r, 400, "validation");
        assert!(
            r.body["detail"].as_str().is_some_and(|d| d.contains(field)),
            "{}",
            r.body
        );
    }
    let raw = env
        .client
        .post(env.url("/orders"))
        .bearer_auth(KEY)
        .body("not json")
        .send()
        .await
        .expect("send");
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    assert_problem(
        &env.get("/orders/x/sms?timeout=181").await,
        400,
        "validation",
    );
    env.handle.shutdown().await;

    // 409 / 410 with money.
    let env = start(quiet_options()).await;
    let a = id_of(&env.order("telegram", "us").await);
    env.api.deliver_sms(&a, None).expect("deliver");
    assert_problem(
        &env.post(&format!("/orders/{a}/cancel"), None).await,
        409,
        "order-already-received",
    );
    assert_problem(
        &env.post(&format!("/orders/{a}/swap"), None).await,
        409,
        "order-already-received",
    );
    env.post(&format!("/orders/{a}/confirm"), None).await;
    assert_problem(
        &env.post(&format!("/orders/{a}/swap"), None).await,
        409,
        "order-already-confirmed",
    );
    assert_problem(
        &env.post(&format!("/orders/{a}/cancel"), None).await,
        409,
        "order-already-confirmed",
    );
    assert_problem(
        &env.post(&format!("/orders/{a}/extend"), Some(json!({ "hours": 4 })))
            .await,
        400,
        "validation",
    );

    let b = env.order("telegram", "us").await;
    let b_id = id_of(&b);
    assert_problem(
        &env.post(&format!("/orders/{b_id}/confirm"), None).await,
        409,
        "no-sms-yet",
    );
    let swapped = env.post(&format!("/orders/{b_id}/swap"), None).await;
    assert_eq!(swapped.status, StatusCode::OK);
    assert_eq!(swapped.body["status"], "waiting");
    assert_ne!(swapped.body["phone_number"], b["phone_number"]);
    let before = env.api.balance_cents(KEY);
    let cancelled = env.post(&format!("/orders/{b_id}/cancel"), None).await;
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(cents(&cancelled.body["refunded"]), cents(&b["price"]));
    assert_eq!(env.api.balance_cents(KEY), before + cents(&b["price"]));
    assert_problem(
        &env.post(&format!("/orders/{b_id}/swap"), None).await,
        409,
        "order-closed",
    );

    let c = id_of(&env.order("whatsapp", "gb").await);
    env.api.expire_order(&c).expect("expire");
    assert_eq!(
        env.get(&format!("/orders/{c}")).await.body["status"],
        "expired"
    );
    for action in ["swap", "cancel", "confirm", "release"] {
        assert_problem(
            &env.post(&format!("/orders/{c}/{action}"), None).await,
            410,
            "order-expired",
        );
    }
    assert!(env.api.deliver_sms(&c, None).is_err());
    // Another key cannot see this key's orders.
    let other = env
        .call(
            Method::GET,
            &format!("/orders/{c}"),
            Some("sk_other"),
            None,
            None,
        )
        .await;
    assert_problem(&other, 404, "order-not-found");
    env.handle.shutdown().await;
}

#[tokio::test]
async fn lazy_expiry_after_lifetime() {
    let env = start(FakeOptions {
        order_lifetime: Duration::from_millis(300),
        ..quiet_options()
    })
    .await;
    let id = id_of(&env.order("telegram", "us").await);
    // A long-poll notices the expiry without any other request.
    let t = Instant::now();
    let r = env.get(&format!("/orders/{id}/sms?timeout=10")).await;
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(r.body["status"], "expired");
    assert_problem(
        &env.post(&format!("/orders/{id}/cancel"), None).await,
        410,
        "order-expired",
    );
    env.handle.shutdown().await;
}

#[tokio::test]
async fn rentals_extend_and_release() {
    let env = start(FakeOptions {
        starting_balance_cents: 100_000,
        ..quiet_options()
    })
    .await;
    let pricing = env.get("/countries/us/pricing?rental=true").await;
    let rows = pricing.body.as_array().cloned().unwrap_or_default();
    let telegram = rows
        .iter()
        .find(|r| r["service"] == "telegram")
        .cloned()
        .unwrap_or_default();
    assert_eq!(telegram["rental_options"].as_array().map(Vec::len), Some(3));
    assert!(rows.iter().all(|r| r.get("rental_options").is_some()));
    assert!(env.get("/countries/us/pricing").await.body[0]
        .get("rental_options")
        .is_none());

    let r = env
        .post(
            "/orders",
            Some(json!({ "service": "telegram", "country": "us", "rental_hours": 4 })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["rental_hours"], 4);
    assert_eq!(r.body["price"], telegram["rental_options"][0]["price"]);
    let id = id_of(&r.body);
    env.api.deliver_sms(&id, Some("code 1111")).expect("first");
    env.api.deliver_sms(&id, Some("code 2222")).expect("second");
    let ext = env
        .post(
            &format!("/orders/{id}/extend"),
            Some(json!({ "hours": 24 })),
        )
        .await;
    assert_eq!(ext.status, StatusCode::OK, "{}", ext.body);
    assert_eq!(ext.body["price"], telegram["rental_options"][1]["price"]);
    assert_eq!(ext.body["rental_hours"], 28);
    assert_eq!(ext.body["code"], "2222");
    assert!(ext.body["expires_at"].as_str() > r.body["expires_at"].as_str());
    assert_eq!(env.api.charge_count(), 2);
    assert_problem(
        &env.post(&format!("/orders/{id}/extend"), Some(json!({ "hours": 0 })))
            .await,
        400,
        "validation",
    );
    let rel = env.post(&format!("/orders/{id}/release"), None).await;
    assert_eq!(rel.body["status"], "released");
    assert_problem(
        &env.post(&format!("/orders/{id}/extend"), Some(json!({ "hours": 4 })))
            .await,
        409,
        "order-closed",
    );
    env.handle.shutdown().await;
}

#[tokio::test]
async fn discovery_endpoints() {
    let env = start(quiet_options()).await;
    let services = env
        .call(Method::GET, "/services", None, None, None)
        .await
        .body;
    assert!(services.as_array().is_some_and(|s| s.len() >= 45));
    let countries = env
        .call(Method::GET, "/countries", None, None, None)
        .await
        .body;
    let list = countries.as_array().cloned().unwrap_or_default();
    assert!(list.len() >= 22);
    assert!(list.iter().any(|c| c["in_stock"] == false));
    let cheapest = env
        .call(Method::GET, "/services/telegram/cheapest", None, None, None)
        .await
        .body;
    let avail = env
        .call(
            Method::GET,
            "/services/telegram/availability",
            None,
            None,
            None,
        )
        .await
        .body;
    let prices: Vec<i64> = avail
        .as_array()
        .map(|a| a.iter().map(|r| cents(&r["price"])).collect())
        .unwrap_or_default();
    assert!(prices.windows(2).all(|w| w[0] <= w[1]));
    let cheapest_in_stock = avail
        .as_array()
        .and_then(|a| a.iter().find(|r| r["stock"].as_u64() > Some(0)))
        .cloned()
        .unwrap_or_default();
    assert_eq!(cheapest["country"], cheapest_in_stock["country"]);
    assert_eq!(cheapest["service"], "telegram");
    let us = env
        .call(
            Method::GET,
            "/services/telegram/cheapest?country=US",
            None,
            None,
            None,
        )
        .await
        .body;
    assert_eq!(us["country"], "us");
    env.handle.shutdown().await;
}
