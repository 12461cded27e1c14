//! The driver takes no network event while the disk is behind, and every other input still
//! (issue 17): counts of inputs taken, no timing.

use humansync_sansio::{ConnId, IoResult, IoTaskId};
use tokio::sync::{mpsc, watch};

use super::{Input, Sources, next_input};
use crate::transport::NetEvent;

/// The driver's sources, and the senders that keep them open.
struct Senders {
    net: mpsc::Sender<NetEvent>,
    inputs: mpsc::UnboundedSender<Input>,
    _commands: mpsc::Sender<super::Command>,
    _lan: watch::Sender<u64>,
}

fn sources() -> (Senders, Sources) {
    let (commands_tx, commands) = mpsc::channel(1);
    let (net_tx, net_events) = mpsc::channel(4);
    let (inputs_tx, inputs) = mpsc::unbounded_channel();
    let (lan_tx, lan) = watch::channel(0);
    let sources = Sources {
        commands,
        net_events,
        inputs,
        lan,
        lan_open: false,
    };
    let senders = Senders {
        net: net_tx,
        inputs: inputs_tx,
        _commands: commands_tx,
        _lan: lan_tx,
    };
    (senders, sources)
}

#[tokio::test]
async fn network_events_wait_while_writes_are_behind_and_disk_answers_do_not() {
    let (senders, mut sources) = sources();
    let bytes = || NetEvent::Bytes {
        conn: ConnId(1),
        bytes: vec![1, 2, 3],
    };
    senders.net.send(bytes()).await.expect("queued");
    senders
        .inputs
        .send(Input::Io {
            id: IoTaskId(7),
            result: IoResult::Done,
        })
        .map_err(|_| "driver queue")
        .expect("queued");

    // Not reading: the disk's answer is taken, the network event stays queued.
    let first = next_input(&mut sources, None, false).await;
    assert!(matches!(first, Input::Io { id: IoTaskId(7), .. }));
    // Only the network event is left: not reading, only the (already due) timer is taken.
    let due = Some(tokio::time::Instant::now());
    assert!(matches!(
        next_input(&mut sources, due, false).await,
        Input::Timeout
    ));
    assert_eq!(sources.net_events.len(), 1, "the bytes wait in the bounded queue");

    // Reading again (the writes were answered): the bytes are taken.
    let next = next_input(&mut sources, None, true).await;
    assert!(matches!(next, Input::Net(NetEvent::Bytes { .. })));
    assert_eq!(sources.net_events.len(), 0);
}
