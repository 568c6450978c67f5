//! Secrets at rest. An AccessKeySecret is never stored as it is: the store holds
//! `enc:v1:<master-key-id>:<base64(nonce || ciphertext)>`, sealed with XChaCha20-Poly1305 under a
//! 32-byte master key that lives outside the database, in `ECSD_MASTER_KEY` (base64) or in
//! `<data-dir>/ecsd.key` (created at the first start, mode 0600). A copy of the database file
//! alone therefore does not give away any key's secret.
//!
//! The access key's id is the associated data of its sealed secret, so a sealed value copied
//! into another row does not open. The master key's id (a fingerprint of the key) is part of
//! the stored form, so that a value sealed under an older key is recognized and re-sealed, and
//! a start with the wrong key fails with the name of the key it needs.
//!
//! Rows written by an older ecsd hold the plain secret; a start re-seals them (and any row
//! sealed under a key that is only kept for opening) in one transaction. `ecsd secrets rotate`
//! does the same under a freshly generated key file.

use std::collections::BTreeSet;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ecs_domain::model::AccessKey;
use ecs_store::{Store, StoreError, StoreExt, TxError};
use sha2::{Digest, Sha256};

use crate::accounts::{lock_out_servers_in, open_store_in, DataDirError};
use crate::output::{say, OutputError};

/// The master key file in the data dir.
pub const KEY_FILE: &str = "ecsd.key";
/// The key a rotation replaced, kept so that rows it sealed still open until they are
/// re-sealed (an interrupted rotation, a key added by the CLI during one).
pub const OLD_KEY_FILE: &str = "ecsd.key.old";
/// Where a rotation writes its new key before swapping it in.
const NEW_KEY_FILE: &str = "ecsd.key.new";
pub const MASTER_KEY_ENV: &str = "ECSD_MASTER_KEY";
pub const OLD_MASTER_KEY_ENV: &str = "ECSD_MASTER_KEY_OLD";

/// Anything stored with this prefix is taken to be sealed (in some version); anything else is
/// a plain secret from before secrets were sealed.
const SEALED_PREFIX: &str = "enc:";
const SEALED_V1: &str = "enc:v1:";
const NONCE_LEN: usize = 24;
/// Binds a sealed value to its purpose and its row: the access key's id follows.
const AAD_CONTEXT: &[u8] = b"ecsd access-key secret v1\0";
/// Keeps the key fingerprint apart from any other hash of the key.
const KEY_ID_CONTEXT: &[u8] = b"ecsd master key id\0";

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("{var} is not a master key: it must be the base64 of 32 random bytes (e.g. the output of `openssl rand -base64 32`)")]
    BadEnvKey { var: &'static str },
    #[error("{} is not a master key: it must hold the base64 of 32 random bytes", path.display())]
    BadKeyFile { path: PathBuf },
    #[error("cannot read the master key file {}", path.display())]
    ReadKey {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the master key file {}", path.display())]
    WriteKey {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "refusing to start: the stored access-key secrets are sealed with master key {ids}, \
         but {MASTER_KEY_ENV} is not set and {} does not exist. Restore the key file (from the \
         backup the database came from) or set {MASTER_KEY_ENV}; a new key would lock out every \
         access key",
        path.display()
    )]
    NoKey { ids: String, path: PathBuf },
    #[error(
        "refusing to start: the stored access-key secrets need master key {missing}, which is \
         not loaded (loaded: {loaded}). Set {MASTER_KEY_ENV} to it, or restore it as {} (or \
         as {OLD_MASTER_KEY_ENV} / {} while moving to a new key)",
        dir.join(KEY_FILE).display(),
        dir.join(OLD_KEY_FILE).display()
    )]
    KeyNotLoaded {
        missing: String,
        loaded: String,
        dir: PathBuf,
    },
    #[error("the stored secret of access key {key_id} does not open: it was altered, or sealed for another key")]
    Tampered { key_id: String },
    #[error("the stored secret of access key {key_id} is sealed with master key {master}, which is not loaded")]
    UnknownMaster { key_id: String, master: String },
    #[error("the stored secret of access key {key_id} is not in a sealed form this ecsd knows")]
    Malformed { key_id: String },
    #[error(
        "the stored secret of access key {key_id} is not sealed (restart the server to seal it)"
    )]
    NotSealed { key_id: String },
    #[error("cannot seal the secret of access key {key_id}")]
    Seal { key_id: String },
    #[error("cannot {what}")]
    Store {
        what: &'static str,
        #[source]
        source: StoreError,
    },
    /// `ecsd secrets rotate` opens the data dir itself.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// The message with its chain of causes, for the command line's `ecsd: ...` line: each cause's
/// Display, never Debug, which would show a person Rust's structures.
pub fn report(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

fn store_error(what: &'static str) -> impl FnOnce(TxError) -> SecretsError {
    move |e| SecretsError::Store {
        what,
        source: match e {
            TxError::Store(s) => s,
            // Our transactions refuse nothing; keep the message should one ever do.
            TxError::Rejected(api) => StoreError::Backend(api.message.into_owned()),
        },
    }
}

/// One master key. Only its id is ever shown.
#[derive(Clone)]
struct MasterKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl MasterKey {
    fn new(bytes: &[u8; 32]) -> Self {
        let digest = Sha256::new()
            .chain_update(KEY_ID_CONTEXT)
            .chain_update(bytes)
            .finalize();
        Self {
            id: hex::encode(&digest[..8]),
            cipher: XChaCha20Poly1305::new(bytes.into()),
        }
    }

    fn generate() -> ([u8; 32], Self) {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let key = Self::new(&bytes);
        (bytes, key)
    }
}

fn parse_key(text: &str) -> Option<[u8; 32]> {
    BASE64.decode(text.trim()).ok()?.try_into().ok()
}

fn aad(key_id: &str) -> Vec<u8> {
    [AAD_CONTEXT, key_id.as_bytes()].concat()
}

/// What a stored secret column holds.
enum Stored<'a> {
    Plain,
    Sealed { master: &'a str, payload: &'a str },
    Unknown,
}

fn classify(stored: &str) -> Stored<'_> {
    if !stored.starts_with(SEALED_PREFIX) {
        return Stored::Plain;
    }
    match stored
        .strip_prefix(SEALED_V1)
        .and_then(|rest| rest.split_once(':'))
    {
        Some((master, payload)) if !master.is_empty() => Stored::Sealed { master, payload },
        _ => Stored::Unknown,
    }
}

/// The key that seals, and the older ones that still open what they sealed.
#[derive(Clone)]
pub struct KeyRing {
    sealing: MasterKey,
    opening: Vec<MasterKey>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("sealing", &self.sealing.id)
            .field(
                "opening",
                &self.opening.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl KeyRing {
    fn new(sealing: MasterKey, others: impl IntoIterator<Item = MasterKey>) -> Self {
        let mut opening: Vec<MasterKey> = Vec::new();
        for key in others {
            if key.id != sealing.id && opening.iter().all(|k| k.id != key.id) {
                opening.push(key);
            }
        }
        Self { sealing, opening }
    }

    /// A ring whose key is random and never stored: it opens nothing in any store.
    #[cfg(test)]
    pub fn ephemeral() -> Self {
        Self::new(MasterKey::generate().1, [])
    }

    /// The id of the key new secrets are sealed with.
    pub fn sealing_key_id(&self) -> &str {
        &self.sealing.id
    }

    fn find(&self, id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.sealing)
            .chain(&self.opening)
            .find(|k| k.id == id)
    }

    fn loaded_ids(&self) -> String {
        std::iter::once(&self.sealing)
            .chain(&self.opening)
            .map(|k| k.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The stored form of `secret`, the secret of access key `key_id`.
    pub fn seal(&self, key_id: &str, secret: &str) -> Result<String, SecretsError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = aad(key_id);
        let sealed = self
            .sealing
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: secret.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| SecretsError::Seal {
                key_id: key_id.to_string(),
            })?;
        let payload = BASE64.encode([nonce.as_slice(), &sealed].concat());
        Ok(format!("{SEALED_V1}{}:{payload}", self.sealing.id))
    }

    /// The secret of access key `key_id` from its stored form; a plain (never sealed) value is
    /// refused: after the start-up migration none is left, and one that appears was not
    /// written by ecsd.
    pub fn open(&self, key_id: &str, stored: &str) -> Result<String, SecretsError> {
        let owned = || key_id.to_string();
        let (master, payload) = match classify(stored) {
            Stored::Sealed { master, payload } => (master, payload),
            Stored::Plain => return Err(SecretsError::NotSealed { key_id: owned() }),
            Stored::Unknown => return Err(SecretsError::Malformed { key_id: owned() }),
        };
        let key = self
            .find(master)
            .ok_or_else(|| SecretsError::UnknownMaster {
                key_id: owned(),
                master: master.to_string(),
            })?;
        let bytes = BASE64
            .decode(payload)
            .map_err(|_| SecretsError::Malformed { key_id: owned() })?;
        if bytes.len() < NONCE_LEN {
            return Err(SecretsError::Malformed { key_id: owned() });
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let aad = aad(key_id);
        let plain = key
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| SecretsError::Tampered { key_id: owned() })?;
        String::from_utf8(plain).map_err(|_| SecretsError::Tampered { key_id: owned() })
    }

    /// Like [`open`](Self::open), but a plain value is taken as it is: for the migration only.
    fn reveal(&self, key_id: &str, stored: &str) -> Result<String, SecretsError> {
        match classify(stored) {
            Stored::Plain => Ok(stored.to_string()),
            _ => self.open(key_id, stored),
        }
    }

    fn is_sealed_by_sealing_key(&self, stored: &str) -> bool {
        matches!(classify(stored), Stored::Sealed { master, .. } if master == self.sealing.id)
    }

    /// The key with its secret opened; `None` (logged, without the secret) when it does not
    /// open, so the caller answers as for an unknown key.
    pub fn open_or_log(&self, key: AccessKey) -> Option<AccessKey> {
        match self.open(&key.id, &key.secret) {
            Ok(secret) => Some(AccessKey { secret, ..key }),
            Err(e) => {
                tracing::error!(error = %report(&e), "refused a stored access key");
                None
            }
        }
    }
}

impl ecs_service::KeySecrets for KeyRing {
    fn open(&self, key: AccessKey) -> Option<AccessKey> {
        self.open_or_log(key)
    }
}

/// Where the master key may come from besides the data dir; the environment in production,
/// given explicitly in tests (the environment is shared by the test threads).
#[derive(Default, Clone)]
pub struct KeySources {
    /// Base64 of the key that seals (`ECSD_MASTER_KEY`).
    pub master: Option<String>,
    /// Base64 of a previous key that still opens (`ECSD_MASTER_KEY_OLD`).
    pub old_master: Option<String>,
}

impl KeySources {
    pub fn from_env() -> Self {
        let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self {
            master: var(MASTER_KEY_ENV),
            old_master: var(OLD_MASTER_KEY_ENV),
        }
    }
}

/// The data dir's key ring from the environment and the data dir, as [`unlock_with`].
pub fn unlock(data_dir: &Path, store: &Arc<dyn Store>) -> Result<KeyRing, SecretsError> {
    unlock_with(data_dir, store, &KeySources::from_env())
}

/// Loads the key ring: the sealing key is `ECSD_MASTER_KEY` if set, else `ecsd.key`; the
/// other keys present (`ecsd.key` under an environment key, `ECSD_MASTER_KEY_OLD`,
/// `ecsd.key.old`) only open. Without any key, `ecsd.key` is created — unless the store
/// already holds sealed secrets, which a new key could never open. Every master key the
/// store's rows name must be in the ring.
pub fn unlock_with(
    data_dir: &Path,
    store: &Arc<dyn Store>,
    sources: &KeySources,
) -> Result<KeyRing, SecretsError> {
    let from_env = |text: &Option<String>, var| {
        text.as_deref()
            .map(|t| {
                parse_key(t)
                    .map(|bytes| MasterKey::new(&bytes))
                    .ok_or(SecretsError::BadEnvKey { var })
            })
            .transpose()
    };
    let env_key = from_env(&sources.master, MASTER_KEY_ENV)?;
    let env_old = from_env(&sources.old_master, OLD_MASTER_KEY_ENV)?;
    let key_path = data_dir.join(KEY_FILE);
    let file_key = read_key_file(&key_path)?;
    let old_file_key = read_key_file(&data_dir.join(OLD_KEY_FILE))?;
    let needed = sealed_master_ids(store)?;

    let mut others: Vec<MasterKey> = env_old.into_iter().chain(old_file_key).collect();
    let sealing = match (env_key, file_key) {
        (Some(env), file) => {
            others.extend(file);
            env
        }
        (None, Some(file)) => file,
        (None, None) if !needed.is_empty() => {
            return Err(SecretsError::NoKey {
                ids: needed.into_iter().collect::<Vec<_>>().join(", "),
                path: key_path,
            })
        }
        (None, None) => create_key_file(&key_path)?,
    };
    let ring = KeyRing::new(sealing, others);
    let missing: Vec<&str> = needed
        .iter()
        .map(String::as_str)
        .filter(|id| ring.find(id).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(SecretsError::KeyNotLoaded {
            missing: missing.join(", "),
            loaded: ring.loaded_ids(),
            dir: data_dir.to_path_buf(),
        });
    }
    Ok(ring)
}

/// The ids of the master keys the stored secrets are sealed with.
fn sealed_master_ids(store: &Arc<dyn Store>) -> Result<BTreeSet<String>, SecretsError> {
    store
        .read(|tx| {
            let keys = tx.access_keys()?;
            Ok(keys
                .iter()
                .filter_map(|k| match classify(&k.secret) {
                    Stored::Sealed { master, .. } => Some(master.to_string()),
                    _ => None,
                })
                .collect())
        })
        .map_err(store_error("read the stored access keys"))
}

/// Re-seals, in one transaction, every stored secret that is not sealed under the ring's
/// sealing key: plain ones from before sealing, and ones under a key that is only kept for
/// opening. Running it again changes nothing. Returns how many it re-sealed.
pub fn reseal_all(store: &Arc<dyn Store>, ring: &KeyRing) -> Result<usize, SecretsError> {
    let ring = ring.clone();
    store
        .write(move |tx| {
            let mut resealed = Vec::new();
            for key in tx.access_keys()? {
                if ring.is_sealed_by_sealing_key(&key.secret) {
                    continue;
                }
                // Everything is worked out before the first write: a key that does not open
                // leaves the transaction without changes.
                let sealed = ring
                    .reveal(&key.id, &key.secret)
                    .and_then(|secret| ring.seal(&key.id, &secret));
                match sealed {
                    Ok(secret) => resealed.push(AccessKey { secret, ..key }),
                    Err(e) => return Ok(Err(e)),
                }
            }
            for key in &resealed {
                tx.put_access_key(key)?;
            }
            Ok(Ok(resealed.len()))
        })
        .map_err(store_error("re-seal the stored access keys"))?
}

/// What `serve` does at start: load the key ring, then seal what an older ecsd left plain (or
/// an interrupted rotation left under the previous key).
pub fn prepare(data_dir: &Path, store: &Arc<dyn Store>) -> Result<Arc<KeyRing>, SecretsError> {
    let ring = unlock(data_dir, store)?;
    let resealed = reseal_all(store, &ring)?;
    if resealed > 0 {
        tracing::info!(
            resealed,
            master_key = ring.sealing_key_id(),
            "sealed stored access-key secrets under the current master key"
        );
    }
    Ok(Arc::new(ring))
}

fn read_key_file(path: &Path) -> Result<Option<MasterKey>, SecretsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SecretsError::ReadKey {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    warn_if_exposed(path);
    let bytes = parse_key(&text).ok_or_else(|| SecretsError::BadKeyFile {
        path: path.to_path_buf(),
    })?;
    Ok(Some(MasterKey::new(&bytes)))
}

#[cfg(unix)]
fn warn_if_exposed(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "the master key file is readable by other users; chmod 600 it"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_exposed(_path: &Path) {}

/// Writes a new file only the owner can read, and flushes it to the disk.
fn write_private(path: &Path, text: &str) -> Result<(), SecretsError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })
        .map_err(|source| SecretsError::WriteKey {
            path: path.to_path_buf(),
            source,
        })
}

fn remove_if_present(path: &Path) -> Result<(), SecretsError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SecretsError::WriteKey {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Makes renames and new files in `dir` survive a crash.
fn sync_dir(dir: &Path) -> Result<(), SecretsError> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| SecretsError::WriteKey {
                path: dir.to_path_buf(),
                source,
            })?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn key_text(bytes: &[u8; 32]) -> String {
    format!("{}\n", BASE64.encode(bytes))
}

/// Creates `ecsd.key`. The key is written whole to a private temporary file first and then
/// linked into place, which fails if the file exists: two processes starting on one new data
/// dir never see half a key, and both end up with the one that was linked first.
fn create_key_file(path: &Path) -> Result<MasterKey, SecretsError> {
    let (bytes, _) = MasterKey::generate();
    let temporary = path.with_file_name(format!(
        "{KEY_FILE}.tmp-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    write_private(&temporary, &key_text(&bytes))?;
    let linked = std::fs::hard_link(&temporary, path);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(SecretsError::WriteKey {
                path: path.to_path_buf(),
                source,
            })
        }
    }
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    tracing::info!(path = %path.display(), "created the master key file");
    read_key_file(path)?.ok_or_else(|| SecretsError::BadKeyFile {
        path: path.to_path_buf(),
    })
}

/// The outcome of a rotation.
#[derive(Debug)]
pub struct Rotated {
    /// The id of the key everything is now sealed with.
    pub key_id: String,
    /// How many secrets were re-sealed under it.
    pub resealed: usize,
    /// Whether a new `ecsd.key` was generated (not when the key comes from the environment).
    pub generated: bool,
}

/// `ecsd secrets rotate`: offline, with no server on the data dir.
pub fn rotate(data_dir: &Path) -> Result<(), SecretsError> {
    rotate_in(&crate::DataDir::at(data_dir))
}

/// [`rotate`] for the store `dir` names. A shared database has no data-dir lock to keep servers
/// out: stop them first (a running one keeps opening keys with the ring it loaded).
pub fn rotate_in(dir: &crate::DataDir) -> Result<(), SecretsError> {
    let data_dir = dir.data_dir.as_path();
    let _stopped = lock_out_servers_in(dir)?;
    let store = open_store_in(dir)?;
    let done = rotate_with(data_dir, &store, &KeySources::from_env())?;
    if done.generated {
        say!(
            "Generated master key {} in {}; {} access-key secrets re-sealed under it.",
            done.key_id,
            data_dir.join(KEY_FILE).display(),
            done.resealed
        )?;
        say!(
            "The previous key is kept in {} for backups made before now; delete it once none \
             needs it.",
            data_dir.join(OLD_KEY_FILE).display()
        )?;
    } else {
        say!(
            "{} access-key secrets re-sealed under master key {} from {MASTER_KEY_ENV}; \
             {OLD_MASTER_KEY_ENV} can be unset now.",
            done.resealed,
            done.key_id
        )?;
    }
    Ok(())
}

/// Rotates the master key. With a key file, a new one is generated: written to `ecsd.key.new`,
/// the current key copied to `ecsd.key.old`, the new file renamed over `ecsd.key`, and then every
/// secret re-sealed in one transaction. A crash at any point leaves a data dir that starts: the
/// ring opens with both `ecsd.key` and `ecsd.key.old`, and the start finishes the re-sealing.
/// With `ECSD_MASTER_KEY` the operator chose the new key; this re-seals everything under it.
pub fn rotate_with(
    data_dir: &Path,
    store: &Arc<dyn Store>,
    sources: &KeySources,
) -> Result<Rotated, SecretsError> {
    let current = unlock_with(data_dir, store, sources)?;
    // Bring every row under the current key first: `ecsd.key.old` is about to be replaced, and
    // rows still sealed under the key it holds would no longer open.
    let resealed = reseal_all(store, &current)?;
    if sources.master.is_some() {
        return Ok(Rotated {
            key_id: current.sealing.id.clone(),
            resealed,
            generated: false,
        });
    }
    let key_path = data_dir.join(KEY_FILE);
    let old_path = data_dir.join(OLD_KEY_FILE);
    let new_path = data_dir.join(NEW_KEY_FILE);
    let current_text =
        std::fs::read_to_string(&key_path).map_err(|source| SecretsError::ReadKey {
            path: key_path.clone(),
            source,
        })?;
    let (bytes, fresh) = MasterKey::generate();
    // A leftover from an interrupted rotation never sealed anything.
    remove_if_present(&new_path)?;
    write_private(&new_path, &key_text(&bytes))?;
    remove_if_present(&old_path)?;
    write_private(&old_path, &current_text)?;
    std::fs::rename(&new_path, &key_path).map_err(|source| SecretsError::WriteKey {
        path: key_path.clone(),
        source,
    })?;
    sync_dir(data_dir)?;
    let ring = KeyRing::new(fresh, [current.sealing]);
    let resealed = reseal_all(store, &ring)?;
    Ok(Rotated {
        key_id: ring.sealing.id,
        resealed,
        generated: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_with_its_key_and_row_only() {
        let ring = KeyRing::ephemeral();
        let sealed = ring.seal("LTAIkey1", "s3cret-value").unwrap();
        assert!(sealed.starts_with(&format!("enc:v1:{}:", ring.sealing_key_id())));
        assert!(!sealed.contains("s3cret-value"));
        assert_eq!(ring.open("LTAIkey1", &sealed).unwrap(), "s3cret-value");
        assert_ne!(
            sealed,
            ring.seal("LTAIkey1", "s3cret-value").unwrap(),
            "a fresh nonce each time"
        );

        // Moved to another row.
        assert!(matches!(
            ring.open("LTAIkey2", &sealed),
            Err(SecretsError::Tampered { .. })
        ));
        // A flipped bit anywhere in the nonce or ciphertext.
        let (head, payload) = sealed.rsplit_once(':').unwrap();
        let mut bytes = BASE64.decode(payload).unwrap();
        for i in [0, NONCE_LEN, bytes.len() - 1] {
            bytes[i] ^= 1;
            let tampered = format!("{head}:{}", BASE64.encode(&bytes));
            assert!(matches!(
                ring.open("LTAIkey1", &tampered),
                Err(SecretsError::Tampered { .. })
            ));
            bytes[i] ^= 1;
        }
        // Cut short.
        assert!(matches!(
            ring.open("LTAIkey1", &format!("{head}:AAAA")),
            Err(SecretsError::Malformed { .. })
        ));
        // Another key claiming this key's id.
        let other = KeyRing::ephemeral();
        let impostor = KeyRing::new(
            MasterKey {
                id: ring.sealing_key_id().to_string(),
                cipher: other.sealing.cipher.clone(),
            },
            [],
        );
        assert!(matches!(
            impostor.open("LTAIkey1", &sealed),
            Err(SecretsError::Tampered { .. })
        ));
        // A key that does not know it at all.
        assert!(matches!(
            other.open("LTAIkey1", &sealed),
            Err(SecretsError::UnknownMaster { .. })
        ));
        // A plain value is refused outside the migration.
        assert!(matches!(
            ring.open("LTAIkey1", "plain"),
            Err(SecretsError::NotSealed { .. })
        ));
        assert!(matches!(
            ring.open("LTAIkey1", "enc:v9:whatever"),
            Err(SecretsError::Malformed { .. })
        ));
    }

    #[test]
    fn debug_output_shows_key_ids_only() {
        let ring = KeyRing::ephemeral();
        let shown = format!("{ring:?}");
        assert!(shown.contains(ring.sealing_key_id()));
        assert!(shown.len() < 80, "{shown}");
    }

    #[test]
    fn master_keys_are_base64_of_32_bytes() {
        assert!(parse_key(&BASE64.encode([7u8; 32])).is_some());
        assert!(parse_key(&format!("  {}\n", BASE64.encode([7u8; 32]))).is_some());
        assert!(parse_key(&BASE64.encode([7u8; 31])).is_none());
        assert!(parse_key("not base64!").is_none());
    }
}

/// The mechanism against a real data dir: the CLI and start-up code paths, the database files,
/// the key files.
#[cfg(test)]
mod data_dir_tests {
    use super::*;
    use crate::accounts::{
        bootstrap_default, create_access_key, create_account, hold_server_lock, open_store,
    };
    use ecs_domain::catalog::Catalog;
    use ecs_service::{LifecycleClock, Service};

    /// A data dir removed when the test ends.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            let dir = std::env::temp_dir().join(format!(
                "ecsd-secrets-{}-{:016x}",
                std::process::id(),
                rand::random::<u64>()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn no_env() -> KeySources {
        KeySources::default()
    }

    fn b64_key(byte: u8) -> String {
        BASE64.encode([byte; 32])
    }

    /// Whether any file of the data dir (database, WAL, shared memory, key files) holds `needle`.
    fn on_disk(dir: &Path, needle: &str) -> bool {
        std::fs::read_dir(dir).unwrap().any(|entry| {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
            bytes
                .windows(needle.len())
                .any(|window| window == needle.as_bytes())
        })
    }

    fn stored_keys(store: &Arc<dyn Store>) -> Vec<AccessKey> {
        store.read(|tx| Ok(tx.access_keys()?)).unwrap()
    }

    fn app_with(store: Arc<dyn Store>, ring: KeyRing) -> Service {
        Service::new(
            store.clone(),
            LifecycleClock::real(store),
            Catalog::builtin(),
            chrono::Duration::days(15),
        )
        .with_key_secrets(Arc::new(ring))
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn keys_created_the_normal_way_are_not_in_the_database_files() {
        let dir = TempDir::new();
        create_account(&dir.0, "acme").unwrap();
        create_access_key(&dir.0, "acme").unwrap();

        let store = open_store(&dir.0).unwrap();
        let ring = unlock_with(&dir.0, &store, &no_env()).unwrap();
        bootstrap_default(
            &store,
            Some((
                "LTAIfromenvironment01".into(),
                "EnvironmentSecretValue0123456".into(),
            )),
            &ring,
        )
        .unwrap();
        let keys = stored_keys(&store);
        assert_eq!(keys.len(), 2);
        let secrets: Vec<String> = keys
            .iter()
            .map(|k| {
                assert!(k.secret.starts_with("enc:v1:"), "{}", k.id);
                ring.open(&k.id, &k.secret).unwrap()
            })
            .collect();
        assert!(secrets.contains(&"EnvironmentSecretValue0123456".to_string()));
        for secret in &secrets {
            assert!(!on_disk(&dir.0, secret), "found in the open store's files");
        }
        drop(store);
        for secret in &secrets {
            assert!(!on_disk(&dir.0, secret), "found after the store closed");
        }
        #[cfg(unix)]
        assert_eq!(mode(&dir.0.join(KEY_FILE)), 0o600);
    }

    #[test]
    fn a_plain_row_from_an_older_data_dir_is_sealed_at_start_and_still_opens() {
        let dir = TempDir::new();
        // Several rows, so that the re-sealed ones do not simply land on the old bytes.
        let rows: Vec<(String, String)> = (0..200)
            .map(|i| {
                (
                    format!("LTAIolderdatadir{i:07}"),
                    format!("PlainSecretFromBeforeSealing{i:03}"),
                )
            })
            .collect();
        {
            let store = open_store(&dir.0).unwrap();
            let owned = rows.clone();
            store
                .write(move |tx| {
                    let account = tx.create_account("old")?;
                    for (id, secret) in owned.clone() {
                        tx.put_access_key(&AccessKey {
                            id,
                            secret,
                            account_id: account.id,
                        })?;
                    }
                    Ok(())
                })
                .unwrap();
        }
        assert!(
            on_disk(&dir.0, &rows[0].1),
            "the old layout stores it plain"
        );

        let store = open_store(&dir.0).unwrap();
        // No key file yet: the first start creates it, since nothing is sealed.
        let ring = unlock_with(&dir.0, &store, &no_env()).unwrap();
        assert!(dir.0.join(KEY_FILE).exists());
        assert_eq!(reseal_all(&store, &ring).unwrap(), rows.len());
        assert_eq!(reseal_all(&store, &ring).unwrap(), 0, "idempotent");
        for row in stored_keys(&store) {
            assert!(row
                .secret
                .starts_with(&format!("enc:v1:{}:", ring.sealing_key_id())));
        }

        // What the signature check asks for.
        let app = app_with(store.clone(), ring);
        for (id, secret) in &rows {
            assert_eq!(&app.access_key(id).unwrap().secret, secret);
        }
        drop(app);
        drop(store);
        for (_, secret) in &rows {
            assert!(
                !on_disk(&dir.0, secret),
                "the plain value is gone once the store is checkpointed"
            );
        }
    }

    #[test]
    fn a_store_with_sealed_secrets_does_not_start_without_its_key() {
        let dir = TempDir::new();
        create_account(&dir.0, "acme").unwrap();
        create_access_key(&dir.0, "acme").unwrap();
        let store = open_store(&dir.0).unwrap();
        let ring = unlock_with(&dir.0, &store, &no_env()).unwrap();

        std::fs::remove_file(dir.0.join(KEY_FILE)).unwrap();
        let refused = unlock_with(&dir.0, &store, &no_env()).unwrap_err();
        assert!(matches!(refused, SecretsError::NoKey { .. }));
        let message = report(&refused);
        assert!(message.contains("refusing to start"), "{message}");
        assert!(message.contains(ring.sealing_key_id()), "{message}");
        assert!(
            !dir.0.join(KEY_FILE).exists(),
            "no new key is made over sealed secrets"
        );

        // Another key does not do either.
        let wrong = KeySources {
            master: Some(b64_key(9)),
            old_master: None,
        };
        let refused = unlock_with(&dir.0, &store, &wrong).unwrap_err();
        assert!(
            matches!(refused, SecretsError::KeyNotLoaded { .. }),
            "{refused}"
        );

        // And the server state without the ring refuses the key rather than guessing.
        let app = app_with(store.clone(), KeyRing::ephemeral());
        let id = stored_keys(&store).remove(0).id;
        assert!(app.access_key(&id).is_none());
    }

    #[test]
    fn rotation_reseals_everything_under_a_new_key_file() {
        let dir = TempDir::new();
        create_account(&dir.0, "acme").unwrap();
        create_access_key(&dir.0, "acme").unwrap();
        create_access_key(&dir.0, "acme").unwrap();
        let store = open_store(&dir.0).unwrap();
        let before = unlock_with(&dir.0, &store, &no_env()).unwrap();
        let opened = |ring: &KeyRing| -> Vec<String> {
            stored_keys(&store)
                .iter()
                .map(|k| ring.open(&k.id, &k.secret).unwrap())
                .collect()
        };
        let secrets = opened(&before);

        // Not while a server runs on the data dir.
        let server = hold_server_lock(&dir.0).unwrap();
        let refused = rotate(&dir.0).unwrap_err();
        assert!(
            matches!(
                refused,
                SecretsError::DataDir(DataDirError::ServerInTheWay { .. })
            ),
            "{refused}"
        );
        assert!(
            refused.to_string().contains("a server is running"),
            "{refused}"
        );
        drop(server);

        let done = rotate_with(&dir.0, &store, &no_env()).unwrap();
        assert!(done.generated);
        assert_eq!(done.resealed, 2);
        assert_ne!(done.key_id, before.sealing_key_id());
        assert!(!dir.0.join(NEW_KEY_FILE).exists());
        #[cfg(unix)]
        {
            assert_eq!(mode(&dir.0.join(KEY_FILE)), 0o600);
            assert_eq!(mode(&dir.0.join(OLD_KEY_FILE)), 0o600);
        }

        let after = unlock_with(&dir.0, &store, &no_env()).unwrap();
        assert_eq!(after.sealing_key_id(), done.key_id);
        for key in stored_keys(&store) {
            assert!(key.secret.starts_with(&format!("enc:v1:{}:", done.key_id)));
        }
        assert_eq!(opened(&after), secrets);
        // The old key is no longer needed by the store, only by older backups.
        std::fs::remove_file(dir.0.join(OLD_KEY_FILE)).unwrap();
        let alone = unlock_with(&dir.0, &store, &no_env()).unwrap();
        assert_eq!(opened(&alone), secrets);
        assert!(matches!(
            before.open(&stored_keys(&store)[0].id, &stored_keys(&store)[0].secret),
            Err(SecretsError::UnknownMaster { .. })
        ));
    }

    #[test]
    fn an_interrupted_rotation_is_finished_by_the_next_start() {
        let dir = TempDir::new();
        create_account(&dir.0, "acme").unwrap();
        create_access_key(&dir.0, "acme").unwrap();
        let store = open_store(&dir.0).unwrap();
        let before = unlock_with(&dir.0, &store, &no_env()).unwrap();
        let secret = {
            let key = stored_keys(&store).remove(0);
            before.open(&key.id, &key.secret).unwrap()
        };
        // The files were swapped, the transaction never ran.
        let key_path = dir.0.join(KEY_FILE);
        std::fs::rename(&key_path, dir.0.join(OLD_KEY_FILE)).unwrap();
        write_private(&key_path, &key_text(&[5u8; 32])).unwrap();

        let ring = unlock_with(&dir.0, &store, &no_env()).unwrap();
        assert_eq!(reseal_all(&store, &ring).unwrap(), 1);
        let key = stored_keys(&store).remove(0);
        assert!(key.secret.contains(ring.sealing_key_id()));
        assert_eq!(ring.open(&key.id, &key.secret).unwrap(), secret);
    }

    #[test]
    fn an_environment_key_seals_and_rotates_through_the_environment() {
        let dir = TempDir::new();
        let first = KeySources {
            master: Some(b64_key(1)),
            old_master: None,
        };
        let store = open_store(&dir.0).unwrap();
        let ring = unlock_with(&dir.0, &store, &first).unwrap();
        assert!(
            !dir.0.join(KEY_FILE).exists(),
            "no key file when the key comes from the environment"
        );
        bootstrap_default(&store, None, &ring).unwrap();

        let second = KeySources {
            master: Some(b64_key(2)),
            old_master: Some(b64_key(1)),
        };
        let done = rotate_with(&dir.0, &store, &second).unwrap();
        assert!(!done.generated);
        assert_eq!(done.resealed, 1);
        assert!(!dir.0.join(KEY_FILE).exists());

        let only_new = KeySources {
            master: Some(b64_key(2)),
            old_master: None,
        };
        let ring = unlock_with(&dir.0, &store, &only_new).unwrap();
        let key = stored_keys(&store).remove(0);
        assert!(ring.open(&key.id, &key.secret).is_ok());
        assert!(matches!(
            unlock_with(&dir.0, &store, &first),
            Err(SecretsError::KeyNotLoaded { .. })
        ));
        let bad = KeySources {
            master: Some("c2hvcnQ=".into()),
            old_master: None,
        };
        assert!(matches!(
            unlock_with(&dir.0, &store, &bad),
            Err(SecretsError::BadEnvKey { .. })
        ));
    }
}
