//! The four account tools: one authenticated GET each, the answer passed through as structured
//! content, and list_transactions paging the ledger.

use crate::common::{assert_call, query_pairs, Harness};
use serde_json::json;

#[tokio::test]
async fn balance_profile_and_stats_read_the_account() {
    let h = Harness::start().await;
    let balance = h.ok("get_balance", json!({})).await;
    assert_call(&h.last_request(), "GET", "/me/balance");
    assert_eq!(
        balance["balance"].as_f64(),
        Some(100.0),
        "the test accounts start with $100"
    );
    assert_eq!(balance["currency"], "USD");

    let profile = h.ok("get_profile", json!({})).await;
    assert_call(&h.last_request(), "GET", "/me");
    assert!(profile["email"].as_str().unwrap().contains('@'));
    assert!(profile["plan"].is_string());

    h.order().await;
    let stats = h.ok("get_stats", json!({})).await;
    assert_call(&h.last_request(), "GET", "/me/stats");
    assert_eq!(stats["lifetime_orders"], 1);
    assert!(stats["lifetime_spend"].as_f64().unwrap() > 0.0);

    let after = h.ok("get_balance", json!({})).await;
    assert!(
        after["balance"].as_f64() < balance["balance"].as_f64(),
        "the order was charged"
    );
}

#[tokio::test]
async fn list_transactions_pages_the_ledger() {
    let h = Harness::start().await;
    h.order().await;
    let id = h.order().await;
    h.ok("cancel_order", json!({"order_id": id})).await;

    let page = h.ok("list_transactions", json!({"limit": 2})).await;
    let req = h.last_request();
    assert_call(&req, "GET", "/me/transactions");
    assert_eq!(query_pairs(&req), ["limit=2", "offset=0"]);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(page["data"][0]["type"], "refund", "newest first");
    assert_eq!(page["has_more"], true);

    let rest = h
        .ok("list_transactions", json!({"limit": 100, "offset": 2}))
        .await;
    let kinds: Vec<&str> = rest["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"charge") && kinds.contains(&"deposit"),
        "{kinds:?}"
    );

    let text = h.err("list_transactions", json!({"limit": 0})).await;
    assert!(text.contains("`limit`"), "{text}");
}
