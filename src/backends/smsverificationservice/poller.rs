//! wait_for_sms on smsVerificationService, which has no long-poll and no list that shows codes:
//! each waited order costs one status read (E2) per round, so ONE poller per backend reads every
//! waited order once per round and hands the same answer to every wait on it, within the
//! provider's 60 requests a minute (`../shared/api/smsverificationservice.md` §6 wait_for_sms).
//!
//! Rounds run every poll interval (5 s by default), twice that while 3 or more orders are waited
//! on (each costs a request per round), and the transport's pacer keeps the total under the
//! rate limit whatever happens. The task stops when the last wait ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::orders::{apply_status, sms_of};
use super::wire::{self, StatusRow};
use super::{call, order_number, SmsVerificationService};
use crate::backends::{ApiError, ErrorKind, Result};
use crate::domain::{status, Order, SmsPoll};
use crate::transport::{Request, Transport};

/// From this many orders waited on at once, rounds are spaced twice as far (§6).
const BUSY: usize = 3;
/// Waits that start together (a burst of tool calls) share the first round.
const FIRST_ROUND_DELAY: Duration = Duration::from_millis(50);

/// What a round read for one order: its E2 answer, or why it could not be read.
type Reading = std::result::Result<StatusRow, (ErrorKind, String)>;

#[derive(Default)]
struct Watches {
    next: u64,
    /// Subscription id → (order id, where its readings go).
    by_id: HashMap<u64, (String, watch::Sender<Option<Reading>>)>,
    running: bool,
}

pub struct Poller {
    http: Transport,
    interval: Duration,
    watches: Mutex<Watches>,
}

/// A registered wait; dropping it unregisters.
struct Subscription {
    poller: Arc<Poller>,
    id: u64,
    readings: watch::Receiver<Option<Reading>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.poller.lock().by_id.remove(&self.id);
    }
}

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
        let (tx, readings) = watch::channel(None);
        let mut watches = self.lock();
        let id = watches.next;
        watches.next += 1;
        watches.by_id.insert(id, (order_id.to_owned(), tx));
        if !watches.running {
            watches.running = true;
            tokio::spawn(self.clone().run());
        }
        Subscription {
            poller: self.clone(),
            id,
            readings,
        }
    }

    /// Polls while anyone waits.
    async fn run(self: Arc<Self>) {
        let mut pause = FIRST_ROUND_DELAY.min(self.interval);
        loop {
            tokio::time::sleep(pause).await;
            let orders: Vec<String> = {
                let mut watches = self.lock();
                if watches.by_id.is_empty() {
                    watches.running = false;
                    return;
                }
                let mut ids: Vec<String> = watches.by_id.values().map(|(o, _)| o.clone()).collect();
                ids.sort();
                ids.dedup();
                ids
            };
            pause = if orders.len() >= BUSY {
                self.interval * 2
            } else {
                self.interval
            };
            for order_id in orders {
                let reading = self.read(&order_id).await;
                let watches = self.lock();
                for (wanted, tx) in watches.by_id.values() {
                    if *wanted == order_id {
                        tx.send_replace(Some(reading.clone()));
                    }
                }
            }
        }
    }

    /// One E2 read.
    async fn read(&self, order_id: &str) -> Reading {
        let id = order_number(order_id).map_err(|e| (e.kind(), e.to_string()))?;
        let value = call(&self.http, Request::get(&["order", id, "status", ""]))
            .await
            .map_err(|e| (e.kind(), e.to_string()))?;
        serde_json::from_value(wire::payload(value)).map_err(|e| {
            (
                ErrorKind::BadAnswer,
                format!("status answer not understood: {e}"),
            )
        })
    }
}

impl SmsVerificationService {
    /// One round of wait_for_sms: returns when the poller reads a message other than `since`
    /// or a final state, or when `window` passes (then with the order as last read).
    pub(super) async fn wait_round(
        &self,
        order_id: &str,
        since: Option<&str>,
        window: Duration,
    ) -> Result<SmsPoll> {
        order_number(order_id)?;
        let deadline = tokio::time::Instant::now() + window;
        let released = self.placed(order_id).is_some_and(|m| m.released);
        let mut subscription = self.poller.subscribe(order_id);
        let mut last: Option<SmsPoll> = None;
        loop {
            tokio::select! {
                changed = subscription.readings.changed() => {
                    if changed.is_err() {
                        return Ok(last.unwrap_or_else(|| still_waiting(order_id)));
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    return Ok(last.unwrap_or_else(|| still_waiting(order_id)));
                }
            }
            let reading = subscription.readings.borrow_and_update().clone();
            let row = match reading {
                None => continue,
                Some(Ok(row)) => row,
                // A passing failure decides nothing; the next round reads again.
                Some(Err((ErrorKind::Transient | ErrorKind::RateLimited, e))) => {
                    tracing::warn!(error = %e, "SMS poll round failed; trying again next round");
                    continue;
                }
                Some(Err((kind, e))) => return Err(ApiError::rule(kind, e)),
            };
            let poll = to_poll(order_id, &row, released);
            let fresh = poll
                .messages
                .first()
                .is_some_and(|m| Some(m.id.as_str()) != since);
            if fresh || status::is_terminal(&poll.status) {
                return Ok(poll);
            }
            last = Some(poll);
        }
    }
}

/// An E2 answer as a wait round reports it.
fn to_poll(order_id: &str, row: &StatusRow, released: bool) -> SmsPoll {
    let mut order = Order {
        provider: None,
        order_id: order_id.to_owned(),
        service: None,
        country: None,
        phone_number: None,
        status: String::new(),
        price: None,
        created_at: None,
        expires_at: None,
        rental_hours: None,
        messages: Vec::new(),
        code: None,
        refunded: None,
        note: None,
    };
    apply_status(&mut order, row, released);
    let note = (!order.messages.is_empty()).then(|| {
        "smsVerificationService shows only the latest SMS of an order, without sender or time."
            .to_owned()
    });
    SmsPoll {
        order_id: order.order_id,
        status: order.status,
        messages: sms_of(order_id, row),
        code: order.code,
        note,
    }
}

/// The answer of a round that read nothing yet.
fn still_waiting(order_id: &str) -> SmsPoll {
    SmsPoll {
        order_id: order_id.to_owned(),
        status: status::WAITING.to_owned(),
        messages: Vec::new(),
        code: None,
        note: None,
    }
}
