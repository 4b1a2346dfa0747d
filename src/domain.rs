//! The provider-neutral vocabulary the tools speak: services, countries, offers, orders, SMS,
//! balances, pages. Every backend translates its own API into these types; the tools return them
//! (they derive `Serialize` and `JsonSchema`, and optional fields are skipped when absent so the
//! output matches its schema).
//!
//! Conventions: services are the provider's service ids (VirtualSMS v2 slugs such as `telegram`,
//! v1 codes such as `tg`), countries ISO 3166-1 alpha-2 in lower case, money in USD as `f64`,
//! times RFC 3339 strings, phone numbers E.164 with `+`.
//!
//! The REST v2 API (`../shared/api/virtualsms-rest-v2.md`) answers in exactly these shapes, so
//! the types also `Deserialize` leniently: unknown fields are ignored, money is accepted as a
//! number or a decimal string, and open-ended objects (`/me`, `/me/stats`) keep their extra
//! fields.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Order states as the tools report them, on every backend. Kept as strings so a new state from
/// a live service does not break decoding.
pub mod status {
    pub const CREATED: &str = "created";
    pub const WAITING: &str = "waiting";
    pub const RECEIVED: &str = "received";
    pub const CONFIRMED: &str = "confirmed";
    pub const SWAPPED: &str = "swapped";
    pub const CANCELLED: &str = "cancelled";
    pub const EXPIRED: &str = "expired";
    pub const RELEASED: &str = "released";

    /// No further SMS can arrive for an order in one of these states.
    pub fn is_terminal(status: &str) -> bool {
        matches!(status, CONFIRMED | CANCELLED | EXPIRED | RELEASED)
    }
}

/// Money arrives as `0.18` or `"0.18"`; both become `f64` dollars.
fn money<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(f64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Number(n) => Ok(n),
        Raw::Text(s) => s
            .trim()
            .trim_start_matches('$')
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("not an amount: {s:?}"))),
    }
}

fn opt_money<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "money")] f64);
    Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
}

/// `null` or a missing list both mean "none".
fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Service {
    /// Slug to pass as `service`, e.g. `telegram`.
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Country {
    /// ISO 3166-1 alpha-2 code to pass as `country`, e.g. `us`.
    pub iso2: String,
    pub name: String,
    #[serde(default)]
    pub in_stock: bool,
}

/// The cheapest offer for a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Offer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    pub country: String,
    /// USD per activation.
    #[serde(deserialize_with = "money")]
    pub price: f64,
    /// Numbers available now.
    #[serde(default)]
    pub stock: u64,
    /// True when the provider reports no stock counts: `stock` is then 1, meaning "offered
    /// now, how many unknown" (smsVerificationService), never a real count.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stock_unknown: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RentalOption {
    pub hours: u32,
    #[serde(deserialize_with = "money")]
    pub price: f64,
}

/// One service's price in a country.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ServicePrice {
    pub service: String,
    #[serde(deserialize_with = "money")]
    pub price: f64,
    #[serde(default)]
    pub stock: u64,
    /// True when the provider reports no stock counts: `stock` is then 1, meaning "offered
    /// now, how many unknown" (smsVerificationService), never a real count.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stock_unknown: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rental_options: Option<Vec<RentalOption>>,
}

/// One country's price for a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CountryPrice {
    pub country: String,
    #[serde(deserialize_with = "money")]
    pub price: f64,
    #[serde(default)]
    pub stock: u64,
    /// True when the provider reports no stock counts: `stock` is then 1, meaning "offered
    /// now, how many unknown" (smsVerificationService), never a real count.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stock_unknown: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Balance {
    #[serde(deserialize_with = "money")]
    pub balance: f64,
    #[serde(default = "usd")]
    pub currency: String,
}

fn usd() -> String {
    "USD".to_owned()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(
        default,
        deserialize_with = "opt_money",
        skip_serializing_if = "Option::is_none"
    )]
    pub balance: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Any further fields the service reports.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Stats {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_orders: Option<u64>,
    #[serde(
        default,
        deserialize_with = "opt_money",
        skip_serializing_if = "Option::is_none"
    )]
    pub lifetime_spend: Option<f64>,
    /// Any further fields the service reports.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Transaction {
    pub id: String,
    /// `charge`, `refund`, `deposit`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// USD.
    #[serde(deserialize_with = "money")]
    pub amount: f64,
    #[serde(
        default,
        deserialize_with = "opt_money",
        skip_serializing_if = "Option::is_none"
    )]
    pub balance_after: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Sms {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    #[serde(default)]
    pub text: String,
    /// The verification code the service extracted from the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Order {
    /// `<provider>:<id>` for providers other than VirtualSMS; pass it as is to the order tools.
    pub order_id: String,
    /// Who sold the number (`virtualsms`, `smscode`, `smsverificationservice`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// E.164 number to enter on the target site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// created, waiting, received, confirmed, cancelled, expired, released.
    pub status: String,
    /// Charged for this order, in the provider's currency (for extend_rental: charged for the
    /// extension).
    #[serde(
        default,
        deserialize_with = "opt_money",
        skip_serializing_if = "Option::is_none"
    )]
    pub price: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rental_hours: Option<u32>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub messages: Vec<Sms>,
    /// Latest verification code, once an SMS arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// USD returned to the balance (cancel_order).
    #[serde(
        default,
        deserialize_with = "opt_money",
        skip_serializing_if = "Option::is_none"
    )]
    pub refunded: Option<f64>,
    /// What the provider's API could not say in the fields above (e.g. a rental whose SMS texts
    /// are not retrievable, an id that changed on swap, how a lost answer was reconciled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The answer of one long-poll round of `GET /orders/{id}/sms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SmsPoll {
    #[serde(default)]
    pub order_id: String,
    pub status: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub messages: Vec<Sms>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What the provider could not say (e.g. rental SMS texts that are not retrievable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A page of a list endpoint **(assumed shape)**: `{data, limit, offset, total, has_more}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Page<T> {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub data: Vec<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_more: Option<bool>,
}

/// What to buy: an activation, or a rental of `rental_hours` (also the body of v2's
/// `POST /orders`).
#[derive(Debug, Clone, Serialize)]
pub struct NewOrder<'a> {
    pub service: &'a str,
    pub country: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rental_hours: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn money_as_number_or_string() {
        let b: Balance = serde_json::from_value(json!({"balance": "10.50"})).unwrap();
        assert_eq!(b.balance, 10.5);
        assert_eq!(b.currency, "USD");
        let o: Offer =
            serde_json::from_value(json!({"country": "us", "price": 0.18, "stock": 3})).unwrap();
        assert_eq!(o.price, 0.18);
        assert!(serde_json::from_value::<Balance>(json!({"balance": "lots"})).is_err());
    }

    #[test]
    fn order_tolerates_missing_and_null_fields() {
        let o: Order = serde_json::from_value(json!({
            "order_id": "ord_1", "status": "waiting", "messages": null, "future_field": 1
        }))
        .unwrap();
        assert!(o.messages.is_empty());
        let out = serde_json::to_value(&o).unwrap();
        assert_eq!(
            out,
            json!({"order_id": "ord_1", "status": "waiting", "messages": []})
        );
    }

    #[test]
    fn profile_keeps_extra_fields() {
        let p: Profile =
            serde_json::from_value(json!({"email": "a@b.c", "balance": 1, "team": "x"})).unwrap();
        assert_eq!(p.extra.get("team"), Some(&json!("x")));
    }
}
