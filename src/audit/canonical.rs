//! A fast, allocation-free check that a stored body is exactly the canonical encoding of an entry
//! at a given index, for replaying a whole log (`antin audit verify-log`).
//!
//! [`entry::decode`](super::entry::decode) answers the same question by parsing into a
//! `serde_json::Value` and encoding it again, which costs most of a replay. This scanner reads the
//! bytes once and accepts only what the encoder writes: no whitespace, members in UTF-16 order
//! without repeats, integers without leading zeros (no `-0`), strings with only the shortest
//! escapes. It may refuse a body that `decode` accepts (a key with an escape in it, say): callers
//! treat `false` as "ask `decode`", never as a verdict. It must never accept one that `decode`
//! refuses; the tests and the fuzz target compare the two.

use super::entry::{MAX_ENTRY_BYTES, SCHEMA_VERSION};

/// serde_json refuses deeper nesting than 128; stay well inside it.
const MAX_DEPTH: usize = 100;

/// Whether `body` is certainly a valid, canonical entry sitting at `index` (see the module docs).
pub fn is_canonical_entry(body: &str, index: u64) -> bool {
    if body.len() > MAX_ENTRY_BYTES {
        return false;
    }
    let mut s = Scanner {
        b: body.as_bytes(),
        pos: 0,
    };
    s.top(index).is_some() && s.pos == s.b.len()
}

struct Scanner<'a> {
    b: &'a [u8],
    pos: usize,
}

/// What a top-level member's value was, for the field checks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Str,
    Obj,
    Int,
    Other,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.pos += 1)
    }

    /// The top-level object, with its required fields checked.
    fn top(&mut self, index: u64) -> Option<()> {
        self.eat(b'{')?;
        let (mut v, mut idx, mut kind, mut time, mut actor, mut data) =
            (false, false, false, false, false, false);
        let mut prev: Option<&'a [u8]> = None;
        if self.eat(b'}').is_some() {
            return None;
        }
        loop {
            let key = self.key(&mut prev)?;
            self.eat(b':')?;
            let start = self.pos;
            let shape = self.value(1)?;
            let raw = &self.b[start..self.pos];
            match key {
                b"v" => v = shape == Shape::Int && parse_u64(raw) == Some(SCHEMA_VERSION),
                b"index" => idx = shape == Shape::Int && parse_u64(raw) == Some(index),
                b"kind" => kind = shape == Shape::Str,
                b"time" => time = shape == Shape::Str,
                b"actor" => actor = shape == Shape::Str,
                b"data" => data = shape == Shape::Obj,
                _ => {}
            }
            if self.eat(b',').is_none() {
                break;
            }
        }
        self.eat(b'}')?;
        (v && idx && kind && time && actor && data).then_some(())
    }

    /// A member name, which must sort strictly after the previous one.
    fn key(&mut self, prev: &mut Option<&'a [u8]>) -> Option<&'a [u8]> {
        let start = self.pos;
        let escaped = self.string()?;
        if escaped {
            return None;
        }
        let key = &self.b[start + 1..self.pos - 1];
        if let Some(p) = prev {
            if !utf16_less(p, key) {
                return None;
            }
        }
        *prev = Some(key);
        Some(key)
    }

    fn value(&mut self, depth: usize) -> Option<Shape> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.string().map(|_| Shape::Str),
            b'{' => {
                self.pos += 1;
                if self.eat(b'}').is_some() {
                    return Some(Shape::Obj);
                }
                let mut prev = None;
                loop {
                    self.key(&mut prev)?;
                    self.eat(b':')?;
                    self.value(depth + 1)?;
                    if self.eat(b',').is_none() {
                        break;
                    }
                }
                self.eat(b'}').map(|_| Shape::Obj)
            }
            b'[' => {
                self.pos += 1;
                if self.eat(b']').is_some() {
                    return Some(Shape::Other);
                }
                loop {
                    self.value(depth + 1)?;
                    if self.eat(b',').is_none() {
                        break;
                    }
                }
                self.eat(b']').map(|_| Shape::Other)
            }
            b't' => self.word(b"true"),
            b'f' => self.word(b"false"),
            b'n' => self.word(b"null"),
            b'-' | b'0'..=b'9' => self.integer(),
            _ => None,
        }
    }

    fn word(&mut self, w: &[u8]) -> Option<Shape> {
        let end = self.pos.checked_add(w.len())?;
        (self.b.get(self.pos..end)? == w).then(|| {
            self.pos = end;
            Shape::Other
        })
    }

    /// `-?(0|[1-9][0-9]*)` within i64 (negative) or u64, and not `-0`: what the encoder writes.
    fn integer(&mut self) -> Option<Shape> {
        let start = self.pos;
        let negative = self.eat(b'-').is_some();
        let digits = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let d = &self.b[digits..self.pos];
        if d.is_empty() || (d[0] == b'0' && (d.len() > 1 || negative)) {
            return None;
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        let text = std::str::from_utf8(&self.b[start..self.pos]).ok()?;
        if negative {
            text.parse::<i64>().ok()?;
        } else {
            text.parse::<u64>().ok()?;
        }
        Some(Shape::Int)
    }

    /// A string in the encoder's form; returns whether it held an escape.
    fn string(&mut self) -> Option<bool> {
        self.eat(b'"')?;
        let mut escaped = false;
        loop {
            // Everything but the quote, the backslash and controls stands for itself.
            let rest = self.b.get(self.pos..)?;
            let run = rest
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
            self.pos += run;
            match self.b[self.pos] {
                b'"' => {
                    self.pos += 1;
                    return Some(escaped);
                }
                b'\\' => {
                    escaped = true;
                    let e = *self.b.get(self.pos + 1)?;
                    match e {
                        b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 2,
                        b'u' => {
                            // Only controls without a short form, in lowercase hex.
                            let hex = self.b.get(self.pos + 2..self.pos + 6)?;
                            if &hex[..2] != b"00" {
                                return None;
                            }
                            let v = u8::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16)
                                .ok()?;
                            let lower = hex[2..]
                                .iter()
                                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c));
                            if v >= 0x20 || !lower || matches!(v, 0x08 | 0x0c | 0x0a | 0x0d | 0x09)
                            {
                                return None;
                            }
                            self.pos += 6;
                        }
                        _ => return None,
                    }
                }
                _ => return None, // a raw control character
            }
        }
    }
}

fn parse_u64(raw: &[u8]) -> Option<u64> {
    std::str::from_utf8(raw).ok()?.parse().ok()
}

/// `a < b` by UTF-16 code units (RFC 8785 3.2.3), for unescaped member names.
fn utf16_less(a: &[u8], b: &[u8]) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a < b;
    }
    match (std::str::from_utf8(a), std::str::from_utf8(b)) {
        (Ok(a), Ok(b)) => a.encode_utf16().lt(b.encode_utf16()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::entry::{decode, EntryKind, NewEntry};
    use serde_json::json;

    fn body(data: serde_json::Value, index: u64) -> String {
        NewEntry::new(
            EntryKind::Admin,
            time::macros::datetime!(2026-11-22 03:30:05 UTC),
            "key:ab12",
            data,
        )
        .encode(index)
        .unwrap()
    }

    #[test]
    fn what_the_encoder_writes_passes() {
        for data in [
            json!({}),
            json!({"n": 7, "neg": -12, "big": u64::MAX, "small": i64::MIN}),
            json!({"s": "Nguyễn Văn An \"q\" \\ \n\t\r\u{8}\u{c}\u{1}\u{1f} /", "a": [1, [], {}, null, true, false]}),
            json!({"é": 1, "z": 2, "\u{ffff}": 3, "\u{10000}": 4, "deep": {"b": {"a": [{"y": 1, "x": 2}]}}}),
        ] {
            let b = body(data, 42);
            assert!(is_canonical_entry(&b, 42), "{b}");
            assert!(!is_canonical_entry(&b, 41), "{b}");
        }
    }

    #[test]
    fn never_accepts_what_decode_refuses() {
        let good = body(json!({"n": 1, "s": "x"}), 3);
        let mut cases: Vec<String> = vec![
            good.replace("{\"actor\"", "{ \"actor\""),
            good.replace("\"n\":1", "\"n\":1.0"),
            good.replace("\"n\":1", "\"n\":01"),
            good.replace("\"n\":1", "\"n\":-0"),
            good.replace("\"n\":1", "\"n\":1e0"),
            good.replace("\"n\":1", "\"n\":18446744073709551616"),
            good.replace("\"s\":\"x\"", "\"s\":\"\\u0078\""),
            good.replace("\"s\":\"x\"", "\"s\":\"\\/\""),
            good.replace("\"s\":\"x\"", "\"s\":\"\\u001F\""),
            good.replace("\"s\":\"x\"", "\"s\":\"\\u000a\""),
            good.replace("\"s\":\"x\"", "\"s\":\"\u{1}\""),
            good.replace("\"n\":1,\"s\"", "\"s\":\"y\",\"n\":1,\"s\""),
            good.replace("\"v\":1", "\"v\":2"),
            good.replace("\"v\":1", "\"v\":\"1\""),
            good.replace("\"data\":{", "\"data\":[{")
                .replace("}}", "}]}"),
            format!("{good} "),
            format!("{good}{{}}"),
            good[..good.len() - 1].to_owned(),
            "[]".into(),
            "{}".into(),
            format!("{}1{}", "[".repeat(150), "]".repeat(150)),
        ];
        cases.push(good.replace("\"n\":1,", "\"n\":1,\"n\":1,"));
        for case in &cases {
            if is_canonical_entry(case, 3) {
                assert!(
                    decode(case, 3).is_ok(),
                    "accepted what decode refuses: {case}"
                );
            }
        }
        assert!(is_canonical_entry(&good, 3));
    }

    /// Every one-byte edit of real bodies: whatever the fast check accepts, decode accepts too.
    #[test]
    fn single_byte_edits_agree_with_decode() {
        let goods = [
            body(
                json!({"n": 10, "neg": -3, "s": "Thời gian ký \"a\"\n\u{1}", "a": [1, {"b": null}]}),
                3,
            ),
            body(json!({"é": true, "z": false}), 3),
        ];
        let replacements = b" \"\\,:{}[]01-9aeu.E\n\x01";
        let mut accepted = 0;
        for good in &goods {
            let bytes = good.as_bytes();
            for i in 0..bytes.len() {
                let mut variants: Vec<Vec<u8>> = Vec::new();
                let mut deleted = bytes.to_vec();
                deleted.remove(i);
                variants.push(deleted);
                for &r in replacements {
                    let mut v = bytes.to_vec();
                    v[i] = r;
                    variants.push(v.clone());
                    v.insert(i, r);
                    variants.push(v);
                }
                for v in variants {
                    let Ok(text) = String::from_utf8(v) else {
                        continue;
                    };
                    if is_canonical_entry(&text, 3) {
                        accepted += 1;
                        assert!(
                            decode(&text, 3).is_ok(),
                            "accepted what decode refuses: {text}"
                        );
                    }
                }
            }
        }
        assert!(
            accepted > 0,
            "some edits (a digit, a letter in a string) stay canonical"
        );
    }
}
