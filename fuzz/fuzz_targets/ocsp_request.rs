//! The dev OCSP responder on arbitrary bytes: the request parser (POST body, and the GET path's
//! url-encoded base64), then the whole responder. Must never panic, must stay bounded, and must
//! answer every input with an OCSPResponse.
#![no_main]

use std::sync::OnceLock;

use antin::sign::keys::{FileKey, SignatureScheme};
use antin::sign::ocsp::{decode_get_path, parse_request, CaSource, DevOcsp};
use libfuzzer_sys::fuzz_target;

fn responder() -> &'static DevOcsp {
    static R: OnceLock<DevOcsp> = OnceLock::new();
    R.get_or_init(|| {
        let pki = concat!(env!("CARGO_MANIFEST_DIR"), "/../certs/test-pki/");
        let read = |n: &str| std::fs::read(format!("{pki}{n}")).expect("test PKI");
        let cert = |n: &str| openssl::x509::X509::from_pem(&read(n)).expect("certificate");
        DevOcsp::new(
            vec![CaSource {
                ca: cert("licensed-ca.pem"),
                index: String::from_utf8_lossy(&read("ca/licensed-ca/index.txt")).into_owned(),
                responder: cert("ocsp-responder.pem"),
                responder_key: FileKey::from_pem(
                    &read("ocsp-responder.key"),
                    None,
                    Some(SignatureScheme::RsaPkcs1Sha256),
                )
                .expect("key"),
            }],
            std::time::Duration::from_secs(3600),
        )
        .expect("responder")
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = parse_request(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(der) = decode_get_path(text) {
            let _ = parse_request(&der);
        }
    }
    let now = time::OffsetDateTime::from_unix_timestamp(1_795_348_800).expect("time");
    let answer = responder().respond(data, now);
    assert!(!answer.is_empty());
});
