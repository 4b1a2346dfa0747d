//! The real `virtualsms-mcp` binary driven with raw bytes on stdin: every line it writes on
//! stdout is kept (and parsed), stderr is collected, and its peak memory can be read.
//! Shared by `protocol_abuse.rs` and `secrets.rs`.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub const BIN: &str = env!("CARGO_BIN_EXE_virtualsms-mcp");
/// The longest a single expected answer may take before the test fails.
pub const STEP: Duration = Duration::from_secs(10);
/// Base URL for sessions that must make no request: nothing listens on port 9 (discard).
pub const NOWHERE: &str = "http://127.0.0.1:9/api/v2";

/// The binary with none of the caller's `VIRTUALSMS_*` variables, no client-side pacing, and
/// killed when dropped.
pub fn binary() -> Command {
    let mut cmd = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("VIRTUALSMS_") {
            cmd.env_remove(&name);
        }
    }
    cmd.env_remove("RUST_LOG")
        .env("VIRTUALSMS_RATE_LIMIT", "0")
        .kill_on_drop(true);
    cmd
}

/// Reads a pipe to its end in the background (so a chatty child never blocks on a full pipe).
fn drain(pipe: impl AsyncRead + Unpin + Send + 'static) -> (Arc<Mutex<Vec<u8>>>, JoinHandle<()>) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let sink = buf.clone();
    let task = tokio::spawn(async move {
        let mut pipe = pipe;
        let mut chunk = vec![0u8; 64 * 1024];
        while let Ok(n) = pipe.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    (buf, task)
}

pub fn initialize_params() -> Value {
    json!({
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "0"}
    })
}

/// A running server spoken to in raw JSON-RPC lines.
pub struct RawServer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<Vec<u8>>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stdout_task: Option<JoinHandle<()>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_task: Option<JoinHandle<()>>,
    /// Messages read while looking for another id, by id (as JSON text).
    pending: HashMap<String, Value>,
    /// Messages without an id (notifications) or with a null id, in arrival order.
    pub unaddressed: VecDeque<Value>,
    next_id: u64,
    pub pid: u32,
}

impl RawServer {
    /// Spawns `cmd` with piped stdio.
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the server");
        let pid = child.id().expect("a running child has a pid");
        let stdin = child.stdin.take();
        let (stderr, stderr_task) = drain(child.stderr.take().expect("piped stderr"));
        let stdout_pipe = child.stdout.take().expect("piped stdout");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let all = stdout.clone();
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout_task = tokio::spawn(async move {
            let mut reader = BufReader::with_capacity(256 * 1024, stdout_pipe);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        all.lock().unwrap().extend_from_slice(&line);
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Self {
            child,
            stdin,
            lines,
            stdout,
            stdout_task: Some(stdout_task),
            stderr,
            stderr_task: Some(stderr_task),
            pending: HashMap::new(),
            unaddressed: VecDeque::new(),
            next_id: 1,
            pid,
        }
    }

    /// `initialize` + `notifications/initialized`; returns the initialize result.
    pub async fn initialize(&mut self) -> Value {
        let init = self.request("initialize", initialize_params()).await;
        assert!(init.get("result").is_some(), "initialize failed: {init}");
        self.notify("notifications/initialized", json!({})).await;
        init["result"].clone()
    }

    /// Writes raw bytes to stdin.
    pub async fn write(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(bytes).await.expect("write to the server");
        stdin.flush().await.expect("flush to the server");
    }

    /// Writes one JSON message as a line.
    pub async fn send(&mut self, msg: &Value) {
        let mut line = serde_json::to_vec(msg).expect("serialize");
        line.push(b'\n');
        self.write(&line).await;
    }

    pub async fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await;
    }

    /// A fresh numeric id.
    pub fn id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Sends a request and waits for its response.
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.id();
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        self.response(&json!(id)).await
    }

    /// `tools/call`; returns the whole response (result or error).
    pub async fn call(&mut self, tool: &str, arguments: Value) -> Value {
        self.request("tools/call", json!({"name": tool, "arguments": arguments}))
            .await
    }

    /// The next message on stdout, parsed; panics if it is not a JSON-RPC 2.0 object or if none
    /// comes within `limit`.
    pub async fn next_message(&mut self, limit: Duration) -> Value {
        match self.try_next_message(limit).await {
            Some(msg) => msg,
            None => panic!(
                "no message within {limit:?}; stderr tail:\n{}",
                self.stderr_tail()
            ),
        }
    }

    /// Like [`Self::next_message`], but `None` when nothing arrives within `limit`.
    pub async fn try_next_message(&mut self, limit: Duration) -> Option<Value> {
        let line = match tokio::time::timeout(limit, self.lines.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => panic!(
                "the server closed stdout (exit: {:?}); stderr tail:\n{}",
                self.child.try_wait(),
                self.stderr_tail()
            ),
            Err(_) => return None,
        };
        let msg: Value = serde_json::from_slice(&line).unwrap_or_else(|e| {
            panic!(
                "stdout line is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&line)
            )
        });
        assert!(msg.is_object(), "stdout line is not an object: {msg}");
        assert_eq!(msg["jsonrpc"], "2.0", "not JSON-RPC 2.0: {msg}");
        Some(msg)
    }

    /// Waits for the response with `id`, keeping whatever else arrives meanwhile.
    pub async fn response(&mut self, id: &Value) -> Value {
        let key = id.to_string();
        if let Some(msg) = self.pending.remove(&key) {
            return msg;
        }
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let msg = match self.try_next_message(left).await {
                Some(msg) => msg,
                None => panic!(
                    "no response to id {id} within {STEP:?}; stderr tail:\n{}",
                    self.stderr_tail()
                ),
            };
            let got = msg.get("id").cloned().unwrap_or(Value::Null);
            if got.is_null() || msg.get("method").is_some() {
                self.unaddressed.push_back(msg);
            } else if got == *id {
                return msg;
            } else {
                let previous = self.pending.insert(got.to_string(), msg);
                assert!(previous.is_none(), "two responses with id {got}");
            }
        }
    }

    /// Every message that arrives within `quiet` of the previous one (none → empty).
    pub async fn drain_messages(&mut self, quiet: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(msg) = self.try_next_message(quiet).await {
            out.push(msg);
        }
        out
    }

    /// Answers the server still owes: a ping round-trip proves it reads and writes.
    pub async fn assert_alive(&mut self, after: &str) {
        let pong = self.request("ping", json!({})).await;
        assert!(
            pong.get("result").is_some(),
            "ping after {after} failed: {pong}"
        );
        assert!(
            self.child.try_wait().expect("poll the child").is_none(),
            "the server exited after {after}"
        );
    }

    /// Peak resident memory of the server so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .expect("read /proc/<pid>/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/<pid>/status")
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    fn stderr_tail(&self) -> String {
        let text = self.stderr_text();
        let start = text.char_indices().rev().nth(4000).map_or(0, |(i, _)| i);
        text[start..].to_owned()
    }

    /// Closes stdin and waits for the exit (failing after `STEP`); then all of stdout and stderr
    /// have been collected.
    pub async fn finish(mut self) -> (ExitStatus, String, String) {
        drop(self.stdin.take());
        let status = match tokio::time::timeout(STEP, self.child.wait()).await {
            Ok(status) => status.expect("wait for the child"),
            Err(_) => panic!(
                "the server did not exit after stdin closed; stderr tail:\n{}",
                self.stderr_tail()
            ),
        };
        for task in [self.stdout_task.take(), self.stderr_task.take()]
            .into_iter()
            .flatten()
        {
            let _ = tokio::time::timeout(STEP, task).await;
        }
        (status, self.stdout_text(), self.stderr_text())
    }
}

/// The text content of a `tools/call` response's result (empty for a JSON-RPC error).
pub fn result_text(response: &Value) -> String {
    response["result"]["content"]
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
