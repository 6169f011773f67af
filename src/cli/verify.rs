//! `antin verify`: the auditors' contract (flags, output formats and exit codes are stable).

use time::OffsetDateTime;

use super::{CliError, Format, VerifyArgs, EXIT_DATA, EXIT_NOINPUT, EXIT_SOFTWARE, EXIT_USAGE};
use crate::config::Config;
use crate::i18n::Lang;
use crate::verify::{engine, text, Input, Verifier, VerifyError, VerifyOptions};

pub fn run(config: &Config, args: VerifyArgs, lang: Lang) -> Result<u8, CliError> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| CliError::new(EXIT_NOINPUT, format!("{}: {e}", p.display())))
    };
    let file = read(&args.file)?;
    let input = match &args.signature {
        Some(sig) => Input::Detached {
            data: file,
            signature: read(sig)?,
        },
        None => Input::Pdf(file),
    };
    let mut options = VerifyOptions::from_config(&config.verify);
    if args.offline {
        options.offline = true;
    }
    if let Some(r) = args.revocation {
        options.revocation = r.into();
    }
    if let Some(at) = &args.at {
        options.at = Some(crate::timefmt::parse_rfc3339(at).ok_or_else(|| {
            CliError::new(EXIT_USAGE, format!("--at {at:?} is not an RFC 3339 time"))
        })?);
    }
    for crl in &args.crl {
        options.extra_crls.push(read(crl)?);
    }
    options.expected_signer_id = args.expect_id.clone();

    let context = engine::Context::from_config(config, &args.trust)
        .map_err(|e| CliError::new(super::EXIT_CONFIG, e.to_string()))?;
    let now = OffsetDateTime::now_utc();
    let outcome = if options.offline {
        context
            .run(&input, &options, now, &Default::default())
            .map(|r| r.outcome)
    } else {
        let rt = super::runtime()?;
        rt.block_on(Verifier::new(context).verify(input, options, now))
    };
    let outcome = match outcome {
        Ok(o) => o,
        Err(VerifyError::Unreadable(detail)) => {
            return Err(CliError::new(
                EXIT_DATA,
                format!(
                    "{}: {detail}",
                    lang.pick("không đọc được tài liệu", "cannot read the document")
                ),
            ))
        }
        Err(e) => return Err(CliError::new(EXIT_SOFTWARE, e.to_string())),
    };
    match args.format {
        Format::Json => {
            let json = serde_json::to_string_pretty(&outcome.report)
                .map_err(|e| CliError::new(EXIT_SOFTWARE, e.to_string()))?;
            println!("{json}");
        }
        Format::Text => print!("{}", text::render(&outcome.report, lang)),
    }
    Ok(outcome.report.verdict.exit_code())
}
