//! Answering a range whose fingerprints differ: own items, or a split into sub-ranges (HS-RECON-3).

use humansync_protocol::limits::{RECON_BRANCHING, RECON_ITEMS_THRESHOLD};
use humansync_protocol::{Bound, Fingerprint, Item, RangeEntry, RangeMode};

use super::set::{Digested, DocSet, count_u32};

/// The shortest prefix of `b` that sorts strictly above `a`, for `a < b` bytewise
/// (HS-RECON-2). With `p` the result, `a < p <= b`: `a` falls below the bound, `b` not.
///
/// That prefix is `b` up to and including the first byte where they differ
/// (or where `a` ends, when `a` is a prefix of `b`).
pub fn separator(a: &[u8], b: &[u8]) -> Vec<u8> {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    b[..(common + 1).min(b.len())].to_vec()
}

/// The answer to range `[lower, upper)` whose fingerprints differ (HS-RECON-3):
/// `Items(own)` when the set holds at most [`RECON_ITEMS_THRESHOLD`] items there
/// (including none), else [`RECON_BRANCHING`] consecutive Fingerprint sub-ranges
/// of near-equal counts whose bounds are shortest separating prefixes; the last
/// sub-range keeps `upper`.
pub(crate) fn answer_differing<V: Digested>(set: &DocSet<V>, lower: &[u8], upper: &Bound) -> Vec<RangeEntry> {
    let own: Vec<_> = set.range(lower, upper).collect();
    if own.len() <= RECON_ITEMS_THRESHOLD {
        let items = own
            .iter()
            .map(|(doc, e)| Item {
                doc: (*doc).clone(),
                digest: e.digest(),
            })
            .collect();
        return vec![RangeEntry {
            upper: upper.clone(),
            mode: RangeMode::Items(items),
        }];
    }
    let parts = RECON_BRANCHING.min(own.len());
    let mut out = Vec::with_capacity(parts);
    for part in 0..parts {
        // HS-RECON-8: part j holds own[j*n/parts .. (j+1)*n/parts] (floor division, so the
        // larger parts are spread out); each part is non-empty as n >= parts.
        let start = part * own.len() / parts;
        let end = (part + 1) * own.len() / parts;
        let mut fingerprint = Fingerprint::EMPTY;
        for (_, entry) in &own[start..end] {
            fingerprint.xor(&entry.fingerprint);
        }
        let upper = match (own.get(end - 1), own.get(end)) {
            (Some((last, _)), Some((next, _))) => {
                Bound::Key(separator(last.as_str().as_bytes(), next.as_str().as_bytes()))
            }
            _ => upper.clone(),
        };
        out.push(RangeEntry {
            upper,
            mode: RangeMode::Fingerprint {
                count: count_u32(end - start),
                fingerprint,
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use humansync_protocol::{DocDigest, DocId};

    #[test]
    fn separator_is_shortest_prefix_above() {
        // HS-RECON-2: the bound is the shortest prefix of the upper neighbour above the lower one.
        assert_eq!(
            separator(b"humandocs/doc-0a1", b"humandocs/doc-0b2"),
            b"humandocs/doc-0b"
        );
        assert_eq!(separator(b"a", b"ab"), b"ab");
        assert_eq!(separator(b"", b"x"), b"x");
        assert_eq!(separator(b"abc", b"b"), b"b");
        for (a, b) in [
            (&b"a"[..], &b"ab"[..]),
            (b"abc", b"abd"),
            (b"a-z", b"a0"),
            (b"x", b"xyz"),
        ] {
            let p = separator(a, b);
            assert!(a < p.as_slice() && p.as_slice() <= b, "{a:?} {b:?} {p:?}");
        }
    }

    #[test]
    fn splits_into_branching_near_equal_parts() {
        // HS-RECON-3: more than RECON_ITEMS_THRESHOLD own items → RECON_BRANCHING fingerprints.
        let n = 100;
        let set: DocSet = (0..n)
            .map(|i| (DocId::new(format!("d{i:03}")).expect("valid"), DocDigest([1; 16])))
            .collect();
        let parts = answer_differing(&set, b"", &Bound::End);
        assert_eq!(parts.len(), RECON_BRANCHING);
        assert_eq!(parts.last().map(|p| &p.upper), Some(&Bound::End));
        let mut lower: Vec<u8> = Vec::new();
        let mut total = 0;
        for part in &parts {
            let RangeMode::Fingerprint { count, fingerprint } = part.mode else {
                panic!("not a fingerprint")
            };
            assert!(count == 6 || count == 7, "near-equal counts, got {count}");
            assert_eq!(set.range_summary(&lower, &part.upper), (count, fingerprint));
            total += count;
            if let Bound::Key(k) = &part.upper {
                assert!(k.len() <= 4, "short bound {k:?}");
                lower = k.clone();
            }
        }
        assert_eq!(total, n);
        let small: DocSet = (0..RECON_ITEMS_THRESHOLD)
            .map(|i| (DocId::new(format!("d{i:03}")).expect("valid"), DocDigest([1; 16])))
            .collect();
        let items = answer_differing(&small, b"", &Bound::End);
        assert!(
            matches!(&items[..], [RangeEntry { mode: RangeMode::Items(v), .. }] if v.len() == RECON_ITEMS_THRESHOLD)
        );
    }
}
