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
  VIRTUALSMS_SANDBOX_X402_VERSION  x402 envelope the --sandbox fake speaks: 1 or 2 [default: 1]
  VIRTUALSMS_CATALOG_TTL_SECS   how long the service/country catalog is cached [default: 300]
  VIRTUALSMS_WALLET_PRIVATE_KEY a Base wallet key (0x + 64 hex) for x402 top-ups (topup_balance)
  VIRTUALSMS_WALLET_KEY_FILE    a file holding that key, instead of the variable
  VIRTUALSMS_SOLANA_KEY_FILE    a Solana CLI keypair file (JSON array of 64 bytes) for x402 top-ups on Solana
  VIRTUALSMS_SOLANA_PRIVATE_KEY that keypair as base58, instead of the file
  VIRTUALSMS_X402_NETWORK       base | solana [default: the network of the one wallet set; base with both]
  VIRTUALSMS_X402_TOKEN         USDC | USDT (USDT on Solana only) [default: USDC]
  VIRTUALSMS_SOLANA_RPC_URL     Solana RPC for getLatestBlockhash [default: https://api.mainnet-beta.solana.com]
  VIRTUALSMS_X402_MAX_TOPUP_USD cap per top-up and per process [default: 20]
  VIRTUALSMS_X402_PAY_TO        pin the VirtualSMS wallet that top-ups may pay (0x… Base or base58 Solana)
  VIRTUALSMS_X402_BASE_URL      x402 endpoint [default: https://virtualsms.io/api/v1]
  VIRTUALSMS_CREDENTIALS_FILE   where a purchased API key is kept [default: ~/.config/virtualsms-mcp/credentials.json]";

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
    /// Top up the VirtualSMS balance with an x402 payment (USDC on Base, or USDC/USDT on
    /// Solana) from the configured wallet; prints the result as JSON. Without an API key, the
    /// issued key is saved to the credentials file.
    Topup {
        /// USD to pay (2–10000, whole cents, at most VIRTUALSMS_X402_MAX_TOPUP_USD).
        #[arg(long)]
        amount: f64,
    },
    /// Print the tools of the default server (name, title, description, input and output
    /// schemas, annotations) as JSON: what `tools.schema.json` holds.
    Schema,
    /// List the tools this configuration offers, one per line.
    Tools,
    /// Call one tool and print its structured result as JSON; exits 1 on an error result.
    ///
    /// Example: virtualsms-mcp --sandbox call find_cheapest '{"service": "telegram"}'
    Call {
        /// Tool name (see `virtualsms-mcp tools`).
        tool: String,
        /// Arguments as a JSON object.
        #[arg(default_value = "{}")]
        args: String,
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
    // The human commands stay quiet on stderr unless VIRTUALSMS_LOG asks for logs.
    let human = matches!(
        cli.command,
        Some(Command::Schema | Command::Tools | Command::Call { .. })
    );
    if human && std::env::var_os(virtualsms_mcp::config::env::LOG).is_none() {
        init_tracing("off");
    } else {
        init_tracing(&config.log_filter);
    }
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
        Some(Command::Topup { amount }) => {
            let outcome = virtualsms_mcp::x402::top_up_from_config(config, amount).await?;
            println!("{}", serde_json::to_string_pretty(&outcome)?);
        }
        Some(Command::Schema) => virtualsms_mcp::cli::schema().await?,
        Some(Command::Tools) => virtualsms_mcp::cli::tools(config).await?,
        Some(Command::Call { tool, args }) => {
            virtualsms_mcp::cli::call(config, &tool, &args).await?
        }
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
