//! Carrying out due lifecycle actions: the work the scheduler claims, applied by the same rules
//! as every other change.
//!
//! Exactly once rests on two things. A job is carried out only by the owner of a live claim on
//! it, checked in the transaction that carries it out ([`StoreTx::holds_claim`]), and that
//! transaction also ends the claim; so two claimers never both act on one job. And an action
//! changes its resource so that the action is no longer due (released, renewed to a later date,
//! locked); a job that no longer matches its resource's schedule does nothing. So an action
//! replayed (by a claimer whose lease was taken over) is a no-op by construction.

use chrono::{DateTime, Utc};
use ecs_domain::lifecycle::{attempt_renewal, ActionKind, Due, Outcome};
use ecs_domain::model::{DedicatedHost, Instance, Subscription};
use ecs_domain::{ApiError, Money};
use ecs_store::{Claim, InstanceFilter, Job, NewEvent, Page, ResourceKind, StoreTx, TxResult};
use serde::Serialize;
use serde_json::json;

use crate::clock::move_up_to;
use crate::instances::release;
use crate::resource::Billed;
use crate::Service;

/// One action carried out, as the admin API reports it.
#[derive(Debug, Clone, Serialize)]
pub struct ActionRecord {
    pub resource_type: &'static str,
    pub resource_id: String,
    pub action: &'static str,
    pub scheduled_at: DateTime<Utc>,
    pub happened_at: DateTime<Utc>,
    pub outcome: &'static str,
}

/// How a batch of claimed jobs is to be recorded.
#[derive(Debug, Clone, Copy)]
pub struct Replay {
    /// Set when a virtual clock jumped from this time: an action that fell due inside the jump
    /// is recorded at its due time, as it would have been with the clock running. Otherwise
    /// actions are recorded at the clock's time when carried out, so any lateness shows.
    pub jumped_from: Option<DateTime<Utc>>,
}

impl Service {
    /// Claims up to `limit` jobs due at or before `now` for `claim.owner`. During a jump
    /// (`jump` set), the virtual clock is moved up to the first claimed job's due time in the
    /// same transaction: calls served meanwhile see the time of the work being done, not the
    /// jump's end, so nothing still due can be changed by a call only a later time would allow
    /// (a release time more than three years past the due one).
    pub fn claim_due(
        &self,
        now: DateTime<Utc>,
        claim: &Claim,
        limit: u32,
        jump: bool,
    ) -> Result<Vec<Job>, ApiError> {
        let claim = claim.clone();
        self.write_blocking(move |tx| {
            let jobs = tx.claim_due_jobs(now, &claim, limit)?;
            if jump {
                if let Some(first) = jobs.first() {
                    move_up_to(tx, first.due_at.min(now))?;
                }
            }
            Ok(jobs)
        })
    }

    /// The earliest due time in the index.
    pub fn next_due(&self) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.read(|tx| Ok(tx.next_due()?))
    }

    /// Carries out claimed `jobs` (earliest first) in one transaction, each only while `owner`
    /// still holds its claim. An action can schedule a new one (a failed renewal plans
    /// tomorrow's retry) that falls before the rest of the batch; the batch stops there, and
    /// the jobs not reached stay claimed by `owner`, whose next claim takes them again, read
    /// afresh from the index in due order.
    pub fn carry_out(
        &self,
        owner: &str,
        jobs: &[Job],
        replay: Replay,
    ) -> Result<Vec<ActionRecord>, ApiError> {
        let clock_now = self.now();
        let (owner, jobs) = (owner.to_owned(), jobs.to_vec());
        let catalog = self.catalog.clone();
        let grace = self.expiry_grace;
        self.write_blocking(move |tx| {
            let mut records = Vec::with_capacity(jobs.len());
            let mut horizon: Option<DateTime<Utc>> = None;
            for job in &jobs {
                if horizon.is_some_and(|h| job.due_at > h) {
                    // Left claimed: the owner's next claim takes its own jobs again, in due
                    // order after the new one.
                    break;
                }
                if !tx.holds_claim(job, &owner)? {
                    continue;
                }
                let happened_at = match replay.jumped_from {
                    Some(from) if job.due_at >= from => job.due_at,
                    _ => clock_now,
                };
                let mut ctx = ActionCtx {
                    tx: &mut *tx,
                    job,
                    catalog: &catalog,
                    grace,
                    happened_at,
                };
                let (carried, next) = ctx.carry_out()?;
                records.extend(carried);
                tx.finish_claim(job, &owner)?;
                if let Some(next) = next {
                    horizon = Some(horizon.map_or(next, |h| h.min(next)));
                }
            }
            Ok(records)
        })
    }

    /// Records that a job could not be carried out (it stays due, to be retried).
    pub fn record_failure(&self, job: &Job, error: &ApiError) -> Result<(), ApiError> {
        let event = NewEvent {
            account_id: job.account_id,
            resource: job.resource,
            resource_id: job.resource_id.clone(),
            action: job.kind.as_str().to_string(),
            scheduled_at: Some(job.due_at),
            happened_at: self.now(),
            outcome: "failed".into(),
            detail: json!({"error": error.message.as_ref(), "code": error.code.as_ref()}),
        };
        self.write_blocking(move |tx| Ok(tx.append_event(&event)?))
            .map(drop)
    }
}

struct ActionCtx<'a, 'tx> {
    tx: &'a mut (dyn StoreTx + 'tx),
    job: &'a Job,
    catalog: &'a ecs_domain::catalog::Catalog,
    grace: chrono::Duration,
    happened_at: DateTime<Utc>,
}

impl ActionCtx<'_, '_> {
    fn due(&self) -> Due {
        Due {
            kind: self.job.kind,
            at: self.job.due_at,
        }
    }

    /// Applies the job to its resource. Returns what was done and the earliest action the
    /// resource now has due, if the action rescheduled it.
    fn carry_out(&mut self) -> TxResult<(Vec<ActionRecord>, Option<DateTime<Utc>>)> {
        match self.job.resource {
            ResourceKind::Instance => {
                let Some(instance) =
                    Instance::load(self.tx, self.job.account_id, &self.job.resource_id)?
                else {
                    return Ok((Vec::new(), None));
                };
                if !instance.due().contains(&self.due()) {
                    return Ok((Vec::new(), None));
                }
                if matches!(
                    self.job.kind,
                    ActionKind::AutoRelease
                        | ActionKind::ExpiryRelease
                        | ActionKind::SpotInterruption
                ) {
                    release(
                        self.tx,
                        &instance,
                        self.job.kind.as_str(),
                        Some(self.job.due_at),
                        self.happened_at,
                    )?;
                    return Ok((vec![self.record(Outcome::Released.label())], None));
                }
                self.keep_or_expire(instance)
            }
            ResourceKind::DedicatedHost => {
                let Some(host) =
                    DedicatedHost::load(self.tx, self.job.account_id, &self.job.resource_id)?
                else {
                    return Ok((Vec::new(), None));
                };
                if !host.due().contains(&self.due()) {
                    return Ok((Vec::new(), None));
                }
                if matches!(
                    self.job.kind,
                    ActionKind::AutoRelease | ActionKind::ExpiryRelease
                ) {
                    let mut carried = self.release_placed_instances(&host)?;
                    self.tx.delete_host(host.account_id, &host.id)?;
                    self.append_outcome_event(&Outcome::Released)?;
                    carried.push(self.record(Outcome::Released.label()));
                    return Ok((carried, None));
                }
                self.keep_or_expire(host)
            }
        }
    }

    /// The arms instances and hosts share: a renewal attempt, or expiry.
    fn keep_or_expire<R: Billed>(
        &mut self,
        mut resource: R,
    ) -> TxResult<(Vec<ActionRecord>, Option<DateTime<Utc>>)> {
        let outcome = match self.job.kind {
            ActionKind::RenewalAttempt => {
                let price = resource.monthly_price(self.catalog);
                self.renew(resource.subscription_mut(), price)?
            }
            ActionKind::Expire => resource.expire(self.job.due_at, self.grace),
            ActionKind::AutoRelease | ActionKind::ExpiryRelease | ActionKind::SpotInterruption => {
                unreachable!("releases are carried out by the caller")
            }
        };
        resource.save(self.tx)?;
        self.append_outcome_event(&outcome)?;
        let next = resource.due().iter().map(|d| d.at).min();
        Ok((vec![self.record(outcome.label())], next))
    }

    /// Charges a renewal from the owner's balance at the job's due time.
    fn renew(&mut self, sub: Option<&mut Subscription>, monthly_price: Money) -> TxResult<Outcome> {
        let Some(sub) = sub else {
            return Ok(Outcome::RenewalFailed {
                price: Money::ZERO,
                balance: Money::ZERO,
                next_attempt: None,
            });
        };
        let balance = self
            .tx
            .account(self.job.account_id)?
            .map(|a| a.balance)
            .unwrap_or(Money::ZERO);
        let (outcome, left) = attempt_renewal(sub, monthly_price, balance, self.job.due_at);
        if let Some(left) = left {
            self.tx.set_balance(self.job.account_id, left)?;
        }
        Ok(outcome)
    }

    /// Releases the instances placed on a host that is being released, under the host's
    /// action.
    ///
    /// ReleaseDedicatedHost refuses a host that still has instances (InstanceExist), but a
    /// release time is kept whatever runs there ("make sure that you have stopped using these
    /// DDHs"). The instances cannot outlive the host they run on; keeping them would leave them
    /// pointing at a host that no longer exists.
    fn release_placed_instances(&mut self, host: &DedicatedHost) -> TxResult<Vec<ActionRecord>> {
        let filter = InstanceFilter {
            account_id: host.account_id,
            host_id: Some(host.id.clone()),
            ..InstanceFilter::default()
        };
        let mut carried = Vec::new();
        let mut after = 0;
        loop {
            let page = self
                .tx
                .list_instances(&filter, Page::After { after, limit: 100 })?;
            for instance in &page.items {
                release(
                    self.tx,
                    instance,
                    self.job.kind.as_str(),
                    Some(self.job.due_at),
                    self.happened_at,
                )?;
                carried.push(ActionRecord {
                    resource_type: ResourceKind::Instance.as_str(),
                    resource_id: instance.id.clone(),
                    ..self.record(Outcome::Released.label())
                });
            }
            match page.next_after {
                Some(next) => after = next,
                None => return Ok(carried),
            }
        }
    }

    fn append_outcome_event(&mut self, outcome: &Outcome) -> TxResult<()> {
        self.tx.append_event(&NewEvent {
            account_id: self.job.account_id,
            resource: self.job.resource,
            resource_id: self.job.resource_id.clone(),
            action: self.job.kind.as_str().to_string(),
            scheduled_at: Some(self.job.due_at),
            happened_at: self.happened_at,
            outcome: outcome.label().to_string(),
            detail: outcome_detail(outcome),
        })?;
        Ok(())
    }

    fn record(&self, outcome: &'static str) -> ActionRecord {
        ActionRecord {
            resource_type: self.job.resource.as_str(),
            resource_id: self.job.resource_id.clone(),
            action: self.job.kind.as_str(),
            scheduled_at: self.job.due_at,
            happened_at: self.happened_at,
            outcome,
        }
    }
}

fn outcome_detail(outcome: &Outcome) -> serde_json::Value {
    use ecs_domain::time::format_minute;
    match outcome {
        Outcome::Released => json!({}),
        Outcome::Renewed {
            charged,
            new_expired_time,
        } => json!({"charged": charged, "expired_time": format_minute(*new_expired_time)}),
        Outcome::RenewalFailed {
            price,
            balance,
            next_attempt,
        } => json!({
            "price": price,
            "balance": balance,
            "next_attempt": next_attempt.map(|t| t.to_rfc3339()),
        }),
        Outcome::Locked { release_time } => json!({"release_time": release_time.to_rfc3339()}),
    }
}
