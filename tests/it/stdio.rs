//! The real `virtualsms-mcp` binary, driven as a child process the way MCP clients launch it.
//!
//! Rules pinned down here:
//! - stdout carries only JSON-RPC 2.0 messages, one per line, even with `VIRTUALSMS_LOG=trace`;
//!   every log line goes to stderr;
//! - the API key never appears on stdout or stderr (not whole, not its secret part, not base64);
//! - tool failures are `isError: true` results, never JSON-RPC errors;
//! - the process exits with success promptly once the client closes stdin;
//! - discovery tools work without a key; account tools refuse without one, say how to set
//!   `VIRTUALSMS_API_KEY`, and make no request;
//! - `--sandbox` serves simulated results, labelled as such, with SMS arriving by themselves;
//! - `--version` / `--help` print to stdout and exit 0; an unknown flag or a bad environment
//!   variable exits non-zero, names the problem on stderr and writes nothing to stdout;
//! - `sandbox-api --port N` serves the fake REST v2 API over HTTP.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;
use virtualsms_mcp::sandbox::{FakeApi, FakeHandle, FakeOptions};

const BIN: &str = env!("CARGO_BIN_EXE_virtualsms-mcp");
/// A distinctive key, so any leak of it (or of its secret part) is easy to spot.
const KEY: &str = "sk_live_STDIOSECRET_0123456789";
/// The most a single answer from the child may take before the test fails.
const STEP: Duration = Duration::from_secs(5);
/// Base URL for tests that must make no request: nothing listens on port 9 (discard).
const NOWHERE: &str = "http://127.0.0.1:9/api/v2";

/// The binary with none of the caller's `VIRTUALSMS_*` variables, killed when dropped.
fn binary() -> Command {
    let mut cmd = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("VIRTUALSMS_") {
            cmd.env_remove(&name);
        }
    }
    cmd.env_remove("RUST_LOG").kill_on_drop(true);
    cmd
}

/// The fake VirtualSMS API on 127.0.0.1:0: no SMS by itself, no rate limit.
async fn start_fake() -> (FakeApi, FakeHandle) {
    let fake = FakeApi::new(FakeOptions {
        sms_delay: None,
        rate_limit_per_minute: 0,
        ..FakeOptions::default()
    });
    let handle = fake
        .spawn(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("fake API starts");
    (fake, handle)
}

/// Reads a pipe to its end in the background (so a chatty child never blocks on a full pipe).
fn drain(pipe: impl AsyncRead + Unpin + Send + 'static) -> (Arc<Mutex<Vec<u8>>>, JoinHandle<()>) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let sink = buf.clone();
    let task = tokio::spawn(async move {
        let mut pipe = pipe;
        let mut chunk = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    (buf, task)
}

fn lossy(buf: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&buf.lock().unwrap()).into_owned()
}

/// Waits for the child to exit, failing the test after `limit`.
async fn exit_within(child: &mut Child, limit: Duration) -> ExitStatus {
    match tokio::time::timeout(limit, child.wait()).await {
        Ok(status) => status.expect("wait for the child"),
        Err(_) => panic!("the server did not exit within {limit:?}"),
    }
}

/// Runs the binary to completion with stdin closed; returns (status, stdout, stderr).
async fn run(cmd: &mut Command) -> (ExitStatus, String, String) {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = tokio::time::timeout(STEP, cmd.output())
        .await
        .expect("the binary exits by itself")
        .expect("the binary runs");
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Standard base64 (with padding), enough to look for an encoded key.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Every form of the key a leak could take: whole, its secret part, and base64 of the key at
/// each of the three byte alignments it could have inside a longer encoded string (e.g.
/// `Bearer <key>` or `user:<key>`), keeping only the characters that do not depend on what
/// surrounds it.
fn key_forms() -> Vec<String> {
    let secret = KEY.strip_prefix("sk_live_").expect("a sk_live_ key");
    let mut forms = vec![KEY.to_owned(), secret.to_owned()];
    for shift in 0..3 {
        let mut bytes = vec![b'x'; shift];
        bytes.extend_from_slice(KEY.as_bytes());
        let encoded = base64(&bytes);
        // The first ceil(shift * 4 / 3) characters mix in the prefix; the last 4 the padding.
        let start = (shift * 4).div_ceil(3);
        forms.push(encoded[start..encoded.len() - 4].to_owned());
    }
    forms
}

fn assert_no_key(what: &str, text: &str) {
    for form in key_forms() {
        assert!(
            !text.contains(&form),
            "the API key leaked on {what} (as {form:?}):\n{text}"
        );
    }
}

/// A JSON-RPC 2.0 message: a response (id + exactly one of result/error), a request or a
/// notification (method). Panics with the offending line otherwise.
fn assert_json_rpc(line: &str) -> Value {
    let msg: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line:?}"));
    assert!(msg.is_object(), "not a JSON-RPC object: {line}");
    assert_eq!(msg["jsonrpc"], "2.0", "not JSON-RPC 2.0: {line}");
    if msg.get("method").is_some() {
        assert!(msg["method"].is_string(), "{line}");
    } else {
        assert!(
            msg["id"].is_number() || msg["id"].is_string(),
            "response without id: {line}"
        );
        let has_result = msg.get("result").is_some();
        let has_error = msg.get("error").is_some();
        assert!(
            has_result != has_error,
            "response needs result xor error: {line}"
        );
    }
    msg
}

/// A raw JSON-RPC session over the child's stdin/stdout: every line read is checked.
struct RawSession {
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    next_id: u64,
    /// Every stdout line, in order.
    lines: Vec<String>,
    /// Responses by id.
    responses: HashMap<u64, Value>,
}

impl RawSession {
    fn new(child: &mut Child) -> Self {
        Self {
            stdin: child.stdin.take(),
            stdout: BufReader::new(child.stdout.take().expect("piped stdout")).lines(),
            next_id: 1,
            lines: Vec::new(),
            responses: HashMap::new(),
        }
    }

    async fn send(&mut self, msg: Value) {
        let mut line = serde_json::to_vec(&msg).unwrap();
        line.push(b'\n');
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(&line).await.expect("write to the server");
        stdin.flush().await.expect("flush to the server");
    }

    async fn notify(&mut self, method: &str) {
        self.send(json!({"jsonrpc": "2.0", "method": method})).await;
    }

    /// Sends a request and reads stdout until its response arrives; returns the response.
    async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        while !self.responses.contains_key(&id) {
            let line = tokio::time::timeout(STEP, self.stdout.next_line())
                .await
                .unwrap_or_else(|_| panic!("no response to {method} (id {id}) within {STEP:?}"))
                .expect("read stdout")
                .unwrap_or_else(|| panic!("stdout closed before the response to {method}"));
            self.record(line);
        }
        self.responses[&id].clone()
    }

    fn record(&mut self, line: String) {
        let msg = assert_json_rpc(&line);
        if msg.get("method").is_none() {
            let id = msg["id"]
                .as_u64()
                .unwrap_or_else(|| panic!("a response to an id never sent: {line}"));
            assert!(id < self.next_id, "a response to an id never sent: {line}");
            assert!(
                self.responses.insert(id, msg).is_none(),
                "two responses for id {id}"
            );
        }
        self.lines.push(line);
    }

    /// A `tools/call` that must come back as a result (not a JSON-RPC error).
    async fn call(&mut self, tool: &str, args: Value) -> Value {
        let response = self
            .request("tools/call", json!({"name": tool, "arguments": args}))
            .await;
        assert!(
            response.get("error").is_none(),
            "{tool}: a JSON-RPC error instead of a tool result: {response}"
        );
        response["result"].clone()
    }

    /// Closes stdin, then reads what is left on stdout up to EOF.
    async fn close(&mut self) {
        drop(self.stdin.take());
        loop {
            let line = tokio::time::timeout(STEP, self.stdout.next_line())
                .await
                .expect("stdout reaches EOF after stdin closes")
                .expect("read stdout");
            match line {
                Some(line) => self.record(line),
                None => break,
            }
        }
    }
}

fn initialize_params() -> Value {
    json!({
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "stdio-test", "version": "0.0.0"}
    })
}

/// The text content of a raw `tools/call` result.
fn raw_text(result: &Value) -> String {
    result["content"]
        .as_array()
        .map(|blocks| {
            blocks
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_carries_only_json_rpc_even_at_trace_level() {
    let (fake, fake_handle) = start_fake().await;
    let mut child = binary()
        .env("VIRTUALSMS_BASE_URL", fake_handle.base_url())
        .env("VIRTUALSMS_API_KEY", KEY)
        .env("VIRTUALSMS_LOG", "trace")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the server");
    let (stderr, stderr_task) = drain(child.stderr.take().expect("piped stderr"));
    let mut session = RawSession::new(&mut child);

    let init = session.request("initialize", initialize_params()).await;
    assert_eq!(init["id"], 1);
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18", "{init}");
    assert_eq!(
        init["result"]["serverInfo"]["name"], "virtualsms-mcp",
        "{init}"
    );
    session.notify("notifications/initialized").await;

    let list = session.request("tools/list", json!({})).await;
    assert_eq!(list["id"], 2);
    let tools = list["result"]["tools"].as_array().expect("a tool list");
    assert_eq!(tools.len(), 18, "{list}");

    let balance = session.call("get_balance", json!({})).await;
    assert_ne!(balance["isError"], true, "get_balance failed: {balance}");
    assert!(balance["structuredContent"].is_object(), "{balance}");

    let order = session
        .call(
            "create_order",
            json!({"service": "telegram", "country": "us"}),
        )
        .await;
    assert_ne!(order["isError"], true, "create_order failed: {order}");
    let order_id = order["structuredContent"]["order_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no order_id: {order}"))
        .to_owned();

    let got = session
        .call("get_order", json!({"order_id": order_id}))
        .await;
    assert_ne!(got["isError"], true, "get_order failed: {got}");
    assert_eq!(got["structuredContent"]["order_id"], order_id.as_str());

    let missing = session
        .call("get_order", json!({"order_id": "ord_missing"}))
        .await;
    assert_eq!(missing["isError"], true, "{missing}");
    assert!(raw_text(&missing).contains("404"), "{missing}");

    session.close().await;
    let ids: Vec<u64> = {
        let mut ids: Vec<u64> = session.responses.keys().copied().collect();
        ids.sort_unstable();
        ids
    };
    assert_eq!(ids, [1, 2, 3, 4, 5, 6], "one response per request");
    let status = exit_within(&mut child, STEP).await;
    assert!(status.success(), "exit status {status}");
    stderr_task.await.unwrap();

    // The server really talked to the fake, with the key as its bearer token.
    let requests = fake.requests();
    assert!(
        requests.iter().any(|r| r.path == "/api/v2/me/balance"
            && r.header("authorization") == Some(&format!("Bearer {KEY}"))),
        "{requests:?}"
    );

    let stdout = session.lines.join("\n");
    let stderr = lossy(&stderr);
    assert!(!stderr.trim().is_empty(), "trace logs go to stderr");
    assert!(
        stderr.contains("TRACE"),
        "VIRTUALSMS_LOG=trace enables trace logs:\n{stderr}"
    );
    assert_no_key("stdout", &stdout);
    assert_no_key("stderr", &stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exits_promptly_on_stdin_eof() {
    let mut child = binary()
        .env("VIRTUALSMS_BASE_URL", NOWHERE)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the server");
    let (stderr, _stderr_task) = drain(child.stderr.take().expect("piped stderr"));
    let mut session = RawSession::new(&mut child);
    let init = session.request("initialize", initialize_params()).await;
    assert!(init.get("result").is_some(), "{init}");
    session.notify("notifications/initialized").await;

    let closed = Instant::now();
    drop(session.stdin.take());
    let status = match tokio::time::timeout(Duration::from_secs(2), child.wait()).await {
        Ok(status) => status.expect("wait for the child"),
        Err(_) => panic!(
            "still running 2 s after stdin closed; stderr:\n{}",
            lossy(&stderr)
        ),
    };
    let took = closed.elapsed();
    eprintln!("virtualsms-mcp exited {took:?} after stdin closed");
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        lossy(&stderr)
    );
}

/// An rmcp client talking to the binary over its stdin/stdout; stderr is collected.
struct McpChild {
    client: RunningService<RoleClient, ()>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl McpChild {
    async fn start(cmd: Command) -> Self {
        let (transport, stderr) = TokioChildProcess::builder(cmd)
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the server");
        let (stderr, _task) = drain(stderr.expect("piped stderr"));
        let client = match tokio::time::timeout(STEP, ().serve(transport)).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!("MCP handshake failed: {e}; stderr:\n{}", lossy(&stderr)),
            Err(_) => panic!("MCP handshake timed out; stderr:\n{}", lossy(&stderr)),
        };
        Self { client, stderr }
    }

    async fn call_within(&self, name: &str, args: Value, limit: Duration) -> CallToolResult {
        let mut params = CallToolRequestParams::new(name.to_owned());
        if let Value::Object(map) = args {
            params = params.with_arguments(map);
        }
        match tokio::time::timeout(limit, self.client.call_tool(params)).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => panic!("{name}: {e}; stderr:\n{}", lossy(&self.stderr)),
            Err(_) => panic!(
                "{name}: no answer within {limit:?}; stderr:\n{}",
                lossy(&self.stderr)
            ),
        }
    }

    async fn call(&self, name: &str, args: Value) -> CallToolResult {
        self.call_within(name, args, STEP).await
    }

    /// A call that must succeed; returns its structured content.
    async fn ok(&self, name: &str, args: Value) -> Value {
        let result = self.call(name, args).await;
        assert_ne!(
            result.is_error,
            Some(true),
            "{name} failed: {}",
            text_of(&result)
        );
        result
            .structured_content
            .unwrap_or_else(|| panic!("{name}: no structured content"))
    }

    async fn stop(self) {
        let _ = tokio::time::timeout(STEP, self.client.cancel()).await;
    }
}

fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcp_client_drives_all_discovery_without_a_key() {
    let (fake, fake_handle) = start_fake().await;
    let mut cmd = binary();
    cmd.env("VIRTUALSMS_BASE_URL", fake_handle.base_url())
        .env_remove("VIRTUALSMS_API_KEY");
    let server = McpChild::start(cmd).await;

    let tools = tokio::time::timeout(STEP, server.client.list_all_tools())
        .await
        .expect("tools/list answers")
        .expect("tools/list");
    assert_eq!(
        tools.len(),
        18,
        "{:?}",
        tools.iter().map(|t| &t.name).collect::<Vec<_>>()
    );

    let services = server.ok("list_services", json!({"query": "tele"})).await;
    let ids: Vec<&str> = services["services"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert!(ids.contains(&"telegram"), "{services}");

    let cheapest = server
        .ok("find_cheapest", json!({"service": "telegram"}))
        .await;
    assert!(
        cheapest["price"].as_f64().is_some_and(|p| p > 0.0),
        "{cheapest}"
    );

    let balance = server.call("get_balance", json!({})).await;
    assert_eq!(balance.is_error, Some(true), "{balance:?}");
    let text = text_of(&balance);
    assert!(text.contains("VIRTUALSMS_API_KEY"), "{text}");
    assert!(
        text.contains("environment") && text.contains("-e VIRTUALSMS_API_KEY="),
        "says how to set the key: {text}"
    );

    let requests = fake.requests();
    assert!(
        requests.iter().any(|r| r.path == "/api/v2/services"),
        "discovery went to the fake: {requests:?}"
    );
    assert!(
        requests.iter().all(|r| r.path != "/api/v2/me/balance"),
        "no balance request without a key: {requests:?}"
    );
    assert!(
        requests.iter().all(|r| r.header("authorization").is_none()),
        "no bearer header without a key: {requests:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_flag_serves_simulated_results() {
    let mut cmd = binary();
    cmd.arg("--sandbox")
        .env("VIRTUALSMS_SANDBOX_SMS_DELAY", "1")
        .env("VIRTUALSMS_BASE_URL", NOWHERE);
    let server = McpChild::start(cmd).await;

    let info = server
        .client
        .peer_info()
        .expect("server info after the handshake");
    let instructions = info.instructions.clone().unwrap_or_default();
    assert!(
        instructions.to_lowercase().contains("sandbox"),
        "instructions mention sandbox mode: {instructions}"
    );

    let order = server
        .call(
            "create_order",
            json!({"service": "telegram", "country": "us"}),
        )
        .await;
    assert_ne!(
        order.is_error,
        Some(true),
        "create_order failed: {}",
        text_of(&order)
    );
    let text = text_of(&order);
    assert!(
        text.contains("sandbox") && text.contains("Simulated"),
        "a sandbox result says it is simulated: {text}"
    );
    let order_id = order
        .structured_content
        .as_ref()
        .and_then(|o| o["order_id"].as_str())
        .unwrap_or_else(|| panic!("no order_id: {order:?}"))
        .to_owned();

    let started = Instant::now();
    let waited = server
        .call_within(
            "wait_for_sms",
            json!({"order_id": order_id, "timeout_seconds": 10}),
            Duration::from_secs(8),
        )
        .await;
    assert_ne!(
        waited.is_error,
        Some(true),
        "wait_for_sms failed: {}",
        text_of(&waited)
    );
    let waited = waited.structured_content.expect("structured wait result");
    assert_eq!(waited["outcome"], "received", "{waited}");
    assert!(
        waited["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{waited}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the simulated SMS came after {:?} (delay is 1 s)",
        started.elapsed()
    );
    server.stop().await;
}

#[tokio::test]
async fn help_and_version() {
    let (status, stdout, stderr) = run(binary().arg("--version")).await;
    assert!(status.success(), "{status}: {stderr}");
    assert_eq!(
        stdout.trim(),
        format!("virtualsms-mcp {}", env!("CARGO_PKG_VERSION"))
    );

    let (status, stdout, stderr) = run(binary().arg("--help")).await;
    assert!(status.success(), "{status}: {stderr}");
    assert!(stdout.contains("VIRTUALSMS_API_KEY"), "{stdout}");
    assert!(stdout.contains("--sandbox"), "{stdout}");

    let (status, stdout, stderr) = run(binary().arg("--no-such-flag")).await;
    assert!(!status.success(), "an unknown flag must fail");
    assert!(stdout.is_empty(), "nothing on stdout: {stdout:?}");
    assert!(stderr.contains("--no-such-flag"), "{stderr}");
}

#[tokio::test]
async fn bad_configuration_is_reported_on_stderr() {
    let (status, stdout, stderr) = run(binary().env("VIRTUALSMS_SPEND_LIMIT", "abc")).await;
    assert!(!status.success(), "a bad VIRTUALSMS_SPEND_LIMIT must fail");
    assert!(stderr.contains("VIRTUALSMS_SPEND_LIMIT"), "{stderr}");
    assert!(stdout.is_empty(), "nothing on stdout: {stdout:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_api_serves_the_fake_over_http() {
    let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut child = binary()
        .args(["sandbox-api", "--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sandbox-api");
    let (stderr, _stderr_task) = drain(child.stderr.take().expect("piped stderr"));

    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .expect("HTTP client");
    let url = format!("http://127.0.0.1:{port}/api/v2/services");
    let deadline = Instant::now() + STEP;
    let response = loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            panic!("sandbox-api exited ({status}); stderr:\n{}", lossy(&stderr));
        }
        match http.get(&url).send().await {
            Ok(response) => break response,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!(
                "{url} did not answer within {STEP:?}: {e}; stderr:\n{}",
                lossy(&stderr)
            ),
        }
    };
    assert_eq!(response.status(), 200);
    let services: Value = response.json().await.expect("JSON body");
    let services = services.as_array().expect("a JSON array of services");
    assert!(
        services.iter().any(|s| s["id"] == "telegram"),
        "{services:?}"
    );

    child.kill().await.expect("stop sandbox-api");
}

/// The leak check itself: it must catch the key base64-encoded inside longer strings.
#[test]
fn key_forms_catch_encoded_keys() {
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"f"), "Zg==");
    for prefix in ["", "Bearer ", "u:", "Basic xy:"] {
        let encoded = base64(format!("{prefix}{KEY}").as_bytes());
        assert!(
            key_forms().iter().any(|form| encoded.contains(form)),
            "{prefix:?}: {encoded} escapes {:?}",
            key_forms()
        );
    }
    assert!(
        std::panic::catch_unwind(|| assert_no_key("x", "Bearer STDIOSECRET_0123456789")).is_err()
    );
}
