//! Bounded inflating, in one pass for what is small: a DEFLATE stream is inflated into a buffer
//! that starts at a few times the compressed size and doubles, up to [`ONE_PASS`] (and never
//! past one byte more than the budget); most streams (every column of a note) end there,
//! inflated once. A stream that needs more goes the careful way, [`counted_then_exact`]:
//! inflated from the start into a sink, counting, stopping one byte past the budget, and only
//! if it fits inflated again into a buffer of exactly its size. So refusing a bomb holds at most
//! [`ONE_PASS`]. (Every stream used to go the careful way: a tenth of a device's CPU while
//! 100,000 notes arrive.)

use std::io::Read;

use flate2::{Decompress, FlushDecompress, Status};

use super::{Budget, UntrustedError};

/// The most a stream is inflated into before it is known to fit the budget.
const ONE_PASS: usize = 1 << 20;
/// The first buffer, as a multiple of the compressed size (Automerge's columns inflate ~2–4×).
const FIRST_GUESS: usize = 4;

/// Inflates `data` (raw DEFLATE, as Automerge writes it), charging the inflated size to
/// `budget`. `at` is where `data` starts, for errors.
pub(super) fn inflate(data: &[u8], budget: &mut Budget, at: usize) -> Result<Vec<u8>, UntrustedError> {
    let past_limit = usize::try_from(budget.expanded_left().saturating_add(1)).unwrap_or(usize::MAX);
    let cap = past_limit.min(ONE_PASS);
    let mut out = Vec::with_capacity(data.len().saturating_mul(FIRST_GUESS).max(64).min(cap));
    let mut z = Decompress::new(false);
    loop {
        let before = (z.total_in(), out.len());
        let input = data.get(usize::try_from(z.total_in()).unwrap_or(usize::MAX)..);
        let status = z
            .decompress_vec(input.unwrap_or_default(), &mut out, FlushDecompress::Finish)
            .map_err(|_| UntrustedError::Inflate(at))?;
        // The end of the stream, or of the input (what it held is the content, as a streaming
        // decoder reads it; Automerge's own parse judges the rest).
        if status == Status::StreamEnd || (z.total_in(), out.len()) == before {
            break;
        }
        if out.len() == out.capacity() {
            if out.len() >= cap {
                drop(out);
                return counted_then_exact(data, budget, at);
            }
            let grown = out.capacity().saturating_mul(2).min(cap);
            out.reserve_exact(grown - out.len());
        }
    }
    budget.charge_bytes(out.len() as u64)?;
    Ok(out)
}

/// Inflates `data` into a sink, counting, stopping one byte past the budget; only if it fits,
/// again into a buffer of exactly its size.
fn counted_then_exact(data: &[u8], budget: &mut Budget, at: usize) -> Result<Vec<u8>, UntrustedError> {
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
    fn grows_past_its_first_guess_and_matches_a_streaming_decoder() {
        // Zeros deflate ~1000×: far past the first guess, so the buffer doubles many times.
        let zeros = deflate(&vec![0u8; 5 << 20]);
        let mut budget = Budget::new(8 << 20, 10);
        let out = inflate(&zeros, &mut budget, 0).expect("within the budget");
        assert_eq!((out.len(), budget.expanded()), (5 << 20, 5 << 20));
        assert_eq!(out.capacity(), out.len(), "past one pass: an exact buffer");
        // Within one pass: inflated once, at most twice its size.
        let small = deflate(&vec![3u8; 300_000]);
        let out = inflate(&small, &mut Budget::new(8 << 20, 10), 0).expect("within the budget");
        assert_eq!(out, vec![3u8; 300_000]);
        assert!(out.capacity() <= 2 * out.len(), "at most twice the inflated size");
        // An empty budget refuses the first byte; exactly the budget is accepted.
        assert_eq!(
            inflate(&zeros, &mut Budget::new(0, 10), 0),
            Err(UntrustedError::TooLarge(0))
        );
        assert_eq!(
            inflate(&zeros, &mut Budget::new(5 << 20, 10), 0).map(|o| o.len()),
            Ok(5 << 20)
        );
        // A stream cut short gives what a streaming decoder gives.
        let text: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let whole = deflate(&text);
        let cut = &whole[..whole.len() / 2];
        let mut streamed = Vec::new();
        let _ = flate2::bufread::DeflateDecoder::new(cut).read_to_end(&mut streamed);
        assert_eq!(inflate(cut, &mut Budget::new(1 << 20, 10), 0), Ok(streamed));
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
