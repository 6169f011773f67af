//! The text formats: the terminal table and CSV.

use super::{class_label, date_dmy, money, time_vn, ReportData};
use crate::i18n::Lang;
use crate::store::recon::StoredDiscrepancy;

fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = w[i] - c.chars().count();
            s.push_str(c);
            s.push_str(&" ".repeat(pad + 2));
        }
        s.trim_end().to_owned() + "\n"
    };
    let mut out = line(head.iter().map(|h| (*h).to_owned()).collect());
    out.push_str(&line(w.iter().map(|n| "-".repeat(*n)).collect()));
    for r in rows {
        out.push_str(&line(r.clone()));
    }
    out
}

/// The default terminal report: the day's summary, settlements and discrepancies.
pub fn report_table(data: &ReportData, lang: Lang) -> String {
    let o = &data.outcome;
    let ds = &data.discrepancies;
    let mut out = format!(
        "{} {}\n{} {} ({})",
        lang.pick("BÁO CÁO ĐỐI SOÁT NGÀY", "DAILY RECONCILIATION REPORT"),
        date_dmy(data.date),
        lang.pick("Lần đối soát", "Run"),
        data.run_id,
        time_vn(data.run_at),
    );
    if let Some(a) = &data.agency {
        out.push_str(&format!(" {} {a}", lang.pick("đơn vị", "agency")));
    }
    out.push_str("\n\n");
    out.push_str(lang.pick(
        "Tổng hợp theo đơn vị, cổng thanh toán, mã phí\n",
        "Summary by agency, gateway, fee code\n",
    ));
    let rows: Vec<Vec<String>> = o
        .summary
        .iter()
        .map(|s| {
            vec![
                s.agency.clone(),
                s.gateway.clone(),
                s.fee_code.clone(),
                s.payments.to_string(),
                s.refunds.to_string(),
                money(s.gross, lang),
                money(s.fees, lang),
                money(s.net, lang),
            ]
        })
        .collect();
    out.push_str(&table(
        &if lang == Lang::En {
            [
                "Agency",
                "Gateway",
                "Fee code",
                "Payments",
                "Refunds",
                "Gross (VND)",
                "Fees (VND)",
                "Net (VND)",
            ]
        } else {
            [
                "Đơn vị",
                "Cổng",
                "Mã phí",
                "Số GD thu",
                "Số GD hoàn",
                "Tổng thu (đồng)",
                "Phí (đồng)",
                "Thực nhận (đồng)",
            ]
        },
        &rows,
    ));
    out.push('\n');
    out.push_str(lang.pick(
        "Quyết toán của cổng và tiền về ngân hàng\n",
        "Gateway settlements and the bank\n",
    ));
    let rows: Vec<Vec<String>> = o
        .settlements
        .iter()
        .map(|s| {
            vec![
                s.gateway.clone(),
                money(s.gross, lang),
                money(s.fees, lang),
                money(s.net, lang),
                money(s.received, lang),
            ]
        })
        .collect();
    out.push_str(&table(
        &if lang == Lang::En {
            ["Gateway", "Gross", "Fees", "Net", "At the bank"]
        } else {
            ["Cổng", "Tổng", "Phí", "Ròng", "Ngân hàng đã nhận"]
        },
        &rows,
    ));
    out.push('\n');
    out.push_str(&format!(
        "{}: {}   {}: {}\n\n",
        lang.pick("Số giao dịch khớp", "Matched"),
        o.matches.len(),
        lang.pick("Đang chờ trong hạn", "Awaiting within SLA"),
        o.awaiting.len()
    ));
    out.push_str(lang.pick("Chênh lệch\n", "Discrepancies\n"));
    out.push_str(&discrepancy_table(ds, lang));
    out
}

/// Discrepancies as a terminal table.
pub fn discrepancy_table(ds: &[StoredDiscrepancy], lang: Lang) -> String {
    let rows: Vec<Vec<String>> = ds
        .iter()
        .map(|d| {
            let x = &d.discrepancy;
            vec![
                d.id.clone(),
                d.run_date.clone(),
                class_label(x.class, lang).to_owned(),
                x.gateway.clone(),
                x.expected.map(|v| money(v, lang)).unwrap_or_default(),
                x.actual.map(|v| money(v, lang)).unwrap_or_default(),
                match &d.resolution {
                    Some(r) => format!("{} ({})", lang.pick("đã xử lý", "resolved"), r.reason),
                    None => lang.pick("chưa xử lý", "open").to_owned(),
                },
                x.detail.clone(),
            ]
        })
        .collect();
    table(
        &if lang == Lang::En {
            [
                "Id", "Day", "Class", "Gateway", "Expected", "Actual", "Status", "Detail",
            ]
        } else {
            [
                "Mã",
                "Ngày",
                "Loại chênh lệch",
                "Cổng",
                "Theo antin",
                "Theo đối tác",
                "Trạng thái",
                "Chi tiết",
            ]
        },
        &rows,
    )
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Discrepancies as CSV (UTF-8 with BOM and CRLF, as Excel opens it), amounts as plain integers.
pub fn discrepancies_csv(ds: &[StoredDiscrepancy], lang: Lang) -> String {
    let mut out = String::from(
        "\u{feff}id,date,class,label,gateway,key,expected,actual,resolved,reason,detail\r\n",
    );
    for d in ds {
        let x = &d.discrepancy;
        let cells = [
            d.id.clone(),
            d.run_date.clone(),
            x.class.as_str().to_owned(),
            class_label(x.class, lang).to_owned(),
            x.gateway.clone(),
            x.key.clone(),
            x.expected.map(|v| v.to_string()).unwrap_or_default(),
            x.actual.map(|v| v.to_string()).unwrap_or_default(),
            d.resolution.is_some().to_string(),
            d.resolution
                .as_ref()
                .map(|r| r.reason.clone())
                .unwrap_or_default(),
            x.detail.clone(),
        ];
        out.push_str(
            &cells
                .iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out
}
