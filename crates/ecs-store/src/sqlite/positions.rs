//! Where each page of a region's unfiltered instance listing starts.
//!
//! DescribeInstances pages by number: page N of size S starts at row (N - 1) * S of the region's
//! instances in creation order. SQLite can only reach that row by stepping over every row before
//! it (`OFFSET`), so page 1,000 of 100,000 instances walked 99,900 index entries: 7 to 15 ms a
//! page. Here each (account, region) keeps the `seq` of every [`STRIDE`]-th instance; a page
//! starts at the anchor at or before its first row and steps over fewer than `STRIDE` rows.
//!
//! Anchors describe one membership of the region (which instances exist). A commit that adds or
//! removes an instance anywhere makes every set stale, which a generation number tracks:
//! - the writer makes `generation` odd inside a transaction that changes membership and even
//!   again once that transaction has committed or rolled back;
//! - a reader notes the generation before its snapshot begins, and trusts anchors (built in its
//!   snapshot, or found here) only if that generation was even and is unchanged after its
//!   statements ran. Then no membership change can have committed between the anchors' snapshot
//!   and its own, so they describe the same rows; otherwise it pages with `OFFSET` as before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Rows between two anchors: the most a page lookup steps over. 1,000,000 instances in one
/// region keep 7,813 anchors (61 KiB).
pub(crate) const STRIDE: u64 = 128;

/// Anchor sets kept at most; past that the map starts over (a set is rebuilt on demand with one
/// scan of the region's index).
const MAX_SETS: usize = 1024;

#[derive(Default)]
pub(crate) struct PagePositions {
    generation: AtomicU64,
    sets: Mutex<HashMap<(i64, String), Arc<Anchors>>>,
}

/// The `seq` of the instance at each position `i * STRIDE` of one region, for one generation.
pub(crate) struct Anchors {
    generation: u64,
    seqs: Vec<i64>,
}

/// Where a row position is reached from: the first row with `seq >= from`, then `skip` more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Start {
    pub from: i64,
    pub skip: u64,
}

impl Anchors {
    /// From every `seq` of the region in creation order.
    pub fn from_seqs(generation: u64, all: impl IntoIterator<Item = i64>) -> Self {
        let seqs = all.into_iter().step_by(STRIDE as usize).collect();
        Anchors { generation, seqs }
    }

    /// `None` when `position` is past the last row.
    pub fn start(&self, position: u64) -> Option<Start> {
        let at = usize::try_from(position / STRIDE).ok()?;
        self.seqs.get(at).map(|&from| Start {
            from,
            skip: position % STRIDE,
        })
    }
}

impl PagePositions {
    /// For a reader about to begin its snapshot: the generation now, or `None` while a
    /// membership change is being committed.
    pub fn stable_generation(&self) -> Option<u64> {
        let g = self.generation.load(Ordering::SeqCst);
        g.is_multiple_of(2).then_some(g)
    }

    /// Whether nothing changed membership since `generation` was read.
    pub fn unchanged_since(&self, generation: u64) -> bool {
        self.generation.load(Ordering::SeqCst) == generation
    }

    /// Writer thread, inside a transaction that adds or removes an instance. Only the writer
    /// thread changes the generation, so a load and a store cannot race.
    pub fn membership_changing(&self) {
        let g = self.generation.load(Ordering::SeqCst);
        if g.is_multiple_of(2) {
            self.generation.store(g + 1, Ordering::SeqCst);
        }
    }

    /// Writer thread, once the transaction has committed or rolled back.
    pub fn settled(&self) {
        let g = self.generation.load(Ordering::SeqCst);
        if !g.is_multiple_of(2) {
            self.generation.store(g + 1, Ordering::SeqCst);
        }
    }

    /// The anchors of a region built at `generation`, if any.
    pub fn anchors(
        &self,
        account_id: i64,
        region_id: &str,
        generation: u64,
    ) -> Option<Arc<Anchors>> {
        let sets = self.sets.lock().unwrap_or_else(|p| p.into_inner());
        sets.get(&(account_id, region_id.to_owned()))
            .filter(|a| a.generation == generation)
            .cloned()
    }

    pub fn remember(&self, account_id: i64, region_id: &str, anchors: Arc<Anchors>) {
        let mut sets = self.sets.lock().unwrap_or_else(|p| p.into_inner());
        // Sets of older generations can never be used again.
        sets.retain(|_, a| a.generation == anchors.generation);
        if sets.len() >= MAX_SETS {
            sets.clear();
        }
        sets.insert((account_id, region_id.to_owned()), anchors);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_starts_at_the_anchor_before_it() {
        // Gaps in seq, as deletes leave them.
        let seqs: Vec<i64> = (0..1000).map(|i| i * 3 + 7).collect();
        let a = Anchors::from_seqs(0, seqs.iter().copied());
        for position in [0u64, 1, 127, 128, 129, 500, 999] {
            let start = a.start(position).unwrap();
            let first = seqs.iter().position(|&s| s >= start.from).unwrap() as u64;
            assert_eq!(first + start.skip, position, "position {position}");
            assert!(start.skip < STRIDE);
        }
        assert_eq!(a.start(1024), None);
        assert_eq!(Anchors::from_seqs(0, []).start(0), None);
    }

    #[test]
    fn generations_describe_one_membership() {
        let p = PagePositions::default();
        let g = p.stable_generation().unwrap();
        p.remember(1, "r", Arc::new(Anchors::from_seqs(g, [1, 2, 3])));
        assert!(p.anchors(1, "r", g).is_some());
        assert!(p.anchors(1, "other", g).is_none());

        p.membership_changing();
        // While the change commits, readers neither build nor trust anchors...
        assert_eq!(p.stable_generation(), None);
        assert!(!p.unchanged_since(g));
        p.membership_changing();
        p.settled();
        // ...and afterwards the old set belongs to a past generation.
        let next = p.stable_generation().unwrap();
        assert_ne!(next, g);
        assert!(p.anchors(1, "r", next).is_none());
        p.settled();
        assert_eq!(p.stable_generation(), Some(next));
    }
}
