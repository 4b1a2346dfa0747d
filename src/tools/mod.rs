//! The MCP surface: the 18 VirtualSMS tools, the only code that knows rmcp.
//!
//! One file per tool group, each with its own `#[tool_router]`:
//! [`catalog`] (5 discovery tools), [`account`] (4), [`orders`] (8), [`wait`] (wait_for_sms),
//! and [`topup`] (topup_balance: a 19th tool, only when a wallet is configured).
//! Each tool validates its input, calls the [`Backend`] (which speaks whichever API is
//! configured), and returns the domain types as structured output, or a [`ToolError`] that
//! [`errors`] turns into model-facing text. No tool knows a URL, a status code or a provider.
//! Around them: [`confirm`] (a person confirms dearer purchases), [`prompts`], and
//! [`resources`] (resources and argument completion). [`lean`] trims the schemas `tools/list` sends.

pub mod account;
mod across;
mod arguments;
pub mod catalog;
pub mod confirm;
pub mod errors;
pub mod guard;
pub mod lean;
pub mod orders;
pub mod prompts;
pub mod resources;
pub mod topup;
pub mod wait;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ContentBlock, Implementation, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{tool_handler, RoleServer, ServerHandler};

use crate::backends::{Backend, Capabilities};
use crate::config::Config;
use crate::domain::Order;
use crate::providers::{Member, Providers};
use crate::transport::KeySlot;

pub use errors::ToolError;

/// Shown to the model at `initialize`: the recommended flow in a few lines.
const INSTRUCTIONS: &str = "\
VirtualSMS rents real-SIM phone numbers and receives SMS verification codes.
Recommended flow: find_cheapest(service, country?) → create_order(service, country, max_price?) → \
enter the returned phone_number on the target site → wait_for_sms(order_id) → confirm_order(order_id).
- No SMS in time? swap_order gives a new number for free; cancel_order refunds in full before an SMS arrives.
- Services by name or id (`telegram`, or the id list_services shows); countries by ISO code (`us`).
- Rentals: create_order with rental_hours, then extend_rental / release_rental.
- Amounts are USD unless a `currency` field says otherwise; times are RFC 3339; phone numbers E.164.
- Errors are tool results that say what happened and the next step; read them.";

const SANDBOX_INSTRUCTIONS: &str = "\n\nSANDBOX MODE: everything is simulated. Numbers cannot \
receive real SMS, no money moves, and codes are made up.";

/// Appended to every tool result in sandbox mode, so nobody mistakes a simulated number for a
/// real one.
pub const SANDBOX_NOTICE: &str =
    "[sandbox] Simulated result: not a real phone number, no real SMS, no money spent.";

/// State shared by all tool calls of one server.
pub struct ServerState {
    /// The configured providers; the first is the default.
    pub providers: Providers,
    /// The API key the default provider sends (an x402 top-up may fill it).
    pub key: KeySlot,
    pub config: Config,
    pub budget: guard::Budget,
    /// The last SMS id wait_for_sms returned per order, so the next wait returns only newer ones.
    pub last_sms: Mutex<HashMap<String, String>>,
    /// Pays x402 top-ups; `Some` only when a wallet is configured.
    pub topup: Option<crate::x402::Funder>,
}

impl ServerState {
    /// The default provider's backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.providers.default_member().backend
    }
}

#[derive(Clone)]
pub struct VirtualSmsServer {
    tool_router: ToolRouter<Self>,
    state: Arc<ServerState>,
}

/// Which provider capability a tool needs; a tool no configured provider can serve is not listed.
fn needs(tool: &str) -> Option<fn(&Capabilities) -> bool> {
    Some(match tool {
        "extend_rental" | "release_rental" => |c| c.rentals,
        "swap_order" => |c| c.swap,
        "list_transactions" => |c| c.ledger,
        "get_profile" | "get_stats" => |c| c.profile,
        _ => return None,
    })
}

impl VirtualSmsServer {
    /// A server over `providers`; `key` is the slot the default provider reads its key from (an
    /// x402 top-up may fill it).
    pub fn new(providers: Providers, key: KeySlot, config: Config) -> Self {
        let tool_router = Self::router(&config, &providers);
        let state = ServerState {
            budget: guard::Budget::new(&config.guard),
            last_sms: Mutex::default(),
            topup: crate::x402::Funder::new(key.clone(), &config),
            key,
            providers,
            config,
        };
        Self {
            tool_router,
            state: Arc::new(state),
        }
    }

    /// The tools this configuration offers: what some provider can serve, the `--tools`
    /// selection, and nothing that writes in read-only mode.
    fn router(config: &Config, providers: &Providers) -> ToolRouter<Self> {
        let mut tool_router = Self::catalog_router()
            + Self::account_router()
            + Self::orders_router()
            + Self::wait_router();
        if config.x402.has_wallet() {
            // Not annotated read-only, so the read-only filter below removes it too.
            tool_router += Self::topup_router();
        }
        let served = |tool: &str| {
            needs(tool).is_none_or(|need| {
                providers
                    .all()
                    .iter()
                    .any(|m| need(&m.backend.capabilities()))
            })
        };
        remove_where(&mut tool_router, |t| !served(&t.name));
        // --tools / --exclude-tools (crate::toolsets); read-only below still removes writers.
        remove_where(&mut tool_router, |t| !config.tools.keeps(&t.name));
        if config.guard.read_only {
            // Read-only means every tool that is not annotated read-only is gone: not listed,
            // and an unknown tool if called anyway.
            remove_where(&mut tool_router, |t| {
                t.annotations.as_ref().and_then(|a| a.read_only_hint) != Some(true)
            });
        }
        // The display name goes in the top-level `title` too (MCP 2025-06-18+ clients read that
        // first); older clients, and Claude Code, read `annotations.title`.
        let one_provider = !providers.is_multi();
        for route in tool_router.map.values_mut() {
            // A lean tools/list (lean.rs): every byte of it sits in the model's context.
            let mut input = lean::input(&route.attr.input_schema);
            let mut output = route.attr.output_schema.as_deref().map(lean::output);
            if one_provider {
                lean::one_provider(&route.attr.name, &mut input, output.as_mut());
            }
            route.attr.input_schema = Arc::new(input);
            route.attr.output_schema = output.map(Arc::new);
            if route.attr.title.is_none() {
                route.attr.title = route
                    .attr
                    .annotations
                    .as_ref()
                    .and_then(|a| a.title.clone());
            }
        }
        tool_router
    }

    /// The provider of a public order id, its raw id.
    pub(crate) fn route<'a>(&self, order_id: &'a str) -> (&Member, &'a str) {
        self.state.providers.route(order_id)
    }

    /// Every tool this server offers, as `tools/list` shows them.
    pub fn tools(&self) -> Vec<rmcp::model::Tool> {
        self.tool_router.list_all()
    }

    pub fn state(&self) -> &ServerState {
        &self.state
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for VirtualSmsServer {
    fn get_info(&self) -> ServerConfig {
        let mut instructions = INSTRUCTIONS.to_owned();
        if self.tool_router.has_route("topup_balance") {
            instructions.push_str(topup::INSTRUCTIONS);
        }
        if self.state.config.sandbox {
            instructions.push_str(SANDBOX_INSTRUCTIONS);
        }
        let capabilities = ServerCapabilities::builder()
            .enable_completions()
            .enable_prompts()
            .enable_resources()
            .enable_tools()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(
                Implementation::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
                    .with_title("VirtualSMS")
                    .with_icons(crate::icon::icons()),
            )
            .with_instructions(instructions)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, rmcp::ErrorData> {
        let name = request.name.clone();
        let started = std::time::Instant::now();
        let mismatch = self.tool_router.get(&name).and_then(|tool| {
            let arguments = request.arguments.as_ref()?;
            arguments::type_mismatch(&tool.input_schema, arguments)
        });
        let mut response = match mismatch {
            Some(error) => error.into_call_tool_result(),
            // VIRTUALSMS_CONFIRM_ABOVE: a person confirms dearer purchases first (confirm.rs).
            None => match confirm::gate(self, &request, &context).await {
                confirm::Gate::Respond(response) => Ok(response),
                confirm::Gate::Proceed(ceiling) => {
                    let call = self
                        .tool_router
                        .call(ToolCallContext::new(self, request, context));
                    confirm::with_ceiling(ceiling, call).await
                }
            },
        };
        tracing::info!(tool = %name, ms = started.elapsed().as_millis() as u64, "tool call done");
        if self.state.config.sandbox {
            if let Ok(CallToolResponse::Complete(result)) = &mut response {
                result.content.push(ContentBlock::text(SANDBOX_NOTICE));
            }
        }
        response
    }

    /// A known MCP method whose params did not parse (e.g. `tools/call` with `arguments: []`)
    /// reaches here as a "custom" request: answer invalid params, naming the expected shape,
    /// rather than "method not found".
    async fn on_custom_request(
        &self,
        request: rmcp::model::CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CustomResult, rmcp::ErrorData> {
        let method = request.method;
        let shape = match method.as_str() {
            "tools/call" => "params must be {\"name\": string, \"arguments\": object (optional)}",
            "tools/list"
            | "initialize"
            | "ping"
            | "server/discover"
            | "logging/setLevel"
            | "prompts/get"
            | "resources/read"
            | "completion/complete" => "its params are malformed",
            _ => {
                return Err(rmcp::ErrorData::new(
                    rmcp::model::ErrorCode::METHOD_NOT_FOUND,
                    method,
                    None,
                ))
            }
        };
        Err(rmcp::ErrorData::invalid_params(
            format!("{method}: {shape}"),
            None,
        ))
    }

    /// The tools. No caching hints of its own: for a 2026-07-28 peer rmcp fills in `ttlMs: 0`
    /// and `cacheScope: private`, which is right here, because what is listed depends on the
    /// caller (over HTTP a request without a key sees only the discovery tools). The list
    /// `#[tool_handler]` would write says `public`.
    async fn list_tools(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListToolsResult, rmcp::ErrorData> {
        Ok(rmcp::model::ListToolsResult::with_all_items(self.tools()))
    }

    async fn list_prompts(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListPromptsResult, rmcp::ErrorData> {
        Ok(rmcp::model::ListPromptsResult::with_all_items(
            self.prompt_list(),
        ))
    }

    async fn get_prompt(
        &self,
        request: rmcp::model::GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetPromptResponse, rmcp::ErrorData> {
        self.prompt_get(request).await.map(Into::into)
    }

    async fn list_resources(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourcesResult, rmcp::ErrorData> {
        Ok(self.resource_list())
    }

    async fn list_resource_templates(
        &self,
        _request: Option<rmcp::model::PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ListResourceTemplatesResult, rmcp::ErrorData> {
        Ok(self.resource_templates())
    }

    async fn read_resource(
        &self,
        request: rmcp::model::ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::ReadResourceResponse, rmcp::ErrorData> {
        self.resource_read(request).await.map(Into::into)
    }

    async fn complete(
        &self,
        request: rmcp::model::CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::CompleteResult, rmcp::ErrorData> {
        self.complete_argument(request).await
    }

    /// Logging notifications are deprecated in MCP; accept `logging/setLevel` as a no-op so
    /// clients that still send it get no error.
    #[allow(deprecated)]
    async fn set_level(
        &self,
        _request: rmcp::model::SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), rmcp::ErrorData> {
        Ok(())
    }
}

/// A provider's failure, named in what the model reads.
pub(crate) trait At<T> {
    fn at(self, member: &Member) -> Result<T, ToolError>;
}

impl<T> At<T> for Result<T, crate::backends::ApiError> {
    fn at(self, member: &Member) -> Result<T, ToolError> {
        self.map_err(|error| ToolError::At {
            provider: member.display(),
            error,
        })
    }
}

/// Removes every route whose tool matches `drop`.
fn remove_where(
    router: &mut ToolRouter<VirtualSmsServer>,
    drop: impl Fn(&rmcp::model::Tool) -> bool,
) {
    let names: Vec<String> = router
        .list_all()
        .into_iter()
        .filter(|t| drop(t))
        .map(|t| t.name.into_owned())
        .collect();
    for name in names {
        router.remove_route(&name);
    }
}

/// An order as the tools show it: its public id (`<provider>:<id>` but for VirtualSMS) and its
/// provider.
pub(crate) fn public_order(member: &Member, mut order: Order) -> Order {
    order.order_id = member.public_id(&order.order_id);
    order.provider = Some(member.name().to_owned());
    order
}

/// Slugs (`service`, `country`) are trimmed and lower-cased; empty is refused by name.
pub(crate) fn slug(field: &'static str, value: &str) -> Result<String, ToolError> {
    let v = value.trim().to_ascii_lowercase();
    if v.is_empty() {
        return Err(ToolError::invalid(field, "must not be empty"));
    }
    not_too_long(field, v)
}

/// Real slugs and ids are short; a huge one is a mistake, and would only bloat the URL.
const MAX_ID_CHARS: usize = 128;

pub(crate) fn not_too_long(field: &'static str, value: String) -> Result<String, ToolError> {
    let chars = value.chars().count();
    if chars > MAX_ID_CHARS {
        return Err(ToolError::invalid(
            field,
            format!("is {chars} characters long; at most {MAX_ID_CHARS} are allowed"),
        ));
    }
    Ok(value)
}

/// An optional slug: blank counts as absent.
pub(crate) fn opt_slug(
    field: &'static str,
    value: Option<&str>,
) -> Result<Option<String>, ToolError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => slug(field, v).map(Some),
        None => Ok(None),
    }
}

/// Order ids are trimmed, never re-cased.
pub(crate) fn order_id(value: &str) -> Result<String, ToolError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ToolError::invalid(
            "order_id",
            "must not be empty (create_order or list_orders give ids)",
        ));
    }
    not_too_long("order_id", v.to_owned())
}

/// Checks an integer argument against its documented range, naming the field.
pub(crate) fn in_range(
    field: &'static str,
    value: u32,
    min: u32,
    max: u32,
) -> Result<u32, ToolError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ToolError::invalid(
            field,
            format!("must be between {min} and {max} (got {value})"),
        ))
    }
}
