//! The transparency log's tables: entries, the hashes of every complete subtree, signed
//! checkpoints, and a subject index. One code path for SQLite and PostgreSQL.
//!
//! Appends happen inside the caller's transaction (the state change and its log entry commit
//! together or not at all). The first statement of an append is the `UPDATE` of the single
//! `log_head` row, which takes the database's write lock (SQLite) or the row lock (PostgreSQL)
//! before anything is read: appenders from every task and every instance queue there, and each
//! gets the next indices, so the order is total and the tree never forks.
//!
//! Rows here are never updated or deleted by antin. `audit verify-log` recomputes everything from
//! the entry bodies and compares, so a row edited behind antin's back is found.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use super::{fmt_time, Store, StoreError};
use crate::audit::entry::{LoggedEntry, NewEntry};
use crate::audit::merkle::{self, Frontier, Hash, NodeId};

/// Rows per multi-row INSERT (SQLite allows 32,766 bound parameters, PostgreSQL 65,535).
const CHUNK: usize = 200;

/// The most entries one read returns.
pub const MAX_ENTRIES_PER_READ: u64 = 1000;

/// An entry to append, with the subjects it can be found by (e.g. `sha256:<document hash>`,
/// `verification:<id>`, `document:<id>`).
#[derive(Debug, Clone)]
pub struct LogInput {
    pub entry: NewEntry,
    pub subjects: Vec<String>,
}

impl LogInput {
    pub fn new(entry: NewEntry) -> Self {
        LogInput {
            entry,
            subjects: Vec::new(),
        }
    }

    pub fn subject(mut self, s: impl Into<String>) -> Self {
        self.subjects.push(s.into());
        self
    }
}

/// An entry row as stored, with the leaf hash stored for it (absent if that row is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRow {
    pub index: u64,
    pub body: String,
    pub stored_leaf: Option<Hash>,
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: Hash,
    pub note: String,
    pub created_at: OffsetDateTime,
}

fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("log index {v} out of range")))
}

fn to_u64(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative log index {v}")))
}

fn to_hash(bytes: Vec<u8>) -> Result<Hash, StoreError> {
    Hash::try_from(bytes.as_slice())
        .map_err(|_| StoreError::Corrupt(format!("stored hash has {} bytes", bytes.len())))
}

/// Appends `inputs` in the caller's transaction and returns their indices.
pub(crate) async fn append_in(
    conn: &mut AnyConnection,
    inputs: &[LogInput],
    now: OffsetDateTime,
) -> Result<Vec<u64>, StoreError> {
    append_with(conn, inputs, |_| now).await
}

/// [`append_in`] with each entry's own time (`at(i)` for `inputs[i]`): the group-commit writer
/// appends the entries of a whole batch of jobs at once.
pub(crate) async fn append_with(
    conn: &mut AnyConnection,
    inputs: &[LogInput],
    at: impl Fn(usize) -> OffsetDateTime,
) -> Result<Vec<u64>, StoreError> {
    if inputs.is_empty() {
        return Ok(Vec::new());
    }
    let count = to_i64(inputs.len() as u64)?;
    // The lock first: see the module docs.
    let row = sqlx::query("UPDATE log_head SET size = size + $1 WHERE id = 1 RETURNING size")
        .bind(count)
        .fetch_one(&mut *conn)
        .await?;
    let new_size = to_u64(row.try_get::<i64, _>("size")?)?;
    let old_size = new_size
        .checked_sub(inputs.len() as u64)
        .ok_or_else(|| StoreError::Corrupt("log head below zero".into()))?;

    let plan = Frontier::plan(old_size);
    let known = fetch_nodes(&mut *conn, &plan).await?;
    let mut frontier = Frontier::from_nodes(old_size, |id| known.get(&id).copied())
        .map_err(|e| StoreError::Corrupt(format!("log frontier at size {old_size}: {e}")))?;

    let mut bodies = Vec::with_capacity(inputs.len());
    let mut nodes: Vec<(NodeId, Hash)> = Vec::with_capacity(inputs.len() * 2);
    let mut subjects: Vec<(String, u64)> = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let index = old_size + i as u64;
        let body = input
            .entry
            .encode(index)
            .map_err(|e| StoreError::Invalid(format!("log entry: {e}")))?;
        nodes.extend(frontier.push(merkle::leaf_hash(body.as_bytes())));
        for s in &input.subjects {
            subjects.push((s.clone(), index));
        }
        bodies.push((index, input.entry.kind.as_str(), body, fmt_time(at(i))));
    }

    for chunk in bodies.chunks(CHUNK) {
        let sql = values_sql(
            "INSERT INTO log_entries (idx, kind, body, created_at) VALUES ",
            chunk.len(),
            4,
            conn,
        );
        let mut q = sqlx::query(&sql);
        for (index, kind, body, created) in chunk {
            q = q
                .bind(to_i64(*index)?)
                .bind(*kind)
                .bind(body.as_str())
                .bind(created.as_str());
        }
        q.execute(&mut *conn).await?;
    }
    for chunk in nodes.chunks(CHUNK) {
        let sql = values_sql(
            "INSERT INTO log_nodes (level, idx, hash) VALUES ",
            chunk.len(),
            3,
            conn,
        );
        let mut q = sqlx::query(&sql);
        for (id, hash) in chunk {
            q = q
                .bind(i64::from(id.level))
                .bind(to_i64(id.index)?)
                .bind(hash.to_vec());
        }
        q.execute(&mut *conn).await?;
    }
    for chunk in subjects.chunks(CHUNK) {
        let mut sql = values_sql(
            "INSERT INTO log_subjects (subject, idx) VALUES ",
            chunk.len(),
            2,
            conn,
        );
        sql.push_str(" ON CONFLICT (subject, idx) DO NOTHING");
        let mut q = sqlx::query(&sql);
        for (subject, index) in chunk {
            q = q.bind(subject.as_str()).bind(to_i64(*index)?);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(bodies.into_iter().map(|(i, ..)| i).collect())
}

/// A multi-row `VALUES` list of `rows` tuples of `cols` parameters, for `conn`'s database. SQLite gets anonymous `?`
/// parameters: sqlx resolves a numbered one by asking SQLite for each parameter's name, a linear
/// search, so numbered parameters cost quadratically in a statement this size (a quarter of an
/// append's time); PostgreSQL gets `$N`, the only form it takes.
pub(super) fn values_sql(head: &str, rows: usize, cols: usize, conn: &AnyConnection) -> String {
    let positional = conn.backend_name() == "SQLite";
    use std::fmt::Write as _;
    let mut sql = String::with_capacity(head.len() + rows * cols * 6);
    sql.push_str(head);
    for i in 0..rows {
        sql.push_str(if i > 0 { ",(" } else { "(" });
        for c in 0..cols {
            if c > 0 {
                sql.push(',');
            }
            if positional {
                sql.push('?');
            } else {
                let _ = write!(sql, "${}", i * cols + c + 1);
            }
        }
        sql.push(')');
    }
    sql
}

/// Nodes per lookup query. Every lookup uses the same statement (unused slots bound to -1), so
/// each connection prepares it once: most of a proof's cost was re-preparing a query of a new shape.
const NODE_SLOTS: usize = 32;

fn node_query() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let mut sql = String::from("SELECT level, idx, hash FROM log_nodes WHERE ");
        for i in 0..NODE_SLOTS {
            let p = i * 2;
            if i > 0 {
                sql.push_str(" OR ");
            }
            sql.push_str(&format!("(level = ${} AND idx = ${})", p + 1, p + 2));
        }
        sql
    })
}

async fn fetch_nodes(
    conn: &mut AnyConnection,
    ids: &[NodeId],
) -> Result<HashMap<NodeId, Hash>, StoreError> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(NODE_SLOTS) {
        let mut q = sqlx::query(node_query());
        for id in chunk {
            q = q.bind(i64::from(id.level)).bind(to_i64(id.index)?);
        }
        for _ in chunk.len()..NODE_SLOTS {
            q = q.bind(-1i64).bind(-1i64);
        }
        for r in q.fetch_all(&mut *conn).await? {
            let level = u8::try_from(r.try_get::<i64, _>("level")?)
                .map_err(|_| StoreError::Corrupt("log node level out of range".into()))?;
            let index = to_u64(r.try_get::<i64, _>("idx")?)?;
            out.insert(NodeId { level, index }, to_hash(r.try_get("hash")?)?);
        }
    }
    Ok(out)
}

/// Splits a page of framed entries (`idx:bytes:leaf-hex:body`, repeated) as
/// [`Store::log_entry_rows`] reads them.
fn parse_page(mut page: &str) -> Result<Vec<EntryRow>, StoreError> {
    let bad = |why: &str| StoreError::Corrupt(format!("log page: {why}"));
    let mut out = Vec::new();
    while !page.is_empty() {
        let mut field = || -> Result<&str, StoreError> {
            let (f, rest) = page.split_once(':').ok_or_else(|| bad("truncated frame"))?;
            page = rest;
            Ok(f)
        };
        let index: u64 = field()?.parse().map_err(|_| bad("index"))?;
        let len: usize = field()?.parse().map_err(|_| bad("length"))?;
        let leaf = field()?;
        let stored_leaf = if leaf.is_empty() {
            None
        } else {
            Some(to_hash(hex::decode(leaf).map_err(|_| bad("leaf hash"))?)?)
        };
        let body = page.get(..len).ok_or_else(|| bad("body length"))?;
        page = &page[len..];
        out.push(EntryRow {
            index,
            body: body.to_owned(),
            stored_leaf,
        });
    }
    Ok(out)
}

/// How far past a level's cached prefix a missing node may be for the copy to catch up on it.
const CACHE_CATCH_UP: u64 = 4096;

/// Rows per query when filling the copy.
const WARM_CHUNK: u64 = 65_536;

/// The stored hashes of `level` with `start <= index < end`, in order, as far as they are
/// contiguous from `start` (a missing row ends the run: the copy only ever holds prefixes).
async fn level_range(
    conn: &mut AnyConnection,
    level: u8,
    start: u64,
    end: u64,
) -> Result<Vec<Hash>, StoreError> {
    let rows = sqlx::query(
        "SELECT idx, hash FROM log_nodes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
    )
    .bind(i64::from(level))
    .bind(to_i64(start)?)
    .bind(to_i64(end)?)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (expect, r) in (start..).zip(rows.iter()) {
        if to_u64(r.try_get::<i64, _>("idx")?)? != expect {
            break;
        }
        out.push(to_hash(r.try_get("hash")?)?);
    }
    Ok(out)
}

impl Store {
    /// Appends entries in a transaction of their own (administrative actions, benchmarks).
    pub async fn log_append(
        &self,
        inputs: &[LogInput],
        now: OffsetDateTime,
    ) -> Result<Vec<u64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let indices = append_in(&mut tx, inputs, now).await?;
        tx.commit().await?;
        Ok(indices)
    }

    /// The number of entries committed.
    pub async fn log_size(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT size FROM log_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        to_u64(row.try_get::<i64, _>("size")?)
    }

    /// The stored hashes of these complete subtrees (missing ones are absent from the map).
    ///
    /// From the in-memory copy where it has them; the rest in one query, and a miss just past a
    /// level's cached prefix (entries appended since) extends the copy.
    pub async fn log_nodes(&self, ids: &[NodeId]) -> Result<HashMap<NodeId, Hash>, StoreError> {
        let mut found = HashMap::with_capacity(ids.len());
        let missing = self.nodes.lookup(ids, &mut found);
        if missing.is_empty() {
            return Ok(found);
        }
        let mut conn = self.pool.acquire().await?;
        found.extend(fetch_nodes(&mut conn, &missing).await?);
        for id in &missing {
            let have = self.nodes.len(id.level);
            if id.index >= have
                && id.index - have < CACHE_CATCH_UP
                && found.contains_key(id)
                && self.nodes.room() > 0
            {
                let hashes = level_range(&mut conn, id.level, have, id.index + 1).await?;
                self.nodes.extend(id.level, have, &hashes);
            }
        }
        Ok(found)
    }

    /// Fills the in-memory copy of the subtree hashes from the database, highest levels first,
    /// up to its budget. Returns how many nodes were loaded. `antin serve` runs it at start in the
    /// background; proofs asked meanwhile read the database.
    pub async fn log_warm_node_cache(&self) -> Result<u64, StoreError> {
        let size = self.log_size().await?;
        let mut loaded = 0u64;
        if size == 0 {
            return Ok(0);
        }
        let top = 63 - size.leading_zeros() as u8;
        let mut conn = self.pool.acquire().await?;
        for level in (0..=top).rev() {
            let complete = size >> level;
            let mut have = self.nodes.len(level);
            while have < complete && self.nodes.room() > 0 {
                let end = complete.min(have + WARM_CHUNK);
                let hashes = level_range(&mut conn, level, have, end).await?;
                if hashes.is_empty() {
                    break;
                }
                let added = self.nodes.extend(level, have, &hashes);
                loaded += added as u64;
                if added == 0 {
                    break;
                }
                have = self.nodes.len(level);
            }
        }
        Ok(loaded)
    }

    /// Entries with `start <= index < end`, at most [`MAX_ENTRIES_PER_READ`], in order. Rows are
    /// returned as stored: a gap or a changed body is for the verifier to find.
    pub async fn log_entries(&self, start: u64, end: u64) -> Result<Vec<LoggedEntry>, StoreError> {
        let end = end.min(start.saturating_add(MAX_ENTRIES_PER_READ));
        let rows = sqlx::query(
            "SELECT idx, body FROM log_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx",
        )
        .bind(to_i64(start)?)
        .bind(to_i64(end)?)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LoggedEntry {
                    index: to_u64(r.try_get::<i64, _>("idx")?)?,
                    body: r.try_get("body")?,
                })
            })
            .collect()
    }

    /// Entries with `start <= index < end` (at most [`MAX_ENTRIES_PER_READ`]) with the leaf hash
    /// stored for each, for an auditor's replay.
    pub async fn log_entry_rows(&self, start: u64, end: u64) -> Result<Vec<EntryRow>, StoreError> {
        let end = end.min(start.saturating_add(MAX_ENTRIES_PER_READ));
        // One row per page, each entry framed as `idx:bytes:leaf-hex:body`: the drivers' cost is
        // per row (a replay of a million entries spent most of its time there), and the framing
        // holds whatever a body contains.
        let sql = match self.backend {
            super::Backend::Sqlite => {
                "SELECT group_concat(e.idx || ':' || length(CAST(e.body AS BLOB)) || ':' || \
                 coalesce(hex(n.hash), '') || ':' || e.body, '') AS page \
                 FROM (SELECT idx, body FROM log_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx) e \
                 LEFT JOIN log_nodes n ON n.level = 0 AND n.idx = e.idx"
            }
            super::Backend::Postgres => {
                "SELECT string_agg(e.idx::text || ':' || octet_length(e.body)::text || ':' || \
                 coalesce(encode(n.hash, 'hex'), '') || ':' || e.body, '' ORDER BY e.idx) AS page \
                 FROM log_entries e LEFT JOIN log_nodes n ON n.level = 0 AND n.idx = e.idx \
                 WHERE e.idx >= $1 AND e.idx < $2"
            }
        };
        let row = sqlx::query(sql)
            .bind(to_i64(start)?)
            .bind(to_i64(end)?)
            .fetch_one(&self.pool)
            .await?;
        let page: Option<String> = row.try_get("page")?;
        let mut rows = parse_page(page.as_deref().unwrap_or(""))?;
        rows.sort_by_key(|r| r.index);
        Ok(rows)
    }

    /// Every stored leaf hash with `start <= index < end` (at most [`MAX_ENTRIES_PER_READ`]).
    pub async fn log_leaf_hashes(
        &self,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, Hash)>, StoreError> {
        let end = end.min(start.saturating_add(MAX_ENTRIES_PER_READ));
        let rows = sqlx::query(
            "SELECT idx, hash FROM log_nodes WHERE level = 0 AND idx >= $1 AND idx < $2 \
             ORDER BY idx",
        )
        .bind(to_i64(start)?)
        .bind(to_i64(end)?)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    to_u64(r.try_get::<i64, _>("idx")?)?,
                    to_hash(r.try_get("hash")?)?,
                ))
            })
            .collect()
    }

    /// The indices of entries recorded with this subject, in order.
    pub async fn log_find_subject(&self, subject: &str) -> Result<Vec<u64>, StoreError> {
        let rows =
            sqlx::query("SELECT idx FROM log_subjects WHERE subject = $1 ORDER BY idx LIMIT 1000")
                .bind(subject)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| to_u64(r.try_get::<i64, _>("idx")?))
            .collect()
    }

    /// The checkpoint with the largest size.
    pub async fn log_latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = sqlx::query(
            "SELECT size, root, note, created_at FROM log_checkpoints ORDER BY size DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| checkpoint_from_row(&r)).transpose()
    }

    /// Every stored checkpoint, smallest first (at most 10,000: the most recent ones).
    pub async fn log_checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let rows = sqlx::query(
            "SELECT size, root, note, created_at FROM \
             (SELECT size, root, note, created_at FROM log_checkpoints ORDER BY size DESC \
              LIMIT 10000) AS recent ORDER BY size",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(checkpoint_from_row).collect()
    }

    /// Stores a checkpoint; false when one of that size exists already (another instance signed
    /// it first: the tree at that size is the same, so either note is good).
    pub async fn log_insert_checkpoint(&self, cp: &StoredCheckpoint) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO log_checkpoints (size, root, note, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (size) DO NOTHING",
        )
        .bind(to_i64(cp.size)?)
        .bind(cp.root.to_vec())
        .bind(cp.note.as_str())
        .bind(fmt_time(cp.created_at))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

fn checkpoint_from_row(r: &sqlx::any::AnyRow) -> Result<StoredCheckpoint, StoreError> {
    Ok(StoredCheckpoint {
        size: to_u64(r.try_get::<i64, _>("size")?)?,
        root: to_hash(r.try_get("root")?)?,
        note: r.try_get("note")?,
        created_at: super::parse_time(&r.try_get::<String, _>("created_at")?)?,
    })
}
