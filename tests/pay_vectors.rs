//! The connectors' signing against ../shared/corpora/gateways/vectors.json, read in place: the
//! ZaloPay documentation's callback, MoMo's create signature, VNPAY's querydr hash, the VietQR
//! payloads and the CRC check value. Skipped when the corpus is missing, a failure under CI=true.

use std::path::PathBuf;

use antin::pay::connector::{CallbackVerdict, ReportedStatus};
use antin::pay::gateways::{momo, vietqr, vnpay, zalopay};
use ring::hmac;
use serde_json::Value;

fn vectors() -> Option<Value> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora/gateways/vectors.json");
    if !path.exists() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "corpus {} missing under CI=true",
            path.display()
        );
        eprintln!("skipping: {} is missing", path.display());
        return None;
    }
    Some(serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap())
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k} missing"))
}

#[test]
fn zalopay_documentation_callback_verifies() {
    let Some(v) = vectors() else { return };
    let z = &v["zalopay_callback"];
    let key2 = hmac::Key::new(hmac::HMAC_SHA256, s(z, "key2").as_bytes());
    let body = serde_json::json!({"data": s(z, "data"), "mac": s(z, "mac"), "type": z["type"]});
    let body = serde_json::to_vec(&body).unwrap();
    let CallbackVerdict::Verified(r) = zalopay::parse_callback_body(&key2, 2553, &body) else {
        panic!("the documentation's callback does not verify");
    };
    assert_eq!(r.gateway_ref, "200904_2553_1598435687208");
    assert_eq!(r.amount_vnd, 10_000);
    assert_eq!(r.status, ReportedStatus::Succeeded);
    assert_eq!(r.gateway_txn_id.as_deref(), Some("200904000000389"));
    // The same callback under another key, or with its data changed, does not.
    let wrong = hmac::Key::new(hmac::HMAC_SHA256, b"kLtgPl8HHhfvMuDHPwKfgfsY4Ydm9eIZ");
    assert_eq!(
        zalopay::parse_callback_body(&wrong, 2553, &body),
        CallbackVerdict::BadSignature
    );
    let changed = serde_json::json!({
        "data": s(z, "data").replace("10000", "10001"), "mac": s(z, "mac"), "type": 1
    });
    assert_eq!(
        zalopay::parse_callback_body(&key2, 2553, &serde_json::to_vec(&changed).unwrap()),
        CallbackVerdict::BadSignature
    );
}

#[test]
fn momo_create_signature() {
    let Some(v) = vectors() else { return };
    let m = &v["momo_create_signature"];
    // Rebuild the raw string from its fields, then sign it.
    let raw = s(m, "raw");
    let mut obj = serde_json::Map::new();
    for pair in raw.split('&') {
        let (k, val) = pair.split_once('=').unwrap();
        obj.insert(k.into(), Value::String(val.into()));
    }
    assert_eq!(
        momo::sign::raw(&momo::sign::CREATE_FIELDS, s(m, "accessKey"), &obj),
        raw
    );
    assert_eq!(
        momo::sign::sign(s(m, "secretKey").as_bytes(), raw),
        s(m, "signature")
    );
}

#[test]
fn vnpay_querydr_signature() {
    let Some(v) = vectors() else { return };
    let q = &v["vnpay_querydr_signature"];
    let parts: Vec<&str> = s(q, "joined").split('|').collect();
    assert_eq!(parts.len(), vnpay::api::QUERYDR_REQUEST_FIELDS.len());
    assert_eq!(parts[1], vnpay::api::VERSION);
    assert_eq!(parts[2], "querydr");
    let req = vnpay::api::querydr_request(
        s(q, "secret").as_bytes(),
        &vnpay::api::Querydr {
            request_id: parts[0],
            tmn_code: parts[3],
            txn_ref: parts[4],
            transaction_date: parts[5],
            create_date: parts[6],
            ip_addr: parts[7],
            order_info: parts[8],
            transaction_no: None,
        },
    );
    let obj = req.as_object().unwrap();
    assert_eq!(
        vnpay::api::joined(&vnpay::api::QUERYDR_REQUEST_FIELDS, obj),
        s(q, "joined")
    );
    assert_eq!(obj["vnp_SecureHash"], s(q, "hash"));
}

#[test]
fn vietqr_payloads_and_crc() {
    let Some(v) = vectors() else { return };
    let c = &v["crc16_ccitt_false_check"];
    assert_eq!(
        format!(
            "{:04X}",
            vietqr::emv::crc16_ccitt_false(s(c, "input").as_bytes())
        ),
        s(c, "crc")
    );
    let list = v["vietqr"].as_array().unwrap();
    assert!(!list.is_empty());
    for case in list {
        let payload = s(case, "payload");
        let parsed =
            vietqr::emv::parse(payload).unwrap_or_else(|e| panic!("{}: {e}", s(case, "what")));
        assert_eq!(
            vietqr::emv::build(&parsed).unwrap(),
            payload,
            "{}",
            s(case, "what")
        );
        // Its CRC changed by one digit is refused.
        let mut broken = payload[..payload.len() - 1].to_owned();
        broken.push(if payload.ends_with('0') { '1' } else { '0' });
        assert!(vietqr::emv::parse(&broken).is_err());
    }
}
