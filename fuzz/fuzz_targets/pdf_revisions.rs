//! The revision model and the change analysis on arbitrary bytes: splitting a file into its
//! revisions (xref tables, streams, hybrids, /Prev chains, the fallback for broken tails) and
//! diffing every update object by object must never panic and must stay bounded.
#![no_main]

use antin::pdf;
use antin::verify::diff;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = pdf::parse(data, &pdf::Limits::default()) else {
        return;
    };
    for rev in 0..doc.revisions().len() {
        let _ = doc.catalog(rev);
        if let Some(r) = doc.revisions().get(rev) {
            let _ = r.hybrid_disagreements(doc.bytes());
        }
    }
    let fields = doc.signatures().unwrap_or_default();
    let _ = diff::analyse(&doc, &fields);
    let _ = doc.warnings();
});
