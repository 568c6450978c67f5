//! RunInstances: create and start pay-as-you-go or subscription instances. They are Running
//! when the call answers.

use super::common::fields_of;
use super::creating::{create_command, CreateForm};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "RunInstances",
    run: |ctx| super::fields(run(ctx)),
};

/// Up to 100 instances (`Amount`), numbered names (`UniqueSuffix`, `[begin,bits]`), several
/// security groups (`SecurityGroupIds.N`); started at once.
const FORM: CreateForm = CreateForm {
    several: true,
    stopped: false,
};

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let cmd = create_command(ctx, &FORM)?;
    let created = ctx.service.run_instances(&ctx.caller, cmd).await?;
    Ok(fields_of(&created))
}
