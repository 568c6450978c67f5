//! The API operations: one file each. An operation reads its parameters, asks the domain rules,
//! reads and writes through one store transaction, and returns its answer's fields. Its error
//! rows are `const`s at the top of its file.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ecs_domain::ApiError;
use ecs_store::{StoreTx, TxResult};
use ecs_wire::Params;
use serde::Serialize;
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
    /// The request's signature nonce, recorded with the operation's writes.
    pub nonce: RequestNonce<'a>,
}

/// A signed request's nonce and when (by the real clock) it arrived.
#[derive(Debug, Clone, Copy)]
pub struct RequestNonce<'a> {
    pub key_id: &'a str,
    pub nonce: &'a str,
    pub seen_at: DateTime<Utc>,
}

impl OpCtx<'_> {
    /// Runs the operation's write transaction (see [`App::write_async`]) and records the
    /// request's nonce in it, so the write and the proof that this request was carried out
    /// commit together: after a restart the nonce is loaded again and a replay of the request
    /// is still refused. A write that fails records nothing.
    pub async fn write_async<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn StoreTx) -> TxResult<T> + Send + 'static,
    {
        let RequestNonce {
            key_id,
            nonce,
            seen_at,
        } = self.nonce;
        let (key_id, nonce) = (key_id.to_owned(), nonce.to_owned());
        self.app
            .write_async(move |tx| {
                let out = f(tx)?;
                tx.record_nonce(&key_id, &nonce, seen_at)?;
                Ok(out)
            })
            .await
    }
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
];

pub fn find(action: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|op| op.name == action)
}

#[cfg(test)]
mod tests {
    use super::*;

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
