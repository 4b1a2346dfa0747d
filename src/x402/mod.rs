//! Self-funding: an x402 top-up of the VirtualSMS balance, paid from a wallet this process
//! holds — USDC on Base (EIP-3009 `TransferWithAuthorization`) or USDC/USDT on Solana (the SVM
//! `exact` transaction) — in the x402 v1 or v2 envelope, whichever the server speaks.
//!
//! The flow ([`Funder::top_up`], steps in `flow`):
//! 1. check the amount (2–10000 USD, whole cents) against the cap per top-up and per process
//!    (`VIRTUALSMS_X402_MAX_TOPUP_USD`) — before any request; on Solana, also that no earlier
//!    payment whose answer was lost can still land;
//! 2. `GET {base}/x402/info` for the VirtualSMS wallet on the paying network (or the
//!    `VIRTUALSMS_X402_PAY_TO` pin);
//! 3. `POST {base}/x402/topup {amount_usd}` (with `x-api-key` when this process has a key, so
//!    that key is topped up) → 402 with the payment requirements ([`envelope`]: a v1 body or a
//!    v2 `PAYMENT-REQUIRED` header);
//! 4. validate the entry for the network and token ([`manifest::select`]): scheme, network,
//!    asset, amount, timeout, payee and (Solana) fee payer must all fit, or nothing is signed;
//! 5. sign ONE payment — an authorization ([`eip3009`]) or a transaction ([`svm`], with a
//!    blockhash fetched just before) — and `POST` again with `X-PAYMENT` (v1) or
//!    `PAYMENT-SIGNATURE` (v2). That request is never retried: a signed payment is a bearer
//!    instrument until it expires, and a lost answer means the outcome is unknown;
//! 6. on 200, write the issued `api_key` to the credentials file ([`credentials`]) BEFORE it is
//!    used or reported, then hand it to the REST client ([`KeySlot::set`]).
//!
//! Secrets: the private keys live in [`eip3009::Wallet`] and [`svm::Keypair`] (redacted
//! `Debug`); the signature, the transaction and the payment header exist only in the flow's
//! signed payment (redacted `Debug`) and on the wire, and are scrubbed from any text that comes
//! back. Keys are shown masked ([`credentials::mask`]). The whole flow runs in its own task, so
//! a caller that goes away (a cancelled tool call) cannot interrupt it between payment and
//! saving the key.

pub mod credentials;
pub mod eip3009;
pub mod envelope;
mod flow;
pub mod manifest;
pub mod settings;
pub mod svm;

use std::sync::{Arc, Mutex, OnceLock};

use schemars::JsonSchema;
use serde::Serialize;

use crate::config::{env, Config, HttpSettings};
use crate::transport::KeySlot;
use eip3009::Wallet;
pub use envelope::{Network, PaymentHeader, Version};
pub use settings::X402Config;

/// The public x402 endpoint (REST v1).
pub const DEFAULT_BASE_URL: &str = "https://virtualsms.io/api/v1";
/// The cap per top-up and per process when `VIRTUALSMS_X402_MAX_TOPUP_USD` is not set.
pub const DEFAULT_MAX_TOPUP_USD: f64 = 20.0;
/// The VirtualSMS top-up range (seed 001): 2.00 to 10000.00 USDC.
pub const MIN_TOPUP_USD: f64 = 2.0;
pub const MAX_TOPUP_USD: f64 = 10_000.0;

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
    /// Signed once and sent; no answer came. It may have been charged (or, on Solana, may still
    /// be until the blockhash expires).
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
    /// USD paid, in the token below.
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
    /// The settlement transaction (Base: a hash; Solana: a signature), when reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_hash: Option<String>,
    /// `base` or `solana`.
    pub network: String,
    /// `USDC` or `USDT`.
    pub token: String,
    /// The x402 envelope the server spoke: 1 (body manifest) or 2 (headers).
    pub x402_version: u64,
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

/// The wallet of the paying network.
enum Payer {
    Base(Wallet),
    Solana(svm::Keypair),
}

/// A Solana payment whose answer was lost: it can still land until this block height.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    last_valid_block_height: u64,
    value: u128,
}

struct Inner {
    key: KeySlot,
    payer: Payer,
    config: X402Config,
    settings: HttpSettings,
    http: OnceLock<Result<reqwest::Client, String>>,
    /// Base units signed for by this process (kept even when the outcome is unknown).
    committed: Mutex<u128>,
    /// Solana: the payment that may still land; no other is signed before it expires.
    in_flight: Mutex<Option<InFlight>>,
    /// One top-up at a time: the cap check, the signature and the file write are serialized.
    one_at_a_time: tokio::sync::Mutex<()>,
}

fn to_units(usd: f64) -> u128 {
    (usd * 1_000_000.0).round().max(0.0) as u128
}

/// A valid top-up amount in base units (6 decimals): 2–10000 USD in whole cents.
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

impl Funder {
    /// A funder when the paying network of `config` has a wallet; `None` otherwise (then there
    /// is no top-up tool).
    pub fn new(key: KeySlot, config: &Config) -> Option<Self> {
        let payer = match config.x402.network {
            Network::Base => Payer::Base(config.x402.wallet.clone()?),
            Network::Solana => Payer::Solana(config.x402.solana_wallet.clone()?),
            Network::BnbChain => return None,
        };
        Some(Self {
            inner: Arc::new(Inner {
                key,
                payer,
                config: config.x402.clone(),
                settings: config.http.clone(),
                http: OnceLock::new(),
                committed: Mutex::new(0),
                in_flight: Mutex::new(None),
                one_at_a_time: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The paying wallet's address (0x… on Base, base58 on Solana).
    pub fn wallet_address(&self) -> String {
        match &self.inner.payer {
            Payer::Base(w) => w.address().to_string(),
            Payer::Solana(k) => k.pubkey().to_string(),
        }
    }

    /// The network that pays.
    pub fn network(&self) -> Network {
        self.inner.config.network
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

    fn in_flight(&self) -> std::sync::MutexGuard<'_, Option<InFlight>> {
        self.inner
            .in_flight
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
                 is unknown. Check the wallet's token transfers before trying again."
            ))),
        }
    }
}

/// `virtualsms-mcp topup --amount N`: one top-up with the configured wallet, honoring
/// `--sandbox` (pays the embedded fake); refused in read-only mode. The caller prints it.
pub async fn top_up_from_config(config: Config, amount_usd: f64) -> anyhow::Result<TopUpOutcome> {
    if config.guard.read_only {
        anyhow::bail!(
            "{} is set: top-ups are disabled in read-only mode",
            env::READ_ONLY
        );
    }
    let app = crate::app::App::new(config).await?;
    let funder = app.server.state().topup.clone().ok_or_else(|| {
        anyhow::anyhow!(
            "no wallet is configured: set {} (0x + 64 hex digits) or {} (a file holding it) for \
             Base, or {} (a Solana CLI keypair file) or {} (base58) for Solana",
            env::WALLET_PRIVATE_KEY,
            env::WALLET_KEY_FILE,
            env::SOLANA_KEY_FILE,
            env::SOLANA_PRIVATE_KEY
        )
    })?;
    Ok(funder.top_up(amount_usd).await?)
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
}
