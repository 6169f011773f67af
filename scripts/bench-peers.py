#!/usr/bin/env python3
"""Time the benchmark documents through antin's CLI, pyHanko and pdfsig (docs/benchmarks.md).

Same conditions as benches/verify.rs: trust anchor root-ca.pem, validation time
2026-11-22T12:00:00Z, offline, revocation data from the DSS (plus root-ca.crl and
licensed-ca.crl, needed by bench-5sig.pdf, which has no DSS).

  pyHanko in-process : the AdES validation of scripts/pyhanko-validate.py (one pass per
                       signature; its second "classic" pass is skipped unless --classic),
                       repeated N times in one interpreter after one warm-up run
  pyHanko process    : `python3 bench-peers.py --once DOC`, i.e. interpreter start-up and
                       imports included
  pdfsig process     : `pdfsig -nocert DOC` (signature and digest only, no path validation)
  antin process      : `antin verify DOC --offline ...` (the release binary), start-up included

Run pinned to one core (children inherit the affinity):

  taskset -c 1 python3 scripts/bench-peers.py --antin /work/target-bench/release/antin \
      --big /tmp/antin-bench

Prints a Markdown table (ms per document, median and minimum of the runs) and, with --json,
the raw figures.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PKI = ROOT / "certs" / "test-pki"
AT = "2026-11-22T12:00:00Z"
TRUST = [str(PKI / "root-ca.pem")]
CRLS = [str(PKI / "root-ca.crl"), str(PKI / "licensed-ca.crl")]


def _validator():
    spec = importlib.util.spec_from_file_location("pyhanko_validate", HERE / "pyhanko-validate.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def _args(doc: str) -> argparse.Namespace:
    return argparse.Namespace(
        file=doc, trust=TRUST, other=[], crl=CRLS, ocsp=[],
        at=dt.datetime.fromisoformat(AT.replace("Z", "+00:00")),
    )


def pyhanko_once(mod, doc: str) -> dict:
    res = asyncio.run(mod.validate(_args(doc)))
    if not res["ok"]:
        raise SystemExit(f"pyHanko did not pass {doc}: {json.dumps(res, default=str)}")
    return res


def pyhanko_inprocess(doc: str, n: int, classic: bool) -> list[float]:
    mod = _validator()
    if not classic:
        async def _skip(*_a, **_k):
            return None
        mod.classic_status = _skip
    pyhanko_once(mod, doc)  # warm-up: imports, caches
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        pyhanko_once(mod, doc)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def process_times(cmd: list[str], n: int, ok_codes=(0,)) -> list[float]:
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # warm the cache
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.append((time.perf_counter() - t0) * 1000)
        if p.returncode not in ok_codes:
            raise SystemExit(f"{' '.join(cmd)}: exit {p.returncode}")
    return out


def pdfsig_ok(doc: str) -> None:
    out = subprocess.run(["pdfsig", "-nocert", doc], capture_output=True, text=True).stdout
    n_sig = out.count("Signature #")
    n_ok = out.count("Signature Validation: Signature is Valid.")
    if n_sig == 0 or n_ok != n_sig:
        raise SystemExit(f"pdfsig did not validate {doc}:\n{out}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--once", metavar="DOC", help="validate DOC once with pyHanko and exit")
    ap.add_argument("--antin", help="path to the release antin binary (skip antin if absent)")
    ap.add_argument("--big", type=Path, help="directory with bench-10mb.pdf / bench-100mb.pdf")
    ap.add_argument("--n", type=int, default=20, help="runs per document (small files)")
    ap.add_argument("--n-big", type=int, default=5, help="runs per document over 5 MB")
    ap.add_argument("--classic", action="store_true",
                    help="also run pyhanko-validate.py's second, 'classic' pass")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    if a.once:
        mod = _validator()
        if not a.classic:
            async def _skip(*_x, **_k):
                return None
            mod.classic_status = _skip
        pyhanko_once(mod, a.once)
        return 0

    docs = [str(ROOT / "fixtures/pdf/bench-100k.pdf"), str(ROOT / "fixtures/pdf/bench-5sig.pdf")]
    if a.big:
        docs += [str(a.big / f) for f in ("bench-10mb.pdf", "bench-100mb.pdf") if (a.big / f).exists()]
    baseline = str(ROOT / "fixtures/pdf/unsigned.pdf")  # per-process start-up, no signature
    antin = a.antin if a.antin and Path(a.antin).exists() else None
    have_pdfsig = shutil.which("pdfsig") is not None

    rows = []
    for doc in [baseline] + docs:
        size = Path(doc).stat().st_size
        n = a.n_big if size > 5_000_000 else a.n
        signed = doc != baseline
        row = {"doc": Path(doc).name, "bytes": size}
        if antin:
            cmd = [antin, "verify", doc, "--offline", "--at", AT, "--trust", TRUST[0]]
            for c in CRLS:
                cmd += ["--crl", c]
            row["antin_process"] = process_times(cmd, n, ok_codes=(0,) if signed else (3,))
        if signed:
            row["pyhanko_inprocess"] = pyhanko_inprocess(doc, n, a.classic)
        once = [sys.executable, str(Path(__file__).resolve()), "--once", doc]
        if a.classic:
            once.append("--classic")
        row["pyhanko_process"] = (
            process_times(once, n) if signed
            else process_times([sys.executable, "-c", "import pyhanko.sign.validation.ades"], n)
        )
        if have_pdfsig:
            if signed:
                pdfsig_ok(doc)
            # pdfsig exits 2 for a file without signatures
            row["pdfsig_process"] = process_times(["pdfsig", "-nocert", doc], n,
                                                  ok_codes=(0,) if signed else (0, 2))
        rows.append(row)
        print(f"done {row['doc']}", file=sys.stderr)

    cols = ["antin_process", "pyhanko_inprocess", "pyhanko_process", "pdfsig_process"]
    print("| document | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for r in rows:
        cells = [
            f"{statistics.median(r[c]):.2f} ({min(r[c]):.2f})" if c in r else "—" for c in cols
        ]
        print(f"| {r['doc']} | " + " | ".join(cells) + " |")
    print("\nmilliseconds per document, median (minimum) of the runs; unsigned.pdf = process "
          "start-up (pyHanko: interpreter + imports)")
    if a.json:
        print(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
