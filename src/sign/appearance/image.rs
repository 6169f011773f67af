//! PNG images (the agency's seal, the signer's signature) as PDF image XObjects (ISO 32000-2
//! 8.9.5), with the alpha channel as a soft mask (11.6.5.3) so a seal on a transparent background
//! lets the signature under it show through.
//!
//! Images come from the signing profile's configuration, not from callers, but are still parsed
//! with limits: a corrupt or huge file is an error, never a panic or an unbounded allocation.

use super::font::deflate;

/// Largest image accepted, in pixels (a 300 dpi seal of 5 cm is about 600 x 600).
const MAX_PIXELS: u64 = 16 * 1024 * 1024;
/// Largest PNG file accepted.
const MAX_FILE_BYTES: usize = 32 * 1024 * 1024;

/// A decoded image, ready to be written as an XObject.
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    /// DeviceGray or DeviceRGB.
    pub color_space: &'static str,
    /// 8-bit samples, compressed (FlateDecode).
    packed: Vec<u8>,
    /// The alpha channel (8-bit DeviceGray, FlateDecode), when some pixel is not opaque.
    packed_alpha: Option<Vec<u8>>,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("color_space", &self.color_space)
            .field("alpha", &self.packed_alpha.is_some())
            .finish()
    }
}

impl Image {
    /// Decodes a PNG file: any bit depth and colour type (palettes and tRNS expanded, 16-bit
    /// reduced to 8).
    pub fn from_png(bytes: &[u8]) -> Result<Image, String> {
        if bytes.len() > MAX_FILE_BYTES {
            return Err(format!(
                "the PNG file is larger than {MAX_FILE_BYTES} bytes"
            ));
        }
        let mut dec = png::Decoder::new_with_limits(
            std::io::Cursor::new(bytes),
            png::Limits {
                bytes: usize::try_from(MAX_PIXELS * 4).unwrap_or(usize::MAX),
            },
        );
        dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = dec
            .read_info()
            .map_err(|e| format!("not a PNG image: {e}"))?;
        let (w, h) = {
            let info = reader.info();
            (info.width, info.height)
        };
        if w == 0 || h == 0 || u64::from(w) * u64::from(h) > MAX_PIXELS {
            return Err(format!(
                "the image is {w} x {h} pixels: at most {MAX_PIXELS} are accepted"
            ));
        }
        let mut buf = vec![0; reader.output_buffer_size()];
        let frame = reader
            .next_frame(&mut buf)
            .map_err(|e| format!("the PNG image is damaged: {e}"))?;
        buf.truncate(frame.buffer_size());
        let (colors, alpha) = match frame.color_type {
            png::ColorType::Grayscale => (1, false),
            png::ColorType::GrayscaleAlpha => (1, true),
            png::ColorType::Rgb => (3, false),
            png::ColorType::Rgba => (3, true),
            png::ColorType::Indexed => return Err("the PNG palette was not expanded".into()),
        };
        if frame.bit_depth != png::BitDepth::Eight {
            return Err(format!("unexpected PNG bit depth {:?}", frame.bit_depth));
        }
        let px = usize::try_from(u64::from(w) * u64::from(h)).unwrap_or(usize::MAX);
        let stride = colors + usize::from(alpha);
        if buf.len() < px.saturating_mul(stride) {
            return Err("the PNG image data is short".into());
        }
        let mut color = Vec::with_capacity(px * colors);
        let mut mask = Vec::with_capacity(if alpha { px } else { 0 });
        for p in buf.chunks_exact(stride).take(px) {
            color.extend_from_slice(p.get(..colors).unwrap_or_default());
            if alpha {
                mask.push(p.get(colors).copied().unwrap_or(255));
            }
        }
        let packed_alpha = (alpha && mask.iter().any(|a| *a != 255)).then(|| deflate(&mask));
        Ok(Image {
            width: w,
            height: h,
            color_space: if colors == 1 {
                "DeviceGray"
            } else {
                "DeviceRGB"
            },
            packed: deflate(&color),
            packed_alpha,
        })
    }

    /// Width over height.
    pub fn aspect(&self) -> f64 {
        f64::from(self.width) / f64::from(self.height.max(1))
    }

    /// The image XObject body and, when it has one, its soft mask (to be written as the extra
    /// object `{{obj:mask_index}}`).
    pub fn objects(&self, mask_index: usize) -> (Vec<u8>, Option<Vec<u8>>) {
        let smask = self
            .packed_alpha
            .as_ref()
            .map(|_| format!(" /SMask {{{{obj:{mask_index}}}}}"))
            .unwrap_or_default();
        let mut body = format!(
            "<< /Type /XObject /Subtype /Image /Width {} /Height {} /ColorSpace /{} \
             /BitsPerComponent 8 /Filter /FlateDecode{smask} /Length {} >>\nstream\n",
            self.width,
            self.height,
            self.color_space,
            self.packed.len()
        )
        .into_bytes();
        body.extend_from_slice(&self.packed);
        body.extend_from_slice(b"\nendstream");
        let mask = self.packed_alpha.as_ref().map(|m| {
            let mut b = format!(
                "<< /Type /XObject /Subtype /Image /Width {} /Height {} /ColorSpace /DeviceGray \
                 /BitsPerComponent 8 /Filter /FlateDecode /Length {} >>\nstream\n",
                self.width,
                self.height,
                m.len()
            )
            .into_bytes();
            b.extend_from_slice(m);
            b.extend_from_slice(b"\nendstream");
            b
        });
        (body, mask)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small PNG for tests: `w` x `h`, RGBA, red disc on transparent.
    pub(crate) fn disc_png(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, w, h);
            enc.set_color(png::ColorType::Rgba);
            enc.set_depth(png::BitDepth::Eight);
            let mut wr = enc.write_header().unwrap();
            let mut data = Vec::new();
            let (cx, cy, r) = (w as f64 / 2.0, h as f64 / 2.0, w.min(h) as f64 / 2.0);
            for y in 0..h {
                for x in 0..w {
                    let d = ((x as f64 - cx).powi(2) + (y as f64 - cy).powi(2)).sqrt();
                    data.extend_from_slice(if d < r {
                        &[200, 0, 0, 255]
                    } else {
                        &[0, 0, 0, 0]
                    });
                }
            }
            wr.write_image_data(&data).unwrap();
        }
        out
    }

    #[test]
    fn rgba_becomes_rgb_with_a_soft_mask() {
        let img = Image::from_png(&disc_png(20, 10)).unwrap();
        assert_eq!(
            (img.width, img.height, img.color_space),
            (20, 10, "DeviceRGB")
        );
        let (body, mask) = img.objects(7);
        assert!(String::from_utf8_lossy(&body).contains("/SMask {{obj:7}}"));
        assert!(mask.is_some());
        assert!((img.aspect() - 2.0).abs() < 1e-9);
    }

    #[test]
    fn damaged_or_foreign_files_are_errors() {
        assert!(Image::from_png(b"GIF89a").is_err());
        let mut png = disc_png(8, 8);
        png.truncate(png.len() / 2);
        assert!(Image::from_png(&png).is_err());
        assert!(Image::from_png(&[]).is_err());
    }
}
