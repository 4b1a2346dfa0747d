//! Choosing the tools: `--tools` / VIRTUALSMS_TOOLS and `--exclude-tools` /
//! VIRTUALSMS_EXCLUDE_TOOLS, comma lists of tool and toolset names (src/toolsets.rs).
//!
//! Rules pinned down here:
//! - a list of toolsets and tools offers exactly those (tools/list, through a real rmcp client);
//! - excluded tools are gone, and calling one is an unknown tool (-32602);
//! - read-only mode wins over the selection;
//! - every tool the server has is in the toolset table, and the README's table is the table;
//! - an unknown name is a start-up error that lists the valid names, by flag and by variable;
//! - `tools`, `schema` and `call` honour the flags; `schema` ignores the variables;
//! - a flag replaces its variable.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use crate::common::{fake_options, Harness};
use rmcp::model::CallToolRequestParams;
use virtualsms_mcp::toolsets::{self, ToolSelection};

fn listed(h: &Harness) -> BTreeSet<String> {
    h.tools().iter().map(|t| t.name.to_string()).collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

async fn selecting(include: Option<&str>, exclude: Option<&str>, read_only: bool) -> Harness {
    let selection = ToolSelection::parse(include, exclude).unwrap();
    Harness::with(fake_options(), move |c| {
        c.tools = selection;
        c.guard.read_only = read_only;
    })
    .await
}

fn binary(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_virtualsms-mcp"));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("VIRTUALSMS_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

fn out(cmd: &mut Command) -> (Output, String, String) {
    let o = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    (o, stdout, stderr)
}

fn tool_lines(stdout: &str) -> BTreeSet<String> {
    stdout
        .lines()
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn toolsets_and_tool_names_offer_exactly_those_tools() {
    let h = selecting(Some("discovery, get_balance"), None, false).await;
    assert_eq!(
        listed(&h),
        set(&[
            "list_services",
            "list_countries",
            "find_cheapest",
            "country_pricing",
            "service_availability",
            "get_balance"
        ])
    );
}

#[tokio::test]
async fn excluded_tools_are_gone_and_unknown_when_called() {
    let h = selecting(None, Some("rentals,cancel_order"), false).await;
    let tools = listed(&h);
    assert_eq!(tools.len(), 18 - 3, "{tools:?}");
    for gone in ["extend_rental", "release_rental", "cancel_order"] {
        assert!(!tools.contains(gone), "{gone} listed");
    }
    let err = h
        .client
        .call_tool(
            CallToolRequestParams::new("cancel_order").with_arguments(
                serde_json::json!({"order_id": "ord_1"})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap_err();
    match err {
        rmcp::ServiceError::McpError(e) => assert_eq!(e.code.0, -32602, "{e:?}"),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn read_only_wins_over_the_selection() {
    let h = selecting(Some("orders"), None, true).await;
    let tools = listed(&h);
    assert!(!tools.is_empty());
    assert!(
        tools.contains("get_order") && tools.contains("list_orders"),
        "{tools:?}"
    );
    assert!(
        !tools.contains("create_order") && !tools.contains("cancel_order"),
        "{tools:?}"
    );
    assert!(h
        .tools()
        .iter()
        .all(|t| t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true)));
}

#[tokio::test]
async fn every_tool_is_in_the_toolset_table_and_the_readme_shows_it() {
    let h = Harness::start().await;
    let table: BTreeSet<String> = toolsets::all_tools().map(str::to_owned).collect();
    let offered = listed(&h);
    assert!(
        offered.is_subset(&table),
        "{:?}",
        offered.difference(&table)
    );
    let missing: Vec<&String> = table.difference(&offered).collect();
    assert_eq!(
        missing,
        ["topup_balance"],
        "only the wallet tool needs a wallet"
    );
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains(&toolsets::markdown_table()),
        "README.md's toolset table differs from src/toolsets.rs; paste:\n{}",
        toolsets::markdown_table()
    );
}

#[test]
fn an_unknown_name_is_a_start_up_error_listing_the_valid_ones() {
    let (o, _, stderr) = out(&mut binary(&["--tools", "discovery,ordrs"]));
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("\"ordrs\"")
            && stderr.contains("rentals")
            && stderr.contains("wait_for_sms"),
        "{stderr}"
    );
    let (o, _, stderr) = out(binary(&["tools"]).env("VIRTUALSMS_EXCLUDE_TOOLS", "walet"));
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("VIRTUALSMS_EXCLUDE_TOOLS") && stderr.contains("wallet"),
        "{stderr}"
    );
}

#[test]
fn tools_schema_and_call_honour_the_flags() {
    let (o, stdout, stderr) = out(&mut binary(&["tools", "--tools", "account"]));
    assert!(o.status.success(), "{stderr}");
    assert_eq!(
        tool_lines(&stdout),
        set(&[
            "get_balance",
            "get_profile",
            "get_stats",
            "list_transactions"
        ])
    );

    let (o, stdout, stderr) = out(&mut binary(&[
        "--exclude-tools",
        "discovery,orders,rentals",
        "schema",
    ]));
    assert!(o.status.success(), "{stderr}");
    let schema: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let names: BTreeSet<String> = schema["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");

    let (o, _, stderr) = out(&mut binary(&[
        "--sandbox",
        "--tools",
        "account",
        "call",
        "find_cheapest",
        r#"{"service": "telegram"}"#,
    ]));
    assert!(!o.status.success());
    assert!(stderr.contains("unknown tool"), "{stderr}");
}

#[test]
fn schema_ignores_the_variables_and_a_flag_replaces_its_variable() {
    let (o, stdout, _) = out(binary(&["schema"]).env("VIRTUALSMS_TOOLS", "wallet"));
    assert!(o.status.success());
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tools.schema.json")).unwrap();
    assert_eq!(stdout, checked_in);

    let (o, stdout, stderr) =
        out(binary(&["tools", "--tools", "rentals"]).env("VIRTUALSMS_TOOLS", "account"));
    assert!(o.status.success(), "{stderr}");
    assert_eq!(
        tool_lines(&stdout),
        set(&["extend_rental", "release_rental"])
    );
    let (_, stdout, _) = out(binary(&["tools"]).env("VIRTUALSMS_TOOLS", "account"));
    assert_eq!(
        tool_lines(&stdout).len(),
        4,
        "the variable applies without the flag"
    );
}
