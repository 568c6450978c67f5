//! What the in-process tests of ecsd share: a server (the real router over a fresh SQLite
//! store, a virtual clock fixed at [`NOW`], one account with one access key), a V1 request
//! signer written for the tests (independent of ecs-wire's own), and the seeded resources.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use base64::Engine as _;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use ecs_domain::catalog::Catalog;
use ecs_domain::model::{AccessKey, DedicatedHost, Instance};
use ecs_service::clock::{store_time, VIRTUAL_NOW_SETTING};
use ecs_service::{LifecycleClock, Service};
use ecs_store::sqlite::SqliteStore;
use ecs_store::{Store, StoreExt};
use ecsd::app::App;
use hmac::{Hmac, Mac};
use http_body_util::BodyExt;
use tower::ServiceExt;

pub const KEY_ID: &str = "LTAIsnapshottests";
pub const KEY_SECRET: &str = "snapshot-secret";
/// The Host every request is sent to (and the HostId of every error).
pub const HOST: &str = "ecs.cn-hangzhou.aliyuncs.com";

/// The lifecycle time every test server starts at.
pub fn now() -> DateTime<Utc> {
    at("2029-12-31T00:00:00Z")
}

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("an RFC 3339 time")
        .with_timezone(&Utc)
}

/// A request time as the API takes it: `yyyy-MM-ddTHH:mm:ssZ`.
pub fn wire_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// [`now`] plus `d`, as the API takes a time.
pub fn from_now(d: Duration) -> String {
    wire_time(now() + d)
}

/// A temporary directory removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        // Memory-backed when the machine has it: every write is fsynced.
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            std::path::PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!(
            "ecsd-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The response format a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fmt {
    Json,
    Xml,
}

impl Fmt {
    pub fn param(self) -> &'static str {
        match self {
            Fmt::Json => "JSON",
            Fmt::Xml => "XML",
        }
    }
}

/// One answer: the HTTP status, the Content-Type and the body text.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// ecsd's router over a fresh store, in-process.
pub struct TestServer {
    pub store: Arc<dyn Store>,
    pub service: Arc<Service>,
    pub app: Arc<App>,
    pub router: Router,
    pub account: i64,
    nonces: AtomicU64,
    _dir: TempDir,
}

impl TestServer {
    pub fn new(label: &str) -> TestServer {
        Self::with_store(label, |store| store)
    }

    /// A server whose service runs over `wrap(store)` (a store that fails on purpose, say);
    /// `TestServer::store` stays the plain SQLite store, for seeding and checking.
    pub fn with_store(
        label: &str,
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
    ) -> TestServer {
        let dir = TempDir::new(label);
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.0.join("ecsd.sqlite3")).expect("open the store"));
        let start = now();
        let account = store
            .write(move |tx| {
                store_time(tx, VIRTUAL_NOW_SETTING, start)?;
                let account = tx.create_account("snapshots")?;
                tx.put_access_key(&AccessKey {
                    id: KEY_ID.into(),
                    secret: KEY_SECRET.into(),
                    account_id: account.id,
                })?;
                Ok(account.id)
            })
            .expect("seed the account");
        let served = wrap(store.clone());
        let clock = LifecycleClock::open_virtual(served.clone()).expect("open the virtual clock");
        let service = Arc::new(Service::new(
            served,
            clock,
            Catalog::builtin(),
            Duration::days(15),
        ));
        let app = Arc::new(App::new(service.clone(), None));
        let router = ecsd::server::router(app.clone());
        TestServer {
            store,
            service,
            app,
            router,
            account,
            nonces: AtomicU64::new(0),
            _dir: dir,
        }
    }

    /// A nonce no other request of this process has used.
    pub fn nonce(&self) -> String {
        format!(
            "nonce-{}-{}",
            std::process::id(),
            self.nonces.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A signed V1 GET of `action` with `params` (in any order, names may repeat), stamped now.
    pub async fn call_pairs(&self, action: &str, params: &[(String, String)], fmt: Fmt) -> Reply {
        let mut all: Vec<(String, String)> = params.to_vec();
        for (k, v) in [
            ("AccessKeyId", KEY_ID),
            ("Action", action),
            ("Version", "2014-05-26"),
            ("Format", fmt.param()),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
        ] {
            all.push((k.to_string(), v.to_string()));
        }
        all.push(("SignatureNonce".into(), self.nonce()));
        all.push((
            "Timestamp".into(),
            Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ));
        let query = sign_v1_query("GET", &all, KEY_SECRET);
        self.send(
            Request::get(format!("/?{query}"))
                .header("host", HOST)
                .body(Body::empty())
                .expect("a request"),
        )
        .await
    }

    /// [`TestServer::call_pairs`] with `&str` pairs.
    pub async fn call(&self, action: &str, params: &[(&str, &str)], fmt: Fmt) -> Reply {
        let owned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.call_pairs(action, &owned, fmt).await
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("read the body")
            .to_bytes();
        Reply {
            status,
            content_type,
            body: String::from_utf8(bytes.to_vec()).expect("a UTF-8 body"),
        }
    }

    pub fn put_instance(&self, instance: Instance) {
        self.store
            .write(move |tx| Ok(tx.put_instance(&instance)?))
            .expect("put an instance");
    }

    pub fn put_host(&self, host: DedicatedHost) {
        self.store
            .write(move |tx| Ok(tx.put_host(&host)?))
            .expect("put a host");
    }

    pub fn instance(&self, id: &str) -> Option<Instance> {
        let (account, id) = (self.account, id.to_string());
        self.store
            .read(move |tx| Ok(tx.instance(account, &id)?))
            .expect("read an instance")
    }

    pub fn host(&self, id: &str) -> Option<DedicatedHost> {
        let (account, id) = (self.account, id.to_string());
        self.store
            .read(move |tx| Ok(tx.host(account, &id)?))
            .expect("read a host")
    }
}

// ---------------------------------------------------------------------------------------------
// The test's own V1 signer (Alibaba Cloud RPC signature, HMAC-SHA1), written from the
// documented algorithm rather than borrowed from the server.

/// RFC 3986 percent-encoding as the RPC signature wants it: only `A-Z a-z 0-9 - _ . ~` stay,
/// every other byte of the UTF-8 text becomes `%XX` in upper-case hex.
pub fn pct(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The signed query string: the pairs sorted by name as sent (byte order, as the SDKs sort
/// before encoding; stable, so repeated names keep their order), encoded, joined, then
/// `Signature` appended.
pub fn sign_v1_query(method: &str, pairs: &[(String, String)], secret: &str) -> String {
    let mut sorted: Vec<&(String, String)> = pairs.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let canonical = sorted
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&");
    let to_sign = format!("{method}&{}&{}", pct("/"), pct(&canonical));
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes())
        .expect("any key length");
    mac.update(to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("{canonical}&Signature={}", pct(&signature))
}
