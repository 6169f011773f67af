//! What the gateway simulators parse from outside: query strings and forms, VNPAY pay URLs (the
//! signature is checked before anything else, so the input also goes through with a valid hash),
//! dates, memos for MT940. Must never panic and must stay bounded.
#![no_main]

use antin::sim::{bank, momo, settlement, sign, vnpay};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"ANTINDEVVNPAYSECRET0000000000000";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = sign::parse_query(text, 64);
    let _ = sign::form_decode(text);
    let _ = vnpay::parse_pay_at(text, "ANTINDEV", SECRET, 1_796_000_000);
    // The same query signed correctly, so validation past the signature is reached.
    if let Ok(pairs) = sign::parse_query(text, 64) {
        let signed = sign::vnp_signed_query(&pairs, SECRET);
        let _ = vnpay::parse_pay_at(&signed, "ANTINDEV", SECRET, 1_796_000_000);
    }
    let _ = settlement::parse_date(text);
    let _ = bank::swift_x(text);
    let _ = momo::order_id_ok(text);
    let _ = sign::mac_matches("00ff", text);
});
