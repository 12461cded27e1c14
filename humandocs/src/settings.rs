//! What the app remembers between runs: `<data>/humandocs.json` (the server URL, whether first-run
//! set-up happened). Identity, documents, blobs and the pairing live in the same directory,
//! written by the humansync library (see README's storage layout).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::AppError;

/// File name under the data directory.
pub const SETTINGS_FILE: &str = "humandocs.json";

/// Largest settings file read, in bytes.
const MAX_SETTINGS_BYTES: u64 = 64 * 1024;

/// The app's own settings. Unknown keys are kept when rewritten (additive, like the documents).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// The pairing server's URL, once known.
    #[serde(default)]
    pub server_url: Option<String>,
    /// Extra root certificates (PEM) trusted for the server's https API, once given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_ca_cert: Option<PathBuf>,
    /// The first interactive run asked for a server (paired or skipped).
    #[serde(default)]
    pub setup_done: bool,
    /// Keys written by other versions.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

impl Settings {
    /// The settings path for a data directory.
    pub fn path(data: &Path) -> PathBuf {
        data.join(SETTINGS_FILE)
    }

    /// Loads the settings; defaults when the file does not exist.
    pub fn load(data: &Path) -> Result<Settings, AppError> {
        let path = Self::path(data);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(e) => return Err(AppError::io(format!("reading {}", path.display()))(e)),
        };
        if meta.len() > MAX_SETTINGS_BYTES {
            return Err(AppError::TooLarge("settings file"));
        }
        let bytes = std::fs::read(&path).map_err(AppError::io(format!("reading {}", path.display())))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| AppError::BadRequest(format!("{} is not valid: {e}", path.display())))
    }

    /// Replaces the settings file (write a temporary file, then rename).
    pub fn save(&self, data: &Path) -> Result<(), AppError> {
        let path = Self::path(data);
        let tmp = path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| AppError::Internal(e.to_string()))?;
        std::fs::write(&tmp, bytes).map_err(AppError::io(format!("writing {}", tmp.display())))?;
        std::fs::rename(&tmp, &path).map_err(AppError::io(format!("writing {}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_unknown_keys() {
        let dir = tempfile::tempdir().expect("dir");
        assert_eq!(Settings::load(dir.path()).expect("load"), Settings::default());
        std::fs::write(
            Settings::path(dir.path()),
            r#"{"server_url":"http://10.0.0.1:8080","theme":"dark"}"#,
        )
        .expect("write");
        let mut s = Settings::load(dir.path()).expect("load");
        assert_eq!(s.server_url.as_deref(), Some("http://10.0.0.1:8080"));
        s.setup_done = true;
        s.save(dir.path()).expect("save");
        let again = Settings::load(dir.path()).expect("load");
        assert!(again.setup_done);
        assert_eq!(again.other.get("theme"), Some(&serde_json::json!("dark")));
        std::fs::write(Settings::path(dir.path()), "not json").expect("write");
        assert!(Settings::load(dir.path()).is_err());
    }
}
