#!/usr/bin/env python3
"""Time pyHanko signing a PDF (PAdES B-B, RSA-2048 file key), N times in one interpreter.

The peer figure for `cargo bench --bench sign` (docs/benchmarks.md): the same 100 KB document,
the same test key (certs/test-pki/citizen-an), SHA-256, PKCS#1 v1.5 or PSS (--pss). Interpreter
start-up and imports are excluded; one untimed warm-up run. Prints the median in milliseconds and
the signatures per second.

Usage: bench-pyhanko-sign.py FILE N [--pss]
"""
from __future__ import annotations

import argparse
import io
import statistics
import time
from pathlib import Path

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter

PKI = Path(__file__).resolve().parent.parent / "certs" / "test-pki"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("n", type=int)
    ap.add_argument("--pss", action="store_true")
    a = ap.parse_args()
    data = Path(a.file).read_bytes()
    signer = signers.SimpleSigner.load(
        str(PKI / "citizen-an.key"),
        str(PKI / "citizen-an.pem"),
        ca_chain_files=[str(PKI / "licensed-ca.pem"), str(PKI / "root-ca.pem")],
        prefer_pss=a.pss,
    )
    meta = signers.PdfSignatureMetadata(
        field_name="Bench", md_algorithm="sha256", subfilter=SigSeedSubFilter.PADES
    )

    def once() -> None:
        w = IncrementalPdfFileWriter(io.BytesIO(data))
        signers.sign_pdf(w, meta, signer=signer)

    once()
    times = []
    for _ in range(a.n):
        t = time.perf_counter()
        once()
        times.append((time.perf_counter() - t) * 1000)
    med = statistics.median(times)
    print(f"median {med:.2f} ms ({1000 / med:.0f} signatures/s), {a.n} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
