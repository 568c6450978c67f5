//! A store that fails on purpose: a call whose transaction the storage cannot commit is
//! answered 500 `InternalError` in ECS's envelope (RequestId, HostId, Code, Message,
//! Recommend), in JSON and XML, and changes nothing.

mod common;

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::http::StatusCode;
use common::{Fmt, TestServer};
use ecs_domain::model::InstanceStatus;
use ecs_store::testsuite::sample_instance;
use ecs_store::{Store, StoreError, TxError, TxFn, TxResult};

/// The SQLite store, with writes that fail (as a full or broken disk would) while `failing`.
struct FailingWrites {
    inner: Arc<dyn Store>,
    failing: Arc<AtomicBool>,
}

impl Store for FailingWrites {
    fn write_boxed(&self, f: TxFn) -> TxResult<Box<dyn Any + Send>> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(TxError::Store(StoreError::Backend(
                "disk I/O error (deliberate)".into(),
            )));
        }
        self.inner.write_boxed(f)
    }
    // submit_write: the trait's default, which goes through write_boxed above.
    fn read_boxed(&self, f: TxFn) -> TxResult<Box<dyn Any + Send>> {
        self.inner.read_boxed(f)
    }
    fn engine(&self) -> &'static str {
        "failing-writes"
    }
}

const MESSAGE: &str =
    "The request processing has failed due to some unknown error, exception or failure.";

#[tokio::test]
async fn a_write_the_store_cannot_commit_is_a_500_internal_error_envelope_and_changes_nothing() {
    let failing = Arc::new(AtomicBool::new(false));
    let flag = failing.clone();
    let server = TestServer::with_store("internal-error", move |inner| {
        Arc::new(FailingWrites {
            inner,
            failing: flag,
        })
    });
    let mut i = sample_instance(server.account, "i-a");
    i.status = InstanceStatus::Running;
    i.deletion_protection = false;
    server.put_instance(i);
    failing.store(true, Ordering::SeqCst);

    let params = [("InstanceId", "i-a"), ("DeletionProtection", "true")];
    let json = server
        .call("ModifyInstanceAttribute", &params, Fmt::Json)
        .await;
    assert_eq!(
        json.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        json.body
    );
    let body = json.json();
    assert_eq!(body["Code"], "InternalError", "{body}");
    assert_eq!(body["Message"], MESSAGE, "{body}");
    assert_eq!(body["HostId"], common::HOST, "{body}");
    assert!(body["Recommend"].is_string(), "{body}");
    let request_id = body["RequestId"].as_str().unwrap_or_default();
    assert_eq!(request_id.len(), 36, "a UUID RequestId: {body}");

    let xml = server
        .call("ModifyInstanceAttribute", &params, Fmt::Xml)
        .await;
    assert_eq!(
        xml.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        xml.body
    );
    for part in [
        "<Error>",
        "<Code>InternalError</Code>",
        &format!("<Message>{MESSAGE}</Message>"),
        "<RequestId>",
        &format!("<HostId>{}</HostId>", common::HOST),
        "<Recommend>",
    ] {
        assert!(xml.body.contains(part), "no {part} in {}", xml.body);
    }

    assert!(
        !server.instance("i-a").unwrap().deletion_protection,
        "a write that failed changed the instance"
    );
    // Reads do not go through the failing path: the same server still answers them.
    let read = server
        .call(
            "DescribeInstances",
            &[("RegionId", "cn-hangzhou")],
            Fmt::Json,
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
}
