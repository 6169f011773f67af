//! The payment API end to end against a scripted connector (the gateway's protocol is the
//! connectors' business, tested in their own files): idempotency, callbacks checked signature ->
//! order -> amount, exactly one transition under concurrency, UNKNOWN resolved by status sync,
//! double payments refunded, refunds, cancel, expiry, ledger balance, signed webhooks, leases.
//! On SQLite and PostgreSQL.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use antin::http::auth::{self, Role};
use antin::pay::connector::*;
use antin::pay::service::Registry;
use common::{Db, TestApp};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

/// What the scripted gateway does.
#[derive(Default)]
struct Script {
    /// The next start calls time out.
    start_timeouts: usize,
    /// Status per gateway ref for queries (absent: Pending).
    status: HashMap<String, ReportedStatus>,
    /// The next queries time out.
    query_timeouts: usize,
    refund_outcome: Option<RefundOutcome>,
    starts: usize,
    queries: usize,
    refunds: Vec<RefundRequest>,
}

struct Fake {
    kind: GatewayKind,
    script: Arc<Mutex<Script>>,
}

#[async_trait::async_trait]
impl Connector for Fake {
    fn kind(&self) -> GatewayKind {
        self.kind
    }
    async fn start(&self, req: &StartRequest) -> Result<StartOutcome, GatewayError> {
        let mut s = self.script.lock().unwrap();
        s.starts += 1;
        if s.start_timeouts > 0 {
            s.start_timeouts -= 1;
            return Err(GatewayError::Unknown {
                gateway: self.kind,
                detail: "timeout".into(),
            });
        }
        Ok(StartOutcome::Redirect {
            url: format!("https://fake.example/pay/{}", req.attempt_ref),
            gateway_ref: format!("G{}", req.attempt_ref),
        })
    }
    /// Body: `ref|amount|status|sig` with sig = "good".
    fn parse_callback(&self, input: &CallbackInput<'_>) -> CallbackVerdict {
        let Ok(text) = std::str::from_utf8(input.body) else {
            return CallbackVerdict::Malformed("not UTF-8".into());
        };
        let parts: Vec<&str> = text.split('|').collect();
        if parts.len() != 4 {
            return CallbackVerdict::Malformed("shape".into());
        }
        if parts[3] != "good" {
            return CallbackVerdict::BadSignature;
        }
        let Ok(amount) = parts[1].parse::<i64>() else {
            return CallbackVerdict::Malformed("amount".into());
        };
        let status = match parts[2] {
            "ok" => ReportedStatus::Succeeded,
            "fail" => ReportedStatus::Failed { code: "51".into() },
            "cancel" => ReportedStatus::Cancelled { code: "24".into() },
            _ => ReportedStatus::Pending,
        };
        CallbackVerdict::Verified(GatewayReport {
            gateway_ref: parts[0].into(),
            amount_vnd: amount,
            status,
            gateway_txn_id: Some(format!("T{}", parts[0])),
            raw_sha256: ring::digest::digest(&ring::digest::SHA256, input.body)
                .as_ref()
                .try_into()
                .unwrap(),
            at: None,
        })
    }
    fn answer(&self, answer: CallbackAnswer) -> HttpAnswer {
        HttpAnswer {
            status: 200,
            content_type: Some("text/plain"),
            body: format!("{answer:?}").into_bytes(),
        }
    }
    async fn query(&self, req: &QueryRequest) -> Result<GatewayReport, GatewayError> {
        let mut s = self.script.lock().unwrap();
        s.queries += 1;
        if s.query_timeouts > 0 {
            s.query_timeouts -= 1;
            return Err(GatewayError::Unknown {
                gateway: self.kind,
                detail: "timeout".into(),
            });
        }
        let status = s
            .status
            .get(&req.gateway_ref)
            .cloned()
            .unwrap_or(ReportedStatus::Pending);
        Ok(GatewayReport {
            gateway_ref: req.gateway_ref.clone(),
            amount_vnd: 50_000,
            status,
            gateway_txn_id: Some("Q1".into()),
            raw_sha256: [0; 32],
            at: None,
        })
    }
    async fn refund(&self, req: &RefundRequest) -> Result<RefundOutcome, GatewayError> {
        let mut s = self.script.lock().unwrap();
        s.refunds.push(req.clone());
        Ok(s.refund_outcome.clone().unwrap_or(RefundOutcome::Refunded {
            gateway_refund_id: Some(format!("R{}", s.refunds.len())),
        }))
    }
}

struct Env {
    app: TestApp,
    script: Arc<Mutex<Script>>,
}

async fn env(db: Db, extra: &[(&str, &str)]) -> Env {
    let script = Arc::new(Mutex::new(Script::default()));
    let mut registry = Registry::default();
    for kind in [GatewayKind::Momo, GatewayKind::Vnpay] {
        registry.insert(
            "dev",
            Arc::new(Fake {
                kind,
                script: script.clone(),
            }),
        );
    }
    let mut all = vec![
        ("ANTIN_PAYMENTS__WORKERS", "false"),
        ("ANTIN_PAYMENTS__SIMULATORS", "false"),
        ("ANTIN_PAYMENTS__BACKOFF_SCALE", "0.001"),
    ];
    all.extend_from_slice(extra);
    let app = common::spawn_app_full(db, &all, Some(registry)).await;
    Env { app, script }
}

fn payment_body(dossier: &str, amount: i64) -> Value {
    json!({
        "dossier_ref": dossier, "agency": "dev", "procedure_code": "1.004227",
        "fee_code": "LPCT", "amount": amount,
        "payer": {"name": "Trần Thị Bình", "cccd": "079188001234"},
    })
}

impl Env {
    async fn post(&self, path: &str, key: Option<&str>, body: &Value) -> (u16, Value, bool) {
        self.post_as(Role::Portal, path, key, body).await
    }

    async fn post_as(
        &self,
        role: Role,
        path: &str,
        key: Option<&str>,
        body: &Value,
    ) -> (u16, Value, bool) {
        let mut r = self
            .app
            .client
            .post(self.app.url(path))
            .bearer_auth(self.app.key(role))
            .json(body);
        if let Some(k) = key {
            r = r.header("idempotency-key", k);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let replayed = resp.headers().get("idempotent-replayed").is_some();
        let v = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, v, replayed)
    }

    async fn get(&self, path: &str, role: Role) -> (u16, Value) {
        let resp = self
            .app
            .client
            .get(self.app.url(path))
            .bearer_auth(self.app.key(role))
            .send()
            .await
            .unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    async fn callback(&self, body: String) -> String {
        self.app
            .client
            .post(self.app.url("/callbacks/momo/ipn"))
            .body(body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn new_payment(&self, dossier: &str) -> String {
        let (s, v, _) = self
            .post(
                "/v1/payments",
                Some(&format!("k-{dossier}")),
                &payment_body(dossier, 50_000),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    /// A payment of 50,000 VND paid through a MoMo attempt (`attempt_key` its Idempotency-Key).
    async fn paid_payment(&self, dossier: &str, attempt_key: &str) -> String {
        let id = self.new_payment(dossier).await;
        let (gref, _) = self.attempt(&id, attempt_key).await;
        assert_eq!(
            self.callback(format!("{gref}|50000|ok|good")).await,
            "Confirmed"
        );
        id
    }

    /// Starts a MoMo attempt; returns the gateway reference.
    async fn attempt(&self, id: &str, key: &str) -> (String, Value) {
        let (s, v, _) = self
            .post(
                &format!("/v1/payments/{id}/attempts"),
                Some(key),
                &json!({"gateway": "momo"}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        (v["reference"].as_str().unwrap().to_owned(), v)
    }

    async fn state(&self, id: &str) -> Value {
        let (s, v) = self.get(&format!("/v1/payments/{id}"), Role::Finance).await;
        assert_eq!(s, 200);
        v
    }
}

/// A second service instance on the same database, for worker passes.
fn instance(e: &Env) -> antin::pay::service::Payments {
    let mut registry = Registry::default();
    for kind in [GatewayKind::Momo, GatewayKind::Vnpay] {
        registry.insert(
            "dev",
            Arc::new(Fake {
                kind,
                script: e.script.clone(),
            }),
        );
    }
    antin::pay::service::Payments::new(
        e.app.store.clone(),
        e.app.config.payments.clone(),
        registry,
        &e.app.base,
    )
}

async fn assert_ledger_balanced(e: &Env) {
    let lines = e.app.store.ledger_lines(None).await.unwrap();
    let mut per_set: HashMap<String, i64> = HashMap::new();
    for (posting, _, l) in &lines {
        *per_set.entry(posting.clone()).or_default() += l.amount;
    }
    assert!(per_set.values().all(|s| *s == 0), "{per_set:?}");
}

async fn idempotent_create(db: Db) {
    let e = env(db, &[]).await;
    let body = payment_body("HS-IDEM-1", 50_000);
    let (s1, v1, r1) = e.post("/v1/payments", Some("key-1"), &body).await;
    assert_eq!(s1, 201, "{v1}");
    assert!(!r1);
    assert_eq!(v1["state"], "created");
    assert_eq!(v1["amount"], 50_000);
    // The same key and body: the stored response, not a second payment.
    let (s2, v2, r2) = e.post("/v1/payments", Some("key-1"), &body).await;
    assert_eq!((s2, r2), (201, true));
    assert_eq!(v1, v2);
    // The same key, another body: 422.
    let (s3, v3, _) = e
        .post(
            "/v1/payments",
            Some("key-1"),
            &payment_body("HS-IDEM-1", 60_000),
        )
        .await;
    assert_eq!(s3, 422);
    assert_eq!(v3["error"]["code"], "idempotency_key_reused");
    // No key: refused.
    let (s4, v4, _) = e.post("/v1/payments", None, &body).await;
    assert_eq!(s4, 400);
    assert_eq!(v4["error"]["code"], "idempotency_key_required");
    // A refused request is replayed as refused (processing started).
    let bad = payment_body("HS-IDEM-2", -5);
    let (s5, v5, _) = e.post("/v1/payments", Some("key-2"), &bad).await;
    assert_eq!(s5, 400, "{v5}");
    let (s6, _, r6) = e.post("/v1/payments", Some("key-2"), &bad).await;
    assert_eq!((s6, r6), (400, true));
    // Concurrent duplicates: exactly one payment, the others 409 or the replay.
    let body = payment_body("HS-IDEM-3", 70_000);
    let futs: Vec<_> = (0..8)
        .map(|_| e.post("/v1/payments", Some("key-3"), &body))
        .collect();
    let results = futures_util::future::join_all(futs).await;
    let ids: std::collections::HashSet<String> = results
        .iter()
        .filter(|(s, _, _)| *s == 201)
        .map(|(_, v, _)| v["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "{results:?}");
    assert!(results.iter().all(|(s, _, _)| *s == 201 || *s == 409));
    // Another portal's payment does not exist for this one.
    let id = v1["id"].as_str().unwrap();
    let (secret, rec) =
        auth::generate_key("other", Role::Portal, time::OffsetDateTime::now_utc()).unwrap();
    e.app.store.insert_api_key(&rec, &[]).await.unwrap();
    let resp = e
        .app
        .client
        .get(e.app.url(&format!("/v1/payments/{id}")))
        .bearer_auth(secret.expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    e.app.stop().await;
}
on_both_databases!(idempotent_create_db, idempotent_create);

async fn success_callback_exactly_once(db: Db) {
    let e = env(db, &[]).await;
    let id = e.new_payment("HS-OK-1").await;
    let (gref, v) = e.attempt(&id, "a1").await;
    assert_eq!(v["state"], "pending");
    assert!(v["redirect_url"]
        .as_str()
        .unwrap()
        .starts_with("https://fake.example/pay/"));
    assert_eq!(v["payment"]["state"], "pending");
    // Replay of the attempt call: same attempt, no second gateway order.
    let (_, v2, r2) = e
        .post(
            &format!("/v1/payments/{id}/attempts"),
            Some("a1"),
            &json!({"gateway": "momo"}),
        )
        .await;
    assert!(r2);
    assert_eq!(v2["id"], v["id"]);
    assert_eq!(e.script.lock().unwrap().starts, 1);
    // Forged: nothing changes.
    assert_eq!(
        e.callback(format!("{gref}|50000|ok|forged")).await,
        "InvalidSignature"
    );
    assert_eq!(e.state(&id).await["state"], "pending");
    // Unknown order.
    assert_eq!(
        e.callback("Gnope|50000|ok|good".into()).await,
        "OrderNotFound"
    );
    // Wrong amount: refused and flagged, nothing paid.
    assert_eq!(
        e.callback(format!("{gref}|5000|ok|good")).await,
        "InvalidAmount"
    );
    let s = e.state(&id).await;
    assert_eq!(s["state"], "pending");
    assert_eq!(s["flags"][0]["kind"], "amount_mismatch");
    // Malformed and non-UTF-8 bodies.
    assert_eq!(e.callback("x".into()).await, "Malformed");
    // Ten identical callbacks at once: one transition.
    let futs: Vec<_> = (0..10)
        .map(|_| e.callback(format!("{gref}|50000|ok|good")))
        .collect();
    let answers = futures_util::future::join_all(futs).await;
    assert_eq!(
        answers.iter().filter(|a| *a == "Confirmed").count(),
        1,
        "{answers:?}"
    );
    assert!(answers
        .iter()
        .all(|a| a == "Confirmed" || a == "AlreadyConfirmed"));
    let s = e.state(&id).await;
    assert_eq!(s["state"], "succeeded");
    assert_eq!(s["attempts"][0]["gateway_txn_id"], format!("T{gref}"));
    let ts = e.app.store.pay_transitions(&id).await.unwrap();
    let to_succeeded = ts
        .iter()
        .filter(|t| t.subject == "payment" && t.to_state == "succeeded")
        .count();
    assert_eq!(to_succeeded, 1);
    // One balanced posting set.
    let lines = e.app.store.ledger_lines(Some(&id)).await.unwrap();
    assert_eq!(lines.len(), 4);
    assert!(lines.iter().all(|(_, k, _)| k == "payment_confirmed"));
    assert_ledger_balanced(&e).await;
    // A late failure report for the paid attempt is a conflict, not a change.
    assert_eq!(
        e.callback(format!("{gref}|50000|fail|good")).await,
        "AlreadyConfirmed"
    );
    assert_eq!(e.state(&id).await["state"], "succeeded");
    // The outbox holds the success event; the log has the transitions.
    let out = e.app.store.outbox_for_payment(&id).await.unwrap();
    assert!(out.iter().any(|o| o.event_type == "payment.succeeded"));
    let idx = e
        .app
        .store
        .log_find_subject(&format!("payment:{id}"))
        .await
        .unwrap();
    assert!(idx.len() >= 4, "{idx:?}");
    let bodies = e
        .app
        .store
        .log_entries(0, e.app.store.log_size().await.unwrap())
        .await
        .unwrap();
    // The CCCD and the payer's name never appear in clear in the log.
    assert!(bodies
        .iter()
        .all(|b| !b.body.contains("079188001234") && !b.body.contains("Bình")));
    e.app.stop().await;
}
on_both_databases!(
    success_callback_exactly_once_db,
    success_callback_exactly_once
);

async fn unknown_then_resolved_and_double_payment(db: Db) {
    let e = env(db, &[]).await;
    let id = e.new_payment("HS-UNK-1").await;
    e.script.lock().unwrap().start_timeouts = 1;
    let (gref, v) = e.attempt(&id, "u1").await;
    // Timeout: UNKNOWN, never a guess.
    assert_eq!(v["state"], "unknown");
    assert_eq!(v["payment"]["state"], "unknown");
    // No new attempt while the outcome is unknown.
    let (s, err, _) = e
        .post(
            &format!("/v1/payments/{id}/attempts"),
            Some("u2"),
            &json!({"gateway": "momo"}),
        )
        .await;
    assert_eq!(s, 409, "{err}");
    assert_eq!(err["error"]["code"], "invalid_state");
    // Cancel refused while unknown.
    let (s, _, _) = e
        .post(&format!("/v1/payments/{id}/cancel"), Some("c0"), &json!({}))
        .await;
    assert_eq!(s, 409);
    let worker = instance(&e);
    // The first query times out: still unknown.
    e.script.lock().unwrap().query_timeouts = 1;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    worker
        .sync_due(time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(e.state(&id).await["state"], "unknown");
    // The attempt ref is what the fake was given; it reported the attempt as not final: pending.
    let attempt_ref = gref.clone();
    let now = time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    worker.sync_due(now).await.unwrap();
    assert_eq!(e.state(&id).await["state"], "pending", "{}", attempt_ref);
    // The citizen gives up on that one and pays with VNPAY; then the first one is paid too.
    let (s, v2, _) = e
        .post(
            &format!("/v1/payments/{id}/attempts"),
            Some("u3"),
            &json!({"gateway": "vnpay"}),
        )
        .await;
    assert_eq!(s, 201, "{v2}");
    let a2 = v2["id"].as_str().unwrap().to_owned();
    let agg = e.app.store.pay_load(&id).await.unwrap().unwrap();
    let vn = agg.attempts.iter().find(|a| a.id == a2).unwrap();
    let resp = e
        .app
        .client
        .get(e.app.url("/callbacks/vnpay/ipn"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200); // empty body: malformed in the gateway's format
                                             // VNPAY success through a status query.
    e.script
        .lock()
        .unwrap()
        .status
        .insert(vn.gateway_ref.clone().unwrap(), ReportedStatus::Succeeded);
    worker
        .sync_attempt(&id, &a2, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(e.state(&id).await["state"], "succeeded");
    // Now MoMo's callback says the first attempt was paid too: double payment, refunded.
    assert_eq!(
        e.callback(format!("{gref}|50000|ok|good")).await,
        "Confirmed"
    );
    let s = e.state(&id).await;
    assert_eq!(s["state"], "succeeded");
    let states: Vec<&str> = s["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.iter().filter(|s| **s == "succeeded").count(), 1);
    assert!(states.contains(&"double_paid"));
    assert!(s["flags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["kind"] == "double_payment"));
    // The refund worker returns the money.
    worker
        .refunds_due(time::OffsetDateTime::now_utc() + time::Duration::seconds(1))
        .await
        .unwrap();
    let s = e.state(&id).await;
    assert_eq!(s["refunds"][0]["state"], "succeeded", "{s}");
    assert_eq!(s["state"], "succeeded");
    assert_eq!(s["refunded"], 0);
    assert_ledger_balanced(&e).await;
    let lines = e.app.store.ledger_lines(None).await.unwrap();
    let b = antin::pay::ledger::balances(lines.iter().map(|(_, _, l)| l));
    use antin::pay::ledger::Account;
    assert_eq!(b[&Account::RefundsPayable], 0);
    assert_eq!(
        b[&Account::AgencyCollection("113366668888".into())],
        -50_000
    );
    e.app.stop().await;
}
on_both_databases!(
    unknown_then_resolved_db,
    unknown_then_resolved_and_double_payment
);

/// A refund the gateway reports in progress is sent again later with the request first sent:
/// dated by the refund's creation, not by the retry (ZaloPay dates m_refund_id from it; a retry on
/// the next Vietnam day with a new date would refund the same money twice).
async fn refund_retry_keeps_the_refunds_date(db: Db) {
    let e = env(db, &[]).await;
    let id = e.paid_payment("HS-REF-R", "rr-a").await;
    e.script.lock().unwrap().refund_outcome = Some(RefundOutcome::Pending);
    let (s, v, _) = e
        .post(
            &format!("/v1/payments/{id}/refunds"),
            Some("rr1"),
            &json!({"amount": 20000, "reason": "Nộp thừa"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["refund"]["state"], "pending", "{v}");
    let next_day = time::OffsetDateTime::now_utc() + time::Duration::days(1);
    assert_eq!(instance(&e).refunds_due(next_day).await.unwrap(), 1);
    {
        let s = e.script.lock().unwrap();
        assert_eq!(s.refunds.len(), 2);
        let (first, retry) = (&s.refunds[0], &s.refunds[1]);
        assert_eq!(retry.refund_ref, first.refund_ref);
        assert!(
            (retry.created_at - first.created_at).abs() < time::Duration::seconds(1),
            "retry dated {} but the refund was created {}",
            retry.created_at,
            first.created_at
        );
    }
    assert_eq!(e.state(&id).await["refunds"][0]["state"], "pending");
    e.app.stop().await;
}
on_both_databases!(refund_retry_db, refund_retry_keeps_the_refunds_date);

async fn refunds_cancel_expiry(db: Db) {
    let e = env(db, &[]).await;
    // Paid, then refunded in two parts.
    let id = e.paid_payment("HS-REF-1", "r-a").await;
    let (s, v, _) = e
        .post(
            &format!("/v1/payments/{id}/refunds"),
            Some("r1"),
            &json!({"amount": 20000, "reason": "Nộp thừa"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["refund"]["state"], "succeeded");
    assert_eq!(v["payment"]["state"], "partially_refunded");
    assert_eq!(v["payment"]["refunded"], 20000);
    // More than what is left: refused.
    let (s, _, _) = e
        .post(
            &format!("/v1/payments/{id}/refunds"),
            Some("r2"),
            &json!({"amount": 30001, "reason": "x"}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, v, _) = e
        .post(
            &format!("/v1/payments/{id}/refunds"),
            Some("r3"),
            &json!({"reason": "Hủy hồ sơ"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["payment"]["state"], "refunded");
    assert_eq!(v["payment"]["refunded"], 50000);
    // Replay of a refund call: no second gateway refund.
    let (_, _, replayed) = e
        .post(
            &format!("/v1/payments/{id}/refunds"),
            Some("r3"),
            &json!({"reason": "Hủy hồ sơ"}),
        )
        .await;
    assert!(replayed);
    assert_eq!(e.script.lock().unwrap().refunds.len(), 2);
    // A refused refund leaves the money with the agency.
    let id2 = e.new_payment("HS-REF-2").await;
    let (g2, _) = e.attempt(&id2, "r-b").await;
    e.callback(format!("{g2}|50000|ok|good")).await;
    e.script.lock().unwrap().refund_outcome = Some(RefundOutcome::Rejected {
        code: "95".into(),
        message: "no".into(),
    });
    let (s, v, _) = e
        .post(
            &format!("/v1/payments/{id2}/refunds"),
            Some("r4"),
            &json!({"reason": "x"}),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(v["refund"]["state"], "failed");
    assert_eq!(v["payment"]["state"], "succeeded");
    assert_ledger_balanced(&e).await;
    // Cancel a pending payment; a success arriving afterwards is a double payment.
    let id3 = e.new_payment("HS-CAN-1").await;
    let (g3, _) = e.attempt(&id3, "c-a").await;
    let (s, v, _) = e
        .post(
            &format!("/v1/payments/{id3}/cancel"),
            Some("c1"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "cancelled");
    // A retry of the same cancel under its key replays the first answer (not a 409).
    let (s, v, replayed) = e
        .post(
            &format!("/v1/payments/{id3}/cancel"),
            Some("c1"),
            &json!({}),
        )
        .await;
    assert_eq!((s, replayed), (200, true), "{v}");
    assert_eq!(v["state"], "cancelled");
    let (s, _, _) = e
        .post(
            &format!("/v1/payments/{id3}/cancel"),
            Some("c2"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 409);
    e.script.lock().unwrap().refund_outcome = None;
    assert_eq!(e.callback(format!("{g3}|50000|ok|good")).await, "Confirmed");
    let s3 = e.state(&id3).await;
    assert_eq!(s3["state"], "cancelled");
    assert_eq!(s3["attempts"][0]["state"], "double_paid");
    // Failure then expiry.
    let id4 = e.new_payment("HS-EXP-1").await;
    let (g4, _) = e.attempt(&id4, "e-a").await;
    assert_eq!(
        e.callback(format!("{g4}|50000|fail|good")).await,
        "Confirmed"
    );
    assert_eq!(e.state(&id4).await["state"], "failed");
    assert_eq!(
        e.callback(format!("{g4}|50000|fail|good")).await,
        "AlreadyConfirmed"
    );
    let worker = instance(&e);
    let later = time::OffsetDateTime::now_utc() + time::Duration::days(2);
    assert!(worker.expire_due(later).await.unwrap() >= 1);
    assert_eq!(e.state(&id4).await["state"], "expired");
    // Cancelled by the citizen on the gateway's page.
    let id5 = e.new_payment("HS-CAN-2").await;
    let (g5, _) = e.attempt(&id5, "e-b").await;
    e.callback(format!("{g5}|50000|cancel|good")).await;
    assert_eq!(e.state(&id5).await["state"], "failed");
    assert_eq!(e.state(&id5).await["attempts"][0]["state"], "cancelled");
    e.app.stop().await;
}
on_both_databases!(refunds_cancel_expiry_db, refunds_cancel_expiry);

/// The portal's webhook: signed over "<t>." + the exact body, with a unique event id, retried.
async fn webhooks_signed_and_retried(db: Db) {
    use axum::routing::post;
    let got: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>> = Default::default();
    let fail_first = Arc::new(Mutex::new(1usize));
    let g = got.clone();
    let f = fail_first.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: axum::http::HeaderMap, body: String| {
            let g = g.clone();
            let f = f.clone();
            async move {
                let mut left = f.lock().unwrap();
                if *left > 0 {
                    *left -= 1;
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                g.lock().unwrap().push((headers, body));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let url = format!("http://{addr}/hook");
    let e = env(
        db,
        &[(
            "ANTIN_PAYMENTS__PORTALS__DEV-PORTAL__WEBHOOK_URL",
            url.as_str(),
        )],
    )
    .await;
    // The portal's key is named like the configured portal.
    let (secret, rec) =
        auth::generate_key("dev-portal", Role::Portal, time::OffsetDateTime::now_utc()).unwrap();
    e.app.store.insert_api_key(&rec, &[]).await.unwrap();
    let resp = e
        .app
        .client
        .post(e.app.url("/v1/payments"))
        .bearer_auth(secret.expose_secret())
        .header("idempotency-key", "w1")
        .json(&payment_body("HS-WH-1", 50_000))
        .send()
        .await
        .unwrap();
    let id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = e
        .app
        .client
        .post(e.app.url(&format!("/v1/payments/{id}/attempts")))
        .bearer_auth(secret.expose_secret())
        .header("idempotency-key", "w2")
        .json(&json!({"gateway": "momo"}))
        .send()
        .await
        .unwrap();
    let gref = resp.json::<Value>().await.unwrap()["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    e.callback(format!("{gref}|50000|ok|good")).await;
    let worker = instance(&e);
    let now = time::OffsetDateTime::now_utc();
    // The first delivery is refused (503) and retried after the first backoff step.
    let mut delivered = 0;
    for i in 0..5 {
        delivered += worker
            .deliver_due(now + time::Duration::seconds(i))
            .await
            .unwrap();
    }
    let got = got.lock().unwrap().clone();
    assert_eq!(delivered, got.len());
    let types: Vec<String> = got
        .iter()
        .map(|(_, b)| {
            serde_json::from_str::<Value>(b).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        types.iter().filter(|t| *t == "payment.succeeded").count(),
        1,
        "{types:?}"
    );
    assert_eq!(
        types.iter().filter(|t| *t == "payment.pending").count(),
        1,
        "{types:?}"
    );
    let ids: std::collections::HashSet<String> = got
        .iter()
        .map(|(h, _)| h["x-antin-event-id"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), got.len());
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"ANTINDEVWEBHOOKKEY00000000000000");
    for (headers, body) in &got {
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            headers["x-antin-event-id"].to_str().unwrap(),
            v["id"].as_str().unwrap()
        );
        let sig = headers["x-antin-signature"].to_str().unwrap();
        let (t, v1) = sig.split_once(",v1=").unwrap();
        let t: i64 = t.strip_prefix("t=").unwrap().parse().unwrap();
        let msg = format!("{t}.{body}");
        ring::hmac::verify(&key, msg.as_bytes(), &hex::decode(v1).unwrap()).expect("signature");
        // A body changed by one byte does not verify.
        let forged = format!("{t}.{body} ");
        assert!(ring::hmac::verify(&key, forged.as_bytes(), &hex::decode(v1).unwrap()).is_err());
    }
    // Delivered once: nothing more is due, ever.
    assert_eq!(
        worker
            .deliver_due(now + time::Duration::days(2))
            .await
            .unwrap(),
        0
    );
    e.app.stop().await;
}
on_both_databases!(webhooks_signed_and_retried_db, webhooks_signed_and_retried);

/// Two instances on one database claim work without overlap (leases; SKIP LOCKED on PostgreSQL).
async fn two_instances_never_double_process(db: Db) {
    let e = env(db, &[]).await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let id = e.new_payment(&format!("HS-LEASE-{i}")).await;
        e.script.lock().unwrap().start_timeouts = 1;
        e.attempt(&id, &format!("l{i}")).await;
        ids.push(id);
    }
    let a = instance(&e);
    let b = instance(&e);
    let now = time::OffsetDateTime::now_utc() + time::Duration::seconds(5);
    let (ca, cb) = tokio::join!(
        a.store()
            .pay_claim_sync(&a.instance, now, time::Duration::seconds(60), 8),
        b.store()
            .pay_claim_sync(&b.instance, now, time::Duration::seconds(60), 8),
    );
    let (ca, cb) = (ca.unwrap(), cb.unwrap());
    assert_eq!(ca.len() + cb.len(), 12, "{ca:?} {cb:?}");
    let sa: std::collections::HashSet<_> = ca.iter().map(|x| &x.attempt_id).collect();
    assert!(cb.iter().all(|x| !sa.contains(&x.attempt_id)));
    // While leased, nothing more is handed out.
    assert!(a
        .store()
        .pay_claim_sync("c", now, time::Duration::seconds(60), 8)
        .await
        .unwrap()
        .is_empty());
    // Status queries racing callbacks on the same attempts: one transition each.
    for id in &ids {
        let agg = e.app.store.pay_load(id).await.unwrap().unwrap();
        let r = agg.attempts[0]
            .gateway_ref
            .clone()
            .unwrap_or(agg.attempts[0].attempt_ref.clone());
        e.script
            .lock()
            .unwrap()
            .status
            .insert(r, ReportedStatus::Succeeded);
    }
    let later = now + time::Duration::seconds(120);
    let mut futs = Vec::new();
    for id in &ids {
        let agg = e.app.store.pay_load(id).await.unwrap().unwrap();
        let aid = agg.attempts[0].id.clone();
        let gref = agg.attempts[0]
            .gateway_ref
            .clone()
            .unwrap_or(agg.attempts[0].attempt_ref.clone());
        futs.push(async move { (id.clone(), aid, gref) });
    }
    let items = futures_util::future::join_all(futs).await;
    let racers = items.iter().map(|(id, aid, gref)| {
        let (a, b) = (&a, &b);
        let e = &e;
        async move {
            tokio::join!(
                a.sync_attempt(id, aid, later),
                b.sync_attempt(id, aid, later),
                e.callback(format!("{gref}|50000|ok|good")),
            )
        }
    });
    futures_util::future::join_all(racers).await;
    for id in &ids {
        let ts = e.app.store.pay_transitions(id).await.unwrap();
        assert_eq!(
            ts.iter()
                .filter(|t| t.subject == "payment" && t.to_state == "succeeded")
                .count(),
            1,
            "{ts:?}"
        );
        let lines = e.app.store.ledger_lines(Some(id)).await.unwrap();
        assert_eq!(lines.len(), 4);
    }
    assert_ledger_balanced(&e).await;
    e.app.stop().await;
}
on_both_databases!(two_instances_db, two_instances_never_double_process);
