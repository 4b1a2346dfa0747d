//! A type check of tool arguments against the tool's input schema, run before decoding, so a
//! wrong-typed argument gets a message that names the field (`limit` must be an integer, got a
//! string) instead of serde's, which quotes the value but not the field.
//!
//! Only the top-level JSON type of each declared property is checked: everything finer (ranges,
//! required fields, nested shapes) stays with decoding and the tools' own validation.

use rmcp::model::JsonObject;
use serde_json::Value;

use super::ToolError;

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn fits(expected: &str, actual: &str) -> bool {
    expected == actual || (expected == "number" && actual == "integer")
}

/// Optional inputs are omitted, never sent as null: drop `"null"` from each property's type list
/// (`["string", "null"]` → `"string"`), since strict function-calling schemas reject type arrays.
/// Used as `#[schemars(transform = ...)]` on every tool's input struct.
pub fn omit_not_null(schema: &mut schemars::Schema) {
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for property in properties.values_mut() {
        if let Some(Value::Array(types)) = property.get_mut("type") {
            types.retain(|t| t != "null");
            if let [only] = types.as_slice() {
                property["type"] = only.clone();
            }
        }
    }
}

/// The first argument whose JSON type the schema does not allow, as an error naming it.
pub fn type_mismatch(input_schema: &JsonObject, arguments: &JsonObject) -> Option<ToolError> {
    let properties = input_schema.get("properties")?.as_object()?;
    for (field, value) in arguments {
        let Some(schema) = properties.get(field) else {
            continue;
        };
        if value.is_null() {
            continue; // an explicit null for an optional field still means "absent"
        }
        let allowed: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => continue, // $ref, anyOf, ...: left to decoding
        };
        let actual = json_type(value);
        if allowed.iter().any(|t| fits(t, actual)) {
            continue;
        }
        let expected = allowed
            .iter()
            .filter(|t| **t != "null")
            .copied()
            .collect::<Vec<_>>()
            .join(" or ");
        let mut shown = value.to_string();
        if shown.chars().count() > 40 {
            shown = shown.chars().take(40).collect::<String>() + "…";
        }
        return Some(ToolError::invalid(
            field.clone(),
            format!(
                "must be {} {expected}, got {actual} {shown}",
                article(&expected)
            ),
        ));
    }
    None
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> JsonObject {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn names_the_field_with_the_wrong_type() {
        let schema = obj(json!({"properties": {
            "limit": {"type": "integer"},
            "query": {"type": ["string", "null"]},
            "max_price": {"type": ["number", "null"]}
        }}));
        let err = type_mismatch(&schema, &obj(json!({"limit": "fifty"})))
            .unwrap()
            .for_model();
        assert!(
            err.contains("`limit`") && err.contains("an integer") && err.contains("\"fifty\""),
            "{err}"
        );
        let err = type_mismatch(&schema, &obj(json!({"query": 42})))
            .unwrap()
            .for_model();
        assert!(err.contains("`query`") && err.contains("a string"), "{err}");
        assert!(type_mismatch(
            &schema,
            &obj(json!({"limit": 5, "query": null, "max_price": 1}))
        )
        .is_none());
        assert!(
            type_mismatch(&schema, &obj(json!({"unknown": []}))).is_none(),
            "extra fields are decoding's business"
        );
    }

    #[test]
    fn an_explicit_null_is_left_to_decoding() {
        let schema = obj(json!({"properties": {"limit": {"type": "integer"}}}));
        assert!(type_mismatch(&schema, &obj(json!({"limit": null}))).is_none());
    }

    #[test]
    fn optional_inputs_lose_their_null_type() {
        let mut schema = schemars::Schema::try_from(json!({"properties": {
            "query": {"type": ["string", "null"]},
            "either": {"type": ["string", "integer", "null"]},
            "limit": {"type": "integer"}
        }}))
        .unwrap();
        omit_not_null(&mut schema);
        let props = &schema.as_value()["properties"];
        assert_eq!(props["query"]["type"], "string");
        assert_eq!(props["either"]["type"], json!(["string", "integer"]));
        assert_eq!(props["limit"]["type"], "integer");
    }
}
