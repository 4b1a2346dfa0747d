//! What a client sees before calling anything: the 18 tools named exactly as VirtualSMS names
//! them, each with a title, a description, documented inputs, an object outputSchema and the
//! right annotations; the server's name, version and instructions; the bounds an input schema
//! states are the ones the server enforces, before any request upstream.

use crate::common::Harness;
use serde_json::{json, Value};

const TOOLS: [&str; 18] = [
    "list_services",
    "list_countries",
    "find_cheapest",
    "country_pricing",
    "service_availability",
    "get_balance",
    "get_profile",
    "get_stats",
    "list_transactions",
    "create_order",
    "get_order",
    "list_orders",
    "wait_for_sms",
    "swap_order",
    "cancel_order",
    "confirm_order",
    "extend_rental",
    "release_rental",
];

#[tokio::test]
async fn the_eighteen_tools_are_listed_with_schemas_and_descriptions() {
    let h = Harness::start().await;
    let mut names: Vec<&str> = h.tools().iter().map(|t| t.name.as_ref()).collect();
    names.sort();
    let mut expected = TOOLS.to_vec();
    expected.sort();
    assert_eq!(names, expected);

    for tool in h.tools() {
        let name = &tool.name;
        let description = tool.description.as_deref().unwrap_or_default();
        assert!(
            description.len() > 30,
            "{name}: description {description:?}"
        );
        assert!(
            tool.annotations
                .as_ref()
                .and_then(|a| a.title.as_ref())
                .is_some(),
            "{name}: title"
        );
        let output = tool
            .output_schema
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: outputSchema"));
        assert_eq!(
            output.get("type"),
            Some(&Value::from("object")),
            "{name}: outputSchema is an object"
        );
        let input = Value::Object(tool.input_schema.as_ref().clone());
        assert_eq!(input["type"], "object", "{name}");
        if let Some(props) = input["properties"].as_object() {
            for (field, schema) in props {
                let described = schema
                    .get("description")
                    .and_then(Value::as_str)
                    .is_some_and(|d| d.len() > 5);
                assert!(described, "{name}.{field} has no description: {schema}");
                // Strict function-calling schemas reject type lists; optional means omitted.
                assert!(
                    !schema["type"].is_array(),
                    "{name}.{field} has a type list: {schema}"
                );
            }
        }
    }
}

#[tokio::test]
async fn required_inputs_match_the_contract() {
    let h = Harness::start().await;
    let required = |name: &str| -> Vec<String> {
        let mut r: Vec<String> = Value::Object(h.tool(name).input_schema.as_ref().clone())
            ["required"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        r.sort();
        r
    };
    assert_eq!(required("find_cheapest"), ["service"]);
    assert_eq!(required("country_pricing"), ["country"]);
    assert_eq!(required("service_availability"), ["service"]);
    assert_eq!(required("create_order"), ["country", "service"]);
    assert_eq!(required("wait_for_sms"), ["order_id"]);
    assert_eq!(required("extend_rental"), ["hours", "order_id"]);
    for name in [
        "get_order",
        "swap_order",
        "cancel_order",
        "confirm_order",
        "release_rental",
    ] {
        assert_eq!(required(name), ["order_id"], "{name}");
    }
    for name in [
        "list_services",
        "list_countries",
        "get_balance",
        "list_transactions",
        "list_orders",
    ] {
        assert!(required(name).is_empty(), "{name}");
    }
    let wait = Value::Object(h.tool("wait_for_sms").input_schema.as_ref().clone());
    assert_eq!(wait["properties"]["timeout_seconds"]["default"], 120);
    let services = Value::Object(h.tool("list_services").input_schema.as_ref().clone());
    assert_eq!(services["properties"]["limit"]["default"], 50);
}

#[tokio::test]
async fn annotations_say_which_tools_read_spend_or_destroy() {
    let h = Harness::start().await;
    for tool in h.tools() {
        let a = tool.annotations.as_ref().unwrap();
        let name = tool.name.as_ref();
        assert_eq!(a.open_world_hint, Some(true), "{name}");
        let read_only = a.read_only_hint == Some(true);
        let destructive = a.destructive_hint == Some(true);
        match name {
            "create_order" | "extend_rental" => {
                assert!(!read_only && !destructive, "{name} spends money");
                assert_eq!(
                    a.idempotent_hint,
                    Some(false),
                    "{name}: calling twice spends twice"
                );
                assert!(
                    tool.description.as_deref().unwrap().contains("CHARGES"),
                    "{name}"
                );
            }
            "cancel_order" | "confirm_order" | "release_rental" => assert!(destructive, "{name}"),
            "swap_order" => assert!(!read_only, "{name}"),
            _ => assert!(read_only, "{name} only reads"),
        }
    }
}

#[tokio::test]
async fn server_info_names_itself_and_gives_the_flow() {
    let h = Harness::start().await;
    let info = h.client.peer_info().expect("initialize result");
    let server = info.server_info.clone().expect("serverInfo");
    assert_eq!(server.name, "virtualsms-mcp");
    assert_eq!(server.version, env!("CARGO_PKG_VERSION"));
    let instructions = info.instructions.as_deref().unwrap();
    for step in [
        "find_cheapest",
        "create_order",
        "wait_for_sms",
        "confirm_order",
        "swap_order",
        "cancel_order",
    ] {
        assert!(
            instructions.contains(step),
            "{step} missing from {instructions}"
        );
    }
    assert!(
        !instructions.to_lowercase().contains("sandbox"),
        "not in sandbox mode"
    );
}

/// Arguments that are valid but for the one field under test.
fn base_arguments(tool: &str) -> Value {
    match tool {
        "create_order" => json!({"service": "telegram", "country": "us"}),
        "service_availability" => json!({"service": "telegram"}),
        "extend_rental" | "wait_for_sms" => json!({"order_id": "rental:1"}),
        _ => json!({}),
    }
}

#[tokio::test]
async fn every_stated_bound_is_enforced_naming_the_field_before_any_request() {
    let h = Harness::start().await;
    let mut checked = Vec::new();
    for tool in h.tools() {
        let name = tool.name.as_ref();
        let properties = tool.input_schema["properties"].as_object().unwrap().clone();
        for (field, schema) in properties {
            let (Some(min), Some(max)) = (schema["minimum"].as_u64(), schema["maximum"].as_u64())
            else {
                continue;
            };
            for outside in [min.checked_sub(1), Some(max + 1)].into_iter().flatten() {
                let mut args = base_arguments(name);
                args[&field] = json!(outside);
                let before = h.fake.requests().len();
                let text = h.err(name, args).await;
                assert!(
                    text.contains(&format!("`{field}`"))
                        && text.contains(&format!("between {min} and {max}")),
                    "{name}.{field} = {outside}: {text}"
                );
                assert_eq!(h.fake.requests().len(), before, "{name}: sent upstream");
            }
            checked.push(format!("{name}.{field}"));
        }
    }
    checked.sort();
    assert_eq!(
        checked,
        [
            "create_order.rental_hours",
            "extend_rental.hours",
            "list_orders.limit",
            "list_services.limit",
            "list_transactions.limit",
            "service_availability.limit",
            "wait_for_sms.timeout_seconds",
        ]
    );
}
