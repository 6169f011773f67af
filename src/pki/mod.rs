//! Certificates, trust anchors, path validation, revocation, CMS signatures and timestamps.

pub mod algorithms;
pub mod cert_facts;
pub mod cms;
pub mod digest_memo;
pub mod fetch;
pub mod identity;
pub mod path;
pub mod revocation;
pub mod trust;
pub mod tsp;

/// A file of the committed test PKI (`certs/test-pki`), for unit tests.
#[cfg(test)]
pub(crate) fn test_pki_file(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("certs/test-pki")
            .join(name),
    )
    .expect("test PKI file")
}

/// A certificate of the committed test PKI, for unit tests.
#[cfg(test)]
pub(crate) fn test_pki_cert(name: &str) -> openssl::x509::X509 {
    openssl::x509::X509::from_pem(&test_pki_file(name)).expect("test PKI certificate")
}

/// The only place with `unsafe`: bindings OpenSSL's safe Rust API lacks (CRLs in a store, policy sets).
#[allow(unsafe_code)]
pub(crate) mod ossl_ffi;
