//! Reconciliation at scale: 1,000,000 gateway-settlement rows (VNPAY layout) against 1,000,000
//! ledger attempts, and 1,000,000 bank-statement entries (MT940; the same statement as camt.053 is
//! timed too) against 1,000,000 VietQR ledger attempts, with 1% injected discrepancies. Times each
//! importer (rows/s) and the matching, checks that exactly the injected discrepancies are found,
//! and prints the figures. Peak memory: run the built binary under `/usr/bin/time -v`.
//!
//! `cargo bench --bench recon` (ANTIN_BENCH_ROWS=100000 for a quicker run).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write as _};
use std::path::Path;
use std::time::Instant;

use antin::recon::config::FeeSchedule;
use antin::recon::import::{camt, csv, mt940};
use antin::recon::matching::{reconcile, Inputs, Params};
use antin::recon::*;
use compact_str::format_compact;
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};

const ACCT: &str = "113366668888";

fn amount(i: usize) -> i64 {
    // Distinct-enough amounts, whole thousands of dong like real fees.
    let x = (i as u64).wrapping_mul(2654435761) % 4_990;
    (x as i64 + 10) * 1_000
}

fn vnp_fee(a: i64) -> i64 {
    (a * 110 + 5_000) / 10_000
}

fn create(dir: &Path, name: &str) -> BufWriter<File> {
    BufWriter::with_capacity(1 << 16, File::create(dir.join(name)).unwrap())
}

fn open(dir: &Path, name: &str) -> BufReader<File> {
    BufReader::with_capacity(1 << 16, File::open(dir.join(name)).unwrap())
}

/// The process's peak resident memory so far (Linux `VmHWM`), in MB; 0 where unknown.
fn peak_rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

fn main() {
    let n: usize = std::env::var("ANTIN_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let day = date!(2026 - 11 - 20);
    let t0 = datetime!(2026-11-20 00:00:00 +07:00).to_offset(time::UtcOffset::UTC);
    let at = |i: usize| t0 + Duration::milliseconds((i as i64 * 86_000_000) / n as i64);
    let compact = time::macros::format_description!("[year][month][day][hour][minute][second]");

    // ---- generate the inputs (not timed) ----
    // Shared names, as the store hands them out (one copy each).
    let mut names = Names::default();
    let (dev, vnpay, vietqr, acct) = (
        names.get("dev"),
        names.get("vnpay"),
        names.get("vietqr"),
        names.get(ACCT),
    );
    let (lp01, lp02, lp03) = (names.get("LP01"), names.get("LP02"), names.get("LP03"));
    let mut ledger: Vec<LedgerTxn> = Vec::with_capacity(2 * n);
    // The inputs go to files, as they reach an import (nothing of them is held in memory).
    let dir = std::env::temp_dir().join(format!("antin-recon-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut file = create(&dir, "vnpay.csv");
    let _ = file.write_all("\u{feff}STT,TmnCode,TxnRef,TransactionNo,TransactionType,TransactionDate,Amount,Fee,NetAmount,BankCode,OrderInfo\r\n".as_bytes());
    let (mut rows, mut ta, mut tf) = (0usize, 0i64, 0i64);
    let mut expect: BTreeMap<Class, usize> = BTreeMap::new();
    let mut push_row =
        |file: &mut BufWriter<File>, r: &str, txn: usize, a: i64, fee: i64, t: OffsetDateTime| {
            rows += 1;
            ta += a;
            tf += fee;
            let local = t
                .to_offset(antin::timefmt::VIETNAM)
                .format(&compact)
                .unwrap();
            let _ = write!(
                file,
                "{rows},ANTINDEV,{r},{txn},01,{local},{a},{fee},{},NCB,\"Lệ phí hồ sơ, {r}\"\r\n",
                a - fee
            );
        };
    for i in 0..n {
        let a = amount(i);
        let r = format!("V{i:07}");
        ledger.push(LedgerTxn {
            id: format_compact!("a{i:07}"),
            agency: dev.clone(),
            fee_code: if i % 2 == 0 { &lp01 } else { &lp02 }.clone(),
            gateway: vnpay.clone(),
            kind: TxnKind::Payment,
            our_ref: r.as_str().into(),
            gateway_txn: Some(format_compact!("{}", 14_000_000 + i)),
            amount: a,
            status: LedgerStatus::Succeeded,
            at: at(i),
            account: acct.clone(),
        });
        // 1% injected, four classes in turn.
        match (i % 100 == 7).then_some((i / 100) % 4) {
            Some(0) => {
                *expect.entry(Class::AmountMismatch).or_default() += 1;
                push_row(
                    &mut file,
                    &r,
                    14_000_000 + i,
                    a + 1_000,
                    vnp_fee(a + 1_000),
                    at(i),
                );
            }
            Some(1) => *expect.entry(Class::MissingAtGateway).or_default() += 1,
            Some(2) => {
                *expect.entry(Class::Duplicate).or_default() += 1;
                push_row(&mut file, &r, 14_000_000 + i, a, vnp_fee(a), at(i));
                push_row(&mut file, &r, 14_000_000 + i, a, vnp_fee(a), at(i));
            }
            Some(_) => {
                *expect.entry(Class::MissingInLedger).or_default() += 1;
                push_row(&mut file, &r, 14_000_000 + i, a, vnp_fee(a), at(i));
                push_row(
                    &mut file,
                    &format!("X{i:07}"),
                    24_000_000 + i,
                    a + 7,
                    vnp_fee(a + 7),
                    at(i),
                );
            }
            None => push_row(&mut file, &r, 14_000_000 + i, a, vnp_fee(a), at(i)),
        }
    }
    let _ = write!(file, "TOTAL,{rows},,,,,{ta},{tf},{},,\r\n", ta - tf);
    let vnp_net = ta - tf;

    file.flush().unwrap();
    drop(file);

    // Bank: the VNPAY payout and one VietQR credit per VietQR attempt.
    let credited = |i: usize| {
        let a = amount(i + 7);
        if i % 100 == 41 {
            a - 500
        } else {
            a
        }
    };
    let total: i64 = vnp_net + (0..n).map(credited).sum::<i64>();
    let mut mt = create(&dir, "stmt.mt940");
    let mut cm = create(&dir, "stmt.xml");
    let _ = write!(
        mt,
        ":20:STMT261120\r\n:25:970415/{ACCT}\r\n:28C:324/1\r\n:60F:C261119VND0,\r\n"
    );
    let _ = writeln!(cm, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\"><BkToCstmrStmt><GrpHdr><MsgId>S</MsgId></GrpHdr><Stmt><Id>STMT-{ACCT}-{day}</Id><Acct><Id><Othr><Id>{ACCT}</Id></Othr></Id></Acct><Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"VND\">0</Amt><CdtDbtInd>CRDT</CdtDbtInd></Bal><Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"VND\">{total}</Amt><CdtDbtInd>CRDT</CdtDbtInd></Bal>");
    let mut credit = |r: &str, a: i64, memo: &str| {
        let _ = write!(mt, ":61:2611201120C{a},NTRFNONREF//{r}\r\n:86:{memo}\r\n");
        let _ = writeln!(cm, "<Ntry><Amt Ccy=\"VND\">{a}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt><AcctSvcrRef>{r}</AcctSvcrRef><NtryDtls><TxDtls><RmtInf><Ustrd>{memo}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>");
    };
    credit(
        "FT00000000",
        vnp_net,
        &format!("VNPAY TT QUYET TOAN NGAY {day}"),
    );
    for i in 0..n {
        let a = amount(i + 7);
        let r = format!("Q{i:07}");
        ledger.push(LedgerTxn {
            id: format_compact!("q{i:07}"),
            agency: dev.clone(),
            fee_code: lp03.clone(),
            gateway: vietqr.clone(),
            kind: TxnKind::Payment,
            our_ref: r.as_str().into(),
            gateway_txn: None,
            amount: a,
            status: LedgerStatus::Succeeded,
            at: at(i),
            account: acct.clone(),
        });
        if credited(i) != a {
            *expect.entry(Class::AmountMismatch).or_default() += 1;
        }
        credit(
            &format!("FT{:08}", i + 1),
            credited(i),
            &format!("ANTIN{r} NOP LE PHI"),
        );
    }
    let _ = write!(mt, ":62F:C261120VND{total},\r\n-\r\n");
    let _ = cm.write_all(b"</Stmt></BkToCstmrStmt></Document>\n");
    mt.flush().unwrap();
    cm.flush().unwrap();
    drop((mt, cm));
    // For the peer run side by side (scripts/bench-recon-peer.py): keep the files and the
    // ledger as CSV.
    let keep = std::env::var_os("ANTIN_BENCH_KEEP_FILES").is_some();
    if keep {
        let mut lf = create(&dir, "ledger.csv");
        let _ = lf.write_all(b"id,gateway,our_ref,gateway_txn,amount\n");
        for l in &ledger {
            let txn = l.gateway_txn.as_deref().unwrap_or("");
            let _ = writeln!(
                lf,
                "{},{},{},{txn},{}",
                l.id, l.gateway, l.our_ref, l.amount
            );
        }
        lf.flush().unwrap();
    }
    let generated_peak = peak_rss_mb();

    // ---- timed: import (parse) and match ----
    let layout = csv::default_layout("vnpay").unwrap();
    let mut inputs = Inputs {
        ledger,
        gateway: Vec::with_capacity(rows),
        bank: Vec::with_capacity(n + 1),
    };
    let t = Instant::now();
    let s = csv::parse(
        "vnpay",
        &layout,
        "vnpay.csv",
        open(&dir, "vnpay.csv"),
        &mut |r| inputs.gateway.push(r),
    )
    .unwrap();
    let csv_t = t.elapsed();
    let t = Instant::now();
    let m = mt940::parse("stmt.mt940", open(&dir, "stmt.mt940"), &mut |e| {
        inputs.bank.push(e)
    })
    .unwrap();
    let mt_t = t.elapsed();
    let t = Instant::now();
    let mut camt_rows = 0u64;
    camt::parse("stmt.xml", open(&dir, "stmt.xml"), &mut |_| camt_rows += 1).unwrap();
    let camt_t = t.elapsed();
    let imported_peak = peak_rss_mb();
    let mut fees = BTreeMap::new();
    fees.insert("vnpay".to_owned(), FeeSchedule { bp: 110, fixed: 0 });
    let p = Params {
        date: day,
        as_of: date!(2026 - 11 - 21),
        calendar: Calendar::default(),
        settlement_sla_days: 1,
        match_window_days: 1,
        memo_prefix: "ANTIN".into(),
        payout_memo: "{GATEWAY} TT QUYET TOAN NGAY {DATE}".into(),
        fees,
    };
    let t = Instant::now();
    let o = reconcile(&p, &inputs);
    let match_t = t.elapsed();
    let matched_peak = peak_rss_mb();
    if keep {
        eprintln!("kept the inputs in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }

    // The payout no longer equals the file's net only in the sense the file says; it is the
    // file's own net, so no payout discrepancy is expected.
    let mut got: BTreeMap<Class, usize> = BTreeMap::new();
    for d in &o.discrepancies {
        *got.entry(d.class).or_default() += 1;
    }
    assert_eq!(
        got, expect,
        "the engine must find exactly the injected discrepancies"
    );
    let rate = |rows: u64, d: std::time::Duration| rows as f64 / d.as_secs_f64();
    println!(
        "recon bench: {} ledger rows, {} gateway rows, {} bank entries",
        inputs.ledger.len(),
        s.rows,
        m.rows
    );
    println!(
        "  import vnpay csv : {:>7.0} ms  {:>10.0} rows/s",
        csv_t.as_secs_f64() * 1e3,
        rate(s.rows, csv_t)
    );
    println!(
        "  import mt940     : {:>7.0} ms  {:>10.0} rows/s",
        mt_t.as_secs_f64() * 1e3,
        rate(m.rows, mt_t)
    );
    println!(
        "  import camt.053  : {:>7.0} ms  {:>10.0} rows/s (same entries, not used for matching)",
        camt_t.as_secs_f64() * 1e3,
        rate(camt_rows, camt_t)
    );
    println!(
        "  match            : {:>7.0} ms  ({} matches, {} discrepancies: {:?})",
        match_t.as_secs_f64() * 1e3,
        o.matches.len(),
        o.discrepancies.len(),
        got
    );
    println!(
        "  import + match   : {:>7.0} ms",
        (csv_t + mt_t + match_t).as_secs_f64() * 1e3
    );
    println!(
        "  peak memory      : {generated_peak} MB after generating, {imported_peak} MB after \
         importing, {matched_peak} MB after matching (VmHWM)"
    );
}
