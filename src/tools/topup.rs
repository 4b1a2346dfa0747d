//! topup_balance — the 19th tool, offered only when a wallet key is configured: funds the
//! VirtualSMS balance with an x402 payment in USDC on Base or USDC/USDT on Solana (see
//! [`crate::x402`]). It spends the wallet's money, so it is not read-only and disappears in
//! read-only mode.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router, Json};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{ToolError, VirtualSmsServer};
use crate::x402::{TopUpError, TopUpOutcome};

/// Added to the server instructions when the tool is offered.
pub(crate) const INSTRUCTIONS: &str =
    "\n- Balance too low, or no API key yet? topup_balance(amount_usd) \
pays from this server's wallet, USDC on Base or USDC/USDT on Solana (capped by \
VIRTUALSMS_X402_MAX_TOPUP_USD); without a key it creates one and uses it from then on. It spends \
real money: top up only what the task needs.";

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::tools::arguments::omit_not_null)]
pub struct TopUpArgs {
    /// USD to add, 2–10000 in whole cents, and at most this server's cap
    /// (VIRTUALSMS_X402_MAX_TOPUP_USD, default 20, per top-up and per process).
    pub amount_usd: f64,
}

impl From<TopUpError> for ToolError {
    fn from(e: TopUpError) -> Self {
        match e {
            TopUpError::InvalidAmount(message) => ToolError::invalid("amount_usd", message),
            TopUpError::Refused(reason) => ToolError::Refused(reason),
            other => ToolError::Payment(other.to_string()),
        }
    }
}

#[tool_router(router = topup_router, vis = "pub(crate)")]
impl VirtualSmsServer {
    /// Fund the VirtualSMS balance from this server's wallet (CHARGES THE WALLET: one x402
    /// payment of exactly amount_usd, in USDC on Base or USDC/USDT on Solana, whichever wallet
    /// is configured). Without an API key, a new account and key are created, saved and used
    /// from then on. Returns the new balance and the masked key.
    #[tool(annotations(
        title = "Top up balance (charges the wallet, USDC on Base or Solana)",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    pub async fn topup_balance(
        &self,
        Parameters(args): Parameters<TopUpArgs>,
    ) -> Result<Json<TopUpOutcome>, ToolError> {
        let funder = self.state.topup.as_ref().ok_or_else(|| {
            ToolError::Refused(format!(
                "no wallet is configured (set {} or {} for Base, {} or {} for Solana).",
                crate::config::env::WALLET_PRIVATE_KEY,
                crate::config::env::WALLET_KEY_FILE,
                crate::config::env::SOLANA_KEY_FILE,
                crate::config::env::SOLANA_PRIVATE_KEY
            ))
        })?;
        Ok(Json(funder.top_up(args.amount_usd).await?))
    }
}
