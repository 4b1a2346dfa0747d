//! The VirtualSMS REST v2 client: the only code that knows URLs, headers and status codes.
//!
//! One method per endpoint lives in the group modules ([`catalog`], [`account`], [`orders`]);
//! this module owns what every call shares: bearer auth, the `User-Agent`, timeouts, bounded
//! body reads, RFC 7807 decoding, pacing under the rate limit, and the retry rules:
//! - GETs retry connect errors, timeouts and 5xx (not `no-stock`) with backoff and jitter;
//! - every POST carries an `Idempotency-Key` **(assumed API feature)**, and is retried only with
//!   that same key, so a retry can never charge twice;
//! - 429 waits `Retry-After` (capped) and retries; other 4xx are never retried.

pub mod account;
pub mod catalog;
mod error;
pub mod model;
pub mod orders;
pub mod retry;

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use error::{ApiError, Problem, TransportFailure};

use crate::config::{ApiKey, HttpSettings};
use retry::{backoff, parse_retry_after, Pacer};

/// Header carrying the idempotency key of a POST **(assumed)**.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The problem type that means "nothing to buy": retrying it cannot help.
const NO_STOCK: &str = "no-stock";
/// How much of a non-JSON error body goes into an error message.
const EXCERPT_CHARS: usize = 200;
/// How much of a transport error's text goes into an error message.
const DESCRIBE_CHARS: usize = 300;
/// How much of a problem's title or detail goes into an error message.
const PROBLEM_FIELD_CHARS: usize = 1000;

/// Whether an endpoint needs the API key. Discovery endpoints answer without one, but still
/// get the key when there is one (it may unlock account-specific prices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    Required,
    Optional,
}

/// One call, described without any HTTP library type leaking to the endpoint modules.
pub(crate) struct Call<'a> {
    method: Method,
    segments: &'a [&'a str],
    query: Vec<(&'static str, String)>,
    body: Option<serde_json::Value>,
    auth: Auth,
    /// Overrides the request timeout (long-polls).
    timeout: Option<Duration>,
}

impl<'a> Call<'a> {
    pub(crate) fn get(segments: &'a [&'a str]) -> Self {
        Self {
            method: Method::GET,
            segments,
            query: Vec::new(),
            body: None,
            auth: Auth::Required,
            timeout: None,
        }
    }
    pub(crate) fn post(segments: &'a [&'a str]) -> Self {
        Self {
            method: Method::POST,
            ..Self::get(segments)
        }
    }
    pub(crate) fn public(mut self) -> Self {
        self.auth = Auth::Optional;
        self
    }
    pub(crate) fn query(mut self, name: &'static str, value: Option<impl ToString>) -> Self {
        if let Some(v) = value {
            self.query.push((name, v.to_string()));
        }
        self
    }
    pub(crate) fn json(mut self, body: &impl Serialize) -> Self {
        // Serializing our own request structs cannot fail; an empty object is a safe fallback.
        self.body = Some(serde_json::to_value(body).unwrap_or_default());
        self
    }
    pub(crate) fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// A cheap-to-clone handle to the REST API.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    /// Built on first use: loading the system's TLS roots takes milliseconds that `initialize`
    /// (and a client's start-up timeout) should not wait for.
    http: std::sync::OnceLock<Result<reqwest::Client, String>>,
    base: Url,
    /// Swappable at run time: an x402 top-up may issue a key to a process that had none.
    key: RwLock<Option<ApiKey>>,
    settings: HttpSettings,
    pacer: Pacer,
}

/// What one attempt produced, before deciding whether to retry.
enum Attempt {
    Answer {
        status: StatusCode,
        headers: HeaderMap,
        body: Vec<u8>,
    },
    Failed {
        failure: TransportFailure,
        detail: String,
    },
    /// The body exceeded `max_body_bytes`; it was not read to the end.
    TooLarge,
    /// The request could not even be built (e.g. a URL too long for HTTP): nothing was sent.
    Unsendable(String),
    /// The server's TLS certificate was refused: nothing was sent, and a retry cannot help.
    Untrusted(String),
}

impl Client {
    pub fn new(
        base_url: &str,
        key: Option<ApiKey>,
        settings: HttpSettings,
    ) -> Result<Self, ApiError> {
        let mut base = Url::parse(base_url)
            .map_err(|e| ApiError::Setup(format!("base URL {base_url:?}: {e}")))?;
        if base.cannot_be_a_base() {
            return Err(ApiError::Setup(format!(
                "base URL {base_url:?} cannot take a path"
            )));
        }
        // So that joining segments appends to `/api/v2` instead of replacing `v2`.
        if let Ok(mut segments) = base.path_segments_mut() {
            segments.pop_if_empty();
        }
        Ok(Self {
            inner: Arc::new(Inner {
                http: std::sync::OnceLock::new(),
                base,
                key: RwLock::new(key),
                pacer: Pacer::new(settings.rate_limit_per_minute),
                settings,
            }),
        })
    }

    pub fn has_key(&self) -> bool {
        self.key().is_some()
    }

    /// Replaces the API key (after an x402 top-up issued one).
    pub fn set_key(&self, key: ApiKey) {
        *self.inner.key.write().unwrap_or_else(|p| p.into_inner()) = Some(key);
    }

    /// The API key in use now (an x402 top-up sends it as `x-api-key`).
    pub fn current_key(&self) -> Option<ApiKey> {
        self.key()
    }

    fn http(&self) -> Result<&reqwest::Client, ApiError> {
        self.inner
            .http
            .get_or_init(|| {
                http_client_builder(&self.inner.settings)
                    .map_err(|e| e.to_string())?
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| ApiError::Setup(e.clone()))
    }

    fn key(&self) -> Option<ApiKey> {
        self.inner
            .key
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.inner.settings
    }

    fn url(&self, call: &Call<'_>) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            // Each segment is percent-encoded: an order id like "../me" stays one segment.
            path.extend(call.segments);
        }
        if !call.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(call.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    /// Sends `call` with the retry rules above and decodes a 2xx JSON body into `T`.
    pub(crate) async fn send<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, ApiError> {
        let key = self.key();
        if call.auth == Auth::Required && key.is_none() {
            return Err(ApiError::MissingApiKey);
        }
        // A client that cannot be built (no usable trust roots) is a setup error, reported
        // once: nothing was sent, so there is nothing to retry.
        self.http()?;
        let url = self.url(&call);
        let is_post = call.method == Method::POST;
        // One key for every attempt of this call: that is what makes a POST retry safe.
        let idempotency_key = is_post.then(|| uuid::Uuid::new_v4().to_string());
        let settings = &self.inner.settings;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let retries_left = attempts <= settings.max_retries;
            self.inner.pacer.acquire().await;
            let attempt = self
                .attempt(&call, &url, key.as_ref(), idempotency_key.as_deref())
                .await;
            let (status, headers, body) = match attempt {
                Attempt::Answer {
                    status,
                    headers,
                    body,
                } => (status, headers, body),
                Attempt::Unsendable(detail) => return Err(ApiError::Unsendable(detail)),
                Attempt::Untrusted(detail) => {
                    return Err(ApiError::Transport {
                        failure: TransportFailure::Connect,
                        detail,
                        attempts,
                        outcome_unknown: false,
                    })
                }
                Attempt::TooLarge => {
                    return Err(ApiError::BodyTooLarge {
                        limit: settings.max_body_bytes,
                    })
                }
                Attempt::Failed { failure, detail } => {
                    tracing::warn!(method = %call.method, path = url.path(), attempts, ?failure, %detail, "request failed");
                    if retries_left {
                        tokio::time::sleep(backoff(settings.backoff_base, attempts)).await;
                        continue;
                    }
                    return Err(ApiError::Transport {
                        failure,
                        detail,
                        attempts,
                        outcome_unknown: is_post && failure != TransportFailure::Connect,
                    });
                }
            };
            tracing::debug!(method = %call.method, path = url.path(), status = status.as_u16(), attempts, "response");
            if status.is_success() {
                return serde_json::from_slice(&body).map_err(|e| ApiError::Decode {
                    status: status.as_u16(),
                    detail: self.redact(&e.to_string()),
                    excerpt: self.excerpt(&body),
                });
            }
            let err = self.status_error(status, &headers, &body, attempts);
            let wait = match &err {
                ApiError::Status { retry_after, .. } if status == StatusCode::TOO_MANY_REQUESTS => {
                    let wait = retry_after.unwrap_or(Duration::from_secs(1));
                    if wait > settings.max_retry_wait {
                        tracing::warn!(
                            wait_s = wait.as_secs(),
                            "Retry-After is longer than this server waits on its own"
                        );
                        return Err(err);
                    }
                    wait
                }
                _ if status.is_server_error() && err.slug() != Some(NO_STOCK) => {
                    backoff(settings.backoff_base, attempts)
                }
                _ => return Err(err),
            };
            if !retries_left {
                return Err(err);
            }
            tracing::info!(
                status = status.as_u16(),
                wait_ms = wait.as_millis() as u64,
                attempts,
                "retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        call: &Call<'_>,
        url: &Url,
        key: Option<&ApiKey>,
        idempotency_key: Option<&str>,
    ) -> Attempt {
        let timeout = call
            .timeout
            .map(|t| t + self.inner.settings.long_poll_margin)
            .unwrap_or(self.inner.settings.request_timeout);
        let http = match self.http() {
            Ok(http) => http,
            Err(e) => {
                return Attempt::Failed {
                    failure: TransportFailure::Connect,
                    detail: self.redact(&e.to_string()),
                }
            }
        };
        let mut request = http
            .request(call.method.clone(), url.clone())
            .timeout(timeout);
        if let Some(key) = key {
            match HeaderValue::from_str(&format!("Bearer {}", key.expose())) {
                Ok(mut value) => {
                    value.set_sensitive(true);
                    request = request.header(AUTHORIZATION, value);
                }
                Err(_) => {
                    return Attempt::Failed {
                        failure: TransportFailure::Connect,
                        detail: "the API key contains characters that cannot go in an HTTP header"
                            .into(),
                    }
                }
            }
        }
        if let Some(idem) = idempotency_key {
            request = request.header(IDEMPOTENCY_KEY, idem);
        }
        if call.method == Method::POST {
            request = request.json(call.body.as_ref().unwrap_or(&serde_json::json!({})));
        }
        let mut response = match request.send().await {
            Ok(r) => r,
            // Nothing went out, so nothing can have been charged, and a retry cannot help.
            Err(e) if e.is_builder() => return Attempt::Unsendable(self.describe(&e)),
            Err(e) => {
                let detail = self.describe(&e);
                // A refused server certificate is not a network fault: not retried.
                return match crate::tls::untrusted_certificate_hint(&e) {
                    Some(hint) => Attempt::Untrusted(format!("{detail}{hint}")),
                    None => Attempt::Failed {
                        failure: classify(&e),
                        detail,
                    },
                };
            }
        };
        let status = response.status();
        let headers = std::mem::take(response.headers_mut());
        let limit = self.inner.settings.max_body_bytes;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Attempt::TooLarge;
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        return Attempt::TooLarge;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Attempt::Failed {
                        failure: if e.is_timeout() {
                            TransportFailure::Timeout
                        } else {
                            TransportFailure::Interrupted
                        },
                        detail: self.describe(&e),
                    }
                }
            }
        }
        Attempt::Answer {
            status,
            headers,
            body,
        }
    }

    fn status_error(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        attempts: u32,
    ) -> ApiError {
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let problem = serde_json::from_slice::<Problem>(body)
            .ok()
            .filter(|p| p.type_uri.is_some() || p.title.is_some() || p.detail.is_some())
            .map(|p| {
                Box::new(Problem {
                    type_uri: p.type_uri.map(|s| self.bounded(&s)),
                    title: p.title.map(|s| self.bounded(&s)),
                    detail: p.detail.map(|s| self.bounded(&s)),
                    instance: p.instance.map(|s| self.bounded(&s)),
                })
            });
        let excerpt = problem.is_none().then(|| {
            let is_html = headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| ct.contains("html"));
            let text = self.excerpt(body);
            if is_html {
                format!("(HTML page) {text}")
            } else {
                text
            }
        });
        ApiError::Status {
            status: status.as_u16(),
            problem,
            excerpt,
            retry_after,
            attempts,
        }
    }

    /// A single-line, bounded, key-free excerpt of a body.
    fn excerpt(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        // Redact before cutting: a key cut in half at the boundary would escape the redaction.
        let flat = self.redact(&text.split_whitespace().collect::<Vec<_>>().join(" "));
        let mut out: String = flat.chars().take(EXCERPT_CHARS).collect();
        if flat.chars().count() > EXCERPT_CHARS {
            out.push('…');
        }
        out
    }

    /// A transport error as text, with the key removed should any layer have echoed it.
    fn describe(&self, e: &reqwest::Error) -> String {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        // Bounded: some errors quote the whole URL, which an argument can make huge.
        let text = self.redact(&text);
        match text.char_indices().nth(DESCRIBE_CHARS) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text,
        }
    }

    /// Redacted, then cut to [`PROBLEM_FIELD_CHARS`]: a problem field is shown whole, but a
    /// misbehaving server must not flood the model's context.
    fn bounded(&self, text: &str) -> String {
        let text = self.redact(text);
        match text.char_indices().nth(PROBLEM_FIELD_CHARS) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text,
        }
    }

    /// Removes the API key from text that came off the wire.
    fn redact(&self, text: &str) -> String {
        match self.key() {
            Some(key) if !key.expose().is_empty() => text.replace(key.expose(), "[redacted]"),
            _ => text.to_owned(),
        }
    }
}

/// The HTTP client setup every VirtualSMS call shares: TLS via ring with the process's trust
/// roots ([`crate::tls`]), our User-Agent, the connect timeout. Callers add their own rules (the
/// x402 client refuses redirects). Fails when no trust root is usable.
pub(crate) fn http_client_builder(
    settings: &HttpSettings,
) -> Result<reqwest::ClientBuilder, crate::tls::TlsSetupError> {
    crate::tls::with_trust_roots(
        reqwest::Client::builder()
            .user_agent(concat!("virtualsms-mcp/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(settings.connect_timeout),
    )
}

fn classify(e: &reqwest::Error) -> TransportFailure {
    if e.is_timeout() {
        TransportFailure::Timeout
    } else if e.is_connect() {
        TransportFailure::Connect
    } else {
        TransportFailure::Interrupted
    }
}
