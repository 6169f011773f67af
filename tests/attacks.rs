//! Verification that cannot be fooled: every attack fixture (fixtures/attacks.tsv, made by
//! scripts/make-attack-fixtures.py, described in fixtures/attacks.md) fails with its reason, every
//! permitted update passes; and property tests over the change analysis.

mod common;

use antin::config::{AlgorithmPolicyName, RevocationMode};
use antin::pki::trust::TrustStore;
use antin::verify::diff::Level;
use antin::verify::engine::Context;
use antin::verify::{Input, VerifyOptions};
use common::{fixture, manifest_dir, test_pki};

const AT: time::OffsetDateTime = time::macros::datetime!(2026-11-22 12:00:00 UTC);

fn context() -> Context {
    let mut store = TrustStore::new();
    store.load_anchors(&test_pki("root-ca.pem")).unwrap();
    Context::new(store).unwrap()
}

fn options() -> VerifyOptions {
    VerifyOptions {
        revocation: RevocationMode::Require,
        offline: true,
        at: Some(AT),
        expected_signer_id: None,
        algorithm_policy: AlgorithmPolicyName::Default,
        extra_crls: ["root-ca.crl", "licensed-ca.crl"]
            .iter()
            .map(|c| std::fs::read(test_pki(c)).unwrap())
            .collect(),
    }
}

fn verify(ctx: &Context, bytes: Vec<u8>) -> antin::verify::Report {
    ctx.run(&Input::Pdf(bytes), &options(), AT, &Default::default())
        .unwrap_or_else(|e| panic!("unreadable: {e}"))
        .outcome
        .report
}

fn document_finding(r: &antin::verify::Report) -> &'static str {
    match r.document.changes.iter().map(|d| d.level).max() {
        None | Some(Level::None) => "NONE",
        Some(Level::Permitted) => "PERMITTED",
        Some(Level::Disallowed) => "DISALLOWED",
    }
}

#[test]
fn every_attack_fails_and_every_permitted_update_passes() {
    let table = std::fs::read_to_string(manifest_dir().join("fixtures/attacks.tsv")).unwrap();
    let ctx = context();
    let mut failures = Vec::new();
    let mut rows = 0;
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let [file, class, verdict, sub, finding, ..] = cols[..] else {
            panic!("bad row {line:?}");
        };
        rows += 1;
        let report = verify(&ctx, std::fs::read(fixture(file)).unwrap());
        let got_sub = report.signatures[0]
            .sub_indication
            .map(|s| s.as_str())
            .unwrap_or("-");
        let got_finding = document_finding(&report);
        if report.verdict.as_str() != verdict || got_sub != sub || got_finding != finding {
            failures.push(format!(
                "{file} ({class}): expected {verdict}/{sub}/{finding}, got {}/{got_sub}/{got_finding}: {}",
                report.verdict.as_str(),
                report.summary.en
            ));
        }
        // Every failure says why in plain words.
        if verdict == "TOTAL_FAILED" {
            assert!(!report.summary.vi.is_empty() && !report.summary.en.is_empty());
        }
    }
    assert!(rows >= 29, "only {rows} rows");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_clerk_reads_what_changed() {
    let ctx = context();
    let r = verify(
        &ctx,
        std::fs::read(fixture("pdf/signed-appended.pdf")).unwrap(),
    );
    assert_eq!(
        r.summary.vi,
        "Tài liệu đã bị sửa đổi sau khi ký: sửa nội dung trang 1."
    );
    let r = verify(
        &ctx,
        std::fs::read(fixture("pdf/attacks/widget-on-unsigned-page.pdf")).unwrap(),
    );
    assert!(r.summary.vi.contains("thêm 1 trang"), "{}", r.summary.vi);
}

#[test]
fn levels_per_pades_profile() {
    let ctx = context();
    for (file, level) in [
        ("pdf/signed-approval.pdf", "B-B"),
        ("pdf/signed-timestamped.pdf", "B-T"),
        ("pdf/signed-lt.pdf", "B-LT"),
        ("pdf/signed-lta.pdf", "B-LTA"),
    ] {
        let r = verify(&ctx, std::fs::read(fixture(file)).unwrap());
        assert_eq!(r.verdict.as_str(), "TOTAL_PASSED", "{file}");
        assert_eq!(r.signatures[0].level.as_deref(), Some(level), "{file}");
    }
}

// --- Property tests (a small deterministic PRNG: no new dependency) ------------------------------

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Where the signed revision of signed-approval.pdf ends and how its objects are numbered.
fn signed_base() -> (Vec<u8>, usize, u32, usize) {
    let bytes = std::fs::read(fixture("pdf/signed-approval.pdf")).unwrap();
    let doc = antin::pdf::parse(&bytes, &Default::default()).unwrap();
    let last = doc.revisions().last().unwrap();
    let size = last.trailer.get_int(b"Size").unwrap() as u32;
    let startxref = last.xref_offset;
    drop(doc);
    (bytes, startxref, size, 0)
}

/// Appends a classic incremental update defining `objects` (number, body) with a trailer that
/// keeps the catalog.
fn append_update(base: &[u8], prev: usize, size: u32, objects: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let doc = antin::pdf::parse(base, &Default::default()).unwrap();
    let trailer = &doc.revisions().last().unwrap().trailer;
    let root = trailer.get(b"Root").and_then(|o| o.as_ref()).unwrap();
    let info = trailer.get(b"Info").and_then(|o| o.as_ref());
    let mut out = base.to_vec();
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let mut offsets = Vec::new();
    for (num, body) in objects {
        offsets.push((*num, out.len()));
        out.extend_from_slice(format!("{num} 0 obj\n").as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(b"xref\n");
    for (num, off) in &offsets {
        out.extend_from_slice(format!("{num} 1\n{off:010} 00000 n \n").as_bytes());
    }
    let new_size = objects
        .iter()
        .map(|(n, _)| n + 1)
        .max()
        .unwrap_or(0)
        .max(size);
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {new_size} /Root {} {} R{} /Prev {prev} >>\nstartxref\n{xref}\n%%EOF\n",
            root.0,
            root.1,
            info.map(|i| format!(" /Info {} {} R", i.0, i.1)).unwrap_or_default()
        )
        .as_bytes(),
    );
    out
}

#[test]
fn random_permitted_updates_never_fail() {
    let (base, prev, size, _) = signed_base();
    let ctx = context();
    let mut rng = XorShift(0x5eed_1234_abcd_ef01);
    for round in 0..40 {
        // New, unreferenced objects, new validation-free metadata, a fresh Info dictionary: all
        // harmless; sometimes several at once.
        let mut objects = Vec::new();
        let n = 1 + rng.below(4) as u32;
        for k in 0..n {
            let body = match rng.below(3) {
                0 => format!("<< /Producer (round {round}) /ModDate (D:20261122080000Z) >>"),
                1 => format!("[{} {} {}]", rng.below(100), rng.below(100), rng.below(100)),
                _ => format!("({})", "x".repeat(rng.below(50) as usize)),
            };
            objects.push((size + k, body.into_bytes()));
        }
        let doc = append_update(&base, prev, size, &objects);
        let r = verify(&ctx, doc);
        assert_eq!(
            r.verdict.as_str(),
            "TOTAL_PASSED",
            "round {round}: {objects:?}: {}",
            r.summary.en
        );
    }
}

#[test]
fn random_page_content_changes_never_pass() {
    let (base, prev, size, _) = signed_base();
    let ctx = context();
    let parsed = antin::pdf::parse(&base, &Default::default()).unwrap();
    let catalog = parsed.catalog(parsed.revisions().len() - 1).unwrap();
    let pages_id = catalog.get(b"Pages").and_then(|o| o.as_ref()).unwrap();
    let pages = parsed.object(0, pages_id).unwrap().unwrap();
    let page_id = pages
        .obj
        .as_dict()
        .unwrap()
        .get(b"Kids")
        .unwrap()
        .as_array()
        .unwrap()[0]
        .as_ref()
        .unwrap();
    let page = parsed
        .object(parsed.revisions().len() - 1, page_id)
        .unwrap()
        .unwrap();
    let page_dict = &base[page.obj.span.0..page.obj.span.1];
    let content_id = page
        .obj
        .as_dict()
        .unwrap()
        .get(b"Contents")
        .and_then(|o| o.as_ref())
        .unwrap();
    drop(parsed);
    let mut rng = XorShift(0x0bad_cafe_f00d_0001);
    for round in 0..40 {
        let text = format!(
            "BT /F1 {} Tf 72 {} Td (CHANGED {round}) Tj ET",
            8 + rng.below(20),
            100 + rng.below(600)
        );
        let stream = format!(
            "<< /Length {} >>\nstream\n{text}\nendstream",
            text.len() + 1
        );
        let objects = match rng.below(3) {
            // Redefine the signed content stream in place.
            0 => vec![(content_id.0, stream.into_bytes())],
            // Point the page at a new content stream.
            1 => {
                let dict = String::from_utf8_lossy(page_dict).replace(
                    &format!("/Contents {} 0 R", content_id.0),
                    &format!("/Contents {size} 0 R"),
                );
                vec![(size, stream.into_bytes()), (page_id.0, dict.into_bytes())]
            }
            // Append a second content stream to the page.
            _ => {
                let dict = String::from_utf8_lossy(page_dict).replace(
                    &format!("/Contents {} 0 R", content_id.0),
                    &format!("/Contents [{} 0 R {size} 0 R]", content_id.0),
                );
                vec![(size, stream.into_bytes()), (page_id.0, dict.into_bytes())]
            }
        };
        let r = verify(&ctx, append_update(&base, prev, size, &objects));
        assert_eq!(r.verdict.as_str(), "TOTAL_FAILED", "round {round}");
        assert_eq!(
            r.signatures[0].sub_indication.map(|s| s.as_str()),
            Some("MODIFIED_AFTER_SIGNING"),
            "round {round}"
        );
    }
}
