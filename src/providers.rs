//! The configured providers behind the same tools: VirtualSMS, SMSCode, smsVerificationService.
//!
//! [`Providers`] holds one backend per provider, in the configured order (the first is the
//! default), and what the tools need to treat them as one: routing an order id to its provider
//! (`<provider>:<id>` for every provider but VirtualSMS, whose ids stay as they are), and
//! converting a provider's currency into USD for comparisons and the USD spending limits.
//! A price that cannot be converted (no rate) is never compared silently: [`Member::to_usd`]
//! says `None`, and the callers list it apart.

use std::sync::Arc;

use crate::backends::{ApiError, Backend, ErrorKind};
use crate::config::{Config, SmsCodeSettings, SMSCODE_DEFAULT_BASE_URL, SMSCODE_RATE_LIMIT};
use crate::transport::KeySlot;

/// The provider whose order ids carry no prefix.
pub const DEFAULT_PROVIDER: &str = "virtualsms";

/// Every provider name the server knows, in the order `all` configures them.
pub const KNOWN: [&str; 3] = ["virtualsms", "smscode", "smsverificationservice"];

/// One configured provider.
#[derive(Clone)]
pub struct Member {
    pub backend: Arc<dyn Backend>,
    /// Units of the provider's currency per USD (1 for USD; `None`: unknown).
    pub per_usd: Option<f64>,
    /// The variable that sets `per_usd`, named when a conversion is missing.
    pub rate_variable: Option<&'static str>,
}

impl Member {
    pub fn usd(backend: Arc<dyn Backend>) -> Self {
        Self {
            backend,
            per_usd: Some(1.0),
            rate_variable: None,
        }
    }

    pub fn name(&self) -> &'static str {
        self.backend.provider()
    }

    /// The provider's name as people write it, for messages.
    pub fn display(&self) -> &'static str {
        match self.name() {
            "smscode" => "SMSCode",
            "smsverificationservice" => "smsVerificationService",
            _ => "VirtualSMS",
        }
    }

    pub fn currency(&self) -> &'static str {
        self.backend.currency()
    }

    /// `amount` of this provider's currency in USD, when the rate is known.
    pub fn to_usd(&self, amount: f64) -> Option<f64> {
        if self.currency() == "USD" {
            return Some(amount);
        }
        self.per_usd.filter(|r| *r > 0.0).map(|r| amount / r)
    }

    /// Like [`Self::to_usd`], or the refusal naming the rate's variable (for the USD limits).
    pub fn require_usd(&self, amount: f64) -> Result<f64, ApiError> {
        self.to_usd(amount).ok_or_else(|| {
            ApiError::rule(
                ErrorKind::Setup,
                format!(
                    "{} prices are in {}, and no exchange rate is set, so the price cannot be \
                     checked against this server's USD spending limits; nothing was bought. Set {} \
                     (units of {} per USD) and restart the server",
                    self.name(),
                    self.currency(),
                    self.rate_variable.unwrap_or("the provider's rate variable"),
                    self.currency()
                ),
            )
        })
    }

    /// The id a tool shows for this provider's raw order id.
    pub fn public_id(&self, raw: &str) -> String {
        if self.name() == DEFAULT_PROVIDER {
            raw.to_owned()
        } else {
            format!("{}:{raw}", self.name())
        }
    }
}

/// The configured providers, the first being the default.
#[derive(Clone)]
pub struct Providers {
    members: Vec<Member>,
}

impl Providers {
    /// `members` must not be empty; names must be unique.
    pub fn new(members: Vec<Member>) -> Self {
        assert!(!members.is_empty(), "at least one provider");
        Self { members }
    }

    pub fn single(backend: Arc<dyn Backend>) -> Self {
        Self::new(vec![Member::usd(backend)])
    }

    pub fn all(&self) -> &[Member] {
        &self.members
    }

    pub fn default_member(&self) -> &Member {
        &self.members[0]
    }

    pub fn is_multi(&self) -> bool {
        self.members.len() > 1
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.members.iter().map(Member::name).collect()
    }

    /// The member called `name` (case-insensitive), or an error listing the configured ones.
    pub fn named(&self, name: &str) -> Result<&Member, ApiError> {
        let wanted = name.trim().to_ascii_lowercase();
        self.members
            .iter()
            .find(|m| m.name() == wanted)
            .ok_or_else(|| {
                let configured = self.names().join(", ");
                let hint = if KNOWN.contains(&wanted.as_str()) {
                    " (it is not configured: see VIRTUALSMS_PROVIDERS and its key variable)"
                } else {
                    ""
                };
                ApiError::rule(
                    ErrorKind::Invalid,
                    format!(
                        "invalid argument `provider`: {name:?} is not a configured provider{hint}; \
                         configured: {configured}"
                    ),
                )
            })
    }

    /// The member `provider` names, or the default one.
    pub fn pick(&self, provider: Option<&str>) -> Result<&Member, ApiError> {
        match provider.map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => self.named(p),
            None => Ok(self.default_member()),
        }
    }

    /// The provider of a public order id and its raw id: `smscode:ord_1` → (smscode, `ord_1`);
    /// an id without a configured provider's prefix is the default provider's (VirtualSMS ids,
    /// including its own `rental:` ids, stay as they are).
    pub fn route<'a>(&self, order_id: &'a str) -> (&Member, &'a str) {
        if let Some((prefix, rest)) = order_id.split_once(':') {
            if let Some(m) = self
                .members
                .iter()
                .find(|m| m.name() != DEFAULT_PROVIDER && m.name() == prefix)
            {
                return (m, rest);
            }
        }
        (self.default_member(), order_id)
    }
}

/// The providers `config` names (`VIRTUALSMS_PROVIDERS`), VirtualSMS reading its key from
/// `key` (the slot an x402 top-up may fill). Sends nothing.
pub fn build(config: &Config, key: KeySlot) -> Result<Providers, ApiError> {
    let mut members = Vec::new();
    for name in &config.providers {
        members.push(match name.as_str() {
            DEFAULT_PROVIDER => Member::usd(crate::backends::build(config, key.clone())?),
            "smscode" => smscode(config)?,
            "smsverificationservice" => smsverificationservice(config)?,
            other => {
                return Err(ApiError::Setup(format!(
                    "provider {other:?} is not built into this server yet"
                )))
            }
        });
    }
    Ok(Providers::new(members))
}

/// smsVerificationService: its own key and base URL; prices in USD.
fn smsverificationservice(config: &Config) -> Result<Member, ApiError> {
    let settings = &config.smsverificationservice;
    let key = KeySlot::new(settings.api_key.clone());
    let backend = crate::backends::smsverificationservice::SmsVerificationService::new(
        &settings.base_url,
        key,
        config,
    )?;
    Ok(Member::usd(Arc::new(backend)))
}

/// SMSCode: its own token and base URL; prices in IDR, converted with `SMSCODE_IDR_PER_USD`.
fn smscode(config: &Config) -> Result<Member, ApiError> {
    let settings = config.smscode.clone().unwrap_or_else(|| SmsCodeSettings {
        token: None,
        base_url: SMSCODE_DEFAULT_BASE_URL.to_owned(),
        idr_per_usd: None,
        rate_limit_per_minute: SMSCODE_RATE_LIMIT,
    });
    let token = KeySlot::new(settings.token.clone());
    let backend = crate::backends::smscode::SmsCode::new(&settings.base_url, token, config)?;
    Ok(Member {
        backend: Arc::new(backend),
        per_usd: settings.idr_per_usd,
        rate_variable: Some(crate::config::env::SMSCODE_IDR_PER_USD),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::virtualsms_v2::V2;

    fn v2() -> Arc<dyn Backend> {
        let config = Config::from_lookup(|_| None).unwrap();
        Arc::new(V2::new("http://127.0.0.1:9/api/v2", KeySlot::default(), &config).unwrap())
    }

    #[test]
    fn ids_without_a_provider_prefix_belong_to_the_default_provider() {
        let p = Providers::single(v2());
        let (m, raw) = p.route("rental:rnt_1");
        assert_eq!((m.name(), raw), ("virtualsms", "rental:rnt_1"));
        let (m, raw) = p.route("smscode:ord_1");
        assert_eq!(
            (m.name(), raw),
            ("virtualsms", "smscode:ord_1"),
            "not configured"
        );
        assert_eq!(m.public_id("ord_9"), "ord_9");
    }

    #[test]
    fn an_unknown_provider_names_the_configured_ones() {
        let p = Providers::single(v2());
        let err = p
            .pick(Some("smscode"))
            .err()
            .expect("not configured")
            .to_string();
        assert!(
            err.contains("`provider`") && err.contains("configured: virtualsms"),
            "{err}"
        );
        assert!(err.contains("VIRTUALSMS_PROVIDERS"), "{err}");
        assert_eq!(p.pick(Some(" VirtualSMS ")).unwrap().name(), "virtualsms");
    }

    #[test]
    fn usd_prices_convert_as_they_are_and_others_need_a_rate() {
        let m = Member::usd(v2());
        assert_eq!(m.to_usd(2.5), Some(2.5));
    }
}
