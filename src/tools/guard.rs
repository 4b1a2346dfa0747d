//! The spending guard: a price ceiling per order and a budget for the whole process.
//!
//! Money is counted in micro-dollars (integers) so that many small charges add up exactly.
//! A spend is *reserved* before the request goes out, so two concurrent orders cannot both slip
//! under the budget, and settled to the amount actually charged afterwards.

use std::sync::{Arc, Mutex};

use crate::config::{env, SpendingGuard};

use super::errors::ToolError;

fn micros(usd: f64) -> i64 {
    (usd * 1_000_000.0).round() as i64
}

fn usd(micros: i64) -> f64 {
    micros as f64 / 1_000_000.0
}

#[derive(Debug)]
pub struct Budget {
    max_order: Option<i64>,
    limit: Option<i64>,
    /// Spent or reserved by this process so far.
    committed: Arc<Mutex<i64>>,
}

impl Budget {
    pub fn new(guard: &SpendingGuard) -> Self {
        Self {
            max_order: guard.max_order_price.map(micros),
            limit: guard.spend_limit.map(micros),
            committed: Arc::default(),
        }
    }

    /// True when any rule limits what an order may cost (so a price check is needed first).
    pub fn limits_price(&self, max_price_arg: Option<f64>) -> bool {
        max_price_arg.is_some() || self.max_order.is_some() || self.limit.is_some()
    }

    /// What is left of the process budget, in USD (`None`: no budget set).
    pub fn left(&self) -> Option<f64> {
        let committed = *self.lock();
        self.limit.map(|l| usd((l - committed).max(0)))
    }

    /// Checks `price` against the per-order ceilings: the caller's `max_price_arg` for this call
    /// (create_order's `max_price`) and [`env::MAX_ORDER_PRICE`].
    pub fn check_price(&self, price: f64, max_price_arg: Option<f64>) -> Result<(), ToolError> {
        let price_micros = micros(price);
        if let Some(max) = max_price_arg {
            if price_micros > micros(max) {
                return Err(ToolError::Refused(format!(
                    "the current price is ${price:.2}, above your max_price of ${max:.2}. Raise \
                     max_price, or find a cheaper country with find_cheapest or \
                     service_availability."
                )));
            }
        }
        if let Some(max) = self.max_order {
            if price_micros > max {
                return Err(ToolError::Refused(format!(
                    "the price ${price:.2} is above this server's per-order limit of ${:.2} ({}). \
                     Pick a cheaper country (find_cheapest / service_availability), or ask the \
                     user to raise the limit.",
                    usd(max),
                    env::MAX_ORDER_PRICE
                )));
            }
        }
        Ok(())
    }

    /// Checks `price` against every rule ([`Self::check_price`] and the process budget) and
    /// reserves it.
    pub fn reserve(
        &self,
        price: f64,
        max_price_arg: Option<f64>,
    ) -> Result<Reservation, ToolError> {
        self.check_price(price, max_price_arg)?;
        let price_micros = micros(price);
        let mut committed = self.lock();
        if let Some(limit) = self.limit {
            if *committed + price_micros > limit {
                return Err(ToolError::Refused(format!(
                    "this would spend ${price:.2}, but only ${:.2} of this server's ${:.2} \
                     budget ({}) is left. Ask the user to raise the budget and restart the \
                     server.",
                    usd((limit - *committed).max(0)),
                    usd(limit),
                    env::SPEND_LIMIT
                )));
            }
        }
        *committed += price_micros;
        Ok(Reservation {
            committed: self.committed.clone(),
            reserved: price_micros,
            settled: false,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, i64> {
        self.committed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A reserved spend. Dropped unsettled, it is released (the request surely failed);
/// [`Reservation::settle`] replaces it with the amount actually charged.
#[must_use]
pub struct Reservation {
    committed: Arc<Mutex<i64>>,
    reserved: i64,
    settled: bool,
}

impl Reservation {
    pub fn settle(mut self, charged: f64) {
        let mut committed = self.committed.lock().unwrap_or_else(|p| p.into_inner());
        *committed += micros(charged) - self.reserved;
        self.settled = true;
    }

    /// The outcome is unknown (it may have been charged): keep the reservation counted.
    pub fn keep(mut self) {
        self.settled = true;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.settled {
            *self.committed.lock().unwrap_or_else(|p| p.into_inner()) -= self.reserved;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(max_order: Option<f64>, limit: Option<f64>) -> Budget {
        Budget::new(&SpendingGuard {
            max_order_price: max_order,
            spend_limit: limit,
            read_only: false,
        })
    }

    #[test]
    fn caller_ceiling_and_per_order_limit_refuse_before_spending() {
        let b = budget(Some(0.50), None);
        assert!(matches!(
            b.reserve(0.20, Some(0.10)),
            Err(ToolError::Refused(_))
        ));
        assert!(matches!(b.reserve(0.51, None), Err(ToolError::Refused(_))));
        b.reserve(0.50, Some(0.50)).unwrap().settle(0.50);
    }

    #[test]
    fn budget_counts_settled_spend_and_releases_failures() {
        let b = budget(None, Some(1.00));
        b.reserve(0.40, None).unwrap().settle(0.30);
        assert_eq!(b.left(), Some(0.70));
        drop(b.reserve(0.70, None).unwrap()); // failed request: released
        assert_eq!(b.left(), Some(0.70));
        let held = b.reserve(0.70, None).unwrap();
        assert!(
            b.reserve(0.01, None).is_err(),
            "a reservation counts while in flight"
        );
        held.keep();
        assert_eq!(b.left(), Some(0.0));
        let text = b.reserve(0.05, None).err().unwrap().for_model();
        assert!(text.contains("VIRTUALSMS_SPEND_LIMIT"), "{text}");
    }
}
