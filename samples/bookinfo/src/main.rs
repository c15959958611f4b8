//! `bookinfo <productpage|details|reviews|ratings>`: runs one service of the bookinfo sample.

use std::io::IsTerminal;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = bookinfo::config::Cli::parse();
    // clap reads one variable per flag; `HTTP_PROXY` is the upper-case spelling of the same.
    let config = cli.into_config(std::env::var("HTTP_PROXY").ok())?;
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stdout)
        // Colour codes only for a person at a terminal, not in `kubectl logs`.
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    bookinfo::run(config, shutdown_signal())
        .await
        .context("serving")
}

/// Completes on SIGTERM (what Kubernetes sends) or ctrl-c.
async fn shutdown_signal() {
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
    tracing::info!("shutting down after in-flight requests");
}
