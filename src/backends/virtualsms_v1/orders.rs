//! Activation orders on v1: purchase (C1), detail (C2), history (C3), cancel (C4), swap (C5).
//!
//! A purchase is sent once and never repeated: v1 ignores idempotency keys on orders, so a retry
//! could buy twice. When its answer is lost (a timeout, a broken connection, a 5xx that is not
//! "out of stock", an unreadable 2xx), the order history is read instead: exactly one new order
//! for that service and country is the purchase; none means nothing was bought; anything else is
//! reported as unknown with what to check.
//!
//! Cancel and swap check `cancel_available_at` / `swap_available_at` first, so a cooldown is
//! reported with the seconds left instead of provoking a 425.

use std::time::{Duration, SystemTime};

use serde_json::json;

use super::wire::{order_status, v1_statuses, Listed, OrderRow};
use super::{COOLDOWN, V1};
use crate::backends::{ApiError, ErrorKind, Result};
use crate::domain::{status, Order, Page};
use crate::transport::Request;

/// The most orders asked of the history (C3) at once: the openapi file allows `limit` up to 200;
/// the SDK comments say the server keeps 50 **(assumed: asking 200 is harmless; fewer may come)**.
pub(super) const HISTORY_CAP: u32 = 200;
/// How far the server's clock may trail ours when matching a lost purchase by `created_at`
/// **(assumed)**.
const CLOCK_SKEW: Duration = Duration::from_secs(120);
/// Before concluding "nothing was bought" after a timeout, look once more after this pause.
const SETTLE: Duration = Duration::from_secs(2);

/// Seconds until an RFC 3339 time, when it is in the future.
fn seconds_until(at: Option<&str>) -> Option<u64> {
    let at = chrono::DateTime::parse_from_rfc3339(at?).ok()?;
    let now = chrono::DateTime::<chrono::Utc>::from(SystemTime::now());
    let left = at.signed_duration_since(now).num_milliseconds();
    (left > 0).then(|| (left as u64).div_ceil(1000))
}

/// Whether `created_at` is at or after `since` (less the clock skew).
fn created_since(created_at: Option<&str>, since: SystemTime) -> bool {
    let Some(at) = created_at.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) else {
        return false;
    };
    let floor = chrono::DateTime::<chrono::Utc>::from(since - CLOCK_SKEW);
    at >= floor
}

/// Kinds after which a POST may have taken effect.
pub(super) fn maybe_done(e: &ApiError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::OutcomeUnknown | ErrorKind::Transient | ErrorKind::BadAnswer
    )
}

impl V1 {
    /// C2 `GET /customer/order/{id}`.
    pub(super) async fn order_row(&self, order_id: &str) -> Result<OrderRow> {
        self.http
            .send(Request::get(&["customer", "order", order_id]))
            .await
    }

    /// C3 `GET /customer/orders?limit=N`, newest first (a bare array is accepted too).
    async fn history(&self, limit: u32) -> Result<Vec<OrderRow>> {
        let listed: Listed<OrderRow> = self
            .http
            .send(Request::get(&["customer", "orders"]).query("limit", Some(limit)))
            .await?;
        Ok(listed.rows("orders"))
    }

    /// C1 `POST /customer/purchase {service, country}`: sent once; a lost answer is reconciled.
    pub(super) async fn purchase(&self, service: &str, country: &str) -> Result<Order> {
        let code = self.code(service).await?;
        let country = country.to_ascii_uppercase();
        let sent_at = SystemTime::now();
        let answer = self
            .http
            .send::<OrderRow>(
                Request::post(&["customer", "purchase"])
                    .json(&json!({ "service": code, "country": country })),
            )
            .await;
        let row = match answer {
            Ok(row) => row,
            Err(e) if maybe_done(&e) => return self.reconcile(&code, &country, sent_at, e).await,
            Err(e) => return Err(e),
        };
        self.remember(&row.order_id);
        Ok(row.into_domain())
    }

    /// The purchase's answer was lost: find what it did in the order history.
    async fn reconcile(
        &self,
        code: &str,
        country: &str,
        sent_at: SystemTime,
        lost: ApiError,
    ) -> Result<Order> {
        tracing::warn!(error = %lost, "purchase answer lost; reading the order history instead of retrying");
        let mut looked = 0;
        loop {
            looked += 1;
            let rows = match self.history(HISTORY_CAP).await {
                Ok(rows) => rows,
                Err(e) => {
                    return Err(ApiError::rule(
                        ErrorKind::OutcomeUnknown,
                        format!(
                            "the purchase of a {code} number in {country} got no usable answer \
                             ({lost}), and the order history could not be read to check it \
                             ({e}); the purchase was NOT repeated (VirtualSMS v1 does not \
                             deduplicate purchases), so at most one number was bought"
                        ),
                    ))
                }
            };
            let new: Vec<OrderRow> = rows
                .into_iter()
                .filter(|r| {
                    r.service
                        .as_deref()
                        .is_some_and(|s| s.eq_ignore_ascii_case(code))
                        && r.country
                            .as_deref()
                            .is_some_and(|c| c.eq_ignore_ascii_case(country))
                        && created_since(r.created_at.as_deref(), sent_at)
                        && !self.is_known(&r.order_id)
                })
                .collect();
            match new.as_slice() {
                [found] => {
                    self.remember(&found.order_id);
                    let mut order = found.clone().into_domain();
                    order.note = Some(format!(
                        "The purchase answer was lost ({lost}), so this order was found in the \
                         order history instead: the one new {code} order in {country} since the \
                         request. The purchase was sent once, not repeated."
                    ));
                    return Ok(order);
                }
                [] if looked == 1 && lost.kind() == ErrorKind::OutcomeUnknown => {
                    // A timed-out purchase may still be landing: look once more.
                    tokio::time::sleep(SETTLE).await;
                }
                [] => {
                    return Err(ApiError::rule(
                        ErrorKind::Transient,
                        format!(
                            "the purchase of a {code} number in {country} got no usable answer \
                             ({lost}), and the order history shows no new {code} order in \
                             {country} since then: nothing was bought. Calling create_order \
                             again is safe"
                        ),
                    ))
                }
                many => {
                    let ids: Vec<&str> = many.iter().map(|r| r.order_id.as_str()).collect();
                    return Err(ApiError::rule(
                        ErrorKind::OutcomeUnknown,
                        format!(
                            "the purchase of a {code} number in {country} got no usable answer \
                             ({lost}), and the order history shows {} new {code} orders in \
                             {country} since then ({}), so which one is this purchase is \
                             unclear; the purchase was not repeated",
                            many.len(),
                            ids.join(", ")
                        ),
                    ));
                }
            }
        }
    }

    /// C3 paged here: v1 has no offset and keeps a limited history; the tools' status filter is
    /// applied here too (the server's `status=` is not known to filter). Rentals are merged in
    /// (E7) **(assumed)** so their `rental:` ids can be found; `total` is unknown.
    pub(super) async fn orders_page(
        &self,
        status_filter: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Page<Order>> {
        let asked = if status_filter.is_some() {
            HISTORY_CAP
        } else {
            offset.saturating_add(limit).min(HISTORY_CAP)
        };
        let rows = if status_filter.is_some_and(|s| v1_statuses(s).is_none()) {
            Vec::new() // e.g. `released`, `confirmed`: no activation is ever in that state
        } else {
            self.history(asked).await?
        };
        let fetched = rows.len() as u32;
        let mut orders: Vec<Order> = rows.into_iter().map(OrderRow::into_domain).collect();
        orders.extend(self.rentals_for_list().await);
        orders.retain(|o| status_filter.is_none_or(|s| o.status == s));
        orders.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        let matched = orders.len();
        let data: Vec<Order> = orders
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect();
        let more_here = matched > offset as usize + data.len();
        let more_there = fetched == asked && asked < HISTORY_CAP;
        Ok(Page {
            has_more: Some(more_here || (more_there && !data.is_empty())),
            data,
            limit: Some(limit),
            offset: Some(offset),
            total: None,
        })
    }

    /// C2, then refuses (without a request) an order that is not `waiting` or still in its
    /// cooldown: `when` is the order's `*_available_at`.
    async fn precheck(
        &self,
        order_id: &str,
        action: &str,
        when: fn(&OrderRow) -> Option<&str>,
    ) -> Result<OrderRow> {
        let row = self.order_row(order_id).await?;
        let state = order_status(&row.status);
        if state != status::WAITING {
            let why = if state == status::RECEIVED {
                "the SMS already arrived, so there is nothing to refund or replace".to_owned()
            } else {
                format!("it is {state}")
            };
            return Err(ApiError::rule(
                ErrorKind::Conflict,
                format!("order {order_id} cannot {action}: {why}"),
            ));
        }
        if let Some(left) = seconds_until(when(&row)) {
            return Err(too_early(order_id, action, left));
        }
        Ok(row)
    }

    /// C4 `POST /customer/cancel/{id}`: a full refund, after the cooldown, before an SMS.
    pub(super) async fn cancel(&self, order_id: &str) -> Result<Order> {
        let row = self
            .precheck(order_id, "be cancelled", |r| {
                r.cancel_available_at.as_deref()
            })
            .await?;
        #[derive(serde::Deserialize)]
        struct Cancelled {
            #[serde(default)]
            refund_amount: Option<f64>,
            #[serde(default)]
            status: Option<String>,
        }
        let answer: Cancelled = self
            .http
            .send(Request::post(&["customer", "cancel", order_id]))
            .await
            .map_err(|e| unknown_after(e, order_id, "cancel"))?;
        let mut order = row.into_domain();
        order.status = order_status(answer.status.as_deref().unwrap_or("cancelled")).to_owned();
        order.refunded = answer.refund_amount.or(order.price);
        Ok(order)
    }

    /// C5 `POST /customer/swap/{id}`: a new number, free; the answer's `order_id` may be new.
    pub(super) async fn swap(&self, order_id: &str) -> Result<Order> {
        let row = self
            .precheck(order_id, "be swapped", |r| r.swap_available_at.as_deref())
            .await?;
        let answer: OrderRow = self
            .http
            .send(Request::post(&["customer", "swap", order_id]))
            .await
            .map_err(|e| unknown_after(e, order_id, "swap"))?;
        self.remember(&answer.order_id);
        let mut order = answer.into_domain();
        order.price = order.price.or(row.price);
        if order.order_id != order_id {
            order.note = Some(format!(
                "The swap replaced order {order_id} with order {}: use the new id from now on.",
                order.order_id
            ));
        }
        Ok(order)
    }
}

/// A cooldown not over yet (from the pre-check).
fn too_early(order_id: &str, action: &str, seconds: u64) -> ApiError {
    ApiError::rule(
        ErrorKind::TooEarly,
        format!(
            "order {order_id} can {action} in {seconds} s: VirtualSMS holds every number for {} s \
             after purchase. Wait {seconds} s, then call once more",
            COOLDOWN.as_secs()
        ),
    )
}

/// A cancel or swap whose answer was lost: it was not repeated; say how to check.
fn unknown_after(e: ApiError, order_id: &str, action: &str) -> ApiError {
    if !maybe_done(&e) || e.kind() == ErrorKind::OutcomeUnknown {
        return e;
    }
    ApiError::rule(
        ErrorKind::OutcomeUnknown,
        format!(
            "the {action} of order {order_id} got no usable answer ({e}); it was not repeated. \
             get_order {order_id} shows whether it took effect"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Now plus `secs` (negative: ago), as RFC 3339.
    fn at(secs: i64) -> String {
        let now = chrono::DateTime::<chrono::Utc>::from(SystemTime::now());
        (now + chrono::Duration::seconds(secs)).to_rfc3339()
    }

    #[test]
    fn future_times_give_whole_seconds_left_and_past_ones_none() {
        let left = seconds_until(Some(&at(90))).unwrap();
        assert!((89..=90).contains(&left), "{left}");
        assert_eq!(seconds_until(Some(&at(-5))), None);
        assert_eq!(seconds_until(Some("not a time")), None);
    }

    #[test]
    fn created_since_allows_for_clock_skew_only() {
        let now = SystemTime::now();
        assert!(created_since(Some(&at(-30)), now));
        assert!(!created_since(Some(&at(-600)), now));
        assert!(!created_since(None, now));
    }
}
