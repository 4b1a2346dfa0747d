//! smsVerificationService's error answers (`../shared/api/smsverificationservice.md` §1 "Error
//! body", §5) classified into [`ErrorKind`]s.
//!
//! The error is a string, without a code: `{"error": "..."}`, `{"success": false, "error":
//! "..."}`, or one of the "Django JSON error envelopes" whose shape is not shown (**assumed**:
//! `error`, `detail`, or a field → messages map; all three are read). The HTTP status alone does
//! not say enough (400, 402 and 404 all carry "Insufficient balance" in the doc), so the text is
//! matched first and the status second.

use std::time::Duration;

use serde_json::Value;

use crate::backends::{refusal, ApiError, ErrorKind};
use crate::transport::{Answer, Transport};

/// A 429 without `Retry-After` backs off exponentially from this **(contract §5)** ...
const RATE_WAIT_FIRST: Duration = Duration::from_secs(2);
/// ... up to this.
const RATE_WAIT_MAX: Duration = Duration::from_secs(60);

pub fn classify(http: &Transport, answer: &Answer) -> ApiError {
    let json: Option<Value> = serde_json::from_slice(&answer.body).ok();
    let message = json.as_ref().and_then(message_of).map(|m| http.bounded(&m));
    let text = refusal::text(http, answer, message.as_deref());
    let kind = kind_of(answer.status.as_u16(), &text);
    let retry_after = match kind {
        ErrorKind::RateLimited => answer
            .retry_after()
            .or_else(|| Some(rate_wait(answer.attempts))),
        _ => answer.retry_after(),
    };
    refusal::error(
        http,
        answer,
        kind,
        message.map(refusal::detail),
        retry_after,
    )
}

/// 2 s, 4 s, 8 s ... for the n-th attempt, at most a minute.
fn rate_wait(attempts: u32) -> Duration {
    let doublings = attempts.saturating_sub(1).min(6);
    (RATE_WAIT_FIRST * 2u32.pow(doublings)).min(RATE_WAIT_MAX)
}

/// The message of an error body in any of its shapes: `error` (a string, or an object/list of
/// messages), `detail`, `message`, or a Django field map (`{"service_id": ["This field is
/// required."]}` → `service_id: This field is required.`).
pub fn message_of(v: &Value) -> Option<String> {
    let obj = v.as_object()?;
    for key in ["error", "detail", "message"] {
        match obj.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => return Some(s.trim().to_owned()),
            Some(nested @ (Value::Object(_) | Value::Array(_))) => {
                if let Some(text) = flatten(nested) {
                    return Some(text);
                }
            }
            _ => {}
        }
    }
    let fields: Vec<String> = obj
        .iter()
        .filter(|(k, _)| *k != "success" && *k != "status")
        .filter_map(|(k, v)| flatten(v).map(|m| format!("{k}: {m}")))
        .collect();
    (!fields.is_empty()).then(|| fields.join("; "))
}

/// Strings inside a value, joined.
fn flatten(v: &Value) -> Option<String> {
    let parts: Vec<String> = match v {
        Value::String(s) => vec![s.trim().to_owned()],
        Value::Array(items) => items.iter().filter_map(flatten).collect(),
        Value::Object(map) => map
            .iter()
            .filter_map(|(k, v)| flatten(v).map(|m| format!("{k}: {m}")))
            .collect(),
        _ => Vec::new(),
    };
    let parts: Vec<String> = parts.into_iter().filter(|p| !p.is_empty()).collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// What an answer means, from its text first and its status second (`text` in lower case).
pub fn kind_of(status: u16, text: &str) -> ErrorKind {
    if status == 429 {
        return ErrorKind::RateLimited;
    }
    if matches!(status, 401 | 403)
        || text.contains("invalid api key")
        || text.contains("missing api key")
    {
        return ErrorKind::Unauthorized;
    }
    if text.contains("insufficient balance") || text.contains("insufficient funds") {
        return ErrorKind::InsufficientBalance;
    }
    if text.contains("cannot be cancelled") || text.contains("cannot be canceled") {
        return ErrorKind::Conflict;
    }
    // "Service not available" on a global order **(assumed: nothing in stock)**.
    if text.contains("not available")
        || text.contains("out of stock")
        || text.contains("no numbers")
    {
        return ErrorKind::NoStock;
    }
    if text.contains("order not found") {
        return ErrorKind::OrderNotFound;
    }
    if text.contains("country not found") {
        return ErrorKind::CountryNotFound;
    }
    if text.contains("service not found") || text.contains("plan not found") {
        return ErrorKind::ServiceNotFound;
    }
    match status {
        400 | 422 => ErrorKind::Invalid,
        402 => ErrorKind::InsufficientBalance,
        500..=599 => ErrorKind::Transient,
        _ => ErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_decides_before_the_status() {
        for status in [400, 402, 404] {
            assert_eq!(
                kind_of(status, "insufficient balance"),
                ErrorKind::InsufficientBalance
            );
        }
        assert_eq!(
            kind_of(400, "order cannot be cancelled"),
            ErrorKind::Conflict
        );
        assert_eq!(kind_of(400, "service not available"), ErrorKind::NoStock);
        assert_eq!(
            kind_of(404, "service not found"),
            ErrorKind::ServiceNotFound
        );
        assert_eq!(kind_of(404, "order not found"), ErrorKind::OrderNotFound);
        assert_eq!(kind_of(401, "invalid api key"), ErrorKind::Unauthorized);
        assert_eq!(kind_of(429, "rate limit exceeded."), ErrorKind::RateLimited);
        assert_eq!(
            kind_of(400, "country_id query parameter is required"),
            ErrorKind::Invalid
        );
        assert_eq!(kind_of(502, "bad gateway"), ErrorKind::Transient);
        assert_eq!(kind_of(404, "not found."), ErrorKind::Other);
    }

    #[test]
    fn every_error_shape_gives_its_message() {
        assert_eq!(
            message_of(&json!({"error": "Invalid API key"})).unwrap(),
            "Invalid API key"
        );
        assert_eq!(
            message_of(&json!({"success": false, "error": "Order not found"})).unwrap(),
            "Order not found"
        );
        assert_eq!(
            message_of(&json!({"detail": "Not found."})).unwrap(),
            "Not found."
        );
        assert_eq!(
            message_of(&json!({"service_id": ["This field is required."]})).unwrap(),
            "service_id: This field is required."
        );
        assert_eq!(message_of(&json!({"success": false})), None);
        assert_eq!(message_of(&json!([1])), None);
    }

    #[test]
    fn rate_waits_double_up_to_a_minute() {
        assert_eq!(rate_wait(1), Duration::from_secs(2));
        assert_eq!(rate_wait(2), Duration::from_secs(4));
        assert_eq!(rate_wait(10), Duration::from_secs(60));
    }
}
