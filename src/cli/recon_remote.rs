//! `antin recon ... --remote https://host:port --api-key KEY [--ca FILE]`: the same commands
//! through a remote antin's reconciliation API (`/v1/reconciliation/...`, a finance key), printed
//! exactly as against the local database. Exit codes as `antin recon` (0 matched, 1 open
//! discrepancies, 64 usage, 65 refused data, 66 unreadable file), plus 77 when the server refuses
//! the key (401, 403) and 69 when it cannot be reached or fails.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};

use super::recon::{date_arg, print_list, resolved_line, write_report, ReconCommand};
use super::{
    CliError, EXIT_DATA, EXIT_NOINPUT, EXIT_NOPERM, EXIT_SOFTWARE, EXIT_UNAVAILABLE, EXIT_USAGE,
};
use crate::i18n::Lang;
use crate::recon::import::Rejected;
use crate::recon::report::{self, ReportData};
use crate::store::recon::StoredDiscrepancy;

/// The largest response read (a day's report with all its matches).
const MAX_RESPONSE: usize = 512 << 20;
/// An upload may take as long as the server allows (`recon.import_timeout_secs`), and more.
const IMPORT_TIMEOUT: Duration = Duration::from_secs(1800);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// `antin recon`: the subcommand, and where it runs.
#[derive(Debug, Args)]
pub struct ReconArgs {
    #[command(flatten)]
    pub remote: RemoteOpts,
    #[command(subcommand)]
    pub cmd: ReconCommand,
}

#[derive(Debug, Args)]
pub struct RemoteOpts {
    /// Run against a remote antin's API (https://host:port) instead of the local database
    /// (also ANTIN_REMOTE).
    #[arg(long, global = true, env = "ANTIN_REMOTE", value_name = "URL")]
    pub remote: Option<String>,
    /// The finance API key for --remote (also ANTIN_API_KEY).
    #[arg(
        long,
        global = true,
        env = "ANTIN_API_KEY",
        value_name = "KEY",
        hide_env_values = true,
        value_parser = secret
    )]
    pub api_key: Option<SecretString>,
    /// CA certificates (PEM) to trust for the remote's TLS certificate (default: the system's;
    /// also ANTIN_CA).
    #[arg(long, global = true, env = "ANTIN_CA", value_name = "PEM")]
    pub ca: Option<PathBuf>,
}

fn secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s.to_owned()))
}

pub fn run(opts: &RemoteOpts, cmd: ReconCommand, lang: Lang) -> Result<u8, CliError> {
    let remote = Remote::new(opts, lang)?;
    super::runtime()?.block_on(exec(&remote, cmd, lang))
}

struct Remote {
    base: Url,
    http: reqwest::Client,
    key: SecretString,
    lang: Lang,
}

/// The server's error body (src/http/error.rs).
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorFields,
}

#[derive(Deserialize)]
struct ErrorFields {
    code: String,
    message: String,
    detail: Option<String>,
    #[serde(default)]
    problems: Vec<crate::recon::import::Problem>,
    #[serde(default)]
    total: u64,
}

impl Remote {
    fn new(opts: &RemoteOpts, lang: Lang) -> Result<Self, CliError> {
        let raw = opts.remote.as_deref().unwrap_or("");
        let base = Url::parse(raw)
            .map_err(|e| CliError::new(EXIT_USAGE, format!("--remote {raw:?}: {e}")))?;
        // The API key must never travel in clear.
        if base.scheme() != "https" || base.cannot_be_a_base() {
            return Err(CliError::new(
                EXIT_USAGE,
                format!("--remote must be an https:// URL, not {raw:?}"),
            ));
        }
        let key = opts.api_key.clone().ok_or_else(|| {
            CliError::new(
                EXIT_USAGE,
                "--remote needs --api-key (or ANTIN_API_KEY): a finance key",
            )
        })?;
        let ca_path = opts
            .ca
            .clone()
            .unwrap_or_else(|| PathBuf::from("/etc/ssl/certs/ca-certificates.crt"));
        let pem = std::fs::read(&ca_path)
            .map_err(|e| CliError::new(EXIT_NOINPUT, format!("{}: {e}", ca_path.display())))?;
        let mut builder = reqwest::Client::builder().connect_timeout(Duration::from_secs(10));
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| CliError::new(EXIT_DATA, format!("{}: {e}", ca_path.display())))?
        {
            builder = builder.add_root_certificate(cert);
        }
        let http = builder
            .build()
            .map_err(|e| CliError::new(EXIT_SOFTWARE, e.to_string()))?;
        Ok(Remote {
            base,
            http,
            key,
            lang,
        })
    }

    /// The base URL with `segments` appended (each percent-encoded).
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Sends a request with the key and the language; a 2xx body, or the error as the local
    /// command would report it.
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<(StatusCode, Vec<u8>), CliError> {
        let resp = req
            .bearer_auth(self.key.expose_secret())
            .header(reqwest::header::ACCEPT_LANGUAGE, self.lang.pick("vi", "en"))
            .send()
            .await
            .map_err(|e| CliError::new(EXIT_UNAVAILABLE, format!("{}: {e}", self.base)))?;
        let status = resp.status();
        let body = read_limited(resp).await?;
        if status.is_success() {
            Ok((status, body))
        } else {
            Err(error_of(status, &body))
        }
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, CliError> {
        let (_, body) = self.send(req.timeout(REQUEST_TIMEOUT)).await?;
        serde_json::from_slice(&body).map_err(|e| {
            CliError::new(
                EXIT_UNAVAILABLE,
                format!("{}: unexpected response: {e}", self.base),
            )
        })
    }

    fn post_json(&self, segments: &[&str], body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(segments))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
    }
}

async fn read_limited(mut resp: reqwest::Response) -> Result<Vec<u8>, CliError> {
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| CliError::new(EXIT_UNAVAILABLE, e.to_string()))?
    {
        out.extend_from_slice(&chunk);
        if out.len() > MAX_RESPONSE {
            return Err(CliError::new(EXIT_UNAVAILABLE, "response too large"));
        }
    }
    Ok(out)
}

/// The file as a request body, read in 256 KiB chunks (never whole into memory; reqwest's own
/// `From<File>` reads 8 KiB at a time, which halves the upload rate).
fn file_body(file: tokio::fs::File) -> reqwest::Body {
    use tokio::io::AsyncReadExt as _;
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 256 << 10];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(bytes::Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err::<bytes::Bytes, _>(e), None)),
        }
    });
    reqwest::Body::wrap_stream(chunks)
}

/// The exit code and message the local command would give for the server's refusal.
fn error_of(status: StatusCode, body: &[u8]) -> CliError {
    let parsed: Option<ErrorFields> = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|b| b.error);
    let Some(e) = parsed else {
        let code = match status.as_u16() {
            401 | 403 => EXIT_NOPERM,
            _ => EXIT_UNAVAILABLE,
        };
        return CliError::new(code, format!("HTTP {status}"));
    };
    let text = match &e.detail {
        Some(d) => format!("{} ({d})", e.message),
        None => e.message.clone(),
    };
    match (status.as_u16(), e.code.as_str()) {
        (401 | 403, _) => CliError::new(EXIT_NOPERM, format!("{}: {text}", e.code)),
        (_, "recon_file_rejected") => CliError::new(
            EXIT_DATA,
            Rejected {
                problems: e.problems,
                total: e.total,
            }
            .to_string(),
        ),
        (_, "recon_not_found" | "recon_already_resolved") => {
            CliError::new(EXIT_DATA, e.detail.unwrap_or(e.message))
        }
        (400..=499, _) => CliError::new(EXIT_DATA, format!("{}: {text}", e.code)),
        _ => CliError::new(EXIT_UNAVAILABLE, format!("{}: {text}", e.code)),
    }
}

/// `GET /v1/reconciliation/reports/{date}` (the shape of `recon report --format json`).
#[derive(Deserialize)]
struct List {
    discrepancies: Vec<StoredDiscrepancy>,
}

#[derive(Deserialize)]
struct RunDone {
    run_id: String,
    matched: u64,
    discrepancies: u64,
    awaiting: u64,
    open: u64,
}

#[derive(Deserialize)]
struct ImportDone {
    status: String,
    rows: Option<u64>,
    sha256: String,
}

async fn exec(remote: &Remote, cmd: ReconCommand, lang: Lang) -> Result<u8, CliError> {
    match cmd {
        ReconCommand::Import { file, source } => {
            let f = tokio::fs::File::open(&file).await.map_err(|e| {
                CliError::new(EXIT_NOINPUT, format!("cannot read {}: {e}", file.display()))
            })?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let req = remote
                .http
                .post(remote.url(&["v1", "reconciliation", "imports"]))
                .query(&[("source", source.as_str()), ("name", name.as_str())])
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .timeout(IMPORT_TIMEOUT)
                .body(file_body(f));
            let (_, body) = remote.send(req).await?;
            let done: ImportDone = serde_json::from_slice(&body).map_err(|e| {
                CliError::new(EXIT_UNAVAILABLE, format!("unexpected response: {e}"))
            })?;
            match (done.status.as_str(), done.rows) {
                ("imported", Some(n)) => println!(
                    "{} {n} {} ({}) sha256={}",
                    lang.pick("Đã nhập", "Imported"),
                    lang.pick("dòng", "rows"),
                    file.display(),
                    done.sha256
                ),
                _ => println!(
                    "{} sha256={}",
                    lang.pick(
                        "Tệp đã được nhập trước đó, không thay đổi gì:",
                        "Already imported, nothing changed:"
                    ),
                    done.sha256
                ),
            }
            Ok(0)
        }
        ReconCommand::Run(args) => {
            let date = date_arg("--date", &args.date)?;
            let as_of = args
                .as_of
                .as_deref()
                .map(|s| date_arg("--as-of", s))
                .transpose()?;
            let body = json!({
                "date": date.to_string(),
                "agency": args.agency,
                "as_of": as_of.map(|d| d.to_string()),
            });
            let done: RunDone = remote
                .json(remote.post_json(&["v1", "reconciliation", "runs"], &body))
                .await?;
            println!(
                "{} {}: {} {}, {} {}, {} {}",
                lang.pick("Lần đối soát", "Run"),
                done.run_id,
                done.matched,
                lang.pick("khớp", "matched"),
                done.discrepancies,
                lang.pick("chênh lệch", "discrepancies"),
                done.awaiting,
                lang.pick("đang chờ", "awaiting"),
            );
            Ok(u8::from(done.open > 0))
        }
        ReconCommand::Report { date, format, out } => {
            let date = date_arg("--date", &date)?;
            let day = date.to_string();
            let url = remote.url(&["v1", "reconciliation", "reports", &day]);
            let format = report::ReportFormat::from(format);
            let data: ReportData = remote
                .json(remote.http.get(url.clone()).query(&[("format", "json")]))
                .await?;
            let bytes = if format == report::ReportFormat::Pdf {
                // Signed by the server with its service key: the officer's machine holds none.
                let (_, pdf) = remote
                    .send(
                        remote
                            .http
                            .get(url)
                            .query(&[("format", "pdf")])
                            .timeout(REQUEST_TIMEOUT),
                    )
                    .await?;
                pdf
            } else {
                report::render(format, &data, lang)
                    .map_err(|e| CliError::new(EXIT_SOFTWARE, e.to_string()))?
            };
            write_report(format, date, out.as_deref(), &bytes, lang)?;
            Ok(u8::from(data.open_discrepancies() > 0))
        }
        ReconCommand::Discrepancies { open, date, format } => {
            let date = date.map(|d| date_arg("--date", &d)).transpose()?;
            let mut query = vec![("open", open.to_string())];
            if let Some(d) = date {
                query.push(("date", d.to_string()));
            }
            let list: List = remote
                .json(
                    remote
                        .http
                        .get(remote.url(&["v1", "reconciliation", "discrepancies"]))
                        .query(&query),
                )
                .await?;
            let ds = list.discrepancies;
            print_list(format, &ds, lang);
            Ok(u8::from(ds.iter().any(|d| d.resolution.is_none())))
        }
        ReconCommand::Resolve { id, reason } => {
            let d: StoredDiscrepancy = remote
                .json(remote.post_json(
                    &["v1", "reconciliation", "discrepancies", &id, "resolve"],
                    &json!({ "reason": reason }),
                ))
                .await?;
            println!("{}", resolved_line(&id, &d, lang));
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_map_to_the_local_exit_codes() {
        let body = |code: &str| {
            json!({"error": {"code": code, "message": "m", "detail": "d"}})
                .to_string()
                .into_bytes()
        };
        assert_eq!(
            error_of(StatusCode::UNAUTHORIZED, &body("unauthenticated")).code,
            77
        );
        assert_eq!(error_of(StatusCode::FORBIDDEN, &body("forbidden")).code, 77);
        assert_eq!(error_of(StatusCode::FORBIDDEN, b"<html>").code, 77);
        assert_eq!(
            error_of(StatusCode::NOT_FOUND, &body("recon_not_found")).code,
            65
        );
        assert_eq!(
            error_of(StatusCode::BAD_REQUEST, &body("bad_request")).code,
            65
        );
        assert_eq!(
            error_of(StatusCode::INTERNAL_SERVER_ERROR, &body("internal_error")).code,
            69
        );
        assert_eq!(error_of(StatusCode::BAD_GATEWAY, b"").code, 69);
        let rejected = json!({"error": {"code": "recon_file_rejected", "message": "m",
            "problems": [{"file": "f.csv", "line": 5, "reason": "no totals row"}], "total": 1}});
        let e = error_of(
            StatusCode::UNPROCESSABLE_ENTITY,
            rejected.to_string().as_bytes(),
        );
        assert_eq!(e.code, 65);
        assert_eq!(
            e.message,
            "file rejected (1 problem(s))\n  f.csv:5: no totals row"
        );
    }
}
