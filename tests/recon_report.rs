//! The reconciliation report's files, read back: the xlsx workbook with calamine (sheet names,
//! headers, numbers, dates, row counts); the PDF parsed by antin's own parser and signed through
//! the signing engine with the default (development) profile, then verified.

use std::collections::BTreeMap;
use std::io::Cursor;

use antin::i18n::Lang;
use antin::recon::config::FeeSchedule;
use antin::recon::matching::{reconcile, Inputs, Params};
use antin::recon::report::{render, ReportData, ReportFormat};
use antin::recon::*;
use antin::store::recon::{Resolution, StoredDiscrepancy};
use calamine::{Data, Reader, Xlsx};
use time::macros::{date, datetime};
use unicode_normalization::UnicodeNormalization as _;

const ACCT: &str = "113366668888";

fn ledger(id: &str, gw: &str, our_ref: &str, amount: i64, status: LedgerStatus) -> LedgerTxn {
    LedgerTxn {
        id: id.into(),
        agency: "Sở Tư pháp tỉnh Thử Nghiệm".into(),
        fee_code: "LP01".into(),
        gateway: gw.into(),
        kind: TxnKind::Payment,
        our_ref: our_ref.into(),
        gateway_txn: None,
        amount,
        status,
        at: datetime!(2026-11-20 03:00:00 UTC),
        account: ACCT.into(),
    }
}

fn row(line: u64, our_ref: &str, txn: &str, amount: i64, fee: i64) -> GatewayRow {
    GatewayRow {
        gateway: "vnpay".into(),
        origin: Origin {
            file: "vnpay.csv".into(),
            line,
        },
        kind: TxnKind::Payment,
        our_ref: our_ref.into(),
        parent_ref: None,
        gateway_txn: txn.into(),
        amount,
        fee,
        net: amount - fee,
        status: GatewayStatus::Paid,
        at: datetime!(2026-11-20 03:00:00 UTC),
        text: Default::default(),
    }
}

/// A small day: two clean VNPAY payments (one of 1,234,567 đồng), one amount mismatch, one
/// missing at the gateway, the payout at the bank; one of the discrepancies resolved.
pub fn day() -> ReportData {
    let ok = LedgerStatus::Succeeded;
    let fee = |a: i64| (a * 110 + 5_000) / 10_000;
    let ledger = vec![
        ledger("a1", "vnpay", "V1", 1_234_567, ok),
        ledger("a2", "vnpay", "V2", 60_000, ok),
        ledger("a3", "vnpay", "V3", 80_000, ok),
        ledger("a4", "vnpay", "V4", 110_000, ok),
    ];
    let gateway = vec![
        row(2, "V1", "9001", 1_234_567, fee(1_234_567)),
        row(3, "V2", "9002", 60_000, fee(60_000)),
        row(4, "V3", "9003", 85_000, fee(85_000)),
    ];
    let net: i64 = gateway.iter().map(|r| r.net).sum();
    let bank = vec![BankEntry {
        origin: Origin {
            file: "stmt.xml".into(),
            line: 1,
        },
        statement_id: "S1".into(),
        account: ACCT.into(),
        bank_ref: "FT1".into(),
        amount: net,
        direction: Direction::Credit,
        reversal: false,
        value_date: date!(2026 - 11 - 20),
        booked_at: None,
        memo: "VNPAY TT QUYET TOAN NGAY 2026-11-20".into(),
        counterparty: None,
    }];
    let mut fees = BTreeMap::new();
    fees.insert("vnpay".to_owned(), FeeSchedule { bp: 110, fixed: 0 });
    let p = Params {
        date: date!(2026 - 11 - 20),
        as_of: date!(2026 - 11 - 25),
        calendar: Calendar::default(),
        settlement_sla_days: 1,
        match_window_days: 1,
        memo_prefix: "ANTIN".into(),
        payout_memo: "{GATEWAY} TT QUYET TOAN NGAY {DATE}".into(),
        fees,
    };
    let outcome = reconcile(
        &p,
        &Inputs {
            ledger,
            gateway,
            bank,
        },
    );
    let discrepancies = outcome
        .discrepancies
        .iter()
        .enumerate()
        .map(|(i, d)| StoredDiscrepancy {
            id: format!("D{i}"),
            run_id: "R1".into(),
            run_date: "2026-11-20".into(),
            discrepancy: d.clone(),
            resolution: (i == 0).then(|| Resolution {
                id: "S1".into(),
                reason: "tra soát với VNPAY số 123".into(),
                resolved_by: "ketoan".into(),
                resolved_at: "2026-11-21T02:00:00Z".into(),
                posting_ref: None,
            }),
        })
        .collect();
    ReportData {
        date: date!(2026 - 11 - 20),
        run_id: "R1".into(),
        run_at: datetime!(2026-11-21 01:30:00 UTC),
        agency: None,
        outcome,
        discrepancies,
    }
}

fn cell(r: &calamine::Range<Data>, row: u32, col: u32) -> Data {
    r.get_value((row, col)).cloned().unwrap_or(Data::Empty)
}

fn s(v: &str) -> Data {
    Data::String(v.into())
}

#[test]
fn the_workbook_reads_back_with_sheets_headers_numbers_and_dates() {
    let data = day();
    assert!(
        data.outcome.matches.len() >= 3,
        "{:?}",
        data.outcome.matches
    );
    assert_eq!(data.discrepancies.len(), 2, "{:?}", data.discrepancies);
    let bytes = render(ReportFormat::Xlsx, &data, Lang::Vi).unwrap();
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
    assert_eq!(wb.sheet_names(), ["Tổng hợp", "Chi tiết", "Chênh lệch"]);

    // Summary: the title block's day is an Excel date; the header; one line and the totals.
    let sum = wb.worksheet_range("Tổng hợp").unwrap();
    match cell(&sum, 1, 1) {
        Data::DateTime(d) => {
            assert!(d.is_datetime());
            // Excel's serial day of 2026-11-20 (1899-12-30 epoch).
            assert_eq!(d.as_f64(), 46_346.0);
        }
        other => panic!("day is not a date: {other:?}"),
    }
    match cell(&sum, 2, 1) {
        // 2026-11-21 01:30 UTC is 08:30 in Vietnam.
        Data::DateTime(d) => assert!((d.as_f64() - (46_347.0 + 8.5 / 24.0)).abs() < 1e-6),
        other => panic!("run time is not a date-time: {other:?}"),
    }
    let h = 4;
    assert_eq!(cell(&sum, h, 0), s("Đơn vị"));
    assert_eq!(cell(&sum, h, 5), s("Tổng thu (đồng)"));
    assert_eq!(data.outcome.summary.len(), 1);
    let line = &data.outcome.summary[0];
    assert_eq!(cell(&sum, h + 1, 0), s("Sở Tư pháp tỉnh Thử Nghiệm"));
    assert_eq!(cell(&sum, h + 1, 5), Data::Float(line.gross as f64));
    assert_eq!(cell(&sum, h + 1, 7), Data::Float(line.net as f64));
    assert_eq!(cell(&sum, h + 2, 0), s("Tổng cộng"));
    assert_eq!(cell(&sum, h + 2, 5), Data::Float(line.gross as f64));
    assert_eq!(cell(&sum, h + 2, 3), Data::Float(line.payments as f64));

    // Detail: a header and one row per match, amounts as numbers.
    let det = wb.worksheet_range("Chi tiết").unwrap();
    assert_eq!(det.height(), data.outcome.matches.len() + 1);
    assert_eq!(cell(&det, 0, 2), s("Quy tắc"));
    for (i, m) in data.outcome.matches.iter().enumerate() {
        assert_eq!(cell(&det, i as u32 + 1, 8), Data::Float(m.amount as f64));
    }
    assert!(data.outcome.matches.iter().any(|m| m.amount == 1_234_567));

    // Discrepancies: a header and one row each, with the resolution's reason, who and when.
    let dis = wb.worksheet_range("Chênh lệch").unwrap();
    assert_eq!(dis.height(), data.discrepancies.len() + 1);
    assert_eq!(cell(&dis, 0, 1), s("Loại chênh lệch"));
    for (i, d) in data.discrepancies.iter().enumerate() {
        let r = i as u32 + 1;
        assert_eq!(cell(&dis, r, 0), s(&d.id));
        assert_eq!(cell(&dis, r, 1), s(d.discrepancy.class.label_vi()));
        match d.discrepancy.expected {
            Some(v) => assert_eq!(cell(&dis, r, 4), Data::Float(v as f64)),
            None => assert_eq!(cell(&dis, r, 4), Data::Empty),
        }
    }
    assert_eq!(cell(&dis, 1, 6), s("Đã xử lý"));
    assert_eq!(cell(&dis, 1, 7), s("tra soát với VNPAY số 123"));
    assert!(matches!(cell(&dis, 1, 9), Data::DateTime(_)));
    assert_eq!(cell(&dis, 2, 6), s("Chưa xử lý"));
}

#[test]
fn the_workbook_in_english() {
    let bytes = render(ReportFormat::Xlsx, &day(), Lang::En).unwrap();
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
    assert_eq!(wb.sheet_names(), ["Summary", "Detail", "Discrepancies"]);
    let sum = wb.worksheet_range("Summary").unwrap();
    assert_eq!(cell(&sum, 4, 0), s("Agency"));
}

#[test]
fn json_and_table_carry_the_run() {
    let data = day();
    let json = render(ReportFormat::Json, &data, Lang::Vi).unwrap();
    let back: ReportData = serde_json::from_slice(&json).unwrap();
    assert_eq!(back, data);
    let table = String::from_utf8(render(ReportFormat::Table, &data, Lang::Vi).unwrap()).unwrap();
    assert!(
        table.starts_with("BÁO CÁO ĐỐI SOÁT NGÀY 20/11/2026\n"),
        "{table}"
    );
    let gross = antin::recon::report::money(data.outcome.summary[0].gross, Lang::Vi);
    assert!(gross.contains('.') && table.contains(&gross), "{table}");
}

fn pdf(data: &ReportData, lang: Lang) -> Vec<u8> {
    render(ReportFormat::Pdf, data, lang).unwrap()
}

/// The day with `n` extra discrepancies, enough to need several pages.
fn long_day(n: usize) -> ReportData {
    let mut data = day();
    let first = data.discrepancies[1].clone();
    for i in 0..n {
        let mut d = first.clone();
        d.id = format!("X{i}");
        data.discrepancies.push(d);
    }
    data
}

#[test]
fn the_pdf_parses_and_has_a_page_per_screenful() {
    let bytes = pdf(&day(), Lang::Vi);
    let doc = antin::pdf::parse(&bytes, &antin::pdf::Limits::default()).unwrap();
    assert_eq!(doc.revisions().len(), 1);
    assert!(doc.signatures().unwrap().is_empty());
    doc.catalog(0).unwrap();
    // Short: one page; long: several, each numbered.
    let pages = |b: &[u8]| String::from_utf8_lossy(b).matches("/Type /Page ").count();
    assert_eq!(pages(&bytes), 1);
    let long = pdf(&long_day(120), Lang::Vi);
    assert!(pages(&long) >= 3, "{}", pages(&long));
    antin::pdf::parse(&long, &antin::pdf::Limits::default()).unwrap();
}

#[test]
fn the_pdf_signed_with_the_service_profile_verifies() {
    use antin::sign::service::{self, SignOptions, Signer};
    let dir = tempfile::tempdir().unwrap();
    let env = vec![
        (
            "ANTIN_TRUST__ANCHOR_DIR".to_owned(),
            dir.path().join("anchors").display().to_string(),
        ),
        (
            "ANTIN_TRUST__INTERMEDIATE_DIR".to_owned(),
            dir.path().join("intermediates").display().to_string(),
        ),
    ];
    let config = antin::config::Config::load_from(None, env).unwrap();
    let signer = Signer::from_config(&config.sign, &config.server.public_url).unwrap();
    let profile = signer.profile(None).unwrap();
    let context = antin::verify::engine::Context::from_config(&config, &[]).unwrap();
    let input = pdf(&long_day(60), Lang::Vi);
    let now = time::OffsetDateTime::now_utc();
    let opts = SignOptions {
        placement: Some(antin::sign::pdf::Placement::Invisible),
        document_id: Some(service::new_document_id()),
        ..SignOptions::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let signed = rt
        .block_on(service::sign(profile, &input, &opts, now))
        .unwrap();
    assert!(
        signed.bytes.starts_with(&input),
        "not an incremental update"
    );
    // TOTAL_PASSED at the profile's level, or an error.
    let report = service::self_check(&context, profile, &signed, now).unwrap();
    let sigs: Vec<_> = report
        .signatures
        .iter()
        .filter(|s| s.kind == antin::verify::report::SignatureKind::Signature)
        .collect();
    assert_eq!(sigs.len(), 1, "{report:?}");
    let doc = antin::pdf::parse(&signed.bytes, &antin::pdf::Limits::default()).unwrap();
    // B-LTA: our signature and the document timestamp over it, nothing else.
    assert_eq!(doc.signatures().unwrap().len(), report.signatures.len());
}

fn tool(name: &str) -> bool {
    std::process::Command::new(name)
        .arg("--version")
        .output()
        .is_ok()
}

#[test]
#[ignore = "needs qpdf and pdftotext (poppler-utils) (full suite)"]
fn the_pdf_passes_qpdf_and_its_text_extracts_with_diacritics() {
    assert!(
        tool("qpdf") && tool("pdftotext"),
        "qpdf and pdftotext are required"
    );
    let data = long_day(80);
    let dir = tempfile::tempdir().unwrap();
    for lang in [Lang::Vi, Lang::En] {
        let file = dir.path().join("r.pdf");
        if let Ok(keep) = std::env::var("ANTIN_KEEP_REPORT") {
            std::fs::write(format!("{keep}-{lang:?}.pdf"), pdf(&data, lang)).unwrap();
        }
        std::fs::write(&file, pdf(&data, lang)).unwrap();
        let out = std::process::Command::new("qpdf")
            .arg("--check")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let out = std::process::Command::new("pdftotext")
            .args(["-enc", "UTF-8"])
            .arg(&file)
            .arg("-")
            .output()
            .unwrap();
        assert!(out.status.success());
        let text: String = String::from_utf8(out.stdout).unwrap().nfc().collect();
        let pages = text.matches('\u{c}').count();
        assert!(pages >= 3, "{pages} pages");
        let want: Vec<String> = match lang {
            Lang::Vi => vec![
                "BÁO CÁO ĐỐI SOÁT GIAO DỊCH THU PHÍ, LỆ PHÍ".into(),
                "Ngày 20/11/2026".into(),
                "I. TỔNG HỢP THEO ĐƠN VỊ, NHÀ CUNG CẤP DỊCH VỤ THANH TOÁN VÀ LOẠI PHÍ".into(),
                "III. CHI TIẾT CHÊNH LỆCH".into(),
                "Sở Tư pháp tỉnh Thử Nghiệm".into(),
                "tra soát với VNPAY số 123".into(),
                Class::AmountMismatch.label_vi().into(),
                antin::recon::report::money(data.outcome.summary[0].gross, lang),
                format!("Trang 1/{pages}"),
                format!("Trang {pages}/{pages}"),
            ],
            Lang::En => vec![
                "RECONCILIATION REPORT OF FEE AND CHARGE PAYMENTS".into(),
                antin::recon::report::money(data.outcome.summary[0].gross, lang),
                format!("Page 2/{pages}"),
            ],
        };
        for w in want {
            assert!(text.contains(&w), "{w:?} not in:\n{text}");
        }
    }
}
