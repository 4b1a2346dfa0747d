//! Account tools — get_balance, get_profile, get_stats, list_transactions. Read-only;
//! they need the API key.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router, Json};
use schemars::JsonSchema;
use serde::Deserialize;

use serde::Serialize;

use super::{in_range, At, ToolError, VirtualSmsServer};
use crate::domain::{Balance, Page, Profile, Stats, Transaction};

/// The largest `limit` of list_transactions.
const TRANSACTIONS_PAGE_MAX: u32 = 100;

fn default_limit() -> u32 {
    20
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::tools::arguments::omit_not_null)]
pub struct ListTransactionsArgs {
    /// Page size.
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = TRANSACTIONS_PAGE_MAX))]
    pub limit: u32,
    /// How many entries to skip (newest first).
    #[serde(default)]
    pub offset: u32,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::tools::arguments::omit_not_null)]
pub struct BalanceArgs {
    /// Only this provider (e.g. `smscode`); default: all.
    pub provider: Option<String>,
}

/// The balance, and with several providers each one's in its own currency.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BalanceResult {
    #[serde(flatten)]
    pub balance: Balance,
    pub provider: String,
    /// Every configured provider's balance, when there are several.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub by_provider: Vec<ProviderBalance>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ProviderBalance {
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<f64>,
    pub currency: String,
    /// Why the balance could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[tool_router(router = account_router, vis = "pub(crate)")]
impl VirtualSmsServer {
    /// The account balance available for orders (with several providers: each one's, in its
    /// own currency).
    #[tool(annotations(title = "Balance", read_only_hint = true, open_world_hint = true))]
    pub async fn get_balance(
        &self,
        Parameters(args): Parameters<BalanceArgs>,
    ) -> Result<Json<BalanceResult>, ToolError> {
        let providers = &self.state.providers;
        if args.provider.is_some() || !providers.is_multi() {
            let m = providers.pick(args.provider.as_deref())?;
            return Ok(Json(BalanceResult {
                balance: m.backend.get_balance().await.at(m)?,
                provider: m.name().to_owned(),
                by_provider: Vec::new(),
            }));
        }
        let answers = self
            .ask_all(providers.all().to_vec(), |b| {
                Box::pin(async move { b.get_balance().await })
            })
            .await;
        let default = providers.default_member().name();
        let mut first = None;
        let mut by_provider = Vec::new();
        for (m, answer) in answers {
            let (balance, error) = match answer {
                Ok(b) => {
                    if m.name() == default {
                        first = Some(b.clone());
                    }
                    (Some(b.balance), None)
                }
                Err(e) if m.name() == default => return Err(e.into()),
                Err(e) => (None, Some(e.to_string())),
            };
            by_provider.push(ProviderBalance {
                provider: m.name().to_owned(),
                balance,
                currency: m.currency().to_owned(),
                error,
            });
        }
        Ok(Json(BalanceResult {
            balance: first.expect("the default provider answered"),
            provider: default.to_owned(),
            by_provider,
        }))
    }

    /// The account profile: email, balance, plan.
    #[tool(annotations(title = "Profile", read_only_hint = true, open_world_hint = true))]
    pub async fn get_profile(&self) -> Result<Json<Profile>, ToolError> {
        Ok(Json(self.state.backend().get_profile().await?))
    }

    /// Lifetime statistics: orders, spend and more.
    #[tool(annotations(title = "Statistics", read_only_hint = true, open_world_hint = true))]
    pub async fn get_stats(&self) -> Result<Json<Stats>, ToolError> {
        Ok(Json(self.state.backend().get_stats().await?))
    }

    /// The balance ledger (charges, refunds, deposits), newest first, one page at a time.
    #[tool(annotations(title = "Transactions", read_only_hint = true, open_world_hint = true))]
    pub async fn list_transactions(
        &self,
        Parameters(args): Parameters<ListTransactionsArgs>,
    ) -> Result<Json<Page<Transaction>>, ToolError> {
        let limit = in_range("limit", args.limit, 1, TRANSACTIONS_PAGE_MAX)?;
        Ok(Json(
            self.state
                .backend()
                .list_transactions(limit, args.offset)
                .await?,
        ))
    }
}
