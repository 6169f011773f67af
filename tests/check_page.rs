//! The public check page on SQLite and PostgreSQL: `/v/{id}` as HTML and JSON through each
//! status (valid, revoked, superseded), agencies' status changes and their log entries, the upload
//! form (the issued file, a tampered copy, not a PDF, too large), bad ids, the rate limit, the
//! English switch and the page weight. The browser run is tests/check_page_browser.rs.

mod common;

use antin::http::auth::Role;
use common::{Db, TestApp};

/// What a browser sends.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// Signs the unsigned fixture through the API; returns (id, signed bytes).
async fn sign(app: &TestApp, number: &str) -> (String, Vec<u8>) {
    let unsigned = std::fs::read(common::fixture("pdf/unsigned.pdf")).unwrap();
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(unsigned).file_name("in.pdf"),
        )
        // B-LTA: carries its own validation data, so it verifies offline (the tests' setting).
        .text("level", "B-LTA")
        .text("document_number", number.to_owned());
    let resp = app
        .client
        .post(app.url("/v1/signatures"))
        .bearer_auth(app.key(Role::Portal))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let id = resp.headers()["x-antin-document-id"]
        .to_str()
        .unwrap()
        .to_owned();
    (id, resp.bytes().await.unwrap().to_vec())
}

async fn page(app: &TestApp, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let r = app
        .client
        .get(app.url(path))
        .header("accept", BROWSER_ACCEPT)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

async fn json(app: &TestApp, path: &str) -> (u16, serde_json::Value) {
    let r = app
        .client
        .get(app.url(path))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn change(
    app: &TestApp,
    id: &str,
    action: &str,
    key: Role,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let r = app
        .client
        .post(app.url(&format!("/v1/documents/{id}/{action}")))
        .bearer_auth(app.key(key))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn upload(app: &TestApp, file: Vec<u8>, document_id: Option<&str>) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(file).file_name("upload.pdf"),
    );
    if let Some(id) = document_id {
        form = form.text("document_id", id.to_owned());
    }
    app.client
        .post(app.url("/verify"))
        .header("accept", BROWSER_ACCEPT)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

fn tampered(signed: &[u8]) -> Vec<u8> {
    // One byte of the page content (inside the signed byte range), as in
    // fixtures/pdf/signed-approval-tampered.pdf.
    let at = signed
        .windows(18)
        .position(|w| w == b"ANTIN-TEST-CONTENT")
        .expect("fixture text")
        + 17;
    let mut t = signed.to_vec();
    t[at] = b'U';
    t
}

async fn the_states_in_html_and_json(db: Db) {
    let app = common::spawn_app(db).await;
    let (id, _) = sign(&app, "123/STP-LLTP").await;

    // Valid: the page a phone gets from the QR code.
    let (status, headers, html) = page(&app, &format!("/v/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'sha256-") && !csp.contains("unsafe-inline"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(html.starts_with("<!doctype html><html lang=\"vi\">"));
    assert!(html.contains("data-status=\"valid\""), "{html}");
    assert!(html.contains(">hợp lệ<"));
    assert!(html.contains("Sở Tư pháp tỉnh Thử Nghiệm"));
    assert!(html.contains("Phiếu lý lịch tư pháp"));
    assert!(html.contains("123/STP-LLTP"));
    assert!(html.contains("Giám đốc Sở Tư pháp"));
    assert!(html.contains("(UTC+07:00)"));
    assert!(html.contains("data-proof=\"checked\""), "{html}");
    assert!(html.contains("đã kiểm tra"));
    assert!(html.contains("<label for=\"file\">"));
    // No personal data: not the certificate subject, not the CCCD in the document.
    let rec = app.store.get_signed_document(&id).await.unwrap().unwrap();
    assert!(!html.contains(&rec.signer_subject));
    assert!(!html.contains("001099012345"));
    // Page weight: everything the page needs is this one response (inline CSS and script).
    assert!(html.len() < 100 * 1024, "page weight {} bytes", html.len());
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    eprintln!("check page weight: {} bytes", html.len());

    // The same as JSON, by content negotiation and at /v1/documents/{id}/status.
    let (s, v) = json(&app, &format!("/v/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(v["status"], "valid");
    assert_eq!(v["document_number"], "123/STP-LLTP");
    assert_eq!(v["log"]["inclusion"], "checked");
    let size = v["log"]["checkpoint"]["size"].as_u64().unwrap();
    assert!(size > v["log"]["index"].as_u64().unwrap());
    let (s, v2) = json(&app, &format!("/v1/documents/{id}/status")).await;
    assert_eq!((s, &v2["document_id"]), (200, &v["document_id"]));
    // The root shown is the signed checkpoint's.
    let cp = app.store.log_latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(v2["log"]["checkpoint"]["root"], hex::encode(cp.root));
    assert!(html.contains(&hex::encode(cp.root)) || cp.size > size);

    // English, by link and by Accept-Language.
    let (_, _, en) = page(&app, &format!("/v/{id}?lang=en")).await;
    assert!(en.starts_with("<!doctype html><html lang=\"en\">"));
    assert!(en.contains(">valid<") && en.contains("checked"));
    assert!(html.contains(&format!("href=\"/v/{id}?lang=en\"")));
    let r = app
        .client
        .get(app.url(&format!("/v/{id}")))
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("Issuing agency"));

    // Only portals and admins change a status, with a reason.
    let (s, v) = change(
        &app,
        &id,
        "revoke",
        Role::Auditor,
        serde_json::json!({"reason": "x"}),
    )
    .await;
    assert_eq!((s, v["error"]["code"].as_str()), (403, Some("forbidden")));
    let (s, v) = change(
        &app,
        &id,
        "revoke",
        Role::Portal,
        serde_json::json!({"reason": "  "}),
    )
    .await;
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("bad_request")));
    let (s, _) = change(
        &app,
        &id,
        "revoke",
        Role::Portal,
        serde_json::json!({"why": "x"}),
    )
    .await;
    assert_eq!(s, 400);

    // Revoked.
    let (s, v) = change(
        &app,
        &id,
        "revoke",
        Role::Portal,
        serde_json::json!({"reason": "Cấp nhầm người"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "revoked");
    assert_eq!(v["history"][0]["reason"], "Cấp nhầm người");
    let index = v["history"][0]["log_index"].as_u64().unwrap();
    let e = &app.store.log_entries(index, index + 1).await.unwrap()[0];
    let d = antin::audit::entry::decode(&e.body, index).unwrap();
    assert_eq!(d.kind, "document_status");
    assert_eq!(d.data["document_id"], id.as_str());
    assert_eq!(
        (d.data["from"].as_str(), d.data["to"].as_str()),
        (Some("valid"), Some("revoked"))
    );
    assert_eq!(d.data["reason"], "Cấp nhầm người");
    let (_, _, html) = page(&app, &format!("/v/{id}")).await;
    assert!(html.contains("data-status=\"revoked\"") && html.contains("đã bị thu hồi"));
    assert!(html.contains("Cấp nhầm người"));
    assert!(html.contains("Thực hiện bởi: cơ quan ban hành"));
    assert!(html.contains("data-proof=\"checked\""));
    assert!(html.contains("data-status-proof=\"checked\""), "{html}");
    let (_, v) = json(&app, &format!("/v1/documents/{id}/status")).await;
    assert_eq!(v["status"], "revoked");
    assert_eq!(v["status_label"]["vi"], "đã bị thu hồi");
    assert_eq!(v["log"]["status_index"].as_u64(), Some(index));
    assert!(v["log"]["checkpoint"]["size"].as_u64().unwrap() > index);
    // A revoked document stays revoked.
    let (s, v) = change(
        &app,
        &id,
        "revoke",
        Role::Portal,
        serde_json::json!({"reason": "again"}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("invalid_state"))
    );

    // Superseded by a new document, then revoked too.
    let (old, _) = sign(&app, "124/STP-LLTP").await;
    let (new, _) = sign(&app, "125/STP-LLTP").await;
    let (s, _) = change(
        &app,
        &old,
        "supersede",
        Role::Portal,
        serde_json::json!({"reason": "x", "replaced_by": old}),
    )
    .await;
    assert_eq!(s, 400, "a document cannot replace itself");
    let (s, _) = change(
        &app,
        &old,
        "supersede",
        Role::Portal,
        serde_json::json!({"reason": "x", "replaced_by": "00000000-0000-0000-0000-000000000000"}),
    )
    .await;
    assert_eq!(s, 400, "the replacement must exist");
    let (s, _) = change(
        &app,
        &old,
        "supersede",
        Role::Portal,
        serde_json::json!({"reason": "x"}),
    )
    .await;
    assert_eq!(s, 400, "the replacement is required");
    let (s, v) = change(
        &app,
        &old,
        "supersede",
        Role::Admin,
        serde_json::json!({"reason": "Đính chính ngày sinh", "replaced_by": new}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["status"].as_str(), v["superseded_by"].as_str()),
        (Some("superseded"), Some(new.as_str()))
    );
    let (_, _, html) = page(&app, &format!("/v/{old}")).await;
    assert!(html.contains("data-status=\"superseded\"") && html.contains("đã được thay thế"));
    assert!(
        html.contains("Thực hiện bởi: quản trị viên hệ thống"),
        "the admin did it"
    );
    assert!(html.contains(&format!("href=\"/v/{new}?lang=vi\"")));
    let (_, _, html) = page(&app, &format!("/v/{new}")).await;
    assert!(html.contains("data-status=\"valid\""));
    let (s, v) = change(
        &app,
        &old,
        "revoke",
        Role::Portal,
        serde_json::json!({"reason": "Hủy"}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        v["history"].as_array().unwrap().len(),
        2,
        "history is appended"
    );
    assert_eq!(v["history"][0]["to"], "superseded");
    assert_eq!(v["history"][1]["to"], "revoked");
    let rows = app.store.document_status_history(&old).await.unwrap();
    assert_eq!(rows.len(), 2);

    // Two agencies' clerks revoking at once: one wins, the other is told it changed meanwhile.
    let (race, _) = sign(&app, "126/STP-LLTP").await;
    let body = || serde_json::json!({"reason": "Trùng"});
    let (a, b) = tokio::join!(
        change(&app, &race, "revoke", Role::Portal, body()),
        change(&app, &race, "revoke", Role::Admin, body()),
    );
    let mut codes = [a.0, b.0];
    codes.sort_unstable();
    assert_eq!(codes, [200, 409], "{a:?} {b:?}");
    assert_eq!(
        app.store
            .document_status_history(&race)
            .await
            .unwrap()
            .len(),
        1
    );

    // A log entry edited behind antin's back: the proof no longer checks, and the page says so.
    let (_, v) = json(&app, &format!("/v1/documents/{new}/status")).await;
    let signed_at = v["log"]["index"].as_i64().unwrap();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(secrecy::ExposeSecret::expose_secret(
        &app.config.database.url,
    ))
    .await
    .unwrap();
    let done = sqlx::query(
        "UPDATE log_entries SET body = REPLACE(body, '\"profile\":\"default\"', '\"profile\":\"defaulT\"') WHERE idx = $1",
    )
    .bind(signed_at)
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 1);
    pool.close().await;
    let (_, _, html) = page(&app, &format!("/v/{new}")).await;
    assert!(
        html.contains("data-proof=\"failed\"") && !html.contains("data-proof=\"checked\""),
        "{html}"
    );
    assert!(html.contains("KHÔNG kiểm tra được"));
    let (_, v) = json(&app, &format!("/v1/documents/{new}/status")).await;
    assert_eq!(v["log"]["inclusion"], "failed");
    app.stop().await;
}
on_both_databases!(states_tests, the_states_in_html_and_json);

async fn bad_ids(db: Db) {
    let app = common::spawn_app(db).await;
    let (s, h, html) = page(&app, "/v/00000000-0000-0000-0000-000000000000").await;
    assert_eq!(s, 404);
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert!(html.contains("Không tìm thấy văn bản"), "{html}");
    for bad in [
        "/v/not-an-id",
        "/v/%00",
        "/v/00000000-0000-0000-0000-00000000000G",
        "/v/00000000000000000000000000000000",
    ] {
        let (s, _, html) = page(&app, bad).await;
        assert_eq!(s, 400, "{bad}");
        assert!(html.contains("không đúng định dạng"), "{bad}");
    }
    let (s, v) = json(&app, "/v1/documents/not-an-id/status").await;
    assert_eq!((s, v["error"]["code"].as_str()), (400, Some("bad_request")));
    let (s, v) = json(
        &app,
        "/v1/documents/00000000-0000-0000-0000-000000000000/status",
    )
    .await;
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("not_found")));
    let (s, v) = change(
        &app,
        "00000000-0000-0000-0000-000000000000",
        "revoke",
        Role::Admin,
        serde_json::json!({"reason": "x"}),
    )
    .await;
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("not_found")));
    let (s, _, html) = page(&app, "/verify?lang=en").await;
    assert_eq!(s, 200);
    assert!(html.contains("enctype=\"multipart/form-data\""));
    app.stop().await;
}
on_both_databases!(bad_id_tests, bad_ids);

async fn uploads(db: Db) {
    let app = common::spawn_app_with(db, &[("ANTIN_CHECK__MAX_UPLOAD_BYTES", "1048576")]).await;
    let (id, signed) = sign(&app, "200/STP").await;

    // The issued file, against its id and found by its hash.
    for named in [Some(id.as_str()), None] {
        let r = upload(&app, signed.clone(), named).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let html = r.text().await.unwrap();
        assert!(html.contains("data-light=\"green\""), "{html}");
        assert!(html.contains("data-identical=\"true\""));
        assert!(html.contains("giống hệt từng byte"));
        assert!(html.contains("<details>"));
        assert!(html.contains(&id));
    }
    // In English.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(signed.clone()).file_name("a.pdf"),
        )
        .text("document_id", id.clone())
        .text("lang", "en");
    let html = app
        .client
        .post(app.url("/verify"))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("byte-for-byte identical"), "{html}");

    // A tampered copy: red, and not the issued file.
    let html = upload(&app, tampered(&signed), Some(&id))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-light=\"red\""), "{html}");
    assert!(html.contains("data-identical=\"false\""));
    assert!(html.contains("KHÔNG giống hệt"));
    // The largest page (two signatures' details): still far under 100 KB.
    assert!(
        html.len() < 100 * 1024,
        "result page weight {} bytes",
        html.len()
    );
    eprintln!(
        "result page weight (tampered, details): {} bytes",
        html.len()
    );

    // Nothing was stored: no verification records, no log entries from uploads.
    let size_before = app.store.log_size().await.unwrap();
    let _ = upload(&app, signed.clone(), None)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(app.store.log_size().await.unwrap(), size_before);

    // A citizen's signed application: its CCCD never shows.
    let citizen = std::fs::read(common::fixture("pdf/signed-approval.pdf")).unwrap();
    let html = upload(&app, citizen, None).await.text().await.unwrap();
    assert!(!html.contains("001099012345"), "{html}");

    // Revoked: the issued file is now red.
    let (s, _) = change(
        &app,
        &id,
        "revoke",
        Role::Portal,
        serde_json::json!({"reason": "Thu hồi"}),
    )
    .await;
    assert_eq!(s, 200);
    let html = upload(&app, signed.clone(), Some(&id))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("data-light=\"red\"") && html.contains("đã thu hồi"),
        "{html}"
    );

    // Not a PDF; no file; an unknown or malformed id.
    let r = upload(&app, b"GIF89a not a pdf".to_vec(), None).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("không phải là tệp PDF"));
    let r = upload(&app, b"%PDF-1.7 broken".to_vec(), None).await;
    assert_eq!(r.status(), 422);
    let r = upload(&app, Vec::new(), None).await;
    assert_eq!(r.status(), 400);
    let r = upload(
        &app,
        signed.clone(),
        Some("00000000-0000-0000-0000-000000000000"),
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = upload(&app, signed.clone(), Some("nope")).await;
    assert_eq!(r.status(), 400);
    let r = app
        .client
        .post(app.url("/verify"))
        .header("accept", BROWSER_ACCEPT)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Too large: 413 as a page, whether caught by the form limit or by the file check.
    for size in [1024 * 1024 + 1, 3 * 1024 * 1024] {
        let mut big = b"%PDF-1.7\n".to_vec();
        big.resize(size, b' ');
        let r = upload(&app, big, None).await;
        assert_eq!(r.status(), 413, "{size}");
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        assert!(r.text().await.unwrap().contains("Tệp quá lớn"));
    }
    app.stop().await;
}
on_both_databases!(upload_tests, uploads);

async fn rate_limited(db: Db) {
    let app = common::spawn_app_with(
        db,
        &[
            ("ANTIN_CHECK__RATE_BURST", "3"),
            ("ANTIN_CHECK__RATE_PER_MINUTE", "1"),
        ],
    )
    .await;
    for _ in 0..3 {
        let (s, _, _) = page(&app, "/verify").await;
        assert_eq!(s, 200);
    }
    let (s, h, html) = page(&app, "/verify").await;
    assert_eq!(s, 429);
    let wait: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(html.contains("Quá nhiều yêu cầu"));
    let (s, v) = json(
        &app,
        "/v1/documents/00000000-0000-0000-0000-000000000000/status",
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (429, Some("rate_limited"))
    );
    // The authenticated API is not the public pages' budget.
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;
}
on_both_databases!(rate_limit_tests, rate_limited);

/// The QR code antin stamps decodes to the address of this very page, and that address serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs poppler-utils (pdftoppm) and zbar-tools (zbarimg): full suite"]
async fn the_qr_code_leads_to_the_page() {
    use std::process::Command;
    for (tool, probe) in [("pdftoppm", "-v"), ("zbarimg", "--version")] {
        if Command::new(tool).arg(probe).output().is_err() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{tool} missing under CI=true"
            );
            eprintln!("skipping: {tool} is not installed");
            return;
        }
    }
    let app = common::spawn_app_with(Db::Sqlite, &[("ANTIN_SERVER__PUBLIC_URL", "auto")]).await;
    let (id, signed) = sign(&app, "300/STP").await;
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("signed.pdf");
    std::fs::write(&pdf, &signed).unwrap();
    let st = Command::new("pdftoppm")
        .args(["-r", "150", "-png", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&pdf)
        .arg(dir.path().join("page"))
        .status()
        .unwrap();
    assert!(st.success());
    let z = Command::new("zbarimg")
        .args(["-q", "--raw"])
        .arg(dir.path().join("page.png"))
        .output()
        .unwrap();
    let url = String::from_utf8_lossy(&z.stdout).trim().to_owned();
    assert_eq!(url, app.url(&format!("/v/{id}")));
    let r = app
        .client
        .get(&url)
        .header("accept", BROWSER_ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("data-status=\"valid\"") && html.contains(&id));
    app.stop().await;
}

/// An upload refused by the server-wide body limit before any handler runs still gets a page
/// (and the JSON API keeps its JSON error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_server_limit_gets_a_page_too() {
    let app =
        common::spawn_app_with(Db::Sqlite, &[("ANTIN_SERVER__MAX_BODY_BYTES", "65536")]).await;
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(200 * 1024, b' ');
    let r = upload(&app, big.clone(), None).await;
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert!(r.text().await.unwrap().contains("Tệp quá lớn"));
    let r = app
        .client
        .post(app.url("/v1/verifications"))
        .bearer_auth(app.key(Role::Portal))
        .multipart(
            reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(big)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "payload_too_large");
    app.stop().await;
}
