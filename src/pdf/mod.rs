//! PDF reading for signature verification: revisions, signature dictionaries, DSS.
//!
//! A pure, bounded, lazy reader written for one job: find each signature's dictionary and judge its
//! /ByteRange against the bytes as written (ISO 32000-2 12.8, ETSI EN 319 142-1), and give the change
//! analysis a per-revision view of objects. It takes a byte slice and never copies the file, never
//! tokenises objects that are not reached, never loads unreferenced streams, and never reads files,
//! the clock or the network. Every loop and allocation driven by the input is bounded by [`Limits`].

pub mod dss;
pub mod filters;
pub mod lexer;
pub mod object;
pub mod signatures;
pub mod xref;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

pub use dss::{Dss, Vri};
pub use object::{decode_text, Dict, Obj, ObjId, Stream, Value};
pub use signatures::{
    signed_bytes, Coverage, CoverageDefect, FieldLock, LockAction, SignatureField, SignatureKind,
};
pub use xref::{Revision, RevisionKind, XrefEntry};

use lexer::{ParseLimits, Parser};

/// Bounds on everything the input can make us do.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest file accepted.
    pub max_file_size: usize,
    /// Most xref entries in all sections together, and most objects loaded by one document.
    pub max_objects: usize,
    /// Deepest nesting of arrays/dictionaries, and of form field trees.
    pub max_depth: usize,
    /// Largest decoded stream.
    pub max_stream_decoded: usize,
    /// Longest /Prev chain.
    pub max_revisions: usize,
    /// Most signatures reported.
    pub max_signatures: usize,
    /// Most form fields visited per revision.
    pub max_fields: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_size: 512 << 20,
            max_objects: 4_000_000,
            max_depth: 64,
            max_stream_decoded: 64 << 20,
            max_revisions: 1000,
            max_signatures: 256,
            max_fields: 100_000,
        }
    }
}

impl Limits {
    pub(crate) fn parse_limits(&self) -> ParseLimits {
        ParseLimits {
            max_depth: self.max_depth,
            max_items: 1 << 20,
            max_string: self.max_stream_decoded,
        }
    }
}

/// Why a PDF could not be read.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum PdfError {
    /// No `%PDF-` header in the first 1024 bytes (ISO 32000-2 7.5.2).
    #[error("not a PDF: no %PDF- header in the first 1024 bytes")]
    NotPdf,
    /// The file is larger than the configured limit.
    #[error("file of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// File size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// No readable `startxref` at the end of the file (ISO 32000-2 7.5.5).
    #[error("no startxref at the end of the file")]
    NoStartXref,
    /// A cross-reference section is unreadable (ISO 32000-2 7.5.4, 7.5.8).
    #[error("bad cross-reference section at {offset}: {what}")]
    Xref {
        /// Offset of the section.
        offset: usize,
        /// What was wrong.
        what: &'static str,
    },
    /// A /Prev chain visits the same section twice (ISO 32000-2 7.5.6).
    #[error("cross-reference /Prev loop at {offset}")]
    XrefLoop {
        /// The offset seen twice.
        offset: usize,
    },
    /// Malformed syntax (ISO 32000-2 7.2, 7.3).
    #[error("syntax error at {offset}: expected {what}")]
    Syntax {
        /// Where.
        offset: usize,
        /// What was expected.
        what: &'static str,
    },
    /// A configured bound was hit.
    #[error("limit exceeded: {what} (limit {limit})")]
    LimitExceeded {
        /// Which bound.
        what: &'static str,
        /// Its value.
        limit: u64,
    },
    /// A stream filter failed or is unsupported (ISO 32000-2 7.4).
    #[error("filter {filter}: {reason}")]
    Filter {
        /// Filter name.
        filter: String,
        /// Why.
        reason: &'static str,
    },
    /// An object stream is malformed or recursive (ISO 32000-2 7.5.7).
    #[error("object stream {stream}: {what}")]
    ObjectStream {
        /// The object stream's number.
        stream: u32,
        /// What was wrong.
        what: &'static str,
    },
    /// A revision index that does not exist.
    #[error("no revision {0}")]
    NoSuchRevision(usize),
    /// The trailer lacks /Root or it is not a dictionary (ISO 32000-2 7.5.5, 7.7.2).
    #[error("revision {revision}: no document catalog")]
    NoCatalog {
        /// The revision.
        revision: usize,
    },
}

/// Something suspicious that did not stop parsing. Callers must surface these, not drop them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// An xref offset did not point at the object; it was found by scanning instead.
    XrefOffsetRepaired {
        /// The object.
        id: ObjId,
        /// Offset the xref claimed.
        claimed: usize,
        /// Offset found by the scan.
        found: usize,
    },
    /// A revision's xref section is not followed by `%%EOF`.
    MissingEof {
        /// The section.
        xref_offset: usize,
    },
    /// Bytes other than whitespace follow the last revision (an update without xref/trailer?).
    TrailingData {
        /// Where they start.
        offset: usize,
    },
    /// A /Prev chain goes forward in the file (linearized or crafted).
    RevisionsOutOfOrder {
        /// The later revision.
        revision: usize,
    },
    /// A signature dictionary object was redefined by a later revision.
    SignatureRedefined {
        /// The signature dictionary.
        id: ObjId,
        /// The revision that redefines it.
        revision: usize,
    },
    /// A part of the document could not be read and was skipped.
    Unreadable {
        /// The object, if known.
        id: Option<ObjId>,
        /// The error.
        error: String,
    },
}

/// Where a resolved object came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// Top-level object at this file offset (spans are file offsets).
    InFile {
        /// Offset of `n g obj`.
        offset: usize,
    },
    /// Inside an object stream (spans are offsets in its decoded data).
    InStream {
        /// The object stream's number.
        stream: u32,
        /// Index inside it.
        index: u32,
    },
}

/// An indirect object as seen by one revision.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The object's id.
    pub id: ObjId,
    /// Its value.
    pub obj: Obj,
    /// Where it was read from.
    pub location: Location,
}

struct ObjStm {
    data: Vec<u8>,
    first: usize,
    offsets: Vec<(u32, usize)>,
}

/// A parsed PDF: revisions up front, objects on demand.
pub struct PdfDocument<'a> {
    bytes: &'a [u8],
    limits: Limits,
    revisions: Vec<Revision>,
    warnings: RefCell<Vec<Warning>>,
    objstms: RefCell<HashMap<u32, Arc<ObjStm>>>,
    scan_index: RefCell<Option<HashMap<u32, usize>>>,
    loads: RefCell<usize>,
    /// Objects parsed so far, by (offset, number): the bytes never change, and the change
    /// analysis and the signature walk read the same objects many times.
    parsed: RefCell<HashMap<(usize, u32), Obj>>,
}

/// Bounds the parsed-object cache (a parse past it still works, uncached).
const MAX_CACHED_OBJECTS: usize = 100_000;

impl std::fmt::Debug for PdfDocument<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdfDocument")
            .field("len", &self.bytes.len())
            .field("revisions", &self.revisions.len())
            .finish()
    }
}

/// Read the structure of a PDF: header check and every revision's xref section.
pub fn parse<'a>(bytes: &'a [u8], limits: &Limits) -> Result<PdfDocument<'a>, PdfError> {
    if bytes.len() > limits.max_file_size {
        return Err(PdfError::TooLarge {
            size: bytes.len(),
            limit: limits.max_file_size,
        });
    }
    let head = bytes.get(..bytes.len().min(1024)).unwrap_or_default();
    if find(head, b"%PDF-").is_none() {
        return Err(PdfError::NotPdf);
    }
    let mut warnings = Vec::new();
    let revisions = xref::load_revisions(bytes, limits, &mut warnings)?;
    Ok(PdfDocument {
        bytes,
        limits: limits.clone(),
        revisions,
        warnings: RefCell::new(warnings),
        objstms: RefCell::new(HashMap::new()),
        scan_index: RefCell::new(None),
        loads: RefCell::new(0),
        parsed: RefCell::new(HashMap::new()),
    })
}

impl<'a> PdfDocument<'a> {
    /// The file bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The revisions, oldest (index 0) first.
    pub fn revisions(&self) -> &[Revision] {
        &self.revisions
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Warnings gathered so far (parsing is lazy: call after the queries you care about).
    pub fn warnings(&self) -> Vec<Warning> {
        self.warnings.borrow().clone()
    }

    pub(crate) fn warn(&self, w: Warning) {
        let mut ws = self.warnings.borrow_mut();
        if ws.len() < 1000 && !ws.contains(&w) {
            ws.push(w);
        }
    }

    /// The xref entry revision `rev` uses for object `num`: its own section, then its /Prev chain.
    pub fn entry(&self, rev: usize, num: u32) -> Result<Option<(usize, XrefEntry)>, PdfError> {
        if rev >= self.revisions.len() {
            return Err(PdfError::NoSuchRevision(rev));
        }
        Ok(self
            .revisions
            .get(..=rev)
            .unwrap_or_default()
            .iter()
            .rev()
            .find_map(|r| r.entry(self.bytes, num).map(|e| (r.index, e))))
    }

    /// Object `id` as revision `rev` sees it; `None` if free or absent (a null reference).
    pub fn object(&self, rev: usize, id: ObjId) -> Result<Option<Resolved>, PdfError> {
        {
            let mut loads = self.loads.borrow_mut();
            *loads += 1;
            if *loads > self.limits.max_objects {
                return Err(PdfError::LimitExceeded {
                    what: "object loads",
                    limit: self.limits.max_objects as u64,
                });
            }
        }
        let Some((_, entry)) = self.entry(rev, id.0)? else {
            return Ok(None);
        };
        match entry {
            XrefEntry::Free => Ok(None),
            XrefEntry::InFile { offset, .. } => self.load_in_file(id, offset).map(Some),
            XrefEntry::InStream { stream, index } => {
                let stm = self.objstm(rev, stream)?;
                let Some(&(num, off)) = stm.offsets.get(index as usize) else {
                    return Ok(None);
                };
                if num != id.0 {
                    return Err(PdfError::ObjectStream {
                        stream,
                        what: "index does not hold the object",
                    });
                }
                let start = stm.first.checked_add(off).ok_or(PdfError::ObjectStream {
                    stream,
                    what: "offset overflow",
                })?;
                let obj =
                    Parser::new(&stm.data, start, self.limits.parse_limits()).parse_object()?;
                Ok(Some(Resolved {
                    id,
                    obj,
                    location: Location::InStream { stream, index },
                }))
            }
        }
    }

    /// The object written at `offset` if it is object `id` there, exactly as written (no repair
    /// of a wrong offset): what a signature dictionary is judged on. Shares the parsed-object
    /// cache with [`Self::object`], so the change analysis does not parse it again.
    pub fn object_exactly_at(&self, id: ObjId, offset: usize) -> Option<Obj> {
        if let Some(obj) = self.parsed.borrow().get(&(offset, id.0)) {
            return Some(obj.clone());
        }
        match parse_indirect_at(self.bytes, offset, self.limits.parse_limits()) {
            Ok((got, obj, _)) if got.0 == id.0 => {
                let mut cache = self.parsed.borrow_mut();
                if cache.len() < MAX_CACHED_OBJECTS {
                    cache.insert((offset, id.0), obj.clone());
                }
                Some(obj)
            }
            _ => None,
        }
    }

    fn load_in_file(&self, id: ObjId, offset: usize) -> Result<Resolved, PdfError> {
        if let Some(obj) = self.parsed.borrow().get(&(offset, id.0)) {
            return Ok(Resolved {
                id,
                obj: obj.clone(),
                location: Location::InFile { offset },
            });
        }
        let pl = self.limits.parse_limits();
        match parse_indirect_at(self.bytes, offset, pl) {
            Ok((got, obj, _)) if got.0 == id.0 => {
                let mut cache = self.parsed.borrow_mut();
                if cache.len() < MAX_CACHED_OBJECTS {
                    cache.insert((offset, id.0), obj.clone());
                }
                Ok(Resolved {
                    id,
                    obj,
                    location: Location::InFile { offset },
                })
            }
            first_err => {
                // A common real-world defect: offsets off by a few bytes. Recover by scanning, loudly.
                let found = self.scan_for(id.0);
                match found {
                    Some(found) if found != offset => {
                        let (_, obj, _) = parse_indirect_at(self.bytes, found, pl)?;
                        self.warn(Warning::XrefOffsetRepaired {
                            id,
                            claimed: offset,
                            found,
                        });
                        Ok(Resolved {
                            id,
                            obj,
                            location: Location::InFile { offset: found },
                        })
                    }
                    _ => match first_err {
                        Err(e) => Err(e),
                        Ok(_) => Err(PdfError::Syntax {
                            offset,
                            what: "the object the xref names",
                        }),
                    },
                }
            }
        }
    }

    /// Offset of the last `num g obj` header in the file, by a one-time scan (repair only).
    fn scan_for(&self, num: u32) -> Option<usize> {
        let mut idx = self.scan_index.borrow_mut();
        let map = idx.get_or_insert_with(|| scan_objects(self.bytes, self.limits.max_objects));
        map.get(&num).copied()
    }

    fn objstm(&self, rev: usize, stream: u32) -> Result<Arc<ObjStm>, PdfError> {
        if let Some(s) = self.objstms.borrow().get(&stream) {
            return Ok(Arc::clone(s));
        }
        let bad = |what| PdfError::ObjectStream { stream, what };
        // An object stream must itself be a top-level object, which rules out recursion (7.5.7).
        let offset = match self.entry(rev, stream)? {
            Some((_, XrefEntry::InFile { offset, .. })) => offset,
            _ => return Err(bad("not a top-level object")),
        };
        let r = self.load_in_file((stream, 0), offset)?;
        let Value::Stream(s) = r.obj.value else {
            return Err(bad("not a stream"));
        };
        if s.dict.get_name(b"Type") != Some(b"ObjStm") {
            return Err(bad("not /Type /ObjStm"));
        }
        let n = s.dict.get_int(b"N").and_then(|n| usize::try_from(n).ok());
        let first = s
            .dict
            .get_int(b"First")
            .and_then(|n| usize::try_from(n).ok());
        let (Some(n), Some(first)) = (n, first) else {
            return Err(bad("missing /N or /First"));
        };
        if n > self.limits.max_objects {
            return Err(bad("/N too large"));
        }
        let raw = self
            .bytes
            .get(s.data.0..s.data.1)
            .ok_or(bad("data outside file"))?;
        let data = filters::decode_stream(&s.dict, raw, self.limits.max_stream_decoded)?;
        let mut p = Parser::new(&data, 0, self.limits.parse_limits());
        let mut offsets = Vec::with_capacity(n.min(data.len() / 4 + 1));
        for _ in 0..n {
            let num = p.parse_uint().map_err(|_| bad("bad offset table"))?;
            let off = p.parse_uint().map_err(|_| bad("bad offset table"))?;
            let num = u32::try_from(num).map_err(|_| bad("object number"))?;
            let off = usize::try_from(off).map_err(|_| bad("offset"))?;
            offsets.push((num, off));
        }
        let stm = Arc::new(ObjStm {
            data,
            first,
            offsets,
        });
        self.objstms.borrow_mut().insert(stream, Arc::clone(&stm));
        Ok(stm)
    }

    /// Follow references (bounded) until a direct value; a dangling reference is `null`.
    pub fn resolve(&self, rev: usize, obj: &Obj) -> Result<Obj, PdfError> {
        let mut cur = obj.clone();
        for _ in 0..32 {
            let Value::Ref(id) = cur.value else {
                return Ok(cur);
            };
            cur = match self.object(rev, id)? {
                Some(r) => r.obj,
                None => Obj {
                    span: cur.span,
                    value: Value::Null,
                },
            };
        }
        Err(PdfError::LimitExceeded {
            what: "reference chain",
            limit: 32,
        })
    }

    /// The decoded data of a stream read from the file (not from an object stream).
    pub fn stream_data(&self, s: &Stream) -> Result<Vec<u8>, PdfError> {
        let raw = self.bytes.get(s.data.0..s.data.1).ok_or(PdfError::Syntax {
            offset: s.data.0,
            what: "stream data inside the file",
        })?;
        filters::decode_stream(&s.dict, raw, self.limits.max_stream_decoded)
    }

    /// The document catalog of revision `rev` (trailer /Root).
    pub fn catalog(&self, rev: usize) -> Result<Dict, PdfError> {
        let r = self
            .revisions
            .get(rev)
            .ok_or(PdfError::NoSuchRevision(rev))?;
        let root = r
            .trailer
            .get(b"Root")
            .ok_or(PdfError::NoCatalog { revision: rev })?;
        match self.resolve(rev, root)?.value {
            Value::Dict(d) => Ok(d),
            _ => Err(PdfError::NoCatalog { revision: rev }),
        }
    }

    /// Every signature and document timestamp in any revision (see [`signatures`]).
    pub fn signatures(&self) -> Result<Vec<SignatureField>, PdfError> {
        signatures::collect(self)
    }

    /// The /DSS of the latest revision (ETSI EN 319 142-1 5.4.2), if any.
    pub fn dss(&self) -> Result<Option<Dss>, PdfError> {
        match self.revisions.len().checked_sub(1) {
            Some(last) => dss::read(self, last),
            None => Ok(None),
        }
    }
}

/// Parse `n g obj value [stream...endstream] endobj` at `offset`. Returns the id, the value and the
/// offset just past the object (past `endobj` when present).
pub fn parse_indirect_at(
    buf: &[u8],
    offset: usize,
    limits: ParseLimits,
) -> Result<(ObjId, Obj, usize), PdfError> {
    let mut p = Parser::new(buf, offset, limits);
    let id = p.parse_obj_header()?;
    let mut obj = p.parse_object()?;
    if p.peek_keyword() == b"stream" {
        let Value::Dict(dict) = obj.value else {
            return Err(PdfError::Syntax {
                offset: p.pos,
                what: "dictionary before stream",
            });
        };
        let mut start = p.pos + 6;
        // `stream` is followed by CRLF or LF (7.3.8.1); accept a lone CR too.
        match buf.get(start..start + 2) {
            Some(b"\r\n") => start += 2,
            Some([b'\n' | b'\r', ..]) => start += 1,
            _ => {}
        }
        let direct_len = dict
            .get_int(b"Length")
            .and_then(|l| usize::try_from(l).ok())
            .and_then(|l| l.checked_add(start))
            .filter(|&end| {
                let after = buf.get(end..).unwrap_or_default();
                let k = after.iter().take(2).take_while(|&&b| is_eol(b)).count();
                after.get(k..).is_some_and(|a| a.starts_with(b"endstream"))
                    || after.starts_with(b" endstream")
            });
        // An indirect or wrong /Length: find `endstream` instead (bounded by the file).
        let end = match direct_len {
            Some(e) => e,
            None => {
                let rest = buf.get(start..).unwrap_or_default();
                let i = find(rest, b"endstream").ok_or(PdfError::Syntax {
                    offset: start,
                    what: "endstream",
                })?;
                let mut e = start + i;
                if e > start && buf.get(e - 1) == Some(&b'\n') {
                    e -= 1;
                }
                if e > start && buf.get(e - 1) == Some(&b'\r') {
                    e -= 1;
                }
                e
            }
        };
        p.pos = end;
        p.expect_keyword("endstream")?;
        obj = Obj {
            span: (obj.span.0, p.pos),
            value: Value::Stream(Stream {
                dict,
                data: (start, end),
            }),
        };
    }
    if p.peek_keyword() == b"endobj" {
        p.pos += 6;
    }
    Ok((id, obj, p.pos))
}

fn is_eol(b: u8) -> bool {
    b == b'\r' || b == b'\n'
}

/// Scan the whole file for `n g obj` headers (repair fallback), keeping the last of each number.
fn scan_objects(buf: &[u8], max: usize) -> HashMap<u32, usize> {
    let mut map = HashMap::new();
    let mut from = 0;
    while let Some(i) = find(buf.get(from..).unwrap_or_default(), b"obj") {
        let at = from + i;
        from = at + 3;
        // Walk back over "n g " to the start of the header.
        let mut s = at;
        let mut fields = 0;
        while fields < 2 {
            while s > 0
                && buf
                    .get(s - 1)
                    .is_some_and(|&b| b == b' ' || b == b'\r' || b == b'\n')
            {
                s -= 1;
            }
            let e = s;
            while s > 0 && buf.get(s - 1).is_some_and(u8::is_ascii_digit) {
                s -= 1;
            }
            if s == e {
                break;
            }
            fields += 1;
        }
        if fields == 2 {
            let mut p = Parser::new(buf, s, ParseLimits::default());
            if let Ok((n, _)) = p.parse_obj_header() {
                map.insert(n, s);
                if map.len() >= max {
                    break;
                }
            }
        }
    }
    map
}

/// First occurrence of `needle` in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(i) = hay.get(from..)?.iter().position(|&b| b == first) {
        let at = from + i;
        if hay.get(at + 1..at + 1 + rest.len()) == Some(rest) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Last occurrence of `needle` in `hay`.
pub(crate) fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    (0..=hay.len() - needle.len())
        .rev()
        .find(|&i| hay.get(i..i + needle.len()) == Some(needle))
}
