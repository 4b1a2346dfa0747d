//! One HTTP send for every backend and for x402: the shared client setup (TLS, `User-Agent`,
//! timeouts), bounded body reads, key redaction, the error chain, pacing under the rate limit,
//! and the retry rules each request opts into.
//!
//! A [`Transport`] knows where it sends (a base URL), how the key travels ([`AuthStyle`]) and how
//! its API words errors (a [`Classify`] function supplied by the backend: only the backend knows
//! what a 503 or a 425 means there). It never knows a path or a JSON shape.
//!
//! Retry rules ([`Retry`]):
//! - [`Retry::Reads`] (GETs): connect errors, timeouts, and answers classified
//!   [`ErrorKind::Transient`] are retried with backoff and jitter;
//! - [`Retry::Deduplicated`]: a POST carrying an idempotency key the API honours, retried with
//!   that same key (so it takes effect at most once);
//! - [`Retry::Never`]: a POST the API does not deduplicate (a purchase on VirtualSMS v1): only a
//!   connection that never opened is tried again; anything else is reported, never repeated.
//!
//! Under every rule a 429 waits `Retry-After` (capped) and tries again, since the request was
//! refused unprocessed; other errors are never retried.

pub mod retry;

use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::backends::{ApiError, ErrorKind, TransportFailure};
use crate::config::{ApiKey, HttpSettings};
use retry::{backoff, parse_retry_after, Pacer};

/// How much of a non-JSON error body goes into an error message.
const EXCERPT_CHARS: usize = 200;
/// How much of a transport error's text goes into an error message.
const DESCRIBE_CHARS: usize = 300;
/// How much of an error's title or detail goes into an error message.
const FIELD_CHARS: usize = 1000;

/// The API key in use, shared by a backend's transport and the x402 funder (a top-up may issue a
/// key to a process that had none). `Debug` never shows it.
#[derive(Clone, Default)]
pub struct KeySlot(Arc<RwLock<Option<ApiKey>>>);

impl KeySlot {
    pub fn new(key: Option<ApiKey>) -> Self {
        Self(Arc::new(RwLock::new(key)))
    }

    pub fn get(&self) -> Option<ApiKey> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set(&self, key: ApiKey) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some(key);
    }

    pub fn is_set(&self) -> bool {
        self.get().is_some()
    }

    /// Removes the key from text that came off the wire.
    pub fn redact(&self, text: &str) -> String {
        match self.get() {
            Some(key) if !key.expose().is_empty() => text.replace(key.expose(), "[redacted]"),
            _ => text.to_owned(),
        }
    }
}

impl std::fmt::Debug for KeySlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySlot(<redacted>)")
    }
}

/// How the API key travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthStyle {
    /// `Authorization: Bearer <key>` (VirtualSMS v2).
    Bearer,
    /// The key as the whole value of this header (`X-API-Key` on VirtualSMS v1).
    Header(&'static str),
}

/// Whether an endpoint needs the API key. Public endpoints still get the key when there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Required,
    Optional,
}

/// What may be repeated when an attempt fails (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    Reads,
    /// Retried with the same value in this idempotency header on every attempt.
    Deduplicated(&'static str),
    Never,
}

/// One request, described without any HTTP library type leaking to the backends.
pub struct Request<'a> {
    method: Method,
    segments: &'a [&'a str],
    query: Vec<(&'static str, String)>,
    body: Option<serde_json::Value>,
    auth: Auth,
    /// Overrides the request timeout (long-polls get this plus a margin).
    timeout: Option<Duration>,
    retry: Retry,
}

impl<'a> Request<'a> {
    pub fn get(segments: &'a [&'a str]) -> Self {
        Self {
            method: Method::GET,
            segments,
            query: Vec::new(),
            body: None,
            auth: Auth::Required,
            timeout: None,
            retry: Retry::Reads,
        }
    }

    /// A POST that is never repeated unless told otherwise ([`Self::retry`]).
    pub fn post(segments: &'a [&'a str]) -> Self {
        Self {
            method: Method::POST,
            retry: Retry::Never,
            ..Self::get(segments)
        }
    }

    pub fn public(mut self) -> Self {
        self.auth = Auth::Optional;
        self
    }

    pub fn query(mut self, name: &'static str, value: Option<impl ToString>) -> Self {
        if let Some(v) = value {
            self.query.push((name, v.to_string()));
        }
        self
    }

    pub fn json(mut self, body: &impl Serialize) -> Self {
        // Serializing our own request structs cannot fail; an empty object is a safe fallback.
        self.body = Some(serde_json::to_value(body).unwrap_or_default());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }
}

/// An HTTP answer, body read in full (within the bound).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// Attempts made, retries included.
    pub attempts: u32,
}

impl Answer {
    /// `Retry-After` as a duration, when present and readable.
    pub fn retry_after(&self) -> Option<Duration> {
        self.headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()))
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// Turns a non-2xx answer into the backend's error (with its [`ErrorKind`]).
pub type Classify = fn(&Transport, &Answer) -> ApiError;

/// A cheap-to-clone handle: one base URL, one key, one pacer.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

struct Inner {
    /// Built on first use: loading TLS roots takes milliseconds that `initialize` (and a
    /// client's start-up timeout) should not wait for.
    http: OnceLock<Result<reqwest::Client, String>>,
    base: Url,
    key: KeySlot,
    auth: AuthStyle,
    classify: Classify,
    settings: HttpSettings,
    pacer: Pacer,
}

/// What one attempt produced, before deciding whether to retry.
enum Attempt {
    Answer(Answer),
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

impl Transport {
    pub fn new(
        base_url: &str,
        key: KeySlot,
        auth: AuthStyle,
        classify: Classify,
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
                http: OnceLock::new(),
                base,
                key,
                auth,
                classify,
                pacer: Pacer::new(settings.rate_limit_per_minute),
                settings,
            }),
        })
    }

    pub fn key(&self) -> &KeySlot {
        &self.inner.key
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.inner.settings
    }

    /// The base URL, e.g. `https://virtualsms.io/api/v1`.
    pub fn base(&self) -> &Url {
        &self.inner.base
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

    fn url(&self, request: &Request<'_>) -> Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            // Each segment is percent-encoded: an order id like "../me" stays one segment.
            path.extend(request.segments);
        }
        if !request.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(request.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    /// Sends `request` and decodes a 2xx JSON body into `T`.
    pub async fn send<T: DeserializeOwned>(&self, request: Request<'_>) -> Result<T, ApiError> {
        let answer = self.exchange(request).await?;
        self.decode(&answer)
    }

    /// Decodes a 2xx answer's JSON body into `T`.
    pub fn decode<T: DeserializeOwned>(&self, answer: &Answer) -> Result<T, ApiError> {
        serde_json::from_slice(&answer.body).map_err(|e| ApiError::Decode {
            status: answer.status.as_u16(),
            detail: self.redact(&e.to_string()),
            excerpt: self.excerpt(&answer.body),
        })
    }

    /// Sends `request` under its retry rule and returns the 2xx answer, or the classified error.
    pub async fn exchange(&self, request: Request<'_>) -> Result<Answer, ApiError> {
        let key = self.inner.key.get();
        if request.auth == Auth::Required && key.is_none() {
            return Err(ApiError::MissingApiKey);
        }
        // A client that cannot be built is a setup problem: reported once, nothing was sent.
        self.http()?;
        let url = self.url(&request);
        // One key for every attempt of this request: that is what makes a retry safe.
        let idempotency = match request.retry {
            Retry::Deduplicated(header) => Some((header, uuid::Uuid::new_v4().to_string())),
            _ => None,
        };
        let settings = &self.inner.settings;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let retries_left = attempts <= settings.max_retries;
            self.inner.pacer.acquire().await;
            let attempt = self
                .attempt(&request, &url, key.as_ref(), idempotency.as_ref())
                .await;
            let mut answer = match attempt {
                Attempt::Answer(answer) => answer,
                Attempt::Unsendable(detail) => return Err(ApiError::Unsendable(detail)),
                Attempt::Untrusted(detail) => {
                    return Err(ApiError::Transport {
                        failure: TransportFailure::Connect,
                        detail,
                        attempts,
                        outcome_unknown: false,
                        deduplicated: idempotency.is_some(),
                    })
                }
                Attempt::TooLarge => {
                    return Err(ApiError::BodyTooLarge {
                        limit: settings.max_body_bytes,
                    })
                }
                Attempt::Failed { failure, detail } => {
                    tracing::warn!(method = %request.method, path = url.path(), attempts, ?failure, %detail, "request failed");
                    let may_repeat =
                        request.retry != Retry::Never || failure == TransportFailure::Connect;
                    if retries_left && may_repeat {
                        tokio::time::sleep(backoff(settings.backoff_base, attempts)).await;
                        continue;
                    }
                    let changes = request.method != Method::GET;
                    return Err(ApiError::Transport {
                        failure,
                        detail,
                        attempts,
                        outcome_unknown: changes && failure != TransportFailure::Connect,
                        deduplicated: idempotency.is_some(),
                    });
                }
            };
            answer.attempts = attempts;
            tracing::debug!(method = %request.method, path = url.path(), status = answer.status.as_u16(), attempts, "response");
            if answer.status.is_success() {
                return Ok(answer);
            }
            let err = (self.inner.classify)(self, &answer);
            let wait = match err.kind() {
                ErrorKind::RateLimited => {
                    let wait = err.retry_after().unwrap_or(Duration::from_secs(1));
                    if wait > settings.max_retry_wait {
                        tracing::warn!(
                            wait_s = wait.as_secs(),
                            "Retry-After is longer than this server waits on its own"
                        );
                        return Err(err);
                    }
                    wait
                }
                ErrorKind::Transient if request.retry != Retry::Never => {
                    backoff(settings.backoff_base, attempts)
                }
                _ => return Err(err),
            };
            if !retries_left {
                return Err(err);
            }
            tracing::info!(
                status = answer.status.as_u16(),
                wait_ms = wait.as_millis() as u64,
                attempts,
                "retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        request: &Request<'_>,
        url: &Url,
        key: Option<&ApiKey>,
        idempotency: Option<&(&'static str, String)>,
    ) -> Attempt {
        let timeout = request
            .timeout
            .map(|t| t + self.inner.settings.long_poll_margin)
            .unwrap_or(self.inner.settings.request_timeout);
        let http = match self.http() {
            Ok(http) => http,
            Err(e) => return Attempt::Unsendable(e.to_string()),
        };
        let mut builder = http
            .request(request.method.clone(), url.clone())
            .timeout(timeout)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(key) = key {
            match self.auth_header(key) {
                Some((name, value)) => builder = builder.header(name, value),
                None => {
                    return Attempt::Unsendable(
                        "the API key contains characters that cannot go in an HTTP header".into(),
                    )
                }
            }
        }
        if let Some((header, value)) = idempotency {
            builder = builder.header(*header, value.as_str());
        }
        if request.method != Method::GET {
            builder = builder.json(request.body.as_ref().unwrap_or(&serde_json::json!({})));
        }
        let response = match builder.send().await {
            Ok(r) => r,
            // Nothing went out, so nothing can have been charged, and a retry cannot help.
            Err(e) if e.is_builder() => return Attempt::Unsendable(self.describe(&e)),
            Err(e) => {
                let detail = self.describe(&e);
                // A refused server certificate is not a network fault: not retried.
                return match crate::tls::untrusted_certificate_hint(&e) {
                    Some(hint) => Attempt::Untrusted(format!("{detail}{hint}")),
                    None => Attempt::Failed {
                        failure: classify_failure(&e),
                        detail,
                    },
                };
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        match read_bounded(response, self.inner.settings.max_body_bytes).await {
            Ok(body) => Attempt::Answer(Answer {
                status,
                headers,
                body,
                attempts: 0,
            }),
            Err(BodyError::TooLarge) => Attempt::TooLarge,
            Err(BodyError::Read(e)) => Attempt::Failed {
                failure: if e.is_timeout() {
                    TransportFailure::Timeout
                } else {
                    TransportFailure::Interrupted
                },
                detail: self.describe(&e),
            },
        }
    }

    fn auth_header(&self, key: &ApiKey) -> Option<(HeaderName, HeaderValue)> {
        let (name, text) = match self.inner.auth {
            AuthStyle::Bearer => (AUTHORIZATION, format!("Bearer {}", key.expose())),
            AuthStyle::Header(name) => (HeaderName::from_static(name), key.expose().to_owned()),
        };
        let mut value = HeaderValue::from_str(&text).ok()?;
        value.set_sensitive(true);
        Some((name, value))
    }

    /// A single-line, bounded, key-free excerpt of a body.
    pub fn excerpt(&self, body: &[u8]) -> String {
        let text = String::from_utf8_lossy(body);
        // Redact before cutting: a key cut in half at the boundary would escape the redaction.
        let flat = self.redact(&text.split_whitespace().collect::<Vec<_>>().join(" "));
        cut(&flat, EXCERPT_CHARS)
    }

    /// A transport error as text, with the key removed should any layer have echoed it.
    fn describe(&self, e: &reqwest::Error) -> String {
        // Bounded: some errors quote the whole URL, which an argument can make huge.
        cut(&self.redact(&error_chain(e)), DESCRIBE_CHARS)
    }

    /// Redacted, then cut to [`FIELD_CHARS`]: an error field is shown whole, but a misbehaving
    /// server must not flood the model's context.
    pub fn bounded(&self, text: &str) -> String {
        cut(&self.redact(text), FIELD_CHARS)
    }

    /// Removes the API key from text that came off the wire.
    pub fn redact(&self, text: &str) -> String {
        self.inner.key.redact(text)
    }
}

/// `text` cut to `max` characters, with `…` when it was longer.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// An error and its sources, joined with `: `.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Why a body was not read.
#[derive(Debug)]
pub enum BodyError {
    /// Larger than the bound: not read to the end.
    TooLarge,
    Read(reqwest::Error),
}

/// Reads a response body, refusing one larger than `limit` bytes without reading it all.
pub async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The HTTP client setup every call shares (REST backends, x402): TLS via ring with the
/// process's trust roots ([`crate::tls`]), our User-Agent, the connect timeout. Callers add their
/// own rules (the x402 client refuses redirects). Fails when no trust root is usable.
pub fn http_client_builder(
    settings: &HttpSettings,
) -> Result<reqwest::ClientBuilder, crate::tls::TlsSetupError> {
    crate::tls::with_trust_roots(
        reqwest::Client::builder()
            .user_agent(concat!("virtualsms-mcp/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(settings.connect_timeout),
    )
}

fn classify_failure(e: &reqwest::Error) -> TransportFailure {
    if e.is_timeout() {
        TransportFailure::Timeout
    } else if e.is_connect() {
        TransportFailure::Connect
    } else {
        TransportFailure::Interrupted
    }
}
