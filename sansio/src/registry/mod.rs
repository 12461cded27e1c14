//! The registry view: the union of every verified registry record a node has
//! ever seen (HS-REG-4), and its mapping to and from the `_devices` Automerge
//! document (HS-REG-2, HS-REG-3).
//!
//! The view is a pure function of the *set* of records inserted: the order in
//! which records arrive, and which copy of `_devices` they came from, never
//! changes the result. Revocation always wins and is permanent.

mod doc;
mod error;

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use humansync_protocol::limits::MAX_REGISTRY_RECORDS;
use humansync_protocol::{DeviceId, RegistryRecord, SignedRecord};

pub use doc::{ANCHOR_KEY, RECORDS_KEY, put_record};
pub use error::RegistryError;

/// The key of a record in `_devices`: lowercase hex BLAKE3 of its encoding (HS-REG-2).
pub type RecordKey = String;

/// What the registry says about one device.
///
/// For a device known only from a Revoked record (its Device record has not
/// arrived yet), `name` is empty and `paired_at_ms` is 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceStatus {
    /// The device's sanitised name (HS-PAIR-4). When several Device records
    /// exist for one id, the one with the smallest `(paired_at_ms, name)` wins.
    pub name: String,
    /// When it paired, unix ms.
    pub paired_at_ms: u64,
    /// When it was revoked, unix ms (the earliest Revoked record); `None` while admitted.
    pub revoked_at_ms: Option<u64>,
}

/// A change in admission caused by a newly verified record (HS-GATE-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryChange {
    /// The device became registered (and is not revoked).
    Added(DeviceId),
    /// The device became revoked: close its sessions at once (HS-GATE-4).
    Revoked(DeviceId),
}

/// The registry view of one node (HS-REG-4).
///
/// Holds every verified record, keyed by [`RecordKey`], and the device
/// statuses derived from them. It only grows: records are never removed.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    anchor: Option<DeviceId>,
    records: BTreeMap<RecordKey, SignedRecord>,
    devices: BTreeMap<DeviceId, DeviceStatus>,
    /// Devices with at least one Device record.
    registered: BTreeSet<DeviceId>,
    /// Record keys per device, for [`Registry::records_for`].
    by_device: BTreeMap<DeviceId, BTreeSet<RecordKey>>,
    /// Signature verifications performed ([`Registry::verifications`]).
    verifications: u64,
    /// Keys of records that failed verification, so they are not verified again on every change
    /// of `_devices` (they can never be removed from it); at most `MAX_REGISTRY_RECORDS`, oldest
    /// forgotten first. A key is the hash of the record's bytes, so the verdict is by content.
    refused: BTreeSet<RecordKey>,
    refused_order: std::collections::VecDeque<RecordKey>,
}

impl Registry {
    /// An empty view trusting `anchor`, or no one yet (`None`: an unpaired node admits nobody, HS-GATE-2).
    pub fn new(anchor: Option<DeviceId>) -> Self {
        Registry {
            anchor,
            ..Registry::default()
        }
    }

    /// The registry anchor: the server whose key signs every record (HS-ID-3).
    pub fn anchor(&self) -> Option<DeviceId> {
        self.anchor
    }

    /// Sets the anchor when pairing (HS-PAIR-6). Allowed only when no anchor is
    /// set yet or when it is the same one; an unpaired node holds no records,
    /// so nothing needs re-verifying.
    pub fn set_anchor(&mut self, anchor: DeviceId) -> Result<(), RegistryError> {
        match self.anchor {
            Some(current) if current != anchor => Err(RegistryError::AnchorMismatch {
                current,
                requested: anchor,
            }),
            _ => {
                self.anchor = Some(anchor);
                Ok(())
            }
        }
    }

    /// Signature verifications performed so far (a cost measure; tests assert it).
    pub fn verifications(&self) -> u64 {
        self.verifications
    }

    /// Verifies `record` under the anchor (HS-REG-1) and adds it to the view (HS-REG-4).
    ///
    /// A record already held returns `Ok(None)`. Revocation always wins,
    /// whatever the order: a Device record for a revoked id changes nothing.
    /// Returns the admission change the record caused, if any.
    pub fn insert(&mut self, record: &SignedRecord) -> Result<Option<RegistryChange>, RegistryError> {
        let anchor = self.anchor.ok_or(RegistryError::NoAnchor)?;
        let key = record.key();
        if self.records.contains_key(&key) {
            return Ok(None);
        }
        if self.refused.contains(&key) {
            return Err(RegistryError::KnownInvalid);
        }
        self.verifications += 1;
        let parsed = match record.verify(&anchor) {
            Ok(parsed) => parsed,
            Err(e) => {
                self.remember_refused(key);
                return Err(e.into());
            }
        };
        // HS-REG-9: a full registry still takes the first revocation of each registered device, so the cap
        // can never keep a device admitted (revocation always wins, HS-REG-4). Those are bounded
        // by the registered devices, so the view never exceeds twice the cap.
        let first_revocation = matches!(parsed, RegistryRecord::Revoked { device, .. }
            if self.registered.contains(&device) && !self.is_revoked(&device));
        if self.records.len() >= MAX_REGISTRY_RECORDS && !first_revocation {
            return Err(RegistryError::Full);
        }
        self.records.insert(key.clone(), record.clone());
        self.by_device.entry(parsed.device()).or_default().insert(key);
        Ok(self.apply(parsed))
    }

    fn remember_refused(&mut self, key: RecordKey) {
        if self.refused_order.len() >= MAX_REGISTRY_RECORDS
            && let Some(oldest) = self.refused_order.pop_front()
        {
            self.refused.remove(&oldest);
        }
        if self.refused.insert(key.clone()) {
            self.refused_order.push_back(key);
        }
    }

    /// Folds one verified record into the device statuses; order-independent (HS-REG-4).
    fn apply(&mut self, record: RegistryRecord) -> Option<RegistryChange> {
        match record {
            RegistryRecord::Device {
                device,
                name,
                paired_at_ms,
            } => {
                let first = self.registered.insert(device);
                match self.devices.entry(device) {
                    Entry::Vacant(slot) => {
                        slot.insert(DeviceStatus {
                            name,
                            paired_at_ms,
                            revoked_at_ms: None,
                        });
                        Some(RegistryChange::Added(device))
                    }
                    Entry::Occupied(slot) => {
                        let status = slot.into_mut();
                        if first
                            || (paired_at_ms, name.as_str()) < (status.paired_at_ms, status.name.as_str())
                        {
                            status.name = name;
                            status.paired_at_ms = paired_at_ms;
                        }
                        None
                    }
                }
            }
            RegistryRecord::Revoked {
                device,
                revoked_at_ms,
            } => match self.devices.entry(device) {
                Entry::Vacant(slot) => {
                    slot.insert(DeviceStatus {
                        name: String::new(),
                        paired_at_ms: 0,
                        revoked_at_ms: Some(revoked_at_ms),
                    });
                    Some(RegistryChange::Revoked(device))
                }
                Entry::Occupied(slot) => {
                    let status = slot.into_mut();
                    match status.revoked_at_ms {
                        None => {
                            status.revoked_at_ms = Some(revoked_at_ms);
                            Some(RegistryChange::Revoked(device))
                        }
                        Some(earlier) => {
                            status.revoked_at_ms = Some(earlier.min(revoked_at_ms));
                            None
                        }
                    }
                }
            },
        }
    }

    /// The status of `device`, if any record names it.
    pub fn status(&self, device: &DeviceId) -> Option<&DeviceStatus> {
        self.devices.get(device)
    }

    /// Every device any record names, registered or revoked, in id order.
    pub fn devices(&self) -> impl Iterator<Item = (&DeviceId, &DeviceStatus)> {
        self.devices.iter()
    }

    /// Every verified record, in key order.
    pub fn records(&self) -> impl Iterator<Item = &SignedRecord> {
        self.records.values()
    }

    /// How many verified records the view holds (at most [`MAX_REGISTRY_RECORDS`]).
    pub fn record_count(&self) -> usize {
        self.records.len()
    }

    /// True if the view holds the record stored under `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.records.contains_key(key)
    }

    /// The verified records about `device` (its Device and Revoked records), in key order.
    pub fn records_for<'a>(&'a self, device: &DeviceId) -> impl Iterator<Item = &'a SignedRecord> + 'a {
        self.by_device
            .get(device)
            .into_iter()
            .flatten()
            .filter_map(|key| self.records.get(key))
    }

    /// True if some Device record registers `device` (revoked or not).
    pub fn is_registered(&self, device: &DeviceId) -> bool {
        self.registered.contains(device)
    }

    /// True if a valid Revoked record names `device` (HS-REG-4).
    pub fn is_revoked(&self, device: &DeviceId) -> bool {
        self.devices
            .get(device)
            .is_some_and(|s| s.revoked_at_ms.is_some())
    }

    /// True if `device` is the anchor, or is registered and not revoked (HS-GATE-2, HS-REG-4).
    ///
    /// The gate ([`crate::gate::admit`]) additionally never admits the node itself.
    pub fn is_admitted(&self, device: &DeviceId) -> bool {
        self.anchor == Some(*device) || (self.is_registered(device) && !self.is_revoked(device))
    }
}
