//! smsVerificationService's JSON (`../shared/api/smsverificationservice.md` §3) and its
//! translation into the domain vocabulary.
//!
//! The provider answers in several shapes (§1 "Envelope", §8.1): `{success, data: X}`, a bare
//! object, a flat object with `success` beside the fields, or a raw JSON array. Nothing here
//! assumes the shape from the endpoint: [`payload`] unwraps `data` when there is one, and
//! [`rows`] finds a list as a raw array, under a named key, or under `data`. Money arrives as a
//! JSON number or a decimal string; ids as integers or strings.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::domain::status;

/// An amount in USD: `0.4`, `"0.40"` or `"$0.40"`.
pub fn money<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().trim_start_matches('$').parse().ok(),
        _ => None,
    })
}

/// An id sent as `458731` or `"458731"`, kept as text.
pub fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => Ok(n.to_string()),
        Value::String(s) => Ok(s.trim().to_owned()),
        other => Err(serde::de::Error::custom(format!("not an id: {other}"))),
    }
}

fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    })
}

/// `{success, data: X}` → X; any other object or array as it is.
pub fn payload(v: Value) -> Value {
    match v {
        Value::Object(mut map) if map.get("data").is_some_and(|d| !d.is_null()) => {
            map.remove("data").unwrap_or(Value::Null)
        }
        other => other,
    }
}

/// The text of a `success: false` answer that arrived with a 2xx status, if it is one.
pub fn refusal(v: &Value) -> Option<String> {
    if v.get("success").and_then(Value::as_bool) != Some(false) {
        return None;
    }
    Some(
        v.get("error")
            .or_else(|| v.get("detail"))
            .or_else(|| v.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("the request was refused (no reason given)")
            .to_owned(),
    )
}

/// The rows of a list answer in any of the shapes: a raw array, `{key: [...]}`,
/// `{data: [...]}` or `{data: {key: [...]}}`.
pub fn rows<T: DeserializeOwned>(v: Value, key: &str) -> Result<Vec<T>, String> {
    let list = match payload(v) {
        Value::Array(items) => items,
        Value::Object(mut map) => match map.remove(key) {
            Some(Value::Array(items)) => items,
            Some(Value::Null) | None => return Err(format!("no `{key}` list in the answer")),
            Some(other) => return Err(format!("`{key}` is not a list: {other}")),
        },
        other => return Err(format!("expected a list, got {other}")),
    };
    list.into_iter()
        .map(|item| serde_json::from_value(item).map_err(|e| e.to_string()))
        .collect()
}

/// A service row of a US catalog (B1, B3, B4, B5) or a global offer (C2).
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceRow {
    #[serde(deserialize_with = "id")]
    pub service_id: String,
    #[serde(alias = "service_name")]
    pub name: String,
    #[serde(default, deserialize_with = "money")]
    pub sell_price: Option<f64>,
    #[serde(default, deserialize_with = "money")]
    pub price: Option<f64>,
}

impl ServiceRow {
    /// `sell_price` is what the wallet is debited; `price` is read when it is missing
    /// **(assumed: the two are equal)**.
    pub fn cost(&self) -> Option<f64> {
        self.sell_price.or(self.price)
    }

    pub fn slug(&self) -> String {
        slug(&self.name)
    }
}

/// A row of the name-based 3/30-day rental line (B2, a raw array; no id).
#[derive(Debug, Clone, Deserialize)]
pub struct RentalRow {
    pub name: String,
    #[serde(default, deserialize_with = "money")]
    pub sell_price_3days: Option<f64>,
    #[serde(default, deserialize_with = "money")]
    pub sell_price_30days: Option<f64>,
    #[serde(default, deserialize_with = "money")]
    pub price_3days: Option<f64>,
    #[serde(default, deserialize_with = "money")]
    pub price_30days: Option<f64>,
}

impl RentalRow {
    /// The price of `days` (3 or 30).
    pub fn cost(&self, days: u32) -> Option<f64> {
        match days {
            3 => self.sell_price_3days.or(self.price_3days),
            _ => self.sell_price_30days.or(self.price_30days),
        }
    }
}

/// A country of the global line (C1).
#[derive(Debug, Clone, Deserialize)]
pub struct CountryRow {
    #[serde(deserialize_with = "id")]
    pub country_id: String,
    pub country_name: String,
}

/// The answer of an order (D1–D6), after [`payload`]: wrapped or flat, the same fields.
#[derive(Debug, Clone, Deserialize)]
pub struct Placed {
    #[serde(deserialize_with = "id")]
    pub order_id: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "money")]
    pub sell_price: Option<f64>,
    #[serde(default, deserialize_with = "money")]
    pub price: Option<f64>,
    #[serde(default)]
    pub expiry_date: Option<String>,
}

/// E2 `GET /order/<id>/status/` after [`payload`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StatusRow {
    #[serde(default, deserialize_with = "opt_id")]
    pub order_id: Option<String>,
    #[serde(default)]
    pub status: String,
    #[serde(default, deserialize_with = "opt_id")]
    pub otp: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub time_left_seconds: Option<f64>,
    #[serde(default)]
    pub days_left: Option<f64>,
}

impl StatusRow {
    /// The SMS text, when one arrived (an empty string is none).
    pub fn text(&self) -> Option<&str> {
        self.message.as_deref().filter(|m| !m.trim().is_empty())
    }

    pub fn has_sms(&self) -> bool {
        self.otp.is_some() || self.text().is_some()
    }

    /// Rental countdowns are the only sign E2 gives of a rental (§4.6).
    pub fn looks_like_rental(&self) -> bool {
        self.time_left_seconds.is_some() || self.days_left.is_some()
    }
}

/// A row of E1 `GET /orders/` (a raw array, newest first).
#[derive(Debug, Clone, Deserialize)]
pub struct OrderRow {
    #[serde(deserialize_with = "id")]
    pub order_id: String,
    /// A display string: `"WhatsApp (UK)"`, name plus country in brackets.
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub status: String,
    #[serde(default, deserialize_with = "money")]
    pub sell_price: Option<f64>,
    #[serde(default, deserialize_with = "money")]
    pub price: Option<f64>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

impl OrderRow {
    /// The service name and the bracketed country name of the display string.
    pub fn service_and_country(&self) -> (&str, Option<&str>) {
        let text = self.service.trim();
        match text.rsplit_once(" (") {
            Some((name, rest)) if rest.ends_with(')') => {
                (name.trim(), Some(rest.trim_end_matches(')').trim()))
            }
            _ => (text, None),
        }
    }
}

/// A balance (A1 bare, A2 wrapped).
#[derive(Debug, Clone, Deserialize)]
pub struct BalanceRow {
    #[serde(deserialize_with = "money")]
    pub balance: Option<f64>,
    #[serde(default)]
    pub currency: Option<String>,
}

/// A service name as a slug: lower case, non-alphanumerics removed ("WhatsApp" → `whatsapp`)
/// **(assumed, contract §4.5)**.
pub fn slug(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// `+1 415 555 0123` or `16095170503` → `+14155550123`.
pub fn e164(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    format!("+{digits}")
}

/// The provider's status (§5) as the tools report it. `released`: the adapter ended this rental
/// through release_rental.
pub fn tool_status(raw: &str, has_sms: bool, released: bool) -> &'static str {
    match raw.trim().to_ascii_lowercase().as_str() {
        "pending" | "active" if has_sms => status::RECEIVED,
        "pending" | "active" => status::WAITING,
        // **(assumed)**: completion happens on the OTP; there is no confirm step.
        "completed" => status::RECEIVED,
        "cancelled" | "canceled" if released => status::RELEASED,
        "cancelled" | "canceled" => status::CANCELLED,
        // **(assumed)**: a status the doc does not show, but the obvious one.
        "expired" => status::EXPIRED,
        other => {
            tracing::info!(
                status = other,
                "unknown smsVerificationService order status; reported as expired"
            );
            status::EXPIRED
        }
    }
}

/// The id of the one message E2 shows: `<order_id>:<hash of text and code>`.
pub fn message_id(order_id: &str, row: &StatusRow) -> String {
    // FNV-1a over the text and code: stable across runs, so `since` keeps working.
    let mut h: u32 = 0x811c_9dc5;
    for b in row
        .text()
        .unwrap_or_default()
        .bytes()
        .chain([0])
        .chain(row.otp.as_deref().unwrap_or_default().bytes())
    {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{order_id}:{h:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_are_found_in_every_shape() {
        let row = json!({"service_id": 1012, "name": "WhatsApp", "price": 0.4});
        let shapes = [
            json!({"success": true, "data": {"services": [row.clone()]}}),
            json!({"services": [row.clone()]}),
            json!([row.clone()]),
            json!({"success": true, "data": [row.clone()]}),
        ];
        for shape in shapes {
            let got: Vec<ServiceRow> = rows(shape.clone(), "services").unwrap();
            assert_eq!(got[0].service_id, "1012", "{shape}");
            assert_eq!(got[0].cost(), Some(0.4));
            assert_eq!(got[0].slug(), "whatsapp");
        }
        assert!(rows::<ServiceRow>(json!({"other": []}), "services").is_err());
    }

    #[test]
    fn money_and_ids_are_lenient_and_sell_price_wins() {
        let row: ServiceRow = serde_json::from_value(
            json!({"service_id": "7", "service_name": "PayPal", "sell_price": "0.55", "price": 0.5}),
        )
        .unwrap();
        assert_eq!((row.service_id.as_str(), row.cost()), ("7", Some(0.55)));
        let placed: Placed = serde_json::from_value(payload(
            json!({"success": true, "order_id": 5, "phone": "+1 415 555 0123"}),
        ))
        .unwrap();
        assert_eq!(placed.order_id, "5");
        assert_eq!(e164(placed.phone.as_deref().unwrap()), "+14155550123");
        assert_eq!(e164("16095170503"), "+16095170503");
    }

    #[test]
    fn refusals_in_a_2xx_are_seen() {
        assert_eq!(
            refusal(&json!({"success": false, "error": "Service not available"})).as_deref(),
            Some("Service not available")
        );
        assert_eq!(refusal(&json!({"success": true, "data": {}})), None);
        assert_eq!(refusal(&json!([1, 2])), None);
    }

    #[test]
    fn statuses_map_as_the_contract_says() {
        assert_eq!(tool_status("pending", false, false), status::WAITING);
        assert_eq!(tool_status("pending", true, false), status::RECEIVED);
        assert_eq!(tool_status("active", false, false), status::WAITING);
        assert_eq!(tool_status("completed", true, false), status::RECEIVED);
        assert_eq!(tool_status("cancelled", false, true), status::RELEASED);
        assert_eq!(tool_status("cancelled", false, false), status::CANCELLED);
        assert_eq!(tool_status("refunded", false, false), status::EXPIRED);
    }

    #[test]
    fn display_strings_split_into_service_and_country() {
        let row: OrderRow = serde_json::from_value(
            json!({"order_id": 1, "service": "WhatsApp (United Kingdom)", "status": "pending"}),
        )
        .unwrap();
        assert_eq!(
            row.service_and_country(),
            ("WhatsApp", Some("United Kingdom"))
        );
        let us: OrderRow =
            serde_json::from_value(json!({"order_id": 2, "service": "Telegram"})).unwrap();
        assert_eq!(us.service_and_country(), ("Telegram", None));
    }

    #[test]
    fn message_ids_change_with_the_message_only() {
        let a = StatusRow {
            order_id: None,
            status: "pending".into(),
            otp: Some("1234".into()),
            message: Some("code 1234".into()),
            phone: None,
            time_left_seconds: None,
            days_left: None,
        };
        let mut b = a.clone();
        b.status = "completed".into();
        assert_eq!(message_id("9", &a), message_id("9", &b));
        b.otp = Some("5678".into());
        assert_ne!(message_id("9", &a), message_id("9", &b));
        assert!(message_id("9", &a).starts_with("9:"));
    }
}
