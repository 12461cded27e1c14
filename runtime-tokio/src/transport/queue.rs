//! The per-session send queue and its writer task: ordered, bounded by bytes (HS-TRANSPORT-2).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use humansync_protocol::CloseCode;
use iroh::endpoint::{Connection, SendStream, WriteError};
use tokio::sync::{Semaphore, mpsc};

use super::table::{LocalClose, close_with};

/// Most bytes queued per session before [`QueueTx::push`] refuses more: four maximal frames.
pub const SEND_QUEUE_LIMIT: usize = 4 * (humansync_protocol::limits::MAX_FRAME_LEN as usize + 4);

/// How long a graceful close waits for queued data to be written and acknowledged.
pub(crate) const CLOSE_LINGER: Duration = Duration::from_secs(2);

#[derive(Debug)]
enum Cmd {
    Data(Vec<u8>),
    /// Finish the stream, wait for the peer's acknowledgement, then close with the code.
    Close(CloseCode),
}

/// Why a push was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushError {
    /// The session is closing or closed.
    Closed,
    /// Over [`SEND_QUEUE_LIMIT`]; carries the bytes already queued.
    Full(usize),
}

/// The sending half of a session's queue.
#[derive(Debug, Clone)]
pub(crate) struct QueueTx {
    tx: mpsc::UnboundedSender<Cmd>,
    budget: Arc<Semaphore>,
    closing: Arc<AtomicBool>,
    discard: Arc<AtomicBool>,
}

/// The receiving half, owned by the writer task.
#[derive(Debug)]
pub(crate) struct QueueRx {
    rx: mpsc::UnboundedReceiver<Cmd>,
    budget: Arc<Semaphore>,
    discard: Arc<AtomicBool>,
}

/// A new empty queue.
pub(crate) fn queue() -> (QueueTx, QueueRx) {
    let (tx, rx) = mpsc::unbounded_channel();
    let budget = Arc::new(Semaphore::new(SEND_QUEUE_LIMIT));
    let discard = Arc::new(AtomicBool::new(false));
    let tx = QueueTx {
        tx,
        budget: budget.clone(),
        closing: Arc::new(AtomicBool::new(false)),
        discard: discard.clone(),
    };
    (tx, QueueRx { rx, budget, discard })
}

impl QueueTx {
    /// Bytes queued and not yet handed to QUIC.
    pub(crate) fn queued(&self) -> usize {
        SEND_QUEUE_LIMIT.saturating_sub(self.budget.available_permits())
    }

    /// Queues `bytes` without waiting; refuses when the byte budget is exhausted.
    pub(crate) fn push(&self, bytes: Vec<u8>) -> Result<(), PushError> {
        if self.closing.load(Ordering::Acquire) {
            return Err(PushError::Closed);
        }
        let permits = u32::try_from(bytes.len()).map_err(|_| PushError::Full(self.queued()))?;
        match self.budget.try_acquire_many(permits) {
            Ok(permit) => permit.forget(),
            Err(_) => return Err(PushError::Full(self.queued())),
        }
        self.tx.send(Cmd::Data(bytes)).map_err(|_| PushError::Closed)
    }

    /// Queues `bytes`, waiting for room in the byte budget.
    pub(crate) async fn push_wait(&self, bytes: Vec<u8>) -> Result<(), PushError> {
        if self.closing.load(Ordering::Acquire) {
            return Err(PushError::Closed);
        }
        let permits = u32::try_from(bytes.len())
            .ok()
            .filter(|n| (*n as usize) <= SEND_QUEUE_LIMIT)
            .ok_or(PushError::Full(self.queued()))?;
        match self.budget.acquire_many(permits).await {
            Ok(permit) => permit.forget(),
            Err(_) => return Err(PushError::Closed),
        }
        self.tx.send(Cmd::Data(bytes)).map_err(|_| PushError::Closed)
    }

    /// Refuses further pushes and asks the writer to flush, finish and close with `code`.
    /// Returns false if the session was already closing.
    pub(crate) fn close(&self, code: CloseCode) -> bool {
        if self.closing.swap(true, Ordering::AcqRel) {
            return false;
        }
        let _ = self.tx.send(Cmd::Close(code));
        true
    }

    /// Drops everything queued and refuses further pushes (HS-GATE-4: queued data for a revoked peer is discarded).
    pub(crate) fn discard(&self) {
        self.closing.store(true, Ordering::Release);
        self.discard.store(true, Ordering::Release);
        self.budget.close();
    }
}

/// Writes queued bytes to the session stream in order until the queue ends, the peer stops
/// the stream, or a close is requested.
pub(crate) async fn run_writer(
    mut send: SendStream,
    mut queue: QueueRx,
    conn: Connection,
    local: LocalClose,
) {
    while let Some(cmd) = queue.rx.recv().await {
        if queue.discard.load(Ordering::Acquire) {
            return;
        }
        match cmd {
            Cmd::Data(bytes) => {
                let len = bytes.len();
                match send.write_all(&bytes).await {
                    Ok(()) => queue.budget.add_permits(len),
                    Err(WriteError::Stopped(_)) => {
                        // The peer refused our session stream: only allowed for additional streams (HS-TRANSPORT-2).
                        close_with(&conn, &local, CloseCode::PROTOCOL);
                        return;
                    }
                    Err(_) => return,
                }
            }
            Cmd::Close(code) => {
                let _ = send.finish();
                let _ = tokio::time::timeout(CLOSE_LINGER, send.stopped()).await;
                close_with(&conn, &local, code);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_byte_budget_bounds_the_queue() {
        let (tx, mut rx) = queue();
        let big = SEND_QUEUE_LIMIT / 4;
        for _ in 0..4 {
            tx.push(vec![0; big]).expect("fits");
        }
        assert_eq!(tx.queued(), SEND_QUEUE_LIMIT);
        assert_eq!(tx.push(vec![1]), Err(PushError::Full(SEND_QUEUE_LIMIT)));
        // A waiting push proceeds once the writer hands bytes to QUIC and returns their budget.
        let waiting = tokio::spawn({
            let tx = tx.clone();
            async move { tx.push_wait(vec![2; 10]).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        let Some(Cmd::Data(first)) = rx.rx.recv().await else {
            panic!("data")
        };
        rx.budget.add_permits(first.len());
        assert_eq!(waiting.await.expect("join"), Ok(()));
        assert_eq!(tx.queued(), SEND_QUEUE_LIMIT - big + 10);
    }

    #[tokio::test]
    async fn closing_and_discarding_refuse_more() {
        let (tx, _rx) = queue();
        assert!(tx.close(CloseCode::NORMAL));
        assert!(!tx.close(CloseCode::NORMAL), "a second close is a no-op");
        assert_eq!(tx.push(vec![1]), Err(PushError::Closed));
        let (tx, _rx) = queue();
        tx.discard();
        assert_eq!(tx.push(vec![1]), Err(PushError::Closed));
        assert_eq!(tx.push_wait(vec![1]).await, Err(PushError::Closed));
        // Larger than the whole budget can never fit.
        let (tx, _rx) = queue();
        assert!(matches!(
            tx.push_wait(vec![0; SEND_QUEUE_LIMIT + 1]).await,
            Err(PushError::Full(0))
        ));
    }
}
