//! Path validation (RFC 5280 6.1) through `validate_path`, on a test PKI generated in memory.
#![allow(clippy::cloned_ref_to_slice_refs)] // clearer in tests than slice::from_ref

mod path_support;

use antin::pki::path::{validate_path, PathError, PathInputs, PathPolicy, PathResult, Purpose};
use antin::pki::trust::TrustStore;
use openssl::x509::X509;
use path_support::{issue, pki, t, Spec};
use time::OffsetDateTime;

fn run(
    leaf: &X509,
    untrusted: &[X509],
    trust: &TrustStore,
    time: OffsetDateTime,
    purpose: Purpose,
) -> PathResult {
    validate_path(&PathInputs {
        leaf,
        untrusted,
        trust,
        time,
        purpose,
        policy: PathPolicy::default(),
        native_crls: None,
    })
}

fn anchors(certs: &[&X509]) -> TrustStore {
    let mut s = TrustStore::new();
    for c in certs {
        s.add_anchor((*c).clone(), None).unwrap();
    }
    s
}

#[test]
fn chain_to_self_signed_root() {
    let p = pki();
    let trust = anchors(&[&p.root.cert]);
    let r = run(
        &p.leaf.cert,
        &[p.ca.cert.clone()],
        &trust,
        t(2025),
        Purpose::DocumentSigning,
    );
    assert_eq!(r.result, Ok(()));
    assert_eq!(r.chain.len(), 3);
    assert_eq!(r.chain[0], p.leaf.cert);
    assert_eq!(r.anchor(), Some(&p.root.cert));
}

#[test]
fn configured_intermediates_build_the_path_but_are_not_anchors() {
    let p = pki();
    let mut trust = anchors(&[&p.root.cert]);
    trust.add_intermediate(p.ca.cert.clone()).unwrap();
    assert_eq!(
        run(&p.leaf.cert, &[], &trust, t(2025), Purpose::DocumentSigning).result,
        Ok(())
    );

    let mut only_intermediate = TrustStore::new();
    only_intermediate
        .add_intermediate(p.ca.cert.clone())
        .unwrap();
    let r = run(
        &p.leaf.cert,
        &[],
        &only_intermediate,
        t(2025),
        Purpose::DocumentSigning,
    );
    let err = r.result.unwrap_err();
    assert!(matches!(err, PathError::NoChain { .. }), "{err:?}");
    assert_eq!(err.sub_indication(), "NO_CERTIFICATE_CHAIN_FOUND");
}

#[test]
fn non_self_signed_anchor_ends_the_path() {
    let p = pki();
    let trust = anchors(&[&p.ca.cert]);
    let r = run(&p.leaf.cert, &[], &trust, t(2025), Purpose::DocumentSigning);
    assert_eq!(r.result, Ok(()));
    assert_eq!(r.chain.len(), 2);
    assert_eq!(r.anchor(), Some(&p.ca.cert));
}

#[test]
fn end_entity_anchor_is_trusted_directly() {
    let p = pki();
    let trust = anchors(&[&p.leaf.cert]);
    let r = run(&p.leaf.cert, &[], &trust, t(2025), Purpose::DocumentSigning);
    assert_eq!(r.result, Ok(()));
    assert_eq!(r.chain, vec![p.leaf.cert.clone()]);
}

#[test]
fn unknown_root_gives_no_chain() {
    let p = pki();
    let other = pki();
    let trust = anchors(&[&other.root.cert]);
    let err = run(
        &p.leaf.cert,
        &[p.ca.cert.clone()],
        &trust,
        t(2025),
        Purpose::Any,
    )
    .result
    .unwrap_err();
    assert!(matches!(err, PathError::NoChain { .. }), "{err:?}");
}

#[test]
fn expired_leaf_reports_not_after() {
    let p = pki();
    let trust = anchors(&[&p.root.cert]);
    let err = run(
        &p.leaf.cert,
        &[p.ca.cert.clone()],
        &trust,
        t(2031),
        Purpose::DocumentSigning,
    )
    .result
    .unwrap_err();
    // Root and CA expire at the same time; OpenSSL reports the first it meets.
    match &err {
        PathError::Expired { not_after, .. } => assert_eq!(*not_after, t(2030)),
        other => panic!("expected Expired, got {other:?}"),
    }
    assert!(err.is_time_failure());
    assert_eq!(err.sub_indication(), "EXPIRED");
}

#[test]
fn expired_leaf_under_valid_ca() {
    let root = issue(
        &Spec {
            serial: 1,
            not_after: t(2040),
            ..Spec::ca("Root")
        },
        None,
    );
    let ca = issue(
        &Spec {
            serial: 2,
            not_after: t(2040),
            ..Spec::ca("CA")
        },
        Some(&root),
    );
    let leaf = issue(
        &Spec {
            not_after: t(2022),
            ..Spec::leaf("Leaf")
        },
        Some(&ca),
    );
    let trust = anchors(&[&root.cert]);
    let err = run(
        &leaf.cert,
        &[ca.cert.clone()],
        &trust,
        t(2025),
        Purpose::DocumentSigning,
    )
    .result
    .unwrap_err();
    match err {
        PathError::Expired {
            depth, not_after, ..
        } => {
            assert_eq!(depth, 0);
            assert_eq!(not_after, t(2022));
        }
        other => panic!("expected Expired, got {other:?}"),
    }
}

#[test]
fn not_yet_valid() {
    let p = pki();
    let trust = anchors(&[&p.root.cert]);
    let err = run(
        &p.leaf.cert,
        &[p.ca.cert.clone()],
        &trust,
        t(2019),
        Purpose::DocumentSigning,
    )
    .result
    .unwrap_err();
    assert!(
        matches!(err, PathError::NotYetValid { not_before, .. } if not_before == t(2020)),
        "{err:?}"
    );
}

#[test]
fn time_failure_does_not_hide_a_later_defect() {
    // OpenSSL checks validity periods before policies; an expired path that also fails the
    // explicit-policy requirement must report the policy failure, which no POE can cure.
    let p = pki();
    let trust = anchors(&[&p.root.cert]);
    let mut inputs = PathInputs::new(&p.leaf.cert, &trust, t(2031), Purpose::Any);
    let untrusted = [p.ca.cert.clone()];
    inputs.untrusted = &untrusted;
    assert!(validate_path(&inputs).result.unwrap_err().is_time_failure());
    inputs.policy.explicit_policy = true;
    let err = validate_path(&inputs).result.unwrap_err();
    assert!(matches!(err, PathError::Policy { .. }), "{err:?}");
}

#[test]
fn impostor_issuer_with_the_same_name_is_not_a_path() {
    let p = pki();
    let impostor = issue(
        &Spec {
            serial: 2,
            ..Spec::ca("Test CA")
        },
        Some(&p.root),
    );
    let trust = anchors(&[&p.root.cert]);
    let err = run(
        &p.leaf.cert,
        &[impostor.cert.clone()],
        &trust,
        t(2025),
        Purpose::Any,
    )
    .result
    .unwrap_err();
    assert!(
        matches!(
            err,
            PathError::BadCertSignature { .. } | PathError::NoChain { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn wrong_key_usage_for_document_signing() {
    let p = pki();
    let leaf = issue(
        &Spec {
            ku: Some(&["keyEncipherment"]),
            ..Spec::leaf("Enc only")
        },
        Some(&p.ca),
    );
    let trust = anchors(&[&p.root.cert]);
    let err = run(
        &leaf.cert,
        &[p.ca.cert.clone()],
        &trust,
        t(2025),
        Purpose::DocumentSigning,
    )
    .result
    .unwrap_err();
    assert!(
        matches!(err, PathError::KeyUsage { depth: 0, .. }),
        "{err:?}"
    );
    assert_eq!(err.sub_indication(), "SIG_CONSTRAINTS_FAILURE");
    assert_eq!(
        run(
            &leaf.cert,
            &[p.ca.cert.clone()],
            &trust,
            t(2025),
            Purpose::Any
        )
        .result,
        Ok(())
    );
    // No keyUsage at all: any use allowed (RFC 5280 4.2.1.3).
    let no_ku = issue(
        &Spec {
            ku: None,
            ..Spec::leaf("No KU")
        },
        Some(&p.ca),
    );
    assert_eq!(
        run(
            &no_ku.cert,
            &[p.ca.cert.clone()],
            &trust,
            t(2025),
            Purpose::DocumentSigning
        )
        .result,
        Ok(())
    );
}

#[test]
fn timestamping_needs_the_eku() {
    let p = pki();
    let trust = anchors(&[&p.root.cert]);
    let tsa = issue(
        &Spec {
            eku: Some(&["timeStamping"]),
            ..Spec::leaf("TSA")
        },
        Some(&p.ca),
    );
    assert_eq!(
        run(
            &tsa.cert,
            &[p.ca.cert.clone()],
            &trust,
            t(2025),
            Purpose::Timestamping
        )
        .result,
        Ok(())
    );
    let err = run(
        &p.leaf.cert,
        &[p.ca.cert.clone()],
        &trust,
        t(2025),
        Purpose::Timestamping,
    )
    .result
    .unwrap_err();
    assert!(matches!(err, PathError::KeyUsage { .. }), "{err:?}");
    let err = run(
        &tsa.cert,
        &[p.ca.cert.clone()],
        &trust,
        t(2025),
        Purpose::OcspSigning,
    )
    .result
    .unwrap_err();
    assert!(matches!(err, PathError::KeyUsage { .. }), "{err:?}");
}

#[test]
fn path_length_constraint_violated() {
    let root = issue(
        &Spec {
            serial: 1,
            ..Spec::ca("Root")
        },
        None,
    );
    let ca = issue(
        &Spec {
            serial: 2,
            pathlen: Some(0),
            ..Spec::ca("CA pathlen 0")
        },
        Some(&root),
    );
    let sub = issue(
        &Spec {
            serial: 3,
            ..Spec::ca("Sub CA")
        },
        Some(&ca),
    );
    let leaf = issue(&Spec::leaf("Leaf"), Some(&sub));
    let trust = anchors(&[&root.cert]);
    let err = run(
        &leaf.cert,
        &[ca.cert.clone(), sub.cert.clone()],
        &trust,
        t(2025),
        Purpose::DocumentSigning,
    )
    .result
    .unwrap_err();
    assert!(matches!(err, PathError::PathLength { .. }), "{err:?}");
    assert_eq!(err.sub_indication(), "CHAIN_CONSTRAINTS_FAILURE");
}

#[test]
fn end_entity_cannot_issue() {
    let p = pki();
    let below = issue(
        &Spec {
            serial: 77,
            ..Spec::leaf("Below a leaf")
        },
        Some(&p.leaf),
    );
    let trust = anchors(&[&p.root.cert]);
    let err = run(
        &below.cert,
        &[p.ca.cert.clone(), p.leaf.cert.clone()],
        &trust,
        t(2025),
        Purpose::Any,
    )
    .result
    .unwrap_err();
    assert!(matches!(err, PathError::BasicConstraints { .. }), "{err:?}");
}

#[test]
fn explicit_policy_without_policies_fails() {
    let p = pki();
    let trust = anchors(&[&p.root.cert]);
    let r = validate_path(&PathInputs {
        leaf: &p.leaf.cert,
        untrusted: &[p.ca.cert.clone()],
        trust: &trust,
        time: t(2025),
        purpose: Purpose::Any,
        policy: PathPolicy {
            explicit_policy: true,
            ..PathPolicy::default()
        },
        native_crls: None,
    });
    assert!(
        matches!(r.result, Err(PathError::Policy { .. })),
        "{:?}",
        r.result
    );
}

#[test]
fn cross_certificate_gives_a_second_path() {
    // The CA is certified by an old root and, with the same key and name, cross-certified by a
    // new root. Trusting only the new root, the builder must find the path through the cross-cert.
    let old_root = issue(
        &Spec {
            serial: 1,
            ..Spec::ca("Old Root")
        },
        None,
    );
    let new_root = issue(
        &Spec {
            serial: 1,
            ..Spec::ca("New Root")
        },
        None,
    );
    let ca = issue(
        &Spec {
            serial: 2,
            ..Spec::ca("Shared CA")
        },
        Some(&old_root),
    );
    let cross = path_support::issue_with_key(
        &Spec {
            serial: 3,
            ..Spec::ca("Shared CA")
        },
        Some(&new_root),
        ca.key.clone(),
    );
    let leaf = issue(&Spec::leaf("Leaf"), Some(&ca));
    let untrusted = [ca.cert.clone(), cross.cert.clone()];
    let trust = anchors(&[&new_root.cert]);
    let r = run(
        &leaf.cert,
        &untrusted,
        &trust,
        t(2025),
        Purpose::DocumentSigning,
    );
    assert_eq!(r.result, Ok(()));
    assert_eq!(
        r.chain,
        vec![leaf.cert.clone(), cross.cert.clone(), new_root.cert.clone()]
    );
    let trust = anchors(&[&old_root.cert]);
    let r = run(
        &leaf.cert,
        &untrusted,
        &trust,
        t(2025),
        Purpose::DocumentSigning,
    );
    assert_eq!(r.result, Ok(()));
    assert_eq!(r.anchor(), Some(&old_root.cert));
}
