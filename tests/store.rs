//! Storage on both databases: round trips, evidence de-duplication, and several instances sharing
//! one database (how antin scales out on PostgreSQL).

mod common;

use antin::store::{EvidenceItem, Store, VerificationRecord};
use common::Db;

async fn open(db: Db, dir: &std::path::Path) -> (Store, antin::config::Config) {
    let url = match db {
        Db::Sqlite => format!("sqlite://{}", dir.join("s.db").display()),
        Db::Postgres => common::fresh_postgres_database().await,
    };
    let config = common::test_config(dir, &url, &[]);
    (Store::connect(&config.database).await.unwrap(), config)
}

fn record(id: &str) -> VerificationRecord {
    VerificationRecord {
        id: id.to_owned(),
        created_at: time::macros::datetime!(2026-11-22 03:30:05.123456 UTC),
        caller: "key:abc".into(),
        document_sha256: "00".repeat(32),
        document_size: 1234,
        detached: false,
        verdict: "TOTAL_PASSED".into(),
        signature_count: 1,
        report_json: "{\"verdict\":\"TOTAL_PASSED\"}".into(),
    }
}

async fn round_trip_and_evidence_dedup(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = open(db, dir.path()).await;
    let ev = vec![
        EvidenceItem {
            sha256: "aa".into(),
            kind: "crl".into(),
            der: vec![1, 2, 3],
        },
        EvidenceItem {
            sha256: "bb".into(),
            kind: "ocsp".into(),
            der: vec![0, 255, 7],
        },
    ];
    store
        .insert_verification(&record("v1"), &ev, &[])
        .await
        .unwrap();
    // The same CRL used again is stored once and linked twice.
    store
        .insert_verification(&record("v2"), &ev[..1], &[])
        .await
        .unwrap();
    let got = store.get_verification("v1").await.unwrap().unwrap();
    assert_eq!(got, record("v1"));
    assert_eq!(store.verification_evidence("v1").await.unwrap(), ev);
    assert_eq!(
        store.verification_evidence("v2").await.unwrap(),
        ev[..1].to_vec()
    );
    assert!(store.get_verification("nope").await.unwrap().is_none());
    // A duplicate id is refused and changes nothing already stored.
    let mut dup = record("v1");
    dup.verdict = "TOTAL_FAILED".into();
    assert!(store.insert_verification(&dup, &[], &[]).await.is_err());
    assert_eq!(
        store.get_verification("v1").await.unwrap().unwrap().verdict,
        "TOTAL_PASSED"
    );
}
on_both_databases!(
    round_trip_and_evidence_dedup_db,
    round_trip_and_evidence_dedup
);

async fn several_instances_share_one_database(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let (first, config) = open(db, dir.path()).await;
    // Start more instances against the same database at the same moment (migrations race).
    let mut handles = Vec::new();
    for n in 0..4 {
        let cfg = config.database.clone();
        handles.push(tokio::spawn(async move {
            let store = Store::connect(&cfg).await.unwrap();
            for i in 0..25 {
                let id = format!("i{n}-{i}");
                let ev = [EvidenceItem {
                    sha256: "shared".into(),
                    kind: "crl".into(),
                    der: vec![9],
                }];
                store
                    .insert_verification(&record(&id), &ev, &[])
                    .await
                    .unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    for n in 0..4 {
        for i in 0..25 {
            assert!(first
                .get_verification(&format!("i{n}-{i}"))
                .await
                .unwrap()
                .is_some());
        }
    }
    assert_eq!(first.verification_evidence("i3-24").await.unwrap().len(), 1);
}
on_both_databases!(
    several_instances_share_one_database_db,
    several_instances_share_one_database
);
