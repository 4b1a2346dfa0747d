//! Rentals on v1 (contract §3.E, all [CODE]): the Full Access tier only (E2, E5, E7–E10), shown to
//! the tools as orders with ids `rental:<rental_id>`. The Platform tier (E6) needs an internal
//! integer country table that is not public, so it is not used **(assumed)**.
//!
//! v1 has no GET of one rental (E7 lists them, `status=all`), no SMS texts for rentals (only a
//! count), and two ways to end one: a full-refund cancel within 20 minutes and before any SMS
//! (E9), and a pro-rated early release after a 2-hour hold (E10) whose refund terms are unsettled,
//! so it is used only with `VIRTUALSMS_ENABLE_RELEASE=1` (the official server gates it too).

use std::time::{Duration, SystemTime};

use serde_json::json;

use super::wire::{Listed, RentalRow};
use super::{RENTAL_PREFIX, V1};
use crate::backends::{ApiError, ErrorKind, Result};
use crate::config::env;
use crate::domain::Order;
use crate::transport::Request;

/// E9: a rental can be cancelled with a full refund this long after purchase, before any SMS.
const CANCEL_WINDOW: Duration = Duration::from_secs(20 * 60);

/// How long ago an RFC 3339 time was.
fn age(at: Option<&str>) -> Option<Duration> {
    let at = chrono::DateTime::parse_from_rfc3339(at?).ok()?;
    let now = chrono::DateTime::<chrono::Utc>::from(SystemTime::now());
    at.signed_duration_since(now)
        .num_seconds()
        .checked_neg()
        .and_then(|s| u64::try_from(s).ok())
        .map(Duration::from_secs)
}

impl V1 {
    /// E7 `GET /rentals?status=all` (a bare array; `{rentals: [...]}` is accepted too).
    pub(super) async fn rental_rows(&self) -> Result<Vec<RentalRow>> {
        let listed: Listed<RentalRow> = self
            .http
            .send(Request::get(&["rentals"]).query("status", Some("all")))
            .await?;
        Ok(listed.rows("rentals"))
    }

    /// One rental's row, found in E7 (v1 has no GET by id).
    pub(super) async fn rental_row(&self, id: &str) -> Result<RentalRow> {
        self.rental_rows()
            .await?
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| {
                ApiError::rule(
                    ErrorKind::OrderNotFound,
                    format!("no rental {RENTAL_PREFIX}{id} on this account"),
                )
            })
    }

    fn rental_country(&self, id: &str) -> Option<String> {
        self.rental_countries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    fn to_order(&self, row: RentalRow) -> Order {
        let country = self.rental_country(&row.id);
        row.into_domain(country)
    }

    pub(super) async fn rental(&self, id: &str) -> Result<Order> {
        let row = self.rental_row(id).await?;
        Ok(self.to_order(row))
    }

    /// Rentals for list_orders; a deployment without E7 (404) just has none to merge.
    pub(super) async fn rentals_for_list(&self) -> Vec<Order> {
        match self.rental_rows().await {
            Ok(rows) => rows.into_iter().map(|r| self.to_order(r)).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "rentals not listed");
                Vec::new()
            }
        }
    }

    /// E5 `POST /rentals`: the shortest Full Access duration covering `hours`. Sent once.
    pub(super) async fn rent(&self, service: &str, country: &str, hours: u32) -> Result<Order> {
        let (code, _, duration) = self.rental_offer(service, country, hours).await?;
        let upper = country.to_ascii_uppercase();
        let sent_at = SystemTime::now();
        let body = json!({
            "country": upper, "rental_type": "service", "duration_hours": duration,
            "service": code, "auto_renew": false,
        });
        let answer = self
            .http
            .send::<RentalRow>(Request::post(&["rentals"]).json(&body))
            .await;
        let (row, found) = match answer {
            Ok(row) => (row, None),
            Err(e) if super::orders::maybe_done(&e) => {
                (self.reconcile_rental(&code, sent_at, &e).await?, Some(e))
            }
            Err(e) => return Err(e),
        };
        self.remember(&row.id);
        self.rental_countries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(row.id.clone(), country.to_ascii_lowercase());
        let mut order = self.to_order(row);
        order.rental_hours = Some(duration);
        let mut notes = Vec::new();
        if duration != hours {
            notes.push(format!(
                "Rounded up: {hours} h is not a rental period VirtualSMS offers for {code} in \
                 {upper}, so the shortest one covering it, {duration} h, was bought."
            ));
        }
        if let Some(lost) = found {
            notes.push(format!(
                "The rental answer was lost ({lost}), so this rental was found in the rental list \
                 instead; the purchase was sent once, not repeated."
            ));
        }
        order.note = (!notes.is_empty()).then(|| notes.join(" "));
        Ok(order)
    }

    /// The rental's answer was lost: exactly one new rental of `code` since then is it.
    async fn reconcile_rental(
        &self,
        code: &str,
        sent_at: SystemTime,
        lost: &ApiError,
    ) -> Result<RentalRow> {
        let since = sent_at
            .elapsed()
            .unwrap_or_default()
            .saturating_add(Duration::from_secs(120));
        let rows = self.rental_rows().await.map_err(|e| {
            ApiError::rule(
                ErrorKind::OutcomeUnknown,
                format!(
                    "renting a {code} number got no usable answer ({lost}), and the rental list \
                     could not be read to check it ({e}); it was not repeated"
                ),
            )
        })?;
        let mut new: Vec<RentalRow> = rows
            .into_iter()
            .filter(|r| {
                r.service_id
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case(code))
            })
            .filter(|r| age(r.started_at.as_deref()).is_some_and(|a| a <= since))
            .filter(|r| !self.is_known(&r.id))
            .collect();
        match new.len() {
            1 => Ok(new.remove(0)),
            0 => Err(ApiError::rule(
                ErrorKind::Transient,
                format!(
                    "renting a {code} number got no usable answer ({lost}), and the rental list \
                     shows no new {code} rental since then: nothing was bought. Calling \
                     create_order again is safe"
                ),
            )),
            n => Err(ApiError::rule(
                ErrorKind::OutcomeUnknown,
                format!(
                    "renting a {code} number got no usable answer ({lost}), and the rental list \
                     shows {n} new {code} rentals since then; it was not repeated"
                ),
            )),
        }
    }

    /// The price of extending rental `id` by `hours`: the catalog price of that duration when
    /// the country is known (rentals bought by this process), else the rental's own price per
    /// hour times `hours` **(assumed: v1 rental rows do not say their country)**.
    pub(super) async fn extension_quote(&self, id: &str, hours: u32) -> Result<f64> {
        let row = self.rental_row(id).await?;
        if let (Some(country), Some(service)) = (self.rental_country(id), &row.service_id) {
            return Ok(self.rental_offer(service, &country, hours).await?.1);
        }
        match (row.price, row.duration_hours) {
            (Some(price), Some(duration)) if duration > 0 => {
                Ok(price / f64::from(duration) * f64::from(hours))
            }
            _ => Err(ApiError::rule(
                ErrorKind::Other,
                format!(
                    "rental {RENTAL_PREFIX}{id} does not say its price or country, so the \
                     extension's price cannot be checked against the spending limits"
                ),
            )),
        }
    }

    /// E8 `POST /rentals/{id}/extend {duration_hours}`: charged at the current catalog price.
    pub(super) async fn extend(&self, id: &str, hours: u32) -> Result<Order> {
        let before = self.rental_row(id).await?;
        let answer: RentalRow = self
            .http
            .send(
                Request::post(&["rentals", id, "extend"]).json(&json!({ "duration_hours": hours })),
            )
            .await?;
        let rented = before.duration_hours;
        let mut order = self.to_order(before);
        order.expires_at = answer.expires_at.or(order.expires_at);
        order.price = answer.price;
        order.rental_hours = rented.map(|h| h.saturating_add(hours));
        Ok(order)
    }

    /// E9 `POST /rentals/{id}/cancel`: a full refund within 20 minutes, before any SMS.
    pub(super) async fn cancel_rental(&self, id: &str) -> Result<Order> {
        let before = self.rental_row(id).await?;
        self.end_rental(before, "cancel").await
    }

    /// release_rental: the full-refund cancel while the window is open; after it, the
    /// pro-rated release only when enabled.
    pub(super) async fn release(&self, id: &str) -> Result<Order> {
        let row = self.rental_row(id).await?;
        let young = age(row.started_at.as_deref()).is_some_and(|a| a < CANCEL_WINDOW);
        if young && row.sms_received == 0 {
            return self.end_rental(row, "cancel").await;
        }
        if self.enable_release {
            return self.end_rental(row, "release").await;
        }
        Err(ApiError::rule(
            ErrorKind::Conflict,
            format!(
                "rental {RENTAL_PREFIX}{id} runs until {}: the full-refund cancel is only possible \
                 within 20 minutes of purchase and before any SMS. Ending it early with a \
                 pro-rated refund (after a 2-hour hold; refund terms unsettled) needs {}=1",
                row.expires_at.as_deref().unwrap_or("its expiry"),
                env::ENABLE_RELEASE
            ),
        ))
    }

    /// E9 (`cancel`) or E10 (`release`), then the rental as it ends.
    async fn end_rental(&self, row: RentalRow, action: &str) -> Result<Order> {
        let answer: RentalRow = self
            .http
            .send(Request::post(&["rentals", &row.id, action]))
            .await?;
        let mut order = self.to_order(row);
        let ended = super::wire::rental_status(&answer.status, 0);
        order.status = ended.to_owned();
        order.refunded = answer.refund;
        Ok(order)
    }
}
