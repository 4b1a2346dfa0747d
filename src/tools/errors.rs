//! The one way a failure becomes something a model can act on: a text-only tool result with
//! `isError: true` that says what happened (HTTP status, problem type, detail) and what to do
//! next. Every tool returns `Result<_, ToolError>`, so every failure goes through here.

use std::borrow::Cow;

use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};

use std::time::Duration;

use crate::backends::{ApiError, ErrorKind};
use crate::config::env;

/// Why a tool call did not produce its normal result.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A provider's failure, named (several providers may be configured).
    #[error("{provider}: {error}")]
    At {
        provider: &'static str,
        error: ApiError,
    },
    /// An argument is unusable; `field` names it.
    #[error("invalid argument `{field}`: {message}")]
    InvalidInput {
        field: Cow<'static, str>,
        message: String,
    },
    /// A spending rule refused the call before any money moved.
    #[error("{0}")]
    Refused(String),
    /// An x402 top-up that failed for another reason than a refusal (see
    /// [`crate::x402::TopUpError`]); the text says whether anything was signed and what next.
    #[error("{0}")]
    Payment(String),
    /// The client cancelled the call (it will not see this result).
    #[error("cancelled by the client")]
    Cancelled,
}

impl ToolError {
    pub fn invalid(field: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The API failure behind this error, if it is one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Self::Api(error) | Self::At { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The full text a model sees.
    pub fn for_model(&self) -> String {
        match self {
            Self::Api(e) => api_error_text(e, "VirtualSMS"),
            Self::At { provider, error } => api_error_text(error, provider),
            Self::InvalidInput { .. } => format!("{self}. Fix that argument and call again."),
            Self::Refused(reason) => format!("Refused, nothing was charged: {reason}"),
            Self::Payment(text) => text.clone(),
            Self::Cancelled => "Cancelled by the client.".to_owned(),
        }
    }
}

impl IntoCallToolResult for ToolError {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        tracing::info!(error = %self, "tool call failed");
        Ok(CallToolResult::error(vec![ContentBlock::text(self.for_model())]).into())
    }
}

const DISCOVERY_TOOLS: &str =
    "list_services, list_countries, find_cheapest, country_pricing and service_availability";

/// The model-facing text of `e`, which `who` (a provider's display name) answered.
fn api_error_text(e: &ApiError, who: &str) -> String {
    // The transport's phrases name VirtualSMS; another provider's failure names that provider.
    let text = api_error_text_of(e, who);
    if who == "VirtualSMS" {
        text
    } else {
        text.replace("the VirtualSMS API", &format!("the {who} API"))
    }
}

fn api_error_text_of(e: &ApiError, who: &str) -> String {
    match e {
        ApiError::MissingApiKey => format!(
            "No VirtualSMS API key is configured, so this tool cannot reach your account. \
             Next step: create a key at https://virtualsms.io/dashboard (Developer → API keys), \
             set it as {key} in this MCP server's environment (for Claude Code: \
             `claude mcp add virtualsms -e {key}=<your key> -- npx -y virtualsms-mcp`) and \
             restart the server. On REST v2, {DISCOVERY_TOOLS} work without a key; \
             `virtualsms-mcp --sandbox` simulates every tool without a key or money.",
            key = env::API_KEY
        ),
        ApiError::Rule { kind, .. } => {
            format!("{e}.\nNext step: {}", next_step(*kind, None, who))
        }
        ApiError::Status {
            problem, attempts, ..
        } => {
            let mut text = format!("{who} API error: {e}");
            if let Some(instance) = problem.as_ref().and_then(|p| p.instance.as_deref()) {
                text.push_str(&format!(" (at {instance})"));
            }
            if *attempts > 1 {
                text.push_str(&format!(" — after {attempts} attempts"));
            }
            text.push_str(".\nNext step: ");
            text.push_str(&next_step(e.kind(), e.retry_after(), who));
            text
        }
        ApiError::Transport { deduplicated, .. } => {
            let mut text = format!("{e}.\n");
            match e.kind() {
                ErrorKind::OutcomeUnknown => {
                    text.push_str("The outcome is UNKNOWN: the request may have been processed (and charged). ");
                    text.push_str(if *deduplicated {
                        "Every attempt carried the same idempotency key, so it took effect at \
                         most once. "
                    } else {
                        "It was sent once and not repeated (this API does not deduplicate \
                         requests). "
                    });
                    text.push_str(&next_step(ErrorKind::OutcomeUnknown, None, who));
                }
                kind => text.push_str(&format!("Next step: {}", next_step(kind, None, who))),
            }
            text
        }
        ApiError::Decode { .. } => format!(
            "{who} answered, but not with the JSON this tool expects: {e}. This is \
             usually a proxy error page or an API change. Next step: try again in a minute; if \
             it persists, check {} and https://status.virtualsms.io.",
            env::BASE_URL
        ),
        ApiError::BodyTooLarge { .. } => format!(
            "{who} sent an answer too large to read: {e}. Next step: ask for less (a \
             smaller `limit`, or a filter) and try again."
        ),
        ApiError::Unsendable(_) => format!(
            "{e}. Nothing was charged. Next step: check the arguments — an id or name may be \
             malformed or far too long."
        ),
        // Reported once, never retried: e.g. SSL_CERT_FILE names an empty or unreadable file
        // (the text names the variable and the fix; see src/tls.rs).
        ApiError::Setup(_) => format!(
            "This server is misconfigured, so nothing was sent and nothing was charged: {}. Next \
             step: fix that setting in this server's environment (the `env` of its entry in the \
             MCP client's configuration) and restart the server; retrying without that cannot \
             help.",
            e.to_string().trim_end_matches('.')
        ),
    }
}

/// The advice for each kind of failure, whatever the provider.
fn next_step(kind: ErrorKind, retry_after: Option<Duration>, who: &str) -> String {
    let virtualsms = who == "VirtualSMS";
    let s = match kind {
        ErrorKind::Invalid => "fix the arguments the detail names and call again.",
        ErrorKind::MissingKey | ErrorKind::Unauthorized if !virtualsms => {
            return format!(
                "the {who} key was missing or rejected. Check that provider's key variable \
                 (see `virtualsms-mcp --help`) and restart the server."
            )
        }
        ErrorKind::MissingKey | ErrorKind::Unauthorized => {
            return format!(
                "the API key was rejected. Check {} (create a fresh key at \
                 https://virtualsms.io/dashboard) and restart the server.",
                env::API_KEY
            )
        }
        ErrorKind::InsufficientBalance if !virtualsms => {
            return format!(
                "top up your {who} balance, or pick a cheaper country or provider \
                 (find_cheapest compares them)."
            )
        }
        ErrorKind::InsufficientBalance => {
            "top up at https://virtualsms.io/dashboard, or pick a cheaper country \
             (find_cheapest or service_availability list prices)."
        }
        ErrorKind::ServiceNotFound => "call list_services with a `query` to find the service id.",
        ErrorKind::CountryNotFound => "call list_countries to find the ISO code (e.g. `us`, `gb`).",
        ErrorKind::OrderNotFound => "call list_orders to see your orders and their ids.",
        ErrorKind::AlreadyConfirmed => {
            "the order is already confirmed and paid; there is nothing to swap or cancel."
        }
        ErrorKind::AlreadyReceived => {
            "an SMS already arrived for this order: read it with get_order or wait_for_sms, then \
             confirm_order."
        }
        ErrorKind::NoSmsYet => "no SMS has arrived yet: call wait_for_sms first.",
        ErrorKind::Conflict => "check the order's current status with get_order.",
        ErrorKind::Expired => "this order's window has passed; create a new one with create_order.",
        ErrorKind::TooEarly => {
            return match retry_after {
                Some(d) => format!(
                    "wait {} s, then call again (one call; no need to retry in a loop).",
                    d.as_secs().max(1)
                ),
                None => "wait the time given above, then call again (one call; no need to retry \
                         in a loop)."
                    .to_owned(),
            }
        }
        ErrorKind::RateLimited => {
            let wait = retry_after.map_or("a minute".to_owned(), |d| {
                format!("{} s", d.as_secs().max(1))
            });
            return format!(
                "{who} limits how many requests a key may send per minute; wait {wait} before \
                 calling again."
            );
        }
        ErrorKind::NoStock => {
            "no number is in stock there. Call service_availability for this service to find \
             a country with stock, or try again later."
        }
        ErrorKind::NotSupported => "use the tool or setting the message names instead.",
        ErrorKind::OutcomeUnknown => {
            "call list_orders (or get_order) to see whether it took effect before trying again — \
             do not blindly repeat it."
        }
        ErrorKind::Transient => {
            return format!(
                "{who} had a server-side or network problem. Try again in a minute; reads are \
                 safe to repeat."
            )
        }
        ErrorKind::Unreachable => {
            return format!(
                "nothing was sent, so nothing changed. Check the network and {} (now pointing \
                 at the VirtualSMS API), then try again.",
                env::BASE_URL
            )
        }
        ErrorKind::BadAnswer => "try again in a minute; if it persists, the API may have changed.",
        ErrorKind::Setup => "fix the setting and restart the server.",
        ErrorKind::Other => "check the arguments; if they are right, try again later.",
    };
    s.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::{Problem, TransportFailure};

    fn status(code: u16, slug: &str) -> ApiError {
        ApiError::Status {
            status: code,
            kind: crate::backends::virtualsms_v2::kind_of(code, Some(slug)),
            problem: Some(Box::new(Problem {
                type_uri: Some(format!("https://virtualsms.io/errors/{slug}")),
                title: Some("Title".into()),
                detail: Some("Detail".into()),
                instance: None,
            })),
            excerpt: None,
            retry_after: Some(Duration::from_secs(7)),
            attempts: 1,
        }
    }

    #[test]
    fn every_contract_row_gets_status_slug_and_a_next_step() {
        let rows = [
            (400, "validation", "fix the arguments"),
            (401, "unauthorized", "VIRTUALSMS_API_KEY"),
            (402, "insufficient-balance", "top up"),
            (404, "service-not-found", "list_services"),
            (404, "country-not-found", "list_countries"),
            (404, "order-not-found", "list_orders"),
            (409, "order-already-confirmed", "nothing to swap or cancel"),
            (410, "order-expired", "create_order"),
            (429, "rate-limited", "wait 7 s"),
            (503, "no-stock", "service_availability"),
        ];
        for (code, slug, advice) in rows {
            let text = ToolError::Api(status(code, slug)).for_model();
            assert!(text.contains(&format!("HTTP {code} {slug}")), "{text}");
            assert!(text.contains("Detail"), "{text}");
            assert!(text.contains(advice), "{slug}: {text}");
        }
    }

    #[test]
    fn unknown_outcome_tells_the_model_to_check_before_repeating() {
        let e = ApiError::Transport {
            failure: TransportFailure::Interrupted,
            detail: "connection closed".into(),
            attempts: 4,
            outcome_unknown: true,
            deduplicated: true,
        };
        let text = ToolError::Api(e).for_model();
        assert!(
            text.contains("UNKNOWN") && text.contains("list_orders"),
            "{text}"
        );
    }

    #[test]
    fn another_providers_failure_names_that_provider_not_virtualsms() {
        let text = ToolError::At {
            provider: "SMSCode",
            error: status(402, "insufficient-balance"),
        }
        .for_model();
        assert!(text.starts_with("SMSCode API error: HTTP 402"), "{text}");
        assert!(text.contains("top up your SMSCode balance"), "{text}");
        assert!(!text.contains("virtualsms.io"), "{text}");
        let lost = ToolError::At {
            provider: "smsVerificationService",
            error: ApiError::Transport {
                failure: TransportFailure::Timeout,
                detail: "timed out".into(),
                attempts: 1,
                outcome_unknown: false,
                deduplicated: false,
            },
        }
        .for_model();
        assert!(
            lost.contains("the smsVerificationService API did not answer"),
            "{lost}"
        );
        assert!(!lost.contains("VirtualSMS"), "{lost}");
    }
}
