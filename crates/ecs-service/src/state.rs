//! The state a process keeps for itself, in front of the store, and why each piece may.
//!
//! * **Access keys** are cached after the first lookup. Keys are only ever added (by the
//!   offline CLI, or at start), never changed, so a cached key is never stale; a miss is looked
//!   up in the store again, so a key added while the server runs works at once.
//! * **Signature nonces** are checked against an in-memory set. The set is filled on start
//!   from the nonces the store recorded (every write's, refused ones included; see
//!   `Service::write`), so a replayed write is refused across restarts. Only one server serves
//!   a data dir (it holds the data dir's lock exclusively), so no other process can have
//!   accepted a nonce this set lacks. A read's nonce lives in memory only: a read changes
//!   nothing, and its answer goes to whoever sent it, so replaying a captured read after a
//!   restart shows the replayer nothing the captured exchange did not already carry (the same
//!   account's view, signed by its owner); storing every read durably would put an fsync on
//!   every read. A store shared by several processes (PostgreSQL, `Service::with_shared_store`)
//!   is asked as well, for every verified request, reads included (`StoreTx::claim_nonce`): the
//!   set then only spares the store a replay this process already saw. Recorded nonces older
//!   than two signature windows are pruned by the one process leading the upkeep
//!   (`Service::upkeep_if_leading`, a leader row in the store).
//! * The **catalog** and the **expiry grace** come from the config, the same for every process.
//! * Below the service, the SQLite engine remembers **page positions** of deep listings
//!   (`ecs_store::sqlite`); its own writer invalidates them when membership changes, which is
//!   complete only because no other process writes the file (the same data dir lock).
//! * The scheduler's **lifecycle lock** (`ecs_scheduler`) orders this process's ticks and clock
//!   jumps; claims in the store keep any number of claimers exactly-once regardless.
//!
//! Everything else (resources, the virtual clock, claims on due work, ClientToken answers,
//! events, balances) lives in the store only.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::sync::{Mutex, RwLock};

use chrono::{DateTime, Duration, Utc};
use ecs_domain::model::AccessKey;

/// How long a signature stays acceptable either side of the server's real time (15 minutes).
pub const SIGNATURE_WINDOW: Duration = Duration::minutes(15);

/// How long a nonce is remembered: a replay carries its original Timestamp, which the
/// signature check accepts up to one window either side of the server's time.
pub fn nonce_horizon(real_now: DateTime<Utc>) -> DateTime<Utc> {
    real_now - SIGNATURE_WINDOW * 2
}

#[derive(Default)]
pub struct KeyCache(RwLock<HashMap<String, AccessKey>>);

impl KeyCache {
    pub fn get(&self, id: &str) -> Option<AccessKey> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    pub fn insert(&self, key: AccessKey) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.id.clone(), key);
    }
}

/// Nonces seen recently, per access key. Each is kept for two windows, then dropped, oldest
/// first.
///
/// Nonces are kept as 128-bit keyed hashes of (key id, nonce): a fixed 16 bytes each, however
/// long the client's nonces are.
pub struct NonceCache {
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

    /// Records a nonce; false when the same key already used it within the window.
    pub fn remember(&self, key_id: &str, nonce: &str, real_now: DateTime<Utc>) -> bool {
        let fingerprint = self.fingerprint(key_id, nonce);
        let horizon = nonce_horizon(real_now);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
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
