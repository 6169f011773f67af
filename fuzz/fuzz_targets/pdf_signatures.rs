//! PDF signature extraction on arbitrary bytes: the lazy parser, every revision's signature
//! fields with /ByteRange and /Contents read from the signature dictionary's own bytes, the
//! coverage classification and the DSS. Must never panic and must stay bounded in time and memory.
#![no_main]

use antin::pdf;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = pdf::parse(data, &pdf::Limits::default()) else {
        return;
    };
    if let Ok(fields) = doc.signatures() {
        for f in &fields {
            let _ = pdf::signed_bytes(data, f);
        }
    }
    let _ = doc.dss();
    let _ = doc.warnings();
});
