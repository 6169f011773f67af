#!/usr/bin/env python3
"""Sign a PDF with pyHanko (PAdES B-B, or B-T with --timestamp).

Used by antin's interoperability test at test time, so it must stay offline:
--timestamp uses pyHanko's local DummyTimeStamper signing with the test TSA
(certs/test-pki/tsa.pem/.key), never a network TSA.

Usage:
  pyhanko-sign.py IN OUT --key K --cert C [--chain PEM] [--timestamp]
                  [--field NAME] [--md sha256] [--pss] [--pkcs7] [--tsa-dir DIR]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pyhanko.keys import load_cert_from_pemder, load_certs_from_pemder, load_private_key_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

DEFAULT_TSA_DIR = Path(__file__).resolve().parent.parent / "certs" / "test-pki"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--key", required=True, help="PKCS#8 PEM/DER private key (unencrypted)")
    ap.add_argument("--cert", required=True, help="signer certificate")
    ap.add_argument("--chain", help="PEM bundle of extra certificates to embed")
    ap.add_argument("--timestamp", action="store_true", help="add a signature timestamp (test TSA)")
    ap.add_argument("--field", default=None, help="signature field name (created if absent)")
    ap.add_argument("--md", default="sha256")
    ap.add_argument("--pss", action="store_true", help="RSASSA-PSS for RSA keys")
    ap.add_argument("--pkcs7", action="store_true", help="SubFilter adbe.pkcs7.detached")
    ap.add_argument("--tsa-dir", type=Path, default=DEFAULT_TSA_DIR)
    a = ap.parse_args()

    signer = signers.SimpleSigner.load(
        a.key, a.cert, ca_chain_files=[a.chain] if a.chain else None, prefer_pss=a.pss
    )
    timestamper = None
    if a.timestamp:
        extra = load_certs_from_pemder([str(a.tsa_dir / "chain-licensed.pem")])
        timestamper = DummyTimeStamper(
            tsa_cert=load_cert_from_pemder(str(a.tsa_dir / "tsa.pem")),
            tsa_key=load_private_key_from_pemder(str(a.tsa_dir / "tsa.key"), None),
            certs_to_embed=SimpleCertificateStore.from_certs(list(extra)),
        )
    with open(a.input, "rb") as inf:
        w = IncrementalPdfFileWriter(inf, strict=False)
        field = a.field
        if field is None:
            # A fresh name so that signing an already signed file adds a revision.
            existing = {s.field_name for s in w.prev.embedded_signatures}
            n = 1
            while f"Signature{n}" in existing:
                n += 1
            field = f"Signature{n}"
        meta = signers.PdfSignatureMetadata(
            field_name=field,
            md_algorithm=a.md,
            subfilter=SigSeedSubFilter.ADOBE_PKCS7_DETACHED if a.pkcs7 else SigSeedSubFilter.PADES,
            signer_key_usage=set(),
        )
        with open(a.output, "wb") as outf:
            signers.PdfSigner(meta, signer, timestamper=timestamper).sign_pdf(w, output=outf)
    return 0


if __name__ == "__main__":
    sys.exit(main())
