//! NIST PKITS conformance run: all 246 path-validation cases of ../shared/corpora/pkits/pkits.json
//! through `validate_path`, with OpenSSL-native CRL checking and the cases' policy parameters.
//!
//! A case passes when our verdict (valid / invalid) equals the expected one. Every case we do not
//! pass is listed in tests/pkits-exceptions.toml with its reason; the run fails when an unlisted
//! case fails or a listed case passes (the list only shrinks).

use antin::pki::path::{validate_path, NativeCrlCheck, PathInputs, PathPolicy, Purpose};
use antin::pki::trust::TrustStore;
use openssl::x509::{X509Crl, X509};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use time::macros::datetime;

const PKITS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpora/pkits");
const EXCEPTIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pkits-exceptions.toml");

#[derive(Deserialize)]
struct Case {
    id: String,
    name: String,
    cert: String,
    #[serde(default)]
    other_certs: Vec<String>,
    #[serde(default)]
    crls: Vec<String>,
    #[serde(default)]
    revocation: Option<bool>,
    #[serde(default)]
    params: Option<Params>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct Params {
    #[serde(default)]
    user_initial_policy_set: Vec<String>,
    #[serde(default)]
    initial_explicit_policy: bool,
    #[serde(default)]
    initial_policy_mapping_inhibit: bool,
    #[serde(default)]
    initial_any_policy_inhibit: bool,
}

#[derive(Deserialize)]
struct Exceptions {
    #[serde(default)]
    exception: Vec<Exception>,
}

#[derive(Deserialize)]
struct Exception {
    name: String,
    reason: String,
}

fn cert(dir: &Path, name: &str) -> X509 {
    let bytes =
        std::fs::read(dir.join("certs").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    X509::from_der(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn crl(dir: &Path, name: &str) -> X509Crl {
    let bytes =
        std::fs::read(dir.join("crls").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    X509Crl::from_der(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
#[ignore = "needs ../shared/corpora (full suite)"]
fn pkits_full_suite() {
    let dir = PathBuf::from(PKITS);
    let json = dir.join("pkits.json");
    if !json.is_file() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "PKITS corpus missing at {PKITS} under CI"
        );
        eprintln!("skipping PKITS: {} is missing", json.display());
        return;
    }
    let cases: Vec<Case> = serde_json::from_slice(&std::fs::read(&json).expect("read pkits.json"))
        .expect("parse pkits.json");
    assert_eq!(cases.len(), 246);
    let exceptions: Exceptions =
        toml::from_str(&std::fs::read_to_string(EXCEPTIONS).expect("read exceptions"))
            .expect("parse exceptions");
    let listed: BTreeMap<&str, &str> = exceptions
        .exception
        .iter()
        .map(|e| (e.name.as_str(), e.reason.as_str()))
        .collect();
    for e in &exceptions.exception {
        assert!(
            !e.reason.trim().is_empty(),
            "exception {} has no reason",
            e.name
        );
        assert!(
            cases.iter().any(|c| c.name == e.name),
            "exception {} names no case",
            e.name
        );
    }

    let mut trust = TrustStore::new();
    trust
        .add_anchor(cert(&dir, "TrustAnchorRootCertificate.crt"), None)
        .expect("anchor");
    let time = datetime!(2020-01-01 00:00 UTC);

    let mut passed = 0;
    let mut problems = Vec::new();
    for case in &cases {
        let leaf = cert(&dir, &case.cert);
        let others: Vec<X509> = case.other_certs.iter().map(|n| cert(&dir, n)).collect();
        let native = if case.revocation == Some(false) {
            None
        } else {
            let mut crls: Vec<X509Crl> = case.crls.iter().map(|n| crl(&dir, n)).collect();
            crls.push(crl(&dir, "TrustAnchorRootCRL.crl"));
            Some(NativeCrlCheck {
                crls,
                check_all: true,
                use_deltas: true,
            })
        };
        let p = case.params.as_ref();
        let policy = PathPolicy {
            initial_policy_set: p
                .map(|p| p.user_initial_policy_set.clone())
                .unwrap_or_default(),
            explicit_policy: p.is_some_and(|p| p.initial_explicit_policy),
            inhibit_policy_mapping: p.is_some_and(|p| p.initial_policy_mapping_inhibit),
            inhibit_any_policy: p.is_some_and(|p| p.initial_any_policy_inhibit),
        };
        let inputs = PathInputs {
            leaf: &leaf,
            untrusted: &others,
            trust: &trust,
            time,
            purpose: Purpose::Any,
            policy,
            native_crls: native,
        };
        let result = validate_path(&inputs);
        let expect_valid = case.error.is_none();
        let ok = result.result.is_ok() == expect_valid;
        let verdict = match &result.result {
            Ok(()) => "valid".to_owned(),
            Err(e) => format!("invalid: {e}"),
        };
        if ok {
            passed += 1;
            if let Some(reason) = listed.get(case.name.as_str()) {
                problems.push(format!(
                    "{} {} passes now but is listed ({reason}): remove it",
                    case.id, case.name
                ));
            }
        } else if !listed.contains_key(case.name.as_str()) {
            problems.push(format!(
                "{} {}: expected {}, got {verdict}",
                case.id,
                case.name,
                if expect_valid { "valid" } else { "invalid" }
            ));
        }
    }
    println!(
        "PKITS: {passed}/{} passed, {} listed exceptions",
        cases.len(),
        listed.len()
    );
    assert!(
        problems.is_empty(),
        "PKITS mismatches:\n{}",
        problems.join("\n")
    );
}
