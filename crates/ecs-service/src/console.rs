//! What the web console asks of the service beyond the API's commands:
//!
//! - **previews** of a release setting (the console's "Next" step): the same checks as the
//!   command, in a read-only snapshot, changing nothing. Each calls the check the command itself
//!   calls, so a preview can never promise what the command then refuses for another reason
//!   (short of a change made between the two);
//! - its **records** (sessions, the last result shown), kept in the store's settings, so every
//!   replica serving the store sees them;
//! - for the emulator panel: the **accounts** with their keys and balances, and the **latest
//!   events**.
//!
//! No rule lives here that a command does not share.

use chrono::{DateTime, Utc};
use ecs_domain::disk::{on_release, Disk};
use ecs_domain::model::{Account, DedicatedHost, Instance};
use ecs_domain::ApiError;
use ecs_store::Event;

use crate::hosts::{
    check_host_release, ReleaseHost, HOST_RELEASE_TIME_ROWS, NOT_FOUND as HOST_NOT_FOUND,
};
use crate::instances::{
    check_release, release_time_allowed, release_window, ReleaseInstance, ReleaseTimeRows,
    SetReleaseTime, INSTANCE_RELEASE_TIME_ROWS, NOT_FOUND,
};
use crate::resource::{find, Billed};
use crate::{Caller, Service};

/// What releasing an instance would do to its disks (the console's confirm step shows it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskPreview {
    /// Released with the instance (the system disk, data disks with DeleteWithInstance).
    pub released: Vec<Disk>,
    /// Detached and kept, `Available`.
    pub detached: Vec<Disk>,
}

/// Every console record's setting name starts with this, so the console can never read or
/// overwrite another setting (the virtual clock's time).
const RECORD_PREFIX: &str = "console:";

impl Service {
    /// What [`Service::set_instance_release_time`] would answer, changing nothing.
    pub fn preview_instance_release_time(
        &self,
        caller: &Caller,
        cmd: &SetReleaseTime,
    ) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.preview_release_time::<Instance>(caller, cmd, &INSTANCE_RELEASE_TIME_ROWS)
    }

    /// What [`Service::set_host_release_time`] would answer, changing nothing.
    pub fn preview_host_release_time(
        &self,
        caller: &Caller,
        cmd: &SetReleaseTime,
    ) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.preview_release_time::<DedicatedHost>(caller, cmd, &HOST_RELEASE_TIME_ROWS)
    }

    /// The release time that would be kept (`None`: cancelled), or the refusal.
    fn preview_release_time<R: Billed>(
        &self,
        caller: &Caller,
        cmd: &SetReleaseTime,
        rows: &'static ReleaseTimeRows,
    ) -> Result<Option<DateTime<Utc>>, ApiError> {
        let at = release_window(cmd.at, self.now(), rows.malformed)?;
        let (account, cmd) = (caller.account_id, cmd.clone());
        self.read(move |tx| {
            let resource: R = find(tx, account, cmd.region.as_deref(), &cmd.id, rows.not_found)?;
            release_time_allowed(&resource, rows)?;
            Ok(())
        })?;
        Ok(at)
    }

    /// What [`Service::release_instance`] would answer, changing nothing: when it would release
    /// the instance (whatever `cmd.dry_run` says), which of its disks would go with it and which
    /// would be detached and kept, sorted by the rule the release itself applies.
    pub fn preview_release_instance(
        &self,
        caller: &Caller,
        cmd: &ReleaseInstance,
    ) -> Result<DiskPreview, ApiError> {
        let (account, cmd) = (caller.account_id, cmd.clone());
        self.read(move |tx| {
            let instance: Instance = find(tx, account, cmd.region.as_deref(), &cmd.id, NOT_FOUND)?;
            check_release(&instance, cmd.force, cmd.terminate_subscription)?;
            let disks = tx.disks(account, None, Some(&instance.id))?;
            let fate = on_release(disks.clone());
            let released = disks
                .into_iter()
                .filter(|d| fate.released.contains(&d.id))
                .collect();
            Ok(DiskPreview {
                released,
                detached: fate.detached,
            })
        })
    }

    /// What [`Service::release_host`] would answer, changing nothing.
    pub fn preview_release_host(&self, caller: &Caller, cmd: &ReleaseHost) -> Result<(), ApiError> {
        let (account, cmd) = (caller.account_id, cmd.clone());
        self.read(move |tx| {
            let host = match tx.host(account, &cmd.id)? {
                Some(h) if h.region_id == cmd.region => h,
                _ => return Err(HOST_NOT_FOUND.err().into()),
            };
            check_host_release(tx, &host)
        })
    }

    /// A console record (a session, a result to show), or `None` when there is none or it was
    /// removed.
    pub fn console_record(&self, name: &str) -> Result<Option<String>, ApiError> {
        let key = format!("{RECORD_PREFIX}{name}");
        Ok(self
            .read(move |tx| Ok(tx.setting(&key)?))?
            .filter(|v| !v.is_empty()))
    }

    /// Stores a console record durably; `None` removes it (the store keeps an empty value: its
    /// settings have no delete, and an empty record reads as none).
    pub async fn put_console_record(
        &self,
        name: &str,
        value: Option<String>,
    ) -> Result<(), ApiError> {
        let key = format!("{RECORD_PREFIX}{name}");
        let value = value.unwrap_or_default();
        self.submit(move |tx| Ok(tx.put_setting(&key, &value)?))
            .await
    }

    /// The account with this id.
    pub fn account(&self, id: i64) -> Result<Option<Account>, ApiError> {
        self.read(move |tx| Ok(tx.account(id)?))
    }

    /// Every account that has an access key, with its key ids, in account order.
    pub fn accounts_with_keys(&self) -> Result<Vec<(Account, Vec<String>)>, ApiError> {
        self.read(|tx| {
            let mut keys = tx.access_keys()?;
            keys.sort_by(|a, b| (a.account_id, &a.id).cmp(&(b.account_id, &b.id)));
            let mut out: Vec<(Account, Vec<String>)> = Vec::new();
            for key in keys {
                match out.last_mut() {
                    Some((account, ids)) if account.id == key.account_id => ids.push(key.id),
                    _ => {
                        if let Some(account) = tx.account(key.account_id)? {
                            out.push((account, vec![key.id]));
                        }
                    }
                }
            }
            Ok(out)
        })
    }

    /// Up to `limit` of the most recent events, oldest first.
    ///
    /// The store pages events forward from a cursor only. The last cursor is found with a
    /// handful of one-row reads (doubling, then halving), each an index lookup, so this stays
    /// cheap however many events there are; then the tail is read forward.
    pub fn latest_events(&self, limit: u32) -> Result<Vec<Event>, ApiError> {
        let limit = limit.max(1);
        self.read(move |tx| {
            let Some(first) = tx.events_after(0, 1)?.pop() else {
                return Ok(Vec::new());
            };
            // Invariant: an event follows `low`, none follows `high`.
            let mut low = first.seq - 1;
            let mut step = 1i64;
            let mut high = loop {
                let probe = low.saturating_add(step);
                if tx.events_after(probe, 1)?.is_empty() {
                    break probe;
                }
                low = probe;
                step = step.saturating_mul(2);
            };
            while high - low > 1 {
                let mid = low + (high - low) / 2;
                if tx.events_after(mid, 1)?.is_empty() {
                    high = mid;
                } else {
                    low = mid;
                }
            }
            // `high` is the last event's seq. Seqs may have gaps (a sequence a rolled-back
            // transaction used), so the window back from it widens until it holds `limit`
            // events or reaches the first one. At most `window` events lie in it.
            let mut window = i64::from(limit);
            loop {
                let from = (high - window).max(first.seq - 1);
                let events = tx.events_after(from, u32::try_from(window).unwrap_or(u32::MAX))?;
                if events.len() >= limit as usize || from == first.seq - 1 {
                    let tail = events.len().saturating_sub(limit as usize);
                    return Ok(events[tail..].to_vec());
                }
                window = window.saturating_mul(2);
            }
        })
    }
}
