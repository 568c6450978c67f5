//! Accounts and access keys: the offline commands and the start-up bootstrap of the default
//! account's key.

use std::path::Path;
use std::sync::Arc;

use ecs_domain::model::AccessKey;
use ecs_store::sqlite::SqliteStore;
use ecs_store::{Store, StoreExt, TxError};

use crate::output::say;
use crate::secrets::{self, KeyRing};

pub const DEFAULT_ACCOUNT: &str = "default";

/// The lock file a running server holds in its data dir.
const SERVER_LOCK: &str = "ecsd.lock";

/// Held exclusively by `ecsd serve` for as long as it runs: one server per data dir, since a
/// server keeps per-process state in front of the store (see `ecs_service::state`) and runs
/// the lifecycle alone. A second `ecsd serve`, and `clock advance --offline` (which would have
/// its change overwritten by the running server's clock), are refused. The offline account and
/// key commands do not take it: they only add rows, which a running server picks up.
pub fn hold_server_lock(data_dir: &Path) -> Result<std::fs::File, String> {
    let file = open_lock(data_dir)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "another ecsd server is already running on {} (it holds {}); stop it first, or give \
             this one its own --data-dir",
            data_dir.display(),
            data_dir.join(SERVER_LOCK).display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(format!(
            "cannot lock {}: {e}",
            data_dir.join(SERVER_LOCK).display()
        )),
    }
}

/// The lock a stopped server leaves free; an error when a server is running on `data_dir`.
pub fn lock_out_servers(data_dir: &Path) -> Result<std::fs::File, String> {
    let file = open_lock(data_dir)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "a server is running on {}: stop it first, or move its clock through the admin API \
             (`ecsd clock advance` without --offline)",
            data_dir.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(format!(
            "cannot lock {}: {e}",
            data_dir.join(SERVER_LOCK).display()
        )),
    }
}

fn open_lock(data_dir: &Path) -> Result<std::fs::File, String> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create data dir {}: {e}", data_dir.display()))?;
    let path = data_dir.join(SERVER_LOCK);
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))
}

pub fn open_store(data_dir: &Path) -> Result<Arc<dyn Store>, String> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create data dir {}: {e}", data_dir.display()))?;
    let path = data_dir.join("ecsd.sqlite3");
    let store = SqliteStore::open(&path)
        .map_err(|e| format!("cannot open store {}: {e}", path.display()))?;
    Ok(Arc::new(store))
}

pub fn tx_message(e: TxError) -> String {
    match e {
        TxError::Rejected(api) => api.message.into_owned(),
        TxError::Store(s) => s.to_string(),
    }
}

/// A fresh key pair in the shape of Alibaba Cloud's: `LTAI` + 20 characters, and a
/// 30-character secret.
pub fn new_key_pair() -> (String, String) {
    use rand::Rng;
    const ALPHANUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let mut pick = |n: usize| -> String {
        (0..n)
            .map(|_| ALPHANUM[rng.gen_range(0..ALPHANUM.len())] as char)
            .collect()
    };
    (format!("LTAI{}", pick(20)), pick(30))
}

pub fn create_account(data_dir: &Path, name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.trim() != name {
        return Err(format!(
            "account name {name:?}: use a non-empty name without leading or trailing spaces"
        ));
    }
    let store = open_store(data_dir)?;
    let owned = name.to_string();
    let account = store
        .write(move |tx| {
            if tx.account_by_name(&owned)?.is_some() {
                return Err(ecs_domain::error::common::INVALID_PARAMETER
                    .with_message(format!("account {owned} already exists"))
                    .into());
            }
            Ok(tx.create_account(&owned)?)
        })
        .map_err(tx_message)?;
    say!("Account: {} (id {})", account.name, account.id)?;
    Ok(())
}

pub fn create_access_key(data_dir: &Path, account: &str) -> Result<(), String> {
    let store = open_store(data_dir)?;
    let (id, secret) = new_key_pair();
    let sealed = secrets::unlock(data_dir, &store)?.seal(&id, &secret)?;
    let (owned, key_id, key_secret) = (account.to_string(), id.clone(), sealed);
    store
        .write(move |tx| {
            let Some(acc) = tx.account_by_name(&owned)? else {
                return Err(ecs_domain::error::common::INVALID_PARAMETER
                    .with_message(format!("no account named {owned}"))
                    .into());
            };
            tx.put_access_key(&AccessKey {
                id: key_id.clone(),
                secret: key_secret.clone(),
                account_id: acc.id,
            })?;
            Ok(())
        })
        .map_err(tx_message)?;
    say!("Account: {account}")?;
    say!("AccessKeyId: {id}")?;
    say!("AccessKeySecret: {secret}")?;
    Ok(())
}

/// Makes sure the default account exists and has a key: the one from the environment, or (on
/// an empty store) a generated one, printed once. Secrets are stored sealed with `key_ring`.
pub fn bootstrap_default(
    store: &Arc<dyn Store>,
    env_key: Option<(String, String)>,
    key_ring: &KeyRing,
) -> Result<(), String> {
    let env_key = env_key
        .map(|(id, secret)| key_ring.seal(&id, &secret).map(|sealed| (id, sealed)))
        .transpose()?;
    // Sealed up front (the transaction cannot fail on it); stored only if the store has no key.
    let fresh = new_key_pair();
    let fresh_sealed = key_ring.seal(&fresh.0, &fresh.1)?;
    let fresh_id = fresh.0.clone();
    let generated = store
        .write(move |tx| {
            let account = match tx.account_by_name(DEFAULT_ACCOUNT)? {
                Some(a) => a,
                None => tx.create_account(DEFAULT_ACCOUNT)?,
            };
            match env_key.clone() {
                Some((id, secret)) => {
                    if let Some(existing) = tx.access_key(&id)? {
                        if existing.account_id != account.id {
                            return Err(ecs_domain::error::common::INVALID_PARAMETER
                                .with_message(format!("access key {id} belongs to another account"))
                                .into());
                        }
                    }
                    tx.put_access_key(&AccessKey {
                        id,
                        secret,
                        account_id: account.id,
                    })?;
                    Ok(false)
                }
                None if tx.access_keys()?.is_empty() => {
                    tx.put_access_key(&AccessKey {
                        id: fresh_id.clone(),
                        secret: fresh_sealed.clone(),
                        account_id: account.id,
                    })?;
                    Ok(true)
                }
                None => Ok(false),
            }
        })
        .map_err(tx_message)?;
    if generated {
        let (id, secret) = fresh;
        say!("Generated an access key for the default account (shown once):")?;
        say!("AccessKeyId: {id}")?;
        say!("AccessKeySecret: {secret}")?;
    }
    Ok(())
}
