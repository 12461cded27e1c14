//! Column metadata and the rows each column declares, read without decoding any value.
//!
//! A column is a spec (`id << 4 | deflate << 3 | type`) and a data length. Its rows are what
//! its encoding declares: for the run-length encodings (group, actor, integer, delta, string,
//! value metadata) a signed count `n > 0` is a run of `n` copies of the one value that follows,
//! `n < 0` is `-n` literal values, `0` is a null run whose unsigned length follows; a boolean
//! column is alternating run lengths; a raw value column has no rows of its own. The rows of a
//! chunk are the most any of its columns declares; a DEFLATE'd column is inflated (bounded) and
//! then counted the same way.

use super::inflate::inflate;
use super::reader::Reader;
use super::{Budget, UntrustedError};

const DELTA: u8 = 3;
const BOOLEAN: u8 = 4;
const STRING: u8 = 5;
const VALUE: u8 = 7;
const DEFLATE_BIT: u64 = 0b1000;

/// One column's spec and the length of its data as written.
#[derive(Debug, Clone, Copy)]
pub(super) struct Column {
    spec: u64,
    len: u64,
}

impl Column {
    fn kind(&self) -> u8 {
        (self.spec & 0b111) as u8
    }

    fn deflated(&self) -> bool {
        self.spec & DEFLATE_BIT != 0
    }
}

/// A column metadata block: a count, then (spec, length) per column.
pub(super) fn read_meta(r: &mut Reader<'_>) -> Result<Vec<Column>, UntrustedError> {
    let count = r.uleb()?;
    let mut columns = Vec::new();
    // Each column takes at least two bytes, so the loop is bounded by the input.
    for _ in 0..count {
        let at = r.at();
        let spec = r.uleb()?;
        if spec > u64::from(u32::MAX) {
            return Err(UntrustedError::Malformed(at, "column spec"));
        }
        let len = r.uleb()?;
        columns.push(Column { spec, len });
    }
    Ok(columns)
}

/// The summed data length of `columns` (what follows the metadata).
pub(super) fn data_len(columns: &[Column], at: usize) -> Result<u64, UntrustedError> {
    columns
        .iter()
        .try_fold(0u64, |sum, c| sum.checked_add(c.len))
        .ok_or(UntrustedError::Truncated(at))
}

/// Walks the data of `columns` (`data` is exactly their summed length), inflating DEFLATE'd
/// columns within `budget`; returns the most rows any column declares.
pub(super) fn walk(
    columns: &[Column],
    data: &[u8],
    budget: &mut Budget,
    base: usize,
) -> Result<u64, UntrustedError> {
    let mut r = Reader::new(data);
    let mut most = 0;
    for column in columns {
        let at = base + r.at();
        let bytes = r.take(column.len)?;
        let counted = if column.deflated() {
            let inflated = inflate(bytes, budget, at)?;
            count_rows(column.kind(), &inflated, budget.rows_left(), at)
        } else {
            count_rows(column.kind(), bytes, budget.rows_left(), at)
        };
        let rows = counted.map_err(|e| match e {
            UntrustedError::TooManyRows(_) => UntrustedError::TooManyRows(budget.max_rows()),
            e => e,
        })?;
        most = most.max(rows);
    }
    Ok(most)
}

/// The rows one column's data declares; more than `limit` is refused as soon as it is seen.
fn count_rows(kind: u8, bytes: &[u8], limit: u64, base: usize) -> Result<u64, UntrustedError> {
    let mut r = Reader::new(bytes);
    let mut rows = 0u64;
    let mut add = |n: u64| -> Result<(), UntrustedError> {
        rows = rows
            .checked_add(n)
            .filter(|r| *r <= limit)
            .ok_or(UntrustedError::TooManyRows(limit))?;
        Ok(())
    };
    let fail = |e: UntrustedError| shift(e, base);
    match kind {
        VALUE => return Ok(0),
        BOOLEAN => {
            while !r.is_empty() {
                add(r.uleb().map_err(fail)?)?;
            }
        }
        _ => {
            while !r.is_empty() {
                let count = r.sleb().map_err(fail)?;
                if count > 0 {
                    skip_value(kind, &mut r).map_err(fail)?;
                    add(count.unsigned_abs())?;
                } else if count < 0 {
                    let n = count.unsigned_abs();
                    add(n)?;
                    // `add` bounded n by the row limit; each value also takes at least a byte.
                    for _ in 0..n {
                        skip_value(kind, &mut r).map_err(fail)?;
                    }
                } else {
                    add(r.uleb().map_err(fail)?)?;
                }
            }
        }
    }
    Ok(rows)
}

fn skip_value(kind: u8, r: &mut Reader<'_>) -> Result<(), UntrustedError> {
    match kind {
        DELTA => r.sleb().map(|_| ()),
        STRING => r.prefixed().map(|_| ()),
        _ => r.uleb().map(|_| ()), // group, actor, integer, value metadata
    }
}

/// Moves an error's offset from the column's own bytes to the enclosing buffer.
fn shift(e: UntrustedError, base: usize) -> UntrustedError {
    match e {
        UntrustedError::Truncated(at) => UntrustedError::Truncated(base + at),
        UntrustedError::Leb128(at) => UntrustedError::Leb128(base + at),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_lengths_are_counted_not_expanded() {
        // A run of 2^40 copies of 1 in a uleb column: 7 bytes that declare 2^40 rows.
        let mut run = vec![0x80, 0x80, 0x80, 0x80, 0x80, 0x20];
        run.push(1);
        assert_eq!(count_rows(2, &run, u64::MAX, 0), Ok(1 << 40));
        assert_eq!(
            count_rows(2, &run, 1 << 20, 0),
            Err(UntrustedError::TooManyRows(1 << 20))
        );
        // Literals: -2, then two values; a null run of 5.
        assert_eq!(count_rows(2, &[0x7e, 1, 2, 0, 5], 100, 0), Ok(7));
        // Booleans: runs of 3 false, 4 true.
        assert_eq!(count_rows(BOOLEAN, &[3, 4], 100, 0), Ok(7));
        // Strings: a run of 3 of "ab".
        assert_eq!(count_rows(STRING, &[3, 2, b'a', b'b'], 100, 0), Ok(3));
        assert_eq!(
            count_rows(STRING, &[3, 9, b'a'], 100, 0),
            Err(UntrustedError::Truncated(2))
        );
        assert_eq!(count_rows(VALUE, &[0xff; 8], 100, 0), Ok(0));
    }
}
