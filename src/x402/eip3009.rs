//! EIP-3009 `TransferWithAuthorization` for USDC on Base, signed per EIP-712.
//!
//! - [`Address`]: a 20-byte account, parsed strictly (a mixed-case spelling must carry a valid
//!   EIP-55 checksum) and shown with its checksum.
//! - [`Domain`] / [`Authorization`]: the EIP-712 domain separator, struct hash and digest.
//! - [`Wallet`]: the private key (never shown: its `Debug` prints only the address) that signs a
//!   digest with RFC 6979 into the 65-byte `r ‖ s ‖ v` form (`v` = 27/28) USDC expects.
//! - [`recover`]: the signer of a digest and signature (what a verifier — here the fake — does).
//!
//! - [`payload`]: the x402 `exact` EVM payload `{signature, authorization}` (the same in v1
//!   and v2).
//!
//! The known-answer vector of `../shared/notes/x402.md` is the unit test at the bottom.

use std::fmt;

use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};
use sha3::{Digest, Keccak256};

/// USDC on Base mainnet (the EIP-712 `verifyingContract`).
pub const BASE_USDC: &str = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
/// Base mainnet chain id.
pub const BASE_CHAIN_ID: u64 = 8453;
/// USDC's EIP-712 domain `name` and `version` on Base (the contract's `name()` / `version()`).
pub const USDC_NAME: &str = "USD Coin";
pub const USDC_VERSION: &str = "2";

const DOMAIN_TYPE: &str =
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
const TRANSFER_TYPE: &str = "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)";

pub fn keccak256(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}

/// Lower-case hex without a prefix.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// Hex (with or without `0x`) into exactly `N` bytes.
pub fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text)
        .as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

/// An EVM account address.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// `0x` + 40 hex digits. All-lower or all-upper case is accepted as is; mixed case must be a
    /// valid EIP-55 checksum (a typo in a checksummed address is caught, not paid).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let Some(digits) = text.strip_prefix("0x") else {
            return Err("an address must start with 0x".into());
        };
        let bytes = from_hex::<20>(digits)
            .ok_or_else(|| "an address is 0x followed by 40 hex digits".to_owned())?;
        let address = Self(bytes);
        let has_lower = digits.bytes().any(|c| c.is_ascii_lowercase());
        let has_upper = digits.bytes().any(|c| c.is_ascii_uppercase());
        if has_lower && has_upper && address.checksummed() != text {
            return Err("the address has an invalid EIP-55 checksum (mixed case)".into());
        }
        Ok(address)
    }

    /// The address of a public key: the last 20 bytes of keccak256(X ‖ Y).
    pub fn of_key(key: &VerifyingKey) -> Self {
        let point = key.to_encoded_point(false);
        let hash = keccak256(&point.as_bytes()[1..]);
        let mut out = [0u8; 20];
        out.copy_from_slice(&hash[12..]);
        Self(out)
    }

    /// EIP-55 mixed-case form, `0x` prefixed.
    pub fn checksummed(&self) -> String {
        let lower = to_hex(&self.0);
        let hash = keccak256(lower.as_bytes());
        let mut out = String::with_capacity(42);
        out.push_str("0x");
        for (i, c) in lower.chars().enumerate() {
            let nibble = (hash[i / 2] >> if i % 2 == 0 { 4 } else { 0 }) & 0xf;
            out.push(if c.is_ascii_alphabetic() && nibble >= 8 {
                c.to_ascii_uppercase()
            } else {
                c
            });
        }
        out
    }

    fn word(&self) -> [u8; 32] {
        let mut w = [0u8; 32];
        w[12..].copy_from_slice(&self.0);
        w
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.checksummed())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.checksummed())
    }
}

fn u256(value: u128) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[16..].copy_from_slice(&value.to_be_bytes());
    w
}

/// An EIP-712 domain (name, version, chainId, verifyingContract).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub name: String,
    pub version: String,
    pub chain_id: u64,
    pub verifying_contract: Address,
}

impl Domain {
    /// USDC on Base mainnet. VirtualSMS's manifest carries no `extra.name/version`, so this
    /// built-in domain is always used (signing with empty strings would give a useless signature).
    pub fn base_usdc() -> Self {
        Self {
            name: USDC_NAME.to_owned(),
            version: USDC_VERSION.to_owned(),
            chain_id: BASE_CHAIN_ID,
            verifying_contract: Address::parse(BASE_USDC).expect("the USDC address is valid"),
        }
    }

    pub fn separator(&self) -> [u8; 32] {
        let mut enc = Vec::with_capacity(5 * 32);
        enc.extend_from_slice(&keccak256(DOMAIN_TYPE.as_bytes()));
        enc.extend_from_slice(&keccak256(self.name.as_bytes()));
        enc.extend_from_slice(&keccak256(self.version.as_bytes()));
        enc.extend_from_slice(&u256(u128::from(self.chain_id)));
        enc.extend_from_slice(&self.verifying_contract.word());
        keccak256(&enc)
    }
}

/// The message of a `transferWithAuthorization`: `value` base units from `from` to `to`, valid
/// strictly between `valid_after` and `valid_before` (unix seconds), once per `nonce`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub from: Address,
    pub to: Address,
    pub value: u128,
    pub valid_after: u64,
    pub valid_before: u64,
    pub nonce: [u8; 32],
}

impl Authorization {
    pub fn typehash() -> [u8; 32] {
        keccak256(TRANSFER_TYPE.as_bytes())
    }

    pub fn struct_hash(&self) -> [u8; 32] {
        let mut enc = Vec::with_capacity(7 * 32);
        enc.extend_from_slice(&Self::typehash());
        enc.extend_from_slice(&self.from.word());
        enc.extend_from_slice(&self.to.word());
        enc.extend_from_slice(&u256(self.value));
        enc.extend_from_slice(&u256(u128::from(self.valid_after)));
        enc.extend_from_slice(&u256(u128::from(self.valid_before)));
        enc.extend_from_slice(&self.nonce);
        keccak256(&enc)
    }

    /// keccak256(0x1901 ‖ domainSeparator ‖ structHash): the prehash that is signed.
    pub fn digest(&self, domain: &Domain) -> [u8; 32] {
        let mut enc = Vec::with_capacity(2 + 64);
        enc.extend_from_slice(&[0x19, 0x01]);
        enc.extend_from_slice(&domain.separator());
        enc.extend_from_slice(&self.struct_hash());
        keccak256(&enc)
    }
}

/// A 65-byte `r ‖ s ‖ v` signature. A signed authorization is a bearer instrument, so `Debug`
/// hides it; [`SignatureBytes::to_hex`] is for the wire only.
#[derive(Clone, PartialEq, Eq)]
pub struct SignatureBytes(pub [u8; 65]);

impl SignatureBytes {
    /// `0x` + 130 hex digits.
    pub fn to_hex(&self) -> String {
        format!("0x{}", to_hex(&self.0))
    }
}

impl fmt::Debug for SignatureBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignatureBytes(<redacted>)")
    }
}

/// Why a private key was not accepted. Never contains any part of the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("expected 0x followed by 64 hex digits (a secp256k1 private key)")]
    Format,
    #[error("not a valid secp256k1 private key (zero or above the curve order)")]
    Range,
}

/// The wallet's private key and its address. `Debug` shows the address only; the key never
/// leaves this type except as signatures (k256 zeroizes it on drop).
#[derive(Clone)]
pub struct Wallet {
    key: SigningKey,
    address: Address,
}

impl Wallet {
    /// `0x` + 64 hex digits (the `0x` is optional; surrounding whitespace is ignored).
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let bytes = from_hex::<32>(text.trim()).ok_or(KeyError::Format)?;
        let key = SigningKey::from_slice(&bytes).map_err(|_| KeyError::Range)?;
        let address = Address::of_key(key.verifying_key());
        Ok(Self { key, address })
    }

    pub fn address(&self) -> Address {
        self.address
    }

    /// Signs a 32-byte prehash (RFC 6979, low-s), as `r ‖ s ‖ v` with `v` = 27 + recovery id.
    pub fn sign_digest(&self, digest: &[u8; 32]) -> Result<SignatureBytes, String> {
        let (signature, recovery): (Signature, RecoveryId) = self
            .key
            .sign_prehash_recoverable(digest)
            .map_err(|_| "signing failed".to_owned())?;
        let mut out = [0u8; 65];
        out[..64].copy_from_slice(&signature.to_bytes());
        out[64] = 27 + recovery.to_byte();
        Ok(SignatureBytes(out))
    }
}

impl fmt::Debug for Wallet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Wallet({}, key: <redacted>)", self.address)
    }
}

/// The address that signed `digest`, from a 65-byte `r ‖ s ‖ v` signature (`v` 27/28 or 0/1).
/// High-s signatures are refused, as USDC (and OpenZeppelin's ECDSA) does.
pub fn recover(digest: &[u8; 32], signature: &[u8; 65]) -> Result<Address, String> {
    let v = match signature[64] {
        27 | 28 => signature[64] - 27,
        0 | 1 => signature[64],
        other => return Err(format!("invalid v {other}")),
    };
    let sig = Signature::from_slice(&signature[..64]).map_err(|_| "invalid r or s".to_owned())?;
    if sig.normalize_s().is_some() {
        return Err("high-s signature".into());
    }
    let recovery = RecoveryId::from_byte(v).ok_or_else(|| "invalid recovery id".to_owned())?;
    let key = VerifyingKey::recover_from_prehash(digest, &sig, recovery)
        .map_err(|_| "no key recovers from this signature".to_owned())?;
    Ok(Address::of_key(&key))
}

/// The x402 `exact` EVM payload: `{signature, authorization}`, every authorization field a
/// JSON string (addresses checksummed, numbers in decimal, the nonce as 0x hex). It holds the
/// signature: a bearer instrument until `validBefore`.
pub fn payload(auth: &Authorization, signature: &SignatureBytes) -> serde_json::Value {
    serde_json::json!({
        "signature": signature.to_hex(),
        "authorization": {
            "from": auth.from.to_string(),
            "to": auth.to.to_string(),
            "value": auth.value.to_string(),
            "validAfter": auth.valid_after.to_string(),
            "validBefore": auth.valid_before.to_string(),
            "nonce": format!("0x{}", to_hex(&auth.nonce)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_has_string_fields() {
        let wallet = Wallet::from_hex(KEY).unwrap();
        let auth = vector();
        let sig = wallet
            .sign_digest(&auth.digest(&Domain::base_usdc()))
            .unwrap();
        let json = payload(&auth, &sig);
        let a = &json["authorization"];
        for field in ["from", "to", "value", "validAfter", "validBefore", "nonce"] {
            assert!(a[field].is_string(), "{field} is a string");
        }
        assert_eq!(a["from"], "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A");
        assert_eq!(a["value"], "10000000");
        assert_eq!(a["nonce"], format!("0x{}", "ab".repeat(32)));
        assert_eq!(json["signature"], "0xf04045101a31c523acde2ed703be7651c01e3db115de747494a715c79322040814a0ee1abd453c3ff18b29a8b755c3116f943b861c4b33b7bba16b80533958521c");
    }

    const KEY: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";

    fn vector() -> Authorization {
        Authorization {
            from: Address::parse("0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A").unwrap(),
            to: Address::parse("0x209693Bc6afc0C5328bA36FaF03C514EF312287C").unwrap(),
            value: 10_000_000,
            valid_after: 1_740_000_000,
            valid_before: 1_740_000_900,
            nonce: [0xab; 32],
        }
    }

    /// The known-answer vector from `../shared/notes/x402.md` (produced by eth_account).
    #[test]
    fn known_answer_vector_byte_for_byte() {
        let wallet = Wallet::from_hex(KEY).unwrap();
        assert_eq!(
            wallet.address().to_string(),
            "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A"
        );
        assert_eq!(
            to_hex(&Authorization::typehash()),
            "7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267"
        );
        assert_eq!(
            to_hex(&Domain::base_usdc().separator()),
            "02fa7265e7c5d81118673727957699e4d68f74cd74b7db77da710fe8a2c7834f"
        );
        let auth = vector();
        assert_eq!(auth.from, wallet.address());
        assert_eq!(
            to_hex(&auth.struct_hash()),
            "3540c583c93e0dc9f17f8b19f929a3558fb212bb37bb556bae27b2a80c865a62"
        );
        let digest = auth.digest(&Domain::base_usdc());
        assert_eq!(
            to_hex(&digest),
            "7411d6e8084b61840a8f43f4e2d27cad24cc71f5926cee2d83acd5d949464e02"
        );
        let signature = wallet.sign_digest(&digest).unwrap();
        assert_eq!(
            signature.to_hex(),
            "0xf04045101a31c523acde2ed703be7651c01e3db115de747494a715c79322040814a0ee1abd453c3ff18b29a8b755c3116f943b861c4b33b7bba16b80533958521c"
        );
        assert_eq!(recover(&digest, &signature.0).unwrap(), wallet.address());
    }

    #[test]
    fn recover_rejects_tampering() {
        let wallet = Wallet::from_hex(KEY).unwrap();
        let digest = vector().digest(&Domain::base_usdc());
        let sig = wallet.sign_digest(&digest).unwrap();
        let mut other = digest;
        other[0] ^= 1;
        assert_ne!(recover(&other, &sig.0).ok(), Some(wallet.address()));
        let mut bad_v = sig.0;
        bad_v[64] = 29;
        assert!(recover(&digest, &bad_v).is_err());
    }

    #[test]
    fn addresses_parse_strictly_and_print_checksummed() {
        let a = Address::parse("0x833589fcd6edb6e08f4c7c32d4f71b54bda02913").unwrap();
        assert_eq!(a.to_string(), BASE_USDC);
        assert_eq!(Address::parse(BASE_USDC).unwrap(), a);
        assert_eq!(
            Address::parse("0x833589FCD6EDB6E08F4C7C32D4F71B54BDA02913").unwrap(),
            a
        );
        // One letter's case flipped: a checksum error, not a different address.
        assert!(Address::parse(
            "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
                .replace('C', "c")
                .as_str()
        )
        .is_err());
        assert!(Address::parse("833589fcd6edb6e08f4c7c32d4f71b54bda02913").is_err());
        assert!(Address::parse("0x833589fcd6").is_err());
        assert!(Address::parse("0xzz3589fcd6edb6e08f4c7c32d4f71b54bda02913").is_err());
    }

    #[test]
    fn keys_are_validated_and_never_shown() {
        assert_eq!(Wallet::from_hex("0x12").unwrap_err(), KeyError::Format);
        assert_eq!(
            Wallet::from_hex(&format!("0x{}", "0".repeat(64))).unwrap_err(),
            KeyError::Range
        );
        let wallet = Wallet::from_hex(KEY).unwrap();
        let shown = format!("{wallet:?}");
        assert!(!shown.contains("1111111111"), "{shown}");
        assert!(shown.contains("0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A"));
        let sig = wallet.sign_digest(&[7; 32]).unwrap();
        assert_eq!(format!("{sig:?}"), "SignatureBytes(<redacted>)");
    }
}
