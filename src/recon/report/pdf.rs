//! The official daily reconciliation report as a PDF (Decision 31/2021: by agency, payment provider
//! and transaction type; the summary, then the detail of every discrepancy): A4 portrait, as many
//! pages as it takes, "Trang x/y" at the foot of each. Text is Liberation Serif embedded as a subset
//! with /ToUnicode (sign::appearance::font), so it extracts with its diacritics. Unsigned: the
//! caller signs it with the service profile.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{
    class_label, date_dmy, money, status_label, summary_totals, time_vn, ReportData, ReportError,
};
use crate::i18n::Lang;
use crate::sign::appearance::font::{Font, FontUse};

const PAGE_W: f64 = 595.0;
const PAGE_H: f64 = 842.0;
const MARGIN: f64 = 40.0;
const BODY: f64 = 8.5;
/// Lowest baseline of body text: below it the page number, and on page 1 the room the signing
/// profile's QR code takes when the signature is invisible (config: rect [36, 36, 72]).
const BOTTOM: f64 = 115.0;

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
    Center,
}

struct Writer {
    font: FontUse,
    pages: Vec<String>,
    y: f64,
}

fn pdf_err(e: String) -> ReportError {
    ReportError::Pdf(e)
}

impl Writer {
    fn new() -> Result<Writer, ReportError> {
        Ok(Writer {
            font: FontUse::new(Font::builtin().map_err(pdf_err)?),
            pages: vec![String::new()],
            y: PAGE_H - MARGIN,
        })
    }

    fn width(&self, text: &str, size: f64) -> Result<f64, ReportError> {
        self.font.font().width(text, size).map_err(pdf_err)
    }

    /// `text` cut (with an ellipsis) to fit `max` points.
    fn fit(&self, text: &str, size: f64, max: f64) -> Result<String, ReportError> {
        if self.width(text, size)? <= max {
            return Ok(text.to_owned());
        }
        let mut chars: Vec<char> = text.chars().collect();
        while !chars.is_empty() {
            chars.pop();
            let s: String = chars.iter().collect::<String>() + "…";
            if self.width(&s, size)? <= max {
                return Ok(s);
            }
        }
        Ok(String::new())
    }

    fn put(&mut self, x: f64, size: f64, align: Align, text: &str) -> Result<(), ReportError> {
        if text.is_empty() {
            return Ok(());
        }
        let w = self.width(text, size)?;
        let x = match align {
            Align::Left => x,
            Align::Right => x - w,
            Align::Center => x - w / 2.0,
        };
        let glyphs = self.font.font().layout(text).map_err(pdf_err)?;
        let hex = self.font.encode(&glyphs);
        let page = self
            .pages
            .last_mut()
            .ok_or_else(|| pdf_err("no page".into()))?;
        let _ = writeln!(
            page,
            "BT /F1 {size:.1} Tf {x:.2} {:.2} Td {} Tj ET",
            self.y,
            String::from_utf8_lossy(&hex)
        );
        Ok(())
    }

    fn rule(&mut self) -> Result<(), ReportError> {
        let y = self.y - 2.5;
        let page = self
            .pages
            .last_mut()
            .ok_or_else(|| pdf_err("no page".into()))?;
        let _ = writeln!(
            page,
            "0.5 w {MARGIN:.2} {y:.2} m {:.2} {y:.2} l S",
            PAGE_W - MARGIN
        );
        Ok(())
    }

    /// Moves down by `h`, starting a new page when the line would not fit.
    fn down(&mut self, h: f64) {
        self.y -= h;
        if self.y < BOTTOM {
            self.pages.push(String::new());
            self.y = PAGE_H - MARGIN - h;
        }
    }

    fn line(&mut self, size: f64, align: Align, text: &str) -> Result<(), ReportError> {
        self.down(size * 1.5);
        let x = match align {
            Align::Left => MARGIN,
            Align::Right => PAGE_W - MARGIN,
            Align::Center => PAGE_W / 2.0,
        };
        self.put(x, size, align, text)
    }

    /// One table row: each cell is (x of its left or right edge, width, alignment, text).
    fn row(&mut self, cells: &[(f64, f64, Align, String)]) -> Result<(), ReportError> {
        self.down(BODY * 1.45);
        for (x, w, align, text) in cells {
            let t = self.fit(text, BODY, *w)?;
            let edge = match align {
                Align::Right => x + w,
                Align::Center => x + w / 2.0,
                Align::Left => *x,
            };
            self.put(edge, BODY, *align, &t)?;
        }
        Ok(())
    }
}

/// Column layout: (width, alignment) from the left margin.
fn columns(spec: &[(f64, Align)], texts: Vec<String>) -> Vec<(f64, f64, Align, String)> {
    let mut x = MARGIN;
    spec.iter()
        .zip(texts)
        .map(|((w, a), t)| {
            // A 3-point gutter on each side keeps a right-aligned number off the next column's text.
            let c = (x + 3.0, *w - 6.0, *a, t);
            x += w;
            c
        })
        .collect()
}

pub fn document(data: &ReportData, lang: Lang) -> Result<Vec<u8>, ReportError> {
    let o = &data.outcome;
    let mut w = Writer::new()?;
    w.line(
        10.0,
        Align::Center,
        lang.pick(
            "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
            "SOCIALIST REPUBLIC OF VIET NAM",
        ),
    )?;
    w.line(
        10.0,
        Align::Center,
        lang.pick(
            "Độc lập - Tự do - Hạnh phúc",
            "Independence - Freedom - Happiness",
        ),
    )?;
    w.down(10.0);
    w.line(
        13.0,
        Align::Center,
        lang.pick(
            "BÁO CÁO ĐỐI SOÁT GIAO DỊCH THU PHÍ, LỆ PHÍ",
            "RECONCILIATION REPORT OF FEE AND CHARGE PAYMENTS",
        ),
    )?;
    w.line(
        11.0,
        Align::Center,
        &format!("{} {}", lang.pick("Ngày", "Day"), date_dmy(data.date)),
    )?;
    w.down(6.0);
    w.line(
        BODY,
        Align::Left,
        &format!(
            "{}: {}    {}: {}",
            lang.pick("Lần đối soát", "Run"),
            data.run_id,
            lang.pick("Thời gian", "At"),
            time_vn(data.run_at)
        ),
    )?;
    w.line(
        BODY,
        Align::Left,
        &format!(
            "{}: {}",
            lang.pick("Đơn vị", "Agency"),
            data.agency
                .as_deref()
                .unwrap_or(lang.pick("Tất cả các đơn vị", "All agencies"))
        ),
    )?;

    // I. Summary.
    w.down(8.0);
    w.line(
        10.0,
        Align::Left,
        lang.pick(
            "I. TỔNG HỢP THEO ĐƠN VỊ, NHÀ CUNG CẤP DỊCH VỤ THANH TOÁN VÀ LOẠI PHÍ",
            "I. SUMMARY BY AGENCY, PAYMENT PROVIDER AND FEE TYPE",
        ),
    )?;
    let l = Align::Left;
    let r = Align::Right;
    let sum_cols = [
        (112.0, l),
        (50.0, l),
        (50.0, l),
        (50.0, r),
        (58.0, r),
        (70.0, r),
        (55.0, r),
        (70.0, r),
    ];
    let head = [
        lang.pick("Đơn vị", "Agency"),
        lang.pick("Cổng", "Gateway"),
        lang.pick("Mã phí", "Fee code"),
        lang.pick("Số GD thu", "Payments"),
        lang.pick("Số GD hoàn", "Refunds"),
        lang.pick("Tổng thu (đồng)", "Gross (VND)"),
        lang.pick("Phí (đồng)", "Fees (VND)"),
        lang.pick("Thực nhận (đồng)", "Net (VND)"),
    ];
    w.row(&columns(
        &sum_cols,
        head.iter().map(|s| (*s).to_owned()).collect(),
    ))?;
    w.rule()?;
    for s in &o.summary {
        w.row(&columns(
            &sum_cols,
            vec![
                s.agency.clone(),
                s.gateway.clone(),
                s.fee_code.clone(),
                s.payments.to_string(),
                s.refunds.to_string(),
                money(s.gross, lang),
                money(s.fees, lang),
                money(s.net, lang),
            ],
        ))?;
    }
    w.rule()?;
    let (payments, refunds, gross, fees, net) = summary_totals(o);
    w.row(&columns(
        &sum_cols,
        vec![
            lang.pick("Tổng cộng", "Total").to_owned(),
            String::new(),
            String::new(),
            payments.to_string(),
            refunds.to_string(),
            money(gross, lang),
            money(fees, lang),
            money(net, lang),
        ],
    ))?;

    // II. Settlements against the bank.
    w.down(8.0);
    w.line(
        10.0,
        Align::Left,
        lang.pick(
            "II. QUYẾT TOÁN CỦA CỔNG THANH TOÁN VÀ TIỀN VỀ TÀI KHOẢN",
            "II. GATEWAY SETTLEMENTS AND THE BANK",
        ),
    )?;
    let set_cols = [
        (85.0, l),
        (85.0, r),
        (80.0, r),
        (85.0, r),
        (95.0, r),
        (85.0, r),
    ];
    let head = [
        lang.pick("Cổng", "Gateway"),
        lang.pick("Tổng (đồng)", "Gross (VND)"),
        lang.pick("Phí (đồng)", "Fees (VND)"),
        lang.pick("Ròng (đồng)", "Net (VND)"),
        lang.pick("Ngân hàng đã nhận", "At the bank"),
        lang.pick("Chênh lệch", "Difference"),
    ];
    w.row(&columns(
        &set_cols,
        head.iter().map(|s| (*s).to_owned()).collect(),
    ))?;
    w.rule()?;
    for s in &o.settlements {
        w.row(&columns(
            &set_cols,
            vec![
                s.gateway.clone(),
                money(s.gross, lang),
                money(s.fees, lang),
                money(s.net, lang),
                money(s.received, lang),
                money(s.net - s.received, lang),
            ],
        ))?;
    }
    w.down(4.0);
    w.line(
        BODY,
        Align::Left,
        &format!(
            "{}: {}    {}: {}    {}: {}    {}: {}",
            lang.pick("Số giao dịch khớp", "Matched"),
            o.matches.len(),
            lang.pick("Chênh lệch", "Discrepancies"),
            data.discrepancies.len(),
            lang.pick("chưa xử lý", "open"),
            data.open_discrepancies(),
            lang.pick("Đang chờ trong hạn", "Awaiting within SLA"),
            o.awaiting.len()
        ),
    )?;

    // III. Every discrepancy.
    w.down(8.0);
    w.line(
        10.0,
        Align::Left,
        lang.pick("III. CHI TIẾT CHÊNH LỆCH", "III. DISCREPANCIES IN DETAIL"),
    )?;
    let dis_cols = [
        (25.0, r),
        (150.0, l),
        (50.0, l),
        (75.0, r),
        (75.0, r),
        (65.0, l),
        (75.0, l),
    ];
    let head = [
        lang.pick("STT", "No."),
        lang.pick("Loại chênh lệch", "Class"),
        lang.pick("Cổng", "Gateway"),
        lang.pick("Theo antin", "Expected"),
        lang.pick("Theo đối tác", "Actual"),
        lang.pick("Trạng thái", "Status"),
        lang.pick("Mã", "Id"),
    ];
    w.row(&columns(
        &dis_cols,
        head.iter().map(|s| (*s).to_owned()).collect(),
    ))?;
    w.rule()?;
    if data.discrepancies.is_empty() {
        w.line(
            BODY,
            Align::Left,
            lang.pick("Không có chênh lệch.", "No discrepancies."),
        )?;
    }
    let opt = |v: Option<i64>| v.map(|v| money(v, lang)).unwrap_or_default();
    for (i, d) in data.discrepancies.iter().enumerate() {
        let x = &d.discrepancy;
        w.row(&columns(
            &dis_cols,
            vec![
                (i + 1).to_string(),
                class_label(x.class, lang).to_owned(),
                x.gateway.clone(),
                opt(x.expected),
                opt(x.actual),
                status_label(d, lang).to_owned(),
                d.id.clone(),
            ],
        ))?;
        let indent = MARGIN + 25.0;
        let width = PAGE_W - MARGIN - indent;
        w.down(BODY * 1.3);
        let t = w.fit(
            &format!("{}: {}", lang.pick("Khóa", "Key"), x.key),
            BODY - 1.0,
            width,
        )?;
        w.put(indent, BODY - 1.0, Align::Left, &t)?;
        if !x.detail.is_empty() {
            w.down(BODY * 1.3);
            let t = w.fit(&x.detail, BODY - 1.0, width)?;
            w.put(indent, BODY - 1.0, Align::Left, &t)?;
        }
        if let Some(res) = &d.resolution {
            w.down(BODY * 1.3);
            let at = crate::timefmt::parse_rfc3339(&res.resolved_at)
                .map(time_vn)
                .unwrap_or_else(|| res.resolved_at.clone());
            let t = w.fit(
                &format!(
                    "{}: {} ({}, {})",
                    lang.pick("Đã xử lý", "Resolved"),
                    res.reason,
                    res.resolved_by,
                    at
                ),
                BODY - 1.0,
                width,
            )?;
            w.put(indent, BODY - 1.0, Align::Left, &t)?;
        }
    }
    w.down(20.0);
    w.line(
        BODY,
        Align::Right,
        lang.pick(
            "Báo cáo do antin lập và ký số bằng chữ ký số của hệ thống.",
            "Produced by antin and digitally signed with its service signature.",
        ),
    )?;

    // Page numbers, now that the count is known.
    let total = w.pages.len();
    for n in 0..total {
        let text = format!("{} {}/{total}", lang.pick("Trang", "Page"), n + 1);
        let width = w.width(&text, BODY)?;
        let glyphs = w.font.font().layout(&text).map_err(pdf_err)?;
        let hex = w.font.encode(&glyphs);
        if let Some(page) = w.pages.get_mut(n) {
            let _ = writeln!(
                page,
                "BT /F1 {BODY:.1} Tf {:.2} 30.00 Td {} Tj ET",
                (PAGE_W - width) / 2.0,
                String::from_utf8_lossy(&hex)
            );
        }
    }
    assemble(&w)
}

/// Replaces `{{obj:K}}` with `n 0 R` in the dictionary part of an object (not in stream data).
fn substitute(body: &[u8], refs: &BTreeMap<String, usize>) -> Result<Vec<u8>, ReportError> {
    let split = crate::pdf::find(body, b"stream\n").unwrap_or(body.len());
    let (head, tail) = body.split_at(split);
    let mut head =
        String::from_utf8(head.to_vec()).map_err(|_| pdf_err("font dictionary".into()))?;
    for (key, n) in refs {
        head = head.replace(&format!("{{{{{key}}}}}"), &format!("{n} 0 R"));
    }
    if head.contains("{{") {
        return Err(pdf_err("unknown placeholder in a font object".into()));
    }
    let mut out = head.into_bytes();
    out.extend_from_slice(tail);
    Ok(out)
}

fn assemble(w: &Writer) -> Result<Vec<u8>, ReportError> {
    // 1 catalog, 2 pages, 3 font, 4.. the font's objects, then each page and its content.
    let fo = w.font.objects(0).map_err(pdf_err)?;
    let first_extra = 4;
    let refs: BTreeMap<String, usize> = (0..fo.extra.len())
        .map(|i| (format!("obj:{i}"), first_extra + i))
        .collect();
    let first_page = first_extra + fo.extra.len();
    let kids: Vec<String> = (0..w.pages.len())
        .map(|i| format!("{} 0 R", first_page + 2 * i))
        .collect();
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R /Lang (vi-VN) >>".to_vec(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            w.pages.len()
        )
        .into_bytes(),
        substitute(&fo.font_dict, &refs)?,
    ];
    for e in &fo.extra {
        objects.push(substitute(e, &refs)?);
    }
    for (i, content) in w.pages.iter().enumerate() {
        let content_id = first_page + 2 * i + 1;
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_W} {PAGE_H}] \
                 /Resources << /Font << /F1 3 0 R >> >> /Contents {content_id} 0 R >>"
            )
            .into_bytes(),
        );
        let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
        stream.extend_from_slice(content.as_bytes());
        stream.extend_from_slice(b"\nendstream");
        objects.push(stream);
    }
    let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    Ok(out)
}
