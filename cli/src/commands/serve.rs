//! `countersign serve`: run the approval service.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::Args;
use countersign_server::clock::SystemClock;
use countersign_server::config::Config;
use countersign_server::state::AppState;
use countersign_server::{notify, setup, store};
use tracing_subscriber::EnvFilter;

use crate::output::{Output, print_json};

/// How long open calls may take to finish once asked to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML configuration file (see `countersign config example`). `COUNTERSIGN_…`
    /// environment variables override it.
    #[arg(long, env = "COUNTERSIGN_CONFIG")]
    config: Option<PathBuf>,
}

impl ServeArgs {
    pub fn run(self, output: Output) -> anyhow::Result<ExitCode> {
        init_logging(output)?;
        let config = Config::load(self.config.as_deref())?;
        let (owner, created_owner) = setup::resolve_owner(&config.owner)?;
        if let Some(path) = created_owner {
            eprintln!(
                "no owner was configured: created the owner key {} on this machine",
                path.display()
            );
        }
        setup::private_dir(&config.data_dir)?;
        let key_path = config.data_dir.join("service.pem");
        let (key, created_key) = setup::load_or_create_key(&key_path)?;
        if created_key {
            eprintln!("created the service key {}", key_path.display());
        }
        let vapid_path = config.data_dir.join(notify::VAPID_FILE);
        let (vapid, created_vapid) = notify::VapidKey::load_or_create(&vapid_path)?;
        if created_vapid {
            eprintln!("created the Web Push (VAPID) key {}", vapid_path.display());
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        runtime.block_on(async move {
            let url = config.database_url();
            let store = store::open(&url)
                .await
                .map_err(|e| anyhow!("cannot open the database {}: {e}", store::redact(&url)))?;
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.listen))?;
            let listen = listener.local_addr().unwrap_or(config.listen);
            let service = key.did();
            let approver_url = format!("{}/", config.public_url());
            match output {
                Output::Text => {
                    println!("countersign service listening on http://{listen}");
                    println!("  service DID   {service}");
                    println!("  owner DID     {owner}");
                    println!("  approver app  {approver_url}");
                    println!("pair the first approver device with: countersign device pair");
                }
                Output::Json => print_json(&serde_json::json!({
                    "listen": listen.to_string(),
                    "service": service.to_string(),
                    "owner": owner.to_string(),
                    "approver_url": approver_url,
                })),
            }
            let state = AppState::new(store, key, owner, config, Arc::new(SystemClock))
                .with_vapid_key(vapid);
            // Stopping waits for open calls, long-polls included; not for longer than this.
            let (stopping, stop_requested) = tokio::sync::oneshot::channel::<()>();
            let shutdown = async move {
                shutdown_signal().await;
                let _ = stopping.send(());
            };
            let grace = async move {
                if stop_requested.await.is_ok() {
                    tokio::time::sleep(SHUTDOWN_GRACE).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                served = countersign_server::serve(listener, state, shutdown) => {
                    served.context("the service failed")?;
                }
                () = grace => tracing::warn!("calls still open after {SHUTDOWN_GRACE:?}; stopping anyway"),
            }
            tracing::info!("stopped");
            Ok(ExitCode::SUCCESS)
        })
    }
}

/// Logs to standard error, filtered by `COUNTERSIGN_LOG` (default `info`); with
/// `--output json`, one JSON object per line for log collectors.
fn init_logging(output: Output) -> anyhow::Result<()> {
    let filter = match std::env::var("COUNTERSIGN_LOG") {
        Ok(directives) => EnvFilter::try_new(&directives)
            .with_context(|| format!("COUNTERSIGN_LOG={directives:?}"))?,
        Err(_) => EnvFilter::new("info"),
    };
    // Already set (it cannot be, in the binary) is not worth failing over.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match output {
        Output::Json => logs.json().try_init(),
        Output::Text => logs.with_ansi(std::io::stderr().is_terminal()).try_init(),
    };
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
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
