//! The pure core of the transparency log against the RFC 6962 reference tree, the C2SP signed-note
//! example (both from ../shared/corpora/merkle), exhaustive proofs for every tree up to 64 leaves,
//! random trees up to 100,000 leaves, and an independent Python checker (full suite).

use std::collections::HashMap;
use std::path::PathBuf;

use antin::audit::bundle::ProofBundle;
use antin::audit::merkle::{
    consistency_plan, empty_root, inclusion_plan, leaf_hash, root_from_leaves, root_plan,
    verify_consistency, verify_inclusion, Frontier, Hash, NodeId, ProofError, ProofPlan,
};
use antin::audit::note::{open, Checkpoint, NoteError, NoteSigner, NoteVerifier};

fn vectors() -> Option<serde_json::Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpora/merkle/rfc6962-vectors.json");
    if !path.exists() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "corpus {} missing under CI=true",
            path.display()
        );
        eprintln!("skipping: {} is missing", path.display());
        return None;
    }
    let text = std::fs::read_to_string(&path).unwrap();
    Some(serde_json::from_str(&text).unwrap())
}

fn hex32(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// A simple xorshift64 PRNG: reproducible, no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform-ish in [0, n).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn entry_leaf(i: u64) -> Hash {
    leaf_hash(format!("entry {i}").as_bytes())
}

/// A log held in memory the way storage holds it: every complete subtree that `push` reported.
#[derive(Default)]
struct MemLog {
    leaves: Vec<Hash>,
    nodes: HashMap<NodeId, Hash>,
    frontier: Frontier,
}

impl MemLog {
    fn push(&mut self, leaf: Hash) {
        let size = self.frontier.size();
        let new = self.frontier.push(leaf);
        // The leaf first, then one node per level it completed, each the root of its leaves.
        assert_eq!(new.len(), 1 + size.trailing_ones() as usize);
        assert_eq!(new[0], (NodeId::leaf(size), leaf));
        for (i, (id, _)) in new.iter().enumerate() {
            assert_eq!(usize::from(id.level), i);
            assert_eq!(id.leaf_range().unwrap().end, size + 1);
        }
        self.leaves.push(leaf);
        for (id, hash) in new {
            assert!(
                self.nodes.insert(id, hash).is_none(),
                "{id:?} reported twice"
            );
        }
    }

    fn size(&self) -> u64 {
        self.frontier.size()
    }

    fn lookup(&self) -> impl Fn(NodeId) -> Option<Hash> + '_ {
        |id| self.nodes.get(&id).copied()
    }

    fn assemble(&self, plan: &ProofPlan, size: u64) -> Vec<Hash> {
        for id in plan.nodes() {
            assert!(
                id.leaf_range().unwrap().end <= size,
                "{id:?} is outside the tree of size {size}"
            );
        }
        assert!(
            plan.nodes().windows(2).all(|w| w[0] < w[1]),
            "nodes not sorted/deduplicated"
        );
        let proof = plan.assemble(self.lookup()).unwrap();
        assert_eq!(proof.len(), plan.len());
        proof
    }

    fn root(&self, size: u64) -> Hash {
        self.assemble(&root_plan(size), size)[0]
    }

    fn inclusion(&self, index: u64, size: u64) -> Vec<Hash> {
        self.assemble(&inclusion_plan(index, size).unwrap(), size)
    }

    fn consistency(&self, old: u64, new: u64) -> Vec<Hash> {
        self.assemble(&consistency_plan(old, new).unwrap(), new)
    }
}

fn flip(hash: &Hash, bit: usize) -> Hash {
    let mut h = *hash;
    h[bit / 8 % 32] ^= 1 << (bit % 8);
    h
}

#[test]
fn rfc6962_reference_roots() {
    let Some(v) = vectors() else { return };
    let leaves: Vec<Hash> = v["leaves_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| leaf_hash(&hex::decode(l.as_str().unwrap()).unwrap()))
        .collect();
    assert_eq!(leaves.len(), 8);
    let roots = v["roots_by_size"].as_object().unwrap();
    assert_eq!(roots.len(), 8);
    let mut log = MemLog::default();
    for n in 1..=8usize {
        log.push(leaves[n - 1]);
        let want = hex32(roots[&n.to_string()].as_str().unwrap());
        assert_eq!(root_from_leaves(&leaves[..n]), want, "size {n}");
        assert_eq!(log.frontier.root(), want, "frontier, size {n}");
        assert_eq!(log.root(n as u64), want, "root plan, size {n}");
    }
    let empty = hex32(v["empty_tree_root"].as_str().unwrap());
    assert_eq!(empty_root(), empty);
    assert_eq!(root_from_leaves(&[]), empty);
    assert_eq!(Frontier::new().root(), empty);
    assert_eq!(MemLog::default().root(0), empty);
}

/// Every inclusion proof in every tree of 1..=64 leaves, each built from only the subtrees
/// complete at that size, verifies; every corruption of it is rejected.
#[test]
fn exhaustive_inclusion_up_to_64() {
    let mut log = MemLog::default();
    let mut roots = vec![empty_root()];
    let mut proofs: Vec<Vec<Vec<Hash>>> = vec![vec![]];
    for n in 1..=64u64 {
        log.push(entry_leaf(n - 1));
        let root = log.root(n);
        assert_eq!(root, root_from_leaves(&log.leaves), "size {n}");
        assert_eq!(root, log.frontier.root(), "size {n}");
        roots.push(root);
        proofs.push((0..n).map(|i| log.inclusion(i, n)).collect());
    }
    for n in 1..=64u64 {
        let root = roots[n as usize];
        for i in 0..n {
            let leaf = log.leaves[i as usize];
            let proof = &proofs[n as usize][i as usize];
            verify_inclusion(&leaf, i, n, proof, &root)
                .unwrap_or_else(|e| panic!("({i}, {n}): {e}"));
            // Each component matters: flip one bit in each in turn.
            for j in 0..proof.len() {
                let mut bad = proof.clone();
                bad[j] = flip(&bad[j], i as usize * 7 + j * 31);
                assert_eq!(
                    verify_inclusion(&leaf, i, n, &bad, &root),
                    Err(ProofError::RootMismatch { size: n }),
                    "({i}, {n}) component {j}"
                );
            }
            // Wrong leaf, wrong root.
            assert!(verify_inclusion(&flip(&leaf, 3), i, n, proof, &root).is_err());
            assert!(verify_inclusion(&leaf, i, n, proof, &flip(&root, 200)).is_err());
            // One too short, one too long (a copy of the last hash, or of the root).
            if let Some((_, short)) = proof.split_last() {
                assert!(matches!(
                    verify_inclusion(&leaf, i, n, short, &root),
                    Err(ProofError::WrongLength { .. })
                ));
                let mut first_dropped = proof.clone();
                first_dropped.remove(0);
                assert!(verify_inclusion(&leaf, i, n, &first_dropped, &root).is_err());
            }
            for extra in [root, proof.last().copied().unwrap_or(leaf)] {
                let mut long = proof.clone();
                long.push(extra);
                assert!(matches!(
                    verify_inclusion(&leaf, i, n, &long, &root),
                    Err(ProofError::WrongLength { .. })
                ));
            }
            // Wrong index: never verifies (the leaves differ, and so do the paths).
            for j in 0..=n {
                if j == i {
                    continue;
                }
                assert!(
                    verify_inclusion(&leaf, j, n, proof, &root).is_err(),
                    "proof of {i} accepted for {j} in {n}"
                );
            }
            // Wrong size, with that size's true root: only if it is the genuine proof there too.
            for m in (i + 1)..=65 {
                if m == n {
                    continue;
                }
                let m_root = roots.get(m as usize).copied().unwrap_or([0xaa; 32]);
                if verify_inclusion(&leaf, i, m, proof, &m_root).is_ok() {
                    assert_eq!(
                        &proofs[m as usize][i as usize], proof,
                        "proof of ({i}, {n}) accepted for size {m}"
                    );
                }
            }
        }
        assert_eq!(
            verify_inclusion(&log.leaves[0], n, n, &[], &root),
            Err(ProofError::IndexOutOfRange { index: n, size: n })
        );
    }
}

/// Every consistency proof between trees of 0..=64 leaves verifies; every corruption is rejected.
#[test]
fn exhaustive_consistency_up_to_64() {
    let mut log = MemLog::default();
    let mut roots = vec![empty_root()];
    for n in 1..=64u64 {
        log.push(entry_leaf(n - 1));
        roots.push(log.root(n));
    }
    // Proofs built at size n use only the subtrees complete at n.
    let mut log_n = MemLog::default();
    let mut proofs: HashMap<(u64, u64), Vec<Hash>> = HashMap::new();
    for n in 0..=64u64 {
        if n > 0 {
            log_n.push(entry_leaf(n - 1));
        }
        for m in 0..=n {
            proofs.insert((m, n), log_n.consistency(m, n));
        }
    }
    for n in 0..=64u64 {
        for m in 0..=n {
            let proof = &proofs[&(m, n)];
            let (old, new) = (roots[m as usize], roots[n as usize]);
            verify_consistency(m, n, &old, &new, proof)
                .unwrap_or_else(|e| panic!("({m}, {n}): {e}"));
            if m == 0 || m == n {
                assert!(proof.is_empty());
            }
            for j in 0..proof.len() {
                let mut bad = proof.clone();
                bad[j] = flip(&bad[j], m as usize * 5 + j * 37);
                assert!(
                    matches!(
                        verify_consistency(m, n, &old, &new, &bad),
                        Err(ProofError::RootMismatch { .. })
                    ),
                    "({m}, {n}) component {j}"
                );
            }
            // From the empty tree the old root must be the empty root; between equal sizes the
            // roots must be equal.
            assert!(verify_consistency(m, n, &flip(&old, 9), &new, proof).is_err());
            // Every tree extends the empty tree, so only from m > 0 does the new root matter.
            if m > 0 {
                assert!(verify_consistency(m, n, &old, &flip(&new, 250), proof).is_err());
            }
            if let Some((_, short)) = proof.split_last() {
                assert!(matches!(
                    verify_consistency(m, n, &old, &new, short),
                    Err(ProofError::WrongLength { .. })
                ));
            }
            let mut long = proof.clone();
            long.push(new);
            assert!(matches!(
                verify_consistency(m, n, &old, &new, &long),
                Err(ProofError::WrongLength { .. })
            ));
            // Wrong sizes, with those sizes' true roots: only where this is the genuine proof.
            for m2 in 0..=64u64 {
                for n2 in [n, n.saturating_sub(1), n + 1, m2.max(n)] {
                    if (m2, n2) == (m, n) || n2 > 64 {
                        continue;
                    }
                    let (o2, r2) = (roots[m2 as usize], roots[n2 as usize]);
                    if verify_consistency(m2, n2, &o2, &r2, proof).is_ok() {
                        assert_eq!(
                            &proofs[&(m2, n2)],
                            proof,
                            "proof ({m}, {n}) accepted for ({m2}, {n2})"
                        );
                    }
                }
            }
        }
        if n < 64 {
            assert_eq!(
                verify_consistency(n + 1, n, &roots[n as usize], &roots[n as usize], &[]),
                Err(ProofError::BadSizes { old: n + 1, new: n })
            );
        }
    }
    // Between equal sizes the roots must be equal; from 0 the old root must be the empty root.
    assert_eq!(
        verify_consistency(5, 5, &roots[5], &roots[6], &[]),
        Err(ProofError::RootMismatch { size: 5 })
    );
    assert_eq!(
        verify_consistency(0, 5, &roots[1], &roots[5], &[]),
        Err(ProofError::RootMismatch { size: 0 })
    );
}

/// Resuming from stored subtrees gives the same frontier as appending, at every size.
#[test]
fn frontier_from_nodes_matches_push() {
    let mut log = MemLog::default();
    for n in 0..=130u64 {
        let plan = Frontier::plan(n);
        assert_eq!(plan.len(), n.count_ones() as usize);
        let resumed = Frontier::from_nodes(n, log.lookup()).unwrap();
        assert_eq!(resumed, log.frontier, "size {n}");
        assert_eq!(resumed.size(), n);
        assert_eq!(resumed.root(), log.root(n));
        assert_eq!(
            resumed
                .nodes()
                .iter()
                .map(|(id, _)| *id)
                .collect::<Vec<_>>(),
            plan
        );
        let mut resumed = resumed;
        let mut pushed = log.frontier.clone();
        let next = entry_leaf(n);
        assert_eq!(resumed.push(next), pushed.push(next), "push after size {n}");
        log.push(next);
    }
}

/// Random trees up to 100,000 leaves: roots, inclusion and consistency proofs, resumed frontiers.
#[test]
fn random_large_trees() {
    const N: u64 = 100_000;
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut log = MemLog::default();
    for i in 0..N {
        log.push(entry_leaf(i));
    }
    assert_eq!(log.size(), N);
    assert_eq!(log.root(N), root_from_leaves(&log.leaves));
    for round in 0..200 {
        let n = match round {
            0 => N,
            1 => 65_536,
            2 => 65_537,
            3 => 65_535,
            _ => 1 + rng.below(N),
        };
        let root = log.root(n);
        if round < 20 {
            assert_eq!(
                root,
                root_from_leaves(&log.leaves[..n as usize]),
                "size {n}"
            );
        }
        let frontier = Frontier::from_nodes(n, log.lookup()).unwrap();
        assert_eq!(frontier.root(), root);

        let i = if round == 0 { n - 1 } else { rng.below(n) };
        let leaf = log.leaves[i as usize];
        let proof = log.inclusion(i, n);
        verify_inclusion(&leaf, i, n, &proof, &root).unwrap_or_else(|e| panic!("({i}, {n}): {e}"));
        for j in 0..proof.len() {
            let mut bad = proof.clone();
            bad[j] = flip(&bad[j], rng.below(256) as usize);
            assert!(verify_inclusion(&leaf, i, n, &bad, &root).is_err());
        }
        assert!(verify_inclusion(&leaf, (i + 1) % n, n, &proof, &root).is_err() || n == 1);

        let m = match round {
            0 => 1,
            1 => 65_535,
            _ => rng.below(n + 1),
        };
        let old = log.root(m);
        let proof = log.consistency(m, n);
        verify_consistency(m, n, &old, &root, &proof).unwrap_or_else(|e| panic!("({m}, {n}): {e}"));
        for j in 0..proof.len() {
            let mut bad = proof.clone();
            bad[j] = flip(&bad[j], rng.below(256) as usize);
            assert!(verify_consistency(m, n, &old, &root, &bad).is_err());
        }
        if m < n {
            assert!(verify_consistency(m, n, &flip(&old, 1), &root, &proof).is_err());
            assert!(verify_consistency(m, n, &old, &flip(&root, 1), &proof).is_err());
        }
    }
}

#[test]
fn c2sp_signed_note_example() {
    let Some(v) = vectors() else { return };
    let ex = &v["signed_note_example"];
    let (vkey, text, note) = (
        ex["vkey"].as_str().unwrap(),
        ex["text"].as_str().unwrap(),
        ex["note"].as_str().unwrap(),
    );
    let verifier = NoteVerifier::parse(vkey).unwrap();
    assert_eq!(verifier.name(), "example.com/foo");
    assert_eq!(verifier.vkey(), vkey);
    let opened = open(note, std::slice::from_ref(&verifier)).unwrap();
    assert_eq!(opened.text, text);
    assert_eq!(opened.verified_by, vec!["example.com/foo"]);

    // Tampered text.
    let tampered = note.replacen("example message", "exemplary message", 1);
    assert!(matches!(
        open(&tampered, std::slice::from_ref(&verifier)),
        Err(NoteError::InvalidSignature { .. })
    ));
    // Tampered signature: change one base64 character in the middle (still canonical base64).
    let sig_start =
        note.find("\u{2014} example.com/foo ").unwrap() + "\u{2014} example.com/foo ".len();
    let mut bytes = note.as_bytes().to_vec();
    let pos = sig_start + 20;
    bytes[pos] = if bytes[pos] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert!(matches!(
        open(&tampered, std::slice::from_ref(&verifier)),
        Err(NoteError::InvalidSignature { .. })
    ));
    // A signature by a key nobody configured is ignored; alone it is not enough.
    let stranger =
        NoteSigner::from_pkcs8("stranger.example", &NoteSigner::generate_pkcs8().unwrap()).unwrap();
    let with_stranger = stranger.cosign(note).unwrap();
    assert_eq!(
        open(&with_stranger, std::slice::from_ref(&verifier))
            .unwrap()
            .verified_by,
        vec!["example.com/foo"]
    );
    assert_eq!(
        open(note, &[stranger.verifier()]),
        Err(NoteError::NoKnownSignature { unknown: 1 })
    );
    // The stranger's line placed first changes nothing either.
    let (body, sig) = note.split_once("\n\n").unwrap();
    let stranger_line = with_stranger.rsplit_once("\n\u{2014}").unwrap().1;
    let reordered = format!("{body}\n\n\u{2014}{stranger_line}{sig}");
    assert_eq!(
        open(&reordered, &[verifier.clone(), stranger.verifier()])
            .unwrap()
            .verified_by,
        vec!["stranger.example", "example.com/foo"]
    );
}

fn test_log(n: u64) -> (MemLog, NoteSigner, Checkpoint) {
    let mut log = MemLog::default();
    for i in 0..n {
        log.push(entry_leaf(i));
    }
    let signer = NoteSigner::from_pkcs8(
        "antin.example/audit",
        &NoteSigner::generate_pkcs8().unwrap(),
    )
    .unwrap();
    let cp = Checkpoint {
        origin: "antin.example/audit".into(),
        size: n,
        root: log.root(n),
        extensions: vec![],
    };
    (log, signer, cp)
}

#[test]
fn checkpoint_note_and_bundle_round_trips() {
    let (log, signer, cp) = test_log(1000);
    let witness =
        NoteSigner::from_pkcs8("witness.example/w1", &NoteSigner::generate_pkcs8().unwrap())
            .unwrap();
    cp.validate().unwrap();
    assert_eq!(Checkpoint::parse(&cp.to_text()).unwrap(), cp);

    let note = signer.sign(&cp.to_text()).unwrap();
    let log_key = NoteVerifier::parse(&signer.vkey()).unwrap();
    let opened = open(&note, std::slice::from_ref(&log_key)).unwrap();
    assert_eq!(Checkpoint::parse(&opened.text).unwrap(), cp);

    let cosigned = witness.cosign(&note).unwrap();
    let both = [log_key.clone(), witness.verifier()];
    assert_eq!(
        open(&cosigned, &both).unwrap().verified_by,
        vec!["antin.example/audit", "witness.example/w1"]
    );

    for index in [0, 1, 500, 998, 999] {
        let bundle = ProofBundle {
            extra: (index % 2 == 0).then(|| format!("dossier {index}").into_bytes()),
            index,
            proof: log.inclusion(index, cp.size),
            checkpoint: cosigned.clone(),
        };
        let text = bundle.encode();
        let parsed = ProofBundle::parse(&text).unwrap();
        assert_eq!(parsed, bundle);
        let leaf = log.leaves[index as usize];
        assert_eq!(
            parsed
                .verify(&leaf, std::slice::from_ref(&log_key))
                .unwrap(),
            cp
        );
        assert_eq!(
            parsed
                .verify_for_log(&leaf, "antin.example/audit", &both)
                .unwrap(),
            cp
        );
        assert!(parsed.verify(&entry_leaf(1000), &both).is_err());
    }
}

/// The Python checker (scripts/verify-checkpoint.py, `cryptography` only) agrees, independently.
#[test]
#[ignore = "needs python3 with cryptography (full suite)"]
fn python_checker_agrees() {
    let (log, signer, cp) = test_log(77);
    let note = signer.sign(&cp.to_text()).unwrap();
    let index = 41;
    let bundle = ProofBundle {
        extra: Some(b"extra".to_vec()),
        index,
        proof: log.inclusion(index, cp.size),
        checkpoint: note.clone(),
    };
    let leaf_hex = hex::encode(log.leaves[index as usize]);
    let dir = tempfile::tempdir().unwrap();
    let note_path = dir.path().join("checkpoint.note");
    let proof_path = dir.path().join("entry.tlog-proof");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/verify-checkpoint.py");
    let run = |note: &str, bundle: &str, leaf: &str| -> bool {
        std::fs::write(&note_path, note).unwrap();
        std::fs::write(&proof_path, bundle).unwrap();
        let out = std::process::Command::new("python3")
            .arg(&script)
            .arg(signer.vkey())
            .arg(&note_path)
            .arg(leaf)
            .arg(&proof_path)
            .output()
            .expect("run python3");
        eprintln!(
            "verify-checkpoint.py: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        match out.status.code() {
            Some(0) => true,
            Some(1) => false,
            other => panic!("unexpected exit status {other:?}"),
        }
    };
    let good = bundle.encode();
    assert!(
        run(&note, &good, &leaf_hex),
        "the checker rejects a good note and bundle"
    );

    // Tampered checkpoint: another size.
    let bad_note = note.replacen("\n77\n", "\n78\n", 1);
    assert!(!run(&bad_note, &good, &leaf_hex), "tampered note accepted");
    // Tampered proof hash inside the bundle.
    let mut bad_bundle = bundle.clone();
    bad_bundle.proof[2] = flip(&bad_bundle.proof[2], 0);
    assert!(
        !run(&note, &bad_bundle.encode(), &leaf_hex),
        "tampered proof accepted"
    );
    // Wrong leaf.
    let other = hex::encode(log.leaves[index as usize + 1]);
    assert!(!run(&note, &good, &other), "wrong leaf accepted");
    // Wrong index.
    let mut bad_index = bundle.clone();
    bad_index.index = index + 1;
    assert!(
        !run(&note, &bad_index.encode(), &leaf_hex),
        "wrong index accepted"
    );
    // The bundle's checkpoint tampered.
    let mut bad_cp = bundle.clone();
    bad_cp.checkpoint = bad_note.clone();
    assert!(
        !run(&note, &bad_cp.encode(), &leaf_hex),
        "tampered bundle checkpoint accepted"
    );
}
