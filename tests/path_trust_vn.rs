//! Real-world check: Vietnam's published sub-CA and TSA certificates chain to the official roots
//! (read in place from ../shared/trust-vn) with `validate_path`, policy processing included.

use antin::pki::path::{validate_path, PathInputs, PathPolicy, Purpose};
use antin::pki::trust::{official_pin, read_certificates, Hierarchy, TrustStore};
use std::path::Path;
use time::macros::datetime;

const TRUST_VN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/trust-vn");

#[test]
#[ignore = "needs ../shared/trust-vn (full suite)"]
fn published_sub_cas_chain_to_the_official_roots() {
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
    let mut trust = TrustStore::new();
    trust.load_anchors(&root.join("neac")).unwrap();
    trust.load_anchors(&root.join("vgca")).unwrap();
    trust
        .load_intermediates(&root.join("vgca-intermediates"))
        .unwrap();
    let time = datetime!(2026-08-01 00:00 UTC);
    let mut report = Vec::new();
    let mut ok = 0;
    let mut total = 0;
    for folder in ["neac-intermediates", "vgca-intermediates", "vgca-tsa"] {
        for (cert, path) in read_certificates(&root.join(folder)).unwrap() {
            total += 1;
            let r = validate_path(&PathInputs {
                leaf: &cert,
                untrusted: &[],
                trust: &trust,
                time,
                purpose: Purpose::Any,
                policy: PathPolicy::default(),
                native_crls: None,
            });
            match &r.result {
                Ok(()) => {
                    ok += 1;
                    let anchor = r
                        .anchor()
                        .and_then(|a| official_pin(a))
                        .expect("ends at a pinned root");
                    let want = if folder == "neac-intermediates" {
                        Hierarchy::NeacNationalRoot
                    } else {
                        Hierarchy::GovernmentPki
                    };
                    assert_eq!(anchor.hierarchy, want, "{}", path.display());
                }
                Err(e) => report.push(format!("{}: {e} [{}]", path.display(), e.sub_indication())),
            }
        }
    }
    println!(
        "trust-vn: {ok}/{total} chain to an official root\n{}",
        report.join("\n")
    );
    // Known: sub-CAs expired by then, and the FPT TSA's critical AIA extension (trust-vn/README.md).
    for line in &report {
        let known = line.contains("expired")
            || (line.contains("fpt-certification-authority-timestamping")
                && line.contains("critical extension"));
        assert!(known, "unexpected failure: {line}");
    }
    assert!(ok * 10 >= total * 8, "too few chains: {ok}/{total}");
}
