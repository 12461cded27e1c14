//! What one parse may cost: expanded bytes and declared rows, charged as the walk goes.

use humansync_protocol::limits::{MAX_AUTOMERGE_EXPANDED_BYTES, MAX_AUTOMERGE_ROWS};

use super::UntrustedError;

/// The bounds of one parse and what has been charged against them so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    max_expanded: u64,
    max_rows: u64,
    expanded: u64,
    rows: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(MAX_AUTOMERGE_EXPANDED_BYTES, MAX_AUTOMERGE_ROWS)
    }
}

impl Budget {
    /// A budget with these bounds (the protocol's are [`Budget::default`]).
    pub fn new(max_expanded: u64, max_rows: u64) -> Self {
        Budget {
            max_expanded,
            max_rows,
            expanded: 0,
            rows: 0,
        }
    }

    /// Bytes charged so far.
    pub fn expanded(&self) -> u64 {
        self.expanded
    }

    /// Rows charged so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The most rows this budget admits.
    pub fn max_rows(&self) -> u64 {
        self.max_rows
    }

    /// Bytes that may still be charged.
    pub(super) fn expanded_left(&self) -> u64 {
        self.max_expanded - self.expanded
    }

    pub(super) fn charge_bytes(&mut self, n: u64) -> Result<(), UntrustedError> {
        match self.expanded.checked_add(n) {
            Some(total) if total <= self.max_expanded => {
                self.expanded = total;
                Ok(())
            }
            _ => Err(UntrustedError::TooLarge(self.max_expanded)),
        }
    }

    /// Rows that may still be charged.
    pub(super) fn rows_left(&self) -> u64 {
        self.max_rows - self.rows
    }

    pub(super) fn charge_rows(&mut self, n: u64) -> Result<(), UntrustedError> {
        match self.rows.checked_add(n) {
            Some(total) if total <= self.max_rows => {
                self.rows = total;
                Ok(())
            }
            _ => Err(UntrustedError::TooManyRows(self.max_rows)),
        }
    }
}
