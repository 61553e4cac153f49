//! `platform-catalog`: decide which build of each platform component every cluster runs.

use std::process::ExitCode;

use clap::Parser;
use platform_catalog::cli;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
