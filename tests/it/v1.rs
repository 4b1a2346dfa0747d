//! VirtualSMS REST v1, the live API, through a real MCP client against the fake's v1 dialect.
//!
//! Rules pinned down here:
//! - the key travels as `X-API-Key`, never `Authorization`;
//! - service names become v1 codes and countries go upper case on the wire; an unknown name is
//!   refused with the closest names, before anything is bought;
//! - a purchase is sent once, whatever happens to its answer (dropped before or after the
//!   server processed it, a 5xx, a timeout): exactly one order and one charge when it went
//!   through, reported as found in the history; "nothing was bought" when it did not;
//! - cancel and swap inside the 120 s cooldown are refused with the seconds left and no POST; a
//!   425 from the server says when to call again; no retry loop;
//! - list_orders pages locally with an honest `has_more` and no `total`;
//! - rentals: ids `rental:<id>`; release outside the full-refund window needs
//!   VIRTUALSMS_ENABLE_RELEASE; a rental's SMS is reported without a text it cannot have;
//! - each row of the contract's error table (§5) becomes a next step;
//! - the key never leaks, even when the API echoes the X-API-Key header back;
//! - `auto` finds v1 or v2 at an origin with one probe on first use, none at start-up;
//! - a further SMS on a received activation is found in its detail (the history cannot show it);
//! - a hundred concurrent waits share one poller: the request rate stays within the budget.

use std::time::Duration;

use serde_json::{json, Value};
use virtualsms_mcp::config::ApiVersion;
use virtualsms_mcp::sandbox::{FakeOptions, Fault, RecordedRequest};

use crate::common::{fake_options, Dialect, Harness, KEY};

async fn v1() -> Harness {
    Harness::on(Dialect::V1).await
}

async fn v1_with(
    fake: FakeOptions,
    edit: impl FnOnce(&mut virtualsms_mcp::config::Config),
) -> Harness {
    Harness::speaking(Dialect::V1, fake, edit).await
}

fn purchases(h: &Harness) -> Vec<RecordedRequest> {
    h.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/api/v1/customer/purchase")
        .collect()
}

fn posts_to(h: &Harness, fragment: &str) -> usize {
    h.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains(fragment))
        .count()
}

/// How many of `requests` read the order history (C3) and an order's detail (C2).
fn history_and_details(requests: &[RecordedRequest]) -> (usize, usize) {
    let count = |wanted: fn(&str) -> bool| requests.iter().filter(|r| wanted(&r.path)).count();
    (
        count(|path| path == "/api/v1/customer/orders"),
        count(|path| path.starts_with("/api/v1/customer/order/")),
    )
}

/// Loads the service catalog, so the next request the server sends is the purchase itself.
async fn warm(h: &Harness) {
    h.ok("list_services", json!({"limit": 1})).await;
}

#[tokio::test]
async fn every_request_carries_x_api_key_and_never_authorization() {
    let h = v1().await;
    h.order().await;
    h.ok("get_balance", json!({})).await;
    let requests = h.requests();
    assert!(requests.len() >= 3);
    for r in requests {
        assert_eq!(r.header("x-api-key"), Some(KEY), "{r:?}");
        assert_eq!(r.header("authorization"), None, "{r:?}");
        assert!(r.path.starts_with("/api/v1/"), "{r:?}");
    }
}

#[tokio::test]
async fn names_become_codes_and_countries_go_upper_case_on_the_wire() {
    let h = v1().await;
    let order = h
        .ok(
            "create_order",
            json!({"service": "Telegram", "country": "us"}),
        )
        .await;
    let sent: Value = serde_json::from_str(&purchases(&h)[0].body).unwrap();
    assert_eq!(sent, json!({"service": "tg", "country": "US"}));
    assert_eq!(order["service"], "tg");
    assert_eq!(order["country"], "us");
}

#[tokio::test]
async fn an_unknown_service_names_the_closest_and_buys_nothing() {
    let h = v1().await;
    let text = h
        .err(
            "create_order",
            json!({"service": "telegrma", "country": "us"}),
        )
        .await;
    assert!(
        text.contains("`service`") && text.contains("Telegram"),
        "{text}"
    );
    assert!(purchases(&h).is_empty());
}

#[tokio::test]
async fn a_purchase_whose_answer_is_dropped_is_found_not_repeated() {
    let h = v1().await;
    warm(&h).await;
    h.fake.inject(Fault::DropAfterProcessing, 1);
    let order = h.buy().await;
    assert_eq!(purchases(&h).len(), 1, "sent once");
    assert_eq!(h.fake.order_count(), 1);
    assert_eq!(h.fake.charge_count(), 1);
    let note = order["note"].as_str().expect("how it was found");
    assert!(note.contains("order history"), "{note}");
    let read = h
        .ok("get_order", json!({"order_id": order["order_id"]}))
        .await;
    assert_eq!(read["phone_number"], order["phone_number"]);
}

#[tokio::test]
async fn a_purchase_dropped_before_processing_bought_nothing_and_says_so() {
    let h = v1().await;
    warm(&h).await;
    h.fake.inject(Fault::DropBeforeProcessing, 1);
    let text = h.buy_refused().await;
    assert!(text.contains("nothing was bought"), "{text}");
    assert_eq!(purchases(&h).len(), 1, "sent once");
    assert_eq!(h.fake.order_count(), 0);
    assert_eq!(h.fake.charge_count(), 0);
}

#[tokio::test]
async fn a_5xx_on_purchase_is_not_retried_and_is_checked() {
    let h = v1().await;
    warm(&h).await;
    h.fake.inject(Fault::problem(502, "bad-gateway"), 1);
    let text = h.buy_refused().await;
    assert!(text.contains("nothing was bought"), "{text}");
    assert_eq!(purchases(&h).len(), 1);
    assert_eq!(h.fake.charge_count(), 0);
}

#[tokio::test]
async fn a_timed_out_purchase_is_looked_for_twice_and_not_repeated() {
    let h = v1_with(fake_options(), |c| {
        c.http.request_timeout = Duration::from_millis(700);
    })
    .await;
    warm(&h).await;
    // The fake drops the purchase when the client gives up waiting: nothing is bought.
    h.fake.inject(Fault::Delay(Duration::from_millis(1500)), 1);
    let text = h.buy_refused().await;
    assert!(text.contains("nothing was bought"), "{text}");
    assert_eq!(purchases(&h).len(), 1, "sent once");
    let history_reads = h
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v1/customer/orders")
        .count();
    assert_eq!(
        history_reads, 2,
        "a timed-out purchase may still land: look twice"
    );
    assert_eq!(h.fake.charge_count(), 0);
}

#[tokio::test]
async fn cancel_and_swap_in_the_cooldown_give_the_seconds_left_without_a_post() {
    let fake = FakeOptions {
        cancel_cooldown: Duration::from_secs(120),
        ..fake_options()
    };
    let h = v1_with(fake, |_| {}).await;
    let id = h.order().await;
    for tool in ["cancel_order", "swap_order"] {
        let text = h.err(tool, json!({"order_id": id})).await;
        assert!(
            text.contains(" s: VirtualSMS holds every number for 120 s"),
            "{text}"
        );
        assert!(text.contains("in 11") || text.contains("in 12"), "{text}");
    }
    assert_eq!(posts_to(&h, "/cancel/"), 0);
    assert_eq!(posts_to(&h, "/swap/"), 0);
    assert_eq!(h.fake.charge_count(), 1);
}

#[tokio::test]
async fn a_425_from_the_server_says_when_to_call_again() {
    let h = v1().await;
    let id = h.order().await;
    // The pre-check read passes; the cancel itself is answered 425.
    h.fake.inject(Fault::Delay(Duration::ZERO), 1);
    h.fake.inject(
        Fault::Problem {
            status: 425,
            slug: "too-early".into(),
            retry_after: Some("37".into()),
        },
        1,
    );
    let text = h.err("cancel_order", json!({"order_id": id})).await;
    assert!(
        text.contains("HTTP 425") && text.contains("wait 37 s"),
        "{text}"
    );
    assert_eq!(posts_to(&h, "/cancel/"), 1, "no retry loop");
}

#[tokio::test]
async fn list_orders_pages_locally_with_an_honest_has_more() {
    let h = v1().await;
    for _ in 0..3 {
        h.order().await;
    }
    let first = h.ok("list_orders", json!({"limit": 2})).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    assert_eq!(first["has_more"], true, "{first}");
    assert!(first.get("total").is_none(), "v1 has no total: {first}");
    let rest = h.ok("list_orders", json!({"limit": 2, "offset": 2})).await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1, "{rest}");
    assert_eq!(rest["has_more"], false, "{rest}");
    let ids: Vec<&Value> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["data"].as_array().unwrap())
        .map(|o| &o["order_id"])
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
}

#[tokio::test]
async fn a_late_release_needs_the_opt_in_and_then_refunds_pro_rata() {
    let h = v1().await;
    let rental = h.rental(24).await;
    let id = rental["order_id"].as_str().unwrap();
    assert!(id.starts_with("rental:"), "{rental}");
    h.fake
        .age_order(
            id.trim_start_matches("rental:"),
            Duration::from_secs(3 * 3600),
        )
        .unwrap();
    let text = h.err("release_rental", json!({"order_id": id})).await;
    assert!(text.contains("VIRTUALSMS_ENABLE_RELEASE"), "{text}");
    assert_eq!(posts_to(&h, "/release"), 0);

    let h2 = v1_with(fake_options(), |c| c.enable_release = true).await;
    let rental = h2.rental(24).await;
    let id = rental["order_id"].as_str().unwrap();
    h2.fake
        .age_order(
            id.trim_start_matches("rental:"),
            Duration::from_secs(3 * 3600),
        )
        .unwrap();
    let released = h2.ok("release_rental", json!({"order_id": id})).await;
    assert_eq!(released["status"], "released", "{released}");
    assert!(released["refunded"].as_f64().unwrap() > 0.0, "{released}");
}

#[tokio::test]
async fn an_sms_on_a_rental_is_reported_without_a_text_it_cannot_have() {
    let h = v1().await;
    let rental = h.rental(24).await;
    let id = rental["order_id"].as_str().unwrap().to_owned();
    let fake = h.fake.clone();
    let raw = id.trim_start_matches("rental:").to_owned();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        fake.deliver_sms(&raw, Some("code 777111")).unwrap();
    });
    let got = h.wait_sms(&id, 10).await;
    assert_eq!(got["outcome"], "received", "{got}");
    assert!(got.get("text").is_none(), "{got}");
    assert!(
        got["next_step"].as_str().unwrap().contains("dashboard"),
        "{got}"
    );
}

/// Once an activation has its code, v1's history shows `sms_received` whatever comes next: a
/// further SMS shows only in the order's detail, which the poller reads for the next wait.
#[tokio::test]
async fn a_further_sms_on_a_received_activation_is_found_in_its_detail() {
    let h = v1().await;
    let id = h.order().await;
    h.fake
        .deliver_sms(&id, Some("Your code is 111111"))
        .unwrap();
    let first = h.wait_sms(&id, 5).await;
    assert_eq!(first["code"], "111111", "{first}");
    h.fake.clear_requests();
    h.deliver_later(&id, "Your code is 222222", Duration::from_millis(500));
    let second = h.wait_sms(&id, 10).await;
    assert_eq!(second["outcome"], "received", "{second}");
    assert_eq!(second["code"], "222222", "{second}");
    let requests = h.requests();
    let (history, details) = history_and_details(&requests);
    // One history read tells the order is past waiting; from then on only its detail is read.
    assert_eq!(history, 1, "{requests:?}");
    assert!(details >= 2, "{details} detail reads");
}

#[tokio::test]
async fn each_error_row_of_the_contract_gets_its_next_step() {
    let rows: [(u16, &str, &str); 6] = [
        (400, "validation", "fix the arguments"),
        (401, "unauthorized", "VIRTUALSMS_API_KEY"),
        (404, "order-not-found", "list_orders"),
        (429, "rate-limited", "wait 2 s"),
        (503, "no-stock", "service_availability"),
        (500, "internal", "server-side"),
    ];
    let h = v1_with(fake_options(), |c| c.http.max_retries = 0).await;
    for (status, slug, advice) in rows {
        h.fake.inject(
            Fault::Problem {
                status,
                slug: slug.into(),
                retry_after: (status == 429).then(|| "2".to_owned()),
            },
            1,
        );
        let text = h.err("get_balance", json!({})).await;
        assert!(text.contains(&format!("HTTP {status}")), "{status}: {text}");
        assert!(text.contains(advice), "{status}: {text}");
    }
    h.fake.inject(Fault::Html { status: 502 }, 1);
    let text = h.err("get_balance", json!({})).await;
    assert!(text.contains("HTTP 502") && text.contains("HTML"), "{text}");
}

#[tokio::test]
async fn too_little_money_says_how_much_is_missing() {
    let fake = FakeOptions {
        starting_balance_cents: 1,
        ..fake_options()
    };
    let h = v1_with(fake, |_| {}).await;
    let text = h.buy_refused().await;
    assert!(
        text.contains("HTTP 402") && text.contains("balance $0.01 < required $"),
        "{text}"
    );
    assert!(text.contains("top up"), "{text}");
}

#[tokio::test]
async fn the_key_does_not_leak_when_the_api_echoes_it() {
    let h = v1().await;
    for status in [500, 200] {
        h.fake.inject(Fault::EchoRequest { status }, 4);
        // `err` fails the test if the key appears in the text.
        h.err("get_balance", json!({})).await;
    }
}

#[tokio::test]
async fn auto_finds_v1_at_an_origin_that_serves_only_v1() {
    let fake = FakeOptions {
        serve_v2: false,
        ..fake_options()
    };
    let h = Harness::speaking(Dialect::V1, fake, |c| {
        c.base_url = c.base_url.trim_end_matches("/api/v1").to_owned();
        c.api_version = ApiVersion::Auto;
    })
    .await;
    assert!(
        h.requests().is_empty(),
        "nothing is sent before the first call"
    );
    h.ok("find_cheapest", json!({"service": "telegram"})).await;
    h.ok("get_balance", json!({})).await;
    let paths: Vec<String> = h.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths.iter().filter(|p| p.starts_with("/api/v2/")).count(),
        1,
        "one probe: {paths:?}"
    );
    assert!(
        paths.iter().any(|p| p == "/api/v1/customer/balance"),
        "{paths:?}"
    );
}

#[tokio::test]
async fn auto_finds_v2_at_an_origin_that_serves_it() {
    let fake = FakeOptions {
        serve_v1: false,
        ..fake_options()
    };
    let h = Harness::speaking(Dialect::V2, fake, |c| {
        c.base_url = c.base_url.trim_end_matches("/api/v2").to_owned();
        c.api_version = ApiVersion::Auto;
    })
    .await;
    h.ok("get_balance", json!({})).await;
    h.ok("get_balance", json!({})).await;
    let paths: Vec<String> = h.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/api/v2/countries",
            "/api/v2/me/balance",
            "/api/v2/me/balance"
        ],
        "one probe, then v2"
    );
    assert!(h.requests().iter().all(|r| r.header("x-api-key").is_none()));
}

/// A hundred waits on v1 at the real pacing (60 requests a minute): the shared poller keeps the
/// requests well under the budget while all wait, and the codes that arrive are delivered.
#[tokio::test]
async fn a_hundred_waits_share_one_poller_within_the_rate_budget() {
    const WAITS: usize = 100;
    const INTERVAL: Duration = Duration::from_secs(3);
    let rich = FakeOptions {
        starting_balance_cents: 1_000_000,
        ..fake_options()
    };
    let buyer = v1_with(rich, |_| {}).await;
    let mut ids = Vec::new();
    for _ in 0..WAITS {
        ids.push(buyer.order().await);
    }
    // A second server on the same fake and key, paced like production, polling every second.
    let h = std::sync::Arc::new(
        buyer
            .another_server(|c| {
                c.http.rate_limit_per_minute = 60;
                c.poll_interval = INTERVAL;
            })
            .await,
    );
    buyer.fake.clear_requests();
    buyer.fake.set_rate_limit(60);
    let started = std::time::Instant::now();
    let waits: Vec<_> = ids
        .iter()
        .map(|id| {
            let client = std::sync::Arc::clone(&h);
            let id = id.clone();
            tokio::spawn(async move {
                client
                    .ok(
                        "wait_for_sms",
                        json!({"order_id": id, "timeout_seconds": 12}),
                    )
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(4)).await;
    for id in ids.iter().take(5) {
        buyer
            .fake
            .deliver_sms(id, Some("Your code is 246810"))
            .unwrap();
    }
    let mut received = 0;
    for wait in waits {
        let got = wait.await.unwrap();
        if got["outcome"] == "received" {
            assert_eq!(got["code"], "246810");
            received += 1;
        } else {
            assert_eq!(got["outcome"], "timed_out", "{got}");
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let requests = buyer.fake.requests();
    assert_eq!(received, 5, "every delivered code arrived");
    // One history read per round for all hundred waits, a detail read only per changed order.
    let rounds = (elapsed / INTERVAL.as_secs_f64()).ceil() as usize + 1;
    let (history, details) = history_and_details(&requests);
    assert!(
        history <= rounds,
        "{history} history reads in {rounds} rounds"
    );
    assert!(
        details <= 2 * 5,
        "{details} detail reads for 5 changed orders"
    );
    assert_eq!(requests.len(), history + details, "nothing else was asked");
    let per_minute = requests.len() as f64 * 60.0 / elapsed;
    assert!(
        per_minute <= 60.0,
        "{per_minute:.0} requests/min for {WAITS} waits"
    );
}
