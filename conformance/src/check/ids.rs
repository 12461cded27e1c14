//! Document ids and device ids in text form (HS-DOC-1, HS-DOC-2, HS-ID-1, HS-ID-2).

use humansync_protocol::{DeviceId, DocId};
use serde_json::{Value, json};

use super::Observed;
use crate::format::Case;

/// `doc_id`: `text` is a candidate document id. Valid: `expected = {"doc": text}`.
pub(crate) fn doc_id(case: &Case) -> Result<Observed, String> {
    let text = case.str_field("text")?;
    Ok(match DocId::new(text) {
        Ok(doc) => Observed::accept(json!({"doc": doc.as_str()})),
        Err(_) => Observed::reject(Value::Null),
    })
}

/// `device_id`: `text` is a candidate device id text form. Valid:
/// `expected = {"device": "<64 lowercase hex>"}` (the normalised form).
pub(crate) fn device_id(case: &Case) -> Result<Observed, String> {
    let text = case.str_field("text")?;
    Ok(match text.parse::<DeviceId>() {
        Ok(id) => Observed::accept(json!({"device": id.to_string()})),
        Err(_) => Observed::reject(Value::Null),
    })
}
