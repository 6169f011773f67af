//! End to end through the real connectors and the gateway simulators (src/sim, written from the
//! protocol notes independently of the connectors): the portal creates a payment, starts an
//! attempt, the simulator is driven like a citizen would, its callbacks reach antin over HTTPS.
//! Per gateway: success, failure, cancel, expiry, refund, duplicate callbacks, lost callback
//! resolved by status sync, a hanging query (no answer) then resolved, forged signature, wrong
//! amount, idempotent retries; bad input at each callback endpoint (malformed, huge, non-UTF-8,
//! forged, unknown order, negative or fractional amounts). On SQLite and PostgreSQL.

mod common;

use std::time::Duration;

use antin::http::auth::Role;
use antin::sim::{SimConfig, SimHandle};
use common::{Db, TestApp};
use serde_json::{json, Value};

struct E2e {
    app: TestApp,
    sim: SimHandle,
    sim_base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn setup(db: Db) -> E2e {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("antin=warn")
        .with_test_writer()
        .try_init();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let urls: Vec<(String, String)> = ["vnpay", "momo", "zalopay"]
        .iter()
        .flat_map(|g| {
            let up = g.to_ascii_uppercase();
            [
                (
                    format!("ANTIN_PAYMENTS__AGENCIES__DEV__{up}__BASE_URL"),
                    format!("{base}/{g}"),
                ),
                // Short timeouts so a hanging query is an UNKNOWN answer quickly.
                (
                    format!("ANTIN_PAYMENTS__AGENCIES__DEV__{up}__HTTP"),
                    "{ timeout_ms = 1500, retries = 0 }".to_owned(),
                ),
            ]
        })
        .collect();
    let mut extra: Vec<(&str, &str)> = urls.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    extra.extend([
        ("ANTIN_PAYMENTS__WORKERS", "false"),
        ("ANTIN_PAYMENTS__SIMULATORS", "false"),
        ("ANTIN_PAYMENTS__BACKOFF_SCALE", "0.001"),
    ]);
    let app = common::spawn_app_full(db, &extra, None).await;
    let cfg = SimConfig {
        time_scale: 0.001,
        query_hang_secs: 4,
        ca_file: Some(app.ca_path.clone()),
        ..Default::default()
    };
    let (_, sim) = antin::sim::spawn(cfg, format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .expect("simulators");
    sim.set_vnpay_ipn_url("ANTINDEV", &app.url("/callbacks/vnpay/ipn"));
    sim.set_bank_notify_url(&app.url("/callbacks/bank"));
    E2e {
        app,
        sim,
        sim_base: base,
    }
}

impl E2e {
    async fn post(&self, path: &str, key: &str, body: &Value) -> (u16, Value, bool) {
        let resp = self
            .app
            .client
            .post(self.app.url(path))
            .bearer_auth(self.app.key(Role::Portal))
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .unwrap();
        let s = resp.status().as_u16();
        let replayed = resp.headers().contains_key("idempotent-replayed");
        (s, resp.json().await.unwrap_or(Value::Null), replayed)
    }

    async fn payment(&self, id: &str) -> Value {
        self.app
            .client
            .get(self.app.url(&format!("/v1/payments/{id}")))
            .bearer_auth(self.app.key(Role::Finance))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn create_and_start(&self, gw: &str, tag: &str) -> (String, Value) {
        let body = json!({"dossier_ref": format!("HS-{tag}"), "agency": "dev", "procedure_code": "1.001",
            "fee_code": "LP", "amount": 50_000, "payer": {"name": "Lê Văn Cường"}});
        let (s, v, _) = self.post("/v1/payments", &format!("c-{tag}"), &body).await;
        assert_eq!(s, 201, "{v}");
        let id = v["id"].as_str().unwrap().to_owned();
        let (s, a, _) = self
            .post(
                &format!("/v1/payments/{id}/attempts"),
                &format!("a-{tag}"),
                &json!({"gateway": gw}),
            )
            .await;
        assert_eq!(s, 201, "{a}");
        // The citizen's browser opens the gateway's page (VNPAY creates the order there).
        if let Some(url) = a["redirect_url"].as_str() {
            let page = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .get(url)
                .send()
                .await
                .unwrap();
            assert!(page.status().as_u16() < 400, "{url}: {}", page.status());
        }
        (id, a)
    }

    async fn sim_act(&self, gw: &str, gref: &str, action: &str) -> Value {
        let resp = reqwest::Client::new()
            .post(format!("{}/{gw}/sim/orders/{gref}/{action}", self.sim_base))
            .send()
            .await
            .unwrap();
        let s = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(s < 300, "{gw} {action}: {s} {v}");
        v
    }

    /// Waits until the payment reaches `state` (callbacks are asynchronous).
    async fn wait_state(&self, id: &str, state: &str) -> Value {
        for _ in 0..200 {
            let v = self.payment(id).await;
            if v["state"] == state {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "payment {id} never reached {state}: {}",
            self.payment(id).await
        );
    }

    fn worker(&self) -> antin::pay::service::Payments {
        let registry = antin::pay::registry::from_config(&self.app.config.payments).unwrap();
        antin::pay::service::Payments::new(
            self.app.store.clone(),
            self.app.config.payments.clone(),
            registry,
            &self.app.base,
        )
    }

    async fn succeeded_transitions(&self, id: &str) -> usize {
        self.app
            .store
            .pay_transitions(id)
            .await
            .unwrap()
            .iter()
            .filter(|t| t.subject == "payment" && t.to_state == "succeeded")
            .count()
    }

    async fn ledger_ok(&self) {
        let lines = self.app.store.ledger_lines(None).await.unwrap();
        let mut sets = std::collections::HashMap::<String, i64>::new();
        for (p, _, l) in &lines {
            *sets.entry(p.clone()).or_default() += l.amount;
        }
        assert!(sets.values().all(|v| *v == 0), "{sets:?}");
    }
}

async fn flows_for(e: &E2e, gw: &str) {
    // Success, with a duplicated callback: one transition, one posting set.
    let (id, a) = e.create_and_start(gw, &format!("{gw}-ok")).await;
    assert_eq!(a["state"], "pending", "{a}");
    let url = a["redirect_url"].as_str().unwrap();
    assert!(url.starts_with(&e.sim_base), "{url}");
    let gref = a["reference"].as_str().unwrap().to_owned();
    e.sim_act(gw, &gref, "duplicate-callback").await;
    let v = e.wait_state(&id, "succeeded").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(e.succeeded_transitions(&id).await, 1);
    assert!(v["attempts"][0]["gateway_txn_id"].is_string(), "{v}");
    let lines = e.app.store.ledger_lines(Some(&id)).await.unwrap();
    assert_eq!(lines.len(), 4, "{lines:?}");
    // Refund through the gateway (ZaloPay's is asynchronous: finished by the refund worker).
    let (s, r, _) = e
        .post(
            &format!("/v1/payments/{id}/refunds"),
            &format!("r-{gw}"),
            &json!({"amount": 10_000, "reason": "Nộp thừa"}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let worker = e.worker();
    if gw == "vnpay" {
        // VNPAY accepts the refund as "in progress" (05) and has no idempotency key for refunds:
        // antin does not send it again and flags it for confirmation from the statement.
        let v = e.payment(&id).await;
        assert_eq!(v["state"], "refund_pending", "{v}");
        assert!(
            v["flags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["kind"] == "refund_unconfirmed"),
            "{v}"
        );
        worker
            .refunds_due(time::OffsetDateTime::now_utc() + time::Duration::hours(1))
            .await
            .unwrap();
        let calls = e.payment(&id).await["refunds"].as_array().unwrap().len();
        assert_eq!(calls, 1);
    }
    for i in 0..100 {
        if gw == "vnpay" {
            break;
        }
        let v = e.payment(&id).await;
        if v["state"] == "partially_refunded" {
            assert_eq!(v["refunded"], 10_000);
            break;
        }
        assert!(i < 99, "refund never completed: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        worker
            .refunds_due(time::OffsetDateTime::now_utc() + time::Duration::minutes(10))
            .await
            .unwrap();
    }
    // The refund call replayed under its key: no second refund.
    let (_, _, replayed) = e
        .post(
            &format!("/v1/payments/{id}/refunds"),
            &format!("r-{gw}"),
            &json!({"amount": 10_000, "reason": "Nộp thừa"}),
        )
        .await;
    assert!(replayed);

    // Failure and cancel on the gateway's page.
    for (action, attempt_state) in [("fail", "failed"), ("cancel", "cancelled")] {
        let (id, a) = e.create_and_start(gw, &format!("{gw}-{action}")).await;
        e.sim_act(gw, a["reference"].as_str().unwrap(), action)
            .await;
        if gw == "zalopay" {
            // ZaloPay calls back for successes only: antin learns the rest by asking.
            tokio::time::sleep(Duration::from_millis(200)).await;
            worker
                .sync_due(time::OffsetDateTime::now_utc() + time::Duration::minutes(30))
                .await
                .unwrap();
        }
        let v = e.wait_state(&id, "failed").await;
        // ZaloPay's query has a single failure code (return_code 2): a cancel reads as failed.
        let expected = if gw == "zalopay" {
            "failed"
        } else {
            attempt_state
        };
        assert_eq!(v["attempts"][0]["state"], expected, "{v}");
    }

    // A forged callback and a wrong amount change nothing; the wrong amount is flagged.
    let (id, a) = e.create_and_start(gw, &format!("{gw}-forged")).await;
    let gref = a["reference"].as_str().unwrap().to_owned();
    e.sim_act(gw, &gref, "wrong-signature").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(e.payment(&id).await["state"], "pending");
    let (id, a) = e.create_and_start(gw, &format!("{gw}-amount")).await;
    e.sim_act(gw, a["reference"].as_str().unwrap(), "wrong-amount")
        .await;
    for _ in 0..100 {
        if !e.payment(&id).await["flags"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let v = e.payment(&id).await;
    assert_eq!(v["state"], "pending", "{v}");
    assert_eq!(v["flags"][0]["kind"], "amount_mismatch", "{v}");

    // A lost callback: paid at the gateway, antin learns it from status sync; the first query
    // hangs (no trustworthy answer: nothing changes), the next one resolves it.
    let (id, a) = e.create_and_start(gw, &format!("{gw}-lost")).await;
    let gref = a["reference"].as_str().unwrap().to_owned();
    e.sim_act(gw, &gref, "no-callback").await;
    e.sim_act(gw, &gref, "timeout-next-query").await;
    let later = time::OffsetDateTime::now_utc() + time::Duration::minutes(20);
    worker.sync_due(later).await.unwrap();
    assert_eq!(e.payment(&id).await["state"], "pending");
    worker
        .sync_due(later + time::Duration::minutes(5))
        .await
        .unwrap();
    e.wait_state(&id, "succeeded").await;

    // Expired on the gateway's side.
    let (id, a) = e.create_and_start(gw, &format!("{gw}-exp")).await;
    e.sim_act(gw, a["reference"].as_str().unwrap(), "expire")
        .await;
    // No callback for an expiry: status sync finds it after the attempt's window.
    tokio::time::sleep(Duration::from_millis(200)).await;
    worker
        .sync_due(time::OffsetDateTime::now_utc() + time::Duration::minutes(30))
        .await
        .unwrap();
    let v = e.wait_state(&id, "failed").await;
    assert_ne!(v["attempts"][0]["state"], "succeeded");
    e.ledger_ok().await;
}

async fn vnpay_momo_zalopay(db: Db) {
    let e = setup(db).await;
    for gw in ["vnpay", "momo", "zalopay"] {
        flows_for(&e, gw).await;
    }
    drop(e.sim);
    e.app.stop().await;
}
on_both_databases!(vnpay_momo_zalopay_db, vnpay_momo_zalopay);

async fn vietqr_through_the_bank(db: Db) {
    let e = setup(db).await;
    let (id, a) = e.create_and_start("vietqr", "qr-1").await;
    let payload = a["qr"]["payload"].as_str().unwrap().to_owned();
    assert!(payload.starts_with("000201"), "{payload}");
    let png = e
        .app
        .client
        .get(e.app.url(a["qr"]["png"].as_str().unwrap()))
        .bearer_auth(e.app.key(Role::Portal))
        .send()
        .await
        .unwrap();
    assert_eq!(png.status().as_u16(), 200);
    assert_eq!(&png.bytes().await.unwrap()[..4], b"\x89PNG");
    let svg = e
        .app
        .client
        .get(e.app.url(a["qr"]["svg"].as_str().unwrap()))
        .bearer_auth(e.app.key(Role::Portal))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(svg.contains("<svg"));
    let memo = format!("ANTIN{}", a["reference"].as_str().unwrap());
    // The citizen transfers with the memo from the QR (duplicated notification: one success).
    let resp = reqwest::Client::new()
        .post(format!("{}/bank/sim/transfer", e.sim_base))
        .json(&json!({"account": "113366668888", "amount": 50_000, "memo": format!("CK {memo} le phi"), "anomaly": "duplicate-callback"}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{:?}", resp.text().await);
    e.wait_state(&id, "succeeded").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(e.succeeded_transitions(&id).await, 1);
    // A transfer of the wrong amount for another payment: refused and flagged.
    let (id2, a2) = e.create_and_start("vietqr", "qr-2").await;
    reqwest::Client::new()
        .post(format!("{}/bank/sim/transfer", e.sim_base))
        .json(&json!({"account": "113366668888", "amount": 40_000, "memo": format!("ANTIN{}", a2["reference"].as_str().unwrap())}))
        .send()
        .await
        .unwrap();
    for _ in 0..100 {
        if !e.payment(&id2).await["flags"]
            .as_array()
            .unwrap()
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let v = e.payment(&id2).await;
    assert_eq!(v["state"], "pending");
    assert_eq!(v["flags"][0]["kind"], "amount_mismatch");
    e.ledger_ok().await;
    drop(e.sim);
    e.app.stop().await;
}
on_both_databases!(vietqr_db, vietqr_through_the_bank);

// ---- bad input at the callback endpoints, per gateway ----------------------------------------

const VNP_SECRET: &str = "ANTINDEVVNPAYSECRET0000000000000";
const MOMO_ACCESS: &str = "ANTINDEVACCESS";
const MOMO_SECRET: &str = "ANTINDEVMOMOSECRET00000000000000";
const ZP_KEY2: &str = "ANTINDEVZALOKEY2000000000000000";
const BANK_SECRET: &str = "ANTINDEVBANKSECRET00000000000000";

fn hmac_hex(alg: ring::hmac::Algorithm, key: &str, msg: &[u8]) -> String {
    hex::encode(ring::hmac::sign(&ring::hmac::Key::new(alg, key.as_bytes()), msg).as_ref())
}

/// A VNPAY IPN query signed the way gateways.md says (sorted, form-encoded, HMAC-SHA512).
fn vnpay_ipn(txn_ref: &str, amount_x100: &str) -> String {
    let mut pairs = vec![
        ("vnp_Amount", amount_x100.to_owned()),
        ("vnp_BankCode", "NCB".into()),
        ("vnp_BankTranNo", "VNP1".into()),
        ("vnp_CardType", "ATM".into()),
        ("vnp_OrderInfo", format!("Thanh toan {txn_ref}")),
        ("vnp_PayDate", "20261201100000".into()),
        ("vnp_ResponseCode", "00".into()),
        ("vnp_TmnCode", "ANTINDEV".into()),
        ("vnp_TransactionNo", "14000001".into()),
        ("vnp_TransactionStatus", "00".into()),
        ("vnp_TxnRef", txn_ref.into()),
    ];
    pairs.sort();
    let mut u = reqwest::Url::parse("http://x/").unwrap();
    u.query_pairs_mut()
        .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
    let data = u.query().unwrap().to_owned();
    let hash = hmac_hex(ring::hmac::HMAC_SHA512, VNP_SECRET, data.as_bytes());
    format!("{data}&vnp_SecureHash={hash}")
}

/// A MoMo IPN signed over gateways.md's raw string; `amount` is put in the JSON as given.
fn momo_ipn(order_id: &str, amount: Value) -> Vec<u8> {
    let raw = format!(
        "accessKey={MOMO_ACCESS}&amount={amount}&extraData=&message=Successful.&orderId={order_id}\
         &orderInfo=Le phi&orderType=momo_wallet&partnerCode=MOMOANTIN&payType=qr&requestId={order_id}\
         &responseTime=1764558000000&resultCode=0&transId=4100000001"
    );
    let sig = hmac_hex(ring::hmac::HMAC_SHA256, MOMO_SECRET, raw.as_bytes());
    serde_json::to_vec(&json!({"partnerCode": "MOMOANTIN", "orderId": order_id, "requestId": order_id,
        "amount": amount, "orderInfo": "Le phi", "orderType": "momo_wallet", "transId": 4100000001_i64,
        "resultCode": 0, "message": "Successful.", "payType": "qr", "responseTime": 1764558000000_i64,
        "extraData": "", "signature": sig}))
    .unwrap()
}

/// A ZaloPay callback: `data` as a string, mac = HMAC-SHA256(key2, data).
fn zalopay_cb(app_trans_id: &str, amount: &str) -> Vec<u8> {
    let data = format!(
        r#"{{"app_id":2554,"app_trans_id":"{app_trans_id}","app_time":1764558000000,"app_user":"antin","amount":{amount},"embed_data":"{{}}","item":"[]","zp_trans_id":251201000001,"server_time":1764558001000,"channel":38,"merchant_user_id":"","user_fee_amount":0,"discount_amount":0}}"#
    );
    let mac = hmac_hex(ring::hmac::HMAC_SHA256, ZP_KEY2, data.as_bytes());
    serde_json::to_vec(&json!({"data": data, "mac": mac, "type": 1})).unwrap()
}

fn camt054(amount: &str, memo: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.054.001.08\">\
<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>N1</MsgId><CreDtTm>2026-12-01T10:00:00+07:00</CreDtTm></GrpHdr>\
<Ntfctn><Id>N1</Id><CreDtTm>2026-12-01T10:00:00+07:00</CreDtTm><Acct><Id><Othr><Id>113366668888</Id></Othr></Id><Ccy>VND</Ccy></Acct>\
<Ntry><Amt Ccy=\"VND\">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>\
<BookgDt><DtTm>2026-12-01T10:00:00+07:00</DtTm></BookgDt><AcctSvcrRef>FT1</AcctSvcrRef>\
<NtryDtls><TxDtls><Refs><AcctSvcrRef>FT1</AcctSvcrRef></Refs><RmtInf><Ustrd>{memo}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\
</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>\n"
    )
    .into_bytes()
}

/// A body and its headers for the bank callback.
type BankCall = (Vec<u8>, Vec<(&'static str, String)>);

fn bank_sig(body: &[u8]) -> String {
    let t = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut msg = format!("{t}.").into_bytes();
    msg.extend_from_slice(body);
    format!(
        "t={t},v1={}",
        hmac_hex(ring::hmac::HMAC_SHA256, BANK_SECRET, &msg)
    )
}

impl E2e {
    /// Sends a raw callback; returns (status, content-type, body).
    async fn raw_callback(
        &self,
        get: bool,
        path: &str,
        query: Option<&str>,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> (u16, String, Vec<u8>) {
        let url = match query {
            Some(q) => format!("{}?{q}", self.app.url(path)),
            None => self.app.url(path),
        };
        let mut req = if get {
            self.app.client.get(url)
        } else {
            self.app
                .client
                .post(url)
                .header("content-type", "application/json")
                .body(body)
        };
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req.send().await.unwrap();
        let s = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (s, ct, resp.bytes().await.unwrap().to_vec())
    }
}

fn json_of(b: &[u8]) -> Value {
    serde_json::from_slice(b).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(b)))
}

async fn bad_callbacks(db: Db) {
    let e = setup(db).await;
    let huge = vec![b'{'; 1024 * 1024];
    let non_utf8 = b"{\"orderId\":\"\xff\xfe\",\"amount\":50000}".to_vec();

    // VNPAY: every answer is 200 JSON {"RspCode","Message"}; nothing changes.
    let (id, a) = e.create_and_start("vnpay", "bad-vnpay").await;
    let r = a["reference"].as_str().unwrap().to_owned();
    let forged = vnpay_ipn(&r, "5000000").replace("vnp_SecureHash=", "vnp_SecureHash=00");
    let cases: Vec<(String, &[&str])> = vec![
        (String::new(), &["97", "99"]),
        ("vnp_TxnRef=%FF%FE&vnp_SecureHash=zz".into(), &["97", "99"]),
        (
            format!("vnp_OrderInfo={}", "A".repeat(4_000)),
            &["97", "99"],
        ),
        (forged, &["97"]),
        (vnpay_ipn("NOSUCHREF123", "5000000"), &["01"]),
        (vnpay_ipn(&r, "-5000000"), &["99", "04"]),
        (vnpay_ipn(&r, "5000050"), &["99", "04"]),
        (vnpay_ipn(&r, "5000000.5"), &["99", "04"]),
        (vnpay_ipn(&r, "500000"), &["04"]),
    ];
    for (q, want) in &cases {
        let (s, ct, b) = e
            .raw_callback(true, "/callbacks/vnpay/ipn", Some(q), vec![], &[])
            .await;
        let q = &q[..q.len().min(80)];
        assert_eq!(s, 200, "{q}");
        assert!(ct.starts_with("application/json"), "{ct}");
        let v = json_of(&b);
        let code = v["RspCode"].as_str().unwrap();
        assert!(want.contains(&code), "{q}: {v}");
        assert!(v["Message"].is_string());
    }
    // A query past the HTTP server's header limit never reaches the handler: 431, bounded.
    let q = format!("vnp_OrderInfo={}", "A".repeat(30_000));
    let (s, _, _) = e
        .raw_callback(true, "/callbacks/vnpay/ipn", Some(&q), vec![], &[])
        .await;
    assert_eq!(s, 431);
    assert_eq!(e.payment(&id).await["state"], "pending");

    // MoMo: 400 JSON for what cannot be trusted; 204 (acknowledged, flagged) for the rest.
    let (id, a) = e.create_and_start("momo", "bad-momo").await;
    let r = a["reference"].as_str().unwrap().to_owned();
    let mut forged = momo_ipn(&r, json!(50_000));
    let n = forged.len();
    forged[n - 3] ^= 1; // a hex digit of the signature
    let cases: Vec<(Vec<u8>, &[u16])> = vec![
        (b"not json".to_vec(), &[400]),
        (non_utf8.clone(), &[400]),
        (huge.clone(), &[400]),
        (forged, &[400]),
        (momo_ipn("NOSUCHORDER", json!(50_000)), &[204]),
        (momo_ipn(&r, json!(-50_000)), &[400, 204]),
        (momo_ipn(&r, json!(50_000.5)), &[400, 204]),
        (momo_ipn(&r, json!("50000")), &[400, 204]),
    ];
    for (body, want) in cases {
        let (s, ct, b) = e
            .raw_callback(false, "/callbacks/momo/ipn", None, body, &[])
            .await;
        assert!(want.contains(&s), "{s} {}", String::from_utf8_lossy(&b));
        if s == 400 {
            assert!(ct.starts_with("application/json"), "{ct}");
            assert!(json_of(&b)["message"].is_string());
        }
    }
    assert_eq!(e.payment(&id).await["state"], "pending");

    // ZaloPay: always 200 JSON {"return_code": -1, ...} for bad input.
    let (id, a) = e.create_and_start("zalopay", "bad-zalopay").await;
    let r = a["reference"].as_str().unwrap().to_owned();
    let mut forged: Value = serde_json::from_slice(&zalopay_cb(&r, "50000")).unwrap();
    forged["mac"] = json!("00".repeat(32));
    let cases: Vec<Vec<u8>> = vec![
        b"{}".to_vec(),
        non_utf8.clone(),
        huge.clone(),
        serde_json::to_vec(&forged).unwrap(),
        zalopay_cb("261201_NOSUCH", "50000"),
        zalopay_cb(&r, "-50000"),
        zalopay_cb(&r, "50000.5"),
        zalopay_cb(&r, "5000"),
    ];
    for body in cases {
        let (s, ct, b) = e
            .raw_callback(false, "/callbacks/zalopay", None, body, &[])
            .await;
        assert_eq!(s, 200);
        assert!(ct.starts_with("application/json"), "{ct}");
        let v = json_of(&b);
        assert_eq!(v["return_code"], -1, "{v}");
    }
    assert_eq!(e.payment(&id).await["state"], "pending");

    // The bank: 401 unsigned, 400 malformed (JSON {"status": ...}); an unmatched credit is kept (200).
    let (id, a) = e.create_and_start("vietqr", "bad-qr").await;
    let memo = format!("ANTIN{}", a["reference"].as_str().unwrap());
    let signed = |body: Vec<u8>| {
        let h = bank_sig(&body);
        (body, vec![("x-bank-signature", h)])
    };
    let cases: Vec<(BankCall, u16)> = vec![
        ((camt054("50000", &memo), vec![]), 401),
        (
            (
                camt054("50000", &memo),
                vec![("x-bank-signature", "t=1,v1=00".into())],
            ),
            401,
        ),
        (signed(b"<Document>".to_vec()), 400),
        (signed(b"\xff\xfe<Document/>".to_vec()), 400),
        (signed(vec![b'<'; 1024 * 1024]), 400),
        (signed(camt054("-50000", &memo)), 400),
        (signed(camt054("50000.5", &memo)), 400),
        (signed(camt054("1e5", &memo)), 400),
    ];
    for ((body, headers), want) in cases {
        let (s, ct, b) = e
            .raw_callback(false, "/callbacks/bank", None, body, &headers)
            .await;
        assert_eq!(s, want, "{}", String::from_utf8_lossy(&b));
        assert!(ct.starts_with("application/json"), "{ct}");
        assert!(json_of(&b)["status"].is_string());
    }
    assert_eq!(e.payment(&id).await["state"], "pending");

    // Nothing was stored wrongly: no success, no ledger lines, and every payment can still be paid.
    let lines = e.app.store.ledger_lines(None).await.unwrap();
    assert!(lines.is_empty(), "{lines:?}");
    for gw in ["vnpay", "momo", "zalopay"] {
        let (id, a) = e.create_and_start(gw, &format!("bad-{gw}-after")).await;
        e.sim_act(gw, a["reference"].as_str().unwrap(), "pay").await;
        e.wait_state(&id, "succeeded").await;
        assert_eq!(e.succeeded_transitions(&id).await, 1);
    }
    e.ledger_ok().await;
    drop(e.sim);
    e.app.stop().await;
}
on_both_databases!(bad_callbacks_db, bad_callbacks);
