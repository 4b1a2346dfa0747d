//! The integration tests: one binary, one module per behaviour (ripgrep's `tests/tests.rs`
//! layout), so CI links one test executable instead of one per file.
//!
//! Every module starts with the rules it pins down. `common` is the harness (fake API + server +
//! a real rmcp client); `rawio` drives the real binary over raw stdio bytes.

mod common;
mod rawio;

mod argument_fuzz;
mod concurrency;
mod confirm_purchase;
mod errors;
mod faults;
mod http;
mod idempotency;
mod missing_key;
mod per_backend;
mod prompts_resources;
mod protocol_abuse;
mod providers;
mod secrets;
mod smscode;
mod smsverificationservice;
mod spending_guard;
mod stdio;
mod tls;
mod tool_definitions;
mod tool_selection;
mod tools_account;
mod tools_catalog;
mod tools_list_size;
mod tools_orders;
mod v1;
mod wait_for_sms;
mod x402;
