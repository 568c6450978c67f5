//! What the emulator's operator does (the admin API, the console's panel, the CLI): read the
//! events, set balances, reset. Moving the clock is the scheduler's (it runs what falls due).

use chrono::{DateTime, Utc};
use ecs_domain::model::{Account, Instance};
use ecs_domain::spot::{interrupt, InterruptRefusal};
use ecs_domain::{ApiError, Money};
use ecs_store::Event;
use ecs_store::{NewEvent, ResourceKind};
use serde_json::json;

use crate::Service;

impl Service {
    /// Up to `limit` recorded events after the cursor `after_seq`, oldest first.
    pub fn events_after(&self, after_seq: i64, limit: u32) -> Result<Vec<Event>, ApiError> {
        self.read(move |tx| Ok(tx.events_after(after_seq, limit)?))
    }

    /// The account owning an access key, after setting its balance if `set` is given; `None`
    /// when no such key (or account) exists.
    pub fn key_account_balance(
        &self,
        key_id: &str,
        set: Option<Money>,
    ) -> Result<Option<Account>, ApiError> {
        let Some(key) = self.access_key(key_id) else {
            return Ok(None);
        };
        let account_id = key.account_id;
        match set {
            Some(amount) => self.write_blocking(move |tx| {
                tx.set_balance(account_id, amount)?;
                Ok(tx.account(account_id)?)
            }),
            None => self.read(move |tx| Ok(tx.account(account_id)?)),
        }
    }

    /// Interrupts a spot instance of the account owning `key_id` (the operator standing in for
    /// ECS reclaiming capacity): it is locked `recycling` at once, the interruption event ECS
    /// emits (`Instance:PreemptibleInstanceInterruption`) is recorded, and the scheduler
    /// releases it when the notice period ends. Returns the release time.
    pub fn interrupt_spot_instance(
        &self,
        key_id: &str,
        instance_id: &str,
    ) -> Result<Result<DateTime<Utc>, InterruptError>, ApiError> {
        let Some(key) = self.access_key(key_id) else {
            return Ok(Err(InterruptError::NoSuchKey));
        };
        let (account, id, now) = (key.account_id, instance_id.to_string(), self.now());
        self.write_blocking(move |tx| {
            let Some(mut instance): Option<Instance> = tx.instance(account, &id)? else {
                return Ok(Err(InterruptError::NoSuchInstance));
            };
            let release_at = match interrupt(&mut instance, now) {
                Ok(at) => at,
                Err(InterruptRefusal::NotSpot) => return Ok(Err(InterruptError::NotSpot)),
                Err(InterruptRefusal::AlreadyInterrupted) => {
                    return Ok(Err(InterruptError::AlreadyInterrupted))
                }
            };
            tx.put_instance(&instance)?;
            tx.append_event(&NewEvent {
                account_id: account,
                resource: ResourceKind::Instance,
                resource_id: instance.id.clone(),
                action: SPOT_INTERRUPTION_EVENT.to_string(),
                scheduled_at: None,
                happened_at: now,
                outcome: "recycling".into(),
                detail: json!({
                    "action": "delete",
                    "SpotStrategy": instance.launch.spot_strategy.as_str(),
                    "release_time": release_at.to_rfc3339(),
                }),
            })?;
            Ok(Ok(release_at))
        })
    }

    /// Removes every resource, job, event and remembered token, and zeroes balances; accounts,
    /// keys, nonces and the clock stay.
    pub fn reset(&self) -> Result<(), ApiError> {
        self.write_blocking(|tx| Ok(tx.reset()?))
    }
}

/// The name of the event ECS emits when it interrupts a spot instance.
pub const SPOT_INTERRUPTION_EVENT: &str = "Instance:PreemptibleInstanceInterruption";

/// Why the operator's interruption was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterruptError {
    NoSuchKey,
    NoSuchInstance,
    NotSpot,
    AlreadyInterrupted,
}
