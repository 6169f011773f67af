//! The day's reconciliation report in the formats finance officers hand in or read: a terminal
//! table, CSV, JSON, an Excel workbook and the official PDF (Decision 31/2021: by agency, payment
//! provider and transaction type, summary then detail).
//!
//! Pure: [`render`] turns a [`ReportData`] (everything read from the store beforehand) into bytes.
//! It never reads the clock, files, the database or the network, and it never parses untrusted
//! bytes. Signing the PDF is the caller's business (the signing engine, at the edge).

mod pdf;
mod text;
pub mod xlsx;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::i18n::Lang;
use crate::recon::{Class, Leg, Outcome, Rule};
use crate::store::recon::StoredDiscrepancy;

pub use text::{discrepancies_csv, discrepancy_table, report_table};

/// The output formats of `antin recon report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    Table,
    Csv,
    Json,
    Xlsx,
    Pdf,
}

impl ReportFormat {
    /// Binary formats are never written to a terminal.
    pub fn is_binary(self) -> bool {
        matches!(self, ReportFormat::Xlsx | ReportFormat::Pdf)
    }

    pub fn extension(self) -> &'static str {
        match self {
            ReportFormat::Table => "txt",
            ReportFormat::Csv => "csv",
            ReportFormat::Json => "json",
            ReportFormat::Xlsx => "xlsx",
            ReportFormat::Pdf => "pdf",
        }
    }
}

/// Everything a report shows: one day's latest run and the discrepancies with their resolutions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportData {
    pub date: Date,
    pub run_id: String,
    /// When the run was made (UTC; shown in Vietnam time).
    pub run_at: OffsetDateTime,
    /// The agency the run was limited to (`--agency`), if any.
    pub agency: Option<String>,
    pub outcome: Outcome,
    pub discrepancies: Vec<StoredDiscrepancy>,
}

impl ReportData {
    pub fn open_discrepancies(&self) -> usize {
        self.discrepancies
            .iter()
            .filter(|d| d.resolution.is_none())
            .count()
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// An amount Excel cannot hold exactly (an IEEE 754 double is exact up to 2^53).
    #[error("amount {0} is too large for a spreadsheet number")]
    AmountTooLarge(i64),
    #[error("workbook: {0}")]
    Xlsx(String),
    #[error("pdf: {0}")]
    Pdf(String),
    #[error("json: {0}")]
    Json(String),
}

/// The report in `format`, in `lang`.
pub fn render(format: ReportFormat, data: &ReportData, lang: Lang) -> Result<Vec<u8>, ReportError> {
    match format {
        ReportFormat::Table => Ok(report_table(data, lang).into_bytes()),
        ReportFormat::Csv => Ok(discrepancies_csv(&data.discrepancies, lang).into_bytes()),
        ReportFormat::Json => {
            let mut v =
                serde_json::to_vec_pretty(data).map_err(|e| ReportError::Json(e.to_string()))?;
            v.push(b'\n');
            Ok(v)
        }
        ReportFormat::Xlsx => xlsx::workbook(data, lang),
        ReportFormat::Pdf => pdf::document(data, lang),
    }
}

/// The file name officers expect: `doi-soat-2026-11-21.xlsx`.
pub fn default_file_name(date: Date, format: ReportFormat) -> String {
    format!("doi-soat-{date}.{}", format.extension())
}

/// 1234567 -> `1.234.567` (Vietnamese) or `1,234,567` (English).
pub fn money(v: i64, lang: Lang) -> String {
    let sep = lang.pick(".", ",");
    let digits = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push_str(sep);
        }
        out.push(c);
    }
    if v < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// `21/11/2026`, as Vietnamese documents write dates (English too: unambiguous with the year).
pub fn date_dmy(d: Date) -> String {
    format!("{:02}/{:02}/{}", d.day(), u8::from(d.month()), d.year())
}

/// `21/11/2026 10:30:05 (+07:00)`: a stored UTC time in Vietnam time.
pub fn time_vn(t: OffsetDateTime) -> String {
    let t = t.to_offset(crate::timefmt::VIETNAM);
    format!(
        "{} {:02}:{:02}:{:02} (+07:00)",
        date_dmy(t.date()),
        t.hour(),
        t.minute(),
        t.second()
    )
}

pub fn class_label(c: Class, lang: Lang) -> &'static str {
    lang.pick(c.label_vi(), c.label_en())
}

pub fn rule_label(r: Rule, lang: Lang) -> &'static str {
    match r {
        Rule::OurReference => lang.pick("Mã tham chiếu của antin", "Our reference"),
        Rule::GatewayTransaction => lang.pick("Mã giao dịch của cổng", "Gateway transaction"),
        Rule::VietqrMemo => lang.pick("Nội dung chuyển khoản VietQR", "VietQR memo"),
        Rule::PayoutMemo => lang.pick("Nội dung chuyển tiền quyết toán", "Payout memo"),
        Rule::AmountAndDate => lang.pick("Số tiền và ngày", "Amount and date"),
        Rule::Reversal => lang.pick("Bút toán đảo", "Reversal"),
    }
}

pub fn leg_label(l: Leg, lang: Lang) -> &'static str {
    match l {
        Leg::LedgerGateway => lang.pick("Sổ antin – cổng", "Ledger – gateway"),
        Leg::GatewayBank => lang.pick("Cổng – ngân hàng", "Gateway – bank"),
        Leg::LedgerBank => lang.pick("Sổ antin – ngân hàng", "Ledger – bank"),
        Leg::BankBank => lang.pick("Ngân hàng – ngân hàng", "Bank – bank"),
    }
}

/// The status column of a discrepancy.
pub fn status_label(d: &StoredDiscrepancy, lang: Lang) -> &'static str {
    match d.resolution {
        Some(_) => lang.pick("Đã xử lý", "Resolved"),
        None => lang.pick("Chưa xử lý", "Open"),
    }
}

/// Column sums of the summary lines: (payments, refunds, gross, fees, net).
pub fn summary_totals(o: &Outcome) -> (u64, u64, i64, i64, i64) {
    o.summary.iter().fold((0, 0, 0, 0, 0), |t, s| {
        (
            t.0 + s.payments,
            t.1 + s.refunds,
            t.2 + s.gross,
            t.3 + s.fees,
            t.4 + s.net,
        )
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn money_groups_thousands() {
        assert_eq!(money(1_234_567, Lang::Vi), "1.234.567");
        assert_eq!(money(-1_000, Lang::En), "-1,000");
        assert_eq!(money(999, Lang::Vi), "999");
    }

    #[test]
    fn dates_day_first() {
        let d = time::macros::date!(2026 - 11 - 01);
        assert_eq!(date_dmy(d), "01/11/2026");
        assert_eq!(
            default_file_name(d, ReportFormat::Xlsx),
            "doi-soat-2026-11-01.xlsx"
        );
        let t = time::macros::datetime!(2026-11-21 17:30:05 UTC);
        assert_eq!(time_vn(t), "22/11/2026 00:30:05 (+07:00)");
    }
}
