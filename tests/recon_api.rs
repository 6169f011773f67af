//! The reconciliation API (`/v1/reconciliation/...`), black-box over HTTPS on SQLite and
//! PostgreSQL: roles, idempotent uploads, rejected files with file/line/reason, runs, reports,
//! discrepancies and resolutions (each mutation in the transparency log); and `antin recon
//! --remote` against the same server, with the local CLI's output and exit codes.

mod common;

use std::process::Command;

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
        .contains(&format!("doi-soat-{DAY}.csv")));
    let csv = r.text().await.unwrap();
    assert!(csv.starts_with("\u{feff}id,date,class,label"), "{csv}");
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.contains("Missing in our ledger"), "{csv}");
    // The workbook and the official PDF, the latter signed by the server's service key.
    for (format, content_type, magic) in [
        ("xlsx", "application/vnd.openxmlformats", &b"PK"[..]),
        ("pdf", "application/pdf", &b"%PDF-"[..]),
    ] {
        let r = app
            .client
            .get(app.url(&format!("/v1/reconciliation/reports/{DAY}?format={format}")))
            .bearer_auth(&fin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{format}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(content_type));
        assert!(r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("doi-soat-{DAY}.{format}")));
        let body = r.bytes().await.unwrap();
        assert!(body.starts_with(magic), "{format}");
        if format == "pdf" {
            let doc = antin::pdf::parse(&body, &antin::pdf::Limits::default()).unwrap();
            let fields = doc.signatures().unwrap();
            // The signature, and a document timestamp at the profile's B-LTA level.
            assert!(!fields.is_empty(), "the PDF report is signed");
        }
    }
    let (s, _) = get_json(
        &app,
        &fin,
        &format!("/v1/reconciliation/reports/{DAY}?format=docx"),
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
    // Import, run, the signed PDF report (an issued document), the resolution.
    assert_eq!(app.store.log_size().await.unwrap(), log0 + 4);
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
    assert_eq!(app.store.log_size().await.unwrap(), log0 + 4);
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

fn antin(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_antin"));
    cmd.args(args)
        // A local database that must stay untouched: --remote never opens it.
        .env("ANTIN_DATABASE__URL", "sqlite:///nonexistent-dir/never.db")
        .env_remove("ANTIN_LANG")
        .env_remove("ANTIN_CONFIG")
        .env_remove("ANTIN_REMOTE")
        .env_remove("ANTIN_API_KEY")
        .env_remove("ANTIN_CA");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `antin recon ... --remote`: the same output and exit codes as against the local database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_remote_against_a_server() {
    let app = spawn_app(Db::Sqlite).await;
    let base = app.base.clone();
    let ca = app.ca_path.display().to_string();
    let fin = app.key(Role::Finance).to_owned();
    let portal = app.key(Role::Portal).to_owned();
    let file = |n: &str| common::fixture("recon").join(n).display().to_string();
    let env = [
        ("ANTIN_REMOTE", base.as_str()),
        ("ANTIN_API_KEY", fin.as_str()),
        ("ANTIN_CA", ca.as_str()),
    ];
    let run = |args: Vec<String>, env: Vec<(String, String)>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            antin(&args, &env)
        })
    };
    let owned = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let env_of = |e: &[(&str, &str)]| {
        e.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>()
    };
    let momo = file("momo-2026-11-21.csv");

    // Flags rather than the environment.
    let (code, out, err) = run(
        owned(&[
            "recon",
            "import",
            &momo,
            "--source",
            "momo",
            "--remote",
            &base,
            "--api-key",
            &fin,
            "--ca",
            &ca,
        ]),
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Đã nhập 2 dòng"), "{out}");
    assert!(out.contains("momo-2026-11-21.csv"), "{out}");
    let (code, out, _) = run(
        owned(&["recon", "import", &momo, "--source", "momo"]),
        env_of(&env),
    )
    .await
    .unwrap();
    assert_eq!(code, 0);
    assert!(out.contains("đã được nhập"), "{out}");
    // A rejected file: 65 and file:line: reason, as locally.
    let (code, _, err) = run(
        owned(&[
            "recon",
            "import",
            &file("bad/vnpay-truncated.csv"),
            "--source",
            "vnpay",
        ]),
        env_of(&env),
    )
    .await
    .unwrap();
    assert_eq!(code, 65, "{err}");
    assert!(
        err.contains("vnpay-truncated.csv:5: no totals row"),
        "{err}"
    );
    let (code, _, _) = run(
        owned(&["recon", "import", "/nonexistent.csv", "--source", "vnpay"]),
        env_of(&env),
    )
    .await
    .unwrap();
    assert_eq!(code, 66);
    // A portal key: 77; a wrong key: 77; nobody listening: 69; plain HTTP refused: 64.
    let (code, _, err) = run(
        owned(&["recon", "discrepancies", "--api-key", &portal]),
        env_of(&env[..1])
            .into_iter()
            .chain(env_of(&env[2..]))
            .collect(),
    )
    .await
    .unwrap();
    assert_eq!(code, 77, "{err}");
    let bad_key = format!("antin_{}", "A".repeat(43));
    let (code, _, _) = run(
        owned(&["recon", "discrepancies", "--api-key", &bad_key]),
        env_of(&env[..1])
            .into_iter()
            .chain(env_of(&env[2..]))
            .collect(),
    )
    .await
    .unwrap();
    assert_eq!(code, 77);
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("https://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let (code, _, _) = run(
        owned(&["recon", "discrepancies", "--remote", &dead]),
        env_of(&env),
    )
    .await
    .unwrap();
    assert_eq!(code, 69);
    let plain = base.replacen("https://", "http://", 1);
    let (code, _, _) = run(
        owned(&["recon", "discrepancies", "--remote", &plain]),
        env_of(&env),
    )
    .await
    .unwrap();
    assert_eq!(code, 64);

    // Run, report (table, English table, JSON), as locally: open discrepancies, exit 1.
    let (code, out, err) = run(
        owned(&["recon", "run", "--date", DAY, "--as-of", "2026-11-24"]),
        env_of(&env),
    )
    .await
    .unwrap();
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("0 khớp, 3 chênh lệch"), "{out}");
    let (code, out, _) = run(owned(&["recon", "report", "--date", DAY]), env_of(&env))
        .await
        .unwrap();
    assert_eq!(code, 1);
    assert!(out.contains("BÁO CÁO ĐỐI SOÁT NGÀY 21/11/2026"), "{out}");
    assert!(
        out.contains("Thiếu trong sổ của antin") && out.contains("200.000"),
        "{out}"
    );
    let (_, out, _) = run(
        owned(&["--lang", "en", "recon", "report", "--date", DAY]),
        env_of(&env),
    )
    .await
    .unwrap();
    assert!(
        out.contains("Missing in our ledger") && out.contains("200,000"),
        "{out}"
    );
    let (code, out, _) = run(
        owned(&["recon", "report", "--date", DAY, "--format", "json"]),
        env_of(&env),
    )
    .await
    .unwrap();
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    let ds = v["discrepancies"].as_array().unwrap().clone();
    assert_eq!(ds.len(), 3, "{out}");
    // The workbook rendered here from the fetched report; the PDF signed by the server.
    let outdir = tempfile::tempdir().unwrap();
    for (format, magic) in [("xlsx", &b"PK"[..]), ("pdf", &b"%PDF-"[..])] {
        let path = outdir.path().join(format!("r.{format}"));
        let p = path.display().to_string();
        let (code, out, err) = run(
            owned(&[
                "recon", "report", "--date", DAY, "--format", format, "--out", &p,
            ]),
            env_of(&env),
        )
        .await
        .unwrap();
        assert_eq!(code, 1, "{out}{err}");
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(magic), "{format}");
    }
    // Byte for byte what the local form prints over the server's own database.
    let local_db = {
        use secrecy::ExposeSecret as _;
        app.config.database.url.expose_secret().to_owned()
    };
    for args in [
        &["recon", "report", "--date", DAY][..],
        &["--lang", "en", "recon", "report", "--date", DAY],
        &["recon", "report", "--date", DAY, "--format", "json"],
        &["recon", "report", "--date", DAY, "--format", "csv"],
        &["recon", "discrepancies", "--date", DAY],
        &["recon", "discrepancies", "--open", "--format", "json"],
    ] {
        let remote = run(owned(args), env_of(&env)).await.unwrap();
        let local = run(
            owned(args),
            vec![("ANTIN_DATABASE__URL".to_owned(), local_db.clone())],
        )
        .await
        .unwrap();
        assert_eq!(remote, local, "{args:?}");
    }
    let (code, _, _) = run(
        owned(&["recon", "report", "--date", "2026-11-22"]),
        env_of(&env),
    )
    .await
    .unwrap();
    assert_eq!(code, 65);
    let (_, csv, _) = run(
        owned(&["recon", "discrepancies", "--open", "--format", "csv"]),
        env_of(&env),
    )
    .await
    .unwrap();
    assert!(csv.starts_with("\u{feff}id,date,class"), "{csv}");
    assert_eq!(csv.lines().count(), 4, "{csv}");
    // Resolve all: then nothing is open, exit 0; twice or unknown: 65.
    for d in &ds {
        let id = d["id"].as_str().unwrap();
        let (code, out, err) = run(
            owned(&["recon", "resolve", id, "--reason", "hoàn tiền thủ công"]),
            env_of(&env),
        )
        .await
        .unwrap();
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("Đã xử lý chênh lệch"), "{out}");
    }
    let id = ds[0]["id"].as_str().unwrap();
    let (code, _, err) = run(
        owned(&["recon", "resolve", id, "--reason", "x"]),
        env_of(&env),
    )
    .await
    .unwrap();
    assert_eq!(code, 65, "{err}");
    let (code, _, _) = run(
        owned(&["recon", "resolve", "no-such-id", "--reason", "x"]),
        env_of(&env),
    )
    .await
    .unwrap();
    assert_eq!(code, 65);
    let (code, out, _) = run(owned(&["recon", "discrepancies", "--open"]), env_of(&env))
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");
    let (code, _, _) = run(owned(&["recon", "report", "--date", DAY]), env_of(&env))
        .await
        .unwrap();
    assert_eq!(code, 0);
    // Everything went through the server, as the key's caller.
    let resolved = app.store.recon_discrepancies(None).await.unwrap();
    assert!(resolved.iter().all(|d| d
        .resolution
        .as_ref()
        .is_some_and(|r| r.resolved_by.starts_with("key:"))));
    app.stop().await;
}
