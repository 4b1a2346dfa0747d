//! wait_for_sms on v1, which has no long-poll: one poller serves every wait, so the request rate
//! stays within the pacing budget however many orders are waited on.
//!
//! A wait subscribes with what it has seen. While any subscription exists, one task polls: a
//! first round right away (waits that start together share it), then one every interval. A
//! round is one order-history request (C3) for all waited activations, one rental-list request
//! (E7) for all waited rentals, and a detail request (C2) only for an activation the history
//! cannot answer for (completed and waited on for a further SMS, or older than the history's 50
//! rows). Only a subscriber whose order changed is woken, and only it reads its order (C2). The
//! task stops when the last subscription is dropped (a wait that ends or is cancelled).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::orders::HISTORY_CAP;
use super::wire::{order_status, rental_status, Listed, OrderRow, RentalRow};
use super::{rental_id, V1};
use crate::backends::{ErrorKind, Result};
use crate::domain::{status, SmsPoll};
use crate::transport::{Request, Transport};

/// What a subscriber has seen; its order changed when the API says otherwise.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    /// Not read yet; the caller has seen this many messages. The next round settles it: a
    /// waiting activation or a rental with no more SMS becomes a baseline, anything else wakes.
    Unknown { messages: usize },
    /// An activation in this v1 status (the history shows it).
    Status(String),
    /// An activation with this many messages (only its detail shows more).
    Messages(usize),
    /// A rental with this many SMS received and this status.
    Rental { sms: u64, status: String },
}

/// What a round decided for one subscription.
enum Verdict {
    Unchanged,
    /// The order is as the subscriber would expect: keep this as its baseline.
    Settled(Seen),
    /// Something changed (or cannot be told from a list): the subscriber reads its order.
    Wake,
}

struct Watch {
    order_id: String,
    seen: Seen,
    wake: watch::Sender<bool>,
}

#[derive(Default)]
struct Watches {
    next: u64,
    by_id: HashMap<u64, Watch>,
    running: bool,
}

pub struct Poller {
    http: Transport,
    interval: Duration,
    watches: Mutex<Watches>,
    /// Where the next round starts reading details, so a budget that cannot cover every
    /// activation outside the history still reaches each in turn.
    detail_turn: std::sync::atomic::AtomicUsize,
}

/// A registered wait; dropping it unregisters.
struct Subscription {
    poller: Arc<Poller>,
    id: u64,
    woken: watch::Receiver<bool>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.poller.lock().by_id.remove(&self.id);
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
            detail_turn: Default::default(),
        }
    }

    /// How many detail reads one round may make: half of what the pacing allows per interval,
    /// less the two list reads, at least one (all of them without pacing).
    fn detail_budget(&self) -> usize {
        let per_minute = self.http.settings().rate_limit_per_minute;
        if per_minute == 0 {
            return usize::MAX;
        }
        let per_round = f64::from(per_minute) * self.interval.as_secs_f64() / 60.0;
        ((per_round / 2.0) as usize).saturating_sub(2).max(1)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Watches> {
        self.watches.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn subscribe(self: &Arc<Self>, order_id: &str, seen: Seen) -> Subscription {
        let (wake, woken) = watch::channel(false);
        let mut watches = self.lock();
        let id = watches.next;
        watches.next += 1;
        watches.by_id.insert(
            id,
            Watch {
                order_id: order_id.to_owned(),
                seen,
                wake,
            },
        );
        if !watches.running {
            watches.running = true;
            tokio::spawn(self.clone().run());
        }
        Subscription {
            poller: self.clone(),
            id,
            woken,
        }
    }

    /// Polls while anyone waits: a first round right away, then one every interval.
    async fn run(self: Arc<Self>) {
        let mut pause = FIRST_ROUND_DELAY.min(self.interval);
        loop {
            tokio::time::sleep(pause).await;
            pause = self.interval;
            let wanted: Vec<(u64, String, Seen)> = {
                let mut watches = self.lock();
                if watches.by_id.is_empty() {
                    watches.running = false;
                    return;
                }
                watches
                    .by_id
                    .iter()
                    .map(|(id, w)| (*id, w.order_id.clone(), w.seen.clone()))
                    .collect()
            };
            let verdicts = self.round(&wanted).await;
            let mut watches = self.lock();
            for (id, verdict) in verdicts {
                let Some(w) = watches.by_id.get_mut(&id) else {
                    continue;
                };
                match verdict {
                    Verdict::Unchanged => {}
                    Verdict::Settled(seen) => w.seen = seen,
                    Verdict::Wake => {
                        w.wake.send_replace(true);
                    }
                }
            }
        }
    }

    /// One round: at most one history request, one rental-list request, and a detail request
    /// only for activations the history cannot answer for.
    async fn round(&self, wanted: &[(u64, String, Seen)]) -> Vec<(u64, Verdict)> {
        let activations = wanted
            .iter()
            .any(|(_, id, s)| rental_id(id).is_none() && !matches!(s, Seen::Messages(_)));
        let rentals = wanted.iter().any(|(_, id, _)| rental_id(id).is_some());
        let history = if activations {
            self.fetch::<OrderRow>(
                Request::get(&["customer", "orders"]).query("limit", Some(HISTORY_CAP)),
                "orders",
            )
            .await
        } else {
            None
        };
        let rental_rows = if rentals {
            self.fetch::<RentalRow>(
                Request::get(&["rentals"]).query("status", Some("all")),
                "rentals",
            )
            .await
        } else {
            None
        };
        let mut verdicts = Vec::with_capacity(wanted.len());
        let mut need_detail = Vec::new();
        for (id, order_id, seen) in wanted {
            let verdict = match rental_id(order_id) {
                Some(rid) => match &rental_rows {
                    Some(rows) => judge_rental(rows.iter().find(|r| r.id == rid), seen),
                    None => Verdict::Unchanged,
                },
                None => {
                    let listed = history
                        .as_ref()
                        .and_then(|rows| rows.iter().find(|r| &r.order_id == order_id));
                    match (listed, seen) {
                        (Some(row), Seen::Status(_) | Seen::Unknown { .. }) => {
                            judge_status(&row.status, seen)
                        }
                        // A failed history read decides nothing this round.
                        (None, Seen::Status(_) | Seen::Unknown { .. }) if history.is_none() => {
                            Verdict::Unchanged
                        }
                        _ => {
                            need_detail.push((*id, order_id, seen));
                            continue;
                        }
                    }
                }
            };
            verdicts.push((*id, verdict));
        }
        // Activations the history cannot answer for, in turns, within the budget.
        let budget = self.detail_budget().min(need_detail.len());
        if budget > 0 {
            let start = self
                .detail_turn
                .fetch_add(budget, std::sync::atomic::Ordering::Relaxed);
            for k in 0..budget {
                let (id, order_id, seen) = need_detail[(start + k) % need_detail.len()];
                verdicts.push((id, self.judge_detail(order_id, seen).await));
            }
        }
        verdicts
    }

    /// A list, or `None` when it could not be read this round (logged; the next round retries).
    async fn fetch<T: for<'de> serde::Deserialize<'de>>(
        &self,
        request: Request<'_>,
        field: &str,
    ) -> Option<Vec<T>> {
        match self.http.send::<Listed<T>>(request).await {
            Ok(listed) => Some(listed.rows(field)),
            Err(e) => {
                tracing::warn!(error = %e, "SMS poll round failed; trying again next round");
                None
            }
        }
    }

    /// An activation's detail (C2) against what the subscriber has seen.
    async fn judge_detail(&self, order_id: &str, seen: &Seen) -> Verdict {
        let row: OrderRow = match self
            .http
            .send(Request::get(&["customer", "order", order_id]))
            .await
        {
            Ok(row) => row,
            Err(e) if e.kind() == ErrorKind::Transient => return Verdict::Unchanged,
            // Gone or refused: the subscriber reads (and reports) the error itself.
            Err(_) => return Verdict::Wake,
        };
        let messages = row.sms().len();
        match seen {
            Seen::Messages(n) | Seen::Unknown { messages: n } if messages > *n => Verdict::Wake,
            _ if order_status(&row.status) == status::WAITING => {
                Verdict::Settled(Seen::Status(row.status))
            }
            Seen::Messages(_) if status::is_terminal(order_status(&row.status)) => Verdict::Wake,
            Seen::Messages(_) => Verdict::Unchanged,
            _ => Verdict::Wake,
        }
    }
}

/// An activation's status in the history against what the subscriber has seen.
fn judge_status(v1_status: &str, seen: &Seen) -> Verdict {
    let waiting = order_status(v1_status) == status::WAITING;
    match seen {
        Seen::Status(before) if before == v1_status => Verdict::Unchanged,
        Seen::Unknown { messages: 0 } if waiting => {
            Verdict::Settled(Seen::Status(v1_status.to_owned()))
        }
        _ => Verdict::Wake,
    }
}

/// A rental's row against what the subscriber has seen.
fn judge_rental(row: Option<&RentalRow>, seen: &Seen) -> Verdict {
    let Some(row) = row else {
        return Verdict::Wake; // gone: the subscriber reads (and reports) it
    };
    let now = Seen::Rental {
        sms: row.sms_received,
        status: row.status.clone(),
    };
    match seen {
        Seen::Unknown { messages } if row.sms_received as usize <= *messages => {
            if status::is_terminal(rental_status(&row.status, row.sms_received)) {
                Verdict::Wake
            } else {
                Verdict::Settled(now)
            }
        }
        before if *before == now => Verdict::Unchanged,
        _ => Verdict::Wake,
    }
}

impl V1 {
    /// The order now, as a wait round reports it, and what the poller should compare against.
    async fn snapshot(&self, order_id: &str) -> Result<(SmsPoll, Seen)> {
        if let Some(id) = rental_id(order_id) {
            let row = self.rental_row(id).await?;
            let seen = Seen::Rental {
                sms: row.sms_received,
                status: row.status.clone(),
            };
            return Ok((rental_poll(order_id, &row), seen));
        }
        let row = self.order_row(order_id).await?;
        let seen = if order_status(&row.status) == status::WAITING {
            Seen::Status(row.status.clone())
        } else {
            Seen::Messages(row.sms().len())
        };
        let order = row.into_domain();
        let poll = SmsPoll {
            order_id: order.order_id,
            status: order.status,
            messages: order.messages,
            code: order.code,
            note: None,
        };
        Ok((poll, seen))
    }

    /// One round of wait_for_sms: returns when the poller sees the order change and its detail
    /// shows a message beyond `since` or a final state, or when `window` passes. The order is
    /// read only when the poller says it changed, so a hundred waits cost one request per
    /// interval, not a hundred.
    pub(super) async fn wait_round(
        &self,
        order_id: &str,
        since: Option<&str>,
        window: Duration,
    ) -> Result<SmsPoll> {
        let deadline = tokio::time::Instant::now() + window;
        let seen_count = messages_seen(order_id, since);
        let mut seen = Seen::Unknown {
            messages: seen_count,
        };
        let mut last: Option<SmsPoll> = None;
        loop {
            let mut subscription = self.poller.subscribe(order_id, seen);
            tokio::select! {
                _ = subscription.woken.changed() => {}
                _ = tokio::time::sleep_until(deadline) => {
                    return Ok(last.unwrap_or_else(|| still_waiting(order_id)));
                }
            }
            drop(subscription);
            let (poll, now) = self.snapshot(order_id).await?;
            if poll.messages.len() > seen_count || status::is_terminal(&poll.status) {
                return Ok(poll);
            }
            seen = now;
            last = Some(poll);
        }
    }
}

/// How many of the order's messages the caller has seen: ids are `<order_id>:<index>`.
fn messages_seen(order_id: &str, since: Option<&str>) -> usize {
    since
        .and_then(|s| {
            s.strip_prefix(order_id)?
                .strip_prefix(':')?
                .parse::<usize>()
                .ok()
        })
        .map_or(0, |i| i + 1)
}

/// The answer of a round that saw nothing change.
fn still_waiting(order_id: &str) -> SmsPoll {
    SmsPoll {
        order_id: order_id.to_owned(),
        status: status::WAITING.to_owned(),
        messages: Vec::new(),
        code: None,
        note: None,
    }
}

/// A rental's wait answer: one message per SMS counted, without text (v1 does not return rental
/// SMS texts), and a note saying so.
fn rental_poll(order_id: &str, row: &RentalRow) -> SmsPoll {
    let messages = (0..row.sms_received)
        .map(|i| crate::domain::Sms {
            id: format!("{order_id}:{i}"),
            sender: None,
            text: String::new(),
            code: None,
            received_at: None,
        })
        .collect();
    SmsPoll {
        order_id: order_id.to_owned(),
        status: rental_status(&row.status, row.sms_received).to_owned(),
        messages,
        code: None,
        note: (row.sms_received > 0).then(|| {
            "An SMS arrived on this rental, but VirtualSMS v1 does not return rental SMS texts \
             through its REST API: read it in the VirtualSMS dashboard."
                .to_owned()
        }),
    }
}
