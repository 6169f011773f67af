//! What the log holds: a versioned, canonical encoding of each decision, so that the same entry
//! always has the same bytes (and so the same leaf hash) whoever encodes it.
//!
//! The encoding is canonical JSON (the RFC 8785 rules restricted to what we emit: objects with keys
//! sorted by their UTF-16 code units, which for our ASCII keys is byte order; no whitespace; integers
//! only, never floats; strings escaped as serde_json does). Every entry carries its schema version
//! `v`, its own position `index` (so a reordered row can never pass as the original), its `kind`, the
//! UTC time, the actor, and a `data` object whose fields depend on the kind.
//!
//! Personal identifiers (CCCD, MST, payer names) never appear in clear: callers put them through a
//! [`Pseudonymizer`], a keyed hash (HMAC-SHA256) whose key stays with the operator, so a log handed
//! to an auditor carries no personal data, yet the operator can still answer "was this citizen's
//! signature checked on that day" by hashing the identifier again.
//!
//! This module never reads the clock or the database: the time and the index are given to it.

use ring::hmac;
use serde_json::Value;
use time::OffsetDateTime;

/// The schema version written in every entry's `v`.
pub const SCHEMA_VERSION: u64 = 1;

/// Entries larger than this are refused (a log entry records hashes and identifiers, not documents).
pub const MAX_ENTRY_BYTES: usize = 64 * 1024;

/// What an entry records. The string forms are part of the log format: never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryKind {
    /// A signature verification (document hash, verdict, evidence hashes, caller).
    Verification,
    /// A document antin signed (document id, signed file hash, profile, signer certificate hash).
    DocumentSigned,
    /// An issued document marked revoked or superseded.
    DocumentStatus,
    /// A payment's state change, with its cause.
    PaymentState,
    /// A callback received from a gateway (with the hash of its raw message).
    PaymentCallback,
    /// A reconciliation run and its result.
    ReconRun,
    /// A reconciliation discrepancy resolved by an officer.
    ReconResolution,
    /// An administrative action: API keys, trust anchors, configuration.
    Admin,
}

impl EntryKind {
    pub const ALL: [EntryKind; 8] = [
        EntryKind::Verification,
        EntryKind::DocumentSigned,
        EntryKind::DocumentStatus,
        EntryKind::PaymentState,
        EntryKind::PaymentCallback,
        EntryKind::ReconRun,
        EntryKind::ReconResolution,
        EntryKind::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Verification => "verification",
            EntryKind::DocumentSigned => "document_signed",
            EntryKind::DocumentStatus => "document_status",
            EntryKind::PaymentState => "payment_state",
            EntryKind::PaymentCallback => "payment_callback",
            EntryKind::ReconRun => "recon_run",
            EntryKind::ReconResolution => "recon_resolution",
            EntryKind::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// An entry before it has a place in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    pub kind: EntryKind,
    pub time: OffsetDateTime,
    /// Who caused it: an API key id (`key:...`), `cli:<user>`, `system`, a gateway name.
    pub actor: String,
    /// Kind-specific fields; must be a JSON object of strings, integers, booleans, nulls, arrays
    /// and objects (no floats).
    pub data: Value,
}

/// An entry as stored and served: its index and its exact canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEntry {
    pub index: u64,
    pub body: String,
}

/// A decoded entry (what an auditor reads back out of a body).
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedEntry {
    pub version: u64,
    pub index: u64,
    pub kind: String,
    pub time: String,
    pub actor: String,
    pub data: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// RFC 8785 3.2.2.3: only numbers that are exact integers are emitted; money is integer VND.
    #[error("entry field {path} is a fractional number; log entries hold integers only")]
    Float { path: String },
    /// `data` must be an object so that fields can be added in later schema versions.
    #[error("entry data must be a JSON object")]
    DataNotObject,
    #[error("entry is {size} bytes, more than the {limit} allowed")]
    TooLarge { size: usize, limit: usize },
    #[error("entry is not valid JSON: {0}")]
    Syntax(String),
    #[error("entry is valid JSON but not canonical (re-encoding differs)")]
    NotCanonical,
    #[error("entry field {field} is missing or has the wrong type")]
    Field { field: &'static str },
    #[error("entry says index {claimed} but sits at index {actual}")]
    IndexMismatch { claimed: u64, actual: u64 },
    #[error("entry schema version {0} is not supported")]
    Version(u64),
}

impl NewEntry {
    pub fn new(
        kind: EntryKind,
        time: OffsetDateTime,
        actor: impl Into<String>,
        data: Value,
    ) -> Self {
        NewEntry {
            kind,
            time,
            actor: actor.into(),
            data,
        }
    }

    /// The canonical bytes of this entry at `index`.
    pub fn encode(&self, index: u64) -> Result<String, EntryError> {
        if !self.data.is_object() {
            return Err(EntryError::DataNotObject);
        }
        let value = serde_json::json!({
            "v": SCHEMA_VERSION,
            "index": index,
            "kind": self.kind.as_str(),
            "time": crate::store::fmt_time(self.time),
            "actor": self.actor,
            "data": self.data,
        });
        let mut out = String::with_capacity(256);
        write_canonical(&value, &mut out).map_err(|()| float_error(&value))?;
        if out.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge {
                size: out.len(),
                limit: MAX_ENTRY_BYTES,
            });
        }
        Ok(out)
    }
}

/// Checks that a stored or downloaded body is a valid, canonical entry at `index`, as [`decode`]
/// does, without building the value when it is (the common case of a replay).
pub fn check(body: &str, index: u64) -> Result<(), EntryError> {
    if super::canonical::is_canonical_entry(body, index) {
        return Ok(());
    }
    decode(body, index).map(|_| ())
}

/// Parses a stored or downloaded body, checking that it is canonical and sits at `index`.
pub fn decode(body: &str, index: u64) -> Result<DecodedEntry, EntryError> {
    if body.len() > MAX_ENTRY_BYTES {
        return Err(EntryError::TooLarge {
            size: body.len(),
            limit: MAX_ENTRY_BYTES,
        });
    }
    let value: Value = serde_json::from_str(body).map_err(|e| EntryError::Syntax(e.to_string()))?;
    let mut again = String::with_capacity(body.len());
    write_canonical(&value, &mut again).map_err(|()| float_error(&value))?;
    if again != body {
        return Err(EntryError::NotCanonical);
    }
    let version = value
        .get("v")
        .and_then(Value::as_u64)
        .ok_or(EntryError::Field { field: "v" })?;
    if version != SCHEMA_VERSION {
        return Err(EntryError::Version(version));
    }
    let claimed = value
        .get("index")
        .and_then(Value::as_u64)
        .ok_or(EntryError::Field { field: "index" })?;
    if claimed != index {
        return Err(EntryError::IndexMismatch {
            claimed,
            actual: index,
        });
    }
    let text = |field: &'static str| {
        value
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(EntryError::Field { field })
    };
    let data = value
        .get("data")
        .filter(|d| d.is_object())
        .cloned()
        .ok_or(EntryError::Field { field: "data" })?;
    Ok(DecodedEntry {
        version,
        index,
        kind: text("kind")?,
        time: text("time")?,
        actor: text("actor")?,
        data,
    })
}

/// Writes `v` canonically; `Err` on a fractional number (see [`float_error`] for where).
fn write_canonical(v: &Value, out: &mut String) -> Result<(), ()> {
    use std::fmt::Write as _;
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else {
                return Err(());
            }
        }
        Value::String(s) => push_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            // RFC 8785 3.2.3: members sorted by the UTF-16 code units of their names (for ASCII
            // names, byte order: no sort needed when serde_json's map already holds them so).
            let mut keys: Vec<&String> = map.keys().collect();
            if !keys
                .windows(2)
                .all(|w| w[0].is_ascii() && w[1].is_ascii() && w[0] < w[1])
            {
                keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            }
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_string(k, out);
                out.push(':');
                if let Some(item) = map.get(*k) {
                    write_canonical(item, out)?;
                }
            }
            out.push('}');
        }
    }
    Ok(())
}

/// The error for a value holding a fractional number, naming the first one's path.
fn float_error(v: &Value) -> EntryError {
    fn find(v: &Value, path: &str) -> Option<String> {
        match v {
            Value::Number(n) if n.as_i64().is_none() && n.as_u64().is_none() => {
                Some(path.to_owned())
            }
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, item)| find(item, &format!("{path}[{i}]"))),
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
                keys.into_iter()
                    .find_map(|k| find(&map[k.as_str()], &format!("{path}.{k}")))
            }
            _ => None,
        }
    }
    EntryError::Float {
        path: find(v, "").unwrap_or_default(),
    }
}

/// RFC 8785 3.2.2.2: the shortest escapes (\" \\ \b \f \n \r \t, \u00XX for other controls),
/// everything else as UTF-8.
fn push_string(s: &str, out: &mut String) {
    out.push('"');
    if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Keyed hashes of personal identifiers (HMAC-SHA256), written as `hmac-sha256:<hex>`.
pub struct Pseudonymizer {
    key: hmac::Key,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer(<key hidden>)")
    }
}

impl Pseudonymizer {
    pub fn new(key: &[u8]) -> Self {
        Pseudonymizer {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    /// The keyed hash of an identifier, NFC-normalised and trimmed first so that the same person
    /// always maps to the same value.
    pub fn pseudonym(&self, identifier: &str) -> String {
        use unicode_normalization::UnicodeNormalization;
        let normal: String = identifier.trim().nfc().collect();
        let tag = hmac::sign(&self.key, normal.as_bytes());
        format!("hmac-sha256:{}", hex::encode(tag.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at() -> OffsetDateTime {
        time::macros::datetime!(2026-11-22 03:30:05 UTC)
    }

    #[test]
    fn encoding_is_canonical_and_stable() {
        let e = NewEntry::new(
            EntryKind::Verification,
            at(),
            "key:abc",
            json!({"verdict": "TOTAL_PASSED", "b": [1, -2, true, null], "a": {"z": "ấn tín\n", "y": 0}}),
        );
        let body = e.encode(7).unwrap();
        assert_eq!(
            body,
            "{\"actor\":\"key:abc\",\"data\":{\"a\":{\"y\":0,\"z\":\"ấn tín\\n\"},\"b\":[1,-2,true,null],\
             \"verdict\":\"TOTAL_PASSED\"},\"index\":7,\"kind\":\"verification\",\
             \"time\":\"2026-11-22T03:30:05.000000Z\",\"v\":1}"
        );
        let d = decode(&body, 7).unwrap();
        assert_eq!(d.kind, "verification");
        assert_eq!(d.actor, "key:abc");
        assert_eq!(d.data["verdict"], "TOTAL_PASSED");
    }

    #[test]
    fn floats_are_refused() {
        let e = NewEntry::new(EntryKind::Admin, at(), "x", json!({"amount": 1.5}));
        assert_eq!(
            e.encode(0),
            Err(EntryError::Float {
                path: ".data.amount".into()
            })
        );
    }

    #[test]
    fn data_must_be_an_object() {
        let e = NewEntry::new(EntryKind::Admin, at(), "x", json!([1]));
        assert_eq!(e.encode(0), Err(EntryError::DataNotObject));
    }

    #[test]
    fn a_body_at_another_index_is_refused() {
        let body = NewEntry::new(EntryKind::Admin, at(), "x", json!({}))
            .encode(3)
            .unwrap();
        assert_eq!(
            decode(&body, 4),
            Err(EntryError::IndexMismatch {
                claimed: 3,
                actual: 4
            })
        );
    }

    #[test]
    fn non_canonical_bodies_are_refused() {
        let body = NewEntry::new(EntryKind::Admin, at(), "x", json!({"k": 1}))
            .encode(0)
            .unwrap();
        let spaced = body.replacen(':', ": ", 1);
        assert_eq!(decode(&spaced, 0), Err(EntryError::NotCanonical));
        assert!(matches!(decode("{", 0), Err(EntryError::Syntax(_))));
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut s = String::new();
        push_string("a\u{01}\u{1f}\"\\", &mut s);
        assert_eq!(s, "\"a\\u0001\\u001f\\\"\\\\\"");
    }

    #[test]
    fn pseudonyms_are_keyed_and_normalised() {
        let p = Pseudonymizer::new(b"k1");
        let q = Pseudonymizer::new(b"k2");
        assert_eq!(
            p.pseudonym("CCCD:001099012345"),
            p.pseudonym(" CCCD:001099012345 ")
        );
        assert_ne!(
            p.pseudonym("CCCD:001099012345"),
            q.pseudonym("CCCD:001099012345")
        );
        // NFC: "ế" precomposed and decomposed hash alike.
        assert_eq!(
            p.pseudonym("Nguy\u{1ebf}n"),
            p.pseudonym("Nguye\u{302}\u{301}n")
        );
        assert!(!format!("{p:?}").contains("k1"));
    }

    #[test]
    fn kinds_round_trip() {
        for k in EntryKind::ALL {
            assert_eq!(EntryKind::parse(k.as_str()), Some(k));
        }
    }
}
