//! Importers: untrusted settlement files and bank statements into rows, exactly once.
//!
//! Each parser reads a `BufRead` record by record (bounded record length, nothing but the current
//! record held) and hands rows to a sink, so memory does not grow with the file. A malformed row
//! is never dropped: it is reported with the file, its line and the reason, and the file is
//! rejected; so is a file that does not balance against its own totals (count and sums for CSVs,
//! opening + entries = closing for statements), or that repeats a statement number.

pub mod camt;
pub mod csv;
pub mod mt940;

use std::fmt;
use std::io::{self, BufRead, Read};

use serde::Serialize;

/// Longest CSV record or statement line read (a quoted field may span lines within it).
pub const MAX_RECORD: usize = 64 * 1024;
/// Problems listed in full; further ones are only counted.
pub const MAX_PROBLEMS: usize = 100;

/// One thing wrong with a file: where and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Problem {
    pub file: String,
    /// 1-based line (for camt: the line where the element started); 0 for the file as a whole.
    pub line: u64,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

/// A file refused as a whole, with every problem found (up to [`MAX_PROBLEMS`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Rejected {
    pub problems: Vec<Problem>,
    /// All problems, including those not listed.
    pub total: u64,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "file rejected ({} problem(s))", self.total)?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejected {}

/// Collects problems while a parser goes on reading (to report them all at once).
#[derive(Debug, Default)]
pub(crate) struct Problems {
    file: String,
    list: Vec<Problem>,
    total: u64,
}

impl Problems {
    pub(crate) fn new(file: &str) -> Self {
        Problems {
            file: file.to_owned(),
            ..Problems::default()
        }
    }

    pub(crate) fn add(&mut self, line: u64, reason: impl Into<String>) {
        self.total += 1;
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(Problem {
                file: self.file.clone(),
                line,
                reason: reason.into(),
            });
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.total == 0
    }

    pub(crate) fn finish(self) -> Result<(), Rejected> {
        if self.total == 0 {
            Ok(())
        } else {
            Err(Rejected {
                problems: self.list,
                total: self.total,
            })
        }
    }
}

/// What an import read: rows and the file's own totals, all checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub rows: u64,
    /// Statements (bank files).
    pub statements: Vec<String>,
    pub credits: i64,
    pub debits: i64,
}

/// Reads one line (up to and including `\n`) into `buf`, at most `max` bytes; `Ok(false)` at
/// the end. A longer line is an error, not a bigger buffer.
pub(crate) fn read_line_bounded<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<bool> {
    buf.clear();
    let n = r.take(max as u64 + 1).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(false);
    }
    if buf.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("line longer than {max} bytes"),
        ));
    }
    Ok(true)
}

/// An integer number of dong from a decimal text: `50000`, `-50000`, `50000,` / `50000,00`
/// (MT940) or `50000.00` (camt). VND has no minor unit, so decimals must be zero.
pub(crate) fn parse_vnd(s: &str, decimal: char) -> Result<i64, String> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let (int, frac) = match body.split_once(decimal) {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    // At most 10^15 - 1 dong (far above any transfer), so sums of many rows stay in range.
    if int.is_empty() || int.len() > 15 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{s:?} is not an amount in VND"));
    }
    if !frac.bytes().all(|b| b == b'0') {
        return Err(format!("{s:?}: VND has no decimals"));
    }
    let v: i64 = int.parse().map_err(|_| format!("{s:?} is not an amount"))?;
    Ok(if neg { -v } else { v })
}

/// A reader that hashes what passes through it (the file's SHA-256 for idempotent imports).
pub struct HashingReader<R> {
    inner: R,
    ctx: ring::digest::Context,
    pub bytes: u64,
    limit: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R, limit: u64) -> Self {
        HashingReader {
            inner,
            ctx: ring::digest::Context::new(&ring::digest::SHA256),
            bytes: 0,
            limit,
        }
    }

    pub fn finish(self) -> String {
        hex::encode(self.ctx.finish().as_ref())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        if self.bytes > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("file larger than {} bytes", self.limit),
            ));
        }
        self.ctx.update(&buf[..n]);
        Ok(n)
    }
}

/// The SHA-256 of a whole reader, streamed.
pub fn sha256_of<R: Read>(r: R, limit: u64) -> io::Result<String> {
    let mut h = HashingReader::new(r, limit);
    io::copy(&mut h, &mut io::sink())?;
    Ok(h.finish())
}
