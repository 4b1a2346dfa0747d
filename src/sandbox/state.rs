//! Shared state of the fake: accounts with their balance and ledger, the order table (see
//! [`super::orders`] for the order state machine), live stock, the rate limiter, the idempotency
//! store, the fault queue and the request log.
//!
//! One `std::sync::Mutex` per concern, never held across an `.await`, so handlers stay simple
//! and a slow long-poll cannot block anybody. Poisoned locks are recovered rather than unwrapped:
//! nothing a client sends may take the fake down.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use axum::body::{Body, Bytes};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::catalog;
use super::orders::Order;
use super::util::{dollars, random_hex, rfc3339};
use super::{FakeOptions, Fault, RecordedRequest};

/// The rate-limit window (the contract speaks of requests per minute).
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Lock a mutex, recovering the data if a previous holder panicked.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Ledger entry kinds, as they appear in `/me/transactions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EntryKind {
    Charge,
    Refund,
    Deposit,
}

impl EntryKind {
    fn as_str(self) -> &'static str {
        match self {
            EntryKind::Charge => "charge",
            EntryKind::Refund => "refund",
            EntryKind::Deposit => "deposit",
        }
    }

    /// The v1 `type`: charges are `purchase`.
    pub fn as_v1_str(self) -> &'static str {
        match self {
            EntryKind::Charge => "purchase",
            EntryKind::Refund => "refund",
            EntryKind::Deposit => "deposit",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct LedgerEntry {
    id: String,
    pub kind: EntryKind,
    /// Signed: charges are negative, refunds and deposits positive.
    pub amount_cents: i64,
    balance_after: i64,
    order_id: Option<String>,
    created_at: SystemTime,
}

impl LedgerEntry {
    fn to_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "type": self.kind.as_str(),
            "amount": dollars(self.amount_cents),
            "balance_after": dollars(self.balance_after),
            "created_at": rfc3339(self.created_at),
        });
        if let (Some(id), Some(obj)) = (&self.order_id, v.as_object_mut()) {
            obj.insert("order_id".into(), json!(id));
        }
        v
    }

    /// The v1 row: `{id, amount, type, description, order_id?, balance_before, balance_after, created_at}`.
    pub fn to_json_v1(&self) -> Value {
        let description = match (self.kind, &self.order_id) {
            (EntryKind::Charge, Some(id)) => format!("Purchase for order {id}"),
            (EntryKind::Refund, Some(id)) => format!("Refund for order {id}"),
            (EntryKind::Deposit, _) => "Deposit".to_string(),
            (kind, None) => kind.as_v1_str().to_string(),
        };
        let mut v = json!({
            "id": self.id,
            "amount": dollars(self.amount_cents),
            "type": self.kind.as_v1_str(),
            "description": description,
            "balance_before": dollars(self.balance_after - self.amount_cents),
            "balance_after": dollars(self.balance_after),
            "created_at": rfc3339(self.created_at),
        });
        if let (Some(id), Some(obj)) = (&self.order_id, v.as_object_mut()) {
            obj.insert("order_id".into(), json!(id));
        }
        v
    }
}

/// One API key's account.
#[derive(Debug)]
pub(crate) struct Account {
    /// v1 profile `id` (`usr_…`).
    pub user_id: String,
    pub email: String,
    pub created_at: SystemTime,
    pub balance_cents: i64,
    pub ledger: Vec<LedgerEntry>,
    /// Ids of this key's orders, oldest first.
    pub orders: Vec<String>,
}

impl Account {
    /// Move money and record it; `amount_cents` is signed (negative = charge).
    pub fn post(&mut self, kind: EntryKind, amount_cents: i64, order_id: Option<&str>) {
        self.balance_cents += amount_cents;
        self.ledger.push(LedgerEntry {
            id: format!("txn_{}", random_hex(12)),
            kind,
            amount_cents,
            balance_after: self.balance_cents,
            order_id: order_id.map(str::to_string),
            created_at: SystemTime::now(),
        });
    }
}

/// Accounts, orders and stock: everything the REST handlers read and change.
#[derive(Debug, Default)]
pub(crate) struct Data {
    pub accounts: HashMap<String, Account>,
    pub orders: HashMap<String, Order>,
    /// Live stock per (service id, country iso2); starts from [`catalog::initial_stock`].
    pub stock: HashMap<(&'static str, &'static str), u32>,
}

impl Data {
    /// The account of `key`, created with the starting balance (and its "deposit") on first use.
    pub fn account(&mut self, key: &str, starting_balance_cents: i64) -> &mut Account {
        let n = self.accounts.len() + 1;
        self.accounts.entry(key.to_string()).or_insert_with(|| {
            let mut acct = Account {
                user_id: format!("usr_{}", random_hex(12)),
                email: format!("agent+{n}@example.test"),
                created_at: SystemTime::now(),
                balance_cents: 0,
                ledger: Vec::new(),
                orders: Vec::new(),
            };
            if starting_balance_cents != 0 {
                acct.post(EntryKind::Deposit, starting_balance_cents, None);
            }
            acct
        })
    }

    pub fn stock(&self, service: &'static str, country: &'static str) -> u32 {
        self.stock.get(&(service, country)).copied().unwrap_or(0)
    }

    pub fn stock_mut(&mut self, service: &'static str, country: &'static str) -> &mut u32 {
        self.stock.entry((service, country)).or_insert(0)
    }

    /// An order ended with its number unused: the number goes back on the shelf and the refund
    /// (if any) is booked to `key`'s account. Every dialect's cancel ends here.
    pub fn give_back(
        &mut self,
        key: &str,
        starting_balance_cents: i64,
        order_id: &str,
        (service, country): (&'static str, &'static str),
        refund_cents: i64,
    ) {
        *self.stock_mut(service, country) += 1;
        if refund_cents > 0 {
            self.account(key, starting_balance_cents).post(
                EntryKind::Refund,
                refund_cents,
                Some(order_id),
            );
        }
    }
}

/// A response kept for idempotent replay.
#[derive(Clone, Debug)]
pub(crate) struct StoredResponse {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

impl StoredResponse {
    pub fn to_response(&self) -> Response {
        let mut resp = Response::new(Body::from(self.body.clone()));
        *resp.status_mut() = self.status;
        for (name, value) in &self.headers {
            resp.headers_mut().insert(name.clone(), value.clone());
        }
        resp
    }
}

/// Per (API key, Idempotency-Key) slot. The async mutex makes a concurrent duplicate wait for the
/// first request and then replay its answer instead of processing twice.
pub(crate) type IdemSlot = Arc<tokio::sync::Mutex<Option<StoredResponse>>>;

/// Everything behind a [`super::FakeApi`].
pub(crate) struct Shared {
    pub options: FakeOptions,
    rate_limit: AtomicU32,
    pub data: Mutex<Data>,
    rate: Mutex<HashMap<String, VecDeque<Instant>>>,
    /// Injected faults with how many requests each still applies to.
    faults: Mutex<VecDeque<(Fault, u32)>>,
    requests: Mutex<Vec<RecordedRequest>>,
    idem: Mutex<HashMap<(String, String), IdemSlot>>,
    open_polls: AtomicUsize,
    /// The x402 deposit flow's nonces, issued keys and test switches.
    pub x402: super::x402::FakeX402,
    /// The SMSCode dialect's books (its orders' products, expiry refunds).
    pub(crate) smscode: super::smscode::Books,
    /// The smsVerificationService dialect's own bookkeeping (product lines of its orders).
    pub svs: super::smsverificationservice::SvsState,
}

impl Shared {
    pub fn new(options: FakeOptions) -> Self {
        let mut data = Data::default();
        for s in catalog::SERVICES {
            for c in catalog::COUNTRIES {
                data.stock
                    .insert((s.id, c.iso2), catalog::initial_stock(s.id, c.iso2));
            }
        }
        Shared {
            rate_limit: AtomicU32::new(options.rate_limit_per_minute),
            options,
            data: Mutex::new(data),
            rate: Mutex::default(),
            faults: Mutex::default(),
            requests: Mutex::default(),
            idem: Mutex::default(),
            open_polls: AtomicUsize::new(0),
            x402: Default::default(),
            smscode: Default::default(),
            svs: Default::default(),
        }
    }

    pub fn data(&self) -> MutexGuard<'_, Data> {
        lock(&self.data)
    }

    // ---- auth -------------------------------------------------------------------------------

    /// Whether `key` is accepted: any non-empty key when no keys are configured; keys issued by
    /// an x402 top-up always.
    pub fn key_valid(&self, key: &str) -> bool {
        !key.is_empty()
            && (self.options.api_keys.is_empty()
                || self.options.api_keys.iter().any(|k| k == key)
                || self.x402.is_issued(key))
    }

    pub fn ensure_account(&self, key: &str) {
        self.data()
            .account(key, self.options.starting_balance_cents);
    }

    pub fn balance_cents(&self, key: &str) -> i64 {
        self.data()
            .accounts
            .get(key)
            .map(|a| a.balance_cents)
            .unwrap_or(self.options.starting_balance_cents)
    }

    pub fn charge_count(&self) -> usize {
        self.data()
            .accounts
            .values()
            .map(|a| {
                a.ledger
                    .iter()
                    .filter(|e| e.kind == EntryKind::Charge)
                    .count()
            })
            .sum()
    }

    pub fn order_count(&self) -> usize {
        self.data().orders.len()
    }

    // ---- account endpoints ------------------------------------------------------------------

    pub fn profile_json(&self, key: &str) -> Value {
        let mut data = self.data();
        let acct = data.account(key, self.options.starting_balance_cents);
        json!({
            "email": acct.email,
            "balance": dollars(acct.balance_cents),
            "currency": "USD",
            "plan": "pay-as-you-go",
            "created_at": rfc3339(acct.created_at),
        })
    }

    pub fn balance_json(&self, key: &str) -> Value {
        let mut data = self.data();
        let acct = data.account(key, self.options.starting_balance_cents);
        json!({ "balance": dollars(acct.balance_cents), "currency": "USD" })
    }

    /// `/me/stats`. `success_rate` is the share of orders that received at least one SMS (0..1).
    pub fn stats_json(&self, key: &str) -> Value {
        let now = SystemTime::now();
        let mut data = self.data();
        data.account(key, self.options.starting_balance_cents);
        let Data {
            accounts, orders, ..
        } = &mut *data;
        let Some(acct) = accounts.get(key) else {
            return json!({});
        };
        let spend: i64 = acct
            .ledger
            .iter()
            .filter(|e| matches!(e.kind, EntryKind::Charge | EntryKind::Refund))
            .map(|e| -e.amount_cents)
            .sum();
        let mut active = 0;
        let mut with_sms = 0;
        for id in &acct.orders {
            if let Some(order) = orders.get_mut(id) {
                order.refresh(now);
                if !order.status.is_terminal() && !order.v1_completed() {
                    active += 1;
                }
                if !order.messages.is_empty() {
                    with_sms += 1;
                }
            }
        }
        let total = acct.orders.len();
        let rate = if total == 0 {
            0.0
        } else {
            (with_sms as f64 / total as f64 * 100.0).round() / 100.0
        };
        json!({
            "lifetime_orders": total,
            "lifetime_spend": dollars(spend),
            "active_orders": active,
            "success_rate": rate,
        })
    }

    /// One page of the ledger, newest first.
    pub fn transactions_json(&self, key: &str, limit: usize, offset: usize) -> Value {
        let mut data = self.data();
        let acct = data.account(key, self.options.starting_balance_cents);
        let items: Vec<Value> = acct
            .ledger
            .iter()
            .rev()
            .skip(offset)
            .take(limit)
            .map(LedgerEntry::to_json)
            .collect();
        page(items, limit, offset, acct.ledger.len())
    }

    // ---- rate limiting ----------------------------------------------------------------------

    pub fn rate_limit(&self) -> u32 {
        self.rate_limit.load(Ordering::SeqCst)
    }

    pub fn set_rate_limit(&self, per_minute: u32) {
        self.rate_limit.store(per_minute, Ordering::SeqCst);
        lock(&self.rate).clear();
    }

    /// Count one request against `bucket`'s sliding window. `Err(seconds)` when over the limit:
    /// the whole seconds until a slot frees (at least 1). Rejected requests do not use a slot,
    /// so a client that waits `Retry-After` gets through.
    pub fn rate_check(&self, bucket: &str) -> Result<(), u64> {
        let limit = self.rate_limit.load(Ordering::SeqCst) as usize;
        if limit == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut rate = lock(&self.rate);
        let window = rate.entry(bucket.to_string()).or_default();
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= RATE_WINDOW)
        {
            window.pop_front();
        }
        if window.len() < limit {
            window.push_back(now);
            return Ok(());
        }
        // The slot frees when the entry that would make the window fit again ages out.
        let idx = window.len() - limit;
        let frees_at = window.get(idx).map(|t| *t + RATE_WINDOW).unwrap_or(now);
        let wait = frees_at.saturating_duration_since(now).as_secs_f64().ceil() as u64;
        Err(wait.max(1))
    }

    // ---- idempotency ------------------------------------------------------------------------

    pub fn idem_slot(&self, api_key: &str, idem_key: &str) -> IdemSlot {
        lock(&self.idem)
            .entry((api_key.to_string(), idem_key.to_string()))
            .or_default()
            .clone()
    }

    // ---- faults, request log, long-poll count -----------------------------------------------

    pub fn inject(&self, fault: Fault, count: u32) {
        if count > 0 {
            lock(&self.faults).push_back((fault, count));
        }
    }

    /// Take one use of the oldest injected fault.
    pub fn next_fault(&self) -> Option<Fault> {
        let mut q = lock(&self.faults);
        let (fault, left) = q.front_mut()?;
        let fault = fault.clone();
        *left -= 1;
        if *left == 0 {
            q.pop_front();
        }
        Some(fault)
    }

    pub fn record(&self, req: RecordedRequest) {
        lock(&self.requests).push(req);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.requests).clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.requests).clear();
    }

    pub fn open_long_polls(&self) -> usize {
        self.open_polls.load(Ordering::SeqCst)
    }

    /// Count a long-poll as open until the returned guard is dropped — which also happens when
    /// hyper drops the handler future because the client hung up.
    pub fn poll_guard(self: &Arc<Self>) -> PollGuard {
        self.open_polls.fetch_add(1, Ordering::SeqCst);
        PollGuard(self.clone())
    }
}

pub(crate) struct PollGuard(Arc<Shared>);

impl Drop for PollGuard {
    fn drop(&mut self) {
        self.0.open_polls.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The contract's page envelope.
pub(crate) fn page(data: Vec<Value>, limit: usize, offset: usize, total: usize) -> Value {
    let has_more = offset.saturating_add(data.len()) < total;
    json!({ "data": data, "limit": limit, "offset": offset, "total": total, "has_more": has_more })
}
