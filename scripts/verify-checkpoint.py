#!/usr/bin/env python3
"""Independent checker for antin's transparency-log artefacts, sharing no code with antin.

    verify-checkpoint.py VKEY NOTE_FILE [LEAF_HASH_HEX TLOG_PROOF_FILE]

Verifies the signed checkpoint NOTE_FILE with the verifier key VKEY (C2SP signed-note, Ed25519;
c2sp.org/tlog-checkpoint). With a leaf hash (hex of SHA-256(0x00 || entry)) and a .tlog-proof file
(c2sp.org/tlog-proof@v1), also verifies the proof's own checkpoint with VKEY and recomputes the
RFC 9162 2.1.3.2 inclusion of the leaf in it. Exit 0 if everything verifies, 1 otherwise.
Needs only the `cryptography` package (pinned in scripts/requirements.txt).
"""
import base64
import binascii
import hashlib
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SIG_PREFIX = "\u2014 "  # signed-note: em dash, space


class Reject(Exception):
    pass


def b64(s):
    """Standard padded base64 (RFC 4648 section 4), canonical only."""
    try:
        raw = base64.b64decode(s, validate=True)
    except binascii.Error as e:
        raise Reject(f"bad base64 {s!r}: {e}")
    if base64.b64encode(raw).decode() != s:
        raise Reject(f"non-canonical base64 {s!r}")
    return raw


def parse_vkey(vkey):
    """<name>+<hex key id>+<base64(0x01 || 32-byte key)>; key id = SHA-256(name||0x0A||0x01||key)[:4]."""
    name, _, rest = vkey.partition("+")
    key_id, _, key_b64 = rest.partition("+")
    key = b64(key_b64)
    if not name or len(key) != 33 or key[0] != 0x01:
        raise Reject("not an Ed25519 verifier key")
    computed = hashlib.sha256(name.encode() + b"\n" + key).digest()[:4]
    if computed.hex() != key_id.lower():
        raise Reject(f"key id {key_id} does not match the key ({computed.hex()})")
    return name, computed, Ed25519PublicKey.from_public_bytes(key[1:])


def open_note(note, vkey):
    """signed-note: text, blank line, signature lines; returns the verified text."""
    name, key_id, public_key = vkey
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise Reject("control character in note")
    split = note.rfind("\n\n")
    if split < 0:
        raise Reject("no signature block")
    text, sigs = note[: split + 1], note[split + 2 :]
    if not sigs.endswith("\n"):
        raise Reject("signature block does not end in a newline")
    verified = False
    for line in sigs[:-1].split("\n"):
        if not line.startswith(SIG_PREFIX):
            raise Reject(f"bad signature line {line!r}")
        sig_name, _, sig_b64 = line[len(SIG_PREFIX) :].partition(" ")
        sig = b64(sig_b64)
        if len(sig) < 5:
            raise Reject("signature too short")
        if sig_name != name or sig[:4] != key_id:
            continue  # unknown key: ignored
        try:
            public_key.verify(sig[4:], text.encode())
        except InvalidSignature:
            raise Reject(f"signature by {name} does not verify")
        verified = True
    if not verified:
        raise Reject(f"no signature by {name}")
    return text


def parse_checkpoint(text):
    """tlog-checkpoint: origin, decimal size, base64 root (32 bytes), optional extension lines."""
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not all(lines):
        raise Reject("not a checkpoint")
    size = lines[1]
    if not size.isascii() or not size.isdigit() or (size != "0" and size.startswith("0")):
        raise Reject(f"bad tree size {size!r}")
    root = b64(lines[2])
    if len(root) != 32:
        raise Reject("root is not 32 bytes")
    return lines[0], int(size), root


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf, index, size, proof, root):
    """RFC 9162 section 2.1.3.2, step by step."""
    if index >= size:
        raise Reject(f"index {index} not below size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise Reject("proof too long")
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise Reject("proof too short")
    if r != root:
        raise Reject("root mismatch")


def parse_tlog_proof(data):
    """c2sp.org/tlog-proof@v1: header, optional extra, index, hashes, blank line, checkpoint."""
    lines = data.split("\n")
    if lines[0] != "c2sp.org/tlog-proof@v1":
        raise Reject("not a c2sp.org/tlog-proof@v1 file")
    i = 1
    if lines[i].startswith("extra "):
        b64(lines[i][len("extra ") :])
        i += 1
    if not lines[i].startswith("index "):
        raise Reject("no index line")
    index = lines[i][len("index ") :]
    if not index.isascii() or not index.isdigit() or (index != "0" and index.startswith("0")):
        raise Reject(f"bad index {index!r}")
    i += 1
    proof = []
    while lines[i] != "":
        h = b64(lines[i])
        if len(h) != 32:
            raise Reject("proof hash is not 32 bytes")
        proof.append(h)
        i += 1
    return int(index), proof, "\n".join(lines[i + 1 :])


def main(argv):
    if len(argv) not in (3, 5):
        print(__doc__, file=sys.stderr)
        return 1
    try:
        vkey = parse_vkey(argv[1])
        with open(argv[2], encoding="utf-8") as f:
            text = open_note(f.read(), vkey)
        print(f"OK note signed by {vkey[0]}")
        origin, size, _ = parse_checkpoint(text)
        print(f"OK checkpoint {origin} size {size}")
        if len(argv) == 5:
            leaf = bytes.fromhex(argv[3])
            if len(leaf) != 32:
                raise Reject("leaf hash is not 32 bytes")
            with open(argv[4], encoding="utf-8") as f:
                index, proof, note = parse_tlog_proof(f.read())
            origin, size, root = parse_checkpoint(open_note(note, vkey))
            verify_inclusion(leaf, index, size, proof, root)
            print(f"OK leaf {leaf.hex()} is entry {index} of {origin} size {size}")
    except (Reject, ValueError, IndexError, OSError, UnicodeDecodeError) as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
