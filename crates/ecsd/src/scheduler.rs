//! The lifecycle scheduler: runs every due action from the store's due-time index, each exactly
//! once.
//!
//! Exactly once: a batch of due jobs is read and carried out inside one write transaction, and
//! carrying out an action changes the resource so that the action is no longer in its index
//! (released, renewed to a later date, locked). Writes are serialized by the store, so no two
//! runs can claim the same job. Before acting, each job is checked against the resource's
//! current schedule, so a job made stale by a later setting does nothing.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use ecs_domain::catalog::Catalog;
use ecs_domain::lifecycle::{
    attempt_renewal, expire_host, expire_instance, host_due, instance_due, ActionKind, Due, Outcome,
};
use ecs_domain::{ApiError, Money};
use ecs_store::{Job, NewEvent, ResourceKind, StoreTx, TxResult};
use serde::Serialize;
use serde_json::json;

use crate::app::App;
use crate::ops::release_instance;

/// How many due jobs one transaction carries out.
const BATCH: u32 = 512;
/// How often the real-clock scheduler looks for due work. Lateness is at most this plus the
/// time to carry the work out.
const TICK: StdDuration = StdDuration::from_millis(200);

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

/// Runs every action due at or before `now`, in due order, until none is left.
pub fn run_due(app: &App, now: DateTime<Utc>) -> Result<Vec<ActionRecord>, ApiError> {
    let mut done = Vec::new();
    loop {
        let catalog = app.catalog.clone();
        let grace = app.expiry_grace;
        let happened_at = app.clock.now();
        let batch = app.write(move |tx| {
            let jobs = tx.due_jobs(now, BATCH)?;
            let mut records = Vec::with_capacity(jobs.len());
            for job in &jobs {
                if let Some(r) = carry_out(tx, job, &catalog, grace, happened_at)? {
                    records.push(r);
                }
            }
            Ok((jobs.len(), records))
        });
        match batch {
            Ok((0, _)) => return Ok(done),
            Ok((_, records)) => done.extend(records),
            Err(e) => {
                tracing::error!(error = %e, "lifecycle batch failed; it will be retried");
                return Err(e);
            }
        }
    }
}

fn carry_out(
    tx: &mut dyn StoreTx,
    job: &Job,
    catalog: &Catalog,
    grace: Duration,
    happened_at: DateTime<Utc>,
) -> TxResult<Option<ActionRecord>> {
    let due = Due {
        kind: job.kind,
        at: job.due_at,
    };
    let outcome = match job.resource {
        ResourceKind::Instance => {
            let Some(mut instance) = tx.instance(job.account_id, &job.resource_id)? else {
                return Ok(None);
            };
            if !instance_due(&instance).contains(&due) {
                return Ok(None);
            }
            match job.kind {
                ActionKind::AutoRelease | ActionKind::ExpiryRelease => {
                    release_instance(
                        tx,
                        &instance,
                        job.kind.as_str(),
                        Some(job.due_at),
                        happened_at,
                    )?;
                    return Ok(Some(record(job, happened_at, "released")));
                }
                ActionKind::RenewalAttempt => {
                    let price = catalog
                        .instance_type(&instance.instance_type)
                        .map(|t| t.monthly_price)
                        .unwrap_or(Money::ZERO);
                    let outcome = renew(tx, job, instance.subscription.as_mut(), price)?;
                    tx.put_instance(&instance)?;
                    outcome
                }
                ActionKind::Expire => {
                    let o = expire_instance(&mut instance, job.due_at, grace);
                    tx.put_instance(&instance)?;
                    o
                }
            }
        }
        ResourceKind::DedicatedHost => {
            let Some(mut host) = tx.host(job.account_id, &job.resource_id)? else {
                return Ok(None);
            };
            if !host_due(&host).contains(&due) {
                return Ok(None);
            }
            match job.kind {
                ActionKind::AutoRelease | ActionKind::ExpiryRelease => {
                    tx.delete_host(host.account_id, &host.id)?;
                    Outcome::Released
                }
                ActionKind::RenewalAttempt => {
                    let price = catalog
                        .host_type(&host.host_type)
                        .map(|t| t.monthly_price)
                        .unwrap_or(Money::ZERO);
                    let outcome = renew(tx, job, host.subscription.as_mut(), price)?;
                    tx.put_host(&host)?;
                    outcome
                }
                ActionKind::Expire => {
                    let o = expire_host(&mut host, job.due_at, grace);
                    tx.put_host(&host)?;
                    o
                }
            }
        }
    };
    tx.append_event(&NewEvent {
        account_id: job.account_id,
        resource: job.resource,
        resource_id: job.resource_id.clone(),
        action: job.kind.as_str().to_string(),
        scheduled_at: Some(job.due_at),
        happened_at,
        outcome: outcome.label().to_string(),
        detail: outcome_detail(&outcome),
    })?;
    Ok(Some(record(job, happened_at, outcome.label())))
}

/// Charges a renewal from the owner's balance at the job's due time.
fn renew(
    tx: &mut dyn StoreTx,
    job: &Job,
    sub: Option<&mut ecs_domain::model::Subscription>,
    monthly_price: Money,
) -> TxResult<Outcome> {
    let Some(sub) = sub else {
        return Ok(Outcome::RenewalFailed {
            price: Money::ZERO,
            balance: Money::ZERO,
            next_attempt: None,
        });
    };
    let balance = tx
        .account(job.account_id)?
        .map(|a| a.balance)
        .unwrap_or(Money::ZERO);
    let (outcome, left) = attempt_renewal(sub, monthly_price, balance, job.due_at);
    if let Some(left) = left {
        tx.set_balance(job.account_id, left)?;
    }
    Ok(outcome)
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

fn record(job: &Job, happened_at: DateTime<Utc>, outcome: &'static str) -> ActionRecord {
    ActionRecord {
        resource_type: job.resource.as_str(),
        resource_id: job.resource_id.clone(),
        action: job.kind.as_str(),
        scheduled_at: job.due_at,
        happened_at,
        outcome,
    }
}

/// Catches up on start, then keeps running due work as the clock moves.
pub fn spawn(app: Arc<App>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            {
                let _guard = app.lifecycle_lock.lock().await;
                let worker = app.clone();
                let result =
                    tokio::task::spawn_blocking(move || run_due(&worker, worker.clock.now())).await;
                match result {
                    Ok(Ok(done)) if !done.is_empty() => {
                        tracing::info!(actions = done.len(), "lifecycle actions carried out")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "scheduler task failed"),
                }
            }
            tokio::time::sleep(TICK).await;
        }
    })
}
