//! SMSCode (`api.smscode.gg/v1`), the provider of seed 003 (`../shared/api/smscode.md`; its §7
//! maps each tool): Bearer token, a `{success, data}` envelope on every answer whose errors may
//! come with HTTP 200, whole-rupiah (IDR) prices, several products per country and platform,
//! English country-name slugs, no price in the order answer, only the code of an SMS (no text),
//! no rentals, no long-poll, no idempotency on purchases, 300 requests per minute.
//!
//! Layout: [`wire`] (SMSCode's JSON, statuses and country slugs ↔ ISO codes), [`errors`]
//! (answers → error kinds, `success: false` included), [`catalog`] (discovery from the product
//! list), [`orders`] (purchase with product fallback and reconciliation, lifecycle), [`poller`]
//! (one poller serves every wait_for_sms).
//!
//! Prices and balances stay in IDR ([`SmsCode::currency`]); converting them to USD is the
//! multi-provider layer's job (`SMSCODE_IDR_PER_USD`). Order ids are SMSCode's own (`ord_…`).
//!
//! Every detail the contract marks **(assumed)** is written in this module and marked so.

mod catalog;
mod errors;
mod orders;
mod poller;
mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;

use super::cache::TtlCache;
use super::{ApiError, Backend, Capabilities, ErrorKind, Listing, Result};
use crate::config::{Config, SMSCODE_RATE_LIMIT};
use crate::domain::{
    Balance, Country, CountryPrice, NewOrder, Offer, Order, Page, Profile, Service, ServicePrice,
    SmsPoll, Stats, Transaction,
};
use crate::transport::{AuthStyle, KeySlot, Request, Transport};

pub use orders::MAX_PRODUCTS;

/// What this process knows of an order it placed (SMSCode's order answers say little).
#[derive(Debug, Clone)]
struct Placed {
    service: String,
    /// ISO code (or SMSCode's slug when it maps to none).
    country: String,
    /// IDR: the catalog price of the product bought.
    price: Option<f64>,
}

pub struct SmsCode {
    http: Transport,
    /// B1 without filters: platforms, countries, and products by id.
    catalog: TtlCache<Vec<wire::Product>>,
    poller: Arc<poller::Poller>,
    /// Orders this process bought, by id: never mistaken for the result of a later purchase
    /// whose answer was lost, and the source of their service, country and price.
    placed: Mutex<HashMap<String, Placed>>,
}

impl SmsCode {
    /// A backend for `base_url` (e.g. `https://api.smscode.gg/v1`) with the token in `key`.
    /// Pacing: `config.smscode`'s rate (300/min unless lowered), else 300/min.
    pub fn new(base_url: &str, key: KeySlot, config: &Config) -> Result<Self> {
        let mut http_settings = config.http.clone();
        http_settings.rate_limit_per_minute = config
            .smscode
            .as_ref()
            .map_or(SMSCODE_RATE_LIMIT, |s| s.rate_limit_per_minute);
        let http = Transport::new(
            base_url,
            key,
            AuthStyle::Bearer,
            errors::classify,
            http_settings,
        )?;
        Ok(Self {
            poller: poller::new(http.clone(), config.poll_interval),
            http,
            catalog: TtlCache::new(config.catalog_ttl),
            placed: Mutex::default(),
        })
    }

    /// One request: the envelope is checked (`success` on every answer, whatever the HTTP
    /// status), and `data` decoded into `T`.
    async fn call<T: DeserializeOwned>(&self, request: Request<'_>) -> Result<T> {
        let answer = self.http.exchange(request).await.map_err(|e| match e {
            ApiError::MissingApiKey => ApiError::rule(
                ErrorKind::MissingKey,
                "no SMSCode token is configured: set SMSCODE_TOKEN (from SMSCode's Account \
                 Settings) in this server's environment and restart it",
            ),
            e => e,
        })?;
        let envelope: wire::Envelope = self.http.decode(&answer)?;
        if envelope.success == Some(false)
            || (envelope.success.is_none() && envelope.error.is_some())
        {
            return Err(errors::build(&self.http, &answer, envelope.error.as_ref()));
        }
        serde_json::from_value(envelope.data.unwrap_or_default()).map_err(|e| ApiError::Decode {
            status: answer.status.as_u16(),
            detail: self.http.redact(&format!("SMSCode `data`: {e}")),
            excerpt: self.http.excerpt(&answer.body),
        })
    }

    fn remember(&self, order_id: &str, placed: Placed) {
        self.placed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(order_id.to_owned(), placed);
    }

    fn placed(&self, order_id: &str) -> Option<Placed> {
        self.placed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(order_id)
            .cloned()
    }

    fn placed_ids(&self) -> Vec<String> {
        self.placed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }
}

/// Refusal for a tool SMSCode has no call for (contract §7 "not offered").
fn not_offered(what: &str, instead: &str) -> ApiError {
    ApiError::rule(
        ErrorKind::NotSupported,
        format!("SMSCode does not offer {what}; {instead}"),
    )
}

const NO_RENTALS: &str = "use a one-time activation (create_order without rental_hours), or \
                          another provider for rentals";

#[async_trait]
impl Backend for SmsCode {
    fn name(&self) -> &'static str {
        "SMSCode"
    }

    fn provider(&self) -> &'static str {
        "smscode"
    }

    /// Whole rupiah.
    fn currency(&self) -> &'static str {
        "IDR"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            // C4 is assumed; without it confirm_order says the provider finishes on its own.
            confirm: true,
            // No rentals, no swap, no ledger, no profile (../shared/api/smscode.md §6).
            rentals: false,
            swap: false,
            ledger: false,
            profile: false,
            ..Capabilities::VIRTUALSMS
        }
    }

    async fn list_services(&self) -> Result<Arc<Vec<Service>>> {
        self.services_list().await
    }

    async fn list_countries(&self) -> Result<Arc<Vec<Country>>> {
        self.countries_list().await
    }

    async fn find_cheapest(&self, service: &str, country: Option<&str>) -> Result<Offer> {
        self.cheapest(service, country).await
    }

    async fn country_pricing(
        &self,
        country: &str,
        service: Option<&str>,
        rental: bool,
    ) -> Result<Listing<ServicePrice>> {
        self.pricing(country, service, rental).await
    }

    async fn service_availability(&self, service: &str) -> Result<Vec<CountryPrice>> {
        self.availability(service).await
    }

    /// A `GET /balance`.
    async fn get_balance(&self) -> Result<Balance> {
        let row: wire::BalanceRow = self.call(Request::get(&["balance"])).await?;
        Ok(Balance {
            balance: row.balance.unwrap_or(0.0),
            currency: row.currency.unwrap_or_else(|| "IDR".to_owned()),
        })
    }

    async fn get_profile(&self) -> Result<Profile> {
        Err(not_offered(
            "an account profile",
            "get_balance shows the balance (in IDR)",
        ))
    }

    async fn get_stats(&self) -> Result<Stats> {
        Err(not_offered(
            "account statistics",
            "list_orders shows the orders and get_balance the balance",
        ))
    }

    async fn list_transactions(&self, _limit: u32, _offset: u32) -> Result<Page<Transaction>> {
        Err(not_offered(
            "a transaction history",
            "list_orders shows the orders (with their prices) and get_balance the balance",
        ))
    }

    async fn quote(&self, order: &NewOrder<'_>) -> Result<f64> {
        if order.rental_hours.is_some() {
            return Err(not_offered("rentals", NO_RENTALS));
        }
        self.activation_quote(order.service, order.country).await
    }

    async fn quote_extension(&self, _order_id: &str, _hours: u32) -> Result<f64> {
        Err(not_offered(
            "rentals, so nothing can be extended",
            NO_RENTALS,
        ))
    }

    async fn create_order(&self, order: &NewOrder<'_>) -> Result<Order> {
        if order.rental_hours.is_some() {
            return Err(not_offered("rentals", NO_RENTALS));
        }
        self.purchase(order.service, order.country).await
    }

    async fn get_order(&self, order_id: &str) -> Result<Order> {
        self.order(order_id).await
    }

    async fn list_orders(
        &self,
        status: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Page<Order>> {
        self.orders_page(status, limit, offset).await
    }

    async fn wait_sms(
        &self,
        order_id: &str,
        since: Option<&str>,
        window: Duration,
    ) -> Result<SmsPoll> {
        self.wait_round(super::poller::Wait::new(order_id, since, window))
            .await
    }

    async fn swap_order(&self, _order_id: &str) -> Result<Order> {
        Err(not_offered(
            "number swaps",
            "cancel_order (refunded in full before the code arrives), then create_order",
        ))
    }

    async fn cancel_order(&self, order_id: &str) -> Result<Order> {
        self.cancel(order_id).await
    }

    async fn confirm_order(&self, order_id: &str) -> Result<Order> {
        self.complete(order_id).await
    }

    async fn extend_rental(&self, _order_id: &str, _hours: u32) -> Result<Order> {
        Err(not_offered(
            "rentals, so nothing can be extended",
            NO_RENTALS,
        ))
    }

    async fn release_rental(&self, _order_id: &str) -> Result<Order> {
        Err(not_offered(
            "rentals, so there is nothing to release",
            "cancel_order ends a one-time activation (refunded before the code arrives)",
        ))
    }
}
