//! What a visitor of the public check page controls besides the PDF (fuzzed in pdf_signatures):
//! the Accept header, a status reason, any text put through the page's escaping. Must never
//! panic; escaping must leave no markup characters.
#![no_main]

use antin::http::check::{page::esc, wants_json};
use antin::sign::status::clean_reason;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = http::HeaderValue::from_bytes(data) {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::ACCEPT, v);
        let _ = wants_json(&h);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = clean_reason(text);
        let e = esc(text);
        assert!(!e.contains(['<', '>', '"', '\'']));
    }
});
