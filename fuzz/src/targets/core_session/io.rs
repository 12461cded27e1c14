//! A small store that answers the core's I/O tasks, truthfully or not.

use std::collections::BTreeMap;

use arbitrary::{Result, Unstructured};
use humansync_protocol::DocId;
use humansync_sansio::{DocWrite, IoAction, IoResult, IoTask};

use crate::fixture::Fixture;

/// Stored document bytes by id (what a runtime's disk would hold).
#[derive(Debug, Default)]
pub(super) struct Store {
    pub(super) docs: BTreeMap<DocId, Vec<u8>>,
}

impl Store {
    /// Picks an answer to `task`: mostly what a correct store would say, sometimes a failure,
    /// junk bytes or the wrong kind of answer. Applies writes the answer acknowledges.
    pub(super) fn answer(
        &mut self,
        u: &mut Unstructured<'_>,
        fx: &Fixture,
        task: &IoTask,
    ) -> Result<IoResult> {
        let choice = u.int_in_range(0u8..=9)?;
        let failed = || IoResult::Failed {
            reason: "fuzz".to_owned(),
        };
        Ok(match &task.action {
            IoAction::LoadDoc { doc } => match choice {
                0 => IoResult::NotFound,
                1 => failed(),
                2 => IoResult::Loaded {
                    bytes: u.arbitrary()?,
                    sync_states: Vec::new(),
                },
                3 => IoResult::Loaded {
                    bytes: fx.docs[u.choose_index(fx.docs.len())?].bytes.clone(),
                    sync_states: vec![(fx.anchor_id(), u.arbitrary()?)],
                },
                4 => IoResult::Done,
                _ => match self.docs.get(doc) {
                    Some(bytes) => IoResult::Loaded {
                        bytes: bytes.clone(),
                        sync_states: Vec::new(),
                    },
                    None => IoResult::NotFound,
                },
            },
            IoAction::SaveDoc { doc, write, .. } => match choice {
                0 => failed(),
                _ => {
                    match write {
                        Some(DocWrite::Replace(bytes)) => {
                            self.docs.insert(doc.clone(), bytes.to_vec());
                        }
                        Some(DocWrite::Append(bytes)) => {
                            self.docs.entry(doc.clone()).or_default().extend_from_slice(bytes);
                        }
                        None => {}
                    }
                    IoResult::Done
                }
            },
            IoAction::DeleteDoc { doc } => match choice {
                0 => failed(),
                _ => {
                    self.docs.remove(doc);
                    IoResult::Done
                }
            },
            IoAction::SaveCursors { .. } | IoAction::SaveBlobAges { .. } | IoAction::ReleaseBlob { .. } => match choice {
                0 => failed(),
                _ => IoResult::Done,
            },
            IoAction::FetchBlob { .. } => match choice {
                0..=3 => failed(),
                4 => IoResult::NotFound,
                _ => IoResult::Done,
            },
        })
    }
}
