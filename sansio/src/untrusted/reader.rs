//! A cursor over untrusted bytes: LEB128 numbers and length-checked slices, never a panic.

use super::UntrustedError;

/// Reads forward through `bytes`; every read checks bounds first.
#[derive(Debug, Clone)]
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    /// Where the next read starts.
    pub(super) fn at(&self) -> usize {
        self.at
    }

    pub(super) fn is_empty(&self) -> bool {
        self.at >= self.bytes.len()
    }

    pub(super) fn u8(&mut self) -> Result<u8, UntrustedError> {
        let byte = *self
            .bytes
            .get(self.at)
            .ok_or(UntrustedError::Truncated(self.at))?;
        self.at += 1;
        Ok(byte)
    }

    /// The next `n` bytes.
    pub(super) fn take(&mut self, n: u64) -> Result<&'a [u8], UntrustedError> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.at.checked_add(n))
            .filter(|end| *end <= self.bytes.len())
            .ok_or(UntrustedError::Truncated(self.at))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    /// `count` items of `size` bytes each (hashes), skipped.
    pub(super) fn skip_items(&mut self, count: u64, size: u64) -> Result<(), UntrustedError> {
        let total = count
            .checked_mul(size)
            .ok_or(UntrustedError::Truncated(self.at))?;
        self.take(total).map(|_| ())
    }

    /// A length-prefixed byte string.
    pub(super) fn prefixed(&mut self) -> Result<&'a [u8], UntrustedError> {
        let len = self.uleb()?;
        self.take(len)
    }

    /// An unsigned LEB128 number of at most 10 bytes that fits a u64.
    pub(super) fn uleb(&mut self) -> Result<u64, UntrustedError> {
        let start = self.at;
        let mut value: u64 = 0;
        for i in 0..10u32 {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            if i == 9 && bits > 1 {
                return Err(UntrustedError::Leb128(start));
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(UntrustedError::Leb128(start))
    }

    /// A signed LEB128 number of at most 10 bytes that fits an i64.
    pub(super) fn sleb(&mut self) -> Result<i64, UntrustedError> {
        let start = self.at;
        let mut value: i64 = 0;
        let mut shift = 0u32;
        loop {
            let byte = self.u8()?;
            if shift == 63 && byte != 0 && byte != 0x7f {
                return Err(UntrustedError::Leb128(start));
            }
            value |= i64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                if shift < 64 && byte & 0x40 != 0 {
                    value |= -1i64 << shift;
                }
                return Ok(value);
            }
            if shift > 63 {
                return Err(UntrustedError::Leb128(start));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_round_trips_and_rejects_over_long() {
        for v in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut buf = Vec::new();
            let mut x = v;
            loop {
                let b = (x & 0x7f) as u8;
                x >>= 7;
                if x == 0 {
                    buf.push(b);
                    break;
                }
                buf.push(b | 0x80);
            }
            assert_eq!(Reader::new(&buf).uleb(), Ok(v));
        }
        assert!(Reader::new(&[0xff; 11]).uleb().is_err());
        for v in [0i64, 1, -1, 63, -64, 64, -65, i64::MAX, i64::MIN] {
            let mut buf = Vec::new();
            let mut x = v;
            loop {
                let b = (x & 0x7f) as u8;
                x >>= 7;
                let done = (x == 0 && b & 0x40 == 0) || (x == -1 && b & 0x40 != 0);
                buf.push(if done { b } else { b | 0x80 });
                if done {
                    break;
                }
            }
            assert_eq!(Reader::new(&buf).sleb(), Ok(v), "{v}");
        }
        assert!(Reader::new(&[0x80; 11]).sleb().is_err());
    }
}
