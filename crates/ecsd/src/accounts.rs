//! Accounts and access keys: the offline commands and the start-up bootstrap of the default
//! account's key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ecs_domain::model::AccessKey;
use ecs_store::sqlite::SqliteStore;
use ecs_store::{Store, StoreError, StoreExt, TxError};
use ecs_store_postgres::{PgOptions, PgStore};

use crate::DataDir;

use crate::output::{say, OutputError};
use crate::secrets::{self, KeyRing, SecretsError};

pub const DEFAULT_ACCOUNT: &str = "default";

/// The lock file a running server holds in its data dir.
const SERVER_LOCK: &str = "ecsd.lock";

/// Getting at a data dir: its directory, the server lock, the store. Kept apart from
/// [`AccountsError`] because every command needs it, `secrets` included, which
/// [`AccountsError`] itself wraps.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("cannot create data dir {}", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open {}", path.display())]
    OpenLock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot lock {}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "another ecsd server is already running on {} (it holds {}); stop it first, or give \
         this one its own --data-dir",
        data_dir.display(),
        data_dir.join(SERVER_LOCK).display()
    )]
    ServerRunning { data_dir: PathBuf },
    #[error(
        "a server is running on {}: stop it first, or move its clock through the admin API \
         (`ecsd clock advance` without --offline)",
        data_dir.display()
    )]
    ServerInTheWay { data_dir: PathBuf },
    #[error("cannot open the database")]
    OpenDatabase(#[source] ecs_store_postgres::OpenError),
    #[error("unsupported database URL scheme in {shown:?}: use postgres://...")]
    DatabaseScheme { shown: String },
    #[error("cannot open store {}", path.display())]
    OpenStore {
        path: PathBuf,
        #[source]
        source: StoreError,
    },
}

/// Why an account command, or the start-up bootstrap of the default key, failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error("account name {name:?}: use a non-empty name without leading or trailing spaces")]
    BadName { name: String },
    /// The transaction's own refusals ("no account named ...") read best alone, as before.
    #[error(transparent)]
    Store(#[from] TxError),
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// Held exclusively by `ecsd serve` for as long as it runs: one server per data dir, since a
/// server keeps per-process state in front of the store (see `ecs_service::state`) and runs
/// the lifecycle alone. A second `ecsd serve`, and `clock advance --offline` (which would have
/// its change overwritten by the running server's clock), are refused. The offline account and
/// key commands do not take it: they only add rows, which a running server picks up.
pub fn hold_server_lock(data_dir: &Path) -> Result<std::fs::File, DataDirError> {
    take_lock(data_dir, || DataDirError::ServerRunning {
        data_dir: data_dir.to_path_buf(),
    })
}

/// The lock a stopped server leaves free; an error when a server is running on `data_dir`.
pub fn lock_out_servers(data_dir: &Path) -> Result<std::fs::File, DataDirError> {
    take_lock(data_dir, || DataDirError::ServerInTheWay {
        data_dir: data_dir.to_path_buf(),
    })
}

/// The server lock, or `held()` when another process has it: who is refused decides what
/// they are told to do about it.
fn take_lock(
    data_dir: &Path,
    held: impl FnOnce() -> DataDirError,
) -> Result<std::fs::File, DataDirError> {
    let file = open_lock(data_dir)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(held()),
        Err(std::fs::TryLockError::Error(source)) => Err(DataDirError::Lock {
            path: data_dir.join(SERVER_LOCK),
            source,
        }),
    }
}

fn open_lock(data_dir: &Path) -> Result<std::fs::File, DataDirError> {
    create_data_dir(data_dir)?;
    let path = data_dir.join(SERVER_LOCK);
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| DataDirError::OpenLock { path, source })
}

fn create_data_dir(data_dir: &Path) -> Result<(), DataDirError> {
    std::fs::create_dir_all(data_dir).map_err(|source| DataDirError::Create {
        path: data_dir.to_path_buf(),
        source,
    })
}

/// The store `dir` names: the database at its URL, or SQLite in the data dir.
pub fn open_store_in(dir: &DataDir) -> Result<Arc<dyn Store>, DataDirError> {
    let Some(url) = &dir.database_url else {
        return open_store(&dir.data_dir);
    };
    if !ecs_store_postgres::is_postgres_url(url) {
        // Only the scheme: the rest may hold a password.
        let shown = url.split("://").next().unwrap_or_default().to_string();
        return Err(DataDirError::DatabaseScheme { shown });
    }
    let options = PgOptions {
        pool_size: usize::from(dir.db_pool_size),
        statement_timeout: dir.db_statement_timeout,
        connect_timeout: dir.db_connect_timeout,
        ..PgOptions::new(url.clone())
    };
    let store = PgStore::open(&options).map_err(DataDirError::OpenDatabase)?;
    Ok(Arc::new(store))
}

/// The data dir's server lock, unless the store is shared by design (a database server):
/// then nothing in the data dir is the store, and the lock is not taken.
pub fn hold_server_lock_in(dir: &DataDir) -> Result<Option<std::fs::File>, DataDirError> {
    if dir.is_shared() {
        return Ok(None);
    }
    hold_server_lock(&dir.data_dir).map(Some)
}

/// [`lock_out_servers`] for a data-dir store; nothing for a shared one.
pub fn lock_out_servers_in(dir: &DataDir) -> Result<Option<std::fs::File>, DataDirError> {
    if dir.is_shared() {
        return Ok(None);
    }
    lock_out_servers(&dir.data_dir).map(Some)
}

pub fn open_store(data_dir: &Path) -> Result<Arc<dyn Store>, DataDirError> {
    create_data_dir(data_dir)?;
    let path = data_dir.join("ecsd.sqlite3");
    match SqliteStore::open(&path) {
        Ok(store) => Ok(Arc::new(store)),
        Err(source) => Err(DataDirError::OpenStore { path, source }),
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

pub fn create_account(data_dir: &Path, name: &str) -> Result<(), AccountsError> {
    create_account_in(&DataDir::at(data_dir), name)
}

pub fn create_account_in(dir: &DataDir, name: &str) -> Result<(), AccountsError> {
    if name.trim().is_empty() || name.trim() != name {
        return Err(AccountsError::BadName {
            name: name.to_string(),
        });
    }
    let store = open_store_in(dir)?;
    let owned = name.to_string();
    let account = store.write(move |tx| {
        if tx.account_by_name(&owned)?.is_some() {
            return Err(ecs_domain::error::common::INVALID_PARAMETER
                .with_message(format!("account {owned} already exists"))
                .into());
        }
        Ok(tx.create_account(&owned)?)
    })?;
    say!("Account: {} (id {})", account.name, account.id)?;
    Ok(())
}

pub fn create_access_key(data_dir: &Path, account: &str) -> Result<(), AccountsError> {
    create_access_key_in(&DataDir::at(data_dir), account)
}

pub fn create_access_key_in(dir: &DataDir, account: &str) -> Result<(), AccountsError> {
    let store = open_store_in(dir)?;
    let (id, secret) = new_key_pair();
    let sealed = secrets::unlock(&dir.data_dir, &store)?.seal(&id, &secret)?;
    let (owned, key_id, key_secret) = (account.to_string(), id.clone(), sealed);
    store.write(move |tx| {
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
    })?;
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
) -> Result<(), AccountsError> {
    let env_key = env_key
        .map(|(id, secret)| key_ring.seal(&id, &secret).map(|sealed| (id, sealed)))
        .transpose()?;
    // Sealed up front (the transaction cannot fail on it); stored only if the store has no key.
    let fresh = new_key_pair();
    let fresh_sealed = key_ring.seal(&fresh.0, &fresh.1)?;
    let fresh_id = fresh.0.clone();
    let generated = store.write(move |tx| {
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
    })?;
    if generated {
        let (id, secret) = fresh;
        say!("Generated an access key for the default account (shown once):")?;
        say!("AccessKeyId: {id}")?;
        say!("AccessKeySecret: {secret}")?;
    }
    Ok(())
}
