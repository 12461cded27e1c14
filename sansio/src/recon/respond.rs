//! The two entry points: the dialer's first ranges, and the answer to a received Reconcile.

use humansync_protocol::limits::{MAX_RECON_ITEMS, MAX_RECON_RANGES, RECON_BRANCHING, RECON_ITEMS_THRESHOLD};
use humansync_protocol::{Bound, Fingerprint, RangeEntry, RangeMode};

use super::action::{ReconAction, diff};
use super::error::ReconError;
use super::set::{Digested, DocSet};
use super::split::answer_differing;

// A reply can always answer its first non-Skip range in full: after at most one
// merged leading Skip, a whole split still leaves a range to spare (see `Reply::fits`),
// and a threshold-sized Items list fits the item budget. So every message makes progress.
const _: () = assert!(1 + RECON_BRANCHING < MAX_RECON_RANGES && RECON_ITEMS_THRESHOLD <= MAX_RECON_ITEMS);

/// The dialer's first Reconcile ranges, sent when the Hello / Welcome summaries
/// differ (HS-RECON-2, HS-RECON-7): the whole id space answered as a differing range, i.e.
/// `RECON_BRANCHING` Fingerprint ranges, or one `Items` range when the set holds
/// at most `RECON_ITEMS_THRESHOLD` items (HS-RECON-3). Always within the limits of HS-RECON-5.
pub fn initiate<V: Digested>(set: &DocSet<V>) -> Vec<RangeEntry> {
    answer_differing(set, &[], &Bound::End)
}

/// The dialer's first Reconcile after an incomplete resume (HS-RESUME-6): one Fingerprint range
/// over the whole set, answered all-Skip when the resume already made the sets equal.
pub fn initiate_whole<V: Digested>(set: &DocSet<V>) -> Vec<RangeEntry> {
    let summary = set.summary();
    vec![RangeEntry {
        upper: Bound::End,
        mode: RangeMode::Fingerprint {
            count: summary.count,
            fingerprint: summary.fingerprint,
        },
    }]
}

/// The result of processing one received Reconcile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The ranges to send back in a Reconcile; None when the received message
    /// was all-Skip, which ends reconciliation and is never answered (HS-RECON-5).
    pub reply: Option<Vec<RangeEntry>>,
    /// What the received `Items` ranges revealed, in id order (HS-RECON-4).
    pub actions: Vec<ReconAction>,
}

impl Response {
    /// True when reconciliation has ended for this side: nothing to send, or
    /// the reply is all-Skip (sent once, never answered; HS-RECON-5).
    pub fn is_final(&self) -> bool {
        self.reply
            .as_ref()
            .is_none_or(|r| r.iter().all(|e| e.mode == RangeMode::Skip))
    }
}

/// Processes a received Reconcile against the local set (HS-RECON-3, HS-RECON-4, HS-RECON-5).
///
/// Per range: Skip → Skip; equal count and fingerprint → Skip; a differing
/// fingerprint → own items or a split (see [`initiate`]); Items → the diff's
/// actions and Skip. Adjacent Skips are merged. The reply holds at most
/// `MAX_RECON_RANGES` ranges and `MAX_RECON_ITEMS` items (HS-RECON-5): a range
/// whose answer would not fit (keeping one range to spare) is answered with the
/// own unsplit fingerprint, which the peer splits next round; once no range is
/// to spare, further deferred ranges extend the last one (as Negentropy's frame
/// limit does). The first range that is not Skip is always answered in full, so
/// every message makes progress and reconciliation converges.
pub fn respond<V: Digested>(set: &DocSet<V>, ranges: &[RangeEntry]) -> Result<Response, ReconError> {
    validate(ranges)?;
    let mut actions = Vec::new();
    if ranges.iter().all(|r| r.mode == RangeMode::Skip) {
        return Ok(Response { reply: None, actions });
    }
    let mut reply = Reply::default();
    let mut lower: &[u8] = &[];
    for range in ranges {
        let answer = match &range.mode {
            RangeMode::Fingerprint { count, fingerprint }
                if set.range_summary(lower, &range.upper) != (*count, *fingerprint) =>
            {
                answer_differing(set, lower, &range.upper)
            }
            _ => vec![RangeEntry {
                upper: range.upper.clone(),
                mode: RangeMode::Skip,
            }],
        };
        if !reply.fits(&answer) {
            // Not answered this round: the peer's items here are not diffed now; the
            // deferred fingerprint covers them and they are diffed once, later.
            let (count, fingerprint) = set.range_summary(lower, &range.upper);
            reply.defer(range.upper.clone(), count, fingerprint);
        } else {
            if let RangeMode::Items(theirs) = &range.mode {
                diff(set.range(lower, &range.upper), theirs, &mut actions);
            }
            answer.into_iter().for_each(|e| reply.push(e));
        }
        if let Bound::Key(key) = &range.upper {
            lower = key;
        }
    }
    Ok(Response {
        reply: Some(reply.ranges),
        actions,
    })
}

/// A reply under construction, within the limits of HS-RECON-5, built by the policy of
/// HS-RECON-9 (fit with one range spare, else defer; merge deferrals once no range is spare).
///
/// Invariant: after every call, `ranges.len() < MAX_RECON_RANGES` or the last
/// range is deferred, so any further range can still be answered or deferred.
#[derive(Default)]
struct Reply {
    ranges: Vec<RangeEntry>,
    items: usize,
    /// The last range is a deferred fingerprint, which a following deferral may extend.
    last_deferred: bool,
}

impl Reply {
    /// Whether `answer` fits while keeping one range free for a deferral.
    fn fits(&self, answer: &[RangeEntry]) -> bool {
        let merges = self.last_is_skip() && answer.first().is_some_and(|e| e.mode == RangeMode::Skip);
        let added = answer.len() - usize::from(merges);
        self.ranges.len() + added < MAX_RECON_RANGES && self.items + item_count(answer) <= MAX_RECON_ITEMS
    }

    fn last_is_skip(&self) -> bool {
        self.ranges.last().is_some_and(|e| e.mode == RangeMode::Skip)
    }

    /// Appends an answered range, merging adjacent Skips (HS-RECON-5).
    fn push(&mut self, entry: RangeEntry) {
        self.last_deferred = false;
        if entry.mode == RangeMode::Skip
            && let Some(last) = self.ranges.last_mut()
            && last.mode == RangeMode::Skip
        {
            last.upper = entry.upper;
            return;
        }
        self.items += item_count(std::slice::from_ref(&entry));
        self.ranges.push(entry);
    }

    /// Answers a range that does not fit with the own, unsplit fingerprint, which
    /// the peer splits next round. It keeps its own bounds while a range is to
    /// spare; after that it extends the previous deferred range.
    fn defer(&mut self, upper: Bound, count: u32, fingerprint: Fingerprint) {
        if self.ranges.len() + 1 >= MAX_RECON_RANGES
            && self.last_deferred
            && let Some(last) = self.ranges.last_mut()
            && let RangeMode::Fingerprint {
                count: c,
                fingerprint: f,
            } = &mut last.mode
        {
            *c = c.saturating_add(count);
            f.xor(&fingerprint);
            last.upper = upper;
            return;
        }
        self.ranges.push(RangeEntry {
            upper,
            mode: RangeMode::Fingerprint { count, fingerprint },
        });
        self.last_deferred = true;
    }
}

fn item_count(ranges: &[RangeEntry]) -> usize {
    ranges
        .iter()
        .map(|r| match &r.mode {
            RangeMode::Items(items) => items.len(),
            _ => 0,
        })
        .sum()
}

/// Checks HS-RECON-2, HS-RECON-5 and HS-RECON-11 on a received message: 1..=MAX_RECON_RANGES
/// ranges, bounds strictly ascending from the empty key, the last at End, at most
/// MAX_RECON_ITEMS items, each Items list strictly ascending, inside its range and free of
/// `_devices`.
fn validate(ranges: &[RangeEntry]) -> Result<(), ReconError> {
    if ranges.is_empty() {
        return Err(ReconError::NoRanges);
    }
    if ranges.len() > MAX_RECON_RANGES {
        return Err(ReconError::TooManyRanges(ranges.len()));
    }
    let items = item_count(ranges);
    if items > MAX_RECON_ITEMS {
        return Err(ReconError::TooManyItems(items));
    }
    let mut lower: &[u8] = &[];
    for (index, range) in ranges.iter().enumerate() {
        let last = index + 1 == ranges.len();
        let upper = match &range.upper {
            Bound::Key(key) if key.as_slice() > lower => Some(key.as_slice()),
            Bound::Key(_) => return Err(ReconError::NotAscending { index }),
            Bound::End if last => None,
            Bound::End => return Err(ReconError::NotAscending { index }),
        };
        if let RangeMode::Items(items) = &range.mode {
            let ids = items.iter().map(|i| i.doc.as_str().as_bytes());
            if ids.clone().zip(ids.clone().skip(1)).any(|(a, b)| a >= b) {
                return Err(ReconError::ItemsNotAscending { index });
            }
            if ids.clone().any(|id| id < lower || upper.is_some_and(|u| id >= u)) {
                return Err(ReconError::ItemOutOfRange { index });
            }
            // HS-RECON-11: `_devices` is not in the set (HS-RECON-6); listing it is a fault.
            if items.iter().any(|i| i.doc.is_devices()) {
                return Err(ReconError::DevicesItem { index });
            }
        }
        match upper {
            Some(key) => lower = key,
            None => return Ok(()),
        }
    }
    Err(ReconError::LastNotEnd)
}
