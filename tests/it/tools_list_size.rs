//! The size of `tools/list`: every byte of it sits in the model's context (issue 10 §7).
//!
//! Rules pinned down here:
//! - `tools/list` as a client receives it (the JSON-RPC line the real binary writes on stdout,
//!   default server) stays within [`BUDGET`] bytes;
//! - every tool still has an outputSchema, and it still names every field: the order shape's
//!   fields, the wait outcome's values;
//! - no schema carries `$schema` or a Rust number `format` (`double`, `uint32`); output schemas
//!   carry no `description`, `default` or `title`, and no `null` type on a field that is
//!   omitted when absent (`src/tools/lean.rs`); input descriptions and defaults stay.

use serde_json::{json, Value};

use crate::rawio::{binary, RawServer, NOWHERE};

/// The most `tools/list` may weigh, in bytes (one JSON-RPC line, without its newline).
///
/// 31,796 bytes before `src/tools/lean.rs`. Issue 10 §7 asks for 11,000 with every output
/// schema kept; complete output schemas (every field named and typed) cannot fit that: see
/// BENCHMARKS.md ("A lean tools/list") for the arithmetic and what each further cut would cost.
/// The multi-provider results (issue 9: `provider` on every order, `currency`, `price_usd`, the
/// per-provider `offers`/`by_provider`/`errors` lists, the `provider` inputs) took the lean list
/// from 18,731 to about 21,000 bytes; the budget holds it there, not for a return of the derived
/// verbosity.
const BUDGET: usize = 21_500;

async fn tools_list_line() -> (usize, Value) {
    let mut cmd = binary();
    cmd.env("VIRTUALSMS_API_KEY", "sk_test_size")
        .env("VIRTUALSMS_BASE_URL", NOWHERE);
    let mut server = RawServer::spawn(cmd);
    server.initialize().await;
    let response = server.request("tools/list", json!({})).await;
    let line = server
        .stdout_text()
        .lines()
        .find(|line| line.contains("\"tools\":["))
        .expect("the tools/list answer on stdout")
        .to_owned();
    server.finish().await;
    (line.len(), response)
}

#[tokio::test]
async fn tools_list_stays_within_its_byte_budget() {
    let (bytes, response) = tools_list_line().await;
    let tools = response["result"]["tools"].as_array().expect("tools");
    assert_eq!(tools.len(), 18);
    assert!(
        bytes <= BUDGET,
        "tools/list is {bytes} bytes, over its budget of {BUDGET}: every byte sits in the \
         model's context. Shorten what was added, or make the case for a larger budget."
    );
    eprintln!("tools/list: {bytes} bytes (budget {BUDGET})");
}

fn walk<'a>(value: &'a Value, path: String, out: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) => {
            out.push((path.clone(), value));
            for (key, child) in map {
                // Data, not subschemas.
                if !matches!(key.as_str(), "enum" | "const" | "default" | "required") {
                    walk(child, format!("{path}/{key}"), out);
                }
            }
        }
        Value::Array(list) => {
            for (i, child) in list.iter().enumerate() {
                walk(child, format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn schemas_are_lean_and_still_name_every_field() {
    let (_, response) = tools_list_line().await;
    let tools = response["result"]["tools"].as_array().expect("tools");
    let numeric_formats = [
        "double", "float", "uint", "uint32", "uint64", "int32", "int64",
    ];
    for tool in tools {
        let name = tool["name"].as_str().unwrap();
        for key in ["inputSchema", "outputSchema"] {
            let schema = &tool[key];
            assert_eq!(schema["type"], "object", "{name}.{key}");
            assert!(schema.get("$schema").is_none(), "{name}.{key}: $schema");
            let mut nodes = Vec::new();
            walk(schema, String::new(), &mut nodes);
            for (path, node) in nodes {
                let format = node.get("format").and_then(Value::as_str);
                assert!(
                    !format.is_some_and(|f| numeric_formats.contains(&f)),
                    "{name}.{key}{path}: {node}"
                );
                if key == "outputSchema" {
                    for noise in ["description", "default", "title"] {
                        assert!(node.get(noise).is_none(), "{name}.{key}{path}: {node}");
                    }
                }
            }
        }
        // Input descriptions teach the model how to call: they stay.
        for (field, property) in tool["inputSchema"]["properties"].as_object().unwrap() {
            assert!(
                property["description"].is_string(),
                "{name}.{field} lost its description"
            );
        }
    }

    let tool = |name: &str| tools.iter().find(|t| t["name"] == name).unwrap().clone();
    let order = tool("cancel_order")["outputSchema"].clone();
    let props = order["properties"].as_object().unwrap();
    for field in [
        "order_id",
        "service",
        "country",
        "phone_number",
        "status",
        "price",
        "created_at",
        "expires_at",
        "rental_hours",
        "messages",
        "code",
        "refunded",
        "note",
        "budget_left",
        "next_step",
    ] {
        assert!(props.contains_key(field), "cancel_order lost `{field}`");
    }
    // Omitted when absent, never null: one type, not a union with null.
    assert_eq!(props["phone_number"], json!({"type": "string"}));
    assert_eq!(props["price"], json!({"type": "number"}));
    assert_eq!(
        order["required"],
        json!(["order_id", "status", "messages", "next_step"])
    );
    let sms = &props["messages"]["items"];
    assert_eq!(sms["required"], json!(["id", "text"]), "{sms}");

    let wait = tool("wait_for_sms")["outputSchema"].clone();
    assert_eq!(
        wait["properties"]["outcome"],
        json!({"type": "string", "enum": ["received", "timed_out", "order_ended"]})
    );
    // Defaults the model relies on stay on the inputs.
    assert_eq!(
        tool("wait_for_sms")["inputSchema"]["properties"]["timeout_seconds"]["default"],
        120
    );
}
