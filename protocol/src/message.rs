//! Every session message of protocol versions 1, 2 and 3 (SPEC.md §11) and its encoding.
//!
//! A [`Message`] is one postcard-encoded enum; the variant index is its first
//! byte (a varint below 128). Variants are append-only (HS-MSG-1): indices are
//! never reused or renumbered. Every variable length is bounded by a constant
//! from [`crate::limits`] and checked before allocation (HS-MSG-2).

use serde::{Deserialize, Serialize};

use crate::bounded;
use crate::limits::*;
use crate::{BlobHash, ChangeHash, CloseCode, DocDigest, DocId, Fingerprint};

/// Count and fingerprint of a whole document set, exchanged in Hello and Welcome (HS-RECON-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetSummary {
    /// Number of documents (live and tombstoned) in the set.
    pub count: u32,
    /// XOR of all item fingerprints.
    pub fingerprint: Fingerprint,
}

/// The upper end of a reconciliation range (HS-RECON-2).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Bound {
    /// Every id bytewise below this key (which need not be a valid document id).
    Key(
        #[serde(
            serialize_with = "bounded::ser_bytes",
            deserialize_with = "bounded::bytes::<_, MAX_DOC_ID_LEN>"
        )]
        Vec<u8>,
    ),
    /// The end of the id space.
    End,
}

/// One document in an `Items` range: its id and digest (HS-RECON-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// The document.
    pub doc: DocId,
    /// Its digest, or [`DocDigest::TOMBSTONE`].
    pub digest: DocDigest,
}

/// What a range carries (HS-RECON-2, HS-RECON-3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RangeMode {
    /// Nothing to do for this range.
    Skip,
    /// The sender's count and fingerprint over this range.
    Fingerprint {
        /// Items in the range.
        count: u32,
        /// XOR of their fingerprints.
        fingerprint: Fingerprint,
    },
    /// Every item the sender holds in this range.
    Items(#[serde(deserialize_with = "bounded::vec::<_, _, MAX_RECON_ITEMS>")] Vec<Item>),
}

/// A range from the previous range's upper bound (or the empty key) to `upper` (HS-RECON-2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeEntry {
    /// Exclusive upper bound.
    pub upper: Bound,
    /// Payload.
    pub mode: RangeMode,
}

/// A position in a node's change log (HS-RESUME-1): every document whose digest changed at or
/// before `seq` of log `epoch` is covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The log: random, chosen when the node starts; a restart starts a new log.
    pub epoch: u64,
    /// The last sequence number covered.
    pub seq: u64,
}

/// A session message. Indices are fixed forever (HS-MSG-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// 0 — the dialer's first message (HS-VER-1, HS-RECON-1).
    Hello {
        /// Supported versions, ascending, 1..=[`MAX_VERSIONS`].
        #[serde(deserialize_with = "bounded::vec::<_, _, MAX_VERSIONS>")]
        versions: Vec<u16>,
        /// The dialer's document set.
        set: SetSummary,
        /// Digest of the dialer's `_devices` document.
        devices: DocDigest,
    },
    /// 1 — the acceptor's answer to Hello (HS-VER-2, HS-RECON-1).
    Welcome {
        /// The selected version.
        version: u16,
        /// The acceptor's document set.
        set: SetSummary,
        /// Digest of the acceptor's `_devices` document.
        devices: DocDigest,
    },
    /// 2 — range-based set reconciliation (HS-RECON-2).
    Reconcile {
        /// Consecutive ranges covering the whole id space.
        #[serde(deserialize_with = "bounded::vec::<_, _, MAX_RECON_RANGES>")]
        ranges: Vec<RangeEntry>,
    },
    /// 3 — one Automerge sync message for one document (HS-SYNC-3).
    DocSync {
        /// The document.
        doc: DocId,
        /// The encoded Automerge sync message.
        #[serde(
            serialize_with = "bounded::ser_bytes",
            deserialize_with = "bounded::bytes::<_, MAX_DOC_BYTES>"
        )]
        message: Vec<u8>,
    },
    /// 4 — a whole saved document (HS-SYNC-1).
    DocWhole {
        /// The document.
        doc: DocId,
        /// Its heads, as the sender computed them.
        #[serde(deserialize_with = "bounded::vec::<_, _, MAX_HEADS>")]
        heads: Vec<ChangeHash>,
        /// Blobs it references.
        #[serde(deserialize_with = "bounded::vec::<_, _, MAX_BLOB_REFS>")]
        blobs: Vec<BlobHash>,
        /// Saved Automerge bytes (a concatenation of save / incremental chunks).
        #[serde(
            serialize_with = "bounded::ser_bytes",
            deserialize_with = "bounded::bytes::<_, MAX_DOC_BYTES>"
        )]
        bytes: Vec<u8>,
    },
    /// 5 — asks for whole documents (HS-SYNC-2).
    DocWant {
        /// The wanted documents.
        #[serde(deserialize_with = "bounded::vec::<_, _, MAX_WANT>")]
        docs: Vec<DocId>,
    },
    /// 6 — the sender has no such document (HS-SYNC-2).
    DocMissing {
        /// The document.
        doc: DocId,
    },
    /// 7 — the document is deleted for good (HS-DOC-5).
    DocDeleted {
        /// The document.
        doc: DocId,
    },
    /// 8 — asks which of these blobs the receiver holds (HS-BLOB-2).
    BlobWant {
        /// The wanted blobs.
        #[serde(deserialize_with = "bounded::vec::<_, _, MAX_BLOB_WANT>")]
        hashes: Vec<BlobHash>,
    },
    /// 9 — the sender holds these blobs complete (HS-BLOB-2).
    BlobHave {
        /// The held blobs.
        #[serde(deserialize_with = "bounded::vec::<_, _, MAX_BLOB_WANT>")]
        hashes: Vec<BlobHash>,
    },
    /// 10 — the last frame before the sender closes (HS-CLOSE-2).
    Close {
        /// Why.
        code: CloseCode,
        /// Human-readable detail, at most [`MAX_REASON_LEN`] bytes.
        #[serde(deserialize_with = "bounded::string::<_, MAX_REASON_LEN>")]
        reason: String,
    },
    /// 11 (version 2) — asks for every document changed in the receiver's log after `cursor`
    /// (HS-RESUME-2).
    Resume {
        /// The receiver's log position the sender holds everything up to, if it knows one.
        cursor: Option<Cursor>,
    },
    /// 12 (version 2) — ends the answer to a Resume (HS-RESUME-3).
    Resumed {
        /// Every document changed after the cursor was sent; `false` if the cursor is unknown.
        complete: bool,
    },
    /// 13 (version 2) — changes for one document, to apply without answering (HS-RESUME-4).
    DocChanges {
        /// The document.
        doc: DocId,
        /// Automerge change chunks (`save_after` output).
        #[serde(
            serialize_with = "bounded::ser_bytes",
            deserialize_with = "bounded::bytes::<_, MAX_DOC_BYTES>"
        )]
        bytes: Vec<u8>,
    },
    /// 14 (version 2) — the sender is idle with this session at `cursor` with this set
    /// (HS-RESUME-5).
    Synced {
        /// The sender's current log position.
        cursor: Cursor,
        /// The sender's document set at that position.
        set: SetSummary,
    },
    /// 15 (version 3) — the sender has handled the first `count` DocWhole and DocChanges
    /// messages it received on this session, in the order received: one cumulative
    /// acknowledgement instead of one DocSync per document (HS-SYNC-14).
    Held {
        /// How many of the peer's DocWhole and DocChanges messages, counted from the start of
        /// the session, are handled here: stored, merged or appended, answered otherwise, or
        /// refused.
        count: u64,
        /// The numbers, strictly ascending and above the previous `Held`'s `count`, of the
        /// messages up to `count` that were refused, not taken (HS-SYNC-13): their documents
        /// are not held. Usually empty (one byte).
        #[serde(deserialize_with = "bounded::vec::<_, _, MAX_HELD_REFUSED>")]
        refused: Vec<u64>,
    },
}

/// Why a payload is not a valid message (HS-FRAME-3, HS-MSG-2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// postcard could not decode it: truncated, unknown variant, bad varint, invalid id, over a limit.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Bytes remain after one complete message.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    /// Decoded, but breaks a structural rule of SPEC.md §11 (HS-MSG-4).
    #[error("invalid message: {0}")]
    Invalid(&'static str),
}

impl DecodeError {
    /// The close code a receiver uses for this error (HS-FRAME-3).
    pub fn close_code(&self) -> CloseCode {
        CloseCode::MALFORMED
    }
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The message breaks a limit and would be rejected by the peer.
    #[error("message over a protocol limit: {0}")]
    Limit(&'static str),
    /// postcard failed (out of memory).
    #[error("encoding failed: {0}")]
    Postcard(String),
}

impl Message {
    /// Encodes the message, refusing any that a conforming receiver would reject (HS-MSG-2).
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        self.check().map_err(EncodeError::Limit)?;
        let bytes = postcard::to_allocvec(self).map_err(|e| EncodeError::Postcard(e.to_string()))?;
        // Fields each within their own bound can still add up to more than one
        // frame (e.g. a DocWhole at MAX_DOC_BYTES with MAX_BLOB_REFS blobs): never
        // sent (HS-FRAME-2, HS-FRAME-4).
        if bytes.len() > MAX_FRAME_LEN as usize {
            return Err(EncodeError::Limit("encoded message over MAX_FRAME_LEN"));
        }
        Ok(bytes)
    }

    /// Decodes exactly one message from `payload` (HS-FRAME-3).
    ///
    /// postcard's encoder always emits the shortest varint and its decoder accepts a
    /// longer one within the type's maximum byte count, as HS-MSG-3 allows.
    pub fn decode(payload: &[u8]) -> Result<Message, DecodeError> {
        let (msg, rest) = postcard::take_from_bytes::<Message>(payload)
            .map_err(|e| DecodeError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(DecodeError::TrailingBytes(rest.len()));
        }
        msg.check().map_err(DecodeError::Invalid)?;
        Ok(msg)
    }

    /// A short name for logs and transcripts.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Hello { .. } => "Hello",
            Message::Welcome { .. } => "Welcome",
            Message::Reconcile { .. } => "Reconcile",
            Message::DocSync { .. } => "DocSync",
            Message::DocWhole { .. } => "DocWhole",
            Message::DocWant { .. } => "DocWant",
            Message::DocMissing { .. } => "DocMissing",
            Message::DocDeleted { .. } => "DocDeleted",
            Message::BlobWant { .. } => "BlobWant",
            Message::BlobHave { .. } => "BlobHave",
            Message::Close { .. } => "Close",
            Message::Resume { .. } => "Resume",
            Message::Resumed { .. } => "Resumed",
            Message::DocChanges { .. } => "DocChanges",
            Message::Synced { .. } => "Synced",
            Message::Held { .. } => "Held",
        }
    }

    /// Rules beyond per-field length bounds (SPEC.md §11, HS-MSG-4).
    fn check(&self) -> Result<(), &'static str> {
        match self {
            Message::Hello { versions, .. } => {
                if versions.is_empty() || versions.len() > MAX_VERSIONS {
                    return Err("Hello must list 1..=MAX_VERSIONS versions");
                }
                if versions.windows(2).any(|w| w[0] >= w[1]) {
                    return Err("Hello versions must be strictly ascending");
                }
            }
            Message::Reconcile { ranges } => {
                if ranges.is_empty() || ranges.len() > MAX_RECON_RANGES {
                    return Err("Reconcile must carry 1..=MAX_RECON_RANGES ranges");
                }
                if ranges.last().map(|r| &r.upper) != Some(&Bound::End) {
                    return Err("the last range must end at Bound::End");
                }
                if ranges.windows(2).any(|w| w[0].upper >= w[1].upper) {
                    return Err("range bounds must be strictly ascending");
                }
                let items: usize = ranges
                    .iter()
                    .map(|r| match &r.mode {
                        RangeMode::Items(items) => items.len(),
                        _ => 0,
                    })
                    .sum();
                if items > MAX_RECON_ITEMS {
                    return Err("Reconcile carries more than MAX_RECON_ITEMS items");
                }
            }
            Message::DocSync { message, .. } if message.len() > MAX_DOC_BYTES => {
                return Err("DocSync message over MAX_DOC_BYTES");
            }
            Message::DocChanges { bytes, .. } if bytes.len() > MAX_DOC_BYTES => {
                return Err("DocChanges bytes over MAX_DOC_BYTES");
            }
            Message::DocWhole {
                heads, blobs, bytes, ..
            } if heads.len() > MAX_HEADS || blobs.len() > MAX_BLOB_REFS || bytes.len() > MAX_DOC_BYTES => {
                return Err("DocWhole over a limit");
            }
            Message::DocWant { docs } if docs.len() > MAX_WANT => return Err("DocWant over MAX_WANT"),
            Message::BlobWant { hashes } | Message::BlobHave { hashes } if hashes.len() > MAX_BLOB_WANT => {
                return Err("blob list over MAX_BLOB_WANT");
            }
            Message::Held { refused, .. } if refused.len() > MAX_HELD_REFUSED => {
                return Err("Held refused list over MAX_HELD_REFUSED");
            }
            Message::Close { reason, .. } if reason.len() > MAX_REASON_LEN => {
                return Err("Close reason over MAX_REASON_LEN");
            }
            _ => {}
        }
        Ok(())
    }
}
