//! The eight order tools: the right method, path and JSON body with the bearer header and an
//! Idempotency-Key on every POST; the order state machine as the model sees it; max_price
//! refusing before any money moves.

use crate::common::{assert_call, query_pairs, Harness};
use serde_json::{json, Value};

fn body(req: &virtualsms_mcp::sandbox::RecordedRequest) -> Value {
    serde_json::from_str(&req.body).unwrap_or(Value::Null)
}

#[tokio::test]
async fn create_order_posts_the_order_and_says_what_to_do_next() {
    let h = Harness::start().await;
    let order = h
        .ok(
            "create_order",
            json!({"service": " Telegram", "country": "US "}),
        )
        .await;
    let req = h.last_request();
    assert_call(&req, "POST", "/orders");
    assert_eq!(body(&req), json!({"service": "telegram", "country": "us"}));
    assert!(
        req.header("idempotency-key").is_some_and(|k| k.len() >= 32),
        "{req:?}"
    );
    assert!(req
        .header("content-type")
        .unwrap_or_default()
        .starts_with("application/json"));

    assert!(order["order_id"].as_str().unwrap().starts_with("ord_"));
    assert!(order["phone_number"].as_str().unwrap().starts_with('+'));
    assert_eq!(order["status"], "waiting");
    assert!(order["price"].as_f64().unwrap() > 0.0);
    let next = order["next_step"].as_str().unwrap();
    assert!(
        next.contains("wait_for_sms") && next.contains(order["order_id"].as_str().unwrap()),
        "{next}"
    );
    assert_eq!(h.fake.order_count(), 1);
}

#[tokio::test]
async fn create_order_rental_sends_rental_hours() {
    let h = Harness::start().await;
    let order = h.rental(24).await;
    assert_eq!(
        body(&h.last_request()),
        json!({"service": "whatsapp", "country": "us", "rental_hours": 24})
    );
    assert_eq!(order["rental_hours"], 24);
    let text = h
        .err(
            "create_order",
            json!({"service": "whatsapp", "country": "us", "rental_hours": 0}),
        )
        .await;
    assert!(text.contains("`rental_hours`"), "{text}");
}

#[tokio::test]
async fn max_price_below_the_price_buys_nothing() {
    let h = Harness::start().await;
    let offer = h
        .ok(
            "find_cheapest",
            json!({"service": "telegram", "country": "us"}),
        )
        .await;
    let price = offer["price"].as_f64().unwrap();

    let text = h
        .err(
            "create_order",
            json!({"service": "telegram", "country": "us", "max_price": price - 0.01}),
        )
        .await;
    assert!(
        text.contains("Refused") && text.contains("max_price"),
        "{text}"
    );
    assert_eq!(
        h.fake.order_count(),
        0,
        "no order when the price is above max_price"
    );
    assert_eq!(h.fake.charge_count(), 0);
    assert!(
        h.requests().iter().all(|r| r.method == "GET"),
        "only the price was read"
    );

    let order = h
        .ok(
            "create_order",
            json!({"service": "telegram", "country": "us", "max_price": price}),
        )
        .await;
    assert_eq!(order["price"].as_f64(), Some(price));
    assert_eq!(h.fake.order_count(), 1);
}

#[tokio::test]
async fn get_and_list_orders() {
    let h = Harness::start().await;
    let first = h.order().await;
    let second = h.order().await;
    h.ok("cancel_order", json!({"order_id": second})).await;

    let got = h
        .ok("get_order", json!({"order_id": format!(" {first} ")}))
        .await;
    assert_call(&h.last_request(), "GET", &format!("/orders/{first}"));
    assert_eq!(got["order_id"], first.as_str());
    assert_eq!(got["status"], "waiting");

    let all = h.ok("list_orders", json!({})).await;
    let req = h.last_request();
    assert_call(&req, "GET", "/orders");
    assert_eq!(query_pairs(&req), ["limit=20", "offset=0"]);
    assert_eq!(all["data"].as_array().unwrap().len(), 2);

    let cancelled = h
        .ok("list_orders", json!({"status": "Cancelled", "limit": 5}))
        .await;
    assert_eq!(
        query_pairs(&h.last_request()),
        ["limit=5", "offset=0", "status=cancelled"]
    );
    let ids: Vec<&str> = cancelled["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str()]);

    let text = h.err("get_order", json!({"order_id": "ord_missing"})).await;
    assert!(
        text.contains("HTTP 404")
            && text.contains("order-not-found")
            && text.contains("list_orders"),
        "{text}"
    );
}

#[tokio::test]
async fn swap_gives_a_new_number_for_free() {
    let h = Harness::start().await;
    let created = h.buy().await;
    let id = created["order_id"].as_str().unwrap();
    let charges = h.fake.charge_count();
    let swapped = h.ok("swap_order", json!({"order_id": id})).await;
    let req = h.last_request();
    assert_call(&req, "POST", &format!("/orders/{id}/swap"));
    assert!(req.header("idempotency-key").is_some());
    assert_ne!(swapped["phone_number"], created["phone_number"]);
    assert_eq!(swapped["status"], "waiting");
    assert_eq!(h.fake.charge_count(), charges, "swap is free");
    assert!(swapped["next_step"]
        .as_str()
        .unwrap()
        .contains("wait_for_sms"));
}

#[tokio::test]
async fn cancel_refunds_before_an_sms_and_is_refused_after() {
    let h = Harness::start().await;
    let before = h.ok("get_balance", json!({})).await["balance"]
        .as_f64()
        .unwrap();
    let id = h.order().await;
    let cancelled = h.ok("cancel_order", json!({"order_id": id})).await;
    assert_call(&h.last_request(), "POST", &format!("/orders/{id}/cancel"));
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["refunded"].as_f64().unwrap() > 0.0);
    assert!(cancelled["next_step"]
        .as_str()
        .unwrap()
        .contains("back to the balance"));
    let after = h.ok("get_balance", json!({})).await["balance"]
        .as_f64()
        .unwrap();
    assert!(
        (after - before).abs() < 1e-9,
        "full refund: {before} → {after}"
    );

    let id = h.order().await;
    h.fake
        .deliver_sms(&id, Some("Your Telegram code: 48213"))
        .unwrap();
    let text = h.err("cancel_order", json!({"order_id": id})).await;
    assert!(text.contains("HTTP 409"), "{text}");
}

#[tokio::test]
async fn confirm_after_the_sms_then_swap_and_cancel_are_409() {
    let h = Harness::start().await;
    let id = h.order().await;
    h.fake
        .deliver_sms(&id, Some("Your Telegram code: 48213"))
        .unwrap();
    let confirmed = h.ok("confirm_order", json!({"order_id": id})).await;
    assert_call(&h.last_request(), "POST", &format!("/orders/{id}/confirm"));
    assert_eq!(confirmed["status"], "confirmed");
    assert_eq!(confirmed["code"], "48213");

    for tool in ["swap_order", "cancel_order"] {
        let text = h.err(tool, json!({"order_id": id})).await;
        assert!(
            text.contains("HTTP 409") && text.contains("order-already-confirmed"),
            "{tool}: {text}"
        );
        assert!(text.contains("nothing to swap or cancel"), "{text}");
    }
}

#[tokio::test]
async fn anything_on_an_expired_order_is_410_with_advice() {
    let h = Harness::start().await;
    let id = h.order().await;
    h.fake.expire_order(&id).unwrap();
    let text = h.err("swap_order", json!({"order_id": id})).await;
    assert!(
        text.contains("HTTP 410")
            && text.contains("order-expired")
            && text.contains("create_order"),
        "{text}"
    );
    let got = h.ok("get_order", json!({"order_id": id})).await;
    assert_eq!(got["status"], "expired");
}

#[tokio::test]
async fn extend_and_release_a_rental() {
    let h = Harness::start().await;
    let rental = h.rental(4).await;
    let id = rental["order_id"].as_str().unwrap();
    let charges = h.fake.charge_count();

    let extended = h
        .ok("extend_rental", json!({"order_id": id, "hours": 24}))
        .await;
    let req = h.last_request();
    assert_call(&req, "POST", &format!("/orders/{id}/extend"));
    assert_eq!(body(&req), json!({"hours": 24}));
    assert!(req.header("idempotency-key").is_some());
    assert!(
        extended["expires_at"].as_str() > rental["expires_at"].as_str(),
        "later expiry"
    );
    assert_eq!(
        h.fake.charge_count(),
        charges + 1,
        "the extension is charged"
    );

    let released = h.ok("release_rental", json!({"order_id": id})).await;
    assert_call(&h.last_request(), "POST", &format!("/orders/{id}/release"));
    assert_eq!(released["status"], "released");

    let text = h
        .err("extend_rental", json!({"order_id": id, "hours": 0}))
        .await;
    assert!(text.contains("`hours`"), "{text}");
    let activation = h.order().await;
    let text = h
        .err("release_rental", json!({"order_id": activation}))
        .await;
    assert!(
        text.contains("HTTP 400") && text.contains("validation"),
        "not a rental: {text}"
    );
}

#[tokio::test]
async fn insufficient_balance_and_no_stock_explain_the_way_out() {
    let h = Harness::with(
        virtualsms_mcp::sandbox::FakeOptions {
            starting_balance_cents: 1,
            ..crate::common::fake_options()
        },
        |_| {},
    )
    .await;
    let text = h.buy_refused().await;
    assert!(
        text.contains("HTTP 402") && text.contains("insufficient-balance"),
        "{text}"
    );
    assert!(
        text.contains("top up") && text.contains("Balance $"),
        "{text}"
    );
    assert_eq!(h.fake.order_count(), 0);
}

#[tokio::test]
async fn order_ids_stay_one_path_segment() {
    let h = Harness::start().await;
    let text = h.err("get_order", json!({"order_id": "../me"})).await;
    assert!(text.contains("HTTP 404"), "{text}");
    let req = h.last_request();
    assert_eq!(
        req.path, "/api/v2/orders/..%2Fme",
        "percent-encoded, not /api/v2/me"
    );
}

#[tokio::test]
async fn absurdly_long_ids_and_slugs_are_refused_by_name_before_any_request() {
    let h = Harness::start().await;
    let long = "x".repeat(129);
    let text = h.err("cancel_order", json!({"order_id": long})).await;
    assert!(
        text.contains("`order_id`") && text.contains("129 characters"),
        "{text}"
    );
    let text = h
        .err("create_order", json!({"service": long, "country": "us"}))
        .await;
    assert!(text.contains("`service`"), "{text}");
    let text = h.err("list_services", json!({"limit": "fifty"})).await;
    assert!(
        text.contains("`limit`") && text.contains("integer"),
        "{text}"
    );
    assert!(h.requests().is_empty());
}
