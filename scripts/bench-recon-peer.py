#!/usr/bin/env python3
"""The peer beside `benches/recon.rs`: the same inputs through pandas and the `mt-940` package.

What a finance team's analyst would otherwise write: pandas `read_csv` of the VNPAY settlement
file and of the ledger, an outer `merge` on our reference, and the same four checks (missing at
the gateway, missing in the ledger, amount mismatch, duplicate); the MT940 statement through
`mt-940` (the most used Python MT940 parser). It is less work than antin's engine (no VietQR memo
leg, no payout leg, no date rules, no explanations), so it flatters the peer.

    ANTIN_BENCH_KEEP_FILES=1 target/release/deps/recon-<hash>    # prints "kept the inputs in DIR"
    pip install pandas mt-940
    taskset -c 1 python3 scripts/bench-recon-peer.py DIR
"""

import resource
import sys
import time
from pathlib import Path


def peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 64
    d = Path(sys.argv[1])
    import pandas as pd

    t = time.perf_counter()
    g = pd.read_csv(
        d / "vnpay.csv",
        encoding="utf-8-sig",
        dtype={"TxnRef": str, "TransactionNo": str, "OrderInfo": str, "STT": str},
    )
    g = g[g["STT"] != "TOTAL"]
    csv_t = time.perf_counter() - t
    t = time.perf_counter()
    ledger = pd.read_csv(d / "ledger.csv", dtype={"id": str, "our_ref": str, "gateway_txn": str})
    ledger = ledger[ledger["gateway"] == "vnpay"]
    ledger_t = time.perf_counter() - t

    t = time.perf_counter()
    dup = g.duplicated(subset=["TransactionNo"], keep="first")
    duplicates = int(dup.sum())
    g1 = g[~dup]
    m = ledger.merge(g1, how="outer", left_on="our_ref", right_on="TxnRef", indicator=True)
    missing_at_gateway = int((m["_merge"] == "left_only").sum())
    missing_in_ledger = int((m["_merge"] == "right_only").sum())
    both = m[m["_merge"] == "both"]
    amount_mismatch = int((both["amount"] != both["Amount"].astype("int64")).sum())
    match_t = time.perf_counter() - t

    mt_t = None
    mt_rows = 0
    try:
        import mt940

        t = time.perf_counter()
        for stmt in mt940.parse(str(d / "stmt.mt940")):
            mt_rows += 1
        mt_t = time.perf_counter() - t
    except ImportError:
        pass

    print(f"pandas {pd.__version__}: {len(g)} gateway rows, {len(ledger)} VNPAY ledger rows")
    print(f"  read_csv vnpay  : {csv_t * 1e3:8.0f} ms {len(g) / csv_t:10.0f} rows/s")
    print(f"  read_csv ledger : {ledger_t * 1e3:8.0f} ms")
    print(
        f"  merge + checks  : {match_t * 1e3:8.0f} ms (missing at gateway {missing_at_gateway}, "
        f"missing in ledger {missing_in_ledger}, amount mismatch {amount_mismatch}, "
        f"duplicate {duplicates})"
    )
    if mt_t is not None:
        print(f"  mt-940 parse    : {mt_t * 1e3:8.0f} ms {mt_rows / mt_t:10.0f} entries/s")
    print(f"  peak memory     : {peak_mb()} MB (ru_maxrss)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
