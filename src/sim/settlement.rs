//! The gateways' daily settlement files (`GET /{gateway}/sim/settlement?date=YYYY-MM-DD`): one CSV
//! per gateway of that GMT+7 day's successful payments and refunds with fees, a header row and a
//! totals row so an importer can check that the file balances. VNPAY's real layout is not public:
//! each layout here is invented, deliberately different (BOM, CRLF, `;`, time formats) so the
//! importer's per-gateway column mapping is exercised. The layouts: docs/gateways-sim.md.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use time::{Date, OffsetDateTime};

use super::sign::{get, parse_query};
use super::{
    fee, json_response, unix_ms, vn_compact, vn_date, zalopay, Gw, Shared, SimState, Status,
};
use crate::timefmt::vietnam;

/// `YYYY-MM-DD`, strictly.
pub fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i32 = s.get(0..4)?.parse().ok()?;
    let m: u8 = s.get(5..7)?.parse().ok()?;
    let d: u8 = s.get(8..10)?.parse().ok()?;
    Date::from_calendar_date(y, time::Month::try_from(m).ok()?, d).ok()
}

/// One CSV field, quoted per RFC 4180 when it holds the separator, a quote or a line break.
fn field(s: &str, sep: char) -> String {
    if s.contains(sep) || s.contains('"') || s.contains('\n') || s.contains('\r') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn line(fields: &[String], sep: char) -> String {
    fields
        .iter()
        .map(|f| field(f, sep))
        .collect::<Vec<_>>()
        .join(&sep.to_string())
}

/// A settlement row before layout: signed amount (refunds negative), fee, net.
struct Row {
    at: OffsetDateTime,
    key: String,
    cols: Vec<String>,
    amount: i64,
    fee: i64,
}

fn vnpay_rows(st: &SimState, shared: &Shared, date: Date) -> Vec<Row> {
    let f = shared.cfg.fees;
    let mut rows = Vec::new();
    for o in st.vnpay.orders.values() {
        let c = &o.core;
        if let (Status::Succeeded, Some(at)) = (c.status, c.finished_at) {
            if vn_date(at) == date {
                let amount = c.paid_amount.unwrap_or(c.amount);
                let fee = fee(amount, f.vnpay_bp, f.vnpay_fixed);
                rows.push(Row {
                    at,
                    key: c.txn_id.clone().unwrap_or_default(),
                    cols: vec![
                        c.merchant.clone(),
                        c.gateway_ref.clone(),
                        c.txn_id.clone().unwrap_or_default(),
                        "01".into(),
                        vn_compact(at),
                        o.bank_code.clone(),
                        c.order_info.clone(),
                    ],
                    amount,
                    fee,
                });
            }
        }
        let paid = c.paid_amount.unwrap_or(c.amount);
        for r in &c.refunds {
            if let (Status::Succeeded, Some(at)) = (r.status, r.done_at) {
                if vn_date(at) == date {
                    let ty = if r.amount == paid { "02" } else { "03" };
                    rows.push(Row {
                        at,
                        key: r.refund_txn_id.clone(),
                        cols: vec![
                            c.merchant.clone(),
                            c.gateway_ref.clone(),
                            r.refund_txn_id.clone(),
                            ty.into(),
                            vn_compact(at),
                            o.bank_code.clone(),
                            c.order_info.clone(),
                        ],
                        amount: -r.amount,
                        fee: 0,
                    });
                }
            }
        }
    }
    rows
}

/// VNPAY: UTF-8 with BOM, CRLF, `,`.
/// `STT,TmnCode,TxnRef,TransactionNo,TransactionType,TransactionDate,Amount,Fee,NetAmount,BankCode,OrderInfo`
pub(crate) fn vnpay_csv(st: &SimState, shared: &Shared, date: Date) -> String {
    let mut rows = vnpay_rows(st, shared, date);
    sort(&mut rows);
    let sep = ',';
    let mut out = String::from("\u{feff}");
    out.push_str("STT,TmnCode,TxnRef,TransactionNo,TransactionType,TransactionDate,Amount,Fee,NetAmount,BankCode,OrderInfo\r\n");
    let (mut ta, mut tf) = (0i64, 0i64);
    for (i, r) in rows.iter().enumerate() {
        let mut cols = vec![(i + 1).to_string()];
        cols.extend(r.cols[..5].iter().cloned());
        cols.extend([
            r.amount.to_string(),
            r.fee.to_string(),
            (r.amount - r.fee).to_string(),
        ]);
        cols.extend(r.cols[5..].iter().cloned());
        out.push_str(&line(&cols, sep));
        out.push_str("\r\n");
        ta += r.amount;
        tf += r.fee;
    }
    let total = vec![
        "TOTAL".into(),
        rows.len().to_string(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        ta.to_string(),
        tf.to_string(),
        (ta - tf).to_string(),
        String::new(),
        String::new(),
    ];
    out.push_str(&line(&total, sep));
    out.push_str("\r\n");
    out
}

/// MoMo: UTF-8, LF, `,`, RFC 4180 quoting (orderInfo is Vietnamese and may hold commas).
/// `partnerCode,orderId,parentOrderId,requestId,transId,type,responseTime,amount,fee,netAmount,orderInfo`
fn momo_rows(st: &SimState, shared: &Shared, date: Date) -> Vec<Row> {
    let f = shared.cfg.fees;
    let mut rows = Vec::new();
    for o in st.momo.orders.values() {
        let c = &o.core;
        if let (Status::Succeeded, Some(at)) = (c.status, c.finished_at) {
            if vn_date(at) == date {
                let amount = c.paid_amount.unwrap_or(c.amount);
                rows.push(Row {
                    at,
                    key: c.txn_id.clone().unwrap_or_default(),
                    cols: vec![
                        c.merchant.clone(),
                        c.gateway_ref.clone(),
                        String::new(),
                        o.request_id.clone(),
                        c.txn_id.clone().unwrap_or_default(),
                        "payment".into(),
                        vietnam(at),
                        c.order_info.clone(),
                    ],
                    amount,
                    fee: fee(amount, f.momo_bp, f.momo_fixed),
                });
            }
        }
        for r in &c.refunds {
            if let (Status::Succeeded, Some(at)) = (r.status, r.done_at) {
                if vn_date(at) == date {
                    rows.push(Row {
                        at,
                        key: r.refund_txn_id.clone(),
                        cols: vec![
                            c.merchant.clone(),
                            r.refund_ref.clone(),
                            c.gateway_ref.clone(),
                            String::new(),
                            r.refund_txn_id.clone(),
                            "refund".into(),
                            vietnam(at),
                            c.order_info.clone(),
                        ],
                        amount: -r.amount,
                        fee: 0,
                    });
                }
            }
        }
    }
    rows
}

pub(crate) fn momo_csv(st: &SimState, shared: &Shared, date: Date) -> String {
    let mut rows = momo_rows(st, shared, date);
    sort(&mut rows);
    let sep = ',';
    let mut out = String::from("partnerCode,orderId,parentOrderId,requestId,transId,type,responseTime,amount,fee,netAmount,orderInfo\n");
    let (mut ta, mut tf) = (0i64, 0i64);
    for r in &rows {
        let mut cols: Vec<String> = r.cols[..7].to_vec();
        cols.extend([
            r.amount.to_string(),
            r.fee.to_string(),
            (r.amount - r.fee).to_string(),
            r.cols[7].clone(),
        ]);
        out.push_str(&line(&cols, sep));
        out.push('\n');
        ta += r.amount;
        tf += r.fee;
    }
    let mut total = vec!["TOTAL".to_owned(), rows.len().to_string()];
    total.extend(std::iter::repeat_n(String::new(), 5));
    total.extend([
        ta.to_string(),
        tf.to_string(),
        (ta - tf).to_string(),
        String::new(),
    ]);
    out.push_str(&line(&total, sep));
    out.push('\n');
    out
}

/// ZaloPay: UTF-8, CRLF, `;`, times in unix milliseconds, type 1 payment / 2 refund.
/// `app_id;app_trans_id;zp_trans_id;m_refund_id;refund_id;type;server_time;amount;fee_amount;net_amount;description`
fn zalopay_rows(st: &SimState, shared: &Shared, date: Date) -> Vec<Row> {
    let f = shared.cfg.fees;
    let mut rows = Vec::new();
    for o in st.zalopay.orders.values() {
        let c = &o.core;
        let zp = c.txn_id.clone().unwrap_or_default();
        if let (Status::Succeeded, Some(at)) = (c.status, c.finished_at) {
            if vn_date(at) == date {
                let amount = c.paid_amount.unwrap_or(c.amount);
                rows.push(Row {
                    at,
                    key: zp.clone(),
                    cols: vec![
                        o.app_id.to_string(),
                        c.gateway_ref.clone(),
                        zp.clone(),
                        String::new(),
                        String::new(),
                        "1".into(),
                        unix_ms(at).to_string(),
                        c.order_info.clone(),
                    ],
                    amount,
                    fee: fee(amount, f.zalopay_bp, f.zalopay_fixed),
                });
            }
        }
        for r in &c.refunds {
            if let (Status::Succeeded, Some(at)) = (r.status, r.done_at) {
                if vn_date(at) == date {
                    rows.push(Row {
                        at,
                        key: r.refund_txn_id.clone(),
                        cols: vec![
                            o.app_id.to_string(),
                            c.gateway_ref.clone(),
                            zp.clone(),
                            r.refund_ref.clone(),
                            r.refund_txn_id.clone(),
                            "2".into(),
                            unix_ms(at).to_string(),
                            c.order_info.clone(),
                        ],
                        amount: -r.amount,
                        fee: 0,
                    });
                }
            }
        }
    }
    rows
}

pub(crate) fn zalopay_csv(st: &SimState, shared: &Shared, date: Date) -> String {
    let mut rows = zalopay_rows(st, shared, date);
    sort(&mut rows);
    let sep = ';';
    let mut out = String::from("app_id;app_trans_id;zp_trans_id;m_refund_id;refund_id;type;server_time;amount;fee_amount;net_amount;description\r\n");
    let (mut ta, mut tf) = (0i64, 0i64);
    for r in &rows {
        let mut cols: Vec<String> = r.cols[..7].to_vec();
        cols.extend([
            r.amount.to_string(),
            r.fee.to_string(),
            (r.amount - r.fee).to_string(),
            r.cols[7].clone(),
        ]);
        out.push_str(&line(&cols, sep));
        out.push_str("\r\n");
        ta += r.amount;
        tf += r.fee;
    }
    let mut total = vec!["TOTAL".to_owned(), rows.len().to_string()];
    total.extend(std::iter::repeat_n(String::new(), 5));
    total.extend([
        ta.to_string(),
        tf.to_string(),
        (ta - tf).to_string(),
        String::new(),
    ]);
    out.push_str(&line(&total, sep));
    out.push_str("\r\n");
    out
}

fn sort(rows: &mut [Row]) {
    rows.sort_by(|a, b| (a.at, &a.key).cmp(&(b.at, &b.key)));
}

/// GET /{gateway}/sim/settlement?date=YYYY-MM-DD
pub(crate) async fn serve(
    State(shared): State<Arc<Shared>>,
    gw: Gw,
    RawQuery(q): RawQuery,
) -> Response {
    let date = parse_query(q.as_deref().unwrap_or(""), 8)
        .ok()
        .and_then(|p| get(&p, "date").and_then(parse_date));
    let Some(date) = date else {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": "malformed", "message": "date=YYYY-MM-DD is required"}),
        );
    };
    let now = OffsetDateTime::now_utc();
    let delay = shared.scaled(Duration::from_secs(shared.cfg.refund_delay_secs));
    let mut st = shared.state();
    for o in st.vnpay.orders.values_mut() {
        super::vnpay::refresh(o, now);
    }
    zalopay::settle_all(&mut st.zalopay, delay, now);
    let csv = match gw {
        Gw::Vnpay => vnpay_csv(&st, &shared, date),
        Gw::Momo => momo_csv(&st, &shared, date),
        Gw::Zalopay => zalopay_csv(&st, &shared, date),
        Gw::Bank => return StatusCode::NOT_FOUND.into_response(),
    };
    drop(st);
    let name = format!(
        "attachment; filename=\"{}-settlement-{date}.csv\"",
        gw.as_str()
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, name),
        ],
        csv,
    )
        .into_response()
}

/// `POST /{gateway}/sim/settlement/payout?date=YYYY-MM-DD[&account=..][&at=RFC3339]`: the gateway
/// pays the day's net settlement (the file's net total) into an account at the bank, which books it
/// as a credit (and notifies it like any credit). Once per gateway and day.
pub(crate) async fn payout(
    State(shared): State<Arc<Shared>>,
    gw: Gw,
    RawQuery(q): RawQuery,
) -> Response {
    let bad = |m: &str| {
        json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": "malformed", "message": m}),
        )
    };
    let Ok(p) = parse_query(q.as_deref().unwrap_or(""), 8) else {
        return bad("bad query string");
    };
    let Some(date) = get(&p, "date").and_then(parse_date) else {
        return bad("date=YYYY-MM-DD is required");
    };
    let at = match get(&p, "at") {
        None => OffsetDateTime::now_utc(),
        Some(a) => match crate::timefmt::parse_rfc3339(a) {
            Some(t) => t.to_offset(time::UtcOffset::UTC),
            None => return bad("at must be RFC 3339"),
        },
    };
    let account = get(&p, "account")
        .map(str::to_owned)
        .or_else(|| shared.cfg.bank.accounts.first().cloned())
        .unwrap_or_default();
    if !shared.cfg.bank.accounts.contains(&account) {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": "unknown_account", "message": "no such account at the bank"}),
        );
    }
    let now = OffsetDateTime::now_utc();
    let delay = shared.scaled(Duration::from_secs(shared.cfg.refund_delay_secs));
    let bank_ref = {
        let mut st = shared.state();
        if let Some(r) = st.bank.payouts.get(&(gw, date)) {
            return json_response(
                StatusCode::CONFLICT,
                &json!({"error": "already_paid_out", "bank_ref": r}),
            );
        }
        zalopay::settle_all(&mut st.zalopay, delay, now);
        let rows = match gw {
            Gw::Vnpay => vnpay_rows(&st, &shared, date),
            Gw::Momo => momo_rows(&st, &shared, date),
            Gw::Zalopay => zalopay_rows(&st, &shared, date),
            Gw::Bank => return StatusCode::NOT_FOUND.into_response(),
        };
        let net: i64 = rows.iter().map(|r| r.amount - r.fee).sum();
        if net <= 0 {
            return json_response(
                StatusCode::CONFLICT,
                &json!({"error": "nothing_to_pay", "net": net}),
            );
        }
        let (name, acct, bin) = match gw {
            Gw::Vnpay => (
                "CONG TY CP GIAI PHAP THANH TOAN VIET NAM",
                "0021000000001",
                "970436",
            ),
            Gw::Momo => (
                "CONG TY CP DICH VU DI DONG TRUC TUYEN",
                "0021000000002",
                "970436",
            ),
            _ => ("CONG TY CP ZION", "0021000000003", "970436"),
        };
        let memo = format!("{} TT QUYET TOAN NGAY {date}", gw.as_str().to_uppercase());
        let debtor = super::bank::Debtor {
            name: name.into(),
            account: acct.into(),
            bin: bin.into(),
        };
        let Some(r) = super::bank::book(&mut st, &shared, &account, net, &memo, at, debtor) else {
            return json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"error": "capacity"}),
            );
        };
        st.bank.payouts.insert((gw, date), r.clone());
        (r, net, memo)
    };
    let (bank_ref, net, memo) = bank_ref;
    let notified = match super::bank::notify(&shared, &bank_ref, "normal") {
        Ok(()) => "scheduled".to_owned(),
        Err(e) => e,
    };
    json_response(
        StatusCode::CREATED,
        &json!({"bank_ref": bank_ref, "account": account, "amount": net, "memo": memo, "date": date.to_string(), "notification": notified}),
    )
}
