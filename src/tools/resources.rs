//! MCP resources and argument completion.
//!
//! Resources: `virtualsms://guide` (a short usage guide, Markdown), `virtualsms://balance` (the
//! balance, as `get_balance` returns it) and the template `virtualsms://orders/{order_id}` (an
//! order, the same JSON as `get_order`). Data comes from the tool methods, so a resource says
//! exactly what the tool would.
//!
//! Completion (`completion/complete`) for prompt arguments and the template's `order_id`:
//! service slugs, country codes and recent order ids, prefix matches first.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CompleteRequestParams, CompleteResult, CompletionInfo, ListResourceTemplatesResult,
    ListResourcesResult, ReadResourceRequestParams, ReadResourceResult, Reference, Resource,
    ResourceContents, ResourceTemplate,
};
use rmcp::ErrorData;
use serde::Serialize;

use super::catalog::{ListCountriesArgs, ListServicesArgs};
use super::orders::{ListOrdersArgs, OrderIdArgs};
use super::{ToolError, VirtualSmsServer};

pub const GUIDE_URI: &str = "virtualsms://guide";
pub const BALANCE_URI: &str = "virtualsms://balance";
pub const ORDER_TEMPLATE: &str = "virtualsms://orders/{order_id}";
const ORDER_PREFIX: &str = "virtualsms://orders/";
const JSON: &str = "application/json";

/// The usage guide resource.
pub const GUIDE: &str = "\
# VirtualSMS: receive SMS verification codes on real-SIM numbers

1. `find_cheapest` (service, country?) shows the price. `list_services` finds a service slug,
   `list_countries` the country codes.
2. `create_order` (service, country, max_price?) buys a number and charges the balance.
3. Enter the `phone_number` on the site, then `wait_for_sms` (order_id): it returns as soon as the
   SMS arrives, with the `code`.
4. `confirm_order` when the code worked. No SMS? `swap_order` gives a new number for free;
   `cancel_order` refunds in full before an SMS arrives.

Rentals: `create_order` with `rental_hours`, then `extend_rental` / `release_rental`.
Account: `get_balance`, `list_orders`, `list_transactions`, `get_stats`.

Resources: `virtualsms://balance` (the balance) and `virtualsms://orders/{order_id}` (an order,
as `get_order` returns it).
Spending rules of this server: VIRTUALSMS_MAX_ORDER_PRICE caps one order, VIRTUALSMS_SPEND_LIMIT
the total; VIRTUALSMS_CONFIRM_ABOVE asks a person before dearer purchases.
";

pub(crate) fn order_uri(order_id: &str) -> String {
    format!("{ORDER_PREFIX}{order_id}")
}

fn not_found(uri: &str) -> ErrorData {
    ErrorData::resource_not_found(
        format!(
            "no resource {uri}; resources/list and resources/templates/list show what exists \
             ({GUIDE_URI}, {BALANCE_URI}, {ORDER_TEMPLATE})"
        ),
        None,
    )
}

/// A tool failure as a resource read error: not found stays "not found", the rest keep the
/// tool's explanation (what happened and what to do).
fn read_error(uri: &str, e: ToolError) -> ErrorData {
    let not_found = e
        .api_error()
        .is_some_and(|api| api.kind() == crate::backends::ErrorKind::OrderNotFound);
    match &e {
        _ if not_found => ErrorData::resource_not_found(format!("{uri}: {}", e.for_model()), None),
        ToolError::InvalidInput { .. } => ErrorData::invalid_params(e.for_model(), None),
        _ => ErrorData::internal_error(format!("{uri}: {}", e.for_model()), None),
    }
}

fn json_contents(uri: &str, value: &impl Serialize) -> Result<ReadResourceResult, ErrorData> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
    Ok(ReadResourceResult::new(vec![ResourceContents::text(
        text, uri,
    )
    .with_mime_type(JSON)]))
}

/// Ranks `candidates` for a typed `prefix`: prefix matches first, then other matches of the
/// text; at most [`CompletionInfo::MAX_VALUES`].
fn rank(prefix: &str, candidates: impl IntoIterator<Item = (String, String)>) -> CompletionInfo {
    let prefix = prefix.trim().to_lowercase();
    let mut starts = Vec::new();
    let mut contains = Vec::new();
    for (value, label) in candidates {
        let (v, l) = (value.to_lowercase(), label.to_lowercase());
        if v.starts_with(&prefix) {
            starts.push(value);
        } else if !prefix.is_empty() && (v.contains(&prefix) || l.contains(&prefix)) {
            contains.push(value);
        }
    }
    starts.extend(contains);
    starts.dedup();
    let total = starts.len();
    starts.truncate(CompletionInfo::MAX_VALUES);
    let has_more = total > starts.len();
    CompletionInfo::with_pagination(starts, Some(total as u32), has_more).unwrap_or_default()
}

impl VirtualSmsServer {
    /// `resources/list`: the guide and the balance.
    pub(crate) fn resource_list(&self) -> ListResourcesResult {
        let guide = Resource::new(GUIDE_URI, "guide")
            .with_title("VirtualSMS usage guide")
            .with_description("How to buy a number and receive a verification code, in 4 steps.")
            .with_mime_type("text/markdown")
            .with_size(GUIDE.len() as u64);
        let balance = Resource::new(BALANCE_URI, "balance")
            .with_title("Account balance")
            .with_description("The balance available for orders (USD), as get_balance returns it.")
            .with_mime_type(JSON);
        ListResourcesResult::with_all_items(vec![guide, balance])
    }

    /// `resources/templates/list`: an order by id.
    pub(crate) fn resource_templates(&self) -> ListResourceTemplatesResult {
        let order = ResourceTemplate::new(ORDER_TEMPLATE, "order")
            .with_title("An order")
            .with_description(
                "An order by id: status, phone number, expiry, SMS and code (as get_order returns \
                 it).",
            )
            .with_mime_type(JSON);
        ListResourceTemplatesResult::with_all_items(vec![order])
    }

    /// `resources/read`.
    pub(crate) async fn resource_read(
        &self,
        request: ReadResourceRequestParams,
    ) -> Result<ReadResourceResult, ErrorData> {
        let uri = request.uri.as_str();
        match uri {
            GUIDE_URI => Ok(ReadResourceResult::new(vec![ResourceContents::text(
                GUIDE, uri,
            )
            .with_mime_type("text/markdown")])),
            BALANCE_URI => {
                let args = super::account::BalanceArgs { provider: None };
                let balance = self
                    .get_balance(Parameters(args))
                    .await
                    .map_err(|e| read_error(uri, e))?;
                json_contents(uri, &balance.0)
            }
            _ => {
                let id = uri
                    .strip_prefix(ORDER_PREFIX)
                    .filter(|id| !id.is_empty() && !id.contains('/'))
                    .ok_or_else(|| not_found(uri))?;
                let order = self
                    .get_order(Parameters(OrderIdArgs {
                        order_id: id.to_owned(),
                    }))
                    .await
                    .map_err(|e| read_error(uri, e))?;
                json_contents(uri, &order.0)
            }
        }
    }

    /// `completion/complete`: service slugs, country codes and recent order ids. Failures (no
    /// key, API down) complete nothing rather than fail.
    pub(crate) async fn complete_argument(
        &self,
        request: CompleteRequestParams,
    ) -> Result<CompleteResult, ErrorData> {
        let argument = request.argument.name.as_str();
        let known = match &request.r#ref {
            Reference::Prompt(p) => super::prompts::argument_names(&p.name).contains(&argument),
            Reference::Resource(r) => r.uri == ORDER_TEMPLATE && argument == "order_id",
            _ => false,
        };
        if !known {
            return Ok(CompleteResult::default());
        }
        let value = request.argument.value.as_str();
        let completion = match argument {
            "service" => self.complete_service(value).await,
            "country" => self.complete_country(value).await,
            "order_id" => self.complete_order_id(value).await,
            _ => CompletionInfo::default(),
        };
        Ok(CompleteResult::new(completion))
    }

    async fn complete_service(&self, value: &str) -> CompletionInfo {
        let args = ListServicesArgs {
            query: Some(value.to_owned()).filter(|v| !v.trim().is_empty()),
            category: None,
            limit: 500,
            offset: 0,
            provider: None,
        };
        match self.list_services(Parameters(args)).await {
            Ok(page) => rank(value, page.0.services.into_iter().map(|s| (s.id, s.name))),
            Err(_) => CompletionInfo::default(),
        }
    }

    async fn complete_country(&self, value: &str) -> CompletionInfo {
        let args = ListCountriesArgs {
            in_stock_only: false,
            provider: None,
        };
        match self.list_countries(Parameters(args)).await {
            Ok(list) => rank(
                value,
                list.0.countries.into_iter().map(|c| (c.iso2, c.name)),
            ),
            Err(_) => CompletionInfo::default(),
        }
    }

    async fn complete_order_id(&self, value: &str) -> CompletionInfo {
        let args = ListOrdersArgs {
            status: None,
            limit: 20,
            offset: 0,
            provider: None,
        };
        match self.list_orders(Parameters(args)).await {
            Ok(page) => rank(
                value,
                page.0.data.into_iter().map(|o| {
                    let label = o.service.clone().unwrap_or_default();
                    (o.order_id, label)
                }),
            ),
            Err(_) => CompletionInfo::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_ranks_prefix_matches_first() {
        let got = rank(
            "te",
            [
                ("whatsapp".to_owned(), "WhatsApp".to_owned()),
                ("steam".to_owned(), "Steam".to_owned()),
                ("telegram".to_owned(), "Telegram".to_owned()),
            ],
        );
        assert_eq!(got.values, vec!["telegram", "steam"]);
        assert_eq!(got.total, Some(2));
        assert_eq!(got.has_more, Some(false));
        let all = rank("", (0..150).map(|i| (format!("s{i}"), String::new())));
        assert_eq!(all.values.len(), 100);
        assert_eq!(all.has_more, Some(true));
    }
}
