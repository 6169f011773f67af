//! The PDF side of signing (`sign::pdf`), judged by antin's own verifier and change analysis: every
//! update it writes must verify, cover the whole file, and be PERMITTED for earlier signatures; what
//! it must refuse, it refuses. `qpdf --check` reads every output too when qpdf is installed
//! (required under CI=true).

use std::path::PathBuf;
use std::process::Command;

use antin::config::{AlgorithmPolicyName, RevocationMode};
use antin::pdf::{self, Coverage, RevisionKind};
use antin::pki::trust::TrustStore;
use antin::sign::pdf::{
    add_dss, prepare, Appearance, DssData, Placement, SignPdfError, SignatureKind,
    SignatureRequest, VriEntry,
};
use antin::verify::diff::Level;
use antin::verify::engine::Context;
use antin::verify::report::{Check, Indication, Report};
use antin::verify::{Input, VerifyOptions};
use time::OffsetDateTime;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(root().join("fixtures/pdf").join(rel)).unwrap()
}

fn pki(name: &str) -> PathBuf {
    root().join("certs/test-pki").join(name)
}

fn pki_der(name: &str) -> Vec<u8> {
    let raw = std::fs::read(pki(name)).unwrap();
    if raw.starts_with(b"-----BEGIN CERTIFICATE") {
        openssl::x509::X509::from_pem(&raw)
            .unwrap()
            .to_der()
            .unwrap()
    } else {
        raw
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

// --- Making CMS signatures and timestamp tokens with OpenSSL -----------------------------------

fn have_openssl_cli() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A CAdES detached signature by citizen-an over `data` (with signing-certificate-v2 from the
/// OpenSSL CLI's -cades; the `openssl` crate cannot add it, so without the CLI the signature only
/// reaches integrity, and `passes_fully()` says so).
fn make_cms(data: &[u8]) -> Vec<u8> {
    if have_openssl_cli() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("data.bin");
        let out = dir.path().join("sig.der");
        std::fs::write(&input, data).unwrap();
        let status = Command::new("openssl")
            .args([
                "cms",
                "-sign",
                "-binary",
                "-cades",
                "-md",
                "sha256",
                "-nosmimecap",
            ])
            .args(["-outform", "DER", "-signer"])
            .arg(pki("citizen-an.pem"))
            .arg("-inkey")
            .arg(pki("citizen-an.key"))
            .arg("-certfile")
            .arg(pki("chain-licensed.pem"))
            .arg("-in")
            .arg(&input)
            .arg("-out")
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success(), "openssl cms -sign failed");
        return std::fs::read(out).unwrap();
    }
    use openssl::cms::{CMSOptions, CmsContentInfo};
    use openssl::pkey::PKey;
    use openssl::stack::Stack;
    use openssl::x509::X509;
    let cert = X509::from_pem(&std::fs::read(pki("citizen-an.pem")).unwrap()).unwrap();
    let key = PKey::private_key_from_pem(&std::fs::read(pki("citizen-an.key")).unwrap()).unwrap();
    let mut chain = Stack::new().unwrap();
    for c in X509::stack_from_pem(&std::fs::read(pki("chain-licensed.pem")).unwrap()).unwrap() {
        chain.push(c).unwrap();
    }
    CmsContentInfo::sign(
        Some(&cert),
        Some(&key),
        Some(&chain),
        Some(data),
        CMSOptions::DETACHED | CMSOptions::BINARY | CMSOptions::NOSMIMECAP,
    )
    .unwrap()
    .to_der()
    .unwrap()
}

fn passes_fully() -> bool {
    have_openssl_cli()
}

/// An RFC 3161 token from the test TSA over `data` (OpenSSL CLI), if the CLI is there.
fn make_timestamp_token(data: &[u8]) -> Option<Vec<u8>> {
    if !have_openssl_cli() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("data.bin"), data).unwrap();
    std::fs::write(p("serial"), "01\n").unwrap();
    std::fs::write(
        p("tsa.cnf"),
        format!(
            "[ tsa ]\ndefault_tsa = t\n[ t ]\nserial = {}\nsigner_digest = sha256\n\
             default_policy = 1.2.3.4.1\ndigests = sha256\ness_cert_id_alg = sha256\n\
             accuracy = secs:1\nordering = no\ntsa_name = no\ness_cert_id_chain = no\n",
            p("serial").display()
        ),
    )
    .unwrap();
    let q = Command::new("openssl")
        .args(["ts", "-query", "-sha256", "-cert", "-data"])
        .arg(p("data.bin"))
        .arg("-out")
        .arg(p("q.tsq"))
        .status()
        .ok()?;
    if !q.success() {
        return None;
    }
    let r = Command::new("openssl")
        .args(["ts", "-reply", "-token_out", "-config"])
        .arg(p("tsa.cnf"))
        .arg("-queryfile")
        .arg(p("q.tsq"))
        .arg("-signer")
        .arg(pki("tsa.pem"))
        .arg("-inkey")
        .arg(pki("tsa.key"))
        .arg("-chain")
        .arg(pki("chain-licensed.pem"))
        .arg("-out")
        .arg(p("token.der"))
        .output()
        .ok()?;
    if !r.status.success() {
        eprintln!(
            "openssl ts -reply failed: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        return None;
    }
    std::fs::read(p("token.der")).ok()
}

// --- Verifying ---------------------------------------------------------------------------------

fn verify(bytes: &[u8]) -> Report {
    let mut store = TrustStore::new();
    store.load_anchors(&pki("root-ca.pem")).unwrap();
    let ctx = Context::new(store).unwrap();
    let options = VerifyOptions {
        revocation: RevocationMode::Require,
        offline: true,
        at: None,
        expected_signer_id: None,
        algorithm_policy: AlgorithmPolicyName::Default,
        extra_crls: ["root-ca.crl", "licensed-ca.crl"]
            .iter()
            .map(|c| std::fs::read(pki(c)).unwrap())
            .collect(),
    };
    ctx.run(
        &Input::Pdf(bytes.to_vec()),
        &options,
        now(),
        &Default::default(),
    )
    .unwrap_or_else(|e| panic!("unreadable: {e}"))
    .outcome
    .report
}

fn pretty<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

/// Signature `i` verifies: TOTAL_PASSED with a CAdES CMS; at least integrity, signature value and
/// whole-file coverage otherwise.
fn assert_new_signature_ok(report: &Report, i: usize) {
    let s = &report.signatures[i];
    let coverage = s.coverage.as_ref().expect("coverage");
    assert_eq!(coverage.status, "whole_file", "{}", pretty(s));
    assert_eq!(s.checks.integrity, Check::Passed, "{}", pretty(s));
    assert_eq!(s.checks.signature_value, Check::Passed, "{}", pretty(s));
    assert_eq!(s.checks.coverage, Check::Passed, "{}", pretty(s));
    if passes_fully() {
        assert_eq!(s.indication, Indication::TotalPassed, "{}", pretty(s));
    }
}

/// Every earlier signature still passes, with only PERMITTED changes after it, and no update is
/// DISALLOWED.
fn assert_earlier_ok(report: &Report, earlier: &[usize]) {
    let disallowed: Vec<String> = report
        .document
        .changes
        .iter()
        .flat_map(|d| {
            d.disallowed()
                .map(move |c| format!("revision {}: {:?} {}", d.revision, c.kind, c.detail))
        })
        .collect();
    assert!(
        disallowed.is_empty(),
        "DISALLOWED changes: {disallowed:#?}\n{}",
        pretty(&report.document.changes)
    );
    for &i in earlier {
        let s = &report.signatures[i];
        assert_eq!(s.indication, Indication::TotalPassed, "{}", pretty(s));
        assert_eq!(s.modifications, Some(Level::Permitted), "{}", pretty(s));
    }
}

/// `qpdf --check` accepts the file (skipped with a message when qpdf is absent, except under CI).
fn qpdf_check(bytes: &[u8], what: &str) {
    let have = Command::new("qpdf").arg("--version").output().is_ok();
    if !have {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "qpdf is required under CI=true (apt-get install qpdf)"
        );
        eprintln!("qpdf not installed: skipping qpdf --check of {what}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("out.pdf");
    std::fs::write(&f, bytes).unwrap();
    let out = Command::new("qpdf")
        .arg("--check")
        .arg(&f)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && !text.contains("WARNING"),
        "qpdf --check {what}: {text}"
    );
}

/// Keeps `bytes` as `$ANTIN_SIGN_PDF_OUT/NAME.pdf` when that variable is set, for other validators
/// (`scripts/pyhanko-validate.py`, pdfsig, Acrobat).
fn keep(name: &str, bytes: &[u8]) {
    if let Some(dir) = std::env::var_os("ANTIN_SIGN_PDF_OUT") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.pdf")), bytes).unwrap();
    }
}

/// Prepares, signs with citizen-an, finishes, and checks the structure of the result.
fn sign(base: &[u8], req: &SignatureRequest) -> Vec<u8> {
    let p = prepare(base, req).unwrap_or_else(|e| panic!("prepare: {e}"));
    let [a, b] = p.signed_parts();
    let br = p.byte_range();
    assert_eq!(br[0], 0);
    assert_eq!(a.len(), br[1]);
    assert_eq!(b.len(), br[3]);
    let cms = make_cms(&[a, b].concat());
    let out = p.finish(&cms).unwrap();
    check_structure(base, &out, br);
    out
}

fn check_structure(base: &[u8], out: &[u8], br: [usize; 4]) {
    // The original bytes are never changed.
    assert_eq!(&out[..base.len()], base);
    assert!(out.len() > base.len());
    // The gap is exactly /Contents with its delimiters; the tail ends the file and the revision.
    assert_eq!(out[br[1]], b'<');
    assert_eq!(out[br[2] - 1], b'>');
    assert_eq!(br[2] + br[3], out.len());
    let doc = pdf::parse(out, &Default::default()).unwrap();
    assert_eq!(
        doc.revisions().len(),
        pdf::parse(base, &Default::default())
            .unwrap()
            .revisions()
            .len()
            + 1
    );
    assert!(doc.revisions().last().unwrap().ends_at(out.len()));
    let sigs = doc.signatures().unwrap();
    let last = sigs
        .iter()
        .find(|s| s.contents_span == Some((br[1], br[2])))
        .expect("the new signature is found");
    assert_eq!(last.coverage, Coverage::WholeFile);
    assert_eq!(
        last.byte_range.as_deref(),
        Some(&[0, br[1] as i64, br[2] as i64, br[3] as i64][..])
    );
    assert!(doc.warnings().is_empty(), "{:?}", doc.warnings());
    qpdf_check(out, "signed output");
}

fn request(field: &str) -> SignatureRequest {
    let mut r = SignatureRequest::new(SignatureKind::Signature, now());
    r.field_name = field.to_owned();
    r.name = Some("Nguyễn Văn An".to_owned());
    r.reason = Some("Phê duyệt hồ sơ".to_owned());
    r.location = Some("Ha Noi".to_owned());
    r.contact_info = Some("an@example.vn".to_owned());
    r
}

// --- Hand-made inputs ---------------------------------------------------------------------------

/// A classic incremental update on `base` defining `objects` (number, body).
fn append_update(base: &[u8], objects: &[(u32, &str)]) -> Vec<u8> {
    let doc = pdf::parse(base, &Default::default()).unwrap();
    let last = doc.revisions().last().unwrap();
    let size = last.trailer.get_int(b"Size").unwrap() as u32;
    let prev = last.xref_offset;
    let mut out = base.to_vec();
    let mut offsets = Vec::new();
    for (num, body) in objects {
        offsets.push((*num, out.len()));
        out.extend_from_slice(format!("{num} 0 obj\n{body}\nendobj\n").as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(b"xref\n");
    for (num, off) in &offsets {
        out.extend_from_slice(format!("{num} 1\n{off:010} 00000 n \n").as_bytes());
    }
    let size = objects
        .iter()
        .map(|(n, _)| n + 1)
        .max()
        .unwrap_or(0)
        .max(size);
    out.extend_from_slice(
        format!("trailer\n<< /Size {size} /Root 1 0 R /Info 6 0 R /Prev {prev} >>\nstartxref\n{xref}\n%%EOF\n")
            .as_bytes(),
    );
    out
}

/// The page dictionary of unsigned.pdf with `extra` entries.
fn page3(extra: &str) -> String {
    format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R {extra}>>")
}

/// unsigned.pdf plus an empty merged signature field "Approver", a text field "Note" and a
/// hierarchical empty signature field "Group.Witness" with a separate widget.
fn with_empty_fields() -> Vec<u8> {
    append_update(
        &fixture("unsigned.pdf"),
        &[
            (1, "<< /Type /Catalog /Pages 2 0 R /AcroForm 9 0 R >>"),
            (3, &page3("/Annots [7 0 R 8 0 R 12 0 R] ")),
            (7, "<< /FT /Sig /T (Approver) /Type /Annot /Subtype /Widget /Rect [300 100 500 150] /F 132 /P 3 0 R >>"),
            (8, "<< /FT /Tx /T (Note) /Type /Annot /Subtype /Widget /Rect [50 50 150 70] /F 4 /P 3 0 R >>"),
            (9, "<< /Fields [7 0 R 8 0 R 10 0 R] >>"),
            (10, "<< /FT /Sig /T (Group) /Kids [11 0 R] >>"),
            (11, "<< /T (Witness) /Parent 10 0 R /Kids [12 0 R] >>"),
            (12, "<< /Type /Annot /Subtype /Widget /Parent 11 0 R /Rect [300 200 500 250] /F 132 /P 3 0 R >>"),
        ],
    )
}

/// unsigned.pdf rewritten with its page's /Annots and the form's /Fields as indirect arrays.
fn with_indirect_arrays() -> Vec<u8> {
    append_update(
        &fixture("unsigned.pdf"),
        &[
            (1, "<< /Type /Catalog /Pages 2 0 R /AcroForm 8 0 R >>"),
            (3, &page3("/Annots 7 0 R ")),
            (7, "[]"),
            (8, "<< /Fields 9 0 R /DA (/Helv 0 Tf 0 g) >>"),
            (9, "[]"),
        ],
    )
}

/// unsigned.pdf's objects written as PDF 1.5 with an object stream (catalog, pages, page, font,
/// info) and a cross-reference stream, as pyHanko, qpdf and most modern writers produce.
fn with_xref_stream() -> Vec<u8> {
    let unsigned = fixture("unsigned.pdf");
    let doc = pdf::parse(&unsigned, &Default::default()).unwrap();
    let raw = |n: u32| -> Vec<u8> {
        let o = doc.object(0, (n, 0)).unwrap().unwrap();
        unsigned[o.obj.span.0..o.obj.span.1].to_vec()
    };
    let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let content_at = out.len();
    out.extend_from_slice(b"5 0 obj\n");
    out.extend_from_slice(&raw(5));
    out.extend_from_slice(b"\nendobj\n");
    let mut header = String::new();
    let mut body = Vec::new();
    for n in [1u32, 2, 3, 4, 6] {
        header.push_str(&format!("{n} {} ", body.len()));
        body.extend_from_slice(&raw(n));
        body.push(b'\n');
    }
    let stm_at = out.len();
    out.extend_from_slice(
        format!(
            "7 0 obj\n<< /Type /ObjStm /N 5 /First {} /Length {} >>\nstream\n{header}",
            header.len(),
            header.len() + body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&body);
    out.extend_from_slice(b"\nendstream\nendobj\n");
    let xref_at = out.len();
    let mut rows: Vec<[u8; 7]> = Vec::new();
    let row = |t: u8, a: u32, b: u16| {
        let a = a.to_be_bytes();
        let b = b.to_be_bytes();
        [t, a[0], a[1], a[2], a[3], b[0], b[1]]
    };
    rows.push(row(0, 0, 65535));
    // Objects 1 to 4 are the first four in the object stream.
    for idx in 0..4 {
        rows.push(row(2, 7, idx));
    }
    rows.push(row(1, content_at as u32, 0));
    rows.push(row(2, 7, 4));
    rows.push(row(1, stm_at as u32, 0));
    rows.push(row(1, xref_at as u32, 0));
    let data: Vec<u8> = rows.concat();
    out.extend_from_slice(
        format!(
            "8 0 obj\n<< /Type /XRef /Size 9 /W [1 4 2] /Root 1 0 R /Info 6 0 R /ID [<01020304> <01020304>] /Length {} >>\nstream\n",
            data.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&data);
    out.extend_from_slice(format!("\nendstream\nendobj\nstartxref\n{xref_at}\n%%EOF\n").as_bytes());
    out
}

// --- Signing ----------------------------------------------------------------------------------

#[test]
fn invisible_signature_on_an_unsigned_document() {
    let base = fixture("unsigned.pdf");
    let out = sign(&base, &request("Signature1"));
    keep("invisible", &out);
    let r = verify(&out);
    assert_eq!(r.signatures.len(), 1);
    assert_new_signature_ok(&r, 0);
    let doc = pdf::parse(&out, &Default::default()).unwrap();
    let s = &doc.signatures().unwrap()[0];
    assert_eq!(s.field_name.as_deref(), Some("Signature1"));
    assert_eq!(s.name.as_deref(), Some("Nguyễn Văn An"));
    assert_eq!(s.reason.as_deref(), Some("Phê duyệt hồ sơ"));
    assert_eq!(s.location.as_deref(), Some("Ha Noi"));
    assert_eq!(s.contact_info.as_deref(), Some("an@example.vn"));
    assert_eq!(s.sub_filter.as_deref(), Some("ETSI.CAdES.detached"));
    assert_eq!(s.filter.as_deref(), Some("Adobe.PPKLite"));
    let m = s.claimed_time_raw.as_deref().unwrap();
    assert!(m.starts_with("D:") && m.ends_with("+07'00'"), "{m}");
    assert_eq!(s.docmdp, None);
    // Whole seconds in Vietnam time round-trip.
    let claimed = s.claimed_time.unwrap();
    assert!((now() - claimed).whole_seconds().abs() < 120);
    assert_eq!(doc.revisions().last().unwrap().kind, RevisionKind::Table);
}

#[test]
fn a_second_signature_keeps_the_first_valid() {
    let base = fixture("signed-approval.pdf");
    let out = sign(&base, &request("Signature1"));
    keep("second", &out);
    let r = verify(&out);
    assert_eq!(r.signatures.len(), 2);
    assert_new_signature_ok(&r, 1);
    assert_earlier_ok(&r, &[0]);
    // The name was taken: the new field got the next number.
    let doc = pdf::parse(&out, &Default::default()).unwrap();
    let names: Vec<_> = doc
        .signatures()
        .unwrap()
        .into_iter()
        .map(|s| s.field_name.unwrap())
        .collect();
    assert_eq!(names, ["Signature1", "Signature2"]);
}

#[test]
fn a_file_without_a_final_newline_gets_one() {
    let mut base = fixture("unsigned.pdf");
    while base.last() == Some(&b'\n') {
        base.pop();
    }
    let p = prepare(&base, &request("Signature1")).unwrap();
    let cms = make_cms(&p.signed_parts().concat());
    let out = p.finish(&cms).unwrap();
    assert_eq!(&out[..base.len()], &base[..]);
    assert_eq!(out[base.len()], b'\n');
    assert_new_signature_ok(&verify(&out), 0);
}

fn rich_appearance() -> Appearance {
    // A 2x2 RGB image with a soft mask (an extra object) and a text line.
    let smask = b"<< /Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceGray /BitsPerComponent 8 /Length 4 >>\nstream\n\xFF\x80\x80\xFF\nendstream".to_vec();
    let mut image = b"<< /Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceRGB /BitsPerComponent 8 /SMask {{obj:0}} /Length 12 >>\nstream\n".to_vec();
    // Stream data that looks like a placeholder must be left alone.
    image.extend_from_slice(b"{{obj:9}}\xC0\x10\x20");
    image.extend_from_slice(b"\nendstream");
    Appearance {
        content: b"q 0 0 1 rg 0 0 200 60 re S Q q 40 0 0 40 150 10 cm /Im1 Do Q BT /F1 10 Tf 5 40 Td (Signed by Nguyen Van An) Tj ET".to_vec(),
        fonts: vec![(
            "F1".into(),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec(),
        )],
        xobjects: vec![("Im1".into(), image)],
        extra: vec![smask],
    }
}

#[test]
fn visible_signature_on_page_one() {
    let base = fixture("signed-approval.pdf");
    let mut req = request("Visible");
    req.placement = Placement::Visible {
        page: 1,
        rect: [300.0, 100.0, 200.0, 60.0],
    };
    req.appearance = Some(std::sync::Arc::new(rich_appearance()));
    let out = sign(&base, &req);
    keep("visible", &out);
    let r = verify(&out);
    assert_new_signature_ok(&r, 1);
    assert_earlier_ok(&r, &[0]);
    // The widget has the rectangle and an appearance whose image kept its bytes.
    let text = String::from_utf8_lossy(&out[base.len()..]).into_owned();
    assert!(text.contains("/Rect [300 100 500 160]"), "{text}");
    assert!(text.contains("/AP << /N "), "{text}");
    assert!(text.contains("/BBox [0 0 200 60]"), "{text}");
    assert!(
        text.contains("{{obj:9}}"),
        "stream data must not be rewritten"
    );
    assert!(
        !text.contains("{{obj:0}}"),
        "placeholder left in a dictionary"
    );

    // Without an appearance, a minimal empty one.
    req.appearance = None;
    let out = sign(&base, &req);
    assert_new_signature_ok(&verify(&out), 1);
}

#[test]
fn visible_signature_rejects_bad_requests() {
    let base = fixture("unsigned.pdf");
    let mut req = request("V");
    req.placement = Placement::Visible {
        page: 2,
        rect: [0.0, 0.0, 10.0, 10.0],
    };
    assert_eq!(
        prepare(&base, &req).unwrap_err(),
        SignPdfError::PageOutOfRange { page: 2, pages: 1 }
    );
    req.placement = Placement::Visible {
        page: 0,
        rect: [0.0, 0.0, 10.0, 10.0],
    };
    assert!(matches!(
        prepare(&base, &req).unwrap_err(),
        SignPdfError::PageOutOfRange { page: 0, .. }
    ));
    req.placement = Placement::Visible {
        page: 1,
        rect: [0.0, f64::NAN, 10.0, 10.0],
    };
    assert!(matches!(
        prepare(&base, &req),
        Err(SignPdfError::Invalid(_))
    ));
    req.placement = Placement::Visible {
        page: 1,
        rect: [0.0, 0.0, 10.0, 10.0],
    };
    let mut bad = rich_appearance();
    bad.fonts[0].1 = b"<< /Type /Font".to_vec();
    req.appearance = Some(std::sync::Arc::new(bad));
    assert!(matches!(
        prepare(&base, &req),
        Err(SignPdfError::Invalid(_))
    ));
    let mut bad = rich_appearance();
    bad.extra.clear();
    req.appearance = Some(std::sync::Arc::new(bad));
    assert!(matches!(
        prepare(&base, &req),
        Err(SignPdfError::Invalid(_))
    ));
    req.appearance = None;
    req.field_name = "a.b".into();
    assert!(matches!(
        prepare(&base, &req),
        Err(SignPdfError::Invalid(_))
    ));
}

#[test]
fn named_empty_fields_are_filled() {
    let base = with_empty_fields();
    qpdf_check(&base, "hand-made form");
    // A first signature in a new field, then the empty merged field "Approver" with an appearance.
    let first = sign(&base, &request("Signature1"));
    let mut req = request("ignored");
    req.placement = Placement::Field("Approver".into());
    req.appearance = Some(std::sync::Arc::new(rich_appearance()));
    let out = sign(&first, &req);
    keep("named", &out);
    let r = verify(&out);
    assert_eq!(r.signatures.len(), 2);
    assert_new_signature_ok(&r, 1);
    assert_eq!(r.signatures[1].field_name.as_deref(), Some("Approver"));
    assert_earlier_ok(&r, &[0]);
}

/// A field whose widget is a separate kid: /V on the field, and /AP on the widget when an
/// appearance is given.
fn sign_kid_widget_field(appearance: bool) -> (Vec<u8>, Report) {
    let first = sign(&with_empty_fields(), &request("Signature1"));
    let mut req = request("ignored");
    req.placement = Placement::Field("Group.Witness".into());
    if appearance {
        req.appearance = Some(std::sync::Arc::new(rich_appearance()));
    }
    let out = sign(&first, &req);
    keep(
        if appearance {
            "kid-widget-ap"
        } else {
            "kid-widget"
        },
        &out,
    );
    let doc = pdf::parse(&out, &Default::default()).unwrap();
    let nums = doc.revisions().last().unwrap().object_numbers();
    assert!(nums.contains(&11), "{nums:?}");
    assert_eq!(nums.contains(&12), appearance, "{nums:?}");
    drop(doc);
    let r = verify(&out);
    assert_eq!(r.signatures.len(), 2);
    assert_new_signature_ok(&r, 1);
    assert_eq!(r.signatures[1].field_name.as_deref(), Some("Group.Witness"));
    (out, r)
}

#[test]
fn a_field_with_a_separate_widget_is_filled() {
    let (_, r) = sign_kid_widget_field(false);
    assert_earlier_ok(&r, &[0]);
    sign_kid_widget_field(true);
}

#[test]
fn a_separate_widget_with_a_new_appearance_keeps_earlier_signatures() {
    let (_, r) = sign_kid_widget_field(true);
    assert_earlier_ok(&r, &[0]);
}

#[test]
fn named_field_errors() {
    let base = sign(&with_empty_fields(), &request("Signature1"));
    let mut req = request("x");
    for (target, want) in [
        ("Nope", SignPdfError::FieldNotFound("Nope".into())),
        ("Note", SignPdfError::FieldNotSignature("Note".into())),
        (
            "Signature1",
            SignPdfError::FieldNotEmpty("Signature1".into()),
        ),
    ] {
        req.placement = Placement::Field(target.into());
        assert_eq!(prepare(&base, &req).unwrap_err(), want, "{target}");
    }
    // "Group" is a signature field with a field below it, not a terminal field.
    req.placement = Placement::Field("Group".into());
    assert!(matches!(
        prepare(&base, &req),
        Err(SignPdfError::Invalid(_))
    ));
}

#[test]
fn field_mdp_lock_is_recorded_and_honoured() {
    let base = with_empty_fields();
    let mut req = request("Locker");
    req.lock_fields = Some(vec!["Approver".into()]);
    let out = sign(&base, &req);
    let doc = pdf::parse(&out, &Default::default()).unwrap();
    let lock = doc.signatures().unwrap()[0].field_lock.clone().unwrap();
    assert_eq!(lock.action, pdf::LockAction::Include);
    assert_eq!(lock.fields, ["Approver"]);
    assert_new_signature_ok(&verify(&out), 0);
    let mut req = request("x");
    req.placement = Placement::Field("Approver".into());
    assert_eq!(
        prepare(&out, &req).unwrap_err(),
        SignPdfError::FieldLocked("Approver".into())
    );
    // Lock all.
    let mut req = request("All");
    req.lock_fields = Some(Vec::new());
    let out = sign(&base, &req);
    let doc = pdf::parse(&out, &Default::default()).unwrap();
    assert_eq!(
        doc.signatures().unwrap()[0]
            .field_lock
            .as_ref()
            .unwrap()
            .action,
        pdf::LockAction::All
    );
}

#[test]
fn certification_p2_then_an_approval_signature() {
    let base = fixture("unsigned.pdf");
    let mut req = request("Certification");
    req.certify = Some(2);
    let certified = sign(&base, &req);
    keep("certified-p2", &certified);
    let r = verify(&certified);
    assert_new_signature_ok(&r, 0);
    assert_eq!(r.signatures[0].docmdp, Some(2));
    let doc = pdf::parse(&certified, &Default::default()).unwrap();
    assert_eq!(doc.signatures().unwrap()[0].docmdp, Some(2));
    let cat = doc.catalog(doc.revisions().len() - 1).unwrap();
    assert!(cat.get(b"Perms").is_some());

    // A second certification is refused.
    assert_eq!(
        prepare(&certified, &req).unwrap_err(),
        SignPdfError::AlreadyCertified
    );
    // Approval signatures are allowed under /P 2: invisible, and visible off the page content.
    let approved = sign(&certified, &request("Approval"));
    let r = verify(&approved);
    assert_new_signature_ok(&r, 1);
    assert_earlier_ok(&r, &[0]);
    let mut vis = request("Visible");
    vis.placement = Placement::Visible {
        page: 1,
        rect: [300.0, 100.0, 200.0, 60.0],
    };
    let out = sign(&approved, &vis);
    keep("certified-p2-two-approvals", &out);
    let r = verify(&out);
    assert_new_signature_ok(&r, 2);
    assert_earlier_ok(&r, &[0, 1]);
}

#[test]
fn certifying_after_an_approval_is_refused() {
    let mut req = request("C");
    req.certify = Some(2);
    assert!(matches!(
        prepare(&fixture("signed-approval.pdf"), &req),
        Err(SignPdfError::Invalid(_))
    ));
    // A pyHanko certification.
    assert_eq!(
        prepare(&fixture("signed-certify-p2.pdf"), &req).unwrap_err(),
        SignPdfError::AlreadyCertified
    );
    req.certify = Some(4);
    assert!(matches!(
        prepare(&fixture("unsigned.pdf"), &req),
        Err(SignPdfError::Invalid(_))
    ));
}

#[test]
fn p1_certification_refuses_signatures_but_not_timestamps() {
    let mut req = request("Certification");
    req.certify = Some(1);
    let certified = sign(&fixture("unsigned.pdf"), &req);
    assert_new_signature_ok(&verify(&certified), 0);
    assert_eq!(
        prepare(&certified, &request("Approval")).unwrap_err(),
        SignPdfError::CertifiedNoChanges
    );
    // A document timestamp is still permitted (ISO 32000-2 Table 257).
    let mut ts = SignatureRequest::new(SignatureKind::DocumentTimestamp, now());
    ts.field_name = "DocTS".into();
    let p = prepare(&certified, &ts).unwrap();
    let br = p.byte_range();
    let Some(token) = make_timestamp_token(&p.signed_parts().concat()) else {
        eprintln!("no openssl ts: document timestamp not verified");
        return;
    };
    let out = p.finish(&token).unwrap();
    keep("p1-doc-timestamp", &out);
    check_structure(&certified, &out, br);
    let text = String::from_utf8_lossy(&out[certified.len()..]).into_owned();
    assert!(text.contains("/Type /DocTimeStamp") && text.contains("/ETSI.RFC3161"));
    assert!(!text.contains("/M "), "document timestamps carry no /M");
    let r = verify(&out);
    assert_eq!(r.signatures.len(), 2, "{}", pretty(&r));
    assert_earlier_ok(&r, &[0]);
    let t = &r.signatures[1];
    assert_eq!(t.coverage.as_ref().unwrap().status, "whole_file");
    assert_eq!(t.indication, Indication::TotalPassed, "{}", pretty(t));
}

/// `hay` with the first `from` replaced by `to` (same length, so no offset moves).
fn replace_once(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = hay
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern present");
    let mut out = hay.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}

#[test]
fn encrypted_and_broken_files_are_refused() {
    let base = fixture("unsigned.pdf");
    // Same length: the xref offsets stay right.
    let enc = replace_once(
        &base,
        b"/Info 6 0 R /ID [<616e74",
        b"/Encrypt 6 0 R /ID [<616",
    );
    assert!(pdf::parse(&enc, &Default::default()).is_ok());
    assert_eq!(
        prepare(&enc, &request("S")).unwrap_err(),
        SignPdfError::Encrypted
    );
    assert_eq!(
        add_dss(&enc, &DssData::default()).unwrap_err(),
        SignPdfError::Encrypted
    );
    for bad in [&b"not a pdf"[..], b"%PDF-1.7\n1 0 obj\n<< >>\nendobj\n"] {
        assert!(matches!(
            prepare(bad, &request("S")),
            Err(SignPdfError::Unreadable(_))
        ));
    }
    // An update without xref and trailer after the last revision (incremental saving attack).
    let stripped = fixture("attacks/isa-stripped-xref.pdf");
    assert!(matches!(
        prepare(&stripped, &request("S")),
        Err(SignPdfError::Unreadable(_))
    ));
    // A wrong xref offset (the page object): readers repair it differently.
    let broken = replace_once(&base, b"0000000121 00000 n", b"0000000125 00000 n");
    assert!(pdf::parse(&broken, &Default::default()).is_ok());
    let err = prepare(&broken, &request("S")).unwrap_err();
    assert!(
        matches!(&err, SignPdfError::Unreadable(m) if m.contains("cross-reference")),
        "{err:?}"
    );
}

#[test]
fn cms_too_large_for_the_placeholder() {
    let mut req = request("S");
    req.contents_capacity = 100;
    let p = prepare(&fixture("unsigned.pdf"), &req).unwrap();
    assert_eq!(p.byte_range()[2] - p.byte_range()[1], 202);
    assert_eq!(
        p.finish(&[0x30; 101]).unwrap_err(),
        SignPdfError::CmsTooLarge {
            need: 101,
            capacity: 100
        }
    );
    let p = prepare(&fixture("unsigned.pdf"), &req).unwrap();
    assert!(p.finish(&[0x30; 100]).is_ok());
    req.contents_capacity = 0;
    assert!(matches!(
        prepare(&fixture("unsigned.pdf"), &req),
        Err(SignPdfError::Invalid(_))
    ));
}

#[test]
fn xref_stream_files_get_an_xref_stream_update() {
    let base = with_xref_stream();
    qpdf_check(&base, "hand-made xref stream file");
    let doc = pdf::parse(&base, &Default::default()).unwrap();
    assert_eq!(doc.revisions()[0].kind, RevisionKind::Stream);
    drop(doc);
    let first = sign(&base, &request("Signature1"));
    let doc = pdf::parse(&first, &Default::default()).unwrap();
    assert_eq!(doc.revisions().last().unwrap().kind, RevisionKind::Stream);
    assert_new_signature_ok(&verify(&first), 0);
    // The page lived in an object stream: it was rewritten, dictionary entries kept.
    let page = doc.object(1, (3, 0)).unwrap().unwrap();
    assert!(matches!(page.location, pdf::Location::InFile { .. }));
    let d = page.obj.as_dict().unwrap();
    assert!(d.get(b"Annots").is_some() && d.get(b"Contents").is_some());
    drop(doc);
    // And a second signature over our own xref stream update.
    let mut vis = request("Signature2");
    vis.placement = Placement::Visible {
        page: 1,
        rect: [50.0, 50.0, 120.0, 40.0],
    };
    let second = sign(&first, &vis);
    keep("xref-stream-two", &second);
    let r = verify(&second);
    assert_new_signature_ok(&r, 1);
    assert_earlier_ok(&r, &[0]);
}

/// Two signatures on a file whose page /Annots and form /Fields are indirect arrays.
fn sign_twice_with_indirect_arrays() -> Report {
    let base = with_indirect_arrays();
    let first = sign(&base, &request("Signature1"));
    assert_new_signature_ok(&verify(&first), 0);
    let second = sign(&first, &request("Signature2"));
    keep("indirect-arrays-two", &second);
    // Objects 7 (the page's /Annots) and 9 (the form's /Fields) were rewritten, page and form not.
    let doc = pdf::parse(&second, &Default::default()).unwrap();
    let last = doc.revisions().last().unwrap();
    let nums = last.object_numbers();
    assert!(nums.contains(&7) && nums.contains(&9), "{nums:?}");
    assert!(!nums.contains(&3) && !nums.contains(&8), "{nums:?}");
    drop(doc);
    let r = verify(&second);
    assert_new_signature_ok(&r, 1);
    r
}

#[test]
fn indirect_annots_and_fields_arrays_are_rewritten() {
    sign_twice_with_indirect_arrays();
}

#[test]
fn indirect_arrays_update_keeps_earlier_signatures() {
    let r = sign_twice_with_indirect_arrays();
    assert_earlier_ok(&r, &[0]);
}

// --- The DSS ----------------------------------------------------------------------------------

/// Length of the DER element at the start of `b` (definite lengths).
fn der_len(b: &[u8]) -> usize {
    match b[1] {
        n @ 0..=0x7f => 2 + n as usize,
        n => {
            let k = (n & 0x7f) as usize;
            2 + k + b[2..2 + k].iter().fold(0usize, |a, &x| a << 8 | x as usize)
        }
    }
}

#[test]
fn dss_round_trip() {
    let signed = sign(&fixture("unsigned.pdf"), &request("Signature1"));
    let doc = pdf::parse(&signed, &Default::default()).unwrap();
    let contents = doc.signatures().unwrap()[0].contents.clone();
    assert!(der_len(&contents) < contents.len());
    drop(doc);
    let certs = vec![
        pki_der("citizen-an.pem"),
        pki_der("licensed-ca.pem"),
        pki_der("root-ca.pem"),
    ];
    let crls = vec![pki_der("root-ca.crl"), pki_der("licensed-ca.crl")];
    let ocsps = vec![pki_der("citizen-an-good.ocsp")];
    let data = DssData {
        certs: certs.clone(),
        crls: crls.clone(),
        ocsps: ocsps.clone(),
        vri: vec![VriEntry {
            // The bare DER (shorter than the padded /Contents): matched to it for the key.
            signature_contents: contents[..der_len(&contents)].to_vec(),
            certs: vec![0, 1, 2],
            crls: vec![0, 1],
            ocsps: vec![0],
        }],
    };
    let out = add_dss(&signed, &data).unwrap();
    keep("dss", &out);
    assert_eq!(&out[..signed.len()], &signed[..]);
    qpdf_check(&out, "DSS update");
    let doc = pdf::parse(&out, &Default::default()).unwrap();
    let dss = doc.dss().unwrap().expect("a DSS");
    assert_eq!(dss.certs, certs);
    assert_eq!(dss.crls, crls);
    assert_eq!(dss.ocsps, ocsps);
    let key = hex::encode_upper(openssl::sha::sha1(&contents));
    let vri = dss.vri.get(&key).expect("VRI keyed by SHA-1 of /Contents");
    assert_eq!(vri.certs, certs);
    assert_eq!(vri.crls, crls);
    assert_eq!(vri.ocsps, ocsps);
    drop(doc);
    let r = verify(&out);
    assert_eq!(
        r.document.changes.iter().map(|d| d.level).max(),
        Some(Level::Permitted),
        "{}",
        pretty(&r.document.changes)
    );
    assert_earlier_ok(&r, &[0]);

    // The same data again: nothing new, nothing written.
    assert_eq!(add_dss(&out, &data).unwrap(), out);
    // One new item and a duplicate: existing streams kept by reference, one stream added.
    let more = DssData {
        certs: vec![certs[0].clone(), pki_der("director-mst.pem")],
        ..Default::default()
    };
    let out2 = add_dss(&out, &more).unwrap();
    let doc = pdf::parse(&out2, &Default::default()).unwrap();
    let dss2 = doc.dss().unwrap().unwrap();
    assert_eq!(dss2.certs.len(), 4);
    assert_eq!(&dss2.certs[..3], &certs[..]);
    assert_eq!(dss2.crls, crls);
    assert_eq!(dss2.vri.get(&key), Some(vri));
    let new_objects = doc.revisions().last().unwrap().object_numbers().len();
    assert_eq!(
        new_objects, 2,
        "the DSS dictionary and one certificate stream"
    );
    drop(doc);
    let r = verify(&out2);
    assert_earlier_ok(&r, &[0]);

    // Bad indices are refused.
    let bad = DssData {
        vri: vec![VriEntry {
            signature_contents: contents,
            certs: vec![5],
            ..Default::default()
        }],
        ..Default::default()
    };
    assert!(matches!(
        add_dss(&signed, &bad),
        Err(SignPdfError::Invalid(_))
    ));
}

#[test]
fn dss_merges_with_a_pyhanko_dss() {
    let base = fixture("signed-lt.pdf");
    let doc = pdf::parse(&base, &Default::default()).unwrap();
    let old = doc.dss().unwrap().unwrap();
    let contents = doc.signatures().unwrap()[0].contents.clone();
    drop(doc);
    let key = hex::encode_upper(openssl::sha::sha1(&contents));
    assert!(
        old.vri.contains_key(&key),
        "pyHanko's VRI key is the SHA-1 of the padded /Contents"
    );
    let new_cert = pki_der("director-mst.pem");
    let data = DssData {
        certs: vec![old.certs[0].clone(), new_cert.clone()],
        crls: old.crls.clone(),
        ocsps: vec![],
        vri: vec![VriEntry {
            signature_contents: contents,
            certs: vec![1],
            crls: vec![0],
            ocsps: vec![],
        }],
    };
    let out = add_dss(&base, &data).unwrap();
    keep("dss-merged", &out);
    let doc = pdf::parse(&out, &Default::default()).unwrap();
    let dss = doc.dss().unwrap().unwrap();
    assert_eq!(dss.certs.len(), old.certs.len() + 1);
    assert_eq!(&dss.certs[..old.certs.len()], &old.certs[..]);
    assert_eq!(dss.crls, old.crls);
    assert_eq!(dss.ocsps, old.ocsps);
    let vri = &dss.vri[&key];
    let old_vri = &old.vri[&key];
    assert_eq!(vri.certs.len(), old_vri.certs.len() + 1);
    assert_eq!(vri.crls, old_vri.crls);
    assert_eq!(vri.ocsps, old_vri.ocsps);
    assert_eq!(vri.tu, old_vri.tu);
    drop(doc);
    qpdf_check(&out, "merged DSS");
    let r = verify(&out);
    assert_earlier_ok(&r, &[0]);
}

#[test]
fn signing_after_a_dss_update_and_on_pyhanko_multi_revision_files() {
    for f in [
        "signed-lt.pdf",
        "signed-two.pdf",
        "signed-lta.pdf",
        "signed-certify-p2.pdf",
        "bench-5sig.pdf",
    ] {
        let base = fixture(f);
        let out = sign(&base, &request("Later"));
        let r = verify(&out);
        let n = r.signatures.len();
        assert_new_signature_ok(&r, n - 1);
        let earlier: Vec<usize> = (0..n - 1)
            .filter(|&i| r.signatures[i].kind == antin::verify::report::SignatureKind::Signature)
            .collect();
        assert_earlier_ok(&r, &earlier);
    }
}
