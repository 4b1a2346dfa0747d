//! Protocol abuse against the real binary over stdio, written as raw bytes.
//!
//! Rules pinned down here:
//! - nothing a client writes crashes the server or ends the session: after every abuse below a
//!   normal request is still answered, and the process is still running;
//! - stdout only ever carries JSON-RPC 2.0 objects, one per line;
//! - bytes that are not JSON (malformed text, invalid UTF-8, nesting beyond serde_json's
//!   recursion limit, an empty line) get no answer — there is no id to answer to (rmcp's choice,
//!   shared by the other MCP SDKs, so garbage cannot start an error storm);
//! - well-formed JSON that is not a JSON-RPC request object (array, number, string, null,
//!   batch, missing or wrong `jsonrpc`, object id) gets `-32600 Invalid request` with a null id;
//! - an unknown method gets `-32601` with the request's id; an unknown notification or a
//!   response to nothing is ignored;
//! - `tools/call` of an unknown tool gets a JSON-RPC error (`-32602`) with the request's id;
//! - arguments of the wrong type get an `isError` result (or a JSON-RPC error carrying the
//!   request's id) that names the field or quotes the offending value; nothing reaches the API;
//! - huge arguments (2 MiB strings) get an answer, and a line over rmcp's 16 MiB limit is
//!   discarded without being buffered;
//! - a thousand requests written at once get exactly a thousand answers, ids matching, each a
//!   result or an error;
//! - peak memory (`VmHWM`) stays under [`PEAK_RSS_LIMIT_KIB`] through all of it.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::rawio::{binary, result_text, RawServer, NOWHERE};
use serde_json::{json, Value};
use virtualsms_mcp::sandbox::{FakeApi, FakeHandle, FakeOptions};

/// What the server may use at its peak, abuse included.
const PEAK_RSS_LIMIT_KIB: u64 = 64 * 1024;
const KEY: &str = "sk_live_ABUSEKEY_5a4b3c2d1e";

async fn start_fake() -> (FakeApi, FakeHandle) {
    let fake = FakeApi::new(FakeOptions {
        rate_limit_per_minute: 0,
        sms_delay: None,
        ..Default::default()
    });
    let handle = fake
        .spawn(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("fake API starts");
    (fake, handle)
}

/// A server pointed at `base_url` with a key, initialized.
async fn server(base_url: &str) -> RawServer {
    let mut cmd = binary();
    cmd.env("VIRTUALSMS_BASE_URL", base_url)
        .env("VIRTUALSMS_API_KEY", KEY);
    let mut server = RawServer::spawn(cmd);
    server.initialize().await;
    server
}

/// Checks the peak memory, prints it, and ends the session cleanly.
async fn finish(server: RawServer, what: &str) {
    let peak = server.peak_rss_kib();
    eprintln!("{what}: peak RSS (VmHWM) {:.1} MiB", peak as f64 / 1024.0);
    assert!(
        peak < PEAK_RSS_LIMIT_KIB,
        "{what}: peak RSS {peak} KiB over {PEAK_RSS_LIMIT_KIB} KiB"
    );
    let (status, _stdout, stderr) = server.finish().await;
    assert!(status.success(), "exit {status}; stderr:\n{stderr}");
    assert!(
        !stderr.contains("panicked"),
        "{what}: a panic on stderr:\n{stderr}"
    );
}

/// The answers that `line` provokes (none for ignored input), then a ping to prove the
/// session survived.
async fn provoke(server: &mut RawServer, line: &[u8]) -> Vec<Value> {
    server.write(line).await;
    let ping_id = server.id();
    server
        .send(&json!({"jsonrpc": "2.0", "id": ping_id, "method": "ping"}))
        .await;
    let mut answers = Vec::new();
    let deadline = Instant::now() + crate::rawio::STEP;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(msg) = server.try_next_message(left).await else {
            panic!(
                "no answer to the ping after {:?}",
                String::from_utf8_lossy(&line[..line.len().min(200)])
            );
        };
        if msg["id"] == json!(ping_id) {
            assert!(msg.get("result").is_some(), "ping failed: {msg}");
            return answers;
        }
        answers.push(msg);
    }
}

fn show(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    text.chars().take(120).collect()
}

fn assert_invalid_request(answers: &[Value], line: &[u8]) {
    assert_eq!(answers.len(), 1, "{}: {answers:?}", show(line));
    let err = &answers[0];
    assert_eq!(err["error"]["code"], -32600, "{}: {err}", show(line));
    assert!(err["id"].is_null(), "{}: {err}", show(line));
}

fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_lines_and_wrong_shapes_never_end_the_session() {
    let mut s = server(NOWHERE).await;

    // Not JSON at all: nothing to answer, nothing breaks.
    let deep = format!(
        r#"{{"jsonrpc":"2.0","id":9000,"method":"tools/call","params":{{"name":"list_services","arguments":{{"query":{}}}}}}}"#,
        nested(10_000)
    );
    let not_json: Vec<Vec<u8>> = vec![
        b"{not json\n".to_vec(),
        b"}{\n".to_vec(),
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\n".to_vec(),
        b"\n".to_vec(),
        b"   \t  \n".to_vec(),
        b"\r\n".to_vec(),
        b"\xff\xfe\xfd\n".to_vec(),
        b"\xc0\x80\xed\xa0\x80 overlong and surrogate UTF-8\n".to_vec(),
        b"\x00\x01\x02\n".to_vec(),
        // Invalid UTF-8 inside a string of an otherwise valid request: no usable message.
        b"{\"jsonrpc\":\"2.0\",\"id\":9001,\"method\":\"tools/call\",\"params\":{\"name\":\"list_services\",\"arguments\":{\"query\":\"\xff\xfe\"}}}\n".to_vec(),
        // A lone surrogate escape and an out-of-range number: valid-looking, not decodable.
        br#"{"jsonrpc":"2.0","id":9002,"method":"tools/call","params":{"name":"list_services","arguments":{"query":"\ud800"}}}"#.to_vec(),
        br#"{"jsonrpc":"2.0","id":9003,"method":"tools/call","params":{"name":"list_services","arguments":{"limit":1e400}}}"#.to_vec(),
        // Nesting far beyond serde_json's recursion limit (no stack overflow).
        format!("{}\n", nested(100_000)).into_bytes(),
        deep.into_bytes(),
    ];
    for mut line in not_json {
        if !line.ends_with(b"\n") {
            line.push(b'\n');
        }
        let answers = provoke(&mut s, &line).await;
        // The only acceptable answer to a line that is not JSON is an error; rmcp sends none.
        for a in &answers {
            assert!(
                a.get("error").is_some(),
                "{}: unexpected answer {a}",
                show(&line)
            );
        }
    }

    // Well-formed JSON that is not a JSON-RPC request object.
    let wrong_shapes: &[&[u8]] = &[
        b"[1,2,3]\n",
        b"[]\n",
        b"42\n",
        b"-1.5e10\n",
        b"\"tools/list\"\n",
        b"null\n",
        b"true\n",
        b"{}\n",
        b"{\"jsonrpc\":\"2.0\"}\n",
        b"{\"id\":5,\"method\":\"tools/list\"}\n",
        b"{\"jsonrpc\":\"1.0\",\"id\":6,\"method\":\"ping\"}\n",
        b"{\"jsonrpc\":2,\"id\":7,\"method\":\"ping\"}\n",
        b"[{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\"}]\n",
        b"{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"ping\"}\n",
        b"{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}\n",
        b"{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":42}\n",
        b"{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tools/list\",\"params\":[]}\n",
        b"{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"tools/list\",\"params\":\"all\"}\n",
    ];
    for line in wrong_shapes {
        let answers = provoke(&mut s, line).await;
        assert_invalid_request(&answers, line);
    }

    // Unknown methods: -32601 with the request's id, whatever the id's form.
    let long_method = "x".repeat(10_000);
    for (id, method) in [
        (json!(20), "nope/nope"),
        (json!("str-id"), "tools/delete"),
        (json!(-1), ""),
        (json!(9_007_199_254_740_993_i64), "tools/delete_all"),
        (json!(21), "prompts/delete"),
        (json!(22), long_method.as_str()),
    ] {
        let line = format!(
            "{}\n",
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": {}})
        );
        let answers = provoke(&mut s, line.as_bytes()).await;
        assert_eq!(answers.len(), 1, "{method:.40}: {answers:?}");
        assert_eq!(answers[0]["id"], id, "{answers:?}");
        assert_eq!(
            answers[0]["error"]["code"], -32601,
            "{method:.40}: {answers:?}"
        );
    }

    // A known method with malformed params (prompts/get without a name): -32602, not -32601.
    let line = format!(
        "{}\n",
        json!({"jsonrpc": "2.0", "id": 23, "method": "prompts/get", "params": {}})
    );
    let answers = provoke(&mut s, line.as_bytes()).await;
    assert_eq!(answers[0]["error"]["code"], -32602, "{answers:?}");

    // Ignored: unknown notifications, responses to nothing, cancelling nothing.
    let ignored: &[&[u8]] = &[
        b"{\"jsonrpc\":\"2.0\",\"method\":\"nope/notify\"}\n",
        b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/nope\",\"params\":{}}\n",
        b"{\"jsonrpc\":\"2.0\",\"id\":777,\"result\":{}}\n",
        b"{\"jsonrpc\":\"2.0\",\"id\":778,\"error\":{\"code\":1,\"message\":\"x\"}}\n",
        b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":123456}}\n",
        b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":2}}\n",
    ];
    for line in ignored {
        let answers = provoke(&mut s, line).await;
        assert!(answers.is_empty(), "{}: {answers:?}", show(line));
    }

    // Accepted variations of a valid request: CRLF, a UTF-8 BOM, a string id.
    for (line, id) in [
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":30,\"method\":\"tools/list\"}\r\n".to_vec(),
            json!(30),
        ),
        (
            b"\xef\xbb\xbf{\"jsonrpc\":\"2.0\",\"id\":31,\"method\":\"ping\"}\n".to_vec(),
            json!(31),
        ),
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"ping\"}\n".to_vec(),
            json!("abc"),
        ),
    ] {
        let answers = provoke(&mut s, &line).await;
        assert_eq!(answers.len(), 1, "{}: {answers:?}", show(&line));
        assert_eq!(answers[0]["id"], id, "{answers:?}");
        assert!(answers[0].get("result").is_some(), "{answers:?}");
    }

    // Unknown tools: a JSON-RPC error with the id, never a crash.
    for name in [
        "no_such_tool",
        "",
        "GET_BALANCE",
        "get_balance ",
        "../get_balance",
    ] {
        let response = s.call(name, json!({})).await;
        assert_eq!(response["error"]["code"], -32602, "{name:?}: {response}");
    }
    // A second `initialize` in the same session is answered, not fatal.
    let again = s
        .request("initialize", crate::rawio::initialize_params())
        .await;
    assert!(again.get("result").is_some() || again.get("error").is_some());
    s.assert_alive("all of the above").await;
    finish(s, "malformed lines").await;
}

/// (tool, arguments, words of which the answer must contain at least one).
fn wrong_types() -> Vec<(&'static str, Value, &'static [&'static str])> {
    vec![
        (
            "list_services",
            json!({"limit": "fifty"}),
            &["limit", "fifty"],
        ),
        ("list_services", json!({"limit": -1}), &["limit", "-1"]),
        ("list_services", json!({"limit": 1.5}), &["limit", "1.5"]),
        ("list_services", json!({"limit": 1e30}), &["limit", "1e+30"]),
        (
            "list_services",
            json!({"limit": 9_999_999_999_u64}),
            &["limit", "9999999999"],
        ),
        (
            "list_services",
            json!({"offset": null}),
            &["offset", "null"],
        ),
        ("list_services", json!({"query": 123}), &["query", "123"]),
        (
            "list_services",
            json!({"query": {"q": "tele"}}),
            &["query", "map"],
        ),
        (
            "list_services",
            json!({"query": ["tele"]}),
            &["query", "sequence"],
        ),
        (
            "list_countries",
            json!({"in_stock_only": "yes"}),
            &["in_stock_only", "yes"],
        ),
        (
            "find_cheapest",
            json!({"service": false}),
            &["service", "false"],
        ),
        ("find_cheapest", json!({}), &["service"]),
        (
            "country_pricing",
            json!({"country": "us", "rental": 1}),
            &["rental", "1"],
        ),
        (
            "service_availability",
            json!({"service": "telegram", "limit": "all"}),
            &["limit", "all"],
        ),
        (
            "list_transactions",
            json!({"limit": []}),
            &["limit", "sequence"],
        ),
        ("get_order", json!({"order_id": 42}), &["order_id", "42"]),
        (
            "get_order",
            json!({"order_id": null}),
            &["order_id", "null"],
        ),
        (
            "get_order",
            json!({"order_id": true}),
            &["order_id", "true"],
        ),
        ("get_order", json!({}), &["order_id"]),
        ("get_order", json!({"order_id": ""}), &["order_id"]),
        ("list_orders", json!({"limit": 0}), &["limit"]),
        ("list_orders", json!({"status": 7}), &["status", "7"]),
        (
            "create_order",
            json!({"service": ["telegram"], "country": "us"}),
            &["service", "sequence"],
        ),
        (
            "create_order",
            json!({"service": "telegram", "country": "us", "max_price": "cheap"}),
            &["max_price", "cheap"],
        ),
        (
            "create_order",
            json!({"service": "telegram", "country": "us", "max_price": -1}),
            &["max_price"],
        ),
        (
            "create_order",
            json!({"service": "telegram", "country": "us", "rental_hours": 0.5}),
            &["rental_hours", "0.5"],
        ),
        (
            "create_order",
            json!({"service": "telegram", "country": "us", "rental_hours": 100000}),
            &["rental_hours"],
        ),
        (
            "swap_order",
            json!({"order_id": {"id": "ord_1"}}),
            &["order_id", "map"],
        ),
        ("cancel_order", json!({"order_id": 1.0}), &["order_id", "1"]),
        (
            "confirm_order",
            json!({"order_id": []}),
            &["order_id", "sequence"],
        ),
        (
            "extend_rental",
            json!({"order_id": "ord_1", "hours": "two"}),
            &["hours", "two"],
        ),
        (
            "extend_rental",
            json!({"order_id": "ord_1", "hours": 0}),
            &["hours"],
        ),
        (
            "release_rental",
            json!({"order_id": -3}),
            &["order_id", "-3"],
        ),
        (
            "wait_for_sms",
            json!({"order_id": "ord_1", "timeout_seconds": "soon"}),
            &["timeout_seconds", "soon"],
        ),
        (
            "wait_for_sms",
            json!({"order_id": "ord_1", "timeout_seconds": -5}),
            &["timeout_seconds", "-5"],
        ),
        (
            "wait_for_sms",
            json!({"order_id": "ord_1", "timeout_seconds": 1e10}),
            &["timeout_seconds", "1e10", "10000000000"],
        ),
        (
            "wait_for_sms",
            json!({"order_id": "ord_1", "timeout_seconds": 2}),
            &["timeout_seconds"],
        ),
        (
            "wait_for_sms",
            json!({"order_id": "ord_1", "since": 5, "timeout_seconds": 5}),
            &["since", "5"],
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_argument_types_are_refused_by_name_or_value_without_an_api_call() {
    let (fake, fake_handle) = start_fake().await;
    let mut s = server(&fake_handle.base_url()).await;
    let mut unnamed = Vec::new();
    for (tool, args, words) in wrong_types() {
        let response = s.call(tool, args.clone()).await;
        let text = match (response.get("result"), response.get("error")) {
            (Some(result), None) => {
                assert_eq!(result["isError"], true, "{tool} {args}: {response}");
                result_text(&response)
            }
            (None, Some(error)) => {
                assert_eq!(error["code"], -32602, "{tool} {args}: {response}");
                error.to_string()
            }
            _ => panic!("{tool} {args}: neither result nor error: {response}"),
        };
        assert!(
            words.iter().any(|w| text.contains(w)),
            "{tool} {args}: the answer names neither of {words:?}: {text}"
        );
        if !text.contains(words[0]) {
            unnamed.push(format!("{tool} {args} → {text}"));
        }
    }
    assert!(
        fake.requests().is_empty(),
        "bad arguments reached the API: {:?}",
        fake.requests()
    );
    if !unnamed.is_empty() {
        eprintln!(
            "{} wrong-type answers quote the value but not the field name:\n  {}",
            unnamed.len(),
            unnamed.join("\n  ")
        );
    }

    // `arguments` / `params` / `name` of the wrong JSON type: an error carrying the id, or
    // Invalid request (null id) when rmcp cannot read the message at all.
    for params in [
        json!({"name": "get_order", "arguments": []}),
        json!({"name": "get_order", "arguments": "order_id=ord_1"}),
        json!({"name": "get_order", "arguments": 42}),
        json!({"name": 42, "arguments": {}}),
        json!({"name": null}),
        json!({"arguments": {"order_id": "ord_1"}}),
        json!([]),
        json!("get_balance"),
    ] {
        let id = s.id();
        let line = format!(
            "{}\n",
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
        );
        let answers = provoke(&mut s, line.as_bytes()).await;
        assert_eq!(answers.len(), 1, "{params}: {answers:?}");
        let answer = &answers[0];
        let error = answer
            .get("error")
            .or_else(|| (answer["result"]["isError"] == true).then_some(&answer["result"]))
            .unwrap_or_else(|| panic!("{params}: not an error: {answer}"));
        assert!(
            answer["id"] == json!(id) || (answer["id"].is_null() && error["code"] == -32600),
            "{params}: answered to the wrong id: {answer}"
        );
    }
    // `arguments: null` means no arguments: the required field is named.
    let response = s
        .request(
            "tools/call",
            json!({"name": "get_order", "arguments": null}),
        )
        .await;
    assert!(result_text(&response).contains("order_id"), "{response}");

    // Extra fields are ignored, and the call works.
    let response = s
        .call(
            "get_balance",
            json!({"unexpected": {"deep": [1, 2, 3]}, "limit": "x"}),
        )
        .await;
    assert_ne!(response["result"]["isError"], true, "{response}");
    assert!(response["result"]["structuredContent"]["balance"].is_number());
    s.assert_alive("wrong argument types").await;
    finish(s, "wrong argument types").await;
}

/// A `tools/call` whose `arguments` is not an object is invalid params (-32602) naming
/// `arguments`, not "method not found"; a wrong-typed argument names its field (serde's own
/// message quotes only the value).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn argument_errors_name_the_field() {
    let mut s = server(NOWHERE).await;
    let response = s
        .request("tools/call", json!({"name": "get_order", "arguments": []}))
        .await;
    assert_eq!(response["error"]["code"], -32602, "{response}");
    assert!(response.to_string().contains("arguments"), "{response}");
    let response = s.call("list_services", json!({"limit": "fifty"})).await;
    assert!(result_text(&response).contains("limit"), "{response}");
    finish(s, "field names").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_arguments_and_oversized_lines_stay_bounded() {
    let (fake, fake_handle) = start_fake().await;
    let mut s = server(&fake_handle.base_url()).await;
    let two_mib = "a".repeat(2 * 1024 * 1024);

    // Filtered locally: an empty page, quickly.
    let started = Instant::now();
    let response = s
        .call("list_services", json!({"query": two_mib, "limit": 5}))
        .await;
    assert_ne!(response["result"]["isError"], true, "{response:.300}");
    assert_eq!(response["result"]["structuredContent"]["total"], 0);
    eprintln!("list_services with a 2 MiB query: {:?}", started.elapsed());

    // Bound for the API: in a URL path (longer than an HTTP URI may be, so the request cannot
    // even be built) or in a POST body over the fake's 1 MiB limit. Either way an isError
    // result, not a hang or a crash.
    for (tool, args) in [
        ("get_order", json!({"order_id": two_mib})),
        (
            "create_order",
            json!({"service": "telegram", "country": two_mib}),
        ),
    ] {
        let started = Instant::now();
        let response = s.call(tool, args).await;
        let text = result_text(&response);
        assert_eq!(response["result"]["isError"], true, "{tool}: {text:.300}");
        // Not asserted: a problem `detail` is shown verbatim, so an API that quotes the
        // argument back (as the fake does for an unknown service) makes a 2 MiB error text.
        eprintln!(
            "{tool} with a 2 MiB argument: {:?}, {} bytes of error text: {:.160}",
            started.elapsed(),
            text.len(),
            text
        );
    }
    assert_eq!(fake.order_count(), 0, "nothing was bought");

    // Many fields, deep-but-legal nesting in an ignored field.
    let mut many = serde_json::Map::new();
    for i in 0..10_000 {
        many.insert(format!("field_{i}"), json!(i));
    }
    many.insert("service".into(), json!("telegram"));
    many.insert(
        "ignored".into(),
        serde_json::from_str(&nested(100)).unwrap(),
    );
    let response = s.call("find_cheapest", Value::Object(many)).await;
    assert_ne!(response["result"]["isError"], true, "{response:.300}");

    // Still serving, with the normal payloads.
    let response = s.call("list_services", json!({"limit": 500})).await;
    assert_ne!(response["result"]["isError"], true, "{response:.300}");
    s.assert_alive("huge arguments").await;
    finish(s, "huge arguments").await;
}

/// rmcp buffers a line up to its 16 MiB limit, then drops the rest of it as it reads; so one
/// such line costs at most about that much memory, however long it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_over_the_16_mib_limit_is_dropped_and_memory_stays_bounded() {
    let mut s = server(NOWHERE).await;
    let mut oversized = Vec::with_capacity(20 * 1024 * 1024 + 200);
    oversized.extend_from_slice(
        br#"{"jsonrpc":"2.0","id":424242,"method":"tools/call","params":{"name":"list_services","arguments":{"query":""#,
    );
    oversized.resize(oversized.len() + 20 * 1024 * 1024, b'z');
    oversized.extend_from_slice(b"\"}}}\n");
    let answers = provoke(&mut s, &oversized).await;
    assert!(
        answers.is_empty(),
        "an oversized line is dropped: {answers:.300?}"
    );
    drop(oversized);

    // 2 MiB of blank lines.
    let answers = provoke(&mut s, &b"\n".repeat(2 * 1024 * 1024)).await;
    assert!(answers.is_empty());
    s.assert_alive("a 20 MiB line").await;
    finish(s, "a 20 MiB line").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_pipelined_requests_get_a_thousand_answers() {
    let (fake, fake_handle) = start_fake().await;
    let mut s = server(&fake_handle.base_url()).await;

    let mut batch = Vec::new();
    let mut expected = BTreeSet::new();
    for i in 0..1000_u64 {
        let id = if i % 7 == 3 {
            json!(format!("req-{i}"))
        } else {
            json!(100_000 + i)
        };
        expected.insert(id.to_string());
        let (method, params) = match i % 6 {
            0 => ("tools/list", json!({})),
            1 => ("ping", json!({})),
            2 => (
                "tools/call",
                json!({"name": "get_balance", "arguments": {}}),
            ),
            3 => (
                "tools/call",
                json!({"name": "list_countries", "arguments": {}}),
            ),
            4 => (
                "tools/call",
                json!({"name": "list_services", "arguments": {"limit": "bad"}}),
            ),
            _ => ("no/such/method", json!({})),
        };
        batch.extend_from_slice(
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
                .to_string()
                .as_bytes(),
        );
        batch.push(b'\n');
    }
    let started = Instant::now();
    s.write(&batch).await;
    let mut seen = BTreeSet::new();
    while seen.len() < expected.len() {
        let msg = s.next_message(Duration::from_secs(20)).await;
        if msg.get("method").is_some() {
            continue; // a notification
        }
        let id = msg["id"].to_string();
        assert!(
            expected.contains(&id),
            "an answer to an unknown id: {msg:.300}"
        );
        assert!(seen.insert(id), "two answers to one id: {msg:.300}");
        assert!(
            msg.get("result").is_some() != msg.get("error").is_some(),
            "exactly one of result/error: {msg:.300}"
        );
    }
    let took = started.elapsed();
    // Nothing more comes: exactly one answer each.
    let extra = s.drain_messages(Duration::from_millis(300)).await;
    assert!(
        extra.iter().all(|m| m.get("method").is_some()),
        "answers beyond the 1000: {extra:.300?}"
    );
    eprintln!("1000 pipelined requests answered in {took:?}");
    assert_eq!(
        fake.requests()
            .iter()
            .filter(|r| r.path == "/api/v2/me/balance")
            .count(),
        167,
        "one balance request per get_balance call"
    );
    s.assert_alive("1000 pipelined requests").await;
    finish(s, "1000 pipelined requests").await;
}
