//! The payment requirements of a 402 (either envelope, see [`super::envelope`]) and the
//! `/x402/info` document: picking the entry for the configured network and token, and every
//! check that must pass BEFORE anything is signed.
//!
//! A manifest is a request for money written by the other side. Nothing in it is trusted: the
//! scheme, network, asset, amount, timeout and payee must each match what this process expects
//! — and on Solana the fee payer must be named and must not be the wallet — or the top-up is
//! refused and nothing is signed. The same checks run for v1 and v2.

use serde::Deserialize;
use serde_json::Value;

use super::eip3009::{Address, BASE_USDC};
use super::envelope::{Network, PaymentRequired, Version};
use super::svm::{self, Pubkey, Token};

/// The longest authorization window accepted, in seconds.
pub const MAX_TIMEOUT_SECONDS: u64 = 3600;

/// One `accepts` entry (v1 or v2 field names).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Requirement {
    #[serde(default)]
    pub scheme: String,
    #[serde(default)]
    pub network: String,
    /// v1.
    #[serde(default)]
    pub max_amount_required: Option<Value>,
    /// v2.
    #[serde(default)]
    pub amount: Option<Value>,
    #[serde(default)]
    pub asset: String,
    #[serde(default)]
    pub pay_to: String,
    #[serde(default)]
    pub resource: Option<Value>,
    #[serde(default)]
    pub max_timeout_seconds: Option<Value>,
    /// Base: EIP-712 `name`/`version` hints, ignored (the domain of Base USDC is built in).
    /// Solana: `feePayer` (required) and `memo` (optional).
    #[serde(default)]
    pub extra: Option<Value>,
}

/// What this process pays on which network, fixed before the manifest is read.
#[derive(Debug, Clone)]
pub enum Wanted {
    Base {
        /// The VirtualSMS Base wallet (from `/x402/info`, or pinned by configuration).
        payee: Address,
    },
    Solana {
        /// The VirtualSMS Solana wallet (from `/x402/info`, or pinned).
        payee: Pubkey,
        token: Token,
        /// This process's wallet: never acceptable as the fee payer.
        wallet: Pubkey,
    },
}

impl Wanted {
    pub fn network(&self) -> Network {
        match self {
            Self::Base { .. } => Network::Base,
            Self::Solana { .. } => Network::Solana,
        }
    }
}

/// What this process is willing to pay.
#[derive(Debug, Clone)]
pub struct Expected {
    /// Base units (6 decimals): amount_usd × 10^6.
    pub value: u128,
    /// The per-top-up cap, in base units.
    pub cap: u128,
    pub wanted: Wanted,
}

/// What gets signed, per network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pay {
    Base {
        pay_to: Address,
    },
    Solana {
        pay_to: Pubkey,
        token: Token,
        fee_payer: Pubkey,
        memo: Option<String>,
    },
}

/// The entry that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// The entry as it came (v2 copies it verbatim into `accepted`).
    pub raw: Value,
    pub value: u128,
    pub max_timeout_seconds: u64,
    pub pay: Pay,
}

impl Accepted {
    /// The payee, as shown to users.
    pub fn pay_to(&self) -> String {
        match &self.pay {
            Pay::Base { pay_to } => pay_to.to_string(),
            Pay::Solana { pay_to, .. } => pay_to.to_string(),
        }
    }
}

/// Base units as dollars, for messages (USDC and USDT have 6 decimals everywhere used here).
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

fn offered(entries: &[Requirement]) -> String {
    if entries.is_empty() {
        return "nothing".to_owned();
    }
    entries
        .iter()
        .map(|r| format!("{}/{}", r.network, r.scheme))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `exact` entries for the wanted network; a plain refusal when there are none.
fn candidates(
    required: &PaymentRequired,
    network: Network,
) -> Result<Vec<(Value, Requirement)>, String> {
    let entries: Vec<(Value, Requirement)> = required
        .accepts
        .iter()
        .filter_map(|v| Some((v.clone(), serde_json::from_value(v.clone()).ok()?)))
        .collect();
    let all: Vec<Requirement> = entries.iter().map(|(_, r)| r.clone()).collect();
    let matching: Vec<(Value, Requirement)> = entries
        .into_iter()
        .filter(|(_, r)| r.scheme == "exact" && Network::from_wire(&r.network) == Some(network))
        .collect();
    if !matching.is_empty() {
        return Ok(matching);
    }
    let only_bnb = !all.is_empty()
        && all
            .iter()
            .all(|r| Network::from_wire(&r.network) == Some(Network::BnbChain));
    if only_bnb {
        return Err(format!(
            "the manifest offers only BNB Chain ({}), which this client does not support (it \
             needs Permit2 and a one-time on-chain approval paid in BNB); top-ups work with USDC \
             on Base or USDC/USDT on Solana",
            offered(&all)
        ));
    }
    Err(format!(
        "the manifest offers no `exact` payment on network `{}` ({}) (offered: {}); set {} to a \
         network it offers, with a wallet for it",
        network.wire_name(required.version),
        network.label(),
        offered(&all),
        crate::config::env::X402_NETWORK,
    ))
}

/// Parses the requirements of a 402 and returns the entry for `expected`'s network if, and
/// only if, it asks for exactly what `expected` allows. The error is the reason for the
/// refusal, for humans and models.
pub fn select(required: &PaymentRequired, expected: &Expected) -> Result<Accepted, String> {
    let network = expected.wanted.network();
    let entries = candidates(required, network)?;
    // Several entries on one network (Solana: USDC and USDT): the one in the wanted asset.
    let (raw, entry) = match &expected.wanted {
        Wanted::Base { .. } => entries.into_iter().next().expect("not empty"),
        Wanted::Solana { token, .. } => {
            let assets: Vec<String> = entries.iter().map(|(_, r)| r.asset.clone()).collect();
            entries
                .into_iter()
                .find(|(_, r)| r.asset.trim() == token.mint)
                .ok_or_else(|| {
                    format!(
                        "the manifest asks for mint {assets:?} on Solana, not {} mainnet ({}); \
                         only USDC and USDT mainnet mints are paid",
                        token.symbol, token.mint
                    )
                })?
        }
    };
    let value = amount(&entry, required.version, expected)?;
    let max_timeout_seconds = timeout(&entry)?;
    let pay = match &expected.wanted {
        Wanted::Base { payee } => check_base(&entry, payee)?,
        Wanted::Solana {
            payee,
            token,
            wallet,
        } => check_solana(&entry, payee, *token, wallet)?,
    };
    Ok(Accepted {
        raw,
        value,
        max_timeout_seconds,
        pay,
    })
}

fn amount(entry: &Requirement, version: Version, expected: &Expected) -> Result<u128, String> {
    let (field, raw) = match version {
        Version::V1 => ("maxAmountRequired", &entry.max_amount_required),
        Version::V2 => ("amount", &entry.amount),
    };
    let value = raw
        .as_ref()
        .and_then(integer)
        .ok_or_else(|| format!("the manifest's {field} is missing or not an integer"))?;
    if value != expected.value {
        return Err(format!(
            "the manifest asks for {value} base units ({}), not the {} requested",
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
    Ok(value)
}

fn timeout(entry: &Requirement) -> Result<u64, String> {
    let timeout = entry
        .max_timeout_seconds
        .as_ref()
        .and_then(integer)
        .ok_or_else(|| {
            "the manifest's maxTimeoutSeconds is missing or not an integer".to_owned()
        })?;
    if !(1..=u128::from(MAX_TIMEOUT_SECONDS)).contains(&timeout) {
        return Err(format!(
            "the manifest's maxTimeoutSeconds is {timeout}; a payment may be valid for 1 to \
             {MAX_TIMEOUT_SECONDS} seconds"
        ));
    }
    Ok(timeout as u64)
}

fn check_base(entry: &Requirement, payee: &Address) -> Result<Pay, String> {
    if !entry.asset.trim().eq_ignore_ascii_case(BASE_USDC) {
        return Err(format!(
            "the manifest asks for asset {:?}, which is not USDC on Base ({BASE_USDC})",
            entry.asset
        ));
    }
    let pay_to = Address::parse(&entry.pay_to)
        .map_err(|e| format!("the manifest's payTo {:?} is not valid: {e}", entry.pay_to))?;
    if pay_to != *payee {
        return Err(format!(
            "the manifest's payTo {pay_to} is not the VirtualSMS Base wallet {payee} (from \
             /x402/info or {})",
            crate::config::env::X402_PAY_TO
        ));
    }
    Ok(Pay::Base { pay_to })
}

fn check_solana(
    entry: &Requirement,
    payee: &Pubkey,
    token: Token,
    wallet: &Pubkey,
) -> Result<Pay, String> {
    let pay_to = Pubkey::parse(&entry.pay_to)
        .map_err(|e| format!("the manifest's payTo {:?} is not valid: {e}", entry.pay_to))?;
    if pay_to != *payee {
        return Err(format!(
            "the manifest's payTo {pay_to} is not the VirtualSMS Solana wallet {payee} (from \
             /x402/info or {})",
            crate::config::env::X402_PAY_TO
        ));
    }
    let extra = entry.extra.as_ref();
    let Some(fee_payer) = extra
        .and_then(|e| e.get("feePayer"))
        .and_then(Value::as_str)
    else {
        return Err(
            "the Solana entry names no fee payer (`extra.feePayer`): a Solana x402 \
             payment is a transaction whose network fee the server's facilitator pays, and \
             without its address no valid transaction can be built (VirtualSMS's documented \
             manifest has none). Pay on Base instead: set VIRTUALSMS_X402_NETWORK=base with a \
             Base wallet (VIRTUALSMS_WALLET_KEY_FILE)"
                .to_owned(),
        );
    };
    let fee_payer = Pubkey::parse(fee_payer)
        .map_err(|e| format!("the manifest's extra.feePayer {fee_payer:?} is not valid: {e}"))?;
    if fee_payer == *wallet {
        return Err(format!(
            "the manifest names this server's own wallet {wallet} as the fee payer; the fee \
             payer must be the facilitator's account"
        ));
    }
    if fee_payer == pay_to {
        return Err("the manifest names the payee as the fee payer".to_owned());
    }
    let memo = match extra.and_then(|e| e.get("memo")) {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) if m.len() <= svm::MAX_MEMO_BYTES => Some(m.clone()),
        Some(_) => {
            return Err(format!(
                "the manifest's extra.memo is not text of at most {} bytes",
                svm::MAX_MEMO_BYTES
            ))
        }
    };
    Ok(Pay::Solana {
        pay_to,
        token,
        fee_payer,
        memo,
    })
}

/// Every address `/x402/info` lists for `network`. Its shape is not documented, so a few
/// spellings are accepted: `wallets.<name>` (an address, or an object with one), and entries for
/// the network in `networks` (array or map) or `accepts` with `payTo`/`pay_to`/`address`/
/// `wallet`/`recipient`.
fn wallets_in_info(body: &[u8], network: Network) -> Result<Vec<String>, String> {
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
    let is_it = |v: &Value| {
        ["network", "name", "chain", "id"].iter().any(|k| {
            v.get(*k)
                .and_then(Value::as_str)
                .is_some_and(|n| Network::from_wire(n) == Some(network))
        })
    };
    let names = [network.v1_name(), network.caip2()];
    for name in names {
        if let Some(w) = info.get("wallets").and_then(|w| w.get(name)) {
            found.extend(address_in(w));
        }
    }
    for list in ["networks", "accepts"] {
        match info.get(list) {
            Some(Value::Array(items)) => {
                for item in items.iter().filter(|i| is_it(i)) {
                    found.extend(address_in(item));
                }
            }
            Some(Value::Object(map)) => {
                for name in names {
                    found.extend(map.get(name).and_then(address_in));
                }
            }
            _ => {}
        }
    }
    Ok(found)
}

fn one<T: PartialEq + std::fmt::Debug>(
    found: Vec<String>,
    label: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, String> {
    let mut addresses: Vec<T> = Vec::new();
    for text in found {
        let address = parse(&text)
            .map_err(|e| format!("/x402/info lists an invalid {label} wallet {text:?}: {e}"))?;
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    match addresses.len() {
        1 => Ok(addresses.remove(0)),
        0 => Err(format!("/x402/info lists no {label} wallet")),
        _ => Err(format!(
            "/x402/info lists several {label} wallets ({addresses:?})"
        )),
    }
}

/// The Base wallet `GET /x402/info` reports; several different ones, or none, is an error.
pub fn base_wallet_from_info(body: &[u8]) -> Result<Address, String> {
    one(
        wallets_in_info(body, Network::Base)?,
        "Base",
        Address::parse,
    )
}

/// The Solana wallet `GET /x402/info` reports; several different ones, or none, is an error.
pub fn solana_wallet_from_info(body: &[u8]) -> Result<Pubkey, String> {
    one(
        wallets_in_info(body, Network::Solana)?,
        "Solana",
        Pubkey::parse,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x402::envelope::parse_402;
    use base64::Engine as _;
    use reqwest::header::{HeaderMap, HeaderValue};
    use serde_json::json;

    const PAY_TO: &str = "0xfEc54264350d97d9b63f9Cc415BAF708C4695F32";
    const SOL_PAY_TO: &str = "7AJwx3J2qXnURXZmU5AotDeMUY5dDBqBFbweHLZ2UeUs";
    const FEE_PAYER: &str = "Bow1CGKGDB9mNxeWdw85E2aCthQ1oZX4oFEe7fYT17ew";
    const WALLET: &str = "F25s3DdjXdCxYBhh2z8FBusVEMT4b9bGNFVKJi3wFoF4";

    fn expected() -> Expected {
        Expected {
            value: 10_000_000,
            cap: 20_000_000,
            wanted: Wanted::Base {
                payee: Address::parse(PAY_TO).unwrap(),
            },
        }
    }

    fn expected_solana(token: Token) -> Expected {
        Expected {
            wanted: Wanted::Solana {
                payee: Pubkey::parse(SOL_PAY_TO).unwrap(),
                token,
                wallet: Pubkey::parse(WALLET).unwrap(),
            },
            ..expected()
        }
    }

    /// The sample 402 body of the VirtualSMS docs (seed 001), plus a USDT entry.
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
                    "payTo": SOL_PAY_TO,
                    "resource": "https://virtualsms.io/api/v1/x402/topup",
                    "maxTimeoutSeconds": 300
                },
                {
                    "scheme": "exact", "network": "solana",
                    "asset": "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB",
                    "maxAmountRequired": "10000000",
                    "payTo": SOL_PAY_TO, "maxTimeoutSeconds": 300,
                    "extra": {"feePayer": FEE_PAYER}
                }
            ]
        })
    }

    fn with_fee_payer() -> Value {
        let mut body = documented();
        body["accepts"][1]["extra"] = json!({"feePayer": FEE_PAYER});
        body
    }

    fn parse(body: &Value) -> PaymentRequired {
        parse_402(&HeaderMap::new(), body.to_string().as_bytes()).unwrap()
    }

    /// The same requirements as a v2 `PAYMENT-REQUIRED` header (CAIP-2, `amount`).
    fn as_v2(body: &Value) -> PaymentRequired {
        let mut doc = body.clone();
        doc["x402Version"] = json!(2);
        for entry in doc["accepts"].as_array_mut().unwrap() {
            let network = Network::from_wire(entry["network"].as_str().unwrap()).unwrap();
            entry["network"] = json!(network.caip2());
            let amount = entry.as_object_mut().unwrap().remove("maxAmountRequired");
            entry["amount"] = amount.unwrap();
        }
        let mut headers = HeaderMap::new();
        let encoded = base64::engine::general_purpose::STANDARD.encode(doc.to_string());
        headers.insert("payment-required", HeaderValue::from_str(&encoded).unwrap());
        parse_402(&headers, b"{}").unwrap()
    }

    fn check(edit: impl FnOnce(&mut Value)) -> Result<Accepted, String> {
        let mut body = documented();
        edit(&mut body);
        select(&parse(&body), &expected())
    }

    fn check_solana(edit: impl FnOnce(&mut Value)) -> Result<Accepted, String> {
        let mut body = with_fee_payer();
        edit(&mut body);
        select(&parse(&body), &expected_solana(svm::USDC))
    }

    #[test]
    fn the_documented_manifest_is_accepted_on_base_in_both_envelopes() {
        let accepted = check(|_| {}).unwrap();
        assert_eq!(accepted.value, 10_000_000);
        assert_eq!(accepted.max_timeout_seconds, 300);
        assert_eq!(accepted.pay_to(), PAY_TO);
        assert_eq!(accepted.raw, documented()["accepts"][0]);
        // The solana entry may come first: the base entry is picked.
        let accepted = check(|m| m["accepts"].as_array_mut().unwrap().reverse()).unwrap();
        assert_eq!(accepted.value, 10_000_000);
        // The asset is compared case-insensitively.
        check(|m| m["accepts"][0]["asset"] = json!(BASE_USDC.to_lowercase())).unwrap();
        let v2 = as_v2(&documented());
        let accepted = select(&v2, &expected()).unwrap();
        assert_eq!(accepted.raw["network"], "eip155:8453");
        assert_eq!(accepted.raw, v2.accepts[0], "kept verbatim");
    }

    #[test]
    fn solana_entries_are_picked_by_mint_in_both_envelopes() {
        let accepted = check_solana(|_| {}).unwrap();
        assert_eq!(
            accepted.pay,
            Pay::Solana {
                pay_to: Pubkey::parse(SOL_PAY_TO).unwrap(),
                token: svm::USDC,
                fee_payer: Pubkey::parse(FEE_PAYER).unwrap(),
                memo: None,
            }
        );
        let usdt = select(&parse(&documented()), &expected_solana(svm::USDT)).unwrap();
        assert!(matches!(usdt.pay, Pay::Solana { token, .. } if token == svm::USDT));
        let v2 = select(&as_v2(&with_fee_payer()), &expected_solana(svm::USDC)).unwrap();
        assert_eq!(v2.raw["network"], "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp");
        let memo = check_solana(|m| m["accepts"][1]["extra"]["memo"] = json!("order-42")).unwrap();
        assert!(matches!(memo.pay, Pay::Solana { memo: Some(m), .. } if m == "order-42"));
    }

    #[test]
    fn the_documented_solana_entry_without_a_fee_payer_is_refused_pointing_to_base() {
        let err = select(&parse(&documented()), &expected_solana(svm::USDC)).unwrap_err();
        assert!(err.contains("names no fee payer"), "{err}");
        assert!(err.contains("VIRTUALSMS_X402_NETWORK=base"), "{err}");
        let err = select(&as_v2(&documented()), &expected_solana(svm::USDC)).unwrap_err();
        assert!(err.contains("names no fee payer"), "{err}");
    }

    #[test]
    fn every_solana_mismatch_is_refused_with_a_reason() {
        type Edit = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(&str, Edit)> = vec![
            (
                "no `exact` payment on network `solana`",
                Box::new(|m| {
                    m["accepts"][1]["network"] = json!("solana-devnet");
                    m["accepts"][2]["network"] = json!("solana-devnet");
                }),
            ),
            (
                "not USDC mainnet",
                Box::new(|m| {
                    m["accepts"][1]["asset"] = json!("4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU")
                }),
            ),
            (
                "not the $10 requested",
                Box::new(|m| m["accepts"][1]["maxAmountRequired"] = json!("10000001")),
            ),
            (
                "is not the VirtualSMS Solana wallet",
                Box::new(|m| m["accepts"][1]["payTo"] = json!(FEE_PAYER)),
            ),
            (
                "own wallet",
                Box::new(|m| m["accepts"][1]["extra"]["feePayer"] = json!(WALLET)),
            ),
            (
                "extra.feePayer",
                Box::new(|m| m["accepts"][1]["extra"]["feePayer"] = json!("0x12")),
            ),
            (
                "extra.memo",
                Box::new(|m| m["accepts"][1]["extra"]["memo"] = json!("x".repeat(257))),
            ),
            (
                "maxTimeoutSeconds is 86400",
                Box::new(|m| m["accepts"][1]["maxTimeoutSeconds"] = json!(86400)),
            ),
        ];
        for (reason, edit) in cases {
            let err = check_solana(edit).unwrap_err();
            assert!(err.contains(reason), "expected {reason:?} in {err:?}");
        }
    }

    #[test]
    fn a_bnb_only_manifest_is_not_supported() {
        let bnb = json!({"x402Version": 1, "accepts": [{
            "scheme": "exact", "network": "eip155:56", "maxAmountRequired": "10000000000000000000",
            "asset": "0x55d398326f99059fF775485246999027B3197955", "payTo": PAY_TO,
            "maxTimeoutSeconds": 300, "extra": {"assetTransferMethod": "permit2"}}]});
        for expected in [expected(), expected_solana(svm::USDC)] {
            let err = select(&parse(&bnb), &expected).unwrap_err();
            assert!(err.contains("only BNB Chain"), "{err}");
            assert!(err.contains("does not support"), "{err}");
        }
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
        ];
        for (reason, edit) in cases {
            let err = check(edit).unwrap_err();
            assert!(err.contains(reason), "expected {reason:?} in {err:?}");
        }
        let capped = Expected {
            cap: 5_000_000,
            ..expected()
        };
        let err = select(&parse(&documented()), &capped).unwrap_err();
        assert!(err.contains("above this server's cap"), "{err}");
        // v2 reads `amount`, not `maxAmountRequired`.
        let mut v2 = as_v2(&documented());
        v2.accepts[0]["amount"] = json!("10000001");
        let err = select(&v2, &expected()).unwrap_err();
        assert!(err.contains("not the $10 requested"), "{err}");
        v2.accepts[0]["maxAmountRequired"] = json!("10000000");
        v2.accepts[0].as_object_mut().unwrap().remove("amount");
        let err = select(&v2, &expected()).unwrap_err();
        assert!(err.contains("amount is missing"), "{err}");
    }

    #[test]
    fn info_wallet_in_several_shapes() {
        let a = Address::parse(PAY_TO).unwrap();
        let sol = Pubkey::parse(SOL_PAY_TO).unwrap();
        for body in [
            json!({"wallets": {"base": PAY_TO, "solana": SOL_PAY_TO}}),
            json!({"wallets": {"base": {"address": PAY_TO}, "solana": {"address": SOL_PAY_TO}}}),
            json!({"networks": [{"network": "solana", "address": SOL_PAY_TO}, {"network": "base", "payTo": PAY_TO}]}),
            json!({"networks": {"base": {"pay_to": PAY_TO}, "solana": SOL_PAY_TO}}),
            json!({"accepts": [{"network": "base", "payTo": PAY_TO},
                               {"network": "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp", "payTo": SOL_PAY_TO}],
                   "wallets": {"base": PAY_TO.to_lowercase()}}),
        ] {
            let bytes = body.to_string();
            assert_eq!(base_wallet_from_info(bytes.as_bytes()), Ok(a), "{body}");
            assert_eq!(solana_wallet_from_info(bytes.as_bytes()), Ok(sol), "{body}");
        }
        assert!(base_wallet_from_info(br#"{"networks": ["base"]}"#).is_err());
        let two = json!({"wallets": {"base": PAY_TO}, "networks": [{"network": "base", "address": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"}]});
        assert!(base_wallet_from_info(two.to_string().as_bytes())
            .unwrap_err()
            .contains("several"));
        let err = solana_wallet_from_info(br#"{"wallets": {"base": "0x12"}}"#).unwrap_err();
        assert!(err.contains("no Solana wallet"), "{err}");
    }

    #[test]
    fn usd_formats_base_units() {
        assert_eq!(usd(10_000_000), "$10");
        assert_eq!(usd(2_500_000), "$2.5");
        assert_eq!(usd(1), "$0.000001");
    }
}
