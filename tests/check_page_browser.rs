//! The check page in a real browser (full suite): a document signed through the API, the URL its
//! QR code decodes to (pdftoppm + zbarimg), then headless Chromium (tests/browser/check.mjs,
//! playwright-core) sees it valid, revoked after the API call, and a tampered copy failing.
//! Screenshots go to target/check-page-screenshots/ (or $ANTIN_TEST_OUTPUT).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use antin::http::auth::Role;
use common::Db;

fn under_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Whether `path` (a program or a file) exists; under CI=true a missing one is a failure.
fn have(what: &str, ok: bool) -> bool {
    assert!(ok || !under_ci(), "{what} missing under CI=true");
    if !ok {
        eprintln!("skipping: {what} is not installed");
    }
    ok
}

fn runs(name: &str, probe: &str) -> bool {
    have(name, Command::new(name).arg(probe).output().is_ok())
}

/// The first QR code on page 1 of `pdf`.
fn decode_qr(pdf: &Path, dir: &Path) -> String {
    let prefix = dir.join("page-1");
    let st = Command::new("pdftoppm")
        .args(["-r", "150", "-png", "-f", "1", "-l", "1", "-singlefile"])
        .arg(pdf)
        .arg(&prefix)
        .status()
        .unwrap();
    assert!(st.success(), "pdftoppm failed");
    let z = Command::new("zbarimg")
        .args(["-q", "--raw"])
        .arg(prefix.with_extension("png"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&z.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium, node with tests/browser (npm ci), poppler-utils and zbar-tools (full suite)"]
async fn the_check_page_in_chromium() {
    let root = common::manifest_dir();
    let browser_dir = root.join("tests/browser");
    if !(runs("node", "--version")
        && runs("pdftoppm", "-v")
        && runs("zbarimg", "--version")
        && have("/usr/bin/chromium", Path::new("/usr/bin/chromium").exists())
        && have(
            "tests/browser/node_modules (npm ci --prefix tests/browser)",
            browser_dir.join("node_modules/playwright-core").exists(),
        ))
    {
        return;
    }
    let out = std::env::var_os("ANTIN_TEST_OUTPUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/check-page-screenshots"));
    std::fs::create_dir_all(&out).unwrap();
    let app = common::spawn_app_with(Db::Sqlite, &[("ANTIN_SERVER__PUBLIC_URL", "auto")]).await;
    let unsigned = std::fs::read(common::fixture("pdf/unsigned.pdf")).unwrap();
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(unsigned).file_name("in.pdf"),
        )
        .text("document_number", "0815/STP-LLTP");
    let resp = app
        .client
        .post(app.url("/v1/signatures"))
        .bearer_auth(app.key(Role::Portal))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let id = resp.headers()["x-antin-document-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let signed = resp.bytes().await.unwrap().to_vec();
    let work = tempfile::tempdir().unwrap();
    let pdf = work.path().join("signed.pdf");
    std::fs::write(&pdf, &signed).unwrap();
    let url = decode_qr(&pdf, work.path());
    assert_eq!(
        url,
        app.url(&format!("/v/{id}")),
        "the QR code leads to this page"
    );

    let at = signed
        .windows(18)
        .position(|w| w == b"ANTIN-TEST-CONTENT")
        .unwrap()
        + 17;
    let mut tampered = signed.clone();
    tampered[at] = b'U';
    let tampered_path = work.path().join("tampered.pdf");
    std::fs::write(&tampered_path, &tampered).unwrap();

    let script = browser_dir.join("check.mjs");
    let (key, ca) = (app.key(Role::Portal).to_owned(), app.ca_path.clone());
    let out_dir = out.clone();
    let run = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .env("CHECK_URL", &url)
            .env("API_KEY", key)
            .env("TAMPERED", &tampered_path)
            .env("OUT", &out_dir)
            .env("NODE_EXTRA_CA_CERTS", ca)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "check.mjs failed:\n{stdout}\n{stderr}"
    );
    let line: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    assert_eq!(line["ok"], true);
    let weight = line["page_bytes"].as_u64().unwrap();
    assert!(weight > 0 && weight < 100 * 1024, "{weight}");
    eprintln!(
        "check page weight in Chromium: {weight} bytes; screenshots in {}",
        out.display()
    );
    for shot in [
        "1-valid.png",
        "2-revoked.png",
        "3-tampered.png",
        "4-revoked-en.png",
    ] {
        let meta = std::fs::metadata(out.join(shot)).unwrap();
        assert!(meta.len() > 1000, "{shot} is empty");
    }
    // The revocation the browser made is what the API now says.
    let v: serde_json::Value = app
        .client
        .get(app.url(&format!("/v1/documents/{id}/status")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "revoked");
    app.stop().await;
}
