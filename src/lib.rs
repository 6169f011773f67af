//! antin: the trust steps of Vietnam's level-4 online public services.
//!
//! Pure cores (`pdf`, `pki`, `verify::engine`) take their inputs (bytes, trust anchors, the time,
//! revocation data) as arguments and never touch the clock, the network or the database; the
//! effects live at the edges (`pki::fetch`, `store`, `http`, `cli`).
#![deny(unsafe_code)]

pub mod audit;
pub mod cli;
pub mod config;
pub mod http;
pub mod i18n;
pub mod pay;
pub mod pdf;
pub mod pki;
pub mod recon;
pub mod sign;
pub mod sim;
pub mod store;
pub mod timefmt;
pub mod verify;
