//! `countersign db status|migrate|backup`: the service's database, for operators.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use countersign_server::config::Config;
use countersign_server::store::{migrations, redact};
use serde_json::json;

use crate::client;
use crate::output::{Output, print_json};

#[derive(Debug, Args)]
pub struct DbArgs {
    /// The service's TOML configuration; `COUNTERSIGN_…` variables apply as for `serve`.
    #[arg(long, env = "COUNTERSIGN_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: DbCommand,
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Which migrations are applied and which are waiting (changes nothing).
    Status,
    /// Apply waiting migrations now (the service also applies them when it starts).
    Migrate,
    /// Copy a live SQLite database to FILE (mode 0600) while the service runs; for
    /// PostgreSQL use pg_dump.
    Backup { file: PathBuf },
}

impl DbArgs {
    pub fn run(self, output: Output) -> anyhow::Result<ExitCode> {
        let config = Config::load(self.config.as_deref())?;
        let url = config.database_url();
        let shown = redact(&url);
        let rt = client::runtime()?;
        match self.command {
            DbCommand::Status | DbCommand::Migrate => {
                let migrate = matches!(self.command, DbCommand::Migrate);
                let list = rt.block_on(async {
                    if migrate {
                        migrations::migrate(&url).await
                    } else {
                        migrations::status(&url).await
                    }
                })?;
                let waiting = list.iter().filter(|m| !m.applied).count();
                match output {
                    Output::Json => print_json(&json!({
                        "database": shown,
                        "migrations": list.iter().map(|m| json!({
                            "version": m.version, "description": m.description, "applied": m.applied,
                        })).collect::<Vec<_>>(),
                        "waiting": waiting,
                    })),
                    Output::Text => {
                        println!("database {shown}");
                        for m in &list {
                            let state = if m.applied { "applied" } else { "waiting" };
                            println!("  {:>4} {state:<8} {}", m.version, m.description);
                        }
                        if waiting == 0 {
                            println!("up to date");
                        } else {
                            println!(
                                "{waiting} waiting: `countersign db migrate`, or start the service"
                            );
                        }
                    }
                }
            }
            DbCommand::Backup { file } => {
                rt.block_on(migrations::backup_sqlite(&url, &file))?;
                match output {
                    Output::Json => print_json(
                        &json!({"database": shown, "backup": file.display().to_string()}),
                    ),
                    Output::Text => println!("copied {shown} to {}", file.display()),
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
