//! wait_for_sms on v1, which has no long-poll: one poller serves every wait, so the request rate
//! stays within the pacing budget however many orders are waited on.
//!
//! Each wait reads its order once (so a code that already arrived returns at once), then
//! subscribes with what it has seen (a baseline). While any subscription exists, one task polls
//! every interval: one order-history request (C3) for all waiting activations, one rental-list
//! request (E7) for all waited rentals, and a detail request (C2) only for an activation the
//! history cannot answer for (already completed and waiting for a further SMS, or older than the
//! history's 50 rows). A subscriber whose order changed is woken and reads its order once more.
//! The task stops when the last subscription is dropped (a wait that ends or is cancelled).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::wire::{order_status, Listed, OrderRow, RentalRow};
use super::{rental_id, V1};
use crate::backends::{ErrorKind, Result};
use crate::domain::{status, SmsPoll};
use crate::transport::{Request, Transport};

/// What a subscriber has seen; the order changed when the API says otherwise.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    /// An activation in this v1 status (the history shows it).
    Status(String),
    /// An activation with this many messages (only its detail shows more).
    Messages(usize),
    /// A rental with this many SMS received and this status.
    Rental { sms: u64, status: String },
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

    /// Polls every interval while anyone waits.
    async fn run(self: Arc<Self>) {
        loop {
            tokio::time::sleep(self.interval).await;
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
            let changed = self.round(&wanted).await;
            let watches = self.lock();
            for id in changed {
                if let Some(w) = watches.by_id.get(&id) {
                    w.wake.send_replace(true);
                }
            }
        }
    }

    /// One round: which subscriptions' orders changed.
    async fn round(&self, wanted: &[(u64, String, Seen)]) -> Vec<u64> {
        let mut changed = Vec::new();
        let needs = |f: fn(&Seen) -> bool| wanted.iter().any(|(_, _, s)| f(s));
        let history = if needs(|s| matches!(s, Seen::Status(_))) {
            self.fetch::<OrderRow>(&["customer", "orders"], "orders", Some(50))
                .await
        } else {
            Some(Vec::new())
        };
        let rentals = if needs(|s| matches!(s, Seen::Rental { .. })) {
            self.fetch::<RentalRow>(&["rentals"], "rentals", None).await
        } else {
            Some(Vec::new())
        };
        for (id, order_id, seen) in wanted {
            let now = match seen {
                Seen::Status(_) => match history.as_ref() {
                    Some(rows) => match rows.iter().find(|r| &r.order_id == order_id) {
                        Some(row) => Some(Seen::Status(row.status.clone())),
                        None => self.detail(order_id, seen).await,
                    },
                    None => None,
                },
                Seen::Messages(_) => self.detail(order_id, seen).await,
                Seen::Rental { .. } => rentals.as_ref().and_then(|rows| {
                    let rid = rental_id(order_id)?;
                    let row = rows.iter().find(|r| r.id == rid)?;
                    Some(Seen::Rental {
                        sms: row.sms_received,
                        status: row.status.clone(),
                    })
                }),
            };
            if now.is_some_and(|now| &now != seen) {
                changed.push(*id);
            }
        }
        changed
    }

    /// A list, or `None` when it could not be read this round (logged; the next round retries).
    async fn fetch<T: for<'de> serde::Deserialize<'de>>(
        &self,
        path: &[&str],
        field: &str,
        limit: Option<u32>,
    ) -> Option<Vec<T>> {
        let mut request = Request::get(path).query("limit", limit);
        if field == "rentals" {
            request = request.query("status", Some("all"));
        }
        match self.http.send::<Listed<T>>(request).await {
            Ok(listed) => Some(listed.rows(field)),
            Err(e) => {
                tracing::warn!(error = %e, "SMS poll round failed; trying again next round");
                None
            }
        }
    }

    /// An activation's state from its detail (C2), in the terms of `seen`.
    async fn detail(&self, order_id: &str, seen: &Seen) -> Option<Seen> {
        let row: OrderRow = match self
            .http
            .send(Request::get(&["customer", "order", order_id]))
            .await
        {
            Ok(row) => row,
            // Gone or refused: wake the subscriber so it reads (and reports) the error itself.
            Err(e) if e.kind() != ErrorKind::Transient => return Some(Seen::Messages(usize::MAX)),
            Err(_) => return None,
        };
        Some(match seen {
            Seen::Messages(_) => Seen::Messages(row.sms().len()),
            _ => Seen::Status(row.status),
        })
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

    /// One round of wait_for_sms: the order now if something new is there or it ended, else
    /// the order after the poller sees it change, or as it was when `window` passes.
    pub(super) async fn wait_round(
        &self,
        order_id: &str,
        since: Option<&str>,
        window: Duration,
    ) -> Result<SmsPoll> {
        let (poll, seen) = self.snapshot(order_id).await?;
        let seen_before = since
            .and_then(|s| poll.messages.iter().position(|m| m.id == s))
            .map_or(0, |i| i + 1);
        if poll.messages.len() > seen_before || status::is_terminal(&poll.status) {
            return Ok(poll);
        }
        let mut subscription = self.poller.subscribe(order_id, seen);
        tokio::select! {
            _ = subscription.woken.changed() => {}
            _ = tokio::time::sleep(window) => return Ok(poll),
        }
        drop(subscription);
        Ok(self.snapshot(order_id).await?.0)
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
        status: super::wire::rental_status(&row.status, row.sms_received).to_owned(),
        messages,
        code: None,
        note: (row.sms_received > 0).then(|| {
            "An SMS arrived on this rental, but VirtualSMS v1 does not return rental SMS texts \
             through its REST API: read it in the VirtualSMS dashboard."
                .to_owned()
        }),
    }
}
