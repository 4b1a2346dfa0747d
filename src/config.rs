//! Everything the server reads from the environment, parsed and validated once at start-up.
//!
//! The API key is wrapped in [`ApiKey`], whose `Debug` never shows it, so a stray `{:?}` in a
//! log line cannot leak it.

use std::fmt;
use std::time::Duration;

/// The public VirtualSMS REST v2 endpoint.
pub const DEFAULT_BASE_URL: &str = "https://virtualsms.io/api/v2";
/// Default `tracing` filter: rmcp logs every notification at `info`, which is noise.
pub const DEFAULT_LOG_FILTER: &str = "info,rmcp=warn";

/// Environment variable names, in one place so docs, tests and packaging agree.
pub mod env {
    pub const API_KEY: &str = "VIRTUALSMS_API_KEY";
    pub const BASE_URL: &str = "VIRTUALSMS_BASE_URL";
    pub const LOG: &str = "VIRTUALSMS_LOG";
    pub const CATALOG_TTL_SECS: &str = "VIRTUALSMS_CATALOG_TTL_SECS";
    pub const TIMEOUT_SECS: &str = "VIRTUALSMS_TIMEOUT_SECS";
    pub const RATE_LIMIT: &str = "VIRTUALSMS_RATE_LIMIT";
    pub const MAX_RETRY_WAIT_SECS: &str = "VIRTUALSMS_MAX_RETRY_WAIT_SECS";
    pub const SANDBOX_SMS_DELAY: &str = "VIRTUALSMS_SANDBOX_SMS_DELAY";
    pub const MAX_ORDER_PRICE: &str = "VIRTUALSMS_MAX_ORDER_PRICE";
    pub const SPEND_LIMIT: &str = "VIRTUALSMS_SPEND_LIMIT";
    pub const READ_ONLY: &str = "VIRTUALSMS_READ_ONLY";
    // x402 top-up (see crate::x402).
    pub const WALLET_PRIVATE_KEY: &str = "VIRTUALSMS_WALLET_PRIVATE_KEY";
    pub const WALLET_KEY_FILE: &str = "VIRTUALSMS_WALLET_KEY_FILE";
    pub const X402_BASE_URL: &str = "VIRTUALSMS_X402_BASE_URL";
    pub const X402_MAX_TOPUP_USD: &str = "VIRTUALSMS_X402_MAX_TOPUP_USD";
    pub const X402_PAY_TO: &str = "VIRTUALSMS_X402_PAY_TO";
    pub const CREDENTIALS_FILE: &str = "VIRTUALSMS_CREDENTIALS_FILE";
    // x402 on Solana, and the network/token choice (see crate::x402::settings).
    pub const SOLANA_KEY_FILE: &str = "VIRTUALSMS_SOLANA_KEY_FILE";
    pub const SOLANA_PRIVATE_KEY: &str = "VIRTUALSMS_SOLANA_PRIVATE_KEY";
    pub const X402_NETWORK: &str = "VIRTUALSMS_X402_NETWORK";
    pub const X402_TOKEN: &str = "VIRTUALSMS_X402_TOKEN";
    pub const SOLANA_RPC_URL: &str = "VIRTUALSMS_SOLANA_RPC_URL";
    pub const SANDBOX_X402_VERSION: &str = "VIRTUALSMS_SANDBOX_X402_VERSION";
}

/// A VirtualSMS API key. `Debug` and `Display` are redacted; use [`ApiKey::expose`] only where
/// the key goes on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// How the HTTP client behaves: timeouts, retries, pacing. Tests shrink the waits.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub connect_timeout: Duration,
    /// Timeout of an ordinary request; a long-poll gets its own window plus [`Self::long_poll_margin`].
    pub request_timeout: Duration,
    pub long_poll_margin: Duration,
    /// Retries after the first attempt (connect errors, 5xx, 429).
    pub max_retries: u32,
    /// First backoff step; doubles each retry, plus jitter.
    pub backoff_base: Duration,
    /// The longest `Retry-After` this server sleeps through on its own; longer waits are reported.
    pub max_retry_wait: Duration,
    /// Requests per minute this process allows itself per key (the API allows 60). 0 = no pacing.
    pub rate_limit_per_minute: u32,
    /// Response bodies larger than this are refused with a clear error.
    pub max_body_bytes: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            long_poll_margin: Duration::from_secs(15),
            max_retries: 3,
            backoff_base: Duration::from_millis(250),
            max_retry_wait: Duration::from_secs(60),
            rate_limit_per_minute: 60,
            max_body_bytes: 8 * 1024 * 1024,
        }
    }
}

/// What this process may spend, and whether it may spend at all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpendingGuard {
    /// Refuse create_order / extend_rental when the price is above this (USD).
    pub max_order_price: Option<f64>,
    /// Total this process may spend (USD) before spending tools are refused.
    pub spend_limit: Option<f64>,
    /// Spending and destructive tools are neither listed nor callable.
    pub read_only: bool,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub api_key: Option<ApiKey>,
    /// Without a trailing slash, e.g. `https://virtualsms.io/api/v2`.
    pub base_url: String,
    pub log_filter: String,
    /// How long list_services / list_countries reuse the catalog.
    pub catalog_ttl: Duration,
    pub http: HttpSettings,
    pub guard: SpendingGuard,
    /// Set when the server runs against the embedded fake (`--sandbox`): results are simulated.
    pub sandbox: bool,
    /// Seconds before a simulated SMS arrives in `--sandbox` mode.
    pub sandbox_sms_delay: Duration,
    /// How often wait_for_sms reports progress (clients reset their tool timeout on each).
    pub progress_interval: Duration,
    /// x402 self-funding: wallet, endpoint, caps, payee pin, credentials file.
    pub x402: crate::x402::X402Config,
}

/// A variable that is set but cannot be used; the message names it.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct ConfigError {
    pub name: &'static str,
    pub problem: String,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let base_url = get(env::BASE_URL).unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(ConfigError {
                name: env::BASE_URL,
                problem: format!("must start with http:// or https:// (got {base_url:?})"),
            });
        }
        let mut http = HttpSettings::default();
        if let Some(secs) = parse_number::<u64>(&get, env::TIMEOUT_SECS)? {
            http.request_timeout = Duration::from_secs(secs.max(1));
        }
        if let Some(rate) = parse_number::<u32>(&get, env::RATE_LIMIT)? {
            http.rate_limit_per_minute = rate;
        }
        if let Some(secs) = parse_number::<u64>(&get, env::MAX_RETRY_WAIT_SECS)? {
            http.max_retry_wait = Duration::from_secs(secs);
        }
        let guard = SpendingGuard {
            max_order_price: parse_money(&get, env::MAX_ORDER_PRICE)?,
            spend_limit: parse_money(&get, env::SPEND_LIMIT)?,
            read_only: parse_flag(&get, env::READ_ONLY)?,
        };
        Ok(Self {
            api_key: get(env::API_KEY).map(ApiKey::new),
            base_url: base_url.trim_end_matches('/').to_owned(),
            log_filter: get(env::LOG).unwrap_or_else(|| DEFAULT_LOG_FILTER.to_owned()),
            catalog_ttl: Duration::from_secs(
                parse_number::<u64>(&get, env::CATALOG_TTL_SECS)?.unwrap_or(300),
            ),
            http,
            guard,
            sandbox: false,
            sandbox_sms_delay: Duration::from_secs_f64(
                parse_number::<f64>(&get, env::SANDBOX_SMS_DELAY)?
                    .unwrap_or(5.0)
                    .clamp(0.0, 3600.0),
            ),
            progress_interval: Duration::from_secs(5),
            x402: crate::x402::X402Config::from_lookup(&get)?,
        })
    }
}

fn parse_number<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<T>, ConfigError> {
    get(name)
        .map(|raw| {
            raw.parse::<T>().map_err(|_| ConfigError {
                name,
                problem: format!("expected a non-negative number, got {raw:?}"),
            })
        })
        .transpose()
}

fn parse_money(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<f64>, ConfigError> {
    match parse_number::<f64>(get, name)? {
        Some(v) if !v.is_finite() || v < 0.0 => Err(ConfigError {
            name,
            problem: format!("expected an amount in USD of 0 or more, got {v}"),
        }),
        other => Ok(other),
    }
}

fn parse_flag(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<bool, ConfigError> {
    match get(name).map(|v| v.to_ascii_lowercase()).as_deref() {
        None | Some("0" | "false" | "no" | "off") => Ok(false),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some(other) => Err(ConfigError {
            name,
            problem: format!("expected 1/0, true/false, yes/no or on/off, got {other:?}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_without_any_variable() {
        let c = config(&[]).unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert!(c.api_key.is_none());
        assert_eq!(c.log_filter, DEFAULT_LOG_FILTER);
        assert_eq!(c.catalog_ttl, Duration::from_secs(300));
        assert_eq!(c.guard, SpendingGuard::default());
    }

    #[test]
    fn blank_key_counts_as_unset_and_base_url_loses_trailing_slash() {
        let c = config(&[
            (env::API_KEY, "  "),
            (env::BASE_URL, "http://127.0.0.1:9/api/v2/"),
        ])
        .unwrap();
        assert!(c.api_key.is_none());
        assert_eq!(c.base_url, "http://127.0.0.1:9/api/v2");
    }

    #[test]
    fn api_key_debug_is_redacted() {
        let c = config(&[(env::API_KEY, "sk_live_SECRET123")]).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("SECRET123"), "{shown}");
        assert_eq!(c.api_key.unwrap().expose(), "sk_live_SECRET123");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = config(&[(env::SPEND_LIMIT, "-3")]).unwrap_err();
        assert_eq!(err.name, env::SPEND_LIMIT);
        let err = config(&[(env::READ_ONLY, "maybe")]).unwrap_err();
        assert_eq!(err.name, env::READ_ONLY);
        let err = config(&[(env::BASE_URL, "virtualsms.io")]).unwrap_err();
        assert_eq!(err.name, env::BASE_URL);
    }

    #[test]
    fn spending_guard_is_read() {
        let c = config(&[
            (env::MAX_ORDER_PRICE, "0.50"),
            (env::SPEND_LIMIT, "5"),
            (env::READ_ONLY, "yes"),
        ])
        .unwrap();
        assert_eq!(c.guard.max_order_price, Some(0.5));
        assert_eq!(c.guard.spend_limit, Some(5.0));
        assert!(c.guard.read_only);
    }
}
