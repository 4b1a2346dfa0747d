//! wait_for_sms on v1, which has no long-poll: one poller (the shared core of
//! [`crate::backends::poller`]) serves every wait, so the request rate stays within the pacing
//! budget however many orders are waited on.
//!
//! A round is one order-history request (C3) for all waited activations, one rental-list request
//! (E7) for all waited rentals, and a detail request (C2) only for an activation the history
//! cannot answer for (completed and waited on for a further SMS, or older than the history's 50
//! rows), within half the pacing budget and in turns when that cannot cover them all. Each wait
//! judges what the round read against what it has seen; only a wait whose order changed reads
//! its order (C2).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::orders::HISTORY_CAP;
use super::wire::{order_status, rental_status, Listed, OrderRow, RentalRow};
use super::{rental_id, V1};
use crate::backends::poller::{self, still_waiting, Round, Wait};
use crate::backends::{ErrorKind, Result};
use crate::domain::{status, SmsPoll};
use crate::transport::{Request, Transport};

/// What a wait has seen; its order changed when the API says otherwise.
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

/// What a round read for one waited key; each wait judges it against what it has seen.
#[derive(Debug, Clone)]
pub(super) enum Reading {
    /// The activation's v1 status in the history (C3).
    Listed(String),
    /// The activation's detail (C2).
    Detail(Box<OrderRow>),
    /// The rental's row in the rental list (E7); `None` when it is not there (any more).
    Rental(Option<Box<RentalRow>>),
    /// The detail read failed for good (gone, refused): the wait reads and reports it.
    Failed,
}

/// What a reading means for one wait.
#[derive(Debug, PartialEq)]
enum Verdict {
    Unchanged,
    /// The order is as the wait would expect: keep this as its baseline.
    Settled(Seen),
    /// Something changed (or cannot be told from a list): the wait reads its order.
    Wake,
}

/// What a wait watches: an order, and whether only its detail can show news (an activation
/// past waiting that may get a further SMS); rentals and the other activations are read from
/// the lists.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Key {
    order_id: String,
    detail: bool,
}

impl Key {
    fn new(order_id: &str, seen: &Seen) -> Self {
        Self {
            order_id: order_id.to_owned(),
            detail: matches!(seen, Seen::Messages(_)),
        }
    }
}

/// v1's poller: waits watch [`Key`]s.
pub(super) type Poller = poller::Poller<Reader>;

/// A round's reads: the lists once, details within the budget.
pub(super) struct Reader {
    http: Transport,
    /// Where the next round starts reading details, so a budget that cannot cover every
    /// activation outside the history still reaches each in turn.
    detail_turn: AtomicUsize,
}

/// The backend's poller, reading through its paced transport.
pub(super) fn new(http: Transport, interval: Duration) -> Arc<Poller> {
    let reader = Reader {
        http,
        detail_turn: AtomicUsize::new(0),
    };
    Arc::new(Poller::new(reader, interval))
}

impl poller::Reader for Reader {
    type Key = Key;
    type Snapshot = Reading;

    /// One round: at most one history request, one rental-list request, and a detail request
    /// only for activations the history cannot answer for, in turns, within the budget.
    async fn read_round(&self, round: &Round<'_, Self>) {
        let keys = round.keys();
        let activations = keys
            .iter()
            .any(|k| rental_id(&k.order_id).is_none() && !k.detail);
        let rentals = keys.iter().any(|k| rental_id(&k.order_id).is_some());
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
        let mut need_detail = Vec::new();
        for key in keys {
            let reading = match (rental_id(&key.order_id), &rental_rows, &history) {
                (Some(rid), Some(rows), _) => {
                    let row = rows.iter().find(|r| r.id == rid);
                    Reading::Rental(row.cloned().map(Box::new))
                }
                // A failed list read decides nothing this round.
                (Some(_), None, _) => continue,
                (None, ..) if key.detail => {
                    need_detail.push(key);
                    continue;
                }
                (None, _, Some(rows)) => match rows.iter().find(|r| r.order_id == key.order_id) {
                    Some(row) => Reading::Listed(row.status.clone()),
                    None => {
                        need_detail.push(key);
                        continue;
                    }
                },
                (None, _, None) => continue,
            };
            round.publish(key, reading);
        }
        self.read_details(round, &need_detail).await;
    }
}

impl Reader {
    /// How many detail reads one round may make: half of what the pacing allows per interval,
    /// less the two list reads, at least one (all of them without pacing).
    fn detail_budget(&self, interval: Duration) -> usize {
        let per_minute = self.http.settings().rate_limit_per_minute;
        if per_minute == 0 {
            return usize::MAX;
        }
        let per_round = f64::from(per_minute) * interval.as_secs_f64() / 60.0;
        ((per_round / 2.0) as usize).saturating_sub(2).max(1)
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

    /// The details (C2) of the activations the history cannot answer for, in turns, within the
    /// budget. A transient failure decides nothing; any other wakes the waits.
    async fn read_details(&self, round: &Round<'_, Self>, need_detail: &[&Key]) {
        let budget = self.detail_budget(round.interval()).min(need_detail.len());
        if budget == 0 {
            return;
        }
        let start = self.detail_turn.fetch_add(budget, Ordering::Relaxed);
        for k in 0..budget {
            let key = need_detail[(start + k) % need_detail.len()];
            let reading = match self
                .http
                .send::<OrderRow>(Request::get(&["customer", "order", &key.order_id]))
                .await
            {
                Ok(row) => Reading::Detail(Box::new(row)),
                Err(e) if e.kind() == ErrorKind::Transient => continue,
                // Gone or refused: the waits read (and report) the error themselves.
                Err(_) => Reading::Failed,
            };
            round.publish(key, reading);
        }
    }
}

/// A reading against what the wait has seen.
fn judge(reading: &Reading, seen: &Seen) -> Verdict {
    match reading {
        Reading::Listed(v1_status) => judge_status(v1_status, seen),
        Reading::Detail(row) => judge_detail(row, seen),
        Reading::Rental(row) => judge_rental(row.as_deref(), seen),
        Reading::Failed => Verdict::Wake,
    }
}

/// An activation's detail (C2) against what the wait has seen.
fn judge_detail(row: &OrderRow, seen: &Seen) -> Verdict {
    let messages = row.sms().len();
    match seen {
        Seen::Messages(n) | Seen::Unknown { messages: n } if messages > *n => Verdict::Wake,
        _ if order_status(&row.status) == status::WAITING => {
            Verdict::Settled(Seen::Status(row.status.clone()))
        }
        Seen::Messages(_) if status::is_terminal(order_status(&row.status)) => Verdict::Wake,
        Seen::Messages(_) => Verdict::Unchanged,
        _ => Verdict::Wake,
    }
}

/// An activation's status in the history against what the wait has seen.
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

/// A rental's row against what the wait has seen.
fn judge_rental(row: Option<&RentalRow>, seen: &Seen) -> Verdict {
    let Some(row) = row else {
        return Verdict::Wake; // gone: the wait reads (and reports) it
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
    /// shows a message beyond `since` or a final state, or when the window passes. The order is
    /// read only when the poller says it changed, so a hundred waits cost one request per
    /// interval, not a hundred.
    pub(super) async fn wait_round(&self, wait: Wait<'_>) -> Result<SmsPoll> {
        let order_id = wait.order_id;
        let deadline = Instant::now() + wait.window;
        let seen_count = messages_seen(order_id, wait.since);
        let mut seen = Seen::Unknown {
            messages: seen_count,
        };
        let mut last: Option<SmsPoll> = None;
        while self.until_woken(order_id, &mut seen, deadline).await {
            let (poll, now) = self.snapshot(order_id).await?;
            if poll.messages.len() > seen_count || status::is_terminal(&poll.status) {
                return Ok(poll);
            }
            seen = now;
            last = Some(poll);
        }
        Ok(last.unwrap_or_else(|| still_waiting(order_id)))
    }

    /// Watches the order until a reading wakes this wait (`true`) or `deadline` passes
    /// (`false`). A reading that settles a baseline updates `seen` and the watch goes on; the
    /// watch is dropped before the wait reads its order.
    async fn until_woken(&self, order_id: &str, seen: &mut Seen, deadline: Instant) -> bool {
        let mut subscription = self.poller.subscribe(Key::new(order_id, seen));
        while let Some(reading) = subscription.next(deadline).await {
            match judge(&reading, seen) {
                Verdict::Unchanged => {}
                Verdict::Settled(now) => {
                    let key = Key::new(order_id, &now);
                    *seen = now;
                    if key != *subscription.key() {
                        // Watched anew before the old watch goes: the poller never stops between.
                        subscription = self.poller.subscribe(key);
                    }
                }
                Verdict::Wake => return true,
            }
        }
        false
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
