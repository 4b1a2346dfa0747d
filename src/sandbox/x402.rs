//! The x402 deposit flow of the fake (seeds 001/004, `/work/shared/notes/x402.md`):
//! - `GET /api/v1/x402/info`: the Base and Solana wallets and the top-up range;
//! - `POST /api/v1/x402/topup {amount_usd}`: without `X-PAYMENT`, a 402 manifest (x402 v1, NO
//!   `extra`, an `exact`/`base` USDC entry plus an `exact`/`solana` one); with it, the payment is
//!   verified like a facilitator would — base64 JSON, scheme, network, `to` = payTo, `value` =
//!   amount × 10^6, `validAfter ≤ now ≤ validBefore`, an unused nonce, and the signer recovered
//!   from the EIP-712 digest equal to `from` — then "settled": a new `vsms_sandbox_…` key whose
//!   account holds the amount, or, with `x-api-key`, that account topped up. A replayed header
//!   (same nonce) gets a 402 with an error.
//!
//! Test switches ([`FakeX402`]): a tampered manifest, `/x402/info` down, the request log and
//! the number of settled top-ups.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{to_bytes, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{json, Value};

use super::problem::Problem;
use super::state::{lock, EntryKind, Shared};
use super::util::random_hex;
use super::{ConnKill, RecordedRequest};
use crate::x402::eip3009::{self, Address, Authorization, Domain, BASE_USDC};

/// The fake VirtualSMS wallet on Base (an arbitrary address nobody is known to hold a key for).
pub const FAKE_BASE_PAY_TO: &str = "0x5a0b54d5dc17e0aadc383d2db43b0a0d3e029c4c";
/// The fake Solana wallet (never paid: the client only uses Base).
pub const FAKE_SOLANA_PAY_TO: &str = "7AJwx3J2qXnURXZmU5AotDeMUY5dDBqBFbweHLZ2UeUs";
/// USDC on Solana (the mint in the documented manifest).
const SOLANA_USDC: &str = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";
/// The documented settlement timeout.
const MAX_TIMEOUT_SECONDS: u64 = 300;

/// One way to make the served 402 manifest dishonest (the client must refuse each unsigned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestTamper {
    /// `network: "base-sepolia"` instead of `base`.
    Network,
    /// `scheme: "upto"` instead of `exact`.
    Scheme,
    /// Base Sepolia USDC instead of Base USDC.
    Asset,
    /// Ten times the requested amount.
    Amount,
    /// Another payee than the wallet `/x402/info` reports.
    PayTo,
    /// `maxTimeoutSeconds: 86400`.
    Timeout,
}

/// The x402 side of the fake's state, and its test switches.
#[derive(Default)]
pub struct FakeX402 {
    settled: AtomicUsize,
    nonces: Mutex<HashSet<[u8; 32]>>,
    issued: Mutex<HashSet<String>>,
    tamper: Mutex<Option<ManifestTamper>>,
    info_down: AtomicBool,
    drop_answer: AtomicBool,
    requests: Mutex<Vec<RecordedRequest>>,
}

impl FakeX402 {
    /// Top-ups settled so far (each one a verified, never-seen authorization).
    pub fn settled_count(&self) -> usize {
        self.settled.load(Ordering::SeqCst)
    }

    /// Every `/api/v1/x402/*` request, in order (headers lowercase, `x-payment` included).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.requests).clone()
    }

    /// How many top-up POSTs carried an `X-PAYMENT` header.
    pub fn payment_attempts(&self) -> usize {
        lock(&self.requests)
            .iter()
            .filter(|r| r.header("x-payment").is_some())
            .count()
    }

    /// Serve a tampered manifest from now on (`None`: the honest one again).
    pub fn set_tamper(&self, tamper: Option<ManifestTamper>) {
        *lock(&self.tamper) = tamper;
    }

    /// With `false`, `/x402/info` answers 503.
    pub fn set_info_available(&self, available: bool) {
        self.info_down.store(!available, Ordering::SeqCst);
    }

    /// Settle the next valid payment, then close the connection without answering (the client
    /// cannot know whether it was charged).
    pub fn drop_next_payment_answer(&self) {
        self.drop_answer.store(true, Ordering::SeqCst);
    }

    /// The Base wallet the fake reports and expects, EIP-55 checksummed.
    pub fn pay_to(&self) -> String {
        fake_pay_to().to_string()
    }

    /// Keys issued by a top-up (accepted as bearer keys even when the fake has a key list).
    pub(crate) fn is_issued(&self, key: &str) -> bool {
        lock(&self.issued).contains(key)
    }
}

fn fake_pay_to() -> Address {
    Address::parse(FAKE_BASE_PAY_TO).expect("a valid address")
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/x402/topup", post(topup))
        .route("/api/v1/x402/info", get(info))
}

fn record(s: &Shared, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) {
    lock(&s.x402.requests).push(RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(body).into_owned(),
    });
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

async fn info(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    record(&s, &method, &uri, &headers, b"");
    if s.x402.info_down.load(Ordering::SeqCst) {
        return Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "x402 info is down (sandbox switch)",
        )
        .into_response();
    }
    Json(json!({
        "x402Version": 1,
        "scheme": "exact",
        "networks": [
            {"network": "base", "asset": "USDC", "asset_address": BASE_USDC,
             "pay_to": fake_pay_to().to_string(), "status": "live"},
            {"network": "solana", "asset": "USDC", "asset_address": SOLANA_USDC,
             "pay_to": FAKE_SOLANA_PAY_TO, "status": "live"}
        ],
        "wallets": {"base": fake_pay_to().to_string(), "solana": FAKE_SOLANA_PAY_TO},
        "topup_range_usd": {"min": 2, "max": 10000},
        "settlement_timeout_seconds": MAX_TIMEOUT_SECONDS,
    }))
    .into_response()
}

/// `amount_usd` of the body, in cents: 2–10000 USD in whole cents.
fn amount_cents(body: &Bytes) -> Result<i64, Problem> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        Problem::validation(format!("body: expected {{\"amount_usd\": number}} ({e})"))
    })?;
    let amount = match v.get("amount_usd") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .ok_or_else(|| Problem::validation("amount_usd: required, a number"))?;
    let cents = (amount * 100.0).round();
    if !(200.0..=1_000_000.0).contains(&cents) || (cents / 100.0 - amount).abs() > 1e-9 {
        return Err(Problem::validation(format!(
            "amount_usd: must be 2 to 10000 USD in whole cents, got {amount}"
        )));
    }
    Ok(cents as i64)
}

fn manifest(s: &Shared, value: u128, error: &str) -> Value {
    let dollars = format!("{}.{:02}", value / 1_000_000, value % 1_000_000 / 10_000);
    let mut base = json!({
        "scheme": "exact",
        "network": "base",
        "asset": BASE_USDC,
        "maxAmountRequired": value.to_string(),
        "payTo": fake_pay_to().to_string(),
        "resource": "https://virtualsms.io/api/v1/x402/topup",
        "description": format!("Top up VirtualSMS balance (${dollars} USDC)"),
        "mimeType": "application/json",
        "maxTimeoutSeconds": MAX_TIMEOUT_SECONDS,
    });
    match *lock(&s.x402.tamper) {
        None => {}
        Some(ManifestTamper::Network) => base["network"] = json!("base-sepolia"),
        Some(ManifestTamper::Scheme) => base["scheme"] = json!("upto"),
        Some(ManifestTamper::Asset) => {
            base["asset"] = json!("0x036CbD53842c5426634e7929541eC2318f3dCF7e")
        }
        Some(ManifestTamper::Amount) => base["maxAmountRequired"] = json!((value * 10).to_string()),
        Some(ManifestTamper::PayTo) => {
            base["payTo"] = json!("0x209693Bc6afc0C5328bA36FaF03C514EF312287C")
        }
        Some(ManifestTamper::Timeout) => base["maxTimeoutSeconds"] = json!(86_400),
    }
    json!({
        "x402Version": 1,
        "error": error,
        "accepts": [
            {
                "scheme": "exact",
                "network": "solana",
                "asset": SOLANA_USDC,
                "maxAmountRequired": value.to_string(),
                "payTo": FAKE_SOLANA_PAY_TO,
                "resource": "https://virtualsms.io/api/v1/x402/topup",
                "description": format!("Top up VirtualSMS balance (${dollars} USDC)"),
                "mimeType": "application/json",
                "maxTimeoutSeconds": MAX_TIMEOUT_SECONDS,
            },
            base,
        ]
    })
}

fn payment_required(s: &Shared, value: u128, error: &str) -> Response {
    (
        StatusCode::PAYMENT_REQUIRED,
        Json(manifest(s, value, error)),
    )
        .into_response()
}

/// A checked payment: who paid and which nonce it spends.
struct Verified {
    payer: Address,
    nonce: [u8; 32],
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a str, String> {
    v.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("authorization.{name}: missing or not a string"))
}

fn decimal(v: &Value, name: &str) -> Result<u128, String> {
    let text = field(v, name)?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("authorization.{name}: not a decimal integer"));
    }
    text.parse()
        .map_err(|_| format!("authorization.{name}: out of range"))
}

/// Everything a facilitator checks, except the on-chain balance.
fn verify(header: &str, value: u128) -> Result<Verified, String> {
    let bytes = BASE64
        .decode(header.trim())
        .map_err(|_| "X-PAYMENT is not standard base64".to_owned())?;
    let payment: Value =
        serde_json::from_slice(&bytes).map_err(|_| "X-PAYMENT is not JSON".to_owned())?;
    if payment.get("x402Version").and_then(Value::as_u64) != Some(1) {
        return Err("x402Version must be 1".into());
    }
    if payment.get("scheme").and_then(Value::as_str) != Some("exact") {
        return Err("scheme must be exact".into());
    }
    if payment.get("network").and_then(Value::as_str) != Some("base") {
        return Err("network must be base".into());
    }
    let payload = payment.get("payload").ok_or("payload: missing")?;
    let auth = payload
        .get("authorization")
        .ok_or("authorization: missing")?;
    let signature = payload
        .get("signature")
        .and_then(Value::as_str)
        .filter(|s| s.starts_with("0x"))
        .and_then(eip3009::from_hex::<65>)
        .ok_or("signature: expected 0x + 65 bytes hex")?;
    let from = Address::parse(field(auth, "from")?).map_err(|e| format!("from: {e}"))?;
    let to = Address::parse(field(auth, "to")?).map_err(|e| format!("to: {e}"))?;
    if to != fake_pay_to() {
        return Err(format!("to must be the payTo {}", fake_pay_to()));
    }
    let paid = decimal(auth, "value")?;
    if paid != value {
        return Err(format!("value must be {value}, got {paid}"));
    }
    let valid_after = decimal(auth, "validAfter")?;
    let valid_before = decimal(auth, "validBefore")?;
    let now = u128::from(now());
    if valid_after > now {
        return Err("authorization is not yet valid (validAfter in the future)".into());
    }
    if valid_before < now {
        return Err("authorization expired (validBefore in the past)".into());
    }
    let nonce_text = field(auth, "nonce")?;
    let nonce = Some(nonce_text)
        .filter(|s| s.starts_with("0x"))
        .and_then(eip3009::from_hex::<32>)
        .ok_or("nonce: expected 0x + 32 bytes hex")?;
    let message = Authorization {
        from,
        to,
        value: paid,
        valid_after: u64::try_from(valid_after).map_err(|_| "validAfter: out of range")?,
        valid_before: u64::try_from(valid_before).map_err(|_| "validBefore: out of range")?,
        nonce,
    };
    let signer = eip3009::recover(&message.digest(&Domain::base_usdc()), &signature)
        .map_err(|e| format!("invalid signature: {e}"))?;
    if signer != from {
        return Err(format!(
            "invalid signature: signed by {signer}, not by from {from}"
        ));
    }
    Ok(Verified { payer: from, nonce })
}

async fn topup(State(s): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let headers = parts.headers;
    record(&s, &parts.method, &parts.uri, &headers, &body);
    let cents = match amount_cents(&body) {
        Ok(c) => c,
        Err(p) => return p.into_response(),
    };
    let value = cents as u128 * 10_000;
    let existing = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    if let Some(key) = &existing {
        if !s.key_valid(key) {
            return Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "x-api-key is not a valid API key",
            )
            .into_response();
        }
    }
    let Some(payment) = headers.get("x-payment").and_then(|v| v.to_str().ok()) else {
        return payment_required(&s, value, "Payment required to top up VirtualSMS balance");
    };
    let verified = match verify(payment, value) {
        Ok(v) => v,
        Err(reason) => return payment_required(&s, value, &reason),
    };
    if !lock(&s.x402.nonces).insert(verified.nonce) {
        return payment_required(
            &s,
            value,
            "authorization nonce already used (replayed X-PAYMENT)",
        );
    }
    let key = existing
        .clone()
        .unwrap_or_else(|| format!("vsms_sandbox_{}", random_hex(32)));
    let balance = {
        let mut data = s.data();
        let starting = if existing.is_some() {
            s.options.starting_balance_cents
        } else {
            0
        };
        let account = data.account(&key, starting);
        account.post(EntryKind::Deposit, cents, None);
        account.balance_cents
    };
    if existing.is_none() {
        lock(&s.x402.issued).insert(key.clone());
    }
    s.x402.settled.fetch_add(1, Ordering::SeqCst);
    let tx_hash = format!("0x{}", random_hex(64));
    let money = |c: i64| format!("{}.{:02}", c / 100, c % 100);
    let answer = json!({
        "success": true,
        "user_id": uuid::Uuid::new_v4().to_string(),
        "api_key": key,
        "balance_usd": money(balance),
        "settlement": {
            "network": "base",
            "tx_hash": tx_hash,
            "amount_paid": money(cents),
            "asset": "USDC",
        },
        "endpoints": {
            "purchase": "https://virtualsms.io/api/v1/customer/purchase",
            "order": "https://virtualsms.io/api/v1/customer/order/{id}",
            "balance": "https://virtualsms.io/api/v1/customer/balance",
            "services": "https://virtualsms.io/api/v1/services",
        },
    });
    let receipt = json!({
        "success": true,
        "transaction": tx_hash,
        "network": "base",
        "payer": verified.payer.to_string(),
    });
    if s.x402.drop_answer.swap(false, Ordering::SeqCst) {
        if let Some(ConnKill(kill)) = parts.extensions.get::<ConnKill>() {
            kill.notify_one();
            return std::future::pending::<Response>().await;
        }
    }
    let mut response = Json(answer).into_response();
    if let Ok(v) = HeaderValue::from_str(&BASE64.encode(receipt.to_string())) {
        response.headers_mut().insert("x-payment-response", v);
    }
    response
}
