//! Test support: start the real HTTPS server on port 0 with a fresh database, like a portal would
//! see it. Every API test runs on SQLite and on PostgreSQL.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use antin::config::Config;
use antin::http::{self, auth, auth::Role, AppState};
use antin::store::Store;
use secrecy::ExposeSecret;

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    manifest_dir().join("fixtures").join(rel)
}

pub fn test_pki(name: &str) -> PathBuf {
    manifest_dir().join("certs/test-pki").join(name)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server the full suite uses (a fresh database is created per test).
pub fn postgres_admin_url() -> String {
    std::env::var("ANTIN_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Creates an empty database on the test PostgreSQL server and returns its URL.
pub async fn fresh_postgres_database() -> String {
    use sqlx::Connection as _;
    let admin = postgres_admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is required for this test ({admin}): {e}. Start it with \
             `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`."
            )
        });
    let name = format!("antin_t_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    format!("{base}/{name}")
}

/// A configuration for tests: the given database, TLS files in `dir`, the committed test PKI.
pub fn test_config(dir: &std::path::Path, database_url: &str, extra: &[(&str, &str)]) -> Config {
    let root = manifest_dir();
    let mut env = vec![
        ("ANTIN_DATABASE__URL".to_owned(), database_url.to_owned()),
        ("ANTIN_SERVER__LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        (
            "ANTIN_SERVER__TLS_CERT".to_owned(),
            dir.join("tls.pem").display().to_string(),
        ),
        (
            "ANTIN_SERVER__TLS_KEY".to_owned(),
            dir.join("tls.key").display().to_string(),
        ),
        (
            "ANTIN_TRUST__ANCHORS".to_owned(),
            format!(
                "[\"{}\", \"{}\"]",
                root.join("certs/test-pki/root-ca.pem").display(),
                root.join("certs/test-pki/gov-root.pem").display()
            ),
        ),
        (
            "ANTIN_TRUST__INTERMEDIATES".to_owned(),
            format!(
                "[\"{}\", \"{}\"]",
                root.join("certs/test-pki/licensed-ca.pem").display(),
                root.join("certs/test-pki/gov-ca.pem").display()
            ),
        ),
        (
            "ANTIN_TRUST__ANCHOR_DIR".to_owned(),
            dir.join("anchors").display().to_string(),
        ),
        (
            "ANTIN_TRUST__INTERMEDIATE_DIR".to_owned(),
            dir.join("intermediates").display().to_string(),
        ),
        ("ANTIN_VERIFY__OFFLINE".to_owned(), "true".to_owned()),
        ("ANTIN_LOG__LEVEL".to_owned(), "warn".to_owned()),
        (
            "ANTIN_AUDIT__SIGNING_KEY".to_owned(),
            dir.join("audit/checkpoint.key").display().to_string(),
        ),
        (
            "ANTIN_AUDIT__PSEUDONYM_KEY".to_owned(),
            dir.join("audit/pseudonym.key").display().to_string(),
        ),
    ];
    for (k, v) in extra {
        env.push(((*k).to_owned(), (*v).to_owned()));
    }
    Config::load_from(None, env).expect("test configuration")
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub keys: HashMap<Role, String>,
    pub store: Store,
    pub db: Db,
    /// The server's (self-signed) TLS certificate, for clients' --cacert.
    pub ca_path: PathBuf,
    /// The configuration the server runs with.
    pub config: Config,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub fn key(&self, role: Role) -> &str {
        &self.keys[&role]
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }
}

pub async fn spawn_app(db: Db) -> TestApp {
    spawn_app_with(db, &[]).await
}

pub async fn spawn_app_with(db: Db, extra: &[(&str, &str)]) -> TestApp {
    spawn_app_full(db, extra, None).await
}

/// Starts the app with the given payment connectors instead of the configured ones.
pub async fn spawn_app_full(
    db: Db,
    extra: &[(&str, &str)],
    registry: Option<antin::pay::service::Registry>,
) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = match db {
        Db::Sqlite => format!("sqlite://{}", dir.path().join("antin.db").display()),
        Db::Postgres => fresh_postgres_database().await,
    };
    let config = test_config(dir.path(), &url, extra);
    http::tls::create_dev_certificate(&config.server.tls_cert, &config.server.tls_key)
        .expect("dev certificate");
    let store = Store::connect(&config.database).await.expect("store");
    let mut keys = HashMap::new();
    for role in Role::ALL {
        let (secret, record) =
            auth::generate_key("test", role, time::OffsetDateTime::now_utc()).unwrap();
        store.insert_api_key(&record, &[]).await.unwrap();
        keys.insert(role, secret.expose_secret().to_owned());
    }
    let tls = http::tls::server_config(&config.server.tls_cert, &config.server.tls_key, None)
        .expect("tls config");
    let ca = std::fs::read(&config.server.tls_cert).unwrap();
    let listener = http::bind(config.server.listen).await.expect("bind");
    let addr = listener.local_addr().unwrap();
    // Gateways call this server back at its real (test) address.
    let mut config = config;
    if config.payments.callback_base_url.is_empty() {
        config.payments.callback_base_url = format!("https://localhost:{}", addr.port());
    }
    // `ANTIN_SERVER__PUBLIC_URL=auto`: this server's own address, so the QR codes it stamps lead
    // back to it.
    if config.server.public_url == "auto" {
        config.server.public_url = format!("https://localhost:{}", addr.port());
    }
    let state = Arc::new(match registry {
        Some(r) => AppState::with_registry(config.clone(), store.clone(), r).expect("state"),
        None => AppState::new(config.clone(), store.clone()).expect("state"),
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        http::serve(state, listener, tls, async {
            let _ = rx.await;
        })
        .await
        .expect("serve");
    });
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .build()
        .unwrap();
    TestApp {
        base: format!("https://localhost:{}", addr.port()),
        client,
        keys,
        store,
        db,
        ca_path: config.server.tls_cert.clone(),
        config,
        shutdown: Some(tx),
        handle: Some(handle),
        _dir: dir,
    }
}

/// Runs an async test body on SQLite and (in the full suite) on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body($crate::common::Db::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs PostgreSQL at 127.0.0.1:5432 (full suite)"]
            async fn postgres() {
                super::$body($crate::common::Db::Postgres).await
            }
        }
    };
}
