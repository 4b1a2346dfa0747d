//! Property tests of argument decoding: for every tool, arbitrary JSON objects as `arguments`
//! (the tool's own fields and made-up ones, holding nulls, booleans, big and negative numbers,
//! floats, unicode and control characters, nested arrays and objects) go through a real MCP
//! client to the server, which talks to the fake API.
//!
//! For every case: the server does not panic and the session survives; the call returns a
//! result (`isError` or a success whose structured content matches the tool's `outputSchema`)
//! or a JSON-RPC invalid-params error; it answers within [`CALL_LIMIT`]. After each tool's run a
//! normal call still works.
//!
//! Bounded: [`DEFAULT_CASES`] cases per tool, or `PROPTEST_CASES` from the environment.
//! wait_for_sms only ever sees order ids the fake does not know, so it answers at once
//! (404) instead of long-polling.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::common::{assert_valid, fake_options, Harness};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rmcp::model::{CallToolRequestParams, ErrorCode};
use rmcp::ServiceError;
use serde_json::{json, Map, Value};
use virtualsms_mcp::sandbox::FakeOptions;

const DEFAULT_CASES: u32 = 64;
/// No call may take longer than this (the fake answers at once; retries are 5 ms apart).
const CALL_LIMIT: Duration = Duration::from_secs(5);

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

/// Strings worth trying: valid slugs and ids, path tricks, unicode, control characters.
const STRINGS: &[&str] = &[
    "",
    " ",
    "telegram",
    "TELEGRAM",
    " us ",
    "us",
    "whatsapp",
    "ord_00000000",
    "../me",
    "a/b?c=d#e",
    "%2e%2e%2fme",
    "\u{0}",
    "\n\r\t",
    "ü",
    "电报",
    "🦀",
    "\u{202e}rtl",
    "\u{feff}",
    "null",
    "1e309",
    "-1",
    "0x10",
];

/// Values some string fields accept (a service and a country in stock, in odd spellings).
const VALID: &[&str] = &["telegram", " Telegram ", "us", "US", "whatsapp", "gb"];

/// Numbers worth trying: every boundary the tools check, and beyond u32 / i64 / f64 ranges.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            json!(0),
            json!(1),
            json!(4),
            json!(5),
            json!(20),
            json!(50),
            json!(100),
            json!(101),
            json!(500),
            json!(501),
            json!(720),
            json!(721),
            json!(900),
            json!(901),
            json!(u32::MAX),
            json!(u64::from(u32::MAX) + 1),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(-1),
            json!(0.5),
            json!(-0.0),
            json!(1e-300),
            json!(1.7976931348623157e308),
        ]),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
    ]
}

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(STRINGS).prop_map(str::to_owned),
        prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter),
        (1_usize..5000).prop_map(|n| "x".repeat(n)),
    ]
}

/// Any JSON value, nested up to 3 levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(string(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An `arguments` object of one of two kinds, half and half:
/// - any: some of the tool's fields (and the `timeout` alias), some made-up ones, any values;
/// - typed: each of the tool's fields (most of the time) with a value of its declared type, but
///   an unusual one (unicode, path tricks, boundaries), so calls get past decoding into
///   validation, the API and the fake.
fn arguments(h: &Harness, tool: &str) -> BoxedStrategy<Map<String, Value>> {
    let properties = h
        .tool(tool)
        .input_schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut names: Vec<String> = properties.keys().cloned().collect();
    if tool == "wait_for_sms" {
        names.push("timeout".into());
    }
    if names.is_empty() {
        names.push("unused".into());
    }
    let name = prop_oneof![
        3 => prop::sample::select(names),
        1 => string(),
    ];
    let any_args = prop::collection::btree_map(name, json_value(), 0..6)
        .prop_map(|m: BTreeMap<String, Value>| m.into_iter().collect::<Map<_, _>>());

    let typed_fields: Vec<BoxedStrategy<Option<(String, Value)>>> = properties
        .iter()
        .map(|(field, schema)| {
            let field = field.clone();
            prop::option::weighted(0.8, typed_value(schema))
                .prop_map(move |v| v.map(|v| (field.clone(), v)))
                .boxed()
        })
        .collect();
    let typed_args =
        typed_fields.prop_map(|fields| fields.into_iter().flatten().collect::<Map<_, _>>());
    prop_oneof![any_args, typed_args].boxed()
}

/// A value of the type a property schema declares (the first non-null one).
fn typed_value(schema: &Value) -> BoxedStrategy<Value> {
    let declared = match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null")
            .to_owned(),
        _ => String::new(),
    };
    match declared.as_str() {
        "string" => prop_oneof![
            1 => prop::sample::select(VALID).prop_map(Value::from),
            2 => string().prop_map(Value::String),
        ]
        .boxed(),
        "integer" => prop_oneof![
            prop::sample::select(vec![
                0_i64, 1, 4, 5, 20, 100, 101, 500, 501, 720, 721, 900, 901
            ])
            .prop_map(Value::from),
            any::<u32>().prop_map(Value::from),
        ]
        .boxed(),
        "number" => prop_oneof![
            prop::sample::select(vec![0.0, 0.01, 0.05, 0.5, 1.0, 5.0, 1e9]).prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ]
        .boxed(),
        "boolean" => any::<bool>().prop_map(Value::Bool).boxed(),
        _ => json_value().boxed(),
    }
}

/// A panic in server code (anything under `src/`) anywhere in the process.
fn count_server_panics() -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info
            .location()
            .is_some_and(|l| l.file().starts_with("src/"))
        {
            seen.fetch_add(1, Ordering::SeqCst);
        }
        default(info);
    }));
    count
}

#[test]
fn arbitrary_arguments_never_break_a_tool_or_the_session() {
    let panics = count_server_panics();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let h = rt.block_on(Harness::with(
        FakeOptions {
            starting_balance_cents: 100_000_000,
            ..fake_options()
        },
        |_| {},
    ));
    let tools: Vec<String> = h.tools().iter().map(|t| t.name.to_string()).collect();
    assert_eq!(tools.len(), 18, "{tools:?}");
    let cases = cases();

    for tool in &tools {
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let outcomes = std::cell::RefCell::new(BTreeMap::<&str, u32>::new());
        let result = runner.run(&arguments(&h, tool), |args| {
            let params = CallToolRequestParams::new(tool.clone()).with_arguments(args.clone());
            let answer = rt
                .block_on(async {
                    tokio::time::timeout(CALL_LIMIT, h.client.call_tool(params)).await
                })
                .map_err(|_| {
                    TestCaseError::fail(format!("{tool}: no answer within {CALL_LIMIT:?}"))
                })?;
            let outcome = match answer {
                Ok(result) if result.is_error == Some(true) => {
                    prop_assert!(
                        result.structured_content.is_none(),
                        "{tool}: error results are text-only"
                    );
                    "isError"
                }
                Ok(result) => {
                    let structured = result.structured_content.as_ref().ok_or_else(|| {
                        TestCaseError::fail(format!("{tool}: no structured content"))
                    })?;
                    assert_valid(h.tool(tool), structured);
                    "success"
                }
                Err(ServiceError::McpError(e)) if e.code == ErrorCode::INVALID_PARAMS => {
                    "invalid params"
                }
                Err(e) => {
                    return Err(TestCaseError::fail(format!(
                        "{tool}: neither a result nor invalid params: {e:?}"
                    )))
                }
            };
            *outcomes.borrow_mut().entry(outcome).or_default() += 1;
            Ok(())
        });
        if let Err(e) = result {
            panic!("{tool}: {e}");
        }
        eprintln!("{tool:>22}: {cases} cases: {:?}", outcomes.borrow());
        // The session survived: a normal call works.
        rt.block_on(h.ok("get_balance", json!({})));
        assert_eq!(panics.load(Ordering::SeqCst), 0, "the server panicked");
    }
    rt.block_on(h.ok("list_services", json!({"query": "tele", "limit": 5})));
    assert_eq!(h.fake.open_long_polls(), 0, "no wait was left hanging");
}
