//! Change analysis: what each incremental update changed, object by object, judged against an
//! explicit whitelist (signature-validation.md; ISO 32000-2 12.8.2.2 DocMDP, 12.8.2.4 FieldMDP;
//! ETSI EN 319 142-1 5.4 for validation data). The whitelist is the defence: anything not on it is
//! DISALLOWED, whatever attack it belongs to.
//!
//! Always permitted: validation data (the DSS, its VRI and their streams, the catalog's /DSS and
//! /Extensions), document metadata (the Info dictionary, the catalog's /Metadata), a new signature or
//! document timestamp in a new or empty signature field, with its widget, its appearance and the
//! AcroForm bookkeeping (/Fields, /SigFlags, new /DR resources). Under a certification signature's
//! DocMDP /P 1 only validation data and document timestamps. Form filling (a field's /V with its
//! appearance) unless /P 1 or a FieldMDP lock forbids it. Annotations: only under /P 3 or without a
//! certification signature, and never ones that cover page content (evil annotation); the same for
//! the widgets of new signature fields in certified documents (sneaky signature).
//!
//! Pure: it reads the parsed document and never the clock, the network or the database.

use std::collections::{HashMap, HashSet};

use crate::pdf::{self, Dict, Obj, ObjId, Value};

/// Bounds every walk through an attacker-shaped graph.
const MAX_WALK: usize = 200_000;
/// Bounds the content operators read to estimate what a page paints.
const MAX_CONTENT_OPS: usize = 2_000_000;

/// How much an update changed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Level {
    /// Nothing but file structure.
    None,
    /// Only changes on the whitelist.
    Permitted,
    /// At least one change not on the whitelist.
    Disallowed,
}

/// What kind of change an object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChangeKind {
    ValidationData,
    Metadata,
    Signature,
    DocumentTimestamp,
    SignatureField,
    FormFill,
    Annotation,
    PageAdded,
    PageRemoved,
    PageContent,
    Catalog,
    FormStructure,
    ObjectRedefined,
    ObjectDeleted,
    Structure,
}

/// One changed object and the verdict on it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Change {
    pub object: Option<String>,
    pub kind: ChangeKind,
    pub allowed: bool,
    /// 1-based page number, when the change is on a page.
    pub page: Option<usize>,
    /// The field's fully qualified name, when the change is a field.
    pub field: Option<String>,
    /// In English, for the report.
    pub detail: String,
}

/// The changes one incremental update made (`revision` is 1-based, as in the report).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RevisionDiff {
    pub revision: usize,
    pub level: Level,
    /// The DocMDP /P in force for this update (from a certification signature before it).
    pub docmdp: Option<u8>,
    pub changes: Vec<Change>,
}

impl RevisionDiff {
    pub fn disallowed(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| !c.allowed)
    }
}

/// The constraints in force for an update: from the signatures made before it.
#[derive(Debug, Clone, Default)]
struct Constraints {
    docmdp: Option<u8>,
    /// Locked field names (`None` = all fields).
    locked: Vec<Option<Vec<String>>>,
    /// Exclusions: every field except these is locked.
    locked_except: Vec<Vec<String>>,
}

impl Constraints {
    fn field_locked(&self, name: &str) -> bool {
        self.locked.iter().any(|l| match l {
            None => true,
            Some(names) => names.iter().any(|n| n == name),
        }) || self
            .locked_except
            .iter()
            .any(|ex| !ex.iter().any(|n| n == name))
    }
}

/// Analyses every update after the first signed revision. `fields` are the signatures found.
pub fn analyse(doc: &pdf::PdfDocument<'_>, fields: &[pdf::SignatureField]) -> Vec<RevisionDiff> {
    let revisions = doc.revisions().len();
    let signed: Vec<(usize, &pdf::SignatureField)> = fields
        .iter()
        .filter_map(|f| match &f.coverage {
            pdf::Coverage::WholeFile => Some((revisions.saturating_sub(1), f)),
            pdf::Coverage::Revision { revision, .. } => Some((*revision, f)),
            pdf::Coverage::NonStandard(_) => None,
        })
        .collect();
    let Some(first) = signed.iter().map(|(r, _)| *r).min() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for u in (first + 1)..revisions {
        let mut c = Constraints::default();
        for (rev, f) in &signed {
            if *rev < u {
                if let Some(p) = f.docmdp {
                    c.docmdp = Some(c.docmdp.map_or(p, |q: u8| q.min(p)));
                }
                if let Some(lock) = &f.field_lock {
                    match lock.action {
                        pdf::LockAction::All => c.locked.push(None),
                        pdf::LockAction::Include => c.locked.push(Some(lock.fields.clone())),
                        pdf::LockAction::Exclude => c.locked_except.push(lock.fields.clone()),
                    }
                }
            }
        }
        let mut d = analyse_update(doc, u, &c);
        if let Some(r) = doc.revisions().get(u) {
            let bad = r.hybrid_disagreements(doc.bytes());
            if !bad.is_empty() {
                d.changes.push(Change {
                    object: bad.first().map(|n| id_str((*n, 0))),
                    kind: ChangeKind::Structure,
                    allowed: false,
                    page: None,
                    field: None,
                    detail: format!(
                        "the cross-reference table and stream of this update disagree about {} object(s)",
                        bad.len()
                    ),
                });
                d.level = Level::Disallowed;
            }
        }
        out.push(d);
    }
    // Bytes after the last complete revision: an update without a usable xref section or trailer
    // (what a naive reader may still show).
    // Junk that holds no PDF objects (some writers pad files) is reported but harmless.
    for w in doc.warnings() {
        if let pdf::Warning::TrailingData { offset } = w {
            let tail = doc.bytes().get(offset..).unwrap_or_default();
            let holds_objects = [&b"obj"[..], b"stream", b"trailer", b"xref"]
                .iter()
                .any(|kw| tail.windows(kw.len()).any(|w| w == *kw));
            let n = tail.len();
            out.push(RevisionDiff {
                revision: revisions + 1,
                level: if holds_objects {
                    Level::Disallowed
                } else {
                    Level::Permitted
                },
                docmdp: None,
                changes: vec![Change {
                    object: None,
                    kind: ChangeKind::Structure,
                    allowed: !holds_objects,
                    page: None,
                    field: None,
                    detail: if holds_objects {
                        format!(
                            "{n} byte(s) of PDF objects after the last complete revision (offset {offset}): an update without a valid cross-reference section or trailer"
                        )
                    } else {
                        format!("{n} byte(s) of trailing data without PDF objects, ignored")
                    },
                }],
            });
        }
    }
    out
}

/// What one revision holds, for comparing it with the next.
struct View {
    root: Option<ObjId>,
    pages: Vec<ObjId>,
    page_tree_nodes: HashSet<ObjId>,
    /// Field id -> (fully qualified name, is a signature field, has a value).
    fields: HashMap<ObjId, FieldInfo>,
    acroform: Option<ObjId>,
    dss: HashSet<ObjId>,
    info: Option<ObjId>,
    /// The catalog's XMP metadata stream.
    metadata: Option<ObjId>,
    /// Pages whose /Annots is an indirect array: the array's id -> the page.
    annots_arrays: HashMap<ObjId, ObjId>,
    /// The AcroForm's /Fields when it is an indirect array.
    fields_array: Option<ObjId>,
    /// Every annotation id on each page.
    annots: HashMap<ObjId, Vec<ObjId>>,
}

#[derive(Debug, Clone)]
struct FieldInfo {
    name: String,
    is_sig: bool,
}

fn view(doc: &pdf::PdfDocument<'_>, rev: usize) -> View {
    let trailer = doc.revisions().get(rev).map(|r| r.trailer.clone());
    let root = trailer
        .as_ref()
        .and_then(|t| t.get(b"Root"))
        .and_then(Obj::as_ref);
    let info = trailer
        .as_ref()
        .and_then(|t| t.get(b"Info"))
        .and_then(Obj::as_ref);
    let catalog = doc.catalog(rev).unwrap_or_default();
    let (pages, page_tree_nodes) = page_list(doc, rev, &catalog);
    let mut annots = HashMap::new();
    let mut annots_arrays = HashMap::new();
    for p in &pages {
        if let Some(d) = object_dict(doc, rev, *p) {
            annots.insert(*p, refs_in_array(doc, rev, d.get(b"Annots")));
            if let Some(arr) = d.get(b"Annots").and_then(Obj::as_ref) {
                annots_arrays.insert(arr, *p);
            }
        }
    }
    let fields_array = resolve_dict(doc, rev, catalog.get(b"AcroForm"))
        .and_then(|f| f.get(b"Fields").and_then(Obj::as_ref));
    let acroform = catalog.get(b"AcroForm").and_then(Obj::as_ref);
    let metadata = catalog.get(b"Metadata").and_then(Obj::as_ref);
    let fields = field_tree(doc, rev, &catalog);
    View {
        root,
        dss: dss_closure(doc, rev, &catalog),
        pages,
        page_tree_nodes,
        fields,
        acroform,
        info,
        metadata,
        annots_arrays,
        fields_array,
        annots,
    }
}

fn object_dict(doc: &pdf::PdfDocument<'_>, rev: usize, id: ObjId) -> Option<Dict> {
    match doc.object(rev, id).ok().flatten()?.obj.value {
        Value::Dict(d) => Some(d),
        Value::Stream(s) => Some(s.dict),
        _ => None,
    }
}

fn resolve_dict(doc: &pdf::PdfDocument<'_>, rev: usize, obj: Option<&Obj>) -> Option<Dict> {
    let obj = obj?;
    match &obj.value {
        Value::Dict(d) => Some(d.clone()),
        Value::Ref(id) => object_dict(doc, rev, *id),
        _ => None,
    }
}

fn refs_in_array(doc: &pdf::PdfDocument<'_>, rev: usize, obj: Option<&Obj>) -> Vec<ObjId> {
    let Some(obj) = obj else { return Vec::new() };
    let arr = match &obj.value {
        Value::Array(a) => a.clone(),
        Value::Ref(_) => match doc.resolve(rev, obj) {
            Ok(Obj {
                value: Value::Array(a),
                ..
            }) => a,
            _ => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    arr.iter().filter_map(Obj::as_ref).collect()
}

/// The pages in order and the page tree's interior nodes (bounded, cycle-safe).
fn page_list(
    doc: &pdf::PdfDocument<'_>,
    rev: usize,
    catalog: &Dict,
) -> (Vec<ObjId>, HashSet<ObjId>) {
    let mut pages = Vec::new();
    let mut nodes = HashSet::new();
    let mut seen = HashSet::new();
    let mut stack: Vec<ObjId> = catalog
        .get(b"Pages")
        .and_then(Obj::as_ref)
        .into_iter()
        .collect();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) || seen.len() > MAX_WALK {
            continue;
        }
        let Some(d) = object_dict(doc, rev, id) else {
            continue;
        };
        match d.get_name(b"Type") {
            Some(b"Page") => pages.push(id),
            _ if d.get(b"Kids").is_some() => {
                nodes.insert(id);
                let kids = refs_in_array(doc, rev, d.get(b"Kids"));
                stack.extend(kids.into_iter().rev());
            }
            _ => pages.push(id),
        }
    }
    (pages, nodes)
}

/// Every field of the AcroForm tree with its fully qualified name (bounded, cycle-safe).
fn field_tree(doc: &pdf::PdfDocument<'_>, rev: usize, catalog: &Dict) -> HashMap<ObjId, FieldInfo> {
    let mut out = HashMap::new();
    let Some(form) = resolve_dict(doc, rev, catalog.get(b"AcroForm")) else {
        return out;
    };
    let mut stack: Vec<(ObjId, String, bool)> = refs_in_array(doc, rev, form.get(b"Fields"))
        .into_iter()
        .map(|id| (id, String::new(), false))
        .collect();
    while let Some((id, parent, parent_sig)) = stack.pop() {
        if out.contains_key(&id) || out.len() > MAX_WALK {
            continue;
        }
        let Some(d) = object_dict(doc, rev, id) else {
            continue;
        };
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
        out.insert(
            id,
            FieldInfo {
                name: name.clone(),
                is_sig,
            },
        );
        for kid in refs_in_array(doc, rev, d.get(b"Kids")) {
            stack.push((kid, name.clone(), is_sig));
        }
    }
    out
}

/// Every object reachable from the catalog's /DSS (validation data).
fn dss_closure(doc: &pdf::PdfDocument<'_>, rev: usize, catalog: &Dict) -> HashSet<ObjId> {
    let mut seen = HashSet::new();
    let mut stack: Vec<Obj> = catalog.get(b"DSS").cloned().into_iter().collect();
    while let Some(obj) = stack.pop() {
        if seen.len() >= MAX_WALK {
            break;
        }
        match obj.value {
            Value::Ref(id) if seen.insert(id) => {
                if let Ok(Some(r)) = doc.object(rev, id) {
                    stack.push(r.obj);
                }
            }
            Value::Array(items) => stack.extend(items),
            Value::Dict(d) => stack.extend(d.entries.into_iter().map(|(_, v)| v)),
            Value::Stream(s) => stack.extend(s.dict.entries.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    seen
}

/// Every reference that objects reachable from the root of `rev` make, including references to
/// objects that do not exist there (dangling): an update may not fill those in.
fn referenced(doc: &pdf::PdfDocument<'_>, rev: usize, root: Option<ObjId>) -> HashSet<ObjId> {
    let mut refs = HashSet::new();
    let mut stack: Vec<ObjId> = root.into_iter().collect();
    if let Some(info) = doc
        .revisions()
        .get(rev)
        .and_then(|r| r.trailer.get(b"Info"))
        .and_then(Obj::as_ref)
    {
        stack.push(info);
    }
    for id in &stack {
        refs.insert(*id);
    }
    while let Some(id) = stack.pop() {
        if refs.len() > MAX_WALK {
            break;
        }
        let Ok(Some(r)) = doc.object(rev, id) else {
            continue;
        };
        let mut values = vec![r.obj];
        while let Some(v) = values.pop() {
            match v.value {
                Value::Ref(x) if refs.insert(x) => stack.push(x),
                Value::Array(items) => values.extend(items),
                Value::Dict(d) => values.extend(d.entries.into_iter().map(|(_, v)| v)),
                Value::Stream(s) => values.extend(s.dict.entries.into_iter().map(|(_, v)| v)),
                _ => {}
            }
        }
    }
    refs
}

fn is_structural_stream(obj: &Obj) -> bool {
    match &obj.value {
        Value::Stream(s) => matches!(s.dict.get_name(b"Type"), Some(b"XRef") | Some(b"ObjStm")),
        _ => false,
    }
}

fn is_signature_dict(obj: &Obj) -> Option<bool> {
    let d = obj.as_dict()?;
    match d.get_name(b"Type") {
        Some(b"Sig") => Some(false),
        Some(b"DocTimeStamp") => Some(true),
        _ if d.get(b"ByteRange").is_some() && d.get(b"Contents").is_some() => {
            Some(d.get_name(b"SubFilter") == Some(b"ETSI.RFC3161"))
        }
        _ => None,
    }
}

/// Equality of values, ignoring where they were written.
fn same_value(a: &Obj, b: &Obj) -> bool {
    match (&a.value, &b.value) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q))
        }
        (Value::Dict(x), Value::Dict(y)) => same_dict(x, y),
        (Value::Stream(_), _) | (_, Value::Stream(_)) => false,
        (x, y) => x == y,
    }
}

fn same_dict(x: &Dict, y: &Dict) -> bool {
    x.entries.len() == y.entries.len()
        && x.entries
            .iter()
            .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
}

/// Same stream: same dictionary and same raw bytes.
fn same_object(doc: &pdf::PdfDocument<'_>, a: &Obj, b: &Obj) -> bool {
    match (&a.value, &b.value) {
        (Value::Stream(x), Value::Stream(y)) => {
            same_dict(&x.dict, &y.dict)
                && doc.bytes().get(x.data.0..x.data.1) == doc.bytes().get(y.data.0..y.data.1)
        }
        _ => same_value(a, b),
    }
}

/// The keys whose values differ between two dictionaries.
fn changed_keys<'d>(old: &'d Dict, new: &'d Dict) -> Vec<&'d [u8]> {
    let mut keys: Vec<&[u8]> = new
        .entries
        .iter()
        .chain(old.entries.iter())
        .map(|(k, _)| k.as_slice())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .filter(|k| match (old.get(k), new.get(k)) {
            (Some(a), Some(b)) => !same_value(a, b),
            (None, None) => false,
            _ => true,
        })
        .collect()
}

fn name(k: &[u8]) -> String {
    String::from_utf8_lossy(k).into_owned()
}

fn id_str(id: ObjId) -> String {
    format!("{} {} R", id.0, id.1)
}

struct Ctx<'d, 'a> {
    doc: &'d pdf::PdfDocument<'a>,
    u: usize,
    before: View,
    after: View,
    c: &'d Constraints,
    changes: Vec<Change>,
    /// Page content boxes in the signed revision, computed on demand.
    boxes: HashMap<ObjId, Vec<Rect>>,
    /// Pages whose annotation lists were judged already.
    annots_done: HashSet<ObjId>,
}

impl Ctx<'_, '_> {
    fn push(&mut self, object: Option<ObjId>, kind: ChangeKind, allowed: bool, detail: String) {
        self.changes.push(Change {
            object: object.map(id_str),
            kind,
            allowed,
            page: None,
            field: None,
            detail,
        });
    }

    fn page_number(&self, id: ObjId) -> Option<usize> {
        self.after
            .pages
            .iter()
            .position(|p| *p == id)
            .or_else(|| self.before.pages.iter().position(|p| *p == id))
            .map(|i| i + 1)
    }

    fn certified_level(&self) -> Option<u8> {
        self.c.docmdp
    }

    /// Whether an annotation (or widget) in revision `u` paints over what the page drew in the
    /// signed revision.
    fn covers_content(&mut self, page: ObjId, annot: &Dict) -> bool {
        let Some(rect) = annot_rect(annot) else {
            return false;
        };
        if rect.area() <= 0.0 {
            return false;
        }
        // Hidden (bit 2) or NoView (bit 6) annotations paint nothing.
        let flags = annot.get_int(b"F").unwrap_or(0);
        if flags & (2 | 32) != 0 {
            return false;
        }
        let doc = self.doc;
        let rev = self.u - 1;
        let boxes = self
            .boxes
            .entry(page)
            .or_insert_with(|| page_content_boxes(doc, rev, page));
        boxes.iter().any(|b| b.intersects(&rect))
    }
}

fn analyse_update(doc: &pdf::PdfDocument<'_>, u: usize, c: &Constraints) -> RevisionDiff {
    let before = view(doc, u - 1);
    let after = view(doc, u);
    let mut ctx = Ctx {
        doc,
        u,
        before,
        after,
        c,
        changes: Vec::new(),
        boxes: HashMap::new(),
        annots_done: HashSet::new(),
    };
    if ctx.before.root != ctx.after.root {
        let detail = format!(
            "the document catalog was replaced ({} -> {})",
            ctx.before.root.map(id_str).unwrap_or_else(|| "none".into()),
            ctx.after.root.map(id_str).unwrap_or_else(|| "none".into())
        );
        ctx.push(ctx.after.root, ChangeKind::Catalog, false, detail);
    }
    let referenced_before = referenced(doc, u - 1, ctx.before.root);
    let Some(revision) = doc.revisions().get(u) else {
        return RevisionDiff {
            revision: u + 1,
            level: Level::None,
            docmdp: c.docmdp,
            changes: Vec::new(),
        };
    };
    let mut nums = revision.object_numbers();
    nums.sort_unstable();
    let mut page_changes: Vec<(ObjId, Dict, Dict)> = Vec::new();
    for num in nums {
        if num == 0 {
            continue;
        }
        match doc.entry(u, num) {
            Ok(Some((defined_in, _))) if defined_in == u => {}
            Ok(_) => continue,
            Err(e) => {
                ctx.push(
                    Some((num, 0)),
                    ChangeKind::Structure,
                    false,
                    format!("unreadable cross-reference entry: {e}"),
                );
                continue;
            }
        }
        let old = doc.object(u - 1, (num, 0)).ok().flatten();
        let new = match doc.object(u, (num, 0)) {
            Ok(n) => n,
            Err(e) => {
                ctx.push(
                    Some((num, 0)),
                    ChangeKind::Structure,
                    false,
                    format!("unreadable object: {e}"),
                );
                continue;
            }
        };
        let Some(new) = new else {
            if let Some(old) = old {
                if !is_structural_stream(&old.obj) {
                    ctx.push(
                        Some(old.id),
                        ChangeKind::ObjectDeleted,
                        false,
                        format!("object {} deleted", id_str(old.id)),
                    );
                }
            }
            continue;
        };
        let id = new.id;
        if is_structural_stream(&new.obj) {
            continue;
        }
        if let Some(old) = &old {
            if same_object(doc, &old.obj, &new.obj) {
                continue; // rewritten unchanged (some writers do)
            }
        }
        classify(
            &mut ctx,
            id,
            old.as_ref().map(|o| &o.obj),
            &new.obj,
            &referenced_before,
            &mut page_changes,
        );
    }
    for (page, old, new) in page_changes {
        page_diff(&mut ctx, page, &old, &new);
    }
    // Pages added, removed or reordered show in the page list even when only a tree node changed.
    if ctx.before.pages != ctx.after.pages {
        let added: Vec<ObjId> = ctx
            .after
            .pages
            .iter()
            .filter(|p| !ctx.before.pages.contains(p))
            .copied()
            .collect();
        let removed = ctx
            .before
            .pages
            .iter()
            .filter(|p| !ctx.after.pages.contains(p))
            .count();
        if !added.is_empty() {
            let n = added.len();
            ctx.changes.push(Change {
                object: added.first().map(|id| id_str(*id)),
                kind: ChangeKind::PageAdded,
                allowed: false,
                page: ctx.page_number(added[0]),
                field: None,
                detail: format!("{n} page(s) added"),
            });
        }
        if removed > 0 {
            ctx.push(
                None,
                ChangeKind::PageRemoved,
                false,
                format!("{removed} page(s) removed"),
            );
        }
        if added.is_empty() && removed == 0 {
            ctx.push(
                None,
                ChangeKind::PageContent,
                false,
                "pages reordered".into(),
            );
        }
    }
    let level = if ctx.changes.iter().any(|c| !c.allowed) {
        Level::Disallowed
    } else if ctx.changes.iter().any(|c| c.kind != ChangeKind::Structure) {
        Level::Permitted
    } else {
        Level::None
    };
    RevisionDiff {
        revision: u + 1,
        level,
        docmdp: c.docmdp,
        changes: ctx.changes,
    }
}

fn classify(
    ctx: &mut Ctx<'_, '_>,
    id: ObjId,
    old: Option<&Obj>,
    new: &Obj,
    referenced_before: &HashSet<ObjId>,
    page_changes: &mut Vec<(ObjId, Dict, Dict)>,
) {
    let p1 = ctx.certified_level() == Some(1);
    // The catalog.
    if Some(id) == ctx.after.root {
        if let (Some(old), Some(new)) = (old.and_then(Obj::as_dict), new.as_dict()) {
            for key in changed_keys(old, new) {
                let (kind, allowed) = match key {
                    b"DSS" | b"Extensions" => (ChangeKind::ValidationData, true),
                    b"Metadata" => (ChangeKind::Metadata, true),
                    // Writers raise the declared version when a signature needs a newer
                    // feature (ISO 32000-2 7.5.2); it changes nothing shown.
                    b"Version" => (ChangeKind::Structure, true),
                    b"AcroForm" => (ChangeKind::FormStructure, true),
                    _ => (ChangeKind::Catalog, false),
                };
                let detail = format!("catalog /{} changed", name(key));
                ctx.push(Some(id), kind, allowed, detail);
                if key == b"AcroForm" {
                    let (o, n) = (
                        resolve_dict(ctx.doc, ctx.u - 1, old.get(b"AcroForm")),
                        resolve_dict(ctx.doc, ctx.u, new.get(b"AcroForm")),
                    );
                    acroform_diff(ctx, id, o.as_ref(), n.as_ref());
                }
            }
        } else if old.is_some() {
            ctx.push(
                Some(id),
                ChangeKind::Catalog,
                false,
                "catalog is not a dictionary".into(),
            );
        }
        return;
    }
    // Validation data.
    if ctx.after.dss.contains(&id) {
        let ok = old.is_none() || ctx.before.dss.contains(&id);
        let detail = if ok {
            "validation data (DSS)".to_owned()
        } else {
            format!(
                "existing object {} redefined as validation data",
                id_str(id)
            )
        };
        ctx.push(Some(id), ChangeKind::ValidationData, ok, detail);
        return;
    }
    if Some(id) == ctx.after.info {
        ctx.push(
            Some(id),
            ChangeKind::Metadata,
            true,
            "document information".into(),
        );
        return;
    }
    // The XMP metadata stream: writers update it with each signature (ISO 32000-2 14.3.2). It
    // must have been the metadata before (or be new), so that no content stream is repointed.
    if Some(id) == ctx.after.metadata {
        let ok = old.is_none() || ctx.before.metadata == Some(id);
        let detail = if ok {
            "XMP metadata".to_owned()
        } else {
            format!("existing object {} redefined as metadata", id_str(id))
        };
        ctx.push(Some(id), ChangeKind::Metadata, ok, detail);
        return;
    }
    // A signature or document timestamp dictionary.
    if let Some(doc_ts) = is_signature_dict(new) {
        let ok = old.is_none() && (doc_ts || !p1);
        let (kind, what) = if doc_ts {
            (ChangeKind::DocumentTimestamp, "document timestamp")
        } else {
            (ChangeKind::Signature, "signature")
        };
        let detail = if old.is_some() {
            format!("existing {what} {} replaced", id_str(id))
        } else if ok {
            format!("new {what}")
        } else {
            format!("new {what}, not allowed by DocMDP /P 1")
        };
        ctx.push(Some(id), kind, ok, detail);
        return;
    }
    // The AcroForm dictionary held as its own object.
    if Some(id) == ctx.after.acroform {
        let (o, n) = (old.and_then(Obj::as_dict).cloned(), new.as_dict().cloned());
        acroform_diff(ctx, id, o.as_ref(), n.as_ref());
        return;
    }
    // A page's /Annots or the form's /Fields held as their own array objects.
    if let Some(page) = ctx.after.annots_arrays.get(&id).copied() {
        if old.is_none() || ctx.before.annots_arrays.get(&id) == Some(&page) {
            annots_diff(ctx, page);
            return;
        }
    }
    if Some(id) == ctx.after.fields_array && (old.is_none() || ctx.before.fields_array == Some(id))
    {
        let before = match ctx.before.fields_array {
            Some(b) => refs_in_array(
                ctx.doc,
                ctx.u - 1,
                Some(&Obj {
                    span: (0, 0),
                    value: Value::Ref(b),
                }),
            ),
            None => Vec::new(),
        };
        let after = refs_in_array(ctx.doc, ctx.u, Some(new));
        let (ok, detail) = fields_diff(ctx, &before, &after);
        ctx.push(Some(id), ChangeKind::FormStructure, ok, detail);
        return;
    }
    // Pages: judged after every object is classified (the page's new annotations).
    if ctx.after.pages.contains(&id) && ctx.before.pages.contains(&id) {
        if let (Some(o), Some(n)) = (old.and_then(dict_of), dict_of(new)) {
            page_changes.push((id, o, n));
            return;
        }
    }
    if ctx.before.page_tree_nodes.contains(&id) || ctx.after.page_tree_nodes.contains(&id) {
        if old.is_some() {
            // Node changes that do not change the page list are harmless; the page list is
            // compared as a whole afterwards.
            if let (Some(o), Some(n)) = (old.and_then(dict_of), dict_of(new)) {
                let keys = changed_keys(&o, &n);
                if keys.iter().all(|k| *k == b"Kids" || *k == b"Count") {
                    return;
                }
                let detail = format!("page tree node changed ({})", keys_list(&keys));
                ctx.push(Some(id), ChangeKind::PageContent, false, detail);
                return;
            }
        }
        return;
    }
    // Fields and widgets.
    if let Some(info) = ctx.after.fields.get(&id).cloned() {
        field_change(ctx, id, &info, old, new);
        return;
    }
    match old {
        None => {
            // A new object: harmless unless it fills a reference the signed revision already made
            // (a dangling reference turned into content).
            if referenced_before.contains(&id) {
                let detail = format!(
                    "new object {} fills a reference the signed revision already made",
                    id_str(id)
                );
                ctx.push(Some(id), ChangeKind::ObjectRedefined, false, detail);
            }
        }
        Some(old_obj) => {
            let what = describe(old_obj);
            let detail = format!("object {} redefined ({what})", id_str(id));
            ctx.push(Some(id), ChangeKind::ObjectRedefined, false, detail);
        }
    }
}

fn dict_of(o: &Obj) -> Option<Dict> {
    match &o.value {
        Value::Dict(d) => Some(d.clone()),
        Value::Stream(s) => Some(s.dict.clone()),
        _ => None,
    }
}

fn keys_list(keys: &[&[u8]]) -> String {
    keys.iter()
        .map(|k| format!("/{}", name(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe(obj: &Obj) -> String {
    match &obj.value {
        Value::Stream(s) => match (s.dict.get_name(b"Type"), s.dict.get_name(b"Subtype")) {
            (Some(t), Some(st)) => format!("{} /{} stream", name(t), name(st)),
            (Some(t), None) => format!("{} stream", name(t)),
            (None, Some(st)) => format!("/{} stream", name(st)),
            (None, None) => "content or data stream".into(),
        },
        Value::Dict(d) => match d.get_name(b"Type") {
            Some(t) => format!("/{} dictionary", name(t)),
            None => "dictionary".into(),
        },
        _ => "value".into(),
    }
}

/// AcroForm bookkeeping: /Fields may only grow by signature fields; /SigFlags and new /DR
/// resources may change; /NeedAppearances with form filling.
fn acroform_diff(ctx: &mut Ctx<'_, '_>, id: ObjId, old: Option<&Dict>, new: Option<&Dict>) {
    let (Some(old), Some(new)) = (old, new) else {
        if old.is_some() {
            ctx.push(
                Some(id),
                ChangeKind::FormStructure,
                false,
                "form removed".into(),
            );
        } else {
            ctx.push(
                Some(id),
                ChangeKind::FormStructure,
                true,
                "form created".into(),
            );
        }
        return;
    };
    for key in changed_keys(old, new) {
        let (ok, detail) = match key {
            b"Fields" => fields_diff(
                ctx,
                &refs_in_array(ctx.doc, ctx.u - 1, old.get(b"Fields")),
                &refs_in_array(ctx.doc, ctx.u, new.get(b"Fields")),
            ),
            b"SigFlags" => (true, "signature flags".to_owned()),
            b"NeedAppearances" => (
                ctx.c.docmdp != Some(1),
                "appearance regeneration flag".to_owned(),
            ),
            b"DR" => {
                let o = resolve_dict(ctx.doc, ctx.u - 1, old.get(b"DR")).unwrap_or_default();
                let n = resolve_dict(ctx.doc, ctx.u, new.get(b"DR")).unwrap_or_default();
                (
                    resources_only_grew(ctx, &o, &n),
                    "form default resources".to_owned(),
                )
            }
            other => (false, format!("form /{} changed", name(other))),
        };
        ctx.push(Some(id), ChangeKind::FormStructure, ok, detail);
    }
}

/// The form's top-level fields may only gain signature fields.
fn fields_diff(ctx: &Ctx<'_, '_>, before: &[ObjId], after: &[ObjId]) -> (bool, String) {
    let kept = before.iter().all(|f| after.contains(f));
    let added_ok = after
        .iter()
        .filter(|f| !before.contains(f))
        .all(|f| ctx.after.fields.get(f).is_some_and(|i| i.is_sig));
    (
        kept && added_ok,
        if !kept {
            "form fields removed".to_owned()
        } else if !added_ok {
            "form fields other than signature fields added".to_owned()
        } else {
            "signature field added to the form".to_owned()
        },
    )
}

/// Resource dictionaries may gain names but never rebind one.
fn resources_only_grew(ctx: &Ctx<'_, '_>, old: &Dict, new: &Dict) -> bool {
    old.entries.iter().all(|(k, v)| match new.get(k) {
        None => false,
        Some(w) if same_value(v, w) => true,
        Some(w) => {
            let a = resolve_dict(ctx.doc, ctx.u - 1, Some(v)).unwrap_or_default();
            let b = resolve_dict(ctx.doc, ctx.u, Some(w)).unwrap_or_default();
            a.entries
                .iter()
                .all(|(k2, v2)| b.get(k2).is_some_and(|w2| same_value(v2, w2)))
        }
    })
}

/// A field or widget object changed or added.
fn field_change(ctx: &mut Ctx<'_, '_>, id: ObjId, info: &FieldInfo, old: Option<&Obj>, new: &Obj) {
    let p = ctx.c.docmdp;
    let locked = ctx.c.field_locked(&info.name);
    let Some(new_d) = new.as_dict() else {
        ctx.push(
            Some(id),
            ChangeKind::FormStructure,
            false,
            "field is not a dictionary".into(),
        );
        return;
    };
    let change = |ctx: &mut Ctx<'_, '_>, kind, allowed, detail: String| {
        ctx.changes.push(Change {
            object: Some(id_str(id)),
            kind,
            allowed,
            page: None,
            field: Some(info.name.clone()),
            detail,
        });
    };
    let Some(old) = old else {
        if info.is_sig {
            // A new signature field: its signature dictionary is judged on its own. A document
            // timestamp field is allowed even under /P 1.
            let doc_ts = new_d
                .get(b"V")
                .and_then(|v| ctx.doc.resolve(ctx.u, v).ok())
                .and_then(|v| is_signature_dict(&v))
                .unwrap_or(false);
            let ok = doc_ts || p != Some(1);
            let detail = if ok {
                format!("new signature field {:?}", info.name)
            } else {
                format!(
                    "new signature field {:?}, not allowed by DocMDP /P 1",
                    info.name
                )
            };
            change(ctx, ChangeKind::SignatureField, ok, detail);
            // Its widget may sit on a page: judged with the page's annotations.
        } else {
            change(
                ctx,
                ChangeKind::FormStructure,
                false,
                format!("new form field {:?}", info.name),
            );
        }
        return;
    };
    let Some(old_d) = old.as_dict() else {
        change(
            ctx,
            ChangeKind::FormStructure,
            false,
            "field was not a dictionary".into(),
        );
        return;
    };
    let keys = changed_keys(old_d, new_d);
    let value_keys: &[&[u8]] = &[b"V", b"AP", b"AS", b"M"];
    let others: Vec<&[u8]> = keys
        .iter()
        .copied()
        .filter(|k| !value_keys.contains(k))
        .collect();
    if !others.is_empty() {
        change(
            ctx,
            ChangeKind::FormStructure,
            false,
            format!("field {:?}: {} changed", info.name, keys_list(&others)),
        );
        return;
    }
    if info.is_sig && new_d.get(b"V").is_none() && old_d.get(b"V").is_none() {
        // A widget of a signature field (a kid without /V of its own): it may get the
        // appearance of the signature its field receives in this update.
        let parent = new_d.get(b"Parent").and_then(Obj::as_ref);
        let signed_now = parent.is_some_and(|p| {
            let before = object_dict(ctx.doc, ctx.u - 1, p).is_some_and(|d| d.get(b"V").is_some());
            let after = object_dict(ctx.doc, ctx.u, p).is_some_and(|d| d.get(b"V").is_some());
            !before && after
        });
        let only_appearance = keys.iter().all(|k| *k == b"AP" || *k == b"AS");
        let ok = signed_now && only_appearance && !locked && p != Some(1);
        let detail = if ok {
            format!("appearance of the signature in field {:?}", info.name)
        } else {
            format!(
                "widget of signature field {:?} changed without its field being signed",
                info.name
            )
        };
        change(ctx, ChangeKind::SignatureField, ok, detail);
        return;
    }
    if info.is_sig {
        let was_empty = old_d.get(b"V").is_none();
        let signed_now = new_d.get(b"V").is_some();
        let ok = was_empty && signed_now && !locked;
        let detail = if !was_empty {
            format!(
                "signature field {:?}: its signature was replaced",
                info.name
            )
        } else if locked {
            format!("signature field {:?} is locked by FieldMDP", info.name)
        } else {
            format!("signature added to the empty field {:?}", info.name)
        };
        // Under /P 1 only a document timestamp may fill it.
        let doc_ts = new_d
            .get(b"V")
            .and_then(|v| ctx.doc.resolve(ctx.u, v).ok())
            .and_then(|v| is_signature_dict(&v))
            .unwrap_or(false);
        let ok = ok && (p != Some(1) || doc_ts);
        change(ctx, ChangeKind::SignatureField, ok, detail);
        return;
    }
    let (ok, detail) = if locked {
        (
            false,
            format!(
                "field {:?} is locked by FieldMDP and was changed",
                info.name
            ),
        )
    } else if p == Some(1) {
        (
            false,
            format!("field {:?} filled, not allowed by DocMDP /P 1", info.name),
        )
    } else {
        (true, format!("field {:?} filled", info.name))
    };
    change(ctx, ChangeKind::FormFill, ok, detail);
}

/// A page dictionary changed: only new annotations may be added to /Annots.
fn page_diff(ctx: &mut Ctx<'_, '_>, page: ObjId, old: &Dict, new: &Dict) {
    let number = ctx.page_number(page);
    let keys = changed_keys(old, new);
    let others: Vec<&[u8]> = keys.iter().copied().filter(|k| *k != b"Annots").collect();
    if !others.is_empty() {
        ctx.changes.push(Change {
            object: Some(id_str(page)),
            kind: ChangeKind::PageContent,
            allowed: false,
            page: number,
            field: None,
            detail: format!(
                "page {}: {} changed",
                number.unwrap_or(0),
                keys_list(&others)
            ),
        });
    }
    if !keys.contains(&&b"Annots"[..]) {
        return;
    }
    annots_diff(ctx, page);
}

/// The page's annotation list before and after: annotations may be added (and are judged one by
/// one), never removed. Judged once per page and update.
fn annots_diff(ctx: &mut Ctx<'_, '_>, page: ObjId) {
    if !ctx.annots_done.insert(page) {
        return;
    }
    let number = ctx.page_number(page);
    let before = ctx.before.annots.get(&page).cloned().unwrap_or_default();
    let after = ctx.after.annots.get(&page).cloned().unwrap_or_default();
    if before.iter().any(|a| !after.contains(a)) {
        ctx.changes.push(Change {
            object: Some(id_str(page)),
            kind: ChangeKind::Annotation,
            allowed: false,
            page: number,
            field: None,
            detail: format!("page {}: annotations removed", number.unwrap_or(0)),
        });
    }
    for a in after.iter().filter(|a| !before.contains(a)) {
        annotation_added(ctx, page, *a, number);
    }
}

fn annotation_added(ctx: &mut Ctx<'_, '_>, page: ObjId, annot: ObjId, number: Option<usize>) {
    let p = ctx.c.docmdp;
    let Some(d) = object_dict(ctx.doc, ctx.u, annot) else {
        return;
    };
    let subtype = d.get_name(b"Subtype").map(name).unwrap_or_default();
    let sig_widget = subtype == "Widget"
        && (ctx.after.fields.get(&annot).is_some_and(|f| f.is_sig)
            || d.get(b"Parent")
                .and_then(Obj::as_ref)
                .and_then(|p| ctx.after.fields.get(&p))
                .is_some_and(|f| f.is_sig));
    let covers = ctx.covers_content(page, &d);
    let (kind, ok, what) = if sig_widget {
        // Visible approval signatures are normal; in a certified document a signature widget that
        // paints over the page is the sneaky-signature attack.
        let ok = p.is_none() || !covers;
        (ChangeKind::SignatureField, ok, "signature widget")
    } else if subtype == "Widget" {
        (ChangeKind::FormStructure, false, "form field widget")
    } else {
        let allowed_by_mdp = matches!(p, None | Some(3));
        (
            ChangeKind::Annotation,
            allowed_by_mdp && !covers,
            "annotation",
        )
    };
    let detail = format!(
        "page {}: {what} /{subtype} added{}",
        number.unwrap_or(0),
        if covers { " over the page content" } else { "" }
    );
    let detail = if !ok && !covers && kind == ChangeKind::Annotation {
        format!("{detail}, not allowed by DocMDP /P {}", p.unwrap_or(0))
    } else {
        detail
    };
    ctx.changes.push(Change {
        object: Some(id_str(annot)),
        kind,
        allowed: ok,
        page: number,
        field: None,
        detail,
    });
}

// --- What a page paints: a conservative estimate of the boxes its content covers -------------

#[derive(Debug, Clone, Copy, PartialEq)]
struct Rect {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Rect {
    fn area(&self) -> f64 {
        (self.x1 - self.x0).max(0.0) * (self.y1 - self.y0).max(0.0)
    }

    fn intersects(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }

    fn from_points(points: &[(f64, f64)]) -> Option<Rect> {
        let first = points.first()?;
        let mut r = Rect {
            x0: first.0,
            y0: first.1,
            x1: first.0,
            y1: first.1,
        };
        for (x, y) in points {
            r.x0 = r.x0.min(*x);
            r.y0 = r.y0.min(*y);
            r.x1 = r.x1.max(*x);
            r.y1 = r.y1.max(*y);
        }
        Some(r)
    }
}

fn num(o: &Obj) -> Option<f64> {
    match o.value {
        Value::Int(i) => Some(i as f64),
        Value::Real(r) if r.is_finite() => Some(r),
        _ => None,
    }
}

fn annot_rect(d: &Dict) -> Option<Rect> {
    let a = d.get(b"Rect")?.as_array()?;
    let v: Vec<f64> = a.iter().filter_map(num).collect();
    if v.len() != 4 {
        return None;
    }
    Rect::from_points(&[(v[0], v[1]), (v[2], v[3])])
}

type Matrix = [f64; 6];

fn mul(a: &Matrix, b: &Matrix) -> Matrix {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]
}

fn apply(m: &Matrix, x: f64, y: f64) -> (f64, f64) {
    (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])
}

const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

/// The boxes (default user space) that the page's content paints in revision `rev`: text lines
/// (glyphs estimated generously at the font size per character), filled or stroked paths, images
/// and form XObjects. Over-estimating is safe: it can only make an annotation count as covering.
fn page_content_boxes(doc: &pdf::PdfDocument<'_>, rev: usize, page: ObjId) -> Vec<Rect> {
    let Some(d) = object_dict(doc, rev, page) else {
        return Vec::new();
    };
    let mut data = Vec::new();
    let contents: Vec<Obj> = match d.get(b"Contents").map(|c| &c.value) {
        Some(Value::Array(items)) => items.clone(),
        Some(_) => d.get(b"Contents").cloned().into_iter().collect(),
        None => Vec::new(),
    };
    for c in contents {
        if let Ok(Obj {
            value: Value::Stream(s),
            ..
        }) = doc.resolve(rev, &c)
        {
            if let Ok(bytes) = doc.stream_data(&s) {
                data.extend_from_slice(&bytes);
                data.push(b'\n');
            }
        }
    }
    let resources = resolve_dict(doc, rev, d.get(b"Resources")).unwrap_or_default();
    let mut out = Vec::new();
    paint_boxes(doc, rev, &data, &resources, IDENTITY, 0, &mut out);
    out
}

fn paint_boxes(
    doc: &pdf::PdfDocument<'_>,
    rev: usize,
    data: &[u8],
    resources: &Dict,
    base: Matrix,
    depth: usize,
    out: &mut Vec<Rect>,
) {
    use crate::pdf::lexer::{ParseLimits, Parser};
    if depth > 8 || out.len() > 100_000 {
        return;
    }
    let mut parser = Parser::new(data, 0, ParseLimits::default());
    let mut operands: Vec<Obj> = Vec::new();
    let mut ctm = base;
    let mut stack: Vec<Matrix> = Vec::new();
    let mut path: Vec<(f64, f64)> = Vec::new();
    let (mut tm, mut tlm) = (IDENTITY, IDENTITY);
    let (mut font_size, mut leading) = (12.0f64, 0.0f64);
    let mut ops = 0usize;
    loop {
        ops += 1;
        if ops > MAX_CONTENT_OPS {
            break;
        }
        parser.skip_ws();
        if parser.pos >= data.len() {
            break;
        }
        let kw = parser.peek_keyword();
        let is_op = kw
            .first()
            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'\'' || *b == b'"' || *b == b'*')
            && kw != b"true"
            && kw != b"false"
            && kw != b"null";
        if !is_op {
            // The quote operators are delimiters in the object syntax.
            if data.get(parser.pos) == Some(&b'\'') || data.get(parser.pos) == Some(&b'"') {
                let op = [data[parser.pos]];
                parser.pos += 1;
                text_show(
                    &op, &operands, &mut tm, &mut tlm, font_size, leading, &ctm, out,
                );
                operands.clear();
                continue;
            }
            match parser.parse_object() {
                Ok(o) => {
                    if operands.len() < 64 {
                        operands.push(o);
                    }
                }
                Err(_) => {
                    parser.pos += 1;
                    operands.clear();
                }
            }
            continue;
        }
        parser.pos += kw.len();
        if kw == b"BI" {
            // Inline image: skip to EI; it paints the unit square.
            if let Some(end) = find(data, parser.pos, b"EI") {
                parser.pos = end + 2;
            } else {
                break;
            }
            push_unit(&ctm, out);
            operands.clear();
            continue;
        }
        let n: Vec<f64> = operands.iter().filter_map(num).collect();
        match kw {
            b"q" => stack.push(ctm),
            b"Q" => ctm = stack.pop().unwrap_or(base),
            b"cm" if n.len() == 6 => {
                ctm = mul(&[n[0], n[1], n[2], n[3], n[4], n[5]], &ctm);
            }
            b"m" | b"l" if n.len() == 2 => path.push(apply(&ctm, n[0], n[1])),
            b"c" if n.len() == 6 => {
                for i in 0..3 {
                    path.push(apply(&ctm, n[2 * i], n[2 * i + 1]));
                }
            }
            b"v" | b"y" if n.len() == 4 => {
                path.push(apply(&ctm, n[0], n[1]));
                path.push(apply(&ctm, n[2], n[3]));
            }
            b"re" if n.len() == 4 => {
                for (x, y) in [
                    (n[0], n[1]),
                    (n[0] + n[2], n[1]),
                    (n[0], n[1] + n[3]),
                    (n[0] + n[2], n[1] + n[3]),
                ] {
                    path.push(apply(&ctm, x, y));
                }
            }
            b"f" | b"F" | b"f*" | b"S" | b"s" | b"B" | b"B*" | b"b" | b"b*" => {
                if let Some(r) = Rect::from_points(&path) {
                    out.push(r);
                }
                path.clear();
            }
            b"n" | b"W" | b"W*" if kw == b"n" => path.clear(),
            b"BT" => {
                tm = IDENTITY;
                tlm = IDENTITY;
            }
            b"Tf" if n.len() == 1 => font_size = n[0].abs().max(0.1),
            b"TL" if n.len() == 1 => leading = n[0],
            b"Td" | b"TD" if n.len() == 2 => {
                if kw == b"TD" {
                    leading = -n[1];
                }
                tlm = mul(&[1.0, 0.0, 0.0, 1.0, n[0], n[1]], &tlm);
                tm = tlm;
            }
            b"Tm" if n.len() == 6 => {
                tlm = [n[0], n[1], n[2], n[3], n[4], n[5]];
                tm = tlm;
            }
            b"T*" => {
                tlm = mul(&[1.0, 0.0, 0.0, 1.0, 0.0, -leading], &tlm);
                tm = tlm;
            }
            b"Tj" | b"TJ" | b"'" | b"\"" => text_show(
                kw, &operands, &mut tm, &mut tlm, font_size, leading, &ctm, out,
            ),
            b"Do" => {
                if let Some(xname) = operands.first().and_then(Obj::as_name) {
                    xobject(doc, rev, resources, xname, &ctm, depth, out);
                }
            }
            b"sh" => push_unit(&[1000.0, 0.0, 0.0, 1000.0, -500.0, -500.0], out),
            _ => {}
        }
        operands.clear();
    }
}

#[allow(clippy::too_many_arguments)]
fn text_show(
    op: &[u8],
    operands: &[Obj],
    tm: &mut Matrix,
    tlm: &mut Matrix,
    font_size: f64,
    leading: f64,
    ctm: &Matrix,
    out: &mut Vec<Rect>,
) {
    if op == b"'" || op == b"\"" {
        *tlm = mul(&[1.0, 0.0, 0.0, 1.0, 0.0, -leading], tlm);
        *tm = *tlm;
    }
    let chars: usize = operands
        .iter()
        .map(|o| match &o.value {
            Value::Str { bytes, .. } => bytes.len(),
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str_bytes().map(<[u8]>::len))
                .sum(),
            _ => 0,
        })
        .sum();
    if chars == 0 {
        return;
    }
    // Generous: every glyph as wide as the font size, descenders and ascenders included.
    let width = chars as f64 * font_size;
    let m = mul(tm, ctm);
    let pts = [
        apply(&m, 0.0, -0.3 * font_size),
        apply(&m, width, -0.3 * font_size),
        apply(&m, 0.0, font_size),
        apply(&m, width, font_size),
    ];
    if let Some(r) = Rect::from_points(&pts) {
        out.push(r);
    }
    *tm = mul(&[1.0, 0.0, 0.0, 1.0, width, 0.0], tm);
}

fn push_unit(m: &Matrix, out: &mut Vec<Rect>) {
    let pts = [
        apply(m, 0.0, 0.0),
        apply(m, 1.0, 0.0),
        apply(m, 0.0, 1.0),
        apply(m, 1.0, 1.0),
    ];
    if let Some(r) = Rect::from_points(&pts) {
        out.push(r);
    }
}

fn xobject(
    doc: &pdf::PdfDocument<'_>,
    rev: usize,
    resources: &Dict,
    xname: &[u8],
    ctm: &Matrix,
    depth: usize,
    out: &mut Vec<Rect>,
) {
    let Some(xobjects) = resolve_dict(doc, rev, resources.get(b"XObject")) else {
        return;
    };
    let Some(obj) = xobjects.get(xname) else {
        return;
    };
    let Ok(Obj {
        value: Value::Stream(s),
        ..
    }) = doc.resolve(rev, obj)
    else {
        return;
    };
    if s.dict.get_name(b"Subtype") != Some(b"Form") {
        push_unit(ctm, out);
        return;
    }
    let matrix: Matrix = s
        .dict
        .get(b"Matrix")
        .and_then(Obj::as_array)
        .map(|a| a.iter().filter_map(num).collect::<Vec<_>>())
        .filter(|v| v.len() == 6)
        .map_or(IDENTITY, |v| [v[0], v[1], v[2], v[3], v[4], v[5]]);
    let m = mul(&matrix, ctm);
    let inner_res =
        resolve_dict(doc, rev, s.dict.get(b"Resources")).unwrap_or_else(|| resources.clone());
    if let Ok(bytes) = doc.stream_data(&s) {
        paint_boxes(doc, rev, &bytes, &inner_res, m, depth + 1, out);
    }
}

fn find(data: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    data.get(from..)?
        .windows(pat.len())
        .position(|w| w == pat)
        .map(|p| p + from)
}
