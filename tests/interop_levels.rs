//! Interoperability per PAdES baseline level: pyHanko signs a fresh copy of unsigned.pdf at B-B,
//! B-T, B-LT and B-LTA at test time (scripts/pyhanko-sign-level.py, offline), antin and pyHanko
//! (scripts/pyhanko-validate.py) must both accept it, antin must name the level, and both must stop
//! accepting it once a disallowed incremental update is appended. Plus the committed long-term
//! fixtures of fixtures/lta.tsv (made by scripts/make-lta-chain-fixtures.py, see fixtures/lta.md),
//! checked with the library alone.

mod common;

use std::path::Path;
use std::process::Command;

use antin::config::{AlgorithmPolicyName, RevocationMode};
use antin::pki::trust::TrustStore;
use antin::verify::engine::Context;
use antin::verify::report::SignatureKind;
use antin::verify::{Input, VerifyOptions};
use common::{fixture, manifest_dir, test_pki};
use time::OffsetDateTime;

const LEVELS: [&str; 4] = ["B-B", "B-T", "B-LT", "B-LTA"];

fn context() -> Context {
    let mut store = TrustStore::new();
    store.load_anchors(&test_pki("root-ca.pem")).unwrap();
    Context::new(store).unwrap()
}

/// Offline, revocation required, anchor root-ca, the reference CRLs as extra CRLs.
fn options(at: OffsetDateTime) -> VerifyOptions {
    VerifyOptions {
        revocation: RevocationMode::Require,
        offline: true,
        at: Some(at),
        expected_signer_id: None,
        algorithm_policy: AlgorithmPolicyName::Default,
        extra_crls: ["root-ca.crl", "licensed-ca.crl"]
            .iter()
            .map(|c| std::fs::read(test_pki(c)).unwrap())
            .collect(),
    }
}

fn verify(ctx: &Context, bytes: Vec<u8>, at: OffsetDateTime) -> antin::verify::Report {
    ctx.run(&Input::Pdf(bytes), &options(at), at, &Default::default())
        .unwrap_or_else(|e| panic!("unreadable: {e}"))
        .outcome
        .report
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

// --- pyHanko ---------------------------------------------------------------------------------------

/// python3 with pyHanko, or None (skip) outside CI; under CI=true a missing pyHanko fails.
fn python_with_pyhanko() -> Option<&'static str> {
    let ok = Command::new("python3")
        .args(["-c", "import pyhanko.sign"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        return Some("python3");
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "python3 with pyHanko missing under CI=true"
    );
    eprintln!("skipping: pyHanko is not installed (pip install -r scripts/requirements.txt)");
    None
}

fn pyhanko_sign_level(python: &str, out: &Path, level: &str) {
    let out_status = Command::new(python)
        .arg(manifest_dir().join("scripts/pyhanko-sign-level.py"))
        .arg(fixture("pdf/unsigned.pdf"))
        .arg(out)
        .args(["--level", level])
        .output()
        .unwrap();
    assert!(
        out_status.status.success(),
        "pyhanko-sign-level.py --level {level} failed: {}",
        String::from_utf8_lossy(&out_status.stderr)
    );
}

/// scripts/pyhanko-validate.py's one JSON line (its exit status only says whether all passed).
fn pyhanko_validate(python: &str, file: &Path, at: OffsetDateTime) -> serde_json::Value {
    let out = Command::new(python)
        .arg(manifest_dir().join("scripts/pyhanko-validate.py"))
        .arg(file)
        .arg("--trust")
        .arg(test_pki("root-ca.pem"))
        .arg("--crl")
        .arg(test_pki("root-ca.crl"))
        .arg("--crl")
        .arg(test_pki("licensed-ca.crl"))
        .arg("--at")
        .arg(rfc3339(at))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "pyhanko-validate.py printed no JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

// --- A disallowed incremental update (as tests/attacks.rs builds them) ------------------------------

/// Appends a classic incremental update defining `objects` (number, body) with a trailer that
/// keeps the catalog. (Copied from tests/attacks.rs.)
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

/// The latest revision's first page pointed at a new content stream ("CHANGED AFTER SIGNING").
fn point_page_at_new_content(base: &[u8]) -> Vec<u8> {
    let parsed = antin::pdf::parse(base, &Default::default()).unwrap();
    let last = parsed.revisions().len() - 1;
    let rev = parsed.revisions().last().unwrap();
    let size = rev.trailer.get_int(b"Size").unwrap() as u32;
    let prev = rev.xref_offset;
    let catalog = parsed.catalog(last).unwrap();
    let pages_id = catalog.get(b"Pages").and_then(|o| o.as_ref()).unwrap();
    let pages = parsed.object(last, pages_id).unwrap().unwrap();
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
    let page = parsed.object(last, page_id).unwrap().unwrap();
    let page_dict = String::from_utf8_lossy(&base[page.obj.span.0..page.obj.span.1]).into_owned();
    let content_id = page
        .obj
        .as_dict()
        .unwrap()
        .get(b"Contents")
        .and_then(|o| o.as_ref())
        .unwrap();
    let old = format!("/Contents {} {} R", content_id.0, content_id.1);
    assert!(
        page_dict.contains(&old),
        "page dict {page_dict:?} has no {old:?}"
    );
    let dict = page_dict.replace(&old, &format!("/Contents {size} 0 R"));
    let text = "BT /F1 24 Tf 72 700 Td (CHANGED AFTER SIGNING) Tj ET";
    let stream = format!(
        "<< /Length {} >>\nstream\n{text}\nendstream",
        text.len() + 1
    );
    let page_num = page_id.0;
    drop(parsed);
    append_update(
        base,
        prev,
        size,
        &[(size, stream.into_bytes()), (page_num, dict.into_bytes())],
    )
}

/// What pyHanko's script ran for a signature of each level (chosen from the document's structure by
/// scripts/pyhanko-validate.py: a signature timestamp -> 5.5, plus a document timestamp -> 5.6.3).
fn pyhanko_process(level: &str) -> &'static str {
    match level {
        "B-B" => "5.3-basic",
        "B-T" | "B-LT" => "5.5-with-time",
        _ => "5.6.3-lta",
    }
}

#[test]
#[ignore = "needs pyHanko from PyPI (full suite)"]
fn pyhanko_signs_every_level_and_both_validators_agree() {
    let Some(python) = python_with_pyhanko() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ctx = context();
    for level in LEVELS {
        let file = dir.path().join(format!("{level}.pdf"));
        pyhanko_sign_level(python, &file, level);
        // Signed just now with certificates valid until 2036 and CRLs / OCSP responses current
        // until 2036: validate now, whole seconds (pyhanko-validate.py's --at takes RFC 3339).
        let at = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        let bytes = std::fs::read(&file).unwrap();

        // (a) antin: passed, at the level pyHanko was asked for.
        let r = verify(&ctx, bytes.clone(), at);
        assert_eq!(r.verdict.as_str(), "TOTAL_PASSED", "{level}: {r:#?}");
        let sig = &r.signatures[0];
        assert_eq!(sig.kind, SignatureKind::Signature, "{level}");
        assert_eq!(sig.level.as_deref(), Some(level), "{level}: {sig:#?}");
        let doc_ts = r
            .signatures
            .iter()
            .filter(|s| s.kind == SignatureKind::DocumentTimestamp)
            .count();
        assert_eq!(
            doc_ts,
            usize::from(level == "B-LTA"),
            "{level}: document timestamps"
        );

        // (b) pyHanko: every signature and document timestamp PASSED. pyHanko reports no PAdES
        // level, so only the verdict is compared; `process` (which EN 319 102-1 process the script
        // ran, picked from the structure) shows pyHanko found the timestamps antin found.
        let p = pyhanko_validate(python, &file, at);
        let sigs = p["signatures"].as_array().unwrap();
        assert_eq!(sigs.len(), 1 + doc_ts, "{level}: pyHanko saw {p}");
        for s in sigs {
            assert_eq!(s["indication"], "PASSED", "{level}: pyHanko: {s}");
        }
        assert_eq!(sigs[0]["process"], pyhanko_process(level), "{level}: {p}");
        assert_eq!(sigs[0]["classic"]["bottom_line"], true, "{level}: {p}");

        // (c) a disallowed update after the last revision: antin fails the signature; pyHanko's
        // diff analysis no longer accepts the document. (pyHanko's AdES indication judges only
        // the signed revision, as for fixtures/pdf/signed-appended.pdf, so its classic
        // bottom line and modification level are the verdict on the later update.)
        let changed = point_page_at_new_content(&bytes);
        let changed_file = dir.path().join(format!("{level}-changed.pdf"));
        std::fs::write(&changed_file, &changed).unwrap();
        let r = verify(&ctx, changed, at);
        assert_eq!(
            r.verdict.as_str(),
            "TOTAL_FAILED",
            "{level} changed: {r:#?}"
        );
        assert_eq!(
            r.signatures[0].sub_indication.map(|s| s.as_str()),
            Some("MODIFIED_AFTER_SIGNING"),
            "{level} changed"
        );
        let p = pyhanko_validate(python, &changed_file, at);
        let s0 = &p["signatures"][0];
        eprintln!(
            "{level} changed: antin {}/{}; pyHanko AdES {}/{}, bottom line {}, modification level {}",
            r.verdict.as_str(),
            r.signatures[0].sub_indication.map(|s| s.as_str()).unwrap_or("-"),
            s0["indication"],
            s0["subindication"],
            s0["classic"]["bottom_line"],
            s0["classic"]["modification_level"]
        );
        let pyhanko_accepts = s0["indication"] == "PASSED" && s0["classic"]["bottom_line"] == true;
        assert!(
            !pyhanko_accepts,
            "{level} changed: pyHanko still accepts: {p}"
        );
        assert_eq!(
            s0["classic"]["modification_level"], "OTHER",
            "{level} changed: {p}"
        );
    }
}

// --- fixtures/lta.tsv --------------------------------------------------------------------------------

#[test]
fn long_term_fixtures_give_their_expected_results() {
    let table = std::fs::read_to_string(manifest_dir().join("fixtures/lta.tsv")).unwrap();
    let ctx = context();
    let mut failures = Vec::new();
    let mut rows = 0;
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let [file, at, verdict, indication, sub, level, doc_ts, known_gap, ..] = cols[..] else {
            panic!("bad row {line:?}");
        };
        rows += 1;
        let at = antin::timefmt::parse_rfc3339(at).unwrap_or_else(|| panic!("bad time {at:?}"));
        let r = verify(&ctx, std::fs::read(fixture(file)).unwrap(), at);
        let sig = r
            .signatures
            .iter()
            .find(|s| s.kind == SignatureKind::Signature)
            .unwrap_or_else(|| panic!("{file}: no signature"));
        let got_sub = sig.sub_indication.map(|s| s.as_str()).unwrap_or("-");
        let got_level = sig.level.as_deref().unwrap_or("-");
        let got_doc_ts: Vec<&str> = r
            .signatures
            .iter()
            .filter(|s| s.kind == SignatureKind::DocumentTimestamp)
            .map(|s| s.indication.as_str())
            .collect();
        let got_doc_ts = if got_doc_ts.is_empty() {
            "-".to_owned()
        } else {
            got_doc_ts.join(",")
        };
        let ok = r.verdict.as_str() == verdict
            && sig.indication.as_str() == indication
            && got_sub == sub
            && (level == "*" || got_level == level)
            && (doc_ts == "*" || got_doc_ts == doc_ts);
        if ok {
            continue;
        }
        let msg =
            format!(
            "{file} at {}: expected {verdict} {indication}/{sub} level {level} doc-ts {doc_ts}, \
             got {} {}/{got_sub} level {got_level} doc-ts {got_doc_ts}: {}; errors {:?}",
            rfc3339(at),
            r.verdict.as_str(),
            sig.indication.as_str(),
            r.summary.en,
            sig.errors.iter().map(|e| format!("{}: {}", e.code, e.detail)).collect::<Vec<_>>()
        );
        if known_gap == "yes" {
            eprintln!("known gap (fixtures/lta.tsv), skipped: {msg}");
        } else {
            failures.push(msg);
        }
    }
    assert!(rows >= 3, "lta.tsv has only {rows} rows");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
