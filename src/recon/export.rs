//! The discrepancy list as CSV (UTF-8 with a BOM so Excel reads the diacritics, CRLF, RFC 4180
//! quoting), shared by `antin recon ... --format csv` and `GET /v1/reconciliation/reports/{date}`.
//! Pure: no I/O.

use crate::i18n::Lang;
use crate::store::recon::StoredDiscrepancy;

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// One row per discrepancy; amounts as plain integers (VND), the class both as its stable code
/// and as a label in `lang`.
pub fn discrepancies_csv(ds: &[StoredDiscrepancy], lang: Lang) -> String {
    let mut out = String::from(
        "\u{feff}id,date,class,label,gateway,key,expected,actual,resolved,reason,detail\r\n",
    );
    for d in ds {
        let x = &d.discrepancy;
        let cells = [
            d.id.clone(),
            d.run_date.clone(),
            x.class.as_str().to_owned(),
            lang.pick(x.class.label_vi(), x.class.label_en()).to_owned(),
            x.gateway.clone(),
            x.key.clone(),
            x.expected.map(|v| v.to_string()).unwrap_or_default(),
            x.actual.map(|v| v.to_string()).unwrap_or_default(),
            d.resolution.is_some().to_string(),
            d.resolution
                .as_ref()
                .map(|r| r.reason.clone())
                .unwrap_or_default(),
            x.detail.clone(),
        ];
        out.push_str(
            &cells
                .iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out
}
