//! `humansync-server`: see the crate docs of `humansync_server` and `--help`.

use std::process::ExitCode;

use clap::Parser;
use humansync_server::config::{Cli, Command, DevicesAction, ServerConfig};
use humansync_server::{Overrides, admin, clock::Clock, healthcheck};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = match ServerConfig::resolve(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("humansync-server: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command.clone().unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Healthcheck => match healthcheck::check(
            config.http_addr,
            config.tls.as_ref().map(|(cert, _)| cert.as_path()),
        )
        .await
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("unhealthy: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Devices { action } => devices(&config, action).await,
    }
}

async fn serve(config: ServerConfig) -> ExitCode {
    let server = match humansync_server::start(config, Overrides::default()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(node_id = %server.id(), http = %server.http_addr(), "humansync-server ready");
    wait_for_signal().await;
    tracing::info!("shutting down");
    match server.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("shutdown: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn devices(config: &ServerConfig, action: DevicesAction) -> ExitCode {
    match action {
        DevicesAction::List { json } => match admin::list(&config.data_dir).await {
            Ok(devices) if json => match serde_json::to_string_pretty(&devices) {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            },
            Ok(devices) => {
                println!(
                    "{:<64}  {:<24}  {:>14}  revoked_at_ms",
                    "node_id", "name", "paired_at_ms"
                );
                for d in devices {
                    let revoked = d.revoked_at_ms.map_or("-".to_owned(), |t| t.to_string());
                    println!("{}  {:<24}  {:>14}  {revoked}", d.node_id, d.name, d.paired_at_ms);
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("humansync-server: {e}");
                ExitCode::FAILURE
            }
        },
        DevicesAction::Revoke { node_id } => {
            match admin::revoke(&config.data_dir, &node_id, Clock::system().now_ms()).await {
                Ok((at, true)) => {
                    println!("revoked {node_id} at {at} (a running server applies it within seconds)");
                    ExitCode::SUCCESS
                }
                Ok((at, false)) => {
                    println!("{node_id} was already revoked at {at}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("humansync-server: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
