//! ModifyInstanceAttribute: name, description, release protection and (for a burstable
//! instance) the performance mode of an instance.
//!
//! ECS takes more attributes here (a password, a host name, user data, security groups, CPU
//! options, ...). ecsd keeps none of them, so a call that sets one is refused with
//! `UnsupportedParameter` rather than answered with a success that changed nothing.

use ecs_domain::error::common::UNSUPPORTED_PARAMETER;
use ecs_domain::names::{description_ok, renamed_instance_name_ok};
use ecs_domain::ApiError;
use ecs_service::instances::ModifyInstance;

use super::common::{empty, optional_region, required};
// ECS's ModifyInstanceAttribute table repeats the creating calls' rows for these two.
use super::creating::{credit_specification, INVALID_DESCRIPTION, INVALID_INSTANCE_NAME};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "ModifyInstanceAttribute",
    run: |ctx| super::fields(run(ctx)),
};

/// The attributes of ECS's ModifyInstanceAttribute that ecsd does not carry. List and struct
/// parameters count under their own name and as a prefix (`SecurityGroupIds.1`,
/// `CpuOptions.Core`, ...).
const UNSUPPORTED: &[&str] = &[
    "Password",
    "HostName",
    "UserData",
    "Recyclable",
    "NetworkInterfaceQueueNumber",
    "EnableJumboFrame",
    "EnableNetworkEncryption",
    "SecurityGroupIds",
    "CpuOptions",
    "PrivateDnsNameOptions",
    "RemoteConnectionOptions",
];

fn is_unsupported(name: &str) -> bool {
    UNSUPPORTED.iter().any(|u| {
        name.strip_prefix(u)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
    })
}

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    if ctx
        .params
        .iter()
        .any(|(name, value)| !value.is_empty() && is_unsupported(name))
    {
        return Err(UNSUPPORTED_PARAMETER.err());
    }
    let cmd = ModifyInstance {
        id: required(ctx, "InstanceId")?.to_string(),
        region: optional_region(ctx)?,
        deletion_protection: ctx.params.bool("DeletionProtection")?,
        name: new_name(ctx)?,
        description: new_description(ctx)?,
        credit_specification: credit_specification(ctx)?,
    };
    ctx.service.modify_instance(&ctx.caller, cmd).await?;
    Ok(empty())
}

/// The new `InstanceName`, by this operation's rule (it must also start with a letter); absent
/// or empty leaves the name alone.
fn new_name(ctx: &OpCtx) -> Result<Option<String>, ApiError> {
    match ctx.params.non_empty("InstanceName") {
        None => Ok(None),
        Some(name) if renamed_instance_name_ok(name) => Ok(Some(name.to_string())),
        Some(_) => Err(INVALID_INSTANCE_NAME.err()),
    }
}

/// The new `Description`; sent empty, it clears the description.
fn new_description(ctx: &OpCtx) -> Result<Option<String>, ApiError> {
    match ctx.params.get("Description") {
        Some(d) if !d.is_empty() && !description_ok(d) => Err(INVALID_DESCRIPTION.err()),
        other => Ok(other.map(str::to_string)),
    }
}
