//! Stream filters (ISO 32000-2 7.4): FlateDecode with PNG and TIFF predictors.
//!
//! Every decode has a hard cap on its output (deflate bombs). Unknown filters are an error for that
//! stream only; this module never decodes anything it was not asked for.

use std::io::Read;

use super::object::{Dict, Value};
use super::PdfError;

/// Decode `raw` through the stream's /Filter chain, producing at most `cap` bytes.
pub fn decode_stream(dict: &Dict, raw: &[u8], cap: usize) -> Result<Vec<u8>, PdfError> {
    let mut filters: Vec<&[u8]> = Vec::new();
    let mut parms: Vec<Option<&Dict>> = Vec::new();
    match dict.get(b"Filter").map(|o| &o.value) {
        None | Some(Value::Null) => {}
        Some(Value::Name(n)) => filters.push(n),
        Some(Value::Array(a)) => {
            for f in a {
                filters.push(f.as_name().ok_or(PdfError::Filter {
                    filter: "?".into(),
                    reason: "filter is not a name",
                })?);
            }
        }
        Some(_) => {
            return Err(PdfError::Filter {
                filter: "?".into(),
                reason: "bad /Filter",
            })
        }
    }
    match dict.get(b"DecodeParms").map(|o| &o.value) {
        Some(Value::Dict(d)) => parms.push(Some(d)),
        Some(Value::Array(a)) => parms.extend(a.iter().map(|o| o.as_dict())),
        _ => {}
    }
    if filters.len() > 8 {
        return Err(PdfError::Filter {
            filter: "chain".into(),
            reason: "too many filters",
        });
    }
    let mut data = raw.to_vec();
    if data.len() > cap && filters.is_empty() {
        return Err(PdfError::LimitExceeded {
            what: "decoded stream size",
            limit: cap as u64,
        });
    }
    for (i, f) in filters.iter().enumerate() {
        let p = parms.get(i).copied().flatten();
        data = match *f {
            b"FlateDecode" | b"Fl" => {
                let inflated = inflate(&data, cap)?;
                apply_predictor(inflated, p, cap)?
            }
            other => {
                return Err(PdfError::Filter {
                    filter: String::from_utf8_lossy(other).into_owned(),
                    reason: "unsupported filter",
                })
            }
        };
    }
    Ok(data)
}

/// zlib inflate with an output cap. A truncated stream keeps what was decoded (common in the
/// wild); a stream that would exceed `cap` is an error.
pub fn inflate(data: &[u8], cap: usize) -> Result<Vec<u8>, PdfError> {
    let mut out = Vec::new();
    let dec = flate2::read::ZlibDecoder::new(data);
    let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    match dec.take(limit).read_to_end(&mut out) {
        Ok(_) => {}
        Err(_) if !out.is_empty() => {}
        Err(_) => {
            return Err(PdfError::Filter {
                filter: "FlateDecode".into(),
                reason: "corrupt deflate data",
            })
        }
    }
    if out.len() > cap {
        return Err(PdfError::LimitExceeded {
            what: "decoded stream size",
            limit: cap as u64,
        });
    }
    Ok(out)
}

/// Undo a PNG (10-15) or TIFF (2) predictor (ISO 32000-2 7.4.4.4).
pub fn apply_predictor(
    data: Vec<u8>,
    parms: Option<&Dict>,
    cap: usize,
) -> Result<Vec<u8>, PdfError> {
    let Some(p) = parms else { return Ok(data) };
    let predictor = p.get_int(b"Predictor").unwrap_or(1);
    if predictor <= 1 {
        return Ok(data);
    }
    let bad = |reason| PdfError::Filter {
        filter: "Predictor".into(),
        reason,
    };
    let colors = p.get_int(b"Colors").unwrap_or(1);
    let bpc = p.get_int(b"BitsPerComponent").unwrap_or(8);
    let columns = p.get_int(b"Columns").unwrap_or(1);
    if !(1..=32).contains(&colors)
        || ![1, 2, 4, 8, 16].contains(&bpc)
        || !(1..=1 << 20).contains(&columns)
    {
        return Err(bad("bad predictor parameters"));
    }
    let bits_per_pixel = (colors * bpc) as usize;
    let bpp = bits_per_pixel.div_ceil(8).max(1);
    let row_len = (columns as usize * bits_per_pixel).div_ceil(8);
    if predictor == 2 {
        if bpc != 8 {
            return Err(bad("TIFF predictor only for 8 bits per component"));
        }
        let mut out = data;
        for row in out.chunks_mut(row_len) {
            for i in bpp..row.len() {
                row[i] = row[i].wrapping_add(row[i - bpp]);
            }
        }
        return Ok(out);
    }
    if !(10..=15).contains(&predictor) {
        return Err(bad("unknown predictor"));
    }
    let mut out = Vec::with_capacity(data.len().min(cap));
    let mut prev = vec![0u8; row_len];
    for chunk in data.chunks(row_len + 1) {
        let Some((&ft, row)) = chunk.split_first() else {
            break;
        };
        let mut cur = row.to_vec();
        cur.resize(row_len, 0);
        for i in 0..row_len {
            let a = if i >= bpp { cur[i - bpp] } else { 0 };
            let b = prev[i];
            let c = if i >= bpp { prev[i - bpp] } else { 0 };
            cur[i] = match ft {
                0 => cur[i],
                1 => cur[i].wrapping_add(a),
                2 => cur[i].wrapping_add(b),
                3 => cur[i].wrapping_add(((u16::from(a) + u16::from(b)) / 2) as u8),
                4 => cur[i].wrapping_add(paeth(a, b, c)),
                _ => return Err(bad("unknown PNG row filter")),
            };
        }
        out.extend_from_slice(cur.get(..row.len()).unwrap_or(&cur));
        if out.len() > cap {
            return Err(PdfError::LimitExceeded {
                what: "decoded stream size",
                limit: cap as u64,
            });
        }
        prev = cur;
    }
    Ok(out)
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pdf::lexer::{ParseLimits, Parser};
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn dict(s: &[u8]) -> Dict {
        Parser::new(s, 0, ParseLimits::default())
            .parse_object()
            .unwrap()
            .as_dict()
            .unwrap()
            .clone()
    }

    #[test]
    fn flate_with_png_up_predictor() {
        // Two rows of 3 bytes, PNG "Up" filter (2) on the second.
        let raw = [0u8, 1, 2, 3, 2, 1, 1, 1];
        let d = dict(b"<< /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 3 >> >>");
        let out = decode_stream(&d, &zlib(&raw), 1000).unwrap();
        assert_eq!(out, vec![1, 2, 3, 2, 3, 4]);
    }

    #[test]
    fn deflate_bomb_is_capped() {
        let bomb = zlib(&vec![0u8; 10 << 20]);
        let d = dict(b"<< /Filter /FlateDecode >>");
        assert!(matches!(
            decode_stream(&d, &bomb, 1 << 20),
            Err(PdfError::LimitExceeded { .. })
        ));
    }

    #[test]
    fn unknown_filter_errors() {
        let d = dict(b"<< /Filter /JBIG2Decode >>");
        assert!(matches!(
            decode_stream(&d, b"x", 10),
            Err(PdfError::Filter { .. })
        ));
    }

    #[test]
    fn tiff_predictor() {
        let d = dict(b"<< /Predictor 2 /Columns 3 >>");
        let out = apply_predictor(vec![1, 1, 1, 5, 1, 1], Some(&d), 100).unwrap();
        assert_eq!(out, vec![1, 2, 3, 5, 6, 7]);
    }
}
