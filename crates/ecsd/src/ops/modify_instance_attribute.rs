//! ModifyInstanceAttribute: name, description and release protection of an instance.

use super::common::{empty, find_instance, optional_region, required};
use super::delete_instance::NOT_FOUND;
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "ModifyInstanceAttribute",
    run: |ctx| super::fields(run(ctx)),
};

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let id = required(ctx, "InstanceId")?.to_string();
    let region = optional_region(ctx)?;
    let protection = ctx.params.bool("DeletionProtection")?;
    let name = ctx.params.non_empty("InstanceName").map(str::to_string);
    let description = ctx.params.get("Description").map(str::to_string);
    let account = ctx.account_id;
    ctx.write_async(move |tx| {
        let mut instance = find_instance(tx, account, region.as_deref(), &id, NOT_FOUND)?;
        if let Some(p) = protection {
            instance.deletion_protection = p;
        }
        if let Some(n) = name {
            instance.name = n;
        }
        if let Some(d) = description {
            instance.description = d;
        }
        tx.put_instance(&instance)?;
        Ok(())
    })
    .await?;
    Ok(empty())
}
