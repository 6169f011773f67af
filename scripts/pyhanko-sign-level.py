#!/usr/bin/env python3
"""Sign a PDF with pyHanko at a given PAdES baseline level (B-B, B-T, B-LT, B-LTA).

Used by tests/interop_levels.rs at test time, so it stays offline: it reuses
scripts/make-fixtures.py's helpers, i.e. timestamps from pyHanko's local
DummyTimeStamper with the test TSA (certs/test-pki/tsa.pem/.key) and DSS data
from the test PKI's CRLs and OCSP responses preloaded in a ValidationContext
with fetching disabled.

  B-B    signature only (citizen-an, chain licensed-ca + root-ca in the CMS)
  B-T    plus a signature timestamp
  B-LT   plus a DSS revision (certificates, CRLs, OCSP responses)
  B-LTA  plus a document timestamp and a DSS update for its TSA

Usage: pyhanko-sign-level.py IN OUT --level B-B|B-T|B-LT|B-LTA
                             [--signer NAME] [--field NAME] [--pki DIR]
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")


def _fixtures_module():
    spec = importlib.util.spec_from_file_location("make_fixtures", HERE / "make-fixtures.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def sign_level(mf, pki, src: bytes, level: str, signer: str, field: str) -> bytes:
    s = pki.signer(signer, ["licensed-ca", "root-ca"], pss=signer == "pss-cuong")
    kw: dict = {"field": field}
    if level != "B-B":
        kw["timestamper"] = pki.timestamper()
    if level in ("B-LT", "B-LTA"):
        kw["vc"] = pki.validation_context()
    if level == "B-LTA":
        kw["lta"] = True
    return mf.sign(src, s, **kw)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("--level", required=True, choices=LEVELS)
    ap.add_argument("--signer", default="citizen-an", help="NAME in certs/test-pki (NAME.pem/.key)")
    ap.add_argument("--field", default="Signature1")
    ap.add_argument("--pki", type=Path, default=HERE.parent / "certs" / "test-pki")
    a = ap.parse_args()
    mf = _fixtures_module()
    pki = mf.Pki(a.pki)
    out = sign_level(mf, pki, a.input.read_bytes(), a.level, a.signer, a.field)
    a.output.write_bytes(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
