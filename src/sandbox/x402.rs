//! The x402 deposit flow of the fake (seeds 001/004, `../shared/notes/x402.md`,
//! `../shared/notes/x402-solana-permit2-v2.md`):
//! - `GET /api/v1/x402/info`: the Base and Solana wallets and the top-up range;
//! - `POST /api/v1/x402/topup {amount_usd}`: without a payment, a 402 with the requirements —
//!   in v1 (the default) a body manifest, in v2 ([`FakeX402::set_version`]) a
//!   `PAYMENT-REQUIRED` header — offering `exact` USDC on Solana, USDT on Solana and USDC on
//!   Base. The Solana entries carry `extra.feePayer` (the fake facilitator's), which the
//!   documented VirtualSMS manifest lacks ([`ManifestTamper::FeePayerMissing`] serves that
//!   shape). With a payment (v1: only `X-PAYMENT` is read; v2: only `PAYMENT-SIGNATURE`, whose
//!   `accepted` must equal an offered entry exactly), it is verified like a facilitator would:
//!   Base — base64 JSON, scheme, network, `to` = payTo, `value` = amount × 10^6,
//!   `validAfter ≤ now ≤ validBefore`, an unused nonce, the signer recovered from the EIP-712
//!   digest equal to `from`; Solana — the independent checks of [`super::solana`]. Then it is
//!   "settled": a new `vsms_sandbox_…` key whose account holds the amount, or, with
//!   `x-api-key`, that account topped up; the receipt goes in `X-PAYMENT-RESPONSE` (v1) or
//!   `PAYMENT-RESPONSE` (v2). A replayed payment gets a 402 with an error.
//! - `POST /solana-rpc`: the fake Solana JSON-RPC ([`super::solana`]).
//!
//! Test switches ([`FakeX402`]): the envelope version, a tampered manifest, `/x402/info` down,
//! a lost answer, the fake chain, the request log and the number of settled top-ups.

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
use super::solana::{self, FakeSolana, SvmTerms};
use super::state::{lock, EntryKind, Shared};
use super::util::random_hex;
use super::{ConnKill, RecordedRequest};
use crate::x402::eip3009::{self, Address, Authorization, Domain, BASE_USDC};
use crate::x402::envelope::{Network, Version};

/// The fake VirtualSMS wallet on Base (an arbitrary address nobody is known to hold a key for).
pub const FAKE_BASE_PAY_TO: &str = "0x5a0b54d5dc17e0aadc383d2db43b0a0d3e029c4c";
/// The VirtualSMS Solana wallet (seed 001); in the sandbox, paid only on the fake chain.
pub const FAKE_SOLANA_PAY_TO: &str = "7AJwx3J2qXnURXZmU5AotDeMUY5dDBqBFbweHLZ2UeUs";
/// USDC and USDT on Solana mainnet.
const SOLANA_USDC: &str = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";
const SOLANA_USDT: &str = "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB";
/// Where the fake Solana JSON-RPC answers.
pub const SOLANA_RPC_PATH: &str = "/solana-rpc";
const RESOURCE: &str = "https://virtualsms.io/api/v1/x402/topup";
/// The documented settlement timeout.
const MAX_TIMEOUT_SECONDS: u64 = 300;

/// One way to make the served 402 manifest dishonest or unusual (the client must refuse each
/// without signing). Each applies to every entry it fits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManifestTamper {
    /// A testnet (`base-sepolia`, `solana-devnet`; CAIP-2 testnets in v2).
    Network,
    /// `scheme: "upto"` instead of `exact`.
    Scheme,
    /// Base Sepolia USDC; devnet USDC on Solana.
    Asset,
    /// Ten times the requested amount.
    Amount,
    /// Another payee than the wallet `/x402/info` reports.
    PayTo,
    /// `maxTimeoutSeconds: 86400`.
    Timeout,
    /// The Solana entries without `extra` — the documented VirtualSMS manifest.
    FeePayerMissing,
    /// The Solana entries name this fee payer (e.g. the client's own wallet).
    FeePayer(String),
    /// Only a BNB Chain (Permit2) entry.
    BnbOnly,
}

/// The x402 side of the fake's state, and its test switches.
#[derive(Default)]
pub struct FakeX402 {
    v2: AtomicBool,
    pub(crate) solana: FakeSolana,
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

    /// How many top-up POSTs carried a payment (`X-PAYMENT` or `PAYMENT-SIGNATURE`).
    pub fn payment_attempts(&self) -> usize {
        lock(&self.requests)
            .iter()
            .filter(|r| r.header("x-payment").is_some() || r.header("payment-signature").is_some())
            .count()
    }

    /// The envelope the fake speaks from now on (v1 by default).
    pub fn set_version(&self, version: Version) {
        self.v2.store(version == Version::V2, Ordering::SeqCst);
    }

    fn version(&self) -> Version {
        if self.v2.load(Ordering::SeqCst) {
            Version::V2
        } else {
            Version::V1
        }
    }

    /// The fake Solana chain: block height, RPC outage, token balances.
    pub fn solana(&self) -> &FakeSolana {
        &self.solana
    }

    /// The fake facilitator's fee payer (base58), named in the Solana entries.
    pub fn solana_fee_payer(&self) -> String {
        solana::fee_payer()
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
        .route(SOLANA_RPC_PATH, post(solana::rpc))
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

/// The offered requirements for `value`, in the current envelope's spelling, tampered as set.
fn requirements(s: &Shared, value: u128) -> Vec<Value> {
    let version = s.x402.version();
    let dollars = format!("{}.{:02}", value / 1_000_000, value % 1_000_000 / 10_000);
    let entry = |network: Network, asset: &str, pay_to: String, token: &str| {
        let mut e = json!({
            "scheme": "exact",
            "network": network.wire_name(version),
            "asset": asset,
            "payTo": pay_to,
            "maxTimeoutSeconds": MAX_TIMEOUT_SECONDS,
        });
        match version {
            Version::V1 => {
                e["maxAmountRequired"] = json!(value.to_string());
                e["resource"] = json!(RESOURCE);
                e["description"] = json!(format!("Top up VirtualSMS balance (${dollars} {token})"));
                e["mimeType"] = json!("application/json");
            }
            Version::V2 => e["amount"] = json!(value.to_string()),
        }
        if network == Network::Solana {
            e["extra"] = json!({"feePayer": solana::fee_payer()});
        }
        e
    };
    let mut accepts = vec![
        entry(
            Network::Solana,
            SOLANA_USDC,
            FAKE_SOLANA_PAY_TO.into(),
            "USDC",
        ),
        entry(
            Network::Solana,
            SOLANA_USDT,
            FAKE_SOLANA_PAY_TO.into(),
            "USDT",
        ),
        entry(Network::Base, BASE_USDC, fake_pay_to().to_string(), "USDC"),
    ];
    let tamper = lock(&s.x402.tamper).clone();
    if let Some(tamper) = tamper {
        if tamper == ManifestTamper::BnbOnly {
            let mut bnb = entry(
                Network::BnbChain,
                "0x55d398326f99059fF775485246999027B3197955",
                fake_pay_to().to_string(),
                "USDT",
            );
            bnb["extra"] = json!({"assetTransferMethod": "permit2"});
            return vec![bnb];
        }
        for e in &mut accepts {
            tamper_entry(e, &tamper, version, value);
        }
    }
    accepts
}

fn tamper_entry(e: &mut Value, tamper: &ManifestTamper, version: Version, value: u128) {
    let solana = Network::from_wire(e["network"].as_str().unwrap_or("")) == Some(Network::Solana);
    let amount_field = match version {
        Version::V1 => "maxAmountRequired",
        Version::V2 => "amount",
    };
    match (tamper, solana, version) {
        (ManifestTamper::Network, true, Version::V1) => e["network"] = json!("solana-devnet"),
        (ManifestTamper::Network, true, Version::V2) => {
            e["network"] = json!("solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1")
        }
        (ManifestTamper::Network, false, Version::V1) => e["network"] = json!("base-sepolia"),
        (ManifestTamper::Network, false, Version::V2) => e["network"] = json!("eip155:84532"),
        (ManifestTamper::Scheme, _, _) => e["scheme"] = json!("upto"),
        (ManifestTamper::Asset, true, _) => {
            e["asset"] = json!("4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU")
        }
        (ManifestTamper::Asset, false, _) => {
            e["asset"] = json!("0x036CbD53842c5426634e7929541eC2318f3dCF7e")
        }
        (ManifestTamper::Amount, _, _) => e[amount_field] = json!((value * 10).to_string()),
        (ManifestTamper::PayTo, true, _) => {
            e["payTo"] = json!("DQhCHAxmJxGcys4CvR2PCb9bkaCHTRHDAMJz73u98jwm")
        }
        (ManifestTamper::PayTo, false, _) => {
            e["payTo"] = json!("0x209693Bc6afc0C5328bA36FaF03C514EF312287C")
        }
        (ManifestTamper::Timeout, _, _) => e["maxTimeoutSeconds"] = json!(86_400),
        (ManifestTamper::FeePayerMissing, true, _) => {
            e.as_object_mut().map(|o| o.remove("extra"));
        }
        (ManifestTamper::FeePayer(key), true, _) => e["extra"] = json!({"feePayer": key}),
        _ => {}
    }
}

/// A 402: the v1 body manifest, or the v2 `PAYMENT-REQUIRED` header with an empty body.
fn payment_required(s: &Shared, value: u128, error: &str) -> Response {
    let accepts = requirements(s, value);
    match s.x402.version() {
        Version::V1 => (
            StatusCode::PAYMENT_REQUIRED,
            Json(json!({"x402Version": 1, "error": error, "accepts": accepts})),
        )
            .into_response(),
        Version::V2 => {
            let doc = json!({
                "x402Version": 2,
                "error": error,
                "resource": {"url": RESOURCE, "description": "Top up VirtualSMS balance",
                             "mimeType": "application/json"},
                "accepts": accepts,
            });
            let mut response = (StatusCode::PAYMENT_REQUIRED, Json(json!({}))).into_response();
            if let Ok(v) = HeaderValue::from_str(&BASE64.encode(doc.to_string())) {
                response.headers_mut().insert("payment-required", v);
            }
            response
        }
    }
}

/// A settled payment: who paid, on which network, the settlement transaction.
struct Verified {
    payer: String,
    network: Network,
    transaction: String,
}

/// A decoded payment: its network, the offered entries it may pay, the inner payload.
type Payment = (Network, Vec<Value>, Value);

/// The payment of the current envelope, decoded: the offered entries it may pay (v2: exactly
/// the one in `accepted`) and the inner payload. `None` when the request carries none.
fn decode_payment(s: &Shared, headers: &HeaderMap, value: u128) -> Option<Result<Payment, String>> {
    let version = s.x402.version();
    let name = match version {
        Version::V1 => "x-payment",
        Version::V2 => "payment-signature",
    };
    let header = headers.get(name)?.to_str().unwrap_or("").trim().to_owned();
    Some((|| {
        let bytes = BASE64
            .decode(&header)
            .map_err(|_| format!("{name} is not standard base64"))?;
        let payment: Value =
            serde_json::from_slice(&bytes).map_err(|_| format!("{name} is not JSON"))?;
        if payment.get("x402Version").and_then(Value::as_u64) != Some(version.number()) {
            return Err(format!("x402Version must be {}", version.number()));
        }
        let offered = requirements(s, value);
        let (scheme, network, entries) = match version {
            Version::V1 => {
                let network = payment["network"].as_str().unwrap_or("").to_owned();
                let entries: Vec<Value> = offered
                    .into_iter()
                    .filter(|e| e["network"] == network.as_str())
                    .collect();
                (payment["scheme"].clone(), network, entries)
            }
            Version::V2 => {
                let accepted = payment.get("accepted").ok_or("accepted: missing")?;
                if !offered.contains(accepted) {
                    return Err("accepted does not match any offered requirement".into());
                }
                let network = accepted["network"].as_str().unwrap_or("").to_owned();
                (accepted["scheme"].clone(), network, vec![accepted.clone()])
            }
        };
        if scheme != "exact" {
            return Err("scheme must be exact".into());
        }
        let network = Network::from_wire(&network)
            .filter(|n| {
                *n != Network::BnbChain && !entries.is_empty() && n.wire_name(version) == network
            })
            .ok_or_else(|| format!("network {network:?} is not offered"))?;
        let payload = payment.get("payload").cloned().ok_or("payload: missing")?;
        Ok((network, entries, payload))
    })())
}

/// Solana: the facilitator's terms of each offered entry, then verify and settle.
fn settle_solana(s: &Shared, entries: &[Value], payload: &Value) -> Result<Verified, String> {
    let transaction = payload["transaction"]
        .as_str()
        .ok_or("payload.transaction: missing")?;
    let terms: Vec<SvmTerms> = entries
        .iter()
        .map(|e| SvmTerms {
            pay_to: e["payTo"].as_str().unwrap_or("").to_owned(),
            mint: e["asset"].as_str().unwrap_or("").to_owned(),
            amount: e
                .get("amount")
                .or_else(|| e.get("maxAmountRequired"))
                .and_then(Value::as_str)
                .and_then(|a| a.parse().ok())
                .unwrap_or(0),
            fee_payer: e["extra"]["feePayer"].as_str().unwrap_or("").to_owned(),
            memo: e["extra"]["memo"].as_str().map(str::to_owned),
        })
        .collect();
    let settled = s.x402.solana.settle(transaction, &terms)?;
    Ok(Verified {
        payer: settled.payer,
        network: Network::Solana,
        transaction: settled.transaction,
    })
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

/// Base: everything a facilitator checks, except the on-chain balance; the nonce it spends.
fn verify_base(payload: &Value, value: u128) -> Result<(Address, [u8; 32]), String> {
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
    Ok((from, nonce))
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
    let Some(payment) = decode_payment(&s, &headers, value) else {
        return payment_required(&s, value, "Payment required to top up VirtualSMS balance");
    };
    let verified = payment.and_then(|(network, entries, payload)| match network {
        Network::Solana => settle_solana(&s, &entries, &payload),
        _ => {
            let (payer, nonce) = verify_base(&payload, value)?;
            if !lock(&s.x402.nonces).insert(nonce) {
                return Err("authorization nonce already used (replayed payment)".into());
            }
            Ok(Verified {
                payer: payer.to_string(),
                network: Network::Base,
                transaction: format!("0x{}", random_hex(64)),
            })
        }
    });
    let verified = match verified {
        Ok(v) => v,
        Err(reason) => return refused(&s, value, &reason),
    };
    let (key, balance) = credit(&s, existing, cents);
    let (answer, receipt) = settled_answer(&s, &verified, key, balance, cents);
    if s.x402.drop_answer.swap(false, Ordering::SeqCst) {
        if let Some(ConnKill(kill)) = parts.extensions.get::<ConnKill>() {
            kill.notify_one();
            return std::future::pending::<Response>().await;
        }
    }
    let mut response = Json(answer).into_response();
    if let Ok(v) = HeaderValue::from_str(&BASE64.encode(receipt.to_string())) {
        response
            .headers_mut()
            .insert(receipt_header(s.x402.version()), v);
    }
    response
}

/// Credits the top-up: to the `x-api-key` account, or to a new account with a new key.
fn credit(s: &Shared, existing: Option<String>, cents: i64) -> (String, i64) {
    let issued = existing.is_none();
    let key = existing.unwrap_or_else(|| format!("vsms_sandbox_{}", random_hex(32)));
    let balance = {
        let mut data = s.data();
        let starting = if issued {
            0
        } else {
            s.options.starting_balance_cents
        };
        let account = data.account(&key, starting);
        account.post(EntryKind::Deposit, cents, None);
        account.balance_cents
    };
    if issued {
        lock(&s.x402.issued).insert(key.clone());
    }
    s.x402.settled.fetch_add(1, Ordering::SeqCst);
    (key, balance)
}

/// The 200 body (VirtualSMS's documented shape) and the settlement receipt header's JSON.
fn settled_answer(
    s: &Shared,
    verified: &Verified,
    key: String,
    balance: i64,
    cents: i64,
) -> (Value, Value) {
    let version = s.x402.version();
    let money = |c: i64| format!("{}.{:02}", c / 100, c % 100);
    let answer = json!({
        "success": true,
        "user_id": uuid::Uuid::new_v4().to_string(),
        "api_key": key,
        "balance_usd": money(balance),
        "settlement": {
            "network": verified.network.v1_name(),
            "tx_hash": verified.transaction,
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
        "transaction": verified.transaction,
        "network": verified.network.wire_name(version),
        "payer": verified.payer,
    });
    (answer, receipt)
}

fn receipt_header(version: Version) -> &'static str {
    match version {
        Version::V1 => "x-payment-response",
        Version::V2 => "payment-response",
    }
}

/// A payment that did not verify: a 402 again, with the reason (and, in v2, a failed
/// `PAYMENT-RESPONSE`, as the spec's servers send).
fn refused(s: &Shared, value: u128, reason: &str) -> Response {
    let mut response = payment_required(s, value, reason);
    let version = s.x402.version();
    if version == Version::V2 {
        let receipt = json!({"success": false, "errorReason": reason, "transaction": "",
                             "network": ""});
        if let Ok(v) = HeaderValue::from_str(&BASE64.encode(receipt.to_string())) {
            response.headers_mut().insert(receipt_header(version), v);
        }
    }
    response
}
