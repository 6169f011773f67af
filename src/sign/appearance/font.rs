//! An embedded, subset TrueType font for the appearance text (ISO 32000-2 9.7: a Type 0 font with
//! Identity-H encoding over a CIDFontType2 descendant, the glyph program in /FontFile2, and a
//! /ToUnicode CMap so that copying and text extraction give back the Vietnamese text).
//!
//! Vietnamese needs no shaping here: after NFC every letter with its diacritics is one precomposed
//! character (U+00C0-U+01B0, U+1EA0-U+1EF9) and Liberation Serif has a glyph for each, so the
//! font's cmap is enough. A character without a glyph is an error, never a blank box.

use std::collections::BTreeMap;
use std::io::Write as _;

use unicode_normalization::UnicodeNormalization as _;

/// The built-in font: Liberation Serif 2.1.5 (SIL OFL 1.1, config/fonts/LICENSE),
/// metric-compatible with Times New Roman as Decree 30/2020 asks.
static BUILTIN: &[u8] = include_bytes!("../../../config/fonts/LiberationSerif-Regular.ttf");

/// Largest font file accepted from configuration.
const MAX_FONT_BYTES: usize = 32 * 1024 * 1024;

/// A TrueType font, checked once, measured and subset on demand.
#[derive(Clone)]
pub struct Font {
    data: std::sync::Arc<[u8]>,
    /// PostScript name, letters and digits only (the /BaseFont after the subset tag).
    ps_name: String,
    units_per_em: f64,
    ascent: f64,
    descent: f64,
    cap_height: f64,
    bbox: [f64; 4],
    italic_angle: f64,
    stem_v: f64,
    serif: bool,
}

impl std::fmt::Debug for Font {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Font")
            .field("name", &self.ps_name)
            .field("bytes", &self.data.len())
            .finish_non_exhaustive()
    }
}

impl Font {
    /// Liberation Serif Regular, built into the binary.
    pub fn builtin() -> Result<Font, String> {
        static FONT: std::sync::OnceLock<Result<Font, String>> = std::sync::OnceLock::new();
        FONT.get_or_init(|| Font::from_bytes(BUILTIN.to_vec()))
            .clone()
            .map_err(|e| format!("the built-in font: {e}"))
    }

    /// A TrueType (glyf-outline) font file, e.g. from a profile's `font = "..."`.
    pub fn from_bytes(data: Vec<u8>) -> Result<Font, String> {
        if data.len() > MAX_FONT_BYTES {
            return Err(format!(
                "the font file is larger than {MAX_FONT_BYTES} bytes"
            ));
        }
        let face = ttf_parser::Face::parse(&data, 0).map_err(|e| format!("not a font: {e}"))?;
        if face.tables().glyf.is_none() {
            return Err("only TrueType-outline fonts (a glyf table) can be embedded".into());
        }
        let per_em = f64::from(face.units_per_em().max(1));
        let scale = |v: f64| v * 1000.0 / per_em;
        let ps_name = face
            .names()
            .into_iter()
            .filter(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
            .find_map(|n| n.to_string())
            .unwrap_or_else(|| "Font".into());
        let ps_name: String = ps_name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(60)
            .collect();
        let b = face.global_bounding_box();
        let weight = f64::from(face.weight().to_number());
        let family = face
            .names()
            .into_iter()
            .filter(|n| n.name_id == ttf_parser::name_id::FAMILY)
            .find_map(|n| n.to_string())
            .unwrap_or_default();
        let font = Font {
            ps_name: if ps_name.is_empty() {
                "Font".into()
            } else {
                ps_name
            },
            units_per_em: per_em,
            ascent: scale(f64::from(face.ascender())),
            descent: scale(f64::from(face.descender())),
            cap_height: scale(f64::from(face.capital_height().unwrap_or(face.ascender()))),
            bbox: [
                scale(f64::from(b.x_min)),
                scale(f64::from(b.y_min)),
                scale(f64::from(b.x_max)),
                scale(f64::from(b.y_max)),
            ],
            italic_angle: f64::from(face.italic_angle()),
            // The usual estimate from the weight class (no font table records StemV).
            stem_v: 10.0 + 220.0 * ((weight - 50.0).max(0.0) / 900.0),
            serif: family.contains("Serif") || family.contains("Times"),
            data: data.into(),
        };
        Ok(font)
    }

    fn face(&self) -> Result<ttf_parser::Face<'_>, String> {
        ttf_parser::Face::parse(&self.data, 0).map_err(|e| format!("not a font: {e}"))
    }

    /// The glyph of every character of `text` after NFC, with its advance in 1/1000 em; a
    /// character the font cannot show is an error. Control characters are dropped.
    pub fn layout(&self, text: &str) -> Result<Vec<Glyph>, String> {
        let face = self.face()?;
        let mut out = Vec::new();
        for c in text.nfc() {
            if c.is_control() {
                continue;
            }
            let gid = face
                .glyph_index(c)
                .ok_or_else(|| format!("the font {} has no glyph for {c:?}", self.ps_name))?;
            let adv = face.glyph_hor_advance(gid).unwrap_or(0);
            out.push(Glyph {
                gid: gid.0,
                ch: c,
                advance: f64::from(adv) * 1000.0 / self.units_per_em,
            });
        }
        Ok(out)
    }

    /// Width of `text` at `size` points.
    pub fn width(&self, text: &str, size: f64) -> Result<f64, String> {
        Ok(self.layout(text)?.iter().map(|g| g.advance).sum::<f64>() * size / 1000.0)
    }

    /// Ascent and descent (negative) in 1/1000 em.
    pub fn vertical_metrics(&self) -> (f64, f64) {
        (self.ascent, self.descent)
    }

    /// Capital height in 1/1000 em.
    pub fn cap_height(&self) -> f64 {
        self.cap_height
    }
}

/// One positioned character.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Glyph {
    /// Glyph id in the original font.
    pub gid: u16,
    /// The character it shows (for /ToUnicode).
    pub ch: char,
    /// Advance width in 1/1000 em.
    pub advance: f64,
}

/// The glyphs one appearance uses, with their new ids in the subset (also the CIDs).
#[derive(Debug)]
pub struct FontUse {
    font: Font,
    remapper: subsetter::GlyphRemapper,
    /// new gid -> (advance, characters)
    used: BTreeMap<u16, (f64, String)>,
}

/// The PDF objects of a subset font: the Type 0 font dictionary and the objects it refers to,
/// with `{{obj:K}}` placeholders numbered from `first_extra`.
#[derive(Debug)]
pub struct FontObjects {
    pub font_dict: Vec<u8>,
    pub extra: Vec<Vec<u8>>,
}

impl FontUse {
    pub fn new(font: Font) -> Self {
        FontUse {
            font,
            remapper: subsetter::GlyphRemapper::new(),
            used: BTreeMap::new(),
        }
    }

    pub fn font(&self) -> &Font {
        &self.font
    }

    /// `text` as a PDF hex string of 2-byte CIDs (for `Tj`), recording the glyphs used.
    pub fn encode(&mut self, glyphs: &[Glyph]) -> Vec<u8> {
        let mut out = b"<".to_vec();
        for g in glyphs {
            let cid = self.remapper.remap(g.gid);
            let entry = self
                .used
                .entry(cid)
                .or_insert_with(|| (g.advance, String::new()));
            if entry.1.is_empty() {
                entry.1.push(g.ch);
            }
            out.extend_from_slice(format!("{cid:04X}").as_bytes());
        }
        out.push(b'>');
        out
    }

    /// The font objects: Type 0 font, CIDFontType2, FontDescriptor, FontFile2 and ToUnicode.
    /// `first_extra` is the index the first returned extra object will have in the appearance's
    /// `extra` list.
    pub fn objects(&self, first_extra: usize) -> Result<FontObjects, String> {
        let program = subsetter::subset(&self.font.data, 0, &self.remapper)
            .map_err(|e| format!("font subsetting failed: {e:?}"))?;
        let tag = subset_tag(&self.used);
        let base = format!("/{tag}+{}", self.font.ps_name);
        let (cid_font, descriptor, file, to_unicode) = (
            first_extra,
            first_extra + 1,
            first_extra + 2,
            first_extra + 3,
        );

        let font_dict = format!(
            "<< /Type /Font /Subtype /Type0 /BaseFont {base} /Encoding /Identity-H \
             /DescendantFonts [{{{{obj:{cid_font}}}}}] /ToUnicode {{{{obj:{to_unicode}}}}} >>"
        )
        .into_bytes();

        let mut widths = String::from("[");
        if let (Some(first), Some(_)) = (self.used.keys().next(), self.used.keys().last()) {
            // Runs of consecutive CIDs: `c [w1 w2 ...]`.
            let mut prev: Option<u16> = None;
            for (cid, (adv, _)) in &self.used {
                match prev {
                    Some(p) if p.checked_add(1) == Some(*cid) => {}
                    Some(_) => widths.push_str(&format!("] {cid} [")),
                    None => widths.push_str(&format!("{first} [")),
                }
                widths.push_str(&format!("{} ", num(*adv)));
                prev = Some(*cid);
            }
            widths.push(']');
        }
        widths.push(']');
        let cid_dict = format!(
            "<< /Type /Font /Subtype /CIDFontType2 /BaseFont {base} \
             /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> \
             /FontDescriptor {{{{obj:{descriptor}}}}} /DW 0 /W {widths} /CIDToGIDMap /Identity >>"
        )
        .into_bytes();

        let f = &self.font;
        // Symbolic (4): the glyphs are addressed by CID, not by a standard Latin encoding.
        let flags = 4 | if f.serif { 2 } else { 0 };
        let desc = format!(
            "<< /Type /FontDescriptor /FontName {base} /Flags {flags} /FontBBox [{} {} {} {}] \
             /ItalicAngle {} /Ascent {} /Descent {} /CapHeight {} /StemV {} \
             /FontFile2 {{{{obj:{file}}}}} >>",
            num(f.bbox[0]),
            num(f.bbox[1]),
            num(f.bbox[2]),
            num(f.bbox[3]),
            num(f.italic_angle),
            num(f.ascent),
            num(f.descent),
            num(f.cap_height),
            num(f.stem_v),
        )
        .into_bytes();

        let packed = deflate(&program);
        let mut file_obj = format!(
            "<< /Length {} /Length1 {} /Filter /FlateDecode >>\nstream\n",
            packed.len(),
            program.len()
        )
        .into_bytes();
        file_obj.extend_from_slice(&packed);
        file_obj.extend_from_slice(b"\nendstream");

        let cmap = to_unicode_cmap(&self.used);
        let mut cmap_obj = format!("<< /Length {} >>\nstream\n", cmap.len()).into_bytes();
        cmap_obj.extend_from_slice(&cmap);
        cmap_obj.extend_from_slice(b"\nendstream");

        Ok(FontObjects {
            font_dict,
            extra: vec![cid_dict, desc, file_obj, cmap_obj],
        })
    }
}

/// Six capital letters from the glyph set (ISO 32000-2 9.9.2: the subset tag), deterministic so
/// that the same text gives the same bytes.
fn subset_tag(used: &BTreeMap<u16, (f64, String)>) -> String {
    let mut h = ring::digest::Context::new(&ring::digest::SHA256);
    for (cid, (_, s)) in used {
        h.update(&cid.to_be_bytes());
        h.update(s.as_bytes());
    }
    h.finish()
        .as_ref()
        .iter()
        .take(6)
        .map(|b| char::from(b'A' + b % 26))
        .collect()
}

/// The /ToUnicode CMap (ISO 32000-2 9.10.3): each CID to the UTF-16BE of its character.
fn to_unicode_cmap(used: &BTreeMap<u16, (f64, String)>) -> Vec<u8> {
    let mut out = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let entries: Vec<(&u16, &String)> = used
        .iter()
        .filter(|(_, (_, s))| !s.is_empty())
        .map(|(c, (_, s))| (c, s))
        .collect();
    for chunk in entries.chunks(100) {
        out.push_str(&format!("{} beginbfchar\n", chunk.len()));
        for (cid, s) in chunk {
            let utf16: String = s.encode_utf16().map(|u| format!("{u:04X}")).collect();
            out.push_str(&format!("<{cid:04X}> <{utf16}>\n"));
        }
        out.push_str("endbfchar\n");
    }
    out.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend");
    out.into_bytes()
}

pub(crate) fn deflate(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// A PDF number (the signing writer's format: no exponent, trailing zeros dropped).
pub(crate) fn num(x: f64) -> String {
    crate::sign::pdf::number(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_font_shows_vietnamese() {
        let f = Font::builtin().unwrap();
        let text = "Thời gian ký: Sở Tư pháp Hà Nội, ĐỒNG Ý, Nguyễn Thị Ánh Tuyết, Ưu, ỹ";
        let glyphs = f.layout(text).expect("every Vietnamese letter has a glyph");
        assert_eq!(glyphs.len(), text.nfc().count());
        // Decomposed input (NFD) is composed before lookup.
        let nfd: String = "Thời".nfd().collect();
        assert_eq!(f.layout(&nfd).unwrap().len(), 4);
        assert!(f.width("Thời gian ký", 10.0).unwrap() > 40.0);
    }

    #[test]
    fn a_missing_glyph_is_an_error() {
        let f = Font::builtin().unwrap();
        assert!(f.layout("日本").unwrap_err().contains("no glyph"));
    }

    #[test]
    fn the_subset_is_small_and_parses() {
        let f = Font::builtin().unwrap();
        let mut u = FontUse::new(f.clone());
        let g = f.layout("Thời gian ký: 2026-11-22T10:30:05+07:00").unwrap();
        let hex = u.encode(&g);
        assert_eq!(hex.len(), 2 + 4 * g.len());
        let objs = u.objects(3).unwrap();
        let dict = String::from_utf8_lossy(&objs.font_dict);
        assert!(
            dict.contains("/Identity-H")
                && dict.contains("{{obj:3}}")
                && dict.contains("{{obj:6}}")
        );
        let file = &objs.extra[2];
        assert!(file.len() < 40_000, "subset is {} bytes", file.len());
        let cmap = String::from_utf8_lossy(&objs.extra[3]);
        assert!(cmap.contains("<1EDD>"), "ờ maps back to U+1EDD: {cmap}");
        // The subset program is a font ttf-parser can read.
        let start = file.windows(7).position(|w| w == b"stream\n").unwrap() + 7;
        let end = file.len() - b"\nendstream".len();
        let mut program = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::ZlibDecoder::new(&file[start..end]),
            &mut program,
        )
        .unwrap();
        ttf_parser::Face::parse(&program, 0).expect("subset parses");
    }

    #[test]
    fn refuses_what_is_not_a_truetype_font() {
        assert!(Font::from_bytes(b"not a font".to_vec()).is_err());
        assert!(Font::from_bytes(vec![0; 100]).is_err());
    }
}
