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

/// One request to the running app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// Every document: id, title, sizes.
    List,
    /// A new document.
    Create {
        /// Its title.
        title: String,
        /// Initial body text.
        #[serde(default)]
        body: String,
    },
    /// One document in full.
    Show {
        /// Document id (full or uuid).
        id: String,
    },
    /// Inserts text at a character position of the body.
    Insert {
        /// Document id.
        id: String,
        /// Position in characters.
        pos: usize,
        /// Text to insert.
        text: String,
    },
    /// Deletes `len` characters at `pos` of the body.
    DeleteText {
        /// Document id.
        id: String,
        /// Position in characters.
        pos: usize,
        /// Characters to delete.
        len: usize,
    },
    /// Appends text to the body.
    Append {
        /// Document id.
        id: String,
        /// Text to append.
        text: String,
    },
    /// Sets the title.
    SetTitle {
        /// Document id.
        id: String,
        /// The new title.
        title: String,
    },
    /// Deletes a document on every device.
    Delete {
        /// Document id.
        id: String,
    },
    /// Attaches a file (copied into the blob store).
    Attach {
        /// Document id.
        id: String,
        /// Absolute path of the file.
        path: PathBuf,
        /// Attachment name; the file name when absent.
        #[serde(default)]
        name: Option<String>,
    },
    /// Removes an attachment from a document.
    Detach {
        /// Document id.
        id: String,
        /// Attachment name.
        name: String,
    },
    /// Copies an attachment's bytes to a path (fetching them from a peer if needed).
    SaveAttachment {
        /// Document id.
        id: String,
        /// Attachment name.
        name: String,
        /// Absolute destination path.
        path: PathBuf,
    },
    /// Whether an attachment's bytes are available (held, or fetched within a moment).
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
    /// Pairs with a server.
    Pair {
        /// Server URL.
        url: String,
        /// Server password.
        password: String,
    },
    /// Streams events (one response line each) until the client hangs up.
    Watch,
    /// Stops the running app gracefully.
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
