//! First interactive run: ask for the server URL and password, or an invitation link (all may be
//! skipped: the app works unpaired and can pair later with `pair`).

use std::io::{BufRead, IsTerminal, Write};

use crate::AppError;

/// What the person answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupAnswer {
    /// Pair with this server.
    Pair {
        /// Server URL.
        url: String,
        /// Password.
        password: String,
    },
    /// Pair with this invitation link (no password).
    Invitation {
        /// The `humansync://pair?…` link.
        link: String,
    },
    /// Use the app unpaired for now.
    Skip,
}

/// Asks on the terminal (blocking; call from a blocking task).
pub fn ask(input: &mut impl BufRead, output: &mut impl Write) -> Result<SetupAnswer, AppError> {
    writeln!(
        output,
        "Welcome to Humandocs. Your documents stay on this device and sync to your other devices."
    )
    .map_err(term)?;
    write!(
        output,
        "Server URL, or an invitation link from another device (empty to skip, pair later with `pair`): "
    )
    .map_err(term)?;
    output.flush().map_err(term)?;
    let url = read_trimmed(input)?;
    if url.is_empty() {
        writeln!(output, "Skipped: working offline and unpaired.").map_err(term)?;
        return Ok(SetupAnswer::Skip);
    }
    if url.starts_with("humansync://") {
        return Ok(SetupAnswer::Invitation { link: url });
    }
    write!(output, "Server password: ").map_err(term)?;
    output.flush().map_err(term)?;
    let hide = std::io::stdin().is_terminal();
    if hide {
        set_echo(false);
    }
    let password = read_trimmed(input);
    if hide {
        set_echo(true);
        let _ = writeln!(output);
    }
    let password = password?;
    if password.is_empty() {
        writeln!(output, "No password: skipped pairing.").map_err(term)?;
        return Ok(SetupAnswer::Skip);
    }
    Ok(SetupAnswer::Pair { url, password })
}

fn term(e: std::io::Error) -> AppError {
    AppError::io("terminal")(e)
}

fn read_trimmed(input: &mut impl BufRead) -> Result<String, AppError> {
    let mut line = String::new();
    std::io::Read::take(&mut *input, 64 * 1024)
        .read_line(&mut line)
        .map_err(AppError::io("reading the terminal"))?;
    Ok(line.trim().to_owned())
}

/// Turns terminal echo on or off (`stty`), so the password is not shown.
fn set_echo(on: bool) {
    let _ = std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_url_skips_and_answers_pair() {
        let mut out = Vec::new();
        let mut skip: &[u8] = b"\n";
        assert_eq!(ask(&mut skip, &mut out).expect("ask"), SetupAnswer::Skip);
        let mut pair: &[u8] = b" http://10.0.0.1:8080 \nsecret\n";
        assert_eq!(
            ask(&mut pair, &mut out).expect("ask"),
            SetupAnswer::Pair {
                url: "http://10.0.0.1:8080".into(),
                password: "secret".into()
            }
        );
        let mut no_password: &[u8] = b"http://10.0.0.1:8080\n\n";
        assert_eq!(ask(&mut no_password, &mut out).expect("ask"), SetupAnswer::Skip);
        // An invitation link needs no password.
        let mut link: &[u8] = b" humansync://pair?v=1&url=x \n";
        assert_eq!(
            ask(&mut link, &mut out).expect("ask"),
            SetupAnswer::Invitation {
                link: "humansync://pair?v=1&url=x".into()
            }
        );
    }
}
