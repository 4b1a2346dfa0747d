//! wait_for_sms on SMSCode, which has no long-poll (webhooks only, which a stdio server cannot
//! receive: `../shared/api/smscode.md` §3 D): one poller per backend serves every wait.
//!
//! While anyone waits, one task polls: a first round right away (waits that start together share
//! it), then one every poll interval (the guide polls every 5 s). A round reads each waited order
//! once (C2), however many waits share it, through the backend's paced transport, so the
//! requests stay within SMSCode's 300 per minute (about 25 orders at 5 s; more orders make the
//! rounds slower, never the rate higher). Each order's latest answer is published to its
//! waiters, who decide for themselves whether it is news. A failed read is retried next round
//! when it may pass (network, 5xx, 429); any other error wakes the waiters, who read the order
//! themselves and report the error.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::wire::{otp_message_id, OrderRow};
use super::SmsCode;
use crate::backends::{ErrorKind, Result};
use crate::domain::{status, SmsPoll};
use crate::transport::{Request, Transport};

/// What a round learnt about one order.
#[derive(Debug, Clone)]
enum Snapshot {
    Row(Box<OrderRow>),
    /// The read failed for good (not found, refused): waiters read it themselves.
    Failed,
}

struct Watched {
    waiters: usize,
    latest: watch::Sender<Option<Snapshot>>,
}

#[derive(Default)]
struct Watches {
    by_order: HashMap<String, Watched>,
    running: bool,
}

pub struct Poller {
    http: Transport,
    interval: Duration,
    watches: Mutex<Watches>,
}

/// A registered wait on one order; dropping it unregisters.
struct Subscription {
    poller: Arc<Poller>,
    order_id: String,
    latest: watch::Receiver<Option<Snapshot>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut watches = self.poller.lock();
        if let Some(w) = watches.by_order.get_mut(&self.order_id) {
            w.waiters -= 1;
            if w.waiters == 0 {
                watches.by_order.remove(&self.order_id);
            }
        }
    }
}

/// Waits that start together (a burst of tool calls) share the first round.
const FIRST_ROUND_DELAY: Duration = Duration::from_millis(50);

impl Poller {
    pub fn new(http: Transport, interval: Duration) -> Self {
        Self {
            http,
            interval,
            watches: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Watches> {
        self.watches.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn subscribe(self: &Arc<Self>, order_id: &str) -> Subscription {
        let mut watches = self.lock();
        let watched = watches
            .by_order
            .entry(order_id.to_owned())
            .or_insert_with(|| Watched {
                waiters: 0,
                latest: watch::channel(None).0,
            });
        watched.waiters += 1;
        let mut latest = watched.latest.subscribe();
        // Only rounds after this subscription count as news for it.
        latest.mark_unchanged();
        if !watches.running {
            watches.running = true;
            tokio::spawn(self.clone().run());
        }
        Subscription {
            poller: self.clone(),
            order_id: order_id.to_owned(),
            latest,
        }
    }

    /// Polls while anyone waits: a first round right away, then one every interval.
    async fn run(self: Arc<Self>) {
        let mut pause = FIRST_ROUND_DELAY.min(self.interval);
        loop {
            tokio::time::sleep(pause).await;
            pause = self.interval;
            let ids: Vec<String> = {
                let mut watches = self.lock();
                if watches.by_order.is_empty() {
                    watches.running = false;
                    return;
                }
                watches.by_order.keys().cloned().collect()
            };
            for id in ids {
                let snapshot = match self
                    .http
                    .send::<super::wire::Envelope>(Request::get(&["orders", &id]))
                    .await
                    .map_err(|e| (e.kind(), e.to_string()))
                    .and_then(|envelope| decode(envelope).ok_or((ErrorKind::Other, String::new())))
                {
                    Ok(row) => Snapshot::Row(Box::new(row)),
                    Err((
                        ErrorKind::Transient
                        | ErrorKind::RateLimited
                        | ErrorKind::Unreachable
                        | ErrorKind::BadAnswer,
                        error,
                    )) => {
                        tracing::warn!(order_id = %id, %error, "SMSCode poll failed; trying again next round");
                        continue;
                    }
                    Err(_) => Snapshot::Failed,
                };
                if let Some(w) = self.lock().by_order.get(&id) {
                    w.latest.send_replace(Some(snapshot));
                }
            }
        }
    }
}

/// A 2xx envelope's order, when it is a success with an order in it.
fn decode(envelope: super::wire::Envelope) -> Option<OrderRow> {
    if envelope.success == Some(false) || envelope.error.is_some() {
        return None;
    }
    serde_json::from_value(envelope.data?).ok()
}

impl SmsCode {
    /// One round of wait_for_sms: returns when the poller sees a code the caller has not seen
    /// (`since` is the code's message id `<order_id>:otp`) or a final state, or when `window`
    /// passes (then with the order as last seen).
    pub(super) async fn wait_round(
        &self,
        order_id: &str,
        since: Option<&str>,
        window: Duration,
    ) -> Result<SmsPoll> {
        let deadline = tokio::time::Instant::now() + window;
        let code_seen = since == Some(otp_message_id(order_id).as_str());
        let mut subscription = self.poller.subscribe(order_id);
        let mut last: Option<SmsPoll> = None;
        loop {
            tokio::select! {
                changed = subscription.latest.changed() => {
                    if changed.is_err() {
                        return Ok(last.unwrap_or_else(|| still_waiting(order_id)));
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    return Ok(last.unwrap_or_else(|| still_waiting(order_id)));
                }
            }
            let snapshot = subscription.latest.borrow_and_update().clone();
            let poll = match snapshot {
                Some(Snapshot::Row(row)) => row.to_poll(),
                // Read it here, so the error (or the order, if it passed) is this wait's own.
                Some(Snapshot::Failed) => self.order_row(order_id).await?.to_poll(),
                None => continue,
            };
            let news = poll.code.is_some() && !code_seen;
            if news || status::is_terminal(&poll.status) {
                return Ok(poll);
            }
            last = Some(poll);
        }
    }
}

/// The answer of a round that saw nothing.
fn still_waiting(order_id: &str) -> SmsPoll {
    SmsPoll {
        order_id: order_id.to_owned(),
        status: status::WAITING.to_owned(),
        messages: Vec::new(),
        code: None,
        note: None,
    }
}
