//! Account endpoints under `/me`: balance, profile, stats, the transaction ledger.

use super::model::{Balance, Page, Profile, Stats, Transaction};
use super::{ApiError, Call, Client};

impl Client {
    /// `GET /me/balance`.
    pub async fn get_balance(&self) -> Result<Balance, ApiError> {
        self.send(Call::get(&["me", "balance"])).await
    }

    /// `GET /me`.
    pub async fn get_profile(&self) -> Result<Profile, ApiError> {
        self.send(Call::get(&["me"])).await
    }

    /// `GET /me/stats`.
    pub async fn get_stats(&self) -> Result<Stats, ApiError> {
        self.send(Call::get(&["me", "stats"])).await
    }

    /// `GET /me/transactions?limit=&offset=` — paging parameters **(assumed)**.
    pub async fn list_transactions(
        &self,
        limit: Option<u32>,
        offset: Option<u32>,
    ) -> Result<Page<Transaction>, ApiError> {
        self.send(
            Call::get(&["me", "transactions"])
                .query("limit", limit)
                .query("offset", offset),
        )
        .await
    }
}
