//! Upstream failures become `isError` results that state the HTTP status, problem type and
//! detail plus the next step — and the server keeps serving. Covers every row of the contract's
//! error table, non-JSON bodies, and which failures are retried (5xx on GETs, 429 after
//! Retry-After) and which are not (other 4xx, no-stock).

use std::time::{Duration, Instant};

use crate::common::{fake_options, Harness};
use serde_json::json;
use virtualsms_mcp::sandbox::Fault;

fn problem(status: u16, slug: &str) -> Fault {
    Fault::Problem {
        status,
        slug: slug.to_owned(),
        retry_after: None,
    }
}

#[tokio::test]
async fn every_contract_error_row_reaches_the_model_and_the_next_call_works() {
    let h = Harness::start().await;
    let rows = [
        (400, "validation", "fix the arguments"),
        (401, "unauthorized", "VIRTUALSMS_API_KEY"),
        (402, "insufficient-balance", "top up"),
        (404, "service-not-found", "list_services"),
        (404, "country-not-found", "list_countries"),
        (404, "order-not-found", "list_orders"),
        (409, "order-already-confirmed", "nothing to swap or cancel"),
        (410, "order-expired", "create_order"),
        (503, "no-stock", "service_availability"),
    ];
    for (status, slug, advice) in rows {
        h.fake.clear_requests();
        h.fake.inject(problem(status, slug), 1);
        let text = h.err("get_balance", json!({})).await;
        assert!(
            text.contains(&format!("HTTP {status} {slug}")),
            "{slug}: {text}"
        );
        assert!(
            text.contains("Next step:") && text.contains(advice),
            "{slug}: {text}"
        );
        assert_eq!(h.requests().len(), 1, "{slug} is not retried");
        // The server is unharmed: the very next call works.
        h.ok("get_balance", json!({})).await;
    }
}

#[tokio::test]
async fn problem_detail_from_the_api_is_shown_verbatim() {
    let h = Harness::with(
        virtualsms_mcp::sandbox::FakeOptions {
            starting_balance_cents: 5,
            ..fake_options()
        },
        |_| {},
    )
    .await;
    let text = h.buy_refused().await;
    assert!(
        text.contains(
            "HTTP 402 insufficient-balance — Insufficient balance: Balance $0.05 < required $"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn html_502_from_a_proxy_is_a_clear_error_after_retries() {
    let h = Harness::start().await;
    h.fake.inject(Fault::Html { status: 502 }, 10);
    let text = h.err("get_profile", json!({})).await;
    assert!(text.contains("HTTP 502") && text.contains("HTML"), "{text}");
    assert!(text.contains("after 4 attempts"), "{text}");
    assert!(text.len() < 1500, "an excerpt, not the whole page");
    assert_eq!(h.requests().len(), 4, "a GET is retried 3 times on 5xx");
    h.fake.inject(Fault::Html { status: 502 }, 0);
}

#[tokio::test]
async fn a_gets_5xx_burst_is_retried_away() {
    let h = Harness::start().await;
    h.fake.inject(Fault::Empty { status: 500 }, 2);
    let balance = h.ok("get_balance", json!({})).await;
    assert!(balance["balance"].is_number());
    assert_eq!(h.requests().len(), 3);
}

#[tokio::test]
async fn empty_error_body_still_says_the_status() {
    let h = Harness::start().await;
    h.fake.inject(Fault::Empty { status: 418 }, 1);
    let text = h.err("get_stats", json!({})).await;
    assert!(
        text.contains("HTTP 418") && text.contains("empty body"),
        "{text}"
    );
}

#[tokio::test]
async fn rate_limited_waits_retry_after_then_succeeds() {
    let h = Harness::start().await;
    h.fake.inject(
        Fault::Problem {
            status: 429,
            slug: "rate-limited".into(),
            retry_after: Some("1".into()),
        },
        1,
    );
    let started = Instant::now();
    h.ok("get_balance", json!({})).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited Retry-After: {:?}",
        started.elapsed()
    );
    assert_eq!(h.requests().len(), 2);
}

#[tokio::test]
async fn retry_after_longer_than_the_cap_is_reported_not_slept() {
    let h = Harness::start().await; // test cap: 5 s
    h.fake.inject(
        Fault::Problem {
            status: 429,
            slug: "rate-limited".into(),
            retry_after: Some("120".into()),
        },
        1,
    );
    let started = Instant::now();
    let text = h.err("get_balance", json!({})).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        text.contains("HTTP 429 rate-limited") && text.contains("wait 120 s"),
        "{text}"
    );
}

#[tokio::test]
async fn the_fakes_real_rate_limit_is_reported_with_its_wait_and_not_hammered() {
    let h = Harness::start().await;
    h.fake.set_rate_limit(3);
    for _ in 0..3 {
        h.ok("get_balance", json!({})).await;
    }
    let text = h.err("get_balance", json!({})).await;
    assert!(
        text.contains("HTTP 429 rate-limited") && text.contains("before calling again"),
        "{text}"
    );
    assert_eq!(
        h.requests().len(),
        4,
        "a Retry-After over the cap is not retried"
    );
}

#[tokio::test]
async fn no_stock_is_not_retried() {
    let h = Harness::start().await;
    h.fake.inject(problem(503, "no-stock"), 5);
    let text = h.err("find_cheapest", json!({"service": "telegram"})).await;
    assert!(text.contains("no-stock"), "{text}");
    assert_eq!(h.requests().len(), 1);
}

#[tokio::test]
async fn malformed_json_on_200_is_a_clear_error() {
    let h = Harness::start().await;
    h.fake.inject(Fault::MalformedJson, 1);
    let text = h.err("get_balance", json!({})).await;
    assert!(
        text.contains("HTTP 200") && text.contains("not the expected JSON"),
        "{text}"
    );
    h.ok("get_balance", json!({})).await;
}

#[tokio::test]
async fn connection_refused_says_nothing_changed() {
    let h = Harness::with(fake_options(), |c| {
        c.base_url = "http://127.0.0.1:9/api/v2".into()
    })
    .await;
    let text = h.err("get_balance", json!({})).await;
    assert!(
        text.contains("could not connect") && text.contains("VIRTUALSMS_BASE_URL"),
        "{text}"
    );
}
