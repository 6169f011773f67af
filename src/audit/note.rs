//! Signed checkpoints: the C2SP signed-note format (c2sp.org/signed-note) with Ed25519 keys, and
//! the checkpoint text it carries (c2sp.org/tlog-checkpoint).
//!
//! A log signs a [`Checkpoint`] (origin, tree size, root hash) with a [`NoteSigner`]; a witness adds
//! its signature with [`NoteSigner::cosign`]; an auditor checks it with [`open`] and the
//! [`NoteVerifier`]s it trusts, configured from verifier key strings (`name+keyid+base64key`).
//!
//! This module parses untrusted text exactly once into typed values and bounds everything an
//! outsider controls (note size, number of signatures). It never reads the clock, files, the
//! network or the database; the only effect is the system random generator in
//! [`NoteSigner::generate_pkcs8`]. Private keys never appear in `Debug` output or errors.
#![forbid(unsafe_code)]

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair as _, UnparsedPublicKey, ED25519};

use super::merkle::Hash;

/// The largest signed note accepted or produced (signed-note "Verifiers SHOULD apply a maximum
/// limit ... to the overall size of a note").
pub const MAX_NOTE_BYTES: usize = 1 << 20;
/// The most signature lines accepted (signed-note: at least 16 MUST be accepted; Go's
/// golang.org/x/mod/sumdb/note stops at 100).
pub const MAX_SIGNATURES: usize = 100;
/// The longest verifier key string accepted.
pub const MAX_VKEY_BYTES: usize = 4096;

/// signed-note "Format": a signature line starts with U+2014 EM DASH and a space.
const SIG_PREFIX: &str = "\u{2014} ";
/// signed-note "Signature types": 0x01 is Ed25519.
const ALG_ED25519: u8 = 0x01;
const ED25519_SIG_LEN: usize = 64;

/// Why a note, a checkpoint or a key was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// Our bound on outsider-controlled input (signed-note "maximum limit ... overall size").
    #[error("{len} bytes, more than the {max} allowed")]
    TooLarge { len: usize, max: usize },
    /// signed-note "Format": a note has a non-empty text.
    #[error("the note text is empty")]
    EmptyText,
    /// signed-note "Format": the text ends in a newline (U+000A); so does every checkpoint line
    /// (tlog-checkpoint "Note text").
    #[error("the text does not end in a newline")]
    TextNotTerminated,
    /// signed-note "Format": "MUST NOT contain any ASCII control characters (those below U+0020)
    /// other than newline".
    #[error("control character 0x{byte:02x} at byte {offset}")]
    ControlCharacter { offset: usize, byte: u8 },
    /// signed-note "Format": the text is followed by a blank line and one or more signature lines.
    #[error("no blank line followed by signature lines")]
    MissingSignatureBlock,
    /// signed-note "Format": em dash, space, key name, space, base64 signature, newline; the
    /// signature is the base64 (RFC 4648 section 4, padded) of a 4-byte key ID and at least one
    /// byte of signature.
    #[error("signature line {line} is malformed: {reason}")]
    MalformedSignatureLine { line: usize, reason: &'static str },
    /// signed-note "Format": "Key names MUST be non-empty and MUST NOT contain any Unicode spaces
    /// or plus (U+002B) characters."
    #[error("invalid key name {name:?}")]
    InvalidKeyName { name: String },
    /// Our bound on the number of signature lines ([`MAX_SIGNATURES`]).
    #[error("{count} signatures, more than the {max} accepted")]
    TooManySignatures { count: usize, max: usize },
    /// signed-note "Signatures": "If a signature from a known key fails to verify, clients SHOULD
    /// reject the whole note."
    #[error("the signature by {name} (key id {}) does not verify", hex::encode(.key_id))]
    InvalidSignature { name: String, key_id: [u8; 4] },
    /// signed-note "Signatures": "If no signature from a known key verifies successfully, clients
    /// MUST reject the note."
    #[error("no signature by a known key ({unknown} by unknown keys)")]
    NoKnownSignature { unknown: usize },
    /// A verifier key string is not `<name>+<8 hex digits>+<base64(type || key)>`.
    #[error("malformed verifier key: {reason}")]
    MalformedVerifierKey { reason: &'static str },
    /// signed-note "Signature types": only 0x01 (Ed25519) is supported here.
    #[error("unsupported signature type 0x{alg:02x}")]
    UnsupportedAlgorithm { alg: u8 },
    /// signed-note "Ed25519 signatures": key ID = SHA-256(name || 0x0A || 0x01 || key)[:4]; the
    /// verifier key string states a different one.
    #[error("verifier key {name} states key id {} but its key gives {}", hex::encode(.stated), hex::encode(.computed))]
    KeyIdMismatch {
        name: String,
        stated: [u8; 4],
        computed: [u8; 4],
    },
    /// The PKCS#8 document is not an Ed25519 private key (ring's reason; never the key itself).
    #[error("not an Ed25519 PKCS#8 private key: {reason}")]
    BadPrivateKey { reason: String },
    /// The system random generator failed.
    #[error("could not generate a key")]
    KeyGeneration,
    /// tlog-checkpoint "Note text": "a sequence of at least three non-empty lines".
    #[error("a checkpoint has at least 3 lines, this has {lines}")]
    CheckpointTooShort { lines: usize },
    /// tlog-checkpoint "Note text": the origin (line 1) and every extension line are non-empty.
    #[error("checkpoint line {line} is empty")]
    EmptyCheckpointLine { line: usize },
    /// tlog-checkpoint "Note text" 2: ASCII decimal, no leading zeroes unless the size is 0.
    #[error("the tree size line is not a canonical decimal u64")]
    BadTreeSize,
    /// tlog-checkpoint "Note text" 3: base64 of the 32-byte SHA-256 root.
    #[error("the root hash line is not the base64 of 32 bytes")]
    BadRootHash,
    /// A checkpoint field to be written contains a newline (it would become another line).
    #[error("the checkpoint {field} contains a newline")]
    NewlineInField { field: &'static str },
}

/// A checkpoint (c2sp.org/tlog-checkpoint): the signed statement "the log of this origin has this
/// many leaves and this root".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text: origin, decimal size, base64 root, then the extension lines, each ending in
    /// a newline. A checkpoint that fails [`Checkpoint::validate`] gives text that
    /// [`Checkpoint::parse`] rejects.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        );
        for ext in &self.extensions {
            out.push_str(ext);
            out.push('\n');
        }
        out
    }

    /// Checks that [`Checkpoint::to_text`] gives a well-formed checkpoint note text.
    pub fn validate(&self) -> Result<(), NoteError> {
        let fields = std::iter::once(("origin", &self.origin))
            .chain(self.extensions.iter().map(|e| ("extension line", e)));
        for (line, (field, value)) in fields.enumerate() {
            if value.is_empty() {
                // Line numbers as in the text: origin 1, size 2, root 3, extensions from 4.
                let line = if line == 0 { 1 } else { line + 3 };
                return Err(NoteError::EmptyCheckpointLine { line });
            }
            if value.contains('\n') {
                return Err(NoteError::NewlineInField { field });
            }
        }
        check_text(&self.to_text())
    }

    /// Parses the text of a checkpoint (the text of an opened note; see [`open`]). Strict: every
    /// line ends in a newline, the size is canonical decimal, the root is canonical padded base64
    /// of 32 bytes, extension lines are non-empty.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        check_text(text)?;
        let body = text
            .strip_suffix('\n')
            .ok_or(NoteError::TextNotTerminated)?;
        let lines: Vec<&str> = body.split('\n').collect();
        let [origin, size, root, extensions @ ..] = lines.as_slice() else {
            return Err(NoteError::CheckpointTooShort { lines: lines.len() });
        };
        if origin.is_empty() {
            return Err(NoteError::EmptyCheckpointLine { line: 1 });
        }
        let size = parse_decimal(size).ok_or(NoteError::BadTreeSize)?;
        let root = decode_hash(root).ok_or(NoteError::BadRootHash)?;
        for (i, ext) in extensions.iter().enumerate() {
            if ext.is_empty() {
                return Err(NoteError::EmptyCheckpointLine { line: i + 4 });
            }
        }
        Ok(Self {
            origin: (*origin).to_owned(),
            size,
            root,
            extensions: extensions.iter().map(|e| (*e).to_owned()).collect(),
        })
    }
}

/// Parses an ASCII decimal with no leading zeroes unless it is `0` (tlog-checkpoint "Note text"
/// 2, tlog-proof "Format" index line). Rejects the `+` sign that `u64::from_str` would accept.
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Decodes canonical padded standard base64 (RFC 4648 section 4) of exactly 32 bytes.
pub(crate) fn decode_hash(s: &str) -> Option<Hash> {
    // 32 bytes are 44 characters with one '=' of padding; checking first bounds the work.
    if s.len() != 44 {
        return None;
    }
    let bytes = STANDARD.decode(s).ok()?;
    bytes.try_into().ok()
}

/// The key ID of an Ed25519 key (signed-note "Ed25519 signatures"):
/// SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4].
pub fn ed25519_key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(name.as_bytes());
    ctx.update(b"\n");
    ctx.update(&[ALG_ED25519]);
    ctx.update(public_key);
    let digest = ctx.finish();
    let mut id = [0u8; 4];
    // Invariant: a SHA-256 digest is 32 bytes, so its first 4 always exist.
    id.copy_from_slice(&digest.as_ref()[..4]);
    id
}

/// signed-note "Format": non-empty, no Unicode spaces, no '+'. ASCII control characters are
/// excluded too: a note cannot contain them, so a name with one could never verify.
fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c < ' ')
}

/// The rules every note text obeys: bounded, non-empty, newline-terminated, no control characters
/// but newline (signed-note "Format").
fn check_text(text: &str) -> Result<(), NoteError> {
    if text.len() > MAX_NOTE_BYTES {
        return Err(NoteError::TooLarge {
            len: text.len(),
            max: MAX_NOTE_BYTES,
        });
    }
    if text.is_empty() {
        return Err(NoteError::EmptyText);
    }
    check_controls(text)?;
    if !text.ends_with('\n') {
        return Err(NoteError::TextNotTerminated);
    }
    Ok(())
}

fn check_controls(s: &str) -> Result<(), NoteError> {
    match s.bytes().enumerate().find(|&(_, b)| b < 0x20 && b != b'\n') {
        Some((offset, byte)) => Err(NoteError::ControlCharacter { offset, byte }),
        None => Ok(()),
    }
}

/// One syntactically valid signature line of a note, not verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The 4-byte key ID (big-endian uint32 per signed-note).
    pub key_id: [u8; 4],
    /// The signature bytes after the key ID.
    pub signature: Vec<u8>,
}

struct RawSignature<'a> {
    line: &'a str,
    name: &'a str,
    key_id: [u8; 4],
    signature: Vec<u8>,
}

/// Splits a signed note into its text and signature lines, checking the syntax only
/// (signed-note "Format"). The text is everything up to and including the newline before the
/// last blank line.
fn split_note(note: &str) -> Result<(&str, Vec<RawSignature<'_>>), NoteError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(NoteError::TooLarge {
            len: note.len(),
            max: MAX_NOTE_BYTES,
        });
    }
    check_controls(note)?;
    // "the text is separated from the signatures by the last empty line in the note"
    let split = note.rfind("\n\n").ok_or(NoteError::MissingSignatureBlock)?;
    let text = &note[..split + 1];
    let block = &note[split + 2..];
    if block.is_empty() {
        return Err(NoteError::MissingSignatureBlock);
    }
    let Some(block) = block.strip_suffix('\n') else {
        return Err(NoteError::MalformedSignatureLine {
            line: block.matches('\n').count() + 1,
            reason: "does not end in a newline",
        });
    };
    let count = block.matches('\n').count() + 1;
    if count > MAX_SIGNATURES {
        return Err(NoteError::TooManySignatures {
            count,
            max: MAX_SIGNATURES,
        });
    }
    let mut sigs = Vec::with_capacity(count);
    for (i, line) in block.split('\n').enumerate() {
        let malformed = |reason| NoteError::MalformedSignatureLine {
            line: i + 1,
            reason,
        };
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or(malformed("does not start with an em dash and a space"))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(malformed("no space between key name and signature"))?;
        if !valid_key_name(name) {
            return Err(NoteError::InvalidKeyName {
                name: name.to_owned(),
            });
        }
        let bytes = STANDARD
            .decode(b64)
            .map_err(|_| malformed("the signature is not canonical padded base64"))?;
        let Some((key_id, signature)) = bytes.split_first_chunk::<4>() else {
            return Err(malformed("the signature is shorter than a key ID"));
        };
        if signature.is_empty() {
            return Err(malformed("the signature is empty"));
        }
        sigs.push(RawSignature {
            line,
            name,
            key_id: *key_id,
            signature: signature.to_vec(),
        });
    }
    Ok((text, sigs))
}

/// The signature lines of a note, syntax-checked but not verified (for display, or to see which
/// witnesses cosigned before choosing verifiers). Never trust the text on this basis: use [`open`].
pub fn signatures(note: &str) -> Result<Vec<NoteSignature>, NoteError> {
    let (_, sigs) = split_note(note)?;
    Ok(sigs
        .into_iter()
        .map(|s| NoteSignature {
            name: s.name.to_owned(),
            key_id: s.key_id,
            signature: s.signature,
        })
        .collect())
}

/// A note signer: an Ed25519 private key and the key name it signs under.
pub struct NoteSigner {
    name: String,
    key_id: [u8; 4],
    public_key: [u8; 32],
    key_pair: Ed25519KeyPair,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &hex::encode(self.key_id))
            .field("public_key", &hex::encode(self.public_key))
            .field("private_key", &"<redacted>")
            .finish()
    }
}

impl NoteSigner {
    /// A signer from an Ed25519 private key in PKCS#8: v2 (what [`NoteSigner::generate_pkcs8`]
    /// and ring produce; the embedded public key is checked against the private key) or v1 (what
    /// `openssl genpkey -algorithm ED25519` produces; the public key is derived).
    pub fn from_pkcs8(name: &str, pkcs8: &[u8]) -> Result<Self, NoteError> {
        if !valid_key_name(name) {
            return Err(NoteError::InvalidKeyName {
                name: name.to_owned(),
            });
        }
        let key_pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|e| {
            NoteError::BadPrivateKey {
                reason: e.to_string(),
            }
        })?;
        let public_key: [u8; 32] =
            key_pair
                .public_key()
                .as_ref()
                .try_into()
                .map_err(|_| NoteError::BadPrivateKey {
                    reason: "public key is not 32 bytes".to_owned(),
                })?;
        Ok(Self {
            name: name.to_owned(),
            key_id: ed25519_key_id(name, &public_key),
            public_key,
            key_pair,
        })
    }

    /// A fresh Ed25519 private key as PKCS#8 v2, from the system random generator. The bytes are
    /// the secret: store them as such.
    pub fn generate_pkcs8() -> Result<Vec<u8>, NoteError> {
        let rng = SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| NoteError::KeyGeneration)?;
        Ok(doc.as_ref().to_vec())
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID (signed-note "Ed25519 signatures").
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    /// The verifier key string: `<name>+<hex key id>+<base64(0x01 || public key)>`.
    pub fn vkey(&self) -> String {
        encode_vkey(&self.name, self.key_id, &self.public_key)
    }

    /// The verifier for this signer's key.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            public_key: self.public_key,
        }
    }

    /// This key's signature line for `text` (signed-note "Signatures"), with its newline.
    fn signature_line(&self, text: &str) -> String {
        let sig = self.key_pair.sign(text.as_bytes());
        let mut blob = Vec::with_capacity(4 + ED25519_SIG_LEN);
        blob.extend_from_slice(&self.key_id);
        blob.extend_from_slice(sig.as_ref());
        format!("{SIG_PREFIX}{} {}\n", self.name, STANDARD.encode(blob))
    }

    /// Signs `text` (which must be a valid note text: non-empty, ending in a newline, no control
    /// characters but newline) and returns the full signed note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let note = format!("{text}\n{}", self.signature_line(text));
        check_size(note)
    }

    /// Adds this key's signature line to an existing signed note (a witness cosigning), after the
    /// signatures already there. An existing signature by this same key (name and key ID) is
    /// replaced, as Go's note.Sign does. The existing signatures are not verified: the witness
    /// must [`open`] the note with the log's verifier first.
    ///
    /// This is a plain signed-note Ed25519 signature (type 0x01), not a timestamped
    /// c2sp.org/tlog-cosignature (type 0x04).
    pub fn cosign(&self, note: &str) -> Result<String, NoteError> {
        let (text, sigs) = split_note(note)?;
        let kept: Vec<&str> = sigs
            .iter()
            .filter(|s| !(s.name == self.name && s.key_id == self.key_id))
            .map(|s| s.line)
            .collect();
        if kept.len() + 1 > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                count: kept.len() + 1,
                max: MAX_SIGNATURES,
            });
        }
        let mut out = String::with_capacity(note.len() + 128);
        out.push_str(text);
        out.push('\n');
        for line in kept {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(&self.signature_line(text));
        check_size(out)
    }
}

fn check_size(note: String) -> Result<String, NoteError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(NoteError::TooLarge {
            len: note.len(),
            max: MAX_NOTE_BYTES,
        });
    }
    Ok(note)
}

fn encode_vkey(name: &str, key_id: [u8; 4], public_key: &[u8; 32]) -> String {
    let mut key = Vec::with_capacity(33);
    key.push(ALG_ED25519);
    key.extend_from_slice(public_key);
    format!("{name}+{}+{}", hex::encode(key_id), STANDARD.encode(key))
}

/// A trusted Ed25519 note verifier: key name, key ID and public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: [u8; 4],
    public_key: [u8; 32],
}

impl NoteVerifier {
    /// Parses a verifier key string `<name>+<8 hex digits>+<base64(0x01 || 32-byte key)>` (the
    /// format of golang.org/x/mod/sumdb/note) and checks that the stated key ID is the one the
    /// name and key give.
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        if vkey.len() > MAX_VKEY_BYTES {
            return Err(NoteError::TooLarge {
                len: vkey.len(),
                max: MAX_VKEY_BYTES,
            });
        }
        // The name has no '+', the hex key ID has none, base64 may: split at the first two.
        let (name, rest) = vkey
            .split_once('+')
            .ok_or(NoteError::MalformedVerifierKey {
                reason: "expected name+keyid+key",
            })?;
        let (id_hex, key_b64) = rest
            .split_once('+')
            .ok_or(NoteError::MalformedVerifierKey {
                reason: "expected name+keyid+key",
            })?;
        if !valid_key_name(name) {
            return Err(NoteError::InvalidKeyName {
                name: name.to_owned(),
            });
        }
        if id_hex.len() != 8 {
            return Err(NoteError::MalformedVerifierKey {
                reason: "the key id is not 8 hex digits",
            });
        }
        let mut stated = [0u8; 4];
        hex::decode_to_slice(id_hex, &mut stated).map_err(|_| NoteError::MalformedVerifierKey {
            reason: "the key id is not 8 hex digits",
        })?;
        let key = STANDARD
            .decode(key_b64)
            .map_err(|_| NoteError::MalformedVerifierKey {
                reason: "the key is not canonical padded base64",
            })?;
        let (&alg, public_key) = key.split_first().ok_or(NoteError::MalformedVerifierKey {
            reason: "the key is empty",
        })?;
        if alg != ALG_ED25519 {
            return Err(NoteError::UnsupportedAlgorithm { alg });
        }
        let public_key: [u8; 32] =
            public_key
                .try_into()
                .map_err(|_| NoteError::MalformedVerifierKey {
                    reason: "an Ed25519 public key is 32 bytes",
                })?;
        let computed = ed25519_key_id(name, &public_key);
        if computed != stated {
            return Err(NoteError::KeyIdMismatch {
                name: name.to_owned(),
                stated,
                computed,
            });
        }
        Ok(Self {
            name: name.to_owned(),
            key_id: computed,
            public_key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    /// The verifier key string (lowercase hex key ID).
    pub fn vkey(&self) -> String {
        encode_vkey(&self.name, self.key_id, &self.public_key)
    }

    /// signed-note "Ed25519 signatures": RFC 8032 Ed25519 over the note text bytes.
    fn verifies(&self, text: &str, signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.public_key)
            .verify(text.as_bytes(), signature)
            .is_ok()
    }
}

/// A note whose signatures were checked: the text, and the names of the known keys that signed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenedNote {
    pub text: String,
    /// Key names, each once, in the order of their first signature line.
    pub verified_by: Vec<String>,
}

/// Verifies a signed note (signed-note "Format" and "Signatures"): the text must end in '\n',
/// then a blank line, then signature lines "— name base64(keyid||sig)". Signatures by unknown
/// keys (name or key ID differ from every verifier) are ignored; a signature by a known key (name
/// AND key ID match) that does not verify is an error; no verified known signature at all is an
/// error. Malformed notes are rejected: control characters other than '\n', lines not ending in
/// '\n', more than [`MAX_SIGNATURES`] signatures, non-canonical base64, invalid key names, notes
/// over [`MAX_NOTE_BYTES`].
pub fn open(note: &str, verifiers: &[NoteVerifier]) -> Result<OpenedNote, NoteError> {
    let (text, sigs) = split_note(note)?;
    let mut verified_by: Vec<String> = Vec::new();
    let mut unknown = 0;
    for sig in &sigs {
        let mut known = verifiers
            .iter()
            .filter(|v| v.name == sig.name && v.key_id == sig.key_id)
            .peekable();
        if known.peek().is_none() {
            // "Verifiers MUST ignore signatures from unknown keys, even if they share a name or
            // ID (but not both) with a known key."
            unknown += 1;
            continue;
        }
        // "If the key name and ID match a known key, verifiers MUST verify the signature." Every
        // such line is verified, duplicates included.
        if !known.any(|v| v.verifies(text, &sig.signature)) {
            return Err(NoteError::InvalidSignature {
                name: sig.name.to_owned(),
                key_id: sig.key_id,
            });
        }
        if !verified_by.iter().any(|n| n == sig.name) {
            verified_by.push(sig.name.to_owned());
        }
    }
    if verified_by.is_empty() {
        return Err(NoteError::NoKnownSignature { unknown });
    }
    Ok(OpenedNote {
        text: text.to_owned(),
        verified_by,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(name: &str) -> NoteSigner {
        NoteSigner::from_pkcs8(name, &NoteSigner::generate_pkcs8().unwrap()).unwrap()
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "antin.example/log".into(),
            size: 20852163,
            root: [7; 32],
            extensions: vec![],
        }
    }

    #[test]
    fn checkpoint_round_trip() {
        let mut cp = checkpoint();
        assert_eq!(Checkpoint::parse(&cp.to_text()).unwrap(), cp);
        cp.extensions = vec!["ext one".into(), "— two".into()];
        cp.size = 0;
        cp.validate().unwrap();
        assert_eq!(Checkpoint::parse(&cp.to_text()).unwrap(), cp);
    }

    #[test]
    fn checkpoint_spec_example_parses() {
        let cp = Checkpoint::parse(
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        )
        .unwrap();
        assert_eq!(cp.origin, "example.com/behind-the-sofa");
        assert_eq!(cp.size, 20852163);
    }

    #[test]
    fn malformed_checkpoints_are_rejected() {
        let root = STANDARD.encode([7u8; 32]);
        let cases: Vec<(String, NoteError)> = vec![
            (String::new(), NoteError::EmptyText),
            (format!("o\n1\n{root}"), NoteError::TextNotTerminated),
            ("o\n1\n".into(), NoteError::CheckpointTooShort { lines: 2 }),
            (
                format!("\n1\n{root}\n"),
                NoteError::EmptyCheckpointLine { line: 1 },
            ),
            (format!("o\n01\n{root}\n"), NoteError::BadTreeSize),
            (format!("o\n+1\n{root}\n"), NoteError::BadTreeSize),
            (format!("o\n\n{root}\n"), NoteError::BadTreeSize),
            (format!("o\n-1\n{root}\n"), NoteError::BadTreeSize),
            (format!("o\n1 \n{root}\n"), NoteError::BadTreeSize),
            (
                format!("o\n18446744073709551616\n{root}\n"),
                NoteError::BadTreeSize,
            ),
            ("o\n1\nAAAA\n".into(), NoteError::BadRootHash),
            (format!("o\n1\n{}\n", &root[..43]), NoteError::BadRootHash),
            (
                format!("o\n1\n{}\n", STANDARD.encode([7u8; 33])),
                NoteError::BadRootHash,
            ),
            // Non-canonical trailing bits: the last character before '=' must have its low bits 0.
            (format!("o\n1\n{}F=\n", &root[..42]), NoteError::BadRootHash),
            (
                format!("o\n1\n{root}\n\n"),
                NoteError::EmptyCheckpointLine { line: 4 },
            ),
            (
                format!("o\n1\n{root}\nx\n\n"),
                NoteError::EmptyCheckpointLine { line: 5 },
            ),
            (
                format!("o\r\n1\n{root}\n"),
                NoteError::ControlCharacter {
                    offset: 1,
                    byte: 0x0d,
                },
            ),
            (
                format!("o\t\n1\n{root}\n"),
                NoteError::ControlCharacter {
                    offset: 1,
                    byte: 0x09,
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Checkpoint::parse(&text), Err(want), "{text:?}");
        }
        let big = format!("o\n1\n{root}\n{}\n", "x".repeat(MAX_NOTE_BYTES));
        assert!(matches!(
            Checkpoint::parse(&big),
            Err(NoteError::TooLarge { .. })
        ));
        // The largest size parses.
        assert_eq!(
            Checkpoint::parse(&format!("o\n18446744073709551615\n{root}\n"))
                .unwrap()
                .size,
            u64::MAX
        );
    }

    #[test]
    fn invalid_checkpoint_fields_fail_validation() {
        let mut cp = checkpoint();
        cp.origin = "a\nb".into();
        assert_eq!(
            cp.validate(),
            Err(NoteError::NewlineInField { field: "origin" })
        );
        cp.origin = String::new();
        assert_eq!(
            cp.validate(),
            Err(NoteError::EmptyCheckpointLine { line: 1 })
        );
        cp.origin = "o".into();
        cp.extensions = vec!["x".into(), String::new()];
        assert_eq!(
            cp.validate(),
            Err(NoteError::EmptyCheckpointLine { line: 5 })
        );
        cp.extensions = vec!["x\u{1}".into()];
        assert!(matches!(
            cp.validate(),
            Err(NoteError::ControlCharacter { .. })
        ));
    }

    #[test]
    fn sign_open_and_cosign() {
        let log = signer("antin.example/log");
        let witness = signer("witness.example");
        let text = checkpoint().to_text();
        let note = log.sign(&text).unwrap();
        assert!(note.starts_with(&text));
        assert!(note.contains("\n\n\u{2014} antin.example/log "));
        let opened = open(&note, &[log.verifier()]).unwrap();
        assert_eq!(opened.text, text);
        assert_eq!(opened.verified_by, vec!["antin.example/log".to_owned()]);

        let cosigned = witness.cosign(&note).unwrap();
        let opened = open(&cosigned, &[log.verifier(), witness.verifier()]).unwrap();
        assert_eq!(
            opened.verified_by,
            vec!["antin.example/log", "witness.example"]
        );
        // Cosigning again replaces the witness's line rather than adding one.
        let again = witness.cosign(&cosigned).unwrap();
        assert_eq!(signatures(&again).unwrap().len(), 2);
        // Only the witness known: still verifies through the witness.
        assert_eq!(
            open(&cosigned, &[witness.verifier()]).unwrap().verified_by,
            vec!["witness.example"]
        );
        assert_eq!(
            open(&cosigned, &[]),
            Err(NoteError::NoKnownSignature { unknown: 2 })
        );
    }

    #[test]
    fn vkey_round_trip_and_errors() {
        let s = signer("antin.example/log");
        let v = NoteVerifier::parse(&s.vkey()).unwrap();
        assert_eq!(v, s.verifier());
        assert_eq!(v.vkey(), s.vkey());
        assert_eq!(v.name(), "antin.example/log");

        let (name, rest) = s
            .vkey()
            .split_once('+')
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .unwrap();
        let (id, key) = rest.split_once('+').unwrap();
        let mut other_key = vec![ALG_ED25519];
        other_key.extend_from_slice(&signer("x").public_key());
        let bad = |vkey: String| NoteVerifier::parse(&vkey).unwrap_err();
        assert!(matches!(
            bad(format!("{name}+{id}")),
            NoteError::MalformedVerifierKey { .. }
        ));
        assert!(matches!(
            bad(format!("+{id}+{key}")),
            NoteError::InvalidKeyName { .. }
        ));
        assert!(matches!(
            bad(format!("a b+{id}+{key}")),
            NoteError::InvalidKeyName { .. }
        ));
        assert!(matches!(
            bad(format!("{name}+{}+{key}", &id[..7])),
            NoteError::MalformedVerifierKey { .. }
        ));
        assert!(matches!(
            bad(format!("{name}+zzzzzzzz+{key}")),
            NoteError::MalformedVerifierKey { .. }
        ));
        assert!(matches!(
            bad(format!("{name}+{id}+{key} ")),
            NoteError::MalformedVerifierKey { .. }
        ));
        assert!(matches!(
            bad(format!("{name}+{id}+")),
            NoteError::MalformedVerifierKey { .. }
        ));
        assert!(matches!(
            bad(format!("{name}x+{id}+{key}")),
            NoteError::KeyIdMismatch { .. }
        ));
        assert!(matches!(
            bad(format!("{name}+{id}+{}", STANDARD.encode(&other_key))),
            NoteError::KeyIdMismatch { .. }
        ));
        other_key[0] = 0x04;
        assert_eq!(
            bad(format!("{name}+{id}+{}", STANDARD.encode(&other_key))),
            NoteError::UnsupportedAlgorithm { alg: 0x04 }
        );
        assert!(matches!(
            bad(format!("{name}+{id}+{}", STANDARD.encode([1u8; 32]))),
            NoteError::MalformedVerifierKey { .. }
        ));
    }

    #[test]
    fn malformed_notes_are_rejected() {
        let s = signer("k");
        let v = [s.verifier()];
        let note = s.sign("hello\n").unwrap();
        let sig_line = note.strip_prefix("hello\n\n").unwrap().to_owned();
        let b64 = sig_line.trim_end().rsplit(' ').next().unwrap().to_owned();
        let err = |n: &str| open(n, &v).unwrap_err();

        assert_eq!(err("hello\n"), NoteError::MissingSignatureBlock);
        assert_eq!(err("hello\n\n"), NoteError::MissingSignatureBlock);
        assert!(matches!(
            err(note.trim_end()),
            NoteError::MalformedSignatureLine { line: 1, .. }
        ));
        assert!(matches!(
            err(&format!("hello\n\n- k {b64}\n")),
            NoteError::MalformedSignatureLine { .. }
        ));
        assert!(matches!(
            err(&format!("hello\n\n\u{2014}k {b64}\n")),
            NoteError::MalformedSignatureLine { .. }
        ));
        assert!(matches!(
            err(&format!("hello\n\n\u{2014} k{b64}\n")),
            NoteError::MalformedSignatureLine { .. }
        ));
        assert!(matches!(
            err(&format!("hello\n\n\u{2014} k  {b64}\n")),
            NoteError::MalformedSignatureLine { .. }
        ));
        assert!(matches!(
            err(&format!("hello\n\n\u{2014} k {b64} \n")),
            NoteError::MalformedSignatureLine { .. }
        ));
        assert!(matches!(
            err(&format!(
                "hello\n\n\u{2014} k {}\n",
                b64.trim_end_matches('=')
            )),
            NoteError::MalformedSignatureLine { .. }
        ));
        assert!(matches!(
            err("hello\n\n\u{2014} k AAAA\n"),
            NoteError::MalformedSignatureLine { .. }
        ));
        assert!(matches!(
            err(&format!("hello\n\n\u{2014} a+b {b64}\n")),
            NoteError::InvalidKeyName { .. }
        ));
        assert!(matches!(
            err(&format!("hello\n\n\u{2014}  {b64}\n")),
            NoteError::InvalidKeyName { .. }
        ));
        // A blank line inside the signature block makes the block after it the signatures, and
        // the real signature then covers different text.
        assert!(matches!(
            err(&format!("{note}\n{sig_line}")),
            NoteError::InvalidSignature { .. }
        ));
        assert_eq!(
            err(&format!("hel\u{7}lo\n\n{sig_line}")),
            NoteError::ControlCharacter { offset: 3, byte: 7 }
        );
        assert_eq!(
            err(&note.replace('\n', "\r\n")),
            NoteError::ControlCharacter {
                offset: 5,
                byte: 0x0d
            }
        );
        let many = format!("hello\n\n{}", sig_line.repeat(MAX_SIGNATURES + 1));
        assert_eq!(
            err(&many),
            NoteError::TooManySignatures {
                count: MAX_SIGNATURES + 1,
                max: MAX_SIGNATURES
            }
        );
        // Exactly the maximum, duplicates of one valid signature: accepted.
        let max = format!("hello\n\n{}", sig_line.repeat(MAX_SIGNATURES));
        assert_eq!(open(&max, &v).unwrap().verified_by, vec!["k"]);
        let huge = format!("{}\n\n{sig_line}", "x".repeat(MAX_NOTE_BYTES));
        assert!(matches!(err(&huge), NoteError::TooLarge { .. }));
    }

    #[test]
    fn sign_rejects_bad_text() {
        let s = signer("k");
        assert_eq!(s.sign(""), Err(NoteError::EmptyText));
        assert_eq!(s.sign("no newline"), Err(NoteError::TextNotTerminated));
        assert_eq!(
            s.sign("tab\there\n"),
            Err(NoteError::ControlCharacter { offset: 3, byte: 9 })
        );
        assert!(matches!(
            s.sign(&format!("{}\n", "x".repeat(MAX_NOTE_BYTES - 1))),
            Err(NoteError::TooLarge { .. })
        ));
        // Empty lines inside the text are allowed; the last blank line separates the signatures.
        let note = s.sign("a\n\nb\n").unwrap();
        assert_eq!(open(&note, &[s.verifier()]).unwrap().text, "a\n\nb\n");
        let note = s.sign("a\n\n").unwrap();
        assert_eq!(open(&note, &[s.verifier()]).unwrap().text, "a\n\n");
    }

    #[test]
    fn bad_keys_and_names() {
        assert!(matches!(
            NoteSigner::from_pkcs8("k", b"not a key"),
            Err(NoteError::BadPrivateKey { .. })
        ));
        let pkcs8 = NoteSigner::generate_pkcs8().unwrap();
        for name in ["", "a b", "a+b", "a\u{a0}b", "a\u{3000}b", "a\nb"] {
            assert!(
                matches!(
                    NoteSigner::from_pkcs8(name, &pkcs8),
                    Err(NoteError::InvalidKeyName { .. })
                ),
                "{name:?}"
            );
        }
    }

    #[test]
    fn debug_does_not_print_the_private_key() {
        let pkcs8 = NoteSigner::generate_pkcs8().unwrap();
        let s = NoteSigner::from_pkcs8("k", &pkcs8).unwrap();
        let debug = format!("{s:?}");
        assert!(debug.contains("<redacted>"));
        // ring's PKCS#8 v2 document: the 32-byte seed follows a 16-byte prefix.
        let seed = &pkcs8[16..48];
        assert!(!debug.contains(&hex::encode(seed)));
        assert!(!debug.contains(&STANDARD.encode(seed)));
        assert!(!debug.contains(&format!("{seed:?}")));
    }

    #[test]
    fn unknown_signatures_sharing_name_or_id_are_ignored() {
        let s = signer("k");
        let text = "hello\n";
        let note = s.sign(text).unwrap();
        // Same name, another key (different key ID): ignored.
        let other = signer("k");
        let with_other = other.cosign(&note).unwrap();
        assert_eq!(
            open(&with_other, &[s.verifier()]).unwrap().verified_by,
            vec!["k"]
        );
        // Same key ID, another name: a garbage signature under a different name is ignored.
        let id = STANDARD.encode([&s.key_id()[..], &[0u8; 64][..]].concat());
        let forged = format!("{note}\u{2014} j {id}\n");
        assert_eq!(
            open(&forged, &[s.verifier()]).unwrap().verified_by,
            vec!["k"]
        );
        // Same name and key ID, garbage signature: the whole note is rejected.
        let forged = format!("{note}\u{2014} k {id}\n");
        assert_eq!(
            open(&forged, &[s.verifier()]),
            Err(NoteError::InvalidSignature {
                name: "k".into(),
                key_id: s.key_id()
            })
        );
    }
}
