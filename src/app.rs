//! The one way a server is built, for the binary, the CLI commands and the tests alike: resolve
//! the configuration (the embedded sandbox for `--sandbox`, a key saved by an earlier top-up),
//! build the backend it points at, and the MCP server over it. [`App::serve_stdio`] serves MCP
//! on stdin/stdout.

use std::net::{Ipv4Addr, SocketAddr};

use rmcp::ServiceExt;

use crate::backends::ApiError;
use crate::config::{ApiKey, ApiVersion, Config};
use crate::sandbox::{FakeApi, FakeHandle, FakeOptions};
use crate::tools::VirtualSmsServer;
use crate::transport::KeySlot;

/// The longest JSON-RPC line read from stdin.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// How often wait_for_sms polls the embedded sandbox on v1, at most.
const SANDBOX_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// The key the embedded sandbox accepts. A real key is never sent to the sandbox.
pub const SANDBOX_API_KEY: &str = "sk_sandbox_not_a_real_key";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start the embedded sandbox: {0}")]
    Sandbox(#[from] std::io::Error),
    #[error(transparent)]
    Backend(#[from] ApiError),
    #[error("MCP session failed to start: {0}")]
    Session(String),
}

/// A ready server, plus the embedded fake API it talks to in sandbox mode.
pub struct App {
    pub server: VirtualSmsServer,
    /// Keeps the embedded fake running as long as the app lives.
    pub sandbox: Option<FakeHandle>,
}

impl App {
    pub async fn new(config: Config) -> Result<Self, StartError> {
        Self::build(config, vec![SANDBOX_API_KEY.to_owned()]).await
    }

    /// [`App::new`] for a server many clients share (the HTTP mode, `crate::http`): the embedded
    /// sandbox accepts any key, each one a simulated account of its own.
    pub async fn new_shared(config: Config) -> Result<Self, StartError> {
        Self::build(config, Vec::new()).await
    }

    async fn build(mut config: Config, sandbox_keys: Vec<String>) -> Result<Self, StartError> {
        let sandbox = if config.sandbox {
            Some(start_sandbox(&mut config, sandbox_keys).await?)
        } else {
            // No VIRTUALSMS_API_KEY: use the key an earlier x402 top-up saved, if any.
            crate::x402::credentials::adopt_saved_key(&mut config);
            None
        };
        let key = KeySlot::new(config.api_key.clone());
        let providers = crate::providers::build(&config, key.clone())?;
        tracing::info!(
            base_url = %config.base_url,
            api = providers.default_member().backend.name(),
            providers = ?providers.names(),
            api_key = if config.api_key.is_some() { "set" } else { "not set" },
            read_only = config.guard.read_only,
            "virtualsms-mcp ready"
        );
        Ok(Self {
            server: VirtualSmsServer::new(providers, key, config),
            sandbox,
        })
    }

    /// Serves MCP on stdin/stdout until the client closes stdin.
    pub async fn serve_stdio(self) -> Result<(), StartError> {
        let (stdin, stdout) = rmcp::transport::io::stdio_pipes();
        // rmcp buffers a line up to 16 MiB by default and keeps the buffer; no real request is
        // near 4 MiB, so a bigger line is dropped before it can inflate memory.
        let transport = rmcp::transport::async_rw::AsyncRwTransport::new_server(stdin, stdout)
            .with_max_line_length(MAX_LINE_BYTES);
        let running = self
            .server
            .serve(transport)
            .await
            .map_err(|e| StartError::Session(e.to_string()))?;
        let reason = running.waiting().await;
        tracing::info!(?reason, "MCP session ended");
        Ok(())
    }
}

/// The other providers the configuration names, pointed at the fake's dialects of them with
/// the sandbox key (SMSCode with the fake's own IDR rate unless one is set), so
/// `VIRTUALSMS_PROVIDERS=all --sandbox` shows a cross-provider find_cheapest without any key.
fn sandbox_providers(config: &mut Config, handle: &FakeHandle) {
    let key = || Some(ApiKey::new(SANDBOX_API_KEY));
    for provider in config.providers.clone() {
        match provider.as_str() {
            "smscode" => {
                let rate = config.smscode.as_ref().and_then(|s| s.idr_per_usd);
                config.smscode = Some(crate::config::SmsCodeSettings {
                    token: key(),
                    base_url: handle.smscode_base_url(),
                    idr_per_usd: rate.or(Some(crate::sandbox::smscode::IDR_PER_USD as f64)),
                    rate_limit_per_minute: crate::config::SMSCODE_RATE_LIMIT,
                });
            }
            "smsverificationservice" => {
                let svs = &mut config.smsverificationservice;
                svs.api_key = key();
                svs.base_url = handle.smsverificationservice_base_url();
            }
            _ => {}
        }
    }
}

/// `--sandbox`: the embedded fake on a free loopback port, speaking v1 (what is live) unless
/// `VIRTUALSMS_API_VERSION=v2` asks for the v2 dialect. It accepts `api_keys` (empty: any key).
async fn start_sandbox(
    config: &mut Config,
    api_keys: Vec<String>,
) -> Result<FakeHandle, StartError> {
    let fake = FakeApi::new(FakeOptions {
        sms_delay: Some(config.sandbox_sms_delay),
        api_keys,
        ..FakeOptions::default()
    });
    let handle = fake
        .spawn(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await?;
    config.base_url = match config.api_version {
        ApiVersion::V2 => handle.base_url(),
        ApiVersion::V1 | ApiVersion::Auto => handle.v1_base_url(),
    };
    config.api_key = Some(ApiKey::new(SANDBOX_API_KEY));
    // The fake is local: a simulated SMS should show up about when it is sent.
    config.poll_interval = config.poll_interval.min(SANDBOX_POLL_INTERVAL);
    tracing::info!(base_url = %config.base_url, "sandbox mode: simulated VirtualSMS, no real numbers or money");
    sandbox_providers(config, &handle);
    config.x402.use_sandbox(&fake, &handle);
    if config.x402.has_wallet() {
        // With a wallet, the sandbox demonstrates self-funding: start without a key and let
        // topup_balance issue one.
        config.api_key = None;
    }
    Ok(handle)
}
