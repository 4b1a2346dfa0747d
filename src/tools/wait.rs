//! wait_for_sms: waits in rounds of at most 180 s (a long-poll on v2, the shared poller on v1:
//! see [`crate::backends::Backend::wait_sms`]) until a message newer than the last one returned
//! arrives, the order ends, or the caller's timeout passes.
//!
//! While it waits it sends a progress notification every few seconds when the client asked for
//! progress (clients reset their own tool timeout on each one), and it races every round against
//! the request's cancellation token: a cancelled call drops the in-flight HTTP request at once.

use std::time::Duration;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ProgressNotificationParam, ProgressToken, RequestMetaObject};
use rmcp::{tool, tool_router, Json, Peer, RoleServer};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{in_range, not_too_long, order_id, At, ToolError, VirtualSmsServer};
use crate::domain::{status, Sms};

/// The longest one round of waiting is asked to last.
const MAX_ROUND: Duration = Duration::from_secs(180);

/// A round that comes back this fast with nothing new is not a real long-poll; pause before the
/// next one so a server that ignores `timeout` is not hammered.
const MIN_ROUND: Duration = Duration::from_secs(1);

/// The bounds of `timeout_seconds`.
const MIN_TIMEOUT: u32 = 5;
const MAX_TIMEOUT: u32 = 900;

fn default_timeout() -> u32 {
    120
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(transform = crate::tools::arguments::omit_not_null)]
pub struct WaitForSmsArgs {
    /// The order id from create_order.
    pub order_id: String,
    /// How long to wait, in seconds.
    #[serde(default = "default_timeout", alias = "timeout")]
    #[schemars(range(min = MIN_TIMEOUT, max = MAX_TIMEOUT))]
    pub timeout_seconds: u32,
    /// Only return messages newer than this SMS id (defaults to the last one this server
    /// returned for the order, so repeated calls do not return the same code twice).
    pub since: Option<String>,
}

/// How the wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaitOutcome {
    /// A new SMS arrived: see `code` and `text`.
    Received,
    /// Nothing arrived within `timeout_seconds` (not an error).
    TimedOut,
    /// The order reached a final state (cancelled, expired, released, confirmed): no SMS can come.
    OrderEnded,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct WaitResult {
    pub order_id: String,
    pub outcome: WaitOutcome,
    /// The order's status when the wait ended.
    pub status: String,
    pub timed_out: bool,
    /// The verification code of the newest message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Full text of the newest message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_at: Option<String>,
    /// Id of the newest message (pass as `since` to wait for a later one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// All messages of the order so far.
    pub messages: Vec<Sms>,
    pub waited_seconds: u64,
    /// What to do now.
    pub next_step: String,
}

/// Messages after the one with id `since` (all of them when `since` is absent or unknown, e.g.
/// after a swap cleared the list).
fn newer_than<'a>(messages: &'a [Sms], since: Option<&str>) -> &'a [Sms] {
    match since.and_then(|id| messages.iter().position(|m| m.id == id)) {
        Some(i) => &messages[i + 1..],
        None => messages,
    }
}

/// Sends progress when the client asked for it; a failed send never fails the wait.
struct Progress {
    token: Option<ProgressToken>,
    peer: Peer<RoleServer>,
    total: f64,
}

impl Progress {
    async fn report(&self, elapsed: Duration, order_id: &str) {
        let Some(token) = &self.token else { return };
        let secs = elapsed.as_secs_f64().min(self.total);
        let message = format!(
            "waiting for an SMS on {order_id}: {:.0} s elapsed, {:.0} s left",
            secs,
            self.total - secs
        );
        let param = ProgressNotificationParam::new(token.clone(), secs.floor())
            .with_total(self.total)
            .with_message(message);
        if let Err(e) = self.peer.notify_progress(param).await {
            tracing::debug!(error = %e, "progress notification not sent");
        }
    }
}

#[tool_router(router = wait_router, vis = "pub(crate)")]
impl VirtualSmsServer {
    /// Wait for the SMS (verification code) of an order: returns as soon as a new message
    /// arrives, or after timeout_seconds with timed_out: true (then swap_order is free and
    /// cancel_order refunds). Reports progress while waiting.
    #[tool(annotations(
        title = "Wait for the SMS code",
        read_only_hint = true,
        open_world_hint = true
    ))]
    pub async fn wait_for_sms(
        &self,
        Parameters(args): Parameters<WaitForSmsArgs>,
        meta: RequestMetaObject,
        peer: Peer<RoleServer>,
        cancel: CancellationToken,
    ) -> Result<Json<WaitResult>, ToolError> {
        let id = order_id(&args.order_id)?;
        let timeout = Duration::from_secs(in_range(
            "timeout_seconds",
            args.timeout_seconds,
            MIN_TIMEOUT,
            MAX_TIMEOUT,
        )? as u64);
        let since = match args
            .since
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
        {
            Some(s) => Some(not_too_long("since", s)?),
            None => self.last_sms_id(&id),
        };
        let progress = Progress {
            token: meta.get_progress_token(),
            peer,
            total: timeout.as_secs_f64(),
        };
        let started = Instant::now();
        let deadline = started + timeout;
        let mut last_status = status::WAITING.to_owned();

        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining < Duration::from_secs(1) {
                return Ok(Json(self.timed_out(id, last_status, started.elapsed())));
            }
            let round_started = Instant::now();
            let answer = {
                let (member, raw) = self.route(&id);
                let poll = member
                    .backend
                    .wait_sms(raw, since.as_deref(), remaining.min(MAX_ROUND));
                tokio::pin!(poll);
                let every = self.state.config.progress_interval;
                let mut ticker = tokio::time::interval_at(Instant::now() + every, every);
                loop {
                    tokio::select! {
                        // Dropping `poll` here aborts the HTTP request, which closes the long-poll.
                        _ = cancel.cancelled() => {
                            tracing::info!(order_id = %id, "wait_for_sms cancelled by the client");
                            return Err(ToolError::Cancelled);
                        }
                        answer = &mut poll => break answer.at(member)?,
                        _ = ticker.tick() => progress.report(started.elapsed(), &id).await,
                    }
                }
            };
            last_status = answer.status.clone();
            let fresh = newer_than(&answer.messages, since.as_deref());
            if let Some(newest) = fresh.last().cloned() {
                self.remember_sms(&id, &newest.id);
                let mut next_step = "Enter the code on the site. When it worked, call \
                                     confirm_order; if it was rejected, a rental can \
                                     wait_for_sms again for a new code."
                    .to_owned();
                if let Some(note) = &answer.note {
                    next_step = format!("{note} {next_step}");
                }
                return Ok(Json(WaitResult {
                    order_id: id,
                    outcome: WaitOutcome::Received,
                    status: answer.status,
                    timed_out: false,
                    code: newest.code.clone().or(answer.code),
                    text: Some(newest.text.clone()).filter(|t| !t.is_empty()),
                    sender: newest.sender.clone(),
                    received_at: newest.received_at.clone(),
                    message_id: Some(newest.id.clone()),
                    messages: answer.messages,
                    waited_seconds: started.elapsed().as_secs(),
                    next_step,
                }));
            }
            if status::is_terminal(&answer.status) {
                let next_step = format!(
                    "The order is {} and will receive no SMS. Create a new order with create_order if you still need a number.",
                    answer.status
                );
                return Ok(Json(WaitResult {
                    order_id: id,
                    outcome: WaitOutcome::OrderEnded,
                    status: answer.status,
                    timed_out: false,
                    code: None,
                    text: None,
                    sender: None,
                    received_at: None,
                    message_id: None,
                    messages: answer.messages,
                    waited_seconds: started.elapsed().as_secs(),
                    next_step,
                }));
            }
            if round_started.elapsed() < MIN_ROUND {
                let pause = MIN_ROUND.min(deadline.saturating_duration_since(Instant::now()));
                tokio::select! {
                    _ = cancel.cancelled() => return Err(ToolError::Cancelled),
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
}

impl VirtualSmsServer {
    fn last_sms_id(&self, order_id: &str) -> Option<String> {
        self.state
            .last_sms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(order_id)
            .cloned()
    }

    fn remember_sms(&self, order_id: &str, sms_id: &str) {
        self.state
            .last_sms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(order_id.to_owned(), sms_id.to_owned());
    }

    fn timed_out(&self, order_id: String, status: String, waited: Duration) -> WaitResult {
        WaitResult {
            next_step: format!(
                "No SMS within {} s. Options: wait_for_sms again; swap_order(\"{order_id}\") for a \
                 new number (free); or cancel_order(\"{order_id}\") for a full refund.",
                waited.as_secs()
            ),
            order_id,
            outcome: WaitOutcome::TimedOut,
            status,
            timed_out: true,
            code: None,
            text: None,
            sender: None,
            received_at: None,
            message_id: None,
            messages: Vec::new(),
            waited_seconds: waited.as_secs(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sms(id: &str) -> Sms {
        Sms {
            id: id.into(),
            sender: None,
            text: String::new(),
            code: None,
            received_at: None,
        }
    }

    #[test]
    fn newer_than_skips_up_to_the_known_message() {
        let all = [sms("a"), sms("b"), sms("c")];
        assert_eq!(newer_than(&all, None).len(), 3);
        assert_eq!(
            newer_than(&all, Some("b"))
                .iter()
                .map(|m| m.id.as_str())
                .collect::<Vec<_>>(),
            ["c"]
        );
        assert!(newer_than(&all, Some("c")).is_empty());
        assert_eq!(
            newer_than(&all, Some("gone")).len(),
            3,
            "unknown id: all are new"
        );
    }
}
