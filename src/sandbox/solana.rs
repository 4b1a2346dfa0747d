//! The Solana side of the fake: a loopback JSON-RPC (`getLatestBlockhash`, `getBlockHeight`)
//! and a facilitator that verifies and "settles" SVM `exact` payments
//! (`../shared/notes/x402-solana-permit2-v2.md` §6).
//!
//! The verifier is written independently of the client's builder ([`crate::x402::svm`]): it
//! parses the wire bytes itself, derives the associated token accounts with its own code, and
//! checks, in order: base64; the signature count equals the header's; the `0x80` v0 prefix; no
//! lookup tables; key 0 is `extra.feePayer` and its signature slot is empty; 3–6 instructions;
//! compute-unit limit and price (price ≤ 5 000 000 µlamports); `TransferChecked` of the token
//! program with the exact amount and 6 decimals, from the authority's token account, of the
//! offered mint, to the payee's token account, by a signer that is not the fee payer; the fee
//! payer in no instruction; extra instructions only memos, the memo equal to `extra.memo` when
//! one is set; every signature but the fee payer's valid (ed25519 over the message); a
//! blockhash this RPC handed out and not expired; enough tokens in the fake ledger; not
//! already settled. Settling signs slot 0 with the fee payer's key and returns that signature.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::state::{lock, Shared};

/// The fake facilitator's fee-payer key: seed `0x22`×32 (the fee payer of the notes' vectors).
const FEE_PAYER_SEED: [u8; 32] = [0x22; 32];
/// The block height the fake chain starts at, and how long a blockhash stays valid.
const START_HEIGHT: u64 = 300_000_000;
const BLOCKHASH_LIFETIME: u64 = 150;
/// Tokens every source account holds before its first payment (base units: $1000).
const STARTING_TOKENS: u64 = 1_000_000_000;
const MAX_PRICE_MICROLAMPORTS: u64 = 5_000_000;

const COMPUTE_BUDGET: &str = "ComputeBudget111111111111111111111111111111";
const TOKEN: &str = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
const ATA_PROGRAM: &str = "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL";
const MEMO: &str = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr";

/// The fake chain: block height, handed-out blockhashes, token ledger, settled transactions.
#[derive(Default)]
pub struct FakeSolana {
    height: AtomicU64,
    issued: AtomicU64,
    blockhashes: Mutex<HashMap<[u8; 32], u64>>,
    balances: Mutex<HashMap<[u8; 32], u64>>,
    settled: Mutex<HashSet<String>>,
    rpc_down: AtomicBool,
    rpc_calls: Mutex<Vec<String>>,
}

/// What a requirement asks for, as the facilitator reads it.
pub struct SvmTerms {
    pub pay_to: String,
    pub mint: String,
    pub amount: u64,
    pub fee_payer: String,
    pub memo: Option<String>,
}

/// A settled payment.
#[derive(Debug)]
pub struct SvmSettled {
    pub payer: String,
    /// Base58 of the fee payer's signature: the transaction id.
    pub transaction: String,
}

fn key(text: &str) -> [u8; 32] {
    let bytes = bs58::decode(text).into_vec().unwrap_or_default();
    bytes.try_into().unwrap_or([0; 32])
}

fn b58(bytes: &[u8]) -> String {
    bs58::encode(bytes).into_string()
}

/// The fake facilitator's fee payer, base58.
pub fn fee_payer() -> String {
    b58(SigningKey::from_bytes(&FEE_PAYER_SEED)
        .verifying_key()
        .as_bytes())
}

/// PDA derivation, written here independently of `crate::x402::svm`.
fn token_account(owner: &[u8; 32], mint: &[u8; 32]) -> [u8; 32] {
    let (program, ata) = (key(TOKEN), key(ATA_PROGRAM));
    for bump in (0..=255u8).rev() {
        let mut h = Sha256::new();
        h.update(owner);
        h.update(program);
        h.update(mint);
        h.update([bump]);
        h.update(ata);
        h.update(b"ProgramDerivedAddress");
        let out: [u8; 32] = h.finalize().into();
        if CompressedEdwardsY(out).decompress().is_none() {
            return out;
        }
    }
    [0; 32]
}

impl FakeSolana {
    fn height(&self) -> u64 {
        START_HEIGHT + self.height.load(Ordering::SeqCst)
    }

    /// The chain moves on by `blocks` (expires blockhashes).
    pub fn advance_blocks(&self, blocks: u64) {
        self.height.fetch_add(blocks, Ordering::SeqCst);
    }

    /// With `true`, every RPC call answers a JSON-RPC error.
    pub fn set_rpc_down(&self, down: bool) {
        self.rpc_down.store(down, Ordering::SeqCst);
    }

    /// The RPC methods called so far, in order.
    pub fn rpc_calls(&self) -> Vec<String> {
        lock(&self.rpc_calls).clone()
    }

    /// Tokens (base units) in the token account of `owner` for `mint` (both base58).
    pub fn token_balance(&self, owner: &str, mint: &str) -> u64 {
        let account = token_account(&key(owner), &key(mint));
        *lock(&self.balances)
            .get(&account)
            .unwrap_or(&STARTING_TOKENS)
    }

    fn latest_blockhash(&self) -> Value {
        let n = self.issued.fetch_add(1, Ordering::SeqCst);
        let hash: [u8; 32] = Sha256::digest(format!("fake blockhash {n}")).into();
        let last_valid = self.height() + BLOCKHASH_LIFETIME;
        lock(&self.blockhashes).insert(hash, last_valid);
        json!({"context": {"slot": self.height()},
               "value": {"blockhash": b58(&hash), "lastValidBlockHeight": last_valid}})
    }

    /// Checks `transaction` (base64) against the offered `terms` (picked by the mint the
    /// transfer names) and settles it. The error is the facilitator's reason.
    pub fn settle(&self, transaction: &str, terms: &[SvmTerms]) -> Result<SvmSettled, String> {
        let wire = BASE64
            .decode(transaction.trim())
            .map_err(|_| "invalid_exact_svm_payload_transaction: not base64".to_owned())?;
        let tx = Parsed::read(&wire)?;
        let transfer = tx.checked_transfer()?;
        let mint = b58(&tx.keys[transfer.accounts[1]]);
        let terms = terms.iter().find(|t| t.mint == mint).ok_or_else(|| {
            format!("invalid_exact_svm_payload_mint_mismatch: {mint} is not offered")
        })?;
        tx.check(&transfer, terms)?;
        self.check_blockhash(&tx.blockhash)?;
        let source = tx.keys[transfer.accounts[0]];
        let destination = tx.keys[transfer.accounts[2]];
        if !lock(&self.settled).insert(transaction.trim().to_owned()) {
            return Err("duplicate_settlement".into());
        }
        {
            let mut balances = lock(&self.balances);
            let have = *balances.get(&source).unwrap_or(&STARTING_TOKENS);
            if have < transfer.amount {
                lock(&self.settled).remove(transaction.trim());
                return Err("insufficient_funds".into());
            }
            balances.insert(source, have - transfer.amount);
            *balances.entry(destination).or_insert(0) += transfer.amount;
        }
        let signature = SigningKey::from_bytes(&FEE_PAYER_SEED).sign(tx.message);
        Ok(SvmSettled {
            payer: b58(&tx.keys[transfer.accounts[3]]),
            transaction: b58(&signature.to_bytes()),
        })
    }

    fn check_blockhash(&self, blockhash: &[u8; 32]) -> Result<(), String> {
        let last_valid = lock(&self.blockhashes).get(blockhash).copied();
        match last_valid {
            None => Err("invalid_exact_svm_payload_transaction: unknown blockhash".into()),
            Some(last) if self.height() > last => {
                Err("invalid_exact_svm_payload_transaction: blockhash expired".into())
            }
            Some(_) => Ok(()),
        }
    }
}

/// One instruction, account indices into the key list.
struct Ix<'a> {
    program: usize,
    accounts: Vec<usize>,
    data: &'a [u8],
}

struct Parsed<'a> {
    signatures: Vec<&'a [u8]>,
    message: &'a [u8],
    header: [u8; 3],
    keys: Vec<[u8; 32]>,
    blockhash: [u8; 32],
    ixs: Vec<Ix<'a>>,
}

struct TransferIx {
    accounts: Vec<usize>,
    amount: u64,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let end = end.ok_or("invalid_exact_svm_payload_transaction: truncated")?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    /// compact-u16.
    fn len(&mut self) -> Result<usize, String> {
        let mut value = 0usize;
        for shift in [0, 7, 14] {
            let b = self.byte()?;
            value |= usize::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("invalid_exact_svm_payload_transaction: bad length".into())
    }
}

impl<'a> Parsed<'a> {
    fn read(wire: &'a [u8]) -> Result<Self, String> {
        let bad = |why: &str| format!("invalid_exact_svm_payload_transaction: {why}");
        let mut r = Reader { bytes: wire, at: 0 };
        let count = r.len()?;
        let signatures = (0..count)
            .map(|_| r.take(64))
            .collect::<Result<Vec<_>, _>>()?;
        let message = &wire[r.at..];
        if r.byte()? != 0x80 {
            return Err(bad("not a v0 message"));
        }
        let header: [u8; 3] = r.take(3)?.try_into().map_err(|_| bad("header"))?;
        if usize::from(header[0]) != count {
            return Err(bad("signature count differs from the header"));
        }
        let n = r.len()?;
        let keys = (0..n)
            .map(|_| r.take(32).map(|k| k.try_into().unwrap_or([0; 32])))
            .collect::<Result<Vec<[u8; 32]>, _>>()?;
        let blockhash = r.take(32)?.try_into().map_err(|_| bad("blockhash"))?;
        let mut ixs = Vec::new();
        for _ in 0..r.len()? {
            let program = usize::from(r.byte()?);
            let accounts = (0..r.len()?)
                .map(|_| r.byte().map(usize::from))
                .collect::<Result<Vec<_>, _>>()?;
            let len = r.len()?;
            let data = r.take(len)?;
            if program >= keys.len() || accounts.iter().any(|a| *a >= keys.len()) {
                return Err(bad("account index out of range"));
            }
            ixs.push(Ix {
                program,
                accounts,
                data,
            });
        }
        if r.len()? != 0 {
            return Err(bad("address lookup tables are not allowed"));
        }
        if r.at != wire.len() {
            return Err(bad("trailing bytes"));
        }
        Ok(Self {
            signatures,
            message,
            header,
            keys,
            blockhash,
            ixs,
        })
    }

    fn is(&self, index: usize, program: &str) -> bool {
        self.keys[index] == key(program)
    }

    /// Instructions 0–2: compute budget, then `TransferChecked`.
    fn checked_transfer(&self) -> Result<TransferIx, String> {
        let bad = |why: &str| format!("invalid_exact_svm_payload_transaction_instructions: {why}");
        if !(3..=6).contains(&self.ixs.len()) {
            return Err(format!(
                "invalid_exact_svm_payload_transaction_instructions_length: {}",
                self.ixs.len()
            ));
        }
        let (limit, price, transfer) = (&self.ixs[0], &self.ixs[1], &self.ixs[2]);
        if !self.is(limit.program, COMPUTE_BUDGET) || limit.data.len() != 5 || limit.data[0] != 2 {
            return Err(bad("instruction 0 is not a compute-unit limit"));
        }
        if !self.is(price.program, COMPUTE_BUDGET) || price.data.len() != 9 || price.data[0] != 3 {
            return Err(bad("instruction 1 is not a compute-unit price"));
        }
        let micro = u64::from_le_bytes(price.data[1..9].try_into().unwrap_or_default());
        if micro > MAX_PRICE_MICROLAMPORTS {
            return Err(bad("compute-unit price too high"));
        }
        if !self.is(transfer.program, TOKEN) {
            return Err(bad("instruction 2 is not the token program"));
        }
        if transfer.data.len() != 10 || transfer.data[0] != 12 || transfer.accounts.len() != 4 {
            return Err(bad("instruction 2 is not TransferChecked"));
        }
        if transfer.data[9] != 6 {
            return Err(bad("decimals must be 6"));
        }
        Ok(TransferIx {
            accounts: transfer.accounts.clone(),
            amount: u64::from_le_bytes(transfer.data[1..9].try_into().unwrap_or_default()),
        })
    }

    /// Everything else against the terms.
    fn check(&self, transfer: &TransferIx, terms: &SvmTerms) -> Result<(), String> {
        let signers = usize::from(self.header[0]);
        let writable_unsigned_end = self.keys.len() - usize::from(self.header[2]);
        if self.keys[0] != key(&terms.fee_payer) {
            return Err(
                "invalid_exact_svm_payload_missing_fee_payer: key 0 is not extra.feePayer".into(),
            );
        }
        if self.signatures[0].iter().any(|b| *b != 0) {
            return Err(
                "invalid_exact_svm_payload_transaction: the fee payer's slot is not empty".into(),
            );
        }
        if transfer.amount != terms.amount {
            return Err(format!(
                "invalid_exact_svm_payload_amount_mismatch: {} != {}",
                transfer.amount, terms.amount
            ));
        }
        let [source, _, destination, authority] = transfer.accounts[..] else {
            return Err("invalid_exact_svm_payload_transaction: accounts".into());
        };
        let mint = key(&terms.mint);
        if self.keys[destination] != token_account(&key(&terms.pay_to), &mint) {
            return Err("invalid_exact_svm_payload_recipient_mismatch".into());
        }
        if authority == 0 || authority >= signers {
            return Err("invalid_exact_svm_payload_transaction: the authority is not a signer other than the fee payer".into());
        }
        if self.keys[source] != token_account(&self.keys[authority], &mint) {
            return Err("invalid_exact_svm_payload_transaction: the source is not the authority's token account".into());
        }
        if ![source, destination]
            .iter()
            .all(|i| (signers..writable_unsigned_end).contains(i))
        {
            return Err(
                "invalid_exact_svm_payload_transaction: token accounts must be writable".into(),
            );
        }
        if self.ixs.iter().any(|ix| ix.accounts.contains(&0)) {
            return Err(
                "invalid_exact_svm_payload_transaction_fee_payer_included_in_instruction_accounts"
                    .into(),
            );
        }
        let memos: Vec<&[u8]> = self.ixs[3..].iter().map(|ix| ix.data).collect();
        if self.ixs[3..].iter().any(|ix| !self.is(ix.program, MEMO)) {
            return Err("invalid_exact_svm_payload_unknown_instruction".into());
        }
        if let Some(memo) = &terms.memo {
            if memos != [memo.as_bytes()] {
                return Err("invalid_exact_svm_payload_memo_mismatch".into());
            }
        }
        for (i, signature) in self.signatures.iter().enumerate().skip(1) {
            let ok = VerifyingKey::from_bytes(&self.keys[i])
                .ok()
                .zip(Signature::from_slice(signature).ok())
                .is_some_and(|(k, s)| k.verify_strict(self.message, &s).is_ok());
            if !ok {
                return Err(format!("invalid_exact_svm_payload_transaction_signature: signature {i} does not verify"));
            }
        }
        Ok(())
    }
}

/// `POST /solana-rpc`: JSON-RPC 2.0, the two methods the client uses.
pub(super) async fn rpc(State(s): State<Arc<Shared>>, Json(call): Json<Value>) -> Response {
    let chain = &s.x402.solana;
    let method = call["method"].as_str().unwrap_or("").to_owned();
    lock(&chain.rpc_calls).push(method.clone());
    let id = call.get("id").cloned().unwrap_or(Value::Null);
    let answer = |body: Value| (StatusCode::OK, Json(body)).into_response();
    if chain.rpc_down.load(Ordering::SeqCst) {
        return answer(json!({"jsonrpc": "2.0", "id": id,
            "error": {"code": -32005, "message": "Node is behind (sandbox switch)"}}));
    }
    let result = match method.as_str() {
        "getLatestBlockhash" => chain.latest_blockhash(),
        "getBlockHeight" => json!(chain.height()),
        other => {
            return answer(json!({"jsonrpc": "2.0", "id": id,
                "error": {"code": -32601, "message": format!("Method not found: {other}")}}))
        }
    };
    answer(json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAY_TO: &str = "7AJwx3J2qXnURXZmU5AotDeMUY5dDBqBFbweHLZ2UeUs";
    const USDC: &str = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";
    /// SVM-1 of the notes (§5): USDC, with memo, blockhash `33`×32.
    const SVM1_TX: &str = "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEg+9uZDw873vdRBzoNmbj5Rngkb3Mc/lzcsyumW3cLMgDvlrjg9lfmEhxvyaJpMHWPHIJuCgnOv3/siNXOQoNgAIBBAigmqX0emdZgC/5VfjcLSoUpcmdI76X+GQSf/k4NFWk8NBKsjJ0K7SrOhNovUYV5ObQIkq3GgFrr4UgozLJd4c3uF4MvFJWCxDSqoDk1eL2mdrhl9NQvQamd3l7121Sjuj4H0iOgU68PoPg5DnGLSKJqqL9yat6tEDZqlVsCdqREwMGRm/lIRcy/+ytunLDm+e8jOW7xfcSayxDmzpAAAAABUpTWpkpIQZNJOhxYNo4fHw1td28kruB5B+oQEEFRI0G3fbh12Whk9nL4UbO63msHLSF7V9bN5E6jPWFfv8Aqcb6evO+2606PWXzaqvJdDGxu+TC0vbg5HymAgNFL11hMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMEBAAFAiBOAAAEAAkDAQAAAAAAAAAGBAIHAwEKDICWmAAAAAAABgUAIDAwMDEwMjAzMDQwNTA2MDcwODA5MGEwYjBjMGQwZTBmAA==";

    fn terms() -> SvmTerms {
        SvmTerms {
            pay_to: PAY_TO.into(),
            mint: USDC.into(),
            amount: 10_000_000,
            fee_payer: fee_payer(),
            memo: Some("000102030405060708090a0b0c0d0e0f".into()),
        }
    }

    /// A chain that handed out the vector's blockhash.
    fn chain() -> FakeSolana {
        let chain = FakeSolana::default();
        lock(&chain.blockhashes).insert([0x33; 32], START_HEIGHT + 150);
        chain
    }

    #[test]
    fn the_vector_settles_once_and_its_token_accounts_match_the_notes() {
        assert_eq!(fee_payer(), "Bow1CGKGDB9mNxeWdw85E2aCthQ1oZX4oFEe7fYT17ew");
        let client = key("F25s3DdjXdCxYBhh2z8FBusVEMT4b9bGNFVKJi3wFoF4");
        assert_eq!(
            b58(&token_account(&client, &key(USDC))),
            "DQhCHAxmJxGcys4CvR2PCb9bkaCHTRHDAMJz73u98jwm"
        );
        assert_eq!(
            b58(&token_account(&key(PAY_TO), &key(USDC))),
            "HhZn2MR4V7GNDEuY8VNFatcK3M537SMDst1eercv45zr"
        );
        let chain = chain();
        let settled = chain.settle(SVM1_TX, &[terms()]).unwrap();
        assert_eq!(
            settled.payer,
            "F25s3DdjXdCxYBhh2z8FBusVEMT4b9bGNFVKJi3wFoF4"
        );
        assert_eq!(
            bs58::decode(&settled.transaction).into_vec().unwrap().len(),
            64
        );
        assert_eq!(chain.token_balance(PAY_TO, USDC), 10_000_000);
        assert_eq!(
            chain.settle(SVM1_TX, &[terms()]).unwrap_err(),
            "duplicate_settlement"
        );
    }

    #[test]
    fn every_check_can_fail() {
        let wire = BASE64.decode(SVM1_TX).unwrap();
        let flip = |at: usize| {
            let mut w = wire.clone();
            w[at] ^= 1;
            BASE64.encode(w)
        };
        let message = 1 + 128;
        type Case = (String, Box<dyn Fn(&mut SvmTerms)>, &'static str);
        let cases: Vec<Case> = vec![
            ("%%".into(), Box::new(|_| {}), "not base64"),
            (flip(message), Box::new(|_| {}), "not a v0 message"),
            (
                flip(message + 1),
                Box::new(|_| {}),
                "signature count differs",
            ),
            (BASE64.encode(&wire[..300]), Box::new(|_| {}), "truncated"),
            (flip(5), Box::new(|_| {}), "slot is not empty"),
            (flip(70), Box::new(|_| {}), "does not verify"),
            (flip(wire.len() - 1), Box::new(|_| {}), "lookup tables"),
            (
                SVM1_TX.into(),
                Box::new(|t| t.amount += 1),
                "amount_mismatch",
            ),
            (
                SVM1_TX.into(),
                Box::new(|t| t.pay_to = fee_payer()),
                "recipient_mismatch",
            ),
            (
                SVM1_TX.into(),
                Box::new(|t| t.fee_payer = PAY_TO.into()),
                "missing_fee_payer",
            ),
            (
                SVM1_TX.into(),
                Box::new(|t| t.memo = Some("other".into())),
                "memo_mismatch",
            ),
            (
                SVM1_TX.into(),
                Box::new(|t| t.mint = "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB".into()),
                "mint_mismatch",
            ),
        ];
        for (tx, edit, reason) in cases {
            let mut t = terms();
            edit(&mut t);
            let err = chain().settle(&tx, &[t]).err().unwrap_or_default();
            assert!(err.contains(reason), "{reason}: {err}");
        }
        // A blockhash the RPC never handed out, or one that expired.
        let err = FakeSolana::default()
            .settle(SVM1_TX, &[terms()])
            .err()
            .unwrap();
        assert!(err.contains("unknown blockhash"), "{err}");
        let old = chain();
        old.advance_blocks(151);
        assert!(old
            .settle(SVM1_TX, &[terms()])
            .err()
            .unwrap()
            .contains("expired"));
        // An empty ledger.
        let poor = chain();
        let source = key("DQhCHAxmJxGcys4CvR2PCb9bkaCHTRHDAMJz73u98jwm");
        lock(&poor.balances).insert(source, 5);
        assert_eq!(
            poor.settle(SVM1_TX, &[terms()]).err().unwrap(),
            "insufficient_funds"
        );
    }
}
