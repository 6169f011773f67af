//! Daily reconciliation (issue 6): what citizens paid (our ledger), what each gateway says it
//! collected and settled (its settlement file), and what arrived on the agency's account (the bank
//! statement), matched three ways in integer VND, every difference classified and explained.
//!
//! `model`, `calendar` and `matching` are the pure core: rows, the business calendar and the time
//! all come in as arguments; nothing here reads the clock, files, the network or the database.
//! `import` turns untrusted files into rows (streaming, bounded) and must never trust a file that
//! does not balance against its own totals.

pub mod calendar;
pub mod config;
pub mod export;
pub mod import;
pub mod matching;
pub mod model;
pub mod resolve;
pub mod service;

pub use calendar::Calendar;
pub use matching::{reconcile, Outcome};
pub use model::*;
