//! Signer identity from Vietnamese certificate subjects: repeated UIDs with prefixes, diacritics
//! in several string types, NFC, and the DN formatter.

use antin::pki::identity::{
    format_dn, format_dn_der, identity_from_name_der, identity_of, matches_expected_id, IdKind,
    Identifier,
};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::x509::{X509Name, X509};

fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(value);
    out
}

fn oid(dotted: &str) -> Vec<u8> {
    let o = der::asn1::ObjectIdentifier::new(dotted).unwrap();
    tlv(0x06, o.as_bytes())
}

/// One RDN with one or more (oid, string tag, value bytes).
fn rdn(attrs: &[(&str, u8, Vec<u8>)]) -> Vec<u8> {
    let mut set = Vec::new();
    for (o, tag, value) in attrs {
        let mut atv = oid(o);
        atv.extend(tlv(*tag, value));
        set.extend(tlv(0x30, &atv));
    }
    tlv(0x31, &set)
}

fn name(rdns: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &rdns.concat())
}

const UTF8: u8 = 0x0C;
const PRINTABLE: u8 = 0x13;
const T61: u8 = 0x14;
const IA5: u8 = 0x16;
const BMP: u8 = 0x1E;
const C: &str = "2.5.4.6";
const ST: &str = "2.5.4.8";
const L: &str = "2.5.4.7";
const O: &str = "2.5.4.10";
const OU: &str = "2.5.4.11";
const T: &str = "2.5.4.12";
const CN: &str = "2.5.4.3";
const UID: &str = "0.9.2342.19200300.100.1.1";
const SERIAL: &str = "2.5.4.5";
const EMAIL: &str = "1.2.840.113549.1.9.1";

fn bmp(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// A citizen subject as VNPT-CA / Viettel-CA issue them: two UIDs, diacritics. The CN is written
/// decomposed (NFD: "e" + combining marks) to check NFC normalisation.
fn citizen_subject() -> Vec<u8> {
    let cn_nfd = "Nguye\u{302}\u{303}n Va\u{306}n An";
    name(&[
        rdn(&[(C, PRINTABLE, b"VN".to_vec())]),
        rdn(&[(ST, UTF8, "Hà Nội".as_bytes().to_vec())]),
        rdn(&[(L, BMP, bmp("Cầu Giấy"))]),
        rdn(&[(
            O,
            UTF8,
            "Công ty TNHH Bình Minh, chi nhánh 1".as_bytes().to_vec(),
        )]),
        rdn(&[(OU, T61, vec![b'K', b'h', 0xF4, b'i'])]), // "Khôi" in Latin-1
        rdn(&[(T, UTF8, "Giám đốc".as_bytes().to_vec())]),
        rdn(&[(UID, UTF8, b"MST:0100686209-199".to_vec())]),
        rdn(&[(UID, UTF8, b" cccd : 001099012345 ".to_vec())]),
        rdn(&[(SERIAL, PRINTABLE, b"CMND:012345678".to_vec())]),
        rdn(&[(EMAIL, IA5, b"an@example.vn".to_vec())]),
        rdn(&[(CN, UTF8, cn_nfd.as_bytes().to_vec())]),
    ])
}

fn cert_with_subject(subject_der: &[u8]) -> X509 {
    let key = PKey::from_ec_key(
        EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap(),
    )
    .unwrap();
    let subject = X509Name::from_der(subject_der).unwrap();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(7).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&subject).unwrap();
    b.set_issuer_name(&subject).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(1_700_000_000).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(2_000_000_000).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    b.build()
}

#[test]
fn vietnamese_subject_with_two_uids_and_diacritics() {
    let cert = cert_with_subject(&citizen_subject());
    let id = identity_of(&cert);
    assert_eq!(id.common_name.as_deref(), Some("Nguyễn Văn An"));
    assert_eq!(
        id.common_name.as_deref().map(str::len),
        Some("Nguyễn Văn An".len())
    );
    assert_eq!(id.state.as_deref(), Some("Hà Nội"));
    assert_eq!(id.locality.as_deref(), Some("Cầu Giấy"));
    assert_eq!(
        id.organization.as_deref(),
        Some("Công ty TNHH Bình Minh, chi nhánh 1")
    );
    assert_eq!(id.organizational_unit.as_deref(), Some("Khôi"));
    assert_eq!(id.title.as_deref(), Some("Giám đốc"));
    assert_eq!(id.country.as_deref(), Some("VN"));
    assert_eq!(id.email.as_deref(), Some("an@example.vn"));
    assert_eq!(
        id.identifiers,
        vec![
            Identifier {
                kind: IdKind::Mst,
                value: "0100686209-199".into()
            },
            Identifier {
                kind: IdKind::Cccd,
                value: "001099012345".into()
            },
            Identifier {
                kind: IdKind::Cmnd,
                value: "012345678".into()
            },
        ]
    );
    assert_eq!(
        id.subject_dn,
        "C=VN, ST=Hà Nội, L=Cầu Giấy, O=Công ty TNHH Bình Minh\\, chi nhánh 1, OU=Khôi, \
         T=Giám đốc, UID=MST:0100686209-199, UID=\\ cccd : 001099012345\\ , \
         SERIALNUMBER=CMND:012345678, E=an@example.vn, CN=Nguyễn Văn An"
    );
    assert_eq!(format_dn(cert.subject_name()), id.subject_dn);
}

#[test]
fn expected_id_matching() {
    let id = identity_from_name_der(&citizen_subject());
    assert!(matches_expected_id(&id, "CCCD:001099012345"));
    assert!(matches_expected_id(&id, "cccd:001099012345"));
    assert!(matches_expected_id(&id, "001099012345"));
    assert!(matches_expected_id(&id, " MST:0100686209-199 "));
    assert!(matches_expected_id(&id, "CMND:012345678"));
    assert!(!matches_expected_id(&id, "CMND:001099012345"), "wrong kind");
    assert!(
        !matches_expected_id(&id, "00109901234"),
        "prefix of the value"
    );
    assert!(
        !matches_expected_id(&id, "0100686209"),
        "MST without branch"
    );
    assert!(!matches_expected_id(&id, ""));
}

#[test]
fn serial_number_without_known_prefix_is_not_an_identifier() {
    let der = name(&[
        rdn(&[(SERIAL, PRINTABLE, b"0123456789".to_vec())]),
        rdn(&[
            (UID, UTF8, b"PPID:ABC".to_vec()),
            (CN, UTF8, "Lê Thị B".as_bytes().to_vec()),
        ]),
    ]);
    let id = identity_from_name_der(&der);
    assert_eq!(
        id.identifiers,
        vec![Identifier {
            kind: IdKind::Ppid,
            value: "ABC".into()
        }]
    );
    // Multi-valued RDN joined with '+'.
    assert_eq!(
        format_dn_der(&der).unwrap(),
        "SERIALNUMBER=0123456789, UID=PPID:ABC+CN=Lê Thị B"
    );
}

#[test]
fn rfc4514_escaping_and_unknown_attributes() {
    let der = name(&[
        rdn(&[("2.5.4.97", UTF8, b"VATVN-0100686209".to_vec())]),
        rdn(&[(CN, UTF8, b"#a+b;c<d>\"e\\".to_vec())]),
    ]);
    assert_eq!(
        format_dn_der(&der).unwrap(),
        "2.5.4.97=VATVN-0100686209, CN=\\#a\\+b\\;c\\<d\\>\\\"e\\\\"
    );
}

#[test]
fn malformed_name_is_an_error_not_a_panic() {
    let good = citizen_subject();
    for cut in 0..good.len() {
        assert!(format_dn_der(&good[..cut]).is_err(), "cut at {cut}");
    }
    let id = identity_from_name_der(b"\x30\x03\x31\x01\x00");
    assert!(id.identifiers.is_empty());
    assert!(id.subject_dn.starts_with('#'));
}
