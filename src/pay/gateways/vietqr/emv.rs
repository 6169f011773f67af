//! The VietQR payload: EMVCo merchant-presented QR (TLV: 2-digit id, 2-digit length, value) as
//! NAPAS 247 profiles it, with the CRC-16/CCITT-FALSE in field 63.
//!
//! Lengths count characters; payload values are kept to ASCII here (the memo is stripped of
//! diacritics), so characters and bytes agree.

/// CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor.
pub fn crc16_ccitt_false(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

pub const NAPAS_AID: &str = "A000000727";
pub const SERVICE_TO_ACCOUNT: &str = "QRIBFTTA";
pub const SERVICE_TO_CARD: &str = "QRIBFTTC";

/// What a VietQR code says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VietQr {
    /// 6-digit bank BIN (NAPAS).
    pub bin: String,
    /// Account or card number.
    pub account: String,
    /// `QRIBFTTA` (to an account) or `QRIBFTTC` (to a card).
    pub service: String,
    /// Integer VND; `Some` makes the code dynamic (`01` = `12`).
    pub amount_vnd: Option<i64>,
    /// Field 62 sub 08, the transfer memo.
    pub purpose: Option<String>,
    /// Field 62 sub 01.
    pub bill_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmvError {
    #[error("a value of field {id} is too long or not ASCII")]
    ValueTooLong { id: String },
    #[error("payload over {max} bytes")]
    TooLong { max: usize },
    #[error("truncated or malformed TLV at offset {at}")]
    BadTlv { at: usize },
    #[error("CRC mismatch: payload says {stated}, computed {computed}")]
    BadCrc { stated: String, computed: String },
    #[error("field {id} is missing or has an unexpected value")]
    BadField { id: &'static str },
}

fn tlv(out: &mut String, id: &str, value: &str) -> Result<(), EmvError> {
    if value.len() > 99 || !value.is_ascii() {
        return Err(EmvError::ValueTooLong { id: id.into() });
    }
    out.push_str(id);
    out.push_str(&format!("{:02}", value.len()));
    out.push_str(value);
    Ok(())
}

/// Builds the payload (with its CRC).
pub fn build(q: &VietQr) -> Result<String, EmvError> {
    let mut beneficiary = String::new();
    tlv(&mut beneficiary, "00", &q.bin)?;
    tlv(&mut beneficiary, "01", &q.account)?;
    let mut merchant = String::new();
    tlv(&mut merchant, "00", NAPAS_AID)?;
    tlv(&mut merchant, "01", &beneficiary)?;
    tlv(&mut merchant, "02", &q.service)?;
    let mut out = String::new();
    tlv(&mut out, "00", "01")?;
    tlv(
        &mut out,
        "01",
        if q.amount_vnd.is_some() { "12" } else { "11" },
    )?;
    tlv(&mut out, "38", &merchant)?;
    tlv(&mut out, "53", "704")?;
    if let Some(a) = q.amount_vnd {
        tlv(&mut out, "54", &a.to_string())?;
    }
    tlv(&mut out, "58", "VN")?;
    let mut extra = String::new();
    for (id, v) in [("01", &q.bill_number), ("08", &q.purpose)] {
        if v.as_deref().is_some_and(|v| v.len() > MAX_ADDITIONAL) {
            return Err(EmvError::ValueTooLong {
                id: format!("62.{id}"),
            });
        }
    }
    if let Some(b) = q.bill_number.as_deref().filter(|b| !b.is_empty()) {
        tlv(&mut extra, "01", b)?;
    }
    if let Some(p) = q.purpose.as_deref().filter(|p| !p.is_empty()) {
        tlv(&mut extra, "08", p)?;
    }
    if !extra.is_empty() {
        tlv(&mut out, "62", &extra)?;
    }
    out.push_str("6304");
    let crc = crc16_ccitt_false(out.as_bytes());
    out.push_str(&format!("{crc:04X}"));
    Ok(out)
}

/// Splits `s` into (id, value) pairs; every byte must belong to a well-formed TLV.
pub fn split_tlv(s: &str) -> Result<Vec<(&str, &str)>, EmvError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let head = s.get(i..i + 4).ok_or(EmvError::BadTlv { at: i })?;
        if !head.bytes().all(|c| c.is_ascii_digit()) {
            return Err(EmvError::BadTlv { at: i });
        }
        let len: usize = head[2..].parse().map_err(|_| EmvError::BadTlv { at: i })?;
        let value = s
            .get(i + 4..i + 4 + len)
            .ok_or(EmvError::BadTlv { at: i })?;
        out.push((&head[..2], value));
        i += 4 + len;
    }
    Ok(out)
}

pub const MAX_PAYLOAD: usize = 512;

/// EMVCo MPM: each sub-field of the additional data template (62) is at most 25 characters.
pub const MAX_ADDITIONAL: usize = 25;

/// Parses and checks a payload: CRC first, then the NAPAS fields.
pub fn parse(payload: &str) -> Result<VietQr, EmvError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(EmvError::TooLong { max: MAX_PAYLOAD });
    }
    if !payload.is_ascii() || payload.len() < 8 {
        return Err(EmvError::BadTlv { at: 0 });
    }
    let (body, stated) = payload.split_at(payload.len() - 4);
    if !body.ends_with("6304") {
        return Err(EmvError::BadField { id: "63" });
    }
    let computed = format!("{:04X}", crc16_ccitt_false(body.as_bytes()));
    if !stated.eq_ignore_ascii_case(&computed) {
        return Err(EmvError::BadCrc {
            stated: stated.into(),
            computed,
        });
    }
    let fields = split_tlv(payload)?;
    // No field may appear twice, and 63 must be last.
    for (n, (id, _)) in fields.iter().enumerate() {
        if fields[..n].iter().any(|(seen, _)| seen == id) {
            return Err(EmvError::BadTlv { at: n });
        }
    }
    if fields.last().map(|f| f.0) != Some("63") {
        return Err(EmvError::BadField { id: "63" });
    }
    let get = |id: &str| fields.iter().find(|(i, _)| *i == id).map(|(_, v)| *v);
    if get("00") != Some("01") {
        return Err(EmvError::BadField { id: "00" });
    }
    let dynamic = match get("01") {
        Some("11") => false,
        Some("12") => true,
        _ => return Err(EmvError::BadField { id: "01" }),
    };
    if get("53") != Some("704") {
        return Err(EmvError::BadField { id: "53" });
    }
    if get("58") != Some("VN") {
        return Err(EmvError::BadField { id: "58" });
    }
    let merchant = split_tlv(get("38").ok_or(EmvError::BadField { id: "38" })?)?;
    let mget = |id: &str| merchant.iter().find(|(i, _)| *i == id).map(|(_, v)| *v);
    if mget("00") != Some(NAPAS_AID) {
        return Err(EmvError::BadField { id: "38.00" });
    }
    let service = mget("02").ok_or(EmvError::BadField { id: "38.02" })?;
    if service != SERVICE_TO_ACCOUNT && service != SERVICE_TO_CARD {
        return Err(EmvError::BadField { id: "38.02" });
    }
    let ben = split_tlv(mget("01").ok_or(EmvError::BadField { id: "38.01" })?)?;
    let bget = |id: &str| ben.iter().find(|(i, _)| *i == id).map(|(_, v)| *v);
    let bin = bget("00")
        .filter(|b| b.len() == 6 && b.bytes().all(|c| c.is_ascii_digit()))
        .ok_or(EmvError::BadField { id: "38.01.00" })?;
    let account = bget("01")
        .filter(|a| !a.is_empty() && a.bytes().all(|c| c.is_ascii_alphanumeric()))
        .ok_or(EmvError::BadField { id: "38.01.01" })?;
    let amount_vnd = match get("54") {
        Some(a) => Some(
            super::super::parse_digits(a)
                .filter(|v| *v > 0)
                .ok_or(EmvError::BadField { id: "54" })?,
        ),
        None => None,
    };
    if dynamic != amount_vnd.is_some() {
        return Err(EmvError::BadField { id: "01" });
    }
    let (mut purpose, mut bill_number) = (None, None);
    if let Some(extra) = get("62") {
        for (id, v) in split_tlv(extra)? {
            match id {
                "08" => purpose = Some(v.to_owned()),
                "01" => bill_number = Some(v.to_owned()),
                _ => {}
            }
        }
    }
    Ok(VietQr {
        bin: bin.into(),
        account: account.into(),
        service: service.into(),
        amount_vnd,
        purpose,
        bill_number,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_value() {
        assert_eq!(crc16_ccitt_false(b"123456789"), 0x29B1);
    }

    /// The two static vectors of ../shared/corpora/gateways/vectors.json, embedded (the corpus
    /// test in tests/pay_vectors.rs reads the file itself).
    #[test]
    fn static_vectors_round_trip() {
        let to_account = "00020101021138570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN63049E6F";
        let q = parse(to_account).unwrap();
        assert_eq!(q.bin, "970403");
        assert_eq!(q.account, "0011012345678");
        assert_eq!(q.amount_vnd, None);
        assert_eq!(build(&q).unwrap(), to_account);
        let to_card = "00020101021138600010A00000072701300006970403011697040311012345670208QRIBFTTC53037045802VN63044F52";
        let q = parse(to_card).unwrap();
        assert_eq!(q.service, SERVICE_TO_CARD);
        assert_eq!(build(&q).unwrap(), to_card);
    }

    #[test]
    fn dynamic_with_amount_and_memo() {
        let q = VietQr {
            bin: "970415".into(),
            account: "113366668888".into(),
            service: SERVICE_TO_ACCOUNT.into(),
            amount_vnd: Some(50_000),
            purpose: Some("ANTINA1B2C3".into()),
            bill_number: None,
        };
        let p = build(&q).unwrap();
        assert!(p.starts_with("000201010212"));
        assert!(p.contains("540550000"));
        assert!(p.contains("62150811ANTINA1B2C3"));
        assert_eq!(parse(&p).unwrap(), q);
        // Any change breaks the CRC.
        let tampered = p.replace("540550000", "540590000");
        assert!(matches!(parse(&tampered), Err(EmvError::BadCrc { .. })));
        // A well-formed CRC over a payload whose lengths lie.
        let mut body = p[..p.len() - 4].replace("5405", "5406");
        let crc = crc16_ccitt_false(body.as_bytes());
        body.push_str(&format!("{crc:04X}"));
        assert!(parse(&body).is_err());
    }

    #[test]
    fn refuses_non_ascii_and_long_values() {
        let mut q = parse("00020101021138570010A00000072701270006970403011300110123456780208QRIBFTTA53037045802VN63049E6F").unwrap();
        q.purpose = Some("Lệ phí".into());
        assert!(build(&q).is_err());
        q.purpose = Some("x".repeat(26));
        assert!(build(&q).is_err());
        assert!(parse("").is_err());
        assert!(parse("6304").is_err());
    }
}
