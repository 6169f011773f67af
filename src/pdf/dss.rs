//! The Document Security Store (ETSI EN 319 142-1 5.4.2; ISO 32000-2 12.8.4.3).
//!
//! Reads /DSS /Certs, /CRLs, /OCSPs and /VRI of a revision, decoding the streams with the document's
//! bounds. It does not parse the DER it returns: certificates and revocation data are the pki
//! module's business.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::object::{Obj, Value};
use super::signatures::parse_pdf_date;
use super::{PdfDocument, PdfError};

/// Validation material stored in the document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dss {
    /// /Certs: DER certificates.
    pub certs: Vec<Vec<u8>>,
    /// /CRLs: DER CRLs.
    pub crls: Vec<Vec<u8>>,
    /// /OCSPs: DER OCSP responses.
    pub ocsps: Vec<Vec<u8>>,
    /// /VRI, keyed by uppercase hex SHA-1 of the signature's /Contents.
    pub vri: BTreeMap<String, Vri>,
}

/// One /VRI entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vri {
    /// /Cert.
    pub certs: Vec<Vec<u8>>,
    /// /CRL.
    pub crls: Vec<Vec<u8>>,
    /// /OCSP.
    pub ocsps: Vec<Vec<u8>>,
    /// /TU: when the VRI was built.
    pub tu: Option<OffsetDateTime>,
    /// /TS: DER timestamp token over the signature.
    pub ts: Option<Vec<u8>>,
}

/// Most streams read from one DSS array.
const MAX_ITEMS: usize = 10_000;

/// Read the /DSS of revision `rev`.
pub fn read(doc: &PdfDocument<'_>, rev: usize) -> Result<Option<Dss>, PdfError> {
    let cat = doc.catalog(rev)?;
    let Some(d) = cat.get(b"DSS") else {
        return Ok(None);
    };
    let d = doc.resolve(rev, d)?;
    let Some(d) = d.as_dict() else {
        return Ok(None);
    };
    let mut dss = Dss {
        certs: streams(doc, rev, d.get(b"Certs"))?,
        crls: streams(doc, rev, d.get(b"CRLs"))?,
        ocsps: streams(doc, rev, d.get(b"OCSPs"))?,
        vri: BTreeMap::new(),
    };
    if let Some(v) = d.get(b"VRI") {
        let v = doc.resolve(rev, v)?;
        for (k, e) in v
            .as_dict()
            .map(|d| d.entries.as_slice())
            .unwrap_or_default()
            .iter()
            .take(MAX_ITEMS)
        {
            let e = doc.resolve(rev, e)?;
            let Some(e) = e.as_dict() else { continue };
            let tu = match e.get(b"TU") {
                Some(t) => doc
                    .resolve(rev, t)?
                    .as_str_bytes()
                    .and_then(|b| std::str::from_utf8(b).ok().and_then(parse_pdf_date)),
                None => None,
            };
            let ts = match e.get(b"TS") {
                Some(t) => stream(doc, rev, t)?,
                None => None,
            };
            let key = String::from_utf8_lossy(k).to_ascii_uppercase();
            dss.vri.insert(
                key,
                Vri {
                    certs: streams(doc, rev, e.get(b"Cert"))?,
                    crls: streams(doc, rev, e.get(b"CRL"))?,
                    ocsps: streams(doc, rev, e.get(b"OCSP"))?,
                    tu,
                    ts,
                },
            );
        }
    }
    Ok(Some(dss))
}

fn stream(doc: &PdfDocument<'_>, rev: usize, o: &Obj) -> Result<Option<Vec<u8>>, PdfError> {
    match doc.resolve(rev, o)?.value {
        Value::Stream(s) => doc.stream_data(&s).map(Some),
        _ => Ok(None),
    }
}

fn streams(doc: &PdfDocument<'_>, rev: usize, o: Option<&Obj>) -> Result<Vec<Vec<u8>>, PdfError> {
    let Some(o) = o else { return Ok(Vec::new()) };
    let arr = doc.resolve(rev, o)?;
    let mut out = Vec::new();
    for item in arr.as_array().unwrap_or_default().iter().take(MAX_ITEMS) {
        if let Some(data) = stream(doc, rev, item)? {
            out.push(data);
        }
    }
    Ok(out)
}
