//! Verification speed (docs/benchmarks.md): one core, offline, revocation data embedded.
//!
//!   cargo bench --bench verify
//!   ANTIN_BENCH_DIR=/tmp/antin-bench cargo bench --bench verify   # with the 10 MB / 100 MB files
//!
//! The large files are made by `python3 scripts/make-bench-pdfs.py /tmp/antin-bench` (not committed).

use std::path::{Path, PathBuf};

use antin::config::{AlgorithmPolicyName, RevocationMode};
use antin::pki::trust::TrustStore;
use antin::verify::engine::Context;
use antin::verify::{Input, VerifyOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const AT: time::OffsetDateTime = time::macros::datetime!(2026-11-22 12:00:00 UTC);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn context() -> Context {
    let mut store = TrustStore::new();
    store
        .load_anchors(&root().join("certs/test-pki/root-ca.pem"))
        .expect("anchor");
    Context::new(store).expect("context")
}

fn options(crls: bool) -> VerifyOptions {
    let pki = root().join("certs/test-pki");
    VerifyOptions {
        revocation: RevocationMode::Require,
        offline: true,
        at: Some(AT),
        expected_signer_id: None,
        algorithm_policy: AlgorithmPolicyName::Default,
        extra_crls: if crls {
            vec![
                std::fs::read(pki.join("root-ca.crl")).expect("crl"),
                std::fs::read(pki.join("licensed-ca.crl")).expect("crl"),
            ]
        } else {
            Vec::new()
        },
    }
}

fn verify_once(ctx: &Context, input: &Input, opts: &VerifyOptions) {
    let r = ctx
        .run(input, opts, AT, &Default::default())
        .expect("readable");
    assert_eq!(r.outcome.report.verdict.as_str(), "TOTAL_PASSED");
}

fn bench_file(c: &mut Criterion, name: &str, path: &Path, crls: bool) {
    let bytes = std::fs::read(path).expect("bench file");
    let ctx = context();
    let opts = options(crls);
    let input = Input::Pdf(bytes.clone());
    verify_once(&ctx, &input, &opts);
    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    if bytes.len() > 5_000_000 {
        group.sample_size(10);
    }
    group.bench_function(name, |b| b.iter(|| verify_once(&ctx, &input, &opts)));
    group.finish();
}

/// The same document, but as if its signer had never been seen: what is kept about the signer's
/// certificate (its validated path, what its OCSP response says), which a new citizen's
/// certificate would not find, is forgotten before every verification. What every document
/// shares (the CA's and the time-stamping unit's certificates, paths, CRLs) stays known.
fn bench_new_signer(c: &mut Criterion, name: &str, path: &Path) {
    let bytes = std::fs::read(path).expect("bench file");
    let ctx = context();
    let opts = options(false);
    let input = Input::Pdf(bytes.clone());
    let report = ctx
        .run(&input, &opts, AT, &Default::default())
        .expect("readable")
        .outcome
        .report;
    let signer_hex = &report.signatures[0]
        .signer
        .as_ref()
        .expect("signer")
        .certificate_sha256;
    let mut signer = [0u8; 32];
    hex::decode_to_slice(signer_hex, &mut signer).expect("sha256 hex");
    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            antin::pki::path::forget_kept_paths_of(&signer);
            antin::pki::revocation::forget_ocsp_facts_about(&signer);
            verify_once(&ctx, &input, &opts)
        })
    });
    group.finish();
}

fn sha256_baseline(c: &mut Criterion, name: &str, path: &Path) {
    let bytes = std::fs::read(path).expect("bench file");
    let mut group = c.benchmark_group("sha256");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    if bytes.len() > 5_000_000 {
        group.sample_size(10);
    }
    group.bench_function(name, |b| {
        b.iter(|| openssl::sha::sha256(std::hint::black_box(&bytes)))
    });
    group.finish();
}

/// Baselines for the per-verification fixed cost: parsing one certificate (OpenSSL 3 decodes the
/// public key through its provider decoders) and one RSA-2048 PKCS#1 v1.5 verification.
fn crypto_baselines(c: &mut Criterion) {
    let pem = std::fs::read(root().join("certs/test-pki/citizen-an.pem")).expect("cert");
    let cert = openssl::x509::X509::from_pem(&pem).expect("pem");
    let der = cert.to_der().expect("der");
    let key = openssl::pkey::PKey::private_key_from_pem(
        &std::fs::read(root().join("certs/test-pki/citizen-an.key")).expect("key"),
    )
    .expect("key");
    let public = cert.public_key().expect("public key");
    let msg = b"antin bench";
    let mut signer =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).expect("signer");
    let sig = signer.sign_oneshot_to_vec(msg).expect("sign");
    let mut group = c.benchmark_group("baseline");
    group.bench_function("x509_from_der", |b| {
        b.iter(|| openssl::x509::X509::from_der(std::hint::black_box(&der)).expect("der"))
    });
    group.bench_function("rsa2048_verify", |b| {
        b.iter(|| {
            let mut v =
                openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &public)
                    .expect("verifier");
            assert!(v
                .verify_oneshot(&sig, std::hint::black_box(msg))
                .expect("verify"));
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    crypto_baselines(c);
    let fixtures = root().join("fixtures/pdf");
    bench_file(
        c,
        "100k_1sig_rsa2048_lt",
        &fixtures.join("bench-100k.pdf"),
        false,
    );
    bench_new_signer(
        c,
        "100k_1sig_rsa2048_lt_new_signer",
        &fixtures.join("bench-100k.pdf"),
    );
    bench_file(c, "5sig", &fixtures.join("bench-5sig.pdf"), true);
    sha256_baseline(c, "100k", &fixtures.join("bench-100k.pdf"));
    if let Ok(dir) = std::env::var("ANTIN_BENCH_DIR") {
        let dir = PathBuf::from(dir);
        let p = dir.join("bench-100p-5sig.pdf");
        if p.exists() {
            // Issue "cannot be fooled": 100 pages, 5 signatures, 6 revisions, change analysis.
            bench_file(c, "100p_5sig", &p, true);
        }
        for (name, file) in [("10mb", "bench-10mb.pdf"), ("100mb", "bench-100mb.pdf")] {
            let p = dir.join(file);
            if p.exists() {
                bench_file(c, name, &p, true);
                sha256_baseline(c, name, &p);
            } else {
                eprintln!(
                    "{} missing: run scripts/make-bench-pdfs.py {}",
                    p.display(),
                    dir.display()
                );
            }
        }
    }
}

criterion_group!(verify, benches);
criterion_main!(verify);
