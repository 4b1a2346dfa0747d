//! x402 self-funding end to end: a real MCP client → the server → the fake's x402 endpoint,
//! which recovers the signer from every signature and checks every field.
//!
//! The rules these tests hold the code to:
//! - `topup_balance` is listed only when a wallet key is configured, and never in read-only mode;
//! - without an API key, a top-up issues a new key that is written to the credentials file
//!   (mode 0600) before it is used, is then used as `Bearer` by every other tool, and is picked
//!   up by the next server started without a key; with a key, that key goes as `x-api-key` and
//!   its balance grows;
//! - a manifest with the wrong scheme, network, asset, amount, timeout or payee is refused
//!   WITHOUT signing (the fake sees no `X-PAYMENT`); so is a payee that cannot be confirmed;
//! - amounts over the cap (per top-up and per process) are refused before any request;
//! - the paid request is sent once and never retried; a lost answer is reported as an unknown
//!   outcome; a replayed `X-PAYMENT` gets a 402 from the fake;
//! - the private key, the signature and the `X-PAYMENT` value never appear in any output, and
//!   an issued key appears only masked.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::common::{fake_options, test_config, text_of, Harness, Recorder, KEY};
use base64::Engine as _;
use rmcp::model::CallToolRequestParams;
use rmcp::ServiceExt;
use serde_json::{json, Value};
use virtualsms_mcp::app::App;
use virtualsms_mcp::config::Config;
use virtualsms_mcp::sandbox::x402::ManifestTamper;
use virtualsms_mcp::sandbox::{FakeApi, Fault};
use virtualsms_mcp::x402::eip3009::Wallet;

/// The wallet the tests pay from. Its hex (without `0x`) must never appear in any output.
const WALLET_KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

/// Every text the server produced in this test binary, scanned at the end of each test.
static OUTPUTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// A directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(tag: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!(
        "vsms-x402-{tag}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

/// Configures the wallet, the fake's x402 endpoint and a credentials file in `dir`.
fn with_wallet(config: &mut Config, dir: &Path) {
    config.x402.wallet = Some(Wallet::from_hex(WALLET_KEY).unwrap());
    config.x402.base_url = config.base_url.replace("/api/v2", "/api/v1");
    config.x402.credentials_file = Some(dir.join("credentials.json"));
    config.x402.pay_to = None;
    config.x402.max_topup_usd = 20.0;
}

async fn wallet_harness(dir: &Path, edit: impl FnOnce(&mut Config)) -> Harness {
    Harness::with(fake_options(), |c| {
        with_wallet(c, dir);
        edit(c);
    })
    .await
}

async fn call(h: &Harness, name: &str, args: Value) -> rmcp::model::CallToolResult {
    let result = h.call(name, args).await;
    let mut out = OUTPUTS.lock().unwrap();
    out.push(text_of(&result));
    if let Some(s) = &result.structured_content {
        out.push(s.to_string());
    }
    result
}

async fn topup_ok(h: &Harness, amount: f64) -> Value {
    let result = call(h, "topup_balance", json!({ "amount_usd": amount })).await;
    assert_ne!(result.is_error, Some(true), "{}", text_of(&result));
    let s = result.structured_content.expect("structured content");
    crate::common::assert_valid(h.tool("topup_balance"), &s);
    s
}

async fn topup_err(h: &Harness, amount: Value) -> String {
    let result = call(h, "topup_balance", json!({ "amount_usd": amount })).await;
    assert_eq!(result.is_error, Some(true), "should fail: {result:?}");
    assert!(result.structured_content.is_none());
    text_of(&result)
}

/// The decoded `X-PAYMENT` headers the fake received.
fn payments(fake: &FakeApi) -> Vec<(String, Value)> {
    fake.x402()
        .requests()
        .iter()
        .filter_map(|r| r.header("x-payment").map(str::to_owned))
        .map(|h| {
            let json = base64::engine::general_purpose::STANDARD
                .decode(&h)
                .expect("standard base64");
            (h, serde_json::from_slice(&json).expect("JSON"))
        })
        .collect()
}

/// No output of this binary so far holds the private key, a signature or a payment header.
fn assert_no_secrets(fake: &FakeApi) {
    let key_hex = WALLET_KEY.trim_start_matches("0x");
    let mut secrets = vec![key_hex.to_owned(), key_hex.to_uppercase()];
    for (header, json) in payments(fake) {
        let sig = json["payload"]["signature"].as_str().unwrap().to_owned();
        secrets.push(sig.trim_start_matches("0x").to_owned());
        secrets.push(header);
    }
    for text in OUTPUTS.lock().unwrap().iter() {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a secret leaked into: {text}"
            );
        }
    }
}

#[tokio::test]
async fn topup_tool_is_listed_only_with_a_wallet() {
    let plain = Harness::start().await;
    assert!(plain.tools().iter().all(|t| t.name != "topup_balance"));

    let dir = temp_dir("listed");
    let h = wallet_harness(&dir, |_| {}).await;
    let tool = h.tool("topup_balance");
    let a = tool.annotations.as_ref().expect("annotations");
    assert_eq!(a.read_only_hint, Some(false));
    assert_eq!(a.destructive_hint, Some(false));
    assert_eq!(a.idempotent_hint, Some(false));
    assert_eq!(a.open_world_hint, Some(true));
    assert!(a.title.as_deref().unwrap().contains("charges the wallet"));
    assert_eq!(h.tools().len(), plain.tools().len() + 1);
    let schema = serde_json::to_value(&tool.input_schema).unwrap();
    assert_eq!(schema["required"], json!(["amount_usd"]));

    let read_only = wallet_harness(&dir, |c| c.guard.read_only = true).await;
    assert!(read_only.tools().iter().all(|t| t.name != "topup_balance"));
}

#[tokio::test]
async fn without_a_key_a_new_key_is_issued_saved_and_used() {
    let dir = temp_dir("issue");
    let h = wallet_harness(&dir, |c| c.api_key = None).await;
    let before = call(&h, "get_balance", json!({})).await;
    assert_eq!(before.is_error, Some(true), "no key yet");

    let out = topup_ok(&h, 5.0).await;
    assert_eq!(out["amount_usd"], 5.0);
    assert_eq!(out["balance_usd"], 5.0);
    assert_eq!(out["api_key_status"], "issued");
    assert_eq!(out["network"], "base");
    assert_eq!(out["pay_to"], h.fake.x402().pay_to());
    assert_eq!(
        out["payer"],
        Wallet::from_hex(WALLET_KEY).unwrap().address().to_string()
    );
    assert!(out["tx_hash"].as_str().unwrap().starts_with("0x"));
    assert_eq!(out["topup_left_usd"], 15.0);
    let path = dir.join("credentials.json");
    assert_eq!(out["credentials_file"], path.display().to_string());

    // The file: mode 0600, holding the whole key; the result shows it masked only.
    let saved: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let issued = saved["api_key"].as_str().unwrap().to_owned();
    assert!(issued.starts_with("vsms_sandbox_"), "{issued}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let masked = out["api_key"].as_str().unwrap();
    assert_eq!(masked, format!("vsms_…{}", &issued[issued.len() - 4..]));
    assert!(!out.to_string().contains(&issued));

    // The wire: info, ask (no key), pay once (no key); the fake settled exactly once.
    let reqs = h.fake.x402().requests();
    let shape: Vec<(&str, &str, bool)> = reqs
        .iter()
        .map(|r| {
            (
                r.method.as_str(),
                r.path.as_str(),
                r.header("x-payment").is_some(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("GET", "/api/v1/x402/info", false),
            ("POST", "/api/v1/x402/topup", false),
            ("POST", "/api/v1/x402/topup", true)
        ]
    );
    assert!(reqs.iter().all(|r| r.header("x-api-key").is_none()));
    let body: Value = serde_json::from_str(&reqs[1].body).unwrap();
    assert_eq!(body["amount_usd"], 5.0);
    assert_eq!(h.fake.x402().settled_count(), 1);
    let (_, payment) = &payments(&h.fake)[0];
    let auth = &payment["payload"]["authorization"];
    assert_eq!(auth["value"], "5000000");
    assert_eq!(auth["to"], h.fake.x402().pay_to());
    let (after, before) = (
        auth["validAfter"].as_str().unwrap().parse::<u64>().unwrap(),
        auth["validBefore"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap(),
    );
    assert_eq!(
        before - after,
        600 + 300,
        "now-600 .. now+maxTimeoutSeconds"
    );

    // Every other tool now uses the issued key.
    let balance = h.ok("get_balance", json!({})).await;
    assert_eq!(balance["balance"], 5.0);
    assert_eq!(
        h.last_request().header("authorization"),
        Some(format!("Bearer {issued}").as_str())
    );
    assert_eq!(h.fake.balance_cents(&issued), 500);
    for text in OUTPUTS.lock().unwrap().iter() {
        assert!(!text.contains(&issued), "the whole key leaked: {text}");
    }
    assert_no_secrets(&h.fake);
}

#[tokio::test]
async fn with_a_key_that_key_is_topped_up() {
    let dir = temp_dir("existing");
    let h = wallet_harness(&dir, |_| {}).await;
    let out = topup_ok(&h, 3.0).await;
    assert_eq!(out["api_key_status"], "topped_up");
    assert_eq!(
        out["balance_usd"], 103.0,
        "the test accounts start with $100"
    );
    for r in h
        .fake
        .x402()
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
    {
        assert_eq!(r.header("x-api-key"), Some(KEY));
    }
    let balance = h.ok("get_balance", json!({})).await;
    assert_eq!(balance["balance"], 103.0);
    crate::common::assert_call(&h.last_request(), "GET", "/me/balance");
    for text in OUTPUTS.lock().unwrap().iter() {
        assert!(!text.contains(KEY), "the API key leaked: {text}");
    }
    assert_no_secrets(&h.fake);
}

#[tokio::test]
async fn dishonest_manifests_are_refused_without_signing() {
    let dir = temp_dir("tamper");
    let h = wallet_harness(&dir, |c| c.api_key = None).await;
    for (tamper, reason) in [
        (ManifestTamper::Network, "network `base`"),
        (ManifestTamper::Scheme, "`exact`"),
        (ManifestTamper::Asset, "not USDC on Base"),
        (ManifestTamper::Amount, "not the $5 requested"),
        (ManifestTamper::PayTo, "is not the VirtualSMS Base wallet"),
        (ManifestTamper::Timeout, "maxTimeoutSeconds is 86400"),
    ] {
        h.fake.x402().set_tamper(Some(tamper));
        let text = topup_err(&h, json!(5)).await;
        assert!(text.starts_with("Refused, nothing was charged"), "{text}");
        assert!(text.contains("Nothing was signed"), "{text}");
        assert!(text.contains(reason), "{tamper:?}: {text}");
    }
    assert_eq!(
        h.fake.x402().payment_attempts(),
        0,
        "no X-PAYMENT was ever sent"
    );
    assert_eq!(h.fake.x402().settled_count(), 0);
    assert!(!dir.join("credentials.json").exists());

    // Refusals do not count against the cap: the honest manifest still goes through.
    h.fake.x402().set_tamper(None);
    let out = topup_ok(&h, 20.0).await;
    assert_eq!(out["api_key_status"], "issued");
    assert_no_secrets(&h.fake);
}

#[tokio::test]
async fn the_payee_must_be_confirmed() {
    let dir = temp_dir("payee");
    let h = wallet_harness(&dir, |_| {}).await;
    h.fake.x402().set_info_available(false);
    let text = topup_err(&h, json!(2)).await;
    assert!(
        text.contains("cannot confirm where the money would go"),
        "{text}"
    );
    assert!(text.contains("VIRTUALSMS_X402_PAY_TO"), "{text}");
    let reqs = h.fake.x402().requests();
    assert_eq!(reqs.len(), 1, "only the info request: {reqs:?}");

    // A pin that disagrees with /x402/info is refused too.
    h.fake.x402().set_info_available(true);
    let pinned = wallet_harness(&dir, |c| {
        c.x402.pay_to = Some(
            virtualsms_mcp::x402::eip3009::Address::parse(
                "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
            )
            .unwrap(),
        )
    })
    .await;
    let text = topup_err(&pinned, json!(2)).await;
    assert!(text.contains("pins"), "{text}");
    assert_eq!(pinned.fake.x402().payment_attempts(), 0);

    // With info down, the right pin stands in for it.
    let pay_to = h.fake.x402().pay_to();
    let ok = wallet_harness(&dir, |c| {
        c.x402.pay_to = Some(virtualsms_mcp::x402::eip3009::Address::parse(&pay_to).unwrap())
    })
    .await;
    ok.fake.x402().set_info_available(false);
    let out = topup_ok(&ok, 2.0).await;
    assert_eq!(out["pay_to"], pay_to);
    assert_no_secrets(&ok.fake);
}

#[tokio::test]
async fn amounts_over_the_cap_are_refused_before_any_request() {
    let dir = temp_dir("cap");
    let h = wallet_harness(&dir, |c| c.x402.max_topup_usd = 10.0).await;
    let text = topup_err(&h, json!(25)).await;
    assert!(
        text.contains("above this server's cap of $10 per top-up"),
        "{text}"
    );
    assert!(h.fake.x402().requests().is_empty());

    for bad in [json!(1.5), json!(2.001), json!(20000)] {
        let text = topup_err(&h, bad.clone()).await;
        assert!(text.contains("`amount_usd`"), "{bad}: {text}");
    }
    // Not a number: rmcp's own argument error.
    topup_err(&h, json!("ten")).await;
    assert!(h.fake.x402().requests().is_empty());

    // The cap also bounds the process total.
    topup_ok(&h, 6.0).await;
    let seen = h.fake.x402().requests().len();
    let text = topup_err(&h, json!(6)).await;
    assert!(text.contains("already topped up $6"), "{text}");
    assert_eq!(h.fake.x402().requests().len(), seen, "no request");
    let out = topup_ok(&h, 4.0).await;
    assert_eq!(out["topup_left_usd"], 0.0);
    assert_no_secrets(&h.fake);
}

#[tokio::test]
async fn a_replayed_payment_header_gets_402() {
    let dir = temp_dir("replay");
    let h = wallet_harness(&dir, |c| c.api_key = None).await;
    topup_ok(&h, 2.0).await;
    let (header, _) = payments(&h.fake).remove(0);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = format!("{}/x402/topup", h.fake_handle.x402_base_url());
    let replay = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .header("x-payment", &header)
        .body(r#"{"amount_usd": 2.0}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status().as_u16(), 402);
    let body: Value = replay.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("already used"),
        "{body}"
    );
    assert_eq!(h.fake.x402().settled_count(), 1);
    assert_no_secrets(&h.fake);
}

#[tokio::test]
async fn a_lost_answer_is_an_unknown_outcome_and_is_not_retried() {
    let dir = temp_dir("lost");
    let h = wallet_harness(&dir, |c| c.api_key = None).await;
    h.fake.x402().drop_next_payment_answer();
    let text = topup_err(&h, json!(2)).await;
    assert!(text.contains("OUTCOME IS UNKNOWN"), "{text}");
    assert!(text.contains("will NOT be re-sent"), "{text}");
    assert_eq!(
        h.fake.x402().payment_attempts(),
        1,
        "sent once, never retried"
    );
    assert_eq!(h.fake.x402().settled_count(), 1);
    // It stays counted against the cap: it may have been charged.
    let text = topup_err(&h, json!(19)).await;
    assert!(text.contains("already topped up $2"), "{text}");
    assert_no_secrets(&h.fake);
}

#[tokio::test]
async fn the_key_is_saved_before_first_use_and_picked_up_at_the_next_start() {
    let dir = temp_dir("crash");
    let path = dir.join("credentials.json");
    let h = wallet_harness(&dir, |c| c.api_key = None).await;
    topup_ok(&h, 7.0).await;
    // The first use fails (as if the process died right after the top-up) ...
    h.fake.inject(
        Fault::Problem {
            status: 401,
            slug: "unauthorized".into(),
            retry_after: None,
        },
        1,
    );
    let first = call(&h, "get_balance", json!({})).await;
    assert_eq!(first.is_error, Some(true));
    // ... and the key is already on disk.
    let saved: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let issued = saved["api_key"].as_str().unwrap().to_owned();
    assert!(issued.starts_with("vsms_sandbox_"));
    let fake = h.fake.clone();
    let addr = h.fake_handle.addr;
    drop(h.client);

    // A new server with no API key but the same credentials file picks the key up.
    let mut config = test_config(&format!("http://{addr}/api/v2"));
    config.api_key = None;
    config.x402.credentials_file = Some(path.clone());
    let app = App::new(config).await.expect("app starts");
    assert_eq!(
        app.server.state().key.get().map(|k| k.expose().to_owned()),
        Some(issued.clone())
    );
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = app.server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let client = Recorder::default().serve(client_io).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    assert!(
        tools.iter().all(|t| t.name != "topup_balance"),
        "no wallet: no top-up tool"
    );
    let result = client
        .call_tool(CallToolRequestParams::new("get_balance"))
        .await
        .unwrap();
    assert_ne!(result.is_error, Some(true), "{}", text_of(&result));
    assert_eq!(result.structured_content.unwrap()["balance"], 7.0);
    let last = fake.requests().pop().unwrap();
    assert_eq!(
        last.header("authorization"),
        Some(format!("Bearer {issued}").as_str())
    );
    assert_no_secrets(&fake);
}

#[tokio::test]
async fn a_key_that_cannot_be_saved_is_reported_masked_and_kept_in_use() {
    let dir = temp_dir("unsaved");
    let blocker = dir.join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let h = wallet_harness(&dir, |c| {
        c.api_key = None;
        c.x402.credentials_file = Some(blocker.join("credentials.json"));
    })
    .await;
    let text = topup_err(&h, json!(2)).await;
    assert!(text.contains("could not be saved"), "{text}");
    assert!(text.contains("vsms_…"), "{text}");
    assert_eq!(h.fake.x402().settled_count(), 1);
    // Still usable by this process, so the money is not stranded while it runs.
    let balance = h.ok("get_balance", json!({})).await;
    assert_eq!(balance["balance"], 2.0);
    assert_no_secrets(&h.fake);
}

#[tokio::test]
async fn the_cli_tops_up_the_sandbox_and_prints_json() {
    let home = temp_dir("cli");
    let run = |envs: Vec<(&str, String)>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_virtualsms-mcp"));
        cmd.env_clear()
            .env("HOME", &*home)
            .env("VIRTUALSMS_LOG", "debug")
            .args(["--sandbox", "topup", "--amount", "4"]);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output().expect("the binary runs")
    };
    let out = run(vec![(
        "VIRTUALSMS_WALLET_PRIVATE_KEY",
        WALLET_KEY.to_owned(),
    )]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let json: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(json["amount_usd"], 4.0);
    assert_eq!(json["balance_usd"], 4.0);
    assert_eq!(json["api_key_status"], "issued");
    let path = PathBuf::from(json["credentials_file"].as_str().unwrap());
    assert!(
        !path.starts_with(&*home),
        "sandbox keys stay out of the real config dir"
    );
    let saved: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let issued = saved["api_key"].as_str().unwrap();
    let key_hex = WALLET_KEY.trim_start_matches("0x");
    for text in [&stdout, &stderr] {
        assert!(!text.contains(key_hex), "private key leaked: {text}");
        assert!(!text.contains(issued), "whole key leaked: {text}");
        // base64 of `{"x402Version":` — the start of every X-PAYMENT value.
        assert!(
            !text.contains("eyJ4NDAyVmVyc2lvbiI6"),
            "X-PAYMENT leaked: {text}"
        );
        assert!(!text.contains("\"signature\""), "signature leaked: {text}");
    }
    let _ = std::fs::remove_dir_all(path.parent().unwrap());

    // No wallet: a clear error and a non-zero exit.
    let out = run(vec![]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("VIRTUALSMS_WALLET_PRIVATE_KEY"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[tokio::test]
async fn the_fake_refuses_forged_payments() {
    // A header signed by another key than `from` claims, straight to the fake.
    let fake = FakeApi::new(fake_options());
    let handle = fake
        .spawn(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let wallet = Wallet::from_hex(WALLET_KEY).unwrap();
    let thief = Wallet::from_hex(&format!("0x{}", "22".repeat(32))).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let auth = virtualsms_mcp::x402::eip3009::Authorization {
        from: wallet.address(),
        to: virtualsms_mcp::x402::eip3009::Address::parse(&fake.x402().pay_to()).unwrap(),
        value: 2_000_000,
        valid_after: now - 600,
        valid_before: now + 300,
        nonce: [7; 32],
    };
    let digest = auth.digest(&virtualsms_mcp::x402::eip3009::Domain::base_usdc());
    let forged =
        virtualsms_mcp::x402::PaymentHeader::new(&auth, &thief.sign_digest(&digest).unwrap());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let post = |header: String| {
        http.post(format!("{}/x402/topup", handle.x402_base_url()))
            .header("x-payment", header)
            .body(r#"{"amount_usd": 2}"#)
            .send()
    };
    let answer = post(forged.expose().to_owned()).await.unwrap();
    assert_eq!(answer.status().as_u16(), 402);
    let body: Value = answer.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("invalid signature"),
        "{body}"
    );

    // The honest signature of the same message settles, once.
    let honest =
        virtualsms_mcp::x402::PaymentHeader::new(&auth, &wallet.sign_digest(&digest).unwrap());
    let answer = post(honest.expose().to_owned()).await.unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    assert!(answer.headers().contains_key("x-payment-response"));
    assert_eq!(
        post(honest.expose().to_owned())
            .await
            .unwrap()
            .status()
            .as_u16(),
        402
    );
    assert_eq!(fake.x402().settled_count(), 1);
}
