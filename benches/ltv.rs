//! Long-term validation data: the dev OCSP responder answering one request, gathering the default
//! profile's B-LT data, and `sign --extend` of a B-T 100 KB PDF to B-LTA (in-process TSA and OCSP).
//! `cargo bench --bench ltv`

use std::path::PathBuf;

use antin::sign::extend::{extend, ExtendOptions};
use antin::sign::service::{self, Level, SignOptions, Signer};
use criterion::{criterion_group, criterion_main, Criterion};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    std::env::set_current_dir(root()).expect("cwd");
    let config = antin::config::Config::load_from(None, Vec::new()).expect("config");
    let signer = Signer::from_config(&config.sign, &config.server.public_url).expect("signer");
    let ocsp = signer.dev_ocsp().expect("dev OCSP responder");
    let now = time::OffsetDateTime::now_utc();
    let pem = |n: &str| {
        openssl::x509::X509::from_pem(
            &std::fs::read(root().join("certs/test-pki").join(n)).expect("pem"),
        )
        .expect("certificate")
    };
    let req = antin::sign::ocsp::request_der(
        &pem("citizen-an.pem"),
        &pem("licensed-ca.pem"),
        Some(b"0123456789abcdef"),
    )
    .expect("request");

    let mut group = c.benchmark_group("ltv");
    group.bench_function("dev_ocsp_respond", |b| {
        b.iter(|| ocsp.respond(std::hint::black_box(&req), now))
    });

    let profile = signer.profile(None).expect("default profile");
    let pdf100k = std::fs::read(root().join("fixtures/pdf/bench-100k.pdf")).expect("pdf");
    let bt = rt
        .block_on(service::sign(
            profile,
            &pdf100k,
            &SignOptions {
                level: Some(Level::BT),
                ..SignOptions::default()
            },
            now,
        ))
        .expect("B-T")
        .bytes;
    let context = antin::verify::engine::Context::from_config(&config, &[]).expect("context");
    let opts = ExtendOptions {
        level: Level::BLTA,
        if_expiring_within: None,
    };
    group.sample_size(20);
    group.bench_function("extend_bt_100k_to_blta", |b| {
        b.iter(|| {
            rt.block_on(extend(&context, profile, &bt, &opts, now))
                .expect("extend")
        })
    });
    group.finish();
}

criterion_group!(ltv_benches, bench);
criterion_main!(ltv_benches);
