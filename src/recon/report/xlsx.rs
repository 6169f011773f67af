//! The workbook officers open in Excel: "Tổng hợp" (summary by agency, gateway and fee code, with
//! totals, and the gateways' settlements against the bank), "Chi tiết" (every match of the run)
//! and "Chênh lệch" (every discrepancy with its resolution). Amounts are numbers formatted
//! `#,##0` (integer VND), dates are Excel dates, each table's header row is bold and frozen.

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};
use time::{Date, OffsetDateTime};

use super::{
    class_label, date_dmy, leg_label, rule_label, status_label, summary_totals, ReportData,
    ReportError,
};
use crate::i18n::Lang;
use crate::recon::Origin;

/// The largest integer an IEEE 754 double holds exactly.
const EXACT_F64: i64 = 1 << 53;

impl From<XlsxError> for ReportError {
    fn from(e: XlsxError) -> Self {
        ReportError::Xlsx(e.to_string())
    }
}

/// The sheet names, in the report's language.
pub fn sheet_names(lang: Lang) -> [&'static str; 3] {
    [
        lang.pick("Tổng hợp", "Summary"),
        lang.pick("Chi tiết", "Detail"),
        lang.pick("Chênh lệch", "Discrepancies"),
    ]
}

struct Formats {
    bold: Format,
    title: Format,
    money: Format,
    money_bold: Format,
    date: Format,
    datetime: Format,
}

impl Formats {
    fn new() -> Formats {
        Formats {
            bold: Format::new().set_bold(),
            title: Format::new().set_bold().set_font_size(14),
            money: Format::new().set_num_format("#,##0"),
            money_bold: Format::new().set_num_format("#,##0").set_bold(),
            date: Format::new().set_num_format("dd/mm/yyyy"),
            datetime: Format::new().set_num_format("dd/mm/yyyy hh:mm:ss"),
        }
    }
}

fn num(v: i64) -> Result<f64, ReportError> {
    if v.abs() > EXACT_F64 {
        return Err(ReportError::AmountTooLarge(v));
    }
    // Exact: |v| <= 2^53 (checked above).
    Ok(v as f64)
}

fn excel_date(d: Date) -> Result<ExcelDateTime, ReportError> {
    let year = u16::try_from(d.year()).map_err(|_| ReportError::Xlsx(format!("year of {d}")))?;
    Ok(ExcelDateTime::from_ymd(year, d.month().into(), d.day())?)
}

/// A stored UTC time as an Excel date-time in Vietnam time (Excel has no time zones).
fn excel_time(t: OffsetDateTime) -> Result<ExcelDateTime, ReportError> {
    let t = t.to_offset(crate::timefmt::VIETNAM);
    Ok(excel_date(t.date())?.and_hms(u16::from(t.hour()), t.minute(), t.second())?)
}

fn origin(o: &Option<Origin>) -> String {
    o.as_ref()
        .map(|o| format!("{}:{}", o.file, o.line))
        .unwrap_or_default()
}

fn header(
    ws: &mut Worksheet,
    row: u32,
    cells: &[(&str, f64)],
    f: &Formats,
) -> Result<(), ReportError> {
    for (col, (text, width)) in (0u16..).zip(cells) {
        ws.write_string_with_format(row, col, *text, &f.bold)?;
        ws.set_column_width(col, *width)?;
    }
    Ok(())
}

pub fn workbook(data: &ReportData, lang: Lang) -> Result<Vec<u8>, ReportError> {
    let f = Formats::new();
    let names = sheet_names(lang);
    let mut wb = Workbook::new();
    wb.push_worksheet(summary(data, lang, &f, names[0])?);
    wb.push_worksheet(detail(data, lang, &f, names[1])?);
    wb.push_worksheet(discrepancies(data, lang, &f, names[2])?);
    Ok(wb.save_to_buffer()?)
}

/// Row of the summary sheet's header (below the title block).
pub const SUMMARY_HEADER_ROW: u32 = 4;

fn summary(
    data: &ReportData,
    lang: Lang,
    f: &Formats,
    name: &str,
) -> Result<Worksheet, ReportError> {
    let o = &data.outcome;
    let mut ws = Worksheet::new();
    ws.set_name(name)?;
    ws.write_string_with_format(
        0,
        0,
        format!(
            "{} {}",
            lang.pick(
                "BÁO CÁO ĐỐI SOÁT GIAO DỊCH THU PHÍ, LỆ PHÍ NGÀY",
                "DAILY FEE COLLECTION RECONCILIATION REPORT,"
            ),
            date_dmy(data.date)
        ),
        &f.title,
    )?;
    ws.write_string(1, 0, lang.pick("Ngày đối soát", "Day"))?;
    ws.write_datetime_with_format(1, 1, excel_date(data.date)?, &f.date)?;
    ws.write_string(1, 2, lang.pick("Lần đối soát", "Run"))?;
    ws.write_string(1, 3, &data.run_id)?;
    ws.write_string(
        2,
        0,
        lang.pick("Thời gian chạy (+07:00)", "Run at (+07:00)"),
    )?;
    ws.write_datetime_with_format(2, 1, excel_time(data.run_at)?, &f.datetime)?;
    ws.write_string(2, 2, lang.pick("Đơn vị", "Agency"))?;
    ws.write_string(
        2,
        3,
        data.agency.as_deref().unwrap_or(lang.pick("Tất cả", "All")),
    )?;

    let mut row = SUMMARY_HEADER_ROW;
    header(
        &mut ws,
        row,
        &[
            (lang.pick("Đơn vị", "Agency"), 30.0),
            (lang.pick("Cổng thanh toán", "Gateway"), 16.0),
            (lang.pick("Mã phí", "Fee code"), 14.0),
            (lang.pick("Số GD thu", "Payments"), 12.0),
            (lang.pick("Số GD hoàn", "Refunds"), 12.0),
            (lang.pick("Tổng thu (đồng)", "Gross (VND)"), 18.0),
            (lang.pick("Phí (đồng)", "Fees (VND)"), 16.0),
            (lang.pick("Thực nhận (đồng)", "Net (VND)"), 18.0),
        ],
        f,
    )?;
    ws.set_freeze_panes(row + 1, 0)?;
    for s in &o.summary {
        row += 1;
        ws.write_string(row, 0, &s.agency)?;
        ws.write_string(row, 1, &s.gateway)?;
        ws.write_string(row, 2, &s.fee_code)?;
        ws.write_number(row, 3, s.payments as f64)?;
        ws.write_number(row, 4, s.refunds as f64)?;
        ws.write_number_with_format(row, 5, num(s.gross)?, &f.money)?;
        ws.write_number_with_format(row, 6, num(s.fees)?, &f.money)?;
        ws.write_number_with_format(row, 7, num(s.net)?, &f.money)?;
    }
    row += 1;
    let (payments, refunds, gross, fees, net) = summary_totals(o);
    ws.write_string_with_format(row, 0, lang.pick("Tổng cộng", "Total"), &f.bold)?;
    ws.write_number_with_format(row, 3, payments as f64, &f.bold)?;
    ws.write_number_with_format(row, 4, refunds as f64, &f.bold)?;
    ws.write_number_with_format(row, 5, num(gross)?, &f.money_bold)?;
    ws.write_number_with_format(row, 6, num(fees)?, &f.money_bold)?;
    ws.write_number_with_format(row, 7, num(net)?, &f.money_bold)?;

    row += 2;
    ws.write_string_with_format(
        row,
        0,
        lang.pick(
            "Quyết toán của cổng và tiền về ngân hàng",
            "Gateway settlements and the bank",
        ),
        &f.bold,
    )?;
    row += 1;
    for (col, text) in (0u16..).zip([
        lang.pick("Cổng thanh toán", "Gateway"),
        lang.pick("Tổng (đồng)", "Gross (VND)"),
        lang.pick("Phí (đồng)", "Fees (VND)"),
        lang.pick("Ròng (đồng)", "Net (VND)"),
        lang.pick("Ngân hàng đã nhận (đồng)", "At the bank (VND)"),
        lang.pick("Chênh lệch (đồng)", "Difference (VND)"),
    ]) {
        ws.write_string_with_format(row, col, text, &f.bold)?;
    }
    for s in &o.settlements {
        row += 1;
        ws.write_string(row, 0, &s.gateway)?;
        ws.write_number_with_format(row, 1, num(s.gross)?, &f.money)?;
        ws.write_number_with_format(row, 2, num(s.fees)?, &f.money)?;
        ws.write_number_with_format(row, 3, num(s.net)?, &f.money)?;
        ws.write_number_with_format(row, 4, num(s.received)?, &f.money)?;
        ws.write_number_with_format(row, 5, num(s.net - s.received)?, &f.money)?;
    }
    row += 2;
    ws.write_string(row, 0, lang.pick("Số giao dịch khớp", "Matched"))?;
    ws.write_number(row, 1, o.matches.len() as f64)?;
    ws.write_string(
        row + 1,
        0,
        lang.pick("Chênh lệch chưa xử lý", "Open discrepancies"),
    )?;
    ws.write_number(row + 1, 1, data.open_discrepancies() as f64)?;
    ws.write_string(
        row + 2,
        0,
        lang.pick("Đang chờ trong hạn", "Awaiting within SLA"),
    )?;
    ws.write_number(row + 2, 1, o.awaiting.len() as f64)?;
    Ok(ws)
}

fn detail(
    data: &ReportData,
    lang: Lang,
    f: &Formats,
    name: &str,
) -> Result<Worksheet, ReportError> {
    let mut ws = Worksheet::new();
    ws.set_name(name)?;
    header(
        &mut ws,
        0,
        &[
            (lang.pick("STT", "No."), 6.0),
            (lang.pick("Đối soát", "Leg"), 22.0),
            (lang.pick("Quy tắc", "Rule"), 28.0),
            (lang.pick("Khóa", "Keys"), 40.0),
            (lang.pick("Giao dịch antin", "Ledger entry"), 38.0),
            (lang.pick("Dòng của cổng", "Gateway row"), 30.0),
            (lang.pick("Quyết toán", "Settlement"), 22.0),
            (lang.pick("Dòng sao kê", "Bank entry"), 30.0),
            (lang.pick("Số tiền (đồng)", "Amount (VND)"), 16.0),
        ],
        f,
    )?;
    ws.set_freeze_panes(1, 0)?;
    for (row, (i, m)) in (1u32..).zip(data.outcome.matches.iter().enumerate()) {
        ws.write_number(row, 0, (i + 1) as f64)?;
        ws.write_string(row, 1, leg_label(m.leg, lang))?;
        ws.write_string(row, 2, rule_label(m.rule, lang))?;
        ws.write_string(row, 3, m.keys.join(", "))?;
        ws.write_string(row, 4, m.ledger.as_deref().unwrap_or(""))?;
        ws.write_string(row, 5, origin(&m.gateway))?;
        ws.write_string(row, 6, m.settlement.as_deref().unwrap_or(""))?;
        ws.write_string(row, 7, origin(&m.bank))?;
        ws.write_number_with_format(row, 8, num(m.amount)?, &f.money)?;
    }
    Ok(ws)
}

fn discrepancies(
    data: &ReportData,
    lang: Lang,
    f: &Formats,
    name: &str,
) -> Result<Worksheet, ReportError> {
    let mut ws = Worksheet::new();
    ws.set_name(name)?;
    header(
        &mut ws,
        0,
        &[
            (lang.pick("Mã", "Id"), 38.0),
            (lang.pick("Loại chênh lệch", "Class"), 34.0),
            (lang.pick("Cổng thanh toán", "Gateway"), 14.0),
            (lang.pick("Khóa", "Key"), 40.0),
            (lang.pick("Theo antin (đồng)", "Expected (VND)"), 18.0),
            (lang.pick("Theo đối tác (đồng)", "Actual (VND)"), 18.0),
            (lang.pick("Trạng thái", "Status"), 12.0),
            (lang.pick("Lý do xử lý", "Resolution reason"), 30.0),
            (lang.pick("Người xử lý", "Resolved by"), 20.0),
            (
                lang.pick("Thời gian xử lý (+07:00)", "Resolved at (+07:00)"),
                20.0,
            ),
            (lang.pick("Chi tiết", "Detail"), 60.0),
        ],
        f,
    )?;
    ws.set_freeze_panes(1, 0)?;
    for (row, d) in (1u32..).zip(&data.discrepancies) {
        let x = &d.discrepancy;
        ws.write_string(row, 0, &d.id)?;
        ws.write_string(row, 1, class_label(x.class, lang))?;
        ws.write_string(row, 2, &x.gateway)?;
        ws.write_string(row, 3, &x.key)?;
        if let Some(v) = x.expected {
            ws.write_number_with_format(row, 4, num(v)?, &f.money)?;
        }
        if let Some(v) = x.actual {
            ws.write_number_with_format(row, 5, num(v)?, &f.money)?;
        }
        ws.write_string(row, 6, status_label(d, lang))?;
        if let Some(r) = &d.resolution {
            ws.write_string(row, 7, &r.reason)?;
            ws.write_string(row, 8, &r.resolved_by)?;
            match crate::timefmt::parse_rfc3339(&r.resolved_at) {
                Some(t) => ws.write_datetime_with_format(row, 9, excel_time(t)?, &f.datetime)?,
                None => ws.write_string(row, 9, &r.resolved_at)?,
            };
        }
        ws.write_string(row, 10, &x.detail)?;
    }
    Ok(ws)
}
