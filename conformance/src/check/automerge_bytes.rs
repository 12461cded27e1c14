//! `automerge_saved` / `automerge_sync_message`: peer-supplied Automerge bytes through the checks
//! (HS-SYNC-12). Accepted: `{}`; refused: `{"close_code": CLOSE_PROTOCOL}`.

use humansync_protocol::CloseCode;
use humansync_sansio::untrusted;
use serde_json::json;

use super::Observed;
use crate::format::Case;

fn observe<T, E>(result: Result<T, E>) -> Observed {
    match result {
        Ok(_) => Observed::accept(json!({})),
        Err(_) => Observed::reject(json!({"close_code": CloseCode::PROTOCOL.0})),
    }
}

/// `automerge_saved`: `input` is DocWhole or DocChanges bytes.
pub(crate) fn saved(case: &Case) -> Result<Observed, String> {
    Ok(observe(untrusted::check_saved(&case.hex_field("input")?)))
}

/// `automerge_sync_message`: `input` is a DocSync message.
pub(crate) fn sync_message(case: &Case) -> Result<Observed, String> {
    Ok(observe(untrusted::check_sync_message(&case.hex_field("input")?)))
}
