//! A small test PKI built in memory: root -> CA -> leaf with chosen extensions, CRLs and OCSP
//! responses with chosen times (OCSP responses are assembled with x509-ocsp's types and signed with
//! OpenSSL, so thisUpdate/producedAt can be set freely).
#![allow(dead_code, clippy::too_many_arguments)]

use der::asn1::{BitString, GeneralizedTime, Null, OctetString};
use der::{DateTime, Decode, Encode};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{
    X509Builder, X509Crl, X509CrlBuilder, X509Extension, X509Name, X509RevokedBuilder, X509,
};
use spki::AlgorithmIdentifierOwned;
use time::OffsetDateTime;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, ResponderId, ResponseData,
    RevokedInfo, SingleResponse,
};

pub fn t(y: i32) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(0)
        .unwrap()
        .replace_year(y)
        .unwrap()
}

pub fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

pub struct Spec {
    pub cn: String,
    pub ca: bool,
    pub pathlen: Option<u32>,
    /// None: no keyUsage extension.
    pub ku: Option<&'static [&'static str]>,
    pub eku: Option<&'static [&'static str]>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub serial: u32,
    pub ocsp_nocheck: bool,
    pub ocsp_url: Option<String>,
    pub crl_url: Option<String>,
}

impl Spec {
    pub fn ca(cn: &str) -> Spec {
        Spec {
            ca: true,
            ku: Some(&["keyCertSign", "cRLSign"]),
            ..Spec::leaf(cn)
        }
    }
    pub fn leaf(cn: &str) -> Spec {
        Spec {
            cn: cn.to_owned(),
            ca: false,
            pathlen: None,
            ku: Some(&["digitalSignature", "nonRepudiation"]),
            eku: None,
            not_before: t(2020),
            not_after: t(2030),
            serial: 1000,
            ocsp_nocheck: false,
            ocsp_url: None,
            crl_url: None,
        }
    }
}

pub struct Issued {
    pub cert: X509,
    pub key: PKey<Private>,
}

fn name(cn: &str) -> X509Name {
    let mut b = X509Name::builder().unwrap();
    b.append_entry_by_text("C", "VN").unwrap();
    b.append_entry_by_text("O", "antin test PKI").unwrap();
    b.append_entry_by_text("CN", cn).unwrap();
    b.build()
}

fn asn1(t: OffsetDateTime) -> Asn1Time {
    Asn1Time::from_unix(t.unix_timestamp()).unwrap()
}

/// Issues a certificate for `spec`; `issuer` None means self-signed.
#[allow(deprecated)]
pub fn issue(spec: &Spec, issuer: Option<&Issued>) -> Issued {
    issue_with_key(spec, issuer, key())
}

/// Like `issue`, certifying a given key (for cross-certificates and re-issued CAs).
#[allow(deprecated)]
pub fn issue_with_key(spec: &Spec, issuer: Option<&Issued>, key: PKey<Private>) -> Issued {
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = Asn1Integer::from_bn(&BigNum::from_u32(spec.serial).unwrap()).unwrap();
    b.set_serial_number(&serial).unwrap();
    let subject = name(&spec.cn);
    b.set_subject_name(&subject).unwrap();
    match issuer {
        Some(i) => b.set_issuer_name(i.cert.subject_name()).unwrap(),
        None => b.set_issuer_name(&subject).unwrap(),
    }
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&asn1(spec.not_before)).unwrap();
    b.set_not_after(&asn1(spec.not_after)).unwrap();
    let mut exts = Vec::new();
    if spec.ca {
        let mut bc = BasicConstraints::new();
        bc.critical().ca();
        if let Some(p) = spec.pathlen {
            bc.pathlen(p);
        }
        exts.push(bc.build().unwrap());
    }
    if let Some(ku) = spec.ku {
        let mut k = KeyUsage::new();
        k.critical();
        for u in ku {
            match *u {
                "digitalSignature" => k.digital_signature(),
                "nonRepudiation" => k.non_repudiation(),
                "keyEncipherment" => k.key_encipherment(),
                "keyCertSign" => k.key_cert_sign(),
                "cRLSign" => k.crl_sign(),
                other => panic!("ku {other}"),
            };
        }
        exts.push(k.build().unwrap());
    }
    if let Some(eku) = spec.eku {
        let mut e = ExtendedKeyUsage::new();
        for u in eku {
            match *u {
                "timeStamping" => e.time_stamping(),
                "OCSPSigning" => e.other("OCSPSigning"),
                "emailProtection" => e.email_protection(),
                other => panic!("eku {other}"),
            };
        }
        exts.push(e.build().unwrap());
    }
    for e in exts {
        b.append_extension(e).unwrap();
    }
    let (ctx_issuer, sign_key) = match issuer {
        Some(i) => (Some(&i.cert), &i.key),
        None => (None, &key),
    };
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(ctx_issuer.map(|c| c.as_ref()), None))
        .unwrap();
    b.append_extension(ski).unwrap();
    if let Some(i) = ctx_issuer {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(i), None))
            .unwrap();
        b.append_extension(aki).unwrap();
    }
    let mut aia = Vec::new();
    if let Some(u) = &spec.ocsp_url {
        aia.push(format!("OCSP;URI:{u}"));
    }
    if !aia.is_empty() {
        let e = X509Extension::new_nid(None, None, Nid::INFO_ACCESS, &aia.join(",")).unwrap();
        b.append_extension(e).unwrap();
    }
    if let Some(u) = &spec.crl_url {
        let e = X509Extension::new_nid(
            None,
            None,
            Nid::CRL_DISTRIBUTION_POINTS,
            &format!("URI:{u}"),
        )
        .unwrap();
        b.append_extension(e).unwrap();
    }
    if spec.ocsp_nocheck {
        let e = X509Extension::new_nid(None, None, Nid::ID_PKIX_OCSP_NOCHECK, "ignored").unwrap();
        b.append_extension(e).unwrap();
    }
    b.sign(sign_key, MessageDigest::sha256()).unwrap();
    Issued {
        cert: b.build(),
        key,
    }
}

/// root -> ca -> leaf, with default specs.
pub struct Pki {
    pub root: Issued,
    pub ca: Issued,
    pub leaf: Issued,
}

pub fn pki() -> Pki {
    let root = issue(
        &Spec {
            serial: 1,
            ..Spec::ca("Test Root")
        },
        None,
    );
    let ca = issue(
        &Spec {
            serial: 2,
            ..Spec::ca("Test CA")
        },
        Some(&root),
    );
    let leaf = issue(&Spec::leaf("Nguyen Van A"), Some(&ca));
    Pki { root, ca, leaf }
}

/// A CRL by `issuer` (signed with `key`) listing `revoked` (serial, date).
pub fn crl(
    issuer: &Issued,
    key: &PKey<Private>,
    this: OffsetDateTime,
    next: Option<OffsetDateTime>,
    revoked: &[(u32, OffsetDateTime)],
) -> X509Crl {
    crl_with(issuer, key, this, next, revoked, &[])
}

/// Like `crl`, with extra CRL extensions in OpenSSL config syntax: (NID, value).
#[allow(deprecated)]
pub fn crl_with(
    issuer: &Issued,
    key: &PKey<Private>,
    this: OffsetDateTime,
    next: Option<OffsetDateTime>,
    revoked: &[(u32, OffsetDateTime)],
    extra: &[(Nid, &str)],
) -> X509Crl {
    let mut b = X509CrlBuilder::new().unwrap();
    b.set_issuer_name(issuer.cert.subject_name()).unwrap();
    b.set_last_update(&asn1(this)).unwrap();
    if let Some(n) = next {
        b.set_next_update(&asn1(n)).unwrap();
    }
    // AuthorityKeyIdentifier { keyIdentifier [0] } (the crate's CRL builder requires one).
    let ski = issuer.cert.subject_key_id().unwrap().as_slice().to_vec();
    let mut akid = vec![0x30, (ski.len() + 2) as u8, 0x80, ski.len() as u8];
    akid.extend_from_slice(&ski);
    let ext = X509Extension::new_from_der(
        &openssl::asn1::Asn1Object::from_str("2.5.29.35").unwrap(),
        false,
        &openssl::asn1::Asn1OctetString::new_from_bytes(&akid).unwrap(),
    )
    .unwrap();
    b.append_extension(ext).unwrap();
    let number = BigNum::from_u32(this.unix_timestamp() as u32).unwrap();
    b.append_extension(
        openssl::x509::extension::CrlNumber::new(number)
            .unwrap()
            .build()
            .unwrap(),
    )
    .unwrap();
    for (nid, value) in extra {
        let ext = if *nid == Nid::DELTA_CRL {
            // OpenSSL's config syntax has no deltaCRL: critical BaseCRLNumber INTEGER.
            let n: u8 = value.trim_start_matches("critical,").parse().unwrap();
            X509Extension::new_from_der(
                &openssl::asn1::Asn1Object::from_str("2.5.29.27").unwrap(),
                true,
                &openssl::asn1::Asn1OctetString::new_from_bytes(&[0x02, 0x01, n]).unwrap(),
            )
            .unwrap()
        } else {
            X509Extension::new_nid(None, None, *nid, value).unwrap()
        };
        b.append_extension(ext).unwrap();
    }
    for (serial, at) in revoked {
        let mut r = X509RevokedBuilder::new().unwrap();
        r.set_serial_number(&Asn1Integer::from_bn(&BigNum::from_u32(*serial).unwrap()).unwrap())
            .unwrap();
        r.set_revocation_date(&asn1(*at)).unwrap();
        b.add_revoked(r.build()).unwrap();
    }
    b.sign(key, MessageDigest::sha256()).unwrap();
    b.build().unwrap()
}

pub enum Status {
    Good,
    Revoked(OffsetDateTime),
    Unknown,
}

fn gt(t: OffsetDateTime) -> OcspGeneralizedTime {
    let d = std::time::Duration::from_secs(u64::try_from(t.unix_timestamp()).unwrap());
    OcspGeneralizedTime(GeneralizedTime::from_date_time(
        DateTime::from_unix_duration(d).unwrap(),
    ))
}

/// An OCSP response about `cert` (issued by `issuer`), signed by `signer` (key `signer_key`),
/// carrying `signer` in `certs` when `embed`.
pub fn ocsp(
    cert: &X509,
    issuer: &X509,
    signer: &X509,
    signer_key: &PKey<Private>,
    embed: bool,
    status: Status,
    this: OffsetDateTime,
    next: Option<OffsetDateTime>,
    produced: OffsetDateTime,
) -> Vec<u8> {
    let issuer_x = x509_cert::Certificate::from_der(&issuer.to_der().unwrap()).unwrap();
    let name_hash = openssl::sha::sha1(&issuer.subject_name().to_der().unwrap());
    let key_bits = issuer_x
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    let key_hash = openssl::sha::sha1(key_bits);
    let serial = cert.serial_number().to_bn().unwrap().to_vec();
    let cert_id = CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: const_oid::db::rfc5912::ID_SHA_1,
            parameters: Some(Null.into()),
        },
        issuer_name_hash: OctetString::new(name_hash.to_vec()).unwrap(),
        issuer_key_hash: OctetString::new(key_hash.to_vec()).unwrap(),
        serial_number: x509_cert::serial_number::SerialNumber::new(&serial).unwrap(),
    };
    let cert_status = match status {
        Status::Good => CertStatus::Good(Null),
        Status::Revoked(at) => CertStatus::Revoked(RevokedInfo {
            revocation_time: gt(at),
            revocation_reason: None,
        }),
        Status::Unknown => CertStatus::Unknown(Null),
    };
    let single = SingleResponse {
        cert_id,
        cert_status,
        this_update: gt(this),
        next_update: next.map(gt),
        single_extensions: None,
    };
    let signer_name =
        x509_cert::name::Name::from_der(&signer.subject_name().to_der().unwrap()).unwrap();
    let data = ResponseData {
        version: x509_ocsp::Version::V1,
        responder_id: ResponderId::ByName(signer_name),
        produced_at: gt(produced),
        responses: vec![single],
        response_extensions: None,
    };
    let tbs = data.to_der().unwrap();
    let mut s = Signer::new(MessageDigest::sha256(), signer_key).unwrap();
    s.update(&tbs).unwrap();
    let sig = s.sign_to_vec().unwrap();
    let basic = BasicOcspResponse {
        tbs_response_data: data,
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: const_oid::db::rfc5912::ECDSA_WITH_SHA_256,
            parameters: None,
        },
        signature: BitString::from_bytes(&sig).unwrap(),
        certs: embed
            .then(|| vec![x509_cert::Certificate::from_der(&signer.to_der().unwrap()).unwrap()]),
    };
    let resp = x509_ocsp::OcspResponse {
        response_status: x509_ocsp::OcspResponseStatus::Successful,
        response_bytes: Some(x509_ocsp::ResponseBytes {
            response_type: const_oid::db::rfc6960::ID_PKIX_OCSP_BASIC,
            response: OctetString::new(basic.to_der().unwrap()).unwrap(),
        }),
    };
    resp.to_der().unwrap()
}
