//! The set-level sync phase of one session: resume, range reconciliation, finishing (SPEC.md
//! §5–§6, HS-RECON-10, HS-RESUME-2 .. HS-RESUME-6), as one explicit state machine.
//!
//! ```text
//!                      handshake done
//!   Handshake ─────────────┬──────────────────┬───────────────────────────┐
//!                          │ sets equal       │ v2, sets differ           │ v1, sets differ
//!                          ▼                  ▼                           ▼
//!                     Reconciled        Resuming{ours, theirs}        Reconciling
//!                          ▲                  │ both answers out          ▲   │ our reply is the
//!                          │  both complete ◄─┤ (dialer: its loads done)  │   │ final all-Skip
//!                          │                  ├─ dialer ─► sends Reconcile┘   ▼
//!                          │                  └─ acceptor ─► AfterResume   Finishing{final_reply}
//!                          │                                 │ 1st Reconcile  │ loads done:
//!                          │ the peer's final all-Skip       ▼ (held while    │ reply sent
//!                          └──────────────────────────── Reconciling  loads)  ▼
//!                                                                         Reconciled
//! ```
//!
//! Each transition is a method that checks the event is legal in the current state, moves to the
//! next state and returns what the caller must send or do; an illegal event is a [`PeerFault`]
//! and changes nothing. Document-level work (documents wanted, syncing, unacknowledged, waiting
//! on a load) is tracked beside the phase, in [`super::Outstanding`]; a session is settled when
//! its phase is [`SyncPhase::Reconciled`] and nothing is outstanding (HS-SYNC-7).

use humansync_protocol::RangeEntry;

use crate::PeerFault;
use crate::Role;

/// Our answer to the peer's Resume (HS-RESUME-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OurAnswer {
    /// The peer's Resume has not arrived.
    Awaiting,
    /// Decided (`complete` or not) and its document messages are going out; Resumed is held
    /// until none of them waits on a load.
    Held(bool),
    /// Resumed sent.
    Sent(bool),
}

/// Where set-level synchronisation with the peer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SyncPhase {
    /// The handshake has not completed.
    Handshake,
    /// A version-2 resume: each side answers the other's Resume (HS-RESUME-2, HS-RESUME-3).
    Resuming {
        /// Our answer to the peer's Resume.
        ours: OurAnswer,
        /// The peer's Resumed (its `complete`), once received.
        theirs: Option<bool>,
    },
    /// Range reconciliation after an incomplete resume, before its first Reconcile was handled:
    /// that Reconcile is held in `deferred` while the peer's resume answer is still being
    /// applied here, so that it compares the sets the resume made (HS-RESUME-6).
    AfterResume {
        /// The first Reconcile, held.
        deferred: Option<Vec<RangeEntry>>,
    },
    /// Range reconciliation; it is the peer's turn to send a Reconcile (HS-RECON-10).
    Reconciling,
    /// Reconciliation ended with our all-Skip reply, held until the document messages caused by
    /// the same input have been sent (HS-RECON-10).
    Finishing {
        /// The all-Skip Reconcile to send last.
        final_reply: Vec<RangeEntry>,
    },
    /// The sets are reconciled: they matched at the handshake, the resume was complete both
    /// ways, or range reconciliation ended.
    Reconciled,
}

/// How the set-level sync starts once the handshake is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opening {
    /// The summaries were equal: reconciled already (HS-RECON-1).
    InSync,
    /// Send Resume (HS-RESUME-2).
    SendResume,
    /// The dialer sends the first Reconcile (HS-RECON-7).
    SendReconcile,
    /// The acceptor waits for the dialer's first Reconcile (HS-RECON-10).
    AwaitReconcile,
}

/// What to do with a received Reconcile that is legal now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnReconcile {
    /// Answer it now.
    Respond,
    /// It was held (HS-RESUME-6); it is answered by a later [`SyncPhase::take_deferred`].
    Held,
}

/// How a resume ended, once both answers are out (HS-RESUME-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResumeEnd {
    /// Both answers were complete: the sets are reconciled.
    Complete,
    /// The acceptor waits for the dialer's first Reconcile.
    AwaitReconcile,
    /// The dialer sends the first Reconcile: split at once when `neither` side knew a cursor,
    /// else one range over the whole set.
    SendReconcile {
        /// Neither answer was complete.
        neither: bool,
    },
}

impl SyncPhase {
    /// The handshake completed: `in_sync` when the Hello and Welcome summaries are equal,
    /// `resume` on a version-2 session whose summaries differ (HS-RECON-1, HS-VER-6).
    pub(crate) fn open(&mut self, in_sync: bool, resume: bool, role: Role) -> Opening {
        let (next, opening) = if in_sync {
            (SyncPhase::Reconciled, Opening::InSync)
        } else if resume {
            let next = SyncPhase::Resuming {
                ours: OurAnswer::Awaiting,
                theirs: None,
            };
            (next, Opening::SendResume)
        } else if role == Role::Dialer {
            (SyncPhase::Reconciling, Opening::SendReconcile)
        } else {
            (SyncPhase::Reconciling, Opening::AwaitReconcile)
        };
        *self = next;
        opening
    }

    /// A Reconcile arrived; `loads_pending` when a message to the peer still waits on a load
    /// (HS-RECON-10, HS-RESUME-6).
    pub(crate) fn on_reconcile(
        &mut self,
        loads_pending: bool,
        ranges: &[RangeEntry],
    ) -> Result<OnReconcile, PeerFault> {
        match self {
            SyncPhase::AfterResume { deferred: None } if loads_pending => {
                *self = SyncPhase::AfterResume {
                    deferred: Some(ranges.to_vec()),
                };
                Ok(OnReconcile::Held)
            }
            SyncPhase::AfterResume { deferred: None } | SyncPhase::Reconciling => {
                *self = SyncPhase::Reconciling;
                Ok(OnReconcile::Respond)
            }
            // A second Reconcile before we answered the first, or not the peer's turn at all.
            _ => Err(PeerFault::UnexpectedReconcile),
        }
    }

    /// Our answer to a Reconcile was computed: reconciliation goes on, or it ended — with
    /// `final_reply` to send last, or none (the peer's message was the final one).
    pub(crate) fn answered_reconcile(&mut self, finished: bool, final_reply: Option<Vec<RangeEntry>>) {
        if !finished || *self != SyncPhase::Reconciling {
            return;
        }
        *self = match final_reply {
            Some(final_reply) => SyncPhase::Finishing { final_reply },
            None => SyncPhase::Reconciled,
        };
    }

    /// A Resume arrived and was answered, `complete` or not (HS-RESUME-3).
    pub(crate) fn on_resume(&mut self, complete: bool) -> Result<(), PeerFault> {
        match self {
            SyncPhase::Resuming {
                ours: ours @ OurAnswer::Awaiting,
                ..
            } => {
                *ours = OurAnswer::Held(complete);
                Ok(())
            }
            _ => Err(PeerFault::UnexpectedResume),
        }
    }

    /// A Resumed arrived (HS-RESUME-3).
    pub(crate) fn on_resumed(&mut self, complete: bool) -> Result<(), PeerFault> {
        match self {
            SyncPhase::Resuming {
                theirs: theirs @ None,
                ..
            } => {
                *theirs = Some(complete);
                Ok(())
            }
            _ => Err(PeerFault::UnexpectedResumed),
        }
    }

    /// Nothing waits on a load any more: the held Resumed to send, if any (HS-RESUME-3).
    pub(crate) fn take_held_resumed(&mut self) -> Option<bool> {
        match self {
            SyncPhase::Resuming { ours, .. } => match *ours {
                OurAnswer::Held(complete) => {
                    *ours = OurAnswer::Sent(complete);
                    Some(complete)
                }
                OurAnswer::Awaiting | OurAnswer::Sent(_) => None,
            },
            _ => None,
        }
    }

    /// Ends the resume once both answers are out (HS-RESUME-6); the dialer also waits until its
    /// loads are done, so that its first Reconcile compares the sets the resume made.
    pub(crate) fn resume_progress(&mut self, role: Role, loads_pending: bool) -> Option<ResumeEnd> {
        let SyncPhase::Resuming {
            ours: OurAnswer::Sent(answered),
            theirs: Some(received),
        } = *self
        else {
            return None;
        };
        let (next, end) = if answered && received {
            (SyncPhase::Reconciled, ResumeEnd::Complete)
        } else if role == Role::Acceptor {
            (
                SyncPhase::AfterResume { deferred: None },
                ResumeEnd::AwaitReconcile,
            )
        } else if loads_pending {
            return None;
        } else {
            let neither = !answered && !received;
            (SyncPhase::Reconciling, ResumeEnd::SendReconcile { neither })
        };
        *self = next;
        Some(end)
    }

    /// The held first Reconcile after a resume, to answer now that nothing waits on a load.
    pub(crate) fn take_deferred(&mut self) -> Option<Vec<RangeEntry>> {
        match self {
            SyncPhase::AfterResume { deferred } => deferred.take(),
            _ => None,
        }
    }

    /// The held final all-Skip Reconcile, to send now that nothing waits on a load.
    pub(crate) fn take_final_reply(&mut self) -> Option<Vec<RangeEntry>> {
        match std::mem::replace(self, SyncPhase::Reconciled) {
            SyncPhase::Finishing { final_reply } => Some(final_reply),
            other => {
                *self = other;
                None
            }
        }
    }

    /// Reconciliation has ended (the final reply may still be held): what `sync_status` reports
    /// as reconciled (HS-RECON-5).
    pub(crate) fn is_reconciled(&self) -> bool {
        matches!(self, SyncPhase::Finishing { .. } | SyncPhase::Reconciled)
    }

    /// Nothing set-level is in flight or held (HS-SYNC-7).
    pub(crate) fn is_settled(&self) -> bool {
        *self == SyncPhase::Reconciled
    }
}

#[cfg(test)]
mod tests;
