//! The steps of one top-up ([`Funder::run`]), each its own function: admit (amount, caps,
//! a Solana payment still in flight), find the payee, ask for the price, choose the entry,
//! sign once, pay once, keep the key, report. See the module docs of [`super`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::eip3009::{self, Address, Authorization, Domain};
use super::envelope::{self, Network, PaymentHeader, PaymentRequired, Version};
use super::manifest::{self, usd, Accepted, Expected, Pay, Wanted};
use super::svm::{self, Keypair, Pubkey};
use super::{credentials, to_units, Funder, InFlight, Payer, TopUpError, TopUpOutcome};
use crate::config::{env, ApiKey};

/// `validAfter = now - this`: tolerates a verifier whose clock is behind ours.
const VALID_AFTER_SLACK_SECS: u64 = 600;
/// How much of an error body goes into a message.
const EXCERPT_CHARS: usize = 300;
/// Solana slots are ~400 ms; used only to say how long a wait is.
const SLOT_MILLIS: u64 = 400;

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

/// A top-up that passed the checks made before any request.
struct Admitted {
    value: u128,
    amount_usd: f64,
    cap: u128,
    credentials_file: std::path::PathBuf,
}

/// Until when a signed payment can still move money.
enum Expiry {
    /// EIP-3009: `validBefore` (unix seconds), identified by its nonce.
    ValidBefore { unix: u64, nonce: String },
    /// Solana: the blockhash's `lastValidBlockHeight`.
    BlockHeight(u64),
}

/// The one signed payment of a top-up. `Debug` is not derived: it holds the header.
struct Signed {
    header: PaymentHeader,
    /// Every form of the signed material, scrubbed from any text that comes back.
    secrets: Vec<String>,
    network: Network,
    version: Version,
    token: &'static str,
    payer: String,
    pay_to: String,
    /// How long to wait for the answer to the payment.
    wait: Duration,
    expiry: Expiry,
}

/// What a 2xx answer to the payment carried. `Debug` is not derived: it holds the whole key.
struct Receipt {
    api_key: String,
    user_id: Option<String>,
    balance_usd: Option<f64>,
    network: Network,
    tx_hash: Option<String>,
}

/// What the settlement left: the key is saved and in use.
struct Kept {
    balance_usd: Option<f64>,
    masked: String,
    topped_up: bool,
    tx_hash: Option<String>,
    user_id: Option<String>,
    network: Network,
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

/// Why a payment was refused: the error of a new 402 (either envelope), else the body.
fn refusal(answer: &Answer) -> String {
    envelope::parse_402(&answer.headers, &answer.body)
        .ok()
        .and_then(|r| r.error)
        .map(|e| e.chars().take(EXCERPT_CHARS).collect())
        .unwrap_or_else(|| excerpt(&answer.body))
}

impl Signed {
    fn secrets(&self) -> Vec<&str> {
        self.secrets.iter().map(String::as_str).collect()
    }

    /// What identifies the payment and until when it can settle, for messages.
    fn validity(&self) -> String {
        match &self.expiry {
            Expiry::ValidBefore { unix, nonce } => {
                format!("authorization nonce {nonce}, valid until unix time {unix}")
            }
            Expiry::BlockHeight(height) => format!(
                "a {} transaction that can land on chain only up to last valid block height \
                 {height}",
                self.token
            ),
        }
    }

    fn explorer(&self) -> &'static str {
        match self.network {
            Network::Solana => "solscan.io",
            _ => "basescan.org",
        }
    }
}

impl Funder {
    /// The whole top-up, one step per function; one at a time per process.
    pub(super) async fn run(&self, amount_usd: f64) -> Result<TopUpOutcome, TopUpError> {
        let _one = self.inner.one_at_a_time.lock().await;
        let admitted = self.admit(amount_usd)?;
        let http = self
            .http()
            .map_err(|e| TopUpError::Failed(format!("cannot set up HTTP: {e}")))?;
        self.wait_out_in_flight(http).await?;
        let api_key = self.inner.key.get();
        let wanted = self.wanted().await?;
        let required = self.ask(http, &admitted, api_key.as_ref()).await?;
        let expected = Expected {
            value: admitted.value,
            cap: admitted.cap,
            wanted,
        };
        let accepted = manifest::select(&required, &expected).map_err(|why| {
            TopUpError::Refused(format!(
                "the payment manifest does not fit this top-up: {why}. Nothing was signed."
            ))
        })?;
        let signed = self.sign(http, &required, &accepted).await?;
        let answer = self.pay(http, &admitted, api_key.as_ref(), &signed).await?;
        self.keep_key(answer, &admitted, api_key.as_ref(), &signed)
    }

    /// Step 1: the amount, the caps and the credentials file, before any request.
    fn admit(&self, amount_usd: f64) -> Result<Admitted, TopUpError> {
        let config = &self.inner.config;
        let value = super::amount_units(amount_usd)?;
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
        Ok(Admitted {
            value,
            amount_usd: value as f64 / 1_000_000.0,
            cap,
            credentials_file,
        })
    }

    /// Step 1b (Solana): a payment whose answer was lost may still land until its blockhash
    /// expires; no other is signed before then.
    async fn wait_out_in_flight(&self, http: &reqwest::Client) -> Result<(), TopUpError> {
        let Some(pending) = *self.in_flight() else {
            return Ok(());
        };
        let last = pending.last_valid_block_height;
        match self
            .rpc(http, "getBlockHeight", json!([{"commitment": "confirmed"}]))
            .await
        {
            Ok(v) if v.as_u64().is_some_and(|h| h > last) => {
                *self.in_flight() = None;
                Ok(())
            }
            Ok(v) => {
                let now = v.as_u64().unwrap_or(0);
                Err(TopUpError::Refused(format!(
                    "an earlier Solana payment of {} whose answer was lost can still land on \
                     chain until block height {last} (the chain is at {now}; about {} s more). \
                     This server signs no other payment before then, so the same top-up cannot \
                     be paid twice. Nothing was signed. Next step: wait, then check the \
                     wallet's token transfers (e.g. on solscan.io) before trying again.",
                    usd(pending.value),
                    (last + 1).saturating_sub(now) * SLOT_MILLIS / 1000 + 1
                )))
            }
            Err(e) => Err(TopUpError::Refused(format!(
                "an earlier Solana payment of {} whose answer was lost may still land until \
                 block height {last}, and the current height is unknown ({e}). Nothing was \
                 signed. Try again later.",
                usd(pending.value)
            ))),
        }
    }

    /// Step 2: what the paying network needs before the manifest is read — above all the
    /// payee, from `/x402/info` checked against the pin.
    async fn wanted(&self) -> Result<Wanted, TopUpError> {
        let config = &self.inner.config;
        let info = self.info().await;
        match &self.inner.payer {
            Payer::Base(_) => {
                let info = info.and_then(|body| manifest::base_wallet_from_info(&body));
                let payee = confirm_payee(info, config.pay_to, "Base")?;
                Ok(Wanted::Base { payee })
            }
            Payer::Solana(keypair) => {
                let info = info.and_then(|body| manifest::solana_wallet_from_info(&body));
                let payee = confirm_payee(info, config.solana_pay_to, "Solana")?;
                Ok(Wanted::Solana {
                    payee,
                    token: config.token,
                    wallet: keypair.pubkey(),
                })
            }
        }
    }

    /// The `/x402/info` body, or why there is none.
    async fn info(&self) -> Result<Vec<u8>, String> {
        let http = self.http()?;
        let request = http
            .get(self.url("/x402/info"))
            .header(ACCEPT, "application/json")
            .timeout(self.inner.settings.request_timeout);
        match self.send(request, &[]).await {
            Ok(a) if a.status.is_success() => Ok(a.body),
            Ok(a) => Err(format!("/x402/info answered HTTP {}", a.status.as_u16())),
            Err(e) => Err(format!("/x402/info is unreachable ({})", e.detail)),
        }
    }

    /// Step 3: ask for the price; a 402 with requirements in either envelope.
    async fn ask(
        &self,
        http: &reqwest::Client,
        admitted: &Admitted,
        api_key: Option<&ApiKey>,
    ) -> Result<PaymentRequired, TopUpError> {
        let key_text = api_key.map(|k| k.expose()).unwrap_or_default();
        let timeout = self.inner.settings.request_timeout;
        let ask = self.topup_request(http, admitted.amount_usd, api_key, None, timeout)?;
        let first = self.send(ask, &[key_text]).await.map_err(|e| {
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
                scrub(&excerpt(&first.body), &[key_text])
            );
            if first.status == StatusCode::UNAUTHORIZED || first.status == StatusCode::FORBIDDEN {
                text.push_str(" The API key sent as x-api-key was not accepted.");
            }
            return Err(TopUpError::Failed(text));
        }
        envelope::parse_402(&first.headers, &first.body).map_err(|why| {
            TopUpError::Refused(format!(
                "the payment manifest does not fit this top-up: {why}. Nothing was signed."
            ))
        })
    }

    /// Step 4: sign exactly one payment for the accepted entry.
    async fn sign(
        &self,
        http: &reqwest::Client,
        required: &PaymentRequired,
        accepted: &Accepted,
    ) -> Result<Signed, TopUpError> {
        match (&self.inner.payer, &accepted.pay) {
            (Payer::Base(wallet), Pay::Base { pay_to }) => {
                sign_base(wallet, required, accepted, *pay_to)
            }
            (Payer::Solana(keypair), Pay::Solana { .. }) => {
                let latest = self.latest_blockhash(http).await?;
                sign_solana(keypair, required, accepted, latest)
            }
            _ => Err(TopUpError::Refused(
                "the accepted entry is for another network than the wallet; nothing was signed"
                    .into(),
            )),
        }
    }

    /// `getLatestBlockhash`, right before signing: the blockhash and its last valid height.
    async fn latest_blockhash(
        &self,
        http: &reqwest::Client,
    ) -> Result<([u8; 32], u64), TopUpError> {
        let failed = |why: String| {
            TopUpError::Failed(format!(
                "could not get a recent blockhash from the Solana RPC {} ({why}). Nothing was \
                 signed or charged; try again, or set {} to another RPC endpoint.",
                self.inner.config.solana_rpc_url,
                env::SOLANA_RPC_URL
            ))
        };
        let result = self
            .rpc(
                http,
                "getLatestBlockhash",
                json!([{"commitment": "confirmed"}]),
            )
            .await
            .map_err(failed)?;
        let value = &result["value"];
        let blockhash = value["blockhash"]
            .as_str()
            .and_then(|b| Pubkey::parse(b).ok())
            .ok_or_else(|| failed("the answer carries no valid blockhash".into()))?;
        let height = value["lastValidBlockHeight"]
            .as_u64()
            .ok_or_else(|| failed("the answer carries no lastValidBlockHeight".into()))?;
        Ok((blockhash.0, height))
    }

    /// One JSON-RPC call to the Solana RPC: its `result`, or why there is none.
    async fn rpc(
        &self,
        http: &reqwest::Client,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let request = http
            .post(&self.inner.config.solana_rpc_url)
            .header(CONTENT_TYPE, "application/json")
            .timeout(self.inner.settings.request_timeout)
            .body(body.to_string());
        let answer = self.send(request, &[]).await.map_err(|e| e.detail)?;
        if !answer.status.is_success() {
            return Err(format!("{method}: HTTP {}", answer.status.as_u16()));
        }
        let doc: Value = serde_json::from_slice(&answer.body)
            .map_err(|e| format!("{method}: not JSON ({e})"))?;
        if let Some(error) = doc.get("error") {
            return Err(format!(
                "{method}: {}",
                excerpt(error.to_string().as_bytes())
            ));
        }
        doc.get("result")
            .cloned()
            .ok_or_else(|| format!("{method}: no result"))
    }

    /// Step 5: send the payment once. Never retried.
    async fn pay(
        &self,
        http: &reqwest::Client,
        admitted: &Admitted,
        api_key: Option<&ApiKey>,
        signed: &Signed,
    ) -> Result<Answer, TopUpError> {
        let value = admitted.value;
        let mut secrets = signed.secrets();
        let key_text = api_key.map(|k| k.expose()).unwrap_or_default();
        secrets.push(key_text);
        let wait = signed.wait.max(self.inner.settings.request_timeout);
        let request = self.topup_request(
            http,
            admitted.amount_usd,
            api_key,
            Some(&signed.header),
            wait,
        )?;
        // Counted against the cap from the moment it leaves this function, whatever happens next.
        *self.committed() += value;
        tracing::info!(
            amount = %usd(value),
            network = %signed.network,
            x402_version = signed.version.number(),
            payer = %signed.payer,
            pay_to = %signed.pay_to,
            "x402: signed one payment; sending it once"
        );
        let answer = match self.send(request, &secrets).await {
            Ok(answer) => answer,
            Err(e) if e.not_sent => {
                // The connection was never made: nobody holds the payment.
                *self.committed() -= value;
                return Err(TopUpError::Failed(format!(
                    "could not connect to the x402 top-up endpoint to pay ({}). The signed \
                     payment was never sent and has been discarded; nothing was charged.",
                    e.detail
                )));
            }
            Err(e) => return Err(self.lost(signed, value, &e.detail)),
        };
        if !answer.status.is_success() {
            let reason = envelope::payment_response(&answer.headers)
                .and_then(|r| r.error_reason)
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            return Err(TopUpError::Rejected(format!(
                "VirtualSMS refused the payment: HTTP {}: {}{}. No API key was issued. The \
                 payment ({}) was signed once and is not re-sent. Next step: check the \
                 wallet's {} balance, then try again with a new top-up if nothing moved.",
                answer.status.as_u16(),
                scrub(&refusal(&answer), &secrets),
                scrub(&reason, &secrets),
                signed.validity(),
                signed.token
            )));
        }
        Ok(answer)
    }

    /// The payment left and no answer came: the outcome is unknown. On Solana the payment is
    /// remembered until its blockhash expires, and no other is signed before then.
    fn lost(&self, signed: &Signed, value: u128, detail: &str) -> TopUpError {
        if let Expiry::BlockHeight(height) = signed.expiry {
            *self.in_flight() = Some(InFlight {
                last_valid_block_height: height,
                value,
            });
        }
        tracing::warn!(detail = %detail, validity = %signed.validity(), "x402: payment sent, no answer: outcome unknown");
        TopUpError::OutcomeUnknown(format!(
            "the payment was sent but no answer came back ({detail}). The OUTCOME IS UNKNOWN: \
             the wallet may have been charged {}. The payment ({}) was sent once and will NOT be \
             re-sent or re-signed automatically{}. Next step: check the {} transfers of {} on \
             {} (e.g. on {}) before trying again; if it settled, VirtualSMS support can find \
             the key by the wallet address.",
            usd(value),
            signed.validity(),
            match signed.expiry {
                Expiry::BlockHeight(_) =>
                    "; this server signs no other payment before that \
                                           block height has passed",
                Expiry::ValidBefore { .. } => "",
            },
            signed.token,
            signed.payer,
            signed.network.label(),
            signed.explorer()
        ))
    }

    /// Step 6a: what the 2xx answer says — the issued key above all.
    fn read_settlement(
        answer: &Answer,
        api_key: Option<&ApiKey>,
        signed: &Signed,
    ) -> Result<Receipt, TopUpError> {
        let header = envelope::payment_response(&answer.headers);
        if header.as_ref().and_then(|r| r.success) == Some(false) {
            tracing::warn!(
                "x402: the payment response reports success=false although the answer was 2xx"
            );
        }
        let settled: Settled = serde_json::from_slice(&answer.body).unwrap_or_default();
        let settlement = settled.settlement.unwrap_or_default();
        let tx_hash = settlement
            .tx_hash
            .or(settled.tx_hash)
            .or_else(|| header.as_ref().and_then(|r| r.transaction.clone()))
            .filter(|t| !t.is_empty());
        let Some(api_key_issued) = settled
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
                signed.payer
            )));
        };
        Ok(Receipt {
            api_key: api_key_issued,
            user_id: settled.user_id.map(|v| match v {
                Value::String(s) => s,
                other => other.to_string(),
            }),
            balance_usd: settled.balance_usd.as_ref().and_then(number),
            network: settlement
                .network
                .or_else(|| header.and_then(|r| r.network))
                .and_then(|n| Network::from_wire(&n))
                .unwrap_or(signed.network),
            tx_hash,
        })
    }

    /// Step 6b: keep the key before anything else happens to it, then report.
    fn keep_key(
        &self,
        answer: Answer,
        admitted: &Admitted,
        api_key: Option<&ApiKey>,
        signed: &Signed,
    ) -> Result<TopUpOutcome, TopUpError> {
        let receipt = Self::read_settlement(&answer, api_key, signed)?;
        let new_key = receipt.api_key;
        let saved = credentials::Saved {
            api_key: new_key.clone(),
            user_id: receipt.user_id.clone(),
            wallet: Some(signed.payer.clone()),
            network: Some(receipt.network.to_string()),
            tx_hash: receipt.tx_hash.clone(),
            issued_by: Some(self.inner.config.base_url.clone()),
            ..credentials::Saved::default()
        };
        let save = credentials::save(&admitted.credentials_file, saved);
        // Only now is the key used.
        self.inner.key.set(ApiKey::new(new_key.clone()));
        let masked = credentials::mask(&new_key);
        if let Err(e) = save {
            tracing::error!(api_key = %masked, credentials = %admitted.credentials_file.display(), error = %e, "x402: the purchased API key could not be saved");
            return Err(TopUpError::AfterPayment(format!(
                "the top-up of {} went through and API key {masked} was issued, but it could not \
                 be saved to {} ({e}). It is in use by this server until it stops, and will be \
                 lost then. Next step: fix the file's directory or set {} and ask VirtualSMS \
                 support for the key of wallet {} (user {}, transaction {}).",
                usd(admitted.value),
                admitted.credentials_file.display(),
                env::CREDENTIALS_FILE,
                signed.payer,
                receipt.user_id.as_deref().unwrap_or("?"),
                receipt.tx_hash.as_deref().unwrap_or("not reported")
            )));
        }
        Ok(self.outcome(
            admitted,
            signed,
            Kept {
                balance_usd: receipt.balance_usd,
                topped_up: api_key.is_some_and(|k| k.expose() == new_key),
                masked,
                tx_hash: receipt.tx_hash,
                user_id: receipt.user_id,
                network: receipt.network,
            },
        ))
    }

    /// Step 7: the report.
    fn outcome(&self, admitted: &Admitted, signed: &Signed, kept: Kept) -> TopUpOutcome {
        let file = admitted.credentials_file.display();
        let masked = kept.masked;
        tracing::info!(
            api_key = %masked,
            credentials = %file,
            amount = %usd(admitted.value),
            tx_hash = kept.tx_hash.as_deref().unwrap_or("-"),
            "x402: top-up settled; the API key is saved and in use"
        );
        let next_step = if kept.topped_up {
            "The balance of this server's API key was topped up. Next: find_cheapest, then \
             create_order."
                .to_owned()
        } else if self.inner.config.sandbox {
            format!(
                "A new simulated account was funded. Its key ({masked}) is in use by this \
                 server now and kept in the temporary file {file} for this run only. Next: \
                 find_cheapest, then create_order."
            )
        } else {
            format!(
                "A new VirtualSMS account was funded. Its API key ({masked}) is saved in {file} \
                 (mode 0600) and this server uses it from now on; it is picked up automatically \
                 at the next start. Next: find_cheapest, then create_order."
            )
        };
        TopUpOutcome {
            amount_usd: admitted.amount_usd,
            balance_usd: kept.balance_usd,
            api_key: masked,
            api_key_status: if kept.topped_up {
                "topped_up"
            } else {
                "issued"
            }
            .to_owned(),
            credentials_file: file.to_string(),
            tx_hash: kept.tx_hash,
            network: kept.network.to_string(),
            token: signed.token.to_owned(),
            x402_version: signed.version.number(),
            payer: signed.payer.clone(),
            pay_to: signed.pay_to.clone(),
            user_id: kept.user_id,
            topup_left_usd: self.left_usd(),
            next_step,
        }
    }

    fn http(&self) -> Result<&reqwest::Client, String> {
        self.inner
            .http
            .get_or_init(|| {
                crate::transport::http_client_builder(&self.inner.settings)
                    .map_err(|e| e.to_string())?
                    // Never follow a redirect: it would carry the payment to another URL.
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
            // One header, named for the envelope the server asked in: never both.
            headers.insert(payment.name(), value);
        }
        Ok(http
            .post(self.url("/x402/topup"))
            .headers(headers)
            .timeout(timeout)
            .body(json!({ "amount_usd": amount_usd }).to_string()))
    }

    /// One request, no retry, body read up to the configured bound.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        secrets: &[&str],
    ) -> Result<Answer, NoAnswer> {
        let describe = |e: &reqwest::Error| scrub(&crate::transport::error_chain(e), secrets);
        let response = request.send().await.map_err(|e| NoAnswer {
            not_sent: e.is_connect(),
            detail: describe(&e),
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let limit = self.inner.settings.max_body_bytes;
        // The same bounded read as every REST call (crate::transport).
        let body = match crate::transport::read_bounded(response, limit).await {
            Ok(body) => body,
            Err(crate::transport::BodyError::TooLarge) => {
                return Err(NoAnswer {
                    not_sent: false,
                    detail: format!("the answer exceeded {limit} bytes"),
                })
            }
            Err(crate::transport::BodyError::Read(e)) => {
                return Err(NoAnswer {
                    not_sent: false,
                    detail: describe(&e),
                })
            }
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// The payee: `/x402/info`'s, checked against the pin; the pin alone when info is unavailable;
/// a refusal when neither is known.
fn confirm_payee<T: PartialEq + std::fmt::Display + Copy>(
    info: Result<T, String>,
    pin: Option<T>,
    label: &str,
) -> Result<T, TopUpError> {
    match (info, pin) {
        (Ok(reported), Some(pinned)) if reported != pinned => Err(TopUpError::Refused(format!(
            "/x402/info reports the VirtualSMS {label} wallet {reported}, but {} pins {pinned}. \
             Nothing was signed. Check which is right before paying.",
            env::X402_PAY_TO
        ))),
        (Ok(reported), _) => Ok(reported),
        (Err(why), Some(pinned)) => {
            tracing::warn!(reason = %why, pay_to = %pinned, "x402: /x402/info unavailable; using the pinned payee");
            Ok(pinned)
        }
        (Err(why), None) => Err(TopUpError::Refused(format!(
            "cannot confirm where the money would go: {why}. Nothing was signed. Try again \
             later, or pin the VirtualSMS {label} wallet with {} (the address VirtualSMS \
             publishes for x402 top-ups).",
            env::X402_PAY_TO
        ))),
    }
}

/// Step 4, Base: one EIP-3009 authorization.
fn sign_base(
    wallet: &eip3009::Wallet,
    required: &PaymentRequired,
    accepted: &Accepted,
    pay_to: Address,
) -> Result<Signed, TopUpError> {
    let mut nonce = [0u8; 32];
    getrandom::fill(&mut nonce).map_err(|e| {
        TopUpError::Refused(format!(
            "no randomness for the nonce ({e}); nothing was signed"
        ))
    })?;
    let now = unix_now();
    let auth = Authorization {
        from: wallet.address(),
        to: pay_to,
        value: accepted.value,
        valid_after: now.saturating_sub(VALID_AFTER_SLACK_SECS),
        valid_before: now + accepted.max_timeout_seconds,
        nonce,
    };
    let signature = wallet
        .sign_digest(&auth.digest(&Domain::base_usdc()))
        .map_err(|e| TopUpError::Refused(format!("{e}; nothing was signed")))?;
    let header = PaymentHeader::new(required, &accepted.raw, eip3009::payload(&auth, &signature));
    let sig_hex = signature.to_hex();
    Ok(Signed {
        secrets: vec![
            header.expose().to_owned(),
            sig_hex.clone(),
            sig_hex[2..].to_owned(),
        ],
        header,
        network: Network::Base,
        version: required.version,
        token: "USDC",
        payer: auth.from.to_string(),
        pay_to: auth.to.to_string(),
        wait: Duration::from_secs(accepted.max_timeout_seconds),
        expiry: Expiry::ValidBefore {
            unix: auth.valid_before,
            nonce: format!("0x{}", eip3009::to_hex(&nonce)),
        },
    })
}

/// Step 4, Solana: one partially signed transfer transaction. A memo goes in when the
/// requirement carries one, or in v2 (16 random bytes as hex, per the spec); a v1 entry without
/// one gets the 3-instruction form every facilitator accepts (notes §1.3).
fn sign_solana(
    keypair: &Keypair,
    required: &PaymentRequired,
    accepted: &Accepted,
    (blockhash, last_valid_block_height): ([u8; 32], u64),
) -> Result<Signed, TopUpError> {
    let Pay::Solana {
        pay_to,
        token,
        fee_payer,
        memo,
    } = &accepted.pay
    else {
        unreachable!("sign() matched Pay::Solana");
    };
    let memo = match (memo, required.version) {
        (Some(memo), _) => Some(memo.as_bytes().to_vec()),
        (None, Version::V2) => {
            let mut random = [0u8; 16];
            getrandom::fill(&mut random).map_err(|e| {
                TopUpError::Refused(format!(
                    "no randomness for the memo ({e}); nothing was signed"
                ))
            })?;
            Some(eip3009::to_hex(&random).into_bytes())
        }
        (None, Version::V1) => None,
    };
    let transfer = svm::Transfer {
        fee_payer: *fee_payer,
        authority: keypair.pubkey(),
        destination_owner: *pay_to,
        token: *token,
        amount: u64::try_from(accepted.value)
            .map_err(|_| TopUpError::Refused("the amount does not fit a Solana transfer".into()))?,
        recent_blockhash: blockhash,
        memo,
    };
    let tx = svm::sign(keypair, &transfer).map_err(|e| {
        TopUpError::Refused(format!(
            "cannot build the Solana transaction: {e}. Nothing was signed."
        ))
    })?;
    let transaction = tx.base64();
    let header = PaymentHeader::new(
        required,
        &accepted.raw,
        json!({ "transaction": transaction }),
    );
    Ok(Signed {
        secrets: vec![
            header.expose().to_owned(),
            transaction,
            tx.signature_base58(),
        ],
        header,
        network: Network::Solana,
        version: required.version,
        token: token.symbol,
        payer: keypair.pubkey().to_string(),
        pay_to: pay_to.to_string(),
        wait: Duration::from_secs(accepted.max_timeout_seconds),
        expiry: Expiry::BlockHeight(last_valid_block_height),
    })
}
