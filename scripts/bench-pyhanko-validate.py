#!/usr/bin/env python3
"""Time pyHanko validating every signature of a PDF, N times in one interpreter.

Interpreter start-up and imports are excluded: the script imports everything,
does one untimed warm-up run, then times N runs. Each run opens and parses the
file again and validates every signature and document timestamp with
scripts/pyhanko-validate.py's validate() (the same code and settings as the
interoperability tests): trust anchor certs/test-pki/root-ca.pem, offline,
revocation required, revocation data from the PDF's DSS plus root-ca.crl and
licensed-ca.crl. By default only the EN 319 102-1 (AdES) pass runs, as in
scripts/bench-peers.py; --classic adds pyHanko's classic pass per signature
(integrity, trust, revocation again, and the difference analysis of later
revisions). A run whose signatures do not all pass aborts the benchmark.

Prints one line per run (milliseconds) and the median.

Usage: bench-pyhanko-validate.py FILE N [--at 2026-11-22T12:00:00Z] [--classic] [--json]
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PKI = HERE.parent / "certs" / "test-pki"


def _validator():
    spec = importlib.util.spec_from_file_location("pyhanko_validate", HERE / "pyhanko-validate.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("n", type=int)
    ap.add_argument(
        "--at",
        type=lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00")),
        help="validation time (ISO 8601); default: now",
    )
    ap.add_argument("--classic", action="store_true", help="also run the classic pass")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON line too")
    a = ap.parse_args()
    if a.n < 1:
        ap.error("N must be at least 1")

    mod = _validator()
    if not a.classic:
        async def _skip(*_a, **_k):
            return None

        mod.classic_status = _skip
    args = argparse.Namespace(
        file=a.file,
        trust=[str(PKI / "root-ca.pem")],
        other=[],
        crl=[str(PKI / "root-ca.crl"), str(PKI / "licensed-ca.crl")],
        ocsp=[],
        at=a.at or dt.datetime.now(dt.timezone.utc),
    )

    def once() -> dict:
        res = asyncio.run(mod.validate(args))
        if not res["ok"]:
            raise SystemExit(f"pyHanko did not pass {a.file}: {json.dumps(res, default=str)}")
        return res

    first = once()  # warm-up (lazy imports, caches), not timed
    n_sigs = len(first["signatures"])
    runs = []
    for i in range(a.n):
        t0 = time.perf_counter()
        once()
        ms = (time.perf_counter() - t0) * 1000
        runs.append(ms)
        print(f"run {i + 1}: {ms:.1f} ms")
    med = statistics.median(runs)
    mode = "AdES + classic" if a.classic else "AdES"
    print(
        f"median: {med:.1f} ms over {a.n} runs ({Path(a.file).name}, {n_sigs} signatures, "
        f"{mode}, min {min(runs):.1f}, max {max(runs):.1f})"
    )
    if a.json:
        print(json.dumps({
            "file": a.file, "signatures": n_sigs, "mode": mode, "runs_ms": runs,
            "median_ms": med, "validation_time": args.at.isoformat(),
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
