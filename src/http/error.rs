//! The one error boundary of the HTTP API: every failure becomes a JSON body with a stable machine
//! code and a human message (Vietnamese or English, from Accept-Language). Internal details are
//! logged, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::i18n::Lang;

/// Stable error codes. Clients match on these; never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadRequest,
    PayloadTooLarge,
    UnsupportedDocument,
    Timeout,
    Overloaded,
    Internal,
    Unavailable,
    /// The resource's state does not allow the operation (e.g. cancelling a paid payment).
    InvalidState,
    /// The same Idempotency-Key came with a different request.
    IdempotencyKeyReused,
    /// The first request with this Idempotency-Key is still being processed.
    IdempotencyInFlight,
    /// A mutating payment call without an Idempotency-Key.
    IdempotencyKeyRequired,
    /// The payment gateway could not be reached (nothing was charged).
    GatewayUnavailable,
    /// Too many requests from one client address to the public pages (Retry-After says when).
    RateLimited,
    /// A reconciliation file breaks its format or does not balance (`problems` lists file, line
    /// and reason).
    ReconFileRejected,
    /// No such discrepancy, or no reconciliation run for the day asked.
    ReconNotFound,
    /// The discrepancy was resolved before (resolutions are never edited).
    ReconAlreadyResolved,
}

impl ErrorCode {
    /// Every code (the OpenAPI document lists them all: src/http/openapi.rs tests it).
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::BadRequest,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedDocument,
        ErrorCode::Timeout,
        ErrorCode::Overloaded,
        ErrorCode::Internal,
        ErrorCode::Unavailable,
        ErrorCode::InvalidState,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::IdempotencyInFlight,
        ErrorCode::IdempotencyKeyRequired,
        ErrorCode::GatewayUnavailable,
        ErrorCode::RateLimited,
        ErrorCode::ReconFileRejected,
        ErrorCode::ReconNotFound,
        ErrorCode::ReconAlreadyResolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedDocument => "unsupported_document",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::Internal => "internal_error",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::InvalidState => "invalid_state",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::IdempotencyInFlight => "idempotency_key_in_flight",
            ErrorCode::IdempotencyKeyRequired => "idempotency_key_required",
            ErrorCode::GatewayUnavailable => "gateway_unavailable",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ReconFileRejected => "recon_file_rejected",
            ErrorCode::ReconNotFound => "recon_not_found",
            ErrorCode::ReconAlreadyResolved => "recon_already_resolved",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedDocument => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Timeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::InvalidState => StatusCode::CONFLICT,
            ErrorCode::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::IdempotencyInFlight => StatusCode::CONFLICT,
            ErrorCode::IdempotencyKeyRequired => StatusCode::BAD_REQUEST,
            ErrorCode::GatewayUnavailable => StatusCode::BAD_GATEWAY,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::ReconFileRejected => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ReconNotFound => StatusCode::NOT_FOUND,
            ErrorCode::ReconAlreadyResolved => StatusCode::CONFLICT,
        }
    }

    pub fn message(self, lang: Lang) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => lang.pick(
                "Chưa xác thực: thiếu khóa API hợp lệ hoặc chứng thư máy khách.",
                "Not authenticated: a valid API key or client certificate is required.",
            ),
            ErrorCode::Forbidden => lang.pick(
                "Vai trò của bạn không được phép thực hiện thao tác này.",
                "Your role is not allowed to do this.",
            ),
            ErrorCode::NotFound => lang.pick("Không tìm thấy.", "Not found."),
            ErrorCode::BadRequest => lang.pick("Yêu cầu không hợp lệ.", "Bad request."),
            ErrorCode::PayloadTooLarge => lang.pick(
                "Tệp tải lên vượt quá dung lượng cho phép.",
                "The upload is larger than allowed.",
            ),
            ErrorCode::UnsupportedDocument => {
                lang.pick("Không đọc được tài liệu.", "The document cannot be read.")
            }
            ErrorCode::Timeout => lang.pick("Quá thời gian xử lý.", "The request timed out."),
            ErrorCode::Overloaded => lang.pick(
                "Hệ thống đang quá tải, vui lòng thử lại sau.",
                "The service is overloaded; try again later.",
            ),
            ErrorCode::Internal => lang.pick("Lỗi nội bộ.", "Internal error."),
            ErrorCode::Unavailable => lang.pick(
                "Dịch vụ tạm thời không sẵn sàng.",
                "The service is temporarily unavailable.",
            ),
            ErrorCode::InvalidState => lang.pick(
                "Trạng thái hiện tại không cho phép thao tác này.",
                "The current state does not allow this.",
            ),
            ErrorCode::IdempotencyKeyReused => lang.pick(
                "Khóa Idempotency-Key đã được dùng cho một yêu cầu khác.",
                "This Idempotency-Key was used for a different request.",
            ),
            ErrorCode::IdempotencyInFlight => lang.pick(
                "Yêu cầu đầu tiên với khóa Idempotency-Key này đang được xử lý.",
                "The first request with this Idempotency-Key is still being processed.",
            ),
            ErrorCode::IdempotencyKeyRequired => lang.pick(
                "Thiếu tiêu đề Idempotency-Key.",
                "The Idempotency-Key header is required.",
            ),
            ErrorCode::GatewayUnavailable => lang.pick(
                "Cổng thanh toán tạm thời không kết nối được; chưa có khoản tiền nào bị trừ.",
                "The payment gateway cannot be reached; nothing was charged.",
            ),
            ErrorCode::RateLimited => lang.pick(
                "Quá nhiều yêu cầu từ địa chỉ của bạn; vui lòng thử lại sau ít phút.",
                "Too many requests from your address; try again in a moment.",
            ),
            ErrorCode::ReconFileRejected => lang.pick(
                "Tệp đối soát bị từ chối: sai định dạng hoặc không khớp với số tổng của chính nó.",
                "The reconciliation file was rejected: malformed, or it does not balance against \
                 its own totals.",
            ),
            ErrorCode::ReconNotFound => lang.pick(
                "Không tìm thấy chênh lệch hoặc lần đối soát.",
                "No such discrepancy or reconciliation run.",
            ),
            ErrorCode::ReconAlreadyResolved => lang.pick(
                "Chênh lệch này đã được xử lý trước đó.",
                "This discrepancy was already resolved.",
            ),
        }
    }
}

/// An API error: a code, and optionally a detail safe to show (e.g. which form field is missing)
/// and structured fields safe to show (e.g. a rejected file's problems).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: Option<String>,
    /// Added to the `error` object next to `code` and `message`.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    pub fn new(code: ErrorCode) -> Self {
        ApiError {
            code,
            detail: None,
            fields: serde_json::Map::new(),
        }
    }

    pub fn with_detail(code: ErrorCode, detail: impl Into<String>) -> Self {
        ApiError {
            detail: Some(detail.into()),
            ..ApiError::new(code)
        }
    }

    /// Adds a structured field to the `error` object (`code`, `message` and `detail` are
    /// reserved and never overwritten).
    pub fn field(mut self, name: &str, value: serde_json::Value) -> Self {
        if !matches!(name, "code" | "message" | "detail") {
            self.fields.insert(name.to_owned(), value);
        }
        self
    }

    /// Logs the full internal error and returns a generic one.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        ApiError::new(ErrorCode::Internal)
    }

    pub fn render(&self, lang: Lang) -> Response {
        let mut body = serde_json::json!({
            "error": {
                "code": self.code.as_str(),
                "message": self.code.message(lang),
            }
        });
        if let Some(detail) = &self.detail {
            body["error"]["detail"] = serde_json::Value::String(detail.clone());
        }
        for (k, v) in &self.fields {
            body["error"][k] = v.clone();
        }
        (self.code.status(), axum::Json(body)).into_response()
    }
}

impl IntoResponse for ApiError {
    /// Rendered in Vietnamese here; the `localize` middleware re-renders it in the caller's language.
    fn into_response(self) -> Response {
        let mut resp = self.render(Lang::Vi);
        resp.extensions_mut().insert(self);
        resp
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::internal(e)
    }
}
