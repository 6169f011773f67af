//! The Merkle tree of the transparency log: hashing (RFC 9162 2.1.1, identical to RFC 6962 2.1),
//! inclusion and consistency proofs (RFC 9162 2.1.3 and 2.1.4), and the incremental tree state
//! ("frontier") that the appender keeps.
//!
//! Proof *generation* is split in two so that storage stays dumb: a [`ProofPlan`] names the complete
//! (perfect) subtrees a proof is made of, the storage layer fetches exactly those hashes in one
//! query, and [`ProofPlan::assemble`] combines them into the RFC 9162 proof. Proof *verification*
//! ([`verify_inclusion`], [`verify_consistency`]) follows the RFC 9162 algorithms step by step and
//! uses every component of the proof and its exact length.
//!
//! This module never touches the clock, the network, files or the database, and never recurses on
//! the tree's depth in a way that depends on the input size: every walk is an iterative loop over
//! at most 64 levels.
#![forbid(unsafe_code)]

use ring::digest;

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// RFC 9162 2.1.1 (RFC 6962 2.1): domain separation between leaves and interior nodes, so that a
/// leaf can never be presented as a node (second-preimage attack).
const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in parts {
        ctx.update(part);
    }
    let digest = ctx.finish();
    let mut out = [0u8; 32];
    // Invariant: a SHA-256 digest is always 32 bytes, so this copy cannot panic.
    out.copy_from_slice(digest.as_ref());
    out
}

/// The leaf hash of an entry: SHA-256(0x00 || entry) (RFC 9162 2.1.1, MTH({d(0)})).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    sha256(&[&[LEAF_PREFIX], entry])
}

/// An interior node: SHA-256(0x01 || left || right) (RFC 9162 2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[NODE_PREFIX], left, right])
}

/// The root of the empty tree: SHA-256 of the empty string (RFC 9162 2.1.1, MTH({})).
pub fn empty_root() -> Hash {
    sha256(&[])
}

/// The Merkle Tree Hash of a list of leaf hashes (RFC 9162 2.1.1). Iterative: O(n) hashing and
/// O(log n) memory, whatever the input size.
pub fn root_from_leaves(leaves: &[Hash]) -> Hash {
    let mut frontier = Frontier::new();
    for leaf in leaves {
        // A slice cannot hold 2^64 - 1 elements of 32 bytes, so the tree never fills up here.
        if frontier.append(*leaf, |_, _| {}).is_err() {
            break;
        }
    }
    frontier.root()
}

/// A complete (perfect) subtree: `level` L, `index` k covers leaves [k << L, (k+1) << L).
/// Level 0 = a leaf hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

impl NodeId {
    /// The leaf at `index` (level 0).
    pub const fn leaf(index: u64) -> Self {
        Self { level: 0, index }
    }

    /// The leaves this subtree covers, as a half-open range, or `None` if that range does not fit
    /// in a `u64` tree (a level above 63, or a range ending past 2^64 - 1).
    pub fn leaf_range(&self) -> Option<std::ops::Range<u64>> {
        let level = u32::from(self.level);
        let start = u128::from(self.index).checked_shl(level)?;
        let end = (u128::from(self.index) + 1).checked_shl(level)?;
        if level >= 64 || end > u128::from(u64::MAX) {
            return None;
        }
        Some(u64::try_from(start).ok()?..u64::try_from(end).ok()?)
    }
}

/// Why a proof could not be built or did not verify. Every variant means "do not trust this".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// RFC 9162 2.1.3.2 step 1: the leaf index must be smaller than the tree size.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// RFC 9162 2.1.4: a consistency proof goes from a smaller (or equal) tree to a larger one.
    #[error("no consistency proof from size {old} to the smaller size {new}")]
    BadSizes { old: u64, new: u64 },
    /// RFC 9162 2.1.3.2 / 2.1.4.2: the proof length is fixed by the index and the sizes; a proof
    /// with a component missing or extra is rejected before any hashing.
    #[error("proof has {got} hashes, expected exactly {expected}")]
    WrongLength { expected: usize, got: usize },
    /// RFC 9162 2.1.3.2 step 5 / 2.1.4.2 step 7: the recomputed root of the tree of `size` leaves
    /// differs from the root given.
    #[error("recomputed root of the tree of size {size} does not match")]
    RootMismatch { size: u64 },
    /// Storage could not supply a subtree hash the proof needs.
    #[error("missing hash of subtree at level {} index {}", .0.level, .0.index)]
    MissingNode(NodeId),
    /// The tree already holds 2^64 - 1 leaves: one more cannot be addressed by a `u64` index.
    #[error("the tree of size {size} cannot grow")]
    TreeFull { size: u64 },
}

/// The largest power of two strictly smaller than `n` (RFC 9162 2.1.1 "k"), for `n >= 2`.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - n.saturating_sub(1).leading_zeros().min(63))
}

/// One proof component: the Merkle Tree Hash of the leaf range covered by `nodes[parts]`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Component {
    parts: std::ops::Range<usize>,
}

/// What a proof needs from storage: the complete subtrees whose hashes compose it. A proof component
/// that is not itself a complete subtree (the right edge of a tree whose size is not a power of
/// two) is the hash of several complete subtrees combined right-to-left; the plan knows how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofPlan {
    /// Every component's complete subtrees, components in proof order, each left to right.
    parts: Vec<NodeId>,
    components: Vec<Component>,
    /// `parts`, sorted and deduplicated: what storage fetches.
    nodes: Vec<NodeId>,
}

impl ProofPlan {
    /// Builds the plan from the leaf ranges of the components, in proof order.
    fn from_ranges(ranges: &[(u64, u64)]) -> Self {
        let mut parts = Vec::new();
        let mut components = Vec::with_capacity(ranges.len());
        for &(start, end) in ranges {
            let first = parts.len();
            decompose(start, end, &mut parts);
            components.push(Component {
                parts: first..parts.len(),
            });
        }
        let mut nodes = parts.clone();
        nodes.sort_unstable();
        nodes.dedup();
        Self {
            parts,
            components,
            nodes,
        }
    }

    /// The complete subtrees to fetch, sorted and deduplicated.
    pub fn nodes(&self) -> &[NodeId] {
        &self.nodes
    }

    /// The number of hashes the assembled proof has.
    pub fn len(&self) -> usize {
        self.components.len()
    }

    /// Whether the assembled proof is empty (a one-leaf tree, or a trivial consistency proof).
    pub fn is_empty(&self) -> bool {
        self.components.is_empty()
    }

    /// Combines the fetched subtree hashes into the proof. A component made of several complete
    /// subtrees s0, s1, ..., sj (decreasing levels) is MTH = node(s0, node(s1, ... sj)), which is
    /// how RFC 9162 2.1.1 splits a range whose size is not a power of two. A component with no
    /// subtree (only the root of the empty tree) is [`empty_root`].
    pub fn assemble(
        &self,
        lookup: impl Fn(NodeId) -> Option<Hash>,
    ) -> Result<Vec<Hash>, ProofError> {
        let mut proof = Vec::with_capacity(self.components.len());
        for component in &self.components {
            let parts = self.parts.get(component.parts.clone()).unwrap_or(&[]);
            let mut iter = parts.iter().rev();
            let mut hash = match iter.next() {
                Some(&id) => lookup(id).ok_or(ProofError::MissingNode(id))?,
                None => empty_root(),
            };
            for &id in iter {
                let left = lookup(id).ok_or(ProofError::MissingNode(id))?;
                hash = node_hash(&left, &hash);
            }
            proof.push(hash);
        }
        Ok(proof)
    }
}

/// Splits the leaf range [start, end) into maximal complete subtrees, left to right. For the
/// ranges proofs use (a left-aligned range or the right edge of a subtree) the levels strictly
/// decrease, which is what makes the right-to-left combination in `assemble` the RFC 9162 MTH.
fn decompose(mut start: u64, end: u64, out: &mut Vec<NodeId>) {
    while start < end {
        let remaining = end - start;
        // Highest power of two not above `remaining`, limited by the alignment of `start`.
        let by_len = 63 - remaining.leading_zeros();
        let by_align = start.trailing_zeros();
        let level = by_len.min(by_align);
        out.push(NodeId {
            // level <= 63 because `remaining` is non-zero.
            level: level as u8,
            index: start >> level,
        });
        start += 1u64 << level;
    }
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves: RFC 9162 2.1.3.1 PATH(m, D[n]),
/// the siblings from the leaf up to the root's child.
pub fn inclusion_plan(index: u64, size: u64) -> Result<ProofPlan, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    // Walk PATH(m, D[lo:hi]) from the root down; RFC 9162 lists the components leaf first.
    let mut ranges = Vec::new();
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            // m < k: PATH(m, D[0:k]) : MTH(D[k:n])
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            // m >= k: PATH(m - k, D[k:n]) : MTH(D[0:k])
            ranges.push((lo, lo + k));
            lo += k;
        }
    }
    ranges.reverse();
    Ok(ProofPlan::from_ranges(&ranges))
}

/// The consistency proof from the tree of `old` leaves to the tree of `new` leaves: RFC 9162
/// 2.1.4.1 PROOF(m, D[n]). `old == new` and `old == 0` give the empty proof (any tree is
/// consistent with itself and with the empty tree); `old > new` is an error.
pub fn consistency_plan(old: u64, new: u64) -> Result<ProofPlan, ProofError> {
    if old > new {
        return Err(ProofError::BadSizes { old, new });
    }
    if old == 0 || old == new {
        return Ok(ProofPlan::from_ranges(&[]));
    }
    // SUBPROOF(m, D[lo:hi], whole), walked from the root down; invariant lo < old <= hi.
    let mut ranges = Vec::new();
    let (mut lo, mut hi, mut whole) = (0u64, new, true);
    loop {
        if old == hi {
            // SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}
            if !whole {
                ranges.push((lo, hi));
            }
            break;
        }
        let k = split_point(hi - lo);
        if old - lo <= k {
            // m <= k: SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            // m > k: SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            ranges.push((lo, lo + k));
            lo += k;
            whole = false;
        }
    }
    ranges.reverse();
    Ok(ProofPlan::from_ranges(&ranges))
}

/// The root of the tree of `size` leaves as a plan: `assemble` returns `vec![root]`, the root of
/// the empty tree when `size` is 0.
pub fn root_plan(size: u64) -> ProofPlan {
    ProofPlan::from_ranges(&[(0, size)])
}

/// RFC 9162 2.1.3.2 (via the decomposition of transparency-dev/merkle): an inclusion proof has
/// one hash per level where the leaf's path and the right edge differ, plus one per left sibling
/// on the right edge above that. Requires `index < size`.
fn inclusion_len(index: u64, size: u64) -> usize {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// The exact length of the consistency proof from `old` to `new`, for 0 < old < new.
fn consistency_len(old: u64, new: u64) -> usize {
    let shift = old.trailing_zeros();
    let inner = 64 - ((old - 1) ^ (new - 1)).leading_zeros();
    let border = (old - 1).checked_shr(inner).unwrap_or(0).count_ones();
    // RFC 9162 2.1.4.2 step 2: when `old` is a power of two its root is not part of the proof.
    let seed = usize::from(old != 1u64 << shift);
    // `shift < inner` whenever old < new (transparency-dev/merkle), so this never saturates.
    seed + inner.saturating_sub(shift) as usize + border as usize
}

/// Recomputes the root from a leaf hash and its inclusion proof: RFC 9162 2.1.3.2 steps 2-4.
/// Every proof component enters the result. Checks the length and the final `sn == 0` of step 5;
/// comparing with a trusted root is the caller's job (see [`verify_inclusion`]).
pub fn root_from_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    let wrong_length = ProofError::WrongLength {
        expected,
        got: proof.len(),
    };
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        // Step 4a: a component left over once the root is reached.
        if s == 0 {
            return Err(wrong_length);
        }
        // Step 4b.
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        // Step 4c.
        f >>= 1;
        s >>= 1;
    }
    // Step 5: the proof must reach the root exactly.
    if s != 0 {
        return Err(wrong_length);
    }
    Ok(r)
}

/// Verifies that `leaf` is the leaf at `index` in the tree of `size` leaves whose root is `root`
/// (RFC 9162 2.1.3.2). Checks the exact proof length and uses every component.
///
/// The proof does not bind the tree size on its own: the size must come from the same signed
/// checkpoint as `root`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion(leaf, index, size, proof)?;
    if computed != *root {
        return Err(ProofError::RootMismatch { size });
    }
    Ok(())
}

/// Verifies that the tree of `new_size` leaves with root `new_root` extends the tree of `old_size`
/// leaves with root `old_root` (RFC 9162 2.1.4.2). Checks the exact proof length and uses every
/// component.
///
/// Edge cases the RFC leaves to the caller: from size 0 the proof must be empty and `old_root`
/// must be the empty tree's root; between equal sizes the proof must be empty and the roots equal.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::BadSizes {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == 0 || old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                expected: 0,
                got: proof.len(),
            });
        }
        if old_size == 0 && *old_root != empty_root() {
            return Err(ProofError::RootMismatch { size: 0 });
        }
        if old_size == new_size && old_root != new_root {
            return Err(ProofError::RootMismatch { size: new_size });
        }
        return Ok(());
    }
    let expected = consistency_len(old_size, new_size);
    // Step 1 (an empty path fails) is covered: `expected` is at least 1 when old < new.
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    let wrong_length = ProofError::WrongLength {
        expected,
        got: proof.len(),
    };
    // Step 2: if `old` is an exact power of two, its root is the implicit first component.
    let (seed, rest) = if old_size.is_power_of_two() {
        (*old_root, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (*first, rest),
            None => return Err(wrong_length),
        }
    };
    // Step 3.
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    // Step 4.
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    // Step 5.
    let (mut fr, mut sr) = (seed, seed);
    // Step 6.
    for c in rest {
        if s == 0 {
            return Err(wrong_length);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    // Step 7.
    if s != 0 {
        return Err(wrong_length);
    }
    if fr != *old_root {
        return Err(ProofError::RootMismatch { size: old_size });
    }
    if sr != *new_root {
        return Err(ProofError::RootMismatch { size: new_size });
    }
    Ok(())
}

/// Incremental tree state (the "compact range" / frontier: one complete subtree per set bit of
/// size, from the highest level down).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Invariant: `hashes.len() == size.count_ones()`, `hashes[i]` is the subtree of the i-th set
    /// bit of `size` counted from the most significant one (see [`Frontier::plan`]).
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; returns every complete subtree that became complete by it (the leaf
    /// itself at level 0 first, then each higher node), so storage can persist exactly those.
    ///
    /// # Panics
    /// If the tree already holds 2^64 - 1 leaves. Appending cannot get there (2^64 hashes); only
    /// [`Frontier::from_nodes`] with that size can, and callers that resume from an untrusted size
    /// use [`Frontier::try_push`].
    pub fn push(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        match self.try_push(leaf) {
            Ok(nodes) => nodes,
            Err(e) => panic!("{e}"),
        }
    }

    /// [`Frontier::push`], returning [`ProofError::TreeFull`] instead of panicking.
    pub fn try_push(&mut self, leaf: Hash) -> Result<Vec<(NodeId, Hash)>, ProofError> {
        let mut out = Vec::with_capacity(1 + self.size.trailing_ones() as usize);
        self.append(leaf, |id, hash| out.push((id, hash)))?;
        Ok(out)
    }

    /// Appends one leaf, reporting each newly complete subtree (leaf first) to `on_node`.
    fn append(
        &mut self,
        leaf: Hash,
        mut on_node: impl FnMut(NodeId, Hash),
    ) -> Result<(), ProofError> {
        let size = self.size;
        if size == u64::MAX {
            return Err(ProofError::TreeFull { size });
        }
        on_node(NodeId::leaf(size), leaf);
        // The new leaf completes one subtree per trailing one bit of `size`; those subtrees' left
        // halves are the last `merges` frontier entries, lowest level last.
        let merges = size.trailing_ones() as usize;
        let keep = self.hashes.len().saturating_sub(merges);
        let mut hash = leaf;
        let mut level = 0u8;
        for left in self.hashes.drain(keep..).rev() {
            hash = node_hash(&left, &hash);
            level += 1;
            on_node(
                NodeId {
                    level,
                    index: size >> level,
                },
                hash,
            );
        }
        self.hashes.push(hash);
        self.size = size + 1;
        Ok(())
    }

    /// The Merkle Tree Hash of the leaves so far (RFC 9162 2.1.1): the frontier subtrees combined
    /// right to left.
    pub fn root(&self) -> Hash {
        let mut iter = self.hashes.iter().rev();
        let Some(&last) = iter.next() else {
            return empty_root();
        };
        iter.fold(last, |acc, left| node_hash(left, &acc))
    }

    /// The frontier subtrees and their hashes, from the highest level down.
    pub fn nodes(&self) -> Vec<(NodeId, Hash)> {
        Self::plan(self.size)
            .into_iter()
            .zip(self.hashes.iter().copied())
            .collect()
    }

    /// The NodeIds of the frontier of a tree of `size` (what to load to resume appending).
    pub fn plan(size: u64) -> Vec<NodeId> {
        let mut out = Vec::with_capacity(size.count_ones() as usize);
        let mut start = 0u64;
        for level in (0..64u8).rev() {
            if (size >> level) & 1 == 1 {
                out.push(NodeId {
                    level,
                    index: start >> level,
                });
                // Cannot overflow: `start` stays at most `size`.
                start += 1u64 << level;
            }
        }
        out
    }

    /// Rebuilds the frontier of a tree of `size` from stored subtree hashes.
    pub fn from_nodes(
        size: u64,
        lookup: impl Fn(NodeId) -> Option<Hash>,
    ) -> Result<Self, ProofError> {
        let hashes = Self::plan(size)
            .into_iter()
            .map(|id| lookup(id).ok_or(ProofError::MissingNode(id)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { size, hashes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    /// The recursive RFC 9162 2.1.1 definition, as an oracle for small trees.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn split_point_is_largest_power_of_two_below() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(8), 4);
        assert_eq!(split_point(9), 8);
        assert_eq!(split_point(u64::MAX), 1 << 63);
        assert_eq!(split_point((1 << 63) + 1), 1 << 63);
        assert_eq!(split_point(1 << 63), 1 << 62);
    }

    #[test]
    fn root_matches_recursive_definition() {
        for n in 0..70 {
            let l = leaves(n);
            assert_eq!(root_from_leaves(&l), mth(&l), "size {n}");
        }
    }

    #[test]
    fn node_id_leaf_range() {
        assert_eq!(NodeId { level: 3, index: 2 }.leaf_range(), Some(16..24));
        assert_eq!(
            NodeId {
                level: 63,
                index: 0
            }
            .leaf_range(),
            Some(0..1 << 63)
        );
        assert_eq!(
            NodeId {
                level: 63,
                index: 1
            }
            .leaf_range(),
            None
        );
        assert_eq!(
            NodeId {
                level: 64,
                index: 0
            }
            .leaf_range(),
            None
        );
        assert_eq!(
            NodeId {
                level: 200,
                index: 0
            }
            .leaf_range(),
            None
        );
    }

    #[test]
    fn plan_errors() {
        assert_eq!(
            inclusion_plan(0, 0).unwrap_err(),
            ProofError::IndexOutOfRange { index: 0, size: 0 }
        );
        assert_eq!(
            inclusion_plan(5, 5).unwrap_err(),
            ProofError::IndexOutOfRange { index: 5, size: 5 }
        );
        assert_eq!(
            consistency_plan(6, 5).unwrap_err(),
            ProofError::BadSizes { old: 6, new: 5 }
        );
        assert!(consistency_plan(0, 9).unwrap().is_empty());
        assert!(consistency_plan(9, 9).unwrap().is_empty());
        assert!(inclusion_plan(0, 1).unwrap().is_empty());
    }

    #[test]
    fn missing_node_is_reported() {
        let plan = inclusion_plan(2, 7).unwrap();
        let first = plan.nodes()[0];
        let err = plan
            .assemble(|id| if id == first { None } else { Some([0; 32]) })
            .unwrap_err();
        assert_eq!(err, ProofError::MissingNode(first));
        assert_eq!(
            Frontier::from_nodes(5, |_| None).unwrap_err(),
            ProofError::MissingNode(NodeId { level: 2, index: 0 })
        );
    }

    #[test]
    fn empty_tree_root_plan() {
        let plan = root_plan(0);
        assert!(plan.nodes().is_empty());
        assert_eq!(plan.assemble(|_| None).unwrap(), vec![empty_root()]);
        assert_eq!(Frontier::new().root(), empty_root());
    }

    #[test]
    fn huge_sizes_do_not_overflow() {
        let fake = |id: NodeId| Some(leaf_hash(&[id.level, id.index as u8]));
        for &(i, n) in &[
            (0, u64::MAX),
            (u64::MAX - 1, u64::MAX),
            (1 << 63, u64::MAX),
            ((1 << 63) - 1, 1 << 63),
            (12345, (1 << 63) + 1),
        ] {
            let plan = inclusion_plan(i, n).unwrap();
            for id in plan.nodes() {
                assert!(id.leaf_range().unwrap().end <= n);
            }
            let proof = plan.assemble(fake).unwrap();
            assert_eq!(proof.len(), inclusion_len(i, n), "({i}, {n})");
            // The right length, so only the root can be wrong.
            assert_eq!(
                verify_inclusion(&[7; 32], i, n, &proof, &[0; 32]),
                Err(ProofError::RootMismatch { size: n })
            );
        }
        for &(m, n) in &[
            (1, u64::MAX),
            (u64::MAX - 1, u64::MAX),
            (1 << 63, u64::MAX),
            (u64::MAX / 3, u64::MAX),
            ((1 << 63) - 1, 1 << 63),
        ] {
            let plan = consistency_plan(m, n).unwrap();
            for id in plan.nodes() {
                assert!(id.leaf_range().unwrap().end <= n);
            }
            let proof = plan.assemble(fake).unwrap();
            assert_eq!(proof.len(), consistency_len(m, n), "({m}, {n})");
            assert!(matches!(
                verify_consistency(m, n, &[1; 32], &[2; 32], &proof),
                Err(ProofError::RootMismatch { .. })
            ));
        }
        assert_eq!(Frontier::plan(u64::MAX).len(), 64);
        let mut full = Frontier::from_nodes(u64::MAX, fake).unwrap();
        assert_eq!(
            full.try_push([0; 32]),
            Err(ProofError::TreeFull { size: u64::MAX })
        );
        // The failed push left the state intact.
        assert_eq!(full.size(), u64::MAX);
        assert_eq!(full.nodes().len(), 64);
    }

    #[test]
    fn push_reports_new_subtrees() {
        let mut f = Frontier::new();
        let l = leaves(8);
        let mut got = Vec::new();
        for leaf in &l {
            got.push(f.push(*leaf));
        }
        // Leaf 7 completes 6-7, 4-7 and 0-7.
        let ids: Vec<NodeId> = got[7].iter().map(|(id, _)| *id).collect();
        assert_eq!(
            ids,
            vec![
                NodeId { level: 0, index: 7 },
                NodeId { level: 1, index: 3 },
                NodeId { level: 2, index: 1 },
                NodeId { level: 3, index: 0 },
            ]
        );
        assert_eq!(got[7][3].1, mth(&l));
        assert_eq!(got[6].len(), 1);
    }
}
