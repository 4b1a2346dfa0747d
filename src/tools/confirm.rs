//! A person confirms spending: with `VIRTUALSMS_CONFIRM_ABOVE` set, a `create_order` or
//! `extend_rental` whose price is at or above it is shown to the person, and nothing is bought
//! unless they accept (issue 10 §1, ../shared/notes/rmcp-3.9.md).
//!
//! How the person is asked depends on the session:
//! - sessions that negotiated `initialize` (protocol ≤ 2025-11-25) and declared elicitation: an
//!   `elicitation/create` request while the tool call waits;
//! - 2026-07-28 sessions (rmcp refuses server-to-client requests there): the call returns an
//!   `input_required` result holding the same form, and the client retries the call with the
//!   person's answer. The question's price travels in `requestState`, sealed with a per-process
//!   key, so a stateless retry cannot change what was confirmed.
//! - a client that cannot ask: refused before any request, naming the setting.
//!
//! The gate runs in `call_tool` before the tool; the tool then reads the [`Ceiling`] for this
//! call ([`ceiling`]) and re-checks the price right before buying and the charged price after
//! (create_order cancels and refunds an order that came out dearer). So the price asked about is
//! the most that is paid, and a price that crossed the threshold since the quote is refused.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ElicitRequest, ElicitRequestParams, ElicitResult,
    ElicitationAction, ElicitationSchema, InputRequest, InputRequiredResult, ProtocolVersion,
};
use rmcp::service::{ElicitationMode, RequestContext};
use rmcp::RoleServer;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha3::{Digest, Keccak256};

use super::orders::{CreateOrderArgs, ExtendRentalArgs, OrderIdArgs, MAX_RENTAL_HOURS};
use super::{in_range, order_id, slug, ToolError, VirtualSmsServer};
use crate::config::env;
use crate::domain::NewOrder;

/// The key of the question in an `input_required` result and in the client's answer.
pub const INPUT_KEY: &str = "confirm_purchase";
/// How long an unanswered 2026-07-28 question stays valid.
const QUESTION_TTL: Duration = Duration::from_secs(15 * 60);

fn micros(usd: f64) -> i64 {
    (usd * 1_000_000.0).round() as i64
}

/// The most one spending call may cost, set by the gate for the tool that runs after it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ceiling {
    max_micros: i64,
    /// `Some(price)`: a person confirmed this price. `None`: the quote was under the threshold,
    /// and the price must stay under it (else the person has to be asked).
    confirmed: Option<f64>,
    threshold: f64,
}

tokio::task_local! {
    static CEILING: Option<Ceiling>;
}

/// Runs `call` (the tool) with `ceiling` visible to [`ceiling`].
pub(crate) async fn with_ceiling<F: Future>(ceiling: Option<Ceiling>, call: F) -> F::Output {
    CEILING.scope(ceiling, call).await
}

/// The ceiling the gate set for the running tool call, if any.
pub(crate) fn ceiling() -> Option<Ceiling> {
    CEILING.try_with(|c| *c).ok().flatten()
}

/// Refuses `price` when it is above the ceiling (nothing has been bought when this is called
/// before the order; create_order undoes the order when it fails after).
pub(crate) fn check(price: f64, ceiling: Option<Ceiling>) -> Result<(), ToolError> {
    let Some(c) = ceiling else { return Ok(()) };
    if micros(price) <= c.max_micros {
        return Ok(());
    }
    Err(ToolError::Refused(match c.confirmed {
        Some(confirmed) => format!(
            "the price is now ${price:.2}, above the ${confirmed:.2} the person confirmed. Call \
             again to ask them at the new price."
        ),
        None => format!(
            "the price rose to ${price:.2}, at or above ${:.2} ({}), so a person has to confirm \
             it. Call again to ask them.",
            c.threshold,
            env::CONFIRM_ABOVE
        ),
    }))
}

/// What the gate decided.
pub(crate) enum Gate {
    /// Run the tool, with this ceiling.
    Proceed(Option<Ceiling>),
    /// Answer this instead of running the tool (a refusal, a decline, or an input request).
    Respond(CallToolResponse),
}

impl From<ToolError> for Gate {
    fn from(e: ToolError) -> Self {
        match e.into_call_tool_result() {
            Ok(response) => Gate::Respond(response),
            // ToolError always converts; keep the call from running if that ever changes.
            Err(_) => Gate::Respond(CallToolResponse::Complete(
                rmcp::model::CallToolResult::error(vec![]),
            )),
        }
    }
}

/// The purchase a call would make, priced.
#[derive(Debug, Clone, PartialEq)]
struct Purchase {
    tool: &'static str,
    service: String,
    country: String,
    /// Rental hours (create_order) or hours added (extend_rental).
    hours: Option<u32>,
    order_id: Option<String>,
    price: f64,
}

impl Purchase {
    /// What the form and the messages call it.
    fn describe(&self) -> String {
        match (&self.order_id, self.hours) {
            (Some(id), Some(h)) => format!(
                "{h} more hours of rental {id} ({} number, {})",
                self.service,
                self.country.to_uppercase()
            ),
            (_, Some(h)) => format!(
                "a {} number in {} rented for {h} hours",
                self.service,
                self.country.to_uppercase()
            ),
            _ => format!(
                "a {} number in {}",
                self.service,
                self.country.to_uppercase()
            ),
        }
    }

    fn price_text(&self) -> String {
        format!("${:.2}", self.price)
    }

    /// The arguments the answer is bound to (tool and everything that sets the price).
    fn binding(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.tool,
            self.service,
            self.country,
            self.hours.unwrap_or(0),
            self.order_id.as_deref().unwrap_or("")
        )
    }

    fn form(&self) -> ElicitRequestParams {
        let fixed = |title: &str, value: String| json!({"type": "string", "title": title, "enum": [value.clone()], "default": value});
        let mut properties = serde_json::Map::new();
        properties.insert("service".into(), fixed("Service", self.service.clone()));
        properties.insert("country".into(), fixed("Country", self.country.clone()));
        properties.insert("price".into(), fixed("Price (USD)", self.price_text()));
        if let Some(h) = self.hours {
            let title = if self.order_id.is_some() {
                "Hours added"
            } else {
                "Rental hours"
            };
            properties.insert("hours".into(), fixed(title, h.to_string()));
        }
        let required: Vec<String> = properties.keys().cloned().collect();
        let schema = json!({"type": "object", "properties": properties, "required": required});
        let Value::Object(schema) = schema else {
            unreachable!("json! object")
        };
        let requested_schema = ElicitationSchema::from_json_schema(schema)
            .expect("the confirmation form is a valid elicitation schema");
        ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: format!(
                "Buy {} for {}? This charges your VirtualSMS balance. Accept to buy, decline to \
                 buy nothing.",
                self.describe(),
                self.price_text()
            ),
            requested_schema,
        }
    }

    fn declined(&self, how: &str) -> ToolError {
        ToolError::Refused(format!(
            "the person {how} buying {} for {}. Do not try again unless they ask for it.",
            self.describe(),
            self.price_text()
        ))
    }

    /// The person's answer: `Ok(())` to buy.
    fn answer(&self, result: &ElicitResult) -> Result<(), ToolError> {
        match result.action {
            ElicitationAction::Accept => {
                // The form's fields are fixed; an answer naming another price is not a yes to
                // this one.
                let echoed = result
                    .content
                    .as_ref()
                    .and_then(|c| c.get("price"))
                    .and_then(Value::as_str);
                match echoed {
                    Some(p) if p != self.price_text() => Err(ToolError::Refused(format!(
                        "the confirmation named the price {p}, but the price is {}. Nothing was \
                         bought; call again to ask at the current price.",
                        self.price_text()
                    ))),
                    _ => Ok(()),
                }
            }
            ElicitationAction::Decline => Err(self.declined("declined")),
            ElicitationAction::Cancel => Err(self.declined("cancelled")),
            // A future answer kind is not a yes.
            _ => Err(self.declined("did not accept")),
        }
    }
}

/// Decides whether `request` may run now: the tool is not a purchase, the price is under the
/// threshold, or a person accepted. See the module doc.
pub(crate) async fn gate(
    server: &VirtualSmsServer,
    request: &CallToolRequestParams,
    context: &RequestContext<RoleServer>,
) -> Gate {
    let Some(threshold) = server.state.config.confirm_above else {
        return Gate::Proceed(None);
    };
    if !matches!(request.name.as_ref(), "create_order" | "extend_rental")
        || !server.tool_router.has_route(&request.name)
    {
        return Gate::Proceed(None);
    }
    let modern = context
        .protocol_version()
        .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
    let can_ask = if modern {
        request.input_responses.is_some()
            || context
                .client_capabilities()
                .is_some_and(|c| c.elicitation.is_some())
    } else {
        context
            .peer
            .supported_elicitation_modes()
            .contains(&ElicitationMode::Form)
    };
    if !can_ask && threshold <= 0.0 {
        // Every purchase needs a yes this client cannot get: refuse before any request.
        return cannot_ask(None, threshold).into();
    }
    let purchase = match price(server, request).await {
        Ok(p) => p,
        Err(e) => return e.into(),
    };
    if micros(purchase.price) < micros(threshold) {
        // Under the threshold now; it must still be under it when bought.
        return Gate::Proceed(Some(Ceiling {
            max_micros: micros(threshold) - 1,
            confirmed: None,
            threshold,
        }));
    }
    let confirmed = Some(Ceiling {
        max_micros: micros(purchase.price),
        confirmed: Some(purchase.price),
        threshold,
    });
    if !can_ask {
        return cannot_ask(Some(&purchase), threshold).into();
    }
    if modern {
        if let Some(answer) = answered(request, &purchase) {
            return match purchase.answer(&answer) {
                Ok(()) => Gate::Proceed(confirmed),
                Err(e) => e.into(),
            };
        }
        let requests = BTreeMap::from([(
            INPUT_KEY.to_owned(),
            InputRequest::Elicitation(ElicitRequest::new(purchase.form())),
        )]);
        return Gate::Respond(CallToolResponse::InputRequired(InputRequiredResult::new(
            Some(requests),
            Some(seal(&purchase)),
        )));
    }
    tracing::info!(
        tool = purchase.tool,
        price = purchase.price,
        "asking the person to confirm a purchase"
    );
    let asked = tokio::select! {
        _ = context.ct.cancelled() => return ToolError::Cancelled.into(),
        asked = context.peer.create_elicitation(purchase.form()) => asked,
    };
    match asked {
        Ok(answer) => match purchase.answer(&answer) {
            Ok(()) => Gate::Proceed(confirmed),
            Err(e) => e.into(),
        },
        Err(e) => ToolError::Refused(format!(
            "asking the person to confirm {} for {} failed ({e}), so nothing was bought. Try \
             again, or ask the user directly.",
            purchase.describe(),
            purchase.price_text()
        ))
        .into(),
    }
}

fn cannot_ask(purchase: Option<&Purchase>, threshold: f64) -> ToolError {
    let what = match purchase {
        Some(p) => format!("{} costs {}, and this", p.describe(), p.price_text()),
        None => "This".to_owned(),
    };
    ToolError::Refused(format!(
        "{what} server asks a person before any purchase of ${threshold:.2} or more ({}), but \
         this MCP client cannot ask (it did not declare elicitation). Use a client that supports \
         elicitation, or ask the user to raise or unset {}.",
        env::CONFIRM_ABOVE,
        env::CONFIRM_ABOVE
    ))
}

/// Validates the arguments as the tool will, and prices the purchase with the same quote the
/// spending guard uses. Fails closed: arguments the tool would accept are never let through
/// unpriced.
async fn price(
    server: &VirtualSmsServer,
    request: &CallToolRequestParams,
) -> Result<Purchase, ToolError> {
    let args = Value::Object(request.arguments.clone().unwrap_or_default());
    let bad = |e: serde_json::Error| ToolError::invalid("arguments", e.to_string());
    if request.name == "create_order" {
        let args: CreateOrderArgs = serde_json::from_value(args).map_err(bad)?;
        let service = slug("service", &args.service)?;
        let country = slug("country", &args.country)?;
        let hours = args
            .rental_hours
            .map(|h| in_range("rental_hours", h, 1, MAX_RENTAL_HOURS))
            .transpose()?;
        let request = NewOrder {
            service: &service,
            country: &country,
            rental_hours: hours,
        };
        let (member, _) = server
            .seller(
                &service,
                &country,
                hours.is_some(),
                args.provider.as_deref(),
            )
            .await?;
        let price = member.require_usd(member.backend.quote(&request).await?)?;
        return Ok(Purchase {
            tool: "create_order",
            service,
            country,
            hours,
            order_id: None,
            price,
        });
    }
    let args: ExtendRentalArgs = serde_json::from_value(args).map_err(bad)?;
    let id = order_id(&args.order_id)?;
    let hours = in_range("hours", args.hours, 1, MAX_RENTAL_HOURS)?;
    let rental = server
        .get_order(Parameters(OrderIdArgs {
            order_id: id.clone(),
        }))
        .await?
        .0;
    // Shown to the person; a v1 rental does not say its country.
    let service = rental.service.unwrap_or_else(|| "?".to_owned());
    let country = rental.country.unwrap_or_else(|| "?".to_owned());
    let (member, raw) = server.route(&id);
    let price = member.require_usd(member.backend.quote_extension(raw, hours).await?)?;
    Ok(Purchase {
        tool: "extend_rental",
        service,
        country,
        hours: Some(hours),
        order_id: Some(id),
        price,
    })
}

// --- 2026-07-28: the question's state, sealed -----------------------------------------------

#[derive(Serialize, Deserialize)]
struct Sealed {
    /// [`Purchase::binding`] of the call asked about.
    b: String,
    /// The price asked about, in micro-dollars.
    p: i64,
    /// Valid until (Unix seconds).
    e: u64,
}

/// A per-process secret: a sealed state is only good for the process that asked.
fn secret() -> &'static [u8; 32] {
    static SECRET: OnceLock<[u8; 32]> = OnceLock::new();
    SECRET.get_or_init(|| {
        let mut key = [0u8; 32];
        if getrandom::fill(&mut key).is_err() {
            // No OS randomness: fall back to something unguessable enough for a local process.
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos();
            key = Keccak256::digest(format!("{nanos}:{}", std::process::id())).into();
        }
        key
    })
}

fn mac(payload: &[u8]) -> String {
    // Keccak is not open to length extension, so H(key ‖ payload) is a sound MAC.
    let mut h = Keccak256::new();
    h.update(secret());
    h.update(payload);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn seal(purchase: &Purchase) -> String {
    let payload = serde_json::to_vec(&Sealed {
        b: purchase.binding(),
        p: micros(purchase.price),
        e: now() + QUESTION_TTL.as_secs(),
    })
    .expect("serializable");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&payload);
    format!("{b64}.{}", mac(&payload))
}

/// The price a valid sealed state was asked about, if it was for this very purchase.
fn unseal(state: &str, purchase: &Purchase) -> Option<i64> {
    let (b64, tag) = state.split_once('.')?;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64)
        .ok()?;
    if mac(&payload) != tag {
        return None;
    }
    let sealed: Sealed = serde_json::from_slice(&payload).ok()?;
    (sealed.b == purchase.binding() && sealed.e >= now()).then_some(sealed.p)
}

/// The person's answer on a 2026-07-28 retry, when it answers the question asked about this
/// purchase at this price. Anything else (no answer, a stale or foreign state, a price that
/// moved since) gets the question asked again.
fn answered(request: &CallToolRequestParams, purchase: &Purchase) -> Option<ElicitResult> {
    let asked = unseal(request.request_state.as_deref()?, purchase)?;
    if asked != micros(purchase.price) {
        return None;
    }
    let answer = request.input_responses.as_ref()?.get(INPUT_KEY)?;
    serde_json::from_value(answer.clone()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purchase(price: f64) -> Purchase {
        Purchase {
            tool: "create_order",
            service: "telegram".into(),
            country: "us".into(),
            hours: None,
            order_id: None,
            price,
        }
    }

    #[test]
    fn a_sealed_state_opens_only_for_the_same_purchase_untampered() {
        let p = purchase(0.25);
        let state = seal(&p);
        assert_eq!(unseal(&state, &p), Some(250_000));
        let mut other = p.clone();
        other.country = "gb".into();
        assert_eq!(unseal(&state, &other), None, "bound to the arguments");
        let (b64, tag) = state.split_once('.').unwrap();
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Sealed {
                b: p.binding(),
                p: 1,
                e: now() + 60,
            })
            .unwrap(),
        );
        assert_eq!(unseal(&format!("{forged}.{tag}"), &p), None, "MAC checked");
        assert!(unseal(&format!("{b64}.00"), &p).is_none());
    }

    #[test]
    fn the_form_shows_service_country_price_and_hours() {
        let mut p = purchase(1.5);
        p.hours = Some(24);
        p.order_id = Some("ord_1".into());
        let ElicitRequestParams::FormElicitationParams {
            message,
            requested_schema,
            ..
        } = p.form()
        else {
            panic!("a form")
        };
        assert!(
            message.contains("$1.50") && message.contains("ord_1"),
            "{message}"
        );
        let schema = serde_json::to_value(&requested_schema).unwrap();
        for field in ["service", "country", "price", "hours"] {
            assert!(schema["properties"][field].is_object(), "{schema}");
        }
        assert_eq!(schema["properties"]["price"]["default"], "$1.50");
    }

    #[test]
    fn the_ceiling_refuses_a_higher_price_and_says_why() {
        let confirmed = Some(Ceiling {
            max_micros: micros(0.25),
            confirmed: Some(0.25),
            threshold: 0.1,
        });
        assert!(check(0.25, confirmed).is_ok());
        let text = check(0.26, confirmed).unwrap_err().for_model();
        assert!(text.contains("$0.25 the person confirmed"), "{text}");
        let under = Some(Ceiling {
            max_micros: micros(1.0) - 1,
            confirmed: None,
            threshold: 1.0,
        });
        assert!(check(0.99, under).is_ok());
        let text = check(1.0, under).unwrap_err().for_model();
        assert!(text.contains(env::CONFIRM_ABOVE), "{text}");
    }
}
