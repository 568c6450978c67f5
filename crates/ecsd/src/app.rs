//! What every part of the server shares: the store, the clock, the catalog, and the caches in
//! front of the store for keys and nonces.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Duration, Utc};
use ecs_domain::catalog::Catalog;
use ecs_domain::error::common::INTERNAL_ERROR;
use ecs_domain::model::AccessKey;
use ecs_domain::ApiError;
use ecs_store::{Store, StoreExt, StoreTx, TxError, TxResult};

use crate::clock::ServerClock;
use crate::secrets::KeyRing;

pub struct App {
    pub store: Arc<dyn Store>,
    pub clock: ServerClock,
    pub catalog: Arc<Catalog>,
    /// How long an expired, unpaid subscription is kept before release.
    pub expiry_grace: Duration,
    /// Bearer token of the admin API; `None` turns the API off.
    pub admin_token: Option<String>,
    keys: RwLock<HashMap<String, AccessKey>>,
    /// Opens the sealed secrets of stored keys.
    key_ring: Arc<KeyRing>,
    nonces: NonceCache,
    /// Serializes lifecycle runs (the ticking scheduler and clock advances).
    pub lifecycle_lock: tokio::sync::Mutex<()>,
}

impl App {
    pub fn new(
        store: Arc<dyn Store>,
        clock: ServerClock,
        catalog: Catalog,
        expiry_grace: Duration,
        admin_token: Option<String>,
    ) -> Self {
        Self {
            store,
            clock,
            catalog: Arc::new(catalog),
            expiry_grace,
            admin_token,
            keys: RwLock::new(HashMap::new()),
            key_ring: Arc::new(KeyRing::ephemeral()),
            nonces: NonceCache::default(),
            lifecycle_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Opens stored secrets with the data dir's key ring (until then, none opens).
    pub fn with_key_ring(mut self, key_ring: Arc<KeyRing>) -> Self {
        self.key_ring = key_ring;
        self
    }

    /// The key with this id, from the cache or the store (keys may be added by the offline
    /// CLI while the server runs, so a miss is looked up again).
    pub fn access_key(&self, id: &str) -> Option<AccessKey> {
        if let Some(k) = self.keys.read().unwrap().get(id) {
            return Some(k.clone());
        }
        let id_owned = id.to_string();
        let found = self
            .store
            .read(move |tx| Ok(tx.access_key(&id_owned)?))
            .ok()
            .flatten()?;
        let found = self.key_ring.open_or_log(found)?;
        self.keys
            .write()
            .unwrap()
            .insert(found.id.clone(), found.clone());
        Some(found)
    }

    /// Records a nonce; false when the same key already used it within the window.
    pub fn remember_nonce(&self, key_id: &str, nonce: &str, real_now: DateTime<Utc>) -> bool {
        self.nonces.remember(key_id, nonce, real_now)
    }

    /// How long a nonce is remembered: a replay carries its original Timestamp, which the
    /// signature check accepts up to one window either side of the server's time.
    pub fn nonce_horizon(real_now: DateTime<Utc>) -> DateTime<Utc> {
        real_now - ecs_wire::TIMESTAMP_WINDOW * 2
    }

    /// Fills the in-memory nonce set from the nonces writes recorded in the store (on start,
    /// before taking calls), so a write carried out before a restart cannot be replayed after.
    pub fn load_nonces(&self, real_now: DateTime<Utc>) -> Result<usize, ApiError> {
        let since = Self::nonce_horizon(real_now);
        let recorded = self.read(move |tx| Ok(tx.nonces_since(since)?))?;
        for (key_id, nonce, seen_at) in &recorded {
            self.nonces.remember(key_id, nonce, *seen_at);
        }
        Ok(recorded.len())
    }

    /// Drops recorded nonces too old to matter.
    pub fn forget_old_nonces(&self, real_now: DateTime<Utc>) -> Result<u64, ApiError> {
        let before = Self::nonce_horizon(real_now);
        self.write(move |tx| Ok(tx.forget_nonces_before(before)?))
    }

    /// Runs a transaction, mapping storage failures to `InternalError`.
    pub fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn StoreTx) -> TxResult<T> + Send + 'static,
    {
        self.store.write(f).map_err(api_error)
    }

    /// Runs a transaction without holding a thread while it waits for its commit: the store's
    /// writer calls back once the transaction is durable.
    pub async fn write_async<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn StoreTx) -> TxResult<T> + Send + 'static,
    {
        let (answer, outcome) = tokio::sync::oneshot::channel();
        self.store.submit(f, move |result| {
            let _ = answer.send(result);
        });
        match outcome.await {
            Ok(result) => result.map_err(api_error),
            Err(_) => {
                tracing::error!("the store dropped a write without answering");
                Err(INTERNAL_ERROR.err())
            }
        }
    }

    pub fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn StoreTx) -> TxResult<T> + Send + 'static,
    {
        self.store.read(f).map_err(api_error)
    }
}

/// A refused request keeps its ECS error; a storage failure becomes InternalError (and is
/// logged, since the client learns nothing from it).
pub fn api_error(e: TxError) -> ApiError {
    match e {
        TxError::Rejected(api) => api,
        TxError::Store(err) => {
            tracing::error!(%err, "storage failure");
            INTERNAL_ERROR.err()
        }
    }
}

/// Nonces seen recently, per access key. A replayed request carries its original Timestamp,
/// which passes the check for at most one window after it was first seen plus one window of
/// clock skew; so each nonce is kept for two windows, then dropped, oldest first.
///
/// Nonces are kept as 128-bit keyed hashes of (key id, nonce): a fixed 16 bytes each, however
/// long the client's nonces are.
struct NonceCache {
    inner: Mutex<NonceInner>,
    hashers: (RandomState, RandomState),
}

#[derive(Default)]
struct NonceInner {
    seen: HashSet<u128>,
    order: VecDeque<(DateTime<Utc>, u128)>,
}

impl Default for NonceCache {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            hashers: (RandomState::new(), RandomState::new()),
        }
    }
}

impl NonceCache {
    fn fingerprint(&self, key_id: &str, nonce: &str) -> u128 {
        let (a, b) = (
            self.hashers.0.hash_one((key_id, nonce)),
            self.hashers.1.hash_one((key_id, nonce)),
        );
        (u128::from(a) << 64) | u128::from(b)
    }

    fn remember(&self, key_id: &str, nonce: &str, real_now: DateTime<Utc>) -> bool {
        let fingerprint = self.fingerprint(key_id, nonce);
        let horizon = App::nonce_horizon(real_now);
        let mut inner = self.inner.lock().unwrap();
        while let Some(&(at, old)) = inner.order.front() {
            if at >= horizon {
                break;
            }
            inner.order.pop_front();
            inner.seen.remove(&old);
        }
        if !inner.seen.insert(fingerprint) {
            return false;
        }
        inner.order.push_back((real_now, fingerprint));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_refused_again_within_the_window_and_forgotten_after() {
        let cache = NonceCache::default();
        let t0 = Utc::now();
        assert!(cache.remember("k", "n1", t0));
        assert!(!cache.remember("k", "n1", t0 + Duration::minutes(29)));
        assert!(cache.remember("other-key", "n1", t0), "nonces are per key");
        assert!(cache.remember("k", "n2", t0 + Duration::minutes(31)));
        assert!(
            cache.remember("k", "n1", t0 + Duration::minutes(31)),
            "kept two windows, then forgotten"
        );
    }
}
