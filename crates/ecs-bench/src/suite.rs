//! The whole benchmark in one run: start each target on loopback, drive the same load at it
//! with the same generator, run the lifecycle scale test, and report (table and JSON).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::process::Command;

use crate::api::{self, ADMIN_TOKEN, KEY_ID, KEY_SECRET};
use crate::http::Conn;
use crate::load::{self, LoadResult, LoadSpec, Workload};
use crate::procs::{self, Machine, Server};
use crate::sign::{ec2_request, EcsClient};

/// The version of the results file's layout; bumped when a field changes meaning or goes away.
pub const SCHEMA: &str = "ecs-bench.results/1";

/// What to run, and how big.
#[derive(Debug, Clone)]
pub struct SuiteConfig {
    pub ecsd: PathBuf,
    /// `moto_server` of a Python environment; `None` leaves the peer out (recorded as such).
    pub moto: Option<PathBuf>,
    /// Data directories and server logs go here.
    pub work_dir: PathBuf,
    pub out: PathBuf,
    pub quick: bool,
    pub concurrencies: Vec<usize>,
    pub warmup: Duration,
    pub duration: Duration,
    /// Instances on the ecsd serving the request targets (pages are read out of these).
    pub instances: u64,
    pub moto_instances: u64,
    /// Instances of the lifecycle scale run, and how many are due in the same minute.
    pub scale_instances: u64,
    pub scale_burst: u64,
    pub skip_scale: bool,
    /// Run only these parts (`baseline`, `ecsd`, `moto`, `scale`); empty: all.
    pub only: Vec<String>,
    /// Connections used to create instances.
    pub create_concurrency: usize,
    /// What was measured (e.g. the git commit), copied into the report.
    pub label: Option<String>,
    /// Signed requests a process has answered before the sustained read is measured (0: skip).
    pub sustained_after: u64,
    /// A PostgreSQL server for the `postgres` part (a database of its own is created there and
    /// dropped after); `None` skips the part with a notice.
    pub database_url: Option<String>,
}

impl SuiteConfig {
    pub fn full(ecsd: PathBuf, moto: Option<PathBuf>, work_dir: PathBuf, out: PathBuf) -> Self {
        SuiteConfig {
            ecsd,
            moto,
            work_dir,
            out,
            quick: false,
            concurrencies: vec![1, 64],
            warmup: Duration::from_secs(2),
            duration: Duration::from_secs(10),
            instances: 100_000,
            moto_instances: 100,
            scale_instances: 1_000_000,
            scale_burst: 100_000,
            skip_scale: false,
            only: Vec::new(),
            label: None,
            create_concurrency: 4,
            sustained_after: 110_000,
            database_url: None,
        }
    }

    pub fn quick(ecsd: PathBuf, moto: Option<PathBuf>, work_dir: PathBuf, out: PathBuf) -> Self {
        SuiteConfig {
            quick: true,
            warmup: Duration::from_millis(300),
            duration: Duration::from_millis(1500),
            instances: 1_000,
            moto_instances: 20,
            scale_instances: 10_000,
            scale_burst: 1_000,
            sustained_after: 0,
            ..Self::full(ecsd, moto, work_dir, out)
        }
    }
}

/// One target at one concurrency.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    /// `baseline`, `ecsd-modify`, `ecsd-describe-one`, `ecsd-describe-page`, `moto-modify`,
    /// `moto-describe-one`.
    pub name: String,
    /// `baseline`, `ecsd` or `moto`.
    pub server: String,
    pub operation: String,
    pub concurrency: usize,
    /// Every answer was correct and at least one was measured.
    pub ok: bool,
    /// Generator cost of building and signing one request, no I/O (µs).
    pub prepare_us: f64,
    /// Generator cost of checking one answer, cheap and thorough (µs).
    pub check_us: f64,
    pub check_thorough_us: f64,
    #[serde(flatten)]
    pub load: LoadResult,
    /// The server's peak resident set (VmHWM) after this target, MiB. ecsd runs a fresh
    /// process per operation, so this covers that operation's targets so far.
    pub server_rss_mib: Option<f64>,
    /// requests/s divided by the baseline's at the same concurrency.
    pub ratio_to_baseline: Option<f64>,
    /// PostgreSQL targets: requests/s divided by the same operation's on SQLite (`ecsd-*`) at
    /// the same concurrency, in the same run.
    pub ratio_to_sqlite: Option<f64>,
}

/// The PostgreSQL part: one replica, then two replicas behind the same generator, then the
/// release burst carried out by two replicas.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PgReport {
    /// Why the part did not run (no database URL given), if it did not.
    pub skipped: Option<String>,
    pub instances: u64,
    pub create_seconds: f64,
    pub create_instances_per_s: f64,
    /// The burst: instances due in one minute, the clock advanced through replica A while
    /// replica B helps.
    pub burst: u64,
    pub burst_create_seconds: f64,
    pub release_seconds: f64,
    /// Releases replica A (which advanced the clock) carried out itself; B did the rest.
    pub released_by_a: u64,
    pub released_by_b: u64,
    pub total_after: u64,
    /// `release_seconds` divided by the SQLite scale run's, scaled to the same burst size.
    pub release_ratio_to_sqlite: Option<f64>,
    pub ok: bool,
    pub problems: Vec<String>,
}

/// The lifecycle scale run.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ScaleReport {
    pub instances: u64,
    pub burst: u64,
    pub create_calls: u64,
    pub create_seconds: f64,
    pub create_instances_per_s: f64,
    /// The minute every burst instance is due in (virtual clock).
    pub burst_minute: String,
    /// How far the virtual clock was moved, in seconds.
    pub advance_by_s: i64,
    /// Wall time of the advance call, which answers after every due action has run.
    pub release_seconds: f64,
    /// Actions in the advance answer, and how many were releases.
    pub actions: u64,
    pub released: u64,
    /// happened_at − scheduled_at over the releases, in virtual seconds, as the advance answer
    /// reports them (a clock jump records each action at its due time, so this is 0 unless the
    /// server records otherwise). The scheduler's real delay is `release_seconds`: the last
    /// release happened at most that long (wall time) after the clock reached its minute.
    pub lag_virtual_min_s: f64,
    pub lag_virtual_max_s: f64,
    /// TotalCount after the burst (expected: instances − burst) and how long counting took.
    pub total_after: u64,
    pub count_seconds: f64,
    /// VmHWM of ecsd over its whole life up to the restart: creation, reads, the burst.
    pub peak_rss_mib: f64,
    pub rss_after_create_mib: f64,
    /// VmHWM after the `scale-describe-one` target (reads at the top concurrency while every
    /// instance exists).
    pub rss_serving_mib: f64,
    /// Database directory (database, WAL and shared-memory files).
    pub db_bytes: u64,
    pub db_mib: f64,
    /// From starting the process again after a SIGKILL until /health answered 200.
    pub restart_seconds: f64,
    pub restart_after: String,
    pub total_after_restart: u64,
    pub rss_after_restart_mib: f64,
    pub ok: bool,
    pub problems: Vec<String>,
}

/// A target of issue 5, judged against this run's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    pub goal: String,
    pub wanted: String,
    pub measured: Option<f64>,
    pub unit: String,
    /// `None` in a quick run (which never judges speed) or when not measured.
    pub met: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub mode: &'static str,
    /// What was measured, as given by `--label` (bench/run passes the git commit).
    pub label: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub wall_seconds: f64,
    pub machine: Machine,
    pub generator: Value,
    pub config: Value,
    pub targets: Vec<TargetReport>,
    pub scale: Option<ScaleReport>,
    pub postgres: Option<PgReport>,
    pub goals: Vec<Goal>,
    /// Every target answered correctly and the scale run's counts came out right.
    pub ok: bool,
    pub problems: Vec<String>,
}

fn mib(kib: Option<u64>) -> f64 {
    kib.map(|k| k as f64 / 1024.0).unwrap_or(0.0)
}

/// Average time of one call of `f`, in µs, over about `budget` (at least 3 calls).
fn time_per_call(mut f: impl FnMut(), budget: Duration) -> f64 {
    let t0 = Instant::now();
    let mut n = 0u32;
    while n < 3 || (t0.elapsed() < budget && n < 1_000_000) {
        f();
        n += 1;
    }
    t0.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

struct Suite {
    cfg: SuiteConfig,
    targets: Vec<TargetReport>,
    problems: Vec<String>,
}

fn say(msg: impl AsRef<str>) {
    eprintln!("[ecs-bench] {}", msg.as_ref());
}

impl Suite {
    fn ecsd_command(&self, data_dir: &Path, virtual_clock: bool) -> Command {
        let mut c = Command::new(&self.cfg.ecsd);
        c.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir);
        if virtual_clock {
            c.args(["--clock", "virtual"]);
        }
        c.env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", KEY_SECRET)
            .env("ECSD_ADMIN_TOKEN", ADMIN_TOKEN);
        c
    }

    async fn start_ecsd(
        &self,
        name: &str,
        data_dir: &Path,
        virtual_clock: bool,
    ) -> Result<Server, String> {
        procs::spawn_announcing(
            name,
            self.ecsd_command(data_dir, virtual_clock),
            &self.cfg.work_dir.join(format!("{name}.log")),
            "/health",
            Duration::from_secs(300),
        )
        .await
    }

    fn spec(&self, concurrency: usize) -> LoadSpec {
        LoadSpec {
            concurrency,
            warmup: self.cfg.warmup,
            duration: self.cfg.duration,
            max_requests: None,
            thorough_every: 64,
        }
    }

    /// Probes the target with one request (thoroughly checked), times the generator's own
    /// costs on it, then runs the load.
    async fn measure(
        &mut self,
        name: &str,
        server: &Server,
        server_kind: &str,
        workload: Workload,
        concurrency: usize,
    ) -> u64 {
        self.measure_spread(name, &[server], server_kind, workload, concurrency)
            .await
    }

    /// [`Suite::measure`] over several servers (replicas of one database), the generator's
    /// connections spread over them; the first is probed and its memory reported.
    async fn measure_spread(
        &mut self,
        name: &str,
        servers: &[&Server],
        server_kind: &str,
        workload: Workload,
        concurrency: usize,
    ) -> u64 {
        let server = servers[0];
        let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
        let pids: Vec<u32> = servers.iter().map(|s| s.pid).collect();
        let mut rng = StdRng::seed_from_u64(99);
        let prepare_us = time_per_call(
            || {
                std::hint::black_box(workload.prepare(&mut rng));
            },
            Duration::from_millis(100),
        );
        let probe = workload.prepare(&mut rng);
        let mut conn = Conn::new(server.addr);
        let (check_us, check_thorough_us, probe_error) = match conn.send(&probe.bytes).await {
            Ok(resp) => {
                let verdict = load::check(&resp, &probe.expect, true);
                let cheap = time_per_call(
                    || {
                        std::hint::black_box(load::check(&resp, &probe.expect, false).is_ok());
                    },
                    Duration::from_millis(20),
                );
                let thorough = time_per_call(
                    || {
                        std::hint::black_box(load::check(&resp, &probe.expect, true).is_ok());
                    },
                    Duration::from_millis(50),
                );
                (cheap, thorough, verdict.err())
            }
            Err(e) => (0.0, 0.0, Some(format!("transport: {e}"))),
        };
        drop(conn);
        say(format!("{name} @{concurrency}: running"));
        let mut result = load::run_spread(
            &addrs,
            Arc::new(workload.clone()),
            self.spec(concurrency),
            &pids,
        )
        .await;
        if let Some(e) = probe_error {
            result.errors += 1;
            result.first_error.get_or_insert(format!("probe: {e}"));
        }
        // The probe counts too.
        let sent = result.sent + 1;
        let ok = result.errors == 0 && result.requests > 0;
        if !ok {
            self.problems.push(format!(
                "{name} @{concurrency}: {} errors, {} answers measured; first error: {}",
                result.errors,
                result.requests,
                result.first_error.as_deref().unwrap_or("-")
            ));
        }
        say(format!(
            "{name} @{concurrency}: {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms, {} errors",
            result.rps, result.latency_ms.p50, result.latency_ms.p99, result.errors
        ));
        self.targets.push(TargetReport {
            name: name.to_string(),
            server: server_kind.to_string(),
            operation: workload.operation().to_string(),
            concurrency,
            ok,
            prepare_us,
            check_us,
            check_thorough_us,
            load: result,
            server_rss_mib: procs::status_kib(server.pid, "VmHWM").map(|k| k as f64 / 1024.0),
            ratio_to_baseline: None,
            ratio_to_sqlite: None,
        });
        sent
    }

    fn fail(&mut self, what: &str, e: String) {
        say(format!("FAILED: {what}: {e}"));
        self.problems.push(format!("{what}: {e}"));
    }

    async fn run_baseline(&mut self) -> Result<(), String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(exe);
        cmd.args(["baseline", "--listen", "127.0.0.1:0"]);
        let server = procs::spawn_announcing(
            "baseline",
            cmd,
            &self.cfg.work_dir.join("baseline.log"),
            "/health",
            Duration::from_secs(30),
        )
        .await?;
        // The same signed request as the ecsd write target, so the generator does the same
        // work per request; the baseline ignores it.
        let workload = Workload::EcsModify {
            client: EcsClient::new(server.addr.to_string(), KEY_ID, KEY_SECRET),
            ids: Arc::new(vec!["i-baseline0000000000000".to_string()]),
            base: Utc::now() + TimeDelta::hours(2),
        };
        for c in self.cfg.concurrencies.clone() {
            self.measure("baseline", &server, "baseline", workload.clone(), c)
                .await;
        }
        server.stop().await
    }

    /// Creates the instances, then measures each operation on a freshly started ecsd over
    /// that same data, so that no operation inherits another's process state (the nonce
    /// cache above all: see `sustained`).
    async fn run_ecsd(&mut self) -> Result<Value, String> {
        let dir = self.cfg.work_dir.join("ecsd-load");
        fresh_dir(&dir)?;
        let server = self.start_ecsd("ecsd-load", &dir, false).await?;
        let client = EcsClient::new(server.addr.to_string(), KEY_ID, KEY_SECRET);
        let total = self.cfg.instances;
        say(format!("ecsd: creating {total} instances"));
        let created = api::create_instances(
            server.addr,
            &client,
            total,
            self.cfg.create_concurrency,
            usize::MAX,
            Arc::new(|_| None),
            progress_printer(total),
        )
        .await?;
        let create_rate = created.instances as f64 / created.elapsed.as_secs_f64();
        say(format!(
            "ecsd: {} instances in {:.1} s ({create_rate:.0}/s)",
            created.instances,
            created.elapsed.as_secs_f64()
        ));
        let mut conn = Conn::new(server.addr);
        let counted = api::total_count(&mut conn, &client).await?;
        if counted != total {
            return Err(format!("TotalCount {counted} after creating {total}"));
        }
        drop(conn);
        server.stop().await?;
        let ids = Arc::new(created.ids);
        let mut peak_rss = 0.0f64;
        for group in ["ecsd-modify", "ecsd-describe-one", "ecsd-describe-page"] {
            let server = self.start_ecsd(group, &dir, false).await?;
            let client = EcsClient::new(server.addr.to_string(), KEY_ID, KEY_SECRET);
            let modify_base = Utc::now() + TimeDelta::hours(2);
            let workload = match group {
                "ecsd-modify" => Workload::EcsModify {
                    client: client.clone(),
                    ids: ids.clone(),
                    base: modify_base,
                },
                "ecsd-describe-one" => Workload::EcsDescribeOne {
                    client: client.clone(),
                    ids: ids.clone(),
                },
                _ => Workload::EcsDescribePage {
                    client: client.clone(),
                    total,
                    page_size: 100,
                },
            };
            let mut answered = 0;
            for c in self.cfg.concurrencies.clone() {
                answered += self
                    .measure(group, &server, "ecsd", workload.clone(), c)
                    .await;
            }
            if group == "ecsd-modify" {
                // A write target that answers success without writing would pass every check
                // above: read a sample back and require the writes in it.
                match read_back_modified(&server, &client, modify_base, answered, ids.len()).await {
                    Ok(seen) => say(format!("ecsd-modify: read back {seen}")),
                    Err(e) => self.fail("ecsd-modify read-back", e),
                }
            }
            if group == "ecsd-describe-one" && self.cfg.sustained_after > 0 {
                self.sustained(&server, workload, answered).await;
            }
            peak_rss = peak_rss.max(mib(procs::status_kib(server.pid, "VmHWM")));
            server.stop().await?;
        }
        Ok(json!({
            "instances": total,
            "create_seconds": created.elapsed.as_secs_f64(),
            "create_instances_per_s": create_rate,
            "peak_rss_mib": peak_rss,
            "db_mib": procs::dir_bytes(&dir) as f64 / 1048576.0,
        }))
    }

    /// Brings the process to `sustained_after` signed requests in all (fewer than the 15-minute
    /// signature window's worth of a busy shared server), then measures the same read again:
    /// a server whose per-request cost grows with the requests it has seen shows it here.
    async fn sustained(&mut self, server: &Server, workload: Workload, answered: u64) {
        let top = *self.cfg.concurrencies.iter().max().unwrap_or(&1);
        let wanted = self.cfg.sustained_after;
        if answered < wanted {
            say(format!(
                "ecsd-describe-one: sending {} more requests before the sustained run",
                wanted - answered
            ));
            let spec = LoadSpec {
                concurrency: top,
                warmup: Duration::ZERO,
                duration: Duration::from_secs(600),
                max_requests: Some(wanted - answered),
                thorough_every: 64,
            };
            let r = load::run(server.addr, Arc::new(workload.clone()), spec, None).await;
            if r.errors > 0 {
                self.problems.push(format!(
                    "ecsd-describe-one (filling): {} errors; first: {}",
                    r.errors,
                    r.first_error.as_deref().unwrap_or("-")
                ));
            }
        }
        let name = format!("ecsd-describe-one-after-{}k", wanted / 1000);
        self.measure(&name, server, "ecsd", workload, top).await;
    }

    async fn run_moto(&mut self, moto: PathBuf) -> Result<(), String> {
        let port = procs::free_port()?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut cmd = Command::new(moto);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let ready = ec2_request(&addr.to_string(), "DescribeRegions", &[]);
        let server = procs::spawn_on_port(
            "moto",
            cmd,
            addr,
            &self.cfg.work_dir.join("moto.log"),
            ready,
            Duration::from_secs(60),
        )
        .await?;
        let ids = Arc::new(api::moto_instances(addr, self.cfg.moto_instances).await?);
        let host = addr.to_string();
        for c in self.cfg.concurrencies.clone() {
            let w = Workload::Ec2Modify {
                host: host.clone(),
                ids: ids.clone(),
            };
            self.measure("moto-modify", &server, "moto", w, c).await;
        }
        for c in self.cfg.concurrencies.clone() {
            let w = Workload::Ec2DescribeOne {
                host: host.clone(),
                ids: ids.clone(),
            };
            self.measure("moto-describe-one", &server, "moto", w, c)
                .await;
        }
        server.stop().await
    }

    async fn run_scale(&mut self) -> Result<ScaleReport, String> {
        let cfg = self.cfg.clone();
        let mut r = ScaleReport {
            instances: cfg.scale_instances,
            burst: cfg.scale_burst,
            ..Default::default()
        };
        let dir = cfg.work_dir.join("ecsd-scale");
        fresh_dir(&dir)?;
        let server = self.start_ecsd("ecsd-scale", &dir, true).await?;
        let host = server.addr.to_string();
        let client = EcsClient::new(host.clone(), KEY_ID, KEY_SECRET);
        let mut conn = Conn::new(server.addr);
        let clock = api::admin(&mut conn, &host, "GET", "/admin/clock", None).await?;
        let now = clock["now"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| format!("bad clock answer {clock}"))?;
        // The burst minute is an hour ahead (the API wants at least 30 minutes); the rest are
        // spread one call per minute from an hour after that.
        let minute = now
            .duration_trunc(TimeDelta::minutes(1))
            .map_err(|e| e.to_string())?
            + TimeDelta::hours(1);
        r.burst_minute = ecs_wire::format_timestamp(minute);
        let burst_calls = cfg.scale_burst.div_ceil(100);
        let plan = Arc::new(move |call: u64| {
            let at = if call < burst_calls {
                // Seconds within the minute differ; the API keeps whole minutes.
                minute + TimeDelta::seconds((call % 60) as i64)
            } else {
                minute + TimeDelta::hours(1) + TimeDelta::minutes((call - burst_calls) as i64)
            };
            Some(ecs_wire::format_timestamp(at))
        });
        say(format!(
            "scale: creating {} instances ({} due in {})",
            cfg.scale_instances, cfg.scale_burst, r.burst_minute
        ));
        let created = api::create_instances(
            server.addr,
            &client,
            cfg.scale_instances,
            cfg.create_concurrency,
            100_000,
            plan,
            progress_printer(cfg.scale_instances),
        )
        .await?;
        r.create_calls = created.calls;
        r.create_seconds = created.elapsed.as_secs_f64();
        r.create_instances_per_s = created.instances as f64 / r.create_seconds;
        r.rss_after_create_mib = mib(procs::status_kib(server.pid, "VmHWM"));
        say(format!(
            "scale: created in {:.1} s ({:.0}/s)",
            r.create_seconds, r.create_instances_per_s
        ));
        // Reads while every instance is there: the memory of a server that is serving, not
        // only holding the rows.
        let top = *cfg.concurrencies.iter().max().unwrap_or(&1);
        let reads = Workload::EcsDescribeOne {
            client: client.clone(),
            ids: Arc::new(created.ids),
        };
        self.measure("scale-describe-one", &server, "ecsd", reads, top)
            .await;
        r.rss_serving_mib = mib(procs::status_kib(server.pid, "VmHWM"));
        say(format!(
            "scale: advancing the clock past {}",
            r.burst_minute
        ));

        let past = minute + TimeDelta::seconds(61);
        r.advance_by_s = (past - now).num_seconds();
        let t0 = Instant::now();
        let answer = api::admin(
            &mut conn,
            &host,
            "POST",
            "/admin/clock/advance",
            Some(&json!({ "seconds": r.advance_by_s })),
        )
        .await?;
        r.release_seconds = t0.elapsed().as_secs_f64();
        let actions = answer["actions"].as_array().cloned().unwrap_or_default();
        r.actions = actions.len() as u64;
        let mut lags = Vec::new();
        for a in &actions {
            if a["outcome"].as_str() == Some("released") {
                r.released += 1;
                let at = |k: &str| {
                    a[k].as_str()
                        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                };
                if let (Some(s), Some(h)) = (at("scheduled_at"), at("happened_at")) {
                    lags.push((h - s).num_milliseconds() as f64 / 1000.0);
                }
            }
        }
        r.lag_virtual_min_s = lags.iter().copied().fold(f64::INFINITY, f64::min);
        r.lag_virtual_max_s = lags.iter().copied().fold(0.0, f64::max);
        if lags.is_empty() {
            r.lag_virtual_min_s = 0.0;
        }
        say(format!(
            "scale: {} released in {:.2} s",
            r.released, r.release_seconds
        ));
        let t0 = Instant::now();
        r.total_after = api::total_count(&mut conn, &client).await?;
        r.count_seconds = t0.elapsed().as_secs_f64();
        let expected = cfg.scale_instances - cfg.scale_burst;
        if r.released != cfg.scale_burst {
            r.problems.push(format!(
                "{} released, expected {}",
                r.released, cfg.scale_burst
            ));
        }
        if r.total_after != expected {
            r.problems.push(format!(
                "TotalCount {} after the burst, expected {expected}",
                r.total_after
            ));
        }
        r.peak_rss_mib = mib(procs::status_kib(server.pid, "VmHWM"));
        r.db_bytes = procs::dir_bytes(&dir);
        r.db_mib = r.db_bytes as f64 / 1048576.0;
        drop(conn);

        r.restart_after = "SIGKILL".into();
        server.crash().await;
        let again = self.start_ecsd("ecsd-scale-restart", &dir, true).await?;
        r.restart_seconds = again.ready_after.as_secs_f64();
        say(format!(
            "scale: restarted with {} rows in {:.2} s",
            r.total_after, r.restart_seconds
        ));
        let client = EcsClient::new(again.addr.to_string(), KEY_ID, KEY_SECRET);
        let mut conn = Conn::new(again.addr);
        r.total_after_restart = api::total_count(&mut conn, &client).await?;
        if r.total_after_restart != expected {
            r.problems.push(format!(
                "TotalCount {} after the restart, expected {expected}",
                r.total_after_restart
            ));
        }
        r.rss_after_restart_mib = mib(procs::status_kib(again.pid, "VmHWM"));
        drop(conn);
        again.stop().await?;
        r.ok = r.problems.is_empty();
        Ok(r)
    }
}

/// The master key every PostgreSQL replica of the benchmark shares (sealed secrets in one
/// database must open on each); a benchmark constant, never a secret.
const PG_MASTER_KEY: &str = "ZWNzLWJlbmNoIHNoYXJlZCBtYXN0ZXIga2V5IDMyYiE=";

impl Suite {
    async fn start_pg_ecsd(
        &self,
        name: &str,
        database_url: &str,
        virtual_clock: bool,
    ) -> Result<Server, String> {
        let data_dir = self.cfg.work_dir.join(name);
        fresh_dir(&data_dir)?;
        let mut cmd = self.ecsd_command(&data_dir, virtual_clock);
        cmd.arg("--database-url")
            .arg(database_url)
            .env("ECSD_MASTER_KEY", PG_MASTER_KEY);
        procs::spawn_announcing(
            name,
            cmd,
            &self.cfg.work_dir.join(format!("{name}.log")),
            "/health",
            Duration::from_secs(300),
        )
        .await
    }

    /// The PostgreSQL rows: writes and one-instance reads on one replica and on two replicas
    /// behind the same generator, then the release burst with two replicas, each on a
    /// database of its own created for the run.
    async fn run_postgres(&mut self, server_url: String) -> PgReport {
        let mut r = PgReport::default();
        let mut databases = Vec::new();
        let outcome = self
            .postgres_rows(&server_url, &mut databases, &mut r)
            .await;
        for db in databases {
            if let Err(e) = drop_database(&server_url, &db).await {
                say(format!("postgres: could not drop database {db}: {e}"));
            }
        }
        if let Err(e) = outcome {
            r.problems.push(e);
        }
        r.ok = r.problems.is_empty();
        r
    }

    async fn postgres_rows(
        &mut self,
        server_url: &str,
        databases: &mut Vec<String>,
        r: &mut PgReport,
    ) -> Result<(), String> {
        let (name, url) = create_database(server_url, "ecsbench_load").await?;
        databases.push(name);
        let total = self.cfg.instances;
        let server = self.start_pg_ecsd("pg-load", &url, false).await?;
        let client = EcsClient::new(server.addr.to_string(), KEY_ID, KEY_SECRET);
        say(format!("postgres: creating {total} instances"));
        let created = api::create_instances(
            server.addr,
            &client,
            total,
            self.cfg.create_concurrency,
            usize::MAX,
            Arc::new(|_| None),
            progress_printer(total),
        )
        .await?;
        r.instances = created.instances;
        r.create_seconds = created.elapsed.as_secs_f64();
        r.create_instances_per_s = created.instances as f64 / r.create_seconds;
        server.stop().await?;
        let ids = Arc::new(created.ids);

        for replicas in [1usize, 2] {
            for op in ["modify", "describe-one"] {
                let group = format!("pg{replicas}-{op}");
                let mut servers = Vec::new();
                for n in 0..replicas {
                    servers.push(
                        self.start_pg_ecsd(&format!("{group}-{n}"), &url, false)
                            .await?,
                    );
                }
                // One signer for all: the replicas check the same signatures.
                let client = EcsClient::new(servers[0].addr.to_string(), KEY_ID, KEY_SECRET);
                let base = Utc::now() + TimeDelta::hours(2);
                let workload = match op {
                    "modify" => Workload::EcsModify {
                        client: client.clone(),
                        ids: ids.clone(),
                        base,
                    },
                    _ => Workload::EcsDescribeOne {
                        client: client.clone(),
                        ids: ids.clone(),
                    },
                };
                let refs: Vec<&Server> = servers.iter().collect();
                let mut answered = 0;
                for c in self.cfg.concurrencies.clone() {
                    answered += self
                        .measure_spread(&group, &refs, "ecsd-postgres", workload.clone(), c)
                        .await;
                }
                if op == "modify" {
                    match read_back_modified(&servers[0], &client, base, answered, ids.len()).await
                    {
                        Ok(seen) => say(format!("{group}: read back {seen}")),
                        Err(e) => self.fail(&format!("{group} read-back"), e),
                    }
                }
                for s in servers {
                    s.stop().await?;
                }
            }
        }

        // The burst: every instance due in one minute, the clock advanced through A.
        let (name, url) = create_database(server_url, "ecsbench_burst").await?;
        databases.push(name);
        let burst = self.cfg.scale_burst;
        r.burst = burst;
        let a = self.start_pg_ecsd("pg2-burst-a", &url, true).await?;
        let b = self.start_pg_ecsd("pg2-burst-b", &url, true).await?;
        let host = a.addr.to_string();
        let client = EcsClient::new(host.clone(), KEY_ID, KEY_SECRET);
        let mut conn = Conn::new(a.addr);
        let clock = api::admin(&mut conn, &host, "GET", "/admin/clock", None).await?;
        let now = clock["now"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| format!("bad clock answer {clock}"))?;
        let minute = now
            .duration_trunc(TimeDelta::minutes(1))
            .map_err(|e| e.to_string())?
            + TimeDelta::hours(1);
        say(format!(
            "postgres: creating {burst} instances due in one minute"
        ));
        let created = api::create_instances(
            a.addr,
            &client,
            burst,
            self.cfg.create_concurrency,
            0,
            Arc::new(move |call| {
                Some(ecs_wire::format_timestamp(
                    minute + TimeDelta::seconds((call % 60) as i64),
                ))
            }),
            progress_printer(burst),
        )
        .await?;
        r.burst_create_seconds = created.elapsed.as_secs_f64();
        let t0 = Instant::now();
        let answer = api::admin(
            &mut conn,
            &host,
            "POST",
            "/admin/clock/advance",
            Some(&json!({ "seconds": (minute + TimeDelta::seconds(61) - now).num_seconds() })),
        )
        .await?;
        r.release_seconds = t0.elapsed().as_secs_f64();
        r.released_by_a = answer["actions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|x| x["outcome"].as_str() == Some("released"))
                    .count() as u64
            })
            .unwrap_or(0);
        r.total_after = api::total_count(&mut conn, &client).await?;
        let mut conn_b = Conn::new(b.addr);
        let client_b = EcsClient::new(b.addr.to_string(), KEY_ID, KEY_SECRET);
        let total_b = api::total_count(&mut conn_b, &client_b).await?;
        r.released_by_b = burst.saturating_sub(r.released_by_a);
        say(format!(
            "postgres: {burst} released by two replicas in {:.2} s (A {}, B {})",
            r.release_seconds, r.released_by_a, r.released_by_b
        ));
        if r.total_after != 0 || total_b != 0 {
            r.problems.push(format!(
                "TotalCount {} (A) and {total_b} (B) after the burst, expected 0",
                r.total_after
            ));
        }
        drop((conn, conn_b));
        a.stop().await?;
        b.stop().await?;
        Ok(())
    }
}

/// `url` with its database name replaced by `name` (a query string, if any, kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let prefix = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{prefix}/{name}{query}")
}

/// Creates a fresh database on the server at `url`; its name and URL.
async fn create_database(url: &str, prefix: &str) -> Result<(String, String), String> {
    let name = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        Utc::now().timestamp_millis()
    );
    let (url, stmt) = (url.to_owned(), format!("CREATE DATABASE {name}"));
    tokio::task::spawn_blocking(move || -> Result<String, String> {
        let mut client = postgres::Client::connect(&url, postgres::NoTls)
            .map_err(|e| format!("postgres: cannot connect: {e}"))?;
        client
            .batch_execute(&stmt)
            .map_err(|e| format!("postgres: {stmt}: {e}"))?;
        Ok(url)
    })
    .await
    .map_err(|e| e.to_string())?
    .map(|url| (name.clone(), with_database(&url, &name)))
}

async fn drop_database(url: &str, name: &str) -> Result<(), String> {
    let (url, stmt) = (url.to_owned(), format!("DROP DATABASE IF EXISTS {name}"));
    tokio::task::spawn_blocking(move || -> Result<(), String> {
        let mut client =
            postgres::Client::connect(&url, postgres::NoTls).map_err(|e| e.to_string())?;
        client.batch_execute(&stmt).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// How many instances [`read_back_modified`] reads (the first pages of the listing).
const READ_BACK_SAMPLE: u64 = 1_000;

/// Reads back the first [`READ_BACK_SAMPLE`] instances after `answered` ModifyInstanceAutoReleaseTime
/// calls spread at random over `created` instances (none of which had a release time before),
/// and requires what those calls wrote: every release time seen lies in the window the calls
/// drew from (`base` to `base` + 1440 minutes), and the sample holds at least half the share of
/// modified instances the calls make likely (1 - e^(-calls/instances)), at least one.
async fn read_back_modified(
    server: &Server,
    client: &EcsClient,
    base: DateTime<Utc>,
    answered: u64,
    created: usize,
) -> Result<String, String> {
    let mut conn = Conn::new(server.addr);
    let (mut read, mut modified, mut page) = (0u64, 0u64, 1u64);
    let earliest = base
        .duration_trunc(TimeDelta::minutes(1))
        .map_err(|e| e.to_string())?;
    let latest = base + TimeDelta::minutes(1440);
    while read < READ_BACK_SAMPLE {
        let page_number = page.to_string();
        let v = api::ecs_call(
            &mut conn,
            client,
            "DescribeInstances",
            &[
                ("RegionId", "cn-hangzhou"),
                ("PageSize", "100"),
                ("PageNumber", &page_number),
            ],
        )
        .await?;
        let listed = v["Instances"]["Instance"]
            .as_array()
            .ok_or_else(|| format!("DescribeInstances without Instances.Instance: {v}"))?;
        for i in listed {
            read += 1;
            let at = i["AutoReleaseTime"].as_str().unwrap_or_default();
            if at.is_empty() {
                continue;
            }
            let when = chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%MZ")
                .map_err(|e| format!("{} AutoReleaseTime {at:?}: {e}", i["InstanceId"]))?
                .and_utc();
            if when < earliest || when > latest {
                return Err(format!(
                    "{} has AutoReleaseTime {at}, outside the window the benchmark wrote ({earliest} to {latest})",
                    i["InstanceId"]
                ));
            }
            modified += 1;
        }
        if listed.len() < 100 {
            break;
        }
        page += 1;
    }
    let likely = read as f64 * (1.0 - (-(answered as f64) / created.max(1) as f64).exp());
    let needed = ((likely / 2.0).floor() as u64).max(1);
    if answered == 0 || modified < needed {
        return Err(format!(
            "{modified} of {read} instances read back carry a release time after {answered} \
             answered ModifyInstanceAutoReleaseTime calls over {created} instances (at least \
             {needed} expected): the writes were not kept"
        ));
    }
    Ok(format!("{modified} of {read} sampled instances modified"))
}

fn fresh_dir(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// Prints creation progress at every tenth of `total`.
fn progress_printer(total: u64) -> Arc<dyn Fn(u64) + Send + Sync> {
    let step = (total / 10).max(1);
    let next = Arc::new(std::sync::atomic::AtomicU64::new(step));
    let t0 = Instant::now();
    Arc::new(move |done| {
        let mark = next.load(std::sync::atomic::Ordering::Relaxed);
        if done >= mark
            && next
                .compare_exchange(
                    mark,
                    mark + step,
                    std::sync::atomic::Ordering::Relaxed,
                    std::sync::atomic::Ordering::Relaxed,
                )
                .is_ok()
        {
            say(format!(
                "  {done}/{total} created ({:.0}/s)",
                done as f64 / t0.elapsed().as_secs_f64()
            ));
        }
    })
}

fn find<'a>(targets: &'a [TargetReport], name: &str, c: usize) -> Option<&'a TargetReport> {
    targets
        .iter()
        .find(|t| t.name == name && t.concurrency == c && t.ok)
}

fn goals(targets: &[TargetReport], scale: Option<&ScaleReport>, quick: bool) -> Vec<Goal> {
    let top = 64;
    let ratio = |name: &str| find(targets, name, top).and_then(|t| t.ratio_to_baseline);
    let versus = |a: &str, b: &str| {
        let a = find(targets, a, top)?;
        let b = find(targets, b, top)?;
        (b.load.rps > 0.0).then(|| a.load.rps / b.load.rps)
    };
    let mut out = vec![
        (
            "signed durable writes (ModifyInstanceAutoReleaseTime @64) vs baseline",
            ">= 0.50",
            ratio("ecsd-modify"),
            "ratio",
            0.5,
            true,
        ),
        (
            "reads: DescribeInstances of 1 @64 vs baseline",
            ">= 0.70",
            ratio("ecsd-describe-one"),
            "ratio",
            0.7,
            true,
        ),
        (
            "reads: DescribeInstances page of 100 @64 vs baseline",
            ">= 0.70",
            ratio("ecsd-describe-page"),
            "ratio",
            0.7,
            true,
        ),
        (
            "writes vs moto ModifyInstanceAttribute @64",
            ">= 100",
            versus("ecsd-modify", "moto-modify"),
            "x",
            100.0,
            true,
        ),
        (
            "reads (1 instance) vs moto DescribeInstances @64",
            ">= 100",
            versus("ecsd-describe-one", "moto-describe-one"),
            "x",
            100.0,
            true,
        ),
    ];
    let s = scale.filter(|s| s.ok);
    out.extend([
        (
            "100,000-release burst",
            "<= 10 s",
            s.map(|s| s.release_seconds),
            "s",
            10.0,
            false,
        ),
        (
            "peak RSS with 1,000,000 instances",
            "<= 512 MiB",
            s.map(|s| s.peak_rss_mib),
            "MiB",
            512.0,
            false,
        ),
        (
            "restart with 1,000,000 rows",
            "<= 3 s",
            s.map(|s| s.restart_seconds),
            "s",
            3.0,
            false,
        ),
    ]);
    out.into_iter()
        .map(|(goal, wanted, measured, unit, bound, at_least)| Goal {
            goal: goal.to_string(),
            wanted: wanted.to_string(),
            measured,
            unit: unit.to_string(),
            met: if quick {
                None
            } else {
                measured.map(|m| if at_least { m >= bound } else { m <= bound })
            },
        })
        .collect()
}

/// Runs everything, writes the JSON and prints the table. The report's `ok` says whether every
/// target answered correctly.
pub async fn run(cfg: SuiteConfig) -> Result<Report, String> {
    std::fs::create_dir_all(&cfg.work_dir)
        .map_err(|e| format!("cannot create {}: {e}", cfg.work_dir.display()))?;
    let started_at = Utc::now();
    let t0 = Instant::now();
    let machine = procs::machine();
    let mut suite = Suite {
        cfg: cfg.clone(),
        targets: Vec::new(),
        problems: Vec::new(),
    };

    // The generator's own cost, before anything runs: one signed request, no I/O.
    let signer = Workload::EcsModify {
        client: EcsClient::new("127.0.0.1:1", KEY_ID, KEY_SECRET),
        ids: Arc::new(vec!["i-bp1234567890abcdefgh".into()]),
        base: Utc::now() + TimeDelta::hours(2),
    };
    // The best of five short loops: the first ones run while the CPU is still waking up.
    let mut rng = StdRng::seed_from_u64(1);
    let sign_us = (0..5)
        .map(|_| {
            time_per_call(
                || {
                    std::hint::black_box(signer.prepare(&mut rng));
                },
                Duration::from_millis(100),
            )
        })
        .fold(f64::INFINITY, f64::min);
    say(format!(
        "generator: {sign_us:.2} µs to build and sign one request (V1, no I/O)"
    ));

    let wanted = |part: &str| cfg.only.is_empty() || cfg.only.iter().any(|p| p == part);
    if wanted("baseline") {
        if let Err(e) = suite.run_baseline().await {
            suite.fail("baseline", e);
        }
    }
    let mut ecsd_info = Value::Null;
    if wanted("ecsd") {
        match suite.run_ecsd().await {
            Ok(v) => ecsd_info = v,
            Err(e) => suite.fail("ecsd", e),
        }
    }
    match cfg.moto.clone() {
        _ if !wanted("moto") => {}
        Some(moto) => {
            if let Err(e) = suite.run_moto(moto).await {
                suite.fail("moto", e);
            }
        }
        None => suite
            .problems
            .push("moto: no moto_server given; the peer was not measured".into()),
    }
    let scale = if cfg.skip_scale || !wanted("scale") {
        None
    } else {
        match suite.run_scale().await {
            Ok(r) => {
                if !r.ok {
                    suite
                        .problems
                        .extend(r.problems.iter().map(|p| format!("scale: {p}")));
                }
                Some(r)
            }
            Err(e) => {
                suite.fail("scale", e);
                None
            }
        }
    };

    let postgres = if !wanted("postgres") {
        None
    } else if let Some(url) = cfg.database_url.clone() {
        let r = suite.run_postgres(url).await;
        suite
            .problems
            .extend(r.problems.iter().map(|p| format!("postgres: {p}")));
        Some(r)
    } else {
        let why = "no PostgreSQL server given (ECSD_BENCH_DATABASE_URL, ECSD_TEST_DATABASE_URL \
                   or --database-url): the PostgreSQL rows were not measured";
        say(format!("NOTICE: {why}"));
        Some(PgReport {
            skipped: Some(why.into()),
            ok: true,
            ..Default::default()
        })
    };

    let baselines: Vec<(usize, f64)> = suite
        .targets
        .iter()
        .filter(|t| t.name == "baseline" && t.ok)
        .map(|t| (t.concurrency, t.load.rps))
        .collect();
    for t in &mut suite.targets {
        t.ratio_to_baseline = baselines
            .iter()
            .find(|(c, _)| *c == t.concurrency)
            .filter(|(_, rps)| *rps > 0.0)
            .map(|(_, rps)| t.load.rps / rps);
    }
    // PostgreSQL rows against the same operation on SQLite in this run.
    let sqlite: Vec<(String, usize, f64)> = suite
        .targets
        .iter()
        .filter(|t| t.server == "ecsd" && t.ok)
        .map(|t| (t.operation.clone(), t.concurrency, t.load.rps))
        .collect();
    for t in &mut suite.targets {
        if t.server != "ecsd-postgres" {
            continue;
        }
        t.ratio_to_sqlite = sqlite
            .iter()
            .find(|(op, c, _)| *op == t.operation && *c == t.concurrency)
            .filter(|(_, _, rps)| *rps > 0.0)
            .map(|(_, _, rps)| t.load.rps / rps);
    }
    let mut postgres = postgres;
    if let (Some(pg), Some(sc)) = (postgres.as_mut(), scale.as_ref()) {
        if sc.ok && sc.release_seconds > 0.0 && sc.released > 0 && pg.burst > 0 {
            let per_release_sqlite = sc.release_seconds / sc.released as f64;
            pg.release_ratio_to_sqlite =
                Some(pg.release_seconds / pg.burst as f64 / per_release_sqlite);
        }
    }
    let goals = goals(&suite.targets, scale.as_ref(), cfg.quick);
    let report = Report {
        schema: SCHEMA,
        mode: if cfg.quick { "quick" } else { "full" },
        label: cfg.label.clone(),
        started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        finished_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        wall_seconds: t0.elapsed().as_secs_f64(),
        machine,
        generator: json!({
            "client": "ecs-bench: hand-written HTTP/1.1 keep-alive client, tokio current-thread runtime (one core at most), closed loop",
            "sign_v1_us": sign_us,
            "thorough_check_every": 64,
            "cpu_accounting": "/proc/PID/stat utime+stime over the measured window, divided by measured requests",
        }),
        config: json!({
            "concurrencies": cfg.concurrencies,
            "warmup_s": cfg.warmup.as_secs_f64(),
            "duration_s": cfg.duration.as_secs_f64(),
            "instances": cfg.instances,
            "moto_instances": cfg.moto_instances,
            "scale_instances": cfg.scale_instances,
            "scale_burst": cfg.scale_burst,
            "create_concurrency": cfg.create_concurrency,
            "sustained_after": cfg.sustained_after,
            "postgres": cfg.database_url.is_some(),
            "ecsd_load_server": ecsd_info,
        }),
        ok: suite.problems.is_empty() && (!suite.targets.is_empty() || scale.is_some()),
        problems: suite.problems.clone(),
        targets: suite.targets,
        scale,
        postgres,
        goals,
    };
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    if let Some(parent) = cfg.out.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::write(&cfg.out, text + "\n")
        .map_err(|e| format!("cannot write {}: {e}", cfg.out.display()))?;
    print!("{}", table(&report));
    Ok(report)
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

/// The human-readable summary (also used for BENCHMARKS.md).
pub fn table(r: &Report) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "\necs-bench {} run, {}{} — {} × {}, {} MiB\n",
        r.mode,
        r.started_at,
        r.label
            .as_deref()
            .map(|l| format!(" ({l})"))
            .unwrap_or_default(),
        r.machine.nproc,
        r.machine.cpu_model,
        r.machine.mem_total_mib
    ));
    out.push_str(&format!(
        "generator: {:.2} µs to sign one request (no I/O)\n\n",
        r.generator["sign_v1_us"].as_f64().unwrap_or(0.0)
    ));
    out.push_str(
        "| target | operation | conc | req/s | p50 ms | p99 ms | vs baseline | gen CPU µs/req | server CPU µs/req | server RSS MiB | other load (cores) | errors |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for t in &r.targets {
        out.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.3} | {:.3} | {} | {} | {} | {} | {} | {} |\n",
            t.name,
            t.operation,
            t.concurrency,
            t.load.rps,
            t.load.latency_ms.p50,
            t.load.latency_ms.p99,
            opt(t.ratio_to_baseline, 3),
            opt(t.load.client_cpu_us_per_req, 1),
            opt(t.load.server_cpu_us_per_req, 1),
            opt(t.server_rss_mib, 0),
            opt(t.load.other_busy_cores, 2),
            t.load.errors,
        ));
    }
    if let Some(s) = &r.scale {
        out.push_str(&format!(
            "\nlifecycle scale run: {} instances, {} due in {}\n\
             | measure | value |\n|---|---:|\n\
             | creation through RunInstances (Amount=100, {} calls) | {:.1} s ({:.0} instances/s) |\n\
             | burst: advance answered after all releases | {:.2} s ({} released) |\n\
             | scheduler lag as recorded (virtual happened − scheduled), min–max | {:.0}–{:.0} s |\n\
             | TotalCount after burst | {} ({:.3} s to count) |\n\
             | RSS (VmHWM) after creation / after 64 concurrent reads / peak | {:.1} / {:.1} / {:.1} MiB |\n\
             | database on disk | {:.1} MiB |\n\
             | restart after {} until /health | {:.2} s |\n\
             | TotalCount after restart | {} |\n",
            s.instances,
            s.burst,
            s.burst_minute,
            s.create_calls,
            s.create_seconds,
            s.create_instances_per_s,
            s.release_seconds,
            s.released,
            s.lag_virtual_min_s,
            s.lag_virtual_max_s,
            s.total_after,
            s.count_seconds,
            s.rss_after_create_mib,
            s.rss_serving_mib,
            s.peak_rss_mib,
            s.db_mib,
            s.restart_after,
            s.restart_seconds,
            s.total_after_restart,
        ));
    }
    if let Some(pg) = &r.postgres {
        match &pg.skipped {
            Some(why) => out.push_str(&format!("\nPostgreSQL rows: skipped ({why})\n")),
            None => {
                out.push_str(
                    "\nPostgreSQL rows (the database server's CPU counts as other load)\n\
                     | target | operation | conc | req/s | vs SQLite ecsd | p50 ms | p99 ms | other load (cores) | errors |\n\
                     |---|---|---:|---:|---:|---:|---:|---:|---:|\n",
                );
                for t in r.targets.iter().filter(|t| t.server == "ecsd-postgres") {
                    out.push_str(&format!(
                        "| {} | {} | {} | {:.0} | {} | {:.3} | {:.3} | {} | {} |\n",
                        t.name,
                        t.operation,
                        t.concurrency,
                        t.load.rps,
                        opt(t.ratio_to_sqlite, 3),
                        t.load.latency_ms.p50,
                        t.load.latency_ms.p99,
                        opt(t.load.other_busy_cores, 2),
                        t.load.errors,
                    ));
                }
                out.push_str(&format!(
                    "\n| PostgreSQL measure | value |\n|---|---:|\n\
                     | creation, one replica | {:.1} s ({:.0} instances/s) |\n\
                     | burst with two replicas: advance answered after all {} releases | {:.2} s (A {}, B {}) |\n\
                     | burst time per release vs SQLite's scale run | {} |\n",
                    pg.create_seconds,
                    pg.create_instances_per_s,
                    pg.burst,
                    pg.release_seconds,
                    pg.released_by_a,
                    pg.released_by_b,
                    opt(pg.release_ratio_to_sqlite, 2),
                ));
            }
        }
    }
    out.push_str("\n| goal (issue 5) | wanted | measured | met |\n|---|---|---:|---|\n");
    for g in &r.goals {
        let met = match g.met {
            Some(true) => "yes",
            Some(false) => "NO",
            None if r.mode == "quick" => "not judged (quick)",
            None => "not measured",
        };
        out.push_str(&format!(
            "| {} | {} | {} {} | {} |\n",
            g.goal,
            g.wanted,
            opt(g.measured, 3),
            g.unit,
            met
        ));
    }
    if r.ok {
        out.push_str("\nall targets answered correctly\n");
    } else {
        out.push_str("\nPROBLEMS:\n");
        for p in &r.problems {
            out.push_str(&format!("- {p}\n"));
        }
    }
    out
}
