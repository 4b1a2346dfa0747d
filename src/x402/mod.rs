//! Self-funding: an x402 top-up of the VirtualSMS balance, paid in USDC on Base from a wallet
//! this process holds (EIP-3009 `TransferWithAuthorization`, x402 v1 `exact` scheme).
//!
//! The flow ([`Funder::top_up`]):
//! 1. check the amount (2–10000 USD, whole cents) against the cap per top-up and per process
//!    (`VIRTUALSMS_X402_MAX_TOPUP_USD`) — before any request;
//! 2. `GET {base}/x402/info` for the VirtualSMS Base wallet (or the `VIRTUALSMS_X402_PAY_TO` pin);
//! 3. `POST {base}/x402/topup {amount_usd}` (with `x-api-key` when this process has a key, so
//!    that key is topped up) → 402 with a payment manifest;
//! 4. validate the `exact`/`base` entry ([`manifest::select`]): scheme, network, asset, amount,
//!    timeout and payee must all fit, or nothing is signed;
//! 5. sign ONE authorization ([`eip3009`]) and `POST` again with `X-PAYMENT`. That request is
//!    never retried: a signed authorization is a bearer instrument for its value until
//!    `validBefore`, and a lost answer means the outcome is unknown, not that it failed;
//! 6. on 200, write the issued `api_key` to the credentials file ([`credentials`]) BEFORE it is
//!    used or reported, then hand it to the REST client ([`Client::set_key`]).
//!
//! Secrets: the private key lives in [`eip3009::Wallet`] (redacted `Debug`); the signature and
//! the `X-PAYMENT` value exist only in [`PaymentHeader`] (redacted `Debug`) and on the wire, and
//! are scrubbed from any text that comes back. Keys are shown masked ([`credentials::mask`]).
//! The whole flow runs in its own task, so a caller that goes away (a cancelled tool call)
//! cannot interrupt it between payment and saving the key.

pub mod credentials;
pub mod eip3009;
pub mod manifest;
pub mod svm;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::Client;
use crate::config::{env, ApiKey, Config, ConfigError, HttpSettings};
use eip3009::{Address, Authorization, Domain, SignatureBytes, Wallet};
use manifest::{usd, Expected};

/// The public x402 endpoint (REST v1).
pub const DEFAULT_BASE_URL: &str = "https://virtualsms.io/api/v1";
/// The cap per top-up and per process when `VIRTUALSMS_X402_MAX_TOPUP_USD` is not set.
pub const DEFAULT_MAX_TOPUP_USD: f64 = 20.0;
/// The VirtualSMS top-up range (seed 001): 2.00 to 10000.00 USDC.
pub const MIN_TOPUP_USD: f64 = 2.0;
pub const MAX_TOPUP_USD: f64 = 10_000.0;
/// `validAfter = now - this`: tolerates a verifier whose clock is behind ours.
const VALID_AFTER_SLACK_SECS: u64 = 600;
/// How much of an error body goes into a message.
const EXCERPT_CHARS: usize = 300;

/// The x402 settings (see [`crate::config::env`] for the variables).
#[derive(Debug, Clone)]
pub struct X402Config {
    /// From `VIRTUALSMS_WALLET_PRIVATE_KEY` or `VIRTUALSMS_WALLET_KEY_FILE`. Without it,
    /// `topup_balance` is not offered.
    pub wallet: Option<Wallet>,
    /// Without a trailing slash, e.g. `https://virtualsms.io/api/v1`.
    pub base_url: String,
    /// USD cap for one top-up and for all top-ups of this process together.
    pub max_topup_usd: f64,
    /// The payee, pinned; checked against (or standing in for) `/x402/info`.
    pub pay_to: Option<Address>,
    /// Where an issued key is written; `None` when no config directory is known (top-ups are
    /// then refused: a bought key must be kept somewhere).
    pub credentials_file: Option<PathBuf>,
    /// Set by [`X402Config::use_sandbox`]: the credentials file is a temporary one.
    pub sandbox: bool,
}

impl X402Config {
    /// Reads the x402 variables through `get` (trimmed, blank = unset), as [`Config`] does.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let wallet = match (get(env::WALLET_PRIVATE_KEY), get(env::WALLET_KEY_FILE)) {
            (Some(_), Some(_)) => {
                return Err(ConfigError {
                    name: env::WALLET_KEY_FILE,
                    problem: format!("set either it or {}, not both", env::WALLET_PRIVATE_KEY),
                })
            }
            (Some(hex), None) => Some(Wallet::from_hex(&hex).map_err(|e| ConfigError {
                name: env::WALLET_PRIVATE_KEY,
                problem: e.to_string(),
            })?),
            (None, Some(file)) => {
                let text = std::fs::read_to_string(&file).map_err(|e| ConfigError {
                    name: env::WALLET_KEY_FILE,
                    problem: format!("cannot read {file:?}: {e}"),
                })?;
                Some(Wallet::from_hex(&text).map_err(|e| ConfigError {
                    name: env::WALLET_KEY_FILE,
                    problem: format!("{file:?}: {e}"),
                })?)
            }
            (None, None) => None,
        };
        let base_url = get(env::X402_BASE_URL).unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(ConfigError {
                name: env::X402_BASE_URL,
                problem: format!("must start with http:// or https:// (got {base_url:?})"),
            });
        }
        let max_topup_usd = match get(env::X402_MAX_TOPUP_USD) {
            None => DEFAULT_MAX_TOPUP_USD,
            Some(raw) => match raw.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => v,
                _ => {
                    return Err(ConfigError {
                        name: env::X402_MAX_TOPUP_USD,
                        problem: format!("expected an amount in USD of 0 or more, got {raw:?}"),
                    })
                }
            },
        };
        let pay_to = get(env::X402_PAY_TO)
            .map(|raw| {
                Address::parse(&raw).map_err(|e| ConfigError {
                    name: env::X402_PAY_TO,
                    problem: e,
                })
            })
            .transpose()?;
        let credentials_file = get(env::CREDENTIALS_FILE)
            .map(PathBuf::from)
            .or_else(|| credentials::default_path(get));
        Ok(Self {
            wallet,
            base_url: base_url.trim_end_matches('/').to_owned(),
            max_topup_usd,
            pay_to,
            credentials_file,
            sandbox: false,
        })
    }

    /// `--sandbox`: pay the embedded fake, keep its keys out of the real credentials file, and
    /// trust the fake's `/x402/info` instead of a pin meant for the real service.
    pub fn use_sandbox(&mut self, x402_base_url: String) {
        self.base_url = x402_base_url;
        self.pay_to = None;
        self.sandbox = true;
        self.credentials_file = Some(
            std::env::temp_dir()
                .join(format!("virtualsms-mcp-sandbox-{}", std::process::id()))
                .join("credentials.json"),
        );
    }
}

/// The `X-PAYMENT` value: base64 of the signed payload. `Debug` hides it.
pub struct PaymentHeader(String);

impl PaymentHeader {
    /// Standard base64 (with padding) of the x402 v1 payload; every authorization field is a
    /// JSON string, addresses checksummed, numbers in decimal.
    pub fn new(auth: &Authorization, signature: &SignatureBytes) -> Self {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Auth {
            from: String,
            to: String,
            value: String,
            valid_after: String,
            valid_before: String,
            nonce: String,
        }
        #[derive(Serialize)]
        struct Payload {
            signature: String,
            authorization: Auth,
        }
        #[derive(Serialize)]
        struct Envelope {
            #[serde(rename = "x402Version")]
            x402_version: u64,
            scheme: &'static str,
            network: &'static str,
            payload: Payload,
        }
        let envelope = Envelope {
            x402_version: manifest::X402_VERSION,
            scheme: "exact",
            network: "base",
            payload: Payload {
                signature: signature.to_hex(),
                authorization: Auth {
                    from: auth.from.to_string(),
                    to: auth.to.to_string(),
                    value: auth.value.to_string(),
                    valid_after: auth.valid_after.to_string(),
                    valid_before: auth.valid_before.to_string(),
                    nonce: format!("0x{}", eip3009::to_hex(&auth.nonce)),
                },
            },
        };
        let json = serde_json::to_vec(&envelope).unwrap_or_default();
        Self(BASE64.encode(json))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PaymentHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PaymentHeader(<redacted>)")
    }
}

/// Why a top-up did not complete. Every message says whether anything was signed and what to
/// do next; none contains the private key, the signature, the `X-PAYMENT` value or a whole key.
#[derive(Debug, thiserror::Error)]
pub enum TopUpError {
    /// The amount is not a valid top-up amount.
    #[error("invalid argument `amount_usd`: {0}")]
    InvalidAmount(String),
    /// Refused before signing: nothing was signed, nothing was charged.
    #[error("{0}")]
    Refused(String),
    /// The request for a manifest failed: nothing was signed, nothing was charged.
    #[error("{0}")]
    Failed(String),
    /// Signed once; VirtualSMS refused the payment.
    #[error("{0}")]
    Rejected(String),
    /// Signed once and sent; no answer came. It may have been charged.
    #[error("{0}")]
    OutcomeUnknown(String),
    /// Paid, but the answer carried no usable API key, or the key could not be saved.
    #[error("{0}")]
    AfterPayment(String),
}

impl TopUpError {
    /// True when an authorization was signed (money may have moved or may still move).
    pub fn signed(&self) -> bool {
        matches!(
            self,
            Self::Rejected(_) | Self::OutcomeUnknown(_) | Self::AfterPayment(_)
        )
    }
}

/// A completed top-up, as the tool and the CLI report it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TopUpOutcome {
    /// USD paid, in USDC on Base.
    pub amount_usd: f64,
    /// The balance after the top-up (USD), as VirtualSMS reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance_usd: Option<f64>,
    /// The API key now in use, masked (e.g. `vsms_…9b8c`).
    pub api_key: String,
    /// `issued` (a new account and key) or `topped_up` (the key this server already had).
    pub api_key_status: String,
    /// The file the key is saved in (mode 0600); it is picked up at the next start.
    pub credentials_file: String,
    /// The settlement transaction on Base, when reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_hash: Option<String>,
    /// Always `base`.
    pub network: String,
    /// The wallet that paid.
    pub payer: String,
    /// The VirtualSMS wallet that was paid.
    pub pay_to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// USD this process may still top up (VIRTUALSMS_X402_MAX_TOPUP_USD minus top-ups so far).
    pub topup_left_usd: f64,
    /// What to do now.
    pub next_step: String,
}

/// Pays for top-ups. Cheap to clone; clones share the per-process total.
#[derive(Clone)]
pub struct Funder {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    wallet: Wallet,
    config: X402Config,
    settings: HttpSettings,
    http: OnceLock<Result<reqwest::Client, String>>,
    /// USDC base units signed for by this process (kept even when the outcome is unknown).
    committed: Mutex<u128>,
    /// One top-up at a time: the cap check, the signature and the file write are serialized.
    one_at_a_time: tokio::sync::Mutex<()>,
}

/// A response that was read to the end.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// Why no [`Answer`] came.
struct NoAnswer {
    /// True when the connection could not be made: nothing was sent.
    not_sent: bool,
    detail: String,
}

/// The 200 body after settlement.
#[derive(Debug, Default, Deserialize)]
struct Settled {
    #[serde(default)]
    api_key: Option<String>,
    #[serde(default)]
    user_id: Option<Value>,
    #[serde(default)]
    balance_usd: Option<Value>,
    #[serde(default)]
    settlement: Option<Settlement>,
    /// Some documents put the transaction at the top level.
    #[serde(default)]
    tx_hash: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Settlement {
    #[serde(default)]
    network: Option<String>,
    #[serde(default)]
    tx_hash: Option<String>,
}

/// The `X-PAYMENT-RESPONSE` header, decoded.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PaymentResponse {
    #[serde(default)]
    success: Option<bool>,
    #[serde(default)]
    error_reason: Option<String>,
    #[serde(default)]
    transaction: Option<String>,
    #[serde(default)]
    network: Option<String>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn to_units(usd: f64) -> u128 {
    (usd * 1_000_000.0).round().max(0.0) as u128
}

/// A valid top-up amount in USDC base units: 2–10000 USD in whole cents.
pub fn amount_units(amount_usd: f64) -> Result<u128, TopUpError> {
    if !amount_usd.is_finite() || !(MIN_TOPUP_USD..=MAX_TOPUP_USD).contains(&amount_usd) {
        return Err(TopUpError::InvalidAmount(format!(
            "must be between {MIN_TOPUP_USD} and {MAX_TOPUP_USD} USD, the VirtualSMS top-up range \
             (got {amount_usd})"
        )));
    }
    let cents = (amount_usd * 100.0).round();
    if (cents / 100.0 - amount_usd).abs() > 1e-9 {
        return Err(TopUpError::InvalidAmount(format!(
            "must be in whole cents (got {amount_usd})"
        )));
    }
    Ok(cents as u128 * 10_000)
}

/// Replaces every secret in `text` by `[redacted]`.
fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| s.len() >= 8) {
        out = out.replace(s, "[redacted]");
    }
    out
}

/// A short, single-line excerpt of an error body: the x402 `error`, a problem's `detail`/`title`,
/// or the start of the text.
fn excerpt(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        for field in ["error", "detail", "title", "message"] {
            if let Some(s) = v.get(field).and_then(Value::as_str) {
                return s.chars().take(EXCERPT_CHARS).collect();
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        "(empty body)".to_owned()
    } else {
        flat.chars().take(EXCERPT_CHARS).collect()
    }
}

impl Funder {
    /// A funder when `config` has a wallet; `None` otherwise (then there is no top-up tool).
    pub fn new(client: Client, config: &Config) -> Option<Self> {
        let wallet = config.x402.wallet.clone()?;
        Some(Self {
            inner: Arc::new(Inner {
                client,
                wallet,
                config: config.x402.clone(),
                settings: config.http.clone(),
                http: OnceLock::new(),
                committed: Mutex::new(0),
                one_at_a_time: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The paying wallet's address.
    pub fn wallet_address(&self) -> Address {
        self.inner.wallet.address()
    }

    /// USD this process may still top up.
    pub fn left_usd(&self) -> f64 {
        let cap = to_units(self.inner.config.max_topup_usd);
        let committed = *self.committed();
        cap.saturating_sub(committed) as f64 / 1_000_000.0
    }

    fn committed(&self) -> std::sync::MutexGuard<'_, u128> {
        self.inner
            .committed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Tops up the balance by `amount_usd` (see the module docs). Runs to the end in its own
    /// task even if the caller stops waiting.
    pub async fn top_up(&self, amount_usd: f64) -> Result<TopUpOutcome, TopUpError> {
        let this = self.clone();
        match tokio::spawn(async move { this.run(amount_usd).await }).await {
            Ok(result) => result,
            Err(e) => Err(TopUpError::OutcomeUnknown(format!(
                "the top-up stopped unexpectedly ({e}); whether a payment was signed and sent \
                 is unknown. Check the wallet's USDC transfers on Base before trying again."
            ))),
        }
    }

    fn http(&self) -> Result<&reqwest::Client, String> {
        self.inner
            .http
            .get_or_init(|| {
                crate::api::http_client_builder(&self.inner.settings)
                    // Never follow a redirect: it would carry X-PAYMENT to another URL.
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.config.base_url)
    }

    /// One request, no retry, body read up to the configured bound.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        secrets: &[&str],
    ) -> Result<Answer, NoAnswer> {
        let describe = |e: &reqwest::Error| {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            scrub(&text, secrets)
        };
        let mut response = request.send().await.map_err(|e| NoAnswer {
            not_sent: e.is_connect(),
            detail: describe(&e),
        })?;
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let limit = self.inner.settings.max_body_bytes;
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        return Err(NoAnswer {
                            not_sent: false,
                            detail: format!("the answer exceeded {limit} bytes"),
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(NoAnswer {
                        not_sent: false,
                        detail: describe(&e),
                    })
                }
            }
        }
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// The Base wallet to pay: `/x402/info`, checked against the pin; the pin alone when info
    /// is unavailable; a refusal when neither is known.
    async fn payee(&self) -> Result<Address, TopUpError> {
        let pin = self.inner.config.pay_to;
        let info = match self.http() {
            Err(e) => Err(e),
            Ok(http) => {
                let request = http
                    .get(self.url("/x402/info"))
                    .header(ACCEPT, "application/json")
                    .timeout(self.inner.settings.request_timeout);
                match self.send(request, &[]).await {
                    Ok(a) if a.status.is_success() => manifest::base_wallet_from_info(&a.body),
                    Ok(a) => Err(format!("/x402/info answered HTTP {}", a.status.as_u16())),
                    Err(e) => Err(format!("/x402/info is unreachable ({})", e.detail)),
                }
            }
        };
        match (info, pin) {
            (Ok(reported), Some(pinned)) if reported != pinned => {
                Err(TopUpError::Refused(format!(
                "/x402/info reports the VirtualSMS Base wallet {reported}, but {} pins {pinned}. \
                 Nothing was signed. Check which is right before paying.",
                env::X402_PAY_TO
            )))
            }
            (Ok(reported), _) => Ok(reported),
            (Err(why), Some(pinned)) => {
                tracing::warn!(reason = %why, pay_to = %pinned, "x402: /x402/info unavailable; using the pinned payee");
                Ok(pinned)
            }
            (Err(why), None) => Err(TopUpError::Refused(format!(
                "cannot confirm where the money would go: {why}. Nothing was signed. Try again \
                 later, or pin the VirtualSMS Base wallet with {} (the address VirtualSMS \
                 publishes for x402 top-ups).",
                env::X402_PAY_TO
            ))),
        }
    }

    fn topup_request(
        &self,
        http: &reqwest::Client,
        amount_usd: f64,
        api_key: Option<&ApiKey>,
        payment: Option<&PaymentHeader>,
        timeout: Duration,
    ) -> Result<reqwest::RequestBuilder, TopUpError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(key) = api_key {
            let mut value = HeaderValue::from_str(key.expose()).map_err(|_| {
                TopUpError::Refused(
                    "the API key contains characters that cannot go in an HTTP header".into(),
                )
            })?;
            value.set_sensitive(true);
            headers.insert("x-api-key", value);
        }
        if let Some(payment) = payment {
            let mut value = HeaderValue::from_str(payment.expose())
                .map_err(|_| TopUpError::Refused("cannot encode the payment header".into()))?;
            value.set_sensitive(true);
            headers.insert("x-payment", value);
        }
        Ok(http
            .post(self.url("/x402/topup"))
            .headers(headers)
            .timeout(timeout)
            .body(serde_json::json!({ "amount_usd": amount_usd }).to_string()))
    }

    async fn run(&self, amount_usd: f64) -> Result<TopUpOutcome, TopUpError> {
        let _one = self.inner.one_at_a_time.lock().await;
        let config = &self.inner.config;
        let value = amount_units(amount_usd)?;
        let amount_usd = value as f64 / 1_000_000.0;
        let cap = to_units(config.max_topup_usd);
        if value > cap {
            return Err(TopUpError::Refused(format!(
                "{} is above this server's cap of {} per top-up ({}). Nothing was signed. Top up \
                 less, or ask the user to raise the cap.",
                usd(value),
                usd(cap),
                env::X402_MAX_TOPUP_USD
            )));
        }
        let committed = *self.committed();
        if committed + value > cap {
            return Err(TopUpError::Refused(format!(
                "this server has already topped up {} and may top up {} in total per process \
                 ({}); another {} would pass that. Nothing was signed.",
                usd(committed),
                usd(cap),
                env::X402_MAX_TOPUP_USD,
                usd(value)
            )));
        }
        let Some(credentials_file) = config.credentials_file.clone() else {
            return Err(TopUpError::Refused(format!(
                "there is nowhere to keep the API key a top-up would issue (no HOME or \
                 XDG_CONFIG_HOME). Set {} to a file path. Nothing was signed.",
                env::CREDENTIALS_FILE
            )));
        };
        let http = self
            .http()
            .map_err(|e| TopUpError::Failed(format!("cannot set up HTTP: {e}")))?;
        let api_key = self.inner.client.current_key();
        let key_text = api_key
            .as_ref()
            .map(|k| k.expose().to_owned())
            .unwrap_or_default();

        let payee = self.payee().await?;

        // 1. Ask for the price.
        let timeout = self.inner.settings.request_timeout;
        let ask = self.topup_request(http, amount_usd, api_key.as_ref(), None, timeout)?;
        let first = self.send(ask, &[&key_text]).await.map_err(|e| {
            TopUpError::Failed(format!(
                "could not reach the x402 top-up endpoint ({}). Nothing was signed or charged; \
                 it is safe to try again.",
                e.detail
            ))
        })?;
        if first.status != StatusCode::PAYMENT_REQUIRED {
            let mut text = format!(
                "the x402 top-up endpoint answered HTTP {} instead of 402 Payment Required: {}. \
                 Nothing was signed or charged.",
                first.status.as_u16(),
                scrub(&excerpt(&first.body), &[&key_text])
            );
            if first.status == StatusCode::UNAUTHORIZED || first.status == StatusCode::FORBIDDEN {
                text.push_str(" The API key sent as x-api-key was not accepted.");
            }
            return Err(TopUpError::Failed(text));
        }

        // 2. Check the manifest; nothing is signed unless every check passes.
        let accepted =
            manifest::select(&first.body, &Expected { value, payee, cap }).map_err(|why| {
                TopUpError::Refused(format!(
                    "the payment manifest does not fit this top-up: {why}. Nothing was signed."
                ))
            })?;

        // 3. Sign exactly once.
        let mut nonce = [0u8; 32];
        getrandom::fill(&mut nonce).map_err(|e| {
            TopUpError::Refused(format!(
                "no randomness for the nonce ({e}); nothing was signed"
            ))
        })?;
        let now = unix_now();
        let auth = Authorization {
            from: self.inner.wallet.address(),
            to: accepted.pay_to,
            value: accepted.value,
            valid_after: now.saturating_sub(VALID_AFTER_SLACK_SECS),
            valid_before: now + accepted.max_timeout_seconds,
            nonce,
        };
        let digest = auth.digest(&Domain::base_usdc());
        let signature = self
            .inner
            .wallet
            .sign_digest(&digest)
            .map_err(|e| TopUpError::Refused(format!("{e}; nothing was signed")))?;
        let payment = PaymentHeader::new(&auth, &signature);
        let sig_hex = signature.to_hex();
        let secrets: [&str; 4] = [payment.expose(), &sig_hex, &sig_hex[2..], &key_text];
        let wait = timeout.max(Duration::from_secs(accepted.max_timeout_seconds));
        let pay = self.topup_request(http, amount_usd, api_key.as_ref(), Some(&payment), wait)?;
        // Counted against the cap from the moment it leaves this function, whatever happens next.
        *self.committed() += value;
        let nonce_hex = format!("0x{}", eip3009::to_hex(&nonce));
        tracing::info!(
            amount = %usd(value),
            payer = %auth.from,
            pay_to = %auth.to,
            valid_before = auth.valid_before,
            "x402: signed one EIP-3009 authorization; sending it once"
        );

        // 4. Pay. Never retried.
        let answer = match self.send(pay, &secrets).await {
            Ok(answer) => answer,
            Err(e) if e.not_sent => {
                // The connection was never made: nobody holds the authorization.
                *self.committed() -= value;
                return Err(TopUpError::Failed(format!(
                    "could not connect to the x402 top-up endpoint to pay ({}). The signed \
                     authorization was never sent and has been discarded; nothing was charged.",
                    e.detail
                )));
            }
            Err(e) => {
                tracing::warn!(detail = %e.detail, nonce = %nonce_hex, "x402: payment sent, no answer: outcome unknown");
                return Err(TopUpError::OutcomeUnknown(format!(
                    "the payment was sent but no answer came back ({}). The OUTCOME IS UNKNOWN: \
                     the wallet may have been charged {}. The signed authorization (nonce \
                     {nonce_hex}, valid until unix time {}) was sent once and will NOT be re-sent \
                     or re-signed automatically. Next step: check the USDC transfers of {} on \
                     Base (e.g. on basescan.org) before trying again; if it settled, VirtualSMS \
                     support can find the key by the wallet address.",
                    e.detail,
                    usd(value),
                    auth.valid_before,
                    auth.from
                )));
            }
        };
        let payment_response = answer
            .headers
            .get("x-payment-response")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| BASE64.decode(v.trim()).ok())
            .and_then(|bytes| serde_json::from_slice::<PaymentResponse>(&bytes).ok());
        if !answer.status.is_success() {
            let reason = payment_response
                .as_ref()
                .and_then(|r| r.error_reason.clone())
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            return Err(TopUpError::Rejected(format!(
                "VirtualSMS refused the payment: HTTP {}: {}{}. No API key was issued. The \
                 authorization was signed once (nonce {nonce_hex}) and is not re-sent; it expires \
                 at unix time {}. Next step: check the wallet's USDC balance, then try again \
                 with a new top-up if nothing moved.",
                answer.status.as_u16(),
                scrub(&excerpt(&answer.body), &secrets),
                scrub(&reason, &secrets),
                auth.valid_before
            )));
        }

        // 5. Keep the key before anything else happens to it.
        let settled: Settled = serde_json::from_slice(&answer.body).unwrap_or_default();
        let tx_hash = settled
            .settlement
            .as_ref()
            .and_then(|s| s.tx_hash.clone())
            .or(settled.tx_hash.clone())
            .or_else(|| {
                payment_response
                    .as_ref()
                    .and_then(|r| r.transaction.clone())
            });
        let Some(new_key) = settled
            .api_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
        else {
            return Err(TopUpError::AfterPayment(format!(
                "the payment went through (HTTP {}, transaction {}), but the answer carried no \
                 api_key. {} Next step: contact VirtualSMS support with the wallet address {} \
                 and the transaction; do not pay again.",
                answer.status.as_u16(),
                tx_hash.as_deref().unwrap_or("not reported"),
                if api_key.is_some() {
                    "The existing key was probably topped up; check get_balance."
                } else {
                    "No key could be saved."
                },
                auth.from
            )));
        };
        let user_id = settled.user_id.as_ref().map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let network = settled
            .settlement
            .as_ref()
            .and_then(|s| s.network.clone())
            .or_else(|| payment_response.as_ref().and_then(|r| r.network.clone()))
            .unwrap_or_else(|| "base".to_owned());
        let masked = credentials::mask(&new_key);
        let saved = credentials::Saved {
            api_key: new_key.clone(),
            user_id: user_id.clone(),
            wallet: Some(auth.from.to_string()),
            network: Some(network.clone()),
            tx_hash: tx_hash.clone(),
            issued_by: Some(config.base_url.clone()),
            ..credentials::Saved::default()
        };
        let save = credentials::save(&credentials_file, saved);
        // Only now is the key used.
        self.inner.client.set_key(ApiKey::new(new_key.clone()));
        if let Err(e) = save {
            tracing::error!(api_key = %masked, credentials = %credentials_file.display(), error = %e, "x402: the purchased API key could not be saved");
            return Err(TopUpError::AfterPayment(format!(
                "the top-up of {} went through and API key {masked} was issued, but it could not \
                 be saved to {} ({e}). It is in use by this server until it stops, and will be \
                 lost then. Next step: fix the file's directory or set {} and ask VirtualSMS \
                 support for the key of wallet {} (user {}, transaction {}).",
                usd(value),
                credentials_file.display(),
                env::CREDENTIALS_FILE,
                auth.from,
                user_id.as_deref().unwrap_or("?"),
                tx_hash.as_deref().unwrap_or("not reported")
            )));
        }
        let topped_up = api_key.as_ref().is_some_and(|k| k.expose() == new_key);
        if payment_response.as_ref().and_then(|r| r.success) == Some(false) {
            tracing::warn!(
                "x402: X-PAYMENT-RESPONSE reports success=false although the answer was 2xx"
            );
        }
        tracing::info!(
            api_key = %masked,
            credentials = %credentials_file.display(),
            amount = %usd(value),
            tx_hash = tx_hash.as_deref().unwrap_or("-"),
            "x402: top-up settled; the API key is saved and in use"
        );
        let next_step = if topped_up {
            "The balance of this server's API key was topped up. Next: find_cheapest, then \
             create_order."
                .to_owned()
        } else if config.sandbox {
            format!(
                "A new simulated account was funded. Its key ({masked}) is in use by this \
                 server now and kept in the temporary file {} for this run only. Next: \
                 find_cheapest, then create_order.",
                credentials_file.display()
            )
        } else {
            format!(
                "A new VirtualSMS account was funded. Its API key ({masked}) is saved in {} \
                 (mode 0600) and this server uses it from now on; it is picked up automatically \
                 at the next start. Next: find_cheapest, then create_order.",
                credentials_file.display()
            )
        };
        Ok(TopUpOutcome {
            amount_usd,
            balance_usd: settled.balance_usd.as_ref().and_then(number),
            api_key: masked,
            api_key_status: if topped_up { "topped_up" } else { "issued" }.to_owned(),
            credentials_file: credentials_file.display().to_string(),
            tx_hash,
            network,
            payer: auth.from.to_string(),
            pay_to: auth.to.to_string(),
            user_id,
            topup_left_usd: self.left_usd(),
            next_step,
        })
    }
}

/// `virtualsms-mcp topup --amount N`: one top-up, the result as JSON on stdout. Honors
/// `--sandbox` (pays the embedded fake) and refuses in read-only mode.
pub async fn run_cli(config: Config, amount_usd: f64) -> anyhow::Result<()> {
    if config.guard.read_only {
        anyhow::bail!(
            "{} is set: top-ups are disabled in read-only mode",
            env::READ_ONLY
        );
    }
    let app = crate::app::App::new(config).await?;
    let funder = app.server.state().topup.clone().ok_or_else(|| {
        anyhow::anyhow!(
            "no wallet is configured: set {} (0x + 64 hex digits) or {} (a file holding it)",
            env::WALLET_PRIVATE_KEY,
            env::WALLET_KEY_FILE
        )
    })?;
    let outcome = funder.top_up(amount_usd).await?;
    println!("{}", serde_json::to_string_pretty(&outcome)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_whole_cents_in_the_contract_range() {
        assert_eq!(amount_units(2.0).unwrap(), 2_000_000);
        assert_eq!(amount_units(10.25).unwrap(), 10_250_000);
        assert_eq!(amount_units(10_000.0).unwrap(), 10_000_000_000);
        for bad in [1.99, 0.0, -5.0, 10_000.01, f64::NAN, f64::INFINITY, 2.001] {
            assert!(
                matches!(amount_units(bad), Err(TopUpError::InvalidAmount(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn payment_header_is_padded_base64_of_string_fields() {
        let wallet = Wallet::from_hex(&format!("0x{}", "11".repeat(32))).unwrap();
        let auth = Authorization {
            from: wallet.address(),
            to: Address::parse("0x209693Bc6afc0C5328bA36FaF03C514EF312287C").unwrap(),
            value: 10_000_000,
            valid_after: 1_740_000_000,
            valid_before: 1_740_000_900,
            nonce: [0xab; 32],
        };
        let sig = wallet
            .sign_digest(&auth.digest(&Domain::base_usdc()))
            .unwrap();
        let header = PaymentHeader::new(&auth, &sig);
        assert_eq!(format!("{header:?}"), "PaymentHeader(<redacted>)");
        let json: Value = serde_json::from_slice(&BASE64.decode(header.expose()).unwrap()).unwrap();
        assert_eq!(json["x402Version"], 1);
        assert_eq!(json["scheme"], "exact");
        assert_eq!(json["network"], "base");
        let a = &json["payload"]["authorization"];
        for field in ["from", "to", "value", "validAfter", "validBefore", "nonce"] {
            assert!(a[field].is_string(), "{field} is a string");
        }
        assert_eq!(a["from"], "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A");
        assert_eq!(a["value"], "10000000");
        assert_eq!(a["nonce"], format!("0x{}", "ab".repeat(32)));
        assert_eq!(json["payload"]["signature"], "0xf04045101a31c523acde2ed703be7651c01e3db115de747494a715c79322040814a0ee1abd453c3ff18b29a8b755c3116f943b861c4b33b7bba16b80533958521c");
        assert_eq!(header.expose().len() % 4, 0, "padded");
    }

    #[test]
    fn config_reads_the_x402_variables() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let c = X402Config::from_lookup(&vars(&[("HOME", "/home/a")])).unwrap();
        assert!(c.wallet.is_none());
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.max_topup_usd, DEFAULT_MAX_TOPUP_USD);
        assert_eq!(
            c.credentials_file,
            Some(PathBuf::from(
                "/home/a/.config/virtualsms-mcp/credentials.json"
            ))
        );
        let c = X402Config::from_lookup(&vars(&[
            (
                env::WALLET_PRIVATE_KEY,
                "0x1111111111111111111111111111111111111111111111111111111111111111",
            ),
            (env::X402_BASE_URL, "http://127.0.0.1:9/api/v1/"),
            (env::X402_MAX_TOPUP_USD, "5"),
            (
                env::X402_PAY_TO,
                "0xfEc54264350d97d9b63f9Cc415BAF708C4695F32",
            ),
            (env::CREDENTIALS_FILE, "/tmp/c.json"),
        ]))
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("1111111111111111"), "{shown}");
        assert_eq!(c.base_url, "http://127.0.0.1:9/api/v1");
        assert_eq!(c.max_topup_usd, 5.0);
        assert_eq!(c.credentials_file, Some(PathBuf::from("/tmp/c.json")));
        for (name, value) in [
            (env::WALLET_PRIVATE_KEY, "0x1234"),
            (env::X402_MAX_TOPUP_USD, "-1"),
            (env::X402_PAY_TO, "0x1234"),
            (env::X402_BASE_URL, "virtualsms.io"),
            (env::WALLET_KEY_FILE, "/nonexistent/key"),
        ] {
            let err = X402Config::from_lookup(&|n: &str| (n == name).then(|| value.to_owned()))
                .unwrap_err();
            assert_eq!(err.name, name);
            assert!(!err.problem.contains("0x1234") || name == env::X402_PAY_TO);
        }
    }
}
