//! The report as text for clerks: Vietnamese by default (with the fields Circular 15/2025 requires:
//! issuer, signer, signing time or timestamp, integrity, validity at signing time, the certificate's
//! validity period), English on request.

use std::fmt::Write as _;

use super::diff::{Change, ChangeKind, Level};
use super::report::{
    Check, Indication, Report, RevocationStatusReport, SignatureKind, SignatureReport,
    SubIndication, TimeSource, Verdict,
};
use crate::i18n::Lang;

pub fn verdict_label(v: Verdict, lang: Lang) -> &'static str {
    match v {
        Verdict::TotalPassed => lang.pick("HỢP LỆ", "VALID"),
        Verdict::TotalFailed => lang.pick("KHÔNG HỢP LỆ", "INVALID"),
        Verdict::Indeterminate => lang.pick("CHƯA XÁC ĐỊNH ĐƯỢC", "INDETERMINATE"),
        Verdict::NoSignature => lang.pick("KHÔNG CÓ CHỮ KÝ SỐ", "NO SIGNATURE"),
    }
}

fn indication_label(i: Indication, lang: Lang) -> &'static str {
    match i {
        Indication::TotalPassed => lang.pick("Hợp lệ", "Valid"),
        Indication::TotalFailed => lang.pick("Không hợp lệ", "Invalid"),
        Indication::Indeterminate => lang.pick("Chưa xác định được", "Indeterminate"),
    }
}

/// One sentence on what a sub-indication means for the reader.
pub fn sub_indication_text(s: SubIndication, lang: Lang) -> &'static str {
    use SubIndication as S;
    match s {
        S::FormatFailure => lang.pick(
            "Chữ ký sai định dạng hoặc không bao phủ tài liệu theo chuẩn.",
            "The signature is malformed or does not cover the document in the standard way.",
        ),
        S::HashFailure => lang.pick(
            "Nội dung tài liệu đã bị thay đổi sau khi ký.",
            "The document's content was changed after signing.",
        ),
        S::SigCryptoFailure => lang.pick(
            "Giá trị chữ ký không khớp với khóa công khai của chứng thư.",
            "The signature value does not verify with the certificate's public key.",
        ),
        S::Revoked => lang.pick(
            "Chứng thư của người ký đã bị thu hồi trước thời điểm ký.",
            "The signer's certificate was revoked before the signing time.",
        ),
        S::Expired => lang.pick(
            "Chứng thư của người ký đã hết hạn tại thời điểm ký.",
            "The signer's certificate had expired at the signing time.",
        ),
        S::NotYetValid => lang.pick(
            "Chứng thư của người ký chưa có hiệu lực tại thời điểm ký.",
            "The signer's certificate was not yet valid at the signing time.",
        ),
        S::ModifiedAfterSigning => lang.pick(
            "Tài liệu có thay đổi không được phép sau khi ký.",
            "The document has disallowed changes after signing.",
        ),
        S::SignerIdMismatch => lang.pick(
            "Không có chữ ký nào mang số định danh được yêu cầu.",
            "No signature carries the expected identifier.",
        ),
        S::NoCertificateChainFound => lang.pick(
            "Không xây dựng được đường dẫn chứng thư tới một tổ chức cung cấp dịch vụ tin cậy.",
            "No certification path to a trust anchor could be built.",
        ),
        S::NoSigningCertificateFound => lang.pick(
            "Không tìm thấy chứng thư của người ký.",
            "The signer's certificate was not found.",
        ),
        S::CertificateChainGeneralFailure => lang.pick(
            "Đường dẫn chứng thư không hợp lệ.",
            "The certification path is invalid.",
        ),
        S::ChainConstraintsFailure => lang.pick(
            "Đường dẫn chứng thư vi phạm ràng buộc (basic constraints, name constraints, chính sách).",
            "The certification path violates its constraints (basic, name or policy constraints).",
        ),
        S::SigConstraintsFailure => lang.pick(
            "Chứng thư không được phép dùng để ký (key usage).",
            "The certificate may not be used for signing (key usage).",
        ),
        S::CryptoConstraintsFailure | S::CryptoConstraintsFailureNoPoe => lang.pick(
            "Thuật toán hoặc độ dài khóa không được phép theo Thông tư 15/2025 (ví dụ SHA-1, RSA < 2048).",
            "An algorithm or key size not allowed by Circular 15/2025 (e.g. SHA-1, RSA < 2048).",
        ),
        S::RevokedNoPoe | S::RevokedCaNoPoe => lang.pick(
            "Chứng thư đã bị thu hồi và không có bằng chứng chữ ký tồn tại trước thời điểm thu hồi.",
            "The certificate is revoked and nothing proves the signature existed before.",
        ),
        S::OutOfBoundsNoPoe | S::OutOfBoundsNotRevoked => lang.pick(
            "Chứng thư đã hết hạn và không có dấu thời gian chứng minh chữ ký được tạo trước đó.",
            "The certificate has expired and no timestamp proves the signature existed earlier.",
        ),
        S::RevocationOutOfBoundsNoPoe => lang.pick(
            "Thông tin thu hồi nằm ngoài thời hạn hiệu lực.",
            "The revocation information is outside its validity period.",
        ),
        S::TryLater => lang.pick(
            "Chưa kiểm tra được tình trạng thu hồi của chứng thư (CRL/OCSP); hãy thử lại sau.",
            "The certificate's revocation status could not be checked (CRL/OCSP); try again later.",
        ),
        S::TimestampOrderFailure => lang.pick(
            "Thứ tự các dấu thời gian không hợp lệ.",
            "The timestamps are not in a valid order.",
        ),
        S::SignedDataNotFound => lang.pick(
            "Không tìm thấy dữ liệu đã ký.",
            "The signed data was not found.",
        ),
        S::PolicyProcessingError => lang.pick(
            "Lỗi khi áp dụng chính sách kiểm tra.",
            "The validation policy could not be applied.",
        ),
        S::NoPoe => lang.pick(
            "Không có bằng chứng về thời điểm tồn tại của chữ ký.",
            "No proof of existence for the signature.",
        ),
    }
}

fn check_label(c: Check, lang: Lang) -> &'static str {
    match c {
        Check::Passed => lang.pick("đạt", "passed"),
        Check::Failed => lang.pick("KHÔNG ĐẠT", "FAILED"),
        Check::Warning => lang.pick("cảnh báo", "warning"),
        Check::NotChecked => lang.pick("không kiểm tra", "not checked"),
    }
}

/// Renders the whole report.
/// What one disallowed change means, in words for a clerk.
fn change_words(c: &Change, lang: Lang) -> String {
    let page = c.page.map(|p| p.to_string()).unwrap_or_else(|| "?".into());
    match c.kind {
        ChangeKind::PageAdded => {
            let n = c
                .detail
                .split_whitespace()
                .next()
                .and_then(|w| w.parse::<usize>().ok())
                .unwrap_or(1);
            format!(
                "{} {n} {}",
                lang.pick("thêm", "added"),
                lang.pick("trang", "page(s)")
            )
        }
        ChangeKind::PageRemoved => lang.pick("xóa trang", "removed pages").to_owned(),
        ChangeKind::PageContent => match c.page {
            Some(_) => format!(
                "{} {page}",
                lang.pick("sửa nội dung trang", "changed the content of page")
            ),
            None => lang
                .pick("thay đổi thứ tự hoặc cây trang", "changed the page tree")
                .to_owned(),
        },
        ChangeKind::Annotation => format!(
            "{} {page}",
            lang.pick(
                "thêm hoặc sửa chú thích trên trang",
                "added or changed an annotation on page"
            )
        ),
        ChangeKind::SignatureField => lang
            .pick(
                "thêm trường chữ ký có hình hiển thị che nội dung hoặc không được phép",
                "added a signature field that covers content or is not allowed",
            )
            .to_owned(),
        ChangeKind::FormFill => format!(
            "{} {}",
            lang.pick(
                "điền trường biểu mẫu không được phép",
                "filled a form field that may not change"
            ),
            c.field.as_deref().unwrap_or("")
        ),
        ChangeKind::FormStructure => lang
            .pick("thay đổi cấu trúc biểu mẫu", "changed the form's structure")
            .to_owned(),
        ChangeKind::Catalog => lang
            .pick(
                "thay đổi hoặc thay thế cấu trúc gốc của tài liệu",
                "changed or replaced the document catalog",
            )
            .to_owned(),
        ChangeKind::ObjectRedefined | ChangeKind::ObjectDeleted => format!(
            "{} {}",
            lang.pick("thay đổi đối tượng", "changed object"),
            c.object.as_deref().unwrap_or("")
        ),
        ChangeKind::Signature | ChangeKind::DocumentTimestamp => lang
            .pick(
                "thay thế hoặc thêm chữ ký không được phép",
                "replaced or added a signature that is not allowed",
            )
            .to_owned(),
        ChangeKind::ValidationData | ChangeKind::Metadata | ChangeKind::Structure => lang
            .pick("thay đổi dữ liệu khác", "changed other data")
            .to_owned(),
    }
}

/// One plain sentence on what the result means for the document, for the clerk.
pub fn summary(report: &Report, lang: Lang) -> String {
    if report.signatures.is_empty() {
        return lang
            .pick(
                "Tài liệu không có chữ ký số nào.",
                "The document carries no digital signature.",
            )
            .to_owned();
    }
    if let Some(d) = report
        .document
        .changes
        .iter()
        .find(|d| d.level == Level::Disallowed)
    {
        let mut words: Vec<String> = Vec::new();
        for c in d.disallowed() {
            let w = change_words(c, lang);
            if !words.contains(&w) {
                words.push(w);
            }
        }
        words.truncate(4);
        return format!(
            "{}: {}.",
            lang.pick(
                "Tài liệu đã bị sửa đổi sau khi ký",
                "The document was modified after signing"
            ),
            words.join(", ")
        );
    }
    if let Some(s) = report
        .signatures
        .iter()
        .find(|s| s.indication != Indication::TotalPassed)
    {
        if let Some(sub) = s.sub_indication {
            return sub_indication_text(sub, lang).to_owned();
        }
    }
    let n = report
        .signatures
        .iter()
        .filter(|s| s.kind == SignatureKind::Signature)
        .count();
    let permitted = report
        .document
        .changes
        .iter()
        .any(|d| d.level == Level::Permitted);
    match (report.verdict, permitted) {
        (Verdict::TotalPassed, false) => format!(
            "{} {n} {}",
            lang.pick("Tài liệu còn nguyên vẹn từ khi ký;", "The document is unchanged since it was signed;"),
            lang.pick("chữ ký số hợp lệ.", "valid signature(s).")
        ),
        (Verdict::TotalPassed, true) => format!(
            "{} {n} {}",
            lang.pick(
                "Tài liệu chỉ có các thay đổi được phép sau khi ký (chữ ký tiếp theo, dữ liệu xác thực, điền biểu mẫu);",
                "The document has only permitted changes after signing (later signatures, validation data, form filling);"
            ),
            lang.pick("chữ ký số hợp lệ.", "valid signature(s).")
        ),
        _ => lang
            .pick(
                "Chưa xác định được tính hợp lệ của chữ ký; cần kiểm tra lại sau hoặc xem xét thủ công.",
                "The signatures could not be fully validated; try again later or review by hand.",
            )
            .to_owned(),
    }
}

pub fn render(report: &Report, lang: Lang) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} ({})",
        lang.pick("KẾT QUẢ", "RESULT"),
        verdict_label(report.verdict, lang),
        report.verdict.as_str()
    );
    let _ = writeln!(out, "{}", summary(report, lang));
    let _ = writeln!(
        out,
        "{}: {}  ({} {} byte, SHA-256 {})",
        lang.pick("Tài liệu", "Document"),
        if report.document.detached {
            lang.pick("dữ liệu ký rời (CMS)", "detached data (CMS)")
        } else {
            "PDF"
        },
        lang.pick("kích thước", "size"),
        report.document.size,
        report.document.sha256
    );
    let _ = writeln!(
        out,
        "{}: {}",
        lang.pick("Thời điểm kiểm tra", "Validation time"),
        report.validation_time
    );
    if let Some(e) = &report.expected_signer_id {
        let _ = writeln!(
            out,
            "{}: {} — {}",
            lang.pick("Định danh người ký yêu cầu", "Expected signer identifier"),
            e.value,
            if e.found {
                lang.pick("có", "found")
            } else {
                lang.pick("KHÔNG CÓ", "NOT FOUND")
            }
        );
    }
    if report.signatures.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            lang.pick(
                "Tài liệu không có chữ ký số nào.",
                "The document carries no digital signature."
            )
        );
    }
    for sig in &report.signatures {
        out.push('\n');
        render_signature(&mut out, sig, lang);
    }
    for d in &report.document.changes {
        if d.level == Level::None {
            continue;
        }
        out.push('\n');
        let _ = writeln!(
            out,
            "{} {} ({}): {}",
            lang.pick("Bản cập nhật", "Update"),
            d.revision,
            lang.pick("sau khi ký", "after signing"),
            match d.level {
                Level::Disallowed => lang.pick("CÓ THAY ĐỔI KHÔNG ĐƯỢC PHÉP", "DISALLOWED CHANGES"),
                _ => lang.pick("chỉ có thay đổi được phép", "permitted changes only"),
            }
        );
        for c in d
            .changes
            .iter()
            .filter(|c| c.kind != ChangeKind::Structure)
            .take(30)
        {
            let _ = writeln!(out, "  {} {}", if c.allowed { "+" } else { "!" }, c.detail);
        }
    }
    if !report.warnings.is_empty() {
        out.push('\n');
        let _ = writeln!(out, "{}:", lang.pick("Cảnh báo chung", "General warnings"));
        for w in &report.warnings {
            let _ = writeln!(out, "  - [{}] {}", w.code, w.detail);
        }
    }
    out
}

fn render_signature(out: &mut String, sig: &SignatureReport, lang: Lang) {
    let title = match sig.kind {
        SignatureKind::Signature => lang.pick("Chữ ký", "Signature"),
        SignatureKind::DocumentTimestamp => {
            lang.pick("Dấu thời gian tài liệu", "Document timestamp")
        }
    };
    let _ = writeln!(
        out,
        "{} #{}{}: {} ({}{})",
        title,
        sig.index + 1,
        sig.field_name
            .as_deref()
            .map(|f| format!(" [{f}]"))
            .unwrap_or_default(),
        indication_label(sig.indication, lang),
        sig.indication.as_str(),
        sig.sub_indication
            .map(|s| format!(" / {}", s.as_str()))
            .unwrap_or_default()
    );
    if let Some(s) = sig.sub_indication {
        let _ = writeln!(out, "  {}", sub_indication_text(s, lang));
    }
    let field = |out: &mut String, label_vi: &str, label_en: &str, value: &str| {
        let _ = writeln!(
            out,
            "  {:<34} {}",
            format!("{}:", lang.pick(label_vi, label_en)),
            value
        );
    };
    if let Some(signer) = &sig.signer {
        field(
            out,
            "Người ký",
            "Signer",
            signer.name.as_deref().unwrap_or(&signer.subject),
        );
        if let Some(o) = &signer.organization {
            field(out, "Tổ chức", "Organisation", o);
        }
        for id in &signer.identifiers {
            field(
                out,
                "Số định danh",
                "Identifier",
                &format!("{}:{}", id.kind, id.value),
            );
        }
        field(
            out,
            "Chủ thể chứng thư",
            "Certificate subject",
            &signer.subject,
        );
        field(out, "Tổ chức cấp chứng thư", "Issuer", &signer.issuer);
        field(
            out,
            "Số hiệu chứng thư",
            "Certificate serial",
            &signer.serial,
        );
        field(
            out,
            "Thời hạn chứng thư",
            "Certificate validity",
            &format!("{} → {}", signer.not_before, signer.not_after),
        );
    }
    let time_source = match sig.signing_time_source {
        TimeSource::Timestamp => lang.pick("theo dấu thời gian", "from a timestamp"),
        TimeSource::Claimed => lang.pick(
            "do người ký khai báo, chưa được chứng minh",
            "claimed by the signer, not proven",
        ),
        TimeSource::ValidationTime => lang.pick("thời điểm kiểm tra", "validation time"),
    };
    field(
        out,
        "Thời gian ký",
        "Signing time",
        &format!(
            "{} ({})",
            sig.signing_time.as_deref().unwrap_or("—"),
            time_source
        ),
    );
    if let Some(ts) = &sig.timestamp {
        field(
            out,
            "Dấu thời gian",
            "Timestamp",
            &format!(
                "{} — {} {} ({})",
                ts.time,
                lang.pick("TSA", "TSA"),
                ts.tsa.as_deref().unwrap_or("?"),
                indication_label(ts.indication, lang)
            ),
        );
    }
    let c = &sig.checks;
    field(
        out,
        "Tính toàn vẹn",
        "Integrity",
        check_label(c.integrity, lang),
    );
    field(
        out,
        "Giá trị chữ ký",
        "Signature value",
        check_label(c.signature_value, lang),
    );
    field(
        out,
        "Ràng buộc chứng thư ký (ESS)",
        "Signing certificate binding (ESS)",
        check_label(c.signing_certificate_binding, lang),
    );
    field(
        out,
        "Đường dẫn chứng thư",
        "Certification path",
        check_label(c.certificate_path, lang),
    );
    field(
        out,
        "Hiệu lực tại thời điểm ký",
        "Validity at signing time",
        check_label(c.validity_at_signing_time, lang),
    );
    field(
        out,
        "Tình trạng thu hồi",
        "Revocation status",
        check_label(c.revocation, lang),
    );
    field(
        out,
        "Thuật toán",
        "Algorithms",
        check_label(c.algorithms, lang),
    );
    if let Some(a) = &sig.algorithms {
        let _ = writeln!(
            out,
            "  {:<34} {} / {} / {}",
            "", a.digest, a.signature, a.public_key
        );
    }
    if !sig.chain.is_empty() {
        let _ = writeln!(
            out,
            "  {}:",
            lang.pick("Đường dẫn chứng thư", "Certification path")
        );
        for (i, cert) in sig.chain.iter().enumerate() {
            let _ = writeln!(
                out,
                "    {}. {}{}",
                i + 1,
                cert.subject,
                if cert.trust_anchor {
                    lang.pick("  [gốc tin cậy]", "  [trust anchor]")
                } else {
                    ""
                }
            );
        }
    }
    for r in &sig.revocation {
        let status = match r.status {
            RevocationStatusReport::Good => lang.pick("chưa bị thu hồi", "not revoked"),
            RevocationStatusReport::Revoked => lang.pick("ĐÃ BỊ THU HỒI", "REVOKED"),
            RevocationStatusReport::Unknown => lang.pick("không xác định", "unknown"),
            RevocationStatusReport::NotChecked => lang.pick("không kiểm tra", "not checked"),
        };
        let _ = writeln!(
            out,
            "  {} {}: {}{}{}",
            lang.pick("Thu hồi —", "Revocation —"),
            r.subject,
            status,
            r.source
                .as_deref()
                .map(|s| format!(
                    " ({} {})",
                    s.to_uppercase(),
                    r.origin.as_deref().unwrap_or("")
                ))
                .unwrap_or_default(),
            r.revoked_at
                .as_deref()
                .map(|t| format!(", {} {t}", lang.pick("thu hồi lúc", "revoked at")))
                .unwrap_or_default()
        );
    }
    if let Some(cov) = &sig.coverage {
        let what = match cov.status.as_str() {
            "whole_file" => lang.pick("toàn bộ tài liệu", "the whole document"),
            "revision" => lang.pick(
                "một phiên bản trước, có cập nhật sau khi ký",
                "an earlier revision; the document was updated after signing",
            ),
            _ => lang.pick("KHÔNG THEO CHUẨN", "NON-STANDARD"),
        };
        field(out, "Phạm vi ký", "Coverage", what);
    }
    for e in &sig.errors {
        let _ = writeln!(
            out,
            "  {} [{}] {}",
            lang.pick("Lỗi:", "Error:"),
            e.code,
            e.detail
        );
    }
    for w in &sig.warnings {
        let _ = writeln!(
            out,
            "  {} [{}] {}",
            lang.pick("Cảnh báo:", "Warning:"),
            w.code,
            w.detail
        );
    }
}
