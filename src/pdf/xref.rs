//! Cross-reference sections and revisions (ISO 32000-2 7.5.4-7.5.8).
//!
//! A revision is one xref section (classic table, xref stream, or hybrid table + /XRefStm) with its
//! trailer, reached from the last `startxref` through the /Prev chain, and ending at the `%%EOF`
//! marker that follows it. Classic tables are looked up lazily (fixed-size rows), so a file with a
//! million objects is not tokenised up front. This module never follows object references.

use std::collections::HashSet;

use super::filters::decode_stream;
use super::lexer::{is_ws, ParseLimits, Parser};
use super::object::{Dict, Value};
use super::{find, rfind, Limits, PdfError, Warning};

/// Where an object lives according to one xref section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XrefEntry {
    /// Free (deleted) entry.
    Free,
    /// Uncompressed object at a byte offset.
    InFile {
        /// Byte offset of `n g obj`.
        offset: usize,
        /// Generation number.
        gen: u16,
    },
    /// Object `index` inside object stream `stream` (ISO 32000-2 7.5.7).
    InStream {
        /// Object number of the object stream.
        stream: u32,
        /// Index within the stream.
        index: u32,
    },
}

/// How a revision's cross-reference data is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevisionKind {
    /// Classic `xref` table and `trailer` (7.5.4).
    Table,
    /// Cross-reference stream (7.5.8).
    Stream,
    /// Table whose trailer also has /XRefStm (7.5.8.4).
    Hybrid,
}

#[derive(Debug, Clone)]
struct TableSub {
    first: u32,
    count: u32,
    data: usize,
    entry_len: usize,
}

#[derive(Debug, Clone)]
enum Section {
    Table(Vec<TableSub>),
    Stream {
        data: Vec<u8>,
        w: [usize; 3],
        index: Vec<(u32, u32)>,
    },
}

/// One revision (incremental update) of the file.
#[derive(Debug, Clone)]
pub struct Revision {
    /// 0 = the original document.
    pub index: usize,
    /// Offset of its xref section (the `startxref` value).
    pub xref_offset: usize,
    /// Offset just past its `%%EOF` marker.
    pub end: usize,
    /// `end` plus the end-of-line after `%%EOF`, if any (also an accepted revision end).
    pub end_with_eol: usize,
    /// Table, stream or hybrid.
    pub kind: RevisionKind,
    /// The trailer dictionary (for an xref stream: the stream's dictionary).
    pub trailer: Dict,
    section: Section,
    xref_stm: Option<Section>,
}

impl Revision {
    /// This revision's own entry for object `num` (not its /Prev chain).
    pub fn entry(&self, file: &[u8], num: u32) -> Option<XrefEntry> {
        lookup(&self.section, file, num)
            .or_else(|| self.xref_stm.as_ref().and_then(|s| lookup(s, file, num)))
    }

    /// Object numbers this revision's xref section lists (its own entries, in section order).
    pub fn object_numbers(&self) -> Vec<u32> {
        let mut out = Vec::new();
        for s in std::iter::once(&self.section).chain(self.xref_stm.as_ref()) {
            match s {
                Section::Table(subs) => {
                    for t in subs {
                        out.extend((0..t.count).filter_map(|i| t.first.checked_add(i)));
                    }
                }
                Section::Stream { index, .. } => {
                    for &(f, c) in index {
                        out.extend((0..c).filter_map(|i| f.checked_add(i)));
                    }
                }
            }
        }
        out
    }

    /// Objects a hybrid-reference section lists in both its table and its /XRefStm with different
    /// entries: two readers would see two documents (ISO 32000-2 7.5.8.4 hybrid files).
    pub fn hybrid_disagreements(&self, file: &[u8]) -> Vec<u32> {
        let Some(stm) = &self.xref_stm else {
            return Vec::new();
        };
        let mut nums = Vec::new();
        if let Section::Stream { index, .. } = stm {
            for &(f, c) in index {
                nums.extend((0..c).filter_map(|i| f.checked_add(i)));
            }
        }
        nums.into_iter()
            .filter(
                |n| match (lookup(&self.section, file, *n), lookup(stm, file, *n)) {
                    (Some(a), Some(b)) => a != b,
                    _ => false,
                },
            )
            .take(1000)
            .collect()
    }

    /// True if `offset` is this revision's end (past `%%EOF`, or past the EOL after it).
    pub fn ends_at(&self, offset: usize) -> bool {
        offset == self.end || offset == self.end_with_eol
    }
}

fn lookup(section: &Section, file: &[u8], num: u32) -> Option<XrefEntry> {
    match section {
        Section::Table(subs) => {
            // Later subsections win on duplicates, like the last definition in the section.
            let t = subs
                .iter()
                .rev()
                .find(|t| num >= t.first && num - t.first < t.count)?;
            let at = t.data + (num - t.first) as usize * t.entry_len;
            let row = file.get(at..at + 18)?;
            let off = parse_digits(row.get(0..10)?)?;
            let gen = parse_digits(row.get(11..16)?)?;
            match row.get(17) {
                Some(b'n') => Some(XrefEntry::InFile {
                    offset: usize::try_from(off).ok()?,
                    gen: u16::try_from(gen).unwrap_or(u16::MAX),
                }),
                Some(b'f') => Some(XrefEntry::Free),
                _ => None,
            }
        }
        Section::Stream { data, w, index } => {
            let row_len = w[0] + w[1] + w[2];
            let mut row_no = 0usize;
            for &(first, count) in index {
                if num >= first && num - first < count {
                    let r = row_no + (num - first) as usize;
                    let row = data.get(r * row_len..(r + 1) * row_len)?;
                    let (f0, rest) = row.split_at(w[0]);
                    let (f1, f2) = rest.split_at(w[1]);
                    let t = if w[0] == 0 { 1 } else { be(f0) };
                    let (a, b) = (be(f1), be(f2));
                    return match t {
                        0 => Some(XrefEntry::Free),
                        1 => Some(XrefEntry::InFile {
                            offset: usize::try_from(a).ok()?,
                            gen: u16::try_from(b).unwrap_or(u16::MAX),
                        }),
                        2 => Some(XrefEntry::InStream {
                            stream: u32::try_from(a).ok()?,
                            index: u32::try_from(b).ok()?,
                        }),
                        // Unknown types are references to the null object (7.5.8.3).
                        _ => None,
                    };
                }
                row_no += count as usize;
            }
            None
        }
    }
}

fn be(b: &[u8]) -> u64 {
    b.iter()
        .fold(0u64, |acc, &x| acc.wrapping_shl(8) | u64::from(x))
}

fn parse_digits(b: &[u8]) -> Option<u64> {
    b.iter().try_fold(0u64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u64::from(c - b'0'))
    })
}

/// The offset in the last `startxref` near the end of the file (7.5.5).
fn last_startxref(file: &[u8]) -> Result<usize, PdfError> {
    // The marker belongs at the end; allow trailing junk up to 64 KiB before giving up.
    let tail_start = file.len().saturating_sub(64 << 10);
    let tail = file.get(tail_start..).unwrap_or_default();
    let at = rfind(tail, b"startxref").ok_or(PdfError::NoStartXref)? + tail_start;
    let mut p = Parser::new(file, at + 9, ParseLimits::default());
    let off = p.parse_uint().map_err(|_| PdfError::NoStartXref)?;
    usize::try_from(off).map_err(|_| PdfError::NoStartXref)
}

/// Read every revision reachable from the last `startxref`, oldest first. When the last
/// `startxref` (or its section) is unreadable, an earlier complete revision chain is used and the
/// bytes after it are reported as trailing data: an update without a valid xref section or
/// trailer must not make a signed document unreadable, nor pass unnoticed (the incremental saving
/// attack with a stripped xref or trailer).
pub fn load_revisions(
    file: &[u8],
    limits: &Limits,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Revision>, PdfError> {
    let first = load_chain(file, last_startxref(file), limits, warnings);
    let Err(first_err) = first else {
        return first;
    };
    // Earlier `startxref` markers, newest first (bounded).
    let mut end = file.len();
    for _ in 0..16 {
        let Some(at) = rfind(file.get(..end).unwrap_or_default(), b"startxref") else {
            break;
        };
        end = at;
        let mut p = Parser::new(file, at + 9, ParseLimits::default());
        let Ok(off) = p.parse_uint() else { continue };
        let Ok(off) = usize::try_from(off) else {
            continue;
        };
        let mut w = Vec::new();
        if let Ok(chain) = load_chain(file, Ok(off), limits, &mut w) {
            if chain.last().is_some_and(|r| r.end > at) {
                warnings.extend(w);
                if let Some(last) = chain.last() {
                    if !warnings
                        .iter()
                        .any(|x| matches!(x, Warning::TrailingData { .. }))
                    {
                        warnings.push(Warning::TrailingData { offset: last.end });
                    }
                }
                return Ok(chain);
            }
        }
    }
    Err(first_err)
}

fn load_chain(
    file: &[u8],
    start: Result<usize, PdfError>,
    limits: &Limits,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Revision>, PdfError> {
    let mut offset = start?;
    let mut seen = HashSet::new();
    let mut chain = Vec::new();
    let mut total_objects = 0u64;
    loop {
        if !seen.insert(offset) {
            return Err(PdfError::XrefLoop { offset });
        }
        if chain.len() >= limits.max_revisions {
            return Err(PdfError::LimitExceeded {
                what: "revisions",
                limit: limits.max_revisions as u64,
            });
        }
        let (mut rev, section_end) = load_section(file, offset, limits, &mut total_objects)?;
        if let Some(stm) = rev.trailer.get_int(b"XRefStm") {
            if rev.kind == RevisionKind::Table {
                let stm_off = usize::try_from(stm).map_err(|_| PdfError::Xref {
                    offset,
                    what: "bad /XRefStm",
                })?;
                let (srev, _) = load_section(file, stm_off, limits, &mut total_objects)?;
                if srev.kind == RevisionKind::Stream {
                    rev.xref_stm = Some(srev.section);
                    rev.kind = RevisionKind::Hybrid;
                }
            }
        }
        let eof = find(file.get(section_end..).unwrap_or_default(), b"%%EOF")
            .map(|i| section_end + i + 5);
        let end = match eof {
            Some(e) => e,
            None => {
                warnings.push(Warning::MissingEof {
                    xref_offset: offset,
                });
                file.len()
            }
        };
        rev.end = end;
        rev.end_with_eol = end
            + match file.get(end..end + 2) {
                Some(b"\r\n") => 2,
                Some([b'\r' | b'\n', ..]) => 1,
                _ => usize::from(file.get(end) == Some(&b'\n') || file.get(end) == Some(&b'\r')),
            };
        let prev = rev.trailer.get_int(b"Prev");
        chain.push(rev);
        match prev {
            Some(p) => {
                offset = usize::try_from(p).map_err(|_| PdfError::Xref {
                    offset,
                    what: "negative /Prev",
                })?
            }
            None => break,
        }
    }
    chain.reverse();
    for (i, r) in chain.iter_mut().enumerate() {
        r.index = i;
    }
    // Revisions must follow each other in the file; otherwise (linearized or crafted) say so.
    for w in chain.windows(2) {
        if let [a, b] = w {
            if a.end > b.xref_offset {
                warnings.push(Warning::RevisionsOutOfOrder { revision: b.index });
            }
        }
    }
    if let Some(last) = chain.last() {
        let tail = file.get(last.end..).unwrap_or_default();
        if !tail.iter().all(|&b| is_ws(b)) {
            warnings.push(Warning::TrailingData { offset: last.end });
        }
    }
    Ok(chain)
}

/// Parse one xref section at `offset`; returns the revision (index/end unset) and where it ends.
fn load_section(
    file: &[u8],
    offset: usize,
    limits: &Limits,
    total_objects: &mut u64,
) -> Result<(Revision, usize), PdfError> {
    if offset >= file.len() {
        return Err(PdfError::Xref {
            offset,
            what: "xref offset outside the file",
        });
    }
    let plimits = limits.parse_limits();
    let mut p = Parser::new(file, offset, plimits);
    if p.peek_keyword() == b"xref" {
        p.pos += 4;
        let mut subs = Vec::new();
        loop {
            if p.peek_keyword() == b"trailer" {
                p.pos += 7;
                break;
            }
            let first = p.parse_uint()?;
            let count = p.parse_uint()?;
            *total_objects += count;
            if *total_objects > limits.max_objects as u64 || subs.len() > limits.max_objects {
                return Err(PdfError::LimitExceeded {
                    what: "objects",
                    limit: limits.max_objects as u64,
                });
            }
            p.skip_ws();
            let data = p.pos;
            // Rows are 20 bytes by the standard; accept the common 19-byte (single EOL) variant.
            let eol = file
                .get(data + 18..data + 20)
                .map(|e| e.iter().take_while(|&&b| is_ws(b)).count())
                .unwrap_or(0);
            let entry_len = if count == 0 { 20 } else { 18 + eol.max(1) };
            let count32 = u32::try_from(count).map_err(|_| PdfError::Xref {
                offset,
                what: "subsection count",
            })?;
            let first32 = u32::try_from(first).map_err(|_| PdfError::Xref {
                offset,
                what: "subsection start",
            })?;
            let end = (count as usize)
                .checked_mul(entry_len)
                .and_then(|n| n.checked_add(data))
                .filter(|&e| e <= file.len())
                .ok_or(PdfError::Xref {
                    offset,
                    what: "xref subsection runs past the end of the file",
                })?;
            subs.push(TableSub {
                first: first32,
                count: count32,
                data,
                entry_len,
            });
            p.pos = end;
        }
        let trailer = p.parse_object()?;
        let Value::Dict(trailer) = trailer.value else {
            return Err(PdfError::Xref {
                offset,
                what: "trailer is not a dictionary",
            });
        };
        return Ok((
            Revision {
                index: 0,
                xref_offset: offset,
                end: 0,
                end_with_eol: 0,
                kind: RevisionKind::Table,
                trailer,
                section: Section::Table(subs),
                xref_stm: None,
            },
            p.pos,
        ));
    }
    // Cross-reference stream (7.5.8).
    let (_, obj, obj_end) = super::parse_indirect_at(file, offset, plimits)?;
    let Value::Stream(stream) = obj.value else {
        return Err(PdfError::Xref {
            offset,
            what: "neither xref table nor xref stream",
        });
    };
    if stream.dict.get_name(b"Type") != Some(b"XRef") {
        return Err(PdfError::Xref {
            offset,
            what: "stream is not /Type /XRef",
        });
    }
    let w: Vec<usize> = stream
        .dict
        .get(b"W")
        .and_then(|o| o.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_int().and_then(|i| usize::try_from(i).ok()))
                .collect()
        })
        .unwrap_or_default();
    let w: [usize; 3] = match w.as_slice() {
        [a, b, c] if *a <= 8 && *b <= 8 && *c <= 8 && a + b + c > 0 => [*a, *b, *c],
        _ => {
            return Err(PdfError::Xref {
                offset,
                what: "bad /W",
            })
        }
    };
    let size = stream.dict.get_int(b"Size").unwrap_or(0).max(0);
    let index: Vec<(u32, u32)> = match stream.dict.get(b"Index").and_then(|o| o.as_array()) {
        Some(a) => a
            .chunks(2)
            .filter_map(|c| match c {
                [f, n] => Some((
                    u32::try_from(f.as_int()?).ok()?,
                    u32::try_from(n.as_int()?).ok()?,
                )),
                _ => None,
            })
            .collect(),
        None => vec![(0, u32::try_from(size).unwrap_or(0))],
    };
    let rows: u64 = index.iter().map(|&(_, c)| u64::from(c)).sum();
    *total_objects += rows;
    if *total_objects > limits.max_objects as u64 {
        return Err(PdfError::LimitExceeded {
            what: "objects",
            limit: limits.max_objects as u64,
        });
    }
    let raw = file
        .get(stream.data.0..stream.data.1)
        .ok_or(PdfError::Xref {
            offset,
            what: "xref stream data outside the file",
        })?;
    let data = decode_stream(&stream.dict, raw, limits.max_stream_decoded)?;
    Ok((
        Revision {
            index: 0,
            xref_offset: offset,
            end: 0,
            end_with_eol: 0,
            kind: RevisionKind::Stream,
            trailer: stream.dict,
            section: Section::Stream { data, w, index },
            xref_stm: None,
        },
        obj_end,
    ))
}
