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

    #[test]
    fn reconciliation_routes_error_codes_and_classes_are_documented() {
        let v: serde_json::Value = serde_json::from_str(super::DOCUMENT).unwrap();
        for (path, method) in [
            ("/v1/reconciliation/imports", "post"),
            ("/v1/reconciliation/runs", "post"),
            ("/v1/reconciliation/reports/{date}", "get"),
            ("/v1/reconciliation/discrepancies", "get"),
            ("/v1/reconciliation/discrepancies/{id}", "get"),
            ("/v1/reconciliation/discrepancies/{id}/resolve", "post"),
        ] {
            assert!(v["paths"][path][method].is_object(), "{method} {path}");
        }
        let listed = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_owned())
                .collect()
        };
        let codes = listed(
            &v["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]
                ["enum"],
        );
        let ours: Vec<String> = crate::http::error::ErrorCode::ALL
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect();
        assert_eq!(
            codes, ours,
            "docs/openapi.json lists every error code, in order"
        );
        let classes = listed(
            &v["components"]["schemas"]["ReconDiscrepancy"]["properties"]["discrepancy"]
                ["properties"]["class"]["enum"],
        );
        let ours: Vec<String> = crate::recon::Class::ALL
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect();
        assert_eq!(classes, ours);
    }
}
