//! RunInstances: create and start pay-as-you-go or subscription instances. They are Running
//! when the call answers.

use ecs_domain::launch::{expand_name, host_name_ok, password_ok};
use ecs_domain::model::LaunchSettings;
use ecs_domain::{ApiError, ErrorCode};
use ecs_service::instances::{RunInstances, RUN_MALFORMED_RELEASE_TIME};
use ecs_service::network::parse_private_ip;

use super::common::{
    billing, count, dry_run, fields_of, flag, idempotency, region, required, zone,
};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "RunInstances",
    run: |ctx| super::fields(run(ctx)),
};

const INVALID_CHARGE_TYPE: ErrorCode = ErrorCode::new(
    400,
    "InvalidInstanceChargeType.NotFound",
    "The InstanceChargeType does not exist in our records",
);

const INVALID_HOST_NAME: ErrorCode = ErrorCode::new(
    400,
    "InvalidHostName.Malformed",
    "The specified parameter HostName is not valid.",
);
const INVALID_PASSWORD: ErrorCode = ErrorCode::new(
    400,
    "InvalidPassword.Malformed",
    "The specified parameter Password is not valid.",
);
const INVALID_INTERNET_CHARGE_TYPE: ErrorCode = ErrorCode::new(
    400,
    "InvalidInternetChargeType.ValueNotSupported",
    "The specified InternetChargeType is invalid.",
);
const INVALID_BANDWIDTH_OUT: ErrorCode = ErrorCode::new(
    400,
    "InvalidInternetMaxBandwidthOut.Malformed",
    "The specified parameter InternetMaxBandwidthOut is not valid.",
);
const INVALID_BANDWIDTH_IN: ErrorCode = ErrorCode::new(
    400,
    "InvalidInternetMaxBandwidthIn.Malformed",
    "The specified parameter InternetMaxBandwidthIn is not valid.",
);

/// What RunInstances keeps of the instance's own settings, checked by ECS's rules. The
/// password is only checked: ecsd runs no operating system to give it to, and never shows it.
fn launch_settings(
    ctx: &OpCtx,
    amount: u32,
    unique_suffix: bool,
) -> Result<LaunchSettings, ApiError> {
    let p = ctx.params;
    let host_name = p.non_empty("HostName").unwrap_or_default();
    // The rule holds for the names the instances get, placeholders expanded.
    let expanded = |k| expand_name(host_name, k, amount, unique_suffix);
    let all_ok = host_name_ok(&expanded(0)) && host_name_ok(&expanded(amount - 1));
    if !host_name.is_empty() && !all_ok {
        return Err(INVALID_HOST_NAME.err());
    }
    if let Some(password) = p.non_empty("Password") {
        if !password_ok(password) {
            return Err(INVALID_PASSWORD.err());
        }
    }
    p.bool("PasswordInherit")?;
    let internet_charge_type = match p.non_empty("InternetChargeType") {
        None => "",
        Some(t @ ("PayByTraffic" | "PayByBandwidth")) => t,
        Some(_) => return Err(INVALID_INTERNET_CHARGE_TYPE.err()),
    };
    let bandwidth = |name: &str, range: std::ops::RangeInclusive<i64>, bad: ErrorCode| match p
        .int(name)
        .map_err(|_| bad.err())?
    {
        None => Ok(0),
        Some(n) if range.contains(&n) => Ok(n as u32),
        Some(_) => Err(bad.err()),
    };
    let out = bandwidth("InternetMaxBandwidthOut", 0..=100, INVALID_BANDWIDTH_OUT)?;
    let inbound = bandwidth("InternetMaxBandwidthIn", 1..=200, INVALID_BANDWIDTH_IN)?;
    Ok(LaunchSettings {
        host_name: host_name.to_string(),
        key_pair_name: p.non_empty("KeyPairName").unwrap_or_default().to_string(),
        resource_group_id: p
            .non_empty("ResourceGroupId")
            .unwrap_or_default()
            .to_string(),
        internet_charge_type: internet_charge_type.to_string(),
        internet_max_bandwidth_in: inbound,
        internet_max_bandwidth_out: out,
    })
}

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let region = region(ctx)?;
    let idempotency = idempotency(ctx)?;
    let dry_run = dry_run(ctx)?;
    let image_id = required(ctx, "ImageId")?.to_string();
    let instance_type = required(ctx, "InstanceType")?.to_string();
    let security_group_ids = ctx
        .params
        .non_empty("SecurityGroupId")
        .map(str::to_string)
        .into_iter()
        .chain(ctx.params.repeat_list("SecurityGroupIds"))
        .collect();
    let amount = count(ctx, "Amount")?;
    let unique_suffix = flag(ctx, "UniqueSuffix")?;
    let cmd = RunInstances {
        region,
        zone: zone(ctx),
        instance_type,
        image_id,
        amount,
        billing: billing(
            ctx,
            "InstanceChargeType",
            INVALID_CHARGE_TYPE,
            RUN_MALFORMED_RELEASE_TIME,
        )?,
        deletion_protection: flag(ctx, "DeletionProtection")?,
        dedicated_host_id: ctx.params.non_empty("DedicatedHostId").map(str::to_string),
        name: ctx
            .params
            .get("InstanceName")
            .unwrap_or_default()
            .to_string(),
        description: ctx
            .params
            .get("Description")
            .unwrap_or_default()
            .to_string(),
        tags: ctx.params.tags(),
        security_group_ids,
        vswitch_id: ctx.params.get("VSwitchId").unwrap_or_default().to_string(),
        dry_run,
        idempotency,
        launch: launch_settings(ctx, amount, unique_suffix)?,
        unique_suffix,
        private_ip: ctx
            .params
            .non_empty("PrivateIpAddress")
            .map(parse_private_ip)
            .transpose()?,
    };
    let created = ctx.service.run_instances(&ctx.caller, cmd).await?;
    Ok(fields_of(&created))
}
