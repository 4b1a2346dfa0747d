//! Order endpoints: create, read, list, the SMS long-poll, and the lifecycle actions.
//! Every POST here goes through [`Client::send`], which adds the idempotency key.

use std::time::Duration;

use serde_json::json;

use super::model::{NewOrder, Order, Page, SmsPoll};
use super::{ApiError, Call, Client};

/// The longest a single long-poll may be held by the server.
pub const MAX_LONG_POLL: Duration = Duration::from_secs(180);

/// A lifecycle action: `POST /orders/{id}/{action}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderAction {
    Swap,
    Cancel,
    Confirm,
    Release,
}

impl OrderAction {
    fn path(self) -> &'static str {
        match self {
            Self::Swap => "swap",
            Self::Cancel => "cancel",
            Self::Confirm => "confirm",
            Self::Release => "release",
        }
    }
}

impl Client {
    /// `POST /orders` — charges the balance.
    pub async fn create_order(&self, order: &NewOrder<'_>) -> Result<Order, ApiError> {
        self.send(Call::post(&["orders"]).json(order)).await
    }

    /// `GET /orders/{id}`.
    pub async fn get_order(&self, order_id: &str) -> Result<Order, ApiError> {
        self.send(Call::get(&["orders", order_id])).await
    }

    /// `GET /orders?status=&limit=&offset=` — query parameters **(assumed)**.
    pub async fn list_orders(
        &self,
        status: Option<&str>,
        limit: Option<u32>,
        offset: Option<u32>,
    ) -> Result<Page<Order>, ApiError> {
        self.send(
            Call::get(&["orders"])
                .query("status", status)
                .query("limit", limit)
                .query("offset", offset),
        )
        .await
    }

    /// One round of `GET /orders/{id}/sms?timeout=&since=` (both parameters **(assumed)**): the
    /// server holds it until a message newer than `since` arrives, the order ends, or `window`
    /// (capped at [`MAX_LONG_POLL`]) passes. The HTTP timeout is the window plus a margin.
    pub async fn poll_sms(
        &self,
        order_id: &str,
        since: Option<&str>,
        window: Duration,
    ) -> Result<SmsPoll, ApiError> {
        let window = window.clamp(Duration::from_secs(1), MAX_LONG_POLL);
        self.send(
            Call::get(&["orders", order_id, "sms"])
                .query("timeout", Some(window.as_secs_f64().round() as u64))
                .query("since", since)
                .timeout(window),
        )
        .await
    }

    /// `POST /orders/{id}/{swap|cancel|confirm|release}`.
    pub async fn order_action(
        &self,
        order_id: &str,
        action: OrderAction,
    ) -> Result<Order, ApiError> {
        self.send(Call::post(&["orders", order_id, action.path()]))
            .await
    }

    /// `POST /orders/{id}/extend {hours}` — charges the balance.
    pub async fn extend_rental(&self, order_id: &str, hours: u32) -> Result<Order, ApiError> {
        self.send(Call::post(&["orders", order_id, "extend"]).json(&json!({ "hours": hours })))
            .await
    }
}
