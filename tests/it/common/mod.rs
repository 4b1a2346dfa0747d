//! Shared setup for the integration tests: the fake VirtualSMS API on 127.0.0.1:0, the server
//! wired to it, and a real rmcp MCP client talking to the server over an in-memory pipe.
//! Every successful structured result is validated against the tool's `outputSchema`.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult, ProgressNotificationParam, Tool};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::Value;
use virtualsms_mcp::app::App;
use virtualsms_mcp::config::{ApiKey, Config, SmsCodeSettings};
use virtualsms_mcp::sandbox::smscode::IDR_PER_USD;
use virtualsms_mcp::sandbox::{FakeApi, FakeHandle, FakeOptions, RecordedRequest};
use virtualsms_mcp::tools::VirtualSmsServer;
use virtualsms_mcp::transport::KeySlot;

/// The API key the tests configure; it must never appear in anything the server says.
pub const KEY: &str = "sk_live_TESTKEY_9f8e7d6c5b4a";

/// A client handler that records progress notifications.
#[derive(Clone, Default)]
pub struct Recorder {
    pub progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
}

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params);
    }
}

/// Which VirtualSMS REST dialect a harness's server speaks to the fake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    V1,
    V2,
    /// SMSCode at the fake's `/smscode/v1`, its backend built directly (token [`KEY`]).
    SmsCode,
    /// smsVerificationService alone, through the provider registry.
    Svs,
    /// All three providers on the one fake (VirtualSMS v1 the default), through `App`.
    All,
}

pub struct Harness {
    pub dialect: Dialect,
    pub fake: FakeApi,
    /// Shared by every server connected to this fake (see [`Harness::another_server`]).
    pub fake_handle: Arc<FakeHandle>,
    pub client: RunningService<RoleClient, Recorder>,
    pub recorder: Recorder,
    tools: Vec<Tool>,
}

/// Fake options for tests: no SMS unless a test delivers one, no rate limit unless asked.
pub fn fake_options() -> FakeOptions {
    FakeOptions {
        sms_delay: None,
        rate_limit_per_minute: 0,
        starting_balance_cents: 10_000,
        // v1 cancel/swap cooldowns only where a test asks for one.
        cancel_cooldown: Duration::ZERO,
        ..FakeOptions::default()
    }
}

/// Server config for tests: fast retries, the test key, the given base URL.
pub fn test_config(base_url: &str) -> Config {
    let mut config = Config::from_lookup(|_| None).expect("empty environment is valid");
    config.base_url = base_url.to_owned();
    config.api_key = Some(ApiKey::new(KEY));
    config.http.backoff_base = Duration::from_millis(5);
    config.http.max_retry_wait = Duration::from_secs(5);
    config.http.rate_limit_per_minute = 0;
    config.http.request_timeout = Duration::from_secs(5);
    config.progress_interval = Duration::from_millis(200);
    config.poll_interval = Duration::from_millis(100);
    // Never pick up a key saved on this machine by a real top-up.
    config.x402.credentials_file = None;
    config
}

/// Every provider on the one fake: VirtualSMS v1 (default), SMSCode (with the fake's rate),
/// smsVerificationService, all with the test key.
fn all_providers(config: &mut Config, fake: &FakeHandle) {
    config.providers = ["virtualsms", "smscode", "smsverificationservice"]
        .map(str::to_owned)
        .to_vec();
    config.smscode = Some(SmsCodeSettings {
        token: Some(ApiKey::new(KEY)),
        base_url: fake.smscode_base_url(),
        idr_per_usd: Some(IDR_PER_USD as f64),
        rate_limit_per_minute: 0,
    });
    config.smsverificationservice.base_url = fake.smsverificationservice_base_url();
    config.smsverificationservice.api_key = Some(ApiKey::new(KEY));
}

/// A server over smsVerificationService alone, through the provider registry.
fn svs_server(mut config: Config) -> VirtualSmsServer {
    config.smsverificationservice.base_url = config.base_url.clone();
    config.smsverificationservice.api_key = config.api_key.clone();
    config.providers = vec!["smsverificationservice".to_owned()];
    let key = KeySlot::new(config.api_key.clone());
    let providers =
        virtualsms_mcp::providers::build(&config, key.clone()).expect("providers build");
    VirtualSmsServer::new(providers, key, config)
}

impl Harness {
    pub async fn start() -> Self {
        Self::with(fake_options(), |_| {}).await
    }

    /// A v2 harness with these fake options and config edits.
    pub async fn with(fake: FakeOptions, edit: impl FnOnce(&mut Config)) -> Self {
        Self::speaking(Dialect::V2, fake, edit).await
    }

    /// A harness whose server speaks `dialect`, with the test fake options.
    pub async fn on(dialect: Dialect) -> Self {
        Self::speaking(dialect, fake_options(), |_| {}).await
    }

    pub async fn speaking(
        dialect: Dialect,
        fake: FakeOptions,
        edit: impl FnOnce(&mut Config),
    ) -> Self {
        let fake = FakeApi::new(fake);
        let fake_handle = fake
            .spawn(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .expect("fake API starts");
        Self::serve(dialect, fake, Arc::new(fake_handle), edit).await
    }

    /// Another server (its own state, pacing and budget) on this harness's fake, with the test
    /// config edited by `edit`.
    pub async fn another_server(&self, edit: impl FnOnce(&mut Config)) -> Self {
        Self::serve(
            self.dialect,
            self.fake.clone(),
            self.fake_handle.clone(),
            edit,
        )
        .await
    }

    async fn serve(
        dialect: Dialect,
        fake: FakeApi,
        fake_handle: Arc<FakeHandle>,
        edit: impl FnOnce(&mut Config),
    ) -> Self {
        let base_url = match dialect {
            Dialect::V1 => fake_handle.v1_base_url(),
            Dialect::V2 => fake_handle.base_url(),
            Dialect::SmsCode => fake_handle.smscode_base_url(),
            Dialect::Svs => fake_handle.smsverificationservice_base_url(),
            Dialect::All => fake_handle.v1_base_url(),
        };
        let mut config = test_config(&base_url);
        if dialect == Dialect::All {
            all_providers(&mut config, &fake_handle);
        }
        edit(&mut config);
        let server = match dialect {
            Dialect::SmsCode => smscode_server(&base_url, config),
            Dialect::Svs => svs_server(config),
            // The same path as the binary and the CLI.
            _ => App::new(config).await.expect("server builds").server,
        };
        let (server_io, client_io) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            if let Ok(running) = server.serve(server_io).await {
                let _ = running.waiting().await;
            }
        });
        let recorder = Recorder::default();
        let client = recorder
            .clone()
            .serve(client_io)
            .await
            .expect("MCP handshake");
        let tools = client.list_all_tools().await.expect("tools/list");
        Self {
            dialect,
            fake,
            fake_handle,
            client,
            recorder,
            tools,
        }
    }

    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    pub fn tool(&self, name: &str) -> &Tool {
        self.tools
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no tool {name}"))
    }

    /// Calls a tool and returns the raw result (protocol errors panic).
    pub async fn call(&self, name: &str, args: Value) -> CallToolResult {
        let mut params = CallToolRequestParams::new(name.to_owned());
        if let Value::Object(map) = args {
            params = params.with_arguments(map);
        }
        self.client
            .call_tool(params)
            .await
            .unwrap_or_else(|e| panic!("{name}: protocol error {e:?}"))
    }

    /// Calls a tool that must succeed; returns its structured content, checked against the
    /// tool's `outputSchema`.
    pub async fn ok(&self, name: &str, args: Value) -> Value {
        let result = self.call(name, args).await;
        assert_ne!(
            result.is_error,
            Some(true),
            "{name} failed: {}",
            text_of(&result)
        );
        let structured = result
            .structured_content
            .clone()
            .unwrap_or_else(|| panic!("{name}: no structured content"));
        assert_valid(self.tool(name), &structured);
        structured
    }

    /// `wait_for_sms` on `order_id` for at most `timeout_seconds`, which must succeed.
    pub async fn wait_sms(&self, order_id: &str, timeout_seconds: u64) -> Value {
        self.ok(
            "wait_for_sms",
            serde_json::json!({"order_id": order_id, "timeout_seconds": timeout_seconds}),
        )
        .await
    }

    /// Delivers an SMS with `text` to `order_id` at the fake after `delay`, in the background.
    pub fn deliver_later(&self, order_id: &str, text: &'static str, delay: Duration) {
        let fake = self.fake.clone();
        let id = order_id.to_owned();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            fake.deliver_sms(&id, Some(text)).unwrap();
        });
    }

    /// Calls a tool that must fail with an `isError` result; returns its text.
    pub async fn err(&self, name: &str, args: Value) -> String {
        let result = self.call(name, args).await;
        assert_eq!(
            result.is_error,
            Some(true),
            "{name} should fail: {result:?}"
        );
        assert!(
            result.structured_content.is_none(),
            "error results are text-only"
        );
        let text = text_of(&result);
        assert!(!text.contains(KEY), "API key leaked in error: {text}");
        text
    }

    /// The requests the fake saw, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.fake.requests()
    }

    pub fn last_request(&self) -> RecordedRequest {
        self.fake.requests().pop().expect("the fake saw a request")
    }

    /// Rents a whatsapp number in the US for `hours` and returns the order.
    pub async fn rental(&self, hours: u32) -> Value {
        self.ok(
            "create_order",
            serde_json::json!({"service": "whatsapp", "country": "us", "rental_hours": hours}),
        )
        .await
    }

    /// Buys a telegram number in the US and returns its order id.
    pub async fn order(&self) -> String {
        let order = self.buy().await;
        order["order_id"].as_str().expect("order_id").to_owned()
    }

    /// `create_order` for telegram in the US, which must succeed: the whole order.
    pub async fn buy(&self) -> Value {
        self.ok("create_order", buy_args()).await
    }

    /// `create_order` for telegram in the US, which must fail: the error's text.
    pub async fn buy_refused(&self) -> String {
        self.err("create_order", buy_args()).await
    }
}

/// A server over the SMSCode backend alone (until the multi-provider App builds it).
fn smscode_server(base_url: &str, mut config: Config) -> VirtualSmsServer {
    config.smscode = Some(SmsCodeSettings {
        token: Some(ApiKey::new(KEY)),
        base_url: base_url.to_owned(),
        idr_per_usd: Some(IDR_PER_USD as f64),
        rate_limit_per_minute: 0,
    });
    config.providers = vec!["smscode".to_owned()];
    let key = KeySlot::new(Some(ApiKey::new(KEY)));
    let providers =
        virtualsms_mcp::providers::build(&config, key.clone()).expect("providers build");
    VirtualSmsServer::new(providers, key, config)
}

pub fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The usual purchase: telegram in the US.
fn buy_args() -> Value {
    serde_json::json!({"service": "telegram", "country": "us"})
}

/// Fails the test when `value` does not validate against `tool`'s output schema, or carries a
/// field the schema does not name (the schema is closed for the check, where it does not say
/// `additionalProperties` itself): a field the lean schema left out (`src/tools/lean.rs`)
/// would be sent undocumented.
pub fn assert_valid(tool: &Tool, value: &Value) {
    let mut schema = Value::Object(
        tool.output_schema
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no outputSchema", tool.name))
            .as_ref()
            .clone(),
    );
    close(&mut schema);
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("{}: bad schema: {e}", tool.name));
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{} output does not match its outputSchema: {errors:?}\n{value:#}",
        tool.name
    );
}

/// `additionalProperties: false` on every object schema that lists its properties and says
/// nothing of others.
fn close(schema: &mut Value) {
    match schema {
        Value::Object(node) => {
            if node.contains_key("properties") && !node.contains_key("additionalProperties") {
                node.insert("additionalProperties".into(), Value::Bool(false));
            }
            node.values_mut().for_each(close);
        }
        Value::Array(list) => list.iter_mut().for_each(close),
        _ => {}
    }
}

/// Runs one test body against a server on each backend: `mod <name> { v1, v2, smscode }`, so a
/// failure names the test and the backend (ripgrep's `rgtest!` runs each test per regex engine).
/// `#[skip(smscode)]` first leaves SMSCode out of a test of a tool it does not offer (say why in
/// a comment above it).
#[macro_export]
macro_rules! per_backend {
    // `#[skip(smscode, smsverificationservice)]` first: a skipped provider's case reports the
    // skip and passes (give the reason in a comment above it).
    (#[skip($($skip:ident),+)] $(#[$meta:meta])* async fn $name:ident($h:ident: Harness) $body:block) => {
        $crate::per_backend!(@cases [$($skip),+] $(#[$meta])* async fn $name($h: Harness) $body);
    };
    ($(#[$meta:meta])* async fn $name:ident($h:ident: Harness) $body:block) => {
        $crate::per_backend!(@cases [] $(#[$meta])* async fn $name($h: Harness) $body);
    };
    (@cases [$($skip:ident),*] $(#[$meta:meta])* async fn $name:ident($h:ident: Harness) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::common::{Dialect, Harness};

            async fn run($h: Harness) $body

            $crate::per_backend!(@case v1 V1 [$($skip),*]);
            $crate::per_backend!(@case v2 V2 [$($skip),*]);
            $crate::per_backend!(@case smscode SmsCode [$($skip),*]);
            $crate::per_backend!(@case smsverificationservice Svs [$($skip),*]);
        }
    };
    (@case $case:ident $dialect:ident [$($skip:ident),*]) => {
        #[tokio::test]
        async fn $case() {
            let skipped: &[&str] = &[$(stringify!($skip)),*];
            if skipped.contains(&stringify!($case)) {
                eprintln!("skipped on {} (see the reason at the test)", stringify!($case));
                return;
            }
            run(Harness::on(Dialect::$dialect).await).await
        }
    };
}

/// Assertion on a recorded request's method, path and bearer header.
pub fn assert_call(req: &RecordedRequest, method: &str, path: &str) {
    assert_eq!(req.method, method, "{req:?}");
    assert_eq!(req.path, format!("/api/v2{path}"), "{req:?}");
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {KEY}").as_str()),
        "bearer header on {path}"
    );
    let ua = req.header("user-agent").unwrap_or_default();
    assert!(ua.starts_with("virtualsms-mcp/"), "user-agent {ua:?}");
}

/// Query string as sorted `k=v` pairs, for order-independent comparison.
pub fn query_pairs(req: &RecordedRequest) -> Vec<String> {
    let mut pairs: Vec<String> = req
        .query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    pairs.sort();
    pairs
}
