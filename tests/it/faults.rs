//! Fault injection against the fake API: answers slower than the timeouts, 5xx bursts on POSTs,
//! mislabelled and oversized bodies, every form of Retry-After, and a 401 in the middle of a
//! session. For each: a clear `isError` (or a correct result), the server keeps serving, and the
//! fake's ledger shows that nothing that may have charged was repeated without its key.

use std::time::{Duration, Instant, SystemTime};

use crate::common::{fake_options, Harness};
use serde_json::json;
use virtualsms_mcp::sandbox::Fault;

fn rate_limited(retry_after: &str) -> Fault {
    Fault::Problem {
        status: 429,
        slug: "rate-limited".into(),
        retry_after: Some(retry_after.into()),
    }
}

async fn fast_timeouts() -> Harness {
    Harness::with(fake_options(), |c| {
        c.http.request_timeout = Duration::from_millis(300)
    })
    .await
}

#[tokio::test]
async fn a_get_slower_than_the_timeout_is_retried_then_reported() {
    let h = fast_timeouts().await;
    h.fake.inject(Fault::Delay(Duration::from_millis(800)), 1);
    h.ok("get_balance", json!({})).await;
    assert_eq!(h.requests().len(), 2, "the slow attempt was retried");

    h.fake.inject(Fault::Delay(Duration::from_millis(800)), 4);
    let text = h.err("get_balance", json!({})).await;
    assert!(
        text.contains("did not answer in time after 4 attempt"),
        "{text}"
    );
    assert!(text.contains("safe to repeat"), "a read: {text}");
    h.ok("get_balance", json!({})).await;
}

#[tokio::test]
async fn a_post_that_always_times_out_is_unknown_and_charged_at_most_once() {
    let h = fast_timeouts().await;
    h.fake.inject(Fault::Delay(Duration::from_millis(800)), 4);
    let text = h.buy_refused().await;
    assert!(
        text.contains("UNKNOWN") && text.contains("list_orders"),
        "{text}"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await; // let the slow attempts finish
    assert!(
        h.fake.order_count() <= 1,
        "orders: {}",
        h.fake.order_count()
    );
    assert!(
        h.fake.charge_count() <= 1,
        "charges: {}",
        h.fake.charge_count()
    );
    let keys: Vec<_> = h
        .requests()
        .iter()
        .filter_map(|r| r.header("idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(keys.len(), 4);
    assert!(
        keys.iter().all(|k| *k == keys[0]),
        "one key for every attempt"
    );
}

#[tokio::test]
async fn a_5xx_burst_on_a_post_is_retried_with_the_same_key() {
    let h = Harness::start().await;
    h.fake.inject(Fault::Empty { status: 503 }, 1);
    h.fake.inject(Fault::Html { status: 502 }, 1);
    h.buy().await;
    assert_eq!(h.fake.order_count(), 1);
    assert_eq!(h.fake.charge_count(), 1);
    let keys: Vec<_> = h
        .requests()
        .iter()
        .filter_map(|r| r.header("idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| *k == keys[0]));
}

#[tokio::test]
async fn a_mislabelled_body_is_accepted_only_when_it_is_the_expected_json() {
    let h = Harness::start().await;
    // Valid balance JSON served as text/plain: proxies mislabel; the data is what counts.
    h.fake.inject(Fault::WrongContentType, 1);
    let balance = h.ok("get_balance", json!({})).await;
    assert_eq!(balance["balance"].as_f64(), Some(10.0));
    // The same body where an order is expected: a clear error, not a made-up order.
    h.fake.inject(Fault::WrongContentType, 1);
    let text = h.err("get_order", json!({"order_id": "ord_1"})).await;
    assert!(text.contains("not the expected JSON"), "{text}");
    // An HTML page with 200.
    h.fake.inject(Fault::Html { status: 200 }, 1);
    let text = h.err("get_profile", json!({})).await;
    assert!(
        text.contains("HTTP 200") && text.contains("not the expected JSON"),
        "{text}"
    );
    h.ok("get_profile", json!({})).await;
}

#[tokio::test]
async fn a_huge_body_is_refused_without_being_read() {
    let h = Harness::start().await;
    h.fake.inject(
        Fault::Huge {
            bytes: 9 * 1024 * 1024,
        },
        1,
    );
    let text = h.err("list_countries", json!({})).await;
    assert!(
        text.contains("exceeded 8388608 bytes") && text.contains("smaller `limit`"),
        "{text}"
    );
    assert_eq!(h.requests().len(), 1, "not retried");
    h.ok("list_countries", json!({})).await;
}

#[tokio::test]
async fn a_body_under_the_bound_is_read() {
    let h = Harness::with(fake_options(), |c| c.http.max_body_bytes = 64 * 1024).await;
    h.fake.inject(Fault::Huge { bytes: 60 * 1024 }, 1);
    // A valid JSON array, but not a country list: a decode error proves it was read in full.
    let text = h.err("list_countries", json!({})).await;
    assert!(text.contains("not the expected JSON"), "{text}");
}

#[tokio::test]
async fn retry_after_in_every_form() {
    let h = Harness::start().await;

    h.fake.inject(rate_limited("-5"), 1);
    let started = Instant::now();
    h.ok("get_balance", json!({})).await;
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "negative means now"
    );

    let in_two_seconds = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    h.fake.inject(rate_limited(&in_two_seconds), 1);
    let started = Instant::now();
    h.ok("get_balance", json!({})).await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "an HTTP date is waited for: {:?}",
        started.elapsed()
    );

    h.fake.inject(rate_limited("86400"), 1);
    let text = h.err("get_balance", json!({})).await;
    assert!(
        text.contains("wait 86400 s"),
        "huge: reported, not slept: {text}"
    );

    h.fake.inject(rate_limited("soon"), 1);
    h.ok("get_balance", json!({})).await; // unparseable: a short default wait, then retried
}

#[tokio::test]
async fn a_401_in_the_middle_of_a_session() {
    let h = Harness::start().await;
    let id = h.order().await;
    h.fake.inject(Fault::problem(401, "unauthorized"), 1);
    let text = h.err("get_order", json!({"order_id": id})).await;
    assert!(
        text.contains("HTTP 401 unauthorized") && text.contains("VIRTUALSMS_API_KEY"),
        "{text}"
    );
    let again = h.ok("get_order", json!({"order_id": id})).await;
    assert_eq!(again["status"], "waiting");
    assert_eq!(h.fake.order_count(), 1);
}
