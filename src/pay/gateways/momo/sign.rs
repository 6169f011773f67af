//! MoMo v2's signatures: lowercase hex HMAC-SHA256(secretKey, raw) where raw is `k=v` joined with
//! `&` in the fixed (alphabetical) field order of each message, with the RAW values (no
//! URL-encoding). accessKey takes part in the raw string but is never sent as a field.
use ring::hmac;
use serde_json::{Map, Value};

pub const CREATE_FIELDS: [&str; 10] = [
    "accessKey",
    "amount",
    "extraData",
    "ipnUrl",
    "orderId",
    "orderInfo",
    "partnerCode",
    "redirectUrl",
    "requestId",
    "requestType",
];

pub const IPN_FIELDS: [&str; 13] = [
    "accessKey",
    "amount",
    "extraData",
    "message",
    "orderId",
    "orderInfo",
    "orderType",
    "partnerCode",
    "payType",
    "requestId",
    "responseTime",
    "resultCode",
    "transId",
];

pub const QUERY_FIELDS: [&str; 4] = ["accessKey", "orderId", "partnerCode", "requestId"];

pub const REFUND_FIELDS: [&str; 7] = [
    "accessKey",
    "amount",
    "description",
    "orderId",
    "partnerCode",
    "requestId",
    "transId",
];

/// The raw string over `fields`, `accessKey` from the argument, the rest from `obj`.
pub fn raw(fields: &[&str], access_key: &str, obj: &Map<String, Value>) -> String {
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(f);
        out.push('=');
        if *f == "accessKey" {
            out.push_str(access_key);
        } else {
            out.push_str(&super::super::json_text(obj.get(*f)));
        }
    }
    out
}

pub fn sign(secret: &[u8], raw: &str) -> String {
    super::super::hmac_hex(hmac::HMAC_SHA256, secret, raw.as_bytes())
}

/// Adds `signature` over `fields` to a request object.
pub fn signed(
    secret: &[u8],
    access_key: &str,
    fields: &[&str],
    mut obj: Map<String, Value>,
) -> Value {
    let sig = sign(secret, &raw(fields, access_key, &obj));
    obj.insert("signature".into(), Value::String(sig));
    Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// gateways.md's example with MoMo's public sandbox demo keys.
    #[test]
    fn create_signature_published_example() {
        let obj = json!({
            "partnerCode": "MOMO", "requestId": "HS202501010001-1", "amount": 50000,
            "orderId": "HS202501010001", "orderInfo": "Le phi ho so HS202501010001",
            "redirectUrl": "https://dvc.example.gov.vn/return",
            "ipnUrl": "https://dvc.example.gov.vn/ipn/momo", "requestType": "captureWallet",
            "extraData": "", "lang": "vi"
        });
        let r = raw(&CREATE_FIELDS, "F8BBA842ECF85", obj.as_object().unwrap());
        assert_eq!(r, "accessKey=F8BBA842ECF85&amount=50000&extraData=&ipnUrl=https://dvc.example.gov.vn/ipn/momo&orderId=HS202501010001&orderInfo=Le phi ho so HS202501010001&partnerCode=MOMO&redirectUrl=https://dvc.example.gov.vn/return&requestId=HS202501010001-1&requestType=captureWallet");
        assert_eq!(
            sign(b"K951B6PE1waDMi640xX08PD3vg6EkVlz", &r),
            "1dfd18f1b60d96c7f66220714078fea95fdfcc2c8107bf0884d3e9518645d116"
        );
    }
}
