//! The bank's credit notification: an ISO 20022 camt.054 document (BkToCstmrDbtCdtNtfctn), one
//! `Ntry` per credit, signed with `X-Bank-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret,
//! "<t>." + body)>`.
//!
//! Parsed with quick-xml's pull reader: no DOM, no DTD (a document with one is refused, so no
//! entity expansion or external fetch), bounded input size and nesting depth. Elements are
//! matched on their local names and path, whatever the namespace prefix or the camt.054 version.
use quick_xml::events::Event;
use quick_xml::Reader;
use ring::hmac;
use time::OffsetDateTime;

pub const MAX_DOCUMENT: usize = 256 * 1024;
const MAX_DEPTH: usize = 32;
const MAX_ENTRIES: usize = 1000;

/// One credit or debit entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    /// The credited account (`Ntfctn/Acct/Id/Othr/Id` or `IBAN`).
    pub account: String,
    /// Whole VND.
    pub amount_vnd: i64,
    pub currency: String,
    /// `CRDT` or `DBIT`.
    pub credit_debit: String,
    /// `Sts` (`BOOK`, `PDNG`...; camt.054 v8+ nests it as `Sts/Cd`).
    pub status: String,
    /// `AcctSvcrRef`: the bank's reference.
    pub bank_ref: String,
    /// `NtryDtls/TxDtls/RmtInf/Ustrd`: the transfer memo (several lines joined with a space).
    pub memo: String,
    pub booked_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CamtError {
    #[error("document over {MAX_DOCUMENT} bytes")]
    TooLarge,
    #[error("XML: {0}")]
    Xml(String),
    #[error("a DTD is not accepted")]
    Dtd,
    #[error("nesting deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("more than {MAX_ENTRIES} entries")]
    TooManyEntries,
    #[error("entry {index}: {what}")]
    BadEntry { index: usize, what: String },
    #[error("not a camt.054 notification")]
    NotCamt054,
}

/// Checks `X-Bank-Signature` over `body`; `now` and `tolerance_secs` bound replays of old
/// notifications (duplicates inside the window are the domain's to drop, by bank reference).
pub fn verify_signature(
    key: &hmac::Key,
    header: &str,
    body: &[u8],
    now: OffsetDateTime,
    tolerance_secs: i64,
) -> bool {
    let (mut t, mut sigs) = (None, Vec::new());
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = super::super::parse_digits(v.trim()),
            Some(("v1", v)) => sigs.push(v.trim()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now.unix_timestamp() - t).abs() > tolerance_secs {
        return false;
    }
    let mut msg = format!("{t}.").into_bytes();
    msg.extend_from_slice(body);
    sigs.iter()
        .any(|s| super::super::hmac_verify_hex(key, &msg, s))
}

/// `"<t>." + body` signed: what the bank (and the simulator, and tests) send.
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    let mut msg = format!("{t}.").into_bytes();
    msg.extend_from_slice(body);
    format!(
        "t={t},v1={}",
        super::super::hmac_hex(hmac::HMAC_SHA256, secret, &msg)
    )
}

/// An amount like `50000` or `50000.00`; a fraction of a dong is refused.
pub fn parse_amount(s: &str) -> Option<i64> {
    let (int, frac) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
    if !frac.bytes().all(|b| b == b'0') {
        return None;
    }
    super::super::parse_digits(int)
}

/// `2025-11-22T10:35:12+07:00`, `...Z`, or without an offset (read as Vietnam time); a bare
/// date is midnight Vietnam time.
pub fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.to_offset(time::UtcOffset::UTC));
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let base = s.split('.').next().unwrap_or(s);
    if let Ok(t) = time::PrimitiveDateTime::parse(base, &fmt) {
        return Some(
            t.assume_offset(super::super::VN_OFFSET)
                .to_offset(time::UtcOffset::UTC),
        );
    }
    let dfmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &dfmt).ok().map(|d| {
        d.midnight()
            .assume_offset(super::super::VN_OFFSET)
            .to_offset(time::UtcOffset::UTC)
    })
}

fn ends_with(path: &[String], suffix: &[&str]) -> bool {
    path.len() >= suffix.len()
        && path[path.len() - suffix.len()..]
            .iter()
            .zip(suffix)
            .all(|(a, b)| a == b)
}

/// Parses every `Ntry` of a camt.054 document.
pub fn parse(doc: &[u8]) -> Result<Vec<Entry>, CamtError> {
    if doc.len() > MAX_DOCUMENT {
        return Err(CamtError::TooLarge);
    }
    let mut reader = Reader::from_reader(doc);
    reader.config_mut().trim_text(true);
    let mut path: Vec<String> = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    let mut account = String::new();
    let mut cur: Option<Entry> = None;
    let mut saw_root = false;
    let mut amt_ccy: Option<String> = None;
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| CamtError::Xml(e.to_string()))?;
        match ev {
            Event::DocType(_) => return Err(CamtError::Dtd),
            Event::Start(e) => {
                if path.len() >= MAX_DEPTH {
                    return Err(CamtError::TooDeep);
                }
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if name == "BkToCstmrDbtCdtNtfctn" {
                    saw_root = true;
                }
                if name == "Ntry" && ends_with(&path, &["Ntfctn"]) {
                    if entries.len() >= MAX_ENTRIES {
                        return Err(CamtError::TooManyEntries);
                    }
                    cur = Some(Entry {
                        account: account.clone(),
                        ..Entry::default()
                    });
                }
                if name == "Amt" && ends_with(&path, &["Ntry"]) {
                    amt_ccy = e
                        .try_get_attribute("Ccy")
                        .map_err(|e| CamtError::Xml(e.to_string()))?
                        .map(|a| String::from_utf8_lossy(&a.value).into_owned());
                }
                path.push(name);
            }
            Event::End(_) => {
                if path.last().map(String::as_str) == Some("Ntry")
                    && path.len() >= 2
                    && path[path.len() - 2] == "Ntfctn"
                {
                    if let Some(e) = cur.take() {
                        entries.push(e);
                    }
                }
                path.pop();
            }
            Event::Text(t) => {
                let text = t
                    .unescape()
                    .map_err(|e| CamtError::Xml(e.to_string()))?
                    .into_owned();
                let index = entries.len();
                let bad = |what: &str| CamtError::BadEntry {
                    index,
                    what: what.into(),
                };
                if cur.is_none() {
                    if ends_with(&path, &["Ntfctn", "Acct", "Id", "Othr", "Id"])
                        || ends_with(&path, &["Ntfctn", "Acct", "Id", "IBAN"])
                    {
                        account = text.trim().to_owned();
                    }
                    continue;
                }
                let Some(e) = cur.as_mut() else { continue };
                if ends_with(&path, &["Ntry", "Amt"]) {
                    e.amount_vnd =
                        parse_amount(&text).ok_or_else(|| bad("amount is not whole dong"))?;
                    e.currency = amt_ccy.clone().unwrap_or_default();
                } else if ends_with(&path, &["Ntry", "CdtDbtInd"]) {
                    e.credit_debit = text.trim().to_owned();
                } else if ends_with(&path, &["Ntry", "Sts"])
                    || ends_with(&path, &["Ntry", "Sts", "Cd"])
                {
                    e.status = text.trim().to_owned();
                } else if ends_with(&path, &["Ntry", "AcctSvcrRef"]) {
                    e.bank_ref = text.trim().to_owned();
                } else if ends_with(&path, &["RmtInf", "Ustrd"]) {
                    if !e.memo.is_empty() {
                        e.memo.push(' ');
                    }
                    e.memo.push_str(text.trim());
                } else if ends_with(&path, &["Ntry", "BookgDt", "DtTm"])
                    || ends_with(&path, &["Ntry", "BookgDt", "Dt"])
                {
                    e.booked_at = Some(parse_datetime(&text).ok_or_else(|| bad("BookgDt"))?);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        return Err(CamtError::NotCamt054);
    }
    Ok(entries)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn notification(account: &str, amount: &str, memo: &str, bank_ref: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">
  <BkToCstmrDbtCdtNtfctn>
    <GrpHdr><MsgId>N1</MsgId><CreDtTm>2025-11-22T10:35:13+07:00</CreDtTm></GrpHdr>
    <Ntfctn>
      <Id>N1</Id>
      <Acct><Id><Othr><Id>{account}</Id></Othr></Id></Acct>
      <Ntry>
        <Amt Ccy="VND">{amount}</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><DtTm>2025-11-22T10:35:12+07:00</DtTm></BookgDt>
        <AcctSvcrRef>{bank_ref}</AcctSvcrRef>
        <NtryDtls><TxDtls><RmtInf><Ustrd>{memo}</Ustrd></RmtInf></TxDtls></NtryDtls>
      </Ntry>
    </Ntfctn>
  </BkToCstmrDbtCdtNtfctn>
</Document>"#
        )
    }

    #[test]
    fn parses_a_credit() {
        let doc = notification(
            "113366668888",
            "50000.00",
            "ANTINA1B2 chuyen tien &amp; le phi",
            "FT2532612345",
        );
        let e = parse(doc.as_bytes()).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].account, "113366668888");
        assert_eq!(e[0].amount_vnd, 50_000);
        assert_eq!(e[0].currency, "VND");
        assert_eq!(e[0].credit_debit, "CRDT");
        assert_eq!(e[0].status, "BOOK");
        assert_eq!(e[0].bank_ref, "FT2532612345");
        assert_eq!(e[0].memo, "ANTINA1B2 chuyen tien & le phi");
        assert_eq!(
            e[0].booked_at,
            Some(time::macros::datetime!(2025-11-22 03:35:12 UTC))
        );
    }

    #[test]
    fn refuses_bad_documents() {
        assert!(matches!(
            parse(notification("1", "500.50", "m", "r").as_bytes()),
            Err(CamtError::BadEntry { .. })
        ));
        assert!(matches!(parse(b"<a><b></a>"), Err(CamtError::Xml(_))));
        assert!(matches!(parse(b"<Document/>"), Err(CamtError::NotCamt054)));
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><Document><BkToCstmrDbtCdtNtfctn>&a;</BkToCstmrDbtCdtNtfctn></Document>"#;
        assert_eq!(parse(bomb.as_bytes()), Err(CamtError::Dtd));
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert_eq!(parse(deep.as_bytes()), Err(CamtError::TooDeep));
        assert_eq!(
            parse(&vec![b' '; MAX_DOCUMENT + 1]),
            Err(CamtError::TooLarge)
        );
        assert!(parse(b"\xff\xfe<").is_err());
    }

    #[test]
    fn signature_header() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"S");
        let now = time::OffsetDateTime::from_unix_timestamp(1_763_782_512).unwrap();
        let h = sign(b"S", 1_763_782_500, b"<x/>");
        assert!(verify_signature(&key, &h, b"<x/>", now, 300));
        assert!(!verify_signature(&key, &h, b"<y/>", now, 300));
        assert!(!verify_signature(
            &key,
            &h,
            b"<x/>",
            now + time::Duration::hours(1),
            300
        ));
        assert!(!verify_signature(&key, "t=1763782500", b"<x/>", now, 300));
        assert!(!verify_signature(&key, "garbage", b"<x/>", now, 300));
        let other = sign(b"T", 1_763_782_500, b"<x/>");
        assert!(!verify_signature(&key, &other, b"<x/>", now, 300));
    }
}
