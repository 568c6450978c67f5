//! Server processes under test, and what /proc says about them and the machine.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::http::{self, Conn};

/// Clock ticks per second of /proc/PID/stat times (USER_HZ; 100 on every common Linux).
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// User plus system CPU seconds of a process (`None`: this one), all its threads together.
pub fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    // The command name may hold spaces; the fields after its closing parenthesis do not.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime) are the 12th and 13th after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

/// Busy and total CPU seconds of the whole machine, all cores (from /proc/stat; iowait counts
/// as idle).
pub fn machine_cpu_seconds() -> Option<(f64, f64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: f64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4).unwrap_or(&0.0);
    Some(((total - idle) / clock_ticks(), total / clock_ticks()))
}

/// A `kB` line of /proc/PID/status (VmHWM: peak resident set; VmRSS: current), in KiB.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Total size in bytes of the files in a directory (not recursive: ecsd keeps its database,
/// WAL and shared-memory file side by side).
pub fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The machine a run happened on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub mem_total_mib: u64,
    pub kernel: String,
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "model name").then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_total_mib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| kib / 1024)
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    Machine {
        nproc: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        cpu_model,
        mem_total_mib,
        kernel,
    }
}

/// A server process started by the suite. Dropping it kills the process.
pub struct Server {
    pub name: String,
    pub child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    /// From spawn until it answered its readiness check.
    pub ready_after: Duration,
}

/// A free loopback port, found by binding port 0 and letting it go.
pub fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

fn log_file(path: &Path) -> Result<std::fs::File, String> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open log {}: {e}", path.display()))
}

/// Starts a server that prints `… listening on http://ADDR …` on stdout, then waits until
/// `GET ready_path` answers 200. Its stderr goes to `log`.
pub async fn spawn_announcing(
    name: &str,
    mut cmd: Command,
    log: &Path,
    ready_path: &str,
    timeout: Duration,
) -> Result<Server, String> {
    let t0 = Instant::now();
    cmd.stdout(Stdio::piped())
        .stderr(log_file(log)?)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    let pid = child.id().ok_or("the process is gone")?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let addr = tokio::time::timeout(timeout, async {
        while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let addr = rest.split_whitespace().next().unwrap_or_default();
                return addr
                    .parse::<SocketAddr>()
                    .map_err(|e| format!("bad address in {line:?}: {e}"));
            }
        }
        Err(format!(
            "{name} exited before listening (see {})",
            log.display()
        ))
    })
    .await
    .map_err(|_| format!("{name} did not start within {timeout:?}"))??;
    // Keep reading stdout so that the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    wait_ready(addr, ready_path, timeout.saturating_sub(t0.elapsed())).await?;
    Ok(Server {
        name: name.to_string(),
        child,
        pid,
        addr,
        ready_after: t0.elapsed(),
    })
}

/// Starts a server on a port chosen beforehand and waits until `ready` (a full request)
/// answers 200. Output goes to `log`.
pub async fn spawn_on_port(
    name: &str,
    mut cmd: Command,
    addr: SocketAddr,
    log: &Path,
    ready: Vec<u8>,
    timeout: Duration,
) -> Result<Server, String> {
    let t0 = Instant::now();
    cmd.stdout(log_file(log)?)
        .stderr(log_file(log)?)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    let pid = child.id().ok_or("the process is gone")?;
    loop {
        let mut c = Conn::new(addr);
        if let Ok(r) = c.send(&ready).await {
            if r.status == 200 {
                break;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "{name} exited with {status} (see {})",
                log.display()
            ));
        }
        if t0.elapsed() > timeout {
            return Err(format!("{name} did not answer within {timeout:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(Server {
        name: name.to_string(),
        child,
        pid,
        addr,
        ready_after: t0.elapsed(),
    })
}

/// Polls `GET path` every few milliseconds until it answers 200.
pub async fn wait_ready(addr: SocketAddr, path: &str, timeout: Duration) -> Result<(), String> {
    let t0 = Instant::now();
    let host = addr.to_string();
    loop {
        let mut c = Conn::new(addr);
        if let Ok(r) = c.send(&http::get(&host, path, &[])).await {
            if r.status == 200 {
                return Ok(());
            }
        }
        if t0.elapsed() > timeout {
            return Err(format!(
                "{addr}{path} did not answer 200 within {timeout:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

impl Server {
    /// Asks the process to stop (SIGTERM) and waits for it; kills it if it lingers.
    pub async fn stop(mut self) -> Result<(), String> {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(Ok(_)) => Ok(()),
            _ => {
                let _ = self.child.kill().await;
                Err(format!("{} did not stop on SIGTERM; killed", self.name))
            }
        }
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub async fn crash(mut self) {
        let _ = self.child.kill().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_cpu_time_and_memory() {
        let cpu = cpu_seconds(None).expect("/proc/self/stat is readable");
        assert!(cpu >= 0.0);
        let hwm = status_kib(std::process::id(), "VmHWM").expect("VmHWM is reported");
        assert!(hwm > 0);
        assert!(status_kib(std::process::id(), "NoSuchField").is_none());
        assert!(machine().nproc >= 1);
        let (busy, total) = machine_cpu_seconds().expect("/proc/stat is readable");
        assert!(busy <= total && total > 0.0);
    }
}
