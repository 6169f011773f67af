//! The transparency log on both databases: appends, proofs and checkpoints from the store; several
//! instances appending at once; every decision logged with its record; tampering with the tables
//! found by `antin audit verify-log`, which names the first bad index.

mod common;

use std::process::Command;

use antin::audit::bundle::ProofBundle;
use antin::audit::log::TransparencyLog;
use antin::audit::note::NoteSigner;
use antin::audit::{entry, merkle, note, record};
use antin::config::Config;
use antin::http::auth::Role;
use antin::store::{LogInput, Store};
use common::Db;

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn admin_entry(n: u64) -> LogInput {
    record::admin("test", serde_json::json!({ "n": n }), "test", now())
}

async fn open_url(db: Db, dir: &std::path::Path) -> (TransparencyLog, Config) {
    let url = match db {
        Db::Sqlite => format!("sqlite://{}", dir.join("log.db").display()),
        Db::Postgres => common::fresh_postgres_database().await,
    };
    let config = common::test_config(dir, &url, &[]);
    let store = Store::connect(&config.database).await.unwrap();
    let log = TransparencyLog::open(store, &config.audit, &config.server.public_url).unwrap();
    (log, config)
}

/// The leaf hashes of every stored entry, recomputed from the bodies.
async fn leaves(log: &TransparencyLog) -> Vec<merkle::Hash> {
    let size = log.store().log_size().await.unwrap();
    let mut out = Vec::new();
    let mut start = 0;
    while start < size {
        let rows = log.store().log_entries(start, size).await.unwrap();
        for e in &rows {
            assert_eq!(e.index, out.len() as u64);
            entry::decode(&e.body, e.index).unwrap();
            out.push(merkle::leaf_hash(e.body.as_bytes()));
        }
        start += rows.len() as u64;
    }
    out
}

async fn append_prove_and_checkpoint(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open_url(db, dir.path()).await;
    let verifier = log.verifier().unwrap();
    let mut checkpoints = Vec::new();
    checkpoints.push(log.checkpoint_now(now()).await.unwrap());
    let mut n = 0;
    for batch in [1u64, 36, 1, 1, 1, 1, 1] {
        let inputs: Vec<_> = (n..n + batch).map(admin_entry).collect();
        let indices = log.store().log_append(&inputs, now()).await.unwrap();
        assert_eq!(indices, (n..n + batch).collect::<Vec<_>>());
        n += batch;
        checkpoints.push(log.checkpoint_now(now()).await.unwrap());
    }
    assert_eq!(n, 42);
    let leaves = leaves(&log).await;
    let cp = checkpoints.last().unwrap();
    assert_eq!(cp.size, 42);
    assert_eq!(cp.root, merkle::root_from_leaves(&leaves));
    // The note verifies and says what the table says.
    let opened = note::open(&cp.note, std::slice::from_ref(&verifier)).unwrap();
    let parsed = note::Checkpoint::parse(&opened.text).unwrap();
    assert_eq!((parsed.size, parsed.root), (42, cp.root));
    // Signing again at the same size returns the same checkpoint.
    let again = log.checkpoint_now(now()).await.unwrap();
    assert_eq!(
        (again.size, again.root, &again.note),
        (cp.size, cp.root, &cp.note)
    );
    // Every inclusion proof, at every size that contains the entry.
    for size in 1..=42u64 {
        let root = merkle::root_from_leaves(&leaves[..size as usize]);
        assert_eq!(log.root_at(size).await.unwrap(), root);
        for index in 0..size {
            let proof = log.inclusion_proof(index, size).await.unwrap();
            merkle::verify_inclusion(&leaves[index as usize], index, size, &proof, &root)
                .unwrap_or_else(|e| panic!("index {index} size {size}: {e}"));
        }
    }
    // Every consistency proof between two checkpoints.
    for a in &checkpoints {
        for b in &checkpoints {
            if a.size <= b.size {
                let proof = log.consistency_proof(a.size, b.size).await.unwrap();
                merkle::verify_consistency(a.size, b.size, &a.root, &b.root, &proof).unwrap();
            }
        }
    }
    // Out of range asks are refused, not answered with garbage.
    assert!(log.inclusion_proof(42, 42).await.is_err());
    assert!(log.inclusion_proof(0, 43).await.is_err());
    assert!(log.consistency_proof(10, 5).await.is_err());
    // The offline bundle carries the entry and proves it.
    let bundle = log.bundle(10, now()).await.unwrap();
    let parsed = ProofBundle::parse(&bundle.encode()).unwrap();
    assert_eq!(parsed, bundle);
    let body = String::from_utf8(bundle.extra.clone().unwrap()).unwrap();
    bundle
        .verify(&merkle::leaf_hash(body.as_bytes()), &[verifier])
        .unwrap();
    assert_eq!(entry::decode(&body, 10).unwrap().data["details"]["n"], 10);
}
on_both_databases!(
    append_prove_and_checkpoint_tests,
    append_prove_and_checkpoint
);

/// Two instances (two pools on one database), eight tasks appending and signing checkpoints at
/// once: one history, no gaps, every checkpoint consistent with the final tree.
async fn concurrent_appends_keep_one_history(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let (log_a, config) = open_url(db, dir.path()).await;
    let store_b = Store::connect(&config.database).await.unwrap();
    let log_b = std::sync::Arc::new(
        TransparencyLog::open(store_b, &config.audit, &config.server.public_url).unwrap(),
    );
    let log_a = std::sync::Arc::new(log_a);
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let log = if t % 2 == 0 {
            log_a.clone()
        } else {
            log_b.clone()
        };
        tasks.push(tokio::spawn(async move {
            for i in 0..25u64 {
                let batch = if i % 5 == 0 { 3 } else { 1 };
                let inputs: Vec<_> = (0..batch)
                    .map(|k| admin_entry(t * 1000 + i * 10 + k))
                    .collect();
                log.store().log_append(&inputs, now()).await.unwrap();
                if i % 7 == 0 {
                    log.checkpoint_now(now()).await.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let expected = 8 * (20 + 5 * 3);
    assert_eq!(log_a.store().log_size().await.unwrap(), expected);
    let leaves = leaves(&log_a).await;
    assert_eq!(leaves.len() as u64, expected);
    let final_cp = log_b.checkpoint_now(now()).await.unwrap();
    assert_eq!(final_cp.root, merkle::root_from_leaves(&leaves));
    let all = log_a.store().log_checkpoints().await.unwrap();
    assert!(all.len() >= 2);
    for cp in &all {
        let proof = log_a
            .consistency_proof(cp.size, final_cp.size)
            .await
            .unwrap();
        merkle::verify_consistency(cp.size, final_cp.size, &cp.root, &final_cp.root, &proof)
            .unwrap();
    }
}
on_both_databases!(
    concurrent_appends_tests,
    concurrent_appends_keep_one_history
);

// --- Tampering, found by the auditor's CLI -------------------------------------------------------

struct Tampered {
    _dir: tempfile::TempDir,
    config_env: Vec<(String, String)>,
    url: String,
    vkey: String,
}

/// A log of 30 entries with signed checkpoints at 10 and 30.
async fn thirty_entries(db: Db) -> Tampered {
    entries(db, 30).await
}

/// A log of `n` entries with signed checkpoints at 10 and `n`.
async fn entries(db: Db, n: u64) -> Tampered {
    let dir = tempfile::tempdir().unwrap();
    let (log, config) = open_url(db, dir.path()).await;
    let first: Vec<_> = (0..10).map(admin_entry).collect();
    log.store().log_append(&first, now()).await.unwrap();
    log.checkpoint_now(now()).await.unwrap();
    let rest: Vec<_> = (10..n).map(admin_entry).collect();
    for chunk in rest.chunks(1000) {
        log.store().log_append(chunk, now()).await.unwrap();
    }
    log.checkpoint_now(now()).await.unwrap();
    use secrecy::ExposeSecret;
    let url = config.database.url.expose_secret().to_owned();
    let config_env = vec![
        ("ANTIN_DATABASE__URL".to_owned(), url.clone()),
        (
            "ANTIN_AUDIT__SIGNING_KEY".to_owned(),
            config.audit.signing_key.display().to_string(),
        ),
        (
            "ANTIN_AUDIT__PSEUDONYM_KEY".to_owned(),
            config.audit.pseudonym_key.display().to_string(),
        ),
        ("ANTIN_AUDIT__CREATE_KEYS".to_owned(), "false".to_owned()),
    ];
    let vkey = log.vkey();
    log.store().close().await;
    Tampered {
        _dir: dir,
        config_env,
        url,
        vkey,
    }
}

impl Tampered {
    async fn sql(&self, statements: &[&str]) {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.url).await.unwrap();
        for s in statements {
            sqlx::query(s).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }

    /// `antin audit verify-log --database`: (exit code, stdout, stderr).
    fn verify_log(&self) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_antin"))
            .args([
                "audit",
                "verify-log",
                "--database",
                "--vkey",
                &self.vkey,
                "--lang",
                "en",
            ])
            .current_dir(common::manifest_dir())
            .envs(self.config_env.iter().cloned())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn assert_first_bad(&self, index: u64, what: &str) {
        let (code, out, err) = self.verify_log();
        assert_eq!(code, 1, "{what}: {out}{err}");
        assert!(
            out.contains(&format!("first_bad_index={index}\n")),
            "{what}: expected index {index}: {out}{err}"
        );
    }
}

async fn tampering_is_detected_and_named(db: Db) {
    // The untouched log passes.
    let t = thirty_entries(db).await;
    let (code, out, err) = t.verify_log();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Verified 30 entries"), "{out}");

    // An edited body (still canonical JSON).
    let t = thirty_entries(db).await;
    t.sql(&["UPDATE log_entries SET body = REPLACE(body, '\"n\":7', '\"n\":70') WHERE idx = 7"])
        .await;
    t.assert_first_bad(7, "edited row");

    // A deleted row.
    let t = thirty_entries(db).await;
    t.sql(&["DELETE FROM log_entries WHERE idx = 12"]).await;
    t.assert_first_bad(12, "deleted row");

    // Two rows swapped (reordered), with their stored hashes swapped too.
    let t = thirty_entries(db).await;
    t.sql(&[
        "UPDATE log_entries SET idx = -1 WHERE idx = 3",
        "UPDATE log_entries SET idx = 3 WHERE idx = 5",
        "UPDATE log_entries SET idx = 5 WHERE idx = -1",
        "UPDATE log_nodes SET idx = -1 WHERE level = 0 AND idx = 3",
        "UPDATE log_nodes SET idx = 3 WHERE level = 0 AND idx = 5",
        "UPDATE log_nodes SET idx = 5 WHERE level = 0 AND idx = -1",
    ])
    .await;
    t.assert_first_bad(3, "reordered rows");

    // Truncated: the last entries and the head rolled back.
    let t = thirty_entries(db).await;
    t.sql(&[
        "DELETE FROM log_entries WHERE idx >= 25",
        "DELETE FROM log_nodes WHERE level = 0 AND idx >= 25",
        "UPDATE log_head SET size = 25",
    ])
    .await;
    t.assert_first_bad(25, "truncated log");

    // An edit that also rewrites the stored leaf hash: only the signed checkpoints catch it, and
    // they bound it to after the last matching one (size 10).
    let t = thirty_entries(db).await;
    let body = {
        let store = Store::connect(&antin::config::DatabaseConfig {
            url: t.url.clone().into(),
            max_connections: 1,
            group_commit: true,
        })
        .await
        .unwrap();
        let e = store.log_entries(15, 16).await.unwrap().remove(0);
        store.close().await;
        e.body.replace("\"n\":15", "\"n\":150")
    };
    let leaf = hex::encode(merkle::leaf_hash(body.as_bytes()));
    let body_sql = body.replace('\'', "''");
    let set_leaf = match db {
        Db::Sqlite => format!("UPDATE log_nodes SET hash = X'{leaf}' WHERE level = 0 AND idx = 15"),
        Db::Postgres => {
            format!("UPDATE log_nodes SET hash = '\\x{leaf}'::bytea WHERE level = 0 AND idx = 15")
        }
    };
    t.sql(&[
        &format!("UPDATE log_entries SET body = '{body_sql}' WHERE idx = 15"),
        &set_leaf,
    ])
    .await;
    let (code, out, err) = t.verify_log();
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("first_bad_index=10\n"), "{out}{err}");
    assert!(
        err.contains("does not match its signed checkpoint"),
        "{err}"
    );
}
on_both_databases!(tampering_tests, tampering_is_detected_and_named);

/// Past the first page: `verify-log --database` reads pages of 1,000, each from where the last
/// ended; a deleted row, a deleted whole page and an edit in a later page are each named exactly.
async fn tampering_past_the_first_pages_is_named(db: Db) {
    let t = entries(db, 3_500).await;
    let (code, out, err) = t.verify_log();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Verified 3500 entries"), "{out}");

    let t = entries(db, 3_500).await;
    t.sql(&["DELETE FROM log_entries WHERE idx = 2345"]).await;
    t.assert_first_bad(2345, "deleted row in the third page");

    let t = entries(db, 3_500).await;
    t.sql(&["DELETE FROM log_entries WHERE idx >= 1000 AND idx < 2000"])
        .await;
    t.assert_first_bad(1000, "deleted second page");

    let t = entries(db, 3_500).await;
    t.sql(&[
        "UPDATE log_entries SET body = REPLACE(body, '\"n\":3100', '\"n\":31000') WHERE idx = 3100",
    ])
    .await;
    t.assert_first_bad(3100, "edited row in the last page");
}

on_both_databases!(
    tampering_pages_tests,
    tampering_past_the_first_pages_is_named
);

/// The log refuses to sign a checkpoint that does not extend the last one.
async fn refuses_to_sign_an_inconsistent_checkpoint(db: Db) {
    let t = thirty_entries(db).await;
    // The subtree over entries 0..16, which every later root and proof is built from.
    let leaf = hex::encode([0u8; 32]);
    let set = match db {
        Db::Sqlite => format!("UPDATE log_nodes SET hash = X'{leaf}' WHERE level = 4 AND idx = 0"),
        Db::Postgres => {
            format!("UPDATE log_nodes SET hash = '\\x{leaf}'::bytea WHERE level = 4 AND idx = 0")
        }
    };
    t.sql(&[&set]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::test_config(dir.path(), &t.url, &[]);
    for (k, v) in &t.config_env {
        if k == "ANTIN_AUDIT__SIGNING_KEY" {
            config.audit.signing_key = v.into();
        }
        if k == "ANTIN_AUDIT__PSEUDONYM_KEY" {
            config.audit.pseudonym_key = v.into();
        }
    }
    let store = Store::connect(&config.database).await.unwrap();
    let log = TransparencyLog::open(store, &config.audit, &config.server.public_url).unwrap();
    log.store()
        .log_append(&[admin_entry(99)], now())
        .await
        .unwrap();
    let err = log.checkpoint_now(now()).await.unwrap_err();
    assert!(
        matches!(
            err,
            antin::audit::log::LogError::Inconsistent { old_size: 30, .. }
        ),
        "{err}"
    );
}
on_both_databases!(
    inconsistent_checkpoint_tests,
    refuses_to_sign_an_inconsistent_checkpoint
);

// --- Through the service ---------------------------------------------------------------------

async fn verifications_and_key_changes_are_logged(db: Db) {
    let app = common::spawn_app(db).await;
    // A verification through the API.
    let pdf = std::fs::read(common::fixture("pdf/signed-lt.pdf")).unwrap();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(pdf).file_name("a.pdf"),
    );
    let resp = app
        .client
        .post(app.url("/v1/verifications"))
        .bearer_auth(app.key(Role::Portal))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let report: serde_json::Value = resp.json().await.unwrap();
    let id = report["id"].as_str().unwrap();

    // Anyone may fetch the key and the checkpoint; entries and proofs need an auditor.
    let vkey = app
        .client
        .get(app.url("/v1/log/key"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let verifier = note::NoteVerifier::parse(vkey.trim()).unwrap();
    let resp = app
        .client
        .get(app.url(&format!("/v1/log/lookup?subject=verification:{id}")))
        .bearer_auth(app.key(Role::Portal))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let lookup: serde_json::Value = app
        .client
        .get(app.url(&format!("/v1/log/lookup?subject=verification:{id}")))
        .bearer_auth(app.key(Role::Auditor))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let index = lookup["indices"][0].as_u64().expect("logged");
    let bundle_text = app
        .client
        .get(app.url(&format!("/v1/log/entries/{index}/proof")))
        .bearer_auth(app.key(Role::Auditor))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let bundle = ProofBundle::parse(&bundle_text).unwrap();
    let body = String::from_utf8(bundle.extra.clone().unwrap()).unwrap();
    bundle
        .verify(
            &merkle::leaf_hash(body.as_bytes()),
            std::slice::from_ref(&verifier),
        )
        .unwrap();
    let e = entry::decode(&body, index).unwrap();
    assert_eq!(e.kind, "verification");
    assert_eq!(e.data["verification_id"], id);
    assert_eq!(e.data["verdict"], report["verdict"]);
    assert_eq!(e.data["document_sha256"], report["document"]["sha256"]);
    // No personal identifier in clear: the signer's CCCD is pseudonymised.
    assert!(!body.contains("001099012345"), "{body}");
    assert!(body.contains("hmac-sha256:"), "{body}");

    // The checkpoint is public and verifies.
    let cp = app
        .client
        .get(app.url("/v1/log/checkpoint"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    note::open(&cp, &[verifier]).unwrap();

    // Bad asks get our JSON errors.
    let resp = app
        .client
        .get(app.url("/v1/log/proof/inclusion?index=abc&size=1"))
        .bearer_auth(app.key(Role::Auditor))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "bad_request");
    let resp = app
        .client
        .get(app.url("/v1/log/proof/inclusion?index=5000&size=6000"))
        .bearer_auth(app.key(Role::Auditor))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // Revoking a key is logged in the same transaction.
    let keys = app.store.list_api_keys().await.unwrap();
    let finance = keys.iter().find(|k| k.role == "finance").unwrap();
    let entry = record::api_key_revoked(&finance.id, "test", now());
    assert!(app
        .store
        .revoke_api_key(&finance.id, now(), &[entry])
        .await
        .unwrap());
    let found = app
        .store
        .log_find_subject(&format!("api_key:{}", finance.id))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    // Revoking it again changes nothing and logs nothing.
    let entry = record::api_key_revoked(&finance.id, "test", now());
    assert!(!app
        .store
        .revoke_api_key(&finance.id, now(), &[entry])
        .await
        .unwrap());
    assert_eq!(
        app.store
            .log_find_subject(&format!("api_key:{}", finance.id))
            .await
            .unwrap()
            .len(),
        1
    );
    app.stop().await;
}
on_both_databases!(
    service_logging_tests,
    verifications_and_key_changes_are_logged
);

// --- The auditor's CLI against a running service ------------------------------------------------

struct Cli {
    dir: tempfile::TempDir,
    base: Vec<String>,
    vkey: String,
    env: Vec<(String, String)>,
}

impl Cli {
    fn run(&self, args: &[&str], remote: bool) -> (i32, String, String) {
        let mut all: Vec<String> = vec!["audit".into()];
        all.extend(args.iter().map(|s| s.to_string()));
        if remote {
            all.extend(self.base.iter().cloned());
        }
        all.extend([
            "--vkey".to_string(),
            self.vkey.clone(),
            "--lang".into(),
            "en".into(),
        ]);
        let out = Command::new(env!("CARGO_BIN_EXE_antin"))
            .args(&all)
            .current_dir(self.dir.path())
            .envs(self.env.iter().cloned())
            .env_remove("ANTIN_API_KEY")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

async fn auditor_cli_against_the_service(db: Db) {
    let app = common::spawn_app(db).await;
    for n in 0..5 {
        app.store
            .log_append(&[admin_entry(n)], now())
            .await
            .unwrap();
    }
    let vkey = app
        .client
        .get(app.url("/v1/log/key"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .trim()
        .to_owned();
    let cli = Cli {
        dir: tempfile::tempdir().unwrap(),
        base: vec![
            "--url".into(),
            app.base.clone(),
            "--cacert".into(),
            app.ca_path.display().to_string(),
            "--api-key".into(),
            app.key(Role::Auditor).to_owned(),
        ],
        vkey,
        env: Vec::new(),
    };
    // Fetch and keep a checkpoint.
    let (code, out, err) = cli.run(&["checkpoint", "-o", &cli.path("cp1.txt")], true);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Signature valid"), "{out}");
    // One entry's bundle, verified offline.
    let (code, out, err) = cli.run(&["prove", "2", "-o", &cli.path("e2.tlog-proof")], true);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = cli.run(&["verify-proof", &cli.path("e2.tlog-proof")], false);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Entry 2 is included"), "{out}");
    // A bundle whose entry was changed fails.
    let text = std::fs::read_to_string(cli.path("e2.tlog-proof")).unwrap();
    let bundle = ProofBundle::parse(&text).unwrap();
    let mut forged = bundle.clone();
    let body = String::from_utf8(bundle.extra.clone().unwrap()).unwrap();
    forged.extra = Some(body.replace("\"n\":2", "\"n\":3").into_bytes());
    std::fs::write(cli.path("forged.tlog-proof"), forged.encode()).unwrap();
    let (code, out, err) = cli.run(&["verify-proof", &cli.path("forged.tlog-proof")], false);
    assert_eq!(code, 1, "{out}{err}");
    // A wrong key is refused.
    let other =
        NoteSigner::from_pkcs8("127.0.0.1:8443/log", &NoteSigner::generate_pkcs8().unwrap())
            .unwrap()
            .vkey();
    let wrong = Cli {
        dir: tempfile::tempdir().unwrap(),
        base: cli.base.clone(),
        vkey: other,
        env: Vec::new(),
    };
    let (code, _, err) = wrong.run(&["checkpoint"], true);
    assert_eq!(code, 1, "{err}");
    // The log grows; the new checkpoint is proved consistent with the kept one.
    for n in 5..40 {
        app.store
            .log_append(&[admin_entry(n)], now())
            .await
            .unwrap();
    }
    app.client
        .post(app.url("/v1/log/checkpoint"))
        .bearer_auth(app.key(Role::Auditor))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let (code, out, err) = cli.run(
        &[
            "checkpoint",
            "--trusted",
            &cli.path("cp1.txt"),
            "-o",
            &cli.path("cp2.txt"),
        ],
        true,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Consistent with the trusted checkpoint"),
        "{out}"
    );
    let (code, out, err) = cli.run(
        &["consistency", &cli.path("cp1.txt"), &cli.path("cp2.txt")],
        true,
    );
    assert_eq!(code, 0, "{out}{err}");
    // The whole log, downloaded and recomputed.
    let (code, out, err) = cli.run(&["verify-log"], true);
    assert_eq!(code, 0, "{out}{err}");
    // An export for an inspection, checked offline, whole and in part.
    let (code, out, err) = cli.run(&["export", "-o", &cli.path("all.json")], true);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = cli.run(&["verify-log", "--export", &cli.path("all.json")], false);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = cli.run(
        &[
            "export",
            "--from",
            "10",
            "--to",
            "20",
            "-o",
            &cli.path("part.json"),
        ],
        true,
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = cli.run(&["verify-log", "--export", &cli.path("part.json")], false);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Verified 10 entries"), "{out}");
    // A tampered export fails and names the entry.
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cli.path("part.json")).unwrap()).unwrap();
    let e = v["entries"][4]["entry"]
        .as_str()
        .unwrap()
        .replace("\"n\":", "\"n\":9");
    v["entries"][4]["entry"] = serde_json::Value::String(e);
    std::fs::write(cli.path("bad.json"), v.to_string()).unwrap();
    let (code, out, err) = cli.run(&["verify-log", "--export", &cli.path("bad.json")], false);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("first_bad_index=14"), "{out}");

    // A signed result: issued (logged) passes, the same-looking unissued one fails.
    let issued = std::fs::read(common::fixture("pdf/signed-lt.pdf")).unwrap();
    let sha = hex::encode(openssl::sha::sha256(&issued));
    let entry = record::document_signed(
        "doc-1",
        &sha,
        "default",
        "00",
        Some("HS-001"),
        "test",
        now(),
    );
    app.store.log_append(&[entry], now()).await.unwrap();
    app.client
        .post(app.url("/v1/log/checkpoint"))
        .bearer_auth(app.key(Role::Auditor))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let root = common::manifest_dir();
    let trust = root
        .join("certs/test-pki/root-ca.pem")
        .display()
        .to_string();
    let doc = root
        .join("fixtures/pdf/signed-lt.pdf")
        .display()
        .to_string();
    let (code, out, err) = cli.run(&["document", &doc, "--offline", "--trust", &trust], true);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("antin issued this document"), "{out}");
    let other = root
        .join("fixtures/pdf/signed-lta.pdf")
        .display()
        .to_string();
    let (code, out, err) = cli.run(&["document", &other, "--offline", "--trust", &trust], true);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("NO record that antin issued this document"),
        "{out}"
    );
    app.stop().await;
}
on_both_databases!(auditor_cli_tests, auditor_cli_against_the_service);
