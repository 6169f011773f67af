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
//! Jobs must only use the connection they are given (never the pool, never the writer: that would
//! wait on itself), and must not hold it across anything slow (network calls happen outside).

use std::any::Any;

use futures_util::future::BoxFuture;
use sqlx::{AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot};

use super::{Backend, StoreError};

/// The most jobs in one transaction (bounds a batch's latency and its memory).
const MAX_BATCH: usize = 512;
/// Requests waiting beyond this are refused with back-pressure by the bounded queue.
const QUEUE: usize = 16 * 1024;

type Output = Result<Box<dyn Any + Send>, StoreError>;
type Job = Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Output> + Send>;

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

    /// Runs `f` in the next batch and returns its result once the batch committed.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        let job: Job = Box::new(move |conn| {
            let fut = f(conn);
            Box::pin(async move { fut.await.map(|v| Box::new(v) as Box<dyn Any + Send>) })
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
        results.push(out);
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

fn noop() -> Output {
    Err(StoreError::Commit("job already taken".into()))
}

async fn exec(conn: &mut AnyConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::query(sql).execute(&mut *conn).await.map(|_| ())
}
