//! Asking every configured provider at once (find_cheapest, service_availability, create_order
//! without `provider`): concurrently, each within the normal request timeout, so one provider
//! that fails or hangs only has its error named in the result.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

use super::VirtualSmsServer;
use crate::backends::{ApiError, Backend, ErrorKind};
use crate::providers::Member;

/// A provider's answer did not come (an error or a time-out), named in a cross-provider result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProviderError {
    pub provider: String,
    /// What went wrong there.
    pub error: String,
}

type Answer<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send>>;

/// Extra time a provider gets beyond one request's timeout (its own retries, a catalog read).
const GRACE: Duration = Duration::from_secs(5);

impl VirtualSmsServer {
    /// `ask` run against each of `members` concurrently; each answer with its provider, in the
    /// order given.
    pub(crate) async fn ask_all<T: Send + 'static>(
        &self,
        members: Vec<Member>,
        ask: impl Fn(Arc<dyn Backend>) -> Answer<T>,
    ) -> Vec<(Member, Result<T, ApiError>)> {
        let limit = self.state.config.http.request_timeout + GRACE;
        let mut tasks = tokio::task::JoinSet::new();
        for (i, member) in members.iter().enumerate() {
            let answer = ask(member.backend.clone());
            tasks.spawn(async move {
                let result = match tokio::time::timeout(limit, answer).await {
                    Ok(result) => result,
                    Err(_) => Err(ApiError::rule(
                        ErrorKind::Transient,
                        format!("no answer within {} s", limit.as_secs()),
                    )),
                };
                (i, result)
            });
        }
        let mut answers: Vec<Option<Result<T, ApiError>>> =
            (0..members.len()).map(|_| None).collect();
        while let Some(done) = tasks.join_next().await {
            if let Ok((i, result)) = done {
                answers[i] = Some(result);
            }
        }
        members
            .into_iter()
            .zip(answers)
            .map(|(m, a)| {
                let a = a.unwrap_or_else(|| {
                    Err(ApiError::rule(ErrorKind::Transient, "the request was lost"))
                });
                (m, a)
            })
            .collect()
    }
}

/// Orders USD prices, unconvertible ones (`None`) last.
pub(crate) fn by_usd(a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}
