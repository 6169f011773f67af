//! Tokeniser and direct-object parser (ISO 32000-2 7.2, 7.3).
//!
//! Parses one value at a time from a byte slice, recording spans. Bounded: nesting depth, array and
//! dictionary sizes and string lengths come from [`ParseLimits`]. It never follows references and
//! never reads stream data (the document decides where a stream ends).

use super::object::{Dict, Obj, ObjId, Value};
use super::PdfError;

/// Bounds for one value.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// Maximum nesting of arrays and dictionaries.
    pub max_depth: usize,
    /// Maximum items in one array or entries in one dictionary.
    pub max_items: usize,
    /// Maximum decoded length of one string.
    pub max_string: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_items: 1 << 20,
            max_string: 64 << 20,
        }
    }
}

/// PDF whitespace (ISO 32000-2 Table 1).
/// The value of a hex digit, or 0xff for any other byte.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

pub fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0C | 0)
}

/// PDF delimiters (ISO 32000-2 Table 2).
pub fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

fn is_regular(b: u8) -> bool {
    !is_ws(b) && !is_delim(b)
}

/// A cursor over a buffer.
pub struct Parser<'a> {
    buf: &'a [u8],
    /// Current offset into `buf`.
    pub pos: usize,
    limits: ParseLimits,
}

impl<'a> Parser<'a> {
    /// A parser over `buf` starting at `pos`.
    pub fn new(buf: &'a [u8], pos: usize, limits: ParseLimits) -> Self {
        Self { buf, pos, limits }
    }

    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn err(&self, what: &'static str) -> PdfError {
        PdfError::Syntax {
            offset: self.pos,
            what,
        }
    }

    /// Skip whitespace and comments.
    pub fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            if is_ws(b) {
                self.pos += 1;
            } else if b == b'%' {
                while let Some(c) = self.peek() {
                    if c == b'\r' || c == b'\n' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// The next regular-character token without consuming it.
    pub fn peek_keyword(&mut self) -> &'a [u8] {
        self.skip_ws();
        let start = self.pos;
        let mut end = start;
        while self.buf.get(end).is_some_and(|&b| is_regular(b)) {
            end += 1;
        }
        self.buf.get(start..end).unwrap_or_default()
    }

    /// Consume the keyword `kw` (after whitespace), or fail.
    pub fn expect_keyword(&mut self, kw: &'static str) -> Result<(), PdfError> {
        if self.peek_keyword() == kw.as_bytes() {
            self.pos += kw.len();
            Ok(())
        } else {
            Err(self.err(kw))
        }
    }

    /// Parse an unsigned integer token (used for `n g obj` headers and xref data).
    pub fn parse_uint(&mut self) -> Result<u64, PdfError> {
        self.skip_ws();
        let start = self.pos;
        let mut v: u64 = 0;
        while let Some(b) = self.peek().filter(u8::is_ascii_digit) {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .ok_or_else(|| self.err("integer overflow"))?;
            self.pos += 1;
        }
        if self.pos == start || self.peek().is_some_and(is_regular) {
            return Err(self.err("unsigned integer"));
        }
        Ok(v)
    }

    /// Parse one value (a reference `n g R` is recognised here).
    pub fn parse_object(&mut self) -> Result<Obj, PdfError> {
        self.parse_at_depth(0)
    }

    fn parse_at_depth(&mut self, depth: usize) -> Result<Obj, PdfError> {
        if depth > self.limits.max_depth {
            return Err(PdfError::LimitExceeded {
                what: "nesting depth",
                limit: self.limits.max_depth as u64,
            });
        }
        self.skip_ws();
        let start = self.pos;
        let b = self.peek().ok_or_else(|| self.err("value"))?;
        let value = match b {
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some(b']') => {
                            self.pos += 1;
                            break;
                        }
                        None => return Err(self.err("]")),
                        _ => {}
                    }
                    if items.len() >= self.limits.max_items {
                        return Err(PdfError::LimitExceeded {
                            what: "array size",
                            limit: self.limits.max_items as u64,
                        });
                    }
                    items.push(self.parse_at_depth(depth + 1)?);
                }
                Value::Array(items)
            }
            b'<' if self.buf.get(self.pos + 1) == Some(&b'<') => {
                self.pos += 2;
                Value::Dict(self.parse_dict_body(depth)?)
            }
            b'<' => Value::Str {
                bytes: self.parse_hex_string()?,
                hex: true,
            },
            b'(' => Value::Str {
                bytes: self.parse_literal_string()?,
                hex: false,
            },
            b'/' => Value::Name(self.parse_name()?),
            b'+' | b'-' | b'.' | b'0'..=b'9' => self.parse_number_or_ref()?,
            _ => {
                let kw = self.peek_keyword();
                let v = match kw {
                    b"true" => Value::Bool(true),
                    b"false" => Value::Bool(false),
                    b"null" => Value::Null,
                    _ => return Err(self.err("value")),
                };
                self.pos += kw.len();
                v
            }
        };
        Ok(Obj {
            span: (start, self.pos),
            value,
        })
    }

    fn parse_dict_body(&mut self, depth: usize) -> Result<Dict, PdfError> {
        let mut entries = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b'>') if self.buf.get(self.pos + 1) == Some(&b'>') => {
                    self.pos += 2;
                    return Ok(Dict { entries });
                }
                Some(b'/') => {}
                _ => return Err(self.err("dictionary key")),
            }
            if entries.len() >= self.limits.max_items {
                return Err(PdfError::LimitExceeded {
                    what: "dictionary size",
                    limit: self.limits.max_items as u64,
                });
            }
            let key = self.parse_name()?;
            let value = self.parse_at_depth(depth + 1)?;
            entries.push((key, value));
        }
    }

    fn parse_name(&mut self) -> Result<Vec<u8>, PdfError> {
        // Caller saw '/'.
        self.pos += 1;
        let mut out = Vec::new();
        while let Some(b) = self.peek().filter(|&b| is_regular(b)) {
            if b == b'#' {
                let hex = self.buf.get(self.pos + 1..self.pos + 3);
                if let Some(v) = hex.and_then(|h| {
                    std::str::from_utf8(h)
                        .ok()
                        .and_then(|s| u8::from_str_radix(s, 16).ok())
                }) {
                    out.push(v);
                    self.pos += 3;
                    continue;
                }
            }
            out.push(b);
            self.pos += 1;
            if out.len() > 4096 {
                return Err(PdfError::LimitExceeded {
                    what: "name length",
                    limit: 4096,
                });
            }
        }
        Ok(out)
    }

    fn check_string_len(&self, len: usize) -> Result<(), PdfError> {
        if len > self.limits.max_string {
            Err(PdfError::LimitExceeded {
                what: "string length",
                limit: self.limits.max_string as u64,
            })
        } else {
            Ok(())
        }
    }

    /// Parse `<hex>`; whitespace allowed inside; odd length pads with 0 (ISO 32000-2 7.3.4.3).
    fn parse_hex_string(&mut self) -> Result<Vec<u8>, PdfError> {
        self.pos += 1;
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let close = memchr::memchr(b'>', rest).ok_or_else(|| self.err("hex string end"))?;
        self.check_string_len(close / 2)?;
        let digits = rest.get(..close).unwrap_or_default();
        let mut out = Vec::with_capacity(close / 2);
        // A signature's /Contents is tens of kilobytes of hex without whitespace: decode pairs
        // through a table until something else than two hex digits comes, then go on one byte
        // at a time (whitespace, an odd digit count, or an error to report at its position).
        let mut i = 0;
        while let Some(&[h, l]) = digits.get(i..i + 2) {
            let (h, l) = (HEX_VALUE[usize::from(h)], HEX_VALUE[usize::from(l)]);
            if (h | l) & 0xf0 != 0 {
                break;
            }
            out.push(h << 4 | l);
            i += 2;
        }
        let mut hi: Option<u8> = None;
        for (j, &b) in digits.iter().enumerate().skip(i) {
            let v = HEX_VALUE[usize::from(b)];
            if v & 0xf0 != 0 {
                if is_ws(b) {
                    continue;
                }
                self.pos += j;
                return Err(self.err("hex digit"));
            }
            match hi.take() {
                Some(h) => out.push(h << 4 | v),
                None => hi = Some(v),
            }
        }
        if let Some(h) = hi {
            out.push(h << 4);
        }
        self.pos += close + 1;
        Ok(out)
    }

    /// Parse `(literal)` with escapes and balanced parentheses (ISO 32000-2 7.3.4.2).
    fn parse_literal_string(&mut self) -> Result<Vec<u8>, PdfError> {
        self.pos += 1;
        let mut out = Vec::new();
        let mut nest = 0usize;
        loop {
            let b = self.peek().ok_or_else(|| self.err("string end"))?;
            self.pos += 1;
            match b {
                b'(' => {
                    nest += 1;
                    out.push(b);
                }
                b')' if nest == 0 => break,
                b')' => {
                    nest -= 1;
                    out.push(b);
                }
                b'\\' => {
                    let e = self.peek().ok_or_else(|| self.err("string escape"))?;
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push((v & 0xFF) as u8);
                        }
                        other => out.push(other),
                    }
                }
                b'\r' => {
                    // An unescaped end-of-line is read as a single LF (ISO 32000-2 7.3.4.2).
                    if self.peek() == Some(b'\n') {
                        self.pos += 1;
                    }
                    out.push(b'\n');
                }
                _ => out.push(b),
            }
            self.check_string_len(out.len())?;
        }
        Ok(out)
    }

    fn parse_number_token(&mut self) -> Result<Value, PdfError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| matches!(b, b'+' | b'-' | b'.' | b'0'..=b'9'))
        {
            self.pos += 1;
        }
        let tok = self.buf.get(start..self.pos).unwrap_or_default();
        let s = std::str::from_utf8(tok).map_err(|_| self.err("number"))?;
        if !tok.contains(&b'.') {
            if let Ok(i) = s.parse::<i64>() {
                return Ok(Value::Int(i));
            }
        }
        // Lenient like common readers: "--5", "5." and overflowing integers become reals.
        let t = s.trim_start_matches(['+', '-']);
        let neg = s.starts_with('-');
        match t.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Real(if neg { -f } else { f })),
            _ if t == "." || t.is_empty() => Ok(Value::Real(0.0)),
            _ => Err(self.err("number")),
        }
    }

    fn parse_number_or_ref(&mut self) -> Result<Value, PdfError> {
        let first = self.parse_number_token()?;
        let Value::Int(num) = first else {
            return Ok(first);
        };
        // Look ahead for "g R" without committing.
        let save = self.pos;
        if num >= 0 && self.peek().is_some_and(is_ws) {
            self.skip_ws();
            if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                if let Ok(gen) = self.parse_uint() {
                    if self.peek_keyword() == b"R" {
                        if let (Ok(n), Ok(g)) = (u32::try_from(num), u16::try_from(gen)) {
                            self.pos += 1;
                            return Ok(Value::Ref((n, g)));
                        }
                    }
                }
            }
        }
        self.pos = save;
        Ok(Value::Int(num))
    }

    /// Parse an indirect object header `n g obj`, returning its id.
    pub fn parse_obj_header(&mut self) -> Result<ObjId, PdfError> {
        let n = self.parse_uint()?;
        let g = self.parse_uint()?;
        self.expect_keyword("obj")?;
        let n = u32::try_from(n).map_err(|_| self.err("object number"))?;
        let g = u16::try_from(g).map_err(|_| self.err("generation"))?;
        Ok((n, g))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> Result<Obj, PdfError> {
        Parser::new(s, 0, ParseLimits::default()).parse_object()
    }

    /// The one-byte-at-a-time decoder the table-driven fast path must agree with.
    fn reference_hex(digits: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut hi: Option<u8> = None;
        for &b in digits {
            let v = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                b'A'..=b'F' => b - b'A' + 10,
                _ if is_ws(b) => continue,
                _ => return None,
            };
            match hi.take() {
                Some(h) => out.push(h << 4 | v),
                None => hi = Some(v),
            }
        }
        if let Some(h) = hi {
            out.push(h << 4);
        }
        Some(out)
    }

    #[test]
    fn hex_strings_decode_like_the_reference() {
        // Every string of up to 5 symbols over digits, whitespace and a non-hex byte, plus long
        // runs with whitespace or a bad byte at every position.
        let alphabet = [b'0', b'9', b'a', b'F', b' ', b'\n', b'g'];
        let mut cases: Vec<Vec<u8>> = vec![Vec::new()];
        let mut frontier = cases.clone();
        for _ in 0..5 {
            frontier = frontier
                .iter()
                .flat_map(|c| {
                    alphabet.iter().map(move |&a| {
                        let mut c = c.clone();
                        c.push(a);
                        c
                    })
                })
                .collect();
            cases.extend(frontier.iter().cloned());
        }
        let long: Vec<u8> = b"0123456789abcdefABCDEF".repeat(20);
        for pos in 0..long.len() {
            for odd in [b' ', b'\r', b'z'] {
                let mut c = long.clone();
                c.insert(pos, odd);
                cases.push(c);
            }
        }
        for digits in cases {
            let mut src = vec![b'<'];
            src.extend_from_slice(&digits);
            src.push(b'>');
            let got = parse(&src)
                .ok()
                .and_then(|o| o.as_str_bytes().map(<[u8]>::to_vec));
            assert_eq!(
                got,
                reference_hex(&digits),
                "{:?}",
                String::from_utf8_lossy(&digits)
            );
        }
    }

    #[test]
    fn parses_all_kinds() {
        let src =
            b"<< /A 1 /B -2.5 /C (a\\(b\\)\\101) /D <41 4> /E /N#20x /F [1 0 R true null] >> x";
        let o = parse(src).unwrap();
        let d = o.as_dict().unwrap();
        assert_eq!(d.get_int(b"A"), Some(1));
        assert_eq!(d.get(b"B").unwrap().value, Value::Real(-2.5));
        assert_eq!(d.get(b"C").unwrap().as_str_bytes(), Some(&b"a(b)A"[..]));
        assert_eq!(d.get(b"D").unwrap().as_str_bytes(), Some(&b"A@"[..]));
        assert_eq!(d.get_name(b"E"), Some(&b"N x"[..]));
        let f = d.get(b"F").unwrap().as_array().unwrap();
        assert_eq!(f[0].value, Value::Ref((1, 0)));
        assert_eq!(f[1].value, Value::Bool(true));
        assert_eq!(f[2].value, Value::Null);
        assert_eq!(o.span, (0, src.len() - 2));
    }

    #[test]
    fn spans_cover_hex_string_delimiters() {
        let src = b"<< /Contents <00ff> >>";
        let o = parse(src).unwrap();
        let c = o.as_dict().unwrap().get(b"Contents").unwrap();
        assert_eq!(&src[c.span.0..c.span.1], b"<00ff>");
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let deep = vec![b'['; 100_000];
        assert!(matches!(
            parse(&deep),
            Err(PdfError::LimitExceeded {
                what: "nesting depth",
                ..
            })
        ));
    }

    #[test]
    fn ints_then_not_ref() {
        let o = parse(b"[1 2 3]").unwrap();
        assert_eq!(o.as_array().unwrap().len(), 3);
        assert!(parse(b"(unterminated").is_err());
        assert!(parse(b"<zz>").is_err());
    }
}
