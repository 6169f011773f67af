#!/usr/bin/env python3
"""Make large benchmark PDFs (not committed): bench-10mb.pdf, bench-100mb.pdf, bench-100p-5sig.pdf.

bench-10mb / bench-100mb: same shape as fixtures/pdf/bench-100k.pdf: one page
with one large content stream, one PAdES B-LT signature by citizen-an
(RSA-2048, chain root -> licensed-ca -> leaf in the CMS), revocation data in
the DSS.

bench-100p-5sig: 100 text pages (one content stream each, distinct text,
~3 KB per page, classic xref), then the five sequential B-B approval
signatures of fixtures/pdf/bench-5sig.pdf (citizen-an, director-mst,
ecdsa-binh, pss-cuong with RSASSA-PSS, citizen-an; new fields
Signature1..5): 6 revisions. Validate with the reference CRLs (no DSS).
Claimed signing time and pyHanko's metadata clock are pinned to
2026-11-22T08:01:00Z: from the ECDSA signature on (PDF 2.0, XMP metadata)
pyHanko rewrites /Info and the XMP stream in every revision, with the same
bytes only while the signing stays within one second, so without the pin the
document would differ from run to run.

Usage: make-bench-pdfs.py OUTDIR [--pki DIR] [--only 10mb|100mb|100p-5sig]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import sys
from contextlib import contextmanager
from pathlib import Path

from pyhanko.pdf_utils.metadata import info as _meta_info
from pyhanko.pdf_utils.metadata import xmp_xml as _meta_xmp

HERE = Path(__file__).resolve().parent


def _fixtures_module():
    spec = importlib.util.spec_from_file_location("make_fixtures", HERE / "make-fixtures.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


BENCH_TIME = _dt.datetime(2026, 11, 22, 8, 1, 0, tzinfo=_dt.timezone.utc)


@contextmanager
def fixed_metadata_time(when: _dt.datetime):
    """Make pyHanko write `when` as /ModDate in /Info and the XMP metadata."""

    class _Any(type):
        # the modules also test isinstance(x, datetime) on real datetimes
        def __instancecheck__(cls, obj):
            return isinstance(obj, _dt.datetime)

    class _Fixed(_dt.datetime, metaclass=_Any):
        @classmethod
        def now(cls, tz=None):
            return when.astimezone(tz) if tz else when

    saved = _meta_info.datetime, _meta_xmp.datetime
    _meta_info.datetime = _meta_xmp.datetime = _Fixed
    try:
        yield
    finally:
        _meta_info.datetime, _meta_xmp.datetime = saved


def many_pages_pdf(pages: int = 100, lines_per_page: int = 40) -> bytes:
    """A hand-written PDF of `pages` text pages, each with its own content stream (~3 KB)."""
    objs: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # 2: Pages, filled in below
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Title (antin benchmark: 100 pages) /Producer (antin make-bench-pdfs.py) >>",
    ]
    kids = []
    for p in range(1, pages + 1):
        ops = [b"BT /F1 10 Tf 56 790 Td 12 TL",
               b"(antin benchmark document - page %d of %d) '" % (p, pages)]
        for ln in range(1, lines_per_page + 1):
            # Distinct on every page and line: page, line and a per-line checksum.
            ops.append(
                b"(Trang %03d dong %02d: noi dung thu nghiem, ma so %08X, khong phai van ban that.) '"
                % (p, ln, (p * 7919 + ln * 104729) & 0xFFFFFFFF)
            )
        ops.append(b"ET")
        content = b"\n".join(ops) + b"\n"
        objs.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream")
        content_num = len(objs)
        objs.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % content_num
        )
        kids.append(len(objs))
    objs[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), pages)
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += (
        b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R "
        b"/ID [<616e74696e2d62656e63682d313030> <616e74696e2d62656e63682d313030>] >>\n"
        b"startxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    )
    return bytes(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--pki", type=Path, default=HERE.parent / "certs" / "test-pki")
    ap.add_argument("--only", choices=["10mb", "100mb", "100p-5sig"])
    a = ap.parse_args()
    mf = _fixtures_module()
    pki = mf.Pki(a.pki)
    a.outdir.mkdir(parents=True, exist_ok=True)
    an = pki.signer("citizen-an", ["licensed-ca", "root-ca"])
    sizes = {"10mb": 10 * 1024 * 1024, "100mb": 100 * 1024 * 1024}
    for label, size in sizes.items():
        if a.only and a.only != label:
            continue
        src = mf.minimal_pdf(mf.BODY_LINES, pad_to=size)
        data = mf.sign(src, an, timestamper=pki.timestamper(), vc=pki.validation_context())
        out = a.outdir / f"bench-{label}.pdf"
        out.write_bytes(data)
        print(f"{out} {len(data)} bytes", file=sys.stderr)
    if not a.only or a.only == "100p-5sig":
        with mf.fixed_system_time(BENCH_TIME), fixed_metadata_time(BENCH_TIME):
            data = mf.five_signatures(pki, many_pages_pdf())
        out = a.outdir / "bench-100p-5sig.pdf"
        out.write_bytes(data)
        print(f"{out} {len(data)} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
