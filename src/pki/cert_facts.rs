//! What a verification reads off every certificate it meets — its SHA-256, its names, serial and
//! validity period — computed once per certificate object instead of on every use.
//!
//! OpenSSL 3.0 spends microseconds on each `X509_digest` (a provider fetch, a re-encoding) and a
//! report reads the same facts of the same chain many times per signature. The certificates a
//! verification uses come from the shared certificate cache (`cms::global_cert_cache`) or the trust
//! store, so the same objects return; the facts are kept per object, keyed by its address. Each
//! entry holds a reference to its certificate, so the address cannot be freed and reused by
//! another certificate while the entry exists. Bounded; emptied when full.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use openssl::hash::MessageDigest;
use openssl::x509::{X509Ref, X509};
use time::OffsetDateTime;

use super::{identity, path};

/// Facts of one certificate; pure functions of its DER.
#[derive(Debug)]
pub struct CertFacts {
    /// SHA-256 of the DER encoding.
    pub sha256: [u8; 32],
    /// The subject, RFC 4514 in certificate order ([`identity::format_dn`]).
    pub subject: String,
    /// The issuer, likewise.
    pub issuer: String,
    /// The serial number in upper-case hex, as OpenSSL prints it.
    pub serial_hex: String,
    /// notBefore, `None` if out of range.
    pub not_before: Option<OffsetDateTime>,
    /// notAfter, `None` if out of range.
    pub not_after: Option<OffsetDateTime>,
}

/// Bounds the number of certificates whose facts are kept.
const ENTRIES: usize = 4096;

type Table = Mutex<HashMap<usize, (X509, Arc<CertFacts>)>>;

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

/// The facts of `cert`.
pub fn of(cert: &X509Ref) -> Arc<CertFacts> {
    // An `&X509Ref` is the address of the OpenSSL object itself.
    let key = std::ptr::from_ref(cert) as usize;
    if let Some((_, f)) = table().lock().ok().as_ref().and_then(|t| t.get(&key)) {
        return Arc::clone(f);
    }
    let facts = Arc::new(compute(cert));
    if let Ok(mut t) = table().lock() {
        if t.len() >= ENTRIES {
            t.clear();
        }
        t.insert(key, (cert.to_owned(), Arc::clone(&facts)));
    }
    facts
}

/// The SHA-256 of `cert`'s DER.
pub fn sha256(cert: &X509Ref) -> [u8; 32] {
    of(cert).sha256
}

fn compute(cert: &X509Ref) -> CertFacts {
    let mut sha256 = [0u8; 32];
    if let Ok(d) = cert.digest(MessageDigest::sha256()) {
        if d.len() == sha256.len() {
            sha256.copy_from_slice(&d);
        }
    }
    CertFacts {
        sha256,
        subject: identity::format_dn(cert.subject_name()),
        issuer: identity::format_dn(cert.issuer_name()),
        serial_hex: cert
            .serial_number()
            .to_bn()
            .and_then(|b| b.to_hex_str().map(|s| s.to_string()))
            .unwrap_or_default(),
        not_before: path::asn1_to_offset(cert.not_before()),
        not_after: path::asn1_to_offset(cert.not_after()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::pki::test_pki_cert as cert;

    #[test]
    fn facts_are_those_of_the_certificate() {
        for name in ["citizen-an.pem", "licensed-ca.pem", "root-ca.pem"] {
            let c = cert(name);
            let f = of(&c);
            let d = c.digest(MessageDigest::sha256()).expect("digest");
            assert_eq!(&f.sha256[..], &d[..]);
            assert_eq!(f.subject, identity::format_dn(c.subject_name()));
            assert_eq!(f.issuer, identity::format_dn(c.issuer_name()));
            assert_eq!(f.not_after, path::asn1_to_offset(c.not_after()));
            // Asked again through the same object: the same facts.
            assert!(Arc::ptr_eq(&f, &of(&c)));
        }
    }

    #[test]
    fn a_new_object_at_a_freed_address_gets_its_own_facts() {
        // Facts are keyed by address, and the entry pins the object: dropping our handle cannot
        // free it, so a different certificate never inherits them.
        let a = cert("citizen-an.pem");
        let fa = of(&a);
        drop(a);
        for _ in 0..100 {
            let b = cert("root-ca.pem");
            let d = b.digest(MessageDigest::sha256()).expect("digest");
            assert_eq!(&of(&b).sha256[..], &d[..]);
            assert_ne!(of(&b).sha256, fa.sha256);
        }
    }
}
