//! `countersign bench`: drives a service and a gateway, started here from this binary,
//! through full approval cycles and the scenarios the targets are stated for; measures the
//! machine's own bounds in the same run and reports every figure against them.
//!
//! Phases, in order: the full-cycle load; approval-to-agent latency with many agents
//! waiting; revocation fan-out to feed subscribers; the service's memory per waiting agent
//! (after a restart). The baselines are measured before, between and after them, while
//! nothing else of the run is busy. Everything runs on loopback and stops by itself.

mod baseline;
mod cycle;
mod feed;
mod launch;
mod memory;
mod report;
mod scene;
mod stats;
mod ticker;
mod waiting;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use self::baseline::{Baselines, Series};
use self::launch::Launch;
use self::report::{Machine, Report};
use self::scene::Scene;
use self::ticker::{Counts, Ticker};
use crate::output::{Output, print_json};

/// Files the benchmark may hold open besides its connections.
const SPARE_FILES: u64 = 256;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Agents running full cycles at once [default: 16; --quick: 4].
    #[arg(long)]
    agents: Option<usize>,
    /// How long the full-cycle load is measured, e.g. 10s, 1m, after a warm-up of a fifth
    /// of it (at most 2 s) [default: 10s; --quick: 2s].
    #[arg(long)]
    duration: Option<String>,
    /// Agents kept waiting (one long-poll each) while approvals are timed
    /// [default: 1000; --quick: 20].
    #[arg(long)]
    waiting: Option<usize>,
    /// Approvals timed while the others wait [default: 200; --quick: 10].
    #[arg(long)]
    approvals: Option<usize>,
    /// Agents waiting at once while the service's memory is measured
    /// [default: 10000; --quick: 100].
    #[arg(long)]
    memory_agents: Option<usize>,
    /// Connected revocation feed subscribers [default: 100; --quick: 10].
    #[arg(long)]
    subscribers: Option<usize>,
    /// Revocations timed to every subscriber [default: 20; --quick: 5].
    #[arg(long)]
    revocations: Option<usize>,
    /// Run the service on this PostgreSQL database (postgres://…) instead of SQLite. Give
    /// it a database of its own: what the run stores stays there.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Service replicas [default: 1 on SQLite (the only choice), 2 on PostgreSQL]; agents
    /// are spread over them.
    #[arg(long)]
    replicas: Option<usize>,
    /// Small figures, a few seconds in all, to check that everything works (for CI).
    #[arg(long)]
    quick: bool,
    /// Keep the temporary directory: configurations, logs, SQLite files.
    #[arg(long)]
    keep: bool,
}

/// The sizes of one run.
#[derive(Debug)]
struct Plan {
    agents: usize,
    warmup: Duration,
    window: Duration,
    waiting: usize,
    approvals: usize,
    memory_agents: usize,
    subscribers: usize,
    revocations: usize,
    database: Option<String>,
    replicas: usize,
    inserts_for: Duration,
    verifies_for: Duration,
    keep: bool,
}

impl BenchArgs {
    pub fn run(self, output: Output) -> anyhow::Result<ExitCode> {
        let plan = self.plan()?;
        let widest = [
            plan.agents,
            plan.waiting + plan.approvals,
            plan.memory_agents,
            plan.subscribers,
        ]
        .into_iter()
        .max()
        .unwrap_or(0) as u64;
        if let Some(limit) = launch::open_files_limit()
            && widest + SPARE_FILES > limit
        {
            bail!(
                "{widest} connections at once need more open files than the limit of {limit} \
                 (ulimit -n); raise it or ask for fewer agents"
            );
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let report = runtime.block_on(plan.run())?;
        match output {
            Output::Text => print!("{}", report.text()),
            Output::Json => print_json(&report.json()),
        }
        Ok(if report.errors() == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    }

    fn plan(&self) -> anyhow::Result<Plan> {
        let q = self.quick;
        let pick = |given: Option<usize>,
                    full: usize,
                    quick: usize,
                    flag: &str|
         -> anyhow::Result<usize> {
            let n = given.unwrap_or(if q { quick } else { full });
            if n == 0 {
                bail!("{flag} must be at least 1");
            }
            Ok(n)
        };
        let window = match &self.duration {
            Some(text) => countersign_server::duration::parse(text)
                .map_err(anyhow::Error::msg)
                .context("--duration")?,
            None if q => 2,
            None => 10,
        };
        if window == 0 || window > 3600 {
            bail!("--duration must be between 1s and 1h");
        }
        let window = Duration::from_secs(window);
        let replicas = match (&self.database, self.replicas) {
            (None, None | Some(1)) => 1,
            (None, Some(_)) => bail!("several replicas need PostgreSQL (--database postgres://…)"),
            (Some(_), None) => 2,
            (Some(_), Some(0)) => bail!("--replicas must be at least 1"),
            (Some(_), Some(n)) if n > 8 => bail!("--replicas: at most 8"),
            (Some(_), Some(n)) => n,
        };
        if let Some(url) = &self.database
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            bail!(
                "--database must be a PostgreSQL URL (postgres://…); without it the service runs on SQLite"
            );
        }
        Ok(Plan {
            agents: pick(self.agents, 16, 4, "--agents")?,
            warmup: (window / 5).min(Duration::from_secs(2)),
            window,
            waiting: pick(self.waiting, 1000, 20, "--waiting")?,
            approvals: pick(self.approvals, 200, 10, "--approvals")?,
            memory_agents: pick(self.memory_agents, 10_000, 100, "--memory-agents")?,
            subscribers: pick(self.subscribers, 100, 10, "--subscribers")?,
            revocations: pick(self.revocations, 20, 5, "--revocations")?,
            database: self.database.clone(),
            replicas,
            inserts_for: if q {
                Duration::from_millis(150)
            } else {
                Duration::from_millis(1500)
            },
            verifies_for: if q {
                Duration::from_millis(100)
            } else {
                Duration::from_millis(500)
            },
            keep: self.keep,
        })
    }
}

impl Plan {
    async fn run(self) -> anyhow::Result<Report> {
        let mut baselines = Series::default();
        self.measure_machine(&mut baselines).await?;
        let http = crate::client::http_client()?;
        eprintln!(
            "bench: starting {} service replica{} on {} and the gateway",
            self.replicas,
            if self.replicas == 1 { "" } else { "s" },
            if self.database.is_some() {
                "PostgreSQL"
            } else {
                "SQLite"
            }
        );
        let mut launch =
            Launch::start(self.replicas, self.database.as_deref(), self.keep, &http).await?;
        let scene = Arc::new(
            Scene::setup(
                &launch.service_urls(),
                &launch.owner,
                &launch.gateway_url(),
                launch.gateway_did,
                http.clone(),
            )
            .await
            .context("setting up the owner and the approver device")?,
        );
        let mut pids: Vec<(String, u32)> = launch
            .service_pids()
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                (
                    if self.replicas == 1 {
                        "service".to_owned()
                    } else {
                        format!("service {i}")
                    },
                    p,
                )
            })
            .collect();
        if let Some(pid) = launch.gateway_pid() {
            pids.push(("gateway".to_owned(), pid));
        }
        pids.push(("bench".to_owned(), std::process::id()));

        let agents = register(&scene, "c", self.agents).await?;
        eprintln!(
            "bench: full cycles: {} agents for {:?} after a {:?} warm-up",
            self.agents, self.window, self.warmup
        );
        let cycle = cycle::run(scene.clone(), agents, self.warmup, self.window, pids).await?;
        launch.check_alive()?;
        self.measure_machine(&mut baselines).await?;

        let total = self.waiting + self.approvals;
        let agents = register(&scene, "w", total).await?;
        let waiting = waiting::run(scene.clone(), agents, self.waiting, self.approvals).await?;
        launch.check_alive()?;
        self.measure_machine(&mut baselines).await?;

        let feed = feed::run(
            scene.clone(),
            self.subscribers,
            cycle.issued.clone(),
            self.revocations,
        )
        .await?;
        launch.check_alive()?;
        self.measure_machine(&mut baselines).await?;

        let mut service_peak = 0;
        for pid in launch.service_pids() {
            service_peak = service_peak.max(launch::memory(pid)?.peak);
        }
        let gateway_peak = match launch.gateway_pid() {
            Some(pid) => launch::memory(pid)?.peak,
            None => 0,
        };

        let scene =
            Arc::try_unwrap(scene).map_err(|_| anyhow::anyhow!("the scene is still in use"))?;
        let memory = memory::run(&mut launch, scene, "m", self.memory_agents).await?;
        launch.check_alive()?;
        launch.stop();
        drop(launch);

        self.measure_machine(&mut baselines).await?;
        Ok(Report {
            command: command_line(),
            database: if self.database.is_some() {
                "PostgreSQL"
            } else {
                "SQLite"
            },
            replicas: self.replicas,
            machine: Machine::describe(),
            baselines,
            cycle,
            waiting,
            feed,
            memory,
            service_peak,
            gateway_peak,
        })
    }
}

impl Plan {
    /// Measures the machine's bounds once more, while nothing else of the run is busy.
    async fn measure_machine(&self, series: &mut Series) -> anyhow::Result<()> {
        eprintln!("bench: measuring the machine: durable SQLite inserts, verify_strict");
        let measured =
            Baselines::measure(&std::env::temp_dir(), self.inserts_for, self.verifies_for).await?;
        series.0.push(measured);
        Ok(())
    }
}

/// Registers `count` agents, with progress.
async fn register(scene: &Scene, label: &str, count: usize) -> anyhow::Result<Vec<scene::Agent>> {
    let counts = Counts::new();
    let _ticker = Ticker::start("registering", "agents", Some(count as u64), counts.clone());
    scene.register(label, count, &counts).await
}

/// How this run was asked for, with any database password hidden.
fn command_line() -> String {
    let mut words = vec!["countersign".to_owned()];
    for arg in std::env::args().skip(1) {
        words.push(countersign_server::store::redact(&arg));
    }
    words.join(" ")
}
