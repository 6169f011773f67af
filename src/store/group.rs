//! Group commit: one writer task per instance takes every write job waiting, runs them one after
//! another in ONE transaction (each inside its own savepoint) and commits once; only then is each
//! caller answered. With durable commits (SQLite `synchronous = FULL`, PostgreSQL's default
//! `synchronous_commit = on`) the fsync of the commit is the expensive part of a write, and a
//! batch pays it once instead of once per request.
//!
//! What each caller sees is unchanged:
//! - its job's result only after the commit that made it durable (never an answer for a write
//!   that could still be lost);
//! - its own errors only: a failing job is rolled back to its savepoint and the others commit;
//! - jobs run in arrival order, each seeing the writes of the jobs before it, exactly as if they
//!   had committed one by one (a version check against an earlier job of the same batch fails as
//!   it would have);
//! - if the commit itself fails, every job of the batch gets an error and nothing was written.
//!
//! A job may hand back transparency-log entries instead of appending them itself
//! ([`Logged`]): the writer appends the entries of every job of the batch that succeeded in one
//! append just before the commit, in job order, in the same transaction. An append costs five
//! statements whatever its size, so this is most of what a batch saves beyond the fsync. If that
//! append fails, the whole batch fails as if its commit had.
//!
//! Jobs must only use the connection they are given (never the pool, never the writer: that would
//! wait on itself), and must not hold it across anything slow (network calls happen outside).

use std::any::Any;

use futures_util::future::BoxFuture;
use sqlx::{AnyConnection, AnyPool};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use super::log::LogInput;
use super::{Backend, StoreError};

/// Log entries a job's change must commit with, and when the change happened.
#[derive(Debug)]
pub(crate) struct Logged(Option<(Vec<LogInput>, OffsetDateTime)>);

impl Logged {
    pub(crate) fn none() -> Logged {
        Logged(None)
    }

    pub(crate) fn new(entries: Vec<LogInput>, at: OffsetDateTime) -> Logged {
        Logged(Some((entries, at)))
    }

    pub(crate) fn into_parts(self) -> Option<(Vec<LogInput>, OffsetDateTime)> {
        self.0
    }
}

/// The most jobs in one transaction (bounds a batch's latency and its memory).
const MAX_BATCH: usize = 512;
/// Requests waiting beyond this are refused with back-pressure by the bounded queue.
const QUEUE: usize = 16 * 1024;

type Output = Result<Box<dyn Any + Send>, StoreError>;
type JobOutput = Result<(Box<dyn Any + Send>, Logged), StoreError>;
type Job = Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, JobOutput> + Send>;

struct Request {
    job: Job,
    reply: oneshot::Sender<Output>,
}

/// The handle to the writer task (cheap to clone; the task ends when every handle is gone).
#[derive(Clone)]
pub(crate) struct GroupWriter {
    tx: mpsc::Sender<Request>,
}

impl GroupWriter {
    pub(crate) fn spawn(pool: AnyPool, backend: Backend) -> GroupWriter {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, backend, rx));
        GroupWriter { tx }
    }

    /// Runs `f` in the next batch, appends the log entries it hands back, and returns its result
    /// once the batch committed.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<(T, Logged), StoreError>>
            + Send
            + 'static,
    {
        let job: Job = Box::new(move |conn| {
            let fut = f(conn);
            Box::pin(async move {
                fut.await
                    .map(|(v, logged)| (Box::new(v) as Box<dyn Any + Send>, logged))
            })
        });
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request { job, reply })
            .await
            .map_err(|_| StoreError::Commit("the writer has stopped".into()))?;
        let out = answer
            .await
            .map_err(|_| StoreError::Commit("the writer has stopped".into()))??;
        out.downcast::<T>()
            .map(|b| *b)
            .map_err(|_| StoreError::Commit("writer result of the wrong type".into()))
    }
}

async fn run(pool: AnyPool, backend: Backend, mut rx: mpsc::Receiver<Request>) {
    let begin = match backend {
        // Take the write lock now, not at the first write (no upgrade from a read snapshot).
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    };
    let mut batch: Vec<Request> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let results = run_batch(&pool, begin, &mut batch).await;
        for (req, out) in batch.drain(..).zip(results) {
            let _ = req.reply.send(out);
        }
    }
}

/// Runs the batch's jobs (taking them out of the requests) in one transaction.
async fn run_batch(pool: &AnyPool, begin: &str, batch: &mut [Request]) -> Vec<Output> {
    let failed = |why: &str, n: usize| -> Vec<Output> {
        (0..n)
            .map(|_| Err(StoreError::Commit(why.to_owned())))
            .collect()
    };
    let mut conn = match pool.acquire().await {
        Ok(c) => c,
        Err(e) => return failed(&format!("no database connection: {e}"), batch.len()),
    };
    if let Err(e) = exec(&mut conn, begin).await {
        conn.close_on_drop();
        return failed(&format!("cannot begin: {e}"), batch.len());
    }
    let mut results: Vec<Output> = Vec::with_capacity(batch.len());
    let mut broken: Option<String> = None;
    // The log entries of the jobs that succeeded, with each entry's time.
    let mut entries: Vec<LogInput> = Vec::new();
    let mut times: Vec<OffsetDateTime> = Vec::new();
    for req in batch.iter_mut() {
        if let Some(why) = &broken {
            results.push(Err(StoreError::Commit(why.clone())));
            continue;
        }
        let job = std::mem::replace(&mut req.job, Box::new(|_| Box::pin(async { noop() })));
        if let Err(e) = exec(&mut conn, "SAVEPOINT antin_job").await {
            broken = Some(format!("savepoint: {e}"));
            results.push(Err(StoreError::Commit(format!("savepoint: {e}"))));
            continue;
        }
        let out = job(&mut conn).await;
        let undo = if out.is_err() {
            exec(&mut conn, "ROLLBACK TO SAVEPOINT antin_job").await
        } else {
            Ok(())
        };
        let release = exec(&mut conn, "RELEASE SAVEPOINT antin_job").await;
        if let Err(e) = undo.and(release) {
            broken = Some(format!("savepoint: {e}"));
        }
        results.push(out.map(|(value, logged)| {
            if let Some((logs, at)) = logged.into_parts() {
                times.extend(std::iter::repeat_n(at, logs.len()));
                entries.extend(logs);
            }
            value
        }));
    }
    if broken.is_none() {
        if let Err(e) = super::log::append_with(&mut conn, &entries, |i| times[i]).await {
            broken = Some(format!("log append: {e}"));
        }
    }
    if let Some(why) = broken {
        let _ = exec(&mut conn, "ROLLBACK").await;
        conn.close_on_drop();
        return failed(&why, results.len());
    }
    if let Err(e) = exec(&mut conn, "COMMIT").await {
        // Nothing of the batch is durable: every caller gets the error (a retry is safe).
        let _ = exec(&mut conn, "ROLLBACK").await;
        conn.close_on_drop();
        return failed(&format!("commit failed: {e}"), results.len());
    }
    results
}

fn noop() -> JobOutput {
    Err(StoreError::Commit("job already taken".into()))
}

async fn exec(conn: &mut AnyConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::query(sql).execute(&mut *conn).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use crate::config::DatabaseConfig;
    use crate::store::{Store, StoreError};

    async fn store(dir: &std::path::Path, group_commit: bool) -> Store {
        Store::connect(&DatabaseConfig {
            url: format!("sqlite://{}", dir.join("g.db").display()).into(),
            max_connections: 4,
            group_commit,
        })
        .await
        .unwrap()
    }

    /// Many concurrent jobs in few transactions: each failing job loses only its own writes, every
    /// other job's writes are committed, and each caller gets its own result.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn errors_stay_with_their_request() {
        for group_commit in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let s = store(dir.path(), group_commit).await;
            s.write(|c| {
                Box::pin(async move {
                    sqlx::query("CREATE TABLE t (k TEXT PRIMARY KEY)")
                        .execute(&mut *c)
                        .await?;
                    Ok(())
                })
            })
            .await
            .unwrap();
            let mut tasks = Vec::new();
            for i in 0..200 {
                let s = s.clone();
                tasks.push(tokio::spawn(async move {
                    s.write(move |c| {
                        Box::pin(async move {
                            sqlx::query("INSERT INTO t (k) VALUES ($1)")
                                .bind(i.to_string())
                                .execute(&mut *c)
                                .await?;
                            if i % 10 == 5 {
                                // Its own row is written, then it fails: both must vanish.
                                for _ in 0..2 {
                                    sqlx::query("INSERT INTO t (k) VALUES ('dup')")
                                        .execute(&mut *c)
                                        .await?;
                                }
                            }
                            Ok::<_, StoreError>(i)
                        })
                    })
                    .await
                }));
            }
            for (i, t) in tasks.into_iter().enumerate() {
                let r = t.await.unwrap();
                if i % 10 == 5 {
                    assert!(matches!(r, Err(StoreError::Database(_))), "{i}: {r:?}");
                } else {
                    assert_eq!(r.unwrap(), i);
                }
            }
            let keys: Vec<String> = sqlx::query_scalar("SELECT k FROM t")
                .fetch_all(&s.pool)
                .await
                .unwrap();
            assert_eq!(keys.len(), 180, "group_commit={group_commit}");
            assert!(!keys.iter().any(|k| k == "dup" || k.ends_with('5')));
        }
    }

    /// Jobs that hand back log entries: the entries of the jobs that succeeded are in the log
    /// (each job's together, in an order that is one job after another), a failed job's are not,
    /// and the tree over them is whole.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn log_entries_commit_with_their_job() {
        use crate::audit::entry::{EntryKind, NewEntry};
        use crate::store::group::Logged;
        use crate::store::LogInput;
        for group_commit in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let s = store(dir.path(), group_commit).await;
            let now = time::OffsetDateTime::now_utc();
            let mut tasks = Vec::new();
            for i in 0..120u32 {
                let s = s.clone();
                tasks.push(tokio::spawn(async move {
                    s.write_logged(move |_c| {
                        Box::pin(async move {
                            if i % 7 == 3 {
                                return Err(StoreError::Invalid(format!("job {i} fails")));
                            }
                            let entries = (0..2)
                                .map(|k| {
                                    LogInput::new(NewEntry::new(
                                        EntryKind::Admin,
                                        now,
                                        "test",
                                        serde_json::json!({ "job": i, "k": k }),
                                    ))
                                    .subject(format!("job:{i}"))
                                })
                                .collect();
                            Ok((i, Logged::new(entries, now)))
                        })
                    })
                    .await
                }));
            }
            let mut ok = Vec::new();
            for t in tasks {
                if let Ok(i) = t.await.unwrap() {
                    ok.push(i);
                }
            }
            assert_eq!(ok.len(), 120 - 17, "group_commit={group_commit}");
            assert_eq!(s.log_size().await.unwrap(), 2 * ok.len() as u64);
            let entries = s.log_entries(0, 2 * ok.len() as u64).await.unwrap();
            let jobs: Vec<u64> = entries
                .iter()
                .map(|e| {
                    let v: serde_json::Value = serde_json::from_str(&e.body).unwrap();
                    v["data"]["job"].as_u64().unwrap()
                })
                .collect();
            for pair in jobs.chunks(2) {
                assert_eq!(pair[0], pair[1], "a job's entries are adjacent: {jobs:?}");
                assert!(pair[0] % 7 != 3, "a failed job's entries are not logged");
            }
            for i in &ok {
                assert_eq!(
                    s.log_find_subject(&format!("job:{i}")).await.unwrap().len(),
                    2
                );
            }
            // The stored tree is the tree of the stored entries.
            use crate::audit::merkle::{leaf_hash, root_from_leaves, Frontier};
            let leaves: Vec<_> = entries
                .iter()
                .map(|e| leaf_hash(e.body.as_bytes()))
                .collect();
            let size = leaves.len() as u64;
            let nodes = s.log_nodes(&Frontier::plan(size)).await.unwrap();
            let stored = Frontier::from_nodes(size, |id| nodes.get(&id).copied()).unwrap();
            assert_eq!(stored.root(), root_from_leaves(&leaves));
        }
    }

    /// A job sees the writes of the jobs before it in the same batch (as if they had committed).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn later_jobs_see_earlier_ones() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), true).await;
        s.write(|c| {
            Box::pin(async move {
                sqlx::query("CREATE TABLE n (id BIGINT PRIMARY KEY, v BIGINT NOT NULL)")
                    .execute(&mut *c)
                    .await?;
                sqlx::query("INSERT INTO n (id, v) VALUES (1, 0)")
                    .execute(&mut *c)
                    .await?;
                Ok(())
            })
        })
        .await
        .unwrap();
        // 100 concurrent compare-and-set increments: each succeeds only on the value it read.
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let v: i64 = sqlx::query_scalar("SELECT v FROM n WHERE id = 1")
                        .fetch_one(&s.pool)
                        .await
                        .unwrap();
                    let done = s
                        .write(move |c| {
                            Box::pin(async move {
                                let r = sqlx::query("UPDATE n SET v = $1 WHERE id = 1 AND v = $2")
                                    .bind(v + 1)
                                    .bind(v)
                                    .execute(&mut *c)
                                    .await?;
                                Ok(r.rows_affected() == 1)
                            })
                        })
                        .await
                        .unwrap();
                    if done {
                        return;
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let v: i64 = sqlx::query_scalar("SELECT v FROM n WHERE id = 1")
            .fetch_one(&s.pool)
            .await
            .unwrap();
        assert_eq!(v, 100, "no lost update");
    }
}
