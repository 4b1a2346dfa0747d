//! Account tools — get_balance, get_profile, get_stats, list_transactions. Read-only;
//! they need the API key.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router, Json};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{in_range, ToolError, VirtualSmsServer};
use crate::domain::{Balance, Page, Profile, Stats, Transaction};

fn default_limit() -> u32 {
    20
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::tools::arguments::omit_not_null)]
pub struct ListTransactionsArgs {
    /// Page size, 1–100.
    #[serde(default = "default_limit")]
    pub limit: u32,
    /// How many entries to skip (newest first).
    #[serde(default)]
    pub offset: u32,
}

#[tool_router(router = account_router, vis = "pub(crate)")]
impl VirtualSmsServer {
    /// The account balance (USD) available for orders.
    #[tool(annotations(title = "Balance", read_only_hint = true, open_world_hint = true))]
    pub async fn get_balance(&self) -> Result<Json<Balance>, ToolError> {
        Ok(Json(self.state.backend.get_balance().await?))
    }

    /// The account profile: email, balance, plan.
    #[tool(annotations(title = "Profile", read_only_hint = true, open_world_hint = true))]
    pub async fn get_profile(&self) -> Result<Json<Profile>, ToolError> {
        Ok(Json(self.state.backend.get_profile().await?))
    }

    /// Lifetime statistics: orders, spend and more.
    #[tool(annotations(title = "Statistics", read_only_hint = true, open_world_hint = true))]
    pub async fn get_stats(&self) -> Result<Json<Stats>, ToolError> {
        Ok(Json(self.state.backend.get_stats().await?))
    }

    /// The balance ledger (charges, refunds, deposits), newest first, one page at a time.
    #[tool(annotations(title = "Transactions", read_only_hint = true, open_world_hint = true))]
    pub async fn list_transactions(
        &self,
        Parameters(args): Parameters<ListTransactionsArgs>,
    ) -> Result<Json<Page<Transaction>>, ToolError> {
        let limit = in_range("limit", args.limit, 1, 100)?;
        Ok(Json(
            self.state
                .backend
                .list_transactions(limit, args.offset)
                .await?,
        ))
    }
}
