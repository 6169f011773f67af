//! The HTTPS API, black-box, on SQLite and PostgreSQL.

mod common;

use antin::http::auth::Role;
use common::{fixture, spawn_app, spawn_app_with, Db};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;

fn pdf_form(path: &str) -> Form {
    let bytes = std::fs::read(fixture(path)).unwrap();
    Form::new().part("file", Part::bytes(bytes).file_name("doc.pdf"))
}

async fn health_ready_metrics_openapi(db: Db) {
    let app = spawn_app(db).await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["openapi"], "3.1.0");
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    let text = r.text().await.unwrap();
    assert!(
        text.contains(
            "antin_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
        ),
        "{text}"
    );
    app.stop().await;
}
on_both_databases!(
    health_ready_metrics_openapi_db,
    health_ready_metrics_openapi
);

async fn authentication_and_roles(db: Db) {
    let app = spawn_app(db).await;
    let url = app.url("/v1/verifications");
    // No credentials.
    let r = app
        .client
        .post(&url)
        .multipart(pdf_form("pdf/signed-approval.pdf"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unauthenticated");
    assert!(v["error"]["message"].as_str().unwrap().contains("xác thực"));
    // A well-formed but unknown key, English message.
    let r = app
        .client
        .post(&url)
        .bearer_auth(format!("antin_{}", "A".repeat(43)))
        .header("accept-language", "en")
        .multipart(pdf_form("pdf/signed-approval.pdf"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Not authenticated"));
    // The finance role may not verify.
    let r = app
        .client
        .post(&url)
        .bearer_auth(app.key(Role::Finance))
        .multipart(pdf_form("pdf/signed-approval.pdf"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A revoked key stops working at once.
    let keys = app.store.list_api_keys().await.unwrap();
    let portal = keys.iter().find(|k| k.role == "portal").unwrap();
    assert!(app
        .store
        .revoke_api_key(&portal.id, time::OffsetDateTime::now_utc(), &[])
        .await
        .unwrap());
    let r = app
        .client
        .post(&url)
        .header("x-api-key", app.key(Role::Portal))
        .multipart(pdf_form("pdf/signed-approval.pdf"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    app.stop().await;
}
on_both_databases!(authentication_and_roles_db, authentication_and_roles);

async fn bad_requests_get_stable_codes(db: Db) {
    let app = spawn_app_with(db, &[("ANTIN_SERVER__MAX_BODY_BYTES", "65536")]).await;
    let url = app.url("/v1/verifications");
    let key = app.key(Role::Portal).to_owned();
    // Missing file field.
    let form = Form::new().text("expected_signer_id", "CCCD:001099012345");
    let r = app
        .client
        .post(&url)
        .bearer_auth(&key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "bad_request");
    // Oversized upload.
    let form = Form::new().part(
        "file",
        Part::bytes(vec![b'%'; 200_000]).file_name("big.pdf"),
    );
    let r = app
        .client
        .post(&url)
        .bearer_auth(&key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "payload_too_large");
    // Not a PDF at all.
    let form = Form::new().part("file", Part::bytes(b"hello, not a pdf".to_vec()));
    let r = app
        .client
        .post(&url)
        .bearer_auth(&key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unsupported_document");
    // Bad policy value.
    let form = pdf_form("pdf/signed-approval.pdf").text("revocation", "maybe");
    let r = app
        .client
        .post(&url)
        .bearer_auth(&key)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Unknown id and malformed id.
    for id in [
        "00000000-0000-4000-8000-000000000000",
        "not-a-uuid",
        "..%2f..%2fetc",
    ] {
        let r = app
            .client
            .get(app.url(&format!("/v1/verifications/{id}")))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{id}");
    }
    app.stop().await;
}
on_both_databases!(
    bad_requests_get_stable_codes_db,
    bad_requests_get_stable_codes
);

async fn verify_store_and_read_back(db: Db) {
    let app = spawn_app(db).await;
    let url = app.url("/v1/verifications");
    let form = pdf_form("pdf/signed-lt.pdf").text("expected_signer_id", "CCCD:001099012345");
    let r = app
        .client
        .post(&url)
        .bearer_auth(app.key(Role::Portal))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: serde_json::Value = r.json().await.unwrap();
    assert_eq!(created["verdict"], "TOTAL_PASSED", "{created:#}");
    assert_eq!(created["signatures"][0]["indication"], "TOTAL_PASSED");
    assert_eq!(created["expected_signer_id"]["found"], true);
    let id = created["id"].as_str().unwrap().to_owned();

    // The same report comes back, to the caller and to an auditor, not to another portal.
    let get = |key: String| {
        let c = app.client.clone();
        let u = app.url(&format!("/v1/verifications/{id}"));
        async move { c.get(u).bearer_auth(key).send().await.unwrap() }
    };
    let r = get(app.key(Role::Portal).to_owned()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let again: serde_json::Value = r.json().await.unwrap();
    assert_eq!(again, created);
    let r = get(app.key(Role::Auditor).to_owned()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let (other, rec) = antin::http::auth::generate_key(
        "other portal",
        Role::Portal,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    app.store.insert_api_key(&rec, &[]).await.unwrap();
    use secrecy::ExposeSecret;
    let r = get(other.expose_secret().to_owned()).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The evidence the verdict relied on is stored with it.
    let evidence = app.store.verification_evidence(&id).await.unwrap();
    assert!(
        evidence.iter().any(|e| e.kind == "crl" || e.kind == "ocsp"),
        "{evidence:?}"
    );

    // A tampered document fails, and an expected id that no signature carries fails.
    let r = app
        .client
        .post(&url)
        .bearer_auth(app.key(Role::Portal))
        .multipart(pdf_form("pdf/signed-approval-tampered.pdf").text("revocation", "skip"))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["verdict"], "TOTAL_FAILED");
    assert_eq!(v["signatures"][0]["sub_indication"], "HASH_FAILURE");
    let r = app
        .client
        .post(&url)
        .bearer_auth(app.key(Role::Portal))
        .multipart(pdf_form("pdf/signed-lt.pdf").text("expected_signer_id", "CCCD:999999999999"))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["verdict"], "TOTAL_FAILED");
    assert_eq!(v["expected_signer_id"]["found"], false);

    // Detached CMS.
    let form = Form::new()
        .part(
            "file",
            Part::bytes(std::fs::read(fixture("cms/data.txt")).unwrap()),
        )
        .part(
            "signature",
            Part::bytes(std::fs::read(fixture("cms/data.txt.p7s")).unwrap()),
        )
        .text("revocation", "skip");
    let r = app
        .client
        .post(&url)
        .bearer_auth(app.key(Role::Admin))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["verdict"], "TOTAL_PASSED", "{v:#}");
    assert_eq!(v["document"]["detached"], true);
    app.stop().await;
}
on_both_databases!(verify_store_and_read_back_db, verify_store_and_read_back);
