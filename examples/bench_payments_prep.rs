//! Preparation for scripts/bench-payments.sh: creates payments with a VNPAY attempt each on a
//! running antin (through its portal API) and writes, one per line, the path of a correctly signed
//! VNPAY IPN (vnp_ResponseCode 00) for each attempt, for wrk to replay as fresh callbacks.
//!
//! `cargo run --release --example bench_payments_prep -- BASE_URL PORTAL_KEY CA_PEM COUNT OUT`

use std::sync::Arc;

use serde_json::{json, Value};

const VNPAY_TMN: &str = "ANTINDEV";
const VNPAY_SECRET: &str = "ANTINDEVVNPAYSECRET0000000000000";

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: bench_payments_prep BASE_URL PORTAL_KEY CA_PEM COUNT OUT");
        std::process::exit(64);
    }
    let (base, key) = (args[1].clone(), args[2].clone());
    let ca = std::fs::read(&args[3]).expect("CA file");
    let count: usize = args[4].parse().expect("COUNT");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA PEM"))
        .build()
        .unwrap();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (client, base, key, next, run) = (
            client.clone(),
            base.clone(),
            key.clone(),
            next.clone(),
            run.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lines = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= count {
                    return lines;
                }
                let post = |path: String, idem: String, body: Value| {
                    client
                        .post(format!("{base}{path}"))
                        .bearer_auth(&key)
                        .header("idempotency-key", idem)
                        .json(&body)
                        .send()
                };
                let p: Value = post(
                    "/v1/payments".into(),
                    format!("prep-{run}-{i}"),
                    json!({"dossier_ref": format!("HS-BENCH-{i}"), "agency": "dev",
                        "procedure_code": "1.001", "fee_code": "LP", "amount": 50_000,
                        "payer": {"name": "Nguyễn Văn An"}}),
                )
                .await
                .expect("create")
                .json()
                .await
                .expect("create answer");
                let id = p["id"].as_str().expect("payment id");
                let a: Value = post(
                    format!("/v1/payments/{id}/attempts"),
                    format!("prep-a-{run}-{i}"),
                    json!({"gateway": "vnpay"}),
                )
                .await
                .expect("attempt")
                .json()
                .await
                .expect("attempt answer");
                let reference = a["reference"].as_str().expect("reference").to_owned();
                let pairs: Vec<(String, String)> = [
                    ("vnp_Amount", "5000000".to_owned()),
                    ("vnp_BankCode", "NCB".to_owned()),
                    ("vnp_BankTranNo", format!("VNP{i}")),
                    ("vnp_CardType", "ATM".to_owned()),
                    ("vnp_OrderInfo", "bench".to_owned()),
                    ("vnp_PayDate", "20261202120000".to_owned()),
                    ("vnp_ResponseCode", "00".to_owned()),
                    ("vnp_TmnCode", VNPAY_TMN.to_owned()),
                    ("vnp_TransactionNo", format!("{}", 14_000_000 + i)),
                    ("vnp_TransactionStatus", "00".to_owned()),
                    ("vnp_TxnRef", reference),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
                let q = antin::sim::sign::vnp_signed_query(&pairs, VNPAY_SECRET.as_bytes());
                lines.push(format!("/callbacks/vnpay/ipn?{q}"));
            }
        }));
    }
    let mut out = String::new();
    for t in tasks {
        for l in t.await.unwrap() {
            out.push_str(&l);
            out.push('\n');
        }
    }
    std::fs::write(&args[5], out).expect("write OUT");
}
