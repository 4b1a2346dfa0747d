//! Commands for humans and scripts — `schema`, `tools`, `call` — on the same code path as MCP
//! clients: each one builds the real server with [`App::new`] (so `--sandbox` and every
//! `VIRTUALSMS_*` variable apply), serves it in-process over a `tokio::io::duplex` pipe, and
//! talks to it through an rmcp client. What these commands print is what `tools/list` and
//! `tools/call` return.
//!
//! The library returns, the binary prints: stdout gets only the result (pretty JSON, or one line
//! per tool); everything else goes to stderr. A tool call that returns an error result
//! (`isError: true`) is an `Err`, so the binary exits non-zero with the error text on stderr.

use rmcp::model::{CallToolRequestParams, CallToolResult, Tool};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;

use crate::app::App;
use crate::config::Config;
use crate::tools::SANDBOX_NOTICE;

/// A running server with an MCP client connected to it over an in-memory pipe.
struct Session {
    client: RunningService<RoleClient, ()>,
    /// Keeps the embedded sandbox (if any) alive for the session.
    _app_sandbox: Option<crate::sandbox::FakeHandle>,
}

impl Session {
    async fn start(config: Config) -> anyhow::Result<Self> {
        let app = App::new(config).await?;
        let (server_io, client_io) = tokio::io::duplex(1 << 20);
        let server = app.server;
        tokio::spawn(async move {
            match server.serve(server_io).await {
                Ok(running) => {
                    let _ = running.waiting().await;
                }
                Err(e) => tracing::error!("in-process MCP server failed to start: {e}"),
            }
        });
        let client = ()
            .serve(client_io)
            .await
            .map_err(|e| anyhow::anyhow!("MCP handshake with the in-process server failed: {e}"))?;
        Ok(Self {
            client,
            _app_sandbox: app.sandbox,
        })
    }

    async fn tools(&self) -> anyhow::Result<Vec<Tool>> {
        self.client
            .list_all_tools()
            .await
            .map_err(|e| anyhow::anyhow!("tools/list failed: {e}"))
    }

    async fn close(self) {
        let _ = self.client.cancel().await;
    }
}

/// The configuration `schema` describes: the default server, as if no `VIRTUALSMS_*` variable
/// were set (no read-only filter, no wallet). The checked-in `tools.schema.json` is this.
pub fn default_config() -> Config {
    Config::from_lookup(|_| None).expect("an empty environment is a valid configuration")
}

/// `{"tools": [...]}` exactly as `tools/list` returns them from the default server (see
/// [`default_config`]), pretty-printed, with a final newline. This is `tools.schema.json`.
pub async fn schema_json() -> anyhow::Result<String> {
    schema_json_of(crate::toolsets::ToolSelection::default()).await
}

/// [`schema_json`] of the default server narrowed to `selection` (`--tools`, `--exclude-tools`;
/// the environment still does not apply).
pub async fn schema_json_of(selection: crate::toolsets::ToolSelection) -> anyhow::Result<String> {
    let mut config = default_config();
    config.tools = selection;
    let session = Session::start(config).await?;
    let tools = session.tools().await;
    session.close().await;
    let mut text = serde_json::to_string_pretty(&serde_json::json!({ "tools": tools? }))?;
    text.push('\n');
    Ok(text)
}

/// One line per tool, `name — title`, as the server configured by `config` lists them.
pub async fn tools_text(config: Config) -> anyhow::Result<String> {
    let session = Session::start(config).await?;
    let tools = session.tools().await;
    session.close().await;
    let mut out = String::new();
    for tool in tools? {
        let title = tool
            .title
            .clone()
            .or_else(|| tool.annotations.as_ref().and_then(|a| a.title.clone()))
            .unwrap_or_default();
        out.push_str(&format!("{} — {}\n", tool.name, title));
    }
    Ok(out)
}

/// A failed `call`: the message is what the user sees on stderr.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("arguments must be a JSON object, e.g. '{{\"service\": \"telegram\"}}': {0}")]
    BadArguments(String),
    #[error("unknown tool {0:?}; `virtualsms-mcp tools` lists them")]
    UnknownTool(String),
    #[error("{tool} returned an error:\n{text}")]
    ToolFailed { tool: String, text: String },
    #[error("{tool}: {message}")]
    Protocol { tool: String, message: String },
}

/// Calls `tool` with `args` (a JSON object; empty means `{}`) on the server configured by
/// `config`. Returns the structured result, or the text result when the tool sent no structured
/// content. An `isError` result is [`CallError::ToolFailed`].
pub async fn call_value(config: Config, tool: &str, args: &str) -> anyhow::Result<Called> {
    let args: Value = if args.trim().is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_str(args).map_err(|e| CallError::BadArguments(e.to_string()))?
    };
    let Value::Object(args) = args else {
        return Err(CallError::BadArguments(format!("got {args}")).into());
    };
    let session = Session::start(config).await?;
    let known = session.tools().await?.iter().any(|t| t.name == tool);
    if !known {
        session.close().await;
        return Err(CallError::UnknownTool(tool.to_owned()).into());
    }
    let result = session
        .client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(args))
        .await;
    session.close().await;
    let result = result.map_err(|e| CallError::Protocol {
        tool: tool.to_owned(),
        message: e.to_string(),
    })?;
    interpret(tool, result)
}

/// A tool's result, for the binary to print.
#[derive(Debug)]
pub struct Called {
    /// The structured result, or the text result when the tool sent no structured content.
    pub value: Value,
    /// The result came from the sandbox ([`SANDBOX_NOTICE`] was attached).
    pub simulated: bool,
}

fn interpret(tool: &str, result: CallToolResult) -> anyhow::Result<Called> {
    let texts: Vec<&str> = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
        .collect();
    let simulated = texts.contains(&SANDBOX_NOTICE);
    let texts: Vec<&str> = texts.into_iter().filter(|t| *t != SANDBOX_NOTICE).collect();
    if result.is_error == Some(true) {
        return Err(CallError::ToolFailed {
            tool: tool.to_owned(),
            text: texts.join("\n"),
        }
        .into());
    }
    let value = match result.structured_content {
        Some(value) => value,
        None => Value::String(texts.join("\n")),
    };
    Ok(Called { value, simulated })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn schema_lists_every_default_tool_with_its_schemas() {
        let text = schema_json().await.unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        let tools = value["tools"].as_array().unwrap();
        assert_eq!(tools.len(), 18);
        for tool in tools {
            for field in [
                "name",
                "title",
                "description",
                "inputSchema",
                "outputSchema",
            ] {
                assert!(tool.get(field).is_some(), "{field} missing in {tool}");
            }
        }
    }

    #[tokio::test]
    async fn bad_arguments_are_refused_before_any_call() {
        let err = call_value(default_config(), "find_cheapest", "[1]")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("JSON object"), "{err}");
        let err = call_value(default_config(), "no_such_tool", "{}")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("unknown tool"), "{err}");
    }
}
