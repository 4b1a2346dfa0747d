//! VirtualSMS REST v1, the API that is live (`../shared/api/virtualsms-rest-v1.md`; its §6 maps
//! each tool): `X-API-Key`, short service codes, upper-case countries, cooldowns on cancel and
//! swap, rentals with their own ids and endpoints, no long-poll, and no idempotency on
//! purchases.
//!
//! Layout: [`wire`] (v1's JSON and its translation into the domain), [`errors`] (v1 answers →
//! error kinds), [`catalog`] (discovery, service names → codes), [`account`], [`orders`]
//! (purchase with reconciliation, lifecycle with cooldown pre-checks), [`rentals`] (ids
//! `rental:<id>`), [`poller`] (one poller serves every wait_for_sms).
//!
//! Every detail the contract marks **(assumed)** is written in this module and marked so.

mod account;
mod catalog;
mod errors;
mod orders;
mod poller;
mod rentals;
mod wire;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::cache::TtlCache;
use super::{ApiError, Backend, Capabilities, ErrorKind, Listing, Result};
use crate::config::Config;
use crate::domain::{
    Balance, Country, CountryPrice, NewOrder, Offer, Order, Page, Profile, Service, ServicePrice,
    SmsPoll, Stats, Transaction,
};
use crate::transport::{AuthStyle, KeySlot, Transport};

/// Order ids of rentals start with this **(assumed scheme)**: rentals have their own id space
/// and endpoints on v1, and every order tool must know which family an id belongs to.
pub const RENTAL_PREFIX: &str = "rental:";
/// The header that carries the key on v1.
const API_KEY_HEADER: &str = "x-api-key";
/// v1 holds a number this long after purchase before cancel or swap (`rules` in the answer).
const COOLDOWN: Duration = Duration::from_secs(120);

pub struct V1 {
    http: Transport,
    services: TtlCache<Vec<wire::ServiceRow>>,
    countries: TtlCache<Vec<wire::CountryRow>>,
    poller: Arc<poller::Poller>,
    enable_release: bool,
    /// Ids of orders this process bought or was told of by a swap: never mistaken for the
    /// result of a later purchase whose answer was lost.
    known: Mutex<HashSet<String>>,
    /// The country of each rental bought by this process (v1 rental rows do not say it).
    rental_countries: Mutex<HashMap<String, String>>,
}

impl V1 {
    pub fn new(base_url: &str, key: KeySlot, config: &Config) -> Result<Self> {
        let http = Transport::new(
            base_url,
            key,
            AuthStyle::Header(API_KEY_HEADER),
            errors::classify,
            config.http.clone(),
        )?;
        Ok(Self {
            poller: poller::new(http.clone(), config.poll_interval),
            http,
            services: TtlCache::new(config.catalog_ttl),
            countries: TtlCache::new(config.catalog_ttl),
            enable_release: config.enable_release,
            known: Mutex::default(),
            rental_countries: Mutex::default(),
        })
    }

    fn remember(&self, order_id: &str) {
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(order_id.to_owned());
    }

    fn is_known(&self, order_id: &str) -> bool {
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(order_id)
    }
}

/// `rental:<id>` → `Some(<id>)`.
fn rental_id(order_id: &str) -> Option<&str> {
    order_id.strip_prefix(RENTAL_PREFIX)
}

/// Refusal for an action that needs a rental id.
fn not_a_rental(order_id: &str, tool: &str) -> ApiError {
    ApiError::rule(
        ErrorKind::Invalid,
        format!(
            "invalid argument `order_id`: {order_id} is a one-time activation, not a rental \
             (rental ids start with `{RENTAL_PREFIX}`), so {tool} does not apply"
        ),
    )
}

#[async_trait]
impl Backend for V1 {
    fn name(&self) -> &'static str {
        "VirtualSMS REST v1"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            cancel_cooldown: Some(COOLDOWN),
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
        if rental {
            self.rental_pricing(country, service).await
        } else {
            self.activation_pricing(country, service).await
        }
    }

    async fn service_availability(&self, service: &str) -> Result<Vec<CountryPrice>> {
        self.availability(service).await
    }

    async fn get_balance(&self) -> Result<Balance> {
        self.balance().await
    }

    async fn get_profile(&self) -> Result<Profile> {
        self.profile().await
    }

    async fn get_stats(&self) -> Result<Stats> {
        self.stats().await
    }

    async fn list_transactions(&self, limit: u32, offset: u32) -> Result<Page<Transaction>> {
        self.transactions(limit, offset).await
    }

    async fn quote(&self, order: &NewOrder<'_>) -> Result<f64> {
        match order.rental_hours {
            None => self.activation_quote(order.service, order.country).await,
            Some(hours) => Ok(self
                .rental_offer(order.service, order.country, hours)
                .await?
                .1),
        }
    }

    async fn quote_extension(&self, order_id: &str, hours: u32) -> Result<f64> {
        let id = rental_id(order_id).ok_or_else(|| not_a_rental(order_id, "extend_rental"))?;
        self.extension_quote(id, hours).await
    }

    async fn create_order(&self, order: &NewOrder<'_>) -> Result<Order> {
        match order.rental_hours {
            None => self.purchase(order.service, order.country).await,
            Some(hours) => self.rent(order.service, order.country, hours).await,
        }
    }

    async fn get_order(&self, order_id: &str) -> Result<Order> {
        match rental_id(order_id) {
            Some(id) => self.rental(id).await,
            None => Ok(self.order_row(order_id).await?.into_domain()),
        }
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

    async fn swap_order(&self, order_id: &str) -> Result<Order> {
        if rental_id(order_id).is_some() {
            return Err(ApiError::rule(
                ErrorKind::NotSupported,
                "VirtualSMS v1 cannot swap the number of a rental; release_rental (within 20 \
                 minutes and before any SMS: full refund) and rent another",
            ));
        }
        self.swap(order_id).await
    }

    async fn cancel_order(&self, order_id: &str) -> Result<Order> {
        match rental_id(order_id) {
            Some(id) => self.cancel_rental(id).await,
            None => self.cancel(order_id).await,
        }
    }

    /// v1 has no confirm or done action (404 when tried): the order as it stands, no charge.
    async fn confirm_order(&self, order_id: &str) -> Result<Order> {
        self.get_order(order_id).await
    }

    async fn extend_rental(&self, order_id: &str, hours: u32) -> Result<Order> {
        let id = rental_id(order_id).ok_or_else(|| not_a_rental(order_id, "extend_rental"))?;
        self.extend(id, hours).await
    }

    async fn release_rental(&self, order_id: &str) -> Result<Order> {
        let id = rental_id(order_id).ok_or_else(|| not_a_rental(order_id, "release_rental"))?;
        self.release(id).await
    }
}
