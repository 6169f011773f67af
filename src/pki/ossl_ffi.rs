//! Minimal bindings to OpenSSL functions that the safe `openssl` crate does not expose.
//!
//! This is the only module of the crate allowed to contain `unsafe`. Each function here wraps one
//! libcrypto call behind a safe signature; each `unsafe` block says why it is sound. It must never
//! grow into a general-purpose binding: add a function only when the safe API truly lacks it.

use foreign_types_shared::ForeignTypeRef;
use openssl::asn1::{Asn1GeneralizedTimeRef, Asn1TimeRef};
use openssl::error::ErrorStack;
use openssl::ocsp::OcspBasicResponseRef;
use openssl::stack::StackRef;
use openssl::x509::verify::X509VerifyParamRef;
use openssl::x509::{X509Crl, X509Ref, X509StoreContextRef, X509};
use std::os::raw::c_int;

// Declarations of libcrypto 3.x symbols that openssl-sys does not declare. libcrypto is already
// linked by openssl-sys. Prototypes copied from OpenSSL 3.0's public headers (x509_vfy.h, ocsp.h).
extern "C" {
    fn X509_STORE_CTX_set0_crls(
        ctx: *mut openssl_sys::X509_STORE_CTX,
        crls: *mut openssl_sys::stack_st_X509_CRL,
    );
    fn X509_VERIFY_PARAM_set1_policies(
        param: *mut openssl_sys::X509_VERIFY_PARAM,
        policies: *mut openssl_sys::stack_st_ASN1_OBJECT,
    ) -> c_int;
    fn OCSP_resp_get0_produced_at(
        bs: *const openssl_sys::OCSP_BASICRESP,
    ) -> *const openssl_sys::ASN1_GENERALIZEDTIME;
    fn OCSP_resp_get0_certs(
        bs: *const openssl_sys::OCSP_BASICRESP,
    ) -> *const openssl_sys::stack_st_X509;
}

/// Runs `X509_verify_cert` with these CRLs as the context's CRL set (`X509_STORE_CTX_set0_crls`).
/// Unlike CRLs added to the store, which OpenSSL looks up by the certificate issuer's name, the
/// context's set is searched whole, so indirect CRLs (RFC 5280 5.2.5, cRLIssuer) are found too.
pub(crate) fn verify_cert_with_crls(
    ctx: &mut X509StoreContextRef,
    crls: &[X509Crl],
) -> Result<bool, ErrorStack> {
    // SAFETY: the stack holds borrowed X509_CRL pointers (no reference taken) from `crls`, which
    // outlive this function. The context only reads the stack during X509_verify_cert (taking its
    // own reference on any CRL it keeps); we detach the stack from the context before freeing the
    // stack itself (OPENSSL_sk_free frees the array, not the elements). `ctx` is an initialised
    // context (we are only reachable from inside X509StoreContext::init).
    unsafe {
        let sk = openssl_sys::OPENSSL_sk_new_null();
        if sk.is_null() {
            return Err(ErrorStack::get());
        }
        for crl in crls {
            if openssl_sys::OPENSSL_sk_push(
                sk,
                crl.as_ptr().cast::<std::os::raw::c_void>().cast_const(),
            ) <= 0
            {
                openssl_sys::OPENSSL_sk_free(sk);
                return Err(ErrorStack::get());
            }
        }
        X509_STORE_CTX_set0_crls(ctx.as_ptr(), sk.cast::<openssl_sys::stack_st_X509_CRL>());
        let rc = openssl_sys::X509_verify_cert(ctx.as_ptr());
        X509_STORE_CTX_set0_crls(ctx.as_ptr(), std::ptr::null_mut());
        openssl_sys::OPENSSL_sk_free(sk);
        if rc < 0 {
            Err(ErrorStack::get())
        } else {
            Ok(rc == 1)
        }
    }
}

/// Sets the user-initial-policy-set of RFC 5280 6.1.1 (c) on a verify parameter (this also turns on
/// `X509_V_FLAG_POLICY_CHECK`).
pub(crate) fn param_set_policies(
    param: &mut X509VerifyParamRef,
    policies: &StackRef<openssl::asn1::Asn1Object>,
) -> Result<(), ErrorStack> {
    // SAFETY: `set1` deep-copies the stack and each ASN1_OBJECT (OBJ_dup), so the parameter keeps no
    // pointer into the caller's stack; both pointers are valid for the duration of the call.
    let rc = unsafe { X509_VERIFY_PARAM_set1_policies(param.as_ptr(), policies.as_ptr()) };
    if rc == 1 {
        Ok(())
    } else {
        Err(ErrorStack::get())
    }
}

/// Views a GeneralizedTime as an ASN1_TIME, so that the safe `Asn1TimeRef::diff` can convert it.
pub(crate) fn generalized_as_time(t: &Asn1GeneralizedTimeRef) -> &Asn1TimeRef {
    // SAFETY: in C both ASN1_GENERALIZEDTIME and ASN1_TIME are typedefs of `struct asn1_string_st`;
    // ASN1_TIME functions accept a string of type V_ASN1_GENERALIZEDTIME. The returned reference
    // borrows from `t`, so it cannot outlive the owner.
    unsafe { Asn1TimeRef::from_ptr(t.as_ptr().cast::<openssl_sys::ASN1_TIME>()) }
}

/// The producedAt field of a basic OCSP response (RFC 6960 4.2.1).
pub(crate) fn ocsp_produced_at(bs: &OcspBasicResponseRef) -> Option<&Asn1TimeRef> {
    // SAFETY: OCSP_resp_get0_produced_at returns an internal pointer of `bs` (get0: not owned by
    // us) or NULL; the returned reference borrows `bs`, so it cannot outlive the response.
    unsafe {
        let p = OCSP_resp_get0_produced_at(bs.as_ptr());
        if p.is_null() {
            None
        } else {
            Some(Asn1TimeRef::from_ptr(
                p.cast_mut().cast::<openssl_sys::ASN1_TIME>(),
            ))
        }
    }
}

/// The certificates carried in a basic OCSP response (RFC 6960 4.2.1 `certs`), as owned copies.
pub(crate) fn ocsp_certs(bs: &OcspBasicResponseRef) -> Vec<X509> {
    // SAFETY: OCSP_resp_get0_certs returns the response's internal stack (or NULL when absent); we
    // only read it while `bs` is borrowed and clone each certificate (X509_up_ref) before returning.
    unsafe {
        let p = OCSP_resp_get0_certs(bs.as_ptr());
        if p.is_null() {
            return Vec::new();
        }
        let stack: &StackRef<X509> = StackRef::from_ptr(p.cast_mut());
        stack.iter().map(X509Ref::to_owned).collect()
    }
}

/// Whether the certificate carries an extension with this NID (critical or not).
pub(crate) fn cert_has_extension(cert: &X509Ref, nid: openssl::nid::Nid) -> bool {
    // SAFETY: X509_get_ext_by_NID only reads the certificate's extension list; `cert` is borrowed
    // for the call. It returns the index (>= 0) of the first match, or -1 / -2 when none.
    unsafe { openssl_sys::X509_get_ext_by_NID(cert.as_ptr(), nid.as_raw(), -1) >= 0 }
}

/// Whether the certificate is a CA certificate (basicConstraints cA = TRUE, RFC 5280 4.2.1.9), as
/// OpenSSL's cached extension flags say.
pub(crate) fn cert_is_ca(cert: &X509Ref) -> bool {
    // SAFETY: X509_get_extension_flags only reads the certificate (computing its extension cache
    // under OpenSSL's internal lock the first time); `cert` is borrowed for the call. The pointer is
    // declared mutable in openssl-sys for that cache, which the C API treats as logically const.
    let flags = unsafe { openssl_sys::X509_get_extension_flags(cert.as_ptr()) };
    flags & openssl_sys::EXFLAG_CA != 0
}

/// One extension of a CRL, as raw parts: dotted OID, criticality, DER of extnValue's contents.
pub(crate) struct RawExtension {
    pub(crate) oid: String,
    pub(crate) critical: bool,
    pub(crate) value: Vec<u8>,
}

/// The crlExtensions of a CRL (RFC 5280 5.2), read from OpenSSL's parsed CRL so that the (possibly
/// huge, possibly sloppy) list of revoked certificates is not decoded a second time.
pub(crate) fn crl_extensions(crl: &openssl::x509::X509CrlRef) -> Vec<RawExtension> {
    let mut out = Vec::new();
    // SAFETY: `crl` is borrowed for the whole function. X509_CRL_get_ext_count and X509_CRL_get_ext
    // return the count and internal (get0) pointers of the CRL's extension stack, valid while the
    // CRL lives and not freed by us; we check each pointer for NULL and copy what we read (OID text
    // into our own buffer, the value bytes into a Vec) before returning.
    unsafe {
        let n = openssl_sys::X509_CRL_get_ext_count(crl.as_ptr());
        for i in 0..n {
            let ext = openssl_sys::X509_CRL_get_ext(crl.as_ptr(), i);
            if ext.is_null() {
                continue;
            }
            let obj = openssl_sys::X509_EXTENSION_get_object(ext);
            let data = openssl_sys::X509_EXTENSION_get_data(ext);
            if obj.is_null() || data.is_null() {
                continue;
            }
            let mut buf = [0u8; 128];
            let len = openssl_sys::OBJ_obj2txt(buf.as_mut_ptr().cast(), buf.len() as c_int, obj, 1);
            let oid = match usize::try_from(len) {
                Ok(l) if l < buf.len() => {
                    String::from_utf8_lossy(buf.get(..l).unwrap_or_default()).into_owned()
                }
                _ => String::new(),
            };
            let value = openssl::asn1::Asn1OctetStringRef::from_ptr(data)
                .as_slice()
                .to_vec();
            let critical = openssl_sys::X509_EXTENSION_get_critical(ext) > 0;
            out.push(RawExtension {
                oid,
                critical,
                value,
            });
        }
    }
    out
}
