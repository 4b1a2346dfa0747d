//! `virtualsms-mcp`: an MCP stdio server that lets AI agents rent real-SIM phone numbers and
//! receive SMS verification codes through the VirtualSMS REST API v2.
//!
//! Data flows one way: MCP request → [`tools`] → [`api`] → HTTP, and back.
//! - [`config`]: everything read from the environment, validated once; secrets wrapped.
//! - [`api`]: the REST v2 client — the only code that knows URLs, headers and status codes.
//! - [`tools`]: the MCP surface — the only code that knows rmcp.
//! - [`app`]: wiring shared by the binary and the tests.
//! - [`toolsets`]: which tools a server offers (`--tools`, `--exclude-tools`).
//! - [`icon`]: the server's icon (serverInfo, MCPB bundle).
//! - [`cli`]: `schema`, `tools` and `call` for humans, through an in-process MCP client.
//! - [`x402`]: self-funding — an x402 top-up paid in USDC on Base from a configured wallet.
//! - [`sandbox`]: a stateful fake of the VirtualSMS API, used by tests, `--sandbox` and
//!   `sandbox-api`.

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod icon;
pub mod sandbox;
pub mod tools;
pub mod toolsets;
pub mod x402;
