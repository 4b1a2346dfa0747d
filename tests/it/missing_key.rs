//! Without VIRTUALSMS_API_KEY the server still starts and lists its tools, the five discovery
//! tools work, and every other tool answers with an `isError` that says how to set the key —
//! without sending the request at all.

use crate::common::{fake_options, Harness};
use serde_json::json;

#[tokio::test]
async fn discovery_works_without_a_key_and_the_rest_says_how_to_set_one() {
    let h = Harness::with(fake_options(), |c| c.api_key = None).await;
    assert_eq!(h.tools().len(), 18);

    h.ok("list_services", json!({"query": "tele"})).await;
    h.ok("list_countries", json!({})).await;
    h.ok("find_cheapest", json!({"service": "telegram"})).await;
    h.ok("country_pricing", json!({"country": "us"})).await;
    h.ok("service_availability", json!({"service": "telegram"}))
        .await;
    assert!(
        h.requests()
            .iter()
            .all(|r| r.header("authorization").is_none()),
        "no bearer without a key"
    );
    let seen = h.requests().len();

    let calls = [
        ("get_balance", json!({})),
        ("get_profile", json!({})),
        ("get_stats", json!({})),
        ("list_transactions", json!({})),
        (
            "create_order",
            json!({"service": "telegram", "country": "us"}),
        ),
        ("get_order", json!({"order_id": "ord_1"})),
        ("list_orders", json!({})),
        ("wait_for_sms", json!({"order_id": "ord_1"})),
        ("swap_order", json!({"order_id": "ord_1"})),
        ("cancel_order", json!({"order_id": "ord_1"})),
        ("confirm_order", json!({"order_id": "ord_1"})),
        ("extend_rental", json!({"order_id": "ord_1", "hours": 2})),
        ("release_rental", json!({"order_id": "ord_1"})),
    ];
    for (tool, args) in calls {
        let text = h.err(tool, args).await;
        assert!(
            text.contains("VIRTUALSMS_API_KEY") && text.contains("claude mcp add"),
            "{tool}: {text}"
        );
        assert!(text.contains("--sandbox"), "{tool}: {text}");
    }
    assert_eq!(h.requests().len(), seen, "nothing was sent without a key");
}
