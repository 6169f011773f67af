//! Who is calling: API keys (stored as SHA-256 hashes, never in clear) and client certificates.
//!
//! A key is 32 random bytes from the OS generator, shown once at creation. Because keys are
//! high-entropy, a single SHA-256 is the right hash (a slow password hash would add nothing but a
//! denial-of-service lever).

use ring::rand::SecureRandom;
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

use crate::store::ApiKeyRecord;

/// The roles of the issue: portals verify (and later sign and pay), finance officers reconcile,
/// auditors read, admins manage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Portal,
    Finance,
    Auditor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Portal, Role::Finance, Role::Auditor, Role::Admin];

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "portal" => Some(Role::Portal),
            "finance" => Some(Role::Finance),
            "auditor" => Some(Role::Auditor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Portal => "portal",
            Role::Finance => "finance",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An authenticated caller, attached to each request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `key:<id>` or `cert:<sha256 of the client certificate>`.
    pub id: String,
    pub role: Role,
}

/// The prefix makes leaked keys easy to find with secret scanners.
pub const KEY_PREFIX: &str = "antin_";

/// Creates a new key: the secret (to show once) and the record to store.
pub fn generate_key(
    name: &str,
    role: Role,
    now: OffsetDateTime,
) -> Result<(SecretString, ApiKeyRecord), ring::error::Unspecified> {
    let rng = ring::rand::SystemRandom::new();
    let mut secret = [0u8; 32];
    rng.fill(&mut secret)?;
    let mut id = [0u8; 8];
    rng.fill(&mut id)?;
    use base64::Engine as _;
    let token = format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let record = ApiKeyRecord {
        id: hex::encode(id),
        name: name.to_owned(),
        role: role.as_str().to_owned(),
        key_hash: hash_key(&token),
        created_at: now,
        revoked_at: None,
    };
    Ok((SecretString::from(token), record))
}

pub fn hash_key(token: &str) -> String {
    hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        token.as_bytes(),
    ))
}

/// Checks a presented key against its stored record (already found by hash).
pub fn caller_for_key(record: &ApiKeyRecord) -> Option<Caller> {
    if record.revoked_at.is_some() {
        return None;
    }
    Some(Caller {
        id: format!("key:{}", record.id),
        role: Role::parse(&record.role)?,
    })
}

/// The secret from `Authorization: Bearer ...` or `X-API-Key: ...`.
pub fn presented_key(headers: &axum::http::HeaderMap) -> Option<SecretString> {
    if let Some(v) = headers.get(axum::http::header::AUTHORIZATION) {
        let v = v.to_str().ok()?;
        let (scheme, token) = v.split_once(' ')?;
        if scheme.eq_ignore_ascii_case("bearer") {
            return Some(SecretString::from(token.trim().to_owned()));
        }
        return None;
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|v| SecretString::from(v.trim().to_owned()))
}

/// Only well-formed keys are looked up (keeps junk out of the database queries and logs).
pub fn looks_like_key(secret: &SecretString) -> bool {
    let s = secret.expose_secret();
    s.len() == KEY_PREFIX.len() + 43
        && s.starts_with(KEY_PREFIX)
        && s[KEY_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_unique_and_hashed() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let (a, ra) = generate_key("a", Role::Portal, now).unwrap();
        let (b, rb) = generate_key("b", Role::Portal, now).unwrap();
        assert!(looks_like_key(&a));
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(ra.key_hash, hash_key(a.expose_secret()));
        assert_ne!(ra.key_hash, rb.key_hash);
        assert!(!ra.key_hash.contains(&a.expose_secret()[6..]));
    }

    #[test]
    fn revoked_key_gives_no_caller() {
        let (_, mut r) = generate_key("a", Role::Admin, OffsetDateTime::UNIX_EPOCH).unwrap();
        assert_eq!(caller_for_key(&r).unwrap().role, Role::Admin);
        r.revoked_at = Some(OffsetDateTime::UNIX_EPOCH);
        assert!(caller_for_key(&r).is_none());
    }

    #[test]
    fn header_forms() {
        let mut h = axum::http::HeaderMap::new();
        h.insert("authorization", "Bearer abc".parse().unwrap());
        assert_eq!(presented_key(&h).unwrap().expose_secret(), "abc");
        let mut h = axum::http::HeaderMap::new();
        h.insert("x-api-key", "xyz".parse().unwrap());
        assert_eq!(presented_key(&h).unwrap().expose_secret(), "xyz");
        let mut h = axum::http::HeaderMap::new();
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert!(presented_key(&h).is_none());
    }
}
