//! The MT940 importer: never panics; an accepted file's entries are positive amounts.
#![no_main]

use antin::recon::import::mt940;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut n = 0u64;
    if let Ok(s) = mt940::parse("fuzz.mt940", data, &mut |e| {
        assert!(e.amount > 0);
        n += 1;
    }) {
        assert_eq!(s.rows, n);
    }
});
