//! Orders on smsVerificationService (`../shared/api/smsverificationservice.md` §3 D/E, §4, §6):
//! the product-line rule, purchases (D1–D6) sent once and reconciled through the order list (E1)
//! when their answer is lost, the order as E2 shows it enriched from this process's memory,
//! cancel (E3), renewal (E4), the balance (A1/A2) and the stats substitute.
//!
//! The product-line rule (§4): `us` without `rental_hours` → temporary, or best-temp when the
//! service is only there; another country → global; `rental_hours` (US only) rounds **up** to a
//! product: ≤ 24 h rent-1day, ≤ 72 h the 3-day rental line, ≤ 720 h rent-30days (or the 30-day
//! rental line when the service is not on rent-30days); more → refused. The hours actually bought
//! are reported, with a note when they differ from those asked for.

use std::time::{Duration, SystemTime};

use serde_json::json;

use super::wire::{self, BalanceRow, OrderRow, Placed as PlacedWire, StatusRow};
use super::{bad_answer, order_number, Line, Placed, SmsVerificationService, NAME};
use crate::backends::{ApiError, ErrorKind, Result};
use crate::domain::{status, Balance, NewOrder, Order, Page, Sms, Stats};
use crate::transport::Request;

/// E1 lists at most this many orders, newest first, without paging.
const LIST_CAP: usize = 50;
/// How far the provider's clock may trail ours when matching a lost purchase **(assumed)**.
const CLOCK_SKEW: Duration = Duration::from_secs(120);
/// Before concluding "nothing was bought" after a timeout, look once more after this pause.
const SETTLE: Duration = Duration::from_secs(2);

/// What a purchase will buy: the line, the provider's id (or name) of the service there, the
/// country id for the global line, the price read just before, and the hours bought.
#[derive(Debug, Clone)]
pub struct Choice {
    pub line: Line,
    pub service_id: String,
    pub service_name: String,
    pub country_id: Option<String>,
    pub price: f64,
    pub hours: Option<u32>,
}

fn now_rfc3339() -> String {
    chrono::DateTime::<chrono::Utc>::from(SystemTime::now())
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Kinds after which a POST may have taken effect.
fn maybe_done(e: &ApiError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::OutcomeUnknown | ErrorKind::Transient | ErrorKind::BadAnswer
    )
}

/// The rental product that covers `hours` (§4.3), before the catalog decides between the two
/// 30-day lines.
pub fn rental_line(hours: u32) -> Result<Line> {
    match hours {
        0 => Err(invalid_hours(hours)),
        1..=24 => Ok(Line::Rent1Day),
        25..=72 => Ok(Line::Rental(3)),
        73..=720 => Ok(Line::Rent30Days),
        _ => Err(invalid_hours(hours)),
    }
}

fn invalid_hours(hours: u32) -> ApiError {
    ApiError::rule(
        ErrorKind::Invalid,
        format!(
            "invalid argument `rental_hours`: {hours} h; {NAME} rents US numbers for 24 h, 72 h \
             or 720 h (other hours up to 720 buy the next longer product)"
        ),
    )
}

impl SmsVerificationService {
    /// The §4 rule: which line, ids and price `order` buys. Sends only catalog reads.
    pub(super) async fn choose(&self, order: &NewOrder<'_>) -> Result<Choice> {
        let service = order.service;
        let country = order.country;
        let Some(hours) = order.rental_hours else {
            let Some((row, line)) = self.activation_offer(service, country).await? else {
                let place = country.to_ascii_uppercase();
                return Err(self.not_offered(service, &place).await);
            };
            let price = row
                .cost()
                .ok_or_else(|| bad_answer("price", format!("no price for {service}")))?;
            let country_id = match line {
                Line::Global => self.global_country(country).await?.map(|c| c.country_id),
                _ => None,
            };
            return Ok(Choice {
                line,
                service_id: row.service_id.clone(),
                service_name: row.name.clone(),
                country_id,
                price,
                hours: None,
            });
        };
        if country != "us" {
            return Err(ApiError::rule(
                ErrorKind::Invalid,
                format!(
                    "invalid argument `country`: rentals are only sold for US numbers on {NAME}; \
                     use country \"us\", or omit rental_hours for a one-time number in \
                     {country}"
                ),
            ));
        }
        let mut line = rental_line(hours)?;
        let mut offer = self.rental_offer(line, service).await?;
        if offer.is_none() && line == Line::Rent30Days {
            // The service is not on rent-30days: the 30-day rental line (§4.3).
            line = Line::Rental(30);
            offer = self.rental_offer(line, service).await?;
        }
        let Some((service_id, service_name, price)) = offer else {
            return Err(ApiError::rule(
                ErrorKind::ServiceNotFound,
                format!(
                    "{NAME} does not rent {service} numbers as a {}; country_pricing with \
                     country \"us\" and rental true lists what can be rented",
                    line.label()
                ),
            ));
        };
        Ok(Choice {
            line,
            service_id,
            service_name,
            country_id: None,
            price,
            hours: line.period_hours(),
        })
    }

    /// D1–D6: sent once; a lost answer is reconciled through E1, never repeated.
    pub(super) async fn purchase(&self, order: &NewOrder<'_>) -> Result<Order> {
        let choice = self.choose(order).await?;
        let (segments, body): (&[&str], serde_json::Value) = match choice.line {
            Line::Temporary => (
                &["order", "temporary", ""],
                json!({"service_id": int_or_text(&choice.service_id)}),
            ),
            Line::BestTemp => (
                &["order", "best-temp", ""],
                json!({"service_id": int_or_text(&choice.service_id)}),
            ),
            Line::Global => (
                &["order", "global", ""],
                json!({
                    "service_id": int_or_text(&choice.service_id),
                    "country_id": int_or_text(choice.country_id.as_deref().unwrap_or_default()),
                }),
            ),
            Line::Rent1Day => (
                &["order", "rent-1day", ""],
                json!({"service_id": int_or_text(&choice.service_id)}),
            ),
            Line::Rent30Days => (
                &["order", "rent-30days", ""],
                json!({"service_id": int_or_text(&choice.service_id)}),
            ),
            Line::Rental(days) => (
                &["order", "rental", ""],
                json!({"service": choice.service_name, "duration": days}),
            ),
        };
        let sent_at = SystemTime::now();
        let answer = self
            .call(Request::post(segments).json(&body))
            .await
            .and_then(|v| {
                serde_json::from_value::<PlacedWire>(wire::payload(v))
                    .map_err(|e| bad_answer("order", e.to_string()))
            });
        let placed = match answer {
            Ok(placed) => placed,
            Err(e) if maybe_done(&e) => return self.reconcile(order, &choice, sent_at, e).await,
            Err(e) => return Err(e),
        };
        let price = placed.sell_price.or(placed.price).unwrap_or(choice.price);
        let memory = Placed {
            line: choice.line,
            service: order.service.to_owned(),
            country: order.country.to_owned(),
            service_name: choice.service_name.clone(),
            price: Some(price),
            created_at: now_rfc3339(),
            hours: choice.hours,
            released: false,
        };
        self.remember(&placed.order_id, memory.clone());
        let raw = placed.status.as_deref().unwrap_or("pending");
        let mut out = Order {
            provider: None,
            order_id: placed.order_id.clone(),
            service: Some(memory.service.clone()),
            country: Some(memory.country.clone()),
            phone_number: placed.phone.as_deref().map(wire::e164),
            status: wire::tool_status(raw, false, false).to_owned(),
            price: Some(price),
            created_at: Some(memory.created_at.clone()),
            expires_at: placed.expiry_date.clone(),
            rental_hours: choice.hours,
            messages: Vec::new(),
            code: None,
            refunded: None,
            note: None,
        };
        out.note = purchase_note(order, &choice, placed.sell_price.or(placed.price).is_some());
        Ok(out)
    }

    /// The purchase's answer was lost: find what it did in E1 (newest first).
    async fn reconcile(
        &self,
        order: &NewOrder<'_>,
        choice: &Choice,
        sent_at: SystemTime,
        lost: ApiError,
    ) -> Result<Order> {
        tracing::warn!(error = %lost, "purchase answer lost; reading the order list instead of retrying");
        let what = format!("{} {} number", order.service, choice.line.label());
        let mut looked = 0;
        loop {
            looked += 1;
            let rows = match self.order_rows().await {
                Ok(rows) => rows,
                Err(e) => {
                    return Err(ApiError::rule(
                        ErrorKind::OutcomeUnknown,
                        format!(
                            "the purchase of a {what} got no usable answer ({lost}), and the \
                             order list could not be read to check it ({e}); the purchase was \
                             NOT repeated ({NAME} does not deduplicate purchases), so at most \
                             one number was bought. list_orders shows it once the list answers"
                        ),
                    ))
                }
            };
            let new: Vec<OrderRow> = rows
                .into_iter()
                .filter(|r| {
                    wire::slug(r.service_and_country().0) == wire::slug(&choice.service_name)
                        && created_since(r.created_at.as_deref(), sent_at)
                        && self.placed(&r.order_id).is_none()
                })
                .collect();
            match new.as_slice() {
                [found] => {
                    let memory = Placed {
                        line: choice.line,
                        service: order.service.to_owned(),
                        country: order.country.to_owned(),
                        service_name: choice.service_name.clone(),
                        price: found.sell_price.or(found.price).or(Some(choice.price)),
                        created_at: found.created_at.clone().unwrap_or_else(now_rfc3339),
                        hours: choice.hours,
                        released: false,
                    };
                    self.remember(&found.order_id, memory);
                    let mut out = self.row_to_order(found);
                    out.rental_hours = choice.hours;
                    out.note = Some(format!(
                        "The purchase answer was lost ({lost}), so this order was found in the \
                         order list instead: the one new {what} since the request. The purchase \
                         was sent once, not repeated."
                    ));
                    return Ok(out);
                }
                [] if looked == 1 && lost.kind() == ErrorKind::OutcomeUnknown => {
                    // A timed-out purchase may still be landing: look once more.
                    tokio::time::sleep(SETTLE).await;
                }
                [] => {
                    return Err(ApiError::rule(
                        ErrorKind::Transient,
                        format!(
                            "the purchase of a {what} got no usable answer ({lost}), and the \
                             order list shows no new {} order since then: nothing was bought. \
                             Calling create_order again is safe",
                            order.service
                        ),
                    ))
                }
                many => {
                    let ids: Vec<&str> = many.iter().map(|r| r.order_id.as_str()).collect();
                    return Err(ApiError::rule(
                        ErrorKind::OutcomeUnknown,
                        format!(
                            "the purchase of a {what} got no usable answer ({lost}), and the \
                             order list shows {} new {} orders since then ({}), so which one is \
                             this purchase is unclear; the purchase was not repeated",
                            many.len(),
                            order.service,
                            ids.join(", ")
                        ),
                    ));
                }
            }
        }
    }

    /// E1 `GET /orders/`: the 50 newest orders (a raw array; other shapes accepted).
    pub(super) async fn order_rows(&self) -> Result<Vec<OrderRow>> {
        let value = self.call(Request::get(&["orders", ""])).await?;
        wire::rows(value, "orders").map_err(|e| bad_answer("orders", e))
    }

    /// E2 `GET /order/<id>/status/`.
    pub(super) async fn status_row(&self, order_id: &str) -> Result<StatusRow> {
        let id = order_number(order_id)?;
        let value = self
            .call(Request::get(&["order", id, "status", ""]))
            .await?;
        serde_json::from_value(wire::payload(value))
            .map_err(|e| bad_answer("status", e.to_string()))
    }

    /// An E1 row as an order; the country from the bracketed name (`us` when none, **assumed**).
    fn row_to_order(&self, row: &OrderRow) -> Order {
        let (name, country) = row.service_and_country();
        let memory = self.placed(&row.order_id);
        let country = match (&memory, country) {
            (Some(m), _) => m.country.clone(),
            (None, None) => "us".to_owned(),
            (None, Some(c)) => super::catalog::iso_of(c).unwrap_or_else(|| c.to_owned()),
        };
        let released = memory.as_ref().is_some_and(|m| m.released);
        // E1 has no otp: a completed order is one whose code arrived (§5).
        let state = wire::tool_status(&row.status, false, released);
        Order {
            provider: None,
            order_id: row.order_id.clone(),
            service: Some(
                memory
                    .as_ref()
                    .map_or_else(|| wire::slug(name), |m| m.service.clone()),
            ),
            country: Some(country),
            phone_number: row.phone.as_deref().map(wire::e164),
            status: state.to_owned(),
            price: row.sell_price.or(row.price),
            created_at: row.created_at.clone(),
            expires_at: None,
            rental_hours: memory.and_then(|m| m.hours),
            messages: Vec::new(),
            code: None,
            refunded: None,
            note: None,
        }
    }

    /// E2 as an order, enriched from memory (or, for an order of another process, from E1).
    pub(super) async fn order(&self, order_id: &str) -> Result<Order> {
        let row = self.status_row(order_id).await?;
        let mut out = match self.placed(order_id) {
            Some(m) => Order {
                service: Some(m.service.clone()),
                country: Some(m.country.clone()),
                price: m.price,
                created_at: Some(m.created_at.clone()),
                rental_hours: m.hours,
                ..bare_order(order_id)
            },
            None => {
                let listed = self
                    .order_rows()
                    .await
                    .ok()
                    .and_then(|rows| rows.into_iter().find(|r| r.order_id == order_id));
                let mut out = match listed {
                    Some(r) => self.row_to_order(&r),
                    None => bare_order(order_id),
                };
                out.note = Some(format!(
                    "This order was not placed by this server process, so its product line is \
                     not known; {NAME}'s status answer does not say it."
                ));
                out
            }
        };
        apply_status(
            &mut out,
            &row,
            self.placed(order_id).is_some_and(|m| m.released),
        );
        Ok(out)
    }

    /// E1 paged here: at most 50 orders, no server paging or filter.
    pub(super) async fn orders_page(
        &self,
        status_filter: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Page<Order>> {
        let rows = self.order_rows().await?;
        let capped = rows.len() >= LIST_CAP;
        let orders: Vec<Order> = rows
            .iter()
            .map(|r| self.row_to_order(r))
            .filter(|o| status_filter.is_none_or(|s| o.status == s))
            .collect();
        let total = orders.len() as u64;
        let data: Vec<Order> = orders
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect();
        Ok(Page {
            has_more: Some(u64::from(offset) + (data.len() as u64) < total),
            data,
            limit: Some(limit),
            offset: Some(offset),
            // With 50 rows the list may be cut: older orders are not visible.
            total: (!capped).then_some(total),
        })
    }

    /// E3 `POST /order/<id>/cancel/`; the refund is automatic and its amount not reported.
    pub(super) async fn cancel(&self, order_id: &str, release: bool) -> Result<Order> {
        let id = order_number(order_id)?;
        let answer = self.call(Request::post(&["order", id, "cancel", ""])).await;
        if let Err(e) = answer {
            return Err(match e.kind() {
                ErrorKind::Conflict if release => ApiError::rule(
                    ErrorKind::Conflict,
                    format!(
                        "{NAME} refused to end rental {order_id} early (\"Order cannot be \
                         cancelled\"): this rental runs until its expiry"
                    ),
                ),
                _ if maybe_done(&e) => ApiError::rule(
                    ErrorKind::OutcomeUnknown,
                    format!(
                        "the cancel of order {order_id} got no usable answer ({e}); it was not \
                         repeated. get_order {order_id} shows whether it took effect"
                    ),
                ),
                _ => e,
            });
        }
        if release {
            if let Some(mut m) = self.placed(order_id) {
                m.released = true;
                self.remember(order_id, m);
            }
        }
        let mut out = match self.order(order_id).await {
            Ok(order) => order,
            Err(e) => {
                tracing::warn!(error = %e, "order not readable after cancel");
                let m = self.placed(order_id);
                Order {
                    provider: None,
                    order_id: order_id.to_owned(),
                    service: m.as_ref().map(|m| m.service.clone()),
                    country: m.as_ref().map(|m| m.country.clone()),
                    phone_number: None,
                    status: String::new(),
                    price: m.as_ref().and_then(|m| m.price),
                    created_at: m.as_ref().map(|m| m.created_at.clone()),
                    expires_at: None,
                    rental_hours: m.and_then(|m| m.hours),
                    messages: Vec::new(),
                    code: None,
                    refunded: None,
                    note: None,
                }
            }
        };
        out.status = if release {
            status::RELEASED
        } else {
            status::CANCELLED
        }
        .to_owned();
        out.refunded = None;
        out.note = Some(format!(
            "{NAME} refunds a cancelled order to the balance automatically when it is eligible, \
             but does not say how much: get_balance shows the balance now."
        ));
        Ok(out)
    }

    /// A rental ended early: E3 **(assumed: the only way; it may be refused)**.
    pub(super) async fn release(&self, order_id: &str) -> Result<Order> {
        self.rental_period(order_id).await?;
        self.cancel(order_id, true).await
    }

    /// The period and line of a rental, from memory, or refused.
    async fn rental_period(&self, order_id: &str) -> Result<(Line, u32, Placed)> {
        if let Some(m) = self.placed(order_id) {
            return match m.line.period_hours() {
                Some(p) => Ok((m.line, p, m)),
                None => Err(not_a_rental(order_id)),
            };
        }
        let row = self.status_row(order_id).await?;
        if row.looks_like_rental() {
            Err(ApiError::rule(
                ErrorKind::Conflict,
                format!(
                    "rental {order_id} was not placed by this server process, so its product \
                     (and so the length and price of a renewal) is unknown: {NAME}'s status \
                     answer does not say it. Renew or end it in the {NAME} dashboard"
                ),
            ))
        } else {
            Err(not_a_rental(order_id))
        }
    }

    /// One renewal: its line period and the catalog price of one period. `hours` over the
    /// period is refused: each renewal charges, and one call renews once.
    pub(super) async fn renewal(&self, order_id: &str, hours: u32) -> Result<(Line, f64, u32)> {
        let (line, period, m) = self.rental_period(order_id).await?;
        if hours > period {
            return Err(ApiError::rule(
                ErrorKind::Invalid,
                format!(
                    "invalid argument `hours`: {hours} h; a renewal of this {} adds exactly \
                     {period} h and charges for it, so one call renews once: ask for {period} h \
                     or less (each call buys {period} h)",
                    line.label()
                ),
            ));
        }
        let service = if matches!(line, Line::Rental(_)) {
            m.service_name.clone()
        } else {
            m.service.clone()
        };
        let price = match self.rental_offer(line, &service).await? {
            Some((_, _, price)) => price,
            None => {
                return Err(ApiError::rule(
                    ErrorKind::ServiceNotFound,
                    format!(
                        "{NAME} no longer lists {} as a {}, so the renewal price is unknown; \
                         nothing was charged",
                        m.service,
                        line.label()
                    ),
                ))
            }
        };
        Ok((line, price, period))
    }

    /// E4 `POST /order/<id>/renew/`: one period at the current price; then E2 for the new
    /// countdown (the answer has no expiry).
    pub(super) async fn renew(&self, order_id: &str, hours: u32) -> Result<Order> {
        let (line, price, period) = self.renewal(order_id, hours).await?;
        let id = order_number(order_id)?;
        self.call(Request::post(&["order", id, "renew", ""]))
            .await
            .map_err(|e| {
                if maybe_done(&e) {
                    ApiError::rule(
                        ErrorKind::OutcomeUnknown,
                        format!(
                            "the renewal of rental {order_id} got no usable answer ({e}); it was \
                             not repeated (a repeat would charge again). get_order {order_id} \
                             shows the time left"
                        ),
                    )
                } else {
                    e
                }
            })?;
        if let Some(mut m) = self.placed(order_id) {
            m.hours = Some(m.hours.unwrap_or(period) + period);
            self.remember(order_id, m);
        }
        let mut out = self.order(order_id).await?;
        out.price = Some(price);
        out.note = Some(format!(
            "{NAME} renews a {} by a fixed {period} h: asked for {hours} h, bought {period} h \
             at ${price:.2} (the current catalog price; the answer does not report the debit).",
            line.label()
        ));
        Ok(out)
    }

    /// A1 `GET /balance/` (bare), falling back to A2 `GET /wallet/balance/` (wrapped).
    pub(super) async fn balance(&self) -> Result<Balance> {
        let read = |value: serde_json::Value| {
            let row: BalanceRow = serde_json::from_value(wire::payload(value))
                .map_err(|e| bad_answer("balance", e.to_string()))?;
            Ok::<_, ApiError>(Balance {
                balance: row
                    .balance
                    .ok_or_else(|| bad_answer("balance", "no `balance`".into()))?,
                currency: row.currency.unwrap_or_else(|| "USD".into()),
            })
        };
        match self
            .call(Request::get(&["balance", ""]))
            .await
            .and_then(read)
        {
            Ok(balance) => Ok(balance),
            Err(e) if matches!(e.kind(), ErrorKind::BadAnswer | ErrorKind::Other) => {
                tracing::info!(error = %e, "balance/ unusable; trying wallet/balance/");
                read(self.call(Request::get(&["wallet", "balance", ""])).await?)
            }
            Err(e) => Err(e),
        }
    }

    /// Not offered as lifetime totals; E1 stands in while it holds the whole history (fewer
    /// than 50 rows **(assumed)**).
    pub(super) async fn stats(&self) -> Result<Stats> {
        let rows = self.order_rows().await?;
        let mut extra = serde_json::Map::new();
        if rows.len() >= LIST_CAP {
            extra.insert(
                "note".into(),
                json!(format!(
                    "{NAME} has no account statistics and lists only the 50 newest orders, so \
                     lifetime totals are unknown."
                )),
            );
            return Ok(Stats {
                lifetime_orders: None,
                lifetime_spend: None,
                extra,
            });
        }
        let spend: f64 = rows
            .iter()
            .filter(|r| !r.status.eq_ignore_ascii_case("cancelled"))
            .filter_map(|r| r.sell_price.or(r.price))
            .sum();
        extra.insert(
            "note".into(),
            json!(format!(
                "Computed from {NAME}'s order list (it has no statistics endpoint); cancelled \
                 orders are not counted as spend (assumed refunded)."
            )),
        );
        Ok(Stats {
            lifetime_orders: Some(rows.len() as u64),
            lifetime_spend: Some((spend * 100.0).round() / 100.0),
            extra,
        })
    }
}

/// Applies an E2 answer to an order: status, number, the one message, the rental countdown.
pub(super) fn apply_status(out: &mut Order, row: &StatusRow, released: bool) {
    out.status = wire::tool_status(&row.status, row.has_sms(), released).to_owned();
    if let Some(phone) = &row.phone {
        out.phone_number = Some(wire::e164(phone));
    }
    out.code = row.otp.clone();
    out.messages = sms_of(&out.order_id, row);
    let left = row
        .time_left_seconds
        .or(row.days_left.map(|d| d * 86_400.0));
    if let Some(secs) = left.filter(|s| s.is_finite() && *s >= 0.0) {
        let at = chrono::Utc::now() + chrono::Duration::seconds(secs as i64);
        out.expires_at = Some(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
}

/// An order of which nothing is known but its id (E2 or memory fills it in).
pub(super) fn bare_order(order_id: &str) -> Order {
    Order {
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
    }
}

/// The one message E2 shows, when there is one.
pub(super) fn sms_of(order_id: &str, row: &StatusRow) -> Vec<Sms> {
    if !row.has_sms() {
        return Vec::new();
    }
    vec![Sms {
        id: wire::message_id(order_id, row),
        sender: None,
        text: row.text().unwrap_or_default().to_owned(),
        code: row.otp.clone(),
        received_at: None,
    }]
}

fn not_a_rental(order_id: &str) -> ApiError {
    ApiError::rule(
        ErrorKind::Invalid,
        format!("invalid argument `order_id`: order {order_id} is not a rental"),
    )
}

/// What a purchase could not say in its fields: the line chosen, rounded-up hours, a price
/// taken from the catalog.
fn purchase_note(order: &NewOrder<'_>, choice: &Choice, price_reported: bool) -> Option<String> {
    let mut parts = Vec::new();
    if let (Some(asked), Some(bought)) = (order.rental_hours, choice.hours) {
        if asked != bought {
            parts.push(format!(
                "{NAME} rents in fixed products: asked for {asked} h, bought a {} ({bought} h).",
                choice.line.label()
            ));
        }
    }
    if choice.line == Line::BestTemp {
        parts.push(format!(
            "Bought on {NAME}'s best-temp line (the service is not on its temporary line)."
        ));
    }
    if !price_reported {
        parts.push(format!(
            "{NAME}'s order answer has no price: this is the catalog price read just before \
             ordering (assumed equal to the debit)."
        ));
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// Whether `created_at` is at or after `since` (less the clock skew).
fn created_since(created_at: Option<&str>, since: SystemTime) -> bool {
    let Some(at) = created_at.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) else {
        return false;
    };
    let floor = chrono::DateTime::<chrono::Utc>::from(since - CLOCK_SKEW);
    at >= floor
}

/// An id as the JSON integer the API documents, or as text when it is not one.
fn int_or_text(id: &str) -> serde_json::Value {
    id.parse::<u64>().map_or_else(|_| json!(id), |n| json!(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rental_hours_round_up_to_a_product() {
        assert_eq!(rental_line(1).unwrap(), Line::Rent1Day);
        assert_eq!(rental_line(24).unwrap(), Line::Rent1Day);
        assert_eq!(rental_line(25).unwrap(), Line::Rental(3));
        assert_eq!(rental_line(72).unwrap(), Line::Rental(3));
        assert_eq!(rental_line(73).unwrap(), Line::Rent30Days);
        assert_eq!(rental_line(720).unwrap(), Line::Rent30Days);
        assert_eq!(rental_line(721).unwrap_err().kind(), ErrorKind::Invalid);
        assert_eq!(Line::Rental(3).period_hours(), Some(72));
        assert_eq!(Line::Rental(30).period_hours(), Some(720));
        assert_eq!(Line::Global.period_hours(), None);
    }

    #[test]
    fn ids_go_out_as_integers_when_they_are() {
        assert_eq!(int_or_text("1012"), json!(1012));
        assert_eq!(int_or_text("x1"), json!("x1"));
    }
}
