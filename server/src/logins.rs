//! Half-finished OPAQUE logins between their start and finish requests (HS-PAIR-11): a bounded
//! table with expiry and a per-source cap, checked before anything is allocated for a new login.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use humansync_protocol::DeviceId;
use humansync_protocol::login::LoginId;
use humansync_sansio::pairing::Attempt;
use humansync_sansio::pairing::pake::{Context, ServerStart};

use crate::guard::SourceKey;

pub use humansync_protocol::limits::{LOGIN_TTL_MS, MAX_LOGINS, MAX_LOGINS_PER_SOURCE};

/// What a login authorises once it finishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// Pairing this device with this name (as sent).
    Pair {
        /// The device.
        device: DeviceId,
        /// Its name as sent.
        name: String,
    },
    /// Revoking this device.
    Revoke {
        /// The target.
        target: DeviceId,
    },
}

/// Whose budget a login was counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Budget {
    /// An unauthenticated client, by address (the pairing guard).
    Source(SourceKey),
    /// A registered device that signed the start (the owner's guard, HS-PAIR-7).
    Device(DeviceId),
}

/// A started login.
#[derive(Debug)]
pub struct Pending {
    /// The OPAQUE server state.
    pub state: ServerStart,
    /// The context it is bound to.
    pub context: Context,
    /// What it authorises.
    pub purpose: Purpose,
    /// Whose budget counted it.
    pub budget: Budget,
    /// Its provisional failure in that budget's guard.
    pub attempt: Attempt,
    expires_at_ms: u64,
}

/// Why a login could not be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// This source has [`MAX_LOGINS_PER_SOURCE`] logins waiting.
    Source,
    /// [`MAX_LOGINS`] logins are waiting.
    Global,
}

#[derive(Debug, Default)]
struct Inner {
    pending: HashMap<LoginId, Pending>,
    by_budget: BTreeMap<Budget, usize>,
}

impl Inner {
    fn expire(&mut self, now_ms: u64) {
        let expired: Vec<LoginId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.expires_at_ms <= now_ms)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.remove(&id);
        }
    }

    fn remove(&mut self, id: &LoginId) -> Option<Pending> {
        let pending = self.pending.remove(id)?;
        if let Some(n) = self.by_budget.get_mut(&pending.budget) {
            *n -= 1;
            if *n == 0 {
                self.by_budget.remove(&pending.budget);
            }
        }
        Some(pending)
    }
}

/// The table.
#[derive(Debug, Default)]
pub struct Logins(Mutex<Inner>);

impl Logins {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Each method leaves the maps in step before it can panic.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a login of `budget` could be stored now (checked before any OPAQUE work).
    pub fn has_room(&self, now_ms: u64, budget: Budget) -> Result<(), Full> {
        let mut inner = self.lock();
        inner.expire(now_ms);
        if inner.by_budget.get(&budget).copied().unwrap_or(0) >= MAX_LOGINS_PER_SOURCE {
            return Err(Full::Source);
        }
        if inner.pending.len() >= MAX_LOGINS {
            return Err(Full::Global);
        }
        Ok(())
    }

    /// Stores a started login under `id`.
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &self,
        now_ms: u64,
        id: LoginId,
        state: ServerStart,
        context: Context,
        purpose: Purpose,
        budget: Budget,
        attempt: Attempt,
    ) -> Result<(), Full> {
        let mut inner = self.lock();
        inner.expire(now_ms);
        if inner.by_budget.get(&budget).copied().unwrap_or(0) >= MAX_LOGINS_PER_SOURCE {
            return Err(Full::Source);
        }
        if inner.pending.len() >= MAX_LOGINS {
            return Err(Full::Global);
        }
        *inner.by_budget.entry(budget).or_default() += 1;
        inner.pending.insert(
            id,
            Pending {
                state,
                context,
                purpose,
                budget,
                attempt,
                expires_at_ms: now_ms.saturating_add(LOGIN_TTL_MS),
            },
        );
        Ok(())
    }

    /// Takes the login `id` out (it can be finished once), unless it expired.
    pub fn take(&self, now_ms: u64, id: &LoginId) -> Option<Pending> {
        let mut inner = self.lock();
        inner.expire(now_ms);
        inner.remove(id)
    }

    /// Logins waiting now.
    pub fn len(&self) -> usize {
        self.lock().pending.len()
    }

    /// True when none waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
