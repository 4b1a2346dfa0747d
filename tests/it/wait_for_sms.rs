//! wait_for_sms: long-polls until a new message arrives (returning the code, text, sender and
//! all messages), reports a timeout as a normal result with next steps, says when the order
//! ended, reports progress while waiting, caps rounds at 180 s, never returns the same message
//! twice, and closes the in-flight long-poll when the client cancels.

use std::time::Duration;

use crate::common::{query_pairs, Harness};
use rmcp::model::{CallToolRequestParams, ClientRequest, Request};
use rmcp::service::PeerRequestOptions;
use serde_json::json;

/// Delivers an SMS to `order_id` after `delay`, while the test is waiting.
/// Waits until the fake holds `n` long-polls open (or panics after 5 s).
async fn until_open_long_polls(h: &Harness, n: usize) {
    for _ in 0..500 {
        if h.fake.open_long_polls() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "open long-polls stayed at {} (wanted {n})",
        h.fake.open_long_polls()
    );
}

#[tokio::test]
async fn returns_the_code_as_soon_as_the_sms_arrives() {
    let h = Harness::start().await;
    let id = h.order().await;
    h.deliver_later(
        &id,
        "Your Telegram code: 48213. Do not give it to anyone.",
        Duration::from_millis(300),
    );
    let started = std::time::Instant::now();
    let got = h.wait_sms(&id, 30).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "woke on arrival, not at the timeout"
    );
    assert_eq!(got["outcome"], "received");
    assert_eq!(got["timed_out"], false);
    assert_eq!(got["code"], "48213");
    assert!(got["text"].as_str().unwrap().contains("48213"));
    assert_eq!(got["status"], "received");
    assert_eq!(got["messages"].as_array().unwrap().len(), 1);
    assert!(got["next_step"].as_str().unwrap().contains("confirm_order"));

    let req = h
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/sms"))
        .unwrap();
    assert_eq!(req.method, "GET");
    assert_eq!(req.path, format!("/api/v2/orders/{id}/sms"));
    assert_eq!(query_pairs(&req), ["timeout=30"], "first wait: no since");
}

#[tokio::test]
async fn the_next_wait_returns_only_newer_messages() {
    let h = Harness::start().await;
    let rental = h.rental(4).await;
    let id = rental["order_id"].as_str().unwrap().to_owned();
    h.fake.deliver_sms(&id, Some("code 111111")).unwrap();
    let first = h.wait_sms(&id, 5).await;
    assert_eq!(first["code"], "111111");
    let first_id = first["message_id"].as_str().unwrap().to_owned();

    h.deliver_later(&id, "code 222222", Duration::from_millis(300));
    let second = h.wait_sms(&id, 10).await;
    assert_eq!(second["code"], "222222", "not the old code again");
    assert_eq!(second["messages"].as_array().unwrap().len(), 2);
    let poll = h
        .requests()
        .into_iter()
        .rfind(|r| r.path.ends_with("/sms"))
        .unwrap();
    assert!(
        query_pairs(&poll).contains(&format!("since={first_id}")),
        "{poll:?}"
    );

    // An explicit `since` overrides what the server remembers.
    let again = h
        .ok(
            "wait_for_sms",
            json!({"order_id": id, "timeout_seconds": 5, "since": first_id}),
        )
        .await;
    assert_eq!(again["code"], "222222");
}

#[tokio::test]
async fn a_timeout_is_a_normal_result_with_next_steps_and_progress_on_the_way() {
    let h = Harness::start().await;
    let id = h.order().await;
    // `timeout` is accepted as another name for `timeout_seconds`.
    let got = h
        .ok("wait_for_sms", json!({"order_id": id, "timeout": 5}))
        .await;
    assert_eq!(got["outcome"], "timed_out");
    assert_eq!(got["timed_out"], true);
    assert_eq!(got["order_id"], id.as_str());
    let next = got["next_step"].as_str().unwrap();
    assert!(
        next.contains("swap_order") && next.contains("cancel_order") && next.contains("free"),
        "{next}"
    );

    let progress = h.recorder.progress.lock().unwrap().clone();
    assert!(
        progress.len() >= 10,
        "progress every 200 ms over 5 s: {}",
        progress.len()
    );
    assert!(progress.iter().all(|p| p.total == Some(5.0)));
    assert!(
        progress.windows(2).all(|w| w[0].progress <= w[1].progress),
        "monotonic"
    );
    assert!(progress[0].message.as_deref().unwrap().contains("left"));
}

#[tokio::test]
async fn timeout_outside_5_to_900_is_refused_by_name() {
    let h = Harness::start().await;
    for bad in [4, 901] {
        let text = h
            .err(
                "wait_for_sms",
                json!({"order_id": "ord_x", "timeout_seconds": bad}),
            )
            .await;
        assert!(
            text.contains("`timeout_seconds`") && text.contains(&bad.to_string()),
            "{text}"
        );
    }
    assert!(h.requests().is_empty());
}

#[tokio::test]
async fn an_order_that_ends_while_waiting_is_reported() {
    let h = Harness::start().await;
    let id = h.order().await;
    let fake = h.fake.clone();
    let expire_id = id.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        fake.expire_order(&expire_id).unwrap();
    });
    let got = h.wait_sms(&id, 30).await;
    assert_eq!(got["outcome"], "order_ended");
    assert_eq!(got["status"], "expired");
    assert!(got["next_step"].as_str().unwrap().contains("create_order"));
}

#[tokio::test]
async fn long_waits_poll_in_rounds_of_at_most_180_seconds_and_cancel_closes_the_poll() {
    let h = Harness::start().await;
    let id = h.order().await;
    let request = ClientRequest::CallToolRequest(Request::new(
        CallToolRequestParams::new("wait_for_sms").with_arguments(
            json!({"order_id": id, "timeout_seconds": 900})
                .as_object()
                .unwrap()
                .clone(),
        ),
    ));
    let handle = h
        .client
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .unwrap();
    until_open_long_polls(&h, 1).await;
    let poll = h
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/sms"))
        .unwrap();
    assert_eq!(
        query_pairs(&poll),
        ["timeout=180"],
        "one round is capped at 180 s"
    );

    handle.cancel(Some("user gave up".into())).await.unwrap();
    until_open_long_polls(&h, 0).await;

    // The server is still fine after the cancellation.
    h.ok("get_order", json!({"order_id": id})).await;
}

#[tokio::test]
async fn unknown_order_is_an_error_not_a_wait() {
    let h = Harness::start().await;
    let text = h
        .err(
            "wait_for_sms",
            json!({"order_id": "ord_nope", "timeout_seconds": 30}),
        )
        .await;
    assert!(
        text.contains("HTTP 404") && text.contains("order-not-found"),
        "{text}"
    );
}
