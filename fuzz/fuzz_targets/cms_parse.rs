//! CMS SignedData parsing and verification, and RFC 3161 tokens, on arbitrary bytes: must never
//! panic, and must stay bounded in time and memory.
#![no_main]

use antin::pki::algorithms::AlgorithmPolicy;
use antin::pki::cms::{parse_signed_data, verify_signer, SignedContent};
use antin::pki::tsp::verify_timestamp_token;
use libfuzzer_sys::fuzz_target;

const CONTENT: &[u8] = b"fixed content signed by the fuzzed CMS";

fuzz_target!(|data: &[u8]| {
    let policy = AlgorithmPolicy::default();
    if let Ok(cms) = parse_signed_data(data) {
        let pieces: [&[u8]; 2] = [&CONTENT[..5], &CONTENT[5..]];
        let _ = verify_signer(&cms, SignedContent::Pieces(&pieces), &policy);
        let _ = verify_signer(&cms, SignedContent::Encapsulated, &policy);
        let _ = verify_signer(&cms, SignedContent::Digest(&[0u8; 32]), &policy);
    }
    let _ = verify_timestamp_token(data, &[CONTENT], &policy);
});
