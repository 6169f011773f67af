//! The rows reconciliation works on and what it finds. Money is integer VND; every amount here is
//! positive and its direction is the row's kind (payment or refund, credit or debit).

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

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
    pub id: String,
    pub payment_id: String,
    pub agency: String,
    pub fee_code: String,
    /// `vnpay`, `momo`, `zalopay` or `vietqr`.
    pub gateway: String,
    pub kind: TxnKind,
    /// Our reference as sent to the gateway: the attempt ref (also the VietQR memo reference) or
    /// the refund ref.
    pub our_ref: String,
    /// The gateway's transaction number (refund number for refunds), when it told us.
    pub gateway_txn: Option<String>,
    pub amount: i64,
    pub status: LedgerStatus,
    /// When it was decided (UTC).
    pub at: OffsetDateTime,
    /// The agency's collection account the money belongs on.
    pub account: String,
}

/// Where an imported row came from, for every report line that names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Origin {
    /// The file's SHA-256 (hex) or name: shared by every row of the file (and every match that
    /// names one), so a million rows hold one copy.
    pub file: std::sync::Arc<str>,
    /// 1-based line (CSV, MT940) or entry number in the document (camt, often one line).
    pub line: u64,
}

/// One row of a gateway's settlement file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayRow {
    pub gateway: String,
    pub origin: Origin,
    pub kind: TxnKind,
    /// Our reference as the gateway echoes it (for refunds: the refund ref where the gateway
    /// carries one, else the payment's ref).
    pub our_ref: String,
    /// The payment's ref on refund rows, when the layout has it.
    pub parent_ref: Option<String>,
    pub gateway_txn: String,
    pub amount: i64,
    pub fee: i64,
    pub net: i64,
    pub status: GatewayStatus,
    pub at: OffsetDateTime,
    pub text: String,
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
    pub statement_id: String,
    pub account: String,
    /// The bank's reference (AcctSvcrRef, the `//` part of `:61:`).
    pub bank_ref: String,
    pub amount: i64,
    pub direction: Direction,
    /// A reversal of an earlier entry (camt `RvslInd`, MT940 `RC`/`RD`).
    pub reversal: bool,
    pub value_date: Date,
    pub booked_at: Option<OffsetDateTime>,
    pub memo: String,
    pub counterparty: Option<String>,
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
    pub keys: Vec<String>,
    /// Ledger attempt/refund id.
    pub ledger: Option<String>,
    pub gateway: Option<Origin>,
    /// For payouts: the gateway and settlement day (`vnpay:2026-11-21`).
    pub settlement: Option<String>,
    pub bank: Option<Origin>,
    pub amount: i64,
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
