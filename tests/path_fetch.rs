//! The CRL/OCSP fetcher against a tiny HTTP server on 127.0.0.1:0 that writes raw responses.

mod path_support;

use antin::pki::fetch::{FetchConfig, FetchError, Fetcher};
use path_support::{crl, issue, ocsp, pki, t, Spec, Status};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone)]
enum Route {
    Ok(Vec<u8>),
    /// Declares the size in Content-Length.
    BigDeclared(usize),
    /// Streams this many bytes without Content-Length (connection close ends the body).
    BigStreamed(usize),
    Hang,
}

struct Server {
    base: String,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    hits: Arc<AtomicUsize>,
    content_types: Arc<Mutex<Vec<String>>>,
}

async fn read_request(sock: &mut TcpStream) -> Option<(String, String)> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let mut len = 0usize;
    let mut ctype = String::new();
    for l in lines {
        let lower = l.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().ok()?;
        }
        if let Some(v) = lower.strip_prefix("content-type:") {
            ctype = v.trim().to_owned();
        }
    }
    let mut have = buf.len() - head_end;
    while have < len {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            break;
        }
        have += n;
    }
    Some((path, ctype))
}

async fn serve(initial: HashMap<&'static str, Route>) -> Server {
    let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::new(Mutex::new(
        initial
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    ));
    let table = routes.clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let content_types = Arc::new(Mutex::new(Vec::new()));
    let (h, c) = (hits.clone(), content_types.clone());
    tokio::spawn(async move {
        // Bounded: the tests make well under 100 requests.
        for _ in 0..100 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let routes = table.clone();
            let (h, c) = (h.clone(), c.clone());
            tokio::spawn(async move {
                let Some((path, ctype)) = read_request(&mut sock).await else {
                    return;
                };
                h.fetch_add(1, Ordering::SeqCst);
                c.lock().unwrap().push(ctype);
                let route = routes.lock().unwrap().get(path.as_str()).cloned();
                match route {
                    Some(Route::Ok(body)) => {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = sock.write_all(head.as_bytes()).await;
                        let _ = sock.write_all(&body).await;
                    }
                    Some(Route::BigDeclared(n)) => {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n"
                        );
                        let _ = sock.write_all(head.as_bytes()).await;
                        let _ = sock.write_all(&vec![0u8; n]).await;
                    }
                    Some(Route::BigStreamed(n)) => {
                        let _ = sock
                            .write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                            .await;
                        for _ in 0..n / 1024 + 1 {
                            if sock.write_all(&[0u8; 1024]).await.is_err() {
                                return;
                            }
                        }
                    }
                    Some(Route::Hang) => tokio::time::sleep(Duration::from_secs(30)).await,
                    None => {
                        let _ = sock.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
                    }
                }
                let _ = sock.shutdown().await;
            });
        }
    });
    Server {
        base,
        routes,
        hits,
        content_types,
    }
}

fn config() -> FetchConfig {
    FetchConfig {
        timeout: Duration::from_millis(800),
        connect_timeout: Duration::from_millis(500),
        max_bytes: 64 * 1024,
        use_env_proxy: false,
        ..FetchConfig::default()
    }
}

fn clock(start: OffsetDateTime) -> (Arc<Mutex<OffsetDateTime>>, antin::pki::fetch::Clock) {
    let now = Arc::new(Mutex::new(start));
    let n = now.clone();
    (now, Arc::new(move || *n.lock().unwrap()))
}

#[tokio::test]
async fn fetches_a_crl_and_caches_it_until_next_update() {
    let p = pki();
    let c = crl(&p.ca, &p.ca.key, t(2025), Some(t(2026)), &[]);
    let der = c.to_der().unwrap();
    let server = serve(HashMap::from([("/ca.crl", Route::Ok(der.clone()))])).await;
    let (now, clk) = clock(t(2025));
    let fetcher = Fetcher::with_clock(config(), clk).unwrap();
    let url = format!("{}/ca.crl", server.base);

    assert_eq!(
        fetcher.fetch_crl(&url).await.unwrap().to_der().unwrap(),
        der
    );
    assert_eq!(
        fetcher.fetch_crl(&url).await.unwrap().to_der().unwrap(),
        der
    );
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        1,
        "second fetch must come from the cache"
    );

    *now.lock().unwrap() = t(2027);
    fetcher.fetch_crl(&url).await.unwrap();
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        2,
        "past nextUpdate the CRL is fetched again"
    );
}

#[tokio::test]
async fn https_is_refused_without_touching_the_network() {
    let fetcher = Fetcher::new(config()).unwrap();
    let err = fetcher
        .fetch_crl("https://crl.example.vn/ca.crl")
        .await
        .err()
        .expect("must fail");
    assert!(
        matches!(err, FetchError::HttpsUnsupported { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("no TLS client"));
    let err = fetcher
        .fetch_crl("ldap://crl.example.vn/")
        .await
        .err()
        .expect("must fail");
    assert!(matches!(err, FetchError::UnsupportedUrl { .. }), "{err:?}");
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let server = serve(HashMap::from([
        ("/declared", Route::BigDeclared(200 * 1024)),
        ("/streamed", Route::BigStreamed(200 * 1024)),
    ]))
    .await;
    let fetcher = Fetcher::new(config()).unwrap();
    for path in ["/declared", "/streamed"] {
        let err = fetcher
            .fetch_crl(&format!("{}{path}", server.base))
            .await
            .err()
            .expect("must fail");
        assert!(
            matches!(err, FetchError::TooLarge { limit: 65536, .. }),
            "{path}: {err:?}"
        );
    }
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = serve(HashMap::from([("/hang", Route::Hang)])).await;
    let fetcher = Fetcher::new(config()).unwrap();
    let started = std::time::Instant::now();
    let err = fetcher
        .fetch_crl(&format!("{}/hang", server.base))
        .await
        .err()
        .expect("must fail");
    assert!(matches!(err, FetchError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn http_errors_and_garbage_are_clean_errors() {
    let server = serve(HashMap::from([("/garbage", Route::Ok(b"hello".to_vec()))])).await;
    let fetcher = Fetcher::new(config()).unwrap();
    let err = fetcher
        .fetch_crl(&format!("{}/missing", server.base))
        .await
        .err()
        .expect("must fail");
    assert!(
        matches!(err, FetchError::HttpStatus { status: 404, .. }),
        "{err:?}"
    );
    let err = fetcher
        .fetch_crl(&format!("{}/garbage", server.base))
        .await
        .err()
        .expect("must fail");
    assert!(
        matches!(err, FetchError::Malformed { what: "CRL", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn fetches_ocsp_by_post_and_for_a_whole_chain() {
    let p = pki();
    let resp = ocsp(
        &p.leaf.cert,
        &p.ca.cert,
        &p.ca.cert,
        &p.ca.key,
        false,
        Status::Good,
        t(2025),
        Some(t(2026)),
        t(2025),
    );
    let root_crl = crl(&p.root, &p.root.key, t(2025), Some(t(2026)), &[]);
    let server = serve(HashMap::from([
        ("/ocsp", Route::Ok(resp.clone())),
        ("/root.crl", Route::Ok(root_crl.to_der().unwrap())),
    ]))
    .await;
    let (_now, clk) = clock(t(2025));
    let fetcher = Fetcher::with_clock(config(), clk).unwrap();

    let got = fetcher
        .fetch_ocsp(&p.leaf.cert, &p.ca.cert, &format!("{}/ocsp", server.base))
        .await
        .unwrap();
    assert_eq!(got, resp);
    assert_eq!(
        server.content_types.lock().unwrap().as_slice(),
        ["application/ocsp-request"]
    );

    // Leaf: OCSP (answered); CA: a dead OCSP URL, then its CRL distribution point.
    let ca = issue(
        &Spec {
            serial: 2,
            ocsp_url: Some(format!("{}/dead-ocsp", server.base)),
            crl_url: Some(format!("{}/root.crl", server.base)),
            ..Spec::ca("Test CA")
        },
        Some(&p.root),
    );
    let leaf = issue(
        &Spec {
            ocsp_url: Some(format!("{}/ocsp-leaf", server.base)),
            ..Spec::leaf("Leaf")
        },
        Some(&ca),
    );
    let leaf_resp = ocsp(
        &leaf.cert,
        &ca.cert,
        &ca.cert,
        &ca.key,
        false,
        Status::Good,
        t(2025),
        Some(t(2026)),
        t(2025),
    );
    server
        .routes
        .lock()
        .unwrap()
        .insert("/ocsp-leaf".into(), Route::Ok(leaf_resp.clone()));

    let chain = vec![leaf.cert.clone(), ca.cert.clone(), p.root.cert.clone()];
    let (data, failures) = fetcher.fetch_for_chain_with_failures(&chain).await;
    assert_eq!(
        data.ocsp_responses,
        vec![leaf_resp],
        "the leaf's OCSP answer settles it: no CRL"
    );
    assert_eq!(
        data.crls.len(),
        1,
        "the CA's CRL, after its OCSP URL failed"
    );
    assert_eq!(data.crls[0].to_der().unwrap(), root_crl.to_der().unwrap());
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        matches!(
            failures[0].error,
            FetchError::HttpStatus { status: 404, .. }
        ),
        "{failures:?}"
    );

    // And what was fetched decides the status through the pure checker.
    let statuses = antin::pki::revocation::check_chain(&chain, &data, t(2025), t(2025));
    assert!(
        statuses.iter().all(|s| matches!(
            s.status,
            antin::pki::revocation::RevocationStatus::Good { .. }
        )),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn fetches_ca_issuers_as_der_or_pem() {
    let p = pki();
    let pem = [p.ca.cert.to_pem().unwrap(), p.root.cert.to_pem().unwrap()].concat();
    let server = serve(HashMap::from([
        ("/ca.cer", Route::Ok(p.ca.cert.to_der().unwrap())),
        ("/bundle.pem", Route::Ok(pem)),
        ("/junk", Route::Ok(b"junk".to_vec())),
    ]))
    .await;
    let fetcher = Fetcher::new(config()).unwrap();
    let got = fetcher
        .fetch_ca_issuers(&format!("{}/ca.cer", server.base))
        .await
        .unwrap();
    assert_eq!(got, vec![p.ca.cert.clone()]);
    let got = fetcher
        .fetch_ca_issuers(&format!("{}/bundle.pem", server.base))
        .await
        .unwrap();
    assert_eq!(got, vec![p.ca.cert.clone(), p.root.cert.clone()]);
    let err = fetcher
        .fetch_ca_issuers(&format!("{}/junk", server.base))
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Malformed { .. }), "{err:?}");
}
