//! `countersign gateway`: run the gateway that holds the real credentials, check its
//! configuration, or print an example one.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use countersign_gateway::config::{self, Config};
use countersign_gateway::{Gateway, Tuning};
use countersign_server::clock::SystemClock;
use tracing_subscriber::EnvFilter;

use crate::output::{Output, print_json};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct GatewayArgs {
    #[command(subcommand)]
    command: Option<GatewayCommand>,
    /// The gateway's TOML configuration (see `countersign gateway example`).
    #[arg(long, env = "COUNTERSIGN_GATEWAY_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum GatewayCommand {
    /// Check a configuration, credentials included: every problem on its own line, and
    /// exit code 1 if there is any.
    CheckConfig {
        /// The configuration file.
        file: PathBuf,
    },
    /// Print one of the example configurations.
    Example {
        /// payments-stripe, email-http, email-smtp or dry-run.
        #[arg(default_value = "payments-stripe")]
        name: String,
    },
}

impl GatewayArgs {
    pub fn run(self, output: Output) -> anyhow::Result<ExitCode> {
        match (self.command, self.config) {
            (Some(GatewayCommand::CheckConfig { file }), _) => check(&file, output),
            (Some(GatewayCommand::Example { name }), _) => example(&name),
            (None, Some(file)) => serve(&file, output),
            (None, None) => {
                bail!(
                    "give the configuration with --config FILE (see `countersign gateway example`)"
                )
            }
        }
    }
}

fn check(file: &Path, output: Output) -> anyhow::Result<ExitCode> {
    let problems = config::check_file(file);
    let shown = file.display();
    match output {
        Output::Json => print_json(&serde_json::json!({
            "file": shown.to_string(),
            "valid": problems.is_empty(),
            "problems": problems,
        })),
        Output::Text if problems.is_empty() => println!("{shown}: ok"),
        Output::Text => {
            for problem in &problems {
                println!("{shown}: {problem}");
            }
        }
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn example(name: &str) -> anyhow::Result<ExitCode> {
    let Some((_, text)) = config::EXAMPLES.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = config::EXAMPLES.iter().map(|(n, _)| *n).collect();
        bail!("no example {name:?}; the examples are {}", names.join(", "));
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn serve(file: &Path, output: Output) -> anyhow::Result<ExitCode> {
    init_logging()?;
    let config = Config::load(file).map_err(|problems| {
        anyhow!(
            "{} has problems (run `countersign gateway check-config {}`): {}",
            file.display(),
            file.display(),
            problems.0.join("; ")
        )
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listen = config.listen;
        let tuning = Tuning::for_config(&config);
        let gateway = Gateway::start(config, Arc::new(SystemClock), tuning).await?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let listen = listener.local_addr().unwrap_or(listen);
        let state = gateway.state();
        let did = state.did().to_string();
        let routes: Vec<String> = state
            .routes
            .commands()
            .iter()
            .map(|c| c.to_string())
            .collect();
        match output {
            Output::Text => {
                println!("countersign gateway listening on http://{listen}");
                println!("  gateway DID   {did}");
                println!("  routes        {}", routes.join(", "));
                println!(
                    "  revocations   {}/v1/revocations",
                    state.config.service.url.trim_end_matches('/')
                );
            }
            Output::Json => print_json(&serde_json::json!({
                "listen": listen.to_string(),
                "did": did,
                "routes": routes,
            })),
        }
        gateway
            .serve(listener, shutdown_signal())
            .await
            .context("the gateway failed")?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// Logs to standard error, filtered by `COUNTERSIGN_LOG` (default `info`).
fn init_logging() -> anyhow::Result<()> {
    let filter = match std::env::var("COUNTERSIGN_LOG") {
        Ok(directives) => EnvFilter::try_new(&directives)
            .with_context(|| format!("COUNTERSIGN_LOG={directives:?}"))?,
        Err(_) => EnvFilter::new("info"),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM; requests under way finish first.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
