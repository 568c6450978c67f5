//! Single calls used to set targets up: signed ECS calls, ecsd's admin API, EC2 calls to moto,
//! and bulk creation of instances with RunInstances.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::http::{self, Conn};
use crate::sign::{ec2_request, EcsClient};

/// The admin token the suite starts ecsd with.
pub const ADMIN_TOKEN: &str = "bench-admin-token";
/// The access key the suite starts ecsd with.
pub const KEY_ID: &str = "benchid";
pub const KEY_SECRET: &str = "benchsecret";

/// A signed ECS call; the parsed JSON answer, or the error answer as text.
pub async fn ecs_call(
    conn: &mut Conn,
    client: &EcsClient,
    action: &str,
    params: &[(&str, &str)],
) -> Result<Value, String> {
    let resp = conn
        .send(&client.request(action, params))
        .await
        .map_err(|e| format!("{action}: {e}"))?;
    let text = String::from_utf8_lossy(&resp.body);
    if resp.status != 200 {
        return Err(format!("{action}: HTTP {}: {text}", resp.status));
    }
    serde_json::from_str(&text).map_err(|e| format!("{action}: answer is not JSON ({e}): {text}"))
}

/// A call to ecsd's admin API.
pub async fn admin(
    conn: &mut Conn,
    host: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, String> {
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let request = match body {
        None => http::get(host, path, &[("Authorization", &auth)]),
        Some(b) => http::with_body(
            method,
            host,
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            b.to_string().as_bytes(),
        ),
    };
    let resp = conn
        .send(&request)
        .await
        .map_err(|e| format!("admin {path}: {e}"))?;
    if resp.status != 200 {
        return Err(format!(
            "admin {path}: HTTP {}: {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        ));
    }
    serde_json::from_slice(&resp.body).map_err(|e| format!("admin {path}: not JSON: {e}"))
}

/// TotalCount of the caller's instances in cn-hangzhou.
pub async fn total_count(conn: &mut Conn, client: &EcsClient) -> Result<u64, String> {
    let v = ecs_call(
        conn,
        client,
        "DescribeInstances",
        &[("RegionId", "cn-hangzhou"), ("PageSize", "1")],
    )
    .await?;
    v["TotalCount"]
        .as_u64()
        .ok_or_else(|| format!("DescribeInstances without TotalCount: {v}"))
}

/// What a bulk creation did.
pub struct Created {
    /// The ids kept, in no particular order.
    pub ids: Vec<String>,
    pub instances: u64,
    pub calls: u64,
    pub elapsed: Duration,
}

/// Creates `total` instances with RunInstances (Amount=100, the API's maximum) over
/// `concurrency` connections. `release_time(call)` gives each call's AutoReleaseTime. The ids
/// of the first `keep_ids` instances created are returned.
/// `progress` is called with the number of instances created so far, now and then.
pub async fn create_instances(
    addr: SocketAddr,
    client: &EcsClient,
    total: u64,
    concurrency: usize,
    keep_ids: usize,
    release_time: Arc<dyn Fn(u64) -> Option<String> + Send + Sync>,
    progress: Arc<dyn Fn(u64) + Send + Sync>,
) -> Result<Created, String> {
    const AMOUNT: u64 = 100;
    let calls = total.div_ceil(AMOUNT);
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let next = next.clone();
        let done = done.clone();
        let client = client.clone();
        let release_time = release_time.clone();
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::new(addr);
            let mut ids = Vec::new();
            loop {
                let call = next.fetch_add(1, Ordering::Relaxed);
                if call >= calls {
                    return Ok::<_, String>(ids);
                }
                let amount = (total - call * AMOUNT).min(AMOUNT).to_string();
                let release = release_time(call);
                let mut params = vec![
                    ("RegionId", "cn-hangzhou"),
                    ("ImageId", "ubuntu_22_04_x64_20G_alibase_20240101.vhd"),
                    ("InstanceType", "ecs.g7.large"),
                    ("Amount", amount.as_str()),
                ];
                if let Some(r) = &release {
                    params.push(("AutoReleaseTime", r.as_str()));
                }
                let v = ecs_call(&mut conn, &client, "RunInstances", &params).await?;
                let set = v["InstanceIdSets"]["InstanceIdSet"]
                    .as_array()
                    .ok_or_else(|| format!("RunInstances answer without ids: {v}"))?;
                if set.len().to_string() != amount {
                    return Err(format!("RunInstances made {} of {amount}", set.len()));
                }
                let before = done.fetch_add(set.len() as u64, Ordering::Relaxed);
                let n = before + set.len() as u64;
                if before < keep_ids as u64 {
                    let room = keep_ids - before as usize;
                    ids.extend(
                        set.iter()
                            .take(room)
                            .filter_map(|x| x.as_str().map(str::to_string)),
                    );
                }
                progress(n);
            }
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(
            t.await
                .map_err(|e| format!("creation task failed: {e}"))??,
        );
    }
    Ok(Created {
        ids,
        instances: done.load(Ordering::Relaxed),
        calls,
        elapsed: t0.elapsed(),
    })
}

/// Creates `count` instances in moto (one RunInstances call) and returns their ids.
pub async fn moto_instances(addr: SocketAddr, count: u64) -> Result<Vec<String>, String> {
    let host = addr.to_string();
    let n = count.to_string();
    let mut conn = Conn::new(addr);
    let resp = conn
        .send(&ec2_request(
            &host,
            "RunInstances",
            &[
                ("ImageId", "ami-12c6146b"),
                ("InstanceType", "t2.micro"),
                ("MinCount", &n),
                ("MaxCount", &n),
            ],
        ))
        .await
        .map_err(|e| format!("moto RunInstances: {e}"))?;
    let text = String::from_utf8_lossy(&resp.body);
    if resp.status != 200 {
        return Err(format!("moto RunInstances: HTTP {}: {text}", resp.status));
    }
    let mut ids: Vec<String> = text
        .split("<instanceId>")
        .skip(1)
        .filter_map(|s| s.split('<').next().map(str::to_string))
        .collect();
    ids.sort();
    ids.dedup();
    if ids.len() as u64 != count {
        return Err(format!("moto made {} instances of {count}", ids.len()));
    }
    Ok(ids)
}
