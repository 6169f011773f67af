//! Bad input through the whole engine: truncated, garbage and hostile PDFs and CMS give a clear
//! error or a failing report, in bounded time, and never panic.

mod common;

use std::time::{Duration, Instant};

use antin::config::{AlgorithmPolicyName, RevocationMode};
use antin::pki::trust::TrustStore;
use antin::verify::engine::Context;
use antin::verify::report::Verdict;
use antin::verify::{Input, VerifyOptions};
use common::{fixture, test_pki};

fn context() -> Context {
    let mut store = TrustStore::new();
    store.load_anchors(&test_pki("root-ca.pem")).unwrap();
    Context::new(store).unwrap()
}

fn options() -> VerifyOptions {
    VerifyOptions {
        revocation: RevocationMode::Require,
        offline: true,
        at: Some(time::macros::datetime!(2026-11-22 12:00 UTC)),
        expected_signer_id: None,
        algorithm_policy: AlgorithmPolicyName::Default,
        extra_crls: Vec::new(),
    }
}

/// Runs the engine; a panic fails the test. `limit` is a hang guard far above any real cost
/// (speed is measured by the benchmarks, not here).
fn never_passes(ctx: &Context, input: Input, what: &str, limit: Duration) {
    let start = Instant::now();
    let result = ctx.run(
        &input,
        &options(),
        time::OffsetDateTime::now_utc(),
        &Default::default(),
    );
    let elapsed = start.elapsed();
    assert!(elapsed < limit, "{what}: took {elapsed:?}");
    if let Ok(r) = result {
        assert_ne!(
            r.outcome.report.verdict,
            Verdict::TotalPassed,
            "{what} passed"
        );
    }
}

#[test]
fn truncations_of_a_signed_pdf() {
    let ctx = context();
    let pdf = std::fs::read(fixture("pdf/signed-approval.pdf")).unwrap();
    // Every prefix length on a coarse grid plus the last 64 bytes one by one.
    let mut cuts: Vec<usize> = (0..pdf.len()).step_by(97).collect();
    cuts.extend(pdf.len().saturating_sub(64)..pdf.len());
    for cut in cuts {
        never_passes(
            &ctx,
            Input::Pdf(pdf[..cut].to_vec()),
            &format!("cut at {cut}"),
            Duration::from_secs(30),
        );
    }
}

#[test]
fn byte_flips_never_pass() {
    let ctx = context();
    let pdf = std::fs::read(fixture("pdf/signed-approval.pdf")).unwrap();
    let doc = antin::pdf::parse(&pdf, &Default::default()).unwrap();
    let sig = doc.signatures().unwrap().remove(0);
    let br = sig.byte_range.clone().unwrap();
    // Flip bytes inside the signed ranges (not the /Contents hex, whose zero padding is unsigned).
    let signed: Vec<usize> = (0..br[1] as usize)
        .chain(br[2] as usize..(br[2] + br[3]) as usize)
        .collect();
    for i in signed.into_iter().step_by(53) {
        let mut m = pdf.clone();
        m[i] ^= 0x20;
        never_passes(
            &ctx,
            Input::Pdf(m),
            &format!("flip at {i}"),
            Duration::from_secs(30),
        );
    }
}

#[test]
fn garbage_and_hostile_pdfs() {
    let ctx = context();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("not a pdf", b"hello world".to_vec()),
        ("header only", b"%PDF-1.7\n".to_vec()),
        ("random", (0..100_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect()),
        ("deep nesting", [b"%PDF-1.7\n1 0 obj\n".as_slice(), &vec![b'['; 200_000], b"\nendobj\nstartxref\n9\n%%EOF\n"].concat()),
        (
            "xref loop",
            b"%PDF-1.7\nxref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 1 /Prev 9 >>\nstartxref\n9\n%%EOF\n".to_vec(),
        ),
        (
            "huge contents",
            [
                b"%PDF-1.7\n1 0 obj\n<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /ByteRange [0 10 20 30] /Contents <".as_slice(),
                &vec![b'A'; 5_000_000],
                b"> >>\nendobj\n",
            ]
            .concat(),
        ),
        (
            "deflate bomb",
            {
                use std::io::Write as _;
                let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(&vec![0u8; 80 << 20]).unwrap();
                let z = e.finish().unwrap();
                let mut doc = format!("%PDF-1.7\n1 0 obj\n<< /Type /XRef /Size 2 /W [1 4 2] /Filter /FlateDecode /Length {} >>\nstream\n", z.len()).into_bytes();
                doc.extend_from_slice(&z);
                doc.extend_from_slice(b"\nendstream\nendobj\nstartxref\n9\n%%EOF\n");
                doc
            },
        ),
    ];
    for (what, bytes) in cases {
        never_passes(&ctx, Input::Pdf(bytes), what, Duration::from_secs(60));
    }
}

#[test]
fn garbage_detached_signatures() {
    let ctx = context();
    let data = std::fs::read(fixture("cms/data.txt")).unwrap();
    let good = std::fs::read(fixture("cms/data.txt.p7s")).unwrap();
    let mut cases: Vec<Vec<u8>> = vec![
        vec![],
        b"-----BEGIN PKCS7-----\n!!!\n-----END PKCS7-----\n".to_vec(),
        vec![0x30, 0x80, 0, 0],
    ];
    for cut in (0..good.len()).step_by(41) {
        cases.push(good[..cut].to_vec());
    }
    for i in (0..good.len()).step_by(29) {
        let mut m = good.clone();
        m[i] ^= 0xFF;
        cases.push(m);
    }
    for (n, sig) in cases.into_iter().enumerate() {
        never_passes(
            &ctx,
            Input::Detached {
                data: data.clone(),
                signature: sig,
            },
            &format!("cms case {n}"),
            Duration::from_secs(30),
        );
    }
}
