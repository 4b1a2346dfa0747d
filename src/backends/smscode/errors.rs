//! SMSCode's failures (`../shared/api/smscode.md` §5) classified into [`ErrorKind`]s.
//!
//! Every answer carries `success`; a failure is `{success: false, error: {code, message}}`, and
//! it may come with HTTP 200 (the guide's own mocks do): [`from_envelope`] turns such an answer
//! into the same error a non-2xx answer becomes through [`classify`]. The HTTP status paired with
//! each code is not documented **(assumed)**, so the code decides first and the status second.

use std::time::Duration;

use super::wire::ErrorBody;
use crate::backends::{refusal, ApiError, ErrorKind, Problem};
use crate::transport::{Answer, Transport};

/// The guide's backoff for 429 without `Retry-After`: 1 → 2 → 4 → 8 → 16 s, capped at 30 s.
fn rate_backoff(attempt: u32) -> Duration {
    Duration::from_secs((1u64 << attempt.saturating_sub(1).min(5)).min(30))
}

/// What an error code (or, without one, the HTTP status) means.
pub fn kind_of(code: Option<&str>, status: u16) -> ErrorKind {
    match code.map(str::to_ascii_uppercase).as_deref() {
        Some("UNAUTHORIZED" | "FORBIDDEN") => ErrorKind::Unauthorized,
        Some("INSUFFICIENT_BALANCE") => ErrorKind::InsufficientBalance,
        Some("PRODUCT_UNAVAILABLE") => ErrorKind::NoStock,
        Some("ORDER_NOT_FOUND") => ErrorKind::OrderNotFound,
        Some("INVALID_PARAMETERS") => ErrorKind::Invalid,
        Some("RATE_LIMITED" | "TOO_MANY_REQUESTS") => ErrorKind::RateLimited,
        _ => match status {
            400 | 422 => ErrorKind::Invalid,
            401 | 403 => ErrorKind::Unauthorized,
            402 => ErrorKind::InsufficientBalance,
            409 => ErrorKind::Conflict,
            410 => ErrorKind::Expired,
            429 => ErrorKind::RateLimited,
            500..=599 => ErrorKind::Transient,
            // A 404 without ORDER_NOT_FOUND is an unknown route (an assumed endpoint missing).
            _ => ErrorKind::Other,
        },
    }
}

/// The error for `body`'s `error` (any status), with SMSCode named in the detail.
pub fn build(http: &Transport, answer: &Answer, error: Option<&ErrorBody>) -> ApiError {
    let status = answer.status.as_u16();
    let code = error
        .and_then(|e| e.code.as_deref())
        .map(|c| http.bounded(c));
    let kind = kind_of(code.as_deref(), status);
    let message = error
        .and_then(|e| e.message.as_deref())
        .map(|m| http.bounded(m));
    let detail = match (&message, kind, status) {
        (Some(m), _, _) => Some(format!("SMSCode: {m}")),
        (None, ErrorKind::Unauthorized, 403) => {
            Some("SMSCode: the token lacks the permission this call needs".to_owned())
        }
        (None, _, _) if code.is_some() => Some("SMSCode refused the request".to_owned()),
        _ => None,
    };
    let retry_after = match kind {
        ErrorKind::RateLimited => answer
            .retry_after()
            .or_else(|| Some(rate_backoff(answer.attempts))),
        _ => answer.retry_after(),
    };
    let problem = detail.map(|d| Problem {
        type_uri: code,
        ..refusal::detail(d)
    });
    refusal::error(http, answer, kind, problem, retry_after)
}

/// [`crate::transport::Classify`] for non-2xx answers.
pub fn classify(http: &Transport, answer: &Answer) -> ApiError {
    let error = serde_json::from_slice::<super::wire::Envelope>(&answer.body)
        .ok()
        .and_then(|e| e.error);
    build(http, answer, error.as_ref())
}

/// The error code of an answer, when the server sent one (`PRODUCT_UNAVAILABLE`, ...).
pub fn code_of(e: &ApiError) -> Option<&str> {
    e.slug()
}

/// Whether the server itself answered "this product is gone": nothing was bought, so the next
/// product may be tried. A lost or unreadable answer never counts.
pub fn product_unavailable(e: &ApiError) -> bool {
    matches!(e, ApiError::Status { .. })
        && code_of(e).is_some_and(|c| c.eq_ignore_ascii_case("PRODUCT_UNAVAILABLE"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_decide_before_statuses() {
        assert_eq!(
            kind_of(Some("PRODUCT_UNAVAILABLE"), 200),
            ErrorKind::NoStock
        );
        assert_eq!(
            kind_of(Some("insufficient_balance"), 200),
            ErrorKind::InsufficientBalance
        );
        assert_eq!(
            kind_of(Some("ORDER_NOT_FOUND"), 404),
            ErrorKind::OrderNotFound
        );
        assert_eq!(kind_of(Some("INVALID_PARAMETERS"), 200), ErrorKind::Invalid);
        assert_eq!(kind_of(Some("UNAUTHORIZED"), 401), ErrorKind::Unauthorized);
        assert_eq!(kind_of(None, 403), ErrorKind::Unauthorized);
        assert_eq!(kind_of(None, 429), ErrorKind::RateLimited);
        assert_eq!(kind_of(None, 502), ErrorKind::Transient);
        assert_eq!(kind_of(None, 404), ErrorKind::Other, "an unknown route");
    }

    #[test]
    fn the_guides_backoff_doubles_up_to_thirty_seconds() {
        let waits: Vec<u64> = (1..=7).map(|a| rate_backoff(a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
    }
}
