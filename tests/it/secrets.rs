//! The API key never leaves the server except as its own bearer token.
//!
//! One scenario drives everything with a distinctive key: all 18 tools on their success paths,
//! their failure paths (unknown ids, invalid arguments, refusals, conflicts), and the fault
//! paths — HTML, empty and malformed bodies, 5xx bursts, 429, 401 in the middle of the session,
//! responses slower than the timeout, connections dropped before and after processing — plus
//! [`Fault::EchoRequest`], where the API echoes the request headers (Authorization included)
//! back in the body, in a problem's `type`, `title`, `detail` and `instance`, and in a 200 body
//! that cannot be decoded.
//!
//! It runs twice: in process (every result text, structured content and protocol error is
//! scanned), and through the real binary at `VIRTUALSMS_LOG=trace` (all of stdout and stderr
//! are scanned too). The key must appear in none of it: not whole, not the secret part after
//! `sk_live_`, and not any 8-character piece of that part (a key cut by a length limit); the
//! echo must visibly reach the model as `[redacted]`, so the scan is not vacuous.

use std::time::Duration;

use crate::common::{fake_options, Harness};
use crate::rawio::{binary, RawServer};
use rmcp::model::CallToolRequestParams;
use serde_json::{json, Value};
use virtualsms_mcp::config::ApiKey;
use virtualsms_mcp::sandbox::{FakeApi, Fault};

const SECRET: &str = "sk_live_LEAKCANARY_7Qx9Zr2Vw4Np";

/// The length of a piece of the key's secret part that counts as a (partial) leak.
const PIECE: usize = 8;

/// The key whole, its secret part (after `sk_live_`), and every [`PIECE`]-character piece of
/// that part — a key cut in two by a length limit still leaks.
fn key_forms() -> Vec<&'static str> {
    let secret = SECRET.strip_prefix("sk_live_").expect("an sk_live_ key");
    let mut forms = vec![SECRET, secret];
    forms.extend((0..=secret.len() - PIECE).map(|i| &secret[i..i + PIECE]));
    forms
}

/// Where `text` holds the key (whole or its secret part), with some context; `None` if clean.
fn leak_in(what: &str, text: &str) -> Option<String> {
    let form = key_forms().into_iter().find(|f| text.contains(f))?;
    let at = text.find(form)?;
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(160)
        .map_or(0, |(i, _)| i);
    let end = (at + form.len() + 80..=text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    Some(format!("{what}: …{}…", &text[start..end]))
}

/// Fails with every leak found (not just the first), so one run shows them all.
fn assert_no_leaks(leaks: &[String]) {
    assert!(
        leaks.is_empty(),
        "the API key leaked in {} place(s):\n{}",
        leaks.len(),
        leaks.join("\n\n")
    );
}

/// How a scenario reaches the server. Returns the `CallToolResult` as JSON, or for a protocol
/// error `{"protocol_error": ...}`.
trait Driver {
    async fn call(&mut self, tool: &str, args: Value) -> Value;
}

struct InProcess(Harness);

impl Driver for InProcess {
    async fn call(&mut self, tool: &str, args: Value) -> Value {
        let mut params = CallToolRequestParams::new(tool.to_owned());
        if let Value::Object(map) = args {
            params = params.with_arguments(map);
        }
        match self.0.client.call_tool(params).await {
            Ok(result) => serde_json::to_value(&result).expect("a result serializes"),
            Err(e) => json!({"protocol_error": format!("{e} / {e:?}")}),
        }
    }
}

struct Binary(RawServer);

impl Driver for Binary {
    async fn call(&mut self, tool: &str, args: Value) -> Value {
        let response = self.0.call(tool, args).await;
        match response.get("result") {
            Some(result) => result.clone(),
            None => json!({"protocol_error": response}),
        }
    }
}

/// How hard the scenario pushes: the binary cannot shrink its retry backoff (250 ms base), so
/// it exhausts retries on fewer tools.
struct Mode {
    /// Every tool gets a 5xx burst that outlasts the retries (else only get_balance does).
    every_tool_exhausts_retries: bool,
    /// Longer than the server's request timeout.
    slow: Duration,
}

struct Run<'a, D> {
    driver: &'a mut D,
    fake: &'a FakeApi,
    /// (step, everything the model saw).
    transcript: Vec<(String, Value)>,
}

fn is_error(result: &Value) -> bool {
    result["isError"] == true || result.get("protocol_error").is_some()
}

impl<D: Driver> Run<'_, D> {
    async fn step(&mut self, label: &str, tool: &str, args: Value) -> Value {
        let result = self.driver.call(tool, args).await;
        self.transcript
            .push((format!("{label}: {tool}"), result.clone()));
        result
    }

    async fn ok(&mut self, tool: &str, args: Value) -> Value {
        let result = self.step("ok", tool, args).await;
        assert!(!is_error(&result), "{tool} should succeed: {result}");
        result["structuredContent"].clone()
    }

    async fn fails(&mut self, tool: &str, args: Value) -> String {
        let result = self.step("fails", tool, args).await;
        assert!(is_error(&result), "{tool} should fail: {result}");
        result.to_string()
    }

    /// Injects `fault` for the next `count` requests, calls, and checks the fault was used up
    /// by this call (so faults never drift onto later steps).
    async fn faulted(&mut self, fault: Fault, count: u32, tool: &str, args: Value) -> Value {
        let label = format!("{fault:?} x{count}");
        let before = self.fake.requests().len();
        self.fake.inject(fault, count);
        let result = self.step(&label, tool, args).await;
        let made = self.fake.requests().len() - before;
        assert!(
            made >= count as usize,
            "{label} on {tool}: only {made} request(s) were made, the fault queue drifted"
        );
        result
    }

    async fn order(&mut self, args: Value) -> String {
        let order = self.ok("create_order", args).await;
        order["order_id"].as_str().expect("an order_id").to_owned()
    }
}

/// Drives every tool through success, failure and fault paths; returns the transcript.
async fn scenario<D: Driver>(driver: &mut D, fake: &FakeApi, mode: Mode) -> Vec<(String, Value)> {
    let mut run = Run {
        driver,
        fake,
        transcript: Vec::new(),
    };
    let telegram_us = json!({"service": "telegram", "country": "us"});

    // Success paths, all 18 tools.
    run.ok("list_services", json!({"query": "tele"})).await;
    run.ok("list_countries", json!({})).await;
    run.ok("find_cheapest", json!({"service": "telegram"}))
        .await;
    run.ok("country_pricing", json!({"country": "us"})).await;
    run.ok("service_availability", json!({"service": "telegram"}))
        .await;
    run.ok("get_balance", json!({})).await;
    run.ok("get_profile", json!({})).await;
    run.ok("get_stats", json!({})).await;
    run.ok("list_transactions", json!({})).await;
    let a = run.order(telegram_us.clone()).await;
    run.ok("get_order", json!({"order_id": a})).await;
    run.ok("list_orders", json!({})).await;
    fake.deliver_sms(&a, Some("Your Telegram code: 482913"))
        .expect("deliver");
    let got = run
        .ok("wait_for_sms", json!({"order_id": a, "timeout_seconds": 5}))
        .await;
    assert_eq!(got["code"], "482913");
    run.ok("confirm_order", json!({"order_id": a})).await;
    let b = run.order(telegram_us.clone()).await;
    run.ok("swap_order", json!({"order_id": b})).await;
    run.ok("cancel_order", json!({"order_id": b})).await;
    let r = run
        .order(json!({"service": "whatsapp", "country": "us", "rental_hours": 4}))
        .await;
    run.ok("extend_rental", json!({"order_id": r, "hours": 2}))
        .await;
    run.ok("release_rental", json!({"order_id": r})).await;

    // Failure paths without faults.
    run.fails("get_order", json!({"order_id": "ord_nope"}))
        .await;
    run.fails(
        "create_order",
        json!({"service": "nosuch", "country": "us"}),
    )
    .await;
    run.fails("country_pricing", json!({"country": "zz"})).await;
    run.fails("find_cheapest", json!({"service": "nosuch"}))
        .await;
    run.fails("cancel_order", json!({"order_id": a})).await;
    run.fails("extend_rental", json!({"order_id": a, "hours": 1}))
        .await;
    run.fails(
        "wait_for_sms",
        json!({"order_id": "ord_nope", "timeout_seconds": 5}),
    )
    .await;
    run.fails("wait_for_sms", json!({"order_id": a, "timeout_seconds": 1}))
        .await;
    run.fails(
        "create_order",
        json!({"service": "telegram", "country": "us", "max_price": 0.0001}),
    )
    .await;
    run.fails("list_orders", json!({"limit": "many"})).await;
    run.fails("no_such_tool", json!({})).await;

    // The API echoes the request, Authorization included, on every tool: as a problem (400),
    // as a 401 in the middle of the session, as an undecodable 200, and as a 5xx burst.
    let c = run.order(telegram_us.clone()).await;
    let every_tool: Vec<(&str, Value)> = vec![
        ("list_services", json!({})),
        ("list_countries", json!({})),
        ("find_cheapest", json!({"service": "telegram"})),
        ("country_pricing", json!({"country": "us"})),
        ("service_availability", json!({"service": "telegram"})),
        ("get_balance", json!({})),
        ("get_profile", json!({})),
        ("get_stats", json!({})),
        ("list_transactions", json!({})),
        ("create_order", telegram_us.clone()),
        ("get_order", json!({"order_id": c})),
        ("list_orders", json!({})),
        ("swap_order", json!({"order_id": c})),
        ("cancel_order", json!({"order_id": c})),
        ("confirm_order", json!({"order_id": c})),
        ("extend_rental", json!({"order_id": c, "hours": 1})),
        ("release_rental", json!({"order_id": c})),
        ("wait_for_sms", json!({"order_id": c, "timeout_seconds": 5})),
    ];
    assert_eq!(every_tool.len(), 18);
    for (tool, args) in &every_tool {
        for status in [400, 401, 200] {
            let result = run
                .faulted(Fault::EchoRequest { status }, 1, tool, args.clone())
                .await;
            assert!(is_error(&result), "{tool} echo {status}: {result}");
            if status != 200 {
                assert!(
                    result.to_string().contains("[redacted]"),
                    "{tool}: the echoed key should reach the model redacted: {result}"
                );
            }
        }
        if mode.every_tool_exhausts_retries || *tool == "get_balance" {
            let result = run
                .faulted(Fault::EchoRequest { status: 503 }, 4, tool, args.clone())
                .await;
            assert!(is_error(&result), "{tool} echo 503: {result}");
        }
    }
    // A POST's 5xx burst that a retry (same idempotency key) gets past.
    run.faulted(
        Fault::EchoRequest { status: 502 },
        1,
        "create_order",
        telegram_us.clone(),
    )
    .await;
    // 429 without Retry-After: waited (1 s by default) and retried.
    run.faulted(
        Fault::EchoRequest { status: 429 },
        1,
        "get_balance",
        json!({}),
    )
    .await;

    // The echo at every offset around the 200-character excerpt limit: the key is cut in two
    // by the limit at some slug length (slugs are at most 128 characters).
    for len in 40..=128 {
        let service = "s".repeat(len);
        run.faulted(
            Fault::EchoRequest { status: 200 },
            1,
            "find_cheapest",
            json!({ "service": service }),
        )
        .await;
    }

    // Off-contract bodies.
    run.faulted(Fault::Html { status: 502 }, 1, "get_stats", json!({}))
        .await;
    run.faulted(Fault::Empty { status: 500 }, 1, "get_profile", json!({}))
        .await;
    run.faulted(Fault::Empty { status: 418 }, 1, "get_profile", json!({}))
        .await;
    run.faulted(Fault::MalformedJson, 1, "get_balance", json!({}))
        .await;
    run.faulted(Fault::WrongContentType, 1, "get_balance", json!({}))
        .await;
    run.faulted(
        Fault::Huge {
            bytes: 9 * 1024 * 1024,
        },
        1,
        "list_transactions",
        json!({}),
    )
    .await;
    // A real-looking 401 and 429 mid-session.
    run.faulted(
        Fault::problem(401, "unauthorized"),
        1,
        "list_orders",
        json!({}),
    )
    .await;
    run.faulted(
        Fault::Problem {
            status: 429,
            slug: "rate-limited".into(),
            retry_after: Some("3600".into()),
        },
        1,
        "get_balance",
        json!({}),
    )
    .await;

    // Slow answers and dropped connections, on a read and on a purchase.
    run.faulted(Fault::Delay(mode.slow), 1, "get_balance", json!({}))
        .await;
    run.faulted(
        Fault::Delay(mode.slow),
        1,
        "create_order",
        telegram_us.clone(),
    )
    .await;
    run.faulted(Fault::DropBeforeProcessing, 1, "get_stats", json!({}))
        .await;
    run.faulted(
        Fault::DropAfterProcessing,
        1,
        "create_order",
        telegram_us.clone(),
    )
    .await;
    if mode.every_tool_exhausts_retries {
        run.faulted(Fault::DropBeforeProcessing, 4, "get_profile", json!({}))
            .await;
        run.faulted(Fault::Delay(mode.slow), 4, "get_balance", json!({}))
            .await;
        run.faulted(
            Fault::DropAfterProcessing,
            4,
            "create_order",
            telegram_us.clone(),
        )
        .await;
        run.faulted(Fault::Html { status: 502 }, 4, "get_stats", json!({}))
            .await;
    }
    run.ok("get_balance", json!({})).await;
    run.transcript
}

/// The leaks in a transcript; prints how much carried a (redacted) echo of the key.
fn scan(transcript: &[(String, Value)]) -> Vec<String> {
    let redacted = transcript
        .iter()
        .filter(|(_, r)| r.to_string().contains("[redacted]"))
        .count();
    eprintln!(
        "{} results scanned, {redacted} of them carried a redacted echo of the key",
        transcript.len()
    );
    transcript
        .iter()
        .filter_map(|(step, result)| leak_in(step, &result.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_result_or_error_carries_the_key_in_process() {
    let h = Harness::with(fake_options(), |c| {
        c.api_key = Some(ApiKey::new(SECRET));
        c.catalog_ttl = Duration::ZERO;
        c.http.request_timeout = Duration::from_millis(300);
    })
    .await;
    let fake = h.fake.clone();
    let mut driver = InProcess(h);
    let transcript = scenario(
        &mut driver,
        &fake,
        Mode {
            every_tool_exhausts_retries: true,
            slow: Duration::from_millis(700),
        },
    )
    .await;
    assert_no_leaks(&scan(&transcript));
    // The key did go where it belongs.
    assert!(fake
        .requests()
        .iter()
        .all(|r| r.header("authorization") == Some(&format!("Bearer {SECRET}"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_the_binary_writes_carries_the_key_at_trace_level() {
    let fake = FakeApi::new(fake_options());
    let handle = fake
        .spawn(std::net::SocketAddr::from((
            std::net::Ipv4Addr::LOCALHOST,
            0,
        )))
        .await
        .expect("fake API starts");
    let mut cmd = binary();
    cmd.env("VIRTUALSMS_BASE_URL", handle.base_url())
        .env("VIRTUALSMS_API_KEY", SECRET)
        .env("VIRTUALSMS_LOG", "trace")
        .env("VIRTUALSMS_CATALOG_TTL_SECS", "0")
        .env("VIRTUALSMS_TIMEOUT_SECS", "1");
    let mut server = RawServer::spawn(cmd);
    server.initialize().await;
    let mut driver = Binary(server);
    let transcript = scenario(
        &mut driver,
        &fake,
        Mode {
            every_tool_exhausts_retries: false,
            slow: Duration::from_millis(1500),
        },
    )
    .await;
    let mut leaks = scan(&transcript);
    let (status, stdout, stderr) = driver.0.finish().await;
    assert!(status.success(), "exit {status}");
    assert!(
        stderr.contains("TRACE"),
        "VIRTUALSMS_LOG=trace is in force: {:.500}",
        stderr
    );
    eprintln!(
        "scanned {} bytes of stdout and {} bytes of stderr",
        stdout.len(),
        stderr.len()
    );
    for (what, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        // Every line on its own, so each leaking log line is reported.
        leaks.extend(text.lines().filter_map(|line| leak_in(what, line)));
    }
    assert_no_leaks(&leaks);
}
