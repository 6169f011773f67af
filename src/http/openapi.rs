//! The OpenAPI 3.1 document, maintained by hand in docs/openapi.json and served verbatim.

pub const DOCUMENT: &str = include_str!("../../docs/openapi.json");

#[cfg(test)]
mod tests {
    #[test]
    fn document_is_valid_json_with_the_routes() {
        let v: serde_json::Value = serde_json::from_str(super::DOCUMENT).unwrap();
        assert!(v["paths"]["/v1/verifications"]["post"].is_object());
        assert!(v["paths"]["/v1/verifications/{id}"]["get"].is_object());
        assert!(v["paths"]["/v1/payments"]["post"].is_object());
        assert!(v["paths"]["/callbacks/vnpay/ipn"]["get"].is_object());
        for (path, method) in [
            ("/v/{id}", "get"),
            ("/v1/documents/{id}/status", "get"),
            ("/v1/documents/{id}/revoke", "post"),
            ("/v1/documents/{id}/supersede", "post"),
            ("/verify", "get"),
            ("/verify", "post"),
        ] {
            assert!(v["paths"][path][method].is_object(), "{method} {path}");
        }
    }
}
