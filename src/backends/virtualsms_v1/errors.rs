//! v1's error answers (`../shared/api/virtualsms-rest-v1.md` §5) classified into
//! [`ErrorKind`]s. v1 has no RFC 7807: a JSON body carries `message` or `error` (read in that
//! order, like the official clients), a 402 adds `required` and `current`, the 425 of a cooldown
//! may be plain text, and "out of stock" is only a phrase in a 5xx body.

use std::time::Duration;

use serde_json::Value;

use crate::backends::{refusal, ApiError, ErrorKind};
use crate::transport::{Answer, Transport};

/// Phrases the SDKs look for in a 5xx body to recognise "nothing in stock".
const NO_STOCK_PHRASES: [&str; 4] = ["out of stock", "no numbers", "no stock", "no_numbers"];

/// A 429 without `Retry-After` waits this long **(assumed)**.
const DEFAULT_RATE_WAIT: Duration = Duration::from_secs(60);

pub fn classify(http: &Transport, answer: &Answer) -> ApiError {
    let json: Option<Value> = serde_json::from_slice(&answer.body).ok();
    let message = json.as_ref().and_then(|v| {
        ["message", "error"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str))
            .map(|s| http.bounded(s))
    });
    let lower = refusal::text(http, answer, message.as_deref());
    let kind = kind_of(answer.status.as_u16(), &lower);
    let mut detail = message;
    if kind == ErrorKind::InsufficientBalance {
        if let Some(v) = &json {
            let money = |k: &str| v.get(k).and_then(Value::as_f64);
            if let (Some(required), Some(current)) = (money("required"), money("current")) {
                detail = Some(format!(
                    "{} (balance ${current:.2} < required ${required:.2})",
                    detail.unwrap_or_else(|| "Insufficient balance".into())
                ));
            }
        }
    }
    let retry_after = match kind {
        ErrorKind::TooEarly => answer.retry_after().or_else(|| seconds_in(&lower)),
        ErrorKind::RateLimited => answer.retry_after().or(Some(DEFAULT_RATE_WAIT)),
        _ => answer.retry_after(),
    };
    refusal::error(http, answer, kind, detail.map(refusal::detail), retry_after)
}

fn kind_of(status: u16, text: &str) -> ErrorKind {
    match status {
        400 if text.contains("cannot cancel") || text.contains("cannot swap") => {
            ErrorKind::Conflict
        }
        400 if text.contains("rental") && (text.contains("only") || text.contains("hold")) => {
            ErrorKind::Conflict
        }
        400 | 422 => ErrorKind::Invalid,
        401 | 403 => ErrorKind::Unauthorized,
        402 => ErrorKind::InsufficientBalance,
        404 => ErrorKind::OrderNotFound,
        410 => ErrorKind::Expired,
        425 => ErrorKind::TooEarly,
        429 => ErrorKind::RateLimited,
        500..=599 if NO_STOCK_PHRASES.iter().any(|p| text.contains(p)) => ErrorKind::NoStock,
        500..=599 => ErrorKind::Transient,
        _ => ErrorKind::Other,
    }
}

/// "…please wait 118 seconds" → 118 s.
pub fn seconds_in(text: &str) -> Option<Duration> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words.windows(2).find_map(|w| {
        let unit = w[1].trim_matches(|c: char| !c.is_alphabetic());
        let n: u64 = w[0].parse().ok()?;
        matches!(unit, "s" | "sec" | "secs" | "second" | "seconds").then(|| Duration::from_secs(n))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_read_from_a_cooldown_message() {
        assert_eq!(
            seconds_in("cannot cancel yet, please wait 118 seconds"),
            Some(Duration::from_secs(118))
        );
        assert_eq!(seconds_in("wait 5s"), None);
        assert_eq!(seconds_in("no number here"), None);
    }

    #[test]
    fn statuses_and_phrases_become_kinds() {
        assert_eq!(
            kind_of(400, "cannot cancel order with status: completed"),
            ErrorKind::Conflict
        );
        assert_eq!(
            kind_of(400, "invalid service: telegram"),
            ErrorKind::Invalid
        );
        assert_eq!(
            kind_of(503, "no numbers available (out of stock)"),
            ErrorKind::NoStock
        );
        assert_eq!(kind_of(502, "bad gateway"), ErrorKind::Transient);
        assert_eq!(kind_of(425, ""), ErrorKind::TooEarly);
    }
}
