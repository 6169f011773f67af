//! Conformance: every fixture's expected verdict (fixtures/expected.tsv, cross-checked with pyHanko
//! when the fixtures were made), the PDF coverage anomalies corpus, and pyHanko interoperability.

mod common;

use std::path::Path;

use antin::config::{AlgorithmPolicyName, RevocationMode};
use antin::pki::trust::TrustStore;
use antin::verify::engine::Context;
use antin::verify::{Input, VerifyOptions};
use common::{fixture, manifest_dir, test_pki};

/// The time fixtures/expected.tsv is written for.
const AT: time::OffsetDateTime = time::macros::datetime!(2026-11-22 12:00:00 UTC);

fn options(crls: &[&str]) -> VerifyOptions {
    VerifyOptions {
        revocation: RevocationMode::Require,
        offline: true,
        at: Some(AT),
        expected_signer_id: None,
        algorithm_policy: AlgorithmPolicyName::Default,
        extra_crls: crls
            .iter()
            .map(|c| std::fs::read(test_pki(c)).unwrap())
            .collect(),
    }
}

fn context(anchor: &str, intermediates: &[&str]) -> Context {
    let mut store = TrustStore::new();
    store.load_anchors(&test_pki(anchor)).unwrap();
    for i in intermediates {
        store.load_intermediates(&test_pki(i)).unwrap();
    }
    Context::new(store).unwrap()
}

fn run(ctx: &Context, input: &Input, opts: &VerifyOptions) -> antin::verify::Report {
    ctx.run(input, opts, AT, &Default::default())
        .unwrap_or_else(|e| panic!("unreadable: {e}"))
        .outcome
        .report
}

#[test]
fn every_fixture_gives_its_expected_verdict() {
    let table = std::fs::read_to_string(manifest_dir().join("fixtures/expected.tsv")).unwrap();
    let mut failures = Vec::new();
    let mut rows = 0;
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let [file, which, anchor, extra, indication, sub] = cols[..] else {
            panic!("bad row {line:?}");
        };
        rows += 1;
        let intermediates: Vec<&str> = if extra == "-" {
            vec![]
        } else {
            extra.split(',').collect()
        };
        let ctx = context(anchor, &intermediates);
        let crls: &[&str] = if anchor == "gov-root.pem" {
            &["gov-root.crl", "gov-ca.crl"]
        } else {
            &["root-ca.crl", "licensed-ca.crl"]
        };
        let input = match file.split_once(':') {
            Some((sig, data)) => Input::Detached {
                data: std::fs::read(fixture(data)).unwrap(),
                signature: std::fs::read(fixture(sig)).unwrap(),
            },
            None => Input::Pdf(std::fs::read(fixture(file)).unwrap()),
        };
        let report = run(&ctx, &input, &options(crls));
        let sigs: Vec<_> = report
            .signatures
            .iter()
            .filter(|s| s.kind == antin::verify::report::SignatureKind::Signature)
            .collect();
        let chosen: Vec<_> = match which {
            "*" => sigs.clone(),
            n => vec![sigs[n.parse::<usize>().unwrap() - 1]],
        };
        if chosen.is_empty() {
            failures.push(format!("{file}: no signature found"));
        }
        for s in chosen {
            let got_sub = s.sub_indication.map(|x| x.as_str()).unwrap_or("-");
            if s.indication.as_str() != indication || got_sub != sub {
                failures.push(format!(
                    "{file} [{anchor}+{extra}] signature {}: expected {indication}/{sub}, got {}/{got_sub}: {:?}",
                    s.index + 1,
                    s.indication.as_str(),
                    s.errors
                ));
            }
        }
    }
    assert!(rows >= 30, "expected.tsv has only {rows} rows");
    assert!(
        failures.is_empty(),
        "{} of {rows} rows differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn unsigned_pdf_has_no_signature() {
    let ctx = context("root-ca.pem", &[]);
    let r = run(
        &ctx,
        &Input::Pdf(std::fs::read(fixture("pdf/unsigned.pdf")).unwrap()),
        &options(&[]),
    );
    assert_eq!(r.verdict, antin::verify::report::Verdict::NoSignature);
}

fn corpus(name: &str) -> Option<std::path::PathBuf> {
    let p = manifest_dir().join("../shared/corpora").join(name);
    if p.exists() {
        return Some(p);
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "corpus {} missing under CI=true",
        p.display()
    );
    eprintln!("skipping: {} is missing", p.display());
    None
}

/// The anomalies' signer is a test CA nobody trusts: trust it directly (an end-entity anchor), so
/// that only the coverage can make these fail.
fn signer_as_anchor(pdf: &[u8]) -> Context {
    let doc = antin::pdf::parse(pdf, &Default::default()).unwrap();
    let sig = doc.signatures().unwrap().into_iter().next().unwrap();
    let cms = antin::pki::cms::parse_signed_data(&sig.contents).unwrap();
    let v = antin::pki::cms::verify_signer(
        &cms,
        antin::pki::cms::SignedContent::Encapsulated,
        &Default::default(),
    );
    let signer = v
        .signer_cert
        .or_else(|| cms.certificates.first().cloned())
        .unwrap();
    let mut store = TrustStore::new();
    store.add_anchor(signer, None).unwrap();
    Context::new(store).unwrap()
}

#[test]
#[ignore = "needs ../shared/corpora/pdf-coverage-anomalies (full suite)"]
fn coverage_anomalies_never_pass() {
    let Some(dir) = corpus("pdf-coverage-anomalies") else {
        return;
    };
    let mut opts = options(&[]);
    opts.revocation = RevocationMode::Skip;
    // base.pdf holds an empty signature placeholder (/Contents all zeros): never a pass.
    let ctx = signer_as_anchor(&std::fs::read(dir.join("one-byterange.pdf")).unwrap());
    let r = run(
        &ctx,
        &Input::Pdf(std::fs::read(dir.join("base.pdf")).unwrap()),
        &opts,
    );
    assert_eq!(r.verdict.as_str(), "TOTAL_FAILED", "base.pdf: {r:#?}");
    assert_eq!(
        r.signatures[0].sub_indication.map(|x| x.as_str()),
        Some("FORMAT_FAILURE")
    );
    for name in [
        "one-byterange.pdf",
        "weird-byterange.pdf",
        "signature-gap-too-big.pdf",
        "tail-uncovered.pdf",
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let r = run(&ctx, &Input::Pdf(bytes), &opts);
        assert_ne!(r.verdict.as_str(), "TOTAL_PASSED", "{name} passed");
        let s = &r.signatures[0];
        assert_ne!(
            s.sub_indication.map(|x| x.as_str()),
            Some("HASH_FAILURE"),
            "{name}: must fail on coverage, not the hash"
        );
        assert_eq!(
            s.checks.coverage,
            antin::verify::report::Check::Failed,
            "{name}: {s:#?}"
        );
        assert_eq!(
            s.sub_indication.map(|x| x.as_str()),
            Some("FORMAT_FAILURE"),
            "{name}: {s:#?}"
        );
    }
}

fn python_with_pyhanko() -> Option<&'static str> {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import pyhanko"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        return Some("python3");
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "pyHanko missing under CI=true"
    );
    eprintln!("skipping: pyHanko is not installed (pip install -r scripts/requirements.txt)");
    None
}

fn pyhanko_sign(python: &str, out: &Path, extra: &[&str]) {
    let script = manifest_dir().join("scripts/pyhanko-sign.py");
    let status = std::process::Command::new(python)
        .arg(&script)
        .arg(fixture("pdf/unsigned.pdf"))
        .arg(out)
        .arg("--key")
        .arg(test_pki("citizen-an.key"))
        .arg("--cert")
        .arg(test_pki("citizen-an.pem"))
        .arg("--chain")
        .arg(test_pki("chain-licensed.pem"))
        .args(extra)
        .status()
        .unwrap();
    assert!(status.success(), "pyhanko-sign.py failed");
}

#[test]
#[ignore = "needs pyHanko from PyPI (full suite)"]
fn pyhanko_signed_pdfs_pass_and_one_flipped_byte_fails() {
    let Some(python) = python_with_pyhanko() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ctx = context("root-ca.pem", &[]);
    // Signed now by pyHanko: validate now (the CRL is current until 2036).
    let now = time::OffsetDateTime::now_utc();
    for (name, extra) in [
        ("plain.pdf", vec![]),
        ("ts.pdf", vec!["--timestamp"]),
        ("pss.pdf", vec!["--pss"]),
    ] {
        let out = dir.path().join(name);
        pyhanko_sign(python, &out, &extra);
        let bytes = std::fs::read(&out).unwrap();
        let mut opts = options(&["root-ca.crl", "licensed-ca.crl"]);
        opts.at = None;
        let r = ctx
            .run(&Input::Pdf(bytes.clone()), &opts, now, &Default::default())
            .unwrap()
            .outcome
            .report;
        assert_eq!(r.verdict.as_str(), "TOTAL_PASSED", "{name}: {r:#?}");
        // Flip one byte inside the first signed range (the page content, after the header).
        let doc = antin::pdf::parse(&bytes, &Default::default()).unwrap();
        let sig = doc.signatures().unwrap().remove(0);
        let first_range_end = sig.byte_range.as_ref().unwrap()[1] as usize;
        let mut tampered = bytes.clone();
        let at = first_range_end / 2;
        tampered[at] ^= 0x01;
        let r = ctx.run(&Input::Pdf(tampered), &opts, now, &Default::default());
        match r {
            Ok(res) => {
                let s = &res.outcome.report.signatures;
                assert_eq!(
                    res.outcome.report.verdict.as_str(),
                    "TOTAL_FAILED",
                    "{name} tampered at {at}"
                );
                assert_eq!(
                    s[0].sub_indication.map(|x| x.as_str()),
                    Some("HASH_FAILURE"),
                    "{name}: {s:#?}"
                );
            }
            Err(e) => {
                panic!("{name}: the tampered copy became unreadable ({e}); pick another byte")
            }
        }
    }
}
