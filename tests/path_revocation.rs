//! Revocation status at the signing time (RFC 5280 6.3, RFC 6960) through `revocation::check_cert`
//! and `check_chain`, with CRLs and OCSP responses generated in memory.

mod path_support;

use antin::pki::revocation::{
    ca_issuer_urls, check_cert, check_chain, crl_distribution_points, ocsp_urls, EvidenceKind,
    Freshness, RevocationData, RevocationError, RevocationStatus,
};
use path_support::{crl, issue, ocsp, pki, t, Spec, Status};
use time::OffsetDateTime;

fn ym(y: i32, m: u8) -> OffsetDateTime {
    t(y).replace_month(time::Month::try_from(m).unwrap())
        .unwrap()
}

fn crls(list: Vec<openssl::x509::X509Crl>) -> RevocationData {
    RevocationData {
        crls: list,
        ocsp_responses: Vec::new(),
    }
}

fn ocsps(list: Vec<Vec<u8>>) -> RevocationData {
    RevocationData {
        crls: Vec::new(),
        ocsp_responses: list,
    }
}

#[test]
fn no_evidence_is_unknown() {
    let p = pki();
    let s = check_cert(
        &p.leaf.cert,
        &p.ca.cert,
        &RevocationData::default(),
        t(2025),
        t(2026),
    );
    assert_eq!(
        s,
        RevocationStatus::Unknown {
            reason: RevocationError::NoEvidence,
            others: vec![]
        }
    );
}

#[test]
fn crl_revoked_before_signing_time() {
    let p = pki();
    let c = crl(
        &p.ca,
        &p.ca.key,
        ym(2025, 6),
        Some(ym(2025, 7)),
        &[(1000, ym(2025, 1))],
    );
    match check_cert(
        &p.leaf.cert,
        &p.ca.cert,
        &crls(vec![c]),
        ym(2025, 3),
        t(2026),
    ) {
        RevocationStatus::Revoked {
            revoked_at,
            evidence,
            ..
        } => {
            assert_eq!(revoked_at, ym(2025, 1));
            assert_eq!(evidence.kind, EvidenceKind::Crl);
            assert_eq!(evidence.sha256, openssl::sha::sha256(&evidence.der));
            assert_eq!(evidence.this_update, ym(2025, 6));
        }
        other => panic!("expected Revoked, got {other:?}"),
    }
}

#[test]
fn crl_revoked_after_signing_time_is_good_with_the_later_date() {
    let p = pki();
    let c = crl(
        &p.ca,
        &p.ca.key,
        ym(2025, 6),
        Some(ym(2025, 7)),
        &[(1000, ym(2025, 5))],
    );
    match check_cert(
        &p.leaf.cert,
        &p.ca.cert,
        &crls(vec![c]),
        ym(2025, 3),
        t(2026),
    ) {
        RevocationStatus::Good {
            freshness,
            revoked_later,
            ..
        } => {
            assert_eq!(freshness, Freshness::Fresh);
            assert_eq!(revoked_later.map(|l| l.revoked_at), Some(ym(2025, 5)));
        }
        other => panic!("expected Good, got {other:?}"),
    }
}

#[test]
fn crl_not_listing_the_cert() {
    let p = pki();
    let fresh = crl(
        &p.ca,
        &p.ca.key,
        ym(2025, 6),
        Some(ym(2025, 7)),
        &[(999, ym(2025, 1))],
    );
    let s = check_cert(
        &p.leaf.cert,
        &p.ca.cert,
        &crls(vec![fresh]),
        ym(2025, 3),
        t(2026),
    );
    assert!(
        matches!(
            s,
            RevocationStatus::Good {
                freshness: Freshness::Fresh,
                revoked_later: None,
                ..
            }
        ),
        "{s:?}"
    );

    // Issued before the signing time but still current then: accepted, flagged.
    let older = crl(&p.ca, &p.ca.key, ym(2025, 2), Some(ym(2025, 4)), &[]);
    let s = check_cert(
        &p.leaf.cert,
        &p.ca.cert,
        &crls(vec![older]),
        ym(2025, 3),
        t(2026),
    );
    assert!(
        matches!(
            s,
            RevocationStatus::Good {
                freshness: Freshness::WithinValidity,
                ..
            }
        ),
        "{s:?}"
    );
}

#[test]
fn stale_crl_is_unknown() {
    let p = pki();
    let stale = crl(&p.ca, &p.ca.key, ym(2025, 1), Some(ym(2025, 2)), &[]);
    let s = check_cert(
        &p.leaf.cert,
        &p.ca.cert,
        &crls(vec![stale]),
        ym(2025, 3),
        t(2026),
    );
    match s {
        RevocationStatus::Unknown {
            reason: RevocationError::Stale {
                kind, this_update, ..
            },
            ..
        } => {
            assert_eq!(kind, EvidenceKind::Crl);
            assert_eq!(this_update, ym(2025, 1));
        }
        other => panic!("expected Stale, got {other:?}"),
    }
}

#[test]
fn crl_signed_by_the_wrong_key_is_rejected() {
    let p = pki();
    let forged = crl(&p.ca, &p.root.key, ym(2025, 6), Some(ym(2025, 7)), &[]);
    let s = check_cert(
        &p.leaf.cert,
        &p.ca.cert,
        &crls(vec![forged]),
        ym(2025, 3),
        t(2026),
    );
    assert!(
        matches!(
            s,
            RevocationStatus::Unknown {
                reason: RevocationError::BadSignature {
                    kind: EvidenceKind::Crl,
                    ..
                },
                ..
            }
        ),
        "{s:?}"
    );
    // A forged CRL revoking the cert must not make it revoked either.
    let forged = crl(
        &p.ca,
        &p.root.key,
        ym(2025, 6),
        Some(ym(2025, 7)),
        &[(1000, ym(2025, 1))],
    );
    let s = check_cert(
        &p.leaf.cert,
        &p.ca.cert,
        &crls(vec![forged]),
        ym(2025, 3),
        t(2026),
    );
    assert!(matches!(s, RevocationStatus::Unknown { .. }), "{s:?}");
}

#[test]
fn crl_from_the_future_is_skipped() {
    let p = pki();
    let future = crl(&p.ca, &p.ca.key, t(2027), Some(t(2028)), &[]);
    let s = check_cert(
        &p.leaf.cert,
        &p.ca.cert,
        &crls(vec![future]),
        ym(2025, 3),
        t(2026),
    );
    assert!(
        matches!(
            s,
            RevocationStatus::Unknown {
                reason: RevocationError::NotYetIssued { .. },
                ..
            }
        ),
        "{s:?}"
    );
}

#[test]
fn revoked_evidence_wins_over_good_evidence() {
    let p = pki();
    let good_old = crl(&p.ca, &p.ca.key, ym(2025, 2), Some(ym(2025, 4)), &[]);
    let revoked = crl(
        &p.ca,
        &p.ca.key,
        ym(2025, 6),
        Some(ym(2025, 7)),
        &[(1000, ym(2025, 1))],
    );
    let s = check_cert(
        &p.leaf.cert,
        &p.ca.cert,
        &crls(vec![good_old, revoked]),
        ym(2025, 3),
        t(2026),
    );
    assert!(matches!(s, RevocationStatus::Revoked { .. }), "{s:?}");
}

#[test]
fn crl_after_certificate_expiry_proves_nothing() {
    let p = pki();
    let late = crl(&p.ca, &p.ca.key, t(2031), Some(t(2032)), &[]);
    let s = check_cert(
        &p.leaf.cert,
        &p.ca.cert,
        &crls(vec![late]),
        ym(2025, 3),
        t(2033),
    );
    assert!(
        matches!(
            s,
            RevocationStatus::Unknown {
                reason: RevocationError::IssuedAfterExpiry { .. },
                ..
            }
        ),
        "{s:?}"
    );
}

#[test]
fn ocsp_good_revoked_unknown_signed_by_issuer() {
    let p = pki();
    let (leaf, ca) = (&p.leaf.cert, &p.ca.cert);
    let good = ocsp(
        leaf,
        ca,
        ca,
        &p.ca.key,
        false,
        Status::Good,
        ym(2025, 6),
        Some(ym(2025, 7)),
        ym(2025, 6),
    );
    match check_cert(leaf, ca, &ocsps(vec![good]), ym(2025, 3), t(2026)) {
        RevocationStatus::Good {
            freshness,
            evidence,
            ..
        } => {
            assert_eq!(freshness, Freshness::Fresh);
            assert_eq!(evidence.kind, EvidenceKind::Ocsp);
            assert_eq!(evidence.produced_at, Some(ym(2025, 6)));
            assert_eq!(evidence.next_update, Some(ym(2025, 7)));
            assert!(evidence.issuer.contains("Test CA"), "{}", evidence.issuer);
        }
        other => panic!("expected Good, got {other:?}"),
    }

    let revoked = ocsp(
        leaf,
        ca,
        ca,
        &p.ca.key,
        false,
        Status::Revoked(ym(2025, 1)),
        ym(2025, 6),
        None,
        ym(2025, 6),
    );
    let s = check_cert(
        leaf,
        ca,
        &ocsps(vec![revoked.clone()]),
        ym(2025, 3),
        t(2026),
    );
    assert!(
        matches!(s, RevocationStatus::Revoked { revoked_at, .. } if revoked_at == ym(2025, 1)),
        "{s:?}"
    );
    // The same response, for a signature made before the revocation.
    let s = check_cert(leaf, ca, &ocsps(vec![revoked]), ym(2024, 12), t(2026));
    assert!(
        matches!(&s, RevocationStatus::Good { revoked_later: Some(l), .. } if l.revoked_at == ym(2025, 1)),
        "{s:?}"
    );

    let unknown = ocsp(
        leaf,
        ca,
        ca,
        &p.ca.key,
        false,
        Status::Unknown,
        ym(2025, 6),
        None,
        ym(2025, 6),
    );
    let s = check_cert(leaf, ca, &ocsps(vec![unknown]), ym(2025, 3), t(2026));
    assert!(
        matches!(
            s,
            RevocationStatus::Unknown {
                reason: RevocationError::OcspUnknown,
                ..
            }
        ),
        "{s:?}"
    );
}

#[test]
fn ocsp_with_a_bad_signature_is_rejected() {
    let p = pki();
    let (leaf, ca) = (&p.leaf.cert, &p.ca.cert);
    // Names the CA as responder but is signed with the root's key.
    let bad = ocsp(
        leaf,
        ca,
        ca,
        &p.root.key,
        false,
        Status::Good,
        ym(2025, 6),
        None,
        ym(2025, 6),
    );
    let s = check_cert(leaf, ca, &ocsps(vec![bad]), ym(2025, 3), t(2026));
    assert!(
        matches!(
            s,
            RevocationStatus::Unknown {
                reason: RevocationError::BadSignature { .. },
                ..
            }
        ),
        "{s:?}"
    );
}

#[test]
fn delegated_responder_needs_the_ocsp_signing_eku() {
    let p = pki();
    let (leaf, ca) = (&p.leaf.cert, &p.ca.cert);
    let responder = issue(
        &Spec {
            serial: 50,
            eku: Some(&["OCSPSigning"]),
            ocsp_nocheck: true,
            ..Spec::leaf("OCSP responder")
        },
        Some(&p.ca),
    );
    let ok = ocsp(
        leaf,
        ca,
        &responder.cert,
        &responder.key,
        true,
        Status::Good,
        ym(2025, 6),
        None,
        ym(2025, 6),
    );
    let s = check_cert(leaf, ca, &ocsps(vec![ok]), ym(2025, 3), t(2026));
    assert!(
        matches!(&s, RevocationStatus::Good { evidence, .. } if evidence.issuer.contains("OCSP responder")),
        "{s:?}"
    );

    let no_eku = issue(
        &Spec {
            serial: 51,
            eku: Some(&["emailProtection"]),
            ..Spec::leaf("Not a responder")
        },
        Some(&p.ca),
    );
    let bad = ocsp(
        leaf,
        ca,
        &no_eku.cert,
        &no_eku.key,
        true,
        Status::Good,
        ym(2025, 6),
        None,
        ym(2025, 6),
    );
    let s = check_cert(leaf, ca, &ocsps(vec![bad]), ym(2025, 3), t(2026));
    assert!(
        matches!(
            s,
            RevocationStatus::Unknown {
                reason: RevocationError::UnauthorisedResponder { .. },
                ..
            }
        ),
        "{s:?}"
    );

    // A responder with the EKU but certified by another CA is not authorised for this issuer.
    let other = pki();
    let foreign = issue(
        &Spec {
            serial: 52,
            eku: Some(&["OCSPSigning"]),
            ..Spec::leaf("Foreign responder")
        },
        Some(&other.ca),
    );
    let bad = ocsp(
        leaf,
        ca,
        &foreign.cert,
        &foreign.key,
        true,
        Status::Good,
        ym(2025, 6),
        None,
        ym(2025, 6),
    );
    let s = check_cert(leaf, ca, &ocsps(vec![bad]), ym(2025, 3), t(2026));
    assert!(
        matches!(
            s,
            RevocationStatus::Unknown {
                reason: RevocationError::UnauthorisedResponder { .. },
                ..
            }
        ),
        "{s:?}"
    );
}

#[test]
fn ocsp_about_another_certificate_is_ignored() {
    let p = pki();
    let other_leaf = issue(
        &Spec {
            serial: 4242,
            ..Spec::leaf("Someone else")
        },
        Some(&p.ca),
    );
    let resp = ocsp(
        &other_leaf.cert,
        &p.ca.cert,
        &p.ca.cert,
        &p.ca.key,
        false,
        Status::Revoked(t(2021)),
        ym(2025, 6),
        None,
        ym(2025, 6),
    );
    let s = check_cert(
        &p.leaf.cert,
        &p.ca.cert,
        &ocsps(vec![resp]),
        ym(2025, 3),
        t(2026),
    );
    assert!(
        matches!(
            s,
            RevocationStatus::Unknown {
                reason: RevocationError::NoEvidence,
                ..
            }
        ),
        "{s:?}"
    );
}

#[test]
fn garbage_evidence_is_a_clean_error() {
    let p = pki();
    let s = check_cert(
        &p.leaf.cert,
        &p.ca.cert,
        &ocsps(vec![vec![0x30, 0x03, 0x0a, 0x01]]),
        ym(2025, 3),
        t(2026),
    );
    assert!(
        matches!(
            s,
            RevocationStatus::Unknown {
                reason: RevocationError::Malformed { .. },
                ..
            }
        ),
        "{s:?}"
    );
}

#[test]
fn check_chain_covers_every_non_anchor_and_exempts_nocheck_responders() {
    let p = pki();
    let ca_crl = crl(&p.ca, &p.ca.key, ym(2025, 6), Some(ym(2025, 7)), &[]);
    let root_crl = crl(
        &p.root,
        &p.root.key,
        ym(2025, 6),
        Some(ym(2025, 7)),
        &[(2, ym(2025, 1))],
    );
    let data = crls(vec![ca_crl, root_crl]);
    let chain = vec![p.leaf.cert.clone(), p.ca.cert.clone(), p.root.cert.clone()];
    let out = check_chain(&chain, &data, ym(2025, 3), t(2026));
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].depth, 0);
    assert!(
        matches!(out[0].status, RevocationStatus::Good { .. }),
        "{:?}",
        out[0]
    );
    assert!(
        matches!(out[1].status, RevocationStatus::Revoked { .. }),
        "{:?}",
        out[1]
    );
    assert_eq!(out[1].serial, "02");

    let responder = issue(
        &Spec {
            serial: 50,
            eku: Some(&["OCSPSigning"]),
            ocsp_nocheck: true,
            ..Spec::leaf("OCSP responder")
        },
        Some(&p.ca),
    );
    let out = check_chain(
        &[
            responder.cert.clone(),
            p.ca.cert.clone(),
            p.root.cert.clone(),
        ],
        &data,
        ym(2025, 3),
        t(2026),
    );
    assert_eq!(out[0].status, RevocationStatus::Exempt);
    // A leaf that is itself the anchor has nothing to check.
    assert!(check_chain(
        std::slice::from_ref(&p.leaf.cert),
        &data,
        ym(2025, 3),
        t(2026)
    )
    .is_empty());
}

#[test]
fn url_helpers_read_aia_and_crldp() {
    let p = pki();
    let leaf = issue(
        &Spec {
            ocsp_url: Some("http://ocsp.example.vn/".into()),
            crl_url: Some("http://crl.example.vn/ca.crl".into()),
            ..Spec::leaf("With URLs")
        },
        Some(&p.ca),
    );
    assert_eq!(
        ocsp_urls(&leaf.cert),
        vec!["http://ocsp.example.vn/".to_owned()]
    );
    assert_eq!(
        crl_distribution_points(&leaf.cert),
        vec!["http://crl.example.vn/ca.crl".to_owned()]
    );
    assert!(ca_issuer_urls(&leaf.cert).is_empty());
    assert!(ocsp_urls(&p.leaf.cert).is_empty());
}

#[test]
fn crl_scope_is_respected() {
    use openssl::nid::Nid;
    let p = pki();
    // A CRL for CA certificates only does not cover an end-entity certificate.
    let ca_only = path_support::crl_with(
        &p.ca,
        &p.ca.key,
        ym(2025, 6),
        Some(ym(2025, 7)),
        &[],
        &[(Nid::ISSUING_DISTRIBUTION_POINT, "critical,onlyCA:TRUE")],
    );
    let s = check_cert(
        &p.leaf.cert,
        &p.ca.cert,
        &crls(vec![ca_only]),
        ym(2025, 3),
        t(2026),
    );
    assert!(
        matches!(
            s,
            RevocationStatus::Unknown {
                reason: RevocationError::NoEvidence,
                ..
            }
        ),
        "{s:?}"
    );

    // A user-certificates CRL does.
    let users = path_support::crl_with(
        &p.ca,
        &p.ca.key,
        ym(2025, 6),
        Some(ym(2025, 7)),
        &[],
        &[(Nid::ISSUING_DISTRIBUTION_POINT, "critical,onlyuser:TRUE")],
    );
    let s = check_cert(
        &p.leaf.cert,
        &p.ca.cert,
        &crls(vec![users]),
        ym(2025, 3),
        t(2026),
    );
    assert!(matches!(s, RevocationStatus::Good { .. }), "{s:?}");

    // Delta CRLs are not used on their own.
    let delta = path_support::crl_with(
        &p.ca,
        &p.ca.key,
        ym(2025, 6),
        Some(ym(2025, 7)),
        &[],
        &[(Nid::DELTA_CRL, "critical,5")],
    );
    let s = check_cert(
        &p.leaf.cert,
        &p.ca.cert,
        &crls(vec![delta]),
        ym(2025, 3),
        t(2026),
    );
    assert!(
        matches!(
            s,
            RevocationStatus::Unknown {
                reason: RevocationError::UnsupportedScope { .. },
                ..
            }
        ),
        "{s:?}"
    );
}

/// Mutated OCSP responses and CRLs must give a clean status, never a panic (untrusted input).
#[test]
fn mutated_evidence_never_panics() {
    let p = pki();
    let (leaf, ca) = (&p.leaf.cert, &p.ca.cert);
    let good = ocsp(
        leaf,
        ca,
        ca,
        &p.ca.key,
        false,
        Status::Good,
        ym(2025, 6),
        None,
        ym(2025, 6),
    );
    let c = crl(
        &p.ca,
        &p.ca.key,
        ym(2025, 6),
        Some(ym(2025, 7)),
        &[(1000, ym(2025, 1))],
    )
    .to_der()
    .unwrap();
    let good_status = check_cert(leaf, ca, &ocsps(vec![good.clone()]), ym(2025, 3), t(2026));
    let crl_status = check_cert(
        leaf,
        ca,
        &crls(vec![openssl::x509::X509Crl::from_der(&c).unwrap()]),
        ym(2025, 3),
        t(2026),
    );
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut accepted_tampered = 0;
    for round in 0..1500 {
        let base = if round % 2 == 0 { &good } else { &c };
        let mut m = base.clone();
        for _ in 0..1 + next() % 3 {
            let i = (next() as usize) % m.len();
            m[i] ^= 1 << (next() % 8);
        }
        if next() % 10 == 0 {
            m.truncate((next() as usize) % m.len());
        }
        let data = if round % 2 == 0 {
            ocsps(vec![m.clone()])
        } else {
            match openssl::x509::X509Crl::from_der(&m) {
                Ok(parsed) => crls(vec![parsed]),
                Err(_) => continue,
            }
        };
        let s = check_cert(leaf, ca, &data, ym(2025, 3), t(2026));
        // A changed byte must never yield a verified answer that differs from the original's.
        // (OpenSSL verifies signatures over its re-encoding of the parsed structure, so a few
        // non-DER variants of the same signed content, e.g. a BOOLEAN 0xFE read as TRUE, verify
        // and say exactly what the original said: that is malleability of the encoding, not a
        // forged answer.)
        if let RevocationStatus::Good { evidence, .. }
        | RevocationStatus::Revoked { evidence, .. } = &s
        {
            if evidence.der != *base {
                let original = if round % 2 == 0 {
                    &good_status
                } else {
                    &crl_status
                };
                if !same_answer(&s, original) {
                    accepted_tampered += 1;
                }
            }
        }
    }
    // No tampered CRL or OCSP response changed the answer.
    assert_eq!(accepted_tampered, 0);
}

/// The same revocation answer, whatever bytes carried it.
fn same_answer(a: &RevocationStatus, b: &RevocationStatus) -> bool {
    match (a, b) {
        (
            RevocationStatus::Good {
                freshness: fa,
                revoked_later: la,
                evidence: ea,
            },
            RevocationStatus::Good {
                freshness: fb,
                revoked_later: lb,
                evidence: eb,
            },
        ) => {
            fa == fb
                && la == lb
                && ea.kind == eb.kind
                && ea.this_update == eb.this_update
                && ea.next_update == eb.next_update
        }
        (
            RevocationStatus::Revoked {
                revoked_at: ta,
                reason: ra,
                ..
            },
            RevocationStatus::Revoked {
                revoked_at: tb,
                reason: rb,
                ..
            },
        ) => ta == tb && ra == rb,
        _ => false,
    }
}
