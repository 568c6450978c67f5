//! Parameter readers many operations share: required parameters, the region, paging, dry runs,
//! ClientToken fingerprints, billing parameters. Reading only; the rules are the service's.

use chrono::{DateTime, Utc};
use ecs_domain::error::common::{invalid_parameter, missing_parameter, INVALID_REGION_ID};
use ecs_domain::model::{ChargeType, PeriodUnit};
use ecs_domain::time::parse_utc_second;
use ecs_domain::{ApiError, ErrorCode};
use ecs_service::{CreateBilling, Idempotency};
use serde::Serialize;
use serde_json::{Map, Value};

use super::OpCtx;

/// A required parameter, or `MissingParameter` in the gateway's words.
pub fn required<'p>(ctx: &'p OpCtx, name: &str) -> Result<&'p str, ApiError> {
    ctx.params
        .non_empty(name)
        .ok_or_else(|| missing_parameter(name))
}

/// A required parameter whose absence has an error row of the operation's own.
pub fn required_or<'p>(
    ctx: &'p OpCtx,
    name: &str,
    missing: ErrorCode,
) -> Result<&'p str, ApiError> {
    ctx.params.non_empty(name).ok_or_else(|| missing.err())
}

/// The `RegionId` if sent, checked against the catalog.
pub fn optional_region(ctx: &OpCtx) -> Result<Option<String>, ApiError> {
    match ctx.params.non_empty("RegionId") {
        None => Ok(None),
        Some(id) if ctx.service.catalog().region(id).is_some() => Ok(Some(id.to_string())),
        Some(_) => Err(INVALID_REGION_ID.err()),
    }
}

/// The required `RegionId`, checked against the catalog.
pub fn region(ctx: &OpCtx) -> Result<String, ApiError> {
    optional_region(ctx)?.ok_or_else(|| missing_parameter("RegionId"))
}

/// An answer with no fields beside RequestId.
pub fn empty() -> Map<String, Value> {
    Map::new()
}

/// A typed result as an answer's fields.
pub fn fields_of(value: &impl Serialize) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Parses `DryRun`; a true value means: check everything, change nothing, answer the
/// operation's dry-run error.
pub fn dry_run(ctx: &OpCtx) -> Result<bool, ApiError> {
    Ok(ctx.params.bool("DryRun")?.unwrap_or(false))
}

/// A boolean flag, false when absent.
pub fn flag(ctx: &OpCtx, name: &str) -> Result<bool, ApiError> {
    Ok(ctx.params.bool(name)?.unwrap_or(false))
}

/// Converts a JSON object literal into an answer map.
pub fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The `AutoReleaseTime` parameter as a time (`None`: absent or empty, which cancels). Only
/// its form is read here; the service applies the window rules, with the same row.
pub fn release_time(ctx: &OpCtx, malformed: ErrorCode) -> Result<Option<DateTime<Utc>>, ApiError> {
    match ctx.params.get("AutoReleaseTime") {
        None | Some("") => Ok(None),
        Some(raw) => parse_utc_second(raw).map(Some).ok_or_else(|| {
            tracing::debug!(?raw, "AutoReleaseTime malformed");
            malformed.err()
        }),
    }
}

/// `PageNumber` (from 1, default 1) and `PageSize` (1 to 100, default 10).
pub fn page_number_and_size(ctx: &OpCtx) -> Result<(u32, u32), ApiError> {
    let number = match ctx.params.int("PageNumber")? {
        None => 1,
        Some(n) if (1..=i64::from(u32::MAX)).contains(&n) => n as u32,
        Some(_) => return Err(invalid_parameter("PageNumber")),
    };
    let size = match ctx.params.int("PageSize")? {
        None => 10,
        Some(n) if (1..=100).contains(&n) => n as u32,
        Some(_) => return Err(invalid_parameter("PageSize")),
    };
    Ok((number, size))
}

/// Parameters that say who sent a call and how, not what it asks for; left out of a
/// ClientToken's fingerprint because every retry changes them (or, for the owner parameters
/// every operation accepts and ignores, because they ask for nothing). DryRun is left out too:
/// a dry run never records an answer, so it only ever meets a token's answer by repeating it.
const ENVELOPE_PARAMS: &[&str] = &[
    "OwnerId",
    "OwnerAccount",
    "ResourceOwnerId",
    "ResourceOwnerAccount",
    "DryRun",
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "SignatureType",
    "Timestamp",
    "Format",
    "Version",
    "Action",
    "SecurityToken",
    "ClientToken",
];

/// Values the creating and batch operations take when a parameter is left out; sending one
/// explicitly asks for the same thing as leaving it out.
const DEFAULT_VALUES: &[(&str, &str)] = &[
    ("Amount", "1"),
    ("Quantity", "1"),
    ("InstanceChargeType", "PostPaid"),
    ("ChargeType", "PostPaid"),
    ("PeriodUnit", "Month"),
    ("DeletionProtection", "false"),
    ("AutoRenew", "false"),
    ("Force", "false"),
    ("TerminateSubscription", "false"),
    ("SpotStrategy", "NoSpot"),
];

/// What makes two calls "the same request" for ClientToken idempotency: their parameters as
/// the operation reads them, so a retry from another SDK (Python sends `True`, Node `true`)
/// or one that spells out a default is the same request.
pub fn fingerprint(ctx: &OpCtx) -> String {
    let mut out = String::new();
    for (k, v) in ctx.params.iter() {
        if ENVELOPE_PARAMS.contains(&k) || v.is_empty() {
            continue;
        }
        let v = if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") {
            v.to_ascii_lowercase()
        } else {
            v.to_string()
        };
        if DEFAULT_VALUES.contains(&(k, v.as_str())) {
            continue;
        }
        out.push_str(k);
        out.push('=');
        out.push_str(&v);
        out.push('\n');
    }
    out
}

/// The `ClientToken` (at most 64 ASCII characters) with the call's fingerprint.
pub fn idempotency(ctx: &OpCtx) -> Result<Option<Idempotency>, ApiError> {
    match ctx.params.non_empty("ClientToken") {
        None => Ok(None),
        Some(t) if t.len() <= 64 && t.is_ascii() => Ok(Some(Idempotency {
            token: t.to_string(),
            fingerprint: fingerprint(ctx),
        })),
        Some(_) => Err(invalid_parameter("ClientToken")),
    }
}

pub const INVALID_PERIOD_UNIT: ErrorCode = ErrorCode::new(
    400,
    "InvalidPeriodUnit.ValueNotSupported",
    "The specified parameter PeriodUnit is not valid.",
);

/// The billing parameters of a creating call: the charge type (under `charge_param`, an
/// unknown one is `invalid_charge_type`), `Period`, `PeriodUnit`, `AutoRenew`,
/// `AutoRenewPeriod` and `AutoReleaseTime` (a malformed one is `malformed_release_time`).
pub fn billing(
    ctx: &OpCtx,
    charge_param: &str,
    invalid_charge_type: ErrorCode,
    malformed_release_time: ErrorCode,
) -> Result<CreateBilling, ApiError> {
    let charge_type = optional_enum(ctx, charge_param, ChargeType::parse, invalid_charge_type)?
        .unwrap_or(ChargeType::PostPaid);
    let (mut period, mut unit, mut auto_renew, mut auto_renew_period) =
        (None, PeriodUnit::Month, false, None);
    // The subscription parameters are read (and must be well formed) for subscriptions only.
    if charge_type == ChargeType::PrePaid {
        unit = optional_enum(ctx, "PeriodUnit", PeriodUnit::parse, INVALID_PERIOD_UNIT)?
            .unwrap_or(PeriodUnit::Month);
        period = ctx.params.int("Period")?;
        auto_renew = flag(ctx, "AutoRenew")?;
        auto_renew_period = ctx.params.int("AutoRenewPeriod")?;
    }
    Ok(CreateBilling {
        charge_type,
        period,
        unit,
        auto_renew,
        auto_renew_period,
        auto_release_time: release_time(ctx, malformed_release_time)?,
    })
}

/// The `ZoneId` if sent.
pub fn zone(ctx: &OpCtx) -> Option<String> {
    ctx.params.non_empty("ZoneId").map(str::to_string)
}

/// A count parameter such as `Amount` or `Quantity`: 1 to 100, default 1.
pub fn count(ctx: &OpCtx, name: &str) -> Result<u32, ApiError> {
    match ctx.params.int(name)? {
        None => Ok(1),
        Some(n) if (1..=100).contains(&n) => Ok(n as u32),
        Some(_) => Err(invalid_parameter(name)),
    }
}

/// An optional parameter with a closed set of values: absent is `None`, an unknown value is the
/// operation's `invalid` row.
pub fn optional_enum<T>(
    ctx: &OpCtx,
    name: &str,
    parse: fn(&str) -> Option<T>,
    invalid: ErrorCode,
) -> Result<Option<T>, ApiError> {
    match ctx.params.non_empty(name) {
        None => Ok(None),
        Some(raw) => parse(raw).map(Some).ok_or_else(|| invalid.err()),
    }
}
