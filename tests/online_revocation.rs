//! Revocation fetched over HTTP from the URLs in the certificates (the test PKI points at
//! 127.0.0.1:18089), stored as evidence with the verdict.

mod common;

use antin::config::{AlgorithmPolicyName, RevocationMode};
use antin::pki::trust::TrustStore;
use antin::verify::engine::Context;
use antin::verify::{Input, Verifier, VerifyOptions};
use common::{fixture, test_pki};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves the test PKI's CRLs at the URLs its certificates name; OCSP requests get 404.
async fn serve_crls(
    listener: tokio::net::TcpListener,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        let hits = hits.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 16384];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let path = req.split_whitespace().nth(1).unwrap_or("").to_owned();
            let body = match path.as_str() {
                "/crl/licensed-ca.crl" => std::fs::read(test_pki("licensed-ca.crl")).ok(),
                "/crl/root-ca.crl" => std::fs::read(test_pki("root-ca.crl")).ok(),
                _ => None,
            };
            let resp = match body {
                Some(b) => {
                    hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let mut r = format!("HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", b.len()).into_bytes();
                    r.extend(b);
                    r
                }
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = sock.write_all(&resp).await;
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_revocation_is_fetched_and_kept_as_evidence() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:18089")
        .await
        .expect("port 18089 (named in the test PKI's certificates) must be free");
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    tokio::spawn(serve_crls(listener, hits.clone()));

    let mut store = TrustStore::new();
    store.load_anchors(&test_pki("root-ca.pem")).unwrap();
    let verifier = Verifier::new(Context::new(store).unwrap());
    let options = VerifyOptions {
        revocation: RevocationMode::Require,
        offline: false,
        at: None,
        expected_signer_id: None,
        algorithm_policy: AlgorithmPolicyName::Default,
        extra_crls: Vec::new(),
    };
    let pdf = std::fs::read(fixture("pdf/signed-approval.pdf")).unwrap();
    let out = verifier
        .verify(
            Input::Pdf(pdf.clone()),
            options.clone(),
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    let s = &out.report.signatures[0];
    assert_eq!(out.report.verdict.as_str(), "TOTAL_PASSED", "{s:#?}");
    assert!(
        s.revocation
            .iter()
            .all(|r| r.origin.as_deref() == Some("fetched")),
        "{:#?}",
        s.revocation
    );
    assert!(out.evidence.iter().any(|e| e.kind == "crl"));
    assert!(hits.load(std::sync::atomic::Ordering::SeqCst) >= 2);

    // Offline, the same document cannot be decided: INDETERMINATE, not a guess.
    let mut offline = options;
    offline.offline = true;
    let out = verifier
        .verify(Input::Pdf(pdf), offline, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(out.report.verdict.as_str(), "INDETERMINATE");
}
