//! x402 self-funding end to end: a real MCP client (or the real binary) → the server → the
//! fake's x402 endpoint, which verifies every payment like a facilitator: it recovers the
//! signer of every EIP-3009 signature, and parses and checks every Solana transaction with its
//! own code (`src/sandbox/solana.rs`), against blockhashes its own Solana RPC handed out.
//!
//! The rules these tests hold the code to:
//! - `topup_balance` is listed only when a wallet key is configured, and never in read-only mode;
//! - Base and Solana (USDC and USDT), in the v1 envelope (body manifest, `X-PAYMENT`) and v2
//!   (`PAYMENT-REQUIRED` / `PAYMENT-SIGNATURE` with `accepted` copied verbatim /
//!   `PAYMENT-RESPONSE`), each through `topup_balance` and through `virtualsms-mcp --sandbox
//!   topup --amount 5`; exactly one payment header per payment, never both;
//! - a Solana requirement with the wrong network, mint, amount or payee, without a fee payer
//!   (the documented VirtualSMS manifest: refused plainly, pointing to Base) or naming the
//!   wallet itself as fee payer is refused WITHOUT signing — no blockhash is even fetched; a
//!   BNB-only manifest is "not supported", unsigned;
//! - a Solana payment whose answer is lost is reported as unknown with its last valid block
//!   height, and no other payment is signed until the chain has passed that height;
//! - without an API key, a top-up issues a new key that is written to the credentials file
//!   (mode 0600) before it is used, is then used as `Bearer` by every other tool, and is picked
//!   up by the next server started without a key; with a key, that key goes as `x-api-key` and
//!   its balance grows;
//! - a manifest with the wrong scheme, network, asset, amount, timeout or payee is refused
//!   WITHOUT signing (the fake sees no `X-PAYMENT`); so is a payee that cannot be confirmed;
//! - amounts over the cap (per top-up and per process) are refused before any request;
//! - the paid request is sent once and never retried; a lost answer is reported as an unknown
//!   outcome; a replayed `X-PAYMENT` gets a 402 from the fake;
//! - neither private key (Base hex, Solana JSON array or base58), no signature, transaction or
//!   payment header value ever appears in any output, and an issued key appears only masked.

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
use virtualsms_mcp::sandbox::x402::{ManifestTamper, FAKE_SOLANA_PAY_TO};
use virtualsms_mcp::sandbox::{FakeApi, Fault};
use virtualsms_mcp::x402::eip3009::Wallet;
use virtualsms_mcp::x402::svm::Keypair;
use virtualsms_mcp::x402::{Network, Version};

/// The wallet the tests pay from. Its hex (without `0x`) must never appear in any output.
const WALLET_KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

const USDC_MINT: &str = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";
const USDT_MINT: &str = "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB";

/// The Solana wallet's seed; the keypair file holds it and the public key (64 bytes).
const SOLANA_SEED: [u8; 32] = [0x5a; 32];

/// The Solana keypair as `solana-keygen` writes it: a JSON array of 64 numbers.
fn solana_key_json() -> String {
    serde_json::to_string(&solana_key_bytes()).unwrap()
}

fn solana_key_bytes() -> Vec<u8> {
    let public = ed25519_dalek::SigningKey::from_bytes(&SOLANA_SEED)
        .verifying_key()
        .to_bytes();
    let mut bytes = SOLANA_SEED.to_vec();
    bytes.extend_from_slice(&public);
    bytes
}

fn solana_pubkey() -> String {
    Keypair::parse(&solana_key_json())
        .unwrap()
        .pubkey()
        .to_string()
}

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

/// Configures the Solana wallet (and no Base wallet) and the fake's Solana RPC.
fn with_solana_wallet(config: &mut Config, dir: &Path) {
    with_wallet(config, dir);
    config.x402.wallet = None;
    config.x402.solana_wallet = Some(Keypair::parse(&solana_key_json()).unwrap());
    config.x402.network = Network::Solana;
    config.x402.solana_rpc_url = config.base_url.replace("/api/v2", "/solana-rpc");
}

async fn solana_harness(dir: &Path, edit: impl FnOnce(&mut Config)) -> Harness {
    Harness::with(fake_options(), |c| {
        with_solana_wallet(c, dir);
        edit(c);
    })
    .await
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

/// The decoded payment headers (`X-PAYMENT` or `PAYMENT-SIGNATURE`) the fake received.
fn payments(fake: &FakeApi) -> Vec<(String, Value)> {
    fake.x402()
        .requests()
        .iter()
        .filter_map(|r| {
            let v1 = r.header("x-payment");
            let v2 = r.header("payment-signature");
            assert!(v1.is_none() || v2.is_none(), "never both payment headers");
            v1.or(v2).map(str::to_owned)
        })
        .map(|h| {
            let json = base64::engine::general_purpose::STANDARD
                .decode(&h)
                .expect("standard base64");
            (h, serde_json::from_slice(&json).expect("JSON"))
        })
        .collect()
}

/// The private keys in every spelling a leak could take.
fn private_key_forms() -> Vec<String> {
    let key_hex = WALLET_KEY.trim_start_matches("0x");
    let bytes = solana_key_bytes();
    vec![
        key_hex.to_owned(),
        key_hex.to_uppercase(),
        solana_key_json(),
        solana_key_json().replace(',', ", "),
        bs58::encode(&bytes).into_string(),
        bs58::encode(SOLANA_SEED).into_string(),
        SOLANA_SEED.iter().map(|b| format!("{b:02x}")).collect(),
    ]
}

/// No output of this binary so far holds a private key, a signature, a transaction or a
/// payment header.
fn assert_no_secrets(fake: &FakeApi) {
    let mut secrets = private_key_forms();
    for (header, json) in payments(fake) {
        let payload = &json["payload"];
        if let Some(sig) = payload["signature"].as_str() {
            secrets.push(sig.trim_start_matches("0x").to_owned());
        }
        if let Some(tx) = payload["transaction"].as_str() {
            secrets.push(tx.to_owned());
            let wire = base64::engine::general_purpose::STANDARD
                .decode(tx)
                .unwrap();
            secrets.push(bs58::encode(&wire[65..129]).into_string());
        }
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

/// The Solana transaction of a payment, as wire bytes.
fn transaction(payment: &Value) -> Vec<u8> {
    let tx = payment["payload"]["transaction"]
        .as_str()
        .expect("a transaction");
    base64::engine::general_purpose::STANDARD
        .decode(tx)
        .unwrap()
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
        h.fake.x402().set_tamper(Some(tamper.clone()));
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
    h.fake.inject(Fault::problem(401, "unauthorized"), 1);
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
    let args = ["--sandbox", "topup", "--amount", "4"];
    let wallet = ("VIRTUALSMS_WALLET_PRIVATE_KEY", WALLET_KEY.to_owned());
    // run_binary scans stdout and stderr for the keys, signatures and payment headers.
    let (ok, stdout, stderr) = run_binary(&home, &args, &[wallet]);
    assert!(ok, "{stdout}\n{stderr}");
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
    for text in [&stdout, &stderr] {
        assert!(!text.contains(issued), "whole key leaked: {text}");
    }
    let _ = std::fs::remove_dir_all(path.parent().unwrap());

    // No wallet: a clear error naming both kinds of wallet, and a non-zero exit.
    let (ok, stdout, stderr) = run_binary(&home, &args, &[]);
    assert!(!ok);
    assert!(stderr.contains("VIRTUALSMS_WALLET_PRIVATE_KEY"), "{stderr}");
    assert!(stderr.contains("VIRTUALSMS_SOLANA_KEY_FILE"), "{stderr}");
    assert!(stdout.is_empty());
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
    let header = |signature| {
        let payload = virtualsms_mcp::x402::eip3009::payload(&auth, &signature);
        let doc =
            json!({"x402Version": 1, "scheme": "exact", "network": "base", "payload": payload});
        base64::engine::general_purpose::STANDARD.encode(doc.to_string())
    };
    let forged = header(thief.sign_digest(&digest).unwrap());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let post = |header: String| {
        http.post(format!("{}/x402/topup", handle.x402_base_url()))
            .header("x-payment", header)
            .body(r#"{"amount_usd": 2}"#)
            .send()
    };
    let answer = post(forged).await.unwrap();
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
    let honest = header(wallet.sign_digest(&digest).unwrap());
    let answer = post(honest.clone()).await.unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    assert!(answer.headers().contains_key("x-payment-response"));
    assert_eq!(post(honest).await.unwrap().status().as_u16(), 402);
    assert_eq!(fake.x402().settled_count(), 1);
}

#[tokio::test]
async fn solana_v1_pays_usdc_with_the_three_instruction_transaction() {
    let dir = temp_dir("sol-v1");
    let h = solana_harness(&dir, |c| c.api_key = None).await;
    assert!(h.tools().iter().any(|t| t.name == "topup_balance"));
    let out = topup_ok(&h, 5.0).await;
    assert_eq!(out["network"], "solana");
    assert_eq!(out["token"], "USDC");
    assert_eq!(out["x402_version"], 1);
    assert_eq!(out["payer"], solana_pubkey());
    assert_eq!(out["pay_to"], FAKE_SOLANA_PAY_TO);
    assert_eq!(out["balance_usd"], 5.0);
    assert_eq!(out["api_key_status"], "issued");
    let tx_id = bs58::decode(out["tx_hash"].as_str().unwrap())
        .into_vec()
        .unwrap();
    assert_eq!(tx_id.len(), 64, "the fee payer's signature");

    // The chain: the payee's USDC account was credited by the fake facilitator.
    let chain = h.fake.x402().solana();
    assert_eq!(
        chain.token_balance(FAKE_SOLANA_PAY_TO, USDC_MINT),
        5_000_000
    );
    assert_eq!(chain.rpc_calls(), ["getLatestBlockhash"]);
    // The wire: X-PAYMENT only, v1 network name, 3 instructions (no memo in v1 without one).
    let reqs = h.fake.x402().requests();
    assert!(reqs.iter().all(|r| r.header("payment-signature").is_none()));
    let paid = payments(&h.fake);
    assert_eq!(paid.len(), 1);
    let (_, payment) = &paid[0];
    assert_eq!(payment["x402Version"], 1);
    assert_eq!(payment["network"], "solana");
    let wire = transaction(payment);
    assert_eq!(wire[0], 2, "two signature slots");
    assert!(
        wire[1..65].iter().all(|b| *b == 0),
        "the fee payer's slot is empty"
    );
    assert_eq!(
        &wire[129..133],
        &[0x80, 2, 1, 3],
        "v0, 3 read-only programs/mint: no memo"
    );
    assert_eq!(
        bs58::encode(&wire[134..166]).into_string(),
        h.fake.x402().solana_fee_payer(),
        "key 0 is the fee payer"
    );

    let balance = h.ok("get_balance", json!({})).await;
    assert_eq!(balance["balance"], 5.0);
    let saved: Value =
        serde_json::from_slice(&std::fs::read(dir.join("credentials.json")).unwrap()).unwrap();
    assert_eq!(saved["network"], "solana");
    assert_eq!(saved["wallet"], solana_pubkey());
    assert_no_secrets(&h.fake);
}

#[tokio::test]
async fn solana_v2_pays_usdt_with_payment_signature_and_a_memo() {
    let dir = temp_dir("sol-v2");
    let h = solana_harness(&dir, |c| c.x402.token = virtualsms_mcp::x402::svm::USDT).await;
    h.fake.x402().set_version(Version::V2);
    let out = topup_ok(&h, 3.0).await;
    assert_eq!(out["network"], "solana");
    assert_eq!(out["token"], "USDT");
    assert_eq!(out["x402_version"], 2);
    assert_eq!(out["api_key_status"], "topped_up");
    assert_eq!(out["balance_usd"], 103.0);
    let chain = h.fake.x402().solana();
    assert_eq!(
        chain.token_balance(FAKE_SOLANA_PAY_TO, USDT_MINT),
        3_000_000
    );
    // The payer's USDT account (it starts with $1000 on the fake chain) was debited.
    assert_eq!(
        chain.token_balance(&solana_pubkey(), USDT_MINT),
        1_000_000_000 - 3_000_000
    );

    let reqs = h.fake.x402().requests();
    assert!(
        reqs.iter().all(|r| r.header("x-payment").is_none()),
        "v2: no X-PAYMENT"
    );
    let (_, payment) = payments(&h.fake).remove(0);
    assert_eq!(payment["x402Version"], 2);
    let accepted = &payment["accepted"];
    assert_eq!(
        accepted["network"],
        "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"
    );
    assert_eq!(accepted["asset"], USDT_MINT);
    assert_eq!(accepted["amount"], "3000000");
    assert_eq!(
        accepted["extra"]["feePayer"],
        h.fake.x402().solana_fee_payer()
    );
    assert_eq!(
        payment["resource"]["url"],
        "https://virtualsms.io/api/v1/x402/topup"
    );
    let wire = transaction(&payment);
    assert_eq!(
        &wire[129..133],
        &[0x80, 2, 1, 4],
        "v2 adds the memo program"
    );
    assert_no_secrets(&h.fake);
}

#[tokio::test]
async fn base_v2_pays_with_payment_signature() {
    let dir = temp_dir("base-v2");
    let h = wallet_harness(&dir, |c| c.api_key = None).await;
    h.fake.x402().set_version(Version::V2);
    let out = topup_ok(&h, 4.0).await;
    assert_eq!(out["network"], "base");
    assert_eq!(out["x402_version"], 2);
    assert_eq!(out["balance_usd"], 4.0);
    assert!(out["tx_hash"].as_str().unwrap().starts_with("0x"));
    let (_, payment) = payments(&h.fake).remove(0);
    assert_eq!(payment["accepted"]["network"], "eip155:8453");
    assert_eq!(payment["accepted"]["amount"], "4000000");
    assert_eq!(payment["payload"]["authorization"]["value"], "4000000");
    assert!(h
        .fake
        .x402()
        .requests()
        .iter()
        .all(|r| r.header("x-payment").is_none()));
    // The tampered checks hold in v2 too.
    for (tamper, reason) in [
        (ManifestTamper::Network, "network `eip155:8453`"),
        (ManifestTamper::Amount, "not the $4 requested"),
        (ManifestTamper::PayTo, "is not the VirtualSMS Base wallet"),
    ] {
        h.fake.x402().set_tamper(Some(tamper.clone()));
        let text = topup_err(&h, json!(4)).await;
        assert!(text.contains(reason), "{tamper:?}: {text}");
        assert!(text.contains("Nothing was signed"), "{text}");
    }
    assert_eq!(h.fake.x402().payment_attempts(), 1);
    assert_no_secrets(&h.fake);
}

#[tokio::test]
async fn tampered_solana_requirements_are_refused_without_signing() {
    let dir = temp_dir("sol-tamper");
    let h = solana_harness(&dir, |c| c.api_key = None).await;
    for version in [Version::V1, Version::V2] {
        h.fake.x402().set_version(version);
        for (tamper, reason) in [
            (ManifestTamper::Network, "no `exact` payment on network"),
            (ManifestTamper::Asset, "not USDC mainnet"),
            (ManifestTamper::Amount, "not the $5 requested"),
            (ManifestTamper::PayTo, "is not the VirtualSMS Solana wallet"),
            (ManifestTamper::FeePayerMissing, "names no fee payer"),
            (ManifestTamper::FeePayer(solana_pubkey()), "own wallet"),
            (ManifestTamper::BnbOnly, "only BNB Chain"),
        ] {
            h.fake.x402().set_tamper(Some(tamper.clone()));
            let text = topup_err(&h, json!(5)).await;
            assert!(text.starts_with("Refused, nothing was charged"), "{text}");
            assert!(text.contains("Nothing was signed"), "{text}");
            assert!(text.contains(reason), "{version:?} {tamper:?}: {text}");
            if tamper == ManifestTamper::FeePayerMissing {
                assert!(text.contains("VIRTUALSMS_X402_NETWORK=base"), "{text}");
            }
        }
    }
    assert_eq!(h.fake.x402().payment_attempts(), 0, "nothing was ever sent");
    assert!(
        h.fake.x402().solana().rpc_calls().is_empty(),
        "not even a blockhash was fetched"
    );
    assert_eq!(h.fake.x402().settled_count(), 0);
    // Refusals do not count against the cap.
    h.fake.x402().set_tamper(None);
    assert_eq!(topup_ok(&h, 20.0).await["x402_version"], 2);
    assert_no_secrets(&h.fake);
}

#[tokio::test]
async fn a_bnb_only_manifest_is_not_supported_on_base_either() {
    let dir = temp_dir("bnb");
    let h = wallet_harness(&dir, |_| {}).await;
    h.fake.x402().set_tamper(Some(ManifestTamper::BnbOnly));
    let text = topup_err(&h, json!(5)).await;
    assert!(text.contains("only BNB Chain"), "{text}");
    assert!(text.contains("does not support"), "{text}");
    assert!(text.contains("Nothing was signed"), "{text}");
    assert_eq!(h.fake.x402().payment_attempts(), 0);
}

#[tokio::test]
async fn a_lost_solana_answer_blocks_new_payments_until_the_blockhash_expires() {
    let dir = temp_dir("sol-lost");
    let h = solana_harness(&dir, |c| c.api_key = None).await;
    h.fake.x402().drop_next_payment_answer();
    let text = topup_err(&h, json!(2)).await;
    assert!(text.contains("OUTCOME IS UNKNOWN"), "{text}");
    assert!(text.contains("will NOT be re-sent"), "{text}");
    // The fake chain starts at height 300000000; a blockhash lives 150 blocks.
    assert!(text.contains("last valid block height 300000150"), "{text}");
    assert!(text.contains("solscan.io"), "{text}");
    assert_eq!(h.fake.x402().payment_attempts(), 1);

    // Before the blockhash expires: refused, nothing signed, no second payment.
    h.fake.x402().solana().advance_blocks(150);
    let text = topup_err(&h, json!(2)).await;
    assert!(text.contains("can still land"), "{text}");
    assert!(text.contains("300000150"), "{text}");
    assert!(text.contains("Nothing was signed"), "{text}");
    assert_eq!(h.fake.x402().payment_attempts(), 1, "no second signature");
    assert_eq!(
        h.fake.x402().solana().rpc_calls(),
        ["getLatestBlockhash", "getBlockHeight"]
    );
    // With the RPC down the height is unknown: still refused.
    h.fake.x402().solana().set_rpc_down(true);
    let text = topup_err(&h, json!(2)).await;
    assert!(text.contains("current height is unknown"), "{text}");
    h.fake.x402().solana().set_rpc_down(false);

    // Once the chain has passed it, a new top-up goes through (the lost $2 still counts).
    h.fake.x402().solana().advance_blocks(1);
    let out = topup_ok(&h, 2.0).await;
    assert_eq!(out["topup_left_usd"], 16.0);
    assert_eq!(h.fake.x402().payment_attempts(), 2);
    assert_no_secrets(&h.fake);
}

#[tokio::test]
async fn a_solana_rpc_outage_signs_nothing() {
    let dir = temp_dir("sol-rpc");
    let h = solana_harness(&dir, |_| {}).await;
    h.fake.x402().solana().set_rpc_down(true);
    let text = topup_err(&h, json!(2)).await;
    assert!(text.contains("could not get a recent blockhash"), "{text}");
    assert!(text.contains("VIRTUALSMS_SOLANA_RPC_URL"), "{text}");
    assert!(text.contains("Nothing was signed"), "{text}");
    assert_eq!(h.fake.x402().payment_attempts(), 0);
    // Not counted against the cap.
    h.fake.x402().solana().set_rpc_down(false);
    assert_eq!(topup_ok(&h, 20.0).await["topup_left_usd"], 0.0);
}

/// Runs the real binary with a clean environment plus `envs`.
fn run_binary(home: &Path, args: &[&str], envs: &[(&str, String)]) -> (bool, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_virtualsms-mcp"));
    cmd.env_clear()
        .env("HOME", home)
        .env("VIRTUALSMS_LOG", "debug")
        .args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for text in [&stdout, &stderr] {
        for secret in private_key_forms() {
            assert!(!text.contains(&secret), "a private key leaked: {text}");
        }
        // A payment header or a transaction is a long base64 run; none may appear.
        let longest = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || "+/=".contains(c)))
            .map(str::len)
            .max()
            .unwrap_or(0);
        assert!(longest < 120, "a long base64 value leaked: {text}");
        assert!(!text.contains("\"signature\""), "signature leaked: {text}");
        assert!(
            !text.contains("\"transaction\""),
            "transaction leaked: {text}"
        );
    }
    (out.status.success(), stdout, stderr)
}

#[tokio::test]
async fn the_cli_tops_up_the_sandbox_on_both_networks_in_both_envelopes() {
    let home = temp_dir("cli-both");
    let key_file = home.join("solana-id.json");
    std::fs::write(&key_file, solana_key_json()).unwrap();
    let base = ("VIRTUALSMS_WALLET_PRIVATE_KEY", WALLET_KEY.to_owned());
    let solana = ("VIRTUALSMS_SOLANA_KEY_FILE", key_file.display().to_string());
    let v2 = ("VIRTUALSMS_SANDBOX_X402_VERSION", "2".to_owned());
    for (envs, network, version) in [
        (vec![base.clone()], "base", 1),
        (vec![base.clone(), v2.clone()], "base", 2),
        (vec![solana.clone()], "solana", 1),
        (vec![solana.clone(), v2.clone()], "solana", 2),
    ] {
        let (ok, stdout, stderr) =
            run_binary(&home, &["--sandbox", "topup", "--amount", "5"], &envs);
        assert!(ok, "{network} v{version}: {stdout}\n{stderr}");
        let json: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
        assert_eq!(json["network"], network);
        assert_eq!(json["x402_version"], version);
        assert_eq!(json["amount_usd"], 5.0);
        assert_eq!(json["balance_usd"], 5.0);
        assert_eq!(json["api_key_status"], "issued");
        let path = PathBuf::from(json["credentials_file"].as_str().unwrap());
        assert!(
            !path.starts_with(&*home),
            "sandbox keys stay out of the real config dir"
        );
        let saved: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let issued = saved["api_key"].as_str().unwrap();
        assert!(!stdout.contains(issued) && !stderr.contains(issued));
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
    // Both wallets: Base unless VIRTUALSMS_X402_NETWORK says otherwise.
    let (ok, stdout, _) = run_binary(
        &home,
        &["--sandbox", "topup", "--amount", "2"],
        &[
            base.clone(),
            solana.clone(),
            ("VIRTUALSMS_X402_NETWORK", "solana".into()),
        ],
    );
    assert!(ok);
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["network"], "solana");
    let _ = std::fs::remove_dir_all(
        PathBuf::from(json["credentials_file"].as_str().unwrap())
            .parent()
            .unwrap(),
    );
    // A keypair whose public half does not match: a start-up error naming the variable.
    let mut bad = solana_key_bytes();
    bad[63] ^= 1;
    std::fs::write(&key_file, serde_json::to_string(&bad).unwrap()).unwrap();
    let (ok, stdout, stderr) =
        run_binary(&home, &["--sandbox", "topup", "--amount", "2"], &[solana]);
    assert!(!ok && stdout.is_empty());
    assert!(stderr.contains("VIRTUALSMS_SOLANA_KEY_FILE"), "{stderr}");
    assert!(stderr.contains("does not match"), "{stderr}");
}

#[tokio::test]
async fn the_cli_refuses_the_documented_solana_manifest_plainly() {
    // The real binary, not in sandbox mode, against a fake serving VirtualSMS's documented
    // manifest: Solana entries without `extra.feePayer`.
    let fake = FakeApi::new(fake_options());
    let handle = fake
        .spawn(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    fake.x402()
        .set_tamper(Some(ManifestTamper::FeePayerMissing));
    let home = temp_dir("cli-doc");
    let envs = vec![
        (
            "VIRTUALSMS_SOLANA_PRIVATE_KEY",
            bs58::encode(solana_key_bytes()).into_string(),
        ),
        ("VIRTUALSMS_BASE_URL", handle.base_url()),
        ("VIRTUALSMS_X402_BASE_URL", handle.x402_base_url()),
        (
            "VIRTUALSMS_SOLANA_RPC_URL",
            format!("http://{}/solana-rpc", handle.addr),
        ),
        (
            "VIRTUALSMS_CREDENTIALS_FILE",
            home.join("c.json").display().to_string(),
        ),
    ];
    let run = |envs: Vec<(&'static str, String)>| {
        let home = home.to_path_buf();
        tokio::task::spawn_blocking(move || run_binary(&home, &["topup", "--amount", "5"], &envs))
    };
    let (ok, stdout, stderr) = run(envs.clone()).await.unwrap();
    assert!(!ok && stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("names no fee payer"), "{stderr}");
    assert!(stderr.contains("VIRTUALSMS_X402_NETWORK=base"), "{stderr}");
    assert_eq!(fake.x402().payment_attempts(), 0);
    // The same binary and fake, with the fee payer offered: paid.
    fake.x402().set_tamper(None);
    let (ok, stdout, stderr) = run(envs).await.unwrap();
    assert!(ok, "{stdout}\n{stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["network"], "solana");
    assert!(home.join("c.json").exists());
}
