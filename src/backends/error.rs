//! [`ApiError`]: every way a backend call can fail, keeping what a human or a model needs to act
//! on it (HTTP status, the provider's problem type and detail, `Retry-After`, a body excerpt),
//! and [`ErrorKind`]: what it means, classified by the backend that understands the HTTP, so the
//! tools word their advice from the kind and never from status codes or a provider's slugs.
//!
//! Nothing in here ever holds the API key: the transport redacts it from any text it copies from
//! the wire before an error is built.

use std::time::Duration;

use serde::Deserialize;

/// What an error answer said: an RFC 7807 problem document (VirtualSMS v2), or for APIs without
/// one the message of their error body in `detail`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Problem {
    /// e.g. `https://virtualsms.io/errors/insufficient-balance`
    #[serde(rename = "type", default)]
    pub type_uri: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub instance: Option<String>,
}

impl Problem {
    /// The last path segment of `type`: `insufficient-balance`, `no-stock`, ...
    pub fn slug(&self) -> Option<&str> {
        let uri = self.type_uri.as_deref()?.trim_end_matches('/');
        let slug = uri.rsplit('/').next().unwrap_or(uri);
        (!slug.is_empty() && slug != "about:blank").then_some(slug)
    }
}

/// What went wrong on the way to or from the server (no answer, or no usable answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFailure {
    /// Could not connect: the request never reached the server.
    Connect,
    /// No complete answer within the timeout.
    Timeout,
    /// The connection broke after the request may have been sent.
    Interrupted,
}

/// What a failure means for the caller, whatever the provider. Each backend classifies its own
/// answers into these; the tools turn each into advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No API key is configured.
    MissingKey,
    /// The key was rejected.
    Unauthorized,
    /// The balance is too low for this purchase.
    InsufficientBalance,
    ServiceNotFound,
    CountryNotFound,
    OrderNotFound,
    /// Nothing to buy there now.
    NoStock,
    /// The action is not possible yet (a cooldown); `retry_after` says how long.
    TooEarly,
    RateLimited,
    /// The order is already confirmed (final).
    AlreadyConfirmed,
    /// An SMS already arrived, so the action no longer applies.
    AlreadyReceived,
    /// Confirming before any SMS arrived.
    NoSmsYet,
    /// The order's state does not allow the action (cancelled, completed, outside a window).
    Conflict,
    Expired,
    /// The arguments are wrong.
    Invalid,
    /// This provider does not offer the action.
    NotSupported,
    /// A request that may have changed something got no usable answer.
    OutcomeUnknown,
    /// A server-side or network problem that may pass.
    Transient,
    /// Nothing could be sent (no connection).
    Unreachable,
    /// An answer that is not what the API should send (not the expected JSON, too large).
    BadAnswer,
    /// This server is misconfigured.
    Setup,
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// This call needs an API key and none is configured.
    #[error("no VirtualSMS API key is configured")]
    MissingApiKey,

    /// The server answered with an error status.
    #[error("HTTP {status}{}", problem_suffix(.problem.as_deref(), .excerpt.as_deref()))]
    Status {
        status: u16,
        /// What it means, as the backend classified it.
        kind: ErrorKind,
        /// Parsed when the body was problem JSON (boxed: keeps `Result<_, ApiError>` small).
        problem: Option<Box<Problem>>,
        /// A short, single-line excerpt of a body that was not problem JSON (HTML, text, empty).
        excerpt: Option<String>,
        /// From `Retry-After` (429/503), already capped at zero from below.
        retry_after: Option<Duration>,
        /// How many attempts were made, retries included.
        attempts: u32,
    },

    /// No usable answer arrived.
    #[error("{} after {attempts} attempt(s): {detail}", transport_phrase(*.failure))]
    Transport {
        failure: TransportFailure,
        detail: String,
        attempts: u32,
        /// True for a POST whose outcome is unknown: it may have been processed (and charged).
        outcome_unknown: bool,
        /// True when every attempt carried the same idempotency key that the API honours, so it
        /// took effect at most once; false when it was sent once and never repeated.
        deduplicated: bool,
    },

    /// The backend concluded without (another) request: a cooldown not yet over, an action the
    /// provider does not offer, a name that resolves to no service, a reconciled purchase.
    #[error("{message}")]
    Rule { kind: ErrorKind, message: String },

    /// A 2xx answer whose body was not the JSON this call expects.
    #[error("HTTP {status} with a body that is not the expected JSON ({detail}); body starts: {excerpt:?}")]
    Decode {
        status: u16,
        detail: String,
        excerpt: String,
    },

    /// The body was larger than the configured bound.
    #[error("the response body exceeded {limit} bytes and was not read")]
    BodyTooLarge { limit: usize },

    /// The request could not be built, so it was never sent (e.g. a URL too long for HTTP).
    #[error("the request could not be sent as built (nothing was sent): {0}")]
    Unsendable(String),

    /// The HTTP client could not be built (bad TLS setup, bad base URL).
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
}

impl ApiError {
    /// A refusal or conclusion of the backend's own, without an HTTP answer to quote.
    pub fn rule(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self::Rule {
            kind,
            message: message.into(),
        }
    }

    /// What the failure means, whatever the provider.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::MissingApiKey => ErrorKind::MissingKey,
            Self::Status { kind, .. } | Self::Rule { kind, .. } => *kind,
            Self::Transport {
                outcome_unknown: true,
                ..
            } => ErrorKind::OutcomeUnknown,
            Self::Transport {
                failure: TransportFailure::Connect,
                ..
            } => ErrorKind::Unreachable,
            Self::Transport { .. } => ErrorKind::Transient,
            Self::Decode { .. } | Self::BodyTooLarge { .. } => ErrorKind::BadAnswer,
            Self::Unsendable(_) => ErrorKind::Invalid,
            Self::Setup(_) => ErrorKind::Setup,
        }
    }

    /// `Retry-After` (or a cooldown's seconds left), when the answer said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } | Self::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The problem type slug, when the server sent one.
    pub fn slug(&self) -> Option<&str> {
        match self {
            Self::Status {
                problem: Some(p), ..
            } => p.slug(),
            _ => None,
        }
    }

    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Status { problem, .. } => problem.as_deref(),
            _ => None,
        }
    }
}

fn problem_suffix(problem: Option<&Problem>, excerpt: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(p) = problem {
        if let Some(slug) = p.slug() {
            out.push_str(&format!(" {slug}"));
        }
        match (&p.title, &p.detail) {
            (Some(t), Some(d)) => out.push_str(&format!(" — {t}: {d}")),
            (Some(t), None) => out.push_str(&format!(" — {t}")),
            (None, Some(d)) => out.push_str(&format!(" — {d}")),
            (None, None) => {}
        }
    } else if let Some(e) = excerpt {
        if e.is_empty() {
            out.push_str(" with an empty body");
        } else {
            out.push_str(&format!(" with a non-JSON body: {e:?}"));
        }
    }
    out
}

fn transport_phrase(f: TransportFailure) -> &'static str {
    match f {
        TransportFailure::Connect => "could not connect to the VirtualSMS API",
        TransportFailure::Timeout => "the VirtualSMS API did not answer in time",
        TransportFailure::Interrupted => "the connection to the VirtualSMS API broke",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_is_last_segment_of_type() {
        let p = Problem {
            type_uri: Some("https://virtualsms.io/errors/no-stock".into()),
            ..Default::default()
        };
        assert_eq!(p.slug(), Some("no-stock"));
        assert_eq!(Problem::default().slug(), None);
        let bare = Problem {
            type_uri: Some("validation".into()),
            ..Default::default()
        };
        assert_eq!(bare.slug(), Some("validation"));
    }

    #[test]
    fn status_error_reads_well() {
        let e = ApiError::Status {
            status: 402,
            kind: ErrorKind::InsufficientBalance,
            problem: Some(Box::new(Problem {
                type_uri: Some("https://virtualsms.io/errors/insufficient-balance".into()),
                title: Some("Insufficient balance".into()),
                detail: Some("Balance $0.05 < required $0.18".into()),
                instance: None,
            })),
            excerpt: None,
            retry_after: None,
            attempts: 1,
        };
        assert_eq!(
            e.to_string(),
            "HTTP 402 insufficient-balance — Insufficient balance: Balance $0.05 < required $0.18"
        );
        let html = ApiError::Status {
            status: 502,
            kind: ErrorKind::Transient,
            problem: None,
            excerpt: Some("<html>Bad gateway</html>".into()),
            retry_after: None,
            attempts: 4,
        };
        assert!(html.to_string().contains("HTTP 502 with a non-JSON body"));
    }
}
