//! REST v1 rentals: availability and pricing tiers, create/list/extend, the 20-minute cancel
//! window (full refund, before the first SMS), the 2-hour release hold (pro-rated refund minus
//! 10 %), SMS counters, separate id space, ignored idempotency keys.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{assert_v1_error, cents, epoch_secs, quiet_options, start, Env, KEY};
use crate::sandbox::catalog;
use crate::sandbox::FakeOptions;

const START: i64 = 1_000_000;

async fn rich() -> Env {
    start(FakeOptions {
        starting_balance_cents: START,
        ..quiet_options()
    })
    .await
}

fn rental_id(v: &Value) -> String {
    v["rental_id"].as_str().unwrap_or_default().to_string()
}

impl Env {
    async fn rent(&self, service: &str, country: &str, hours: u32) -> Value {
        let r = self
            .v1_post(
                "/rentals",
                Some(json!({"country": country, "rental_type": "service", "duration_hours": hours, "service": service, "auto_renew": false})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body
    }

    async fn rentals(&self, query: &str) -> Vec<Value> {
        let r = self.v1_get(&format!("/rentals{query}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body.as_array().cloned().expect("a bare JSON array")
    }
}

#[tokio::test]
async fn availability_and_tiers() {
    let env = rich().await;
    let r = env
        .v1_call(
            Method::GET,
            "/rentals/available?country=US",
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let us = &r.body["countries"][0];
    assert_eq!(
        (&us["country_code"], &us["country_name"]),
        (&json!("US"), &json!("United States"))
    );
    let tg = us["pricing"]["tg"].as_array().cloned().unwrap_or_default();
    let hours: Vec<u64> = tg
        .iter()
        .filter_map(|t| t["duration_hours"].as_u64())
        .collect();
    assert_eq!(hours, [24, 168, 720]);
    assert_eq!(tg[0]["duration_label"], "1 day");
    assert_eq!(
        cents(&tg[0]["price"]),
        catalog::rental_price_cents("telegram", "us", 24).unwrap_or(-1)
    );
    assert!(us["available_count"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(r.body["total_available"], us["available_count"]);
    // Only rentable pairs are priced.
    let priced: Vec<String> = us["pricing"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    for code in &priced {
        let svc = catalog::service_by_code(code)
            .map(|s| s.id)
            .unwrap_or_default();
        assert!(catalog::has_rentals(svc, "us"), "{code}");
    }
    assert!(priced.len() < catalog::SERVICES.len());

    let r = env
        .v1_call(
            Method::GET,
            "/rentals/available?country=US&service=wa",
            None,
            None,
            &[],
        )
        .await;
    let keys: Vec<String> = r.body["countries"][0]["pricing"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["wa"]);
    let r = env
        .v1_call(
            Method::GET,
            "/rentals/available?country=IN",
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(r.body, json!({"countries": [], "total_available": 0}));
    let r = env
        .v1_call(Method::GET, "/rentals/available", None, None, &[])
        .await;
    assert_eq!(
        r.body["countries"].as_array().map(Vec::len),
        Some(catalog::RENTAL_COUNTRIES.len())
    );
    env.handle.shutdown().await;
}

#[tokio::test]
async fn create_list_extend_and_sms_counters() {
    let env = rich().await;
    let rental = env.rent("wa", "GB", 24).await;
    let id = rental_id(&rental);
    assert!(id.starts_with("rnt_") && id.len() > 8, "{id}");
    assert_eq!(rental["success"], true);
    assert_eq!(
        (
            &rental["rental_type"],
            &rental["service"],
            &rental["duration"],
            &rental["status"]
        ),
        (
            &json!("service"),
            &json!("wa"),
            &json!(24),
            &json!("active")
        )
    );
    assert_eq!(rental["auto_renew"], false);
    assert!(rental["phone_number"]
        .as_str()
        .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit())));
    assert_eq!(
        epoch_secs(&rental["expires_at"]) - epoch_secs(&rental["started_at"]),
        24 * 3600
    );
    let price = cents(&rental["price"]);
    assert_eq!(
        price,
        catalog::rental_price_cents("whatsapp", "gb", 24).unwrap_or(-1)
    );
    assert_eq!(env.api.balance_cents(KEY), START - price);
    assert_eq!((env.api.order_count(), env.api.charge_count()), (1, 1));

    let rows = env.rentals("").await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["id"], json!(id));
    assert_eq!(
        (&row["service_id"], &row["duration_hours"], &row["status"]),
        (&json!("wa"), &json!(24), &json!("active"))
    );
    assert_eq!(
        (
            &row["sms_received"],
            &row["sms_forwarded"],
            &row["provider"]
        ),
        (&json!(0), &json!(0), &json!("virtualsms"))
    );
    assert!(row.get("last_sms_at").is_none());
    assert_eq!(row["phone_number"], rental["phone_number"]);

    // SMS on a rental only move the counters.
    env.api
        .deliver_sms(&id, Some("WhatsApp code 123-456"))
        .expect("deliver");
    env.api.deliver_sms(&id, None).expect("deliver");
    let row = env.rentals("?status=active").await.remove(0);
    assert_eq!(row["sms_received"], 2);
    assert_eq!(row["status"], "active");
    assert!(row["last_sms_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));

    // Extend by a week: charged now at the catalog price.
    let r = env
        .v1_post(
            &format!("/rentals/{id}/extend"),
            Some(json!({"duration_hours": 168})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let week = catalog::rental_price_cents("whatsapp", "gb", 168).unwrap_or(-1);
    assert_eq!(cents(&r.body["price"]), week);
    assert_eq!(
        (&r.body["rental_id"], &r.body["status"], &r.body["message"]),
        (
            &json!(id),
            &json!("active"),
            &json!("Rental extended by 168 hours")
        )
    );
    assert_eq!(
        epoch_secs(&r.body["new_expires_at"]) - epoch_secs(&rental["expires_at"]),
        168 * 3600
    );
    assert_eq!(env.api.balance_cents(KEY), START - price - week);
    assert_eq!(env.api.charge_count(), 2);
    assert_eq!(env.rentals("").await[0]["duration_hours"], 192);

    assert_v1_error(
        &env.v1_post(
            &format!("/rentals/{id}/extend"),
            Some(json!({"duration_hours": 48})),
        )
        .await,
        400,
        "Invalid duration: 48",
    );
    assert_v1_error(
        &env.v1_post(
            "/rentals/rnt_0000/extend",
            Some(json!({"duration_hours": 24})),
        )
        .await,
        404,
        "Rental not found",
    );
    assert_eq!(env.api.charge_count(), 2);

    // Separate id spaces: a rental is no activation and vice versa.
    assert_v1_error(
        &env.v1_get(&format!("/customer/order/{id}")).await,
        404,
        "Order not found",
    );
    assert_eq!(env.v1_get("/customer/orders").await.body["count"], 0);
    let order = env.purchase("tg", "US").await;
    let oid = order["order_id"].as_str().unwrap_or_default().to_string();
    assert_v1_error(
        &env.v1_post(&format!("/rentals/{oid}/cancel"), None).await,
        404,
        "Rental not found",
    );
    assert_eq!(env.rentals("?status=all").await.len(), 1);

    // Expiry shows in the list.
    env.api.expire_order(&id).expect("expire");
    assert!(env.rentals("").await.is_empty());
    assert_eq!(env.rentals("?status=expired").await[0]["status"], "expired");
    assert_v1_error(
        &env.v1_post(
            &format!("/rentals/{id}/extend"),
            Some(json!({"duration_hours": 24})),
        )
        .await,
        400,
        "Cannot extend rental with status: expired",
    );
    assert_v1_error(
        &env.v1_get("/rentals?status=open").await,
        400,
        "Invalid status: open (active, cancelled, completed, expired, all)",
    );
    env.handle.shutdown().await;
}

#[tokio::test]
async fn create_errors_and_no_idempotency() {
    let env = start(FakeOptions {
        starting_balance_cents: 10,
        ..quiet_options()
    })
    .await;
    let rent = |body: Value| env.v1_post("/rentals", Some(body));
    let base =
        json!({"country": "US", "rental_type": "service", "duration_hours": 24, "service": "tg"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    assert_v1_error(
        &rent(with("duration_hours", json!(48))).await,
        400,
        "Invalid duration: 48",
    );
    assert_v1_error(
        &rent(with("country", json!("us"))).await,
        400,
        "Invalid country: us",
    );
    assert_v1_error(
        &rent(with("service", json!("telegram"))).await,
        400,
        "Invalid service: telegram",
    );
    assert_v1_error(
        &rent(with("country", json!("IN"))).await,
        400,
        "Rentals not available for tg in IN",
    );
    assert_eq!(
        rent(with("rental_type", json!("full"))).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_v1_error(
        &rent(with("auto_renew", json!("yes"))).await,
        400,
        "Invalid auto_renew: \"yes\"",
    );
    let r = rent(base.clone()).await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
    assert_eq!(r.body["error"], "Insufficient balance");
    assert_eq!(cents(&r.body["current"]), 10);
    assert_eq!(
        cents(&r.body["required"]),
        catalog::rental_price_cents("telegram", "us", 24).unwrap_or(-1)
    );
    assert_eq!(env.api.order_count(), 0);
    drop(env);

    let env = rich().await;
    for _ in 0..2 {
        let r = env
            .v1_call(
                Method::POST,
                "/rentals",
                Some(KEY),
                Some(json!({"country": "US", "duration_hours": 24, "service": "tg", "auto_renew": true})),
                &[("X-Idempotency-Key", "one"), ("Idempotency-Key", "one")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["auto_renew"], true);
    }
    assert_eq!(
        (env.api.order_count(), env.api.charge_count()),
        (2, 2),
        "idempotency keys are ignored"
    );
    env.handle.shutdown().await;
}

#[tokio::test]
async fn cancel_window() {
    let env = rich().await;
    let fresh = env.rent("tg", "US", 24).await;
    let id = rental_id(&fresh);
    let r = env.v1_post(&format!("/rentals/{id}/cancel"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"success": true, "rental_id": id, "status": "cancelled", "refund": fresh["price"]})
    );
    assert_eq!(env.api.balance_cents(KEY), START);
    assert_v1_error(
        &env.v1_post(&format!("/rentals/{id}/cancel"), None).await,
        400,
        "Cannot cancel rental with status: cancelled",
    );
    assert_eq!(env.rentals("?status=cancelled").await[0]["id"], json!(id));

    let window =
        "Rental can only be cancelled within 20 minutes of purchase and before the first SMS";
    let old = rental_id(&env.rent("tg", "US", 24).await);
    env.api
        .age_order(&old, Duration::from_secs(20 * 60))
        .expect("age");
    assert_v1_error(
        &env.v1_post(&format!("/rentals/{old}/cancel"), None).await,
        400,
        window,
    );
    let texted = rental_id(&env.rent("tg", "US", 24).await);
    env.api.deliver_sms(&texted, None).expect("deliver");
    assert_v1_error(
        &env.v1_post(&format!("/rentals/{texted}/cancel"), None)
            .await,
        400,
        window,
    );
    // Just inside the window still works.
    let recent = rental_id(&env.rent("tg", "US", 24).await);
    env.api
        .age_order(&recent, Duration::from_secs(19 * 60))
        .expect("age");
    assert_eq!(
        env.v1_post(&format!("/rentals/{recent}/cancel"), None)
            .await
            .status,
        StatusCode::OK
    );
    env.handle.shutdown().await;
}

#[tokio::test]
async fn release_hold_and_prorated_refund() {
    let env = rich().await;
    let rental = env.rent("tg", "US", 24).await;
    let id = rental_id(&rental);
    let price = cents(&rental["price"]);
    let hold = "Rentals can be released after a 2-hour minimum hold";
    assert_v1_error(
        &env.v1_post(&format!("/rentals/{id}/release"), None).await,
        400,
        hold,
    );
    env.api
        .age_order(&id, Duration::from_secs(6 * 3600))
        .expect("age");
    let r = env.v1_post(&format!("/rentals/{id}/release"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (&r.body["rental_id"], &r.body["status"]),
        (&json!(id), &json!("completed"))
    );
    // 18 of 24 hours unused, minus 10 %.
    let expected = price * 18 / 24 * 9 / 10;
    let refund = cents(&r.body["refund"]);
    assert!((refund - expected).abs() <= 1, "{refund} vs {expected}");
    assert_eq!(env.api.balance_cents(KEY), START - price + refund);
    assert_eq!(env.rentals("?status=completed").await[0]["id"], json!(id));
    assert_v1_error(
        &env.v1_post(&format!("/rentals/{id}/release"), None).await,
        400,
        "Cannot release rental with status: completed",
    );
    assert_v1_error(
        &env.v1_post("/rentals/rnt_nope/release", None).await,
        404,
        "Rental not found",
    );
    env.handle.shutdown().await;
}
