//! Gateways' settlement CSVs (RFC 4180: quoted fields, doubled quotes, line breaks inside quotes;
//! CRLF or LF; a UTF-8 BOM; `,` or `;`), columns mapped by header name through a
//! [`CsvLayout`]. The last row is the totals row (`TOTAL`, count, the sums of amount, fee and net),
//! and the file must agree with it.

use std::collections::HashMap;
use std::io::BufRead;

use time::{OffsetDateTime, PrimitiveDateTime};

use super::{parse_vnd, read_line_bounded, Problems, Rejected, Summary, MAX_RECORD};
use crate::recon::config::CsvLayout;
use crate::recon::model::{GatewayRow, GatewayStatus, Name, Origin, Text, TxnKind};
use crate::timefmt::VIETNAM;

/// One record's fields, unquoted, side by side in one buffer: reading a million rows makes no
/// allocation per field.
#[derive(Default)]
struct Fields {
    buf: String,
    spans: Vec<std::ops::Range<usize>>,
}

impl Fields {
    fn len(&self) -> usize {
        self.spans.len()
    }

    fn get(&self, i: usize) -> Option<&str> {
        self.spans.get(i).map(|r| &self.buf[r.clone()])
    }

    fn iter(&self) -> impl Iterator<Item = &str> {
        self.spans.iter().map(|r| &self.buf[r.clone()])
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.spans.clear();
    }

    fn end_field(&mut self, start: &mut usize) {
        self.spans.push(*start..self.buf.len());
        *start = self.buf.len();
    }
}

impl std::ops::Index<usize> for Fields {
    type Output = str;
    fn index(&self, i: usize) -> &str {
        &self.buf[self.spans[i].clone()]
    }
}

/// Reads one record (which may span lines inside quotes) into `out` fields; returns the number of
/// physical lines read, 0 at the end of the file.
fn read_record<R: BufRead>(
    r: &mut R,
    sep: char,
    line: &mut Vec<u8>,
    rec: &mut String,
    out: &mut Fields,
) -> Result<usize, String> {
    rec.clear();
    let mut lines = 0;
    let mut quotes = 0usize;
    loop {
        match read_line_bounded(r, line, MAX_RECORD) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(e.to_string()),
        }
        lines += 1;
        let text = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_owned())?;
        rec.push_str(text);
        if rec.len() > MAX_RECORD {
            return Err(format!("record longer than {MAX_RECORD} bytes"));
        }
        // An odd number of quotes so far: a quoted field goes on on the next line.
        quotes += memchr::memchr_iter(b'"', text.as_bytes()).count();
        if quotes % 2 == 0 {
            break;
        }
    }
    if lines == 0 {
        return Ok(0);
    }
    let body = rec.strip_suffix('\n').unwrap_or(rec);
    let body = body.strip_suffix('\r').unwrap_or(body);
    split(body, sep, out)?;
    Ok(lines)
}

/// Splits one record into fields, unquoting per RFC 4180.
fn split(s: &str, sep: char, out: &mut Fields) -> Result<(), String> {
    out.clear();
    if !s.contains('"') {
        // No quotes: the fields are the text between separators, as they are.
        out.buf.push_str(s);
        let mut start = 0;
        for (i, _) in s.match_indices(sep) {
            out.spans.push(start..i);
            start = i + sep.len_utf8();
        }
        out.spans.push(start..s.len());
        return Ok(());
    }
    let mut start = 0;
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    out.buf.push('"');
                } else {
                    quoted = false;
                    match chars.peek() {
                        None => {}
                        Some(&n) if n == sep => {}
                        Some(_) => return Err("text after a closing quote".into()),
                    }
                }
            } else {
                out.buf.push(c);
            }
        } else if c == sep {
            out.end_field(&mut start);
            at_start = true;
            continue;
        } else if c == '"' && at_start {
            quoted = true;
        } else if c == '"' {
            return Err("a quote inside an unquoted field".into());
        } else {
            out.buf.push(c);
        }
        at_start = false;
    }
    if quoted {
        return Err("unterminated quoted field (truncated file?)".into());
    }
    out.end_field(&mut start);
    Ok(())
}

struct Cols {
    our_ref: usize,
    refund_ref: Option<usize>,
    parent_ref: Option<usize>,
    gateway_txn: usize,
    refund_txn: Option<usize>,
    kind: usize,
    time: usize,
    amount: usize,
    fee: usize,
    net: usize,
    text: Option<usize>,
    status: Option<usize>,
    width: usize,
}

fn columns(header: &[String], l: &CsvLayout) -> Result<Cols, String> {
    let idx: HashMap<&str, usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim(), i))
        .collect();
    let need = |name: &str| {
        idx.get(name)
            .copied()
            .ok_or_else(|| format!("the header has no column {name:?}"))
    };
    let opt = |name: &str| -> Result<Option<usize>, String> {
        if name.is_empty() {
            Ok(None)
        } else {
            need(name).map(Some)
        }
    };
    Ok(Cols {
        our_ref: need(&l.our_ref)?,
        refund_ref: opt(&l.refund_ref)?,
        parent_ref: opt(&l.parent_ref)?,
        gateway_txn: need(&l.gateway_txn)?,
        refund_txn: opt(&l.refund_txn)?,
        kind: need(&l.kind)?,
        time: need(&l.time)?,
        amount: need(&l.amount)?,
        fee: need(&l.fee)?,
        net: need(&l.net)?,
        text: opt(&l.text)?,
        status: opt(&l.status)?,
        width: header.len(),
    })
}

fn parse_time(s: &str, format: &str) -> Result<OffsetDateTime, String> {
    let s = s.trim();
    let bad = || format!("{s:?} is not a time ({format})");
    match format {
        "compact" => {
            let f = time::macros::format_description!("[year][month][day][hour][minute][second]");
            PrimitiveDateTime::parse(s, &f)
                .map(|t| t.assume_offset(VIETNAM))
                .map_err(|_| bad())
        }
        "rfc3339" => crate::timefmt::parse_rfc3339(s).ok_or_else(bad),
        "unix_ms" => {
            let ms: i64 = s.parse().map_err(|_| bad())?;
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).map_err(|_| bad())
        }
        _ => Err(format!("unknown time_format {format:?}")),
    }
}

/// Parses one gateway's settlement file, handing each row to `sink`; the rows only count when
/// this returns `Ok` (the caller stores them in one transaction).
pub fn parse<R: BufRead>(
    gateway: &str,
    layout: &CsvLayout,
    file: &str,
    mut r: R,
    sink: &mut dyn FnMut(GatewayRow),
) -> Result<Summary, Rejected> {
    let mut problems = Problems::new(file);
    let shared_file: Name = file.into();
    let shared_gateway: Name = gateway.into();
    let mut sep_chars = layout.separator.chars();
    let sep = match (sep_chars.next(), sep_chars.next()) {
        (Some(c), None) => c,
        _ => {
            problems.add(0, "layout separator must be one character");
            return Err(problems.finish().err().unwrap_or_default());
        }
    };
    let (mut buf, mut rec, mut fields) = (Vec::new(), String::new(), Fields::default());
    let mut line_no: u64 = 1;
    let header = match read_record(&mut r, sep, &mut buf, &mut rec, &mut fields) {
        Ok(0) => {
            problems.add(1, "empty file");
            return Err(problems.finish().err().unwrap_or_default());
        }
        Ok(n) => {
            line_no += n as u64;
            let mut h: Vec<String> = fields.iter().map(str::to_owned).collect();
            if let Some(first) = h.first_mut() {
                if let Some(rest) = first.strip_prefix('\u{feff}') {
                    *first = rest.to_owned();
                }
            }
            h
        }
        Err(e) => {
            problems.add(1, e);
            return Err(problems.finish().err().unwrap_or_default());
        }
    };
    let cols = match columns(&header, layout) {
        Ok(c) => c,
        Err(e) => {
            problems.add(1, e);
            return Err(problems.finish().err().unwrap_or_default());
        }
    };
    let mut sum = Summary::default();
    let (mut s_amount, mut s_fee, mut s_net) = (0i64, 0i64, 0i64);
    let mut totals: Option<(u64, u64, i64, i64, i64)> = None;
    loop {
        let start = line_no;
        let n = match read_record(&mut r, sep, &mut buf, &mut rec, &mut fields) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                problems.add(start, e);
                // A record we cannot read leaves us unsure where the next starts: stop here.
                break;
            }
        };
        line_no += n as u64;
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if totals.is_some() {
            problems.add(start, "data after the totals row");
            continue;
        }
        if fields.len() != cols.width {
            problems.add(
                start,
                format!("{} fields, the header has {}", fields.len(), cols.width),
            );
            continue;
        }
        if fields[0].trim() == layout.total_marker {
            let num = |i: usize| parse_vnd(&fields[i], '.');
            match (
                fields.get(1).map(|c| c.trim().parse::<u64>()),
                num(cols.amount),
                num(cols.fee),
                num(cols.net),
            ) {
                (Some(Ok(c)), Ok(a), Ok(f), Ok(nt)) => totals = Some((start, c, a, f, nt)),
                _ => problems.add(start, "unreadable totals row"),
            }
            continue;
        }
        match row(&shared_gateway, layout, &cols, &fields, &shared_file, start) {
            Ok(row) => {
                let signed = if row.kind == TxnKind::Refund {
                    -row.amount
                } else {
                    row.amount
                };
                s_amount = s_amount.saturating_add(signed);
                s_fee = s_fee.saturating_add(row.fee);
                s_net = s_net.saturating_add(if row.kind == TxnKind::Refund {
                    -row.net
                } else {
                    row.net
                });
                sum.rows += 1;
                if row.kind == TxnKind::Refund {
                    sum.debits = sum.debits.saturating_add(row.amount);
                } else {
                    sum.credits = sum.credits.saturating_add(row.amount);
                }
                sink(row);
            }
            Err(e) => problems.add(start, e),
        }
    }
    match totals {
        None => problems.add(line_no, "no totals row (truncated file?)"),
        Some((at, c, a, f, n)) => {
            if c != sum.rows {
                problems.add(
                    at,
                    format!("totals say {c} rows, the file has {}", sum.rows),
                );
            }
            if a != s_amount {
                problems.add(at, format!("amount total {a}, the rows sum to {s_amount}"));
            }
            if f != s_fee {
                problems.add(at, format!("fee total {f}, the rows sum to {s_fee}"));
            }
            if n != s_net {
                problems.add(at, format!("net total {n}, the rows sum to {s_net}"));
            }
        }
    }
    problems.finish().map(|()| sum)
}

fn row(
    gateway: &Name,
    l: &CsvLayout,
    c: &Cols,
    f: &Fields,
    file: &Name,
    line: u64,
) -> Result<GatewayRow, String> {
    let ty = f[c.kind].trim();
    let kind = if l.payment_types.iter().any(|t| t == ty) {
        TxnKind::Payment
    } else if l.refund_types.iter().any(|t| t == ty) {
        TxnKind::Refund
    } else {
        return Err(format!("unknown transaction type {ty:?}"));
    };
    let amount = parse_vnd(&f[c.amount], '.')?;
    let fee = parse_vnd(&f[c.fee], '.')?;
    let net = parse_vnd(&f[c.net], '.')?;
    // Refunds are written negative; a sign that contradicts the type is an error.
    let (amount, net) = match kind {
        TxnKind::Payment if amount > 0 => (amount, net),
        TxnKind::Refund if amount < 0 => (-amount, -net),
        _ => {
            return Err(format!(
                "amount {amount} has the wrong sign for a {ty:?} row"
            ))
        }
    };
    if fee < 0 {
        return Err(format!("negative fee {fee}"));
    }
    let our_ref = match (kind, c.refund_ref) {
        (TxnKind::Refund, Some(i)) if !f[i].trim().is_empty() => f[i].trim().into(),
        _ => Text::from(f[c.our_ref].trim()),
    };
    let parent_ref = match kind {
        TxnKind::Refund => c
            .parent_ref
            .map(|i| Text::from(f[i].trim()))
            .filter(|s| !s.is_empty())
            .or_else(|| c.refund_ref.map(|_| f[c.our_ref].trim().into())),
        TxnKind::Payment => None,
    };
    let status = match c.status {
        Some(i) if l.failed_values.iter().any(|v| v == f[i].trim()) => GatewayStatus::Failed,
        _ => GatewayStatus::Paid,
    };
    let gateway_txn = match (kind, c.refund_txn) {
        (TxnKind::Refund, Some(i)) => Text::from(f[i].trim()),
        _ => f[c.gateway_txn].trim().into(),
    };
    if our_ref.is_empty() && gateway_txn.is_empty() {
        return Err("neither our reference nor the gateway's transaction number".into());
    }
    Ok(GatewayRow {
        gateway: gateway.clone(),
        origin: Origin {
            file: file.clone(),
            line,
        },
        kind,
        our_ref,
        parent_ref,
        gateway_txn,
        amount,
        fee,
        net,
        status,
        at: parse_time(&f[c.time], &l.time_format)?,
        text: c.text.map(|i| Text::from(&f[i])).unwrap_or_default(),
    })
}

/// The layouts of the simulators' files (docs/gateways-sim.md), used when the configuration has
/// none for a gateway.
pub fn default_layout(gateway: &str) -> Option<CsvLayout> {
    let v = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let base = |sep: &str| CsvLayout {
        separator: sep.into(),
        our_ref: String::new(),
        refund_ref: String::new(),
        parent_ref: String::new(),
        gateway_txn: String::new(),
        refund_txn: String::new(),
        kind: String::new(),
        payment_types: Vec::new(),
        refund_types: Vec::new(),
        time: String::new(),
        time_format: String::new(),
        amount: String::new(),
        fee: String::new(),
        net: String::new(),
        text: String::new(),
        status: String::new(),
        failed_values: Vec::new(),
        total_marker: "TOTAL".into(),
    };
    Some(match gateway {
        "vnpay" => CsvLayout {
            our_ref: "TxnRef".into(),
            gateway_txn: "TransactionNo".into(),
            kind: "TransactionType".into(),
            payment_types: v(&["01"]),
            refund_types: v(&["02", "03"]),
            time: "TransactionDate".into(),
            time_format: "compact".into(),
            amount: "Amount".into(),
            fee: "Fee".into(),
            net: "NetAmount".into(),
            text: "OrderInfo".into(),
            ..base(",")
        },
        "momo" => CsvLayout {
            our_ref: "orderId".into(),
            parent_ref: "parentOrderId".into(),
            gateway_txn: "transId".into(),
            kind: "type".into(),
            payment_types: v(&["payment"]),
            refund_types: v(&["refund"]),
            time: "responseTime".into(),
            time_format: "rfc3339".into(),
            amount: "amount".into(),
            fee: "fee".into(),
            net: "netAmount".into(),
            text: "orderInfo".into(),
            ..base(",")
        },
        "zalopay" => CsvLayout {
            our_ref: "app_trans_id".into(),
            refund_ref: "m_refund_id".into(),
            gateway_txn: "zp_trans_id".into(),
            refund_txn: "refund_id".into(),
            kind: "type".into(),
            payment_types: v(&["1"]),
            refund_types: v(&["2"]),
            time: "server_time".into(),
            time_format: "unix_ms".into(),
            amount: "amount".into(),
            fee: "fee_amount".into(),
            net: "net_amount".into(),
            text: "description".into(),
            ..base(";")
        },
        _ => return None,
    })
}
