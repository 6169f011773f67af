//! The settlement-CSV importer (every gateway's layout): never panics; an accepted file balances
//! against its own totals, and every row it hands on has a positive amount.
#![no_main]

use antin::recon::import::csv;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for gw in ["vnpay", "momo", "zalopay"] {
        let layout = csv::default_layout(gw).expect("built-in layout");
        let mut rows = 0u64;
        let mut ok_amounts = true;
        let res = csv::parse(gw, &layout, "fuzz.csv", data, &mut |r| {
            rows += 1;
            ok_amounts &= r.amount > 0 && r.fee >= 0;
        });
        if let Ok(s) = res {
            assert_eq!(s.rows, rows);
            assert!(ok_amounts);
        }
    }
});
