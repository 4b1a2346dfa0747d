//! Prompts, resources, argument completion and the server icon, through a real rmcp client.
//!
//! Rules pinned down here:
//! - at least four prompts, each with arguments, each producing messages that name only real
//!   tools (and at least one);
//! - a prompt without a required argument is an invalid-params error naming the argument;
//! - a prompt is listed only when the tools it needs are offered (read-only hides buying ones);
//! - no_sms_arrived embeds the order's current state;
//! - resources: the usage guide and the balance (same JSON as get_balance);
//! - the template virtualsms://orders/{order_id} reads an order as get_order returns it;
//!   an unknown order is "resource not found";
//! - completion: service slugs and country codes for prompt arguments, recent order ids for
//!   prompts and the order template, prefix matches first;
//! - serverInfo carries an icon: a small SVG data URI.

use crate::common::{fake_options, Harness};
use rmcp::model::{
    ContentBlock, ErrorCode, GetPromptRequestParams, ReadResourceRequestParams, ResourceContents,
};
use serde_json::{json, Value};
use virtualsms_mcp::toolsets::all_tools;

fn args(v: Value) -> rmcp::model::JsonObject {
    v.as_object().unwrap().clone()
}

/// The prompt's text messages, and with `embedded` its embedded resources too.
async fn prompt_text(h: &Harness, name: &str, arguments: Value, embedded: bool) -> String {
    let result = h
        .client
        .get_prompt(GetPromptRequestParams::new(name).with_arguments(args(arguments)))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    result
        .messages
        .iter()
        .map(|m| match &m.content {
            ContentBlock::Text(t) => t.text.clone(),
            ContentBlock::Resource(r) => match &r.resource {
                ResourceContents::TextResourceContents { text, .. } if embedded => text.clone(),
                ResourceContents::TextResourceContents { .. } => String::new(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn read(h: &Harness, uri: &str) -> Result<String, rmcp::ServiceError> {
    let result = h
        .client
        .read_resource(ReadResourceRequestParams::new(uri))
        .await?;
    match &result.contents[0] {
        ResourceContents::TextResourceContents { text, .. } => Ok(text.clone()),
        other => panic!("{other:?}"),
    }
}

fn error_code(e: rmcp::ServiceError) -> ErrorCode {
    match e {
        rmcp::ServiceError::McpError(data) => data.code,
        other => panic!("not an MCP error: {other}"),
    }
}

#[tokio::test]
async fn four_prompts_with_arguments_name_only_real_tools() {
    let h = Harness::start().await;
    let prompts = h.client.list_all_prompts().await.unwrap();
    assert!(prompts.len() >= 4, "{prompts:?}");
    let id = h.order().await;
    let tools: Vec<&str> = all_tools().collect();
    for p in &prompts {
        let declared = p.arguments.as_ref().expect("arguments");
        assert!(!declared.is_empty(), "{} has no arguments", p.name);
        let mut given = serde_json::Map::new();
        for a in declared.iter().filter(|a| a.required == Some(true)) {
            let value = match a.name.as_str() {
                "service" => "telegram".to_owned(),
                "order_id" => id.clone(),
                other => panic!("unexpected required argument {other}"),
            };
            given.insert(a.name.clone(), json!(value));
        }
        let text = prompt_text(&h, &p.name, Value::Object(given), false).await;
        let named: Vec<&str> = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.contains('_') && w.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            .collect();
        assert!(!named.is_empty(), "{} names no tool: {text}", p.name);
        for word in named {
            let field = [
                "order_id",
                "phone_number",
                "max_price",
                "timeout_seconds",
                "expires_at",
            ];
            assert!(
                tools.contains(&word) || field.contains(&word),
                "{} names {word}, which is no tool: {text}",
                p.name
            );
        }
    }
}

#[tokio::test]
async fn a_missing_required_argument_is_named() {
    let h = Harness::start().await;
    let err = h
        .client
        .get_prompt(GetPromptRequestParams::new("verify_account").with_arguments(args(json!({}))))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("service"), "{text}");
    assert_eq!(error_code(err), ErrorCode::INVALID_PARAMS);
}

#[tokio::test]
async fn prompts_that_need_hidden_tools_are_not_listed() {
    let h = Harness::with(fake_options(), |c| c.guard.read_only = true).await;
    let names: Vec<String> = h
        .client
        .list_all_prompts()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert!(!names.contains(&"verify_account".to_owned()), "{names:?}");
    assert!(names.contains(&"cheapest_number".to_owned()), "{names:?}");
}

#[tokio::test]
async fn no_sms_arrived_embeds_the_order_state() {
    let h = Harness::start().await;
    let id = h.order().await;
    let text = prompt_text(&h, "no_sms_arrived", json!({"order_id": id}), true).await;
    assert!(text.contains("\"status\": \"waiting\""), "{text}");
    assert!(
        text.contains("swap_order") && text.contains("cancel_order"),
        "{text}"
    );
}

#[tokio::test]
async fn the_guide_and_the_balance_are_resources() {
    let h = Harness::start().await;
    let listed: Vec<String> = h
        .client
        .list_all_resources()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.uri)
        .collect();
    assert_eq!(listed, ["virtualsms://guide", "virtualsms://balance"]);
    let guide = read(&h, "virtualsms://guide").await.unwrap();
    assert!(
        guide.contains("wait_for_sms") && guide.contains("create_order"),
        "{guide}"
    );
    let balance: Value =
        serde_json::from_str(&read(&h, "virtualsms://balance").await.unwrap()).unwrap();
    assert_eq!(balance, h.ok("get_balance", json!({})).await);
}

#[tokio::test]
async fn the_order_template_reads_an_order_as_get_order_returns_it() {
    let h = Harness::start().await;
    let templates = h.client.list_all_resource_templates().await.unwrap();
    assert_eq!(templates[0].uri_template, "virtualsms://orders/{order_id}");
    let id = h.order().await;
    let order: Value = serde_json::from_str(
        &read(&h, &format!("virtualsms://orders/{id}"))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(order, h.ok("get_order", json!({"order_id": id})).await);
}

#[tokio::test]
async fn an_unknown_order_resource_is_not_found() {
    let h = Harness::start().await;
    let err = read(&h, "virtualsms://orders/ord_nope").await.unwrap_err();
    assert_eq!(error_code(err), ErrorCode::RESOURCE_NOT_FOUND);
    let err = read(&h, "virtualsms://nothing").await.unwrap_err();
    assert_eq!(error_code(err), ErrorCode::RESOURCE_NOT_FOUND);
}

#[tokio::test]
async fn completion_offers_services_countries_and_recent_orders() {
    let h = Harness::start().await;
    let services = h
        .client
        .complete_prompt_simple("verify_account", "service", "tele")
        .await
        .unwrap();
    assert_eq!(
        services.first().map(String::as_str),
        Some("telegram"),
        "{services:?}"
    );
    let countries = h
        .client
        .complete_prompt_simple("verify_account", "country", "u")
        .await
        .unwrap();
    assert!(countries.contains(&"us".to_owned()), "{countries:?}");
    assert!(
        countries[0].starts_with('u'),
        "prefix matches first: {countries:?}"
    );
    let id = h.order().await;
    let ids = h
        .client
        .complete_resource_simple("virtualsms://orders/{order_id}", "order_id", "ord_")
        .await
        .unwrap();
    assert_eq!(ids, std::slice::from_ref(&id));
    let ids = h
        .client
        .complete_prompt_simple("no_sms_arrived", "order_id", "")
        .await
        .unwrap();
    assert_eq!(ids, [id]);
}

#[tokio::test]
async fn server_info_carries_a_small_svg_icon() {
    let h = Harness::start().await;
    let info = h.client.peer_info().expect("initialize result");
    let server = info.server_info.as_ref().expect("serverInfo");
    let icons = server.icons.as_ref().expect("icons");
    let icon = &icons[0];
    assert!(
        icon.src.starts_with("data:image/svg+xml;base64,"),
        "{}",
        icon.src
    );
    assert_eq!(icon.mime_type.as_deref(), Some("image/svg+xml"));
    assert!(icon.src.len() < 1024, "{} bytes", icon.src.len());
    let caps = &info.capabilities;
    assert!(caps.prompts.is_some() && caps.resources.is_some() && caps.completions.is_some());
}
