//! Orders on SMSCode (`../shared/api/smscode.md` §3 C, §7): purchase (C1) with the fallback to
//! the next product, detail (C2), cancel (C3), complete (C4, **(assumed)** path), list (C5,
//! **(assumed)** endpoint).
//!
//! A purchase is sent once and never repeated. The products of the service and country are read
//! afresh, cheapest in stock first; `PRODUCT_UNAVAILABLE` in an answer means that product sold
//! out since and nothing was bought, so the next one is tried (at most [`MAX_PRODUCTS`]). Any
//! other failure stops: a lost or unreadable answer (timeout, broken connection, 5xx, bad JSON)
//! is reconciled through the order list — exactly one new order of that product since the
//! request is the purchase; none means nothing was bought; anything else is reported as unknown
//! — and never followed by another product, which could buy twice.
//!
//! The order answer carries no price: the price shown is the catalog price of the product bought
//! **(assumed equal to the charge)**, and the order's `note` says so.

use std::time::{Duration, SystemTime};

use serde_json::json;

use super::catalog::{no_stock, Place};
use super::errors::product_unavailable;
use super::wire::{OrderRow, Product};
use super::{Placed, SmsCode};
use crate::backends::{ApiError, ErrorKind, Result};
use crate::domain::{status, Order, Page};
use crate::transport::Request;

/// At most this many products are tried for one purchase (contract §7 create_order).
pub const MAX_PRODUCTS: usize = 3;
/// How far the server's clock may trail ours when matching a lost purchase **(assumed)**.
const CLOCK_SKEW: Duration = Duration::from_secs(120);
/// Before concluding "nothing was bought" after a timeout, look once more after this pause.
const SETTLE: Duration = Duration::from_secs(2);

/// Kinds after which a POST may have taken effect.
fn maybe_done(e: &ApiError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::OutcomeUnknown | ErrorKind::Transient | ErrorKind::BadAnswer
    )
}

fn created_since(created_at: Option<&str>, since: SystemTime) -> bool {
    let Some(at) = created_at.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) else {
        return false;
    };
    at >= chrono::DateTime::<chrono::Utc>::from(since - CLOCK_SKEW)
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl SmsCode {
    /// C2 `GET /orders/{id}`.
    pub(super) async fn order_row(&self, order_id: &str) -> Result<OrderRow> {
        self.call(Request::get(&["orders", order_id])).await
    }

    /// C5 `GET /orders` **(assumed)**: every order of the token, no paging known.
    async fn order_list(&self) -> Result<Vec<OrderRow>> {
        self.call(Request::get(&["orders"])).await
    }

    /// A row in the tools' words, with what this process remembers of the order, else what the
    /// cached catalog says of its product.
    pub(super) async fn to_domain(&self, row: OrderRow) -> Order {
        if let Some(p) = self.placed(&row.order_id) {
            return row.into_domain(Some(p.service), Some(p.country), p.price);
        }
        let product = match row.product_id {
            Some(id) => self
                .all_products()
                .await
                .ok()
                .and_then(|all| all.iter().find(|p| p.id == id).cloned()),
            None => None,
        };
        let service = row
            .platform
            .clone()
            .or(product.as_ref().map(|p| p.platform.clone()));
        let country = row
            .country
            .as_deref()
            .or(product.as_ref().map(|p| p.country.as_str()))
            .map(Self::shown);
        let catalog_price = row
            .price
            .is_none()
            .then(|| product.as_ref()?.price)
            .flatten();
        let mut order = row.into_domain(service, country, catalog_price);
        if catalog_price.is_some() {
            add_note(
                &mut order,
                "The price is the product's current catalog price: SMSCode's order answers do not \
                 carry the price charged.",
            );
        }
        order
    }

    /// create_order: the cheapest product in stock, then the next on `PRODUCT_UNAVAILABLE`.
    pub(super) async fn purchase(&self, service: &str, country: &str) -> Result<Order> {
        let place = self.place(country).await?;
        let candidates = self.candidates(service, &place).await?;
        if candidates.is_empty() {
            return Err(no_stock(service, &place));
        }
        let mut sold_out: Vec<u64> = Vec::new();
        for (product, price) in candidates.into_iter().take(MAX_PRODUCTS) {
            let sent_at = SystemTime::now();
            let answer: Result<OrderRow> = self
                .call(Request::post(&["orders"]).json(&json!({ "product_id": product.id })))
                .await;
            let row = match answer {
                Ok(row) => row,
                Err(e) if product_unavailable(&e) => {
                    tracing::info!(
                        product = product.id,
                        "SMSCode product sold out since the catalog read; trying the next"
                    );
                    sold_out.push(product.id);
                    continue;
                }
                Err(e) if maybe_done(&e) => {
                    return self
                        .reconcile(service, &place, &product, price, sent_at, e)
                        .await
                }
                Err(e) => return Err(e),
            };
            tracing::info!(order_id = %row.order_id, product = product.id, price, "SMSCode order placed");
            return Ok(self.bought(row, service, &place, &product, price, &sold_out, None));
        }
        Err(ApiError::rule(
            ErrorKind::NoStock,
            format!(
                "SMSCode answered PRODUCT_UNAVAILABLE for {} product(s) of {service} in {} ({}): \
                 they sold out since the catalog was read, and nothing was bought",
                sold_out.len(),
                place.shown,
                sold_out
                    .iter()
                    .map(|id| format!("#{id}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }

    /// The order just bought, remembered, with the note on its price.
    #[allow(clippy::too_many_arguments)]
    fn bought(
        &self,
        mut row: OrderRow,
        service: &str,
        place: &Place,
        product: &Product,
        price: f64,
        sold_out: &[u64],
        reconciled: Option<String>,
    ) -> Order {
        self.remember(
            &row.order_id,
            Placed {
                service: service.to_owned(),
                country: place.shown.clone(),
                price: Some(price),
            },
        );
        // C1 answers WAITING; an answer without a status is a fresh order all the same.
        row.status.get_or_insert_with(|| "WAITING".to_owned());
        let mut order = row.into_domain(
            Some(service.to_owned()),
            Some(place.shown.clone()),
            Some(price),
        );
        order.created_at = order.created_at.or_else(|| Some(now_rfc3339()));
        let mut note = format!(
            "SMSCode's order answer carries no price: {price:.0} IDR is the catalog price of \
             product #{} bought.",
            product.id
        );
        if !sold_out.is_empty() {
            note.push_str(&format!(
                " Cheaper product(s) {} sold out before the order (nothing was charged for \
                 them), so the next cheapest was bought.",
                sold_out
                    .iter()
                    .map(|id| format!("#{id}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(how) = reconciled {
            note.push(' ');
            note.push_str(&how);
        }
        add_note(&mut order, &note);
        order
    }

    /// The purchase's answer was lost: find what it did in the order list (C5).
    async fn reconcile(
        &self,
        service: &str,
        place: &Place,
        product: &Product,
        price: f64,
        sent_at: SystemTime,
        lost: ApiError,
    ) -> Result<Order> {
        tracing::warn!(error = %lost, product = product.id, "SMSCode purchase answer lost; reading the order list instead of retrying");
        let what = format!(
            "the purchase of {service} product #{} in {}",
            product.id, place.shown
        );
        let mut looked = 0;
        loop {
            looked += 1;
            let rows = match self.order_list().await {
                Ok(rows) => rows,
                Err(e) => {
                    return Err(ApiError::rule(
                        ErrorKind::OutcomeUnknown,
                        format!(
                            "{what} got no usable answer ({lost}), and SMSCode's order list could \
                             not be read to check it ({e}); the purchase was NOT repeated \
                             (SMSCode does not deduplicate purchases), so at most one number \
                             was bought"
                        ),
                    ))
                }
            };
            let new: Vec<OrderRow> = rows
                .into_iter()
                .filter(|r| {
                    let same = match (r.product_id, &r.platform) {
                        (Some(id), _) => id == product.id,
                        (None, Some(p)) => p.eq_ignore_ascii_case(service),
                        (None, None) => true,
                    };
                    same && created_since(r.created_at.as_deref(), sent_at)
                        && self.placed(&r.order_id).is_none()
                })
                .collect();
            match new.as_slice() {
                [found] => {
                    let how = format!(
                        "The purchase answer was lost ({lost}), so this order was found in the \
                         order list instead: the one new order of that product since the \
                         request. The purchase was sent once, not repeated."
                    );
                    return Ok(self.bought(
                        found.clone(),
                        service,
                        place,
                        product,
                        price,
                        &[],
                        Some(how),
                    ));
                }
                [] if looked == 1 && lost.kind() == ErrorKind::OutcomeUnknown => {
                    tokio::time::sleep(SETTLE).await;
                }
                [] => {
                    return Err(ApiError::rule(
                        ErrorKind::Transient,
                        format!(
                            "{what} got no usable answer ({lost}), and SMSCode's order list \
                             shows no new order of that product since then: nothing was \
                             bought. Calling create_order again is safe"
                        ),
                    ))
                }
                many => {
                    let ids: Vec<&str> = many.iter().map(|r| r.order_id.as_str()).collect();
                    return Err(ApiError::rule(
                        ErrorKind::OutcomeUnknown,
                        format!(
                            "{what} got no usable answer ({lost}), and SMSCode's order list \
                             shows {} new orders of that product since then ({}), so which one \
                             is this purchase is unclear; the purchase was not repeated",
                            many.len(),
                            ids.join(", ")
                        ),
                    ));
                }
            }
        }
    }

    pub(super) async fn order(&self, order_id: &str) -> Result<Order> {
        let row = self.order_row(order_id).await?;
        Ok(self.to_domain(row).await)
    }

    /// C5, filtered and paged here (no paging is known); newest first. Without C5 (404/405),
    /// the orders this process placed, read one by one, and each says so.
    pub(super) async fn orders_page(
        &self,
        status_filter: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Page<Order>> {
        let (rows, from_memory) = match self.order_list().await {
            Ok(rows) => (rows, false),
            Err(e) if matches!(e.status(), Some(404 | 405)) && e.kind() == ErrorKind::Other => {
                tracing::warn!(error = %e, "SMSCode has no order list; listing the orders this process placed");
                let mut rows = Vec::new();
                for id in self.placed_ids() {
                    match self.order_row(&id).await {
                        Ok(row) => rows.push(row),
                        Err(e) => tracing::warn!(order_id = %id, error = %e, "order not readable"),
                    }
                }
                (rows, true)
            }
            Err(e) => return Err(e),
        };
        let mut orders = Vec::with_capacity(rows.len());
        for row in rows {
            if status_filter.is_none_or(|s| row.status() == s) {
                let mut order = self.to_domain(row).await;
                if from_memory {
                    add_note(
                        &mut order,
                        "SMSCode answered no order list: only orders this server placed are \
                         listed.",
                    );
                }
                orders.push(order);
            }
        }
        orders.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        let total = orders.len();
        let data: Vec<Order> = orders
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect();
        Ok(Page {
            has_more: Some(total > offset as usize + data.len()),
            data,
            limit: Some(limit),
            offset: Some(offset),
            total: Some(total as u64),
        })
    }

    /// C3: refunds before the code; after it, accepted with no refund (the note warns).
    pub(super) async fn cancel(&self, order_id: &str) -> Result<Order> {
        let before = self.order_row(order_id).await?;
        let was = before.status();
        if status::is_terminal(was) {
            return Err(ApiError::rule(
                ErrorKind::Conflict,
                format!("order {order_id} cannot be cancelled: it is already {was}"),
            ));
        }
        let answer: Result<serde_json::Value> = self
            .call(Request::post(&["orders", order_id, "cancel"]))
            .await;
        let after = answer.map_err(|e| unknown_after(e, order_id, "cancel"))?;
        // The cancel answer is not shown in the guide (assumed: the order).
        let after = serde_json::from_value::<OrderRow>(after).ok();
        let mut order = self.to_domain(after.unwrap_or(before)).await;
        if order.status != status::CANCELLED {
            order.status = status::CANCELLED.to_owned();
        }
        if was == status::WAITING {
            order.refunded = order.price;
        } else {
            order.refunded = Some(0.0);
            add_note(
                &mut order,
                "Cancelled after the code arrived: SMSCode refunds nothing in that case.",
            );
        }
        Ok(order)
    }

    /// C4 `POST /orders/{id}/complete` **(assumed)**, after the code only; an answer of 404
    /// (no ORDER_NOT_FOUND) or 405 means there is no such call: the order as it stands.
    pub(super) async fn complete(&self, order_id: &str) -> Result<Order> {
        let before = self.order_row(order_id).await?;
        match before.status() {
            status::CONFIRMED => return Ok(self.to_domain(before).await),
            status::WAITING => {
                return Err(ApiError::rule(
                    ErrorKind::NoSmsYet,
                    format!("order {order_id} has no code yet, so there is nothing to complete"),
                ))
            }
            s if status::is_terminal(s) => {
                return Err(ApiError::rule(
                    ErrorKind::Conflict,
                    format!("order {order_id} cannot be completed: it is {s}"),
                ))
            }
            _ => {}
        }
        let answer: Result<serde_json::Value> = self
            .call(Request::post(&["orders", order_id, "complete"]))
            .await;
        match answer {
            Ok(after) => {
                let after = serde_json::from_value::<OrderRow>(after).ok();
                let mut order = self.to_domain(after.unwrap_or(before)).await;
                order.status = status::CONFIRMED.to_owned();
                Ok(order)
            }
            Err(e) if matches!(e.status(), Some(404 | 405)) && e.kind() == ErrorKind::Other => {
                let mut order = self.to_domain(before).await;
                add_note(
                    &mut order,
                    "SMSCode has no complete call here: this provider finishes orders on its own.",
                );
                Ok(order)
            }
            Err(e) => Err(unknown_after(e, order_id, "completion")),
        }
    }
}

/// Appends `text` to the order's note.
fn add_note(order: &mut Order, text: &str) {
    order.note = Some(match order.note.take() {
        Some(n) => format!("{n} {text}"),
        None => text.to_owned(),
    });
}

/// A cancel or complete whose answer was lost: it was not repeated; say how to check.
fn unknown_after(e: ApiError, order_id: &str, action: &str) -> ApiError {
    if !maybe_done(&e) || e.kind() == ErrorKind::OutcomeUnknown {
        return e;
    }
    ApiError::rule(
        ErrorKind::OutcomeUnknown,
        format!(
            "the {action} of SMSCode order {order_id} got no usable answer ({e}); it was not \
             repeated. get_order {order_id} shows whether it took effect"
        ),
    )
}
