//! The load driver: N connections, each sending its next request as soon as the previous answer
//! is in (closed loop), for a fixed time or number of requests. Every answer is checked; every
//! latency inside the measured window is kept and summarized by sorting.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::Value;

use crate::http::{Conn, Response};
use crate::procs;
use crate::sign::{ec2_request, EcsClient};

/// What a correct answer must show beyond HTTP 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// An ECS JSON answer with a RequestId.
    EcsOk,
    /// An ECS DescribeInstances answer with this TotalCount and (when given) this first id.
    EcsListing {
        total: u64,
        first_id: Option<String>,
        items: usize,
    },
    /// An EC2 XML answer with a request id, containing this text (an instance id) if given.
    Ec2Ok { contains: Option<String> },
}

/// One kind of request, built afresh (and signed) for every send.
#[derive(Debug, Clone)]
pub enum Workload {
    /// Signed ModifyInstanceAutoReleaseTime of a random instance of `ids`, to a random minute
    /// within a day after `base` (a time at least 30 minutes ahead of the server's clock).
    EcsModify {
        client: EcsClient,
        ids: Arc<Vec<String>>,
        base: chrono::DateTime<chrono::Utc>,
    },
    /// Signed DescribeInstances of one random instance of `ids`.
    EcsDescribeOne {
        client: EcsClient,
        ids: Arc<Vec<String>>,
    },
    /// Signed DescribeInstances of a random page of `page_size` out of `total` instances.
    EcsDescribePage {
        client: EcsClient,
        total: u64,
        page_size: u64,
    },
    /// EC2 ModifyInstanceAttribute (DisableApiTermination) of a random instance, for moto.
    Ec2Modify { host: String, ids: Arc<Vec<String>> },
    /// EC2 DescribeInstances of one random instance, for moto.
    Ec2DescribeOne { host: String, ids: Arc<Vec<String>> },
}

/// A request ready to send and what its answer must show.
pub struct Prepared {
    pub bytes: Vec<u8>,
    pub expect: Expect,
}

impl Workload {
    /// The operation as shown in reports.
    pub fn operation(&self) -> &'static str {
        match self {
            Workload::EcsModify { .. } => "ModifyInstanceAutoReleaseTime (signed V1)",
            Workload::EcsDescribeOne { .. } => "DescribeInstances, 1 id (signed V1)",
            Workload::EcsDescribePage { .. } => "DescribeInstances, page of 100 (signed V1)",
            Workload::Ec2Modify { .. } => "EC2 ModifyInstanceAttribute",
            Workload::Ec2DescribeOne { .. } => "EC2 DescribeInstances, 1 id",
        }
    }

    pub fn prepare(&self, rng: &mut StdRng) -> Prepared {
        match self {
            Workload::EcsModify { client, ids, base } => {
                let id = &ids[rng.gen_range(0..ids.len())];
                let at = *base + chrono::Duration::minutes(rng.gen_range(0..1440));
                let at = ecs_wire::format_timestamp(at);
                Prepared {
                    bytes: client.request(
                        "ModifyInstanceAutoReleaseTime",
                        &[
                            ("RegionId", "cn-hangzhou"),
                            ("InstanceId", id),
                            ("AutoReleaseTime", &at),
                        ],
                    ),
                    expect: Expect::EcsOk,
                }
            }
            Workload::EcsDescribeOne { client, ids } => {
                let id = &ids[rng.gen_range(0..ids.len())];
                let list = format!("[\"{id}\"]");
                Prepared {
                    bytes: client.request(
                        "DescribeInstances",
                        &[("RegionId", "cn-hangzhou"), ("InstanceIds", &list)],
                    ),
                    expect: Expect::EcsListing {
                        total: 1,
                        first_id: Some(id.clone()),
                        items: 1,
                    },
                }
            }
            Workload::EcsDescribePage {
                client,
                total,
                page_size,
            } => {
                let pages = total.div_ceil(*page_size).max(1);
                let page = rng.gen_range(1..=pages);
                let items = total.saturating_sub((page - 1) * page_size).min(*page_size);
                Prepared {
                    bytes: client.request(
                        "DescribeInstances",
                        &[
                            ("RegionId", "cn-hangzhou"),
                            ("PageNumber", &page.to_string()),
                            ("PageSize", &page_size.to_string()),
                        ],
                    ),
                    expect: Expect::EcsListing {
                        total: *total,
                        first_id: None,
                        items: items as usize,
                    },
                }
            }
            Workload::Ec2Modify { host, ids } => {
                let id = &ids[rng.gen_range(0..ids.len())];
                let value = if rng.gen_bool(0.5) { "true" } else { "false" };
                Prepared {
                    bytes: ec2_request(
                        host,
                        "ModifyInstanceAttribute",
                        &[("InstanceId", id), ("DisableApiTermination.Value", value)],
                    ),
                    expect: Expect::Ec2Ok { contains: None },
                }
            }
            Workload::Ec2DescribeOne { host, ids } => {
                let id = &ids[rng.gen_range(0..ids.len())];
                Prepared {
                    bytes: ec2_request(host, "DescribeInstances", &[("InstanceId.1", id)]),
                    expect: Expect::Ec2Ok {
                        contains: Some(id.clone()),
                    },
                }
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Checks an answer. `thorough` parses the whole JSON body and checks its content; otherwise a
/// cheap check (status, and the RequestId near the end of the body where ecsd puts it, or
/// anywhere) keeps the generator's cost low. The driver is thorough for a sample of answers.
pub fn check(resp: &Response, expect: &Expect, thorough: bool) -> Result<(), String> {
    if resp.status != 200 {
        let snippet = String::from_utf8_lossy(&resp.body[..resp.body.len().min(300)]);
        return Err(format!("HTTP {}: {snippet}", resp.status));
    }
    match expect {
        Expect::Ec2Ok { contains: id } => {
            if !contains(&resp.body, b"<requestId>") && !contains(&resp.body, b"<RequestId>") {
                return Err("EC2 answer without a request id".into());
            }
            if let Some(id) = id {
                if !contains(&resp.body, id.as_bytes()) {
                    return Err(format!("EC2 answer does not mention {id}"));
                }
            }
            Ok(())
        }
        Expect::EcsOk | Expect::EcsListing { .. } if !thorough => {
            let tail = &resp.body[resp.body.len().saturating_sub(128)..];
            if contains(tail, b"\"RequestId\":\"") || contains(&resp.body, b"\"RequestId\":\"") {
                Ok(())
            } else {
                Err("answer without a RequestId".into())
            }
        }
        Expect::EcsOk | Expect::EcsListing { .. } => {
            let v: Value = serde_json::from_slice(&resp.body)
                .map_err(|e| format!("answer is not JSON: {e}"))?;
            match v.get("RequestId").and_then(Value::as_str) {
                Some(id) if !id.is_empty() => {}
                _ => return Err("answer without a RequestId".into()),
            }
            if v.get("Code").is_some() {
                return Err(format!("answer carries an error Code: {v}"));
            }
            if let Expect::EcsListing {
                total,
                first_id,
                items,
            } = expect
            {
                let got_total = v.get("TotalCount").and_then(Value::as_u64);
                if got_total != Some(*total) {
                    return Err(format!("TotalCount {got_total:?}, expected {total}"));
                }
                let list = v["Instances"]["Instance"]
                    .as_array()
                    .ok_or("answer without Instances.Instance")?;
                if list.len() != *items {
                    return Err(format!("{} instances listed, expected {items}", list.len()));
                }
                if let Some(id) = first_id {
                    if list[0]["InstanceId"].as_str() != Some(id) {
                        return Err(format!("listed {}, expected {id}", list[0]["InstanceId"]));
                    }
                }
            }
            Ok(())
        }
    }
}

/// How a load run is bounded.
#[derive(Debug, Clone, Copy)]
pub struct LoadSpec {
    pub concurrency: usize,
    /// Answers before this are checked but not measured.
    pub warmup: Duration,
    /// The measured window after the warm-up.
    pub duration: Duration,
    /// Stop after this many measured requests, if reached first.
    pub max_requests: Option<u64>,
    /// Every n-th answer of a connection (and its first) gets the thorough check.
    pub thorough_every: u64,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Latency {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    /// Summarizes latencies given in microseconds (sorts them).
    pub fn from_micros(mut us: Vec<u32>) -> Latency {
        if us.is_empty() {
            return Latency::default();
        }
        us.sort_unstable();
        let pick = |q: f64| {
            // Nearest rank: the smallest value with at least q of all values at or below it.
            let rank = ((q * us.len() as f64).ceil() as usize).clamp(1, us.len());
            f64::from(us[rank - 1]) / 1000.0
        };
        let sum: u64 = us.iter().map(|&x| u64::from(x)).sum();
        Latency {
            mean: sum as f64 / us.len() as f64 / 1000.0,
            p50: pick(0.50),
            p90: pick(0.90),
            p99: pick(0.99),
            max: f64::from(*us.last().expect("not empty")) / 1000.0,
        }
    }
}

/// The outcome of one load run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadResult {
    /// Answers inside the measured window.
    pub requests: u64,
    /// Requests sent in all, warm-up and failures included.
    pub sent: u64,
    /// Failed requests anywhere in the run (warm-up included): connection errors, non-200
    /// answers, bodies that fail the check.
    pub errors: u64,
    pub first_error: Option<String>,
    /// Answers checked thoroughly (full JSON parse), all passed unless counted in `errors`.
    pub thorough_checks: u64,
    pub window_s: f64,
    pub rps: f64,
    pub latency_ms: Latency,
    /// New TCP connections after each connection's first (moto closes after every answer).
    pub reconnects: u64,
    pub bytes_received: u64,
    /// CPU time of this generator process per measured request, in microseconds.
    pub client_cpu_us_per_req: Option<f64>,
    /// CPU time of the server process per measured request, in microseconds.
    pub server_cpu_us_per_req: Option<f64>,
    /// Cores busy on the whole machine during the window, and how many of them were neither
    /// this generator nor the server: other work on a shared machine skews a run.
    pub machine_busy_cores: Option<f64>,
    pub other_busy_cores: Option<f64>,
}

struct ConnOutcome {
    latencies: Vec<u32>,
    sent: u64,
    errors: u64,
    first_error: Option<String>,
    thorough: u64,
    reconnects: u64,
    bytes: u64,
}

/// Drives `workload` against `addr`; `server_pid` (if known) is used for its CPU time.
pub async fn run(
    addr: SocketAddr,
    workload: Arc<Workload>,
    spec: LoadSpec,
    server_pid: Option<u32>,
) -> LoadResult {
    run_spread(&[addr], workload, spec, server_pid.as_slice()).await
}

/// The CPU seconds of all `pids` together; `None` if any cannot be read (or there are none).
fn cpu_of(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter()
        .map(|p| procs::cpu_seconds(Some(*p)))
        .sum::<Option<f64>>()
}

/// Drives `workload` against several servers at once (replicas behind one generator):
/// connection `n` goes to `addrs[n % addrs.len()]`. `server_pids` are the servers whose CPU
/// time is counted as the server's.
pub async fn run_spread(
    addrs: &[SocketAddr],
    workload: Arc<Workload>,
    spec: LoadSpec,
    server_pids: &[u32],
) -> LoadResult {
    let server_pids = server_pids.to_vec();
    let cpu_pids = server_pids.clone();
    let start = Instant::now();
    let measure_from = start + spec.warmup;
    let deadline = measure_from + spec.duration;
    let budget = spec
        .max_requests
        .map(|n| Arc::new(std::sync::atomic::AtomicU64::new(n)));
    // CPU samples are taken when the measured window opens and closes, by a timer task, so
    // that they bracket the same window as the counted requests.
    let cpu_task = tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        let c0 = procs::cpu_seconds(None);
        let s0 = cpu_of(&cpu_pids);
        (c0, s0, procs::machine_cpu_seconds())
    });
    let mut tasks = Vec::with_capacity(spec.concurrency);
    for n in 0..spec.concurrency {
        let workload = workload.clone();
        let budget = budget.clone();
        let addr = addrs[n % addrs.len()];
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(0x5eed_0000 + n as u64);
            let mut conn = Conn::new(addr);
            let mut out = ConnOutcome {
                latencies: Vec::with_capacity(4096),
                sent: 0,
                errors: 0,
                first_error: None,
                thorough: 0,
                reconnects: 0,
                bytes: 0,
            };
            let mut sent: u64 = 0;
            loop {
                if Instant::now() >= deadline {
                    break;
                }
                if let Some(b) = &budget {
                    // Only measured requests spend the budget; warm-up ones are free.
                    if Instant::now() >= measure_from
                        && b.fetch_update(
                            std::sync::atomic::Ordering::Relaxed,
                            std::sync::atomic::Ordering::Relaxed,
                            |left| left.checked_sub(1),
                        )
                        .is_err()
                    {
                        break;
                    }
                }
                let prepared = workload.prepare(&mut rng);
                let thorough = sent.is_multiple_of(spec.thorough_every.max(1));
                sent += 1;
                let t0 = Instant::now();
                let answer = conn.send(&prepared.bytes).await;
                let t1 = Instant::now();
                let verdict = match answer {
                    Ok(resp) => {
                        out.bytes += resp.body.len() as u64;
                        check(&resp, &prepared.expect, thorough)
                    }
                    Err(e) => Err(format!("transport: {e}")),
                };
                match verdict {
                    Ok(()) => {
                        if thorough {
                            out.thorough += 1;
                        }
                        if t1 >= measure_from && t1 <= deadline {
                            let us = (t1 - t0).as_micros().min(u128::from(u32::MAX)) as u32;
                            out.latencies.push(us);
                        }
                    }
                    Err(e) => {
                        out.errors += 1;
                        if out.first_error.is_none() {
                            out.first_error = Some(e);
                        }
                        if out.errors >= 100 {
                            // The target is failing; measuring it further means nothing.
                            break;
                        }
                    }
                }
            }
            out.reconnects = conn.reconnects;
            out.sent = sent;
            out
        }));
    }
    let mut latencies = Vec::new();
    let mut sent = 0;
    let mut errors = 0;
    let mut first_error = None;
    let mut thorough_checks = 0;
    let mut reconnects = 0;
    let mut bytes = 0;
    for t in tasks {
        let o = t.await.expect("load task panicked");
        latencies.extend(o.latencies);
        sent += o.sent;
        errors += o.errors;
        if first_error.is_none() {
            first_error = o.first_error;
        }
        thorough_checks += o.thorough;
        reconnects += o.reconnects;
        bytes += o.bytes;
    }
    let ended = Instant::now().min(deadline).max(measure_from);
    let (c0, s0, m0) = cpu_task.await.unwrap_or((None, None, None));
    let c1 = procs::cpu_seconds(None);
    let s1 = cpu_of(&server_pids);
    let m1 = procs::machine_cpu_seconds();
    let window = if spec.max_requests.is_some() {
        // A request-bounded run ends when the budget is spent, before the deadline.
        (ended - measure_from).as_secs_f64()
    } else {
        spec.duration.as_secs_f64()
    };
    let requests = latencies.len() as u64;
    let per_req = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if requests > 0 => Some((b - a) * 1e6 / requests as f64),
        _ => None,
    };
    let elapsed = (ended - measure_from).as_secs_f64();
    let machine_busy_cores = match (m0, m1) {
        (Some((b0, _)), Some((b1, _))) if elapsed > 0.0 => Some((b1 - b0) / elapsed),
        _ => None,
    };
    let ours = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    };
    let other_busy_cores = machine_busy_cores
        .map(|m| (m - (ours(c0, c1) + ours(s0, s1)) / elapsed.max(1e-9)).max(0.0));
    LoadResult {
        requests,
        sent,
        errors,
        first_error,
        thorough_checks,
        window_s: window,
        rps: if window > 0.0 {
            requests as f64 / window
        } else {
            0.0
        },
        latency_ms: Latency::from_micros(latencies),
        reconnects,
        bytes_received: bytes,
        client_cpu_us_per_req: per_req(c0, c1),
        server_cpu_us_per_req: per_req(s0, s1),
        machine_busy_cores,
        other_busy_cores,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let l = Latency::from_micros((1..=100).map(|x| x * 1000).collect());
        assert_eq!(l.p50, 50.0);
        assert_eq!(l.p90, 90.0);
        assert_eq!(l.p99, 99.0);
        assert_eq!(l.max, 100.0);
        assert_eq!(l.mean, 50.5);
        assert_eq!(Latency::from_micros(vec![]), Latency::default());
        assert_eq!(Latency::from_micros(vec![1500]).p99, 1.5);
    }

    fn ok(body: &str) -> Response {
        Response {
            status: 200,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn checks_refuse_errors_and_wrong_listings() {
        let err = Response {
            status: 400,
            body: br#"{"RequestId":"X","Code":"InvalidParameter"}"#.to_vec(),
        };
        assert!(check(&err, &Expect::EcsOk, false).is_err());
        assert!(check(&ok(r#"{"RequestId":"A"}"#), &Expect::EcsOk, false).is_ok());
        assert!(check(&ok(r#"{"RequestId":"A"}"#), &Expect::EcsOk, true).is_ok());
        assert!(check(&ok(r#"{"Other":1}"#), &Expect::EcsOk, false).is_err());
        assert!(check(&ok("not json"), &Expect::EcsOk, true).is_err());
        let listing = Expect::EcsListing {
            total: 1,
            first_id: Some("i-a".into()),
            items: 1,
        };
        let good =
            r#"{"Instances":{"Instance":[{"InstanceId":"i-a"}]},"RequestId":"R","TotalCount":1}"#;
        assert!(check(&ok(good), &listing, true).is_ok());
        let wrong =
            r#"{"Instances":{"Instance":[{"InstanceId":"i-b"}]},"RequestId":"R","TotalCount":1}"#;
        assert!(check(&ok(wrong), &listing, true).is_err());
        let ec2 = Expect::Ec2Ok {
            contains: Some("i-a".into()),
        };
        assert!(check(&ok("<x><requestId>r</requestId>i-a</x>"), &ec2, false).is_ok());
        assert!(check(&ok("<x><requestId>r</requestId></x>"), &ec2, false).is_err());
    }

    #[test]
    fn describe_page_expects_a_full_page_except_at_the_end() {
        let client = EcsClient::new("h:1", "k", "s");
        let w = Workload::EcsDescribePage {
            client,
            total: 150,
            page_size: 100,
        };
        let mut rng = StdRng::seed_from_u64(1);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            if let Expect::EcsListing { items, total, .. } = w.prepare(&mut rng).expect {
                assert_eq!(total, 150);
                seen.insert(items);
            }
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![50, 100]);
    }
}
