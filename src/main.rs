//! The `antin` binary: parse arguments, run the library, map the result to an exit code.
#![deny(unsafe_code)]

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = match antin::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(antin::cli::EXIT_USAGE),
            };
        }
    };
    match antin::cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("antin: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}
