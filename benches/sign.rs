//! Signing speed (docs/benchmarks.md): PAdES B-B signatures per second on one core with an
//! RSA-2048 file key, a 100 KB PDF and a 10 MB one (against hashing it), and B-LTA with the
//! built-in test TSA.
//!
//!   cargo bench --bench sign
//!   ANTIN_BENCH_DIR=/tmp/antin-bench cargo bench --bench sign   # with the 10 MB file

use std::path::PathBuf;

use antin::config::SigningProfileConfig;
use antin::sign::service::{self, Level, Profile, SignOptions, Signer};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn profile(scheme: &str) -> Profile {
    let pki = root().join("certs/test-pki");
    let cfg = SigningProfileConfig {
        agency: "bench".into(),
        key: Some(pki.join("citizen-an.key")),
        key_passphrase_env: None,
        pkcs12: None,
        pkcs12_password_env: None,
        cert: Some(pki.join("citizen-an.pem")),
        chain: vec![pki.join("licensed-ca.pem"), pki.join("root-ca.pem")],
        scheme: Some(scheme.into()),
        level: "B-B".into(),
        tsa: None,
        crls: vec![pki.join("licensed-ca.crl"), pki.join("root-ca.crl")],
        ocsp: None,
    };
    Profile::load(scheme, &cfg, None).expect("profile")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let now = time::OffsetDateTime::now_utc();
    let pdf100k = std::fs::read(root().join("fixtures/pdf/bench-100k.pdf")).expect("pdf");
    let mut group = c.benchmark_group("sign");
    for scheme in ["rsa-pkcs1-sha256", "rsa-pss-sha256"] {
        let p = profile(scheme);
        group.bench_function(format!("100k_bb_{scheme}"), |b| {
            b.iter(|| {
                rt.block_on(service::sign(&p, &pdf100k, &SignOptions::default(), now))
                    .expect("sign")
            })
        });
    }
    // B-LTA with the default configuration's profile and the in-process test TSA.
    let config = antin::config::Config::load_from(None, Vec::new()).expect("config");
    std::env::set_current_dir(root()).expect("cwd");
    let signer = Signer::from_config(&config.sign).expect("signer");
    let lta = signer.profile(None).expect("default profile");
    let opts = SignOptions {
        level: Some(Level::BLTA),
        ..SignOptions::default()
    };
    group.bench_function("100k_blta_dev_tsa", |b| {
        b.iter(|| {
            rt.block_on(service::sign(lta, &pdf100k, &opts, now))
                .expect("sign")
        })
    });
    group.finish();

    let mut openssl_group = c.benchmark_group("baseline");
    let key = openssl::pkey::PKey::private_key_from_pem(
        &std::fs::read(root().join("certs/test-pki/citizen-an.key")).expect("key"),
    )
    .expect("key");
    openssl_group.bench_function("rsa2048_sign", |b| {
        b.iter(|| {
            let mut s = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key)
                .expect("signer");
            s.sign_oneshot_to_vec(std::hint::black_box(b"antin"))
                .expect("sign")
        })
    });
    openssl_group.finish();

    if let Ok(dir) = std::env::var("ANTIN_BENCH_DIR") {
        let big = PathBuf::from(dir).join("bench-10mb.pdf");
        if let Ok(bytes) = std::fs::read(&big) {
            let p = profile("rsa-pss-sha256");
            let mut g = c.benchmark_group("sign_10mb");
            g.sample_size(10);
            g.throughput(Throughput::Bytes(bytes.len() as u64));
            g.bench_function("bb_rsa_pss", |b| {
                b.iter(|| {
                    rt.block_on(service::sign(&p, &bytes, &SignOptions::default(), now))
                        .expect("sign")
                })
            });
            g.bench_function("sha256_only", |b| {
                b.iter(|| openssl::sha::sha256(std::hint::black_box(&bytes)))
            });
            g.finish();
        }
    }
}

criterion_group!(sign_benches, bench);
criterion_main!(sign_benches);
