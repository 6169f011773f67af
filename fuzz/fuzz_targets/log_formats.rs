//! The transparency log's text formats an auditor reads from outside: signed notes, checkpoints,
//! .tlog-proof bundles, log entries and verifier keys. Must never panic and must stay bounded.
#![no_main]

use antin::audit::bundle::ProofBundle;
use antin::audit::{entry, merkle, note};
use libfuzzer_sys::fuzz_target;

/// The C2SP signed-note example key: a real key, so signature lines that name it are checked.
const VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let verifiers: Vec<note::NoteVerifier> = note::NoteVerifier::parse(VKEY).into_iter().collect();
    let _ = note::NoteVerifier::parse(text);
    let _ = note::Checkpoint::parse(text);
    let _ = note::signatures(text);
    let _ = note::open(text, &verifiers);
    if let Ok(bundle) = ProofBundle::parse(text) {
        // Whatever parses must re-encode to something that parses to the same bundle.
        let again = ProofBundle::parse(&bundle.encode()).expect("re-encoded bundle parses");
        assert_eq!(again, bundle);
        let _ = bundle.verify(&merkle::leaf_hash(text.as_bytes()), &verifiers);
    }
    for index in [0, 1, 7, u64::MAX] {
        let decoded = entry::decode(text, index);
        // The replay's fast check never accepts what the full decoder refuses.
        if antin::audit::canonical::is_canonical_entry(text, index) {
            assert!(decoded.is_ok(), "fast check accepted {text:?}: {decoded:?}");
        }
    }
});
