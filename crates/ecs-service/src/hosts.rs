//! Commands and queries on dedicated hosts.

use ecs_domain::capacity::{Demand, Placed};
use ecs_domain::error::common::DRY_RUN_OPERATION;
use ecs_domain::model::{ChargeType, DedicatedHost, HostStatus};
use ecs_domain::{ApiError, ErrorCode};
use ecs_store::{
    HostFilter, InstanceFilter, Listing, NewEvent, Page, ResourceKind, StoreTx, TxResult,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::creating::{
    billing, new_resource_id, once_per_token, BillingRows, CreateBilling, Idempotency,
};
use crate::instances::{zone_in, ReleaseTimeRows, SetReleaseTime};
use crate::{Caller, Service};

pub const HOST_RELEASE_TIME_ROWS: ReleaseTimeRows = ReleaseTimeRows {
    not_found: ErrorCode::new(
        404,
        "NoSuchResource",
        "The specified resource is not found.",
    ),
    charge_type_violation: ErrorCode::new(
        403,
        "ChargeTypeViolation",
        "The operation is not permitted due to charge type of the dedicated host.",
    ),
    malformed: ErrorCode::new(
        400,
        "InvalidAutoReleaseTime.Malformed",
        "The specified parameter autoReleaseTime is not valid.",
    ),
};

pub const NOT_FOUND: ErrorCode = ErrorCode::new(
    404,
    "InvalidDedicatedHostId.NotFound",
    "The specified DedicatedHostId does not exist.",
);
pub const INSTANCE_EXIST: ErrorCode = ErrorCode::new(
    403,
    "InstanceExist",
    "Instance exists on the dedicated host.",
);
pub const RELEASE_CHARGE_TYPE_VIOLATION: ErrorCode = ErrorCode::new(
    400,
    "ChargeTypeViolation",
    "The operation is not permitted due to charge type of the dedicated host.",
);
pub const INVALID_HOST_TYPE: ErrorCode = ErrorCode::new(
    403,
    "InvalidDedicatedHostType.ValueNotSupported",
    "The specified DedicatedHostType is not supported.",
);
const ALLOCATE_BILLING_ROWS: BillingRows = BillingRows {
    malformed_release_time: ALLOCATE_MALFORMED_RELEASE_TIME,
    release_time_for_subscription: ErrorCode::new(
        400,
        "InvalidParameter.AutoReleaseTime",
        "AutoReleaseTime is only supported for PostPaid dedicated hosts.",
    ),
    invalid_auto_renew_period: ErrorCode::new(
        400,
        "InvalidAutoRenewPeriod.ValueNotSupported",
        "The specified autoRenewPeriod is not valid.",
    ),
    // AllocateDedicatedHosts documents 1, 2, 3, 6 and 12 months.
    auto_renew_months: &[1, 2, 3, 6, 12],
};
pub const ALLOCATE_MALFORMED_RELEASE_TIME: ErrorCode = ErrorCode::new(
    400,
    "InvalidAutoReleaseTime.Malformed",
    "The specified parameter AutoReleaseTime is not valid.",
);

/// Create dedicated hosts (AllocateDedicatedHosts).
#[derive(Debug, Clone)]
pub struct AllocateHosts {
    pub region: String,
    pub zone: Option<String>,
    pub host_type: String,
    pub quantity: u32,
    pub billing: CreateBilling,
    pub name: String,
    pub description: String,
    pub tags: Vec<(String, String)>,
    pub dry_run: bool,
    pub idempotency: Option<Idempotency>,
}

/// What AllocateDedicatedHosts answers, in its wire shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatedHosts {
    pub dedicated_host_id_sets: HostIdSet,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostIdSet {
    pub dedicated_host_id: Vec<String>,
}

/// Release an empty pay-as-you-go host now (ReleaseDedicatedHost).
#[derive(Debug, Clone)]
pub struct ReleaseHost {
    pub id: String,
    pub region: String,
}

/// A listed host with the instances placed on it.
pub type HostWithInstances = (DedicatedHost, Vec<Placed>);

/// The instances on a host, as its capacity counts them: every one not released, whatever
/// its state (a stopped instance keeps its place on the host).
pub(crate) fn placed_on(tx: &mut dyn StoreTx, host: &DedicatedHost) -> TxResult<Vec<Placed>> {
    let on_host = InstanceFilter {
        account_id: host.account_id,
        region_id: Some(host.region_id.clone()),
        host_id: Some(host.id.clone()),
        ..Default::default()
    };
    // More than a host of any built-in type can hold (one vCPU each).
    let everything = Page::Offset {
        offset: 0,
        limit: 10_000,
    };
    Ok(tx
        .list_instances(&on_host, everything)?
        .items
        .into_iter()
        .map(|i| Placed {
            demand: Demand {
                vcpus: i.cpu,
                memory_mib: i.memory_mib,
            },
            socket_id: i.host_socket,
            id: i.id,
            instance_type: i.instance_type,
        })
        .collect())
}

/// The checks of releasing a host now (ReleaseDedicatedHost), shared by the command and its
/// preview: pay-as-you-go only, and no instance on it.
pub(crate) fn check_host_release(tx: &mut dyn StoreTx, host: &DedicatedHost) -> TxResult<()> {
    if host.charge_type != ChargeType::PostPaid {
        return Err(RELEASE_CHARGE_TYPE_VIOLATION.err().into());
    }
    if tx.instances_on_host(host.account_id, &host.id)? > 0 {
        return Err(INSTANCE_EXIST.err().into());
    }
    Ok(())
}

impl Service {
    pub async fn allocate_hosts(
        &self,
        caller: &Caller,
        cmd: AllocateHosts,
    ) -> Result<CreatedHosts, ApiError> {
        self.settled(caller, self.allocate_hosts_unsettled(caller, cmd))
            .await
    }

    pub async fn set_host_release_time(
        &self,
        caller: &Caller,
        cmd: SetReleaseTime,
    ) -> Result<(), ApiError> {
        self.set_release_time::<DedicatedHost>(caller, cmd, &HOST_RELEASE_TIME_ROWS)
            .await
    }

    async fn allocate_hosts_unsettled(
        &self,
        caller: &Caller,
        cmd: AllocateHosts,
    ) -> Result<CreatedHosts, ApiError> {
        const ACTION: &str = "AllocateDedicatedHosts";
        if !cmd.dry_run {
            if let Some(answer) = self.earlier_answer(caller, ACTION, cmd.idempotency.as_ref())? {
                return Ok(answer);
            }
        }
        let host_type = self
            .catalog
            .host_type(&cmd.host_type)
            .ok_or_else(|| INVALID_HOST_TYPE.err())?
            .clone();
        let zone_id = zone_in(self, &cmd.region, cmd.zone.as_deref())?;
        let now = self.now();
        let billed = billing(&cmd.billing, now, &ALLOCATE_BILLING_ROWS)?;
        if cmd.dry_run {
            return Err(DRY_RUN_OPERATION.err());
        }
        let template = DedicatedHost {
            id: String::new(),
            account_id: caller.account_id,
            region_id: cmd.region.clone(),
            zone_id,
            name: cmd.name.clone(),
            description: cmd.description.clone(),
            host_type: host_type.id,
            charge_type: cmd.billing.charge_type,
            status: HostStatus::Available,
            creation_time: now,
            auto_release_time: billed.auto_release_time,
            subscription: billed.subscription,
            locks: Vec::new(),
            tags: cmd.tags.clone(),
        };
        let account = caller.account_id;
        self.write(caller, move |tx| {
            once_per_token(tx, account, ACTION, cmd.idempotency.as_ref(), |tx| {
                let mut ids = Vec::with_capacity(cmd.quantity as usize);
                for _ in 0..cmd.quantity {
                    let mut host = template.clone();
                    host.id = new_resource_id("dh");
                    tx.put_host(&host)?;
                    ids.push(host.id);
                }
                Ok(CreatedHosts {
                    dedicated_host_id_sets: HostIdSet {
                        dedicated_host_id: ids,
                    },
                })
            })
        })
        .await
    }

    pub async fn release_host(&self, caller: &Caller, cmd: ReleaseHost) -> Result<(), ApiError> {
        const ACTION: &str = "ReleaseDedicatedHost";
        let (account, now) = (caller.account_id, self.now());
        self.write(caller, move |tx| {
            let host = match tx.host(account, &cmd.id)? {
                Some(h) if h.region_id == cmd.region => h,
                _ => return Err(NOT_FOUND.err().into()),
            };
            check_host_release(tx, &host)?;
            tx.delete_host(account, &cmd.id)?;
            tx.append_event(&NewEvent {
                account_id: account,
                resource: ResourceKind::DedicatedHost,
                resource_id: cmd.id.clone(),
                action: ACTION.into(),
                scheduled_at: None,
                happened_at: now,
                outcome: "released".into(),
                detail: json!({}),
            })?;
            Ok(())
        })
        .await
    }

    /// The caller's hosts matching `filter`, one page, each with the instances placed on it.
    pub fn list_hosts(
        &self,
        caller: &Caller,
        mut filter: HostFilter,
        page: Page,
    ) -> Result<Listing<HostWithInstances>, ApiError> {
        filter.account_id = caller.account_id;
        self.read(move |tx| {
            let listing = tx.list_hosts(&filter, page)?;
            let mut items = Vec::with_capacity(listing.items.len());
            for host in listing.items {
                let placed = placed_on(tx, &host)?;
                items.push((host, placed));
            }
            Ok(Listing {
                items,
                total: listing.total,
                next_after: listing.next_after,
            })
        })
    }
}
