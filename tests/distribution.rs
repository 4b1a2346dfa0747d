//! What users install and paste, checked against the code:
//! - `tools.schema.json` is exactly what `virtualsms-mcp schema` prints (regenerate with
//!   `cargo run -q -- schema > tools.schema.json`), and `mcpb/manifest.json` lists those tools;
//! - `virtualsms-mcp tools` and `virtualsms-mcp call` work like an MCP client (same server, same
//!   results), honour `--sandbox` and the environment, and `call` exits non-zero on an error
//!   result with the error on stderr and nothing on stdout;
//! - the versions in `server.json`, the npm packages and the MCPB manifest equal Cargo.toml's,
//!   and the registry name agrees everywhere (`server.json`, npm `mcpName`, README `mcp-name:`);
//! - every client snippet in `examples/clients/` appears verbatim in the README, launches
//!   `npx -y virtualsms-mcp`, and sets only variables the binary reads.
//!
//! The snippets are also run through real clients (MCP Inspector, the Python SDK) by
//! `scripts/client-tests.sh`; npm and MCPB packaging by `scripts/npm-pack.sh` and
//! `scripts/mcpb-pack.sh`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use virtualsms_mcp::config::env;

const BIN: &str = env!("CARGO_BIN_EXE_virtualsms-mcp");
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: impl AsRef<Path>) -> String {
    let path = root().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &str) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The binary with none of the caller's `VIRTUALSMS_*` variables.
fn binary(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("VIRTUALSMS_") {
            cmd.env_remove(&name);
        }
    }
    cmd.args(args);
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every environment variable the binary reads: the `pub const NAME: &str = "VIRTUALSMS_…";`
/// lines of the `env` module in src/config.rs (so a new variable needs no edit here).
fn known_env() -> Vec<String> {
    let names: Vec<String> = read("src/config.rs")
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("pub const ") && l.contains(": &str = \"VIRTUALSMS_"))
        .filter_map(|l| l.split('"').nth(1).map(str::to_owned))
        .collect();
    for name in [
        env::API_KEY,
        env::BASE_URL,
        env::SPEND_LIMIT,
        env::READ_ONLY,
    ] {
        assert!(
            names.iter().any(|n| n == name),
            "{name} not found in src/config.rs"
        );
    }
    names
}

fn is_known_env(name: &str) -> bool {
    known_env().iter().any(|n| n == name)
}

// --- tools.schema.json --------------------------------------------------------------------------

#[test]
fn tools_schema_json_is_what_the_code_produces() {
    let out = run(&mut binary(&["schema"]));
    assert!(out.status.success(), "schema failed: {}", stderr(&out));
    let produced = stdout(&out);
    let checked_in = read("tools.schema.json");
    assert!(
        produced == checked_in,
        "tools.schema.json is out of date with the code. Regenerate it:\n\
         \n    cargo run -q -- schema > tools.schema.json\n\n\
         and review the diff (it is what MCP clients see)."
    );
}

#[test]
fn schema_describes_every_tool_fully_and_ignores_the_environment() {
    let schema: Value = serde_json::from_str(&read("tools.schema.json")).unwrap();
    let tools = schema["tools"].as_array().expect("a tools array");
    assert_eq!(tools.len(), 18, "the default server has 18 tools");
    for tool in tools {
        let name = tool["name"].as_str().unwrap();
        for field in ["title", "description"] {
            assert!(
                tool[field].as_str().is_some_and(|s| !s.is_empty()),
                "{name}: {field}"
            );
        }
        for field in ["inputSchema", "outputSchema", "annotations"] {
            assert!(tool[field].is_object(), "{name}: {field}");
        }
        jsonschema::validator_for(&tool["inputSchema"])
            .unwrap_or_else(|e| panic!("{name}: inputSchema is not a valid JSON Schema: {e}"));
        jsonschema::validator_for(&tool["outputSchema"])
            .unwrap_or_else(|e| panic!("{name}: outputSchema is not a valid JSON Schema: {e}"));
    }
    // `schema` is of the default server: read-only mode in the environment changes nothing.
    let out = run(binary(&["schema"]).env(env::READ_ONLY, "1"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), read("tools.schema.json"));
}

#[test]
fn mcpb_manifest_lists_the_schema_tools() {
    let schema = json("tools.schema.json");
    let expected: Vec<Value> = schema["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| serde_json::json!({"name": t["name"], "description": t["description"]}))
        .collect();
    let manifest = json("mcpb/manifest.json");
    assert_eq!(
        manifest["tools"].as_array().unwrap(),
        &expected,
        "mcpb/manifest.json `tools` differs from tools.schema.json (scripts/mcpb-pack.sh \
         regenerates the bundle's list from the binary; update the checked-in one to match)"
    );
    assert_eq!(manifest["manifest_version"], "0.3");
    assert_eq!(manifest["server"]["type"], "binary");
    let api_key = &manifest["user_config"]["api_key"];
    assert_eq!(api_key["sensitive"], true);
    assert_eq!(api_key["required"], true);
    let env_map = manifest["server"]["mcp_config"]["env"].as_object().unwrap();
    assert_eq!(env_map[env::API_KEY], "${user_config.api_key}");
    for name in env_map.keys() {
        assert!(is_known_env(name), "mcpb env {name} is not read");
    }
}

// --- tools / call ---------------------------------------------------------------------------------

#[test]
fn tools_prints_one_line_per_tool() {
    let out = run(&mut binary(&["tools"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 18, "{text}");
    assert!(
        lines.contains(&"find_cheapest — Find the cheapest number"),
        "{text}"
    );
    assert!(
        stderr(&out).is_empty(),
        "nothing on stderr: {}",
        stderr(&out)
    );

    // The environment applies: read-only leaves only the read-only tools.
    let out = run(binary(&["tools"]).env(env::READ_ONLY, "1"));
    let read_only = stdout(&out);
    assert!(out.status.success());
    assert!(read_only.lines().count() < 18, "{read_only}");
    assert!(!read_only.contains("create_order"), "{read_only}");
}

#[test]
fn the_sandbox_simulates_every_provider_when_asked() {
    let out = run(binary(&[
        "--sandbox",
        "call",
        "find_cheapest",
        r#"{"service": "telegram", "country": "us"}"#,
    ])
    .env("VIRTUALSMS_PROVIDERS", "all"));
    assert!(out.status.success(), "{}", stderr(&out));
    let value: Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    let providers: Vec<&str> = value["offers"]
        .as_array()
        .expect("offers from every provider")
        .iter()
        .map(|o| o["provider"].as_str().unwrap())
        .collect();
    assert_eq!(
        providers.len(),
        3,
        "virtualsms, smscode, smsverificationservice: {value}"
    );
}

#[test]
fn call_prints_the_structured_result_in_sandbox_mode() {
    let out = run(&mut binary(&[
        "--sandbox",
        "call",
        "find_cheapest",
        r#"{"service": "telegram", "country": "us"}"#,
    ]));
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        stderr(&out)
    );
    let value: Value = serde_json::from_str(&stdout(&out)).expect("stdout is one JSON document");
    // The sandbox speaks REST v1 by default, whose service ids are short codes.
    assert_eq!(value["service"], "tg");
    assert_eq!(value["country"], "us");
    assert!(value["price"].as_f64().unwrap() > 0.0, "{value}");
    // Pretty-printed, and the result validates against the tool's outputSchema.
    assert!(stdout(&out).contains("\n  \""), "pretty JSON");
    let schema = json("tools.schema.json");
    let tool = schema["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "find_cheapest")
        .unwrap();
    let validator = jsonschema::validator_for(&tool["outputSchema"]).unwrap();
    assert!(validator.is_valid(&value), "{value}");
    assert!(
        stderr(&out).contains("[sandbox]"),
        "sandbox results say so: {}",
        stderr(&out)
    );
}

#[test]
fn call_honours_the_sandbox_for_account_and_order_tools() {
    // Each `call` is its own process with its own sandbox (no state carries over), and the
    // sandbox supplies the key: account and spending tools work with no VIRTUALSMS_API_KEY.
    let out = run(&mut binary(&["--sandbox", "call", "get_balance"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let balance: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(balance["balance"].as_f64().is_some(), "{balance}");
    let out = run(&mut binary(&[
        "--sandbox",
        "call",
        "create_order",
        r#"{"service": "telegram", "country": "us"}"#,
    ]));
    assert!(out.status.success(), "{}", stderr(&out));
    let order: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(order["order_id"].as_str().is_some(), "{order}");
}

#[test]
fn call_exits_non_zero_on_an_error_result() {
    let out = run(&mut binary(&[
        "--sandbox",
        "call",
        "get_order",
        r#"{"order_id": "ord_does_not_exist"}"#,
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("get_order returned an error"), "{err}");
    assert!(err.contains("list_orders"), "the next step is shown: {err}");
}

#[test]
fn call_refuses_bad_arguments_and_unknown_tools() {
    for (args, expected) in [
        (vec!["call", "find_cheapest", "not json"], "JSON object"),
        (vec!["call", "find_cheapest", "[1, 2]"], "JSON object"),
        (vec!["call", "no_such_tool"], "unknown tool"),
    ] {
        let out = run(&mut binary(&args));
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(out.stdout.is_empty(), "{args:?}: {}", stdout(&out));
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    // A tool's own argument validation is an error result too (same path as MCP).
    let out = run(&mut binary(&["--sandbox", "call", "find_cheapest", "{}"]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("service"), "{}", stderr(&out));
}

#[test]
fn call_without_sandbox_honours_the_environment() {
    // Account tools refuse without a key, before any request (nothing listens on port 9).
    let out = run(binary(&["call", "get_balance"]).env(env::BASE_URL, "http://127.0.0.1:9/api/v2"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(env::API_KEY), "{}", stderr(&out));
    // A bad variable is reported by name.
    let out = run(binary(&["tools"]).env(env::SPEND_LIMIT, "lots"));
    assert!(!out.status.success());
    assert!(stderr(&out).contains(env::SPEND_LIMIT), "{}", stderr(&out));
}

// --- versions and names -----------------------------------------------------------------------

#[test]
fn versions_agree_with_cargo_toml() {
    let server = json("server.json");
    assert_eq!(server["version"], VERSION, "server.json version");
    for package in server["packages"].as_array().unwrap() {
        assert_eq!(package["version"], VERSION, "server.json package version");
    }
    let launcher = json("npm/virtualsms-mcp/package.json");
    assert_eq!(launcher["version"], VERSION, "npm launcher version");
    let optional = launcher["optionalDependencies"].as_object().unwrap();
    assert!(!optional.is_empty());
    for (name, version) in optional {
        assert_eq!(version, VERSION, "optionalDependencies {name}");
        let dir = name
            .strip_prefix("@virtualsms/mcp-")
            .expect("@virtualsms/mcp-<os>-<cpu>");
        let platform = json(&format!("npm/platforms/{dir}/package.json"));
        assert_eq!(&platform["name"], name);
        assert_eq!(platform["version"], VERSION, "{name} version");
        let (os, cpu) = dir.split_once('-').unwrap();
        assert_eq!(platform["os"], serde_json::json!([os]), "{name} os");
        assert_eq!(platform["cpu"], serde_json::json!([cpu]), "{name} cpu");
    }
    assert_eq!(
        json("mcpb/manifest.json")["version"],
        VERSION,
        "mcpb version"
    );
}

#[test]
fn registry_name_and_package_agree_everywhere() {
    let server = json("server.json");
    let name = server["name"].as_str().unwrap();
    assert!(
        name.starts_with("io.github.") && name.ends_with("/virtualsms-mcp"),
        "{name}"
    );
    let description = server["description"].as_str().unwrap();
    assert!(
        description.chars().count() <= 100,
        "description over 100 characters"
    );
    let launcher = json("npm/virtualsms-mcp/package.json");
    assert_eq!(launcher["mcpName"], name, "npm mcpName");
    assert!(
        read("README.md").contains(&format!("mcp-name: {name}")),
        "the README's mcp-name line (crates.io ownership proof)"
    );
    let package = &server["packages"][0];
    assert_eq!(package["registryType"], "npm");
    assert_eq!(package["identifier"], launcher["name"]);
    assert_eq!(package["transport"]["type"], "stdio");
    let vars = package["environmentVariables"].as_array().unwrap();
    let key = vars.iter().find(|v| v["name"] == env::API_KEY).unwrap();
    assert_eq!(key["isSecret"], true);
    for var in vars {
        let var_name = var["name"].as_str().unwrap();
        assert!(is_known_env(var_name), "server.json lists {var_name}");
    }
}

// --- README snippets ------------------------------------------------------------------------------

fn snippets() -> Vec<(String, String)> {
    let dir = root().join("examples/clients");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("examples/clients exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    assert!(files.len() >= 9, "{files:?}");
    files
}

#[test]
fn readme_shows_every_client_snippet_verbatim() {
    let readme = read("README.md");
    for (name, text) in snippets() {
        assert!(
            readme.contains(text.trim_end()),
            "README.md must contain examples/clients/{name} verbatim (the tests run the file, \
             users copy the README):\n{text}"
        );
    }
}

#[test]
fn snippets_launch_npx_and_set_only_known_variables() {
    let env_name = |word: &str| -> Option<String> {
        let start = word.find("VIRTUALSMS_")?;
        let rest = &word[start..];
        let end = rest
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        Some(rest[..end].to_owned())
    };
    for (name, text) in snippets() {
        assert!(
            text.contains("npx") && text.contains("virtualsms-mcp"),
            "{name} launches npx virtualsms-mcp"
        );
        if name.ends_with(".json") {
            let value: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(value.is_object(), "{name}");
        }
        for word in text.split(|c: char| c.is_whitespace() || c == '"' || c == '{') {
            if let Some(var) = env_name(word) {
                assert!(
                    is_known_env(&var),
                    "{name}: {var} is not read by the binary"
                );
            }
        }
    }
}

// --- environment variables --------------------------------------------------------------------

#[test]
fn the_readme_configuration_table_is_the_one_table_of_variables() {
    let table = virtualsms_mcp::config::env_markdown();
    assert!(
        read("README.md").contains(&table),
        "README.md must contain the configuration table rendered from src/config.rs VARS:\n{table}"
    );
}

#[test]
fn help_lists_every_variable_the_source_reads() {
    let out = run(&mut binary(&["--help"]));
    let help = stdout(&out);
    for v in virtualsms_mcp::config::VARS {
        assert!(help.contains(v.name), "--help lacks {}", v.name);
    }
    // Every VIRTUALSMS_* name written in the source is in the table.
    let mut names = std::collections::BTreeSet::new();
    for file in std::fs::read_dir("src").unwrap().flatten() {
        collect_env_names(&file.path(), &mut names);
    }
    for name in names {
        assert!(
            virtualsms_mcp::config::VARS.iter().any(|v| v.name == name)
                || name == "VIRTUALSMS_MCP_BINARY",
            "{name} is read somewhere in src/ but missing from config::VARS"
        );
    }
}

fn collect_env_names(path: &std::path::Path, names: &mut std::collections::BTreeSet<String>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap().flatten() {
            collect_env_names(&entry.path(), names);
        }
        return;
    }
    if path.extension().is_none_or(|e| e != "rs") {
        return;
    }
    let text = std::fs::read_to_string(path).unwrap();
    for (i, _) in text.match_indices("\"VIRTUALSMS_") {
        let rest = &text[i + 1..];
        let end = rest
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        names.insert(rest[..end].to_owned());
    }
}
