//! The VietQR code as an image: the QR matrix from the `qrcode` crate (no image backends), drawn
//! here as SVG (one path, crisp at any size) and as an 8-bit grayscale PNG (`png` crate).
//! Error correction M, a 4-module quiet zone (ISO/IEC 18004 section 9.1).
use qrcode::{Color, EcLevel, QrCode};

pub const QUIET_ZONE: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("QR code: {0}")]
    Qr(String),
    #[error("PNG: {0}")]
    Png(String),
}

/// The module matrix (row-major, `true` = dark) and its width.
pub fn matrix(payload: &str) -> Result<(Vec<bool>, usize), RenderError> {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
        .map_err(|e| RenderError::Qr(e.to_string()))?;
    let w = code.width();
    let m = code
        .to_colors()
        .into_iter()
        .map(|c| c == Color::Dark)
        .collect();
    Ok((m, w))
}

/// An SVG document, `module_px` user units per module.
pub fn svg(payload: &str, module_px: usize) -> Result<String, RenderError> {
    let (m, w) = matrix(payload)?;
    let px = module_px.max(1);
    let size = (w + 2 * QUIET_ZONE) * px;
    let mut path = String::new();
    for y in 0..w {
        let mut x = 0;
        while x < w {
            if m[y * w + x] {
                let start = x;
                while x < w && m[y * w + x] {
                    x += 1;
                }
                path.push_str(&format!(
                    "M{},{}h{}v{}h-{}z",
                    (start + QUIET_ZONE) * px,
                    (y + QUIET_ZONE) * px,
                    (x - start) * px,
                    px,
                    (x - start) * px
                ));
            } else {
                x += 1;
            }
        }
    }
    Ok(format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            "\n",
            r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{s}" height="{s}" viewBox="0 0 {s} {s}" shape-rendering="crispEdges">"#,
            r##"<rect width="{s}" height="{s}" fill="#ffffff"/><path fill="#000000" d="{d}"/></svg>"##,
            "\n"
        ),
        s = size,
        d = path
    ))
}

/// A grayscale PNG, `module_px` pixels per module (1..=32).
pub fn png(payload: &str, module_px: usize) -> Result<Vec<u8>, RenderError> {
    let (m, w) = matrix(payload)?;
    let px = module_px.clamp(1, 32);
    let size = (w + 2 * QUIET_ZONE) * px;
    let mut pixels = vec![0xFFu8; size * size];
    for y in 0..w {
        for x in 0..w {
            if m[y * w + x] {
                for dy in 0..px {
                    let row = ((y + QUIET_ZONE) * px + dy) * size;
                    let col = (x + QUIET_ZONE) * px;
                    pixels[row + col..row + col + px].fill(0);
                }
            }
        }
    }
    let mut out = Vec::new();
    {
        let side = u32::try_from(size).map_err(|e| RenderError::Png(e.to_string()))?;
        let mut enc = png::Encoder::new(&mut out, side, side);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc
            .write_header()
            .map_err(|e| RenderError::Png(e.to_string()))?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| RenderError::Png(e.to_string()))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "00020101021138570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN63049E6F";

    #[test]
    fn png_decodes_to_the_matrix() {
        let (m, w) = matrix(P).unwrap();
        let bytes = png(P, 3).unwrap();
        let dec = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        let side = (w + 2 * QUIET_ZONE) * 3;
        assert_eq!((info.width as usize, info.height as usize), (side, side));
        for y in 0..w {
            for x in 0..w {
                let p = buf[((y + QUIET_ZONE) * 3 + 1) * side + (x + QUIET_ZONE) * 3 + 1];
                assert_eq!(p == 0, m[y * w + x], "module {x},{y}");
            }
        }
        // The quiet zone is white.
        assert!(buf[..side * QUIET_ZONE * 3].iter().all(|p| *p == 0xFF));
    }

    #[test]
    fn svg_draws_every_dark_module() {
        let (m, _) = matrix(P).unwrap();
        let s = svg(P, 4).unwrap();
        assert!(s.starts_with("<?xml"));
        assert!(s.contains("viewBox=\"0 0 "));
        // Each run of dark modules is one subpath; at least one per dark row.
        assert!(s.matches('M').count() > 0);
        let dark = m.iter().filter(|d| **d).count();
        let drawn: usize = s
            .split('M')
            .skip(1)
            .map(|seg| {
                let h = seg.split('h').nth(1).unwrap();
                h.split('v').next().unwrap().parse::<usize>().unwrap() / 4
            })
            .sum();
        assert_eq!(drawn, dark);
    }
}
