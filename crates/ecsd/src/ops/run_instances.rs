//! RunInstances: create and start pay-as-you-go or subscription instances. They are Running
//! when the call answers.

use ecs_domain::error::common::invalid_parameter;
use ecs_domain::launch::{expand_name, host_name_ok, password_ok, windows_host_name_ok};
use ecs_domain::model::LaunchSettings;
use ecs_domain::{ApiError, ErrorCode};
use ecs_service::instances::{RunInstances, RUN_MALFORMED_RELEASE_TIME};
use ecs_service::network::parse_private_ip;

use super::common::{
    billing, count, dry_run, fields_of, flag, idempotency, launch_request, region, required, zone,
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
    "The specified parameter \"HostName\" is not valid.",
);
const INVALID_PASSWORD: ErrorCode = ErrorCode::new(
    400,
    "InvalidPassword.Malformed",
    "The specified parameter \"Password\" is not valid.",
);
const PASSWORD_WITH_INHERIT: ErrorCode = ErrorCode::new(
    400,
    "InvalidPasswordParam.Mismatch",
    "The input password should be null when passwdInherit is true.",
);
const INVALID_INTERNET_CHARGE_TYPE: ErrorCode = ErrorCode::new(
    400,
    "InvalidInternetChargeType.ValueNotSupported",
    "The specified InternetChargeType is not valid.",
);
const INVALID_TAG_KEY: ErrorCode = ErrorCode::new(
    400,
    "InvalidTagKey.Malformed",
    "The specified Tag.n.Key is not valid.",
);
const INVALID_TAG_VALUE: ErrorCode = ErrorCode::new(
    400,
    "InvalidTagValue.Malformed",
    "The specified Tag.n.Value is not valid.",
);
const DUPLICATE_TAG_KEY: ErrorCode = ErrorCode::new(
    400,
    "Duplicate.TagKey",
    "The Tag.N.Key contain duplicate key.",
);

/// ECS's tag rules: a key of 1 to 128 characters, a value of at most 128; neither starting
/// with `aliyun` or `acs:` nor holding `http://` or `https://`; no key twice. (At most 20
/// tags is checked with every request's list shapes.)
/// Also CreateInstance's: both creating calls take tags by ECS's same rules.
pub(super) fn checked_tags(ctx: &OpCtx) -> Result<Vec<(String, String)>, ApiError> {
    let tags = ctx.params.tags();
    let reserved = |s: &str| {
        let lower = s.to_ascii_lowercase();
        lower.starts_with("aliyun")
            || lower.starts_with("acs:")
            || lower.contains("http://")
            || lower.contains("https://")
    };
    let mut seen = std::collections::HashSet::new();
    for (key, value) in &tags {
        if key.is_empty() || key.chars().count() > 128 || reserved(key) {
            return Err(INVALID_TAG_KEY.err());
        }
        if value.chars().count() > 128 || reserved(value) {
            return Err(INVALID_TAG_VALUE.err());
        }
        if !seen.insert(key.as_str()) {
            return Err(DUPLICATE_TAG_KEY.err());
        }
    }
    Ok(tags)
}

/// What RunInstances keeps of the instance's own settings, checked by ECS's rules. The
/// password is only checked: ecsd runs no operating system to give it to, and never shows it.
/// Also CreateInstance's (with one instance and no suffix).
pub(super) fn launch_settings(
    ctx: &OpCtx,
    amount: u32,
    unique_suffix: bool,
) -> Result<LaunchSettings, ApiError> {
    let p = ctx.params;
    let host_name = p.non_empty("HostName").unwrap_or_default();
    // The rule holds for the names the instances get, placeholders expanded.
    let expanded = |k| expand_name(host_name, k, amount, unique_suffix);
    // Windows takes shorter names without dots (NetBIOS's rule).
    let windows = p
        .non_empty("ImageId")
        .and_then(|image| ctx.service.catalog().image(image))
        .is_some_and(|image| image.is_windows());
    let rule = if windows {
        windows_host_name_ok
    } else {
        host_name_ok
    };
    let all_ok = rule(&expanded(0)) && rule(&expanded(amount - 1));
    if !host_name.is_empty() && !all_ok {
        return Err(INVALID_HOST_NAME.err());
    }
    if let Some(password) = p.non_empty("Password") {
        if !password_ok(password) {
            return Err(INVALID_PASSWORD.err());
        }
        if p.bool("PasswordInherit")? == Some(true) {
            return Err(PASSWORD_WITH_INHERIT.err());
        }
    }
    p.bool("PasswordInherit")?;
    let internet_charge_type = match p.non_empty("InternetChargeType") {
        None => "",
        Some(t @ ("PayByTraffic" | "PayByBandwidth")) => t,
        Some(_) => return Err(INVALID_INTERNET_CHARGE_TYPE.err()),
    };
    // Mbit/s; out of range is ECS's plain InvalidParameter naming the parameter.
    let bandwidth = |name: &str, range: std::ops::RangeInclusive<i64>| match p.int(name)? {
        None => Ok(0),
        Some(n) if range.contains(&n) => Ok(n as u32),
        Some(_) => Err(invalid_parameter(name)),
    };
    let out = bandwidth("InternetMaxBandwidthOut", 0..=100)?;
    let inbound = bandwidth("InternetMaxBandwidthIn", 1..=200)?;
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
        // User data and spot settings are the service's to check (`LaunchRequest`).
        ..LaunchSettings::default()
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
        tags: checked_tags(ctx)?,
        security_group_ids,
        vswitch_id: ctx.params.get("VSwitchId").unwrap_or_default().to_string(),
        dry_run,
        idempotency,
        launch: launch_request(ctx)?,
        stopped: false,
        settings: launch_settings(ctx, amount, unique_suffix)?,
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
