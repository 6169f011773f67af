//! Signing through the API, on SQLite and PostgreSQL: `POST /v1/signatures` returns a signed PDF
//! that validates, records it with its log entry, and `/v/{id}` says what was issued.

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

async fn sign_through_the_api(db: Db) {
    let app = common::spawn_app(db).await;
    let unsigned = std::fs::read(common::fixture("pdf/unsigned.pdf")).unwrap();
    let resp = app
        .client
        .post(app.url("/v1/signatures"))
        .bearer_auth(app.key(Role::Portal))
        .multipart(form(
            unsigned.clone(),
            &[("level", "B-LTA"), ("dossier", "HS-2026-0001")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    let id = resp.headers()["x-antin-document-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        resp.headers()["location"].to_str().unwrap(),
        format!("/v/{id}")
    );
    let signed = resp.bytes().await.unwrap().to_vec();
    assert!(signed.starts_with(&unsigned), "the original bytes are kept");

    // It validates with antin's verifier at B-LTA (offline, the test PKI's CRLs).
    let mut store = antin::pki::trust::TrustStore::new();
    store
        .load_anchors(&common::test_pki("gov-root.pem"))
        .unwrap();
    store
        .load_anchors(&common::test_pki("root-ca.pem"))
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
    let report = ctx
        .run(
            &antin::verify::Input::Pdf(signed.clone()),
            &opts,
            time::OffsetDateTime::now_utc(),
            &Default::default(),
        )
        .unwrap()
        .outcome
        .report;
    assert_eq!(
        report.verdict.as_str(),
        "TOTAL_PASSED",
        "{}",
        report.summary.en
    );
    assert_eq!(report.signatures[0].level.as_deref(), Some("B-LTA"));

    // What was issued, publicly, and its log entry.
    let status: serde_json::Value = app
        .client
        .get(app.url(&format!("/v/{id}")))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "valid");
    assert_eq!(status["level"], "B-LTA");
    assert_eq!(
        status["signed_sha256"],
        hex::encode(openssl::sha::sha256(&signed))
    );
    let index = status["log_index"].as_u64().expect("logged");
    let e = &app.store.log_entries(index, index + 1).await.unwrap()[0];
    let d = antin::audit::entry::decode(&e.body, index).unwrap();
    assert_eq!(d.kind, "document_signed");
    assert_eq!(d.data["dossier"], "HS-2026-0001");
    let rec = app.store.get_signed_document(&id).await.unwrap().unwrap();
    assert_eq!(
        rec.signed_sha256,
        hex::encode(openssl::sha::sha256(&signed))
    );

    // Unknown ids are not found, malformed ones are bad requests (tests/check_page.rs has more).
    for (bad, status) in [
        ("/v/00000000-0000-0000-0000-000000000000", 404),
        ("/v/not-an-id", 400),
        ("/v/%00", 400),
    ] {
        let r = app
            .client
            .get(app.url(bad))
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{bad}");
    }

    // Only portals and administrators sign; bad requests get stable codes.
    let r = app
        .client
        .post(app.url("/v1/signatures"))
        .bearer_auth(app.key(Role::Auditor))
        .multipart(form(unsigned.clone(), &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    for (fields, file, code) in [
        (vec![("profile", "nope")], unsigned.clone(), "bad_request"),
        (vec![("level", "B-X")], unsigned.clone(), "bad_request"),
        (vec![("page", "1")], unsigned.clone(), "bad_request"),
        (vec![], b"not a pdf".to_vec(), "unsupported_document"),
    ] {
        let r = app
            .client
            .post(app.url("/v1/signatures"))
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
on_both_databases!(sign_api_tests, sign_through_the_api);

/// A batch: one NDJSON line per file as it is done; a bad file fails alone; each signed one is
/// recorded under its own id with its own dossier.
async fn sign_a_batch(db: Db) {
    let app = common::spawn_app(db).await;
    let unsigned = std::fs::read(common::fixture("pdf/unsigned.pdf")).unwrap();
    let mut f = reqwest::multipart::Form::new();
    for (name, bytes) in [
        ("a.pdf", unsigned.clone()),
        ("broken.pdf", b"%PDF-1.7 not really".to_vec()),
        ("c.pdf", unsigned.clone()),
    ] {
        f = f.part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name),
        );
    }
    for d in ["HS-A", "HS-B", "HS-C"] {
        f = f.text("dossier", d);
    }
    f = f.text("level", "B-T");
    let resp = app
        .client
        .post(app.url("/v1/signatures/batch"))
        .bearer_auth(app.key(Role::Portal))
        .multipart(f)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let body = resp.text().await.unwrap();
    let lines: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{body}");
    let names: Vec<&str> = lines.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a.pdf", "broken.pdf", "c.pdf"]);
    assert_eq!(lines[1]["status"], "failed");
    assert_eq!(lines[1]["error"]["code"], "unsupported_document");
    let mut ids = Vec::new();
    for l in [&lines[0], &lines[2]] {
        assert_eq!(l["status"], "signed", "{l}");
        assert_eq!(l["level"], "B-T");
        let pdf = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            l["pdf_base64"].as_str().unwrap(),
        )
        .unwrap();
        assert!(pdf.starts_with(&unsigned));
        assert_eq!(
            hex::encode(openssl::sha::sha256(&pdf)),
            l["signed_sha256"].as_str().unwrap()
        );
        let id = l["document_id"].as_str().unwrap().to_owned();
        let status: serde_json::Value = app
            .client
            .get(app.url(&format!("/v1/documents/{id}/status")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(status["signed_sha256"], l["signed_sha256"], "{status}");
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1]);

    // Mismatched dossier count, no file, a second file on the single-document route.
    let two = || {
        reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(unsigned.clone()).file_name("x.pdf"),
            )
            .part(
                "file",
                reqwest::multipart::Part::bytes(unsigned.clone()).file_name("y.pdf"),
            )
    };
    for (path, form) in [
        (
            "/v1/signatures/batch",
            two()
                .text("dossier", "A")
                .text("dossier", "B")
                .text("dossier", "C"),
        ),
        (
            "/v1/signatures/batch",
            reqwest::multipart::Form::new().text("level", "B-B"),
        ),
        ("/v1/signatures", two()),
    ] {
        let r = app
            .client
            .post(app.url(path))
            .bearer_auth(app.key(Role::Portal))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path}");
    }
    app.stop().await;
}
on_both_databases!(sign_batch_tests, sign_a_batch);

/// The built-in test TSA answers RFC 3161 requests over HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_tsa_answers_over_http() {
    use antin::sign::keys::DigestAlg;
    let app = common::spawn_app(Db::Sqlite).await;
    let imprint = DigestAlg::Sha256.digest(&[b"hello"]);
    let nonce = [0x11u8, 0x22, 0x33, 0x44];
    let req = antin::sign::tsa::request_der(DigestAlg::Sha256, &imprint, &nonce, None).unwrap();
    let resp = app
        .client
        .post(app.url("/dev/tsa"))
        .header("content-type", "application/timestamp-query")
        .body(req)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let der = resp.bytes().await.unwrap();
    let policy = antin::pki::algorithms::AlgorithmPolicy::default();
    antin::sign::tsa::verify_response(&der, DigestAlg::Sha256, &imprint, &nonce, &policy)
        .expect("a valid token");
    app.stop().await;
}
