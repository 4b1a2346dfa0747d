//! Orders: the data model, its v2 JSON form and the state machine behind every v2 `/orders`
//! endpoint. The same table holds the orders of both dialects (v1's views live in `super::v1`).
//!
//! ```text
//! waiting ──sms──▶ received ──confirm──▶ confirmed
//!    │  ▲ swap (free, new number)
//!    ├──┘
//!    ├─cancel (full refund)─▶ cancelled        (only before an SMS arrives)
//!    ├─release (rentals)────▶ released         (also from received; no refund)
//!    └─time passes──────────▶ expired          (lazily, on the next access)
//! ```
//! Every change bumps the order's `watch` channel so long-polls wake immediately.
//!
//! An order born on v1 ([`Order::born_v1`]) differs in one rule: a v1 activation that received an
//! SMS is v1 `completed`, final, so it no longer lapses into `expired` (a v2 `received` order does).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use serde_json::{json, Value};
use tokio::sync::watch;

use super::catalog::{self, Country, Service};
use super::problem::Problem;
use super::state::{page, Data, EntryKind, Shared};
use super::util::{dollars, dollars_text, later, random_hex, rfc3339};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Waiting,
    Received,
    Confirmed,
    Cancelled,
    Expired,
    Released,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Waiting => "waiting",
            Status::Received => "received",
            Status::Confirmed => "confirmed",
            Status::Cancelled => "cancelled",
            Status::Expired => "expired",
            Status::Released => "released",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Waiting,
            Status::Received,
            Status::Confirmed,
            Status::Cancelled,
            Status::Expired,
            Status::Released,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, Status::Waiting | Status::Received)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Sms {
    id: String,
    pub(super) sender: String,
    pub(super) text: String,
    pub(super) code: Option<String>,
    pub(super) received_at: SystemTime,
}

impl Sms {
    fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "sender": self.sender,
            "text": self.text,
            "received_at": rfc3339(self.received_at),
        });
        // `code` is optional in the contract: omitted when the text has none.
        if let (Some(code), Some(obj)) = (&self.code, v.as_object_mut()) {
            obj.insert("code".into(), json!(code));
        }
        v
    }
}

#[derive(Debug)]
pub(crate) struct Order {
    pub(super) id: String,
    pub(super) owner: String,
    pub(super) service: &'static Service,
    pub(super) country: &'static Country,
    /// E.164 with `+` (v2); v1 shows the digits only.
    pub(super) phone: String,
    pub status: Status,
    pub(super) price_cents: i64,
    /// Everything charged for this order (creation + extensions): what a cancel refunds. A v1
    /// swap moves it to the replacement order.
    pub(super) paid_cents: i64,
    pub(super) created_at: SystemTime,
    pub(super) expires_at: SystemTime,
    /// v1: when cancel and swap become possible (created + `cancel_cooldown`). Set for every
    /// order, only v1 reads them.
    pub(super) cancel_available_at: SystemTime,
    pub(super) swap_available_at: SystemTime,
    /// Rentals: hours rented in total (creation + extensions).
    pub(super) rental_hours: Option<u32>,
    /// Created through `/api/v1` (UUID activation or `rnt_` rental).
    pub(super) born_v1: bool,
    /// v1 rentals: the `auto_renew` flag as sent (stored and shown; the sandbox never renews).
    pub(super) auto_renew: bool,
    pub messages: Vec<Sms>,
    /// Bumped on swap, so an SMS scheduled for the old number never lands on the new one.
    pub(super) number_gen: u64,
    changed: watch::Sender<u64>,
}

/// How a new order's id looks, which also says which dialect it was born in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdStyle {
    /// `ord_<8 hex>` (v2).
    V2,
    /// A UUID v4 (v1 activation).
    V1Order,
    /// `rnt_<16 hex>` (v1 rental).
    V1Rental,
    /// A 6-digit integer (smsVerificationService).
    Svs,
}

impl IdStyle {
    fn fresh(self) -> String {
        match self {
            IdStyle::V2 => format!("ord_{}", random_hex(8)),
            IdStyle::V1Order => uuid::Uuid::new_v4().to_string(),
            IdStyle::V1Rental => format!("rnt_{}", random_hex(16)),
            IdStyle::Svs => (100_000 + super::util::random_u64() % 900_000).to_string(),
        }
    }
}

/// Why an order could not be opened (each dialect words it its own way).
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The (service, country) pair cannot be rented.
    NotRentable,
    /// Stock is 0.
    NoStock,
    /// Balance below price (both in cents).
    Insufficient { balance: i64, price: i64 },
}

/// What to open: validated catalog entries and the id style.
pub(crate) struct Opening {
    pub service: &'static Service,
    pub country: &'static Country,
    pub rental_hours: Option<u32>,
    pub style: IdStyle,
    pub auto_renew: bool,
}

impl Order {
    /// A fresh `waiting` order created `now`. `lifetime`: the activation window or the rental
    /// period; `cooldown`: until cancel/swap become possible on v1.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        id: String,
        owner: &str,
        service: &'static Service,
        country: &'static Country,
        price_cents: i64,
        paid_cents: i64,
        now: SystemTime,
        lifetime: Duration,
        cooldown: Duration,
    ) -> Order {
        Order {
            id,
            owner: owner.to_string(),
            service,
            country,
            phone: catalog::phone_number(country),
            status: Status::Waiting,
            price_cents,
            paid_cents,
            created_at: now,
            expires_at: later(now, lifetime),
            cancel_available_at: later(now, cooldown),
            swap_available_at: later(now, cooldown),
            rental_hours: None,
            born_v1: false,
            auto_renew: false,
            messages: Vec::new(),
            number_gen: 0,
            changed: watch::channel(0).0,
        }
    }

    /// Lazy expiry: a live order past `expires_at` becomes `expired` — except a v1 activation
    /// that already received an SMS (v1 `completed` is final).
    pub fn refresh(&mut self, now: SystemTime) {
        let lapses = match self.status {
            Status::Waiting => true,
            Status::Received => !(self.born_v1 && self.rental_hours.is_none()),
            _ => false,
        };
        if lapses && now >= self.expires_at {
            self.set_status(Status::Expired);
        }
    }

    /// A v1 activation that received an SMS: v1 `completed`, final (though more SMS may land).
    pub(super) fn v1_completed(&self) -> bool {
        self.born_v1 && self.rental_hours.is_none() && self.status == Status::Received
    }

    /// Shift every timestamp of the order back by `by` (see `FakeApi::age_order`).
    pub(super) fn age(&mut self, by: Duration) {
        let back = |t: &mut SystemTime| *t = t.checked_sub(by).unwrap_or(*t);
        back(&mut self.created_at);
        back(&mut self.expires_at);
        back(&mut self.cancel_available_at);
        back(&mut self.swap_available_at);
        for m in &mut self.messages {
            back(&mut m.received_at);
        }
        self.bump();
    }

    pub(super) fn set_status(&mut self, status: Status) {
        self.status = status;
        self.bump();
    }

    pub(super) fn bump(&mut self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    fn latest_code(&self) -> Option<&str> {
        self.messages.iter().rev().find_map(|m| m.code.as_deref())
    }

    fn messages_json(&self) -> Vec<Value> {
        self.messages.iter().map(Sms::to_json).collect()
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "order_id": self.id,
            "service": self.service.id,
            "country": self.country.iso2,
            "phone_number": self.phone,
            "status": self.status.as_str(),
            "price": dollars(self.price_cents),
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.expires_at),
            "messages": self.messages_json(),
        });
        if let Some(obj) = v.as_object_mut() {
            if let Some(h) = self.rental_hours {
                obj.insert("rental_hours".into(), json!(h));
            }
            if let Some(code) = self.latest_code() {
                obj.insert("code".into(), json!(code));
            }
        }
        v
    }

    /// The long-poll answer: `{order_id, status, messages, code?}`.
    fn sms_json(&self) -> Value {
        let mut v = json!({
            "order_id": self.id,
            "status": self.status.as_str(),
            "messages": self.messages_json(),
        });
        if let (Some(code), Some(obj)) = (self.latest_code(), v.as_object_mut()) {
            obj.insert("code".into(), json!(code));
        }
        v
    }

    pub(super) fn push_sms(&mut self, sender: String, text: String, code: Option<String>) {
        self.messages.push(Sms {
            id: format!("sms_{}", random_hex(12)),
            sender,
            text,
            code,
            received_at: SystemTime::now(),
        });
        self.status = Status::Received;
        self.bump();
    }

    /// The shared refusals: 410 when expired, 409 when already finished.
    fn ensure_live(&self, confirmed_slug_detail: &str) -> Result<(), Problem> {
        match self.status {
            Status::Expired => Err(Problem::expired(&self.id)),
            Status::Confirmed => Err(Problem::conflict(
                "order-already-confirmed",
                format!(
                    "Order {} is already confirmed; {confirmed_slug_detail}",
                    self.id
                ),
            )),
            Status::Cancelled | Status::Released => Err(Problem::conflict(
                "order-closed",
                format!("Order {} is {}", self.id, self.status.as_str()),
            )),
            Status::Waiting | Status::Received => Ok(()),
        }
    }

    fn not_a_rental(&self) -> Problem {
        Problem::validation(format!(
            "order_id: order {} is not a rental (no rental_hours)",
            self.id
        ))
    }
}

/// What the long-poll handler should do next.
pub(crate) enum Poll {
    /// Answer now with this body.
    Ready(Value),
    /// Nothing new: wait for `changed` (or until the order would expire), then ask again.
    Wait {
        changed: watch::Receiver<u64>,
        expires_in: Duration,
    },
}

/// A validated `POST /orders` body.
pub(crate) struct NewOrder {
    pub service: String,
    pub country: String,
    pub rental_hours: Option<u32>,
}

impl Shared {
    /// Look up `id` owned by `key`, apply lazy expiry, and run `f` on it.
    fn with_order<T>(
        &self,
        key: &str,
        id: &str,
        f: impl FnOnce(&mut Order) -> Result<T, Problem>,
    ) -> Result<T, Problem> {
        let mut data = self.data();
        match data.orders.get_mut(id) {
            Some(order) if order.owner == key => {
                order.refresh(SystemTime::now());
                f(order)
            }
            // Another key's order is indistinguishable from a missing one.
            _ => Err(Problem::order_not_found(id)),
        }
    }

    pub fn create_order(self: &Arc<Self>, key: &str, req: NewOrder) -> Result<Value, Problem> {
        let service = catalog::service(&req.service)
            .ok_or_else(|| Problem::service_not_found(&req.service))?;
        let country = catalog::country(&req.country)
            .ok_or_else(|| Problem::country_not_found(&req.country))?;
        let opening = Opening {
            service,
            country,
            rental_hours: req.rental_hours,
            style: IdStyle::V2,
            auto_renew: false,
        };
        self.open_order(key, opening, Order::to_json)
            .map_err(|e| match e {
                OpenError::NotRentable => Problem::validation(format!(
                    "rental_hours: {} numbers in {} cannot be rented; omit rental_hours or see GET /countries/{}/pricing?rental=true",
                    service.id, country.iso2, country.iso2
                )),
                OpenError::NoStock => Problem::no_stock(format!(
                    "No {} numbers in stock in {}; try another country (GET /services/{}/availability)",
                    service.id, country.iso2, service.id
                )),
                OpenError::Insufficient { balance, price } => insufficient(balance, price),
            })
    }

    /// Open an order of either dialect: check rentability, stock and balance, charge, take the
    /// number from stock, store the order, schedule its SMS, and answer `render(order)`.
    pub(super) fn open_order(
        self: &Arc<Self>,
        key: &str,
        req: Opening,
        render: impl FnOnce(&Order) -> Value,
    ) -> Result<Value, OpenError> {
        let Opening {
            service,
            country,
            rental_hours,
            style,
            auto_renew,
        } = req;
        let price = match rental_hours {
            Some(hours) => catalog::rental_price_cents(service.id, country.iso2, hours)
                .ok_or(OpenError::NotRentable)?,
            None => catalog::price_cents(service.id, country.iso2),
        };
        let now = SystemTime::now();
        let mut data = self.data();
        if data.stock(service.id, country.iso2) == 0 {
            return Err(OpenError::NoStock);
        }
        let acct = data.account(key, self.options.starting_balance_cents);
        if acct.balance_cents < price {
            return Err(OpenError::Insufficient {
                balance: acct.balance_cents,
                price,
            });
        }
        let id = loop {
            let candidate = style.fresh();
            if !data.orders.contains_key(&candidate) {
                break candidate;
            }
        };
        let acct = data.account(key, self.options.starting_balance_cents);
        acct.post(EntryKind::Charge, -price, Some(&id));
        acct.orders.push(id.clone());
        *data.stock_mut(service.id, country.iso2) -= 1;
        let lifetime = match rental_hours {
            Some(h) => Duration::from_secs(u64::from(h) * 3600),
            None => self.options.order_lifetime,
        };
        let mut order = Order::new(
            id.clone(),
            key,
            service,
            country,
            price,
            price,
            now,
            lifetime,
            self.options.cancel_cooldown,
        );
        order.rental_hours = rental_hours;
        order.born_v1 = style != IdStyle::V2;
        order.auto_renew = auto_renew;
        let body = render(&order);
        data.orders.insert(id.clone(), order);
        drop(data);
        self.schedule_sms(id, 0, rental_hours.is_some());
        Ok(body)
    }

    pub fn get_order(&self, key: &str, id: &str) -> Result<Value, Problem> {
        self.with_order(key, id, |o| Ok(o.to_json()))
    }

    /// `GET /orders`: this key's orders, newest first, optionally filtered by status.
    pub fn list_orders(
        &self,
        key: &str,
        status: Option<Status>,
        limit: usize,
        offset: usize,
    ) -> Value {
        let now = SystemTime::now();
        let mut data = self.data();
        data.account(key, self.options.starting_balance_cents);
        let ids: Vec<String> = data
            .accounts
            .get(key)
            .map(|a| a.orders.clone())
            .unwrap_or_default();
        let mut matching = Vec::new();
        for id in ids.iter().rev() {
            if let Some(order) = data.orders.get_mut(id) {
                order.refresh(now);
                if status.is_none_or(|s| s == order.status) {
                    matching.push(order.to_json());
                }
            }
        }
        let total = matching.len();
        let items = matching.into_iter().skip(offset).take(limit).collect();
        page(items, limit, offset, total)
    }

    /// One step of the long-poll: ready when a message newer than `since` exists (any message
    /// without `since`, or when `since` is not one of the order's messages) or the order is finished.
    pub fn poll_sms(&self, key: &str, id: &str, since: Option<&str>) -> Result<Poll, Problem> {
        self.with_order(key, id, |o| {
            let seen = since
                .and_then(|s| o.messages.iter().position(|m| m.id == s))
                .map_or(0, |i| i + 1);
            // A v1 `completed` order never lapses: past its window nothing more is awaited.
            let done = o.v1_completed() && SystemTime::now() >= o.expires_at;
            if o.status.is_terminal() || o.messages.len() > seen || done {
                return Ok(Poll::Ready(o.sms_json()));
            }
            let expires_in = o
                .expires_at
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            Ok(Poll::Wait {
                changed: o.changed.subscribe(),
                expires_in,
            })
        })
    }

    /// The long-poll answer as it stands, whatever it is (used when the timeout passes).
    pub fn sms_snapshot(&self, key: &str, id: &str) -> Result<Value, Problem> {
        self.with_order(key, id, |o| Ok(o.sms_json()))
    }

    pub fn swap_order(self: &Arc<Self>, key: &str, id: &str) -> Result<Value, Problem> {
        let lifetime = self.options.order_lifetime;
        let (body, gen, rental) = self.with_order(key, id, |o| {
            o.ensure_live("nothing to swap")?;
            if !o.messages.is_empty() {
                return Err(Problem::conflict(
                    "order-already-received",
                    format!(
                        "Order {} already received an SMS; confirm it instead of swapping",
                        o.id
                    ),
                ));
            }
            let old = std::mem::take(&mut o.phone);
            o.phone = loop {
                let candidate = catalog::phone_number(o.country);
                if candidate != old {
                    break candidate;
                }
            };
            o.number_gen += 1;
            if o.rental_hours.is_none() {
                // A new number gets a fresh activation window; a rental keeps its paid period.
                o.expires_at = later(SystemTime::now(), lifetime);
            }
            o.bump();
            Ok((o.to_json(), o.number_gen, o.rental_hours.is_some()))
        })?;
        self.schedule_sms(id.to_string(), gen, rental);
        Ok(body)
    }

    pub fn cancel_order(&self, key: &str, id: &str) -> Result<Value, Problem> {
        let mut data = self.data();
        let (refund, service, country) = {
            let order = match data.orders.get_mut(id) {
                Some(o) if o.owner == key => o,
                _ => return Err(Problem::order_not_found(id)),
            };
            order.refresh(SystemTime::now());
            order.ensure_live("nothing to undo")?;
            if !order.messages.is_empty() {
                return Err(Problem::conflict(
                    "order-already-received",
                    format!(
                        "Order {} already received an SMS and can no longer be cancelled",
                        order.id
                    ),
                ));
            }
            order.set_status(Status::Cancelled);
            (order.paid_cents, order.service.id, order.country.iso2)
        };
        data.give_back(
            key,
            self.options.starting_balance_cents,
            id,
            (service, country),
            refund,
        );
        let mut body = data.orders.get(id).map(Order::to_json).unwrap_or_default();
        if let Some(obj) = body.as_object_mut() {
            obj.insert("refunded".into(), dollars(refund));
        }
        Ok(body)
    }

    pub fn confirm_order(&self, key: &str, id: &str) -> Result<Value, Problem> {
        self.with_order(key, id, |o| {
            match o.status {
                Status::Confirmed => return Ok(o.to_json()),
                Status::Waiting => {
                    return Err(Problem::conflict(
                        "no-sms-yet",
                        format!(
                            "Order {} has not received an SMS yet; wait_for_sms first",
                            o.id
                        ),
                    ))
                }
                _ => o.ensure_live("")?,
            }
            o.set_status(Status::Confirmed);
            Ok(o.to_json())
        })
    }

    /// `POST /orders/{id}/extend`: charge the rental price of `hours` (see
    /// [`catalog::rental_price_cents`]) and push `expires_at` back by `hours`. The answer's `price`
    /// is the amount just charged; `rental_hours` becomes the total rented.
    pub fn extend_order(
        &self,
        key: &str,
        id: &str,
        hours: Result<u32, Problem>,
    ) -> Result<Value, Problem> {
        let mut data = self.data();
        data.account(key, self.options.starting_balance_cents);
        let Data {
            accounts, orders, ..
        } = &mut *data;
        let order = match orders.get_mut(id) {
            Some(o) if o.owner == key => o,
            _ => return Err(Problem::order_not_found(id)),
        };
        order.refresh(SystemTime::now());
        if order.status == Status::Expired {
            return Err(Problem::expired(id));
        }
        let Some(rented) = order.rental_hours else {
            return Err(order.not_a_rental());
        };
        order.ensure_live("it can no longer be extended")?;
        let hours = hours?;
        let price = catalog::rental_price_cents(order.service.id, order.country.iso2, hours)
            .ok_or_else(|| order.not_a_rental())?;
        let acct = accounts.get_mut(key).ok_or_else(Problem::unauthorized)?;
        if acct.balance_cents < price {
            return Err(insufficient(acct.balance_cents, price));
        }
        acct.post(EntryKind::Charge, -price, Some(id));
        order.paid_cents += price;
        order.expires_at = later(
            order.expires_at,
            Duration::from_secs(u64::from(hours) * 3600),
        );
        order.rental_hours = Some(rented.saturating_add(hours));
        order.bump();
        let mut body = order.to_json();
        if let Some(obj) = body.as_object_mut() {
            obj.insert("price".into(), dollars(price));
        }
        Ok(body)
    }

    /// `POST /orders/{id}/release`: end a rental early, no refund. Releasing twice answers the
    /// released order again (harmless for retries).
    pub fn release_order(&self, key: &str, id: &str) -> Result<Value, Problem> {
        self.with_order(key, id, |o| {
            if o.status == Status::Expired {
                return Err(Problem::expired(id));
            }
            if o.rental_hours.is_none() {
                return Err(o.not_a_rental());
            }
            if o.status == Status::Released {
                return Ok(o.to_json());
            }
            o.ensure_live("it can no longer be released")?;
            o.set_status(Status::Released);
            Ok(o.to_json())
        })
    }
}

pub(super) fn insufficient(balance: i64, price: i64) -> Problem {
    Problem::new(
        StatusCode::PAYMENT_REQUIRED,
        "insufficient-balance",
        format!(
            "Balance {} < required {}",
            dollars_text(balance),
            dollars_text(price)
        ),
    )
}
