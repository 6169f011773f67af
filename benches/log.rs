//! Transparency log speed (docs/benchmarks.md): appends with durable commits, proofs at one
//! million entries, replaying a million entries as `antin audit verify-log` does.
//!
//!   cargo bench --bench log
//!   ANTIN_BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432/test cargo bench --bench log  # + PostgreSQL
//!
//! SQLite runs with sqlx's defaults: WAL and synchronous=FULL, so every commit is durable.

use std::time::{Duration, Instant};

use antin::audit::log::TransparencyLog;
use antin::audit::merkle;
use antin::audit::note::NoteSigner;
use antin::audit::record;
use antin::audit::replay::{Anchor, Replay};
use antin::config::DatabaseConfig;
use antin::store::{LogInput, Store};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const BATCH: u64 = 1000;
const MILLION: u64 = 1_000_000;

fn entry(n: u64) -> LogInput {
    // Shaped like a verification entry: ids and hashes, ~400 bytes.
    record::admin(
        "bench",
        serde_json::json!({
            "n": n,
            "verification_id": "3f2b8c1e-0a4d-4e7b-9a51-6f0c2d9e8b17",
            "document_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "verdict": "TOTAL_PASSED",
            "evidence_sha256": ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
        }),
        "key:0f4c2a",
        time::OffsetDateTime::now_utc(),
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

async fn open(url: &str) -> TransparencyLog {
    let store = Store::connect(&DatabaseConfig {
        url: url.to_owned().into(),
        max_connections: 4,
        group_commit: true,
    })
    .await
    .expect("store");
    let pkcs8 = NoteSigner::generate_pkcs8().expect("key");
    TransparencyLog::with_keys(
        store,
        NoteSigner::from_pkcs8("bench.antin/log", &pkcs8).expect("signer"),
        b"bench pseudonym key",
    )
}

async fn fill(log: &TransparencyLog, n: u64) {
    let mut done = log.store().log_size().await.expect("size");
    while done < n {
        let k = BATCH.min(n - done);
        let inputs: Vec<_> = (done..done + k).map(entry).collect();
        log.store()
            .log_append(&inputs, time::OffsetDateTime::now_utc())
            .await
            .expect("append");
        done += k;
    }
}

fn appends(c: &mut Criterion, name: &str, url: &str) {
    let rt = runtime();
    let log = rt.block_on(open(url));
    let mut group = c.benchmark_group("log_append");
    group.throughput(Throughput::Elements(BATCH));
    group.sample_size(20);
    group.bench_function(format!("{name}_batch_{BATCH}"), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            rt.block_on(async {
                for _ in 0..iters {
                    let size = log.store().log_size().await.expect("size");
                    let inputs: Vec<_> = (size..size + BATCH).map(entry).collect();
                    log.store()
                        .log_append(&inputs, time::OffsetDateTime::now_utc())
                        .await
                        .expect("append");
                }
            });
            start.elapsed()
        })
    });
    group.finish();
    rt.block_on(log.store().close());
}

fn million(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    // ANTIN_BENCH_KEEP_LOG=1 keeps the 1M-entry database (its path is printed) to profile
    // `antin audit verify-log` on it afterwards.
    let (_dropped_at_end, dir) = if std::env::var_os("ANTIN_BENCH_KEEP_LOG").is_some() {
        let kept = tmp.keep();
        eprintln!("keeping the 1M-entry log in {}", kept.display());
        (None, kept)
    } else {
        let path = tmp.path().to_owned();
        (Some(tmp), path)
    };
    let url = format!("sqlite://{}", dir.join("million.db").display());
    let rt = runtime();
    let log = rt.block_on(open(&url));
    if std::env::var_os("ANTIN_BENCH_KEEP_LOG").is_some() {
        eprintln!("its verifier key: {}", log.vkey());
    }
    let start = Instant::now();
    rt.block_on(fill(&log, MILLION));
    let took = start.elapsed();
    eprintln!(
        "filled {MILLION} entries in {:.2} s ({:.0} appends/s, batches of {BATCH}, SQLite durable)",
        took.as_secs_f64(),
        MILLION as f64 / took.as_secs_f64()
    );

    let mut group = c.benchmark_group("log_1m");
    let mut i = 0u64;
    // From the database alone (no in-memory copy of the subtree hashes).
    let db_only = rt.block_on(async {
        let store = Store::connect(&DatabaseConfig {
            url: url.clone().into(),
            max_connections: 4,
            group_commit: true,
        })
        .await
        .expect("store")
        .with_node_cache(0);
        TransparencyLog::with_keys(
            store,
            NoteSigner::from_pkcs8(
                "bench.antin/log",
                &NoteSigner::generate_pkcs8().expect("key"),
            )
            .expect("signer"),
            b"bench pseudonym key",
        )
    });
    group.bench_function("inclusion_proof_sqlite_uncached", |b| {
        b.iter(|| {
            i = (i + 7_919) % MILLION;
            rt.block_on(db_only.inclusion_proof(i, MILLION))
                .expect("proof")
        })
    });
    // As `antin serve` answers: the subtree hashes loaded into memory at start.
    let start = Instant::now();
    let loaded = rt
        .block_on(log.store().log_warm_node_cache())
        .expect("warm");
    eprintln!(
        "loaded {loaded} subtree hashes into memory in {:.2} s",
        start.elapsed().as_secs_f64()
    );
    group.bench_function("inclusion_proof_sqlite", |b| {
        b.iter(|| {
            i = (i + 7_919) % MILLION;
            rt.block_on(log.inclusion_proof(i, MILLION)).expect("proof")
        })
    });
    group.bench_function("consistency_proof_sqlite", |b| {
        b.iter(|| {
            i = (i + 7_919) % MILLION;
            rt.block_on(log.consistency_proof(i, MILLION))
                .expect("proof")
        })
    });
    // The pure part alone: plan, look up in memory, assemble.
    let plan_nodes = {
        let plan = merkle::inclusion_plan(123_456, MILLION).expect("plan");
        rt.block_on(log.store().log_nodes(plan.nodes()))
            .expect("nodes")
    };
    group.bench_function("inclusion_proof_pure", |b| {
        b.iter(|| {
            let plan = merkle::inclusion_plan(123_456, MILLION).expect("plan");
            plan.assemble(|id| plan_nodes.get(&id).copied())
                .expect("assemble")
        })
    });

    // Replay: everything `audit verify-log --database` does after reading the rows.
    let rows = rt.block_on(async {
        let mut out = Vec::with_capacity(MILLION as usize);
        let mut start = 0;
        while start < MILLION {
            let page = log
                .store()
                .log_entry_rows(start, start + BATCH)
                .await
                .expect("rows");
            start += page.len() as u64;
            out.extend(page);
        }
        out
    });
    let root = rt.block_on(log.root_at(MILLION)).expect("root");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    group.throughput(Throughput::Elements(MILLION));
    group.bench_function("replay_1m", |b| {
        b.iter(|| {
            let mut r = Replay::new(vec![Anchor {
                size: MILLION,
                root,
            }]);
            for page in rows.chunks(BATCH as usize) {
                let batch: Vec<(u64, &str, Option<merkle::Hash>)> = page
                    .iter()
                    .map(|row| (row.index, row.body.as_str(), row.stored_leaf))
                    .collect();
                r.push_batch(&batch);
            }
            let result = r.finish();
            assert!(result.finding.is_none());
        })
    });
    group.finish();

    // `antin audit verify-log --database` end to end, as an operator runs it: read every row,
    // check every entry, rebuild the tree, compare with the signed checkpoint.
    rt.block_on(log.checkpoint_now(time::OffsetDateTime::now_utc()))
        .expect("checkpoint");
    for run in 1..=3 {
        let start = Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_antin"))
            .args(["audit", "verify-log", "--database", "--vkey", &log.vkey()])
            .env("ANTIN_DATABASE__URL", &url)
            .output()
            .expect("antin audit verify-log");
        let took = start.elapsed();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!(
            "verify-log of {MILLION} entries end to end (run {run}): {:.2} s",
            took.as_secs_f64()
        );
    }
    rt.block_on(log.store().close());
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("append.db").display());
    appends(c, "sqlite", &url);
    if let Ok(pg) = std::env::var("ANTIN_BENCH_POSTGRES") {
        let db = format!("antin_bench_{}", std::process::id());
        let rt = runtime();
        rt.block_on(async {
            use sqlx::Connection as _;
            let mut conn = sqlx::PgConnection::connect(&pg).await.expect("postgres");
            sqlx::query(&format!("CREATE DATABASE {db}"))
                .execute(&mut conn)
                .await
                .expect("create database");
        });
        let base = pg.rsplit_once('/').map(|(b, _)| b).unwrap_or(&pg);
        appends(c, "postgres", &format!("{base}/{db}"));
    }
    million(c);
}

criterion_group!(log_benches, benches);
criterion_main!(log_benches);
