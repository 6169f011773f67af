//! Trust anchors and configured intermediates, and the pins of Vietnam's official roots.
//!
//! A trust anchor is whatever certificate the operator configures as one (RFC 5280 6.1.1 (d): a
//! name and a public key): self-signed or not, CA or end-entity. Path validation stops at the first
//! anchor it reaches, so a signer certificate that is itself an anchor is trusted directly.
//! Intermediates are only candidates for path building and are never trusted by themselves.
//!
//! This module reads certificate files when asked to load a trust configuration (an edge used by
//! the CLI and the service at start-up), with bounded sizes and counts. It never ships the official
//! certificates themselves: only their SHA-256 pins ([`OFFICIAL_ROOTS`]), against which a deployed
//! file can be checked.

use openssl::hash::MessageDigest;
use openssl::x509::{X509Ref, X509};
use std::fmt;
use std::path::{Path, PathBuf};
use time::macros::datetime;
use time::OffsetDateTime;

/// Largest certificate file we read (a bundle of a few hundred certificates fits easily).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Largest number of certificate files read from one folder.
pub const MAX_FOLDER_FILES: usize = 4096;
/// Largest number of certificates accepted from one file or folder.
pub const MAX_CERTIFICATES: usize = 10_000;

/// File extensions read from a trust folder (compared case-insensitively).
const CERT_EXTENSIONS: &[&str] = &["pem", "crt", "cer", "der"];

/// Why a trust configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("{path} is {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// The offending file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// More files or certificates than the limits allow.
    #[error("{path}: more than {limit} certificates or files")]
    TooMany {
        /// The file or folder.
        path: PathBuf,
        /// The limit that was hit.
        limit: usize,
    },
    /// The bytes are neither PEM certificates nor one DER certificate (RFC 5280 4.1, RFC 7468).
    #[error("{path}: not a certificate (PEM or DER): {reason}")]
    NotACertificate {
        /// The offending file.
        path: PathBuf,
        /// OpenSSL's reason.
        reason: String,
    },
    /// A file or folder held no certificate at all.
    #[error("{path}: no certificate found")]
    Empty {
        /// The file or folder.
        path: PathBuf,
    },
    /// A certificate offered as an official root matches no pin of [`OFFICIAL_ROOTS`].
    #[error("{path}: {subject} (SHA-256 {sha256}) is not a pinned official root")]
    NotPinned {
        /// The file.
        path: PathBuf,
        /// Its subject.
        subject: String,
        /// Its SHA-256 fingerprint.
        sha256: String,
    },
    /// OpenSSL failed on a well-formed certificate (e.g. while hashing it).
    #[error("OpenSSL: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
}

/// One configured trust anchor.
#[derive(Clone)]
pub struct TrustAnchor {
    cert: X509,
    source: Option<PathBuf>,
    sha256: [u8; 32],
}

impl TrustAnchor {
    /// Wraps a certificate as an anchor, remembering where it came from.
    pub fn new(cert: X509, source: Option<PathBuf>) -> Result<Self, TrustError> {
        let sha256 = sha256_fingerprint(&cert)?;
        Ok(TrustAnchor {
            cert,
            source,
            sha256,
        })
    }
    /// The anchor's certificate.
    pub fn cert(&self) -> &X509 {
        &self.cert
    }
    /// The file it was loaded from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }
    /// SHA-256 over the certificate's DER.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }
    /// The fingerprint as lowercase hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }
    /// The official root this anchor is, if its fingerprint matches a pin.
    pub fn official(&self) -> Option<&'static OfficialRoot> {
        official_pin_by_fingerprint(&self.sha256)
    }
}

impl fmt::Debug for TrustAnchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustAnchor")
            .field("subject", &subject_string(&self.cert))
            .field("sha256", &self.sha256_hex())
            .field("source", &self.source)
            .finish()
    }
}

/// The trust configuration: anchors (where paths end) and intermediates (path-building material
/// only, e.g. the licensed CAs' sub-CAs, since signed PDFs often carry only the signer's certificate).
#[derive(Clone, Debug, Default)]
pub struct TrustStore {
    anchors: Vec<TrustAnchor>,
    /// SHA-256 of each anchor.
    anchor_fps: std::collections::HashSet<[u8; 32]>,
    intermediates: Vec<X509>,
    /// SHA-256 of each intermediate, to keep loading linear.
    intermediate_fps: std::collections::HashSet<[u8; 32]>,
    /// A digest of what was added, in order: two stores with the same id hold the same anchors
    /// and intermediates (what a path validation result may be cached under).
    contents_id: [u8; 32],
}

impl TrustStore {
    /// An empty store (it trusts nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an anchor; a certificate already present (same SHA-256) is not added twice.
    pub fn add_anchor(&mut self, cert: X509, source: Option<PathBuf>) -> Result<(), TrustError> {
        let anchor = TrustAnchor::new(cert, source)?;
        if self.anchor_fps.insert(anchor.sha256) {
            self.note_added(b'a', &anchor.sha256);
            self.anchors.push(anchor);
        }
        Ok(())
    }

    /// Adds an untrusted intermediate for path building; duplicates are ignored.
    pub fn add_intermediate(&mut self, cert: X509) -> Result<(), TrustError> {
        let fp = sha256_fingerprint(&cert)?;
        if self.intermediate_fps.insert(fp) {
            self.note_added(b'i', &fp);
            self.intermediates.push(cert);
        }
        Ok(())
    }

    /// Loads official roots from a file or folder, refusing any certificate whose SHA-256 does
    /// not match a pin of [`OFFICIAL_ROOTS`] (vietnam-rules.md: never trust an official root that
    /// was not checked against its pin). Returns the pins matched.
    pub fn load_pinned_anchors(
        &mut self,
        path: &Path,
    ) -> Result<Vec<&'static OfficialRoot>, TrustError> {
        let certs = read_certificates(path)?;
        let mut matched = Vec::new();
        for (cert, source) in &certs {
            match official_pin(cert) {
                Some(pin) => matched.push(pin),
                None => {
                    return Err(TrustError::NotPinned {
                        path: source.clone(),
                        subject: subject_string(cert),
                        sha256: hex::encode(sha256_fingerprint(cert)?),
                    })
                }
            }
        }
        for (cert, source) in certs {
            self.add_anchor(cert, Some(source))?;
        }
        Ok(matched)
    }

    /// Loads anchors from a file (PEM with many certificates, or one DER) or a folder (see
    /// [`read_certificates`]). Returns how many certificates were read.
    pub fn load_anchors(&mut self, path: &Path) -> Result<usize, TrustError> {
        let certs = read_certificates(path)?;
        let n = certs.len();
        for (cert, source) in certs {
            self.add_anchor(cert, Some(source))?;
        }
        Ok(n)
    }

    /// Loads intermediates from a file or folder. Returns how many certificates were read.
    pub fn load_intermediates(&mut self, path: &Path) -> Result<usize, TrustError> {
        let certs = read_certificates(path)?;
        let n = certs.len();
        for (cert, _) in certs {
            self.add_intermediate(cert)?;
        }
        Ok(n)
    }

    fn note_added(&mut self, kind: u8, fp: &[u8; 32]) {
        let mut h = openssl::sha::Sha256::new();
        h.update(&self.contents_id);
        h.update(&[kind]);
        h.update(fp);
        self.contents_id = h.finish();
    }

    /// Identifies the store's contents (anchors and intermediates, in the order added).
    pub fn contents_id(&self) -> &[u8; 32] {
        &self.contents_id
    }

    /// The configured anchors.
    pub fn anchors(&self) -> &[TrustAnchor] {
        &self.anchors
    }

    /// The configured intermediates.
    pub fn intermediates(&self) -> &[X509] {
        &self.intermediates
    }

    /// The anchor with exactly this certificate (same DER), if any.
    pub fn find_anchor(&self, cert: &X509Ref) -> Option<&TrustAnchor> {
        let fp = super::cert_facts::sha256(cert);
        self.anchors.iter().find(|a| a.sha256 == fp)
    }

    /// Whether this exact certificate is configured as an anchor.
    pub fn is_anchor(&self, cert: &X509Ref) -> bool {
        self.find_anchor(cert).is_some()
    }
}

/// SHA-256 over the certificate's DER encoding.
pub fn sha256_fingerprint(cert: &X509Ref) -> Result<[u8; 32], TrustError> {
    let d = cert.digest(MessageDigest::sha256())?;
    let mut out = [0u8; 32];
    if d.len() == out.len() {
        out.copy_from_slice(&d);
    }
    Ok(out)
}

/// Parses certificates from bytes: one or more PEM `CERTIFICATE` blocks, or one DER certificate.
pub fn parse_certificates(bytes: &[u8], origin: &Path) -> Result<Vec<X509>, TrustError> {
    let looks_pem = bytes.windows(11).any(|w| w == b"-----BEGIN ");
    let certs = if looks_pem {
        X509::stack_from_pem(bytes).map_err(|e| TrustError::NotACertificate {
            path: origin.to_path_buf(),
            reason: e.to_string(),
        })?
    } else {
        vec![
            X509::from_der(bytes).map_err(|e| TrustError::NotACertificate {
                path: origin.to_path_buf(),
                reason: e.to_string(),
            })?,
        ]
    };
    if certs.is_empty() {
        return Err(TrustError::Empty {
            path: origin.to_path_buf(),
        });
    }
    if certs.len() > MAX_CERTIFICATES {
        return Err(TrustError::TooMany {
            path: origin.to_path_buf(),
            limit: MAX_CERTIFICATES,
        });
    }
    Ok(certs)
}

/// Reads certificates from a file, or from every `*.pem`, `*.crt`, `*.cer`, `*.der` file directly
/// inside a folder (not recursive, in sorted file-name order, at most [`MAX_FOLDER_FILES`] files and
/// [`MAX_CERTIFICATES`] certificates). Each certificate comes with the file it was read from.
pub fn read_certificates(path: &Path) -> Result<Vec<(X509, PathBuf)>, TrustError> {
    let io = |e| TrustError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_dir() {
        let certs = read_file(path)?;
        return Ok(certs.into_iter().map(|c| (c, path.to_path_buf())).collect());
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let entry = entry.map_err(io)?;
        let p = entry.path();
        let wanted = p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| CERT_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)));
        if wanted && entry.file_type().map_err(io)?.is_file() {
            files.push(p);
            if files.len() > MAX_FOLDER_FILES {
                return Err(TrustError::TooMany {
                    path: path.to_path_buf(),
                    limit: MAX_FOLDER_FILES,
                });
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        for c in read_file(&f)? {
            out.push((c, f.clone()));
            if out.len() > MAX_CERTIFICATES {
                return Err(TrustError::TooMany {
                    path: path.to_path_buf(),
                    limit: MAX_CERTIFICATES,
                });
            }
        }
    }
    if out.is_empty() {
        return Err(TrustError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(out)
}

fn read_file(path: &Path) -> Result<Vec<X509>, TrustError> {
    use std::io::Read;
    let io = |e| TrustError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > MAX_FILE_BYTES {
        return Err(TrustError::TooLarge {
            path: path.to_path_buf(),
            size,
            limit: MAX_FILE_BYTES,
        });
    }
    let mut bytes = Vec::new();
    // `take` bounds the read even if the file grows between metadata() and read.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(TrustError::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            limit: MAX_FILE_BYTES,
        });
    }
    parse_certificates(&bytes, path)
}

/// A one-line subject for messages (OpenSSL's `X509_NAME_oneline`-like, RFC 4514 order is not
/// needed here; the identity module owns the display format shown to people).
pub(crate) fn subject_string(cert: &X509Ref) -> String {
    name_string(cert.subject_name())
}

pub(crate) fn name_string(name: &openssl::x509::X509NameRef) -> String {
    let mut parts = Vec::new();
    for e in name.entries() {
        let key = e
            .object()
            .nid()
            .short_name()
            .map(str::to_owned)
            .unwrap_or_else(|_| e.object().to_string());
        let value = e.data().to_string().unwrap_or_else(|_| "?".to_owned());
        parts.push(format!("{key}={value}"));
    }
    parts.join(", ")
}

/// Which official hierarchy a pinned root belongs to (vietnam-rules.md, "Trust anchors").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Hierarchy {
    /// Vietnam National Root CA, run by NEAC (rootca.gov.vn); public licensed CAs chain here.
    NeacNationalRoot,
    /// The Government PKI of the Government Cipher Committee (ca.gov.vn); a separate hierarchy
    /// for official-duty signatures of agencies.
    GovernmentPki,
}

/// A pin of an official root: facts only, the certificate is installed from an official file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfficialRoot {
    /// The subject common name.
    pub name: &'static str,
    /// Which hierarchy it heads.
    pub hierarchy: Hierarchy,
    /// SHA-256 over the certificate's DER, lowercase hex.
    pub sha256: &'static str,
    /// The certificate's notAfter (UTC).
    pub not_after: OffsetDateTime,
    /// Where the operator downloads the official certificate from.
    pub download: &'static str,
}

const NEAC_DOWNLOAD: &str = "https://rootca.gov.vn/";
const GOV_DOWNLOAD: &str = "https://ca.gov.vn/";

/// Vietnam's official roots, with fingerprints from /work/shared/trust-vn (cross-checked as that
/// README says). A test recomputes each from the published files.
pub const OFFICIAL_ROOTS: &[OfficialRoot] = &[
    OfficialRoot {
        name: "Vietnam National Root CA",
        hierarchy: Hierarchy::NeacNationalRoot,
        sha256: "bac8bf609ab420a8ee1780d74f4de5c7f7184959d2a7375b0a75e4c29f0908e7",
        not_after: datetime!(2039-04-15 16:29:20 UTC),
        download: NEAC_DOWNLOAD,
    },
    OfficialRoot {
        name: "Vietnam National Root CA G3",
        hierarchy: Hierarchy::NeacNationalRoot,
        sha256: "7b3269e7d79aebbfae5095f45bbb7074771e690cb7df02b441062b12f7690ece",
        not_after: datetime!(2049-06-20 03:59:40 UTC),
        download: NEAC_DOWNLOAD,
    },
    OfficialRoot {
        name: "VIETNAM NATIONAL ROOT CA - RS",
        hierarchy: Hierarchy::NeacNationalRoot,
        sha256: "12afeba2545f6fc0f31ec130f31bf2d16184a2b5b7cebcb43cfd1ba35dd4ea46",
        not_after: datetime!(2050-11-19 03:10:48 UTC),
        download: NEAC_DOWNLOAD,
    },
    OfficialRoot {
        name: "VIETNAM NATIONAL ROOT CA - TSA",
        hierarchy: Hierarchy::NeacNationalRoot,
        sha256: "d343b3c5132f7d1676c3560025aefef036fceec073c33f18e075b3a21c8f8552",
        not_after: datetime!(2050-11-19 03:13:21 UTC),
        download: NEAC_DOWNLOAD,
    },
    OfficialRoot {
        name: "VIETNAM NATIONAL ROOT CA - USBTOKEN",
        hierarchy: Hierarchy::NeacNationalRoot,
        sha256: "41803135f13a6359866e7e6f76dafd598d496836944a52dd1fad66b3bf2ee63b",
        not_after: datetime!(2050-11-19 03:09:51 UTC),
        download: NEAC_DOWNLOAD,
    },
    OfficialRoot {
        name: "VIETNAM NATIONAL ROOT CA - MOBILEPKI",
        hierarchy: Hierarchy::NeacNationalRoot,
        sha256: "c75535d65c0ff7480a3d6f393d56da5f7c92ddcc071f4e9166c3f8d660ef836c",
        not_after: datetime!(2050-11-19 03:14:10 UTC),
        download: NEAC_DOWNLOAD,
    },
    OfficialRoot {
        name: "VIETNAM NATIONAL ROOT CA - EMA",
        hierarchy: Hierarchy::NeacNationalRoot,
        sha256: "0d765aedfe7b12c7d11c7b5737507f24db22f8afe24be140eb5801cb0853a8f9",
        not_after: datetime!(2051-05-01 04:11:58 UTC),
        download: NEAC_DOWNLOAD,
    },
    OfficialRoot {
        name: "MIC National Root CA",
        hierarchy: Hierarchy::NeacNationalRoot,
        sha256: "ca918d635bb130bec97639e6aabf7edbc4eb1310f8058b9419f467ae0230ad8c",
        not_after: datetime!(2040-05-16 01:20:32 UTC),
        download: NEAC_DOWNLOAD,
    },
    OfficialRoot {
        name: "RootCA chuyên dùng Chính phủ G2",
        hierarchy: Hierarchy::GovernmentPki,
        sha256: "f04ba4b459a7c9a1b971ad9b1cb833e695a80c79aea63b174b66a70edfe2fdb8",
        not_after: datetime!(2048-08-14 07:36:39 UTC),
        download: GOV_DOWNLOAD,
    },
    OfficialRoot {
        name: "Co quan chung thuc so chuyen dung Chinh phu (RootCA)",
        hierarchy: Hierarchy::GovernmentPki,
        sha256: "f7bc89054cec7f12730d7b8cd3eb7955b163835087e5eb873edfb584763b3f90",
        not_after: datetime!(2030-03-05 05:45:57 UTC),
        download: GOV_DOWNLOAD,
    },
];

/// The official root this certificate is (matched by SHA-256 over its DER), if any.
pub fn official_pin(cert: &X509Ref) -> Option<&'static OfficialRoot> {
    let fp = sha256_fingerprint(cert).ok()?;
    official_pin_by_fingerprint(&fp)
}

fn official_pin_by_fingerprint(fp: &[u8; 32]) -> Option<&'static OfficialRoot> {
    let hex = hex::encode(fp);
    OFFICIAL_ROOTS.iter().find(|r| r.sha256 == hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUST_VN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/trust-vn");

    #[test]
    fn pins_are_well_formed_and_unique() {
        for (i, r) in OFFICIAL_ROOTS.iter().enumerate() {
            assert_eq!(r.sha256.len(), 64, "{}", r.name);
            assert!(hex::decode(r.sha256).is_ok(), "{}", r.name);
            assert!(OFFICIAL_ROOTS
                .iter()
                .skip(i + 1)
                .all(|o| o.sha256 != r.sha256));
            let host = match r.hierarchy {
                Hierarchy::NeacNationalRoot => "rootca.gov.vn",
                Hierarchy::GovernmentPki => "ca.gov.vn",
            };
            assert!(r.download.contains(host), "{}", r.name);
        }
        assert_eq!(OFFICIAL_ROOTS.len(), 10);
    }

    #[test]
    #[ignore = "needs ../shared/trust-vn (full suite)"]
    fn pins_match_the_published_root_files() {
        let root = Path::new(TRUST_VN);
        if !root.is_dir() {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "{TRUST_VN} missing under CI"
            );
            eprintln!("skipping: {TRUST_VN} is missing");
            return;
        }
        let mut seen = 0;
        for folder in ["neac", "vgca"] {
            let certs = read_certificates(&root.join(folder)).expect("read folder");
            for (cert, path) in certs {
                let pin =
                    official_pin(&cert).unwrap_or_else(|| panic!("{} has no pin", path.display()));
                let not_after = crate::pki::path::asn1_to_offset(cert.not_after()).expect("time");
                assert_eq!(pin.not_after, not_after, "{}", path.display());
                let cn = cert
                    .subject_name()
                    .entries_by_nid(openssl::nid::Nid::COMMONNAME)
                    .next()
                    .and_then(|e| e.data().to_string().ok())
                    .unwrap_or_default();
                assert_eq!(pin.name, cn, "{}", path.display());
                seen += 1;
            }
        }
        assert_eq!(seen, OFFICIAL_ROOTS.len());
        // Intermediates are never official roots.
        let inter = read_certificates(&root.join("vgca-intermediates")).expect("read");
        assert!(inter.iter().all(|(c, _)| official_pin(c).is_none()));
    }

    #[test]
    #[ignore = "needs ../shared/trust-vn (full suite)"]
    fn loads_a_folder_sorted_with_sources() {
        let root = Path::new(TRUST_VN).join("neac");
        if !root.is_dir() {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "{TRUST_VN} missing under CI"
            );
            return;
        }
        let mut store = TrustStore::new();
        assert_eq!(store.load_anchors(&root).expect("load"), 8);
        let names: Vec<_> = store.anchors().iter().filter_map(|a| a.source()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(store.anchors().iter().all(|a| a.official().is_some()));

        let mut pinned = TrustStore::new();
        assert_eq!(pinned.load_pinned_anchors(&root).expect("pinned").len(), 8);
        let err = pinned
            .load_pinned_anchors(&Path::new(TRUST_VN).join("vgca-intermediates"))
            .unwrap_err();
        assert!(matches!(err, TrustError::NotPinned { .. }), "{err:?}");
        assert_eq!(
            pinned.anchors().len(),
            8,
            "nothing added from a refused folder"
        );
    }

    #[test]
    fn garbage_is_a_clean_error() {
        let err = parse_certificates(b"not a certificate", Path::new("x.der")).unwrap_err();
        assert!(matches!(err, TrustError::NotACertificate { .. }));
        let err = parse_certificates(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            Path::new("x.pem"),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            TrustError::NotACertificate { .. } | TrustError::Empty { .. }
        ));
    }
}
