//! The `humandocs` binary: see `humandocs --help` and the crate docs of the `humandocs` library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use humandocs::cli::{Cli, Command, NodeArgs, UiArgs};
use humandocs::ipc::Request;
use humandocs::settings::Settings;
use humandocs::setup::{self, SetupAnswer};
use humandocs::{AppError, client, run, ui, waits};
use serde_json::{Value, json};

/// jemalloc, not the C library's malloc: during an initial sync glibc's kept about 6x the live heap
/// resident, jemalloc about 2x (README, "Using the library").
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let data = match cli.data.clone().or_else(default_data_dir) {
        Some(d) => d,
        None => return fail(&AppError::BadRequest("no data directory: pass --data DIR".into())),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return fail(&AppError::io("starting the runtime")(e)),
    };
    match runtime.block_on(dispatch(&data, cli.command)) {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(value)) => {
            println!("{value}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

/// Prints the error as JSON on stdout and as text on stderr; exit status 1.
fn fail(e: &AppError) -> ExitCode {
    println!(
        "{}",
        json!({ "error": { "code": e.code(), "message": e.to_string() } })
    );
    eprintln!("humandocs: {e}");
    ExitCode::FAILURE
}

fn default_data_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("HUMANDOCS_DATA") {
        return Some(d.into());
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME") {
        return Some(PathBuf::from(d).join("humandocs"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/humandocs"))
}

fn absolute(p: &Path) -> Result<PathBuf, AppError> {
    std::path::absolute(p).map_err(AppError::io(format!("resolving {}", p.display())))
}

async fn dispatch(data: &Path, command: Option<Command>) -> Result<Option<Value>, AppError> {
    let request = match command {
        None => return browser_ui(data, UiArgs::default()).await.map(|_| None),
        Some(Command::Ui(args)) => return browser_ui(data, args).await.map(|_| None),
        Some(Command::Shell(args)) => return interactive(data, args).await.map(|_| None),
        Some(Command::Run(args)) => {
            run::init_logging(None)?;
            let password = args.password.clone();
            run::start(data, &args, password).await?.until_stopped().await?;
            return Ok(None);
        }
        Some(Command::Keys { to }) => return keys(data, to).await.map(Some),
        Some(Command::WaitFor { timeout, condition }) => {
            return waits::wait_for(data, &condition, timeout).await.map(Some);
        }
        Some(Command::App(Request::Watch)) => return watch(data).await.map(|_| None),
        Some(Command::App(Request::Attach { id, path, name })) => Request::Attach {
            id,
            path: absolute(&path)?,
            name,
        },
        Some(Command::App(Request::SaveAttachment { id, name, path })) => Request::SaveAttachment {
            id,
            name,
            path: absolute(&path)?,
        },
        Some(Command::App(request)) => request,
    };
    client::request(data, request).await.map(Some)
}

/// `keys [--to PLACE]`: moves the device keys when asked, then says where each one is.
async fn keys(data: &Path, to: Option<humansync::KeyPlace>) -> Result<Value, AppError> {
    let data = data.to_path_buf();
    let answer = tokio::task::spawn_blocking(move || -> Result<Value, humansync::Error> {
        let moved = match to {
            Some(place) => humansync::move_device_keys(&data, place)?.moved,
            None => Vec::new(),
        };
        let places = humansync::keys::device_key_places(&data).map_err(humansync::Error::Key)?;
        let keys: serde_json::Map<String, Value> = places
            .into_iter()
            .map(|(secret, place)| (secret.file_name().to_owned(), json!(place.name())))
            .collect();
        let moved: Vec<&str> = moved.into_iter().map(|s| s.file_name()).collect();
        Ok(json!({ "keys": keys, "moved": moved }))
    })
    .await
    .map_err(|e| AppError::BadRequest(format!("keys: {e}")))?;
    Ok(answer?)
}

/// Streams events of the running app as JSON lines.
async fn watch(data: &Path) -> Result<(), AppError> {
    let mut conn = client::Connection::open(data)
        .await?
        .ok_or_else(|| AppError::NotRunning(data.display().to_string()))?;
    ipc_watch(&mut conn).await
}

async fn ipc_watch(conn: &mut client::Connection) -> Result<(), AppError> {
    use std::io::Write;
    let first = conn.call(&Request::Watch).await?;
    println!("{first}");
    loop {
        let event = conn.next().await?;
        println!("{event}");
        let _ = std::io::stdout().flush();
    }
}

/// The app with its browser UI: the node, the socket and the page on loopback, until Ctrl-C,
/// SIGTERM or a `stop` request. Pairing happens in the page (Devices), or with `--server` and
/// `--password` as for `run`.
async fn browser_ui(data: &Path, args: UiArgs) -> Result<(), AppError> {
    std::fs::create_dir_all(data).map_err(AppError::io(format!("creating {}", data.display())))?;
    run::init_logging(Some(&data.join("humandocs.log")))?;
    let listener = humandocs::web::bind(args.ui_port.unwrap_or(humandocs::web::DEFAULT_PORT)).await?;
    let running = run::start(data, &args.node, args.node.password.clone()).await?;
    let ui = humandocs::web::spawn(listener, running.app.clone(), running.stop.subscribe())?;
    let url = ui.url();
    println!(
        "Humandocs is running at {url} (data: {}). Ctrl-C stops it.",
        data.display()
    );
    if !args.no_browser {
        open_browser(&url);
    }
    running.until_stopped().await?;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), ui.stopped()).await;
    Ok(())
}

/// Opens `url` with `xdg-open` when there is one (and a display); silently nothing otherwise.
fn open_browser(url: &str) {
    let has_display = std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if !has_display {
        return;
    }
    let spawned = std::process::Command::new("xdg-open")
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Ok(mut child) = spawned {
        std::thread::spawn(move || {
            let _ = child.wait();
        });
    }
}

/// The interactive app; the first run asks for a server and password.
async fn interactive(data: &Path, mut args: NodeArgs) -> Result<(), AppError> {
    std::fs::create_dir_all(data).map_err(AppError::io(format!("creating {}", data.display())))?;
    run::init_logging(Some(&data.join("humandocs.log")))?;
    let mut settings = Settings::load(data)?;
    let mut password = args.password.clone();
    if !settings.setup_done && args.server.is_none() && settings.server_url.is_none() {
        let answer =
            tokio::task::spawn_blocking(|| setup::ask(&mut std::io::stdin().lock(), &mut std::io::stdout()))
                .await
                .map_err(|e| AppError::Internal(e.to_string()))??;
        let mut invitation = None;
        match answer {
            SetupAnswer::Pair { url, password: pw } => {
                args.server = Some(url);
                password = Some(pw);
            }
            SetupAnswer::Invitation { link } => invitation = Some(link),
            SetupAnswer::Skip => {}
        }
        settings.setup_done = true;
        settings.save(data)?;
        if let Some(link) = invitation {
            let running = run::start(data, &args, None).await?;
            match running.app.pair(&link, None).await {
                Ok(()) => println!("Paired by invitation."),
                Err(e) => println!("Pairing with the invitation failed: {e} (try `pair LINK` again)"),
            }
            return ui::run(running).await;
        }
    }
    let running = run::start(data, &args, password).await?;
    ui::run(running).await
}
