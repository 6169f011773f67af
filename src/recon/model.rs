//! The rows reconciliation works on and what it finds. Money is integer VND; every amount here is
//! positive and its direction is the row's kind (payment or refund, credit or debit).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

/// A row's own short text (an id, a reference, a memo): held inline up to 24 bytes, so a million
/// rows do not make a million allocations each.
pub type Text = compact_str::CompactString;

/// A name that many rows share (agency, gateway, fee code, account, statement, file): one copy,
/// shared through [`Names`], behind a thin pointer (8 bytes in each of millions of rows). Compares,
/// orders and hashes as the text it holds.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Name(Arc<String>);

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self
    }
}

impl std::borrow::Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Name {
        Name(Arc::new(s.to_owned()))
    }
}

impl From<String> for Name {
    fn from(s: String) -> Name {
        Name(Arc::new(s))
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        **self == *other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        **self == **other
    }
}

impl Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
        String::deserialize(d).map(Name::from)
    }
}

/// Hands out one shared copy of each distinct name.
#[derive(Debug, Default)]
pub struct Names(std::collections::HashSet<Name>);

impl Names {
    pub fn get(&mut self, s: &str) -> Name {
        if let Some(n) = self.0.get(s) {
            return n.clone();
        }
        let n: Name = s.into();
        self.0.insert(n.clone());
        n
    }
}

/// A payment (money in from the citizen) or a refund (money back to the citizen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxnKind {
    Payment,
    Refund,
}

/// What our ledger says happened to an attempt or a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerStatus {
    Succeeded,
    Failed,
    /// Pending or UNKNOWN: not decided yet (never guessed).
    Pending,
}

/// What a gateway's file says about a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayStatus {
    Paid,
    Failed,
}

/// One attempt or refund from our ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerTxn {
    /// The attempt's or refund's id (unique).
    pub id: Text,
    pub agency: Name,
    pub fee_code: Name,
    /// `vnpay`, `momo`, `zalopay` or `vietqr`.
    pub gateway: Name,
    pub kind: TxnKind,
    /// Our reference as sent to the gateway: the attempt ref (also the VietQR memo reference) or
    /// the refund ref.
    pub our_ref: Text,
    /// The gateway's transaction number (refund number for refunds), when it told us.
    pub gateway_txn: Option<Text>,
    pub amount: i64,
    pub status: LedgerStatus,
    /// When it was decided (UTC).
    pub at: OffsetDateTime,
    /// The agency's collection account the money belongs on.
    pub account: Name,
}

/// Where an imported row came from, for every report line that names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Origin {
    /// The file's SHA-256 (hex) or name: shared by every row of the file (and every match that
    /// names one), so a million rows hold one copy.
    pub file: Name,
    /// 1-based line (CSV, MT940) or entry number in the document (camt, often one line).
    pub line: u64,
}

/// One row of a gateway's settlement file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayRow {
    pub gateway: Name,
    pub origin: Origin,
    pub kind: TxnKind,
    /// Our reference as the gateway echoes it (for refunds: the refund ref where the gateway
    /// carries one, else the payment's ref).
    pub our_ref: Text,
    /// The payment's ref on refund rows, when the layout has it.
    pub parent_ref: Option<Text>,
    pub gateway_txn: Text,
    pub amount: i64,
    pub fee: i64,
    pub net: i64,
    pub status: GatewayStatus,
    pub at: OffsetDateTime,
    pub text: Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Credit,
    Debit,
}

/// One entry of a bank statement (MT940 `:61:`, camt `Ntry`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankEntry {
    pub origin: Origin,
    pub statement_id: Name,
    pub account: Name,
    /// The bank's reference (AcctSvcrRef, the `//` part of `:61:`).
    pub bank_ref: Text,
    pub amount: i64,
    pub direction: Direction,
    /// A reversal of an earlier entry (camt `RvslInd`, MT940 `RC`/`RD`).
    pub reversal: bool,
    pub value_date: Date,
    pub booked_at: Option<OffsetDateTime>,
    pub memo: Text,
    pub counterparty: Option<Text>,
}

/// How a match was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Our reference (attempt or refund ref) on both sides.
    OurReference,
    /// The gateway's transaction number on both sides.
    GatewayTransaction,
    /// Our reference found in a VietQR transfer's memo.
    VietqrMemo,
    /// A gateway's payout named by its memo (gateway and settlement day).
    PayoutMemo,
    /// No key: the same amount, dates within the allowed business days.
    AmountAndDate,
    /// A bank reversal cancelling the entry it reverses.
    Reversal,
}

/// Which two legs a match joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Leg {
    /// Ledger attempt/refund <-> gateway settlement row.
    LedgerGateway,
    /// A gateway's day net total <-> its payout credit at the bank.
    GatewayBank,
    /// Ledger VietQR attempt <-> the bank credit.
    LedgerBank,
    /// Bank entry <-> its reversal.
    BankBank,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Match {
    pub leg: Leg,
    pub rule: Rule,
    /// The keys that made the match, e.g. `["our_ref=VNP123"]`.
    pub keys: Keys,
    /// Ledger attempt/refund id.
    pub ledger: Option<Text>,
    pub gateway: Option<Origin>,
    /// For payouts: the gateway and settlement day (`vnpay:2026-11-21`).
    pub settlement: Option<Box<str>>,
    pub bank: Option<Origin>,
    pub amount: i64,
}

/// The keys that made a match. Most matches have one, held inline (a million matches, no
/// allocation each); written as a list either way.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Keys {
    One(Text),
    Many(Box<[String]>),
}

impl Keys {
    pub fn many(ks: Vec<String>) -> Keys {
        Keys::from(ks)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let (one, many) = match self {
            Keys::One(k) => (Some(k.as_str()), &[][..]),
            Keys::Many(ks) => (None, &ks[..]),
        };
        one.into_iter().chain(many.iter().map(String::as_str))
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    pub fn join(&self, sep: &str) -> String {
        self.iter().collect::<Vec<_>>().join(sep)
    }
}

impl From<Vec<String>> for Keys {
    fn from(mut ks: Vec<String>) -> Keys {
        if ks.len() == 1 {
            Keys::One(ks.remove(0).into())
        } else {
            Keys::Many(ks.into_boxed_slice())
        }
    }
}

impl Serialize for Keys {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Keys, D::Error> {
        Vec::<String>::deserialize(d).map(Keys::from)
    }
}

/// The discrepancy classes of issue 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// We recorded a success the gateway's file does not list.
    MissingAtGateway,
    /// The gateway or the bank reports money our ledger has no record of.
    MissingInLedger,
    /// Settlement not on the bank statement past its SLA.
    MissingAtBank,
    AmountMismatch,
    /// We say failed or pending, the gateway (or bank) says paid.
    StatusWeFailedTheyPaid,
    /// We say paid, the gateway says failed.
    StatusWePaidTheyFailed,
    /// The same transaction reported more than once.
    Duplicate,
    /// Money settled to an account other than the agency's collection account.
    WrongAccount,
    /// The fee differs from the schedule, or net is not amount minus fee.
    FeeMismatch,
}

impl Class {
    pub const ALL: [Class; 9] = [
        Class::MissingAtGateway,
        Class::MissingInLedger,
        Class::MissingAtBank,
        Class::AmountMismatch,
        Class::StatusWeFailedTheyPaid,
        Class::StatusWePaidTheyFailed,
        Class::Duplicate,
        Class::WrongAccount,
        Class::FeeMismatch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::MissingAtGateway => "missing_at_gateway",
            Class::MissingInLedger => "missing_in_ledger",
            Class::MissingAtBank => "missing_at_bank",
            Class::AmountMismatch => "amount_mismatch",
            Class::StatusWeFailedTheyPaid => "status_we_failed_they_paid",
            Class::StatusWePaidTheyFailed => "status_we_paid_they_failed",
            Class::Duplicate => "duplicate",
            Class::WrongAccount => "wrong_account",
            Class::FeeMismatch => "fee_mismatch",
        }
    }

    pub fn parse(s: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Vietnamese label for officers.
    pub fn label_vi(self) -> &'static str {
        match self {
            Class::MissingAtGateway => "Thiếu ở cổng thanh toán",
            Class::MissingInLedger => "Thiếu trong sổ của antin",
            Class::MissingAtBank => "Chưa về ngân hàng quá hạn",
            Class::AmountMismatch => "Lệch số tiền",
            Class::StatusWeFailedTheyPaid => "Lệch trạng thái (antin: thất bại, đối tác: đã trả)",
            Class::StatusWePaidTheyFailed => "Lệch trạng thái (antin: đã trả, đối tác: thất bại)",
            Class::Duplicate => "Trùng giao dịch",
            Class::WrongAccount => "Sai tài khoản nhận",
            Class::FeeMismatch => "Lệch phí",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Class::MissingAtGateway => "Missing at gateway",
            Class::MissingInLedger => "Missing in our ledger",
            Class::MissingAtBank => "Missing at bank past SLA",
            Class::AmountMismatch => "Amount mismatch",
            Class::StatusWeFailedTheyPaid => "Status mismatch (we: failed, they: paid)",
            Class::StatusWePaidTheyFailed => "Status mismatch (we: paid, they: failed)",
            Class::Duplicate => "Duplicate",
            Class::WrongAccount => "Settled to the wrong account",
            Class::FeeMismatch => "Fee mismatch",
        }
    }

    /// Whether resolving it involves money (and so a correcting ledger entry).
    pub fn involves_money(self) -> bool {
        !matches!(
            self,
            Class::MissingAtBank | Class::WrongAccount | Class::FeeMismatch
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Discrepancy {
    pub class: Class,
    /// Stable across runs of the same day and inputs: `class:leg:reference`.
    pub key: String,
    pub gateway: String,
    pub ledger: Option<String>,
    pub gateway_row: Option<Origin>,
    pub bank: Option<Origin>,
    /// What our side (or the schedule) expects, and what the other side says.
    pub expected: Option<i64>,
    pub actual: Option<i64>,
    /// Agency and its collection account when a ledger row is involved.
    pub agency: Option<String>,
    pub account: Option<String>,
    pub detail: String,
}

/// A settlement the bank has not shown yet, still within its SLA (not a discrepancy).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Awaiting {
    pub what: String,
    pub amount: i64,
    pub due: Date,
}

/// One summary line: agency x gateway x fee code, the day's matched money.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SummaryLine {
    pub agency: String,
    pub gateway: String,
    pub fee_code: String,
    pub payments: u64,
    pub refunds: u64,
    /// Payments minus refunds.
    pub gross: i64,
    pub fees: i64,
    pub net: i64,
}

/// One gateway's day: the file's totals against the bank.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Settlement {
    pub gateway: String,
    pub gross: i64,
    pub fees: i64,
    pub net: i64,
    /// What the bank shows as paid out for it (0 when nothing yet).
    pub received: i64,
}
