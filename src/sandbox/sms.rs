//! SMS arrival: the realistic messages that arrive by themselves `sms_delay` after an order is
//! created or swapped, and the deliveries and expiries tests and `/admin` trigger by hand.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;

use super::catalog;
use super::orders::Status;
use super::state::Shared;
use super::util::extract_code;

impl Shared {
    /// Test/admin control: an SMS arrives now. Without `text` a realistic one for the service is
    /// made up; with `text` the code is extracted from it (may be none).
    pub fn deliver_sms(&self, id: &str, text: Option<&str>) -> Result<(), String> {
        let mut data = self.data();
        let order = data
            .orders
            .get_mut(id)
            .ok_or_else(|| format!("no order '{id}'"))?;
        order.refresh(SystemTime::now());
        if order.status.is_terminal() {
            return Err(format!(
                "order {id} is {}; it cannot receive SMS",
                order.status.as_str()
            ));
        }
        let (sender, text, code) = match text {
            Some(t) => (
                order.service.name.to_string(),
                t.to_string(),
                extract_code(t),
            ),
            None => {
                let (sender, text, code) = catalog::realistic_sms(order.service);
                (sender, text, Some(code))
            }
        };
        order.push_sms(sender, text, code);
        Ok(())
    }

    /// Any key's order as JSON (admin view).
    pub fn order_json_any(&self, id: &str) -> Option<Value> {
        let mut data = self.data();
        let order = data.orders.get_mut(id)?;
        order.refresh(SystemTime::now());
        Some(order.to_json())
    }

    /// Test/admin control: the order's window ends now.
    pub fn expire_order(&self, id: &str) -> Result<(), String> {
        let mut data = self.data();
        let order = data
            .orders
            .get_mut(id)
            .ok_or_else(|| format!("no order '{id}'"))?;
        order.refresh(SystemTime::now());
        if order.status.is_terminal() || order.v1_completed() {
            return Err(format!("order {id} is already {}", order.status.as_str()));
        }
        order.expires_at = SystemTime::now();
        order.set_status(Status::Expired);
        Ok(())
    }

    /// Test control: every timestamp of the order moves `by` into the past (see
    /// `FakeApi::age_order`); lazy expiry then applies on the next access.
    pub fn age_order(&self, id: &str, by: std::time::Duration) -> Result<(), String> {
        let mut data = self.data();
        let order = data
            .orders
            .get_mut(id)
            .ok_or_else(|| format!("no order '{id}'"))?;
        order.age(by);
        Ok(())
    }

    /// After `sms_delay`, a realistic SMS arrives on the number as it was at scheduling time
    /// (`gen`). Activations get one; rentals get up to three, one per delay, while still live.
    pub(super) fn schedule_sms(self: &Arc<Self>, id: String, gen: u64, rental: bool) {
        let Some(delay) = self.options.sms_delay else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // Weak: a pending delivery must not keep a dropped fake alive.
        let shared = Arc::downgrade(self);
        runtime.spawn(async move {
            let rounds = if rental { 3 } else { 1 };
            for _ in 0..rounds {
                tokio::time::sleep(delay).await;
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                if !shared.auto_deliver(&id, gen, rental) {
                    return;
                }
            }
        });
    }

    /// Deliver one scheduled SMS if the order still wants it; `false` when the schedule should stop.
    fn auto_deliver(&self, id: &str, gen: u64, rental: bool) -> bool {
        let mut data = self.data();
        let Some(order) = data.orders.get_mut(id) else {
            return false;
        };
        order.refresh(SystemTime::now());
        let wanted = order.number_gen == gen
            && if rental {
                !order.status.is_terminal()
            } else {
                order.status == Status::Waiting
            };
        if !wanted {
            return false;
        }
        let (sender, text, code) = catalog::realistic_sms(order.service);
        order.push_sms(sender, text, Some(code));
        rental
    }
}
