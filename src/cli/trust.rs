//! `antin trust`: install anchors (official roots only when their fingerprint matches a pin) and
//! intermediates, list them, and show the pins with their official download locations.

use std::path::Path;

use super::{CliError, TrustCommand, EXIT_CANTCREAT, EXIT_CONFIG, EXIT_DATA, EXIT_NOINPUT};
use crate::config::Config;
use crate::i18n::Lang;
use crate::pki::trust::{self, Hierarchy, TrustError, OFFICIAL_ROOTS};

pub fn run(config: &Config, cmd: TrustCommand, lang: Lang) -> Result<u8, CliError> {
    match cmd {
        TrustCommand::Add {
            file,
            dangerous_unpinned,
        } => add(config, &file, dangerous_unpinned, lang),
        TrustCommand::AddIntermediate { file } => add_intermediates(config, &file),
        TrustCommand::List => list(config, lang),
        TrustCommand::Pins => {
            for root in OFFICIAL_ROOTS {
                println!(
                    "{}  {:<52} {}  {} {}",
                    root.sha256,
                    root.name,
                    match root.hierarchy {
                        Hierarchy::NeacNationalRoot => "NEAC",
                        Hierarchy::GovernmentPki => "VGCA",
                    },
                    lang.pick("tải từ", "from"),
                    root.download
                );
            }
            Ok(0)
        }
    }
}

fn read(file: &Path) -> Result<Vec<openssl::x509::X509>, CliError> {
    let certs = trust::read_certificates(file).map_err(|e| match e {
        TrustError::Io { .. } => CliError::new(EXIT_NOINPUT, e.to_string()),
        other => CliError::new(EXIT_DATA, other.to_string()),
    })?;
    if certs.is_empty() {
        return Err(CliError::new(
            EXIT_DATA,
            format!("{}: no certificate found", file.display()),
        ));
    }
    Ok(certs.into_iter().map(|(c, _)| c).collect())
}

fn install(
    dir: &Path,
    cert: &openssl::x509::X509,
    fp: &str,
) -> Result<std::path::PathBuf, CliError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::new(EXIT_CANTCREAT, format!("{}: {e}", dir.display())))?;
    let path = dir.join(format!("{fp}.pem"));
    let pem = cert
        .to_pem()
        .map_err(|e| CliError::new(EXIT_DATA, e.to_string()))?;
    std::fs::write(&path, pem)
        .map_err(|e| CliError::new(EXIT_CANTCREAT, format!("{}: {e}", path.display())))?;
    Ok(path)
}

fn fingerprint(cert: &openssl::x509::X509) -> Result<String, CliError> {
    trust::sha256_fingerprint(cert)
        .map(hex::encode)
        .map_err(|e| CliError::new(EXIT_DATA, e.to_string()))
}

fn add(config: &Config, file: &Path, dangerous_unpinned: bool, lang: Lang) -> Result<u8, CliError> {
    let certs = read(file)?;
    // Check every certificate before installing any: all or nothing.
    let mut checked = Vec::new();
    for cert in &certs {
        let fp = fingerprint(cert)?;
        let subject = subject(cert);
        match trust::official_pin(cert) {
            Some(root) => checked.push((cert, fp, format!("{} ({})", root.name, lang.pick("khớp dấu vân tay chính thức", "matches the official pin")))),
            None if dangerous_unpinned => checked.push((cert, fp, format!("{subject} ({})", lang.pick("KHÔNG có trong danh sách chính thức: --dangerous-unpinned", "NOT an official root: --dangerous-unpinned")))),
            None => {
                return Err(CliError::new(
                    EXIT_DATA,
                    format!(
                        "{subject} (SHA-256 {fp}) {}",
                        lang.pick(
                            "không khớp dấu vân tay của gốc chính thức nào; chỉ cài bằng --dangerous-unpinned nếu chắc chắn (xem `antin trust pins`)",
                            "matches no official root's pinned fingerprint; install it only with --dangerous-unpinned if you are sure (see `antin trust pins`)"
                        )
                    ),
                ))
            }
        }
    }
    let now = time::OffsetDateTime::now_utc();
    let actor = crate::audit::record::cli_actor();
    let mut installed = Vec::new();
    let mut entries = Vec::new();
    for (cert, fp, what) in checked {
        let path = install(&config.trust.anchor_dir, cert, &fp)?;
        let pin = trust::official_pin(cert).map(|r| r.name);
        entries.push(crate::audit::record::trust(
            "trust_anchor_added",
            &fp,
            &subject(cert),
            pin,
            &actor,
            now,
        ));
        installed.push((path, fp, what));
    }
    log_or_undo(
        config,
        &entries,
        installed.iter().map(|(p, _, _)| p.as_path()),
    )?;
    for (path, fp, what) in installed {
        println!(
            "{} {what}\n  SHA-256 {fp}\n  -> {}",
            lang.pick("Đã cài gốc tin cậy:", "Installed trust anchor:"),
            path.display()
        );
    }
    Ok(0)
}

fn add_intermediates(config: &Config, file: &Path) -> Result<u8, CliError> {
    let now = time::OffsetDateTime::now_utc();
    let actor = crate::audit::record::cli_actor();
    let mut installed = Vec::new();
    let mut entries = Vec::new();
    for cert in read(file)? {
        let fp = fingerprint(&cert)?;
        let path = install(&config.trust.intermediate_dir, &cert, &fp)?;
        entries.push(crate::audit::record::trust(
            "intermediate_added",
            &fp,
            &subject(&cert),
            None,
            &actor,
            now,
        ));
        installed.push((path, fp, subject(&cert)));
    }
    log_or_undo(
        config,
        &entries,
        installed.iter().map(|(p, _, _)| p.as_path()),
    )?;
    for (path, fp, subject) in installed {
        println!("{fp}  {subject}\n  -> {}", path.display());
    }
    Ok(0)
}

/// Records the installation in the transparency log; when that fails, removes what was installed
/// so that no trust change goes unlogged.
fn log_or_undo<'a>(
    config: &Config,
    entries: &[crate::store::LogInput],
    installed: impl Iterator<Item = &'a Path>,
) -> Result<(), CliError> {
    let result = super::runtime()?.block_on(async {
        let store = crate::store::Store::connect(&config.database).await?;
        let r = store
            .log_append(entries, time::OffsetDateTime::now_utc())
            .await;
        store.close().await;
        r
    });
    if let Err(e) = result {
        for path in installed {
            let _ = std::fs::remove_file(path);
        }
        return Err(CliError::new(
            super::EXIT_UNAVAILABLE,
            format!("cannot record the change in the transparency log, nothing installed: {e}"),
        ));
    }
    Ok(())
}

fn list(config: &Config, lang: Lang) -> Result<u8, CliError> {
    let store = crate::verify::engine::load_trust_store(config, &[])
        .map_err(|e| CliError::new(EXIT_CONFIG, e.to_string()))?;
    println!("{}:", lang.pick("Gốc tin cậy", "Trust anchors"));
    for a in store.anchors() {
        println!(
            "  {}  {}  [{}]{}",
            a.sha256_hex(),
            subject(a.cert()),
            a.official()
                .map(|r| r.name.to_owned())
                .unwrap_or_else(|| lang.pick("không chính thức", "unofficial").to_owned()),
            a.source()
                .map(|p| format!("  {}", p.display()))
                .unwrap_or_default()
        );
    }
    println!(
        "{}: {}",
        lang.pick("Chứng thư trung gian", "Intermediates"),
        store.intermediates().len()
    );
    Ok(0)
}

fn subject(cert: &openssl::x509::X509Ref) -> String {
    crate::pki::path::display_name(cert.subject_name())
}
