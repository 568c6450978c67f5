//! Steps many operations share: required parameters, the region check, finding a resource.

use chrono::{DateTime, Utc};
use ecs_domain::error::common::{
    invalid_parameter, missing_parameter, IDEMPOTENT_PARAMETER_MISMATCH, INVALID_REGION_ID,
};
use ecs_domain::lifecycle::new_subscription;
use ecs_domain::model::{
    ChargeType, Instance, PeriodUnit, RenewalSettings, RenewalStatus, Subscription,
};
use ecs_domain::rules::subscription_periods;
use ecs_domain::time::ReleaseTimeError;
use ecs_domain::{ApiError, ErrorCode};
use ecs_store::{IdempotentAnswer, NewEvent, ResourceKind, StoreTx, TxResult};
use serde_json::{json, Map, Value};

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
        Some(id) if ctx.app.catalog.region(id).is_some() => Ok(Some(id.to_string())),
        Some(_) => Err(INVALID_REGION_ID.err()),
    }
}

/// The required `RegionId`, checked against the catalog.
pub fn region(ctx: &OpCtx) -> Result<String, ApiError> {
    optional_region(ctx)?.ok_or_else(|| missing_parameter("RegionId"))
}

/// The instance with this id in the caller's account (and region, when one was named).
pub fn find_instance(
    tx: &mut dyn StoreTx,
    account_id: i64,
    region: Option<&str>,
    id: &str,
    not_found: ErrorCode,
) -> TxResult<Instance> {
    match tx.instance(account_id, id)? {
        Some(i) if region.is_none_or(|r| r == i.region_id) => Ok(i),
        _ => Err(not_found.err().into()),
    }
}

/// Removes an instance and records why, in the same transaction.
pub fn release_instance(
    tx: &mut dyn StoreTx,
    instance: &Instance,
    action: &str,
    scheduled_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> TxResult<()> {
    tx.delete_instance(instance.account_id, &instance.id)?;
    tx.append_event(&NewEvent {
        account_id: instance.account_id,
        resource: ResourceKind::Instance,
        resource_id: instance.id.clone(),
        action: action.to_string(),
        scheduled_at,
        happened_at: now,
        outcome: "released".into(),
        detail: match &instance.dedicated_host_id {
            Some(host) => json!({
                "InstanceChargeType": instance.charge_type.as_str(),
                "DedicatedHostId": host,
            }),
            None => json!({"InstanceChargeType": instance.charge_type.as_str()}),
        },
    })?;
    Ok(())
}

/// An answer with no fields beside RequestId.
pub fn empty() -> Map<String, Value> {
    Map::new()
}

/// A random resource id in ECS's shape: a prefix, then 20 lower-case letters and digits.
pub fn new_resource_id(prefix: &str) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}-{tail}")
}

/// Parses `DryRun`; a true value means: check everything, change nothing, answer the
/// operation's dry-run error.
pub fn dry_run(ctx: &OpCtx) -> Result<bool, ApiError> {
    Ok(ctx.params.bool("DryRun")?.unwrap_or(false))
}

/// Converts a JSON object literal into an answer map.
pub fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The `AutoReleaseTime` parameter under the window rules: `None` cancels. Every refusal
/// (malformed, too early, too late) is the operation's `malformed` row with its exact message,
/// as ECS answers; the reason goes to the log only.
pub fn release_time(ctx: &OpCtx, malformed: ErrorCode) -> Result<Option<DateTime<Utc>>, ApiError> {
    let raw = ctx.params.get("AutoReleaseTime");
    ecs_domain::time::auto_release_time(raw, ctx.now).map_err(|why: ReleaseTimeError| {
        tracing::debug!(?why, ?raw, now = %ctx.now, "AutoReleaseTime refused");
        malformed.err()
    })
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

/// What a creating call needs for ClientToken idempotency, read before anything else.
pub struct Repeatable {
    pub token: Option<String>,
    pub fingerprint: String,
    pub dry: bool,
    /// The first answer, when this call repeats an answered one (never for a dry run).
    pub earlier: Option<Map<String, Value>>,
}

pub fn repeatable(ctx: &OpCtx, action: &'static str) -> Result<Repeatable, ApiError> {
    let token = client_token(ctx)?;
    let fingerprint = fingerprint(ctx);
    let dry = dry_run(ctx)?;
    let earlier = if dry {
        None
    } else {
        earlier_answer(ctx, action, token.as_deref(), &fingerprint)?
    };
    Ok(Repeatable {
        token,
        fingerprint,
        dry,
        earlier,
    })
}

/// The first answer to a ClientToken call this one repeats, looked up before anything is
/// checked again: the first call passed its checks then, and some depend on the time (an
/// AutoReleaseTime must be 30 minutes ahead), so a late retry of the very same request would
/// fail them. Other parameters under a used token are refused. `None`: nothing to repeat.
fn earlier_answer(
    ctx: &OpCtx,
    action: &'static str,
    token: Option<&str>,
    fingerprint: &str,
) -> Result<Option<Map<String, Value>>, ApiError> {
    let Some(token) = token else {
        return Ok(None);
    };
    let (account, token, fingerprint) =
        (ctx.account_id, token.to_string(), fingerprint.to_string());
    ctx.app.read(
        move |tx| match tx.idempotent_answer(account, action, &token)? {
            Some(prev) if prev.fingerprint == fingerprint => Ok(Some(object(prev.response))),
            Some(_) => Err(IDEMPOTENT_PARAMETER_MISMATCH.err().into()),
            None => Ok(None),
        },
    )
}

/// The `ClientToken` parameter: at most 64 ASCII characters.
pub fn client_token(ctx: &OpCtx) -> Result<Option<String>, ApiError> {
    match ctx.params.non_empty("ClientToken") {
        None => Ok(None),
        Some(t) if t.len() <= 64 && t.is_ascii() => Ok(Some(t.to_string())),
        Some(_) => Err(invalid_parameter("ClientToken")),
    }
}

/// Runs a creating call once per ClientToken: a repeat with the same parameters gets the first
/// answer again, one with other parameters is refused. `create` runs inside the transaction.
pub fn once_per_token(
    tx: &mut dyn StoreTx,
    account_id: i64,
    action: &'static str,
    token: Option<&str>,
    fingerprint: &str,
    create: impl FnOnce(&mut dyn StoreTx) -> TxResult<Map<String, Value>>,
) -> TxResult<Map<String, Value>> {
    let Some(token) = token else {
        return create(tx);
    };
    if let Some(prev) = tx.idempotent_answer(account_id, action, token)? {
        if prev.fingerprint != fingerprint {
            return Err(IDEMPOTENT_PARAMETER_MISMATCH.err().into());
        }
        return Ok(object(prev.response));
    }
    let answer = create(tx)?;
    tx.put_idempotent_answer(
        account_id,
        action,
        token,
        &IdempotentAnswer {
            fingerprint: fingerprint.to_string(),
            response: Value::Object(answer.clone()),
        },
    )?;
    Ok(answer)
}

/// Reads a subscription's `Period`/`PeriodUnit` and auto-renew parameters.
struct SubscriptionParams {
    pub period: u32,
    pub unit: PeriodUnit,
    pub renewal: RenewalSettings,
}

pub const INVALID_PERIOD: ErrorCode =
    ErrorCode::new(400, "InvalidPeriod", "The specified period is not valid.");
pub const INVALID_PERIOD_UNIT: ErrorCode = ErrorCode::new(
    400,
    "InvalidPeriodUnit.ValueNotSupported",
    "The specified parameter PeriodUnit is not valid.",
);

/// How a new resource is billed: its subscription (PrePaid) or its auto-release time
/// (PostPaid). The rows are the creating operation's own: an unknown charge type, a refused
/// release time, a release time sent for a subscription, and an auto-renew period outside
/// `auto_renew_months` (the operations document different sets and wordings).
pub struct BillingRows {
    pub invalid_charge_type: ErrorCode,
    pub malformed_release_time: ErrorCode,
    pub release_time_for_subscription: ErrorCode,
    pub invalid_auto_renew_period: ErrorCode,
    pub auto_renew_months: &'static [u32],
}

pub struct Billing {
    pub charge_type: ChargeType,
    pub subscription: Option<Subscription>,
    pub auto_release_time: Option<DateTime<Utc>>,
}

pub fn billing(ctx: &OpCtx, charge_param: &str, rows: &BillingRows) -> Result<Billing, ApiError> {
    let charge_type = optional_enum(
        ctx,
        charge_param,
        ChargeType::parse,
        rows.invalid_charge_type,
    )?
    .unwrap_or(ChargeType::PostPaid);
    let subscription = match charge_type {
        ChargeType::PrePaid => {
            let p = subscription_params(ctx, rows)?;
            Some(
                new_subscription(ctx.now, p.period, p.unit, p.renewal)
                    .ok_or_else(|| INVALID_PERIOD.err())?,
            )
        }
        ChargeType::PostPaid => None,
    };
    let auto_release_time = release_time(ctx, rows.malformed_release_time)?;
    if auto_release_time.is_some() && charge_type == ChargeType::PrePaid {
        return Err(rows.release_time_for_subscription.err());
    }
    Ok(Billing {
        charge_type,
        subscription,
        auto_release_time,
    })
}

fn subscription_params(ctx: &OpCtx, rows: &BillingRows) -> Result<SubscriptionParams, ApiError> {
    let unit = match ctx.params.non_empty("PeriodUnit") {
        None => PeriodUnit::Month,
        Some(raw) => PeriodUnit::parse(raw).ok_or_else(|| INVALID_PERIOD_UNIT.err())?,
    };
    let period = ctx
        .params
        .int("Period")?
        .ok_or_else(|| missing_parameter("Period"))?;
    let period = u32::try_from(period)
        .ok()
        .filter(|p| subscription_periods(unit).contains(p))
        .ok_or_else(|| INVALID_PERIOD.err())?;
    let auto_renew = ctx.params.bool("AutoRenew")?.unwrap_or(false);
    // Auto-renew periods count in the subscription's own unit, as RunInstances documents.
    let allowed: &[u32] = match unit {
        PeriodUnit::Month => rows.auto_renew_months,
        PeriodUnit::Week => &[1, 2, 3],
        PeriodUnit::Year => &[1, 2, 3, 4, 5],
    };
    let renew_period = match ctx.params.int("AutoRenewPeriod")? {
        None => 1,
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| allowed.contains(n))
            .ok_or_else(|| rows.invalid_auto_renew_period.err())?,
    };
    Ok(SubscriptionParams {
        period,
        unit,
        renewal: RenewalSettings {
            status: if auto_renew {
                RenewalStatus::AutoRenewal
            } else {
                RenewalStatus::Normal
            },
            duration: renew_period,
            unit,
        },
    })
}

/// The `ZoneId` if sent (it must be one of the region's), else the region's first zone.
pub fn zone(ctx: &OpCtx, region: &str) -> Result<String, ApiError> {
    let zones = ctx
        .app
        .catalog
        .region(region)
        .map(|r| r.zones.clone())
        .unwrap_or_default();
    match ctx.params.non_empty("ZoneId") {
        Some(z) if zones.iter().any(|known| known == z) => Ok(z.to_string()),
        Some(_) => Err(INVALID_ZONE_ID.err()),
        None => zones.first().cloned().ok_or_else(|| INVALID_ZONE_ID.err()),
    }
}

pub const INVALID_ZONE_ID: ErrorCode = ErrorCode::new(
    400,
    "InvalidZoneId.NotFound",
    "The specified zone does not exist.",
);

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
