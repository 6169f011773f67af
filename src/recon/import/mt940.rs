//! SWIFT MT940 customer statements (the text block: `:20:` ... `-`), one or many statements per
//! file. Each statement must balance: opening (`:60F:`/`:60M:`) plus credits minus debits equals
//! closing (`:62F:`/`:62M:`); a statement number (`:25:` account with `:28C:`) may appear once.
//! `:61:` = value date YYMMDD, optional entry date MMDD, mark `C`/`D`/`RC`/`RD` (reversals),
//! optional funds code, amount with a decimal comma, transaction type (`N`/`F`/`S` + 3), the
//! customer reference, `//` and the bank's reference; `:86:` and its continuation lines are the
//! memo.

use std::collections::HashSet;
use std::io::BufRead;

use time::{Date, Month};

use super::{parse_vnd, read_line_bounded, Problems, Rejected, Summary};
use crate::recon::model::{BankEntry, Direction, Name, Origin, Text};

/// MT940 lines are at most 65 characters (plus `:86:` continuation); be generous but bounded.
const MAX_LINE: usize = 4096;

#[derive(Default)]
struct Stmt {
    start: u64,
    reference: String,
    account: String,
    number: String,
    opening: Option<i64>,
    closing: Option<i64>,
    currency_ok: bool,
    sum: i64,
    /// The entry whose `:86:` may still follow; handed on at the next `:61:` or the end.
    last: Option<BankEntry>,
    /// `account/number` and the account, shared by the statement's entries (made at the first).
    names: Option<(Name, Name)>,
}

fn yymmdd(s: &str) -> Option<Date> {
    if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i32 = s[0..2].parse().ok()?;
    let m: u8 = s[2..4].parse().ok()?;
    let d: u8 = s[4..6].parse().ok()?;
    Date::from_calendar_date(2000 + y, Month::try_from(m).ok()?, d).ok()
}

/// `:60F:C261121VND1000,` -> signed balance.
fn balance(v: &str) -> Result<(i64, bool), String> {
    let bad = || format!("{v:?} is not a balance (C/D, YYMMDD, currency, amount)");
    let (sign, rest) = match v.as_bytes().first() {
        Some(b'C') => (1, &v[1..]),
        Some(b'D') => (-1, &v[1..]),
        _ => return Err(bad()),
    };
    if rest.len() < 10 || yymmdd(rest.get(0..6).ok_or_else(bad)?).is_none() {
        return Err(bad());
    }
    let ccy = rest.get(6..9).ok_or_else(bad)?;
    Ok((sign * parse_vnd(&rest[9..], ',')?, ccy == "VND"))
}

/// One `:61:` line.
fn entry(v: &str, st: &mut Stmt, file: &Name, line: u64) -> Result<BankEntry, String> {
    let bad = |why: &str| format!("statement line {v:?}: {why}");
    let b = v.as_bytes();
    let value_date = v
        .get(0..6)
        .and_then(yymmdd)
        .ok_or_else(|| bad("value date"))?;
    let mut i = 6;
    if b.len() >= i + 4 && b[i..i + 4].iter().all(u8::is_ascii_digit) {
        i += 4;
    }
    let (direction, reversal) = if v[i..].starts_with("RC") {
        i += 2;
        (Direction::Debit, true)
    } else if v[i..].starts_with("RD") {
        i += 2;
        (Direction::Credit, true)
    } else if v[i..].starts_with('C') {
        i += 1;
        (Direction::Credit, false)
    } else if v[i..].starts_with('D') {
        i += 1;
        (Direction::Debit, false)
    } else {
        return Err(bad("mark must be C, D, RC or RD"));
    };
    // Optional funds code: a letter before the amount.
    if b.get(i).is_some_and(u8::is_ascii_alphabetic) {
        i += 1;
    }
    let amount_end = v[i..]
        .find(|c: char| !(c.is_ascii_digit() || c == ','))
        .map(|e| i + e)
        .ok_or_else(|| bad("no transaction type after the amount"))?;
    let amount = parse_vnd(&v[i..amount_end], ',').map_err(|e| bad(&e))?;
    if amount <= 0 {
        return Err(bad("amount must be positive"));
    }
    let rest = &v[amount_end..];
    if rest.len() < 4 || !matches!(rest.as_bytes()[0], b'N' | b'F' | b'S') {
        return Err(bad("transaction type (N/F/S + 3 characters)"));
    }
    let refs = &rest[4..];
    let (_customer, bank_ref) = match refs.split_once("//") {
        Some((c, b)) => (c, b.split_whitespace().next().unwrap_or("")),
        None => (refs, ""),
    };
    let (statement_id, account) = st
        .names
        .get_or_insert_with(|| {
            (
                format!("{}/{}", st.account, st.number).into(),
                st.account.as_str().into(),
            )
        })
        .clone();
    Ok(BankEntry {
        origin: Origin {
            file: file.clone(),
            line,
        },
        statement_id,
        account,
        bank_ref: bank_ref.into(),
        amount,
        direction,
        reversal,
        value_date,
        booked_at: None,
        memo: Text::default(),
        counterparty: None,
    })
}

/// Parses a whole MT940 file, handing entries to `sink` as they are read; they only count when
/// this returns `Ok` (every statement balanced).
pub fn parse<R: BufRead>(
    file: &str,
    mut r: R,
    sink: &mut dyn FnMut(BankEntry),
) -> Result<Summary, Rejected> {
    let mut problems = Problems::new(file);
    let shared_file: Name = file.into();
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    let mut cur: Option<Stmt> = None;
    // The field the last line belonged to (continuation lines have no tag).
    let mut last_tag = String::new();
    let mut numbers: HashSet<(String, String)> = HashSet::new();
    let mut sum = Summary::default();
    let mut statements = 0u64;
    // Entries go to the sink as they are read (memory stays flat); the caller stores them in one
    // transaction it commits only when this returns `Ok`.
    let emit = |mut st: Stmt,
                problems: &mut Problems,
                sum: &mut Summary,
                statements: &mut u64,
                sink: &mut dyn FnMut(BankEntry)| {
        if let Some(e) = st.last.take() {
            sink(e);
        }
        if !st.currency_ok {
            problems.add(st.start, "statement currency is not VND");
        }
        match (st.opening, st.closing) {
            (Some(o), Some(c)) if o + st.sum != c => problems.add(
                st.start,
                format!(
                    "statement {} does not balance: opening {o} + entries {} != closing {c}",
                    st.reference, st.sum
                ),
            ),
            (Some(_), Some(_)) => {}
            _ => problems.add(
                st.start,
                "statement without opening or closing balance (truncated?)",
            ),
        }
        sum.statements.push(format!("{}/{}", st.account, st.number));
        *statements += 1;
    };
    loop {
        match read_line_bounded(&mut r, &mut buf, MAX_LINE) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                problems.add(line_no + 1, e.to_string());
                break;
            }
        }
        line_no += 1;
        let Ok(text) = std::str::from_utf8(&buf) else {
            problems.add(line_no, "not ASCII (MT940 uses the SWIFT character set)");
            continue;
        };
        let text = text.trim_end_matches(['\r', '\n']);
        if !text.is_ascii() {
            problems.add(line_no, "not ASCII (MT940 uses the SWIFT character set)");
            continue;
        }
        if text.is_empty() || text.starts_with("{") {
            // SWIFT envelope blocks {1:...}{2:...}{4: are tolerated around the text block.
            continue;
        }
        if text == "-" || text == "-}" {
            match cur.take() {
                Some(st) => emit(st, &mut problems, &mut sum, &mut statements, sink),
                None => problems.add(line_no, "end of statement without a statement"),
            }
            last_tag.clear();
            continue;
        }
        let tagged = text.strip_prefix(':').and_then(|t| t.split_once(':'));
        let Some((tag, value)) = tagged.filter(|(t, _)| t.len() <= 3 && !t.is_empty()) else {
            // A continuation line of the previous field.
            match (last_tag.as_str(), cur.as_mut()) {
                ("86", Some(st)) => {
                    if let Some(e) = st.last.as_mut() {
                        e.memo.push_str(text);
                    }
                }
                ("61", _) => {}
                _ => problems.add(line_no, "a line outside any field"),
            }
            continue;
        };
        last_tag = tag.to_owned();
        if tag == "20" {
            if let Some(st) = cur.take() {
                problems.add(st.start, "statement not closed with '-' before the next");
                emit(st, &mut problems, &mut sum, &mut statements, sink);
            }
            cur = Some(Stmt {
                start: line_no,
                reference: value.to_owned(),
                currency_ok: true,
                ..Stmt::default()
            });
            continue;
        }
        let Some(st) = cur.as_mut() else {
            problems.add(line_no, format!("field :{tag}: before :20:"));
            continue;
        };
        match tag {
            "25" => {
                st.account = value.rsplit('/').next().unwrap_or(value).trim().to_owned();
                st.names = None;
            }
            "28C" => {
                st.number = value.trim().to_owned();
                st.names = None;
                if !numbers.insert((st.account.clone(), st.number.clone())) {
                    problems.add(
                        line_no,
                        format!("statement number {} for {} repeated", st.number, st.account),
                    );
                }
            }
            "60F" | "60M" => match balance(value) {
                Ok((v, ok)) => {
                    st.opening = Some(v);
                    st.currency_ok &= ok;
                }
                Err(e) => problems.add(line_no, e),
            },
            "62F" | "62M" => match balance(value) {
                Ok((v, ok)) => {
                    st.closing = Some(v);
                    st.currency_ok &= ok;
                }
                Err(e) => problems.add(line_no, e),
            },
            "61" => match entry(value, st, &shared_file, line_no) {
                Ok(e) => {
                    st.sum = st.sum.saturating_add(match e.direction {
                        Direction::Credit => e.amount,
                        Direction::Debit => -e.amount,
                    });
                    match e.direction {
                        Direction::Credit => sum.credits = sum.credits.saturating_add(e.amount),
                        Direction::Debit => sum.debits = sum.debits.saturating_add(e.amount),
                    }
                    sum.rows += 1;
                    if let Some(prev) = st.last.replace(e) {
                        sink(prev);
                    }
                }
                Err(e) => problems.add(line_no, e),
            },
            "86" => {
                if let Some(e) = st.last.as_mut() {
                    e.memo.push_str(value);
                }
            }
            "21" | "13D" | "64" | "65" | "34F" | "90D" | "90C" | "NS" => {}
            _ => problems.add(line_no, format!("unknown field :{tag}:")),
        }
    }
    if let Some(st) = cur.take() {
        problems.add(st.start, "statement not closed with '-' (truncated file?)");
        emit(st, &mut problems, &mut sum, &mut statements, sink);
    }
    if statements == 0 && problems.is_empty() {
        problems.add(line_no.max(1), "no statement in the file");
    }
    problems.finish().map(|()| sum)
}
