#![forbid(unsafe_code)]
//! The `safetymap` binary; everything lives in the library.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = safetymap::cli::Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("safetymap=info,tower_http=warn")),
        )
        .with_writer(std::io::stderr);
    if cli.config.log_format == "json" {
        // One object per line; span fields (the request id among them)
        // are in each line's `span` and `spans`.
        logs.json().init();
    } else {
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    match safetymap::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("safetymap: {e:#}");
            ExitCode::FAILURE
        }
    }
}
