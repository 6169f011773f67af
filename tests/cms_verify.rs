//! CMS SignedData and RFC 3161 token verification against signatures made by the OpenSSL CLI
//! with a throw-away PKI generated in a temp dir (root -> signer certificates, a TSA).

use std::path::{Path, PathBuf};
use std::process::Command;

use antin::pki::algorithms::{AlgorithmPolicy, DigestAlgorithm, KeyKind, SignatureAlgorithm};
use antin::pki::cms::{
    parse_signed_data, verify_signer, verify_signer_with, ContentTypeCheck, DigestCheck, EssCheck,
    SignatureCheck, SignedContent, SubIndicationHint,
};
use antin::pki::tsp::{tsa_eku, verify_timestamp_token, TsaEkuCheck};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509Name, X509};

const DATA: &[u8] = b"%PDF-1.7 test document \xc4\x91\xc6\xb0\xe1\xbb\xa3c k\xc3\xbd\n";

struct Pki {
    dir: tempfile::TempDir,
    root: X509,
    root_key: PKey<Private>,
}

fn rsa(bits: u32) -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(bits).unwrap()).unwrap()
}

fn ec(nid: Nid) -> PKey<Private> {
    PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(nid).unwrap()).unwrap()).unwrap()
}

fn name(cn: &str) -> X509Name {
    let mut b = X509Name::builder().unwrap();
    b.append_entry_by_text("C", "VN").unwrap();
    b.append_entry_by_text("CN", cn).unwrap();
    b.build()
}

fn build_cert(
    cn: &str,
    key: &PKey<Private>,
    serial: u32,
    issuer: Option<(&X509, &PKey<Private>)>,
    tsa: Option<bool>,
) -> X509 {
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(serial).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name(cn)).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(1_700_000_000).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(2_000_000_000).unwrap())
        .unwrap();
    let (issuer_cert, issuer_key) = match issuer {
        Some((c, k)) => (Some(c), k),
        None => (None, key),
    };
    match issuer_cert {
        Some(c) => b.set_issuer_name(c.subject_name()).unwrap(),
        None => b.set_issuer_name(&name(cn)).unwrap(),
    }
    if issuer.is_none() {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
    } else {
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .non_repudiation()
                .build()
                .unwrap(),
        )
        .unwrap();
    }
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(issuer_cert.map(|c| &**c), None))
        .unwrap();
    b.append_extension(ski).unwrap();
    if let Some(critical) = tsa {
        let mut eku = ExtendedKeyUsage::new();
        if critical {
            eku.critical();
        }
        b.append_extension(eku.time_stamping().build().unwrap())
            .unwrap();
    }
    b.sign(issuer_key, MessageDigest::sha256()).unwrap();
    b.build()
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root_key = rsa(2048);
        let root = build_cert("Test Root CA", &root_key, 1, None, None);
        std::fs::write(dir.path().join("root.pem"), root.to_pem().unwrap()).unwrap();
        std::fs::write(dir.path().join("data.bin"), DATA).unwrap();
        Pki {
            dir,
            root,
            root_key,
        }
    }

    fn path(&self, f: &str) -> PathBuf {
        self.dir.path().join(f)
    }

    /// A signer certificate and key written as `<label>.pem` / `<label>.key`.
    fn signer(&self, label: &str, key: PKey<Private>, serial: u32) -> (X509, PKey<Private>) {
        let cert = build_cert(
            label,
            &key,
            serial,
            Some((&self.root, &self.root_key)),
            None,
        );
        std::fs::write(self.path(&format!("{label}.pem")), cert.to_pem().unwrap()).unwrap();
        std::fs::write(
            self.path(&format!("{label}.key")),
            key.private_key_to_pem_pkcs8().unwrap(),
        )
        .unwrap();
        (cert, key)
    }

    /// `openssl cms -sign` over data.bin with extra arguments; returns the DER.
    fn cms_sign(&self, label: &str, extra: &[&str]) -> Vec<u8> {
        let out = self.path(&format!(
            "{label}-{}.p7s",
            extra.join("_").replace([':', '/'], "")
        ));
        let mut cmd = Command::new("openssl");
        cmd.args(["cms", "-sign", "-binary", "-outform", "DER"])
            .arg("-in")
            .arg(self.path("data.bin"))
            .arg("-signer")
            .arg(self.path(&format!("{label}.pem")))
            .arg("-inkey")
            .arg(self.path(&format!("{label}.key")))
            .arg("-out")
            .arg(&out)
            .args(extra);
        run(&mut cmd);
        std::fs::read(out).unwrap()
    }
}

fn run(cmd: &mut Command) {
    let output = cmd.output().expect("openssl CLI");
    assert!(
        output.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn pieces() -> [&'static [u8]; 2] {
    DATA.split_at(10).into()
}

#[test]
fn rsa_pkcs1_cades_detached_verifies() {
    let pki = Pki::new();
    let (cert, _) = pki.signer("rsa", rsa(2048), 10);
    let der = pki.cms_sign("rsa", &["-cades", "-md", "sha256"]);
    let cms = parse_signed_data(&der).unwrap();
    assert_eq!(cms.signer_infos.len(), 1);
    let v = verify_signer(
        &cms,
        SignedContent::Pieces(&pieces()),
        &AlgorithmPolicy::default(),
    );
    assert!(v.is_valid(), "{v:?}");
    assert_eq!(v.sub_indication_hint(), None);
    assert_eq!(v.message_digest, DigestCheck::Ok);
    assert_eq!(v.signature_value, SignatureCheck::Ok);
    assert_eq!(v.content_type, ContentTypeCheck::Ok);
    assert_eq!(v.ess, EssCheck::V2Match);
    assert_eq!(v.digest_algorithm, Some(DigestAlgorithm::Sha256));
    assert_eq!(
        v.signature_algorithm,
        Some(SignatureAlgorithm::RsaPkcs1v15 {
            digest: DigestAlgorithm::Sha256
        })
    );
    let key = v.key_info.clone().unwrap();
    assert_eq!((key.kind, key.bits), (KeyKind::Rsa, 2048));
    assert!(v.signing_time_attr.is_some(), "openssl adds signingTime");
    assert_eq!(v.signature_value_bytes.len(), 256);
    assert_eq!(
        v.signer_cert.as_ref().unwrap().to_der().unwrap(),
        cert.to_der().unwrap()
    );
    assert!(v.signer_id.contains("CN=Test Root CA"), "{}", v.signer_id);

    // The same digest, precomputed by the caller.
    let digest = antin::pki::cms::digest_content(DigestAlgorithm::Sha256, &[DATA]).unwrap();
    let v2 = verify_signer(
        &cms,
        SignedContent::Digest(&digest),
        &AlgorithmPolicy::default(),
    );
    assert!(v2.is_valid(), "{v2:?}");
}

#[test]
fn rsa_pss_verifies() {
    let pki = Pki::new();
    pki.signer("pss", rsa(2048), 11);
    let der = pki.cms_sign(
        "pss",
        &[
            "-cades",
            "-md",
            "sha256",
            "-keyopt",
            "rsa_padding_mode:pss",
            "-keyopt",
            "rsa_pss_saltlen:32",
        ],
    );
    let cms = parse_signed_data(&der).unwrap();
    let v = verify_signer(
        &cms,
        SignedContent::Pieces(&[DATA]),
        &AlgorithmPolicy::default(),
    );
    assert!(v.is_valid(), "{v:?}");
    assert_eq!(
        v.signature_algorithm,
        Some(SignatureAlgorithm::RsaPss {
            digest: DigestAlgorithm::Sha256,
            mgf1: DigestAlgorithm::Sha256,
            salt_len: 32
        })
    );
}

#[test]
fn ecdsa_p256_and_p384_verify() {
    let pki = Pki::new();
    for (label, nid, md, bits) in [
        ("p256", Nid::X9_62_PRIME256V1, "sha256", 256),
        ("p384", Nid::SECP384R1, "sha384", 384),
    ] {
        pki.signer(label, ec(nid), 12);
        let der = pki.cms_sign(label, &["-cades", "-md", md]);
        let cms = parse_signed_data(&der).unwrap();
        let v = verify_signer(
            &cms,
            SignedContent::Pieces(&pieces()),
            &AlgorithmPolicy::default(),
        );
        assert!(v.is_valid(), "{label}: {v:?}");
        assert!(matches!(
            v.signature_algorithm,
            Some(SignatureAlgorithm::Ecdsa { .. })
        ));
        assert_eq!(v.key_info.unwrap().bits, bits);
    }
}

#[test]
fn tampered_content_is_hash_failure() {
    let pki = Pki::new();
    pki.signer("rsa", rsa(2048), 10);
    let der = pki.cms_sign("rsa", &["-cades", "-md", "sha256"]);
    let cms = parse_signed_data(&der).unwrap();
    let mut tampered = DATA.to_vec();
    tampered[3] ^= 1;
    let v = verify_signer(
        &cms,
        SignedContent::Pieces(&[&tampered]),
        &AlgorithmPolicy::default(),
    );
    assert_eq!(v.message_digest, DigestCheck::Mismatch);
    assert_eq!(v.signature_value, SignatureCheck::Ok);
    assert_eq!(
        v.sub_indication_hint(),
        Some(SubIndicationHint::HashFailure)
    );
}

/// Finds the signedAttrs (tag 0xA0) of the only SignerInfo in `der`: (offset, length).
fn signed_attrs_span(der: &[u8]) -> (usize, usize) {
    let cms = parse_signed_data(der).unwrap();
    let set = cms.signer_infos[0].signed_attrs_der.clone().unwrap();
    let pos = der
        .windows(set.len() - 1)
        .position(|w| w == &set[1..])
        .unwrap()
        - 1;
    assert_eq!(der[pos], 0xA0);
    (pos, set.len())
}

#[test]
fn tampered_signed_attributes_is_sig_crypto_failure() {
    let pki = Pki::new();
    pki.signer("rsa", rsa(2048), 10);
    let mut der = pki.cms_sign("rsa", &["-cades", "-md", "sha256"]);
    // Change one digit of the signingTime attribute value.
    let signing_time_oid = [
        0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x05,
    ];
    let at = der
        .windows(signing_time_oid.len())
        .position(|w| w == signing_time_oid)
        .unwrap();
    let digit = at + signing_time_oid.len() + 4 + 11; // SET, UTCTime headers, then the seconds
    der[digit] = if der[digit] == b'0' { b'1' } else { b'0' };
    let cms = parse_signed_data(&der).unwrap();
    let v = verify_signer(
        &cms,
        SignedContent::Pieces(&[DATA]),
        &AlgorithmPolicy::default(),
    );
    assert_eq!(v.message_digest, DigestCheck::Ok);
    assert_eq!(v.signature_value, SignatureCheck::Invalid);
    assert_eq!(
        v.sub_indication_hint(),
        Some(SubIndicationHint::SigCryptoFailure)
    );
}

/// Applies `edit` to the signedAttrs of `der` and re-signs them with `key` (RSA, SHA-256), so the
/// signature stays valid and only the edited attribute is wrong.
fn edit_and_resign(der: &mut [u8], key: &PKey<Private>, edit: impl Fn(&mut [u8])) {
    let (start, len) = signed_attrs_span(der);
    edit(&mut der[start..start + len]);
    let mut attrs = der[start..start + len].to_vec();
    attrs[0] = 0x31;
    let mut signer = Signer::new(MessageDigest::sha256(), key).unwrap();
    signer.update(&attrs).unwrap();
    let sig = signer.sign_to_vec().unwrap();
    let old_sig = parse_signed_data(der).unwrap().signer_infos[0]
        .signature
        .clone();
    assert_eq!(old_sig.len(), sig.len());
    let sig_at = der
        .windows(old_sig.len())
        .position(|w| w == old_sig)
        .unwrap();
    der[sig_at..sig_at + sig.len()].copy_from_slice(&sig);
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap()
}

#[test]
fn wrong_ess_hash_is_no_signing_certificate_found() {
    let pki = Pki::new();
    let (_, key) = pki.signer("rsa", rsa(2048), 10);
    let mut der = pki.cms_sign("rsa", &["-cades", "-md", "sha256"]);
    edit_and_resign(&mut der, &key, |attrs| {
        // signing-certificate-v2 OID, then the first ESSCertIDv2's 32-byte certHash.
        let ess_oid = [
            0x06, 0x0B, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x02, 0x2F,
        ];
        let at = find(attrs, &ess_oid);
        let hash = at + find(&attrs[at..], &[0x04, 0x20]) + 2;
        attrs[hash] ^= 0xFF;
    });
    let cms = parse_signed_data(&der).unwrap();
    let v = verify_signer(
        &cms,
        SignedContent::Pieces(&[DATA]),
        &AlgorithmPolicy::default(),
    );
    assert_eq!(v.signature_value, SignatureCheck::Ok, "{v:?}");
    assert_eq!(v.message_digest, DigestCheck::Ok);
    assert_eq!(v.ess, EssCheck::Mismatch);
    assert_eq!(
        v.sub_indication_hint(),
        Some(SubIndicationHint::NoSigningCertificateFound)
    );
}

#[test]
fn content_type_attribute_mismatch_is_format_failure() {
    let pki = Pki::new();
    let (_, key) = pki.signer("rsa", rsa(2048), 10);
    let mut der = pki.cms_sign("rsa", &["-cades", "-md", "sha256"]);
    edit_and_resign(&mut der, &key, |attrs| {
        // contentType attribute value id-data (…07 01) becomes id-signedData (…07 02).
        let value = [
            0x31, 0x0B, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01,
        ];
        let at = find(attrs, &value);
        attrs[at + value.len() - 1] = 0x02;
    });
    let cms = parse_signed_data(&der).unwrap();
    let v = verify_signer(
        &cms,
        SignedContent::Pieces(&[DATA]),
        &AlgorithmPolicy::default(),
    );
    assert_eq!(v.signature_value, SignatureCheck::Ok, "{v:?}");
    assert_eq!(v.content_type, ContentTypeCheck::Mismatch);
    assert_eq!(
        v.sub_indication_hint(),
        Some(SubIndicationHint::FormatFailure)
    );
}

#[test]
fn sha1_rejected_by_default_accepted_by_dangerous_policy() {
    let pki = Pki::new();
    pki.signer("rsa", rsa(2048), 10);
    let der = pki.cms_sign("rsa", &["-md", "sha1"]);
    let cms = parse_signed_data(&der).unwrap();
    let v = verify_signer(
        &cms,
        SignedContent::Pieces(&[DATA]),
        &AlgorithmPolicy::default(),
    );
    assert_eq!(v.signature_value, SignatureCheck::Ok);
    let rejected = v.policy.clone().unwrap_err();
    assert!(rejected.to_string().contains("SHA-1"), "{rejected}");
    assert_eq!(
        v.sub_indication_hint(),
        Some(SubIndicationHint::CryptoConstraintsFailure)
    );
    let legacy = AlgorithmPolicy::dangerous_accept_legacy();
    let v = verify_signer(&cms, SignedContent::Pieces(&[DATA]), &legacy);
    assert!(v.is_valid(), "{v:?}");
}

#[test]
fn rsa_1024_rejected() {
    let pki = Pki::new();
    pki.signer("small", rsa(1024), 13);
    let der = pki.cms_sign("small", &["-cades", "-md", "sha256"]);
    let cms = parse_signed_data(&der).unwrap();
    let v = verify_signer(
        &cms,
        SignedContent::Pieces(&[DATA]),
        &AlgorithmPolicy::default(),
    );
    assert_eq!(v.signature_value, SignatureCheck::Ok);
    assert!(v.policy.unwrap_err().to_string().contains("RSA-1024"));
}

#[test]
fn missing_signer_certificate_then_found_in_extra_certs() {
    let pki = Pki::new();
    let (cert, _) = pki.signer("rsa", rsa(2048), 10);
    let der = pki.cms_sign("rsa", &["-cades", "-md", "sha256", "-nocerts"]);
    let cms = parse_signed_data(&der).unwrap();
    assert!(cms.certificates.is_empty());
    let policy = AlgorithmPolicy::default();
    let v = verify_signer(&cms, SignedContent::Pieces(&[DATA]), &policy);
    assert!(v.signer_cert.is_none());
    assert_eq!(v.signature_value, SignatureCheck::NotChecked);
    assert_eq!(
        v.sub_indication_hint(),
        Some(SubIndicationHint::NoSigningCertificateFound)
    );
    let v = verify_signer_with(
        &cms,
        0,
        SignedContent::Pieces(&[DATA]),
        &policy,
        &[pki.root.clone(), cert],
    );
    assert!(v.is_valid(), "{v:?}");
}

#[test]
fn subject_key_identifier_signer_id() {
    let pki = Pki::new();
    pki.signer("rsa", rsa(2048), 10);
    let der = pki.cms_sign("rsa", &["-cades", "-md", "sha256", "-keyid"]);
    let cms = parse_signed_data(&der).unwrap();
    let v = verify_signer(
        &cms,
        SignedContent::Pieces(&[DATA]),
        &AlgorithmPolicy::default(),
    );
    assert!(v.is_valid(), "{v:?}");
    assert!(
        v.signer_id.starts_with("subject key identifier"),
        "{}",
        v.signer_id
    );
}

#[test]
fn no_signed_attributes_legacy() {
    let pki = Pki::new();
    pki.signer("rsa", rsa(2048), 10);
    let der = pki.cms_sign("rsa", &["-md", "sha256", "-noattr"]);
    let cms = parse_signed_data(&der).unwrap();
    assert!(cms.signer_infos[0].signed_attrs_der.is_none());
    let policy = AlgorithmPolicy::default();
    let v = verify_signer(&cms, SignedContent::Pieces(&pieces()), &policy);
    assert!(v.is_valid(), "{v:?}");
    assert_eq!(v.message_digest, DigestCheck::NotApplicable);
    assert_eq!(v.ess, EssCheck::Absent);
    let v = verify_signer(&cms, SignedContent::Pieces(&[b"other"]), &policy);
    assert_eq!(v.signature_value, SignatureCheck::Invalid);
    assert_eq!(
        v.sub_indication_hint(),
        Some(SubIndicationHint::SigCryptoFailure)
    );
}

#[test]
fn adbe_pkcs7_sha1_embedded_digest() {
    let pki = Pki::new();
    pki.signer("rsa", rsa(2048), 10);
    let sha1 = openssl::hash::hash(MessageDigest::sha1(), DATA).unwrap();
    std::fs::write(pki.path("data.bin"), &*sha1).unwrap();
    let der = pki.cms_sign("rsa", &["-md", "sha1", "-nodetach"]);
    let cms = parse_signed_data(&der).unwrap();
    assert_eq!(cms.econtent.as_deref(), Some(&*sha1));
    let legacy = AlgorithmPolicy::dangerous_accept_legacy();
    let v = verify_signer(&cms, SignedContent::Pieces(&pieces()), &legacy);
    assert!(v.is_valid(), "{v:?}");
    assert_eq!(v.embedded_sha1, Some(DigestCheck::Ok));
    let v = verify_signer(&cms, SignedContent::Pieces(&[b"changed"]), &legacy);
    assert_eq!(v.embedded_sha1, Some(DigestCheck::Mismatch));
    assert_eq!(
        v.sub_indication_hint(),
        Some(SubIndicationHint::HashFailure)
    );
    let v = verify_signer(
        &cms,
        SignedContent::Pieces(&pieces()),
        &AlgorithmPolicy::default(),
    );
    assert!(v.policy.is_err());
}

#[test]
fn garbage_truncated_and_padded_der() {
    let pki = Pki::new();
    pki.signer("rsa", rsa(2048), 10);
    let der = pki.cms_sign("rsa", &["-cades", "-md", "sha256"]);
    for cut in [1, 10, der.len() / 2, der.len() - 1] {
        assert!(parse_signed_data(&der[..cut]).is_err(), "cut at {cut}");
    }
    assert!(parse_signed_data(b"\x00\x00\x00\x00").is_err());
    let mut trailing = der.clone();
    trailing.push(1);
    assert!(parse_signed_data(&trailing).is_err());
    let mut padded = der.clone();
    padded.resize(der.len() + 8192, 0);
    let cms = parse_signed_data(&padded).unwrap();
    assert_eq!(cms.trailing_zeros, 8192);
    let v = verify_signer(
        &cms,
        SignedContent::Pieces(&[DATA]),
        &AlgorithmPolicy::default(),
    );
    assert!(v.is_valid(), "{v:?}");
    // Every single-byte flip either fails to parse or fails verification: never panics,
    // never passes.
    for i in (0..der.len()).step_by(7) {
        let mut flipped = der.clone();
        flipped[i] ^= 0x5A;
        if let Ok(cms) = parse_signed_data(&flipped) {
            let v = verify_signer(
                &cms,
                SignedContent::Pieces(&[DATA]),
                &AlgorithmPolicy::default(),
            );
            // Flips inside unsigned parts (e.g. the certificate bag's signature) may still verify.
            let _ = v.is_valid();
        }
    }
}

fn write_tsa_config(pki: &Pki) -> PathBuf {
    let cfg = format!(
        "[tsa]\ndefault_tsa = tsa1\n[tsa1]\ndir = {dir}\nserial = {dir}/tsaserial\n\
         crypto_device = builtin\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\n\
         digests = sha256, sha384, sha512\naccuracy = secs:1, millisecs:500\n\
         clock_precision_digits = 3\nordering = no\ntsa_name = yes\n\
         ess_cert_id_chain = no\ness_cert_id_alg = sha256\n",
        dir = pki.dir.path().display()
    );
    std::fs::write(pki.path("tsaserial"), "01\n").unwrap();
    let p = pki.path("tsa.cnf");
    std::fs::write(&p, cfg).unwrap();
    p
}

fn timestamp(pki: &Pki, data: &Path, tsa_label: &str) -> Vec<u8> {
    let cfg = write_tsa_config(pki);
    run(Command::new("openssl")
        .args(["ts", "-query", "-sha256", "-cert", "-no_nonce", "-data"])
        .arg(data)
        .arg("-out")
        .arg(pki.path("req.tsq")));
    run(Command::new("openssl")
        .args(["ts", "-reply", "-token_out", "-config"])
        .arg(&cfg)
        .arg("-queryfile")
        .arg(pki.path("req.tsq"))
        .arg("-signer")
        .arg(pki.path(&format!("{tsa_label}.pem")))
        .arg("-inkey")
        .arg(pki.path(&format!("{tsa_label}.key")))
        .arg("-out")
        .arg(pki.path("token.der")));
    std::fs::read(pki.path("token.der")).unwrap()
}

fn tsa(pki: &Pki, critical: bool) -> X509 {
    let key = rsa(2048);
    let cert = build_cert(
        "Test TSA",
        &key,
        20,
        Some((&pki.root, &pki.root_key)),
        Some(critical),
    );
    std::fs::write(pki.path("tsa.pem"), cert.to_pem().unwrap()).unwrap();
    std::fs::write(pki.path("tsa.key"), key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    cert
}

#[test]
fn signature_timestamp_token_verifies_and_imprint_mismatch_fails() {
    let pki = Pki::new();
    tsa(&pki, true);
    pki.signer("rsa", rsa(2048), 10);
    let der = pki.cms_sign("rsa", &["-cades", "-md", "sha256"]);
    let cms = parse_signed_data(&der).unwrap();
    let v = verify_signer(
        &cms,
        SignedContent::Pieces(&[DATA]),
        &AlgorithmPolicy::default(),
    );
    std::fs::write(pki.path("sigvalue.bin"), &v.signature_value_bytes).unwrap();
    let token = timestamp(&pki, &pki.path("sigvalue.bin"), "tsa");

    let policy = AlgorithmPolicy::default();
    let ts = verify_timestamp_token(&token, &[&v.signature_value_bytes], &policy).unwrap();
    assert!(ts.is_valid(), "{ts:?}");
    assert!(ts.imprint_ok);
    assert_eq!(ts.tsa_eku, TsaEkuCheck::Ok);
    assert_eq!(ts.policy_oid.to_string(), "1.2.3.4.1");
    assert_eq!(ts.serial, vec![2], "openssl ts increments the serial file");
    assert_eq!(ts.imprint_algorithm, DigestAlgorithm::Sha256);
    assert_eq!(ts.accuracy_micros, Some(1_500_000));
    assert_eq!(ts.tsa_name.as_deref(), Some("C=VN, CN=Test TSA"));
    assert!(ts.cms.ess != EssCheck::Absent, "{:?}", ts.cms.ess);
    let now = time::OffsetDateTime::now_utc();
    assert!(
        (now - ts.gen_time).whole_minutes().abs() < 10,
        "{}",
        ts.gen_time
    );
    assert!(ts.tsa_cert.is_some());

    // The same token over other bytes: imprint mismatch.
    let bad = verify_timestamp_token(&token, &[b"something else"], &policy).unwrap();
    assert!(!bad.imprint_ok);
    assert!(!bad.is_valid());
    assert_eq!(
        bad.sub_indication_hint(),
        Some(SubIndicationHint::HashFailure)
    );

    // A signature CMS is not a timestamp token.
    assert!(verify_timestamp_token(&der, &[DATA], &policy).is_err());
    assert!(verify_timestamp_token(&token[..token.len() - 3], &[DATA], &policy).is_err());
}

/// DER header of the TLV at `at`: (header length, value length).
fn header(der: &[u8], at: usize) -> (usize, usize) {
    let first = der[at + 1];
    if first < 0x80 {
        return (2, first as usize);
    }
    let n = (first & 0x7F) as usize;
    let len = der[at + 2..at + 2 + n]
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | *b as usize);
    (2 + n, len)
}

fn encode_tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else if len < 0x10000 {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    } else {
        out.extend([0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(value);
    out
}

/// Adds `unsigned_attrs` (the DER of `[1] IMPLICIT SET OF Attribute`) to the only SignerInfo.
/// ContentInfo > [0] > SignedData > signerInfos > SignerInfo are each the last element of their
/// parent, so the new bytes go at the very end and the five headers are re-encoded.
fn add_unsigned_attrs(der: &[u8], unsigned_attrs: &[u8]) -> Vec<u8> {
    // (tag, start of value, start of the last child) from ContentInfo down to SignerInfo.
    let mut levels = Vec::new();
    let mut at = 0;
    for _ in 0..5 {
        let (h, l) = header(der, at);
        let value_start = at + h;
        let (mut child, mut last) = (value_start, value_start);
        while child < value_start + l {
            last = child;
            let (ch, cl) = header(der, child);
            child += ch + cl;
        }
        levels.push((der[at], value_start, last));
        at = last;
    }
    let (tag, start, _) = levels[4];
    let mut rebuilt = encode_tlv(tag, &[&der[start..], unsigned_attrs].concat());
    for &(tag, start, last) in levels[..4].iter().rev() {
        rebuilt = encode_tlv(tag, &[&der[start..last], &rebuilt].concat());
    }
    rebuilt
}

#[test]
fn signature_timestamp_in_unsigned_attributes() {
    let pki = Pki::new();
    tsa(&pki, true);
    pki.signer("rsa", rsa(2048), 10);
    let der = pki.cms_sign("rsa", &["-cades", "-md", "sha256"]);
    let sig_value = parse_signed_data(&der).unwrap().signer_infos[0]
        .signature
        .clone();
    std::fs::write(pki.path("sigvalue.bin"), &sig_value).unwrap();
    let token = timestamp(&pki, &pki.path("sigvalue.bin"), "tsa");
    // Attribute { id-aa-signatureTimeStampToken, SET { token } } inside [1].
    let oid = [
        0x06, 0x0B, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x02, 0x0E,
    ];
    let attr = encode_tlv(0x30, &[&oid[..], &encode_tlv(0x31, &token)].concat());
    let with_ts = add_unsigned_attrs(&der, &encode_tlv(0xA1, &attr));

    let cms = parse_signed_data(&with_ts).unwrap();
    let policy = AlgorithmPolicy::default();
    let v = verify_signer(&cms, SignedContent::Pieces(&[DATA]), &policy);
    assert!(v.is_valid(), "{v:?}");
    assert_eq!(v.signature_timestamps, vec![token.clone()]);
    let ts = verify_timestamp_token(
        &v.signature_timestamps[0],
        &[&v.signature_value_bytes],
        &policy,
    )
    .unwrap();
    assert!(ts.is_valid(), "{ts:?}");
}

#[test]
fn tsa_eku_criticality() {
    let pki = Pki::new();
    assert_eq!(tsa_eku(&tsa(&pki, true)), TsaEkuCheck::Ok);
    assert_eq!(tsa_eku(&tsa(&pki, false)), TsaEkuCheck::NotCritical);
    assert_eq!(tsa_eku(&pki.root), TsaEkuCheck::Missing);
}

/// Cost of parse + verify of a PAdES-like detached RSA-2048 signature over 100 KB in two pieces.
/// Run with `--ignored --nocapture` and an optimised antin
/// (`--config 'profile.dev.package.antin.opt-level=3'`).
#[test]
#[ignore]
fn perf_parse_and_verify_100k_rsa2048() {
    let pki = Pki::new();
    pki.signer("rsa", rsa(2048), 10);
    let big: Vec<u8> = (0..100 * 1024).map(|i| (i % 251) as u8).collect();
    std::fs::write(pki.path("data.bin"), &big).unwrap();
    let der = pki.cms_sign("rsa", &["-cades", "-md", "sha256"]);
    let mut padded = der.clone();
    padded.resize(der.len() + 16 * 1024, 0);
    let (a, b) = big.split_at(40 * 1024);
    let pieces = [a, b];
    let policy = AlgorithmPolicy::default();
    let n = 2000;
    let cache = antin::pki::cms::CertCache::new(64);
    let start = std::time::Instant::now();
    for _ in 0..n {
        let cms = antin::pki::cms::parse_signed_data_with_cache(&padded, &cache).unwrap();
        let v = verify_signer(&cms, SignedContent::Pieces(&pieces), &policy);
        assert!(v.is_valid());
    }
    let per = start.elapsed() / n;
    let hash_start = std::time::Instant::now();
    for _ in 0..n {
        antin::pki::cms::digest_content(DigestAlgorithm::Sha256, &pieces).unwrap();
    }
    let hash = hash_start.elapsed() / n;
    let cms = parse_signed_data(&padded).unwrap();
    let t = std::time::Instant::now();
    for _ in 0..n {
        verify_signer(&cms, SignedContent::Pieces(&pieces), &policy);
    }
    let verify_only = t.elapsed() / n;
    let t = std::time::Instant::now();
    for _ in 0..n {
        parse_signed_data(&padded).unwrap();
    }
    let parse_only = t.elapsed() / n;
    let cert_der = cms.certificates[0].to_der().unwrap();
    let t = std::time::Instant::now();
    for _ in 0..n {
        X509::from_der(&cert_der).unwrap();
    }
    let x509 = t.elapsed() / n;
    println!(
        "parse+verify: {per:?} per signature (parse {parse_only:?}, of which X509::from_der \
         {x509:?}; verify {verify_only:?}); SHA-256 of 100 KB alone: {hash:?}"
    );
    assert_eq!(cache.len(), 1);
    assert!(per < std::time::Duration::from_millis(1), "{per:?}");
}
