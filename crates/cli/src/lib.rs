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

/// `e` and its causes on one line, as `{:#}` prints them, but each message once: an error
/// that already ends with its source's message (as the store's and sqlx's do, which also
/// keep that source) does not repeat it.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let message = cause.to_string();
        if line.is_empty() {
            line = message;
        } else if !line.ends_with(&message) {
            line.push_str(": ");
            line.push_str(&message);
        }
    }
    line
}

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
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    /// A store failure keeps the driver's error as its source and says it too: the line
    /// says it once, as before the source was kept.
    #[test]
    fn an_error_line_says_each_cause_once() {
        let store = latchkey_store::StoreError::from(sqlx::Error::PoolTimedOut);
        let e = anyhow::Error::new(store).context("database_url `x`");
        assert_eq!(
            one_line(&e),
            "database_url `x`: database unavailable: pool timed out while waiting for an open connection"
        );
        assert_eq!(one_line(&anyhow::anyhow!("inner").context("outer")), "outer: inner");
    }
}
