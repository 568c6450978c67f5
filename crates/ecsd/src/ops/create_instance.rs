//! CreateInstance: the older single-instance create. The instance is `Stopped` until
//! StartInstance; from then on it goes through the same lifecycle as one RunInstances made.

use serde_json::json;

use super::common::object;
use super::creating::{create_command, CreateForm};
use super::{OpCtx, OpResult, Operation};

pub const OP: Operation = Operation {
    name: "CreateInstance",
    run: |ctx| super::fields(run(ctx)),
};

/// One instance with one security group, left `Stopped`.
const FORM: CreateForm = CreateForm {
    several: false,
    stopped: true,
};

async fn run(ctx: &OpCtx<'_>) -> OpResult {
    let cmd = create_command(ctx, &FORM)?;
    let created = ctx.service.run_instances(&ctx.caller, cmd).await?;
    let id = created
        .instance_id_sets
        .instance_id_set
        .first()
        .cloned()
        .unwrap_or_default();
    Ok(object(json!({
        "InstanceId": id,
        "OrderId": created.order_id,
        "TradePrice": created.trade_price,
    })))
}
