//! The transparency log: every decision antin makes that someone may later dispute, in an
//! append-only Merkle tree (RFC 6962 / RFC 9162) with signed checkpoints (C2SP signed notes), so an
//! auditor holding a checkpoint can prove that no entry was changed, removed or reordered without
//! trusting antin's operators.
//!
//! `merkle`, `note` and `bundle` are pure: bytes and hashes in, hashes and verdicts out. They never
//! touch the clock, the network or the database. `entry` is the canonical, versioned encoding of
//! what is logged. `log` is the storage edge (SQLite or PostgreSQL), `audit` CLI and HTTP routes
//! call it.

pub mod bundle;
pub mod canonical;
pub mod entry;
pub mod log;
pub mod merkle;
pub mod note;
pub mod record;
pub mod replay;
