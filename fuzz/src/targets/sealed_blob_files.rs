//! `sealed_blob_files`: arbitrary bytes as each file the sealed blob store reads from disk
//! (HS-REST-6; `humansync::transport::sealed_blobs::fuzzing`).
//!
//! Input: byte 0 modulo 6 picks what the rest is — 0 a blob's `state` file, 1 the plaintext of
//! a state record (sealed under the fixture key first, so the parser behind the AEAD is
//! reached), 2 the `tags` file, 3 the plaintext of the tags record, 4 the `keycheck` file,
//! 5 a re-encryption's `COMMIT` marker. Checked: no panic and no allocation beyond the
//! fuzzer's limits (every failure is a typed error); an accepted record writes back to the same
//! contents; a state's ranges are ordered, disjoint, non-empty and within the blob.

use humansync::transport::sealed_blobs::fuzzing;

/// Bytes of a key check file: magic and a 16-byte key id.
const KEYCHECK_LEN: usize = 8 + 16;

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 6 {
        0 => {
            if let Ok(state) = fuzzing::state(rest) {
                check_ranges(&state);
            }
        }
        1 => {
            if let Ok((first, again)) = fuzzing::state_plain(rest) {
                assert_eq!(first, again, "a state does not round-trip");
                check_ranges(&first);
            }
        }
        2 => {
            let _ = fuzzing::tags(rest);
        }
        3 => {
            if let Ok((first, again)) = fuzzing::tags_plain(rest) {
                assert_eq!(first, again, "tags do not round-trip");
            }
        }
        4 => {
            let ok = fuzzing::keycheck(rest).is_ok();
            assert_eq!(
                ok,
                rest.len() == KEYCHECK_LEN && rest.starts_with(b"HSBKEY\x00\x01"),
                "keycheck accepted or refused the wrong bytes"
            );
        }
        _ => {
            if let Ok((from, to)) = fuzzing::commit_marker(rest) {
                for dir in [from, to] {
                    assert!(dir == "blobs" || dir == "blobs-sealed", "{dir}");
                }
            }
        }
    }
}

/// A state's ranges: non-empty, ordered, disjoint (not even touching) and within the blob.
fn check_ranges((size, ranges): &fuzzing::StateSummary) {
    let groups = size.div_ceil(16 * 1024);
    let mut last_end = None;
    for &(start, end) in ranges {
        assert!(start < end && end <= groups, "{start}..{end} of {groups} groups");
        assert!(last_end.is_none_or(|e| e < start), "ranges overlap or touch");
        last_end = Some(end);
    }
}
