//! Money is never spent twice by a retry: every POST carries an Idempotency-Key, a POST whose
//! connection failed is retried only with that same key, and the fake's ledger shows exactly one
//! order and one charge however the connection broke.

use std::time::Duration;

use crate::common::{fake_options, Harness};
use serde_json::json;
use virtualsms_mcp::sandbox::Fault;

fn post_keys(h: &Harness) -> Vec<String> {
    h.requests()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| {
            r.header("idempotency-key")
                .expect("every POST has a key")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_post_dropped_after_processing_is_charged_once() {
    let h = Harness::start().await;
    h.fake.inject(Fault::DropAfterProcessing, 1);
    let order = h.buy().await;
    assert!(order["order_id"].as_str().unwrap().starts_with("ord_"));
    assert_eq!(h.fake.order_count(), 1, "one order");
    assert_eq!(h.fake.charge_count(), 1, "one charge");
    let keys = post_keys(&h);
    assert_eq!(keys.len(), 2, "retried once");
    assert_eq!(keys[0], keys[1], "with the same idempotency key");
}

#[tokio::test]
async fn a_post_dropped_before_processing_is_retried_to_one_order() {
    let h = Harness::start().await;
    h.fake.inject(Fault::DropBeforeProcessing, 2);
    h.buy().await;
    assert_eq!(h.fake.order_count(), 1);
    assert_eq!(h.fake.charge_count(), 1);
    let keys = post_keys(&h);
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| *k == keys[0]));
}

#[tokio::test]
async fn a_post_that_never_gets_an_answer_reports_an_unknown_outcome_and_charged_at_most_once() {
    let h = Harness::start().await;
    h.fake.inject(Fault::DropAfterProcessing, 10);
    let text = h.buy_refused().await;
    assert!(
        text.contains("UNKNOWN") && text.contains("list_orders"),
        "{text}"
    );
    assert!(text.contains("after 4 attempt"), "{text}");
    assert_eq!(h.fake.order_count(), 1, "four attempts, one order");
    assert_eq!(h.fake.charge_count(), 1, "four attempts, one charge");
    h.fake.inject(Fault::DropAfterProcessing, 0);
}

#[tokio::test]
async fn a_post_slower_than_the_timeout_is_retried_with_its_key() {
    let h = Harness::with(fake_options(), |c| {
        c.http.request_timeout = Duration::from_millis(300)
    })
    .await;
    h.fake.inject(Fault::Delay(Duration::from_millis(600)), 1);
    h.buy().await;
    // Let the slow first attempt finish on the fake's side too.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.fake.order_count(), 1);
    assert_eq!(h.fake.charge_count(), 1);
}

#[tokio::test]
async fn lifecycle_posts_retry_with_their_key_too() {
    let h = Harness::start().await;
    let id = h.order().await;
    h.fake.inject(Fault::DropAfterProcessing, 1);
    let cancelled = h.ok("cancel_order", json!({"order_id": id})).await;
    assert_eq!(cancelled["status"], "cancelled");
    let refunds = h.ok("list_transactions", json!({"limit": 100})).await["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["type"] == "refund")
        .count();
    assert_eq!(refunds, 1, "refunded once");
}

#[tokio::test]
async fn separate_calls_use_separate_keys() {
    let h = Harness::start().await;
    h.order().await;
    h.order().await;
    let keys = post_keys(&h);
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1]);
    assert_eq!(h.fake.order_count(), 2);
}

#[tokio::test]
async fn a_get_dropped_mid_flight_is_retried() {
    let h = Harness::start().await;
    h.fake.inject(Fault::DropBeforeProcessing, 1);
    h.ok("get_balance", json!({})).await;
    h.fake.inject(Fault::DropAfterProcessing, 1);
    h.ok("get_balance", json!({})).await;
    assert_eq!(h.requests().len(), 4);
}
