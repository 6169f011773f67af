#!/usr/bin/env python3
"""Make large benchmark PDFs (not committed): bench-10mb.pdf, bench-100mb.pdf.

Same shape as fixtures/pdf/bench-100k.pdf: one page with one large content
stream, one PAdES B-LT signature by citizen-an (RSA-2048, chain
root -> licensed-ca -> leaf in the CMS), revocation data in the DSS.

Usage: make-bench-pdfs.py OUTDIR [--pki DIR] [--only 10mb|100mb]
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _fixtures_module():
    spec = importlib.util.spec_from_file_location("make_fixtures", HERE / "make-fixtures.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--pki", type=Path, default=HERE.parent / "certs" / "test-pki")
    ap.add_argument("--only", choices=["10mb", "100mb"])
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
