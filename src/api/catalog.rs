//! Discovery endpoints: services, countries, prices, availability. They answer without an API
//! key. The two full catalogs are cached (the service list has 2,500+ entries and rarely changes).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::model::{Country, CountryPrice, Offer, Service, ServicePrice};
use super::{ApiError, Call, Client};

/// A value fetched at most once per `ttl`. Concurrent callers share one fetch.
pub struct TtlCache<T> {
    ttl: Duration,
    slot: Mutex<Option<(Instant, Arc<T>)>>,
}

impl<T> TtlCache<T> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slot: Mutex::new(None),
        }
    }

    /// The cached value, or the result of `fetch` (cached only on success).
    pub async fn get_or_fetch<F, Fut>(&self, fetch: F) -> Result<Arc<T>, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, ApiError>>,
    {
        // Held across the fetch on purpose: ten callers at once make one request, not ten.
        let mut slot = self.slot.lock().await;
        if let Some((at, value)) = slot.as_ref() {
            if at.elapsed() < self.ttl {
                return Ok(value.clone());
            }
        }
        let value = Arc::new(fetch().await?);
        *slot = Some((Instant::now(), value.clone()));
        Ok(value)
    }
}

impl Client {
    /// `GET /services`: every service (2,500+ on the live API).
    pub async fn list_services(&self) -> Result<Vec<Service>, ApiError> {
        self.send(Call::get(&["services"]).public()).await
    }

    /// `GET /countries`.
    pub async fn list_countries(&self) -> Result<Vec<Country>, ApiError> {
        self.send(Call::get(&["countries"]).public()).await
    }

    /// `GET /services/{service}/cheapest[?country=]` — `country` as a query is **(assumed)**.
    pub async fn find_cheapest(
        &self,
        service: &str,
        country: Option<&str>,
    ) -> Result<Offer, ApiError> {
        self.send(
            Call::get(&["services", service, "cheapest"])
                .public()
                .query("country", country),
        )
        .await
    }

    /// `GET /countries/{iso2}/pricing[?rental=true]`.
    pub async fn country_pricing(
        &self,
        country: &str,
        rental: bool,
    ) -> Result<Vec<ServicePrice>, ApiError> {
        self.send(
            Call::get(&["countries", country, "pricing"])
                .public()
                .query("rental", rental.then_some(true)),
        )
        .await
    }

    /// `GET /services/{service}/availability`.
    pub async fn service_availability(&self, service: &str) -> Result<Vec<CountryPrice>, ApiError> {
        self.send(Call::get(&["services", service, "availability"]).public())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn cache_fetches_once_per_ttl_and_not_on_error() {
        let cache = TtlCache::new(Duration::from_secs(300));
        let fetches = AtomicU32::new(0);
        let fetch = || async {
            fetches.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ApiError>(vec![1, 2, 3])
        };
        assert_eq!(*cache.get_or_fetch(fetch).await.unwrap(), vec![1, 2, 3]);
        cache.get_or_fetch(fetch).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_secs(301)).await;
        cache.get_or_fetch(fetch).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 2);

        let empty: TtlCache<u8> = TtlCache::new(Duration::from_secs(300));
        assert!(empty
            .get_or_fetch(|| async { Err(ApiError::MissingApiKey) })
            .await
            .is_err());
        assert_eq!(*empty.get_or_fetch(|| async { Ok(7) }).await.unwrap(), 7);
    }
}
