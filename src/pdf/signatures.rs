//! Signature fields, signature dictionaries and their byte-range coverage (ISO 32000-2 12.8,
//! ETSI EN 319 142-1 5.1, 5.4).
//!
//! Every revision's /AcroForm field tree is walked (bounded, cycle-safe); each signature dictionary
//! is reported once, with the revision it first appears in. /ByteRange and /Contents are read from the
//! bytes of the signature dictionary at its xref offset, never from a repaired graph: a coverage that
//! is not exactly `[0 a b c]` around /Contents up to a revision's `%%EOF` is a [`CoverageDefect`].
//! This module never verifies cryptography; it only says which bytes a signature claims to cover.

use std::collections::{HashMap, HashSet};

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::lexer::is_ws;
use super::object::{decode_text, Dict, Obj, ObjId, Value};
use super::xref::XrefEntry;
use super::{PdfDocument, PdfError, Warning};

/// A signature or document timestamp found in the document.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureField {
    /// Fully qualified field name (/T of the field and its parents, joined by `.`), decoded.
    pub field_name: Option<String>,
    /// The signature dictionary's id (the field's id if /V is a direct dictionary, which is a defect).
    pub object_id: ObjId,
    /// Signature or document timestamp.
    pub kind: SignatureKind,
    /// /Filter.
    pub filter: Option<String>,
    /// /SubFilter.
    pub sub_filter: Option<String>,
    /// /ByteRange as written in the signature dictionary's own bytes (`None` if absent or not integers).
    pub byte_range: Option<Vec<i64>>,
    /// /Contents hex-decoded, trailing zero padding kept.
    pub contents: Vec<u8>,
    /// File offsets of the /Contents hex string including `<` and `>` (`[start, end)`).
    pub contents_span: Option<(usize, usize)>,
    /// Which bytes the signature covers, or why that is not standard.
    pub coverage: Coverage,
    /// /M parsed.
    pub claimed_time: Option<OffsetDateTime>,
    /// /M as written.
    pub claimed_time_raw: Option<String>,
    /// /Name.
    pub name: Option<String>,
    /// /Reason.
    pub reason: Option<String>,
    /// /Location.
    pub location: Option<String>,
    /// /ContactInfo.
    pub contact_info: Option<String>,
    /// /Cert (adbe.x509.rsa_sha1): one or more DER certificates.
    pub cert: Option<Vec<Vec<u8>>>,
    /// DocMDP /P of a certification signature (12.8.2.2); 2 when /P is absent.
    pub docmdp: Option<u8>,
    /// FieldMDP lock from the field's /Lock or a FieldMDP reference (12.8.2.4).
    pub field_lock: Option<FieldLock>,
    /// The revision whose end equals the end of the /ByteRange.
    pub revision: Option<usize>,
    /// The first revision whose field tree reaches this signature dictionary.
    pub first_seen_revision: usize,
    /// Reachable in an earlier revision but not in the latest one: a removed signature.
    pub unreachable_in_latest: bool,
}

/// Signature or document timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureKind {
    /// An approval or certification signature.
    Signature,
    /// A document timestamp (/Type /DocTimeStamp or /SubFilter /ETSI.RFC3161).
    DocTimestamp,
}

/// Which bytes a signature covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    /// The whole file except /Contents.
    WholeFile,
    /// All of revision `revision` except /Contents; `later_revisions` updates follow it.
    Revision {
        /// The covered revision.
        revision: usize,
        /// How many revisions follow.
        later_revisions: usize,
    },
    /// Not a standard coverage: must not pass.
    NonStandard(CoverageDefect),
}

/// Why a /ByteRange is not `[0 a b c]` around /Contents up to a revision end
/// (ISO 32000-2 12.8.1, ETSI EN 319 142-1 5.1; the USF and signature wrapping attacks).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CoverageDefect {
    /// No /ByteRange.
    MissingByteRange,
    /// /ByteRange is not a direct array of integers.
    ByteRangeNotIntegers,
    /// /ByteRange does not have four numbers.
    WrongLength {
        /// How many it has.
        len: usize,
    },
    /// A negative value.
    Negative,
    /// The first range does not start at 0.
    NotStartingAtZero {
        /// Where it starts.
        start: i64,
    },
    /// The second range starts before the first ends.
    Overlapping,
    /// A range extends past the end of the file.
    OutsideFile {
        /// End of the ranges.
        end: i64,
        /// File length.
        file_len: usize,
    },
    /// The second range is empty.
    EmptyTail,
    /// No /Contents, or not a direct string.
    ContentsMissing,
    /// /Contents is not a hexadecimal string.
    ContentsNotHex,
    /// The gap between the ranges is not exactly the /Contents string.
    GapNotContents {
        /// The gap `[a, b)`.
        gap: (i64, i64),
        /// The /Contents string `[start, end)`.
        contents: (usize, usize),
    },
    /// The covered bytes do not end at a revision's `%%EOF`.
    TailNotAtRevisionEnd {
        /// Where they end.
        end: i64,
    },
    /// The signature dictionary is inside an object stream, so its bytes cannot be located.
    SigDictInObjectStream,
    /// /V is not an indirect reference to a dictionary.
    SigDictNotIndirect,
    /// The xref offset does not hold the signature dictionary.
    SigDictUnreadable,
}

/// A FieldMDP lock (ISO 32000-2 12.8.2.4, Table 236).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldLock {
    /// Which fields are locked.
    pub action: LockAction,
    /// Field names for Include/Exclude.
    pub fields: Vec<String>,
}

/// FieldMDP /Action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockAction {
    /// All fields.
    All,
    /// Only the listed fields.
    Include,
    /// All except the listed fields.
    Exclude,
}

/// The two signed byte ranges, for a standard coverage only.
pub fn signed_bytes<'a>(file: &'a [u8], sig: &SignatureField) -> Option<[&'a [u8]; 2]> {
    if matches!(sig.coverage, Coverage::NonStandard(_)) {
        return None;
    }
    let br = sig.byte_range.as_ref()?;
    let [s0, l0, s1, l1] = br.as_slice() else {
        return None;
    };
    let r = |s: i64, l: i64| -> Option<&'a [u8]> {
        let s = usize::try_from(s).ok()?;
        let e = s.checked_add(usize::try_from(l).ok()?)?;
        file.get(s..e)
    };
    Some([r(*s0, *l0)?, r(*s1, *l1)?])
}

struct Found {
    field_id: Option<ObjId>,
    name: Option<String>,
    v: Obj,
    lock: Option<Dict>,
}

/// Collect signatures from every revision.
pub(crate) fn collect(doc: &PdfDocument<'_>) -> Result<Vec<SignatureField>, PdfError> {
    let nrev = doc.revisions().len();
    // Keyed by signature dictionary id (or field id for a direct /V).
    let mut order: Vec<(ObjId, usize, Found)> = Vec::new();
    let mut index: HashMap<ObjId, usize> = HashMap::new();
    let mut in_latest: HashSet<ObjId> = HashSet::new();
    for rev in 0..nrev {
        let found = match fields_of(doc, rev) {
            Ok(f) => f,
            Err(e @ PdfError::LimitExceeded { .. }) => return Err(e),
            Err(e) => {
                doc.warn(Warning::Unreadable {
                    id: None,
                    error: format!("revision {rev}: {e}"),
                });
                continue;
            }
        };
        for f in found {
            let key = match f.v.as_ref() {
                Some(id) => id,
                None => f.field_id.unwrap_or((0, 0)),
            };
            if rev + 1 == nrev {
                in_latest.insert(key);
            }
            if let std::collections::hash_map::Entry::Vacant(slot) = index.entry(key) {
                if order.len() >= doc.limits().max_signatures {
                    return Err(PdfError::LimitExceeded {
                        what: "signatures",
                        limit: doc.limits().max_signatures as u64,
                    });
                }
                slot.insert(order.len());
                order.push((key, rev, f));
            }
        }
    }
    let mut out = Vec::with_capacity(order.len());
    for (key, first_rev, f) in order {
        let mut s = build(doc, key, first_rev, &f)?;
        s.unreachable_in_latest = !in_latest.contains(&key);
        out.push(s);
    }
    Ok(out)
}

fn fields_of(doc: &PdfDocument<'_>, rev: usize) -> Result<Vec<Found>, PdfError> {
    let cat = doc.catalog(rev)?;
    let Some(af) = cat.get(b"AcroForm") else {
        return Ok(Vec::new());
    };
    let af = doc.resolve(rev, af)?;
    let Some(fields) = af.as_dict().and_then(|d| d.get(b"Fields")) else {
        return Ok(Vec::new());
    };
    let fields = doc.resolve(rev, fields)?;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut count = 0usize;
    if let Some(items) = fields.as_array() {
        for item in items {
            walk(
                doc, rev, item, 0, None, None, &mut seen, &mut count, &mut out,
            )?;
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn walk(
    doc: &PdfDocument<'_>,
    rev: usize,
    node: &Obj,
    depth: usize,
    inherited_ft: Option<&[u8]>,
    parent_name: Option<&str>,
    seen: &mut HashSet<ObjId>,
    count: &mut usize,
    out: &mut Vec<Found>,
) -> Result<(), PdfError> {
    if depth > doc.limits().max_depth {
        return Err(PdfError::LimitExceeded {
            what: "field tree depth",
            limit: doc.limits().max_depth as u64,
        });
    }
    *count += 1;
    if *count > doc.limits().max_fields {
        return Err(PdfError::LimitExceeded {
            what: "form fields",
            limit: doc.limits().max_fields as u64,
        });
    }
    let field_id = node.as_ref();
    if let Some(id) = field_id {
        if !seen.insert(id) {
            return Ok(()); // A cycle or a shared kid: visit once.
        }
    }
    let resolved = doc.resolve(rev, node)?;
    let Some(d) = resolved.as_dict() else {
        return Ok(());
    };
    let ft = d.get_name(b"FT").or(inherited_ft);
    let partial = d.get(b"T").and_then(Obj::as_str_bytes).map(decode_text);
    let name = match (parent_name, partial) {
        (Some(p), Some(t)) => Some(format!("{p}.{t}")),
        (None, Some(t)) => Some(t),
        (p, None) => p.map(str::to_owned),
    };
    if ft == Some(b"Sig") {
        if let Some(v) = d.get(b"V") {
            if !matches!(v.value, Value::Null) {
                let lock = match d.get(b"Lock") {
                    Some(l) => doc.resolve(rev, l)?.as_dict().cloned(),
                    None => None,
                };
                out.push(Found {
                    field_id,
                    name: name.clone(),
                    v: v.clone(),
                    lock,
                });
            }
        }
    }
    if let Some(kids) = d.get(b"Kids") {
        let kids = doc.resolve(rev, kids)?;
        for k in kids.as_array().unwrap_or_default() {
            walk(
                doc,
                rev,
                k,
                depth + 1,
                ft,
                name.as_deref(),
                seen,
                count,
                out,
            )?;
        }
    }
    Ok(())
}

fn text(doc: &PdfDocument<'_>, rev: usize, d: &Dict, key: &[u8]) -> Option<String> {
    let o = doc.resolve(rev, d.get(key)?).ok()?;
    o.as_str_bytes()
        .map(decode_text)
        .or_else(|| o.as_name().map(|n| String::from_utf8_lossy(n).into_owned()))
}

fn build(
    doc: &PdfDocument<'_>,
    key: ObjId,
    rev: usize,
    f: &Found,
) -> Result<SignatureField, PdfError> {
    let last = doc.revisions().len().saturating_sub(1);
    let mut defect = None;
    // The signature dictionary as written at its xref offset (no repair).
    let sig: Option<(Dict, bool)> = match f.v.value {
        Value::Ref(id) => match doc.entry(rev, id.0)? {
            Some((_, XrefEntry::InFile { offset, .. })) => doc
                .object_exactly_at(id, offset)
                .and_then(|obj| obj.as_dict().cloned().map(|d| (d, true)))
                .or_else(|| {
                    defect = Some(CoverageDefect::SigDictUnreadable);
                    None
                }),
            Some((_, XrefEntry::InStream { .. })) => {
                defect = Some(CoverageDefect::SigDictInObjectStream);
                doc.object(rev, id)
                    .ok()
                    .flatten()
                    .and_then(|r| r.obj.as_dict().cloned())
                    .map(|d| (d, false))
            }
            _ => {
                defect = Some(CoverageDefect::SigDictUnreadable);
                None
            }
        },
        Value::Dict(ref d) => {
            defect = Some(CoverageDefect::SigDictNotIndirect);
            Some((d.clone(), false))
        }
        _ => {
            defect = Some(CoverageDefect::SigDictNotIndirect);
            None
        }
    };
    // Later redefinition of the signature dictionary object is itself suspicious.
    if let Value::Ref(id) = f.v.value {
        if let (Ok(Some((r0, e0))), Ok(Some((r1, e1)))) =
            (doc.entry(rev, id.0), doc.entry(last, id.0))
        {
            if r1 != r0 && e1 != e0 {
                doc.warn(Warning::SignatureRedefined { id, revision: r1 });
            }
        }
    }
    let empty = Dict::default();
    let (d, in_file) = match &sig {
        Some((d, in_file)) => (d, *in_file),
        None => (&empty, false),
    };

    let sub_filter = d
        .get_name(b"SubFilter")
        .map(|n| String::from_utf8_lossy(n).into_owned());
    let kind = if d.get_name(b"Type") == Some(b"DocTimeStamp")
        || d.get_name(b"SubFilter") == Some(b"ETSI.RFC3161")
    {
        SignatureKind::DocTimestamp
    } else {
        SignatureKind::Signature
    };

    let (contents, contents_span, contents_defect) = match d.get(b"Contents") {
        Some(Obj {
            span,
            value: Value::Str { bytes, hex },
        }) => (
            bytes.clone(),
            in_file.then_some(*span),
            (!hex).then_some(CoverageDefect::ContentsNotHex),
        ),
        _ => (Vec::new(), None, Some(CoverageDefect::ContentsMissing)),
    };

    let byte_range: Result<Vec<i64>, CoverageDefect> = match d.get(b"ByteRange") {
        None => Err(CoverageDefect::MissingByteRange),
        Some(o) => o
            .as_array()
            .ok_or(CoverageDefect::ByteRangeNotIntegers)
            .and_then(|a| {
                a.iter()
                    .map(|x| x.as_int().ok_or(CoverageDefect::ByteRangeNotIntegers))
                    .collect()
            }),
    };

    let (coverage, revision) = match defect {
        Some(d) => (Coverage::NonStandard(d), None),
        None => coverage(doc, byte_range.clone(), contents_span, contents_defect),
    };

    let claimed_time_raw = text(doc, rev, d, b"M");
    let claimed_time = claimed_time_raw.as_deref().and_then(parse_pdf_date);
    let cert = d.get(b"Cert").and_then(|c| {
        let c = doc.resolve(rev, c).ok()?;
        match &c.value {
            Value::Str { bytes, .. } => Some(vec![bytes.clone()]),
            Value::Array(a) => Some(
                a.iter()
                    .filter_map(|x| doc.resolve(rev, x).ok())
                    .filter_map(|x| x.as_str_bytes().map(<[u8]>::to_vec))
                    .collect(),
            ),
            _ => None,
        }
    });

    let mut docmdp = None;
    let mut field_lock = f.lock.as_ref().and_then(|l| lock_from(doc, rev, l));
    if let Some(refs) = d.get(b"Reference") {
        let refs = doc.resolve(rev, refs)?;
        for r in refs.as_array().unwrap_or_default().iter().take(16) {
            let r = doc.resolve(rev, r)?;
            let Some(rd) = r.as_dict() else { continue };
            let params = match rd.get(b"TransformParams") {
                Some(p) => doc.resolve(rev, p)?.as_dict().cloned(),
                None => None,
            };
            match rd.get_name(b"TransformMethod") {
                Some(b"DocMDP") => {
                    // /P outside 1..=3 is read as 1, the most restrictive, rather than trusted.
                    let p = params
                        .as_ref()
                        .and_then(|p| p.get(b"P"))
                        .and_then(Obj::as_int);
                    docmdp = Some(match p {
                        None => 2,
                        Some(v @ 1..=3) => v as u8,
                        Some(_) => 1,
                    });
                }
                Some(b"FieldMDP") if field_lock.is_none() => {
                    field_lock = params.as_ref().and_then(|p| lock_from(doc, rev, p));
                }
                _ => {}
            }
        }
    }

    Ok(SignatureField {
        field_name: f.name.clone(),
        object_id: key,
        kind,
        filter: d
            .get_name(b"Filter")
            .map(|n| String::from_utf8_lossy(n).into_owned()),
        sub_filter,
        byte_range: byte_range.ok(),
        contents,
        contents_span,
        coverage,
        claimed_time,
        claimed_time_raw,
        name: text(doc, rev, d, b"Name"),
        reason: text(doc, rev, d, b"Reason"),
        location: text(doc, rev, d, b"Location"),
        contact_info: text(doc, rev, d, b"ContactInfo"),
        cert,
        docmdp,
        field_lock,
        revision,
        first_seen_revision: rev,
        unreachable_in_latest: false,
    })
}

fn lock_from(doc: &PdfDocument<'_>, rev: usize, d: &Dict) -> Option<FieldLock> {
    let action = match d.get_name(b"Action")? {
        b"All" => LockAction::All,
        b"Include" => LockAction::Include,
        b"Exclude" => LockAction::Exclude,
        _ => return None,
    };
    let fields = match d.get(b"Fields") {
        Some(f) => doc
            .resolve(rev, f)
            .ok()?
            .as_array()
            .unwrap_or_default()
            .iter()
            .filter_map(|x| x.as_str_bytes().map(decode_text))
            .collect(),
        None => Vec::new(),
    };
    Some(FieldLock { action, fields })
}

fn coverage(
    doc: &PdfDocument<'_>,
    br: Result<Vec<i64>, CoverageDefect>,
    contents_span: Option<(usize, usize)>,
    contents_defect: Option<CoverageDefect>,
) -> (Coverage, Option<usize>) {
    let ns = |d| (Coverage::NonStandard(d), None);
    let file = doc.bytes();
    let br = match br {
        Ok(b) => b,
        Err(d) => return ns(d),
    };
    let [s0, a, b, c] = *br.as_slice() else {
        return ns(CoverageDefect::WrongLength { len: br.len() });
    };
    if [s0, a, b, c].iter().any(|&x| x < 0) {
        return ns(CoverageDefect::Negative);
    }
    if s0 != 0 {
        return ns(CoverageDefect::NotStartingAtZero { start: s0 });
    }
    if b < a {
        return ns(CoverageDefect::Overlapping);
    }
    let end = b.checked_add(c).unwrap_or(i64::MAX);
    if usize::try_from(end).map_or(true, |e| e > file.len()) {
        return ns(CoverageDefect::OutsideFile {
            end,
            file_len: file.len(),
        });
    }
    if c == 0 {
        return ns(CoverageDefect::EmptyTail);
    }
    if let Some(d) = contents_defect {
        return ns(d);
    }
    let Some(cs) = contents_span else {
        return ns(CoverageDefect::ContentsMissing);
    };
    if usize::try_from(a).ok() != Some(cs.0) || usize::try_from(b).ok() != Some(cs.1) {
        return ns(CoverageDefect::GapNotContents {
            gap: (a, b),
            contents: cs,
        });
    }
    let end_u = usize::try_from(end).unwrap_or(usize::MAX);
    let Some(r) = doc.revisions().iter().find(|r| r.ends_at(end_u)) else {
        return ns(CoverageDefect::TailNotAtRevisionEnd { end });
    };
    let later = doc.revisions().len() - 1 - r.index;
    let rest_ws = file
        .get(end_u..)
        .unwrap_or_default()
        .iter()
        .all(|&x| is_ws(x));
    if later == 0 && rest_ws {
        (Coverage::WholeFile, Some(r.index))
    } else {
        (
            Coverage::Revision {
                revision: r.index,
                later_revisions: later,
            },
            Some(r.index),
        )
    }
}

/// Parse a PDF date `D:YYYYMMDDHHmmSSOHH'mm'` (ISO 32000-2 7.9.4); trailing parts may be omitted.
pub fn parse_pdf_date(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    let s = s.strip_prefix("D:").unwrap_or(s);
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if !matches!(digits, 4 | 6 | 8 | 10 | 12 | 14) {
        return None;
    }
    let (d, rest) = s.split_at(digits);
    let field = |from: usize, default: u8| -> Option<u8> {
        match d.get(from..from + 2) {
            Some(x) => x.parse().ok(),
            None => Some(default),
        }
    };
    let year: i32 = d.get(0..4)?.parse().ok()?;
    let date =
        Date::from_calendar_date(year, Month::try_from(field(4, 1)?).ok()?, field(6, 1)?).ok()?;
    let t = Time::from_hms(field(8, 0)?, field(10, 0)?, field(12, 0)?).ok()?;
    let rb = rest.as_bytes();
    let two = |from: usize| -> Option<i32> {
        let x = rb.get(from..from + 2)?;
        x.iter()
            .all(u8::is_ascii_digit)
            .then(|| i32::from(x[0] - b'0') * 10 + i32::from(x[1] - b'0'))
    };
    let offset = match rb.first() {
        None | Some(b'Z') => UtcOffset::UTC,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = two(1)?;
            let om = match rb.get(3) {
                Some(b'\'') => two(4).unwrap_or(0),
                Some(_) => two(3).unwrap_or(0),
                None => 0,
            };
            let secs = oh * 3600 + om * 60;
            UtcOffset::from_whole_seconds(if sign == b'-' { -secs } else { secs }).ok()?
        }
        Some(_) => return None,
    };
    Some(
        PrimitiveDateTime::new(date, t)
            .assume_offset(offset)
            .to_offset(UtcOffset::UTC),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn pdf_dates() {
        assert_eq!(
            parse_pdf_date("D:20240102030405+07'00'"),
            Some(datetime!(2024-01-01 20:04:05 UTC))
        );
        assert_eq!(
            parse_pdf_date("D:2024"),
            Some(datetime!(2024-01-01 0:00 UTC))
        );
        assert_eq!(
            parse_pdf_date("D:20240102030405Z"),
            Some(datetime!(2024-01-02 3:04:05 UTC))
        );
        assert_eq!(
            parse_pdf_date("D:202401020304-0530"),
            Some(datetime!(2024-01-02 8:34 UTC))
        );
        assert_eq!(parse_pdf_date("D:2024130"), None);
        assert_eq!(parse_pdf_date("garbage"), None);
    }
}
