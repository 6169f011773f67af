//! The crash test (issue 5): the real `antin serve` binary with the gateway simulators (in this
//! process, so the gateways remember what happened while antin is down) and a portal webhook
//! receiver; a load of payments (create, attempt, pay at the simulator with varying outcomes,
//! duplicate, late and lost callbacks, a second attempt after a failure, a citizen paying twice);
//! antin killed with SIGKILL at random moments and restarted, at least 20 times. After the last
//! restart the workers settle, then:
//! - every payment is in a final state and no attempt is left open;
//! - no payment succeeded twice (at most one succeeded attempt; paid iff one success);
//! - every succeeded attempt has exactly one balanced `payment_confirmed` posting set (and every
//!   double payment one `double_payment` set), every posting set balances;
//! - what antin holds agrees with the gateways: money taken at a gateway is a succeeded or
//!   double-paid attempt in antin, and the reverse;
//! - every portal notification in the outbox was delivered (its event id reached the receiver, with
//!   a valid signature).
//!
//! Prints `crash test: runs=.. kills=.. payments=.. anomalies=..` and asserts anomalies == 0. The
//! seed is printed; `ANTIN_CRASH_SEED=<n>` replays the same choices (the kill moments still race).

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Db;
use serde_json::{json, Value};
use sqlx::Row;

const KILLS: usize = 22;
const FLOWS: usize = 6;
const WEBHOOK_KEY: &str = "ANTINDEVWEBHOOKKEY00000000000000";

/// A small deterministic generator (xorshift64*), shared by the tasks.
#[derive(Clone)]
struct Rng(Arc<Mutex<u64>>);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(Arc::new(Mutex::new(seed | 1)))
    }
    fn next(&self) -> u64 {
        let mut x = self.0.lock().unwrap();
        *x ^= *x >> 12;
        *x ^= *x << 25;
        *x ^= *x >> 27;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `antin serve` process, restarted after every kill.
struct Server {
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    base: String,
    client: reqwest::Client,
    runs: usize,
}

impl Server {
    /// Starts the binary; on the first start returns the development keys it prints.
    fn start(&mut self) -> HashMap<String, String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_antin"))
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .current_dir(common::manifest_dir())
            .env_remove("ANTIN_CONFIG")
            .env("ANTIN_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start antin serve");
        self.runs += 1;
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<HashMap<String, String>>();
        // Reads the dev keys (first start only), then drains stdout so the child never blocks.
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut keys = HashMap::new();
            let mut sent = false;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let t: Vec<&str> = line.split_whitespace().collect();
                if t.len() == 2 && ["portal", "finance", "auditor", "admin"].contains(&t[0]) {
                    keys.insert(t[0].to_owned(), t[1].to_owned());
                }
                if line.starts_with("antin listening") && !sent {
                    let _ = tx.send(std::mem::take(&mut keys));
                    sent = true;
                }
            }
        });
        let keys = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("antin serve did not start (see its log)");
        self.child = Some(child);
        keys
    }

    /// Waits until the server answers.
    async fn ready(&self) {
        let t0 = Instant::now();
        loop {
            if let Ok(r) = self
                .client
                .get(format!("{}/healthz", self.base))
                .send()
                .await
            {
                if r.status().is_success() {
                    return;
                }
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "antin not ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: no shutdown code runs.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the load did at the gateways, for the comparison with antin's records.
#[derive(Default)]
struct Journal {
    /// (gateway, reference) -> the action asked of the simulator.
    acted: BTreeMap<(String, String), String>,
    payments: HashSet<String>,
    flows_done: usize,
    gave_up: usize,
}

struct Load {
    client: reqwest::Client,
    base: String,
    sim: String,
    portal_key: String,
    journal: Mutex<Journal>,
    rng: Rng,
    /// Past this, flows stop retrying (the run is over).
    give_up: Mutex<Instant>,
    run: String,
}

enum Answer {
    Done(u16, Value),
    GaveUp,
}

impl Load {
    /// A portal call retried under the same Idempotency-Key until it gets a definite answer:
    /// through connection errors (antin killed), 5xx, and 409 for a key still in flight.
    async fn call(&self, path: &str, key: &str, body: &Value) -> Answer {
        loop {
            if Instant::now() > *self.give_up.lock().unwrap() {
                return Answer::GaveUp;
            }
            let res = self
                .client
                .post(format!("{}{path}", self.base))
                .bearer_auth(&self.portal_key)
                .header("idempotency-key", key)
                .json(body)
                .send()
                .await;
            if let Ok(r) = res {
                let s = r.status().as_u16();
                let v: Value = r.json().await.unwrap_or(Value::Null);
                let in_flight = v["error"]["code"] == "idempotency_key_in_flight";
                if s < 500 && !in_flight {
                    return Answer::Done(s, v);
                }
            }
            tokio::time::sleep(Duration::from_millis(100 + self.rng.below(200))).await;
        }
    }

    async fn sim_act(&self, gw: &str, reference: &str, action: &str) -> bool {
        let r = self
            .client
            .post(format!("{}/{gw}/sim/orders/{reference}/{action}", self.sim))
            .send()
            .await;
        let ok = matches!(&r, Ok(r) if r.status().is_success());
        if ok {
            self.journal
                .lock()
                .unwrap()
                .acted
                .insert((gw.to_owned(), reference.to_owned()), action.to_owned());
        }
        ok
    }

    /// Starts an attempt (retried under one key) and acts at the gateway like the citizen would.
    async fn attempt(&self, id: &str, n: usize, gw: &str, action: &str) -> Option<String> {
        let key = format!("a-{}-{id}-{n}", self.run);
        let path = format!("/v1/payments/{id}/attempts");
        let Answer::Done(s, a) = self.call(&path, &key, &json!({"gateway": gw})).await else {
            return None;
        };
        if s != 201 || a["state"] != "pending" {
            return None;
        }
        let reference = a["reference"].as_str()?.to_owned();
        if let Some(url) = a["redirect_url"].as_str() {
            // The citizen's browser opens the gateway's page (VNPAY creates the order there).
            let _ = self.client.get(url).send().await;
        }
        self.sim_act(gw, &reference, action)
            .await
            .then_some(reference)
    }

    async fn flow(&self, i: usize) {
        let amount = 10_000 + 1_000 * self.rng.below(40) as i64;
        let body = json!({"dossier_ref": format!("HS-CRASH-{i}"), "agency": "dev",
            "procedure_code": "1.001", "fee_code": "LP", "amount": amount,
            "payer": {"name": "Trần Thị Bình"}});
        let key = format!("c-{}-{i}", self.run);
        let Answer::Done(201, v) = self.call("/v1/payments", &key, &body).await else {
            self.journal.lock().unwrap().gave_up += 1;
            return;
        };
        let Some(id) = v["id"].as_str().map(str::to_owned) else {
            return;
        };
        self.journal.lock().unwrap().payments.insert(id.clone());
        let gateways = ["vnpay", "momo", "zalopay"];
        let roll = self.rng.below(100);
        if roll < 10 {
            // The citizen opens two gateways and pays both: one success, one double payment.
            let first = self.attempt(&id, 1, "momo", "pay").await;
            let second = self.attempt(&id, 2, "zalopay", "pay").await;
            let _ = (first, second);
        } else {
            let gw = self.rng.pick(&gateways);
            let action = self.rng.pick(&[
                "pay",
                "pay",
                "pay",
                "duplicate-callback",
                "duplicate-callback",
                "no-callback",
                "late-callback",
                "fail",
                "cancel",
            ]);
            let _ = self.attempt(&id, 1, gw, action).await;
            if (action == "fail" || action == "cancel") && self.rng.below(2) == 0 {
                // Tries again with another gateway and pays.
                let gw2 = self.rng.pick(&gateways);
                let _ = self.attempt(&id, 2, gw2, "pay").await;
            }
        }
        self.journal.lock().unwrap().flows_done += 1;
    }
}

/// The portal's webhook endpoint: checks the signature, records event ids, sometimes fails.
async fn spawn_receiver(seen: Arc<Mutex<HashSet<String>>>, bad: Arc<AtomicUsize>) -> u16 {
    use axum::routing::post;
    let count = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/hook",
        post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let seen = seen.clone();
                let bad = bad.clone();
                let count = count.clone();
                async move {
                    let h = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned()
                    };
                    let sig = h("x-antin-signature");
                    let (t, v1) = sig
                        .split_once(",v1=")
                        .map(|(t, v)| (t.trim_start_matches("t=").to_owned(), v.to_owned()))
                        .unwrap_or_default();
                    let t: i64 = t.parse().unwrap_or(0);
                    let expected =
                        antin::pay::service::webhook_signature(WEBHOOK_KEY.as_bytes(), t, &body);
                    let id = h("x-antin-event-id");
                    let body_id = serde_json::from_slice::<Value>(&body)
                        .ok()
                        .and_then(|v| v["id"].as_str().map(str::to_owned));
                    if expected != v1 || body_id.as_deref() != Some(id.as_str()) {
                        bad.fetch_add(1, Ordering::SeqCst);
                        return axum::http::StatusCode::UNAUTHORIZED;
                    }
                    // Every seventh delivery fails: the outbox retries it.
                    if count.fetch_add(1, Ordering::SeqCst) % 7 == 3 {
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    seen.lock().unwrap().insert(id);
                    axum::http::StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

fn write_config(dir: &Path, db_url: &str, port: u16, sim_port: u16, hook_port: u16) -> PathBuf {
    let d = dir.display();
    let mut text = format!(
        r#"
[server]
listen = "127.0.0.1:{port}"
public_url = "https://localhost:{port}"
tls_cert = "{d}/tls.pem"
tls_key = "{d}/tls.key"

[database]
url = "{db_url}"

[trust]
anchor_dir = "{d}/anchors"
intermediate_dir = "{d}/intermediates"

[verify]
offline = true

[log]
level = "warn"

[audit]
signing_key = "{d}/audit/checkpoint.key"
pseudonym_key = "{d}/audit/pseudonym.key"
checkpoint_interval_secs = 2

[payments]
callback_base_url = "https://localhost:{port}"
simulators = false
workers = true
worker_interval_ms = 100
backoff_scale = 0.01
attempt_window_secs = 6
default_expiry_secs = 25
idempotency_lock_secs = 5
not_found_grace_secs = 2
lease_secs = 8

[payments.portals.dev-portal]
webhook_url = "http://127.0.0.1:{hook_port}/hook"
webhook_key = "{WEBHOOK_KEY}"
"#
    );
    for gw in ["vnpay", "momo", "zalopay"] {
        text.push_str(&format!(
            "\n[payments.agencies.dev.{gw}]\nbase_url = \"http://127.0.0.1:{sim_port}/{gw}\"\n\
             http = {{ timeout_ms = 3000, retries = 1 }}\n"
        ));
    }
    // The credentials: the development defaults (the [payments.agencies.dev.*] tables are merged).
    let path = dir.join("crash.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn is_final(state: &str) -> bool {
    matches!(
        state,
        "succeeded" | "expired" | "cancelled" | "refunded" | "partially_refunded"
    )
}

/// An attempt row: id, payment id, gateway, gateway reference, state.
type AttemptRow = (String, String, String, String, String);

/// What the database says, and what is wrong with it.
#[derive(Default, Debug)]
struct Findings {
    payments: usize,
    succeeded: usize,
    double_paid: usize,
    not_final: Vec<String>,
    open_attempts: Vec<String>,
    pending_refunds: usize,
    undelivered: Vec<String>,
    anomalies: Vec<String>,
    events: usize,
}

async fn inspect(
    pool: &sqlx::AnyPool,
    client: &reqwest::Client,
    sim: &str,
    seen: &HashSet<String>,
) -> Findings {
    let mut f = Findings::default();
    let payments: Vec<(String, String)> = sqlx::query("SELECT id, state FROM payments")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("id"), r.get("state")))
        .collect();
    f.payments = payments.len();
    let attempts: Vec<AttemptRow> = sqlx::query(
        "SELECT id, payment_id, gateway, COALESCE(gateway_ref, attempt_ref) AS r, state \
         FROM payment_attempts",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.get("id"),
            r.get("payment_id"),
            r.get("gateway"),
            r.get("r"),
            r.get("state"),
        )
    })
    .collect();
    let mut lines: HashMap<String, (String, String, i64, usize)> = HashMap::new();
    for r in sqlx::query("SELECT posting_id, kind, ref_id, amount FROM ledger_lines")
        .fetch_all(pool)
        .await
        .unwrap()
    {
        let e = lines
            .entry(r.get("posting_id"))
            .or_insert((r.get("kind"), r.get("ref_id"), 0, 0));
        e.2 += r.get::<i64, _>("amount");
        e.3 += 1;
    }
    let mut sets_by_ref: HashMap<(String, String), usize> = HashMap::new();
    for (pid, (kind, ref_id, sum, n)) in &lines {
        if *sum != 0 || *n < 2 {
            f.anomalies.push(format!(
                "posting set {pid} ({kind}) sums to {sum} over {n} lines"
            ));
        }
        *sets_by_ref
            .entry((kind.clone(), ref_id.clone()))
            .or_default() += 1;
    }
    let mut by_payment: HashMap<&str, Vec<&AttemptRow>> = HashMap::new();
    for a in &attempts {
        by_payment.entry(a.1.as_str()).or_default().push(a);
    }
    for (id, state) in &payments {
        if !is_final(state) {
            f.not_final.push(format!("{id} {state}"));
        }
        let atts = by_payment.get(id.as_str()).cloned().unwrap_or_default();
        let successes = atts.iter().filter(|a| a.4 == "succeeded").count();
        if successes > 1 {
            f.anomalies
                .push(format!("payment {id} has {successes} succeeded attempts"));
        }
        let paid = matches!(
            state.as_str(),
            "succeeded" | "refund_pending" | "partially_refunded" | "refunded"
        );
        if paid != (successes == 1) {
            f.anomalies.push(format!(
                "payment {id} is {state} with {successes} succeeded attempts"
            ));
        }
        if state == "succeeded" {
            f.succeeded += 1;
        }
    }
    for (aid, pid, gw, reference, state) in &attempts {
        if matches!(state.as_str(), "created" | "pending" | "unknown") {
            f.open_attempts.push(format!("{gw} {reference} {state}"));
        }
        let confirmations = sets_by_ref
            .get(&("payment_confirmed".to_owned(), aid.clone()))
            .copied()
            .unwrap_or(0);
        let doubles = sets_by_ref
            .get(&("double_payment".to_owned(), aid.clone()))
            .copied()
            .unwrap_or(0);
        let (want_c, want_d) = match state.as_str() {
            "succeeded" => (1, 0),
            "double_paid" => (0, 1),
            _ => (0, 0),
        };
        if state == "double_paid" {
            f.double_paid += 1;
        }
        if confirmations != want_c || doubles != want_d {
            f.anomalies.push(format!(
                "attempt {aid} of {pid} ({state}): {confirmations} confirmations, {doubles} double-payment sets"
            ));
        }
        // The gateway's truth: money taken there is money antin knows about, and the reverse.
        let r = client
            .get(format!("{sim}/{gw}/sim/orders/{reference}"))
            .send()
            .await
            .unwrap();
        let at_gateway = if r.status().is_success() {
            let v: Value = r.json().await.unwrap();
            v["status"].as_str().unwrap_or("").to_ascii_lowercase()
        } else {
            "absent".into()
        };
        let took = matches!(state.as_str(), "succeeded" | "double_paid");
        if (at_gateway == "succeeded") != took {
            f.anomalies.push(format!(
                "attempt {gw} {reference}: antin says {state}, the gateway {at_gateway}"
            ));
        }
    }
    f.pending_refunds = sqlx::query("SELECT id FROM payment_refunds WHERE state = 'pending'")
        .fetch_all(pool)
        .await
        .unwrap()
        .len();
    let outbox: Vec<(String, Option<String>)> =
        sqlx::query("SELECT id, delivered_at FROM payment_outbox")
            .fetch_all(pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("id"), r.get("delivered_at")))
            .collect();
    f.events = outbox.len();
    for (id, delivered) in &outbox {
        if delivered.is_none() || !seen.contains(id) {
            f.undelivered.push(id.clone());
        }
    }
    f
}

async fn crash_test(db: Db) {
    let seed: u64 = std::env::var("ANTIN_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("crash test seed {seed} ({db:?})");
    let rng = Rng::new(seed);
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let db_url = match db {
        Db::Sqlite => format!("sqlite://{}", dir.path().join("antin.db").display()),
        Db::Postgres => common::fresh_postgres_database().await,
    };
    let cert = dir.path().join("tls.pem");
    antin::http::tls::create_dev_certificate(&cert, &dir.path().join("tls.key")).unwrap();
    let port = free_port();
    let base = format!("https://localhost:{port}");

    // The gateways: alive through every kill of antin.
    let sim_cfg = antin::sim::SimConfig {
        time_scale: 0.01,
        ca_file: Some(cert.clone()),
        ..Default::default()
    };
    let (sim_addr, sim) = antin::sim::spawn(sim_cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("simulators");
    sim.set_vnpay_ipn_url("ANTINDEV", &format!("{base}/callbacks/vnpay/ipn"));
    let sim_base = format!("http://{sim_addr}");

    let seen = Arc::new(Mutex::new(HashSet::new()));
    let bad_sigs = Arc::new(AtomicUsize::new(0));
    let hook_port = spawn_receiver(seen.clone(), bad_sigs.clone()).await;

    let config = write_config(dir.path(), &db_url, port, sim_addr.port(), hook_port);
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap(),
        )
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut server = Server {
        config,
        log: dir.path().join("antin.log"),
        child: None,
        base: base.clone(),
        client: client.clone(),
        runs: 0,
    };
    let keys = server.start();
    server.ready().await;
    let portal_key = keys.get("portal").expect("dev portal key printed").clone();

    let load = Arc::new(Load {
        client: client.clone(),
        base: base.clone(),
        sim: sim_base.clone(),
        portal_key,
        journal: Mutex::new(Journal::default()),
        rng: rng.clone(),
        give_up: Mutex::new(Instant::now() + Duration::from_secs(600)),
        run: format!("{seed:x}"),
    });
    // FLOWS payment flows at a time, one after another, until the kills are over.
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..FLOWS {
        let (load, stop, counter) = (load.clone(), stop.clone(), counter.clone());
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let i = counter.fetch_add(1, Ordering::SeqCst);
                load.flow(i).await;
            }
        }));
    }

    let mut kills = 0;
    while kills < KILLS {
        tokio::time::sleep(Duration::from_millis(300 + rng.below(1700))).await;
        server.kill();
        kills += 1;
        if rng.below(4) == 0 {
            // Down for a while: gateways' callbacks fail and are retried (or lost).
            tokio::time::sleep(Duration::from_millis(rng.below(1500))).await;
        }
        server.start();
        server.ready().await;
    }
    stop.store(true, Ordering::SeqCst);
    // Flows still in progress finish against the last run (or give up after a minute).
    *load.give_up.lock().unwrap() = Instant::now() + Duration::from_secs(60);
    for w in workers {
        w.await.unwrap();
    }
    let load_done = started.elapsed();

    // Settle: the workers resolve what is open. Orders the citizen never saw (an attempt whose
    // answer a kill swallowed) stay pending at MoMo and ZaloPay until their gateway windows end
    // (5 to 100 minutes): the simulator is told their window ended, as time would.
    let pool = {
        sqlx::any::install_default_drivers();
        sqlx::any::AnyPoolOptions::new()
            .max_connections(2)
            .connect(&db_url)
            .await
            .unwrap()
    };
    let mut expired_orphans = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let findings = loop {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let seen_now = seen.lock().unwrap().clone();
        let f = inspect(&pool, &client, &sim_base, &seen_now).await;
        let settled = f.not_final.is_empty()
            && f.open_attempts.is_empty()
            && f.pending_refunds == 0
            && f.undelivered.is_empty();
        if settled || Instant::now() > deadline {
            break f;
        }
        let acted: HashSet<(String, String)> =
            load.journal.lock().unwrap().acted.keys().cloned().collect();
        for a in &f.open_attempts {
            let mut it = a.split(' ');
            let (gw, reference) = (it.next().unwrap(), it.next().unwrap());
            let k = (gw.to_owned(), reference.to_owned());
            if gw != "vnpay" && !acted.contains(&k) && expired_orphans.insert(k) {
                let _ = client
                    .post(format!("{sim_base}/{gw}/sim/orders/{reference}/expire"))
                    .send()
                    .await;
            }
        }
    };
    let (journal_payments, flows_done, gave_up) = {
        let j = load.journal.lock().unwrap();
        (j.payments.clone(), j.flows_done, j.gave_up)
    };
    let mut anomalies = findings.anomalies.clone();
    for p in &findings.not_final {
        anomalies.push(format!("payment not final: {p}"));
    }
    for a in &findings.open_attempts {
        anomalies.push(format!("attempt still open: {a}"));
    }
    if findings.pending_refunds > 0 {
        anomalies.push(format!(
            "{} refunds still pending",
            findings.pending_refunds
        ));
    }
    for e in &findings.undelivered {
        anomalies.push(format!("notification {e} never delivered"));
    }
    let bad = bad_sigs.load(Ordering::SeqCst);
    if bad > 0 {
        anomalies.push(format!("{bad} webhook deliveries with a bad signature"));
    }
    // Every payment the portal was told about is in the database.
    let stored: HashSet<String> = sqlx::query("SELECT id FROM payments")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("id"))
        .collect();
    for id in journal_payments.difference(&stored) {
        anomalies.push(format!("payment {id} answered 201 but not stored"));
    }
    for a in &anomalies {
        eprintln!("ANOMALY: {a}");
    }
    if !anomalies.is_empty() {
        eprintln!(
            "antin's log: {}",
            std::fs::read_to_string(&server.log)
                .unwrap_or_default()
                .lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    println!(
        "crash test ({db:?}): runs={} kills={kills} payments={} succeeded={} double_paid={} \
         notifications={} orphan_orders_expired={} flows={} gave_up={} load={:.1}s total={:.1}s \
         anomalies={}",
        server.runs,
        findings.payments,
        findings.succeeded,
        findings.double_paid,
        findings.events,
        expired_orphans.len(),
        flows_done,
        gave_up,
        load_done.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        anomalies.len()
    );
    assert!(kills >= 20);
    assert!(findings.payments >= 50, "too little load to mean anything");
    assert!(findings.succeeded > 0 && findings.double_paid > 0);
    assert_eq!(anomalies.len(), 0, "{anomalies:#?}");
    server.kill();
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "kills and restarts the antin binary 22 times, about 2 minutes (full suite)"]
async fn kill_9_at_random_moments_sqlite() {
    crash_test(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL at 127.0.0.1:5432; kills and restarts the antin binary (full suite)"]
async fn kill_9_at_random_moments_postgres() {
    crash_test(Db::Postgres).await;
}
