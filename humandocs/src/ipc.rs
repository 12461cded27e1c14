//! The local socket protocol between the running app and its scripted clients.
//!
//! The running app (`humandocs run`, or the interactive mode) listens on the Unix socket
//! `<data>/humandocs.sock` (mode 0600). A client writes one [`Request`] as a JSON line and reads
//! one [`Response`] JSON line back; `watch` instead streams one [`Response`] per event until the
//! client hangs up. Lines are at most [`MAX_LINE`] bytes.
//!
//! ```text
//! → {"cmd":"create","title":"Trip","body":"pack bags"}
//! ← {"ok":true,"result":{"id":"humandocs/doc-…","title":"Trip","body":"pack bags",…}}
//! → {"cmd":"insert","id":"humandocs/doc-…","pos":0,"text":"hi "}
//! ← {"ok":false,"error":{"code":"out_of_range","message":"position 9..9 is outside …"}}
//! ```

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

use crate::AppError;

/// Longest request or response line, in bytes.
pub const MAX_LINE: usize = 4 << 20;

/// File name of the socket under the data directory.
pub const SOCKET_NAME: &str = "humandocs.sock";

/// One request to the running app; also the document commands of the command line
/// ([`crate::cli::Command`] flattens it), so the two cannot drift apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, clap::Subcommand)]
#[serde(tag = "cmd", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// List documents: id, title, sizes.
    List,
    /// Create a document.
    Create {
        /// Its title.
        #[arg(long)]
        title: String,
        /// Initial body text.
        #[serde(default)]
        #[arg(long, default_value = "")]
        body: String,
    },
    /// Show a document in full (title, body, attachments).
    Show {
        /// Document id (full or uuid).
        id: String,
    },
    /// Insert text into the body at a character position.
    Insert {
        /// Document id.
        id: String,
        /// Position in characters.
        pos: usize,
        /// Text to insert.
        text: String,
    },
    /// Delete `len` characters of the body at `pos`.
    DeleteText {
        /// Document id.
        id: String,
        /// Position in characters.
        pos: usize,
        /// Characters to delete.
        len: usize,
    },
    /// Append text to the body.
    Append {
        /// Document id.
        id: String,
        /// Text to append.
        text: String,
    },
    /// Change the title.
    SetTitle {
        /// Document id.
        id: String,
        /// The new title.
        title: String,
    },
    /// Delete a document on every device.
    Delete {
        /// Document id.
        id: String,
    },
    /// Attach a file to a document (copied into the blob store).
    Attach {
        /// Document id.
        id: String,
        /// Path of the file (made absolute by the command line).
        path: PathBuf,
        /// Attachment name; the file name when absent.
        #[serde(default)]
        #[arg(long)]
        name: Option<String>,
    },
    /// Remove an attachment from a document.
    Detach {
        /// Document id.
        id: String,
        /// Attachment name.
        name: String,
    },
    /// Save an attachment's bytes to a file (fetching them from a peer if needed).
    SaveAttachment {
        /// Document id.
        id: String,
        /// Attachment name.
        name: String,
        /// Destination path (made absolute by the command line).
        path: PathBuf,
    },
    /// Whether an attachment's bytes are available (held, or fetched within a moment).
    #[command(skip)]
    AttachmentReady {
        /// Document id.
        id: String,
        /// Attachment name.
        name: String,
    },
    /// Sync status: peers, pending, last sync, pairing.
    Status,
    /// Connected peers.
    Peers,
    /// This device's id and addresses.
    Id,
    /// Pair with a server: its URL and password, or an invitation link alone.
    Pair {
        /// Server URL, e.g. http://192.168.1.10:8080 (plain http is safe: the password never
        /// leaves this device), or an invitation link `humansync://pair?…`.
        url: String,
        /// Server password (not with an invitation link).
        #[serde(default)]
        password: Option<String>,
    },
    /// Mint a one-time invitation for another device (this one must be paired): a link and a QR code.
    Invite {
        /// How long it stays valid, in minutes [default: 10].
        #[arg(long)]
        #[serde(default)]
        minutes: Option<u64>,
    },
    /// Revoke a device (a lost or stolen one) with the server password.
    Revoke {
        /// The device id (64 hex characters).
        device: String,
        /// Server password.
        password: String,
    },
    /// Stream events (changes, peers, attachments), one JSON line each, until the client hangs up
    /// (needs a running app).
    Watch,
    /// Stop the running app gracefully.
    Stop,
}

/// The error part of a failed [`Response`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable snake_case code (see [`AppError::code`]).
    pub code: String,
    /// Human text.
    pub message: String,
}

/// One answer line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Whether the request succeeded.
    pub ok: bool,
    /// The result, on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// The error, on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

impl Response {
    /// A success carrying `result`.
    pub fn ok(result: serde_json::Value) -> Self {
        Response {
            ok: true,
            result: Some(result),
            error: None,
        }
    }

    /// A failure.
    pub fn err(e: &AppError) -> Self {
        Response {
            ok: false,
            result: None,
            error: Some(ErrorBody {
                code: e.code().to_owned(),
                message: e.to_string(),
            }),
        }
    }

    /// Success or failure as a Result.
    pub fn from_result(r: Result<serde_json::Value, AppError>) -> Self {
        match r {
            Ok(v) => Response::ok(v),
            Err(e) => Response::err(&e),
        }
    }
}

/// Reads one line of at most [`MAX_LINE`] bytes; `None` at end of stream.
pub async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<Option<Vec<u8>>, AppError> {
    let mut line = Vec::new();
    loop {
        let chunk = reader.fill_buf().await.map_err(AppError::io("socket read"))?;
        if chunk.is_empty() {
            return Ok((!line.is_empty()).then_some(line));
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if line.len() + take > MAX_LINE + 1 {
            return Err(AppError::TooLarge("socket line"));
        }
        line.extend_from_slice(&chunk[..take]);
        reader.consume(take);
        if done {
            line.pop();
            return Ok(Some(line));
        }
    }
}

/// Writes `value` as one JSON line.
pub async fn write_line<W: AsyncWrite + Unpin, T: Serialize>(
    writer: &mut W,
    value: &T,
) -> Result<(), AppError> {
    let mut bytes = serde_json::to_vec(value).map_err(|e| AppError::Internal(e.to_string()))?;
    bytes.push(b'\n');
    writer
        .write_all(&bytes)
        .await
        .map_err(AppError::io("socket write"))?;
    writer.flush().await.map_err(AppError::io("socket write"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_a_stable_json_form() {
        let r: Request =
            serde_json::from_str(r#"{"cmd":"delete-text","id":"x","pos":1,"len":2}"#).expect("parse");
        assert_eq!(
            r,
            Request::DeleteText {
                id: "x".into(),
                pos: 1,
                len: 2
            }
        );
        let r: Request = serde_json::from_str(r#"{"cmd":"create","title":"t"}"#).expect("parse");
        assert_eq!(
            r,
            Request::Create {
                title: "t".into(),
                body: String::new()
            }
        );
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"show","id":"x","extra":1}"#).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"format-disk"}"#).is_err());
        assert_eq!(
            serde_json::to_string(&Request::Status).expect("json"),
            r#"{"cmd":"status"}"#
        );
    }

    #[tokio::test]
    async fn lines_are_bounded() {
        let mut ok: &[u8] = b"{\"a\":1}\nrest";
        assert_eq!(
            read_line(&mut ok).await.expect("read").as_deref(),
            Some(&b"{\"a\":1}"[..])
        );
        assert_eq!(
            read_line(&mut ok).await.expect("read").as_deref(),
            Some(&b"rest"[..])
        );
        assert_eq!(read_line(&mut ok).await.expect("read"), None);
        let big = vec![b'x'; MAX_LINE + 10];
        let mut slice: &[u8] = &big;
        assert!(matches!(read_line(&mut slice).await, Err(AppError::TooLarge(_))));
    }
}
