//! The transition table of [`SyncPhase`]: every (state, event) outcome, as an insta snapshot
//! (HS-RECON-10, HS-RESUME-3, HS-RESUME-6). A changed transition is a visible diff.

use std::fmt::Write as _;

use humansync_protocol::{Bound, RangeEntry, RangeMode};

use super::{OurAnswer, SyncPhase};
use crate::Role;

fn ranges() -> Vec<RangeEntry> {
    vec![RangeEntry {
        upper: Bound::End,
        mode: RangeMode::Skip,
    }]
}

fn show(phase: &SyncPhase) -> String {
    match phase {
        SyncPhase::Handshake => "Handshake".to_owned(),
        SyncPhase::Resuming { ours, theirs } => {
            let ours = match ours {
                OurAnswer::Awaiting => "awaiting".to_owned(),
                OurAnswer::Held(c) => format!("held({c})"),
                OurAnswer::Sent(c) => format!("sent({c})"),
            };
            let theirs = theirs.map_or("-".to_owned(), |c| c.to_string());
            format!("Resuming(ours={ours}, theirs={theirs})")
        }
        SyncPhase::AfterResume { deferred } => {
            format!("AfterResume({})", if deferred.is_some() { "held" } else { "-" })
        }
        SyncPhase::Reconciling => "Reconciling".to_owned(),
        SyncPhase::Finishing { .. } => "Finishing(final held)".to_owned(),
        SyncPhase::Reconciled => "Reconciled".to_owned(),
    }
}

fn states() -> Vec<SyncPhase> {
    let resuming = |ours, theirs| SyncPhase::Resuming { ours, theirs };
    vec![
        SyncPhase::Handshake,
        resuming(OurAnswer::Awaiting, None),
        resuming(OurAnswer::Awaiting, Some(true)),
        resuming(OurAnswer::Held(true), None),
        resuming(OurAnswer::Held(true), Some(true)),
        resuming(OurAnswer::Sent(true), None),
        resuming(OurAnswer::Sent(true), Some(true)),
        resuming(OurAnswer::Sent(true), Some(false)),
        resuming(OurAnswer::Sent(false), Some(false)),
        SyncPhase::AfterResume { deferred: None },
        SyncPhase::AfterResume {
            deferred: Some(ranges()),
        },
        SyncPhase::Reconciling,
        SyncPhase::Finishing {
            final_reply: ranges(),
        },
        SyncPhase::Reconciled,
    ]
}

type Event = (&'static str, fn(&mut SyncPhase) -> String);

fn events() -> Vec<Event> {
    vec![
        ("Reconcile, no load pending", |p| {
            format!("{:?}", p.on_reconcile(false, &ranges()))
        }),
        ("Reconcile, loads pending", |p| {
            format!("{:?}", p.on_reconcile(true, &ranges()))
        }),
        ("answered, goes on", |p| {
            format!("{:?}", p.answered_reconcile(false, None))
        }),
        ("answered, final reply", |p| {
            format!("{:?}", p.answered_reconcile(true, Some(ranges())))
        }),
        ("answered, peer's was final", |p| {
            format!("{:?}", p.answered_reconcile(true, None))
        }),
        ("Resume (complete)", |p| format!("{:?}", p.on_resume(true))),
        ("Resumed (incomplete)", |p| format!("{:?}", p.on_resumed(false))),
        ("take held Resumed", |p| format!("{:?}", p.take_held_resumed())),
        ("progress, dialer, no load", |p| {
            format!("{:?}", p.resume_progress(Role::Dialer, false))
        }),
        ("progress, dialer, loads", |p| {
            format!("{:?}", p.resume_progress(Role::Dialer, true))
        }),
        ("progress, acceptor", |p| {
            format!("{:?}", p.resume_progress(Role::Acceptor, true))
        }),
        ("take deferred", |p| {
            format!("{:?}", p.take_deferred().map(|r| r.len()))
        }),
        ("take final reply", |p| {
            format!("{:?}", p.take_final_reply().map(|r| r.len()))
        }),
    ]
}

/// HS-RECON-10, HS-RESUME-3, HS-RESUME-6: every event in every state; an illegal one is a peer
/// fault and leaves the state as it was.
#[test]
fn sync_phase_transition_table() {
    let mut table = String::new();
    for state in states() {
        writeln!(table, "{}", show(&state)).expect("writing to a String");
        for (name, event) in events() {
            let mut phase = state.clone();
            let outcome = event(&mut phase);
            let moved = if phase == state {
                "=".to_owned()
            } else {
                format!("-> {}", show(&phase))
            };
            writeln!(table, "  {name:<28} {outcome:<40} {moved}").expect("writing to a String");
        }
        let settled = (state.is_reconciled(), state.is_settled());
        writeln!(table, "  reconciled/settled: {settled:?}").expect("writing to a String");
    }
    insta::assert_snapshot!("sync_phase_transitions", table);
}

/// HS-RECON-1, HS-RECON-7, HS-RESUME-2: how the set-level sync starts after the handshake.
#[test]
fn sync_phase_opening_table() {
    let mut table = String::new();
    for in_sync in [true, false] {
        for resume in [true, false] {
            for role in [Role::Dialer, Role::Acceptor] {
                let mut phase = SyncPhase::Handshake;
                let opening = phase.open(in_sync, resume && !in_sync, role);
                writeln!(
                    table,
                    "in_sync={in_sync:<5} resume={resume:<5} {role:?}: {opening:?} -> {}",
                    show(&phase)
                )
                .expect("writing to a String");
            }
        }
    }
    insta::assert_snapshot!("sync_phase_opening", table);
}
