//! Account on v1: balance (B1), profile and lifetime totals (B2), the ledger (B3, which has no
//! grand total: `has_more` is "this page was full").

use serde_json::{Map, Value};

use super::wire::{BalanceAnswer, TransactionRow};
use super::V1;
use crate::backends::{ApiError, Result};
use crate::domain::{Balance, Page, Profile, Stats, Transaction};
use crate::transport::Request;

impl V1 {
    /// B1 `GET /customer/balance`.
    pub(super) async fn balance(&self) -> Result<Balance> {
        let answer: BalanceAnswer = self
            .http
            .send(Request::get(&["customer", "balance"]))
            .await?;
        Ok(Balance {
            balance: answer.balance.unwrap_or(0.0),
            currency: "USD".to_owned(),
        })
    }

    /// B2 `GET /customer/profile`, as a JSON object.
    async fn profile_fields(&self) -> Result<Map<String, Value>> {
        let value: Value = self
            .http
            .send(Request::get(&["customer", "profile"]))
            .await?;
        match value {
            Value::Object(map) => Ok(map),
            other => Err(ApiError::Decode {
                status: 200,
                detail: "the profile is not a JSON object".into(),
                excerpt: self.http.excerpt(other.to_string().as_bytes()),
            }),
        }
    }

    /// `email` and `balance_usd`; v1 has no plan. The other fields stay as they came.
    pub(super) async fn profile(&self) -> Result<Profile> {
        let mut fields = self.profile_fields().await?;
        let email = fields
            .remove("email")
            .and_then(|v| v.as_str().map(str::to_owned));
        let balance = fields.remove("balance_usd").and_then(|v| v.as_f64());
        Ok(Profile {
            email,
            balance,
            plan: None,
            extra: fields,
        })
    }

    /// The profile's lifetime totals (better than adding up the last 50 orders).
    pub(super) async fn stats(&self) -> Result<Stats> {
        let fields = self.profile_fields().await?;
        let number = |k: &str| fields.get(k).and_then(Value::as_f64);
        Ok(Stats {
            lifetime_orders: fields.get("total_orders").and_then(Value::as_u64),
            lifetime_spend: number("total_spent_usd"),
            extra: Map::new(),
        })
    }

    /// B3 `GET /customer/transactions?limit=&offset=`.
    pub(super) async fn transactions(&self, limit: u32, offset: u32) -> Result<Page<Transaction>> {
        #[derive(serde::Deserialize)]
        struct Answer {
            #[serde(default)]
            transactions: Vec<TransactionRow>,
        }
        let answer: Answer = self
            .http
            .send(
                Request::get(&["customer", "transactions"])
                    .query("limit", Some(limit))
                    .query("offset", Some(offset)),
            )
            .await?;
        let data: Vec<Transaction> = answer
            .transactions
            .into_iter()
            .map(TransactionRow::into_domain)
            .collect();
        Ok(Page {
            has_more: Some(data.len() as u32 >= limit),
            data,
            limit: Some(limit),
            offset: Some(offset),
            total: None,
        })
    }
}
