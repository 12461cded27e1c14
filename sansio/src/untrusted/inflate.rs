//! Bounded inflating: a DEFLATE stream is inflated once, into a buffer that starts at a few
//! times the compressed size and doubles as needed, never past one byte more than the budget
//! allows; a stream that needs that byte is refused. Memory is at most twice the inflated size
//! and never more than the budget (the earlier walk inflated every stream twice — once counting
//! into a sink, then into an exact buffer —, a tenth of a device's CPU when 100,000 notes arrive).

use flate2::{Decompress, FlushDecompress, Status};

use super::{Budget, UntrustedError};

/// The first buffer, as a multiple of the compressed size (Automerge's columns inflate ~2–4×).
const FIRST_GUESS: usize = 4;

/// Inflates `data` (raw DEFLATE, as Automerge writes it), charging the inflated size to
/// `budget`. `at` is where `data` starts, for errors.
pub(super) fn inflate(data: &[u8], budget: &mut Budget, at: usize) -> Result<Vec<u8>, UntrustedError> {
    let limit = budget.expanded_left();
    // The most this buffer may ever hold: one byte past the budget, to tell "too large".
    let cap = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(data.len().saturating_mul(FIRST_GUESS).max(64).min(cap));
    let mut z = Decompress::new(false);
    loop {
        let consumed = usize::try_from(z.total_in()).unwrap_or(usize::MAX);
        let input = data.get(consumed..).unwrap_or_default();
        let before = (z.total_in(), out.len());
        let status = z
            .decompress_vec(input, &mut out, FlushDecompress::Finish)
            .map_err(|_| UntrustedError::Inflate(at))?;
        if status == Status::StreamEnd {
            break;
        }
        if out.len() == out.capacity() {
            if out.len() >= cap {
                // One byte past the budget: refused, as charging it says.
                budget.charge_bytes(out.len() as u64)?;
                return Err(UntrustedError::TooLarge(limit));
            }
            let grown = out.capacity().saturating_mul(2).min(cap);
            out.reserve_exact(grown - out.len());
        } else if (z.total_in(), out.len()) == before {
            // The input ended before the stream did: what it held is the content (as a
            // streaming decoder reads it); Automerge's own parse judges the rest.
            break;
        }
    }
    budget.charge_bytes(out.len() as u64)?;
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
        use std::io::Read;
        // Zeros deflate ~1000×: far past the first guess, so the buffer doubles many times.
        let zeros = deflate(&vec![0u8; 5 << 20]);
        let mut budget = Budget::new(8 << 20, 10);
        let out = inflate(&zeros, &mut budget, 0).expect("within the budget");
        assert_eq!((out.len(), budget.expanded()), (5 << 20, 5 << 20));
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
