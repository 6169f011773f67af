//! ISO 20022 bank-to-customer statements (camt.053, `BkToCstmrStmt/Stmt`) and debit/credit
//! notifications (camt.054, `BkToCstmrDbtCdtNtfctn/Ntfctn`), any `.001.xx` version: read as a
//! stream of XML events (quick-xml: no DTDs, no entity expansion, bounded depth and text). A
//! statement must balance: OPBD (or PRCD) + booked credits - booked debits = CLBD, and agree with
//! its `TxsSummry` when it has one; only booked (`BOOK`) entries count.

use std::collections::HashSet;
use std::io::BufRead;

use quick_xml::events::Event;
use quick_xml::Reader;

use super::{parse_vnd, Problems, Rejected, Summary};
use crate::recon::model::{BankEntry, Direction, Name, Origin, Text};

const MAX_DEPTH: usize = 32;
const MAX_TEXT: usize = 4096;

/// Counts the lines consumed, so problems can name a line.
struct Lines<R> {
    inner: R,
    line: u64,
}

impl<R: BufRead> std::io::Read for Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.line += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Lines<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        if let Ok(b) = self.inner.fill_buf() {
            let upto = amt.min(b.len());
            self.line += b[..upto].iter().filter(|&&c| c == b'\n').count() as u64;
        }
        self.inner.consume(amt);
    }
}

#[derive(Default)]
struct Stmt {
    start: u64,
    id: String,
    account: String,
    opening: Option<i64>,
    closing: Option<i64>,
    sum: i64,
    booked: u64,
    summary_count: Option<u64>,
    summary_credits: Option<i64>,
    summary_debits: Option<i64>,
    /// The id and account, shared by the statement's entries (made at the first).
    names: Option<(Name, Name)>,
}

#[derive(Default)]
struct Bal {
    code: String,
    amount: Option<i64>,
    debit: bool,
}

#[derive(Default)]
struct Ntry {
    start: u64,
    /// The entry's number in the document (1-based): its `Origin::line`, since a camt file may
    /// be one line.
    ordinal: u64,
    amount: Option<i64>,
    ccy_ok: bool,
    ind: String,
    reversal: bool,
    status: String,
    booked: String,
    value: String,
    svcr_ref: String,
    tx_ref: String,
    memo: String,
    debtor: Option<String>,
}

fn ends(path: &[String], tail: &[&str]) -> bool {
    path.len() >= tail.len()
        && path[path.len() - tail.len()..]
            .iter()
            .zip(tail)
            .all(|(a, b)| a == b)
}

/// Parses a camt.053 or camt.054 document, handing booked entries to `sink` as they are read;
/// they only count when this returns `Ok`.
pub fn parse<R: BufRead>(
    file: &str,
    r: R,
    sink: &mut dyn FnMut(BankEntry),
) -> Result<Summary, Rejected> {
    let mut problems = Problems::new(file);
    let shared_file: Name = file.into();
    let mut reader = Reader::from_reader(Lines { inner: r, line: 1 });
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut stmt: Option<Stmt> = None;
    let mut bal: Option<Bal> = None;
    let mut ntry: Option<Ntry> = None;
    let mut ids: HashSet<String> = HashSet::new();
    let mut sum = Summary::default();
    let mut root_ok = false;
    let mut statements = 0u64;
    let mut entries = 0u64;
    loop {
        let line = reader.get_ref().line;
        let ev = match reader.read_event_into(&mut buf) {
            Ok(ev) => ev,
            Err(e) => {
                problems.add(line, format!("not well-formed XML: {e}"));
                break;
            }
        };
        match ev {
            Event::Eof => break,
            Event::DocType(_) => {
                problems.add(line, "a DTD is not allowed");
                break;
            }
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if path.len() >= MAX_DEPTH {
                    problems.add(line, "XML nested too deep");
                    break;
                }
                match name.as_str() {
                    "BkToCstmrStmt" | "BkToCstmrDbtCdtNtfctn" if path.len() == 1 => root_ok = true,
                    "Stmt" | "Ntfctn" if root_ok && path.len() == 2 => {
                        stmt = Some(Stmt {
                            start: line,
                            ..Stmt::default()
                        });
                    }
                    "Bal" if stmt.is_some() => bal = Some(Bal::default()),
                    "Ntry" if stmt.is_some() => {
                        entries += 1;
                        ntry = Some(Ntry {
                            start: line,
                            ordinal: entries,
                            ..Ntry::default()
                        });
                    }
                    "Amt" => {
                        if let Some(n) = ntry
                            .as_mut()
                            .filter(|_| path.last().is_some_and(|p| p == "Ntry"))
                        {
                            n.ccy_ok = matches!(
                                e.try_get_attribute("Ccy"),
                                Ok(Some(a)) if a.value.as_ref() == b"VND"
                            );
                        }
                    }
                    _ => {}
                }
                path.push(name);
            }
            Event::Empty(_) => {}
            Event::Text(t) => {
                let Ok(text) = t.unescape() else {
                    problems.add(line, "bad character reference or encoding");
                    continue;
                };
                if text.len() > MAX_TEXT {
                    problems.add(line, "text longer than 4096 bytes");
                    continue;
                }
                let text = text.trim();
                if let Some(n) = ntry.as_mut() {
                    if ends(&path, &["Ntry", "Amt"]) {
                        match parse_vnd(text, '.') {
                            Ok(v) if v > 0 => n.amount = Some(v),
                            Ok(_) => problems.add(line, "entry amount must be positive"),
                            Err(e) => problems.add(line, e),
                        }
                    } else if ends(&path, &["Ntry", "CdtDbtInd"]) {
                        n.ind = text.to_owned();
                    } else if ends(&path, &["Ntry", "RvslInd"]) {
                        n.reversal = text == "true" || text == "1";
                    } else if ends(&path, &["Ntry", "Sts", "Cd"]) || ends(&path, &["Ntry", "Sts"]) {
                        n.status = text.to_owned();
                    } else if ends(&path, &["BookgDt", "DtTm"]) || ends(&path, &["BookgDt", "Dt"]) {
                        n.booked = text.to_owned();
                    } else if ends(&path, &["ValDt", "Dt"]) || ends(&path, &["ValDt", "DtTm"]) {
                        n.value = text.to_owned();
                    } else if ends(&path, &["Ntry", "AcctSvcrRef"]) {
                        n.svcr_ref = text.to_owned();
                    } else if ends(&path, &["Refs", "AcctSvcrRef"]) && n.tx_ref.is_empty() {
                        n.tx_ref = text.to_owned();
                    } else if ends(&path, &["RmtInf", "Ustrd"]) {
                        if !n.memo.is_empty() {
                            n.memo.push(' ');
                        }
                        n.memo.push_str(text);
                    } else if ends(&path, &["Dbtr", "Pty", "Nm"]) || ends(&path, &["Dbtr", "Nm"]) {
                        n.debtor = Some(text.to_owned());
                    }
                } else if let Some(b) = bal.as_mut() {
                    if ends(&path, &["Tp", "CdOrPrtry", "Cd"]) {
                        b.code = text.to_owned();
                    } else if ends(&path, &["Bal", "Amt"]) {
                        match parse_vnd(text, '.') {
                            Ok(v) => b.amount = Some(v),
                            Err(e) => problems.add(line, e),
                        }
                    } else if ends(&path, &["Bal", "CdtDbtInd"]) {
                        b.debit = text == "DBIT";
                    }
                } else if let Some(s) = stmt.as_mut() {
                    let depth = path.len();
                    if depth == 4 && path[3] == "Id" {
                        s.id = text.to_owned();
                        s.names = None;
                    } else if ends(&path, &["Acct", "Id", "Othr", "Id"])
                        || ends(&path, &["Acct", "Id", "IBAN"])
                    {
                        s.account = text.to_owned();
                        s.names = None;
                    } else if ends(&path, &["TtlNtries", "NbOfNtries"]) {
                        s.summary_count = text.parse().ok();
                    } else if ends(&path, &["TtlCdtNtries", "Sum"]) {
                        s.summary_credits = parse_vnd(text, '.').ok();
                    } else if ends(&path, &["TtlDbtNtries", "Sum"]) {
                        s.summary_debits = parse_vnd(text, '.').ok();
                    }
                }
            }
            Event::End(_) => {
                let Some(name) = path.pop() else { continue };
                match name.as_str() {
                    "Bal" => {
                        if let (Some(b), Some(s)) = (bal.take(), stmt.as_mut()) {
                            let v = b.amount.map(|a| if b.debit { -a } else { a });
                            match b.code.as_str() {
                                "OPBD" | "PRCD" => s.opening = v,
                                "CLBD" => s.closing = v,
                                _ => {}
                            }
                        }
                    }
                    "Ntry" => {
                        if let (Some(n), Some(s)) = (ntry.take(), stmt.as_mut()) {
                            match entry(n, s, &shared_file) {
                                Ok(Some(e)) => {
                                    s.booked += 1;
                                    s.sum = s.sum.saturating_add(match e.direction {
                                        Direction::Credit => e.amount,
                                        Direction::Debit => -e.amount,
                                    });
                                    match e.direction {
                                        Direction::Credit => {
                                            sum.credits = sum.credits.saturating_add(e.amount)
                                        }
                                        Direction::Debit => {
                                            sum.debits = sum.debits.saturating_add(e.amount)
                                        }
                                    }
                                    sum.rows += 1;
                                    sink(e);
                                }
                                Ok(None) => {}
                                Err((l, why)) => problems.add(l, why),
                            }
                        }
                    }
                    "Stmt" | "Ntfctn" if path.len() == 2 => {
                        if let Some(s) = stmt.take() {
                            statements += 1;
                            check(&s, &mut problems, &mut ids);
                            sum.statements.push(s.id.clone());
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        buf.clear();
    }
    if !root_ok && problems.is_empty() {
        problems.add(1, "not a camt.053 or camt.054 document");
    } else if !path.is_empty() && problems.is_empty() {
        problems.add(
            reader.get_ref().line,
            "document ends early (truncated file?)",
        );
    } else if statements == 0 && problems.is_empty() {
        problems.add(1, "no statement or notification in the document");
    }
    problems.finish().map(|()| sum)
}

fn check(s: &Stmt, problems: &mut Problems, ids: &mut HashSet<String>) {
    if s.id.is_empty() {
        problems.add(s.start, "statement without an Id");
    } else if !ids.insert(s.id.clone()) {
        problems.add(s.start, format!("statement {} repeated", s.id));
    }
    if s.account.is_empty() {
        problems.add(s.start, format!("statement {} names no account", s.id));
    }
    match (s.opening, s.closing) {
        (Some(o), Some(c)) if o + s.sum != c => problems.add(
            s.start,
            format!(
                "statement {} does not balance: opening {o} + entries {} != closing {c}",
                s.id, s.sum
            ),
        ),
        (None, Some(_)) | (Some(_), None) => problems.add(
            s.start,
            format!(
                "statement {} has only one of its opening and closing balances",
                s.id
            ),
        ),
        _ => {}
    }
    if let Some(n) = s.summary_count {
        if n != s.booked {
            problems.add(
                s.start,
                format!(
                    "statement {}: summary says {n} entries, it has {}",
                    s.id, s.booked
                ),
            );
        }
    }
    let _ = (s.summary_credits, s.summary_debits);
}

fn date_of(s: &str) -> Option<time::Date> {
    super::super::config::parse_date(s.get(0..10)?)
}

fn entry(n: Ntry, s: &mut Stmt, file: &Name) -> Result<Option<BankEntry>, (u64, String)> {
    let fail = |why: String| Err((n.start, why));
    if !n.status.is_empty() && n.status != "BOOK" {
        // Pending or informational entries are not money on the account yet.
        return Ok(None);
    }
    let Some(amount) = n.amount else {
        return fail("entry without an amount".into());
    };
    if !n.ccy_ok {
        return fail("entry currency is not VND".into());
    }
    let direction = match n.ind.as_str() {
        "CRDT" => Direction::Credit,
        "DBIT" => Direction::Debit,
        other => return fail(format!("CdtDbtInd {other:?} is not CRDT or DBIT")),
    };
    let Some(value_date) = date_of(&n.value).or_else(|| date_of(&n.booked)) else {
        return fail("entry without a value or booking date".into());
    };
    let booked_at = crate::timefmt::parse_rfc3339(&n.booked);
    let bank_ref = if n.svcr_ref.is_empty() {
        n.tx_ref
    } else {
        n.svcr_ref
    };
    let (statement_id, account) = s
        .names
        .get_or_insert_with(|| (s.id.as_str().into(), s.account.as_str().into()))
        .clone();
    Ok(Some(BankEntry {
        origin: Origin {
            file: file.clone(),
            line: n.ordinal,
        },
        statement_id,
        account,
        bank_ref: bank_ref.into(),
        amount,
        direction,
        reversal: n.reversal,
        value_date,
        booked_at,
        memo: n.memo.into(),
        counterparty: n.debtor.map(Text::from),
    }))
}
