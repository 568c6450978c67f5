//! ModifyInstanceAttribute: name, description and release protection of an instance.
//!
//! ECS takes more attributes here (a password, a host name, user data, security groups, CPU
//! options, ...). ecsd keeps none of them, so a call that sets one is refused with
//! `UnsupportedParameter` rather than answered with a success that changed nothing.

use ecs_domain::error::common::UNSUPPORTED_PARAMETER;
use ecs_service::instances::ModifyInstance;

use super::common::{empty, optional_region, required};
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
    "CreditSpecification",
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
        name: ctx.params.non_empty("InstanceName").map(str::to_string),
        description: ctx.params.get("Description").map(str::to_string),
    };
    ctx.service.modify_instance(&ctx.caller, cmd).await?;
    Ok(empty())
}
