//! Revocation evidence on arbitrary bytes: the bytes as an OCSP response (including the split of
//! the certificates it carries) and, when they decode, as a CRL, judged for a fixed certificate
//! and issuer. Must never panic, and must stay bounded in time and memory.
#![no_main]

use antin::pki::revocation::{check_cert, RevocationData};
use libfuzzer_sys::fuzz_target;
use openssl::x509::{X509Crl, X509};

const CERT: &[u8] = include_bytes!("../../certs/test-pki/citizen-an.pem");
const ISSUER: &[u8] = include_bytes!("../../certs/test-pki/licensed-ca.pem");

fuzz_target!(|data: &[u8]| {
    let (Ok(cert), Ok(issuer)) = (X509::from_pem(CERT), X509::from_pem(ISSUER)) else {
        return;
    };
    // 2026-11-22T12:00:00Z
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp(1795348800) else {
        return;
    };
    let mut evidence = RevocationData {
        crls: Vec::new(),
        ocsp_responses: vec![data.to_vec()],
    };
    let _ = check_cert(&cert, &issuer, &evidence, at, at);
    if let Ok(crl) = X509Crl::from_der(data) {
        evidence.ocsp_responses.clear();
        evidence.crls.push(crl);
        let _ = check_cert(&cert, &issuer, &evidence, at, at);
    }
});
