//! SMSCode's JSON (`../shared/api/smscode.md` §1-4) and its translation into the domain types:
//! the `{success, data}` / `{success: false, error: {code, message}}` envelope, catalog products,
//! orders and their statuses, and country-name slugs ↔ ISO 3166-1 alpha-2 codes (through the
//! `celes` crate, never a hand-written table).
//!
//! Decoding is lenient: every order field beyond `order_id` and `status` is optional (the guide
//! shows only a few, contract §3 C2 **(assumed)**), money is an integer or a decimal, and unknown
//! fields are ignored.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::domain::{status, Order, Sms, SmsPoll};

/// The envelope every answer shares, success or not (§1 "Envelope").
#[derive(Debug, Deserialize)]
pub struct Envelope {
    /// Checked on every answer: errors may come with HTTP 200 (§5).
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(default)]
    pub data: Option<Value>,
    #[serde(default)]
    pub error: Option<ErrorBody>,
}

/// `error: {code, message}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// IDR amounts: whole numbers on the wire, a decimal or a numeric string accepted.
fn rupiah<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

/// B1 `GET /catalog/products` row: one sellable offer.
#[derive(Debug, Clone, Deserialize)]
pub struct Product {
    pub id: u64,
    pub country: String,
    pub platform: String,
    /// IDR.
    #[serde(default, deserialize_with = "rupiah")]
    pub price: Option<f64>,
    #[serde(default, deserialize_with = "count")]
    pub available_count: u64,
}

/// A1 `GET /balance`.
#[derive(Debug, Deserialize)]
pub struct BalanceRow {
    #[serde(default, deserialize_with = "rupiah")]
    pub balance: Option<f64>,
    #[serde(default)]
    pub currency: Option<String>,
}

/// An order as C1-C5 show it. Only `order_id` and `status` are sure.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderRow {
    #[serde(alias = "id")]
    pub order_id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub otp_code: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    /// **(assumed)** present on C2/C5.
    #[serde(default)]
    pub product_id: Option<u64>,
    /// **(assumed)** maybe present.
    #[serde(default)]
    pub platform: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default, deserialize_with = "rupiah")]
    pub price: Option<f64>,
}

/// §4: provider status → the tools' status. Anything unknown ends the order (`expired`,
/// **(assumed)**) and is logged.
pub fn order_status(raw: Option<&str>) -> &'static str {
    match raw.map(str::to_ascii_uppercase).as_deref() {
        Some("WAITING") => status::WAITING,
        Some("OTP_RECEIVED") => status::RECEIVED,
        Some("COMPLETED") => status::CONFIRMED,
        Some("CANCELLED" | "CANCELED") => status::CANCELLED,
        Some("EXPIRED") => status::EXPIRED,
        other => {
            tracing::warn!(status = ?other, "unknown SMSCode order status; reported as expired");
            status::EXPIRED
        }
    }
}

/// The id of the one message an order can show: SMSCode exposes the code, never the text.
pub fn otp_message_id(order_id: &str) -> String {
    format!("{order_id}:otp")
}

/// Said wherever a code is shown: there is no SMS text to show with it.
pub const CODE_ONLY: &str =
    "SMSCode exposes only the verification code, not the SMS text or its sender.";

impl OrderRow {
    pub fn otp(&self) -> Option<&str> {
        self.otp_code
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
    }

    pub fn status(&self) -> &'static str {
        order_status(self.status.as_deref())
    }

    fn messages(&self) -> Vec<Sms> {
        self.otp()
            .map(|code| Sms {
                id: otp_message_id(&self.order_id),
                sender: None,
                text: String::new(),
                code: Some(code.to_owned()),
                received_at: None,
            })
            .into_iter()
            .collect()
    }

    /// The order in the tools' words. `service`, `country` (ISO) and `price` (IDR) come from
    /// what the caller knows (the row rarely says them).
    pub fn into_domain(
        self,
        service: Option<String>,
        country: Option<String>,
        price: Option<f64>,
    ) -> Order {
        let messages = self.messages();
        let note = (!messages.is_empty()).then(|| CODE_ONLY.to_owned());
        Order {
            provider: None,
            status: self.status().to_owned(),
            code: self.otp().map(str::to_owned),
            service,
            country,
            phone_number: self.phone_number,
            price: price.or(self.price),
            created_at: self.created_at,
            expires_at: self.expires_at,
            rental_hours: None,
            messages,
            refunded: None,
            note,
            order_id: self.order_id,
        }
    }

    pub fn to_poll(&self) -> SmsPoll {
        let messages = self.messages();
        SmsPoll {
            order_id: self.order_id.clone(),
            status: self.status().to_owned(),
            note: (!messages.is_empty()).then(|| CODE_ONLY.to_owned()),
            code: self.otp().map(str::to_owned),
            messages,
        }
    }
}

/// A country-name slug (`indonesia`, `united-kingdom`, `united_states`) → ISO alpha-2, lower
/// case, through `celes` (official names, short names and aliases). Separators are dropped, so
/// `-`, `_` or spaces all work (how SMSCode writes multi-word names is not documented: §9.9).
pub fn iso_of_slug(slug: &str) -> Option<String> {
    let compact: String = slug
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    if compact.len() < 3 {
        return None; // two letters would be read as a code, not a name
    }
    celes::Country::from_name(&compact)
        .or_else(|_| celes::Country::from_alias(&compact))
        .or_else(|_| celes::Country::from_name(format!("the{compact}")))
        .ok()
        .map(|c| c.alpha2.to_ascii_lowercase())
}

/// `united-kingdom` → `United Kingdom`.
pub fn title_case(slug: &str) -> String {
    slug.split(['-', '_', ' '])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn country_slugs_map_to_iso_codes_through_celes() {
        for (slug, iso) in [
            ("indonesia", "id"),
            ("united-states", "us"),
            ("united_kingdom", "gb"),
            ("netherlands", "nl"),
            ("philippines", "ph"),
            ("vietnam", "vn"),
            ("russia", "ru"),
            ("south-korea", "kr"),
        ] {
            assert_eq!(iso_of_slug(slug).as_deref(), Some(iso), "{slug}");
        }
        assert_eq!(iso_of_slug("atlantis"), None);
        assert_eq!(iso_of_slug("us"), None, "a code is not a name");
    }

    #[test]
    fn every_status_maps_and_unknown_ones_end_the_order() {
        for (raw, want) in [
            ("WAITING", "waiting"),
            ("OTP_RECEIVED", "received"),
            ("COMPLETED", "confirmed"),
            ("CANCELLED", "cancelled"),
            ("EXPIRED", "expired"),
            ("REFUNDED_SOMEHOW", "expired"),
        ] {
            assert_eq!(order_status(Some(raw)), want);
        }
    }

    #[test]
    fn an_order_with_a_code_shows_one_textless_message() {
        let row: OrderRow = serde_json::from_value(json!({
            "order_id": "ord_abc123", "status": "OTP_RECEIVED", "otp_code": "482913",
            "phone_number": "+628123456789", "future": true
        }))
        .unwrap();
        let order =
            row.clone()
                .into_domain(Some("telegram".into()), Some("id".into()), Some(4800.0));
        assert_eq!(order.status, "received");
        assert_eq!(order.code.as_deref(), Some("482913"));
        assert_eq!(order.messages.len(), 1);
        assert_eq!(order.messages[0].id, "ord_abc123:otp");
        assert!(order.messages[0].text.is_empty());
        assert!(order
            .note
            .as_deref()
            .is_some_and(|n| n.contains("only the verification code")));
        let waiting: OrderRow = serde_json::from_value(
            json!({"order_id": "ord_1", "status": "WAITING", "otp_code": null}),
        )
        .unwrap();
        assert!(waiting.to_poll().messages.is_empty());
    }

    #[test]
    fn slugs_are_title_cased() {
        assert_eq!(title_case("united-kingdom"), "United Kingdom");
        assert_eq!(title_case("telegram"), "Telegram");
    }
}
