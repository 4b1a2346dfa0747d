//! wait_for_sms on smsVerificationService, which has no long-poll and no list that shows codes:
//! each waited order costs one status read (E2) per round, so ONE poller per backend (the shared
//! core of [`crate::backends::poller`]) reads every waited order once per round and hands the
//! same answer to every wait on it, within the provider's 60 requests a minute
//! (`../shared/api/smsverificationservice.md` §6 wait_for_sms).
//!
//! Rounds run every poll interval (5 s by default), twice that while 3 or more orders are waited
//! on (each costs a request per round), and the transport's pacer keeps the total under the
//! rate limit whatever happens. The task stops when the last wait ends.

use std::sync::Arc;
use std::time::Duration;

use super::orders::{apply_status, bare_order, sms_of};
use super::wire::{self, StatusRow};
use super::{call, order_number, SmsVerificationService};
use crate::backends::poller::{self, EachOrder, Wait};
use crate::backends::{ApiError, ErrorKind, Result};
use crate::domain::SmsPoll;
use crate::transport::{Request, Transport};

/// From this many orders waited on at once, rounds are spaced twice as far (§6).
const BUSY: usize = 3;

/// smsVerificationService's poller: waits watch order ids.
pub(super) type Poller = poller::Poller<Reader>;

/// What a round read for one order: its E2 answer, or why it could not be read.
type Reading = std::result::Result<StatusRow, (ErrorKind, String)>;

/// A round's reads: one E2 per waited order; every reading is published, errors too (the waits
/// tell the passing ones from the others).
pub(super) struct Reader {
    http: Transport,
}

/// The backend's poller, reading through its paced transport.
pub(super) fn new(http: Transport, interval: Duration) -> Arc<Poller> {
    Arc::new(Poller::new(Reader { http }, interval))
}

impl EachOrder for Reader {
    type Snapshot = Reading;

    fn pause(&self, interval: Duration, watched: usize) -> Duration {
        if watched >= BUSY {
            interval * 2
        } else {
            interval
        }
    }

    /// One E2 read.
    async fn read(&self, order_id: &str) -> Option<Reading> {
        Some(self.status(order_id).await)
    }
}

impl Reader {
    async fn status(&self, order_id: &str) -> Reading {
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
    /// or a final state, or when the window passes (then with the order as last read).
    pub(super) async fn wait_round(&self, wait: Wait<'_>) -> Result<SmsPoll> {
        let order_id = wait.order_id;
        order_number(order_id)?;
        let released = self.placed(order_id).is_some_and(|m| m.released);
        let poll_of = |reading: Reading| async move {
            match reading {
                Ok(row) => Ok(Some(to_poll(order_id, &row, released))),
                // A passing failure decides nothing; the next round reads again.
                Err((ErrorKind::Transient | ErrorKind::RateLimited, e)) => {
                    tracing::warn!(error = %e, "SMS poll round failed; trying again next round");
                    Ok(None)
                }
                Err((kind, e)) => Err(ApiError::rule(kind, e)),
            }
        };
        let fresh = |poll: &SmsPoll| {
            poll.messages
                .first()
                .is_some_and(|m| Some(m.id.as_str()) != wait.since)
        };
        self.poller.wait_round(wait, poll_of, fresh).await
    }
}

/// An E2 answer as a wait round reports it.
fn to_poll(order_id: &str, row: &StatusRow, released: bool) -> SmsPoll {
    let mut order = bare_order(order_id);
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
