//! Commands and queries on instances. Each command's refusals are the rows below, as ECS
//! answers them for the operation the command serves.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use ecs_domain::capacity::{Demand, HostCapacity};
use ecs_domain::error::common::{invalid_parameter, DRY_RUN_OPERATION, INVALID_REGION_ID};
use ecs_domain::lifecycle::set_renewal;
use ecs_domain::model::{ChargeType, Instance, InstanceStatus, LaunchSettings, RenewalStatus};
use ecs_domain::rules::{
    check_manual_release, check_start, check_stop, renewal_settings, PowerRefusal, ReleaseRefusal,
    RenewSettingsError, AUTO_RENEW_PERIODS,
};
use ecs_domain::time::{release_window as window, ReleaseTimeError};
use ecs_domain::{ApiError, ErrorCode};
use ecs_store::{InstanceFilter, Listing, NewEvent, Page, ResourceKind, StoreTx, TxResult};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::creating::{
    billing, new_resource_id, once_per_token, order_id, BillingRows, CreateBilling, Idempotency,
};
use crate::resource::{find, Billed};
use crate::{Caller, Service};

// ---------------------------------------------------------------------------------------------
// Rows shared by the commands on one instance.

pub const NOT_FOUND: ErrorCode = ErrorCode::new(
    404,
    "InvalidInstanceId.NotFound",
    "The specified InstanceId does not exist.",
);
pub const INCORRECT_STATUS: ErrorCode = ErrorCode::new(
    403,
    "IncorrectInstanceStatus",
    "The current status of the resource does not support this operation.",
);
pub const CHARGE_TYPE_VIOLATION: ErrorCode = ErrorCode::new(
    403,
    "ChargeTypeViolation",
    "The operation is not permitted due to charge type of the instance.",
);
pub const DELETION_PROTECTION: ErrorCode = ErrorCode::new(
    403,
    "InvalidOperation.DeletionProtection",
    "The instance is protected from deletion, please disable DeletionProtection first.",
);
pub const INVALID_ZONE_ID: ErrorCode = ErrorCode::new(
    400,
    "InvalidZoneId.NotFound",
    "The specified zone does not exist.",
);

// ---------------------------------------------------------------------------------------------
// Auto-release time (instances and hosts alike).

/// The rows of a release-time command.
pub struct ReleaseTimeRows {
    pub not_found: ErrorCode,
    pub charge_type_violation: ErrorCode,
    /// Malformed, too early or too late: ECS answers all three alike.
    pub malformed: ErrorCode,
}

pub const INSTANCE_RELEASE_TIME_ROWS: ReleaseTimeRows = ReleaseTimeRows {
    not_found: ErrorCode::new(
        404,
        "NoSuchResource",
        "The specified resource is not found.",
    ),
    charge_type_violation: CHARGE_TYPE_VIOLATION,
    malformed: ErrorCode::new(
        400,
        "InvalidAutoReleaseTime.Malformed",
        "The specified parameter autoReleaseTime is not valid.",
    ),
};

/// Set (`at`) or cancel (`None`) when a pay-as-you-go resource is released. The latest
/// setting wins.
#[derive(Debug, Clone)]
pub struct SetReleaseTime {
    pub id: String,
    pub region: Option<String>,
    pub at: Option<DateTime<Utc>>,
}

/// The auto-release window (30 minutes to 3 years ahead, by the minute) applied to a time.
pub(crate) fn release_window(
    at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    refused: ErrorCode,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(at) = at else { return Ok(None) };
    window(at, now).map(Some).map_err(|why: ReleaseTimeError| {
        tracing::debug!(?why, %at, %now, "AutoReleaseTime refused");
        refused.err()
    })
}

/// Whether a resource takes a release time at all (pay-as-you-go only); shared by the command
/// and its preview.
pub(crate) fn release_time_allowed<R: Billed>(
    resource: &R,
    rows: &ReleaseTimeRows,
) -> Result<(), ApiError> {
    if resource.charge_type() != ChargeType::PostPaid {
        return Err(rows.charge_type_violation.err());
    }
    Ok(())
}

impl Service {
    pub(crate) async fn set_release_time<R: Billed>(
        &self,
        caller: &Caller,
        cmd: SetReleaseTime,
        rows: &'static ReleaseTimeRows,
    ) -> Result<(), ApiError> {
        self.settled(
            caller,
            self.set_release_time_unsettled::<R>(caller, cmd, rows),
        )
        .await
    }

    pub async fn release_instances(
        &self,
        caller: &Caller,
        cmd: ReleaseInstances,
    ) -> Result<(), ApiError> {
        self.settled(caller, self.release_instances_unsettled(caller, cmd))
            .await
    }

    pub async fn set_auto_renew(&self, caller: &Caller, cmd: SetAutoRenew) -> Result<(), ApiError> {
        self.settled(caller, self.set_auto_renew_unsettled(caller, cmd))
            .await
    }

    pub async fn run_instances(
        &self,
        caller: &Caller,
        cmd: RunInstances,
    ) -> Result<CreatedInstances, ApiError> {
        self.settled(caller, self.run_instances_unsettled(caller, cmd))
            .await
    }

    pub async fn set_instance_release_time(
        &self,
        caller: &Caller,
        cmd: SetReleaseTime,
    ) -> Result<(), ApiError> {
        self.set_release_time::<Instance>(caller, cmd, &INSTANCE_RELEASE_TIME_ROWS)
            .await
    }

    async fn set_release_time_unsettled<R: Billed>(
        &self,
        caller: &Caller,
        cmd: SetReleaseTime,
        rows: &'static ReleaseTimeRows,
    ) -> Result<(), ApiError> {
        let at = release_window(cmd.at, self.now(), rows.malformed)?;
        let account = caller.account_id;
        self.write(caller, move |tx| {
            let mut resource: R =
                find(tx, account, cmd.region.as_deref(), &cmd.id, rows.not_found)?;
            release_time_allowed(&resource, rows)?;
            *resource.auto_release_time_mut() = at;
            resource.save(tx)?;
            Ok(())
        })
        .await
    }
}

// ---------------------------------------------------------------------------------------------
// Release now.

/// Release one instance now (DeleteInstance).
#[derive(Debug, Clone)]
pub struct ReleaseInstance {
    pub id: String,
    pub region: Option<String>,
    /// Release a Running instance too.
    pub force: bool,
    /// Release an expired subscription.
    pub terminate_subscription: bool,
    pub dry_run: bool,
}

/// Release up to [`MAX_RELEASE_IDS`] instances now, all or none (DeleteInstances).
#[derive(Debug, Clone)]
pub struct ReleaseInstances {
    pub ids: Vec<String>,
    pub region: String,
    pub force: bool,
    pub terminate_subscription: bool,
    pub dry_run: bool,
    pub idempotency: Option<Idempotency>,
}

pub const MAX_RELEASE_IDS: usize = 100;

/// The dry-run answer of DeleteInstances (its SDK model names this code, unlike
/// DeleteInstance's).
pub const BATCH_DRY_RUN_SUCCESS: ErrorCode = ErrorCode::new(
    400,
    "DRYRUN.SUCCESS",
    "This request is a dryrun request with successful result.",
);

/// The manual-release checks, with their rows.
pub fn check_release(instance: &Instance, force: bool, terminate: bool) -> Result<(), ApiError> {
    check_manual_release(instance, force, terminate).map_err(|why| match why {
        ReleaseRefusal::Protected => DELETION_PROTECTION.with_message(format!(
            "The instance {} is protected from deletion, please disable DeletionProtection first.",
            instance.id
        )),
        ReleaseRefusal::ChargeType => CHARGE_TYPE_VIOLATION.err(),
        ReleaseRefusal::Status => INCORRECT_STATUS.err(),
    })
}

/// Removes an instance and records why, in the same transaction.
pub(crate) fn release(
    tx: &mut dyn StoreTx,
    instance: &Instance,
    action: &str,
    scheduled_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> TxResult<()> {
    tx.delete_instance(instance.account_id, &instance.id)?;
    // Its disks in the same transaction: those deleted with it go, the others are detached.
    let fate =
        ecs_domain::disk::on_release(tx.disks(instance.account_id, None, Some(&instance.id))?);
    for id in &fate.released {
        tx.delete_disk(instance.account_id, id)?;
    }
    for disk in &fate.detached {
        tx.put_disk(disk)?;
    }
    let mut detail = match &instance.dedicated_host_id {
        Some(host) => json!({
            "InstanceChargeType": instance.charge_type.as_str(),
            "DedicatedHostId": host,
        }),
        None => json!({"InstanceChargeType": instance.charge_type.as_str()}),
    };
    if !fate.released.is_empty() || !fate.detached.is_empty() {
        detail["ReleasedDisks"] = json!(fate.released);
        detail["DetachedDisks"] = json!(fate.detached.iter().map(|d| &d.id).collect::<Vec<_>>());
    }
    tx.append_event(&NewEvent {
        account_id: instance.account_id,
        resource: ResourceKind::Instance,
        resource_id: instance.id.clone(),
        action: action.to_string(),
        scheduled_at,
        happened_at: now,
        outcome: "released".into(),
        detail,
    })?;
    Ok(())
}

/// The answer remembered for a DeleteInstances ClientToken: nothing beyond success.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Released {}

impl Service {
    pub async fn release_instance(
        &self,
        caller: &Caller,
        cmd: ReleaseInstance,
    ) -> Result<(), ApiError> {
        const ACTION: &str = "DeleteInstance";
        let (account, now) = (caller.account_id, self.now());
        self.write(caller, move |tx| {
            let instance: Instance = find(tx, account, cmd.region.as_deref(), &cmd.id, NOT_FOUND)?;
            check_release(&instance, cmd.force, cmd.terminate_subscription)?;
            if cmd.dry_run {
                return Err(DRY_RUN_OPERATION.err().into());
            }
            release(tx, &instance, ACTION, None, now)
        })
        .await
    }

    async fn release_instances_unsettled(
        &self,
        caller: &Caller,
        mut cmd: ReleaseInstances,
    ) -> Result<(), ApiError> {
        const ACTION: &str = "DeleteInstances";
        if cmd.ids.len() > MAX_RELEASE_IDS {
            return Err(invalid_parameter("InstanceId"));
        }
        let mut seen = HashSet::new();
        cmd.ids.retain(|id| seen.insert(id.clone()));
        let (account, now) = (caller.account_id, self.now());
        self.write(caller, move |tx| {
            once_per_token(tx, account, ACTION, cmd.idempotency.as_ref(), |tx| {
                let mut instances = Vec::with_capacity(cmd.ids.len());
                for id in &cmd.ids {
                    let instance: Instance = find(tx, account, Some(&cmd.region), id, NOT_FOUND)?;
                    check_release(&instance, cmd.force, cmd.terminate_subscription)?;
                    instances.push(instance);
                }
                if cmd.dry_run {
                    return Err(BATCH_DRY_RUN_SUCCESS.err().into());
                }
                for instance in &instances {
                    release(tx, instance, ACTION, None, now)?;
                }
                Ok(Released {})
            })
        })
        .await
        .map(drop)
    }
}

// ---------------------------------------------------------------------------------------------
// Attributes, power.

/// Name, description and release protection of an instance; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct ModifyInstance {
    pub id: String,
    pub region: Option<String>,
    pub deletion_protection: Option<bool>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// The performance mode of a burstable instance.
    pub credit_specification: Option<ecs_domain::model::CreditSpecification>,
}

#[derive(Debug, Clone)]
pub struct StopInstance {
    pub id: String,
    pub region: Option<String>,
    /// Economical mode (`StoppedMode=StopCharging`).
    pub stop_charging: bool,
    pub dry_run: bool,
}

#[derive(Debug, Clone)]
pub struct StartInstance {
    pub id: String,
    pub region: Option<String>,
    pub dry_run: bool,
}

pub const EXPIRED_OR_IN_ARREARS: ErrorCode = ErrorCode::new(
    403,
    "InstanceExpiredOrInArrears",
    "The specified operation is denied as your prepay instance is expired (prepay mode) or in arrears (afterpay mode).",
);
pub const EXPIRED: ErrorCode = ErrorCode::new(
    403,
    "InstanceExpired",
    "The prePaid instance has been expired.",
);

impl Service {
    pub async fn modify_instance(
        &self,
        caller: &Caller,
        cmd: ModifyInstance,
    ) -> Result<(), ApiError> {
        let account = caller.account_id;
        self.write(caller, move |tx| {
            let mut instance: Instance =
                find(tx, account, cmd.region.as_deref(), &cmd.id, NOT_FOUND)?;
            if let Some(p) = cmd.deletion_protection {
                instance.deletion_protection = p;
            }
            if let Some(n) = &cmd.name {
                instance.name = n.clone();
            }
            if let Some(d) = &cmd.description {
                instance.description = d.clone();
            }
            if let Some(mode) = cmd.credit_specification {
                if !ecs_domain::catalog::is_burstable(&instance.instance_type) {
                    return Err(crate::launch::CREDIT_SPECIFICATION_NOT_SUPPORTED
                        .err()
                        .into());
                }
                instance.launch.credit_specification = Some(mode);
            }
            tx.put_instance(&instance)?;
            Ok(())
        })
        .await
    }

    pub async fn stop_instance(&self, caller: &Caller, cmd: StopInstance) -> Result<(), ApiError> {
        let account = caller.account_id;
        self.write(caller, move |tx| {
            let mut instance: Instance =
                find(tx, account, cmd.region.as_deref(), &cmd.id, NOT_FOUND)?;
            check_stop(&instance).map_err(|why| match why {
                PowerRefusal::Expired => EXPIRED_OR_IN_ARREARS.err(),
                PowerRefusal::Status => INCORRECT_STATUS.err(),
            })?;
            if cmd.dry_run {
                return Err(DRY_RUN_OPERATION.err().into());
            }
            instance.status = InstanceStatus::Stopped;
            // Economical mode exists for pay-as-you-go instances only; a subscription is paid
            // for whether it runs or not, so it keeps charging.
            instance.stopped_charging =
                cmd.stop_charging && instance.charge_type == ChargeType::PostPaid;
            tx.put_instance(&instance)?;
            Ok(())
        })
        .await
    }

    pub async fn start_instance(
        &self,
        caller: &Caller,
        cmd: StartInstance,
    ) -> Result<(), ApiError> {
        let (account, now) = (caller.account_id, self.now());
        self.write(caller, move |tx| {
            let mut instance: Instance =
                find(tx, account, cmd.region.as_deref(), &cmd.id, NOT_FOUND)?;
            check_start(&instance).map_err(|why| match why {
                PowerRefusal::Expired => EXPIRED.err(),
                PowerRefusal::Status => INCORRECT_STATUS.err(),
            })?;
            if cmd.dry_run {
                return Err(DRY_RUN_OPERATION.err().into());
            }
            instance.status = InstanceStatus::Running;
            instance.stopped_charging = false;
            instance.start_time = Some(now);
            tx.put_instance(&instance)?;
            Ok(())
        })
        .await
    }
}

// ---------------------------------------------------------------------------------------------
// Auto-renew settings.

/// The auto-renew settings of up to [`MAX_RENEW_IDS`] subscription instances at once, as sent:
/// `RenewalStatus` wins over `AutoRenew`; `None` keeps an instance's current value.
#[derive(Debug, Clone)]
pub struct SetAutoRenew {
    pub ids: Vec<String>,
    pub region: String,
    pub duration: Option<i64>,
    pub unit: Option<String>,
    pub renewal_status: Option<String>,
    pub auto_renew: Option<bool>,
}

/// Which subscription instances' auto-renew settings to show: by ids, by renewal status, or
/// both. A page of `page_size` from page `page_number` (from 1).
#[derive(Debug, Clone)]
pub struct AutoRenewQuery {
    pub region: String,
    pub ids: Option<Vec<String>>,
    pub renewal_status: Option<RenewalStatus>,
    pub page_number: u32,
    pub page_size: u32,
}

/// The most instances one auto-renew call may name.
pub const MAX_RENEW_IDS: usize = 100;

pub const TOO_MANY_RENEW_IDS: ErrorCode = ErrorCode::new(
    403,
    "InvalidParameter.ToManyInstanceIds",
    "InstanceId should be less than 100.",
);
pub const INVALID_RENEW_INSTANCE_ID: ErrorCode =
    ErrorCode::new(403, "InvalidParameter.InvalidInstanceId", "%s");
pub const RENEW_CHARGE_TYPE_VIOLATION: ErrorCode = ErrorCode::new(
    403,
    "ChargeTypeViolation",
    "Pay-As-You-Go instances do not support this operation.",
);
pub const INVALID_DURATION: ErrorCode = ErrorCode::new(403, "InvalidParameter.Duration", "%s");
pub const INVALID_RENEWAL_STATUS: ErrorCode =
    ErrorCode::new(403, "InvalidParameter.RenewalStatus", "%s");
pub const INVALID_RENEW_PERIOD_UNIT: ErrorCode = ErrorCode::new(
    403,
    "InvalidPeriodUnit.ValueNotSupported",
    "The specified parameter PeriodUnit is not valid.",
);

/// An id list for the auto-renew calls: at most [`MAX_RENEW_IDS`], duplicates folded.
pub fn renew_ids(mut ids: Vec<String>) -> Result<Vec<String>, ApiError> {
    if ids.len() > MAX_RENEW_IDS {
        return Err(TOO_MANY_RENEW_IDS.err());
    }
    let mut seen = HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    Ok(ids)
}

fn unknown_renew_instance(id: &str) -> ApiError {
    INVALID_RENEW_INSTANCE_ID.with_message(format!("The specified InstanceId {id} is invalid."))
}

impl Service {
    async fn set_auto_renew_unsettled(
        &self,
        caller: &Caller,
        cmd: SetAutoRenew,
    ) -> Result<(), ApiError> {
        let ids = renew_ids(cmd.ids.clone())?;
        // The settings are checked once against defaults, so a bad value is refused before
        // any instance is looked at.
        renewal_settings(
            Default::default(),
            cmd.duration,
            cmd.unit.as_deref(),
            cmd.renewal_status.as_deref(),
            cmd.auto_renew,
        )
        .map_err(|e| match e {
            RenewSettingsError::PeriodUnit => INVALID_RENEW_PERIOD_UNIT.err(),
            RenewSettingsError::Duration => INVALID_DURATION.with_message(format!(
                "The specified parameter Duration {} is not valid for PeriodUnit {}.",
                cmd.duration.unwrap_or_default(),
                cmd.unit.as_deref().unwrap_or("Month")
            )),
            RenewSettingsError::RenewalStatus => INVALID_RENEWAL_STATUS.with_message(format!(
                "The specified parameter RenewalStatus {} is not valid.",
                cmd.renewal_status.as_deref().unwrap_or_default()
            )),
        })?;
        let (account, now) = (caller.account_id, self.now());
        self.write(caller, move |tx| {
            let mut changed = Vec::with_capacity(ids.len());
            for id in &ids {
                let mut instance = match tx.instance(account, id)? {
                    Some(i) if i.region_id == cmd.region => i,
                    _ => return Err(unknown_renew_instance(id).into()),
                };
                if instance.charge_type != ChargeType::PrePaid {
                    return Err(RENEW_CHARGE_TYPE_VIOLATION.err().into());
                }
                let sub = instance
                    .subscription
                    .as_mut()
                    .ok_or_else(|| INCORRECT_STATUS.err())?;
                let settings = renewal_settings(
                    sub.renewal,
                    cmd.duration,
                    cmd.unit.as_deref(),
                    cmd.renewal_status.as_deref(),
                    cmd.auto_renew,
                )
                .map_err(|_| {
                    INVALID_DURATION.with_message("The specified parameter Duration is not valid.")
                })?;
                set_renewal(sub, settings, now);
                changed.push(instance);
            }
            for instance in &changed {
                tx.put_instance(instance)?;
            }
            Ok(())
        })
        .await
    }

    /// The subscription instances matching `query`: how many in all, and the page asked for.
    pub fn auto_renew_settings(
        &self,
        caller: &Caller,
        query: AutoRenewQuery,
    ) -> Result<(usize, Vec<Instance>), ApiError> {
        let ids = query.ids.clone().map(renew_ids).transpose()?;
        let account = caller.account_id;
        let region = query.region.clone();
        let status = query.renewal_status;
        let matches = self.read(move |tx| {
            let instances = match &ids {
                Some(ids) => {
                    let mut found = Vec::with_capacity(ids.len());
                    for id in ids {
                        match tx.instance(account, id)? {
                            Some(i) if i.region_id == region => {
                                if i.charge_type != ChargeType::PrePaid {
                                    return Err(RENEW_CHARGE_TYPE_VIOLATION.err().into());
                                }
                                found.push(i)
                            }
                            _ => return Err(unknown_renew_instance(id).into()),
                        }
                    }
                    found
                }
                None => {
                    let filter = InstanceFilter {
                        account_id: account,
                        region_id: Some(region.clone()),
                        charge_type: Some(ChargeType::PrePaid),
                        ..Default::default()
                    };
                    let everything = Page::Offset {
                        offset: 0,
                        limit: u32::MAX,
                    };
                    tx.list_instances(&filter, everything)?.items
                }
            };
            Ok(instances
                .into_iter()
                .filter(|i| {
                    status.is_none_or(|s| {
                        i.subscription
                            .as_ref()
                            .is_some_and(|sub| sub.renewal.status == s)
                    })
                })
                .collect::<Vec<_>>())
        })?;
        let total = matches.len();
        let skip = (query.page_number.max(1) as usize - 1) * query.page_size as usize;
        let page = matches
            .into_iter()
            .skip(skip)
            .take(query.page_size as usize)
            .collect();
        Ok((total, page))
    }
}

// ---------------------------------------------------------------------------------------------
// Creating instances.

/// Create and start instances (RunInstances).
#[derive(Debug, Clone)]
pub struct RunInstances {
    pub region: String,
    pub zone: Option<String>,
    pub instance_type: String,
    pub image_id: String,
    pub amount: u32,
    pub billing: CreateBilling,
    pub deletion_protection: bool,
    pub dedicated_host_id: Option<String>,
    /// Empty: each instance is named after its id.
    pub name: String,
    pub description: String,
    pub tags: Vec<(String, String)>,
    pub security_group_ids: Vec<String>,
    pub vswitch_id: String,
    pub dry_run: bool,
    pub idempotency: Option<Idempotency>,
    /// User data and spot settings (issue 14).
    pub launch: crate::launch::LaunchRequest,
    /// CreateInstance: one instance, `Stopped` until StartInstance (RunInstances' are Running).
    pub stopped: bool,
    /// Settings kept and shown (host name, key pair, resource group, bandwidth).
    pub settings: LaunchSettings,
    /// `PrivateIpAddress`: the address of the (one) instance, else one is given out.
    pub private_ip: Option<std::net::Ipv4Addr>,
    /// `UniqueSuffix`: number the names and host names of several instances.
    pub unique_suffix: bool,
}

/// What RunInstances answers (and what a repeated ClientToken gets back), in its wire shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatedInstances {
    pub order_id: String,
    pub trade_price: f64,
    pub instance_id_sets: InstanceIdSet,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceIdSet {
    pub instance_id_set: Vec<String>,
}

pub const INVALID_INSTANCE_TYPE: ErrorCode = ErrorCode::new(
    400,
    "InvalidInstanceType.ValueNotSupported",
    "The specified InstanceType does not exist or beyond the permitted range.",
);
/// An `ImageId` the catalogue does not have (the built-in public images and the config's).
pub const INVALID_IMAGE_ID: ErrorCode = ErrorCode::new(
    404,
    "InvalidImageId.NotFound",
    "The specified ImageId does not exist.",
);
pub const RUN_HOST_NOT_FOUND: ErrorCode = ErrorCode::new(
    404,
    "InvalidDedicatedHostId.NotFound",
    "The specified DedicatedHostId does not exist.",
);
const RUN_BILLING_ROWS: BillingRows = BillingRows {
    malformed_release_time: RUN_MALFORMED_RELEASE_TIME,
    release_time_for_subscription: ErrorCode::new(
        400,
        "InvalidParameter.AutoReleaseTime",
        "AutoReleaseTime is only supported for PostPaid instances.",
    ),
    invalid_auto_renew_period: ErrorCode::new(
        400,
        "InvalidAutoRenewPeriod.ValueNotSupported",
        "The specified autoRenewPeriod is invalid.",
    ),
    // The current RunInstances documentation.
    auto_renew_months: AUTO_RENEW_PERIODS,
};
pub const RUN_MALFORMED_RELEASE_TIME: ErrorCode = ErrorCode::new(
    400,
    "InvalidAutoReleaseTime.Malformed",
    "The specified parameter AutoReleaseTime is not valid.",
);

/// How RunInstances and CreateInstance refuse a dedicated host that cannot take the instances.
pub struct HostPlacementRows {
    /// The host is locked (a subscription past its expiry) or not `Available`.
    pub host_status: ErrorCode,
    /// The host type does not carry the instance type's family.
    pub unmatched: ErrorCode,
    /// No socket of the host has room for (all of) them.
    pub lacks_resource: ErrorCode,
}

const HOST_STATUS_NOT_SUPPORTED: ErrorCode = ErrorCode::new(
    400,
    "InvalidDedicatedHostStatus.NotSupport",
    "Operation denied due to dedicated host status.",
);
const HOST_TYPE_UNMATCHED: ErrorCode = ErrorCode::new(
    400,
    "DedicatedHostType.Unmatched",
    "The specified DedicatedHostType doesn't match the instance type.",
);
const NO_ROOM_MESSAGE: &str = "There's no enough resource on the specified dedicated host.";

/// RunInstances' rows; its error table names `LackResource` for a full host.
pub const RUN_HOST_ROWS: HostPlacementRows = HostPlacementRows {
    host_status: HOST_STATUS_NOT_SUPPORTED,
    unmatched: HOST_TYPE_UNMATCHED,
    lacks_resource: ErrorCode::new(400, "LackResource", NO_ROOM_MESSAGE),
};
/// CreateInstance's rows; its error table names `NoAvaliableDedicatedHost` (ECS's spelling)
/// with the same message for a full host.
pub const CREATE_HOST_ROWS: HostPlacementRows = HostPlacementRows {
    host_status: HOST_STATUS_NOT_SUPPORTED,
    unmatched: HOST_TYPE_UNMATCHED,
    lacks_resource: ErrorCode::new(400, "NoAvaliableDedicatedHost", NO_ROOM_MESSAGE),
};

/// Whether `amount` instances of `instance_type` may go on `host`, and the socket each goes
/// on: the host unlocked, its type carrying the family, and room for all of them (read in the
/// same transaction that writes them, so two calls cannot both take the last room).
pub(crate) fn place_on_host(
    tx: &mut dyn StoreTx,
    catalog: &ecs_domain::catalog::Catalog,
    host: &ecs_domain::model::DedicatedHost,
    instance_type: &ecs_domain::catalog::InstanceType,
    amount: u32,
    rows: &HostPlacementRows,
) -> TxResult<Vec<u32>> {
    if !host.locks.is_empty() || host.status != ecs_domain::model::HostStatus::Available {
        return Err(rows.host_status.err().into());
    }
    // A host whose type a config has since removed carries nothing it could check.
    let host_type = match catalog.host_type(&host.host_type) {
        Some(t) if t.carries(instance_type) => t,
        _ => return Err(rows.unmatched.err().into()),
    };
    let placed = crate::hosts::placed_on(tx, host)?;
    let (mut capacity, _) = HostCapacity::with(host_type, &placed);
    let demand = Demand {
        vcpus: instance_type.cpu,
        memory_mib: instance_type.memory_mib,
    };
    capacity
        .place_all(demand, amount)
        .ok_or_else(|| rows.lacks_resource.err().into())
}

/// The zone asked for (one of the region's), else the region's first.
pub(crate) fn zone_in(
    service: &Service,
    region: &str,
    asked: Option<&str>,
) -> Result<String, ApiError> {
    let zones = service
        .catalog
        .region(region)
        .ok_or_else(|| INVALID_REGION_ID.err())?
        .zones
        .clone();
    match asked {
        Some(z) if zones.iter().any(|known| known == z) => Ok(z.to_string()),
        Some(_) => Err(INVALID_ZONE_ID.err()),
        None => zones.first().cloned().ok_or_else(|| INVALID_ZONE_ID.err()),
    }
}

impl Service {
    async fn run_instances_unsettled(
        &self,
        caller: &Caller,
        cmd: RunInstances,
    ) -> Result<CreatedInstances, ApiError> {
        // CreateInstance's ClientTokens are its own: the same token on RunInstances is another
        // request.
        let action: &'static str = if cmd.stopped {
            "CreateInstance"
        } else {
            "RunInstances"
        };
        if !cmd.dry_run {
            if let Some(answer) = self.earlier_answer(caller, action, cmd.idempotency.as_ref())? {
                return Ok(answer);
            }
        }
        let instance_type = self
            .catalog
            .instance_type(&cmd.instance_type)
            .ok_or_else(|| INVALID_INSTANCE_TYPE.err())?
            .clone();
        let image = self
            .catalog
            .image(&cmd.image_id)
            .ok_or_else(|| INVALID_IMAGE_ID.err())?
            .clone();
        let zone_id = zone_in(self, &cmd.region, cmd.zone.as_deref())?;
        let now = self.now();
        let billed = billing(&cmd.billing, now, &RUN_BILLING_ROWS)?;
        crate::launch::check_deployment_set(&cmd.launch)?;
        let mut launch =
            crate::launch::settle(&cmd.launch, cmd.billing.charge_type, cmd.settings.clone())?;
        launch.credit_specification =
            crate::launch::credit_specification(&cmd.launch, &instance_type)?;
        let disks = crate::launch::plan_disks(
            &cmd.launch,
            &image,
            &cmd.region,
            cmd.billing.charge_type,
            now,
        )?;
        let (status, start_time) = if cmd.stopped {
            (InstanceStatus::Stopped, None)
        } else {
            (InstanceStatus::Running, Some(now))
        };
        let template = Instance {
            id: String::new(),
            account_id: caller.account_id,
            region_id: cmd.region.clone(),
            zone_id,
            name: cmd.name.clone(),
            description: cmd.description.clone(),
            instance_type: instance_type.id.clone(),
            cpu: instance_type.cpu,
            memory_mib: instance_type.memory_mib,
            image_id: cmd.image_id.clone(),
            charge_type: cmd.billing.charge_type,
            status,
            creation_time: now,
            start_time,
            auto_release_time: billed.auto_release_time,
            deletion_protection: cmd.deletion_protection,
            subscription: billed.subscription,
            locks: Vec::new(),
            tags: cmd.tags.clone(),
            security_group_ids: cmd.security_group_ids.clone(),
            vswitch_id: cmd.vswitch_id.clone(),
            dedicated_host_id: cmd.dedicated_host_id.clone(),
            stopped_charging: false,
            host_socket: None,
            network: Default::default(),
            launch,
        };
        if cmd.private_ip.is_some() && cmd.amount > 1 {
            return Err(crate::network::PRIVATE_IP_WITH_AMOUNT.err());
        }
        let zones = self
            .catalog
            .region(&cmd.region)
            .map(|r| r.zones.clone())
            .unwrap_or_default();
        let account = caller.account_id;
        let catalog = self.catalog.clone();
        self.write(caller, move |tx| {
            let mut template = template.clone();
            // An instance on a dedicated host is in the host's zone, and on one of its sockets.
            let mut sockets: Option<Vec<u32>> = None;
            if let Some(host) = &cmd.dedicated_host_id {
                match tx.host(account, host)? {
                    Some(h) if h.region_id == cmd.region => {
                        if cmd.zone.is_none() {
                            template.zone_id = h.zone_id.clone();
                        } else if template.zone_id != h.zone_id {
                            return Err(invalid_parameter("ZoneId").into());
                        }
                        let rows = if cmd.stopped {
                            &CREATE_HOST_ROWS
                        } else {
                            &RUN_HOST_ROWS
                        };
                        sockets = Some(place_on_host(
                            tx,
                            &catalog,
                            &h,
                            &instance_type,
                            cmd.amount,
                            rows,
                        )?);
                    }
                    _ => return Err(RUN_HOST_NOT_FOUND.err().into()),
                }
            }
            let placement = crate::network::place(
                account,
                &cmd.region,
                &zones,
                &template.zone_id,
                cmd.zone.is_some() || cmd.dedicated_host_id.is_some(),
                Some(cmd.vswitch_id.as_str()).filter(|v| !v.is_empty()),
            )?;
            template.zone_id = placement.zone_id.clone();
            template.vswitch_id = placement.vswitch_id.clone();
            template.security_group_ids = crate::network::security_groups(
                account,
                &placement.vpc_id,
                &cmd.security_group_ids,
            )?;
            if cmd.dry_run {
                return Err(DRY_RUN_OPERATION.err().into());
            }
            once_per_token(tx, account, action, cmd.idempotency.as_ref(), |tx| {
                let mut ids = Vec::with_capacity(cmd.amount as usize);
                for k in 0..cmd.amount {
                    let mut instance = template.clone();
                    instance.id = new_resource_id("i");
                    instance.host_socket = sockets.as_ref().map(|s| s[k as usize]);
                    let expand = |pattern: &str| {
                        ecs_domain::launch::expand_name(pattern, k, cmd.amount, cmd.unique_suffix)
                    };
                    instance.name = expand(&instance.name);
                    instance.launch.host_name = expand(&instance.launch.host_name);
                    instance.network = crate::network::assign(
                        tx,
                        account,
                        &placement,
                        cmd.private_ip,
                        cmd.settings.internet_max_bandwidth_out > 0,
                    )?;
                    if instance.name.is_empty() {
                        instance.name = instance.id.clone();
                    }
                    tx.put_instance(&instance)?;
                    // Its system disk and data disks, attached, in the instance's zone.
                    for planned in std::iter::once(&disks.system).chain(&disks.data) {
                        let mut disk = planned.clone();
                        disk.id = new_resource_id("d");
                        disk.account_id = instance.account_id;
                        disk.zone_id = instance.zone_id.clone();
                        disk.instance_id = Some(instance.id.clone());
                        tx.put_disk(&disk)?;
                    }
                    ids.push(instance.id);
                }
                Ok(CreatedInstances {
                    order_id: order_id(),
                    trade_price: 0.0,
                    instance_id_sets: InstanceIdSet {
                        instance_id_set: ids,
                    },
                })
            })
        })
        .await
    }

    /// The names of the caller's dedicated hosts among `ids` (for the answers that show an
    /// instance's host by name); a host that is gone has none.
    pub fn host_names(
        &self,
        caller: &Caller,
        mut ids: Vec<String>,
    ) -> Result<std::collections::HashMap<String, String>, ApiError> {
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let filter = ecs_store::HostFilter {
            account_id: caller.account_id,
            ids: Some(ids),
            ..Default::default()
        };
        let page = Page::Offset {
            offset: 0,
            limit: 100,
        };
        self.read(move |tx| {
            Ok(tx
                .list_hosts(&filter, page)?
                .items
                .into_iter()
                .map(|h| (h.id, h.name))
                .collect())
        })
    }

    /// The caller's instances matching `filter` (its account is the caller's, whatever the
    /// filter says), one page of them, with the total.
    pub fn list_instances(
        &self,
        caller: &Caller,
        mut filter: InstanceFilter,
        page: Page,
    ) -> Result<Listing<Instance>, ApiError> {
        filter.account_id = caller.account_id;
        self.read(move |tx| Ok(tx.list_instances(&filter, page)?))
    }
}
