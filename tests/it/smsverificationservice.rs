//! smsVerificationService through a real MCP client, over its fake
//! (`../shared/api/smsverificationservice.md`): the rules that are this provider's own.
//!
//! Rules pinned down here:
//! - catalogs have no stock counts: offers say `stock: 1` with `stock_unknown: true`, listings
//!   say so in their note, and no number is invented; a sold-out country is not listed at all;
//! - countries are ISO codes mapped from the provider's names; services are slugs of its names;
//!   the provider's own integer ids pass through unmapped;
//! - the US product-line rule: a service only on best-temp is bought there (and said so);
//!   rental hours round up to a product (25 h → the 3-day line, 100 h → rent-30days, or the
//!   30-day rental line for a service not on rent-30days) and the hours bought are reported;
//!   rentals outside the US are refused naming the field;
//! - extend_rental renews by one fixed period: hours above it are refused before any request,
//!   fewer buy the whole period, and the result says what was bought and charged once;
//! - every request carries the Bearer key and the trailing slash the API wants;
//! - a purchase is sent once: a lost answer is found in the order list (exactly one order and
//!   one charge); a 500 with nothing bought says it is safe to buy again; never a second POST;
//! - tools the provider does not offer (swap_order, list_transactions) are errors naming it and
//!   what to do instead; get_profile and get_stats are honest substitutes;
//! - cancel: the balance comes back, the refund amount is not invented;
//! - prices and balances are in the provider's currency, USD;
//! - one poller serves every wait on an order: three waits cost one status read per round.

use std::time::Duration;

use serde_json::{json, Value};
use virtualsms_mcp::sandbox::Fault;

use crate::common::{fake_options, Dialect, Harness, KEY};

const PREFIX: &str = "/smsverificationservice/api/v1";

async fn svs() -> Harness {
    Harness::on(Dialect::Svs).await
}

async fn rich() -> Harness {
    let mut options = fake_options();
    options.starting_balance_cents = 1_000_000;
    Harness::speaking(Dialect::Svs, options, |_| {}).await
}

fn posts_to(h: &Harness, path: &str) -> usize {
    h.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == format!("{PREFIX}{path}"))
        .count()
}

fn cents(v: &Value) -> i64 {
    (v.as_f64().expect("amount") * 100.0).round() as i64
}

#[tokio::test]
async fn stock_is_unknown_never_invented() {
    let h = svs().await;
    let offer = h
        .ok(
            "find_cheapest",
            json!({"service": "telegram", "country": "us"}),
        )
        .await;
    assert_eq!(offer["stock"], 1, "{offer}");
    assert_eq!(offer["stock_unknown"], true, "{offer}");
    let anywhere = h.ok("find_cheapest", json!({"service": "telegram"})).await;
    assert_eq!(anywhere["stock_unknown"], true);
    let pricing = h.ok("country_pricing", json!({"country": "gb"})).await;
    assert!(
        pricing["note"]
            .as_str()
            .unwrap()
            .contains("no stock counts"),
        "{pricing}"
    );
    assert!(pricing["prices"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["stock"] == 1 && p["stock_unknown"] == true));
    let countries = h.ok("list_countries", json!({})).await;
    let list = countries["countries"].as_array().unwrap();
    assert!(list.iter().any(|c| c["iso2"] == "us"));
    assert!(
        list.iter().any(|c| c["iso2"] == "gb"),
        "names mapped to ISO codes"
    );
    assert!(
        !list.iter().any(|c| c["iso2"] == "jp"),
        "sold out: not listed by C1"
    );
    assert!(list.iter().all(|c| c["in_stock"] == true));
}

#[tokio::test]
async fn the_providers_own_ids_pass_through() {
    let h = svs().await;
    let by_iso = h
        .ok(
            "find_cheapest",
            json!({"service": "whatsapp", "country": "gb"}),
        )
        .await;
    // The fake numbers global countries 10 + their place in its catalog: gb is 11.
    let by_id = h
        .ok(
            "find_cheapest",
            json!({"service": "whatsapp", "country": "11"}),
        )
        .await;
    assert_eq!(by_id["price"], by_iso["price"], "{by_id}");
    let text = h
        .err(
            "find_cheapest",
            json!({"service": "whatsapp", "country": "zz"}),
        )
        .await;
    assert!(text.contains("`country`"), "{text}");
}

#[tokio::test]
async fn requests_carry_the_bearer_key_and_the_trailing_slash() {
    let h = svs().await;
    h.ok("get_balance", json!({})).await;
    h.ok(
        "find_cheapest",
        json!({"service": "whatsapp", "country": "gb"}),
    )
    .await;
    let requests = h.requests();
    assert!(requests.len() >= 3, "{requests:?}");
    for r in &requests {
        assert!(r.path.starts_with(PREFIX) && r.path.ends_with('/'), "{r:?}");
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {KEY}").as_str())
        );
    }
    assert!(requests
        .iter()
        .any(|r| r.path.ends_with("/global/services/")
            && r.query
                .as_deref()
                .is_some_and(|q| q.starts_with("country_id="))));
}

#[tokio::test]
async fn a_service_only_on_best_temp_is_bought_there_and_said_so() {
    let h = svs().await;
    let order = h
        .ok(
            "create_order",
            json!({"service": "signal", "country": "us"}),
        )
        .await;
    assert_eq!(posts_to(&h, "/order/best-temp/"), 1);
    assert_eq!(posts_to(&h, "/order/temporary/"), 0);
    assert!(
        order["note"].as_str().unwrap().contains("best-temp"),
        "{order}"
    );
    assert_eq!(order["service"], "signal");
    assert_eq!(order["country"], "us");
    assert!(
        order["phone_number"].as_str().unwrap().starts_with("+1"),
        "{order}"
    );
    assert!(!order["phone_number"].as_str().unwrap().contains(' '));
}

#[tokio::test]
async fn a_global_number_is_bought_by_country_and_service_ids() {
    let h = svs().await;
    let order = h
        .ok(
            "create_order",
            json!({"service": "whatsapp", "country": "gb"}),
        )
        .await;
    let post = h
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .expect("a purchase");
    assert_eq!(post.path, format!("{PREFIX}/order/global/"));
    let body: Value = serde_json::from_str(&post.body).unwrap();
    assert!(
        body["service_id"].is_u64() && body["country_id"].is_u64(),
        "{body}"
    );
    assert_eq!(order["country"], "gb");
    let listed = h.ok("list_orders", json!({})).await;
    assert_eq!(
        listed["data"][0]["country"], "gb",
        "from \"WhatsApp (United Kingdom)\""
    );
    assert_eq!(listed["data"][0]["service"], "whatsapp");
}

#[tokio::test]
async fn rental_hours_round_up_to_a_product_and_say_so() {
    let h = rich().await;
    let three = h.rental(25).await;
    assert_eq!(three["rental_hours"], 72, "{three}");
    assert!(
        three["note"].as_str().unwrap().contains("asked for 25 h"),
        "{three}"
    );
    assert!(
        three["expires_at"].as_str().is_some(),
        "D2 gives the expiry"
    );
    let post = h.last_request();
    assert_eq!(post.path, format!("{PREFIX}/order/rental/"));
    assert_eq!(
        serde_json::from_str::<Value>(&post.body).unwrap()["duration"],
        3
    );
    // whatsapp is not on rent-30days: the 30-day rental line.
    let thirty = h.rental(100).await;
    assert_eq!(thirty["rental_hours"], 720, "{thirty}");
    assert_eq!(posts_to(&h, "/order/rental/"), 2);
    let telegram = h
        .ok(
            "create_order",
            json!({"service": "telegram", "country": "us", "rental_hours": 100}),
        )
        .await;
    assert_eq!(telegram["rental_hours"], 720);
    assert_eq!(posts_to(&h, "/order/rent-30days/"), 1);
    let text = h
        .err(
            "create_order",
            json!({"service": "whatsapp", "country": "gb", "rental_hours": 24}),
        )
        .await;
    assert!(text.contains("`country`") && text.contains("US"), "{text}");
}

#[tokio::test]
async fn renewal_buys_one_fixed_period_and_says_what_was_bought() {
    let h = svs().await;
    let rental = h.rental(24).await;
    let id = rental["order_id"].as_str().unwrap();
    let posts = h.requests().iter().filter(|r| r.method == "POST").count();
    let text = h
        .err("extend_rental", json!({"order_id": id, "hours": 48}))
        .await;
    assert!(text.contains("24 h"), "{text}");
    assert_eq!(
        h.requests().iter().filter(|r| r.method == "POST").count(),
        posts,
        "refused before any request"
    );
    let before = h.fake.balance_cents(KEY);
    let extended = h
        .ok("extend_rental", json!({"order_id": id, "hours": 10}))
        .await;
    assert_eq!(extended["rental_hours"], 48, "{extended}");
    let note = extended["note"].as_str().unwrap();
    assert!(note.contains("asked for 10 h, bought 24 h"), "{note}");
    assert_eq!(
        before - h.fake.balance_cents(KEY),
        cents(&extended["price"])
    );
    assert_eq!(posts_to(&h, &format!("/order/{}/renew/", raw(id))), 1);
    assert!(
        extended["expires_at"].as_str().is_some(),
        "read from E2 after renewing"
    );
    let activation = h.order().await;
    let text = h
        .err(
            "extend_rental",
            json!({"order_id": activation, "hours": 24}),
        )
        .await;
    assert!(text.contains("not a rental"), "{text}");
}

#[tokio::test]
async fn a_lost_purchase_answer_is_found_once_and_never_repeated() {
    let h = svs().await;
    // Warm the catalogs, so the next request is the purchase.
    h.ok(
        "country_pricing",
        json!({"country": "us", "service": "telegram"}),
    )
    .await;
    h.fake.inject(Fault::DropAfterProcessing, 1);
    let order = h.buy().await;
    assert_eq!(h.fake.charge_count(), 1);
    assert_eq!(h.fake.order_count(), 1);
    assert_eq!(posts_to(&h, "/order/temporary/"), 1, "never sent twice");
    assert!(
        order["note"]
            .as_str()
            .unwrap()
            .contains("found in the order list"),
        "{order}"
    );
    let id = order["order_id"].as_str().unwrap();
    let read = h.ok("get_order", json!({"order_id": id})).await;
    assert_eq!(read["phone_number"], order["phone_number"]);
}

#[tokio::test]
async fn a_failed_purchase_with_nothing_bought_says_so() {
    let h = svs().await;
    h.ok(
        "country_pricing",
        json!({"country": "us", "service": "telegram"}),
    )
    .await;
    h.fake.inject(Fault::problem(500, "internal"), 1);
    let text = h.buy_refused().await;
    assert!(text.contains("nothing was bought"), "{text}");
    assert_eq!(h.fake.charge_count(), 0);
    assert_eq!(posts_to(&h, "/order/temporary/"), 1, "never retried");
}

#[tokio::test]
async fn tools_it_does_not_offer_are_not_listed_and_substitutes_answer() {
    let h = svs().await;
    let listed: Vec<&str> = h.tools().iter().map(|t| t.name.as_ref()).collect();
    assert!(!listed.contains(&"swap_order"), "{listed:?}");
    assert!(!listed.contains(&"list_transactions"), "{listed:?}");
    h.order().await;
    let profile = h.ok("get_profile", json!({})).await;
    assert!(profile.get("email").is_none(), "{profile}");
    assert_eq!(cents(&profile["balance"]), h.fake.balance_cents(KEY));
    let stats = h.ok("get_stats", json!({})).await;
    assert_eq!(stats["lifetime_orders"], 1, "{stats}");
}

#[tokio::test]
async fn cancel_gives_the_money_back_without_inventing_the_refund() {
    let h = svs().await;
    let id = h.order().await;
    let cancelled = h.ok("cancel_order", json!({"order_id": id})).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled.get("refunded").is_none(), "{cancelled}");
    assert!(cancelled["note"].as_str().unwrap().contains("get_balance"));
    assert_eq!(h.fake.balance_cents(KEY), 10_000);
    let again = h.err("cancel_order", json!({"order_id": id})).await;
    assert!(again.contains("cannot be cancelled"), "{again}");
}

#[tokio::test]
async fn money_is_reported_in_usd() {
    let h = svs().await;
    let balance = h.ok("get_balance", json!({})).await;
    assert_eq!(balance["currency"], "USD");
    assert_eq!(cents(&balance["balance"]), 10_000);
}

#[tokio::test]
async fn one_poller_serves_every_wait_on_an_order() {
    let h = Harness::speaking(Dialect::Svs, fake_options(), |c| {
        c.poll_interval = Duration::from_millis(200);
    })
    .await;
    let id = h.order().await;
    h.deliver_later(&id, "Your code is 482913", Duration::from_millis(700));
    let wait = || {
        h.ok(
            "wait_for_sms",
            json!({"order_id": id, "timeout_seconds": 20}),
        )
    };
    let (a, b, c) = tokio::join!(wait(), wait(), wait());
    for got in [a, b, c] {
        assert_eq!(got["code"], "482913", "{got}");
        assert_eq!(got["outcome"], "received");
    }
    let reads = h
        .requests()
        .iter()
        .filter(|r| r.path == format!("{PREFIX}/order/{}/status/", raw(&id)))
        .count();
    // About one read per 200 ms round for all three waits; three pollers would be ~12.
    assert!((1..=7).contains(&reads), "{reads} status reads");
}

/// The provider's own order id inside the tools' `smsverificationservice:<id>`.
fn raw(id: &str) -> &str {
    id.strip_prefix("smsverificationservice:").unwrap_or(id)
}
