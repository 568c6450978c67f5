//! ModifyInstanceAttribute: name, description and release protection of an instance.

use ecs_service::instances::ModifyInstance;

use super::common::{empty, optional_region, required};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "ModifyInstanceAttribute",
    run: |ctx| super::fields(run(ctx)),
};

async fn run(ctx: &OpCtx<'_>) -> OpResult {
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
