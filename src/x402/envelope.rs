//! The two x402 envelopes and the network table (`../shared/notes/x402-solana-permit2-v2.md` §3).
//!
//! | | v1 | v2 |
//! |---|---|---|
//! | 402 | JSON body `{x402Version: 1, error, accepts}` | header `PAYMENT-REQUIRED`: base64 JSON |
//! | client header | `X-PAYMENT` | `PAYMENT-SIGNATURE`, with `accepted` = the chosen entry verbatim |
//! | answer header | `X-PAYMENT-RESPONSE` | `PAYMENT-RESPONSE` |
//! | network | `base`, `solana` | CAIP-2 `eip155:8453`, `solana:5eykt4Us…` |
//! | amount | `maxAmountRequired` | `amount` |
//!
//! The signed inner payload (EIP-3009 `{signature, authorization}`, SVM `{transaction}`) is the
//! same in both. A 402 with a `PAYMENT-REQUIRED` header is v2; otherwise the body must be v1.
//! The client answers in the version asked, with one header, never both.

use std::fmt;

use base64::engine::general_purpose::{STANDARD as BASE64, STANDARD_NO_PAD};
use base64::Engine as _;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{json, Value};

/// A network this client knows by name. Only Base and Solana can be paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    Base,
    Solana,
    /// BNB Chain: recognised only to refuse it plainly (Permit2, not supported).
    BnbChain,
}

/// `(network, v1 names, CAIP-2 id, label)`: the one table every envelope goes through.
const NETWORKS: [(Network, &[&str], &str, &str); 3] = [
    (Network::Base, &["base"], "eip155:8453", "Base"),
    (
        Network::Solana,
        &["solana"],
        "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
        "Solana",
    ),
    (Network::BnbChain, &["bsc", "bnb"], "eip155:56", "BNB Chain"),
];

impl Network {
    fn row(self) -> &'static (Network, &'static [&'static str], &'static str, &'static str) {
        NETWORKS
            .iter()
            .find(|row| row.0 == self)
            .expect("every network is in the table")
    }

    /// The v1 name (`base`, `solana`).
    pub fn v1_name(self) -> &'static str {
        self.row().1[0]
    }

    /// The CAIP-2 id of mainnet.
    pub fn caip2(self) -> &'static str {
        self.row().2
    }

    /// For messages: `Base`, `Solana`, `BNB Chain`.
    pub fn label(self) -> &'static str {
        self.row().3
    }

    /// The name in `version`'s spelling.
    pub fn wire_name(self, version: Version) -> &'static str {
        match version {
            Version::V1 => self.v1_name(),
            Version::V2 => self.caip2(),
        }
    }

    /// A v1 name or a mainnet CAIP-2 id; `None` for anything else (testnets included).
    pub fn from_wire(name: &str) -> Option<Self> {
        let name = name.trim();
        NETWORKS
            .iter()
            .find(|(_, v1, caip2, _)| {
                *caip2 == name || v1.iter().any(|n| n.eq_ignore_ascii_case(name))
            })
            .map(|row| row.0)
    }

    /// `base` or `solana` (the `VIRTUALSMS_X402_NETWORK` values).
    pub fn parse_setting(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "base" => Some(Self::Base),
            "solana" => Some(Self::Solana),
            _ => None,
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.v1_name())
    }
}

/// The envelope the server spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

impl Version {
    pub fn number(self) -> u64 {
        match self {
            Self::V1 => 1,
            Self::V2 => 2,
        }
    }
}

/// A 402 answer, either envelope. `accepts` entries stay raw JSON: v2 copies the chosen one
/// verbatim, and an odd entry for another network cannot break the parse.
#[derive(Debug, Clone)]
pub struct PaymentRequired {
    pub version: Version,
    pub error: Option<String>,
    pub accepts: Vec<Value>,
    /// v2: the top-level `resource` object, copied into the payment.
    pub resource: Option<Value>,
    /// v2: the server's `extensions`, copied into the payment.
    pub extensions: Option<Value>,
}

fn version_of(doc: &Value) -> Option<u64> {
    match doc.get("x402Version") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads a 402: the `PAYMENT-REQUIRED` header (v2) if there is one, else the body (v1).
pub fn parse_402(headers: &HeaderMap, body: &[u8]) -> Result<PaymentRequired, String> {
    if let Some(header) = headers.get("payment-required") {
        let text = header
            .to_str()
            .map_err(|_| "the PAYMENT-REQUIRED header is not text".to_owned())?
            .trim();
        let bytes = BASE64
            .decode(text)
            .or_else(|_| STANDARD_NO_PAD.decode(text))
            .map_err(|_| "the PAYMENT-REQUIRED header is not base64".to_owned())?;
        let doc: Value = serde_json::from_slice(&bytes)
            .map_err(|e| format!("the PAYMENT-REQUIRED header is not JSON ({e})"))?;
        if version_of(&doc) != Some(2) {
            return Err(format!(
                "the PAYMENT-REQUIRED header speaks x402Version {}; this client supports 2 \
                 there (and 1 in the body)",
                doc.get("x402Version").unwrap_or(&Value::Null)
            ));
        }
        return Ok(from_doc(Version::V2, doc));
    }
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the 402 answer is not an x402 payment manifest ({e})"))?;
    if !doc.is_object() {
        return Err("the 402 answer is not an x402 payment manifest (not an object)".into());
    }
    if let Some(v) = doc
        .get("x402Version")
        .filter(|_| version_of(&doc) != Some(1))
    {
        return Err(format!(
            "the manifest in the body speaks x402Version {v}; this client supports version 1 \
             in the body (and 2 in a PAYMENT-REQUIRED header)"
        ));
    }
    Ok(from_doc(Version::V1, doc))
}

fn from_doc(version: Version, doc: Value) -> PaymentRequired {
    #[derive(Deserialize, Default)]
    struct Doc {
        #[serde(default)]
        error: Option<Value>,
        #[serde(default)]
        accepts: Option<Value>,
        #[serde(default)]
        resource: Option<Value>,
        #[serde(default)]
        extensions: Option<Value>,
    }
    let doc: Doc = serde_json::from_value(doc).unwrap_or_default();
    PaymentRequired {
        version,
        error: doc.error.and_then(|e| e.as_str().map(str::to_owned)),
        accepts: match doc.accepts {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        resource: doc.resource.filter(|_| version == Version::V2),
        extensions: doc.extensions.filter(|_| version == Version::V2),
    }
}

/// The payment header: its name (`X-PAYMENT` or `PAYMENT-SIGNATURE`) and value (base64 of the
/// signed payload). `Debug` hides the value: it moves money.
pub struct PaymentHeader {
    name: &'static str,
    value: String,
}

impl PaymentHeader {
    /// The payment in the envelope `required` asked for. `accepted` is the chosen `accepts`
    /// entry, raw; `payload` the scheme's signed object.
    pub fn new(required: &PaymentRequired, accepted: &Value, payload: Value) -> Self {
        let doc = match required.version {
            Version::V1 => json!({
                "x402Version": 1,
                "scheme": accepted.get("scheme").cloned().unwrap_or(Value::Null),
                "network": accepted.get("network").cloned().unwrap_or(Value::Null),
                "payload": payload,
            }),
            Version::V2 => {
                let mut doc = json!({
                    "x402Version": 2,
                    "accepted": accepted,
                    "payload": payload,
                });
                if let Some(resource) = &required.resource {
                    doc["resource"] = resource.clone();
                }
                if let Some(extensions) = &required.extensions {
                    doc["extensions"] = extensions.clone();
                }
                doc
            }
        };
        let name = match required.version {
            Version::V1 => "x-payment",
            Version::V2 => "payment-signature",
        };
        Self {
            name,
            value: BASE64.encode(doc.to_string()),
        }
    }

    /// The header name, lowercase.
    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn expose(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for PaymentHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PaymentHeader({}: <redacted>)", self.name)
    }
}

/// The settlement header, decoded: `PAYMENT-RESPONSE`, else `X-PAYMENT-RESPONSE`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentResponse {
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(default)]
    pub error_reason: Option<String>,
    #[serde(default)]
    pub transaction: Option<String>,
    #[serde(default)]
    pub network: Option<String>,
}

pub fn payment_response(headers: &HeaderMap) -> Option<PaymentResponse> {
    ["payment-response", "x-payment-response"]
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| BASE64.decode(v.trim()).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn the_network_table_maps_both_spellings() {
        for (name, network) in [
            ("base", Network::Base),
            ("eip155:8453", Network::Base),
            ("solana", Network::Solana),
            ("solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp", Network::Solana),
            ("eip155:56", Network::BnbChain),
            ("bsc", Network::BnbChain),
        ] {
            assert_eq!(Network::from_wire(name), Some(network), "{name}");
        }
        for other in [
            "base-sepolia",
            "eip155:84532",
            "solana-devnet",
            "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1",
            // The truncation is 32 characters: a longer id is another network.
            "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdpKuc",
        ] {
            assert_eq!(Network::from_wire(other), None, "{other}");
        }
        assert_eq!(Network::Solana.wire_name(Version::V1), "solana");
        assert_eq!(
            Network::Base.wire_name(Version::V2),
            "eip155:8453",
            "CAIP-2"
        );
    }

    /// The v2 example of `specs/transports-v2/http.md` (coinbase/x402), re-encoded.
    #[test]
    fn a_payment_required_header_is_v2_and_wins_over_the_body() {
        let doc = json!({
            "x402Version": 2, "error": "PAYMENT-SIGNATURE header is required",
            "resource": {"url": "https://api.example.com/premium-data", "mimeType": "application/json"},
            "accepts": [{"scheme": "exact", "network": "eip155:84532", "amount": "10000",
                "asset": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
                "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C", "maxTimeoutSeconds": 60,
                "extra": {"name": "USDC", "version": "2"}}],
            "extensions": {"bazaar": {}}
        });
        let mut headers = HeaderMap::new();
        headers.insert(
            "PAYMENT-REQUIRED",
            HeaderValue::from_str(&BASE64.encode(doc.to_string())).unwrap(),
        );
        let body = br#"{"x402Version": 1, "accepts": []}"#;
        let required = parse_402(&headers, body).unwrap();
        assert_eq!(required.version, Version::V2);
        assert_eq!(required.accepts.len(), 1);
        let header = PaymentHeader::new(&required, &required.accepts[0], json!({"x": 1}));
        assert_eq!(header.name(), "payment-signature");
        assert_eq!(
            format!("{header:?}"),
            "PaymentHeader(payment-signature: <redacted>)"
        );
        let sent: Value = serde_json::from_slice(&BASE64.decode(header.expose()).unwrap()).unwrap();
        assert_eq!(sent["x402Version"], 2);
        assert_eq!(sent["accepted"], doc["accepts"][0], "verbatim");
        assert_eq!(sent["resource"], doc["resource"]);
        assert_eq!(sent["extensions"], doc["extensions"]);
        assert_eq!(sent["payload"], json!({"x": 1}));

        // Without the header, the body is v1.
        let required = parse_402(&HeaderMap::new(), body).unwrap();
        assert_eq!(required.version, Version::V1);
        let v1 = json!({"scheme": "exact", "network": "solana", "maxAmountRequired": "1"});
        let header = PaymentHeader::new(&required, &v1, json!({"transaction": "AA=="}));
        assert_eq!(header.name(), "x-payment");
        let sent: Value = serde_json::from_slice(&BASE64.decode(header.expose()).unwrap()).unwrap();
        assert_eq!(
            sent,
            json!({"x402Version": 1, "scheme": "exact", "network": "solana",
                   "payload": {"transaction": "AA=="}})
        );
    }

    #[test]
    fn versions_in_the_wrong_place_are_refused() {
        let err =
            parse_402(&HeaderMap::new(), br#"{"x402Version": 2, "accepts": []}"#).unwrap_err();
        assert!(err.contains("version 1 in the body"), "{err}");
        let mut headers = HeaderMap::new();
        headers.insert(
            "payment-required",
            HeaderValue::from_str(&BASE64.encode(r#"{"x402Version":1}"#)).unwrap(),
        );
        assert!(parse_402(&headers, b"").unwrap_err().contains("supports 2"));
        headers.insert("payment-required", HeaderValue::from_static("%%%"));
        assert!(parse_402(&headers, b"").unwrap_err().contains("base64"));
        assert!(parse_402(&HeaderMap::new(), b"<html>").is_err());
    }

    #[test]
    fn the_v2_response_header_is_read_first() {
        let mut headers = HeaderMap::new();
        let encode = |v: Value| HeaderValue::from_str(&BASE64.encode(v.to_string())).unwrap();
        headers.insert(
            "x-payment-response",
            encode(json!({"success": true, "transaction": "v1"})),
        );
        assert_eq!(
            payment_response(&headers).unwrap().transaction.as_deref(),
            Some("v1")
        );
        headers.insert(
            "payment-response",
            encode(
                json!({"success": false, "errorReason": "insufficient_funds", "transaction": ""}),
            ),
        );
        let r = payment_response(&headers).unwrap();
        assert_eq!(r.success, Some(false));
        assert_eq!(r.error_reason.as_deref(), Some("insufficient_funds"));
    }
}
