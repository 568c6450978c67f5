//! Storage for ecsd: one [`Store`] trait, engines behind it.
//!
//! Every API call is one transaction: the operation gets a [`StoreTx`] inside [`StoreExt::write`]
//! (or [`StoreExt::read`]), reads what it needs, decides with the domain rules, writes, and returns.
//! If the closure returns an error, nothing it wrote is kept. `write` returns only once the
//! transaction is durable, so an acknowledged call survives a crash.
//!
//! The scheduler's due-time index is maintained here: whenever an instance or host is put, its
//! scheduled actions ([`ecs_domain::lifecycle::instance_due`]) replace the old ones in the index.

use std::any::Any;

use chrono::{DateTime, Utc};
use ecs_domain::lifecycle::ActionKind;
use ecs_domain::model::{AccessKey, Account, ChargeType, DedicatedHost, Instance};
use ecs_domain::{ApiError, Money};

pub mod sqlite;
/// The conformance suite, for engines' tests only (feature `testsuite`).
#[cfg(feature = "testsuite")]
pub mod testsuite;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage failure: {0}")]
    Backend(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("a transaction closure panicked")]
    Panicked,
    /// A concurrent transaction got in the way (a serialization failure, a busy lock). The
    /// transaction changed nothing and may simply be run again; engines do so, a bounded
    /// number of times ([`MAX_TX_ATTEMPTS`]), before reporting it.
    #[error("conflicting concurrent transaction: {0}")]
    Conflict(String),
    /// The database cannot be reached right now (connection refused or lost, a statement
    /// timeout, no free connection in time). Nothing was committed that the caller was told
    /// of; callers answer "try again later" (ECS `ServiceUnavailable`) rather than an
    /// internal error, and engines reconnect by themselves.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// How many times an engine runs a transaction that keeps meeting [`StoreError::Conflict`].
///
/// PostgreSQL's serializable isolation locks index pages, not only rows: on a small table every
/// reader of one leaf page conflicts with every insert into it, so concurrent writers on
/// unrelated instances meet often (about a third of first attempts with eight writers, and
/// about four in ten of the reruns). Five attempts ran out for one call in a hundred and
/// fifty; at this bound running out takes a sustained pile-up.
pub const MAX_TX_ATTEMPTS: u32 = 32;

/// The pause before rerun number `attempt` (2, 3, ...) of a conflicting transaction: random,
/// so that transactions that met do not meet again at once, growing with the attempt, capped
/// so that a long run of reruns stays within a couple of seconds.
pub fn conflict_pause(attempt: u32) -> std::time::Duration {
    let span = (2 * u64::from(attempt) * u64::from(attempt)).min(100);
    std::time::Duration::from_millis(1 + rand::random::<u64>() % span)
}

impl TxError {
    /// Whether running the same transaction again may succeed.
    pub fn is_conflict(&self) -> bool {
        matches!(self, TxError::Store(StoreError::Conflict(_)))
    }
}

/// Why a transaction closure stopped: the request was refused (an ECS error for the client), or
/// the storage failed. Either way the transaction is rolled back.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    /// Shown as the refusal's message alone: its code and status are for an API client, and a
    /// person reading a command's error wants the sentence.
    #[error("{}", .0.message)]
    Rejected(ApiError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<ApiError> for TxError {
    fn from(e: ApiError) -> Self {
        TxError::Rejected(e)
    }
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        TxError::Store(e)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
pub type TxResult<T> = Result<T, TxError>;

/// Which kind of resource a scheduled action or event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    Instance,
    DedicatedHost,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Instance => "instance",
            ResourceKind::DedicatedHost => "dedicated_host",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "instance" => Some(ResourceKind::Instance),
            "dedicated_host" => Some(ResourceKind::DedicatedHost),
            _ => None,
        }
    }
}

/// One entry of the due-time index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Job {
    pub resource: ResourceKind,
    pub resource_id: String,
    pub account_id: i64,
    pub kind: ActionKind,
    pub due_at: DateTime<Utc>,
}

/// Who is carrying out due jobs, and until when its claim holds. A claim whose lease ran out
/// (by the real clock: a virtual clock may stand still for hours) is taken over by the next
/// claimer, so a claimer that died does not strand its jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub owner: String,
    /// The real time now, to tell live claims from lapsed ones.
    pub real_now: DateTime<Utc>,
    /// Until when (real time) the jobs claimed now are this owner's.
    pub lease_until: DateTime<Utc>,
}

/// A lifecycle event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub account_id: i64,
    pub resource: ResourceKind,
    pub resource_id: String,
    /// What happened: an [`ActionKind`] name, or a manual action such as `DeleteInstance`.
    pub action: String,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub happened_at: DateTime<Utc>,
    /// Short outcome label: `released`, `renewed`, `insufficient_balance`, `locked`, ...
    pub outcome: String,
    /// Free-form details, JSON.
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub seq: i64,
    pub event: NewEvent,
}

/// Filters of DescribeInstances. All present ones must match.
#[derive(Debug, Clone, Default)]
pub struct InstanceFilter {
    pub account_id: i64,
    pub region_id: Option<String>,
    /// `Some(empty)` matches nothing (an explicit empty list).
    pub ids: Option<Vec<String>>,
    pub zone_id: Option<String>,
    pub status: Option<String>,
    pub charge_type: Option<ChargeType>,
    /// Exact name, or a pattern with `*` wildcards.
    pub name: Option<String>,
    pub lock_reason: Option<String>,
    /// Only instances placed on this dedicated host.
    pub host_id: Option<String>,
    /// Every pair must match a tag of the instance: the key, and the value when given.
    pub tags: Vec<(String, Option<String>)>,
    /// Creation and expiry time bounds (`Filter.N`), inclusive and compared by the minute, as
    /// ECS shows those times.
    pub created: TimeRange,
    pub expires: TimeRange,
    /// Only instances whose type belongs to this family (`ecs.g7` holds `ecs.g7.large`).
    pub type_family: Option<String>,
    /// Conditions on fields kept only in the row's JSON; every one must hold.
    pub fields: Vec<FieldMatch>,
}

/// A condition on a field kept only in a row's JSON: the field equals one of `values` (a list
/// field: holds one of them). An empty `values` matches nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMatch {
    pub field: DataField,
    pub values: Vec<String>,
}

/// The JSON fields listings can filter on. A closed set, so that engines can write each path
/// into their SQL as a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataField {
    InstanceType,
    ImageId,
    VSwitchId,
    VpcId,
    /// A list: the instance's security groups.
    SecurityGroupIds,
    /// A list: the instance's private addresses.
    PrivateIpAddresses,
    /// A list: the instance's public addresses.
    PublicIpAddresses,
    KeyPairName,
    ResourceGroupId,
    InternetChargeType,
    HostType,
}

impl DataField {
    /// The path of the field inside the row's JSON.
    pub fn path(self) -> &'static [&'static str] {
        match self {
            DataField::InstanceType => &["instance_type"],
            DataField::ImageId => &["image_id"],
            DataField::VSwitchId => &["vswitch_id"],
            DataField::VpcId => &["network", "vpc_id"],
            DataField::SecurityGroupIds => &["security_group_ids"],
            DataField::PrivateIpAddresses => &["network", "private_ips"],
            DataField::PublicIpAddresses => &["network", "public_ips"],
            DataField::KeyPairName => &["launch", "key_pair_name"],
            DataField::ResourceGroupId => &["launch", "resource_group_id"],
            DataField::InternetChargeType => &["launch", "internet_charge_type"],
            DataField::HostType => &["host_type"],
        }
    }

    /// Whether the field holds a list of strings rather than one string.
    pub fn is_list(self) -> bool {
        matches!(
            self,
            DataField::SecurityGroupIds
                | DataField::PrivateIpAddresses
                | DataField::PublicIpAddresses
        )
    }

    /// What a missing or empty value counts as: what answers show for it (rows written before
    /// the field existed lack it).
    pub fn default_value(self) -> &'static str {
        match self {
            DataField::InternetChargeType => ecs_domain::model::DEFAULT_INTERNET_CHARGE_TYPE,
            _ => "",
        }
    }
}

/// Inclusive bounds on a time; either may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl TimeRange {
    pub fn is_open(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }
}

/// Filters of DescribeDedicatedHosts.
#[derive(Debug, Clone, Default)]
pub struct HostFilter {
    pub account_id: i64,
    pub region_id: Option<String>,
    pub ids: Option<Vec<String>>,
    pub zone_id: Option<String>,
    pub status: Option<String>,
    /// Only hosts locked for this reason.
    pub lock_reason: Option<String>,
    /// Exact host name.
    pub name: Option<String>,
    /// Every pair must match a tag of the host: the key, and the value when given.
    pub tags: Vec<(String, Option<String>)>,
    /// Conditions on fields kept only in the row's JSON; every one must hold.
    pub fields: Vec<FieldMatch>,
}

/// Which slice of a listing. Results are ordered oldest first by creation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// Skip `offset` rows, return up to `limit`.
    Offset { offset: u64, limit: u32 },
    /// Rows created after the one with creation sequence `after` (0 = from the start).
    After { after: i64, limit: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub total: u64,
    /// Creation sequence of the last item, for `Page::After`; None when no more rows follow.
    pub next_after: Option<i64>,
}

/// A remembered ClientToken: the request's fingerprint and the answer it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentAnswer {
    pub fingerprint: String,
    pub response: serde_json::Value,
}

/// Everything an operation can read or write inside one transaction.
pub trait StoreTx {
    // Accounts and keys.
    fn create_account(&mut self, name: &str) -> StoreResult<Account>;
    fn account(&mut self, id: i64) -> StoreResult<Option<Account>>;
    fn account_by_name(&mut self, name: &str) -> StoreResult<Option<Account>>;
    fn set_balance(&mut self, account_id: i64, balance: Money) -> StoreResult<()>;
    fn put_access_key(&mut self, key: &AccessKey) -> StoreResult<()>;
    fn access_key(&mut self, id: &str) -> StoreResult<Option<AccessKey>>;
    fn access_keys(&mut self) -> StoreResult<Vec<AccessKey>>;

    // Instances. `put_instance` inserts or replaces, and reindexes its scheduled actions.
    fn instance(&mut self, account_id: i64, id: &str) -> StoreResult<Option<Instance>>;
    fn put_instance(&mut self, instance: &Instance) -> StoreResult<()>;
    /// Removes the instance and its scheduled actions; false when it was not there.
    fn delete_instance(&mut self, account_id: i64, id: &str) -> StoreResult<bool>;
    fn list_instances(
        &mut self,
        filter: &InstanceFilter,
        page: Page,
    ) -> StoreResult<Listing<Instance>>;

    // Disks (system and data disks of instances, and detached ones).
    /// Inserts or replaces a disk.
    fn put_disk(&mut self, disk: &ecs_domain::disk::Disk) -> StoreResult<()>;
    /// Removes a disk; false when it was not there.
    fn delete_disk(&mut self, account_id: i64, id: &str) -> StoreResult<bool>;
    /// The account's disks, in creation order: in `region_id` when given, attached to
    /// `instance_id` when given.
    fn disks(
        &mut self,
        account_id: i64,
        region_id: Option<&str>,
        instance_id: Option<&str>,
    ) -> StoreResult<Vec<ecs_domain::disk::Disk>>;

    // Dedicated hosts, likewise.
    fn host(&mut self, account_id: i64, id: &str) -> StoreResult<Option<DedicatedHost>>;
    fn put_host(&mut self, host: &DedicatedHost) -> StoreResult<()>;
    fn delete_host(&mut self, account_id: i64, id: &str) -> StoreResult<bool>;
    fn list_hosts(
        &mut self,
        filter: &HostFilter,
        page: Page,
    ) -> StoreResult<Listing<DedicatedHost>>;
    /// How many instances are placed on a host.
    fn instances_on_host(&mut self, account_id: i64, host_id: &str) -> StoreResult<u64>;

    // The due-time index.
    /// Up to `limit` jobs due at or before `now`, earliest first.
    fn due_jobs(&mut self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Job>>;
    /// The earliest due time in the index, if any.
    fn next_due(&mut self) -> StoreResult<Option<DateTime<Utc>>>;
    /// Claims up to `limit` jobs due at or before `now` that nobody else holds (or whose
    /// holder's lease ran out; an owner's own unfinished claims are taken again), earliest first, for `claim.owner` until `claim.lease_until`. Engines
    /// with concurrent writers must make two claimers never get the same job while a lease
    /// holds (a row lock, `FOR UPDATE SKIP LOCKED`, or a single writer). A job is not claimed
    /// while an earlier job of the same resource is still in the index (claimed or not), so
    /// several claimers carry one resource's actions out in due order, one at a time.
    fn claim_due_jobs(
        &mut self,
        now: DateTime<Utc>,
        claim: &Claim,
        limit: u32,
    ) -> StoreResult<Vec<Job>>;
    /// Whether `owner` still holds its claim on `job` (the same job, due at the same time).
    /// Checked in the transaction that carries the job out, so a claimer whose lease was taken
    /// over acts on nothing.
    fn holds_claim(&mut self, job: &Job, owner: &str) -> StoreResult<bool>;
    /// Ends `owner`'s claim on `job`: removes the job from the index if it is still there
    /// under that claim. A job the action rescheduled (the resource was put again) is a new,
    /// unclaimed entry and stays.
    fn finish_claim(&mut self, job: &Job, owner: &str) -> StoreResult<()>;

    // Events.
    fn append_event(&mut self, event: &NewEvent) -> StoreResult<i64>;
    /// Up to `limit` events numbered above `after_seq`, in number order. A reader continues
    /// from the last number it was given, so, called as the first thing in a read, this must
    /// never return an event while one with a lower number may still commit (engines with
    /// concurrent writers wait for the writers in flight; a single writer commits in order).
    fn events_after(&mut self, after_seq: i64, limit: u32) -> StoreResult<Vec<Event>>;

    // ClientToken idempotency, per account and operation.
    fn idempotent_answer(
        &mut self,
        account_id: i64,
        action: &str,
        token: &str,
    ) -> StoreResult<Option<IdempotentAnswer>>;
    fn put_idempotent_answer(
        &mut self,
        account_id: i64,
        action: &str,
        token: &str,
        answer: &IdempotentAnswer,
    ) -> StoreResult<()>;

    // Signature nonces of committed writes, so that a replayed write is refused after a restart
    // as well (requests are checked against an in-memory set, filled from here on start).
    fn record_nonce(
        &mut self,
        key_id: &str,
        nonce: &str,
        seen_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Records a nonce unless the same key already used it (within what is kept: older ones are
    /// pruned by [`StoreTx::forget_nonces_before`]); true when it was new. Engines shared by
    /// several processes check every verified request here, so a nonce accepted by one process
    /// is refused by all others: two transactions inserting the same pair concurrently must not
    /// both see it as new (a unique key does it).
    fn claim_nonce(
        &mut self,
        key_id: &str,
        nonce: &str,
        seen_at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// `(key id, nonce, seen at)` of every nonce recorded at or after `since`, oldest first.
    fn nonces_since(
        &mut self,
        since: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, String, DateTime<Utc>)>>;
    /// Drops nonces recorded before `before`; how many went.
    fn forget_nonces_before(&mut self, before: DateTime<Utc>) -> StoreResult<u64>;

    // Leadership: work that wants one actor among the processes sharing a store (pruning
    // nonces) runs only on the holder of a leader row, which expires by the real clock.
    /// Makes `owner` the leader of `role` until `until` (real time) if nobody is, the current
    /// leader's term ended at or before `real_now`, or `owner` leads already (a renewal); true
    /// when `owner` leads once this commits. Engines with concurrent writers must make two
    /// owners racing for a free or expired row never both see true (a unique key and
    /// serializable writes, or a single writer). A row, not a session lock: a lock tied to a
    /// database connection strands behind a connection pooler and ends with any reconnect.
    fn try_lead(
        &mut self,
        role: &str,
        owner: &str,
        real_now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Ends `owner`'s term as leader of `role`, if it holds it, so another may take over at
    /// once (a clean shutdown); false when it did not lead.
    fn resign(&mut self, role: &str, owner: &str) -> StoreResult<bool>;

    // Small settings that must survive restarts (the virtual clock's time).
    fn setting(&mut self, key: &str) -> StoreResult<Option<String>>;
    fn put_setting(&mut self, key: &str, value: &str) -> StoreResult<()>;

    /// Removes every resource, job, event and remembered token, and zeroes balances; accounts,
    /// keys and signature nonces stay.
    fn reset(&mut self) -> StoreResult<()>;
}

/// A transaction body, boxed so that [`Store`] can be used as a trait object. It is `'static`
/// because an engine may run it on its own writer thread.
/// It is `Fn`, not `FnOnce`: an engine may run it again after a conflict ([`StoreError::Conflict`])
/// or after the group it was committed with failed, so it must not consume what it captured.
pub type TxFn = Box<dyn Fn(&mut dyn StoreTx) -> TxResult<Box<dyn Any + Send>> + Send + 'static>;

/// Receives a submitted transaction's outcome.
pub type TxDone = Box<dyn FnOnce(TxResult<Box<dyn Any + Send>>) + Send>;

/// A storage engine. Reads block the caller briefly; writes either block until durable
/// (`write_boxed`) or call back when durable (`submit_write`), for async callers.
pub trait Store: Send + Sync + 'static {
    /// Runs `f` in a read-write transaction and commits it durably before returning. If `f`
    /// fails, nothing it did is kept.
    fn write_boxed(&self, f: TxFn) -> TxResult<Box<dyn Any + Send>>;
    /// Like [`Store::write_boxed`], without blocking: `done` is called with the outcome once the
    /// transaction is durable (or failed), possibly on another thread. Engines without a
    /// writer thread of their own run the transaction right away.
    fn submit_write(&self, f: TxFn, done: TxDone) {
        done(self.write_boxed(f));
    }
    /// Runs `f` in a read-only snapshot.
    fn read_boxed(&self, f: TxFn) -> TxResult<Box<dyn Any + Send>>;
    /// Which engine this is, for logs and /health.
    fn engine(&self) -> &'static str;
}

/// Typed helpers over [`Store`] (which is object-safe and therefore passes results as `Any`).
pub trait StoreExt: Store {
    fn write<T, F>(&self, f: F) -> TxResult<T>
    where
        T: Send + 'static,
        F: Fn(&mut dyn StoreTx) -> TxResult<T> + Send + 'static,
    {
        unbox(self.write_boxed(boxed(f))?)
    }

    fn read<T, F>(&self, f: F) -> TxResult<T>
    where
        T: Send + 'static,
        F: Fn(&mut dyn StoreTx) -> TxResult<T> + Send + 'static,
    {
        unbox(self.read_boxed(boxed(f))?)
    }

    /// Typed [`Store::submit_write`].
    fn submit<T, F>(&self, f: F, done: impl FnOnce(TxResult<T>) + Send + 'static)
    where
        T: Send + 'static,
        F: Fn(&mut dyn StoreTx) -> TxResult<T> + Send + 'static,
    {
        self.submit_write(
            boxed(f),
            Box::new(move |outcome| done(outcome.and_then(unbox))),
        );
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

fn boxed<T, F>(f: F) -> TxFn
where
    T: Send + 'static,
    F: Fn(&mut dyn StoreTx) -> TxResult<T> + Send + 'static,
{
    Box::new(move |tx| f(tx).map(|v| Box::new(v) as Box<dyn Any + Send>))
}

fn unbox<T: 'static>(value: Box<dyn Any + Send>) -> TxResult<T> {
    value.downcast::<T>().map(|v| *v).map_err(|_| {
        TxError::Store(StoreError::Backend(
            "transaction result of another type".into(),
        ))
    })
}
