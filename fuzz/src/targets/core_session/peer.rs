//! Messages a peer could send to the core: valid ones built from the fixture, broken ones
//! built from raw input.

use std::collections::BTreeMap;

use arbitrary::{Result, Unstructured};
use automerge::Automerge;
use automerge::sync::{self, SyncDoc};
use humansync_protocol::digest::heads_digest;
use humansync_protocol::{
    BlobHash, ChangeHash, CloseCode, DocDigest, DocId, Fingerprint, Message, RangeEntry, SetSummary, V1, V2,
};
use humansync_sansio::recon::{self, DocSet};

use crate::arb;
use crate::fixture::{Fixture, new_doc};

/// What the simulated peer holds and what the core last asked of it on a connection.
#[derive(Debug, Default)]
pub(super) struct PeerView {
    /// The peer's document set.
    pub(super) set: DocSet,
    /// The last Reconcile the core sent on this connection, to answer it properly.
    pub(super) last_reconcile: Option<Vec<RangeEntry>>,
    /// The digest of the core's `_devices` as the core announced it.
    pub(super) devices: Option<DocDigest>,
    /// The core's set summary as announced in its Hello or Welcome.
    pub(super) core_set: Option<SetSummary>,
    /// The peer's copy of every document the core synced with it, and its sync state.
    pub(super) docs: BTreeMap<DocId, (Automerge, sync::State)>,
}

impl PeerView {
    /// The peer's copy of `doc`: a diverged fork of a sample document, or an empty document.
    fn doc_mut(&mut self, fx: &Fixture, doc: &DocId) -> &mut (Automerge, sync::State) {
        self.docs.entry(doc.clone()).or_insert_with(|| {
            let am = fx
                .docs
                .iter()
                .find(|d| &d.id == doc)
                .and_then(|d| Automerge::load(&d.diverged.0).ok())
                .unwrap_or_else(|| new_doc(0x40));
            (am, sync::State::new())
        })
    }

    /// The core sent `msg`: a real Automerge peer applies document payloads to its copies.
    pub(super) fn received(&mut self, fx: &Fixture, msg: &Message) {
        match msg {
            Message::DocSync { doc, message } => {
                if let Ok(message) = sync::Message::decode(message) {
                    let (am, state) = self.doc_mut(fx, doc);
                    let _ = am.receive_sync_message(state, message);
                }
            }
            Message::DocWhole { doc, bytes, .. } => {
                let (am, _) = self.doc_mut(fx, doc);
                let _ = am.load_incremental(bytes);
            }
            Message::Reconcile { ranges } => self.last_reconcile = Some(ranges.clone()),
            Message::Hello { set, devices, .. } | Message::Welcome { set, devices, .. } => {
                self.core_set = Some(*set);
                self.devices = Some(*devices);
            }
            _ => {}
        }
    }

    /// The peer's next Automerge sync message for one of its documents (HS-SYNC-3), if any.
    pub(super) fn sync_reply(&mut self, u: &mut Unstructured<'_>, fx: &Fixture) -> Result<Option<Message>> {
        let doc = if self.docs.is_empty() || u.ratio(1u8, 4)? {
            fx.docs[u.choose_index(fx.docs.len())?].id.clone()
        } else {
            let i = u.choose_index(self.docs.len())?;
            self.docs.keys().nth(i).cloned().unwrap_or_else(DocId::devices)
        };
        let (am, state) = self.doc_mut(fx, &doc);
        Ok(am.generate_sync_message(state).map(|m| Message::DocSync {
            doc,
            message: m.encode(),
        }))
    }
}

/// The peer's document set: the sample documents (as stored or diverged) plus a few others.
pub(super) fn peer_set(u: &mut Unstructured<'_>, fx: &Fixture) -> Result<DocSet> {
    let mut set = arb::doc_set(u, 24)?;
    for doc in &fx.docs {
        match u.int_in_range(0u8..=3)? {
            0 => {}
            1 => {
                set.insert(doc.id.clone(), heads_digest(&doc.diverged.1));
            }
            2 => {
                set.insert(doc.id.clone(), DocDigest::TOMBSTONE);
            }
            _ => {
                set.insert(doc.id.clone(), heads_digest(&doc.heads));
            }
        }
    }
    Ok(set)
}

/// A document id the peer talks about: a sample document, a system document or a generated one.
fn doc(u: &mut Unstructured<'_>, fx: &Fixture) -> Result<DocId> {
    Ok(match u.int_in_range(0u8..=5)? {
        0..=2 => fx.docs[u.choose_index(fx.docs.len())?].id.clone(),
        3 => DocId::devices(),
        _ => arb::doc_id(u)?,
    })
}

fn hashes(u: &mut Unstructured<'_>, fx: &Fixture) -> Result<Vec<BlobHash>> {
    let mut out = Vec::new();
    for _ in 0..u.int_in_range(0u8..=3)? {
        out.push(if u.arbitrary()? {
            fx.blob
        } else {
            BlobHash(u.arbitrary()?)
        });
    }
    Ok(out)
}

fn set_summary(u: &mut Unstructured<'_>, view: &PeerView) -> Result<SetSummary> {
    Ok(match u.int_in_range(0u8..=3)? {
        0 => SetSummary {
            count: u.arbitrary()?,
            fingerprint: Fingerprint(u.arbitrary()?),
        },
        1 => view.core_set.unwrap_or(view.set.summary()),
        _ => view.set.summary(),
    })
}

fn devices_digest(u: &mut Unstructured<'_>, view: &PeerView) -> Result<DocDigest> {
    Ok(match (u.arbitrary::<bool>()?, view.devices) {
        (true, Some(d)) => d,
        _ => DocDigest(u.arbitrary()?),
    })
}

/// The handshake message the peer sends first on a connection: Hello to an acceptor core
/// (the peer dialled), Welcome to a dialer core.
pub(super) fn handshake(u: &mut Unstructured<'_>, view: &PeerView, core_dialed: bool) -> Result<Message> {
    let set = set_summary(u, view)?;
    let devices = devices_digest(u, view)?;
    // Version 2 sessions (resume, HS-RESUME-*) as often as version 1 ones.
    let v2 = u.arbitrary::<bool>()?;
    Ok(if core_dialed {
        Message::Welcome {
            version: if v2 { V2 } else { V1 },
            set,
            devices,
        }
    } else {
        Message::Hello {
            versions: if v2 { vec![V1, V2] } else { vec![V1] },
            set,
            devices,
        }
    })
}

/// Any message, valid or rule-breaking.
pub(super) fn message(u: &mut Unstructured<'_>, fx: &Fixture, view: &PeerView) -> Result<Message> {
    Ok(match u.int_in_range(0u8..=18)? {
        0 => Message::Hello {
            versions: u.arbitrary::<Vec<u16>>()?.into_iter().take(10).collect(),
            set: set_summary(u, view)?,
            devices: devices_digest(u, view)?,
        },
        1 => Message::Welcome {
            version: u.int_in_range(0u16..=3)?,
            set: set_summary(u, view)?,
            devices: devices_digest(u, view)?,
        },
        2 => Message::Reconcile {
            ranges: recon::initiate(&view.set),
        },
        3 => Message::Reconcile {
            ranges: match &view.last_reconcile {
                Some(theirs) => match recon::respond(&view.set, theirs) {
                    Ok(recon::Response { reply: Some(r), .. }) => r,
                    _ => arb::ranges(u, &view.set)?,
                },
                None => arb::ranges(u, &view.set)?,
            },
        },
        4 => Message::Reconcile {
            ranges: arb::ranges(u, &view.set)?,
        },
        5 | 6 => {
            let sample = &fx.docs[u.choose_index(fx.docs.len())?];
            let message = match u.int_in_range(0u8..=3)? {
                0 => u.arbitrary::<Vec<u8>>()?,
                _ => sample.sync_messages[u.choose_index(sample.sync_messages.len())?].clone(),
            };
            let doc = if u.ratio(1u8, 4)? {
                doc(u, fx)?
            } else {
                sample.id.clone()
            };
            Message::DocSync { doc, message }
        }
        7 | 8 => whole(u, fx)?,
        9 => Message::DocWant {
            docs: (0..u.int_in_range(0u8..=4)?)
                .map(|_| doc(u, fx))
                .collect::<Result<_>>()?,
        },
        10 => Message::DocMissing { doc: doc(u, fx)? },
        11 => Message::DocDeleted { doc: doc(u, fx)? },
        12 => Message::BlobWant {
            hashes: hashes(u, fx)?,
        },
        13 => Message::BlobHave {
            hashes: hashes(u, fx)?,
        },
        14 => Message::Resume {
            cursor: u.arbitrary::<bool>()?.then_some(cursor(u)?),
        },
        15 => Message::Resumed {
            complete: u.arbitrary()?,
        },
        16 => {
            let sample = &fx.docs[u.choose_index(fx.docs.len())?];
            let doc = if u.ratio(1u8, 4)? {
                doc(u, fx)?
            } else {
                sample.id.clone()
            };
            let bytes = match u.int_in_range(0u8..=2)? {
                0 => u.arbitrary::<Vec<u8>>()?,
                _ => sample.bytes.clone(),
            };
            Message::DocChanges { doc, bytes }
        }
        17 => Message::Synced {
            cursor: cursor(u)?,
            set: set_summary(u, view)?,
        },
        _ => Message::Close {
            code: CloseCode(u.int_in_range(0u32..=12)?),
            reason: String::from_utf8_lossy(&u.arbitrary::<Vec<u8>>()?).into_owned(),
        },
    })
}

/// A cursor: a small position in one of the small epochs the harness gives the core.
fn cursor(u: &mut Unstructured<'_>) -> Result<humansync_protocol::Cursor> {
    Ok(humansync_protocol::Cursor {
        epoch: u.int_in_range(0u64..=3)?,
        seq: u.int_in_range(0u64..=64)?,
    })
}

/// A DocWhole: a sample document (as stored or diverged, with right or wrong heads), a
/// `_devices` copy carrying one more record, or junk.
fn whole(u: &mut Unstructured<'_>, fx: &Fixture) -> Result<Message> {
    let sample = &fx.docs[u.choose_index(fx.docs.len())?];
    let (doc, mut heads, blobs, bytes) = match u.int_in_range(0u8..=4)? {
        0 => (
            sample.id.clone(),
            sample.heads.clone(),
            sample.blobs.clone(),
            sample.bytes.clone(),
        ),
        1 => (
            sample.id.clone(),
            sample.diverged.1.clone(),
            sample.blobs.clone(),
            sample.diverged.0.clone(),
        ),
        2 => {
            let k = u.choose_index(fx.devices_doc_plus.len())?;
            (
                DocId::devices(),
                Vec::new(),
                Vec::new(),
                fx.devices_doc_plus[k].clone(),
            )
        }
        3 => (doc(u, fx)?, Vec::new(), hashes(u, fx)?, sample.diverged.0.clone()),
        _ => (doc(u, fx)?, Vec::new(), hashes(u, fx)?, u.arbitrary::<Vec<u8>>()?),
    };
    if u.ratio(1u8, 4)? {
        heads = (0..u.int_in_range(0u8..=3)?)
            .map(|_| u.arbitrary().map(ChangeHash))
            .collect::<Result<_>>()?;
    }
    Ok(Message::DocWhole {
        doc,
        heads,
        blobs,
        bytes,
    })
}
