//! Everything the server reads from the environment, parsed and validated once at start-up.
//!
//! [`VARS`] is the one table of environment variables: `--help` is rendered from it and a test
//! checks the README against it. The API key is wrapped in [`ApiKey`], whose `Debug` never shows
//! it, so a stray `{:?}` in a log line cannot leak it.

use std::fmt;
use std::time::Duration;

/// The public VirtualSMS origin; the API version under it is found out on first use (`auto`).
pub const DEFAULT_BASE_URL: &str = "https://virtualsms.io";
/// SMSCode's API base URL (`../shared/api/smscode.md` §1).
pub const SMSCODE_DEFAULT_BASE_URL: &str = "https://api.smscode.gg/v1";
/// SMSCode's documented request budget per token (`../shared/api/smscode.md` §1).
pub const SMSCODE_RATE_LIMIT: u32 = 300;
/// Default `tracing` filter: rmcp logs every notification at `info`, which is noise.
pub const DEFAULT_LOG_FILTER: &str = "info,rmcp=warn";

/// Environment variable names, in one place so docs, tests and packaging agree. Each is
/// described once, in [`VARS`].
pub mod env {
    pub const API_KEY: &str = "VIRTUALSMS_API_KEY";
    pub const BASE_URL: &str = "VIRTUALSMS_BASE_URL";
    pub const API_VERSION: &str = "VIRTUALSMS_API_VERSION";
    pub const PROVIDERS: &str = "VIRTUALSMS_PROVIDERS";
    pub const POLL_INTERVAL_SECS: &str = "VIRTUALSMS_POLL_INTERVAL_SECS";
    pub const ENABLE_RELEASE: &str = "VIRTUALSMS_ENABLE_RELEASE";
    pub const LOG: &str = "VIRTUALSMS_LOG";
    pub const CATALOG_TTL_SECS: &str = "VIRTUALSMS_CATALOG_TTL_SECS";
    pub const TIMEOUT_SECS: &str = "VIRTUALSMS_TIMEOUT_SECS";
    pub const RATE_LIMIT: &str = "VIRTUALSMS_RATE_LIMIT";
    pub const MAX_RETRY_WAIT_SECS: &str = "VIRTUALSMS_MAX_RETRY_WAIT_SECS";
    pub const SANDBOX_SMS_DELAY: &str = "VIRTUALSMS_SANDBOX_SMS_DELAY";
    pub const MAX_ORDER_PRICE: &str = "VIRTUALSMS_MAX_ORDER_PRICE";
    pub const SPEND_LIMIT: &str = "VIRTUALSMS_SPEND_LIMIT";
    pub const READ_ONLY: &str = "VIRTUALSMS_READ_ONLY";
    pub const CONFIRM_ABOVE: &str = "VIRTUALSMS_CONFIRM_ABOVE";
    pub const TOOLS: &str = "VIRTUALSMS_TOOLS";
    pub const EXCLUDE_TOOLS: &str = "VIRTUALSMS_EXCLUDE_TOOLS";
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
    // Trust roots for HTTPS (see crate::tls); the names every TLS stack reads.
    pub const SSL_CERT_FILE: &str = crate::tls::CERT_FILE;
    pub const SSL_CERT_DIR: &str = crate::tls::CERT_DIR;
    // SMSCode (`../shared/api/smscode.md`; see [`super::SmsCodeSettings`]).
    pub const SMSCODE_TOKEN: &str = "SMSCODE_TOKEN";
    pub const SMSCODE_BASE_URL: &str = "SMSCODE_BASE_URL";
    pub const SMSCODE_IDR_PER_USD: &str = "SMSCODE_IDR_PER_USD";
    // smsVerificationService (see crate::backends::smsverificationservice).
    pub const SMSVERIFICATIONSERVICE_API_KEY: &str = "SMSVERIFICATIONSERVICE_API_KEY";
    pub const SMSVERIFICATIONSERVICE_BASE_URL: &str = "SMSVERIFICATIONSERVICE_BASE_URL";
}

/// One environment variable: what it does and its default, as `--help` and the README show it.
#[derive(Debug, Clone, Copy)]
pub struct EnvVar {
    pub name: &'static str,
    pub help: &'static str,
    pub default: Option<&'static str>,
}

const fn var(name: &'static str, help: &'static str, default: Option<&'static str>) -> EnvVar {
    EnvVar {
        name,
        help,
        default,
    }
}

/// Every variable the server reads, in the order `--help` lists them.
pub const VARS: &[EnvVar] = &[
    var(env::API_KEY, "your API key (https://virtualsms.io/dashboard); discovery tools work without it on v2", None),
    var(env::BASE_URL, "the VirtualSMS origin, or a base URL ending in /api/v1 or /api/v2 (which fixes the version)", Some(DEFAULT_BASE_URL)),
    var(env::API_VERSION, "auto (v2 if the origin serves it, else v1), v1 or v2", Some("auto")),
    var(env::PROVIDERS, "comma list of virtualsms, smscode, smsverificationservice, or all", Some("virtualsms plus every provider whose key is set")),
    var(env::LOG, "log filter, always to stderr", Some(DEFAULT_LOG_FILTER)),
    var(env::MAX_ORDER_PRICE, "refuse orders above this price (USD)", None),
    var(env::SPEND_LIMIT, "total USD this process may spend", None),
    var(env::READ_ONLY, "1: hide and refuse every tool that spends or changes anything", None),
    var(env::CONFIRM_ABOVE, "ask the person (MCP elicitation) before buying at or above this price (USD; 0 = always)", None),
    var(env::TOOLS, "offer only these tools or toolsets (comma list, like --tools)", None),
    var(env::EXCLUDE_TOOLS, "leave out these tools or toolsets (comma list, like --exclude-tools)", None),
    var(env::TIMEOUT_SECS, "timeout of one API request, in seconds", Some("30")),
    var(env::RATE_LIMIT, "API requests per minute this process allows itself (0: no pacing)", Some("60")),
    var(env::MAX_RETRY_WAIT_SECS, "the longest Retry-After this server waits through on its own", Some("60")),
    var(env::POLL_INTERVAL_SECS, "how often wait_for_sms polls on v1 (one poll serves every wait)", Some("5")),
    var(env::ENABLE_RELEASE, "1: release_rental may end a v1 rental early with a pro-rated refund (terms unsettled)", None),
    var(env::CATALOG_TTL_SECS, "how long the service/country catalog is cached", Some("300")),
    var(env::SANDBOX_SMS_DELAY, "seconds before a simulated SMS arrives with --sandbox", Some("5")),
    var(env::SANDBOX_X402_VERSION, "x402 envelope the --sandbox fake speaks: 1 or 2", Some("1")),
    var(env::WALLET_PRIVATE_KEY, "a Base wallet key (0x + 64 hex) for x402 top-ups (topup_balance)", None),
    var(env::WALLET_KEY_FILE, "a file holding that key, instead of the variable", None),
    var(env::SOLANA_KEY_FILE, "a Solana CLI keypair file (JSON array of 64 bytes) for x402 top-ups on Solana", None),
    var(env::SOLANA_PRIVATE_KEY, "that keypair as base58, instead of the file", None),
    var(env::X402_NETWORK, "base | solana", Some("the network of the one wallet set; base with both")),
    var(env::X402_TOKEN, "USDC | USDT (USDT on Solana only)", Some("USDC")),
    var(env::SOLANA_RPC_URL, "Solana RPC for getLatestBlockhash", Some("https://api.mainnet-beta.solana.com")),
    var(env::X402_MAX_TOPUP_USD, "cap per top-up and per process", Some("20")),
    var(env::X402_PAY_TO, "pin the VirtualSMS wallet that top-ups may pay (0x… Base or base58 Solana)", None),
    var(env::X402_BASE_URL, "x402 endpoint", Some("https://virtualsms.io/api/v1")),
    var(env::CREDENTIALS_FILE, "where a purchased API key is kept", Some("~/.config/virtualsms-mcp/credentials.json")),
    var(env::SSL_CERT_FILE, "trust only the CA certificates (PEM) in this file for HTTPS", Some("the system's store; without one, built-in Mozilla roots")),
    var(env::SSL_CERT_DIR, "trust only the CA certificates (PEM) in this directory for HTTPS", None),
    var(env::SMSCODE_TOKEN, "your SMSCode API token (Account Settings), sent as a Bearer token", None),
    var(env::SMSCODE_BASE_URL, "the SMSCode API base URL", Some(SMSCODE_DEFAULT_BASE_URL)),
    var(env::SMSCODE_IDR_PER_USD, "rupiah per US dollar, to compare SMSCode's IDR prices in USD (e.g. 16000)", None),
    var(env::SMSVERIFICATIONSERVICE_API_KEY, "your smsVerificationService API key (Dashboard → API)", None),
    var(env::SMSVERIFICATIONSERVICE_BASE_URL, "the smsVerificationService API base URL", Some(SMSVERIFICATIONSERVICE_DEFAULT_BASE_URL)),
];

/// smsVerificationService's API base (`../shared/api/smsverificationservice.md` §1).
pub const SMSVERIFICATIONSERVICE_DEFAULT_BASE_URL: &str =
    "https://smsverificationservice.com/api/v1";

/// smsVerificationService: its key and base URL (`SMSVERIFICATIONSERVICE_*`), the provider's
/// rate limit, and the one product-line choice the contract leaves open (§4.1).
#[derive(Debug, Clone, PartialEq)]
pub struct SmsVerificationServiceSettings {
    /// `None`: the provider is not configured (every call needs the key).
    pub api_key: Option<ApiKey>,
    /// Without a trailing slash.
    pub base_url: String,
    /// The provider allows 60 requests per key per minute; the pacing used is the lower of this
    /// and `VIRTUALSMS_RATE_LIMIT` (0 there: no pacing).
    pub rate_limit_per_minute: u32,
    /// US activations: try the curated best-temp line before the temporary one **(assumed
    /// setting, default off; no variable yet)**.
    pub prefer_best_temp: bool,
}

/// The `Environment:` section of `--help`, rendered from [`VARS`].
pub fn env_help() -> String {
    let width = VARS.iter().map(|v| v.name.len()).max().unwrap_or(0) + 2;
    let mut out = String::from("Environment:\n");
    for v in VARS {
        out.push_str(&format!("  {:width$}{}", v.name, v.help));
        if let Some(default) = v.default {
            out.push_str(&format!(" [default: {default}]"));
        }
        out.push('\n');
    }
    out
}

/// The README's configuration table, rendered from [`VARS`] (a test keeps the README equal).
pub fn env_markdown() -> String {
    let mut out = String::from("| variable | meaning | default |\n|---|---|---|\n");
    for v in VARS {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            v.name,
            v.help.replace('|', "\\|"),
            match v.default {
                None => "—".to_owned(),
                Some(d) if d.contains(' ') => d.to_owned(),
                Some(d) => format!("`{d}`"),
            }
        ));
    }
    out
}

/// Which VirtualSMS REST API to speak (`VIRTUALSMS_API_VERSION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiVersion {
    /// v2 if the origin serves it, else v1: found out on the first call.
    #[default]
    Auto,
    V1,
    V2,
}

impl ApiVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::V1 => "v1",
            Self::V2 => "v2",
        }
    }
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
    /// Without a trailing slash: an origin (`https://virtualsms.io`) or a versioned base URL
    /// (`https://virtualsms.io/api/v1`); see [`crate::backends::Target::resolve`].
    pub base_url: String,
    pub api_version: ApiVersion,
    /// The providers behind the tools, the default one first (`VIRTUALSMS_PROVIDERS`).
    pub providers: Vec<String>,
    /// How often wait_for_sms polls when the API has no long-poll (v1).
    pub poll_interval: Duration,
    /// release_rental may use v1's pro-rated early release (its refund terms are unsettled).
    pub enable_release: bool,
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
    /// A purchase at or above this price (USD) needs a person's yes first (see
    /// [`crate::tools::confirm`]); `None`: never ask.
    pub confirm_above: Option<f64>,
    /// The tools this server offers (see [`crate::toolsets`]).
    pub tools: crate::toolsets::ToolSelection,
    /// SMSCode, when any `SMSCODE_*` variable is set.
    pub smscode: Option<SmsCodeSettings>,
    /// smsVerificationService (configured when its `api_key` is set).
    pub smsverificationservice: SmsVerificationServiceSettings,
}

/// The SMSCode provider's settings (`SMSCODE_*`): token, base URL, exchange rate, pacing.
#[derive(Debug, Clone, PartialEq)]
pub struct SmsCodeSettings {
    /// `SMSCODE_TOKEN`; `Debug` is redacted.
    pub token: Option<ApiKey>,
    /// `SMSCODE_BASE_URL`, without a trailing slash.
    pub base_url: String,
    /// `SMSCODE_IDR_PER_USD`: rupiah per US dollar, for the USD comparisons of the
    /// multi-provider layer (SMSCode prices are whole rupiah). `None`: not convertible.
    pub idr_per_usd: Option<f64>,
    /// Requests per minute this process allows itself on SMSCode: its documented 300, or
    /// `VIRTUALSMS_RATE_LIMIT` when that is set and lower (0 = no pacing).
    pub rate_limit_per_minute: u32,
}

impl SmsCodeSettings {
    /// Reads `SMSCODE_*`; `None` when none of them is set. `rate_limit` is
    /// `VIRTUALSMS_RATE_LIMIT` as set (it caps every provider).
    fn from_lookup(
        get: &impl Fn(&str) -> Option<String>,
        rate_limit: Option<u32>,
    ) -> Result<Option<Self>, ConfigError> {
        let token = get(env::SMSCODE_TOKEN).map(ApiKey::new);
        let base_url = get(env::SMSCODE_BASE_URL);
        let idr_per_usd = match parse_number::<f64>(get, env::SMSCODE_IDR_PER_USD)? {
            Some(rate) if !rate.is_finite() || rate <= 0.0 => {
                return Err(ConfigError {
                    name: env::SMSCODE_IDR_PER_USD,
                    problem: format!(
                        "expected rupiah per US dollar above 0 (e.g. 16000), got {rate}"
                    ),
                })
            }
            rate => rate,
        };
        if token.is_none() && base_url.is_none() && idr_per_usd.is_none() {
            return Ok(None);
        }
        let base_url = base_url.unwrap_or_else(|| SMSCODE_DEFAULT_BASE_URL.to_owned());
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(ConfigError {
                name: env::SMSCODE_BASE_URL,
                problem: format!("must start with http:// or https:// (got {base_url:?})"),
            });
        }
        Ok(Some(Self {
            token,
            base_url: base_url.trim_end_matches('/').to_owned(),
            idr_per_usd,
            rate_limit_per_minute: match rate_limit {
                Some(0) => 0,
                Some(rate) => rate.min(SMSCODE_RATE_LIMIT),
                None => SMSCODE_RATE_LIMIT,
            },
        }))
    }
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
        let rate_limit = parse_number::<u32>(&get, env::RATE_LIMIT)?;
        if let Some(rate) = rate_limit {
            http.rate_limit_per_minute = rate;
        }
        if let Some(secs) = parse_number::<u64>(&get, env::MAX_RETRY_WAIT_SECS)? {
            http.max_retry_wait = Duration::from_secs(secs);
        }
        let api_version = match get(env::API_VERSION)
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("auto") => ApiVersion::Auto,
            Some("v1" | "1") => ApiVersion::V1,
            Some("v2" | "2") => ApiVersion::V2,
            Some(other) => {
                return Err(ConfigError {
                    name: env::API_VERSION,
                    problem: format!("expected auto, v1 or v2, got {other:?}"),
                })
            }
        };
        let base_url = base_url.trim_end_matches('/').to_owned();
        // A base URL ending in /api/v1 while v2 is asked for is a start-up error.
        crate::backends::Target::resolve(&base_url, api_version)?;
        let guard = SpendingGuard {
            max_order_price: parse_money(&get, env::MAX_ORDER_PRICE)?,
            spend_limit: parse_money(&get, env::SPEND_LIMIT)?,
            read_only: parse_flag(&get, env::READ_ONLY)?,
        };
        Ok(Self {
            api_key: get(env::API_KEY).map(ApiKey::new),
            base_url,
            api_version,
            providers: parse_providers(&get)?,
            poll_interval: Duration::from_secs_f64(
                parse_number::<f64>(&get, env::POLL_INTERVAL_SECS)?
                    .unwrap_or(5.0)
                    .clamp(0.05, 300.0),
            ),
            enable_release: parse_flag(&get, env::ENABLE_RELEASE)?,
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
            confirm_above: parse_money(&get, env::CONFIRM_ABOVE)?,
            tools: parse_tools(&get)?,
            smscode: SmsCodeSettings::from_lookup(&get, rate_limit)?,
            smsverificationservice: SmsVerificationServiceSettings {
                api_key: get(env::SMSVERIFICATIONSERVICE_API_KEY).map(ApiKey::new),
                base_url: parse_base_url(
                    &get,
                    env::SMSVERIFICATIONSERVICE_BASE_URL,
                    SMSVERIFICATIONSERVICE_DEFAULT_BASE_URL,
                )?,
                rate_limit_per_minute: 60,
                prefer_best_temp: false,
            },
        })
    }
}

/// `VIRTUALSMS_PROVIDERS`: a comma list or `all`; by default VirtualSMS plus every provider
/// whose key is set. VirtualSMS, when listed, comes first (it is the default provider).
fn parse_providers(get: &impl Fn(&str) -> Option<String>) -> Result<Vec<String>, ConfigError> {
    use crate::providers::{DEFAULT_PROVIDER, KNOWN};
    let mut names: Vec<String> = match get(env::PROVIDERS).map(|v| v.to_ascii_lowercase()) {
        None => {
            let keyed = [
                ("smscode", env::SMSCODE_TOKEN),
                (
                    "smsverificationservice",
                    env::SMSVERIFICATIONSERVICE_API_KEY,
                ),
            ];
            std::iter::once(DEFAULT_PROVIDER.to_owned())
                .chain(
                    keyed
                        .iter()
                        .filter(|(_, var)| get(var).is_some())
                        .map(|(n, _)| (*n).to_owned()),
                )
                .collect()
        }
        Some(list) if list.trim() == "all" => KNOWN.iter().map(|n| (*n).to_owned()).collect(),
        Some(list) => {
            let mut names = Vec::new();
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                if !KNOWN.contains(&name) {
                    return Err(ConfigError {
                        name: env::PROVIDERS,
                        problem: format!(
                            "unknown provider {name:?}; known: {}, or all",
                            KNOWN.join(", ")
                        ),
                    });
                }
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_owned());
                }
            }
            names
        }
    };
    if names.is_empty() {
        return Err(ConfigError {
            name: env::PROVIDERS,
            problem: "names no provider".into(),
        });
    }
    if let Some(i) = names.iter().position(|n| n == DEFAULT_PROVIDER) {
        let first = names.remove(i);
        names.insert(0, first);
    }
    Ok(names)
}

/// An `http(s)://` URL without its trailing slash, or `default`.
fn parse_base_url(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: &str,
) -> Result<String, ConfigError> {
    let url = get(name).unwrap_or_else(|| default.to_owned());
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ConfigError {
            name,
            problem: format!("must start with http:// or https:// (got {url:?})"),
        });
    }
    Ok(url.trim_end_matches('/').to_owned())
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

fn parse_tools(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<crate::toolsets::ToolSelection, ConfigError> {
    let list = |name: &'static str| {
        get(name)
            .map(|v| crate::toolsets::parse_list(&v))
            .transpose()
            .map_err(|e| ConfigError {
                name,
                problem: e.to_string(),
            })
    };
    Ok(crate::toolsets::ToolSelection {
        include: list(env::TOOLS)?,
        exclude: list(env::EXCLUDE_TOOLS)?.unwrap_or_default(),
    })
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
        let err = config(&[(env::API_VERSION, "v3")]).unwrap_err();
        assert_eq!(err.name, env::API_VERSION);
    }

    #[test]
    fn a_base_url_that_contradicts_the_version_is_a_start_up_error() {
        let err = config(&[
            (env::BASE_URL, "https://virtualsms.io/api/v1"),
            (env::API_VERSION, "v2"),
        ])
        .unwrap_err();
        assert_eq!(err.name, env::API_VERSION);
        let c = config(&[(env::BASE_URL, "https://virtualsms.io/api/v1")]).unwrap();
        assert_eq!(c.api_version, ApiVersion::Auto, "the URL decides");
    }

    #[test]
    fn providers_default_to_virtualsms_plus_those_with_a_key() {
        assert_eq!(config(&[]).unwrap().providers, ["virtualsms"]);
        let c = config(&[(env::SMSCODE_TOKEN, "t")]).unwrap();
        assert_eq!(c.providers, ["virtualsms", "smscode"]);
        let c = config(&[(env::PROVIDERS, "smscode, virtualsms")]).unwrap();
        assert_eq!(c.providers, ["virtualsms", "smscode"], "VirtualSMS first");
        assert_eq!(
            config(&[(env::PROVIDERS, "all")]).unwrap().providers.len(),
            3
        );
        let err = config(&[(env::PROVIDERS, "virtualsms,smscod")]).unwrap_err();
        assert_eq!(err.name, env::PROVIDERS);
        assert!(err.problem.contains("smscod"), "{err}");
    }

    #[test]
    fn help_lists_every_variable_with_its_default() {
        let help = env_help();
        for v in VARS {
            assert!(help.contains(v.name), "{} missing from --help", v.name);
        }
        assert!(help.contains("[default: https://virtualsms.io]"), "{help}");
    }

    #[test]
    fn confirm_threshold_and_tool_lists_are_read_and_checked() {
        let c = config(&[
            (env::CONFIRM_ABOVE, "0"),
            (env::TOOLS, "discovery,get_balance"),
            (env::EXCLUDE_TOOLS, "country_pricing"),
        ])
        .unwrap();
        assert_eq!(c.confirm_above, Some(0.0));
        assert!(c.tools.keeps("get_balance") && !c.tools.keeps("country_pricing"));
        assert!(config(&[]).unwrap().confirm_above.is_none());
        let err = config(&[(env::EXCLUDE_TOOLS, "walet")]).unwrap_err();
        assert_eq!(err.name, env::EXCLUDE_TOOLS);
        assert!(err.problem.contains("wallet"), "{}", err.problem);
    }

    #[test]
    fn smscode_settings_are_read_only_when_set_and_checked() {
        assert!(config(&[]).unwrap().smscode.is_none());
        let c = config(&[
            (env::SMSCODE_TOKEN, "smc_SECRET"),
            (env::SMSCODE_IDR_PER_USD, "16000"),
            (env::RATE_LIMIT, "1000"),
        ])
        .unwrap();
        let s = c.smscode.expect("settings");
        assert_eq!(s.token.as_ref().map(ApiKey::expose), Some("smc_SECRET"));
        assert_eq!(s.base_url, SMSCODE_DEFAULT_BASE_URL);
        assert_eq!(s.idr_per_usd, Some(16000.0));
        assert_eq!(
            s.rate_limit_per_minute, SMSCODE_RATE_LIMIT,
            "capped at 300/min"
        );
        assert!(!format!("{s:?}").contains("SECRET"));
        let s = config(&[(env::SMSCODE_BASE_URL, "http://127.0.0.1:9/smscode/v1/")])
            .unwrap()
            .smscode
            .unwrap();
        assert!(s.token.is_none() && s.idr_per_usd.is_none());
        assert_eq!(s.base_url, "http://127.0.0.1:9/smscode/v1");
        for (name, value) in [
            (env::SMSCODE_IDR_PER_USD, "0"),
            (env::SMSCODE_IDR_PER_USD, "lots"),
            (env::SMSCODE_BASE_URL, "api.smscode.gg"),
        ] {
            assert_eq!(config(&[(name, value)]).unwrap_err().name, name);
        }
    }

    #[test]
    fn smsverificationservice_settings_are_read() {
        let c = config(&[]).unwrap();
        assert!(c.smsverificationservice.api_key.is_none());
        assert_eq!(
            c.smsverificationservice.base_url,
            SMSVERIFICATIONSERVICE_DEFAULT_BASE_URL
        );
        let c = config(&[
            (env::SMSVERIFICATIONSERVICE_API_KEY, "svs_SECRET"),
            (
                env::SMSVERIFICATIONSERVICE_BASE_URL,
                "http://127.0.0.1:9/x/api/v1/",
            ),
        ])
        .unwrap();
        let s = &c.smsverificationservice;
        assert_eq!(s.api_key.as_ref().unwrap().expose(), "svs_SECRET");
        assert_eq!(s.base_url, "http://127.0.0.1:9/x/api/v1");
        assert!(!format!("{c:?}").contains("svs_SECRET"));
        let err = config(&[(env::SMSVERIFICATIONSERVICE_BASE_URL, "ftp://x")]).unwrap_err();
        assert_eq!(err.name, env::SMSVERIFICATIONSERVICE_BASE_URL);
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
