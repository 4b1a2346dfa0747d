//! `virtualsms-mcp http`: MCP over Streamable HTTP (src/http.rs), served in-process against the
//! fake API, and the real binary for signals.
//!
//! Rules pinned down here:
//! - `GET /health` answers 200 `{"status": "ok"}`;
//! - a session client (`initialize`, rmcp's Streamable HTTP client) lists and calls tools, and
//!   the upstream request carries the key that client sent (`Authorization: Bearer`);
//! - a 2026-07-28 request is served statelessly: no `Mcp-Session-Id`, and `x-api-key` works
//!   like `Authorization: Bearer`;
//! - no key → only the discovery tools are listed, any other tool is unknown, and nothing is
//!   sent upstream with a key — not even the process's own `VIRTUALSMS_API_KEY`;
//! - a tool that needs a key, called without one, says to send the key with the request (not
//!   to set an environment variable);
//! - `--use-env-key`: a request without a key uses the process's key;
//! - no 2026-07-28 list or resource read is marked `public` (what is listed depends on the
//!   caller's key, the balance and orders are one account's): `private`, `ttlMs` 0;
//! - two keys share nothing: each has its own spending budget, its own orders, its own pacer;
//!   a session opened with one key is not found (nor ended) under another; `DELETE` ends it
//!   with 200;
//! - key headers that are unclear (not Bearer, empty, two different keys) are a 400;
//! - bodies over the cap are a 413; a `Host` that is not loopback is a 403 (DNS rebinding);
//! - a connection that sends nothing is closed after the idle timeout, and one that sends half
//!   its headers after the header timeout;
//! - shutdown: a waiting `wait_for_sms` returns at once with a result that says the server is
//!   stopping and what to do; a purchase in flight finishes and is charged once; then the
//!   server stops;
//! - the binary: SIGTERM drains and exits 0, and the key never appears in its logs, even at
//!   trace level.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use virtualsms_mcp::config::{ApiKey, Config};
use virtualsms_mcp::http::{HttpOptions, HttpServer, Limits};
use virtualsms_mcp::sandbox::{FakeApi, FakeHandle, FakeOptions, Fault};

use crate::common::{fake_options, test_config, KEY};

const KEY_A: &str = "sk_live_HTTP_CLIENT_A_0001";
const KEY_B: &str = "sk_live_HTTP_CLIENT_B_0002";
const STEP: Duration = Duration::from_secs(10);
const DISCOVERY: [&str; 5] = [
    "country_pricing",
    "find_cheapest",
    "list_countries",
    "list_services",
    "service_availability",
];

/// A plain HTTP client (reqwest needs the process's rustls provider, ring, installed first;
/// rmcp's client builds one too).
fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// An HTTP server on 127.0.0.1:0 over the fake API.
struct Served {
    addr: SocketAddr,
    fake: FakeApi,
    _fake_handle: FakeHandle,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Served {
    async fn start() -> Self {
        Self::with(fake_options(), |_| {}, |_| {}).await
    }

    async fn with(
        fake: FakeOptions,
        edit_config: impl FnOnce(&mut Config),
        edit_options: impl FnOnce(&mut HttpOptions),
    ) -> Self {
        let fake = FakeApi::new(fake);
        let fake_handle = fake
            .spawn(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .expect("fake API starts");
        let mut config = test_config(&fake_handle.base_url());
        config.api_key = None;
        edit_config(&mut config);
        let mut options = HttpOptions::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        options.limits = Limits {
            drain_timeout: Duration::from_secs(5),
            ..Limits::default()
        };
        edit_options(&mut options);
        let server = HttpServer::bind(config, options).await.expect("binds");
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            fake,
            _fake_handle: fake_handle,
            stop: Some(stop),
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// An rmcp Streamable HTTP client (a session client), with `key` as its Bearer token.
    async fn client(&self, key: Option<&str>) -> RunningService<RoleClient, ()> {
        let _ = http();
        let mut config = StreamableHttpClientTransportConfig::with_uri(self.url());
        if let Some(key) = key {
            config = config.auth_header(key);
        }
        tokio::time::timeout(
            STEP,
            ().serve(StreamableHttpClientTransport::from_config(config)),
        )
        .await
        .expect("handshake in time")
        .expect("MCP handshake over HTTP")
    }

    /// Starts the shutdown and waits for the server to stop.
    async fn shut_down(mut self) -> anyhow::Result<()> {
        let _ = self.stop.take().expect("running").send(());
        tokio::time::timeout(STEP, &mut self.task)
            .await
            .expect("the server stops in time")
            .expect("the server task does not panic")
    }

    /// Upstream requests that carried `key`.
    fn upstream_with(&self, key: &str) -> usize {
        let bearer = format!("Bearer {key}");
        self.fake
            .requests()
            .iter()
            .filter(|r| {
                r.headers
                    .iter()
                    .any(|(_, v)| v.contains(key) || *v == bearer)
            })
            .count()
    }
}

async fn tool_names(client: &RunningService<RoleClient, ()>) -> Vec<String> {
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    names.sort();
    names
}

async fn call(client: &RunningService<RoleClient, ()>, name: &str, args: Value) -> Value {
    let mut params = CallToolRequestParams::new(name.to_owned());
    if let Value::Object(map) = args {
        params = params.with_arguments(map);
    }
    let result = tokio::time::timeout(STEP, client.call_tool(params))
        .await
        .expect("answer in time")
        .unwrap_or_else(|e| panic!("{name}: protocol error {e:?}"));
    assert_ne!(result.is_error, Some(true), "{name} failed: {result:?}");
    result.structured_content.expect("structured content")
}

/// The `_meta` every 2026-07-28 request carries.
fn meta_2026() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "it", "version": "1"}
    })
}

/// One stateless 2026-07-28 JSON-RPC request with raw HTTP; returns the status, the response
/// headers and the JSON-RPC answer (from JSON or from the last SSE `data:` line with an id).
async fn rpc(
    url: &str,
    headers: &[(&str, &str)],
    method: &str,
    mut params: Value,
) -> (u16, reqwest::header::HeaderMap, Option<Value>) {
    params["_meta"] = meta_2026();
    let mut request = http()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}));
    let name = params.get("name").or_else(|| params.get("uri"));
    if let Some(name) = name.and_then(Value::as_str) {
        request = request.header("mcp-name", name);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = tokio::time::timeout(STEP * 2, request.send())
        .await
        .expect("answer in time")
        .expect("HTTP request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let answer = serde_json::from_str::<Value>(&text).ok().or_else(|| {
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .rfind(|v| v.get("id").is_some())
    });
    (status, headers, answer)
}

fn names_in(answer: &Value) -> Vec<String> {
    let mut names: Vec<String> = answer["result"]["tools"]
        .as_array()
        .expect("a tools/list result")
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn health_answers_ok() {
    let s = Served::start().await;
    let body: Value = http()
        .get(format!("http://{}/health", s.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "ok");
    s.shut_down().await.unwrap();
}

#[tokio::test]
async fn a_session_client_calls_tools_with_its_own_key() {
    let s = Served::start().await;
    let client = s.client(Some(KEY_A)).await;
    assert_eq!(tool_names(&client).await.len(), 18);
    let balance = call(&client, "get_balance", json!({})).await;
    assert!(balance.get("balance").is_some(), "{balance}");
    let last = s.fake.requests().pop().expect("an upstream request");
    assert_eq!(
        last.header("authorization"),
        Some(format!("Bearer {KEY_A}").as_str())
    );
    client.cancel().await.unwrap();
    s.shut_down().await.unwrap();
}

#[tokio::test]
async fn a_2026_request_is_stateless_and_x_api_key_works() {
    let s = Served::start().await;
    let (status, headers, answer) =
        rpc(&s.url(), &[("x-api-key", KEY_B)], "tools/list", json!({})).await;
    assert_eq!(status, 200);
    assert!(headers.get("mcp-session-id").is_none(), "{headers:?}");
    assert_eq!(names_in(&answer.unwrap()).len(), 18);
    let (status, _, answer) = rpc(
        &s.url(),
        &[("x-api-key", KEY_B)],
        "tools/call",
        json!({"name": "get_balance", "arguments": {}}),
    )
    .await;
    assert_eq!(status, 200);
    let answer = answer.unwrap();
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    assert_eq!(s.upstream_with(KEY_B), 1);
    s.shut_down().await.unwrap();
}

/// A keyless caller and a keyed one are listed different tools, and the balance and orders are
/// one account's: no 2026-07-28 list or read may be marked for sharing between callers.
#[tokio::test]
async fn lists_and_reads_are_never_cacheable_across_callers() {
    let s = Served::start().await;
    for (method, params) in [
        ("tools/list", json!({})),
        ("prompts/list", json!({})),
        ("resources/list", json!({})),
        ("resources/templates/list", json!({})),
        ("resources/read", json!({"uri": "virtualsms://balance"})),
    ] {
        let (status, _, answer) = rpc(&s.url(), &[("x-api-key", KEY_B)], method, params).await;
        assert_eq!(status, 200, "{method}");
        let result = &answer.expect(method)["result"];
        assert_eq!(result["cacheScope"], "private", "{method}");
        assert_eq!(result["ttlMs"], 0, "{method}");
    }
    s.shut_down().await.unwrap();
}

#[tokio::test]
async fn without_a_key_only_discovery_tools_and_never_the_process_key() {
    // The process has a key, but no --use-env-key: keyless requests must not use it.
    let s = Served::with(
        fake_options(),
        |c| c.api_key = Some(ApiKey::new(KEY)),
        |_| {},
    )
    .await;
    let client = s.client(None).await;
    assert_eq!(tool_names(&client).await, DISCOVERY);
    let refused = client
        .call_tool(CallToolRequestParams::new("get_balance"))
        .await;
    assert!(refused.is_err(), "get_balance must be unknown: {refused:?}");
    call(&client, "find_cheapest", json!({"service": "telegram"})).await;
    assert!(!s.fake.requests().is_empty(), "discovery reached the API");
    assert_eq!(s.upstream_with(KEY), 0, "the process key was used");
    client.cancel().await.unwrap();
    s.shut_down().await.unwrap();
}

#[tokio::test]
async fn without_a_key_the_advice_is_to_send_one_with_the_request() {
    // On v1 (the live API) even the discovery tools need a key.
    let s = Served::with(
        fake_options(),
        |c| c.base_url = c.base_url.replace("/api/v2", "/api/v1"),
        |_| {},
    )
    .await;
    let client = s.client(None).await;
    let result = client
        .call_tool(
            CallToolRequestParams::new("find_cheapest")
                .with_arguments(json!({"service": "telegram"}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true), "{result:?}");
    let text = format!("{:?}", result.content);
    assert!(text.contains("Authorization: Bearer"), "{text}");
    assert!(!text.contains("VIRTUALSMS_API_KEY"), "{text}");
    client.cancel().await.unwrap();
    s.shut_down().await.unwrap();
}

#[tokio::test]
async fn use_env_key_serves_keyless_requests_with_the_process_key() {
    let s = Served::with(
        fake_options(),
        |c| c.api_key = Some(ApiKey::new(KEY)),
        |o| o.use_env_key = true,
    )
    .await;
    let client = s.client(None).await;
    assert_eq!(tool_names(&client).await.len(), 18);
    call(&client, "get_balance", json!({})).await;
    assert_eq!(s.upstream_with(KEY), 1);
    client.cancel().await.unwrap();
    s.shut_down().await.unwrap();
}

#[tokio::test]
async fn two_keys_have_their_own_budgets_and_orders() {
    let s = Served::with(
        fake_options(),
        |c| c.guard.spend_limit = Some(1000.0),
        |_| {},
    )
    .await;
    let a = s.client(Some(KEY_A)).await;
    let b = s.client(Some(KEY_B)).await;
    let order = json!({"service": "telegram", "country": "us"});
    let first = call(&a, "create_order", order.clone()).await;
    let price = 1000.0 - first["budget_left"].as_f64().unwrap();
    assert!(price > 0.0, "{first}");
    let second = call(&b, "create_order", order).await;
    assert!(
        (second["budget_left"].as_f64().unwrap() - (1000.0 - price)).abs() < 1e-6,
        "B's budget counts A's order: {second}"
    );
    let listed_by_b = call(&b, "list_orders", json!({})).await;
    let ids: Vec<&str> = listed_by_b["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second["order_id"].as_str().unwrap()]);
    assert_eq!(s.fake.charge_count(), 2);
    a.cancel().await.unwrap();
    b.cancel().await.unwrap();
    s.shut_down().await.unwrap();
}

#[tokio::test]
async fn pacing_is_per_key() {
    // One upstream request a minute: a shared pacer would hold B's call for a minute.
    let s = Served::with(fake_options(), |c| c.http.rate_limit_per_minute = 1, |_| {}).await;
    let a = s.client(Some(KEY_A)).await;
    let b = s.client(Some(KEY_B)).await;
    call(&a, "get_balance", json!({})).await;
    let started = Instant::now();
    call(&b, "get_balance", json!({})).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    a.cancel().await.unwrap();
    b.cancel().await.unwrap();
    s.shut_down().await.unwrap();
}

#[tokio::test]
async fn a_session_is_not_found_under_another_key() {
    let s = Served::start().await;
    let http = http();
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "it", "version": "1"}}});
    let opened = http
        .post(s.url())
        .bearer_auth(KEY_A)
        .header("accept", "application/json, text/event-stream")
        .json(&initialize)
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 200);
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let list = |key: &'static str| {
        http.post(s.url())
            .bearer_auth(key)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-06-18")
            .json(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
            .send()
    };
    assert_eq!(list(KEY_B).await.unwrap().status(), 404);
    assert_eq!(list(KEY_A).await.unwrap().status(), 200);
    let end = |key: &'static str| {
        http.delete(s.url())
            .bearer_auth(key)
            .header("mcp-session-id", &session)
            .send()
    };
    assert_eq!(end(KEY_B).await.unwrap().status(), 404);
    assert_eq!(end(KEY_A).await.unwrap().status(), 200);
    assert_eq!(list(KEY_A).await.unwrap().status(), 404);
    s.shut_down().await.unwrap();
}

#[tokio::test]
async fn unclear_key_headers_are_a_400() {
    let s = Served::start().await;
    for headers in [
        vec![("authorization", "Basic dXNlcjpwYXNz")],
        vec![("authorization", "Bearer ")],
        vec![("x-api-key", "")],
        vec![("authorization", "Bearer one"), ("x-api-key", "two")],
    ] {
        let (status, _, _) = rpc(&s.url(), &headers, "tools/list", json!({})).await;
        assert_eq!(status, 400, "{headers:?}");
    }
    assert!(s.fake.requests().is_empty());
    s.shut_down().await.unwrap();
}

#[tokio::test]
async fn oversized_bodies_are_a_413() {
    let s = Served::with(
        fake_options(),
        |_| {},
        |o| o.limits.max_body_bytes = 64 * 1024,
    )
    .await;
    let padding = "x".repeat(100 * 1024);
    let (status, _, _) = rpc(
        &s.url(),
        &[("x-api-key", KEY_A)],
        "tools/call",
        json!({"name": "list_services", "arguments": {"query": padding}}),
    )
    .await;
    assert_eq!(status, 413);
    assert!(s.fake.requests().is_empty());
    s.shut_down().await.unwrap();
}

#[tokio::test]
async fn a_foreign_host_header_is_refused() {
    let s = Served::start().await;
    let status = http()
        .post(s.url())
        .header("host", "attacker.example")
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 403);
    s.shut_down().await.unwrap();
}

/// Reads until the server closes the connection; the time it took.
async fn closed_after(mut stream: tokio::net::TcpStream) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(STEP, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the connection was not closed within {STEP:?}"),
        }
    }
}

#[tokio::test]
async fn idle_and_slow_connections_are_closed() {
    let s = Served::with(
        fake_options(),
        |_| {},
        |o| {
            o.limits.idle_timeout = Duration::from_millis(400);
            o.limits.header_timeout = Duration::from_millis(400);
        },
    )
    .await;
    let idle = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    assert!(closed_after(idle).await < Duration::from_secs(3));
    let mut slow = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    slow.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    assert!(closed_after(slow).await < Duration::from_secs(3));
    s.shut_down().await.unwrap();
}

#[tokio::test]
async fn shutdown_returns_a_waiting_wait_for_sms_at_once() {
    let s = Served::start().await;
    let client = s.client(Some(KEY_A)).await;
    let order = call(
        &client,
        "create_order",
        json!({"service": "telegram", "country": "us"}),
    )
    .await;
    let id = order["order_id"].as_str().unwrap().to_owned();
    let url = s.url();
    let wait = tokio::spawn(async move {
        rpc(
            &url,
            &[("authorization", &format!("Bearer {KEY_A}"))],
            "tools/call",
            json!({"name": "wait_for_sms", "arguments": {"order_id": id, "timeout_seconds": 120}}),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    s.shut_down().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let (status, _, answer) = wait.await.unwrap();
    assert_eq!(status, 200);
    let answer = answer.expect("an answer");
    let text = answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert!(text.contains("shutting down"), "{text}");
    assert!(text.contains("wait_for_sms"), "{text}");
}

#[tokio::test]
async fn shutdown_lets_a_purchase_in_flight_finish_once() {
    let s = Served::start().await;
    // Every upstream request of the purchase takes 800 ms.
    s.fake.inject(Fault::Delay(Duration::from_millis(800)), 10);
    let url = s.url();
    let buy = tokio::spawn(async move {
        rpc(
            &url,
            &[("x-api-key", KEY_A)],
            "tools/call",
            json!({"name": "create_order", "arguments": {"service": "telegram", "country": "us"}}),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fake = s.fake.clone();
    s.shut_down().await.unwrap();
    let (status, _, answer) = buy.await.unwrap();
    assert_eq!(status, 200);
    let answer = answer.expect("an answer");
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    assert!(answer["result"]["structuredContent"]["order_id"].is_string());
    assert_eq!(fake.charge_count(), 1);
}

#[tokio::test]
async fn sigterm_drains_and_exits_zero_and_never_logs_the_key() {
    use std::process::Stdio;
    use tokio::io::AsyncBufReadExt;

    const SECRET: &str = "sk_live_HTTPSECRET_77aa88bb99cc";
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_virtualsms-mcp"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("VIRTUALSMS_") {
            command.env_remove(&name);
        }
    }
    let mut child = command
        .args(["--sandbox", "http", "--listen", "127.0.0.1:0"])
        .env("VIRTUALSMS_LOG", "trace")
        .env("VIRTUALSMS_SANDBOX_SMS_DELAY", "600")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    let url = loop {
        let line = tokio::time::timeout(STEP, stderr.next_line())
            .await
            .expect("the server starts in time")
            .unwrap()
            .expect("the server is running");
        log.push_str(&line);
        log.push('\n');
        if let Some(rest) = line.split("Streamable HTTP at ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let logs = tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            log.push_str(&line);
            log.push('\n');
        }
        log
    });
    let bearer = format!("Bearer {SECRET}");
    let auth = [("authorization", bearer.as_str())];
    let (_, _, order) = rpc(
        &url,
        &auth,
        "tools/call",
        json!({"name": "create_order", "arguments": {"service": "telegram", "country": "us"}}),
    )
    .await;
    let order = order.expect("an answer");
    let id = order["result"]["structuredContent"]["order_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{order}"))
        .to_owned();
    let waiting = {
        let (url, bearer) = (url.clone(), bearer.clone());
        tokio::spawn(async move {
            rpc(
                &url,
                &[("authorization", bearer.as_str())],
                "tools/call",
                json!({"name": "wait_for_sms", "arguments": {"order_id": id, "timeout_seconds": 300}}),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = child.id().unwrap().to_string();
    let started = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(STEP, child.wait())
        .await
        .expect("the server exits in time after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let (_, _, answer) = waiting.await.unwrap();
    let answer = answer.expect("wait_for_sms answered before the exit");
    assert!(
        answer["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("shutting down"),
        "{answer}"
    );
    let log = logs.await.unwrap();
    assert!(log.contains("shutting down"), "{log}");
    assert!(!log.contains(SECRET), "the key is in the log");
    assert!(!log.contains("HTTPSECRET"), "part of the key is in the log");
}
