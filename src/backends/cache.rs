//! [`TtlCache`]: a value fetched at most once per TTL, shared by concurrent callers. Backends
//! keep their catalogs in one (the VirtualSMS service list has hundreds to thousands of entries
//! and rarely changes).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

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
    pub async fn get_or_fetch<F, Fut, E>(&self, fetch: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
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
            Ok::<_, String>(vec![1, 2, 3])
        };
        assert_eq!(*cache.get_or_fetch(fetch).await.unwrap(), vec![1, 2, 3]);
        cache.get_or_fetch(fetch).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_secs(301)).await;
        cache.get_or_fetch(fetch).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 2);

        let empty: TtlCache<u8> = TtlCache::new(Duration::from_secs(300));
        assert!(empty
            .get_or_fetch(|| async { Err::<u8, _>("down") })
            .await
            .is_err());
        assert_eq!(
            *empty
                .get_or_fetch(|| async { Ok::<_, String>(7) })
                .await
                .unwrap(),
            7
        );
    }
}
