//! Reconciliation storage and CLI on both databases: idempotent imports by SHA-256, rejected files
//! store nothing, repeated statements are refused, runs and resolutions are appended with their
//! log entries and correcting postings; the `antin recon` commands end to end on SQLite.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use antin::recon::service::{self, ReconError};
use antin::recon::Class;
use antin::store::recon::Imported;
use antin::store::Store;
use common::Db;
use time::macros::{date, datetime};

async fn open(db: Db, dir: &Path) -> (Store, antin::config::Config, String) {
    let url = match db {
        Db::Sqlite => format!("sqlite://{}", dir.join("s.db").display()),
        Db::Postgres => common::fresh_postgres_database().await,
    };
    let config = common::test_config(dir, &url, &[]);
    (Store::connect(&config.database).await.unwrap(), config, url)
}

fn sample(name: &str) -> PathBuf {
    common::fixture("recon").join(name)
}

/// The ledger of the samples' day (fixtures/recon/README.md), written as the payments module
/// stores it.
async fn seed_ledger(url: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let t = "2026-11-21T03:00:00.000000Z";
    let pays = [
        ("p1", "vnpay", "A1001", "14000001", 50_000),
        ("p2", "vnpay", "A1002", "14000002", 120_000),
        ("p3", "momo", "M2001", "3100000001", 200_000),
        ("p4", "vietqr", "Q4001", "", 30_000),
        // A payment the VNPAY file does not list: missing at the gateway.
        ("p5", "vnpay", "A1003", "14000009", 70_000),
    ];
    for (id, gw, r, txn, amount) in pays {
        sqlx::query(
            "INSERT INTO payments (id, portal, dossier_ref, agency, procedure_code, fee_code, amount, \
             payer_name, collection_account, description, state, version, refunded, expires_at, \
             created_at, updated_at) VALUES ($1,'dev-portal',$2,'dev','1.0001','LP01',$3,'Nguyễn Văn A',\
             '113366668888','Lệ phí','succeeded',3,0,$4,$4,$4)",
        )
        .bind(id)
        .bind(format!("HS-{id}"))
        .bind(amount)
        .bind(t)
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO payment_attempts (id, payment_id, seq, gateway, attempt_ref, gateway_ref, \
             state, amount, gateway_txn_id, client_ip, created_at, updated_at, expires_at, query_count) \
             VALUES ($1,$2,1,$3,$4,$4,'succeeded',$5,$6,'127.0.0.1',$7,$7,$7,0)",
        )
        .bind(format!("a-{id}"))
        .bind(id)
        .bind(gw)
        .bind(r)
        .bind(amount)
        .bind(if txn.is_empty() { None } else { Some(txn) })
        .bind(t)
        .execute(&pool)
        .await
        .unwrap();
    }
    for (id, pay, r, txn, amount) in [
        ("r1", "p1", "RFA1001", "14000003", 50_000),
        ("r2", "p3", "RF2001", "3100000002", 20_000),
    ] {
        sqlx::query(
            "INSERT INTO payment_refunds (id, payment_id, attempt_id, refund_ref, amount, full_refund, \
             reason, state, gateway_refund_id, created_by, created_at, updated_at, tries) \
             VALUES ($1,$2,$3,$4,$5,1,'hoàn','succeeded',$6,'key:x',$7,$7,0)",
        )
        .bind(id)
        .bind(pay)
        .bind(format!("a-{pay}"))
        .bind(r)
        .bind(amount)
        .bind(txn)
        .bind("2026-11-21T09:00:00.000000Z")
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
}

async fn import_run_resolve(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let (store, config, url) = open(db, dir.path()).await;
    seed_ledger(&url).await;
    let cfg = &config.recon;
    let now = datetime!(2026-11-24 01:00:00 UTC);
    let imp = |f: &'static str, src: &'static str| {
        let store = store.clone();
        let cfg = cfg.clone();
        async move { service::import_file(&store, &cfg, &sample(f), src, "cli:test", now).await }
    };
    let (first, sha) = imp("vnpay-2026-11-21.csv", "vnpay").await.unwrap();
    assert_eq!(first, Imported::New(3));
    // The same file again changes nothing.
    assert_eq!(
        imp("vnpay-2026-11-21.csv", "vnpay").await.unwrap(),
        (Imported::AlreadyImported, sha)
    );
    assert_eq!(
        imp("momo-2026-11-21.csv", "momo").await.unwrap().0,
        Imported::New(2)
    );
    assert_eq!(
        imp("statement-2026-11-21.mt940", "bank").await.unwrap().0,
        Imported::New(6)
    );
    // The same statement number in another file (a re-issued copy): refused, nothing kept.
    let copy = dir.path().join("statement-copy.mt940");
    let text = std::fs::read_to_string(sample("statement-2026-11-21.mt940")).unwrap();
    std::fs::write(&copy, text.replacen(":20:STMT261121", ":20:STMT261121B", 1)).unwrap();
    let e = service::import_file(&store, cfg, &copy, "bank", "cli:test", now)
        .await
        .unwrap_err();
    let ReconError::Rejected(r) = e else {
        panic!("{e}")
    };
    assert!(
        r.problems[0]
            .reason
            .contains("already imported from another file"),
        "{r}"
    );
    assert_eq!(r.problems[0].file, "statement-copy.mt940");
    // A statement already imported (the unbalanced copy is refused first for balance; the
    // duplicate-number file repeats 325/1 within itself).
    let e = imp("bad/mt940-unbalanced.mt940", "bank").await.unwrap_err();
    assert!(matches!(e, ReconError::Rejected(_)), "{e}");
    let e = imp("bad/vnpay-totals-wrong.csv", "vnpay")
        .await
        .unwrap_err();
    let ReconError::Rejected(r) = e else {
        panic!("{e}")
    };
    assert_eq!(r.problems[0].file, "vnpay-totals-wrong.csv");
    assert_eq!(r.problems[0].line, 5);
    // Nothing of a rejected file is kept: importing it would be "new" again next time.
    let sha_bad = antin::recon::import::sha256_of(
        std::fs::File::open(sample("bad/vnpay-totals-wrong.csv")).unwrap(),
        1 << 20,
    )
    .unwrap();
    assert!(!store.recon_file_imported(&sha_bad).await.unwrap());

    let (run_id, o) = service::run(
        &store,
        cfg,
        date!(2026 - 11 - 21),
        None,
        date!(2026 - 11 - 24),
        "cli:test",
        now,
    )
    .await
    .unwrap();
    let classes: Vec<Class> = o.discrepancies.iter().map(|d| d.class).collect();
    assert_eq!(
        classes,
        vec![
            Class::MissingAtGateway,
            Class::MissingInLedger,
            Class::WrongAccount
        ],
        "{:#?}",
        o.discrepancies
    );
    assert!(!run_id.is_empty());
    let ds = store
        .recon_discrepancies(Some(date!(2026 - 11 - 21)))
        .await
        .unwrap();
    assert_eq!(ds.len(), 3);
    let missing = ds
        .iter()
        .find(|d| d.discrepancy.class == Class::MissingAtGateway)
        .unwrap();
    let log_before = store.log_size().await.unwrap();
    let lines_before = store.ledger_lines(None).await.unwrap().len();
    let done = service::resolve(
        &store,
        &missing.id,
        "tra soát với VNPAY số 123: giao dịch bị hủy",
        "cli:officer",
        now,
    )
    .await
    .unwrap();
    let res = done.resolution.unwrap();
    assert_eq!(res.resolved_by, "cli:officer");
    assert!(
        res.posting_ref.is_some(),
        "money is involved: a correcting posting"
    );
    let lines = store.ledger_lines(None).await.unwrap();
    assert_eq!(lines.len(), lines_before + 2);
    assert_eq!(lines.iter().map(|l| l.2.amount).sum::<i64>(), 0);
    assert!(lines.iter().any(|l| l.1 == "recon_adjustment"));
    assert_eq!(store.log_size().await.unwrap(), log_before + 1);
    // Resolved once only.
    let e = service::resolve(&store, &missing.id, "again", "cli:officer", now)
        .await
        .unwrap_err();
    assert!(matches!(e, ReconError::AlreadyResolved(_)), "{e}");
    // A wrong-account discrepancy involves no ledger money: no posting.
    let wrong = ds
        .iter()
        .find(|d| d.discrepancy.class == Class::WrongAccount)
        .unwrap();
    let r = service::resolve(
        &store,
        &wrong.id,
        "Kho bạc chuyển về đúng tài khoản",
        "cli:officer",
        now,
    )
    .await
    .unwrap();
    assert!(r.resolution.unwrap().posting_ref.is_none());
    // A second run of the day keeps what was resolved (same keys).
    service::run(
        &store,
        cfg,
        date!(2026 - 11 - 21),
        None,
        date!(2026 - 11 - 24),
        "cli:test",
        now,
    )
    .await
    .unwrap();
    let ds = store
        .recon_discrepancies(Some(date!(2026 - 11 - 21)))
        .await
        .unwrap();
    let open: Vec<Class> = ds
        .iter()
        .filter(|d| d.resolution.is_none())
        .map(|d| d.discrepancy.class)
        .collect();
    assert_eq!(open, vec![Class::MissingInLedger]);
}

on_both_databases!(import_run_resolve_tests, import_run_resolve);

async fn import_reports_progress(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let (store, config, _) = open(db, dir.path()).await;
    let now = datetime!(2026-11-24 01:00:00 UTC);
    for (file, source, rows) in [
        ("zalopay-2026-11-21.csv", "zalopay", 2),
        ("statement-2026-11-21.mt940", "bank", 6),
    ] {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        let progress: service::ProgressFn =
            std::sync::Arc::new(move |p| sink.lock().unwrap().push(p));
        let (imported, _) = service::import_file_with_progress(
            &store,
            &config.recon,
            &sample(file),
            source,
            "cli:test",
            now,
            Some(progress),
        )
        .await
        .unwrap();
        assert_eq!(imported, Imported::New(rows));
        let seen = seen.lock().unwrap();
        let last = seen.last().copied().unwrap();
        let len = std::fs::metadata(sample(file)).unwrap().len();
        assert!(last.done, "{seen:?}");
        assert_eq!(
            (last.bytes, last.total, last.rows),
            (len, len, rows),
            "{seen:?}"
        );
    }
}

on_both_databases!(import_reports_progress_tests, import_reports_progress);

fn antin(db: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_antin"))
        .args(args)
        .env("ANTIN_DATABASE__URL", db)
        .env_remove("ANTIN_LANG")
        .env_remove("ANTIN_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn recon_cli_end_to_end_with_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("cli.db").display());
    let f = |n: &str| sample(n).display().to_string();
    let (code, out, err) = antin(
        &db,
        &[
            "recon",
            "import",
            &f("momo-2026-11-21.csv"),
            "--source",
            "momo",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Đã nhập 2 dòng"), "{out}");
    // No progress bar when stderr is not a terminal.
    assert!(err.is_empty(), "{err}");
    let (code, out, _) = antin(
        &db,
        &[
            "recon",
            "import",
            &f("momo-2026-11-21.csv"),
            "--source",
            "momo",
        ],
    );
    assert_eq!(code, 0);
    assert!(out.contains("đã được nhập"), "{out}");
    // Bad input: exit >= 64 with file, line and reason.
    let (code, _, err) = antin(
        &db,
        &[
            "recon",
            "import",
            &f("bad/vnpay-truncated.csv"),
            "--source",
            "vnpay",
        ],
    );
    assert_eq!(code, 65, "{err}");
    assert!(
        err.contains("vnpay-truncated.csv:5: no totals row"),
        "{err}"
    );
    let (code, _, _) = antin(
        &db,
        &["recon", "import", "/nonexistent.csv", "--source", "vnpay"],
    );
    assert_eq!(code, 66);
    let (code, _, _) = antin(
        &db,
        &[
            "recon",
            "import",
            &f("momo-2026-11-21.csv"),
            "--source",
            "paypal",
        ],
    );
    assert_eq!(code, 64);
    let (code, _, _) = antin(&db, &["recon", "run", "--date", "21/11/2026"]);
    assert_eq!(code, 64);
    // MoMo's rows have no ledger behind them: open discrepancies, exit 1.
    let (code, out, err) = antin(
        &db,
        &[
            "recon",
            "run",
            "--date",
            "2026-11-21",
            "--as-of",
            "2026-11-24",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    let (code, out, _) = antin(&db, &["recon", "report", "--date", "2026-11-21"]);
    assert_eq!(code, 1);
    assert!(out.contains("BÁO CÁO ĐỐI SOÁT NGÀY 21/11/2026"), "{out}");
    assert!(out.contains("Thiếu trong sổ của antin"), "{out}");
    assert!(out.contains("200.000"), "{out}");
    let (_, out, _) = antin(
        &db,
        &["--lang", "en", "recon", "report", "--date", "2026-11-21"],
    );
    assert!(
        out.contains("Missing in our ledger") && out.contains("200,000"),
        "{out}"
    );
    let (code, out, _) = antin(
        &db,
        &[
            "recon",
            "report",
            "--date",
            "2026-11-21",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ds = v["discrepancies"].as_array().unwrap();
    // Both MoMo rows are unknown to the ledger, and MoMo's payout is not at the bank past its SLA.
    assert_eq!(ds.len(), 3, "{out}");
    // The workbook and the signed PDF, to --out (stdout is not a terminal here, so `-` works too).
    let xlsx = dir.path().join("r.xlsx");
    let args = |fmt: &'static str, out: &Path| {
        let out = out.display().to_string();
        antin(
            &db,
            &[
                "recon",
                "report",
                "--date",
                "2026-11-21",
                "--format",
                fmt,
                "--out",
                &out,
            ],
        )
    };
    let (code, _, err) = args("xlsx", &xlsx);
    assert_eq!(code, 1, "{err}");
    assert!(std::fs::read(&xlsx).unwrap().starts_with(b"PK"));
    let pdf = dir.path().join("r.pdf");
    let (code, _, err) = args("pdf", &pdf);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("Đã ký số bằng hồ sơ default"), "{err}");
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF-1.7"));
    let doc = antin::pdf::parse(&bytes, &antin::pdf::Limits::default()).unwrap();
    assert!(!doc.signatures().unwrap().is_empty());
    let (code, out, _) = antin(
        &db,
        &[
            "recon",
            "report",
            "--date",
            "2026-11-21",
            "--format",
            "pdf",
            "--out",
            "-",
        ],
    );
    assert_eq!(code, 1);
    assert!(out.starts_with("%PDF"));
    let (_, csv, _) = antin(
        &db,
        &["recon", "discrepancies", "--open", "--format", "csv"],
    );
    assert!(csv.starts_with("\u{feff}id,date,class"), "{csv}");
    for d in ds {
        let id = d["id"].as_str().unwrap();
        let (code, out, err) = antin(
            &db,
            &["recon", "resolve", id, "--reason", "hoàn tiền thủ công"],
        );
        assert_eq!(code, 0, "{out}{err}");
    }
    let (code, out, _) = antin(&db, &["recon", "discrepancies", "--open"]);
    assert_eq!(code, 0, "{out}");
    let (code, _, _) = antin(&db, &["recon", "report", "--date", "2026-11-21"]);
    assert_eq!(code, 0);
    let (code, _, _) = antin(&db, &["recon", "resolve", "no-such-id", "--reason", "x"]);
    assert_eq!(code, 65);
}
