//! `latchkey`: the authorization server (`serve`), its administration (`clients`, `users`,
//! `migrate`), a native-app client (`token`) and the all-in-one `demo`.

pub mod cli;
pub mod commands;
pub mod config;
pub mod demo;
mod lifecycle;
mod limits;

use std::process::ExitCode;

use clap::Parser;

/// Runs the command line; errors are one line on stderr and a non-zero exit.
pub fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
