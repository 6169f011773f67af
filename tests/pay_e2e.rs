//! End to end through the real connectors and the gateway simulators (src/sim, written from the
//! protocol notes independently of the connectors): the portal creates a payment, starts an
//! attempt, the simulator is driven like a citizen would, its callbacks reach antin over HTTPS.
//! Per gateway: success, failure, cancel, expiry, refund, duplicate callbacks, lost callback
//! resolved by status sync, a hanging query (no answer) then resolved, forged signature, wrong
//! amount, idempotent retries. On SQLite and PostgreSQL.

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
                (format!("ANTIN_PAYMENTS__AGENCIES__DEV__{up}__BASE_URL"), format!("{base}/{g}")),
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
            .post(&format!("/v1/payments/{id}/attempts"), &format!("a-{tag}"), &json!({"gateway": gw}))
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
        panic!("payment {id} never reached {state}: {}", self.payment(id).await);
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
        .post(&format!("/v1/payments/{id}/refunds"), &format!("r-{gw}"), &json!({"amount": 10_000, "reason": "Nộp thừa"}))
        .await;
    assert_eq!(s, 201, "{r}");
    let worker = e.worker();
    if gw == "vnpay" {
        // VNPAY accepts the refund as "in progress" (05) and has no idempotency key for refunds:
        // antin does not send it again and flags it for confirmation from the statement.
        let v = e.payment(&id).await;
        assert_eq!(v["state"], "refund_pending", "{v}");
        assert!(v["flags"].as_array().unwrap().iter().any(|f| f["kind"] == "refund_unconfirmed"), "{v}");
        worker.refunds_due(time::OffsetDateTime::now_utc() + time::Duration::hours(1)).await.unwrap();
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
        .post(&format!("/v1/payments/{id}/refunds"), &format!("r-{gw}"), &json!({"amount": 10_000, "reason": "Nộp thừa"}))
        .await;
    assert!(replayed);

    // Failure and cancel on the gateway's page.
    for (action, attempt_state) in [("fail", "failed"), ("cancel", "cancelled")] {
        let (id, a) = e.create_and_start(gw, &format!("{gw}-{action}")).await;
        e.sim_act(gw, a["reference"].as_str().unwrap(), action).await;
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
        let expected = if gw == "zalopay" { "failed" } else { attempt_state };
        assert_eq!(v["attempts"][0]["state"], expected, "{v}");
    }

    // A forged callback and a wrong amount change nothing; the wrong amount is flagged.
    let (id, a) = e.create_and_start(gw, &format!("{gw}-forged")).await;
    let gref = a["reference"].as_str().unwrap().to_owned();
    e.sim_act(gw, &gref, "wrong-signature").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(e.payment(&id).await["state"], "pending");
    let (id, a) = e.create_and_start(gw, &format!("{gw}-amount")).await;
    e.sim_act(gw, a["reference"].as_str().unwrap(), "wrong-amount").await;
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
    worker.sync_due(later + time::Duration::minutes(5)).await.unwrap();
    e.wait_state(&id, "succeeded").await;

    // Expired on the gateway's side.
    let (id, a) = e.create_and_start(gw, &format!("{gw}-exp")).await;
    e.sim_act(gw, a["reference"].as_str().unwrap(), "expire").await;
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
        if !e.payment(&id2).await["flags"].as_array().unwrap().is_empty() {
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
