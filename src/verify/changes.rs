//! What changed in the incremental updates that no signature covers (after the last signature or
//! document timestamp). Only validation data may be added there (ETSI EN 319 142-1 5.4: the DSS and
//! its VRI, with the catalog entries that point to them); anything else means the document shown
//! is not the document signed.
//!
//! This is deliberately conservative and covers only the uncovered tail. Updates *between*
//! signatures (form filling under DocMDP, annotations, FieldMDP locks) are judged by the change
//! analysis of the issue "Verification that cannot be fooled"; until then they are vouched for
//! only by the later signature that covers them.

use std::collections::HashSet;

use crate::pdf::{self, Dict, Obj, ObjId, Value};

/// A disallowed change after the signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based: the last revision a signature covers; updates after it are unsigned.
    pub after_revision: usize,
    /// Which revision and objects, in English.
    pub detail: String,
}

/// Catalog entries an unsigned update may add or change: validation data only.
const CATALOG_KEYS_ALLOWED: &[&[u8]] = &[b"DSS", b"Extensions"];

/// Bounds the walk through the DSS (an attacker controls its shape).
const MAX_DSS_OBJECTS: usize = 100_000;

pub fn check_updates_after_signatures(
    doc: &pdf::PdfDocument<'_>,
    fields: &[pdf::SignatureField],
) -> Vec<Finding> {
    let revisions = doc.revisions().len();
    let last_covered = fields
        .iter()
        .filter_map(|f| match &f.coverage {
            pdf::Coverage::WholeFile => Some(revisions.saturating_sub(1)),
            pdf::Coverage::Revision { revision, .. } => Some(*revision),
            pdf::Coverage::NonStandard(_) => None,
        })
        .max();
    let Some(last_covered) = last_covered else {
        return Vec::new();
    };
    let mut findings = Vec::new();
    for rev in (last_covered + 1)..revisions {
        let bad = disallowed_objects(doc, rev);
        if !bad.is_empty() {
            let list: Vec<String> = bad
                .iter()
                .take(20)
                .map(|(id, why)| format!("{} {} R ({why})", id.0, id.1))
                .collect();
            findings.push(Finding {
                after_revision: last_covered + 1,
                detail: format!(
                    "revision {} (not covered by any signature) changes {} object(s) that are not validation data: {}{}",
                    rev + 1,
                    bad.len(),
                    list.join(", "),
                    if bad.len() > 20 { ", ..." } else { "" }
                ),
            });
        }
    }
    findings
}

/// The objects revision `rev` defines or frees that an unsigned update may not touch.
fn disallowed_objects(doc: &pdf::PdfDocument<'_>, rev: usize) -> Vec<(ObjId, &'static str)> {
    let mut bad = Vec::new();
    let Some(revision) = doc.revisions().get(rev) else {
        return bad;
    };
    let root = revision.trailer.get(b"Root").and_then(Obj::as_ref);
    // Validation data and metadata may be added or updated, but an object that already existed
    // must have had the same role before: otherwise pointing /DSS or /Info at a page's content
    // stream would let an update rewrite it.
    let roles = validation_roles(doc, rev);
    let previous_roles = rev
        .checked_sub(1)
        .map(|p| validation_roles(doc, p))
        .unwrap_or_default();
    for num in revision.object_numbers() {
        if num == 0 {
            continue; // the head of the free list is always listed
        }
        let entry = match doc.entry(rev, num) {
            Ok(Some((defined_in, entry))) if defined_in == rev => entry,
            Ok(_) => continue,
            Err(_) => {
                bad.push(((num, 0), "unreadable xref entry"));
                continue;
            }
        };
        let _ = entry;
        let resolved = match doc.object(rev, (num, 0)) {
            Ok(Some(r)) => r,
            Ok(None) => {
                bad.push(((num, 0), "object deleted"));
                continue;
            }
            Err(_) => {
                bad.push(((num, 0), "unreadable object"));
                continue;
            }
        };
        let id = resolved.id;
        if roles.contains(&id) {
            let existed_before = rev
                .checked_sub(1)
                .is_some_and(|p| matches!(doc.object(p, id), Ok(Some(_))));
            if !existed_before || previous_roles.contains(&id) {
                continue;
            }
            bad.push((id, "existing object redefined as validation data"));
            continue;
        }
        if is_structural_stream(&resolved.obj) {
            continue;
        }
        if Some(id) == root {
            match catalog_change(doc, rev, &resolved.obj) {
                None => continue,
                Some(why) => {
                    bad.push((id, why));
                    continue;
                }
            }
        }
        bad.push((id, "not validation data"));
    }
    bad
}

/// The objects of revision `rev` that hold validation data or metadata: the DSS closure and the
/// document information dictionary.
fn validation_roles(doc: &pdf::PdfDocument<'_>, rev: usize) -> HashSet<ObjId> {
    let mut roles = match doc.catalog(rev) {
        Ok(catalog) => dss_closure(doc, rev, &catalog),
        Err(_) => HashSet::new(),
    };
    if let Some(info) = doc
        .revisions()
        .get(rev)
        .and_then(|r| r.trailer.get(b"Info"))
        .and_then(Obj::as_ref)
    {
        roles.insert(info);
    }
    roles
}

/// Cross-reference streams and object streams are file structure, not content (the objects an
/// object stream holds are judged one by one through the xref).
fn is_structural_stream(obj: &Obj) -> bool {
    match &obj.value {
        Value::Stream(s) => matches!(s.dict.get_name(b"Type"), Some(b"XRef") | Some(b"ObjStm")),
        _ => false,
    }
}

/// None when the catalog differs from the previous revision's only in the allowed keys.
fn catalog_change(doc: &pdf::PdfDocument<'_>, rev: usize, new: &Obj) -> Option<&'static str> {
    let Some(new) = new.as_dict() else {
        return Some("catalog is not a dictionary");
    };
    let Some(prev_rev) = rev.checked_sub(1) else {
        return Some("catalog redefined");
    };
    let Ok(old) = doc.catalog(prev_rev) else {
        return Some("previous catalog unreadable");
    };
    let keys: HashSet<&[u8]> = new
        .entries
        .iter()
        .chain(old.entries.iter())
        .map(|(k, _)| k.as_slice())
        .collect();
    for key in keys {
        if CATALOG_KEYS_ALLOWED.contains(&key) {
            continue;
        }
        match (new.get(key), old.get(key)) {
            (Some(a), Some(b)) if same_value(a, b) => {}
            (None, None) => {}
            _ => return Some("catalog entry changed"),
        }
    }
    None
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

/// Every object reachable from the catalog's /DSS in revision `rev` (the DSS dictionary, its
/// arrays, VRI dictionaries and the certificate, CRL, OCSP and timestamp streams).
fn dss_closure(doc: &pdf::PdfDocument<'_>, rev: usize, catalog: &Dict) -> HashSet<ObjId> {
    let mut seen = HashSet::new();
    let mut stack: Vec<Obj> = catalog.get(b"DSS").cloned().into_iter().collect();
    while let Some(obj) = stack.pop() {
        if seen.len() >= MAX_DSS_OBJECTS {
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
            // Stream dictionaries may reference /Length etc.; their data is opaque.
            Value::Stream(s) => stack.extend(s.dict.entries.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    seen
}
