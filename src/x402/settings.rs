//! The x402 settings, read once at start-up: the wallets (Base and/or Solana), which network
//! and token pay, the endpoints, the cap, the payee pin and the credentials file.
//!
//! Keys are wrapped ([`Wallet`], [`Keypair`]): their `Debug` shows the public address only,
//! and no error message repeats any of a key's text.

use std::path::PathBuf;

use super::eip3009::{Address, Wallet};
use super::envelope::{Network, Version};
use super::svm::{self, Keypair, Pubkey, Token};
use super::{credentials, DEFAULT_BASE_URL, DEFAULT_MAX_TOPUP_USD};
use crate::config::{env, ConfigError};

/// The public Solana RPC, used for `getLatestBlockhash` and `getBlockHeight` only.
pub const DEFAULT_SOLANA_RPC_URL: &str = "https://api.mainnet-beta.solana.com";

/// The x402 settings (see [`crate::config::env`] for the variables).
#[derive(Debug, Clone)]
pub struct X402Config {
    /// The Base wallet, from `VIRTUALSMS_WALLET_PRIVATE_KEY` or `VIRTUALSMS_WALLET_KEY_FILE`.
    pub wallet: Option<Wallet>,
    /// The Solana wallet, from `VIRTUALSMS_SOLANA_KEY_FILE` or `VIRTUALSMS_SOLANA_PRIVATE_KEY`.
    pub solana_wallet: Option<Keypair>,
    /// Which network pays (`VIRTUALSMS_X402_NETWORK`; default: the one wallet configured, Base
    /// when both are).
    pub network: Network,
    /// USDC (default) or USDT (`VIRTUALSMS_X402_TOKEN`; USDT on Solana only).
    pub token: Token,
    /// Without a trailing slash, e.g. `https://virtualsms.io/api/v1`.
    pub base_url: String,
    pub solana_rpc_url: String,
    /// USD cap for one top-up and for all top-ups of this process together.
    pub max_topup_usd: f64,
    /// The Base payee, pinned (`VIRTUALSMS_X402_PAY_TO` holding a 0x address).
    pub pay_to: Option<Address>,
    /// The Solana payee, pinned (`VIRTUALSMS_X402_PAY_TO` holding a base58 address).
    pub solana_pay_to: Option<Pubkey>,
    /// Where an issued key is written; `None` when no config directory is known (top-ups are
    /// then refused: a bought key must be kept somewhere).
    pub credentials_file: Option<PathBuf>,
    /// Set by [`X402Config::use_sandbox`]: the credentials file is a temporary one.
    pub sandbox: bool,
    /// `--sandbox` only: the envelope the embedded fake speaks (`VIRTUALSMS_SANDBOX_X402_VERSION`).
    pub sandbox_version: Version,
}

fn problem(name: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        name,
        problem: problem.into(),
    }
}

/// A secret from a variable or from a file named by another; never both.
fn secret(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    file_var: &'static str,
) -> Result<Option<(&'static str, String)>, ConfigError> {
    match (get(var), get(file_var)) {
        (Some(_), Some(_)) => Err(problem(
            file_var,
            format!("set either it or {var}, not both"),
        )),
        (Some(text), None) => Ok(Some((var, text))),
        (None, Some(file)) => std::fs::read_to_string(&file)
            .map(|text| Some((file_var, text)))
            .map_err(|e| problem(file_var, format!("cannot read {file:?}: {e}"))),
        (None, None) => Ok(None),
    }
}

fn wallets(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<(Option<Wallet>, Option<Keypair>), ConfigError> {
    let base = secret(get, env::WALLET_PRIVATE_KEY, env::WALLET_KEY_FILE)?
        .map(|(name, text)| Wallet::from_hex(&text).map_err(|e| problem(name, e.to_string())))
        .transpose()?;
    let solana = secret(get, env::SOLANA_PRIVATE_KEY, env::SOLANA_KEY_FILE)?
        .map(|(name, text)| Keypair::parse(&text).map_err(|e| problem(name, e.to_string())))
        .transpose()?;
    Ok((base, solana))
}

fn network_and_token(
    get: &impl Fn(&str) -> Option<String>,
    base: bool,
    solana: bool,
) -> Result<(Network, Token), ConfigError> {
    let network = match get(env::X402_NETWORK) {
        None if solana && !base => Network::Solana,
        None => Network::Base,
        Some(raw) => Network::parse_setting(&raw).ok_or_else(|| {
            problem(
                env::X402_NETWORK,
                format!("expected base or solana, got {raw:?}"),
            )
        })?,
    };
    match network {
        Network::Solana if base && !solana => {
            return Err(problem(
                env::X402_NETWORK,
                format!(
                    "solana needs a Solana wallet ({} or {}); only a Base wallet is set",
                    env::SOLANA_KEY_FILE,
                    env::SOLANA_PRIVATE_KEY
                ),
            ))
        }
        Network::Base if solana && !base => {
            return Err(problem(
                env::X402_NETWORK,
                format!(
                    "base needs a Base wallet ({} or {}); only a Solana wallet is set",
                    env::WALLET_KEY_FILE,
                    env::WALLET_PRIVATE_KEY
                ),
            ))
        }
        _ => {}
    }
    let token = match get(env::X402_TOKEN).map(|t| t.to_ascii_uppercase()) {
        None => svm::USDC,
        Some(t) if t == "USDC" => svm::USDC,
        Some(t) if t == "USDT" && network == Network::Solana => svm::USDT,
        Some(t) if t == "USDT" => {
            return Err(problem(
                env::X402_TOKEN,
                "USDT is paid on Solana only; on Base top-ups are in USDC",
            ))
        }
        Some(t) => {
            return Err(problem(
                env::X402_TOKEN,
                format!("expected USDC or USDT, got {t:?}"),
            ))
        }
    };
    Ok((network, token))
}

fn url(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: &str,
) -> Result<String, ConfigError> {
    let url = get(name).unwrap_or_else(|| default.to_owned());
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(problem(
            name,
            format!("must start with http:// or https:// (got {url:?})"),
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

impl X402Config {
    /// Reads the x402 variables through `get` (trimmed, blank = unset), as
    /// [`crate::config::Config`] does.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let (wallet, solana_wallet) = wallets(get)?;
        let (network, token) = network_and_token(get, wallet.is_some(), solana_wallet.is_some())?;
        let max_topup_usd = match get(env::X402_MAX_TOPUP_USD) {
            None => DEFAULT_MAX_TOPUP_USD,
            Some(raw) => match raw.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => v,
                _ => {
                    return Err(problem(
                        env::X402_MAX_TOPUP_USD,
                        format!("expected an amount in USD of 0 or more, got {raw:?}"),
                    ))
                }
            },
        };
        let (mut pay_to, mut solana_pay_to) = (None, None);
        if let Some(raw) = get(env::X402_PAY_TO) {
            if raw.starts_with("0x") {
                pay_to = Some(Address::parse(&raw).map_err(|e| problem(env::X402_PAY_TO, e))?);
            } else {
                let key = Pubkey::parse(&raw).map_err(|e| {
                    problem(
                        env::X402_PAY_TO,
                        format!("neither a 0x Base address nor {e}"),
                    )
                })?;
                solana_pay_to = Some(key);
            }
        }
        let sandbox_version = match get(env::SANDBOX_X402_VERSION).as_deref() {
            None | Some("1") => Version::V1,
            Some("2") => Version::V2,
            Some(other) => {
                return Err(problem(
                    env::SANDBOX_X402_VERSION,
                    format!("expected 1 or 2, got {other:?}"),
                ))
            }
        };
        Ok(Self {
            wallet,
            solana_wallet,
            network,
            token,
            base_url: url(get, env::X402_BASE_URL, DEFAULT_BASE_URL)?,
            solana_rpc_url: url(get, env::SOLANA_RPC_URL, DEFAULT_SOLANA_RPC_URL)?,
            max_topup_usd,
            pay_to,
            solana_pay_to,
            credentials_file: get(env::CREDENTIALS_FILE)
                .map(PathBuf::from)
                .or_else(|| credentials::default_path(get)),
            sandbox: false,
            sandbox_version,
        })
    }

    /// Whether the network that pays has a wallet (then `topup_balance` is offered).
    pub fn has_wallet(&self) -> bool {
        match self.network {
            Network::Base => self.wallet.is_some(),
            Network::Solana => self.solana_wallet.is_some(),
            Network::BnbChain => false,
        }
    }

    /// `--sandbox`: pay the embedded fake (its x402 endpoint and Solana RPC, in the envelope
    /// `VIRTUALSMS_SANDBOX_X402_VERSION` asks for), keep its keys out of the real credentials
    /// file, and trust the fake's `/x402/info` instead of a pin meant for the real service.
    pub fn use_sandbox(
        &mut self,
        fake: &crate::sandbox::FakeApi,
        handle: &crate::sandbox::FakeHandle,
    ) {
        self.base_url = handle.x402_base_url();
        self.solana_rpc_url = format!(
            "http://{}{}",
            handle.addr,
            crate::sandbox::x402::SOLANA_RPC_PATH
        );
        fake.x402().set_version(self.sandbox_version);
        self.pay_to = None;
        self.solana_pay_to = None;
        self.sandbox = true;
        self.credentials_file = Some(
            std::env::temp_dir()
                .join(format!("virtualsms-mcp-sandbox-{}", std::process::id()))
                .join("credentials.json"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keypair of seed 0x11 (notes §5), as a Solana CLI file would hold it.
    fn solana_key_json() -> String {
        let seed = [0x11u8; 32];
        let public = ed25519_dalek::SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes();
        let mut bytes = seed.to_vec();
        bytes.extend_from_slice(&public);
        serde_json::to_string(&bytes).unwrap()
    }

    fn lookup(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        }
    }

    const BASE_KEY: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";

    #[test]
    fn config_reads_the_x402_variables() {
        let c = X402Config::from_lookup(&lookup(vec![("HOME", "/home/a".into())])).unwrap();
        assert!(c.wallet.is_none() && c.solana_wallet.is_none() && !c.has_wallet());
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.solana_rpc_url, DEFAULT_SOLANA_RPC_URL);
        assert_eq!(c.max_topup_usd, DEFAULT_MAX_TOPUP_USD);
        assert_eq!((c.network, c.token), (Network::Base, svm::USDC));
        assert_eq!(
            c.credentials_file,
            Some(PathBuf::from(
                "/home/a/.config/virtualsms-mcp/credentials.json"
            ))
        );
        let c = X402Config::from_lookup(&lookup(vec![
            (env::WALLET_PRIVATE_KEY, BASE_KEY.into()),
            (env::X402_BASE_URL, "http://127.0.0.1:9/api/v1/".into()),
            (env::X402_MAX_TOPUP_USD, "5".into()),
            (
                env::X402_PAY_TO,
                "0xfEc54264350d97d9b63f9Cc415BAF708C4695F32".into(),
            ),
            (env::CREDENTIALS_FILE, "/tmp/c.json".into()),
        ]))
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("1111111111111111"), "{shown}");
        assert_eq!(c.base_url, "http://127.0.0.1:9/api/v1");
        assert_eq!(c.max_topup_usd, 5.0);
        assert!(c.pay_to.is_some() && c.has_wallet());
        assert_eq!(c.credentials_file, Some(PathBuf::from("/tmp/c.json")));
    }

    #[test]
    fn a_solana_wallet_alone_selects_solana() {
        let dir = std::env::temp_dir().join(format!("vsms-sol-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("id.json");
        std::fs::write(&file, solana_key_json()).unwrap();
        let c = X402Config::from_lookup(&lookup(vec![
            (env::SOLANA_KEY_FILE, file.display().to_string()),
            (env::X402_TOKEN, "usdt".into()),
            (env::SOLANA_RPC_URL, "http://127.0.0.1:9/".into()),
            (
                env::X402_PAY_TO,
                "7AJwx3J2qXnURXZmU5AotDeMUY5dDBqBFbweHLZ2UeUs".into(),
            ),
        ]))
        .unwrap();
        assert_eq!((c.network, c.token), (Network::Solana, svm::USDT));
        assert!(c.has_wallet() && c.pay_to.is_none() && c.solana_pay_to.is_some());
        assert_eq!(c.solana_rpc_url, "http://127.0.0.1:9");
        let shown = format!("{c:?}");
        assert!(
            shown.contains("F25s3DdjXdCxYBhh2z8FBusVEMT4b9bGNFVKJi3wFoF4"),
            "{shown}"
        );
        assert!(!shown.contains("17, 17"), "{shown}");
        // With both wallets, Base unless asked.
        let both = |network: Option<&str>| {
            let mut vars = vec![
                (env::SOLANA_PRIVATE_KEY, solana_key_json()),
                (env::WALLET_PRIVATE_KEY, BASE_KEY.to_owned()),
            ];
            vars.extend(network.map(|n| (env::X402_NETWORK, n.to_owned())));
            X402Config::from_lookup(&lookup(vars)).unwrap().network
        };
        assert_eq!(both(None), Network::Base);
        assert_eq!(both(Some("Solana")), Network::Solana);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn bad_settings_name_the_variable_and_never_echo_a_key() {
        let sol = solana_key_json();
        let mut wrong_half = sol.clone();
        wrong_half.replace_range(wrong_half.len() - 4.., "1]");
        for (vars, name) in [
            (
                vec![(env::WALLET_PRIVATE_KEY, "0x1234".to_owned())],
                env::WALLET_PRIVATE_KEY,
            ),
            (
                vec![(env::X402_MAX_TOPUP_USD, "-1".into())],
                env::X402_MAX_TOPUP_USD,
            ),
            (vec![(env::X402_PAY_TO, "0x1234".into())], env::X402_PAY_TO),
            (
                vec![(env::X402_PAY_TO, "not-base58-0OIl".into())],
                env::X402_PAY_TO,
            ),
            (
                vec![(env::X402_BASE_URL, "virtualsms.io".into())],
                env::X402_BASE_URL,
            ),
            (
                vec![(env::SOLANA_RPC_URL, "ftp://x".into())],
                env::SOLANA_RPC_URL,
            ),
            (
                vec![(env::WALLET_KEY_FILE, "/nonexistent/key".into())],
                env::WALLET_KEY_FILE,
            ),
            (
                vec![(env::SOLANA_KEY_FILE, "/nonexistent/id.json".into())],
                env::SOLANA_KEY_FILE,
            ),
            (
                vec![(env::SOLANA_PRIVATE_KEY, wrong_half.clone())],
                env::SOLANA_PRIVATE_KEY,
            ),
            (
                vec![
                    (env::SOLANA_PRIVATE_KEY, sol.clone()),
                    (env::SOLANA_KEY_FILE, "/x".into()),
                ],
                env::SOLANA_KEY_FILE,
            ),
            (vec![(env::X402_NETWORK, "bnb".into())], env::X402_NETWORK),
            (vec![(env::X402_TOKEN, "DAI".into())], env::X402_TOKEN),
            (vec![(env::X402_TOKEN, "USDT".into())], env::X402_TOKEN),
            (
                vec![
                    (env::WALLET_PRIVATE_KEY, BASE_KEY.into()),
                    (env::X402_NETWORK, "solana".into()),
                ],
                env::X402_NETWORK,
            ),
            (
                vec![
                    (env::SOLANA_PRIVATE_KEY, sol.clone()),
                    (env::X402_NETWORK, "base".into()),
                ],
                env::X402_NETWORK,
            ),
            (
                vec![(env::SANDBOX_X402_VERSION, "3".into())],
                env::SANDBOX_X402_VERSION,
            ),
        ] {
            let err = X402Config::from_lookup(&lookup(vars)).unwrap_err();
            assert_eq!(err.name, name, "{err}");
            let text = err.to_string();
            assert!(
                !text.contains("0x1234") || name == env::X402_PAY_TO,
                "{text}"
            );
            assert!(
                !text.contains("17,17") && !text.contains("1111111111"),
                "{text}"
            );
        }
    }
}
