//! Annotated hexdumps: a golden encoding written as (bytes, comment) pieces.
//!
//! [`Dump::finish`] asserts that the pieces, concatenated, equal the bytes the
//! code produced, so a changed byte fails the test; the returned text is what
//! insta snapshots, so the failure is also a readable diff.

use std::fmt::Write as _;

/// Hex bytes per dump line.
const PER_LINE: usize = 16;
/// Column where the `#` comment starts.
const COMMENT_COLUMN: usize = PER_LINE * 3;

/// An annotated encoding under construction.
#[derive(Clone)]
pub(crate) struct Dump {
    title: String,
    pieces: Vec<Piece>,
    depth: usize,
}

/// One field (bytes and comment) or a bare comment line.
#[derive(Clone)]
struct Piece {
    bytes: Vec<u8>,
    note: String,
    depth: usize,
}

impl Dump {
    /// Starts a dump whose first line is the comment `# title`.
    pub(crate) fn new(title: &str) -> Self {
        Dump {
            title: title.to_owned(),
            pieces: Vec::new(),
            depth: 0,
        }
    }

    /// Appends one field: its bytes and what they mean.
    pub(crate) fn field(mut self, bytes: &[u8], note: impl std::fmt::Display) -> Self {
        assert!(!bytes.is_empty(), "a field has at least one byte: {note}");
        self.pieces.push(Piece {
            bytes: bytes.to_vec(),
            note: note.to_string(),
            depth: self.depth,
        });
        self
    }

    /// Appends a comment line without bytes (a section heading).
    pub(crate) fn note(mut self, note: impl std::fmt::Display) -> Self {
        self.pieces.push(Piece {
            bytes: Vec::new(),
            note: note.to_string(),
            depth: self.depth,
        });
        self
    }

    /// Indents the comments of the following fields one level (a nested value).
    pub(crate) fn enter(mut self) -> Self {
        self.depth += 1;
        self
    }

    /// Ends one level of [`Dump::enter`].
    pub(crate) fn leave(mut self) -> Self {
        self.depth = self.depth.saturating_sub(1);
        self
    }

    /// Appends every field of `inner`, one level deeper, under its title.
    pub(crate) fn nested(self, inner: Dump) -> Self {
        let mut out = self.note(&inner.title);
        for mut piece in inner.pieces {
            piece.depth += out.depth + 1;
            out.pieces.push(piece);
        }
        out
    }

    /// The bytes written so far.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        self.pieces.iter().flat_map(|p| p.bytes.iter().copied()).collect()
    }

    /// Asserts the pieces equal `actual` byte for byte and returns the dump text.
    ///
    /// A field's comment goes on its first line; longer fields wrap onto
    /// comment-less continuation lines.
    pub(crate) fn finish(self, actual: &[u8]) -> String {
        let mut text = format!("# {}\n", self.title);
        for piece in &self.pieces {
            let indent = "  ".repeat(piece.depth);
            if piece.bytes.is_empty() {
                let _ = writeln!(text, "{:COMMENT_COLUMN$}# {indent}{}", "", piece.note);
            }
            for (i, chunk) in piece.bytes.chunks(PER_LINE).enumerate() {
                let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
                let hex = hex.join(" ");
                if i == 0 {
                    let _ = writeln!(text, "{hex:<COMMENT_COLUMN$}# {indent}{}", piece.note);
                } else {
                    let _ = writeln!(text, "{hex}");
                }
            }
        }
        assert_eq!(
            hex::encode(self.bytes()),
            hex::encode(actual),
            "annotated pieces differ from the real encoding\n{text}"
        );
        let _ = writeln!(text, "# total: {} bytes", actual.len());
        text
    }
}
