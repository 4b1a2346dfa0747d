//! SMSCode's own rules, through a real MCP client over the SMSCode backend and the fake's
//! `/smscode/v1` (`../shared/api/smscode.md`).
//!
//! Rules pinned down here:
//! - requests carry the token as `Authorization: Bearer` and go under the base URL's path;
//! - `success: false` is an error even with HTTP 200 (INSUFFICIENT_BALANCE, PRODUCT_UNAVAILABLE),
//!   and it names the code and SMSCode;
//! - money is whole rupiah: the balance says `IDR`, the order's price is the catalog price of the
//!   product bought, and the note says the order answer carried none;
//! - the cheapest product in stock is bought; when the answer says it sold out (nothing bought),
//!   the next is bought: one order, one charge, at that product's price, and the note says so;
//! - a lost purchase answer is never retried nor followed by another product: the order list
//!   finds exactly one order and one charge; a 5xx with nothing bought says so and that a new
//!   create_order is safe;
//! - only the code is exposed: wait_for_sms and get_order show it without SMS text, and say so;
//! - cancel after the code is accepted and refunds nothing (0, with a note); confirm before the
//!   code is refused without a request;
//! - countries are ISO codes mapped from SMSCode's name slugs; an unknown one is an error that
//!   names SMSCode and points to list_countries;
//! - tools SMSCode does not offer (swap, rentals, profile, stats, transactions) are errors that
//!   name SMSCode and what to use instead, and send nothing.

use std::time::Duration;

use serde_json::{json, Value};
use virtualsms_mcp::sandbox::catalog;
use virtualsms_mcp::sandbox::smscode::IDR_PER_USD;
use virtualsms_mcp::sandbox::{FakeOptions, Fault};

use crate::common::{fake_options, Dialect, Harness, KEY};

const IDR_PER_CENT: i64 = IDR_PER_USD / 100;

/// An amount as whole rupiah (the domain carries money as a float).
fn idr(v: &Value) -> i64 {
    let x = v.as_f64().unwrap_or_else(|| panic!("not an amount: {v}"));
    assert_eq!(x.fract(), 0.0, "whole rupiah: {x}");
    x as i64
}

async fn smscode() -> Harness {
    Harness::on(Dialect::SmsCode).await
}

fn posts_to_orders(h: &Harness) -> usize {
    h.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/smscode/v1/orders")
        .count()
}

/// Primes the cached catalog, then lets the next request (the live product read before a
/// purchase) pass untouched, so the fault queued after it hits the purchase itself.
async fn fault_the_purchase(h: &Harness, fault: Fault) {
    h.ok("list_countries", json!({})).await;
    h.fake.inject(Fault::Delay(Duration::ZERO), 1);
    h.fake.inject(fault, 1);
}

#[tokio::test]
async fn money_is_rupiah_and_the_price_comes_from_the_product() {
    let h = smscode().await;
    let balance = h.ok("get_balance", json!({})).await;
    assert_eq!(balance["currency"], "IDR", "{balance}");
    assert_eq!(idr(&balance["balance"]), 10_000 * IDR_PER_CENT);
    let order = h.buy().await;
    let price = catalog::price_cents("telegram", "us") * IDR_PER_CENT;
    assert_eq!(idr(&order["price"]), price, "{order}");
    assert_eq!(order["country"], "us");
    assert!(
        order["note"].as_str().unwrap().contains("carries no price"),
        "{order}"
    );
    let after = h.ok("get_balance", json!({})).await;
    assert_eq!(idr(&after["balance"]), 10_000 * IDR_PER_CENT - price);
    let req = h.last_request();
    assert!(req.path.starts_with("/smscode/v1/"), "{req:?}");
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
}

#[tokio::test]
async fn an_error_with_http_200_is_an_error() {
    let h = Harness::speaking(
        Dialect::SmsCode,
        FakeOptions {
            starting_balance_cents: 1,
            ..fake_options()
        },
        |_| {},
    )
    .await;
    let text = h.buy_refused().await;
    assert!(text.contains("HTTP 200 INSUFFICIENT_BALANCE"), "{text}");
    assert!(text.contains("SMSCode"), "{text}");
    assert!(text.contains("top up"), "{text}");
    assert_eq!((h.fake.order_count(), h.fake.charge_count()), (0, 0));
    assert_eq!(posts_to_orders(&h), 1, "a refusal is not retried");
}

#[tokio::test]
async fn a_product_sold_out_since_the_catalog_read_falls_back_to_the_next() {
    let h = smscode().await;
    fault_the_purchase(&h, Fault::problem(200, "product-unavailable")).await;
    let order = h.buy().await;
    let premium = (catalog::price_cents("telegram", "us") * 7 + 4) / 5 * IDR_PER_CENT;
    assert_eq!(
        idr(&order["price"]),
        premium,
        "the next product's price: {order}"
    );
    assert!(
        order["note"].as_str().unwrap().contains("sold out"),
        "{order}"
    );
    assert_eq!(posts_to_orders(&h), 2);
    assert_eq!((h.fake.order_count(), h.fake.charge_count()), (1, 1));
}

#[tokio::test]
async fn a_lost_purchase_answer_is_found_not_repeated() {
    let h = smscode().await;
    fault_the_purchase(&h, Fault::DropAfterProcessing).await;
    let order = h.buy().await;
    assert_eq!(
        posts_to_orders(&h),
        1,
        "never sent twice, never another product"
    );
    assert_eq!((h.fake.order_count(), h.fake.charge_count()), (1, 1));
    let note = order["note"].as_str().unwrap();
    assert!(note.contains("answer was lost"), "{note}");
    let listed = h.ok("list_orders", json!({})).await;
    assert_eq!(listed["data"][0]["order_id"], order["order_id"], "{listed}");
    assert_eq!(listed["total"], 1);
}

#[tokio::test]
async fn a_failed_purchase_that_bought_nothing_says_so() {
    let h = smscode().await;
    fault_the_purchase(&h, Fault::problem(503, "maintenance")).await;
    let text = h.buy_refused().await;
    assert!(text.contains("nothing was bought"), "{text}");
    assert_eq!(posts_to_orders(&h), 1, "a 5xx on a purchase is not retried");
    assert_eq!(h.fake.order_count(), 0);
}

#[tokio::test]
async fn only_the_code_is_exposed() {
    let h = smscode().await;
    let id = h.order().await;
    h.fake
        .deliver_sms(&id, Some("Your Telegram code: 48291. Do not share it."))
        .unwrap();
    let got = h.wait_sms(&id, 10).await;
    assert_eq!(got["outcome"], "received", "{got}");
    assert_eq!(got["code"], "48291");
    // Message ids are the provider's own (opaque); the order id carries the provider prefix.
    let raw = id.strip_prefix("smscode:").expect("a prefixed id");
    assert_eq!(got["message_id"], format!("{raw}:otp"));
    assert!(got.get("text").is_none(), "no SMS text: {got}");
    assert!(
        got["next_step"]
            .as_str()
            .unwrap()
            .contains("only the verification code"),
        "{got}"
    );
    let read = h.ok("get_order", json!({"order_id": id})).await;
    assert_eq!(read["code"], "48291");
    assert_eq!(read["messages"][0]["text"], "");
    assert!(!read.to_string().contains("Do not share"), "{read}");
}

#[tokio::test]
async fn cancel_after_the_code_refunds_nothing_and_confirm_needs_the_code() {
    let h = smscode().await;
    let id = h.order().await;
    let text = h.err("confirm_order", json!({"order_id": id})).await;
    assert!(text.contains("no code yet"), "{text}");
    assert!(
        !h.requests().iter().any(|r| r.path.ends_with("/complete")),
        "refused before any request"
    );
    h.fake.deliver_sms(&id, Some("code 123456")).unwrap();
    let before = h.ok("get_balance", json!({})).await["balance"].clone();
    let cancelled = h.ok("cancel_order", json!({"order_id": id})).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["refunded"], json!(0.0));
    assert!(
        cancelled["note"]
            .as_str()
            .unwrap()
            .contains("refunds nothing"),
        "{cancelled}"
    );
    assert_eq!(h.ok("get_balance", json!({})).await["balance"], before);
}

#[tokio::test]
async fn countries_are_iso_codes_mapped_from_name_slugs() {
    let h = smscode().await;
    let list = h.ok("list_countries", json!({})).await;
    let gb = list["countries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["iso2"] == "gb")
        .cloned()
        .unwrap_or_else(|| panic!("gb listed: {list}"));
    assert_eq!(gb["name"], "United Kingdom");
    let offer = h
        .ok(
            "find_cheapest",
            json!({"service": "whatsapp", "country": "gb"}),
        )
        .await;
    assert_eq!(offer["country"], "gb");
    let read = h.last_request();
    assert!(
        read.query
            .as_deref()
            .unwrap_or("")
            .contains("country=united-kingdom"),
        "{read:?}"
    );
    let pricing = h
        .ok("country_pricing", json!({"country": "id", "rental": true}))
        .await;
    assert!(pricing["total"].as_u64().unwrap() > 10, "{pricing}");
    assert!(
        pricing["note"].as_str().unwrap().contains("no rentals"),
        "{pricing}"
    );
    let text = h
        .err(
            "find_cheapest",
            json!({"service": "telegram", "country": "xx"}),
        )
        .await;
    assert!(
        text.contains("SMSCode") && text.contains("list_countries"),
        "{text}"
    );
}

#[tokio::test]
async fn tools_smscode_does_not_offer_are_not_listed_when_it_is_the_only_provider() {
    let h = smscode().await;
    let listed: Vec<&str> = h.tools().iter().map(|t| t.name.as_ref()).collect();
    for tool in [
        "swap_order",
        "get_profile",
        "get_stats",
        "list_transactions",
        "extend_rental",
        "release_rental",
    ] {
        assert!(!listed.contains(&tool), "{tool} listed: {listed:?}");
    }
    assert!(listed.contains(&"create_order") && listed.contains(&"wait_for_sms"));
    h.fake.clear_requests();
    let text = h
        .err(
            "create_order",
            json!({"service": "telegram", "country": "us", "rental_hours": 24}),
        )
        .await;
    assert!(text.contains("SMSCode does not offer rentals"), "{text}");
    assert!(h.requests().is_empty(), "{:?}", h.requests());
}
