//! The log entries for each kind of decision, built from what the cores computed. Pure: the time,
//! the actor and the pseudonym key come in as arguments.
//!
//! What goes in: hashes, identifiers of records, verdicts and causes. What never goes in: document
//! bytes, names, CCCD/MST numbers or other personal identifiers in clear (they are pseudonymised),
//! secrets (an API key's secret, a gateway key).

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::entry::{EntryKind, NewEntry, Pseudonymizer};
use crate::store::{ApiKeyRecord, EvidenceItem, LogInput};
use crate::verify::report::Report;

/// A signature verification: the document's hash, the verdict, each signature's indication, the
/// signer's certificate (serial and issuer) and pseudonymised identifiers, the evidence hashes.
pub fn verification(
    id: &str,
    report: &Report,
    evidence: &[EvidenceItem],
    actor: &str,
    pseudonyms: &Pseudonymizer,
    now: OffsetDateTime,
) -> LogInput {
    let signatures: Vec<Value> = report
        .signatures
        .iter()
        .map(|s| {
            let signer = s.signer.as_ref().map(|signer| {
                json!({
                    "issuer": signer.issuer,
                    "serial": signer.serial,
                    "identifiers": signer
                        .identifiers
                        .iter()
                        .map(|i| pseudonyms.pseudonym(&format!("{}:{}", i.kind, i.value)))
                        .collect::<Vec<_>>(),
                })
            });
            json!({
                "index": s.index,
                "kind": s.kind,
                "indication": s.indication.as_str(),
                "sub_indication": s.sub_indication.map(|x| x.as_str()),
                "signing_time": s.signing_time,
                "signing_time_source": s.signing_time_source,
                "signer": signer,
            })
        })
        .collect();
    let mut evidence_hashes: Vec<&str> = evidence.iter().map(|e| e.sha256.as_str()).collect();
    evidence_hashes.sort_unstable();
    evidence_hashes.dedup();
    let data = json!({
        "verification_id": id,
        "document_sha256": report.document.sha256,
        "document_size": report.document.size,
        "detached": report.document.detached,
        "verdict": report.verdict.as_str(),
        "validation_time": report.validation_time,
        "policy": {
            "revocation": report.policy.revocation,
            "offline": report.policy.offline,
            "algorithm_policy": report.policy.algorithm_policy,
        },
        "expected_signer_id": report
            .expected_signer_id
            .as_ref()
            .map(|e| json!({"value": pseudonyms.pseudonym(&e.value), "found": e.found})),
        "signatures": signatures,
        "evidence_sha256": evidence_hashes,
    });
    LogInput::new(NewEntry::new(EntryKind::Verification, now, actor, data))
        .subject(format!("verification:{id}"))
        .subject(format!("sha256:{}", report.document.sha256))
}

/// An administrative action on an API key (`api_key_created`, `api_key_revoked`).
pub fn api_key(action: &str, key: &ApiKeyRecord, actor: &str, now: OffsetDateTime) -> LogInput {
    admin(
        action,
        json!({"key_id": key.id, "role": key.role, "name": key.name}),
        actor,
        now,
    )
    .subject(format!("api_key:{}", key.id))
}

/// An API key revoked by id.
pub fn api_key_revoked(id: &str, actor: &str, now: OffsetDateTime) -> LogInput {
    admin("api_key_revoked", json!({"key_id": id}), actor, now).subject(format!("api_key:{id}"))
}

/// A certificate installed in the trust store (`trust_anchor_added`, `intermediate_added`).
pub fn trust(
    action: &str,
    sha256: &str,
    subject: &str,
    pinned: Option<&str>,
    actor: &str,
    now: OffsetDateTime,
) -> LogInput {
    admin(
        action,
        json!({"certificate_sha256": sha256, "subject": subject, "official_pin": pinned}),
        actor,
        now,
    )
    .subject(format!("certificate:{sha256}"))
}

/// The service started with a configuration (its hash, secrets excluded), so a change of
/// configuration between two starts shows in the log.
pub fn service_started(
    config_sha256: &str,
    version: &str,
    actor: &str,
    now: OffsetDateTime,
) -> LogInput {
    admin(
        "service_started",
        json!({"config_sha256": config_sha256, "version": version}),
        actor,
        now,
    )
}

/// Any other administrative action.
pub fn admin(action: &str, details: Value, actor: &str, now: OffsetDateTime) -> LogInput {
    LogInput::new(NewEntry::new(
        EntryKind::Admin,
        now,
        actor,
        json!({"action": action, "details": details}),
    ))
}

/// The actor string of the operator running a CLI command on this machine.
pub fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

/// A document antin signed and issued. `audit document` finds it by `sha256:<signed_sha256>` and
/// checks that `signed_sha256` is the hash of the exact file presented.
#[allow(clippy::too_many_arguments)]
pub fn document_signed(
    document_id: &str,
    signed_sha256: &str,
    profile: &str,
    signer_cert_sha256: &str,
    dossier: Option<&str>,
    actor: &str,
    now: OffsetDateTime,
) -> LogInput {
    LogInput::new(NewEntry::new(
        EntryKind::DocumentSigned,
        now,
        actor,
        json!({
            "document_id": document_id,
            "signed_sha256": signed_sha256,
            "profile": profile,
            "signer_cert_sha256": signer_cert_sha256,
            "dossier": dossier,
        }),
    ))
    .subject(format!("document:{document_id}"))
    .subject(format!("sha256:{signed_sha256}"))
}

/// An issued document revoked or superseded by its agency: the document, the change, the reason
/// the agency gave (it is published on the check page too) and the replacement's id.
pub fn document_status(
    document_id: &str,
    from: &str,
    to: &str,
    reason: &str,
    replaced_by: Option<&str>,
    actor: &str,
    now: OffsetDateTime,
) -> LogInput {
    let mut input = LogInput::new(NewEntry::new(
        EntryKind::DocumentStatus,
        now,
        actor,
        json!({
            "document_id": document_id,
            "from": from,
            "to": to,
            "reason": reason,
            "replaced_by": replaced_by,
        }),
    ))
    .subject(format!("document:{document_id}"));
    if let Some(r) = replaced_by {
        input = input.subject(format!("replaces:{r}"));
    }
    input
}

/// A payment created: its identifiers, amount and codes; the payer's name and CCCD pseudonymised.
#[allow(clippy::too_many_arguments)]
pub fn payment_created(
    payment_id: &str,
    dossier_ref: &str,
    agency: &str,
    fee_code: &str,
    amount_vnd: i64,
    payer_name: &str,
    payer_cccd: Option<&str>,
    actor: &str,
    pseudonyms: &Pseudonymizer,
    now: OffsetDateTime,
) -> LogInput {
    LogInput::new(NewEntry::new(
        EntryKind::PaymentState,
        now,
        actor,
        json!({
            "payment_id": payment_id,
            "subject": "payment",
            "subject_id": payment_id,
            "from": null,
            "to": "created",
            "cause": "created",
            "dossier_ref": dossier_ref,
            "agency": agency,
            "fee_code": fee_code,
            "amount_vnd": amount_vnd,
            "payer": pseudonyms.pseudonym(&format!("name:{payer_name}")),
            "payer_cccd": payer_cccd.map(|c| pseudonyms.pseudonym(&format!("CCCD:{c}"))),
        }),
    ))
    .subject(format!("payment:{payment_id}"))
}

/// A state change of a payment, an attempt or a refund, with its cause.
#[allow(clippy::too_many_arguments)]
pub fn payment_state(
    payment_id: &str,
    subject: &str,
    subject_id: &str,
    from: Option<&str>,
    to: &str,
    cause: &str,
    actor: &str,
    now: OffsetDateTime,
) -> LogInput {
    LogInput::new(NewEntry::new(
        EntryKind::PaymentState,
        now,
        actor,
        json!({
            "payment_id": payment_id,
            "subject": subject,
            "subject_id": subject_id,
            "from": from,
            "to": to,
            "cause": cause,
        }),
    ))
    .subject(format!("payment:{payment_id}"))
}

/// A verified gateway callback and what antin decided about it (the raw message's hash only).
pub fn payment_callback(
    gateway: &str,
    raw_sha256: &str,
    payment_id: Option<&str>,
    outcome: &str,
    now: OffsetDateTime,
) -> LogInput {
    let mut input = LogInput::new(NewEntry::new(
        EntryKind::PaymentCallback,
        now,
        format!("gateway:{gateway}"),
        json!({
            "gateway": gateway,
            "raw_sha256": raw_sha256,
            "payment_id": payment_id,
            "outcome": outcome,
        }),
    ));
    if let Some(p) = payment_id {
        input = input.subject(format!("payment:{p}"));
    }
    input
}
