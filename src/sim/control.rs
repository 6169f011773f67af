//! The control endpoints tests (and the payment pages' buttons) drive the simulators with:
//! `POST /{gateway}/sim/orders/{ref}/{action}` and `GET /{gateway}/sim/orders/{ref}`.
//!
//! Outcomes: `pay`, `fail` (`?code=` picks the gateway's failure code), `cancel`, `expire`.
//! Callback anomalies (on a pending order they also settle it, as `pay` unless `?outcome=fail|cancel`;
//! on a final order they send its callback again): `duplicate-callback` (two identical copies at the
//! same moment), `late-callback` (after `late_callback_secs`, scaled), `no-callback` (settled, never
//! told), `wrong-signature` (a forged copy: the gateway's own state does not change),
//! `wrong-amount` (paid, and reported everywhere, with 1,000 VND more than ordered).
//! `timeout-next-query`: the next status query of the order hangs for `query_hang_secs`.
//! `?at=RFC3339` sets the pay time (to build past days for settlement files); `?ui=1` (the page's
//! buttons) answers with a redirect to the merchant's return URL instead of JSON.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::sign::{get, parse_query};
use super::{
    deliver, json_response, momo, vnpay, zalopay, Gw, OrderCore, Outbound, Outcome, RetryPolicy,
    Shared, SimState, Status,
};

/// What `wrong-amount` adds to the amount paid.
pub const WRONG_AMOUNT_DELTA: i64 = 1_000;

/// Breaks a hex MAC at its end (flips the last hex digit), keeping its shape.
pub(crate) fn tamper_hex_tail(s: &mut String) {
    if let Some(c) = s.pop() {
        s.push(if c == '0' { '1' } else { '0' });
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Outcome(Outcome),
    TimeoutNextQuery,
    Duplicate,
    Late,
    WrongSignature,
    WrongAmount,
    NoCallback,
}

fn parse_action(s: &str) -> Option<Action> {
    Some(match s {
        "pay" => Action::Outcome(Outcome::Pay),
        "fail" => Action::Outcome(Outcome::Fail),
        "cancel" => Action::Outcome(Outcome::Cancel),
        "expire" => Action::Outcome(Outcome::Expire),
        "timeout-next-query" => Action::TimeoutNextQuery,
        "duplicate-callback" => Action::Duplicate,
        "late-callback" => Action::Late,
        "wrong-signature" => Action::WrongSignature,
        "wrong-amount" => Action::WrongAmount,
        "no-callback" => Action::NoCallback,
        _ => return None,
    })
}

fn err(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    json_response(status, &json!({"error": code, "message": message.into()}))
}

fn refresh(st: &mut SimState, gw: Gw, key: &str, shared: &Shared) {
    let now = OffsetDateTime::now_utc();
    match gw {
        Gw::Vnpay => {
            if let Some(o) = st.vnpay.orders.get_mut(key) {
                vnpay::refresh(o, now);
            }
        }
        Gw::Momo => {
            if let Some(o) = st.momo.orders.get_mut(key) {
                momo::refresh(o, now);
            }
        }
        Gw::Zalopay => {
            if let Some(o) = st.zalopay.orders.get_mut(key) {
                zalopay::refresh(o, now);
                zalopay::settle_refunds(
                    o,
                    shared.scaled(Duration::from_secs(shared.cfg.refund_delay_secs)),
                    now,
                );
            }
        }
        Gw::Bank => {}
    }
}

fn state_json(core: &OrderCore) -> Value {
    serde_json::to_value(core).unwrap_or(Value::Null)
}

/// GET /{gateway}/sim/orders/{ref}
pub(crate) async fn show(
    State(shared): State<Arc<Shared>>,
    gw: Gw,
    Path(key): Path<String>,
) -> Response {
    let mut st = shared.state();
    refresh(&mut st, gw, &key, &shared);
    match st.core_mut(gw, &key) {
        Some(core) => json_response(StatusCode::OK, &state_json(core)),
        None => err(
            StatusCode::NOT_FOUND,
            "order_not_found",
            "no such order at this simulator",
        ),
    }
}

/// Settles a core: status, code, time, amount.
fn settle_core(
    core: &mut OrderCore,
    outcome: Outcome,
    code: String,
    at: OffsetDateTime,
    wrong_amount: bool,
) {
    core.status = match outcome {
        Outcome::Pay => Status::Succeeded,
        Outcome::Fail => Status::Failed,
        Outcome::Cancel => Status::Cancelled,
        Outcome::Expire => Status::Expired,
    };
    core.result_code = code;
    core.finished_at = Some(at);
    if outcome == Outcome::Pay {
        core.paid_amount = Some(core.amount + if wrong_amount { WRONG_AMOUNT_DELTA } else { 0 });
    }
}

/// How to settle an order.
#[derive(Debug, Clone, Copy)]
struct Spec<'a> {
    outcome: Outcome,
    code: Option<&'a str>,
    at: OffsetDateTime,
    wrong_amount: bool,
    /// Settle a copy and forge its callback's signature; the order itself does not change.
    forged: bool,
}

/// Settles a pending order (in place, or a copy for a forged callback) and builds its callback.
fn settle(
    shared: &Shared,
    st: &mut SimState,
    gw: Gw,
    key: &str,
    spec: Spec<'_>,
) -> Result<Result<Outbound, String>, Box<Response>> {
    let Spec {
        outcome,
        code,
        at,
        wrong_amount,
        forged,
    } = spec;
    let seq = st.next_seq();
    let bad = |e: String| Box::new(err(StatusCode::BAD_REQUEST, "bad_code", e));
    let not_pending = || {
        Box::new(err(
            StatusCode::CONFLICT,
            "not_pending",
            "the order is not pending any more",
        ))
    };
    let not_found = || Box::new(not_found());
    match gw {
        Gw::Vnpay => {
            let rc = vnpay::outcome_code(outcome, code).map_err(bad)?;
            let o = st.vnpay.orders.get_mut(key).ok_or_else(not_found)?;
            let mut copy = o.clone();
            let target = if forged { &mut copy } else { o };
            if target.core.status == Status::Pending {
                settle_core(&mut target.core, outcome, rc, at, wrong_amount);
                vnpay::on_final(target, seq);
            } else if !forged {
                return Err(not_pending());
            }
            Ok(vnpay::callback(shared, target, forged))
        }
        Gw::Momo => {
            let rc = momo::outcome_code(outcome, code).map_err(bad)?;
            let o = st.momo.orders.get_mut(key).ok_or_else(not_found)?;
            let mut copy = o.clone();
            let target = if forged { &mut copy } else { o };
            if target.core.status == Status::Pending {
                settle_core(&mut target.core, outcome, rc, at, wrong_amount);
                momo::on_final(target, seq);
            } else if !forged {
                return Err(not_pending());
            }
            let out = momo::callback(shared, target, forged);
            if !forged {
                momo::index_trans(&mut st.momo, key);
            }
            Ok(out)
        }
        Gw::Zalopay => {
            let (rc, sub) = zalopay::outcome_code(outcome, code).map_err(bad)?;
            let o = st.zalopay.orders.get_mut(key).ok_or_else(not_found)?;
            let mut copy = o.clone();
            let target = if forged { &mut copy } else { o };
            if target.core.status == Status::Pending {
                settle_core(&mut target.core, outcome, rc, at, wrong_amount);
                target.sub_code = sub;
                zalopay::on_final(target, seq);
            } else if !forged {
                return Err(not_pending());
            }
            let out = zalopay::callback(shared, target, forged);
            if !forged {
                zalopay::index_trans(&mut st.zalopay, key);
            }
            Ok(out)
        }
        Gw::Bank => Err(Box::new(err(
            StatusCode::BAD_REQUEST,
            "unsupported",
            "a bank transfer is final when made",
        ))),
    }
}

fn not_found() -> Response {
    err(
        StatusCode::NOT_FOUND,
        "order_not_found",
        "no such order at this simulator",
    )
}

/// The callback of an order already final (to send it again).
fn rebuild(
    shared: &Shared,
    st: &SimState,
    gw: Gw,
    key: &str,
    forged: bool,
) -> Result<Outbound, String> {
    match gw {
        Gw::Vnpay => vnpay::callback(
            shared,
            st.vnpay.orders.get(key).ok_or("no such order")?,
            forged,
        ),
        Gw::Momo => momo::callback(
            shared,
            st.momo.orders.get(key).ok_or("no such order")?,
            forged,
        ),
        Gw::Zalopay => zalopay::callback(
            shared,
            st.zalopay.orders.get(key).ok_or("no such order")?,
            forged,
        ),
        Gw::Bank => Err("bank notifications are rebuilt by the bank".into()),
    }
}

fn policy(gw: Gw) -> RetryPolicy {
    match gw {
        Gw::Vnpay => vnpay::POLICY,
        Gw::Momo => momo::POLICY,
        Gw::Zalopay => zalopay::POLICY,
        Gw::Bank => super::bank::POLICY,
    }
}

fn redirect(shared: &Shared, st: &SimState, gw: Gw, key: &str) -> Option<String> {
    match gw {
        Gw::Vnpay => st
            .vnpay
            .orders
            .get(key)
            .map(|o| vnpay::return_redirect(shared, o)),
        Gw::Momo => st
            .momo
            .orders
            .get(key)
            .map(|o| momo::return_redirect(shared, o)),
        Gw::Zalopay => st
            .zalopay
            .orders
            .get(key)
            .and_then(|o| zalopay::return_redirect(shared, o)),
        Gw::Bank => None,
    }
}

/// POST /{gateway}/sim/orders/{ref}/{action}
pub(crate) async fn act(
    State(shared): State<Arc<Shared>>,
    gw: Gw,
    Path((key, action)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let Some(action) = parse_action(&action) else {
        return err(
            StatusCode::NOT_FOUND,
            "unknown_action",
            format!("unknown action {action:?}"),
        );
    };
    let params = match parse_query(q.as_deref().unwrap_or(""), 8) {
        Ok(p) => p,
        Err(e) => return err(StatusCode::BAD_REQUEST, "malformed", e.to_string()),
    };
    let ui = get(&params, "ui") == Some("1");
    let code = get(&params, "code");
    let at = match get(&params, "at") {
        None => OffsetDateTime::now_utc(),
        Some(a) => match crate::timefmt::parse_rfc3339(a) {
            Some(t) => t.to_offset(time::UtcOffset::UTC),
            None => return err(StatusCode::BAD_REQUEST, "malformed", "at must be RFC 3339"),
        },
    };
    let outcome = match get(&params, "outcome") {
        None | Some("pay") => Outcome::Pay,
        Some("fail") => Outcome::Fail,
        Some("cancel") => Outcome::Cancel,
        Some(o) => {
            return err(
                StatusCode::BAD_REQUEST,
                "malformed",
                format!("outcome {o:?}: pay, fail or cancel"),
            )
        }
    };
    if gw == Gw::Bank {
        return bank_act(&shared, &key, action);
    }
    let (kind, copies, delay, out, body) = {
        let mut st = shared.state();
        refresh(&mut st, gw, &key, &shared);
        let Some(core) = st.core_mut(gw, &key) else {
            return not_found();
        };
        let pending = core.status == Status::Pending;
        if action == Action::TimeoutNextQuery {
            core.timeout_next_query = true;
            return json_response(StatusCode::OK, &state_json(core));
        }
        let (kind, copies, delay) = match action {
            Action::Duplicate => ("duplicate", 2, Duration::ZERO),
            Action::Late => (
                "late",
                1,
                shared.scaled(Duration::from_secs(shared.cfg.late_callback_secs)),
            ),
            Action::WrongSignature => ("wrong-signature", 1, Duration::ZERO),
            Action::WrongAmount => ("wrong-amount", 1, Duration::ZERO),
            Action::NoCallback => ("none", 0, Duration::ZERO),
            _ => ("normal", 1, Duration::ZERO),
        };
        let spec = |outcome, code, wrong_amount, forged| Spec {
            outcome,
            code,
            at,
            wrong_amount,
            forged,
        };
        let spec = match action {
            Action::Outcome(o) => Some(spec(o, code, false, false)),
            Action::WrongAmount if pending => Some(spec(Outcome::Pay, None, true, false)),
            Action::WrongSignature => Some(spec(outcome, code, false, true)),
            Action::WrongAmount | Action::NoCallback if !pending => {
                return err(
                    StatusCode::CONFLICT,
                    "not_pending",
                    "this action needs a pending order",
                );
            }
            _ if pending => Some(spec(outcome, code, false, false)),
            _ => None,
        };
        let out = match spec {
            Some(spec) => match settle(&shared, &mut st, gw, &key, spec) {
                Ok(out) => out,
                Err(r) => return *r,
            },
            None => rebuild(&shared, &st, gw, &key, false),
        };
        let Some(core) = st.core_mut(gw, &key) else {
            return not_found();
        };
        let body = state_json(core);
        (kind, copies, delay, out, body)
    };
    let note = match (copies, out) {
        (0, _) => "none: no-callback".to_owned(),
        (_, Err(reason)) => format!("none: {reason}"),
        (n, Ok(out)) => {
            for copy in 1..=n {
                let how = super::Copy { delay, copy, kind };
                deliver(&shared, gw, &key, out.clone(), policy(gw), how);
            }
            format!("scheduled: {kind}")
        }
    };
    if ui {
        let st = shared.state();
        if let Some(url) = redirect(&shared, &st, gw, &key) {
            return (StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response();
        }
        if let Some(core) = st.core_mut_ref(gw, &key) {
            return super::pay_page(core);
        }
    }
    let mut body = body;
    if let Value::Object(m) = &mut body {
        m.insert("callback".into(), note.into());
    }
    json_response(StatusCode::OK, &body)
}

fn bank_act(shared: &Arc<Shared>, key: &str, action: Action) -> Response {
    let kind = match action {
        Action::Duplicate => "duplicate",
        Action::Late => "late",
        Action::WrongSignature => "wrong-signature",
        _ => {
            return err(
                StatusCode::BAD_REQUEST,
                "unsupported",
                "a bank transfer is final when made: only duplicate-callback, late-callback and wrong-signature (re-notify) apply",
            )
        }
    };
    if let Err(e) = super::bank::notify(shared, key, kind) {
        let status = if e == "no such transfer" {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::CONFLICT
        };
        return err(status, "not_sent", e);
    }
    let st = shared.state();
    match st.core_mut_ref(Gw::Bank, key) {
        Some(core) => {
            let mut v = state_json(core);
            if let Value::Object(m) = &mut v {
                m.insert("callback".into(), format!("scheduled: {kind}").into());
            }
            json_response(StatusCode::OK, &v)
        }
        None => not_found(),
    }
}
