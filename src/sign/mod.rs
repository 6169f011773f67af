//! Signing the results agencies issue: PAdES signatures added to a PDF as incremental updates
//! (`pdf`), the CMS SignedData they carry (`cms`), the keys that make them (`keys`; tokens and
//! HSMs in `pkcs11`), timestamps from an RFC 3161 TSA (`tsa`).
//!
//! `pdf` and `cms` are pure: bytes, certificates and a signing callback in, bytes out. Keys may
//! live in an HSM; nothing here ever exports a private key or logs a PIN.

pub mod appearance;
pub mod cms;
pub mod extend;
pub mod keys;
pub mod ltv;
pub mod ocsp;
pub mod pdf;
pub mod pkcs11;
pub mod service;
pub mod status;
pub mod tsa;
