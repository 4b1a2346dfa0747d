//! The `virtualsms-mcp` binary: parses the command line, sends logs to stderr (stdout is the
//! MCP channel), and runs what the library offers.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use virtualsms_mcp::app::App;
use virtualsms_mcp::cli;
use virtualsms_mcp::config::Config;
use virtualsms_mcp::sandbox::{FakeApi, FakeOptions};

/// MCP stdio server for VirtualSMS: rent real-SIM numbers and receive SMS verification codes.
///
/// With no command, serves MCP over stdin/stdout (this is how MCP clients launch it).
#[derive(Parser)]
#[command(name = "virtualsms-mcp", version)]
struct Cli {
    /// Serve against an embedded, simulated VirtualSMS: no API key, no real numbers, no money.
    #[arg(long, global = true)]
    sandbox: bool,
    /// Offer only these tools: a comma list of tool and toolset names (see Toolsets below).
    /// Overrides VIRTUALSMS_TOOLS.
    #[arg(long = "tools", global = true, value_name = "LIST", value_parser = tool_list)]
    only_tools: Option<String>,
    /// Leave out these tools or toolsets (comma list). Overrides VIRTUALSMS_EXCLUDE_TOOLS.
    #[arg(long, global = true, value_name = "LIST", value_parser = tool_list)]
    exclude_tools: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the simulated VirtualSMS API over HTTP (REST v1 at /api/v1, v2 at /api/v2, control
    /// routes at /admin).
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
    /// schemas, annotations) as JSON: what `tools.schema.json` holds. Only --tools and
    /// --exclude-tools narrow it; the environment does not apply.
    Schema,
    /// List the tools this configuration offers, one per line.
    Tools,
    /// Serve MCP over Streamable HTTP at /mcp (and GET /health) for many clients: each request
    /// sends its own VirtualSMS key (Authorization: Bearer <key>, or x-api-key); without one,
    /// only the discovery tools are offered.
    ///
    /// Example: virtualsms-mcp --sandbox http --listen 127.0.0.1:8787
    Http {
        /// Address to listen on. Loopback by default; any other address is reachable by others
        /// (put a TLS proxy in front).
        #[arg(long, default_value = virtualsms_mcp::http::DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// Requests without a key use VIRTUALSMS_API_KEY (a single-user server).
        #[arg(long)]
        use_env_key: bool,
    },
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

/// Checks a `--tools` / `--exclude-tools` list; an unknown name lists the valid ones.
fn tool_list(list: &str) -> Result<String, String> {
    virtualsms_mcp::toolsets::parse_list(list)
        .map(|_| list.to_owned())
        .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    // `--help` lists the environment from the one table of variables, then the toolsets.
    let help = format!(
        "{}\n{}",
        virtualsms_mcp::config::env_help(),
        virtualsms_mcp::toolsets::help_text().trim_end()
    );
    let cli = match Cli::from_arg_matches(&Cli::command().after_help(help).get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
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
    // The flags were checked by clap; each one given replaces its environment variable.
    let flags = virtualsms_mcp::toolsets::ToolSelection::parse(
        cli.only_tools.as_deref(),
        cli.exclude_tools.as_deref(),
    )?;
    if cli.only_tools.is_some() {
        config.tools.include = flags.include.clone();
    }
    if cli.exclude_tools.is_some() {
        config.tools.exclude = flags.exclude.clone();
    }
    match cli.command {
        None => App::new(config).await?.serve_stdio().await?,
        Some(Command::Topup { amount }) => {
            let outcome = virtualsms_mcp::x402::top_up_from_config(config, amount).await?;
            println!("{}", serde_json::to_string_pretty(&outcome)?);
        }
        Some(Command::Schema) => print!("{}", cli::schema_json_of(flags).await?),
        Some(Command::Tools) => print!("{}", cli::tools_text(config).await?),
        Some(Command::Call { tool, args }) => {
            let called = cli::call_value(config, &tool, &args).await?;
            if called.simulated {
                eprintln!("{}", virtualsms_mcp::tools::SANDBOX_NOTICE);
            }
            println!("{}", serde_json::to_string_pretty(&called.value)?);
        }
        Some(Command::Http {
            listen,
            use_env_key,
        }) => {
            let mut options = virtualsms_mcp::http::HttpOptions::new(listen);
            options.use_env_key = use_env_key;
            let server = virtualsms_mcp::http::HttpServer::bind(config, options).await?;
            server.run(virtualsms_mcp::http::shutdown_signal()).await?;
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
            tracing::warn!("simulated VirtualSMS API: REST v1 at http://{addr}/api/v1, REST v2 at http://{addr}/api/v2 (admin: http://{addr}/admin); Ctrl-C stops it");
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
