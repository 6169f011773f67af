//! The VietQR (EMVCo) payload parser: never panics; whatever parses rebuilds to a payload that
//! parses to the same value.
#![no_main]

use antin::pay::gateways::vietqr::emv;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = emv::split_tlv(text);
    if let Ok(q) = emv::parse(text) {
        if let Ok(again) = emv::build(&q) {
            assert_eq!(emv::parse(&again).as_ref(), Ok(&q));
        }
    }
});
