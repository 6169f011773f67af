#!/usr/bin/env python3
"""Write antin's signed PDF fixtures (fixtures/pdf/) from the test PKI.

Needs Python 3.11 and the packages pinned in scripts/requirements.txt
(pyHanko). Uses only certs/test-pki/ (run scripts/make-test-pki.sh first)
and never touches the network: revocation data for the B-LT/B-LTA fixtures
comes from the CRLs and OCSP responses preloaded in a ValidationContext with
fetching disabled, and timestamps come from pyHanko's local DummyTimeStamper
signing with the test TSA key.

Usage: scripts/make-fixtures.py [--pki DIR] [--out DIR]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import io
import sys
from contextlib import contextmanager
from pathlib import Path

from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.ades.api import CAdESSignedAttrSpec
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.sign.signers import pdf_signer as _pdf_signer_mod
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

ROOT = Path(__file__).resolve().parent.parent
UTC = _dt.timezone.utc

# Marker inside the page content stream; the tampered fixture flips a byte
# in it, so it must stay inside the first signed byte range.
CONTENT_MARKER = b"ANTIN-TEST-CONTENT"


# --------------------------------------------------------------------------
# A minimal PDF, written by hand (no pyHanko involved): one page, one font,
# one uncompressed content stream, classic xref table, no AcroForm.
# --------------------------------------------------------------------------
def minimal_pdf(lines: list[str], pad_to: int = 0) -> bytes:
    ops = [b"BT /F1 12 Tf 72 760 Td 14 TL"]
    for ln in lines:
        esc = ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(b"(" + esc.encode("ascii") + b") '")
    ops.append(b"ET")
    content = b"\n".join(ops) + b"\n"
    if pad_to:
        # Filler drawn in white far off the page so the stream is large but
        # the page looks the same; every line is distinct (no trivial
        # compression tricks in readers).
        filler = []
        n = 0
        size = len(content)
        while size < pad_to:
            row = b"1 1 1 rg %d %d 1 1 re f %% filler row %08d\n" % (
                -1000 - n % 97, -1000 - n % 89, n)
            filler.append(row)
            size += len(row)
            n += 1
        content += b"q\n" + b"".join(filler) + b"Q\n"
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
        b"/Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream",
        b"<< /Title (antin test fixture) /Producer (antin make-fixtures.py) >>",
    ]
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
        b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R "
        b"/ID [<616e74696e2d746573742d666978747572> "
        b"<616e74696e2d746573742d666978747572>] >>\n"
        b"startxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    )
    return bytes(out)


BODY_LINES = [
    "antin test fixture - " + CONTENT_MARKER.decode(),
    "Don de nghi cap ban sao trich luc (test document, not a real request).",
    "Ho ten: Nguyen Van An - CCCD 001099012345",
    "This page is signed by fixtures generated from certs/test-pki.",
]


# --------------------------------------------------------------------------
# Test PKI access
# --------------------------------------------------------------------------
class Pki:
    def __init__(self, d: Path):
        self.d = d

    def p(self, name: str) -> Path:
        return self.d / name

    def cert(self, name: str):
        return load_cert_from_pemder(str(self.p(name + ".pem")))

    def signer(self, name: str, chain: list[str], pss: bool = False):
        return signers.SimpleSigner.load(
            str(self.p(name + ".key")),
            str(self.p(name + ".pem")),
            ca_chain_files=[str(self.p(c + ".pem")) for c in chain],
            prefer_pss=pss,
        )

    def timestamper(self, fixed: _dt.datetime | None = None):
        return DummyTimeStamper(
            tsa_cert=self.cert("tsa"),
            tsa_key=load_private_key_from_pemder(str(self.p("tsa.key")), None),
            certs_to_embed=SimpleCertificateStore.from_certs(
                [self.cert("licensed-ca"), self.cert("root-ca")]
            ),
            fixed_dt=fixed,
        )

    def validation_context(self) -> ValidationContext:
        crls = [self.p(n + ".crl").read_bytes() for n in ("root-ca", "licensed-ca")]
        ocsps = [
            self.p(n).read_bytes()
            for n in sorted(x.name for x in self.d.glob("*.ocsp"))
        ]
        return ValidationContext(
            trust_roots=[self.cert("root-ca")],
            other_certs=[self.cert("licensed-ca"), self.cert("ocsp-responder")],
            crls=crls,
            ocsps=ocsps,
            allow_fetching=False,
            revocation_mode="hard-fail",
        )


@contextmanager
def fixed_system_time(when: _dt.datetime):
    """Make pyHanko write `when` as the signature's /M (claimed signing time)."""

    class _Fixed(_dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return when.astimezone(tz) if tz else when

    saved = _pdf_signer_mod.datetime
    _pdf_signer_mod.datetime = _Fixed
    try:
        yield
    finally:
        _pdf_signer_mod.datetime = saved


def sign(
    src: bytes,
    signer,
    field: str = "Signature1",
    md: str = "sha256",
    subfilter: SigSeedSubFilter = SigSeedSubFilter.PADES,
    certify: bool = False,
    timestamper=None,
    vc: ValidationContext | None = None,
    lta: bool = False,
    name: str | None = None,
    content_ts: bool = False,
) -> bytes:
    meta = signers.PdfSignatureMetadata(
        field_name=field,
        md_algorithm=md,
        subfilter=subfilter,
        certify=certify,
        docmdp_permissions=MDPPerm.FILL_FORMS,
        embed_validation_info=vc is not None,
        validation_context=vc,
        use_pades_lta=lta,
        reason="antin test fixture",
        location="Hà Nội",
        name=name,
        # wrong-ku must still be signable: key usage is the verifier's job.
        signer_key_usage=set(),
        cades_signed_attr_spec=(
            CAdESSignedAttrSpec(timestamp_content=True) if content_ts else None
        ),
    )
    w = IncrementalPdfFileWriter(io.BytesIO(src), strict=False)
    pdf_signer = signers.PdfSigner(meta, signer, timestamper=timestamper)
    out = io.BytesIO()
    pdf_signer.sign_pdf(w, output=out)
    return out.getvalue()


def append_content_change(signed: bytes) -> bytes:
    """Incremental update after the signature that replaces the page content."""
    w = IncrementalPdfFileWriter(io.BytesIO(signed))
    page_ref = w.root["/Pages"].raw_get("/Kids")[0]
    page = page_ref.get_object()
    new = generic.StreamObject(
        stream_data=b"BT /F1 24 Tf 72 700 Td (CHANGED AFTER SIGNING) Tj ET\n"
    )
    page["/Contents"] = w.add_object(new)
    w.update_container(page)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def tamper(signed: bytes) -> bytes:
    """Flip one byte inside the signed page content stream."""
    i = signed.index(CONTENT_MARKER)
    b = bytearray(signed)
    b[i + 6] ^= 0x01  # 'T' of TEST -> 'U'
    return bytes(b)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pki", type=Path, default=ROOT / "certs" / "test-pki")
    ap.add_argument("--out", type=Path, default=ROOT / "fixtures" / "pdf")
    args = ap.parse_args()
    pki = Pki(args.pki)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    def write(name: str, data: bytes) -> bytes:
        (out / name).write_bytes(data)
        print(f"{name:32} {len(data):8} bytes", file=sys.stderr)
        return data

    LIC = ["licensed-ca", "root-ca"]
    unsigned = write("unsigned.pdf", minimal_pdf(BODY_LINES))

    an = pki.signer("citizen-an", LIC)
    approval = write("signed-approval.pdf", sign(unsigned, an))
    write("signed-leaf-only.pdf", sign(unsigned, pki.signer("citizen-an", [])))
    write(
        "signed-pkcs7.pdf",
        sign(unsigned, an, subfilter=SigSeedSubFilter.ADOBE_PKCS7_DETACHED),
    )
    write("signed-certify-p2.pdf", sign(unsigned, an, certify=True))
    write(
        "signed-two.pdf",
        sign(approval, pki.signer("director-mst", LIC), field="Signature2"),
    )
    write("signed-timestamped.pdf", sign(unsigned, an, timestamper=pki.timestamper()))
    vc = pki.validation_context()
    write("signed-lt.pdf", sign(unsigned, an, timestamper=pki.timestamper(), vc=vc))
    write(
        "signed-lta.pdf",
        sign(unsigned, an, timestamper=pki.timestamper(), vc=pki.validation_context(), lta=True),
    )
    write("signed-ecdsa.pdf", sign(unsigned, pki.signer("ecdsa-binh", LIC)))
    write(
        "signed-ecdsa384.pdf",
        sign(unsigned, pki.signer("ecdsa384-khoa", LIC), md="sha384"),
    )
    write("signed-pss.pdf", sign(unsigned, pki.signer("pss-cuong", LIC, pss=True)))
    dung = pki.signer("revoked-dung", LIC)
    write("signed-revoked.pdf", sign(unsigned, dung))
    write(
        "signed-revoked-ts-after.pdf",
        sign(unsigned, dung, timestamper=pki.timestamper()),
    )
    # A content timestamp (signed attribute, taken before signing) proves the
    # signature was made after the revocation: TOTAL_FAILED/REVOKED.
    write(
        "signed-revoked-content-ts.pdf",
        sign(unsigned, dung, timestamper=pki.timestamper(), content_ts=True),
    )
    before = _dt.datetime(2026, 1, 15, 0, 0, 0, tzinfo=UTC)
    with fixed_system_time(before):
        write(
            "signed-revoked-ts-before.pdf",
            sign(unsigned, dung, timestamper=pki.timestamper(fixed=before)),
        )
    write("signed-expired.pdf", sign(unsigned, pki.signer("expired-em", LIC)))
    write(
        "signed-untrusted.pdf",
        sign(unsigned, pki.signer("other-signer", ["other-root"])),
    )
    write("signed-wrong-ku.pdf", sign(unsigned, pki.signer("wrong-ku", LIC)))
    write("signed-sha1.pdf", sign(unsigned, an, md="sha1"))
    write("signed-rsa1024.pdf", sign(unsigned, pki.signer("weak-rsa1024", LIC)))
    write("signed-approval-tampered.pdf", tamper(approval))
    write("signed-appended.pdf", append_content_change(approval))
    write(
        "signed-gov.pdf",
        sign(unsigned, pki.signer("gov-agency", ["gov-ca", "gov-root"])),
    )

    # Benchmarks (small ones are committed; see make-bench-pdfs.py for big).
    big = minimal_pdf(BODY_LINES, pad_to=58_000)
    write(
        "bench-100k.pdf",
        sign(big, an, timestamper=pki.timestamper(), vc=pki.validation_context()),
    )
    write("bench-5sig.pdf", five_signatures(pki, unsigned))
    return 0


def five_signatures(pki: Pki, src: bytes) -> bytes:
    lic = ["licensed-ca", "root-ca"]
    seq = [
        pki.signer("citizen-an", lic),
        pki.signer("director-mst", lic),
        pki.signer("ecdsa-binh", lic),
        pki.signer("pss-cuong", lic, pss=True),
        pki.signer("citizen-an", lic),
    ]
    doc = src
    for i, s in enumerate(seq, start=1):
        doc = sign(doc, s, field=f"Signature{i}")
    return doc


if __name__ == "__main__":
    sys.exit(main())
