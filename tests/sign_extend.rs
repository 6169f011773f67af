//! `antin sign --extend` and the dev OCSP responder, through the built binary: our own B-B/B-T
//! files and the committed fixtures brought up to B-LT/B-LTA with OCSP in the DSS, archive renewal
//! (`--if-expiring-within`), folders, refusals (unsigned, tampered, encrypted, not a PDF, a TSA
//! that is down, an OCSP responder that answers garbage: exit >= 64, nothing written),
//! `ocsp = "fetch"` against `antin dev ocsp`, and (full suite) pyHanko, pdfsig and qpdf on the
//! results, including pyHanko-signed inputs.
//!
//! Every run gets its own database and audit key paths in a temporary folder. The tests that
//! listen on 127.0.0.1:18089 (the test PKI's AIA/CRL DP host) hold one lock.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use common::{fixture, manifest_dir, test_pki};

/// Serialises the tests that bind the test PKI's port.
static PORT_18089: Mutex<()> = Mutex::new(());

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

    fn command(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Command {
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
        cmd
    }

    fn antin(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Run {
        let out: Output = self.command(args, extra_env).output().expect("run antin");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn sign_ok(&self, input: &Path, out: &Path, level: &str) {
        let r = self.antin(
            &[
                "sign",
                p(input),
                "-o",
                p(out),
                "--level",
                level,
                "--lang",
                "en",
            ],
            &[],
        );
        assert_eq!(r.code, 0, "sign {level}:\n{r}");
    }

    /// `antin sign --extend IN -o OUT ARGS...` in English.
    fn extend(&self, input: &Path, out: &Path, args: &[&str], extra_env: &[(&str, &str)]) -> Run {
        let mut all = vec!["sign", "--extend", p(input), "-o", p(out), "--lang", "en"];
        all.extend_from_slice(args);
        self.antin(&all, extra_env)
    }

    fn extend_ok(&self, input: &Path, out: &Path, args: &[&str]) -> Run {
        let r = self.extend(input, out, args, &[]);
        assert_eq!(r.code, 0, "extend {args:?}:\n{r}");
        assert!(out.is_file(), "no output:\n{r}");
        assert!(!partial(out).exists(), ".partial left behind:\n{r}");
        r
    }

    /// `antin verify FILE --offline` against both test roots, with NO extra revocation data: the
    /// file must carry what it needs. JSON.
    fn verify_json(&self, pdf: &Path) -> (i32, serde_json::Value) {
        let (gov, root) = (test_pki("gov-root.pem"), test_pki("root-ca.pem"));
        let r = self.antin(
            &[
                "verify",
                p(pdf),
                "--offline",
                "--revocation",
                "require",
                "--format",
                "json",
                "--trust",
                p(&gov),
                "--trust",
                p(&root),
            ],
            &[],
        );
        let v = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("verify output is not JSON ({e}):\n{r}"));
        (r.code, v)
    }
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn partial(out: &Path) -> PathBuf {
    out.with_extension("pdf.partial")
}

fn refused(r: &Run, out: &Path, code: i32, message: &str) {
    assert_eq!(r.code, code, "exit code:\n{r}");
    assert!(r.stderr.contains(message), "expected {message:?}:\n{r}");
    assert!(!out.exists(), "{} written:\n{r}", out.display());
    assert!(!partial(out).exists(), ".partial left behind:\n{r}");
}

fn kinds(v: &serde_json::Value, kind: &str) -> Vec<serde_json::Value> {
    v["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == kind)
        .cloned()
        .collect()
}

/// Every signature and timestamp passes, every PAdES signature reaches `level`, and the file
/// begins with the bytes of `original` (incremental updates only).
fn assert_extended(env: &Env, original: &Path, out: &Path, level: &str) -> serde_json::Value {
    let (code, v) = env.verify_json(out);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["verdict"], "TOTAL_PASSED", "{v:#}");
    for s in v["signatures"].as_array().unwrap() {
        assert_eq!(s["indication"], "TOTAL_PASSED", "{s:#}");
        if s["kind"] == "signature" && s["sub_filter"] == "ETSI.CAdES.detached" {
            assert_eq!(s["level"], level, "{s:#}");
        }
    }
    let before = std::fs::read(original).unwrap();
    let after = std::fs::read(out).unwrap();
    assert!(
        after.len() > before.len() && after.starts_with(&before),
        "not an incremental update of the original"
    );
    v
}

/// The revocation sources the report names for the first signature's signer ("ocsp" / "crl").
fn signer_revocation_source(v: &serde_json::Value) -> String {
    let sig = &kinds(v, "signature")[0];
    sig["revocation"][0]["source"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

// --- our own documents -------------------------------------------------------------------------

#[test]
fn our_b_b_and_b_t_documents_extend_to_b_lt_and_b_lta_with_ocsp() {
    let env = Env::new();
    let bb = env.path("bb.pdf");
    let bt = env.path("bt.pdf");
    env.sign_ok(&fixture("pdf/unsigned.pdf"), &bb, "B-B");
    env.sign_ok(&fixture("pdf/unsigned.pdf"), &bt, "B-T");

    // B-T -> B-LT: a DSS only, with the dev responder's OCSP answer for the signer.
    let out = env.path("bt-lt.pdf");
    let r = env.extend_ok(&bt, &out, &["--level", "B-LT"]);
    assert!(r.stdout.contains("(B-LT)"), "{r}");
    let v = assert_extended(&env, &bt, &out, "B-LT");
    assert!(kinds(&v, "document_timestamp").is_empty(), "{v:#}");
    assert_eq!(signer_revocation_source(&v), "ocsp", "{v:#}");

    // B-T -> B-LTA: DSS and a document timestamp.
    let out = env.path("bt-lta.pdf");
    env.extend_ok(&bt, &out, &["--level", "B-LTA"]);
    let v = assert_extended(&env, &bt, &out, "B-LTA");
    assert_eq!(kinds(&v, "document_timestamp").len(), 1);

    // B-B has no proof of time: even --level B-LT gets a document timestamp, and says so.
    let out = env.path("bb-lt.pdf");
    let r = env.extend_ok(&bb, &out, &["--level", "B-LT"]);
    assert!(r.stdout.contains("(B-LTA)"), "{r}");
    assert_extended(&env, &bb, &out, "B-LTA");
}

#[test]
fn a_b_lta_archive_is_renewed_and_if_expiring_within_decides_when() {
    let env = Env::new();
    let lta = env.path("lta.pdf");
    env.sign_ok(&fixture("pdf/unsigned.pdf"), &lta, "B-LTA");

    // The dev TSA's certificate is valid until 2036: nothing to do within 30 days.
    let out = env.path("renewed.pdf");
    let r = env.extend(&lta, &out, &["--if-expiring-within", "30"], &[]);
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stdout.contains("Nothing to do"), "{r}");
    assert!(r.stdout.contains("2036-01-01"), "{r}");
    assert!(!out.exists());

    // Within 20 years it is due: a DSS for the last timestamp's TSA and a new timestamp.
    env.extend_ok(&lta, &out, &["--if-expiring-within", "7300"]);
    let v = assert_extended(&env, &lta, &out, "B-LTA");
    assert_eq!(kinds(&v, "document_timestamp").len(), 2, "{v:#}");

    // And again, in place (the output is the input).
    let copy = env.path("in-place.pdf");
    std::fs::copy(&out, &copy).unwrap();
    env.extend_ok(&copy, &copy, &[]);
    let (_, v) = env.verify_json(&copy);
    assert_eq!(v["verdict"], "TOTAL_PASSED", "{v:#}");
    assert_eq!(kinds(&v, "document_timestamp").len(), 3, "{v:#}");
}

// --- anyone's documents: the committed fixtures (pyHanko-made) -----------------------------------

#[test]
fn the_fixtures_extend_and_earlier_signatures_stay_valid() {
    let env = Env::new();
    for (name, signatures) in [
        ("signed-approval.pdf", 1),
        ("signed-timestamped.pdf", 1),
        ("signed-lt.pdf", 1),
        ("signed-lta.pdf", 1),
        ("signed-two.pdf", 2),
        ("signed-ecdsa.pdf", 1),
        ("signed-pss.pdf", 1),
    ] {
        let input = fixture(&format!("pdf/{name}"));
        let out = env.path(name);
        env.extend_ok(&input, &out, &["--level", "B-LTA"]);
        let v = assert_extended(&env, &input, &out, "B-LTA");
        assert_eq!(kinds(&v, "signature").len(), signatures, "{name}: {v:#}");
    }
}

// --- refusals ------------------------------------------------------------------------------------

#[test]
fn refuses_unsigned_tampered_encrypted_and_broken_files() {
    let env = Env::new();
    let out = env.path("out.pdf");
    let r = env.extend(&fixture("pdf/unsigned.pdf"), &out, &[], &[]);
    refused(&r, &out, 65, "no signature to extend");

    let r = env.extend(&fixture("pdf/signed-approval-tampered.pdf"), &out, &[], &[]);
    refused(&r, &out, 65, "HASH_FAILURE");

    // A disallowed change after signing is a broken signature too.
    let r = env.extend(&fixture("pdf/signed-appended.pdf"), &out, &[], &[]);
    refused(&r, &out, 65, "MODIFIED_AFTER_SIGNING");

    // Revoked before any proof of time: not made to look archived.
    let r = env.extend(&fixture("pdf/signed-revoked.pdf"), &out, &[], &[]);
    assert!(r.code >= 64, "{r}");
    assert!(!out.exists());

    // The trailer names /Encrypt.
    let mut enc = std::fs::read(fixture("pdf/signed-approval.pdf")).unwrap();
    let sx = enc.windows(9).rposition(|w| w == b"startxref").unwrap();
    let prev: usize = String::from_utf8_lossy(&enc[sx + 9..])
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let obj = enc.len();
    write!(
        enc,
        "900 0 obj\n<< /Filter /Standard /V 2 /R 3 /Length 128 /P -3904 /O <{}> /U <{}> >>\nendobj\n",
        "00".repeat(32),
        "11".repeat(32)
    )
    .unwrap();
    let xref = enc.len();
    let root = {
        let original = std::fs::read(fixture("pdf/signed-approval.pdf")).unwrap();
        let doc = antin::pdf::parse(&original, &Default::default()).unwrap();
        let r = doc
            .revisions()
            .last()
            .unwrap()
            .trailer
            .get(b"Root")
            .and_then(|o| o.as_ref())
            .unwrap();
        format!("{} {} R", r.0, r.1)
    };
    write!(
        enc,
        "xref\n900 1\n{obj:010} 00000 n \ntrailer\n<< /Size 901 /Root {root} /Encrypt 900 0 R /ID [<00> <00>] /Prev {prev} >>\nstartxref\n{xref}\n%%EOF\n"
    )
    .unwrap();
    let encrypted = env.path("encrypted.pdf");
    std::fs::write(&encrypted, enc).unwrap();
    let r = env.extend(&encrypted, &out, &[], &[]);
    refused(&r, &out, 65, "encrypted");

    let junk = env.path("junk.pdf");
    std::fs::write(&junk, b"%PDF-1.7\nthis is not a PDF\n").unwrap();
    let r = env.extend(&junk, &out, &[], &[]);
    assert!(r.code >= 64, "{r}");
    assert!(!out.exists() && !partial(&out).exists());

    let r = env.extend(
        &fixture("pdf/signed-approval.pdf"),
        &out,
        &["--level", "B-T"],
        &[],
    );
    refused(&r, &out, 64, "B-LT or B-LTA");
}

#[test]
fn a_tsa_that_is_down_leaves_nothing_half_written() {
    let env = Env::new();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let out = env.path("out.pdf");
    let r = env.extend(
        &fixture("pdf/signed-timestamped.pdf"),
        &out,
        &["--level", "B-LTA"],
        &[("ANTIN_SIGN__PROFILES__DEFAULT__TSA", &url)],
    );
    refused(&r, &out, 69, "cannot reach the TSA");
    // B-LT of a timestamped signature needs no TSA at all.
    let r = env.extend(
        &fixture("pdf/signed-timestamped.pdf"),
        &out,
        &["--level", "B-LT"],
        &[("ANTIN_SIGN__PROFILES__DEFAULT__TSA", &url)],
    );
    assert_eq!(r.code, 0, "{r}");
}

#[test]
fn a_folder_extends_the_good_files_and_reports_the_bad_ones() {
    let env = Env::new();
    let input = env.path("in");
    let outdir = env.path("out");
    std::fs::create_dir(&input).unwrap();
    std::fs::copy(fixture("pdf/signed-approval.pdf"), input.join("a.pdf")).unwrap();
    std::fs::copy(fixture("pdf/signed-timestamped.pdf"), input.join("b.pdf")).unwrap();
    std::fs::copy(fixture("pdf/unsigned.pdf"), input.join("c.pdf")).unwrap();
    let r = env.extend(&input, &outdir, &["--level", "B-LTA"], &[]);
    assert_eq!(r.code, 65, "{r}");
    assert!(
        r.stdout.contains("[1/3]") && r.stdout.contains("[2/3]"),
        "{r}"
    );
    assert!(
        r.stderr.contains("[3/3]") && r.stderr.contains("no signature"),
        "{r}"
    );
    for n in ["a.pdf", "b.pdf"] {
        assert_extended(&env, &input.join(n), &outdir.join(n), "B-LTA");
    }
    assert!(!outdir.join("c.pdf").exists());
}

// --- OCSP over the network: `ocsp = "fetch"` ----------------------------------------------------

/// Waits until something accepts connections on the address.
fn wait_listening(addr: &str, child: &mut Child) {
    for _ in 0..100 {
        if TcpStream::connect(addr).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("antin dev exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing listens on {addr}");
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The profile asks the certificates' AIA OCSP URL (http://127.0.0.1:18089/ocsp) and has only
/// root-ca's CRL (for licensed-ca, which has no OCSP URL).
const FETCH_ENV: [(&str, &str); 2] = [
    ("ANTIN_SIGN__PROFILES__DEFAULT__OCSP", "fetch"),
    (
        "ANTIN_SIGN__PROFILES__DEFAULT__CRLS",
        "[\"certs/test-pki/root-ca.crl\"]",
    ),
];

#[test]
fn ocsp_fetch_from_antin_dev_ocsp_post_and_get() {
    let _port = PORT_18089.lock().unwrap_or_else(|p| p.into_inner());
    let env = Env::new();
    let child = env
        .command(&["dev", "ocsp", "--listen", "127.0.0.1:18089"], &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Killed(child);
    wait_listening("127.0.0.1:18089", &mut child.0);

    let out = env.path("fetched.pdf");
    let input = fixture("pdf/signed-timestamped.pdf");
    env.extend_ok(&input, &out, &["--level", "B-LT"]);
    // That used the default profile's dev responder; now over HTTP only.
    let out = env.path("fetched-http.pdf");
    let r = env.extend(&input, &out, &["--level", "B-LT"], &FETCH_ENV);
    assert_eq!(r.code, 0, "{r}");
    let v = assert_extended(&env, &input, &out, "B-LT");
    assert_eq!(signer_revocation_source(&v), "ocsp", "{v:#}");

    // RFC 6960 A.1 GET: /ocsp/<url-encoded base64 of the DER request>.
    let cert =
        |n: &str| openssl::x509::X509::from_pem(&std::fs::read(test_pki(n)).unwrap()).unwrap();
    let req = antin::sign::ocsp::request_der(
        &cert("citizen-an.pem"),
        &cert("licensed-ca.pem"),
        Some(b"get-nonce-123456"),
    )
    .unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD
        .encode(&req)
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let mut s = TcpStream::connect("127.0.0.1:18089").unwrap();
    write!(
        s,
        "GET /ocsp/{b64} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&resp[..split]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("application/ocsp-response"), "{head}");
    let body = &resp[split + 4..];
    assert_eq!(
        antin::sign::ocsp::response_nonce(body).as_deref(),
        Some(&b"get-nonce-123456"[..])
    );
    // A malformed request: malformedRequest (OCSPResponseStatus 1), not an HTTP error.
    let mut s = TcpStream::connect("127.0.0.1:18089").unwrap();
    let junk = b"definitely not DER";
    write!(
        s,
        "POST /ocsp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ocsp-request\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        junk.len()
    )
    .unwrap();
    s.write_all(junk).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    assert!(resp.ends_with(&[0x30, 0x03, 0x0a, 0x01, 0x01]), "{resp:?}");
}

#[test]
fn an_ocsp_responder_answering_garbage_is_a_clear_refusal() {
    let _port = PORT_18089.lock().unwrap_or_else(|p| p.into_inner());
    let listener = TcpListener::bind("127.0.0.1:18089").expect("port 18089 is busy");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let server = std::thread::spawn(move || {
        for stream in listener.incoming() {
            if stopped.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
            let mut buf = [0u8; 65536];
            let _ = s.read(&mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: 12\r\nConnection: close\r\n\r\nnot an OCSP!",
            );
        }
    });
    let env = Env::new();
    let out = env.path("out.pdf");
    let r = env.extend(
        &fixture("pdf/signed-timestamped.pdf"),
        &out,
        &["--level", "B-LT"],
        &FETCH_ENV,
    );
    // The port is free again for the other test once the server has stopped.
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = TcpStream::connect("127.0.0.1:18089");
    server.join().unwrap();
    refused(&r, &out, 69, "not a valid OCSP response");
    assert!(r.stderr.contains("cannot be validated"), "{r}");
}

// --- full suite: pyHanko, pdfsig, qpdf ------------------------------------------------------------

fn under_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

fn tool_ok(cmd: &str, args: &[&str]) -> bool {
    let ok = Command::new(cmd)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok || !under_ci(), "{cmd} missing under CI=true");
    if !ok {
        eprintln!("skipping: {cmd} is not available");
    }
    ok
}

fn pyhanko_ok(pdf: &Path) -> (bool, String) {
    let out = Command::new("python3")
        .arg(manifest_dir().join("scripts/pyhanko-validate.py"))
        .arg(pdf)
        .arg("--trust")
        .arg(test_pki("gov-root.pem"))
        .arg("--trust")
        .arg(test_pki("root-ca.pem"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("pyhanko-validate.py: not JSON ({e}): {stdout}"));
    let all = v["signatures"]
        .as_array()
        .is_some_and(|a| !a.is_empty() && a.iter().all(|s| s["indication"] == "PASSED"));
    // pyHanko logs a diff-analysis problem (e.g. a modified VRI entry) to stderr even when the
    // bottom line stays PASSED: that counts as a failure here.
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (
        out.status.success() && all && v["ok"] == true && !stderr.contains("Suspicious"),
        format!("{v:#}\n{stderr}"),
    )
}

/// pdfsig's verdict per signature: every /Sig must say "Signature is Valid." (it does not verify
/// RFC 3161 document timestamps).
fn pdfsig_ok(pdf: &Path, signatures: usize) -> (bool, String) {
    let out = Command::new("pdfsig").arg(pdf).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let valid = text
        .lines()
        .filter(|l| l.trim() == "- Signature Validation: Signature is Valid.")
        .count();
    (valid >= signatures, text)
}

#[test]
#[ignore = "needs pyHanko and poppler (full suite)"]
fn extended_files_validate_with_pyhanko_pdfsig_and_qpdf() {
    if !(tool_ok("python3", &["-c", "import pyhanko.sign"])
        && tool_ok("pdfsig", &["-v"])
        && tool_ok("qpdf", &["--version"]))
    {
        return;
    }
    let env = Env::new();
    let mut cases: Vec<(String, PathBuf, PathBuf)> = Vec::new();
    // pyHanko-signed at every level, then extended by antin.
    for level in ["B-B", "B-T", "B-LT", "B-LTA"] {
        let signed = env.path(&format!("pyhanko-{level}.pdf"));
        let out = Command::new("python3")
            .arg(manifest_dir().join("scripts/pyhanko-sign-level.py"))
            .arg(fixture("pdf/unsigned.pdf"))
            .arg(&signed)
            .args(["--level", level])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        cases.push((
            format!("pyHanko {level}"),
            signed.clone(),
            env.path(&format!("pyhanko-{level}-ext.pdf")),
        ));
    }
    // Ours at B-T, and a B-LTA archive renewed.
    let bt = env.path("antin-bt.pdf");
    env.sign_ok(&fixture("pdf/unsigned.pdf"), &bt, "B-T");
    cases.push(("antin B-T".into(), bt, env.path("antin-bt-ext.pdf")));
    let lta = env.path("antin-lta.pdf");
    env.sign_ok(&fixture("pdf/unsigned.pdf"), &lta, "B-LTA");
    cases.push((
        "antin B-LTA renewed".into(),
        lta,
        env.path("antin-lta-ext.pdf"),
    ));
    cases.push((
        "fixture signed-two".into(),
        fixture("pdf/signed-two.pdf"),
        env.path("two-ext.pdf"),
    ));

    let mut failures = Vec::new();
    let mut matrix = vec![format!(
        "{:<22} | {:<12} | {:<7} | {:<6} | qpdf",
        "case", "antin", "pyHanko", "pdfsig"
    )];
    for (name, input, out) in &cases {
        env.extend_ok(input, out, &["--level", "B-LTA"]);
        let (code, v) = env.verify_json(out);
        let antin_ok = code == 0 && v["verdict"] == "TOTAL_PASSED";
        if !antin_ok {
            failures.push(format!("{name}: antin: {v:#}"));
        }
        let (py, py_text) = pyhanko_ok(out);
        if !py {
            failures.push(format!("{name}: pyHanko: {py_text}"));
        }
        let (ps, ps_text) = pdfsig_ok(out, kinds(&v, "signature").len());
        if !ps {
            failures.push(format!("{name}: pdfsig: {ps_text}"));
        }
        let q = Command::new("qpdf")
            .arg("--check")
            .arg(out)
            .output()
            .unwrap();
        let q_ok = q.status.code() == Some(0);
        if !q_ok {
            failures.push(format!(
                "{name}: qpdf: {}",
                String::from_utf8_lossy(&q.stdout)
            ));
        }
        let cell = |ok: bool| if ok { "ok" } else { "FAIL" };
        matrix.push(format!(
            "{:<22} | {:<12} | {:<7} | {:<6} | {}",
            name,
            if antin_ok { "TOTAL_PASSED" } else { "FAIL" },
            cell(py),
            cell(ps),
            cell(q_ok)
        ));
    }
    eprintln!("{}", matrix.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
