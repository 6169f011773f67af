#!/usr/bin/env python3
"""Validate every signature in a PDF with pyHanko and print ONE JSON line.

Offline only: revocation data comes from the PDF (DSS, Adobe revocation
archival attribute) and from --crl / --ocsp files; nothing is fetched.

Two views per signature:
  - "ades": pyHanko's ETSI EN 319 102-1 validation (§5.6.3, PAdES with
    long-term data), as indication + sub-indication;
  - "classic": pyHanko's own status (intact, valid, trusted, revoked,
    modification level, DocMDP, bottom line).

Usage:
  pyhanko-validate.py FILE --trust ROOT.pem [--trust MORE.pem]
      [--other CERTS.pem ...] [--crl F ...] [--ocsp F ...]
      [--at 2026-11-22T12:00:00Z]
Exit status: 0 when every signature's ades indication is PASSED, 1 otherwise,
2 on usage or I/O errors.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import time
from pathlib import Path

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from pyhanko.keys import load_certs_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.pdf_embedded import (
    async_validate_pdf_signature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.ades import (
    ades_basic_validation,
    ades_lta_validation,
    ades_with_time_validation,
)
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pyhanko.sign.validation.policy_decl import (
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)
from pyhanko_certvalidator.registry import SimpleTrustManager
from pyhanko_certvalidator.revinfo.archival import CRLContainer, OCSPContainer


def _der_blobs(path: str) -> list[bytes]:
    data = Path(path).read_bytes()
    if pem.detect(data):
        return [der for _, _, der in pem.unarmor(data, multiple=True)]
    return [data]


def _name(cert) -> str:
    return cert.subject.human_friendly


def build_spec(args) -> SignatureValidationSpec:
    roots = [c for f in args.trust for c in load_certs_from_pemder([f])]
    others = [c for f in args.other for c in load_certs_from_pemder([f])]
    crls = [
        CRLContainer(asn1_crl.CertificateList.load(b))
        for f in args.crl
        for b in _der_blobs(f)
    ]
    ocsps = [
        c
        for f in args.ocsp
        for b in _der_blobs(f)
        for c in OCSPContainer.load_multi(asn1_ocsp.OCSPResponse.load(b))
    ]
    args.material = (roots, others, crls, ocsps)
    rule = RevocationCheckingRule.CRL_OR_OCSP_REQUIRED
    return SignatureValidationSpec(
        cert_validation_policy=CertValidationPolicySpec(
            trust_manager=SimpleTrustManager.build(trust_roots=roots),
            revinfo_policy=CertRevTrustPolicy(
                RevocationCheckingPolicy(
                    ee_certificate_rule=rule, intermediate_ca_cert_rule=rule
                )
            ),
        ),
        revinfo_gathering_policy=RevocationInfoGatheringSpec(
            online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
        ),
        local_knowledge=LocalKnowledge(
            known_crls=crls, known_ocsps=ocsps, known_certs=others
        ),
        # Signing certificates must allow digitalSignature or nonRepudiation.
        key_usage_settings=KeyUsageConstraints(
            key_usage={"digital_signature", "non_repudiation"},
            match_all_key_usages=False,
        ),
    )


def with_dss(spec: SignatureValidationSpec, reader) -> SignatureValidationSpec:
    """Add the certificates, CRLs and OCSP responses of the PDF's DSS."""
    dsd = reader.root.get("/DSS")
    if dsd is None:
        return spec
    dsd = dsd.get_object() if hasattr(dsd, "get_object") else dsd

    def streams(key):
        arr = dsd.get(key)
        return [x.get_object().data for x in arr] if arr is not None else []

    lk = spec.local_knowledge
    crls = [CRLContainer(asn1_crl.CertificateList.load(b)) for b in streams("/CRLs")]
    ocsps = [
        c for b in streams("/OCSPs")
        for c in OCSPContainer.load_multi(asn1_ocsp.OCSPResponse.load(b))
    ]
    certs = [asn1_x509.Certificate.load(b) for b in streams("/Certs")]
    import dataclasses

    return dataclasses.replace(
        spec,
        local_knowledge=LocalKnowledge(
            known_crls=lk.known_crls + crls,
            known_ocsps=lk.known_ocsps + ocsps,
            known_certs=lk.known_certs + certs,
            known_poes=lk.known_poes,
            nonrevoked_assertions=lk.nonrevoked_assertions,
        ),
    )


async def classic_status(sig, args, at):
    """pyHanko's own API: integrity, trust, revocation, diff analysis."""
    return await async_validate_pdf_signature(
        sig, signer_validation_context=classic_vc(sig, args, at),
        key_usage_settings=KeyUsageConstraints(
            key_usage={"digital_signature", "non_repudiation"},
            match_all_key_usages=False,
        ),
    )


def classic_vc(sig, args, at) -> ValidationContext:
    roots, others, crls, ocsps = args.material
    ocsps_d = [asn1_ocsp.OCSPResponse.load(b) for f in args.ocsp for b in _der_blobs(f)]
    kwargs = dict(
        trust_roots=roots, other_certs=others, crls=[c.crl_data for c in crls],
        ocsps=ocsps_d, allow_fetching=False, moment=at, revocation_mode="hard-fail",
    )
    try:
        vc = DocumentSecurityStore.read_dss(sig.reader).as_validation_context(kwargs)
    except Exception:  # noqa: BLE001 - no DSS in this document
        vc = ValidationContext(**kwargs)
    return vc


async def validate(args) -> dict:
    spec = PdfSignatureValidationSpec(build_spec(args))
    at = args.at or dt.datetime.now(dt.timezone.utc)
    out = []
    with open(args.file, "rb") as f:
        r = PdfFileReader(f, strict=False)
        for sig in r.embedded_signatures:
            timing = ValidationTimingInfo(
                validation_time=at, best_signature_time=at,
                point_in_time_validation=args.at is not None,
            )
            entry: dict = {
                "field": sig.field_name,
                "type": sig.sig_object_type.name if hasattr(sig.sig_object_type, "name") else str(sig.sig_object_type),
            }
            try:
                entry["signer"] = _name(sig.signer_cert)
            except Exception as e:  # noqa: BLE001 - report, do not crash
                entry["signer"] = None
                entry["signer_error"] = str(e)
            try:
                # pyHanko's processes: §5.3 basic for B-B, §5.5 with time
                # for B-T/B-LT (its §5.6.3 insists on POE for DSS material,
                # i.e. a document timestamp), §5.6.3 when a document
                # timestamp follows. DSS contents join the local knowledge.
                has_ts = any(
                    True for _ in extract_tst_data_iter(sig.signer_info, signed=False)
                )
                has_doc_ts = any(
                    s2.sig_object_type == "/DocTimeStamp"
                    for s2 in r.embedded_signatures
                )
                sv = with_dss(spec.signature_validation_spec, r)
                if sig.sig_object_type == "/DocTimeStamp":
                    entry["process"] = "doc-timestamp"
                    ts = await async_validate_pdf_timestamp(
                        sig, validation_context=classic_vc(sig, args, at)
                    )
                    ok = ts.intact and ts.valid and ts.trusted
                    entry["indication"] = "PASSED" if ok else "INDETERMINATE"
                    entry["subindication"] = "OK" if ok else "NO_CERTIFICATE_CHAIN_FOUND"
                    entry["timestamp"] = ts.timestamp.isoformat()
                    entry["classic"] = {
                        "intact": ts.intact, "valid": ts.valid, "trusted": ts.trusted,
                        "coverage": getattr(ts.coverage, "name", None),
                    }
                    out.append(entry)
                    continue
                if has_ts and has_doc_ts:
                    entry["process"] = "5.6.3-lta"
                    res = await ades_lta_validation(sig, spec, timing_info=timing)
                elif has_ts:
                    entry["process"] = "5.5-with-time"
                    res = await ades_with_time_validation(
                        sig.signed_data, sv, timing_info=timing,
                        raw_digest=sig.compute_digest(),
                    )
                else:
                    entry["process"] = "5.3-basic"
                    res = await ades_basic_validation(
                        sig.signed_data, sv, timing_info=timing,
                        raw_digest=sig.compute_digest(),
                    )
                sub = res.ades_subindic
                entry["indication"] = sub.status.name
                entry["subindication"] = sub.standard_name
                entry["failure"] = res.failure_msg
                if getattr(res, "best_signature_time", None):
                    entry["best_signature_time"] = res.best_signature_time.isoformat()
                st = await classic_status(sig, args, at)
                if st is not None:
                    cls = {
                        "intact": getattr(st, "intact", None),
                        "valid": getattr(st, "valid", None),
                        "trusted": getattr(st, "trusted", None),
                        "revoked": getattr(st, "revoked", None),
                        "coverage": getattr(getattr(st, "coverage", None), "name", None),
                        "modification_level": getattr(
                            getattr(st, "modification_level", None), "name", None
                        ),
                        "docmdp_ok": getattr(st, "docmdp_ok", None),
                        "md_algorithm": getattr(st, "md_algorithm", None),
                        "pkcs7_signature_mechanism": getattr(
                            st, "pkcs7_signature_mechanism", None
                        ),
                        "bottom_line": getattr(st, "bottom_line", None),
                    }
                    entry["classic"] = cls
            except Exception as e:  # noqa: BLE001
                entry["indication"] = "ERROR"
                entry["subindication"] = type(e).__name__
                entry["failure"] = str(e)
            out.append(entry)
    return {
        "file": args.file,
        "validation_time": at.isoformat(),
        "signatures": out,
        "ok": bool(out) and all(e["indication"] == "PASSED" for e in out),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--trust", action="append", required=True)
    ap.add_argument("--other", action="append", default=[])
    ap.add_argument("--crl", action="append", default=[])
    ap.add_argument("--ocsp", action="append", default=[])
    ap.add_argument(
        "--at",
        type=lambda s: dt.datetime.fromisoformat(s.replace("Z", "+00:00")),
        help="validation time (ISO 8601), default now",
    )
    args = ap.parse_args()
    t0 = time.perf_counter()
    try:
        res = asyncio.run(validate(args))
    except OSError as e:
        print(json.dumps({"file": args.file, "error": str(e)}))
        return 2
    res["elapsed_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    print(json.dumps(res, ensure_ascii=False, default=str))
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
