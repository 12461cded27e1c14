//! Bounded inflating: a DEFLATE stream is first inflated into a sink, counting, and stops one
//! byte past the budget; only if it fits is it inflated again into a buffer of exactly its size.
//! Memory is the inflated size, never more, and never more than the budget allows.

use std::io::Read;

use super::{Budget, UntrustedError};

/// Inflates `data` (raw DEFLATE, as Automerge writes it), charging the inflated size to
/// `budget`. `at` is where `data` starts, for errors.
pub(super) fn inflate(data: &[u8], budget: &mut Budget, at: usize) -> Result<Vec<u8>, UntrustedError> {
    let limit = budget.expanded_left();
    let mut counted = flate2::bufread::DeflateDecoder::new(data).take(limit.saturating_add(1));
    let len = std::io::copy(&mut counted, &mut std::io::sink()).map_err(|_| UntrustedError::Inflate(at))?;
    budget.charge_bytes(len)?;
    let len = usize::try_from(len).map_err(|_| UntrustedError::TooLarge(limit))?;
    let mut out = Vec::with_capacity(len);
    flate2::bufread::DeflateDecoder::new(data)
        .take(len as u64)
        .read_to_end(&mut out)
        .map_err(|_| UntrustedError::Inflate(at))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn deflate(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(bytes).expect("write");
        enc.finish().expect("finish")
    }

    #[test]
    fn inflates_within_the_budget_and_charges_it() {
        let data = deflate(&[7u8; 1000]);
        let mut budget = Budget::new(1000, 10);
        assert_eq!(inflate(&data, &mut budget, 0), Ok(vec![7u8; 1000]));
        assert_eq!(budget.expanded(), 1000);
    }

    #[test]
    fn stops_one_byte_past_the_budget() {
        // HS-SYNC-12: 64 MiB of zeros deflate to ~64 KiB; a 1 MiB budget refuses it.
        let data = deflate(&vec![0u8; 64 << 20]);
        let mut budget = Budget::new(1 << 20, 10);
        assert_eq!(
            inflate(&data, &mut budget, 0),
            Err(UntrustedError::TooLarge(1 << 20))
        );
        assert_eq!(
            inflate(b"\xff\xff\xff", &mut Budget::default(), 3),
            Err(UntrustedError::Inflate(3))
        );
    }
}
