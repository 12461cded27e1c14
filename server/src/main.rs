//! `humansync-server`: see the crate docs of `humansync_server` and `--help`.

use std::process::ExitCode;

use clap::Parser;
use humansync_server::config::{
    Cli, Command, DevicesAction, InvitesAction, PasswordSource, ServerConfig, parse_duration_ms,
};
use humansync_server::{Overrides, admin, admin_invite, clock::Clock, healthcheck};

/// jemalloc, not the C library's malloc: during an initial sync glibc's kept about 6x the live heap
/// resident, jemalloc about 2x (README, "Using the library").
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read at its first allocation (`_RJEM_MALLOC_CONF` in the environment
/// still overrides them). By default jemalloc returns freed pages to the OS only over ~10 s and
/// only while the process keeps allocating, so an idle server kept what start-up and the last
/// sync had freed: 82 MiB resident at 100,000 documents where 64 MiB were in use (benchmark 6).
/// A background thread returns them within about a second of becoming free, busy or idle.
#[cfg(not(target_env = "msvc"))]
#[allow(unsafe_code, non_upper_case_globals)]
// SAFETY: jemalloc reads this weak symbol as a `const char *` to a NUL-terminated string; a
// `&'static u8` to the first byte of a static byte string has that layout, and is never written.
#[unsafe(export_name = "_rjem_malloc_conf")]
static malloc_conf: &u8 = &b"background_thread:true,dirty_decay_ms:1000\0"[0];

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
        Command::Invite { ttl, link_only } => invite(&config, &ttl, link_only).await,
        Command::Invites { action } => invites(&config, action).await,
    }
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("humansync-server: {e}");
    ExitCode::FAILURE
}

async fn invite(config: &ServerConfig, ttl: &str, link_only: bool) -> ExitCode {
    let ttl_ms = match parse_duration_ms(ttl) {
        Ok(ms) => humansync_server::invitations::granted_ttl_ms(Some(ms)),
        Err(e) => return fail(e),
    };
    let url = match config
        .public_url
        .clone()
        .or_else(|| (!config.http_addr.ip().is_unspecified()).then(|| format!("http://{}", config.http_addr)))
    {
        Some(url) => url,
        None => {
            return fail(
                "give --public-url http://HOST:PORT (or HUMANSYNC_PUBLIC_URL): the address devices use to reach this server",
            );
        }
    };
    match admin_invite::mint(&config.data_dir, &url, ttl_ms, Clock::system().now_ms()).await {
        Ok(invitation) => {
            let link = invitation.to_link();
            if link_only {
                println!("{link}");
                return ExitCode::SUCCESS;
            }
            match humansync::render_qr(&link) {
                Ok(qr) => println!("{qr}"),
                Err(e) => eprintln!("(no QR code: {e})"),
            }
            println!("{link}\n");
            println!(
                "One device may pair with it, until {} ms since 1970 ({} minutes from now). Id: {}",
                invitation.expires_at_ms,
                ttl_ms / 60_000,
                invitation.id()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

async fn invites(config: &ServerConfig, action: InvitesAction) -> ExitCode {
    let now = Clock::system().now_ms();
    match action {
        InvitesAction::List { json } => match admin_invite::list(&config.data_dir).await {
            Ok(rows) if json => match serde_json::to_string_pretty(&rows) {
                Ok(text) => {
                    println!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            },
            Ok(rows) => {
                println!("{:<64}  {:<8}  {:>14}  minted_by", "id", "state", "expires_at_ms");
                for r in rows {
                    println!(
                        "{}  {:<8}  {:>14}  {}",
                        r.id,
                        r.state(now),
                        r.expires_at_ms,
                        r.minted_by
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        InvitesAction::Revoke { id } => match admin_invite::revoke(&config.data_dir, &id, now).await {
            Ok(0) => fail(format!(
                "no unused invitation starts with {id:?} (give at least 8 hex characters)"
            )),
            Ok(n) => {
                println!("revoked {n} invitation(s)");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
    }
}

async fn serve(config: ServerConfig) -> ExitCode {
    // Before anything slow: a SIGTERM during the start-up is kept and stops the server cleanly
    // once it has started, instead of killing it by the signal's default action.
    let mut stop = match humansync::StopSignal::listen() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot install the SIGTERM handler: {e}");
            return ExitCode::FAILURE;
        }
    };
    if config.password_source == PasswordSource::Argument {
        tracing::warn!(
            "the password was given as --password, HUMANSYNC_PASSWORD or in the config file: other local users can read it (ps, docker inspect); use --password-file or a Docker secret instead"
        );
    }
    let server = match humansync_server::start(config, Overrides::default()).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(node_id = %server.id(), http = %server.http_addr(), "humansync-server ready");
    stop.recv().await;
    tracing::info!("shutting down");
    match server.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("shutdown: {e}");
            ExitCode::FAILURE
        }
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
