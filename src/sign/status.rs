//! The status of an issued document: valid, revoked, or superseded by another document, and the
//! rule for changing it. Pure: the current status, the requested change and the time come in;
//! the store applies the result with its log entry.
//!
//! An agency may revoke a valid or a superseded document, and supersede a valid one; a revoked
//! document stays revoked (a result withdrawn by the agency is never valid again: it issues a new
//! one instead). Nothing here reads the database or the clock.

use crate::i18n::Lang;

/// The most characters a reason may have (it is shown publicly and logged).
pub const MAX_REASON_CHARS: usize = 500;

/// Where an issued document stands. The string forms are stored and served: never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentStatus {
    Valid,
    Revoked,
    Superseded,
}

impl DocumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentStatus::Valid => "valid",
            DocumentStatus::Revoked => "revoked",
            DocumentStatus::Superseded => "superseded",
        }
    }

    pub fn parse(s: &str) -> Option<DocumentStatus> {
        match s {
            "valid" => Some(DocumentStatus::Valid),
            "revoked" => Some(DocumentStatus::Revoked),
            "superseded" => Some(DocumentStatus::Superseded),
            _ => None,
        }
    }

    /// The word the check page shows.
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            DocumentStatus::Valid => lang.pick("hợp lệ", "valid"),
            DocumentStatus::Revoked => lang.pick("đã bị thu hồi", "revoked"),
            DocumentStatus::Superseded => lang.pick("đã được thay thế", "superseded"),
        }
    }
}

/// What an agency asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusAction {
    Revoke { reason: String },
    Supersede { reason: String, replaced_by: String },
}

impl StatusAction {
    pub fn target(&self) -> DocumentStatus {
        match self {
            StatusAction::Revoke { .. } => DocumentStatus::Revoked,
            StatusAction::Supersede { .. } => DocumentStatus::Superseded,
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            StatusAction::Revoke { reason } | StatusAction::Supersede { reason, .. } => reason,
        }
    }

    pub fn replaced_by(&self) -> Option<&str> {
        match self {
            StatusAction::Revoke { .. } => None,
            StatusAction::Supersede { replaced_by, .. } => Some(replaced_by),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    /// The reason is shown to the public and logged: it must say something, briefly.
    #[error(
        "the reason must be 1 to {MAX_REASON_CHARS} characters of text without control characters"
    )]
    BadReason,
    #[error("a document cannot replace itself")]
    SelfReplacement,
    /// See the module docs for the allowed changes.
    #[error("a {from} document cannot become {to}")]
    NotAllowed {
        from: &'static str,
        to: &'static str,
    },
}

/// The reason, trimmed, if it is acceptable.
pub fn clean_reason(raw: &str) -> Result<String, StatusError> {
    let r = raw.trim();
    if r.is_empty() || r.chars().count() > MAX_REASON_CHARS || r.chars().any(char::is_control) {
        return Err(StatusError::BadReason);
    }
    Ok(r.to_owned())
}

/// Checks the change `action` asks of document `id`, now `from`, and returns the new status.
pub fn transition(
    id: &str,
    from: DocumentStatus,
    action: &StatusAction,
) -> Result<DocumentStatus, StatusError> {
    clean_reason(action.reason())?;
    if action.replaced_by() == Some(id) {
        return Err(StatusError::SelfReplacement);
    }
    let to = action.target();
    match (from, to) {
        (DocumentStatus::Valid, DocumentStatus::Revoked | DocumentStatus::Superseded)
        | (DocumentStatus::Superseded, DocumentStatus::Revoked) => Ok(to),
        _ => Err(StatusError::NotAllowed {
            from: from.as_str(),
            to: to.as_str(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revoke() -> StatusAction {
        StatusAction::Revoke {
            reason: "cấp nhầm".into(),
        }
    }

    fn supersede(by: &str) -> StatusAction {
        StatusAction::Supersede {
            reason: "đính chính".into(),
            replaced_by: by.into(),
        }
    }

    #[test]
    fn allowed_changes() {
        use DocumentStatus::*;
        assert_eq!(transition("a", Valid, &revoke()), Ok(Revoked));
        assert_eq!(transition("a", Valid, &supersede("b")), Ok(Superseded));
        assert_eq!(transition("a", Superseded, &revoke()), Ok(Revoked));
        assert!(matches!(
            transition("a", Revoked, &revoke()),
            Err(StatusError::NotAllowed { .. })
        ));
        assert!(matches!(
            transition("a", Revoked, &supersede("b")),
            Err(StatusError::NotAllowed { .. })
        ));
        assert!(matches!(
            transition("a", Superseded, &supersede("b")),
            Err(StatusError::NotAllowed { .. })
        ));
        assert_eq!(
            transition("a", Valid, &supersede("a")),
            Err(StatusError::SelfReplacement)
        );
    }

    #[test]
    fn reasons_are_bounded_text() {
        assert_eq!(clean_reason("  cấp nhầm \n").unwrap(), "cấp nhầm");
        assert_eq!(clean_reason("   "), Err(StatusError::BadReason));
        assert_eq!(clean_reason("a\u{0}b"), Err(StatusError::BadReason));
        assert!(clean_reason(&"ư".repeat(MAX_REASON_CHARS)).is_ok());
        assert_eq!(
            clean_reason(&"ư".repeat(MAX_REASON_CHARS + 1)),
            Err(StatusError::BadReason)
        );
    }

    #[test]
    fn names_round_trip() {
        for s in [
            DocumentStatus::Valid,
            DocumentStatus::Revoked,
            DocumentStatus::Superseded,
        ] {
            assert_eq!(DocumentStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(DocumentStatus::parse("VALID"), None);
    }
}
