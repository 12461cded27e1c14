//! App requests completed by id (see `crate::app`): each waits for its document's load like any
//! other work on it, runs, and is answered by one [`Output::AppDone`] — a change only once its
//! save is durable (HS-SYNC-8), a delete once its tombstone is (HS-DOC-5).

use std::collections::BTreeMap;

use humansync_protocol::DocId;

use super::cache::DocOp;
use super::{Core, CoreError, OpenState};
use crate::app::{AppRequest, AppRequestId};
use crate::{Instant, IoResult, IoTaskId, Output};

/// Requests waiting for their document to load, and those waiting for their write.
#[derive(Debug, Default)]
pub(crate) struct AppRequests {
    /// Requests not run yet (their document is loading).
    waiting: BTreeMap<AppRequestId, AppRequest>,
    /// Requests run, answered when this disk task completes.
    writes: BTreeMap<IoTaskId, AppRequestId>,
}

impl Core {
    /// Takes an app request; the core answers it with exactly one [`Output::AppDone`] with the
    /// same `id`. Ids MUST be unique among requests not answered yet.
    pub fn handle_app_request(&mut self, now: Instant, id: AppRequestId, request: AppRequest) {
        self.app.waiting.insert(id, request);
        self.run_app(now, id);
    }

    /// Runs a waiting request now if its document is loaded, else leaves it waiting behind the
    /// load. The request stays in `waiting` while its document is opened: a load can complete
    /// inside the open (a refused whole document is loaded from its kept bytes at once) and
    /// come back here for it, and it must find the request then.
    pub(crate) fn run_app(&mut self, now: Instant, id: AppRequestId) {
        let Some(request) = self.app.waiting.get(&id) else {
            return;
        };
        let doc = request.doc().clone();
        if let AppRequest::Delete { .. } = request {
            // A delete needs no load.
            self.app.waiting.remove(&id);
            self.run_delete(now, id, &doc);
            return;
        }
        match self.open_for(now, &doc, true, DocOp::App(id)) {
            Err(e) => {
                self.app.waiting.remove(&id);
                self.app_done(id, Err(e));
            }
            // The load runs `DocOp::App(id)`, which comes back here (it may have already).
            Ok(OpenState::Loading) => {}
            // Never with `create`; answered rather than left waiting.
            Ok(OpenState::NotFound) => {
                self.app.waiting.remove(&id);
                self.app_done(id, Err(CoreError::NotLoaded(doc)));
            }
            Ok(OpenState::Ready) => {
                if let Some(request) = self.app.waiting.remove(&id) {
                    self.run_loaded_request(now, id, &doc, request);
                }
            }
        }
    }

    fn run_loaded_request(&mut self, now: Instant, id: AppRequestId, doc: &DocId, request: AppRequest) {
        match request {
            AppRequest::Read { f, .. } => match self.cache.get_mut(doc) {
                Some(loaded) => {
                    loaded.last_used = now;
                    f(&loaded.am);
                    self.app_done(id, Ok(()));
                }
                None => self.app_done(id, Err(CoreError::NotLoaded(doc.clone()))),
            },
            AppRequest::Change { f, .. } => match self.change(now, doc, f) {
                Ok(((), Some(task))) => {
                    self.app.writes.insert(task, id);
                }
                Ok(((), None)) => self.app_done(id, Ok(())),
                Err(e) => self.app_done(id, Err(e)),
            },
            AppRequest::Delete { .. } => self.run_delete(now, id, doc),
        }
    }

    fn run_delete(&mut self, now: Instant, id: AppRequestId, doc: &DocId) {
        match self.delete(now, doc) {
            Ok(task) => {
                self.app.writes.insert(task, id);
            }
            Err(e) => self.app_done(id, Err(e)),
        }
    }

    /// A request waiting on `doc`'s load ends with `doc` deleted (HS-DOC-5).
    pub(crate) fn app_doc_deleted(&mut self, id: AppRequestId, doc: &DocId) {
        if self.app.waiting.remove(&id).is_some() {
            self.app_done(id, Err(CoreError::Deleted(doc.clone())));
        }
    }

    /// Answers the request whose write `task` was, if any, with the write's result.
    pub(crate) fn app_write_done(&mut self, task: IoTaskId, result: &IoResult) {
        let Some(id) = self.app.writes.remove(&task) else {
            return;
        };
        let outcome = match result {
            IoResult::Done => Ok(()),
            IoResult::Failed { reason } => Err(CoreError::Storage(reason.clone())),
            IoResult::Loaded { .. } | IoResult::NotFound => {
                Err(CoreError::Storage("unexpected answer to a write".into()))
            }
        };
        self.app_done(id, outcome);
    }

    fn app_done(&mut self, id: AppRequestId, result: Result<(), CoreError>) {
        self.outputs.push_back(Output::AppDone { id, result });
    }
}
