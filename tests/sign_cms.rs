//! The signing engine's CMS, keys and TSA client against antin's own verifier (through the built
//! binary) and OpenSSL's `cms -verify`: every scheme the test PKI's keys support, B-T with the
//! built-in test TSA served over HTTP, TSAs that misbehave, PKCS#12 (default and legacy).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use antin::sign::cms::{
    add_unsigned_timestamp, build_signed_data, estimate_size, signature_value, CmsBuildError,
    CmsRequest, DigestAlg,
};
use antin::sign::keys::{FileKey, KeyError, SignatureScheme, SigningKey};
use antin::sign::tsa::{self, DevTsa, TsaClient, TsaError};
use der::{Decode, Encode};
use openssl::x509::X509;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn pki(name: &str) -> PathBuf {
    root().join("certs/test-pki").join(name)
}

fn data_path() -> PathBuf {
    root().join("fixtures/cms/data.txt")
}

fn data() -> Vec<u8> {
    std::fs::read(data_path()).unwrap()
}

fn cert(name: &str) -> X509 {
    X509::from_pem(&std::fs::read(pki(&format!("{name}.pem"))).unwrap()).unwrap()
}

fn key(name: &str, scheme: Option<SignatureScheme>) -> FileKey {
    FileKey::from_pem(
        &std::fs::read(pki(&format!("{name}.key"))).unwrap(),
        None,
        scheme,
    )
    .unwrap()
}

fn chain() -> Vec<X509> {
    vec![cert("licensed-ca"), cert("root-ca")]
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `antin verify DATA --signature SIG --offline` against the test root and CRLs, as JSON.
fn antin_verify(sig: &Path) -> (i32, serde_json::Value) {
    let anchors = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_antin"))
        .args([
            "verify",
            p(&data_path()),
            "--signature",
            p(sig),
            "--offline",
            "--trust",
            p(&pki("root-ca.pem")),
            "--crl",
            p(&pki("root-ca.crl")),
            "--crl",
            p(&pki("licensed-ca.crl")),
            "--format",
            "json",
        ])
        .current_dir(root())
        .env("ANTIN_TRUST__ANCHOR_DIR", anchors.path())
        .env("ANTIN_TRUST__INTERMEDIATE_DIR", anchors.path())
        .env_remove("ANTIN_LANG")
        .env_remove("ANTIN_CONFIG")
        .output()
        .expect("run antin");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

/// `openssl cms -verify` over data.txt with root-ca and licensed-ca as the CA file.
fn openssl_verify(dir: &Path, sig: &Path) -> Result<(), String> {
    let ca = dir.join("ca.pem");
    let mut bundle = std::fs::read(pki("root-ca.pem")).unwrap();
    bundle.extend(std::fs::read(pki("licensed-ca.pem")).unwrap());
    std::fs::write(&ca, bundle).unwrap();
    let out = Command::new("openssl")
        .args([
            "cms",
            "-verify",
            "-binary",
            "-content",
            p(&data_path()),
            "-inform",
            "DER",
            "-in",
            p(sig),
            "-CAfile",
            p(&ca),
            "-out",
            p(&dir.join("openssl.out")),
        ])
        .output()
        .expect("run openssl");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn sign_data(name: &str, scheme: Option<SignatureScheme>, chain: &[X509]) -> (Vec<u8>, FileKey) {
    let key = key(name, scheme);
    let signer = cert(name);
    let digest = key.scheme().digest();
    let req = CmsRequest {
        digest,
        message_digest: digest.digest(&[&data()]),
        signer_cert: &signer,
        chain,
        signing_time: None,
        content_timestamp: None,
    };
    (build_signed_data(&req, &key).unwrap(), key)
}

#[test]
fn every_scheme_verifies_with_antin_and_openssl() {
    use SignatureScheme::*;
    let dir = tempfile::tempdir().unwrap();
    let chain = chain();
    for (name, scheme) in [
        ("citizen-an", RsaPkcs1Sha256),
        ("citizen-an", RsaPkcs1Sha384),
        ("citizen-an", RsaPkcs1Sha512),
        ("citizen-an", RsaPssSha256),
        ("citizen-an", RsaPssSha384),
        ("citizen-an", RsaPssSha512),
        ("pss-cuong", RsaPssSha256),
        ("ecdsa-binh", EcdsaP256Sha256),
        ("ecdsa-binh", EcdsaSha512),
        ("ecdsa384-khoa", EcdsaP384Sha384),
        ("ecdsa384-khoa", EcdsaSha512),
    ] {
        let (der, _) = sign_data(name, Some(scheme), &chain);
        let sig = dir.path().join(format!("{name}-{scheme:?}.p7s"));
        std::fs::write(&sig, &der).unwrap();
        let (code, v) = antin_verify(&sig);
        assert_eq!(code, 0, "{name} {scheme:?}: {v:#}");
        assert_eq!(v["verdict"], "TOTAL_PASSED", "{name} {scheme:?}: {v:#}");
        let s = &v["signatures"][0];
        assert_eq!(s["indication"], "TOTAL_PASSED", "{name} {scheme:?}: {s:#}");
        assert!(
            s["warnings"].as_array().is_none_or(|w| w.is_empty()),
            "{name} {scheme:?}: {s:#}"
        );
        openssl_verify(dir.path(), &sig).unwrap_or_else(|e| panic!("{name} {scheme:?}: {e}"));
    }
}

#[test]
fn defaults_follow_the_circular() {
    assert_eq!(
        key("citizen-an", None).scheme(),
        SignatureScheme::RsaPssSha256
    );
    assert_eq!(
        key("ecdsa-binh", None).scheme(),
        SignatureScheme::EcdsaP256Sha256
    );
    assert_eq!(
        key("ecdsa384-khoa", None).scheme(),
        SignatureScheme::EcdsaP384Sha384
    );
    let weak = FileKey::from_pem(&std::fs::read(pki("weak-rsa1024.key")).unwrap(), None, None)
        .unwrap_err();
    assert_eq!(weak, KeyError::RsaTooSmall { bits: 1024 });
    let mismatch = FileKey::from_pem(
        &std::fs::read(pki("ecdsa-binh.key")).unwrap(),
        None,
        Some(SignatureScheme::EcdsaP384Sha384),
    )
    .unwrap_err();
    assert!(
        matches!(mismatch, KeyError::SchemeMismatch { .. }),
        "{mismatch}"
    );
}

#[test]
fn structure_is_pades_baseline_b() {
    let (der, _) = sign_data("citizen-an", None, &chain());
    let parsed = antin::pki::cms::parse_signed_data(&der).unwrap();
    assert_eq!(parsed.econtent, None, "detached");
    assert_eq!(parsed.certificates.len(), 3);
    let si = &parsed.signer_infos[0];
    assert_eq!(si.version, 1);
    assert!(matches!(
        si.sid,
        antin::pki::cms::SignerId::IssuerAndSerial { .. }
    ));
    let oids: Vec<String> = si.signed_attrs.iter().map(|a| a.oid.to_string()).collect();
    let mut sorted = oids.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "1.2.840.113549.1.9.16.2.47", // signingCertificateV2
            "1.2.840.113549.1.9.3",       // contentType
            "1.2.840.113549.1.9.4",       // messageDigest
        ]
    );
    // RSASSA-PSS with explicit parameters, as OpenSSL writes them (RFC 4055 3.1): SHA-256 (NULL
    // parameters), MGF1 with SHA-256, salt 32, trailerField omitted (DEFAULT 1).
    assert_eq!(
        si.signature_algorithm.oid.to_string(),
        "1.2.840.113549.1.1.10"
    );
    assert_eq!(
        hex::encode(si.signature_algorithm.params.as_deref().unwrap()),
        "3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d0609608648016503\
         0402010500a203020120"
    );
    // No signingTime in PAdES; openssl's parser agrees with ours on the whole structure.
    let out = Command::new("openssl")
        .args(["cms", "-cmsout", "-print", "-inform", "DER"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&der)?;
            c.wait_with_output()
        })
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    // DER: OpenSSL re-encoding it (sorting every SET OF) changes nothing.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.p7s");
    let output = dir.path().join("out.p7s");
    std::fs::write(&input, &der).unwrap();
    let status = Command::new("openssl")
        .args(["cms", "-cmsout", "-inform", "DER", "-outform", "DER", "-in"])
        .arg(&input)
        .arg("-out")
        .arg(&output)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read(&output).unwrap(), der, "not DER");
    assert!(
        text.contains("rsassaPss") && text.contains("mgf1"),
        "{text}"
    );
    assert!(!text.contains("signingTime"), "{text}");
}

#[test]
fn generic_cades_with_signing_time() {
    let key = key("ecdsa-binh", None);
    let signer = cert("ecdsa-binh");
    let chain = chain();
    let t = time::macros::datetime!(2026-11-22 03:30:05 UTC);
    let req = CmsRequest {
        digest: DigestAlg::Sha256,
        message_digest: DigestAlg::Sha256.digest(&[&data()]),
        signer_cert: &signer,
        chain: &chain,
        signing_time: Some(t),
        content_timestamp: None,
    };
    let der = build_signed_data(&req, &key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sig = dir.path().join("cades.p7s");
    std::fs::write(&sig, &der).unwrap();
    let (code, v) = antin_verify(&sig);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["signatures"][0]["signing_time_source"], "claimed");
    assert!(v["signatures"][0]["signing_time"]
        .as_str()
        .unwrap()
        .starts_with("2026-11-22T10:30:05+07:00"));
    openssl_verify(dir.path(), &sig).unwrap();
    // A key that is not the certificate's is refused before signing.
    let other = cert("citizen-an");
    let bad = CmsRequest {
        signer_cert: &other,
        ..req
    };
    assert_eq!(
        build_signed_data(&bad, &key).unwrap_err(),
        CmsBuildError::KeyCertificateMismatch
    );
}

/// Serves `router` on 127.0.0.1:0 and returns its URL.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}/")
}

fn dev_tsa() -> Arc<DevTsa> {
    Arc::new(DevTsa::new(cert("tsa"), key("tsa", None), chain()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signature_timestamp_from_the_dev_tsa_verifies() {
    let url = serve(tsa::router(dev_tsa())).await;
    let client = TsaClient::new(url, Duration::from_secs(10)).unwrap();
    let chain = chain();
    for (name, scheme) in [
        ("citizen-an", None),
        ("ecdsa384-khoa", None),
        ("citizen-an", Some(SignatureScheme::RsaPkcs1Sha256)),
    ] {
        let (der, key) = sign_data(name, scheme, &chain);
        let sig_value = signature_value(&der).unwrap();
        let digest = key.scheme().digest();
        let token = client
            .timestamp(digest, &digest.digest(&[&sig_value]))
            .await
            .unwrap();
        let with_ts = add_unsigned_timestamp(&der, &token).unwrap();
        // The signed part is untouched.
        assert_eq!(signature_value(&with_ts).unwrap(), sig_value);
        let signer_len: usize = std::iter::once(cert(name))
            .chain(chain.iter().cloned())
            .map(|c| c.to_der().unwrap().len())
            .sum();
        let bits = openssl::pkey::PKey::public_key_from_der(&key.public_key_der())
            .unwrap()
            .bits() as usize;
        assert!(
            estimate_size(signer_len, bits, true) >= with_ts.len(),
            "{} < {}",
            estimate_size(signer_len, bits, true),
            with_ts.len()
        );
        let dir = tempfile::tempdir().unwrap();
        let sig = dir.path().join("bt.p7s");
        std::fs::write(&sig, &with_ts).unwrap();
        let (code, v) = antin_verify(&sig);
        assert_eq!(code, 0, "{name}: {v:#}");
        let s = &v["signatures"][0];
        assert_eq!(s["indication"], "TOTAL_PASSED", "{name}: {s:#}");
        assert_eq!(
            s["timestamp"]["indication"], "TOTAL_PASSED",
            "{name}: {s:#}"
        );
        assert_eq!(s["signing_time_source"], "timestamp", "{name}: {s:#}");
        assert_eq!(s["timestamp"]["tsa"], "CN=Antin Test TSA");
        openssl_verify(dir.path(), &sig).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_tsa_answers_tokens_openssl_accepts() {
    // `openssl ts -verify` goes through OpenSSL's PKCS#7 code, which cannot verify RSASSA-PSS:
    // a PKCS#1 v1.5 TSA key here (antin verifies PSS tokens, see above).
    let tsa = Arc::new(
        DevTsa::new(
            cert("tsa"),
            key("tsa", Some(SignatureScheme::RsaPkcs1Sha256)),
            chain(),
        )
        .unwrap(),
    );
    let imprint = DigestAlg::Sha256.digest(&[b"abc"]);
    let req = tsa::request_der(DigestAlg::Sha256, &imprint, &[0x42], None).unwrap();
    let resp = tsa.respond(&req, time::OffsetDateTime::now_utc());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("q.tsq"), &req).unwrap();
    std::fs::write(dir.path().join("r.tsr"), &resp).unwrap();
    std::fs::write(dir.path().join("abc"), b"abc").unwrap();
    let mut bundle = std::fs::read(pki("root-ca.pem")).unwrap();
    bundle.extend(std::fs::read(pki("licensed-ca.pem")).unwrap());
    std::fs::write(dir.path().join("ca.pem"), bundle).unwrap();
    let out = Command::new("openssl")
        .args(["ts", "-verify", "-queryfile", "q.tsq", "-in", "r.tsr"])
        .args(["-CAfile", "ca.pem"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Over HTTP: wrong media type 415, too large 413, malformed request -> rejection badRequest.
    let url = serve(tsa::router(tsa.clone())).await;
    let http = reqwest::Client::new();
    let r = http.post(&url).body(req.clone()).send().await.unwrap();
    assert_eq!(r.status(), 415);
    let r = http
        .post(&url)
        .header("content-type", tsa::QUERY_MEDIA_TYPE)
        .body(vec![0u8; 65 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let r = http
        .post(&url)
        .header("content-type", tsa::QUERY_MEDIA_TYPE)
        .body(b"not a request".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], tsa::REPLY_MEDIA_TYPE);
    let body = r.bytes().await.unwrap();
    let err = tsa::verify_response(
        &body,
        DigestAlg::Sha256,
        &imprint,
        &[0x42],
        &Default::default(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        TsaError::Rejected {
            status: 2,
            text: "malformed TimeStampReq".to_owned(),
            fail_info: Some(1 << 2),
        }
    );
}

/// A TSA that rewrites each request with `edit` before the dev TSA answers it.
fn tampering_tsa(edit: fn(&mut x509_tsp::TimeStampReq)) -> axum::Router {
    let tsa = dev_tsa();
    axum::Router::new().route(
        "/",
        axum::routing::post(move |body: axum::body::Bytes| {
            let tsa = tsa.clone();
            async move {
                let mut req = x509_tsp::TimeStampReq::from_der(&body).unwrap();
                edit(&mut req);
                let reply = tsa.respond(&req.to_der().unwrap(), time::OffsetDateTime::now_utc());
                ([("content-type", tsa::REPLY_MEDIA_TYPE)], reply)
            }
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_tsas_never_yield_a_token() {
    async fn ask(url: String, timeout: Duration) -> Result<Vec<u8>, TsaError> {
        let imprint = DigestAlg::Sha256.digest(&[b"signature value"]);
        TsaClient::new(url, timeout)
            .unwrap()
            .timestamp(DigestAlg::Sha256, &imprint)
            .await
    }

    // Garbage with the right media type.
    let garbage = axum::Router::new().route(
        "/",
        axum::routing::post(|| async {
            (
                [("content-type", tsa::REPLY_MEDIA_TYPE)],
                b"\x30\x82\xff\xffgarbage".to_vec(),
            )
        }),
    );
    let r = ask(serve(garbage).await, Duration::from_secs(5)).await;
    assert!(matches!(r, Err(TsaError::Garbage(_))), "{r:?}");

    // A well-signed token over another imprint.
    let other_imprint = tampering_tsa(|req| {
        req.message_imprint.hashed_message = der::asn1::OctetString::new([0x55u8; 32]).unwrap();
    });
    let r = ask(serve(other_imprint).await, Duration::from_secs(5)).await;
    assert!(matches!(r, Err(TsaError::Mismatch(_))), "{r:?}");

    // A well-signed token with another nonce (a replayed answer).
    let other_nonce = tampering_tsa(|req| {
        req.nonce = Some(der::asn1::Int::new(&[0x01, 0x02, 0x03]).unwrap());
    });
    let r = ask(serve(other_nonce).await, Duration::from_secs(5)).await;
    assert!(matches!(r, Err(TsaError::Mismatch(_))), "{r:?}");

    // A token signed by a certificate without EKU timeStamping.
    let not_a_tsa = Arc::new(
        DevTsa::new(
            cert("citizen-an"),
            key("citizen-an", None),
            vec![cert("licensed-ca")],
        )
        .unwrap(),
    );
    let r = ask(serve(tsa::router(not_a_tsa)).await, Duration::from_secs(5)).await;
    assert!(matches!(r, Err(TsaError::InvalidToken(_))), "{r:?}");

    // An HTTP error.
    let failing = axum::Router::new().route(
        "/",
        axum::routing::post(|| async { axum::http::StatusCode::INTERNAL_SERVER_ERROR }),
    );
    let r = ask(serve(failing).await, Duration::from_secs(5)).await;
    assert_eq!(r, Err(TsaError::Http(500)));

    // A TSA that never answers: the client gives up after its timeout.
    let silent = axum::Router::new().route(
        "/",
        axum::routing::post(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late"
        }),
    );
    let started = std::time::Instant::now();
    let r = ask(serve(silent).await, Duration::from_secs(1)).await;
    assert!(matches!(r, Err(TsaError::Timeout { .. })), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Nobody listening.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", l.local_addr().unwrap())
    };
    let r = ask(closed, Duration::from_secs(2)).await;
    assert!(matches!(r, Err(TsaError::Transport(_))), "{r:?}");
}

fn openssl_pkcs12(dir: &Path, name: &str, extra: &[&str], password: &str) -> Vec<u8> {
    let out_path = dir.join(name);
    let out = Command::new("openssl")
        .args(["pkcs12", "-export"])
        .args(extra)
        .args([
            "-inkey",
            p(&pki("citizen-an.key")),
            "-in",
            p(&pki("citizen-an.pem")),
            "-certfile",
            p(&pki("licensed-ca.pem")),
            "-passout",
            &format!("pass:{password}"),
            "-out",
            p(&out_path),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(out_path).unwrap()
}

#[test]
fn pkcs12_default_and_legacy() {
    let dir = tempfile::tempdir().unwrap();
    let an = cert("citizen-an");
    let files = [
        ("default.p12", vec![]),
        ("legacy.p12", vec!["-legacy"]),
        (
            "legacy-explicit.p12",
            vec![
                "-provider",
                "default",
                "-provider",
                "legacy",
                "-keypbe",
                "PBE-SHA1-3DES",
                "-certpbe",
                "PBE-SHA1-RC2-40",
                "-macalg",
                "sha1",
            ],
        ),
        (
            "3des.p12",
            vec![
                "-keypbe",
                "PBE-SHA1-3DES",
                "-certpbe",
                "PBE-SHA1-3DES",
                "-macalg",
                "sha1",
            ],
        ),
    ];
    for (name, extra) in files {
        let der = openssl_pkcs12(dir.path(), name, &extra, "mật khẩu");
        let (key, cert, others) = FileKey::from_pkcs12(&der, "mật khẩu", None).unwrap();
        assert_eq!(cert.to_der().unwrap(), an.to_der().unwrap(), "{name}");
        assert_eq!(others.len(), 1, "{name}");
        assert_eq!(key.scheme(), SignatureScheme::RsaPssSha256);
        assert!(key.matches_certificate(&an));
        assert!(!format!("{key:?}").contains("BEGIN"));
        assert_eq!(
            FileKey::from_pkcs12(&der, "sai", None).unwrap_err(),
            KeyError::BadPassphrase,
            "{name}"
        );
        // The loaded key signs a CMS antin accepts.
        let req = CmsRequest {
            digest: DigestAlg::Sha256,
            message_digest: DigestAlg::Sha256.digest(&[&data()]),
            signer_cert: &cert,
            chain: &others,
            signing_time: None,
            content_timestamp: None,
        };
        let cms = build_signed_data(&req, &key).unwrap();
        let parsed = antin::pki::cms::parse_signed_data(&cms).unwrap();
        let v = antin::pki::cms::verify_signer(
            &parsed,
            antin::pki::cms::SignedContent::Pieces(&[&data()]),
            &Default::default(),
        );
        assert!(v.is_valid(), "{name}: {v:?}");
    }
    assert!(matches!(
        FileKey::from_pkcs12(b"not a pkcs12", "x", None).unwrap_err(),
        KeyError::Pkcs12 { .. }
    ));
}

#[test]
fn weak_key_is_refused_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("weak.p12");
    let status = Command::new("openssl")
        .args(["pkcs12", "-export", "-inkey"])
        .arg(pki("weak-rsa1024.key"))
        .arg("-in")
        .arg(pki("weak-rsa1024.pem"))
        .args(["-passout", "pass:x", "-out"])
        .arg(&out_path)
        .status()
        .unwrap();
    assert!(status.success());
    let der = std::fs::read(out_path).unwrap();
    assert_eq!(
        FileKey::from_pkcs12(&der, "x", None).unwrap_err(),
        KeyError::RsaTooSmall { bits: 1024 }
    );
}

/// Without OpenSSL's legacy provider a legacy PKCS#12 is a clear error, not a generic failure.
/// Runs itself in a child process whose OPENSSL_MODULES points to an empty directory.
#[test]
fn legacy_pkcs12_without_the_legacy_provider() {
    if let Ok(path) = std::env::var("ANTIN_TEST_LEGACY_P12") {
        let der = std::fs::read(path).unwrap();
        let err = FileKey::from_pkcs12(&der, "x", None).unwrap_err();
        assert!(
            matches!(err, KeyError::LegacyProviderUnavailable { .. }),
            "{err:?}"
        );
        println!("CHILD-OK {err}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let der = openssl_pkcs12(dir.path(), "legacy.p12", &["-legacy"], "x");
    let p12 = dir.path().join("legacy.p12");
    std::fs::write(&p12, der).unwrap();
    let empty = dir.path().join("no-modules");
    std::fs::create_dir(&empty).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "legacy_pkcs12_without_the_legacy_provider",
            "--nocapture",
        ])
        .env("ANTIN_TEST_LEGACY_P12", &p12)
        .env("OPENSSL_MODULES", &empty)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("CHILD-OK"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A content timestamp (EN 319 122-1 5.2.8) is carried as a signed attribute and verifies over
/// the signed data.
#[test]
fn content_timestamp_is_a_signed_attribute() {
    let tsa = dev_tsa();
    let digest = DigestAlg::Sha256;
    let message_digest = digest.digest(&[&data()]);
    let nonce = [0x07];
    let req = tsa::request_der(digest, &message_digest, &nonce, None).unwrap();
    let resp = tsa.respond(&req, time::OffsetDateTime::now_utc());
    let token =
        tsa::verify_response(&resp, digest, &message_digest, &nonce, &Default::default()).unwrap();
    let key = key("citizen-an", None);
    let signer = cert("citizen-an");
    let chain = chain();
    let cms = build_signed_data(
        &CmsRequest {
            digest,
            message_digest,
            signer_cert: &signer,
            chain: &chain,
            signing_time: None,
            content_timestamp: Some(token.clone()),
        },
        &key,
    )
    .unwrap();
    let parsed = antin::pki::cms::parse_signed_data(&cms).unwrap();
    let v = antin::pki::cms::verify_signer(
        &parsed,
        antin::pki::cms::SignedContent::Pieces(&[&data()]),
        &Default::default(),
    );
    assert!(v.is_valid(), "{v:?}");
    assert_eq!(v.content_timestamps, vec![token.clone()]);
    let ts =
        antin::pki::tsp::verify_timestamp_token(&token, &[&data()], &Default::default()).unwrap();
    assert!(ts.is_valid(), "{ts:?}");
    let dir = tempfile::tempdir().unwrap();
    let sig = dir.path().join("content-ts.p7s");
    std::fs::write(&sig, &cms).unwrap();
    let (code, v) = antin_verify(&sig);
    assert_eq!(code, 0, "{v:#}");
    // Garbage as a content timestamp is refused.
    let bad = build_signed_data(
        &CmsRequest {
            digest,
            message_digest: digest.digest(&[&data()]),
            signer_cert: &signer,
            chain: &chain,
            signing_time: None,
            content_timestamp: Some(b"\x30\x03\x06\x01\x00".to_vec()),
        },
        &key,
    );
    assert!(
        matches!(bad, Err(CmsBuildError::BadToken { .. })),
        "{bad:?}"
    );
}
