//! `VIRTUALSMS_API_VERSION=auto` with an origin: the first call that needs the API finds out
//! once which version the origin serves, logs the choice, and keeps it for the process.
//!
//! The probe is `GET {origin}/api/v2/countries` (public and small): a JSON list there means v2;
//! any other answer (404, 401, an HTML page, a JSON error) means v1. No answer at all (no
//! connection, a timeout) decides nothing: the call fails with that error and the next call
//! probes again. Start-up sends nothing.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::Result;
use super::{virtualsms_v1, virtualsms_v2, ApiError, Backend, Capabilities, ErrorKind, Listing};
use crate::config::Config;
use crate::domain::{
    Balance, Country, CountryPrice, NewOrder, Offer, Order, Page, Profile, Service, ServicePrice,
    SmsPoll, Stats, Transaction,
};
use crate::transport::{Answer, AuthStyle, KeySlot, Request, Retry, Transport};

pub struct Auto {
    origin: String,
    key: KeySlot,
    config: Config,
    chosen: OnceCell<Arc<dyn Backend>>,
}

impl Auto {
    pub fn new(origin: String, key: KeySlot, config: Config) -> Self {
        Self {
            origin,
            key,
            config,
            chosen: OnceCell::new(),
        }
    }

    async fn backend(&self) -> Result<&Arc<dyn Backend>> {
        self.chosen.get_or_try_init(|| self.detect()).await
    }

    async fn detect(&self) -> Result<Arc<dyn Backend>> {
        let v2_base = format!("{}/api/v2", self.origin);
        let probe = Transport::new(
            &v2_base,
            self.key.clone(),
            AuthStyle::Bearer,
            any_status,
            self.config.http.clone(),
        )?;
        let answer = probe
            .exchange(Request::get(&["countries"]).public().retry(Retry::Never))
            .await;
        let serves_v2 = match answer {
            Ok(answer) => probe.decode::<Vec<Country>>(&answer).is_ok(),
            Err(e @ (ApiError::Transport { .. } | ApiError::Setup(_))) => return Err(e),
            Err(_) => false,
        };
        let backend: Arc<dyn Backend> = if serves_v2 {
            Arc::new(virtualsms_v2::V2::new(
                &v2_base,
                self.key.clone(),
                &self.config,
            )?)
        } else {
            let v1_base = format!("{}/api/v1", self.origin);
            Arc::new(virtualsms_v1::V1::new(
                &v1_base,
                self.key.clone(),
                &self.config,
            )?)
        };
        tracing::info!(
            origin = %self.origin,
            api = backend.name(),
            "API version detected (VIRTUALSMS_API_VERSION=auto); kept for this process"
        );
        Ok(backend)
    }
}

/// The probe only asks whether an answer came: every status is "not v2".
fn any_status(_: &Transport, answer: &Answer) -> ApiError {
    ApiError::rule(
        ErrorKind::Other,
        format!("HTTP {} at /api/v2", answer.status.as_u16()),
    )
}

#[async_trait]
impl Backend for Auto {
    fn name(&self) -> &'static str {
        self.chosen
            .get()
            .map_or("VirtualSMS (API version not detected yet)", |b| b.name())
    }

    fn capabilities(&self) -> Capabilities {
        // Before detection, assume the stricter API (v1): no confirm, a cooldown, no dedupe.
        self.chosen.get().map_or(
            Capabilities {
                cancel_cooldown: Some(Duration::from_secs(120)),
                ..Capabilities::VIRTUALSMS
            },
            |b| b.capabilities(),
        )
    }

    async fn list_services(&self) -> Result<Arc<Vec<Service>>> {
        self.backend().await?.list_services().await
    }
    async fn list_countries(&self) -> Result<Arc<Vec<Country>>> {
        self.backend().await?.list_countries().await
    }
    async fn find_cheapest(&self, service: &str, country: Option<&str>) -> Result<Offer> {
        self.backend().await?.find_cheapest(service, country).await
    }
    async fn country_pricing(
        &self,
        country: &str,
        service: Option<&str>,
        rental: bool,
    ) -> Result<Listing<ServicePrice>> {
        (self.backend().await?)
            .country_pricing(country, service, rental)
            .await
    }
    async fn service_availability(&self, service: &str) -> Result<Vec<CountryPrice>> {
        self.backend().await?.service_availability(service).await
    }
    async fn get_balance(&self) -> Result<Balance> {
        self.backend().await?.get_balance().await
    }
    async fn get_profile(&self) -> Result<Profile> {
        self.backend().await?.get_profile().await
    }
    async fn get_stats(&self) -> Result<Stats> {
        self.backend().await?.get_stats().await
    }
    async fn list_transactions(&self, limit: u32, offset: u32) -> Result<Page<Transaction>> {
        self.backend().await?.list_transactions(limit, offset).await
    }
    async fn quote(&self, order: &NewOrder<'_>) -> Result<f64> {
        self.backend().await?.quote(order).await
    }
    async fn quote_extension(&self, order_id: &str, hours: u32) -> Result<f64> {
        self.backend().await?.quote_extension(order_id, hours).await
    }
    async fn create_order(&self, order: &NewOrder<'_>) -> Result<Order> {
        self.backend().await?.create_order(order).await
    }
    async fn get_order(&self, order_id: &str) -> Result<Order> {
        self.backend().await?.get_order(order_id).await
    }
    async fn list_orders(
        &self,
        status: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Page<Order>> {
        self.backend()
            .await?
            .list_orders(status, limit, offset)
            .await
    }
    async fn wait_sms(
        &self,
        order_id: &str,
        since: Option<&str>,
        window: Duration,
    ) -> Result<SmsPoll> {
        self.backend()
            .await?
            .wait_sms(order_id, since, window)
            .await
    }
    async fn swap_order(&self, order_id: &str) -> Result<Order> {
        self.backend().await?.swap_order(order_id).await
    }
    async fn cancel_order(&self, order_id: &str) -> Result<Order> {
        self.backend().await?.cancel_order(order_id).await
    }
    async fn confirm_order(&self, order_id: &str) -> Result<Order> {
        self.backend().await?.confirm_order(order_id).await
    }
    async fn extend_rental(&self, order_id: &str, hours: u32) -> Result<Order> {
        self.backend().await?.extend_rental(order_id, hours).await
    }
    async fn release_rental(&self, order_id: &str) -> Result<Order> {
        self.backend().await?.release_rental(order_id).await
    }
}
