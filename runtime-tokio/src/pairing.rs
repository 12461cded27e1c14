//! What a device keeps after pairing (HS-PAIR-6) and the checks of a pairing answer (HS-PAIR-8,
//! HS-PAIR-9); the exchanges themselves are in `login` (password) and `invite` (invitations).

use std::path::{Path, PathBuf};

use humansync_protocol::http::PairResponse;
use humansync_protocol::{DeviceId, RegistryRecord, SignedRecord};

use crate::Error;

/// File under storage_path holding the pairing result.
const PAIRING_FILE: &str = "pairing.json";
/// File under storage_path holding the URL the device paired with (asked for `GET /devices`).
const SERVER_URL_FILE: &str = "server.url";
/// Longest server URL kept.
const MAX_SERVER_URL_LEN: usize = 2048;

/// The persisted pairing: the server's id (the registry anchor), its addresses and relay.
#[derive(Debug, Clone)]
pub(crate) struct PairingState {
    path: PathBuf,
    pub(crate) response: Option<PairResponse>,
}

impl PairingState {
    /// Reads `storage_path/pairing.json` if present.
    pub(crate) fn load(storage: &Path) -> Result<Self, Error> {
        let path = storage.join(PAIRING_FILE);
        let response = match std::fs::read(&path) {
            Ok(bytes) => Some(
                serde_json::from_slice(&bytes)
                    .map_err(|e| Error::Storage(format!("{} is corrupt: {e}", path.display())))?,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::Storage(format!("cannot read {}: {e}", path.display()))),
        };
        Ok(PairingState { path, response })
    }

    /// The registry anchor, once paired.
    pub(crate) fn anchor(&self) -> Option<DeviceId> {
        self.response.as_ref().map(|r| r.server_node_id)
    }

    /// Durably replaces the pairing file.
    pub(crate) fn save(&mut self, response: &PairResponse) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(response).map_err(std::io::Error::other)?;
        write_durably(&self.path, &bytes)?;
        self.response = Some(response.clone());
        Ok(())
    }
}

/// The server URL this device last paired with, if it was recorded.
pub(crate) fn load_server_url(storage: &Path) -> Option<String> {
    let text = std::fs::read_to_string(storage.join(SERVER_URL_FILE)).ok()?;
    let url = text.trim();
    (!url.is_empty() && url.len() <= MAX_SERVER_URL_LEN && reqwest::Url::parse(url).is_ok())
        .then(|| url.to_owned())
}

/// Records the server URL a pairing succeeded with, so discovery keeps asking it after restarts.
pub(crate) fn save_server_url(storage: &Path, url: &str) -> std::io::Result<()> {
    write_durably(&storage.join(SERVER_URL_FILE), url.as_bytes())
}

/// Replaces `path` with `bytes` crash-safely: write a temp file, fsync, rename, fsync the directory.
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The records of a pairing answer that verify under its `server_node_id` (HS-REG-1); the others
/// are skipped with a warning, never an error (HS-PAIR-9, HS-REG-3).
pub(crate) fn valid_records(response: &PairResponse) -> Vec<(SignedRecord, RegistryRecord)> {
    let anchor = response.server_node_id;
    response
        .records
        .iter()
        .filter_map(|text| {
            let checked = hex::decode(text)
                .map_err(|e| e.to_string())
                .and_then(|bytes| SignedRecord::decode(&bytes).map_err(|e| e.to_string()))
                .and_then(|signed| {
                    let record = signed.verify(&anchor).map_err(|e| e.to_string())?;
                    Ok((signed, record))
                });
            checked
                .map_err(|reason| tracing::warn!(%reason, "pairing answer: invalid record ignored"))
                .ok()
        })
        .collect()
}

/// Checks a server's pairing answer before anything of it is trusted: the server is the one the
/// app expects, if it said (HS-PAIR-8), and a valid Device record for this device is among the
/// records (HS-PAIR-9).
pub(crate) fn check_answer(
    response: &PairResponse,
    me: DeviceId,
    expected_server: Option<DeviceId>,
) -> Result<(), Error> {
    if let Some(expected) = expected_server
        && expected != response.server_node_id
    {
        return Err(Error::Pairing(format!(
            "the server identifies as {} but {expected} was expected: not pairing with it",
            response.server_node_id
        )));
    }
    let registered = valid_records(response)
        .iter()
        .any(|(_, record)| matches!(record, RegistryRecord::Device { device, .. } if *device == me));
    if registered {
        Ok(())
    } else {
        Err(Error::Pairing(
            "the server's answer holds no valid Device record for this device".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
    }

    fn answer(
        server: &ed25519_dalek::SigningKey,
        signer: &ed25519_dalek::SigningKey,
        device: DeviceId,
    ) -> PairResponse {
        let record = RegistryRecord::Device {
            device,
            name: "d".into(),
            paired_at_ms: 1,
        };
        PairResponse {
            server_node_id: DeviceId::from(server),
            server_addrs: Vec::new(),
            relay_url: None,
            devices: Vec::new(),
            records: vec![
                "not hex".into(),
                hex::encode(record.sign(signer).expect("sign").encode()),
            ],
        }
    }

    #[test]
    fn a_pairing_answer_must_register_this_device_under_the_server_key() {
        // HS-PAIR-9
        let (server, me) = (key(1), DeviceId::from(&key(2)));
        let good = answer(&server, &server, me);
        assert!(check_answer(&good, me, None).is_ok());
        assert_eq!(valid_records(&good).len(), 1, "the garbage record is skipped");
        // Signed by someone else: no valid record for me.
        assert!(check_answer(&answer(&server, &key(3), me), me, None).is_err());
        // Valid, but for another device.
        assert!(check_answer(&answer(&server, &server, DeviceId::from(&key(4))), me, None).is_err());
    }

    #[test]
    fn a_pinned_server_id_must_match() {
        // HS-PAIR-8
        let (server, me) = (key(1), DeviceId::from(&key(2)));
        let good = answer(&server, &server, me);
        assert!(check_answer(&good, me, Some(DeviceId::from(&server))).is_ok());
        let err = check_answer(&good, me, Some(DeviceId::from(&key(9)))).expect_err("mismatch");
        assert!(err.to_string().contains("was expected"), "{err}");
    }
}
