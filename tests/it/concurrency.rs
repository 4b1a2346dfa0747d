//! One server, 100 wait_for_sms long-polls at once (each on its own order), and the rest of the
//! tools still answer promptly; SMS that arrive release exactly their waits with their codes;
//! cancelling the others closes every held long-poll on the API side.

use std::time::{Duration, Instant};

use crate::common::{fake_options, Harness};
use rmcp::model::{CallToolRequestParams, ClientRequest, Request, ServerResult};
use rmcp::service::{PeerRequestOptions, RequestHandle};
use rmcp::RoleClient;
use serde_json::json;
use virtualsms_mcp::sandbox::FakeOptions;

const WAITS: usize = 100;
/// How long any other call may take while the 100 long-polls are held.
const PROMPT: Duration = Duration::from_millis(500);

/// Waits until the fake holds `n` long-polls open, or fails after `limit`.
async fn until_open_long_polls(h: &Harness, n: usize, limit: Duration) -> Duration {
    let started = Instant::now();
    while started.elapsed() < limit {
        if h.fake.open_long_polls() == n {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "open long-polls stayed at {} (wanted {n}) for {limit:?}",
        h.fake.open_long_polls()
    );
}

fn wait_request(order_id: &str) -> ClientRequest {
    ClientRequest::CallToolRequest(Request::new(
        CallToolRequestParams::new("wait_for_sms").with_arguments(
            json!({"order_id": order_id, "timeout_seconds": 900})
                .as_object()
                .expect("an object")
                .clone(),
        ),
    ))
}

/// Times one call that must succeed, and fails it if it is not prompt.
async fn prompt(h: &Harness, tool: &str, args: serde_json::Value) -> Duration {
    let started = Instant::now();
    h.ok(tool, args).await;
    let took = started.elapsed();
    assert!(
        took < PROMPT,
        "{tool} took {took:?} while {WAITS} long-polls were held"
    );
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_long_polls_do_not_hold_up_other_calls_and_cancel_cleanly() {
    let h = Harness::with(
        FakeOptions {
            starting_balance_cents: 1_000_000,
            ..fake_options()
        },
        |_| {},
    )
    .await;
    let mut orders = Vec::with_capacity(WAITS);
    for _ in 0..WAITS {
        orders.push(h.order().await);
    }

    let mut waits: Vec<Option<RequestHandle<RoleClient>>> = Vec::with_capacity(WAITS);
    for id in &orders {
        let handle = h
            .client
            .send_cancellable_request(wait_request(id), PeerRequestOptions::no_options())
            .await
            .expect("send wait_for_sms");
        waits.push(Some(handle));
    }
    let took = until_open_long_polls(&h, WAITS, Duration::from_secs(10)).await;
    eprintln!("{WAITS} long-polls open {took:?} after the last request was sent");

    // Everything else keeps being answered while the 100 are held.
    let mut slowest = Duration::ZERO;
    for round in 0..10 {
        slowest = slowest.max(prompt(&h, "get_balance", json!({})).await);
        slowest = slowest.max(prompt(&h, "list_services", json!({"query": "tele"})).await);
        slowest =
            slowest.max(prompt(&h, "get_order", json!({"order_id": orders[round * 7]})).await);
        assert_eq!(h.fake.open_long_polls(), WAITS, "the waits are still held");
    }
    // ... also when they come in a burst.
    let started = Instant::now();
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..20 {
        let peer = h.client.peer().clone();
        let tool = ["get_balance", "list_countries", "get_stats", "list_orders"][i % 4];
        burst.spawn(async move { peer.call_tool(CallToolRequestParams::new(tool)).await });
    }
    while let Some(joined) = burst.join_next().await {
        let result = joined.expect("no panic").expect("a tool result");
        assert_ne!(result.is_error, Some(true), "{result:?}");
    }
    let burst_took = started.elapsed();
    assert!(
        burst_took < PROMPT * 2,
        "20 concurrent calls took {burst_took:?}"
    );
    eprintln!(
        "with {WAITS} long-polls held: slowest single call {slowest:?}, 20 concurrent calls {burst_took:?}"
    );

    // SMS for five orders: exactly those five waits return, each with its own code.
    let delivered = [3_usize, 17, 42, 64, 99];
    for (n, &i) in delivered.iter().enumerate() {
        let code = format!("{}", 700_000 + n * 1111);
        h.fake
            .deliver_sms(&orders[i], Some(&format!("Your code is {code}")))
            .expect("deliver");
    }
    for (n, &i) in delivered.iter().enumerate() {
        let handle = waits[i].take().expect("a pending wait");
        let response = tokio::time::timeout(Duration::from_secs(5), handle.await_response())
            .await
            .unwrap_or_else(|_| panic!("the wait on {} did not return", orders[i]))
            .expect("a response");
        let ServerResult::CallToolResult(result) = response else {
            panic!("not a tool result: {response:?}");
        };
        assert_ne!(result.is_error, Some(true), "{result:?}");
        let got = result.structured_content.expect("structured content");
        assert_eq!(got["outcome"], "received", "{got}");
        assert_eq!(got["order_id"], orders[i].as_str(), "{got}");
        assert_eq!(got["code"], format!("{}", 700_000 + n * 1111), "{got}");
    }
    until_open_long_polls(&h, WAITS - delivered.len(), Duration::from_secs(2)).await;

    // Cancel the rest: every held long-poll on the API side closes.
    let started = Instant::now();
    for handle in waits.iter_mut().filter_map(Option::take) {
        handle
            .cancel(Some("test is done".into()))
            .await
            .expect("send the cancellation");
    }
    let took = until_open_long_polls(&h, 0, Duration::from_secs(3)).await;
    eprintln!(
        "{} cancellations released every long-poll in {:?}",
        WAITS - delivered.len(),
        started.elapsed().max(took)
    );

    // The server is unharmed.
    prompt(&h, "get_balance", json!({})).await;
    let polls = h
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/sms"))
        .count();
    assert!(
        (WAITS..=WAITS + delivered.len()).contains(&polls),
        "one long-poll per wait (plus at most one after each delivery): {polls}"
    );
}
