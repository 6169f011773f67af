//! A bank receiving citizens' VietQR (NAPAS 247) transfers into the agencies' accounts: the test
//! says what was transferred (account, amount, memo: nothing is parsed from antin), the bank books
//! the credit, notifies antin with an ISO 20022 camt.054 signed by `X-Bank-Signature` (the contract
//! in the payments brief), and serves the day's statement as camt.053 or MT940.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use time::{Date, OffsetDateTime};
use unicode_normalization::UnicodeNormalization as _;

use super::sign::{hmac_sha256_hex, parse_query};
use super::{
    json_object, json_response, vn_date, yymmdd, Gw, Judged, OrderCore, Outbound, RetryPolicy,
    Shared, Status,
};
use crate::timefmt::vietnam;

/// NAPAS 247 takes up to 499,999,999 VND per transfer.
pub const MAX_TRANSFER: i64 = 499_999_999;
/// Longest memo kept (NAPAS carries about 210 characters).
pub const MAX_MEMO: usize = 210;

#[derive(Default)]
pub(crate) struct BankState {
    pub transfers: HashMap<String, Transfer>,
    /// Gateway settlements paid out: (gateway, settlement day) -> bank ref.
    pub payouts: HashMap<(Gw, Date), String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Transfer {
    pub core: OrderCore,
    pub account: String,
    pub debtor_name: String,
    pub debtor_account: String,
    pub debtor_bin: String,
}

fn err(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(status, &json!({"error": code, "message": message}))
}

/// `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`; `tamper` breaks the MAC.
pub(crate) fn signature_header(shared: &Shared, body: &[u8], tamper: bool) -> String {
    let t = OffsetDateTime::now_utc().unix_timestamp();
    let mut msg = format!("{t}.").into_bytes();
    msg.extend_from_slice(body);
    let mut mac = hmac_sha256_hex(
        shared.cfg.bank.notify_secret.expose_secret().as_bytes(),
        &msg,
    );
    if tamper {
        super::control::tamper_hex_tail(&mut mac);
    }
    format!("t={t},v1={mac}")
}

/// POST /bank/sim/transfer `{"account","amount","memo"[,"debtor_name","debtor_account",
/// "debtor_bin","at","anomaly"]}`
pub(crate) async fn transfer(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let m = match json_object(&body) {
        Ok(m) => m,
        Err(e) => return err(StatusCode::BAD_REQUEST, "malformed", &e),
    };
    let s = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
    let Some(account) = s("account") else {
        return err(
            StatusCode::BAD_REQUEST,
            "malformed",
            "account (string) is required",
        );
    };
    let Some(amount) = m.get("amount").and_then(Value::as_i64) else {
        return err(
            StatusCode::BAD_REQUEST,
            "bad_amount",
            "amount must be an integer number of dong",
        );
    };
    if !(1..=MAX_TRANSFER).contains(&amount) {
        return err(
            StatusCode::BAD_REQUEST,
            "bad_amount",
            "amount must be 1..=499,999,999 VND",
        );
    }
    let memo = s("memo").unwrap_or_default();
    if memo.chars().count() > MAX_MEMO || memo.chars().any(char::is_control) {
        return err(
            StatusCode::BAD_REQUEST,
            "bad_memo",
            "memo: at most 210 characters, no control characters",
        );
    }
    if !shared.cfg.bank.accounts.contains(&account) {
        return err(
            StatusCode::NOT_FOUND,
            "unknown_account",
            "no such account at this bank",
        );
    }
    let booked = match s("at") {
        None => OffsetDateTime::now_utc(),
        Some(a) => match crate::timefmt::parse_rfc3339(&a) {
            Some(t) => t.to_offset(time::UtcOffset::UTC),
            None => return err(StatusCode::BAD_REQUEST, "malformed", "at must be RFC 3339"),
        },
    };
    let anomaly = s("anomaly");
    let kind = match anomaly.as_deref() {
        None | Some("") => "normal",
        Some("duplicate-callback") => "duplicate",
        Some("late-callback") => "late",
        Some("wrong-signature") => "wrong-signature",
        Some("no-callback") => "none",
        Some(_) => {
            return err(
                StatusCode::BAD_REQUEST,
                "malformed",
                "anomaly: duplicate-callback, late-callback, wrong-signature or no-callback",
            )
        }
    };
    let debtor = Debtor {
        name: s("debtor_name").unwrap_or_else(|| "NGUYEN VAN A".into()),
        account: s("debtor_account").unwrap_or_else(|| "0011001234567".into()),
        bin: s("debtor_bin").unwrap_or_else(|| "970436".into()),
    };
    let Some(bank_ref) = book(
        &mut shared.state(),
        &shared,
        &account,
        amount,
        &memo,
        booked,
        debtor,
    ) else {
        return err(
            StatusCode::SERVICE_UNAVAILABLE,
            "capacity",
            "the simulator keeps no more transfers",
        );
    };
    let notified = if kind == "none" {
        "none".to_owned()
    } else {
        match notify(&shared, &bank_ref, kind) {
            Ok(()) => "scheduled".to_owned(),
            Err(e) => e,
        }
    };
    json_response(
        StatusCode::CREATED,
        &json!({"bank_ref": bank_ref, "account": account, "amount": amount, "memo": memo,
                "booked_at": vietnam(booked), "notification": notified}),
    )
}

/// Who sent a credit.
pub(crate) struct Debtor {
    pub name: String,
    pub account: String,
    pub bin: String,
}

/// Books a credit; `None` when the simulator is full.
pub(crate) fn book(
    st: &mut super::SimState,
    shared: &Shared,
    account: &str,
    amount: i64,
    memo: &str,
    booked: OffsetDateTime,
    debtor: Debtor,
) -> Option<String> {
    if st.bank.transfers.len() >= shared.cfg.max_orders {
        return None;
    }
    let seq = st.next_seq();
    let bank_ref = format!("FT{}{:08}", yymmdd(booked), seq % 100_000_000);
    let mut core = OrderCore::new(
        Gw::Bank,
        account,
        &bank_ref,
        amount,
        memo,
        (booked, booked),
        "BOOK",
    );
    core.status = Status::Succeeded;
    core.paid_amount = Some(amount);
    core.finished_at = Some(booked);
    core.txn_id = Some(bank_ref.clone());
    st.bank.transfers.insert(
        bank_ref.clone(),
        Transfer {
            core,
            account: account.to_owned(),
            debtor_name: debtor.name,
            debtor_account: debtor.account,
            debtor_bin: debtor.bin,
        },
    );
    Some(bank_ref)
}

/// Sends the camt.054 of one transfer per `kind` (`normal`, `duplicate`, `late`, `wrong-signature`).
pub(crate) fn notify(
    shared: &Arc<Shared>,
    bank_ref: &str,
    kind: &'static str,
) -> Result<(), String> {
    let url = shared
        .url("bank")
        .ok_or("no notify URL configured for the bank")?;
    let body = {
        let st = shared.state();
        let t = st.bank.transfers.get(bank_ref).ok_or("no such transfer")?;
        camt054(shared, t)
    };
    let out = Outbound {
        post: true,
        url,
        body: body.into_bytes(),
        content_type: Some("application/xml"),
        bank_sign: Some(kind == "wrong-signature"),
    };
    let delay = if kind == "late" {
        shared.scaled(Duration::from_secs(shared.cfg.late_callback_secs))
    } else {
        Duration::ZERO
    };
    let copies = if kind == "duplicate" { 2 } else { 1 };
    for copy in 1..=copies {
        let how = super::Copy { delay, copy, kind };
        super::deliver(shared, Gw::Bank, bank_ref, out.clone(), POLICY, how);
    }
    Ok(())
}

fn judge(status: Option<u16>, _body: &[u8]) -> Judged {
    match status {
        Some(s) if s < 500 => Judged::Done,
        _ => Judged::Retry,
    }
}

/// The bank retries a notification 5 times, a minute apart, while antin gives no answer or a 5xx
/// (a 4xx is final: the bank's operators would look at it).
pub(crate) const POLICY: RetryPolicy = RetryPolicy {
    retries: 5,
    interval: Duration::from_secs(60),
    judge,
};

pub(crate) fn xml_escape(s: &str) -> String {
    super::html_escape(s)
}

fn acct_xml(shared: &Shared, account: &str) -> String {
    format!(
        "<Acct><Id><Othr><Id>{}</Id></Othr></Id><Ccy>VND</Ccy><Svcr><FinInstnId><Othr><Id>{}</Id></Othr></FinInstnId></Svcr></Acct>",
        xml_escape(account),
        xml_escape(&shared.cfg.bank.bin)
    )
}

fn ntry_xml(t: &Transfer) -> String {
    let booked = t.core.created_at;
    format!(
        "<Ntry><Amt Ccy=\"VND\">{amt}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>\
<BookgDt><DtTm>{dt}</DtTm></BookgDt><ValDt><Dt>{d}</Dt></ValDt><AcctSvcrRef>{r}</AcctSvcrRef>\
<BkTxCd><Prtry><Cd>NAPAS247</Cd></Prtry></BkTxCd>\
<NtryDtls><TxDtls><Refs><AcctSvcrRef>{r}</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId></Refs>\
<Amt Ccy=\"VND\">{amt}</Amt><CdtDbtInd>CRDT</CdtDbtInd>\
<RltdPties><Dbtr><Pty><Nm>{nm}</Nm></Pty></Dbtr><DbtrAcct><Id><Othr><Id>{da}</Id></Othr></Id></DbtrAcct></RltdPties>\
<RltdAgts><DbtrAgt><FinInstnId><Othr><Id>{db}</Id></Othr></FinInstnId></DbtrAgt></RltdAgts>\
<RmtInf><Ustrd>{memo}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>",
        amt = t.core.amount,
        dt = vietnam(booked),
        d = vn_date(booked),
        r = xml_escape(&t.core.gateway_ref),
        nm = xml_escape(&t.debtor_name),
        da = xml_escape(&t.debtor_account),
        db = xml_escape(&t.debtor_bin),
        memo = xml_escape(&t.core.order_info),
    )
}

/// The camt.054.001.08 notification of one credit.
pub(crate) fn camt054(shared: &Shared, t: &Transfer) -> String {
    let now = vietnam(OffsetDateTime::now_utc());
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.054.001.08\">\
<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>N{r}</MsgId><CreDtTm>{now}</CreDtTm></GrpHdr>\
<Ntfctn><Id>N{r}</Id><CreDtTm>{now}</CreDtTm>{acct}{ntry}</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>\n",
        r = xml_escape(&t.core.gateway_ref),
        acct = acct_xml(shared, &t.account),
        ntry = ntry_xml(t),
    )
}

/// One account's day: opening balance and the day's credits in booking order.
fn day(shared: &Shared, account: &str, date: Date) -> (i64, Vec<Transfer>) {
    let st = shared.state();
    let mut opening = shared.cfg.bank.opening_balance;
    let mut list: Vec<Transfer> = Vec::new();
    for t in st.bank.transfers.values().filter(|t| t.account == account) {
        let d = vn_date(t.core.created_at);
        if d < date {
            opening += t.core.amount;
        } else if d == date {
            list.push(t.clone());
        }
    }
    list.sort_by(|a, b| {
        (a.core.created_at, &a.core.gateway_ref).cmp(&(b.core.created_at, &b.core.gateway_ref))
    });
    (opening, list)
}

/// The day's statement, camt.053.001.08.
pub(crate) fn camt053(shared: &Shared, account: &str, date: Date) -> String {
    let (opening, list) = day(shared, account, date);
    let closing = opening + list.iter().map(|t| t.core.amount).sum::<i64>();
    let ind = |v: i64| if v < 0 { "DBIT" } else { "CRDT" };
    let id = format!("STMT-{}-{}", account, date);
    let mut x = String::new();
    let _ = write!(
        x,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\">\
<BkToCstmrStmt><GrpHdr><MsgId>{id}</MsgId><CreDtTm>{now}</CreDtTm></GrpHdr>\
<Stmt><Id>{id}</Id><ElctrncSeqNb>{seq}</ElctrncSeqNb><CreDtTm>{now}</CreDtTm>\
<FrToDt><FrDtTm>{date}T00:00:00+07:00</FrDtTm><ToDtTm>{date}T23:59:59+07:00</ToDtTm></FrToDt>{acct}\
<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"VND\">{o}</Amt><CdtDbtInd>{oi}</CdtDbtInd><Dt><Dt>{date}</Dt></Dt></Bal>\
<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"VND\">{c}</Amt><CdtDbtInd>{ci}</CdtDbtInd><Dt><Dt>{date}</Dt></Dt></Bal>\
<TxsSummry><TtlNtries><NbOfNtries>{n}</NbOfNtries></TtlNtries><TtlCdtNtries><NbOfNtries>{n}</NbOfNtries><Sum>{sum}</Sum></TtlCdtNtries></TxsSummry>",
        id = xml_escape(&id),
        now = vietnam(OffsetDateTime::now_utc()),
        seq = date.ordinal(),
        acct = acct_xml(shared, account),
        o = opening.abs(),
        oi = ind(opening),
        c = closing.abs(),
        ci = ind(closing),
        n = list.len(),
        sum = closing - opening,
    );
    for t in &list {
        x.push_str(&ntry_xml(t));
    }
    x.push_str("</Stmt></BkToCstmrStmt></Document>\n");
    x
}

/// Vietnamese to SWIFT's character set X: diacritics dropped (đ -> d), anything else outside the
/// set becomes a space.
pub fn swift_x(s: &str) -> String {
    s.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .map(|c| match c {
            'đ' => 'd',
            'Đ' => 'D',
            c if c.is_ascii_alphanumeric() || "/-?:().,'+ ".contains(c) => c,
            _ => ' ',
        })
        .collect()
}

fn mt_amount(v: i64) -> String {
    format!("{},", v.abs())
}

fn mt_date(d: Date) -> String {
    format!(
        "{:02}{:02}{:02}",
        d.year().rem_euclid(100),
        u8::from(d.month()),
        d.day()
    )
}

/// The day's statement, MT940 (CRLF lines, amounts with a decimal comma, no decimals for VND).
pub(crate) fn mt940(shared: &Shared, account: &str, date: Date) -> String {
    let (opening, list) = day(shared, account, date);
    let closing = opening + list.iter().map(|t| t.core.amount).sum::<i64>();
    let dc = |v: i64| if v < 0 { 'D' } else { 'C' };
    let mut lines = vec![
        format!(":20:STMT{}", mt_date(date)),
        format!(":25:{}/{}", shared.cfg.bank.bin, account),
        format!(":28C:{}/1", date.ordinal()),
        format!(
            ":60F:{}{}VND{}",
            dc(opening),
            mt_date(date),
            mt_amount(opening)
        ),
    ];
    for t in &list {
        let d = vn_date(t.core.created_at);
        lines.push(format!(
            ":61:{}{:02}{:02}C{}NTRFNONREF//{}",
            mt_date(d),
            u8::from(d.month()),
            d.day(),
            mt_amount(t.core.amount),
            t.core.gateway_ref
        ));
        let text = swift_x(&t.core.order_info);
        let chunks: Vec<String> = text
            .chars()
            .collect::<Vec<_>>()
            .chunks(65)
            .take(6)
            .map(|c| c.iter().collect())
            .collect();
        match chunks.split_first() {
            None => lines.push(":86:".into()),
            Some((first, rest)) => {
                lines.push(format!(":86:{first}"));
                lines.extend(rest.iter().cloned());
            }
        }
    }
    lines.push(format!(
        ":62F:{}{}VND{}",
        dc(closing),
        mt_date(date),
        mt_amount(closing)
    ));
    lines.push("-".into());
    let mut out = lines.join("\r\n");
    out.push_str("\r\n");
    out
}

/// GET /bank/sim/statement?date=YYYY-MM-DD&format=camt053|mt940[&account=...]
pub(crate) async fn statement(
    State(shared): State<Arc<Shared>>,
    RawQuery(q): RawQuery,
) -> Response {
    let pairs = match parse_query(q.as_deref().unwrap_or(""), 8) {
        Ok(p) => p,
        Err(e) => return err(StatusCode::BAD_REQUEST, "malformed", &e.to_string()),
    };
    let get = |k: &str| super::sign::get(&pairs, k);
    let Some(date) = get("date").and_then(super::settlement::parse_date) else {
        return err(
            StatusCode::BAD_REQUEST,
            "malformed",
            "date=YYYY-MM-DD is required",
        );
    };
    let account = get("account")
        .map(str::to_owned)
        .or_else(|| shared.cfg.bank.accounts.first().cloned())
        .unwrap_or_default();
    if !shared.cfg.bank.accounts.contains(&account) {
        return err(
            StatusCode::NOT_FOUND,
            "unknown_account",
            "no such account at this bank",
        );
    }
    match get("format").unwrap_or("camt053") {
        "camt053" => (
            [(header::CONTENT_TYPE, "application/xml")],
            camt053(&shared, &account, date),
        )
            .into_response(),
        "mt940" => (
            [(header::CONTENT_TYPE, "text/plain; charset=us-ascii")],
            mt940(&shared, &account, date),
        )
            .into_response(),
        _ => err(
            StatusCode::BAD_REQUEST,
            "malformed",
            "format must be camt053 or mt940",
        ),
    }
}

/// PUT /bank/sim/notify-url `{"url": ".."}`
pub(crate) async fn set_notify_url(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let url = json_object(&body)
        .ok()
        .and_then(|m| m.get("url").and_then(Value::as_str).map(str::to_owned));
    let Some(url) = url else {
        return err(StatusCode::BAD_REQUEST, "malformed", "need {\"url\": ...}");
    };
    shared
        .urls
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert("bank".to_owned(), url.clone());
    json_response(StatusCode::OK, &json!({"url": url}))
}
