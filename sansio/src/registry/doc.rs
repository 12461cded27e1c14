//! Reading and writing the `_devices` Automerge document (HS-REG-2, HS-REG-3, HS-REG-4).
//!
//! Schema: root map key [`RECORDS_KEY`] → map from [`super::RecordKey`] to a
//! bytes scalar holding postcard(SignedRecord); root key [`ANCHOR_KEY`] → the
//! anchor id as hex text (informational only, never trusted).

use automerge::transaction::Transactable;
use automerge::{Automerge, AutomergeError, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use humansync_protocol::limits::MAX_RECORD_LEN;
use humansync_protocol::{DeviceId, SignedRecord, hex_text};

use super::{Registry, RegistryChange, RegistryError};

/// Root key of the map of records in `_devices` (HS-REG-2).
pub const RECORDS_KEY: &str = "records";
/// Root key of the informational anchor hex in `_devices` (HS-REG-2).
pub const ANCHOR_KEY: &str = "anchor";

/// Longest possible postcard(SignedRecord): a varint length of at most 10
/// bytes, the payload, the 64-byte signature. Longer values are skipped unhashed.
const MAX_ENCODED_RECORD_LEN: usize = 10 + MAX_RECORD_LEN + 64;

impl Registry {
    /// Reads every value under root `"records"` of a `_devices` document —
    /// every conflicting `"records"` map and every conflicting value of each
    /// key (HS-REG-3) — inserts the valid ones and returns the changes, in
    /// document order.
    ///
    /// Invalid entries (not bytes, not a SignedRecord, bad signature, key not
    /// the hash of the value) are ignored. Records the view already holds stay
    /// whatever the document says (HS-REG-4). Without an anchor nothing is read.
    pub fn absorb_doc(&mut self, doc: &Automerge) -> Vec<RegistryChange> {
        let mut changes = Vec::new();
        if self.anchor.is_none() {
            return changes;
        }
        for map in record_maps(doc) {
            for key in doc.keys(&map) {
                let Ok(values) = doc.get_all(&map, key.as_str()) else {
                    continue;
                };
                for (value, _) in values {
                    let Some(bytes) = scalar_bytes(&value) else {
                        continue;
                    };
                    if !key_matches(&key, bytes) || self.records.contains_key(&key) {
                        continue;
                    }
                    let Some(record) = canonical_record(bytes) else {
                        continue;
                    };
                    match self.insert(&record) {
                        Ok(Some(change)) => changes.push(change),
                        Ok(None) => {}
                        Err(RegistryError::Full) => return changes,
                        Err(_) => {}
                    }
                }
            }
        }
        changes
    }

    /// Writes into `doc` every record of the view missing from its `"records"`
    /// map (self-heal after a peer deleted keys, HS-REG-4), and root
    /// `"anchor"` if absent. Returns true if it changed the document.
    ///
    /// The change is made with the document's current actor, which the caller
    /// sets (the core never invents actor ids).
    pub fn heal_doc(&self, doc: &mut Automerge) -> bool {
        let map = winning_records_map(doc);
        let missing: Vec<&SignedRecord> = self
            .records
            .values()
            .filter(|record| !map.as_ref().is_some_and(|m| holds(doc, m, record)))
            .collect();
        let anchor = self
            .anchor
            .filter(|_| !matches!(doc.get(ROOT, ANCHOR_KEY), Ok(Some(_))));
        if missing.is_empty() && anchor.is_none() {
            return false;
        }
        write(doc, map, &missing, anchor)
    }
}

/// Writes one record into a `_devices` document under its key (HS-REG-2), as
/// the anchor does when it signs a new record. Returns true if it changed the
/// document (false when the record is already there or the write failed).
pub fn put_record(doc: &mut Automerge, record: &SignedRecord) -> bool {
    let map = winning_records_map(doc);
    if map.as_ref().is_some_and(|m| holds(doc, m, record)) {
        return false;
    }
    write(doc, map, &[record], None)
}

/// Every map stored under root `"records"`, conflicting ones included (HS-REG-3).
fn record_maps(doc: &Automerge) -> Vec<ObjId> {
    doc.get_all(ROOT, RECORDS_KEY)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(value, id)| matches!(value, Value::Object(ObjType::Map)).then_some(id))
        .collect()
}

/// The map a reader sees under root `"records"` when it takes the winning value only.
fn winning_records_map(doc: &Automerge) -> Option<ObjId> {
    match doc.get(ROOT, RECORDS_KEY) {
        Ok(Some((Value::Object(ObjType::Map), id))) => Some(id),
        _ => None,
    }
}

/// True if `map` holds `record`'s exact bytes under its key (among conflicting values too).
fn holds(doc: &Automerge, map: &ObjId, record: &SignedRecord) -> bool {
    let bytes = record.encode();
    doc.get_all(map, record.key())
        .unwrap_or_default()
        .iter()
        .any(|(value, _)| scalar_bytes(value) == Some(bytes.as_slice()))
}

/// The bytes of a bytes scalar.
fn scalar_bytes<'a>(value: &'a Value<'_>) -> Option<&'a [u8]> {
    match value {
        Value::Scalar(scalar) => match scalar.as_ref() {
            ScalarValue::Bytes(bytes) => Some(bytes),
            _ => None,
        },
        Value::Object(_) => None,
    }
}

/// The record stored as `bytes` if they are exactly its canonical encoding, postcard with
/// minimal varints (HS-REG-8). The decoder alone accepts longer varints (HS-MSG-3), so the same
/// signed record could otherwise sit under several keys.
fn canonical_record(bytes: &[u8]) -> Option<SignedRecord> {
    SignedRecord::decode(bytes)
        .ok()
        .filter(|record| record.encode() == bytes)
}

/// True if `key` is the lowercase hex BLAKE3 of the value bytes exactly as stored (HS-REG-2, HS-REG-3).
fn key_matches(key: &str, bytes: &[u8]) -> bool {
    bytes.len() <= MAX_ENCODED_RECORD_LEN && hex_text::encode(blake3::hash(bytes).as_bytes()) == key
}

/// Puts `records` (and the anchor hex) in one transaction, creating the
/// `"records"` map when the document has none (or holds a non-map there).
fn write(
    doc: &mut Automerge,
    map: Option<ObjId>,
    records: &[&SignedRecord],
    anchor: Option<DeviceId>,
) -> bool {
    let result = doc.transact(|tx| {
        let map = match map {
            Some(map) => map,
            None => tx.put_object(ROOT, RECORDS_KEY, ObjType::Map)?,
        };
        for record in records {
            tx.put(&map, record.key(), record.encode())?;
        }
        if let Some(anchor) = anchor {
            tx.put(ROOT, ANCHOR_KEY, anchor.to_string())?;
        }
        Ok::<_, AutomergeError>(())
    });
    result.is_ok()
}
