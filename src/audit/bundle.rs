//! Offline proof bundles (c2sp.org/tlog-proof@v1, files `.tlog-proof`): everything an auditor
//! needs to check, without contacting antin, that an entry is in the log: the entry's index, its
//! RFC 9162 inclusion proof, and the signed checkpoint the proof leads to.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64, optional>
//! index <decimal>
//! <base64 proof hash, leaf's sibling first>
//! ...
//!
//! <signed checkpoint note>
//! ```
//!
//! Parsing is strict and bounded (bundle size, proof lines, extra data, note size). This module
//! never reads the clock, files, the network or the database. The extra data is not authenticated
//! (tlog-proof "Format": applications MUST NOT implicitly trust it).
#![forbid(unsafe_code)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::merkle::{self, Hash, ProofError};
use super::note::{self, Checkpoint, NoteError, NoteVerifier, MAX_NOTE_BYTES};

/// tlog-proof "Format": "The first line MUST be the string `c2sp.org/tlog-proof@v1`."
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";
/// The most inclusion-proof lines accepted: a tree of at most 2^64 - 1 leaves has proofs of at
/// most 64 hashes.
pub const MAX_PROOF_HASHES: usize = 64;
/// The largest extra data accepted, decoded.
pub const MAX_EXTRA_BYTES: usize = 64 * 1024;
/// The largest bundle accepted: the note, the extra data in base64, and the other lines.
pub const MAX_BUNDLE_BYTES: usize = MAX_NOTE_BYTES + 128 * 1024;

/// Why a proof bundle was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Our bound on outsider-controlled input ([`MAX_BUNDLE_BYTES`]).
    #[error("the bundle is {len} bytes, more than the {max} allowed")]
    TooLarge { len: usize, max: usize },
    /// tlog-proof "Format": the first line is `c2sp.org/tlog-proof@v1`.
    #[error("the first line is not {HEADER}")]
    MissingHeader,
    /// tlog-proof "Format": the input ends before the empty line that precedes the checkpoint.
    #[error("the bundle ends before the checkpoint")]
    Truncated,
    /// tlog-proof "Format": `extra` is followed by a space and base64 (RFC 4648 section 4).
    #[error("the extra line is not canonical padded base64")]
    BadExtra,
    /// Our bound on the extra data ([`MAX_EXTRA_BYTES`]).
    #[error("the extra data is {len} bytes, more than the {max} allowed")]
    ExtraTooLarge { len: usize, max: usize },
    /// tlog-proof "Format": the line after the header (or extra) starts with `index `.
    #[error("no index line")]
    MissingIndex,
    /// tlog-proof "Format": the index is ASCII decimal, no leading zeroes unless `0`.
    #[error("the index is not a canonical decimal u64")]
    BadIndex,
    /// tlog-proof "Format": one base64 SHA-256 hash per line.
    #[error("proof line {line} is not the base64 of a 32-byte hash")]
    BadHash { line: usize },
    /// Our bound on proof lines ([`MAX_PROOF_HASHES`]).
    #[error("more than {max} proof hashes")]
    TooManyHashes { max: usize },
    /// tlog-proof "Format": the checkpoint follows the empty line.
    #[error("no checkpoint after the proof")]
    EmptyCheckpoint,
    /// The checkpoint is not a well-formed, validly signed checkpoint note.
    #[error("checkpoint: {0}")]
    Note(#[from] NoteError),
    /// The inclusion proof does not lead from the leaf to the checkpoint's root.
    #[error("inclusion proof: {0}")]
    Proof(#[from] ProofError),
    /// The checkpoint is from another log than the one expected.
    #[error("the checkpoint's origin is {found:?}, expected {expected:?}")]
    OriginMismatch { expected: String, found: String },
}

/// A parsed c2sp.org/tlog-proof@v1 bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofBundle {
    /// Opaque, unauthenticated application data.
    pub extra: Option<Vec<u8>>,
    /// The entry's zero-based index in the log.
    pub index: u64,
    /// The RFC 9162 inclusion proof, from the leaf's sibling up to the root's child.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note text, verbatim.
    pub checkpoint: String,
}

/// Takes the next '\n'-terminated line off `rest`.
fn next_line<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let (line, tail) = rest.split_once('\n')?;
    *rest = tail;
    Some(line)
}

impl ProofBundle {
    /// The `.tlog-proof` text. `Some(empty)` extra data is written as `extra ` with nothing after
    /// it, as transparency-dev/formats does, and parses back to `Some(empty)`.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(self.checkpoint.len() + 64 + 45 * self.proof.len());
        out.push_str(HEADER);
        out.push('\n');
        if let Some(extra) = &self.extra {
            out.push_str("extra ");
            out.push_str(&STANDARD.encode(extra));
            out.push('\n');
        }
        out.push_str("index ");
        out.push_str(&self.index.to_string());
        out.push('\n');
        for hash in &self.proof {
            out.push_str(&STANDARD.encode(hash));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    /// Parses a `.tlog-proof` text (tlog-proof "Format"). The checkpoint note's syntax is checked
    /// here, its signatures by [`ProofBundle::verify`].
    pub fn parse(s: &str) -> Result<Self, BundleError> {
        if s.len() > MAX_BUNDLE_BYTES {
            return Err(BundleError::TooLarge {
                len: s.len(),
                max: MAX_BUNDLE_BYTES,
            });
        }
        let mut rest = s;
        if next_line(&mut rest) != Some(HEADER) {
            return Err(BundleError::MissingHeader);
        }
        let mut line = next_line(&mut rest).ok_or(BundleError::Truncated)?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            // Bound the work before decoding: 4 base64 characters per 3 bytes.
            let max_b64 = MAX_EXTRA_BYTES.div_ceil(3) * 4;
            if b64.len() > max_b64 {
                return Err(BundleError::ExtraTooLarge {
                    len: b64.len() / 4 * 3,
                    max: MAX_EXTRA_BYTES,
                });
            }
            let bytes = STANDARD.decode(b64).map_err(|_| BundleError::BadExtra)?;
            if bytes.len() > MAX_EXTRA_BYTES {
                return Err(BundleError::ExtraTooLarge {
                    len: bytes.len(),
                    max: MAX_EXTRA_BYTES,
                });
            }
            extra = Some(bytes);
            line = next_line(&mut rest).ok_or(BundleError::Truncated)?;
        }
        let index = line
            .strip_prefix("index ")
            .ok_or(BundleError::MissingIndex)?;
        let index = note::parse_decimal(index).ok_or(BundleError::BadIndex)?;
        let mut proof = Vec::new();
        loop {
            let line = next_line(&mut rest).ok_or(BundleError::Truncated)?;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_HASHES {
                return Err(BundleError::TooManyHashes {
                    max: MAX_PROOF_HASHES,
                });
            }
            let hash = note::decode_hash(line).ok_or(BundleError::BadHash {
                line: proof.len() + 1,
            })?;
            proof.push(hash);
        }
        if rest.is_empty() {
            return Err(BundleError::EmptyCheckpoint);
        }
        note::signatures(rest)?;
        Ok(Self {
            extra,
            index,
            proof,
            checkpoint: rest.to_owned(),
        })
    }

    /// Opens the checkpoint with the verifiers, parses it, and checks `leaf` is included at `index`
    /// (RFC 9162 2.1.3.2). Returns the checkpoint.
    ///
    /// Any one verifier's valid signature opens the note (signed-note "Signatures"), so pass only
    /// the keys whose signature alone should be enough, and check the returned origin, or use
    /// [`ProofBundle::verify_for_log`].
    pub fn verify(
        &self,
        leaf: &Hash,
        verifiers: &[NoteVerifier],
    ) -> Result<Checkpoint, BundleError> {
        if self.proof.len() > MAX_PROOF_HASHES {
            return Err(BundleError::TooManyHashes {
                max: MAX_PROOF_HASHES,
            });
        }
        let opened = note::open(&self.checkpoint, verifiers)?;
        let checkpoint = Checkpoint::parse(&opened.text)?;
        merkle::verify_inclusion(
            leaf,
            self.index,
            checkpoint.size,
            &self.proof,
            &checkpoint.root,
        )?;
        Ok(checkpoint)
    }

    /// [`ProofBundle::verify`], and the checkpoint must be the one of the log named `origin`.
    pub fn verify_for_log(
        &self,
        leaf: &Hash,
        origin: &str,
        verifiers: &[NoteVerifier],
    ) -> Result<Checkpoint, BundleError> {
        let checkpoint = self.verify(leaf, verifiers)?;
        if checkpoint.origin != origin {
            return Err(BundleError::OriginMismatch {
                expected: origin.to_owned(),
                found: checkpoint.origin,
            });
        }
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::merkle::{inclusion_plan, leaf_hash, Frontier, NodeId};
    use crate::audit::note::NoteSigner;
    use std::collections::HashMap;

    struct Log {
        signer: NoteSigner,
        leaves: Vec<Hash>,
        nodes: HashMap<NodeId, Hash>,
        frontier: Frontier,
    }

    fn log(n: u64) -> Log {
        let signer =
            NoteSigner::from_pkcs8("antin.example/log", &NoteSigner::generate_pkcs8().unwrap())
                .unwrap();
        let mut frontier = Frontier::new();
        let mut nodes = HashMap::new();
        let mut leaves = Vec::new();
        for i in 0..n {
            let leaf = leaf_hash(format!("entry {i}").as_bytes());
            leaves.push(leaf);
            nodes.extend(frontier.push(leaf));
        }
        Log {
            signer,
            leaves,
            nodes,
            frontier,
        }
    }

    fn bundle(log: &Log, index: u64, extra: Option<Vec<u8>>) -> ProofBundle {
        let cp = Checkpoint {
            origin: "antin.example/log".into(),
            size: log.frontier.size(),
            root: log.frontier.root(),
            extensions: vec![],
        };
        let proof = inclusion_plan(index, cp.size)
            .unwrap()
            .assemble(|id| log.nodes.get(&id).copied())
            .unwrap();
        ProofBundle {
            extra,
            index,
            proof,
            checkpoint: log.signer.sign(&cp.to_text()).unwrap(),
        }
    }

    #[test]
    fn round_trip_and_verify() {
        let log = log(13);
        let v = [log.signer.verifier()];
        for extra in [None, Some(vec![]), Some(b"vrf proof".to_vec())] {
            for index in 0..13 {
                let b = bundle(&log, index, extra.clone());
                let text = b.encode();
                let parsed = ProofBundle::parse(&text).unwrap();
                assert_eq!(parsed, b);
                assert_eq!(parsed.encode(), text);
                let leaf = log.leaves[index as usize];
                let cp = parsed.verify(&leaf, &v).unwrap();
                assert_eq!(cp.size, 13);
                parsed
                    .verify_for_log(&leaf, "antin.example/log", &v)
                    .unwrap();
                assert!(matches!(
                    parsed.verify_for_log(&leaf, "other.example/log", &v),
                    Err(BundleError::OriginMismatch { .. })
                ));
                let other = log.leaves[(index as usize + 1) % 13];
                assert_eq!(
                    parsed.verify(&other, &v),
                    Err(BundleError::Proof(ProofError::RootMismatch { size: 13 }))
                );
            }
        }
    }

    #[test]
    fn one_leaf_tree_has_no_proof_lines() {
        let log = log(1);
        let b = bundle(&log, 0, None);
        let text = b.encode();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nindex 0\n\nantin.example/log\n1\n"));
        ProofBundle::parse(&text)
            .unwrap()
            .verify(&log.leaves[0], &[log.signer.verifier()])
            .unwrap();
    }

    #[test]
    fn verify_rejects_wrong_index_and_unknown_keys() {
        let log = log(9);
        let v = [log.signer.verifier()];
        let mut b = bundle(&log, 3, None);
        b.index = 2;
        assert!(matches!(
            b.verify(&log.leaves[3], &v),
            Err(BundleError::Proof(_))
        ));
        b.index = 9;
        assert!(matches!(
            b.verify(&log.leaves[3], &v),
            Err(BundleError::Proof(ProofError::IndexOutOfRange { .. }))
        ));
        let b = bundle(&log, 3, None);
        assert!(matches!(
            b.verify(&log.leaves[3], &[]),
            Err(BundleError::Note(NoteError::NoKnownSignature { .. }))
        ));
        let mut short = b.clone();
        short.proof.pop();
        assert!(matches!(
            short.verify(&log.leaves[3], &v),
            Err(BundleError::Proof(ProofError::WrongLength { .. }))
        ));
    }

    #[test]
    fn malformed_bundles_are_rejected() {
        let log = log(5);
        let good = bundle(&log, 1, None).encode();
        let note = bundle(&log, 1, None).checkpoint;
        let hash = STANDARD.encode([9u8; 32]);
        let cases: Vec<(String, BundleError)> = vec![
            (String::new(), BundleError::MissingHeader),
            ("c2sp.org/tlog-proof@v1".into(), BundleError::MissingHeader),
            (
                "c2sp.org/tlog-proof@v2\nindex 0\n\n".into(),
                BundleError::MissingHeader,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\r\nindex 0\n\n{note}"),
                BundleError::MissingHeader,
            ),
            ("c2sp.org/tlog-proof@v1\n".into(), BundleError::Truncated),
            (
                format!("c2sp.org/tlog-proof@v1\nindex 0\n{hash}\n"),
                BundleError::Truncated,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex 0\n{hash}"),
                BundleError::Truncated,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindx 0\n\n{note}"),
                BundleError::MissingIndex,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nextra\nindex 0\n\n{note}"),
                BundleError::MissingIndex,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex 0\nextra AAAA\n\n{note}"),
                BundleError::BadHash { line: 1 },
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nextra !!\nindex 0\n\n{note}"),
                BundleError::BadExtra,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nextra AB\nindex 0\n\n{note}"),
                BundleError::BadExtra,
            ),
            (
                "c2sp.org/tlog-proof@v1\nextra AAAA\n".into(),
                BundleError::Truncated,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex 01\n\n{note}"),
                BundleError::BadIndex,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex +1\n\n{note}"),
                BundleError::BadIndex,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex \n\n{note}"),
                BundleError::BadIndex,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex  1\n\n{note}"),
                BundleError::BadIndex,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex 1 \n\n{note}"),
                BundleError::BadIndex,
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\n{note}"),
                BundleError::BadIndex,
            ),
            (
                format!(
                    "c2sp.org/tlog-proof@v1\nindex 1\n{hash}\n{}\n\n{note}",
                    &hash[..43]
                ),
                BundleError::BadHash { line: 2 },
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex 1\n{hash} \n\n{note}"),
                BundleError::BadHash { line: 1 },
            ),
            (
                format!(
                    "c2sp.org/tlog-proof@v1\nindex 1\n{}\n\n{note}",
                    STANDARD.encode([1u8; 31])
                ),
                BundleError::BadHash { line: 1 },
            ),
            (
                format!(
                    "c2sp.org/tlog-proof@v1\nindex 1\n{}\n\n{note}",
                    format!("{hash}\n").repeat(65).trim_end()
                ),
                BundleError::TooManyHashes {
                    max: MAX_PROOF_HASHES,
                },
            ),
            (
                "c2sp.org/tlog-proof@v1\nindex 1\n\n".into(),
                BundleError::EmptyCheckpoint,
            ),
            (
                "c2sp.org/tlog-proof@v1\nindex 1\n\nnot a note\n".into(),
                BundleError::Note(NoteError::MissingSignatureBlock),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(ProofBundle::parse(&text), Err(want), "{text:?}");
        }
        ProofBundle::parse(&good).unwrap();
        // 64 hashes parse (and then fail to verify, they are not this proof).
        let sixty_four = format!(
            "c2sp.org/tlog-proof@v1\nindex 1\n{}\n{note}",
            format!("{hash}\n").repeat(64)
        );
        assert_eq!(ProofBundle::parse(&sixty_four).unwrap().proof.len(), 64);
        let huge = format!("{good}{}", "x".repeat(MAX_BUNDLE_BYTES));
        assert!(matches!(
            ProofBundle::parse(&huge),
            Err(BundleError::TooLarge { .. })
        ));
        let big_extra = format!(
            "c2sp.org/tlog-proof@v1\nextra {}\nindex 1\n\n{note}",
            STANDARD.encode(vec![0u8; MAX_EXTRA_BYTES + 1])
        );
        assert!(matches!(
            ProofBundle::parse(&big_extra),
            Err(BundleError::ExtraTooLarge { .. })
        ));
        let max_extra = format!(
            "c2sp.org/tlog-proof@v1\nextra {}\nindex 1\n\n{note}",
            STANDARD.encode(vec![0u8; MAX_EXTRA_BYTES])
        );
        assert_eq!(
            ProofBundle::parse(&max_extra).unwrap().extra.unwrap().len(),
            MAX_EXTRA_BYTES
        );
    }
}
