//! The camt.053/camt.054 importer: never panics, refuses DTDs; accepted entries are positive.
#![no_main]

use antin::recon::import::camt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut n = 0u64;
    if let Ok(s) = camt::parse("fuzz.xml", data, &mut |e| {
        assert!(e.amount > 0);
        n += 1;
    }) {
        assert_eq!(s.rows, n);
    }
});
