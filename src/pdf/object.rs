//! PDF object model (ISO 32000-2 7.3): values with the byte spans they were parsed from.
//!
//! Spans let callers read the exact bytes of a value (the signature dictionary's /Contents and
//! /ByteRange must be judged on the bytes as written, not on a repaired graph). This module never
//! resolves references by itself: that is the document's job, bounded by its limits.

/// An indirect object identifier: object number and generation (ISO 32000-2 7.3.10).
pub type ObjId = (u32, u16);

/// A parsed value and the half-open byte range `[start, end)` it occupied in its source buffer
/// (the file, or the decoded data of an object stream).
#[derive(Debug, Clone, PartialEq)]
pub struct Obj {
    /// Byte range of the value in its source buffer.
    pub span: (usize, usize),
    /// The value.
    pub value: Value,
}

/// The PDF value kinds (ISO 32000-2 7.3).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A real number.
    Real(f64),
    /// A literal `( )` or hexadecimal `< >` string, decoded.
    Str {
        /// The decoded bytes.
        bytes: Vec<u8>,
        /// True for a hexadecimal string.
        hex: bool,
    },
    /// A name, with `#xx` escapes decoded, without the leading `/`.
    Name(Vec<u8>),
    /// An array.
    Array(Vec<Obj>),
    /// A dictionary.
    Dict(Dict),
    /// An indirect reference `n g R`.
    Ref(ObjId),
    /// A stream: its dictionary and the span of its raw (still encoded) data.
    Stream(Stream),
}

/// A dictionary, in file order. Duplicate keys keep the first value on lookup (ISO 32000-2 leaves
/// duplicates undefined; taking one fixed answer keeps readers consistent).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dict {
    /// Entries as `(key, value)`, key without the leading `/`.
    pub entries: Vec<(Vec<u8>, Obj)>,
}

/// A stream object: dictionary plus the raw data span in the source buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// The stream dictionary.
    pub dict: Dict,
    /// `[start, end)` of the raw data, between `stream` EOL and `endstream`.
    pub data: (usize, usize),
}

impl Dict {
    /// The value for `key` (without the `/`).
    pub fn get(&self, key: &[u8]) -> Option<&Obj> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_slice() == key)
            .map(|(_, v)| v)
    }

    /// The name value for `key`, if it is a name.
    pub fn get_name(&self, key: &[u8]) -> Option<&[u8]> {
        self.get(key).and_then(Obj::as_name)
    }

    /// The integer value for `key`, if it is a direct integer.
    pub fn get_int(&self, key: &[u8]) -> Option<i64> {
        self.get(key).and_then(Obj::as_int)
    }
}

impl Obj {
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self.value {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }
    /// The name bytes, if this is a name.
    pub fn as_name(&self) -> Option<&[u8]> {
        match &self.value {
            Value::Name(n) => Some(n),
            _ => None,
        }
    }
    /// The string bytes, if this is a string.
    pub fn as_str_bytes(&self) -> Option<&[u8]> {
        match &self.value {
            Value::Str { bytes, .. } => Some(bytes),
            _ => None,
        }
    }
    /// The dictionary, if this is a dictionary or a stream (its dictionary).
    pub fn as_dict(&self) -> Option<&Dict> {
        match &self.value {
            Value::Dict(d) => Some(d),
            Value::Stream(s) => Some(&s.dict),
            _ => None,
        }
    }
    /// The array items, if this is an array.
    pub fn as_array(&self) -> Option<&[Obj]> {
        match &self.value {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
    /// The referenced id, if this is an indirect reference.
    pub fn as_ref(&self) -> Option<ObjId> {
        match self.value {
            Value::Ref(id) => Some(id),
            _ => None,
        }
    }
}

/// Decode a PDF text string (ISO 32000-2 7.9.2.2): UTF-16BE or UTF-8 with BOM, else PDFDocEncoding.
pub fn decode_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        let units = rest
            .chunks(2)
            .map(|c| match c {
                [a, b] => u16::from_be_bytes([*a, *b]),
                _ => 0xFFFD,
            })
            .collect::<Vec<u16>>();
        return char::decode_utf16(units)
            .map(|r| r.unwrap_or('\u{FFFD}'))
            .collect();
    }
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8_lossy(rest).into_owned();
    }
    bytes.iter().map(|&b| pdfdoc_char(b)).collect()
}

/// PDFDocEncoding (ISO 32000-2 Annex D.2): Latin-1 except 0x18..0x1F and 0x80..0xA0.
fn pdfdoc_char(b: u8) -> char {
    const HIGH: [char; 33] = [
        '\u{2022}', '\u{2020}', '\u{2021}', '\u{2026}', '\u{2014}', '\u{2013}', '\u{0192}',
        '\u{2044}', '\u{2039}', '\u{203A}', '\u{2212}', '\u{2030}', '\u{201E}', '\u{201C}',
        '\u{201D}', '\u{2018}', '\u{2019}', '\u{201A}', '\u{2122}', '\u{FB01}', '\u{FB02}',
        '\u{0141}', '\u{0152}', '\u{0160}', '\u{0178}', '\u{017D}', '\u{0131}', '\u{0142}',
        '\u{0153}', '\u{0161}', '\u{017E}', '\u{FFFD}', '\u{20AC}',
    ];
    const LOW: [char; 8] = [
        '\u{02D8}', '\u{02C7}', '\u{02C6}', '\u{02D9}', '\u{02DD}', '\u{02DB}', '\u{02DA}',
        '\u{02DC}',
    ];
    match b {
        0x18..=0x1F => LOW
            .get(usize::from(b - 0x18))
            .copied()
            .unwrap_or('\u{FFFD}'),
        0x80..=0xA0 => HIGH
            .get(usize::from(b - 0x80))
            .copied()
            .unwrap_or('\u{FFFD}'),
        _ => char::from(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_decodes_utf16_and_pdfdoc() {
        assert_eq!(decode_text(b"\xFE\xFF\x00S\x1E\xA1"), "S\u{1EA1}");
        assert_eq!(decode_text(b"Sig\x80\xA0"), "Sig\u{2022}\u{20AC}");
        assert_eq!(decode_text(b"\xE9"), "\u{e9}");
    }
}
