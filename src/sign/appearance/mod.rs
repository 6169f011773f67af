//! The visible signature of an issued result, as Decree 30/2020 (Appendix I) describes it: the
//! agency's seal (red, a PNG with a transparent background) over the left third of the signer's
//! signature image, and beside them the agency's name, the signer and the signing time in Vietnam
//! time (`Thời gian ký: 2026-11-22T10:30:05+07:00`), size 10, black, in a Times New
//! Roman-compatible font embedded as a subset. Optionally the QR code leading to the online check,
//! inside the stamp or on its own on a page.
//!
//! Pure: images, font and text come in as values; the result is the content stream and objects
//! of a form XObject ([`Appearance`]), built for the widget's size when it is known.

pub mod font;
pub mod image;

use std::sync::Arc;

use crate::sign::pdf::{Appearance, AppearanceSource};
pub use font::Font;
pub use image::Image;

/// Smallest font size the text shrinks to when the rectangle is too small for it.
const MIN_FONT_SIZE: f64 = 6.0;
/// Quiet zone around the QR code, in modules (ISO/IEC 18004 asks for 4; 3 keeps it compact and
/// still decodes reliably: the stamp paints it white).
const QR_QUIET: usize = 3;

/// The signature stamp: images, text lines and optionally the QR code at its right end.
#[derive(Debug, Clone)]
pub struct Stamp {
    pub font: Font,
    /// Points (Decree 30: 10).
    pub font_size: f64,
    pub seal: Option<Arc<Image>>,
    pub signature: Option<Arc<Image>>,
    /// The text, one entry per line (long lines wrap).
    pub lines: Vec<String>,
    /// The QR code inside the stamp, at its right end.
    pub qr: Option<QrCode>,
}

/// A QR code (ISO/IEC 18004, error correction level M) encoding a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCode {
    pub text: String,
    width: usize,
    dark: Vec<bool>,
}

impl QrCode {
    pub fn new(text: &str) -> Result<QrCode, String> {
        let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M)
            .map_err(|e| format!("the QR code cannot hold {} bytes: {e}", text.len()))?;
        Ok(QrCode {
            text: text.to_owned(),
            width: code.width(),
            dark: code
                .to_colors()
                .into_iter()
                .map(|c| c == qrcode::Color::Dark)
                .collect(),
        })
    }

    /// Modules per side, without the quiet zone.
    pub fn modules(&self) -> usize {
        self.width
    }

    /// Content operators painting the code (white background with quiet zone, black modules)
    /// into the square `[x, y, side, side]`.
    fn paint(&self, x: f64, y: f64, side: f64) -> String {
        let n = self.width + 2 * QR_QUIET;
        let m = side / n as f64;
        let mut out = format!(
            "q 1 g {} {} {} {} re f 0 g\n",
            num(x),
            num(y),
            num(side),
            num(side)
        );
        for row in 0..self.width {
            let mut col = 0;
            while col < self.width {
                if !self
                    .dark
                    .get(row * self.width + col)
                    .copied()
                    .unwrap_or(false)
                {
                    col += 1;
                    continue;
                }
                let start = col;
                while col < self.width
                    && self.dark.get(row * self.width + col).copied() == Some(true)
                {
                    col += 1;
                }
                // Row 0 is the top row; PDF y grows upwards.
                let px = x + (start + QR_QUIET) as f64 * m;
                let py = y + side - (row + QR_QUIET + 1) as f64 * m;
                out.push_str(&format!(
                    "{} {} {} {} re\n",
                    num(px),
                    num(py),
                    num((col - start) as f64 * m),
                    num(m)
                ));
            }
        }
        out.push_str("f Q\n");
        out
    }
}

/// The QR code alone, as the appearance of a stamp annotation on a page.
#[derive(Debug, Clone)]
pub struct QrStamp(pub QrCode);

impl AppearanceSource for QrStamp {
    fn build(&self, width: f64, height: f64) -> Result<Appearance, String> {
        let side = width.min(height);
        Ok(Appearance {
            content: self
                .0
                .paint((width - side) / 2.0, (height - side) / 2.0, side)
                .into_bytes(),
            ..Appearance::default()
        })
    }
}

struct Placed {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

fn fit(img: &Image, max_w: f64, max_h: f64) -> (f64, f64) {
    let a = img.aspect();
    if max_w / max_h > a {
        (max_h * a, max_h)
    } else {
        (max_w, max_w / a)
    }
}

impl AppearanceSource for Stamp {
    fn build(&self, w: f64, h: f64) -> Result<Appearance, String> {
        if !(w > 0.0 && h > 0.0 && w.is_finite() && h.is_finite()) {
            return Err("the signature rectangle has no area".into());
        }
        let pad = (h * 0.04).min(2.0);
        let gap = 4.0_f64.min(w * 0.02);
        let inner_h = h - 2.0 * pad;
        let mut right = w - pad;
        let mut content = format!("q 0 0 {} {} re W n\n", num(w), num(h));

        // The QR code at the right end, as tall as the stamp.
        let mut qr_ops = String::new();
        if let Some(qr) = &self.qr {
            let side = inner_h.min(w * 0.3);
            qr_ops = qr.paint(right - side, (h - side) / 2.0, side);
            right -= side + gap;
        }

        // The images at the left: the seal over the left third of the signature.
        let left = pad;
        let avail = (right - left).max(0.0);
        let mut seal_at: Option<Placed> = None;
        let mut sig_at: Option<Placed> = None;
        match (&self.seal, &self.signature) {
            (Some(seal), Some(sig)) => {
                let (mut sw, mut sh) = fit(seal, inner_h * 4.0, inner_h);
                let (mut gw, mut gh) = fit(sig, inner_h * 4.0, inner_h * 0.8);
                let block = sw + gw * 2.0 / 3.0;
                let limit = avail * 0.38;
                if block > limit && block > 0.0 {
                    let k = limit / block;
                    sw *= k;
                    sh *= k;
                    gw *= k;
                    gh *= k;
                }
                let gx = left + sw - gw / 3.0;
                sig_at = Some(Placed {
                    x: gx,
                    y: (h - gh) / 2.0,
                    w: gw,
                    h: gh,
                });
                seal_at = Some(Placed {
                    x: left,
                    y: (h - sh) / 2.0,
                    w: sw,
                    h: sh,
                });
            }
            (Some(img), None) | (None, Some(img)) => {
                let (iw, ih) = fit(img, avail * 0.4, inner_h);
                let p = Placed {
                    x: left,
                    y: (h - ih) / 2.0,
                    w: iw,
                    h: ih,
                };
                if self.seal.is_some() {
                    seal_at = Some(p);
                } else {
                    sig_at = Some(p);
                }
            }
            (None, None) => {}
        }
        let images_right = [&seal_at, &sig_at]
            .iter()
            .filter_map(|p| p.as_ref().map(|p| p.x + p.w))
            .fold(left, f64::max);
        let text_x = if images_right > left {
            images_right + gap
        } else {
            left
        };
        let text_w = (right - text_x).max(0.0);

        let mut app = Appearance::default();
        // The signature under the seal: the seal is stamped over the signature.
        for (name, img, at) in [
            ("Sig", &self.signature, &sig_at),
            ("Seal", &self.seal, &seal_at),
        ] {
            if let (Some(img), Some(at)) = (img, at) {
                let mask_index = app.extra.len();
                let (body, mask) = img.objects(mask_index);
                if let Some(m) = mask {
                    app.extra.push(m);
                }
                app.xobjects.push((name.to_owned(), body));
                content.push_str(&format!(
                    "q {} 0 0 {} {} {} cm /{name} Do Q\n",
                    num(at.w),
                    num(at.h),
                    num(at.x),
                    num(at.y)
                ));
            }
        }

        // The text, wrapped, shrunk if needed, vertically centred.
        let mut fs = self.font_size.clamp(MIN_FONT_SIZE, 72.0);
        let (asc, desc) = self.font.vertical_metrics();
        // Smaller text rather than words broken apart or lines cut off.
        let wrapped = loop {
            let mut lines = Vec::new();
            let mut broke_word = false;
            for l in &self.lines {
                let (ls, broke) = wrap(&self.font, l, fs, text_w)?;
                lines.extend(ls);
                broke_word |= broke;
            }
            let height = lines.len() as f64 * fs * 1.2;
            if (height <= inner_h && !broke_word) || fs <= MIN_FONT_SIZE {
                break lines;
            }
            fs = (fs - 0.5).max(MIN_FONT_SIZE);
        };
        if !wrapped.is_empty() && text_w > 0.0 {
            let mut used = font::FontUse::new(self.font.clone());
            let leading = fs * 1.2;
            let block = wrapped.len() as f64 * leading;
            // Baseline of the first line: the block centred, the line box holding the ascent.
            let line_box = (asc - desc) / 1000.0 * fs;
            let top = (h + block.min(inner_h)) / 2.0;
            let mut y = top - (leading - line_box) / 2.0 - asc / 1000.0 * fs;
            content.push_str(&format!("BT /F1 {} Tf 0 g\n", num(fs)));
            for line in &wrapped {
                let glyphs = self.font.layout(line)?;
                let hex = used.encode(&glyphs);
                content.push_str(&format!("1 0 0 1 {} {} Tm ", num(text_x), num(y)));
                content.push_str(&String::from_utf8_lossy(&hex));
                content.push_str(" Tj\n");
                y -= leading;
            }
            content.push_str("ET\n");
            let objs = used.objects(app.extra.len())?;
            app.extra.extend(objs.extra);
            app.fonts.push(("F1".to_owned(), objs.font_dict));
        }
        content.push_str(&qr_ops);
        content.push_str("Q\n");
        app.content = content.into_bytes();
        Ok(app)
    }
}

/// Breaks `text` into lines no wider than `width` at `size`: at spaces, and inside a word only
/// when the word alone is too wide (then also says so).
fn wrap(font: &Font, text: &str, size: f64, width: f64) -> Result<(Vec<String>, bool), String> {
    let mut lines = Vec::new();
    let mut broke = false;
    let mut cur = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let candidate = if cur.is_empty() {
            word.to_owned()
        } else {
            format!("{cur} {word}")
        };
        if font.width(&candidate, size)? <= width || cur.is_empty() && width <= 0.0 {
            cur = candidate;
            continue;
        }
        if !cur.is_empty() {
            lines.push(std::mem::take(&mut cur));
        }
        if font.width(word, size)? <= width {
            cur = word.to_owned();
            continue;
        }
        // A word wider than the line: break it between characters.
        broke = true;
        for c in word.chars() {
            let next = format!("{cur}{c}");
            if !cur.is_empty() && font.width(&next, size)? > width {
                lines.push(std::mem::take(&mut cur));
                cur.push(c);
            } else {
                cur = next;
            }
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    Ok((lines, broke))
}

fn num(x: f64) -> String {
    font::num(x)
}

/// Fills a line template: `{agency}`, `{signer}`, `{time}` (Vietnam time, e.g.
/// `2026-11-22T10:30:05+07:00`), `{reason}`, `{location}`, `{document_id}`. A line whose
/// placeholders are all empty is dropped.
pub fn fill_template(template: &str, values: &[(&str, &str)]) -> Option<String> {
    let mut out = template.to_owned();
    let mut any_placeholder = false;
    let mut any_value = false;
    for (k, v) in values {
        let key = format!("{{{k}}}");
        if out.contains(&key) {
            any_placeholder = true;
            any_value |= !v.trim().is_empty();
            out = out.replace(&key, v.trim());
        }
    }
    (!any_placeholder || any_value).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(qr: bool) -> Stamp {
        let seal = Image::from_png(&image::tests::disc_png(40, 40)).unwrap();
        let sig = Image::from_png(&image::tests::disc_png(60, 20)).unwrap();
        Stamp {
            font: Font::builtin().unwrap(),
            font_size: 10.0,
            seal: Some(Arc::new(seal)),
            signature: Some(Arc::new(sig)),
            lines: vec![
                "Sở Tư pháp Thành phố Hà Nội".into(),
                "Người ký: Nguyễn Văn An".into(),
                "Thời gian ký: 2026-11-22T10:30:05+07:00".into(),
            ],
            qr: qr.then(|| {
                QrCode::new("https://dvc.example.gov.vn/v/1b4e28ba-2fa1-11d2-883f-0016d3cca427")
                    .unwrap()
            }),
        }
    }

    #[test]
    fn the_stamp_has_images_text_and_qr() {
        let app = stamp(true).build(320.0, 80.0).unwrap();
        let c = String::from_utf8_lossy(&app.content);
        assert!(c.contains("/Sig Do") && c.contains("/Seal Do"));
        // The seal is painted after (over) the signature.
        assert!(c.find("/Sig Do").unwrap() < c.find("/Seal Do").unwrap());
        assert!(c.matches(" Tj").count() >= 3, "{c}");
        assert!(c.contains(" re\n"), "QR modules");
        assert_eq!(app.fonts.len(), 1);
        assert_eq!(app.xobjects.len(), 2);
        // Two soft masks, four font objects.
        assert_eq!(app.extra.len(), 6);
    }

    #[test]
    fn a_narrow_stamp_wraps_and_shrinks_text() {
        let app = stamp(false).build(150.0, 60.0).unwrap();
        let c = String::from_utf8_lossy(&app.content);
        assert!(c.matches(" Tj").count() > 3, "{c}");
        assert!(stamp(false).build(0.0, 10.0).is_err());
    }

    #[test]
    fn a_line_without_values_is_dropped() {
        let v = [("reason", ""), ("agency", "Sở Tư pháp")];
        assert_eq!(fill_template("Lý do: {reason}", &v), None);
        assert_eq!(fill_template("{agency}", &v).as_deref(), Some("Sở Tư pháp"));
        assert_eq!(
            fill_template("Bản điện tử", &v).as_deref(),
            Some("Bản điện tử")
        );
    }

    #[test]
    fn the_qr_code_paints_its_modules() {
        let qr =
            QrCode::new("https://127.0.0.1:8443/v/00000000-0000-4000-8000-000000000000").unwrap();
        assert!(qr.modules() >= 21);
        let app = QrStamp(qr).build(72.0, 72.0).unwrap();
        assert!(app.content.len() > 500);
    }
}
