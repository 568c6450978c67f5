//! The API operations: one file each. An operation reads its parameters, asks the domain rules,
//! reads and writes through one store transaction, and returns its answer's fields. Its error
//! rows are `const`s at the top of its file.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ecs_domain::ApiError;
use ecs_wire::Params;
use serde_json::Value;

use crate::app::App;

mod common;
mod views;

mod allocate_dedicated_hosts;
mod delete_instance;
mod delete_instances;
mod describe_dedicated_hosts;
mod describe_instance_auto_renew_attribute;
mod describe_instances;
mod describe_regions;
mod modify_dedicated_host_auto_release_time;
mod modify_instance_attribute;
mod modify_instance_auto_release_time;
mod modify_instance_auto_renew_attribute;
mod release_dedicated_host;
mod run_instances;
mod start_instance;
mod stop_instance;

pub use common::release_instance;

/// What an operation sees of the call.
pub struct OpCtx<'a> {
    pub app: &'a Arc<App>,
    /// The caller's account; resources of other accounts do not exist for it.
    pub account_id: i64,
    /// The server clock when the call arrived.
    pub now: DateTime<Utc>,
    pub params: &'a Params,
}

/// An operation's answer: the fields beside `RequestId`.
pub type OpResult = Result<serde_json::Map<String, Value>, ApiError>;

/// A running operation. Reads finish without waiting; writes wait for their commit.
pub type OpFuture<'a> = Pin<Box<dyn Future<Output = OpResult> + Send + 'a>>;

pub struct Operation {
    pub name: &'static str,
    pub run: for<'a> fn(&'a OpCtx<'a>) -> OpFuture<'a>,
}

/// Every operation ecsd answers.
pub const OPERATIONS: &[Operation] = &[
    modify_instance_auto_release_time::OP,
    modify_dedicated_host_auto_release_time::OP,
    modify_instance_auto_renew_attribute::OP,
    describe_instance_auto_renew_attribute::OP,
    run_instances::OP,
    describe_instances::OP,
    delete_instance::OP,
    delete_instances::OP,
    modify_instance_attribute::OP,
    stop_instance::OP,
    start_instance::OP,
    allocate_dedicated_hosts::OP,
    describe_dedicated_hosts::OP,
    release_dedicated_host::OP,
    describe_regions::OP,
];

pub fn find(action: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|op| op.name == action)
}
