//! The lifecycle scheduler: finds due work in the store's due-time index, claims it, and has the
//! service carry it out, each action exactly once and in due order. It knows no protocol: it
//! calls the service only.
//!
//! Work is claimed through the store ([`ecs_store::StoreTx::claim_due_jobs`]) under this
//! scheduler's owner id, with a lease on the real clock, and carried out in a second
//! transaction that checks the claim and ends it together with the action. So any number of
//! claimers on one store (threads here; replicas on an engine with concurrent writers) carry
//! each due action out once; a claimer that dies holding claims only delays them until its
//! lease runs out.
//!
//! Per process: the lock that keeps this process's ticking and clock jumps from interleaving
//! (a jump must run everything due before the clock shows its end). Claims keep concurrent
//! claimers correct; the lock only keeps the order a jump promises.
//!
//! Several processes on one store (replicas on PostgreSQL): a jump stores its destination
//! before its work, and every replica's tick that finds one claims due work up to it, so the
//! burst is shared; the jumping replica ends the jump (the clock shows the destination) only
//! once no work due by then is left, its helpers' included. Upkeep that wants one actor
//! (pruning old nonces) runs only on the replica holding the `upkeep` leader row.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use ecs_domain::lifecycle::ActionKind;
use ecs_domain::ApiError;
use ecs_service::clock::{AdvanceError, ClockMode};
use ecs_service::lifecycle::Replay;
use ecs_service::{ActionRecord, Service};
use ecs_store::{Claim, Job};

/// How many due jobs one claim takes and one transaction carries out. Bigger batches rewrite
/// the pages every transaction touches (the events tail, the counts, index interior pages) less
/// often: the 100,000-release burst took 7.6–8.3 s at 512, 6.2 s at 2,048 and 5.6 s at 8,192.
/// The cost is that an API write waits behind a whole batch (about 0.1 s at 2,048).
pub const BATCH: u32 = 2048;
/// How many due jobs one claim takes on a store other processes share. Smaller than [`BATCH`]
/// so that the burst a clock jump makes due is split into many claims, which every replica
/// takes its share of (each claims with `SKIP LOCKED`), instead of one claim by the replica
/// that jumped holding it all.
pub const SHARED_BATCH: u32 = 256;
/// How often a jump whose remaining work other replicas hold looks again whether they are done.
const HELPERS_POLL: StdDuration = StdDuration::from_millis(50);
/// How often the real-clock scheduler looks for due work. Lateness is at most this plus the
/// time to carry the work out.
const TICK: StdDuration = StdDuration::from_millis(200);
/// The same on a store other replicas share, where a tick also looks for a clock jump to help
/// with: a jump's burst of a thousand releases is over in a fraction of a second, so helpers
/// that look only every [`TICK`] come too late for all but the largest. A tick that finds
/// nothing is three small reads.
const SHARED_TICK: StdDuration = StdDuration::from_millis(50);
/// How long a claim holds (real time) before another claimer may take it over. Far longer than
/// a batch takes; short enough that work held by a dead claimer is not late for long.
pub const LEASE: Duration = Duration::seconds(60);
/// How long (real time) a term as upkeep leader lasts unless renewed. The leader renews it
/// every third of this; a leader that died is replaced within about one term.
pub const LEADER_TERM: Duration = Duration::seconds(30);
/// A job that keeps failing is retried on every run, but its failure is recorded at most this
/// often, so the event log does not fill with the same line.
const FAILURE_RECORD_INTERVAL: StdDuration = StdDuration::from_secs(60);

/// The claimer's name on a store one process serves at a time.
pub const SOLE_OWNER: &str = "ecsd";

pub struct Scheduler {
    service: Arc<Service>,
    /// This claimer's name in the store's claims.
    owner: String,
    /// How many jobs one claim takes.
    batch: u32,
    /// Serializes this process's runs (ticks, jumps, start-up catch-up).
    lifecycle: tokio::sync::Mutex<()>,
    failures_recorded: Mutex<HashMap<(String, ActionKind), Instant>>,
    /// How long a term as upkeep leader lasts.
    leader_term: Duration,
    /// Whether the last attempt to lead the upkeep succeeded (for /health and logs).
    leading: AtomicBool,
}

/// Why a run over due work stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Nothing is due any more.
    Done,
    /// Work is due, and other claimers hold all of it.
    HeldByOthers,
    /// A job failed or made no progress; it is left for the next run.
    Stuck,
}

/// Why a clock jump was refused.
#[derive(Debug)]
pub enum JumpError {
    Clock(AdvanceError),
    Failed(ApiError),
}

impl Scheduler {
    /// A scheduler for this process. On a store only this process serves (it holds the data
    /// dir's lock), the owner name is the same for every process that ever serves it: a server
    /// restarted after a crash takes the claims its predecessor left at once (an owner takes
    /// its own unfinished claims again), so its start-up catch-up does not wait for their
    /// leases. On a shared store each process has a name of its own, and a dead one's claims
    /// are taken over when their lease runs out.
    pub fn new(service: Arc<Service>) -> Self {
        let owner = if service.is_shared_store() {
            format!("ecsd-{}-{:08x}", std::process::id(), rand::random::<u32>())
        } else {
            SOLE_OWNER.to_string()
        };
        Self::with_owner(service, owner)
    }

    /// A scheduler claiming under a name of the caller's choosing (tests run several).
    pub fn with_owner(service: Arc<Service>, owner: String) -> Self {
        let batch = if service.is_shared_store() {
            SHARED_BATCH
        } else {
            BATCH
        };
        Self {
            service,
            owner,
            batch,
            lifecycle: tokio::sync::Mutex::new(()),
            failures_recorded: Mutex::default(),
            leader_term: LEADER_TERM,
            leading: AtomicBool::new(false),
        }
    }

    /// Terms as upkeep leader last `term` instead of [`LEADER_TERM`] (tests shorten it to see
    /// a takeover quickly).
    pub fn leader_term(mut self, term: Duration) -> Self {
        self.leader_term = term.max(Duration::milliseconds(300));
        self
    }

    /// Whether this process led the upkeep at its last attempt.
    pub fn is_leading(&self) -> bool {
        self.leading.load(Ordering::SeqCst)
    }

    /// One round of upkeep: leads it if free (or renews this process's term) and, while
    /// leading, does it. Only the leader prunes: the work is the same whoever does it, and
    /// several processes doing it at once would only meet in conflicts.
    pub fn upkeep(&self) {
        match self
            .service
            .upkeep_if_leading(&self.owner, Utc::now(), self.leader_term)
        {
            Ok(led) => {
                let was = self.leading.swap(led.is_some(), Ordering::SeqCst);
                match led {
                    Some(_) if !was => tracing::info!(owner = %self.owner, "leading the upkeep"),
                    None if was => {
                        tracing::info!(owner = %self.owner, "no longer leading the upkeep")
                    }
                    _ => {}
                }
                if let Some(pruned) = led.filter(|n| *n > 0) {
                    tracing::info!(pruned, owner = %self.owner, "upkeep: dropped old signature nonces");
                }
            }
            Err(e) => {
                // Not knowing is not leading: the term may end before the store answers again.
                if self.leading.swap(false, Ordering::SeqCst) {
                    tracing::info!(owner = %self.owner, "no longer leading the upkeep");
                }
                tracing::warn!(error = %e, "upkeep failed");
            }
        }
    }

    /// Gives up the upkeep role (on shutdown), so another process takes it over at once.
    pub fn resign(&self) {
        if !self.leading.swap(false, Ordering::SeqCst) {
            return;
        }
        if let Err(e) = self.service.resign_upkeep(&self.owner) {
            tracing::warn!(error = %e, "could not resign the upkeep role; it lapses with its term");
        }
    }

    /// Claims `batch` jobs at a time instead of [`BATCH`].
    pub fn batch_size(mut self, batch: u32) -> Self {
        self.batch = batch.max(1);
        self
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Runs every action due at or before `now`, in due order, until none is left (blocking).
    ///
    /// Jobs go in claimed batches, one transaction each. If a batch fails, its jobs are
    /// retried one per transaction, so one job that cannot be carried out (its failure is
    /// recorded as an event and it stays due, to be retried on the next run) does not hold up
    /// the others.
    pub fn run_due(
        &self,
        now: DateTime<Utc>,
        jumped_from: Option<DateTime<Utc>>,
    ) -> Result<Vec<ActionRecord>, ApiError> {
        let mut done = Vec::new();
        self.run_due_into(
            &mut done,
            now,
            Replay { jumped_from },
            jumped_from.is_some(),
        )?;
        Ok(done)
    }

    /// [`Scheduler::run_due`], appending to `done`; `moves_clock` has each claim move a virtual
    /// clock up to its first job (the jumping process does; helpers do not). Says why it
    /// stopped.
    fn run_due_into(
        &self,
        done: &mut Vec<ActionRecord>,
        now: DateTime<Utc>,
        replay: Replay,
        moves_clock: bool,
    ) -> Result<Stop, ApiError> {
        let mut previous_head: Option<Job> = None;
        loop {
            // A look at the index first (a read): most ticks find nothing due, and need not
            // open a write transaction to learn it.
            if self.service.next_due()?.is_none_or(|next| next > now) {
                return Ok(Stop::Done);
            }
            let real_now = Utc::now();
            let claim = Claim {
                owner: self.owner.clone(),
                real_now,
                lease_until: real_now + LEASE,
            };
            let jobs = self
                .service
                .claim_due(now, &claim, self.batch, moves_clock)?;
            if jobs.is_empty() {
                // Due work is there, and none of it is free: other claimers hold it (or it
                // waits behind their jobs on the same resources).
                return Ok(Stop::HeldByOthers);
            }
            // Every carried-out action takes its job out of the index; a head that stays put
            // means the index disagrees with its resource. Stop rather than spin.
            if previous_head.as_ref() == jobs.first() {
                tracing::error!(job = ?jobs[0], "due job made no progress; leaving it for the next run");
                return Ok(Stop::Stuck);
            }
            previous_head = jobs.first().cloned();
            match self.service.carry_out(&self.owner, &jobs, replay) {
                Ok(records) => done.extend(records),
                Err(e) => {
                    tracing::warn!(error = %e, "lifecycle batch failed; retrying its jobs one by one");
                    let mut failed = 0;
                    for job in &jobs {
                        match self
                            .service
                            .carry_out(&self.owner, std::slice::from_ref(job), replay)
                        {
                            Ok(records) => done.extend(records),
                            Err(e) => {
                                failed += 1;
                                self.record_failure(job, &e);
                            }
                        }
                    }
                    if failed > 0 {
                        // The failed jobs are still due; leave them for the next run rather
                        // than spinning on them now.
                        return Ok(Stop::Stuck);
                    }
                }
            }
        }
    }

    fn record_failure(&self, job: &Job, error: &ApiError) {
        tracing::error!(resource = %job.resource_id, action = job.kind.as_str(), %error, "lifecycle action failed; it stays due");
        {
            let mut last = self
                .failures_recorded
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let key = (job.resource_id.clone(), job.kind);
            if last
                .get(&key)
                .is_some_and(|at| at.elapsed() < FAILURE_RECORD_INTERVAL)
            {
                return;
            }
            last.insert(key, Instant::now());
        }
        if let Err(e) = self.service.record_failure(job, error) {
            tracing::error!(error = %e, "could not record the failure either");
        }
    }

    /// Catches up on start, before calls are taken: a jump a crash cut short is finished, then
    /// whatever fell due while ecsd was down is carried out, in due order. A virtual clock
    /// moves only by jumps (also offline), so anything still due fell inside one and is
    /// recorded at its due time, as a running jump records it. A real clock's catch-up is
    /// recorded when it happens, which shows how late it was.
    pub fn catch_up(&self) -> Result<Vec<ActionRecord>, ApiError> {
        let clock = self.service.clock();
        let mut done = Vec::new();
        if let Some(target) = clock.unfinished_jump().map_err(ecs_service::api_error)? {
            done.extend(self.run_due(target, Some(DateTime::<Utc>::MIN_UTC))?);
            clock.end_jump(target).map_err(ecs_service::api_error)?;
        }
        let replay_from = (clock.mode() == ClockMode::Virtual).then_some(DateTime::<Utc>::MIN_UTC);
        let now = clock.try_now().map_err(ecs_service::api_error)?;
        done.extend(self.run_due(now, replay_from)?);
        Ok(done)
    }

    /// Moves a virtual clock `seconds` forward, carrying out every action that falls due on
    /// the way, in due order, before it returns. The destination is stored before anything
    /// runs at it, so a crash mid-way finishes the jump on the next start; the time calls see
    /// moves along with the work and reaches the destination once all of it is done.
    pub async fn jump(
        self: &Arc<Self>,
        seconds: i64,
    ) -> Result<(DateTime<Utc>, Vec<ActionRecord>), JumpError> {
        let _guard = self.lifecycle.lock().await;
        let clock = self.service.clock();
        let to = clock.advanced_by(seconds).map_err(JumpError::Clock)?;
        let from = clock.now();
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let clock = this.service.clock();
            clock.begin_jump(to).map_err(ecs_service::api_error)?;
            let done = this.run_jump(to, from)?;
            clock.end_jump(to).map_err(ecs_service::api_error)?;
            Ok((to, done))
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "clock jump task failed");
            JumpError::Failed(ecs_domain::error::common::INTERNAL_ERROR.err())
        })?
        .map_err(JumpError::Failed)
    }

    /// A jump's work: everything due up to `to`, this process's share and, on a shared store,
    /// waiting for the shares other replicas claimed (they help from their ticks, see
    /// [`Scheduler::tick`]), so the clock shows the destination only once all of it is done.
    /// Claims of a replica that died lapse with their lease and are taken over here; the wait
    /// ends once nothing has moved for longer than a lease (the rest is then left to the ticks,
    /// as a failing job is).
    fn run_jump(
        &self,
        to: DateTime<Utc>,
        from: DateTime<Utc>,
    ) -> Result<Vec<ActionRecord>, ApiError> {
        let replay = Replay {
            jumped_from: Some(from),
        };
        let mut done = Vec::new();
        let patience = (LEASE + Duration::seconds(10))
            .to_std()
            .unwrap_or(StdDuration::from_secs(70));
        let mut last_move = Instant::now();
        let mut last_next = None;
        loop {
            let before = done.len();
            if self.run_due_into(&mut done, to, replay, true)? != Stop::HeldByOthers {
                return Ok(done);
            }
            let next = self.service.next_due()?;
            if done.len() > before || next != last_next {
                last_move = Instant::now();
                last_next = next;
            } else if last_move.elapsed() > patience {
                tracing::warn!(?next, "jump: due work held by other claimers made no progress; leaving it to the ticks");
                return Ok(done);
            }
            std::thread::sleep(HELPERS_POLL);
        }
    }

    /// One scheduler tick: runs what is due at the clock's time. On a store other replicas
    /// share, a clock jump in progress (its destination is stored) is helped: jobs due up to
    /// its destination are claimed and carried out here too, so all replicas share a jump's
    /// burst. They are recorded at their due times, as the jumping replica records them; the
    /// clock itself is moved by the jumping replica only.
    pub fn tick(&self) -> Result<Vec<ActionRecord>, ApiError> {
        let clock = self.service.clock();
        let now = clock.try_now().map_err(ecs_service::api_error)?;
        let mut done = Vec::new();
        if self.service.is_shared_store() && clock.mode() == ClockMode::Virtual {
            if let Some(target) = clock.unfinished_jump().map_err(ecs_service::api_error)? {
                if target > now {
                    let replay = Replay {
                        jumped_from: Some(DateTime::<Utc>::MIN_UTC),
                    };
                    self.run_due_into(&mut done, target, replay, false)?;
                    return Ok(done);
                }
            }
        }
        self.run_due_into(&mut done, now, Replay { jumped_from: None }, false)?;
        Ok(done)
    }

    /// Runs `f` while no lifecycle run is in progress (an admin reset, say).
    pub async fn exclusive<T>(&self, f: impl FnOnce() -> T) -> T {
        let _guard = self.lifecycle.lock().await;
        f()
    }

    /// Keeps running due work as the clock moves and, in a task of its own (a long lifecycle
    /// run must not let the term lapse), leads and does the upkeep.
    pub fn spawn(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        let upkeep = self.clone();
        tokio::spawn(async move {
            let every = (upkeep.leader_term / 3)
                .to_std()
                .unwrap_or(StdDuration::from_secs(10));
            loop {
                let this = upkeep.clone();
                if let Err(e) = tokio::task::spawn_blocking(move || this.upkeep()).await {
                    tracing::error!(error = %e, "upkeep task failed");
                }
                tokio::time::sleep(every).await;
            }
        });
        tokio::spawn(async move {
            loop {
                {
                    let _guard = self.lifecycle.lock().await;
                    let this = self.clone();
                    let result = tokio::task::spawn_blocking(move || this.tick()).await;
                    match result {
                        Ok(Ok(done)) if !done.is_empty() => {
                            tracing::info!(actions = done.len(), "lifecycle actions carried out")
                        }
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => tracing::error!(error = %e, "lifecycle run failed"),
                        Err(e) => tracing::error!(error = %e, "scheduler task failed"),
                    }
                }
                tokio::time::sleep(if self.service.is_shared_store() {
                    SHARED_TICK
                } else {
                    TICK
                })
                .await;
            }
        })
    }
}
