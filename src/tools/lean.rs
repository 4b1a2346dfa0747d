//! A lean `tools/list`: every byte of it sits in the model's context (issue 10 §7), so the
//! schemas schemars derives are trimmed, in one place, to what a client or a model can use.
//!
//! [`output`] rewrites every tool's outputSchema; what it removes changes no document's
//! validity except the `null`s no output ever carries:
//! - `$schema`: MCP's default dialect is JSON Schema 2020-12 anyway;
//! - `title`, `description`, `default`, and the Rust-only numeric `format`s (`double`, `uint32`, ...) with their `minimum: 0`. Output
//!   descriptions mostly repeated the field name; what they taught once per field (USD, E.164,
//!   RFC 3339) the server instructions say once (see `INSTRUCTIONS` in `mod.rs`), and each
//!   result's `next_step` says what to do next;
//! - `null` from an optional property's type: outputs are derived for serialization, so a
//!   property that may be null is `required`, and one that is not required is omitted when
//!   absent (the domain types skip `None`s, `src/domain.rs`), never sent as null;
//! - `oneOf` of constants becomes an `enum`;
//! - a `$defs` entry used once is written in place (no tool's output shares a shape within
//!   itself; across tools nothing can be shared, as each outputSchema stands alone).
//!
//! `additionalProperties: true` stays (on get_profile and get_stats, which pass on fields the
//! provider adds): everywhere else an outputSchema names every field a result carries, and the
//! test harness checks that (`tests/it/common/mod.rs`, `assert_valid`).
//!
//! [`input`] only drops `$schema` and the numeric `format`s: input descriptions, defaults and
//! bounds are what the model calls with, and stay.
//!
//! [`one_provider`] fits a tool to a server with one provider: the `provider` input has no
//! choice to make, and the fields only several providers fill in are never sent (see
//! [`SEVERAL_PROVIDERS_ONLY`]), so neither is listed.

use rmcp::model::JsonObject;
use serde_json::{Map, Value};

/// Rust number formats schemars writes; JSON Schema does not define them, validators ignore
/// them (strict ones warn).
const NUMBER_FORMATS: [&str; 12] = [
    "double", "float", "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16",
    "uint32", "uint64",
];

/// The lean form of an outputSchema (see the module doc).
pub fn output(schema: &JsonObject) -> JsonObject {
    let mut root = schema.clone();
    root.remove("$schema");
    let mut value = Value::Object(root);
    inline_single_use_defs(&mut value);
    trim_output(&mut value);
    match value {
        Value::Object(map) => map,
        _ => unreachable!("an object stays an object"),
    }
}

/// The lean form of an inputSchema (see the module doc).
pub fn input(schema: &JsonObject) -> JsonObject {
    let mut root = schema.clone();
    root.remove("$schema");
    let mut value = Value::Object(root);
    drop_number_formats(&mut value);
    match value {
        Value::Object(map) => map,
        _ => unreachable!("an object stays an object"),
    }
}

/// Result fields that only a server with several providers fills in (`src/tools/account.rs`,
/// `src/tools/catalog.rs`: every one is skipped when empty, and empty with one provider).
pub const SEVERAL_PROVIDERS_ONLY: [(&str, &str); 3] = [
    ("get_balance", "by_provider"),
    ("find_cheapest", "offers"),
    ("service_availability", "errors"),
];

/// A tool's schemas on a server with one provider (see the module doc).
pub fn one_provider(tool: &str, input: &mut JsonObject, output: Option<&mut JsonObject>) {
    remove_property(input, "provider");
    if let Some(output) = output {
        for (_, field) in SEVERAL_PROVIDERS_ONLY.iter().filter(|(t, _)| *t == tool) {
            remove_property(output, field);
        }
    }
}

/// Drops a top-level property (and its `required` entry) from an object schema.
fn remove_property(schema: &mut JsonObject, name: &str) {
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        properties.remove(name);
    }
    if let Some(Value::Array(required)) = schema.get_mut("required") {
        required.retain(|r| r != name);
    }
}

/// Every subschema directly under `node` (not the keyword values that are data, such as
/// `enum`, `const`, `required`, `default`).
fn subschemas(node: &mut Map<String, Value>) -> Vec<&mut Value> {
    let mut out = Vec::new();
    for (key, value) in node.iter_mut() {
        match key.as_str() {
            "properties" | "patternProperties" | "$defs" | "definitions" | "dependentSchemas" => {
                if let Value::Object(map) = value {
                    out.extend(map.values_mut());
                }
            }
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                if let Value::Array(list) = value {
                    out.extend(list.iter_mut());
                }
            }
            "items"
            | "additionalProperties"
            | "unevaluatedProperties"
            | "not"
            | "if"
            | "then"
            | "else"
            | "contains"
            | "propertyNames" => out.push(value),
            _ => {}
        }
    }
    out
}

fn drop_number_formats(value: &mut Value) {
    let Value::Object(node) = value else { return };
    if node
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| NUMBER_FORMATS.contains(&f))
    {
        node.remove("format");
    }
    for sub in subschemas(node) {
        drop_number_formats(sub);
    }
}

fn trim_output(value: &mut Value) {
    let Value::Object(node) = value else { return };
    for key in ["title", "description", "default", "examples", "$comment"] {
        node.remove(key);
    }
    if node
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| NUMBER_FORMATS.contains(&f))
    {
        node.remove("format");
        if node.get("minimum").and_then(Value::as_f64) == Some(0.0) {
            node.remove("minimum");
        }
    }
    constants_as_enum(node);
    let required: Vec<String> = node
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if let Some(Value::Object(properties)) = node.get_mut("properties") {
        for (name, property) in properties.iter_mut() {
            if !required.contains(name) {
                not_null(property);
            }
        }
    }
    for sub in subschemas(node) {
        trim_output(sub);
    }
}

/// `{"oneOf": [{"const": "a", ...}, {"const": "b", ...}]}` → `{"enum": ["a", "b"]}` (with the
/// branches' common `type`), when the branches say nothing but a constant.
fn constants_as_enum(node: &mut Map<String, Value>) {
    let Some(Value::Array(branches)) = node.get("oneOf") else {
        return;
    };
    let only_constants = branches.iter().all(|b| {
        b.as_object().is_some_and(|b| {
            b.contains_key("const")
                && b.keys()
                    .all(|k| matches!(k.as_str(), "const" | "type" | "description" | "title"))
        })
    });
    if branches.is_empty() || !only_constants {
        return;
    }
    let values: Vec<Value> = branches.iter().map(|b| b["const"].clone()).collect();
    let types: Vec<Option<&Value>> = branches.iter().map(|b| b.get("type")).collect();
    let common_type = match types.first() {
        Some(Some(first)) if types.iter().all(|t| *t == Some(*first)) => Some((*first).clone()),
        _ => None,
    };
    node.remove("oneOf");
    node.insert("enum".into(), Value::Array(values));
    if let Some(t) = common_type {
        node.entry("type").or_insert(t);
    }
}

/// An optional output property is omitted when absent, never null: drop `null` from its type
/// (`["string", "null"]` → `"string"`, `anyOf: [X, {"type": "null"}]` → `X`).
fn not_null(property: &mut Value) {
    let Value::Object(node) = property else {
        return;
    };
    if let Some(Value::Array(types)) = node.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            node.insert("type".into(), only);
        }
    }
    let Some(Value::Array(branches)) = node.get("anyOf") else {
        return;
    };
    let is_null = |b: &Value| {
        b.as_object()
            .is_some_and(|b| b.len() == 1 && b.get("type") == Some(&Value::from("null")))
    };
    if branches.len() != 2 || !branches.iter().any(is_null) {
        return;
    }
    let Some(Value::Object(other)) = branches.iter().find(|b| !is_null(b)).cloned() else {
        return;
    };
    node.remove("anyOf");
    for (key, value) in other {
        node.entry(key).or_insert(value);
    }
}

/// Writes each `$defs` entry that is referenced exactly once (and not from itself) in place of
/// its `$ref`, and drops the `$defs` no longer referenced.
fn inline_single_use_defs(root: &mut Value) {
    loop {
        let Some(Value::Object(defs)) = root.get("$defs") else {
            return;
        };
        let mut uses = Vec::new();
        collect_refs(root, &mut uses);
        let single = defs.iter().find_map(|(name, body)| {
            let target = format!("#/$defs/{name}");
            let used = uses.iter().filter(|r| **r == target).count();
            let mut own = Vec::new();
            collect_refs(body, &mut own);
            (used == 1 && !own.contains(&target)).then(|| (target, body.clone()))
        });
        let Some((target, body)) = single else {
            break;
        };
        replace_ref(root, &target, &body);
        if let Some(Value::Object(defs)) = root.get_mut("$defs") {
            defs.remove(target.trim_start_matches("#/$defs/"));
        }
    }
    let unused = match root.get("$defs") {
        Some(Value::Object(defs)) => defs.is_empty(),
        _ => false,
    };
    if unused {
        if let Value::Object(node) = root {
            node.remove("$defs");
        }
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(node) => {
            for (key, child) in node {
                match (key.as_str(), child) {
                    ("$ref", Value::String(target)) => out.push(target.clone()),
                    _ => collect_refs(child, out),
                }
            }
        }
        Value::Array(list) => list.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Replaces the one `{"$ref": target, ...}` with the definition's keywords (its own keywords
/// next to the `$ref`, such as a description, win).
fn replace_ref(value: &mut Value, target: &str, body: &Value) -> bool {
    match value {
        Value::Object(node) => {
            if node.get("$ref").and_then(Value::as_str) == Some(target) {
                node.remove("$ref");
                if let Value::Object(body) = body {
                    for (key, v) in body {
                        node.entry(key.clone()).or_insert_with(|| v.clone());
                    }
                }
                return true;
            }
            node.values_mut()
                .any(|child| replace_ref(child, target, body))
        }
        Value::Array(list) => list
            .iter_mut()
            .any(|child| replace_ref(child, target, body)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemars::JsonSchema;
    use serde::Serialize;
    use serde_json::json;

    fn obj(v: Value) -> JsonObject {
        v.as_object().unwrap().clone()
    }

    fn output_schema_of<T: JsonSchema + 'static>() -> Value {
        let full = rmcp::handler::server::tool::schema_for_output::<T>();
        Value::Object(output(&full))
    }

    #[derive(Serialize, JsonSchema)]
    struct Inner {
        /// Says nothing the name does not.
        id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        at: Option<String>,
    }

    #[derive(Serialize, JsonSchema)]
    #[serde(rename_all = "snake_case")]
    enum Outcome {
        /// First.
        Received,
        /// Second.
        TimedOut,
    }

    #[derive(Serialize, JsonSchema)]
    struct Outer {
        /// USD.
        price: f64,
        hours: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        refunded: Option<f64>,
        /// Always sent, maybe as null.
        maybe: Option<String>,
        items: Vec<Inner>,
        #[serde(skip_serializing_if = "Option::is_none")]
        first: Option<Inner>,
        outcome: Outcome,
    }

    #[test]
    fn output_schemas_keep_every_field_and_type_and_lose_the_rest() {
        let schema = output_schema_of::<Outer>();
        let inner = json!({
            "type": "object",
            "properties": {"id": {"type": "string"}, "at": {"type": "string"}},
            "required": ["id"]
        });
        assert_eq!(
            schema,
            json!({
                "$defs": {"Inner": inner},
                "type": "object",
                "properties": {
                    "price": {"type": "number"},
                    "hours": {"type": "integer"},
                    "refunded": {"type": "number"},
                    "maybe": {"type": ["string", "null"]},
                    "items": {"type": "array", "items": {"$ref": "#/$defs/Inner"}},
                    "first": {"$ref": "#/$defs/Inner"},
                    "outcome": {"type": "string", "enum": ["received", "timed_out"]}
                },
                "required": ["price", "hours", "maybe", "items", "outcome"]
            }),
            "Inner is used twice, so it stays shared; `maybe` may be null, so it stays nullable"
        );
    }

    #[test]
    fn what_the_lean_schema_accepts_and_refuses() {
        let schema = output_schema_of::<Outer>();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let good = serde_json::to_value(Outer {
            price: 0.5,
            hours: 4,
            refunded: None,
            maybe: None,
            items: vec![Inner {
                id: "s1".into(),
                at: None,
            }],
            first: None,
            outcome: Outcome::TimedOut,
        })
        .unwrap();
        assert!(validator.is_valid(&good), "{good}");
        let received = json!({"outcome": serde_json::to_value(Outcome::Received).unwrap()});
        let mut doc = good.clone();
        doc.as_object_mut()
            .unwrap()
            .extend(received.as_object().unwrap().clone());
        assert!(validator.is_valid(&doc), "{doc}");
        for bad in [
            json!({"refunded": null}),
            json!({"price": "0.5"}),
            json!({"outcome": "lost"}),
            json!({"items": [{"at": "now"}]}),
        ] {
            let mut doc = good.clone();
            doc.as_object_mut()
                .unwrap()
                .extend(bad.as_object().unwrap().clone());
            assert!(!validator.is_valid(&doc), "accepted {doc}");
        }
    }

    #[test]
    fn a_shape_used_twice_stays_shared() {
        let mut schema = json!({
            "$defs": {"Sms": {"type": "object", "description": "x"}},
            "type": "object",
            "properties": {
                "a": {"$ref": "#/$defs/Sms"},
                "b": {"type": "array", "items": {"$ref": "#/$defs/Sms"}}
            }
        });
        inline_single_use_defs(&mut schema);
        assert_eq!(schema["$defs"]["Sms"]["type"], "object");
        assert_eq!(schema["properties"]["a"]["$ref"], "#/$defs/Sms");
        let lean = output(schema.as_object().unwrap());
        assert_eq!(lean["$defs"]["Sms"], json!({"type": "object"}));
    }

    #[test]
    fn a_shape_used_once_is_written_in_place() {
        let lean = output(&obj(json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$defs": {
                "Order": {"type": "object", "properties": {
                    "messages": {"type": "array", "items": {"$ref": "#/$defs/Sms"}}
                }},
                "Sms": {"type": "object", "properties": {"id": {"type": "string"}}}
            },
            "type": "object",
            "properties": {"data": {"type": "array", "items": {"$ref": "#/$defs/Order"}}}
        })));
        assert_eq!(
            Value::Object(lean),
            json!({"type": "object", "properties": {"data": {"type": "array", "items": {
                "type": "object", "properties": {"messages": {"type": "array", "items": {
                    "type": "object", "properties": {"id": {"type": "string"}}
                }}}
            }}}})
        );
    }

    #[test]
    fn input_schemas_keep_descriptions_defaults_and_bounds() {
        let lean = input(&obj(json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "limit": {"type": "integer", "format": "uint32", "minimum": 0, "default": 20,
                          "description": "Page size, 1–100."},
                "since": {"type": "string", "format": "date-time"}
            }
        })));
        assert_eq!(
            Value::Object(lean),
            json!({
                "type": "object",
                "properties": {
                    "limit": {"type": "integer", "minimum": 0, "default": 20,
                              "description": "Page size, 1–100."},
                    "since": {"type": "string", "format": "date-time"}
                }
            })
        );
    }

    #[test]
    fn one_provider_drops_the_provider_input_and_the_fields_only_several_fill_in() {
        let mut input = obj(json!({
            "type": "object",
            "properties": {"service": {"type": "string"}, "provider": {"type": "string"}},
            "required": ["service"]
        }));
        let mut output = obj(json!({
            "type": "object",
            "properties": {"price": {"type": "number"}, "offers": {"type": "array"}},
            "required": ["price", "offers"]
        }));
        one_provider("find_cheapest", &mut input, Some(&mut output));
        assert_eq!(
            Value::Object(input),
            json!({"type": "object", "properties": {"service": {"type": "string"}},
                   "required": ["service"]})
        );
        assert_eq!(
            Value::Object(output),
            json!({"type": "object", "properties": {"price": {"type": "number"}},
                   "required": ["price"]})
        );
        let mut other = obj(json!({"type": "object", "properties": {"offers": {}}}));
        one_provider("get_order", &mut obj(json!({})), Some(&mut other));
        assert_eq!(
            Value::Object(other),
            json!({"type": "object", "properties": {"offers": {}}}),
            "only the listed tool's field goes"
        );
    }
}
