//! The Decree 30/2020 appearance of the results antin signs, through the built binary with the
//! default profile: the seal over the signature image, the Vietnamese text in the embedded subset
//! font, and the QR code to `<public url>/v/<document id>` (in the stamp, or alone on a page).
//! The rendering checks (pdftoppm, pdftotext, zbarimg) are in the full suite.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fixture, manifest_dir, test_pki};

const CRLS: [&str; 4] = [
    "gov-ca.crl",
    "gov-root.crl",
    "licensed-ca.crl",
    "root-ca.crl",
];

/// The default profile's stamp rectangle (config/default.toml) on the A4 page of unsigned.pdf.
const STAMP: [f64; 4] = [150.0, 40.0, 420.0, 90.0];
const PAGE_H: f64 = 842.0;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn antin(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Run {
        let anchors = self.path("anchors");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_antin"));
        cmd.args(args)
            .current_dir(manifest_dir())
            .env(
                "ANTIN_DATABASE__URL",
                format!("sqlite://{}", self.path("a.db").display()),
            )
            .env("ANTIN_TRUST__ANCHOR_DIR", &anchors)
            .env("ANTIN_TRUST__INTERMEDIATE_DIR", &anchors)
            .env("ANTIN_AUDIT__SIGNING_KEY", self.path("checkpoint.key"))
            .env("ANTIN_AUDIT__PSEUDONYM_KEY", self.path("pseudonym.key"))
            .env_remove("ANTIN_LANG")
            .env_remove("ANTIN_CONFIG");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run antin");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn sign(&self, input: &Path, out: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut all = vec!["sign", p(input), "-o", p(out), "--lang", "en"];
        all.extend_from_slice(args);
        self.antin(&all, env)
    }

    /// Signs, insists on success, returns the document id.
    fn sign_ok(&self, input: &Path, out: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
        let r = self.sign(input, out, args, env);
        assert_eq!(r.code, 0, "sign {args:?} failed:\n{r}");
        document_id(&r.stdout)
    }

    fn verify_passes(&self, pdf: &Path) -> serde_json::Value {
        let mut args = vec!["verify", p(pdf), "--offline", "--format", "json"];
        let anchors = [test_pki("gov-root.pem"), test_pki("root-ca.pem")];
        let crls: Vec<PathBuf> = CRLS.iter().map(|c| test_pki(c)).collect();
        for a in &anchors {
            args.extend(["--trust", p(a)]);
        }
        for c in &crls {
            args.extend(["--crl", p(c)]);
        }
        let r = self.antin(&args, &[]);
        let v: serde_json::Value = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("verify output is not JSON ({e}):\n{r}"));
        assert_eq!(r.code, 0, "{v:#}");
        assert_eq!(v["verdict"], "TOTAL_PASSED", "{v:#}");
        v
    }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn unsigned() -> PathBuf {
    fixture("pdf/unsigned.pdf")
}

fn document_id(stdout: &str) -> String {
    let after = stdout
        .split_once("document id ")
        .unwrap_or_else(|| panic!("no document id in {stdout:?}"))
        .1;
    after
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == '-')
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

// --- the objects ---------------------------------------------------------------------------------

#[test]
fn the_default_profile_stamps_seal_signature_text_and_qr() {
    let env = Env::new();
    let out = env.path("out.pdf");
    env.sign_ok(&unsigned(), &out, &[], &[]);
    env.verify_passes(&out);
    let bytes = std::fs::read(&out).unwrap();
    // The widget where the profile puts it, with an appearance.
    assert!(
        contains(&bytes, b"/Rect [150 40 570 130]"),
        "stamp rectangle"
    );
    // The text in an embedded subset Type 0 font with a /ToUnicode map.
    for needle in [
        &b"/Subtype /Type0"[..],
        b"/Encoding /Identity-H",
        b"/CIDFontType2",
        b"/FontFile2",
        b"/ToUnicode",
        b"+LiberationSerif",
    ] {
        assert!(
            contains(&bytes, needle),
            "{} missing",
            String::from_utf8_lossy(needle)
        );
    }
    // Seal and signature images, each with its transparency as a soft mask.
    assert_eq!(count(&bytes, b"/SMask"), 2);
    assert!(contains(&bytes, b"/Seal Do") || bytes.len() > 50_000);
    // The signed file is not blown up by the font: a subset, not the 390 KB font file.
    let plain = std::fs::metadata(unsigned()).unwrap().len() as usize;
    let invisible = env.path("invisible.pdf");
    env.sign_ok(&unsigned(), &invisible, &["--invisible"], &[]);
    let inv = std::fs::read(&invisible).unwrap();
    assert!(!contains(&inv, b"/FontFile2"), "--invisible drew a stamp");
    assert!(
        bytes.len() - inv.len() < 60_000,
        "the stamp adds {} bytes (document {plain} bytes)",
        bytes.len() - inv.len()
    );
}

#[test]
fn an_explicit_place_gets_the_stamp_too() {
    let env = Env::new();
    let out = env.path("placed.pdf");
    env.sign_ok(
        &unsigned(),
        &out,
        &["--page", "1", "--rect", "40,700,300,70", "--level", "B-B"],
        &[],
    );
    env.verify_passes(&out);
    let bytes = std::fs::read(&out).unwrap();
    assert!(contains(&bytes, b"/Rect [40 700 340 770]"));
    assert!(contains(&bytes, b"/FontFile2"));
}

/// Regression: a second signature at B-LT or B-LTA on a B-LTA document was reported as B-T (the
/// level looked only at the first revision that had a DSS), so the self-check refused it.
#[test]
fn officer_then_head_two_visible_b_lta_signatures() {
    let env = Env::new();
    let officer = env.path("officer.pdf");
    env.sign_ok(&unsigned(), &officer, &[], &[]);
    for level in ["B-LT", "B-LTA"] {
        let head = env.path(&format!("head-{level}.pdf"));
        env.sign_ok(
            &officer,
            &head,
            &["--page", "1", "--rect", "150,140,420,90", "--level", level],
            &[],
        );
        let v = env.verify_passes(&head);
        let sigs: Vec<&serde_json::Value> = v["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["kind"] == "signature")
            .collect();
        assert_eq!(sigs.len(), 2, "{v:#}");
        assert_eq!(sigs[0]["level"], "B-LTA", "{v:#}");
        assert_eq!(sigs[1]["level"], level, "{v:#}");
    }
}

#[test]
fn the_qr_code_alone_on_a_page_when_the_signature_is_invisible() {
    let env = Env::new();
    let out = env.path("qr-page.pdf");
    env.sign_ok(&unsigned(), &out, &["--invisible", "--level", "B-B"], &[]);
    env.verify_passes(&out);
    let bytes = std::fs::read(&out).unwrap();
    // The QR code as a printable stamp annotation at the configured place, in the signed
    // revision; no text font needed.
    assert!(contains(&bytes, b"/Subtype /Stamp"));
    assert!(contains(&bytes, b"/Rect [36 36 108 108]"));
    assert!(!contains(&bytes, b"/FontFile2"));

    // A signed document gets no page stamp: it would be a change after the first signature.
    let again = env.path("again.pdf");
    let r = env.sign(&out, &again, &["--invisible", "--level", "B-B"], &[]);
    assert!(r.code >= 64, "{r}");
    assert!(r.stderr.contains("already signed"), "{r}");
    assert!(!again.exists());
    // ... but a visible second signature carries its QR code inside its own stamp.
    env.sign_ok(&out, &again, &["--level", "B-B"], &[]);
    env.verify_passes(&again);
}

#[test]
fn the_qr_code_can_be_configured_onto_the_page() {
    let env = Env::new();
    let out = env.path("qr-on-page.pdf");
    let place = [
        (
            "ANTIN_SIGN__PROFILES__DEFAULT__APPEARANCE__QR__PLACE",
            "page",
        ),
        ("ANTIN_SIGN__PROFILES__DEFAULT__APPEARANCE__QR__PAGE", "-1"),
    ];
    env.sign_ok(&unsigned(), &out, &["--level", "B-B"], &place);
    env.verify_passes(&out);
    let bytes = std::fs::read(&out).unwrap();
    assert!(contains(&bytes, b"/Subtype /Stamp"));
    assert!(
        contains(&bytes, b"/FontFile2"),
        "the signature stamp is still drawn"
    );
}

#[test]
fn a_bad_appearance_configuration_is_refused_before_signing() {
    let env = Env::new();
    let out = env.path("out.pdf");
    let not_png = manifest_dir().join("README.md");
    let r = env.sign(
        &unsigned(),
        &out,
        &[],
        &[(
            "ANTIN_SIGN__PROFILES__DEFAULT__APPEARANCE__SEAL",
            p(&not_png),
        )],
    );
    assert_eq!(r.code, 78, "{r}");
    assert!(r.stderr.contains("not a PNG"), "{r}");
    assert!(!out.exists());

    let r = env.sign(
        &unsigned(),
        &out,
        &[],
        &[(
            "ANTIN_SIGN__PROFILES__DEFAULT__APPEARANCE__QR__PLACE",
            "corner",
        )],
    );
    assert_eq!(r.code, 78, "{r}");
    assert!(r.stderr.contains("qr place"), "{r}");
}

// --- rendering (full suite) ----------------------------------------------------------------------

fn under_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

fn tool(name: &'static str, probe: &str) -> bool {
    if Command::new(name).arg(probe).output().is_ok() {
        return true;
    }
    assert!(!under_ci(), "{name} missing under CI=true");
    eprintln!("skipping: {name} is not installed");
    false
}

/// Renders page `page` at `dpi` with pdftoppm; returns (width, height, RGB pixels).
fn render(pdf: &Path, page: usize, dpi: u32, out_prefix: &Path) -> (u32, u32, Vec<u8>) {
    let st = Command::new("pdftoppm")
        .args(["-r", &dpi.to_string(), "-png", "-f", &page.to_string()])
        .args(["-l", &page.to_string(), "-singlefile"])
        .arg(pdf)
        .arg(out_prefix)
        .status()
        .unwrap();
    assert!(st.success(), "pdftoppm failed");
    let png_path = out_prefix.with_extension("png");
    let file = std::fs::File::open(&png_path).unwrap();
    let mut dec = png::Decoder::new(file);
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected {other:?}"),
    };
    let rgb = buf
        .chunks_exact(channels)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, rgb)
}

/// (non-white pixels, red pixels) inside the rectangle `r` (points) of a page rendered at `dpi`.
fn ink(img: &(u32, u32, Vec<u8>), r: [f64; 4], dpi: u32) -> (usize, usize) {
    let (w, h, px) = img;
    let k = f64::from(dpi) / 72.0;
    let x0 = (r[0] * k) as u32;
    let x1 = ((r[0] + r[2]) * k) as u32;
    let y0 = ((PAGE_H - r[1] - r[3]) * k) as u32;
    let y1 = ((PAGE_H - r[1]) * k) as u32;
    let (mut dark, mut red) = (0, 0);
    for y in y0..y1.min(*h) {
        for x in x0..x1.min(*w) {
            let i = ((y * w + x) * 3) as usize;
            let (r, g, b) = (px[i], px[i + 1], px[i + 2]);
            if r < 200 || g < 200 || b < 200 {
                dark += 1;
            }
            if r > 170 && g < 110 && b < 110 {
                red += 1;
            }
        }
    }
    (dark, red)
}

#[test]
#[ignore = "needs poppler-utils (pdftoppm, pdftotext) and zbar-tools (zbarimg): full suite"]
fn the_stamp_renders_with_vietnamese_text_and_a_readable_qr_code() {
    if !(tool("pdftoppm", "-v") && tool("pdftotext", "-v") && tool("zbarimg", "--version")) {
        return;
    }
    let env = Env::new();
    let out = env.path("out.pdf");
    let id = env.sign_ok(&unsigned(), &out, &[], &[]);
    let shots = std::env::var_os("ANTIN_TEST_OUTPUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| env.path("shots"));
    std::fs::create_dir_all(&shots).unwrap();

    // The stamp region is painted, and the seal is red; the page above it is not touched by it.
    let dpi = 100;
    let img = render(&out, 1, dpi, &shots.join("signed-page-1"));
    let (dark, red) = ink(&img, STAMP, dpi);
    let area = (STAMP[2] * STAMP[3]) * (f64::from(dpi) / 72.0).powi(2);
    assert!(
        dark as f64 > area * 0.08,
        "the stamp region is almost blank: {dark} of {area} pixels"
    );
    assert!(
        red > 300,
        "no red seal in the stamp region: {red} red pixels"
    );
    let original = render(&unsigned(), 1, dpi, &env.path("original"));
    let (orig_dark, _) = ink(&original, STAMP, dpi);
    assert!(
        dark > orig_dark * 2 + 1000,
        "{dark} vs {orig_dark} before signing"
    );

    // The text comes back with its diacritics, the time in Vietnam time.
    let text = Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&out)
        .arg("-")
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).expect("UTF-8 text");
    assert!(text.contains("Sở Tư pháp tỉnh Thử Nghiệm"), "{text}");
    assert!(text.contains("Người ký: "), "{text}");
    let time = text
        .split_once("Thời gian ký: ")
        .unwrap_or_else(|| panic!("no signing time in {text:?}"))
        .1
        .get(..25)
        .unwrap_or_default()
        .to_owned();
    assert!(
        time.ends_with("+07:00") && time.as_bytes()[10] == b'T',
        "signing time {time:?} is not ISO 8601 in Vietnam time"
    );

    // The QR code decodes to the check page of this very document.
    let z = Command::new("zbarimg")
        .args(["-q", "--raw"])
        .arg(shots.join("signed-page-1.png"))
        .output()
        .unwrap();
    let decoded = String::from_utf8_lossy(&z.stdout).trim().to_owned();
    assert_eq!(decoded, format!("https://127.0.0.1:8443/v/{id}"));

    // The QR code alone on the page (invisible signature) decodes as well.
    let inv = env.path("invisible.pdf");
    let id2 = env.sign_ok(&unsigned(), &inv, &["--invisible"], &[]);
    render(&inv, 1, 150, &shots.join("invisible-page-1"));
    let z = Command::new("zbarimg")
        .args(["-q", "--raw"])
        .arg(shots.join("invisible-page-1.png"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&z.stdout).trim(),
        format!("https://127.0.0.1:8443/v/{id2}")
    );
}
