//! The interactive terminal app: a line-oriented prompt over the running node. Remote changes are
//! printed as they arrive (the open document is shown again), with the status line.

use std::sync::{Arc, Mutex};

use tokio::io::AsyncBufReadExt;

use crate::app::{App, ShownDoc, now_ms};
use crate::run::Running;
use crate::{AppError, events, ids};

const HELP: &str = "\
commands (N is a number from `list`, or a document id; most act on the open document):
  list                      documents
  new TITLE                 create a document and open it
  open N                    open and show a document
  show                      show the open document again
  append TEXT               add text at the end of the body
  insert POS TEXT           insert text at character position POS
  del POS LEN               delete LEN characters at POS
  title TEXT                change the title
  attach FILE               attach a file
  save NAME PATH            save an attachment to a file
  detach NAME               remove an attachment
  rm [N]                    delete a document (on every device)
  status | peers | id       sync status, connected peers, this device
  pair URL PASSWORD         pair with a server (plain http is safe)
  pair LINK                 pair with an invitation link (humansync://pair?…)
  invite                    print a one-time invitation for another device (link + QR)
  help | quit";

/// State shared between the prompt and the event printer.
#[derive(Default)]
struct View {
    /// The open document's id.
    open: Option<String>,
    /// Ids of the last `list`, for numbers.
    listed: Vec<String>,
}

/// Runs the prompt until `quit`, end of input, or a `stop` request; then shuts the app down.
pub async fn run(running: Running) -> Result<(), AppError> {
    let app = running.app.clone();
    let view = Arc::new(Mutex::new(View::default()));
    println!(
        "Humandocs — device {}. Type `help`.",
        &app.node().id().to_string()[..8]
    );
    print_status(&app).await;
    let printer = tokio::spawn(print_remote_changes(app.clone(), view.clone()));
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut stopped = running.stop.subscribe();
    loop {
        prompt();
        let line = tokio::select! {
            l = lines.next_line() => l.map_err(AppError::io("reading the terminal"))?,
            _ = crate::server::stopped(&mut stopped) => None,
        };
        let Some(line) = line else { break };
        let trimmed = line.trim();
        if matches!(trimmed, "quit" | "exit" | "q") {
            break;
        }
        if trimmed.is_empty() {
            continue;
        }
        // Keep trailing spaces: they may be part of the text to insert.
        if let Err(e) = command(&app, &view, line.trim_start().trim_end_matches('\r')).await {
            println!("error: {e}");
        }
    }
    printer.abort();
    running.shutdown().await
}

fn prompt() {
    use std::io::Write;
    print!("> ");
    let _ = std::io::stdout().flush();
}

async fn print_status(app: &App) {
    if let Ok(s) = app.status().await {
        println!("[{}]", s.line(now_ms()));
    }
}

/// The first word and the rest after exactly one separator (the rest keeps its spaces).
fn word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.char_indices().find(|(_, c)| c.is_whitespace()) {
        Some((i, c)) => (&s[..i], &s[i + c.len_utf8()..]),
        None => (s, ""),
    }
}

fn number(s: &str, what: &str) -> Result<usize, AppError> {
    s.parse()
        .map_err(|_| AppError::BadRequest(format!("{what} must be a number, got {s:?}")))
}

/// Resolves `N` (from the last list), an id, or nothing (the open document).
fn target(view: &Arc<Mutex<View>>, arg: &str) -> Result<String, AppError> {
    let v = view
        .lock()
        .map_err(|_| AppError::Internal("ui state poisoned".into()))?;
    if arg.is_empty() {
        return v
            .open
            .clone()
            .ok_or_else(|| AppError::BadRequest("no open document: `list`, then `open N`".into()));
    }
    if let Ok(n) = arg.parse::<usize>() {
        return v
            .listed
            .get(n.wrapping_sub(1))
            .cloned()
            .ok_or_else(|| AppError::BadRequest(format!("no document number {n} in the last list")));
    }
    ids::parse_doc_id(arg).ok_or_else(|| AppError::BadId(arg.to_owned()))
}

fn set_open(view: &Arc<Mutex<View>>, id: Option<String>) {
    if let Ok(mut v) = view.lock() {
        v.open = id;
    }
}

fn print_doc(doc: &ShownDoc) {
    println!("── {} ({})", doc.view.title, ids::short(&doc.id));
    println!("{}", doc.view.body);
    for a in &doc.view.attachments {
        println!("  📎 {} ({} bytes, {})", a.name, a.size, a.mime);
    }
}

async fn command(app: &App, view: &Arc<Mutex<View>>, line: &str) -> Result<(), AppError> {
    let (cmd, rest) = word(line);
    match cmd {
        "help" | "?" => println!("{HELP}"),
        "list" | "ls" => {
            let items = app.list().await?;
            if items.is_empty() {
                println!("no documents yet: `new TITLE`");
            }
            for (i, item) in items.iter().enumerate() {
                println!(
                    "{:>3}. {} — {} chars, {} attachments ({})",
                    i + 1,
                    item.title,
                    item.chars,
                    item.attachments,
                    ids::short(&item.id)
                );
            }
            if let Ok(mut v) = view.lock() {
                v.listed = items.into_iter().map(|i| i.id).collect();
            }
        }
        "new" => {
            let doc = app.create(rest, "").await?;
            set_open(view, Some(doc.id.clone()));
            print_doc(&doc);
        }
        "open" | "show" => {
            let doc = app.show(&target(view, rest.trim())?).await?;
            set_open(view, Some(doc.id.clone()));
            print_doc(&doc);
        }
        "append" => print_doc(&app.append(&target(view, "")?, rest).await?),
        "insert" => {
            let (pos, text) = word(rest);
            let pos = number(pos, "POS")?;
            print_doc(&app.splice(&target(view, "")?, pos, 0, text).await?);
        }
        "del" => {
            let (pos, rest) = word(rest);
            let (len, _) = word(rest);
            let (pos, len) = (number(pos, "POS")?, number(len, "LEN")?);
            print_doc(&app.splice(&target(view, "")?, pos, len, "").await?);
        }
        "title" => print_doc(&app.set_title(&target(view, "")?, rest).await?),
        "attach" => {
            let path = std::path::absolute(rest.trim()).map_err(AppError::io("resolving the path"))?;
            let a = app.attach(&target(view, "")?, &path, None).await?;
            println!("attached {} ({} bytes)", a.name, a.size);
        }
        "save" => {
            let (name, path) = word(rest);
            let path = std::path::absolute(path.trim()).map_err(AppError::io("resolving the path"))?;
            let done = app.save_attachment(&target(view, "")?, name, &path).await?;
            println!("saved {} bytes to {}", done["bytes"], path.display());
        }
        "detach" => print_doc(&app.detach(&target(view, "")?, rest.trim()).await?),
        "rm" => {
            let id = app.delete(&target(view, rest.trim())?).await?;
            println!("deleted {}", ids::short(&id));
            set_open(view, None);
        }
        "status" => print_status(app).await,
        "peers" => {
            let s = app.status().await?;
            if s.peers.is_empty() {
                println!("no peers connected");
            }
            for p in s.peers {
                let sync = if p.up_to_date { "up to date" } else { "syncing" };
                println!("  {} {} — {sync}", p.role, p.id);
            }
        }
        "id" => println!("{}", app.node().id()),
        "pair" => {
            let (url, password) = word(rest);
            app.pair(url, Some(password.trim())).await?;
            println!("paired");
            print_status(app).await;
        }
        "invite" => {
            let invitation = app.node().create_invitation(None).await?;
            let link = invitation.to_link();
            println!("{}", humansync::render_qr(&link)?);
            println!("{link}\nValid for 10 minutes, for one device: open it there with `pair LINK`.");
        }
        other => println!("unknown command {other:?}; `help` lists them"),
    }
    Ok(())
}

/// Prints remote changes as they arrive; re-shows the open document when it changed.
async fn print_remote_changes(app: App, view: Arc<Mutex<View>>) {
    let mut rx = app.node().events();
    loop {
        let event = match rx.recv().await {
            Ok(e) => e,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(_) => return,
        };
        let Some(text) = events::describe_remote(&event) else {
            continue;
        };
        println!("\n* {text}");
        let open = view.lock().ok().and_then(|v| v.open.clone());
        if let humansync::Event::DocChanged { doc, .. } = &event
            && open.as_deref() == Some(doc.as_str())
            && let Ok(shown) = app.show(doc.as_str()).await
        {
            print_doc(&shown);
        }
        print_status(&app).await;
        prompt();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_targets() {
        assert_eq!(word("  insert 3 hello  world "), ("insert", "3 hello  world "));
        assert_eq!(word(" hello"), ("hello", ""));
        assert_eq!(word("0  two"), ("0", " two"));
        assert_eq!(word("list"), ("list", ""));
        let view = Arc::new(Mutex::new(View::default()));
        assert!(target(&view, "").is_err());
        assert!(target(&view, "1").is_err());
        let id = ids::new_doc_id().expect("id");
        view.lock().expect("lock").listed = vec![id.clone()];
        assert_eq!(target(&view, "1").expect("n"), id);
        assert_eq!(target(&view, ids::short(&id)).expect("id"), id);
        assert!(target(&view, "0").is_err());
    }
}
