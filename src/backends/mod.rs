//! The backend seam: the operations the tools need, over the provider-neutral types of
//! [`crate::domain`], with one implementation per API.
//!
//! - [`virtualsms_v2`]: REST v2 of the seed documents (Bearer, long-poll, idempotency keys,
//!   RFC 7807), `../shared/api/virtualsms-rest-v2.md`;
//! - [`virtualsms_v1`]: REST v1, what is live (`X-API-Key`, short service codes, cooldowns,
//!   rentals with their own ids, no idempotency: purchases are reconciled, never repeated),
//!   `../shared/api/virtualsms-rest-v1.md`;
//! - [`auto`]: finds out once which of the two an origin serves, then delegates.
//!
//! A backend knows URLs, headers, status codes and wire shapes, and classifies every failure into
//! an [`ErrorKind`]; it knows nothing of MCP. The tools know nothing of HTTP: they hold an
//! `Arc<dyn Backend>` and read [`Capabilities`] instead of asking which provider answers.

pub mod auto;
pub mod cache;
mod error;
mod poller;
mod refusal;
pub mod smscode;
pub mod smsverificationservice;
pub mod virtualsms_v1;
pub mod virtualsms_v2;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use error::{ApiError, ErrorKind, Problem, TransportFailure};

use crate::config::{ApiVersion, Config, ConfigError};
use crate::domain::{
    Balance, Country, CountryPrice, NewOrder, Offer, Order, Page, Profile, Service, ServicePrice,
    SmsPoll, Stats, Transaction,
};
use crate::transport::KeySlot;

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// What a backend can do, so the tools can word their results without asking who answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The server holds an SMS wait open (long-poll) instead of being polled.
    pub long_poll: bool,
    /// confirm_order finalises an order; without it the provider finalises on its own.
    pub confirm: bool,
    /// Purchases carry an idempotency key the API honours, so a lost answer may be retried;
    /// without it a purchase is sent once and a lost answer is reconciled.
    pub deduplicated_purchases: bool,
    /// How long after a purchase cancel and swap become possible.
    pub cancel_cooldown: Option<Duration>,
    /// Numbers can be rented (extend_rental, release_rental).
    pub rentals: bool,
    /// An order's number can be replaced for free (swap_order).
    pub swap: bool,
    /// The balance ledger can be read (list_transactions).
    pub ledger: bool,
    /// The account profile and lifetime totals can be read (get_profile, get_stats).
    pub profile: bool,
}

impl Capabilities {
    /// What VirtualSMS offers on both REST versions; other providers start from here.
    pub const VIRTUALSMS: Self = Self {
        long_poll: false,
        confirm: false,
        deduplicated_purchases: false,
        cancel_cooldown: None,
        rentals: true,
        swap: true,
        ledger: true,
        profile: true,
    };
}

/// A list with what the provider could not say about it (e.g. "prices are approximate").
#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub note: Option<String>,
}

impl<T> Listing<T> {
    pub fn exact(items: Vec<T>) -> Self {
        Self { items, note: None }
    }
}

/// The operations behind the 18 tools. Ids, services and countries are passed as the tools
/// received them (trimmed; services and countries lower-cased); each backend maps them.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Which API answers, for logs and notes (e.g. "VirtualSMS REST v1").
    fn name(&self) -> &'static str;
    /// The provider's short name, as results and `<provider>:<id>` order ids show it
    /// (`virtualsms`, `smscode`, `smsverificationservice`).
    fn provider(&self) -> &'static str {
        "virtualsms"
    }
    /// The ISO 4217 currency of every price and balance this backend returns (`USD`, `IDR`).
    fn currency(&self) -> &'static str {
        "USD"
    }
    fn capabilities(&self) -> Capabilities;

    /// Every service (cached for the catalog TTL).
    async fn list_services(&self) -> Result<Arc<Vec<Service>>>;
    /// Every country (cached for the catalog TTL).
    async fn list_countries(&self) -> Result<Arc<Vec<Country>>>;
    async fn find_cheapest(&self, service: &str, country: Option<&str>) -> Result<Offer>;
    /// Prices in one country, optionally for one service; with `rental`, the rental options.
    async fn country_pricing(
        &self,
        country: &str,
        service: Option<&str>,
        rental: bool,
    ) -> Result<Listing<ServicePrice>>;
    async fn service_availability(&self, service: &str) -> Result<Vec<CountryPrice>>;

    async fn get_balance(&self) -> Result<Balance>;
    async fn get_profile(&self) -> Result<Profile>;
    async fn get_stats(&self) -> Result<Stats>;
    async fn list_transactions(&self, limit: u32, offset: u32) -> Result<Page<Transaction>>;

    /// What `order` would cost now (USD), for the spending guard.
    async fn quote(&self, order: &NewOrder<'_>) -> Result<f64>;
    /// What extending rental `order_id` by `hours` would cost now (USD).
    async fn quote_extension(&self, order_id: &str, hours: u32) -> Result<f64>;
    /// Buys a number. Charges the balance; never sent twice unless the API deduplicates it.
    async fn create_order(&self, order: &NewOrder<'_>) -> Result<Order>;
    async fn get_order(&self, order_id: &str) -> Result<Order>;
    async fn list_orders(
        &self,
        status: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Page<Order>>;
    /// One round of waiting for an SMS newer than `since`: returns when one arrives, the order
    /// ends, or `window` passes (then with the order as it stands).
    async fn wait_sms(
        &self,
        order_id: &str,
        since: Option<&str>,
        window: Duration,
    ) -> Result<SmsPoll>;
    async fn swap_order(&self, order_id: &str) -> Result<Order>;
    async fn cancel_order(&self, order_id: &str) -> Result<Order>;
    async fn confirm_order(&self, order_id: &str) -> Result<Order>;
    /// Extends a rental. Charges the balance.
    async fn extend_rental(&self, order_id: &str, hours: u32) -> Result<Order>;
    async fn release_rental(&self, order_id: &str) -> Result<Order>;
}

/// Where a configuration points: the API version and its base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A base URL ending in `/api/v1`.
    V1(String),
    /// A base URL ending in `/api/v2`.
    V2(String),
    /// A service origin whose version is found out on first use.
    Auto { origin: String },
}

impl Target {
    /// Resolves `VIRTUALSMS_BASE_URL` and `VIRTUALSMS_API_VERSION`: a base URL ending in
    /// `/api/v1` or `/api/v2` fixes the version (an explicit, different version is an error);
    /// any other URL is the origin, with the version asked for or found out (`auto`).
    pub fn resolve(base_url: &str, version: ApiVersion) -> Result<Self, ConfigError> {
        let base = base_url.trim_end_matches('/');
        let fixed = if base.ends_with("/api/v1") {
            Some(ApiVersion::V1)
        } else if base.ends_with("/api/v2") {
            Some(ApiVersion::V2)
        } else {
            None
        };
        match (fixed, version) {
            (Some(fixed), ApiVersion::Auto) => Ok(Self::with(fixed, base.to_owned())),
            (Some(fixed), asked) if fixed == asked => Ok(Self::with(fixed, base.to_owned())),
            (Some(fixed), asked) => Err(ConfigError {
                name: crate::config::env::API_VERSION,
                problem: format!(
                    "is {} but {} ({base}) ends in /api/{}; drop one of the two, or make them agree",
                    asked.as_str(),
                    crate::config::env::BASE_URL,
                    fixed.as_str()
                ),
            }),
            (None, ApiVersion::Auto) => Ok(Self::Auto {
                origin: base.to_owned(),
            }),
            (None, version) => Ok(Self::with(version, format!("{base}/api/{}", version.as_str()))),
        }
    }

    fn with(version: ApiVersion, base: String) -> Self {
        match version {
            ApiVersion::V1 => Self::V1(base),
            _ => Self::V2(base),
        }
    }
}

/// Builds the backend `config` points at, sharing `key` with whoever may replace it (x402).
/// Sends nothing: `auto` finds out the version on the first call that needs the API.
pub fn build(config: &Config, key: KeySlot) -> Result<Arc<dyn Backend>> {
    let target = Target::resolve(&config.base_url, config.api_version)
        .map_err(|e| ApiError::Setup(e.to_string()))?;
    Ok(match target {
        Target::V1(base) => Arc::new(virtualsms_v1::V1::new(&base, key, config)?),
        Target::V2(base) => Arc::new(virtualsms_v2::V2::new(&base, key, config)?),
        Target::Auto { origin } => Arc::new(auto::Auto::new(origin, key, config.clone())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_versioned_base_url_fixes_the_version() {
        assert_eq!(
            Target::resolve("https://x.test/api/v1/", ApiVersion::Auto).unwrap(),
            Target::V1("https://x.test/api/v1".into())
        );
        assert_eq!(
            Target::resolve("https://x.test/api/v2", ApiVersion::V2).unwrap(),
            Target::V2("https://x.test/api/v2".into())
        );
    }

    #[test]
    fn an_origin_takes_the_version_asked_for_or_auto() {
        assert_eq!(
            Target::resolve("https://x.test", ApiVersion::Auto).unwrap(),
            Target::Auto {
                origin: "https://x.test".into()
            }
        );
        assert_eq!(
            Target::resolve("https://x.test/", ApiVersion::V1).unwrap(),
            Target::V1("https://x.test/api/v1".into())
        );
    }

    #[test]
    fn a_conflicting_version_names_both_settings() {
        let err = Target::resolve("https://x.test/api/v2", ApiVersion::V1).unwrap_err();
        assert_eq!(err.name, crate::config::env::API_VERSION);
        assert!(err.problem.contains("VIRTUALSMS_BASE_URL"), "{err}");
    }
}
