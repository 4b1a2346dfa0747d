//! What may be retried, and how long to wait: `Retry-After` parsing, exponential backoff with
//! jitter, and a pacer that keeps this process under the API's per-key request rate.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use tokio::sync::Mutex;
use tokio::time::Instant;

/// The API's rate window.
const WINDOW: Duration = Duration::from_secs(60);

/// Parses a `Retry-After` value: delay-seconds or an HTTP date. A negative number or a date in
/// the past means "now"; garbage means "unknown" (`None`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<i64>() {
        return Some(Duration::from_secs(secs.max(0) as u64));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return secs
            .is_finite()
            .then(|| Duration::from_secs_f64(secs.clamp(0.0, 1e9)));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Backoff before retry number `retry` (1-based): `base · 2^(retry-1)` plus up to as much again
/// of jitter, so that clients that failed together do not retry together.
pub fn backoff(base: Duration, retry: u32) -> Duration {
    let step = base.saturating_mul(1u32 << retry.saturating_sub(1).min(10));
    step + step.mul_f64(jitter_fraction())
}

/// A cheap random fraction in [0, 1) without a dependency: std's per-process random hash keys.
fn jitter_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(Instant::now().elapsed().as_nanos() as u64);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// A sliding-window limiter: at most `per_minute` requests start in any 60 s.
#[derive(Debug)]
pub struct Pacer {
    per_minute: u32,
    started: Mutex<VecDeque<Instant>>,
}

impl Pacer {
    /// `per_minute == 0` disables pacing.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            started: Mutex::new(VecDeque::new()),
        }
    }

    /// Waits until one more request may start, then counts it.
    pub async fn acquire(&self) {
        if self.per_minute == 0 {
            return;
        }
        loop {
            let wait = {
                let mut started = self.started.lock().await;
                let now = Instant::now();
                while started
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= WINDOW)
                {
                    started.pop_front();
                }
                if started.len() < self.per_minute as usize {
                    started.push_back(now);
                    return;
                }
                // Full: the oldest start leaves the window first.
                WINDOW - now.duration_since(started[0])
            };
            tracing::debug!(
                wait_ms = wait.as_millis() as u64,
                "pacing to stay under the rate limit"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" -5 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        let base = Duration::from_millis(100);
        for retry in 1..=4u32 {
            let d = backoff(base, retry);
            let step = base * 2u32.pow(retry - 1);
            assert!(d >= step && d < step * 2, "retry {retry}: {d:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn pacer_holds_the_request_over_the_limit_until_the_window_moves() {
        let pacer = Pacer::new(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            pacer.acquire().await;
        }
        assert_eq!(t0.elapsed(), Duration::ZERO);
        pacer.acquire().await;
        assert_eq!(t0.elapsed(), WINDOW);
    }
}
