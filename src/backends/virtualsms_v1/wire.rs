//! v1's JSON shapes (`../shared/api/virtualsms-rest-v1.md` §3) and their translation into the
//! domain types. Decoding is lenient where the sources disagree: aliases for the names official
//! clients also read, money as a number or a string, lists that are missing or `null`, a bare
//! array where an object with a list is documented.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::domain::{self, status, Sms};

/// Money as `0.18` or `"0.18"`.
fn money<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().trim_start_matches('$').parse().ok(),
        _ => None,
    })
}

/// A count as a number, or a boolean (`true` = 1), or missing.
fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::Bool(b)) => u64::from(b),
        _ => 0,
    })
}

fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// A list documented as `{<field>: [...]}` that some deployments answer as a bare array.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Listed<T> {
    Bare(Vec<T>),
    Wrapped(Map<String, Value>),
}

impl<T: for<'de> Deserialize<'de>> Listed<T> {
    /// The rows, from the bare array or from `field` of the object (missing: none).
    pub fn rows(self, field: &str) -> Vec<T> {
        match self {
            Self::Bare(rows) => rows,
            Self::Wrapped(mut map) => map
                .remove(field)
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default(),
        }
    }
}

/// A1 `GET /customer/services` row.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceRow {
    pub service_id: String,
    #[serde(default)]
    pub service_name: String,
    #[serde(default, deserialize_with = "money")]
    pub base_price: Option<f64>,
}

/// A2 `GET /customer/countries` row.
#[derive(Debug, Clone, Deserialize)]
pub struct CountryRow {
    pub country_id: String,
    #[serde(default)]
    pub country_name: String,
    #[serde(default, deserialize_with = "list")]
    pub services: Vec<String>,
}

/// A3 `GET /catalog/countries?service=` row: the real per-country price and stock.
#[derive(Debug, Clone, Deserialize)]
pub struct StockRow {
    #[serde(alias = "iso", alias = "country")]
    pub id: String,
    #[serde(
        default,
        deserialize_with = "money",
        alias = "our_price",
        alias = "price_usd"
    )]
    pub price: Option<f64>,
    #[serde(default, deserialize_with = "count")]
    pub count: u64,
}

/// B1 `GET /customer/balance`.
#[derive(Debug, Deserialize)]
pub struct BalanceAnswer {
    #[serde(default, deserialize_with = "money", alias = "balance_usd")]
    pub balance: Option<f64>,
}

/// B3 `GET /customer/transactions` row.
#[derive(Debug, Deserialize)]
pub struct TransactionRow {
    pub id: String,
    #[serde(default, deserialize_with = "money")]
    pub amount: Option<f64>,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub order_id: Option<String>,
    #[serde(default, deserialize_with = "money")]
    pub balance_after: Option<f64>,
    #[serde(default)]
    pub created_at: Option<String>,
}

impl TransactionRow {
    pub fn into_domain(self) -> domain::Transaction {
        domain::Transaction {
            id: self.id,
            // v1 says `purchase` for what the tools call a charge.
            kind: if self.kind == "purchase" {
                "charge".to_owned()
            } else {
                self.kind
            },
            amount: self.amount.unwrap_or(0.0),
            balance_after: self.balance_after,
            order_id: self.order_id,
            created_at: self.created_at,
        }
    }
}

/// One SMS of an activation (C2 `messages[]`).
#[derive(Debug, Clone, Deserialize)]
pub struct MessageRow {
    #[serde(default)]
    pub sender: Option<String>,
    #[serde(default, alias = "text")]
    pub content: String,
    #[serde(default)]
    pub received_at: Option<String>,
}

/// An activation order: C1 (purchase), C2 (detail), C3 (list rows, whose names differ), C4/C5.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderRow {
    #[serde(alias = "id")]
    pub order_id: String,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default, alias = "service_id")]
    pub service: Option<String>,
    #[serde(default, alias = "country_id")]
    pub country: Option<String>,
    #[serde(default)]
    pub status: String,
    #[serde(default, deserialize_with = "money", alias = "price_charged")]
    pub price: Option<f64>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub cancel_available_at: Option<String>,
    #[serde(default)]
    pub swap_available_at: Option<String>,
    #[serde(default, deserialize_with = "list")]
    pub messages: Vec<MessageRow>,
    /// Older answers carried the SMS at the top level.
    #[serde(default)]
    pub sms_code: Option<String>,
    #[serde(default)]
    pub sms_text: Option<String>,
    #[serde(default, deserialize_with = "money")]
    pub refund_amount: Option<f64>,
}

impl OrderRow {
    /// The messages, including an old-style top-level `sms_text` when the list is empty.
    fn all_messages(&self) -> Vec<MessageRow> {
        if self.messages.is_empty() {
            if let Some(text) = self.sms_text.clone().or_else(|| self.sms_code.clone()) {
                return vec![MessageRow {
                    sender: None,
                    content: text,
                    received_at: None,
                }];
            }
        }
        self.messages.clone()
    }

    /// The SMS as the tools show them: ids `<order_id>:<index>` **(assumed: v1 has no message
    /// ids)**, the code taken from the text like every official client does.
    pub fn sms(&self) -> Vec<Sms> {
        self.all_messages()
            .into_iter()
            .enumerate()
            .map(|(i, m)| Sms {
                id: format!("{}:{i}", self.order_id),
                sender: m.sender.filter(|s| !s.is_empty()),
                code: code_in(&m.content),
                text: m.content,
                received_at: m.received_at,
            })
            .collect()
    }

    pub fn into_domain(self) -> domain::Order {
        let messages = self.sms();
        let code = messages
            .iter()
            .rev()
            .find_map(|m| m.code.clone())
            .or(self.sms_code.clone());
        domain::Order {
            order_id: self.order_id,
            provider: None,
            service: self.service,
            country: self.country.map(|c| c.to_ascii_lowercase()),
            phone_number: self.phone_number.map(|p| e164(&p)),
            status: order_status(&self.status).to_owned(),
            price: self.price,
            created_at: self.created_at,
            expires_at: self.expires_at,
            rental_hours: None,
            messages,
            code,
            refunded: self.refund_amount,
            note: None,
        }
    }
}

/// E2 `GET /rentals/available`.
#[derive(Debug, Deserialize)]
pub struct RentalsAvailable {
    #[serde(default, deserialize_with = "list")]
    pub countries: Vec<RentalCountry>,
}

#[derive(Debug, Deserialize)]
pub struct RentalCountry {
    #[serde(default)]
    pub country_code: String,
    /// Durations and prices per service code.
    #[serde(default)]
    pub pricing: BTreeMap<String, Value>,
}

/// One rental duration on offer.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct RentalPrice {
    pub duration_hours: u32,
    #[serde(deserialize_with = "money")]
    pub price: Option<f64>,
}

impl RentalCountry {
    /// The durations offered for `service`, shortest first.
    pub fn options(&self, service: &str) -> Vec<(u32, f64)> {
        let Some(rows) = self
            .pricing
            .iter()
            .find(|(code, _)| code.eq_ignore_ascii_case(service))
            .map(|(_, v)| v.clone())
        else {
            return Vec::new();
        };
        let rows: Vec<RentalPrice> = serde_json::from_value(rows).unwrap_or_default();
        let mut options: Vec<(u32, f64)> = rows
            .into_iter()
            .filter_map(|r| Some((r.duration_hours, r.price?)))
            .collect();
        options.sort_by_key(|(hours, _)| *hours);
        options
    }
}

/// A rental: E5 (purchase), E7 (list rows), E8/E9/E10 (actions).
#[derive(Debug, Clone, Deserialize)]
pub struct RentalRow {
    #[serde(alias = "rental_id")]
    pub id: String,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default, alias = "service")]
    pub service_id: Option<String>,
    #[serde(default, alias = "duration")]
    pub duration_hours: Option<u32>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default, alias = "new_expires_at")]
    pub expires_at: Option<String>,
    #[serde(default, deserialize_with = "money", alias = "retail_cost")]
    pub price: Option<f64>,
    #[serde(default)]
    pub status: String,
    /// A count of SMS received (not their texts: no v1 REST call returns those).
    #[serde(default, deserialize_with = "count")]
    pub sms_received: u64,
    #[serde(default, deserialize_with = "money")]
    pub refund: Option<f64>,
}

impl RentalRow {
    /// The rental as an order with id `rental:<rental_id>` **(assumed scheme)**.
    pub fn into_domain(self, country: Option<String>) -> domain::Order {
        let received = self.sms_received;
        let mut note = None;
        if received > 0 {
            note = Some(format!(
                "{received} SMS received on this rental; their texts are not available through \
                 the VirtualSMS v1 REST API (see the dashboard)."
            ));
        }
        domain::Order {
            order_id: format!("{}{}", super::RENTAL_PREFIX, self.id),
            provider: None,
            service: self.service_id,
            country,
            phone_number: self.phone_number.map(|p| e164(&p)),
            status: rental_status(&self.status, received).to_owned(),
            price: self.price,
            created_at: self.started_at,
            expires_at: self.expires_at,
            rental_hours: self.duration_hours,
            messages: Vec::new(),
            code: None,
            refunded: self.refund,
            note,
        }
    }
}

/// v1 order states → the tools' (§4 of the contract).
pub fn order_status(v1: &str) -> &'static str {
    match v1 {
        "created" => status::CREATED,
        "waiting" | "pending" | "" => status::WAITING,
        // An SMS arrived: nothing can be undone, and v1 has no confirm **(assumed choice)**.
        "sms_received" | "completed" => status::RECEIVED,
        "cancelled" | "canceled" => status::CANCELLED,
        "expired" => status::EXPIRED,
        other => {
            // Terminal, no SMS will come **(assumed)**.
            tracing::info!(
                status = other,
                "unknown v1 order status; treated as expired"
            );
            status::EXPIRED
        }
    }
}

/// v1 rental states → the tools'.
pub fn rental_status(v1: &str, sms_received: u64) -> &'static str {
    match v1 {
        "active" | "" if sms_received == 0 => status::WAITING,
        "active" | "" => status::RECEIVED,
        "cancelled" | "canceled" => status::CANCELLED,
        "expired" => status::EXPIRED,
        // The official sandbox reports an early release as `completed` **(assumed)**.
        "completed" | "released" => status::RELEASED,
        _ => status::EXPIRED,
    }
}

/// The tools' status filter in v1's words (`None`: no v1 activation has that state).
pub fn v1_statuses(tool_status: &str) -> Option<&'static [&'static str]> {
    Some(match tool_status {
        status::CREATED => &["created"],
        status::WAITING => &["waiting", "pending"],
        status::RECEIVED => &["sms_received", "completed"],
        status::CANCELLED => &["cancelled", "canceled"],
        status::EXPIRED => &["expired", "failed"],
        _ => return None,
    })
}

/// v1 numbers come as international digits without `+` **(assumed: always international)**.
pub fn e164(number: &str) -> String {
    let n = number.trim();
    if n.starts_with('+') || n.is_empty() {
        n.to_owned()
    } else {
        format!("+{n}")
    }
}

/// The first run of 4 to 8 digits standing alone as a word (`\b\d{4,8}\b`), as every official
/// client extracts the code.
pub fn code_in(text: &str) -> Option<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .find(|word| (4..=8).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_code_is_the_first_standalone_run_of_four_to_eight_digits() {
        assert_eq!(code_in("Telegram code: 12345").as_deref(), Some("12345"));
        assert_eq!(code_in("G-482913 is your code").as_deref(), Some("482913"));
        assert_eq!(code_in("abc12345 and 999"), None);
        assert_eq!(code_in("123456789 then 4321").as_deref(), Some("4321"));
    }

    #[test]
    fn list_rows_and_detail_decode_into_one_order_shape() {
        let row: OrderRow = serde_json::from_value(json!({
            "id": "7e44", "phone_number": "541127399874", "service_id": "wa",
            "country_id": "AR", "status": "completed", "price_charged": 0.8
        }))
        .unwrap();
        let order = row.into_domain();
        assert_eq!(order.order_id, "7e44");
        assert_eq!(order.phone_number.as_deref(), Some("+541127399874"));
        assert_eq!(order.country.as_deref(), Some("ar"));
        assert_eq!(order.status, "received");
        assert_eq!(order.price, Some(0.8));
    }

    #[test]
    fn messages_get_positional_ids_and_codes_and_the_flag_is_ignored() {
        let row: OrderRow = serde_json::from_value(json!({
            "order_id": "o1", "status": "completed", "sms_received": false,
            "messages": [{"sender": "", "content": "Your code 4821", "received_at": "t"}]
        }))
        .unwrap();
        let order = row.into_domain();
        assert_eq!(order.messages[0].id, "o1:0");
        assert_eq!(order.messages[0].sender, None);
        assert_eq!(order.code.as_deref(), Some("4821"));
    }

    #[test]
    fn statuses_map_defensively() {
        assert_eq!(order_status("pending"), "waiting");
        assert_eq!(order_status("failed"), "expired");
        assert_eq!(rental_status("active", 0), "waiting");
        assert_eq!(rental_status("active", 2), "received");
        assert_eq!(rental_status("completed", 0), "released");
    }
}
