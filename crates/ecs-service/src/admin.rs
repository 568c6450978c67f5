//! What the emulator's operator does (the admin API, the console's panel, the CLI): read the
//! events, set balances, reset. Moving the clock is the scheduler's (it runs what falls due).

use ecs_domain::model::Account;
use ecs_domain::{ApiError, Money};
use ecs_store::Event;

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

    /// Removes every resource, job, event and remembered token, and zeroes balances; accounts,
    /// keys, nonces and the clock stay.
    pub fn reset(&self) -> Result<(), ApiError> {
        self.write_blocking(|tx| Ok(tx.reset()?))
    }
}
