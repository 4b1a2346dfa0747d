//! The Solana (SVM) `exact` payment: a partially signed v0 transaction that moves USDC or USDT
//! from this process's wallet to VirtualSMS's, with the facilitator's fee-payer slot left empty
//! (`../shared/notes/x402-solana-permit2-v2.md` §1.3–1.6).
//!
//! - [`Pubkey`]: a 32-byte account, base58 on the wire.
//! - [`Keypair`]: the wallet (a Solana CLI keypair: seed ‖ public key, 64 bytes). Its `Debug`
//!   shows the public key only; the secret half is wiped on drop.
//! - [`associated_token_account`]: the PDA `[owner, token program, mint]` of the ATA program.
//! - [`Transfer::compile`]: the v0 message — compute-unit limit, compute-unit price,
//!   `TransferChecked` and, when asked for, a memo — hand-rolled in the byte layout of the
//!   Rust/Python reference stacks (keys sorted by bytes inside each group).
//! - [`sign`]: one ed25519 signature over the message; the wire transaction with slot 0 zeroed.
//!
//! Not the `solana-*` crates: they add 37 crates and need a newer Rust than this project
//! declares (notes §4). The known-answer vectors SVM-1 and SVM-2 of the notes (§5) are the unit
//! tests at the bottom.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signer as _, SigningKey};
use sha2::{Digest, Sha256};

pub const COMPUTE_BUDGET_PROGRAM: &str = "ComputeBudget111111111111111111111111111111";
pub const TOKEN_PROGRAM: &str = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
pub const ASSOCIATED_TOKEN_PROGRAM: &str = "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL";
pub const MEMO_PROGRAM: &str = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr";
/// The reference clients' compute-unit limit and price (µlamports per unit).
pub const COMPUTE_UNIT_LIMIT: u32 = 20_000;
pub const COMPUTE_UNIT_PRICE: u64 = 1;
/// The longest memo the scheme allows (bytes of UTF-8).
pub const MAX_MEMO_BYTES: usize = 256;

/// A stablecoin this client pays with on Solana mainnet (notes §1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub symbol: &'static str,
    pub mint: &'static str,
    pub decimals: u8,
    /// The mint's owner program: the classic token program for both.
    pub program: &'static str,
}

pub const USDC: Token = Token {
    symbol: "USDC",
    mint: "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
    decimals: 6,
    program: TOKEN_PROGRAM,
};
pub const USDT: Token = Token {
    symbol: "USDT",
    mint: "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB",
    decimals: 6,
    program: TOKEN_PROGRAM,
};
pub const TOKENS: [Token; 2] = [USDC, USDT];

/// A Solana account address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pubkey(pub [u8; 32]);

impl Pubkey {
    /// Base58 of exactly 32 bytes.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bytes = bs58::decode(text.trim())
            .into_vec()
            .map_err(|_| "a Solana address is base58 text".to_owned())?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "a Solana address is 32 bytes of base58".to_owned())?;
        Ok(Self(bytes))
    }

    /// One of the constants above (known to be valid).
    pub fn constant(text: &'static str) -> Self {
        Self::parse(text).expect("a valid built-in address")
    }

    /// Whether the bytes are a point of the ed25519 curve (a PDA never is).
    pub fn is_on_curve(&self) -> bool {
        CompressedEdwardsY(self.0).decompress().is_some()
    }
}

impl fmt::Display for Pubkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).into_string())
    }
}

impl fmt::Debug for Pubkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `find_program_address`: the first bump from 255 down whose hash is off the curve.
pub fn find_program_address(seeds: &[&[u8]], program: &Pubkey) -> (Pubkey, u8) {
    for bump in (0..=255u8).rev() {
        let mut hasher = Sha256::new();
        for seed in seeds {
            hasher.update(seed);
        }
        hasher.update([bump]);
        hasher.update(program.0);
        hasher.update(b"ProgramDerivedAddress");
        let candidate = Pubkey(hasher.finalize().into());
        if !candidate.is_on_curve() {
            return (candidate, bump);
        }
    }
    // Each bump has odds of about 1/2; 256 misses in a row do not happen.
    unreachable!("no off-curve program address for these seeds")
}

/// The associated token account of `owner` for `mint` under `token_program`.
pub fn associated_token_account(owner: &Pubkey, token_program: &Pubkey, mint: &Pubkey) -> Pubkey {
    let ata_program = Pubkey::constant(ASSOCIATED_TOKEN_PROGRAM);
    find_program_address(&[&owner.0, &token_program.0, &mint.0], &ata_program).0
}

/// Why a keypair could not be loaded. Never contains any of the key's text.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// The Solana wallet. `Debug` shows its public key only.
#[derive(Clone)]
pub struct Keypair {
    key: SigningKey,
}

impl Keypair {
    /// 64 bytes: the 32-byte seed, then the public key, which must match the seed.
    pub fn from_keypair_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() != 64 {
            return Err(KeyError(format!(
                "a Solana keypair is 64 bytes (seed and public key), got {}",
                bytes.len()
            )));
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&bytes[..32]);
        let key = SigningKey::from_bytes(&seed);
        seed.fill(0);
        if key.verifying_key().as_bytes()[..] != bytes[32..] {
            return Err(KeyError(
                "the keypair's public half does not match its secret half".into(),
            ));
        }
        Ok(Self { key })
    }

    /// A Solana CLI keypair file (`[n, n, …]`, 64 numbers) or the base58 text wallets export.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let mut bytes: Vec<u8> = if text.starts_with('[') {
            serde_json::from_str::<Vec<u8>>(text)
                .map_err(|_| KeyError("expected a JSON array of 64 numbers from 0 to 255".into()))?
        } else {
            bs58::decode(text).into_vec().map_err(|_| {
                KeyError("expected base58 text or a JSON array of 64 numbers".into())
            })?
        };
        let keypair = Self::from_keypair_bytes(&bytes);
        bytes.fill(0);
        keypair
    }

    pub fn pubkey(&self) -> Pubkey {
        Pubkey(self.key.verifying_key().to_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SolanaKeypair({})", self.pubkey())
    }
}

/// compact-u16: 7 bits per byte, little end first, high bit = more.
pub fn shortvec(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Everything the transfer transaction depends on.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// `extra.feePayer`: the facilitator signs slot 0 and pays the fee.
    pub fee_payer: Pubkey,
    /// The client's wallet: owner of the source token account, the only other signer.
    pub authority: Pubkey,
    /// `payTo`: the owner of the destination token account.
    pub destination_owner: Pubkey,
    pub token: Token,
    /// Base units (6 decimals for USDC and USDT).
    pub amount: u64,
    pub recent_blockhash: [u8; 32],
    pub memo: Option<Vec<u8>>,
}

struct Instruction {
    program: Pubkey,
    accounts: Vec<Pubkey>,
    data: Vec<u8>,
}

impl Transfer {
    fn instructions(&self, source: Pubkey, destination: Pubkey) -> Vec<Instruction> {
        let budget = Pubkey::constant(COMPUTE_BUDGET_PROGRAM);
        let mut limit = vec![2u8];
        limit.extend_from_slice(&COMPUTE_UNIT_LIMIT.to_le_bytes());
        let mut price = vec![3u8];
        price.extend_from_slice(&COMPUTE_UNIT_PRICE.to_le_bytes());
        let mut transfer = vec![12u8];
        transfer.extend_from_slice(&self.amount.to_le_bytes());
        transfer.push(self.token.decimals);
        let mint = Pubkey::constant(self.token.mint);
        let mut list = vec![
            Instruction {
                program: budget,
                accounts: vec![],
                data: limit,
            },
            Instruction {
                program: budget,
                accounts: vec![],
                data: price,
            },
            Instruction {
                program: Pubkey::constant(self.token.program),
                accounts: vec![source, mint, destination, self.authority],
                data: transfer,
            },
        ];
        if let Some(memo) = &self.memo {
            list.push(Instruction {
                program: Pubkey::constant(MEMO_PROGRAM),
                accounts: vec![],
                data: memo.clone(),
            });
        }
        list
    }

    /// The v0 message bytes (starting with the `0x80` version prefix) that the client signs.
    /// Refuses a transaction in which any two accounts coincide (e.g. the fee payer is the
    /// wallet or the payee): the facilitator would be able to move the wallet's tokens.
    pub fn compile(&self) -> Result<Vec<u8>, String> {
        let program = Pubkey::constant(self.token.program);
        let mint = Pubkey::constant(self.token.mint);
        let source = associated_token_account(&self.authority, &program, &mint);
        let destination = associated_token_account(&self.destination_owner, &program, &mint);
        let mut writable = vec![source, destination];
        writable.sort();
        let mut readonly = vec![Pubkey::constant(COMPUTE_BUDGET_PROGRAM), program, mint];
        if self.memo.is_some() {
            readonly.push(Pubkey::constant(MEMO_PROGRAM));
        }
        readonly.sort();
        let mut keys = vec![self.fee_payer, self.authority];
        keys.extend(writable);
        keys.extend(readonly.iter().copied());
        for (i, key) in keys.iter().enumerate() {
            if keys[..i].contains(key) {
                return Err(format!(
                    "account {key} would appear twice in the transaction"
                ));
            }
        }
        if self.destination_owner == self.fee_payer || self.destination_owner == self.authority {
            return Err("the payee is the fee payer or the wallet itself".into());
        }
        let index = |k: &Pubkey| keys.iter().position(|x| x == k).unwrap_or(0) as u8;
        let mut out = vec![0x80, 2, 1, readonly.len() as u8];
        shortvec(keys.len(), &mut out);
        for key in &keys {
            out.extend_from_slice(&key.0);
        }
        out.extend_from_slice(&self.recent_blockhash);
        let instructions = self.instructions(source, destination);
        shortvec(instructions.len(), &mut out);
        for ix in &instructions {
            out.push(index(&ix.program));
            shortvec(ix.accounts.len(), &mut out);
            out.extend(ix.accounts.iter().map(index));
            shortvec(ix.data.len(), &mut out);
            out.extend_from_slice(&ix.data);
        }
        shortvec(0, &mut out); // no address lookup tables
        Ok(out)
    }
}

/// The partially signed transaction. `Debug` hides it: until its blockhash expires it is a
/// bearer instrument for the amount.
pub struct SignedTransaction {
    pub message: Vec<u8>,
    pub signature: [u8; 64],
    /// shortvec(2) ‖ 64 zero bytes (the fee payer's slot) ‖ the client's signature ‖ message.
    pub wire: Vec<u8>,
}

impl SignedTransaction {
    /// `payload.transaction`: standard base64 with padding.
    pub fn base64(&self) -> String {
        BASE64.encode(&self.wire)
    }

    pub fn signature_base58(&self) -> String {
        bs58::encode(self.signature).into_string()
    }
}

impl fmt::Debug for SignedTransaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignedTransaction(<redacted>)")
    }
}

/// Compiles `transfer` and signs it once with `keypair`, which must be its authority.
pub fn sign(keypair: &Keypair, transfer: &Transfer) -> Result<SignedTransaction, String> {
    if keypair.pubkey() != transfer.authority {
        return Err("the transfer's authority is not this wallet".into());
    }
    let message = transfer.compile()?;
    let signature = keypair.sign(&message);
    let mut wire = Vec::with_capacity(1 + 128 + message.len());
    shortvec(2, &mut wire);
    wire.extend_from_slice(&[0u8; 64]);
    wire.extend_from_slice(&signature);
    wire.extend_from_slice(&message);
    Ok(SignedTransaction {
        message,
        signature,
        wire,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAY_TO: &str = "7AJwx3J2qXnURXZmU5AotDeMUY5dDBqBFbweHLZ2UeUs";
    const SVM1_TX: &str = "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAEg+9uZDw873vdRBzoNmbj5Rngkb3Mc/lzcsyumW3cLMgDvlrjg9lfmEhxvyaJpMHWPHIJuCgnOv3/siNXOQoNgAIBBAigmqX0emdZgC/5VfjcLSoUpcmdI76X+GQSf/k4NFWk8NBKsjJ0K7SrOhNovUYV5ObQIkq3GgFrr4UgozLJd4c3uF4MvFJWCxDSqoDk1eL2mdrhl9NQvQamd3l7121Sjuj4H0iOgU68PoPg5DnGLSKJqqL9yat6tEDZqlVsCdqREwMGRm/lIRcy/+ytunLDm+e8jOW7xfcSayxDmzpAAAAABUpTWpkpIQZNJOhxYNo4fHw1td28kruB5B+oQEEFRI0G3fbh12Whk9nL4UbO63msHLSF7V9bN5E6jPWFfv8Aqcb6evO+2606PWXzaqvJdDGxu+TC0vbg5HymAgNFL11hMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMEBAAFAiBOAAAEAAkDAQAAAAAAAAAGBAIHAwEKDICWmAAAAAAABgUAIDAwMDEwMjAzMDQwNTA2MDcwODA5MGEwYjBjMGQwZTBmAA==";
    const SVM2_TX: &str = "AgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAC+xecow3rJJekYo6ev3REStLOPBikAUWfvy9pI3cr84eUdv+NJKuqrBgcbmJ0pW+bQJU2GM7o97/O8pTx5alYIgAIBAwegmqX0emdZgC/5VfjcLSoUpcmdI76X+GQSf/k4NFWk8NBKsjJ0K7SrOhNovUYV5ObQIkq3GgFrr4UgozLJd4c3CTnjad8VXTf67/4AXlFNWMkpKAdtXlIpKn0M3DGuLj5y12k4mTy7g861YNc3GxUeTlhl3gtJx33qgANSgVtgKwMGRm/lIRcy/+ytunLDm+e8jOW7xfcSayxDmzpAAAAABt324ddloZPZy+FGzut5rBy0he1fWzeROoz1hX7/AKnOAQ5gr+2yJxe9YxkvVBRaP5ZaM7uC0scCnrLOHiCCZEREREREREREREREREREREREREREREREREREREREREREAwQABQIgTgAABAAJAwEAAAAAAAAABQQCBgMBCgyAhB4AAAAAAAYA";

    fn keypair(byte: u8) -> Keypair {
        let seed = [byte; 32];
        let public = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        let mut bytes = seed.to_vec();
        bytes.extend_from_slice(&public);
        Keypair::from_keypair_bytes(&bytes).unwrap()
    }

    fn vector(token: Token, amount: u64, blockhash: u8, memo: Option<&str>) -> Transfer {
        Transfer {
            fee_payer: keypair(0x22).pubkey(),
            authority: keypair(0x11).pubkey(),
            destination_owner: Pubkey::constant(PAY_TO),
            token,
            amount,
            recent_blockhash: [blockhash; 32],
            memo: memo.map(|m| m.as_bytes().to_vec()),
        }
    }

    fn ata(owner: &Pubkey, token: Token) -> (Pubkey, u8) {
        let ata_program = Pubkey::constant(ASSOCIATED_TOKEN_PROGRAM);
        let program = Pubkey::constant(token.program);
        let mint = Pubkey::constant(token.mint);
        find_program_address(&[&owner.0, &program.0, &mint.0], &ata_program)
    }

    #[test]
    fn keys_of_the_vectors() {
        assert_eq!(
            keypair(0x11).pubkey().to_string(),
            "F25s3DdjXdCxYBhh2z8FBusVEMT4b9bGNFVKJi3wFoF4"
        );
        assert_eq!(
            keypair(0x22).pubkey().to_string(),
            "Bow1CGKGDB9mNxeWdw85E2aCthQ1oZX4oFEe7fYT17ew"
        );
        assert_eq!(
            bs58::encode([0x33; 32]).into_string(),
            "4Ss5JMkXAD9Z7cktFEdrqeMuT6jGMF1pVozTyPHZ6zT4"
        );
        for constant in [
            COMPUTE_BUDGET_PROGRAM,
            TOKEN_PROGRAM,
            ASSOCIATED_TOKEN_PROGRAM,
            MEMO_PROGRAM,
            USDC.mint,
            USDT.mint,
        ] {
            assert_eq!(Pubkey::constant(constant).to_string(), constant);
        }
    }

    #[test]
    fn svm1_usdc_with_memo_byte_for_byte() {
        let client = keypair(0x11).pubkey();
        let (source, bump) = ata(&client, USDC);
        assert_eq!(
            (source.to_string().as_str(), bump),
            ("DQhCHAxmJxGcys4CvR2PCb9bkaCHTRHDAMJz73u98jwm", 254)
        );
        let (dest, bump) = ata(&Pubkey::constant(PAY_TO), USDC);
        assert_eq!(
            (dest.to_string().as_str(), bump),
            ("HhZn2MR4V7GNDEuY8VNFatcK3M537SMDst1eercv45zr", 252)
        );
        let transfer = vector(
            USDC,
            10_000_000,
            0x33,
            Some("000102030405060708090a0b0c0d0e0f"),
        );
        let signed = sign(&keypair(0x11), &transfer).unwrap();
        assert_eq!(signed.message.len(), 367);
        assert_eq!(&signed.message[..4], &[0x80, 2, 1, 4]);
        assert_eq!(signed.wire.len(), 496);
        let keys: Vec<String> = signed.message[5..5 + 8 * 32]
            .chunks(32)
            .map(|k| bs58::encode(k).into_string())
            .collect();
        assert_eq!(
            keys,
            [
                "Bow1CGKGDB9mNxeWdw85E2aCthQ1oZX4oFEe7fYT17ew",
                "F25s3DdjXdCxYBhh2z8FBusVEMT4b9bGNFVKJi3wFoF4",
                "DQhCHAxmJxGcys4CvR2PCb9bkaCHTRHDAMJz73u98jwm",
                "HhZn2MR4V7GNDEuY8VNFatcK3M537SMDst1eercv45zr",
                COMPUTE_BUDGET_PROGRAM,
                MEMO_PROGRAM,
                TOKEN_PROGRAM,
                USDC.mint
            ]
        );
        assert_eq!(signed.signature_base58(), "6Eh5WTB36tcGY6AfxEfhtWBJx6tTahG1s3x2RNkoA2AKuDh7WiYUyeydtVG9rhEFmuAQqyQF3pUKyxLbF1vKAEx");
        assert_eq!(signed.base64(), SVM1_TX);
        assert_eq!(&signed.wire[1 + 64 + 64..], &signed.message[..]);
    }

    #[test]
    fn svm2_usdt_three_instructions_byte_for_byte() {
        let (source, bump) = ata(&keypair(0x11).pubkey(), USDT);
        assert_eq!(
            (source.to_string().as_str(), bump),
            ("d1sEH8esqGGYrnrfE5oNBC1SRBuR5mW8MJhNhQ7ctwX", 254)
        );
        let (dest, bump) = ata(&Pubkey::constant(PAY_TO), USDT);
        assert_eq!(
            (dest.to_string().as_str(), bump),
            ("8jHzK7Wbnh7kJYHdQPDcPBYDmb42HQh45fvLmQ1PUm8E", 253)
        );
        assert_eq!(
            bs58::encode([0x44; 32]).into_string(),
            "5bV6jUfhDHCQVA1WfKBUnXUsboJgoKgkzkKcxr3joew5"
        );
        let signed = sign(&keypair(0x11), &vector(USDT, 2_000_000, 0x44, None)).unwrap();
        assert_eq!(&signed.message[..4], &[0x80, 2, 1, 3]);
        assert_eq!(signed.wire.len(), 429);
        assert_eq!(signed.signature_base58(), "4pDrG3TyS8AV4tvrikmX5zAx5eHQuKeFddpp7yjDG7zWGdZD5ma9i7UWCins5v6a8Q6bapaDnZWY7RWjzs54N8vK");
        assert_eq!(signed.base64(), SVM2_TX);
        assert_eq!(format!("{signed:?}"), "SignedTransaction(<redacted>)");
    }

    #[test]
    fn a_fee_payer_that_is_the_wallet_is_refused() {
        let mut transfer = vector(USDC, 1, 0x33, None);
        transfer.fee_payer = transfer.authority;
        assert!(transfer.compile().unwrap_err().contains("twice"));
        let mut transfer = vector(USDC, 1, 0x33, None);
        transfer.destination_owner = transfer.authority;
        assert!(transfer.compile().is_err());
        // Another wallet than the authority cannot sign it.
        assert!(sign(&keypair(0x22), &vector(USDC, 1, 0x33, None)).is_err());
    }

    #[test]
    fn keypairs_load_from_json_or_base58_and_must_match() {
        let mut bytes = [0x11u8; 32].to_vec();
        bytes.extend_from_slice(&keypair(0x11).pubkey().0);
        let json = serde_json::to_string(&bytes).unwrap();
        let b58 = bs58::encode(&bytes).into_string();
        for text in [json.clone(), format!("  {b58}\n")] {
            let k = Keypair::parse(&text).unwrap();
            assert_eq!(k.pubkey(), keypair(0x11).pubkey());
            let shown = format!("{k:?}");
            assert_eq!(shown, format!("SolanaKeypair({})", k.pubkey()));
        }
        let mut wrong = bytes.clone();
        wrong[40] ^= 1;
        for (bad, why) in [
            (serde_json::to_string(&wrong).unwrap(), "does not match"),
            (serde_json::to_string(&bytes[..32]).unwrap(), "64 bytes"),
            ("[1, 2, 300]".to_owned(), "JSON array"),
            ("0OIl".to_owned(), "base58"),
        ] {
            let err = Keypair::parse(&bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
            assert!(!err.contains(&b58[..10]));
        }
    }

    #[test]
    fn shortvec_is_compact_u16() {
        for (n, bytes) in [
            (0usize, vec![0u8]),
            (127, vec![0x7f]),
            (128, vec![0x80, 0x01]),
            (16384, vec![0x80, 0x80, 0x01]),
        ] {
            let mut out = Vec::new();
            shortvec(n, &mut out);
            assert_eq!(out, bytes, "{n}");
        }
    }
}
