//! VirtualSMS REST v2 (`../shared/api/virtualsms-rest-v2.md`): Bearer auth, slugs, RFC 7807
//! problems, a long-poll for SMS, and an `Idempotency-Key` on every POST **(assumed API
//! feature)** so a POST is retried only with its same key and can never charge twice.
//!
//! v2 answers in the domain's own shapes, so each tool is one call here; every (assumed) detail
//! of the v2 contract lives in this file.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use super::cache::TtlCache;
use super::{ApiError, Backend, Capabilities, ErrorKind, Listing, Problem, Result};
use crate::config::Config;
use crate::domain::{
    Balance, Country, CountryPrice, NewOrder, Offer, Order, Page, Profile, Service, ServicePrice,
    SmsPoll, Stats, Transaction,
};
use crate::transport::{Answer, AuthStyle, KeySlot, Request, Retry, Transport};

/// Header carrying the idempotency key of a POST **(assumed)**.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The longest a single long-poll may be held by the server.
pub const MAX_LONG_POLL: Duration = Duration::from_secs(180);

pub struct V2 {
    http: Transport,
    services: TtlCache<Vec<Service>>,
    countries: TtlCache<Vec<Country>>,
}

impl V2 {
    pub fn new(base_url: &str, key: KeySlot, config: &Config) -> Result<Self> {
        Ok(Self {
            http: Transport::new(
                base_url,
                key,
                AuthStyle::Bearer,
                classify,
                config.http.clone(),
            )?,
            services: TtlCache::new(config.catalog_ttl),
            countries: TtlCache::new(config.catalog_ttl),
        })
    }

    /// A POST retried only with its one idempotency key.
    fn post<'a>(segments: &'a [&'a str]) -> Request<'a> {
        Request::post(segments).retry(Retry::Deduplicated(IDEMPOTENCY_KEY))
    }

    /// `POST /orders/{id}/{action}`.
    async fn action(&self, order_id: &str, action: &str) -> Result<Order> {
        self.http
            .send(Self::post(&["orders", order_id, action]))
            .await
    }

    /// `GET /countries/{iso2}/pricing[?rental=true]`.
    async fn pricing(&self, country: &str, rental: bool) -> Result<Vec<ServicePrice>> {
        self.http
            .send(
                Request::get(&["countries", country, "pricing"])
                    .public()
                    .query("rental", rental.then_some(true)),
            )
            .await
    }

    /// The smallest rental option of `service` in `country` that covers `hours`.
    async fn rental_price(&self, service: &str, country: &str, hours: u32) -> Result<f64> {
        let prices = self.pricing(country, true).await?;
        prices
            .iter()
            .filter(|p| p.service.eq_ignore_ascii_case(service))
            .flat_map(|p| p.rental_options.iter().flatten())
            .filter(|o| o.hours >= hours)
            .min_by_key(|o| o.hours)
            .map(|o| o.price)
            .ok_or_else(|| {
                ApiError::rule(
                    ErrorKind::Invalid,
                    format!(
                        "no rental of {hours} h or more for {service} in {country} is listed \
                         (country_pricing with rental: true shows the options), so its price \
                         cannot be checked against the spending limits"
                    ),
                )
            })
    }
}

/// v2's error table: the problem type's slug first, the status code when there is none.
fn classify(http: &Transport, answer: &Answer) -> ApiError {
    let problem = serde_json::from_slice::<Problem>(&answer.body)
        .ok()
        .filter(|p| p.type_uri.is_some() || p.title.is_some() || p.detail.is_some())
        .map(|p| Problem {
            type_uri: p.type_uri.map(|s| http.bounded(&s)),
            title: p.title.map(|s| http.bounded(&s)),
            detail: p.detail.map(|s| http.bounded(&s)),
            instance: p.instance.map(|s| http.bounded(&s)),
        });
    let kind = kind_of(
        answer.status.as_u16(),
        problem.as_ref().and_then(|p| p.slug()),
    );
    super::refusal::error(http, answer, kind, problem, answer.retry_after())
}

pub(crate) fn kind_of(status: u16, slug: Option<&str>) -> ErrorKind {
    match (status, slug) {
        (_, Some("validation")) | (400 | 422, None) => ErrorKind::Invalid,
        (_, Some("unauthorized")) | (401 | 403, _) => ErrorKind::Unauthorized,
        (_, Some("insufficient-balance")) | (402, _) => ErrorKind::InsufficientBalance,
        (_, Some("service-not-found")) => ErrorKind::ServiceNotFound,
        (_, Some("country-not-found")) => ErrorKind::CountryNotFound,
        (_, Some("order-not-found")) | (404, _) => ErrorKind::OrderNotFound,
        (_, Some("order-already-confirmed")) => ErrorKind::AlreadyConfirmed,
        (_, Some("order-already-received")) => ErrorKind::AlreadyReceived,
        (_, Some("no-sms-yet")) => ErrorKind::NoSmsYet,
        (_, Some("order-expired")) | (410, _) => ErrorKind::Expired,
        (_, Some("rate-limited")) | (429, _) => ErrorKind::RateLimited,
        (_, Some("no-stock")) => ErrorKind::NoStock,
        (409, _) => ErrorKind::Conflict,
        (425, _) => ErrorKind::TooEarly,
        (500..=599, _) => ErrorKind::Transient,
        _ => ErrorKind::Other,
    }
}

#[async_trait]
impl Backend for V2 {
    fn name(&self) -> &'static str {
        "VirtualSMS REST v2"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            long_poll: true,
            confirm: true,
            deduplicated_purchases: true,
            ..Capabilities::VIRTUALSMS
        }
    }

    /// `GET /services` (2,500+ on the live API), cached.
    async fn list_services(&self) -> Result<Arc<Vec<Service>>> {
        let http = &self.http;
        self.services
            .get_or_fetch(|| http.send(Request::get(&["services"]).public()))
            .await
    }

    /// `GET /countries`, cached.
    async fn list_countries(&self) -> Result<Arc<Vec<Country>>> {
        let http = &self.http;
        self.countries
            .get_or_fetch(|| http.send(Request::get(&["countries"]).public()))
            .await
    }

    /// `GET /services/{service}/cheapest[?country=]` — `country` as a query is **(assumed)**.
    async fn find_cheapest(&self, service: &str, country: Option<&str>) -> Result<Offer> {
        let mut offer: Offer = self
            .http
            .send(
                Request::get(&["services", service, "cheapest"])
                    .public()
                    .query("country", country),
            )
            .await?;
        offer.service.get_or_insert_with(|| service.to_owned());
        Ok(offer)
    }

    /// `GET /countries/{iso2}/pricing[?rental=true]`, filtered to `service` here.
    async fn country_pricing(
        &self,
        country: &str,
        service: Option<&str>,
        rental: bool,
    ) -> Result<Listing<ServicePrice>> {
        let mut prices = self.pricing(country, rental).await?;
        if let Some(service) = service {
            prices.retain(|p| p.service.eq_ignore_ascii_case(service));
        }
        Ok(Listing::exact(prices))
    }

    /// `GET /services/{service}/availability`.
    async fn service_availability(&self, service: &str) -> Result<Vec<CountryPrice>> {
        self.http
            .send(Request::get(&["services", service, "availability"]).public())
            .await
    }

    /// `GET /me/balance`.
    async fn get_balance(&self) -> Result<Balance> {
        self.http.send(Request::get(&["me", "balance"])).await
    }

    /// `GET /me`.
    async fn get_profile(&self) -> Result<Profile> {
        self.http.send(Request::get(&["me"])).await
    }

    /// `GET /me/stats`.
    async fn get_stats(&self) -> Result<Stats> {
        self.http.send(Request::get(&["me", "stats"])).await
    }

    /// `GET /me/transactions?limit=&offset=` — paging parameters **(assumed)**.
    async fn list_transactions(&self, limit: u32, offset: u32) -> Result<Page<Transaction>> {
        self.http
            .send(
                Request::get(&["me", "transactions"])
                    .query("limit", Some(limit))
                    .query("offset", Some(offset)),
            )
            .await
    }

    /// An activation: the cheapest offer in that country; a rental: the smallest rental option
    /// that covers `rental_hours`.
    async fn quote(&self, order: &NewOrder<'_>) -> Result<f64> {
        match order.rental_hours {
            None => Ok(self
                .find_cheapest(order.service, Some(order.country))
                .await?
                .price),
            Some(hours) => self.rental_price(order.service, order.country, hours).await,
        }
    }

    async fn quote_extension(&self, order_id: &str, hours: u32) -> Result<f64> {
        let rental = self.get_order(order_id).await?;
        let (Some(service), Some(country)) = (rental.service, rental.country) else {
            return Err(ApiError::rule(
                ErrorKind::Other,
                format!(
                    "order {order_id} does not say its service and country, so the extension's \
                     price cannot be checked against the spending limits"
                ),
            ));
        };
        self.rental_price(&service, &country, hours).await
    }

    /// `POST /orders {service, country, rental_hours?}` — charges the balance.
    async fn create_order(&self, order: &NewOrder<'_>) -> Result<Order> {
        self.http.send(Self::post(&["orders"]).json(order)).await
    }

    /// `GET /orders/{id}`.
    async fn get_order(&self, order_id: &str) -> Result<Order> {
        self.http.send(Request::get(&["orders", order_id])).await
    }

    /// `GET /orders?status=&limit=&offset=` — query parameters **(assumed)**.
    async fn list_orders(
        &self,
        status: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Page<Order>> {
        self.http
            .send(
                Request::get(&["orders"])
                    .query("status", status)
                    .query("limit", Some(limit))
                    .query("offset", Some(offset)),
            )
            .await
    }

    /// One round of `GET /orders/{id}/sms?timeout=&since=` (both parameters **(assumed)**): the
    /// server holds it until a message newer than `since` arrives, the order ends, or `window`
    /// (capped at [`MAX_LONG_POLL`]) passes. The HTTP timeout is the window plus a margin.
    async fn wait_sms(
        &self,
        order_id: &str,
        since: Option<&str>,
        window: Duration,
    ) -> Result<SmsPoll> {
        let window = window.clamp(Duration::from_secs(1), MAX_LONG_POLL);
        self.http
            .send(
                Request::get(&["orders", order_id, "sms"])
                    .query("timeout", Some(window.as_secs_f64().round() as u64))
                    .query("since", since)
                    .timeout(window),
            )
            .await
    }

    /// `POST /orders/{id}/swap`.
    async fn swap_order(&self, order_id: &str) -> Result<Order> {
        self.action(order_id, "swap").await
    }

    /// `POST /orders/{id}/cancel`.
    async fn cancel_order(&self, order_id: &str) -> Result<Order> {
        self.action(order_id, "cancel").await
    }

    /// `POST /orders/{id}/confirm`.
    async fn confirm_order(&self, order_id: &str) -> Result<Order> {
        self.action(order_id, "confirm").await
    }

    /// `POST /orders/{id}/extend {hours}` — charges the balance.
    async fn extend_rental(&self, order_id: &str, hours: u32) -> Result<Order> {
        self.http
            .send(Self::post(&["orders", order_id, "extend"]).json(&json!({ "hours": hours })))
            .await
    }

    /// `POST /orders/{id}/release`.
    async fn release_rental(&self, order_id: &str) -> Result<Order> {
        self.action(order_id, "release").await
    }
}
