//! The processes under test: `countersign serve` (one replica on SQLite, or several on
//! one PostgreSQL database) and `countersign gateway` with a `noop` route, started from
//! this very binary with configurations written to a temporary directory, and killed at
//! the end. Also what the kernel says about them: memory and CPU time.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use countersign_core::{Did, Keypair};
use countersign_server::setup;
use data_encoding::HEXLOWER;
use serde_json::Value as Json;

use crate::system;

/// The command the gateway serves, with the `noop` adapter; agents are allowed its prefix.
pub const COMMAND: &str = "/bench/noop";
pub const ALLOW: &str = "/bench";
/// The longest a child may take to start and say where it listens.
const STARTUP: Duration = Duration::from_secs(60);
/// The longest the gateway may take to reach the service's revocation feed.
const GATEWAY_READY: Duration = Duration::from_secs(60);

/// One child process, killed when dropped.
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Child,
    /// Its HTTP address, `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Process {
    /// Starts `countersign --output json ARGS…` and waits for the one-line JSON banner
    /// every long-running command prints once it listens; its standard error goes to `log`.
    fn start(
        name: &str,
        args: &[&str],
        env: &[(&str, String)],
        log: &Path,
    ) -> anyhow::Result<(Process, Json)> {
        let exe = std::env::current_exe().context("cannot find this program's own binary")?;
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut command = Command::new(exe);
        // The caller's settings must not leak into the processes under test, except the
        // log filter (to look into a run: their logs are kept with --keep).
        for (var, _) in std::env::vars_os() {
            if var.to_string_lossy().starts_with("COUNTERSIGN_") {
                command.env_remove(var);
            }
        }
        let filter = std::env::var("COUNTERSIGN_LOG").unwrap_or_else(|_| "warn".to_owned());
        command
            .arg("--output")
            .arg("json")
            .args(args)
            .env("COUNTERSIGN_LOG", filter)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start the {name}"))?;
        let stdout = child.stdout.take();
        let mut process = Process {
            name: name.to_owned(),
            child,
            url: String::new(),
        };
        let Some(stdout) = stdout else {
            bail!("the {name} has no standard output");
        };
        let (tx, rx) = mpsc::channel();
        // Reads the banner, then keeps the pipe drained for as long as the child lives.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let banner = match rx.recv_timeout(STARTUP) {
            Ok(line) => line,
            Err(_) => {
                process.kill();
                bail!(
                    "the {name} did not start: {}",
                    last_lines(log).unwrap_or_else(|| "no output".into())
                );
            }
        };
        let banner: Json = serde_json::from_str(&banner)
            .with_context(|| format!("the {name} printed an unexpected first line"))?;
        let listen = banner
            .get("listen")
            .and_then(Json::as_str)
            .ok_or_else(|| anyhow!("the {name} did not say where it listens"))?;
        process.url = format!("http://{listen}");
        Ok((process, banner))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The port it listens on.
    fn port(&self) -> Option<u16> {
        self.url.rsplit(':').next()?.parse().ok()
    }

    fn kill(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }

    /// Fails if the process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => bail!("the {} exited ({status})", self.name),
            Err(e) => bail!("cannot check on the {}: {e}", self.name),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last lines a child wrote to its log, on one line.
fn last_lines(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
    (!tail.is_empty()).then_some(tail)
}

/// The service replicas and the gateway, their configurations and data in a temporary
/// directory that is removed at the end (unless kept).
#[derive(Debug)]
pub struct Launch {
    pub dir: PathBuf,
    keep: bool,
    /// The owner: the subject of every capability, known to the service by its DID.
    pub owner: Keypair,
    pub services: Vec<Process>,
    pub gateway: Option<Process>,
    pub gateway_did: Did,
    service_configs: Vec<PathBuf>,
}

impl Launch {
    /// Starts `replicas` service processes on `database` (PostgreSQL), or one on SQLite in
    /// the temporary directory, then the gateway; returns once the gateway follows the
    /// service's revocation feed.
    pub async fn start(
        replicas: usize,
        database: Option<&str>,
        keep: bool,
        http: &reqwest::Client,
    ) -> anyhow::Result<Launch> {
        let dir = std::env::temp_dir().join(format!(
            "countersign-bench-{}-{}",
            std::process::id(),
            HEXLOWER.encode(&system::random::<4>()?)
        ));
        setup::private_dir(&dir)?;
        let owner = Keypair::from_seed(&system::random::<32>()?);
        let gateway_dir = dir.join("gateway");
        setup::private_dir(&gateway_dir)?;
        let (gateway_key, _) = setup::load_or_create_key(&gateway_dir.join("gateway.pem"))?;
        let mut launch = Launch {
            dir,
            keep,
            owner,
            services: Vec::new(),
            gateway: None,
            gateway_did: gateway_key.did(),
            service_configs: Vec::new(),
        };
        for replica in 0..replicas {
            let data = launch.dir.join(format!("service-{replica}"));
            setup::private_dir(&data)?;
            if replica > 0 {
                // Replicas share the service's keys.
                let first = launch.dir.join("service-0");
                for key in ["service.pem", "vapid.pem"] {
                    std::fs::copy(first.join(key), data.join(key))
                        .with_context(|| format!("cannot copy {key} to replica {replica}"))?;
                }
            }
            let config = launch.dir.join(format!("service-{replica}.toml"));
            let text = service_config(&data, database, &launch.owner.did(), &launch.gateway_did);
            write_private(&config, &text)?;
            launch.service_configs.push(config);
            let service = launch.start_service(replica, None)?;
            launch.services.push(service);
        }
        let config = launch.dir.join("gateway.toml");
        let text = gateway_config(&gateway_dir, &launch.owner.did(), &launch.services[0].url);
        write_private(&config, &text)?;
        let config_arg = config.display().to_string();
        let (gateway, banner) = Process::start(
            "gateway",
            &["gateway", "--config", &config_arg],
            &[],
            &launch.dir.join("gateway.log"),
        )?;
        let did = banner.get("did").and_then(Json::as_str).unwrap_or_default();
        if did != launch.gateway_did.to_string() {
            bail!("the gateway runs with an unexpected key ({did})");
        }
        let url = gateway.url.clone();
        launch.gateway = Some(gateway);
        wait_ready(http, &format!("{url}/healthz"), GATEWAY_READY)
            .await
            .context("the gateway never reached the service's revocation feed")?;
        Ok(launch)
    }

    /// Starts replica `replica` from its configuration, on `port` if given.
    fn start_service(&self, replica: usize, port: Option<u16>) -> anyhow::Result<Process> {
        let config = self
            .service_configs
            .get(replica)
            .ok_or_else(|| anyhow!("no configuration for replica {replica}"))?
            .display()
            .to_string();
        let env: Vec<(&str, String)> = port
            .map(|p| ("COUNTERSIGN_LISTEN", format!("127.0.0.1:{p}")))
            .into_iter()
            .collect();
        let name = format!("service (replica {replica})");
        let log = self.dir.join(format!("service-{replica}.log"));
        let (process, _) = Process::start(&name, &["serve", "--config", &config], &env, &log)?;
        Ok(process)
    }

    pub fn service_urls(&self) -> Vec<String> {
        self.services.iter().map(|s| s.url.clone()).collect()
    }

    pub fn gateway_url(&self) -> String {
        self.gateway
            .as_ref()
            .map(|g| g.url.clone())
            .unwrap_or_default()
    }

    pub fn service_pids(&self) -> Vec<u32> {
        self.services.iter().map(Process::pid).collect()
    }

    pub fn gateway_pid(&self) -> Option<u32> {
        self.gateway.as_ref().map(Process::pid)
    }

    /// Kills every replica and starts it again on the same port: a fresh process, with
    /// everything it stored.
    pub fn restart_services(&mut self) -> anyhow::Result<()> {
        for replica in 0..self.services.len() {
            let port = self.services[replica].port();
            self.services[replica].kill();
            let fresh = self.start_service(replica, port)?;
            self.services[replica] = fresh;
        }
        Ok(())
    }

    /// Fails if any process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        for service in &mut self.services {
            service.check_alive()?;
        }
        if let Some(gateway) = &mut self.gateway {
            gateway.check_alive()?;
        }
        Ok(())
    }

    /// Kills every process.
    pub fn stop(&mut self) {
        self.gateway.take();
        self.services.clear();
    }
}

impl Drop for Launch {
    fn drop(&mut self) {
        self.stop();
        if self.keep {
            eprintln!("bench: kept {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The service's configuration: the service's own settings, except the limits that exist
/// against floods from one agent, raised so that they do not throttle the load.
fn service_config(data: &Path, database: Option<&str>, owner: &Did, gateway: &Did) -> String {
    let quote = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
    format!(
        r#"# Written by `countersign bench`.
listen = "127.0.0.1:0"
data_dir = {data}
database_url = {database}
owner = "{owner}"
gateways = ["{gateway}"]

[requests]
default_expiry = "1h"
max_expiry = "1h"
max_wait = "10m"
max_pending_total = 100000000

[agents]
max_pending = 1000000
rate_per_min = 1000000

# Bare connections are held open while the memory they cost is measured.
[limits]
header_timeout = "60s"
"#,
        data = quote(&data.display().to_string()),
        database = quote(database.unwrap_or("")),
    )
}

fn gateway_config(data: &Path, owner: &Did, service: &str) -> String {
    let quote = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
    format!(
        r#"# Written by `countersign bench`.
listen = "127.0.0.1:0"
data_dir = {data}
owners = ["{owner}"]

[service]
url = {service}

[[routes]]
command = "{COMMAND}"

[routes.noop]
args = ["n"]
"#,
        data = quote(&data.display().to_string()),
        service = quote(service),
    )
}

/// Writes a file readable by its owner only (it may hold a database password).
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Polls `url` until it answers 200.
pub async fn wait_ready(
    http: &reqwest::Client,
    url: &str,
    patience: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + patience;
    loop {
        let last = match http.get(url).timeout(Duration::from_secs(5)).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => format!("HTTP {}", r.status()),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            bail!("{url} answered {last}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Resident memory now and at its peak, in bytes, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    pub rss: u64,
    pub peak: u64,
}

pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .ok_or_else(|| anyhow!("/proc/{pid}/status has no {name}"))?;
        let kib: u64 = line
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .with_context(|| format!("/proc/{pid}/status: {name}"))?;
        Ok(kib * 1024)
    };
    Ok(Memory {
        rss: field("VmRSS:")?,
        peak: field("VmHWM:")?,
    })
}

/// CPU time (user and system) a process has used, from `/proc/PID/stat`.
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow!("/proc/{pid}/stat is malformed"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line; the first after ')' is field 3.
    let ticks = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| anyhow!("/proc/{pid}/stat is malformed"))
    };
    // Linux reports these in USER_HZ, 100 per second on every architecture it runs on.
    let total = ticks(11)? + ticks(12)?;
    Ok(Duration::from_millis(total * 10))
}

/// What the whole machine's CPUs did, in USER_HZ ticks, from `/proc/stat`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MachineCpu {
    pub total: u64,
    pub idle: u64,
    pub iowait: u64,
}

pub fn machine_cpu() -> anyhow::Result<MachineCpu> {
    let stat = std::fs::read_to_string("/proc/stat").context("cannot read /proc/stat")?;
    let line = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or_else(|| anyhow!("/proc/stat has no cpu line"))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let at = |i: usize| fields.get(i).copied().unwrap_or(0);
    Ok(MachineCpu {
        // user nice system idle iowait irq softirq steal; guest time is within user.
        total: (0..8).map(at).sum(),
        idle: at(3),
        iowait: at(4),
    })
}

impl MachineCpu {
    /// The shares of time busy and waiting for I/O between `self` and a later reading.
    pub fn shares_until(&self, later: &MachineCpu) -> (f64, f64) {
        let total = later.total.saturating_sub(self.total).max(1) as f64;
        let idle = later.idle.saturating_sub(self.idle) as f64;
        let iowait = later.iowait.saturating_sub(self.iowait) as f64;
        ((total - idle - iowait) / total, iowait / total)
    }
}

/// The soft limit on open files of this process (children inherit it).
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}
