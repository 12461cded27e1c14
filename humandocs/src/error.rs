//! The app's error type: every failure a user or script can see, each with a stable code.

use crate::schema::SchemaError;

/// What went wrong. [`AppError::code`] is the stable, machine-readable part.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The input is not a Humandocs document id.
    #[error("not a Humandocs document id: {0:?}")]
    BadId(String),
    /// No such document (never existed here, or deleted).
    #[error("no document {0}")]
    NotFound(String),
    /// No attachment with that name.
    #[error("document {id} has no attachment {name:?}")]
    NoAttachment {
        /// The document.
        id: String,
        /// The name asked for.
        name: String,
    },
    /// The document does not follow the schema, or an edit is invalid.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// The attachment's bytes are not here and no connected peer has them.
    #[error("attachment bytes are not available yet: {0}")]
    Unavailable(String),
    /// The sync library failed.
    #[error("sync: {0}")]
    Sync(#[from] humansync::Error),
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// An input or message exceeds a limit.
    #[error("{0} is too large")]
    TooLarge(&'static str),
    /// A malformed request.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// No app is running for this data directory (for commands that need one).
    #[error("no running humandocs app at {0} (start one with `humandocs --data DIR run`)")]
    NotRunning(String),
    /// A wait ran out of time.
    #[error("timed out after {secs} s; last seen: {last}")]
    Timeout {
        /// The bound.
        secs: u64,
        /// The last state observed.
        last: String,
    },
    /// The running app answered with an error.
    #[error("{message}")]
    Remote {
        /// Its code.
        code: String,
        /// Its message.
        message: String,
    },
    /// A bug or an unexpected state.
    #[error("internal: {0}")]
    Internal(String),
}

impl AppError {
    /// The stable snake_case code scripts act on.
    pub fn code(&self) -> &str {
        match self {
            AppError::BadId(_) => "bad_id",
            AppError::NotFound(_) => "not_found",
            AppError::NoAttachment { .. } => "no_attachment",
            AppError::Schema(SchemaError::OutOfRange { .. }) => "out_of_range",
            AppError::Schema(_) => "invalid",
            AppError::Unavailable(_) => "unavailable",
            AppError::Sync(humansync::Error::Pairing(_)) => "pairing_failed",
            AppError::Sync(humansync::Error::WrongPassword) => "wrong_password",
            AppError::Sync(humansync::Error::Deleted(_)) => "not_found",
            AppError::Sync(humansync::Error::Quarantined(_)) => "quarantined",
            AppError::Sync(humansync::Error::Key(_)) => "keys",
            AppError::Sync(_) => "sync",
            AppError::Io { .. } => "io",
            AppError::TooLarge(_) => "too_large",
            AppError::BadRequest(_) => "bad_request",
            AppError::NotRunning(_) => "not_running",
            AppError::Timeout { .. } => "timeout",
            AppError::Remote { code, .. } => code,
            AppError::Internal(_) => "internal",
        }
    }

    /// A closure turning an io::Error into [`AppError::Io`] with context.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> AppError {
        let what = what.into();
        move |source| AppError::Io { what, source }
    }
}
