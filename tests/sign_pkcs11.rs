//! PKCS#11 signing keys through SoftHSM2 (full suite): tokens made in a temporary folder, the test
//! PKI's agency (RSA-2048), P-256 and P-384 keys imported into them, PDFs signed through profiles
//! at B-B and B-LTA with PKCS#1 v1.5, RSASSA-PSS and ECDSA and judged by antin's verifier; a wrong
//! PIN, an unknown key or token and a key that does not match its certificate are refused when
//! the profile loads, with messages that never contain the PIN; lost sessions reconnect; and
//! `antin sign --config` signs with a token profile.
//!
//! SoftHSM2 reads SOFTHSM2_CONF once, at C_Initialize, for the whole process: every test of this
//! file shares one set of tokens, made once before the first profile loads. Tests that log in or
//! out on purpose have their own token. Without SoftHSM2 the tests skip with a note, except under
//! CI=true, where a missing SoftHSM2 fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use antin::config::Config;
use antin::sign::service::{self, Level, Profile, SignOptions, Signer};
use antin::verify::engine::Context;
use common::{fixture, manifest_dir, test_pki};

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// Distinctive PINs, so that a test can assert they appear in no message.
const PIN: &str = "hsm-pin-7291";
const WRONG_PIN: &str = "wrong-pin-5038";
const SO_PIN: &str = "hsm-so-pin-4410";
const PIN_ENV: &str = "ANTIN_TEST_HSM_PIN";
const WRONG_PIN_ENV: &str = "ANTIN_TEST_HSM_WRONG_PIN";

/// The signing token: the agency's RSA key (id 01, with its certificate stored on the token
/// too), ecdsa-binh's P-256 key (id 02) and ecdsa384-khoa's P-384 key (id 03).
const TOKEN: &str = "antin-signing";
/// A token for the wrong-PIN test (a failed login must not touch the others).
const TOKEN_BAD_PIN: &str = "antin-badpin";
/// A token whose login the reconnect test takes away.
const TOKEN_RECONNECT: &str = "antin-reconnect";

struct Hsm {
    dir: PathBuf,
    conf: PathBuf,
}

fn under_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// The shared SoftHSM2 set-up, or None (skip) when SoftHSM2 is not installed outside CI.
fn hsm() -> Option<&'static Hsm> {
    static HSM: OnceLock<Option<Hsm>> = OnceLock::new();
    HSM.get_or_init(|| {
        let util = Command::new("softhsm2-util").arg("--version").output();
        if !Path::new(MODULE).is_file() || !util.is_ok_and(|o| o.status.success()) {
            assert!(
                !under_ci(),
                "SoftHSM2 missing under CI=true (apt-get install softhsm2): {MODULE}"
            );
            eprintln!("skipped: SoftHSM2 is not installed (apt-get install softhsm2)");
            return None;
        }
        Some(make_tokens())
    })
    .as_ref()
}

fn softhsm(conf: &Path, args: &[&str]) {
    let out = Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", conf)
        .args(args)
        .output()
        .expect("run softhsm2-util");
    assert!(
        out.status.success(),
        "softhsm2-util {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn import(conf: &Path, token: &str, key: &str, label: &str, id: &str) {
    let path = test_pki(key);
    softhsm(
        conf,
        &[
            "--import",
            path.to_str().unwrap(),
            "--token",
            token,
            "--label",
            label,
            "--id",
            id,
            "--pin",
            PIN,
        ],
    );
}

fn make_tokens() -> Hsm {
    // Kept for the life of the test process (SoftHSM2 holds the files open).
    let dir = tempfile::tempdir().unwrap().keep();
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    for label in [TOKEN, TOKEN_BAD_PIN, TOKEN_RECONNECT] {
        softhsm(
            &conf,
            &[
                "--init-token",
                "--free",
                "--label",
                label,
                "--so-pin",
                SO_PIN,
                "--pin",
                PIN,
            ],
        );
    }
    // The test PKI's keys are PKCS#8 PEM already, as --import wants them.
    import(&conf, TOKEN, "gov-agency.key", "agency", "01");
    import(&conf, TOKEN, "ecdsa-binh.key", "binh", "02");
    import(&conf, TOKEN, "ecdsa384-khoa.key", "khoa", "03");
    import(&conf, TOKEN_BAD_PIN, "gov-agency.key", "agency", "01");
    import(&conf, TOKEN_RECONNECT, "gov-agency.key", "agency", "01");

    // SoftHSM2 reads its configuration at C_Initialize, which no profile has done yet: every
    // other test waits for this set-up first.
    std::env::set_var("SOFTHSM2_CONF", &conf);
    std::env::set_var(PIN_ENV, PIN);
    std::env::set_var(WRONG_PIN_ENV, WRONG_PIN);
    store_agency_certificate();
    Hsm { dir, conf }
}

/// The agency's certificate as a CKO_CERTIFICATE with the key's CKA_ID (softhsm2-util 2.6
/// imports keys only), through our own PKCS#11 context in this process.
fn store_agency_certificate() {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::object::{Attribute, CertificateType, ObjectClass};
    use cryptoki::session::UserType;
    let ctx = Pkcs11::new(MODULE).unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == TOKEN)
        .unwrap();
    let session = ctx.open_rw_session(slot).unwrap();
    session
        .login(UserType::User, Some(&PIN.to_owned().into()))
        .unwrap();
    let cert =
        openssl::x509::X509::from_pem(&std::fs::read(test_pki("gov-agency.pem")).unwrap()).unwrap();
    session
        .create_object(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Label(b"agency".to_vec()),
            Attribute::Id(vec![0x01]),
            Attribute::Subject(cert.subject_name().to_der().unwrap()),
            Attribute::Value(cert.to_der().unwrap()),
        ])
        .unwrap();
    // The session closes here; the token keeps the object (CKA_TOKEN).
}

// --- Profiles ------------------------------------------------------------------------------------

/// `[sign.profiles.NAME]` for a key on the signing token.
fn profile_toml(
    name: &str,
    key_lines: &str,
    cert: Option<&str>,
    chain: &[&str],
    scheme: &str,
) -> String {
    let pki = |n: &str| format!("\"{}\"", test_pki(n).display());
    let chain: Vec<String> = chain.iter().map(|c| pki(c)).collect();
    let crls: Vec<String> = [
        "gov-ca.crl",
        "gov-root.crl",
        "licensed-ca.crl",
        "root-ca.crl",
    ]
    .iter()
    .map(|c| pki(c))
    .collect();
    format!(
        "[sign.profiles.{name}]\nagency = \"Sở Tư pháp tỉnh Thử Nghiệm\"\n\
         pkcs11_module = \"{MODULE}\"\n{key_lines}\n{}chain = [{}]\nscheme = \"{scheme}\"\n\
         level = \"B-LTA\"\ntsa = \"dev\"\ncrls = [{}]\n",
        cert.map(|c| format!("cert = {}\n", pki(c)))
            .unwrap_or_default(),
        chain.join(", "),
        crls.join(", ")
    )
}

fn key_lines(token: &str, label: Option<&str>, id: Option<&str>, pin_env: &str) -> String {
    let mut s = format!("pkcs11_token_label = \"{token}\"\npkcs11_pin_env = \"{pin_env}\"\n");
    if let Some(l) = label {
        s.push_str(&format!("pkcs11_key_label = \"{l}\"\n"));
    }
    if let Some(i) = id {
        s.push_str(&format!("pkcs11_key_id = \"{i}\"\n"));
    }
    s
}

const GOV_CHAIN: [&str; 2] = ["gov-ca.pem", "gov-root.pem"];
const LICENSED_CHAIN: [&str; 2] = ["licensed-ca.pem", "root-ca.pem"];

/// The token profiles of the signing tests.
fn signing_profiles() -> String {
    [
        profile_toml(
            "hsm-pkcs1",
            &key_lines(TOKEN, Some("agency"), None, PIN_ENV),
            Some("gov-agency.pem"),
            &GOV_CHAIN,
            "rsa-pkcs1-sha256",
        ),
        profile_toml(
            "hsm-pss",
            &key_lines(TOKEN, Some("agency"), Some("01"), PIN_ENV),
            Some("gov-agency.pem"),
            &GOV_CHAIN,
            "rsa-pss-sha256",
        ),
        profile_toml(
            "hsm-p256",
            &key_lines(TOKEN, None, Some("02"), PIN_ENV),
            Some("ecdsa-binh.pem"),
            &LICENSED_CHAIN,
            "ecdsa-p256-sha256",
        ),
        profile_toml(
            "hsm-p384",
            &key_lines(TOKEN, Some("khoa"), None, PIN_ENV),
            Some("ecdsa384-khoa.pem"),
            &LICENSED_CHAIN,
            "ecdsa-p384-sha384",
        ),
        // The token hashes (CKM_SHA256_RSA_PKCS, CKM_SHA384_RSA_PKCS_PSS, CKM_ECDSA_SHA256).
        profile_toml(
            "hsm-pkcs1-token-digest",
            &format!(
                "{}pkcs11_mechanism = \"token-digest\"\n",
                key_lines(TOKEN, Some("agency"), None, PIN_ENV)
            ),
            Some("gov-agency.pem"),
            &GOV_CHAIN,
            "rsa-pkcs1-sha256",
        ),
        profile_toml(
            "hsm-pss384-token-digest",
            &format!(
                "{}pkcs11_mechanism = \"token-digest\"\n",
                key_lines(TOKEN, Some("agency"), None, PIN_ENV)
            ),
            Some("gov-agency.pem"),
            &GOV_CHAIN,
            "rsa-pss-sha384",
        ),
    ]
    .concat()
}

/// The embedded configuration with `profiles` added (as `--config FILE` would), the trust
/// install folders in `dir`.
fn config_with(dir: &Path, profiles: &str) -> Config {
    let file = dir.join("antin.toml");
    std::fs::write(&file, profiles).unwrap();
    let env = vec![
        (
            "ANTIN_TRUST__ANCHOR_DIR".to_owned(),
            dir.join("anchors").display().to_string(),
        ),
        (
            "ANTIN_TRUST__INTERMEDIATE_DIR".to_owned(),
            dir.join("intermediates").display().to_string(),
        ),
    ];
    Config::load_from(Some(&file), env).expect("configuration")
}

/// Loads every profile of `profiles` (and the default one) as `serve` and `sign` do.
fn load(profiles: &str) -> Result<(Signer, Context), String> {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with(dir.path(), profiles);
    let signer =
        Signer::from_config(&config.sign, &config.server.public_url).map_err(|e| e.to_string())?;
    let context = Context::from_config(&config, &[]).unwrap();
    Ok((signer, context))
}

fn sign_and_check(context: &Context, profile: &Profile, level: Level) -> antin::verify::Report {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let input = std::fs::read(fixture("pdf/unsigned.pdf")).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let opts = SignOptions {
        level: Some(level),
        ..SignOptions::default()
    };
    let signed = rt
        .block_on(service::sign(profile, &input, &opts, now))
        .unwrap_or_else(|e| panic!("{} {level:?}: {e}", profile.name));
    assert!(
        signed.bytes.starts_with(&input),
        "not an incremental update"
    );
    // TOTAL_PASSED at the level asked for, or an error.
    service::self_check(context, profile, &signed, now)
        .unwrap_or_else(|e| panic!("{} {level:?}: {e}", profile.name))
}

// --- 1. Signing through the token ----------------------------------------------------------------

#[test]
#[ignore = "needs SoftHSM2 (apt softhsm2); run by the full suite"]
fn pkcs1_pss_and_ecdsa_keys_on_the_token_sign_at_b_b_and_b_lta() {
    let Some(_) = hsm() else { return };
    let (signer, context) = load(&signing_profiles()).unwrap();
    for (name, algorithm) in [
        ("hsm-pkcs1", "PKCS#1"),
        ("hsm-pss", "PSS"),
        ("hsm-p256", "ECDSA"),
        ("hsm-p384", "ECDSA"),
        ("hsm-pkcs1-token-digest", "PKCS#1"),
        ("hsm-pss384-token-digest", "PSS with SHA-384"),
    ] {
        let profile = signer.profile(Some(name)).unwrap();
        for level in [Level::BB, Level::BLTA] {
            let report = sign_and_check(&context, profile, level);
            let ours = report
                .signatures
                .iter()
                .find(|s| s.kind == antin::verify::report::SignatureKind::Signature)
                .unwrap();
            assert_eq!(ours.level.as_deref(), Some(level.as_str()), "{name}");
            let alg = ours.algorithms.as_ref().unwrap();
            assert!(
                alg.signature
                    .to_uppercase()
                    .contains(&algorithm.to_uppercase()),
                "{name}: {alg:?}"
            );
            let signer_subject = &ours.signer.as_ref().unwrap().subject;
            let expected = openssl::x509::X509::from_pem(
                &std::fs::read(test_pki(match name {
                    "hsm-p256" => "ecdsa-binh.pem",
                    "hsm-p384" => "ecdsa384-khoa.pem",
                    _ => "gov-agency.pem",
                }))
                .unwrap(),
            )
            .unwrap();
            assert_eq!(
                ours.signer.as_ref().unwrap().certificate_sha256,
                hex::encode(openssl::sha::sha256(&expected.to_der().unwrap())),
                "{name}: signed by {signer_subject}"
            );
        }
    }
}

#[test]
#[ignore = "needs SoftHSM2 (apt softhsm2); run by the full suite"]
fn the_certificate_can_come_from_the_token() {
    let Some(_) = hsm() else { return };
    let profiles = profile_toml(
        "hsm-token-cert",
        &key_lines(TOKEN, None, Some("01"), PIN_ENV),
        None,
        &GOV_CHAIN,
        "rsa-pss-sha256",
    );
    let (signer, context) = load(&profiles).unwrap();
    let profile = signer.profile(Some("hsm-token-cert")).unwrap();
    let on_file =
        openssl::x509::X509::from_pem(&std::fs::read(test_pki("gov-agency.pem")).unwrap()).unwrap();
    assert_eq!(profile.cert.to_der().unwrap(), on_file.to_der().unwrap());
    sign_and_check(&context, profile, Level::BB);
}

#[test]
#[ignore = "needs SoftHSM2 (apt softhsm2); run by the full suite"]
fn threads_share_one_token_key() {
    let Some(_) = hsm() else { return };
    let (signer, context) = load(&signing_profiles()).unwrap();
    let profile = signer.profile(Some("hsm-p256")).unwrap();
    std::thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| {
                for _ in 0..3 {
                    sign_and_check(&context, profile, Level::BB);
                }
            });
        }
    });
}

// --- 2. Refusals at load -------------------------------------------------------------------------

fn load_err(profiles: &str) -> String {
    match load(profiles) {
        Ok(_) => panic!("the profile loaded:\n{profiles}"),
        Err(e) => {
            assert!(!e.contains(PIN) && !e.contains(WRONG_PIN), "a PIN in: {e}");
            e
        }
    }
}

#[test]
#[ignore = "needs SoftHSM2 (apt softhsm2); run by the full suite"]
fn a_wrong_pin_is_refused_and_never_shown() {
    let Some(_) = hsm() else { return };
    let e = load_err(&profile_toml(
        "hsm-bad-pin",
        &key_lines(TOKEN_BAD_PIN, Some("agency"), None, WRONG_PIN_ENV),
        Some("gov-agency.pem"),
        &GOV_CHAIN,
        "rsa-pss-sha256",
    ));
    assert!(e.contains("hsm-bad-pin"), "{e}");
    assert!(e.contains("CKR_PIN_INCORRECT"), "{e}");
    assert!(e.contains(TOKEN_BAD_PIN), "{e}");

    let e = load_err(&profile_toml(
        "hsm-no-pin",
        &key_lines(
            TOKEN_BAD_PIN,
            Some("agency"),
            None,
            "ANTIN_TEST_HSM_PIN_UNSET",
        ),
        Some("gov-agency.pem"),
        &GOV_CHAIN,
        "rsa-pss-sha256",
    ));
    assert!(
        e.contains("the environment variable ANTIN_TEST_HSM_PIN_UNSET is not set"),
        "{e}"
    );

    // No pkcs11_pin_env at all, on a token without a PIN pad.
    let e = load_err(
        &profile_toml(
            "hsm-pin-not-configured",
            &key_lines(TOKEN_BAD_PIN, Some("agency"), None, "-"),
            Some("gov-agency.pem"),
            &GOV_CHAIN,
            "rsa-pss-sha256",
        )
        .replace("pkcs11_pin_env = \"-\"\n", ""),
    );
    assert!(e.contains("needs a user PIN: set pkcs11_pin_env"), "{e}");
}

#[test]
#[ignore = "needs SoftHSM2 (apt softhsm2); run by the full suite"]
fn an_unknown_key_or_token_is_refused() {
    let Some(_) = hsm() else { return };
    let e = load_err(&profile_toml(
        "hsm-no-key",
        &key_lines(TOKEN, Some("nope"), None, PIN_ENV),
        Some("gov-agency.pem"),
        &GOV_CHAIN,
        "rsa-pss-sha256",
    ));
    assert!(
        e.contains("no private key with label \"nope\" on the PKCS#11 token"),
        "{e}"
    );
    // A label and an id that exist, but not on the same key.
    let e = load_err(&profile_toml(
        "hsm-label-id",
        &key_lines(TOKEN, Some("agency"), Some("02"), PIN_ENV),
        Some("gov-agency.pem"),
        &GOV_CHAIN,
        "rsa-pss-sha256",
    ));
    assert!(
        e.contains("no private key with label \"agency\" id 02"),
        "{e}"
    );

    let e = load_err(&profile_toml(
        "hsm-no-token",
        &key_lines("antin-absent", Some("agency"), None, PIN_ENV),
        Some("gov-agency.pem"),
        &GOV_CHAIN,
        "rsa-pss-sha256",
    ));
    assert!(
        e.contains("no PKCS#11 token with label \"antin-absent\""),
        "{e}"
    );
    assert!(e.contains(TOKEN), "the tokens present are listed: {e}");

    let e = load_err(
        &profile_toml(
            "hsm-no-module",
            &key_lines(TOKEN, Some("agency"), None, PIN_ENV),
            Some("gov-agency.pem"),
            &GOV_CHAIN,
            "rsa-pss-sha256",
        )
        .replace(MODULE, "/nonexistent/libpkcs11.so"),
    );
    assert!(
        e.contains("cannot load the PKCS#11 module /nonexistent/libpkcs11.so"),
        "{e}"
    );
}

#[test]
#[ignore = "needs SoftHSM2 (apt softhsm2); run by the full suite"]
fn a_key_that_does_not_match_the_certificate_is_refused_at_load() {
    let Some(_) = hsm() else { return };
    // The agency's key with another RSA signer's certificate.
    let e = load_err(&profile_toml(
        "hsm-mismatch",
        &key_lines(TOKEN, Some("agency"), None, PIN_ENV),
        Some("citizen-an.pem"),
        &LICENSED_CHAIN,
        "rsa-pss-sha256",
    ));
    assert!(e.contains("hsm-mismatch"), "{e}");
    assert!(e.contains("the key does not match the certificate"), "{e}");
    // An EC key with an RSA scheme.
    let e = load_err(&profile_toml(
        "hsm-scheme",
        &key_lines(TOKEN, Some("binh"), None, PIN_ENV),
        Some("ecdsa-binh.pem"),
        &LICENSED_CHAIN,
        "rsa-pss-sha256",
    ));
    assert!(e.contains("does not fit a EC P-256 key"), "{e}");
}

// --- 3. Lost sessions ----------------------------------------------------------------------------

#[test]
#[ignore = "needs SoftHSM2 (apt softhsm2); run by the full suite"]
fn a_lost_login_reconnects_once() {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    let Some(_) = hsm() else { return };
    let (signer, context) = load(&profile_toml(
        "hsm-reconnect",
        &key_lines(TOKEN_RECONNECT, Some("agency"), None, PIN_ENV),
        Some("gov-agency.pem"),
        &GOV_CHAIN,
        "rsa-pkcs1-sha256",
    ))
    .unwrap();
    let profile = signer.profile(Some("hsm-reconnect")).unwrap();
    sign_and_check(&context, profile, Level::BB);
    // Log the application out of the token (login state is per application and token, as
    // after a token reset): the profile's pooled sessions lose their rights.
    let ctx = Pkcs11::new(MODULE).unwrap();
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(())
        | Err(cryptoki::error::Error::Pkcs11(
            cryptoki::error::RvError::CryptokiAlreadyInitialized,
            _,
        )) => {}
        Err(e) => panic!("{e}"),
    }
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == TOKEN_RECONNECT)
        .unwrap();
    let session = ctx.open_ro_session(slot).unwrap();
    session.logout().unwrap();
    drop(session);
    // The next signature reconnects, logs in again and succeeds.
    sign_and_check(&context, profile, Level::BB);
}

// --- 4. The CLI ----------------------------------------------------------------------------------

#[test]
#[ignore = "needs SoftHSM2 (apt softhsm2); run by the full suite"]
fn antin_sign_with_a_token_profile_from_a_config_file() {
    let Some(hsm) = hsm() else { return };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("antin.toml");
    std::fs::write(&config, signing_profiles()).unwrap();
    let out = dir.path().join("signed.pdf");
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_antin"))
            .args(args)
            .current_dir(manifest_dir())
            .env("SOFTHSM2_CONF", &hsm.conf)
            .env(PIN_ENV, PIN)
            .env(
                "ANTIN_DATABASE__URL",
                format!("sqlite://{}", dir.path().join("a.db").display()),
            )
            .env("ANTIN_TRUST__ANCHOR_DIR", dir.path().join("anchors"))
            .env("ANTIN_TRUST__INTERMEDIATE_DIR", dir.path().join("anchors"))
            .env(
                "ANTIN_AUDIT__SIGNING_KEY",
                dir.path().join("checkpoint.key"),
            )
            .env(
                "ANTIN_AUDIT__PSEUDONYM_KEY",
                dir.path().join("pseudonym.key"),
            )
            .env_remove("ANTIN_LANG")
            .env_remove("ANTIN_CONFIG")
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let unsigned = fixture("pdf/unsigned.pdf");
    let (code, stdout, stderr) = run(&[
        "sign",
        unsigned.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--profile",
        "hsm-pss",
        "--level",
        "B-LTA",
        "--lang",
        "en",
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("B-LTA"), "{stdout}");
    assert!(!stdout.contains(PIN) && !stderr.contains(PIN));
    let mut args = vec![
        "verify",
        out.to_str().unwrap(),
        "--offline",
        "--format",
        "json",
    ];
    let trust: Vec<String> = ["gov-root.pem", "root-ca.pem"]
        .iter()
        .map(|n| test_pki(n).display().to_string())
        .collect();
    let crls: Vec<String> = [
        "gov-ca.crl",
        "gov-root.crl",
        "licensed-ca.crl",
        "root-ca.crl",
    ]
    .iter()
    .map(|n| test_pki(n).display().to_string())
    .collect();
    for t in &trust {
        args.extend(["--trust", t]);
    }
    for c in &crls {
        args.extend(["--crl", c]);
    }
    let (code, stdout, stderr) = run(&args);
    let v: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}\n{stderr}"));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(v["verdict"], "TOTAL_PASSED", "{v:#}");
    let ours: Vec<&serde_json::Value> = v["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "signature")
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0]["level"], "B-LTA", "{v:#}");

    // A wrong PIN through the CLI: a configuration error (exit 78), the PIN nowhere.
    let bad = dir.path().join("bad.pdf");
    let o = Command::new(env!("CARGO_BIN_EXE_antin"))
        .args([
            "sign",
            unsigned.to_str().unwrap(),
            "-o",
            bad.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--profile",
            "hsm-pss",
            "--lang",
            "en",
        ])
        .current_dir(manifest_dir())
        .env("SOFTHSM2_CONF", &hsm.conf)
        .env(PIN_ENV, WRONG_PIN)
        .env(
            "ANTIN_DATABASE__URL",
            format!("sqlite://{}", dir.path().join("a.db").display()),
        )
        .env("ANTIN_TRUST__ANCHOR_DIR", dir.path().join("anchors"))
        .env("ANTIN_TRUST__INTERMEDIATE_DIR", dir.path().join("anchors"))
        .env(
            "ANTIN_AUDIT__SIGNING_KEY",
            dir.path().join("checkpoint.key"),
        )
        .env(
            "ANTIN_AUDIT__PSEUDONYM_KEY",
            dir.path().join("pseudonym.key"),
        )
        .env_remove("ANTIN_LANG")
        .env_remove("ANTIN_CONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.code().unwrap_or(0) >= 64, "{stderr}");
    assert!(stderr.contains("CKR_PIN_INCORRECT"), "{stderr}");
    assert!(!stderr.contains(WRONG_PIN), "{stderr}");
    assert!(!bad.exists());
    let _ = &hsm.dir;
}
