//! DescribeInstanceTypes: the instance types of the catalogue, with their sizes.

use ecs_domain::catalog::InstanceType;
use ecs_domain::error::common::invalid_parameter;
use ecs_domain::ApiError;
use serde_json::{json, Value};

use super::common::object;
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "DescribeInstanceTypes",
    run: |ctx| super::fields(run(ctx)),
};

/// ECS takes at most 10 `InstanceTypes.N` per call.
const MAX_ASKED_TYPES: usize = 10;
/// `MaxResults` is 1 to 1600, and 1600 when left out.
const MAX_RESULTS: i64 = 1600;

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let asked = ctx.params.try_repeat_list("InstanceTypes")?;
    if asked.len() > MAX_ASKED_TYPES {
        return Err(invalid_parameter("InstanceTypes"));
    }
    let family = ctx.params.non_empty("InstanceTypeFamily");
    let mut families: Vec<String> = ctx.params.try_repeat_list("InstanceTypeFamilies")?;
    families.extend(family.map(str::to_string));
    let min_cpu = bound(ctx, "MinimumCpuCoreCount")?;
    let max_cpu = bound(ctx, "MaximumCpuCoreCount")?;
    let min_memory = memory_bound(ctx, "MinimumMemorySize")?;
    let max_memory = memory_bound(ctx, "MaximumMemorySize")?;
    let max = match ctx.params.int("MaxResults")? {
        None => MAX_RESULTS as usize,
        Some(n) if (1..=MAX_RESULTS).contains(&n) => n as usize,
        Some(_) => return Err(invalid_parameter("MaxResults")),
    };
    // The token is the position of the next type in the catalogue's order.
    let start = match ctx.params.non_empty("NextToken") {
        None => 0,
        Some(t) => t
            .strip_prefix('t')
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| invalid_parameter("NextToken"))?,
    };
    let memory_gib = |t: &InstanceType| f64::from(t.memory_mib) / 1024.0;
    let matching: Vec<&InstanceType> = ctx
        .service
        .catalog()
        .instance_types
        .iter()
        .filter(|t| asked.is_empty() || asked.contains(&t.id))
        .filter(|t| families.is_empty() || families.iter().any(|f| f == t.family()))
        .filter(|t| min_cpu.is_none_or(|n| i64::from(t.cpu) >= n))
        .filter(|t| max_cpu.is_none_or(|n| i64::from(t.cpu) <= n))
        .filter(|t| min_memory.is_none_or(|m| memory_gib(t) >= m))
        .filter(|t| max_memory.is_none_or(|m| memory_gib(t) <= m))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(max)
        .map(|t| {
            json!({
                "InstanceTypeId": t.id,
                "InstanceTypeFamily": t.family(),
                "CpuCoreCount": t.cpu,
                "MemorySize": memory_gib(t),
                // Burstable types earn CPU credits: ECS's "credit entry level".
                "InstanceFamilyLevel": if t.is_burstable() { "CreditEntryLevel" } else { "EnterpriseLevel" },
                "InstanceCategory": category(t.family()),
                "CpuArchitecture": "X86",
                "GPUAmount": 0,
                "GPUSpec": "",
                "LocalStorageCategory": "",
                "EniQuantity": (t.cpu / 2).clamp(2, 8),
                "DiskQuantity": 17,
            })
        })
        .collect();
    let next = start.saturating_add(max);
    let next_token = if next < matching.len() {
        format!("t{next}")
    } else {
        String::new()
    };
    Ok(object(json!({
        "InstanceTypes": { "InstanceType": page },
        "NextToken": next_token,
    })))
}

/// A whole-number bound, at least 0.
fn bound(ctx: &OpCtx, name: &str) -> Result<Option<i64>, ApiError> {
    match ctx.params.int(name)? {
        Some(n) if n < 0 => Err(invalid_parameter(name)),
        n => Ok(n),
    }
}

/// A memory bound in GiB, which ECS takes as a decimal (`0.5`).
fn memory_bound(ctx: &OpCtx, name: &str) -> Result<Option<f64>, ApiError> {
    match ctx.params.non_empty(name) {
        None => Ok(None),
        Some(raw) => match raw.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
            _ => Err(invalid_parameter(name)),
        },
    }
}

/// ECS's category names for the families of the catalogue: g general-purpose, c compute, r memory.
fn category(family: &str) -> &'static str {
    match family.strip_prefix("ecs.").and_then(|f| f.chars().next()) {
        Some('g') => "General-purpose",
        Some('c') => "Compute-optimized",
        Some('r') => "Memory-optimized",
        _ => "General-purpose",
    }
}
