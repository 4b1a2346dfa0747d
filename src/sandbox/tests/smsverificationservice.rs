//! The smsVerificationService dialect over HTTP: every answer shape (wrapped, bare, flat, raw
//! array), no stock counts, integer ids per product line, the rental lines and renewal by one
//! period, cancel and its refusal, the string errors (insufficient balance on 400, a Django field
//! map, a missing trailing slash), Bearer auth, and the shared state with the other dialects.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{quiet_options, start, Env, Reply, KEY};
use crate::sandbox::FakeOptions;

impl Env {
    async fn svs(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let url = format!("{}{path}", self.handle.smsverificationservice_base_url());
        let mut req = self.client.request(method, url);
        if let Some(k) = key {
            req = req.bearer_auth(k);
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

    async fn svs_get(&self, path: &str) -> Reply {
        self.svs(Method::GET, path, Some(KEY), None).await
    }

    async fn svs_post(&self, path: &str, body: Value) -> Reply {
        self.svs(Method::POST, path, Some(KEY), Some(body)).await
    }
}

/// The id of `name` in a list of rows with `service_id` and `name`/`service_name`.
fn id_of(rows: &Value, name: &str) -> Option<u64> {
    rows.as_array()?.iter().find_map(|r| {
        let n = r["name"].as_str().or(r["service_name"].as_str())?;
        (n == name).then(|| r["service_id"].as_u64())?
    })
}

fn cents(v: &Value) -> i64 {
    (v.as_f64().expect("amount") * 100.0).round() as i64
}

#[tokio::test]
async fn every_shape_and_no_stock_counts() {
    let env = start(quiet_options()).await;
    let bal = env.svs_get("/balance/").await;
    assert_eq!(bal.status, StatusCode::OK);
    assert_eq!(
        bal.body,
        json!({"balance": 10.0, "currency": "USD"}),
        "bare"
    );
    let wallet = env.svs_get("/wallet/balance/").await;
    assert_eq!(
        wallet.body["data"]["balance"], 10.0,
        "wrapped: {}",
        wallet.body
    );

    let temp = env.svs_get("/services/temporary/").await;
    assert_eq!(temp.body["success"], true);
    let rows = &temp.body["data"]["services"];
    assert!(
        id_of(rows, "Telegram").is_some_and(|id| id >= 1000),
        "{rows}"
    );
    assert!(id_of(rows, "Signal").is_none(), "signal is best-temp only");
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| !r["name"].as_str().unwrap().contains(" / ")),
        "names are the part before ' / '"
    );
    let best = env.svs_get("/services/best-temp/").await;
    let best_rows = &best.body["data"]["services"];
    assert!(id_of(best_rows, "Signal").is_some_and(|id| id >= 4000));
    assert_eq!(best_rows[0]["country"], "US");

    let rental = env.svs_get("/services/rental/").await;
    let rental_rows = rental.body.as_array().expect("raw array");
    let wa = rental_rows
        .iter()
        .find(|r| r["name"] == "WhatsApp")
        .expect("whatsapp rentable");
    assert!(
        wa.get("service_id").is_none(),
        "the rental line has names only"
    );
    assert_eq!(wa["sell_price_3days"], wa["price_3days"]);
    let thirty = env.svs_get("/services/rent-30days/").await;
    assert!(id_of(&thirty.body["data"]["services"], "WhatsApp").is_none());
    assert!(id_of(&thirty.body["data"]["services"], "Telegram").is_some_and(|id| id >= 3000));
    assert!(env.svs_get("/services/esim/").await.body.is_array());

    let countries = env.svs_get("/global/countries/").await;
    let list = countries.body["countries"]
        .as_array()
        .expect("bare countries");
    assert!(list.iter().any(|c| c["country_name"] == "United Kingdom"));
    assert!(
        !list.iter().any(|c| c["country_name"] == "Japan"),
        "sold out: not listed"
    );
    assert!(
        !list.iter().any(|c| c["country_name"] == "United States"),
        "US is not global"
    );
    let gb = list
        .iter()
        .find(|c| c["country_name"] == "United Kingdom")
        .unwrap()["country_id"]
        .as_u64()
        .unwrap();
    let offers = env
        .svs_get(&format!("/global/services/?country_id={gb}"))
        .await;
    assert_eq!(offers.body["country_id"], gb);
    let row = &offers.body["offers"][0];
    for field in [
        "service_id",
        "service_name",
        "country_id",
        "country_name",
        "sell_price",
        "price",
    ] {
        assert!(row.get(field).is_some(), "{field} in {row}");
    }
    // No catalog anywhere says how many numbers there are.
    for body in [
        &temp.body,
        &best.body,
        &rental.body,
        &countries.body,
        &offers.body,
    ] {
        assert!(!body.to_string().contains("stock"), "{body}");
    }
    let missing = env.svs_get("/global/services/").await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        missing.body["error"],
        "country_id query parameter is required"
    );
}

#[tokio::test]
async fn activation_flow_status_list_and_cancel() {
    let env = start(quiet_options()).await;
    let temp = env.svs_get("/services/temporary/").await;
    let tg = id_of(&temp.body["data"]["services"], "Telegram").unwrap();
    let price = temp.body["data"]["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Telegram")
        .unwrap()["price"]
        .clone();
    let placed = env
        .svs_post("/order/temporary/", json!({"service_id": tg}))
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.body);
    let data = &placed.body["data"];
    assert_eq!(data["status"], "pending");
    let id = data["order_id"].as_u64().expect("integer order id");
    assert!(
        data["phone"].as_str().unwrap().contains(' '),
        "spaced phone"
    );
    assert!(data.get("price").is_none(), "D1 does not say the price");
    assert_eq!(
        cents(&env.svs_get("/balance/").await.body["balance"]),
        1000 - cents(&price)
    );

    let status = env.svs_get(&format!("/order/{id}/status/")).await;
    assert_eq!(status.body["data"]["status"], "pending");
    assert_eq!(status.body["data"]["otp"], Value::Null);
    env.api
        .deliver_sms(&id.to_string(), Some("Your code is 482913"))
        .unwrap();
    env.api
        .deliver_sms(&id.to_string(), Some("Your code is 111222"))
        .unwrap();
    let status = env.svs_get(&format!("/order/{id}/status/")).await;
    assert_eq!(status.body["data"]["status"], "completed");
    assert_eq!(status.body["data"]["otp"], "111222", "only the latest");
    assert_eq!(status.body["data"]["message"], "Your code is 111222");

    let list = env.svs_get("/orders/").await;
    let rows = list.body.as_array().expect("raw array");
    assert_eq!(rows[0]["order_id"], id);
    assert_eq!(rows[0]["service"], "Telegram");
    assert_eq!(rows[0]["status"], "completed");

    let refused = env
        .svs_post(&format!("/order/{id}/cancel/"), json!({}))
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.body["error"], "Order cannot be cancelled");

    let second = env
        .svs_post("/order/temporary/", json!({"service_id": tg.to_string()}))
        .await;
    let id2 = second.body["data"]["order_id"].as_u64().unwrap();
    let before = cents(&env.svs_get("/balance/").await.body["balance"]);
    let cancelled = env
        .svs_post(&format!("/order/{id2}/cancel/"), json!({}))
        .await;
    assert_eq!(
        cancelled.body["data"]["status"], "cancelled",
        "{}",
        cancelled.body
    );
    assert!(
        cancelled.body["data"].get("refund").is_none(),
        "the amount is not reported"
    );
    assert_eq!(
        cents(&env.svs_get("/balance/").await.body["balance"]),
        before + cents(&price)
    );
    let gone = env.svs_get("/order/999/status/").await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.body["error"], "Order not found");
}

#[tokio::test]
async fn global_orders_and_their_display_string() {
    let env = start(quiet_options()).await;
    let countries = env.svs_get("/global/countries/").await;
    let gb = countries.body["countries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["country_name"] == "United Kingdom")
        .unwrap()["country_id"]
        .clone();
    let offers = env
        .svs_get(&format!("/global/services/?country_id={gb}"))
        .await;
    let wa = id_of(&offers.body["offers"], "WhatsApp").unwrap();
    let placed = env
        .svs_post(
            "/order/global/",
            json!({"service_id": wa, "country_id": gb}),
        )
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.body);
    let list = env.svs_get("/orders/").await;
    assert_eq!(list.body[0]["service"], "WhatsApp (United Kingdom)");
    let jp_like = env
        .svs_post(
            "/order/global/",
            json!({"service_id": wa, "country_id": 9999}),
        )
        .await;
    assert_eq!(jp_like.status, StatusCode::BAD_REQUEST);
    assert_eq!(jp_like.body["error"], "Service not available");
}

#[tokio::test]
async fn rentals_report_their_line_and_renew_by_one_period() {
    let env = start(FakeOptions {
        starting_balance_cents: 1_000_000,
        ..quiet_options()
    })
    .await;
    let placed = env
        .svs_post(
            "/order/rental/",
            json!({"service": "whatsapp", "duration": 3}),
        )
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.body);
    // D2 is flat: no `data`, with the price and the expiry.
    assert_eq!(placed.body["status"], "active");
    assert!(placed.body.get("data").is_none());
    assert!(placed.body["expiry_date"].as_str().is_some());
    let price = cents(&placed.body["sell_price"]);
    let id = placed.body["order_id"].as_u64().unwrap();
    let status = env.svs_get(&format!("/order/{id}/status/")).await;
    assert_eq!(status.body["data"]["days_left"], 2, "{}", status.body);
    let before = cents(&env.svs_get("/balance/").await.body["balance"]);
    let renewed = env
        .svs_post(&format!("/order/{id}/renew/"), json!({}))
        .await;
    assert_eq!(renewed.body["data"]["status"], "active", "{}", renewed.body);
    assert!(renewed.body["data"].get("expiry_date").is_none());
    assert_eq!(
        cents(&env.svs_get("/balance/").await.body["balance"]),
        before - price
    );
    let status = env.svs_get(&format!("/order/{id}/status/")).await;
    assert_eq!(
        status.body["data"]["days_left"], 5,
        "3 more days: {}",
        status.body
    );

    let day = env.svs_get("/services/rent-1day/").await;
    let tg = id_of(&day.body["data"]["services"], "Telegram").unwrap();
    let one = env
        .svs_post("/order/rent-1day/", json!({"service_id": tg}))
        .await;
    let id = one.body["data"]["order_id"].as_u64().unwrap();
    let status = env.svs_get(&format!("/order/{id}/status/")).await;
    let left = status.body["data"]["time_left_seconds"].as_u64().unwrap();
    assert!((86_000..=86_400).contains(&left), "{left}");
    let temp = env.svs_get("/services/temporary/").await;
    let tid = id_of(&temp.body["data"]["services"], "Telegram").unwrap();
    let act = env
        .svs_post("/order/temporary/", json!({"service_id": tid}))
        .await;
    let aid = act.body["data"]["order_id"].as_u64().unwrap();
    let no = env
        .svs_post(&format!("/order/{aid}/renew/"), json!({}))
        .await;
    assert_eq!(no.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn errors_are_strings_in_their_documented_shapes() {
    let env = start(FakeOptions {
        starting_balance_cents: 1,
        ..quiet_options()
    })
    .await;
    let temp = env.svs_get("/services/temporary/").await;
    let tg = id_of(&temp.body["data"]["services"], "Telegram").unwrap();
    let poor = env
        .svs_post("/order/temporary/", json!({"service_id": tg}))
        .await;
    assert_eq!(
        poor.status,
        StatusCode::BAD_REQUEST,
        "the text tells, not the status"
    );
    assert_eq!(
        poor.body,
        json!({"success": false, "error": "Insufficient balance"})
    );
    let field = env.svs_post("/order/temporary/", json!({})).await;
    assert_eq!(field.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        field.body,
        json!({"service_id": ["This field is required."]})
    );
    let unknown = env
        .svs_post("/order/temporary/", json!({"service_id": 1}))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["error"], "Service not found");

    let no_key = env.svs(Method::GET, "/balance/", None, None).await;
    assert_eq!(no_key.status, StatusCode::UNAUTHORIZED);
    assert_eq!(no_key.body, json!({"error": "Invalid API key"}));
    let catalog = env
        .svs(Method::GET, "/services/temporary/", None, None)
        .await;
    assert_eq!(catalog.status, StatusCode::UNAUTHORIZED);
    assert_eq!(catalog.body["success"], false);
    // Django has no route without the trailing slash.
    let slashless = env.svs_get("/balance").await;
    assert_eq!(slashless.status, StatusCode::NOT_FOUND);
    assert_eq!(slashless.body, json!({"detail": "Not found."}));
}

#[tokio::test]
async fn shares_log_faults_and_rate_limit_with_the_other_dialects() {
    let env = start(FakeOptions {
        rate_limit_per_minute: 2,
        ..quiet_options()
    })
    .await;
    assert_eq!(env.svs_get("/balance/").await.status, StatusCode::OK);
    assert_eq!(env.get("/me/balance").await.status, StatusCode::OK);
    let limited = env.svs_get("/balance/").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.body["error"]
        .as_str()
        .unwrap()
        .starts_with("Rate limit exceeded."));
    assert!(limited.headers.get("retry-after").is_some());
    env.api.set_rate_limit(0);
    env.api.inject(
        crate::sandbox::Fault::Problem {
            status: 500,
            slug: "internal".into(),
            retry_after: None,
        },
        1,
    );
    let fault = env.svs_get("/balance/").await;
    assert_eq!(fault.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(fault.body["success"], false);
    let paths: Vec<String> = env.api.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        paths.contains(&"/smsverificationservice/api/v1/balance/".to_owned()),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"/api/v2/me/balance".to_owned()),
        "{paths:?}"
    );
}
