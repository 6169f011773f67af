//! The connectors' HTTP client paths against small local servers: a timeout is Unknown, a
//! response with a bad signature is Unknown, an oversized or non-JSON body is Unknown, the
//! circuit breaker opens and refuses without sending, queries are retried and creates/refunds
//! are not (except MoMo's, keyed by requestId).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use antin::i18n::Lang;
use antin::pay::connector::{
    Connector, GatewayError, QueryRequest, RefundOutcome, RefundRequest, ReportedStatus,
    StartOutcome, StartRequest,
};
use antin::pay::gateways::breaker::BreakerConfig;
use antin::pay::gateways::transport::HttpConfig;
use antin::pay::gateways::{momo, vnpay, zalopay};
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use secrecy::SecretString;
use serde_json::{Map, Value};
use time::macros::datetime;

const VNPAY_SECRET: &str = "ANTINDEVVNPAYSECRET0000000000000";

#[derive(Clone)]
struct Srv {
    hits: Arc<AtomicUsize>,
    behaviour: Arc<dyn Fn(usize, Value) -> (u16, String) + Send + Sync>,
}

async fn handler(
    State(s): State<Srv>,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, String) {
    let n = s.hits.fetch_add(1, Ordering::SeqCst);
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (status, text) = (s.behaviour)(n, v);
    if status == 0 {
        // Never answer in time.
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    (
        axum::http::StatusCode::from_u16(status.max(200)).unwrap(),
        text,
    )
}

/// Serves `behaviour` on every path; returns the base URL and the hit counter.
async fn serve(
    behaviour: impl Fn(usize, Value) -> (u16, String) + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let state = Srv {
        hits: hits.clone(),
        behaviour: Arc::new(behaviour),
    };
    let app = Router::new()
        .route("/{*path}", post(handler))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), hits)
}

fn http(retries: u32, failure_threshold: u32) -> HttpConfig {
    HttpConfig {
        connect_timeout_ms: 500,
        timeout_ms: 300,
        max_response_bytes: 4096,
        retries,
        retry_backoff_ms: 10,
        breaker: BreakerConfig {
            failure_threshold,
            window_secs: 60,
            cool_down_secs: 3600,
        },
        ca_bundle: None,
    }
}

fn vnpay_connector(base: &str, h: HttpConfig) -> vnpay::VnpayConnector {
    vnpay::VnpayConnector::new(vnpay::VnpayConfig {
        base_url: base.into(),
        tmn_code: "ANTINDEV".into(),
        hash_secret: Some(SecretString::from(VNPAY_SECRET)),
        hash_secret_env: None,
        order_type: "other".into(),
        bank_code: None,
        http: h,
    })
    .unwrap()
}

fn query() -> QueryRequest {
    QueryRequest {
        gateway_ref: "A1".into(),
        created_at: datetime!(2025-11-22 03:30:00 UTC),
        gateway_txn_id: None,
        client_ip: "127.0.0.1".into(),
    }
}

/// A querydr answer signed with `secret`.
fn querydr_answer(secret: &str, status: &str) -> String {
    let mut o = Map::new();
    for (k, v) in [
        ("vnp_ResponseId", "r1"),
        ("vnp_Command", "querydr"),
        ("vnp_ResponseCode", "00"),
        ("vnp_Message", "QueryDR Success"),
        ("vnp_TmnCode", "ANTINDEV"),
        ("vnp_TxnRef", "A1"),
        ("vnp_Amount", "5000000"),
        ("vnp_BankCode", "NCB"),
        ("vnp_PayDate", "20251122103512"),
        ("vnp_TransactionNo", "14226112"),
        ("vnp_TransactionType", "01"),
        ("vnp_TransactionStatus", status),
    ] {
        o.insert(k.into(), Value::String(v.into()));
    }
    let joined = vnpay::api::joined(&vnpay::api::QUERYDR_RESPONSE_FIELDS, &o);
    o.insert(
        "vnp_SecureHash".into(),
        Value::String(vnpay::api::sign_joined(secret.as_bytes(), &joined)),
    );
    Value::Object(o).to_string()
}

#[tokio::test]
async fn vnpay_querydr_signed_answer_is_trusted_and_the_request_is_signed() {
    let (base, hits) = serve(|_, req| {
        // The request carries a valid hash over the published field order.
        let o = req.as_object().unwrap();
        let joined = vnpay::api::joined(&vnpay::api::QUERYDR_REQUEST_FIELDS, o);
        assert_eq!(
            o["vnp_SecureHash"],
            vnpay::api::sign_joined(VNPAY_SECRET.as_bytes(), &joined)
        );
        assert_eq!(o["vnp_TransactionDate"], "20251122103000");
        (200, querydr_answer(VNPAY_SECRET, "00"))
    })
    .await;
    let c = vnpay_connector(&base, http(2, 5));
    let r = c.query(&query()).await.unwrap();
    assert_eq!(r.status, ReportedStatus::Succeeded);
    assert_eq!(r.amount_vnd, 50_000);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn vnpay_answer_with_a_bad_signature_is_unknown_after_bounded_retries() {
    let (base, hits) = serve(|_, _| (200, querydr_answer("not the secret", "00"))).await;
    let c = vnpay_connector(&base, http(2, 10));
    let e = c.query(&query()).await.unwrap_err();
    assert!(matches!(e, GatewayError::Unknown { .. }), "{e}");
    assert!(e.to_string().contains("vnp_SecureHash"), "{e}");
    assert_eq!(hits.load(Ordering::SeqCst), 3, "one try and two retries");
}

#[tokio::test]
async fn timeouts_oversized_and_non_json_bodies_are_unknown() {
    let (base, _) = serve(|n, _| match n {
        0 => (0, String::new()),
        1 => (200, "x".repeat(10_000)),
        2 => (200, "\u{fffd}not json".into()),
        _ => (502, "bad gateway".into()),
    })
    .await;
    let c = vnpay_connector(&base, http(0, 10));
    for expect in ["timeout", "over 4096", "not JSON", "HTTP 502"] {
        let e = c.query(&query()).await.unwrap_err();
        assert!(
            matches!(e, GatewayError::Unknown { .. }) && e.to_string().contains(expect),
            "{expect}: {e}"
        );
    }
}

#[tokio::test]
async fn the_breaker_opens_and_nothing_more_is_sent() {
    let (base, hits) = serve(|_, _| (500, "down".into())).await;
    let c = vnpay_connector(&base, http(0, 3));
    for _ in 0..3 {
        assert!(matches!(
            c.query(&query()).await,
            Err(GatewayError::Unknown { .. })
        ));
    }
    for _ in 0..5 {
        assert!(matches!(
            c.query(&query()).await,
            Err(GatewayError::Unavailable { .. })
        ));
    }
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

fn refund_request() -> RefundRequest {
    RefundRequest {
        refund_ref: "R1".into(),
        gateway_ref: "A1".into(),
        gateway_txn_id: Some("4088878653".into()),
        amount_vnd: 50_000,
        full: true,
        reason: "Hoàn phí".into(),
        original_created_at: datetime!(2025-11-22 03:30:00 UTC),
        created_at: datetime!(2025-11-23 03:30:00 UTC),
        created_by: "officer1".into(),
        client_ip: "127.0.0.1".into(),
    }
}

#[tokio::test]
async fn vnpay_refund_is_never_retried() {
    let (base, hits) = serve(|_, _| (503, "busy".into())).await;
    let c = vnpay_connector(&base, http(3, 10));
    assert!(matches!(
        c.refund(&refund_request()).await,
        Err(GatewayError::Unknown { .. })
    ));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

fn momo_connector(base: &str) -> momo::MomoConnector {
    momo::MomoConnector::new(momo::MomoConfig {
        base_url: base.into(),
        partner_code: "MOMOANTIN".into(),
        access_key: "ANTINDEVACCESS".into(),
        secret_key: Some(SecretString::from("ANTINDEVMOMOSECRET00000000000000")),
        secret_key_env: None,
        http: http(2, 10),
    })
    .unwrap()
}

fn start() -> StartRequest {
    StartRequest {
        attempt_ref: "A1".into(),
        amount_vnd: 50_000,
        order_info: "Lệ phí hồ sơ".into(),
        created_at: datetime!(2025-11-22 03:30:00 UTC),
        expires_at: datetime!(2025-11-22 03:45:00 UTC),
        return_url: "https://dvc.example/return".into(),
        callback_url: "https://antin.example/cb/momo".into(),
        client_ip: "127.0.0.1".into(),
        lang: Lang::Vi,
    }
}

#[tokio::test]
async fn momo_create_is_retried_with_the_same_request_id() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen2 = seen.clone();
    let (base, hits) = serve(move |n, req| {
        seen2
            .lock()
            .unwrap()
            .push(req["requestId"].as_str().unwrap().to_owned());
        if n == 0 {
            return (0, String::new());
        }
        let ok = serde_json::json!({"partnerCode":"MOMOANTIN","orderId":"A1","requestId":"A1",
            "amount":50000,"resultCode":0,"message":"ok","payUrl":"https://pay.example/x"});
        (200, ok.to_string())
    })
    .await;
    let c = momo_connector(&base);
    let out = c.start(&start()).await.unwrap();
    assert!(matches!(out, StartOutcome::Redirect { .. }), "{out:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["A1".to_owned(), "A1".to_owned()]
    );
}

#[tokio::test]
async fn momo_refund_in_flight_is_pending() {
    let (base, _) = serve(|_, req| {
        assert_eq!(req["transId"], 4088878653i64);
        assert_eq!(req["requestId"], "R1");
        (
            200,
            r#"{"resultCode":40,"message":"duplicated requestId"}"#.into(),
        )
    })
    .await;
    let c = momo_connector(&base);
    assert_eq!(
        c.refund(&refund_request()).await.unwrap(),
        RefundOutcome::Pending
    );
}

#[tokio::test]
async fn zalopay_create_is_not_retried_and_refund_processing_asks_query_refund() {
    let (base, hits) = serve(|n, _| match n {
        0 => (0, String::new()),
        1 => (
            200,
            r#"{"return_code":3,"return_message":"processing"}"#.into(),
        ),
        _ => (
            200,
            r#"{"return_code":1,"return_message":"ok","refund_id":77}"#.into(),
        ),
    })
    .await;
    let c = zalopay::ZalopayConnector::new(zalopay::ZalopayConfig {
        base_url: base,
        app_id: 2554,
        app_user: "antin".into(),
        key1: Some(SecretString::from("ANTINDEVZALOKEY1000000000000000")),
        key1_env: None,
        key2: Some(SecretString::from("ANTINDEVZALOKEY2000000000000000")),
        key2_env: None,
        body_encoding: zalopay::BodyEncoding::Json,
        http: http(2, 10),
    })
    .unwrap();
    assert!(matches!(
        c.start(&start()).await,
        Err(GatewayError::Unknown { .. })
    ));
    assert_eq!(hits.load(Ordering::SeqCst), 1, "create is not retried");
    let mut r = refund_request();
    r.gateway_txn_id = Some("251122000000389".into());
    r.created_at = time::OffsetDateTime::now_utc();
    assert_eq!(
        c.refund(&r).await.unwrap(),
        RefundOutcome::Refunded {
            gateway_refund_id: Some("77".into())
        }
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

/// Regression: a half-open probe whose future is dropped must not leave the breaker refusing
/// every later call.
#[tokio::test]
async fn a_cancelled_call_still_reports_to_the_breaker() {
    let (base, hits) = serve(|n, _| match n {
        0 => (500, "down".into()),
        1 => (0, String::new()),
        _ => (200, querydr_answer(VNPAY_SECRET, "00")),
    })
    .await;
    let mut h = http(0, 1);
    h.breaker.cool_down_secs = 0;
    h.timeout_ms = 2_000;
    let c = vnpay_connector(&base, h);
    // One failure opens the breaker (threshold 1); with no cool-down the next call is the
    // half-open probe.
    assert!(matches!(
        c.query(&query()).await,
        Err(GatewayError::Unknown { .. })
    ));
    // The probe is cancelled mid-call: it counts as a failure...
    let cancelled = tokio::time::timeout(Duration::from_millis(200), c.query(&query())).await;
    assert!(cancelled.is_err());
    // ...so the breaker re-opens and half-opens again for the next probe instead of refusing
    // forever.
    let r = c.query(&query()).await.unwrap();
    assert_eq!(r.status, ReportedStatus::Succeeded);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn zalopay_refund_asked_again_on_a_later_day_only_queries() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let seen2 = seen.clone();
    let (base, _) = serve(move |_, req| {
        seen2.lock().unwrap().push(req);
        (
            200,
            r#"{"return_code":3,"return_message":"processing"}"#.into(),
        )
    })
    .await;
    let c = zalopay::ZalopayConnector::new(zalopay::ZalopayConfig {
        base_url: base,
        app_id: 2554,
        app_user: "antin".into(),
        key1: Some(SecretString::from("ANTINDEVZALOKEY1000000000000000")),
        key1_env: None,
        key2: Some(SecretString::from("ANTINDEVZALOKEY2000000000000000")),
        key2_env: None,
        body_encoding: zalopay::BodyEncoding::Json,
        http: http(0, 10),
    })
    .unwrap();
    let mut r = refund_request();
    r.gateway_txn_id = Some("251122000000389".into());
    // Asked first on 2025-11-23 (Vietnam), asked again now.
    assert_eq!(c.refund(&r).await.unwrap(), RefundOutcome::Pending);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["m_refund_id"], "251123_2554_R1");
    assert!(
        seen[0].get("zp_trans_id").is_none(),
        "a query_refund, not a refund"
    );
}

/// Regression (found by the crash test): the reference a gateway knows an order by is known
/// before asking it, and is the one its answer gives back. A ZaloPay attempt whose create answer
/// was lost was queried as the bare `A1` instead of `yymmdd_A1`: never found, then expired while
/// the order was still open at ZaloPay.
#[tokio::test]
async fn the_order_reference_is_known_before_the_gateway_answers() {
    let (base, _) = serve(|_, _| {
        (
            200,
            r#"{"return_code":1,"return_message":"ok","order_url":"https://pay.example/z","zp_trans_token":"t"}"#
                .into(),
        )
    })
    .await;
    let c = zalopay::ZalopayConnector::new(zalopay::ZalopayConfig {
        base_url: base,
        app_id: 2554,
        app_user: "antin".into(),
        key1: Some(SecretString::from("ANTINDEVZALOKEY1000000000000000")),
        key1_env: None,
        key2: Some(SecretString::from("ANTINDEVZALOKEY2000000000000000")),
        key2_env: None,
        body_encoding: zalopay::BodyEncoding::Json,
        http: http(0, 10),
    })
    .unwrap();
    let req = start();
    let expected = c.order_ref(&req.attempt_ref, req.created_at);
    // 03:30 UTC is 10:30 in Vietnam, on the 22nd.
    assert_eq!(expected, "251122_A1");
    match c.start(&req).await.unwrap() {
        StartOutcome::Redirect { gateway_ref, .. } => assert_eq!(gateway_ref, expected),
        other => panic!("{other:?}"),
    }
    let m = momo_connector("http://127.0.0.1:9");
    assert_eq!(m.order_ref("A1", req.created_at), "A1");
}
