//! The network edge for revocation data: fetches CRLs (RFC 5280 4.2.1.13) and OCSP responses
//! (RFC 6960, HTTP POST per appendix A.1) over plain HTTP, with timeouts, size limits enforced while
//! the body streams, and an in-memory cache that honours nextUpdate.
//!
//! This is the only place in `pki` that touches the network and the real clock, and the clock only
//! through the injectable `now` closure. It does not judge the evidence beyond parsing it: the pure
//! `revocation` module verifies signatures and decides the status. There is no TLS client here:
//! `https://` URLs are refused with a clear error (CRL and OCSP are signed objects and are published
//! over http:// for that reason).

use crate::pki::ossl_ffi;
use crate::pki::path::asn1_to_offset;
use crate::pki::revocation::{
    self, crl_distribution_points, ocsp_urls, RevocationData, RevocationStatus,
};
use openssl::hash::MessageDigest;
use openssl::ocsp::{OcspCertId, OcspRequest, OcspResponse, OcspResponseStatus};
use openssl::x509::{X509Crl, X509Ref, X509};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;

/// Most certificates kept from one caIssuers answer.
pub const MAX_CA_ISSUER_CERTS: usize = 16;

/// A source of the current time (injectable for tests).
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// Limits and behaviour of the fetcher.
#[derive(Clone, Debug)]
pub struct FetchConfig {
    /// Whole-request timeout (connect, send, receive the full body).
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Largest body accepted, in bytes.
    pub max_bytes: usize,
    /// Largest number of cached responses.
    pub max_cache_entries: usize,
    /// Honour HTTP_PROXY / NO_PROXY from the environment.
    pub use_env_proxy: bool,
    /// User-Agent header.
    pub user_agent: String,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_bytes: 20 * 1024 * 1024,
            max_cache_entries: 1024,
            use_env_proxy: true,
            user_agent: concat!("antin/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// `https://` is not supported: there is no TLS client in this build.
    #[error("{url}: https is not supported for CRL/OCSP fetching (no TLS client); use the http:// location")]
    HttpsUnsupported {
        /// The URL.
        url: String,
    },
    /// Not an http:// URL.
    #[error("{url}: unsupported URL (only http:// is fetched)")]
    UnsupportedUrl {
        /// The URL.
        url: String,
    },
    /// No answer within the configured timeout.
    #[error("{url}: timed out after {timeout:?}")]
    Timeout {
        /// The URL.
        url: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The server answered with a non-200 status.
    #[error("{url}: HTTP status {status}")]
    HttpStatus {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The body exceeds the configured limit.
    #[error("{url}: response larger than {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// Connection or protocol failure.
    #[error("{url}: {detail}")]
    Network {
        /// The URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The body is not a CRL / OCSP response (RFC 5280 5.1, RFC 6960 4.2.1).
    #[error("{url}: not a valid {what}: {detail}")]
    Malformed {
        /// The URL.
        url: String,
        /// What was expected.
        what: &'static str,
        /// The parser's message.
        detail: String,
    },
    /// The OCSP responder refused (RFC 6960 2.3: malformedRequest, tryLater, unauthorized, ...).
    #[error("{url}: OCSP response status {status}")]
    OcspStatus {
        /// The URL.
        url: String,
        /// OCSPResponseStatus.
        status: i32,
    },
    /// Building the request failed.
    #[error("cannot build the request: {0}")]
    Request(String),
}

/// A failure met while fetching for a chain.
#[derive(Debug)]
pub struct FetchFailure {
    /// The certificate's subject.
    pub subject: String,
    /// The error.
    pub error: FetchError,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum CacheKey {
    Crl(String),
    Ocsp {
        url: String,
        issuer: [u8; 32],
        serial: Vec<u8>,
    },
}

struct CacheEntry {
    der: Vec<u8>,
    next_update: OffsetDateTime,
}

/// Fetches CRLs and OCSP responses, with a cache.
pub struct Fetcher {
    client: reqwest::Client,
    config: FetchConfig,
    now: Clock,
    cache: Mutex<HashMap<CacheKey, CacheEntry>>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    /// A fetcher that reads the real clock.
    pub fn new(config: FetchConfig) -> Result<Self, FetchError> {
        Self::with_clock(config, Arc::new(OffsetDateTime::now_utc))
    }

    /// A fetcher with an injected clock (for the cache's nextUpdate decisions).
    pub fn with_clock(config: FetchConfig, now: Clock) -> Result<Self, FetchError> {
        let mut b = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(config.user_agent.clone());
        if !config.use_env_proxy {
            b = b.no_proxy();
        }
        let client = b.build().map_err(|e| FetchError::Request(e.to_string()))?;
        Ok(Fetcher {
            client,
            config,
            now,
            cache: Mutex::new(HashMap::new()),
        })
    }

    fn cached(&self, key: &CacheKey) -> Option<Vec<u8>> {
        let now = (self.now)();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        match cache.get(key) {
            Some(e) if now < e.next_update => Some(e.der.clone()),
            Some(_) => {
                cache.remove(key);
                None
            }
            None => None,
        }
    }

    fn store(&self, key: CacheKey, der: Vec<u8>, next_update: Option<OffsetDateTime>) {
        // Without nextUpdate there is no moment until which the answer is known to stand: no cache.
        let Some(next_update) = next_update else {
            return;
        };
        let now = (self.now)();
        if next_update <= now {
            return;
        }
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= self.config.max_cache_entries {
            cache.retain(|_, e| now < e.next_update);
        }
        if cache.len() < self.config.max_cache_entries {
            cache.insert(key, CacheEntry { der, next_update });
        }
    }

    /// Fetches and parses a CRL (DER, or PEM as some CAs publish).
    pub async fn fetch_crl(&self, url: &str) -> Result<X509Crl, FetchError> {
        let key = CacheKey::Crl(url.to_owned());
        let parse = |bytes: &[u8]| {
            X509Crl::from_der(bytes)
                .or_else(|_| X509Crl::from_pem(bytes))
                .map_err(|e| FetchError::Malformed {
                    url: url.to_owned(),
                    what: "CRL",
                    detail: e.to_string(),
                })
        };
        if let Some(der) = self.cached(&key) {
            return parse(&der);
        }
        let body = self.get(url).await?;
        let crl = parse(&body)?;
        let next = crl.next_update().and_then(asn1_to_offset);
        let der = crl.to_der().unwrap_or(body);
        self.store(key, der, next);
        Ok(crl)
    }

    /// Asks an OCSP responder about `cert` (issued by `issuer`); returns the DER OCSPResponse.
    pub async fn fetch_ocsp(
        &self,
        cert: &X509Ref,
        issuer: &X509Ref,
        url: &str,
    ) -> Result<Vec<u8>, FetchError> {
        let req_err = |e: openssl::error::ErrorStack| FetchError::Request(e.to_string());
        let issuer_fp = openssl::sha::sha256(&issuer.to_der().map_err(req_err)?);
        let serial = cert.serial_number().to_bn().map_err(req_err)?.to_vec();
        let key = CacheKey::Ocsp {
            url: url.to_owned(),
            issuer: issuer_fp,
            serial,
        };
        if let Some(der) = self.cached(&key) {
            return Ok(der);
        }
        // SHA-1 CertIDs are what responders universally support (RFC 6960 4.1.1; it is an
        // identifier here, not a signature).
        let mut req = OcspRequest::new().map_err(req_err)?;
        req.add_id(OcspCertId::from_cert(MessageDigest::sha1(), cert, issuer).map_err(req_err)?)
            .map_err(req_err)?;
        let body = req.to_der().map_err(req_err)?;
        let der = self.post(url, body).await?;
        let malformed = |d: String| FetchError::Malformed {
            url: url.to_owned(),
            what: "OCSP response",
            detail: d,
        };
        let resp = OcspResponse::from_der(&der).map_err(|e| malformed(e.to_string()))?;
        if resp.status() != OcspResponseStatus::SUCCESSFUL {
            return Err(FetchError::OcspStatus {
                url: url.to_owned(),
                status: resp.status().as_raw(),
            });
        }
        let basic = resp.basic().map_err(|e| malformed(e.to_string()))?;
        let id = OcspCertId::from_cert(MessageDigest::sha1(), cert, issuer).map_err(req_err)?;
        let next = basic.find_status(&id).and_then(|s| {
            s.next_update()
                .and_then(|t| asn1_to_offset(ossl_ffi::generalized_as_time(t)))
        });
        self.store(key, der.clone(), next);
        Ok(der)
    }

    /// Fetches the issuer certificates published at an AIA caIssuers URL (RFC 5280 4.2.2.1): one
    /// DER certificate, or a certs-only CMS / PKCS#7 bundle; PEM is accepted too. At most
    /// [`MAX_CA_ISSUER_CERTS`] are returned. They are untrusted path-building material only.
    pub async fn fetch_ca_issuers(&self, url: &str) -> Result<Vec<X509>, FetchError> {
        let body = self.get(url).await?;
        let malformed = |detail: String| FetchError::Malformed {
            url: url.to_owned(),
            what: "certificate or certs-only PKCS#7",
            detail,
        };
        let certs = if let Ok(c) = X509::from_der(&body) {
            vec![c]
        } else if let Ok(p7) = openssl::pkcs7::Pkcs7::from_der(&body) {
            p7.signed()
                .and_then(|s| s.certificates())
                .map(|st| st.iter().map(X509Ref::to_owned).collect())
                .unwrap_or_default()
        } else {
            X509::stack_from_pem(&body).map_err(|e| malformed(e.to_string()))?
        };
        if certs.is_empty() {
            return Err(malformed("no certificate".into()));
        }
        Ok(certs.into_iter().take(MAX_CA_ISSUER_CERTS).collect())
    }

    /// Fetches revocation data for every non-anchor certificate of `chain` (leaf first): OCSP
    /// first, then the CRL distribution points, stopping at the first answer that settles the
    /// status now. Failures are logged and dropped; see [`Fetcher::fetch_for_chain_with_failures`].
    pub async fn fetch_for_chain(&self, chain: &[X509]) -> RevocationData {
        let (data, failures) = self.fetch_for_chain_with_failures(chain).await;
        for f in &failures {
            tracing::warn!(subject = %f.subject, error = %f.error, "revocation fetch failed");
        }
        data
    }

    /// Like [`Fetcher::fetch_for_chain`], also returning what failed.
    pub async fn fetch_for_chain_with_failures(
        &self,
        chain: &[X509],
    ) -> (RevocationData, Vec<FetchFailure>) {
        let mut data = RevocationData::default();
        let mut failures = Vec::new();
        for w in chain.windows(2) {
            let (Some(cert), Some(issuer)) = (w.first(), w.get(1)) else {
                continue;
            };
            let subject = crate::pki::trust::subject_string(cert);
            let now = (self.now)();
            let settled = |d: &RevocationData| {
                matches!(
                    revocation::check_cert(cert, issuer, d, now, now),
                    RevocationStatus::Good { .. } | RevocationStatus::Revoked { .. }
                )
            };
            let mut done = false;
            for url in ocsp_urls(cert) {
                match self.fetch_ocsp(cert, issuer, &url).await {
                    Ok(der) => {
                        let one = RevocationData {
                            crls: Vec::new(),
                            ocsp_responses: vec![der.clone()],
                        };
                        done = settled(&one);
                        data.ocsp_responses.push(der);
                        if done {
                            break;
                        }
                    }
                    Err(error) => failures.push(FetchFailure {
                        subject: subject.clone(),
                        error,
                    }),
                }
            }
            if done {
                continue;
            }
            for url in crl_distribution_points(cert) {
                match self.fetch_crl(&url).await {
                    Ok(crl) => {
                        let one = RevocationData {
                            crls: vec![crl],
                            ocsp_responses: Vec::new(),
                        };
                        done = settled(&one);
                        data.crls.extend(one.crls);
                        if done {
                            break;
                        }
                    }
                    Err(error) => failures.push(FetchFailure {
                        subject: subject.clone(),
                        error,
                    }),
                }
            }
        }
        (data, failures)
    }

    fn check_url(url: &str) -> Result<(), FetchError> {
        let starts = |prefix: &str| {
            url.as_bytes()
                .get(..prefix.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(prefix.as_bytes()))
        };
        if starts("https://") {
            return Err(FetchError::HttpsUnsupported {
                url: url.to_owned(),
            });
        }
        if !starts("http://") {
            return Err(FetchError::UnsupportedUrl {
                url: url.to_owned(),
            });
        }
        Ok(())
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        Self::check_url(url)?;
        let req = self.client.get(url);
        self.send(url, req).await
    }

    async fn post(&self, url: &str, body: Vec<u8>) -> Result<Vec<u8>, FetchError> {
        Self::check_url(url)?;
        let req = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/ocsp-request")
            .header(reqwest::header::ACCEPT, "application/ocsp-response")
            .body(body);
        self.send(url, req).await
    }

    async fn send(&self, url: &str, req: reqwest::RequestBuilder) -> Result<Vec<u8>, FetchError> {
        let timeout = self.config.timeout;
        let limit = self.config.max_bytes;
        let net = |e: reqwest::Error| {
            if e.is_timeout() {
                FetchError::Timeout {
                    url: url.to_owned(),
                    timeout,
                }
            } else {
                FetchError::Network {
                    url: url.to_owned(),
                    detail: e.to_string(),
                }
            }
        };
        let work = async {
            let mut resp = req.send().await.map_err(net)?;
            let status = resp.status();
            if status != reqwest::StatusCode::OK {
                return Err(FetchError::HttpStatus {
                    url: url.to_owned(),
                    status: status.as_u16(),
                });
            }
            if resp.content_length().is_some_and(|n| n > limit as u64) {
                return Err(FetchError::TooLarge {
                    url: url.to_owned(),
                    limit,
                });
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(net)? {
                if body.len() + chunk.len() > limit {
                    return Err(FetchError::TooLarge {
                        url: url.to_owned(),
                        limit,
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        };
        // reqwest's timeout covers the body too; this outer bound guards against any gap.
        match tokio::time::timeout(timeout.saturating_add(Duration::from_millis(500)), work).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout {
                url: url.to_owned(),
                timeout,
            }),
        }
    }
}
