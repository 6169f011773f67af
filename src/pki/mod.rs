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

/// The only place with `unsafe`: bindings OpenSSL's safe Rust API lacks (CRLs in a store, policy sets).
#[allow(unsafe_code)]
pub(crate) mod ossl_ffi;
