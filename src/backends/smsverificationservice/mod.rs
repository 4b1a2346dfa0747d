//! smsVerificationService (`../shared/api/smsverificationservice.md`; its §6 maps each tool):
//! Bearer keys, USD, 60 requests per key per minute, answers in several shapes, catalogs without
//! stock counts, integer ids for services and countries (names only, no ISO codes), US numbers
//! sold in product lines (temporary, best-temp, 1-day, 3/30-day, 30-day), renewal by a fixed
//! period, no long-poll, no idempotency, no swap, no confirm, no ledger.
//!
//! Layout: [`wire`] (the JSON in all its shapes, and its translation), [`errors`] (answers →
//! error kinds), [`catalog`] (the lines, countries by name via `celes`, slugs, discovery),
//! [`orders`] (the product-line rule of §4, purchase with reconciliation, the order memory,
//! cancel, renewal), [`poller`] (one poller serves every wait_for_sms).
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
use serde_json::Value;

use super::cache::TtlCache;
use super::{ApiError, Backend, Capabilities, ErrorKind, Listing, Result};
use crate::config::{env, Config};
use crate::domain::{
    Balance, Country, CountryPrice, NewOrder, Offer, Order, Page, Profile, Service, ServicePrice,
    SmsPoll, Stats, Transaction,
};
use crate::transport::{AuthStyle, KeySlot, Request, Transport};

/// The short name results and `<provider>:<id>` order ids show.
pub const PROVIDER: &str = "smsverificationservice";
/// How the provider is named in messages.
const NAME: &str = "smsVerificationService";

/// A product line (§3 B/C, §4): which catalog an offer comes from and which endpoint buys it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// B1/D1: short-term US numbers.
    Temporary,
    /// B5/D3: the curated short-term US list.
    BestTemp,
    /// C2/D6: numbers outside the US.
    Global,
    /// B3/D4: a US number for one day.
    Rent1Day,
    /// B2/D2 with `duration: 3` or `30`: the name-based US rental line.
    Rental(u32),
    /// B4/D5: a US number for 30 days.
    Rent30Days,
}

impl Line {
    /// Hours one purchase (or one renewal) of this line covers; `None` for activations.
    pub fn period_hours(self) -> Option<u32> {
        match self {
            Line::Rent1Day => Some(24),
            Line::Rental(days) => Some(days * 24),
            Line::Rent30Days => Some(720),
            Line::Temporary | Line::BestTemp | Line::Global => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Line::Temporary => "temporary US number",
            Line::BestTemp => "best-temp US number",
            Line::Global => "global number",
            Line::Rent1Day => "1-day US rental (rent-1day)",
            Line::Rental(3) => "3-day US rental (rental line)",
            Line::Rental(_) => "30-day US rental (rental line)",
            Line::Rent30Days => "30-day US rental (rent-30days)",
        }
    }
}

/// What this process knows of an order it placed: E2 says neither the line, the service, the
/// country nor the price (§4.6).
#[derive(Debug, Clone)]
pub struct Placed {
    pub line: Line,
    pub service: String,
    pub country: String,
    /// The provider's name of the service (for the rental line's renewal price).
    pub service_name: String,
    /// The price paid at purchase (USD).
    pub price: Option<f64>,
    pub created_at: String,
    /// Hours bought so far (rentals).
    pub hours: Option<u32>,
    /// Ended through release_rental.
    pub released: bool,
}

pub struct SmsVerificationService {
    http: Transport,
    temporary: TtlCache<Vec<wire::ServiceRow>>,
    best_temp: TtlCache<Vec<wire::ServiceRow>>,
    rent_1day: TtlCache<Vec<wire::ServiceRow>>,
    rent_30days: TtlCache<Vec<wire::ServiceRow>>,
    rental: TtlCache<Vec<wire::RentalRow>>,
    countries: TtlCache<Vec<wire::CountryRow>>,
    /// C2 per `country_id`.
    offers: Mutex<HashMap<String, Arc<TtlCache<Vec<wire::ServiceRow>>>>>,
    catalog_ttl: Duration,
    prefer_best_temp: bool,
    /// Orders placed (or found by reconciliation) by this process, by id.
    placed: Mutex<HashMap<String, Placed>>,
    poller: Arc<poller::Poller>,
}

impl SmsVerificationService {
    pub fn new(base_url: &str, key: KeySlot, config: &Config) -> Result<Self> {
        let settings = &config.smsverificationservice;
        let mut http_settings = config.http.clone();
        // The provider allows 60/min per key; a lower (or no) pacing asked for applies.
        if http_settings.rate_limit_per_minute != 0 {
            http_settings.rate_limit_per_minute = http_settings
                .rate_limit_per_minute
                .min(settings.rate_limit_per_minute.max(1));
        }
        let http = Transport::new(
            base_url,
            key,
            AuthStyle::Bearer,
            errors::classify,
            http_settings,
        )?;
        let ttl = config.catalog_ttl;
        Ok(Self {
            poller: poller::new(http.clone(), config.poll_interval),
            http,
            temporary: TtlCache::new(ttl),
            best_temp: TtlCache::new(ttl),
            rent_1day: TtlCache::new(ttl),
            rent_30days: TtlCache::new(ttl),
            rental: TtlCache::new(ttl),
            countries: TtlCache::new(ttl),
            offers: Mutex::default(),
            catalog_ttl: ttl,
            prefer_best_temp: settings.prefer_best_temp,
            placed: Mutex::default(),
        })
    }

    /// Sends `request` (its path gets the trailing slash the API wants) and returns the JSON
    /// body, refusing a `success: false` that came with a 2xx status.
    async fn call(&self, request: Request<'_>) -> Result<Value> {
        let value: Value = call(&self.http, request).await?;
        Ok(value)
    }

    fn placed(&self, order_id: &str) -> Option<Placed> {
        lock(&self.placed).get(order_id).cloned()
    }

    fn remember(&self, order_id: &str, placed: Placed) {
        lock(&self.placed).insert(order_id.to_owned(), placed);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One call (see [`SmsVerificationService::call`]); shared with the poller.
async fn call(http: &Transport, request: Request<'_>) -> Result<Value> {
    if !http.key().is_set() {
        return Err(ApiError::rule(
            ErrorKind::MissingKey,
            format!(
                "no {NAME} API key is configured: set {} (made in the {NAME} dashboard → API) \
                 in this server's environment and restart it",
                env::SMSVERIFICATIONSERVICE_API_KEY
            ),
        ));
    }
    let value: Value = http.send(request).await?;
    if let Some(text) = wire::refusal(&value) {
        let kind = errors::kind_of(200, &text.to_ascii_lowercase());
        return Err(ApiError::rule(
            if kind == ErrorKind::Other {
                ErrorKind::BadAnswer
            } else {
                kind
            },
            format!("{NAME} refused the request: {}", http.bounded(&text)),
        ));
    }
    Ok(value)
}

/// A decoding failure of a 2xx answer, in the transport's terms.
fn bad_answer(what: &str, detail: String) -> ApiError {
    ApiError::Decode {
        status: 200,
        detail: format!("{what}: {detail}"),
        excerpt: String::new(),
    }
}

/// The refusal for a tool the provider cannot serve.
fn not_offered(what: &str, instead: &str) -> ApiError {
    ApiError::rule(
        ErrorKind::NotSupported,
        format!("{NAME} does not offer {what}; {instead}"),
    )
}

/// Order ids are integers on this provider (§2): anything else is no order of it.
fn order_number(order_id: &str) -> Result<&str> {
    let id = order_id.trim();
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(id)
    } else {
        Err(ApiError::rule(
            ErrorKind::OrderNotFound,
            format!(
                "order {order_id:?} is not a {NAME} order id ({NAME} numbers its orders, e.g. \
                 458731)"
            ),
        ))
    }
}

#[async_trait]
impl Backend for SmsVerificationService {
    fn name(&self) -> &'static str {
        NAME
    }

    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn currency(&self) -> &'static str {
        "USD"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            // Rentals yes (renewal by a fixed period); no swap, no ledger; the profile and
            // stats are substitutes (../shared/api/smsverificationservice.md §6).
            swap: false,
            ledger: false,
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

    async fn get_balance(&self) -> Result<Balance> {
        self.balance().await
    }

    /// Not offered; the harmless substitute of §6: the balance, without email or plan.
    async fn get_profile(&self) -> Result<Profile> {
        let balance = self.balance().await?;
        let mut extra = serde_json::Map::new();
        extra.insert(
            "note".into(),
            Value::String(format!(
                "{NAME} has no profile endpoint: only the balance is known (email and plan are \
                 not available through its API)."
            )),
        );
        Ok(Profile {
            email: None,
            balance: Some(balance.balance),
            plan: None,
            extra,
        })
    }

    async fn get_stats(&self) -> Result<Stats> {
        self.stats().await
    }

    async fn list_transactions(&self, _limit: u32, _offset: u32) -> Result<Page<Transaction>> {
        Err(not_offered(
            "a transaction ledger",
            "list_orders shows the last 50 orders with their prices, and get_balance the balance",
        ))
    }

    async fn quote(&self, order: &NewOrder<'_>) -> Result<f64> {
        Ok(self.choose(order).await?.price)
    }

    async fn quote_extension(&self, order_id: &str, hours: u32) -> Result<f64> {
        Ok(self.renewal(order_id, hours).await?.1)
    }

    async fn create_order(&self, order: &NewOrder<'_>) -> Result<Order> {
        self.purchase(order).await
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
            "swapping a number (there is no replace endpoint)",
            "cancel_order (refunded automatically if eligible), then create_order for a new \
             number",
        ))
    }

    async fn cancel_order(&self, order_id: &str) -> Result<Order> {
        self.cancel(order_id, false).await
    }

    /// Not offered; the harmless substitute of §6: the order as it stands (E2), no request that
    /// changes anything.
    async fn confirm_order(&self, order_id: &str) -> Result<Order> {
        self.order(order_id).await
    }

    async fn extend_rental(&self, order_id: &str, hours: u32) -> Result<Order> {
        self.renew(order_id, hours).await
    }

    async fn release_rental(&self, order_id: &str) -> Result<Order> {
        self.release(order_id).await
    }
}
