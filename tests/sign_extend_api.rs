//! `POST /v1/signatures/extend` on SQLite and PostgreSQL: a signed PDF in, the extended PDF out
//! (validating offline at B-LTA, with its log entry); nothing to do while the last timestamp is not
//! due; refusals with stable codes. Also the dev OCSP responder at /dev/ocsp.

mod common;

use antin::http::auth::Role;
use common::Db;

fn form(pdf: Vec<u8>, fields: &[(&str, &str)]) -> reqwest::multipart::Form {
    let mut f = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(pdf).file_name("in.pdf"),
    );
    for (k, v) in fields {
        f = f.text(k.to_string(), v.to_string());
    }
    f
}

fn verify(pdf: &[u8]) -> antin::verify::Report {
    let mut store = antin::pki::trust::TrustStore::new();
    store
        .load_anchors(&common::test_pki("root-ca.pem"))
        .unwrap();
    store
        .load_anchors(&common::test_pki("gov-root.pem"))
        .unwrap();
    let ctx = antin::verify::engine::Context::new(store).unwrap();
    let opts = antin::verify::VerifyOptions {
        revocation: antin::config::RevocationMode::Require,
        offline: true,
        at: None,
        expected_signer_id: None,
        algorithm_policy: antin::config::AlgorithmPolicyName::Default,
        extra_crls: Vec::new(),
    };
    ctx.run(
        &antin::verify::Input::Pdf(pdf.to_vec()),
        &opts,
        time::OffsetDateTime::now_utc(),
        &Default::default(),
    )
    .unwrap()
    .outcome
    .report
}

async fn extend_through_the_api(db: Db) {
    let app = common::spawn_app(db).await;
    let signed = std::fs::read(common::fixture("pdf/signed-timestamped.pdf")).unwrap();
    let resp = app
        .client
        .post(app.url("/v1/signatures/extend"))
        .bearer_auth(app.key(Role::Portal))
        .multipart(form(signed.clone(), &[("level", "B-LTA")]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    assert_eq!(resp.headers()["x-antin-level"], "B-LTA");
    let sha = resp.headers()["x-antin-signed-sha256"]
        .to_str()
        .unwrap()
        .to_owned();
    let extended = resp.bytes().await.unwrap().to_vec();
    assert!(extended.starts_with(&signed), "the original bytes are kept");
    assert_eq!(sha, hex::encode(openssl::sha::sha256(&extended)));
    let report = verify(&extended);
    assert_eq!(
        report.verdict.as_str(),
        "TOTAL_PASSED",
        "{}",
        report.summary.en
    );
    assert_eq!(report.signatures[0].level.as_deref(), Some("B-LTA"));

    // Logged, under the output's hash.
    let found = app
        .store
        .log_find_subject(&format!("sha256:{sha}"))
        .await
        .unwrap();
    let index = *found.first().expect("a log entry");
    let e = &app.store.log_entries(index, index + 1).await.unwrap()[0];
    let d = antin::audit::entry::decode(&e.body, index).unwrap();
    assert_eq!(d.data["action"], "document_extended");
    assert_eq!(d.data["details"]["level"], "B-LTA");

    // Not due within 30 days (the dev TSA's certificate runs to 2036).
    let r = app
        .client
        .post(app.url("/v1/signatures/extend"))
        .bearer_auth(app.key(Role::Portal))
        .multipart(form(extended.clone(), &[("if_expiring_within", "30")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["status"], "nothing_to_do", "{v}");

    // Refusals.
    let r = app
        .client
        .post(app.url("/v1/signatures/extend"))
        .bearer_auth(app.key(Role::Auditor))
        .multipart(form(signed.clone(), &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let unsigned = std::fs::read(common::fixture("pdf/unsigned.pdf")).unwrap();
    let tampered = std::fs::read(common::fixture("pdf/signed-approval-tampered.pdf")).unwrap();
    for (fields, file, code) in [
        (vec![("level", "B-T")], signed.clone(), "bad_request"),
        (vec![("profile", "nope")], signed.clone(), "bad_request"),
        (
            vec![("if_expiring_within", "soon")],
            signed.clone(),
            "bad_request",
        ),
        (vec![], unsigned, "unsupported_document"),
        (vec![], tampered, "unsupported_document"),
        (vec![], b"not a pdf".to_vec(), "unsupported_document"),
    ] {
        let r = app
            .client
            .post(app.url("/v1/signatures/extend"))
            .bearer_auth(app.key(Role::Portal))
            .multipart(form(file, &fields))
            .send()
            .await
            .unwrap();
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], code, "{fields:?}: {v}");
    }
    app.stop().await;
}
on_both_databases!(extend_api_tests, extend_through_the_api);

/// The built-in OCSP responder answers RFC 6960 requests over HTTP, with the nonce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_ocsp_responder_answers_over_http() {
    let app = common::spawn_app(Db::Sqlite).await;
    let cert = |n: &str| {
        openssl::x509::X509::from_pem(&std::fs::read(common::test_pki(n)).unwrap()).unwrap()
    };
    let req = antin::sign::ocsp::request_der(
        &cert("gov-agency.pem"),
        &cert("gov-ca.pem"),
        Some(b"nonce-over-https"),
    )
    .unwrap();
    let resp = app
        .client
        .post(app.url("/dev/ocsp"))
        .header("content-type", "application/ocsp-request")
        .body(req)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/ocsp-response");
    let der = resp.bytes().await.unwrap().to_vec();
    assert_eq!(
        antin::sign::ocsp::response_nonce(&der).as_deref(),
        Some(&b"nonce-over-https"[..])
    );
    let now = time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let status = antin::pki::revocation::check_cert(
        &cert("gov-agency.pem"),
        &cert("gov-ca.pem"),
        &antin::pki::revocation::RevocationData {
            crls: Vec::new(),
            ocsp_responses: vec![der],
        },
        now,
        now,
    );
    assert!(
        matches!(
            status,
            antin::pki::revocation::RevocationStatus::Good { .. }
        ),
        "{status:?}"
    );
    app.stop().await;
}
