//! The spending guard: VIRTUALSMS_MAX_ORDER_PRICE caps one order, VIRTUALSMS_SPEND_LIMIT caps
//! what this process spends in total (results show what is left), VIRTUALSMS_READ_ONLY hides
//! and refuses every tool that spends or changes anything. Refusals happen before money moves.

use crate::common::{fake_options, Harness};
use rmcp::model::CallToolRequestParams;
use serde_json::json;

async fn price(h: &Harness, service: &str, country: &str) -> f64 {
    h.ok(
        "find_cheapest",
        json!({"service": service, "country": country}),
    )
    .await["price"]
        .as_f64()
        .unwrap()
}

#[tokio::test]
async fn max_order_price_refuses_dearer_orders() {
    let probe = Harness::start().await;
    let us = price(&probe, "telegram", "us").await;
    let h = Harness::with(fake_options(), |c| {
        c.guard.max_order_price = Some(us - 0.01)
    })
    .await;
    let text = h.buy_refused().await;
    assert!(
        text.contains("Refused") && text.contains("VIRTUALSMS_MAX_ORDER_PRICE"),
        "{text}"
    );
    assert_eq!(h.fake.order_count(), 0);

    let h = Harness::with(fake_options(), |c| c.guard.max_order_price = Some(us)).await;
    h.buy().await;
    assert_eq!(h.fake.order_count(), 1);
}

#[tokio::test]
async fn spend_limit_counts_charges_refunds_nothing_and_refuses_beyond() {
    let probe = Harness::start().await;
    let us = price(&probe, "telegram", "us").await;
    let limit = us * 2.5;
    let h = Harness::with(fake_options(), |c| c.guard.spend_limit = Some(limit)).await;

    let first = h.buy().await;
    let left = first["budget_left"].as_f64().unwrap();
    assert!((left - (limit - us)).abs() < 1e-6, "budget left {left}");
    h.buy().await;

    let text = h.buy_refused().await;
    assert!(
        text.contains("VIRTUALSMS_SPEND_LIMIT") && text.contains("left"),
        "{text}"
    );
    assert_eq!(h.fake.order_count(), 2, "the third order was never sent");
}

#[tokio::test]
async fn spend_limit_also_guards_rental_extensions() {
    let h = Harness::with(fake_options(), |c| c.guard.spend_limit = Some(1_000.0)).await;
    let rental = h.rental(4).await;
    let left_after_order = rental["budget_left"].as_f64().unwrap();
    let extended = h
        .ok(
            "extend_rental",
            json!({"order_id": rental["order_id"], "hours": 4}),
        )
        .await;
    let left_after_extend = extended["budget_left"].as_f64().unwrap();
    assert!(
        left_after_extend < left_after_order,
        "{left_after_order} → {left_after_extend}"
    );
    let charged = extended["price"].as_f64().unwrap();
    assert!(
        (left_after_order - left_after_extend - charged).abs() < 1e-6,
        "settled to the charged amount"
    );
}

#[tokio::test]
async fn read_only_hides_and_refuses_everything_that_spends_or_changes() {
    let h = Harness::with(fake_options(), |c| c.guard.read_only = true).await;
    let mut names: Vec<&str> = h.tools().iter().map(|t| t.name.as_ref()).collect();
    names.sort();
    for hidden in [
        "create_order",
        "extend_rental",
        "swap_order",
        "cancel_order",
        "confirm_order",
        "release_rental",
    ] {
        assert!(
            !names.contains(&hidden),
            "{hidden} is listed in read-only mode"
        );
    }
    assert_eq!(names.len(), 12);
    assert!(names.contains(&"wait_for_sms") && names.contains(&"get_balance"));

    let refused = h
        .client
        .call_tool(
            CallToolRequestParams::new("create_order").with_arguments(
                json!({"service": "telegram", "country": "us"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await;
    assert!(
        refused.is_err(),
        "an unlisted tool cannot be called: {refused:?}"
    );
    assert_eq!(h.fake.order_count(), 0);
    h.ok("get_balance", json!({})).await;
}
