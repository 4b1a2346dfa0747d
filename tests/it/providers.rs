//! Several providers behind the same tools: VirtualSMS (v1), SMSCode (IDR) and
//! smsVerificationService on the one fake, through a real MCP client.
//!
//! Rules pinned down here:
//! - find_cheapest without `provider` asks every provider and picks the cheapest in USD; every
//!   answer is listed with its provider, currency and USD price;
//! - create_order without `provider` buys where find_cheapest points and says where; the order
//!   id carries its provider (`smscode:…`) and every order tool routes by it alone;
//! - one provider down (refused connection, or no answer in time) does not fail the call: its
//!   error is named in the result;
//! - a price in a currency without a USD rate is listed, never compared; with a USD limit set,
//!   an order there is refused before any request, naming the rate's variable;
//! - a tool one provider cannot serve is an error naming that provider, and nothing is sent;
//! - get_balance lists every provider's balance in its currency; list_orders merges them.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{fake_options, Dialect, Harness};

async fn all() -> Harness {
    Harness::on(Dialect::All).await
}

fn offers(cheapest: &Value) -> Vec<Value> {
    cheapest["offers"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn find_cheapest_asks_every_provider_and_compares_in_usd() {
    let h = all().await;
    let best = h
        .ok(
            "find_cheapest",
            json!({"service": "telegram", "country": "us"}),
        )
        .await;
    let all = offers(&best);
    let providers: Vec<&str> = all
        .iter()
        .map(|o| o["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers.len(), 3, "{best}");
    for p in ["virtualsms", "smscode", "smsverificationservice"] {
        assert!(providers.contains(&p), "{p} missing: {best}");
    }
    let usd = |o: &Value| {
        o["price_usd"]
            .as_f64()
            .or_else(|| (o["currency"] == "USD").then(|| o["price"].as_f64().unwrap()))
    };
    let cheapest = all.iter().filter_map(usd).fold(f64::INFINITY, f64::min);
    let chosen = all
        .iter()
        .find(|o| o["provider"] == best["provider"])
        .unwrap();
    assert_eq!(usd(chosen), Some(cheapest), "{best}");
    let idr = all.iter().find(|o| o["provider"] == "smscode").unwrap();
    assert_eq!(idr["currency"], "IDR");
    assert!(
        idr["price_usd"].as_f64().is_some(),
        "converted with the rate: {idr}"
    );
}

#[tokio::test]
async fn create_order_buys_where_cheapest_points_and_ids_route_by_prefix() {
    let h = all().await;
    let best = h
        .ok(
            "find_cheapest",
            json!({"service": "telegram", "country": "us"}),
        )
        .await;
    let order = h.buy().await;
    assert_eq!(order["provider"], best["provider"], "{order}");
    let next = order["next_step"].as_str().unwrap();
    assert!(
        next.contains(&format!(
            "Bought from {}",
            best["provider"].as_str().unwrap()
        )),
        "{next}"
    );
    // Buy at SMSCode explicitly: its id carries the prefix, and get_order routes by it.
    let at_smscode = h
        .ok(
            "create_order",
            json!({"service": "telegram", "country": "us", "provider": "smscode"}),
        )
        .await;
    let id = at_smscode["order_id"].as_str().unwrap();
    assert!(id.starts_with("smscode:"), "{id}");
    h.fake.clear_requests();
    let read = h.ok("get_order", json!({"order_id": id})).await;
    assert_eq!(read["order_id"], id);
    assert_eq!(read["provider"], "smscode");
    assert!(
        h.requests().iter().all(|r| r.path.starts_with("/smscode/")),
        "{:?}",
        h.requests().iter().map(|r| &r.path).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_provider_that_refuses_connections_is_named_not_fatal() {
    let h = Harness::speaking(Dialect::All, fake_options(), |c| {
        c.smsverificationservice.base_url = "http://127.0.0.1:9/api/v1".into();
        c.http.max_retries = 0;
    })
    .await;
    let best = h
        .ok(
            "find_cheapest",
            json!({"service": "telegram", "country": "us"}),
        )
        .await;
    let down = offers(&best)
        .into_iter()
        .find(|o| o["provider"] == "smsverificationservice")
        .unwrap();
    assert!(
        down["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{down}"
    );
    assert_ne!(best["provider"], "smsverificationservice");
    let availability = h
        .ok("service_availability", json!({"service": "telegram"}))
        .await;
    assert_eq!(
        availability["errors"][0]["provider"],
        "smsverificationservice"
    );
}

#[tokio::test]
async fn a_provider_that_never_answers_is_named_within_the_timeout() {
    // A listener that accepts nothing: requests to it hang until their timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let h = Harness::speaking(Dialect::All, fake_options(), move |c| {
        c.smsverificationservice.base_url = format!("http://127.0.0.1:{port}/api/v1");
        c.http.request_timeout = Duration::from_millis(800);
        c.http.max_retries = 0;
    })
    .await;
    let started = std::time::Instant::now();
    let best = h
        .ok(
            "find_cheapest",
            json!({"service": "telegram", "country": "us"}),
        )
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
    let hung = offers(&best)
        .into_iter()
        .find(|o| o["provider"] == "smsverificationservice")
        .unwrap();
    assert!(hung["error"].as_str().is_some(), "{hung}");
    drop(silent);
}

#[tokio::test]
async fn a_price_without_a_usd_rate_is_listed_never_compared() {
    let h = Harness::speaking(Dialect::All, fake_options(), |c| {
        if let Some(s) = c.smscode.as_mut() {
            s.idr_per_usd = None;
        }
    })
    .await;
    let best = h
        .ok(
            "find_cheapest",
            json!({"service": "telegram", "country": "us"}),
        )
        .await;
    assert_ne!(best["provider"], "smscode", "never chosen without a rate");
    let all = offers(&best);
    let idr = all.iter().find(|o| o["provider"] == "smscode").unwrap();
    assert!(
        idr["price"].as_f64().is_some() && idr.get("price_usd").is_none(),
        "{idr}"
    );
    assert_eq!(
        all.last().unwrap()["provider"],
        "smscode",
        "listed last: {best}"
    );
}

#[tokio::test]
async fn a_usd_limit_refuses_an_idr_order_without_a_rate_before_any_request() {
    let h = Harness::speaking(Dialect::All, fake_options(), |c| {
        if let Some(s) = c.smscode.as_mut() {
            s.idr_per_usd = None;
        }
        c.guard.max_order_price = Some(5.0);
    })
    .await;
    h.fake.clear_requests();
    let text = h
        .err(
            "create_order",
            json!({"service": "telegram", "country": "us", "provider": "smscode"}),
        )
        .await;
    assert!(text.contains("SMSCODE_IDR_PER_USD"), "{text}");
    assert!(h.requests().is_empty(), "{:?}", h.requests());
}

#[tokio::test]
async fn a_tool_one_provider_cannot_serve_names_it_and_sends_nothing() {
    let h = all().await;
    let order = h
        .ok(
            "create_order",
            json!({"service": "telegram", "country": "us", "provider": "smscode"}),
        )
        .await;
    h.fake.clear_requests();
    let text = h
        .err("swap_order", json!({"order_id": order["order_id"]}))
        .await;
    assert!(text.contains("SMSCode does not offer"), "{text}");
    assert!(
        !h.requests().iter().any(|r| r.method == "POST"),
        "{:?}",
        h.requests()
    );
}

#[tokio::test]
async fn balances_and_orders_come_from_every_provider() {
    let h = all().await;
    let balance = h.ok("get_balance", json!({})).await;
    let by: Vec<(String, String)> = balance["by_provider"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["provider"].as_str().unwrap().to_owned(),
                b["currency"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(by.contains(&("smscode".into(), "IDR".into())), "{balance}");
    assert!(
        by.contains(&("virtualsms".into(), "USD".into())),
        "{balance}"
    );
    assert_eq!(by.len(), 3);
    for provider in ["virtualsms", "smscode"] {
        h.ok(
            "create_order",
            json!({"service": "telegram", "country": "us", "provider": provider}),
        )
        .await;
    }
    let list = h.ok("list_orders", json!({})).await;
    let providers: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["provider"].as_str().unwrap())
        .collect();
    assert!(
        providers.contains(&"virtualsms") && providers.contains(&"smscode"),
        "{list}"
    );
    let only = h.ok("list_orders", json!({"provider": "smscode"})).await;
    assert!(only["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["order_id"].as_str().unwrap().starts_with("smscode:")));
}

#[tokio::test]
async fn one_spend_limit_holds_across_providers_in_usd() {
    let h = Harness::speaking(Dialect::All, fake_options(), |c| {
        c.guard.spend_limit = Some(4.0);
    })
    .await;
    // Each telegram number in the US costs about $2.60 everywhere in the fake.
    let first = h
        .ok(
            "create_order",
            json!({"service": "telegram", "country": "us", "provider": "virtualsms"}),
        )
        .await;
    let left = first["budget_left"].as_f64().unwrap();
    assert!(left < 2.0, "{first}");
    let charges = h.fake.charge_count();
    let text = h
        .err(
            "create_order",
            json!({"service": "telegram", "country": "us", "provider": "smscode"}),
        )
        .await;
    assert!(text.contains("VIRTUALSMS_SPEND_LIMIT"), "{text}");
    assert_eq!(h.fake.charge_count(), charges, "nothing more was charged");
}
