//! The check page's HTML, rendered on the server from plain values (no template engine): one
//! escaping helper, inline CSS and a few lines of script, both allowed by hash in the
//! Content-Security-Policy, so the page needs nothing else and works without JavaScript.
//!
//! Pure: what to show comes in, a string goes out. Nothing here may print personal data: the
//! signer is the name the agency publishes, the log shows indices and hashes only.

use std::fmt::Write as _;
use std::sync::LazyLock;

use crate::i18n::Lang;
use crate::sign::status::DocumentStatus;
use crate::store::{SignedDocumentRecord, StatusChangeRecord};
use crate::verify::report::{Report, Verdict};

const CSS: &str = "\
*{box-sizing:border-box}\
body{margin:0;font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;color:#1b1b1b;background:#f6f7f9}\
header,main,footer{max-width:46rem;margin:0 auto;padding:1rem}\
header{display:flex;justify-content:space-between;align-items:center;flex-wrap:wrap;gap:.5rem}\
header strong{font-size:1.1rem}\
a{color:#0b4bb3}\
a:focus-visible,button:focus-visible,input:focus-visible,summary:focus-visible{outline:3px solid #0b4bb3;outline-offset:2px}\
h1{font-size:1.4rem;margin:.2rem 0 .8rem}\
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}.card>h2:first-child{margin-top:0}\
.card{background:#fff;border:1px solid #d5d9e0;border-radius:.5rem;padding:1rem;margin:0 0 1rem}\
.state{border-width:2px;font-size:1.1rem}\
.state p{margin:.3rem 0}\
.state .big{font-size:1.5rem;font-weight:700}\
.green{background:#e7f6ec;border-color:#0b6b2e;color:#08491f}\
.amber{background:#fff4d6;border-color:#8a5a00;color:#5c3c00}\
.red{background:#fdeaea;border-color:#a61b1b;color:#7d1010}\
dl{display:grid;grid-template-columns:minmax(8rem,auto) 1fr;gap:.3rem 1rem;margin:0}\
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}\
code{font-size:.85rem;overflow-wrap:anywhere}\
label{display:block;font-weight:600;margin-bottom:.4rem}\
input[type=file]{display:block;width:100%;padding:.5rem;border:1px dashed #6b7280;border-radius:.4rem;background:#fff}\
button{margin-top:.8rem;font:inherit;font-weight:600;padding:.6rem 1.2rem;border:0;border-radius:.4rem;background:#0b4bb3;color:#fff;cursor:pointer}\
button[disabled]{background:#6b7280}\
.hint{font-size:.9rem;color:#4b5563;margin:.4rem 0 0}\
details{margin-top:.8rem}summary{cursor:pointer;font-weight:600}\
ul{padding-left:1.2rem}\
footer{font-size:.85rem;color:#4b5563}\
";

/// Progressive enhancement only: refuses an oversized file before it is sent, and shows that the
/// check is running. The form works the same without it.
const JS: &str = "\
document.querySelectorAll('form.up').forEach(function(f){\
var i=f.querySelector('input[type=file]'),h=f.querySelector('.hint'),b=f.querySelector('button'),max=+f.dataset.max;\
i.addEventListener('change',function(){var x=i.files[0],big=x&&x.size>max;b.disabled=!!big;h.textContent=big?f.dataset.big:f.dataset.note;});\
f.addEventListener('submit',function(){b.textContent=f.dataset.busy;setTimeout(function(){b.disabled=true},0);});\
});";

fn sha256_source(s: &str) -> String {
    use base64::Engine as _;
    let d = ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(d.as_ref())
    )
}

/// The Content-Security-Policy of every page: nothing but this origin's forms, and exactly the
/// inline style and script above (by hash).
pub static CSP: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; style-src {}; script-src {}; img-src 'self' data:; form-action 'self'; \
         base-uri 'none'; frame-ancestors 'none'",
        sha256_source(CSS),
        sha256_source(JS)
    )
});

/// Escapes text for HTML element content and double-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Green, amber or red: the one thing a lay reader must see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Light {
    Green,
    Amber,
    Red,
}

impl Light {
    pub fn as_str(self) -> &'static str {
        match self {
            Light::Green => "green",
            Light::Amber => "amber",
            Light::Red => "red",
        }
    }
}

/// The inclusion proof of a document's log entry, as checked by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofView {
    /// Verified against the latest signed checkpoint (size, root in hex).
    Checked {
        index: u64,
        /// The latest status change's entry, checked against the same checkpoint.
        status_index: Option<u64>,
        size: u64,
        root_hex: String,
    },
    /// The entry or its proof could not be checked (the reason, for operators; shown briefly).
    Failed { index: Option<u64>, detail: String },
}

/// Everything the document page shows.
#[derive(Debug, Clone)]
pub struct DocView<'a> {
    pub rec: &'a SignedDocumentRecord,
    pub history: &'a [StatusChangeRecord],
    pub proof: &'a ProofView,
}

/// The outcome of an upload.
#[derive(Debug, Clone)]
pub struct ResultView<'a> {
    pub light: Light,
    pub sentence: String,
    /// Compared with the document antin issued: (document id, identical?).
    pub identical: Option<(&'a str, bool)>,
    pub report: &'a Report,
    /// The issued document the upload was compared with, with its status.
    pub document: Option<DocView<'a>>,
}

/// Vietnam time, as people read it: `02/12/2026 11:47:50 (UTC+07:00)`.
pub fn vn_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(crate::timefmt::VIETNAM);
    format!(
        "{:02}/{:02}/{} {:02}:{:02}:{:02} (UTC+07:00)",
        t.day(),
        u8::from(t.month()),
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn layout(lang: Lang, title: &str, switch_to: &str, body: &str) -> String {
    let (code, other_label, other_lang) = match lang {
        Lang::Vi => ("vi", "English", "en"),
        Lang::En => ("en", "Tiếng Việt", "vi"),
    };
    let sep = if switch_to.contains('?') { '&' } else { '?' };
    format!(
        "<!doctype html><html lang=\"{code}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><link rel=\"icon\" href=\"data:,\"><title>{title}</title>\
         <style>{CSS}</style></head><body>\
         <header><strong>{brand}</strong><a href=\"{switch}{sep}lang={other_lang}\" hreflang=\"{other_lang}\" lang=\"{other_lang}\">{other_label}</a></header>\
         <main id=\"main\">{body}</main>\
         <footer>{foot}</footer><script>{JS}</script></body></html>",
        title = esc(title),
        brand = lang.pick("antin · Kiểm tra văn bản điện tử", "antin · Electronic document check"),
        switch = esc(switch_to),
        foot = lang.pick(
            "Trang này không lưu tệp bạn tải lên và không hiển thị dữ liệu cá nhân.",
            "This page does not keep the files you upload and shows no personal data."
        ),
    )
}

fn row(out: &mut String, label: &str, value: &str) {
    let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(label), value);
}

fn status_card(out: &mut String, lang: Lang, v: &DocView<'_>) {
    let status = DocumentStatus::parse(&v.rec.status).unwrap_or(DocumentStatus::Revoked);
    let light = match status {
        DocumentStatus::Valid => Light::Green,
        DocumentStatus::Superseded => Light::Amber,
        DocumentStatus::Revoked => Light::Red,
    };
    let _ = write!(
        out,
        "<section class=\"card state {}\" aria-live=\"polite\" data-status=\"{}\"><p>{}</p><p class=\"big\">{}</p>",
        light.as_str(),
        status.as_str(),
        lang.pick("Trạng thái văn bản:", "Document status:"),
        esc(status.label(lang)),
    );
    if let Some(last) = v.history.last() {
        // Who: the agency's own portal, or the service's administrator (key ids stay in the JSON).
        let by = if last.actor == v.rec.caller {
            lang.pick("cơ quan ban hành", "the issuing agency")
        } else {
            lang.pick("quản trị viên hệ thống", "the service administrator")
        };
        let _ = write!(
            out,
            "<p>{} {}</p><p>{} {}</p><p>{} {}</p>",
            lang.pick("Lý do:", "Reason:"),
            esc(&last.reason),
            lang.pick("Thời điểm:", "When:"),
            esc(&vn_time(last.created_at)),
            lang.pick("Thực hiện bởi:", "By:"),
            esc(by),
        );
    }
    if let Some(by) = &v.rec.superseded_by {
        let _ = write!(
            out,
            "<p>{} <a href=\"/v/{id}?lang={l}\">{id}</a></p>",
            lang.pick("Văn bản thay thế:", "Replaced by:"),
            id = esc(by),
            l = if lang == Lang::En { "en" } else { "vi" },
        );
    }
    out.push_str("</section>");
}

fn document_card(out: &mut String, lang: Lang, v: &DocView<'_>) {
    let rec = v.rec;
    let none = lang.pick("(không công bố)", "(not published)");
    out.push_str("<section class=\"card\"><dl>");
    row(
        out,
        lang.pick("Cơ quan ban hành", "Issuing agency"),
        &esc(&rec.agency),
    );
    row(
        out,
        lang.pick("Loại văn bản", "Document type"),
        &esc(rec.document_type.as_deref().unwrap_or(none)),
    );
    row(
        out,
        lang.pick("Số văn bản", "Document number"),
        &esc(rec.document_number.as_deref().unwrap_or(none)),
    );
    row(
        out,
        lang.pick("Người ký", "Signed by"),
        &esc(rec.published_signer.as_deref().unwrap_or(none)),
    );
    row(
        out,
        lang.pick("Thời gian ký", "Signed at"),
        &format!(
            "<time datetime=\"{}\">{}</time>",
            esc(&crate::timefmt::vietnam(rec.created_at)),
            esc(&vn_time(rec.created_at))
        ),
    );
    row(
        out,
        lang.pick("Mã văn bản", "Document id"),
        &format!("<code>{}</code>", esc(&rec.id)),
    );
    row(
        out,
        lang.pick("Mức chữ ký", "Signature level"),
        &esc(&format!("PAdES {}", rec.level)),
    );
    row(
        out,
        "SHA-256",
        &format!("<code>{}</code>", esc(&rec.signed_sha256)),
    );
    out.push_str("</dl></section>");
}

fn log_card(out: &mut String, lang: Lang, v: &DocView<'_>) {
    out.push_str("<section class=\"card\">");
    let _ = write!(
        out,
        "<h2>{}</h2>",
        lang.pick("Nhật ký minh bạch", "Transparency log")
    );
    match v.proof {
        ProofView::Checked {
            index,
            status_index,
            size,
            root_hex,
        } => {
            let _ = write!(
                out,
                "<p data-proof=\"checked\">{} <strong>#{index}</strong>. {} <strong>{}</strong>.</p><dl>",
                lang.pick("Việc ký văn bản này được ghi ở mục", "The signing of this document is log entry"),
                lang.pick(
                    "Bằng chứng đưa vào nhật ký so với điểm kiểm tra mới nhất:",
                    "Its inclusion proof against the latest checkpoint:"
                ),
                lang.pick("đã kiểm tra", "checked"),
            );
            if let Some(si) = status_index {
                let _ = write!(
                    out,
                    "<p data-status-proof=\"checked\">{} <strong>#{si}</strong>: <strong>{}</strong>.</p>",
                    lang.pick("Thay đổi trạng thái mới nhất, mục", "The latest status change, entry"),
                    lang.pick("đã kiểm tra", "checked"),
                );
            }
            row(
                out,
                lang.pick("Kích thước nhật ký", "Checkpoint size"),
                &size.to_string(),
            );
            row(
                out,
                lang.pick("Gốc Merkle", "Merkle root"),
                &format!("<code>{}</code>", esc(root_hex)),
            );
            out.push_str("</dl>");
        }
        ProofView::Failed { index, detail } => {
            let _ = write!(
                out,
                "<p data-proof=\"failed\" class=\"red\">{}{} <code>{}</code></p>",
                lang.pick(
                    "KHÔNG kiểm tra được bằng chứng trong nhật ký",
                    "The log proof could NOT be checked"
                ),
                index.map(|i| format!(" (#{i})")).unwrap_or_default(),
                esc(detail),
            );
        }
    }
    if !v.history.is_empty() {
        out.push_str("<ul>");
        for h in v.history {
            let to =
                DocumentStatus::parse(&h.to_status).map_or(h.to_status.as_str(), |s| s.label(lang));
            let _ = write!(
                out,
                "<li>{}: {} — {} #{}</li>",
                esc(&vn_time(h.created_at)),
                esc(to),
                lang.pick("mục nhật ký", "log entry"),
                h.log_index
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
}

fn upload_form(out: &mut String, lang: Lang, document_id: Option<&str>, max_bytes: usize) {
    let mb = max_bytes / (1024 * 1024);
    let note = match lang {
        Lang::Vi => format!(
            "Tệp PDF, tối đa {mb} MB. Tệp được kiểm tra trong bộ nhớ và không được lưu lại."
        ),
        Lang::En => format!("A PDF file, at most {mb} MB. It is checked in memory and not kept."),
    };
    let big = match lang {
        Lang::Vi => format!("Tệp lớn hơn {mb} MB, không thể kiểm tra."),
        Lang::En => format!("The file is larger than {mb} MB and cannot be checked."),
    };
    let _ = write!(
        out,
        "<section class=\"card\"><h2>{h}</h2>\
         <form class=\"up\" method=\"post\" action=\"/verify\" enctype=\"multipart/form-data\" \
         data-max=\"{max_bytes}\" data-big=\"{big}\" data-note=\"{note}\" data-busy=\"{busy}\">\
         <input type=\"hidden\" name=\"lang\" value=\"{l}\">",
        h = lang.pick("Kiểm tra tệp bạn đang có", "Check the file you have"),
        big = esc(&big),
        note = esc(&note),
        busy = esc(lang.pick("Đang kiểm tra…", "Checking…")),
        l = if lang == Lang::En { "en" } else { "vi" },
    );
    if let Some(id) = document_id {
        let _ = write!(
            out,
            "<input type=\"hidden\" name=\"document_id\" value=\"{}\">",
            esc(id)
        );
    }
    let _ = write!(
        out,
        "<label for=\"file\">{label}</label>\
         <input id=\"file\" name=\"file\" type=\"file\" accept=\"application/pdf,.pdf\" required aria-describedby=\"file-hint\">\
         <p id=\"file-hint\" class=\"hint\" aria-live=\"polite\">{note}</p>\
         <button type=\"submit\">{submit}</button></form></section>",
        label = lang.pick("Chọn tệp PDF", "Choose a PDF file"),
        note = esc(&note),
        submit = lang.pick("Kiểm tra", "Check"),
    );
}

/// `GET /v/{id}`: what antin issued under the id, its status and its log proof, and the form.
pub fn document_page(lang: Lang, v: &DocView<'_>, max_upload: usize) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>{}</h1>",
        lang.pick("Thông tin văn bản đã ký số", "The signed document")
    );
    status_card(&mut body, lang, v);
    document_card(&mut body, lang, v);
    log_card(&mut body, lang, v);
    upload_form(&mut body, lang, Some(&v.rec.id), max_upload);
    layout(
        lang,
        lang.pick("Kiểm tra văn bản", "Document check"),
        &format!("/v/{}", v.rec.id),
        &body,
    )
}

/// `GET /verify`: the upload form alone.
pub fn verify_page(lang: Lang, max_upload: usize) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>{}</h1><p>{}</p>",
        lang.pick("Kiểm tra văn bản điện tử", "Check an electronic document"),
        lang.pick(
            "Tải lên tệp PDF để kiểm tra chữ ký số và đối chiếu với văn bản đã cấp.",
            "Upload a PDF to check its digital signatures and compare it with the document issued."
        ),
    );
    upload_form(&mut body, lang, None, max_upload);
    layout(
        lang,
        lang.pick("Kiểm tra tệp", "Check a file"),
        "/verify",
        &body,
    )
}

fn verdict_label(lang: Lang, v: Verdict) -> &'static str {
    match v {
        Verdict::TotalPassed => lang.pick("chữ ký hợp lệ", "signatures valid"),
        Verdict::TotalFailed => lang.pick("chữ ký không hợp lệ", "signatures invalid"),
        Verdict::Indeterminate => lang.pick("chưa xác định được", "indeterminate"),
        Verdict::NoSignature => lang.pick("không có chữ ký số", "no digital signature"),
    }
}

/// `POST /verify`: the verdict in one sentence, then the details on demand.
pub fn result_page(lang: Lang, r: &ResultView<'_>, max_upload: usize) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>{}</h1><section class=\"card state {c}\" data-light=\"{c}\" aria-live=\"polite\"><p class=\"big\">{}</p><p>{}</p>",
        lang.pick("Kết quả kiểm tra tệp", "Result of the check"),
        match r.light {
            Light::Green => lang.pick("Đạt", "Passed"),
            Light::Amber => lang.pick("Cần lưu ý", "Attention"),
            Light::Red => lang.pick("Không đạt", "Failed"),
        },
        esc(&r.sentence),
        c = r.light.as_str(),
    );
    if let Some((id, same)) = r.identical {
        let _ = write!(
            body,
            "<p data-identical=\"{same}\">{}</p>",
            esc(&match (lang, same) {
                (Lang::Vi, true) => format!("Tệp này giống hệt từng byte với văn bản antin đã cấp với mã {id}."),
                (Lang::Vi, false) => format!("Tệp này KHÔNG giống hệt từng byte với văn bản antin đã cấp với mã {id}."),
                (Lang::En, true) => format!("This file is byte-for-byte identical to the document antin issued as {id}."),
                (Lang::En, false) => format!("This file is NOT byte-for-byte identical to the document antin issued as {id}."),
            })
        );
    }
    body.push_str("</section>");
    if let Some(d) = &r.document {
        status_card(&mut body, lang, d);
        document_card(&mut body, lang, d);
    }
    let rep = r.report;
    let _ = write!(
        body,
        "<section class=\"card\"><details><summary>{}</summary><dl>",
        lang.pick("Chi tiết kiểm tra", "Details")
    );
    row(
        &mut body,
        lang.pick("Kết luận", "Verdict"),
        &format!(
            "{} (<code>{}</code>)",
            esc(verdict_label(lang, rep.verdict)),
            rep.verdict.as_str()
        ),
    );
    row(
        &mut body,
        lang.pick("Tóm tắt", "Summary"),
        &esc(match lang {
            Lang::Vi => &rep.summary.vi,
            Lang::En => &rep.summary.en,
        }),
    );
    row(
        &mut body,
        lang.pick("Thời điểm đánh giá", "Validated at"),
        &esc(&rep.validation_time),
    );
    row(
        &mut body,
        "SHA-256",
        &format!("<code>{}</code>", esc(&rep.document.sha256)),
    );
    row(
        &mut body,
        lang.pick("Kích thước", "Size"),
        &esc(&format!("{} bytes", rep.document.size)),
    );
    body.push_str("</dl>");
    for s in &rep.signatures {
        let _ = write!(
            body,
            "<h2>{} {}</h2><dl>",
            lang.pick("Chữ ký", "Signature"),
            s.index + 1
        );
        row(
            &mut body,
            lang.pick("Kết quả", "Result"),
            &format!(
                "<code>{}</code>{}",
                s.indication.as_str(),
                s.sub_indication
                    .map(|x| format!(" / <code>{}</code>", x.as_str()))
                    .unwrap_or_default()
            ),
        );
        if let Some(signer) = &s.signer {
            // Name and organisation as the certificate shows them; identifiers (CCCD, MST) never.
            let mut parts: Vec<&str> = Vec::new();
            for p in [signer.name.as_deref(), signer.organization.as_deref()]
                .into_iter()
                .flatten()
            {
                if !parts.contains(&p) {
                    parts.push(p);
                }
            }
            let who = parts.join(" — ");
            row(&mut body, lang.pick("Người ký", "Signer"), &esc(&who));
        }
        if let Some(t) = &s.signing_time {
            row(
                &mut body,
                lang.pick("Thời gian ký", "Signing time"),
                &esc(t),
            );
        }
        if let Some(l) = &s.level {
            row(
                &mut body,
                lang.pick("Mức", "Level"),
                &esc(&format!("PAdES {l}")),
            );
        }
        if !s.errors.is_empty() || !s.warnings.is_empty() {
            let mut notes = String::from("<ul>");
            for n in s.errors.iter().chain(&s.warnings) {
                let _ = write!(
                    notes,
                    "<li><code>{}</code> {}</li>",
                    esc(&n.code),
                    esc(&n.detail)
                );
            }
            notes.push_str("</ul>");
            row(&mut body, lang.pick("Ghi chú", "Notes"), &notes);
        }
        body.push_str("</dl>");
    }
    body.push_str("</details></section>");
    upload_form(&mut body, lang, r.identical.map(|(id, _)| id), max_upload);
    layout(
        lang,
        lang.pick("Kết quả kiểm tra", "Check result"),
        "/verify",
        &body,
    )
}

/// An error as a page (unknown id, malformed id, not a PDF, too large, too many requests).
pub fn error_page(lang: Lang, title: &str, message: &str, switch_to: &str) -> String {
    let body = format!(
        "<h1>{}</h1><section class=\"card state red\"><p>{}</p></section><p><a href=\"/verify?lang={}\">{}</a></p>",
        esc(title),
        esc(message),
        if lang == Lang::En { "en" } else { "vi" },
        lang.pick("Kiểm tra một tệp PDF", "Check a PDF file"),
    );
    layout(lang, title, switch_to, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(esc("Sở Tư pháp"), "Sở Tư pháp");
    }

    #[test]
    fn the_policy_allows_exactly_the_inline_style_and_script() {
        assert!(CSP.contains(&sha256_source(CSS)));
        assert!(CSP.contains(&sha256_source(JS)));
        assert!(!CSP.contains("unsafe-inline"));
        let page = verify_page(Lang::Vi, 20 << 20);
        assert!(page.contains(&format!("<style>{CSS}</style>")));
        assert!(page.contains(&format!("<script>{JS}</script>")));
        assert!(page.contains("<html lang=\"vi\">"));
        assert!(verify_page(Lang::En, 1 << 20).contains("<html lang=\"en\">"));
    }

    #[test]
    fn vietnam_time_for_people() {
        let t = crate::timefmt::parse_rfc3339("2026-12-02T04:47:50Z").unwrap();
        assert_eq!(vn_time(t), "02/12/2026 11:47:50 (UTC+07:00)");
    }
}
