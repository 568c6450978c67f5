//! DeleteInstances: release up to 100 instances now, all or none.

use ecs_domain::error::common::invalid_parameter;
use ecs_domain::ErrorCode;

use super::common::{
    client_token, empty, find_instance, fingerprint, once_per_token, region, release_instance,
};
use super::delete_instance::{check, NOT_FOUND};
use super::{OpCtx, OpResult, Operation};

/// This operation's name, also written into the events it records.
const ACTION: &str = "DeleteInstances";

pub const OP: Operation = Operation {
    name: ACTION,
    run: |ctx| super::fields(run(ctx)),
};

const MAX_IDS: usize = 100;

const MISSING_INSTANCE_ID: ErrorCode = ErrorCode::new(
    400,
    "MissingParameter",
    "The input parameter \"InstanceId\" that is mandatory for processing this request is not supplied.",
);
/// DryRun answer of this operation (its SDK model names this code, unlike DeleteInstance's).
const DRY_RUN_SUCCESS: ErrorCode = ErrorCode::new(
    400,
    "DRYRUN.SUCCESS",
    "This request is a dryrun request with successful result.",
);

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let region = region(ctx)?;
    let mut ids = ctx.params.repeat_list("InstanceId");
    ids.retain(|id| !id.is_empty());
    if ids.is_empty() {
        return Err(MISSING_INSTANCE_ID.err());
    }
    if ids.len() > MAX_IDS {
        return Err(invalid_parameter("InstanceId"));
    }
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    let force = ctx.params.bool("Force")?.unwrap_or(false);
    // Accepted for compatibility (a released instance needs no stopping), but still a boolean.
    ctx.params.bool("ForceStop")?;
    let terminate = ctx.params.bool("TerminateSubscription")?.unwrap_or(false);
    let dry = ctx.params.bool("DryRun")?.unwrap_or(false);
    let token = client_token(ctx)?;
    let fingerprint = fingerprint(ctx);
    let (account, now) = (ctx.account_id, ctx.now);
    ctx.write_async(move |tx| {
        once_per_token(tx, account, ACTION, token.as_deref(), &fingerprint, |tx| {
            let mut instances = Vec::with_capacity(ids.len());
            for id in &ids {
                let instance = find_instance(tx, account, Some(&region), id, NOT_FOUND)?;
                check(&instance, force, terminate)?;
                instances.push(instance);
            }
            if dry {
                return Err(DRY_RUN_SUCCESS.err().into());
            }
            for instance in &instances {
                release_instance(tx, instance, ACTION, None, now)?;
            }
            Ok(empty())
        })
    })
    .await?;
    Ok(empty())
}
