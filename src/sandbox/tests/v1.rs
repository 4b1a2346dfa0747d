//! REST v1 behaviour: catalog and account shapes, the activation flow, and every v1 quirk the
//! client must cope with (200 purchase, no idempotency, list field names, ignored status filter,
//! the 50-row default page, `sms_received` stuck at false, 425 JSON on cancel and plain text on swap,
//! swap to a new order id, case-sensitive countries, codes not slugs, no-stock text, 402 amounts).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{assert_v1_error, cents, content_type, epoch_secs, quiet_options, start, KEY};
use crate::sandbox::FakeOptions;

fn order_id(v: &Value) -> String {
    v["order_id"].as_str().unwrap_or_default().to_string()
}

fn no_cooldown() -> FakeOptions {
    FakeOptions {
        cancel_cooldown: Duration::ZERO,
        ..quiet_options()
    }
}

#[tokio::test]
async fn catalog_shapes() {
    let env = start(quiet_options()).await;

    let r = env.v1_get("/customer/services").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["success"], true);
    let services = r.body["services"].as_array().cloned().unwrap_or_default();
    assert!(services.len() >= 45);
    let tg = services
        .iter()
        .find(|s| s["service_id"] == "tg")
        .cloned()
        .unwrap_or_default();
    assert_eq!(tg["service_name"], "Telegram");
    assert!(tg["base_price"].as_f64().is_some_and(|p| p > 0.0));
    assert!(tg.get("category").is_none(), "{tg}");
    assert!(services.iter().all(|s| s["service_id"] != "telegram"));

    let r = env.v1_get("/customer/countries").await;
    assert_eq!(r.status, StatusCode::OK);
    let countries = r.body["countries"].as_array().cloned().unwrap_or_default();
    let us = countries
        .iter()
        .find(|c| c["country_id"] == "US")
        .cloned()
        .unwrap_or_default();
    assert_eq!(us["country_name"], "United States");
    assert!(us["min_price"].as_f64().is_some_and(|p| p > 0.0));
    assert!(us["services"]
        .as_array()
        .is_some_and(|s| s.contains(&json!("tg"))));
    let jp = countries
        .iter()
        .find(|c| c["country_id"] == "JP")
        .cloned()
        .unwrap_or_default();
    assert_eq!(jp["services"], json!([]), "no stock in JP");
    let r = env.v1_get("/customer/countries?service=wa").await;
    let gb = r.body["countries"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["country_id"] == "GB").cloned())
        .unwrap_or_default();
    assert_eq!(gb["services"], json!(["wa"]));
    assert_v1_error(
        &env.v1_get("/customer/countries?service=zz").await,
        400,
        "Invalid service: zz",
    );

    // Public catalog with stock counts, and its error shape.
    let r = env
        .v1_call(
            Method::GET,
            "/catalog/countries?service=tg",
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["success"], true);
    let rows = r.body["countries"].as_array().cloned().unwrap_or_default();
    let us = rows
        .iter()
        .find(|c| c["id"] == "US")
        .cloned()
        .unwrap_or_default();
    assert_eq!(us["name"], "United States");
    assert!(us["price"].is_number() && us["count"].as_u64().is_some_and(|n| n > 0));
    let jp = rows
        .iter()
        .find(|c| c["id"] == "JP")
        .cloned()
        .unwrap_or_default();
    assert_eq!(jp["count"], 0);
    let r = env
        .v1_call(
            Method::GET,
            "/catalog/countries?service=xyz",
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        json!({"success": false, "error": "Unknown service: xyz"})
    );

    // /price: the three live answers.
    let r = env
        .v1_call(Method::GET, "/price?service=tg&country=US", None, None, &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["success"], true);
    assert_eq!(
        (&r.body["service"], &r.body["country"]),
        (&json!("tg"), &json!("US"))
    );
    assert_eq!(r.body["service_name"], "Telegram");
    assert_eq!(r.body["country_name"], "United States");
    assert_eq!(cents(&r.body["price"]), cents(&us["price"]));
    assert!(r.body.get("stock").is_none() && r.body.get("count").is_none());
    let r = env
        .v1_call(
            Method::GET,
            "/price?service=telegram&country=US",
            None,
            None,
            &[],
        )
        .await;
    assert_v1_error(&r, 404, "Service not found");
    let r = env
        .v1_call(Method::GET, "/price?service=tg&country=XX", None, None, &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["success"], false);
    assert_eq!(r.body["error"], "Price not available");

    // The /customer catalog needs the key.
    let r = env
        .v1_call(Method::GET, "/customer/services", None, None, &[])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body, json!({"message": "Invalid or missing API key"}));
    env.handle.shutdown().await;
}

#[tokio::test]
async fn account_shapes_and_ledger() {
    let env = start(no_cooldown()).await;
    let r = env.v1_get("/customer/balance").await;
    assert_eq!(r.body, json!({"success": true, "balance": 10.0}));

    let order = env.purchase("tg", "US").await;
    let price = cents(&order["price"]);
    let id = order_id(&order);
    let r = env.v1_post(&format!("/customer/cancel/{id}"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    env.purchase("wa", "GB").await;

    let r = env.v1_get("/customer/profile").await;
    assert_eq!(r.status, StatusCode::OK);
    let p = &r.body;
    assert!(p["id"].as_str().is_some_and(|i| i.starts_with("usr_")));
    assert!(p["email"].as_str().is_some_and(|e| e.contains('@')));
    assert_eq!(p["telegram_linked"], false);
    assert_eq!(p["total_orders"], 2);
    assert_eq!(p["active_api_keys"], 1);
    assert_eq!(cents(&p["total_credits_usd"]), 1000);
    let spent = cents(&p["total_spent_usd"]);
    assert_eq!(cents(&p["balance_usd"]), 1000 - spent);
    assert!(p["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));

    let r = env.v1_get("/customer/transactions").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        (&r.body["count"], &r.body["limit"], &r.body["offset"]),
        (&json!(4), &json!(50), &json!(0))
    );
    assert!(r.body.get("total").is_none());
    let txns = r.body["transactions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let types: Vec<&str> = txns
        .iter()
        .map(|t| t["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        types,
        ["purchase", "refund", "purchase", "deposit"],
        "newest first"
    );
    for t in &txns {
        assert_eq!(
            cents(&t["balance_after"]) - cents(&t["balance_before"]),
            cents(&t["amount"]),
            "{t}"
        );
        assert!(t["id"].is_string() && t["description"].is_string() && t["created_at"].is_string());
    }
    assert_eq!(cents(&txns[2]["amount"]), -price, "purchases are negative");
    assert_eq!(cents(&txns[1]["amount"]), price);
    assert_eq!(txns[1]["order_id"], json!(id));
    assert!(txns[3].get("order_id").is_none());

    let r = env
        .v1_get("/customer/transactions?type=purchase&limit=1&offset=1")
        .await;
    assert_eq!(r.body["count"], 1);
    assert_eq!(r.body["transactions"][0]["order_id"], json!(id));
    let r = env.v1_get("/customer/transactions?type=admin_credit").await;
    assert_eq!(r.body["count"], 0);
    assert_v1_error(
        &env.v1_get("/customer/transactions?type=charge").await,
        400,
        "Invalid type: charge (deposit, purchase, refund, admin_credit)",
    );
    assert_eq!(
        env.v1_get("/customer/transactions?limit=0").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        env.v1_get("/customer/transactions?limit=500").await.body["limit"],
        200
    );
    env.handle.shutdown().await;
}

#[tokio::test]
async fn purchase_poll_complete_flow() {
    let env = start(quiet_options()).await;
    let r = env
        .v1_post(
            "/customer/purchase",
            Some(json!({"service": "tg", "country": "US"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "purchase answers 200, not 201");
    let order = r.body;
    assert_eq!(order["success"], true);
    let id = order_id(&order);
    let uuid = uuid::Uuid::parse_str(&id).expect("a UUID");
    assert_eq!(uuid.get_version_num(), 4);
    let phone = order["phone_number"].as_str().unwrap_or_default();
    assert!(
        phone.starts_with("1555010") && phone.bytes().all(|b| b.is_ascii_digit()),
        "{phone}"
    );
    assert_eq!(
        (&order["service"], &order["country"], &order["status"]),
        (&json!("tg"), &json!("US"), &json!("waiting"))
    );
    let created = epoch_secs(&order["created_at"]);
    assert_eq!(epoch_secs(&order["expires_at"]) - created, 20 * 60);
    assert_eq!(epoch_secs(&order["cancel_available_at"]) - created, 120);
    assert_eq!(epoch_secs(&order["swap_available_at"]) - created, 120);
    assert_eq!(
        order["rules"],
        json!({"cancel_cooldown_seconds": 120, "swap_cooldown_seconds": 120})
    );
    let price = cents(&order["price"]);
    assert!(price > 0);
    assert_eq!(env.api.balance_cents(KEY), 1000 - price);
    assert_eq!((env.api.order_count(), env.api.charge_count()), (1, 1));

    let detail = env.v1_get(&format!("/customer/order/{id}")).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert_eq!(detail.body["order_id"], json!(id));
    assert_eq!(detail.body["status"], "waiting");
    assert_eq!(detail.body["sms_received"], false);
    assert_eq!(detail.body["messages"], json!([]));
    assert_eq!(detail.body["phone_number"], json!(phone));
    assert_eq!(
        detail.body["cancel_available_at"],
        order["cancel_available_at"]
    );

    env.api
        .deliver_sms(&id, Some("Telegram code: 12345"))
        .expect("deliver");
    let detail = env.v1_get(&format!("/customer/order/{id}")).await;
    assert_eq!(detail.body["status"], "completed");
    assert_eq!(detail.body["sms_received"], false, "the live quirk is kept");
    let msg = &detail.body["messages"][0];
    assert_eq!(msg["content"], "Telegram code: 12345");
    assert_eq!(msg["sender"], "Telegram");
    assert!(msg["received_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert!(msg.get("code").is_none() && msg.get("id").is_none());

    // completed is final on v1: it does not lapse into expired, and expire_order refuses it.
    env.api
        .age_order(&id, Duration::from_secs(3600))
        .expect("age");
    let detail = env.v1_get(&format!("/customer/order/{id}")).await;
    assert_eq!(detail.body["status"], "completed");
    assert!(env.api.expire_order(&id).is_err());

    // A waiting order does expire, lazily.
    let other = order_id(&env.purchase("tg", "US").await);
    env.api
        .age_order(&other, Duration::from_secs(20 * 60))
        .expect("age");
    assert_eq!(
        env.v1_get(&format!("/customer/order/{other}")).await.body["status"],
        "expired"
    );

    // No confirm and no long-poll on v1.
    for path in [
        format!("/customer/order/{id}/done"),
        format!("/numbers/{id}/done"),
    ] {
        assert_v1_error(&env.v1_post(&path, None).await, 404, "Not found");
    }
    assert_v1_error(
        &env.v1_get(&format!("/customer/order/{id}/sms")).await,
        404,
        "Not found",
    );
    env.handle.shutdown().await;
}

#[tokio::test]
async fn order_list_quirks() {
    let env = start(FakeOptions {
        starting_balance_cents: 1_000_000,
        ..quiet_options()
    })
    .await;
    let mut ids = Vec::new();
    for _ in 0..55 {
        ids.push(order_id(&env.purchase("tg", "US").await));
    }
    let r = env.v1_get("/customer/orders").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], 50, "50 by default");
    let rows = r.body["orders"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 50);
    assert_eq!(rows[0]["id"], json!(ids[54]), "newest first");
    let row = &rows[0];
    for field in [
        "id",
        "phone_number",
        "service_id",
        "country_id",
        "status",
        "price_charged",
        "created_at",
        "expires_at",
        "cancel_available_at",
        "swap_available_at",
    ] {
        assert!(row.get(field).is_some(), "{field} in {row}");
    }
    for field in ["order_id", "service", "country", "price", "messages"] {
        assert!(row.get(field).is_none(), "{field} must not be in {row}");
    }
    assert_eq!(
        (&row["service_id"], &row["country_id"]),
        (&json!("tg"), &json!("US"))
    );
    assert_eq!(
        env.v1_get("/customer/orders?limit=100").await.body["count"],
        55,
        "up to 200 when asked"
    );
    let r = env.v1_get("/customer/orders?limit=2").await;
    assert_eq!(r.body["count"], 2);
    // status= is accepted and ignored.
    let r = env
        .v1_get("/customer/orders?status=cancelled&limit=3")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], 3);
    assert!(r.body["orders"]
        .as_array()
        .is_some_and(|o| o.iter().all(|x| x["status"] == "waiting")));
    // No offset: the parameter changes nothing.
    let r = env.v1_get("/customer/orders?limit=2&offset=10").await;
    assert_eq!(r.body["orders"][0]["id"], json!(ids[54]));
    assert_eq!(
        env.v1_get("/customer/orders?limit=abc").await.status,
        StatusCode::BAD_REQUEST
    );
    env.handle.shutdown().await;
}

#[tokio::test]
async fn purchase_ignores_idempotency_keys() {
    let env = start(quiet_options()).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = env
            .v1_call(
                Method::POST,
                "/customer/purchase",
                Some(KEY),
                Some(json!({"service": "tg", "country": "US"})),
                &[
                    ("Idempotency-Key", "same-key"),
                    ("X-Idempotency-Key", "same-key"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.headers.get("idempotent-replayed").is_none());
        ids.push(order_id(&r.body));
    }
    assert_ne!(ids[0], ids[1], "a repeated purchase is a new order");
    assert_eq!((env.api.order_count(), env.api.charge_count()), (2, 2));
    let r = env.v1_get("/customer/transactions?type=purchase").await;
    assert_eq!(r.body["count"], 2);
    env.handle.shutdown().await;
}

#[tokio::test]
async fn cancel_cooldown_and_status() {
    let env = start(quiet_options()).await;
    let order = env.purchase("tg", "US").await;
    let id = order_id(&order);
    let price = cents(&order["price"]);

    let r = env.v1_post(&format!("/customer/cancel/{id}"), None).await;
    assert_eq!(r.status.as_u16(), 425);
    assert_eq!(content_type(&r), "application/json");
    let text = r.body["error"].as_str().unwrap_or_default().to_string();
    let secs: u64 = text
        .strip_prefix("Cannot cancel yet, please wait ")
        .and_then(|t| t.strip_suffix(" seconds"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!((118..=120).contains(&secs), "{text}");
    assert_eq!(env.api.balance_cents(KEY), 1000 - price, "no refund on 425");

    env.api
        .age_order(&id, Duration::from_secs(121))
        .expect("age");
    let r = env.v1_post(&format!("/customer/cancel/{id}"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"success": true, "order_id": id, "status": "cancelled", "refund_amount": price as f64 / 100.0})
    );
    assert_eq!(env.api.balance_cents(KEY), 1000);
    assert_eq!(
        env.v1_get(&format!("/customer/order/{id}")).await.body["status"],
        "cancelled"
    );
    assert_v1_error(
        &env.v1_post(&format!("/customer/cancel/{id}"), None).await,
        400,
        "Cannot cancel order with status: cancelled",
    );
    assert_eq!(env.api.balance_cents(KEY), 1000, "refunded once");

    // After an SMS the order is completed and cannot be cancelled.
    let done = order_id(&env.purchase("tg", "US").await);
    env.api.deliver_sms(&done, None).expect("deliver");
    env.api
        .age_order(&done, Duration::from_secs(121))
        .expect("age");
    assert_v1_error(
        &env.v1_post(&format!("/customer/cancel/{done}"), None).await,
        400,
        "Cannot cancel order with status: completed",
    );
    // Unknown and foreign orders are 404.
    assert_v1_error(
        &env.v1_post(
            "/customer/cancel/00000000-0000-4000-8000-000000000000",
            None,
        )
        .await,
        404,
        "Order not found",
    );
    let r = env
        .v1_call(
            Method::POST,
            &format!("/customer/cancel/{done}"),
            Some("sk_other"),
            None,
            &[],
        )
        .await;
    assert_v1_error(&r, 404, "Order not found");
    env.handle.shutdown().await;
}

#[tokio::test]
async fn swap_cooldown_new_id_no_charge() {
    let env = start(FakeOptions {
        cancel_cooldown: Duration::from_secs(100),
        ..quiet_options()
    })
    .await;
    let order = env.purchase("tg", "US").await;
    let id = order_id(&order);
    let price = cents(&order["price"]);
    assert_eq!(order["rules"]["swap_cooldown_seconds"], 100);

    let r = env.v1_post(&format!("/customer/swap/{id}"), None).await;
    assert_eq!(r.status.as_u16(), 425);
    assert!(
        content_type(&r).starts_with("text/plain"),
        "{}",
        content_type(&r)
    );
    let text = r.body.as_str().unwrap_or_default();
    let secs: u64 = text
        .strip_prefix("Swap not available yet, please wait ")
        .and_then(|t| t.strip_suffix(" seconds"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!((98..=100).contains(&secs), "{text}");

    env.api
        .age_order(&id, Duration::from_secs(100))
        .expect("age");
    let r = env.v1_post(&format!("/customer/swap/{id}"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let new = r.body;
    let new_id = order_id(&new);
    assert_ne!(new_id, id, "v1 swap answers a new order id");
    assert!(uuid::Uuid::parse_str(&new_id).is_ok());
    assert_ne!(new["phone_number"], order["phone_number"]);
    assert_eq!(
        (&new["status"], &new["service"], &new["country"]),
        (&json!("waiting"), &json!("tg"), &json!("US"))
    );
    assert_eq!(cents(&new["price"]), price);
    assert_eq!(new["success"], true);
    let created = epoch_secs(&new["created_at"]);
    assert_eq!(
        epoch_secs(&new["swap_available_at"]) - created,
        100,
        "fresh cooldown"
    );
    assert_eq!(epoch_secs(&new["expires_at"]) - created, 20 * 60);
    assert_eq!(env.api.charge_count(), 1, "a swap is free");
    assert_eq!(env.api.balance_cents(KEY), 1000 - price);
    assert_eq!(env.api.order_count(), 2);
    assert_eq!(
        env.v1_get(&format!("/customer/order/{id}")).await.body["status"],
        "cancelled"
    );
    assert_v1_error(
        &env.v1_post(&format!("/customer/swap/{id}"), None).await,
        400,
        "Cannot swap order with status: cancelled",
    );
    // The old order cannot be refunded; the new one carries the payment.
    assert_v1_error(
        &env.v1_post(&format!("/customer/cancel/{id}"), None).await,
        400,
        "Cannot cancel order with status: cancelled",
    );
    env.api
        .age_order(&new_id, Duration::from_secs(100))
        .expect("age");
    let r = env
        .v1_post(&format!("/customer/cancel/{new_id}"), None)
        .await;
    assert_eq!(cents(&r.body["refund_amount"]), price, "{}", r.body);
    assert_eq!(env.api.balance_cents(KEY), 1000);
    // The list shows both, the replacement first.
    let r = env.v1_get("/customer/orders").await;
    assert_eq!(r.body["orders"][0]["id"], json!(new_id));
    assert_eq!(r.body["orders"][1]["id"], json!(id));
    env.handle.shutdown().await;
}

#[tokio::test]
async fn purchase_error_rows() {
    let env = start(FakeOptions {
        starting_balance_cents: 5,
        ..quiet_options()
    })
    .await;
    let buy = |body: Value| env.v1_post("/customer/purchase", Some(body));
    assert_v1_error(
        &buy(json!({"service": "tg", "country": "us"})).await,
        400,
        "Invalid country: us",
    );
    assert_v1_error(
        &buy(json!({"service": "telegram", "country": "US"})).await,
        400,
        "Invalid service: telegram",
    );
    assert_v1_error(
        &buy(json!({"service": "TG", "country": "US"})).await,
        400,
        "Invalid service: TG",
    );
    assert_v1_error(&buy(json!({"country": "US"})).await, 400, "Missing service");
    assert_v1_error(&buy(json!({"service": "tg"})).await, 400, "Missing country");
    assert_v1_error(
        &buy(json!({"service": 7, "country": "US"})).await,
        400,
        "Invalid service: 7",
    );
    let r = buy(json!({"service": "tg", "country": "JP"})).await;
    assert_v1_error(&r, 503, "No numbers available for tg in JP (out of stock)");
    let r = buy(json!({"service": "tg", "country": "US"})).await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
    assert_eq!(r.body["error"], "Insufficient balance");
    assert_eq!(cents(&r.body["current"]), 5);
    assert!(cents(&r.body["required"]) > 5);
    let r = env
        .v1_call(Method::POST, "/customer/purchase", Some(KEY), None, &[])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["error"].as_str().is_some_and(|e| e.contains("JSON")),
        "{}",
        r.body
    );
    assert_eq!((env.api.order_count(), env.api.charge_count()), (0, 0));

    // Routes: unknown → 404 Not found; wrong method → 405 JSON.
    assert_v1_error(&env.v1_get("/nope").await, 404, "Not found");
    assert_v1_error(
        &env.v1_get("/customer/purchase").await,
        405,
        "Method not allowed",
    );
    assert_v1_error(
        &env.v1_get("/customer/order/not-a-real-id").await,
        404,
        "Order not found",
    );
    env.handle.shutdown().await;
}

#[tokio::test]
async fn bearer_is_refused_on_v1_and_x_api_key_on_v2() {
    let env = start(quiet_options()).await;
    let r = env
        .v1_call(
            Method::GET,
            "/customer/balance",
            None,
            None,
            &[("Authorization", &format!("Bearer {KEY}"))],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(content_type(&r), "application/json");
    assert_eq!(r.body, json!({"message": "Invalid or missing API key"}));
    let r = env
        .v1_call(
            Method::POST,
            "/customer/purchase",
            None,
            Some(json!({"service": "tg", "country": "US"})),
            &[("Authorization", &format!("Bearer {KEY}"))],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(env.api.order_count(), 0);
    // v2 does not read X-API-Key.
    let r = env
        .client
        .get(env.url("/me/balance"))
        .header("X-API-Key", KEY)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    env.handle.shutdown().await;
}
