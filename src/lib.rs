//! `virtualsms-mcp`: an MCP server that lets AI agents rent real-SIM phone numbers and receive
//! SMS verification codes through VirtualSMS (REST v1, what is live, or v2).
//!
//! Data flows one way: MCP request → [`tools`] → [`backends`] → [`transport`] → HTTP, and back.
//! - [`config`]: every environment variable in one table, read and validated once; secrets wrapped.
//! - [`domain`]: the provider-neutral types the tools return (offers, orders, SMS, pages).
//! - [`backends`]: the [`backends::Backend`] trait and one implementation per API, the only code
//!   that knows URLs, headers, status codes and wire shapes.
//! - [`providers`]: the configured providers behind the same tools; ids and currencies.
//! - [`transport`]: one HTTP send for every backend and x402 (bounded bodies, redaction, pacing,
//!   retry rules).
//! - [`tools`]: the MCP surface, the only code that knows rmcp.
//! - [`app`]: builds the server from a configuration, for the binary, the CLI and the tests.
//! - [`toolsets`]: which tools a server offers (`--tools`, `--exclude-tools`).
//! - [`icon`]: the server's icon (serverInfo, MCPB bundle).
//! - [`http`]: `virtualsms-mcp http`, MCP over Streamable HTTP for many clients, one server per key.
//! - [`cli`]: `schema`, `tools` and `call` for humans, through an in-process MCP client.
//! - [`tls`]: which certificates HTTPS trusts (`SSL_CERT_FILE`, the system, or built-in roots).
//! - [`x402`]: self-funding — an x402 top-up paid in USDC (Base or Solana, x402 v1 or v2) from a
//!   configured wallet.
//! - [`sandbox`]: a stateful fake of the VirtualSMS API, used by tests, `--sandbox` and
//!   `sandbox-api`.

pub mod app;
pub mod backends;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod icon;
pub mod providers;
pub mod sandbox;
pub mod tls;
pub mod tools;
pub mod toolsets;
pub mod transport;
pub mod x402;
