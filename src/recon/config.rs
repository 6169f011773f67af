//! `[recon]` in the configuration: the business calendar, SLAs, the fee schedules that explain
//! net versus gross, and each gateway's settlement-file column layout (VNPAY's real one is not
//! public, so the layout is configuration; the defaults read the simulators' files).

use std::collections::BTreeMap;

use serde::Deserialize;
use time::{Date, Time};

use super::calendar::Calendar;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconConfig {
    /// Bank holidays, `YYYY-MM-DD`.
    #[serde(default)]
    pub holidays: Vec<String>,
    /// The daily cut-off, Vietnam time, `HH:MM:SS`.
    #[serde(default = "default_cutoff")]
    pub cutoff: String,
    /// Business days after the settlement day by which a gateway's payout must be at the bank.
    #[serde(default = "default_sla")]
    pub settlement_sla_days: u32,
    /// Business days a keyless (amount and date) match may span.
    #[serde(default = "default_window")]
    pub match_window_days: u32,
    /// The VietQR memo prefix before our reference (payments' `vietqr.memo_prefix`).
    #[serde(default = "default_memo_prefix")]
    pub memo_prefix: String,
    /// A payout's memo: `{GATEWAY}` (upper case) and `{DATE}` (`YYYY-MM-DD`) are filled in.
    #[serde(default = "default_payout_memo")]
    pub payout_memo: String,
    /// Fee schedule per gateway; a gateway without one has its fees checked only for
    /// `net = amount - fee`.
    #[serde(default)]
    pub fees: BTreeMap<String, FeeSchedule>,
    #[serde(default)]
    pub layouts: BTreeMap<String, CsvLayout>,
    /// Largest file `recon import` reads.
    #[serde(default = "default_max_file")]
    pub max_file_bytes: u64,
    /// Largest file `POST /v1/reconciliation/imports` accepts (streamed to a temporary file).
    #[serde(default = "default_max_import")]
    pub max_import_bytes: u64,
    /// How long one upload through the API may take, body and import together (the server's
    /// `request_timeout_secs` is for ordinary requests).
    #[serde(default = "default_import_timeout")]
    pub import_timeout_secs: u64,
}

impl Default for ReconConfig {
    fn default() -> Self {
        ReconConfig {
            holidays: Vec::new(),
            cutoff: default_cutoff(),
            settlement_sla_days: default_sla(),
            match_window_days: default_window(),
            memo_prefix: default_memo_prefix(),
            payout_memo: default_payout_memo(),
            fees: BTreeMap::new(),
            layouts: BTreeMap::new(),
            max_file_bytes: default_max_file(),
            max_import_bytes: default_max_import(),
            import_timeout_secs: default_import_timeout(),
        }
    }
}

/// `(amount * bp + 5000) / 10000 + fixed`: basis points rounded half up plus a fixed part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeSchedule {
    pub bp: i64,
    #[serde(default)]
    pub fixed: i64,
}

impl FeeSchedule {
    pub fn fee(&self, amount: i64) -> i64 {
        (amount.saturating_mul(self.bp).saturating_add(5_000)) / 10_000 + self.fixed
    }
}

/// How a gateway's CSV is laid out: columns by header name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvLayout {
    /// One character: `,` or `;` (or a tab).
    pub separator: String,
    pub our_ref: String,
    /// On refund rows, the column holding the refund's own ref (MoMo's orderId, ZaloPay's
    /// m_refund_id); empty: refund rows carry the payment's ref in `our_ref`.
    #[serde(default)]
    pub refund_ref: String,
    /// The payment's ref on refund rows (empty: none).
    #[serde(default)]
    pub parent_ref: String,
    pub gateway_txn: String,
    /// On refund rows, the column with the refund's own transaction number (empty: `gateway_txn`).
    #[serde(default)]
    pub refund_txn: String,
    pub kind: String,
    pub payment_types: Vec<String>,
    pub refund_types: Vec<String>,
    pub time: String,
    /// `compact` (yyyyMMddHHmmss, Vietnam time), `rfc3339` or `unix_ms`.
    pub time_format: String,
    pub amount: String,
    pub fee: String,
    pub net: String,
    #[serde(default)]
    pub text: String,
    /// Optional status column and the values meaning failed (anything else is paid).
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub failed_values: Vec<String>,
    /// The first field of the totals row.
    #[serde(default = "default_total_marker")]
    pub total_marker: String,
}

fn default_cutoff() -> String {
    "23:59:59".into()
}
fn default_sla() -> u32 {
    1
}
fn default_window() -> u32 {
    1
}
fn default_memo_prefix() -> String {
    "ANTIN".into()
}
fn default_payout_memo() -> String {
    "{GATEWAY} TT QUYET TOAN NGAY {DATE}".into()
}
fn default_total_marker() -> String {
    "TOTAL".into()
}
fn default_max_file() -> u64 {
    2 << 30
}
fn default_max_import() -> u64 {
    512 << 20
}
fn default_import_timeout() -> u64 {
    900
}

/// A configuration value that does not parse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("recon.holidays: {0:?} is not a date YYYY-MM-DD")]
    Holiday(String),
    #[error("recon.cutoff: {0:?} is not a time HH:MM:SS")]
    Cutoff(String),
}

impl ReconConfig {
    pub fn calendar(&self) -> Result<Calendar, ConfigError> {
        let mut cal = Calendar::default();
        for h in &self.holidays {
            cal.holidays
                .insert(parse_date(h).ok_or_else(|| ConfigError::Holiday(h.clone()))?);
        }
        cal.cutoff =
            parse_time(&self.cutoff).ok_or_else(|| ConfigError::Cutoff(self.cutoff.clone()))?;
        Ok(cal)
    }

    /// The payout memo for a gateway and day.
    pub fn payout_memo_for(&self, gateway: &str, date: Date) -> String {
        self.payout_memo
            .replace("{GATEWAY}", &gateway.to_ascii_uppercase())
            .replace("{DATE}", &date.to_string())
    }
}

/// `YYYY-MM-DD`, strictly.
pub fn parse_date(s: &str) -> Option<Date> {
    crate::sim::settlement::parse_date(s)
}

fn parse_time(s: &str) -> Option<Time> {
    let mut it = s.split(':');
    let h: u8 = it.next()?.parse().ok()?;
    let m: u8 = it.next()?.parse().ok()?;
    let sec: u8 = it.next()?.parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    Time::from_hms(h, m, sec).ok()
}
