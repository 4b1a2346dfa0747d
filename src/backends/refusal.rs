//! What the providers' error classifiers share once each has read its own error body: the
//! [`ApiError`] of a refused answer, with the provider's message as the problem's detail or,
//! without one, a short excerpt of the body (marked when it is an HTML page), and the text a
//! classifier matches its phrases against. Each provider keeps its own reading of the body, its
//! [`ErrorKind`]s and its waits after a 429.

use std::time::Duration;

use super::{ApiError, ErrorKind, Problem};
use crate::transport::{Answer, Transport};

/// The error for `answer`, refused as `kind`: `problem` when the body said what went wrong,
/// else an excerpt of the body.
pub fn error(
    http: &Transport,
    answer: &Answer,
    kind: ErrorKind,
    problem: Option<Problem>,
    retry_after: Option<Duration>,
) -> ApiError {
    let excerpt = problem.is_none().then(|| {
        let text = http.excerpt(&answer.body);
        if answer.content_type().contains("html") {
            format!("(HTML page) {text}")
        } else {
            text
        }
    });
    ApiError::Status {
        status: answer.status.as_u16(),
        kind,
        problem: problem.map(Box::new),
        excerpt,
        retry_after,
        attempts: answer.attempts,
    }
}

/// A problem that is only the provider's message.
pub fn detail(message: String) -> Problem {
    Problem {
        detail: Some(message),
        ..Problem::default()
    }
}

/// What a classifier matches its phrases against: the body's message, else its excerpt, in
/// lower case.
pub fn text(http: &Transport, answer: &Answer, message: Option<&str>) -> String {
    message
        .map_or_else(|| http.excerpt(&answer.body), str::to_owned)
        .to_ascii_lowercase()
}
