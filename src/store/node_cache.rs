//! An in-memory copy of the transparency log's stored subtree hashes, so a proof costs no database
//! round trip.
//!
//! A complete subtree's hash never changes once committed (the log is append-only and the tree of
//! a given size is fixed), so a copy can never be stale, whichever instance appended it. The copy
//! holds, per level, a prefix of that level's nodes (0..len), filled only from committed rows read
//! back from the database: never from a transaction that might still roll back.
//!
//! Memory is bounded by a node budget (32 bytes a node): higher levels are filled first, since
//! every proof needs one node per level and the high ones are shared by many proofs. With the
//! default budget a log of a million entries (two million nodes) fits whole; beyond it the lowest
//! levels stay in the database and a proof reads just those.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::audit::merkle::{Hash, NodeId};

/// The default budget: 2^21 nodes, 64 MiB.
pub const DEFAULT_BUDGET_NODES: usize = 1 << 21;

#[derive(Debug)]
pub struct NodeCache {
    budget: usize,
    inner: RwLock<Levels>,
}

#[derive(Debug, Default)]
struct Levels {
    /// `levels[l][k]` is the hash of node (l, k); each level is a prefix.
    levels: Vec<Vec<Hash>>,
    total: usize,
}

impl NodeCache {
    pub fn new(budget_nodes: usize) -> Self {
        NodeCache {
            budget: budget_nodes,
            inner: RwLock::new(Levels::default()),
        }
    }

    /// Moves the cached ones of `ids` into `found`; returns the others.
    pub fn lookup(&self, ids: &[NodeId], found: &mut HashMap<NodeId, Hash>) -> Vec<NodeId> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let mut missing = Vec::new();
        for id in ids {
            let hit = inner
                .levels
                .get(usize::from(id.level))
                .and_then(|l| l.get(usize::try_from(id.index).ok()?));
            match hit {
                Some(h) => {
                    found.insert(*id, *h);
                }
                None => missing.push(*id),
            }
        }
        missing
    }

    /// How many nodes of `level` are cached (the prefix length).
    pub fn len(&self, level: u8) -> u64 {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        inner
            .levels
            .get(usize::from(level))
            .map_or(0, |l| l.len() as u64)
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).total == 0
    }

    /// How many more nodes fit in the budget.
    pub fn room(&self) -> usize {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        self.budget.saturating_sub(inner.total)
    }

    /// Appends committed nodes `start..start + hashes.len()` of `level`, as far as the budget
    /// allows. Only a continuation of the cached prefix is taken (another task may have extended it
    /// meanwhile: the overlap is skipped, a gap refused). Returns how many nodes were added.
    pub fn extend(&self, level: u8, start: u64, hashes: &[Hash]) -> usize {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let l = usize::from(level);
        if inner.levels.len() <= l {
            inner.levels.resize_with(l + 1, Vec::new);
        }
        let have = inner.levels[l].len() as u64;
        if start > have {
            return 0;
        }
        let skip = usize::try_from(have - start).unwrap_or(usize::MAX);
        let Some(new) = hashes.get(skip..) else {
            return 0;
        };
        let take = new.len().min(self.budget.saturating_sub(inner.total));
        inner.levels[l].extend_from_slice(&new[..take]);
        inner.total += take;
        take
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> Hash {
        [n; 32]
    }

    #[test]
    fn prefixes_only_and_within_budget() {
        let c = NodeCache::new(5);
        assert_eq!(c.extend(0, 1, &[h(1)]), 0, "a gap is refused");
        assert_eq!(c.extend(0, 0, &[h(0), h(1), h(2)]), 3);
        assert_eq!(
            c.extend(0, 1, &[h(1), h(2), h(3)]),
            1,
            "the overlap is skipped"
        );
        assert_eq!(c.extend(1, 0, &[h(10), h(11)]), 1, "the budget stops it");
        assert_eq!(c.room(), 0);
        assert_eq!(c.len(0), 4);
        assert_eq!(c.len(1), 1);
        let mut found = HashMap::new();
        let ids = [
            NodeId { level: 0, index: 3 },
            NodeId { level: 0, index: 4 },
            NodeId { level: 1, index: 0 },
            NodeId { level: 7, index: 0 },
        ];
        let missing = c.lookup(&ids, &mut found);
        assert_eq!(missing, vec![ids[1], ids[3]]);
        assert_eq!(found[&ids[0]], h(3));
        assert_eq!(found[&ids[2]], h(10));
    }
}
