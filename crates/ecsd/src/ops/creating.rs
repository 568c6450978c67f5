//! The parameters RunInstances and CreateInstance share, read once into the service's
//! `RunInstances` command. Each operation says what sets it apart ([`CreateForm`]); the rows
//! below are ECS's for the parameters both take.

use base64::Engine as _;
use ecs_domain::error::common::invalid_parameter;
use ecs_domain::launch::{expand_name, host_name_ok, password_ok, windows_host_name_ok};
use ecs_domain::model::{CreditSpecification, LaunchSettings, SpotStrategy};
use ecs_domain::names::{description_ok, name_ok, sequential_name_check, SequentialNameRefusal};
use ecs_domain::{ApiError, ErrorCode};
use ecs_service::instances::{RunInstances, RUN_MALFORMED_RELEASE_TIME};
use ecs_service::launch::{
    DiskRequest, LaunchRequest, INVALID_SPOT_STRATEGY, INVALID_USER_DATA, MAX_USER_DATA_BYTES,
    USER_DATA_TOO_BIG,
};
use ecs_service::network::parse_private_ip;

use super::common::{
    billing, count, dry_run, flag, idempotency, optional_enum, region, required, zone,
};
use super::OpCtx;

/// Both operations' row for an unknown `InstanceChargeType`.
const INVALID_CHARGE_TYPE: ErrorCode = ErrorCode::new(
    400,
    "InvalidInstanceChargeType.NotFound",
    "The InstanceChargeType does not exist in our records",
);
pub const INVALID_INSTANCE_NAME: ErrorCode = ErrorCode::new(
    400,
    "InvalidInstanceName.Malformed",
    "The specified parameter \"InstanceName\" is not valid.",
);
/// RunInstances' row for a name that fits only until `UniqueSuffix` adds its three digits.
pub const INSTANCE_NAME_NO_ROOM_FOR_SUFFIX: ErrorCode = ErrorCode::new(
    403,
    "InvalidParams.InstanceNameExceed",
    "The uniqueSuffix takes three naming places, please shorten your InstanceName.",
);
pub const INVALID_DESCRIPTION: ErrorCode = ErrorCode::new(
    400,
    "InvalidDescription.Malformed",
    "The specified parameter \"Description\" is not valid.",
);
const INVALID_DISK_NAME: ErrorCode = ErrorCode::new(
    400,
    "InvalidDiskName.Malformed",
    "The specified parameter \"SystemDisk.DiskName or DataDisk.n.DiskName\" is not valid.",
);
const INVALID_DISK_DESCRIPTION: ErrorCode = ErrorCode::new(
    400,
    "InvalidDiskDescription.Malformed",
    "The specified parameter \"SystemDisk.DiskDescription\" or \"DataDisk.n.Description\" is not valid.",
);
const INVALID_HOST_NAME: ErrorCode = ErrorCode::new(
    400,
    "InvalidHostName.Malformed",
    "The specified parameter \"HostName\" is not valid.",
);
/// RunInstances' row for a host name that fits only until `UniqueSuffix` adds its three digits.
const HOST_NAME_NO_ROOM_FOR_SUFFIX: ErrorCode = ErrorCode::new(
    403,
    "InvalidParams.HostnameExceed",
    "The uniqueSuffix takes three naming places, please shorten your Hostname.",
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

/// What sets one creating operation apart from the other.
pub struct CreateForm {
    /// RunInstances: `Amount` instances, `UniqueSuffix`, `SecurityGroupIds.N`, placeholders in
    /// `InstanceName`; CreateInstance: one instance and its one `SecurityGroupId`.
    pub several: bool,
    /// CreateInstance: `Stopped` until StartInstance (RunInstances' are Running).
    pub stopped: bool,
}

/// The creating call as the service's command.
pub fn create_command(ctx: &OpCtx, form: &CreateForm) -> Result<RunInstances, ApiError> {
    let p = ctx.params;
    let region = region(ctx)?;
    let idempotency = idempotency(ctx)?;
    let dry_run = dry_run(ctx)?;
    let image_id = required(ctx, "ImageId")?.to_string();
    let instance_type = required(ctx, "InstanceType")?.to_string();
    let mut security_group_ids: Vec<String> = p
        .non_empty("SecurityGroupId")
        .map(str::to_string)
        .into_iter()
        .collect();
    let (amount, unique_suffix) = if form.several {
        security_group_ids.extend(p.repeat_list("SecurityGroupIds"));
        (count(ctx, "Amount")?, flag(ctx, "UniqueSuffix")?)
    } else {
        (1, false)
    };
    Ok(RunInstances {
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
        dedicated_host_id: p.non_empty("DedicatedHostId").map(str::to_string),
        name: instance_name(ctx, form, amount, unique_suffix)?,
        description: description(ctx)?,
        tags: checked_tags(ctx)?,
        security_group_ids,
        vswitch_id: p.get("VSwitchId").unwrap_or_default().to_string(),
        dry_run,
        idempotency,
        launch: launch_request(ctx)?,
        stopped: form.stopped,
        settings: launch_settings(ctx, amount, unique_suffix)?,
        unique_suffix,
        private_ip: p
            .non_empty("PrivateIpAddress")
            .map(parse_private_ip)
            .transpose()?,
    })
}

/// `InstanceName` by ECS's rule; empty when not sent (the instances are named after their ids).
/// RunInstances' may number its instances (`[begin,bits]`, `UniqueSuffix`), and the names they
/// get must obey the rule too.
fn instance_name(
    ctx: &OpCtx,
    form: &CreateForm,
    amount: u32,
    unique_suffix: bool,
) -> Result<String, ApiError> {
    let Some(name) = ctx.params.non_empty("InstanceName") else {
        return Ok(String::new());
    };
    if form.several {
        sequential_name_check(name, amount, unique_suffix).map_err(|why| match why {
            SequentialNameRefusal::Malformed => INVALID_INSTANCE_NAME.err(),
            SequentialNameRefusal::NoRoomForSuffix => INSTANCE_NAME_NO_ROOM_FOR_SUFFIX.err(),
        })?;
    } else if !name_ok(name) {
        return Err(INVALID_INSTANCE_NAME.err());
    }
    Ok(name.to_string())
}

/// `Description` by ECS's rule; empty when not sent.
fn description(ctx: &OpCtx) -> Result<String, ApiError> {
    match ctx.params.non_empty("Description") {
        None => Ok(String::new()),
        Some(d) if description_ok(d) => Ok(d.to_string()),
        Some(_) => Err(INVALID_DESCRIPTION.err()),
    }
}

/// ECS's tag rules: a key of 1 to 128 characters, a value of at most 128; neither starting
/// with `aliyun` or `acs:` nor holding `http://` or `https://`; no key twice. (At most 20
/// tags is checked with every request's list shapes.)
fn checked_tags(ctx: &OpCtx) -> Result<Vec<(String, String)>, ApiError> {
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

/// What the instances keep of their own settings, checked by ECS's rules. The password is only
/// checked: ecsd runs no operating system to give it to, and never shows it.
fn launch_settings(
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
        // Names that pass without the suffix fail for its three digits alone: their length.
        let unsuffixed = |k| expand_name(host_name, k, amount, false);
        if unique_suffix && rule(&unsuffixed(0)) && rule(&unsuffixed(amount - 1)) {
            return Err(HOST_NAME_NO_ROOM_FOR_SUFFIX.err());
        }
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
        // User data, spot settings and the performance mode are the service's to check
        // (`LaunchRequest`).
        ..LaunchSettings::default()
    })
}

/// `CreditSpecification`, the performance mode of a burstable instance (also
/// ModifyInstanceAttribute's). A mode ECS does not have is `InvalidParameter` naming it: ECS
/// documents no row of its own for it (unconfirmed).
pub fn credit_specification(ctx: &OpCtx) -> Result<Option<CreditSpecification>, ApiError> {
    ctx.params
        .non_empty("CreditSpecification")
        .map(|raw| {
            CreditSpecification::parse(raw).ok_or_else(|| invalid_parameter("CreditSpecification"))
        })
        .transpose()
}

/// `UserData` (base64, at most 32 KiB decoded), the spot parameters `SpotStrategy`,
/// `SpotPriceLimit`, `SpotDuration`, the disks, `CreditSpecification` and the deployment set,
/// read as sent; the service applies the rules that need the catalogue or the account.
fn launch_request(ctx: &OpCtx) -> Result<LaunchRequest, ApiError> {
    let user_data = match ctx.params.non_empty("UserData") {
        None => None,
        Some(raw) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(raw)
                .map_err(|_| INVALID_USER_DATA.err())?;
            if decoded.len() > MAX_USER_DATA_BYTES {
                return Err(USER_DATA_TOO_BIG.err());
            }
            Some(raw.to_string())
        }
    };
    let spot_strategy = optional_enum(
        ctx,
        "SpotStrategy",
        SpotStrategy::parse,
        INVALID_SPOT_STRATEGY,
    )?
    .unwrap_or_default();
    // Disk names and descriptions by the same rules as the instance's own.
    let checked = |value: Option<&str>, rule: fn(&str) -> bool, bad: ErrorCode| match value {
        None | Some("") => Ok(String::new()),
        Some(v) if rule(v) => Ok(v.to_string()),
        Some(_) => Err(bad.err()),
    };
    let disk_name = |value| checked(value, name_ok, INVALID_DISK_NAME);
    let disk_description = |value| checked(value, description_ok, INVALID_DISK_DESCRIPTION);
    let system_disk = DiskRequest {
        category: ctx
            .params
            .non_empty("SystemDisk.Category")
            .map(str::to_string),
        size: ctx.params.int("SystemDisk.Size")?,
        name: disk_name(ctx.params.get("SystemDisk.DiskName"))?,
        description: disk_description(ctx.params.get("SystemDisk.Description"))?,
        delete_with_instance: None,
    };
    let mut data_disks = Vec::new();
    for (n, fields) in ctx.params.object_list("DataDisk") {
        let size = match fields.get("Size").filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(
                raw.parse::<i64>()
                    .map_err(|_| invalid_parameter(&format!("DataDisk.{n}.Size")))?,
            ),
        };
        let delete_with_instance = match fields.get("DeleteWithInstance").filter(|s| !s.is_empty())
        {
            None => None,
            Some(raw) if raw.eq_ignore_ascii_case("true") => Some(true),
            Some(raw) if raw.eq_ignore_ascii_case("false") => Some(false),
            Some(_) => {
                return Err(invalid_parameter(&format!(
                    "DataDisk.{n}.DeleteWithInstance"
                )))
            }
        };
        data_disks.push(DiskRequest {
            category: fields
                .get("Category")
                .filter(|c| !c.is_empty())
                .map(|c| c.to_string()),
            size,
            name: disk_name(fields.get("DiskName").copied())?,
            description: disk_description(fields.get("Description").copied())?,
            delete_with_instance,
        });
    }
    Ok(LaunchRequest {
        user_data,
        spot_strategy,
        spot_price_limit: ctx.params.non_empty("SpotPriceLimit").map(str::to_string),
        spot_duration: ctx.params.int("SpotDuration")?,
        system_disk,
        data_disks,
        credit_specification: credit_specification(ctx)?,
        deployment_set_id: ctx.params.non_empty("DeploymentSetId").map(str::to_string),
        deployment_set_group_no: ctx.params.int("DeploymentSetGroupNo")?,
    })
}
