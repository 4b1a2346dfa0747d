//! MCP prompts (slash commands in most clients): ready-made requests that walk the model through
//! a task with the real tool names. Each is listed only when the tools it needs are offered
//! (`--tools`, read-only mode), and `no_sms_arrived` embeds the order's current state, read
//! through the `get_order` tool method.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    GetPromptRequestParams, GetPromptResult, JsonObject, Prompt, PromptArgument, PromptMessage,
    Role,
};
use rmcp::ErrorData;
use serde_json::Value;

use super::orders::OrderIdArgs;
use super::{opt_slug, order_id, slug, VirtualSmsServer};

/// One prompt: its name, what it is for, its arguments (`name`, description, required), and the
/// tools its messages use (it is listed only when they are all offered).
struct Spec {
    name: &'static str,
    title: &'static str,
    description: &'static str,
    arguments: &'static [(&'static str, &'static str, bool)],
    needs: &'static [&'static str],
}

const PROMPTS: &[Spec] = &[
    Spec {
        name: "verify_account",
        title: "Verify an account with a rented number",
        description: "Buy the cheapest number for a service, receive the verification code, and \
                      confirm or get a refund: end to end.",
        arguments: &[
            ("service", "Service slug, e.g. telegram or whatsapp.", true),
            (
                "country",
                "Country ISO code, e.g. us; the cheapest country when omitted.",
                false,
            ),
        ],
        needs: &["find_cheapest", "create_order", "wait_for_sms"],
    },
    Spec {
        name: "cheapest_number",
        title: "Find the cheapest number",
        description: "Compare prices and stock for a service across countries, without buying.",
        arguments: &[("service", "Service slug, e.g. telegram.", true)],
        needs: &["find_cheapest", "service_availability"],
    },
    Spec {
        name: "no_sms_arrived",
        title: "No SMS arrived: what now?",
        description: "An order got no code: check it, wait a little more, swap the number for \
                      free, or cancel for a full refund.",
        arguments: &[(
            "order_id",
            "The order_id of the order that is waiting.",
            true,
        )],
        needs: &["get_order"],
    },
    Spec {
        name: "account_status",
        title: "Account status",
        description: "Balance, recent orders and spending at a glance.",
        arguments: &[(
            "recent",
            "How many recent orders to review (1-50, default 5).",
            false,
        )],
        needs: &["get_balance", "list_orders"],
    },
];

impl Spec {
    fn prompt(&self) -> Prompt {
        let arguments = self
            .arguments
            .iter()
            .map(|(name, description, required)| {
                PromptArgument::new(*name)
                    .with_description(*description)
                    .with_required(*required)
            })
            .collect();
        Prompt::new(self.name, Some(self.description), Some(arguments)).with_title(self.title)
    }
}

/// The names of a prompt's arguments (for completion).
pub(crate) fn argument_names(prompt: &str) -> Vec<&'static str> {
    PROMPTS
        .iter()
        .find(|p| p.name == prompt)
        .map(|p| p.arguments.iter().map(|(n, _, _)| *n).collect())
        .unwrap_or_default()
}

fn text_arg<'a>(args: &'a Option<JsonObject>, name: &str) -> Option<&'a str> {
    args.as_ref()?
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn bad(e: super::ToolError) -> ErrorData {
    ErrorData::invalid_params(e.to_string(), None)
}

fn required<'a>(
    args: &'a Option<JsonObject>,
    prompt: &str,
    name: &str,
) -> Result<&'a str, ErrorData> {
    text_arg(args, name).ok_or_else(|| {
        ErrorData::invalid_params(format!("prompt {prompt} needs the argument `{name}`"), None)
    })
}

impl VirtualSmsServer {
    fn offers(&self, spec: &Spec) -> bool {
        spec.needs.iter().all(|t| self.tool_router.has_route(t))
    }

    /// `prompts/list`.
    pub(crate) fn prompt_list(&self) -> Vec<Prompt> {
        PROMPTS
            .iter()
            .filter(|s| self.offers(s))
            .map(Spec::prompt)
            .collect()
    }

    /// `prompts/get`.
    pub(crate) async fn prompt_get(
        &self,
        request: GetPromptRequestParams,
    ) -> Result<GetPromptResult, ErrorData> {
        let spec = PROMPTS
            .iter()
            .find(|s| s.name == request.name && self.offers(s))
            .ok_or_else(|| {
                ErrorData::invalid_params(
                    format!("unknown prompt {:?}; prompts/list lists them", request.name),
                    None,
                )
            })?;
        let args = &request.arguments;
        let mut messages = Vec::new();
        let text = match spec.name {
            "verify_account" => {
                let service =
                    slug("service", required(args, spec.name, "service")?).map_err(bad)?;
                let country = opt_slug("country", text_arg(args, "country")).map_err(bad)?;
                let find = match &country {
                    Some(c) => {
                        format!("find_cheapest with service \"{service}\" and country \"{c}\"")
                    }
                    None => format!("find_cheapest with service \"{service}\""),
                };
                format!(
                    "Help me verify an account on {service} with a VirtualSMS number.\n\
                     1. Call {find}, and tell me the country and price before buying.\n\
                     2. Call create_order with that service and country (set max_price to the \
                     price you showed me). Give me the phone_number to enter on {service}.\n\
                     3. When I say the code was sent, call wait_for_sms with the order_id. It \
                     returns as soon as the SMS arrives; tell me the code.\n\
                     4. If I say the code worked, call confirm_order. If no SMS arrives in a few \
                     minutes, call swap_order for a new number (free), or cancel_order for a \
                     full refund.\n\
                     Never buy a second number without asking me first."
                )
            }
            "cheapest_number" => {
                let service =
                    slug("service", required(args, spec.name, "service")?).map_err(bad)?;
                format!(
                    "Find the cheapest VirtualSMS number for {service}, without buying anything.\n\
                     Call find_cheapest with service \"{service}\", then service_availability \
                     with service \"{service}\" to compare countries. Show me the 5 cheapest \
                     countries with price and stock in a table, and recommend one with enough \
                     stock. If the slug is unknown, call list_services with query \"{service}\" \
                     and ask me which one I meant."
                )
            }
            "no_sms_arrived" => {
                let id = order_id(required(args, spec.name, "order_id")?).map_err(bad)?;
                // The order's state now, when it can be read (read through the tool method, so
                // the same rules apply as for the model).
                if let Ok(order) = self
                    .get_order(Parameters(OrderIdArgs {
                        order_id: id.clone(),
                    }))
                    .await
                {
                    let json = serde_json::to_string_pretty(&order.0).unwrap_or_default();
                    messages.push(PromptMessage::new_resource(
                        Role::User,
                        super::resources::order_uri(&id),
                        Some("application/json".to_owned()),
                        Some(json),
                        None,
                        None,
                        None,
                    ));
                }
                format!(
                    "Order {id} has not received its SMS. Work out what to do:\n\
                     1. Call get_order with order_id \"{id}\" and look at status, expires_at and \
                     messages (the current state may be attached above).\n\
                     2. If it is still waiting and not expired, make sure the number was entered \
                     on the site and a code was requested, then call wait_for_sms with order_id \
                     \"{id}\" once more (timeout_seconds 120).\n\
                     3. Still nothing: call swap_order with order_id \"{id}\" for a new number \
                     (free) and have me enter it, or cancel_order with order_id \"{id}\" for a \
                     full refund. Do not cancel once an SMS has arrived.\n\
                     Tell me what you found and what you did."
                )
            }
            _ => {
                let recent = match text_arg(args, "recent") {
                    None => 5,
                    Some(v) => v
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..=50).contains(n))
                        .ok_or_else(|| {
                            ErrorData::invalid_params(
                                format!("argument `recent` must be a whole number 1-50, got {v:?}"),
                                None,
                            )
                        })?,
                };
                format!(
                    "Give me a short status of my VirtualSMS account.\n\
                     Call get_balance, then list_orders with limit {recent}. Show the balance, \
                     then the recent orders in a table (order_id, service, country, status, \
                     price). Point out orders still waiting for an SMS (wait_for_sms or \
                     cancel_order them) and rentals about to expire (extend_rental). Do not buy, \
                     cancel or extend anything without asking me."
                )
            }
        };
        messages.push(PromptMessage::new_text(Role::User, text));
        Ok(GetPromptResult::new(messages).with_description(spec.description))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolsets::all_tools;

    #[test]
    fn every_prompt_has_arguments_and_needs_real_tools() {
        assert!(PROMPTS.len() >= 4);
        let tools: Vec<&str> = all_tools().collect();
        for p in PROMPTS {
            assert!(!p.arguments.is_empty(), "{} has no arguments", p.name);
            for t in p.needs {
                assert!(tools.contains(t), "{} needs unknown tool {t}", p.name);
            }
        }
    }
}
