//! The `antin sign` contract, through the built binary: every PAdES level with the default
//! profile (checked with `antin verify`), visible and certification signatures, refusals (exit
//! code >= 64 and no file left behind), a broken TSA, batch mode, the records (signed document and
//! transparency-log entry), and interoperability with pyHanko, pdfsig and qpdf (full suite).
//!
//! Every run gets its own SQLite database and audit key paths in a temporary folder, so that tests
//! never write into the repository's data/.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::{fixture, manifest_dir, test_pki};

const LEVELS: [&str; 4] = ["B-B", "B-T", "B-LT", "B-LTA"];

/// The CRLs of both test hierarchies (gov-root for the signer, root-ca for the dev TSA).
const CRLS: [&str; 4] = [
    "gov-ca.crl",
    "gov-root.crl",
    "licensed-ca.crl",
    "root-ca.crl",
];

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

/// A private working folder: the database, the audit keys and the outputs of one test.
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

    fn db_url(&self) -> String {
        format!("sqlite://{}", self.path("a.db").display())
    }

    /// Runs the binary from the manifest folder with this environment's database.
    fn antin(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Run {
        let anchors = self.path("anchors");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_antin"));
        cmd.args(args)
            .current_dir(manifest_dir())
            .env("ANTIN_DATABASE__URL", self.db_url())
            .env("ANTIN_TRUST__ANCHOR_DIR", &anchors)
            .env("ANTIN_TRUST__INTERMEDIATE_DIR", &anchors)
            .env("ANTIN_AUDIT__SIGNING_KEY", self.path("checkpoint.key"))
            .env("ANTIN_AUDIT__PSEUDONYM_KEY", self.path("pseudonym.key"))
            .env_remove("ANTIN_LANG")
            .env_remove("ANTIN_CONFIG");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let out: Output = cmd.output().expect("run antin");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `antin sign IN -o OUT ARGS...` in English.
    fn sign(&self, input: &Path, out: &Path, args: &[&str], extra_env: &[(&str, &str)]) -> Run {
        let mut all = vec!["sign", p(input), "-o", p(out), "--lang", "en"];
        all.extend_from_slice(args);
        self.antin(&all, extra_env)
    }

    /// Signs and insists on success; returns the run.
    fn sign_ok(&self, input: &Path, out: &Path, args: &[&str]) -> Run {
        let r = self.sign(input, out, args, &[]);
        assert_eq!(r.code, 0, "sign {args:?} failed:\n{r}");
        assert!(out.is_file(), "sign {args:?}: no output file\n{r}");
        assert!(
            !partial(out).exists(),
            "sign {args:?}: a .partial file was left behind"
        );
        r
    }

    /// `antin verify FILE --offline` against both test roots and every test CRL, as JSON.
    fn verify_json(&self, pdf: &Path) -> (i32, serde_json::Value) {
        let pki: Vec<PathBuf> = ["gov-root.pem", "root-ca.pem"]
            .iter()
            .chain(CRLS.iter())
            .map(|n| test_pki(n))
            .collect();
        let mut args = vec!["verify", p(pdf), "--offline", "--format", "json"];
        for t in &pki[..2] {
            args.extend(["--trust", p(t)]);
        }
        for c in &pki[2..] {
            args.extend(["--crl", p(c)]);
        }
        let r = self.antin(&args, &[]);
        let v = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("verify output is not JSON ({e}):\n{r}"));
        (r.code, v)
    }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn unsigned() -> PathBuf {
    fixture("pdf/unsigned.pdf")
}

/// Where sign writes before renaming into place.
fn partial(out: &Path) -> PathBuf {
    out.with_extension("pdf.partial")
}

/// The document id (a UUID) printed by `sign`.
fn document_id(stdout: &str) -> String {
    let after = stdout
        .split_once("document id ")
        .unwrap_or_else(|| panic!("no document id in {stdout:?}"))
        .1;
    let token: String = after
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == '-')
        .collect();
    uuid::Uuid::parse_str(&token)
        .unwrap_or_else(|e| panic!("document id {token:?} is not a UUID ({e}): {stdout:?}"));
    token
}

fn sha256_hex(path: &Path) -> String {
    hex::encode(openssl::sha::sha256(&std::fs::read(path).unwrap()))
}

/// The report entries of kind "signature" (approval and certification signatures).
fn signatures(v: &serde_json::Value) -> Vec<&serde_json::Value> {
    v["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "signature")
        .collect()
}

/// A refusal: exit >= 64 (sysexits), a message on stderr, and neither OUT nor OUT.partial.
fn assert_refused(r: &Run, out: &Path, code: i32, message: &str) {
    assert!(r.code >= 64, "expected a refusal (>= 64):\n{r}");
    assert_eq!(r.code, code, "exit code:\n{r}");
    assert!(
        r.stderr.contains(message),
        "expected {message:?} on stderr:\n{r}"
    );
    assert!(!out.exists(), "{} was left behind:\n{r}", out.display());
    assert!(
        !partial(out).exists(),
        "{} was left behind:\n{r}",
        partial(out).display()
    );
}

// --- 1. every level ------------------------------------------------------------------------------

#[test]
fn every_level_with_the_default_profile_verifies_at_that_level() {
    let env = Env::new();
    for level in LEVELS {
        let out = env.path(&format!("{level}.pdf"));
        let r = env.sign_ok(&unsigned(), &out, &["--level", level]);
        let id = document_id(&r.stdout);
        assert!(r.stdout.contains(level), "{level}: level not named:\n{r}");
        assert!(r.stdout.starts_with("[1/1] "), "{level}:\n{r}");
        let sha = sha256_hex(&out);
        assert!(r.stdout.contains(&sha), "{level}: SHA-256 not named:\n{r}");

        let (code, v) = env.verify_json(&out);
        assert_eq!(code, 0, "{level} ({id}): {v:#}");
        assert_eq!(v["verdict"], "TOTAL_PASSED", "{level}: {v:#}");
        let all = v["signatures"].as_array().unwrap();
        let s = &all[0];
        assert_eq!(s["kind"], "signature", "{level}: {v:#}");
        assert_eq!(s["indication"], "TOTAL_PASSED", "{level}: {v:#}");
        assert_eq!(s["level"], level, "{level}: {v:#}");
        assert_eq!(s["field_name"], "Signature1", "{level}: {v:#}");
        if level == "B-LTA" {
            assert_eq!(all.len(), 2, "{level}: {v:#}");
            assert_eq!(all[1]["kind"], "document_timestamp", "{level}: {v:#}");
            assert_eq!(all[1]["indication"], "TOTAL_PASSED", "{level}: {v:#}");
        } else {
            assert_eq!(all.len(), 1, "{level}: {v:#}");
        }
        if level != "B-B" {
            assert_eq!(
                s["signing_time_source"], "timestamp",
                "{level}: the signature timestamp is not used: {v:#}"
            );
        }
    }
}

#[test]
fn the_default_level_is_the_profiles_b_lta() {
    let env = Env::new();
    let out = env.path("out.pdf");
    let r = env.sign_ok(&unsigned(), &out, &[]);
    assert!(r.stdout.contains("B-LTA"), "{r}");
    let (code, v) = env.verify_json(&out);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["signatures"][0]["level"], "B-LTA", "{v:#}");
}

// --- 2. visible, certification, then approval ----------------------------------------------------

#[test]
fn visible_certification_then_approval_signature() {
    let env = Env::new();
    let certified = env.path("certified.pdf");
    env.sign_ok(
        &unsigned(),
        &certified,
        &[
            "--page",
            "1",
            "--rect",
            "350,50,200,80",
            "--certify",
            "2",
            "--reason",
            "Kết quả giải quyết thủ tục hành chính",
            "--location",
            "Hà Nội",
        ],
    );
    let (code, v) = env.verify_json(&certified);
    assert_eq!(code, 0, "{v:#}");
    let s = &v["signatures"][0];
    assert_eq!(s["docmdp"], 2, "{v:#}");
    assert_eq!(
        s["reason"], "Kết quả giải quyết thủ tục hành chính",
        "{v:#}"
    );
    assert_eq!(s["location"], "Hà Nội", "{v:#}");

    let both = env.path("both.pdf");
    env.sign_ok(&certified, &both, &["--level", "B-B"]);
    let (code, v) = env.verify_json(&both);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["verdict"], "TOTAL_PASSED", "{v:#}");
    let sigs = signatures(&v);
    assert_eq!(sigs.len(), 2, "{v:#}");
    for s in &sigs {
        assert_eq!(s["indication"], "TOTAL_PASSED", "{v:#}");
    }
    let (first, second) = (sigs[0], sigs[1]);
    assert_eq!(first["docmdp"], 2, "{v:#}");
    assert_eq!(first["level"], "B-LTA", "{v:#}");
    assert_eq!(first["modifications"], "PERMITTED", "{v:#}");
    assert_ne!(
        first["field_name"], second["field_name"],
        "the approval signature reused the certification's field: {v:#}"
    );
    assert_eq!(second["level"], "B-B", "{v:#}");
    assert_eq!(second["modifications"], "NONE", "{v:#}");
    assert!(second["docmdp"].is_null(), "{v:#}");
    // The B-LTA document timestamp between them still passes.
    let ts: Vec<_> = v["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "document_timestamp")
        .collect();
    assert_eq!(ts.len(), 1, "{v:#}");
    assert_eq!(ts[0]["indication"], "TOTAL_PASSED", "{v:#}");
}

// --- 3. refusals ---------------------------------------------------------------------------------

/// unsigned.pdf with an incremental update whose trailer names an /Encrypt dictionary (a standard
/// security handler, RC4 128-bit, R 3: the strings themselves need not be right for a refusal).
fn hand_encrypted(unsigned: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(unsigned);
    let sx = text.rfind("startxref").expect("startxref");
    let prev: usize = text[sx + "startxref".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let trailer_at = text.rfind("trailer").unwrap();
    let trailer = &text[trailer_at..sx];
    let size: usize = trailer
        .split_once("/Size")
        .unwrap()
        .1
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let root = trailer.split_once("/Root").unwrap().1.trim_start();
    let root: String = root
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    let id_hex = "616e74696e2d746573742d666978747572";
    let mut out = unsigned.to_vec();
    if !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    let obj_at = out.len();
    let o = "00".repeat(32);
    let u = "11".repeat(32);
    write!(
        out,
        "{size} 0 obj\n<< /Filter /Standard /V 2 /R 3 /Length 128 /P -3904 /O <{o}> /U <{u}> >>\nendobj\n"
    )
    .unwrap();
    let xref_at = out.len();
    write!(
        out,
        "xref\n0 1\n0000000000 65535 f \n{size} 1\n{obj_at:010} 00000 n \ntrailer\n<< /Size {} /Root {root} /Encrypt {size} 0 R /ID [<{id_hex}> <{id_hex}>] /Prev {prev} >>\nstartxref\n{xref_at}\n%%EOF\n",
        size + 1
    )
    .unwrap();
    out
}

#[test]
fn refuses_an_encrypted_pdf() {
    let env = Env::new();
    let enc = env.path("encrypted.pdf");
    std::fs::write(&enc, hand_encrypted(&std::fs::read(unsigned()).unwrap())).unwrap();
    let out = env.path("out.pdf");
    let r = env.sign(&enc, &out, &[], &[]);
    assert_refused(&r, &out, 65, "encrypted");

    // The same with a really encrypted file (AES-256), when qpdf is at hand.
    let qenc = env.path("qpdf-encrypted.pdf");
    let made = Command::new("qpdf")
        .args(["--encrypt", "u", "o", "256", "--"])
        .arg(unsigned())
        .arg(&qenc)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if made {
        let out = env.path("out-qpdf.pdf");
        let r = env.sign(&qenc, &out, &[], &[]);
        assert_refused(&r, &out, 65, "encrypted");
    } else {
        eprintln!("qpdf not installed: only the hand-made encrypted PDF was tried");
    }
}

#[test]
fn refuses_a_pdf_certified_with_p1() {
    let env = Env::new();
    let certified = env.path("p1.pdf");
    env.sign_ok(
        &unsigned(),
        &certified,
        &["--certify", "1", "--level", "B-B"],
    );
    let (code, v) = env.verify_json(&certified);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["signatures"][0]["docmdp"], 1, "{v:#}");
    for level in ["B-B", "B-LTA"] {
        let out = env.path(&format!("again-{level}.pdf"));
        let r = env.sign(&certified, &out, &["--level", level], &[]);
        assert_refused(&r, &out, 65, "/P 1");
    }
}

#[test]
fn certify_p1_at_b_lta_still_allows_its_own_dss_and_document_timestamp() {
    // PAdES: DSS and document timestamps are permitted after a /P 1 certification.
    let env = Env::new();
    let out = env.path("p1-lta.pdf");
    env.sign_ok(&unsigned(), &out, &["--certify", "1"]);
    let (code, v) = env.verify_json(&out);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["signatures"][0]["level"], "B-LTA", "{v:#}");
    assert_eq!(v["signatures"][0]["docmdp"], 1, "{v:#}");
}

#[test]
fn refuses_an_unknown_profile() {
    let env = Env::new();
    let out = env.path("out.pdf");
    let r = env.sign(&unsigned(), &out, &["--profile", "nope"], &[]);
    assert_refused(&r, &out, 78, "unknown signing profile \"nope\"");
}

#[test]
fn refuses_a_non_pdf_input() {
    let env = Env::new();
    let out = env.path("out.pdf");
    let r = env.sign(&manifest_dir().join("Cargo.toml"), &out, &[], &[]);
    assert_refused(&r, &out, 65, "not a PDF");
}

#[test]
fn refuses_a_missing_input() {
    let env = Env::new();
    let out = env.path("out.pdf");
    let r = env.sign(&env.path("does-not-exist.pdf"), &out, &[], &[]);
    assert_refused(&r, &out, 66, "does-not-exist.pdf");
}

#[test]
fn refuses_a_malformed_rect() {
    let env = Env::new();
    for rect in [
        "1,2,3",
        "a,b,c,d",
        "1,2,0,4",
        "1,2,3,-4",
        "1,2,3,4,5",
        "",
        "NaN,1,2,3",
    ] {
        let out = env.path("out.pdf");
        let r = env.sign(&unsigned(), &out, &["--page", "1", "--rect", rect], &[]);
        assert_refused(&r, &out, 64, "--rect");
    }
    // --rect without --page (and the reverse) is a usage error too.
    let out = env.path("out.pdf");
    let r = env.sign(&unsigned(), &out, &["--rect", "1,2,3,4"], &[]);
    assert_refused(&r, &out, 64, "--page");
    // A page the document does not have: the PDF cannot take it.
    let r = env.sign(
        &unsigned(),
        &out,
        &["--page", "9", "--rect", "1,2,3,4"],
        &[],
    );
    assert_refused(&r, &out, 65, "page 9");
}

#[test]
fn refuses_an_unknown_level() {
    let env = Env::new();
    let out = env.path("out.pdf");
    let r = env.sign(&unsigned(), &out, &["--level", "B-X"], &[]);
    assert_refused(&r, &out, 64, "unknown level");
}

// --- 4. a broken TSA -----------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum BrokenTsa {
    /// HTTP 200 with a body that is no TimeStampResp.
    GarbageBody,
    /// Bytes that are not HTTP at all.
    NotHttp,
    /// HTTP 500.
    ServerError,
    /// Accepts, reads, never answers.
    Silent,
}

/// Starts a TSA that misbehaves on 127.0.0.1:0; returns its URL.
fn broken_tsa(kind: BrokenTsa) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
            let mut buf = [0u8; 65536];
            let _ = s.read(&mut buf);
            let answer: &[u8] = match kind {
                BrokenTsa::GarbageBody => {
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: 20\r\nConnection: close\r\n\r\nthis is no timestamp"
                }
                BrokenTsa::NotHttp => b"\x00\x01garbage garbage garbage\r\n\r\n",
                BrokenTsa::ServerError => {
                    b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                }
                BrokenTsa::Silent => {
                    held.push(s);
                    continue;
                }
            };
            let _ = s.write_all(answer);
            let _ = s.flush();
        }
    });
    format!("http://127.0.0.1:{port}/")
}

#[test]
fn a_broken_tsa_is_a_clear_failure_and_leaves_no_file() {
    let env = Env::new();
    for (kind, message) in [
        (BrokenTsa::GarbageBody, "the TSA's answer is unusable"),
        (BrokenTsa::NotHttp, "cannot reach the TSA"),
        (BrokenTsa::ServerError, "the TSA answered HTTP 500"),
        (BrokenTsa::Silent, "the TSA did not answer within"),
    ] {
        let url = broken_tsa(kind);
        for level in ["B-T", "B-LTA"] {
            if matches!(kind, BrokenTsa::Silent) && level == "B-LTA" {
                continue; // one 10 s timeout is enough
            }
            let out = env.path(&format!("{kind:?}-{level}.pdf"));
            let started = std::time::Instant::now();
            let r = env.sign(
                &unsigned(),
                &out,
                &["--level", level],
                &[("ANTIN_SIGN__PROFILES__DEFAULT__TSA", &url)],
            );
            assert_refused(&r, &out, 69, "the timestamp authority failed");
            assert!(
                r.stderr.contains(message),
                "{kind:?} {level}: expected {message:?}:\n{r}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{kind:?} {level}: took {:?}",
                started.elapsed()
            );
        }
    }
    // B-B needs no TSA: the broken one is not even asked.
    let url = broken_tsa(BrokenTsa::Silent);
    let out = env.path("bb.pdf");
    let r = env.sign(
        &unsigned(),
        &out,
        &["--level", "B-B"],
        &[("ANTIN_SIGN__PROFILES__DEFAULT__TSA", &url)],
    );
    assert_eq!(r.code, 0, "{r}");
    assert!(out.is_file());
}

#[test]
fn a_tsa_nobody_listens_on_is_a_clear_failure() {
    let env = Env::new();
    // A port that was free a moment ago.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let out = env.path("out.pdf");
    let r = env.sign(
        &unsigned(),
        &out,
        &["--level", "B-T"],
        &[("ANTIN_SIGN__PROFILES__DEFAULT__TSA", &url)],
    );
    assert_refused(&r, &out, 69, "cannot reach the TSA");
}

// --- 5. batch ------------------------------------------------------------------------------------

#[test]
fn batch_signs_the_good_files_and_reports_the_bad_one() {
    let env = Env::new();
    let input = env.path("in");
    let out = env.path("out");
    std::fs::create_dir(&input).unwrap();
    std::fs::copy(unsigned(), input.join("a.pdf")).unwrap();
    std::fs::copy(unsigned(), input.join("b.pdf")).unwrap();
    std::fs::write(input.join("x.pdf"), b"this is not a PDF\n").unwrap();
    std::fs::write(input.join("notes.txt"), b"ignored: not *.pdf\n").unwrap();

    let r = env.antin(
        &[
            "sign",
            p(&input),
            "-o",
            p(&out),
            "--lang",
            "en",
            "--level",
            "B-LT",
        ],
        &[],
    );
    assert_eq!(r.code, 65, "{r}");
    assert!(r.stdout.contains("[1/3] "), "{r}");
    assert!(r.stdout.contains("[2/3] "), "{r}");
    assert!(r.stderr.contains("[3/3] "), "{r}");
    let bad_line = r
        .stderr
        .lines()
        .find(|l| l.starts_with("[3/3] "))
        .unwrap_or_else(|| panic!("no [3/3] line:\n{r}"));
    assert!(
        bad_line.contains("x.pdf") && bad_line.contains("not a PDF"),
        "{bad_line}"
    );
    let ids: Vec<String> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with('['))
        .map(document_id)
        .collect();
    assert_eq!(ids.len(), 2, "{r}");
    assert_ne!(ids[0], ids[1]);

    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a.pdf", "b.pdf"], "{r}");
    for n in ["a.pdf", "b.pdf"] {
        let (code, v) = env.verify_json(&out.join(n));
        assert_eq!(code, 0, "{n}: {v:#}");
        assert_eq!(v["signatures"][0]["level"], "B-LT", "{n}: {v:#}");
    }
}

#[test]
fn batch_of_good_files_exits_zero() {
    let env = Env::new();
    let input = env.path("in");
    let out = env.path("out/nested");
    std::fs::create_dir(&input).unwrap();
    std::fs::copy(unsigned(), input.join("one.PDF")).unwrap();
    std::fs::copy(unsigned(), input.join("two.pdf")).unwrap();
    let r = env.antin(&["sign", p(&input), "-o", p(&out), "--level", "B-B"], &[]);
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stdout.contains("[1/2] ") && r.stdout.contains("[2/2] "),
        "{r}"
    );
    assert!(
        out.join("one.PDF").is_file() && out.join("two.pdf").is_file(),
        "{r}"
    );
}

// --- 7. records ----------------------------------------------------------------------------------

#[tokio::test]
async fn the_signed_document_and_its_log_entry_are_recorded() {
    let env = Env::new();
    let out = env.path("out.pdf");
    let r = env.sign_ok(&unsigned(), &out, &["--dossier", "HS-2026-000123"]);
    let id = document_id(&r.stdout);
    let signed_sha = sha256_hex(&out);

    let config = antin::config::Config::load_from(
        None,
        vec![("ANTIN_DATABASE__URL".to_owned(), env.db_url())],
    )
    .unwrap();
    let store = antin::store::Store::connect(&config.database)
        .await
        .unwrap();
    let rec = store
        .get_signed_document(&id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("document {id} is not recorded"));
    assert_eq!(rec.id, id);
    assert_eq!(rec.signed_sha256, signed_sha);
    assert_eq!(rec.input_sha256, sha256_hex(&unsigned()));
    assert_eq!(
        rec.signed_size,
        i64::try_from(std::fs::metadata(&out).unwrap().len()).unwrap()
    );
    assert_eq!(rec.level, "B-LTA");
    assert_eq!(rec.profile, "default");
    assert_eq!(rec.agency, "Sở Tư pháp tỉnh Thử Nghiệm");
    assert_eq!(rec.dossier.as_deref(), Some("HS-2026-000123"));
    assert_eq!(rec.status, "valid");
    let cert =
        openssl::x509::X509::from_pem(&std::fs::read(test_pki("gov-agency.pem")).unwrap()).unwrap();
    assert_eq!(
        rec.signer_cert_sha256,
        hex::encode(openssl::sha::sha256(&cert.to_der().unwrap()))
    );
    assert!(
        rec.signer_subject.contains("MNS:1234567"),
        "{}",
        rec.signer_subject
    );
    let by_hash = store
        .log_find_subject(&format!("sha256:{signed_sha}"))
        .await
        .unwrap();
    assert_eq!(
        by_hash.len(),
        1,
        "log entries for sha256:{signed_sha}: {by_hash:?}"
    );
    let by_id = store
        .log_find_subject(&format!("document:{id}"))
        .await
        .unwrap();
    assert_eq!(by_id, by_hash);
    store.close().await;
}

#[tokio::test]
async fn a_refused_document_is_not_recorded() {
    let env = Env::new();
    let out = env.path("out.pdf");
    let r = env.sign(&manifest_dir().join("Cargo.toml"), &out, &[], &[]);
    assert_eq!(r.code, 65, "{r}");
    let config = antin::config::Config::load_from(
        None,
        vec![("ANTIN_DATABASE__URL".to_owned(), env.db_url())],
    )
    .unwrap();
    let store = antin::store::Store::connect(&config.database)
        .await
        .unwrap();
    let sha = hex::encode(openssl::sha::sha256(
        &std::fs::read(manifest_dir().join("Cargo.toml")).unwrap(),
    ));
    assert!(store
        .log_find_subject(&format!("sha256:{sha}"))
        .await
        .unwrap()
        .is_empty());
    store.close().await;
}

// --- 6. interoperability (full suite) -------------------------------------------------------------

fn under_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

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
    assert!(!under_ci(), "python3 with pyHanko missing under CI=true");
    eprintln!("skipping: pyHanko is not installed (pip install -r scripts/requirements.txt)");
    None
}

/// The tool runs (`TOOL ARG`), or None (skip) outside CI; under CI=true a missing tool fails.
fn tool(name: &'static str, probe: &str) -> Option<&'static str> {
    if Command::new(name).arg(probe).output().is_ok() {
        return Some(name);
    }
    assert!(!under_ci(), "{name} missing under CI=true");
    eprintln!("skipping: {name} is not installed");
    None
}

fn pyhanko_validate(python: &str, pdf: &Path) -> (bool, serde_json::Value) {
    let mut cmd = Command::new(python);
    cmd.arg(manifest_dir().join("scripts/pyhanko-validate.py"))
        .arg(pdf)
        .arg("--trust")
        .arg(test_pki("gov-root.pem"))
        .arg("--trust")
        .arg(test_pki("root-ca.pem"));
    for c in CRLS {
        cmd.arg("--crl").arg(test_pki(c));
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "pyhanko-validate.py: not JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let every = v["signatures"]
        .as_array()
        .is_some_and(|a| !a.is_empty() && a.iter().all(|s| s["indication"] == "PASSED"));
    (out.status.success() && every && v["ok"] == true, v)
}

/// pdfsig's "Signature Validation" line per signature, in order.
fn pdfsig_validations(pdf: &Path) -> (String, Vec<String>) {
    let out = Command::new("pdfsig").arg(pdf).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- Signature Validation: "))
        .map(str::to_owned)
        .collect();
    (text, lines)
}

fn qpdf_check(pdf: &Path) -> (i32, String) {
    let out = Command::new("qpdf")
        .arg("--check")
        .arg(pdf)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
#[ignore = "needs pyHanko and poppler (full suite)"]
fn interoperability_matrix_pyhanko_pdfsig_qpdf() {
    let Some(python) = python_with_pyhanko() else {
        return;
    };
    let (Some(_), Some(_)) = (tool("pdfsig", "-v"), tool("qpdf", "--version")) else {
        return;
    };
    let env = Env::new();
    let mut cases: Vec<(String, PathBuf)> = Vec::new();
    for level in LEVELS {
        let out = env.path(&format!("{level}.pdf"));
        env.sign_ok(&unsigned(), &out, &["--level", level]);
        cases.push((level.to_owned(), out));
    }
    // Visible certification (/P 2, B-LTA) plus an approval signature (B-B).
    let certified = env.path("certified.pdf");
    env.sign_ok(
        &unsigned(),
        &certified,
        &["--page", "1", "--rect", "350,50,200,80", "--certify", "2"],
    );
    let both = env.path("certified-approved.pdf");
    env.sign_ok(&certified, &both, &["--level", "B-B"]);
    cases.push(("certify2+approval".to_owned(), both));

    let mut matrix = vec![format!(
        "{:<18} | {:<12} | {:<8} | {:<30} | qpdf",
        "case", "antin", "pyHanko", "pdfsig"
    )];
    let mut failures = Vec::new();
    for (name, pdf) in &cases {
        let (code, v) = env.verify_json(pdf);
        let antin_ok = code == 0
            && v["verdict"] == "TOTAL_PASSED"
            && (name.starts_with("certify") || v["signatures"][0]["level"] == name.as_str());
        if !antin_ok {
            failures.push(format!("{name}: antin: {v:#}"));
        }

        let (py_ok, pv) = pyhanko_validate(python, pdf);
        if !py_ok {
            failures.push(format!("{name}: pyHanko: {pv:#}"));
        }

        // pdfsig (poppler) checks the CMS signatures; it cannot verify RFC 3161 document
        // timestamps ("Signature has not yet been verified"), so only /Sig entries count.
        let (text, lines) = pdfsig_validations(pdf);
        let sig_count = signatures(&v).len();
        let kinds: Vec<&str> = v["signatures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["kind"].as_str().unwrap_or(""))
            .collect();
        let mut pdfsig_ok = lines.len() == kinds.len();
        for (k, line) in kinds.iter().zip(&lines) {
            if *k == "signature" && line != "Signature is Valid." {
                pdfsig_ok = false;
            }
        }
        if !pdfsig_ok {
            failures.push(format!("{name}: pdfsig:\n{text}"));
        }

        let (qcode, qtext) = qpdf_check(pdf);
        if qcode != 0 {
            failures.push(format!("{name}: qpdf --check exit {qcode}:\n{qtext}"));
        }

        let pdfsig_cell = format!(
            "{} ({}/{} valid)",
            if pdfsig_ok { "ok" } else { "FAIL" },
            lines.iter().filter(|l| *l == "Signature is Valid.").count(),
            sig_count
        );
        matrix.push(format!(
            "{:<18} | {:<12} | {:<8} | {:<30} | {}",
            name,
            if antin_ok { "TOTAL_PASSED" } else { "FAIL" },
            if py_ok { "PASSED" } else { "FAIL" },
            pdfsig_cell,
            if qcode == 0 {
                "0".to_owned()
            } else {
                format!("FAIL ({qcode})")
            }
        ));
    }
    eprintln!("{}", matrix.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
