//! The three-way matching engine, a pure function of its inputs.
//!
//! Order of work (each step only sees what the steps before left unmatched):
//! 1. every input sorted by a total order of its own fields, so the input order never matters;
//! 2. ledger <-> gateway file: duplicates by the gateway's transaction number, then exact keys (our
//!    reference, then the gateway's transaction number), then the rule "same amount, dates within
//!    `match_window_days` business days";
//! 3. bank reversals cancel the entry they reverse;
//! 4. each gateway's day net total <-> its payout credit (by the payout memo, then by amount within
//!    the SLA); missing past the SLA is a discrepancy, within it is "awaiting";
//! 5. ledger VietQR attempts <-> bank credits (our reference in the memo, then amount and date);
//! 6. whatever the bank shows that nothing explains is missing in our ledger.
//!
//! Every match names its rule and keys; every discrepancy has a stable key (class, leg, reference)
//! so that a later run of the same day recognises one already resolved.

use std::collections::{BTreeMap, BTreeSet};

/// The engine's hash maps: keyed by untrusted strings from imported files, so a hasher seeded at
/// random per map (foldhash's quality variant: several times faster than SipHash on short keys,
/// which were a third of the matching time at a million rows).
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::quality::RandomState>;

use std::hash::{BuildHasher, Hash};

use compact_str::format_compact;
use serde::{Deserialize, Serialize};
use time::Date;

use super::calendar::Calendar;
use super::config::FeeSchedule;
use super::model::*;
use crate::pay::gateways::vietqr;

/// What the engine needs besides the rows.
#[derive(Debug, Clone)]
pub struct Params {
    /// The day being reconciled.
    pub date: Date,
    /// Today (for SLAs).
    pub as_of: Date,
    pub calendar: Calendar,
    pub settlement_sla_days: u32,
    pub match_window_days: u32,
    pub memo_prefix: String,
    /// Payout memo pattern with `{GATEWAY}` and `{DATE}`.
    pub payout_memo: String,
    pub fees: BTreeMap<String, FeeSchedule>,
}

/// The inputs of one run.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub ledger: Vec<LedgerTxn>,
    pub gateway: Vec<GatewayRow>,
    pub bank: Vec<BankEntry>,
}

/// The result: sorted, so equal inputs give equal outcomes whatever their order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub date: String,
    pub matches: Vec<Match>,
    pub discrepancies: Vec<Discrepancy>,
    pub awaiting: Vec<Awaiting>,
    pub summary: Vec<SummaryLine>,
    pub settlements: Vec<Settlement>,
}

impl Outcome {
    pub fn count(&self, class: Class) -> usize {
        self.discrepancies
            .iter()
            .filter(|d| d.class == class)
            .count()
    }
}

fn ledger_order(a: &LedgerTxn, b: &LedgerTxn) -> std::cmp::Ordering {
    (&a.id, &a.our_ref, a.at, a.amount).cmp(&(&b.id, &b.our_ref, b.at, b.amount))
}

fn row_order(a: &GatewayRow, b: &GatewayRow) -> std::cmp::Ordering {
    (&a.gateway, a.at, &a.gateway_txn, &a.origin, &a.our_ref).cmp(&(
        &b.gateway,
        b.at,
        &b.gateway_txn,
        &b.origin,
        &b.our_ref,
    ))
}

fn bank_order(a: &BankEntry, b: &BankEntry) -> std::cmp::Ordering {
    (&a.account, a.value_date, &a.bank_ref, &a.origin).cmp(&(
        &b.account,
        b.value_date,
        &b.bank_ref,
        &b.origin,
    ))
}

/// For each distinct key, the first row that has it. Only the row's position is stored (8 bytes a
/// slot); the key is recomputed from the row when compared, so an index over a million rows costs
/// a few megabytes rather than a copy of every key.
struct FirstBy<K, F> {
    key: F,
    _key: std::marker::PhantomData<fn() -> K>,
    table: hashbrown::HashTable<usize>,
    hasher: foldhash::quality::RandomState,
}

impl<K: Hash + Eq, F: Fn(usize) -> K> FirstBy<K, F> {
    fn new(capacity: usize, key: F) -> Self {
        FirstBy {
            key,
            _key: std::marker::PhantomData,
            table: hashbrown::HashTable::with_capacity(capacity),
            hasher: Default::default(),
        }
    }

    /// Records row `i` under its key, unless an earlier row has that key: returns that row.
    fn insert(&mut self, i: usize) -> Option<usize> {
        let FirstBy {
            key, table, hasher, ..
        } = self;
        let k = key(i);
        let entry = table.entry(
            hasher.hash_one(&k),
            |&j| key(j) == k,
            |&j| hasher.hash_one(key(j)),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(o) => Some(*o.get()),
            hashbrown::hash_table::Entry::Vacant(v) => {
                v.insert(i);
                None
            }
        }
    }

    fn get(&self, k: &K) -> Option<usize> {
        self.table
            .find(self.hasher.hash_one(k), |&j| (self.key)(j) == *k)
            .copied()
    }
}

struct Ctx<'a> {
    p: &'a Params,
    matches: Vec<Match>,
    disc: Vec<Discrepancy>,
    awaiting: Vec<Awaiting>,
}

impl Ctx<'_> {
    #[allow(clippy::too_many_arguments)]
    fn flag(
        &mut self,
        class: Class,
        reference: &str,
        gateway: &str,
        ledger: Option<&LedgerTxn>,
        row: Option<&GatewayRow>,
        bank: Option<&BankEntry>,
        expected: Option<i64>,
        actual: Option<i64>,
        detail: String,
    ) {
        let leg = match (ledger.is_some(), row.is_some(), bank.is_some()) {
            (_, true, _) => "gateway",
            (true, false, true) | (false, false, true) => "bank",
            _ => "ledger",
        };
        self.disc.push(Discrepancy {
            class,
            key: format!("{}:{leg}:{gateway}:{reference}", class.as_str()),
            gateway: gateway.to_owned(),
            ledger: ledger.map(|l| l.id.to_string()),
            gateway_row: row.map(|r| r.origin.clone()),
            bank: bank.map(|b| b.origin.clone()),
            expected,
            actual,
            agency: ledger.map(|l| l.agency.to_string()),
            account: ledger.map(|l| l.account.to_string()),
            detail,
        });
    }
}

/// Reconciles one day.
pub fn reconcile(p: &Params, inputs: &Inputs) -> Outcome {
    let mut ledger: Vec<&LedgerTxn> = inputs.ledger.iter().collect();
    ledger.sort_unstable_by(|a, b| ledger_order(a, b));
    let mut rows: Vec<&GatewayRow> = inputs.gateway.iter().collect();
    rows.sort_unstable_by(|a, b| row_order(a, b));
    let mut bank: Vec<&BankEntry> = inputs.bank.iter().collect();
    bank.sort_unstable_by(|a, b| bank_order(a, b));

    let mut cx = Ctx {
        p,
        // At most one match per gateway row and per bank entry: one allocation up front.
        matches: Vec::with_capacity(rows.len() + bank.len()),
        disc: Vec::new(),
        awaiting: Vec::new(),
    };
    // Ledger index -> matched gateway row (index).
    let mut ledger_taken = vec![false; ledger.len()];
    let mut pairs: Vec<(usize, usize)> = Vec::with_capacity(rows.len());

    // --- 2. ledger <-> gateway rows -------------------------------------------------------
    // Only the ledger rows of gateways that have a file in this run can match one of its rows.
    let file_gateways: BTreeSet<&str> = rows.iter().map(|r| &*r.gateway).collect();
    let candidates = ledger
        .iter()
        .filter(|l| file_gateways.contains(&*l.gateway))
        .count();
    let mut by_ref = FirstBy::new(candidates, |i| {
        let l: &LedgerTxn = ledger[i];
        (&*l.gateway, l.kind, l.our_ref.as_str())
    });
    let mut by_txn = FirstBy::new(candidates, |i| {
        let l: &LedgerTxn = ledger[i];
        (&*l.gateway, l.kind, l.gateway_txn.as_deref().unwrap_or(""))
    });
    for (i, l) in ledger.iter().enumerate() {
        if !file_gateways.contains(&*l.gateway) {
            continue;
        }
        by_ref.insert(i);
        if l.gateway_txn.as_deref().is_some_and(|t| !t.is_empty()) {
            by_txn.insert(i);
        }
    }
    let mut seen_txn = FirstBy::new(rows.len(), |i| {
        let r: &GatewayRow = rows[i];
        (&*r.gateway, r.kind, r.gateway_txn.as_str())
    });
    let mut unmatched_rows: Vec<usize> = Vec::new();
    for (ri, r) in rows.iter().enumerate() {
        // A transaction number listed twice: the second row is a duplicate.
        if !r.gateway_txn.is_empty() {
            if let Some(first) = seen_txn.insert(ri) {
                let f = rows[first];
                cx.flag(
                    Class::Duplicate,
                    &format!("{}@{}", r.gateway_txn, r.origin.line),
                    &r.gateway,
                    None,
                    Some(r),
                    None,
                    None,
                    Some(r.amount),
                    format!(
                        "gateway transaction {} listed again (first on line {})",
                        r.gateway_txn, f.origin.line
                    ),
                );
                continue;
            }
        }
        let key_ref = (&*r.gateway, r.kind, r.our_ref.as_str());
        let key_txn = (&*r.gateway, r.kind, r.gateway_txn.as_str());
        let hit = match by_ref.get(&key_ref) {
            Some(li) if !r.our_ref.is_empty() => Some((li, Rule::OurReference)),
            _ => by_txn
                .get(&key_txn)
                .filter(|_| !r.gateway_txn.is_empty())
                .map(|li| (li, Rule::GatewayTransaction)),
        };
        match hit {
            Some((li, rule)) if !ledger_taken[li] => {
                ledger_taken[li] = true;
                let keys = Keys::One(match rule {
                    Rule::OurReference => format_compact!("our_ref={}", r.our_ref),
                    _ => format_compact!("gateway_txn={}", r.gateway_txn),
                });
                pair(&mut cx, ledger[li], r, rule, keys);
                pairs.push((li, ri));
            }
            Some((li, _)) => {
                // Our attempt already matched: the gateway reports it twice under two numbers.
                cx.flag(
                    Class::Duplicate,
                    &format!("{}@{}", r.our_ref, r.origin.line),
                    &r.gateway,
                    Some(ledger[li]),
                    Some(r),
                    None,
                    Some(ledger[li].amount),
                    Some(r.amount),
                    format!(
                        "{} reported again with transaction {}",
                        r.our_ref, r.gateway_txn
                    ),
                );
            }
            None => unmatched_rows.push(ri),
        }
    }
    // Rule: the same gateway, kind and amount, dates within the window; the nearest date wins,
    // then the smallest id (the ledger is sorted), so the choice is deterministic.
    // Candidates by (gateway, kind, amount), in ledger order: only unmatched successes.
    let mut by_amount: HashMap<(&str, TxnKind, i64), Vec<usize>> = HashMap::default();
    if !unmatched_rows.is_empty() {
        let gateways: BTreeSet<&str> = unmatched_rows
            .iter()
            .map(|&ri| &*rows[ri].gateway)
            .collect();
        for (li, l) in ledger.iter().enumerate() {
            if !ledger_taken[li]
                && l.status == LedgerStatus::Succeeded
                && gateways.contains(&*l.gateway)
            {
                by_amount
                    .entry((&*l.gateway, l.kind, l.amount))
                    .or_default()
                    .push(li);
            }
        }
    }
    let mut still_unmatched: Vec<usize> = Vec::new();
    for ri in unmatched_rows {
        let r = rows[ri];
        let rd = p.calendar.business_date(r.at);
        let mut best: Option<(i64, usize)> = None;
        let cands = by_amount
            .get(&(&*r.gateway, r.kind, r.amount))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for &li in cands {
            let l = ledger[li];
            if ledger_taken[li] {
                continue;
            }
            let ld = p.calendar.business_date(l.at);
            if !p.calendar.within_business_days(ld, rd, p.match_window_days) {
                continue;
            }
            let dist = (ld - rd).whole_days().abs();
            if best.is_none_or(|(d, _)| dist < d) {
                best = Some((dist, li));
            }
        }
        match best {
            Some((_, li)) => {
                ledger_taken[li] = true;
                let keys = Keys::many(vec![
                    format!("amount={}", r.amount),
                    format!("date={}", rd),
                    format!("gateway_txn={}", r.gateway_txn),
                ]);
                pair(&mut cx, ledger[li], r, Rule::AmountAndDate, keys);
                pairs.push((li, ri));
            }
            None => still_unmatched.push(ri),
        }
    }
    for ri in still_unmatched {
        let r = rows[ri];
        fee_check(&mut cx, None, r);
        if r.status == GatewayStatus::Paid {
            cx.flag(
                Class::MissingInLedger,
                if r.gateway_txn.is_empty() {
                    &r.our_ref
                } else {
                    &r.gateway_txn
                },
                &r.gateway,
                None,
                Some(r),
                None,
                None,
                Some(r.amount),
                format!(
                    "{} {} {} not in our ledger",
                    r.gateway, r.our_ref, r.gateway_txn
                ),
            );
        }
    }
    for (li, l) in ledger.iter().enumerate() {
        if ledger_taken[li]
            || l.gateway == "vietqr"
            || l.status != LedgerStatus::Succeeded
            || p.calendar.business_date(l.at) != p.date
        {
            continue;
        }
        cx.flag(
            Class::MissingAtGateway,
            &l.our_ref,
            &l.gateway,
            Some(l),
            None,
            None,
            Some(l.amount),
            None,
            format!(
                "{} succeeded in our ledger, not in the {} file",
                l.our_ref, l.gateway
            ),
        );
    }

    // The indexes of this pass are done with: free them before the next passes add matches.
    drop((by_ref, by_txn, seen_txn, by_amount));

    // --- 3. bank reversals and duplicate entries ------------------------------------------
    let mut bank_taken = vec![false; bank.len()];
    let mut seen_bank = FirstBy::new(bank.len(), |i| {
        let b: &BankEntry = bank[i];
        (&*b.account, b.direction, b.bank_ref.as_str())
    });
    for (bi, b) in bank.iter().enumerate() {
        if b.reversal || b.bank_ref.is_empty() {
            continue;
        }
        if let Some(first) = seen_bank.insert(bi) {
            bank_taken[bi] = true;
            cx.flag(
                Class::Duplicate,
                &format!("{}@{}", b.bank_ref, b.origin.line),
                "bank",
                None,
                None,
                Some(b),
                None,
                Some(b.amount),
                format!(
                    "bank entry {} listed again (first: {} line {})",
                    b.bank_ref, bank[first].origin.file, bank[first].origin.line
                ),
            );
        }
    }
    drop(seen_bank);
    let mut by_acct_amount: HashMap<(&str, i64), Vec<usize>> = HashMap::default();
    if bank.iter().any(|b| b.reversal) {
        for (oi, o) in bank.iter().enumerate() {
            if !o.reversal {
                by_acct_amount
                    .entry((&*o.account, o.amount))
                    .or_default()
                    .push(oi);
            }
        }
    }
    for bi in 0..bank.len() {
        let b = bank[bi];
        if !b.reversal || bank_taken[bi] {
            continue;
        }
        let cands = by_acct_amount
            .get(&(&*b.account, b.amount))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let target = cands.iter().copied().find(|&oi| {
            let o = bank[oi];
            !bank_taken[oi]
                && !o.reversal
                && o.account == b.account
                && o.amount == b.amount
                && o.direction != b.direction
                && (o.bank_ref == b.bank_ref || b.memo.contains(o.bank_ref.as_str()))
        });
        if let Some(oi) = target {
            bank_taken[bi] = true;
            bank_taken[oi] = true;
            cx.matches.push(Match {
                leg: Leg::BankBank,
                rule: Rule::Reversal,
                keys: Keys::many(vec![
                    format!("bank_ref={}", bank[oi].bank_ref),
                    format!("amount={}", b.amount),
                ]),
                ledger: None,
                gateway: None,
                settlement: None,
                bank: Some(bank[oi].origin.clone()),
                amount: b.amount,
            });
        }
    }

    // --- 4. gateway payouts <-> bank ------------------------------------------------------
    // Expected account per gateway: the collection account of its matched ledger rows.
    let mut accounts: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for &(li, _) in &pairs {
        let l = ledger[li];
        *accounts
            .entry(&*l.gateway)
            .or_default()
            .entry(&*l.account)
            .or_insert(0) += 1;
    }
    let mut settlements: BTreeMap<&str, Settlement> = BTreeMap::new();
    for r in &rows {
        let s = settlements
            .entry(&*r.gateway)
            .or_insert_with(|| Settlement {
                gateway: r.gateway.to_string(),
                ..Settlement::default()
            });
        let sign = if r.kind == TxnKind::Refund { -1 } else { 1 };
        s.gross = s.gross.saturating_add(sign * r.amount);
        s.fees = s.fees.saturating_add(r.fee);
        s.net = s.gross.saturating_sub(s.fees);
    }
    let due = p.calendar.add_business_days(p.date, p.settlement_sla_days);
    for s in settlements.values_mut() {
        if s.net <= 0 {
            continue;
        }
        let memo = p
            .payout_memo
            .replace("{GATEWAY}", &s.gateway.to_ascii_uppercase())
            .replace("{DATE}", &p.date.to_string());
        let by_memo = (0..bank.len()).find(|&bi| {
            let b = bank[bi];
            !bank_taken[bi]
                && b.direction == Direction::Credit
                && vietqr::find_ignore_ascii_case(b.memo.as_bytes(), memo.as_bytes()).is_some()
        });
        let (bi, rule, keys) = match by_memo {
            Some(bi) => (
                Some(bi),
                Rule::PayoutMemo,
                Keys::One(format_compact!("memo={memo}")),
            ),
            None => {
                let bi = (0..bank.len()).find(|&bi| {
                    let b = bank[bi];
                    !bank_taken[bi]
                        && b.direction == Direction::Credit
                        && b.amount == s.net
                        && b.value_date >= p.date
                        && b.value_date <= due
                        && vietqr::reference_span_in_memo(&p.memo_prefix, &b.memo).is_none()
                });
                (
                    bi,
                    Rule::AmountAndDate,
                    Keys::many(vec![
                        format!("amount={}", s.net),
                        format!("value_date<={due}"),
                    ]),
                )
            }
        };
        let settlement_ref = format!("{}:{}", s.gateway, p.date);
        let Some(bi) = bi else {
            if p.as_of > due {
                cx.flag(
                    Class::MissingAtBank,
                    &p.date.to_string(),
                    &s.gateway.clone(),
                    None,
                    None,
                    None,
                    Some(s.net),
                    None,
                    format!(
                        "{} settlement of {} ({} VND net) not at the bank by {due}",
                        s.gateway, p.date, s.net
                    ),
                );
            } else {
                cx.awaiting.push(Awaiting {
                    what: settlement_ref,
                    amount: s.net,
                    due,
                });
            }
            continue;
        };
        bank_taken[bi] = true;
        let b = bank[bi];
        s.received = b.amount;
        cx.matches.push(Match {
            leg: Leg::GatewayBank,
            rule,
            keys,
            ledger: None,
            gateway: None,
            settlement: Some(settlement_ref.into()),
            bank: Some(b.origin.clone()),
            amount: b.amount,
        });
        if b.amount != s.net {
            cx.flag(
                Class::AmountMismatch,
                &p.date.to_string(),
                &s.gateway.clone(),
                None,
                None,
                Some(b),
                Some(s.net),
                Some(b.amount),
                format!(
                    "{} paid out {} VND for {}, its file's net is {}",
                    s.gateway, b.amount, p.date, s.net
                ),
            );
        }
        if let Some(expected) = accounts.get(&*s.gateway).and_then(|m| {
            m.iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(a, _)| *a)
        }) {
            if expected != &*b.account {
                cx.flag(
                    Class::WrongAccount,
                    &p.date.to_string(),
                    &s.gateway.clone(),
                    None,
                    None,
                    Some(b),
                    None,
                    Some(b.amount),
                    format!(
                        "{} settlement paid into {}, the agency's collection account is {expected}",
                        s.gateway, b.account
                    ),
                );
            }
        }
    }

    // --- 5. VietQR attempts <-> bank credits ----------------------------------------------
    // References are matched ignoring ASCII case (bank apps upper-case memos); ours are
    // upper-case already, so this copies only the odd one that is not.
    let qr_rows = ledger
        .iter()
        .filter(|l| l.gateway == "vietqr" && l.kind == TxnKind::Payment)
        .count();
    let mut qr_ref = FirstBy::new(qr_rows, |i| upper(&ledger[i].our_ref));
    for (li, l) in ledger.iter().enumerate() {
        if l.gateway == "vietqr" && l.kind == TxnKind::Payment {
            qr_ref.insert(li);
        }
    }
    let mut qr_unmatched: Vec<usize> = Vec::new();
    // (ledger index, amount) of each VietQR match, for the summary.
    let mut qr_items: Vec<(usize, i64)> = Vec::new();
    for bi in 0..bank.len() {
        let b = bank[bi];
        if bank_taken[bi] || b.direction != Direction::Credit || b.reversal {
            continue;
        }
        let Some(reference) = vietqr::reference_span_in_memo(&p.memo_prefix, &b.memo) else {
            qr_unmatched.push(bi);
            continue;
        };
        let Some(li) = qr_ref.get(&upper(reference)) else {
            qr_unmatched.push(bi);
            continue;
        };
        bank_taken[bi] = true;
        if ledger_taken[li] {
            cx.flag(
                Class::Duplicate,
                &format!("{}@{}", ledger[li].our_ref, b.bank_ref),
                "vietqr",
                Some(ledger[li]),
                None,
                Some(b),
                Some(ledger[li].amount),
                Some(b.amount),
                format!("a second transfer {} for {reference}", b.bank_ref),
            );
            continue;
        }
        ledger_taken[li] = true;
        qr_items.push((li, b.amount));
        qr_pair(
            &mut cx,
            ledger[li],
            b,
            Rule::VietqrMemo,
            Keys::One(format_compact!("memo_ref={reference}")),
        );
    }
    // VietQR by rule: credits whose memo lost our reference.
    let mut unexplained: Vec<usize> = Vec::new();
    let mut qr_by_amount: HashMap<i64, Vec<usize>> = HashMap::default();
    if !qr_unmatched.is_empty() {
        for (li, l) in ledger.iter().enumerate() {
            if !ledger_taken[li]
                && l.gateway == "vietqr"
                && l.kind == TxnKind::Payment
                && l.status == LedgerStatus::Succeeded
            {
                qr_by_amount.entry(l.amount).or_default().push(li);
            }
        }
    }
    for bi in qr_unmatched {
        let b = bank[bi];
        let cands = qr_by_amount
            .get(&b.amount)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let found = cands.iter().map(|&li| (li, ledger[li])).find(|(li, l)| {
            !ledger_taken[*li]
                && p.calendar.within_business_days(
                    p.calendar.business_date(l.at),
                    b.value_date,
                    p.match_window_days,
                )
        });
        match found {
            Some((li, l)) => {
                ledger_taken[li] = true;
                qr_items.push((li, b.amount));
                qr_pair(
                    &mut cx,
                    l,
                    b,
                    Rule::AmountAndDate,
                    Keys::many(vec![
                        format!("amount={}", b.amount),
                        format!("value_date={}", b.value_date),
                    ]),
                );
                bank_taken[bi] = true;
            }
            None => unexplained.push(bi),
        }
    }
    for (li, l) in ledger.iter().enumerate() {
        if ledger_taken[li]
            || l.gateway != "vietqr"
            || l.kind != TxnKind::Payment
            || l.status != LedgerStatus::Succeeded
            || p.calendar.business_date(l.at) != p.date
        {
            continue;
        }
        if p.as_of > due {
            cx.flag(
                Class::MissingAtBank,
                &l.our_ref,
                "vietqr",
                Some(l),
                None,
                None,
                Some(l.amount),
                None,
                format!(
                    "VietQR {} confirmed, no credit on the statement by {due}",
                    l.our_ref
                ),
            );
        } else {
            cx.awaiting.push(Awaiting {
                what: format!("vietqr:{}", l.our_ref),
                amount: l.amount,
                due,
            });
        }
    }

    // --- 6. unexplained bank entries ------------------------------------------------------
    let debits: Vec<usize> = (0..bank.len())
        .filter(|&bi| {
            !bank_taken[bi] && !bank[bi].reversal && bank[bi].direction == Direction::Debit
        })
        .collect();
    for bi in unexplained.into_iter().chain(debits) {
        let b = bank[bi];
        if bank_taken[bi] {
            continue;
        }
        bank_taken[bi] = true;
        // A later day's entry, or another day's payout, is that day's run's business.
        if b.value_date > p.date || other_days_payout(p, &b.memo) {
            continue;
        }
        cx.flag(
            Class::MissingInLedger,
            &format!("{}:{}", b.account, b.bank_ref),
            "bank",
            None,
            None,
            Some(b),
            None,
            Some(if b.direction == Direction::Debit {
                -b.amount
            } else {
                b.amount
            }),
            format!(
                "{} {} VND on {} ({}) explained by nothing in our ledger",
                if b.direction == Direction::Debit {
                    "debit"
                } else {
                    "credit"
                },
                b.amount,
                b.account,
                b.memo
            ),
        );
    }
    // Reversals left over (nothing to reverse).
    for bi in 0..bank.len() {
        if !bank_taken[bi] {
            let b = bank[bi];
            cx.flag(
                Class::MissingInLedger,
                &format!("{}:{}", b.account, b.bank_ref),
                "bank",
                None,
                None,
                Some(b),
                None,
                Some(b.amount),
                format!("reversal {} of nothing on the statement", b.bank_ref),
            );
        }
    }

    // --- summary ---------------------------------------------------------------------------
    let mut summary: HashMap<(&str, &str, &str), SummaryLine> = HashMap::default();
    let items = pairs
        .iter()
        .map(|&(li, ri)| (li, rows[ri].amount, rows[ri].fee))
        .chain(qr_items.iter().map(|&(li, a)| (li, a, 0)));
    for (li, amount, fee) in items {
        let l = ledger[li];
        // What citizens paid: confirmed rows only (the others are discrepancies).
        if l.status != LedgerStatus::Succeeded {
            continue;
        }
        let s = summary
            .entry((&*l.agency, &*l.gateway, &*l.fee_code))
            .or_insert_with(|| SummaryLine {
                agency: l.agency.to_string(),
                gateway: l.gateway.to_string(),
                fee_code: l.fee_code.to_string(),
                ..SummaryLine::default()
            });
        match l.kind {
            TxnKind::Payment => {
                s.payments += 1;
                s.gross = s.gross.saturating_add(amount);
            }
            TxnKind::Refund => {
                s.refunds += 1;
                s.gross = s.gross.saturating_sub(amount);
            }
        }
        s.fees = s.fees.saturating_add(fee);
        s.net = s.gross.saturating_sub(s.fees);
    }

    let mut out = Outcome {
        date: p.date.to_string(),
        matches: cx.matches,
        discrepancies: cx.disc,
        awaiting: cx.awaiting,
        summary: summary
            .into_iter()
            .collect::<BTreeMap<_, _>>()
            .into_values()
            .collect(),
        settlements: settlements.into_values().collect(),
    };
    // Matches come out in the order of the sorted inputs: deterministic without a sort.
    out.discrepancies.sort();
    out.discrepancies.dedup();
    out.awaiting.sort();
    out
}

/// `s` in ASCII upper case, copied only when it is not already.
fn upper(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_lowercase()) {
        s.to_ascii_uppercase().into()
    } else {
        s.into()
    }
}

/// Whether a memo is a gateway's payout for a day other than the run's.
fn other_days_payout(p: &Params, memo: &str) -> bool {
    let Some((before, _)) = p.payout_memo.split_once("{DATE}") else {
        return false;
    };
    let upper = memo.to_ascii_uppercase();
    ["VNPAY", "MOMO", "ZALOPAY"].iter().any(|g| {
        let prefix = before.replace("{GATEWAY}", g).to_ascii_uppercase();
        upper.find(&prefix).is_some_and(|i| {
            let rest = &upper[i + prefix.len()..];
            rest.get(0..10)
                .and_then(super::config::parse_date)
                .is_some_and(|d| d != p.date)
        })
    })
}

/// A ledger row and a gateway row found to be the same transaction: the match, then its checks.
fn pair(cx: &mut Ctx<'_>, l: &LedgerTxn, r: &GatewayRow, rule: Rule, keys: Keys) {
    cx.matches.push(Match {
        leg: Leg::LedgerGateway,
        rule,
        keys,
        ledger: Some(l.id.clone()),
        gateway: Some(r.origin.clone()),
        settlement: None,
        bank: None,
        amount: r.amount,
    });
    match (l.status, r.status) {
        (LedgerStatus::Succeeded, GatewayStatus::Paid) if l.amount != r.amount => {
            cx.flag(
                Class::AmountMismatch,
                &l.our_ref,
                &l.gateway,
                Some(l),
                Some(r),
                None,
                Some(l.amount),
                Some(r.amount),
                format!(
                    "{}: {} VND in our ledger, {} VND in the {} file",
                    l.our_ref, l.amount, r.amount, r.gateway
                ),
            );
        }
        (LedgerStatus::Failed | LedgerStatus::Pending, GatewayStatus::Paid) => cx.flag(
            Class::StatusWeFailedTheyPaid,
            &l.our_ref,
            &l.gateway,
            Some(l),
            Some(r),
            None,
            None,
            Some(r.amount),
            format!(
                "{}: {:?} in our ledger, paid at {}",
                l.our_ref, l.status, r.gateway
            ),
        ),
        (LedgerStatus::Succeeded, GatewayStatus::Failed) => cx.flag(
            Class::StatusWePaidTheyFailed,
            &l.our_ref,
            &l.gateway,
            Some(l),
            Some(r),
            None,
            Some(l.amount),
            None,
            format!(
                "{}: succeeded in our ledger, failed at {}",
                l.our_ref, r.gateway
            ),
        ),
        _ => {}
    }
    fee_check(cx, Some(l), r);
}

fn fee_check(cx: &mut Ctx<'_>, l: Option<&LedgerTxn>, r: &GatewayRow) {
    if r.status != GatewayStatus::Paid {
        return;
    }
    let reference = if r.gateway_txn.is_empty() {
        &r.our_ref
    } else {
        &r.gateway_txn
    };
    if r.net != r.amount - r.fee {
        cx.flag(
            Class::FeeMismatch,
            reference,
            &r.gateway,
            l,
            Some(r),
            None,
            Some(r.amount - r.fee),
            Some(r.net),
            format!(
                "net {} is not amount {} minus fee {}",
                r.net, r.amount, r.fee
            ),
        );
        return;
    }
    let expected = match (r.kind, cx.p.fees.get(&*r.gateway)) {
        (TxnKind::Payment, Some(s)) => s.fee(r.amount),
        (TxnKind::Payment, None) => return,
        (TxnKind::Refund, _) => 0,
    };
    if r.fee != expected {
        cx.flag(
            Class::FeeMismatch,
            reference,
            &r.gateway,
            l,
            Some(r),
            None,
            Some(expected),
            Some(r.fee),
            format!("fee {} VND, the schedule says {expected} VND", r.fee),
        );
    }
}

fn qr_pair(cx: &mut Ctx<'_>, l: &LedgerTxn, b: &BankEntry, rule: Rule, keys: Keys) {
    cx.matches.push(Match {
        leg: Leg::LedgerBank,
        rule,
        keys,
        ledger: Some(l.id.clone()),
        gateway: None,
        settlement: None,
        bank: Some(b.origin.clone()),
        amount: b.amount,
    });
    if l.status != LedgerStatus::Succeeded {
        cx.flag(
            Class::StatusWeFailedTheyPaid,
            &l.our_ref,
            "vietqr",
            Some(l),
            None,
            Some(b),
            None,
            Some(b.amount),
            format!(
                "{}: {:?} in our ledger, credited by the bank",
                l.our_ref, l.status
            ),
        );
    } else if l.amount != b.amount {
        cx.flag(
            Class::AmountMismatch,
            &l.our_ref,
            "vietqr",
            Some(l),
            None,
            Some(b),
            Some(l.amount),
            Some(b.amount),
            format!(
                "{}: {} VND expected, {} VND credited",
                l.our_ref, l.amount, b.amount
            ),
        );
    }
    if l.account != b.account {
        cx.flag(
            Class::WrongAccount,
            &l.our_ref,
            "vietqr",
            Some(l),
            None,
            Some(b),
            None,
            Some(b.amount),
            format!(
                "{} credited to {}, expected {}",
                l.our_ref, b.account, l.account
            ),
        );
    }
}

/// Set of classes found, for tests and exit codes.
pub fn classes(o: &Outcome) -> BTreeSet<Class> {
    o.discrepancies.iter().map(|d| d.class).collect()
}
