//! ecsd's service: typed commands and queries over the store, the one place where the
//! lifecycle rules are enforced. Every door calls it: the RPC operations (parse → command →
//! render), the scheduler (claim → carry out), the console and the CLI.
//!
//! ```text
//!   wire (ecs-wire) → operations (ecsd::ops) ─┐
//!   console, CLI, admin API ──────────────────┼→ service (this crate) → store (ecs-store)
//!   scheduler (ecs-scheduler) ────────────────┘        └→ domain rules (ecs-domain)
//! ```
//!
//! A command takes the caller (its account, and the signed request it came in, if any), the
//! region and typed ids and values, and returns a typed result or an [`ApiError`]: the ECS
//! code, HTTP status and message as data. The error rows a command can answer are `const`s in
//! its module. Each command is one store transaction; a refused command changes nothing.
//!
//! What a process keeps for itself, and why that is safe, is in [`state`].

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ecs_domain::catalog::Catalog;
use ecs_domain::error::common::{INTERNAL_ERROR, SERVICE_UNAVAILABLE};
use ecs_domain::model::AccessKey;
use ecs_domain::ApiError;
use ecs_store::{Store, StoreExt, StoreTx, TxError, TxResult};

pub mod admin;
pub mod charging;
pub mod clock;
pub mod console;
mod creating;
pub mod disks;
pub mod hosts;
pub mod instances;
pub mod launch;
pub mod lifecycle;
pub mod network;
pub mod power;
mod resource;
pub mod state;

pub use clock::{ClockMode, LifecycleClock};
pub use creating::{CreateBilling, Idempotency};
pub use ecs_store::{DataField, FieldMatch, HostFilter, InstanceFilter, Listing, Page, TimeRange};
pub use lifecycle::ActionRecord;

/// The leader role of the upkeep one process does for all (see [`Service::upkeep_if_leading`]).
pub const UPKEEP_ROLE: &str = "upkeep";

/// Who asks. Resources of other accounts do not exist for a caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account_id: i64,
    /// The signed request the command came in, whose nonce is recorded with what it does;
    /// `None` for doors without signatures (console, CLI, scheduler).
    pub request: Option<RequestNonce>,
}

impl Caller {
    /// A caller with no signed request (the console, tests).
    pub fn account(account_id: i64) -> Self {
        Self {
            account_id,
            request: None,
        }
    }
}

/// A signed request's nonce, and when (by the real clock) it arrived.
#[derive(Debug, Clone)]
pub struct RequestNonce {
    pub key_id: String,
    pub nonce: String,
    pub seen_at: DateTime<Utc>,
    /// Set once the nonce is durably recorded, so a request is recorded once however many
    /// layers see it refused.
    recorded: Arc<AtomicBool>,
}

impl RequestNonce {
    pub fn new(key_id: String, nonce: String, seen_at: DateTime<Utc>) -> Self {
        Self {
            key_id,
            nonce,
            seen_at,
            recorded: Arc::default(),
        }
    }
}

/// How stored access-key secrets are opened. The store keeps them sealed (see ecsd's
/// `secrets`); the service opens a key when it is looked up, and treats one that does not open
/// as unknown.
pub trait KeySecrets: Send + Sync {
    /// The key with its secret usable for signature checks, or `None`.
    fn open(&self, key: AccessKey) -> Option<AccessKey>;
}

/// Secrets stored as they are (tests, tools that seal nothing).
pub struct PlainSecrets;

impl KeySecrets for PlainSecrets {
    fn open(&self, key: AccessKey) -> Option<AccessKey> {
        Some(key)
    }
}

pub struct Service {
    store: Arc<dyn Store>,
    secrets: Arc<dyn KeySecrets>,
    clock: LifecycleClock,
    catalog: Arc<Catalog>,
    /// How long an expired, unpaid subscription is kept before release.
    expiry_grace: Duration,
    keys: state::KeyCache,
    nonces: state::NonceCache,
    /// Whether other processes serve the same store: then a nonce is new only if the store
    /// says so (see [`state`]).
    shared_store: bool,
}

impl Service {
    pub fn new(
        store: Arc<dyn Store>,
        clock: LifecycleClock,
        catalog: Catalog,
        expiry_grace: Duration,
    ) -> Self {
        Self {
            store,
            secrets: Arc::new(PlainSecrets),
            clock,
            catalog: Arc::new(catalog),
            expiry_grace,
            keys: state::KeyCache::default(),
            nonces: state::NonceCache::default(),
            shared_store: false,
        }
    }

    /// Marks the store as shared with other processes (several replicas on one database):
    /// every verified request's nonce is then claimed in the store, reads' too.
    pub fn with_shared_store(mut self, shared: bool) -> Self {
        self.shared_store = shared;
        self
    }

    /// Opens stored secrets with `secrets` (the default takes them as stored).
    pub fn with_key_secrets(mut self, secrets: Arc<dyn KeySecrets>) -> Self {
        self.secrets = secrets;
        self
    }

    /// Whether other processes serve the same store (see [`Service::with_shared_store`]).
    pub fn is_shared_store(&self) -> bool {
        self.shared_store
    }

    pub fn clock(&self) -> &LifecycleClock {
        &self.clock
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Which storage engine serves this service, for logs and /health.
    pub fn engine(&self) -> &'static str {
        self.store.engine()
    }

    /// The lifecycle time now.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The key with this id, from the cache or the store.
    pub fn access_key(&self, id: &str) -> Option<AccessKey> {
        self.find_access_key(id).ok().flatten()
    }

    /// The key with this id; an error when the store could not be asked (so that a caller can
    /// answer "try again" rather than "no such key").
    pub fn find_access_key(&self, id: &str) -> Result<Option<AccessKey>, ApiError> {
        if let Some(k) = self.keys.get(id) {
            return Ok(Some(k));
        }
        let id_owned = id.to_string();
        let Some(found) = self.read(move |tx| Ok(tx.access_key(&id_owned)?))? else {
            return Ok(None);
        };
        let Some(found) = self.secrets.open(found) else {
            return Ok(None);
        };
        self.keys.insert(found.clone());
        Ok(Some(found))
    }

    /// Records a signed request's nonce; false when the same key already used it within the
    /// signature window. On a shared store the store decides (another process may have seen
    /// it), in a transaction of its own, and an unreachable store is an error. That
    /// transaction is submitted and awaited, not run on the caller's thread: a slow database
    /// must not hold the server's async worker threads (every verified request comes here).
    pub async fn accept_nonce(
        &self,
        key_id: &str,
        nonce: &str,
        real_now: DateTime<Utc>,
    ) -> Result<bool, ApiError> {
        if !self.nonces.remember(key_id, nonce, real_now) {
            return Ok(false);
        }
        if !self.shared_store {
            return Ok(true);
        }
        let (k, n) = (key_id.to_owned(), nonce.to_owned());
        self.submit(move |tx| Ok(tx.claim_nonce(&k, &n, real_now)?))
            .await
    }

    /// Fills the nonce set from the nonces the store recorded (on start, before taking calls).
    pub fn load_nonces(&self, real_now: DateTime<Utc>) -> Result<usize, ApiError> {
        let since = state::nonce_horizon(real_now);
        let recorded = self.read(move |tx| Ok(tx.nonces_since(since)?))?;
        for (key_id, nonce, seen_at) in &recorded {
            self.nonces.remember(key_id, nonce, *seen_at);
        }
        Ok(recorded.len())
    }

    /// Drops recorded nonces too old to matter.
    pub fn forget_old_nonces(&self, real_now: DateTime<Utc>) -> Result<u64, ApiError> {
        let before = state::nonce_horizon(real_now);
        self.write_blocking(move |tx| Ok(tx.forget_nonces_before(before)?))
    }

    /// The upkeep that wants one actor among the processes sharing the store, run by `owner`
    /// only if it leads [`UPKEEP_ROLE`] (taking the role if it is free or its term ended, and
    /// renewing it until `real_now + term`): drops recorded nonces too old to matter. Leading
    /// and the upkeep are one transaction, so the work commits only under a term that holds.
    /// `None` when another process leads; otherwise how many nonces went.
    pub fn upkeep_if_leading(
        &self,
        owner: &str,
        real_now: DateTime<Utc>,
        term: Duration,
    ) -> Result<Option<u64>, ApiError> {
        let owner = owner.to_owned();
        let before = state::nonce_horizon(real_now);
        self.write_blocking(move |tx| {
            if !tx.try_lead(UPKEEP_ROLE, &owner, real_now, real_now + term)? {
                return Ok(None);
            }
            Ok(Some(tx.forget_nonces_before(before)?))
        })
    }

    /// Gives up the upkeep role if `owner` holds it (on shutdown), so another process takes
    /// it over at once rather than when the term ends.
    pub fn resign_upkeep(&self, owner: &str) -> Result<bool, ApiError> {
        let owner = owner.to_owned();
        self.write_blocking(move |tx| Ok(tx.resign(UPKEEP_ROLE, &owner)?))
    }

    /// Runs a command's transaction for `caller` and waits for its commit without holding a
    /// thread. The request's nonce is recorded in the same transaction, so the change and the
    /// proof that this request was carried out commit together. A refused command records
    /// its nonce on its own before answering: the refusal was an answer too, and a replay of
    /// the same request after the state changed (the instance stopped, the protection lifted)
    /// must not succeed, after a restart either.
    async fn write<T, F>(&self, caller: &Caller, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: Fn(&mut dyn StoreTx) -> TxResult<T> + Send + Sync + 'static,
    {
        let request = caller.request.clone();
        let outcome = self
            .submit(move |tx| {
                let out = f(tx)?;
                if let Some(r) = &request {
                    tx.record_nonce(&r.key_id, &r.nonce, r.seen_at)?;
                }
                Ok(out)
            })
            .await;
        match &outcome {
            Ok(_) => {
                if let Some(r) = &caller.request {
                    r.recorded.store(true, Ordering::SeqCst);
                }
            }
            Err(_) => self.record_refusal(caller).await,
        }
        outcome
    }

    /// Runs a command's body; if it is refused anywhere (its checks before the transaction
    /// included), the request's nonce is recorded.
    async fn settled<T>(
        &self,
        caller: &Caller,
        body: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let outcome = body.await;
        if outcome.is_err() {
            self.record_refusal(caller).await;
        }
        outcome
    }

    /// Records durably, once, the nonce of a signed request that was refused, so that a replay
    /// of it (after the state changed, after a restart) is refused as a replay. Every door that
    /// refuses a verified request calls this (the service's own commands do).
    pub async fn record_refusal(&self, caller: &Caller) {
        let Some(r) = caller.request.clone() else {
            return;
        };
        if r.recorded.swap(true, Ordering::SeqCst) {
            return;
        }
        let flag = r.recorded.clone();
        let recorded = self
            .submit(move |tx| Ok(tx.record_nonce(&r.key_id, &r.nonce, r.seen_at)?))
            .await;
        if let Err(e) = recorded {
            flag.store(false, Ordering::SeqCst);
            tracing::error!(error = %e, "cannot record the nonce of a refused request");
        }
    }

    /// Submits a transaction to the store and waits for it to be durable.
    async fn submit<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: Fn(&mut dyn StoreTx) -> TxResult<T> + Send + 'static,
    {
        let (answer, outcome) = tokio::sync::oneshot::channel();
        self.store.submit(f, move |result| {
            let _ = answer.send(result);
        });
        match outcome.await {
            Ok(result) => result.map_err(api_error),
            Err(_) => {
                tracing::error!("the store dropped a write without answering");
                Err(INTERNAL_ERROR.err())
            }
        }
    }

    /// A transaction from a thread that may block (the scheduler, start-up, the CLI).
    pub(crate) fn write_blocking<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: Fn(&mut dyn StoreTx) -> TxResult<T> + Send + 'static,
    {
        self.store.write(f).map_err(api_error)
    }

    /// A read-only snapshot. Reads are short; they run on the caller's thread.
    pub(crate) fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: Fn(&mut dyn StoreTx) -> TxResult<T> + Send + 'static,
    {
        self.store.read(f).map_err(api_error)
    }
}

/// A refused command keeps its ECS error; a storage failure becomes InternalError (and is
/// logged, since the client learns nothing from it).
pub fn api_error(e: TxError) -> ApiError {
    match e {
        TxError::Rejected(api) => api,
        // The database is down or too slow: the call may succeed later, and saying so is the
        // truth (ECS answers ServiceUnavailable for a temporary failure).
        TxError::Store(err @ ecs_store::StoreError::Unavailable(_)) => {
            tracing::warn!(%err, "storage unavailable");
            SERVICE_UNAVAILABLE.err()
        }
        // Concurrent transactions kept meeting for every rerun: the server is overloaded right
        // now, not broken, and the same call is likely to pass if sent again.
        TxError::Store(err @ ecs_store::StoreError::Conflict(_)) => {
            tracing::warn!(%err, "transaction kept conflicting; answered as unavailable");
            SERVICE_UNAVAILABLE.err()
        }
        TxError::Store(err) => {
            tracing::error!(%err, "storage failure");
            INTERNAL_ERROR.err()
        }
    }
}
