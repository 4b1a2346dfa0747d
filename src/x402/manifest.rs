//! The x402 v1 payment manifest (the 402 body) and the `/x402/info` document: parsing, picking
//! the `exact`/`base` entry, and every check that must pass BEFORE anything is signed.
//!
//! A manifest is a request for money written by the other side. Nothing in it is trusted: the
//! scheme, network, asset, amount, timeout and payee must each match what this process expects,
//! or the top-up is refused and nothing is signed.

use serde::Deserialize;
use serde_json::Value;

use super::eip3009::{Address, BASE_USDC};

/// The only protocol version this client speaks (v2 uses other headers and CAIP-2 networks).
pub const X402_VERSION: u64 = 1;
/// The longest authorization window accepted, in seconds.
pub const MAX_TIMEOUT_SECONDS: u64 = 3600;

/// The 402 body: `{x402Version, error, accepts: [...]}`. Entries stay raw JSON until picked, so
/// an odd entry for another network cannot break the parse of the one that matters.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentRequired {
    #[serde(rename = "x402Version", default)]
    pub x402_version: Option<Value>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub accepts: Vec<Value>,
}

/// One `accepts` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Requirement {
    #[serde(default)]
    pub scheme: String,
    #[serde(default)]
    pub network: String,
    #[serde(default)]
    pub max_amount_required: Option<Value>,
    #[serde(default)]
    pub asset: String,
    #[serde(default)]
    pub pay_to: String,
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub max_timeout_seconds: Option<Value>,
    /// EIP-712 `name`/`version` hints. Ignored: the asset must be Base USDC, whose domain is
    /// built in (see [`super::eip3009::Domain::base_usdc`]).
    #[serde(default)]
    pub extra: Option<Value>,
}

/// What this process is willing to pay, fixed before the manifest is read.
#[derive(Debug, Clone)]
pub struct Expected {
    /// USDC base units (6 decimals): amount_usd × 10^6.
    pub value: u128,
    /// The VirtualSMS Base wallet (from `/x402/info`, or pinned by configuration).
    pub payee: Address,
    /// The per-top-up cap, in base units.
    pub cap: u128,
}

/// The entry that passed every check, reduced to what gets signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub pay_to: Address,
    pub value: u128,
    pub max_timeout_seconds: u64,
    pub resource: Option<String>,
}

/// USDC base units as dollars, for messages.
pub fn usd(units: u128) -> String {
    format!("${}.{:06}", units / 1_000_000, units % 1_000_000)
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_owned()
}

/// An unsigned integer given as a JSON string of digits or a JSON integer (never a float).
fn integer(value: &Value) -> Option<u128> {
    match value {
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        Value::Number(n) => n.as_u64().map(u128::from),
        _ => None,
    }
}

/// Parses a 402 body and returns the `exact`/`base` entry if, and only if, it asks for exactly
/// what `expected` allows. The error is the reason for the refusal, for humans and models.
pub fn select(body: &[u8], expected: &Expected) -> Result<Accepted, String> {
    let manifest: PaymentRequired = serde_json::from_slice(body)
        .map_err(|e| format!("the 402 answer is not an x402 payment manifest ({e})"))?;
    if let Some(version) = &manifest.x402_version {
        if integer(version) != Some(u128::from(X402_VERSION)) {
            return Err(format!(
                "the manifest speaks x402Version {version}; this client supports version {X402_VERSION} only"
            ));
        }
    }
    let entries: Vec<Requirement> = manifest
        .accepts
        .iter()
        .filter_map(|v| serde_json::from_value(v.clone()).ok())
        .collect();
    let Some(entry) = entries
        .iter()
        .find(|r| r.scheme == "exact" && r.network == "base")
    else {
        let offered: Vec<String> = entries
            .iter()
            .map(|r| format!("{}/{}", r.network, r.scheme))
            .collect();
        return Err(format!(
            "the manifest offers no `exact` payment on network `base` (offered: {}); only USDC on \
             Base is supported",
            if offered.is_empty() {
                "nothing".to_owned()
            } else {
                offered.join(", ")
            }
        ));
    };
    if !entry.asset.trim().eq_ignore_ascii_case(BASE_USDC) {
        return Err(format!(
            "the manifest asks for asset {:?}, which is not USDC on Base ({BASE_USDC})",
            entry.asset
        ));
    }
    let value = entry
        .max_amount_required
        .as_ref()
        .and_then(integer)
        .ok_or_else(|| {
            "the manifest's maxAmountRequired is missing or not an integer".to_owned()
        })?;
    if value != expected.value {
        return Err(format!(
            "the manifest asks for {value} USDC base units ({}), not the {} requested",
            usd(value),
            usd(expected.value)
        ));
    }
    if value > expected.cap {
        return Err(format!(
            "the manifest asks for {}, above this server's cap of {}",
            usd(value),
            usd(expected.cap)
        ));
    }
    let timeout = entry
        .max_timeout_seconds
        .as_ref()
        .and_then(integer)
        .ok_or_else(|| {
            "the manifest's maxTimeoutSeconds is missing or not an integer".to_owned()
        })?;
    if !(1..=u128::from(MAX_TIMEOUT_SECONDS)).contains(&timeout) {
        return Err(format!(
            "the manifest's maxTimeoutSeconds is {timeout}; an authorization may be valid for 1 \
             to {MAX_TIMEOUT_SECONDS} seconds"
        ));
    }
    let pay_to = Address::parse(&entry.pay_to)
        .map_err(|e| format!("the manifest's payTo {:?} is not valid: {e}", entry.pay_to))?;
    if pay_to != expected.payee {
        return Err(format!(
            "the manifest's payTo {pay_to} is not the VirtualSMS Base wallet {} (from /x402/info \
             or VIRTUALSMS_X402_PAY_TO)",
            expected.payee
        ));
    }
    Ok(Accepted {
        pay_to,
        value,
        max_timeout_seconds: timeout as u64,
        resource: entry.resource.clone(),
    })
}

/// The Base wallet that `GET /x402/info` reports. Its shape is not documented, so a few
/// spellings are accepted: `wallets.base` (an address, or an object with one), and entries for
/// network `base` in `networks` (array or map) or `accepts` with `payTo`/`pay_to`/`address`/
/// `wallet`/`recipient`. Several different Base wallets, or none, is an error.
pub fn base_wallet_from_info(body: &[u8]) -> Result<Address, String> {
    let info: Value = serde_json::from_slice(body)
        .map_err(|e| format!("/x402/info did not answer JSON ({e})"))?;
    let mut found: Vec<String> = Vec::new();
    let address_in = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => ["payTo", "pay_to", "address", "wallet", "recipient"]
                .iter()
                .find_map(|k| o.get(*k).and_then(Value::as_str).map(str::to_owned)),
            _ => None,
        }
    };
    let is_base = |v: &Value| {
        ["network", "name", "chain", "id"].iter().any(|k| {
            v.get(*k)
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case("base"))
        })
    };
    if let Some(w) = info.get("wallets").and_then(|w| w.get("base")) {
        found.extend(address_in(w));
    }
    for list in ["networks", "accepts"] {
        match info.get(list) {
            Some(Value::Array(items)) => {
                for item in items.iter().filter(|i| is_base(i)) {
                    found.extend(address_in(item));
                }
            }
            Some(Value::Object(map)) => {
                if let Some(base) = map.get("base") {
                    found.extend(address_in(base));
                }
            }
            _ => {}
        }
    }
    let mut addresses: Vec<Address> = Vec::new();
    for text in found {
        let address = Address::parse(&text)
            .map_err(|e| format!("/x402/info lists an invalid Base wallet {text:?}: {e}"))?;
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    match addresses.as_slice() {
        [one] => Ok(*one),
        [] => Err("/x402/info lists no Base wallet".to_owned()),
        _ => Err(format!(
            "/x402/info lists several Base wallets ({addresses:?})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PAY_TO: &str = "0xfEc54264350d97d9b63f9Cc415BAF708C4695F32";

    fn expected() -> Expected {
        Expected {
            value: 10_000_000,
            payee: Address::parse(PAY_TO).unwrap(),
            cap: 20_000_000,
        }
    }

    /// The sample 402 body of the VirtualSMS docs (seed 001).
    fn documented() -> Value {
        json!({
            "x402Version": 1,
            "error": "Payment required to top up VirtualSMS balance",
            "accepts": [
                {
                    "scheme": "exact", "network": "base",
                    "asset": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
                    "maxAmountRequired": "10000000", "payTo": PAY_TO,
                    "resource": "https://virtualsms.io/api/v1/x402/topup",
                    "description": "Top up VirtualSMS balance ($10.00 USDC)",
                    "mimeType": "application/json", "maxTimeoutSeconds": 300
                },
                {
                    "scheme": "exact", "network": "solana",
                    "asset": "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
                    "maxAmountRequired": "10000000",
                    "payTo": "7AJwx3J2qXnURXZmU5AotDeMUY5dDBqBFbweHLZ2UeUs",
                    "resource": "https://virtualsms.io/api/v1/x402/topup",
                    "maxTimeoutSeconds": 300
                }
            ]
        })
    }

    fn check(edit: impl FnOnce(&mut Value)) -> Result<Accepted, String> {
        let mut body = documented();
        edit(&mut body);
        select(body.to_string().as_bytes(), &expected())
    }

    #[test]
    fn the_documented_manifest_is_accepted() {
        let accepted = check(|_| {}).unwrap();
        assert_eq!(accepted.value, 10_000_000);
        assert_eq!(accepted.max_timeout_seconds, 300);
        assert_eq!(accepted.pay_to.to_string(), PAY_TO);
        // The solana entry may come first: the base entry is picked.
        let accepted = check(|m| m["accepts"].as_array_mut().unwrap().reverse()).unwrap();
        assert_eq!(accepted.value, 10_000_000);
        // The asset is compared case-insensitively.
        check(|m| m["accepts"][0]["asset"] = json!(BASE_USDC.to_lowercase())).unwrap();
    }

    #[test]
    fn every_mismatch_is_refused_with_a_reason() {
        type Edit = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(&str, Edit)> = vec![
            (
                "network `base`",
                Box::new(|m| m["accepts"][0]["network"] = json!("base-sepolia")),
            ),
            (
                "network `base`",
                Box::new(|m| m["accepts"][0]["scheme"] = json!("upto")),
            ),
            (
                "not USDC on Base",
                Box::new(|m| {
                    m["accepts"][0]["asset"] = json!("0x036CbD53842c5426634e7929541eC2318f3dCF7e")
                }),
            ),
            (
                "not USDC on Base",
                Box::new(|m| m["accepts"][0]["asset"] = json!("USDC")),
            ),
            (
                "not the $10 requested",
                Box::new(|m| m["accepts"][0]["maxAmountRequired"] = json!("10000001")),
            ),
            (
                "not an integer",
                Box::new(|m| m["accepts"][0]["maxAmountRequired"] = json!("1e7")),
            ),
            (
                "maxTimeoutSeconds is 86400",
                Box::new(|m| m["accepts"][0]["maxTimeoutSeconds"] = json!(86400)),
            ),
            (
                "maxTimeoutSeconds is 0",
                Box::new(|m| m["accepts"][0]["maxTimeoutSeconds"] = json!(0)),
            ),
            (
                "maxTimeoutSeconds is missing",
                Box::new(|m| {
                    m["accepts"][0]
                        .as_object_mut()
                        .unwrap()
                        .remove("maxTimeoutSeconds");
                }),
            ),
            (
                "is not the VirtualSMS Base wallet",
                Box::new(|m| {
                    m["accepts"][0]["payTo"] = json!("0x209693Bc6afc0C5328bA36FaF03C514EF312287C")
                }),
            ),
            (
                "is not valid",
                Box::new(|m| m["accepts"][0]["payTo"] = json!("0x1234")),
            ),
            ("version 1 only", Box::new(|m| m["x402Version"] = json!(2))),
        ];
        for (reason, edit) in cases {
            let err = check(edit).unwrap_err();
            assert!(err.contains(reason), "expected {reason:?} in {err:?}");
        }
        let capped = Expected {
            cap: 5_000_000,
            ..expected()
        };
        let err = select(documented().to_string().as_bytes(), &capped).unwrap_err();
        assert!(err.contains("above this server's cap"), "{err}");
        assert!(select(b"<html>", &expected()).is_err());
    }

    #[test]
    fn info_wallet_in_several_shapes() {
        let a = Address::parse(PAY_TO).unwrap();
        for body in [
            json!({"wallets": {"base": PAY_TO, "solana": "7AJw"}}),
            json!({"wallets": {"base": {"address": PAY_TO}}}),
            json!({"networks": [{"network": "solana", "address": "7AJw"}, {"network": "base", "payTo": PAY_TO}]}),
            json!({"networks": {"base": {"pay_to": PAY_TO}}}),
            json!({"accepts": [{"network": "base", "payTo": PAY_TO}], "wallets": {"base": PAY_TO.to_lowercase()}}),
        ] {
            assert_eq!(
                base_wallet_from_info(body.to_string().as_bytes()),
                Ok(a),
                "{body}"
            );
        }
        assert!(base_wallet_from_info(br#"{"networks": ["base"]}"#).is_err());
        let two = json!({"wallets": {"base": PAY_TO}, "networks": [{"network": "base", "address": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"}]});
        assert!(base_wallet_from_info(two.to_string().as_bytes())
            .unwrap_err()
            .contains("several"));
    }

    #[test]
    fn usd_formats_base_units() {
        assert_eq!(usd(10_000_000), "$10");
        assert_eq!(usd(2_500_000), "$2.5");
        assert_eq!(usd(1), "$0.000001");
    }
}
