//! The PDF side of signing: the incremental update that carries a new signature or document
//! timestamp (ISO 32000-2 7.5.6, 12.7.5.5, 12.8; ETSI EN 319 142-1 5), and the update that adds
//! validation data to the Document Security Store (ETSI EN 319 142-1 5.4.2).
//!
//! Pure: bytes in, bytes out, no clock, no keys, no cryptography. The caller hashes
//! [`Prepared::signed_parts`], makes the CMS (or gets the timestamp token) and hands it to
//! [`Prepared::finish`].
//!
//! It must never change a byte of the original file: every update is appended after the last
//! revision, and an object it rewrites (a page, the AcroForm, the catalog, a field) is copied byte for
//! byte except the entries it has to change. It writes only what antin's change analysis
//! (`verify::diff`) whitelists for a signing update: the signature dictionary, a signature field with
//! its widget and appearance, the page's /Annots, the form's /Fields and /SigFlags, the catalog's
//! /AcroForm and /Perms (certification), and the DSS with its streams.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::rc::Rc;
use std::sync::Arc;

use time::{OffsetDateTime, UtcOffset};

use crate::pdf::lexer::{is_delim, ParseLimits};
use crate::pdf::{self, Dict, Location, Obj, ObjId, PdfDocument, RevisionKind, Value, Warning};

/// Bytes reserved for the CMS when the caller has no better estimate: enough for a B-T signature
/// with a three-certificate chain and a timestamp token.
pub const DEFAULT_CONTENTS_CAPACITY: usize = 16 * 1024;

/// The largest /Contents reservation accepted (the reader's own stream bound).
const MAX_CONTENTS_CAPACITY: usize = 32 << 20;

/// Bounds the walks through the page tree and the form field tree.
const MAX_NODES: usize = 100_000;

/// Deepest field tree walked.
const MAX_DEPTH: usize = 64;

/// Where the signature's widget goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Placement {
    /// A new field whose widget has a zero-size /Rect on page 1.
    Invisible,
    /// A new field with a visible widget.
    Visible {
        /// 1-based page number.
        page: usize,
        /// `[x, y, width, height]` in PDF points (default user space of the page).
        rect: [f64; 4],
    },
    /// An existing, empty signature field, by fully qualified name.
    Field(String),
}

/// What the new signature dictionary is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureKind {
    /// `/Type /Sig`, `/SubFilter /ETSI.CAdES.detached` (ETSI EN 319 142-1 5.3, PAdES baseline).
    Signature,
    /// `/Type /DocTimeStamp`, `/SubFilter /ETSI.RFC3161` (ETSI EN 319 142-1 5.4.3).
    DocumentTimestamp,
}

/// The widget's normal appearance: a form XObject (ISO 32000-2 8.10) with BBox `[0 0 w h]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Appearance {
    /// The form XObject's content stream (PDF operators).
    pub content: Vec<u8>,
    /// Fonts: (resource name, object body, e.g. `<< /Type /Font ... >>`), each written as a new
    /// indirect object and listed under the XObject's /Resources /Font.
    pub fonts: Vec<(String, Vec<u8>)>,
    /// XObjects (images, forms): (resource name, full stream object body
    /// `<< ... /Length N >>\nstream\n...\nendstream`), listed under /Resources /XObject.
    pub xobjects: Vec<(String, Vec<u8>)>,
    /// Further objects the font and XObject bodies reference, written in order. In the dictionary
    /// part of every font, XObject and extra body, `{{obj:N}}` (N a 0-based index into `extra`),
    /// `{{font:NAME}}` and `{{xobject:NAME}}` are replaced by the written object's `n 0 R`; stream
    /// data is never touched.
    pub extra: Vec<Vec<u8>>,
}

/// Builds a widget's appearance once its size is known (a new visible widget's rectangle, or the
/// rectangle of an existing field found in the document).
pub trait AppearanceSource: Send + Sync + std::fmt::Debug {
    /// The appearance for a form XObject with BBox `[0 0 width height]` (PDF points).
    fn build(&self, width: f64, height: f64) -> Result<Appearance, String>;
}

/// A fixed appearance, whatever the size.
impl AppearanceSource for Appearance {
    fn build(&self, _width: f64, _height: f64) -> Result<Appearance, String> {
        Ok(self.clone())
    }
}

/// A printable stamp annotation added in the same revision as the signature (so the signature
/// covers it): e.g. the QR code that leads to the online check, placed apart from the signature.
#[derive(Debug, Clone)]
pub struct PageStamp {
    /// 1-based page number; negative counts from the end (-1: the last page).
    pub page: i64,
    /// `[x, y, width, height]` in PDF points.
    pub rect: [f64; 4],
    pub appearance: Arc<dyn AppearanceSource>,
    /// /Contents: the annotation's text for readers that cannot show it (and screen readers).
    pub alt_text: String,
}

/// What to sign and how.
#[derive(Debug, Clone)]
pub struct SignatureRequest {
    /// Signature or document timestamp.
    pub kind: SignatureKind,
    /// Partial name of a new field (no `.`); a number is appended (or the trailing number
    /// increased) if a field of that name exists. Ignored for [`Placement::Field`].
    pub field_name: String,
    /// Where the widget goes.
    pub placement: Placement,
    /// /Name (usually the signer's name). PDF text string: UTF-16BE when not ASCII.
    pub name: Option<String>,
    /// /Reason.
    pub reason: Option<String>,
    /// /Location.
    pub location: Option<String>,
    /// /ContactInfo.
    pub contact_info: Option<String>,
    /// Written as /M in Vietnam time (`D:YYYYMMDDHHmmSS+07'00'`) for signatures; document
    /// timestamps carry no /M (the token is the time).
    pub signing_time: OffsetDateTime,
    /// Bytes reserved for the DER CMS (or timestamp token); /Contents gets twice as many hex zeros.
    pub contents_capacity: usize,
    /// DocMDP /P (1, 2 or 3): make this a certification signature (ISO 32000-2 12.8.2.2).
    pub certify: Option<u8>,
    /// FieldMDP (ISO 32000-2 12.8.2.4): lock these fields once signed; an empty list locks all.
    pub lock_fields: Option<Vec<String>>,
    /// The visible appearance; `None` writes an empty one (visible placements and filled fields
    /// only: an invisible widget has none).
    pub appearance: Option<Arc<dyn AppearanceSource>>,
    /// Stamp annotations to add with the signature (only into a document without signatures: in a
    /// signed one they would be changes after signing).
    pub stamps: Vec<PageStamp>,
}

impl SignatureRequest {
    /// A request with the common defaults: an invisible approval signature (or timestamp) in a new
    /// field `Signature1`, [`DEFAULT_CONTENTS_CAPACITY`], no metadata, no certification, no lock.
    pub fn new(kind: SignatureKind, signing_time: OffsetDateTime) -> Self {
        SignatureRequest {
            kind,
            field_name: "Signature1".to_owned(),
            placement: Placement::Invisible,
            name: None,
            reason: None,
            location: None,
            contact_info: None,
            signing_time,
            contents_capacity: DEFAULT_CONTENTS_CAPACITY,
            certify: None,
            lock_fields: None,
            appearance: None,
            stamps: Vec::new(),
        }
    }
}

/// The new file with a zero-filled /Contents placeholder, waiting for the CMS.
pub struct Prepared {
    bytes: Vec<u8>,
    byte_range: [usize; 4],
    capacity: usize,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("len", &self.bytes.len())
            .field("byte_range", &self.byte_range)
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Prepared {
    /// `[0, a, b, c]`: the gap `[a, b)` is exactly the /Contents hex string with its `<` and `>`,
    /// and `b + c` is the end of the file (the new revision's `%%EOF` and its EOL).
    pub fn byte_range(&self) -> [usize; 4] {
        self.byte_range
    }

    /// The two byte ranges to hash: `[0, a)` and `[b, b + c)`.
    pub fn signed_parts(&self) -> [&[u8]; 2] {
        let [_, a, b, c] = self.byte_range;
        // Invariant: prepare() computed the ranges from this very buffer.
        [
            self.bytes.get(..a).unwrap_or_default(),
            self.bytes.get(b..b + c).unwrap_or_default(),
        ]
    }

    /// Bytes reserved for the CMS.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Writes the DER CMS (or timestamp token) into the placeholder, hex-encoded (uppercase) and
    /// padded with zeros, and returns the signed file. Nothing else moves.
    pub fn finish(mut self, cms_der: &[u8]) -> Result<Vec<u8>, SignPdfError> {
        if cms_der.len() > self.capacity {
            return Err(SignPdfError::CmsTooLarge {
                need: cms_der.len(),
                capacity: self.capacity,
            });
        }
        if cms_der.is_empty() {
            return Err(SignPdfError::Invalid("empty CMS".into()));
        }
        let start = self.byte_range[1] + 1;
        let hex = hex::encode_upper(cms_der);
        let slot = self
            .bytes
            .get_mut(start..start + hex.len())
            .ok_or_else(|| SignPdfError::Invalid("placeholder outside the file".into()))?;
        slot.copy_from_slice(hex.as_bytes());
        Ok(self.bytes)
    }
}

/// Validation material for [`add_dss`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DssData {
    /// DER certificates.
    pub certs: Vec<Vec<u8>>,
    /// DER CRLs.
    pub crls: Vec<Vec<u8>>,
    /// DER OCSP responses (OCSPResponse, not BasicOCSPResponse).
    pub ocsps: Vec<Vec<u8>>,
    /// Per-signature entries.
    pub vri: Vec<VriEntry>,
}

/// One /VRI entry (ETSI EN 319 142-1 5.4.2.2).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VriEntry {
    /// The signature's CMS DER (or its /Contents value with the zero padding,
    /// `pdf::SignatureField::contents`). The VRI key is the uppercase hex SHA-1 of the /Contents
    /// value as stored, padding included, as ISO 32000-2 12.8.4.4 reads and pyHanko and Adobe
    /// compute it: bare DER is matched to the document's signature whose /Contents it fills.
    pub signature_contents: Vec<u8>,
    /// Indices into [`DssData::certs`].
    pub certs: Vec<usize>,
    /// Indices into [`DssData::crls`].
    pub crls: Vec<usize>,
    /// Indices into [`DssData::ocsps`].
    pub ocsps: Vec<usize>,
}

/// Why a signing update could not be made.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignPdfError {
    /// Not a readable PDF, or its cross-reference data is broken or followed by other bytes
    /// (ISO 32000-2 7.5): readers would not agree on what an update appended to it means.
    #[error("unreadable PDF: {0}")]
    Unreadable(String),
    /// The trailer has /Encrypt (ISO 32000-2 7.6): objects cannot be copied or added in the clear.
    #[error("the PDF is encrypted")]
    Encrypted,
    /// A certification signature with DocMDP /P 1 forbids every change but validation data and
    /// document timestamps (ISO 32000-2 12.8.2.2.2, Table 257).
    #[error("the document is certified with DocMDP /P 1: no further signature is permitted")]
    CertifiedNoChanges,
    /// No signature field has this fully qualified name.
    #[error("no field {0:?}")]
    FieldNotFound(String),
    /// The field already holds a signature (/V).
    #[error("field {0:?} is already signed")]
    FieldNotEmpty(String),
    /// The field is not a signature field (/FT /Sig, ISO 32000-2 12.7.5.5).
    #[error("field {0:?} is not a signature field")]
    FieldNotSignature(String),
    /// An earlier signature's FieldMDP lock covers the field (ISO 32000-2 12.8.2.4).
    #[error("field {0:?} is locked by an earlier signature (FieldMDP)")]
    FieldLocked(String),
    /// The page does not exist.
    #[error("page {page} out of range: the document has {pages} page(s)")]
    PageOutOfRange {
        /// Requested (1-based).
        page: usize,
        /// Pages in the document.
        pages: usize,
    },
    /// A document has at most one certification signature, and it is the first signature
    /// (ISO 32000-2 12.8.2.2.1).
    #[error("the document already carries a certification signature")]
    AlreadyCertified,
    /// The CMS does not fit in the reserved /Contents.
    #[error("the CMS needs {need} bytes but only {capacity} were reserved")]
    CmsTooLarge {
        /// DER length.
        need: usize,
        /// Reserved bytes.
        capacity: usize,
    },
    /// The request, or a part of the document it needs, is not acceptable.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The appearance could not be built (a missing glyph, an unreadable image, ...).
    #[error("appearance: {0}")]
    Appearance(String),
    /// Stamp annotations (the QR code placed on a page) can only go into a document that is not
    /// signed yet: in a signed one they would be changes after signing.
    #[error("the document is already signed: a stamp such as the QR code can no longer be placed on a page (sign visibly, so that the QR code goes inside the signature's own stamp, or use a profile whose QR code is in the stamp)")]
    StampOnSignedDocument,
}

fn unreadable(e: impl std::fmt::Display) -> SignPdfError {
    SignPdfError::Unreadable(e.to_string())
}

fn invalid(what: impl Into<String>) -> SignPdfError {
    SignPdfError::Invalid(what.into())
}

// --- Reading: objects together with the buffer their spans point into --------------------------

/// The buffer an object's spans refer to.
#[derive(Clone)]
enum Src {
    File,
    ObjStm(Rc<Vec<u8>>),
}

/// A value, the object it was read from (if indirect) and its source buffer.
#[derive(Clone)]
struct Node {
    id: Option<ObjId>,
    obj: Obj,
    src: Src,
}

impl Node {
    fn dict(&self) -> Option<&Dict> {
        match &self.obj.value {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }
}

struct Reader<'d, 'a> {
    doc: &'d PdfDocument<'a>,
    rev: usize,
    objstms: RefCell<HashMap<u32, Rc<Vec<u8>>>>,
}

impl<'d, 'a> Reader<'d, 'a> {
    fn new(doc: &'d PdfDocument<'a>) -> Self {
        Reader {
            doc,
            rev: doc.revisions().len().saturating_sub(1),
            objstms: RefCell::new(HashMap::new()),
        }
    }

    fn get(&self, id: ObjId) -> Result<Option<Node>, SignPdfError> {
        let Some(r) = self.doc.object(self.rev, id).map_err(unreadable)? else {
            return Ok(None);
        };
        let src = match r.location {
            Location::InFile { .. } => Src::File,
            Location::InStream { stream, .. } => Src::ObjStm(self.objstm(stream)?),
        };
        Ok(Some(Node {
            id: Some(r.id),
            obj: r.obj,
            src,
        }))
    }

    /// The decoded data of an object stream: the buffer the spans of its objects point into.
    fn objstm(&self, stream: u32) -> Result<Rc<Vec<u8>>, SignPdfError> {
        if let Some(d) = self.objstms.borrow().get(&stream) {
            return Ok(Rc::clone(d));
        }
        let r = self
            .doc
            .object(self.rev, (stream, 0))
            .map_err(unreadable)?
            .ok_or_else(|| unreadable(format!("object stream {stream} is missing")))?;
        let Value::Stream(s) = &r.obj.value else {
            return Err(unreadable(format!(
                "object stream {stream} is not a stream"
            )));
        };
        let data = Rc::new(self.doc.stream_data(s).map_err(unreadable)?);
        self.objstms.borrow_mut().insert(stream, Rc::clone(&data));
        Ok(data)
    }

    /// `obj` (read from `src`) with references followed; `None` for a dangling reference.
    fn deref(&self, obj: &Obj, src: &Src) -> Result<Option<Node>, SignPdfError> {
        let mut cur = Node {
            id: None,
            obj: obj.clone(),
            src: src.clone(),
        };
        for _ in 0..32 {
            let Value::Ref(id) = cur.obj.value else {
                return Ok(Some(cur));
            };
            match self.get(id)? {
                Some(n) => cur = n,
                None => return Ok(None),
            }
        }
        Err(unreadable("reference chain longer than 32"))
    }

    /// The bytes of `obj` as written in `src`.
    fn raw(&self, src: &Src, obj: &Obj) -> Result<Vec<u8>, SignPdfError> {
        let buf: &[u8] = match src {
            Src::File => self.doc.bytes(),
            Src::ObjStm(d) => d,
        };
        buf.get(obj.span.0..obj.span.1)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| unreadable("a value's span lies outside its buffer"))
    }

    /// The references in an array value (direct or indirect); `None` if it is not an array.
    fn array_refs(&self, obj: &Obj, src: &Src) -> Result<Option<Vec<ObjId>>, SignPdfError> {
        let Some(n) = self.deref(obj, src)? else {
            return Ok(None);
        };
        Ok(n.obj
            .as_array()
            .map(|a| a.iter().filter_map(Obj::as_ref).collect()))
    }
}

/// Parses the file and refuses what an update must not be appended to.
fn open(bytes: &[u8]) -> Result<PdfDocument<'_>, SignPdfError> {
    let doc = pdf::parse(bytes, &pdf::Limits::default()).map_err(unreadable)?;
    check_warnings(&doc)?;
    if doc
        .revisions()
        .iter()
        .any(|r| r.trailer.get(b"Encrypt").is_some())
    {
        return Err(SignPdfError::Encrypted);
    }
    Ok(doc)
}

/// Bytes after the last revision (an update without xref or trailer) or xref offsets that had to be
/// repaired: other readers may see other objects than the ones we copy.
fn check_warnings(doc: &PdfDocument<'_>) -> Result<(), SignPdfError> {
    for w in doc.warnings() {
        match w {
            Warning::TrailingData { offset } => {
                return Err(unreadable(format!(
                    "bytes other than whitespace after the last revision (offset {offset})"
                )))
            }
            Warning::XrefOffsetRepaired { id, claimed, .. } => {
                return Err(unreadable(format!(
                    "broken cross-reference table: object {} {} is not at offset {claimed}",
                    id.0, id.1
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

// --- Writing PDF syntax ------------------------------------------------------------------------

/// A name object (ISO 32000-2 7.3.5): irregular characters and `#` as `#xx`.
fn name(n: &[u8]) -> Vec<u8> {
    let mut out = vec![b'/'];
    for &b in n {
        if (0x21..=0x7e).contains(&b) && !is_delim(b) && b != b'#' {
            out.push(b);
        } else {
            out.extend_from_slice(format!("#{b:02X}").as_bytes());
        }
    }
    out
}

/// A text string (ISO 32000-2 7.9.2.2): a literal string when it is printable ASCII (the same in
/// PDFDocEncoding), else UTF-16BE with a byte order mark, as Vietnamese names need.
fn text_string(s: &str) -> Vec<u8> {
    let plain = s
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) || matches!(b, b'\t' | b'\n' | b'\r'));
    if !plain {
        let mut out = b"<FEFF".to_vec();
        for u in s.encode_utf16() {
            out.extend_from_slice(format!("{u:04X}").as_bytes());
        }
        out.push(b'>');
        return out;
    }
    let mut out = vec![b'('];
    for b in s.bytes() {
        match b {
            b'(' | b')' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.push(b),
        }
    }
    out.push(b')');
    out
}

fn hex_string(bytes: &[u8]) -> Vec<u8> {
    format!("<{}>", hex::encode_upper(bytes)).into_bytes()
}

/// A number without exponent (ISO 32000-2 7.3.3 has none), at most four decimals.
pub(crate) fn number(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    match s {
        "-0" | "" => "0".to_owned(),
        s => s.to_owned(),
    }
}

fn reference(id: ObjId) -> String {
    format!("{} {} R", id.0, id.1)
}

/// `D:YYYYMMDDHHmmSS+07'00'` (ISO 32000-2 7.9.4) in Vietnam time.
fn pdf_date(t: OffsetDateTime) -> Result<String, SignPdfError> {
    let offset = UtcOffset::from_hms(7, 0, 0).map_err(|e| invalid(e.to_string()))?;
    let t = t.to_offset(offset);
    if !(0..=9999).contains(&t.year()) {
        return Err(invalid("signing time outside years 0..9999"));
    }
    Ok(format!(
        "D:{:04}{:02}{:02}{:02}{:02}{:02}+07'00'",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

/// The bytes of dictionary `node` with `edits` applied: an existing key's value is replaced where
/// it is written, a new key is added before the closing `>>`; every other byte stays as written.
fn edit_dict(
    r: &Reader<'_, '_>,
    node: &Node,
    edits: &[(&[u8], Vec<u8>)],
) -> Result<Vec<u8>, SignPdfError> {
    let d = node
        .dict()
        .ok_or_else(|| invalid("expected a dictionary"))?;
    let raw = r.raw(&node.src, &node.obj)?;
    let base = node.obj.span.0;
    if !raw.starts_with(b"<<") || !raw.ends_with(b">>") {
        return Err(unreadable("a dictionary's span is not << ... >>"));
    }
    let mut replace: Vec<(usize, usize, &[u8])> = Vec::new();
    let mut add: Vec<(&[u8], &[u8])> = Vec::new();
    for (key, value) in edits {
        let mut hits = d.entries.iter().filter(|(k, _)| k.as_slice() == *key);
        match (hits.next(), hits.next()) {
            (Some(_), Some(_)) => {
                return Err(invalid(format!(
                    "the dictionary has two /{} entries",
                    String::from_utf8_lossy(key)
                )))
            }
            (Some((_, old)), None) => {
                let s = old.span.0.checked_sub(base);
                let e = old.span.1.checked_sub(base);
                match (s, e) {
                    (Some(s), Some(e)) if s <= e && e <= raw.len() - 2 => {
                        replace.push((s, e, value.as_slice()))
                    }
                    _ => return Err(unreadable("a value's span lies outside its dictionary")),
                }
            }
            (None, _) => add.push((key, value.as_slice())),
        }
    }
    replace.sort_by_key(|x| x.0);
    let mut out = Vec::with_capacity(raw.len() + 64);
    let mut pos = 0;
    for (s, e, v) in replace {
        out.extend_from_slice(raw.get(pos..s).unwrap_or_default());
        out.extend_from_slice(v);
        pos = e;
    }
    out.extend_from_slice(raw.get(pos..raw.len() - 2).unwrap_or_default());
    if add.is_empty() {
        out.extend_from_slice(b">>");
    } else {
        for (k, v) in add {
            out.push(b' ');
            out.extend_from_slice(&name(k));
            out.push(b' ');
            out.extend_from_slice(v);
        }
        out.extend_from_slice(b" >>");
    }
    Ok(out)
}

/// The bytes of array `node` as written, with `refs` appended.
fn append_refs(r: &Reader<'_, '_>, node: &Node, refs: &[ObjId]) -> Result<Vec<u8>, SignPdfError> {
    let raw = r.raw(&node.src, &node.obj)?;
    let Some(body) = raw.strip_suffix(b"]") else {
        return Err(unreadable("an array's span does not end with ]"));
    };
    let kept = body.len()
        - body
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
    let mut out = body.get(..kept).unwrap_or_default().to_vec();
    for id in refs {
        out.push(b' ');
        out.extend_from_slice(reference(*id).as_bytes());
    }
    out.push(b']');
    Ok(out)
}

fn ref_array(refs: &[ObjId]) -> Vec<u8> {
    let items: Vec<String> = refs.iter().map(|id| reference(*id)).collect();
    format!("[{}]", items.join(" ")).into_bytes()
}

/// Checks that `body` is exactly one PDF object (what a caller-supplied body must be).
fn parse_body(body: &[u8]) -> Option<Value> {
    let mut wrapped = b"1 0 obj\n".to_vec();
    wrapped.extend_from_slice(body);
    wrapped.extend_from_slice(b"\nendobj\n");
    match pdf::parse_indirect_at(&wrapped, 0, ParseLimits::default()) {
        Ok((_, obj, end)) if end + 1 == wrapped.len() => Some(obj.value),
        _ => None,
    }
}

// --- The incremental update --------------------------------------------------------------------

/// Objects to append: new ones numbered from the old /Size, rewritten ones under their own id.
struct Update {
    next: u32,
    objects: Vec<(ObjId, Vec<u8>)>,
}

impl Update {
    fn new(doc: &PdfDocument<'_>) -> Result<Self, SignPdfError> {
        let size = doc
            .revisions()
            .iter()
            .filter_map(|r| r.trailer.get_int(b"Size"))
            .max()
            .and_then(|s| u32::try_from(s).ok());
        // Without /Size (a defect), the next number after every one the xref sections list.
        let listed = doc
            .revisions()
            .iter()
            .flat_map(|r| r.object_numbers())
            .max()
            .map_or(1, |n| n.saturating_add(1));
        let next = size.unwrap_or(0).max(listed).max(1);
        Ok(Update {
            next,
            objects: Vec::new(),
        })
    }

    fn alloc(&mut self) -> Result<ObjId, SignPdfError> {
        let id = (self.next, 0);
        self.next = self
            .next
            .checked_add(1)
            .ok_or_else(|| invalid("object numbers exhausted"))?;
        Ok(id)
    }

    fn put(&mut self, id: ObjId, body: Vec<u8>) {
        match self.objects.iter_mut().find(|(i, _)| i.0 == id.0) {
            Some(slot) => slot.1 = body,
            None => self.objects.push((id, body)),
        }
    }

    /// The original file, then the objects, then an xref section of the same kind as the last
    /// revision's (a classic table, or an xref stream for files that use them) whose trailer keeps
    /// /Root, /Info and the first /ID and points /Prev at the last section. Returns the file and
    /// each object's body offset.
    fn write(
        mut self,
        doc: &PdfDocument<'_>,
    ) -> Result<(Vec<u8>, HashMap<u32, usize>), SignPdfError> {
        let base = doc.bytes();
        let last = doc
            .revisions()
            .last()
            .ok_or_else(|| unreadable("no revision"))?;
        let trailer = &last.trailer;
        let raw_trailer_value = |key: &[u8]| -> Option<Vec<u8>> {
            let o = trailer.get(key)?;
            base.get(o.span.0..o.span.1).map(<[u8]>::to_vec)
        };
        let root = match trailer.get(b"Root").map(|o| &o.value) {
            Some(Value::Ref(id)) => reference(*id).into_bytes(),
            _ => return Err(unreadable("the trailer's /Root is not a reference")),
        };
        let info = raw_trailer_value(b"Info");
        let first_id = trailer
            .get(b"ID")
            .and_then(Obj::as_array)
            .and_then(|a| a.first())
            .and_then(Obj::as_str_bytes)
            .map(<[u8]>::to_vec);

        self.objects.sort_by_key(|(id, _)| id.0);
        // A new second /ID for the new version (ISO 32000-2 14.4): a digest of what identifies
        // this version (the old file's length, its first and last 64 KiB, which hold its header,
        // trailer and last cross-reference section, and every new object, with its time). Not
        // of all the old bytes: on a 10 MB file that was a second full hash besides the signed
        // digest's.
        const EDGE: usize = 64 * 1024;
        let mut h = openssl::sha::Sha256::new();
        h.update(&(base.len() as u64).to_be_bytes());
        h.update(base.get(..EDGE).unwrap_or(base));
        h.update(base.get(base.len().saturating_sub(EDGE)..).unwrap_or(base));
        for (id, body) in &self.objects {
            h.update(&id.0.to_be_bytes());
            h.update(body);
        }
        let digest = h.finish();
        let new_id = digest.get(..16).unwrap_or_default().to_vec();
        let first_id = first_id.unwrap_or_else(|| new_id.clone());
        let id_array = [
            b"[".to_vec(),
            hex_string(&first_id),
            b" ".to_vec(),
            hex_string(&new_id),
            b"]".to_vec(),
        ]
        .concat();

        // Room for the whole update up front: growing a 10 MB buffer copies it again.
        let update_len: usize = self.objects.iter().map(|(_, b)| b.len() + 32).sum();
        let mut out = Vec::with_capacity(base.len() + update_len + 8192);
        out.extend_from_slice(base);
        if !matches!(out.last(), Some(b'\n' | b'\r')) {
            out.push(b'\n');
        }
        let mut offsets: Vec<(ObjId, usize)> = Vec::new();
        let mut bodies = HashMap::new();
        for (id, body) in &self.objects {
            offsets.push((*id, out.len()));
            out.extend_from_slice(format!("{} {} obj\n", id.0, id.1).as_bytes());
            bodies.insert(id.0, out.len());
            out.extend_from_slice(body);
            out.extend_from_slice(b"\nendobj\n");
        }
        let prev = last.xref_offset;
        let mut tail = Vec::new();
        tail.extend_from_slice(b" /Root ");
        tail.extend_from_slice(&root);
        if let Some(info) = info {
            tail.extend_from_slice(b" /Info ");
            tail.extend_from_slice(&info);
        }
        tail.extend_from_slice(b" /ID ");
        tail.extend_from_slice(&id_array);
        tail.extend_from_slice(format!(" /Prev {prev}").as_bytes());

        let xref_at = if last.kind == RevisionKind::Stream {
            // Readers that know only xref streams need one here too (ISO 32000-2 7.5.8).
            let xref_id = self.alloc()?;
            let xref_at = out.len();
            offsets.push((xref_id, xref_at));
            offsets.sort_by_key(|(id, _)| id.0);
            let max_off = offsets.iter().map(|(_, o)| *o).max().unwrap_or(0) as u64;
            let w1 = (1..=8usize)
                .find(|&w| w == 8 || max_off < 1u64 << (8 * w))
                .unwrap_or(8);
            let mut data = Vec::with_capacity(offsets.len() * (w1 + 3));
            for (id, off) in &offsets {
                data.push(1u8);
                let be = (*off as u64).to_be_bytes();
                data.extend_from_slice(be.get(8 - w1..).unwrap_or_default());
                data.extend_from_slice(&id.1.to_be_bytes());
            }
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            z.write_all(&data).map_err(|e| invalid(e.to_string()))?;
            let data = z.finish().map_err(|e| invalid(e.to_string()))?;
            let index = runs(&offsets)
                .iter()
                .map(|(f, c)| format!("{f} {c}"))
                .collect::<Vec<_>>()
                .join(" ");
            out.extend_from_slice(format!("{} {} obj\n", xref_id.0, xref_id.1).as_bytes());
            out.extend_from_slice(
                format!(
                    "<< /Type /XRef /Size {} /W [1 {w1} 2] /Index [{index}]",
                    self.next
                )
                .as_bytes(),
            );
            out.extend_from_slice(&tail);
            out.extend_from_slice(
                format!(" /Filter /FlateDecode /Length {} >>\nstream\n", data.len()).as_bytes(),
            );
            out.extend_from_slice(&data);
            out.extend_from_slice(b"\nendstream\nendobj\n");
            xref_at
        } else {
            let xref_at = out.len();
            out.extend_from_slice(b"xref\n");
            let mut i = 0;
            for (first, count) in runs(&offsets) {
                out.extend_from_slice(format!("{first} {count}\n").as_bytes());
                for (id, off) in offsets.get(i..i + count).unwrap_or_default() {
                    out.extend_from_slice(format!("{off:010} {:05} n \n", id.1).as_bytes());
                }
                i += count;
            }
            out.extend_from_slice(format!("trailer\n<< /Size {}", self.next).as_bytes());
            out.extend_from_slice(&tail);
            out.extend_from_slice(b" >>\n");
            xref_at
        };
        out.extend_from_slice(format!("startxref\n{xref_at}\n%%EOF\n").as_bytes());
        Ok((out, bodies))
    }
}

/// Consecutive object numbers as (first, count) subsections; `sorted` is sorted by number.
fn runs(sorted: &[(ObjId, usize)]) -> Vec<(u32, usize)> {
    let mut out: Vec<(u32, usize)> = Vec::new();
    for (id, _) in sorted {
        match out.last_mut() {
            Some((first, count)) if u64::from(*first) + *count as u64 == u64::from(id.0) => {
                *count += 1
            }
            _ => out.push((id.0, 1)),
        }
    }
    out
}

// --- The document's structure: pages and form fields -------------------------------------------

/// The number of pages (to resolve a page counted from the end).
pub fn page_count(pdf: &[u8]) -> Result<usize, SignPdfError> {
    let doc = open(pdf)?;
    let r = Reader::new(&doc);
    let root_id = doc
        .revisions()
        .last()
        .and_then(|l| l.trailer.get(b"Root"))
        .and_then(Obj::as_ref)
        .ok_or_else(|| unreadable("the trailer's /Root is not a reference"))?;
    let catalog = r
        .get(root_id)?
        .filter(|n| n.dict().is_some())
        .ok_or_else(|| unreadable("no document catalog"))?;
    Ok(page_list(&r, &catalog)?.len())
}

/// The page objects in document order (bounded, cycle-safe).
fn page_list(r: &Reader<'_, '_>, catalog: &Node) -> Result<Vec<ObjId>, SignPdfError> {
    let mut pages = Vec::new();
    let mut seen = HashSet::new();
    let mut stack: Vec<ObjId> = catalog
        .dict()
        .and_then(|d| d.get(b"Pages"))
        .and_then(Obj::as_ref)
        .into_iter()
        .collect();
    while let Some(id) = stack.pop() {
        if seen.len() >= MAX_NODES {
            return Err(invalid("page tree too large"));
        }
        if !seen.insert(id.0) {
            continue;
        }
        let Some(node) = r.get(id)? else { continue };
        let Some(d) = node.dict() else { continue };
        match (d.get_name(b"Type"), d.get(b"Kids")) {
            (Some(b"Page"), _) | (_, None) => pages.push(id),
            (_, Some(kids)) => {
                let kids = r.array_refs(kids, &node.src)?.unwrap_or_default();
                stack.extend(kids.into_iter().rev());
            }
        }
    }
    Ok(pages)
}

/// One node of the field tree.
struct Field {
    id: ObjId,
    name: String,
    /// Has its own /T (a field, not a bare widget).
    named: bool,
    is_sig: bool,
    node: Node,
}

/// Every node of the AcroForm field tree with its fully qualified name (bounded, cycle-safe).
fn field_tree(r: &Reader<'_, '_>, form: Option<&Node>) -> Result<Vec<Field>, SignPdfError> {
    let mut out = Vec::new();
    let Some(form) = form else { return Ok(out) };
    let Some(fields) = form.dict().and_then(|d| d.get(b"Fields")) else {
        return Ok(out);
    };
    let roots = r.array_refs(fields, &form.src)?.unwrap_or_default();
    let mut stack: Vec<(ObjId, String, bool, usize)> = roots
        .into_iter()
        .rev()
        .map(|id| (id, String::new(), false, 0))
        .collect();
    let mut seen = HashSet::new();
    while let Some((id, parent, parent_sig, depth)) = stack.pop() {
        if depth > MAX_DEPTH || seen.len() >= MAX_NODES {
            return Err(invalid("form field tree too large or too deep"));
        }
        if !seen.insert(id.0) {
            continue;
        }
        let Some(node) = r.get(id)? else { continue };
        let Some(d) = node.dict() else { continue };
        let partial = d
            .get(b"T")
            .and_then(Obj::as_str_bytes)
            .map(pdf::decode_text);
        let name = match (&partial, parent.is_empty()) {
            (Some(t), true) => t.clone(),
            (Some(t), false) => format!("{parent}.{t}"),
            (None, _) => parent.clone(),
        };
        let is_sig = d.get_name(b"FT").map_or(parent_sig, |ft| ft == b"Sig");
        if let Some(kids) = d.get(b"Kids") {
            let kids = r.array_refs(kids, &node.src)?.unwrap_or_default();
            for k in kids.into_iter().rev() {
                stack.push((k, name.clone(), is_sig, depth + 1));
            }
        }
        out.push(Field {
            id,
            name,
            named: partial.is_some(),
            is_sig,
            node,
        });
    }
    Ok(out)
}

/// `base`, or with its trailing number increased (or a number appended) until no field has it.
fn unique_name(base: &str, taken: &HashSet<&str>) -> String {
    if !taken.contains(base) {
        return base.to_owned();
    }
    let stem = base.trim_end_matches(|c: char| c.is_ascii_digit());
    let mut n: u64 = base
        .get(stem.len()..)
        .and_then(|d| d.parse::<u64>().ok())
        .map_or(2, |n| n.saturating_add(1));
    loop {
        let candidate = format!("{stem}{n}");
        if !taken.contains(candidate.as_str()) {
            return candidate;
        }
        n = n.saturating_add(1);
    }
}

// --- Signing ----------------------------------------------------------------------------------

fn check_request(req: &SignatureRequest) -> Result<(), SignPdfError> {
    if req.contents_capacity == 0 || req.contents_capacity > MAX_CONTENTS_CAPACITY {
        return Err(invalid(format!(
            "contents_capacity must be 1..={MAX_CONTENTS_CAPACITY} bytes"
        )));
    }
    if let Some(p) = req.certify {
        if !(1..=3).contains(&p) {
            return Err(invalid("DocMDP /P must be 1, 2 or 3"));
        }
        if req.kind == SignatureKind::DocumentTimestamp {
            return Err(invalid("a document timestamp cannot certify"));
        }
    }
    if !matches!(req.placement, Placement::Field(_))
        && (req.field_name.is_empty() || req.field_name.contains('.'))
    {
        return Err(invalid(
            "field_name must be non-empty and without '.' (ISO 32000-2 12.7.4.2)",
        ));
    }
    if let Placement::Visible { rect, .. } = &req.placement {
        if rect.iter().any(|v| !v.is_finite()) || rect[2] < 0.0 || rect[3] < 0.0 {
            return Err(invalid("the rectangle needs finite numbers and w, h >= 0"));
        }
    }
    Ok(())
}

/// TransformParams of a FieldMDP reference (ISO 32000-2 Table 258) or a /Lock dictionary
/// (Table 237), without the /Type and /V that differ between the two.
fn lock_entries(fields: &[String]) -> Vec<u8> {
    if fields.is_empty() {
        return b"/Action /All".to_vec();
    }
    let mut out = b"/Action /Include /Fields [".to_vec();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(&text_string(f));
    }
    out.push(b']');
    out
}

/// The signature dictionary and where its placeholders sit in it.
struct SigDict {
    body: Vec<u8>,
    byte_range_at: usize,
    byte_range_len: usize,
    contents_at: usize,
}

/// Room for `[0 a b c]` with 10-digit numbers (files below 10 GB; the reader stops at 512 MiB).
const BYTE_RANGE_PLACEHOLDER: &[u8] = b"[0 0000000000 0000000000 0000000000]";

fn sig_dict(
    req: &SignatureRequest,
    catalog: ObjId,
    field_mdp: Option<&[u8]>,
) -> Result<SigDict, SignPdfError> {
    let mut b = Vec::new();
    match req.kind {
        SignatureKind::Signature => b.extend_from_slice(
            b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached",
        ),
        SignatureKind::DocumentTimestamp => b.extend_from_slice(
            b"<< /Type /DocTimeStamp /Filter /Adobe.PPKLite /SubFilter /ETSI.RFC3161",
        ),
    }
    b.extend_from_slice(b" /ByteRange ");
    let byte_range_at = b.len();
    b.extend_from_slice(BYTE_RANGE_PLACEHOLDER);
    b.extend_from_slice(b" /Contents ");
    let contents_at = b.len();
    b.push(b'<');
    b.resize(b.len() + 2 * req.contents_capacity, b'0');
    b.push(b'>');
    if req.kind == SignatureKind::Signature {
        b.extend_from_slice(b" /M ");
        b.extend_from_slice(&text_string(&pdf_date(req.signing_time)?));
    }
    for (key, value) in [
        (&b"Name"[..], &req.name),
        (b"Reason", &req.reason),
        (b"Location", &req.location),
        (b"ContactInfo", &req.contact_info),
    ] {
        if let Some(v) = value {
            b.push(b' ');
            b.extend_from_slice(&name(key));
            b.push(b' ');
            b.extend_from_slice(&text_string(v));
        }
    }
    let mut refs: Vec<Vec<u8>> = Vec::new();
    if let Some(p) = req.certify {
        refs.push(format!("<< /Type /SigRef /TransformMethod /DocMDP /TransformParams << /Type /TransformParams /P {p} /V /1.2 >> >>").into_bytes());
    }
    if let Some(params) = field_mdp {
        let mut r = b"<< /Type /SigRef /TransformMethod /FieldMDP /TransformParams << /Type /TransformParams ".to_vec();
        r.extend_from_slice(params);
        r.extend_from_slice(format!(" /V /1.2 >> /Data {} >>", reference(catalog)).as_bytes());
        refs.push(r);
    }
    if !refs.is_empty() {
        b.extend_from_slice(b" /Reference [");
        b.extend_from_slice(&refs.join(&b' '));
        b.push(b']');
    }
    b.extend_from_slice(b" >>");
    Ok(SigDict {
        body: b,
        byte_range_at,
        byte_range_len: BYTE_RANGE_PLACEHOLDER.len(),
        contents_at,
    })
}

/// Writes the appearance XObject with its resources; returns the XObject's id.
fn appearance_objects(
    up: &mut Update,
    app: Option<&dyn AppearanceSource>,
    w: f64,
    h: f64,
) -> Result<ObjId, SignPdfError> {
    let app = match app {
        Some(a) => a.build(w, h).map_err(SignPdfError::Appearance)?,
        None => Appearance::default(),
    };
    let app = &app;
    let form = up.alloc()?;
    let mut names: HashMap<String, ObjId> = HashMap::new();
    let mut fonts = Vec::new();
    for (n, body) in &app.fonts {
        let id = up.alloc()?;
        if n.is_empty() || names.insert(format!("font:{n}"), id).is_some() {
            return Err(invalid(format!(
                "font resource name {n:?} empty or repeated"
            )));
        }
        fonts.push((n, body, id));
    }
    let mut xobjects = Vec::new();
    for (n, body) in &app.xobjects {
        let id = up.alloc()?;
        if n.is_empty() || names.insert(format!("xobject:{n}"), id).is_some() {
            return Err(invalid(format!(
                "XObject resource name {n:?} empty or repeated"
            )));
        }
        xobjects.push((n, body, id));
    }
    let mut extra = Vec::new();
    for (i, body) in app.extra.iter().enumerate() {
        let id = up.alloc()?;
        names.insert(format!("obj:{i}"), id);
        extra.push((i, body, id));
    }
    for (n, body, id) in &fonts {
        let body = substitute(body, &names)?;
        if !matches!(parse_body(&body), Some(Value::Dict(_))) {
            return Err(invalid(format!("font {n:?} is not a dictionary object")));
        }
        up.put(*id, body);
    }
    for (n, body, id) in &xobjects {
        let body = substitute(body, &names)?;
        if !matches!(parse_body(&body), Some(Value::Stream(_))) {
            return Err(invalid(format!("XObject {n:?} is not a stream object")));
        }
        up.put(*id, body);
    }
    for (i, body, id) in &extra {
        let body = substitute(body, &names)?;
        if parse_body(&body).is_none() {
            return Err(invalid(format!("extra object {i} is not one PDF object")));
        }
        up.put(*id, body);
    }
    let mut res = b"<<".to_vec();
    for (key, list) in [(&b"Font"[..], &fonts), (b"XObject", &xobjects)] {
        if list.is_empty() {
            continue;
        }
        res.push(b' ');
        res.extend_from_slice(&name(key));
        res.extend_from_slice(b" <<");
        for (n, _, id) in list.iter() {
            res.push(b' ');
            res.extend_from_slice(&name(n.as_bytes()));
            res.push(b' ');
            res.extend_from_slice(reference(*id).as_bytes());
        }
        res.extend_from_slice(b" >>");
    }
    res.extend_from_slice(b" >>");
    let mut body = format!(
        "<< /Type /XObject /Subtype /Form /BBox [0 0 {} {}] /Resources ",
        number(w),
        number(h)
    )
    .into_bytes();
    body.extend_from_slice(&res);
    body.extend_from_slice(format!(" /Length {} >>\nstream\n", app.content.len()).as_bytes());
    body.extend_from_slice(&app.content);
    body.extend_from_slice(b"\nendstream");
    up.put(form, body);
    Ok(form)
}

/// Replaces `{{kind:name}}` placeholders in the dictionary part of `body` (never in stream data).
fn substitute(body: &[u8], names: &HashMap<String, ObjId>) -> Result<Vec<u8>, SignPdfError> {
    let head_len = stream_keyword(body).unwrap_or(body.len());
    let (head, data) = body.split_at(head_len);
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while let Some(p) = head.get(i..).and_then(|h| pdf::find(h, b"{{")) {
        out.extend_from_slice(head.get(i..i + p).unwrap_or_default());
        let start = i + p + 2;
        let len = head
            .get(start..)
            .and_then(|h| pdf::find(h, b"}}"))
            .ok_or_else(|| invalid("unterminated {{ placeholder"))?;
        let key = String::from_utf8_lossy(head.get(start..start + len).unwrap_or_default());
        let id = names
            .get(key.as_ref())
            .ok_or_else(|| invalid(format!("unknown placeholder {{{{{key}}}}}")))?;
        out.extend_from_slice(reference(*id).as_bytes());
        i = start + len + 2;
    }
    out.extend_from_slice(head.get(i..).unwrap_or_default());
    out.extend_from_slice(data);
    Ok(out)
}

/// Offset of the `stream` keyword that follows a dictionary's `>>` (ISO 32000-2 7.3.8.1).
fn stream_keyword(body: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = body.get(from..).and_then(|b| pdf::find(b, b"stream")) {
        let at = from + i;
        let before = body.get(..at).unwrap_or_default();
        let trimmed = before.len()
            - before
                .iter()
                .rev()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
        let eol = matches!(body.get(at + 6), Some(b'\r' | b'\n'));
        if eol && before.get(..trimmed).is_some_and(|b| b.ends_with(b">>")) {
            return Some(at);
        }
        from = at + 6;
    }
    None
}

/// The existing signatures, and whether another one may be added (ISO 32000-2 12.8.2.2).
fn check_certification(
    doc: &PdfDocument<'_>,
    catalog: &Dict,
    req: &SignatureRequest,
) -> Result<Vec<pdf::SignatureField>, SignPdfError> {
    let sigs = doc.signatures().map_err(unreadable)?;
    let certified = sigs.iter().filter_map(|s| s.docmdp).min();
    if certified == Some(1) && req.kind == SignatureKind::Signature {
        return Err(SignPdfError::CertifiedNoChanges);
    }
    if req.certify.is_some() {
        let perms_docmdp = catalog.get(b"Perms").is_some_and(|p| match &p.value {
            Value::Dict(d) => d.get(b"DocMDP").is_some(),
            // An indirect /Perms is read when it is rewritten.
            _ => false,
        });
        if certified.is_some() || perms_docmdp {
            return Err(SignPdfError::AlreadyCertified);
        }
        if !sigs.is_empty() {
            return Err(invalid(
                "a certification signature must be the first signature of the document (ISO 32000-2 12.8.2.2.1)",
            ));
        }
    }
    Ok(sigs)
}

/// Whether an earlier signature's FieldMDP lock covers `field`.
fn locked(sigs: &[pdf::SignatureField], field: &str) -> bool {
    sigs.iter()
        .filter_map(|s| s.field_lock.as_ref())
        .any(|l| match l.action {
            pdf::LockAction::All => true,
            pdf::LockAction::Include => l.fields.iter().any(|f| f == field),
            pdf::LockAction::Exclude => !l.fields.iter().any(|f| f == field),
        })
}

/// Prepares the incremental update that adds a signature or document timestamp to `pdf`, with a
/// zero-filled /Contents placeholder. See the module documentation for what it writes.
pub fn prepare(pdf: &[u8], req: &SignatureRequest) -> Result<Prepared, SignPdfError> {
    check_request(req)?;
    let doc = open(pdf)?;
    let r = Reader::new(&doc);
    let root_id = doc
        .revisions()
        .last()
        .and_then(|l| l.trailer.get(b"Root"))
        .and_then(Obj::as_ref)
        .ok_or_else(|| unreadable("the trailer's /Root is not a reference"))?;
    let catalog = r
        .get(root_id)?
        .filter(|n| n.dict().is_some())
        .ok_or_else(|| unreadable("no document catalog"))?;
    let cat = catalog.dict().cloned().unwrap_or_default();
    let sigs = check_certification(&doc, &cat, req)?;

    let mut up = Update::new(&doc)?;
    let sig_id = up.alloc()?;
    let form: Option<Node> = match cat.get(b"AcroForm") {
        Some(o) => r.deref(o, &catalog.src)?.filter(|n| n.dict().is_some()),
        None => None,
    };
    let fields = field_tree(&r, form.as_ref())?;
    let mut catalog_edits: Vec<(&[u8], Vec<u8>)> = Vec::new();
    let mut new_annots: Vec<(ObjId, ObjId)> = Vec::new();

    let (new_field, field_mdp) = match &req.placement {
        Placement::Field(target) => {
            let f = fields
                .iter()
                .find(|f| f.named && &f.name == target)
                .ok_or_else(|| SignPdfError::FieldNotFound(target.clone()))?;
            if !f.is_sig {
                return Err(SignPdfError::FieldNotSignature(target.clone()));
            }
            let d = f.node.dict().cloned().unwrap_or_default();
            // Only a terminal field holds a value (ISO 32000-2 12.7.4.1): kids with /T are fields.
            let kids = match d.get(b"Kids") {
                Some(k) => r.array_refs(k, &f.node.src)?.unwrap_or_default(),
                None => Vec::new(),
            };
            if kids
                .iter()
                .any(|k| fields.iter().any(|x| x.id.0 == k.0 && x.named))
            {
                return Err(invalid(format!("field {target:?} is not a terminal field")));
            }
            if d.get(b"V").is_some_and(|v| !matches!(v.value, Value::Null)) {
                return Err(SignPdfError::FieldNotEmpty(target.clone()));
            }
            if locked(&sigs, target) {
                return Err(SignPdfError::FieldLocked(target.clone()));
            }
            fill_field(&r, &mut up, f, &fields, sig_id, req.appearance.as_deref())?;
            // The field's own /Lock is what its author asked for; a request overrides it.
            let mdp = match (&req.lock_fields, d.get(b"Lock")) {
                (Some(l), _) => Some(lock_entries(l)),
                (None, Some(l)) => existing_lock(&r, l, &f.node.src)?,
                (None, None) => None,
            };
            (None, mdp)
        }
        Placement::Invisible | Placement::Visible { .. } => {
            let pages = page_list(&r, &catalog)?;
            let (page_no, rect) = match &req.placement {
                Placement::Visible { page, rect } => (*page, Some(*rect)),
                _ => (1, None),
            };
            let page_id = page_no
                .checked_sub(1)
                .and_then(|i| pages.get(i))
                .copied()
                .ok_or(SignPdfError::PageOutOfRange {
                    page: page_no,
                    pages: pages.len(),
                })?;
            let taken: HashSet<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            let field_name = unique_name(&req.field_name, &taken);
            let field_id = up.alloc()?;
            let mut w = b"<< /Type /Annot /Subtype /Widget /FT /Sig /T ".to_vec();
            w.extend_from_slice(&text_string(&field_name));
            w.extend_from_slice(format!(" /V {} /F 132", reference(sig_id)).as_bytes());
            match rect {
                Some([x, y, rw, rh]) => {
                    w.extend_from_slice(
                        format!(
                            " /Rect [{} {} {} {}]",
                            number(x),
                            number(y),
                            number(x + rw),
                            number(y + rh)
                        )
                        .as_bytes(),
                    );
                }
                None => w.extend_from_slice(b" /Rect [0 0 0 0]"),
            }
            w.extend_from_slice(format!(" /P {}", reference(page_id)).as_bytes());
            if let Some([_, _, rw, rh]) = rect {
                let ap = appearance_objects(&mut up, req.appearance.as_deref(), rw, rh)?;
                w.extend_from_slice(format!(" /AP << /N {} >>", reference(ap)).as_bytes());
            }
            let mdp = req.lock_fields.as_deref().map(lock_entries);
            if let Some(entries) = &mdp {
                let lock = up.alloc()?;
                let mut l = b"<< /Type /SigFieldLock ".to_vec();
                l.extend_from_slice(entries);
                l.extend_from_slice(b" >>");
                up.put(lock, l);
                w.extend_from_slice(format!(" /Lock {}", reference(lock)).as_bytes());
            }
            w.extend_from_slice(b" >>");
            up.put(field_id, w);
            new_annots.push((page_id, field_id));
            (Some(field_id), mdp)
        }
    };

    // Stamps (the QR code on a page), only into a document that carries no signature yet.
    if !req.stamps.is_empty() {
        if !sigs.is_empty() {
            return Err(SignPdfError::StampOnSignedDocument);
        }
        let pages = page_list(&r, &catalog)?;
        for st in &req.stamps {
            let n = pages.len() as i64;
            let idx = if st.page < 0 {
                n + st.page
            } else {
                st.page - 1
            };
            let page_id = usize::try_from(idx)
                .ok()
                .and_then(|i| pages.get(i))
                .copied()
                .ok_or(SignPdfError::PageOutOfRange {
                    page: usize::try_from(st.page.unsigned_abs()).unwrap_or(usize::MAX),
                    pages: pages.len(),
                })?;
            let [x, y, sw, sh] = st.rect;
            if !(sw > 0.0 && sh > 0.0 && x.is_finite() && y.is_finite()) {
                return Err(invalid("a stamp needs a positive width and height"));
            }
            let ap = appearance_objects(&mut up, Some(st.appearance.as_ref()), sw, sh)?;
            let id = up.alloc()?;
            let mut a = format!(
                "<< /Type /Annot /Subtype /Stamp /Rect [{} {} {} {}] /F 4 /P {} /AP << /N {} >> /Contents ",
                number(x),
                number(y),
                number(x + sw),
                number(y + sh),
                reference(page_id),
                reference(ap)
            )
            .into_bytes();
            a.extend_from_slice(&text_string(&st.alt_text));
            a.extend_from_slice(b" >>");
            up.put(id, a);
            new_annots.push((page_id, id));
        }
    }
    // Each page's /Annots is rewritten once, with all its new annotations.
    let mut by_page: Vec<(ObjId, Vec<ObjId>)> = Vec::new();
    for (page, annot) in new_annots {
        match by_page.iter_mut().find(|(p, _)| *p == page) {
            Some((_, list)) => list.push(annot),
            None => by_page.push((page, vec![annot])),
        }
    }
    for (page, annots) in &by_page {
        add_annot(&r, &mut up, *page, annots)?;
    }

    // The form: the new field in /Fields, /SigFlags SignaturesExist | AppendOnly (Table 225).
    form_update(
        &r,
        &mut up,
        &catalog,
        form.as_ref(),
        new_field,
        &mut catalog_edits,
    )?;

    if req.certify.is_some() {
        let perms = format!("/DocMDP {}", reference(sig_id)).into_bytes();
        match cat.get(b"Perms") {
            None => {
                catalog_edits.push((b"Perms", [b"<< ".to_vec(), perms, b" >>".to_vec()].concat()))
            }
            Some(p) => {
                let node = r
                    .deref(p, &catalog.src)?
                    .filter(|n| n.dict().is_some())
                    .ok_or_else(|| invalid("the catalog's /Perms is not a dictionary"))?;
                if node.dict().is_some_and(|d| d.get(b"DocMDP").is_some()) {
                    return Err(SignPdfError::AlreadyCertified);
                }
                let edited = edit_dict(&r, &node, &[(b"DocMDP", reference(sig_id).into_bytes())])?;
                match node.id {
                    Some(id) => up.put(id, edited),
                    None => catalog_edits.push((b"Perms", edited)),
                }
            }
        }
    }
    if !catalog_edits.is_empty() {
        let body = edit_dict(&r, &catalog, &catalog_edits)?;
        up.put(root_id, body);
    }

    let sig = sig_dict(req, root_id, field_mdp.as_deref())?;
    up.put(sig_id, sig.body.clone());
    check_warnings(&doc)?;
    let (mut bytes, bodies) = up.write(&doc)?;
    let body_at = *bodies
        .get(&sig_id.0)
        .ok_or_else(|| invalid("signature dictionary not written"))?;
    let a = body_at + sig.contents_at;
    let b = a + 2 * req.contents_capacity + 2;
    let c = bytes.len() - b;
    let mut br = format!("[0 {a} {b} {c}").into_bytes();
    if br.len() + 1 > sig.byte_range_len {
        return Err(invalid("file too large for the /ByteRange placeholder"));
    }
    br.resize(sig.byte_range_len - 1, b' ');
    br.push(b']');
    let at = body_at + sig.byte_range_at;
    bytes
        .get_mut(at..at + sig.byte_range_len)
        .ok_or_else(|| invalid("placeholder outside the file"))?
        .copy_from_slice(&br);
    Ok(Prepared {
        bytes,
        byte_range: [0, a, b, c],
        capacity: req.contents_capacity,
    })
}

/// TransformParams entries copied from an existing field's /Lock dictionary.
fn existing_lock(
    r: &Reader<'_, '_>,
    lock: &Obj,
    src: &Src,
) -> Result<Option<Vec<u8>>, SignPdfError> {
    let Some(node) = r.deref(lock, src)? else {
        return Ok(None);
    };
    let Some(d) = node.dict() else {
        return Ok(None);
    };
    let Some(action) = d.get(b"Action").filter(|a| a.as_name().is_some()) else {
        return Ok(None);
    };
    let mut out = b"/Action ".to_vec();
    out.extend_from_slice(&r.raw(&node.src, action)?);
    if let Some(f) = d.get(b"Fields") {
        if let Some(arr) = r
            .deref(f, &node.src)?
            .filter(|n| n.obj.as_array().is_some())
        {
            out.extend_from_slice(b" /Fields ");
            out.extend_from_slice(&r.raw(&arr.src, &arr.obj)?);
        }
    }
    Ok(Some(out))
}

/// Fills an existing empty signature field: /V on the field, /AP on its widget (the field itself
/// when merged, else its first widget kid, and then only when an appearance is given).
fn fill_field(
    r: &Reader<'_, '_>,
    up: &mut Update,
    f: &Field,
    fields: &[Field],
    sig_id: ObjId,
    app: Option<&dyn AppearanceSource>,
) -> Result<(), SignPdfError> {
    let d = f.node.dict().cloned().unwrap_or_default();
    let is_widget =
        |d: &Dict| d.get_name(b"Subtype") == Some(b"Widget") || d.get(b"Rect").is_some();
    let widget: Option<&Field> = if is_widget(&d) {
        Some(f)
    } else {
        let kids = match d.get(b"Kids") {
            Some(k) => r.array_refs(k, &f.node.src)?.unwrap_or_default(),
            None => Vec::new(),
        };
        kids.iter()
            .find_map(|k| fields.iter().find(|x| x.id.0 == k.0 && !x.named))
            .filter(|x| x.node.dict().is_some_and(is_widget))
    };
    let ap = match widget {
        Some(wf) => {
            let rect: Vec<f64> = wf
                .node
                .dict()
                .and_then(|d| d.get(b"Rect"))
                .and_then(Obj::as_array)
                .map(|a| a.iter().filter_map(num).collect())
                .unwrap_or_default();
            let (w, h) = match rect.as_slice() {
                [x0, y0, x1, y1] => ((x1 - x0).abs(), (y1 - y0).abs()),
                _ => (0.0, 0.0),
            };
            // A zero-size widget paints nothing: no appearance unless one is asked for. A
            // separate widget keeps the appearance it has unless one is asked for: validators
            // judge the filling of a field by the field object (pyHanko 0.38 accepts an /AP only
            // there).
            let merged = wf.id.0 == f.id.0;
            if app.is_some() || (merged && w > 0.0 && h > 0.0) {
                Some((wf, appearance_objects(up, app, w, h)?))
            } else {
                None
            }
        }
        None => None,
    };
    let v = reference(sig_id).into_bytes();
    match ap {
        Some((wf, ap_id)) if wf.id.0 == f.id.0 => {
            let ap = format!("<< /N {} >>", reference(ap_id)).into_bytes();
            up.put(f.id, edit_dict(r, &f.node, &[(b"V", v), (b"AP", ap)])?);
        }
        Some((wf, ap_id)) => {
            up.put(f.id, edit_dict(r, &f.node, &[(b"V", v)])?);
            let ap = format!("<< /N {} >>", reference(ap_id)).into_bytes();
            up.put(wf.id, edit_dict(r, &wf.node, &[(b"AP", ap)])?);
        }
        None => up.put(f.id, edit_dict(r, &f.node, &[(b"V", v)])?),
    }
    Ok(())
}

fn num(o: &Obj) -> Option<f64> {
    match o.value {
        Value::Int(i) => Some(i as f64),
        Value::Real(x) if x.is_finite() => Some(x),
        _ => None,
    }
}

/// Appends the widget to the page's /Annots: the page rewritten with /Annots added or extended, or
/// the /Annots array object rewritten when the page refers to one.
fn add_annot(
    r: &Reader<'_, '_>,
    up: &mut Update,
    page_id: ObjId,
    widget: &[ObjId],
) -> Result<(), SignPdfError> {
    let page = r
        .get(page_id)?
        .filter(|n| n.dict().is_some())
        .ok_or_else(|| unreadable("page object missing"))?;
    let annots = page.dict().and_then(|d| d.get(b"Annots")).cloned();
    let new_page = match annots {
        None => edit_dict(r, &page, &[(b"Annots", ref_array(widget))])?,
        Some(a) => match r.deref(&a, &page.src)? {
            Some(n) if n.obj.as_array().is_some() => match n.id {
                Some(id) => {
                    let arr = append_refs(r, &n, widget)?;
                    up.put(id, arr);
                    return Ok(());
                }
                None => edit_dict(r, &page, &[(b"Annots", append_refs(r, &n, widget)?)])?,
            },
            // Null or a dangling reference: no annotations yet.
            None => edit_dict(r, &page, &[(b"Annots", ref_array(widget))])?,
            Some(n) if matches!(n.obj.value, Value::Null) => {
                edit_dict(r, &page, &[(b"Annots", ref_array(widget))])?
            }
            Some(_) => return Err(invalid("the page's /Annots is not an array")),
        },
    };
    up.put(page_id, new_page);
    Ok(())
}

/// Adds `new_field` to the form's /Fields and sets /SigFlags 3, creating the form if needed; an
/// indirect form (or /Fields array) is rewritten in place, a direct one through the catalog.
fn form_update(
    r: &Reader<'_, '_>,
    up: &mut Update,
    catalog: &Node,
    form: Option<&Node>,
    new_field: Option<ObjId>,
    catalog_edits: &mut Vec<(&'static [u8], Vec<u8>)>,
) -> Result<(), SignPdfError> {
    let Some(form) = form else {
        let fields = new_field
            .map(|f| ref_array(&[f]))
            .unwrap_or_else(|| b"[]".to_vec());
        catalog_edits.push((
            b"AcroForm",
            [b"<< /Fields ".to_vec(), fields, b" /SigFlags 3 >>".to_vec()].concat(),
        ));
        return Ok(());
    };
    let d = form.dict().cloned().unwrap_or_default();
    let mut edits: Vec<(&[u8], Vec<u8>)> = Vec::new();
    if let Some(f) = new_field {
        match d.get(b"Fields") {
            None => edits.push((b"Fields", ref_array(&[f]))),
            Some(o) => match r.deref(o, &form.src)? {
                Some(n) if n.obj.as_array().is_some() => match n.id {
                    Some(id) => up.put(id, append_refs(r, &n, &[f])?),
                    None => edits.push((b"Fields", append_refs(r, &n, &[f])?)),
                },
                _ => return Err(invalid("the form's /Fields is not an array")),
            },
        }
    }
    let flags = d.get_int(b"SigFlags").unwrap_or(0);
    if flags & 3 != 3 || !matches!(d.get(b"SigFlags").map(|o| &o.value), Some(Value::Int(_))) {
        edits.push((b"SigFlags", (flags.max(0) | 3).to_string().into_bytes()));
    }
    if edits.is_empty() {
        return Ok(());
    }
    let body = edit_dict(r, form, &edits)?;
    match form.id {
        Some(id) if id.0 != catalog.id.map_or(0, |c| c.0) => up.put(id, body),
        _ => catalog_edits.push((b"AcroForm", body)),
    }
    Ok(())
}

// --- The DSS -----------------------------------------------------------------------------------

/// One DSS array (/Certs, /CRLs or /OCSPs) being merged.
struct DssArray {
    refs: Vec<ObjId>,
    by_content: HashMap<Vec<u8>, ObjId>,
}

impl DssArray {
    fn read(r: &Reader<'_, '_>, dss: Option<&Node>, key: &[u8]) -> Result<Self, SignPdfError> {
        let mut out = DssArray {
            refs: Vec::new(),
            by_content: HashMap::new(),
        };
        let Some(dss) = dss else { return Ok(out) };
        let Some(o) = dss.dict().and_then(|d| d.get(key)) else {
            return Ok(out);
        };
        out.refs = r.array_refs(o, &dss.src)?.unwrap_or_default();
        for id in &out.refs {
            if let Some(Node {
                obj:
                    Obj {
                        value: Value::Stream(s),
                        ..
                    },
                ..
            }) = r.get(*id)?
            {
                let data = r.doc.stream_data(&s).map_err(unreadable)?;
                out.by_content.entry(data).or_insert(*id);
            }
        }
        Ok(out)
    }

    /// The reference for `der`: an existing stream with the same content, else a new one.
    fn add(&mut self, up: &mut Update, der: &[u8]) -> Result<ObjId, SignPdfError> {
        if let Some(id) = self.by_content.get(der) {
            return Ok(*id);
        }
        let id = up.alloc()?;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(der).map_err(|e| invalid(e.to_string()))?;
        let data = z.finish().map_err(|e| invalid(e.to_string()))?;
        let mut body = format!(
            "<< /Filter /FlateDecode /Length {} >>\nstream\n",
            data.len()
        )
        .into_bytes();
        body.extend_from_slice(&data);
        body.extend_from_slice(b"\nendstream");
        up.put(id, body);
        self.refs.push(id);
        self.by_content.insert(der.to_vec(), id);
        Ok(id)
    }
}

fn push_unique(list: &mut Vec<ObjId>, id: ObjId) {
    if !list.contains(&id) {
        list.push(id);
    }
}

/// Adds validation data in an incremental update: new /Certs, /CRLs and /OCSPs streams (Flate) for
/// content not already in the DSS, existing entries kept by reference, and a /VRI entry per
/// signature (merged into an existing one with the same key). Returns the file unchanged when
/// there is nothing new.
pub fn add_dss(pdf: &[u8], dss: &DssData) -> Result<Vec<u8>, SignPdfError> {
    for v in &dss.vri {
        let bad = v.certs.iter().any(|&i| i >= dss.certs.len())
            || v.crls.iter().any(|&i| i >= dss.crls.len())
            || v.ocsps.iter().any(|&i| i >= dss.ocsps.len());
        if bad {
            return Err(invalid(
                "a VRI entry refers to an item DssData does not hold",
            ));
        }
        if v.signature_contents.is_empty() {
            return Err(invalid("a VRI entry has no signature contents"));
        }
    }
    let doc = open(pdf)?;
    let r = Reader::new(&doc);
    let root_id = doc
        .revisions()
        .last()
        .and_then(|l| l.trailer.get(b"Root"))
        .and_then(Obj::as_ref)
        .ok_or_else(|| unreadable("the trailer's /Root is not a reference"))?;
    let catalog = r
        .get(root_id)?
        .filter(|n| n.dict().is_some())
        .ok_or_else(|| unreadable("no document catalog"))?;
    let existing: Option<Node> = match catalog.dict().and_then(|d| d.get(b"DSS")) {
        Some(o) => r.deref(o, &catalog.src)?.filter(|n| n.dict().is_some()),
        None => None,
    };
    let mut up = Update::new(&doc)?;
    let mut certs = DssArray::read(&r, existing.as_ref(), b"Certs")?;
    let mut crls = DssArray::read(&r, existing.as_ref(), b"CRLs")?;
    let mut ocsps = DssArray::read(&r, existing.as_ref(), b"OCSPs")?;
    let before = (certs.refs.len(), crls.refs.len(), ocsps.refs.len());
    let cert_ids = dss
        .certs
        .iter()
        .map(|d| certs.add(&mut up, d))
        .collect::<Result<Vec<_>, _>>()?;
    let crl_ids = dss
        .crls
        .iter()
        .map(|d| crls.add(&mut up, d))
        .collect::<Result<Vec<_>, _>>()?;
    let ocsp_ids = dss
        .ocsps
        .iter()
        .map(|d| ocsps.add(&mut up, d))
        .collect::<Result<Vec<_>, _>>()?;

    // The existing VRI entries, kept as written; new keys in request order.
    let vri_node: Option<Node> = match existing.as_ref().and_then(|n| n.dict().map(|d| (n, d))) {
        Some((n, d)) => match d.get(b"VRI") {
            Some(v) => r.deref(v, &n.src)?.filter(|v| v.dict().is_some()),
            None => None,
        },
        None => None,
    };
    let mut vri: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    if let Some(v) = &vri_node {
        for (k, val) in v.dict().map(|d| d.entries.as_slice()).unwrap_or_default() {
            vri.push((k.clone(), r.raw(&v.src, val)?));
        }
    }
    let sigs = doc.signatures().map_err(unreadable)?;
    let mut wanted: Vec<(Vec<u8>, [Vec<ObjId>; 3])> = Vec::new();
    for v in &dss.vri {
        let given = v.signature_contents.as_slice();
        let stored = sigs
            .iter()
            .map(|s| s.contents.as_slice())
            .find(|c| {
                c.strip_prefix(given)
                    .is_some_and(|pad| pad.iter().all(|&b| b == 0))
            })
            .unwrap_or(given);
        let key = hex::encode_upper(openssl::sha::sha1(stored)).into_bytes();
        let slot = match wanted.iter_mut().position(|(k, _)| *k == key) {
            Some(i) => &mut wanted[i].1,
            None => {
                wanted.push((key, Default::default()));
                &mut wanted.last_mut().ok_or_else(|| invalid("VRI"))?.1
            }
        };
        for (list, idx, ids) in [
            (0, &v.certs, &cert_ids),
            (1, &v.crls, &crl_ids),
            (2, &v.ocsps, &ocsp_ids),
        ] {
            for &i in idx {
                if let Some(id) = ids.get(i) {
                    push_unique(&mut slot[list], *id);
                }
            }
        }
    }
    let mut vri_changed = false;
    for (key, lists) in &wanted {
        let old = vri_node.as_ref().and_then(|v| {
            v.dict()
                .and_then(|d| d.get(key))
                .map(|o| (o.clone(), v.src.clone()))
        });
        let old = match old {
            Some((o, src)) => r.deref(&o, &src)?.filter(|n| n.dict().is_some()),
            None => None,
        };
        let mut edits: Vec<(&[u8], Vec<u8>)> = Vec::new();
        let mut changed = old.is_none();
        for (k, new) in [
            (&b"Cert"[..], &lists[0]),
            (b"CRL", &lists[1]),
            (b"OCSP", &lists[2]),
        ] {
            let mut refs = match old
                .as_ref()
                .and_then(|n| n.dict().and_then(|d| d.get(k)).map(|o| (o, n)))
            {
                Some((o, n)) => r.array_refs(o, &n.src)?.unwrap_or_default(),
                None => Vec::new(),
            };
            let had = refs.len();
            for id in new {
                push_unique(&mut refs, *id);
            }
            if refs.len() != had {
                changed = true;
                edits.push((k, ref_array(&refs)));
            }
        }
        if !changed {
            continue;
        }
        vri_changed = true;
        let body = match &old {
            Some(n) => edit_dict(&r, n, &edits)?,
            None => {
                let mut b = b"<<".to_vec();
                for (k, v) in &edits {
                    b.push(b' ');
                    b.extend_from_slice(&name(k));
                    b.push(b' ');
                    b.extend_from_slice(v);
                }
                b.extend_from_slice(b" >>");
                b
            }
        };
        match vri.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = body,
            None => vri.push((key.clone(), body)),
        }
    }
    let after = (certs.refs.len(), crls.refs.len(), ocsps.refs.len());
    if after == before && !vri_changed {
        return Ok(pdf.to_vec());
    }

    let mut edits: Vec<(&[u8], Vec<u8>)> = Vec::new();
    for (k, a, old_len) in [
        (&b"Certs"[..], &certs, before.0),
        (b"CRLs", &crls, before.1),
        (b"OCSPs", &ocsps, before.2),
    ] {
        if a.refs.len() != old_len {
            edits.push((k, ref_array(&a.refs)));
        }
    }
    if vri_changed {
        let mut b = b"<<".to_vec();
        for (k, v) in &vri {
            b.push(b' ');
            b.extend_from_slice(&name(k));
            b.push(b' ');
            b.extend_from_slice(v);
        }
        b.extend_from_slice(b" >>");
        edits.push((b"VRI", b));
    }
    match &existing {
        Some(n) => {
            let body = edit_dict(&r, n, &edits)?;
            match n.id {
                Some(id) if id.0 != root_id.0 => up.put(id, body),
                _ => {
                    let id = up.alloc()?;
                    up.put(id, body);
                    let cat = edit_dict(&r, &catalog, &[(b"DSS", reference(id).into_bytes())])?;
                    up.put(root_id, cat);
                }
            }
        }
        None => {
            let id = up.alloc()?;
            let mut b = b"<< /Type /DSS".to_vec();
            for (k, v) in &edits {
                b.push(b' ');
                b.extend_from_slice(&name(k));
                b.push(b' ');
                b.extend_from_slice(v);
            }
            b.extend_from_slice(b" >>");
            up.put(id, b);
            let cat = edit_dict(&r, &catalog, &[(b"DSS", reference(id).into_bytes())])?;
            up.put(root_id, cat);
        }
    }
    check_warnings(&doc)?;
    let (bytes, _) = up.write(&doc)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_escape_irregular_bytes() {
        assert_eq!(name(b"F1"), b"/F1");
        assert_eq!(name(b"A B#(x)"), b"/A#20B#23#28x#29");
    }

    #[test]
    fn text_strings_are_pdfdoc_or_utf16() {
        assert_eq!(text_string("An (x)\\"), b"(An \\(x\\)\\\\)");
        assert_eq!(text_string("Ấn"), b"<FEFF1EA4006E>");
        assert_eq!(pdf::decode_text(b"\xFE\xFF\x1E\xA4\x00n"), "Ấn");
    }

    #[test]
    fn numbers_have_no_exponent() {
        assert_eq!(number(595.0), "595");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(-0.00001), "0");
        assert_eq!(number(1e21), "1000000000000000000000");
        assert_eq!(number(12.34567), "12.3457");
    }

    #[test]
    fn dates_are_vietnam_time() {
        let t = time::macros::datetime!(2026-11-22 20:01:02 UTC);
        assert_eq!(pdf_date(t).unwrap(), "D:20261123030102+07'00'");
    }

    #[test]
    fn unique_names_count_up() {
        let taken: HashSet<&str> = ["Signature1", "Signature2", "Sig", "Ký"]
            .into_iter()
            .collect();
        assert_eq!(unique_name("Signature1", &taken), "Signature3");
        assert_eq!(unique_name("Sig", &taken), "Sig2");
        assert_eq!(unique_name("Ký", &taken), "Ký2");
        assert_eq!(unique_name("Other", &taken), "Other");
    }

    #[test]
    fn placeholders_replace_only_outside_stream_data() {
        let names: HashMap<String, ObjId> = [
            ("obj:0".to_owned(), (12, 0)),
            ("font:F1".to_owned(), (9, 0)),
        ]
        .into_iter()
        .collect();
        let body = b"<< /SMask {{obj:0}} /F {{font:F1}} /Length 9 >>\nstream\n{{obj:0}}\nendstream";
        let out = substitute(body, &names).unwrap();
        assert_eq!(
            out,
            b"<< /SMask 12 0 R /F 9 0 R /Length 9 >>\nstream\n{{obj:0}}\nendstream"
        );
        assert!(substitute(b"<< /A {{obj:7}} >>", &names).is_err());
        assert!(substitute(b"<< /A {{obj:0 >>", &names).is_err());
    }

    #[test]
    fn bodies_must_be_one_object() {
        assert!(matches!(parse_body(b"<< /A 1 >>"), Some(Value::Dict(_))));
        assert!(matches!(
            parse_body(b"<< /Length 3 >>\nstream\nabc\nendstream"),
            Some(Value::Stream(_))
        ));
        assert!(parse_body(b"<< /A 1 >> junk").is_none());
        assert!(parse_body(b"<< /A 1").is_none());
    }

    #[test]
    fn runs_group_consecutive_numbers() {
        let ids = [
            ((3, 0), 0),
            ((7, 0), 0),
            ((8, 0), 0),
            ((9, 0), 0),
            ((11, 0), 0),
        ];
        assert_eq!(runs(&ids), vec![(3, 1), (7, 3), (11, 1)]);
    }

    #[test]
    fn dictionaries_are_edited_in_place() {
        let head = "%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [] >> >>\nendobj\n";
        let file = format!(
            "{head}xref\n0 2\n0000000000 65535 f \n0000000009 00000 n \ntrailer\n<< /Size 2 /Root 1 0 R >>\nstartxref\n{}\n%%EOF\n",
            head.len()
        );
        let doc = pdf::parse(file.as_bytes(), &pdf::Limits::default()).unwrap();
        let r = Reader::new(&doc);
        let cat = r.get((1, 0)).unwrap().unwrap();
        let out = edit_dict(
            &r,
            &cat,
            &[
                (b"AcroForm", b"5 0 R".to_vec()),
                (b"Perms", b"<< >>".to_vec()),
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            b"<< /Type /Catalog /Pages 2 0 R /AcroForm 5 0 R  /Perms << >> >>".to_vec()
        );
    }
}
