#!/usr/bin/env python3
"""Cross-check the PDF rows of fixtures/expected.tsv with pyHanko.

Runs scripts/pyhanko-validate.py on every PDF row and compares pyHanko's
EN 319 102-1 indication with the expected one. pyHanko's AdES processes do
not judge later incremental updates, so for TOTAL_FAILED/FORMAT_FAILURE rows
(a disallowed update after the signature) the check is pyHanko's diff
analysis instead: bottom_line false with modification level OTHER.
CMS rows are skipped (scripts/make-cms-fixtures.sh checks them with openssl).

Usage: check-fixtures.py   (exit 0 when everything agrees)
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKI = ROOT / "certs" / "test-pki"
AT = "2026-11-22T12:00:00Z"
NAMES = {"PASSED": "TOTAL_PASSED", "FAILED": "TOTAL_FAILED", "INDETERMINATE": "INDETERMINATE"}


def main() -> int:
    bad = 0
    n = 0
    for line in (ROOT / "fixtures" / "expected.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        f, _which, anchor, extra, ind, sub = line.split("\t")
        if not f.startswith("pdf/"):
            continue
        gov = anchor.startswith("gov")
        crls = ["gov-root.crl", "gov-ca.crl"] if gov else ["root-ca.crl", "licensed-ca.crl"]
        cmd = [sys.executable, str(ROOT / "scripts" / "pyhanko-validate.py"),
               str(ROOT / "fixtures" / f), "--trust", str(PKI / anchor), "--at", AT]
        for c in crls:
            cmd += ["--crl", str(PKI / c)]
        if extra != "-":
            cmd += ["--other", str(PKI / extra)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        res = json.loads(p.stdout)
        for s in res["signatures"]:
            if s.get("process") == "doc-timestamp":
                ok = s["indication"] == "PASSED"
                got = f"doc-timestamp {s['indication']}"
            elif sub == "FORMAT_FAILURE":
                c = s.get("classic", {})
                ok = c.get("bottom_line") is False and c.get("modification_level") == "OTHER"
                got = f"bottom_line={c.get('bottom_line')} modification={c.get('modification_level')}"
            else:
                got_ind = NAMES.get(s["indication"], s["indication"])
                got_sub = "-" if s["subindication"] == "OK" else s["subindication"]
                ok = (got_ind, got_sub) == (ind, sub)
                got = f"{got_ind}/{got_sub}"
            n += 1
            bad += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {f} [{anchor}{'+' + extra if extra != '-' else ''}] "
                  f"{s['field'][:20]}: expected {ind}/{sub}, pyHanko {got}")
    print(f"{n - bad} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
