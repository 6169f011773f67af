//! Replaying a log from its entries, as an auditor does: recompute every leaf and the tree, and say
//! where the log first goes wrong. Pure: the entries, the stored hashes the server claims and the
//! checkpoints come in as arguments.
//!
//! What is found, and how the first bad index is named:
//! - a missing row (an index skipped): the first missing index;
//! - a row moved to another index: its body names its own index (`audit::entry`), so the first
//!   position whose body claims another index;
//! - an edited body: the first entry whose body no longer hashes to the leaf hash stored for it,
//!   or that is no longer canonical;
//! - a truncated log: the checkpoint's size is beyond the last entry;
//! - an edit that also rewrote the stored hashes: the recomputed root differs from a signed
//!   checkpoint; the bad entry lies after the largest checkpoint that still matches.

use super::entry;
use super::merkle::{self, Frontier, Hash};

/// The first problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The first index known to be bad.
    pub index: u64,
    pub problem: Problem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// No entry at this index, though later ones exist or a checkpoint covers it.
    Missing,
    /// The body is not a valid, canonical entry for this index (moved, edited, corrupt).
    BadEntry(String),
    /// The body does not hash to the leaf hash stored for it.
    LeafMismatch,
    /// The recomputed root at `size` differs from the signed checkpoint's root; the first bad
    /// entry is at or after `index` (the largest matching checkpoint's size).
    RootMismatch { size: u64 },
    /// The log has fewer entries than a signed checkpoint says it had.
    Truncated { checkpoint_size: u64 },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.problem {
            Problem::Missing => write!(f, "entry {} is missing", self.index),
            Problem::BadEntry(why) => write!(f, "entry {} is not what was logged: {why}", self.index),
            Problem::LeafMismatch => write!(
                f,
                "entry {} was edited: it no longer hashes to its stored leaf hash",
                self.index
            ),
            Problem::RootMismatch { size } => write!(
                f,
                "the tree of size {size} does not match its signed checkpoint: an entry at index {} \
                 or later (below {size}) was changed",
                self.index
            ),
            Problem::Truncated { checkpoint_size } => write!(
                f,
                "the log ends at {} but a signed checkpoint covers {checkpoint_size} entries: \
                 entries from index {} on were removed",
                self.index, self.index
            ),
        }
    }
}

/// A trusted checkpoint to compare against: its size and root (its signature already verified).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    pub size: u64,
    pub root: Hash,
}

/// The incremental replay.
#[derive(Debug)]
pub struct Replay {
    frontier: Frontier,
    anchors: Vec<Anchor>,
    next_anchor: usize,
    last_good_anchor: u64,
    /// The lowest-indexed problem pinned to one entry.
    specific: Option<Finding>,
    /// The first checkpoint whose root does not match (a range, not one entry).
    bounded: Option<(Finding, u64)>,
    matched: Vec<u64>,
}

impl Replay {
    /// Starts a replay that will check the roots at each anchor's size.
    pub fn new(mut anchors: Vec<Anchor>) -> Self {
        anchors.sort_by_key(|a| a.size);
        anchors.dedup_by_key(|a| a.size);
        let mut r = Replay {
            frontier: Frontier::new(),
            anchors,
            next_anchor: 0,
            last_good_anchor: 0,
            specific: None,
            bounded: None,
            matched: Vec::new(),
        };
        r.check_anchors();
        r
    }

    /// The number of entries replayed.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The root of what was replayed so far.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The first problem, if any: an entry pinned by its own evidence when there is one before
    /// the first mismatching checkpoint, else that checkpoint's range.
    pub fn finding(&self) -> Option<&Finding> {
        match (&self.specific, &self.bounded) {
            (Some(s), Some((b, size))) => Some(if s.index < *size { s } else { b }),
            (Some(s), None) => Some(s),
            (None, Some((b, _))) => Some(b),
            (None, None) => None,
        }
    }

    /// The anchor sizes whose roots matched.
    pub fn matched(&self) -> &[u64] {
        &self.matched
    }

    fn flag(&mut self, index: u64, problem: Problem) {
        if let Problem::RootMismatch { size } = problem {
            if self.bounded.is_none() {
                self.bounded = Some((Finding { index, problem }, size));
            }
        } else if self.specific.as_ref().is_none_or(|f| index < f.index) {
            self.specific = Some(Finding { index, problem });
        }
    }

    /// Feeds the entry the log has at `index` (entries must come in increasing index order; a
    /// skipped index is reported as missing), with the leaf hash the server stored for it if known.
    pub fn push(&mut self, index: u64, body: &str, stored_leaf: Option<&Hash>) {
        let bad = entry::check(body, index).err().map(|e| e.to_string());
        self.push_checked(index, merkle::leaf_hash(body.as_bytes()), bad, stored_leaf);
    }

    /// Feeds a page of rows in index order, checking their encodings and hashing their leaves on
    /// every core first (the part that costs), then growing the tree in order.
    pub fn push_batch(&mut self, rows: &[(u64, &str, Option<Hash>)]) {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(8);
        let work = |part: &[(u64, &str, Option<Hash>)]| -> Vec<(Hash, Option<String>)> {
            part.iter()
                .map(|(index, body, _)| {
                    let bad = entry::check(body, *index).err().map(|e| e.to_string());
                    (merkle::leaf_hash(body.as_bytes()), bad)
                })
                .collect()
        };
        let checked: Vec<(Hash, Option<String>)> = if threads < 2 || rows.len() < 256 {
            work(rows)
        } else {
            let size = rows.len().div_ceil(threads);
            std::thread::scope(|s| {
                let handles: Vec<_> = rows
                    .chunks(size)
                    .map(|c| s.spawn(move || work(c)))
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_default())
                    .collect()
            })
        };
        if checked.len() != rows.len() {
            // A worker died: fall back to checking in order.
            for (index, body, stored) in rows {
                self.push(*index, body, stored.as_ref());
            }
            return;
        }
        for ((index, _, stored), (leaf, bad)) in rows.iter().zip(checked) {
            self.push_checked(*index, leaf, bad, stored.as_ref());
        }
    }

    fn push_checked(&mut self, index: u64, leaf: Hash, bad: Option<String>, stored: Option<&Hash>) {
        if index < self.frontier.size() {
            self.flag(
                index,
                Problem::BadEntry("index repeated or out of order".into()),
            );
            return;
        }
        if index > self.frontier.size() {
            let missing = self.frontier.size();
            self.flag(missing, Problem::Missing);
            return;
        }
        if let Some(why) = bad {
            self.flag(index, Problem::BadEntry(why));
        }
        if stored.is_some_and(|s| *s != leaf) {
            self.flag(index, Problem::LeafMismatch);
        }
        self.frontier.push(leaf);
        self.check_anchors();
    }

    fn check_anchors(&mut self) {
        while let Some(a) = self.anchors.get(self.next_anchor).copied() {
            if a.size != self.frontier.size() {
                break;
            }
            if self.frontier.root() == a.root {
                self.matched.push(a.size);
                self.last_good_anchor = a.size;
            } else {
                let from = self.last_good_anchor;
                self.flag(from, Problem::RootMismatch { size: a.size });
            }
            self.next_anchor += 1;
        }
    }

    /// Ends the replay: any anchor beyond the replayed entries means the log was truncated.
    pub fn finish(mut self) -> ReplayResult {
        if let Some(a) = self.anchors.get(self.next_anchor).copied() {
            let end = self.frontier.size();
            self.flag(
                end,
                Problem::Truncated {
                    checkpoint_size: a.size,
                },
            );
        }
        ReplayResult {
            size: self.frontier.size(),
            root: self.frontier.root(),
            finding: self.finding().cloned(),
            matched: self.matched,
        }
    }
}

/// The outcome of a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayResult {
    pub size: u64,
    pub root: Hash,
    /// The anchor sizes whose roots matched.
    pub matched: Vec<u64>,
    /// The first problem; `None` means every check passed.
    pub finding: Option<Finding>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::entry::{EntryKind, NewEntry};

    fn bodies(n: u64) -> Vec<String> {
        (0..n)
            .map(|i| {
                NewEntry::new(
                    EntryKind::Admin,
                    time::OffsetDateTime::UNIX_EPOCH,
                    "t",
                    serde_json::json!({"n": i}),
                )
                .encode(i)
                .unwrap()
            })
            .collect()
    }

    fn anchor(bodies: &[String]) -> Anchor {
        let leaves: Vec<Hash> = bodies
            .iter()
            .map(|b| merkle::leaf_hash(b.as_bytes()))
            .collect();
        Anchor {
            size: bodies.len() as u64,
            root: merkle::root_from_leaves(&leaves),
        }
    }

    fn replay(
        rows: &[(u64, String)],
        anchors: Vec<Anchor>,
        leaves: Option<&[Hash]>,
    ) -> ReplayResult {
        let mut r = Replay::new(anchors);
        for (i, b) in rows {
            r.push(*i, b, leaves.and_then(|l| l.get(*i as usize)));
        }
        r.finish()
    }

    #[test]
    fn an_honest_log_passes() {
        let b = bodies(20);
        let rows: Vec<_> = b
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, b)| (i as u64, b))
            .collect();
        let res = replay(&rows, vec![anchor(&b[..7]), anchor(&b)], None);
        assert_eq!(res.finding, None);
        assert_eq!(res.matched, vec![7, 20]);
    }

    #[test]
    fn a_deleted_row_is_named() {
        let b = bodies(10);
        let rows: Vec<_> = b
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, b)| (i as u64, b))
            .filter(|(i, _)| *i != 4)
            .collect();
        let res = replay(&rows, vec![anchor(&b)], None);
        assert_eq!(res.finding.unwrap().index, 4);
    }

    #[test]
    fn swapped_rows_are_named() {
        let b = bodies(10);
        let mut rows: Vec<_> = b
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, b)| (i as u64, b))
            .collect();
        let (x, y) = (rows[3].1.clone(), rows[6].1.clone());
        rows[3].1 = y;
        rows[6].1 = x;
        let f = replay(&rows, vec![anchor(&b)], None).finding.unwrap();
        assert_eq!(f.index, 3);
        assert!(matches!(f.problem, Problem::BadEntry(_)));
    }

    #[test]
    fn an_edited_body_is_named_by_its_stored_leaf() {
        let b = bodies(10);
        let leaves: Vec<Hash> = b.iter().map(|x| merkle::leaf_hash(x.as_bytes())).collect();
        let mut rows: Vec<_> = b
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, b)| (i as u64, b))
            .collect();
        rows[5].1 = rows[5].1.replace("\"n\":5", "\"n\":6");
        let f = replay(&rows, vec![anchor(&b)], Some(&leaves))
            .finding
            .unwrap();
        assert_eq!(
            f,
            Finding {
                index: 5,
                problem: Problem::LeafMismatch
            }
        );
    }

    #[test]
    fn an_edit_with_rewritten_hashes_is_bounded_by_checkpoints() {
        let b = bodies(10);
        let mut rows: Vec<_> = b
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, b)| (i as u64, b))
            .collect();
        rows[5].1 = rows[5].1.replace("\"n\":5", "\"n\":6");
        let f = replay(&rows, vec![anchor(&b[..4]), anchor(&b)], None)
            .finding
            .unwrap();
        assert_eq!(
            f,
            Finding {
                index: 4,
                problem: Problem::RootMismatch { size: 10 }
            }
        );
    }

    #[test]
    fn truncation_is_named() {
        let b = bodies(10);
        let rows: Vec<_> = b
            .iter()
            .cloned()
            .enumerate()
            .take(8)
            .map(|(i, b)| (i as u64, b))
            .collect();
        let f = replay(&rows, vec![anchor(&b)], None).finding.unwrap();
        assert_eq!(
            f,
            Finding {
                index: 8,
                problem: Problem::Truncated {
                    checkpoint_size: 10
                }
            }
        );
    }
}
