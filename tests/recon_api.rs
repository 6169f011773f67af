//! The reconciliation API (`/v1/reconciliation/...`), black-box over HTTPS on SQLite and
//! PostgreSQL: roles, idempotent uploads, rejected files with file/line/reason, runs, reports,
//! discrepancies and resolutions (each mutation in the transparency log); and `antin recon
//! --remote` against the same server, with the local CLI's output and exit codes.

mod common;

use antin::http::auth::Role;
use common::{spawn_app, spawn_app_with, Db, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

const DAY: &str = "2026-11-21";

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(common::fixture("recon").join(name)).unwrap()
}

async fn upload(
    app: &TestApp,
    key: &str,
    source: &str,
    name: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url("/v1/reconciliation/imports"))
        .query(&[("source", source), ("name", name)])
        .bearer_auth(key)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post_json(app: &TestApp, key: &str, path: &str, body: &Value) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url(path))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get_json(app: &TestApp, key: &str, path: &str, lang: &str) -> (StatusCode, Value) {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(key)
        .header("accept-language", lang)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn roles_are_enforced(db: Db) {
    let app = spawn_app(db).await;
    let momo = sample("momo-2026-11-21.csv");
    // No credentials: 401; a portal: 403 for every operation, nothing imported.
    let r = app
        .client
        .post(app.url("/v1/reconciliation/imports?source=momo"))
        .body(momo.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let portal = app.key(Role::Portal).to_owned();
    let (s, v) = upload(&app, &portal, "momo", "momo.csv", momo.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "forbidden");
    let (s, _) = post_json(
        &app,
        &portal,
        "/v1/reconciliation/runs",
        &json!({"date": DAY}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for path in [
        "/v1/reconciliation/discrepancies".to_owned(),
        format!("/v1/reconciliation/reports/{DAY}"),
    ] {
        let (s, _) = get_json(&app, &portal, &path, "vi").await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
    }
    let (s, _) = post_json(
        &app,
        &portal,
        "/v1/reconciliation/discrepancies/x/resolve",
        &json!({"reason": "x"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // An auditor reads but does not change anything.
    let auditor = app.key(Role::Auditor).to_owned();
    let (s, v) = get_json(&app, &auditor, "/v1/reconciliation/discrepancies", "vi").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["discrepancies"], json!([]));
    let (s, _) = upload(&app, &auditor, "momo", "momo.csv", momo.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Admins may do what finance does.
    let (s, v) = upload(&app, app.key(Role::Admin), "momo", "momo.csv", momo).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    app.stop().await;
}
on_both_databases!(roles_are_enforced_db, roles_are_enforced);

async fn import_run_report_resolve(db: Db) {
    let app = spawn_app(db).await;
    let fin = app.key(Role::Finance).to_owned();
    let log0 = app.store.log_size().await.unwrap();

    // The same file twice: imported, then already imported with the same hash.
    let momo = sample("momo-2026-11-21.csv");
    let (s, first) = upload(&app, &fin, "momo", "momo-2026-11-21.csv", momo.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(first["status"], "imported");
    assert_eq!(first["rows"], 2);
    assert_eq!(first["sha256"].as_str().unwrap().len(), 64);
    let (s, again) = upload(&app, &fin, "momo", "momo-2026-11-21.csv", momo).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["status"], "already_imported");
    assert_eq!(again["sha256"], first["sha256"]);
    assert_eq!(
        app.store.log_size().await.unwrap(),
        log0 + 1,
        "one import, one entry"
    );

    // A rejected file: 422 with file, line and reason, in English when asked; nothing kept.
    let r = app
        .client
        .post(app.url("/v1/reconciliation/imports"))
        .query(&[("source", "vnpay"), ("name", "vnpay-truncated.csv")])
        .bearer_auth(&fin)
        .header("content-type", "application/octet-stream")
        .header("accept-language", "en")
        .body(sample("bad/vnpay-truncated.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "recon_file_rejected", "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("The reconciliation file was rejected"));
    let problems = v["error"]["problems"].as_array().unwrap();
    assert!(
        problems.iter().all(|p| p["file"] == "vnpay-truncated.csv"),
        "{v}"
    );
    assert_eq!(problems[0]["line"], 4, "{v}");
    assert_eq!(problems[1]["line"], 5, "{v}");
    assert!(
        problems[1]["reason"]
            .as_str()
            .unwrap()
            .contains("no totals row"),
        "{v}"
    );
    assert_eq!(v["error"]["total"], 2);
    assert_eq!(app.store.log_size().await.unwrap(), log0 + 1);
    // Bad requests.
    let (s, v) = upload(&app, &fin, "paypal", "x.csv", b"a".to_vec()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
    let (s, _) = upload(&app, &fin, "momo", "x.csv", Vec::new()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let r = app
        .client
        .post(app.url("/v1/reconciliation/imports?source=momo"))
        .bearer_auth(&fin)
        .header("content-type", "image/png")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let (s, _) = post_json(
        &app,
        &fin,
        "/v1/reconciliation/runs",
        &json!({"date": "21/11/2026"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = post_json(&app, &fin, "/v1/reconciliation/runs", &json!({"day": DAY})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // No run yet: no report.
    let (s, v) = get_json(
        &app,
        &fin,
        &format!("/v1/reconciliation/reports/{DAY}"),
        "vi",
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["code"], "recon_not_found");

    // The run: MoMo's two rows are unknown to the ledger, and its payout is not at the bank past
    // its SLA.
    let (s, run) = post_json(
        &app,
        &fin,
        "/v1/reconciliation/runs",
        &json!({"date": DAY, "as_of": "2026-11-24"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{run}");
    assert_eq!(run["discrepancies"], 3, "{run}");
    assert_eq!(run["open"], 3);
    assert_eq!(run["matched"], 0);
    assert!(!run["run_id"].as_str().unwrap().is_empty());
    assert_eq!(app.store.log_size().await.unwrap(), log0 + 2);

    // The report: the CLI's JSON shape, and CSV with a file name.
    let (s, rep) = get_json(
        &app,
        &fin,
        &format!("/v1/reconciliation/reports/{DAY}"),
        "vi",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(rep["run_id"], run["run_id"]);
    assert_eq!(rep["outcome"]["date"], DAY, "{rep}");
    assert_eq!(rep["discrepancies"].as_array().unwrap().len(), 3);
    let r = app
        .client
        .get(app.url(&format!("/v1/reconciliation/reports/{DAY}?format=csv")))
        .bearer_auth(&fin)
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains(&format!("recon-{DAY}.csv")));
    let csv = r.text().await.unwrap();
    assert!(csv.starts_with("\u{feff}id,date,class,label"), "{csv}");
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.contains("Missing in our ledger"), "{csv}");
    let (s, _) = get_json(
        &app,
        &fin,
        &format!("/v1/reconciliation/reports/{DAY}?format=pdf"),
        "vi",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Discrepancies: the open ones, one by id, labels in the caller's language.
    let (s, list) = get_json(
        &app,
        &fin,
        &format!("/v1/reconciliation/discrepancies?open=true&date={DAY}"),
        "vi",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let list = list["discrepancies"].as_array().unwrap().clone();
    assert_eq!(list.len(), 3);
    let missing = list
        .iter()
        .find(|d| d["discrepancy"]["class"] == "missing_in_ledger")
        .unwrap();
    assert_eq!(missing["label"], "Thiếu trong sổ của antin");
    let id = missing["id"].as_str().unwrap().to_owned();
    let (s, one) = get_json(
        &app,
        &fin,
        &format!("/v1/reconciliation/discrepancies/{id}"),
        "en",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(one["label"], "Missing in our ledger");
    assert!(one["resolution"].is_null());
    let (s, v) = get_json(&app, &fin, "/v1/reconciliation/discrepancies/nope", "vi").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("recon_not_found"))
    );
    let (s, _) = get_json(
        &app,
        &fin,
        "/v1/reconciliation/discrepancies?open=yes",
        "vi",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Resolve: who (the key) and when, logged; a second time 409.
    let resolve = format!("/v1/reconciliation/discrepancies/{id}/resolve");
    let (s, _) = post_json(&app, &fin, &resolve, &json!({"reason": "  "})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, done) = post_json(
        &app,
        &fin,
        &resolve,
        &json!({"reason": "hoàn tiền thủ công"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{done}");
    let res = &done["resolution"];
    assert_eq!(res["reason"], "hoàn tiền thủ công");
    assert!(
        res["resolved_by"].as_str().unwrap().starts_with("key:"),
        "{done}"
    );
    assert!(!res["resolved_at"].as_str().unwrap().is_empty());
    assert_eq!(app.store.log_size().await.unwrap(), log0 + 3);
    let r = app
        .client
        .post(app.url(&resolve))
        .bearer_auth(&fin)
        .header("accept-language", "en")
        .body(json!({"reason": "again"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "recon_already_resolved");
    assert_eq!(
        v["error"]["message"],
        "This discrepancy was already resolved."
    );
    assert_eq!(app.store.log_size().await.unwrap(), log0 + 3);
    let (s, v) = post_json(
        &app,
        &fin,
        "/v1/reconciliation/discrepancies/nope/resolve",
        &json!({"reason": "x"}),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("recon_not_found"))
    );
    let (s, list) = get_json(
        &app,
        &fin,
        "/v1/reconciliation/discrepancies?open=true",
        "vi",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["discrepancies"].as_array().unwrap().len(), 2);
    app.stop().await;
}
on_both_databases!(import_run_report_resolve_db, import_run_report_resolve);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_over_the_limit_is_refused_while_streaming() {
    let app = spawn_app_with(Db::Sqlite, &[("ANTIN_RECON__MAX_IMPORT_BYTES", "100")]).await;
    let fin = app.key(Role::Finance).to_owned();
    let (s, v) = upload(
        &app,
        &fin,
        "momo",
        "momo.csv",
        sample("momo-2026-11-21.csv"),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["error"]["code"], "payload_too_large");
    // Without a Content-Length (chunked): refused as the body passes the limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(vec![b'a'; 80]), Ok(vec![b'a'; 80])];
    let r = app
        .client
        .post(app.url("/v1/reconciliation/imports?source=momo"))
        .bearer_auth(&fin)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    app.stop().await;
}
