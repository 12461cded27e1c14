//! The AES-GCM nonces of one open store (HS-REST-3): a random 4-byte prefix per open and a
//! random 64-bit start counting up, so no nonce repeats under one key.

use std::sync::atomic::{AtomicU64, Ordering};

/// A nonce's length (AES-256-GCM's 96 bits).
pub(crate) const NONCE_LEN: usize = 12;

/// The nonces of one open store.
#[derive(Debug)]
pub(crate) struct Nonces {
    prefix: [u8; 4],
    counter: AtomicU64,
}

impl Nonces {
    /// A new sequence; fails only when the OS has no randomness.
    pub(crate) fn new() -> Result<Nonces, getrandom::Error> {
        let mut seed = [0u8; NONCE_LEN];
        getrandom::fill(&mut seed)?;
        let mut prefix = [0u8; 4];
        prefix.copy_from_slice(&seed[..4]);
        let mut start = [0u8; 8];
        start.copy_from_slice(&seed[4..]);
        Ok(Nonces {
            prefix,
            counter: AtomicU64::new(u64::from_le_bytes(start)),
        })
    }

    /// The next nonce.
    pub(crate) fn next(&self) -> [u8; NONCE_LEN] {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..4].copy_from_slice(&self.prefix);
        nonce[4..].copy_from_slice(&n.to_le_bytes());
        nonce
    }
}
