//! The API operations: one file each. An operation only translates: it reads its parameters
//! into a typed command, has the service carry it out, and renders the result as its answer's
//! fields. The rules, and the error rows they answer with, are the service's; an operation's
//! own rows (how ECS words a missing or malformed parameter of this call) are `const`s at the
//! top of its file.

use std::future::Future;
use std::pin::Pin;

use ecs_domain::ApiError;
use ecs_service::{Caller, Service};
use ecs_wire::Params;
use serde::Serialize;
use serde_json::Value;

mod common;
mod creating;
mod views;

mod allocate_dedicated_hosts;
mod create_instance;
mod delete_instance;
mod delete_instances;
mod describe_dedicated_hosts;
mod describe_disks;
mod describe_images;
mod describe_instance_attribute;
mod describe_instance_auto_renew_attribute;
mod describe_instance_status;
mod describe_instance_types;
mod describe_instances;
mod describe_regions;
mod describe_user_data;
mod describe_zones;
mod modify_dedicated_host_auto_release_time;
mod modify_instance_attribute;
mod modify_instance_auto_release_time;
mod modify_instance_auto_renew_attribute;
mod modify_instance_charge_type;
mod reboot_instance;
mod release_dedicated_host;
mod renew_instance;
mod run_instances;
mod start_instance;
mod stop_instance;

/// What an operation sees of the call.
pub struct OpCtx<'a> {
    pub service: &'a Service,
    /// The caller: its account (resources of other accounts do not exist for it) and the
    /// signed request, whose nonce the service records with the operation's writes.
    pub caller: Caller,
    pub params: &'a Params,
}

/// What most operations answer: the fields beside `RequestId`.
pub type OpResult = Result<serde_json::Map<String, Value>, ApiError>;

/// An operation's answer.
pub enum Answer {
    /// Fields built as JSON values (most operations: small answers).
    Fields(serde_json::Map<String, Value>),
    /// A typed body serialized straight into the response (large, frequent answers).
    Typed(Box<dyn TypedAnswer>),
}

/// A body that renders itself: as JSON text with `RequestId` first, or as JSON values (for
/// XML, and for anyone who wants to look inside).
pub trait TypedAnswer: Send {
    fn to_json(&self, request_id: &str) -> Result<String, serde_json::Error>;
    fn to_fields(&self) -> Result<serde_json::Map<String, Value>, serde_json::Error>;
}

impl<T: Serialize + Send> TypedAnswer for T {
    fn to_json(&self, request_id: &str) -> Result<String, serde_json::Error> {
        #[derive(Serialize)]
        struct WithRequestId<'a, T> {
            #[serde(rename = "RequestId")]
            request_id: &'a str,
            #[serde(flatten)]
            body: &'a T,
        }
        serde_json::to_string(&WithRequestId {
            request_id,
            body: self,
        })
    }

    fn to_fields(&self) -> Result<serde_json::Map<String, Value>, serde_json::Error> {
        match serde_json::to_value(self)? {
            Value::Object(fields) => Ok(fields),
            other => Err(serde::ser::Error::custom(format!(
                "an answer must be an object, not {other}"
            ))),
        }
    }
}

/// A running operation. Reads finish without waiting; writes wait for their commit.
pub type OpFuture<'a> = Pin<Box<dyn Future<Output = Result<Answer, ApiError>> + Send + 'a>>;

/// The future of an operation that answers with JSON fields.
pub fn fields<'a>(run: impl Future<Output = OpResult> + Send + 'a) -> OpFuture<'a> {
    Box::pin(async move { run.await.map(Answer::Fields) })
}

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
    describe_zones::OP,
    describe_instance_types::OP,
    describe_images::OP,
    reboot_instance::OP,
    describe_instance_status::OP,
    describe_instance_attribute::OP,
    renew_instance::OP,
    modify_instance_charge_type::OP,
    create_instance::OP,
    describe_user_data::OP,
    describe_disks::OP,
];

pub fn find(action: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|op| op.name == action)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every request parameter the official SDK models document for the listing calls (as
    /// extracted into `tests/data/request_fields.txt`) is one the operation handles: it filters,
    /// pages, or is checked and refused when malformed. None is silently dropped.
    #[test]
    fn listing_calls_handle_every_documented_parameter() {
        let documented = include_str!("../../tests/data/request_fields.txt");
        let mut seen = 0;
        for line in documented.lines().filter(|l| !l.starts_with('#')) {
            let (op, name) = line.split_once(' ').expect("`Operation Parameter` lines");
            let handled = match op {
                "DescribeInstances" => describe_instances::PARAMETERS,
                "DescribeDedicatedHosts" => describe_dedicated_hosts::PARAMETERS,
                other => panic!("no parameter list for {other}"),
            };
            assert!(handled.contains(&name), "{op} drops {name}");
            seen += 1;
        }
        assert!(seen > 60, "only {seen} documented parameters read");
    }

    #[derive(Serialize)]
    struct Body {
        #[serde(rename = "TotalCount")]
        total: u32,
        #[serde(rename = "Items")]
        items: Vec<&'static str>,
    }

    #[test]
    fn typed_answers_render_request_id_first_and_the_same_fields_both_ways() {
        let body = Body {
            total: 2,
            items: vec!["a", "b"],
        };
        let json = body.to_json("REQ-1").unwrap();
        assert!(json.starts_with(r#"{"RequestId":"REQ-1","#), "{json}");
        let parsed: Value = serde_json::from_str(&json).unwrap();
        let mut fields = body.to_fields().unwrap();
        fields.insert("RequestId".into(), Value::from("REQ-1"));
        assert_eq!(parsed, Value::Object(fields));
    }
}
