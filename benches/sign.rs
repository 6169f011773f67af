//! Signing speed (docs/benchmarks.md): PAdES B-B signatures per second on one core with an
//! RSA-2048 file key, a 100 KB PDF and a 10 MB one (against hashing it), and B-LTA with the
//! built-in test TSA; the same B-B signatures with the key on a SoftHSM2 token (PKCS#11), skipped
//! with a note when SoftHSM2 is not installed.
//!
//!   cargo bench --bench sign
//!   taskset -c 1 cargo bench --bench sign -- pkcs11                # the SoftHSM2 cases only
//!   ANTIN_BENCH_DIR=/tmp/antin-bench cargo bench --bench sign   # with the 10 MB file

use std::path::PathBuf;

use antin::config::SigningProfileConfig;
use antin::sign::service::{self, Level, Profile, SignOptions, Signer};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn profile(scheme: &str) -> Profile {
    profile_with(scheme, None)
}

/// The Decree 30 appearance of the default configuration: seal, signature image, text, QR code.
fn visible_profile() -> Profile {
    let config = antin::config::Config::load_from(None, Vec::new()).expect("config");
    let app = config.sign.profiles["default"].appearance.clone();
    profile_with("rsa-pkcs1-sha256", app)
}

fn profile_with(scheme: &str, appearance: Option<antin::config::AppearanceConfig>) -> Profile {
    let pki = root().join("certs/test-pki");
    let cfg = SigningProfileConfig {
        agency: "bench".into(),
        key: Some(pki.join("citizen-an.key")),
        cert: Some(pki.join("citizen-an.pem")),
        chain: vec![pki.join("licensed-ca.pem"), pki.join("root-ca.pem")],
        scheme: Some(scheme.into()),
        level: "B-B".into(),
        tsa: None,
        crls: vec![pki.join("licensed-ca.crl"), pki.join("root-ca.crl")],
        appearance,
        ocsp: None,
        ..SigningProfileConfig::default()
    };
    Profile::load(scheme, &cfg, None, "https://127.0.0.1:8443").expect("profile")
}

const SOFTHSM2: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A SoftHSM2 token in a temporary folder holding citizen-an's key (the file-key cases' key), or
/// None when SoftHSM2 is not installed. Must run before anything loads the module: SoftHSM2 reads
/// SOFTHSM2_CONF at C_Initialize.
fn softhsm_token() -> Option<tempfile::TempDir> {
    let have_util = std::process::Command::new("softhsm2-util")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_util || !std::path::Path::new(SOFTHSM2).is_file() {
        eprintln!(
            "note: SoftHSM2 is not installed (apt-get install softhsm2): PKCS#11 cases skipped"
        );
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("softhsm2.conf");
    std::fs::create_dir_all(dir.path().join("tokens")).expect("tokendir");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.path().join("tokens").display()
        ),
    )
    .expect("conf");
    let key = root().join("certs/test-pki/citizen-an.key");
    for args in [
        vec![
            "--init-token",
            "--free",
            "--label",
            "antin-bench",
            "--so-pin",
            "bench-so",
            "--pin",
            "bench-pin",
        ],
        vec![
            "--import",
            key.to_str().expect("path"),
            "--token",
            "antin-bench",
            "--label",
            "an",
            "--id",
            "01",
            "--pin",
            "bench-pin",
        ],
    ] {
        let ok = std::process::Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args(&args)
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "softhsm2-util {args:?} failed");
    }
    std::env::set_var("SOFTHSM2_CONF", &conf);
    std::env::set_var("ANTIN_BENCH_HSM_PIN", "bench-pin");
    Some(dir)
}

fn pkcs11_profile(scheme: &str) -> Profile {
    let pki = root().join("certs/test-pki");
    let cfg = SigningProfileConfig {
        agency: "bench".into(),
        pkcs11_module: Some(SOFTHSM2.into()),
        pkcs11_token_label: Some("antin-bench".into()),
        pkcs11_key_label: Some("an".into()),
        pkcs11_pin_env: Some("ANTIN_BENCH_HSM_PIN".into()),
        cert: Some(pki.join("citizen-an.pem")),
        chain: vec![pki.join("licensed-ca.pem"), pki.join("root-ca.pem")],
        scheme: Some(scheme.into()),
        level: "B-B".into(),
        ..SigningProfileConfig::default()
    };
    Profile::load(scheme, &cfg, None, "https://127.0.0.1:8443").expect("PKCS#11 profile")
}

fn bench(c: &mut Criterion) {
    let token = softhsm_token();
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
    // The same with the visible Decree 30 stamp (seal, signature image, subset font, QR code).
    std::env::set_current_dir(root()).expect("cwd");
    let vis = visible_profile();
    let vis_opts = SignOptions {
        document_id: Some("00000000-0000-4000-8000-000000000000".into()),
        ..SignOptions::default()
    };
    group.bench_function("100k_bb_visible_rsa-pkcs1-sha256", |b| {
        b.iter(|| {
            rt.block_on(service::sign(&vis, &pdf100k, &vis_opts, now))
                .expect("sign")
        })
    });
    // B-LTA with the default configuration's profile and the in-process test TSA.
    let config = antin::config::Config::load_from(None, Vec::new()).expect("config");
    std::env::set_current_dir(root()).expect("cwd");
    let signer = Signer::from_config(&config.sign, &config.server.public_url).expect("signer");
    let lta = signer.profile(None).expect("default profile");
    let opts = SignOptions {
        level: Some(Level::BLTA),
        document_id: Some("00000000-0000-4000-8000-000000000000".into()),
        ..SignOptions::default()
    };
    group.bench_function("100k_blta_dev_tsa", |b| {
        b.iter(|| {
            rt.block_on(service::sign(lta, &pdf100k, &opts, now))
                .expect("sign")
        })
    });
    // The same key on a SoftHSM2 token: every signature is a C_Sign through a pooled session.
    if token.is_some() {
        for scheme in ["rsa-pkcs1-sha256", "rsa-pss-sha256"] {
            let p = pkcs11_profile(scheme);
            group.bench_function(format!("100k_bb_pkcs11_softhsm2_{scheme}"), |b| {
                b.iter(|| {
                    rt.block_on(service::sign(&p, &pdf100k, &SignOptions::default(), now))
                        .expect("sign")
                })
            });
        }
    }
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
    // The token's own rate for the same operation (one C_Sign, CKM_RSA_PKCS over a DigestInfo).
    if token.is_some() {
        use antin::sign::keys::SigningKey;
        use antin::sign::pkcs11::{Pkcs11Key, Pkcs11Params};
        let hsm_key = Pkcs11Key::open(
            Pkcs11Params {
                module: SOFTHSM2.into(),
                token_label: Some("antin-bench".into()),
                token_serial: None,
                key_label: Some("an".into()),
                key_id: None,
                pin: Some("bench-pin".to_owned().into()),
                method: None,
            },
            Some(antin::sign::keys::SignatureScheme::RsaPkcs1Sha256),
            None,
        )
        .expect("PKCS#11 key");
        openssl_group.bench_function("pkcs11_softhsm2_rsa2048_sign", |b| {
            b.iter(|| hsm_key.sign(std::hint::black_box(b"antin")).expect("sign"))
        });
    }
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
