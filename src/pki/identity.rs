//! Who the signer is: the subject of a Vietnamese certificate, its identifiers and a readable DN.
//!
//! Vietnamese CAs put identifiers in repeated UID attributes (0.9.2342.19200300.100.1.1) with a
//! prefix (`CCCD:`, `CMND:`, `HC:`, `MST:`, `MNS:`, `BHXH:`, `PID:`, `PPID:`), sometimes in
//! serialNumber (2.5.4.5). Names carry diacritics; all text is returned in Unicode NFC so it can be
//! compared. The DN formatter prints in certificate order with short names (UID, not an OID),
//! escaped per RFC 4514 2.4.
//!
//! This module only reads names; it never decides whether a certificate is trusted.

use std::fmt;

use der::asn1::ObjectIdentifier;
use openssl::x509::{X509NameRef, X509Ref};
use unicode_normalization::UnicodeNormalization;

use crate::pki::cms::der_walk;

/// Attribute type OIDs (RFC 4519, RFC 4524, PKCS #9).
pub mod oids {
    use der::asn1::ObjectIdentifier as Oid;

    pub const CN: Oid = Oid::new_unwrap("2.5.4.3");
    pub const SURNAME: Oid = Oid::new_unwrap("2.5.4.4");
    pub const SERIAL_NUMBER: Oid = Oid::new_unwrap("2.5.4.5");
    pub const C: Oid = Oid::new_unwrap("2.5.4.6");
    pub const L: Oid = Oid::new_unwrap("2.5.4.7");
    pub const ST: Oid = Oid::new_unwrap("2.5.4.8");
    pub const STREET: Oid = Oid::new_unwrap("2.5.4.9");
    pub const O: Oid = Oid::new_unwrap("2.5.4.10");
    pub const OU: Oid = Oid::new_unwrap("2.5.4.11");
    pub const TITLE: Oid = Oid::new_unwrap("2.5.4.12");
    pub const GIVEN_NAME: Oid = Oid::new_unwrap("2.5.4.42");
    pub const UID: Oid = Oid::new_unwrap("0.9.2342.19200300.100.1.1");
    pub const DC: Oid = Oid::new_unwrap("0.9.2342.19200300.100.1.25");
    pub const EMAIL: Oid = Oid::new_unwrap("1.2.840.113549.1.9.1");
}

/// At most this many attributes in a Name.
const MAX_NAME_ATTRIBUTES: usize = 128;

/// Why a Name could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The Name is not DER RDNSequence (RFC 5280 4.1.2.4).
    #[error("malformed distinguished name")]
    MalformedName,
}

/// The kind of identifier a UID / serialNumber prefix names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// Căn cước công dân (12 digits).
    Cccd,
    /// Chứng minh nhân dân (9 or 12 digits).
    Cmnd,
    /// Hộ chiếu (passport).
    Hc,
    /// Mã số thuế (tax code, may carry a branch suffix).
    Mst,
    /// Mã ngân sách (budget-unit code).
    Mns,
    /// Bảo hiểm xã hội (social insurance).
    Bhxh,
    Pid,
    Ppid,
    /// Any other prefix, upper-cased; empty when the value has no prefix.
    Other(String),
}

impl IdKind {
    /// Reads a prefix, case-insensitively.
    pub fn from_prefix(prefix: &str) -> Self {
        let upper = prefix.trim().to_uppercase();
        match upper.as_str() {
            "CCCD" => Self::Cccd,
            "CMND" => Self::Cmnd,
            "HC" => Self::Hc,
            "MST" => Self::Mst,
            "MNS" => Self::Mns,
            "BHXH" => Self::Bhxh,
            "PID" => Self::Pid,
            "PPID" => Self::Ppid,
            _ => Self::Other(upper),
        }
    }

    /// The canonical prefix, e.g. `CCCD`.
    pub fn prefix(&self) -> &str {
        match self {
            Self::Cccd => "CCCD",
            Self::Cmnd => "CMND",
            Self::Hc => "HC",
            Self::Mst => "MST",
            Self::Mns => "MNS",
            Self::Bhxh => "BHXH",
            Self::Pid => "PID",
            Self::Ppid => "PPID",
            Self::Other(p) => p,
        }
    }

    fn is_known(&self) -> bool {
        !matches!(self, Self::Other(_))
    }
}

/// One identifier from the subject.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identifier {
    pub kind: IdKind,
    pub value: String,
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            IdKind::Other(p) if p.is_empty() => f.write_str(&self.value),
            kind => write!(f, "{}:{}", kind.prefix(), self.value),
        }
    }
}

/// The signer as the certificate subject describes them. All text is NFC.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignerIdentity {
    pub common_name: Option<String>,
    pub organization: Option<String>,
    pub organizational_unit: Option<String>,
    pub title: Option<String>,
    pub locality: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
    pub email: Option<String>,
    pub identifiers: Vec<Identifier>,
    /// The subject formatted by [`format_dn`].
    pub subject_dn: String,
}

/// One attribute of a Name, decoded to NFC text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAttribute {
    pub oid: ObjectIdentifier,
    pub value: String,
}

/// Reads a DER Name into its RDNs (certificate order), each a list of attributes.
pub fn parse_name_der(der: &[u8]) -> Result<Vec<Vec<NameAttribute>>, IdentityError> {
    let bad = |_| IdentityError::MalformedName;
    let mut input = der;
    let seq = der_walk::expect(&mut input, der_walk::SEQUENCE).map_err(bad)?;
    if !input.is_empty() {
        return Err(IdentityError::MalformedName);
    }
    let mut count = 0usize;
    let mut rdns = Vec::new();
    for rdn in der_walk::children(seq.value, MAX_NAME_ATTRIBUTES).map_err(bad)? {
        if rdn.tag != der_walk::SET {
            return Err(IdentityError::MalformedName);
        }
        let mut attrs = Vec::new();
        for atv in der_walk::children(rdn.value, MAX_NAME_ATTRIBUTES).map_err(bad)? {
            count += 1;
            if count > MAX_NAME_ATTRIBUTES || atv.tag != der_walk::SEQUENCE {
                return Err(IdentityError::MalformedName);
            }
            let mut f = atv.value;
            let oid = der_walk::next(&mut f)
                .and_then(|t| der_walk::oid(&t))
                .map_err(bad)?;
            let value = der_walk::next(&mut f).map_err(bad)?;
            if !f.is_empty() {
                return Err(IdentityError::MalformedName);
            }
            let text = decode_string(value.tag, value.value)
                .unwrap_or_else(|| format!("#{}", hex::encode(value.raw)));
            attrs.push(NameAttribute {
                oid,
                value: text.nfc().collect(),
            });
        }
        if attrs.is_empty() {
            return Err(IdentityError::MalformedName);
        }
        rdns.push(attrs);
    }
    Ok(rdns)
}

/// Decodes a DirectoryString / IA5String value (RFC 5280 4.1.2.4). T61String is read as
/// Latin-1, as in practice; None for non-string types or invalid encodings.
fn decode_string(tag: u8, bytes: &[u8]) -> Option<String> {
    match tag {
        // UTF8String
        0x0C => std::str::from_utf8(bytes).ok().map(str::to_owned),
        // PrintableString, IA5String, VisibleString, NumericString
        0x13 | 0x16 | 0x1A | 0x12 => bytes
            .is_ascii()
            .then(|| bytes.iter().map(|b| char::from(*b)).collect()),
        // T61String (TeletexString), read as Latin-1
        0x14 => Some(bytes.iter().map(|b| char::from(*b)).collect()),
        // BMPString: UCS-2 big-endian (UTF-16 accepted)
        0x1E => {
            if bytes.len() % 2 != 0 {
                return None;
            }
            // chunks_exact(2) yields 2-byte slices only, so the indexing cannot fail.
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        // UniversalString: UCS-4 big-endian
        0x1C => {
            if bytes.len() % 4 != 0 {
                return None;
            }
            // chunks_exact(4) yields 4-byte slices only.
            bytes
                .chunks_exact(4)
                .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect()
        }
        _ => None,
    }
}

fn short_name(oid: &ObjectIdentifier) -> Option<&'static str> {
    Some(match *oid {
        o if o == oids::CN => "CN",
        o if o == oids::SURNAME => "SN",
        o if o == oids::SERIAL_NUMBER => "SERIALNUMBER",
        o if o == oids::C => "C",
        o if o == oids::L => "L",
        o if o == oids::ST => "ST",
        o if o == oids::STREET => "STREET",
        o if o == oids::O => "O",
        o if o == oids::OU => "OU",
        o if o == oids::TITLE => "T",
        o if o == oids::GIVEN_NAME => "G",
        o if o == oids::UID => "UID",
        o if o == oids::DC => "DC",
        o if o == oids::EMAIL => "E",
        _ => return None,
    })
}

/// Escapes an attribute value per RFC 4514 2.4.
fn escape_value(value: &str, out: &mut String) {
    let last = value.chars().count().saturating_sub(1);
    for (i, ch) in value.chars().enumerate() {
        match ch {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => {
                out.push('\\');
                out.push(ch);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            _ => out.push(ch),
        }
    }
}

/// Formats parsed RDNs: certificate order, `, ` between RDNs, `+` inside multi-valued RDNs.
pub fn format_rdns(rdns: &[Vec<NameAttribute>]) -> String {
    let mut out = String::new();
    for (i, rdn) in rdns.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        for (j, attr) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            match short_name(&attr.oid) {
                Some(n) => out.push_str(n),
                None => out.push_str(&attr.oid.to_string()),
            }
            out.push('=');
            escape_value(&attr.value, &mut out);
        }
    }
    out
}

/// Formats a DER Name, e.g. `C=VN, ST=Hà Nội, UID=CCCD:001099012345, CN=Nguyễn Văn An`.
pub fn format_dn_der(der: &[u8]) -> Result<String, IdentityError> {
    parse_name_der(der).map(|rdns| format_rdns(&rdns))
}

/// Formats an X.509 Name in certificate order with RFC 4514 escaping; a Name that does not parse
/// is shown as `#` and its hex DER.
pub fn format_dn(name: &X509NameRef) -> String {
    match name.to_der() {
        Ok(der) => format_dn_der(&der).unwrap_or_else(|_| format!("#{}", hex::encode(&der))),
        Err(_) => String::new(),
    }
}

fn split_identifier(text: &str) -> (IdKind, String) {
    match text.split_once(':') {
        Some((prefix, value)) => (IdKind::from_prefix(prefix), value.trim().to_owned()),
        None => (IdKind::Other(String::new()), text.trim().to_owned()),
    }
}

/// Reads the signer's identity from a certificate subject. Identifiers come from every UID and
/// from serialNumber when it carries a known prefix.
pub fn identity_of(cert: &X509Ref) -> SignerIdentity {
    let der = cert.subject_name().to_der().unwrap_or_default();
    identity_from_name_der(&der)
}

/// [`identity_of`] for a DER Name.
pub fn identity_from_name_der(der: &[u8]) -> SignerIdentity {
    let Ok(rdns) = parse_name_der(der) else {
        return SignerIdentity {
            subject_dn: format!("#{}", hex::encode(der)),
            ..SignerIdentity::default()
        };
    };
    let mut id = SignerIdentity {
        subject_dn: format_rdns(&rdns),
        ..SignerIdentity::default()
    };
    // For single-valued fields the last (most specific) occurrence wins, as in CN.
    for attr in rdns.iter().flatten() {
        let value = || Some(attr.value.trim().to_owned());
        match attr.oid {
            o if o == oids::CN => id.common_name = value(),
            o if o == oids::O => id.organization = value(),
            o if o == oids::OU => id.organizational_unit = value(),
            o if o == oids::TITLE => id.title = value(),
            o if o == oids::L => id.locality = value(),
            o if o == oids::ST => id.state = value(),
            o if o == oids::C => id.country = value(),
            o if o == oids::EMAIL => id.email = value(),
            o if o == oids::UID => {
                let (kind, value) = split_identifier(&attr.value);
                id.identifiers.push(Identifier { kind, value });
            }
            o if o == oids::SERIAL_NUMBER => {
                let (kind, value) = split_identifier(&attr.value);
                if kind.is_known() {
                    id.identifiers.push(Identifier { kind, value });
                }
            }
            _ => {}
        }
    }
    id
}

/// Whether the identity carries `expected`: `CCCD:001099012345` matches kind and value,
/// `001099012345` matches the value of any identifier. Exact match after trimming and NFC.
pub fn matches_expected_id(identity: &SignerIdentity, expected: &str) -> bool {
    let expected: String = expected.trim().nfc().collect();
    if expected.is_empty() {
        return false;
    }
    match expected.split_once(':') {
        Some((prefix, value)) => {
            let kind = IdKind::from_prefix(prefix);
            let value = value.trim();
            identity
                .identifiers
                .iter()
                .any(|i| i.kind == kind && i.value == value)
        }
        None => identity.identifiers.iter().any(|i| i.value == expected),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_string_types() {
        assert_eq!(decode_string(0x0C, "Hà Nội".as_bytes()).unwrap(), "Hà Nội");
        assert_eq!(decode_string(0x14, &[0x48, 0xE0]).unwrap(), "Hà");
        let bmp: Vec<u8> = "Nguyễn".encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(decode_string(0x1E, &bmp).unwrap(), "Nguyễn");
        assert!(decode_string(0x13, &[0xC3]).is_none());
        assert!(decode_string(0x1E, &[0x00]).is_none());
    }

    #[test]
    fn escapes_rfc4514_specials() {
        let mut s = String::new();
        escape_value("#a,b+c\"d\\e<f>g;h ", &mut s);
        assert_eq!(s, "\\#a\\,b\\+c\\\"d\\\\e\\<f\\>g\\;h\\ ");
    }

    #[test]
    fn identifier_prefixes() {
        assert_eq!(
            split_identifier(" cccd : 001099012345 "),
            (IdKind::Cccd, "001099012345".to_owned())
        );
        assert_eq!(
            split_identifier("MST:0100686209-199"),
            (IdKind::Mst, "0100686209-199".to_owned())
        );
        assert_eq!(
            split_identifier("XYZ:1"),
            (IdKind::Other("XYZ".into()), "1".to_owned())
        );
    }
}
