//! wait_for_sms on SMSCode, which has no long-poll (webhooks only, which a stdio server cannot
//! receive: `../shared/api/smscode.md` §3 D): one poller per backend serves every wait, on the
//! shared core of [`crate::backends::poller`].
//!
//! A round reads each waited order once (C2), however many waits share it, through the backend's
//! paced transport, so the requests stay within SMSCode's 300 per minute (about 25 orders at 5 s,
//! the guide's interval; more orders make the rounds slower, never the rate higher). Each order's
//! latest answer is published to its waiters, who decide for themselves whether it is news. A
//! failed read is retried next round when it may pass (network, 5xx, 429); any other error wakes
//! the waiters, who read the order themselves and report the error.

use std::sync::Arc;
use std::time::Duration;

use super::wire::{otp_message_id, Envelope, OrderRow};
use super::SmsCode;
use crate::backends::poller::{self, EachOrder, Wait};
use crate::backends::{ErrorKind, Result};
use crate::domain::SmsPoll;
use crate::transport::{Request, Transport};

/// SMSCode's poller: waits watch order ids.
pub(super) type Poller = poller::Poller<Reader>;

/// The backend's poller, reading through its paced transport.
pub(super) fn new(http: Transport, interval: Duration) -> Arc<Poller> {
    Arc::new(Poller::new(Reader { http }, interval))
}

/// What a round learnt about one order.
#[derive(Debug, Clone)]
pub(super) enum Snapshot {
    Row(Box<OrderRow>),
    /// The read failed for good (not found, refused): waiters read it themselves.
    Failed,
}

/// A round's reads: one C2 per waited order.
pub(super) struct Reader {
    http: Transport,
}

impl EachOrder for Reader {
    type Snapshot = Snapshot;

    /// One C2 read, or `None` when it failed in a way that may pass (logged; read next round).
    async fn read(&self, id: &str) -> Option<Snapshot> {
        match self
            .http
            .send::<Envelope>(Request::get(&["orders", id]))
            .await
            .map_err(|e| (e.kind(), e.to_string()))
            .and_then(|envelope| decode(envelope).ok_or((ErrorKind::Other, String::new())))
        {
            Ok(row) => Some(Snapshot::Row(Box::new(row))),
            Err((
                ErrorKind::Transient
                | ErrorKind::RateLimited
                | ErrorKind::Unreachable
                | ErrorKind::BadAnswer,
                error,
            )) => {
                tracing::warn!(order_id = %id, %error, "SMSCode poll failed; trying again next round");
                None
            }
            Err(_) => Some(Snapshot::Failed),
        }
    }
}

/// A 2xx envelope's order, when it is a success with an order in it.
fn decode(envelope: Envelope) -> Option<OrderRow> {
    if envelope.success == Some(false) || envelope.error.is_some() {
        return None;
    }
    serde_json::from_value(envelope.data?).ok()
}

impl SmsCode {
    /// One round of wait_for_sms: returns when the poller sees a code the caller has not seen
    /// (`since` is the code's message id `<order_id>:otp`) or a final state, or when the window
    /// passes (then with the order as last seen).
    pub(super) async fn wait_round(&self, wait: Wait<'_>) -> Result<SmsPoll> {
        let order_id = wait.order_id;
        let code_seen = wait.since == Some(otp_message_id(order_id).as_str());
        let to_poll = |snapshot| async move {
            Ok(Some(match snapshot {
                Snapshot::Row(row) => row.to_poll(),
                // Read it here, so the error (or the order, if it passed) is this wait's own.
                Snapshot::Failed => self.order_row(order_id).await?.to_poll(),
            }))
        };
        let news = |poll: &SmsPoll| poll.code.is_some() && !code_seen;
        self.poller.wait_round(wait, to_poll, news).await
    }
}
