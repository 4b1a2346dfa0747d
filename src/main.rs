//! The `virtualsms-mcp` binary: parses the command line, sends logs to stderr (stdout is the
//! MCP channel), and runs what the library offers.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use virtualsms_mcp::app::App;
use virtualsms_mcp::config::Config;
use virtualsms_mcp::sandbox::{FakeApi, FakeOptions};

const ENV_HELP: &str = "\
Environment:
  VIRTUALSMS_API_KEY            your API key (https://virtualsms.io/dashboard); discovery tools work without it
  VIRTUALSMS_BASE_URL           REST v2 base URL [default: https://virtualsms.io/api/v2]
  VIRTUALSMS_LOG                log filter, always to stderr [default: info,rmcp=warn]
  VIRTUALSMS_MAX_ORDER_PRICE    refuse orders above this price (USD)
  VIRTUALSMS_SPEND_LIMIT        total USD this process may spend
  VIRTUALSMS_READ_ONLY=1        hide and refuse every tool that spends or changes anything
  VIRTUALSMS_SANDBOX_SMS_DELAY  seconds before a simulated SMS arrives with --sandbox [default: 5]
  VIRTUALSMS_CATALOG_TTL_SECS   how long the service/country catalog is cached [default: 300]";

/// MCP stdio server for VirtualSMS: rent real-SIM numbers and receive SMS verification codes.
///
/// With no command, serves MCP over stdin/stdout (this is how MCP clients launch it).
#[derive(Parser)]
#[command(name = "virtualsms-mcp", version, after_help = ENV_HELP)]
struct Cli {
    /// Serve against an embedded, simulated VirtualSMS: no API key, no real numbers, no money.
    #[arg(long, global = true)]
    sandbox: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the simulated VirtualSMS REST v2 API over HTTP (at /api/v2, control routes at /admin).
    SandboxApi {
        #[arg(long, default_value_t = 8787)]
        port: u16,
        #[arg(long, default_value = "127.0.0.1")]
        host: IpAddr,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("virtualsms-mcp: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&config.log_filter);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("virtualsms-mcp: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli, config));
    // Do not wait on a blocked stdin reader thread: the session is over.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("virtualsms-mcp: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, mut config: Config) -> anyhow::Result<()> {
    config.sandbox = cli.sandbox;
    match cli.command {
        None => App::new(config).await?.serve_stdio().await?,
        Some(Command::SandboxApi { port, host }) => {
            let fake = FakeApi::new(FakeOptions {
                sms_delay: Some(config.sandbox_sms_delay),
                ..FakeOptions::default()
            });
            let listener = tokio::net::TcpListener::bind(SocketAddr::new(host, port))
                .await
                .with_context(|| format!("cannot listen on {host}:{port}"))?;
            let addr = listener.local_addr()?;
            tracing::warn!("simulated VirtualSMS API at http://{addr}/api/v2 (admin: http://{addr}/admin); Ctrl-C stops it");
            fake.serve(listener, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        }
    }
    Ok(())
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(virtualsms_mcp::config::DEFAULT_LOG_FILTER)
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}
