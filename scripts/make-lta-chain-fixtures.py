#!/usr/bin/env python3
"""Write the B-LTA chain fixtures: signed-lta-chain.pdf and signed-ts-order.pdf.

  certs/test-pki/tsa-long.pem/.key  (only if missing) a second TSA issued by
      root-ca with `openssl ca` (root-ca's database in ca/root-ca/), valid
      2025-01-01 .. 2044-01-01, so a document timestamp by it outlives the
      first TSA (tsa.pem, valid until 2036-01-01).
  certs/test-pki/root-ca-long.crl/.crl.pem  (only if missing) its revocation
      data: a full CRL by root-ca (nothing revoked), thisUpdate
      2026-11-22T10:00:00Z, nextUpdate 2044-01-01. root-ca.crl covers tsa-long
      too, but is stale after 2036-03-02 for the newest timestamp, which is
      validated at the validation time. See certs/test-pki/tsa-long.md.
  fixtures/pdf/signed-lta-chain.pdf
      fixtures/pdf/signed-lta.pdf (4 revisions: signature with timestamp,
      DSS, document timestamp by tsa, DSS for tsa) plus
        5. a DSS update with the validation data of that document timestamp
           (its TSA chain and revocation, add_validation_info),
        6. a second document timestamp by tsa-long at 2026-11-22T11:00:00Z,
        7. a DSS update for tsa-long (its chain and root-ca-long.crl).
      At 2040-06-01 (every certificate but root-ca and tsa-long expired) the
      second timestamp is the proof of existence for everything before it.
  fixtures/pdf/signed-ts-order.pdf
      B-T signature by citizen-an whose signature timestamp says
      2026-11-22T11:30:00Z, then a document timestamp (tsa) saying
      2026-11-22T09:00:00Z: the document timestamp covers a signature
      timestamp that is later than itself (impossible order).

Offline: timestamps come from DummyTimeStamper with fixed times, validation
data from certs/test-pki/ preloaded into ValidationContexts with fetching
disabled. Rows: fixtures/lta.tsv; description: fixtures/lta.md.

Usage: make-lta-chain-fixtures.py [--pki DIR] [--out DIR]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation import add_validation_info
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
UTC = _dt.timezone.utc

# Times (all 2026-11-22, the day of the committed fixtures, made ~08:01Z).
DSS1_AT = _dt.datetime(2026, 11, 22, 10, 30, 0, tzinfo=UTC)   # vc moment for revision 5
TS2_AT = _dt.datetime(2026, 11, 22, 11, 0, 0, tzinfo=UTC)     # tsa-long document timestamp
ORDER_SIG_TS = _dt.datetime(2026, 11, 22, 11, 30, 0, tzinfo=UTC)
ORDER_SIG_M = _dt.datetime(2026, 11, 22, 11, 29, 0, tzinfo=UTC)
ORDER_DOC_TS = _dt.datetime(2026, 11, 22, 9, 0, 0, tzinfo=UTC)

TSA_LONG_SUBJECT = "/C=VN/O=Antin Test/CN=Antin Test Long-Term TSA"
TSA_LONG_EXT = """\
[ v3_tsa_long ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = critical, timeStamping
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints  = URI:http://127.0.0.1:18089/crl/root-ca.crl
"""


def _fixtures_module():
    spec = importlib.util.spec_from_file_location("make_fixtures", HERE / "make-fixtures.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def run(cmd: list[str], cwd: Path, env: dict | None = None) -> None:
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)}")


def ensure_tsa_long(pki: Path) -> None:
    """Issue tsa-long (root-ca, serial from root-ca's openssl ca database) if missing."""
    pem, key = pki / "tsa-long.pem", pki / "tsa-long.key"
    if pem.exists() and key.exists():
        return
    env = dict(os.environ, OPENSSL_CONF=str(pki / "openssl.cnf"), CADIR="ca/root-ca")
    with tempfile.TemporaryDirectory() as tmp:
        ext = Path(tmp) / "ext.cnf"
        ext.write_text(TSA_LONG_EXT)
        csr = Path(tmp) / "tsa-long.csr"
        run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
             "-out", str(key)], pki, env)
        run(["openssl", "req", "-new", "-utf8", "-key", str(key), "-subj", TSA_LONG_SUBJECT,
             "-out", str(csr)], pki, env)
        run(["openssl", "ca", "-batch", "-utf8", "-notext", "-preserveDN",
             "-cert", "root-ca.pem", "-keyfile", "root-ca.key", "-in", str(csr),
             "-out", str(pem), "-extfile", str(ext), "-extensions", "v3_tsa_long",
             "-startdate", "20250101000000Z", "-enddate", "20440101000000Z"], pki, env)
    # Self-check at the LTA validation time (2040-06-01), with the root CRL at 2026-11-22.
    run(["openssl", "verify", "-attime", str(int(_dt.datetime(2040, 6, 1, tzinfo=UTC).timestamp())),
         "-CAfile", "root-ca.pem", "-purpose", "timestampsign", "tsa-long.pem"], pki, env)
    run(["openssl", "verify", "-attime", str(int(TS2_AT.timestamp())), "-crl_check",
         "-CRLfile", "root-ca.crl.pem", "-CAfile", "root-ca.pem", "tsa-long.pem"], pki, env)
    print(f"issued {pem}", file=sys.stderr)


def ensure_root_long_crl(pki: Path) -> None:
    """root-ca-long.crl: a full CRL by root-ca, thisUpdate 2026-11-22T10:00Z, nextUpdate 2044-01-01.

    root-ca.crl also covers tsa-long, but its nextUpdate (2036-03-02) makes it stale for a
    validation at 2040 of the newest timestamp, which must be validated at the current time
    (pyHanko: "CRL is not recent enough"); the newest timestamp's TSA needs revocation data that is
    still current at the validation time.
    """
    der, pem = pki / "root-ca-long.crl", pki / "root-ca-long.crl.pem"
    if der.exists() and pem.exists():
        return
    env = dict(os.environ, OPENSSL_CONF=str(pki / "openssl.cnf"), CADIR="ca/root-ca")
    run(["openssl", "ca", "-batch", "-gencrl", "-cert", "root-ca.pem", "-keyfile", "root-ca.key",
         "-crlexts", "crl_ext", "-crl_lastupdate", "20261122100000Z",
         "-crl_nextupdate", "20440101000000Z", "-out", str(pem)], pki, env)
    run(["openssl", "crl", "-in", str(pem), "-outform", "DER", "-out", str(der)], pki, env)
    run(["openssl", "verify", "-attime", str(int(_dt.datetime(2040, 6, 1, tzinfo=UTC).timestamp())),
         "-crl_check", "-CRLfile", str(pem), "-CAfile", "root-ca.pem", "tsa-long.pem"], pki, env)
    print(f"issued {der}", file=sys.stderr)


def validation_context(
    pki: Path, moment: _dt.datetime, extra_certs=(), extra_crls=()
) -> ValidationContext:
    """make-fixtures.py's preloaded context (all CRLs and OCSP responses, no fetching), at `moment`."""
    cert = lambda n: load_cert_from_pemder(str(pki / f"{n}.pem"))  # noqa: E731
    crls = [(pki / f"{n}.crl").read_bytes() for n in ("root-ca", "licensed-ca", *extra_crls)]
    ocsps = [(pki / n).read_bytes() for n in sorted(x.name for x in pki.glob("*.ocsp"))]
    return ValidationContext(
        trust_roots=[cert("root-ca")],
        other_certs=[cert("licensed-ca"), cert("ocsp-responder"), *[cert(n) for n in extra_certs]],
        crls=crls,
        ocsps=ocsps,
        allow_fetching=False,
        revocation_mode="hard-fail",
        moment=moment,
    )


def timestamper(pki: Path, name: str, embed: list[str], fixed: _dt.datetime) -> DummyTimeStamper:
    return DummyTimeStamper(
        tsa_cert=load_cert_from_pemder(str(pki / f"{name}.pem")),
        tsa_key=load_private_key_from_pemder(str(pki / f"{name}.key"), None),
        certs_to_embed=SimpleCertificateStore.from_certs(
            [load_cert_from_pemder(str(pki / f"{n}.pem")) for n in embed]
        ),
        fixed_dt=fixed,
    )


def lta_chain(pki: Path, lta: bytes) -> bytes:
    # Revision 5: validation data for the first document timestamp (tsa).
    r = PdfFileReader(io.BytesIO(lta), strict=False)
    first_ts = r.embedded_timestamp_signatures[-1]
    vc1 = validation_context(pki, DSS1_AT)
    out = add_validation_info(first_ts, vc1, force_write=True)
    doc = out.getvalue()
    # Revisions 6 + 7: document timestamp by tsa-long, then its DSS update.
    vc2 = validation_context(pki, TS2_AT, extra_certs=["tsa-long"], extra_crls=["root-ca-long"])
    w = IncrementalPdfFileWriter(io.BytesIO(doc), strict=False)
    ts = signers.PdfTimeStamper(
        timestamper(pki, "tsa-long", ["root-ca"], TS2_AT), field_name="Timestamp2"
    )
    out = io.BytesIO()
    ts.timestamp_pdf(w, "sha256", validation_context=vc2, output=out)
    return out.getvalue()


def ts_order(mf, pki_dir: Path, unsigned: bytes) -> bytes:
    pki = mf.Pki(pki_dir)
    an = pki.signer("citizen-an", ["licensed-ca", "root-ca"])
    with mf.fixed_system_time(ORDER_SIG_M):
        signed = mf.sign(unsigned, an, timestamper=pki.timestamper(fixed=ORDER_SIG_TS))
    w = IncrementalPdfFileWriter(io.BytesIO(signed), strict=False)
    ts = signers.PdfTimeStamper(
        timestamper(pki_dir, "tsa", ["licensed-ca", "root-ca"], ORDER_DOC_TS),
        field_name="Timestamp1",
    )
    out = io.BytesIO()
    ts.timestamp_pdf(w, "sha256", output=out)
    return out.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pki", type=Path, default=ROOT / "certs" / "test-pki")
    ap.add_argument("--out", type=Path, default=ROOT / "fixtures" / "pdf")
    a = ap.parse_args()
    pki: Path = a.pki.resolve()
    mf = _fixtures_module()
    ensure_tsa_long(pki)
    ensure_root_long_crl(pki)

    def write(name: str, data: bytes) -> None:
        (a.out / name).write_bytes(data)
        print(f"{name:32} {len(data):8} bytes", file=sys.stderr)

    write("signed-lta-chain.pdf", lta_chain(pki, (a.out / "signed-lta.pdf").read_bytes()))
    write("signed-ts-order.pdf", ts_order(mf, pki, (a.out / "unsigned.pdf").read_bytes()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
