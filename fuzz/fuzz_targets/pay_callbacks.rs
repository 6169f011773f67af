//! Every gateway callback parser on untrusted bytes: VNPAY IPN query strings, MoMo IPN and
//! ZaloPay callback JSON, bank camt.054 notifications. Must never panic and must stay bounded.
//! A small share of inputs is signed correctly so the parsing after the signature check is
//! reached too.
#![no_main]

use antin::pay::connector::CallbackVerdict;
use antin::pay::gateways::{momo, vietqr, vnpay, zalopay};
use libfuzzer_sys::fuzz_target;
use ring::hmac;

const SECRET: &[u8] = b"fuzz-secret";

fuzz_target!(|data: &[u8]| {
    let k512 = hmac::Key::new(hmac::HMAC_SHA512, SECRET);
    let k256 = hmac::Key::new(hmac::HMAC_SHA256, SECRET);
    if let Ok(q) = std::str::from_utf8(data) {
        let _ = vnpay::parse_ipn(&k512, "ANTINDEV", q);
        // The same parameters with a valid signature.
        if let Ok(params) = vnpay::encode::parse_query(q) {
            let s = vnpay::encode::signing_string(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let signed = format!("{s}&vnp_SecureHash={}", vnpay::encode::sign(SECRET, &s));
            if let CallbackVerdict::Verified(r) = vnpay::parse_ipn(&k512, "ANTINDEV", &signed) {
                assert!(r.amount_vnd >= 0);
            }
        }
        // ZaloPay: the input as the data string, signed with key2.
        let mac = hex::encode(hmac::sign(&k256, q.as_bytes()).as_ref());
        let body = serde_json::json!({"data": q, "mac": mac, "type": 1}).to_string();
        if let CallbackVerdict::Verified(r) = zalopay::parse_callback_body(&k256, 2554, body.as_bytes()) {
            assert!(r.amount_vnd >= 0);
        }
    }
    let _ = momo::parse_ipn(&k256, "ACCESS", "MOMOANTIN", data);
    let _ = zalopay::parse_callback_body(&k256, 2554, data);
    let _ = vietqr::camt054::parse(data);
    let now = time::OffsetDateTime::from_unix_timestamp(1_763_782_512).unwrap();
    let header = vietqr::camt054::sign(SECRET, 1_763_782_512, data);
    let cfg = vietqr::VietqrConfig {
        bin: "970415".into(),
        account: "113366668888".into(),
        service: "QRIBFTTA".into(),
        memo_prefix: "ANTIN".into(),
        notify_secret: None,
        notify_secret_env: None,
        signature_tolerance_secs: 300,
    };
    let _ = vietqr::parse_notification(&k256, &cfg, Some(&header), data, now);
});
